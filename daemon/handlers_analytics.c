/* handlers_analytics.c -- handlers of the customer-analytics methods (issue 3): kpi.report
 * (worker; the model-derived parts are added on the loop thread by an on_loop hook, so the
 * worker never reads the served model), segment.list, segment.customers, model.params and
 * customer.subscribe (loop thread, one snapshot each), feedback.record and customer.merge
 * (writer thread, in the group-commit transaction; the core validates before writing). */
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "daemon.h"
#include "model_clv.h"
#include "commerce/scan.h"
#include "offers/offers.h"

#define KPI_DEFAULT_SPAN (30 * 86400)

/* ---- kpi.report ---- */

static void kpi_on_loop(daemon_t *d, wjob_t *j) {
  if (j->rc == 0) clv_snap_kpi(clv_model_current(d), j->result);
}

static int copy_cohorts(arena_t *a, kpi_cohorts_t *c, perr_info_t *e) {
  kpi_cohorts_t in = *c;
  size_t n = in.ncohorts, nn = n * n;
  c->size = arena_memdup(a, in.size, (n ? n : 1) * sizeof *in.size);
  c->active = arena_memdup(a, in.active, (nn ? nn : 1) * sizeof *in.active);
  c->rate = arena_memdup(a, in.rate, (nn ? nn : 1) * sizeof *in.rate);
  kpi_cohorts_free(&in);
  if (!c->size || !c->active || !c->rate) {
    memset(c, 0, sizeof *c);
    return perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
  }
  return 0;
}

int handle_kpi_report(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  const kpi_params_t *p = params;
  kpi_result_t *r = result;
  kpi_period_t per;
  per.to = p->has_to ? p->to : x->now;
  per.from = p->has_from ? p->from : per.to - KPI_DEFAULT_SPAN;
  if (per.from < 0) per.from = 0;
  if (per.from >= per.to) return perr_set(e, PERR_INVALID_PARAMS, p->has_to ? "to" : "from", "from must be before to");
  if (kpi_month_index(per.to - 1) - kpi_month_index(per.from) >= 240)
    return perr_set(e, PERR_INVALID_PARAMS, "from", "the period spans more than 240 months");
  if (p->currency.p && !core_currency_valid(p->currency, NULL))
    return perr_set(e, PERR_INVALID_PARAMS, "currency", "unknown currency code");
  store_txn_t *t = exec_txn(x, e);
  if (!t) return e->code;
  scan_t sc;
  int rc = scan_orders(t, &sc, e);
  if (rc) return rc;
  feedback_row_t *fb = NULL;
  size_t nfb = 0;
  kpi_order_t *ko = NULL;
  kpi_feedback_t *kf = NULL;
  if ((rc = core_feedback_list(t, &fb, &nfb, e))) goto out;
  int cur;
  if (p->currency.p) {
    memcpy(r->currency, p->currency.p, 3);
    cur = scan_currency_index(&sc, p->currency.p, 3);
  } else {
    cur = scan_main_currency(&sc);
    memcpy(r->currency, cur >= 0 ? sc.currencies[cur] : "   ", 3);
    if (cur < 0) r->currency[0] = 0;
  }
  ko = malloc((sc.norders ? sc.norders : 1) * sizeof *ko);
  kf = malloc((nfb ? nfb : 1) * sizeof *kf);
  if (!ko || !kf) {
    rc = perr_set(e, PERR_UNAVAILABLE, NULL, "out of memory");
    goto out;
  }
  size_t n = 0;
  for (size_t i = 0; i < sc.norders && cur >= 0; i++) {
    const scan_order_t *o = &sc.orders[i];
    if (o->currency != (uint16_t)cur) continue;
    ko[n].customer = o->customer;
    ko[n].ts = o->ts;
    ko[n].amount = o->total;
    ko[n].refunded = o->refunded;
    n++;
  }
  for (size_t i = 0; i < nfb; i++) {
    kf[i].kind = fb[i].kind;
    kf[i].score = fb[i].score;
    kf[i].ts = fb[i].ts;
  }
  r->prev.to = per.from;
  r->prev.from = per.from - (per.to - per.from);
  if (kpi_report(ko, n, sc.ncustomers, kf, nfb, per, &r->report) ||
      kpi_retention(ko, n, sc.ncustomers, r->prev, per, &r->retention) ||
      kpi_cohorts(ko, n, sc.ncustomers, per, &r->cohorts)) {
    rc = perr_set(e, PERR_UNAVAILABLE, NULL, "cannot compute the report (out of memory)");
    goto out;
  }
  if ((rc = copy_cohorts(x->arena, &r->cohorts, e))) goto out;
  x->job->on_loop = kpi_on_loop;
out:
  free(ko);
  free(kf);
  free(fb);
  scan_free(&sc);
  return rc;
}

/* ---- segments, params, subscription (loop thread) ---- */

int handle_segment_list(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  (void)params; (void)e;
  clv_snap_counts(clv_model_current(x->d), result);
  return 0;
}

int handle_segment_customers(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  return clv_snap_page(clv_model_current(x->d), params, x->arena, result, e);
}

int handle_model_params(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  model_params_result_t *r = result;
  (void)params; (void)e;
  clv_snap_params(clv_model_current(x->d), r);
  if (!r->version) { /* the settings a build would use */
    r->horizon_months = (unsigned)x->d->cfg.clv_horizon_months;
    r->discount_monthly = (double)x->d->cfg.clv_discount_monthly_bp / 10000.0;
    r->rfm_bins = (unsigned)x->d->cfg.rfm_bins;
    r->model_rule = (int)x->d->cfg.clv_model;
  }
  return 0;
}

int handle_customer_subscribe(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  const subscribe_params_t *p = params;
  if (!x->conn) return perr_set(e, PERR_INVALID_REQUEST, NULL, "no connection to subscribe");
  x->conn->subscribed = p->subscribed;
  ((subscribe_result_t *)result)->subscribed = p->subscribed;
  return 0;
}

/* ---- writes (writer thread) ---- */

int handle_feedback_record(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  return core_feedback_record(x->txn, params, x->now, result, e);
}

int handle_customer_merge(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  return core_customer_merge(x->txn, params, x->now, result, e);
}

/* customer.export / customer.forget (commerce/privacy.h). The forget's log line names only
 * the pseudonym and the counts (no personal data); the LMDB free pages that still hold the
 * erased bytes are zeroed by the writer after the commit (store_scrub_free_pages). */
int handle_customer_export(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  const id_params_t *p = params;
  store_txn_t *t = exec_txn(x, e);
  return t ? core_customer_export(t, p->id, x->now, x->arena, result, e) : e->code;
}

int handle_customer_forget(exec_ctx_t *x, const void *params, void *result, perr_info_t *e) {
  CONTRACT_WRITE_TXN(x);
  int rc = core_customer_forget(x->txn, params, x->now, result, e);
  forget_result_t *fr = result;
  const forget_t *f = params;
  char *id = rc && rc != PERR_NOT_FOUND ? NULL
                                        : arena_strndup(x->arena, f->customer_id.p, f->customer_id.n);
  if ((!rc || rc == PERR_NOT_FOUND) && !id) rc = perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  if (!rc) { /* same txn: the offers rows (sticky arms, exposures, caps) follow the pseudonym */
    rc = offers_customer_rekey(x->txn, id, fr->pseudonym, &fr->offers, e);
  } else if (rc == PERR_NOT_FOUND) { /* no customer record, but offers rows may name the id
                                      * (decisions and events for an id never upserted):
                                      * they are erased, and the forget answers with an empty
                                      * pseudonym; nothing at all: not_found as before */
    perr_info_t oe = {0};
    uint64_t n = 0;
    int orc = offers_customer_erase(x->txn, id, &n, &oe);
    if (orc) {
      *e = oe;
      rc = orc;
    } else if (n) {
      memset(fr, 0, sizeof *fr);
      fr->offers = n;
      memset(e, 0, sizeof *e);
      rc = 0;
    }
  }
  if (!rc && !fr->pseudonym[0])
    log_notice("customer.forget: personal data erased, no customer record (%llu offers rows)",
               (unsigned long long)fr->offers);
  else if (!rc)
    log_notice("customer.forget: personal data erased, id replaced by %s (%llu orders, %llu "
               "feedback)",
               fr->pseudonym, (unsigned long long)fr->orders, (unsigned long long)fr->feedback);
  return rc;
}
