// Comparing upstream error messages that contain Python sets, whose
// printed order depends on string hashing and changes between runs.
#ifndef WRING_MAPPING_TESTING_PYTHON_SETS_H_
#define WRING_MAPPING_TESTING_PYTHON_SETS_H_

#include <string>

namespace wring {
namespace mapping {
namespace testing {

// True when `actual` and `expected` are the same text once every Python set
// of strings in them ({'a', 'b'}) is compared as a set: same text around the
// sets, same members. `why` receives the first difference.
bool SameMessageUpToSetOrder(const std::string& actual, const std::string& expected,
                             std::string* why);

}  // namespace testing
}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_TESTING_PYTHON_SETS_H_
