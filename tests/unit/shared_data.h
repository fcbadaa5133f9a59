/* shared_data.h -- for unit tests that read the reference data in ../shared/data
 * (PATRON_SHARED_DATA, a CMake cache path). Including this header is what marks a test as
 * needing that data: tests/CMakeLists.txt gives every such test the label `shared-data` and
 * SKIP_RETURN_CODE 77. Invariant: a test whose data is absent exits 77 (ctest: "Not Run",
 * skipped), never 0, so a missing folder can not pass for a green run; scripts/test.sh
 * fails when CI=true and any shared-data test was skipped. */
#ifndef PATRON_TEST_SHARED_DATA_H
#define PATRON_TEST_SHARED_DATA_H

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#ifndef PATRON_SHARED_DATA
#define PATRON_SHARED_DATA "../shared/data"
#endif

#define SHARED_DATA_SKIP 77 /* ctest SKIP_RETURN_CODE */

/* 1 if every path of the NULL-terminated list is readable; else says on stderr which one
 * is missing and returns 0. */
static inline int shared_data_present(const char *first, ...) {
  va_list ap;
  va_start(ap, first);
  int ok = 1;
  for (const char *p = first; p; p = va_arg(ap, const char *)) {
    if (access(p, R_OK) != 0) {
      fprintf(stderr, "SKIP: %s not found (shared data folder %s absent or incomplete)\n", p,
              PATRON_SHARED_DATA);
      ok = 0;
      break;
    }
  }
  va_end(ap);
  return ok;
}

#endif
