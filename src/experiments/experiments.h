/* experiments.h -- experiment assignment, bit-for-bit the same as GrowthBook's SDKs
 * (checked against GrowthBook's cross-SDK cases.json: hash, getBucketRange, chooseVariation,
 * inNamespace, getEqualWeights and the `run` cases that fit this model).
 *
 * Hashing: FNV-1a 32 over the UTF-16 code units of the string (what JavaScript's
 * charCodeAt yields: a code point above U+FFFF is two surrogate units; each unit is XORed in
 * whole, not byte by byte). Input is UTF-8; an invalid byte counts as U+FFFD.
 *   version 1: (fnv(value + seed) mod 1000) / 1000
 *   version 2: (fnv(decimal(fnv(seed + value))) mod 10000) / 10000
 *   any other version: no hash (the SDK returns null; the experiment is not run).
 * Bucket ranges: coverage clamped to [0,1]; weights replaced by equal weights when missing,
 * of the wrong length, or summing outside [0.99, 1.01]; variation i gets
 * [c_i, c_i + coverage * w_i) with c_i the cumulative weight before it.
 * A hash n is in range [a,b) when a <= n < b; chooseVariation returns the first range
 * holding n, or -1. Namespace (id, start, end): in when start <= hash_v1("__" + id, value) < end.
 *
 * Invariants: pure functions, no allocation, no global state, thread-safe. */
#ifndef PATRON_EXPERIMENTS_H
#define PATRON_EXPERIMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct condition_s;

/* The most variations an experiment may have (GrowthBook has no limit; Patron caps it so
 * ranges live on the stack). */
#define EXPERIMENT_MAX_VARIATIONS 64

typedef struct experiment_range_s {
  double start, end; /* half-open [start, end) */
} experiment_range_t;

/* FNV-1a 32 of a UTF-8 string's UTF-16 code units, continuing from h (start with
 * EXPERIMENT_FNV_OFFSET). len bytes of s. */
#define EXPERIMENT_FNV_OFFSET 0x811c9dc5u
uint32_t experiment_fnv1a32(uint32_t h, const char *s, size_t len);

/* GrowthBook's hash(seed, value, version) into [0,1). Returns 0 and sets *out, or -1 when the
 * version is neither 1 nor 2 (the SDK's null). seed and value are NUL-terminated UTF-8. */
int experiment_hash(const char *seed, const char *value, int version, double *out);
/* The same over seed_len and value_len bytes (no NUL needed: strings borrowed from a
 * request). */
int experiment_hash_n(const char *seed, size_t seed_len, const char *value, size_t value_len,
                      int version, double *out);

/* n equal weights 1/n into out[0..n-1]; returns n, or 0 when n <= 0. */
int experiment_equal_weights(int n, double *out);

/* Ranges for n variations (1..EXPERIMENT_MAX_VARIATIONS) into out[0..n-1]; weights may be
 * NULL (equal). Returns n, or 0 when n is out of range. */
int experiment_bucket_ranges(int n, double coverage, const double *weights, int nweights,
                             experiment_range_t *out);

/* Index of the first range holding n, or -1. */
int experiment_choose_variation(double n, const experiment_range_t *ranges, int count);

/* experiment_choose_variation(k / 1000.0, ranges, count) for each version 1 hash value k
 * (h % 1000) as the values k where the answer changes: var[j] for start[j] <= k <
 * start[j + 1] (start[n] = 1000 ends the walk). experiment_v1map_build makes it by trying
 * every k (so it answers exactly as the ranges do); false (n = 0) when the answer changes
 * more than the map holds. */
#define EXPERIMENT_V1MAP_MAX 18
typedef struct experiment_v1map_s {
  uint16_t start[EXPERIMENT_V1MAP_MAX + 1];
  int8_t var[EXPERIMENT_V1MAP_MAX];
  uint8_t n;
} experiment_v1map_t;
bool experiment_v1map_build(const experiment_range_t *ranges, int count, experiment_v1map_t *m);
/* The variation of FNV-1a state h (a built map). */
static inline int experiment_v1map_choose(const experiment_v1map_t *m, uint32_t h) {
  unsigned k = h % 1000u;
  int j = 0;
  while (k >= m->start[j + 1]) j++;
  return m->var[j];
}

typedef struct experiment_namespace_s {
  const char *id;     /* namespace name */
  double start, end;  /* the experiment's slice of the namespace, [start, end) */
} experiment_namespace_t;

/* Whether a hash value (the customer id) falls in the namespace slice. */
bool experiment_in_namespace(const char *hash_value, const experiment_namespace_t *ns);

/* A filter: the id is kept when hash(seed, hash_value, hash_version) lies in one of ranges.
 * hash_value is the value of the filter's attribute (GrowthBook default: "id"); NULL or ""
 * filters the customer out. hash_version 0 means 2 (the SDK's default for filters). */
typedef struct experiment_filter_s {
  const char *seed;
  const char *hash_value;
  int hash_version;
  const experiment_range_t *ranges;
  int nranges;
} experiment_filter_t;

/* One experiment, as GrowthBook's Experiment object (the fields this model supports).
 * Call experiment_defaults() first: it sets coverage 1, hash_version 1, force -1 (none). */
typedef struct experiment_s {
  const char *key;            /* required */
  const char *seed;           /* NULL or "": the key */
  size_t key_len, seed_len;   /* bytes of key and seed; 0: NUL-terminated (strlen) */
  int hash_version;           /* 1 or 2; anything else: never in the experiment */
  int variations;             /* number of variations; < 2: never in the experiment */
  const double *weights;      /* NULL: equal */
  int nweights;
  double coverage;            /* clamped to [0,1] */
  const experiment_range_t *ranges; /* non-NULL: used as is, weights and coverage ignored */
  int nranges;
  const experiment_namespace_t *ns;   /* NULL: none; ignored when filters are given */
  const experiment_filter_t *filters; /* NULL: none */
  int nfilters;
  bool inactive;              /* GrowthBook active:false */
  int force;                  /* >= 0: forced variation after the coverage check; -1: none */
  bool has_force;             /* force given (even an invalid one: then variation 0, out) */
  /* Targeting: when non-NULL the customer must match it (offers/condition.h). */
  const struct condition_s *condition;
} experiment_t;

void experiment_defaults(experiment_t *x);

typedef struct experiment_assignment_s {
  int variation;      /* 0 (the control) when not in the experiment */
  bool in_experiment;
  bool hash_used;     /* the variation came from the hash (not forced) */
  double hash;        /* the bucket hash in [0,1) when computed, else -1 */
} experiment_assignment_t;

/* Assign the customer whose hash attribute value is id (UTF-8; NULL or "" is never in).
 * attrs and saved_groups are used only for x->condition (may be NULL). Same decision order
 * as the SDK's run(): variations < 2, inactive, empty id, filters (else namespace),
 * condition, hash (unknown version: out), ranges, choose (-1: out), force, result.
 * Returns 0; -1 when x or out is NULL or x->key is NULL. */
int experiment_assign(const experiment_t *x, const char *id, const json_t *attrs,
                      const json_t *saved_groups, experiment_assignment_t *out);
/* The same for an id of id_len bytes (no NUL needed; 0 bytes: never in). */
int experiment_assign_n(const experiment_t *x, const char *id, size_t id_len,
                        const json_t *attrs, const json_t *saved_groups,
                        experiment_assignment_t *out);

#endif
