/* vec.h -- growing a plain heap array: the one helper every scanner and builder uses.
 * Invariant: on failure the array and *cap are unchanged (the caller still owns *p). */
#ifndef PATRON_VEC_H
#define PATRON_VEC_H

#include <stddef.h>

/* Make room for need elements of el bytes in *p (capacity *cap, doubling from 1024).
 * 0, or -1 when out of memory (or the size would overflow). */
int vec_reserve(void **p, size_t *cap, size_t need, size_t el);

#endif
