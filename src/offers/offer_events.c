/* offer_events.c -- experiment measurement: offers.event (impression, click, order), order
 * attribution, offers_report (experiments.report for an offer) and the global holdout's
 * exposure and report (a pseudo-offer per currency, "\x01global/EUR").
 * Counters per offer per arm (offers_internal.h): exposures = distinct customers with an
 * impression (the first impression fixes the customer's arm: sticky), conversions =
 * distinct exposed customers with an attributed order, revenue and the sum over customers of
 * (their attributed revenue)^2, discount cost (offer_redeem.c), clicks.
 * Invariants: each event key, and each order id, counts at most once; a customer converts at
 * most once per offer; replays change nothing. */
#include <stdio.h>
#include <stdlib.h>

#include "offers/offers_internal.h"

/* The pseudo-offer id of the global holdout in a currency: "\x01global/EUR" (an offer id
 * can never start with byte 1 in practice; attribution recognises the prefix). */
#define GLOBAL_PREFIX "\x01global/"
#define GLOBAL_PREFIX_LEN 8

static int global_id(const char *currency, char out[16], perr_info_t *e) {
  if (!currency || !core_currency_static(core_pstr(currency, strlen(currency))))
    return perr_set(e, PERR_INVALID_PARAMS, "currency", "unknown currency code");
  snprintf(out, 16, "%s%s", GLOBAL_PREFIX, currency);
  return 0;
}

/* Look up an idempotency record: 1 seen with the same fingerprint, 0 new, or an error. */
static int idem_check(store_txn_t *w, const offer_key_t *k, const unsigned char fp[32],
                      perr_info_t *e) {
  const void *v;
  size_t vn;
  int rc = store_get(w, STORE_T_OFFER_IDEM, k->b, k->n, &v, &vn);
  if (rc == PERR_NOT_FOUND) return 0;
  if (rc) return offer_store_err(w, rc, e);
  if (vn != 34 || memcmp((const unsigned char *)v + 2, fp, 32))
    return perr_set(e, PERR_CONFLICT, "idempotency_key",
                    "idempotency_conflict: the key was used for another event");
  return 1;
}

/* The event's record under its key, and the customer's index row naming the key (so that
 * customer.forget finds it: offer_forget.c). */
static int idem_store(store_txn_t *w, const offer_key_t *k, const unsigned char fp[32],
                      const char *customer, const char *key) {
  unsigned char v[34] = {'E', 1};
  static const unsigned char mark[2] = {'X', 1};
  memcpy(v + 2, fp, 32);
  int rc = store_put(w, STORE_T_OFFER_IDEM, k->b, k->n, v, sizeof v);
  offer_key_t x;
  offer_key_init(&x, 'x');
  offer_key_str(&x, customer);
  offer_key_sep(&x);
  offer_key_str(&x, key);
  return rc ? rc : store_put(w, STORE_T_OFFER_IDEM, x.b, x.n, mark, sizeof mark);
}

/* Credit one order's revenue to the customer's arm of an offer. */
static int credit(store_txn_t *w, const char *offer, const char *customer, offer_seen_t *s,
                  int64_t revenue) {
  offer_arm_t a;
  int rc = offer_arm_load(w, offer, s->arm, &a);
  if (rc) return rc;
  if (!s->converted) a.s.conversions++;
  s->converted = 1;
  double before = (double)s->revenue, after = before + (double)revenue;
  a.s.revenue += revenue;
  a.s.revenue_sumsq += after * after - before * before;
  s->revenue += revenue;
  rc = offer_arm_store(w, offer, s->arm, &a);
  return rc ? rc : offer_seen_store(w, customer, offer, s);
}

int offers_event(store_txn_t *w, const offers_event_t *ev, bool *replay, perr_info_t *e) {
  *replay = false;
  int rc;
  if ((rc = offer_check_id(ev->idempotency_key, "idempotency_key", e)) ||
      (rc = offer_check_id(ev->offer_id, "offer_id", e)) ||
      (rc = offer_check_id(ev->customer, "customer_id", e)))
    return rc;
  if (ev->type > OFFERS_EV_ORDER) return perr_set(e, PERR_INVALID_PARAMS, "type", "unknown type");
  if (ev->revenue < 0) return perr_set(e, PERR_INVALID_PARAMS, "revenue", "must be >= 0");
  char num[64];
  snprintf(num, sizeof num, "%d/%d/%lld", (int)ev->type, ev->arm, (long long)ev->revenue);
  const char *parts[4] = {ev->offer_id, ev->customer, num, ""};
  unsigned char fp[32];
  offer_sha256(parts, 3, fp);
  offer_key_t k;
  offer_key_init(&k, 'e');
  offer_key_str(&k, ev->idempotency_key);
  if ((rc = idem_check(w, &k, fp, e)) != 0) {
    if (rc == 1) *replay = true;
    return rc == 1 ? 0 : rc;
  }
  offer_t o;
  if ((rc = offer_load(w, ev->offer_id, &o, e))) {
    if (rc == PERR_NOT_FOUND && e) snprintf(e->field, sizeof e->field, "offer_id");
    return rc;
  }
  offer_seen_t s;
  offer_arm_t a;
  int64_t shown;
  int have = offer_seen_load(w, ev->customer, o.id, &s);
  if (have && have != PERR_NOT_FOUND) {
    rc = offer_store_err(w, have, e);
    goto done;
  }
  if (ev->arm < 0 || ev->arm > o.nvariants) {
    rc = perr_set(e, PERR_INVALID_PARAMS, "arm", "no such arm for this offer");
    goto done;
  }
  switch (ev->type) {
    case OFFERS_EV_IMPRESSION:
      if (have == PERR_NOT_FOUND) { /* first exposure: the arm sticks */
        s = (offer_seen_t){ev->arm, ev->ts, ev->ts, 0, 0};
        if (!(rc = offer_arm_load(w, o.id, ev->arm, &a))) {
          a.s.exposures++;
          rc = offer_arm_store(w, o.id, ev->arm, &a);
        }
      } else {
        if (ev->ts < s.first_ts) s.first_ts = ev->ts;
        if (ev->ts > s.last_ts) s.last_ts = ev->ts;
      }
      if (!rc) rc = offer_seen_store(w, ev->customer, o.id, &s);
      if (!rc && s.arm != 0 && !(rc = offer_cap_load(w, &o, ev->customer, 's', ev->ts, &shown)))
        rc = offer_cap_store(w, &o, ev->customer, 's', ev->ts, shown + 1);
      break;
    case OFFERS_EV_CLICK:
      if (!(rc = offer_arm_load(w, o.id, have ? ev->arm : s.arm, &a))) {
        a.clicks++;
        rc = offer_arm_store(w, o.id, have ? ev->arm : s.arm, &a);
      }
      break;
    case OFFERS_EV_ORDER: /* a conversion reported by the shop for this offer */
      if (!have) rc = credit(w, o.id, ev->customer, &s, ev->revenue);
      break;
  }
  if (!rc) rc = idem_store(w, &k, fp, ev->customer, ev->idempotency_key);
  if (rc) rc = offer_store_err(w, rc, e);
done:
  offers_clear(&o);
  return rc;
}

int offers_attribute_order(store_txn_t *w, const char *order_id, const char *customer,
                           int64_t ts, int64_t total, const char *currency, int *linked,
                           bool *replay, perr_info_t *e) {
  *linked = 0;
  *replay = false;
  int rc;
  if ((rc = offer_check_id(order_id, "order_id", e)) ||
      (rc = offer_check_id(customer, "customer_id", e)))
    return rc;
  if (total < 0) return perr_set(e, PERR_INVALID_PARAMS, "total", "must be >= 0");
  offer_key_t k, pre;
  offer_key_init(&k, 'o');
  offer_key_str(&k, order_id);
  const void *v, *kk;
  size_t vn, kn;
  rc = store_get(w, STORE_T_OFFER_IDEM, k.b, k.n, &v, &vn);
  if (rc == 0) return *replay = true, 0;
  if (rc != PERR_NOT_FOUND) return offer_store_err(w, rc, e);
  /* The offers this customer saw (collected first: no writes under an open cursor). */
  offer_key_init(&pre, 0);
  offer_key_str(&pre, customer);
  offer_key_sep(&pre);
  char (*ids)[OFFERS_ID_MAX + 1] = NULL;
  size_t n = 0, cap = 0;
  store_cursor_t *c;
  if ((rc = store_cursor_open(w, STORE_T_OFFER_SEEN, pre.b, pre.n, &c)))
    return offer_store_err(w, rc, e);
  while ((rc = store_cursor_next(c, &kk, &kn, &v, &vn)) == 1) {
    if (kn <= pre.n || memcmp(kk, pre.b, pre.n)) break;
    if (kn - pre.n > OFFERS_ID_MAX) continue;
    offer_seen_row_t row;
    if (offer_seen_row_parse(v, vn, &row)) {
      rc = PERR_INTERNAL;
      break;
    }
    if (!row.exposed) continue; /* caps of a redemption without an impression */
    if (n == cap) {
      cap = cap ? 2 * cap : 8;
      void *p = realloc(ids, cap * sizeof *ids);
      if (!p) {
        rc = PERR_INTERNAL;
        break;
      }
      ids = p;
    }
    memcpy(ids[n], (const char *)kk + pre.n, kn - pre.n);
    ids[n++][kn - pre.n] = 0;
  }
  store_cursor_close(c);
  /* never exposed to any offer: nothing to credit, and no mark either (one B-tree insert
   * per order of every customer was most of this call in a bulk import); see offers.h */
  if (rc >= 0 && n == 0) return 0;
  for (size_t i = 0; rc >= 0 && i < n; i++) {
    if (!strncmp(ids[i], GLOBAL_PREFIX, GLOBAL_PREFIX_LEN)) { /* the global holdout */
      offer_seen_t s;
      rc = offer_seen_load(w, customer, ids[i], &s);
      if (!rc && currency && !strcmp(currency, ids[i] + GLOBAL_PREFIX_LEN) && ts >= s.first_ts &&
          ts <= s.last_ts + OFFERS_DEFAULT_WINDOW_S &&
          !(rc = credit(w, ids[i], customer, &s, total)))
        ++*linked;
      continue;
    }
    offer_t o;
    offer_seen_t s;
    perr_info_t ge;
    if (offer_load(w, ids[i], &o, &ge)) continue; /* deleted offer: nothing to credit */
    rc = offer_seen_load(w, customer, o.id, &s);
    if (!rc && currency && !strcmp(currency, o.currency) && ts >= s.first_ts &&
        ts <= s.last_ts + o.window_s) {
      rc = credit(w, o.id, customer, &s, total);
      if (!rc) ++*linked;
    }
    offers_clear(&o);
  }
  free(ids);
  unsigned char mark[3] = {'L', 1, (unsigned char)(*linked > 255 ? 255 : *linked)};
  if (rc >= 0) rc = store_put(w, STORE_T_OFFER_IDEM, k.b, k.n, mark, sizeof mark);
  if (rc < 0) return offer_store_err(w, rc, e);
  return 0;
}

/* Arms 0..narms-1 of id, and each arm >= 1 against arm 0. */
static int load_arms(store_txn_t *t, const char *id, int narms, offers_report_t *out,
                     perr_info_t *e) {
  for (int i = 0; i < narms; i++) {
    offer_arm_t a;
    int rc = offer_arm_load(t, id, i, &a);
    if (rc) return offer_store_err(t, rc, e);
    out->arms[i] = a.s;
    out->clicks[i] = a.clicks;
  }
  out->narms = narms;
  for (int i = 1; i < narms; i++)
    out->has_compare[i] = stats_compare(&out->arms[0], &out->arms[i], &out->compare[i]) == 0;
  return 0;
}

static void srm(offers_report_t *out, const int64_t *obs, const double *w, int k) {
  if (k >= 2 && stats_srm(obs, w, k, &out->srm_chi2, &out->srm_p) == 0) {
    out->has_srm = true;
    out->srm_flag = out->srm_p < STATS_SRM_THRESHOLD;
  }
}

int offers_report(store_txn_t *t, const offer_t *o, offers_report_t *out, perr_info_t *e) {
  memset(out, 0, sizeof *out);
  int rc = load_arms(t, o->id, 1 + o->nvariants, out, e);
  if (rc) return rc;
  out->arm_names[0] = "holdout";
  for (int i = 1; i < out->narms; i++) out->arm_names[i] = o->variants[i - 1].id;
  /* Sample ratio: planned shares (ab: holdout and each variant; bandit: holdout vs treated). */
  int64_t obs[OFFERS_MAX_ARMS];
  double w[OFFERS_MAX_ARMS];
  int k = 0;
  if (o->holdout > 0) obs[k] = out->arms[0].exposures, w[k++] = o->holdout;
  if (o->mode == OFFER_MODE_BANDIT && o->holdout > 0) {
    obs[k] = 0;
    for (int i = 1; i < out->narms; i++) obs[k] += out->arms[i].exposures;
    w[k++] = 1 - o->holdout;
  } else if (o->mode == OFFER_MODE_AB) {
    for (int i = 1; i < out->narms; i++)
      obs[k] = out->arms[i].exposures, w[k++] = (1 - o->holdout) * o->variants[i - 1].weight;
  }
  srm(out, obs, w, k);
  if ((rc = offer_budget_load(t, o->id, &out->redemptions, &out->money_spent)))
    return offer_store_err(t, rc, e);
  return 0;
}

int offers_global_exposure(store_txn_t *w, const char *customer, bool held_out,
                           const char *currency, int64_t ts, perr_info_t *e) {
  char id[16];
  int rc = offer_check_id(customer, "customer_id", e);
  if (rc || (rc = global_id(currency, id, e))) return rc;
  offer_seen_t s;
  offer_arm_t a;
  rc = offer_seen_load(w, customer, id, &s);
  if (rc == PERR_NOT_FOUND) { /* first pass: the arm sticks */
    s = (offer_seen_t){held_out ? 0 : 1, ts, ts, 0, 0};
    if (!(rc = offer_arm_load(w, id, s.arm, &a))) {
      a.s.exposures++;
      rc = offer_arm_store(w, id, s.arm, &a);
    }
  } else if (!rc) {
    if (ts < s.first_ts) s.first_ts = ts;
    if (ts > s.last_ts) s.last_ts = ts;
  }
  if (!rc) rc = offer_seen_store(w, customer, id, &s);
  return rc ? offer_store_err(w, rc, e) : 0;
}

int offers_global_report(store_txn_t *t, const char *currency, double global_holdout,
                         offers_report_t *out, perr_info_t *e) {
  char id[16];
  memset(out, 0, sizeof *out);
  int rc = global_id(currency, id, e);
  if (rc || (rc = load_arms(t, id, 2, out, e))) return rc;
  out->arm_names[0] = "global_holdout";
  out->arm_names[1] = "engine";
  if (global_holdout > 0 && global_holdout < 1) {
    int64_t obs[2] = {out->arms[0].exposures, out->arms[1].exposures};
    double w[2] = {global_holdout, 1 - global_holdout};
    srm(out, obs, w, 2);
  }
  return 0;
}
