/* patronctl_pipe.c -- pipelined msgpack-RPC over one Unix socket (see patronctl_pipe.h).
 * Invariants: the write buffer holds whole requests only; every blocking wait is bounded by
 * the timeout via poll(); SIGPIPE is never raised (MSG_NOSIGNAL). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "patronctl_pipe.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct pipe_conn {
  int fd;
  int timeout_ms;
  uint32_t next_msgid;
  msgpack_sbuffer out;
  size_t out_off; /* bytes of out already written (a partial pipe_flush_some) */
  size_t out_full; /* out.size when the socket last took nothing (pipe_flush_some waits for
                    * PIPE_FLUSH_BYTES more before it tries again) */
  msgpack_packer pk;
  msgpack_unpacker in;
  msgpack_unpacked msg;
  char err[256];
};

pipe_conn_t *pipe_open(const char *path, int timeout_ms, char *errbuf, size_t errlen) {
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof a.sun_path) {
    snprintf(errbuf, errlen, "invalid socket path '%s'", path);
    return NULL;
  }
  memcpy(a.sun_path, path, n);
  if (path[0] == '@') a.sun_path[0] = '\0';
  socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] != '@'));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, alen) != 0) {
    snprintf(errbuf, errlen, "cannot connect to %s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return NULL;
  }
  pipe_conn_t *p = calloc(1, sizeof *p);
  if (!p || !msgpack_unpacker_init(&p->in, 1 << 16)) {
    snprintf(errbuf, errlen, "out of memory");
    free(p);
    close(fd);
    return NULL;
  }
  p->fd = fd;
  p->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
  p->next_msgid = 1;
  msgpack_sbuffer_init(&p->out);
  msgpack_packer_init(&p->pk, &p->out, msgpack_sbuffer_write);
  msgpack_unpacked_init(&p->msg);
  return p;
}

void pipe_close(pipe_conn_t *p) {
  if (!p) return;
  close(p->fd);
  msgpack_unpacked_destroy(&p->msg);
  msgpack_unpacker_destroy(&p->in);
  msgpack_sbuffer_destroy(&p->out);
  free(p);
}

const char *pipe_error(const pipe_conn_t *p) { return p->err; }

uint32_t pipe_send(pipe_conn_t *p, const char *method, const void *params, size_t len) {
  uint32_t id = p->next_msgid++;
  msgpack_pack_array(&p->pk, 4);
  msgpack_pack_uint8(&p->pk, 0);
  msgpack_pack_uint32(&p->pk, id);
  size_t mlen = strlen(method);
  msgpack_pack_str(&p->pk, mlen);
  msgpack_pack_str_body(&p->pk, method, mlen);
  msgpack_pack_array(&p->pk, 1);
  if (len)
    msgpack_sbuffer_write(&p->out, params, len);
  else
    msgpack_pack_map(&p->pk, 0);
  return id;
}

static int wait_for(pipe_conn_t *p, short ev) {
  struct pollfd pf = {.fd = p->fd, .events = ev};
  int r;
  do r = poll(&pf, 1, p->timeout_ms);
  while (r < 0 && errno == EINTR);
  if (r == 0) snprintf(p->err, sizeof p->err, "timed out after %d ms", p->timeout_ms);
  if (r < 0) snprintf(p->err, sizeof p->err, "poll: %s", strerror(errno));
  return r > 0 ? 0 : -1;
}

/* Write queued bytes; with block, until none is left (waiting for the socket), else as many
 * as the socket takes now. 0 or -1. */
static int flush_out(pipe_conn_t *p, int block) {
  while (p->out_off < p->out.size) {
    ssize_t w = send(p->fd, p->out.data + p->out_off, p->out.size - p->out_off,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      p->out_off += (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!block) {
        p->out_full = p->out.size;
        break;
      }
      if (wait_for(p, POLLOUT) != 0) return -1;
    } else {
      snprintf(p->err, sizeof p->err, "write: %s", strerror(errno));
      return -1;
    }
  }
  if (p->out_off == p->out.size) {
    msgpack_sbuffer_clear(&p->out);
    p->out_off = p->out_full = 0;
  } else if (p->out_off >= PIPE_FLUSH_BYTES * 4) { /* keep the unsent tail at the front */
    memmove(p->out.data, p->out.data + p->out_off, p->out.size - p->out_off);
    p->out.size -= p->out_off;
    p->out_full = p->out_full > p->out_off ? p->out_full - p->out_off : 0;
    p->out_off = 0;
  }
  return 0;
}

int pipe_flush(pipe_conn_t *p) { return flush_out(p, 1); }

int pipe_flush_some(pipe_conn_t *p) {
  if (p->out.size - p->out_off < PIPE_FLUSH_BYTES || p->out.size - p->out_full < PIPE_FLUSH_BYTES)
    return 0;
  return flush_out(p, 0);
}

static int reply_from(pipe_conn_t *p, pipe_reply_t *r) {
  const msgpack_object *o = &p->msg.data;
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4 ||
      o->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
      o->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    return 0; /* a notification or something else: skip it */
  if (o->via.array.ptr[0].via.u64 != 1) return 0;
  r->msgid = (uint32_t)o->via.array.ptr[1].via.u64;
  r->error = o->via.array.ptr[2].type == MSGPACK_OBJECT_NIL ? NULL : &o->via.array.ptr[2];
  r->result = &o->via.array.ptr[3];
  return 1;
}

int pipe_recv(pipe_conn_t *p, pipe_reply_t *r, int block) {
  if (block && p->out.size && pipe_flush(p) != 0) return -1;
  for (;;) {
    int u = msgpack_unpacker_next(&p->in, &p->msg);
    if (u == MSGPACK_UNPACK_SUCCESS) {
      if (reply_from(p, r)) return 1;
      continue;
    }
    if (u < 0) {
      snprintf(p->err, sizeof p->err, "malformed reply from the daemon");
      return -1;
    }
    if (!msgpack_unpacker_reserve_buffer(&p->in, 1 << 16)) {
      snprintf(p->err, sizeof p->err, "out of memory");
      return -1;
    }
    ssize_t n = recv(p->fd, msgpack_unpacker_buffer(&p->in),
                     msgpack_unpacker_buffer_capacity(&p->in), MSG_DONTWAIT);
    if (n > 0) {
      msgpack_unpacker_buffer_consumed(&p->in, (size_t)n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!block) return 0;
      if (wait_for(p, POLLIN) != 0) return -1;
    } else {
      snprintf(p->err, sizeof p->err, "%s", n == 0 ? "the daemon closed the connection"
                                                   : strerror(errno));
      return -1;
    }
  }
}

void pipe_copy_str(char *dst, size_t cap, const msgpack_object *o) {
  dst[0] = '\0';
  if (!o || o->type != MSGPACK_OBJECT_STR || cap == 0) return;
  size_t n = o->via.str.size < cap - 1 ? o->via.str.size : cap - 1;
  memcpy(dst, o->via.str.ptr, n);
  dst[n] = '\0';
}

const msgpack_object *pipe_map_get(const msgpack_object *m, const char *key) {
  if (!m || m->type != MSGPACK_OBJECT_MAP) return NULL;
  size_t kl = strlen(key);
  for (uint32_t i = 0; i < m->via.map.size; i++) {
    const msgpack_object *k = &m->via.map.ptr[i].key;
    if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl && !memcmp(k->via.str.ptr, key, kl))
      return &m->via.map.ptr[i].val;
  }
  return NULL;
}
