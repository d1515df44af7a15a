#include "backend/interrupt/interrupt.h"

#include <signal.h>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace interrupt {
namespace {

class InterruptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClearStopRequest();
    ASSERT_TRUE(InstallStopHandlers().ok());
  }
  void TearDown() override {
    ClearStopRequest();
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
  }
};

TEST_F(InterruptTest, NoSignalNoStop) {
  EXPECT_EQ(StopSignal(), 0);
  EXPECT_TRUE(CheckNotInterrupted().ok());
}

TEST_F(InterruptTest, SigtermIsRecordedNotFatal) {
  ASSERT_EQ(raise(SIGTERM), 0);
  EXPECT_EQ(StopSignal(), SIGTERM);
  const absl::Status status = CheckNotInterrupted();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  EXPECT_NE(status.message().find("SIGTERM"), absl::string_view::npos) << status;
}

TEST_F(InterruptTest, SigintIsRecordedNotFatal) {
  ASSERT_EQ(raise(SIGINT), 0);
  EXPECT_EQ(StopSignal(), SIGINT);
  EXPECT_NE(CheckNotInterrupted().message().find("SIGINT"), absl::string_view::npos);
}

TEST_F(InterruptTest, SecondSignalTakesTheDefaultAction) {
  EXPECT_EXIT(
      {
        raise(SIGTERM);
        raise(SIGTERM);
      },
      ::testing::KilledBySignal(SIGTERM), "");
}

TEST_F(InterruptTest, ClearForgetsTheRequest) {
  RequestStop(SIGINT);
  EXPECT_FALSE(CheckNotInterrupted().ok());
  ClearStopRequest();
  EXPECT_TRUE(CheckNotInterrupted().ok());
}

}  // namespace
}  // namespace interrupt
}  // namespace backend
}  // namespace wring
