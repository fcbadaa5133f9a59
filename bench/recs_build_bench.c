/* recs_build_bench.c -- full model rebuild from synthetic order lines, then recs_cart latency.
 * Generator: items by Zipf(s) rank; a basket holds 1 + Poisson-ish extra lines (mean ~3 lines),
 * each extra line a "companion" of the first item (rank + small offset) with prob. 1/2, else
 * another Zipf draw; customers get ~6 orders each; timestamps spread over a year.
 * Reports ingest (interning string ids + add_basket), build, serialise and load times, snapshot
 * bytes per item, and 5-item-cart scoring latency (mean, p50, p99) on one thread.
 * usage: recs_build_bench [--lines N] [--items N] [--zipf S] [--topk K] [--threads T]
 *                         [--no-customer-graph] [--queries N]
 *                         [--model cooc|ease|sparse_ease|auto] [--lambda X] [--neighbours N]
 *                         [--max-items N] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recs/recs.h"
#include "bench_rand.h"


static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  size_t lines = 5000000, queries = 200000;
  uint32_t nitems = 100000;
  double s = 1.0;
  recs_config_t cfg;
  recs_config_default(&cfg);
  for (int i = 1; i + 1 < argc || (i < argc && !strcmp(argv[i], "--no-customer-graph")); i++) {
    if (!strcmp(argv[i], "--no-customer-graph")) { cfg.customer_graph = 0; continue; }
    const char *a = argv[i], *v = argv[++i];
    if (!strcmp(a, "--lines")) lines = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--items")) nitems = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--zipf")) s = atof(v);
    else if (!strcmp(a, "--topk")) cfg.top_k = (uint32_t)atoi(v);
    else if (!strcmp(a, "--threads")) cfg.threads = atoi(v);
    else if (!strcmp(a, "--queries")) queries = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--model")) {
      if (recs_model_parse(v, &cfg.model)) { fprintf(stderr, "bad --model %s\n", v); return 2; }
    } else if (!strcmp(a, "--lambda")) cfg.ease_lambda = atof(v);
    else if (!strcmp(a, "--neighbours")) cfg.ease_neighbours = (uint32_t)atoi(v);
    else if (!strcmp(a, "--max-items")) cfg.ease_max_items = (uint32_t)atoi(v);
    else { fprintf(stderr, "unknown option %s\n", a); return 2; }
  }
  printf("# recs_build_bench");
  for (int i = 1; i < argc; i++) printf(" %s", argv[i]);
  printf("\n# model %s (lambda %g, neighbours %u, max items %u)", recs_model_name(cfg.model),
         cfg.ease_lambda, cfg.ease_neighbours, cfg.ease_max_items);
  printf("\n# lines %zu, items %u, zipf s %.2f, top_k %u, threads %d, customer graph %d\n", lines,
         nitems, s, cfg.top_k, cfg.threads, cfg.customer_graph);
  double *cdf = malloc(nitems * sizeof(double)), tot = 0;
  for (uint32_t i = 0; i < nitems; i++) tot += pow(i + 1.0, -s);
  double acc = 0;
  for (uint32_t i = 0; i < nitems; i++) { acc += pow(i + 1.0, -s) / tot; cdf[i] = acc; }
  cdf[nitems - 1] = 1.0;
  /* generate the order lines first (not timed): baskets of item ranks */
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  uint32_t *it = malloc(lines * sizeof(uint32_t)), *bsz = malloc(lines * sizeof(uint32_t));
  size_t nl = 0, nb = 0;
  while (nl < lines) {
    uint32_t k = 1;
    while (k < 12 && unif(&seed) < 0.66) k++; /* mean ~2.9 lines */
    if (nl + k > lines) k = (uint32_t)(lines - nl);
    uint32_t first = zipf(cdf, nitems, &seed);
    it[nl] = first;
    for (uint32_t j = 1; j < k; j++)
      it[nl + j] = unif(&seed) < 0.5 ? (first + 1 + (uint32_t)(rnd(&seed) % 8)) % nitems
                                     : zipf(cdf, nitems, &seed);
    bsz[nb++] = k;
    nl += k;
  }
  size_t ncust = nb / 6 + 1;
  printf("# baskets %zu (%.2f lines/basket), customers %zu\n", nb, (double)lines / nb, ncust);
  double t0 = now_s();
  recs_builder_t *b = recs_builder_new(&cfg, NULL);
  char name[32], cname[32];
  const char *names[16];
  size_t lens[16];
  char nbuf[16][32];
  int64_t t_start = 1700000000;
  size_t pos = 0;
  for (size_t k = 0; k < nb; k++) {
    for (uint32_t j = 0; j < bsz[k]; j++) {
      lens[j] = (size_t)snprintf(nbuf[j], sizeof nbuf[j], "SKU-%07u", it[pos + j]);
      names[j] = nbuf[j];
    }
    size_t cl = (size_t)snprintf(cname, sizeof cname, "cust-%zu", (size_t)(rnd(&seed) % ncust));
    int64_t ts = t_start + (int64_t)((double)k / nb * 365 * 86400);
    if (recs_builder_add_basket(b, cname, cl, ts, names, lens, bsz[k]) != PERR_OK) {
      fprintf(stderr, "add failed\n");
      return 1;
    }
    pos += bsz[k];
  }
  double t1 = now_s();
  recs_snapshot_t *snap;
  perr_info_t e;
  if (recs_builder_build(b, &snap, &e) != PERR_OK) { fprintf(stderr, "%s\n", e.message); return 1; }
  double t2 = now_s();
  recs_snapshot_stats_t st;
  recs_snapshot_stats(snap, &st);
  size_t len;
  const void *bytes = recs_snapshot_bytes(snap, &len);
  double t3 = now_s();
  recs_snapshot_t *re;
  if (recs_snapshot_load(bytes, len, &re, &e) != PERR_OK) { fprintf(stderr, "%s\n", e.message); return 1; }
  double t4 = now_s();
  recs_snapshot_unref(re);
  printf("ingest (intern + add_basket): %.2f s\nbuild (graphs, popularity, trending, snapshot): "
         "%.2f s\nrebuild total: %.2f s\n", t1 - t0, t2 - t1, t2 - t0);
  printf("items %u, basket-graph edges %llu, customer-graph edges %llu\n", st.items,
         (unsigned long long)st.edges[0], (unsigned long long)st.edges[1]);
  printf("snapshot %zu bytes = %.1f bytes/item; load+validate %.3f s\n", len,
         (double)len / st.items, t4 - t3);
  /* 5-item carts: items drawn by popularity, scored on one thread */
  recs_scratch_t *sc = recs_scratch_new();
  recs_result_t res[10];
  recs_answer_t ans;
  double *lat = malloc(queries * sizeof(double)), sum = 0;
  uint32_t cart[5];
  size_t hits = 0;
  for (size_t q = 0; q < queries + 1000; q++) {
    for (int j = 0; j < 5; j++) {
      snprintf(name, sizeof name, "SKU-%07u", zipf(cdf, nitems, &seed));
      cart[j] = recs_snapshot_lookup(snap, name, strlen(name));
    }
    recs_request_t rq = {.items = cart, .nitems = 5};
    double a = now_s();
    int n = recs_cart(snap, sc, &rq, res, 10, &ans);
    double d = now_s() - a;
    if (n > 0) hits++;
    if (q >= 1000) { lat[q - 1000] = d; sum += d; } /* first 1000: warm-up */
  }
  qsort(lat, queries, sizeof(double), cmp_d);
  printf("recs_cart 5-item cart, top 10, 1 thread: mean %.2f us, p50 %.2f us, p99 %.2f us "
         "(%zu queries)\n", sum / queries * 1e6, lat[queries / 2] * 1e6,
         lat[(size_t)(queries * 0.99)] * 1e6, queries);
  (void)hits;
  free(lat);
  recs_scratch_free(sc);
  recs_snapshot_unref(snap);
  recs_builder_free(b);
  free(it); free(bsz); free(cdf);
  return 0;
}
