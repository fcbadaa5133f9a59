/* config.c -- the settings table and its INI/command-line parsing. See config.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <unistd.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "clv/clv.h"
#include "log.h"

/* T_FRAC: a double in [0, max / 10000] (max in basis points). */
typedef enum { T_STR, T_UINT, T_MODE, T_BOOL, T_LEVEL, T_CLV_MODEL, T_FRAC } ctype_t;

typedef struct cdef_s {
  const char *section, *key;
  ctype_t type;
  size_t off, size;   /* size: buffer size for T_STR */
  uint64_t min, max;
  int reloadable;
  const char *def;    /* default, as text */
  const char *doc;
} cdef_t;

#define STR(f) offsetof(settings_t, f), sizeof(((settings_t *)0)->f)
#define NUM(f) offsetof(settings_t, f), 0

static const cdef_t defs[] = {
  {"server", "socket", T_STR, STR(socket_path), 0, 0, 0, "/run/patron/patron.sock",
   "Shop-facing Unix socket (msgpack-RPC). Must fit in 107 bytes."},
  {"server", "socket_mode", T_MODE, NUM(socket_mode), 0, 0777, 0, "0660",
   "Permissions of the shop socket (octal)."},
  {"server", "socket_group", T_STR, STR(socket_group), 0, 0, 0, "",
   "Group owning the shop socket (e.g. www-data); empty keeps the daemon's group."},
  {"server", "admin_socket", T_STR, STR(admin_socket_path), 0, 0, 0, "auto",
   "Admin Unix socket: the only one that accepts admin methods. 'auto' = admin.sock beside "
   "the shop socket; empty or 'none' disables it."},
  {"server", "admin_socket_mode", T_MODE, NUM(admin_socket_mode), 0, 0777, 0, "0600",
   "Permissions of the admin socket (octal)."},
  {"server", "admin_socket_group", T_STR, STR(admin_socket_group), 0, 0, 0, "",
   "Group owning the admin socket; empty keeps the daemon's group."},
  {"limits", "max_connections", T_UINT, NUM(max_connections), 1, 1000000, 1, "1024",
   "Shop-socket connections at once. At the limit a newcomer takes the longest-idle "
   "one's slot; if every connection is owed answers, it is closed (stats: rejected)."},
  {"limits", "admin_connections", T_UINT, NUM(admin_connections), 1, 10000, 1, "16",
   "Admin-socket connections at once, reserved apart from max_connections (a flood of shop "
   "connections never locks the operator out)."},
  {"limits", "max_connections_per_uid", T_UINT, NUM(max_connections_per_uid), 0, 1000000, 1, "0",
   "Shop connections of one peer user id (SO_PEERCRED) at once; past it that user's "
   "longest-idle connection is closed. 0 = only max_connections applies."},
  {"limits", "listen_backlog", T_UINT, NUM(listen_backlog), 1, 65535, 0, "511",
   "Accept queue of each socket (the kernel caps it at net.core.somaxconn)."},
  {"limits", "max_message_bytes", T_UINT, NUM(max_message_bytes), 1024, 268435456, 1, "1048576",
   "Largest request in bytes; a larger one gets too_large and the connection closes."},
  {"limits", "max_depth", T_UINT, NUM(max_depth), 2, 24, 1, "16",
   "Deepest nesting of arrays/maps in a request."},
  {"limits", "max_container_elems", T_UINT, NUM(max_container_elems), 16, 16777216, 1, "65536",
   "Most elements in one array or map of a request."},
  {"limits", "max_output_bytes", T_UINT, NUM(max_output_bytes), 65536, 1073741824, 1, "1048576",
   "Unsent answers buffered per connection: at this the daemon stops executing that "
   "client's pipelined requests, and resumes once they drain below half."},
  {"limits", "max_inflight_writes", T_UINT, NUM(max_inflight_writes), 1, 1000000, 1, "4096",
   "Writes awaiting commit per connection; past it reading pauses."},
  {"limits", "idle_timeout_ms", T_UINT, NUM(idle_timeout_ms), 0, 86400000, 1, "300000",
   "Close a connection idle this long (0 = never)."},
  {"limits", "read_timeout_ms", T_UINT, NUM(read_timeout_ms), 100, 3600000, 1, "10000",
   "A started request must arrive whole within this time, else the connection closes."},
  {"limits", "write_timeout_ms", T_UINT, NUM(write_timeout_ms), 100, 3600000, 1, "30000",
   "Answers queued for a client must move within this time, else the connection closes "
   "(a client that sends but never reads)."},
  {"limits", "max_buffer_memory_mb", T_UINT, NUM(max_buffer_memory_mb), 1, 1048576, 1, "256",
   "Memory for all connections' input and output buffers together, MiB; past it the "
   "connections holding the most are closed first."},
  {"store", "data_dir", T_STR, STR(data_dir), 0, 0, 0, "/var/lib/patron",
   "Data directory (LMDB files), created 0700."},
  {"store", "map_size_mb", T_UINT, NUM(map_size_mb), 16, 16777216, 0, "8192",
   "Address space reserved for the data file, MiB (sparse: disk use grows with data)."},
  {"store", "map_size_max_mb", T_UINT, NUM(map_size_max_mb), 0, 16777216, 0, "0",
   "When the data file fills map_size_mb, grow the map (doubling) up to this many MiB "
   "without a restart; 0 = twice map_size_mb."},
  {"store", "sync", T_BOOL, NUM(sync), 0, 1, 0, "true",
   "fsync every commit. false loses acknowledged writes on power loss: tests only."},
  {"store", "group_commit_max", T_UINT, NUM(group_commit_max), 1, 1000000, 1, "8192",
   "Most writes committed in one transaction."},
  {"store", "max_write_queue", T_UINT, NUM(max_write_queue), 1, 10000000, 1, "262144",
   "Writes waiting for the writer thread; past it new writes get 'unavailable'."},
  {"store", "backend", T_STR, STR(store_backend), 0, 0, 0, "lmdb",
   "lmdb (embedded, one node) or postgresql (several nodes share [store] postgresql as the "
   "system of record; each serves reads from a local copy in data_dir/pg-local: "
   "docs/SCALEOUT.md)."},
  {"store", "postgresql", T_STR, STR(pg_conninfo), 0, 0, 0, "",
   "backend = postgresql: the libpq connection string or URI (host, dbname, user, sslmode, "
   "...; keep passwords in ~/.pgpass or PGPASSFILE, not here)."},
  {"store", "node_name", T_STR, STR(node_name), 0, 0, 0, "",
   "backend = postgresql: this node's name in the change log (empty = hostname:pid)."},
  {"store", "pg_write_lock", T_STR, STR(pg_write_lock), 0, 0, 0, "advisory",
   "backend = postgresql: the fleet's write lock, advisory (pg_advisory_xact_lock) or table "
   "(a row lock on patron_lock, for PostgreSQL-compatible engines without advisory locks); "
   "every node of a fleet must use the same one (docs/SCALEOUT.md)."},
  {"store", "feed_poll_ms", T_UINT, NUM(feed_poll_ms), 10, 60000, 0, "1000",
   "backend = postgresql: the change feed applies other nodes' writes when notified, and "
   "polls at least this often (the staleness bound when a notification is lost)."},
  {"store", "model_leader_poll_ms", T_UINT, NUM(model_leader_poll_ms), 50, 60000, 0, "1000",
   "backend = postgresql: one node (the model leader, holding a PostgreSQL advisory lock) "
   "builds the models and publishes them; the others try the lock this often (a dead "
   "leader's successor takes over within it) and load each published version when notified."},
  {"cache", "read_cache_mb", T_UINT, NUM(read_cache_mb), 0, 65536, 1, "64",
   "Memory for encoded answers of customer.get, product.get and recs.* (0 = off), MiB each "
   "cache. A committed write drops the answers it may change; a new model drops all."},
  {"cache", "read_cache_ttl_ms", T_UINT, NUM(read_cache_ttl_ms), 0, 86400000, 1, "60000",
   "A cached answer is recomputed after this long (p_alive and CLV move with time)."},
  {"models", "clv_refit_interval_s", T_UINT, NUM(clv_refit_interval_s), 0, 31536000, 1, "86400",
   "Refit the CLV models and segments this often, seconds (0 = only on model.refit)."},
  {"models", "recs_rebuild_interval_s", T_UINT, NUM(recs_rebuild_interval_s), 0, 31536000, 1, "3600",
   "Rebuild the recommendation graph in full this often, seconds (0 = only on model.refit); "
   "orders in between update it incrementally."},
  {"models", "recs_delta_pairs_per_s", T_UINT, NUM(recs_delta_pairs_per_s), 0, 100000000, 1,
   "100000",
   "Item pairs a second for incremental recs updates (n products cost n(n-1)); orders "
   "past it (bulk imports) get one full rebuild once they pause."},
  {"models", "recs_model", T_STR, STR(recs_model), 0, 0, 0, "sparse_ease",
   "Basket model of recs.*: cooc (cosine^2), sparse_ease (EASE on each item's 50 nearest), "
   "ease (dense EASE: 8 x items^2 bytes) or auto (ease up to ease_max_items)."},
  {"models", "ease_max_items", T_UINT, NUM(ease_max_items), 1, 65535, 0, "5000",
   "recs_model=auto: dense EASE up to this many items (5000 items = 200 MB during the build), "
   "sparse EASE above."},
  {"clv", "horizon_months", T_UINT, NUM(clv_horizon_months), 1, 120, 1, "12",
   "Horizon of predicted CLV, months."},
  {"clv", "discount_monthly_bp", T_UINT, NUM(clv_discount_monthly_bp), 0, 5000, 1, "100",
   "Monthly discount rate for CLV in basis points (100 = 1 % a month)."},
  {"clv", "model", T_CLV_MODEL, NUM(clv_model), 0, 0, 1, "bgnbd",
   "Purchase model served for P(alive), expected purchases and CLV: bgnbd, mbgnbd or pnbd "
   "(fit and serve that one), or auto (fit all three, serve the lowest AIC = 8 - 2 LL, i.e. the "
   "best log-likelihood; ties to bgnbd, then mbgnbd). Applies from the next refit."},
  {"clv", "rfm_bins", T_UINT, NUM(rfm_bins), 2, 10, 1, "5",
   "Score bins for recency, frequency and monetary value (5 = quintiles)."},
  {"recs", "upsell_max_ratio_pct", T_UINT, NUM(recs_upsell_max_ratio_pct), 101, 10000, 1, "300",
   "recs.upsell: alternatives cost more than the product, at most this percentage of its price."},
  {"recs", "max_results", T_UINT, NUM(recs_max_results), 1, 1000, 1, "50",
   "Most items one recommendation call may ask for."},
  {"recs", "similarity", T_STR, STR(recs_similarity), 0, 0, 0, "default",
   "Item-item model: default (cosine^2, top 100, repurchase term) or cosine (the published "
   "plain-cosine baseline). Applies from the next rebuild."},
  {"recs", "consumable_categories", T_STR, STR(recs_consumable_categories), 0, 0, 1, "",
   "Comma-separated categories that recs.for_customer may recommend again to their buyers."},
  {"recs", "history_max_orders", T_UINT, NUM(recs_history_max_orders), 0, 100000, 1, "1000",
   "Newest orders of a customer read as history by the recommendation calls (0 = none)."},
  {"loyalty", "program_file", T_STR, STR(loyalty_program_file), 0, 0, 1, "",
   "JSON file holding the params of loyalty.program.set (empty = none): applied at start and on "
   "SIGHUP when its SHA-256 differs from the one recorded with the stored program."},
  {"offers", "global_holdout", T_FRAC, NUM(offers_global_holdout), 0, 5000, 0, "0",
   "Share of customers (0..0.5) never shown a personalized offer, to measure the whole engine "
   "(experiments.report global). Set it once (docs/OFFERS.md)."},
  {"offers", "key_grace_s", T_UINT, NUM(offers_key_grace_s), 60, 31536000, 0, "604800",
   "Seconds a rotated-out token key stays accepted after offers.rotate_key (at least the "
   "longest token_ttl_s); a key two rotations old is refused."},
  {"tls", "listen", T_STR, STR(tls_listen), 0, 0, 0, "",
   "TLS listener (TLS 1.3, client certificate signed by tls.ca required): host:port with a "
   "numeric host (0.0.0.0:7443, [::]:7443); empty = off. Needs cert, key and ca."},
  {"tls", "cert", T_STR, STR(tls_cert), 0, 0, 1, "",
   "Server certificate (PEM, chain after the leaf). Re-read on SIGHUP for new connections."},
  {"tls", "key", T_STR, STR(tls_key), 0, 0, 1, "",
   "Private key of tls.cert (PEM, unencrypted). Re-read on SIGHUP with the certificate."},
  {"tls", "ca", T_STR, STR(tls_ca), 0, 0, 1, "",
   "CA certificate(s) (PEM) that client certificates must chain to. Re-read on SIGHUP."},
  {"tls", "admin_subjects", T_STR, STR(tls_admin_subjects), 0, 0, 1, "",
   "Client certificate subjects allowed admin methods over TLS, '|'-separated, as "
   "`openssl x509 -noout -subject -nameopt RFC2253` prints them (CN=ops,O=Shop)."},
  {"log", "level", T_LEVEL, NUM(log_level), 0, 0, 1, "info",
   "error, warning, notice, info or debug."},
  {"log", "slow_request_ms", T_UINT, NUM(log_slow_request_ms), 0, 86400000, 1, "1000",
   "Log an info line (method, duration) for each request this slow or slower, dispatch to "
   "answer (writes: commit included); 0 = never. Rate-limited."},
  {"metrics", "listen", T_STR, STR(metrics_listen), 0, 0, 0, "",
   "PORT (on 127.0.0.1), IPV4:PORT or [IPV6]:PORT serving GET /metrics (Prometheus text); "
   "empty = off. No authentication: keep it on loopback."},
  {"metrics", "textfile", T_STR, STR(metrics_textfile), 0, 0, 0, "",
   "A *.prom file for node_exporter's textfile collector, rewritten (by rename) with the "
   "metrics every textfile_interval_s; empty = off."},
  {"metrics", "textfile_interval_s", T_UINT, NUM(metrics_textfile_interval_s), 1, 3600, 1, "15",
   "How often the metrics textfile is rewritten, seconds."},
};
#define NDEFS (sizeof defs / sizeof defs[0])

static int set_one(settings_t *s, const cdef_t *d, const char *v, char *err, size_t errlen) {
  char *base = (char *)s + d->off;
  char *end;
  uint64_t u;
  switch (d->type) {
    case T_STR:
      if (strlen(v) >= d->size) {
        snprintf(err, errlen, "%s.%s: value too long (max %zu bytes)", d->section, d->key, d->size - 1);
        return -1;
      }
      strcpy(base, v);
      return 0;
    case T_BOOL:
      if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1")) u = 1;
      else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0")) u = 0;
      else {
        snprintf(err, errlen, "%s.%s: expected true or false, got '%s'", d->section, d->key, v);
        return -1;
      }
      *(uint64_t *)base = u;
      return 0;
    case T_LEVEL: {
      int l = log_level_parse(v);
      if (l < 0) {
        snprintf(err, errlen, "%s.%s: unknown level '%s' (error, warning, notice, info, debug)",
                 d->section, d->key, v);
        return -1;
      }
      *(uint64_t *)base = (uint64_t)l;
      return 0;
    }
    case T_CLV_MODEL: {
      int m = clv_model_rule_parse(v);
      if (m < 0) {
        snprintf(err, errlen, "%s.%s: expected auto, bgnbd, mbgnbd or pnbd, got '%s'",
                 d->section, d->key, v);
        return -1;
      }
      *(uint64_t *)base = (uint64_t)m;
      return 0;
    }
    case T_FRAC: {
      errno = 0;
      double f = strtod(v, &end);
      if (!*v || errno || *end || !(f >= 0 && f <= (double)d->max / 10000)) {
        snprintf(err, errlen, "%s.%s: expected a number in 0..%g, got '%s'", d->section, d->key,
                 (double)d->max / 10000, v);
        return -1;
      }
      memcpy(base, &f, sizeof f);
      return 0;
    }
    case T_UINT:
    case T_MODE:
      errno = 0;
      if (!*v || *v == '-') goto bad;
      u = strtoull(v, &end, d->type == T_MODE ? 8 : 10);
      if (errno || *end) goto bad;
      if (u < d->min || u > d->max) {
        snprintf(err, errlen, d->type == T_MODE ? "%s.%s: %llo is out of range (%llo..%llo)"
                                                : "%s.%s: %llu is out of range (%llu..%llu)",
                 d->section, d->key, (unsigned long long)u, (unsigned long long)d->min,
                 (unsigned long long)d->max);
        return -1;
      }
      *(uint64_t *)base = u;
      return 0;
  }
bad:
  snprintf(err, errlen, "%s.%s: expected %s, got '%s'", d->section, d->key,
           d->type == T_MODE ? "an octal mode" : "a non-negative integer", v);
  return -1;
}

static const cdef_t *find(const char *section, const char *key) {
  for (size_t i = 0; i < NDEFS; i++)
    if (!strcmp(defs[i].section, section) && !strcmp(defs[i].key, key)) return &defs[i];
  return NULL;
}

void config_defaults(settings_t *s) {
  char err[256];
  memset(s, 0, sizeof *s);
  for (size_t i = 0; i < NDEFS; i++)
    if (set_one(s, &defs[i], defs[i].def, err, sizeof err)) abort(); /* table bug */
}

typedef struct load_ctx_s {
  settings_t *s;
  char *err;
  size_t errlen;
  const char *path;
  int failed;
} load_ctx_t;

/* inih reports the line of the first handler failure as its return value; the message is
 * kept here and prefixed with file:line by config_load. */
static int on_ini(void *user, const char *section, const char *key, const char *value) {
  load_ctx_t *c = user;
  if (c->failed) return 1; /* report the first problem only */
  const cdef_t *d = find(section, key);
  if (!d) {
    snprintf(c->err, c->errlen, "unknown setting '%s' in section [%s]", key, section);
    c->failed = 1;
    return 0;
  }
  if (set_one(c->s, d, value, c->err, c->errlen)) {
    c->failed = 1;
    return 0;
  }
  return 1;
}

int config_load(settings_t *s, const char *path, char *err, size_t errlen) {
  load_ctx_t c = {s, err, errlen, path, 0};
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  char msg[512] = "";
  c.err = msg;
  c.errlen = sizeof msg;
  int rc = ini_parse_file(f, on_ini, &c);
  fclose(f);
  if (c.failed) {
    snprintf(err, errlen, "%s:%d: %s", path, rc, msg);
    return -1;
  }
  if (rc != 0) {
    snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path, rc);
    return -1;
  }
  return 0; /* cross-field checks run once flags are applied: config_validate */
}

int config_set(settings_t *s, const char *dotted, const char *value, char *err, size_t errlen) {
  char section[64];
  const char *dot = strchr(dotted, '.');
  if (!dot || (size_t)(dot - dotted) >= sizeof section) {
    snprintf(err, errlen, "'%s': expected section.key", dotted);
    return -1;
  }
  memcpy(section, dotted, (size_t)(dot - dotted));
  section[dot - dotted] = 0;
  const cdef_t *d = find(section, dot + 1);
  if (!d) {
    snprintf(err, errlen, "unknown setting '%s'", dotted);
    return -1;
  }
  return set_one(s, d, value, err, errlen);
}

void config_resolve(settings_t *s) {
  char *run = s->admin_socket_run;
  if (!strcmp(s->admin_socket_path, "none")) {
    run[0] = 0;
  } else if (!strcmp(s->admin_socket_path, "auto")) {
    const char *slash = strrchr(s->socket_path, '/');
    int dirlen = slash ? (int)(slash - s->socket_path) + 1 : 0; /* keeps the '/' */
    snprintf(run, sizeof s->admin_socket_run, "%.*sadmin.sock", dirlen, s->socket_path);
  } else {
    memcpy(run, s->admin_socket_path, sizeof s->admin_socket_run);
  }
}

int config_check_environment(const settings_t *s, char *err, size_t errlen) {
  const char *groups[2] = {s->socket_group, s->admin_socket_group};
  for (int i = 0; i < 2; i++)
    if (groups[i][0] && !getgrnam(groups[i])) {
      snprintf(err, errlen, "server.%s: group '%s' does not exist",
               i ? "admin_socket_group" : "socket_group", groups[i]);
      return -1;
    }
  /* the data directory, or the directory that will hold it, must be writable */
  char dir[CONFIG_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", s->data_dir);
  while (access(dir, F_OK) != 0) {
    char *slash = strrchr(dir, '/');
    if (!slash) { snprintf(dir, sizeof dir, "."); break; }
    if (slash == dir) { dir[1] = 0; break; }
    *slash = 0;
  }
  if (access(dir, W_OK | X_OK) != 0) {
    snprintf(err, errlen, "store.data_dir: %s is not writable by this user (%s)", dir, strerror(errno));
    return -1;
  }
  if (s->metrics_textfile[0]) { /* rewritten by rename: its directory must be writable */
    snprintf(dir, sizeof dir, "%s", s->metrics_textfile);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    if (access(dir, W_OK | X_OK) != 0) {
      snprintf(err, errlen, "metrics.textfile: directory %s is not writable by this user (%s)", dir,
               strerror(errno));
      return -1;
    }
  }
  return 0;
}

int config_split_hostport(const char *s, char *host, size_t hostlen, unsigned *port) {
  const char *colon = strrchr(s, ':'), *h = s;
  size_t n = colon ? (size_t)(colon - s) : 0;
  if (!colon || !colon[1]) return -1;
  if (s[0] == '[') { /* [v6]:port */
    if (n < 2 || s[n - 1] != ']') return -1;
    h = s + 1;
    n -= 2;
  }
  if (n == 0 || n >= hostlen) return -1;
  memcpy(host, h, n);
  host[n] = 0;
  char *end;
  errno = 0;
  unsigned long p = strtoul(colon + 1, &end, 10);
  if (errno || *end || p == 0 || p > 65535 || colon[1] == '-' || colon[1] == '+') return -1;
  unsigned char addr[16];
  if (inet_pton(s[0] == '[' ? AF_INET6 : AF_INET, host, addr) != 1) return -1;
  *port = (unsigned)p;
  return 0;
}

/* The TLS listener never starts half-configured: without a certificate, its key and a CA for
 * the clients' certificates the daemon refuses to start. */
static int validate_tls(const settings_t *s, char *err, size_t errlen) {
  if (!s->tls_listen[0]) return 0;
  char host[64];
  unsigned port;
  if (config_split_hostport(s->tls_listen, host, sizeof host, &port)) {
    snprintf(err, errlen, "tls.listen: '%s' is not host:port with a numeric host "
             "(e.g. 0.0.0.0:7443 or [::]:7443)", s->tls_listen);
    return -1;
  }
  const char *missing = !s->tls_cert[0] ? "cert" : !s->tls_key[0] ? "key" : !s->tls_ca[0] ? "ca" : NULL;
  if (missing) {
    snprintf(err, errlen, "tls.listen is set but tls.%s is not: the TLS listener needs a "
             "certificate (cert), its key (key) and the CA of the client certificates (ca)",
             missing);
    return -1;
  }
  return 0;
}

int config_parse_listen(const char *s, char *host, size_t hostlen, int *port, int *v6, char *err,
                        size_t errlen) {
  char spec[96];
  unsigned p;
  if (*s && strspn(s, "0123456789") == strlen(s)) /* a port alone: loopback */
    snprintf(spec, sizeof spec, "127.0.0.1:%.8s", s);
  else
    snprintf(spec, sizeof spec, "%s", s);
  if (strlen(s) >= sizeof spec || config_split_hostport(spec, host, hostlen, &p)) {
    snprintf(err, errlen,
             "metrics.listen: expected PORT, IPV4:PORT or [IPV6]:PORT (numeric), got '%s'", s);
    return -1;
  }
  *port = (int)p;
  *v6 = spec[0] == '[';
  return 0;
}

int config_validate(const settings_t *s, char *err, size_t errlen) {
  struct sockaddr_un sa;
  if (validate_tls(s, err, errlen)) return -1;
  if (!s->socket_path[0]) {
    snprintf(err, errlen, "server.socket must be set");
    return -1;
  }
  if (strlen(s->socket_path) >= sizeof sa.sun_path ||
      strlen(s->admin_socket_run) >= sizeof sa.sun_path) {
    snprintf(err, errlen, "socket path longer than %zu bytes (the Unix socket limit)",
             sizeof sa.sun_path - 1);
    return -1;
  }
  if (!strcmp(s->socket_path, s->admin_socket_run)) {
    snprintf(err, errlen, "server.socket and server.admin_socket must differ");
    return -1;
  }
  if (!s->data_dir[0]) {
    snprintf(err, errlen, "store.data_dir must be set");
    return -1;
  }
  if (strcmp(s->store_backend, "lmdb") && strcmp(s->store_backend, "postgresql")) {
    snprintf(err, errlen, "store.backend must be lmdb or postgresql, not '%s'", s->store_backend);
    return -1;
  }
  if (!strcmp(s->store_backend, "postgresql") && !s->pg_conninfo[0]) {
    snprintf(err, errlen, "store.backend = postgresql needs store.postgresql (a libpq "
             "connection string)");
    return -1;
  }
  if (strcmp(s->pg_write_lock, "advisory") && strcmp(s->pg_write_lock, "table")) {
    snprintf(err, errlen, "store.pg_write_lock must be advisory or table, not '%s'",
             s->pg_write_lock);
    return -1;
  }
  if (strpbrk(s->node_name, "\t\n\\")) {
    snprintf(err, errlen, "store.node_name must not hold tabs, newlines or backslashes");
    return -1;
  }
  if (s->metrics_listen[0]) {
    char host[64];
    int port, v6;
    if (config_parse_listen(s->metrics_listen, host, sizeof host, &port, &v6, err, errlen))
      return -1;
  }
  return 0;
}

/* Writes a setting's doc as "# " comment lines wrapped at word boundaries below 90 columns,
 * so every line of a generated file stays far below the parser's line limit. */
static void print_doc_comment(FILE *f, const char *doc) {
  enum { WIDTH = 88 };
  while (*doc) {
    size_t len = strlen(doc), cut = len;
    if (len > WIDTH) {
      cut = WIDTH;
      while (cut > 0 && doc[cut] != ' ') cut--;
      if (cut == 0) cut = WIDTH; /* one word longer than the width: hard cut */
    }
    fprintf(f, "# %.*s\n", (int)cut, doc);
    doc += cut;
    while (*doc == ' ') doc++;
  }
}

void config_print(const settings_t *s, FILE *f, int with_docs) {
  const char *section = "";
  for (size_t i = 0; i < NDEFS; i++) {
    const cdef_t *d = &defs[i];
    if (strcmp(section, d->section)) {
      fprintf(f, "%s[%s]\n", i ? "\n" : "", d->section);
      section = d->section;
    }
    if (with_docs) {
      print_doc_comment(f, d->doc);
      fprintf(f, "# default: %s%s\n", d->def[0] ? d->def : "(empty)",
              d->reloadable ? "; reloaded on SIGHUP" : "; needs a restart");
    }
    const char *base = (const char *)s + d->off;
    uint64_t u = 0;
    if (d->type != T_STR) memcpy(&u, base, sizeof u);
    switch (d->type) {
      case T_STR: fprintf(f, "%s = %s\n", d->key, base); break;
      case T_UINT: fprintf(f, "%s = %llu\n", d->key, (unsigned long long)u); break;
      case T_MODE: fprintf(f, "%s = 0%llo\n", d->key, (unsigned long long)u); break;
      case T_BOOL: fprintf(f, "%s = %s\n", d->key, u ? "true" : "false"); break;
      case T_LEVEL: fprintf(f, "%s = %s\n", d->key, log_level_name((int)u)); break;
      case T_CLV_MODEL: fprintf(f, "%s = %s\n", d->key, clv_model_rule_name((int)u)); break;
      case T_FRAC: {
        double x;
        memcpy(&x, base, sizeof x);
        fprintf(f, "%s = %g\n", d->key, x);
        break;
      }
    }
  }
}

void config_apply_reloadable(settings_t *dst, const settings_t *src) {
  for (size_t i = 0; i < NDEFS; i++) {
    const cdef_t *d = &defs[i];
    if (!d->reloadable) continue;
    memcpy((char *)dst + d->off, (const char *)src + d->off, d->type == T_STR ? d->size : sizeof(uint64_t));
  }
}
