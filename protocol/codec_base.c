/* codec_base.c -- decoders/encoders of the operational methods: ping, health, stats. */
#include "methods.h"
#include "params.h"
#include "rpc.h"

/* No fields: any key is unknown. */
static const pspec_t no_fields = {NULL, 0};

int dec_ping(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  if (!params) return 0; /* the fast path: [] */
  return params_decode(params, &no_fields, out, a, e);
}
int dec_health(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  return params_decode(params, &no_fields, out, a, e);
}
int dec_stats(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  return params_decode(params, &no_fields, out, a, e);
}

/* {pong: true, time}: the constant part as one write (the bytes PK_MAP, pk_kv_bool and
 * pk_str write), then the time as msgpack_pack_int64 packs it. */
void enc_ping(msgpack_packer *pk, const void *result) {
  static const char head[] = "\x82\xa4pong\xc3\xa4time";
  const ping_result_t *r = result;
  pk->callback(pk->data, head, sizeof head - 1);
  msgpack_pack_int64(pk, r->time);
}

/* model_fleet: {role, leader, snapshots: {kind: version}} and, with full, the counters and
 * checksums (stats). */
static void enc_model_fleet(msgpack_packer *pk, const model_fleet_view_t *v, int full) {
  pk_str(pk, "model_fleet");
  PK_MAP(pk) {
    pk_kv_str(pk, "role", v->leader ? "leader" : "follower");
    pk_kv_str(pk, "leader", v->leader_name);
    if (full) {
      pk_kv_bool(pk, "connected", v->connected);
      pk_kv_uint(pk, "leader_poll_ms", v->poll_ms);
      pk_kv_uint(pk, "takeovers", v->takeovers);
      pk_kv_uint(pk, "published", v->published);
      pk_kv_uint(pk, "loaded", v->loaded);
      pk_kv_uint(pk, "failures", v->failures);
    }
    pk_str(pk, "snapshots");
    PK_MAP(pk) {
      for (size_t i = 0; i < v->n; i++) {
        pk_str(pk, v->snap[i].name);
        if (!full) {
          msgpack_pack_uint64(pk, v->snap[i].version);
          continue;
        }
        PK_MAP(pk) {
          pk_kv_uint(pk, "version", v->snap[i].version);
          pk_kv_str(pk, "checksum", v->snap[i].checksum);
        }
      }
    }
  }
}

void enc_health(msgpack_packer *pk, const void *result) {
  const health_result_t *r = result;
  PK_MAP(pk) {
    pk_kv_bool(pk, "ok", r->ok);
    pk_kv_str(pk, "status", r->status);
    pk_kv_int(pk, "uptime_s", r->uptime_s);
    pk_kv_uint(pk, "write_queue", r->write_queue);
    pk_kv_str(pk, "version", r->version);
    if (r->reason) pk_kv_str(pk, "reason", r->reason);
    if (r->shared) {
      pk_kv_bool(pk, "stale", r->stale);
      pk_kv_uint(pk, "staleness_ms", r->staleness_ms);
    }
    if (r->model_fleet.shared) enc_model_fleet(pk, &r->model_fleet, 0);
  }
}

void enc_stats(msgpack_packer *pk, const void *result) {
  const stats_result_t *r = result;
  PK_MAP(pk) {
    pk_kv_str(pk, "version", r->version);
    pk_kv_int(pk, "uptime_s", r->uptime_s);
    pk_str(pk, "connections");
    PK_MAP(pk) {
      pk_kv_uint(pk, "current", r->conns_current);
      pk_kv_uint(pk, "total", r->conns_total);
      pk_kv_uint(pk, "rejected", r->conns_rejected);
      pk_kv_uint(pk, "closed_by_limit", r->conns_closed_limit);
      pk_kv_uint(pk, "evicted_idle", r->conns_evicted_idle);
      pk_kv_uint(pk, "closed_write_timeout", r->conns_closed_write_timeout);
      pk_kv_uint(pk, "closed_memory", r->conns_closed_memory);
      pk_kv_uint(pk, "tls_refused", r->conns_tls_refused);
    }
    pk_str(pk, "counts");
    PK_MAP(pk) {
      pk_kv_uint(pk, "customers", r->counts.customers);
      pk_kv_uint(pk, "products", r->counts.products);
      pk_kv_uint(pk, "orders", r->counts.orders);
      pk_kv_uint(pk, "refunds", r->counts.refunds);
      pk_kv_uint(pk, "feedback", r->counts.feedback);
    }
    pk_str(pk, "requests");
    PK_MAP(pk) {
      pk_kv_uint(pk, "total", r->requests);
      pk_kv_uint(pk, "errors", r->errors);
      pk_kv_uint(pk, "protocol_errors", r->protocol_errors);
      pk_str(pk, "by_method");
      PK_MAP(pk) {
        for (int i = 0; i < METHOD__COUNT; i++) {
          pk_str(pk, method_table[i].name);
          PK_MAP(pk) {
            pk_kv_uint(pk, "calls", r->by_method[i].calls);
            pk_kv_uint(pk, "errors", r->by_method[i].errors);
          }
        }
      }
    }
    pk_str(pk, "bytes");
    PK_MAP(pk) {
      pk_kv_uint(pk, "in", r->bytes_in);
      pk_kv_uint(pk, "out", r->bytes_out);
    }
    pk_str(pk, "writes");
    PK_MAP(pk) {
      pk_kv_uint(pk, "committed", r->writes_committed);
      pk_kv_uint(pk, "batches", r->write_batches);
      pk_kv_uint(pk, "failed", r->write_failures);
      pk_kv_uint(pk, "queued", r->write_queue);
    }
    pk_str(pk, "memory");
    PK_MAP(pk) {
      pk_kv_uint(pk, "rss_bytes", r->rss_bytes);
      pk_kv_uint(pk, "peak_rss_bytes", r->peak_rss_bytes);
    }
    pk_str(pk, "store");
    PK_MAP(pk) {
      pk_kv_uint(pk, "bytes", r->store_bytes);
      if (r->store_backend) pk_kv_str(pk, "backend", r->store_backend);
      if (r->feed.shared) {
        pk_str(pk, "feed");
        PK_MAP(pk) {
          pk_kv_bool(pk, "connected", r->feed.connected);
          pk_kv_uint(pk, "applied_pos", r->feed.applied_pos);
          pk_kv_uint(pk, "head_pos", r->feed.head_pos);
          pk_kv_uint(pk, "lag_changes", r->feed.head_pos > r->feed.applied_pos
                                            ? r->feed.head_pos - r->feed.applied_pos : 0);
          pk_kv_uint(pk, "staleness_ms", r->feed_staleness_ms);
          pk_kv_uint(pk, "changes_applied", r->feed.changes_applied);
        }
      }
    }
    if (r->model_fleet.shared) enc_model_fleet(pk, &r->model_fleet, 1);
    pk_str(pk, "read_cache");
    PK_MAP(pk) {
      pk_kv_uint(pk, "hits", r->cache_hits);
      pk_kv_uint(pk, "misses", r->cache_misses);
      pk_kv_uint(pk, "entries", r->cache_entries);
      pk_kv_uint(pk, "bytes", r->cache_bytes);
      pk_kv_uint(pk, "evictions", r->cache_evictions);
    }
  }
}
