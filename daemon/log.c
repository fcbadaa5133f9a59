/* log.c -- see log.h. One write(2) per line so concurrent threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"

/* Set on the loop thread (start-up, SIGHUP), read by every thread: atomic, relaxed (a line
 * logged at the old level during a reload is fine; a torn read is not). */
static atomic_int g_level = LOG_LVL_INFO;

void log_set_level(int level) { atomic_store_explicit(&g_level, level, memory_order_relaxed); }
int log_get_level(void) { return atomic_load_explicit(&g_level, memory_order_relaxed); }

static const char *const names[] = {"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};

int log_level_parse(const char *s) {
  for (int i = LOG_LVL_ERR; i <= LOG_LVL_DEBUG; i++)
    if (strcmp(s, names[i]) == 0) return i;
  if (strcmp(s, "warn") == 0) return LOG_LVL_WARN;
  return -1;
}

const char *log_level_name(int level) {
  return level >= 0 && level <= 7 ? names[level] : "?";
}

void log_msg(int level, const char *fmt, ...) {
  if (level > log_get_level()) return;
  char line[1024];
  int n;
  if (getenv("JOURNAL_STREAM")) {
    n = snprintf(line, sizeof line, "<%d>", level);
  } else {
    int64_t ms = clock_wall_ms();
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ patrond[%d] %s: ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (long)(ms % 1000), (int)getpid(), log_level_name(level));
  }
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w;
}

void log_limit_tick(log_limit_t *l, int level, uint64_t now_ms) {
  if (now_ms - l->window_start_ms >= l->window_ms || l->window_start_ms == 0) {
    l->window_start_ms = now_ms ? now_ms : 1;
    l->in_window = 0;
    if (l->suppressed) {
      log_msg(level, "%llu more %s line(s) suppressed in the last %llu ms",
              (unsigned long long)l->suppressed, l->what, (unsigned long long)l->window_ms);
      l->suppressed = 0;
    }
  }
}

int log_limit_allow(log_limit_t *l, int level, uint64_t now_ms) {
  if (level > g_level) return 0;
  log_limit_tick(l, level, now_ms);
  if (l->in_window < l->burst) {
    l->in_window++;
    return 1;
  }
  l->suppressed++;
  return 0;
}
