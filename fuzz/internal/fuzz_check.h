// An invariant a fuzz target asserts about a parser's result (not only "no
// crash"): when it does not hold, the input is printed as a crash would be,
// so libFuzzer saves it and the replay fails.
#ifndef WRING_FUZZ_INTERNAL_FUZZ_CHECK_H_
#define WRING_FUZZ_INTERNAL_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define WRING_FUZZ_CHECK(condition, what)                                          \
  do {                                                                             \
    if (!(condition)) {                                                            \
      std::fprintf(stderr, "%s:%d: fuzz invariant violated: %s (%s)\n", __FILE__, \
                   __LINE__, #condition, what);                                    \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

#endif  // WRING_FUZZ_INTERNAL_FUZZ_CHECK_H_
