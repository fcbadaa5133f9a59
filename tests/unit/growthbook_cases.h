/* growthbook_cases.h -- load GrowthBook's cross-SDK cases.json for the cmocka tests: the copy
 * in tests/data/growthbook/ (PATRON_TEST_DATA), else ../shared/data (PATRON_SHARED_DATA);
 * when neither exists the test exits 77 so ctest reports it skipped, never passed.
 * Header-only, included by test_*.c files after <cmocka.h>. */
#ifndef PATRON_TEST_GROWTHBOOK_CASES_H
#define PATRON_TEST_GROWTHBOOK_CASES_H

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

static json_t *gb_cases_load(void) {
  static const char *const paths[] = {PATRON_TEST_DATA "/growthbook/cases.json",
                                      PATRON_SHARED_DATA "/growthbook/cases.json"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    json_error_t err;
    json_t *j = json_load_file(paths[i], 0, &err);
    if (j) return j;
  }
  fprintf(stderr, "growthbook cases.json not found (%s, %s): skipped\n", paths[0], paths[1]);
  exit(77);
}

/* Section `name` of the cases (an array); fails the test when absent. */
static json_t *gb_section(json_t *cases, const char *name) {
  json_t *s = json_object_get(cases, name);
  if (!json_is_array(s)) {
    fprintf(stderr, "cases.json has no section %s\n", name);
    abort();
  }
  return s;
}

#endif
