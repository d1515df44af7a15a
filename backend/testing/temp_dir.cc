#include "backend/testing/temp_dir.h"

#include <stdlib.h>

#include <cstdlib>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace testing {

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/" + prefix + "_XXXXXX";
  EXPECT_NE(mkdtemp(pattern.data()), nullptr) << pattern;
  return pattern;
}

}  // namespace testing
}  // namespace backend
}  // namespace wring
