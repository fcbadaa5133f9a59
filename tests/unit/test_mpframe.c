/* test_mpframe.c -- protocol/mpframe (the msgpack first-byte table shared by the daemon's
 * guard and libpatronclient): over objects of every msgpack type and header size packed by
 * msgpack-c, the header decoder agrees with msgpack-c's unpacker on kind, body and children,
 * and mpframe_count counts exactly the objects packed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "mpframe.h"

static char big[70000];

/* Pack object number i of the sample set; returns 0 past the end. */
static int pack_sample(msgpack_packer *pk, int i) {
  switch (i) {
    case 0: return msgpack_pack_nil(pk), 1;
    case 1: return msgpack_pack_true(pk), 1;
    case 2: return msgpack_pack_int64(pk, 5), 1;
    case 3: return msgpack_pack_int64(pk, -5), 1;
    case 4: return msgpack_pack_int64(pk, -200), 1;
    case 5: return msgpack_pack_uint64(pk, 200), 1;
    case 6: return msgpack_pack_uint64(pk, 70000), 1;
    case 7: return msgpack_pack_uint64(pk, UINT64_MAX), 1;
    case 8: return msgpack_pack_int64(pk, INT64_MIN), 1;
    case 9: return msgpack_pack_float(pk, 1.5f), 1;
    case 10: return msgpack_pack_double(pk, 0.1), 1;
  }
  static const size_t lens[] = {0, 5, 31, 32, 255, 256, 65535, 65536};
  i -= 11;
  if (i < 8) return msgpack_pack_str(pk, lens[i]), msgpack_pack_str_body(pk, big, lens[i]), 1;
  i -= 8;
  if (i < 8) return msgpack_pack_bin(pk, lens[i]), msgpack_pack_bin_body(pk, big, lens[i]), 1;
  i -= 8;
  if (i < 8) return msgpack_pack_ext(pk, lens[i], 7), msgpack_pack_ext_body(pk, big, lens[i]), 1;
  i -= 8;
  static const uint32_t counts[] = {0, 3, 15, 16, 65536};
  if (i < 5) {
    msgpack_pack_array(pk, counts[i]);
    for (uint32_t k = 0; k < counts[i]; k++) msgpack_pack_int64(pk, k);
    return 1;
  }
  i -= 5;
  if (i < 5) {
    msgpack_pack_map(pk, counts[i]);
    for (uint32_t k = 0; k < counts[i]; k++) {
      msgpack_pack_uint32(pk, k);
      msgpack_pack_array(pk, 1); /* nested */
      msgpack_pack_nil(pk);
    }
    return 1;
  }
  return 0;
}

static void test_headers_agree_with_msgpack_c(void **state) {
  (void)state;
  memset(big, 'b', sizeof big);
  msgpack_sbuffer all;
  msgpack_sbuffer_init(&all);
  int total = 0;
  for (int i = 0;; i++) {
    msgpack_sbuffer sb;
    msgpack_packer pk, pka;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (!pack_sample(&pk, i)) {
      msgpack_sbuffer_destroy(&sb);
      break;
    }
    msgpack_packer_init(&pka, &all, msgpack_sbuffer_write);
    pack_sample(&pka, i);
    total++;
    const uint8_t *p = (const uint8_t *)sb.data;
    int extra = mpframe_header_extra(p[0]);
    assert_true(extra >= 0);
    mpframe_item_t it;
    mpframe_header(p, &it);
    msgpack_zone z;
    msgpack_object o;
    size_t off = 0;
    msgpack_zone_init(&z, 1 << 16);
    assert_int_equal(msgpack_unpack(sb.data, sb.size, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
    switch (o.type) {
      case MSGPACK_OBJECT_ARRAY:
        assert_int_equal(it.kind, MPFRAME_ARRAY);
        assert_int_equal(it.children, o.via.array.size);
        break;
      case MSGPACK_OBJECT_MAP:
        assert_int_equal(it.kind, MPFRAME_MAP);
        assert_int_equal(it.children, 2u * o.via.map.size);
        break;
      case MSGPACK_OBJECT_STR: case MSGPACK_OBJECT_BIN: case MSGPACK_OBJECT_EXT: {
        uint32_t body = o.type == MSGPACK_OBJECT_STR   ? o.via.str.size
                        : o.type == MSGPACK_OBJECT_BIN ? o.via.bin.size
                                                       : o.via.ext.size;
        assert_int_equal(it.kind, MPFRAME_BODY);
        assert_int_equal(it.body, body);
        assert_int_equal(1 + extra + it.body, sb.size);
        break;
      }
      default: /* scalars: the header is the whole object */
        assert_int_equal(it.kind, MPFRAME_SCALAR);
        assert_int_equal(1 + extra, sb.size);
    }
    assert_int_equal(mpframe_count(p, sb.size), 1);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&sb);
  }
  assert_true(total > 40);
  assert_int_equal(mpframe_count((const uint8_t *)all.data, all.size), (size_t)total);
  assert_int_equal(mpframe_header_extra(0xc1), -1);
  msgpack_sbuffer_destroy(&all);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_headers_agree_with_msgpack_c),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
