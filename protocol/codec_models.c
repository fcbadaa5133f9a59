/* codec_models.c -- decoders/encoders of model.status and model.refit. */
#include "methods.h"
#include "params.h"
#include "rpc.h"

static const pspec_t no_fields = {NULL, 0};

int dec_model_status(const msgpack_object *params, arena_t *a, void *out, perr_info_t *e) {
  return params_decode(params, &no_fields, out, a, e);
}

static const pfield_t model_refit_fields[] = {
    P_STRS(refit_params_t, "models", names, n, 0, MODELS_MAX, 32),
    /* as_of: the CLV model's "now" (issue 3), e.g. a calibration end; 0/absent = now */
    P_INT(refit_params_t, "as_of", as_of, 0, 1, 32503680000LL),
};
static const pspec_t model_refit_spec = PSPEC(model_refit_fields);

PARAMS_DECODER(model_refit)

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
