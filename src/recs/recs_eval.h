/* recs_eval.h -- the offline evaluation protocol of ../shared/data/online_retail/EVALUATION.md
 * (leave-last-basket-out, HR/NDCG/MRR/coverage@10), run in process against the recs core.
 * Input is any CSV with the UCI Online Retail columns (InvoiceNo, StockCode, Quantity,
 * InvoiceDate, UnitPrice, CustomerID; found by header name, any order, extra columns
 * ignored). Used by bench/recs_eval_offline.c and tests/unit/test_recs_eval.c. */
#ifndef PATRON_RECS_EVAL_H
#define PATRON_RECS_EVAL_H

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

#endif
