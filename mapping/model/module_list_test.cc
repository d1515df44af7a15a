#include "mapping/model/module_list.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

std::vector<std::string> Names(const ModuleTree& tree) {
  std::vector<std::string> out;
  for (const Module& m : tree.modules()) out.push_back(m.name);
  return out;
}

bool NotesMention(const ModelInput& model, const std::string& text) {
  for (const std::string& note : model.notes) {
    if (note.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(ModuleListTest, ReadsNamedModulesPrintout) {
  // What `for n, m in model.named_modules(): print(n, type(m).__name__)` prints.
  const char* text =
      " LlamaForCausalLM\n"
      "model LlamaModel\n"
      "model.layers ModuleList\n"
      "model.layers.0 LlamaDecoderLayer\n"
      "model.layers.0.self_attn.q_proj Linear 4096 4096   # trailing comment\r\n"
      "\n"
      "# whole-line comment\n"
      "lm_head\tLinear\t4096\t128256\n";
  absl::StatusOr<ModelInput> model = ModelFromModuleList(text, "modules.txt");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->architecture, "LlamaForCausalLM");
  EXPECT_EQ(model->source_kind, "module-list");
  EXPECT_EQ(Names(model->tree),
            (std::vector<std::string>{"", "model", "model.layers", "model.layers.0",
                                      "model.layers.0.self_attn",
                                      "model.layers.0.self_attn.q_proj", "lm_head"}));
  const Module& head = model->tree.module(*model->tree.Find("lm_head"));
  EXPECT_EQ(head.class_name, "Linear");
  EXPECT_EQ(head.in_features, 4096);
  EXPECT_EQ(head.out_features, 128256);
  // self_attn was synthesized as a parent.
  EXPECT_TRUE(NotesMention(*model, "model.layers.0.self_attn"));
}

TEST(ModuleListTest, InfersClassesWithoutClassColumnAndSaysSo) {
  const char* text =
      "model.embed_tokens\n"
      "model.layers.0.mlp.gate\n"
      "model.layers.0.mlp.gate_proj\n"
      "model.layers.1.mlp.gate_proj\n"
      "model.norm\n"
      "lm_head\n";
  absl::StatusOr<ModelInput> model = ModelFromModuleList(text, "names.txt", "Qwen3ForCausalLM");
  ASSERT_TRUE(model.ok()) << model.status();
  const ModuleTree& tree = model->tree;
  EXPECT_EQ(tree.root_class(), "Qwen3ForCausalLM");
  EXPECT_EQ(tree.module(*tree.Find("model.layers")).class_name, "ModuleList");
  EXPECT_TRUE(tree.IsLinear(*tree.Find("model.layers.1.mlp.gate_proj")));
  EXPECT_TRUE(tree.IsLinear(*tree.Find("lm_head")));
  EXPECT_EQ(tree.module(*tree.Find("model.embed_tokens")).class_name, "Embedding");
  // The router is not guessed to be Linear.
  EXPECT_FALSE(tree.IsLinear(*tree.Find("model.layers.0.mlp.gate")));
  EXPECT_EQ(tree.module(*tree.Find("model.norm")).class_name, "Module");
  EXPECT_TRUE(NotesMention(*model, "class names inferred for"));
  EXPECT_TRUE(NotesMention(*model, "in/out features unknown for 3 Linear"));
  // First-appearance order is kept: layers.0 before layers.1, norm after layers.
  EXPECT_EQ(Names(tree)[1], "model");
  EXPECT_EQ(Names(tree)[2], "model.embed_tokens");
  EXPECT_LT(*tree.Find("model.layers.1"), *tree.Find("model.norm"));
}

TEST(ModuleListTest, ParentListedAfterChildIsPlacedBeforeIt) {
  absl::StatusOr<ModelInput> model =
      ModelFromModuleList("a.b Linear\na Block\n", "list.txt", "Root");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(Names(model->tree), (std::vector<std::string>{"", "a", "a.b"}));
  EXPECT_EQ(model->tree.module(1).class_name, "Block");
  EXPECT_TRUE(NotesMention(*model, "listed after their own children"));
}

struct BadCase {
  const char* text;
  const char* expected;  // substring of the error
};

TEST(ModuleListTest, RejectsMalformedListsNamingFileAndLine) {
  const BadCase cases[] = {
      {"", "list.txt: no modules listed"},
      {"# only comments\n\n", "no modules listed"},
      {"a Linear\nb\na Module\n", "list.txt:3: module \"a\" is listed twice (first on line 1)"},
      {"model..layers\n", "list.txt:1: name \"model..layers\" has an empty component"},
      {".a\n", "empty component"},
      {"a.\n", "empty component"},
      {"model.layers 0\n", "list.txt:1: class \"0\" is not a Python identifier"},
      {"a b c d e\n", "list.txt:1: expected NAME [CLASS [IN OUT]], got 5 fields"},
      {"a Linear 3\n", "got 3 fields"},
      {"a Linear x 4\n", "IN \"x\" is not a non-negative integer"},
      {"a Linear 4 -1\n", "OUT \"-1\""},
      {"ok\nbad\x01name\n", "list.txt:2: name contains the control character 0x01"},
      {" RootA\n RootB\n", "list.txt:2: a second root line"},
      // Names reach the JSON report, which must stay JSON (found by fuzzing).
      {"ok\nmodel.\xC0\xBF\n", "list.txt:2: byte 7 (0xc0) is not valid UTF-8"},
      {"a\xED\xA0\x80\n", "list.txt:1: byte 2 (0xed) is not valid UTF-8"},
      {"a\xF4\x90\x80\x80\n", "byte 2 (0xf4) is not valid UTF-8"},
      {"a\xE2\x82\n", "byte 2 (0xe2) is not valid UTF-8"},
  };
  for (const BadCase& c : cases) {
    absl::StatusOr<ModelInput> model = ModelFromModuleList(c.text, "list.txt");
    ASSERT_FALSE(model.ok()) << "accepted: " << c.text;
    EXPECT_NE(model.status().message().find(c.expected), std::string::npos)
        << "for " << c.text << " got: " << model.status().message();
  }
}

TEST(ModuleListTest, RejectsAbsurdLengths) {
  std::string long_name(5000, 'a');
  absl::StatusOr<ModelInput> model = ModelFromModuleList(long_name + "\n", "x.txt");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("x.txt:1: name is 5000 characters long"),
            std::string::npos)
      << model.status();
  std::string long_line = "a " + std::string(20000, 'b');
  model = ModelFromModuleList(long_line, "x.txt");
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("line is 20002 characters long"), std::string::npos);
}

TEST(ModuleListTest, AcceptsByteOrderMark) {
  absl::StatusOr<ModelInput> model = ModelFromModuleList("\xEF\xBB\xBFq_proj Linear 2 3\n", "f");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(model->tree.Find("q_proj").has_value());
}

TEST(ModuleListTest, AcceptsUtf8Names) {
  // Python identifiers may be any letters: 2-, 3- and 4-byte sequences.
  absl::StatusOr<ModelInput> model =
      ModelFromModuleList("caf\xC3\xA9.\xE5\xB1\x82 Linear 2 3\nx\xF0\x9F\x98\x80\n", "f");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(model->tree.Find("caf\xC3\xA9.\xE5\xB1\x82").has_value());
}

TEST(ModuleListTest, UnknownRootIsNoted) {
  absl::StatusOr<ModelInput> model = ModelFromModuleList("a\n", "f");
  ASSERT_TRUE(model.ok());
  EXPECT_TRUE(NotesMention(*model, "the root's class (the architecture) is unknown"));
}

}  // namespace
}  // namespace mapping
}  // namespace wring
