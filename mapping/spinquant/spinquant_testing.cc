#include "mapping/spinquant/spinquant_testing.h"

#include <cstdlib>
#include <iostream>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace wring {
namespace mapping {
namespace spinquant {
namespace {

// Reads one Python string literal ('...' or "...") at `text[*pos]`.
bool ReadPythonString(const std::string& text, size_t* pos, std::string* out) {
  if (*pos >= text.size() || (text[*pos] != '\'' && text[*pos] != '"')) return false;
  const char quote = text[(*pos)++];
  out->clear();
  while (*pos < text.size() && text[*pos] != quote) {
    char c = text[(*pos)++];
    if (c == '\\' && *pos < text.size()) {
      char e = text[(*pos)++];
      out->push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
    } else {
      out->push_back(c);
    }
  }
  if (*pos >= text.size()) return false;
  ++*pos;  // closing quote
  return true;
}

// Splits `text` into literal text and sets of strings: every "{'" opens a
// set that runs to its matching "}".
bool SplitSets(const std::string& text, std::vector<std::string>* literal,
               std::vector<std::set<std::string>>* sets) {
  literal->assign(1, "");
  size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == '{' && pos + 1 < text.size() &&
        (text[pos + 1] == '\'' || text[pos + 1] == '"')) {
      ++pos;
      std::set<std::string> members;
      while (true) {
        std::string item;
        if (!ReadPythonString(text, &pos, &item)) return false;
        members.insert(item);
        if (pos < text.size() && text[pos] == '}') {
          ++pos;
          break;
        }
        if (text.compare(pos, 2, ", ") != 0) return false;
        pos += 2;
      }
      sets->push_back(std::move(members));
      literal->push_back("");
    } else {
      literal->back().push_back(text[pos++]);
    }
  }
  return true;
}

}  // namespace

bool SameMessageUpToSetOrder(const std::string& actual, const std::string& expected,
                             std::string* why) {
  std::vector<std::string> actual_text, expected_text;
  std::vector<std::set<std::string>> actual_sets, expected_sets;
  if (!SplitSets(actual, &actual_text, &actual_sets)) {
    *why = "cannot parse the sets in: " + actual;
    return false;
  }
  if (!SplitSets(expected, &expected_text, &expected_sets)) {
    *why = "cannot parse the sets in: " + expected;
    return false;
  }
  if (actual_text != expected_text) {
    *why = "text differs:\n  " + actual + "\n  " + expected;
    return false;
  }
  if (actual_sets != expected_sets) {
    *why = "set members differ:\n  " + actual + "\n  " + expected;
    return false;
  }
  return true;
}

ModuleTree BuildDecoderTree(const DecoderShape& shape) {
  std::vector<Module> modules;
  auto add = [&modules](std::string name, std::string cls, int64_t in = -1, int64_t out = -1) {
    Module m;
    m.name = std::move(name);
    m.class_name = cls;
    m.mro = {cls};
    m.in_features = in;
    m.out_features = out;
    modules.push_back(std::move(m));
  };
  auto linear = [&add](const std::string& name, int64_t in, int64_t out) {
    add(name, "Linear", in, out);
  };
  add("", shape.architecture);
  add("model", "DecoderModel");
  add("model.embed_tokens", "Embedding");
  add("model.layers", "ModuleList");
  for (int i = 0; i < shape.layers; ++i) {
    const std::string layer = absl::StrCat("model.layers.", i);
    add(layer, "DecoderLayer");
    add(layer + ".self_attn", "Attention");
    if (shape.fused_projections) {
      linear(layer + ".self_attn.o_proj", shape.q_out, shape.hidden);
      linear(layer + ".self_attn.qkv_proj", shape.hidden, shape.q_out + 2 * shape.kv_out);
      add(layer + ".mlp", "MLP");
      linear(layer + ".mlp.gate_up_proj", shape.hidden, 2 * shape.intermediate);
      linear(layer + ".mlp.down_proj", shape.intermediate, shape.hidden);
    } else {
      linear(layer + ".self_attn.q_proj", shape.hidden, shape.q_out);
      linear(layer + ".self_attn.k_proj", shape.hidden, shape.kv_out);
      linear(layer + ".self_attn.v_proj", shape.hidden, shape.kv_out);
      linear(layer + ".self_attn.o_proj", shape.q_out, shape.hidden);
      add(layer + ".mlp", "MLP");
      linear(layer + ".mlp.gate_proj", shape.hidden, shape.intermediate);
      linear(layer + ".mlp.up_proj", shape.hidden, shape.intermediate);
      linear(layer + ".mlp.down_proj", shape.intermediate, shape.hidden);
    }
    add(layer + ".mlp.act_fn", "SiLU");
    add(layer + ".input_layernorm", "RMSNorm");
    add(layer + ".post_attention_layernorm", "RMSNorm");
  }
  if (!shape.final_norm.empty()) add(shape.final_norm, "RMSNorm");
  add("model.rotary_emb", "RotaryEmbedding");
  linear("lm_head", shape.hidden, shape.vocab);

  std::vector<Parameter> params;
  if (shape.embedding_params) {
    params.push_back({"model.embed_tokens.weight", {shape.vocab, shape.hidden}});
  }
  auto tree = ModuleTree::Create(std::move(modules), std::move(params));
  if (!tree.ok()) {
    std::cerr << "test tree is invalid: " << tree.status() << "\n";
    std::abort();
  }
  return std::move(tree).value();
}

}  // namespace spinquant
}  // namespace mapping
}  // namespace wring
