/* recs_eval_offline.c -- runs the offline protocol of EVALUATION.md (in process, against the
 * recs core) on an order-line CSV (.gz read through `gzip -dc`) and prints HR/NDCG/MRR/
 * coverage@10 for the plain-cosine baseline, the co-occurrence model (cosine^2, the earlier
 * default) and the shipped default (models.recs_model = sparse_ease), or for one
 * configuration given with options. Owns nothing global; exits non-zero on error.
 * usage: recs_eval_offline [FILE] [--protocol test|validation] [--cart-only 0|1]
 *          [--only baseline|cooc|default] [--k N] [model options]
 *   --protocol: test = EVALUATION.md's cases (the default); validation = the split every knob
 *   is chosen on (recs_eval_to_validation: test invoices dropped, data before 2011-09-01,
 *   leave-last-basket-out again). --cart-only 1 answers without the customer's history (new
 *   customers). model options (applied to a "custom" run on top of the default):
 *   --model cooc|ease|sparse_ease|auto --lambda X --neighbours N --max-items N
 *   --sim cooc|cosine|lift|jaccard --alpha X --shrink X --pop-damp X --power X --row-norm 0|1
 *   --topk N --ease-topk N --min-support N --half-life DAYS --blend X --ease-pop-damp X
 *   --trending 0|1 (fill empty slots from trending first) --history-weight X[,X...]
 *   --repurchase X[,X...] --cycle X[,X...] (the repurchase-cycle weight) --delta-weight X[,X...]
 *   (lists: one build, one row per combination, labelled h=..,r=..,c=..,d=..)
 *   --delta-days N: the last N days of training invoices go to the incremental delta instead
 *   of the build (the state between two rebuilds; every run, also baseline/cooc/default) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recs/recs_eval.h"

/* Default data: PATRON_SHARED_DATA if defined, else ../shared/data beside the source tree. */
static void default_path(char *buf, size_t cap) {
#ifdef PATRON_SHARED_DATA
  snprintf(buf, cap, "%s", PATRON_SHARED_DATA);
#else
  const char *src = __FILE__, *slash = strrchr(src, '/');
  int n = slash ? (int)(slash - src) : 1;
  snprintf(buf, cap, "%.*s/../../shared/data", n, slash ? src : ".");
#endif
  size_t l = strlen(buf);
  snprintf(buf + l, cap - l, "/online_retail/online_retail_2010-12_2011-10.csv.gz");
}

static size_t parse_list(const char *v, double *out) {
  size_t n = 0;
  for (char *end; n < 16 && *v; v = *end == ',' ? end + 1 : end) {
    out[n++] = strtod(v, &end);
    if (end == v) break;
  }
  return n;
}

static void print_row(const char *name, const recs_eval_metrics_t *m) {
  printf("| %-13s | %.4f | %.4f | %.4f | %.4f | %6.2f | %7.2f |\n", name, m->hr, m->ndcg, m->mrr,
         m->coverage, m->build_seconds, m->score_us_mean);
}

int main(int argc, char **argv) {
  char defpath[1024];
  default_path(defpath, sizeof defpath);
  const char *path = defpath;
  const char *only = NULL, *protocol = "test";
  size_t k = 10;
  unsigned flags = 0;
  recs_config_t cus;
  recs_params_t pcus;
  recs_config_default(&cus);
  recs_params_default(&pcus);
  int custom = 0;
  double hws[16], rws[16], cws[16], dws[16];
  size_t nhw = 0, nrw = 0, ncw = 0, ndw = 0;
  uint32_t delta_days = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (a[0] != '-') { path = a; continue; }
    if (!v) { fprintf(stderr, "missing value for %s\n", a); return 2; }
    i++;
    if (!strcmp(a, "--only")) only = v;
    else if (!strcmp(a, "--protocol")) protocol = v;
    else if (!strcmp(a, "--cart-only")) flags = atoi(v) ? RECS_EVAL_CART_ONLY : 0;
    else if (!strcmp(a, "--k")) k = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--delta-days")) delta_days = (uint32_t)atoi(v);
    else {
      custom = 1;
      if (!strcmp(a, "--sim"))
        cus.sim = !strcmp(v, "cooc") ? RECS_SIM_COOC : !strcmp(v, "lift") ? RECS_SIM_LIFT
                : !strcmp(v, "jaccard") ? RECS_SIM_JACCARD : RECS_SIM_COSINE;
      else if (!strcmp(a, "--model")) {
        if (recs_model_parse(v, &cus.model)) { fprintf(stderr, "bad --model %s\n", v); return 2; }
      } else if (!strcmp(a, "--lambda")) cus.ease_lambda = atof(v);
      else if (!strcmp(a, "--neighbours")) cus.ease_neighbours = (uint32_t)atoi(v);
      else if (!strcmp(a, "--max-items")) cus.ease_max_items = (uint32_t)atoi(v);
      else if (!strcmp(a, "--alpha")) cus.alpha = atof(v);
      else if (!strcmp(a, "--shrink")) cus.shrink = atof(v);
      else if (!strcmp(a, "--pop-damp")) cus.pop_damp = atof(v);
      else if (!strcmp(a, "--power")) cus.power = atof(v);
      else if (!strcmp(a, "--row-norm")) cus.row_norm = atoi(v);
      else if (!strcmp(a, "--topk")) cus.top_k = (uint32_t)atoi(v);
      else if (!strcmp(a, "--ease-topk")) cus.ease_top_k = (uint32_t)atoi(v);
      else if (!strcmp(a, "--min-support")) cus.min_support = (uint32_t)atoi(v);
      else if (!strcmp(a, "--half-life")) cus.half_life_days = atof(v);
      else if (!strcmp(a, "--blend")) cus.ease_blend = atof(v);
      else if (!strcmp(a, "--ease-pop-damp")) cus.ease_pop_damp = atof(v);
      else if (!strcmp(a, "--trending")) pcus.fallback_trending = atoi(v);
      else if (!strcmp(a, "--history-weight")) nhw = parse_list(v, hws);
      else if (!strcmp(a, "--repurchase")) nrw = parse_list(v, rws);
      else if (!strcmp(a, "--cycle")) ncw = parse_list(v, cws);
      else if (!strcmp(a, "--delta-weight")) ndw = parse_list(v, dws);
      else { fprintf(stderr, "unknown option %s\n", a); return 2; }
    }
  }
  size_t pl = strlen(path);
  FILE *f;
  int piped = pl > 3 && !strcmp(path + pl - 3, ".gz");
  if (piped) {
    char *cmd = malloc(pl * 4 + 32), *w = cmd;
    w += sprintf(w, "gzip -dc -- '");
    for (const char *c = path; *c; c++) {
      if (*c == '\'') { memcpy(w, "'\\''", 4); w += 4; } else *w++ = *c;
    }
    strcpy(w, "'");
    f = popen(cmd, "r");
    free(cmd);
  } else {
    f = fopen(path, "r");
  }
  if (!f) { perror(path); return 1; }
  perr_info_t e = {0};
  recs_eval_data_t *d;
  int rc = recs_eval_load(f, &d, &e);
  int st = piped ? pclose(f) : fclose(f);
  if (rc) { fprintf(stderr, "load: %s\n", e.message); return 1; }
  if (st != 0) { fprintf(stderr, "reading %s failed\n", path); return 1; }
  if (strcmp(protocol, "test") && strcmp(protocol, "validation")) {
    fprintf(stderr, "--protocol: test or validation\n");
    recs_eval_free(d);
    return 2;
  }
  if (!strcmp(protocol, "validation") &&
      recs_eval_to_validation(d, RECS_EVAL_VALIDATION_CUTOFF, &e)) {
    fprintf(stderr, "validation split: %s\n", e.message);
    recs_eval_free(d);
    return 1;
  }
  printf("# recs offline evaluation (EVALUATION.md protocol), protocol %s%s, k=%zu\n# file: %s\n",
         protocol, flags ? " (cart only: no history)" : "", k, path);
  printf("# command: recs_eval_offline");
  for (int i = 1; i < argc; i++) printf(" %s", argv[i]);
  printf("\n");
  recs_config_t base, cooc, def;
  recs_config_baseline_cosine(&base);
  recs_config_default(&cooc);
  recs_config_shipped(&def);
  recs_params_t pbase, pcooc, pdef;
  recs_params_default(&pbase);
  pbase.repurchase_weight = 0;
  pbase.history_weight = 0;
  recs_params_default(&pcooc);
  recs_params_default(&pdef);
  recs_params_for_model(&pdef, def.model);
  struct { const char *name; recs_config_t *c; recs_params_t *p; } runs[4] = {
      {"baseline", &base, &pbase}, {"cooc", &cooc, &pcooc}, {"default", &def, &pdef},
      {"custom", &cus, &pcus}};
  int printed = 0;
  recs_params_t grid[256];
  recs_eval_metrics_t ms[256];
  char labels[256][64];
  size_t ng = 0;
  for (size_t h = 0; h < (nhw ? nhw : 1); h++)
    for (size_t q = 0; q < (nrw ? nrw : 1); q++)
      for (size_t y = 0; y < (ncw ? ncw : 1); y++)
        for (size_t w = 0; w < (ndw ? ndw : 1) && ng < 256; w++) {
          grid[ng] = pcus;
          if (nhw) grid[ng].history_weight = hws[h];
          if (nrw) grid[ng].repurchase_weight = rws[q];
          if (ncw) grid[ng].cycle_weight = cws[y];
          if (ndw) grid[ng].delta_weight = dws[w];
          snprintf(labels[ng], sizeof labels[0], "h=%g,r=%g,c=%g,d=%g", grid[ng].history_weight,
                   grid[ng].repurchase_weight, grid[ng].cycle_weight, grid[ng].delta_weight);
          ng++;
        }
  for (int r = 0; r < 4; r++) {
    if (r == 3 && !custom) continue;
    if (r < 3 && (custom || (only && strcmp(only, runs[r].name)))) continue;
    size_t np = r == 3 ? ng : 1;
    if ((rc = recs_eval_run_delta(d, runs[r].c, r == 3 ? grid : runs[r].p, np, k, flags,
                                  delta_days, ms, &e))) {
      fprintf(stderr, "%s: %s\n", runs[r].name, e.message);
      recs_eval_free(d);
      return 1;
    }
    for (size_t g = 0; g < np; g++) {
      const recs_eval_metrics_t m = ms[g];
    if (!printed++) {
      printf("# rows %zu, kept %zu, invoices %zu, customers %zu, training baskets %zu, "
             "items %zu, cases %zu, hidden unseen in training %zu (%.4f)\n",
             m.rows, m.kept_rows, m.invoices, m.customers, m.train_baskets, m.train_items,
             m.cases, m.hidden_unseen, m.cases ? (double)m.hidden_unseen / m.cases : 0);
      printf("| config    | HR@%-3zu| NDCG   | MRR    | cov    | build s | us/req  |\n", k);
      printf("|---|---|---|---|---|---|---|\n");
    }
    print_row(r == 3 && np > 1 ? labels[g] : runs[r].name, &m);
    }
  }
  recs_eval_free(d);
  return 0;
}
