/* notify.h -- the systemd notification protocol (sd_notify) without libsystemd: one datagram
 * of newline-separated KEY=VALUE lines to $NOTIFY_SOCKET (a path, or '@' for the abstract
 * namespace). A no-op returning 0 when NOTIFY_SOCKET is unset. */
#ifndef PATRON_NOTIFY_H
#define PATRON_NOTIFY_H

#include <stdint.h>

/* Returns 1 sent, 0 not under systemd, negative errno on failure. */
int notify_send(const char *state);
/* Watchdog interval in microseconds from $WATCHDOG_USEC (for this pid), or 0. */
uint64_t notify_watchdog_usec(void);

#endif
