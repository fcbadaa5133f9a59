/* patronctl_html.c -- `patronctl report --html FILE`: one self-contained HTML page.
 *
 * Owns: the page's content and layout. Data come only from existing answers: kpi.report
 * (once over the whole period for the KPIs, cohorts and CLV quantiles, then once per
 * calendar month for revenue by month), segment.list (segment sizes, churn bands) and
 * model.params (the fitted CLV model). Invariants: no script, no external resource (inline
 * CSS and SVG only), so the page renders offline and cannot raise console errors; every
 * text from the daemon is HTML-escaped; money is printed from integer minor units with the
 * currency's exponent; each chart is an <svg> with an id and one element with a class per
 * data point (tests count them); a missing part (no model yet) prints a note instead.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "patronclient.h"
#include "patronctl_util.h"

int patronctl_report_html(patron_client_t *c, const char *file, long long from, long long to,
                          const char *currency, void (*print_error)(const patron_error_t *e));

enum { MAX_MONTHS = 36 };

static void esc(FILE *f, const char *s) {
  for (; s && *s; s++) switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
}

static void money(char *buf, size_t n, long long m, int exp) {
  long long div = 1;
  for (int i = 0; i < exp; i++) div *= 10;
  unsigned long long a = m < 0 ? 0ULL - (unsigned long long)m : (unsigned long long)m;
  if (exp == 0) snprintf(buf, n, "%s%llu", m < 0 ? "-" : "", a);
  else snprintf(buf, n, "%s%llu.%0*llu", m < 0 ? "-" : "", a / (unsigned long long)div, exp,
                a % (unsigned long long)div);
}

static long long ival(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

/* Call method with params (a JSON object, NULL = {}); the parsed result or NULL (reported). */
static json_t *call(patron_client_t *c, const char *method, json_t *params, int *status,
                    void (*print_error)(const patron_error_t *e)) {
  char *ptxt = params ? json_dumps(params, JSON_COMPACT) : NULL;
  int st = 0;
  char *txt = patron_call_json(c, method, ptxt, &st);
  free(ptxt);
  json_t *r = txt ? json_loads(txt, 0, NULL) : NULL;
  if (st != PATRON_OK) {
    patron_error_t e = {.status = st};
    snprintf(e.code, sizeof e.code, "%s", json_string_value(json_object_get(r, "code")) ?: "");
    snprintf(e.message, sizeof e.message, "%s: %s", method,
             json_string_value(json_object_get(r, "message")) ?: "");
    snprintf(e.field, sizeof e.field, "%s", json_string_value(json_object_get(r, "field")) ?: "");
    print_error(&e);
    json_decref(r);
    r = NULL;
  }
  patron_free(txt);
  *status = st;
  return r;
}

/* Horizontal bars: one <rect class="cls"> per item, the label left, the value text right. */
static void hbars(FILE *f, const char *id, const char *cls, int n, const char *const *labels,
                  const double *vals, char texts[][40]) {
  double max = 0;
  for (int i = 0; i < n; i++) max = vals[i] > max ? vals[i] : max;
  int h = 24 * n + 10;
  fprintf(f, "<svg id=\"%s\" width=\"640\" height=\"%d\" viewBox=\"0 0 640 %d\" role=\"img\">\n",
          id, h, h);
  for (int i = 0; i < n; i++) {
    double w = max > 0 ? 380.0 * vals[i] / max : 0;
    fprintf(f, "<text x=\"150\" y=\"%d\" text-anchor=\"end\">", 24 * i + 21);
    esc(f, labels[i]);
    fprintf(f, "</text><rect class=\"%s\" x=\"160\" y=\"%d\" width=\"%.1f\" height=\"18\"/>"
               "<text x=\"%.1f\" y=\"%d\">",
            cls, 24 * i + 7, w, 166 + w, 24 * i + 21);
    esc(f, texts[i]);
    fputs("</text>\n", f);
  }
  fputs("</svg>\n", f);
}

static void revenue_chart(FILE *f, int n, char months[][8], const long long *net, int exp,
                          const char *cur) {
  long long max = 1;
  for (int i = 0; i < n; i++) max = net[i] > max ? net[i] : max;
  int bw = n ? 600 / n : 600;
  fprintf(f, "<svg id=\"revenue\" width=\"720\" height=\"300\" viewBox=\"0 0 720 300\" "
             "role=\"img\">\n<line x1=\"96\" y1=\"250\" x2=\"710\" y2=\"250\" class=\"axis\"/>\n");
  char buf[48];
  for (int i = 0; i < n; i++) {
    double h = net[i] > 0 ? 220.0 * (double)net[i] / (double)max : 0;
    money(buf, sizeof buf, net[i], exp);
    fprintf(f, "<rect class=\"month\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\">"
               "<title>%s: %s %s</title></rect>\n",
            100 + i * bw, 250 - h, bw - 6, h, months[i], buf, cur);
    fprintf(f, "<text x=\"%d\" y=\"266\" font-size=\"10\" text-anchor=\"middle\">%s</text>\n",
            100 + i * bw + (bw - 6) / 2, months[i] + 2);
  }
  money(buf, sizeof buf, max, exp);
  fprintf(f, "<text x=\"92\" y=\"34\" text-anchor=\"end\" font-size=\"10\">%s</text>\n"
             "<text x=\"92\" y=\"250\" text-anchor=\"end\" font-size=\"10\">0</text>\n</svg>\n",
          buf);
}

static void cohort_heatmap(FILE *f, json_t *cohorts) {
  size_t n = json_array_size(cohorts), cols = 0;
  for (size_t i = 0; i < n; i++) {
    size_t k = json_array_size(json_object_get(json_array_get(cohorts, i), "retention"));
    cols = k > cols ? k : cols;
  }
  int w = 120 + 44 * (int)cols, h = 40 + 22 * (int)n;
  fprintf(f, "<svg id=\"cohorts\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
          w, h, w, h);
  for (size_t k = 0; k < cols; k++)
    fprintf(f, "<text x=\"%zu\" y=\"22\" text-anchor=\"middle\" font-size=\"10\">+%zu</text>\n",
            142 + 44 * k, k);
  for (size_t i = 0; i < n; i++) {
    json_t *row = json_array_get(cohorts, i), *ret = json_object_get(row, "retention");
    fprintf(f, "<text x=\"110\" y=\"%zu\" text-anchor=\"end\" font-size=\"11\">", 48 + 22 * i);
    esc(f, json_string_value(json_object_get(row, "month")));
    fprintf(f, " (%lld)</text>\n", ival(row, "size"));
    for (size_t k = 0; k < json_array_size(ret); k++) {
      double r = json_number_value(json_array_get(ret, k));
      int light = (int)(235 - 180 * (r < 0 ? 0 : r > 1 ? 1 : r));
      fprintf(f, "<rect class=\"cell\" x=\"%zu\" y=\"%zu\" width=\"42\" height=\"20\" "
                 "fill=\"rgb(%d,%d,255)\"/><text x=\"%zu\" y=\"%zu\" text-anchor=\"middle\" "
                 "font-size=\"10\" fill=\"%s\">%.0f%%</text>\n",
              121 + 44 * k, 34 + 22 * i, light, light, 142 + 44 * k, 48 + 22 * i,
              light < 140 ? "#fff" : "#000", 100 * r);
    }
  }
  fputs("</svg>\n", f);
}

static void head(FILE *f, const char *cur, long long from, long long to) {
  char a[16], b[16];
  time_t tf = (time_t)from, tt = (time_t)to - 1;
  strftime(a, sizeof a, "%Y-%m-%d", gmtime(&tf));
  strftime(b, sizeof b, "%Y-%m-%d", gmtime(&tt));
  fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
             "<title>Patron report %s to %s</title>\n<style>\n"
             "body{font-family:sans-serif;margin:2em;color:#222;max-width:980px}\n"
             "h2{margin-top:1.6em;border-bottom:1px solid #ccc}\n"
             "table.kpi td{padding:2px 14px 2px 0} svg text{font-size:12px}\n"
             "rect.month{fill:#3b6fb6} rect.seg{fill:#5a9e6f} rect.band{fill:#c8553d}\n"
             "rect.q{fill:#8e6cb0} line.axis{stroke:#888} .note{color:#777}\n"
             "</style></head><body>\n<h1>Patron report</h1>\n"
             "<p>Period %s to %s (UTC), currency ",
          a, b, a, b);
  esc(f, cur);
  fputs(".</p>\n", f);
}

static void kpis(FILE *f, json_t *r, int exp) {
  char g[48], aov[48];
  json_t *rev = json_object_get(r, "revenue");
  money(g, sizeof g, ival(rev, "net"), exp);
  money(aov, sizeof aov, ival(r, "aov"), exp);
  json_t *nps = json_object_get(json_object_get(r, "nps"), "score");
  fprintf(f, "<h2>Key figures</h2>\n<table class=\"kpi\" id=\"kpis\">\n"
             "<tr><td>Net revenue</td><td>%s</td></tr>\n<tr><td>Orders</td><td>%lld</td></tr>\n"
             "<tr><td>Average order value</td><td>%s</td></tr>\n"
             "<tr><td>Customers (new, repeat)</td><td>%lld (%lld, %lld)</td></tr>\n"
             "<tr><td>Repeat rate</td><td>%.1f%%</td></tr>\n"
             "<tr><td>Refund rate</td><td>%.1f%%</td></tr>\n",
          g, ival(r, "orders"), aov, ival(r, "customers"), ival(r, "new_customers"),
          ival(r, "repeat_customers"), 100 * json_number_value(json_object_get(r, "repeat_rate")),
          100 * json_number_value(json_object_get(r, "refund_rate")));
  if (json_is_number(nps))
    fprintf(f, "<tr><td>NPS</td><td>%.0f</td></tr>\n", json_number_value(nps));
  fputs("</table>\n", f);
}

static void clv_section(FILE *f, json_t *clv, json_t *params, int exp) {
  fputs("<h2>Customer lifetime value</h2>\n", f);
  if (!json_is_object(clv)) {
    fputs("<p class=\"note\" id=\"clv-none\">No CLV model fitted yet.</p>\n", f);
    return;
  }
  static const char *const keys[] = {"p10", "p25", "p50", "p75", "p90", "p99", "mean"};
  static const char *const labels[] = {"10th percentile", "25th percentile", "median",
                                       "75th percentile", "90th percentile", "99th percentile",
                                       "mean"};
  double v[7];
  char t[7][40];
  for (int i = 0; i < 7; i++) {
    json_t *x = json_object_get(clv, keys[i]);
    long long m = json_is_integer(x) ? (long long)json_integer_value(x)
                                     : (long long)json_number_value(x);
    v[i] = (double)m;
    money(t[i], sizeof t[i], m, exp);
  }
  fprintf(f, "<p>Predicted CLV over %lld customers (distribution of the per-customer "
             "figure):</p>\n", ival(clv, "customers"));
  hbars(f, "clv", "q", 7, labels, v, t);
  json_t *bg = json_object_get(params, "bgnbd"), *gg = json_object_get(params, "gamma_gamma");
  if (json_is_object(bg))
    fprintf(f, "<p class=\"note\">BG/NBD r=%.4g &alpha;=%.4g a=%.4g b=%.4g (weeks)",
            json_number_value(json_object_get(bg, "r")),
            json_number_value(json_object_get(bg, "alpha")),
            json_number_value(json_object_get(bg, "a")),
            json_number_value(json_object_get(bg, "b")));
  if (json_is_object(gg))
    fprintf(f, "; Gamma-Gamma p=%.4g q=%.4g &gamma;=%.4g",
            json_number_value(json_object_get(gg, "p")),
            json_number_value(json_object_get(gg, "q")),
            json_number_value(json_object_get(gg, "gamma")));
  if (json_is_object(bg)) fputs(".</p>\n", f);
}

static void segments_section(FILE *f, json_t *sl) {
  fputs("<h2>Segments</h2>\n", f);
  json_t *segs = json_object_get(sl, "segments");
  size_t n = json_array_size(segs);
  if (!n || !json_is_integer(json_object_get(sl, "model_version"))) {
    fputs("<p class=\"note\" id=\"segments-none\">No segment model yet.</p>\n", f);
    return;
  }
  const char *labels[16];
  double v[16];
  char t[16][40];
  if (n > 16) n = 16;
  for (size_t i = 0; i < n; i++) {
    json_t *s = json_array_get(segs, i);
    labels[i] = json_string_value(json_object_get(s, "segment")) ?: "?";
    v[i] = (double)ival(s, "count");
    snprintf(t[i], sizeof t[i], "%lld", ival(s, "count"));
  }
  hbars(f, "segments", "seg", (int)n, labels, v, t);
  fputs("<h2>Churn risk</h2>\n", f);
  json_t *cb = json_object_get(sl, "churn_bands");
  if (!json_is_object(cb)) {
    fputs("<p class=\"note\" id=\"churn-none\">No BG/NBD fit: no churn bands.</p>\n", f);
    return;
  }
  static const char *const bands[] = {"low", "medium", "high", "critical"};
  static const char *const blabels[] = {"low (< 25%)", "medium (< 50%)", "high (< 75%)",
                                        "critical"};
  for (int i = 0; i < 4; i++) {
    v[i] = (double)ival(cb, bands[i]);
    snprintf(t[i], sizeof t[i], "%lld", ival(cb, bands[i]));
  }
  hbars(f, "churn", "band", 4, blabels, v, t);
}

int patronctl_report_html(patron_client_t *c, const char *file, long long from, long long to,
                          const char *currency, void (*print_error)(const patron_error_t *e)) {
  if (to < 0) to = (long long)time(NULL);
  struct tm tm;
  time_t tt = (time_t)(to - 1);
  gmtime_r(&tt, &tm);
  if (from < 0) { /* default: the 12 calendar months ending with the one holding `to` */
    tm.tm_mday = 1, tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_mon -= 11;
    from = (long long)timegm(&tm);
  }
  int st;
  json_t *p = json_pack("{sIsI}", "from", (json_int_t)from, "to", (json_int_t)to);
  if (currency) json_object_set_new(p, "currency", json_string(currency));
  json_t *all = call(c, "kpi.report", p, &st, print_error);
  json_decref(p);
  if (!all) return st == PATRON_E_UNAVAILABLE ? 2 : 1;
  const char *cur = json_string_value(json_object_get(all, "currency")) ?: "";
  int exp = currency_exponent(cur);
  /* revenue by calendar month */
  char months[MAX_MONTHS][8];
  long long net[MAX_MONTHS];
  int nm = 0;
  time_t tf = (time_t)from;
  gmtime_r(&tf, &tm);
  tm.tm_mday = 1, tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  while (nm < MAX_MONTHS) {
    long long ms = (long long)timegm(&tm);
    if (ms >= to) break;
    strftime(months[nm], sizeof months[nm], "%Y-%m", &tm);
    tm.tm_mon++;
    long long me = (long long)timegm(&tm);
    json_t *mp = json_pack("{sIsIss}", "from", (json_int_t)(ms > from ? ms : from), "to",
                           (json_int_t)(me < to ? me : to), "currency", cur);
    json_t *mr = call(c, "kpi.report", mp, &st, print_error);
    json_decref(mp);
    if (!mr) {
      json_decref(all);
      return st == PATRON_E_UNAVAILABLE ? 2 : 1;
    }
    net[nm++] = ival(json_object_get(mr, "revenue"), "net");
    json_decref(mr);
  }
  json_t *sl = call(c, "segment.list", NULL, &st, print_error);
  json_t *mpar = call(c, "model.params", NULL, &st, print_error);
  FILE *f = fopen(file, "w");
  if (!f) {
    perror(file);
    json_decref(all), json_decref(sl), json_decref(mpar);
    return 1;
  }
  head(f, cur, from, to);
  kpis(f, all, exp);
  fputs("<h2>Revenue by month</h2>\n", f);
  revenue_chart(f, nm, months, net, exp, cur);
  fputs("<h2>Cohort retention</h2>\n<p>Share of each month's new customers who ordered again "
        "k months later.</p>\n", f);
  json_t *cohorts = json_object_get(all, "cohorts");
  if (json_array_size(cohorts)) cohort_heatmap(f, cohorts);
  else fputs("<p class=\"note\" id=\"cohorts-none\">No cohorts in the period.</p>\n", f);
  clv_section(f, json_object_get(all, "clv"), mpar, exp);
  segments_section(f, sl);
  fputs("<p class=\"note\">Generated by patronctl from kpi.report, segment.list and "
        "model.params.</p>\n</body></html>\n", f);
  int bad = ferror(f);
  if (fclose(f) != 0) bad = 1;
  json_decref(all), json_decref(sl), json_decref(mpar);
  if (bad) {
    fprintf(stderr, "patronctl: cannot write %s\n", file);
    return 1;
  }
  return 0;
}
