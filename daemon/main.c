/* main.c -- patrond's start-up, signals and shutdown.
 * Start: settings (defaults < config file < flags) -> store -> writer thread -> listeners ->
 * READY=1. SIGTERM/SIGINT: stop accepting and reading, let in-flight writes commit and their
 * answers go out (at most 10 s), close, exit 0 (75 when the writer stopped us because the
 * store became unusable after a failed commit: see jobs.c). SIGHUP: re-read the config file
 * and apply the reloadable settings (limits, log level); the rest needs a restart and is said
 * so. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "contract.h"
#include "daemon.h"
#include "feed.h"
#include "datadir_lock.h"
#include "handlers_offers.h"
#include "http_metrics.h"
#include "metrics.h"
#include "offers/offers.h"
#include "log.h"
#include "model_clv.h"
#include "model_fleet.h"
#include "model_recs.h"
#include "models.h"
#include "notify.h"
#include "base/readcache.h"
#include "tls.h"

static void usage(FILE *f) {
  fprintf(f,
          "Usage: patrond [options]\n"
          "Patron's daemon: msgpack-RPC on a Unix socket, data in LMDB.\n\n"
          "  -c, --config FILE       config file (default %s if it exists)\n"
          "      --no-config         read no config file, not even the default (tests, benchmarks)\n"
          "  -s, --socket PATH       shop socket (server.socket)\n"
          "  -a, --admin-socket PATH admin socket (server.admin_socket; '' disables)\n"
          "  -d, --data-dir DIR      data directory (store.data_dir)\n"
          "      --set SECTION.KEY=VALUE  override any setting (repeatable)\n"
          "  -f, --foreground        run in the foreground (always; for scripts and units)\n"
          "      --check-config      validate the settings and exit (0 = valid)\n"
          "      --print-config      print the effective settings as INI and exit\n"
          "      --test-clock        allow debug.clock (admin) to move the daemon's clock (tests only)\n"
          "      --migrate-embedded  copy the embedded LMDB store of data_dir into the empty\n"
          "                          PostgreSQL database of [store] postgresql, then exit\n"
          "                          (patronctl migrate; docs/SCALEOUT.md)\n"
          "  -h, --help              this help\n"
          "  -V, --version           print the version\n",
          CONFIG_DEFAULT_FILE);
}

typedef struct opts_s {
  const char *config;
  int check, print, explicit_config, no_config, test_clock, migrate;
} opts_t;

/* Apply flags over s; the config file (if any) is loaded first by the caller. */
static int apply_flags(int argc, char **argv, settings_t *s, opts_t *o, int pass) {
  static const struct option lo[] = {
      {"config", required_argument, 0, 'c'}, {"socket", required_argument, 0, 's'},
      {"admin-socket", required_argument, 0, 'a'}, {"data-dir", required_argument, 0, 'd'},
      {"set", required_argument, 0, 'S'}, {"foreground", no_argument, 0, 'f'},
      {"check-config", no_argument, 0, 'C'}, {"print-config", no_argument, 0, 'P'},
      {"no-config", no_argument, 0, 'N'}, {"help", no_argument, 0, 'h'},
      {"version", no_argument, 0, 'V'}, {"test-clock", no_argument, 0, 'T'},
      {"migrate-embedded", no_argument, 0, 'M'}, {0, 0, 0, 0}};
  char err[512];
  int ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "c:s:a:d:fhV", lo, NULL)) != -1) {
    const char *key = NULL;
    char kv[CONFIG_PATH_MAX + 64];
    switch (ch) {
      case 'c': o->config = optarg; o->explicit_config = 1; continue;
      case 's': key = "server.socket"; break;
      case 'a': key = "server.admin_socket"; break;
      case 'd': key = "store.data_dir"; break;
      case 'S': {
        snprintf(kv, sizeof kv, "%s", optarg);
        char *eq = strchr(kv, '=');
        if (!eq) {
          fprintf(stderr, "patrond: --set expects SECTION.KEY=VALUE, got '%s'\n", optarg);
          return 64;
        }
        *eq = 0;
        if (pass == 1 && config_set(s, kv, eq + 1, err, sizeof err)) {
          fprintf(stderr, "patrond: --set: %s\n", err);
          return 64;
        }
        continue;
      }
      case 'f': continue;
      case 'N': o->no_config = 1; continue;
      case 'T': o->test_clock = 1; continue;
      case 'M': o->migrate = 1; continue;
      case 'C': o->check = 1; continue;
      case 'P': o->print = 1; continue;
      case 'h': usage(stdout); exit(0);
      case 'V': printf("patrond %s\n", PATRON_VERSION_STR); exit(0);
      default: usage(stderr); return 64;
    }
    if (pass == 1 && config_set(s, key, optarg, err, sizeof err)) {
      fprintf(stderr, "patrond: %s\n", err);
      return 64;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "patrond: unexpected argument '%s'\n", argv[optind]);
    return 64;
  }
  return 0;
}

/* defaults -> file -> flags. Returns 0 or an exit code. */
/* Report a settings error: on stderr at start-up, through the log (with its priority) on
 * a SIGHUP reload. */
static int g_running;
static void settings_error(const char *msg) {
  if (g_running) log_err("reload failed: %s; keeping the running configuration", msg);
  else fprintf(stderr, "patrond: %s\n", msg);
}

static int load_settings(int argc, char **argv, settings_t *s, opts_t *o) {
  char err[600];
  int rc;
  config_defaults(s);
  memset(o, 0, sizeof *o);
  if ((rc = apply_flags(argc, argv, s, o, 0))) return rc;
  if (o->config && o->no_config) {
    fprintf(stderr, "patrond: --config and --no-config exclude each other\n");
    return 64;
  }
  if (!o->config && !o->no_config && access(CONFIG_DEFAULT_FILE, F_OK) == 0)
    o->config = CONFIG_DEFAULT_FILE;
  if (o->config && config_load(s, o->config, err, sizeof err)) {  /* validated after flags */
    settings_error(err);
    return 78; /* EX_CONFIG */
  }
  if ((rc = apply_flags(argc, argv, s, o, 1))) return rc;
  config_resolve(s);
  if (config_validate(s, err, sizeof err)) {
    settings_error(err);
    return 78;
  }
  return 0;
}

/* --check-config: the directory of each socket must exist and be writable by this user
 * (the one the service runs as), else the start fails later (e.g. /run/patron without
 * systemd's RuntimeDirectory= and without tmpfiles.d). Abstract sockets ('@') need none. */
static int check_socket_dirs(const settings_t *s, char *err, size_t errlen) {
  const char *paths[2] = {s->socket_path, s->admin_socket_run};
  const char *keys[2] = {"server.socket", "server.admin_socket"};
  for (int i = 0; i < 2; i++) {
    if (!paths[i][0] || paths[i][0] == '@') continue;
    char dir[CONFIG_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", paths[i]);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    if (access(dir, W_OK | X_OK) != 0) {
      snprintf(err, errlen, "%s: directory %.300s is not usable by this user (%.200s)", keys[i],
               dir, strerror(errno));
      return -1;
    }
  }
  return 0;
}

/* --migrate-embedded: the embedded store of data_dir (data.mdb) into the PostgreSQL store just
 * opened (migrations applied), which must be empty. The data-dir lock is held: no patrond runs
 * on this directory meanwhile. */
static int migrate_embedded(daemon_t *d, const store_options_t *so) {
  store_options_t lo = *so;
  store_t *embedded;
  perr_info_t e;
  uint64_t copied = 0;
  lo.pg_conninfo = NULL;
  if (store_open(d->cfg.data_dir, &lo, &embedded, &e)) {
    log_err("cannot open the embedded store in %s: %s", d->cfg.data_dir, e.message);
    store_close(d->store);
    return 1;
  }
  uint64_t t0 = clock_mono_ms();
  int rc = store_copy(embedded, d->store, 5000, &copied, &e);
  store_close(embedded);
  store_close(d->store);
  if (rc) {
    log_err("migration failed after %llu records: %s", (unsigned long long)copied, e.message);
    return 1;
  }
  log_notice("migrated %llu records from the embedded store to PostgreSQL in %llu ms",
             (unsigned long long)copied, (unsigned long long)(clock_mono_ms() - t0));
  return 0;
}

/* --check-config: the TLS listener's certificate, key and CA load and match (as at start). */
static int check_tls_files(const settings_t *s, char *err, size_t errlen) {
  if (!s->tls_listen[0]) return 0;
  tls_server_t *t = tls_server_new(s, err, errlen);
  tls_server_free(t);
  return t ? 0 : -1;
}

/* SIGHUP: a new TLS context from [tls] cert, key and ca for the connections accepted from
 * now on; the open ones keep theirs. A file that does not load keeps the running one. */
static void reload_tls(daemon_t *d, const settings_t *fresh) {
  if (strcmp(fresh->tls_listen, d->cfg.tls_listen))
    log_warn("reload: tls.listen changes need a restart");
  if (!d->tls) return;
  char err[600], desc[700];
  if (tls_server_reload(d->tls, &d->cfg, err, sizeof err)) {
    log_err("reload: %s; keeping the running TLS certificate", err);
    return;
  }
  tls_server_describe(d->tls, desc, sizeof desc);
  log_notice("reload: TLS certificate for new connections: %s", desc);
}

static char **g_argv;
static int g_argc;

static void begin_shutdown(daemon_t *d);

static void on_drain_check(uv_timer_t *t) {
  daemon_t *d = t->data;
  static int ticks;
  if (server_idle(d) || ++ticks > 1000) { /* 1000 x 10 ms: give up after 10 s */
    if (!server_idle(d)) log_warn("shutdown: answers still pending after 10 s; closing");
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, NULL);
    server_close_all(d);
    http_metrics_stop(d);
    uv_close((uv_handle_t *)&d->sig_term, NULL);
    uv_close((uv_handle_t *)&d->sig_int, NULL);
    uv_close((uv_handle_t *)&d->sig_hup, NULL);
    if (uv_is_active((uv_handle_t *)&d->watchdog)) uv_close((uv_handle_t *)&d->watchdog, NULL);
    models_stop_timer(d);
    loyalty_stop(d);
    jobq_unref(d->writer); /* their handles are closed by jobq_stop after the loop */
    jobq_unref(d->worker);
  }
}

static void begin_shutdown(daemon_t *d) {
  if (d->stopping) return;
  d->stopping = 1;
  notify_send("STOPPING=1");
  log_notice("shutting down: finishing in-flight requests");
  server_close_listeners(d);
  server_stop_reading_all(d);
  uv_timer_init(d->loop, &d->drain);
  d->drain.data = d;
  uv_timer_start(&d->drain, on_drain_check, 0, 10);
}

static void on_signal(uv_signal_t *s, int signum) {
  daemon_t *d = s->data;
  CONTRACT_THREAD(THREAD_LOOP); /* d->cfg belongs to the loop thread */
  if (signum == SIGHUP) {
    settings_t fresh;
    opts_t o;
    notify_send("RELOADING=1");
    if (load_settings(g_argc, g_argv, &fresh, &o) == 0) {
      config_apply_reloadable(&d->cfg, &fresh);
      log_set_level((int)d->cfg.log_level);
      models_configure(d); /* the builders' copies of their settings */
      /* other threads never read d->cfg: what they use is handed over explicitly */
      jobq_set_batch_max(d->writer, d->cfg.group_commit_max);
      /* settings (CLV horizon, consumable categories, ...) may change answers */
      rcache_t *caches[2] = {d->rcache, d->qcache};
      for (int i = 0; i < 2; i++) {
        rcache_configure(caches[i], (size_t)d->cfg.read_cache_mb << 20, d->cfg.read_cache_ttl_ms);
        rcache_bump(caches[i]);
      }
      if (strcmp(fresh.socket_path, d->cfg.socket_path) || strcmp(fresh.data_dir, d->cfg.data_dir))
        log_warn("reload: socket and data_dir changes need a restart");
      reload_tls(d, &fresh);
      log_notice("configuration reloaded");
      loyalty_program_file_sync(d); /* after the reload line: its outcome follows it */
    }
    notify_send("READY=1");
    return;
  }
  begin_shutdown(d);
}

static void on_watchdog(uv_timer_t *t) {
  (void)t;
  notify_send("WATCHDOG=1");
}

/* Loop thread, after a committed write: the models follow it, then the offer catalogue. */
/* Other nodes' writes reached the local copy (shared store): what is built from the store on
 * the loop follows them. Models do at their next scheduled rebuild. */
static void after_remote_writes(daemon_t *d, uint64_t tables) {
  if (tables & (UINT64_C(1) << STORE_T_OFFERS)) offers_wire_reload(d);
  if (tables & (UINT64_C(1) << STORE_T_META)) offers_wire_follow_keys(d); /* the fleet's ring */
}

static void after_write_all(daemon_t *d, wjob_t *job) {
  models_after_write(d, job);
  offers_wire_after_write(d, job);
}

/* Serves from the moment every listener is up: signals, timers, the loyalty passes, the
 * watchdog, READY=1, then the loop until a stop. Non-zero only when the start cannot go on. */
static int serve(daemon_t *d, const opts_t *o) {
  uv_signal_init(d->loop, &d->sig_term);
  uv_signal_init(d->loop, &d->sig_int);
  uv_signal_init(d->loop, &d->sig_hup);
  d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
  uv_signal_start(&d->sig_term, on_signal, SIGTERM);
  uv_signal_start(&d->sig_int, on_signal, SIGINT);
  uv_signal_start(&d->sig_hup, on_signal, SIGHUP);
  server_start_timers(d);
  d->test_clock = o->test_clock;
  if (o->test_clock) log_warn("--test-clock: debug.clock may move this daemon's clock");
  if (loyalty_start(d)) {
    log_err("out of memory");
    return 1;
  }
  loyalty_program_file_sync(d);
  uint64_t wd = notify_watchdog_usec();
  if (wd) {
    uv_timer_init(d->loop, &d->watchdog);
    uv_timer_start(&d->watchdog, on_watchdog, 0, wd / 2000 ? wd / 2000 : 1);
  }
  log_notice("patrond %s ready (data %s)", PATRON_VERSION_STR, d->cfg.data_dir);
  notify_send("READY=1\nSTATUS=serving");

  uv_run(d->loop, UV_RUN_DEFAULT);
  return 0;
}

int main(int argc, char **argv) {
  daemon_t d;
  opts_t o;
  perr_info_t e;
  int rc;
  memset(&d, 0, sizeof d);
  contract_set_thread(THREAD_LOOP); /* this thread runs the libuv loop */
  g_argc = argc;
  g_argv = argv;
  if ((rc = load_settings(argc, argv, &d.cfg, &o))) return rc;
  if (o.print) {
    config_print(&d.cfg, stdout, 1);
    return 0;
  }
  if (o.check) {
    char err[600];
    if (config_check_environment(&d.cfg, err, sizeof err) ||
        check_socket_dirs(&d.cfg, err, sizeof err) || check_tls_files(&d.cfg, err, sizeof err)) {
      fprintf(stderr, "patrond: %s\n", err);
      return 78;
    }
    if (o.config) printf("patrond: configuration OK (%s)\n", o.config);
    else printf("patrond: configuration OK (defaults and flags)\n");
    return 0;
  }
  log_set_level((int)d.cfg.log_level);
  signal(SIGPIPE, SIG_IGN);
  g_running = 1;

  store_options_t so;
  store_options_default(&so);
  so.map_size = d.cfg.map_size_mb << 20;
  so.no_sync = !d.cfg.sync;
  so.map_size_max = d.cfg.map_size_max_mb ? d.cfg.map_size_max_mb << 20 : so.map_size * 2;
  if (!strcmp(d.cfg.store_backend, "postgresql")) { /* the local copy: docs/SCALEOUT.md */
    so.pg_conninfo = d.cfg.pg_conninfo;
    so.node_name = d.cfg.node_name;
    so.pg_table_lock = !strcmp(d.cfg.pg_write_lock, "table");
  }
  if (!d.cfg.sync) log_warn("store.sync is off: acknowledged writes can be lost on power failure");
  char lock_err[4400];
  if (datadir_lock(d.cfg.data_dir, lock_err, sizeof lock_err) < 0) { /* held until exit */
    log_err("%s", lock_err);
    return 1;
  }
  if (o.migrate && !so.pg_conninfo) {
    log_err("--migrate-embedded needs [store] backend = postgresql and [store] postgresql");
    return 64;
  }
  if (store_open(d.cfg.data_dir, &so, &d.store, &e)) {
    log_err("cannot open the store in %s: %s", d.cfg.data_dir, e.message);
    return 1;
  }
  if (o.migrate) return migrate_embedded(&d, &so);
  d.loop = uv_default_loop();
  d.loop->data = &d;
  d.started_ms = clock_mono_ms();
  arena_init(&d.read_arena, 0);
  d.after_write = after_write_all;
  d.metrics = metrics_new(); /* before the writer, which reports to it */
  if (!d.metrics) {
    log_err("out of memory");
    return 1;
  }
  d.writer = jobq_start(&d, 1, handler_table, server_jobs_done);
  d.worker = jobq_start(&d, 0, handler_table, server_jobs_done);
  if (!d.writer || !d.worker) {
    log_err("cannot start the writer and worker threads");
    return 1;
  }
  notify_send("WATCHDOG=1\nSTATUS=loading models"); /* loading can take a while */
  d.rcache = rcache_new((size_t)d.cfg.read_cache_mb << 20, d.cfg.read_cache_ttl_ms);
  d.qcache = rcache_new((size_t)d.cfg.read_cache_mb << 20, d.cfg.read_cache_ttl_ms);
  if (!d.rcache || !d.qcache) {
    log_err("out of memory");
    return 1;
  }
  msgpack_sbuffer_init(&d.qkey);
  if (so.pg_conninfo) {
    if (!(d.feed = feed_start(&d, d.store, d.cfg.feed_poll_ms, after_remote_writes))) {
      log_err("cannot start the change-feed thread");
      return 1;
    }
    log_notice("store: PostgreSQL is the system of record; reads from the local copy in %s/pg-local",
               d.cfg.data_dir);
    store_feed_stats_t fs;
    store_feed_stats(d.store, &fs);
    if (!fs.connected) {
      char why[160];
      store_last_error(d.store, why, sizeof why);
      log_warn("store: PostgreSQL unreachable at start (%s): serving reads from the local copy; "
               "writes answer 'unavailable' until it returns", why);
    }
  }
  static const model_kind_t *const kinds[] = {&model_kind_clv, &model_kind_recs};
  models_hooks_t hooks = {.publish = server_publish};
  if (so.pg_conninfo) { /* a fleet: one node builds (docs/SCALEOUT.md section 7) */
    hooks.publish_snapshot = model_fleet_publish;
    hooks.leader_name = model_fleet_leader_name;
    hooks.build_started = model_fleet_build_started;
    hooks.build_ended = model_fleet_build_ended;
  }
  if (models_init(&d, kinds, sizeof kinds / sizeof kinds[0], &hooks)) {
    log_err("cannot initialise the models");
    return 1;
  }
  if (so.pg_conninfo && !model_fleet_start(&d, d.cfg.model_leader_poll_ms)) return 1;
  if (offers_wire_init(&d, &e)) {
    log_err("cannot open the offers (key ring %s/%s): %s", d.cfg.data_dir, OFFERS_KEY_FILE,
            e.message);
    return 1;
  }
  char tls_err[600];
  if (d.cfg.tls_listen[0] && !(d.tls = tls_server_new(&d.cfg, tls_err, sizeof tls_err)))
    log_err("%s; not starting (the TLS listener needs them)", tls_err);
  /* A refused listener (busy port, bad socket path) stops the start; everything already
   * running (threads, models, the store) is then shut down by the same path as a stop. */
  int start_failed =
      (d.cfg.tls_listen[0] && !d.tls) ||
      server_listen(&d, &d.listeners[0], d.cfg.socket_path, (unsigned)d.cfg.socket_mode,
                    d.cfg.socket_group, 0) ||
      (d.cfg.admin_socket_run[0] &&
       server_listen(&d, &d.listeners[1], d.cfg.admin_socket_run,
                     (unsigned)d.cfg.admin_socket_mode, d.cfg.admin_socket_group, 1)) ||
      (d.tls && server_listen_tls(&d, &d.listeners[LISTENER_TLS])) ||
      http_metrics_start(&d); /* after the sockets: a refused start leaves them closed */
  if (start_failed) {
    http_metrics_stop(&d);
    server_close_listeners(&d);
  } else if (serve(&d, &o)) {
    return 1;
  }

  jobq_stop(d.worker);
  jobq_stop(d.writer); /* commits anything still queued */
  d.writer = d.worker = NULL;
  feed_stop(d.feed);
  d.feed = NULL;
  model_fleet_stop(d.fleet); /* a leader's lock goes with its session */
  uv_run(d.loop, UV_RUN_DEFAULT); /* close callbacks */
  arena_free(&d.read_arena);
  models_destroy(&d);
  offers_wire_destroy(&d);
  rcache_free(d.rcache);
  rcache_free(d.qcache);
  http_metrics_free(&d);
  metrics_free(d.metrics);
  msgpack_sbuffer_destroy(&d.qkey);
  tls_server_free(d.tls); /* after the connections' close callbacks freed their sessions */
  store_close(d.store);
  uv_loop_close(d.loop);
  if (start_failed) return 1; /* the listener's error is logged */
  int status = atomic_load(&d.exit_status);
  if (status) log_notice("stopped after a fatal store error (exit %d)", status);
  else log_notice("stopped");
  return status;
}
