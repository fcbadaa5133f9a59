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
  int mapped;    /* buf is a mapping of the file (else malloc'd) */
} csv_t;

/* Open c on the whole of path ("-" = standard input), NUL-terminated and writable (a private
 * mapping of a regular file, or a copy), at line 1. 0, or -1 with errno. */
int csv_open(csv_t *c, const char *path);
void csv_close(csv_t *c);

/* Parse the record at pos into f (blank lines skipped). 0 = a record, 1 = end of input. */
int csv_next(csv_t *c);

#endif
