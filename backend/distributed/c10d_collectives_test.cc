// Runs real Gloo groups of 2 and 3 processes over 127.0.0.1: this test
// binary starts copies of itself through the launcher, and main() turns a
// copy into a worker that runs a scenario and reports through its exit
// status (0 every check passed, 1 a check failed, 2 its own injected error,
// 4 a collective failed the way the scenario expects) and a file holding its
// last error message.
#include "backend/distributed/c10d_collectives.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "backend/distributed/collectives.h"
#include "backend/distributed/local_launcher.h"
#include "backend/distributed/module_parallel.h"
#include "backend/distributed/worker_environment.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace distributed {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kScenarioVar[] = "WRING_DISTRIBUTED_TEST_SCENARIO";
constexpr char kTimeoutVar[] = "WRING_DISTRIBUTED_TEST_TIMEOUT_MS";
constexpr char kReportVar[] = "WRING_DISTRIBUTED_TEST_REPORT_DIR";

// ---- the worker side -------------------------------------------------------

class Worker {
 public:
  explicit Worker(Collectives& c) : c_(c), r_(c.rank()), w_(c.world_size()) {}

  int Report(int code, const std::string& message) {
    std::fprintf(stderr, "rank %d: %s\n", r_, message.c_str());
    if (const char* dir = std::getenv(kReportVar)) {
      std::ofstream(fs::path(dir) / absl::StrCat("rank", r_)) << message;
    }
    return code;
  }

  // Runs `op` over tensors made by make(rank) and checks the result against
  // the reduction computed locally from make(0..world-1).
  bool CheckReduction(const std::string& name, ReduceOp op,
                      const std::function<std::vector<torch::Tensor>(int)>& make) {
    std::vector<torch::Tensor> mine = make(r_);
    absl::Status s = c_.AllReduce(mine, op, name);
    if (!s.ok()) return Fail(name, s.ToString());
    std::vector<torch::Tensor> expected = make(0);
    for (size_t i = 0; i < expected.size(); ++i) {
      torch::Tensor acc = expected[i].to(torch::kFloat64);
      for (int other = 1; other < w_; ++other) {
        torch::Tensor v = make(other)[i].to(torch::kFloat64);
        if (op == ReduceOp::kMin) acc = torch::minimum(acc, v);
        if (op == ReduceOp::kMax) acc = torch::maximum(acc, v);
        if (op == ReduceOp::kSum || op == ReduceOp::kAvg) acc = acc + v;
      }
      if (op == ReduceOp::kAvg) acc = acc / w_;
      torch::Tensor want = acc.to(expected[i].scalar_type());
      if (!mine[i].equal(want)) {
        std::ostringstream text;
        text << "tensor " << i << ": expected " << want << " got " << mine[i];
        return Fail(name, text.str());
      }
    }
    return true;
  }

  int RunAll() {
    using torch::indexing::Slice;
    bool ok = true;
    ok &= CheckReduction("sum", ReduceOp::kSum, [](int r) {
      return std::vector<torch::Tensor>{(r + 1) * torch::arange(12, torch::kFloat32).reshape({3, 4})};
    });
    // Several dtypes in one call, one of them a non-contiguous view.
    auto mixed = [](int r) {
      torch::Tensor f = torch::arange(5, torch::kFloat32);
      torch::Tensor values = torch::remainder(r * 7 + f * 3, 5) - 2;
      return std::vector<torch::Tensor>{values, values.to(torch::kBFloat16),
                                        values.to(torch::kInt64), values.to(torch::kFloat64),
                                        (values.index({Slice(0, 4)}) * (r + 1)).reshape({2, 2}).t(),
                                        torch::empty({0})};
    };
    ok &= CheckReduction("min", ReduceOp::kMin, mixed);
    ok &= CheckReduction("max", ReduceOp::kMax, mixed);
    ok &= CheckReduction("avg", ReduceOp::kAvg, [](int r) {
      return std::vector<torch::Tensor>{torch::tensor({0.5f, 1.0f, 3.0f}) * (r + 1)};
    });
    ok &= CheckReduction("bf16 sum", ReduceOp::kSum, [](int r) {
      return std::vector<torch::Tensor>{torch::tensor({0.125f, 1000.0f, -3.5f}).to(torch::kBFloat16) * (r + 1)};
    });
    std::vector<torch::Tensor> ints{torch::ones({2}, torch::kInt64)};
    absl::Status avg_int = c_.AllReduce(ints, ReduceOp::kAvg, "integer average");
    if (avg_int.ok() || !absl::IsInvalidArgument(avg_int)) ok &= Fail("avg of int64", avg_int.ToString());

    // Reduce to the last rank: only it holds the sum.
    const int root = w_ - 1;
    std::vector<torch::Tensor> partial{torch::full({3}, static_cast<float>(r_ + 1)),
                                       torch::full({2}, r_ + 1, torch::kInt32)};
    if (absl::Status s = c_.Reduce(partial, root, ReduceOp::kSum, "hessians"); !s.ok()) {
      ok &= Fail("reduce", s.ToString());
    } else if (r_ == root) {
      const int total = w_ * (w_ + 1) / 2;
      if (!partial[0].equal(torch::full({3}, static_cast<float>(total))) ||
          !partial[1].equal(torch::full({2}, total, torch::kInt32))) {
        ok &= Fail("reduce", "wrong sum on the root");
      }
    }

    // Broadcast from rank 1: everyone ends with its tensors.
    auto owned = [](int r) {
      return std::vector<torch::Tensor>{torch::arange(4, torch::kFloat32).reshape({2, 2}) + r * 10,
                                        torch::full({3}, r, torch::kInt32),
                                        torch::tensor({0.5f, -1.5f}).to(torch::kBFloat16) * (r + 1)};
    };
    std::vector<torch::Tensor> qparams = owned(r_);
    if (r_ != 1) {
      for (torch::Tensor& t : qparams) t.zero_();
    }
    if (absl::Status s = c_.Broadcast(qparams, 1, "weight qparams"); !s.ok()) {
      ok &= Fail("broadcast", s.ToString());
    } else {
      std::vector<torch::Tensor> want = owned(1);
      for (size_t i = 0; i < want.size(); ++i) {
        if (!qparams[i].equal(want[i])) ok &= Fail("broadcast", absl::StrCat("tensor ", i));
      }
    }

    // Variable-size bytes, rank 0's empty, with a zero byte inside.
    std::string mine(5 * r_, static_cast<char>('a' + r_));
    if (r_ == 1) mine[2] = '\0';
    absl::StatusOr<std::vector<std::string>> gathered = c_.AllGather(mine, "metrics");
    if (!gathered.ok()) {
      ok &= Fail("all-gather", gathered.status().ToString());
    } else {
      for (int other = 0; other < w_; ++other) {
        std::string want(5 * other, static_cast<char>('a' + other));
        if (other == 1) want[2] = '\0';
        if ((*gathered)[other] != want) ok &= Fail("all-gather", absl::StrCat("from rank ", other));
      }
    }
    absl::StatusOr<std::vector<std::string>> empty = c_.AllGather("", "nothing");
    if (!empty.ok() || empty->size() != static_cast<size_t>(w_) || !(*empty)[0].empty()) {
      ok &= Fail("all-gather of empty", "wrong result");
    }
    if (absl::Status s = c_.Barrier("the end"); !s.ok()) ok &= Fail("barrier", s.ToString());
    return ok ? 0 : 1;
  }

  // Results computed once, on each item's owner, end up on every rank.
  int ModuleParallel() {
    const std::vector<int64_t> weights = {10, 50, 20, 5, 30, 1};
    const std::vector<int> owners = AssignOwners(c_, weights);
    auto expected = [](size_t i) {
      std::vector<torch::Tensor> out{torch::full({static_cast<int64_t>(i) + 1, 2}, 0.5 * i)};
      out.push_back(i % 2 == 1 ? torch::Tensor() : torch::arange(static_cast<int64_t>(i), torch::kInt64));
      return out;
    };
    int calls = 0;
    absl::StatusOr<std::vector<std::vector<torch::Tensor>>> results = ComputeOnOwners(
        c_, owners, torch::kCPU,
        [&](size_t i) -> absl::StatusOr<std::vector<torch::Tensor>> {
          ++calls;
          if (owners[i] != r_) return absl::InternalError("computed on a rank that does not own it");
          return expected(i);
        },
        "weight qparams");
    if (!results.ok()) return Report(1, results.status().ToString());
    int owned = 0;
    for (int owner : owners) owned += owner == r_ ? 1 : 0;
    if (calls != owned) return Report(1, absl::StrCat(calls, " computations for ", owned, " owned items"));
    for (size_t i = 0; i < weights.size(); ++i) {
      const std::vector<torch::Tensor> want = expected(i);
      const std::vector<torch::Tensor>& got = (*results)[i];
      if (got.size() != want.size()) return Report(1, absl::StrCat("item ", i, ": tensor count"));
      for (size_t k = 0; k < want.size(); ++k) {
        if (want[k].defined() != got[k].defined() ||
            (want[k].defined() && !got[k].equal(want[k]))) {
          return Report(1, absl::StrCat("item ", i, " tensor ", k, " differs from its owner's"));
        }
      }
    }
    // Partial sums to the owners (GPTQ's Hessians).
    std::vector<std::vector<torch::Tensor>> partial;
    for (size_t i = 0; i < weights.size(); ++i) {
      partial.push_back({torch::full({2, 2}, static_cast<float>(r_ + 1) * (i + 1))});
    }
    if (absl::Status s = ReduceToOwners(c_, owners, partial, "hessians"); !s.ok()) {
      return Report(1, s.ToString());
    }
    const float ranks_sum = w_ * (w_ + 1) / 2.0f;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (owners[i] == r_ && !partial[i][0].equal(torch::full({2, 2}, ranks_sum * (i + 1)))) {
        return Report(1, absl::StrCat("hessian ", i, " not summed on its owner"));
      }
    }
    return 0;
  }

  // One collective every rank completes, so all are connected before the
  // scenario's fault.
  bool WarmUp() {
    std::vector<torch::Tensor> t{torch::ones({4})};
    return c_.AllReduce(t, ReduceOp::kSum, "warm-up").ok();
  }

  // The call after a peer's fault must fail with `expected`, on its own.
  int ExpectPeerFailure(absl::StatusCode expected) {
    std::vector<torch::Tensor> t{torch::ones({1024})};
    absl::Status s = c_.AllReduce(t, ReduceOp::kSum, "layer 3 observer statistics");
    if (s.ok()) return Report(1, "the all-reduce after a peer's fault succeeded");
    const bool right = IsPeerFailure(s) && s.code() == expected;
    return Report(right ? kExitPeerFailed : 1, std::string(s.message()));
  }

 private:
  bool Fail(const std::string& check, const std::string& detail) {
    Report(1, absl::StrCat("check '", check, "' failed: ", detail));
    return false;
  }

  Collectives& c_;
  int r_;
  int w_;
};

int RunWorker(const std::string& scenario) {
  absl::StatusOr<std::optional<WorkerEnvironment>> env = WorkerEnvironmentFromEnv();
  if (!env.ok() || !env->has_value()) {
    std::fprintf(stderr, "worker without a distributed environment: %s\n",
                 env.status().ToString().c_str());
    return 1;
  }
  ConnectOptions options;
  const char* timeout_ms = std::getenv(kTimeoutVar);
  options.timeout = absl::Milliseconds(timeout_ms != nullptr ? std::atoi(timeout_ms) : 20000);
  absl::StatusOr<std::unique_ptr<Collectives>> group = ConnectCollectives(**env, options);
  if (!group.ok()) {
    std::fprintf(stderr, "rank %d: %s\n", (*env)->rank, group.status().ToString().c_str());
    return IsPeerFailure(group.status()) ? kExitPeerFailed : 3;
  }
  Worker worker(**group);
  const int rank = (*group)->rank();
  const int last = (*group)->world_size() - 1;
  if (scenario == "collectives") return worker.RunAll();
  if (scenario == "module_parallel") return worker.ModuleParallel();
  if (!worker.WarmUp()) return worker.Report(1, "warm-up failed");
  if (scenario == "kill") {
    if (rank == 1) raise(SIGKILL);
    return worker.ExpectPeerFailure(absl::StatusCode::kAborted);
  }
  if (scenario == "hang") {
    if (rank == 1) {
      sleep(60);
      return 0;
    }
    return worker.ExpectPeerFailure(absl::StatusCode::kDeadlineExceeded);
  }
  if (scenario == "error") {
    if (rank == last) return worker.Report(2, "error: calibration.jsonl: line 3: bad shard");
    return worker.ExpectPeerFailure(absl::StatusCode::kAborted);
  }
  return worker.Report(1, absl::StrCat("unknown scenario ", scenario));
}

// ---- the test side ---------------------------------------------------------

struct WorkerRun {
  LaunchOutcome outcome;
  absl::Duration took;
  fs::path reports;
};

LaunchOptions Workers(int nproc, const std::string& scenario) {
  LaunchOptions options;
  options.program = "/proc/self/exe";
  options.argv = {"c10d_collectives_test"};
  options.nproc = nproc;
  options.env = {{kScenarioVar, scenario}};
  options.grace = absl::Seconds(1);
  options.deadline = absl::Seconds(90);  // a hung collective fails the test here
  return options;
}

WorkerRun Launch(LaunchOptions options, const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  WorkerRun run;
  run.reports = fs::path(tmp != nullptr ? tmp : "/tmp") / name;
  fs::remove_all(run.reports);
  fs::create_directories(run.reports);
  options.env.push_back({kReportVar, run.reports.string()});
  const absl::Time start = absl::Now();
  absl::StatusOr<LaunchOutcome> outcome = LaunchLocalWorkers(options);
  run.took = absl::Now() - start;
  EXPECT_TRUE(outcome.ok()) << outcome.status();
  if (outcome.ok()) run.outcome = *outcome;
  return run;
}

std::string ReportOf(const WorkerRun& run, int rank) {
  std::ifstream in(run.reports / absl::StrCat("rank", rank));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class CollectivesOnGloo : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    // A CMake build on a host without Gloo's headers has no CPU backend.
    absl::StatusOr<const char*> backend = BackendFor(torch::kCPU);
    if (!backend.ok()) GTEST_SKIP() << backend.status();
  }
};

TEST_P(CollectivesOnGloo, EveryOperationGivesTheReducedValues) {
  WorkerRun run = Launch(Workers(GetParam(), "collectives"), absl::StrCat("collectives", GetParam()));
  EXPECT_EQ(run.outcome.exit_status, 0) << run.outcome.message;
  for (int rank = 0; rank < GetParam(); ++rank) EXPECT_EQ(ReportOf(run, rank), "");
}

TEST_P(CollectivesOnGloo, ModuleParallelResultsReachEveryRank) {
  WorkerRun run = Launch(Workers(GetParam(), "module_parallel"), absl::StrCat("mp", GetParam()));
  EXPECT_EQ(run.outcome.exit_status, 0) << run.outcome.message;
}

TEST_P(CollectivesOnGloo, TorchrunConventionWithRankZeroHostingTheStore) {
  LaunchOptions options = Workers(GetParam(), "collectives");
  options.env.push_back({"TORCHELASTIC_USE_AGENT_STORE", "False"});
  options.env.push_back({"MASTER_PORT", absl::StrCat(FreePort())});
  WorkerRun run = Launch(options, absl::StrCat("rank0store", GetParam()));
  EXPECT_EQ(run.outcome.exit_status, 0) << run.outcome.message;
}

TEST_P(CollectivesOnGloo, AKilledWorkerFailsEveryOtherOnItsOwn) {
  LaunchOptions options = Workers(GetParam(), "kill");
  options.stop_on_failure = false;  // the survivors must notice by themselves
  WorkerRun run = Launch(options, absl::StrCat("kill", GetParam()));
  EXPECT_LT(run.took, absl::Seconds(30));
  EXPECT_EQ(run.outcome.failed_rank, 1) << run.outcome.message;
  EXPECT_EQ(run.outcome.workers[1].signal, SIGKILL);
  EXPECT_THAT(run.outcome.message, HasSubstr("rank 1"));
  for (int rank = 0; rank < GetParam(); ++rank) {
    if (rank == 1) continue;
    EXPECT_EQ(run.outcome.workers[rank].exit_status, kExitPeerFailed) << ReportOf(run, rank);
    EXPECT_THAT(ReportOf(run, rank),
                HasSubstr("all-reduce (SUM) of layer 3 observer statistics failed on the gloo "
                          "group (rank "));
    EXPECT_THAT(ReportOf(run, rank), HasSubstr("another worker stopped"));
  }
}

TEST_P(CollectivesOnGloo, AHungWorkerTimesTheOthersOutAndIsStopped) {
  LaunchOptions options = Workers(GetParam(), "hang");
  options.env.push_back({kTimeoutVar, "3000"});
  WorkerRun run = Launch(options, absl::StrCat("hang", GetParam()));
  EXPECT_LT(run.took, absl::Seconds(30));
  EXPECT_TRUE(run.outcome.workers[1].stopped_by_launcher);
  EXPECT_NE(run.outcome.exit_status, 0);
  // "stopped rank 1", or "stopped ranks 1, 2" when the launcher stopped
  // another survivor before its own timeout ran out.
  EXPECT_THAT(run.outcome.message, ::testing::ContainsRegex("stopped ranks? (.*, )?1"));
  for (int rank = 0; rank < GetParam(); ++rank) {
    if (rank == 1 || run.outcome.workers[rank].stopped_by_launcher) continue;
    EXPECT_EQ(run.outcome.workers[rank].exit_status, kExitPeerFailed) << ReportOf(run, rank);
    EXPECT_THAT(ReportOf(run, rank), HasSubstr("no answer from the other workers within 3s"));
  }
}

TEST_P(CollectivesOnGloo, AWorkersOwnErrorIsTheCauseNotItsEchoes) {
  LaunchOptions options = Workers(GetParam(), "error");
  options.stop_on_failure = false;
  WorkerRun run = Launch(options, absl::StrCat("error", GetParam()));
  const int last = GetParam() - 1;
  EXPECT_EQ(run.outcome.failed_rank, last);
  EXPECT_EQ(run.outcome.exit_status, 2);
  EXPECT_THAT(ReportOf(run, last), HasSubstr("bad shard"));
  for (int rank = 0; rank < last; ++rank) {
    EXPECT_EQ(run.outcome.workers[rank].exit_status, kExitPeerFailed) << ReportOf(run, rank);
  }
}

TEST_P(CollectivesOnGloo, TheLauncherStopsTheRestWhenOneDies) {
  WorkerRun run = Launch(Workers(GetParam(), "kill"), absl::StrCat("killstop", GetParam()));
  EXPECT_LT(run.took, absl::Seconds(30));
  EXPECT_EQ(run.outcome.failed_rank, 1);
  EXPECT_EQ(run.outcome.exit_status, 3);
  EXPECT_THAT(run.outcome.message, HasSubstr("killed by signal 9"));
  for (const WorkerOutcome& w : run.outcome.workers) EXPECT_NE(kill(w.pid, 0), 0);
}

INSTANTIATE_TEST_SUITE_P(TwoAndThreeWorkers, CollectivesOnGloo, ::testing::Values(2, 3),
                         [](const auto& info) { return absl::StrCat(info.param, "Workers"); });

TEST(SingleProcessTest, ModuleParallelComputesEverythingLocally) {
  SingleProcessCollectives single;
  const std::vector<int64_t> weights = {3, 1, 2};
  const std::vector<int> owners = AssignOwners(single, weights);
  EXPECT_EQ(owners, (std::vector<int>{0, 0, 0}));
  auto results = ComputeOnOwners(
      single, owners, torch::kCPU,
      [](size_t i) -> absl::StatusOr<std::vector<torch::Tensor>> {
        return std::vector<torch::Tensor>{torch::full({1}, static_cast<float>(i))};
      },
      "x");
  ASSERT_TRUE(results.ok());
  EXPECT_TRUE((*results)[2][0].equal(torch::full({1}, 2.0f)));
}

TEST(SingleProcessTest, NoOpsOverAWorldOfOne) {
  SingleProcessCollectives single;
  std::vector<torch::Tensor> t{torch::tensor({1.0f, 2.0f})};
  ASSERT_TRUE(single.AllReduce(t, ReduceOp::kAvg, "x").ok());
  ASSERT_TRUE(single.Broadcast(t, 0, "x").ok());
  EXPECT_TRUE(t[0].equal(torch::tensor({1.0f, 2.0f})));
  EXPECT_FALSE(single.Reduce(t, 1, ReduceOp::kSum, "x").ok());
  EXPECT_EQ(*single.AllGather("abc", "x"), std::vector<std::string>{"abc"});
  WorkerEnvironment env;
  absl::StatusOr<std::unique_ptr<Collectives>> one = ConnectCollectives(env, ConnectOptions());
  ASSERT_TRUE(one.ok());
  EXPECT_FALSE((*one)->is_distributed());
}

}  // namespace
}  // namespace distributed
}  // namespace backend
}  // namespace wring

int main(int argc, char** argv) {
  if (const char* scenario = std::getenv(wring::backend::distributed::kScenarioVar)) {
    return wring::backend::distributed::RunWorker(scenario);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
