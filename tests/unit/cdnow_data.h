/* cdnow_data.h -- loads the CDNOW calibration summary (tests/data/cdnow, see its PROVENANCE.md)
 * for the CLV unit tests: one clv_summary_t per customer (x, t_x, T in weeks, mean repeat
 * spend in US$), in file order. Header-only: each test includes it once. */
#ifndef PATRON_TEST_CDNOW_DATA_H
#define PATRON_TEST_CDNOW_DATA_H

#include <stdio.h>

#include "clv/clv.h"

#define CDNOW_NCUST 2357
#define CDNOW_SUMMARY_CSV PATRON_TEST_DATA "/cdnow/cdnow_customers_summary_with_transactions.csv"

/* Fills out[0..CDNOW_NCUST); 0 when every row was read, -1 otherwise (message on stderr). */
static int cdnow_load_summary(clv_summary_t *out, size_t *n) {
  FILE *f = fopen(CDNOW_SUMMARY_CSV, "r");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", CDNOW_SUMMARY_CSV);
    return -1;
  }
  char line[256];
  int id;
  unsigned x;
  double tx, T, z;
  *n = 0;
  if (fgets(line, sizeof line, f))
    while (*n < CDNOW_NCUST && fscanf(f, "%d,%u,%lf,%lf,%lf", &id, &x, &tx, &T, &z) == 5) {
      out[*n] = (clv_summary_t){x, tx, T, z};
      (*n)++;
    }
  fclose(f);
  return *n == CDNOW_NCUST ? 0 : -1;
}

#endif
