#!/bin/sh
# tests/ctl/report_html.sh PATROND PATRONCTL CHROMIUM ARTEFACT_DIR -- `patronctl report
# --html`: a synthetic shop (400 customers over 6 months, imported with patronctl import),
# models fitted as of the period's end, the page rendered by headless Chromium. Checks: the
# page has no <script> and no external reference, Chromium logs no console message for it
# (a page with a script error must log one: the check can fail), and the rendered DOM has
# the charts' elements: one bar per month, one heatmap cell per cohort month and later
# month, 7 CLV quantile bars, 10 segments, 4 churn bands. The screenshot stays in
# ARTEFACT_DIR/report.png (and the page in report.html).
set -u
patrond=$1
ctl=$2
chromium=$3
art=$4
tmp=$(mktemp -d)
. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
mkdir -p "$art"
start "$tmp/data"

# 400 customers, first order in month (i % 6) of 2024-01..2024-06, then repeat orders drawn
# from a fixed LCG: deterministic, enough repeat buyers for the BG/NBD and Gamma-Gamma fits.
awk 'BEGIN {
  s = 12345; n = 0; print "order_id,customer_id,ts,currency,product_id,quantity,unit_price"
  for (c = 0; c < 400; c++) {
    t = 1704067200 + (c % 6) * 2592000 + (c * 3571) % 2000000
    while (t < 1719792000) {
      n++; k = 1 + (s % 3)
      for (l = 0; l < k; l++) {
        s = (s * 1103515245 + 12345) % 2147483648
        printf "o%d,c%d,%d,EUR,p%d,%d,%d.%02d\n", n, c, t, s % 40, 1 + s % 3, 5 + s % 60, s % 100
      }
      s = (s * 1103515245 + 12345) % 2147483648
      t += 86400 * (5 + s % (20 + (c % 7) * 15))
      if (s % 10 < c % 4) break
    }
  }
}' >"$tmp/orders.csv"
"$ctl" -s "$tmp/s.sock" import orders "$tmp/orders.csv" --no-progress >"$tmp/imp" 2>&1 &&
    ok "imported: $(cat "$tmp/imp")" || fail "import: $(cat "$tmp/imp")"
"$ctl" -s "$tmp/a.sock" -t 60000 call model.refit '{"as_of": 1719792000}' >/dev/null 2>&1 ||
    fail "model.refit"
"$ctl" -s "$tmp/s.sock" -t 60000 report --html "$art/report.html" --from 2024-01-01 --to 2024-07-01 \
    && ok "report --html written" || fail "report --html"
page=$art/report.html
grep -qi '<script' "$page" && fail "page has a script" || ok "no script in the page"
grep -Eqi '(src|href)=|url\(|https?:' "$page" && fail "page references something outside" ||
    ok "self-contained (no src/href/url())"

run_chromium() {  # run_chromium PROFILE_DIR ARGS... (fresh empty profile each time)
    prof=$1; shift
    rm -rf "$prof"; mkdir -p "$prof"
    timeout 50 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$prof" --enable-logging=stderr --v=0 "$@"
}
run_chromium "$tmp/prof1" --window-size=1000,2600 --screenshot="$art/report.png" \
    "file://$page" >/dev/null 2>"$tmp/shot.log"
[ -s "$art/report.png" ] && ok "screenshot $art/report.png" || fail "no screenshot: $(tail -3 "$tmp/shot.log")"
grep -q 'CONSOLE' "$tmp/shot.log" && fail "console messages: $(grep CONSOLE "$tmp/shot.log")" ||
    ok "no console message"
printf '<!DOCTYPE html><html><body><script>no_such_function();</script></body></html>\n' >"$tmp/bad.html"
run_chromium "$tmp/prof2" --screenshot="$tmp/bad.png" "file://$tmp/bad.html" >/dev/null 2>"$tmp/bad.log"
grep -q 'CONSOLE.*no_such_function' "$tmp/bad.log" && ok "control: a script error is logged" ||
    fail "control page's error not seen (the console check cannot fail)"

run_chromium "$tmp/prof3" --dump-dom "file://$page" >"$tmp/dom.html" 2>/dev/null
count() { grep -o "class=\"$1\"" "$tmp/dom.html" | wc -l; }
[ "$(count month)" -eq 6 ] && ok "6 monthly revenue bars" || fail "month bars: $(count month)"
[ "$(count cell)" -eq 21 ] && ok "21 cohort cells (6+5+...+1)" || fail "cohort cells: $(count cell)"
[ "$(count q)" -eq 7 ] && ok "7 CLV quantile bars" || fail "clv bars: $(count q)"
[ "$(count seg)" -eq 10 ] && ok "10 segment bars" || fail "segment bars: $(count seg)"
[ "$(count band)" -eq 4 ] && ok "4 churn bands" || fail "churn bands: $(count band)"
for id in revenue cohorts clv segments churn kpis; do
    grep -q "id=\"$id\"" "$tmp/dom.html" || fail "no #$id in the DOM"
done
stop
finish
