#include "backend/distributed/worker_environment.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace distributed {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<std::optional<WorkerEnvironment>> Parse(
    const std::map<std::string, std::string>& vars) {
  return WorkerEnvironmentFromEnv([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(WorkerEnvironmentTest, NothingSetIsASingleProcessRun) {
  auto env = Parse({{"MASTER_ADDR", "10.0.0.1"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_FALSE(env->has_value());
}

TEST(WorkerEnvironmentTest, ReadsTorchrunVariables) {
  auto env = Parse({{"RANK", "5"},
                    {"WORLD_SIZE", "8"},
                    {"LOCAL_RANK", "1"},
                    {"LOCAL_WORLD_SIZE", "4"},
                    {"MASTER_ADDR", "node-0"},
                    {"MASTER_PORT", "29500"},
                    {"TORCHELASTIC_USE_AGENT_STORE", "True"}});
  ASSERT_TRUE(env.ok()) << env.status();
  ASSERT_TRUE(env->has_value());
  const WorkerEnvironment& w = **env;
  EXPECT_EQ(w.rank, 5);
  EXPECT_EQ(w.world_size, 8);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_world_size, 4);
  EXPECT_EQ(w.master_addr, "node-0");
  EXPECT_EQ(w.master_port, 29500);
  EXPECT_TRUE(w.agent_hosts_store);
}

TEST(WorkerEnvironmentTest, RankZeroHostsTheStoreWithoutAnAgent) {
  auto env = Parse({{"RANK", "0"},
                    {"WORLD_SIZE", "2"},
                    {"MASTER_ADDR", "127.0.0.1"},
                    {"MASTER_PORT", "1234"},
                    {"TORCHELASTIC_USE_AGENT_STORE", "False"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_FALSE((*env)->agent_hosts_store);
  EXPECT_FALSE((*env)->local_rank.has_value());
}

TEST(WorkerEnvironmentTest, WorldOfOneNeedsNoRendezvous) {
  auto env = Parse({{"RANK", "0"}, {"WORLD_SIZE", "1"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ((*env)->world_size, 1);
}

TEST(WorkerEnvironmentTest, ErrorsNameTheVariableAndTheFix) {
  auto only_rank = Parse({{"RANK", "1"}});
  EXPECT_THAT(only_rank.status().message(), HasSubstr("WORLD_SIZE is not set"));
  EXPECT_THAT(only_rank.status().message(), HasSubstr("torchrun sets"));

  auto bad_rank = Parse({{"RANK", "2"}, {"WORLD_SIZE", "2"}});
  EXPECT_THAT(bad_rank.status().message(), HasSubstr("RANK=2 is not below WORLD_SIZE=2"));

  auto not_number = Parse({{"RANK", "one"}, {"WORLD_SIZE", "2"}});
  EXPECT_THAT(not_number.status().message(), HasSubstr("RANK=\"one\" is not an integer"));

  auto no_addr = Parse({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "29500"}});
  EXPECT_THAT(no_addr.status().message(), HasSubstr("MASTER_ADDR is not set"));

  auto bad_port =
      Parse({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}});
  EXPECT_THAT(bad_port.status().message(), HasSubstr("MASTER_PORT=\"70000\""));

  auto bad_local = Parse({{"RANK", "1"},
                          {"WORLD_SIZE", "2"},
                          {"LOCAL_RANK", "2"},
                          {"LOCAL_WORLD_SIZE", "2"},
                          {"MASTER_ADDR", "h"},
                          {"MASTER_PORT", "1"}});
  EXPECT_THAT(bad_local.status().message(), HasSubstr("LOCAL_RANK=2 is not below"));
}

TEST(WorkerEnvironmentTest, Loopback) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackAddress("localhost"));
  EXPECT_TRUE(IsLoopbackAddress("::1"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("node-0"));
}

}  // namespace
}  // namespace distributed
}  // namespace backend
}  // namespace wring
