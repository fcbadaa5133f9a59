/* patronclient.c -- libpatronclient: the handle, connection management and msgpack-RPC
 * calls over a Unix stream socket, or TCP with TLS for tls://host:port (client_tls.c).
 *
 * Owns: one non-blocking socket per handle, the request buffer, the reply buffer and the
 * msgid counter.
 *
 * Invariants:
 *  - One deadline per call (now + timeout) covers connect, write and read; every wait is
 *    a poll() bounded by what is left of it, so a call never outlives its budget.
 *  - Any timeout, I/O error, protocol error or oversize reply closes the socket (the
 *    stream may hold a half-read or late reply); the next call reconnects lazily.
 *  - Bytes are handed to msgpack-c only as complete frames that mpscan has proven to be
 *    at most max_reply bytes and at most MPSCAN_MAX_DEPTH deep.
 *  - A reply is accepted only if its msgid is the one just sent; other replies (late
 *    answers to an earlier request) and notifications are consumed and skipped (the
 *    latter handed to the notification callback when one is set).
 *  - A request is re-sent on a fresh connection only if not a single byte of it was
 *    written to the old one (so a write can never be delivered twice).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client_internal.h"
#include "client_tls.h"
#include "mpscan.h"

#define PC_STR_(x) #x
#define PC_STR(x) PC_STR_(x)
#define PC_VERSION                                                                          \
  PC_STR(PATRON_CLIENT_VERSION_MAJOR) "." PC_STR(PATRON_CLIENT_VERSION_MINOR) "." PC_STR( \
      PATRON_CLIENT_VERSION_PATCH)

#define PC_READ_CHUNK 65536u
#define PC_MAX_METHOD 255u

struct patron_client {
  struct sockaddr_un addr;
  socklen_t addrlen;
  char path[300]; /* as given (socket path or tls:// URL), for messages */
  int tls;        /* tls://host:port: TCP + TLS to host, port */
  char host[256], port[8];
  pc_tls_ctx_t *tls_ctx; /* patron_set_tls's (made with the defaults on first use) */
  pc_tls_t *sess;        /* the connection's TLS session */
  int timeout_ms;
  size_t max_reply;
  patron_notify_fn notify;
  void *notify_ud;

  int fd;    /* -1 when not connected */
  pid_t pid; /* process that opened fd */
  uint32_t next_msgid;

  msgpack_sbuffer wbuf; /* the request being sent */

  unsigned char *rbuf; /* received bytes; a frame always starts at rbuf[0] */
  size_t rlen, rcap;
  mpscan_t scan;
  msgpack_unpacked reply; /* the last decoded frame; points into rbuf */
  size_t consume;         /* bytes of rbuf to drop before the next frame */
};

/* ---- status names ------------------------------------------------------------------ */

const char *patron_version(void) { return PC_VERSION; }

const char *patron_status_name(int status) {
  switch (status) {
  case PATRON_OK: return "ok";
  case PATRON_E_REMOTE: return "remote";
  case PATRON_E_UNAVAILABLE: return "unavailable";
  case PATRON_E_INVALID: return "invalid";
  case PATRON_E_PROTOCOL: return "protocol";
  case PATRON_E_TOO_LARGE: return "too_large";
  case PATRON_E_NOMEM: return "nomem";
  }
  return "unknown";
}

const char *patron_strerror(int status) {
  switch (status) {
  case PATRON_OK: return "success";
  case PATRON_E_REMOTE: return "the daemon answered with an error";
  case PATRON_E_UNAVAILABLE: return "patrond unavailable (not running, connection lost or timed out)";
  case PATRON_E_INVALID: return "invalid argument";
  case PATRON_E_PROTOCOL: return "malformed reply from the daemon";
  case PATRON_E_TOO_LARGE: return "reply exceeds the maximum reply size";
  case PATRON_E_NOMEM: return "out of memory";
  }
  return "unknown status";
}

void patron_free(void *p) { free(p); }

/* ---- time ---------------------------------------------------------------------------- */

int64_t pc_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The deadline of a wait of timeout_ms that starts now. The clock is read in whole ms
 * (truncated), so now + timeout could end the wait up to 1 ms early: one more ms makes every
 * call wait at least its timeout (a page budget's last call then finds it spent, not 1 ms
 * left). */
static int64_t deadline_after(int timeout_ms) { return pc_now_ms() + timeout_ms + 1; }

static int left_ms(int64_t deadline) {
  int64_t l = deadline - pc_now_ms();
  return l <= 0 ? 0 : (l > INT32_MAX ? INT32_MAX : (int)l);
}

/* poll one fd for events until the deadline. 1 ready, 0 deadline passed, -1 error. */
int pc_wait_fd(int fd, short events, int64_t deadline, short *revents) {
  for (;;) {
    int ms = left_ms(deadline);
    struct pollfd p = {.fd = fd, .events = events, .revents = 0};
    int r = poll(&p, 1, ms);
    if (r > 0) {
      if (revents) *revents = p.revents;
      return 1;
    }
    if (r == 0) {
      if (ms == 0) return 0;
      continue; /* woke early (rounding): re-check the deadline */
    }
    if (errno != EINTR) return -1;
  }
}

/* ---- handle ---------------------------------------------------------------------------- */

/* tls://host:port or tls://[v6]:port (port default PATRON_DEFAULT_TLS_PORT). -1 if not. */
static int parse_tls_url(patron_client_t *c, const char *url) {
  const char *h = url + 6, *end, *colon;
  if (*h == '[') {
    end = strchr(h, ']');
    if (!end) return -1;
    colon = end[1] == ':' ? end + 1 : (end[1] ? NULL : end + 1);
    if (!colon) return -1;
    h++;
  } else {
    colon = strchr(h, ':');
    end = colon ? colon : h + strlen(h);
    if (!colon) colon = end; /* no port */
  }
  size_t hn = (size_t)(end - h);
  if (hn == 0 || hn >= sizeof c->host || memchr(h, '/', hn)) return -1;
  memcpy(c->host, h, hn);
  c->host[hn] = 0;
  const char *port = *colon == ':' ? colon + 1 : PC_STR(PATRON_DEFAULT_TLS_PORT);
  size_t pn = strlen(port);
  if (pn == 0 || pn >= sizeof c->port || strspn(port, "0123456789") != pn || atoi(port) < 1 ||
      atoi(port) > 65535)
    return -1;
  memcpy(c->port, port, pn + 1);
  c->tls = 1;
  return 0;
}

patron_client_t *patron_open(const char *socket_path, int timeout_ms) {
  if (!socket_path || !*socket_path) socket_path = PATRON_DEFAULT_SOCKET;
  size_t n = strlen(socket_path);
  patron_client_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->addr.sun_family = AF_UNIX;
  if (!strncmp(socket_path, "tls://", 6)) {
    if (n >= sizeof c->path || parse_tls_url(c, socket_path)) goto fail;
  } else if (socket_path[0] == '@') { /* Linux abstract namespace: leading NUL, no terminator */
    if (n > sizeof c->addr.sun_path) goto fail;
    memcpy(c->addr.sun_path + 1, socket_path + 1, n - 1);
    c->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  } else {
    if (n >= sizeof c->addr.sun_path) goto fail; /* never truncate a path */
    memcpy(c->addr.sun_path, socket_path, n + 1);
    c->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  }
  memcpy(c->path, socket_path, n + 1);
  c->timeout_ms = timeout_ms > 0 ? timeout_ms : PATRON_DEFAULT_TIMEOUT_MS;
  c->max_reply = PATRON_DEFAULT_MAX_REPLY;
  c->fd = -1;
  c->next_msgid = 1;
  msgpack_sbuffer_init(&c->wbuf);
  msgpack_unpacked_init(&c->reply);
  mpscan_init(&c->scan);
  return c;
fail:
  free(c);
  return NULL;
}

static void drop_conn(patron_client_t *c) {
  pc_tls_free(c->sess); /* sends nothing: no close_notify from a forked child */
  c->sess = NULL;
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  msgpack_unpacked_destroy(&c->reply);
  msgpack_unpacked_init(&c->reply);
  c->rlen = 0;
  c->consume = 0;
  mpscan_init(&c->scan);
}

void patron_disconnect(patron_client_t *c) {
  if (c) drop_conn(c);
}

void patron_close(patron_client_t *c) {
  if (!c) return;
  drop_conn(c);
  pc_tls_ctx_free(c->tls_ctx);
  msgpack_unpacked_destroy(&c->reply);
  msgpack_sbuffer_destroy(&c->wbuf);
  free(c->rbuf);
  free(c);
}

int patron_set_timeout(patron_client_t *c, int timeout_ms) {
  if (!c) return 0;
  int old = c->timeout_ms;
  c->timeout_ms = timeout_ms > 0 ? timeout_ms : PATRON_DEFAULT_TIMEOUT_MS;
  return old;
}

size_t patron_set_max_reply(patron_client_t *c, size_t max_bytes) {
  if (!c) return 0;
  size_t old = c->max_reply;
  c->max_reply = max_bytes ? max_bytes : PATRON_DEFAULT_MAX_REPLY;
  return old;
}

int patron_set_tls(patron_client_t *c, const char *cert_file, const char *key_file,
                   const char *ca_file, patron_error_t *err) {
  if (!c) return pc_seterr(err, PATRON_E_INVALID, "invalid_request", NULL, "NULL handle");
  if (!c->tls)
    return pc_seterr(err, PATRON_E_INVALID, "invalid_params", NULL,
                     "TLS options need a tls://host:port address, not %s", c->path);
  pc_tls_ctx_t *t = pc_tls_ctx_new(cert_file, key_file, ca_file, err);
  if (!t) return err ? err->status : PATRON_E_INVALID;
  drop_conn(c); /* the next call connects with these */
  pc_tls_ctx_free(c->tls_ctx);
  c->tls_ctx = t;
  return pc_seterr(err, PATRON_OK, "", NULL, NULL);
}

void patron_set_notify(patron_client_t *c, patron_notify_fn fn, void *userdata) {
  if (!c) return;
  c->notify = fn;
  c->notify_ud = userdata;
}

/* ---- connection -------------------------------------------------------------------------- */

static int unavailable(patron_client_t *c, patron_error_t *err, const char *what, int e) {
  char why[220];
  snprintf(why, sizeof why, "%s", e == EPROTO && c->sess ? pc_tls_error(c->sess) : strerror(e));
  drop_conn(c);
  return pc_seterr(err, PATRON_E_UNAVAILABLE, "unavailable", NULL, "%s %s: %s", what, c->path,
                   why);
}

static int timed_out(patron_client_t *c, patron_error_t *err, const char *stage) {
  drop_conn(c);
  return pc_seterr(err, PATRON_E_UNAVAILABLE, "timeout", NULL,
                   "no answer from %s within %d ms (%s)", c->path, c->timeout_ms, stage);
}

/* tls://: resolve, connect over TCP within the deadline, then the TLS handshake. */
static int connect_tls(patron_client_t *c, int64_t deadline, patron_error_t *err) {
  if (!c->tls_ctx && !(c->tls_ctx = pc_tls_ctx_new(NULL, NULL, NULL, err)))
    return err ? err->status : PATRON_E_INVALID;
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
  int g = getaddrinfo(c->host, c->port, &hints, &res);
  if (g) {
    drop_conn(c);
    return pc_seterr(err, PATRON_E_UNAVAILABLE, "unavailable", NULL, "cannot resolve %s: %s",
                     c->path, gai_strerror(g));
  }
  int e = ECONNREFUSED, fd = -1;
  for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      e = errno;
      continue;
    }
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    e = errno;
    if (e == EINPROGRESS) {
      int w = pc_wait_fd(fd, POLLOUT, deadline, NULL);
      socklen_t sl = sizeof e;
      if (w == 0) e = ETIMEDOUT;
      else if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0) e = errno;
      if (e == 0) break;
    }
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    if (e == ETIMEDOUT) return timed_out(c, err, "connect");
    return unavailable(c, err, "cannot connect to", e);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char why[220];
  c->sess = pc_tls_start(c->tls_ctx, fd, c->host, deadline, &e, why, sizeof why);
  if (!c->sess) {
    close(fd);
    if (e == ETIMEDOUT) return timed_out(c, err, "TLS handshake");
    drop_conn(c);
    return pc_seterr(err, PATRON_E_UNAVAILABLE, "unavailable", NULL, "TLS with %s: %s", c->path,
                     why);
  }
  c->fd = fd;
  c->pid = getpid();
  return PATRON_OK;
}

static int connect_by(patron_client_t *c, int64_t deadline, patron_error_t *err) {
  if (c->fd >= 0) return PATRON_OK;
  if (c->tls) return connect_tls(c, deadline, err);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return unavailable(c, err, "socket for", errno);
  for (;;) {
    if (connect(fd, (struct sockaddr *)&c->addr, c->addrlen) == 0) break;
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN) {
      /* Listen backlog full: Unix sockets do not queue us, so retry briefly. */
      int ms = left_ms(deadline);
      if (ms == 0) {
        close(fd);
        return timed_out(c, err, "connect");
      }
      struct timespec ts = {0, (ms < 5 ? ms : 5) * 1000000L};
      nanosleep(&ts, NULL);
      continue;
    }
    if (e == EINPROGRESS) {
      short rev = 0;
      int w = pc_wait_fd(fd, POLLOUT, deadline, &rev);
      if (w == 0) {
        close(fd);
        return timed_out(c, err, "connect");
      }
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) soerr = errno;
      if (soerr == 0) break;
      close(fd);
      return unavailable(c, err, "cannot connect to", soerr);
    }
    close(fd);
    return unavailable(c, err, "cannot connect to", e);
  }
  c->fd = fd;
  c->pid = getpid();
  return PATRON_OK;
}

int patron_connect(patron_client_t *c, patron_error_t *err) {
  if (!c) return pc_seterr(err, PATRON_E_INVALID, "invalid_request", NULL, "NULL handle");
  int r = connect_by(c, deadline_after(c->timeout_ms), err);
  if (r == PATRON_OK) pc_seterr(err, PATRON_OK, "", NULL, NULL);
  return r;
}

/* A kept connection the daemon has closed (restart, idle timeout) reads as EOF/HUP; drop
 * it before sending so the call goes to a fresh one. Unread bytes (a late reply) are fine:
 * they are skipped by msgid. */
static void check_kept_conn(patron_client_t *c) {
  if (c->fd < 0) return;
  if (c->pid != getpid()) { /* inherited across fork: the parent owns that socket */
    drop_conn(c);
    return;
  }
  struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLRDHUP, .revents = 0};
  if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)))
    drop_conn(c);
}

/* Write all of wbuf. *sent receives the bytes written. errno-style code or 0; ETIMEDOUT
 * when the deadline passed. */
static int write_all(patron_client_t *c, int64_t deadline, size_t *sent) {
  size_t off = 0;
  *sent = 0;
  if (c->sess) return pc_tls_write(c->sess, c->wbuf.data, c->wbuf.size, deadline, sent);
  while (off < c->wbuf.size) {
    ssize_t n = send(c->fd, c->wbuf.data + off, c->wbuf.size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += (size_t)n;
      *sent = off;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      short rev = 0;
      int w = pc_wait_fd(c->fd, POLLOUT, deadline, &rev);
      if (w == 0) return ETIMEDOUT;
      if (w < 0) return errno;
      continue;
    }
    return n < 0 ? errno : EPIPE;
  }
  return 0;
}

/* ---- replies ------------------------------------------------------------------------------ */

static int protocol_error(patron_client_t *c, patron_error_t *err, const char *what) {
  drop_conn(c);
  return pc_seterr(err, PATRON_E_PROTOCOL, "protocol", NULL, "malformed reply: %s", what);
}

static void copy_str(char *dst, size_t cap, const msgpack_object *o) {
  if (o->type == MSGPACK_OBJECT_STR || o->type == MSGPACK_OBJECT_BIN) {
    size_t n = o->via.str.size < cap - 1 ? o->via.str.size : cap - 1;
    if (n) memcpy(dst, o->via.str.ptr, n); /* msgpack-c gives an empty string a NULL ptr */
    dst[n] = '\0';
  }
}

static int key_is(const msgpack_object *k, const char *name) {
  size_t n = strlen(name);
  return (k->type == MSGPACK_OBJECT_STR || k->type == MSGPACK_OBJECT_BIN) &&
         k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

/* Turn the wire error object into err. Returns the status. */
static int remote_error(const msgpack_object *e, patron_error_t *err) {
  patron_error_t tmp = {0};
  patron_error_t *x = err ? err : &tmp;
  pc_seterr(x, PATRON_E_REMOTE, "internal", NULL, NULL);
  if (e->type == MSGPACK_OBJECT_MAP) {
    for (uint32_t i = 0; i < e->via.map.size; i++) {
      const msgpack_object *k = &e->via.map.ptr[i].key, *v = &e->via.map.ptr[i].val;
      if (key_is(k, "code")) copy_str(x->code, sizeof x->code, v);
      else if (key_is(k, "message")) copy_str(x->message, sizeof x->message, v);
      else if (key_is(k, "field")) copy_str(x->field, sizeof x->field, v);
    }
  } else if (e->type == MSGPACK_OBJECT_ARRAY) { /* tolerate [code, message] forms */
    int seen = 0;
    for (uint32_t i = 0; i < e->via.array.size && seen < 2; i++) {
      const msgpack_object *v = &e->via.array.ptr[i];
      if (v->type != MSGPACK_OBJECT_STR) continue;
      if (seen++ == 0) copy_str(x->code, sizeof x->code, v);
      else copy_str(x->message, sizeof x->message, v);
    }
  } else if (e->type == MSGPACK_OBJECT_STR) {
    copy_str(x->message, sizeof x->message, e);
  }
  if (!x->code[0]) /* an empty code (or one starting with NUL) still names the error kind */
    snprintf(x->code, sizeof x->code, "internal");
  if (!strcmp(x->code, "unavailable") || !strcmp(x->code, "timeout"))
    x->status = PATRON_E_UNAVAILABLE; /* the daemon itself says: fail open */
  return x->status;
}

static void notify(patron_client_t *c, const msgpack_object *m) {
  if (!c->notify || m->via.array.size != 3) return;
  const msgpack_object *name = &m->via.array.ptr[1];
  if (name->type != MSGPACK_OBJECT_STR && name->type != MSGPACK_OBJECT_BIN) return;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  if (msgpack_pack_object(&pk, m->via.array.ptr[2]) == 0)
    c->notify(name->via.str.ptr, name->via.str.size, sb.data, sb.size, c->notify_ud);
  msgpack_sbuffer_destroy(&sb);
}

/* Drop the bytes of the frame decoded last. */
static void consume_frame(patron_client_t *c) {
  if (!c->consume) return;
  msgpack_unpacked_destroy(&c->reply);
  msgpack_unpacked_init(&c->reply);
  memmove(c->rbuf, c->rbuf + c->consume, c->rlen - c->consume);
  c->rlen -= c->consume;
  c->consume = 0;
  mpscan_init(&c->scan);
}

/* Read until the reply to msgid arrives; *result points into c->reply (valid until the
 * next consume_frame). */
static int read_reply(patron_client_t *c, uint32_t msgid, int64_t deadline,
                      const msgpack_object **result, patron_error_t *err) {
  for (;;) {
    size_t flen = 0;
    int s = mpscan_feed(&c->scan, c->rbuf, c->rlen, c->max_reply, &flen);
    if (s == MPSCAN_TOO_LARGE) {
      drop_conn(c);
      return pc_seterr(err, PATRON_E_TOO_LARGE, "too_large", NULL,
                       "reply larger than the %zu-byte limit", c->max_reply);
    }
    if (s == MPSCAN_BAD) return protocol_error(c, err, "invalid msgpack");
    if (s == MPSCAN_DEEP) return protocol_error(c, err, "nesting too deep");
    if (s == MPSCAN_DONE) {
      size_t off = 0;
      msgpack_unpack_return ur =
          msgpack_unpack_next(&c->reply, (const char *)c->rbuf, flen, &off);
      if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
        drop_conn(c);
        return pc_seterr(err, PATRON_E_NOMEM, "nomem", NULL, "out of memory decoding reply");
      }
      if (ur != MSGPACK_UNPACK_SUCCESS || off != flen)
        return protocol_error(c, err, "undecodable frame");
      c->consume = flen;
      const msgpack_object *m = &c->reply.data;
      if (m->type != MSGPACK_OBJECT_ARRAY || m->via.array.size < 3 ||
          m->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return protocol_error(c, err, "not a msgpack-RPC message");
      uint64_t kind = m->via.array.ptr[0].via.u64;
      if (kind == 1) {
        const msgpack_object *id = &m->via.array.ptr[1];
        if (m->via.array.size != 4 || id->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            id->via.u64 > UINT32_MAX)
          return protocol_error(c, err, "bad response header");
        if (id->via.u64 == msgid) {
          const msgpack_object *e = &m->via.array.ptr[2];
          if (e->type != MSGPACK_OBJECT_NIL) return remote_error(e, err);
          *result = &m->via.array.ptr[3];
          return PATRON_OK;
        }
        /* a late reply to an earlier request: skip */
      } else if (kind == 2) {
        notify(c, m);
      } else if (kind != 0) { /* a request from the daemon is ignored; others are bad */
        return protocol_error(c, err, "unknown message type");
      }
      consume_frame(c);
      continue;
    }
    /* MPSCAN_MORE: read more bytes. */
    if (c->rcap - c->rlen < 4096) {
      size_t limit = c->max_reply + PC_READ_CHUNK;
      size_t ncap = c->rcap ? c->rcap * 2 : PC_READ_CHUNK;
      if (ncap > limit) ncap = limit;
      if (ncap <= c->rcap) {
        if (c->rcap == c->rlen) { /* cannot happen: mpscan caps the frame first */
          drop_conn(c);
          return pc_seterr(err, PATRON_E_TOO_LARGE, "too_large", NULL, "reply too large");
        }
      } else {
        unsigned char *nb = realloc(c->rbuf, ncap);
        if (!nb) {
          drop_conn(c);
          return pc_seterr(err, PATRON_E_NOMEM, "nomem", NULL, "out of memory");
        }
        c->rbuf = nb;
        c->rcap = ncap;
      }
    }
    ssize_t n;
    if (c->sess) { /* the session may hold decrypted bytes: it polls when it needs to */
      int e = 0;
      n = pc_tls_read(c->sess, c->rbuf + c->rlen, c->rcap - c->rlen, deadline, &e);
      if (n < 0 && e == ETIMEDOUT) return timed_out(c, err, "waiting for the reply");
      if (n < 0) return unavailable(c, err, "read from", e);
    } else {
      short rev = 0;
      int w = pc_wait_fd(c->fd, POLLIN, deadline, &rev);
      if (w == 0) return timed_out(c, err, "waiting for the reply");
      if (w < 0) return unavailable(c, err, "poll on", errno);
      n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, MSG_DONTWAIT);
    }
    if (n > 0) {
      c->rlen += (size_t)n;
    } else if (n == 0) {
      drop_conn(c);
      return pc_seterr(err, PATRON_E_UNAVAILABLE, "unavailable", NULL,
                       "connection to %s closed by the daemon", c->path);
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return unavailable(c, err, "read from", errno);
    }
  }
}

/* ---- calls --------------------------------------------------------------------------------- */

static int check_method(const char *method, patron_error_t *err) {
  if (!method || !*method)
    return pc_seterr(err, PATRON_E_INVALID, "invalid_request", NULL, "empty method name");
  if (strlen(method) > PC_MAX_METHOD)
    return pc_seterr(err, PATRON_E_INVALID, "invalid_request", NULL, "method name too long");
  return PATRON_OK;
}

/* Start the request [0, msgid, method, [ in wbuf; the caller appends the params map. */
static int start_request(patron_client_t *c, const char *method, uint32_t msgid) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, &c->wbuf, msgpack_sbuffer_write);
  size_t n = strlen(method);
  c->wbuf.size = 0;
  if (msgpack_pack_array(&pk, 4) || msgpack_pack_uint8(&pk, 0) ||
      msgpack_pack_uint32(&pk, msgid) || msgpack_pack_str(&pk, n) ||
      msgpack_pack_str_body(&pk, method, n) || msgpack_pack_array(&pk, 1))
    return PATRON_E_NOMEM;
  return PATRON_OK;
}

/* Send wbuf (its msgid is msgid) and wait for the reply. */
static int exchange(patron_client_t *c, uint32_t msgid, const msgpack_object **result,
                    patron_error_t *err) {
  int64_t deadline = deadline_after(c->timeout_ms);
  consume_frame(c);
  check_kept_conn(c);
  for (int attempt = 0;; attempt++) {
    int reused = c->fd >= 0;
    int r = connect_by(c, deadline, err);
    if (r != PATRON_OK) return r;
    size_t sent = 0;
    int e = write_all(c, deadline, &sent);
    if (e == 0) break;
    if (e == ETIMEDOUT) return timed_out(c, err, "sending the request");
    if (reused && sent == 0 && attempt == 0 && (e == EPIPE || e == ECONNRESET)) {
      drop_conn(c); /* the kept connection was dead; nothing was sent: retry once */
      continue;
    }
    return unavailable(c, err, "write to", e);
  }
  return read_reply(c, msgid, deadline, result, err);
}

int patron_call(patron_client_t *c, const char *method, const void *params, size_t params_len,
                void **result, size_t *result_len, patron_error_t *err) {
  if (result) *result = NULL;
  if (result_len) *result_len = 0;
  if (!c || !result || !result_len)
    return pc_seterr(err, PATRON_E_INVALID, "invalid_request", NULL, "NULL argument");
  int r = check_method(method, err);
  if (r != PATRON_OK) return r;
  if (params && params_len) { /* exactly one complete map */
    mpscan_t sc;
    size_t flen = 0;
    mpscan_init(&sc);
    const unsigned char *p = params;
    int s = mpscan_feed(&sc, p, params_len, params_len, &flen);
    if (s != MPSCAN_DONE || flen != params_len || !((p[0] >= 0x80 && p[0] <= 0x8f) ||
                                                    p[0] == 0xde || p[0] == 0xdf))
      return pc_seterr(err, PATRON_E_INVALID, "invalid_params", NULL,
                       "params must be the msgpack encoding of exactly one map");
  }
  uint32_t msgid = c->next_msgid++;
  if (start_request(c, method, msgid) != PATRON_OK ||
      msgpack_sbuffer_write(&c->wbuf, params && params_len ? params : "\x80",
                            params && params_len ? params_len : 1) != 0)
    return pc_seterr(err, PATRON_E_NOMEM, "nomem", NULL, "out of memory");
  const msgpack_object *res = NULL;
  r = exchange(c, msgid, &res, err);
  if (r == PATRON_OK) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (msgpack_pack_object(&pk, *res) != 0) {
      msgpack_sbuffer_destroy(&sb);
      r = pc_seterr(err, PATRON_E_NOMEM, "nomem", NULL, "out of memory");
    } else {
      *result_len = sb.size;
      *result = msgpack_sbuffer_release(&sb);
      pc_seterr(err, PATRON_OK, "", NULL, NULL);
    }
  }
  consume_frame(c);
  return r;
}

char *patron_call_json(patron_client_t *c, const char *method, const char *params_json,
                       int *status) {
  patron_error_t err;
  char *out = NULL;
  int r;
  if (!c) {
    r = pc_seterr(&err, PATRON_E_INVALID, "invalid_request", NULL, "NULL handle");
    goto error;
  }
  r = check_method(method, &err);
  if (r != PATRON_OK) goto error;
  uint32_t msgid = c->next_msgid++;
  if (start_request(c, method, msgid) != PATRON_OK) {
    r = pc_seterr(&err, PATRON_E_NOMEM, "nomem", NULL, "out of memory");
    goto error;
  }
  msgpack_packer pk;
  msgpack_packer_init(&pk, &c->wbuf, msgpack_sbuffer_write);
  if (!params_json || !*params_json) {
    if (msgpack_pack_map(&pk, 0) != 0) {
      r = pc_seterr(&err, PATRON_E_NOMEM, "nomem", NULL, "out of memory");
      goto error;
    }
  } else {
    r = pc_json_pack(params_json, strlen(params_json), 1, &pk, &err);
    if (r != PATRON_OK) goto error;
  }
  const msgpack_object *res = NULL;
  r = exchange(c, msgid, &res, &err);
  if (r == PATRON_OK) {
    out = pc_obj_to_json(res, 0);
    consume_frame(c);
    if (!out) r = PATRON_E_NOMEM;
    if (status) *status = r;
    return out;
  }
  consume_frame(c);
error:
  if (status) *status = r;
  return pc_error_json(&err);
}
