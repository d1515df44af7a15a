// `wring compress`: the command-line face of backend/job. Flags are defined
// here; --model and --recipe are shared with `wring check`.
#ifndef WRING_CLI_COMPRESS_COMMAND_H_
#define WRING_CLI_COMPRESS_COMMAND_H_

#include <string>
#include <vector>

namespace wring {
namespace cli {

// Flag names `wring compress` adds (for the unknown-flag check).
const std::vector<std::string>& CompressFlagNames();

// Runs the command (`argv` is the whole command line, for --nproc's
// workers); returns the exit status: 0 written, 1 the recipe would fail
// (nothing written), 2 unusable input, 3 the run failed, 4 (distributed
// runs) another worker failed or stopped answering.
int RunCompress(int argc, char** argv);

}  // namespace cli
}  // namespace wring

#endif  // WRING_CLI_COMPRESS_COMMAND_H_
