#include "backend/distributed/worker_environment.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace wring {
namespace backend {
namespace distributed {
namespace {

constexpr char kFix[] =
    " (torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; under srun or "
    "mpirun export them per worker, or run `wring compress --nproc N` on one host)";

absl::StatusOr<std::optional<int>> ReadInt(
    const std::function<const char*(const char*)>& getenv, const char* name, int min, int max) {
  const char* text = getenv(name);
  if (text == nullptr || *text == '\0') return std::optional<int>();
  int value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat("environment variable ", name, "=\"", text,
                                                   "\" is not an integer in [", min, ", ", max,
                                                   "]", kFix));
  }
  return std::optional<int>(value);
}

absl::Status Missing(const char* name, const char* why) {
  return absl::InvalidArgumentError(
      absl::StrCat("environment variable ", name, " is not set; ", why, kFix));
}

}  // namespace

absl::StatusOr<std::optional<WorkerEnvironment>> WorkerEnvironmentFromEnv(
    const std::function<const char*(const char*)>& getenv) {
  constexpr int kMaxWorld = 1 << 20;
  absl::StatusOr<std::optional<int>> rank = ReadInt(getenv, "RANK", 0, kMaxWorld);
  if (!rank.ok()) return rank.status();
  absl::StatusOr<std::optional<int>> world = ReadInt(getenv, "WORLD_SIZE", 1, kMaxWorld);
  if (!world.ok()) return world.status();
  if (!rank->has_value() && !world->has_value()) return std::optional<WorkerEnvironment>();
  if (!rank->has_value()) return Missing("RANK", "WORLD_SIZE is, so this is one worker of a distributed run");
  if (!world->has_value()) return Missing("WORLD_SIZE", "RANK is, so this is one worker of a distributed run");

  WorkerEnvironment env;
  env.rank = **rank;
  env.world_size = **world;
  if (env.rank >= env.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("RANK=", env.rank,
                                                   " is not below WORLD_SIZE=", env.world_size,
                                                   ": ranks count from 0", kFix));
  }
  absl::StatusOr<std::optional<int>> local_rank = ReadInt(getenv, "LOCAL_RANK", 0, kMaxWorld);
  if (!local_rank.ok()) return local_rank.status();
  absl::StatusOr<std::optional<int>> local_world =
      ReadInt(getenv, "LOCAL_WORLD_SIZE", 1, kMaxWorld);
  if (!local_world.ok()) return local_world.status();
  env.local_rank = *local_rank;
  env.local_world_size = *local_world;
  if (env.local_rank.has_value() && env.local_world_size.has_value() &&
      *env.local_rank >= *env.local_world_size) {
    return absl::InvalidArgumentError(absl::StrCat("LOCAL_RANK=", *env.local_rank,
                                                   " is not below LOCAL_WORLD_SIZE=",
                                                   *env.local_world_size, kFix));
  }
  if (env.world_size == 1) return std::optional<WorkerEnvironment>(env);

  const char* addr = getenv("MASTER_ADDR");
  if (addr == nullptr || *addr == '\0') {
    return Missing("MASTER_ADDR", "it names the host where the workers meet (rank 0's)");
  }
  env.master_addr = addr;
  absl::StatusOr<std::optional<int>> port = ReadInt(getenv, "MASTER_PORT", 1, 65535);
  if (!port.ok()) return port.status();
  if (!port->has_value()) return Missing("MASTER_PORT", "it is the port on MASTER_ADDR where the workers meet");
  env.master_port = **port;
  const char* agent = getenv("TORCHELASTIC_USE_AGENT_STORE");
  // torchrun writes Python's str(True).
  env.agent_hosts_store = agent != nullptr && std::string(agent) == "True";
  return std::optional<WorkerEnvironment>(env);
}

absl::StatusOr<std::optional<WorkerEnvironment>> WorkerEnvironmentFromEnv() {
  return WorkerEnvironmentFromEnv([](const char* name) { return std::getenv(name); });
}

bool IsLoopbackAddress(const std::string& address) {
  return address == "localhost" || address == "::1" || address == "[::1]" ||
         absl::StartsWith(address, "127.");
}

}  // namespace distributed
}  // namespace backend
}  // namespace wring
