/* log.h -- leveled logging to stderr in a journald-friendly form: each line starts with a
 * syslog priority prefix "<N>" when running under systemd (JOURNAL_STREAM set), else with an
 * ISO-8601 UTC timestamp and the level name. Never log personal data (emails, names, ids of
 * customers): log counts, codes and method names only. The level is process-wide and set
 * once at start-up or reload (the only global in the daemon, read-only on hot paths). */
#ifndef PATRON_LOG_H
#define PATRON_LOG_H

enum { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_NOTICE = 5, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

void log_set_level(int level);
int log_get_level(void);
/* "error", "warning", "notice", "info", "debug" -> level, or -1. */
int log_level_parse(const char *s);
const char *log_level_name(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
