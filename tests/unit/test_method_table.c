/* test_method_table.c -- the policy columns of protocol/methods.def: every write declares the
 * data it changes and names the ids it affects, every cached method has a key, the thread
 * follows the flags; and every result type of the table encodes (zeroed and filled) into
 * msgpack that msgpack-c decodes back consuming every byte, with each map's count equal to
 * the fields written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "methods.h"
#include "mpframe.h"
#include "rpc.h"

static void test_policy_columns(void **state) {
  (void)state;
  int writes = 0, cached = 0;
  for (int i = 0; i < METHOD__COUNT; i++) {
    const method_desc_t *md = &method_table[i];
    if (md->flags & M_WRITE) {
      writes++;
      if (md->data == D_NONE || !md->affects)
        fail_msg("write %s declares no data or no affects function", md->name);
      assert_int_equal(md->thread, RUN_ON_WRITER);
    } else {
      assert_null(md->affects);
      assert_int_equal(md->thread, md->flags & M_SLOW ? RUN_ON_WORKER : RUN_ON_LOOP);
    }
    if (md->cache == CACHE_NONE) {
      assert_int_equal(md->flags & (M_CACHED | M_CACHED_QUERY), 0);
      assert_null(md->cache_key);
      continue;
    }
    cached++;
    assert_int_equal(md->thread, RUN_ON_LOOP);
    if (md->data == D_NONE) fail_msg("cached %s depends on no data: never invalidated", md->name);
    if (md->cache == CACHE_QUERY) {
      assert_int_equal(md->flags & (M_CACHED | M_CACHED_QUERY), M_CACHED_QUERY);
      assert_null(md->cache_key);
    } else {
      assert_int_equal(md->flags & (M_CACHED | M_CACHED_QUERY), M_CACHED);
      assert_non_null(md->cache_key);
      assert_string_equal(md->params_type, "id_params_t");
      id_params_t p = {{"abc", 3}};
      pstr_t k = md->cache_key(&p);
      assert_ptr_equal(k.p, p.id.p);
      assert_int_equal(k.n, 3);
    }
  }
  assert_true(writes > 0);
  assert_true(cached > 0);
}

/* A write that cannot name the ids it changed (zeroed params and result) says so (-1), so
 * every answer of that kind is dropped; it never returns a partial list. */
static void test_affects_unknown_is_all(void **state) {
  (void)state;
  for (int w = 0; w < METHOD__COUNT; w++) {
    const method_desc_t *wd = &method_table[w];
    if (!wd->affects) continue;
    void *params = calloc(1, wd->params_size), *result = calloc(1, wd->result_size);
    assert_non_null(params);
    assert_non_null(result);
    for (int r = 0; r < METHOD__COUNT; r++) {
      const method_desc_t *rd = &method_table[r];
      if (!rd->cache_key || !(rd->data & wd->data)) continue;
      pstr_t ids[METHOD_AFFECTS_MAX];
      int n = wd->affects(params, result, rd->cache, ids);
      if (n != -1) fail_msg("%s with no ids names %d ids for %s", wd->name, n, rd->name);
    }
    free(params);
    free(result);
  }
}

/* The writes that name ids: with every pstr_t-sized slot of params and result holding the
 * string "x" (tried at both 8-byte phases, so any pstr_t member is hit once), a write whose
 * data meets a cached method's names that method's keys, and names only "x". Pointers are
 * compared, never followed: a slot read at the wrong phase is simply not "x". */
static void test_affects_names_ids(void **state) {
  static const char x[] = "x";
  (void)state;
  for (int w = 0; w < METHOD__COUNT; w++) {
    const method_desc_t *wd = &method_table[w];
    if (!wd->affects || wd->affects == method_affects_all || wd->affects == method_affects_pass)
      continue; /* drops everything */
    int named = 0;
    for (int r = 0; r < METHOD__COUNT; r++) {
      const method_desc_t *rd = &method_table[r];
      if (!rd->cache_key || !(rd->data & wd->data)) continue;
      int ok = 0;
      for (size_t phase = 0; phase < sizeof(pstr_t); phase += sizeof(void *)) {
        char *params = calloc(1, wd->params_size + 2 * sizeof(pstr_t));
        char *result = calloc(1, wd->result_size + 2 * sizeof(pstr_t));
        assert_non_null(params);
        assert_non_null(result);
        const pstr_t slot = {x, 1};
        for (size_t o = phase; o <= wd->params_size; o += sizeof slot)
          memcpy(params + o, &slot, sizeof slot);
        for (size_t o = phase; o <= wd->result_size; o += sizeof slot)
          memcpy(result + o, &slot, sizeof slot);
        pstr_t ids[METHOD_AFFECTS_MAX];
        int n = wd->affects(params, result, rd->cache, ids);
        int all_x = n > 0;
        for (int i = 0; i < n; i++) all_x &= ids[i].p == x && ids[i].n == 1;
        ok |= all_x;
        free(params);
        free(result);
      }
      if (!ok) fail_msg("%s names no %s key though it changes its data", wd->name, rd->name);
      named++;
    }
    if (!named) { /* data no cached answer reads (D_OFFERS): the function names nothing */
      pstr_t ids[METHOD_AFFECTS_MAX];
      char *zeros = calloc(1, wd->params_size + wd->result_size + 1);
      assert_non_null(zeros);
      int n = wd->affects(zeros, zeros, KEY_CUSTOMER, ids);
      free(zeros);
      if (n != 0) fail_msg("write %s invalidates no cached answer by id", wd->name);
    }
  }
}

/* A loyalty pass chunk drops every answer unless it says it wrote nothing. */
static void test_affects_pass(void **state) {
  (void)state;
  loy_pass_result_t r;
  pstr_t ids[METHOD_AFFECTS_MAX];
  memset(&r, 0, sizeof r);
  assert_int_equal(method_affects_pass(NULL, &r, KEY_CUSTOMER, ids), -1);
  r.unchanged = 1;
  assert_int_equal(method_affects_pass(NULL, &r, KEY_CUSTOMER, ids), 0);
  assert_ptr_equal(method_table[METHOD_loyalty_expire].affects, method_affects_pass);
}

/* ---- every result type encodes to msgpack that decodes back whole ---- */

static const pstr_t X = {"x", 1};
static const pstr_t EUR = {"EUR", 3};

/* Fill a result with every optional part present: flags set, arrays non-empty, strings
 * non-empty. The arena holds the arrays. Types are recognised by the table's type names. */
/* A fleet's model leader view with every part present (health and stats). */
static model_fleet_view_t fleet_view(void) {
  model_fleet_view_t v = {.shared = 1, .leader = 1, .connected = 1, .leader_name = "node0",
                          .poll_ms = 1000, .takeovers = 1, .published = 2, .loaded = 3,
                          .failures = 4, .n = 2};
  v.snap[0].name = "clv";
  v.snap[0].version = 7;
  snprintf(v.snap[0].checksum, sizeof v.snap[0].checksum, "%064d", 0);
  v.snap[1].name = "recs";
  v.snap[1].version = 8;
  return v;
}

static void fill_result(const char *type, void *out, arena_t *a) {
  if (!strcmp(type, "ping_result_t")) {
    ((ping_result_t *)out)->time = 1700000000;
  } else if (!strcmp(type, "health_result_t")) {
    health_result_t *r = out;
    *r = (health_result_t){0, "degraded", 5, 2, "1.0", "disk full", 1, 1, 1500, "", fleet_view()};
  } else if (!strcmp(type, "stats_result_t")) {
    stats_result_t *r = out;
    memset(r, 0x11, sizeof *r);
    r->version = "1.0";
    r->store_backend = "postgresql";
    r->model_fleet = fleet_view();
  } else if (!strcmp(type, "upsert_result_t")) {
    *(upsert_result_t *)out = (upsert_result_t){X, 7};
  } else if (!strcmp(type, "product_t")) {
    product_t *p = out;
    *p = (product_t){.id = X, .name = X, .category = X, .currency = EUR, .price = 100,
                     .stock = 3, .margin = -5, .has_price = 1, .has_margin = 1, .has_stock = 1,
                     .active = 1, .updated_at = 9};
  } else if (!strcmp(type, "customer_view_t")) {
    customer_view_t *v = out;
    customer_profile_t *p = &v->profile;
    p->customer = (customer_t){.id = X, .email = X, .name = X, .created_at = 1, .updated_at = 2};
    p->known = 1;
    p->order_count = 3;
    p->ntotals = CORE_MAX_CURRENCIES;
    for (size_t i = 0; i < p->ntotals; i++)
      p->totals[i] = (currency_totals_t){"EUR", 1, 2, 3, 4, 5};
    p->nlast = CORE_LAST_PRODUCTS;
    for (size_t i = 0; i < p->nlast; i++) p->last_products[i] = X;
    v->loy = (cust_loyalty_t){.program = 1, .has_tier = 1, .tier = "gold", .points = 5};
    v->an = (cust_analytics_t){.model_version = 1, .scored = 1, .as_of = 5, .r = 1, .f = 2,
                               .m = 3, .segment = "champions", .has_clv = 1, .p_alive = 0.5,
                               .churn_risk = 0.5, .expected = {1, 2, 3}, .churn_band = "low",
                               .has_value = 1, .predicted_clv = 100, .currency = "EUR"};
  } else if (!strcmp(type, "order_result_t")) {
    *(order_result_t *)out = (order_result_t){1, 2, 3};
  } else if (!strcmp(type, "refund_result_t")) {
    *(refund_result_t *)out = (refund_result_t){1, 2, 3, 4, EUR, X};
  } else if (!strcmp(type, "order_view_t")) {
    order_view_t *v = out;
    order_line_t *l = arena_alloc(a, 3 * sizeof *l);
    assert_non_null(l);
    for (int i = 0; i < 3; i++)
      l[i] = (order_line_t){.product_id = X, .quantity = 1, .unit_price = 2};
    v->order = (order_t){.order_id = X, .customer_id = X, .ts = 1, .currency = EUR,
                         .lines = l, .nlines = 3, .discount = 1, .shipping = 2, .tax = 3};
    v->refunded = 4;
  } else if (!strcmp(type, "refit_result_t")) {
    refit_result_t *r = out;
    r->n = MODELS_MAX;
    for (size_t i = 0; i < r->n; i++) {
      r->models[i].name = "clv";
      r->models[i].info = (model_info_t){.status = "ready", .reason = "r", .version = 1};
      r->models[i].took_ms = 3;
    }
  } else if (!strcmp(type, "kpi_result_t")) {
    kpi_result_t *r = out;
    size_t n = 3;
    memcpy(r->currency, "EUR", 4);
    r->cohorts.ncohorts = n;
    r->cohorts.first_month = 2024 * 12;
    r->cohorts.size = arena_alloc(a, n * sizeof(uint64_t));
    r->cohorts.active = arena_alloc(a, n * n * sizeof(uint64_t));
    r->cohorts.rate = arena_alloc(a, n * n * sizeof(double));
    assert_non_null(r->cohorts.rate);
    for (size_t i = 0; i < n; i++) r->cohorts.size[i] = 2;
    for (size_t i = 0; i < n * n; i++) {
      r->cohorts.active[i] = 1;
      r->cohorts.rate[i] = i % n + i / n < n ? 0.5 : -1;
    }
    r->report.nps_responses = r->report.csat_responses = 1;
    r->model_version = 1;
    r->has_clv = r->has_value = 1;
    memcpy(r->model_currency, "EUR", 4);
  } else if (!strcmp(type, "segment_list_t")) {
    segment_list_t *r = out;
    r->model_version = 1;
    r->has_clv = 1;
    memcpy(r->currency, "EUR", 4);
  } else if (!strcmp(type, "segment_page_t")) {
    segment_page_t *r = out;
    segment_member_t *m = arena_alloc(a, 3 * sizeof *m);
    assert_non_null(m);
    for (int i = 0; i < 3; i++) m[i] = (segment_member_t){.id = X, .r = 1, .f = 2, .m = 3};
    *r = (segment_page_t){.segment = "champions", .model_version = 1, .total = 3, .has_clv = 1,
                          .has_value = 1, .currency = "EUR", .items = m, .n = 3, .next_cursor = X};
  } else if (!strcmp(type, "feedback_result_t")) {
    ((feedback_result_t *)out)->created = 1;
  } else if (!strcmp(type, "export_result_t")) {
    export_result_t *r = out;
    r->profile.customer = (customer_t){.id = X, .email = X, .name = X, .created_at = 1};
    r->profile.ntotals = 1;
    r->profile.totals[0] = (currency_totals_t){"EUR", 1, 2, 3, 4, 5};
    r->profile.nlast = 1;
    r->profile.last_products[0] = X;
    r->orders = arena_alloc(a, 2 * sizeof *r->orders);
    r->feedback = arena_alloc(a, 2 * sizeof *r->feedback);
    order_line_t *l = arena_alloc(a, sizeof *l);
    assert_true(r->orders && r->feedback && l);
    *l = (order_line_t){.product_id = X, .quantity = 1, .unit_price = 2};
    for (int i = 0; i < 2; i++) {
      r->orders[i].order = (order_t){.order_id = X, .customer_id = X, .ts = 1, .currency = EUR,
                                     .lines = l, .nlines = 1, .tax = 3};
      r->orders[i].refunded = 4;
      r->feedback[i] = (feedback_t){.feedback_id = X, .customer_id = X, .kind = 1, .score = 5, .ts = 6};
    }
    r->norders = r->nfeedback = 2;
  } else if (!strcmp(type, "forget_result_t")) {
    forget_result_t *r = out;
    memcpy(r->pseudonym, "anon-0123", 10);
    r->orders = 2;
    r->feedback = 3;
    r->loyalty = 4;
  } else if (!strcmp(type, "merge_result_t")) {
    *(merge_result_t *)out = (merge_result_t){1, 2, 3};
  } else if (!strcmp(type, "subscribe_result_t")) {
    ((subscribe_result_t *)out)->subscribed = 1;
  } else if (!strcmp(type, "model_params_result_t")) {
    model_params_result_t *r = out;
    r->version = 1;
    r->status = "ready";
    memcpy(r->currency, "EUR", 4);
  } else if (!strcmp(type, "recs_list_result_t")) {
    recs_list_result_t *r = out;
    recs_wire_item_t *it = arena_alloc(a, 3 * sizeof *it);
    char *longid = arena_alloc(a, CORE_ID_MAX + 1);
    assert_non_null(longid);
    memset(longid, 'i', CORE_ID_MAX + 1);
    it[0] = (recs_wire_item_t){"x", 1, 0.5, "co_purchase"};
    it[1] = (recs_wire_item_t){longid, CORE_ID_MAX + 1, 0.25, "popular"}; /* the slow path */
    it[2] = (recs_wire_item_t){longid, 40, 0.125, "trending"};           /* str8 id */
    *r = (recs_list_result_t){.items = it, .n = 3, .fallback = "popular", .model_version = 1,
                              .unknown_items = 1, .history_orders = 2, .customer_known = 1,
                              .has_customer = 1};
  } else if (!strcmp(type, "recs_rules_result_t")) {
    recs_rules_result_t *r = out;
    recs_wire_rule_t *ru = arena_alloc(a, 2 * sizeof *ru);
    pstr_t *lhs = arena_alloc(a, 2 * sizeof *lhs);
    assert_non_null(lhs);
    lhs[0] = lhs[1] = X;
    for (int i = 0; i < 2; i++) ru[i] = (recs_wire_rule_t){lhs, 2, X, 3, 0.1, 0.2, 1.5};
    *r = (recs_rules_result_t){ru, 2, 2, 10, 5, 0.01, 0.1, 3};
  } else if (!strcmp(type, "loy_program_set_result_t")) {
    loy_program_set_result_t *r = out;
    r->version = 2;
    r->expired = (loy_batch_result_t){.members = 3, .changed = 1, .entries = 1, .done = 0,
                                      .next = "x", .next_len = 1};
  } else if (!strcmp(type, "loy_program_view_t")) {
    loy_program_t *p = &((loy_program_view_t *)out)->program;
    loyalty_program_default(p);
    p->ntiers = LOY_MAX_TIERS;
    for (size_t i = 0; i < p->ntiers; i++) {
      snprintf(p->tiers[i].name, sizeof p->tiers[i].name, "t%zu", i);
      p->tiers[i].nlabels = LOY_MAX_LABELS;
      for (size_t k = 0; k < LOY_MAX_LABELS; k++) strcpy(p->tiers[i].labels[k], "l");
    }
    strcpy(p->tier_currency, "EUR");
    p->nearn = p->nredeem = LOY_MAX_RATES;
    for (size_t i = 0; i < LOY_MAX_RATES; i++)
      p->earn[i] = p->redeem[i] = (loy_rate_t){"EUR", 1, 100};
    p->nmults = 2;
    p->mults[0] = (loy_mult_t){1, "c", 20000};
    p->mults[1] = (loy_mult_t){0, "p", 0};
  } else if (!strcmp(type, "loy_tier_info_t")) {
    loy_tier_info_t *t = out;
    *t = (loy_tier_info_t){.member = 1, .has_tier = 1, .tier_since = 5, .qualifying = 10,
                           .unit = "points", .has_next = 1, .next_tier = "gold", .missing = 3,
                           .kept_until = 7, .kept_at_pace = 1};
    strcpy(t->tier.name, "silver");
    t->tier.nlabels = 1;
    strcpy(t->tier.labels[0], "l");
  } else if (!strcmp(type, "loy_points_info_t")) {
    loy_points_info_t *p = out;
    loy_entry_t *h = arena_alloc(a, 2 * sizeof *h);
    assert_non_null(h);
    for (int i = 0; i < 2; i++)
      h[i] = (loy_entry_t){.seq = 2u - (unsigned)i, .type = LOY_E_EARN, .amount = 5, .key = X,
                           .source = X};
    *p = (loy_points_info_t){.member = 1, .total = 10, .pending = 5, .balance = 5,
                             .nexpiring = LOY_MAX_EXPIRING, .nhistory = 2, .history = h,
                             .next_before = 1};
  } else if (!strcmp(type, "loy_preview_t")) {
    *(loy_preview_t *)out = (loy_preview_t){.points = 5, .net_spend = 500, .upgrades = 1,
                                            .tier_after = "gold", .bonus = 100};
  } else if (!strcmp(type, "loy_credit_wire_t")) {
    loy_credit_wire_t *w = out;
    w->customer_id = X;
    w->r = (loy_credit_result_t){.created = 1, .points = 5, .balance_after = 5,
                                 .move = {.changed = 1, .from = "", .to = "gold", .bonus = 1}};
  } else if (!strcmp(type, "loy_redeem_wire_t")) {
    loy_redeem_wire_t *w = out;
    w->customer_id = w->redemption_id = X;
    w->r = (loy_redeem_result_t){.status = LOY_REDEEM_ACCEPTED, .created = 1, .points = 5,
                                 .value = 50, .currency = "EUR", .balance_after = 1};
  } else if (!strcmp(type, "loy_cancel_wire_t")) {
    loy_cancel_wire_t *w = out;
    w->customer_id = X;
    w->r = (loy_cancel_result_t){.created = 1, .points_returned = 5, .balance_after = 5,
                                 .customer_id = "x"};
  } else if (!strcmp(type, "loy_members_result_t")) {
    loy_members_result_t *m = out;
    pstr_t *ids = arena_alloc(a, 2 * sizeof *ids);
    assert_non_null(ids);
    ids[0] = ids[1] = X;
    *m = (loy_members_result_t){.tier = X, .ids = ids, .n = 2, .more = 1};
  } else if (!strcmp(type, "loy_check_result_t")) {
    loy_check_t *c = &((loy_check_result_t *)out)->check;
    *c = (loy_check_t){.members = 2, .entries = 5, .ndiffs = 1, .orphans = 1, .nlisted = 16};
    for (int i = 0; i < 16; i++) c->diffs[i] = (loy_check_diff_t){X, 1, 2};
  } else if (!strcmp(type, "loy_pass_result_t")) {
    ((loy_pass_result_t *)out)->r = (loy_batch_result_t){.members = 3, .done = 1};
  } else if (!strcmp(type, "loy_expiring_result_t")) {
    loy_expiring_result_t *r = out;
    loy_expiring_item_t *it = arena_alloc(a, 2 * sizeof *it);
    assert_non_null(it);
    it[0] = it[1] = (loy_expiring_item_t){X, 5, 7};
    *r = (loy_expiring_result_t){1, 2, it, 2, 1};
  } else if (!strcmp(type, "debug_clock_result_t")) {
    *(debug_clock_result_t *)out = (debug_clock_result_t){1700000000, 86400};
  } else if (!strcmp(type, "json_blob_t")) { /* packed by the handler: {"a": [1, "x"]} */
    static const char blob[] = "\x81\xa1" "a" "\x92\x01\xa1" "x";
    *(json_blob_t *)out = (json_blob_t){blob, sizeof blob - 1};
  } else {
    fail_msg("no filler for result type %s: add one to test_method_table.c", type);
  }
}

/* Every map has string keys, none twice; walks the whole object. */
static void check_object(const msgpack_object *o, const char *what) {
  if (o->type == MSGPACK_OBJECT_ARRAY) {
    for (uint32_t i = 0; i < o->via.array.size; i++) check_object(&o->via.array.ptr[i], what);
  } else if (o->type == MSGPACK_OBJECT_MAP) {
    const msgpack_object_map *m = &o->via.map;
    for (uint32_t i = 0; i < m->size; i++) {
      const msgpack_object *k = &m->ptr[i].key;
      if (k->type != MSGPACK_OBJECT_STR) fail_msg("%s: a map key is not a string", what);
      for (uint32_t j = 0; j < i; j++)
        if (m->ptr[j].key.via.str.size == k->via.str.size &&
            !memcmp(m->ptr[j].key.via.str.ptr, k->via.str.ptr, k->via.str.size))
          fail_msg("%s: key '%.*s' twice in one map", what, (int)k->via.str.size, k->via.str.ptr);
      check_object(&m->ptr[i].val, what);
    }
  }
}

/* Encode with enc, then msgpack-c must decode exactly one object from all the bytes. */
static void roundtrip(void (*enc)(msgpack_packer *, const void *), const void *result,
                      const char *what) {
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_zone z;
  msgpack_object o;
  size_t off = 0;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  enc(&pk, result);
  assert_true(sb.size > 0);
  msgpack_zone_init(&z, 4096);
  if (msgpack_unpack(sb.data, sb.size, &off, &z, &o) != MSGPACK_UNPACK_SUCCESS || off != sb.size)
    fail_msg("%s: %zu bytes encoded, msgpack-c read %zu as one object", what, sb.size, off);
  if (o.type != MSGPACK_OBJECT_MAP) fail_msg("%s: the result is not a map", what);
  assert_int_equal(mpframe_count((const uint8_t *)sb.data, sb.size), 1);
  check_object(&o, what);
  msgpack_zone_destroy(&z);
  msgpack_sbuffer_destroy(&sb);
}

static void test_every_result_roundtrips(void **state) {
  (void)state;
  for (int i = 0; i < METHOD__COUNT; i++) {
    const method_desc_t *md = &method_table[i];
    for (int filled = 0; filled < 2; filled++) {
      arena_t a;
      char what[96];
      arena_init(&a, 0);
      void *r = arena_alloc(&a, md->result_size);
      assert_non_null(r);
      memset(r, 0, md->result_size);
      if (filled) fill_result(md->result_type, r, &a);
      snprintf(what, sizeof what, "%s (%s, %s)", md->name, md->result_type,
               filled ? "filled" : "zeroed");
      roundtrip(md->encode, r, what);
      arena_free(&a);
    }
  }
  customer_change_t ch = {X, "champions", "loyal", "low", "high", 3};
  roundtrip(enc_customer_changed, &ch, "customer.changed (filled)");
  memset(&ch, 0, sizeof ch);
  roundtrip(enc_customer_changed, &ch, "customer.changed (zeroed)");
}

/* The map writer writes the same bytes as a literal count, at each header size. */
static void test_map_writer_headers(void **state) {
  (void)state;
  size_t sizes[] = {0, 1, 15, 16, 65535, 65536};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    msgpack_sbuffer a, b;
    msgpack_packer pa, pb;
    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pa, &a, msgpack_sbuffer_write);
    msgpack_packer_init(&pb, &b, msgpack_sbuffer_write);
    msgpack_pack_nil(&pa); /* the map need not start the buffer */
    msgpack_pack_nil(&pb);
    PK_MAP(&pa) {
      for (size_t i = 0; i < sizes[k]; i++) pk_kv_uint(&pa, "k", i);
    }
    msgpack_pack_map(&pb, (uint32_t)sizes[k]);
    for (size_t i = 0; i < sizes[k]; i++) pk_kv_uint(&pb, "k", i);
    assert_int_equal(a.size, b.size);
    assert_memory_equal(a.data, b.data, a.size);
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_policy_columns),
    cmocka_unit_test(test_affects_unknown_is_all),
    cmocka_unit_test(test_affects_names_ids),
    cmocka_unit_test(test_affects_pass),
    cmocka_unit_test(test_every_result_roundtrips),
    cmocka_unit_test(test_map_writer_headers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
