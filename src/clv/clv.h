/* clv.h -- customer-lifetime-value core: turning a customer's transactions into an RFM
 * summary (x, t_x, T, mean spend), fitting BG/NBD, MBG/NBD and Gamma-Gamma by maximum
 * likelihood, and scoring customers (P(alive), expected purchases, expected spend, CLV,
 * churn-risk band).
 *
 * Invariants:
 *  - Pure functions, no global mutable state: every call may run in any thread at once.
 *    Fits may themselves use up to opts.threads worker threads (pthreads) internally.
 *  - Fitted models (clv_tx_model_t, clv_spend_model_t) are plain old data: fixed size, no
 *    pointers, a version field first, so they can be persisted and reloaded byte-wise.
 *  - No result is ever NaN: a fit that cannot be trusted says so in its status + reason,
 *    and predictions on a model that is not usable (version != CLV_MODEL_VERSION, status
 *    not CLV_OK, e.g. a zeroed struct) return 0.
 *
 * Units. Times inside a summary and a model are in the model's time unit (a parameter of
 * the summary builder; weeks for CDNOW, recorded in the model as time_unit_s seconds).
 * Money is whatever unit the caller put into the summaries' mean_spend (the summary
 * builder uses the transactions' minor units), and CLV comes out in the same unit.
 *
 * Models (r, alpha, a, b, p, q, gamma are the papers' names):
 *  BG/NBD (Fader, Hardie & Lee 2005): while alive a customer buys as Poisson(lambda),
 *    lambda ~ Gamma(r, alpha); after each purchase they drop out with probability p,
 *    p ~ Beta(a, b).  Likelihood of (x, t_x, T):
 *      L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
 *        + [x>0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))
 *    written in logs as A1 + A2 + A3 + log(1 + [x>0] exp(A4)).
 *  MBG/NBD (Batislam, Denizel & Filiztekin 2007): as BG/NBD but a customer may also drop
 *    out right after the first purchase (the [x>0] indicator disappears, b+x -> b+x+1).
 *  Pareto/NBD (Schmittlein, Morrison & Colombo 1987): purchases Poisson(lambda) as above;
 *    lifetime exponential(mu), mu ~ Gamma(s, beta), dropout at any time (not only after a
 *    purchase). Likelihood with the Gauss 2F1 in the BTYD formulation (pnbd.c).
 *  Gamma-Gamma (Fader & Hardie 2013 note 025): the mean spend m_x of x repeat
 *    transactions; z ~ Gamma(p, nu), nu ~ Gamma(q, gamma); fit on customers with x > 0
 *    and m_x > 0 only.  E[M | x, m_x] = p (gamma + x m_x) / (p x + q - 1)   (q > 1).
 *
 * CLV (discounted, discrete months; the lifetimes convention):
 *    CLV = sum_{m=1..H} E[spend] * (E[Y(m L)] - E[Y((m-1) L)]) / (1 + d)^m
 *  where E[Y(t)] is the customer's conditional expected number of purchases in (T, T+t],
 *  L is one month in model time units (30.436875 days = 365.2425/12, converted with the
 *  model's time_unit_s), H the horizon in months and d the monthly discount rate
 *  (0.01 = 1 % a month, applied at each month's end). E[spend] is the Gamma-Gamma
 *  conditional expected spend per transaction. CLV is in the money unit of mean_spend.
 */
#ifndef PATRON_CLV_H
#define PATRON_CLV_H

#include <stddef.h>
#include <stdint.h>

#define CLV_MODEL_VERSION 1u
#define CLV_REASON_MAX 128
#define CLV_SECONDS_PER_DAY 86400.0
#define CLV_SECONDS_PER_WEEK 604800.0
#define CLV_DAYS_PER_MONTH 30.436875 /* 365.2425 / 12 */

typedef enum {
  CLV_OK = 0,
  CLV_INSUFFICIENT_DATA = 1, /* too few customers / repeat buyers / spend variation */
  CLV_NOT_CONVERGED = 2,     /* optimiser failed or parameters ran to their bounds */
  CLV_INVALID_INPUT = 3,     /* a row is malformed (negative, NaN, t_x > T, unsorted...) */
  CLV_NOMEM = 4,
  CLV_NOT_FITTED = 5         /* a zeroed model */
} clv_status_t;

/* Stable lower-case name ("ok", "insufficient_data", "not_converged", ...). */
const char *clv_status_name(int status);

/* ---------------------------------------------------------------- summaries */

typedef struct clv_txn_s {
  int64_t ts;      /* seconds since the Unix epoch, UTC */
  int64_t amount;  /* minor units; may be 0 */
} clv_txn_t;

typedef struct clv_summary_s {
  uint32_t x;        /* repeat transactions (transactions after the first) */
  double t_x;        /* time of last transaction - time of first, model time units */
  double T;          /* end of observation - time of first transaction, model time units */
  double mean_spend; /* mean amount of the REPEAT transactions (first excluded), 0 if x = 0 */
} clv_summary_t;

typedef struct clv_summary_opts_s {
  double unit_s;        /* seconds per model time unit: CLV_SECONDS_PER_WEEK for CDNOW */
  int merge_same_day;   /* 1: transactions on one day are one transaction (amounts summed),
                           and times are whole days (the CDNOW convention) */
  int64_t day_offset_s; /* shop's UTC offset in seconds for day boundaries (0 = UTC days) */
  int64_t end_ts;       /* end of observation (calibration end). Transactions later than
                           end_ts (later than its day when merging) are ignored. */
} clv_summary_opts_t;

/* Defaults: weeks, merge same-day, UTC days; end_ts must still be set by the caller. */
clv_summary_opts_t clv_summary_opts_default(int64_t end_ts);

/* One customer's transactions, sorted by ts ascending (ties allowed) -> summary.
 * With merge_same_day: t_x = (last day - first day) days, T = (day(end_ts) - first day) days,
 * both converted to unit_s. Without: raw seconds differences. A customer whose first
 * transaction is after end_ts gets CLV_INSUFFICIENT_DATA (not in the cohort); unsorted
 * input or unit_s <= 0 gives CLV_INVALID_INPUT. Returns a clv_status_t. */
int clv_summarize(const clv_txn_t *txns, size_t n, const clv_summary_opts_t *o,
                  clv_summary_t *out);
/* Same, for unsorted input: sorts txns in place first (stable for equal ts irrelevant). */
int clv_summarize_unsorted(clv_txn_t *txns, size_t n, const clv_summary_opts_t *o,
                           clv_summary_t *out);

/* ---------------------------------------------------------------- models */

typedef enum {
  CLV_KIND_NONE = 0,
  CLV_KIND_BGNBD = 1,
  CLV_KIND_MBGNBD = 2,
  CLV_KIND_PNBD = 3 /* Pareto/NBD: fields a, b hold s, beta */
} clv_kind_t;

/* Stable lower-case name: "bgnbd", "mbgnbd", "pnbd" ("none" otherwise). */
const char *clv_kind_name(int kind);

/* A fitted purchase-count model. Plain old data; version first. For CLV_KIND_PNBD the
 * fields a and b hold the Pareto/NBD dropout parameters s and beta (beta in time units). */
typedef struct clv_tx_model_s {
  uint32_t version;      /* CLV_MODEL_VERSION */
  uint32_t kind;         /* clv_kind_t */
  int32_t status;        /* clv_status_t */
  uint32_t iterations;   /* likelihood evaluations used */
  double r, alpha, a, b; /* alpha in model time units */
  double ll;             /* maximised log-likelihood (all constants included) */
  double se[4];          /* standard errors of (r, alpha, a, b) from the inverted numerical
                            Hessian of ll at the optimum; all 0 = not available */
  double time_unit_s;    /* seconds per model time unit (0 = unknown) */
  double T_max;          /* largest T seen by the fit */
  uint64_t n_customers;  /* rows used */
  uint64_t n_distinct;   /* distinct (x, t_x, T) rows after grouping */
  uint64_t n_repeat;     /* customers with x > 0 */
  uint64_t work_bytes;   /* peak heap bytes of the fit's working set */
  char reason[CLV_REASON_MAX]; /* "" when status == CLV_OK */
} clv_tx_model_t;

/* A fitted Gamma-Gamma spend model. Plain old data; version first. */
typedef struct clv_spend_model_s {
  uint32_t version;
  int32_t status;
  uint32_t iterations;
  uint32_t reserved;
  double p, q, gamma;    /* gamma in money units of mean_spend ("v" in lifetimes) */
  double ll;             /* log-likelihood of the m_x densities */
  double mean_spend;     /* population mean spend p*gamma/(q-1) (0 if q <= 1) */
  uint64_t n_customers;  /* rows used (x > 0 and mean_spend > 0) */
  uint64_t n_distinct;
  uint64_t work_bytes;
  char reason[CLV_REASON_MAX];
} clv_spend_model_t;

typedef struct clv_fit_opts_s {
  unsigned threads;          /* worker threads for the likelihood sums (1..16); default 2 */
  size_t min_customers;      /* fewer rows -> insufficient_data; default 10 */
  size_t min_repeat;         /* fewer customers with x > 0 -> insufficient_data; default 3 */
  double xtol_rel;           /* NLopt relative tolerance on log-parameters; default 1e-10 */
  unsigned max_eval;         /* default 2000 */
  int warm_start;            /* 1: pre-fit on a subsample of rows when there are many
                                distinct rows, then polish on all rows; default 1 */
  int std_errors;            /* 1: fill m->se (33 more likelihood evaluations: about the cost
                                of the BG/NBD fit itself); default 0 */
} clv_fit_opts_t;

clv_fit_opts_t clv_fit_opts_default(void);

/* Fits BG/NBD (kind CLV_KIND_BGNBD), MBG/NBD (CLV_KIND_MBGNBD) or Pareto/NBD
 * (CLV_KIND_PNBD) to n summaries; standard errors (m->se) come from the numerical Hessian. Identical
 * (x, t_x, T) rows are grouped with a hash table first, so the cost of each likelihood
 * evaluation grows with distinct rows. time_unit_s is recorded in the model (0 = unknown).
 * opts may be NULL (defaults). Always fills *m (status + reason); returns m->status. */
int clv_tx_fit(clv_kind_t kind, const clv_summary_t *s, size_t n, double time_unit_s,
               const clv_fit_opts_t *opts, clv_tx_model_t *m);

/* The served-model rule ([clv] model): CLV_MODEL_AUTO fits BG/NBD, MBG/NBD and Pareto/NBD
 * and serves the one with the lowest AIC = 2k - 2 LL. All three have k = 4 parameters, so
 * this is the highest log-likelihood; ties go to the earlier kind (BG/NBD first). A kind
 * fits and serves that model only. */
#define CLV_MODEL_AUTO 0
/* "auto", "bgnbd", "mbgnbd", "pnbd" -> CLV_MODEL_AUTO or a clv_kind_t; -1 if unknown. */
int clv_model_rule_parse(const char *s);
const char *clv_model_rule_name(int rule); /* inverse of the above */
/* AIC of a fitted model (2 * 4 - 2 ll); HUGE_VAL unless it is a fitted model (version
 * CLV_MODEL_VERSION, a kind, status CLV_OK: a zeroed struct is not). */
double clv_tx_aic(const clv_tx_model_t *m);
/* Index of the lowest-AIC model with status CLV_OK among m[0..n); -1 if none. */
int clv_tx_select(const clv_tx_model_t *m, size_t n);

/* Log-likelihood and its gradient w.r.t. (r, alpha, a, b) at the given parameters
 * (grad may be NULL; Pareto/NBD: central differences). For tests and diagnostics;
 * single-threaded. */
double clv_tx_loglik(clv_kind_t kind, const clv_summary_t *s, size_t n, const double par[4],
                     double grad[4]);

/* Fits Gamma-Gamma on the rows with x > 0 and mean_spend > 0. Returns m->status. */
int clv_spend_fit(const clv_summary_t *s, size_t n, const clv_fit_opts_t *opts,
                  clv_spend_model_t *m);

/* Builds a model by hand from known parameters (status CLV_OK when they are valid). */
void clv_tx_model_set(clv_tx_model_t *m, clv_kind_t kind, double r, double alpha, double a,
                      double b, double time_unit_s);
void clv_spend_model_set(clv_spend_model_t *m, double p, double q, double gamma);

/* Gauss hypergeometric 2F1(a, b; c; z) for 0 <= z < 1 by its power series (a, b, c > 0),
 * summed until a term is below 1e-17 of the sum. Returns the partial sum and sets *ok = 0
 * (ok may be NULL) if that took more than 2,000,000 terms (z very close to 1). */
double clv_hyp2f1(double a, double b, double c, double z, int *ok);

/* ---------------------------------------------------------------- predictions
 * Single-customer predictions; exact (Gauss hypergeometric series). t, t_x, T in model
 * time units. All return 0 when the model's status is not CLV_OK. */

/* P(alive | x, t_x, T). */
double clv_p_alive(const clv_tx_model_t *m, uint32_t x, double t_x, double T);
/* E[Y(t) | x, t_x, T]: expected purchases in the next t time units. */
double clv_expected_purchases(const clv_tx_model_t *m, double t, uint32_t x, double t_x,
                              double T);
/* E[X(t)] for a customer just acquired (unconditional, population mean). */
double clv_expected_purchases_new(const clv_tx_model_t *m, double t);
/* P(X(t) = k) for a new customer (BG/NBD only; 0 for other kinds). */
double clv_prob_purchases(const clv_tx_model_t *m, double t, uint32_t k);
/* Gamma-Gamma E[M | x, m_x] (population mean p*gamma/(q-1) when x == 0). */
double clv_expected_spend(const clv_spend_model_t *g, uint32_t x, double mean_spend);

typedef struct clv_value_opts_s {
  unsigned months;        /* horizon H in months; default 12 */
  double discount_month;  /* d, monthly discount rate; default 0.01 */
  double month_units;     /* L in model time units; 0 = from the model's time_unit_s */
} clv_value_opts_t;

clv_value_opts_t clv_value_opts_default(void);

/* CLV of one customer (formula at the top of this file). */
double clv_value(const clv_tx_model_t *m, const clv_spend_model_t *g,
                 const clv_value_opts_t *o, const clv_summary_t *s);

typedef enum {
  CLV_BAND_LOW = 0,      /* churn risk < 0.25 */
  CLV_BAND_MEDIUM = 1,   /* 0.25 <= risk < 0.50 */
  CLV_BAND_HIGH = 2,     /* 0.50 <= risk < 0.75 */
  CLV_BAND_CRITICAL = 3  /* risk >= 0.75 */
} clv_band_t;

/* Churn risk = 1 - P(alive); band by the thresholds above. */
clv_band_t clv_churn_band(double p_alive);
const char *clv_band_name(clv_band_t b); /* "low", "medium", "high", "critical" */

/* ---------------------------------------------------------------- bulk scoring
 * A plan precomputes, for each frequency x up to a cap, a Chebyshev interpolant of the
 * discounted expected purchases as a function of log(alpha + T), so one customer costs a
 * handful of flops instead of H hypergeometric series. Each interpolant is checked
 * against the exact formula at build time (relative error <= 1e-9); frequencies that fail,
 * BG/NBD and MBG/NBD only (clv_plan_new returns NULL for Pareto/NBD: score exactly);
 * or customers outside the plan's T range, fall back to the exact path. Immutable once
 * built: one plan may be shared by many threads. */

#define CLV_MAX_HORIZONS 3

typedef struct clv_score_s {
  double p_alive;
  double expected[CLV_MAX_HORIZONS]; /* E[Y(h_i)] for the plan's horizons */
  double spend;                      /* Gamma-Gamma expected spend per transaction */
  double clv;
  uint8_t band;                      /* clv_band_t */
} clv_score_t;

typedef struct clv_plan_s clv_plan_t;

/* horizons: up to CLV_MAX_HORIZONS horizons in model time units for `expected`.
 * T_max: largest T to tabulate (customers with larger T use the exact path).
 * x_max: largest frequency to tabulate (capped at 512; larger x use the exact path).
 * Build cost grows with x_max (about 1 ms per 10 frequencies on one core; two threads are
 * used). g may be NULL or not CLV_OK: spend and CLV are then 0. o NULL = defaults.
 * Returns NULL on bad input (model not CLV_OK, > CLV_MAX_HORIZONS horizons, non-finite
 * values) or when out of memory; the plan copies the models. */
clv_plan_t *clv_plan_new(const clv_tx_model_t *m, const clv_spend_model_t *g,
                         const clv_value_opts_t *o, const double *horizons,
                         size_t nhorizons, double T_max, uint32_t x_max);
void clv_plan_free(clv_plan_t *p);

/* Scores n summaries into out[0..n). threads: 1..16 pthreads. Returns a clv_status_t. */
int clv_score_many(const clv_plan_t *p, const clv_summary_t *s, size_t n, unsigned threads,
                   clv_score_t *out);

#endif
