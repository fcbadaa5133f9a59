/* test_condition.c -- offers/condition.h against all evalCondition cases of GrowthBook's
 * cases.json (SDK-compatible mode: every case; strict mode: every case either compiles and
 * agrees or is one of the known-invalid conditions, refused with the bad path), plus the JS
 * semantics and PCRE2 choices the cases do not reach. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "offers/condition.h"

#include "growthbook_cases.h"

static json_t *cases;

static json_t *parse(const char *text) {
  json_error_t err;
  json_t *j = json_loads(text, JSON_DECODE_ANY, &err);
  if (!j) fail_msg("bad test JSON %s: %s", text, err.text);
  return j;
}

/* eval(cond, attrs) in the given mode; asserts that it compiles. */
static bool eval_text(const char *cond, const char *attrs, int flags) {
  json_t *c = parse(cond), *a = parse(attrs);
  condition_t *cc;
  perr_info_t e = {0};
  int rc = condition_compile_ex(c, flags, &cc, &e);
  if (rc) fail_msg("compile %s: %s (%s)", cond, e.message, e.field);
  bool r = condition_eval(cc, a);
  condition_free(cc);
  json_decref(c);
  json_decref(a);
  return r;
}

/* condition_get_fn over an attributes object (condition_eval_get's equivalence). */
typedef struct member_src_s {
  const condition_t *c;
  const json_t *attrs;
} member_src_t;

static const json_t *member(void *ctx, size_t name) {
  const member_src_t *m = ctx;
  const char *const *names;
  assert_true(name < condition_names(m->c, &names));
  return json_object_get(m->attrs, names[name]);
}

/* condition_value_fn over an attributes object (condition_eval_values' equivalence). */
static const condition_value_t *member_value(void *ctx, size_t name, condition_value_t *out) {
  condition_value_from_json(member(ctx, name), out);
  return out;
}

static void test_eval_condition_cases(void **st) {
  (void)st;
  json_t *sec = gb_section(cases, "evalCondition");
  size_t i, passed = 0, via_get = 0;
  json_t *row;
  json_array_foreach(sec, i, row) {
    const char *name = json_string_value(json_array_get(row, 0));
    json_t *cond = json_array_get(row, 1), *attrs = json_array_get(row, 2);
    bool want = json_is_true(json_array_get(row, 3));
    json_t *groups = json_array_get(row, 4); /* optional saved groups */
    condition_t *c;
    perr_info_t e = {0};
    if (condition_compile_ex(cond, CONDITION_SDK_COMPAT, &c, &e) != 0)
      fail_msg("case %zu '%s' does not compile: %s", i, name, e.message);
    bool got = condition_eval_groups(c, attrs, groups);
    if (json_is_object(attrs) && !groups) { /* the attributes one member at a time */
      member_src_t m = {c, attrs};
      if (condition_eval_get(c, member, &m) != want)
        fail_msg("case %zu '%s' through condition_eval_get differs", i, name);
      if (condition_eval_values(c, member_value, &m) != want)
        fail_msg("case %zu '%s' through the compiled program differs", i, name);
      via_get++;
    }
    condition_free(c);
    if (got != want) fail_msg("case %zu '%s': got %d want %d", i, name, got, want);
    passed++;
  }
  printf("evalCondition: %zu of %zu cases passed (%zu also through condition_eval_get and the "
         "compiled program)\n",
         passed, json_array_size(sec), via_get);
  assert_int_equal(passed, json_array_size(sec));
  assert_int_equal(passed, 248); /* the snapshot's count (PROVENANCE.md) */
}

/* Strict mode refuses exactly the conditions the SDK silently evaluates to false. */
static void test_strict_mode_on_cases(void **st) {
  (void)st;
  static const char *const invalid[] = {"$in - not array",         "$nin - not array",
                                        "$ini - not array",        "$nini - not array",
                                        "unknown operator - pass", "$regex invalid - pass",
                                        "$regex invalid - fail"};
  json_t *sec = gb_section(cases, "evalCondition");
  size_t i, refused = 0;
  json_t *row;
  json_array_foreach(sec, i, row) {
    const char *name = json_string_value(json_array_get(row, 0));
    bool expect_refused = false;
    for (size_t k = 0; k < sizeof invalid / sizeof invalid[0]; k++)
      expect_refused = expect_refused || !strcmp(name, invalid[k]);
    condition_t *c;
    perr_info_t e = {0};
    int rc = condition_compile(json_array_get(row, 1), &c, &e);
    if (expect_refused) {
      if (rc == 0) fail_msg("strict mode accepted '%s'", name);
      assert_int_equal(rc, PERR_INVALID_PARAMS);
      assert_null(c);
      assert_true(strncmp(e.field, "rule.", 5) == 0);
      refused++;
      continue;
    }
    if (rc != 0) fail_msg("strict mode refused '%s': %s", name, e.message);
    bool got = condition_eval_groups(c, json_array_get(row, 2), json_array_get(row, 4));
    assert_int_equal(got, json_is_true(json_array_get(row, 3)));
    condition_free(c);
  }
  assert_int_equal(refused, sizeof invalid / sizeof invalid[0]);
}

static void expect_error(const char *cond, const char *field) {
  json_t *c = parse(cond);
  condition_t *cc = (condition_t *)1;
  perr_info_t e = {0};
  int rc = condition_compile(c, &cc, &e);
  if (rc != PERR_INVALID_PARAMS) fail_msg("%s compiled (rc %d)", cond, rc);
  assert_null(cc);
  assert_int_equal(e.code, PERR_INVALID_PARAMS);
  if (strcmp(e.field, field)) fail_msg("%s: field '%s' want '%s'", cond, e.field, field);
  json_decref(c);
}

static void test_errors_name_the_path(void **st) {
  (void)st;
  expect_error("{\"$and\": [{\"a\": 1}, {\"age\": {\"$gt\": [1]}}]}", "rule.$and[1].age.$gt");
  expect_error("{\"tier\": {\"$in\": \"gold\"}}", "rule.tier.$in");
  expect_error("{\"cart.items\": {\"$elemMatch\": {\"sku\": {\"$regex\": \"(\"}}}}",
               "rule.cart.items.$elemMatch.sku.$regex");
  expect_error("{\"$or\": {\"a\": 1}}", "rule.$or");
  expect_error("{\"$nor\": [{\"a\": {\"$size\": {\"$bogus\": 1}}}]}",
               "rule.$nor[0].a.$size.$bogus");
  expect_error("{\"a\": {\"$exists\": 1}}", "rule.a.$exists");
  expect_error("{\"a\": {\"$type\": \"float\"}}", "rule.a.$type");
  expect_error("{\"a\": {\"$gt\": 1, \"b\": 2}}", "rule.a");
  expect_error("{\"a\": {\"$all\": [1, {\"$nope\": 2}]}}", "rule.a.$all[1].$nope");
  expect_error("[1]", "rule");
  expect_error("{\"$Or\": [{\"a\": 1}]}", "rule.$Or");
  /* nesting is bounded */
  char deep[2048] = "";
  for (int i = 0; i < 100; i++) strcat(deep, "{\"$not\": ");
  strcat(deep, "{}");
  for (int i = 0; i < 100; i++) strcat(deep, "}");
  json_t *c = parse(deep);
  condition_t *cc;
  perr_info_t e;
  assert_int_equal(condition_compile_ex(c, CONDITION_SDK_COMPAT, &cc, &e), PERR_INVALID_PARAMS);
  assert_non_null(strstr(e.message, "deeply"));
  json_decref(c);
}

/* Random JSON shapes: compiling never crashes in either mode, and whatever compiles
 * evaluates against random attributes (ASan/UBSan watch the memory). */
static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}

static json_t *random_json(int depth) {
  static const char *const keys[] = {"$and", "$or", "$nor", "$not", "$in", "$gt", "$regex",
                                     "$size", "$elemMatch", "$all", "$exists", "$type",
                                     "$vgt", "a", "a.b", "c", "$eq", "$alli", "$inGroup"};
  static const char *const strs[] = {"x", "1.2.3", "(", "^a", "number", "", "10", "g"};
  switch (depth > 4 ? next() % 4 : next() % 7) {
  case 0: return json_integer((json_int_t)(next() % 7) - 3);
  case 1: return json_string(strs[next() % 8]);
  case 2: return next() % 2 ? json_true() : json_null();
  case 3: return json_real((double)(next() % 100) / 7);
  case 4: {
    json_t *a = json_array();
    for (int i = (int)(next() % 4); i > 0; i--) json_array_append_new(a, random_json(depth + 1));
    return a;
  }
  default: {
    json_t *o = json_object();
    for (int i = (int)(next() % 4); i > 0; i--)
      json_object_set_new(o, keys[next() % 19], random_json(depth + 1));
    return o;
  }
  }
}

static void test_random_conditions(void **st) {
  (void)st;
  json_t *groups = parse("{\"g\": [1, \"x\"]}");
  int compiled = 0;
  for (int i = 0; i < 3000; i++) {
    json_t *cond = json_object(), *attrs = json_object();
    for (int k = (int)(next() % 3) + 1; k > 0; k--) {
      json_t *r = random_json(0);
      json_object_set_new(cond, next() % 2 ? "a" : "$or", r);
    }
    json_object_set_new(attrs, "a", random_json(1));
    json_object_set_new(attrs, "c", random_json(1));
    for (int flags = 0; flags < 2; flags++) {
      condition_t *c;
      perr_info_t e;
      if (condition_compile_ex(cond, flags, &c, &e) == 0) {
        compiled++;
        (void)condition_eval_groups(c, attrs, groups);
        condition_free(c);
      } else {
        assert_int_equal(e.code, PERR_INVALID_PARAMS);
        assert_true(strncmp(e.field, "rule", 4) == 0);
      }
    }
    json_decref(cond);
    json_decref(attrs);
  }
  assert_true(compiled > 100);
  json_decref(groups);
}

static void test_js_semantics(void **st) {
  (void)st;
  int S = CONDITION_STRICT;
  /* String(number) is JavaScript's shortest form */
  assert_true(eval_text("{\"n\": \"0.1\"}", "{\"n\": 0.1}", S));
  assert_true(eval_text("{\"n\": \"1e+21\"}", "{\"n\": 1e21}", S));
  assert_true(eval_text("{\"n\": \"100000000000000000000\"}", "{\"n\": 1e20}", S));
  assert_true(eval_text("{\"n\": \"1.5e-7\"}", "{\"n\": 0.00000015}", S));
  assert_true(eval_text("{\"n\": \"0.000001\"}", "{\"n\": 0.000001}", S));
  assert_true(eval_text("{\"n\": \"1,2\"}", "{\"n\": [1, 2]}", S));
  /* Number(x): blank -> 0, hex, junk -> NaN, null -> 0 */
  assert_true(eval_text("{\"n\": 0}", "{\"n\": \"  \"}", S));
  assert_true(eval_text("{\"n\": 255}", "{\"n\": \"0xff\"}", S));
  assert_false(eval_text("{\"n\": 12}", "{\"n\": \"12abc\"}", S));
  assert_true(eval_text("{\"n\": 0}", "{}", S));
  assert_true(eval_text("{\"n\": 3}", "{\"n\": [3]}", S));
  /* relational: strings by UTF-16 code unit (U+FF5E sorts above U+1F600's high surrogate) */
  assert_true(eval_text("{\"s\": {\"$gt\": \"\\ud83d\\ude00\"}}", "{\"s\": \"\\uff5e\"}", S));
  assert_true(eval_text("{\"s\": {\"$lt\": \"b\"}}", "{\"s\": \"a\"}", S));
  assert_false(eval_text("{\"s\": {\"$lt\": 5}}", "{\"s\": \"abc\"}", S));
  assert_false(eval_text("{\"s\": {\"$gte\": 5}}", "{\"s\": \"abc\"}", S));
  /* JSON.stringify equality is order-sensitive, integer-like keys first */
  assert_false(eval_text("{\"o\": {\"a\": 1, \"b\": 2}}", "{\"o\": {\"b\": 2, \"a\": 1}}", S));
  assert_true(eval_text("{\"o\": {\"b\": 2, \"1\": 1}}", "{\"o\": {\"1\": 1, \"b\": 2}}", S));
  assert_true(eval_text("{\"o\": [1.0, 2]}", "{\"o\": [1, 2.0]}", S));
  /* $eq is ===: no coercion */
  assert_false(eval_text("{\"n\": {\"$eq\": 1}}", "{\"n\": \"1\"}", S));
  assert_true(eval_text("{\"n\": {\"$eq\": 1}}", "{\"n\": 1.0}", S));
  /* paths through arrays by index; anything else missing reads as null */
  assert_true(eval_text("{\"cart.items.1.sku\": \"B\"}",
                        "{\"cart\": {\"items\": [{\"sku\": \"A\"}, {\"sku\": \"B\"}]}}", S));
  assert_true(eval_text("{\"cart.items.01\": null}", "{\"cart\": {\"items\": [1, 2]}}", S));
  /* $exists false on explicit null */
  assert_true(eval_text("{\"a\": {\"$exists\": false}}", "{\"a\": null}", S));
  /* $size with an operator */
  assert_true(
      eval_text("{\"c\": {\"$size\": {\"$gte\": 2, \"$lt\": 4}}}", "{\"c\": [1, 2, 3]}", S));
  /* $alli, $nini with non-strings fall back to === */
  assert_true(eval_text("{\"t\": {\"$alli\": [\"SALE\", 3]}}", "{\"t\": [\"sale\", 3]}", S));
  assert_true(eval_text("{\"t\": {\"$nini\": [1]}}", "{\"t\": \"1\"}", S));
  /* attributes NULL = {} */
  json_t *c = parse("{\"x\": null}");
  condition_t *cc;
  assert_int_equal(condition_compile(c, &cc, NULL), 0);
  assert_true(condition_eval(cc, NULL));
  condition_free(cc);
  json_decref(c);
}

static void test_regex_choices(void **st) {
  (void)st;
  int S = CONDITION_STRICT;
  /* $ is end-only, as in JavaScript (PCRE2 would otherwise match before a final newline) */
  assert_false(eval_text("{\"s\": {\"$regex\": \"c$\"}}", "{\"s\": \"abc\\n\"}", S));
  /* \u escapes and the empty classes JavaScript allows */
  assert_true(eval_text("{\"s\": {\"$regex\": \"^\\\\u00e9t\\\\u00e9$\"}}",
                        "{\"s\": \"\\u00e9t\\u00e9\"}", S));
  assert_false(eval_text("{\"s\": {\"$regex\": \"a[]\"}}", "{\"s\": \"a\"}", S));
  assert_true(eval_text("{\"s\": {\"$regex\": \"a[^]c\"}}", "{\"s\": \"a\\nc\"}", S));
  /* subject is String(value) */
  assert_true(eval_text("{\"s\": {\"$regex\": \"^null$\"}}", "{}", S));
  assert_true(eval_text("{\"s\": {\"$regex\": \"^4\\\\.5$\"}}", "{\"s\": 4.5}", S));
  /* $regexi is case-insensitive beyond ASCII (PCRE2 with UTF) */
  assert_true(eval_text("{\"s\": {\"$regexi\": \"^ÉTÉ$\"}}", "{\"s\": \"été\"}", S));
  /* catastrophic backtracking is cut by the match limit: no match, no hang */
  assert_false(eval_text("{\"s\": {\"$regex\": \"^(a+)+$\"}}",
                         "{\"s\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\"}", S));
  /* a compiled condition is reusable: many evaluations, one compile */
  json_t *c = parse("{\"ua\": {\"$regex\": \"(Mobile|Tablet)\"}}");
  json_t *yes = parse("{\"ua\": \"X Mobile Y\"}"), *no = parse("{\"ua\": \"Desktop\"}");
  condition_t *cc;
  assert_int_equal(condition_compile(c, &cc, NULL), 0);
  for (int i = 0; i < 1000; i++) {
    assert_true(condition_eval(cc, yes));
    assert_false(condition_eval(cc, no));
  }
  condition_free(cc);
  json_decref(c);
  json_decref(yes);
  json_decref(no);
}

int main(void) {
  cases = gb_cases_load();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_eval_condition_cases), cmocka_unit_test(test_strict_mode_on_cases),
      cmocka_unit_test(test_errors_name_the_path), cmocka_unit_test(test_js_semantics),
      cmocka_unit_test(test_regex_choices), cmocka_unit_test(test_random_conditions),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  json_decref(cases);
  return rc;
}
