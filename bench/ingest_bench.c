/* ingest_bench.c -- closed-loop write load generator for patrond over its Unix socket.
 * N connections each keep a window of W requests in flight (msgpack-RPC, packed here with
 * msgpack-c, raw non-blocking sockets, one epoll loop): order.record with UNIQUE order ids
 * (L lines each), customer.upsert, or loyalty.redeem (1 point, UNIQUE redemption ids). Measures acknowledged writes/s, the acknowledgement
 * latency (send -> reply read), and the daemon's group commits (write batches = commits,
 * each one durable sync when store.sync=true) from `stats` read before and after the
 * measured window. Also the preloader for bench/rpc_vs_redis.sh (-n, -k customer).
 * Usage: ingest_bench -s SOCK [-c CONNS] [-W WINDOW] [-d SEC] [-w SEC] [-n TOTAL]
 *                     [-k order|customer|redeem] [-C CUSTOMERS] [-L LINES] [-P PRODUCTS]
 *                     [-x PREFIX] [-T SEC] [-q]
 * Every run is bounded by -T (hard wall-clock limit). Exit status 1 on any error. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HIST_US_PER_BUCKET 10u
#define HIST_BUCKETS 2000000u /* 10 us buckets up to 20 s */

typedef struct {
  int fd;
  uint32_t conn_no;
  msgpack_unpacker up;
  msgpack_sbuffer out; /* pending output; out_off bytes already written */
  size_t out_off;
  uint64_t *sent_ns;  /* per window slot: send time, 0 = free */
  uint32_t *slot_gen; /* per window slot: generation, msgid = gen * W + slot */
  uint32_t inflight;
  uint64_t seq; /* requests generated on this connection */
  int want_out;
} conn_t;

static struct {
  const char *sock;
  uint32_t conns, window, lines, customers;
  double dur, warm, hard;
  uint64_t total; /* 0 = run for dur */
  int kind_customer, kind_redeem, quiet;
  char prefix[64];
  uint32_t products; /* order lines draw from p-0000 .. p-(products-1) */
} cfg = {NULL, 16, 64, 3, 1000, 5.0, 1.0, 60.0, 0, 0, 0, 0, "", 500};

static uint32_t *hist;
static uint64_t measured, warm_replies, errors, sent_total, replied_total;
static int printed_errors;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int connect_unix(const char *path) {
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof a.sun_path) return -1;
  strcpy(a.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void pack_str(msgpack_packer *pk, const char *s) {
  size_t n = strlen(s);
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, s, n);
}

/* One request [0, msgid, method, [params]] appended to c->out. */
static void pack_request(conn_t *c, uint32_t msgid) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, &c->out, msgpack_sbuffer_write);
  uint64_t seq = c->seq++;
  /* spread customers: connection-major so every connection touches many customers */
  uint32_t cust = (uint32_t)((seq * cfg.conns + c->conn_no) % cfg.customers);
  char cid[48], oid[128], pid[32];
  snprintf(cid, sizeof cid, "c-%06" PRIu32, cust);
  msgpack_pack_array(&pk, 4);
  msgpack_pack_uint8(&pk, 0);
  msgpack_pack_uint32(&pk, msgid);
  if (cfg.kind_customer) {
    pack_str(&pk, "customer.upsert");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "customer_id");
    pack_str(&pk, cid);
    pack_str(&pk, "email");
    snprintf(oid, sizeof oid, "customer%06" PRIu32 "@example.com", cust);
    pack_str(&pk, oid);
    pack_str(&pk, "name");
    snprintf(oid, sizeof oid, "Customer %06" PRIu32, cust);
    pack_str(&pk, oid);
    return;
  }
  if (cfg.kind_redeem) {
    pack_str(&pk, "loyalty.redeem");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 4);
    pack_str(&pk, "customer_id");
    pack_str(&pk, cid);
    pack_str(&pk, "points");
    msgpack_pack_uint8(&pk, 1);
    pack_str(&pk, "redemption_id");
    snprintf(oid, sizeof oid, "%s-r%" PRIu32 "-%" PRIu64, cfg.prefix, c->conn_no, seq);
    pack_str(&pk, oid);
    pack_str(&pk, "currency");
    pack_str(&pk, "EUR");
    return;
  }
  pack_str(&pk, "order.record");
  msgpack_pack_array(&pk, 1);
  msgpack_pack_map(&pk, 5);
  pack_str(&pk, "order_id");
  snprintf(oid, sizeof oid, "%s-%" PRIu32 "-%" PRIu64, cfg.prefix, c->conn_no, seq);
  pack_str(&pk, oid);
  pack_str(&pk, "customer_id");
  pack_str(&pk, cid);
  pack_str(&pk, "ts");
  msgpack_pack_int64(&pk, 1700000000 + (int64_t)(seq % 30000000));
  pack_str(&pk, "currency");
  pack_str(&pk, "EUR");
  pack_str(&pk, "lines");
  msgpack_pack_array(&pk, cfg.lines);
  for (uint32_t i = 0; i < cfg.lines; i++) {
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "product_id");
    /* spread over the catalogue: seq's stride keeps the default (500) lines as they were */
    uint64_t prod = cfg.products == 500 ? (seq * 7 + i * 13 + c->conn_no) % 500
                    : (seq * 2654435761u + i * 40503u + c->conn_no * 7919u) % cfg.products;
    snprintf(pid, sizeof pid, "p-%04" PRIu64, prod);
    pack_str(&pk, pid);
    pack_str(&pk, "quantity");
    msgpack_pack_uint32(&pk, 1 + (uint32_t)((seq + i) % 3));
    pack_str(&pk, "unit_price");
    msgpack_pack_uint32(&pk, 199 + (uint32_t)((seq * 31 + i) % 5000));
  }
}

static int stop_sending; /* set when the duration or -n is reached */

static void refill(conn_t *c) {
  uint64_t t = now_ns();
  for (uint32_t s = 0; s < cfg.window && !stop_sending; s++) {
    if (c->sent_ns[s]) continue;
    if (cfg.total && sent_total >= cfg.total) {
      stop_sending = 1;
      break;
    }
    uint32_t msgid = c->slot_gen[s] * cfg.window + s;
    pack_request(c, msgid);
    c->sent_ns[s] = t;
    c->inflight++;
    sent_total++;
  }
}

static int flush_out(conn_t *c) {
  while (c->out_off < c->out.size) {
    ssize_t n = write(c->fd, c->out.data + c->out_off, c->out.size - c->out_off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
      return -1;
    }
    c->out_off += (size_t)n;
  }
  c->out.size = 0;
  c->out_off = 0;
  return 0;
}

static const msgpack_object *map_get(const msgpack_object *m, const char *key) {
  if (!m || m->type != MSGPACK_OBJECT_MAP) return NULL;
  size_t kl = strlen(key);
  for (uint32_t i = 0; i < m->via.map.size; i++) {
    const msgpack_object *k = &m->via.map.ptr[i].key;
    if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
        memcmp(k->via.str.ptr, key, kl) == 0)
      return &m->via.map.ptr[i].val;
  }
  return NULL;
}

static void print_error(const msgpack_object *e) {
  const msgpack_object *code = map_get(e, "code"), *msg = map_get(e, "message"),
                       *field = map_get(e, "field");
  fprintf(stderr, "rpc error: %.*s: %.*s (field %.*s)\n",
          code && code->type == MSGPACK_OBJECT_STR ? (int)code->via.str.size : 1,
          code && code->type == MSGPACK_OBJECT_STR ? code->via.str.ptr : "?",
          msg && msg->type == MSGPACK_OBJECT_STR ? (int)msg->via.str.size : 1,
          msg && msg->type == MSGPACK_OBJECT_STR ? msg->via.str.ptr : "?",
          field && field->type == MSGPACK_OBJECT_STR ? (int)field->via.str.size : 1,
          field && field->type == MSGPACK_OBJECT_STR ? field->via.str.ptr : "-");
}

static uint64_t measure_start_ns, last_reply_ns;

/* Handle one reply; returns -1 on a protocol violation. */
static int on_reply(conn_t *c, const msgpack_object *o, uint64_t t) {
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4 ||
      o->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
      o->via.array.ptr[0].via.u64 != 1 ||
      o->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    return -1;
  uint64_t msgid = o->via.array.ptr[1].via.u64;
  uint32_t s = (uint32_t)(msgid % cfg.window);
  if (msgid / cfg.window != c->slot_gen[s] || !c->sent_ns[s]) return -1;
  uint64_t sent = c->sent_ns[s];
  c->sent_ns[s] = 0;
  c->slot_gen[s]++;
  c->inflight--;
  replied_total++;
  if (o->via.array.ptr[2].type != MSGPACK_OBJECT_NIL) {
    errors++;
    if (printed_errors++ < 5) print_error(&o->via.array.ptr[2]);
    return 0;
  }
  if (measure_start_ns && sent >= measure_start_ns) {
    uint64_t us = (t - sent) / 1000u / HIST_US_PER_BUCKET;
    hist[us < HIST_BUCKETS ? us : HIST_BUCKETS - 1]++;
    measured++;
    last_reply_ns = t;
  } else {
    warm_replies++;
  }
  return 0;
}

static int on_readable(conn_t *c) {
  for (;;) {
    if (msgpack_unpacker_buffer_capacity(&c->up) < 65536 &&
        !msgpack_unpacker_reserve_buffer(&c->up, 65536))
      return -1;
    ssize_t n = read(c->fd, msgpack_unpacker_buffer(&c->up), msgpack_unpacker_buffer_capacity(&c->up));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return -1;
    }
    if (n == 0) return -1;
    msgpack_unpacker_buffer_consumed(&c->up, (size_t)n);
    uint64_t t = now_ns();
    msgpack_unpacked r;
    msgpack_unpacked_init(&r);
    int rc;
    while ((rc = msgpack_unpacker_next(&c->up, &r)) == MSGPACK_UNPACK_SUCCESS)
      if (on_reply(c, &r.data, t) < 0) {
        msgpack_unpacked_destroy(&r);
        return -1;
      }
    msgpack_unpacked_destroy(&r);
    if (rc == MSGPACK_UNPACK_PARSE_ERROR) return -1;
    if ((size_t)n < 65536) break;
  }
  return 0;
}

/* Blocking `stats` call on its own connection: writes.batches, writes.committed, orders. */
typedef struct { uint64_t batches, committed, orders, customers; int ok; } stats_t;

static uint64_t u64_of(const msgpack_object *o) {
  return o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
}

static stats_t read_stats(void) {
  stats_t st = {0, 0, 0, 0, 0};
  int fd = connect_unix(cfg.sock);
  if (fd < 0) return st;
  static const unsigned char req[] = {0x94, 0x00, 0x01, 0xa5, 's', 't', 'a', 't', 's', 0x90};
  if (write(fd, req, sizeof req) != (ssize_t)sizeof req) {
    close(fd);
    return st;
  }
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  msgpack_unpacker up;
  msgpack_unpacker_init(&up, 65536);
  msgpack_unpacked r;
  msgpack_unpacked_init(&r);
  for (;;) {
    msgpack_unpacker_reserve_buffer(&up, 65536);
    ssize_t n = read(fd, msgpack_unpacker_buffer(&up), msgpack_unpacker_buffer_capacity(&up));
    if (n <= 0) break;
    msgpack_unpacker_buffer_consumed(&up, (size_t)n);
    if (msgpack_unpacker_next(&up, &r) == MSGPACK_UNPACK_SUCCESS) {
      const msgpack_object *o = &r.data;
      if (o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 4) {
        const msgpack_object *res = &o->via.array.ptr[3];
        const msgpack_object *w = map_get(res, "writes"), *cnt = map_get(res, "counts");
        st.batches = u64_of(map_get(w, "batches"));
        st.committed = u64_of(map_get(w, "committed"));
        st.orders = u64_of(map_get(cnt, "orders"));
        st.customers = u64_of(map_get(cnt, "customers"));
        st.ok = w != NULL;
      }
      break;
    }
  }
  msgpack_unpacked_destroy(&r);
  msgpack_unpacker_destroy(&up);
  close(fd);
  return st;
}

static double pct(double p) {
  if (!measured) return 0;
  uint64_t want = (uint64_t)(p * (double)measured + 0.999999), acc = 0;
  if (want == 0) want = 1;
  for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
    acc += hist[i];
    if (acc >= want) return (double)(i + 1) * HIST_US_PER_BUCKET;
  }
  return (double)HIST_BUCKETS * HIST_US_PER_BUCKET;
}

static void usage(void) {
  fprintf(stderr,
          "usage: ingest_bench -s SOCK [-c CONNS=16] [-W WINDOW=64] [-d SEC=5] [-w SEC=1]\n"
          "       [-n TOTAL (instead of -d)] [-k order|customer|redeem] [-C CUSTOMERS=1000]\n"
          "       [-L LINES=3] [-P PRODUCTS=500] [-x ORDER_ID_PREFIX] [-T HARD_LIMIT_SEC=60] [-q]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int opt;
  while ((opt = getopt(argc, argv, "s:c:W:d:w:n:k:C:L:P:x:T:q")) != -1) {
    switch (opt) {
    case 's': cfg.sock = optarg; break;
    case 'c': cfg.conns = (uint32_t)strtoul(optarg, NULL, 10); break;
    case 'W': cfg.window = (uint32_t)strtoul(optarg, NULL, 10); break;
    case 'd': cfg.dur = atof(optarg); break;
    case 'w': cfg.warm = atof(optarg); break;
    case 'n': cfg.total = strtoull(optarg, NULL, 10); break;
    case 'k':
      if (strcmp(optarg, "customer") == 0) cfg.kind_customer = 1;
      else if (strcmp(optarg, "redeem") == 0) cfg.kind_redeem = 1;
      else if (strcmp(optarg, "order") != 0) usage();
      break;
    case 'C': cfg.customers = (uint32_t)strtoul(optarg, NULL, 10); break;
    case 'L': cfg.lines = (uint32_t)strtoul(optarg, NULL, 10); break;
    case 'P': cfg.products = (uint32_t)strtoul(optarg, NULL, 10); break;
    case 'x': snprintf(cfg.prefix, sizeof cfg.prefix, "%s", optarg); break;
    case 'T': cfg.hard = atof(optarg); break;
    case 'q': cfg.quiet = 1; break;
    default: usage();
    }
  }
  if (!cfg.sock || !cfg.conns || !cfg.window || !cfg.customers || !cfg.lines || !cfg.products ||
      cfg.lines > 1000 || cfg.window > 1000000)
    usage();
  if (cfg.total) cfg.warm = 0;
  if (!cfg.prefix[0])
    snprintf(cfg.prefix, sizeof cfg.prefix, "ib%lx%x", (unsigned long)time(NULL), (unsigned)getpid());
  hist = calloc(HIST_BUCKETS, sizeof *hist);
  conn_t *cs = calloc(cfg.conns, sizeof *cs);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (!hist || !cs || ep < 0) return 1;

  stats_t before = read_stats();
  if (!before.ok) {
    fprintf(stderr, "ingest_bench: cannot read stats from %s\n", cfg.sock);
    return 1;
  }
  for (uint32_t i = 0; i < cfg.conns; i++) {
    conn_t *c = &cs[i];
    c->conn_no = i;
    c->fd = connect_unix(cfg.sock);
    if (c->fd < 0) {
      perror("connect");
      return 1;
    }
    if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0) return 1;
    msgpack_unpacker_init(&c->up, 65536);
    msgpack_sbuffer_init(&c->out);
    c->sent_ns = calloc(cfg.window, sizeof *c->sent_ns);
    c->slot_gen = calloc(cfg.window, sizeof *c->slot_gen);
    if (!c->sent_ns || !c->slot_gen) return 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) return 1;
  }

  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  uint64_t t0 = now_ns();
  uint64_t hard_end = t0 + (uint64_t)(cfg.hard * 1e9);
  uint64_t warm_end = t0 + (uint64_t)(cfg.warm * 1e9);
  uint64_t send_end = cfg.total ? UINT64_MAX : warm_end + (uint64_t)(cfg.dur * 1e9);
  stats_t at_start = before;
  uint64_t stats_start_ns = t0;
  if (cfg.warm <= 0) measure_start_ns = t0;

  for (uint32_t i = 0; i < cfg.conns; i++) {
    refill(&cs[i]);
    int rc = flush_out(&cs[i]);
    if (rc < 0) return 1;
    if (rc > 0) {
      struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
      epoll_ctl(ep, EPOLL_CTL_MOD, cs[i].fd, &ev);
      cs[i].want_out = 1;
    }
  }
  int conn_errors = 0, hard_hit = 0;
  struct epoll_event evs[256];
  for (;;) {
    uint64_t t = now_ns();
    if (!measure_start_ns && t >= warm_end) {
      at_start = read_stats(); /* the window starts here: counters and latency */
      stats_start_ns = now_ns();
      measure_start_ns = stats_start_ns;
    }
    if (t >= send_end) stop_sending = 1;
    if (t >= hard_end) {
      hard_hit = 1;
      break;
    }
    uint64_t inflight = sent_total - replied_total;
    if (stop_sending && inflight == 0) break;
    int n = epoll_wait(ep, evs, 256, 50);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int k = 0; k < n; k++) {
      conn_t *c = &cs[evs[k].data.u32];
      if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (on_readable(c) < 0) {
          conn_errors++;
          fprintf(stderr, "ingest_bench: connection %u failed (%u in flight)\n", c->conn_no, c->inflight);
          epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
          close(c->fd);
          sent_total -= c->inflight; /* never answered: counted as errors below */
          errors += c->inflight;
          c->inflight = 0;
          memset(c->sent_ns, 0, cfg.window * sizeof *c->sent_ns);
          continue;
        }
        if (now_ns() >= send_end) stop_sending = 1;
        refill(c);
      }
      int rc = flush_out(c);
      if (rc < 0) {
        conn_errors++;
        continue;
      }
      int want = rc > 0;
      if (want != c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.u32 = c->conn_no};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = want;
      }
    }
  }
  uint64_t t_end = now_ns();
  getrusage(RUSAGE_SELF, &ru1);
  stats_t after = read_stats();
  uint64_t stats_end_ns = now_ns();
  if (hard_hit) errors += sent_total - replied_total;

  double meas_s = last_reply_ns > measure_start_ns ? (double)(last_reply_ns - measure_start_ns) / 1e9 : 0;
  double rate = meas_s > 0 ? (double)measured / meas_s : 0;
  double stats_s = (double)(stats_end_ns - stats_start_ns) / 1e9;
  uint64_t dbatch = after.batches - at_start.batches, dcommit = after.committed - at_start.committed;
  double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
               (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
  if (!cfg.quiet) {
    printf("socket=%s kind=%s conns=%u window=%u lines=%u customers=%u\n", cfg.sock,
           cfg.kind_customer ? "customer.upsert" : cfg.kind_redeem ? "loyalty.redeem" : "order.record",
           cfg.conns, cfg.window,
           cfg.lines, cfg.customers);
    printf("acked=%" PRIu64 " (measured %" PRIu64 ", warm-up %" PRIu64 ") in %.3f s; errors=%" PRIu64
           " conn_errors=%d%s\n",
           replied_total - errors, measured, warm_replies, meas_s, errors, conn_errors,
           hard_hit ? " HARD LIMIT HIT" : "");
    printf("latency_us: p50=%.0f p90=%.0f p99=%.0f p99.9=%.0f max=%.0f\n", pct(0.5), pct(0.9),
           pct(0.99), pct(0.999), pct(1.0));
    printf("daemon: writes.committed +%" PRIu64 " writes.batches +%" PRIu64
           " in %.3f s -> %.0f commits/s, %.1f writes/commit; orders %" PRIu64 " -> %" PRIu64 "\n",
           dcommit, dbatch, stats_s, stats_s > 0 ? (double)dbatch / stats_s : 0,
           dbatch ? (double)dcommit / (double)dbatch : 0, before.orders, after.orders);
    printf("client_cpu=%.2f cores (%.2f s / %.2f s)\n", cpu / ((double)(t_end - t0) / 1e9), cpu,
           (double)(t_end - t0) / 1e9);
  }
  printf("orders_per_s=%.0f p50_us=%.0f p99_us=%.0f p999_us=%.0f fsyncs_per_s=%.0f "
         "writes_per_batch=%.1f errors=%" PRIu64 "\n",
         rate, pct(0.5), pct(0.99), pct(0.999), stats_s > 0 ? (double)dbatch / stats_s : 0,
         dbatch ? (double)dcommit / (double)dbatch : 0, errors);
  for (uint32_t i = 0; i < cfg.conns; i++) {
    msgpack_unpacker_destroy(&cs[i].up);
    msgpack_sbuffer_destroy(&cs[i].out);
    free(cs[i].sent_ns);
    free(cs[i].slot_gen);
    close(cs[i].fd);
  }
  free(cs);
  free(hist);
  return errors || conn_errors || hard_hit ? 1 : 0;
}
