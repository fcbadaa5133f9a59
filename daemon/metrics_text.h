/* metrics_text.h -- the Prometheus text exposition (format 0.0.4) of patrond's state: the
 * counters of daemon_t, the registry of metrics.h, the models, the store's map, the process's
 * memory. Loop thread only (it reads what the loop thread owns). Every family has HELP and
 * TYPE lines; histograms have cumulative le buckets ending with +Inf, then _sum and _count. */
#ifndef PATRON_METRICS_TEXT_H
#define PATRON_METRICS_TEXT_H

#include <stddef.h>
#include <stdint.h>

typedef struct daemon_s daemon_t;

/* A growing text buffer; oom is set (and appends stop) when an allocation fails. */
typedef struct mtext_s {
  char *p;
  size_t n, cap;
  int oom;
} mtext_t;

void mtext_printf(mtext_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mtext_free(mtext_t *t);
/* "# HELP name help\n# TYPE name type\n" (help escaped as the format requires). */
void mtext_family(mtext_t *t, const char *name, const char *type, const char *help);

/* Append the whole exposition to t. */
void metrics_render(daemon_t *d, mtext_t *t);

#endif
