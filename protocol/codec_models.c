/* codec_models.c -- decoders/encoders of model.status and model.refit. */
#include "methods.h"
#include "params.h"
#include "rpc.h"

int dec_model_status(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  static const char *const keys[] = {NULL};
  pmap_t m;
  (void)a; (void)out;
  int rc = pmap_from(params, "", &m, e);
  return rc ? rc : pmap_check_keys(&m, keys, e);
}

int dec_model_refit(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  static const char *const keys[] = {"models", "as_of", NULL};
  refit_params_t *p = out;
  pmap_t m;
  int rc = pmap_from(params, "", &m, e);
  if (!rc) rc = pmap_check_keys(&m, keys, e);
  if (!rc) rc = pmap_str_list(&m, "models", 0, MODELS_MAX, 32, a, &p->names, &p->n, e);
  /* as_of: the CLV model's "now" (issue 3), e.g. a calibration end; 0/absent = now */
  if (!rc) rc = pmap_int(&m, "as_of", 0, 1, 32503680000LL, &p->as_of, NULL, e);
  return rc;
}

static void enc_models(msgpack_packer *pk, const refit_result_t *r, int with_took) {
  PK_MAP(pk) {
    pk_str(pk, "models");
    msgpack_pack_array(pk, r->n);
    for (size_t i = 0; i < r->n; i++) {
      const model_status_entry_t *m = &r->models[i];
      PK_MAP(pk) {
        pk_kv_str(pk, "name", m->name);
        pk_kv_str(pk, "status", m->info.status ? m->info.status : "empty");
        pk_kv_str(pk, "reason", m->info.reason);
        pk_kv_uint(pk, "version", m->info.version);
        pk_kv_int(pk, "built_at", m->info.built_at);
        pk_kv_uint(pk, "build_ms", m->info.build_ms);
        pk_kv_uint(pk, "items", m->info.items);
        pk_kv_uint(pk, "bytes", m->info.bytes);
        if (with_took) pk_kv_uint(pk, "took_ms", m->took_ms);
      }
    }
  }
}

void enc_model_status(msgpack_packer *pk, const void *result) { enc_models(pk, result, 0); }
void enc_model_refit(msgpack_packer *pk, const void *result) { enc_models(pk, result, 1); }
