// Return-if-error and assign-or-return for absl::Status / absl::StatusOr.
//
// Debian's Abseil (20220623) ships no status_macros.h; the mapping core uses
// these everywhere because it reports errors as values (it also runs in
// WebAssembly, where exceptions are off).
#ifndef WRING_MAPPING_BASE_STATUS_MACROS_H_
#define WRING_MAPPING_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define WRING_STATUS_CONCAT_INNER_(a, b) a##b
#define WRING_STATUS_CONCAT_(a, b) WRING_STATUS_CONCAT_INNER_(a, b)

#define WRING_RETURN_IF_ERROR(expr)                  \
  do {                                               \
    ::absl::Status wring_status_ = (expr);           \
    if (!wring_status_.ok()) return wring_status_;   \
  } while (0)

#define WRING_ASSIGN_OR_RETURN(lhs, expr) \
  WRING_ASSIGN_OR_RETURN_IMPL_(WRING_STATUS_CONCAT_(wring_statusor_, __LINE__), lhs, expr)

#define WRING_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

#endif  // WRING_MAPPING_BASE_STATUS_MACROS_H_
