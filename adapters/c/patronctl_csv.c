/* patronctl_csv.c -- see patronctl_csv.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "patronctl_csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *csv_read_all(const char *path, size_t *len) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) return NULL;
  size_t cap = 1 << 20, n = 0;
  char *b = malloc(cap + 1);
  size_t r;
  while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      char *nb = realloc(b, cap * 2 + 1);
      if (!nb) {
        free(b);
        b = NULL;
        break;
      }
      b = nb;
      cap *= 2;
    }
  }
  if (f != stdin) fclose(f);
  if (b) b[n] = '\0';
  *len = n;
  return b;
}

int csv_next(csv_t *c) {
  char *b = c->buf;
  while (c->pos < c->len && (b[c->pos] == '\n' || b[c->pos] == '\r')) {
    if (b[c->pos] == '\n') c->line++;
    c->pos++;
  }
  if (c->pos >= c->len) return 1;
  c->rec_line = c->line;
  c->nf = 0;
  size_t i = c->pos;
  /* end of the line, for memchr over unquoted fields (a quoted field may run past it: it
   * is scanned byte by byte and the line end found again after it) */
  char *eol = memchr(b + i, '\n', c->len - i);
  size_t line_end = eol ? (size_t)(eol - b) : c->len;
  for (;;) {
    char *start = b + i, *w = start;
    if (i > line_end) { /* after a quoted field with newlines */
      eol = memchr(b + i, '\n', c->len - i);
      line_end = eol ? (size_t)(eol - b) : c->len;
    }
    if (i < c->len && b[i] != '"') {
      char *comma = memchr(b + i, ',', line_end - i);
      i = comma ? (size_t)(comma - b) : line_end;
      w = b + i;
      if (w > start && w[-1] == '\r') w--;
    } else if (i < c->len && b[i] == '"') {
      i++;
      while (i < c->len) {
        if (b[i] == '"') {
          if (i + 1 < c->len && b[i + 1] == '"') {
            *w++ = '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (b[i] == '\n') c->line++;
        *w++ = b[i++];
      }
      while (i < c->len && b[i] != ',' && b[i] != '\n') i++; /* junk after the quote */
    } else {
      while (i < c->len && b[i] != ',' && b[i] != '\n') i++;
      w = b + i;
      if (w > start && w[-1] == '\r') w--;
    }
    if (c->nf < CSV_MAX_FIELDS) c->f[c->nf++] = (fld_t){start, (size_t)(w - start)};
    if (i >= c->len || b[i] == '\n') break;
    i++; /* the comma */
  }
  if (i < c->len) {
    c->line++;
    i++;
  }
  c->pos = i;
  return 0;
}

