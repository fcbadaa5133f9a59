/* mpframe.c -- see mpframe.h. The first-byte table of the msgpack spec, once. */
#include "mpframe.h"

int mpframe_header_extra(uint8_t b) {
  if (b <= 0xbf || b >= 0xe0) return 0; /* fixint, fixmap, fixarray, fixstr, negative fixint */
  switch (b) {
    case 0xc0: case 0xc2: case 0xc3: return 0;                              /* nil, bool */
    case 0xc1: return -1;
    case 0xc4: return 1; case 0xc5: return 2; case 0xc6: return 4;          /* bin: len */
    case 0xc7: return 2; case 0xc8: return 3; case 0xc9: return 5;          /* ext: len + type */
    case 0xca: return 4; case 0xcb: return 8;                               /* float */
    case 0xcc: return 1; case 0xcd: return 2; case 0xce: return 4; case 0xcf: return 8;
    case 0xd0: return 1; case 0xd1: return 2; case 0xd2: return 4; case 0xd3: return 8;
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return 1;        /* fixext: type */
    case 0xd9: return 1; case 0xda: return 2; case 0xdb: return 4;          /* str: len */
    case 0xdc: return 2; case 0xdd: return 4; case 0xde: return 2; case 0xdf: return 4;
  }
  return -1;
}

static uint64_t be(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = (v << 8) | p[i];
  return v;
}

void mpframe_header(const uint8_t *h, mpframe_item_t *it) {
  uint8_t b = h[0];
  int len = 1 + mpframe_header_extra(b);
  uint64_t n = len > 1 ? be(h + 1, len - 1) : 0; /* the length field, when there is one */
  *it = (mpframe_item_t){MPFRAME_SCALAR, 0, 0};
  if (b >= 0x80 && b <= 0x8f) {
    *it = (mpframe_item_t){MPFRAME_MAP, 0, 2u * (b & 0x0fu)};
  } else if (b >= 0x90 && b <= 0x9f) {
    *it = (mpframe_item_t){MPFRAME_ARRAY, 0, b & 0x0fu};
  } else if (b >= 0xa0 && b <= 0xbf) {
    *it = (mpframe_item_t){MPFRAME_BODY, b & 0x1fu, 0};
  } else if (b == 0xdc || b == 0xdd) {
    *it = (mpframe_item_t){MPFRAME_ARRAY, 0, n};
  } else if (b == 0xde || b == 0xdf) {
    *it = (mpframe_item_t){MPFRAME_MAP, 0, 2 * n};
  } else if (b == 0xc4 || b == 0xc5 || b == 0xc6 || b == 0xd9 || b == 0xda || b == 0xdb) {
    *it = (mpframe_item_t){MPFRAME_BODY, n, 0};                     /* bin, str */
  } else if (b >= 0xc7 && b <= 0xc9) {
    *it = (mpframe_item_t){MPFRAME_BODY, be(h + 1, len - 2), 0};    /* ext: len, then type */
  } else if (b >= 0xd4 && b <= 0xd8) {
    *it = (mpframe_item_t){MPFRAME_BODY, 1u << (b - 0xd4), 0};      /* fixext: type, data */
  }
}

size_t mpframe_count(const uint8_t *p, size_t n) {
  size_t i = 0, count = 0;
  uint64_t owed = 0; /* elements still to come in the current top-level element */
  while (i < n) {
    int extra = mpframe_header_extra(p[i]);
    mpframe_item_t it;
    if (extra < 0 || (size_t)extra >= n - i) break; /* not well-formed: stop */
    mpframe_header(p + i, &it);
    if (owed == 0) count++;
    else owed--;
    owed += it.children;
    i += 1 + (size_t)extra;
    if (it.body > n - i) break;
    i += (size_t)it.body;
  }
  return count;
}
