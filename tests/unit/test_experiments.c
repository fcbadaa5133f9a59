/* test_experiments.c -- experiments/experiments.h against GrowthBook's cases.json (hash,
 * getBucketRange, chooseVariation, inNamespace, getEqualWeights, and every `run` case whose
 * context uses only attributes and saved groups), plus non-ASCII ids hashed as UTF-16, and
 * the hash's ASCII fast paths against the plain UTF-16 walk over random ids, and the version 1
 * maps (experiment_v1map_t) against experiment_choose_variation for every hash value over
 * random weights and coverages (and cases.json's ranges). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/utf8.h"
#include "experiments/experiments.h"
#include "offers/condition.h"

#include "growthbook_cases.h"

static json_t *cases;

static void near(double got, double want, double tol, const char *what) {
  if (fabs(got - want) > tol) fail_msg("%s: got %.10g want %.10g", what, got, want);
}

static void test_hash_cases(void **st) {
  (void)st;
  json_t *sec = gb_section(cases, "hash"), *row;
  size_t i;
  json_array_foreach(sec, i, row) {
    const char *seed = json_string_value(json_array_get(row, 0));
    const char *value = json_string_value(json_array_get(row, 1));
    int version = (int)json_integer_value(json_array_get(row, 2));
    json_t *want = json_array_get(row, 3);
    double got = -1, got_n = -1;
    int rc = experiment_hash(seed, value, version, &got);
    /* the length-taking form over the same bytes followed by others (a request's buffer) */
    char sbuf[300], vbuf[300];
    size_t sn = strlen(seed), vn = strlen(value);
    assert_true(sn + 4 < sizeof sbuf && vn + 4 < sizeof vbuf);
    memcpy(sbuf, seed, sn), memcpy(sbuf + sn, "\xc3\xa9zz", 4);
    memcpy(vbuf, value, vn), memcpy(vbuf + vn, "xyz\x80", 4);
    assert_int_equal(experiment_hash_n(sbuf, sn, vbuf, vn, version, &got_n), rc);
    if (json_is_null(want)) {
      assert_int_equal(rc, -1);
    } else {
      assert_int_equal(rc, 0);
      near(got, json_number_value(want), 1e-9, value);
      near(got_n, got, 0, value);
    }
  }
  assert_int_equal(json_array_size(sec), 15);
}

/* ids beyond ASCII: expected values from an independent Python model of the SDK, which
 * hashes UTF-16 code units:  units = struct.unpack('<%dH' % (len(b)//2), b) with
 * b = s.encode('utf-16-le'); h = 0x811c9dc5; for u in units: h = ((h ^ u) * 16777619) & 0xffffffff
 * v1 = (fnv(value + seed) % 1000) / 1000;  v2 = (fnv(str(fnv(seed + value))) % 10000) / 10000 */
static void test_hash_non_ascii(void **st) {
  (void)st;
  static const struct {
    const char *seed, *value;
    double v1, v2;
  } rows[] = {
      {"", "\xc3\xa9", 0.94, 0.8917},                                /* é */
      {"exp", "Jos\xc3\xa9", 0.117, 0.2831},                         /* José */
      {"exp", "\xe7\x94\xa8\xe6\x88\xb7" "42", 0.261, 0.0394},       /* 用户42 */
      {"seed", "\xf0\x9f\x98\x80", 0.429, 0.4346},                   /* U+1F600: a surrogate pair */
      {"", "Zo\xc3\xab-\xf0\x9d\x84\x9e", 0.184, 0.9304},            /* Zoë-U+1D11E */
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    double h;
    assert_int_equal(experiment_hash(rows[i].seed, rows[i].value, 1, &h), 0);
    near(h, rows[i].v1, 1e-9, rows[i].value);
    assert_int_equal(experiment_hash(rows[i].seed, rows[i].value, 2, &h), 0);
    near(h, rows[i].v2, 1e-9, rows[i].value);
  }
  /* hashing UTF-8 bytes instead would give 0.217 for "é" (same Python, over s.encode()) */
  double h;
  experiment_hash("", "\xc3\xa9", 1, &h);
  assert_true(fabs(h - 0.217) > 1e-6);
  /* an invalid byte hashes as U+FFFD, like a lenient decoder */
  double bad, repl;
  experiment_hash("s", "a\xff", 2, &bad);
  experiment_hash("s", "a\xef\xbf\xbd", 2, &repl);
  near(bad, repl, 0, "invalid utf-8");
}

static int ranges_from_json(const json_t *arr, experiment_range_t *out, int cap) {
  int n = 0;
  size_t i;
  json_t *r;
  json_array_foreach(arr, i, r) {
    if (n == cap) fail_msg("too many ranges");
    out[n].start = json_number_value(json_array_get(r, 0));
    out[n].end = json_number_value(json_array_get(r, 1));
    n++;
  }
  return n;
}

static int doubles_from_json(const json_t *arr, double *out, int cap) {
  int n = 0;
  for (size_t i = 0; i < json_array_size(arr) && n < cap; i++)
    out[n++] = json_number_value(json_array_get(arr, i));
  return n;
}

/* FNV-1a over every UTF-16 unit of the whole string, from the iterator alone: the general
 * path the ASCII fast paths (8 bytes at a time, then byte by byte) must equal. */
static uint32_t fnv_units(uint32_t h, const char *s, size_t len) {
  utf16_iter_t it;
  utf16_iter_init(&it, s, len);
  for (int32_t u; (u = utf16_iter_next(&it)) >= 0;) h = (h ^ (uint32_t)u) * 16777619u;
  return h;
}

/* Random ids: mostly ASCII runs of every length around the 8-byte steps, with 2-, 3- and
 * 4-byte characters (surrogate pairs), invalid and truncated sequences at random places. */
static void test_hash_fast_path_random(void **st) {
  (void)st;
  static const char *const pieces[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\x80",
                                       "\xff", "\xe2\x82", "\xf0\x9f", "\xc3", "\x7f", "\x01"};
  uint64_t rng = 0x2545f4914f6cdd1dull;
  char buf[96];
  int non_ascii = 0;
  for (int round = 0; round < 20000; round++) {
    size_t n = 0;
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    size_t target = (rng >> 7) % 80;
    while (n < target) {
      rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
      if (round % 3 && rng % 9 == 0) {
        const char *pc = pieces[(rng >> 8) % 10];
        size_t k = strlen(pc);
        if (n + k > sizeof buf) break;
        memcpy(buf + n, pc, k), n += k;
      } else {
        buf[n++] = (char)(' ' + (rng >> 16) % 95);
      }
    }
    for (size_t i = 0; i < n; i++) non_ascii += (unsigned char)buf[i] >= 0x80;
    uint32_t h0 = round % 2 ? EXPERIMENT_FNV_OFFSET : (uint32_t)(rng >> 32);
    for (size_t start = 0; start <= n && start < 9; start++) /* every alignment */
      assert_int_equal(experiment_fnv1a32(h0, buf + start, n - start),
                       fnv_units(h0, buf + start, n - start));
    double a, b;
    for (int v = 1; v <= 2; v++) { /* the hash over the two strings, both orders */
      size_t cut = n / 3;
      assert_int_equal(experiment_hash_n(buf, cut, buf + cut, n - cut, v, &a), 0);
      uint32_t h = v == 1 ? fnv_units(fnv_units(EXPERIMENT_FNV_OFFSET, buf + cut, n - cut), buf, cut)
                          : fnv_units(fnv_units(EXPERIMENT_FNV_OFFSET, buf, cut), buf + cut, n - cut);
      if (v == 2) {
        char dec[16];
        int k = snprintf(dec, sizeof dec, "%u", h);
        h = fnv_units(EXPERIMENT_FNV_OFFSET, dec, (size_t)k);
        b = (double)(h % 10000u) / 10000.0;
      } else {
        b = (double)(h % 1000u) / 1000.0;
      }
      near(a, b, 0, "hash over random ids");
    }
  }
  assert_true(non_ascii > 10000); /* the non-ASCII paths ran */
}

static void test_bucket_ranges_cases(void **st) {
  (void)st;
  json_t *sec = gb_section(cases, "getBucketRange"), *row;
  size_t i;
  json_array_foreach(sec, i, row) {
    const char *name = json_string_value(json_array_get(row, 0));
    json_t *args = json_array_get(row, 1);
    int n = (int)json_integer_value(json_array_get(args, 0));
    double coverage = json_number_value(json_array_get(args, 1));
    double w[EXPERIMENT_MAX_VARIATIONS];
    json_t *wj = json_array_get(args, 2);
    int nw = json_is_array(wj) ? doubles_from_json(wj, w, EXPERIMENT_MAX_VARIATIONS) : 0;
    experiment_range_t got[EXPERIMENT_MAX_VARIATIONS], want[EXPERIMENT_MAX_VARIATIONS];
    int count = experiment_bucket_ranges(n, coverage, nw ? w : NULL, nw, got);
    int wcount = ranges_from_json(json_array_get(row, 2), want, EXPERIMENT_MAX_VARIATIONS);
    assert_int_equal(count, wcount);
    for (int k = 0; k < count; k++) {
      near(got[k].start, want[k].start, 1e-9, name);
      near(got[k].end, want[k].end, 1e-9, name);
    }
  }
  assert_int_equal(json_array_size(sec), 13);
}

/* A map answers as the ranges for all 1000 values of h % 1000 (h spread over 32 bits). */
static void check_v1map(const experiment_range_t *r, int n, const char *what) {
  experiment_v1map_t m;
  if (!experiment_v1map_build(r, n, &m)) {
    assert_int_equal(m.n, 0); /* the caller's ranges decide */
    return;
  }
  for (uint32_t k = 0; k < 1000; k++) {
    uint32_t h = k + 1000u * (k * 2654435761u % 4294967u);
    int want = experiment_choose_variation((double)(h % 1000u) / 1000.0, r, n);
    if (experiment_v1map_choose(&m, h) != want)
      fail_msg("%s: k %u: map %d, ranges %d", what, k, experiment_v1map_choose(&m, h), want);
  }
}

static void test_choose_variation_cases(void **st) {
  (void)st;
  json_t *sec = gb_section(cases, "chooseVariation"), *row;
  size_t i;
  json_array_foreach(sec, i, row) {
    experiment_range_t r[EXPERIMENT_MAX_VARIATIONS];
    int n = ranges_from_json(json_array_get(row, 2), r, EXPERIMENT_MAX_VARIATIONS);
    int got = experiment_choose_variation(json_number_value(json_array_get(row, 1)), r, n);
    if (got != (int)json_integer_value(json_array_get(row, 3)))
      fail_msg("%s: got %d", json_string_value(json_array_get(row, 0)), got);
    check_v1map(r, n, json_string_value(json_array_get(row, 0))); /* and as a map */
  }
  assert_int_equal(json_array_size(sec), 13);
}

/* The maps over random weights and coverages (cases.json's ranges: above). */
static void test_v1map(void **st) {
  (void)st;
  uint64_t rng = 0x9e3779b97f4a7c15ull;
  int built = 0;
  for (int round = 0; round < 3000; round++) {
    double w[12];
    experiment_range_t r[12];
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    int n = 1 + (int)(rng % 12);
    for (int k = 0; k < n; k++) { /* weights in thousandths and arbitrary reals */
      rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
      w[k] = round % 2 ? (double)(rng % 1000) / 1000.0 : (double)(rng >> 11) / 9007199254740992.0;
    }
    double sum = 0;
    for (int k = 0; k < n; k++) sum += w[k];
    for (int k = 0; k < n && round % 5 && sum > 0; k++) w[k] /= sum; /* valid weights */
    double coverage = round % 3 ? 1.0 : (double)(rng % 1001) / 1000.0;
    experiment_bucket_ranges(n, coverage, w, n, r);
    char what[32];
    snprintf(what, sizeof what, "round %d", round);
    check_v1map(r, n, what);
    experiment_v1map_t m;
    built += experiment_v1map_build(r, n, &m);
  }
  assert_true(built > 2000);
}

static void test_in_namespace_cases(void **st) {
  (void)st;
  json_t *sec = gb_section(cases, "inNamespace"), *row;
  size_t i;
  json_array_foreach(sec, i, row) {
    json_t *ns = json_array_get(row, 2);
    experiment_namespace_t n = {json_string_value(json_array_get(ns, 0)),
                                json_number_value(json_array_get(ns, 1)),
                                json_number_value(json_array_get(ns, 2))};
    bool got = experiment_in_namespace(json_string_value(json_array_get(row, 1)), &n);
    if (got != json_is_true(json_array_get(row, 3)))
      fail_msg("%s: got %d", json_string_value(json_array_get(row, 0)), got);
  }
  assert_int_equal(json_array_size(sec), 16);
}

static void test_equal_weights_cases(void **st) {
  (void)st;
  json_t *sec = gb_section(cases, "getEqualWeights"), *row;
  size_t i;
  json_array_foreach(sec, i, row) {
    double w[EXPERIMENT_MAX_VARIATIONS], want[EXPERIMENT_MAX_VARIATIONS];
    int n = experiment_equal_weights((int)json_integer_value(json_array_get(row, 0)), w);
    int nw = doubles_from_json(json_array_get(row, 1), want, EXPERIMENT_MAX_VARIATIONS);
    assert_int_equal(n, nw);
    for (int k = 0; k < n; k++) near(w[k], want[k], 1e-8, "equal weights");
  }
  assert_int_equal(json_array_size(sec), 6);
}

/* The SDK's hash attribute value: String(value) for strings and numbers, "" otherwise. */
static const char *attr_string(const json_t *attrs, const char *name, char *buf, size_t cap) {
  const json_t *v = json_object_get(attrs, name);
  if (json_is_string(v)) return json_string_value(v);
  if (json_is_integer(v)) {
    snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    return buf;
  }
  return "";
}

/* A `run` case fits the model when its context holds only attributes and saved groups
 * (no global disable, URL overrides, forced variations, QA mode or parent features). */
static bool run_case_fits(const json_t *ctx) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)ctx, key, v) {
    (void)v;
    if (strcmp(key, "attributes") && strcmp(key, "savedGroups")) return false;
  }
  return true;
}

static void test_run_cases(void **st) {
  (void)st;
  json_t *sec = gb_section(cases, "run"), *row;
  size_t i, ran = 0;
  json_array_foreach(sec, i, row) {
    const char *name = json_string_value(json_array_get(row, 0));
    json_t *ctx = json_array_get(row, 1), *xj = json_array_get(row, 2);
    if (!run_case_fits(ctx) || json_object_get(xj, "parentConditions")) continue;
    json_t *attrs = json_object_get(ctx, "attributes");
    json_t *variations = json_object_get(xj, "variations");
    experiment_t x;
    experiment_defaults(&x);
    x.key = json_string_value(json_object_get(xj, "key"));
    x.variations = (int)json_array_size(variations);
    if (json_object_get(xj, "seed")) x.seed = json_string_value(json_object_get(xj, "seed"));
    if (json_object_get(xj, "hashVersion"))
      x.hash_version = (int)json_integer_value(json_object_get(xj, "hashVersion"));
    if (json_object_get(xj, "coverage"))
      x.coverage = json_number_value(json_object_get(xj, "coverage"));
    double w[EXPERIMENT_MAX_VARIATIONS];
    if (json_object_get(xj, "weights")) {
      x.nweights = doubles_from_json(json_object_get(xj, "weights"), w, EXPERIMENT_MAX_VARIATIONS);
      x.weights = w;
    }
    experiment_range_t ranges[EXPERIMENT_MAX_VARIATIONS];
    if (json_object_get(xj, "ranges")) {
      x.nranges =
          ranges_from_json(json_object_get(xj, "ranges"), ranges, EXPERIMENT_MAX_VARIATIONS);
      x.ranges = ranges;
    }
    experiment_namespace_t ns;
    json_t *nsj = json_object_get(xj, "namespace");
    if (nsj) {
      ns = (experiment_namespace_t){json_string_value(json_array_get(nsj, 0)),
                                    json_number_value(json_array_get(nsj, 1)),
                                    json_number_value(json_array_get(nsj, 2))};
      x.ns = &ns;
    }
    x.inactive = json_is_false(json_object_get(xj, "active"));
    if (json_object_get(xj, "force")) {
      x.has_force = true;
      x.force = (int)json_integer_value(json_object_get(xj, "force"));
    }
    experiment_filter_t filters[8];
    experiment_range_t franges[8][8];
    char fbuf[8][32];
    json_t *fj = json_object_get(xj, "filters");
    for (size_t f = 0; f < json_array_size(fj) && f < 8; f++) {
      json_t *one = json_array_get(fj, f);
      const char *attr = json_string_value(json_object_get(one, "attribute"));
      filters[f] = (experiment_filter_t){
          .seed = json_string_value(json_object_get(one, "seed")),
          .hash_value = attr_string(attrs, attr ? attr : "id", fbuf[f], sizeof fbuf[f]),
          .hash_version = (int)json_integer_value(json_object_get(one, "hashVersion")),
          .ranges = franges[f],
          .nranges = ranges_from_json(json_object_get(one, "ranges"), franges[f], 8)};
      x.filters = filters;
      x.nfilters = (int)f + 1;
    }
    condition_t *cond = NULL;
    if (json_object_get(xj, "condition")) {
      perr_info_t e;
      assert_int_equal(condition_compile(json_object_get(xj, "condition"), &cond, &e), 0);
      x.condition = cond;
    }
    const char *hash_attr = json_string_value(json_object_get(xj, "hashAttribute"));
    char idbuf[32];
    const char *id = attr_string(attrs, hash_attr ? hash_attr : "id", idbuf, sizeof idbuf);
    experiment_assignment_t a;
    assert_int_equal(
        experiment_assign(&x, id, attrs, json_object_get(ctx, "savedGroups"), &a), 0);
    condition_free(cond);
    json_t *want_value = json_array_get(row, 3);
    bool want_in = json_is_true(json_array_get(row, 4));
    bool want_hash = json_is_true(json_array_get(row, 5));
    if (!json_equal(json_array_get(variations, (size_t)a.variation), want_value) ||
        a.in_experiment != want_in || a.hash_used != want_hash)
      fail_msg("run '%s': variation %d in %d hash_used %d", name, a.variation, a.in_experiment,
               a.hash_used);
    if (a.hash_used) assert_true(a.hash >= 0 && a.hash < 1);
    ran++;
  }
  printf("run: %zu of %zu cases fit the model, all passed\n", ran, json_array_size(sec));
  /* 73 cases; 7 need a context feature outside the model (enabled, url, forcedVariations,
   * qaMode) and 2 need parent features (context.features + parentConditions) */
  assert_int_equal(ran, 64);
}

static void test_assign_edges(void **st) {
  (void)st;
  experiment_t x;
  experiment_defaults(&x);
  x.key = "k";
  x.variations = 2;
  experiment_assignment_t a;
  assert_int_equal(experiment_assign(NULL, "1", NULL, NULL, &a), -1);
  assert_int_equal(experiment_assign(&x, NULL, NULL, NULL, &a), 0);
  assert_false(a.in_experiment);
  x.hash_version = 3; /* unknown version: the SDK's null hash, not in */
  assert_int_equal(experiment_assign(&x, "1", NULL, NULL, &a), 0);
  assert_false(a.in_experiment);
  /* ids, key and seed given by length (borrowed from a request, no NUL): the same answers */
  experiment_defaults(&x);
  x.key = "exp-key-and-more";
  x.key_len = 7;
  x.variations = 3;
  x.hash_version = 2;
  experiment_t xs = x;
  xs.key = "exp-key";
  xs.key_len = 0;
  const char *ids[] = {"u1", "Jos\xc3\xa9", "\xf0\x9f\x98\x80x", "c-001500"};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    char buf[32];
    size_t n = strlen(ids[i]);
    memcpy(buf, ids[i], n);
    memcpy(buf + n, "tail", 5);
    experiment_assignment_t b;
    assert_int_equal(experiment_assign_n(&x, buf, n, NULL, NULL, &a), 0);
    assert_int_equal(experiment_assign(&xs, ids[i], NULL, NULL, &b), 0);
    assert_true(a.in_experiment && b.in_experiment);
    assert_int_equal(a.variation, b.variation);
    near(a.hash, b.hash, 0, ids[i]);
  }
  assert_int_equal(experiment_assign_n(&x, "u1", 0, NULL, NULL, &a), 0); /* empty id: out */
  assert_false(a.in_experiment);
  /* a wide experiment: every variation gets close to its weight over many ids */
  experiment_defaults(&x);
  x.key = "wide";
  x.variations = 4;
  x.hash_version = 2;
  const double w[4] = {0.1, 0.2, 0.3, 0.4};
  x.weights = w;
  x.nweights = 4;
  int counts[4] = {0};
  for (int i = 0; i < 20000; i++) {
    char id[16];
    snprintf(id, sizeof id, "c%d", i);
    assert_int_equal(experiment_assign(&x, id, NULL, NULL, &a), 0);
    assert_true(a.in_experiment);
    counts[a.variation]++;
  }
  for (int k = 0; k < 4; k++) near(counts[k] / 20000.0, w[k], 0.015, "share");
}

int main(void) {
  cases = gb_cases_load();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_cases),         cmocka_unit_test(test_hash_non_ascii),
      cmocka_unit_test(test_bucket_ranges_cases), cmocka_unit_test(test_choose_variation_cases),
      cmocka_unit_test(test_in_namespace_cases), cmocka_unit_test(test_equal_weights_cases),
      cmocka_unit_test(test_run_cases),          cmocka_unit_test(test_assign_edges),
      cmocka_unit_test(test_hash_fast_path_random), cmocka_unit_test(test_v1map),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  json_decref(cases);
  return rc;
}
