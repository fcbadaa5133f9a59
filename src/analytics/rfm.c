/* rfm.c -- RFM quantile scores and the segment table documented in rfm.h.
 * Invariants: pure; the only memory used is a scratch array freed before returning. */
#include "rfm.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  int64_t v;
  size_t i;
} keyed_t;

static int cmp_keyed(const void *a, const void *b) {
  const keyed_t *x = a, *y = b;
  if (x->v != y->v) return x->v < y->v ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

/* dim: 0 = R, 1 = F, 2 = M */
static void score_dim(const rfm_input_t *in, size_t n, unsigned bins, keyed_t *k, int dim,
                      rfm_score_t *out) {
  for (size_t i = 0; i < n; i++) {
    k[i].i = i;
    k[i].v = dim == 0 ? in[i].last_ts : dim == 1 ? (int64_t)in[i].frequency : in[i].monetary;
  }
  qsort(k, n, sizeof *k, cmp_keyed);
  size_t below = 0;
  for (size_t j = 0; j < n; j++) {
    if (j > 0 && k[j].v != k[j - 1].v) below = j;
    const uint8_t s = (uint8_t)(1 + (unsigned)((unsigned long long)below * bins / n));
    rfm_score_t *o = &out[k[j].i];
    if (dim == 0) o->r = s;
    else if (dim == 1) o->f = s;
    else o->m = s;
  }
}

int rfm_score(const rfm_input_t *in, size_t n, unsigned bins, rfm_score_t *out) {
  if (bins < 2 || bins > RFM_MAX_BINS || (n && (!in || !out))) return -1;
  if (n == 0) return 0;
  keyed_t *k = malloc(n * sizeof *k);
  if (!k) return -2;
  for (int d = 0; d < 3; d++) score_dim(in, n, bins, k, d, out);
  free(k);
  for (size_t i = 0; i < n; i++) out[i].segment = (uint8_t)rfm_segment(out[i].r, out[i].f, out[i].m, bins);
  return 0;
}

static unsigned to5(unsigned s, unsigned bins) {
  if (s < 1) s = 1;
  if (s > bins) s = bins;
  if (bins == 5) return s;
  return 1 + ((s - 1) * 8 + (bins - 1)) / (2 * (bins - 1)); /* round half up of (s-1)*4/(bins-1) */
}

rfm_segment_t rfm_segment(unsigned r, unsigned f, unsigned m, unsigned bins) {
  if (bins < 2) bins = 2;
  const unsigned R = to5(r, bins), F = to5(f, bins), M = to5(m, bins);
  const unsigned FM = (F + M + 1) / 2;
  if ((R == 5 && FM >= 4) || (R == 4 && FM == 5)) return RFM_CHAMPIONS;
  if (R >= 3 && FM >= 4) return RFM_LOYAL;
  if (R >= 4 && FM >= 2) return RFM_POTENTIAL_LOYALISTS;
  if (R == 5) return RFM_NEW;          /* FM == 1 */
  if (R == 4) return RFM_PROMISING;    /* FM == 1 */
  if (R == 3 && FM >= 2) return RFM_NEED_ATTENTION;
  if (FM == 5) return RFM_CANNOT_LOSE; /* R <= 2 */
  if (R <= 2 && FM >= 3) return RFM_AT_RISK;
  if (R >= 2) return RFM_HIBERNATING;  /* R == 3, FM == 1 or R == 2, FM <= 2 */
  return RFM_LOST;
}

static const char *const seg_names[RFM_NSEGMENTS] = {
    "champions",   "loyal",   "potential_loyalists", "new",         "promising",
    "need_attention", "at_risk", "cannot_lose",      "hibernating", "lost"};

const char *rfm_segment_name(rfm_segment_t s) {
  return (unsigned)s < RFM_NSEGMENTS ? seg_names[s] : "unknown";
}

rfm_segment_t rfm_segment_from_name(const char *name) {
  for (unsigned s = 0; name && s < RFM_NSEGMENTS; s++)
    if (strcmp(name, seg_names[s]) == 0) return (rfm_segment_t)s;
  return RFM_NSEGMENTS;
}

void rfm_count_segments(const rfm_score_t *s, size_t n, uint64_t counts[RFM_NSEGMENTS]) {
  memset(counts, 0, RFM_NSEGMENTS * sizeof *counts);
  for (size_t i = 0; i < n; i++)
    if (s[i].segment < RFM_NSEGMENTS) counts[s[i].segment]++;
}
