/* experiments.c -- GrowthBook-identical hashing, bucket ranges, namespaces, filters and the
 * run() decision (see experiments.h for the rules). Invariants: no allocation; strings are
 * hashed as UTF-16 code units decoded from UTF-8 on the fly (an ASCII byte is its own code
 * unit, so runs of ASCII are hashed byte by byte without the decoder). */
#include "experiments/experiments.h"

#include <stdio.h>
#include <string.h>

#include "base/utf8.h"
#include "offers/condition.h"

#define FNV_PRIME 16777619u

static uint32_t fnv_unit(uint32_t h, uint32_t unit) {
  h ^= unit;
  return h * FNV_PRIME;
}

uint32_t experiment_fnv1a32(uint32_t h, const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  /* ASCII, 8 bytes at a time while none has its high bit set: each byte is its unit */
  for (uint64_t w; len - i >= 8; i += 8) {
    memcpy(&w, s + i, 8);
    if (w & UINT64_C(0x8080808080808080)) break;
    h = fnv_unit(h, s[i]), h = fnv_unit(h, s[i + 1]), h = fnv_unit(h, s[i + 2]);
    h = fnv_unit(h, s[i + 3]), h = fnv_unit(h, s[i + 4]), h = fnv_unit(h, s[i + 5]);
    h = fnv_unit(h, s[i + 6]), h = fnv_unit(h, s[i + 7]);
  }
  uint32_t w4;
  if (len - i >= 4 && (memcpy(&w4, s + i, 4), !(w4 & 0x80808080u))) { /* then 4 */
    h = fnv_unit(h, s[i]), h = fnv_unit(h, s[i + 1]), h = fnv_unit(h, s[i + 2]);
    h = fnv_unit(h, s[i + 3]);
    i += 4;
  }
  while (i < len && s[i] < 0x80) h = fnv_unit(h, s[i++]); /* ASCII: the byte is the unit */
  if (i == len) return h;
  utf16_iter_t it; /* from the first non-ASCII byte: a character boundary */
  utf16_iter_init(&it, str + i, len - i);
  for (int32_t unit; (unit = utf16_iter_next(&it)) >= 0;) h = fnv_unit(h, (uint32_t)unit);
  return h;
}

int experiment_hash(const char *seed, const char *value, int version, double *out) {
  if (!seed) seed = "";
  if (!value) value = "";
  return experiment_hash_n(seed, strlen(seed), value, strlen(value), version, out);
}

int experiment_hash_n(const char *seed, size_t seed_len, const char *value, size_t value_len,
                      int version, double *out) {
  if (version == 1) {
    uint32_t h = experiment_fnv1a32(EXPERIMENT_FNV_OFFSET, value, value_len);
    h = experiment_fnv1a32(h, seed, seed_len);
    *out = (double)(h % 1000u) / 1000.0;
    return 0;
  }
  if (version == 2) {
    uint32_t h = experiment_fnv1a32(EXPERIMENT_FNV_OFFSET, seed, seed_len);
    h = experiment_fnv1a32(h, value, value_len);
    char dec[10]; /* the decimal text of h, hashed again */
    int n = 0;
    do dec[sizeof dec - 1 - n++] = (char)('0' + h % 10), h /= 10;
    while (h);
    h = experiment_fnv1a32(EXPERIMENT_FNV_OFFSET, dec + sizeof dec - n, (size_t)n);
    *out = (double)(h % 10000u) / 10000.0;
    return 0;
  }
  return -1;
}

int experiment_equal_weights(int n, double *out) {
  if (n <= 0) return 0;
  for (int i = 0; i < n; i++) out[i] = 1.0 / n;
  return n;
}

/* The coverage clamped to [0,1] (NaN: 0), and the weights bucket ranges use: the given ones
 * when there are n of them summing to 0.99..1.01, else NULL (equal weights, 1.0 / n each). */
static double clamp_coverage(double coverage) {
  if (!(coverage >= 0)) return 0; /* also NaN */
  return coverage > 1 ? 1 : coverage;
}

static const double *usable_weights(int n, const double *weights, int nweights) {
  if (!weights || nweights != n) return NULL;
  double total = 0;
  for (int i = 0; i < n; i++) total += weights[i];
  return total >= 0.99 && total <= 1.01 ? weights : NULL;
}

/* The ranges of n variations in order (experiments.h): all written to out (returns n), or,
 * with out NULL, computed only up to the first holding hash (returns its index, -1 when
 * none) -- the same arithmetic in the same order either way. */
static inline int walk_ranges(int n, double coverage, const double *weights, int nweights,
                              double hash, experiment_range_t *out) {
  if (n <= 0 || n > EXPERIMENT_MAX_VARIATIONS) return out ? 0 : -1;
  coverage = clamp_coverage(coverage);
  const double *w = usable_weights(n, weights, nweights);
  double cumulative = 0;
  for (int i = 0; i < n; i++) {
    double wi = w ? w[i] : 1.0 / n, start = cumulative, end = start + coverage * wi;
    cumulative += wi;
    if (out) out[i] = (experiment_range_t){start, end};
    else if (hash >= start && hash < end) return i;
  }
  return out ? n : -1;
}

int experiment_bucket_ranges(int n, double coverage, const double *weights, int nweights,
                             experiment_range_t *out) {
  return walk_ranges(n, coverage, weights, nweights, 0, out);
}

static bool in_range(double n, const experiment_range_t *r) {
  return n >= r->start && n < r->end;
}

int experiment_choose_variation(double n, const experiment_range_t *ranges, int count) {
  for (int i = 0; i < count; i++)
    if (in_range(n, &ranges[i])) return i;
  return -1;
}

bool experiment_v1map_build(const experiment_range_t *ranges, int count, experiment_v1map_t *m) {
  m->n = 0;
  for (unsigned k = 0; k < 1000; k++) {
    int v = experiment_choose_variation((double)k / 1000.0, ranges, count);
    if (m->n && m->var[m->n - 1] == v) continue;
    if (m->n == EXPERIMENT_V1MAP_MAX) return m->n = 0, false;
    m->start[m->n] = (uint16_t)k;
    m->var[m->n++] = (int8_t)v;
  }
  m->start[m->n] = 1000;
  return true;
}

static bool in_namespace(const char *value, size_t value_len, const experiment_namespace_t *ns) {
  char seed[256];
  int len = snprintf(seed, sizeof seed, "__%s", ns->id ? ns->id : "");
  if (len < 0 || (size_t)len >= sizeof seed) return false; /* absurd namespace name */
  double n;
  if (experiment_hash_n(seed, (size_t)len, value, value_len, 1, &n) != 0) return false;
  return n >= ns->start && n < ns->end;
}

bool experiment_in_namespace(const char *hash_value, const experiment_namespace_t *ns) {
  return in_namespace(hash_value ? hash_value : "", hash_value ? strlen(hash_value) : 0, ns);
}

static bool filtered_out(const experiment_filter_t *filters, int count) {
  for (int i = 0; i < count; i++) {
    const experiment_filter_t *f = &filters[i];
    if (!f->hash_value || !f->hash_value[0]) return true;
    double n;
    if (experiment_hash(f->seed, f->hash_value, f->hash_version ? f->hash_version : 2, &n) != 0)
      return true;
    bool any = false;
    for (int k = 0; k < f->nranges && !any; k++) any = in_range(n, &f->ranges[k]);
    if (!any) return true;
  }
  return false;
}

void experiment_defaults(experiment_t *x) {
  memset(x, 0, sizeof *x);
  x->hash_version = 1;
  x->coverage = 1.0;
  x->force = -1;
}

static void result(experiment_assignment_t *out, const experiment_t *x, int variation,
                   bool hash_used, double hash) {
  out->in_experiment = variation >= 0 && variation < x->variations;
  out->variation = out->in_experiment ? variation : 0;
  out->hash_used = out->in_experiment && hash_used;
  out->hash = hash;
}

int experiment_assign(const experiment_t *x, const char *id, const json_t *attrs,
                      const json_t *saved_groups, experiment_assignment_t *out) {
  return experiment_assign_n(x, id, id ? strlen(id) : 0, attrs, saved_groups, out);
}

int experiment_assign_n(const experiment_t *x, const char *id, size_t id_len,
                        const json_t *attrs, const json_t *saved_groups,
                        experiment_assignment_t *out) {
  if (!x || !out || !x->key) return -1;
  result(out, x, -1, false, -1);
  if (x->variations < 2 || x->variations > EXPERIMENT_MAX_VARIATIONS) return 0;
  if (x->inactive) return 0;
  if (!id || !id_len) return 0;
  if (x->filters && x->nfilters > 0) {
    if (filtered_out(x->filters, x->nfilters)) return 0;
  } else if (x->ns && !in_namespace(id, id_len, x->ns)) {
    return 0;
  }
  if (x->condition && !condition_eval_groups(x->condition, attrs, saved_groups)) return 0;
  double n;
  size_t seed_len = x->seed ? (x->seed_len ? x->seed_len : strlen(x->seed)) : 0;
  const char *seed = x->seed;
  if (!seed_len) { /* no seed, or "": the key */
    seed = x->key;
    seed_len = x->key_len ? x->key_len : strlen(x->key);
  }
  if (experiment_hash_n(seed, seed_len, id, id_len, x->hash_version, &n) != 0) return 0;
  int assigned = x->ranges ? experiment_choose_variation(n, x->ranges, x->nranges)
                            : walk_ranges(x->variations, x->coverage, x->weights, x->nweights,
                                          n, NULL);
  if (assigned < 0) return 0;
  if (x->has_force) {
    result(out, x, x->force, false, -1);
    return 0;
  }
  result(out, x, assigned, true, n);
  return 0;
}
