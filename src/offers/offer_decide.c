/* offer_decide.c -- offers.decide: which offers a customer sees for a cart, ranked by the
 * expected incremental value of docs/OFFERS.md section 3, with the experiment arm (holdout,
 * A/B variant or Thompson-sampling bandit arm; sticky per customer) and an impression id.
 * Invariants: read-only (counters come from the caller's txn); the same inputs and seed give
 * the same answer; a customer in an offer's holdout is never shown that offer; an offer
 * measured to lose money on the cart (negative EIV once every arm has PRIOR_N exposures)
 * is not decided, for any arm. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "experiments/bandit.h"
#include "experiments/experiments.h"
#include "offers/condition.h"
#include "offers/offers_internal.h"

/* Prior of a new offer (docs/OFFERS.md): baseline conversion, uplift, pseudo-exposures. */
#define PRIOR_BASE 0.10
#define PRIOR_UPLIFT 0.02
#define PRIOR_N 100.0
#define DEFAULT_MARGIN_RATE 0.30
#define RETENTION_WEIGHT 0.10

static bool in_list(const char *const *list, size_t n, const char *s) {
  if (!s) return false;
  for (size_t i = 0; i < n; i++)
    if (list[i][0] == s[0] && !strcmp(list[i], s)) return true; /* most differ at once */
  return false;
}

/* The cart value the offer applies to: the whole cart, or the matching items. */
static int64_t applicable_value(const offer_t *o, const offers_cart_t *cart) {
  if (!o->products && !o->categories) return cart->value;
  const char *const *products = o->targets, *const *categories = o->targets + o->nproducts;
  int64_t sum = 0;
  for (size_t i = 0; i < cart->nitems; i++) {
    const offers_cart_item_t *it = &cart->items[i];
    if (in_list(products, o->nproducts, it->product) ||
        in_list(categories, o->ncategories, it->category)) {
      int64_t line;
      if (!ck_mul(it->quantity, it->price, &line) || !ck_add(sum, line, &sum)) return INT64_MAX;
    }
  }
  return sum;
}

/* The discount of value on an applicable cart value base. */
#if defined(__GNUC__)
__attribute__((always_inline)) /* a switch of a few lines, in the scan's loops */
#endif
static inline int64_t discount_on(const offer_t *o, int64_t value, int64_t base) {
  int64_t d = 0;
  if (base <= 0) return 0;
  switch (o->kind) {
    case OFFER_PERCENT_OFF: { /* base * value / 100, truncated; in 64 bits when it fits */
      int64_t bv;
      d = ck_mul(base, value, &bv) ? bv / 100 : (int64_t)((__int128)base * value / 100);
      break;
    }
    case OFFER_AMOUNT_OFF: d = value < base ? value : base; break;
    case OFFER_FREE_SHIPPING:
    case OFFER_FREE_ITEM: d = value; break;
    case OFFER_BONUS_POINTS: if (!ck_mul(value, o->point_value, &d)) d = INT64_MAX; break;
  }
  return d < 0 ? 0 : d;
}

int64_t offers_discount(const offer_t *o, int64_t value, const offers_cart_t *cart) {
  return discount_on(o, value, applicable_value(o, cart));
}

/* A ranking attribute (OFFERS_RANK_*) as a number in lo..hi (def: absent, not a number or out
 * of range). From the lazy attributes typed (an integer or a real is what json_is_number
 * accepts there: offers_attrs_value is condition_value_from_json of offers_attrs_get), or
 * from the JSON object; *present: it is a number. */
static double rank_num(const offers_catalog_t *c, const offers_decide_in_t *in, int k, double lo,
                       double hi, double def, bool *present) {
  static const char *const names[OFFERS_RANK_ATTRS] = {"margin_rate", "predicted_clv",
                                                       "p_alive", "churn_risk"};
  double x;
  if (in->lazy) {
    const condition_value_t *v = offer_attrs_typed(in->lazy, c->rank_slot[k]);
    if (v->type == CONDITION_VALUE_INT) x = (double)v->i;
    else if (v->type == CONDITION_VALUE_REAL) x = v->d;
    else return *present = false, def;
  } else {
    const json_t *v = json_object_get(in->attrs, names[k]);
    if (!json_is_number(v)) return *present = false, def;
    x = json_number_value(v);
  }
  *present = true;
  return x >= lo && x <= hi ? x : def;
}

/* Where a decision reads counters: budgets and arm counters through the caller's memo,
 * checked against the store's stamp at the first counter read of the decision (m: NULL
 * until then, and after when the store is read directly), with the catalogue it indexes
 * by; the customer's seen rows in one range, read into *buf at the first offer that needs
 * them (seen: NULL until then). */
typedef struct counters_s {
  offers_counter_memo_t *want, *m;
  const offers_catalog_t *c;
  bool begun, seen_read;
  bool warm;      /* the memo's entries were already of this counters state before the
                   * decision (no counter written since the previous one): reading every arm
                   * of a candidate then fills the memo for the decisions after it */
  offer_seen_set_t *seen, *buf;
  bool merge;     /* the catalogue's ids increase by position (offer_memo_sorted): the scan's
                   * lookups walk the seen rows (in id order) alongside it */
  size_t seen_at; /* the first seen row the scan has not passed */
} counters_t;

#if defined(__GNUC__)
__attribute__((noinline)) /* once a decision: memo_of stays a test */
#endif
static offers_counter_memo_t *memo_first(counters_t *k, store_txn_t *rd) {
  uint64_t before = k->want ? k->want->epoch : 0;
  k->m = offer_memo_begin(k->want, rd, k->c), k->begun = true;
  k->warm = k->m && before && k->m->epoch == before;
  return k->m;
}

static inline offers_counter_memo_t *memo_of(counters_t *k, store_txn_t *rd) {
  return k->begun ? k->m : memo_first(k, rd);
}

static const offer_seen_set_t *seen_of(counters_t *k, store_txn_t *rd, const char *customer) {
  if (!k->seen_read) offer_seen_prefetch(rd, customer, k->seen = k->buf);
  k->seen_read = true;
  return k->seen;
}

/* The seen row of o for the catalogue scan, which asks in increasing position (offer_seen_row_in
 * when the ids do not increase with it): the rows and the offers are both in id order, so
 * the rows the scan has passed are never asked for again. */
static const offer_seen_row_t *scan_seen_row(counters_t *k, const offer_seen_set_t *set,
                                             const offer_t *o, bool *known) {
  if (!k->merge || !set || !set->complete)
    return offer_seen_row_find(set, o->id, o->id_len, o->id_head, known);
  *known = true;
  int cmp = 1;
  while (k->seen_at < set->n &&
         (cmp = offer_id_cmp(set->rows[k->seen_at].head, set->rows[k->seen_at].offer,
                             set->rows[k->seen_at].len, o->id_head, o->id, o->id_len)) < 0)
    k->seen_at++;
  return k->seen_at < set->n && cmp == 0 ? &set->rows[k->seen_at++].r : NULL;
}

/* A rule's attribute (condition_value_fn) from the decision's lazy attributes, typed. */
typedef struct rule_get_s {
  offers_attrs_t *a;
  const offer_t *o;
} rule_get_t;

static const condition_value_t *rule_attr(void *ctx, size_t name, condition_value_t *scratch) {
  const rule_get_t *g = ctx;
  (void)scratch;
  return offer_attrs_typed(g->a, (size_t)g->o->rule_attr[name]); /* a bad slot reads null */
}

/* Whether o's rule holds (memo[slot]: 0 not yet evaluated, 1 true, 2 false; NULL: none). */
static bool rule_true(const offer_t *o, const offers_decide_in_t *in, unsigned char *memo) {
  unsigned char *m = memo && o->rule_slot >= 0 ? &memo[o->rule_slot] : NULL;
  if (m && *m) return *m == 1;
  int name = in->lazy && o->rule_attr ? o->rule_one : -1; /* condition_single_name */
  bool ok = name >= 0 /* one attribute's test: its slot read here, no callback */
                ? condition_eval_value(o->rule,
                                       offer_attrs_typed(in->lazy, (size_t)o->rule_attr[name]))
            : in->lazy && o->rule_attr
                ? condition_eval_values(o->rule, rule_attr, &(rule_get_t){in->lazy, o})
                : condition_eval(o->rule, in->attrs);
  if (m) *m = ok ? 1 : 2;
  return ok;
}

/* Whether a selection may need o's caps read before it is a candidate: an offer whose arm
 * a bandit draws (the draws come from one generator in catalogue order, so the offers that
 * draw must be the same as when every cap was read first). Any other offer's caps are read
 * only when the selection would take it: a capped offer is skipped there exactly as if it
 * had never been a candidate (a candidate the selection passes over changes nothing). */
static bool caps_first(const offer_t *o) {
  return (o->cap_shown || o->cap_redeemed) && o->mode == OFFER_MODE_BANDIT && o->nvariants > 1;
}

/* Why the caps make an offer ineligible (NULL: they do not). The customer's seen rows (one
 * range) say what they can: no row, no impression; an 'S' 2 row's slots hold the counts. */
static const char *capped(counters_t *k, const offer_t *o, store_txn_t *rd,
                          const offers_decide_in_t *in, int *rc) {
  int64_t shown, redeemed;
  bool known;
  *rc = 0;
  if (!o->cap_shown && !o->cap_redeemed) return NULL;
  const offer_seen_row_t *row =
      offer_seen_row_find(seen_of(k, rd, in->customer), o->id, o->id_len, o->id_head, &known);
  *rc = offer_caps_load(rd, o, in->customer, in->now, known, row, &shown, &redeemed);
  if (*rc) return "error";
  if (o->cap_shown && shown >= o->cap_shown) return "cap_shown";
  if (o->cap_redeemed && redeemed >= o->cap_redeemed) return "cap_redeemed";
  return NULL;
}

/* Whether a gate class turns its offers down: ineligible's first checks (every check before
 * the budget is free of side effects, so which of them turns an offer down first changes
 * nothing). */
static bool class_out(const offer_gate_class_t *g, const offers_decide_in_t *in,
                      const char currency[4]) {
  return g->archived || !currency[0] || memcmp(currency, g->currency, 4) ||
         in->now < g->valid_from || (g->valid_until && in->now >= g->valid_until) ||
         in->cart->value < g->min_cart;
}

/* Whether the offer's gate turns it down: its class (out[cls], made once a decision), or a
 * rule this decision found false already (a gate's rule slot is a real one, or, for an offer
 * without a rule, the one past them, which stays 0). */
static bool gated_out(const offer_gate_t *g, const unsigned char *out, const unsigned char *memo) {
  return out[g->cls] | (memo[g->rule_slot] == 2);
}

/* The first offer from i on whose gate does not turn it down (count: none), every offer
 * without gates: a loop of its own, its few values kept in registers. With the catalogue's
 * gate masks, open holds the offers not visited yet whose class is open and whose rule slot
 * no offer found false yet: its lowest bit. */
static inline size_t next_open(const offer_gate_t *gates, size_t count, size_t i,
                               const unsigned char *out, const unsigned char *memo,
                               bool masked, uint64_t open) {
  if (masked) return open ? (size_t)__builtin_ctzll(open) : count;
  if (gates)
    while (i < count && gated_out(&gates[i], out, memo)) i++;
  return i;
}

/* Why an offer is not eligible (NULL: eligible, caps aside unless caps_first); gated: its
 * gate passed (the checks it holds are not made again). */
static const char *ineligible(counters_t *k, const offer_t *o, store_txn_t *rd,
                              const offers_decide_in_t *in, const char currency[4], bool gated,
                              unsigned char *memo, int64_t *base, int64_t *money_used,
                              int *rc) {
  const offers_cart_t *cart = in->cart;
  *rc = 0;
  if (!gated) {
    if (o->archived) return "archived";
    if (!currency[0] || memcmp(currency, o->currency, 4)) return "currency"; /* 3 letters */
    if (in->now < o->valid_from || (o->valid_until && in->now >= o->valid_until))
      return "window";
    if (cart->value < o->min_cart) return "min_cart";
  }
  *base = !o->products && !o->categories ? cart->value : applicable_value(o, cart);
  if (*base <= 0) return "no applicable item";
  if (o->rule && !rule_true(o, in, memo)) return "rule";
  int64_t used_r, used_m;
  if (o->budget_redemptions || o->budget_money) { /* unlimited: nothing to read */
    *rc = offer_memo_budget(memo_of(k, rd), rd, k->c, o, &used_r, &used_m);
    if (*rc) return "error";
    *money_used = used_m;
    if (o->budget_redemptions && used_r >= o->budget_redemptions) return "budget";
    if (o->budget_money && used_m >= o->budget_money) return "budget";
  }
  return caps_first(o) ? capped(k, o, rd, in, rc) : NULL;
}

/* GrowthBook's assignment (experiment_assign: hash version 1, no namespace or filter) into
 * n ranges under seed, -1 when not in; idh is the FNV-1a state after the customer id
 * (experiment_fnv1a32 from EXPERIMENT_FNV_OFFSET). Version 1 hashes the id and then the seed
 * (experiment_hash_n makes the same two calls), so the id is hashed once per decision. */
static int assign(uint32_t idh, const char *seed, size_t seed_len, const experiment_range_t *r,
                  int n) {
  if (n < 2) return -1;
  uint32_t h = experiment_fnv1a32(idh, seed, seed_len);
  return experiment_choose_variation((double)(h % 1000u) / 1000.0, r, n);
}

/* assign, by the offer's map of the ranges when it has one (experiment_v1map_t). */
static int assign_mapped(uint32_t idh, const char *seed, size_t seed_len,
                         const experiment_v1map_t *m, const experiment_range_t *r, int n) {
  if (!m->n) return assign(idh, seed, seed_len, r, n);
  if (n < 2) return -1;
  return experiment_v1map_choose(m, experiment_fnv1a32(idh, seed, seed_len));
}

/* Whether the customer (idh) is in o's holdout. */
static bool held_out(const offer_t *o, uint32_t idh) {
  return assign_mapped(idh, o->seed_holdout, o->seed_holdout_len, &o->holdout_map,
                       o->holdout_ranges, 2) == 0;
}

/* The customer's sticky arm of o (*arm; -1: none, the splits decide). */
static int sticky_arm(counters_t *k, const offer_t *o, store_txn_t *rd,
                      const offer_seen_set_t *seen_set, const char *customer, bool in_scan,
                      int *arm) {
  bool known;
  *arm = -1;
  const offer_seen_row_t *row =
      in_scan ? scan_seen_row(k, seen_set, o, &known) /* the walk in catalogue order */
              : offer_seen_row_find(seen_set, o->id, o->id_len, o->id_head, &known);
  if (row && row->exposed && row->s.arm <= o->nvariants) return *arm = row->s.arm, 0;
  if (!known) { /* the range could not hold every row: the store says */
    offer_seen_t seen;
    int rc = offer_seen_load(rd, customer, o->id, &seen);
    if (rc == 0 && seen.arm <= o->nvariants) return *arm = seen.arm, 0;
    if (rc && rc != PERR_NOT_FOUND) return rc;
  }
  return 0;
}

/* The arm the splits give an A/B offer (or one of a single variant). The holdout (arm 0)
 * ranks and selects exactly as arm 1 does (the first variant's value, arm 1's counters:
 * expected_value, fill), so when the A/B split (or a single variant) gives arm 1 the holdout
 * split is left to the selection (*pending), which makes it only for the offers it takes. */
static int ab_arm(const offer_t *o, uint32_t idh, bool *pending) {
  int v = o->nvariants == 1 ? 0
                            : assign_mapped(idh, o->seed_variant, o->seed_variant_len,
                                            &o->variant_map, o->variant_ranges, o->nvariants);
  int arm = 1 + (v < 0 ? 0 : v);
  *pending = o->holdout > 0 && arm == 1;
  if (o->holdout > 0 && arm != 1 && held_out(o, idh)) arm = 0;
  return arm;
}

/* The customer's arm of o without a sticky one (sticky_arm). A bandit's holdout split comes
 * first: a held-out customer draws nothing from the generator the later draws share. */
static int pick_arm(counters_t *k, const offer_t *o, store_txn_t *rd, uint32_t idh,
                    draws_t *rng, int *arm, bool *pending) {
  int rc = 0;
  *pending = false;
  if (o->nvariants == 1 || o->mode == OFFER_MODE_AB) return *arm = ab_arm(o, idh, pending), 0;
  if (o->holdout > 0 && held_out(o, idh)) return *arm = 0, 0;
  stats_arm_t arms[OFFERS_MAX_VARIANTS];
  for (int i = 0; i < o->nvariants; i++) {
    offer_arm_t a;
    if ((rc = offer_memo_arm(memo_of(k, rd), rd, k->c, o, i + 1, &a))) return rc;
    arms[i] = a.s;
  }
  *arm = 1 + bandit_pick(arms, o->nvariants, (bandit_reward_t)o->reward, draws_rng(rng));
  return 0;
}

/* The holdout's and a treated arm's conversion rates with the prior, and the EIV of a
 * discount from them (docs/OFFERS.md s.3): eiv and bound_arms compute through these, so an
 * arm's EV is the same double in both. */
static inline double p_ctl(const offer_arm_t *ctl) {
  return ((double)ctl->s.conversions + PRIOR_N * PRIOR_BASE) /
         ((double)ctl->s.exposures + PRIOR_N);
}
static inline double p_trt(const offer_arm_t *trt) {
  return ((double)trt->s.conversions + PRIOR_N * (PRIOR_BASE + PRIOR_UPLIFT)) /
         ((double)trt->s.exposures + PRIOR_N);
}
static inline double eiv_of(double pc, double pt, double v, int64_t discount, double *uplift) {
  *uplift = pt - pc;
  return *uplift * v - pt * (double)discount;
}

/* EIV of arm counters trt against the holdout's ctl, for a discount. */
static double eiv(const offer_arm_t *ctl, const offer_arm_t *trt, double v, int64_t discount,
                  double *uplift) {
  return eiv_of(p_ctl(ctl), p_trt(trt), v, discount, uplift);
}

/* The value of the cart to the shop, v in docs/OFFERS.md section 3: the same for every offer
 * of one decision. */
static double cart_worth(const offers_catalog_t *c, const offers_decide_in_t *in) {
  bool present;
  double margin = rank_num(c, in, OFFERS_RANK_MARGIN_RATE, 0, 1, DEFAULT_MARGIN_RATE, &present);
  double clv = rank_num(c, in, OFFERS_RANK_PREDICTED_CLV, 0, 1e15, 0, &present);
  double alive = rank_num(c, in, OFFERS_RANK_P_ALIVE, 0, 1, 1, &present);
  double churn = present ? 1 - alive : rank_num(c, in, OFFERS_RANK_CHURN_RISK, 0, 1, 0, &present);
  return margin * (double)in->cart->value + RETENTION_WEIGHT * clv * churn;
}

/* Expected incremental value (docs/OFFERS.md section 3), and whether the offer is measured
 * to lose money on this cart: every arm has PRIOR_N exposures and even its best variant's
 * EIV is negative. That test uses the best variant, not the customer's arm, so it never
 * depends on the assignment (the arms stay comparable). */
static int expected_value(counters_t *k, const offer_t *o, store_txn_t *rd,
                          const offers_decide_in_t *in, double v, cand_t *c, bool *losing) {
  offer_arm_t ctl_buf, trt_buf; /* the counters when not from the memo */
  offers_counter_memo_t *m = memo_of(k, rd);
  int rc;
  const offer_arm_t *ctl = offer_memo_arm_ref(m, rd, k->c, o, 0, &ctl_buf, &rc), *trt;
  if (!ctl) return rc;
  if (!(trt = offer_memo_arm_ref(m, rd, k->c, o, c->arm ? c->arm : 1, &trt_buf, &rc))) return rc;
  c->ev = eiv(ctl, trt, v, c->discount, &c->uplift);
  *losing = false;
  if (!o->stop_when_losing || (double)ctl->s.exposures < PRIOR_N) return 0; /* still learning */
  double best = -INFINITY, u;
  for (int a = 1; a <= o->nvariants; a++) {
    if (!(trt = offer_memo_arm_ref(m, rd, k->c, o, a, &trt_buf, &rc))) return rc;
    if ((double)trt->s.exposures < PRIOR_N) return 0;
    double x = eiv(ctl, trt, v, offers_discount(o, o->variants[a - 1].value, in->cart), &u);
    if (x > best) best = x;
  }
  *losing = best < 0;
  return 0;
}

/* Whether o's A/B split can be left to the selection (bound_arms): an A/B offer of several
 * variants without a sticky arm, whose arm counters the memo holds or, warm, may read now
 * (extra reads only in a decision whose memo survived from the previous one: they are then
 * served from it until a counter changes), and a finite cart worth. */
static const offer_memo_entry_t *counters_ready(counters_t *k, const offer_t *o,
                                                store_txn_t *rd, bool budget);
static inline void bound_arms(const offer_t *o, const offer_memo_entry_t *x, double v,
                              int64_t base, int64_t money_used, cand_t *c, bool *keep);
static const offer_memo_entry_t *split_later(counters_t *k, const offer_t *o, store_txn_t *rd,
                                             double v) {
  if (o->mode != OFFER_MODE_AB || o->nvariants < 2 || !isfinite(v)) return NULL;
  return counters_ready(k, o, rd, false);
}

static const offer_memo_entry_t *counters_read(counters_t *k, const offer_t *o, store_txn_t *rd,
                                               unsigned all);

/* The memo's entry of o when it holds o's arm counters (and its budget, when asked and o has
 * one), read into it now when warm (an error: NULL, the scan's own reads report it). */
static inline const offer_memo_entry_t *counters_ready(counters_t *k, const offer_t *o,
                                                       store_txn_t *rd, bool budget) {
  offers_counter_memo_t *m = memo_of(k, rd);
  if (!m) return NULL;
  const offer_memo_entry_t *x = offer_memo_entry(m, k->c, o);
  unsigned all = (2u << o->nvariants) - 1; /* arms 0..nvariants */
  if (budget && (o->budget_redemptions || o->budget_money)) all |= OFFER_MEMO_BUDGET_BIT;
  if (x && (x->have & all) == all) return x;
  return k->warm ? counters_read(k, o, rd, all) : NULL;
}

static const offer_memo_entry_t *counters_read(counters_t *k, const offer_t *o, store_txn_t *rd,
                                               unsigned all) {
  offers_counter_memo_t *m = k->m;
  const offer_memo_entry_t *x;
  offer_arm_t buf; /* warm: read into the memo once */
  int64_t r, mo;
  int rc;
  for (int a = 0; a <= o->nvariants; a++)
    if (!offer_memo_arm_ref(m, rd, k->c, o, a, &buf, &rc)) return NULL;
  if ((all & OFFER_MEMO_BUDGET_BIT) && offer_memo_budget(m, rd, k->c, o, &r, &mo)) return NULL;
  return (x = offer_memo_entry(m, k->c, o)) && (x->have & all) == all ? x : NULL;
}

/* An offer whose rule needs a profile group not loaded yet (o->rule_groups), in a decision on
 * the lazy attributes, is not evaluated in the scan when its counters are in the memo
 * (counters_ready): the scan checks what needs no rule (the applicable value, the budget,
 * the losing test, an arm the budget can pay: bound_arms over every arm, the sticky one and
 * a held-out one included) and the candidate ranks by its bound; its rule, sticky arm and
 * split are left to the selection (resolve_split). A bandit offer that draws is never
 * deferred (the draws come in catalogue order). true: handled (*keep: a candidate). */
static bool defer_rule(counters_t *k, const offer_t *o, store_txn_t *rd,
                       const offers_decide_in_t *in, const unsigned char *memo, double v,
                       cand_t *c, bool *keep) {
  const offer_memo_entry_t *x;
  if (!in->lazy || !o->rule || o->rule_slot < 0 || memo[o->rule_slot] ||
      !(o->rule_groups & ~in->lazy->loaded) || !isfinite(v) ||
      (o->mode == OFFER_MODE_BANDIT && o->nvariants > 1) || !(x = counters_ready(k, o, rd, true)))
    return false;
  const offers_cart_t *cart = in->cart;
  int64_t base = !o->products && !o->categories ? cart->value : applicable_value(o, cart);
  int64_t money_used = 0;
  *keep = false;
  if (base <= 0) return true; /* ineligible's checks after the gates, the rule left out */
  if (o->budget_redemptions || o->budget_money) {
    money_used = x->used_m;
    if (o->budget_redemptions && x->used_r >= o->budget_redemptions) return true;
    if (o->budget_money && x->used_m >= o->budget_money) return true;
  }
  bound_arms(o, x, v, base, money_used, c, keep);
  c->rule_pending = true;
  return true;
}

/* A candidate whose arm is left to the selection: the EV each variant arm would have
 * (expected_value's, for that arm's value and discount on base, from the memo's entry x),
 * over the arms whose discount the money budget can pay, is bounded by the greatest (c->ev);
 * the losing test of expected_value, which does not depend on the arm. *keep false: not a
 * candidate (losing, or no arm can pay; a held-out customer ranks as arm 1, one of them). */
#if defined(__GNUC__)
__attribute__((always_inline)) /* per candidate in the scan */
#endif
static inline void bound_arms(const offer_t *o, const offer_memo_entry_t *x, double v,
                              int64_t base, int64_t money_used, cand_t *c, bool *keep) {
  const offer_arm_t *arms = x->arms;
  const int n = o->nvariants;
  bool learning = !o->stop_when_losing || (double)arms[0].s.exposures < PRIOR_N;
  double best = -INFINITY, bound = -INFINITY, u, pc = p_ctl(&arms[0]);
  /* the scan's can't-pay test, money_used > budget - d, as d > budget - money_used (money_used
   * < budget here: ineligible turned a spent budget down; no overflow either way) */
  int64_t room = o->budget_money ? o->budget_money - money_used : INT64_MAX;
  for (int a = 1; a <= n; a++) {
    learning |= (double)arms[a].s.exposures < PRIOR_N;
    int64_t d = discount_on(o, o->variants[a - 1].value, base);
    double ev = eiv_of(pc, p_trt(&arms[a]), v, d, &u); /* finite: v is */
    best = ev > best ? ev : best;
    if (d <= room && ev > bound) bound = ev; /* an arm the budget can pay */
  }
  *keep = bound != -INFINITY && (learning || !(best < 0));
  c->o = o;
  c->split = true;
  c->rule_pending = false;
  c->ev = bound;
  c->base = base;
  c->money_used = money_used;
}

/* The split of a candidate left to the selection, made: its arm, value, discount and EV as the
 * scan would have made them (*keep false: its arm cannot pay, not a candidate). */
static int resolve_split(counters_t *k, cand_t *c, store_txn_t *rd,
                         const offers_decide_in_t *in, double v, uint32_t idh,
                         unsigned char *memo, bool *keep) {
  const offer_t *o = c->o;
  c->split = false;
  if (c->rule_pending) { /* defer_rule: the rule, then a sticky arm, as the scan does */
    c->rule_pending = false;
    if (!rule_true(o, in, memo)) return *keep = false, 0;
    int sticky, rc;
    if ((rc = sticky_arm(k, o, rd, seen_of(k, rd, in->customer), in->customer, false,
                         &sticky)))
      return rc;
    if (sticky >= 0 || !(o->nvariants == 1 || o->mode == OFFER_MODE_AB)) {
      c->arm = sticky, c->holdout_pending = false; /* (a bandit that draws is never deferred) */
      goto valued;
    }
  }
  c->arm = ab_arm(o, idh, &c->holdout_pending);
valued:
  c->value = o->variants[c->arm ? c->arm - 1 : 0].value;
  c->discount = discount_on(o, c->value, c->base);
  *keep = !(o->budget_money && c->money_used > o->budget_money - c->discount);
  bool losing; /* false: bound_arms tested it */
  return *keep ? expected_value(k, o, rd, in, v, c, &losing) : 0;
}

static int cmp_cand(const void *a, const void *b) {
  const cand_t *x = a, *y = b;
  if (x->ev != y->ev) return x->ev > y->ev ? -1 : 1;
  if (x->o->priority != y->o->priority) return x->o->priority > y->o->priority ? -1 : 1;
  return strcmp(x->o->id, y->o->id);
}

/* offers_decide; defer: splits may be left to the selection (split_later), else every
 * candidate's split is made in the scan (offer_decide_eager: the same answer). */
static int decide(const offers_catalog_t *c, store_txn_t *rd, const offers_decide_in_t *in,
                  offers_decision_t *out, perr_info_t *e, bool defer) {
  out->global_holdout = out->global_split = false; /* items[0..n) are filled one by one */
  out->n = 0;
  const offers_cart_t *cart = in->cart;
  size_t customer_len = in->customer ? strlen(in->customer) : 0;
  if (!c || !customer_len || customer_len > OFFERS_ID_MAX || !cart ||
      cart->value <= 0)
    return 0;
  uint32_t idh = experiment_fnv1a32(EXPERIMENT_FNV_OFFSET, in->customer, customer_len);
  if (in->global_holdout > 0) {
    static const char key[] = "patron-global-holdout";
    double w[2] = {in->global_holdout, 1 - in->global_holdout};
    experiment_range_t r[2];
    out->global_split = true;
    experiment_bucket_ranges(2, 1.0, w, 2, r);
    if (assign(idh, key, sizeof key - 1, r, 2) == 0) {
      out->global_holdout = true;
      return 0;
    }
  }
  draws_t rng = {.seed = in->seed};
  /* the candidates, then one memo byte per distinct rule of the catalogue and one past them
   * (the gates' slot of an offer without a rule: always 0), then one byte per gate class
   * (nclasses <= n) */
  enum { LOCAL_CANDS = 64 };
  struct {
    cand_t cs[LOCAL_CANDS];
    unsigned char memo[LOCAL_CANDS + 1], class_out[LOCAL_CANDS];
  } local; /* a catalogue this small needs no allocation */
  bool small = c->n <= LOCAL_CANDS && c->nrule_slots <= LOCAL_CANDS;
  cand_t *cs = small ? local.cs : malloc(c->n * sizeof *cs + c->nrule_slots + 1 + c->n);
  size_t n = 0;
  int rc = 0;
  if (!cs) return perr_set(e, PERR_INTERNAL, NULL, "out of memory");
  unsigned char *memo = small ? local.memo : (unsigned char *)(cs + c->n);
  memset(memo, 0, c->nrule_slots + 1);
  unsigned char *classes_out = memo + c->nrule_slots + 1;
  if (small) classes_out = local.class_out;
  double worth = cart_worth(c, in);
  offer_seen_set_t seen_buf; /* filled by the range read, if any */
  counters_t counters = {.want = in->counters, .c = c, .buf = &seen_buf,
                         .merge = offer_memo_sorted(in->counters, c)};
  char currency[4] = {0}; /* the cart's, when a currency code can equal it (an offer's is 3
                           * letters, NUL-terminated): then memcmp of 4 bytes is strcmp == 0 */
  if (cart->currency && strlen(cart->currency) == 3) memcpy(currency, cart->currency, 4);
  const uint64_t *masks = c->gates ? c->gate_masks : NULL; /* n <= 64 */
  uint64_t open = 0; /* with masks: the offers not gated out (yet) */
  for (size_t k = 0; c->gates && k < c->nclasses; k++)
    if (!(classes_out[k] = class_out(&c->classes[k], in, currency)) && masks) open |= masks[k];
  const uint64_t *slot_masks = masks ? masks + c->nclasses : NULL;
  const offer_gate_t *gates = c->gates; /* in locals: the stores below may alias c's fields */
  const size_t count = c->n;
  for (size_t i = 0;
       (i = next_open(gates, count, i, classes_out, memo, masks != NULL, open)) < count; i++) {
    const offer_t *o = &c->offers[i];
    int64_t money_used = 0, base = 0;
    open &= open - 1; /* offer i visited (with masks, i is open's lowest bit) */
    bool keep;
    if (defer && gates && defer_rule(&counters, o, rd, in, memo, worth, &cs[n], &keep)) {
      n += keep;
      continue;
    }
    if (ineligible(&counters, o, rd, in, currency, gates != NULL, memo, &base, &money_used,
                   &rc)) {
      if (rc) break;
      int32_t slot = masks ? gates[i].rule_slot : 0; /* found false: its offers are gated */
      if (masks && memo[slot] == 2) open &= ~slot_masks[slot];
      continue;
    }
    cand_t *k = &cs[n];
    const offer_seen_set_t *seen_set = seen_of(&counters, rd, in->customer);
    int sticky;
    if ((rc = sticky_arm(&counters, o, rd, seen_set, in->customer, true, &sticky))) break;
    const offer_memo_entry_t *x;
    if (sticky < 0 && defer && (x = split_later(&counters, o, rd, worth))) {
      bool keep;
      bound_arms(o, x, worth, base, money_used, k, &keep);
      n += keep;
      continue;
    }
    k->split = k->rule_pending = false;
    if (sticky >= 0) k->arm = sticky, k->holdout_pending = false;
    else if ((rc = pick_arm(&counters, o, rd, idh, &rng, &k->arm, &k->holdout_pending)))
      break;
    k->o = o;
    k->value = o->variants[k->arm ? k->arm - 1 : 0].value;
    k->discount = discount_on(o, k->value, base);
    if (o->budget_money && money_used > o->budget_money - k->discount) continue; /* can't pay */
    bool losing;
    if ((rc = expected_value(&counters, o, rd, in, worth, k, &losing))) break;
    if (!losing) n++;
  }
  if (rc) {
    if (!small) free(cs);
    return offer_store_err(rd, rc, e);
  }
  /* Selection in ranking order: many candidates sorted first; a few (the common case) each
   * found when the walk needs it, the best of the rest swapped into place (the order is
   * total, ids are unique, so the walk visits exactly the sorted order; once a non-stackable
   * offer is taken nothing more is, so the rest is never ordered). */
  bool sorted = n > 32;
  for (size_t j = 0; sorted && j < n && !rc;) { /* sorted whole: every split made first */
    bool keep = true;
    if (cs[j].split && (rc = resolve_split(&counters, &cs[j], rd, in, worth, idh, memo, &keep)))
      rc = offer_store_err(rd, rc, e);
    else if (keep) j++;
    else cs[j] = cs[--n];
  }
  if (sorted && !rc) qsort(cs, n, sizeof *cs, cmp_cand);
  /* Selection: a held-out candidate takes its slot exactly as if shown (the control sees
   * what the customer would see without that offer: nothing in its place). */
  size_t max = in->max_offers > 0 && in->max_offers < OFFERS_DECIDE_MAX ? (size_t)in->max_offers
                                                                        : OFFERS_DECIDE_MAX;
  const char *groups[OFFERS_DECIDE_MAX];
  size_t ngroups = 0;
  bool exclusive_taken = false;
  for (size_t i = 0; i < n && out->n < max && !rc && !exclusive_taken; i++) {
    if (!sorted) {
      size_t best = i;
      for (;;) { /* a candidate whose split is not made ranks by its bound: made when first */
        best = i; /* ahead, then ranked again (its EV is at most the bound) */
        for (size_t j = i + 1; j < n; j++)
          if (cmp_cand(&cs[j], &cs[best]) < 0) best = j;
        if (!cs[best].split) break;
        bool keep = false;
        if ((rc = resolve_split(&counters, &cs[best], rd, in, worth, idh, memo, &keep))) break;
        if (!keep && (cs[best] = cs[--n], i == n)) break;
      }
      if (rc) {
        rc = offer_store_err(rd, rc, e);
        break;
      }
      if (i == n) break;
      if (best != i) {
        cand_t t = cs[i];
        cs[i] = cs[best];
        cs[best] = t;
      }
    }
    const offer_t *o = cs[i].o;
    if (out->n && !o->stackable) continue;
    bool clash = false;
    for (size_t g = 0; g < ngroups && o->exclusive_group; g++)
      clash |= !strcmp(groups[g], o->exclusive_group);
    if (clash) continue;
    if (!caps_first(o) && capped(&counters, o, rd, in, &rc)) {
      if (rc) rc = offer_store_err(rd, rc, e);
      continue;
    }
    if (o->exclusive_group) groups[ngroups++] = o->exclusive_group;
    if (!o->stackable) exclusive_taken = true;
    if (cs[i].holdout_pending && held_out(o, idh)) cs[i].arm = 0; /* ranked as arm 1 */
    rc = offer_item_fill(in, customer_len, &cs[i], &rng, &out->items[out->n++], e);
  }
  if (!small) free(cs);
  return rc;
}

int offers_decide(const offers_catalog_t *c, store_txn_t *rd, const offers_decide_in_t *in,
                  offers_decision_t *out, perr_info_t *e) {
  return decide(c, rd, in, out, e, true);
}

int offer_decide_eager(const offers_catalog_t *c, store_txn_t *rd, const offers_decide_in_t *in,
                       offers_decision_t *out, perr_info_t *e) {
  return decide(c, rd, in, out, e, false);
}
