#include "mapping/quantization/quantization_args.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace wring {
namespace mapping {
namespace {

using ::testing::HasSubstr;
using Written = wring::recipe::QuantizationArgs;

std::string ErrorOf(const Written& written) {
  auto args = ValidateQuantizationArgs(written);
  EXPECT_FALSE(args.ok());
  return args.ok() ? "" : std::string(args.status().message());
}

// compressed-tensors 0.19 no longer picks an observer: the modifier does.
TEST(QuantizationArgsTest, DefaultsAreStaticPerTensorInt8WithoutObserver) {
  auto args = ValidateQuantizationArgs(Written());
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->num_bits, 8);
  EXPECT_EQ(args->type, QuantizationType::kInt);
  EXPECT_TRUE(args->symmetric);
  EXPECT_EQ(args->strategy, QuantizationStrategy::kTensor);
  EXPECT_FALSE(args->group_size.has_value());
  EXPECT_TRUE(args->block_structure.empty());
  EXPECT_FALSE(args->observer.has_value());
  EXPECT_EQ(args->zp_dtype, "int8");
}

TEST(QuantizationArgsTest, StrategyIsInferredFromGroupSize) {
  Written w;
  w.set_group_size(128);
  auto group = ValidateQuantizationArgs(w);
  ASSERT_TRUE(group.ok());
  EXPECT_EQ(group->strategy, QuantizationStrategy::kGroup);
  EXPECT_TRUE(group->strategy_was_inferred);

  w.set_group_size(-1);
  auto channel = ValidateQuantizationArgs(w);
  ASSERT_TRUE(channel.ok());
  EXPECT_EQ(channel->strategy, QuantizationStrategy::kChannel);

  w.set_group_size(-2);
  EXPECT_EQ(ErrorOf(w),
            "Invalid group size -2. Use group_size > 0 for strategy='group' and group_size = -1 "
            "for 'channel'");
}

TEST(QuantizationArgsTest, TypeAndStrategyAreCaseInsensitive) {
  Written w;
  w.set_type("InT");
  w.set_strategy("GROUP");
  w.set_group_size(1);
  w.set_actorder("weight");
  auto args = ValidateQuantizationArgs(w);
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->strategy, QuantizationStrategy::kGroup);
  EXPECT_FALSE(args->strategy_was_inferred);
  EXPECT_EQ(args->actorder, ActivationOrdering::kWeight);

  Written bad;
  bad.set_type("Invalid");
  EXPECT_EQ(ErrorOf(bad), "'invalid' is not a valid QuantizationType");
  Written bad_strategy;
  bad_strategy.set_strategy("rows");
  EXPECT_EQ(ErrorOf(bad_strategy), "'rows' is not a valid QuantizationStrategy");
}

TEST(QuantizationArgsTest, GroupStrategyNeedsPositiveGroupSize) {
  Written w;
  w.set_strategy("group");
  EXPECT_EQ(ErrorOf(w), "strategy group requires group_size to be set to a positive value");
  w.set_strategy("tensor_group");
  w.set_group_size(-1);
  EXPECT_EQ(ErrorOf(w), "strategy tensor_group requires group_size to be set to a positive value");

  Written tensor;
  tensor.set_strategy("tensor");
  tensor.set_group_size(128);
  EXPECT_EQ(ErrorOf(tensor), "group_size requires strategy to be set to 'group'");
}

TEST(QuantizationArgsTest, StaticTokenQuantizationIsRejected) {
  Written w;
  w.set_strategy("token");
  EXPECT_EQ(ErrorOf(w), "Cannot perform static token quantization, please use `dynamic=True`");
  w.set_dynamic("true");
  auto args = ValidateQuantizationArgs(w);
  ASSERT_TRUE(args.ok());
  EXPECT_FALSE(args->observer.has_value());
}

TEST(QuantizationArgsTest, BlockStrategyAndBlockStructureGoTogether) {
  Written w;
  w.set_strategy("block");
  EXPECT_EQ(ErrorOf(w),
            "Block strategy requires block structure\n"
            "num_bits=8 type='int' symmetric=True group_size=None strategy='block' "
            "block_structure=None dynamic=False actorder=None scale_dtype=None zp_dtype=None "
            "observer=None observer_kwargs={}");

  Written structure_only;
  structure_only.add_block_structure(2);
  structure_only.add_block_structure(4);
  structure_only.set_scale_dtype("torch.float16");
  EXPECT_EQ(ErrorOf(structure_only),
            "Block structure requires block strategy\n"
            "num_bits=8 type='int' symmetric=True group_size=None strategy=None "
            "block_structure=[2, 4] dynamic=False actorder=None scale_dtype=torch.float16 "
            "zp_dtype=None observer=None observer_kwargs={}");

  w.add_block_structure(128);
  w.add_block_structure(64);
  auto args = ValidateQuantizationArgs(w);
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->block_structure, (std::vector<int>{128, 64}));

  Written three;
  three.set_strategy("block");
  for (int v : {2, 4, 8}) three.add_block_structure(v);
  EXPECT_EQ(ErrorOf(three),
            "Invalid block_structure '[2, 4, 8]'. Must be a list of positive ints [rows, cols].");
  Written zero;
  zero.set_strategy("block");
  zero.add_block_structure(0);
  zero.add_block_structure(4);
  EXPECT_THAT(ErrorOf(zero), HasSubstr("positive"));
}

TEST(QuantizationArgsTest, BlockStructureStrings) {
  auto parsed = ParseBlockStructureString("2x4");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, (std::vector<int>{2, 4}));
  auto spaced = ParseBlockStructureString(" 128 x1_28");
  ASSERT_TRUE(spaced.ok());
  EXPECT_EQ(*spaced, (std::vector<int>{128, 128}));
  for (const char* bad : {"2x4x8", "2xfoo", "0x4", "-1x4", "4x0", "4x-1", "", "2x", "2__0x4"}) {
    auto result = ParseBlockStructureString(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.status().message(),
              std::string("Invalid block_structure '") + bad +
                  "'. Must be a list of positive ints [rows, cols].");
  }
}

// compressed-tensors 0.19 removed group ordering; weight (alias static)
// remains, with any strategy.
TEST(QuantizationArgsTest, ActorderGroupIsRemovedWeightRemains) {
  Written w;
  w.set_group_size(128);
  w.set_actorder("dynamic");
  EXPECT_EQ(ErrorOf(w),
            "actorder='dynamic' has been removed. Consider using actorder='weight' or "
            "actorder=None instead.");
  w.set_actorder("group");
  EXPECT_EQ(ErrorOf(w),
            "actorder='group' has been removed. Consider using actorder='weight' or "
            "actorder=None instead.");
  w.set_actorder("true");
  EXPECT_EQ(ErrorOf(w),
            "actorder=True previously mapped to ActivationOrdering.GROUP, which has been "
            "removed. Consider using actorder='weight' instead.");
  w.set_actorder("false");
  auto off = ValidateQuantizationArgs(w);
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->actorder.has_value());

  // static is an alias of weight for equality.
  Written weight = w;
  weight.set_actorder("weight");
  Written statik = w;
  statik.set_actorder("static");
  EXPECT_EQ(*ValidateQuantizationArgs(weight), *ValidateQuantizationArgs(statik));
  EXPECT_EQ(ValidateQuantizationArgs(statik)->actorder, ActivationOrdering::kStatic);

  Written channel;
  channel.set_group_size(-1);
  channel.set_actorder("weight");  // weight ordering works with any strategy
  EXPECT_TRUE(ValidateQuantizationArgs(channel).ok());
  channel.set_actorder("sideways");
  EXPECT_THAT(ErrorOf(channel), HasSubstr("Input should be 'weight', 'static', 'group' or "
                                          "'dynamic'"));
}

TEST(QuantizationArgsTest, DynamicRules) {
  Written channel;
  channel.set_strategy("channel");
  channel.set_dynamic("true");
  EXPECT_EQ(ErrorOf(channel),
            "One of (<QuantizationStrategy.TOKEN: 'token'>, <QuantizationStrategy.TENSOR: "
            "'tensor'>, <QuantizationStrategy.TENSOR_GROUP: 'tensor_group'>, "
            "<QuantizationStrategy.GROUP: 'group'>) must be used for dynamic quant.");

  Written local;
  local.set_dynamic("LOCAL");
  EXPECT_EQ(ErrorOf(local), "local is only supported for strategy tensor_group");
  local.set_strategy("tensor_group");
  local.set_group_size(16);
  auto args = ValidateQuantizationArgs(local);
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(args->dynamic, DynamicMode::kLocal);
  EXPECT_FALSE(args->observer.has_value());  // the modifier fills it in
  local.set_observer("static_minmax");
  EXPECT_EQ(ValidateQuantizationArgs(local)->observer, std::string("static_minmax"));

  // 0.19 keeps an observer written for dynamic args, silently.
  Written with_observer;
  with_observer.set_dynamic("true");
  with_observer.set_observer("mse");
  std::vector<std::string> warnings;
  auto kept = ValidateQuantizationArgs(with_observer, &warnings);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->observer, std::string("mse"));
  EXPECT_TRUE(warnings.empty());

  Written bogus;
  bogus.set_dynamic("sometimes");
  EXPECT_EQ(ErrorOf(bogus), "'sometimes' is not a valid DynamicType");
}

TEST(QuantizationArgsTest, ZeroPointDtypeDefaults) {
  auto zp = [](int bits, const char* type) {
    Written w;
    w.set_num_bits(bits);
    w.set_type(type);
    return ValidateQuantizationArgs(w);
  };
  EXPECT_EQ(zp(4, "int")->zp_dtype, "int8");
  EXPECT_EQ(zp(16, "int")->zp_dtype, "int16");
  EXPECT_EQ(zp(32, "int")->zp_dtype, "int32");
  EXPECT_EQ(zp(8, "float")->zp_dtype, "float8_e4m3fn");
  EXPECT_EQ(zp(4, "float")->zp_dtype, "float8_e4m3fn");
  auto fp16 = zp(16, "float");
  ASSERT_FALSE(fp16.ok());
  EXPECT_EQ(fp16.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(fp16.status().message(), "Only num_bits in (8) are supported");

  Written explicit_dtype;
  explicit_dtype.set_zp_dtype("torch.uint8");
  EXPECT_EQ(ValidateQuantizationArgs(explicit_dtype)->zp_dtype, "uint8");
}

TEST(QuantizationArgsTest, TorchDtypeNames) {
  EXPECT_EQ(*CanonicalTorchDtype("torch.half"), "float16");
  EXPECT_EQ(*CanonicalTorchDtype("float8_e4m3fn"), "float8_e4m3fn");
  EXPECT_EQ(*CanonicalTorchDtype("long"), "int64");
  auto bad = CanonicalTorchDtype("torch.float7");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "No such torch dtype `torch.float7`");
  Written w;
  w.set_scale_dtype("fp8");
  EXPECT_EQ(ErrorOf(w), "No such torch dtype `torch.fp8`");
}

TEST(QuantizationArgsTest, JsonMatchesConfigJsonForW4A16) {
  Written w;
  w.set_num_bits(4);
  w.set_type("int");
  w.set_symmetric(true);
  w.set_strategy("group");
  w.set_group_size(128);
  auto args = ValidateQuantizationArgs(w);
  ASSERT_TRUE(args.ok());
  auto expected = *ParseJson(R"({"num_bits": 4, "type": "int", "symmetric": true,
      "group_size": 128, "strategy": "group", "block_structure": null, "dynamic": false,
      "actorder": null, "scale_dtype": null, "zp_dtype": null,
      "observer": null, "observer_kwargs": {}})",
                               "expected");
  EXPECT_EQ(QuantizationArgsToJson(*args), expected);

  w.set_symmetric(false);
  auto asym = ValidateQuantizationArgs(w);
  ASSERT_TRUE(asym.ok());
  EXPECT_EQ(QuantizationArgsToJson(*asym)["zp_dtype"], "torch.int8");

  Written dynamic;
  dynamic.set_dynamic("local");
  dynamic.set_strategy("tensor_group");
  dynamic.set_group_size(16);
  dynamic.set_num_bits(4);
  dynamic.set_type("float");
  dynamic.set_scale_dtype("float8_e4m3fn");
  (*dynamic.mutable_observer_kwargs())["averaging_constant"] = "0.1";
  Json json = QuantizationArgsToJson(*ValidateQuantizationArgs(dynamic));
  EXPECT_EQ(json["dynamic"], "local");
  EXPECT_EQ(json["scale_dtype"], "torch.float8_e4m3fn");
  EXPECT_EQ(json["observer_kwargs"]["averaging_constant"], 0.1);
}

TEST(QuantizationArgsTest, WrittenFormRoundTrips) {
  Written w;
  w.set_num_bits(4);
  w.set_symmetric(false);
  w.set_group_size(64);
  w.set_actorder("static");
  auto args = ValidateQuantizationArgs(w);
  ASSERT_TRUE(args.ok());
  auto again = ValidateQuantizationArgs(ToWrittenArgs(*args));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *args);
  EXPECT_FALSE(again->strategy_was_inferred);  // model_dump writes the strategy out
  EXPECT_EQ(ToWrittenArgs(*args).zp_dtype(), "int8");
  w.set_symmetric(true);
  EXPECT_FALSE(ToWrittenArgs(*ValidateQuantizationArgs(w)).has_zp_dtype());
}

}  // namespace
}  // namespace mapping
}  // namespace wring
