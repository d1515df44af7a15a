#include "mapping/quantization/quantization_args.h"

#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "mapping/base/python_repr.h"
#include "mapping/base/status_macros.h"
#include "mapping/match/matchers.h"

namespace wring {
namespace mapping {
namespace {

// Every name `getattr(torch, name)` resolves to a torch.dtype, mapped to the
// canonical name str(dtype) prints after "torch.".
const absl::flat_hash_map<std::string, std::string>& TorchDtypes() {
  static const auto* dtypes = [] {
    auto* map = new absl::flat_hash_map<std::string, std::string>;
    for (const char* name :
         {"float32", "float64", "float16", "bfloat16", "complex32", "complex64", "complex128",
          "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "bool",
          "quint8", "qint8", "qint32", "quint4x2", "quint2x4", "float8_e4m3fn",
          "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
          "float4_e2m1fn_x2", "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16", "int1", "int2",
          "int3", "int4", "int5", "int6", "int7", "uint1", "uint2", "uint3", "uint4", "uint5",
          "uint6", "uint7"}) {
      (*map)[name] = name;
    }
    const std::pair<const char*, const char*> aliases[] = {
        {"float", "float32"},   {"double", "float64"},    {"half", "float16"},
        {"cfloat", "complex64"}, {"cdouble", "complex128"}, {"chalf", "complex32"},
        {"short", "int16"},     {"int", "int32"},         {"long", "int64"}};
    for (const auto& alias : aliases) (*map)[alias.first] = alias.second;
    return map;
  }();
  return *dtypes;
}

absl::Status ValueError(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// Python's int(text): surrounding whitespace, an optional sign, digits with
// single underscores between them.
absl::optional<int64_t> PythonInt(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  std::string digits;
  size_t i = 0;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) digits += text[i++];
  bool previous_was_digit = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      digits += c;
      previous_was_digit = true;
    } else if (c == '_' && previous_was_digit && i + 1 < text.size() &&
               absl::ascii_isdigit(static_cast<unsigned char>(text[i + 1]))) {
      previous_was_digit = false;
    } else {
      return absl::nullopt;
    }
  }
  int64_t value;
  if (!absl::SimpleAtoi(digits, &value)) return absl::nullopt;
  return value;
}

std::string BlockStructureError(absl::string_view value_text) {
  return absl::StrCat("Invalid block_structure '", value_text,
                      "'. Must be a list of positive ints [rows, cols].");
}

Json ScalarJson(absl::string_view yaml_text) {
  int64_t i;
  double d;
  if (absl::SimpleAtoi(yaml_text, &i)) return Json(i);
  if (absl::SimpleAtod(yaml_text, &d)) return Json(d);
  std::string lower = absl::AsciiStrToLower(yaml_text);
  if (lower == "true") return Json(true);
  if (lower == "false") return Json(false);
  if (lower == "null" || lower == "~") return Json(nullptr);
  return Json(std::string(yaml_text));
}

// Field values after the field validators and before validate_model_after:
// what str(model) shows in the block-structure messages.
struct FieldValues {
  int num_bits = 8;
  QuantizationType type = QuantizationType::kInt;
  bool symmetric = true;
  absl::optional<int> group_size;
  absl::optional<QuantizationStrategy> strategy;
  std::vector<int> block_structure;
  bool has_block_structure = false;
  DynamicMode dynamic = DynamicMode::kStatic;
  absl::optional<ActivationOrdering> actorder;
  absl::optional<std::string> scale_dtype;
  absl::optional<std::string> zp_dtype;
  absl::optional<std::string> observer;
  std::map<std::string, std::string> observer_kwargs;
};

std::string DtypeRepr(const absl::optional<std::string>& dtype) {
  return dtype ? absl::StrCat("torch.", *dtype) : "None";
}

// pydantic's str(model): `field=repr(value)` joined by spaces.
std::string ModelRepr(const FieldValues& f) {
  std::string dynamic = f.dynamic == DynamicMode::kStatic    ? "False"
                        : f.dynamic == DynamicMode::kDynamic ? "True"
                                                             : "'local'";
  std::string kwargs = absl::StrCat(
      "{",
      absl::StrJoin(f.observer_kwargs, ", ",
                    [](std::string* out, const std::pair<const std::string, std::string>& kv) {
                      absl::StrAppend(out, PythonStrRepr(kv.first), ": ", PythonYamlScalarRepr(kv.second));
                    }),
      "}");
  return absl::StrCat(
      "num_bits=", f.num_bits, " type=", PythonStrRepr(QuantizationTypeName(f.type)),
      " symmetric=", f.symmetric ? "True" : "False",
      " group_size=", f.group_size ? absl::StrCat(*f.group_size) : "None",
      " strategy=", f.strategy ? PythonStrRepr(QuantizationStrategyName(*f.strategy)) : "None",
      " block_structure=", f.has_block_structure ? PythonIntListRepr(f.block_structure) : "None",
      " dynamic=", dynamic,
      " actorder=", f.actorder ? PythonStrRepr(ActivationOrderingName(*f.actorder)) : "None",
      " scale_dtype=", DtypeRepr(f.scale_dtype), " zp_dtype=", DtypeRepr(f.zp_dtype),
      " observer=", PythonOptionalStrRepr(f.observer), " observer_kwargs=", kwargs);
}

absl::StatusOr<FieldValues> ValidateFields(const wring::recipe::QuantizationArgs& written,
                                           std::vector<std::string>* warnings) {
  FieldValues f;
  if (written.has_num_bits()) f.num_bits = written.num_bits();
  if (written.has_type()) {
    std::string type = absl::AsciiStrToLower(written.type());
    if (type == "int") {
      f.type = QuantizationType::kInt;
    } else if (type == "float") {
      f.type = QuantizationType::kFloat;
    } else {
      return ValueError(absl::StrCat(PythonStrRepr(type), " is not a valid QuantizationType"));
    }
  }
  if (written.has_symmetric()) f.symmetric = written.symmetric();
  if (written.has_group_size()) {
    if (written.group_size() < -1) {
      return ValueError(absl::StrCat("Invalid group size ", written.group_size(),
                                     ". Use group_size > 0 for strategy='group' and "
                                     "group_size = -1 for 'channel'"));
    }
    f.group_size = written.group_size();
  }
  if (written.has_strategy()) {
    std::string name = absl::AsciiStrToLower(written.strategy());
    bool found = false;
    for (auto s : {QuantizationStrategy::kTensor, QuantizationStrategy::kChannel,
                   QuantizationStrategy::kGroup, QuantizationStrategy::kBlock,
                   QuantizationStrategy::kToken, QuantizationStrategy::kTensorGroup,
                   QuantizationStrategy::kAttnHead}) {
      if (QuantizationStrategyName(s) == name) {
        f.strategy = s;
        found = true;
      }
    }
    if (!found) {
      return ValueError(
          absl::StrCat(PythonStrRepr(name), " is not a valid QuantizationStrategy"));
    }
  }
  if (written.block_structure_size() > 0) {
    f.block_structure.assign(written.block_structure().begin(), written.block_structure().end());
    bool positive = true;
    for (int v : f.block_structure) positive = positive && v > 0;
    if (f.block_structure.size() != 2 || !positive) {
      return ValueError(BlockStructureError(PythonIntListRepr(f.block_structure)));
    }
    f.has_block_structure = true;
  }
  if (written.has_dynamic()) {
    std::string dynamic = absl::AsciiStrToLower(written.dynamic());
    if (dynamic == "true") {
      f.dynamic = DynamicMode::kDynamic;
    } else if (dynamic == "false") {
      f.dynamic = DynamicMode::kStatic;
    } else if (dynamic == "local") {
      f.dynamic = DynamicMode::kLocal;
    } else {
      return ValueError(absl::StrCat(PythonStrRepr(dynamic), " is not a valid DynamicType"));
    }
  }
  if (written.has_actorder()) {
    // compressed-tensors 0.19 removed group ordering (and its alias
    // dynamic); True used to mean group.
    std::string actorder = absl::AsciiStrToLower(written.actorder());
    // compressed-tensors 0.19 removed group ordering (and its spellings).
    if (actorder == "true") {
      return ValueError(
          "actorder=True previously mapped to ActivationOrdering.GROUP, which has been removed. "
          "Consider using actorder='weight' instead.");
    } else if (actorder == "group" || actorder == "dynamic") {
      return ValueError(absl::StrCat("actorder='", written.actorder(),
                                     "' has been removed. Consider using actorder='weight' or "
                                     "actorder=None instead."));
    } else if (written.actorder() == "weight") {
      f.actorder = ActivationOrdering::kWeight;
    } else if (written.actorder() == "static") {
      f.actorder = ActivationOrdering::kStatic;
    } else if (actorder != "false") {
      // The enum itself is matched exactly: "Weight" is not a member.
      return ValueError(absl::StrCat("Input should be 'weight', 'static', 'group' or 'dynamic' (",
                                     PythonStrRepr(written.actorder()),
                                     " is not an ActivationOrdering)"));
    }
  }
  if (written.has_scale_dtype()) {
    WRING_ASSIGN_OR_RETURN(f.scale_dtype, CanonicalTorchDtype(written.scale_dtype()));
  }
  if (written.has_zp_dtype()) {
    WRING_ASSIGN_OR_RETURN(f.zp_dtype, CanonicalTorchDtype(written.zp_dtype()));
  }
  if (written.has_observer()) f.observer = written.observer();
  for (const auto& kv : written.observer_kwargs()) f.observer_kwargs[kv.first] = kv.second;
  return f;
}

// QuantizationArgs.pytorch_dtype().
absl::StatusOr<std::string> PytorchDtype(QuantizationType type, int num_bits) {
  if (type == QuantizationType::kFloat) {
    if (num_bits == 8) return std::string("float8_e4m3fn");
    return absl::UnimplementedError("Only num_bits in (8) are supported");
  }
  if (num_bits <= 8) return std::string("int8");
  if (num_bits <= 16) return std::string("int16");
  return std::string("int32");
}

}  // namespace

absl::string_view QuantizationTypeName(QuantizationType type) {
  return type == QuantizationType::kInt ? "int" : "float";
}

absl::string_view QuantizationStrategyName(QuantizationStrategy strategy) {
  switch (strategy) {
    case QuantizationStrategy::kTensor:
      return "tensor";
    case QuantizationStrategy::kChannel:
      return "channel";
    case QuantizationStrategy::kGroup:
      return "group";
    case QuantizationStrategy::kBlock:
      return "block";
    case QuantizationStrategy::kToken:
      return "token";
    case QuantizationStrategy::kTensorGroup:
      return "tensor_group";
    case QuantizationStrategy::kAttnHead:
      return "attn_head";
  }
  return "";
}

absl::string_view ActivationOrderingName(ActivationOrdering actorder) {
  switch (actorder) {
    case ActivationOrdering::kGroup:
      return "group";
    case ActivationOrdering::kWeight:
      return "weight";
    case ActivationOrdering::kDynamic:
      return "dynamic";
    case ActivationOrdering::kStatic:
      return "static";
  }
  return "";
}

bool IsGroupActorder(ActivationOrdering actorder) {
  return actorder == ActivationOrdering::kGroup || actorder == ActivationOrdering::kDynamic;
}

bool operator==(const QuantizationArgs& a, const QuantizationArgs& b) {
  auto canonical = [](const absl::optional<ActivationOrdering>& o) -> int {
    if (!o) return -1;
    return IsGroupActorder(*o) ? 0 : 1;
  };
  return a.num_bits == b.num_bits && a.type == b.type && a.symmetric == b.symmetric &&
         a.group_size == b.group_size && a.strategy == b.strategy &&
         a.block_structure == b.block_structure && a.dynamic == b.dynamic &&
         canonical(a.actorder) == canonical(b.actorder) && a.observer == b.observer &&
         a.observer_kwargs == b.observer_kwargs && a.scale_dtype == b.scale_dtype &&
         a.zp_dtype == b.zp_dtype;
}

absl::StatusOr<std::string> CanonicalTorchDtype(absl::string_view name) {
  absl::string_view bare = name;
  absl::ConsumePrefix(&bare, "torch.");
  const auto& dtypes = TorchDtypes();
  auto it = dtypes.find(std::string(bare));
  if (it == dtypes.end()) {
    return ValueError(absl::StrCat("No such torch dtype `torch.", bare, "`"));
  }
  return it->second;
}

absl::StatusOr<std::vector<int>> ParseBlockStructureString(absl::string_view text) {
  std::vector<int> values;
  for (absl::string_view part : absl::StrSplit(text, 'x')) {
    absl::optional<int64_t> value = PythonInt(part);
    if (!value || *value > INT32_MAX || *value < INT32_MIN) {
      return ValueError(BlockStructureError(text));
    }
    values.push_back(static_cast<int>(*value));
  }
  bool positive = true;
  for (int v : values) positive = positive && v > 0;
  if (values.size() != 2 || !positive) return ValueError(BlockStructureError(text));
  return values;
}

absl::StatusOr<QuantizationArgs> ValidateQuantizationArgs(
    const wring::recipe::QuantizationArgs& written, std::vector<std::string>* warnings) {
  WRING_ASSIGN_OR_RETURN(FieldValues f, ValidateFields(written, warnings));

  QuantizationArgs args;
  args.num_bits = f.num_bits;
  args.type = f.type;
  args.symmetric = f.symmetric;
  args.group_size = f.group_size;
  args.block_structure = f.block_structure;
  args.dynamic = f.dynamic;
  args.actorder = f.actorder;
  args.scale_dtype = f.scale_dtype;
  args.observer_kwargs = f.observer_kwargs;

  QuantizationStrategy strategy;
  if (f.strategy) {
    strategy = *f.strategy;
  } else {
    args.strategy_was_inferred = true;
    if (!f.group_size) {
      strategy = QuantizationStrategy::kTensor;
    } else if (*f.group_size > 0) {
      strategy = QuantizationStrategy::kGroup;
    } else if (*f.group_size == -1) {
      strategy = QuantizationStrategy::kChannel;
    } else {
      return ValueError(absl::StrCat("Invalid group size ", *f.group_size,
                                     ". Use group_size > 0 for strategy='group' and "
                                     "group_size = -1 for 'channel'"));
    }
  }

  if (strategy == QuantizationStrategy::kToken && !args.is_dynamic()) {
    return ValueError("Cannot perform static token quantization, please use `dynamic=True`");
  }

  bool grouped =
      strategy == QuantizationStrategy::kGroup || strategy == QuantizationStrategy::kTensorGroup;
  if (grouped && (!f.group_size || *f.group_size <= 0)) {
    // Only reachable with a written strategy, which upstream keeps as a plain
    // string: "strategy group requires ...".
    return ValueError(absl::StrCat("strategy ", QuantizationStrategyName(strategy),
                                   " requires group_size to be set to a positive value"));
  }
  if (f.group_size && *f.group_size > 0 && !grouped) {
    return ValueError("group_size requires strategy to be set to 'group'");
  }

  bool has_block_strategy = strategy == QuantizationStrategy::kBlock;
  if (has_block_strategy && !f.has_block_structure) {
    return ValueError(absl::StrCat("Block strategy requires block structure\n", ModelRepr(f)));
  }
  if (f.has_block_structure && !has_block_strategy) {
    return ValueError(absl::StrCat("Block structure requires block strategy\n", ModelRepr(f)));
  }

  // compressed-tensors 0.19 leaves `observer` as written: the modifier
  // (QuantizationMixin) or the calibration code picks the default.
  if (args.is_dynamic()) {
    bool supported = strategy == QuantizationStrategy::kToken ||
                     strategy == QuantizationStrategy::kTensor ||
                     strategy == QuantizationStrategy::kTensorGroup ||
                     strategy == QuantizationStrategy::kGroup;
    if (!supported) {
      return ValueError(
          "One of (<QuantizationStrategy.TOKEN: 'token'>, <QuantizationStrategy.TENSOR: "
          "'tensor'>, <QuantizationStrategy.TENSOR_GROUP: 'tensor_group'>, "
          "<QuantizationStrategy.GROUP: 'group'>) must be used for dynamic quant.");
    }
    if (args.dynamic == DynamicMode::kLocal && strategy != QuantizationStrategy::kTensorGroup) {
      return ValueError("local is only supported for strategy tensor_group");
    }
  }

  if (f.zp_dtype) {
    args.zp_dtype = *f.zp_dtype;
  } else if (args.num_bits == 4 && args.type == QuantizationType::kFloat) {
    args.zp_dtype = "float8_e4m3fn";
  } else {
    WRING_ASSIGN_OR_RETURN(args.zp_dtype, PytorchDtype(args.type, args.num_bits));
  }

  args.strategy = strategy;
  args.observer = f.observer;
  return args;
}

absl::StatusOr<wring::recipe::QuantizationArgs> WrittenArgsFromJson(const Json& fields) {
  if (!fields.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("QuantizationArgs: expected an object, got ", JsonTypeName(fields)));
  }
  wring::recipe::QuantizationArgs written;
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    const std::string& key = it.key();
    const Json& value = it.value();
    if (value.is_null()) continue;
    auto wrong_type = [&](const char* expected) {
      return absl::InvalidArgumentError(absl::StrCat("QuantizationArgs.", key, ": expected ",
                                                     expected, ", got ", value.dump()));
    };
    if (key == "num_bits" || key == "group_size") {
      if (!value.is_number_integer()) return wrong_type("an integer");
      const int v = value.get<int>();
      key == "num_bits" ? written.set_num_bits(v) : written.set_group_size(v);
    } else if (key == "symmetric") {
      if (!value.is_boolean()) return wrong_type("a boolean");
      written.set_symmetric(value.get<bool>());
    } else if (key == "dynamic" || key == "actorder") {
      std::string v;
      if (value.is_boolean()) {
        v = value.get<bool>() ? "true" : "false";
      } else if (value.is_string()) {
        v = value.get<std::string>();
      } else {
        return wrong_type("a boolean or a string");
      }
      key == "dynamic" ? written.set_dynamic(v) : written.set_actorder(v);
    } else if (key == "block_structure") {
      if (!value.is_array()) return wrong_type("a list of integers");
      for (const Json& v : value) {
        if (!v.is_number_integer()) return wrong_type("a list of integers");
        written.add_block_structure(v.get<int>());
      }
    } else if (key == "observer_kwargs") {
      if (!value.is_object()) return wrong_type("an object");
      for (auto kv = value.begin(); kv != value.end(); ++kv) {
        (*written.mutable_observer_kwargs())[kv.key()] =
            kv.value().is_string() ? kv.value().get<std::string>() : kv.value().dump();
      }
    } else if (key == "type" || key == "strategy" || key == "observer" || key == "scale_dtype" ||
               key == "zp_dtype") {
      if (!value.is_string()) return wrong_type("a string");
      const std::string v = value.get<std::string>();
      if (key == "type") written.set_type(v);
      if (key == "strategy") written.set_strategy(v);
      if (key == "observer") written.set_observer(v);
      if (key == "scale_dtype") written.set_scale_dtype(v);
      if (key == "zp_dtype") written.set_zp_dtype(v);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("QuantizationArgs has no field \"", key, "\""));
    }
  }
  return written;
}

wring::recipe::QuantizationArgs ToWrittenArgs(const QuantizationArgs& args) {
  wring::recipe::QuantizationArgs written;
  written.set_num_bits(args.num_bits);
  written.set_type(std::string(QuantizationTypeName(args.type)));
  written.set_symmetric(args.symmetric);
  if (args.group_size) written.set_group_size(*args.group_size);
  written.set_strategy(std::string(QuantizationStrategyName(args.strategy)));
  for (int v : args.block_structure) written.add_block_structure(v);
  written.set_dynamic(args.dynamic == DynamicMode::kStatic    ? "false"
                      : args.dynamic == DynamicMode::kDynamic ? "true"
                                                              : "local");
  if (args.actorder) written.set_actorder(std::string(ActivationOrderingName(*args.actorder)));
  if (args.observer) written.set_observer(*args.observer);
  for (const auto& kv : args.observer_kwargs) {
    (*written.mutable_observer_kwargs())[kv.first] = kv.second;
  }
  if (args.scale_dtype) written.set_scale_dtype(*args.scale_dtype);
  if (!args.symmetric) written.set_zp_dtype(args.zp_dtype);
  return written;
}

Json QuantizationArgsToJson(const QuantizationArgs& args) {
  Json json = Json::object();
  json["num_bits"] = args.num_bits;
  json["type"] = std::string(QuantizationTypeName(args.type));
  json["symmetric"] = args.symmetric;
  json["group_size"] = args.group_size ? Json(*args.group_size) : Json(nullptr);
  json["strategy"] = std::string(QuantizationStrategyName(args.strategy));
  if (args.block_structure.empty()) {
    json["block_structure"] = nullptr;
  } else {
    json["block_structure"] = Json::array();
    for (int v : args.block_structure) json["block_structure"].push_back(v);
  }
  switch (args.dynamic) {
    case DynamicMode::kStatic:
      json["dynamic"] = false;
      break;
    case DynamicMode::kDynamic:
      json["dynamic"] = true;
      break;
    case DynamicMode::kLocal:
      json["dynamic"] = "local";
      break;
  }
  json["actorder"] =
      args.actorder ? Json(std::string(ActivationOrderingName(*args.actorder))) : Json(nullptr);
  json["scale_dtype"] =
      args.scale_dtype ? Json(absl::StrCat("torch.", *args.scale_dtype)) : Json(nullptr);
  json["zp_dtype"] = args.symmetric ? Json(nullptr) : Json(absl::StrCat("torch.", args.zp_dtype));
  json["observer"] = args.observer ? Json(*args.observer) : Json(nullptr);
  json["observer_kwargs"] = Json::object();
  for (const auto& kv : args.observer_kwargs) {
    json["observer_kwargs"][kv.first] = ScalarJson(kv.second);
  }
  return json;
}

}  // namespace mapping
}  // namespace wring
