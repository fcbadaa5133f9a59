/* recs_score_bench.c -- cost of the recs scorers (src/recs/recs_score.c) per call on a
 * synthetic model, and a full-precision run of the offline evaluation, so that a change of
 * the scorer can be checked for speed and for identical answers.
 *
 * Model: the generator of recs_build_bench (item ranks by Zipf s=1, ~2.9 lines per basket,
 * half of the extra lines "companions" of the first item, ~6 baskets per customer), default
 * recs_config (cosine^2, top 100, customer graph), built once and cached in --snapshot PATH.
 * Catalogue: 200 categories by hash of the id (category 199 = "hidden", excluded like the
 * daemon's inactive products), prices 1.00 .. 100.99, margins 0 .. 49 % of the price,
 * 95 % in stock, 5 % consumable; served as arrays or (daemon-like) through the callback.
 *
 * Scenarios (--only NAME runs one), each --calls N requests with random Zipf items:
 *   cart          5-item cart, top 10, no catalogue, no filter (recs_build_bench's query)
 *   cart_daemon   the same as patrond asks it: callback catalogue, excluded "hidden" category,
 *                 incremental delta with 2,000 recorded baskets
 *   cart_hist     5-item cart + 30-entry history (repurchase 0.1, history neighbours 0.1)
 *   cart_filter   array catalogue, in stock only, price band, 3 excluded items,
 *                 max 2 per category
 *   cart_boost    array catalogue, margin boost 0.5
 *   similar       1 item, top 10
 *   for_customer  30-entry history + 2-item cart, callback catalogue (consumables)
 *   upsell        1 item, array catalogue (same category, price in (p, 2p])
 *   upsell_cands  1 item + its category's first 64 items as candidates
 * Each scenario prints ns/call (mean over the loop, and p50/p99 of per-call timings) and a
 * digest of every answer (items, score bits, reasons, fallbacks): equal digests = identical
 * answers. Every call goes through a noinline wrapper bench_<scenario>, so instructions per
 * call are the wrapper's inclusive Ir in callgrind divided by the calls:
 *   valgrind --tool=callgrind --callgrind-out-file=cg.out recs_score_bench --calls 20000
 *   callgrind_annotate --inclusive=yes cg.out | grep bench_
 *
 * --eval FILE.csv[.gz]: runs the EVALUATION.md protocol (src/recs/recs_eval.c) for the
 * baseline, default and two more parameter sets and prints the metrics with 17 digits.
 *
 * usage: recs_score_bench [--lines N] [--items N] [--calls N] [--snapshot PATH] [--only NAME]
 *        recs_score_bench --eval FILE */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recs/recs.h"
#include "recs/recs_eval.h"
#include "bench_rand.h"

#define NCAT 200
#define HIDDEN (NCAT - 1)


static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static uint32_t mix(uint32_t x) {
  x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
  return x;
}

/* ---- model ---- */
static recs_snapshot_t *build_model(size_t lines, uint32_t nitems, const double *cdf) {
  recs_config_t cfg;
  recs_config_default(&cfg);
  recs_builder_t *b = recs_builder_new(&cfg, NULL);
  if (!b) return NULL;
  uint32_t *ids = malloc(nitems * sizeof(uint32_t));
  char name[32];
  for (uint32_t i = 0; i < nitems; i++) {
    int n = snprintf(name, sizeof name, "SKU-%07u", i);
    if (recs_builder_intern(b, name, (size_t)n, &ids[i])) return NULL;
  }
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  size_t nl = 0, nb = 0, ncust = lines / 3 / 6 + 1;
  uint32_t basket[12];
  while (nl < lines) {
    uint32_t k = 1;
    while (k < 12 && unif(&seed) < 0.66) k++;
    if (nl + k > lines) k = (uint32_t)(lines - nl);
    uint32_t first = zipf(cdf, nitems, &seed);
    basket[0] = ids[first];
    for (uint32_t j = 1; j < k; j++)
      basket[j] = ids[unif(&seed) < 0.5 ? (first + 1 + (uint32_t)(rnd(&seed) % 8)) % nitems
                                        : zipf(cdf, nitems, &seed)];
    int n = snprintf(name, sizeof name, "cust-%zu", (size_t)(rnd(&seed) % ncust));
    uint32_t cid;
    if (recs_builder_intern_customer(b, name, (size_t)n, &cid)) return NULL;
    int64_t ts = 1700000000 + (int64_t)((double)nl / lines * 365 * 86400);
    if (recs_builder_add_basket_ids(b, cid, ts, basket, k)) return NULL;
    nl += k;
    nb++;
  }
  recs_snapshot_t *s = NULL;
  perr_info_t e;
  if (recs_builder_build(b, &s, &e)) fprintf(stderr, "build: %s\n", e.message);
  recs_builder_free(b);
  free(ids);
  return s;
}

/* ---- catalogue ---- */
typedef struct cat_s {
  uint32_t n;
  uint64_t *stock, *cons;
  uint32_t *category;
  int64_t *price, *margin;
} cat_t;

static void cat_make(cat_t *c, uint32_t n) {
  c->n = n;
  c->stock = calloc(n / 64 + 1, 8);
  c->cons = calloc(n / 64 + 1, 8);
  c->category = malloc(n * sizeof(uint32_t));
  c->price = malloc(n * sizeof(int64_t));
  c->margin = malloc(n * sizeof(int64_t));
  for (uint32_t i = 0; i < n; i++) {
    uint32_t h = mix(i + 1);
    if (h % 100 < 95) c->stock[i >> 6] |= 1ull << (i & 63);
    if ((h >> 8) % 100 < 5) c->cons[i >> 6] |= 1ull << (i & 63);
    c->category[i] = (h >> 12) % NCAT;
    c->price[i] = 100 + (int64_t)((h >> 4) % 10000);
    c->margin[i] = c->price[i] * (int64_t)((h >> 20) % 50) / 100;
  }
}

static int cat_info(void *ctx, uint32_t id, recs_item_info_t *o) {
  const cat_t *c = ctx;
  if (id >= c->n) return 0;
  o->in_stock = (int)((c->stock[id >> 6] >> (id & 63)) & 1);
  o->consumable = (int)((c->cons[id >> 6] >> (id & 63)) & 1);
  o->category = c->category[id];
  o->price = c->price[id];
  o->margin = c->margin[id];
  return 1;
}

/* ---- scenarios ---- */
typedef int (*score_fn)(const recs_snapshot_t *, recs_scratch_t *, const recs_request_t *,
                        recs_result_t *, size_t, recs_answer_t *);

#define WRAP(name, fn)                                                                       \
  __attribute__((noinline)) static int bench_##name(const recs_snapshot_t *s,              \
                                                    recs_scratch_t *sc, const recs_request_t *q, \
                                                    recs_result_t *o, size_t n,             \
                                                    recs_answer_t *a) {                     \
    static volatile unsigned calls; /* keeps the wrappers distinct (no code folding) */     \
    calls++;                                                                                 \
    return fn(s, sc, q, o, n, a);                                                           \
  }
WRAP(cart, recs_cart)
WRAP(cart_daemon, recs_cart)
WRAP(cart_hist, recs_cart)
WRAP(cart_filter, recs_cart)
WRAP(cart_boost, recs_cart)
WRAP(similar, recs_similar)
WRAP(for_customer, recs_for_customer)
WRAP(upsell, recs_upsell)
WRAP(upsell_cands, recs_upsell)

enum { S_CART, S_CART_DAEMON, S_CART_HIST, S_CART_FILTER, S_CART_BOOST, S_SIMILAR, S_FOR_CUSTOMER,
       S_UPSELL, S_UPSELL_CANDS, S_N };
static const struct { const char *name; score_fn fn; } scen[S_N] = {
    {"cart", bench_cart},
    {"cart_daemon", bench_cart_daemon},
    {"cart_hist", bench_cart_hist},
    {"cart_filter", bench_cart_filter},
    {"cart_boost", bench_cart_boost},
    {"similar", bench_similar},
    {"for_customer", bench_for_customer},
    {"upsell", bench_upsell},
    {"upsell_cands", bench_upsell_cands},
};

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

typedef struct world_s {
  const recs_snapshot_t *s;
  const double *cdf;
  uint32_t nitems;        /* generator ranks */
  uint32_t *rank2id;      /* rank -> snapshot id (RECS_NO_ITEM when the model lacks it) */
  cat_t cat;
  recs_delta_t *delta;
  uint32_t *by_cat;       /* items grouped by category: by_cat[cat_off[c] ..] */
  uint32_t cat_off[NCAT + 1];
} world_t;

static uint32_t draw(const world_t *w, uint64_t *seed) {
  return w->rank2id[zipf(w->cdf, w->nitems, seed)];
}

static int run_scenario(const world_t *w, int sn, size_t calls) {
  recs_scratch_t *sc = recs_scratch_new();
  double *lat = malloc(calls * sizeof(double));
  if (!sc || !lat) return 1;
  uint64_t seed = 0x243f6a8885a308d3ull + (uint64_t)sn;
  uint64_t digest = 0xcbf29ce484222325ull;
  recs_result_t res[10];
  recs_answer_t ans;
  uint32_t items[8], hist[30], excl[3], cands[64], hidden = HIDDEN;
  recs_catalog_t arrays = {NULL, NULL, w->cat.n, w->cat.stock, w->cat.cons, w->cat.category,
                           w->cat.price, w->cat.margin};
  recs_catalog_t cb = {cat_info, (void *)&w->cat, 0, NULL, NULL, NULL, NULL, NULL};
  recs_params_t p;
  recs_filter_t f;
  double total = 0;
  size_t results = 0, fallback = 0;
  const size_t warm = calls / 20 + 10;
  for (size_t c = 0; c < calls + warm; c++) {
    recs_request_t q;
    memset(&q, 0, sizeof q);
    memset(&f, 0, sizeof f);
    recs_params_default(&p);
    q.params = &p;
    q.items = items;
    size_t ncart = 5;
    switch (sn) {
    case S_CART_DAEMON:
      q.catalog = &cb;
      f.exclude_categories = &hidden;
      f.n_exclude_categories = 1;
      q.filter = &f;
      q.delta = w->delta;
      break;
    case S_CART_HIST:
      p.history_weight = 0.1;
      for (int j = 0; j < 30; j++) hist[j] = draw(w, &seed);
      q.history = hist;
      q.nhistory = 30;
      break;
    case S_CART_FILTER:
      q.catalog = &arrays;
      f.in_stock_only = 1;
      f.price_min = 2000;
      f.price_max = 9000;
      f.max_per_category = 2;
      for (int j = 0; j < 3; j++) excl[j] = draw(w, &seed);
      f.exclude_items = excl;
      f.n_exclude_items = 3;
      q.filter = &f;
      break;
    case S_CART_BOOST:
      q.catalog = &arrays;
      f.margin_boost = 0.5;
      q.filter = &f;
      break;
    case S_SIMILAR: ncart = 1; break;
    case S_FOR_CUSTOMER:
      ncart = 2;
      q.catalog = &cb;
      for (int j = 0; j < 30; j++) hist[j] = draw(w, &seed);
      q.history = hist;
      q.nhistory = 30;
      break;
    case S_UPSELL: ncart = 1; q.catalog = &arrays; break;
    case S_UPSELL_CANDS: {
      ncart = 1;
      q.catalog = &arrays;
      break;
    }
    default: break;
    }
    for (size_t j = 0; j < ncart; j++) items[j] = draw(w, &seed);
    q.nitems = ncart;
    if (sn == S_UPSELL_CANDS) {
      uint32_t it = items[0], cat = it < w->cat.n ? w->cat.category[it] : 0;
      uint32_t a = w->cat_off[cat], z = w->cat_off[cat + 1], n = 0;
      for (uint32_t k = a; k < z && n < 64; k++) cands[n++] = w->by_cat[k];
      q.candidates = cands;
      q.ncandidates = n;
    }
    double t0 = now_s();
    int n = scen[sn].fn(w->s, sc, &q, res, 10, &ans);
    double d = now_s() - t0;
    if (n < 0) { fprintf(stderr, "%s: error %d\n", scen[sn].name, n); return 1; }
    if (c < warm) continue;
    lat[c - warm] = d;
    total += d;
    results += (size_t)n;
    fallback += ans.from_fallback;
    for (int k = 0; k < n; k++) {
      digest = fnv(digest, &res[k].item, 4);
      digest = fnv(digest, &res[k].score, 4);
      digest = fnv(digest, &res[k].reason, 1);
    }
    uint32_t meta[4] = {(uint32_t)n, (uint32_t)ans.fallback, ans.unknown, ans.from_fallback};
    digest = fnv(digest, meta, sizeof meta);
  }
  qsort(lat, calls, sizeof(double), cmp_d);
  printf("| %-12s | %8.0f | %8.0f | %8.0f | %5.2f | %5.2f | %016llx |\n", scen[sn].name,
         total / calls * 1e9, lat[calls / 2] * 1e9, lat[(size_t)(calls * 0.99)] * 1e9,
         (double)results / calls, (double)fallback / calls, (unsigned long long)digest);
  free(lat);
  recs_scratch_free(sc);
  return 0;
}

/* ---- --eval ---- */
static int run_eval(const char *path) {
  size_t pl = strlen(path);
  FILE *f;
  int piped = pl > 3 && !strcmp(path + pl - 3, ".gz");
  if (piped) {
    if (strchr(path, '\'')) return 2;
    char *cmd = malloc(pl + 32);
    sprintf(cmd, "gzip -dc -- '%s'", path);
    f = popen(cmd, "r");
    free(cmd);
  } else {
    f = fopen(path, "r");
  }
  if (!f) { perror(path); return 1; }
  recs_eval_data_t *d;
  perr_info_t e = {0};
  int rc = recs_eval_load(f, &d, &e);
  if (piped) pclose(f); else fclose(f);
  if (rc) { fprintf(stderr, "load: %s\n", e.message); return 1; }
  recs_config_t base, def, p3;
  recs_config_baseline_cosine(&base);
  recs_config_default(&def);
  recs_config_default(&p3);
  p3.power = 3;
  recs_params_t pbase, pdef, phist, ptrend;
  recs_params_default(&pbase);
  pbase.repurchase_weight = 0;
  recs_params_default(&pdef);
  recs_params_default(&phist);
  phist.history_weight = 0.1;
  recs_params_default(&ptrend);
  ptrend.fallback_trending = 1;
  ptrend.repurchase_weight = 1.0;
  struct { const char *name; const recs_config_t *c; const recs_params_t *p; } runs[] = {
      {"baseline", &base, &pbase},
      {"default", &def, &pdef},
      {"power3+hist0.1", &p3, &phist},
      {"default+trend+rep1", &def, &ptrend},
  };
  for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
    recs_eval_metrics_t m;
    if ((rc = recs_eval_run(d, runs[r].c, runs[r].p, 10, &m, &e))) {
      fprintf(stderr, "%s: %s\n", runs[r].name, e.message);
      break;
    }
    printf("%-20s HR %.17g NDCG %.17g MRR %.17g cov %.17g fallback_slots %zu us/req %.2f\n",
           runs[r].name, m.hr, m.ndcg, m.mrr, m.coverage, m.fallback_slots, m.score_us_mean);
  }
  recs_eval_free(d);
  return rc ? 1 : 0;
}

int main(int argc, char **argv) {
  size_t lines = 1000000, calls = 100000;
  uint32_t nitems = 100000;
  const char *snap_path = NULL, *only = NULL;
  for (int i = 1; i + 1 < argc; i++) {
    const char *a = argv[i], *v = argv[++i];
    if (!strcmp(a, "--eval")) return run_eval(v);
    if (!strcmp(a, "--lines")) lines = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--items")) nitems = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--calls")) calls = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--snapshot")) snap_path = v;
    else if (!strcmp(a, "--only")) only = v;
    else { fprintf(stderr, "unknown option %s\n", a); return 2; }
  }
  if (nitems < 2 || calls < 1) return 2;
  double *cdf = malloc(nitems * sizeof(double)), tot = 0, acc = 0;
  for (uint32_t i = 0; i < nitems; i++) tot += pow(i + 1.0, -1.0);
  for (uint32_t i = 0; i < nitems; i++) { acc += pow(i + 1.0, -1.0) / tot; cdf[i] = acc; }
  cdf[nitems - 1] = 1.0;
  recs_snapshot_t *s = NULL;
  perr_info_t e;
  double t0 = now_s();
  if (snap_path && recs_snapshot_load_file(snap_path, &s, &e) == PERR_OK) {
    printf("# model loaded from %s in %.2f s\n", snap_path, now_s() - t0);
  } else {
    if (!(s = build_model(lines, nitems, cdf))) return 1;
    printf("# model built from %zu lines in %.2f s\n", lines, now_s() - t0);
    if (snap_path && recs_snapshot_save_file(s, snap_path, &e))
      fprintf(stderr, "save: %s\n", e.message);
  }
  recs_snapshot_stats_t st;
  recs_snapshot_stats(s, &st);
  printf("# items %u, basket-graph edges %llu, customer-graph edges %llu, calls %zu\n", st.items,
         (unsigned long long)st.edges[0], (unsigned long long)st.edges[1], calls);
  world_t w;
  memset(&w, 0, sizeof w);
  w.s = s;
  w.cdf = cdf;
  w.nitems = nitems;
  w.rank2id = malloc(nitems * sizeof(uint32_t));
  char name[32];
  for (uint32_t i = 0; i < nitems; i++) {
    int n = snprintf(name, sizeof name, "SKU-%07u", i);
    w.rank2id[i] = recs_snapshot_lookup(s, name, (size_t)n);
  }
  cat_make(&w.cat, st.items);
  for (uint32_t i = 0; i < st.items; i++) w.cat_off[w.cat.category[i] + 1]++;
  for (int c = 0; c < NCAT; c++) w.cat_off[c + 1] += w.cat_off[c];
  w.by_cat = malloc((st.items + 1) * sizeof(uint32_t));
  uint32_t fill[NCAT];
  memcpy(fill, w.cat_off, sizeof fill);
  for (uint32_t i = 0; i < st.items; i++) w.by_cat[fill[w.cat.category[i]]++] = i;
  /* the delta: 2,000 recorded baskets of 3 items */
  w.delta = recs_delta_new(s, 1u << 20);
  uint64_t seed = 42;
  for (int k = 0; k < 2000; k++) {
    uint32_t b[3] = {draw(&w, &seed), draw(&w, &seed), draw(&w, &seed)};
    if (recs_delta_add_basket(w.delta, b, 3, 1800000000) != PERR_OK) break;
  }
  printf("| scenario     | ns/call  | p50 ns   | p99 ns   | res   | fallb | answers digest   |\n"
         "|---|---|---|---|---|---|---|\n");
  int rc = 0;
  for (int sn = 0; sn < S_N && !rc; sn++)
    if (!only || !strcmp(only, scen[sn].name)) rc = run_scenario(&w, sn, calls);
  recs_delta_free(w.delta);
  recs_snapshot_unref(s);
  free(w.rank2id); free(w.by_cat); free(cdf);
  free(w.cat.stock); free(w.cat.cons); free(w.cat.category); free(w.cat.price); free(w.cat.margin);
  return rc;
}
