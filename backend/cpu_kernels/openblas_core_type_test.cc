#include "backend/cpu_kernels/openblas_core_type.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace wring {
namespace backend {
namespace cpu_kernels {
namespace {

CpuFeatures Avx512() { return {true, true, true}; }
CpuFeatures Avx2() { return {true, true, false}; }

TEST(OpenBlasCoreType, APreAvx2FallbackGetsTheKernelsTheCpuHas) {
  EXPECT_EQ(BetterOpenBlasCoreType("Prescott", Avx512()), "SkylakeX");
  EXPECT_EQ(BetterOpenBlasCoreType("Prescott", Avx2()), "Haswell");
  EXPECT_EQ(BetterOpenBlasCoreType("NEHALEM", Avx2()), "Haswell");
  EXPECT_EQ(BetterOpenBlasCoreType("Sandybridge", Avx512()), "SkylakeX");
}

TEST(OpenBlasCoreType, AGoodChoiceOrAnOldCpuIsLeftAlone) {
  for (const char* core : {"Haswell", "SkylakeX", "Zen", "CooperLake", "SapphireRapids", ""}) {
    EXPECT_EQ(BetterOpenBlasCoreType(core, Avx512()), "") << core;
  }
  EXPECT_EQ(BetterOpenBlasCoreType("Prescott", CpuFeatures()), "");
  EXPECT_EQ(BetterOpenBlasCoreType("Prescott", {true, false, false}), "");  // AVX2 without FMA
}

TEST(OpenMpSpin, ShortenedWhereLibgompAndOpenBlasThreadsShareTheCores) {
  EXPECT_EQ(ShorterOpenMpSpin(true, 1, nullptr, nullptr), "10000");
}

TEST(OpenMpSpin, LeftAloneForOneThreadPoolOrTheUsersSetting) {
  EXPECT_EQ(ShorterOpenMpSpin(false, 1, nullptr, nullptr), "");  // another OpenMP runtime
  EXPECT_EQ(ShorterOpenMpSpin(true, 2, nullptr, nullptr), "");   // OpenBLAS on OpenMP
  EXPECT_EQ(ShorterOpenMpSpin(true, 0, nullptr, nullptr), "");   // sequential or another BLAS
  EXPECT_EQ(ShorterOpenMpSpin(true, 1, "ACTIVE", nullptr), "");
  EXPECT_EQ(ShorterOpenMpSpin(true, 1, nullptr, "300000"), "");
}

TEST(OpenBlasSpin, ShortenedWhereOpenBlasRunsItsOwnThreads) {
  EXPECT_EQ(ShorterOpenBlasSpin(1, nullptr), "4");
}

TEST(OpenBlasSpin, LeftAloneForOtherThreadingOrTheUsersSetting) {
  EXPECT_EQ(ShorterOpenBlasSpin(0, nullptr), "");  // sequential or another BLAS
  EXPECT_EQ(ShorterOpenBlasSpin(2, nullptr), "");  // OpenBLAS on OpenMP
  EXPECT_EQ(ShorterOpenBlasSpin(1, "28"), "");
}

}  // namespace
}  // namespace cpu_kernels
}  // namespace backend
}  // namespace wring
