/* patronctl_csv.h -- the CSV reader of `patronctl import` (RFC 4180).
 * Owns: the whole input in memory and the current record's fields. Invariants: fields are
 * slices of the buffer, unquoted in place (an unquoted field is never longer than its
 * quoted form), so they stay valid until the buffer is freed, across records; line numbers
 * count every newline, including those inside quoted fields. */
#ifndef PATRONCTL_CSV_H
#define PATRONCTL_CSV_H

#include <stddef.h>

enum { CSV_MAX_FIELDS = 64 };

typedef struct fld {
  const char *p;
  size_t n;
} fld_t;

typedef struct csv {
  char *buf; /* NUL-terminated */
  size_t len, pos;
  long line;     /* line number of buf[pos] */
  fld_t f[CSV_MAX_FIELDS];
  int nf;        /* fields past CSV_MAX_FIELDS are dropped */
  long rec_line; /* line the current record starts on */
} csv_t;

/* The whole of path ("-" = standard input), NUL-terminated; NULL with errno on failure. */
char *csv_read_all(const char *path, size_t *len);

/* Parse the record at pos into f (blank lines skipped). 0 = a record, 1 = end of input. */
int csv_next(csv_t *c);

#endif
