/* recs_rules.c -- association rules X => {y} (support, confidence, lift) from baskets, with
 * arules' apriori semantics: an itemset is frequent when its basket count >= ceil(minsupp*N),
 * itemsets hold at most maxlen items, rules have one RHS item and a non-empty LHS, and
 * confidence = count(X u y) / count(X) >= minconf. Mining is depth-first (Eclat) over
 * per-item basket bitsets, so every count is an exact popcount.
 * Invariants: every emitted rule's LHS is sorted ascending; output is sorted by lift desc,
 * confidence desc, support desc, then LHS/RHS ids (deterministic). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "recs_internal.h"

typedef struct ext_s { uint32_t item, count; uint64_t *tid; } ext_t;

typedef struct mine_s {
  size_t W, N;
  uint32_t minc, maxlen;
  double minconf;
  uint64_t **itid;     /* per item tidset */
  uint32_t *icount;
  uint64_t *tmp;       /* W words */
  recs_rules_t *out;
  size_t cap;
  int failed;
} mine_t;

static uint32_t popcnt(const uint64_t *a, size_t W) {
  uint32_t c = 0;
  for (size_t w = 0; w < W; w++) c += (uint32_t)__builtin_popcountll(a[w]);
  return c;
}

static void emit_rules(mine_t *M, const uint32_t *X, uint32_t k, uint32_t cnt) {
  for (uint32_t r = 0; r < k; r++) {
    /* count of LHS = X \ {X[r]} */
    int first = 1;
    for (uint32_t i = 0; i < k; i++) {
      if (i == r) continue;
      const uint64_t *t = M->itid[X[i]];
      if (first) memcpy(M->tmp, t, M->W * sizeof(uint64_t));
      else for (size_t w = 0; w < M->W; w++) M->tmp[w] &= t[w];
      first = 0;
    }
    uint32_t lc = popcnt(M->tmp, M->W);
    double conf = (double)cnt / (double)lc;
    if (conf < M->minconf) continue;
    if (M->out->n == M->cap) {
      size_t nc = M->cap ? M->cap * 2 : 1024;
      recs_rule_t *nr = realloc(M->out->rules, nc * sizeof(recs_rule_t));
      if (!nr) { M->failed = 1; return; }
      M->out->rules = nr;
      M->cap = nc;
    }
    recs_rule_t *ru = &M->out->rules[M->out->n++];
    memset(ru, 0, sizeof(*ru));
    for (uint32_t i = 0; i < k; i++)
      if (i != r) ru->lhs[ru->nlhs++] = X[i];
    ru->rhs = X[r];
    ru->count = cnt;
    ru->support = (double)cnt / (double)M->N;
    ru->confidence = conf;
    ru->lift = conf / ((double)M->icount[X[r]] / (double)M->N);
  }
}

static void mine(mine_t *M, uint32_t *X, uint32_t k, ext_t *ext, size_t n) {
  for (size_t a = 0; a < n && !M->failed; a++) {
    X[k] = ext[a].item;
    M->out->itemsets++;
    if (k + 1 >= 2) emit_rules(M, X, k + 1, ext[a].count);
    if (k + 1 >= M->maxlen || a + 1 == n) continue;
    ext_t *next = malloc((n - a - 1) * sizeof(ext_t));
    uint64_t *pool = malloc((n - a - 1) * M->W * sizeof(uint64_t));
    if (!next || !pool) { free(next); free(pool); M->failed = 1; return; }
    size_t m = 0;
    for (size_t b = a + 1; b < n; b++) {
      uint64_t *t = pool + m * M->W;
      for (size_t w = 0; w < M->W; w++) t[w] = ext[a].tid[w] & ext[b].tid[w];
      uint32_t c = popcnt(t, M->W);
      if (c >= M->minc) next[m++] = (ext_t){ext[b].item, c, t};
    }
    mine(M, X, k + 1, next, m);
    free(next);
    free(pool);
  }
}

static int rule_cmp(const void *pa, const void *pb) {
  const recs_rule_t *a = pa, *b = pb;
  if (a->lift != b->lift) return a->lift > b->lift ? -1 : 1;
  if (a->confidence != b->confidence) return a->confidence > b->confidence ? -1 : 1;
  if (a->count != b->count) return a->count > b->count ? -1 : 1;
  if (a->nlhs != b->nlhs) return a->nlhs < b->nlhs ? -1 : 1;
  for (uint32_t i = 0; i < a->nlhs; i++)
    if (a->lhs[i] != b->lhs[i]) return a->lhs[i] < b->lhs[i] ? -1 : 1;
  return (a->rhs > b->rhs) - (a->rhs < b->rhs);
}

int recs_rules_mine(const uint64_t *offsets, const uint32_t *items, size_t nbaskets,
                    uint32_t nitems, double minsupp, double minconf, unsigned maxlen,
                    recs_rules_t *out, perr_info_t *e) {
  memset(out, 0, sizeof(*out));
  if (!(minsupp > 0 && minsupp <= 1) || !(minconf >= 0 && minconf <= 1) || nbaskets == 0 ||
      (nbaskets && (!offsets || !items)))
    return perr_set(e, PERR_INVALID_PARAMS, "minsupp", "need 0 < minsupp <= 1, 0 <= minconf <= 1 and baskets");
  if (maxlen < 2) maxlen = 2;
  if (maxlen > RECS_RULE_MAXLEN) maxlen = RECS_RULE_MAXLEN;
  mine_t M = {0};
  M.N = nbaskets;
  M.W = (nbaskets + 63) / 64;
  M.minc = (uint32_t)ceil(minsupp * (double)nbaskets - 1e-9);
  if (M.minc < 1) M.minc = 1;
  M.maxlen = maxlen;
  M.minconf = minconf;
  M.out = out;
  uint64_t *bits = calloc((size_t)nitems * M.W + 1, sizeof(uint64_t));
  M.itid = malloc((nitems + 1) * sizeof(uint64_t *));
  M.icount = calloc(nitems + 1, sizeof(uint32_t));
  M.tmp = malloc(M.W * sizeof(uint64_t));
  ext_t *ext = malloc((nitems + 1) * sizeof(ext_t));
  uint32_t X[RECS_RULE_MAXLEN];
  int rc = PERR_INTERNAL;
  if (!bits || !M.itid || !M.icount || !M.tmp || !ext) goto done;
  for (uint32_t i = 0; i < nitems; i++) M.itid[i] = bits + (size_t)i * M.W;
  for (size_t b = 0; b < nbaskets; b++)
    for (uint64_t q = offsets[b]; q < offsets[b + 1]; q++) {
      uint32_t it = items[q];
      if (it >= nitems) { rc = PERR_INVALID_PARAMS; goto done; }
      uint64_t *t = M.itid[it];
      if (!(t[b >> 6] >> (b & 63) & 1)) { t[b >> 6] |= 1ull << (b & 63); M.icount[it]++; }
    }
  size_t n = 0;
  for (uint32_t i = 0; i < nitems; i++)
    if (M.icount[i] >= M.minc) ext[n++] = (ext_t){i, M.icount[i], M.itid[i]};
  mine(&M, X, 0, ext, n);
  if (M.failed) goto done;
  if (out->n) qsort(out->rules, out->n, sizeof(recs_rule_t), rule_cmp); /* never qsort(NULL, 0) */
  rc = PERR_OK;
done:
  free(bits); free(M.itid); free(M.icount); free(M.tmp); free(ext);
  if (rc != PERR_OK) {
    recs_rules_free(out);
    return perr_set(e, rc, NULL, "association rule mining failed");
  }
  return PERR_OK;
}

void recs_rules_free(recs_rules_t *r) {
  if (!r) return;
  free(r->rules);
  memset(r, 0, sizeof(*r));
}
