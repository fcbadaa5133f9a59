/* clv_snapshot.h -- the CLV/segments model: an immutable snapshot built from the order store
 * (BG/NBD, MBG/NBD and/or Pareto/NBD + Gamma-Gamma fits, per-customer scores, RFM segments), its checksummed file format
 * (the daemon keeps it in models/clv.bin), and the read-only queries run on it (customer
 * lookup, segment pages and counts, KPI/model figures). No logging: errors come back as
 * perr_info_t for the caller to report.
 * Invariants: a snapshot is never modified after clv_snap_build/clv_snap_load return (the
 * refcount aside); every query is a pure function of one snapshot, so a request that reads
 * one pointer sees one consistent model version. */
#ifndef PATRON_CLV_SNAPSHOT_H
#define PATRON_CLV_SNAPSHOT_H

#include <stdatomic.h>
#include <stdint.h>

#include "analytics/analytics_types.h"
#include "base/arena.h"
#include "base/perr.h"
#include "clv/clv.h"
#include "store/store.h"

/* ---- model.params: the installed snapshot's figures ---- */
typedef struct model_params_result_s {
  uint64_t version;          /* 0 = no model */
  int64_t built_at, as_of;
  char currency[4];
  uint64_t customers;
  const char *status;        /* "ready", "insufficient_data", "empty" */
  char reason[160];
  clv_tx_model_t tx;         /* the served model (kind says which) */
  clv_tx_model_t fits[3];    /* BG/NBD, MBG/NBD, Pareto/NBD as fitted (version 0: not fitted) */
  int model_rule;            /* [clv] model at build: CLV_MODEL_AUTO or a clv_kind_t */
  clv_spend_model_t spend;
  unsigned horizon_months;
  double discount_monthly;
  unsigned rfm_bins;
} model_params_result_t;

/* One scored customer. */
typedef struct clv_row_s {
  uint64_t id_off;     /* in the snapshot's id pool */
  uint16_t id_len;
  uint8_t r, f, m;     /* RFM scores 1..bins */
  uint8_t segment;     /* rfm_segment_t */
  uint8_t band;        /* clv_band_t (valid when the BG/NBD fit is ok) */
  uint8_t pad;
  double p_alive;
  double expected[3];  /* expected purchases in 30 / 90 / 365 days */
  double clv;          /* minor units of the snapshot's currency */
} clv_row_t;

typedef struct clv_change_s {
  uint32_t row;        /* in the new snapshot */
  int8_t prev_segment; /* -1 = none */
  int8_t prev_band;    /* -1 = none */
} clv_change_t;

typedef struct clv_snap_s {
  atomic_int refs;
  uint64_t version;
  int64_t built_at, as_of;
  uint64_t build_ms;
  char currency[4];
  unsigned horizon_months, rfm_bins;
  double discount_monthly;
  clv_tx_model_t tx;      /* served: fits[kind - 1] chosen by model_rule (clv.h) */
  clv_tx_model_t fits[3]; /* BG/NBD, MBG/NBD, Pareto/NBD; version 0 = not fitted */
  int model_rule;         /* CLV_MODEL_AUTO or a clv_kind_t */
  clv_spend_model_t spend;
  char reason[160];    /* why the CLV part is not served ("" when it is) */
  size_t n;
  clv_row_t *rows;
  char *pool;
  size_t pool_n;
  /* derived at build/load, not persisted */
  uint32_t *hash;      /* open addressing: row index + 1, 0 = empty */
  size_t hmask;
  uint32_t *by_seg;    /* row indices sorted by (segment, id) */
  size_t seg_start[RFM_NSEGMENTS + 1];
  uint64_t bands[CLV_NBANDS];
  uint64_t clv_n;
  double clv_mean, clv_q[KPI_NQUANTILES];
  /* built only: segment/band changes against the model installed when it was built */
  uint64_t diff_base;  /* version diffed against (0 = none: no changes reported) */
  clv_change_t *changes;
  size_t nchanges;
  uint64_t changes_dropped; /* over CLV_MAX_CHANGES */
} clv_snap_t;

#define CLV_MAX_CHANGES 100000

typedef struct clv_build_opts_s {
  int64_t as_of;       /* model "now", seconds */
  unsigned horizon_months, rfm_bins;
  double discount_monthly;
  unsigned threads;
  int model;           /* [clv] model: CLV_MODEL_AUTO (fit all three, serve the lowest AIC)
                          or one clv_kind_t (fit and serve that one); 0 = auto */
} clv_build_opts_t;

/* Build from the store (any thread; reads only t, o and prev). prev (may be NULL) is the installed model: the new version
 * is prev's + 1 and changes are computed against it. NULL with e set (insufficient_data
 * when there are no orders at all). */
clv_snap_t *clv_snap_build(store_txn_t *t, const clv_build_opts_t *o, const clv_snap_t *prev,
                           uint64_t min_version, perr_info_t *e);
/* Recompute the changes against base (loop thread, when another model was installed since). */
void clv_snap_diff(clv_snap_t *s, const clv_snap_t *base);
void clv_snap_free(clv_snap_t *s);
void clv_snap_release(clv_snap_t *s); /* refs-- and free at 0 */

/* Persist (tmp + fsync + rename + fsync dir): 0, or an error code with e set. */
int clv_snap_save(const clv_snap_t *s, const char *path, perr_info_t *e);
/* Load a file clv_snap_save wrote. NULL with e set: PERR_NOT_FOUND when there is no file;
 * otherwise PERR_INTERNAL with a message naming the path and what is wrong (not a CLV
 * model file of this build, truncated, checksum mismatch, bad row). */
clv_snap_t *clv_snap_load(const char *path, perr_info_t *e);

/* Queries. */
const clv_row_t *clv_snap_find(const clv_snap_t *s, const char *id, size_t n);
static inline int clv_snap_has_clv(const clv_snap_t *s) { return s->tx.status == CLV_OK; }
static inline int clv_snap_has_value(const clv_snap_t *s) {
  return s->tx.status == CLV_OK && s->spend.status == CLV_OK;
}
void clv_snap_analytics(const clv_snap_t *s, const clv_row_t *row, cust_analytics_t *out);
/* The scores a decision's rules read (offers.decide's profile), as clv_snap_analytics gives
 * them (it fills its fields of these from here); all zero/NULL when row is NULL (not scored)
 * or s is NULL. Nothing else is filled. */
typedef struct clv_scores_s {
  int scored, has_clv, has_value;
  const char *segment, *churn_band;
  double p_alive, churn_risk;
  int64_t predicted_clv;
} clv_scores_t;
void clv_snap_scores(const clv_snap_t *s, const clv_row_t *row, clv_scores_t *out);
int clv_snap_page(const clv_snap_t *s, const segment_page_params_t *p, arena_t *a,
                  segment_page_t *out, perr_info_t *e);
void clv_snap_counts(const clv_snap_t *s, segment_list_t *out);
void clv_snap_kpi(const clv_snap_t *s, kpi_result_t *out);
void clv_snap_params(const clv_snap_t *s, model_params_result_t *out);

#endif
