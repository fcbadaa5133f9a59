/* config.h -- patrond's settings: one struct, defaults in one table (config.c), loaded from an
 * INI file (libinih) and overridden from the command line. The same table drives parsing,
 * bounds checks, `patrond --print-config` and the shipped packaging/patrond.conf.
 * Invariant: a settings_t that config_load/config_set accepted is within every bound. */
#ifndef PATRON_CONFIG_H
#define PATRON_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_PATH_MAX 4096
#define CONFIG_DEFAULT_FILE "/etc/patron/patrond.conf"

typedef struct settings_s {
  /* [server] */
  char socket_path[CONFIG_PATH_MAX];
  uint64_t socket_mode;
  char socket_group[64];
  char admin_socket_path[CONFIG_PATH_MAX]; /* as configured: a path, "auto", "none" or "" */
  char admin_socket_run[CONFIG_PATH_MAX];  /* resolved by config_resolve; "" = none */
  uint64_t admin_socket_mode;
  char admin_socket_group[64];
  /* [limits] */
  uint64_t max_connections;
  uint64_t max_message_bytes;
  uint64_t max_depth;
  uint64_t max_container_elems;
  uint64_t max_output_bytes;
  uint64_t max_inflight_writes;
  uint64_t idle_timeout_ms;
  uint64_t read_timeout_ms;
  uint64_t write_timeout_ms;        /* queued answers must move within this, else close */
  uint64_t max_buffer_memory_mb;    /* all connections' buffers together */
  uint64_t admin_connections;       /* admin socket slots, apart from max_connections */
  uint64_t max_connections_per_uid; /* shop connections of one peer uid (0 = no limit) */
  uint64_t listen_backlog;          /* accept queue of each socket */
  /* [store] */
  char data_dir[CONFIG_PATH_MAX];
  uint64_t map_size_mb;
  uint64_t map_size_max_mb;  /* map full: the map grows up to this (0 = never grows) */
  uint64_t sync;             /* 1 = fsync every commit (durable); 0 = tests/benchmarks only */
  uint64_t group_commit_max; /* writes per transaction at most */
  uint64_t max_write_queue;  /* writes waiting for the writer, all connections */
  char store_backend[16];    /* "lmdb" or "postgresql" */
  char pg_write_lock[16];    /* "advisory" or "table" (docs/SCALEOUT.md) */
  char pg_conninfo[1024];    /* backend = postgresql: libpq connection string */
  char node_name[64];        /* origin in the change log ("" = hostname:pid) */
  uint64_t feed_poll_ms;     /* the change feed polls at least this often */
  uint64_t model_leader_poll_ms; /* a follower tries the model leader lock this often */
  /* [cache] */
  uint64_t read_cache_mb;
  uint64_t read_cache_ttl_ms;
  /* [models] */
  uint64_t clv_refit_interval_s;
  uint64_t recs_rebuild_interval_s;
  uint64_t recs_delta_pairs_per_s; /* loop-thread budget of incremental pair updates */
  char recs_model[16];       /* cooc, ease, sparse_ease or auto (src/recs/recs.h) */
  uint64_t ease_max_items;   /* auto: dense EASE up to this many items (8 n^2 bytes) */
  /* [clv] */
  uint64_t clv_horizon_months;
  uint64_t clv_discount_monthly_bp; /* basis points per month */
  uint64_t rfm_bins;
  uint64_t clv_model;               /* CLV_MODEL_AUTO or a clv_kind_t (clv/clv.h) */
  /* [recs] */
  uint64_t recs_upsell_max_ratio_pct;
  uint64_t recs_max_results;
  char recs_similarity[16];          /* "default" or "cosine" (the published baseline) */
  char recs_consumable_categories[512]; /* comma-separated categories bought again and again */
  uint64_t recs_history_max_orders;  /* newest orders of a customer read as history */
  /* [loyalty] */
  char loyalty_program_file[CONFIG_PATH_MAX]; /* "" = none; JSON params of loyalty.program.set */
  /* [offers] */
  double offers_global_holdout;      /* share of customers never shown personalized offers */
  uint64_t offers_key_grace_s;       /* a rotated-out token key stays valid this long */
  /* [tls] (tls.c): the optional TCP listener with client certificates; "" = off */
  char tls_listen[128];              /* "host:port" or "[v6]:port", numeric host */
  char tls_cert[CONFIG_PATH_MAX];    /* server certificate chain (PEM) */
  char tls_key[CONFIG_PATH_MAX];     /* its private key (PEM) */
  char tls_ca[CONFIG_PATH_MAX];      /* CA certificate(s) that client certificates must chain to */
  char tls_admin_subjects[2048];     /* '|'-separated RFC 2253 subjects allowed admin methods */
  /* [log] */
  uint64_t log_level;
  uint64_t log_slow_request_ms;      /* log requests taking this long or longer (0 = never) */
  /* [metrics] */
  char metrics_listen[128];          /* "host:port" of the HTTP /metrics listener; "" = off */
  char metrics_textfile[CONFIG_PATH_MAX]; /* node_exporter textfile to rewrite; "" = off */
  uint64_t metrics_textfile_interval_s;
} settings_t;

void config_defaults(settings_t *s);
/* Load an INI file over *s. On error returns -1 with "file:line: message" in err. */
int config_load(settings_t *s, const char *path, char *err, size_t errlen);
/* Set "section.key" = value (command-line overrides). -1 with a message on error. */
int config_set(settings_t *s, const char *dotted, const char *value, char *err, size_t errlen);
/* Resolve admin_socket ("auto" = admin.sock beside the shop socket, "none"/"" = off) into
 * admin_socket_run. Call before config_validate. */
void config_resolve(settings_t *s);
/* Cross-field checks (paths fit sun_path, ...). */
int config_validate(const settings_t *s, char *err, size_t errlen);
/* Split [tls] listen ("127.0.0.1:7443", "[::1]:7443") into a numeric host and a port.
 * -1 if it is not one. */
int config_split_hostport(const char *s, char *host, size_t hostlen, unsigned *port);
/* What --check-config adds: socket groups exist, the data directory is writable. */
int config_check_environment(const settings_t *s, char *err, size_t errlen);
/* Split metrics.listen ("9464" = loopback, "127.0.0.1:9464", "[::1]:9464") into a numeric
 * IPv4/IPv6 address and a port 1..65535. 0, or -1 with a message. *v6 = 1 for IPv6. */
int config_parse_listen(const char *s, char *host, size_t hostlen, int *port, int *v6, char *err,
                        size_t errlen);
/* Write every setting as INI, with its documentation as comments. */
void config_print(const settings_t *s, FILE *f, int with_docs);
/* Copy the settings marked reloadable from src into dst. */
void config_apply_reloadable(settings_t *dst, const settings_t *src);

#endif
