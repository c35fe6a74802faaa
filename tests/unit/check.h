/* The checks of the C unit tests: CHECK(cond, fmt, ...) counts a check and,
 * when cond is false, a failure, printed as "FAIL file:line: message";
 * check_report() prints the totals and gives the exit status (1 when any
 * check failed). */
#ifndef NS_TEST_CHECK_H
#define NS_TEST_CHECK_H

#include <stdio.h>

static int failures = 0, checks = 0;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    checks++;                                                                                      \
    if (!(cond)) {                                                                                 \
      failures++;                                                                                  \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                  \
      printf(__VA_ARGS__);                                                                         \
      printf("\n");                                                                                \
    }                                                                                              \
  } while (0)

static inline int check_report(void) {
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}

#endif
