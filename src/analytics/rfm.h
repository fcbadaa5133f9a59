/* rfm.h -- RFM scores (recency, frequency, monetary quantile bins) and named segments.
 * Invariants: pure functions, no global state, thread-safe; scores are in 1..bins.
 *
 * Scoring: for each dimension, customers are ranked by value; a customer whose value has
 * `below` customers with a strictly smaller value gets score 1 + floor(below * bins / n).
 * So ties always share a score, the lowest value scores 1, and with distinct values each
 * score holds n/bins customers (quintiles for bins = 5). Higher is better in every
 * dimension: R ranks the last order time (more recent = higher), F the order count,
 * M the monetary value (total spend in minor units, or whatever the caller passes).
 *
 * Segments are defined on a 1..5 scale: with bins != 5 a score s is first mapped to
 * 1 + round((s - 1) * 4 / (bins - 1)). Let R be the recency score and FM = the frequency
 * and monetary scores' mean, rounded half up (so FM is 1..5). First matching rule wins:
 *   champions            R = 5 and FM >= 4, or R = 4 and FM = 5
 *   loyal                R >= 3 and FM >= 4            (recent enough, buy often / a lot)
 *   potential_loyalists  R >= 4 and FM in 2..3
 *   new                  R = 5 and FM = 1              (just bought, once)
 *   promising            R = 4 and FM = 1
 *   need_attention       R = 3 and FM in 2..3
 *   cannot_lose          R <= 2 and FM = 5             (best customers slipping away)
 *   at_risk              R <= 2 and FM in 3..4
 *   hibernating          R = 3 and FM = 1, or R = 2 and FM <= 2
 *   lost                 R = 1 and FM <= 2
 * The table covers every (R, FM) pair, so every customer has exactly one segment. */
#ifndef PATRON_RFM_H
#define PATRON_RFM_H

#include <stddef.h>
#include <stdint.h>

#define RFM_MAX_BINS 100

typedef enum {
  RFM_CHAMPIONS = 0,
  RFM_LOYAL,
  RFM_POTENTIAL_LOYALISTS,
  RFM_NEW,
  RFM_PROMISING,
  RFM_NEED_ATTENTION,
  RFM_AT_RISK,
  RFM_CANNOT_LOSE,
  RFM_HIBERNATING,
  RFM_LOST,
  RFM_NSEGMENTS
} rfm_segment_t;

typedef struct rfm_input_s {
  int64_t last_ts;    /* time of the customer's last order (seconds) */
  uint32_t frequency; /* number of orders (>= 1 for customers who bought) */
  int64_t monetary;   /* total spend, minor units */
} rfm_input_t;

typedef struct rfm_score_s {
  uint8_t r, f, m;    /* 1..bins */
  uint8_t segment;    /* rfm_segment_t */
} rfm_score_t;

/* Scores n customers into out[0..n) with `bins` bins (2..RFM_MAX_BINS; 5 = quintiles).
 * Returns 0, -1 on bad arguments, -2 when out of memory (heap scratch of 16 bytes/customer). */
int rfm_score(const rfm_input_t *in, size_t n, unsigned bins, rfm_score_t *out);

/* Segment of one (r, f, m) triple scored with `bins` bins (rules above). */
rfm_segment_t rfm_segment(unsigned r, unsigned f, unsigned m, unsigned bins);

/* Stable lower-case name: "champions", "loyal", "potential_loyalists", "new", "promising",
 * "need_attention", "at_risk", "cannot_lose", "hibernating", "lost"; "unknown" otherwise. */
const char *rfm_segment_name(rfm_segment_t s);
/* Segment for a name, or RFM_NSEGMENTS if unknown. */
rfm_segment_t rfm_segment_from_name(const char *name);

/* counts[s] = number of scores in segment s. */
void rfm_count_segments(const rfm_score_t *s, size_t n, uint64_t counts[RFM_NSEGMENTS]);

#endif
