/* patronctl_report.c -- `patronctl report`: calls kpi.report and prints the KPI set as a
 * readable table (default) or as JSON (--format json, for tools).
 * Owns: the report's options (--from/--to as seconds or YYYY-MM-DD UTC, --currency,
 * --format) and its rendering. Invariants: money is printed from integer minor units with
 * the currency's exponent (never through a float); a field the daemon sends as nil prints
 * as "-"; exit codes are patronctl's (0 ok, 1 daemon error, 2 unavailable, 64 usage). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "patronclient.h"
#include "patronctl_util.h"

int patronctl_report(patron_client_t *c, int argc, char **argv, int indent, int json_out,
                     void (*print_error)(const patron_error_t *e));
int patronctl_report_html(patron_client_t *c, const char *file, long long from, long long to,
                          const char *currency, void (*print_error)(const patron_error_t *e));

static int parse_time(const char *s, long long *out) {
  char *end;
  long long v = strtoll(s, &end, 10);
  if (*s && !*end && v >= 0) {
    *out = v;
    return 0;
  }
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  end = strptime(s, "%Y-%m-%d", &tm);
  if (!end || *end) return -1;
  *out = (long long)timegm(&tm);
  return 0;
}

/* minor units -> "1234.56" */
static const char *money(json_t *v, int exp, char *buf, size_t n) {
  if (!json_is_integer(v)) return "-";
  long long m = (long long)json_integer_value(v);
  if (exp == 0) {
    snprintf(buf, n, "%lld", m);
    return buf;
  }
  long long div = 1;
  for (int i = 0; i < exp; i++) div *= 10;
  unsigned long long a = m < 0 ? 0ULL - (unsigned long long)m : (unsigned long long)m;
  snprintf(buf, n, "%s%llu.%0*llu", m < 0 ? "-" : "", a / div, exp, a % div);
  return buf;
}

static const char *num(json_t *v, const char *fmt, double scale, char *buf, size_t n) {
  if (!json_is_number(v)) return "-";
  snprintf(buf, n, fmt, json_number_value(v) * scale);
  return buf;
}

static long long ival(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static const char *day(long long ts, char *buf, size_t n) {
  time_t t = (time_t)ts;
  struct tm tm;
  if (!gmtime_r(&t, &tm)) return "?";
  strftime(buf, n, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

static void print_table(json_t *r) {
  char b1[64], b2[64], b3[64], b4[64];
  const char *cur = json_string_value(json_object_get(r, "currency"));
  int ex = currency_exponent(cur ? cur : "");
  json_t *per = json_object_get(r, "period"), *rev = json_object_get(r, "revenue");
  printf("KPI report  %s .. %s UTC  (%s)\n\n", day(ival(per, "from"), b1, sizeof b1),
         day(ival(per, "to"), b2, sizeof b2), cur ? cur : "-");
  printf("%-20s gross %s   refunded %s   net %s\n", "Revenue",
         money(json_object_get(rev, "gross"), ex, b1, sizeof b1),
         money(json_object_get(rev, "refunded"), ex, b2, sizeof b2),
         money(json_object_get(rev, "net"), ex, b3, sizeof b3));
  printf("%-20s %lld   AOV %s\n", "Orders", ival(r, "orders"),
         money(json_object_get(r, "aov"), ex, b1, sizeof b1));
  printf("%-20s %lld   new %lld   repeat %lld (%s %%)\n", "Customers", ival(r, "customers"),
         ival(r, "new_customers"), ival(r, "repeat_customers"),
         num(json_object_get(r, "repeat_rate"), "%.1f", 100, b1, sizeof b1));
  printf("%-20s %s orders per customer\n", "Purchase frequency",
         num(json_object_get(r, "purchase_frequency"), "%.2f", 1, b1, sizeof b1));
  printf("%-20s %s %% of revenue, %s %% of orders (%lld)\n", "Refunds",
         num(json_object_get(r, "refund_rate"), "%.1f", 100, b1, sizeof b1),
         num(json_object_get(r, "refund_order_rate"), "%.1f", 100, b2, sizeof b2),
         ival(r, "refunded_orders"));
  json_t *ret = json_object_get(r, "retention");
  printf("%-20s %s %% (%lld of %lld buyers of the previous period), churn %s %%\n",
         "Retention", num(json_object_get(ret, "retention"), "%.1f", 100, b1, sizeof b1),
         ival(ret, "retained"), ival(ret, "base"),
         num(json_object_get(ret, "churn"), "%.1f", 100, b2, sizeof b2));
  json_t *nps = json_object_get(r, "nps"), *csat = json_object_get(r, "csat");
  printf("%-20s %s  (%lld responses: %lld promoters, %lld passives, %lld detractors)\n", "NPS",
         num(json_object_get(nps, "score"), "%.1f", 1, b1, sizeof b1), ival(nps, "responses"),
         ival(nps, "promoters"), ival(nps, "passives"), ival(nps, "detractors"));
  printf("%-20s %s %%  (%lld responses, %lld satisfied)\n", "CSAT",
         num(json_object_get(csat, "score"), "%.1f", 1, b1, sizeof b1),
         ival(csat, "responses"), ival(csat, "satisfied"));
  json_t *clv = json_object_get(r, "clv");
  if (json_is_object(clv)) {
    const char *cc = json_string_value(json_object_get(clv, "currency"));
    int ce = currency_exponent(cc ? cc : "");
    printf("%-20s model v%lld, %lld customers, %s, as of %s\n", "CLV", ival(r, "model_version"),
           ival(clv, "customers"), cc ? cc : "-", day(ival(clv, "as_of"), b1, sizeof b1));
    printf("%-20s mean %s  p10 %s  p50 %s  p90 %s", "",
           money(json_object_get(clv, "mean"), ce, b1, sizeof b1),
           money(json_object_get(clv, "p10"), ce, b2, sizeof b2),
           money(json_object_get(clv, "p50"), ce, b3, sizeof b3),
           money(json_object_get(clv, "p90"), ce, b4, sizeof b4));
    printf("  p99 %s\n", money(json_object_get(clv, "p99"), ce, b1, sizeof b1));
  } else {
    printf("%-20s -  (no CLV fit yet: see model.status)\n", "CLV");
  }
  const char *key;
  json_t *v;
  json_t *segs = json_object_get(r, "segments"), *bands = json_object_get(r, "churn_bands");
  if (json_is_object(segs)) {
    printf("%-20s", "Segments");
    int col = 0;
    json_object_foreach(segs, key, v) {
      if (col && col % 3 == 0) printf("\n%-20s", "");
      printf(" %-20s %6lld", key, (long long)json_integer_value(v));
      col++;
    }
    printf("\n");
  }
  if (json_is_object(bands)) {
    printf("%-20s", "Churn-risk bands");
    json_object_foreach(bands, key, v) printf(" %s %lld ", key, (long long)json_integer_value(v));
    printf("\n");
  }
  json_t *coh = json_object_get(r, "cohorts");
  if (json_array_size(coh)) {
    printf("\nCohort retention (%% of each first-order month's customers buying k months later)\n");
    size_t width = 0, i;
    json_array_foreach(coh, i, v) {
      size_t n = json_array_size(json_object_get(v, "retention"));
      if (n > width) width = n;
    }
    if (width > 24) width = 24;
    printf("  %-8s %7s", "month", "size");
    for (size_t k = 0; k < width; k++) printf(" %5s%-2zu", "+", k);
    printf("\n");
    json_array_foreach(coh, i, v) {
      printf("  %-8s %7lld", json_string_value(json_object_get(v, "month")), ival(v, "size"));
      json_t *row = json_object_get(v, "retention");
      for (size_t k = 0; k < json_array_size(row) && k < width; k++)
        printf(" %7.1f", 100 * json_number_value(json_array_get(row, k)));
      printf("\n");
    }
  }
}

int patronctl_report(patron_client_t *c, int argc, char **argv, int indent, int json_out,
                     void (*print_error)(const patron_error_t *e)) {
  static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                       {"to", required_argument, NULL, 't'},
                                       {"currency", required_argument, NULL, 'c'},
                                       {"format", required_argument, NULL, 'F'},
                                       {"html", required_argument, NULL, 'H'},
                                       {NULL, 0, NULL, 0}};
  const char *html = NULL;
  long long from = -1, to = -1;
  const char *currency = NULL;
  int json = json_out, ch;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
    case 'f':
    case 't':
      if (parse_time(optarg, ch == 'f' ? &from : &to)) {
        fprintf(stderr, "patronctl: --%s: expected seconds or YYYY-MM-DD, got '%s'\n",
                ch == 'f' ? "from" : "to", optarg);
        return 64;
      }
      break;
    case 'c': currency = optarg; break;
    case 'H': html = optarg; break;
    case 'F':
      if (!strcmp(optarg, "json")) json = 1;
      else if (!strcmp(optarg, "table")) json = 0;
      else {
        fprintf(stderr, "patronctl: --format is table or json\n");
        return 64;
      }
      break;
    default:
      fprintf(stderr, "usage: patronctl report [--from T] [--to T] [--currency XXX] "
                      "[--format table|json] [--html FILE]\n");
      return 64;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "patronctl: report: unexpected argument '%s'\n", argv[optind]);
    return 64;
  }
  if (html) return patronctl_report_html(c, html, from, to, currency, print_error);
  json_t *p = json_object();
  if (from >= 0) json_object_set_new(p, "from", json_integer(from));
  if (to >= 0) json_object_set_new(p, "to", json_integer(to));
  if (currency) json_object_set_new(p, "currency", json_string(currency));
  char *ptxt = json_dumps(p, JSON_COMPACT);
  json_decref(p);
  patron_error_t err;
  void *mp = NULL, *res = NULL;
  size_t mplen = 0, reslen = 0;
  int rc = ptxt ? patron_json_to_msgpack(ptxt, strlen(ptxt), &mp, &mplen, &err) : PATRON_E_INVALID;
  free(ptxt);
  if (rc == PATRON_OK) rc = patron_call(c, "kpi.report", mp, mplen, &res, &reslen, &err);
  patron_free(mp);
  if (rc != PATRON_OK) {
    print_error(&err);
    patron_free(res);
    return rc == PATRON_E_UNAVAILABLE ? 2 : rc == PATRON_E_INVALID ? 64 : 1;
  }
  char *txt = patron_msgpack_to_json(res, reslen, json ? indent : 0);
  patron_free(res);
  if (!txt) {
    fprintf(stderr, "patronctl: cannot render the report\n");
    return 1;
  }
  int out = 0;
  if (json) {
    printf("%s\n", txt);
  } else {
    json_error_t je;
    json_t *r = json_loads(txt, 0, &je);
    if (!r) {
      fprintf(stderr, "patronctl: malformed report: %s\n", je.text);
      out = 1;
    } else {
      print_table(r);
      json_decref(r);
    }
  }
  patron_free(txt);
  return out;
}
