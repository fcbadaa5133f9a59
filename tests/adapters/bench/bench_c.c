/* bench_c.c -- the C baseline of bench.sh: N sequential recs.cart calls through
 * libpatronclient's patron_call_json (what every FFI adapter calls), one handle.
 * Prints "c <median_us> <p99_us>". Invariant: same params and socket as the adapters' runs. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "patronclient.h"

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
  int n = argc > 2 ? atoi(argv[2]) : 2000;
  const char *params = "{\"items\":[\"p1\",\"p2\"],\"limit\":4}";
  patron_client_t *c = patron_open(argv[1], 1000);
  double *us = malloc(sizeof *us * (size_t)n);
  if (!c || !us) return 1;
  for (int i = -200; i < n; i++) {
    struct timespec a, b;
    int st;
    clock_gettime(CLOCK_MONOTONIC, &a);
    char *r = patron_call_json(c, "recs.cart", params, &st);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (st != 0) { fprintf(stderr, "bench_c: %s\n", r ? r : "nomem"); return 1; }
    patron_free(r);
    if (i >= 0) us[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
  }
  qsort(us, (size_t)n, sizeof *us, cmp);
  printf("c %.1f %.1f\n", us[n / 2], us[n * 99 / 100]);
  patron_close(c);
  free(us);
  return 0;
}
