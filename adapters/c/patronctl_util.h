/* patronctl_util.h -- small helpers shared by patronctl's commands (not part of the library).
 * Owns: the ISO-4217 minor-unit exponent table, decimal text -> integer minor units (exact,
 * never through a float), and date text -> UNIX seconds. Invariant: every parser rejects
 * rather than rounds. */
#ifndef PATRONCTL_UTIL_H
#define PATRONCTL_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Minor-unit exponent of an ISO-4217 code (0, 2, 3 or 4); 2 for codes not in the table. */
int currency_exponent(const char *code);

/* "12", "-3.5", "0.255" with at most exp decimals (trailing zeros beyond are fine) ->
 * minor units. 0 ok, -1 malformed, -2 more decimals than the currency has, -3 overflow. */
int decimal_to_minor(const char *s, size_t n, int exp, int64_t *out);

/* Seconds since the epoch: digits, or YYYY-MM-DD[( |T)HH:MM[:SS]][Z] read as UTC. */
int parse_timestamp(const char *s, size_t n, int64_t *out);

#endif
