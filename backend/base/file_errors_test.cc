#include "backend/base/file_errors.h"

#include <errno.h>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace {

TEST(FileError, FullDiskSaysSoAndWhatToDo) {
  const absl::Status status = FileError("/out/model.safetensors", "write", ENOSPC);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(status.message().find("/out/model.safetensors: cannot write"), absl::string_view::npos);
  EXPECT_NE(status.message().find("disk (or quota) is full"), absl::string_view::npos) << status;
  EXPECT_EQ(FileError("f", "write", EDQUOT).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(FileError("f", "write", EFBIG).code(), absl::StatusCode::kResourceExhausted);
}

TEST(FileError, UnwritableLocationIsPermissionDenied) {
  for (int error : {EACCES, EPERM, EROFS}) {
    const absl::Status status = FileError("/ro/ckpt", "create directory", error);
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << error;
    EXPECT_NE(status.message().find("can write to"), absl::string_view::npos) << status;
  }
}

TEST(FileError, OtherErrorsKeepStrerror) {
  const absl::Status status = FileError("/x", "rename", EIO);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("Input/output error"), absl::string_view::npos) << status;
}

}  // namespace
}  // namespace backend
}  // namespace wring
