/* client_tls.h -- libpatronclient's TLS transport (client_tls.c), internal. A context per
 * handle (patron_set_tls), a session per connection; the session's I/O waits at most until
 * the deadline (CLOCK_MONOTONIC ms, pc_now_ms). Errors are errno values: ETIMEDOUT at the
 * deadline, EPROTO for a TLS failure (pc_tls_error says which: an alert from the daemon, the
 * server's certificate refused). */
#ifndef PATRON_CLIENT_TLS_H
#define PATRON_CLIENT_TLS_H

#include <stdint.h>
#include <sys/types.h>

#include "client_internal.h"

typedef struct pc_tls_ctx_s pc_tls_ctx_t;
typedef struct pc_tls_s pc_tls_t;

/* cert/key: the client certificate chain and its key (PEM; key NULL = in the cert file);
 * ca: the CA file for the server's certificate (NULL = the system's). NULL with err set
 * (PATRON_E_INVALID, field "cert"/"key"/"ca") when a file does not load. */
PC_HIDDEN pc_tls_ctx_t *pc_tls_ctx_new(const char *cert, const char *key, const char *ca,
                                       patron_error_t *err);
PC_HIDDEN void pc_tls_ctx_free(pc_tls_ctx_t *t);
/* Handshake over the connected non-blocking socket fd, checking the server's certificate
 * against host (a name or an IP address). NULL with *errnum and why on failure. */
PC_HIDDEN pc_tls_t *pc_tls_start(pc_tls_ctx_t *ctx, int fd, const char *host, int64_t deadline,
                                 int *errnum, char *why, size_t whylen);
/* Free the session (sends nothing; the caller closes fd). */
PC_HIDDEN void pc_tls_free(pc_tls_t *t);
/* Send buf whole: 0 or an errno value; *sent is 0 only if no byte reached the socket. */
PC_HIDDEN int pc_tls_write(pc_tls_t *t, const void *buf, size_t len, int64_t deadline,
                           size_t *sent);
/* Plaintext: > 0 bytes, 0 at the end of the stream, -1 with *errnum. */
PC_HIDDEN ssize_t pc_tls_read(pc_tls_t *t, void *buf, size_t cap, int64_t deadline,
                              int *errnum);
PC_HIDDEN const char *pc_tls_error(const pc_tls_t *t);

#endif
