#!/usr/bin/env bash
# pip_install_test.sh -- patron-client as Python users get it: `pip install` of adapters/python
# into a fresh venv (offline: --no-index --no-build-isolation, setuptools from Debian's
# python3-setuptools through --system-site-packages), then `import patron` from outside the
# source tree, a ping and an asyncio ping against the patrond run.sh started.
# Owns: its temp venv. Invariant: exit 77 when python3-venv or setuptools is missing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PYTHON:-/usr/bin/python3}
"$py" -c 'import venv, setuptools' 2>/dev/null || { echo "skip pip-install: python3-venv/setuptools missing"; exit 77; }
tmp=$(mktemp -d /tmp/patron-pip.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL pip-install: $*"; exit 1; }
"$py" -m venv --system-site-packages "$tmp/venv" || fail "venv"
cp -r "$root/adapters/python" "$tmp/src"  # a build writes into the source dir: keep the tree clean
"$tmp/venv/bin/pip" install --quiet --no-index --no-build-isolation "$tmp/src" >"$tmp/pip.log" 2>&1 ||
  { cat "$tmp/pip.log"; fail "pip install"; }
echo "ok   pip-install: pip install adapters/python into a venv"
cd "$tmp" && "$tmp/venv/bin/python" - <<'PY' || fail "import and ping"
import asyncio, patron, sys
assert "/venv/" in patron.__file__, patron.__file__
print("ok   pip-install: import patron from", patron.__file__)
r = patron.Client().ping()
assert r.get("pong") is True, r
async def main():
    async with patron.AsyncClient() as c:
        return await c.ping()
r2 = asyncio.run(main())
assert r2.get("pong") is True, r2
print("ok   pip-install: ping (blocking and asyncio)")
PY
"$tmp/venv/bin/pip" show patron-client | grep "^Version: 0.1.0" >/dev/null || fail "pip show"
echo "ok   pip-install: pip show patron-client"
