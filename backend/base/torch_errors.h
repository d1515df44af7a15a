// Converts LibTorch exceptions into absl::Status at the backend's API
// boundary.
//
// LibTorch reports misuse (shape mismatches, bad dtypes, allocation failure)
// by throwing c10::Error. The backend validates its inputs up front, so a
// throw means a bug or an exhausted device; either way callers get a Status
// that says which operation failed instead of an escaping exception.
#ifndef WRING_BACKEND_BASE_TORCH_ERRORS_H_
#define WRING_BACKEND_BASE_TORCH_ERRORS_H_

#include <c10/util/Exception.h>

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace wring {
namespace backend {

namespace internal {
// c10::Error::what() appends a C++ backtrace; the first line is the message.
inline std::string FirstLine(const char* text) {
  std::string line(text);
  const size_t newline = line.find('\n');
  if (newline != std::string::npos) line.resize(newline);
  return line;
}
}  // namespace internal

// Runs `body` (returning absl::Status or absl::StatusOr<T>) and turns any
// exception it throws into an Internal status prefixed with `operation`.
template <typename Body>
auto CatchTorchErrors(absl::string_view operation, Body&& body) -> decltype(body()) {
  try {
    return std::forward<Body>(body)();
  } catch (const c10::Error& error) {
    return absl::InternalError(
        absl::StrCat(operation, ": LibTorch error: ", internal::FirstLine(error.what_without_backtrace())));
  } catch (const std::exception& error) {
    return absl::InternalError(absl::StrCat(operation, ": ", internal::FirstLine(error.what())));
  }
}

}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_BASE_TORCH_ERRORS_H_
