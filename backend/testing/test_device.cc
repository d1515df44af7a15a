#include "backend/testing/test_device.h"

#include <cstdlib>

namespace wring {
namespace backend {
namespace testing {

std::string TestDevice() {
  const char* device = std::getenv("WRING_TEST_DEVICE");
  return device != nullptr && device[0] != '\0' ? device : "cpu";
}

}  // namespace testing
}  // namespace backend
}  // namespace wring
