/* tls_bench.c -- throughput and latency over patrond's TLS listener beside its Unix socket,
 * with the same client (libpatronclient: patron_call, one synchronous call at a time per
 * connection, i.e. pipelining 1) in the same run.
 *
 * Owns: THREADS client threads, each with its own handle (one connection), calling METHOD in
 * a closed loop for SECONDS; runs alternate unix, tls, unix, tls ... (PAIRS pairs) so machine
 * noise hits both alike; per run: req/s and p50/p99 of the call time (whole call: encode,
 * send, wait, decode). Prints one line per run and the median tls/unix ratio per method.
 * Invariants: every run is bounded (SECONDS, and each call by the handle's timeout); a
 * failed call stops the run with the error (figures from a failing run are never printed).
 *
 *   tls_bench --unix PATH --tls tls://127.0.0.1:7443 --cert C --key K --ca CA
 *             [--threads 8] [--seconds 3] [--pairs 3] [--methods ping,customer.get]
 *             [--pid PATROND_PID]   (adds the daemon's CPU time per request, /proc/PID/stat)
 *
 * customer.get reads the customer "tls-bench-1", upserted first over the Unix socket; the
 * method "connect" is a new connection per call (open, TLS handshake, ping, close). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "patronclient.h"

#define MAX_THREADS 64
#define HIST_US 100000 /* 1 us buckets up to 100 ms; slower calls land in the last one */

typedef struct opts_s {
  const char *unix_path, *tls_url, *cert, *key, *ca, *methods;
  int threads, seconds, pairs, pid;
} opts_t;

typedef struct worker_s {
  pthread_t th;
  const opts_t *o;
  const char *url, *method;
  const unsigned char *params;
  size_t params_len;
  double stop_at;
  uint64_t calls;
  uint32_t *hist;
  char error[300];
} worker_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static patron_client_t *open_url(const opts_t *o, const char *url, char *error, size_t n) {
  patron_client_t *c = patron_open(url, 5000);
  patron_error_t err;
  if (!c) {
    snprintf(error, n, "patron_open(%s) failed", url);
    return NULL;
  }
  if (!strncmp(url, "tls://", 6) && patron_set_tls(c, o->cert, o->key, o->ca, &err)) {
    snprintf(error, n, "patron_set_tls: %s", err.message);
    patron_close(c);
    return NULL;
  }
  if (patron_connect(c, &err)) {
    snprintf(error, n, "connect %s: %s", url, err.message);
    patron_close(c);
    return NULL;
  }
  return c;
}

static void *run_worker(void *arg) {
  worker_t *w = arg;
  int per_call = !strcmp(w->method, "connect"); /* a new connection for every call */
  patron_client_t *c = per_call ? NULL : open_url(w->o, w->url, w->error, sizeof w->error);
  if (!c && !per_call) return NULL;
  patron_error_t err;
  while (now_s() < w->stop_at) {
    void *res = NULL;
    size_t len = 0;
    double t0 = now_s();
    if (per_call && !(c = open_url(w->o, w->url, w->error, sizeof w->error))) break;
    int r = patron_call(c, per_call ? "ping" : w->method, w->params, w->params_len, &res, &len,
                        &err);
    if (per_call) {
      patron_close(c);
      c = NULL;
    }
    double us = (now_s() - t0) * 1e6;
    patron_free(res);
    if (r != PATRON_OK) {
      snprintf(w->error, sizeof w->error, "%s: %s %s", w->method, err.code, err.message);
      break;
    }
    w->hist[us >= HIST_US ? HIST_US - 1 : (size_t)us]++;
    w->calls++;
  }
  patron_close(c);
  return NULL;
}

static double percentile(const uint32_t *hist, uint64_t total, double q) {
  uint64_t want = (uint64_t)((double)total * q), seen = 0;
  for (size_t i = 0; i < HIST_US; i++) {
    seen += hist[i];
    if (seen > want) return (double)i;
  }
  return HIST_US;
}

/* CPU seconds (user + system) of process pid so far, 0 when unknown. */
static double cpu_s(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = pid > 0 ? fopen(path, "r") : NULL;
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *p = strrchr(buf, ')'); /* fields after the command name */
  unsigned long long ut = 0, st = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return 0;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* One run: req/s, p50 and p99 in us, the daemon's CPU us per request (0 without --pid).
 * 0, or -1 after printing the error. */
static int one_run(const opts_t *o, const char *url, const char *method, const unsigned char *p,
                   size_t plen, double *rps, double *p50, double *p99, double *srv_us) {
  worker_t w[MAX_THREADS];
  memset(w, 0, sizeof w);
  double cpu0 = cpu_s(o->pid);
  double start = now_s();
  for (int i = 0; i < o->threads; i++) {
    w[i] = (worker_t){.o = o, .url = url, .method = method, .params = p, .params_len = plen,
                      .stop_at = start + o->seconds};
    w[i].hist = calloc(HIST_US, sizeof(uint32_t));
    if (!w[i].hist || pthread_create(&w[i].th, NULL, run_worker, &w[i])) {
      fprintf(stderr, "tls_bench: cannot start a thread\n");
      exit(1);
    }
  }
  uint32_t *hist = calloc(HIST_US, sizeof(uint32_t));
  uint64_t total = 0;
  int failed = 0;
  for (int i = 0; i < o->threads; i++) {
    pthread_join(w[i].th, NULL);
    if (w[i].error[0] && !failed++) fprintf(stderr, "tls_bench: %s: %s\n", url, w[i].error);
    for (size_t b = 0; b < HIST_US; b++) hist[b] += w[i].hist[b];
    total += w[i].calls;
    free(w[i].hist);
  }
  double took = now_s() - start;
  *srv_us = total ? (cpu_s(o->pid) - cpu0) * 1e6 / (double)total : 0;
  *rps = (double)total / took;
  *p50 = percentile(hist, total, 0.50);
  *p99 = percentile(hist, total, 0.99);
  free(hist);
  return failed || !total ? -1 : 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void usage(void) {
  fprintf(stderr, "usage: tls_bench --unix PATH --tls tls://HOST:PORT --cert C --key K --ca CA "
                  "[--threads 8] [--seconds 3] [--pairs 3] [--methods ping,customer.get]\n");
  exit(64);
}

int main(int argc, char **argv) {
  opts_t o = {.threads = 8, .seconds = 3, .pairs = 3, .methods = "ping,customer.get"};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    if (!strcmp(a, "--unix")) o.unix_path = v;
    else if (!strcmp(a, "--tls")) o.tls_url = v;
    else if (!strcmp(a, "--cert")) o.cert = v;
    else if (!strcmp(a, "--key")) o.key = v;
    else if (!strcmp(a, "--ca")) o.ca = v;
    else if (!strcmp(a, "--threads")) o.threads = atoi(v);
    else if (!strcmp(a, "--seconds")) o.seconds = atoi(v);
    else if (!strcmp(a, "--pairs")) o.pairs = atoi(v);
    else if (!strcmp(a, "--methods")) o.methods = v;
    else if (!strcmp(a, "--pid")) o.pid = atoi(v);
    else usage();
    i++;
  }
  if (!o.unix_path || !o.tls_url || o.threads < 1 || o.threads > MAX_THREADS || o.seconds < 1 ||
      o.seconds > 60 || o.pairs < 1 || o.pairs > 9)
    usage();
  /* the customer read by customer.get */
  char error[300];
  patron_client_t *c = open_url(&o, o.unix_path, error, sizeof error);
  if (!c) {
    fprintf(stderr, "tls_bench: %s\n", error);
    return 1;
  }
  int st = 0;
  char *r = patron_call_json(c, "customer.upsert",
                             "{\"customer_id\":\"tls-bench-1\",\"email\":\"bench@example.com\","
                             "\"name\":\"Bench\"}", &st);
  patron_free(r);
  patron_close(c);
  if (st != PATRON_OK) {
    fprintf(stderr, "tls_bench: customer.upsert failed (%d)\n", st);
    return 1;
  }
  /* {"customer_id": "tls-bench-1"} */
  static const unsigned char get_params[] = "\x81\xab" "customer_id" "\xab" "tls-bench-1";
  printf("# tls_bench: %d threads (one connection each, pipelining 1), %d s runs, %d pairs\n",
         o.threads, o.seconds, o.pairs);
  printf("%-13s %-5s %4s %10s %8s %8s %12s\n", "method", "via", "pair", "req/s", "p50_us",
         "p99_us", "srv_cpu_us/req");
  char methods[256];
  snprintf(methods, sizeof methods, "%s", o.methods);
  for (char *save = NULL, *m = strtok_r(methods, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
    int get = !strcmp(m, "customer.get");
    const unsigned char *p = get ? get_params : NULL;
    size_t plen = get ? sizeof get_params - 1 : 0;
    double ratio[9], p99r[9], unix_p99[9], tls_p99[9], cpu_unix[9], cpu_tls[9];
    for (int k = 0; k < o.pairs; k++) {
      double rps[2], p50[2], p99[2], srv[2];
      const char *urls[2] = {o.unix_path, o.tls_url};
      for (int v = 0; v < 2; v++) {
        if (one_run(&o, urls[v], m, p, plen, &rps[v], &p50[v], &p99[v], &srv[v])) return 1;
        printf("%-13s %-5s %4d %10.0f %8.0f %8.0f %12.2f\n", m, v ? "tls" : "unix", k + 1,
               rps[v], p50[v], p99[v], srv[v]);
        fflush(stdout);
      }
      ratio[k] = rps[1] / rps[0];
      p99r[k] = p99[1] / (p99[0] > 0 ? p99[0] : 1);
      unix_p99[k] = p99[0];
      tls_p99[k] = p99[1];
      cpu_unix[k] = srv[0];
      cpu_tls[k] = srv[1];
    }
    qsort(ratio, (size_t)o.pairs, sizeof(double), cmp_double);
    qsort(p99r, (size_t)o.pairs, sizeof(double), cmp_double);
    qsort(unix_p99, (size_t)o.pairs, sizeof(double), cmp_double);
    qsort(tls_p99, (size_t)o.pairs, sizeof(double), cmp_double);
    qsort(cpu_unix, (size_t)o.pairs, sizeof(double), cmp_double);
    qsort(cpu_tls, (size_t)o.pairs, sizeof(double), cmp_double);
    int mid = o.pairs / 2;
    printf("%-13s median tls/unix req/s %.2f; p99 unix %.0f us, tls %.0f us (ratio %.2f); "
           "daemon CPU/req unix %.2f us, tls %.2f us\n", m, ratio[mid], unix_p99[mid],
           tls_p99[mid], p99r[mid], cpu_unix[mid], cpu_tls[mid]);
  }
  return 0;
}
