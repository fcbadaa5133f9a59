/* mpframe.c -- see mpframe.h. The first-byte table of the msgpack spec, once: the fix types
 * are ranges decoded in mpframe.h, the 32 lead bytes 0xc0..0xdf are this table. */
#include "mpframe.h"

#define S MPFRAME_SCALAR
#define B MPFRAME_BODY
#define A MPFRAME_ARRAY
#define M MPFRAME_MAP
const mpframe_lead_t mpframe_lead_c0[32] = {
    {0, S, 0, 0},  {-1, S, 0, 0}, {0, S, 0, 0}, {0, S, 0, 0}, /* c0 nil, c1 never, c2/c3 bool */
    {1, B, 1, 0},  {2, B, 2, 0},  {4, B, 4, 0},               /* c4-c6 bin 8/16/32: len */
    {2, B, 1, 0},  {3, B, 2, 0},  {5, B, 4, 0},               /* c7-c9 ext 8/16/32: len, type */
    {4, S, 0, 0},  {8, S, 0, 0},                              /* ca/cb float 32/64 */
    {1, S, 0, 0},  {2, S, 0, 0},  {4, S, 0, 0}, {8, S, 0, 0}, /* cc-cf uint 8..64 */
    {1, S, 0, 0},  {2, S, 0, 0},  {4, S, 0, 0}, {8, S, 0, 0}, /* d0-d3 int 8..64 */
    {1, B, 0, 1},  {1, B, 0, 2},  {1, B, 0, 4}, {1, B, 0, 8}, /* d4-d8 fixext: type, data */
    {1, B, 0, 16},
    {1, B, 1, 0},  {2, B, 2, 0},  {4, B, 4, 0},               /* d9-db str 8/16/32: len */
    {2, A, 2, 0},  {4, A, 4, 0},                              /* dc/dd array 16/32 */
    {2, M, 2, 0},  {4, M, 4, 0},                              /* de/df map 16/32 */
};
#undef S
#undef B
#undef A
#undef M

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
