/* tls.h -- the optional TLS listener's OpenSSL side: the server context built from [tls]
 * (TLS 1.3 only, client certificate required and verified against the configured CA), its
 * reload on SIGHUP, and one TLS session per connection driven through memory BIOs so the
 * libuv loop never blocks on OpenSSL (socket -> tls_conn_feed -> tls_conn_read -> plaintext;
 * plaintext -> tls_conn_seal -> ciphertext -> socket). server.c moves the bytes; this file
 * never touches a socket or the loop.
 * Invariants: a session keeps the context it was made with (a reload gives new connections
 * the new certificate and never drops the old ones: OpenSSL counts the references); the
 * admin allowlist is checked against the verified peer certificate's subject, as RFC 2253
 * text, at every admin call. */
#ifndef PATRON_TLS_H
#define PATRON_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

typedef struct tls_server_s tls_server_t;
typedef struct tls_conn_s tls_conn_t;

/* Build the server context from cfg's [tls] cert, key and CA. NULL with a message in err
 * (file unreadable, key not matching the certificate, no CA certificate, ...). */
tls_server_t *tls_server_new(const settings_t *cfg, char *err, size_t errlen);
/* A new context from cfg's files for the connections accepted from now on. On failure the
 * running one stays and -1 is returned with the reason in err. */
int tls_server_reload(tls_server_t *s, const settings_t *cfg, char *err, size_t errlen);
void tls_server_free(tls_server_t *s);
/* The subject and serial of the certificate in use (for the log). */
void tls_server_describe(const tls_server_t *s, char *out, size_t outlen);
/* One buffer for ciphertext read from any TLS connection: the loop thread hands it to libuv
 * and feeds it to the session right away (tls_conn_feed), so one is enough. */
char *tls_server_rx_buffer(tls_server_t *s, size_t *len);

/* A session for a newly accepted connection; NULL when out of memory. */
tls_conn_t *tls_conn_new(tls_server_t *s);
void tls_conn_free(tls_conn_t *t);
/* Ciphertext from the socket. -1 when out of memory. */
int tls_conn_feed(tls_conn_t *t, const char *data, size_t n);
/* Plaintext into buf (at most cap bytes): > 0 bytes, 0 = needs more ciphertext, -1 = the
 * session failed or the peer closed it (tls_conn_error says why). Runs the handshake first. */
ssize_t tls_conn_read(tls_conn_t *t, char *buf, size_t cap);
/* 1 once the handshake completed (the client's certificate was verified). */
int tls_conn_established(const tls_conn_t *t);
/* Encrypt plain[0..n) and take every byte the session has to send (handshake, alerts,
 * records): *out / *outlen point into the session's buffer, valid until the next call.
 * -1 when the session cannot take plaintext (failed) or out of memory. */
int tls_conn_seal(tls_conn_t *t, const char *plain, size_t n, const char **out, size_t *outlen);
/* 1 when the session has ciphertext waiting to be sent (handshake messages, alerts). */
int tls_conn_has_output(const tls_conn_t *t);
/* Why the session failed ("" if it did not). */
const char *tls_conn_error(const tls_conn_t *t);
/* 1 if the verified client certificate's subject (RFC 2253, as printed by `openssl x509
 * -noout -subject -nameopt RFC2253`) is one of the '|'-separated subjects in allowlist ('|' because
 * ';' starts an inline comment in the INI file and ',' is inside subjects). */
int tls_conn_subject_allowed(const tls_conn_t *t, const char *allowlist);
/* Bytes the session holds (buffers), for the connections' memory budget. */
size_t tls_conn_memory(const tls_conn_t *t);

#endif
