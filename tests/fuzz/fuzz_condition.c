/* fuzz_condition.c -- libFuzzer target: the offers eligibility-rule compiler and evaluator
 * (src/offers/condition.c, GrowthBook's condition language with PCRE2 regexes). The input is
 * "CONDITION\nATTRIBUTES": the first line parsed as JSON and compiled strictly (what
 * offers.set does) and in SDK-compatible mode, the rest parsed as JSON attributes and used,
 * with a fixed profile like offers.decide builds, to evaluate every compiled condition.
 * Invariants checked: a strict compile either gives a condition or an error with a code,
 * a message and the field path; evaluation of a compiled condition never fails, whatever the
 * attributes; the same condition on the same attributes gives the same answer twice; the
 * compiled program (condition_eval_values) gives the tree's answer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/perr.h"
#include "offers/condition.h"

static json_t *profile; /* a full decide profile: every attribute Patron fills */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  profile = json_loads(
      "{\"segment\":\"champions\",\"tier\":\"gold\",\"points\":1250,\"predicted_clv\":18450,"
      "\"churn_band\":\"low\",\"p_alive\":0.93,\"days_since_last_order\":12,\"order_count\":9,"
      "\"cart_value\":4590,\"cart_items\":[\"coffee-1\",\"cups-2\"],"
      "\"cart_categories\":[\"coffee\",\"cups\"],\"first_order\":false,\"currency\":\"EUR\","
      "\"version\":\"1.2.3-beta\",\"nested\":{\"a\":[1,{\"b\":null}],\"\\u00e9\":\"\\u00e9t\\u00e9\"}}",
      0, NULL);
  if (!profile) abort();
  return 0;
}

typedef struct src_s {
  const condition_t *c;
  const json_t *attrs;
} src_t;

static const condition_value_t *value_of(void *ctx, size_t name, condition_value_t *out) {
  const src_t *s = ctx;
  const char *const *names;
  if (name >= condition_names(s->c, &names)) abort();
  condition_value_from_json(json_object_get(s->attrs, names[name]), out);
  return out;
}

static void check(const condition_t *c, const json_t *attrs) {
  bool first = condition_eval(c, attrs);
  if (condition_eval(c, attrs) != first) abort();
  src_t s = {c, attrs}; /* the compiled program gives the tree's answer */
  if (json_is_object(attrs) && condition_eval_values(c, value_of, &s) != first) abort();
  json_t *groups = json_pack("{s:[s,i]}", "vip", "coffee-1", 7);
  (void)condition_eval_groups(c, attrs, groups);
  json_decref(groups);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nl = memchr(data, '\n', size);
  size_t clen = nl ? (size_t)(nl - data) : size;
  json_t *cond = json_loadb((const char *)data, clen, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  json_t *attrs = nl ? json_loadb((const char *)nl + 1, size - clen - 1,
                                  JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
                     : NULL;
  if (!cond || !json_is_object(cond)) goto out;
  for (int mode = 0; mode < 2; mode++) {
    condition_t *c = NULL;
    perr_info_t e;
    memset(&e, 0, sizeof e);
    int rc = mode ? condition_compile_ex(cond, CONDITION_SDK_COMPAT, &c, &e)
                  : condition_compile(cond, &c, &e);
    if (rc != 0) {
      if (c || rc >= 0 || !e.code || !e.message[0]) abort();
      continue;
    }
    if (!c) abort();
    check(c, profile);
    check(c, NULL);
    if (attrs && json_is_object(attrs)) check(c, attrs);
    condition_free(c);
  }
out:
  json_decref(cond);
  json_decref(attrs);
  return 0;
}
