/* client_tls.c -- libpatronclient's TLS transport for tls://host:port (patrond's [tls]
 * listener): TLS 1.3, the server's certificate verified against the CA the caller names
 * (else the system's) and its host name or IP address, the caller's client certificate.
 *
 * Owns: the OpenSSL context of a handle (pc_tls_ctx_t) and the session of a connection
 * (pc_tls_t). The session runs on memory BIOs; this file moves the ciphertext between them
 * and the non-blocking socket itself with send(MSG_NOSIGNAL) and recv, waiting with poll.
 *
 * Invariants: every wait is bounded by the caller's deadline; the library never raises
 * SIGPIPE (OpenSSL never writes the socket); nothing is sent when a session is dropped
 * (no close_notify: a forked child dropping its inherited connection sends no byte). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "client_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define PC_TLS_CHUNK 16384

struct pc_tls_ctx_s {
  SSL_CTX *ctx;
};

struct pc_tls_s {
  SSL *ssl;
  BIO *rb, *wb; /* owned by ssl */
  int fd;
  unsigned long long sent; /* ciphertext bytes sent so far */
  char err[200];
};

static void ssl_reason(char *out, size_t outlen, const char *what, const char *path) {
  char buf[160] = "";
  unsigned long e = ERR_peek_error(); /* the first: the cause (e.g. no such file) */
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  snprintf(out, outlen, "%s%s%s%s%s", what, path ? " " : "", path ? path : "", buf[0] ? ": " : "",
           buf);
  ERR_clear_error();
}

pc_tls_ctx_t *pc_tls_ctx_new(const char *cert, const char *key, const char *ca,
                             patron_error_t *err) {
  char why[300];
  ERR_clear_error();
  pc_tls_ctx_t *t = calloc(1, sizeof *t);
  if (!t) {
    pc_seterr(err, PATRON_E_NOMEM, "nomem", NULL, "out of memory");
    return NULL;
  }
  SSL_CTX *ctx = t->ctx = SSL_CTX_new(TLS_client_method());
  const char *field = NULL;
  if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)) {
    ssl_reason(why, sizeof why, "cannot create a TLS context", NULL);
  } else if (ca && *ca && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
    ssl_reason(why, sizeof why, "cannot load the CA file", ca);
    field = "ca";
  } else if ((!ca || !*ca) && SSL_CTX_set_default_verify_paths(ctx) != 1) {
    ssl_reason(why, sizeof why, "cannot load the system's CA certificates", NULL);
    field = "ca";
  } else if (cert && *cert && SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
    ssl_reason(why, sizeof why, "cannot load the client certificate", cert);
    field = "cert";
  } else if (cert && *cert && SSL_CTX_use_PrivateKey_file(ctx, key && *key ? key : cert,
                                                          SSL_FILETYPE_PEM) != 1) {
    ssl_reason(why, sizeof why, "cannot load the client key", key && *key ? key : cert);
    field = "key";
  } else if (cert && *cert && SSL_CTX_check_private_key(ctx) != 1) {
    ssl_reason(why, sizeof why, "the client key does not match the certificate", cert);
    field = "key";
  } else if (!(cert && *cert) && key && *key) {
    snprintf(why, sizeof why, "a client key without its certificate");
    field = "cert";
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return t;
  }
  pc_seterr(err, PATRON_E_INVALID, "invalid_params", field, "%s", why);
  pc_tls_ctx_free(t);
  return NULL;
}

void pc_tls_ctx_free(pc_tls_ctx_t *t) {
  if (!t) return;
  SSL_CTX_free(t->ctx);
  free(t);
}

/* Send everything the session wrote. 0, or an errno value (ETIMEDOUT at the deadline). */
static int flush_out(pc_tls_t *t, int64_t deadline) {
  char buf[PC_TLS_CHUNK];
  while (BIO_ctrl_pending(t->wb) > 0) {
    int n = BIO_read(t->wb, buf, sizeof buf);
    if (n <= 0) return EIO;
    int off = 0;
    while (off < n) {
      ssize_t w = send(t->fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        off += (int)w;
        t->sent += (unsigned long long)w;
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        int r = pc_wait_fd(t->fd, POLLOUT, deadline, NULL);
        if (r == 0) return ETIMEDOUT;
        if (r < 0) return errno;
        continue;
      }
      return w < 0 ? errno : EPIPE;
    }
  }
  return 0;
}

/* Wait for the socket, then read what it has into the session (the session asks only when
 * it has nothing buffered, so waiting first saves a recv that would fail). 0, ECONNRESET at
 * end of stream, or an errno. */
static int fill_in(pc_tls_t *t, int64_t deadline) {
  char buf[PC_TLS_CHUNK];
  for (;;) {
    int r = pc_wait_fd(t->fd, POLLIN, deadline, NULL);
    if (r == 0) return ETIMEDOUT;
    if (r < 0) return errno;
    ssize_t n = recv(t->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) return BIO_write(t->rb, buf, (int)n) == (int)n ? 0 : ENOMEM;
    if (n == 0) return ECONNRESET;
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return errno;
  }
}

/* After an OpenSSL call returned r: 0 = retry (bytes moved), else an errno value with the
 * reason in t->err (EPROTO for a TLS failure: an alert from the daemon, a bad certificate). */
static int pump(pc_tls_t *t, int r, int64_t deadline) {
  int e = SSL_get_error(t->ssl, r);
  int fe = flush_out(t, deadline); /* alerts and handshake messages go out first */
  if (e == SSL_ERROR_WANT_READ) {
    if (fe) return fe;
    return fill_in(t, deadline);
  }
  if (e == SSL_ERROR_WANT_WRITE) return fe;
  if (e == SSL_ERROR_ZERO_RETURN) return ECONNRESET;
  long v = SSL_get_verify_result(t->ssl);
  if (v != X509_V_OK)
    snprintf(t->err, sizeof t->err, "server certificate refused: %s",
             X509_verify_cert_error_string(v));
  else ssl_reason(t->err, sizeof t->err, "TLS failed", NULL);
  ERR_clear_error();
  return EPROTO;
}

pc_tls_t *pc_tls_start(pc_tls_ctx_t *ctx, int fd, const char *host, int64_t deadline, int *errnum,
                       char *why, size_t whylen) {
  ERR_clear_error();
  pc_tls_t *t = calloc(1, sizeof *t);
  *errnum = ENOMEM;
  snprintf(why, whylen, "out of memory");
  if (!t) return NULL;
  t->fd = fd;
  t->ssl = SSL_new(ctx->ctx);
  t->rb = BIO_new(BIO_s_mem());
  t->wb = BIO_new(BIO_s_mem());
  if (!t->ssl || !t->rb || !t->wb) {
    BIO_free(t->rb);
    BIO_free(t->wb);
    SSL_free(t->ssl);
    free(t);
    ERR_clear_error();
    return NULL;
  }
  BIO_set_mem_eof_return(t->rb, -1);
  SSL_set_bio(t->ssl, t->rb, t->wb);
  unsigned char ip[16];
  int is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
  if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host) != 1
            : (SSL_set1_host(t->ssl, host) != 1 || SSL_set_tlsext_host_name(t->ssl, host) != 1)) {
    pc_tls_free(t);
    return NULL;
  }
  SSL_set_connect_state(t->ssl);
  for (;;) {
    int r = SSL_connect(t->ssl);
    if (r == 1) {
      int e = flush_out(t, deadline); /* the client's Finished (and certificate) */
      if (!e) return t;
      *errnum = e;
      snprintf(why, whylen, "%s", strerror(e));
      break;
    }
    int e = pump(t, r, deadline);
    if (e) {
      *errnum = e;
      snprintf(why, whylen, "%s", e == EPROTO ? t->err : strerror(e));
      break;
    }
  }
  pc_tls_free(t);
  return NULL;
}

void pc_tls_free(pc_tls_t *t) {
  if (!t) return;
  SSL_free(t->ssl);
  free(t);
}

int pc_tls_write(pc_tls_t *t, const void *buf, size_t len, int64_t deadline, size_t *sent) {
  unsigned long long before = t->sent;
  size_t w = 0;
  int e = 0;
  *sent = 0;
  ERR_clear_error();
  while (!SSL_write_ex(t->ssl, buf, len, &w) && !(e = pump(t, 0, deadline))) {
  }
  if (!e) e = flush_out(t, deadline);
  if (t->sent > before) *sent = e ? 1 : len; /* some of it may have reached the daemon */
  return e;
}

ssize_t pc_tls_read(pc_tls_t *t, void *buf, size_t cap, int64_t deadline, int *errnum) {
  ERR_clear_error();
  for (;;) {
    size_t got = 0;
    if (SSL_read_ex(t->ssl, buf, cap, &got)) return (ssize_t)got;
    int e = pump(t, 0, deadline);
    if (e == ECONNRESET) return 0;
    if (e) {
      *errnum = e;
      return -1;
    }
  }
}

const char *pc_tls_error(const pc_tls_t *t) { return t->err; }
