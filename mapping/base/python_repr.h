// How Python prints values, for reproducing llm-compressor's and
// compressed-tensors' messages verbatim: they interpolate repr() of
// strings, lists, sets and floats, and users search for those exact texts.
#ifndef WRING_MAPPING_BASE_PYTHON_REPR_H_
#define WRING_MAPPING_BASE_PYTHON_REPR_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "absl/types/span.h"

namespace wring {
namespace mapping {

// repr(str): single quotes unless the text has one and no double quote.
std::string PythonStrRepr(absl::string_view s);
// repr(Optional[str]): the string's repr or None.
std::string PythonOptionalStrRepr(const absl::optional<std::string>& value);
// repr(list[str]): ['a', 'b'].
std::string PythonListRepr(absl::Span<const std::string> items);
// repr(set[str]) in the order given: {'a', 'b'}, or set() when empty.
// Upstream's order is hash-dependent; ours follows `items`.
std::string PythonSetRepr(absl::Span<const std::string> items);
// repr(list[int]): [1, 2].
std::string PythonIntListRepr(absl::Span<const int> values);
// repr(float): the shortest text that round-trips, "1.0", "nan", "inf".
std::string PythonFloatRepr(double v);
// repr() of a YAML scalar as yaml.safe_load gives it to Python: numbers as
// written, True / False / None, anything else a string.
std::string PythonYamlScalarRepr(absl::string_view yaml_text);

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_BASE_PYTHON_REPR_H_
