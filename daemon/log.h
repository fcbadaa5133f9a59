/* log.h -- leveled logging to stderr in a journald-friendly form: each line starts with a
 * syslog priority prefix "<N>" when running under systemd (JOURNAL_STREAM set), else with an
 * ISO-8601 UTC timestamp and the level name. Never log personal data (emails, names, ids of
 * customers): log counts, codes and method names only. The level is process-wide and set
 * once at start-up or reload (the only global in the daemon, read-only on hot paths). */
#ifndef PATRON_LOG_H
#define PATRON_LOG_H

#include <stdint.h>

enum { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_NOTICE = 5, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

void log_set_level(int level);
int log_get_level(void);
/* "error", "warning", "notice", "info", "debug" -> level, or -1. */
int log_level_parse(const char *s);
const char *log_level_name(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A rate limit for one kind of line (loop thread only): at most burst lines a window; the
 * lines dropped in a window are counted and reported by one line when the next is let through. */
typedef struct log_limit_s {
  const char *what;            /* names the kind in the "suppressed" line */
  unsigned burst;
  uint64_t window_ms, window_start_ms;
  unsigned in_window;
  uint64_t suppressed;
} log_limit_t;
/* 1 if a line may be written now (after writing the pending "suppressed N" line, if any). */
int log_limit_allow(log_limit_t *l, int level, uint64_t now_ms);
/* Close the window if it is over (writes the pending "suppressed" line); call periodically. */
void log_limit_tick(log_limit_t *l, int level, uint64_t now_ms);

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
