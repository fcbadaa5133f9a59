/* recs_load_synth.c -- synthetic order lines for the recommendation benchmarks, loaded into a
 * real patrond through order.record (pipelined on one connection), then optionally a full
 * model rebuild through the daemon's own path (model.refit on the admin socket: ORDERS scan,
 * build, save, install) and a 5-item cart params file for rpcbench.
 * Generator (same as recs_build_bench.c): items by Zipf(s) rank; a basket holds 1 + extra
 * lines (mean ~2.9), each extra a "companion" of the first item (rank + 1..8) with prob. 1/2,
 * else another Zipf draw; ~6 orders per customer; timestamps spread over a year.
 * usage: recs_load_synth (--patrond BIN | --socket SHOP --admin ADMIN) [--lines N] [--items N]
 *        [--zipf S] [--window W] [--refit] [--cart-params FILE] [--keep]
 * With --patrond a daemon is started with store.sync=false (a load for benchmarks, not a
 * durability test) and stopped by PID at the end (--keep: leave it running and print its
 * sockets). Exit 1 on any error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recs_client.h"
#include "bench_rand.h"


static long rss_kb(pid_t pid) {
  char path[64], line[256];
  long kb = -1;
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
  if (f) fclose(f);
  return kb;
}

int main(int argc, char **argv) {
  size_t lines = 1000000, window = 2048;
  uint32_t nitems = 100000;
  double s = 1.0;
  const char *patrond = NULL, *sock = NULL, *admin = NULL, *cart_file = NULL;
  int refit = 0, keep = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--refit")) { refit = 1; continue; }
    if (!strcmp(a, "--keep")) { keep = 1; continue; }
    if (!v) { fprintf(stderr, "missing value for %s\n", a); return 2; }
    i++;
    if (!strcmp(a, "--patrond")) patrond = v;
    else if (!strcmp(a, "--socket")) sock = v;
    else if (!strcmp(a, "--admin")) admin = v;
    else if (!strcmp(a, "--lines")) lines = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--items")) nitems = (uint32_t)strtoul(v, NULL, 10);
    else if (!strcmp(a, "--zipf")) s = atof(v);
    else if (!strcmp(a, "--window")) window = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--cart-params")) cart_file = v;
    else { fprintf(stderr, "unknown option %s\n", a); return 2; }
  }
  if ((!patrond && !sock) || (refit && !patrond && !admin) || nitems < 16 || !window) {
    fprintf(stderr, "usage: %s (--patrond BIN | --socket SHOP [--admin ADMIN]) [--lines N] "
                    "[--items N] [--zipf S] [--window W] [--refit] [--cart-params FILE] [--keep]\n",
            argv[0]);
    return 2;
  }
  rc_daemon_t dm = {0};
  if (patrond) {
    const char *extra[] = {"store.sync=false", "models.recs_rebuild_interval_s=0",
                           "models.clv_refit_interval_s=0", "log.level=notice", NULL};
    if (rc_daemon_start(&dm, patrond, extra)) {
      fprintf(stderr, "cannot start %s\n", patrond);
      rc_daemon_stop(&dm);
      return 1;
    }
    sock = dm.sock;
    admin = dm.admin;
  }
  double *cdf = malloc(nitems * sizeof(double)), tot = 0, acc = 0;
  for (uint32_t i = 0; i < nitems; i++) tot += pow(i + 1.0, -s);
  for (uint32_t i = 0; i < nitems; i++) { acc += pow(i + 1.0, -s) / tot; cdf[i] = acc; }
  cdf[nitems - 1] = 1.0;
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  size_t ncust = lines / 3 / 6 + 1, nl = 0, nb = 0, pending = 0, errors = 0;
  rc_conn_t c;
  char err[256];
  int fail = rc_connect(&c, sock) != 0;
  double t0 = rc_now();
  while (!fail && (nl < lines || pending)) {
    if (nl < lines) {
      uint32_t k = 1, it[12];
      while (k < 12 && unif(&seed) < 0.66) k++;
      if (nl + k > lines) k = (uint32_t)(lines - nl);
      it[0] = zipf(cdf, nitems, &seed);
      for (uint32_t j = 1; j < k; j++)
        it[j] = unif(&seed) < 0.5 ? (it[0] + 1 + (uint32_t)(rnd(&seed) % 8)) % nitems
                                  : zipf(cdf, nitems, &seed);
      char oid[32], cid[32], sku[32];
      int ol = snprintf(oid, sizeof oid, "s-%09zu", nb);
      int cl = snprintf(cid, sizeof cid, "cust-%zu", (size_t)(rnd(&seed) % ncust));
      rc_request(&c, "order.record");
      msgpack_pack_map(&c.pk, 5);
      RC_KEY(&c.pk, "order_id"); rc_pk_str(&c.pk, oid, (size_t)ol);
      RC_KEY(&c.pk, "customer_id"); rc_pk_str(&c.pk, cid, (size_t)cl);
      RC_KEY(&c.pk, "ts"); msgpack_pack_int64(&c.pk, 1700000000 + (int64_t)(nl * (365.0 * 86400 / (double)lines)));
      RC_KEY(&c.pk, "currency"); RC_KEY(&c.pk, "EUR");
      RC_KEY(&c.pk, "lines");
      msgpack_pack_array(&c.pk, k);
      for (uint32_t j = 0; j < k; j++) {
        int sl = snprintf(sku, sizeof sku, "SKU-%07u", it[j]);
        msgpack_pack_map(&c.pk, 3);
        RC_KEY(&c.pk, "product_id"); rc_pk_str(&c.pk, sku, (size_t)sl);
        RC_KEY(&c.pk, "quantity"); msgpack_pack_int(&c.pk, 1);
        RC_KEY(&c.pk, "unit_price"); msgpack_pack_int(&c.pk, 100 + (int)(it[j] % 1000));
      }
      nl += k;
      nb++;
      pending++;
    }
    if (pending == window || (nl >= lines && pending)) {
      if (rc_flush(&c)) { fail = 1; break; }
      for (; pending; pending--) {
        const msgpack_object *res;
        int rc = rc_read(&c, &res, err, sizeof err);
        if (rc < 0) { fail = 1; break; }
        if (rc > 0 && errors++ < 5) fprintf(stderr, "order.record: %s\n", err);
      }
    }
  }
  double load_s = rc_now() - t0;
  if (c.fd >= 0) rc_close(&c);
  if (fail || errors) {
    fprintf(stderr, "load failed (%zu errors)\n", errors);
    if (!keep) rc_daemon_stop(&dm);
    return 1;
  }
  printf("loaded %zu order lines in %zu orders (%.2f lines/order, %u item ids, zipf %.2f, "
         "~%zu customers) in %.1f s (%.0f orders/s)\n",
         nl, nb, (double)nl / (double)nb, nitems, s, ncust, load_s, (double)nb / load_s);
  if (refit) {
    long rss0 = patrond ? rss_kb(dm.pid) : -1;
    double t1 = rc_now();
    int64_t took = rc_refit(admin, err, sizeof err);
    double wall = rc_now() - t1;
    if (took < 0) {
      fprintf(stderr, "model.refit: %s\n", err);
      if (!keep) rc_daemon_stop(&dm);
      return 1;
    }
    /* the installed model's figures */
    rc_conn_t a;
    int64_t items = -1, bytes = -1, build_ms = -1;
    if (rc_connect(&a, admin) == 0) {
      const msgpack_object *res;
      rc_request(&a, "model.status");
      msgpack_pack_map(&a.pk, 0);
      if (rc_flush(&a) == 0 && rc_read(&a, &res, err, sizeof err) == 0) {
        const msgpack_object *ms = rc_get(res, "models");
        for (uint32_t i = 0; ms && ms->type == MSGPACK_OBJECT_ARRAY && i < ms->via.array.size; i++) {
          const msgpack_object *m = &ms->via.array.ptr[i], *nm = rc_get(m, "name");
          if (!nm || nm->type != MSGPACK_OBJECT_STR || nm->via.str.size != 4 || memcmp(nm->via.str.ptr, "recs", 4)) continue;
          items = rc_int(rc_get(m, "items"));
          bytes = rc_int(rc_get(m, "bytes"));
          build_ms = rc_int(rc_get(m, "build_ms"));
        }
      }
      rc_close(&a);
    }
    printf("model.refit recs: took_ms %lld (build path: ORDERS scan + build + save), answered "
           "in %.2f s; build_ms %lld; items %lld; snapshot %lld bytes = %.0f bytes/item",
           (long long)took, wall, (long long)build_ms, (long long)items, (long long)bytes,
           items > 0 ? (double)bytes / (double)items : 0.0);
    if (patrond) printf("; patrond RSS %.0f MiB before, %.0f MiB after", rss0 / 1024.0, rss_kb(dm.pid) / 1024.0);
    printf("\n");
  }
  if (cart_file) { /* [{"items": [5 SKUs drawn by popularity], "limit": 10}] */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 2);
    RC_KEY(&pk, "items");
    msgpack_pack_array(&pk, 5);
    uint64_t cs = 42;
    printf("cart:");
    for (int j = 0; j < 5; j++) {
      char sku[32];
      int sl = snprintf(sku, sizeof sku, "SKU-%07u", zipf(cdf, nitems, &cs) + (uint32_t)j * 7);
      rc_pk_str(&pk, sku, (size_t)sl);
      printf(" %s", sku);
    }
    printf("\n");
    RC_KEY(&pk, "limit");
    msgpack_pack_int(&pk, 10);
    FILE *f = fopen(cart_file, "wb");
    if (!f || fwrite(sb.data, 1, sb.size, f) != sb.size) fail = 1;
    if (f) fclose(f);
    msgpack_sbuffer_destroy(&sb);
  }
  if (patrond && keep) printf("patrond pid %d, shop %s, admin %s (left running)\n", (int)dm.pid, dm.sock, dm.admin);
  else if (patrond) rc_daemon_stop(&dm);
  free(cdf);
  return fail;
}
