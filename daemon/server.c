/* server.c -- listeners, connections and dispatch on the libuv loop thread.
 * Bytes -> guard (limits) -> msgpack-c unpacker (or mpdecode for the complete requests run on
 * the loop: fast_next) -> rpc_parse -> method table -> decode -> handler. The guard scans
 * lazily: a whole request at the start of the unscanned bytes whose method runs on the loop
 * is checked against the limits and decoded in one walk (fused_next, mpdecode.h); anything
 * else is scanned by the guard before msgpack-c reads it. Then the
 * handler (reads: here, on a read snapshot; writes: queued to the writer) -> encode into the
 * connection's output buffer -> one write per read batch, issued after every connection that
 * was readable in this loop iteration has been read and executed (as redis does before it
 * sleeps: the client is woken once for the batch, not once per connection). On the TLS listener (tls.h) the
 * bytes read are ciphertext, decrypted into the unpacker first (tls_on_read), and the output
 * buffer is sealed into records on its way out (conn_flush); everything else is the same.
 * Invariants: reads on a connection are answered in arrival order; writes are answered after
 * their commit (msgid lets clients match); a connection's memory is freed only when its
 * handle is closed and no write is in flight for it; every limit violation is confined to
 * its connection.
 * Memory bounds: a connection stops executing its pipelined requests once its pending output
 * reaches limits.max_output_bytes (the rest of its input waits in the unpacker, unexecuted,
 * until the output drains); its input buffer shrinks back after a large message; output that
 * does not move for limits.write_timeout_ms closes it; all connections' buffers together stay
 * under limits.max_buffer_memory_mb by closing the largest first. A connection that failed a
 * limit is closed only after everything it had already executed (committed writes included)
 * is answered and flushed.
 * Fairness: one read executes at most TURN_REQUESTS requests / TURN_OUTPUT_BYTES of answers of
 * a connection; the rest of its pipeline runs in later loop iterations (on_turns), after the
 * other connections' I/O, so a deep pipeline delays another client by one turn, not all of it;
 * likewise at most ACCEPT_BURST accepts run per iteration. */
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/readcache.h"
#include "contract.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "mpdecode.h"
#include "rpc.h"
#include "tls.h"

#define READ_CHUNK (64 * 1024)
/* A new input buffer: a read's READ_CHUNK bytes after msgpack-c's reference count at its
 * front, so the first read needs no larger buffer (a READ_CHUNK buffer was reallocated to
 * twice its size, 64 KiB copied, on every connection's first read). */
#define INPUT_BUFFER_BYTES (READ_CHUNK + sizeof(_msgpack_atomic_counter_t))
/* An input buffer grown past this by a large message is given back once it is idle. */
#define INPUT_SHRINK_BYTES (4 * READ_CHUNK)
/* One connection's turn: at most this many requests, bytes of answers or nanoseconds, then
 * the rest of its pipeline waits for a later loop iteration, after the other connections'
 * I/O; the turns of all connections together take at most TURNS_NS_PER_ITERATION per loop
 * iteration (the rest keep their place in the queue), so a client with one request waits
 * for at most that, whatever the pipelines of the others. */
#define TURN_REQUESTS 64
#define TURN_OUTPUT_BYTES (64 * 1024)
#define TURN_NS 100000
#define TURNS_NS_PER_ITERATION 500000

/* ---------- connection lifetime ---------- */

static void conn_unref(conn_t *c) {
  if (--c->refs > 0) return;
  if (!c->up_gone) msgpack_unpacker_destroy(&c->up);
  msgpack_sbuffer_destroy(&c->out);
  tls_conn_free(c->tls);
  free(c);
}

static void on_conn_closed(uv_handle_t *h) { conn_unref(h->data); }
/* For a connection refused before its buffers were set up. */
static void on_refused_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  tls_conn_free(c->tls);
  free(c);
}

/* Read and drop what the peer sent that was not read: closing a TCP socket with unread
 * bytes sends a reset, which can destroy the TLS alert just sent before the peer reads it
 * (a refused client would see "connection reset" instead of "certificate required"). */
static void discard_unread(conn_t *c) {
  uv_os_fd_t fd;
  char buf[4096];
  if (uv_fileno((uv_handle_t *)&c->pipe, &fd)) return;
  for (int i = 0; i < 16 && recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0; i++) {
  }
}

static void conn_close(conn_t *c) {
  CONTRACT_THREAD(THREAD_LOOP);
  if (c->state == CONN_CLOSED) return;
  daemon_t *d = c->d;
  if (c->tls) discard_unread(c);
  CONTRACT_CONN_TRANSITION(c->state, CONN_CLOSED);
  c->state = CONN_CLOSED;
  if (c->prev) c->prev->next = c->next;
  else d->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  d->nconns--;
  if (c->admin) d->nconns_admin--;
  uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_execute(conn_t *c, int flush_now);

static void conn_pause(conn_t *c) {
  if (c->state != CONN_READING) return;
  uv_read_stop((uv_stream_t *)&c->pipe);
  CONTRACT_CONN_TRANSITION(c->state, CONN_PAUSED);
  c->state = CONN_PAUSED;
}

/* A failed connection closes once nothing it executed is still owed to it. */
static int conn_drained(const conn_t *c) {
  return c->state == CONN_DRAINING && c->out_queued == 0 && c->inflight == 0 && c->out.size == 0;
}

static void conn_maybe_resume(conn_t *c) {
  if (c->state != CONN_PAUSED || c->d->stopping) return;
  if (c->out_queued > c->d->cfg.max_output_bytes / 2) return;
  if (c->inflight >= c->d->cfg.max_inflight_writes) return;
  if (c->backlog) {
    conn_execute(c, 1); /* the requests already read come first */
    if (c->state != CONN_PAUSED || c->backlog) return;
  }
  CONTRACT_CONN_TRANSITION(c->state, CONN_READING);
  c->state = CONN_READING;
  if (c->partial_since_ms) c->partial_since_ms = uv_now(c->d->loop); /* its clock restarts */
  uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* ---------- output ---------- */

typedef struct wbuf_s {
  uv_write_t req;
  conn_t *conn;
  size_t len;
  char data[];
} wbuf_t;

static void on_written(uv_write_t *req, int status) {
  wbuf_t *wb = (wbuf_t *)req;
  conn_t *c = wb->conn;
  c->out_queued -= wb->len;
  c->out_moved_ms = uv_now(c->d->loop);
  free(wb);
  if (status < 0) {
    conn_close(c);
  } else if (conn_drained(c)) {
    conn_close(c);
  } else {
    conn_maybe_resume(c);
  }
  conn_unref(c);
}

/* Hand everything in c->out to the socket: try_write first, queue the rest. Over TLS what
 * goes out is c->out sealed into records, with any handshake message or alert before it. */
static void conn_flush(conn_t *c) {
  if (c->state == CONN_CLOSED || (c->out.size == 0 && !(c->tls && tls_conn_has_output(c->tls)))) {
    c->out.size = 0;
    if (conn_drained(c)) conn_close(c);
    return;
  }
  char *data = c->out.data;
  size_t len = c->out.size, off = 0;
  if (c->tls) {
    const char *sealed;
    if (tls_conn_seal(c->tls, c->out.data, c->out.size, &sealed, &len)) {
      c->out.size = 0;
      conn_close(c);
      return;
    }
    data = (char *)sealed;
  }
  c->d->c.bytes_out += len;
  if (c->out_queued == 0 && len) {
    uv_buf_t b = uv_buf_init(data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->pipe, &b, 1);
    if (n > 0) off = (size_t)n;
    else if (n != UV_EAGAIN && n != UV_ENOSYS) {
      c->out.size = 0;
      conn_close(c);
      return;
    }
  }
  if (off < len) {
    size_t rest = len - off;
    wbuf_t *wb = malloc(sizeof *wb + rest);
    if (!wb) {
      c->out.size = 0;
      conn_close(c);
      return;
    }
    memcpy(wb->data, data + off, rest);
    wb->conn = c;
    wb->len = rest;
    uv_buf_t b = uv_buf_init(wb->data, (unsigned)rest);
    if (uv_write(&wb->req, (uv_stream_t *)&c->pipe, &b, 1, on_written)) {
      free(wb);
      c->out.size = 0;
      conn_close(c);
      return;
    }
    c->refs++;
    if (c->out_queued == 0) c->out_moved_ms = uv_now(c->d->loop);
    c->out_queued += rest;
    if (c->out_queued > c->d->cfg.max_output_bytes) conn_pause(c);
  }
  c->out.size = 0;
  if (c->out.alloc > INPUT_SHRINK_BYTES) { /* a large answer went out: give its buffer back */
    free(c->out.data);
    c->out.data = NULL;
    c->out.alloc = 0;
  }
  if (conn_drained(c)) conn_close(c);
}

/* The answers of a read go out at the end of the loop's I/O phase (on_flush_check), with the
 * other connections' read in the same phase. Nothing to send: done at once. */
static void on_flush_check(uv_check_t *h) {
  daemon_t *d = h->data;
  conn_t *list = d->flush_head;
  d->flush_head = NULL;
  uv_check_stop(h);
  while (list) {
    conn_t *c = list;
    list = c->flush_next;
    c->flush_next = NULL;
    c->in_flush = 0;
    conn_flush(c);
    conn_unref(c);
  }
}

static void conn_flush_later(conn_t *c) {
  daemon_t *d = c->d;
  if (c->out.size == 0 || c->state == CONN_CLOSED || c->tls) {
    conn_flush(c);
    return;
  }
  if (c->in_flush) return;
  c->in_flush = 1;
  c->refs++;
  if (!d->flush_head) uv_check_start(&d->flush_check, on_flush_check);
  c->flush_next = d->flush_head;
  d->flush_head = c;
}

static void reply_error(conn_t *c, uint32_t msgid, const perr_info_t *e) {
  rpc_pack_error(&c->pk, msgid, e);
}

/* A violation that leaves the stream unusable: answer if we can, then close. */
static void conn_fail(conn_t *c, int has_msgid, uint32_t msgid, int code, const char *msg) {
  perr_info_t e;
  perr_set(&e, code, NULL, "%s", msg);
  c->d->c.protocol_errors++;
  if (log_limit_allow(&c->d->close_log, LOG_LVL_INFO, uv_now(c->d->loop)))
    log_info("closing a connection: %s", msg);
  if (has_msgid) reply_error(c, msgid, &e);
  uv_read_stop((uv_stream_t *)&c->pipe);
  CONTRACT_CONN_TRANSITION(c->state, CONN_DRAINING);
  c->state = CONN_DRAINING;
}

/* ---------- dispatch ---------- */

/* answered: an error answer goes out (notifications get none). */
static void count_error(daemon_t *d, int mi, int code, int answered) {
  d->c.errors++;
  if (mi >= 0) d->c.by_method[mi].errors++;
  metrics_error(d, mi, code, answered);
}

/* A write (to the writer) or a slow read (to the worker). */
static void dispatch_job(conn_t *c, const rpc_msg_t *m, int mi, uint64_t start_ns) {
  daemon_t *d = c->d;
  const method_desc_t *md = &method_table[mi];
  int write = md->thread == RUN_ON_WRITER; /* else the worker */
  perr_info_t e;
  wjob_t *j = job_new(mi, (size_t)d->cfg.max_message_bytes * 4 + (write ? 65536 : 64u << 20));
  if (!j) {
    perr_set(&e, PERR_UNAVAILABLE, NULL, "out of memory");
    goto fail;
  }
  if (md->decode(m->params, &j->arena, j->params, &e)) goto fail;
  j->conn = c;
  j->reply = m->type == RPC_REQUEST;
  j->msgid = m->msgid;
  j->start_ns = start_ns;
  j->zone = msgpack_unpacker_release_zone(&c->up); /* the job keeps the strings alive */
  if (jobq_submit(write ? d->writer : d->worker, j)) {
    perr_set(&e, PERR_UNAVAILABLE, NULL, "%s queue full; retry later", write ? "write" : "work");
    goto fail;
  }
  c->refs++;
  if (++c->inflight >= d->cfg.max_inflight_writes) conn_pause(c);
  return;
fail:
  count_error(d, mi, e.code, m->type == RPC_REQUEST);
  if (m->type == RPC_REQUEST) reply_error(c, m->msgid, &e);
  if (j) job_free(j);
  metrics_latency(d, mi, uv_hrtime() - start_ns);
}

/* The qcache key of a request's params: an injective flat encoding of the object (a type
 * byte, then fixed-width numbers, or a length and the bytes, or a count and the elements),
 * written with one copy per node instead of msgpack_pack_object's callback per token. */
static void qk_put(msgpack_sbuffer *sb, const void *p, size_t n) {
  if (sb->alloc - sb->size >= n) {
    memcpy(sb->data + sb->size, p, n);
    sb->size += n;
  } else {
    msgpack_sbuffer_write(sb, p, n);
  }
}

static void qk_head(msgpack_sbuffer *sb, unsigned char type, uint64_t v) {
  unsigned char h[9] = {type};
  memcpy(h + 1, &v, 8);
  qk_put(sb, h, sizeof h);
}

static void qk_object(msgpack_sbuffer *sb, const msgpack_object *o) {
  switch (o->type) {
    case MSGPACK_OBJECT_STR:
      qk_head(sb, (unsigned char)o->type, o->via.str.size);
      qk_put(sb, o->via.str.ptr, o->via.str.size);
      return;
    case MSGPACK_OBJECT_BIN:
      qk_head(sb, (unsigned char)o->type, o->via.bin.size);
      qk_put(sb, o->via.bin.ptr, o->via.bin.size);
      return;
    case MSGPACK_OBJECT_EXT:
      qk_head(sb, (unsigned char)o->type, (uint64_t)o->via.ext.size << 8 | (uint8_t)o->via.ext.type);
      qk_put(sb, o->via.ext.ptr, o->via.ext.size);
      return;
    case MSGPACK_OBJECT_ARRAY:
      qk_head(sb, (unsigned char)o->type, o->via.array.size);
      for (uint32_t i = 0; i < o->via.array.size; i++) qk_object(sb, &o->via.array.ptr[i]);
      return;
    case MSGPACK_OBJECT_MAP:
      qk_head(sb, (unsigned char)o->type, o->via.map.size);
      for (uint32_t i = 0; i < o->via.map.size; i++) {
        qk_object(sb, &o->via.map.ptr[i].key);
        qk_object(sb, &o->via.map.ptr[i].val);
      }
      return;
    case MSGPACK_OBJECT_BOOLEAN: qk_head(sb, (unsigned char)o->type, o->via.boolean); return;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: qk_head(sb, (unsigned char)o->type, o->via.u64); return;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
      qk_head(sb, (unsigned char)o->type, (uint64_t)o->via.i64);
      return;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: {
      uint64_t bits;
      memcpy(&bits, &o->via.f64, 8);
      qk_head(sb, MSGPACK_OBJECT_FLOAT64, bits); /* float32 arrives widened: same key */
      return;
    }
    default: qk_head(sb, (unsigned char)o->type, 0); return;
  }
}

/* A loop-thread request's params and result, in one allocation from the read arena (reset
 * first): the params; the result follows at params + read_params_room(md). NULL: no memory. */
static size_t read_params_room(const method_desc_t *md) {
  return (md->params_size + 15) & ~(size_t)15; /* the arena's alignment */
}
static void *read_frame(daemon_t *d, const method_desc_t *md) {
  arena_reset(&d->read_arena);
  return arena_alloc(&d->read_arena, read_params_room(md) + md->result_size);
}

/* start_ns: when the request started (uv_hrtime()). decoded: the params already decoded
 * from the bytes by the method's raw decoder into read_frame's params (fused_next), or NULL
 * (m->params is decoded here). A raw-decoded request has no params object (m->params NULL),
 * so it is never one whose answer is cached: fused_next takes the raw path only where no
 * cache key is made (the cache column NOCACHE, a notification, cache.read_cache_mb = 0). */
static void dispatch_read(conn_t *c, const rpc_msg_t *m, int mi, uint64_t start_ns,
                          void *decoded) {
  daemon_t *d = c->d;
  const method_desc_t *md = &method_table[mi];
  perr_info_t e;
  arena_t *a = &d->read_arena;
  void *params = decoded ? decoded : read_frame(d, md);
  void *result = params ? (char *)params + read_params_room(md) : NULL;
  int rc;
  exec_ctx_t x = {.d = d, .conn = c, .store = d->store, .arena = a};
  rcache_t *cache = NULL; /* where the answer is cached, under key */
  pstr_t key = {NULL, 0};
  if (!params || !result) rc = perr_set(&e, PERR_UNAVAILABLE, NULL, "out of memory");
  else if (decoded || !(rc = md->decode(m->params, a, params, &e))) {
    if (m->type != RPC_REQUEST || d->cfg.read_cache_mb == 0) {
      /* no answer cache (cache.read_cache_mb = 0): no key to pack, nothing to look up */
    } else if (md->cache_key) { /* cached by id (methods.def) */
      cache = d->rcache;
      key = md->cache_key(params);
    } else if (md->cache == CACHE_QUERY) {
      cache = d->qcache;
      d->qkey.size = 0;
      if (m->params) qk_object(&d->qkey, m->params);
      key.p = d->qkey.data;
      key.n = d->qkey.size;
    }
    const char *bytes;
    size_t n;
    if (cache && rcache_get(cache, mi, key.p, key.n, uv_now(d->loop), &bytes, &n)) {
      rpc_put_result_head(&c->out, m->msgid);
      msgpack_sbuffer_write(&c->out, bytes, n);
      return;
    }
    exec_clock_at(&x, start_ns);
    rc = handler_table[mi](&x, params, result, &e);
  }
  if (rc) {
    count_error(d, mi, rc, m->type == RPC_REQUEST);
    if (m->type == RPC_REQUEST) reply_error(c, m->msgid, &e);
  } else if (m->type == RPC_REQUEST) {
    rpc_put_result_head(&c->out, m->msgid);
    size_t start = c->out.size;
    md->encode(&c->pk, result);
    if (cache)
      rcache_put(cache, mi, key.p ? key.p : "", key.n, c->out.data + start, c->out.size - start,
                 uv_now(d->loop));
  }
  if (x.txn) store_abort(x.txn);
}

/* After a committed write: drop the cached answers it may have changed. The policy is the
 * table's (methods.def): a cached method's answers are dropped when the write's data column
 * meets the cached method's; by the ids the write's affects function names (all of that kind
 * when it cannot say), or all of them for answers cached by query. */
static void rcache_after_write(daemon_t *d, const wjob_t *j) {
  const method_desc_t *w = &method_table[j->method];
  int bumped = 0;
  if (!d->rcache || j->rc) return;
  for (int r = 0; r < METHOD__COUNT; r++) {
    const method_desc_t *rd = &method_table[r];
    if (rd->cache == CACHE_NONE || !(rd->data & w->data)) continue;
    if (rd->cache == CACHE_QUERY) {
      if (!bumped++) rcache_bump(d->qcache);
      continue;
    }
    pstr_t ids[METHOD_AFFECTS_MAX];
    int n = w->affects ? w->affects(j->params, j->result, rd->cache, ids) : -1;
    if (n < 0) rcache_clear(d->rcache);
    for (int i = 0; i < n; i++) rcache_del(d->rcache, r, ids[i].p, ids[i].n);
  }
}

/* method_lookup, remembering the last method found on this thread: a pipeline or a
 * connection mostly repeats one method, and one compare of the name confirms it. */
static int lookup_method(const char *name, size_t len) {
  static _Thread_local int last = -1;
  if (last >= 0 && method_table[last].name_len == len && !memcmp(method_table[last].name, name, len))
    return last;
  int mi = method_lookup(name, len);
  if (mi >= 0) last = mi;
  return mi;
}

/* A parsed message m of method mi (-1: look it up). *clock_ns: uv_hrtime() just before (the
 * request's start), and on return its end when the request ran here (the next request's
 * start: one clock read per request), else 0 (the next one reads the clock). decoded: the
 * params a raw decoder read (dispatch_read), or NULL. */
static void dispatch_msg(conn_t *c, const rpc_msg_t *m, int mi, uint64_t *clock_ns,
                         void *decoded) {
  daemon_t *d = c->d;
  perr_info_t e;
  uint64_t start_ns = *clock_ns;
  *clock_ns = 0;
  if (mi < 0) mi = lookup_method(m->method, m->method_len);
  if (mi < 0) {
    count_error(d, -1, PERR_UNKNOWN_METHOD, m->type == RPC_REQUEST);
    if (m->type == RPC_REQUEST) {
      perr_set(&e, PERR_UNKNOWN_METHOD, NULL, "unknown method '%.*s'", (int)m->method_len, m->method);
      reply_error(c, m->msgid, &e);
    }
    return;
  }
  d->c.by_method[mi].calls++;
  if ((method_table[mi].flags & M_ADMIN) && !c->admin &&
      !(c->tls && tls_conn_subject_allowed(c->tls, d->cfg.tls_admin_subjects))) {
    count_error(d, mi, PERR_FORBIDDEN, m->type == RPC_REQUEST);
    if (m->type == RPC_REQUEST) {
      perr_set(&e, PERR_FORBIDDEN, NULL, "%s is an admin method: use the admin socket%s",
               method_table[mi].name,
               c->tls ? ", or a client certificate whose subject is in tls.admin_subjects" : "");
      reply_error(c, m->msgid, &e);
    }
    return;
  }
  if (method_table[mi].thread != RUN_ON_LOOP) {
    dispatch_job(c, m, mi, start_ns); /* its latency is taken when it comes back */
  } else {
    dispatch_read(c, m, mi, start_ns, decoded);
    *clock_ns = uv_hrtime();
    metrics_latency(d, mi, *clock_ns - start_ns);
  }
}

/* The message in c->msg. mi_hint: the method's index when the caller already looked it up
 * (fast_next), else -1. */
static void dispatch(conn_t *c, int mi_hint, uint64_t *clock_ns) {
  CONTRACT_THREAD(THREAD_LOOP);
  daemon_t *d = c->d;
  rpc_msg_t m;
  perr_info_t e;
  d->c.requests++;
  if (rpc_parse(&c->msg, &m, &e)) {
    d->c.protocol_errors++;
    count_error(d, -1, e.code, m.has_msgid);
    if (m.has_msgid) reply_error(c, m.msgid, &e);
    *clock_ns = 0;
    return;
  }
  dispatch_msg(c, &m, mi_hint, clock_ns, NULL);
}

/* ---------- reading ---------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn_t *c = h->data;
  (void)suggested;
  if (c->tls) { /* ciphertext: handed to the session at once (tls_on_read) */
    size_t n;
    buf->base = tls_server_rx_buffer(c->d->tls, &n);
    buf->len = n;
    return;
  }
  if (!msgpack_unpacker_reserve_buffer(&c->up, READ_CHUNK)) {
    buf->base = NULL;
    buf->len = 0;
    return;
  }
  buf->base = msgpack_unpacker_buffer(&c->up);
  size_t cap = msgpack_unpacker_buffer_capacity(&c->up);
  buf->len = cap;
}

/* Bytes held for a connection: its input buffer, unsent and queued output. */
static size_t conn_memory(const conn_t *c) {
  return c->up.used + c->up.free + c->out.alloc + c->out_queued +
         (c->tls ? tls_conn_memory(c->tls) : 0);
}

/* Keep all connections' buffers under limits.max_buffer_memory_mb: close the connections
 * holding the most first. Returns the number closed. */
static int enforce_memory_budget(daemon_t *d) {
  size_t budget = (size_t)d->cfg.max_buffer_memory_mb << 20, total = 0;
  for (conn_t *c = d->conns; c; c = c->next) total += conn_memory(c);
  int closed = 0;
  while (total > budget) {
    conn_t *worst = NULL;
    for (conn_t *c = d->conns; c; c = c->next)
      if (!worst || conn_memory(c) > conn_memory(worst)) worst = c;
    if (!worst) break;
    total -= conn_memory(worst);
    d->c.conns_closed_memory++;
    d->c.conns_closed_limit++;
    conn_close(worst);
    closed++;
  }
  if (closed)
    log_warn("connection buffers over limits.max_buffer_memory_mb (%llu MiB): closed the %d "
             "largest connection(s)", (unsigned long long)d->cfg.max_buffer_memory_mb, closed);
  return closed;
}

/* Give back an input buffer a large message grew, once no input is pending in it. The zones
 * handed to write jobs hold their own reference to the old buffer (msgpack-c refcounts it).
 * The unpacker is re-initialised in place: it points into itself (its context keeps the
 * address of its zone pointer), so it must never be copied. */
static void conn_shrink_input(conn_t *c) {
  if (c->up.used + c->up.free <= INPUT_SHRINK_BYTES || !guard_idle(&c->guard)) return;
  if (msgpack_unpacker_message_size(&c->up) || c->up.used != c->up.off) return;
  msgpack_unpacker_destroy(&c->up);
  if (!msgpack_unpacker_init(&c->up, INPUT_BUFFER_BYTES)) { /* out of memory: give up this client */
    c->up_gone = 1;
    conn_close(c);
  }
}

/* Connections whose turn ended with requests left run again here, once per loop iteration
 * (an active idle handle also keeps the loop's poll from blocking meanwhile). */
static void on_turns(uv_idle_t *h) {
  daemon_t *d = h->data;
  conn_t *list = d->turn_head;
  d->turn_head = d->turn_tail = NULL;
  uv_idle_stop(h);
  uint64_t start = uv_hrtime();
  while (list) {
    if (uv_hrtime() - start >= TURNS_NS_PER_ITERATION) { /* the rest go first next time */
      conn_t *last = list;
      while (last->turn_next) last = last->turn_next;
      last->turn_next = d->turn_head;
      if (!d->turn_head) d->turn_tail = last;
      d->turn_head = list;
      uv_idle_start(h, on_turns);
      return;
    }
    conn_t *c = list;
    list = c->turn_next;
    c->turn_next = NULL;
    c->in_turns = 0;
    if (c->state == CONN_PAUSED && c->backlog) conn_maybe_resume(c);
    conn_unref(c);
  }
}

static void conn_queue_turn(conn_t *c) {
  daemon_t *d = c->d;
  if (c->in_turns) return;
  c->in_turns = 1;
  c->refs++;
  if (d->turn_tail) d->turn_tail->turn_next = c;
  else d->turn_head = c;
  d->turn_tail = c;
  uv_idle_start(&d->turns, on_turns);
}

/* Execute the complete messages in the unpacker, in order, while the connection's pending
 * output is under limits.max_output_bytes and its writes in flight under their limit. What is
 * left stays in the unpacker (c->backlog) and runs when the output drains (conn_maybe_resume);
 * reading stays stopped meanwhile. A guard violation noted by on_read is acted on only after
 * everything before it was executed. */
static void conn_queue_turn(conn_t *c);

/* The deferred input (guard.h) scanned by the guard now: what follows the last whole message
 * before a violation is dropped from the unpacker's input, the violation noted for
 * conn_execute (acted on after the messages before it) and reading stopped. Returns -1 after
 * a violation. */
static int conn_scan_deferred(conn_t *c) {
  size_t n = (size_t)c->guard.deferred, good_end;
  if (!n) return c->guard.status == GUARD_OK ? 0 : -1;
  const uint8_t *p = (const uint8_t *)c->up.buffer + c->up.used - n;
  guard_status_t gs = guard_feed_deferred(&c->guard, p, &good_end);
  if (gs == GUARD_OK) return 0;
  c->up.used -= n - good_end; /* (the reverse of msgpack_unpacker_buffer_consumed) */
  c->up.free += n - good_end;
  uv_read_stop((uv_stream_t *)&c->pipe);
  c->fail_status = gs;
  c->fail_has_msgid = c->guard.msgid >= 0 && c->guard.msg_type == RPC_REQUEST;
  c->fail_msgid = c->fail_has_msgid ? (uint32_t)c->guard.msgid : 0;
  return -1;
}

/* The guard's view after the input was scanned: the read timeout runs while a partial
 * message is pending. */
static void conn_note_partial(conn_t *c) {
  if (!guard_idle(&c->guard)) {
    if (!c->partial_since_ms) c->partial_since_ms = c->last_active_ms;
  } else {
    c->partial_since_ms = 0;
  }
}

/* The unpacker's zone, made now when it has none (msgpack-c makes it lazily, at its first
 * container, through the same pointer; a write job took the last one). NULL: no memory. */
static msgpack_zone *conn_zone(conn_t *c) {
  if (!c->up.z) c->up.z = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
  return c->up.z;
}

/* The one-walk path (mpdecode.h): the next message, not yet scanned by the guard, wholly in
 * the buffer and run on the loop, decoded while its limits are checked, parsed into *m (its
 * params map in c->msg). A method with a raw decoder (methods.def's raw column) whose
 * answer is not cached has its params read straight from the bytes instead, into
 * read_frame's params (*decoded; else *decoded = NULL): when it declines, the object is
 * decoded as for any method. Either way the strings point into the input buffer, which does
 * not move before the request is answered on the loop. Returns the method's index (the
 * unpacker and the guard moved past the message), or -1: the guard scans the input and the
 * paths below decode it. */
static int fused_next(conn_t *c, rpc_msg_t *m, void **decoded) {
  msgpack_unpacker *up = &c->up;
  size_t n = up->used - up->off;
  if (c->guard.deferred != n || !guard_idle(&c->guard)) return -1;
  const uint8_t *p = (const uint8_t *)up->buffer + up->off;
  size_t at = mpdecode_request_head(p, n, m);
  if (!at) return -1;
  int mi = lookup_method(m->method, m->method_len);
  if (mi < 0 || method_table[mi].thread != RUN_ON_LOOP) return -1;
  const method_desc_t *md = &method_table[mi];
  long k = 0;
  *decoded = NULL;
  if (md->decode_raw &&
      (md->cache == CACHE_NONE || m->type != RPC_REQUEST || c->d->cfg.read_cache_mb == 0)) {
    void *params = read_frame(c->d, md);
    if (params && (k = mpdecode_request_raw(p, n, at, &c->guard.lim, md->decode_raw,
                                            &c->d->read_arena, params, m)) > 0)
      *decoded = params;
  }
  if (k <= 0 && (!conn_zone(c) ||
                 (k = mpdecode_request_params(p, n, at, &c->guard.lim, up->z, &c->msg, m)) <= 0))
    return -1;
  up->off += (size_t)k;
  guard_take(&c->guard, (size_t)k);
  return mi;
}

/* The next message decoded by mpdecode (a fraction of msgpack-c's cost) when msgpack-c holds
 * no partial state, the message is wholly in the buffer and its method runs on the loop. Its
 * strings point into the input buffer like msgpack-c's, and it is answered before the buffer
 * can move; a write job keeps its message past that and needs msgpack-c's reference on the
 * buffer, so jobs' messages go to msgpack-c. Returns the method's index (c->msg set, the
 * unpacker moved past the message), or -1: msgpack-c decodes it. */
static int fast_next(conn_t *c) {
  msgpack_unpacker *up = &c->up;
  const char *name;
  size_t len;
  if (up->parsed || up->used <= up->off) return -1;
  const uint8_t *p = (const uint8_t *)up->buffer + up->off;
  size_t n = up->used - up->off;
  if (mpdecode_method(p, n, &name, &len)) return -1;
  int mi = lookup_method(name, len);
  if (mi < 0 || method_table[mi].thread != RUN_ON_LOOP || !conn_zone(c)) return -1;
  long k = mpdecode_object(p, n, up->z, &c->msg);
  if (k <= 0) return -1;
  up->off += (size_t)k;
  return mi;
}

/* flush_now = 0 (from on_read): the answers go out at the end of the I/O phase. */
static void conn_execute(conn_t *c, int flush_now) {
  daemon_t *d = c->d;
  c->backlog = 0;
  unsigned turn_requests = 0;
  uint64_t turn_out = d->c.bytes_out + c->out.size; /* answers produced so far */
  /* the clock: read before the first request (the turn's start) and at the end of each one
   * run here, which is the next one's start (dispatch_msg); 0 after one that went to a job */
  uint64_t clock_ns = 0, turn_start = 0;
  /* Decode with the unpacker's own zone (msgpack_unpacker_next would allocate a zone per
   * message): a write job takes the zone with it (msgpack_unpacker_release_zone); otherwise
   * the zone is cleared once no partial message is pending. */
  for (;;) {
    if (c->up.used == c->up.off) break; /* no input left (so none deferred): nothing to run */
    if (c->out.size + c->out_queued >= d->cfg.max_output_bytes && c->up.used > c->up.off) {
      conn_flush(c); /* the socket may take it at once: then go on */
      if (c->state == CONN_CLOSED) return;
    }
    if ((c->out_queued >= d->cfg.max_output_bytes || c->inflight >= d->cfg.max_inflight_writes) &&
        c->up.used > c->up.off) {
      c->backlog = 1; /* resumed by on_written or server_jobs_done */
      if (c->state == CONN_READING) conn_pause(c);
      return;
    }
    if (turn_requests && c->up.used > c->up.off &&
        (turn_requests >= TURN_REQUESTS ||
         d->c.bytes_out + c->out.size - turn_out >= TURN_OUTPUT_BYTES ||
         (clock_ns ? clock_ns : uv_hrtime()) - turn_start >= TURN_NS)) {
      c->backlog = 1; /* fairness: the next turn comes after everyone else's I/O */
      if (c->state == CONN_READING) conn_pause(c);
      conn_flush(c);
      if (c->state != CONN_CLOSED) conn_queue_turn(c);
      return;
    }
    turn_requests++;
    if (!clock_ns) clock_ns = uv_hrtime();
    if (!turn_start) turn_start = clock_ns;
    if (c->guard.deferred) { /* input not scanned yet: one walk, or the guard's */
      rpc_msg_t m;
      void *decoded;
      int fmi = fused_next(c, &m, &decoded);
      if (fmi >= 0) {
        d->c.requests++;
        dispatch_msg(c, &m, fmi, &clock_ns, decoded);
        if (c->state == CONN_CLOSED) return;
        if (c->out.size >= READ_CHUNK) conn_flush(c);
        if (c->state == CONN_CLOSED) return;
        continue;
      }
      conn_scan_deferred(c);
    }
    int mi = fast_next(c);
    int r = mi >= 0 ? 1 : c->up.used > c->up.off ? msgpack_unpacker_execute(&c->up) : 0;
    if (r > 0) {
      if (mi < 0) {
        c->msg = msgpack_unpacker_data(&c->up);
        msgpack_unpacker_reset(&c->up);
      }
      dispatch(c, mi, &clock_ns);
      if (c->state == CONN_CLOSED) return;
      if (c->out.size >= READ_CHUNK) conn_flush(c); /* bounded: one write per 64 KiB */
      if (c->state == CONN_CLOSED) return;
      continue;
    }
    if (r == 0) break;
    /* the guard admits only well-formed, bounded input: this is not expected */
    conn_fail(c, 0, 0, PERR_INVALID_REQUEST, "undecodable message");
    conn_flush(c);
    return;
  }
  /* (after a write took the zone, msgpack-c creates the next one lazily: z may be NULL) */
  if (c->up.z && guard_idle(&c->guard) && msgpack_unpacker_flush_zone(&c->up))
    msgpack_unpacker_reset_zone(&c->up);
  conn_shrink_input(c);
  if (c->state == CONN_CLOSED) return;
  conn_note_partial(c);
  if (c->fail_status != GUARD_OK) {
    guard_status_t gs = (guard_status_t)c->fail_status;
    c->fail_status = GUARD_OK;
    conn_fail(c, c->fail_has_msgid, c->fail_msgid,
              gs == GUARD_MALFORMED ? PERR_INVALID_REQUEST : PERR_TOO_LARGE, guard_status_str(gs));
    if (gs != GUARD_MALFORMED) d->c.conns_closed_limit++;
  }
  if (flush_now) conn_flush(c);
  else conn_flush_later(c);
}

/* n request bytes just put in the unpacker's buffer: handed to the unpacker unscanned (the
 * guard's deferred bytes), scanned by conn_execute before msgpack-c reads them, or by
 * fused_next's one walk. */
static void conn_take_input(conn_t *c, size_t n) {
  msgpack_unpacker_buffer_consumed(&c->up, n);
  guard_defer(&c->guard, n);
}

/* The TLS session failed (certificate refused, not TLS 1.3, not TLS at all) or the peer
 * closed it: send the alert OpenSSL wrote, then close once nothing is owed. */
static void tls_session_ended(conn_t *c) {
  daemon_t *d = c->d;
  const char *why = tls_conn_error(c->tls);
  if (!tls_conn_established(c->tls)) {
    d->c.tls_handshake_failures++;
    if (log_limit_allow(&d->close_log, LOG_LVL_INFO, uv_now(d->loop)))
      log_info("TLS handshake refused: %s", why);
  } else {
    log_debug("TLS connection ended: %s", why);
  }
  uv_read_stop((uv_stream_t *)&c->pipe);
  CONTRACT_CONN_TRANSITION(c->state, CONN_DRAINING);
  c->state = CONN_DRAINING;
  conn_flush(c);
}

/* Ciphertext from a TLS connection: every record it completes is decrypted into the
 * unpacker's buffer (at most one read's worth: reading stops while the connection is
 * paused), then executed as on a Unix socket. Until the handshake is done the read timeout
 * runs (partial_since_ms is set at accept), so a client that never finishes it is closed. */
static void tls_on_read(conn_t *c, const char *cipher, size_t n) {
  if (tls_conn_feed(c->tls, cipher, n)) {
    log_warn("out of memory reading a TLS record; closing the connection");
    conn_close(c);
    return;
  }
  for (;;) {
    if (!msgpack_unpacker_reserve_buffer(&c->up, READ_CHUNK)) {
      log_warn("out of memory reading a request; closing the connection");
      conn_close(c);
      return;
    }
    char *p = msgpack_unpacker_buffer(&c->up);
    ssize_t got = tls_conn_read(c->tls, p, msgpack_unpacker_buffer_capacity(&c->up));
    if (got < 0) {
      tls_session_ended(c);
      return;
    }
    if (got == 0) break;
    conn_take_input(c, (size_t)got);
    if (conn_scan_deferred(c)) break; /* scanned at once: a violation stops the reading */
    conn_note_partial(c);
  }
  if (!tls_conn_established(c->tls)) { /* the handshake goes on: send its messages */
    conn_flush(c);
    return;
  }
  if (guard_idle(&c->guard) && c->fail_status == GUARD_OK) c->partial_since_ms = 0;
  conn_execute(c, 1);
  if (c->state != CONN_CLOSED && tls_conn_has_output(c->tls)) conn_flush(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = s->data;
  daemon_t *d = c->d;
  if (nread < 0) {
    if (nread != UV_EOF) log_debug("read error: %s", uv_strerror((int)nread));
    if (nread == UV_ENOBUFS) log_warn("out of memory reading a request; closing the connection");
    conn_close(c);
    return;
  }
  if (nread == 0) return;
  d->c.bytes_in += (uint64_t)nread;
  c->last_active_ms = uv_now(d->loop);
  c->has_sent = 1;

  if (c->tls) {
    tls_on_read(c, buf->base, (size_t)nread);
  } else {
    conn_take_input(c, (size_t)nread);
    conn_execute(c, 0);
  }
  if (c->state != CONN_CLOSED && c->out_queued)
    enforce_memory_budget(d); /* output piling up: check the sum now, not at the next sweep */
}

/* ---------- accepting ---------- */

/* The peer's user id (SO_PEERCRED), -1 when unknown. */
static int64_t peer_uid(conn_t *c) {
  uv_os_fd_t fd;
  struct ucred cr;
  socklen_t len = sizeof cr;
  if (uv_fileno((uv_handle_t *)&c->pipe, &fd) || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len))
    return -1;
  return (int64_t)cr.uid;
}

/* The shop connection (of uid, or any when uid < 0) to evict for a newcomer, or NULL: among
 * those owed nothing (no write in flight, no output queued), one that never sent a byte if
 * any (a connect flood's), else the one idle the longest (the oldest on a tie: the list
 * runs newest first). */
static conn_t *longest_idle(daemon_t *d, int64_t uid, uint64_t *count) {
  conn_t *best = NULL;
  *count = 0;
  for (conn_t *c = d->conns; c; c = c->next) {
    if (c->admin || (uid >= 0 && c->uid != uid)) continue;
    ++*count;
    if (c->inflight || c->out_queued || c->backlog || c->state == CONN_DRAINING) continue;
    if (!best || c->has_sent < best->has_sent ||
        (c->has_sent == best->has_sent && c->last_active_ms <= best->last_active_ms))
      best = c;
  }
  return best;
}

/* Admission of a new connection on listener l: 0 = admit (after evicting the longest-idle
 * shop connection if the shop socket or the peer's uid is at its limit), -1 = refuse. The
 * admin socket has its own slots, so a flood on the shop socket never locks out the operator. */
static int admit(daemon_t *d, const listener_t *l, conn_t *nc) {
  if (d->stopping) return -1;
  if (l->admin) return d->nconns_admin < d->cfg.admin_connections ? 0 : -1;
  uint64_t n;
  if (d->cfg.max_connections_per_uid && nc->uid >= 0) {
    conn_t *victim = longest_idle(d, nc->uid, &n);
    if (n >= d->cfg.max_connections_per_uid) {
      if (!victim) return -1;
      d->c.conns_evicted_idle++;
      conn_close(victim);
    }
  }
  if (d->nconns - d->nconns_admin < d->cfg.max_connections) return 0;
  conn_t *victim = longest_idle(d, -1, &n);
  if (!victim) return -1;
  d->c.conns_evicted_idle++;
  if (log_limit_allow(&d->close_log, LOG_LVL_INFO, uv_now(d->loop)))
    log_info("closing a connection: idle %llu ms, its slot goes to a new connection",
             (unsigned long long)(uv_now(d->loop) - victim->last_active_ms));
  conn_close(victim);
  return 0;
}

/* libuv accepts in a loop while the backlog has connections: a connect flood would keep the
 * loop there, starving the clients already connected. After ACCEPT_BURST accepts, the next
 * one is left pending (libuv then stops watching the listener) and taken in the check phase,
 * after the other connections' I/O of this loop iteration. */
#define ACCEPT_BURST 32

static void accept_one(listener_t *l);

static void on_accept_check(uv_check_t *h) {
  daemon_t *d = h->data;
  uv_check_stop(h);
  for (int i = 0; i < DAEMON_LISTENERS; i++) {
    listener_t *l = &d->listeners[i];
    if (!l->deferred) continue;
    l->deferred = 0;
    if (l->active) accept_one(l); /* uv_accept watches the listener again */
  }
}

static void on_connection(uv_stream_t *server, int status) {
  listener_t *l = server->data;
  daemon_t *d = l->pipe.loop->data;
  if (status < 0) {
    log_warn("accept failed: %s", uv_strerror(status));
    return;
  }
  if (++l->accepts >= ACCEPT_BURST) {
    l->accepts = 0;
    l->deferred = 1;
    uv_check_start(&d->accept_check, on_accept_check);
    return;
  }
  accept_one(l);
}

static void accept_one(listener_t *l) {
  daemon_t *d = l->pipe.loop->data;
  uv_stream_t *server = (uv_stream_t *)&l->pipe;
  conn_t *c = calloc(1, sizeof *c);
  if (!c) { /* left pending (libuv stops watching the listener): retry after this iteration */
    l->deferred = 1;
    uv_check_start(&d->accept_check, on_accept_check);
    return;
  }
  if (l->tls) uv_tcp_init(d->loop, &c->tcp);
  else uv_pipe_init(d->loop, &c->pipe, 0);
  c->pipe.data = c;
  c->d = d;
  c->refs = 1;
  int refuse = uv_accept(server, (uv_stream_t *)&c->pipe) != 0;
  if (!refuse) c->uid = l->tls ? -1 : peer_uid(c);
  if (!refuse && admit(d, l, c)) {
    d->c.conns_rejected++;
    refuse = 1;
  }
  if (!refuse && l->tls && !(c->tls = tls_conn_new(d->tls))) refuse = 1;
  if (!refuse && !msgpack_unpacker_init(&c->up, INPUT_BUFFER_BYTES)) refuse = 1;
  if (refuse) {
    c->state = CONN_CLOSED;
    uv_close((uv_handle_t *)&c->pipe, on_refused_closed);
    return;
  }
  guard_limits_t lim = {(uint32_t)d->cfg.max_message_bytes, (uint32_t)d->cfg.max_depth,
                        (uint32_t)d->cfg.max_container_elems};
  guard_init(&c->guard, &lim);
  msgpack_sbuffer_init(&c->out);
  msgpack_packer_init(&c->pk, &c->out, msgpack_sbuffer_write);
  c->admin = l->admin;
  c->state = CONN_READING;
  c->last_active_ms = uv_now(d->loop);
  if (c->tls) {
    uv_tcp_nodelay(&c->tcp, 1);
    c->partial_since_ms = c->last_active_ms; /* the handshake is due within read_timeout_ms */
  }
  c->next = d->conns;
  if (d->conns) d->conns->prev = c;
  d->conns = c;
  d->nconns++;
  if (c->admin) d->nconns_admin++;
  d->c.conns_total++;
  uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* Refuse to start over a live daemon; remove a stale socket file; never remove a non-socket. */
static int clear_stale_socket(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
  if (!S_ISSOCK(st.st_mode)) {
    log_err("%s exists and is not a socket; refusing to remove it", path);
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
  int live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  close(fd);
  if (live) {
    log_err("another process is serving %s (is patrond already running?)", path);
    return -1;
  }
  log_notice("removing stale socket %s", path);
  return unlink(path);
}

int server_listen(daemon_t *d, listener_t *l, const char *path, unsigned mode, const char *group,
                  int admin) {
  struct sockaddr_un sa;
  if (strlen(path) >= sizeof sa.sun_path) {
    log_err("socket path %s is longer than %zu bytes", path, sizeof sa.sun_path - 1);
    return -1;
  }
  if (clear_stale_socket(path)) return -1;
  snprintf(l->path, sizeof l->path, "%s", path);
  l->admin = admin;
  if (mode & 0007)
    log_warn("%s socket mode %03o lets every local user connect%s: prefer 0660 and a group",
             admin ? "admin" : "shop", mode, admin ? " and run admin methods" : "");
  uv_pipe_init(d->loop, &l->pipe, 0);
  l->pipe.data = l;
  /* The mode is set on the socket before bind (Linux creates the file with the socket
   * inode's mode, less the umask), so no chmod by path follows a symlink swapped in after
   * bind; the group is set with lchown, which does not follow one either. */
  int rc = 0, bound = 0;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sa = (struct sockaddr_un){.sun_family = AF_UNIX};
  memcpy(sa.sun_path, path, strlen(path) + 1);
  if (fd < 0 || fchmod(fd, mode)) {
    rc = -1;
  } else {
    mode_t old = umask(~mode & 0777);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa)) rc = -1;
    else bound = 1;
    umask(old);
    if (rc) log_err("cannot bind %s: %s", path, strerror(errno));
  }
  if (rc == 0 && group[0]) {
    struct group *g = getgrnam(group);
    if (!g) {
      log_err("socket group '%s' does not exist", group);
      rc = -1;
    } else if (lchown(path, (uid_t)-1, g->gr_gid)) {
      log_err("cannot give %s to group %s: %s", path, group, strerror(errno));
      rc = -1;
    }
  }
  if (rc == 0) {
    rc = uv_pipe_open(&l->pipe, fd);
    if (rc == 0) fd = -1; /* the handle owns it */
  }
  if (fd >= 0) close(fd);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&l->pipe, (int)d->cfg.listen_backlog, on_connection);
  if (rc) {
    log_err("cannot listen on %s: %s", path, rc < 0 ? uv_strerror(rc) : "setup failed");
    uv_close((uv_handle_t *)&l->pipe, NULL);
    if (bound) unlink(path); /* never a file this call did not create */
    return -1;
  }
  l->active = 1;
  log_notice("listening on %s (%s, mode %03o)", path, admin ? "admin" : "shop", mode);
  return 0;
}

int server_listen_tls(daemon_t *d, listener_t *l) {
  char host[64];
  unsigned port = 0;
  struct sockaddr_storage sa;
  int rc = config_split_hostport(d->cfg.tls_listen, host, sizeof host, &port) ? UV_EINVAL : 0;
  if (!rc)
    rc = strchr(host, ':') ? uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&sa)
                           : uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&sa);
  snprintf(l->path, sizeof l->path, "%s", d->cfg.tls_listen);
  l->tls = 1;
  l->admin = 0;
  uv_tcp_init(d->loop, &l->tcp);
  l->tcp.data = l;
  if (!rc) rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&sa, 0);
  if (!rc) rc = uv_listen((uv_stream_t *)&l->tcp, (int)d->cfg.listen_backlog, on_connection);
  if (rc) {
    log_err("cannot listen on %s (tls.listen): %s", d->cfg.tls_listen, uv_strerror(rc));
    uv_close((uv_handle_t *)&l->tcp, NULL);
    return -1;
  }
  l->active = 1;
  char cert[700];
  tls_server_describe(d->tls, cert, sizeof cert);
  log_notice("listening on %s (TLS 1.3, client certificates of %s; server certificate %s)",
             d->cfg.tls_listen, d->cfg.tls_ca, cert);
  return 0;
}

void server_close_listeners(daemon_t *d) {
  for (int i = 0; i < DAEMON_LISTENERS; i++) {
    listener_t *l = &d->listeners[i];
    if (!l->active) continue;
    l->active = 0;
    uv_close((uv_handle_t *)&l->pipe, NULL);
    if (!l->tls) unlink(l->path);
  }
}

/* ---------- writes coming back ---------- */

/* Health follows the writes: a failed batch (every job of it gets unavailable) makes it
 * degraded with the reason; the next committed one makes it ok again. */
static void note_write_outcome(daemon_t *d, const wjob_t *j) {
  if (j->rc == PERR_UNAVAILABLE || j->rc == PERR_INTERNAL) {
    if (!d->write_fault[0]) log_warn("health degraded: writes fail: %s", j->err.message);
    snprintf(d->write_fault, sizeof d->write_fault, "%s", j->err.message);
    d->write_fault_ms = clock_mono_ms();
  } else if (d->write_fault[0]) {
    log_notice("health ok: writes commit again");
    d->write_fault[0] = 0;
  }
}

void server_jobs_done(daemon_t *d, wjob_t *jobs) {
  CONTRACT_THREAD(THREAD_LOOP);
  conn_t *touched = NULL;
  while (jobs) {
    wjob_t *j = jobs;
    jobs = j->next;
    conn_t *c = j->conn;
    if (j->on_loop) j->on_loop(d, j);
    if (method_table[j->method].flags & M_WRITE) {
      rcache_after_write(d, j);
      if (d->after_write) d->after_write(d, j);
      note_write_outcome(d, j);
    }
    if (!c) { /* internal job */
      if (j->rc) log_warn("%s failed: %s", method_table[j->method].name, j->err.message);
      job_free(j);
      continue;
    }
    if (j->rc) count_error(d, j->method, j->rc, c->state != CONN_CLOSED && j->reply);
    metrics_latency(d, j->method, uv_hrtime() - j->start_ns);
    if (c->state != CONN_CLOSED && j->reply) {
      if (j->rc) reply_error(c, j->msgid, &j->err);
      else {
        rpc_put_result_head(&c->out, j->msgid);
        method_table[j->method].encode(&c->pk, j->result);
      }
    }
    c->inflight--;
    job_free(j);
    if (c->state != CONN_CLOSED) {
      /* flush each connection once: group consecutive jobs, flush on change */
      if (touched && touched != c) conn_flush(touched);
      touched = c;
    }
    if (c->state == CONN_PAUSED) conn_maybe_resume(c);
    conn_unref(c);
  }
  if (touched && touched->state != CONN_CLOSED) conn_flush(touched);
}

void server_publish(daemon_t *d, const char *method,
                    void (*pack)(msgpack_packer *pk, const void *ctx, size_t i), const void *ctx,
                    size_t n, uint64_t *sent, uint64_t *dropped) {
  CONTRACT_THREAD(THREAD_LOOP);
  for (conn_t *c = d->conns; c; c = c->next) {
    if (!c->subscribed) continue;
    for (size_t i = 0; i < n; i++) {
      if (c->state == CONN_CLOSED || c->state == CONN_DRAINING ||
          c->out_queued + c->out.size > d->cfg.max_output_bytes) { /* not reading */
        *dropped += n - i;
        break;
      }
      rpc_pack_notification_head(&c->pk, method);
      pack(&c->pk, ctx, i);
      if (c->out.size >= READ_CHUNK) conn_flush(c); /* batches: one write per 64 KiB */
      (*sent)++;
    }
    conn_flush(c);
  }
}

/* ---------- timers ---------- */

static void close_for(conn_t *c, const char *why, uint64_t ms) {
  daemon_t *d = c->d;
  if (log_limit_allow(&d->close_log, LOG_LVL_INFO, uv_now(d->loop)))
    log_info("closing a connection: %s within %llu ms", why, (unsigned long long)ms);
  d->c.conns_closed_limit++;
  conn_close(c);
}

static void on_sweep(uv_timer_t *t) {
  daemon_t *d = t->data;
  uint64_t now = uv_now(d->loop);
  log_limit_tick(&d->close_log, LOG_LVL_INFO, now);
  metrics_tick(d, now);
  enforce_memory_budget(d);
  conn_t *c = d->conns;
  while (c) {
    conn_t *n = c->next;
    /* a client paused for its writes is waiting on us, not the other way round; one that
     * does not read its answers is not */
    if (c->state == CONN_READING && c->partial_since_ms &&
        now - c->partial_since_ms > d->cfg.read_timeout_ms) {
      close_for(c, "request not completed", d->cfg.read_timeout_ms);
    } else if (c->out_queued && now - c->out_moved_ms > d->cfg.write_timeout_ms) {
      d->c.conns_closed_write_timeout++;
      close_for(c, "answers not read", d->cfg.write_timeout_ms);
    } else if (d->cfg.idle_timeout_ms && c->inflight == 0 && c->out_queued == 0 &&
               now - c->last_active_ms > d->cfg.idle_timeout_ms) {
      log_debug("closing an idle connection");
      conn_close(c);
    }
    c = n;
  }
}

void server_start_timers(daemon_t *d) {
  uv_timer_init(d->loop, &d->sweep);
  d->sweep.data = d;
  d->close_log = (log_limit_t){.what = "connection-close", .burst = 10, .window_ms = 10000};
  uv_timer_start(&d->sweep, on_sweep, 250, 250);
  uv_unref((uv_handle_t *)&d->sweep);
  uv_check_init(d->loop, &d->accept_check);
  d->accept_check.data = d;
  uv_unref((uv_handle_t *)&d->accept_check);
  uv_idle_init(d->loop, &d->turns);
  d->turns.data = d;
  uv_unref((uv_handle_t *)&d->turns);
  uv_check_init(d->loop, &d->flush_check);
  d->flush_check.data = d;
  uv_unref((uv_handle_t *)&d->flush_check);
}

void server_stop_reading_all(daemon_t *d) {
  for (conn_t *c = d->conns; c; c = c->next)
    if (c->state == CONN_READING) conn_pause(c);
}

int server_idle(daemon_t *d) {
  uint64_t now = uv_now(d->loop);
  for (conn_t *c = d->conns; c; c = c->next) /* a client not reading is not waited for */
    if (c->inflight || c->in_flush || (c->out_queued && now - c->out_moved_ms < 1000)) return 0;
  return 1;
}

void server_close_all(daemon_t *d) {
  if (d->flush_head) on_flush_check(&d->flush_check); /* answers already made go out first */
  while (d->conns) conn_close(d->conns);
  if (!uv_is_closing((uv_handle_t *)&d->sweep)) uv_close((uv_handle_t *)&d->sweep, NULL);
  if (!uv_is_closing((uv_handle_t *)&d->accept_check))
    uv_close((uv_handle_t *)&d->accept_check, NULL);
  while (d->turn_head) { /* their turns will not come: drop the references they hold */
    conn_t *c = d->turn_head;
    d->turn_head = c->turn_next;
    c->in_turns = 0;
    conn_unref(c);
  }
  d->turn_tail = NULL;
  if (!uv_is_closing((uv_handle_t *)&d->turns)) uv_close((uv_handle_t *)&d->turns, NULL);
  if (!uv_is_closing((uv_handle_t *)&d->flush_check))
    uv_close((uv_handle_t *)&d->flush_check, NULL);
}
