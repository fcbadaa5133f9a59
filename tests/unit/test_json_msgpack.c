/* test_json_msgpack.c -- protocol/json_msgpack: every JSON type becomes the msgpack type the
 * wire decoders expect (negative integers NEGATIVE_INTEGER, keys and strings with their bytes,
 * nesting kept), the strings outlive the packing buffer, and a loyalty.program.set params
 * document decodes through the method table exactly like a request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "json_msgpack.h"
#include "loyalty_types.h"
#include "methods.h"

static msgpack_object convert(const char *text, msgpack_zone **z) {
  json_error_t je;
  json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
  assert_non_null(j);
  msgpack_object o;
  assert_int_equal(json_to_msgpack(j, &o, z), 0);
  json_decref(j);  /* the object must not point into jansson's strings either */
  return o;
}

static void test_types(void **state) {
  (void)state;
  msgpack_zone *z;
  msgpack_object o =
      convert("{\"a\": [1, -2, 2.5, true, false, null, \"x\\u00e9\"], \"b\": {}}", &z);
  assert_int_equal(o.type, MSGPACK_OBJECT_MAP);
  assert_int_equal(o.via.map.size, 2);
  const msgpack_object_kv *kv = o.via.map.ptr;
  assert_int_equal(kv[0].key.type, MSGPACK_OBJECT_STR);
  assert_memory_equal(kv[0].key.via.str.ptr, "a", 1);
  const msgpack_object *a = kv[0].val.via.array.ptr;
  assert_int_equal(kv[0].val.via.array.size, 7);
  assert_int_equal(a[0].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
  assert_int_equal(a[0].via.u64, 1);
  assert_int_equal(a[1].type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
  assert_int_equal(a[1].via.i64, -2);
  assert_int_equal(a[2].type, MSGPACK_OBJECT_FLOAT64);
  assert_true(a[2].via.f64 == 2.5);
  assert_int_equal(a[3].type, MSGPACK_OBJECT_BOOLEAN);
  assert_true(a[3].via.boolean);
  assert_false(a[4].via.boolean);
  assert_int_equal(a[5].type, MSGPACK_OBJECT_NIL);
  assert_int_equal(a[6].via.str.size, 3); /* UTF-8 bytes of "x" + e-acute */
  assert_memory_equal(a[6].via.str.ptr, "x\xc3\xa9", 3);
  assert_int_equal(kv[1].val.type, MSGPACK_OBJECT_MAP);
  assert_int_equal(kv[1].val.via.map.size, 0);
  msgpack_zone_free(z);
}

static void test_program_params_decode(void **state) {
  (void)state;
  msgpack_zone *z;
  msgpack_object o = convert(
      "{\"tiers\": [{\"name\": \"silver\", \"entry_threshold\": 500, \"earn_mult_bp\": 12000}],"
      " \"basis\": \"points\", \"window\": \"lifetime\", \"downgrade\": \"never\","
      " \"earn\": [{\"currency\": \"EUR\", \"points\": 1, \"per_minor\": 100}],"
      " \"expiry\": \"entry\", \"expiry_months\": 12}",
      &z);
  arena_t a;
  arena_init(&a, 0);
  loy_program_params_t *p = arena_alloc(&a, sizeof *p);
  perr_info_t e = {0};
  assert_int_equal(method_table[METHOD_loyalty_program_set].decode(&o, &a, p, &e), 0);
  assert_int_equal(p->program.ntiers, 1);
  assert_string_equal(p->program.tiers[0].name, "silver");
  assert_int_equal(p->program.tiers[0].entry_threshold, 500);
  assert_null(p->source_sha256);
  msgpack_zone_free(z);
  /* a wrong type is named by field, as over the wire */
  o = convert("{\"expiry_months\": \"twelve\"}", &z);
  p = arena_alloc(&a, sizeof *p);
  assert_int_not_equal(method_table[METHOD_loyalty_program_set].decode(&o, &a, p, &e), 0);
  assert_string_equal(e.field, "expiry_months");
  msgpack_zone_free(z);
  arena_free(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_types),
                                     cmocka_unit_test(test_program_params_decode)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
