// Test support: the device the job tests run `wring compress` on, so the
// same tests check the CUDA path on a GPU host (tools/gpu_check.sh sets
// WRING_TEST_DEVICE=cuda) and the CPU path everywhere else.
#ifndef WRING_BACKEND_TESTING_TEST_DEVICE_H_
#define WRING_BACKEND_TESTING_TEST_DEVICE_H_

#include <string>

namespace wring {
namespace backend {
namespace testing {

// $WRING_TEST_DEVICE, or "cpu" when unset or empty.
std::string TestDevice();

}  // namespace testing
}  // namespace backend
}  // namespace wring

#endif  // WRING_BACKEND_TESTING_TEST_DEVICE_H_
