#!/usr/bin/env bash
# setup-deps.sh -- install the Debian 12 packages Patron needs to build, test and run its
# demo. Idempotent: installs only what is missing, so a second run does nothing.
# usage: scripts/setup-deps.sh [--bench]   (--bench adds what bench/ needs)
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  libuv1-dev          # event loop
  libmsgpack-dev      # msgpack-c 4.x (pulls libmsgpack-cxx-dev and Boost headers: slow, harmless)
  libssl-dev          # TLS, hashing
  liblmdb-dev lmdb-utils  # embedded store; mdb_copy/mdb_stat for operators
  libinih-dev         # config file parser
  libjansson-dev      # JSON in the client library and patronctl
  libnlopt-dev        # optimiser for the CLV fits
  liblapacke-dev libopenblas-dev  # EASE recommendations: Cholesky solves (LAPACKE over OpenBLAS)
  libpcre2-dev        # $regex in offer eligibility conditions (GrowthBook condition language)
  zlib1g-dev          # gzip'd reference data in tests and bench tools
  libcmocka-dev       # unit tests
  python3 python3-msgpack  # integration tests' independent msgpack-RPC peer; Python adapter
  python3-prometheus-client  # test_metrics: the official client's text-format parser reads /metrics too
  php8.2-cli          # PHP adapter tests (FFI is part of php8.2-common)
  php8.2-fpm libfcgi-bin  # the PHP-FPM preload set-up tested for real (php-fpm8.2 driven by cgi-fcgi)
  wordpress mariadb-server php8.2-mysql  # the WooCommerce plugin tested on a real WordPress (temp DB)
  libpq-dev           # the PostgreSQL store backend (docs/SCALEOUT.md): libpq on the writer and feed threads
  postgresql-15 curl  # the PostgreSQL backend's tests and the Medusa v2 plugin (temp PostgreSQL clusters)
  systemd dpkg-dev file binutils  # systemd-analyze verify; dpkg-shlibdeps, file, readelf for the .deb
  strace              # packaging test: every system call patrond makes passes the unit's filter
  chromium            # renders `patronctl report --html` headless in its test (screenshot, DOM)
  lintian fakeroot    # the .deb test: lintian on the built packages
  clang libclang-rt-14-dev  # libFuzzer targets (tests/fuzz, scripts/fuzz.sh)
  fiu-utils libfiu0   # fault injection: fsync/pwrite failures in a real patrond (test_faults.py)
  cppcheck            # static analysis (scripts/cppcheck.sh)
)
if [ "${1:-}" = "--bench" ]; then
  PKGS+=(redis-server redis-tools valgrind bc bsdextrautils)
fi
# Node.js for the Node adapter: Debian's nodejs + npm unless a node is already installed.
if ! command -v node >/dev/null 2>&1; then
  PKGS+=(nodejs npm)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup-deps: run as root (missing: ${missing[*]})" >&2; exit 1; }
  SUDO=sudo
fi
echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
