/* summary.c -- one customer's transaction list -> (x, t_x, T, mean repeat spend).
 * Conventions (those of the CDNOW papers and of lifetimes): with merge_same_day, all
 * transactions on one calendar day (UTC + day_offset_s) are one transaction with the
 * amounts summed and times are whole days; x counts the transactions after the first;
 * mean_spend averages the repeat transactions only (the first is excluded).
 * Invariants: pure; never reads beyond n; output is written only on CLV_OK. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clv_internal.h"

clv_summary_opts_t clv_summary_opts_default(int64_t end_ts) {
  clv_summary_opts_t o = {CLV_SECONDS_PER_WEEK, 1, 0, end_ts};
  return o;
}

static int64_t day_of(int64_t ts, int64_t off) {
  int64_t v = ts + off;
  int64_t d = v / 86400;
  if (v % 86400 < 0) d--; /* floor for times before 1970 */
  return d;
}

int clv_summarize(const clv_txn_t *txns, size_t n, const clv_summary_opts_t *o,
                  clv_summary_t *out) {
  if (!o || !out || !(o->unit_s > 0) || !isfinite(o->unit_s) || (n && !txns))
    return CLV_INVALID_INPUT;
  for (size_t i = 1; i < n; i++)
    if (txns[i].ts < txns[i - 1].ts) return CLV_INVALID_INPUT;
  if (n == 0) return CLV_INSUFFICIENT_DATA;
  const int merge = o->merge_same_day != 0;
  const int64_t end = merge ? day_of(o->end_ts, o->day_offset_s) : o->end_ts;
  int64_t first = merge ? day_of(txns[0].ts, o->day_offset_s) : txns[0].ts;
  if (first > end) return CLV_INSUFFICIENT_DATA; /* not yet a customer at end */
  uint32_t x = 0;
  int64_t last = first;
  double repeat_sum = 0;
  for (size_t i = 1; i < n; i++) {
    const int64_t t = merge ? day_of(txns[i].ts, o->day_offset_s) : txns[i].ts;
    if (t > end) break;
    if (merge && t == last) {
      if (t != first) repeat_sum += (double)txns[i].amount; /* same repeat day: sum */
      continue;
    }
    x++;
    last = t;
    repeat_sum += (double)txns[i].amount;
  }
  const double scale = merge ? CLV_SECONDS_PER_DAY / o->unit_s : 1.0 / o->unit_s;
  out->x = x;
  out->t_x = (double)(last - first) * scale;
  out->T = (double)(end - first) * scale;
  out->mean_spend = x ? repeat_sum / x : 0.0;
  return CLV_OK;
}

static int cmp_txn(const void *a, const void *b) {
  const clv_txn_t *x = a, *y = b;
  return (x->ts > y->ts) - (x->ts < y->ts);
}

int clv_summarize_unsorted(clv_txn_t *txns, size_t n, const clv_summary_opts_t *o,
                           clv_summary_t *out) {
  if (n && !txns) return CLV_INVALID_INPUT;
  if (n > 1) qsort(txns, n, sizeof *txns, cmp_txn);
  return clv_summarize(txns, n, o, out);
}
