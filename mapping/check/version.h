// wring's version, written into every report and checkpoint.
#ifndef WRING_MAPPING_CHECK_VERSION_H_
#define WRING_MAPPING_CHECK_VERSION_H_

namespace wring {
namespace mapping {

inline constexpr char kWringVersion[] = "0.1.0";

}  // namespace mapping
}  // namespace wring

#endif  // WRING_MAPPING_CHECK_VERSION_H_
