/* test_condition_prog.c -- the compiled program (condition_eval_values, src/offers/
 * condition_prog.c) against the tree evaluator (condition_eval) over many random conditions,
 * strict and SDK-compatible, and random attributes: every operator, plain values, logical
 * nesting, nested paths, and values chosen where JavaScript's coercions differ (numeric
 * strings, blanks, hex, integers beyond 2^53, -0, booleans, null and missing, arrays, objects,
 * non-ASCII; arrays of strings also given as lists, CONDITION_VALUE_STRS). Any difference fails with the condition and the attributes. The GrowthBook cases
 * through the program are in test_condition.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "offers/condition.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return rng;
}
static size_t pick(size_t n) { return (size_t)(next() % n); }

static json_t *scalar(void) {
  static const char *const strs[] = {"",    "a",      "A",     "10",   " 10 ", "0x1F", "abc",
                                     "1.2.3", "b",    "\xc3\xa9", "1e3", "true", "null", "-0",
                                     "v1.2.3-beta", "kitchen", "ab", "2", "Infinity", "1,2", "false", "TRUE", "Null", "1000"};
  switch (pick(9)) {
  case 0:
  case 1: return json_string(strs[pick(sizeof strs / sizeof strs[0])]);
  case 2: {
    static const json_int_t ints[] = {-3, -1, 0, 1, 2, 3, 10, 9007199254740993LL, 1000};
    return json_integer(ints[pick(sizeof ints / sizeof ints[0])]);
  }
  case 3: {
    static const double reals[] = {0.5, 1.0, -0.0, 1e21, 2.5, 10.0, 9007199254740992.0, -1.5};
    return json_real(reals[pick(sizeof reals / sizeof reals[0])]);
  }
  case 4: return json_true();
  case 5: return json_false();
  case 6: return json_null();
  case 7: return json_integer((json_int_t)pick(5));
  default: return json_string(pick(2) ? "a" : "10");
  }
}

static json_t *scalars(size_t max) {
  json_t *a = json_array();
  for (size_t i = pick(max + 1); i > 0; i--) json_array_append_new(a, scalar());
  return a;
}

static json_t *cond_obj(int depth);
static json_t *cond_val(int depth);

/* An operator and its operand (sometimes of the wrong type: compat mode evaluates it). */
static void add_op(json_t *o, int depth) {
  static const char *const cmp[] = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"};
  static const char *const in[] = {"$in", "$nin", "$ini", "$nini"};
  static const char *const ver[] = {"$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte"};
  static const char *const res[] = {"^a", "b$", "^10$", "a|b", "x", "(", "1", "^k.*n$", "",
                                    "\xc3\xa9", "^A"};
  static const char *const types[] = {"string", "number", "boolean", "object", "array", "null",
                                      "bogus"};
  bool deep = depth < 3;
  switch (pick(deep ? 13 : 10)) {
  case 0:
  case 1: json_object_set_new(o, cmp[pick(6)], pick(8) ? scalar() : scalars(2)); return;
  case 2: json_object_set_new(o, in[pick(4)], pick(8) ? scalars(4) : scalar()); return;
  case 3: json_object_set_new(o, "$exists", pick(8) ? json_boolean(pick(2)) : scalar()); return;
  case 4: json_object_set_new(o, pick(3) ? "$regex" : "$regexi", json_string(res[pick(11)])); return;
  case 5: json_object_set_new(o, "$type", json_string(types[pick(7)])); return;
  case 6: json_object_set_new(o, ver[pick(6)], pick(5) ? json_string("1.2.3") : scalar()); return;
  case 7: json_object_set_new(o, "$inGroup", json_string("g")); return;
  case 8: json_object_set_new(o, pick(4) ? "$all" : "$alli", scalars(3)); return;
  case 9: json_object_set_new(o, pick(10) ? "$size" : "$bogus", json_integer((json_int_t)pick(4))); return;
  case 10: json_object_set_new(o, "$not", cond_val(depth + 1)); return;
  case 11: json_object_set_new(o, "$elemMatch", pick(2) ? cond_val(depth + 1) : cond_obj(depth + 1)); return;
  default: json_object_set_new(o, "$size", cond_val(depth + 1)); return;
  }
}

static json_t *cond_val(int depth) {
  switch (pick(6)) {
  case 0: return scalar();
  case 1:
    if (pick(3)) return scalar();
    return pick(2) ? scalars(2) : json_pack("{s:o}", "x", scalar());
  default: {
    json_t *o = json_object();
    for (size_t i = pick(3) + 1; i > 0; i--) add_op(o, depth);
    return o;
  }
  }
}

static json_t *cond_obj(int depth) {
  static const char *const paths[] = {"a", "b", "c", "d", "a.x", "a.0", "c.1", "d.x.y"};
  json_t *o = json_object();
  for (size_t i = pick(3) + 1; i > 0; i--) {
    size_t kind = depth < 3 ? pick(8) : 7;
    if (kind < 3) {
      json_t *arr = json_array();
      for (size_t k = pick(3); k > 0; k--) json_array_append_new(arr, cond_obj(depth + 1));
      json_object_set_new(o, kind == 0 ? "$and" : kind == 1 ? "$or" : "$nor", arr);
    } else if (kind == 3) {
      json_object_set_new(o, "$not", cond_obj(depth + 1));
    } else {
      json_object_set_new(o, paths[pick(8)], cond_val(depth));
    }
  }
  return o;
}

static json_t *attr_value(int depth) {
  if (pick(5) == 0) { /* an array of strings (a cart list) */
    json_t *a = json_array();
    static const char *const strs[] = {"kitchen", "a", "10", "", "mug-1", "b", "A"};
    for (size_t i = pick(4); i > 0; i--) json_array_append_new(a, json_string(strs[pick(7)]));
    return a;
  }
  switch (depth > 1 ? pick(4) : pick(7)) {
  case 4:
  case 5: {
    json_t *a = scalars(3);
    if (depth < 2 && pick(3) == 0) json_array_append_new(a, attr_value(depth + 1));
    return a;
  }
  case 6:
    return json_pack("{s:o,s:o}", pick(2) ? "x" : "0", attr_value(depth + 1), "y", scalar());
  default: return scalar();
  }
}

typedef struct src_s {
  const condition_t *c;
  const json_t *attrs;
  bool lists;                /* an array of strings given as CONDITION_VALUE_STRS */
  condition_str_t strs[4][8]; /* by name */
} src_t;

static const condition_value_t *value_of(void *ctx, size_t name, condition_value_t *out) {
  src_t *s = ctx;
  const char *const *names;
  assert_true(name < condition_names(s->c, &names));
  const json_t *j = json_object_get(s->attrs, names[name]);
  condition_value_from_json(j, out);
  if (!s->lists || !json_is_array(j) || name >= 4 || json_array_size(j) > 8) return out;
  for (size_t i = 0; i < json_array_size(j); i++) {
    const json_t *el = json_array_get(j, i);
    if (!json_is_string(el)) return out;
    s->strs[name][i] = (condition_str_t){json_string_value(el), json_string_length(el)};
  }
  out->type = CONDITION_VALUE_STRS;
  out->strs = s->strs[name];
  out->n = json_array_size(j);
  return out;
}

static void test_program_equals_tree(void **st) {
  (void)st;
  static const char *const names[] = {"a", "b", "c", "d"};
  size_t compared = 0, trues = 0;
  for (int i = 0; i < 40000; i++) {
    json_t *cond = cond_obj(0), *attrs = json_object();
    for (size_t k = 0; k < 4; k++)
      if (pick(5)) json_object_set_new(attrs, names[k], attr_value(0));
    for (int flags = 0; flags < 2; flags++) {
      condition_t *c;
      perr_info_t e;
      if (condition_compile_ex(cond, flags, &c, &e) != 0) continue;
      bool want = condition_eval(c, attrs);
      src_t s = {.c = c, .attrs = attrs, .lists = i % 2};
      bool got = condition_eval_values(c, value_of, &s);
      if (got != want) {
        char *ct = json_dumps(cond, JSON_ENCODE_ANY), *at = json_dumps(attrs, JSON_ENCODE_ANY);
        fail_msg("program %d, tree %d (flags %d): %s on %s", got, want, flags, ct, at);
      }
      compared++;
      trues += want;
      condition_free(c);
    }
    json_decref(cond);
    json_decref(attrs);
  }
  printf("program = tree on %zu random conditions and attributes (%zu true)\n", compared, trues);
  assert_true(compared > 40000);
  assert_true(trues > compared / 20 && trues < compared - compared / 20); /* both answers seen */
}

/* Values given typed (the way offers.decide gives Patron's), not from JSON. */
static const condition_value_t *typed_of(void *ctx, size_t name, condition_value_t *out) {
  (void)out;
  return &((const condition_value_t *)ctx)[name];
}

static void test_typed_values(void **st) {
  (void)st;
  json_t *cond = json_loads("{\"s\": {\"$in\": [\"gold\", 7]}, \"n\": {\"$gte\": 10, \"$lt\": \"20\"},"
                            " \"r\": 0.5, \"b\": false, \"m\": {\"$exists\": false}}",
                            0, NULL);
  condition_t *c;
  assert_int_equal(condition_compile(cond, &c, NULL), 0);
  const char *const *names;
  size_t n = condition_names(c, &names);
  assert_int_equal(n, 5);
  for (int i = 0; i < 5; i++) { /* i = 0 passes; each other i breaks one attribute */
    condition_value_t vals[5];
    memset(vals, 0, sizeof vals);
    for (size_t k = 0; k < n; k++) {
      condition_value_t *v = &vals[k];
      if (!strcmp(names[k], "s"))
        v->type = CONDITION_VALUE_STR, v->s = i == 1 ? "golden" : "gold", v->n = i == 1 ? 6 : 4;
      if (!strcmp(names[k], "n")) v->type = CONDITION_VALUE_INT, v->i = i == 2 ? 20 : 12;
      if (!strcmp(names[k], "r")) v->type = CONDITION_VALUE_REAL, v->d = i == 3 ? 0.25 : 0.5;
      if (!strcmp(names[k], "b")) v->type = CONDITION_VALUE_BOOL, v->b = i == 4;
    }
    assert_int_equal(condition_eval_values(c, typed_of, vals), i == 0);
  }
  condition_free(c);
  json_decref(cond);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_program_equals_tree),
      cmocka_unit_test(test_typed_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
