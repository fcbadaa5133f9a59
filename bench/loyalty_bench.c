/* loyalty_bench.c -- benchmark of the loyalty core over the LMDB store (no daemon): loads
 * N members (one order each, batched, no fsync), changes the program so that a part of the
 * members moves tier, and times loyalty_reevaluate over all of them (chunks of 250,000
 * members per write txn, each commit durable); then times the redeem write path: one
 * redemption per commit and 256 per commit (a group commit), with fsync (durable) and with
 * no_sync; and the reads loyalty_tier / loyalty_points. Prints figures and the command. Usage:
 *   loyalty_bench [members (1000000)] [redemptions (20000)] [dir (mkdtemp in /tmp)]
 * The temp store is removed at the end unless a dir was given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "loyalty/loyalty.h"

#define T0 1735689600 /* 2025-01-01 */

static void die(const char *what, const perr_info_t *e) {
  fprintf(stderr, "%s: %s (%s)\n", what, e->message, e->field);
  exit(1);
}

static store_t *open_store(const char *dir, int no_sync) {
  store_options_t o;
  store_options_default(&o);
  o.no_sync = no_sync;
  store_t *s;
  perr_info_t e = {0};
  if (store_open(dir, &o, &s, &e)) die("store_open", &e);
  return s;
}

static void program(loy_program_t *p, int64_t silver) {
  loyalty_program_default(p);
  const char *names[] = {"Bronze", "Silver", "Gold"};
  int64_t th[] = {0, silver, 2000};
  p->ntiers = 3;
  for (int i = 0; i < 3; i++) {
    snprintf(p->tiers[i].name, sizeof p->tiers[i].name, "%s", names[i]);
    p->tiers[i].entry_threshold = th[i];
    p->tiers[i].retention_threshold = -1;
    p->tiers[i].earn_mult_bp = LOY_BP;
    p->tiers[i].entry_bonus = 10 * i;
  }
  p->window = LOY_WINDOW_CALENDAR_YEAR;
  p->downgrade = LOY_DOWN_PERIOD_END;
  p->expiry = LOY_EXPIRY_ENTRY;
  p->expiry_months = 12;
  p->nearn = p->nredeem = 1;
  p->earn[0] = (loy_rate_t){"EUR", 1, 100};
  p->redeem[0] = (loy_rate_t){"EUR", 100, 100};
}

static void set_program(store_t *s, int64_t silver) {
  loy_program_t p;
  program(&p, silver);
  store_txn_t *w;
  perr_info_t e = {0};
  if (store_txn_begin(s, 1, &w)) exit(1);
  if (loyalty_program_set(w, &p, NULL, &e)) die("program_set", &e);
  if (store_commit_err(w, &e)) die("commit", &e);
}

static void load(store_t *s, long members) {
  uint64_t t = clock_mono_ns();
  char cid[32], oid[32];
  uint64_t x = 88172645463325252ULL;
  perr_info_t e = {0};
  for (long i = 0; i < members;) {
    store_txn_t *w;
    if (store_txn_begin(s, 1, &w)) exit(1);
    for (long k = 0; k < 50000 && i < members; k++, i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      snprintf(cid, sizeof cid, "cust-%08ld", i);
      snprintf(oid, sizeof oid, "ord-%08ld", i);
      loy_line_t l = {{"p1", 2}, {NULL, 0}, 1, 1000 + (int64_t)(x % 200000)}; /* 10..2010 EUR */
      loy_order_t o = {{cid, strlen(cid)}, {oid, strlen(oid)}, {"EUR", 3}, T0, &l, 1, 0, 1};
      loy_earn_result_t r;
      if (loyalty_on_order(w, &o, T0, &r, &e)) die("on_order", &e);
    }
    if (store_commit_err(w, &e)) die("commit", &e);
  }
  printf("load: %ld members (one order each, 50,000 per txn, no_sync) in %.2f s\n", members,
         clock_elapsed_s(t));
}

static void reevaluate(store_t *s, long members) {
  set_program(s, 600); /* Silver from 1000 down to 600: ~20% of members move up */
  uint64_t t = clock_mono_ns();
  loy_batch_result_t r;
  char next[CORE_ID_MAX + 1];
  size_t nlen = 0;
  uint64_t visited = 0, changed = 0;
  perr_info_t e = {0};
  do {
    store_txn_t *w;
    if (store_txn_begin(s, 1, &w)) exit(1);
    if (loyalty_reevaluate(w, T0 + 86400, (pstr_t){next, nlen}, 250000, &r, &e))
      die("reevaluate", &e);
    if (store_commit_err(w, &e)) die("commit", &e);
    visited += r.members;
    changed += r.changed;
    memcpy(next, r.next, r.next_len);
    nlen = r.next_len;
  } while (!r.done);
  double el = clock_elapsed_s(t);
  printf("reevaluate: %llu members, %llu rewritten, %.2f s (%.0f members/s), durable commits\n",
         (unsigned long long)visited, (unsigned long long)changed, el, visited / el);
  (void)members;
}

/* Redemptions of 1 point from members in turn; per_commit redemptions per txn. */
static void redeem_path(store_t *s, long n, int per_commit, const char *label, long *idbase,
                        long members) {
  char cid[32], rid[32];
  perr_info_t e = {0};
  uint64_t t = clock_mono_ns();
  long accepted = 0;
  for (long i = 0; i < n;) {
    store_txn_t *w;
    if (store_txn_begin(s, 1, &w)) exit(1);
    for (int k = 0; k < per_commit && i < n; k++, i++) {
      long id = (*idbase)++;
      snprintf(cid, sizeof cid, "cust-%08ld", id % members);
      snprintf(rid, sizeof rid, "red-%ld", id);
      loy_redeem_t rq = {{cid, strlen(cid)}, {rid, strlen(rid)}, {NULL, 0}, {"EUR", 3}, 1};
      loy_redeem_result_t r;
      if (loyalty_redeem(w, &rq, T0 + 2 * 86400, &r, &e)) die("redeem", &e);
      accepted += r.status == LOY_REDEEM_ACCEPTED;
    }
    if (store_commit_err(w, &e)) die("commit", &e);
  }
  double el = clock_elapsed_s(t);
  printf("redeem %-28s %6ld in %.2f s: %8.0f/s (%ld accepted)\n", label, n, el, n / el, accepted);
}

/* loyalty_tier and loyalty_points (no history) in one read txn, members in turn. */
static void reads(store_t *s, long n, long members) {
  store_txn_t *t;
  if (store_txn_begin(s, 0, &t)) exit(1);
  char cid[32];
  perr_info_t e = {0};
  uint64_t st = clock_mono_ns();
  long tiers = 0;
  for (long i = 0; i < n; i++) {
    snprintf(cid, sizeof cid, "cust-%08ld", (i * 7919) % members);
    loy_tier_info_t ti;
    if (loyalty_tier(t, (pstr_t){cid, strlen(cid)}, T0 + 2 * 86400, &ti, &e)) die("tier", &e);
    tiers += ti.has_tier;
  }
  double el = clock_elapsed_s(st);
  printf("read loyalty_tier:  %ld in %.2f s: %.0f/s (%.2f us each)\n", n, el, n / el, el * 1e6 / n);
  loy_program_t *prog = malloc(sizeof *prog);
  st = clock_mono_ns();
  for (long i = 0; i < n; i++)
    if (loyalty_program_get(t, prog, &e)) die("program_get", &e);
  el = clock_elapsed_s(st);
  printf("read loyalty_program_get: %ld in %.2f s: %.2f us each (part of every call)\n", n, el,
         el * 1e6 / n);
  free(prog);
  arena_t a;
  arena_init(&a, 0);
  st = clock_mono_ns();
  for (long i = 0; i < n; i++) {
    snprintf(cid, sizeof cid, "cust-%08ld", (i * 7919) % members);
    loy_points_info_t pi;
    if (loyalty_points(t, (pstr_t){cid, strlen(cid)}, T0 + 2 * 86400, 30 * 86400, 0, 0, &a, &pi,
                       &e))
      die("points", &e);
    arena_reset(&a);
  }
  el = clock_elapsed_s(st);
  printf("read loyalty_points: %ld in %.2f s: %.0f/s (%.2f us each)\n", n, el, n / el,
         el * 1e6 / n);
  arena_free(&a);
  store_abort(t);
  (void)tiers;
}

int main(int argc, char **argv) {
  long members = argc > 1 ? atol(argv[1]) : 1000000;
  long reds = argc > 2 ? atol(argv[2]) : 20000;
  char dir[256];
  int own = argc <= 3;
  snprintf(dir, sizeof dir, "%s", own ? "/tmp/loyalty-bench-XXXXXX" : argv[3]);
  if (own && !mkdtemp(dir)) return 1;
  printf("command: %s %ld %ld %s   (nproc %ld)\n", argv[0], members, reds, dir,
         sysconf(_SC_NPROCESSORS_ONLN));
  store_t *s = open_store(dir, 1);
  set_program(s, 1000);
  load(s, members);
  store_close(s);
  s = open_store(dir, 0);
  reevaluate(s, members);
  reads(s, 200000, members);
  long idbase = 0;
  long per_op = reds / 10 > 2000 ? 2000 : reds / 10;
  redeem_path(s, per_op, 1, "durable, 1 per commit:", &idbase, members);
  redeem_path(s, reds, 256, "durable, 256 per commit:", &idbase, members);
  store_close(s);
  s = open_store(dir, 1);
  redeem_path(s, reds, 1, "no_sync, 1 per commit:", &idbase, members);
  redeem_path(s, reds, 256, "no_sync, 256 per commit:", &idbase, members);
  store_close(s);
  if (own) {
    char p[300];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
  }
  return 0;
}
