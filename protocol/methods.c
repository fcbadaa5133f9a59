/* methods.c -- the protocol's expansion of methods.def: names, flags, sizes, codecs. */
#include "methods.h"

#include <string.h>

const method_desc_t method_table[METHOD__COUNT] = {
#define XX(id, wname, pt, rt, fl, sum) \
  [METHOD_##id] = {wname, sizeof(wname) - 1, fl, sizeof(pt), sizeof(rt), dec_##id, enc_##id, sum},
#include "methods.def"
#undef XX
};

int method_lookup(const char *name, size_t len) {
  for (int i = 0; i < METHOD__COUNT; i++)
    if (method_table[i].name_len == len && memcmp(method_table[i].name, name, len) == 0) return i;
  return -1;
}
