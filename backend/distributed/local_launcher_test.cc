#include "backend/distributed/local_launcher.h"

#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace distributed {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path TempDir(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  fs::path dir = fs::path(root != nullptr ? root : "/tmp") / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Workers are shell scripts: the launcher's job (environment, stopping,
// reaping, reporting) does not depend on what the workers run.
LaunchOptions Shell(int nproc, const std::string& script) {
  LaunchOptions options;
  options.program = "/bin/sh";
  options.argv = {"sh", "-c", script};
  options.nproc = nproc;
  options.grace = absl::Seconds(2);
  options.deadline = absl::Seconds(60);
  return options;
}

bool Alive(pid_t pid) { return kill(pid, 0) == 0; }

TEST(LocalLauncherTest, WorkersGetTorchrunVariablesAndTheLaunchersStore) {
  const fs::path dir = TempDir("env");
  LaunchOptions options = Shell(
      3, absl::StrCat("echo \"$RANK $WORLD_SIZE $LOCAL_RANK $LOCAL_WORLD_SIZE $MASTER_ADDR "
                      "$TORCHELASTIC_USE_AGENT_STORE $EXTRA\" > ",
                      dir.string(), "/$RANK; echo $MASTER_PORT > ", dir.string(), "/port$RANK"));
  options.env = {{"EXTRA", "x"}};
  setenv("RANK", "7", 1);  // an inherited value must not leak through
  absl::StatusOr<LaunchOutcome> outcome = LaunchLocalWorkers(options);
  unsetenv("RANK");
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->exit_status, 0);
  EXPECT_TRUE(outcome->message.empty());
  std::string port;
  for (int rank = 0; rank < 3; ++rank) {
    std::ifstream in(dir / absl::StrCat(rank));
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, absl::StrCat(rank, " 3 ", rank, " 3 127.0.0.1 True x"));
    std::ifstream port_in(dir / absl::StrCat("port", rank));
    std::string this_port;
    port_in >> this_port;
    if (rank == 0) port = this_port;
    EXPECT_EQ(this_port, port);
  }
  EXPECT_GT(std::atoi(port.c_str()), 0);
  for (const WorkerOutcome& w : outcome->workers) EXPECT_GT(w.peak_rss_bytes, 0);
}

TEST(LocalLauncherTest, AFailingWorkerStopsTheOthersAndNamesItsRank) {
  const fs::path dir = TempDir("fail");
  const fs::path staging = dir / "out.wring-partial";
  fs::create_directories(staging);
  LaunchOptions options = Shell(3, "if [ $RANK = 1 ]; then sleep 0.3; exit 2; fi; exec sleep 60");
  options.clean_up_after_failure = [staging] { fs::remove_all(staging); };
  const absl::Time start = absl::Now();
  absl::StatusOr<LaunchOutcome> outcome = LaunchLocalWorkers(options);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(outcome->exit_status, 2);
  EXPECT_EQ(outcome->failed_rank, 1);
  EXPECT_THAT(outcome->message, HasSubstr("rank 1"));
  EXPECT_THAT(outcome->message, HasSubstr("exited with status 2"));
  EXPECT_THAT(outcome->message, HasSubstr("stopped ranks 0, 2"));
  for (const WorkerOutcome& w : outcome->workers) {
    EXPECT_FALSE(Alive(w.pid)) << "rank " << w.rank;
    if (w.rank != 1) {
      EXPECT_TRUE(w.stopped_by_launcher);
      EXPECT_EQ(w.signal, SIGTERM);
    }
  }
  EXPECT_FALSE(fs::exists(staging));
}

TEST(LocalLauncherTest, AKilledWorkerIsReportedWithItsSignal) {
  LaunchOptions options = Shell(2, "if [ $RANK = 1 ]; then kill -9 $$; fi; exec sleep 60");
  absl::StatusOr<LaunchOutcome> outcome = LaunchLocalWorkers(options);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->exit_status, 3);
  EXPECT_EQ(outcome->failed_rank, 1);
  EXPECT_THAT(outcome->message, HasSubstr("killed by signal 9"));
  EXPECT_THAT(outcome->message, HasSubstr("out-of-memory"));
}

TEST(LocalLauncherTest, WorkersIgnoringTermAreKilledAfterTheGrace) {
  LaunchOptions options =
      Shell(3, "if [ $RANK = 2 ]; then exit 3; fi; trap '' TERM; exec sleep 60");
  options.grace = absl::Seconds(1);
  const absl::Time start = absl::Now();
  absl::StatusOr<LaunchOutcome> outcome = LaunchLocalWorkers(options);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(outcome->failed_rank, 2);
  for (int rank : {0, 1}) {
    EXPECT_EQ(outcome->workers[rank].signal, SIGKILL);
    EXPECT_TRUE(outcome->workers[rank].stopped_by_launcher);
  }
}

TEST(LocalLauncherTest, EchoesOfAPeerFailureAreNotTheCause) {
  // Rank 0 exits 4 ("a collective failed") before rank 2's real failure is
  // seen; the cause is still rank 2.
  LaunchOptions options = Shell(
      3, "case $RANK in 0) exit 4;; 2) sleep 0.2; exit 2;; *) sleep 0.2; exit 4;; esac");
  options.stop_on_failure = false;
  absl::StatusOr<LaunchOutcome> outcome = LaunchLocalWorkers(options);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->failed_rank, 2);
  EXPECT_EQ(outcome->exit_status, 2);
}

TEST(LocalLauncherTest, DeadlineStopsEverything) {
  LaunchOptions options = Shell(2, "exec sleep 60");
  options.deadline = absl::Seconds(1);
  const absl::Time start = absl::Now();
  absl::StatusOr<LaunchOutcome> outcome = LaunchLocalWorkers(options);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(outcome->exit_status, 3);
  EXPECT_THAT(outcome->message, HasSubstr("deadline"));
}

TEST(LocalLauncherTest, AProgramThatCannotStartIsAnError) {
  LaunchOptions options = Shell(2, "true");
  options.program = "/nonexistent/wring";
  absl::StatusOr<LaunchOutcome> outcome = LaunchLocalWorkers(options);
  ASSERT_FALSE(outcome.ok());
  EXPECT_THAT(outcome.status().message(), HasSubstr("/nonexistent/wring"));
}

}  // namespace
}  // namespace distributed
}  // namespace backend
}  // namespace wring
