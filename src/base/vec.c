/* vec.c -- see vec.h. */
#include "base/vec.h"

#include <stdint.h>
#include <stdlib.h>

int vec_reserve(void **p, size_t *cap, size_t need, size_t el) {
  if (need <= *cap) return 0;
  size_t nc = *cap ? *cap : 1024;
  while (nc < need) {
    if (nc > SIZE_MAX / 2) return -1;
    nc *= 2;
  }
  if (el && nc > SIZE_MAX / el) return -1;
  void *np = realloc(*p, nc * el);
  if (!np) return -1;
  *p = np;
  *cap = nc;
  return 0;
}
