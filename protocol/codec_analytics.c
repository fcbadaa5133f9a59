/* codec_analytics.c -- decoders/encoders of the customer-analytics methods (issue 3):
 * kpi.report, segment.list, segment.customers, feedback.record, customer.merge,
 * customer.subscribe, model.params, customer.get's analytics fields and the customer.changed
 * notification. Decoders check types, presence and bounds and name the exact field; the
 * core re-checks the semantic rules. Encoders write nil for what is not known (no model). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "methods.h"
#include "params.h"
#include "rpc.h"

#define TS_MAX 32503680000LL /* year 3000 */
#define KPI_SPAN_MAX (20LL * 366 * 86400) /* cohort matrix: at most 240 months */

static const pspec_t no_fields = {NULL, 0};

static void kv_strn_or_nil(msgpack_packer *pk, const char *k, const char *s) {
  if (s) pk_kv_str(pk, k, s);
  else pk_kv_nil(pk, k);
}

static int64_t round_money(double v) {
  if (!isfinite(v)) return 0;
  if (v > 9e18) return INT64_MAX;
  if (v < -9e18) return INT64_MIN;
  return (int64_t)llround(v);
}

/* ---- customer.get's analytics fields ---- */

void enc_customer_analytics(msgpack_packer *pk, const cust_analytics_t *a) {
  int ok = a->model_version && a->scored;
  int clv = ok && a->has_clv, val = clv && a->has_value;
  if (ok) {
    pk_str(pk, "rfm");
    PK_MAP(pk) {
      pk_kv_uint(pk, "recency", a->r);
      pk_kv_uint(pk, "frequency", a->f);
      pk_kv_uint(pk, "monetary", a->m);
    }
  } else {
    pk_kv_nil(pk, "rfm");
  }
  kv_strn_or_nil(pk, "segment", ok ? a->segment : NULL);
  if (clv) pk_kv_double(pk, "p_alive", a->p_alive);
  else pk_kv_nil(pk, "p_alive");
  if (clv) {
    pk_str(pk, "expected_purchases");
    PK_MAP(pk) {
      pk_kv_double(pk, "30d", a->expected[0]);
      pk_kv_double(pk, "90d", a->expected[1]);
      pk_kv_double(pk, "365d", a->expected[2]);
    }
  } else {
    pk_kv_nil(pk, "expected_purchases");
  }
  if (val) pk_kv_int(pk, "predicted_clv", a->predicted_clv);
  else pk_kv_nil(pk, "predicted_clv");
  kv_strn_or_nil(pk, "clv_currency", val ? a->currency : NULL);
  if (clv) pk_kv_double(pk, "churn_risk", a->churn_risk);
  else pk_kv_nil(pk, "churn_risk");
  kv_strn_or_nil(pk, "churn_band", clv ? a->churn_band : NULL);
  if (a->model_version) pk_kv_uint(pk, "model_version", a->model_version);
  else pk_kv_nil(pk, "model_version");
  if (ok) pk_kv_int(pk, "scored_as_of", a->as_of);
  else pk_kv_nil(pk, "scored_as_of");
}

/* ---- kpi.report ---- */

static int kpi_period_ok(const pmap_t *m, const pfield_t *f, void *out, arena_t *a,
                         perr_info_t *e) {
  const kpi_params_t *p = out;
  (void)m; (void)f; (void)a;
  if (p->has_from && p->has_to) {
    if (p->from >= p->to) return perr_set(e, PERR_INVALID_PARAMS, "to", "to must be after from");
    if (p->to - p->from > KPI_SPAN_MAX)
      return perr_set(e, PERR_INVALID_PARAMS, "from", "the period is longer than 20 years");
  }
  return 0;
}

static const pfield_t kpi_report_fields[] = {
    P_INT(kpi_params_t, "from", from, 0, 0, TS_MAX, .present = PF_PRESENT(kpi_params_t, has_from)),
    P_INT(kpi_params_t, "to", to, 0, 0, TS_MAX, .present = PF_PRESENT(kpi_params_t, has_to)),
    P_STR(kpi_params_t, "currency", currency, 0, 3, 3, .check = kpi_period_ok),
};
static const pspec_t kpi_report_spec = PSPEC(kpi_report_fields);

PARAMS_DECODER(kpi_report)

static void pack_period(msgpack_packer *pk, const char *k, kpi_period_t p) {
  pk_str(pk, k);
  PK_MAP(pk) {
    pk_kv_int(pk, "from", p.from);
    pk_kv_int(pk, "to", p.to);
  }
}

static void month_name(int32_t mi, char buf[16]) {
  snprintf(buf, 16, "%04d-%02d", (int)(mi / 12) % 10000, (int)(mi % 12) + 1);
}


/* "churn_bands": {band: count} when the model has CLV figures, else nil. */
static void pk_churn_bands(msgpack_packer *pk, int ok, const uint64_t *bands) {
  pk_str(pk, "churn_bands");
  if (!ok) {
    msgpack_pack_nil(pk);
    return;
  }
  PK_MAP(pk) {
    for (int b = 0; b < CLV_NBANDS; b++) pk_kv_uint(pk, clv_band_name((clv_band_t)b), bands[b]);
  }
}

void enc_kpi_report(msgpack_packer *pk, const void *result) {
  const kpi_result_t *r = result;
  const kpi_report_t *k = &r->report;
  static const double probs[KPI_NQUANTILES] = {0.10, 0.25, 0.50, 0.75, 0.90, 0.99};
  static const char *const qn[KPI_NQUANTILES] = {"p10", "p25", "p50", "p75", "p90", "p99"};
  (void)probs;
  PK_MAP(pk) {
    pack_period(pk, "period", k->period);
    pk_kv_str(pk, "currency", r->currency);
    pk_str(pk, "revenue");
    PK_MAP(pk) {
      pk_kv_int(pk, "gross", k->revenue_gross);
      pk_kv_int(pk, "refunded", k->refunded);
      pk_kv_int(pk, "net", k->revenue_net);
    }
    pk_kv_uint(pk, "orders", k->orders);
    pk_kv_int(pk, "aov", round_money(k->aov));
    pk_kv_uint(pk, "customers", k->customers);
    pk_kv_uint(pk, "new_customers", k->new_customers);
    pk_kv_uint(pk, "repeat_customers", k->repeat_customers);
    pk_kv_double(pk, "purchase_frequency", k->purchase_freq);
    pk_kv_double(pk, "repeat_rate", k->repeat_rate);
    pk_kv_double(pk, "refund_rate", k->refund_rate);
    pk_kv_uint(pk, "refunded_orders", k->refunded_orders);
    pk_kv_double(pk, "refund_order_rate", k->refund_order_rate);
    pk_str(pk, "retention");
    PK_MAP(pk) {
      pack_period(pk, "previous_period", r->prev);
      pk_kv_uint(pk, "base", r->retention.base);
      pk_kv_uint(pk, "retained", r->retention.retained);
      pk_kv_double(pk, "retention", r->retention.retention);
      pk_kv_double(pk, "churn", r->retention.churn);
    }
    pk_str(pk, "cohorts");
    msgpack_pack_array(pk, r->cohorts.ncohorts);
    for (size_t c = 0; c < r->cohorts.ncohorts; c++) {
      char mb[16];
      month_name(r->cohorts.first_month + (int32_t)c, mb);
      const double *row = r->cohorts.rate + c * r->cohorts.ncohorts;
      size_t cols = 0;
      while (cols + c < r->cohorts.ncohorts && row[cols] >= 0) cols++;
      PK_MAP(pk) {
        pk_kv_str(pk, "month", mb);
        pk_kv_uint(pk, "size", r->cohorts.size[c]);
        pk_str(pk, "active");
        msgpack_pack_array(pk, cols);
        for (size_t j = 0; j < cols; j++)
          msgpack_pack_uint64(pk, r->cohorts.active[c * r->cohorts.ncohorts + j]);
        pk_str(pk, "retention");
        msgpack_pack_array(pk, cols);
        for (size_t j = 0; j < cols; j++) msgpack_pack_double(pk, row[j]);
      }
    }
    pk_str(pk, "nps");
    PK_MAP(pk) {
      if (k->nps_responses) pk_kv_double(pk, "score", k->nps);
      else pk_kv_nil(pk, "score");
      pk_kv_uint(pk, "responses", k->nps_responses);
      pk_kv_uint(pk, "promoters", k->promoters);
      pk_kv_uint(pk, "passives", k->passives);
      pk_kv_uint(pk, "detractors", k->detractors);
    }
    pk_str(pk, "csat");
    PK_MAP(pk) {
      if (k->csat_responses) pk_kv_double(pk, "score", k->csat);
      else pk_kv_nil(pk, "score");
      pk_kv_uint(pk, "responses", k->csat_responses);
      pk_kv_uint(pk, "satisfied", k->csat_satisfied);
    }
    pk_kv_uint(pk, "invalid_feedback", k->invalid_feedback);
    /* from the installed model */
    if (r->model_version) pk_kv_uint(pk, "model_version", r->model_version);
    else pk_kv_nil(pk, "model_version");
    pk_str(pk, "clv");
    if (r->model_version && r->has_value) {
      PK_MAP(pk) {
        pk_kv_str(pk, "currency", r->model_currency);
        pk_kv_int(pk, "as_of", r->model_as_of);
        pk_kv_uint(pk, "customers", r->clv_n);
        pk_kv_int(pk, "mean", round_money(r->clv_mean));
        pk_kv_int(pk, "total", round_money(r->clv_mean * (double)r->clv_n));
        for (int i = 0; i < KPI_NQUANTILES; i++) pk_kv_int(pk, qn[i], round_money(r->clv_q[i]));
      }
    } else {
      msgpack_pack_nil(pk);
    }
    pk_str(pk, "segments");
    if (r->model_version) {
      PK_MAP(pk) {
        for (int s = 0; s < RFM_NSEGMENTS; s++)
          pk_kv_uint(pk, rfm_segment_name((rfm_segment_t)s), r->segments[s]);
      }
    } else {
      msgpack_pack_nil(pk);
    }
    pk_churn_bands(pk, r->model_version && r->has_clv, r->bands);
  }
}

/* ---- segment.list / segment.customers ---- */

int dec_segment_list(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  return params_decode(params, &no_fields, out, a, e);
}

void enc_segment_list(msgpack_packer *pk, const void *result) {
  const segment_list_t *r = result;
  PK_MAP(pk) {
    if (r->model_version) pk_kv_uint(pk, "model_version", r->model_version);
    else pk_kv_nil(pk, "model_version");
    if (r->model_version) pk_kv_int(pk, "as_of", r->as_of);
    else pk_kv_nil(pk, "as_of");
    kv_strn_or_nil(pk, "currency", r->model_version ? r->currency : NULL);
    pk_kv_uint(pk, "total", r->total);
    pk_str(pk, "segments");
    msgpack_pack_array(pk, RFM_NSEGMENTS);
    for (int s = 0; s < RFM_NSEGMENTS; s++) {
      PK_MAP(pk) {
        pk_kv_str(pk, "segment", rfm_segment_name((rfm_segment_t)s));
        pk_kv_uint(pk, "count", r->counts[s]);
      }
    }
    pk_churn_bands(pk, r->model_version && r->has_clv, r->bands);
  }
}

/* "segment": a segment's name, into its rfm_segment_t. */
static int segment_by_name(const pmap_t *m, const pfield_t *f, void *out, arena_t *a,
                           perr_info_t *e) {
  segment_page_params_t *p = out;
  pstr_t seg;
  char name[32];
  int rc;
  (void)a;
  if ((rc = pmap_str(m, f->name, 1, 1, sizeof name - 1, &seg, NULL, e))) return rc;
  memcpy(name, seg.p, seg.n);
  name[seg.n] = 0;
  p->segment = (int)rfm_segment_from_name(name);
  if (p->segment == RFM_NSEGMENTS)
    return perr_set(e, PERR_INVALID_PARAMS, "segment", "unknown segment '%s'", name);
  return 0;
}

static const pfield_t segment_customers_fields[] = {
    P_CUSTOM("segment", segment_by_name),
    P_STR(segment_page_params_t, "cursor", cursor, 0, 1, CORE_ID_MAX),
    P_INT(segment_page_params_t, "limit", limit, 0, 1, SEGMENT_PAGE_MAX, .def = 100),
};
static const pspec_t segment_customers_spec = PSPEC(segment_customers_fields);

PARAMS_DECODER(segment_customers)

void enc_segment_customers(msgpack_packer *pk, const void *result) {
  const segment_page_t *r = result;
  PK_MAP(pk) {
    pk_kv_str(pk, "segment", r->segment);
    if (r->model_version) pk_kv_uint(pk, "model_version", r->model_version);
    else pk_kv_nil(pk, "model_version");
    pk_kv_uint(pk, "total", r->total);
    pk_str(pk, "customers");
    msgpack_pack_array(pk, r->n);
    for (size_t i = 0; i < r->n; i++) {
      const segment_member_t *s = &r->items[i];
      PK_MAP(pk) {
        pk_kv_strn(pk, "customer_id", s->id.p, s->id.n);
        pk_str(pk, "rfm");
        PK_MAP(pk) {
          pk_kv_uint(pk, "recency", s->r);
          pk_kv_uint(pk, "frequency", s->f);
          pk_kv_uint(pk, "monetary", s->m);
        }
        if (r->has_clv) pk_kv_double(pk, "p_alive", s->p_alive);
        else pk_kv_nil(pk, "p_alive");
        kv_strn_or_nil(pk, "churn_band", r->has_clv ? clv_band_name((clv_band_t)s->band) : NULL);
        if (r->has_value) pk_kv_int(pk, "predicted_clv", s->clv);
        else pk_kv_nil(pk, "predicted_clv");
        kv_strn_or_nil(pk, "clv_currency", r->has_value ? r->currency : NULL);
      }
    }
    if (r->next_cursor.p) pk_kv_strn(pk, "next_cursor", r->next_cursor.p, r->next_cursor.n);
    else pk_kv_nil(pk, "next_cursor");
  }
}

/* ---- feedback.record ---- */

/* "kind": "nps" or "csat"; "score": its scale (NPS 0..10, CSAT 1..5). */
static int feedback_kind(const pmap_t *m, const pfield_t *f, void *out, arena_t *a,
                         perr_info_t *e) {
  feedback_t *fb = out;
  pstr_t kind;
  int rc;
  (void)a;
  if ((rc = pmap_str(m, f->name, 1, 1, 16, &kind, NULL, e))) return rc;
  fb->kind = feedback_kind_from_name(kind.p, kind.n);
  if (fb->kind < 0)
    return perr_set(e, PERR_INVALID_PARAMS, "kind", "kind must be \"nps\" or \"csat\"");
  return 0;
}
static int feedback_score(const pmap_t *m, const pfield_t *f, void *out, arena_t *a,
                          perr_info_t *e) {
  feedback_t *fb = out;
  (void)a;
  return pmap_int(m, f->name, 1, fb->kind == FEEDBACK_NPS ? 0 : 1,
                  fb->kind == FEEDBACK_NPS ? 10 : 5, &fb->score, NULL, e);
}

static const pfield_t feedback_record_fields[] = {
    P_STR(feedback_t, "feedback_id", feedback_id, 1, 1, CORE_ID_MAX),
    P_STR(feedback_t, "customer_id", customer_id, 1, 1, CORE_ID_MAX),
    P_CUSTOM("kind", feedback_kind),
    P_CUSTOM("score", feedback_score),
    P_INT(feedback_t, "ts", ts, 0, 0, TS_MAX),
};
static const pspec_t feedback_record_spec = PSPEC(feedback_record_fields);

PARAMS_DECODER(feedback_record)

void enc_feedback_record(msgpack_packer *pk, const void *result) {
  const feedback_result_t *r = result;
  PK_MAP(pk) pk_kv_bool(pk, "created", r->created);
}

/* ---- customer.merge ---- */

static const pfield_t customer_merge_fields[] = {
    P_STR(merge_t, "guest_id", guest_id, 1, 1, CORE_ID_MAX),
    P_STR(merge_t, "customer_id", customer_id, 1, 1, CORE_ID_MAX),
};
static const pspec_t customer_merge_spec = PSPEC(customer_merge_fields);

PARAMS_DECODER(customer_merge)

void enc_customer_merge(msgpack_packer *pk, const void *result) {
  const merge_result_t *r = result;
  PK_MAP(pk) {
    pk_kv_bool(pk, "merged", r->merged);
    pk_kv_uint(pk, "orders_moved", r->orders);
    pk_kv_uint(pk, "feedback_moved", r->feedback);
  }
}

/* ---- customer.subscribe ---- */

static const pfield_t customer_subscribe_fields[] = {
    P_BOOL(subscribe_params_t, "subscribed", subscribed, .def = 1),
};
static const pspec_t customer_subscribe_spec = PSPEC(customer_subscribe_fields);

PARAMS_DECODER(customer_subscribe)

void enc_customer_subscribe(msgpack_packer *pk, const void *result) {
  const subscribe_result_t *r = result;
  PK_MAP(pk) pk_kv_bool(pk, "subscribed", r->subscribed);
}

void enc_customer_changed(msgpack_packer *pk, const void *change) {
  const customer_change_t *c = change;
  PK_MAP(pk) {
    pk_kv_strn(pk, "customer_id", c->customer_id.p, c->customer_id.n);
    kv_strn_or_nil(pk, "segment", c->segment);
    kv_strn_or_nil(pk, "previous_segment", c->previous_segment);
    kv_strn_or_nil(pk, "churn_band", c->churn_band);
    kv_strn_or_nil(pk, "previous_churn_band", c->previous_churn_band);
    pk_kv_uint(pk, "model_version", c->model_version);
  }
}

/* ---- model.params ---- */

int dec_model_params(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  return params_decode(params, &no_fields, out, a, e);
}

/* One purchase model under its kind's name: nil unless fitted with status ok. Pareto/NBD
 * names its dropout parameters s and beta; se holds the Hessian standard errors (0 = not
 * available); aic = 2 * 4 - 2 ll. */
static void enc_tx_fit(msgpack_packer *pk, int kind, const clv_tx_model_t *m, int have) {
  static const char *const names[2][4] = {{"r", "alpha", "a", "b"}, {"r", "alpha", "s", "beta"}};
  pk_str(pk, clv_kind_name(kind));
  if (!have || (int)m->kind != kind || clv_tx_aic(m) == HUGE_VAL) {
    msgpack_pack_nil(pk);
    return;
  }
  const char *const *nm = names[kind == CLV_KIND_PNBD];
  const double par[4] = {m->r, m->alpha, m->a, m->b};
  PK_MAP(pk) {
    for (int j = 0; j < 4; j++) pk_kv_double(pk, nm[j], par[j]);
    pk_kv_double(pk, "ll", m->ll);
    pk_kv_double(pk, "aic", clv_tx_aic(m));
    pk_str(pk, "se");
    PK_MAP(pk) {
      for (int j = 0; j < 4; j++) pk_kv_double(pk, nm[j], m->se[j]);
    }
    pk_kv_str(pk, "time_unit", "week");
    pk_kv_uint(pk, "customers", m->n_customers);
    pk_kv_uint(pk, "repeat_customers", m->n_repeat);
    pk_kv_uint(pk, "distinct_rows", m->n_distinct);
  }
}

void enc_model_params(msgpack_packer *pk, const void *result) {
  const model_params_result_t *r = result;
  int tx = r->version && r->tx.status == CLV_OK, sp = tx && r->spend.status == CLV_OK;
  PK_MAP(pk) {
    pk_kv_str(pk, "name", "clv");
    pk_kv_str(pk, "status", r->status ? r->status : "empty");
    pk_kv_str(pk, "reason", r->reason);
    pk_kv_uint(pk, "version", r->version);
    pk_kv_int(pk, "built_at", r->built_at);
    if (r->version) pk_kv_int(pk, "as_of", r->as_of);
    else pk_kv_nil(pk, "as_of");
    kv_strn_or_nil(pk, "currency", r->version ? r->currency : NULL);
    pk_kv_uint(pk, "customers", r->customers);
    pk_kv_str(pk, "model", r->version && tx ? clv_kind_name((int)r->tx.kind) : "none");
    pk_kv_str(pk, "model_rule", clv_model_rule_name(r->model_rule));
    for (int k = 0; k < 3; k++) enc_tx_fit(pk, k + 1, &r->fits[k], r->version != 0);
    pk_str(pk, "gamma_gamma");
    if (sp) {
      PK_MAP(pk) {
        pk_kv_double(pk, "p", r->spend.p);
        pk_kv_double(pk, "q", r->spend.q);
        pk_kv_double(pk, "gamma", r->spend.gamma);
        pk_kv_double(pk, "ll", r->spend.ll);
        pk_kv_str(pk, "money_unit", "minor");
        pk_kv_uint(pk, "customers", r->spend.n_customers);
      }
    } else {
      msgpack_pack_nil(pk);
    }
    pk_str(pk, "settings");
    PK_MAP(pk) {
      pk_kv_uint(pk, "horizon_months", r->horizon_months);
      pk_kv_double(pk, "discount_monthly", r->discount_monthly);
      pk_kv_uint(pk, "rfm_bins", r->rfm_bins);
    }
    pk_str(pk, "fit_status");
    PK_MAP(pk) {
      for (int k = 0; k < 3; k++)
        kv_strn_or_nil(pk, clv_kind_name(k + 1),
                       r->version && r->fits[k].version ? clv_status_name(r->fits[k].status)
                                                        : NULL);
      kv_strn_or_nil(pk, "gamma_gamma", r->version ? clv_status_name(r->spend.status) : NULL);
    }
  }
}
