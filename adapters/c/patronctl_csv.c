/* patronctl_csv.c -- see patronctl_csv.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "patronctl_csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* A regular file whose size is not a multiple of the page size is mapped privately (its
 * pages are read as the parser reaches them, instead of all copied before the first row;
 * writes, the unquoting, stay private): the page's zero tail after the data is the NUL.
 * Anything else is read into a buffer of csv_read_all's. */
static char *map_file(const char *path, size_t *len, int *mapped) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  long page = sysconf(_SC_PAGESIZE);
  char *b = NULL;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 && page > 0 &&
      st.st_size % page != 0) {
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (m != MAP_FAILED) {
      b = m;
      *len = (size_t)st.st_size;
      *mapped = 1;
    }
  }
  close(fd);
  return b;
}

static char *read_all(const char *path, size_t *len) {
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

/* A field of an unquoted line: its trailing '\r' (a CRLF line end) is not part of it. */
static void add_field(csv_t *c, const char *start, const char *end) {
  if (end > start && end[-1] == '\r') end--;
  if (c->nf < CSV_MAX_FIELDS) c->f[c->nf++] = (fld_t){start, (size_t)(end - start)};
}

#ifdef __SSE2__
/* The fields of the line [i, end) (end: its '\n' or the end of the input) when it has no
 * quote: the commas are found 16 bytes at a time. 0, or -1 (a quote: nothing done). */
static int split_unquoted(csv_t *c, size_t i, size_t end) {
  const char *b = c->buf, *start = b + i;
  const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"');
  int nf = c->nf;
  for (size_t at = i; at < end; at += 16) {
    __m128i v;
    if (end - at >= 16) {
      v = _mm_loadu_si128((const __m128i *)(b + at));
    } else { /* the last bytes of the line: never read past the buffer */
      char tail[16] = {0};
      memcpy(tail, b + at, end - at);
      v = _mm_loadu_si128((const __m128i *)tail);
    }
    unsigned keep = end - at >= 16 ? 0xffffu : (1u << (end - at)) - 1;
    if ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) & keep) {
      c->nf = nf; /* as it was */
      return -1;
    }
    unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, comma)) & keep;
    while (m) {
      const char *p = b + at + (unsigned)__builtin_ctz(m);
      add_field(c, start, p);
      start = p + 1;
      m &= m - 1;
    }
  }
  add_field(c, start, b + end);
  return 0;
}
#endif

int csv_open(csv_t *c, const char *path) {
  memset(c, 0, sizeof *c);
  c->line = 1;
  if (strcmp(path, "-")) c->buf = map_file(path, &c->len, &c->mapped);
  if (!c->buf) c->buf = read_all(path, &c->len);
  return c->buf ? 0 : -1;
}

void csv_close(csv_t *c) {
  if (c->mapped) munmap(c->buf, c->len);
  else free(c->buf);
  c->buf = NULL;
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
#ifdef __SSE2__
  {
    const char *nl = memchr(b + i, '\n', c->len - i);
    size_t end = nl ? (size_t)(nl - b) : c->len;
    if (split_unquoted(c, i, end) == 0) {
      if (end < c->len) c->line++;
      c->pos = end < c->len ? end + 1 : end;
      return 0;
    }
  }
#endif
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

