/* recs_eval.h -- the offline evaluation protocol of ../shared/data/online_retail/EVALUATION.md
 * (leave-last-basket-out, HR/NDCG/MRR/coverage@10), run in process against the recs core.
 * Input is any CSV with the UCI Online Retail columns (InvoiceNo, StockCode, Quantity,
 * InvoiceDate, UnitPrice, CustomerID; found by header name, any order, extra columns
 * ignored). Used by bench/recs_eval_offline.c and tests/unit/test_recs_eval.c. */
#ifndef PATRON_RECS_EVAL_H
#define PATRON_RECS_EVAL_H

#include <stdint.h>
#include <stdio.h>

#include "recs.h"

typedef struct recs_eval_data_s recs_eval_data_t;

typedef struct recs_eval_metrics_s {
  size_t rows, kept_rows, invoices, customers; /* input after cleaning */
  size_t train_baskets, train_items, cases;
  size_t hidden_unseen;  /* hidden items never seen in training */
  double hr, ndcg, mrr, coverage;
  size_t fallback_slots; /* answer slots filled by the popularity fallback */
  double build_seconds, score_us_mean;
} recs_eval_metrics_t;

/* Reads and cleans the CSV, forms baskets and test cases. */
int recs_eval_load(FILE *csv, recs_eval_data_t **out, perr_info_t *e);
void recs_eval_free(recs_eval_data_t *d);
/* Builds a model from the training baskets with cfg and answers every case with recs_cart
 * (cart + history, top k) using params p (NULL = defaults). k = 10 in the protocol. */
int recs_eval_run(const recs_eval_data_t *d, const recs_config_t *cfg, const recs_params_t *p,
                  size_t k, recs_eval_metrics_t *m, perr_info_t *e);

/* As recs_eval_run; flags RECS_EVAL_CART_ONLY answers every case without the customer's
 * history (each customer treated as new: the cart alone). */
#define RECS_EVAL_CART_ONLY 1u
int recs_eval_run_flags(const recs_eval_data_t *d, const recs_config_t *cfg,
                        const recs_params_t *p, size_t k, unsigned flags, recs_eval_metrics_t *m,
                        perr_info_t *e);

/* One build, then the cases answered once per params set ps[0..np) (ps NULL: np = 1 with the
 * defaults); ms[i] are the metrics of ps[i]. For sweeps of the serving knobs. */
int recs_eval_run_many(const recs_eval_data_t *d, const recs_config_t *cfg,
                       const recs_params_t *ps, size_t np, size_t k, unsigned flags,
                       recs_eval_metrics_t *ms, perr_info_t *e);
/* As recs_eval_run_many, with the training invoices of the last delta_days days (before the
 * newest training invoice) left out of the build and recorded into an incremental delta
 * (recs_delta_add_basket) that every case is scored with: the state between two rebuilds.
 * Coverage still divides by the snapshot's items. delta_days 0 = recs_eval_run_many. */
int recs_eval_run_delta(const recs_eval_data_t *d, const recs_config_t *cfg,
                        const recs_params_t *ps, size_t np, size_t k, unsigned flags,
                        uint32_t delta_days, recs_eval_metrics_t *ms, perr_info_t *e);

/* The validation protocol (docs/BENCHMARKS.md): drop the test invoices (the protocol's cases),
 * then every invoice dated at or after cutoff, and derive the cases again by the same rule
 * from what remains. Knobs are chosen on it; it never sees a test invoice.
 * RECS_EVAL_VALIDATION_CUTOFF = 2011-09-01 00:00:00 (InvoiceDate read as UTC). */
#define RECS_EVAL_VALIDATION_CUTOFF INT64_C(1314835200)
int recs_eval_to_validation(recs_eval_data_t *d, int64_t cutoff, perr_info_t *e);

/* ---- access for tools that answer the cases elsewhere (bench/recs_eval_socket.c asks a
 * real patrond over its socket): the same cleaned invoices, test cases and metrics. ---- */
typedef struct recs_eval_invoice_s {
  const char *name, *customer;  /* InvoiceNo, CustomerID (not NUL-terminated) */
  size_t name_len, customer_len;
  int64_t ts;                   /* InvoiceDate, seconds (UTC as written) */
  int test;                     /* 1: a test invoice (not in training) */
  size_t nitems;                /* distinct StockCodes, file order */
} recs_eval_invoice_t;
size_t recs_eval_ninvoices(const recs_eval_data_t *d);
/* Index of the r-th invoice in protocol order (InvoiceDate, then InvoiceNo). */
size_t recs_eval_invoice_rank(const recs_eval_data_t *d, size_t r);
void recs_eval_invoice(const recs_eval_data_t *d, size_t i, recs_eval_invoice_t *out);
const char *recs_eval_invoice_item(const recs_eval_data_t *d, size_t i, size_t j, size_t *len);
size_t recs_eval_ncases(const recs_eval_data_t *d);
/* Case c: its (test) invoice index and hidden item; the cart is the invoice's other items;
 * the history is the customer's training invoices. */
void recs_eval_case(const recs_eval_data_t *d, size_t c, size_t *invoice, const char **hidden,
                    size_t *hidden_len);
/* Input counts (rows, kept_rows, invoices, customers, cases, train_baskets, train_items). */
void recs_eval_counts(const recs_eval_data_t *d, recs_eval_metrics_t *m);
/* Metrics: add one case whose hidden item came at rank (0-based; -1 = not in the top k);
 * then divide by the cases and set coverage = covered / train_items. */
void recs_eval_add_case(recs_eval_metrics_t *m, int rank);
void recs_eval_finish(recs_eval_metrics_t *m, size_t covered);

#endif
