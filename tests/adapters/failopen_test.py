#!/usr/bin/python3
"""failopen_test.py -- the fail-open contract of adapters/python/patron.py, real patrond.

Owns: the Python fail-open checks run by tests/adapters/run.sh (python-failopen): library
missing, socket missing, circuit breaker opening after N failures and closing on a probe
when the daemon comes back, a SIGSTOPped daemon costing one timeout per page, the shared
page budget, typed-helper fallbacks, and the asyncio API's concurrency.
Invariants: the daemon "comes back" through a symlink that starts dangling and is then
pointed at the live socket (no restart, no sleeps: waits are bounded polls on state);
every timing bound is relative to the timeout under test, and sits between the right
behaviour and the wrong one (e.g. < 420 ms for one 150 ms timeout, against 450 for three),
so a loaded CI host does not fail it."""
import asyncio
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402  (also puts adapters/python on the path)
import patron  # noqa: E402

check = testlib.Checks("python-failopen")
SOCK = os.environ["PATRON_SOCKET"]
PID = int(os.environ["PATRON_TEST_PID"])



def timed(fn):
    t0 = time.monotonic()
    try:
        r = fn()
    except patron.PatronError as e:
        r = e
    return r, (time.monotonic() - t0) * 1000


tmp = tempfile.mkdtemp(prefix="patron-fo-")

# 1. library missing: Unavailable, typed fallbacks, no exception from the constructor
c = patron.Client(os.path.join(tmp, "x.sock"), 150, library=os.path.join(tmp, "nolib.so"),
                  breaker=patron.Breaker(3, 60000))
e, ms = timed(lambda: c.call("ping"))
check("library missing -> PatronUnavailable", isinstance(e, patron.PatronUnavailable)
      and e.code == "unavailable" and "could not be loaded" in e.message, vars(e) if
      isinstance(e, Exception) else e)
check("library missing -> recs_cart [] / offer None / tier unknown / points None",
      c.recs_cart(["a"]) == [] and c.offer("c", {"currency": "EUR", "lines": []}) is None and c.points("c") is None
      and c.tier("c") == "unknown")
check("bad input is still an error, not a fallback",
      isinstance(timed(lambda: c.call("ping", [1]))[0], patron.PatronError)
      and not timed(lambda: c.call("ping", [1]))[0].unavailable)

# 2. socket missing, breaker opens after N, probe closes it when the daemon returns
link = os.path.join(tmp, "link.sock")
br = patron.Breaker(failures=3, cooldown_ms=200)
c = patron.Client(link, 1000, breaker=br)
codes = []
for _ in range(3):
    e, ms = timed(lambda: c.call("ping"))
    codes.append((getattr(e, "code", e), ms < 500))
check("socket missing -> unavailable at once, 3 times", codes == [("unavailable", True)] * 3,
      codes)
check("breaker open after 3 failures", br.state == "open", br.state)
os.symlink(SOCK, link)  # the daemon is back
e, ms = timed(lambda: c.call("ping"))
check("open breaker fails at once even though the daemon is back",
      getattr(e, "code", None) == "circuit_open" and ms < 200, (e, ms))
check("recs_cart falls back to [] while open", c.recs_cart(["x"]) == [])
deadline = time.monotonic() + 5
while br.state == "open" and time.monotonic() < deadline:  # cool-down: poll the state
    time.sleep(0.01)
r, ms = timed(lambda: c.call("ping"))
check("probe after the cool-down reaches the daemon and closes the breaker",
      isinstance(r, dict) and r.get("pong") is True and br.state == "closed", (r, br.state))

# 3. a SIGSTOPped daemon costs one timeout per page, not one per call
br = patron.Breaker(failures=3, cooldown_ms=60000)
c = patron.Client(SOCK, 150, breaker=br)
check("live daemon answers", c.ping().get("pong") is True)
os.kill(PID, signal.SIGSTOP)
try:
    t0 = time.monotonic()
    results = [timed(lambda: c.call("customer.get", {"customer_id": "c1"}))[0],
               timed(lambda: c.recs_cart(["a", "b"]))[0],
               timed(lambda: c.tier("c1"))[0]]
    ms = (time.monotonic() - t0) * 1000
    check("hung daemon: page of 3 calls costs one 150 ms timeout (%.0f ms)" % ms,
          140 <= ms < 420 and getattr(results[0], "code", None) == "timeout"
          and results[1] == [] and results[2] == "unknown", (results, ms))

    # 4. one page budget shared by all calls (breaker kept out of it)
    c2 = patron.Client(SOCK, 1000, breaker=patron.Breaker(1000, 0))
    page = patron.Budget(200)
    t0 = time.monotonic()
    errs = [timed(lambda: c2.call("ping", budget=page))[0] for _ in range(3)]
    ms = (time.monotonic() - t0) * 1000
    check("budget of 200 ms: 3 calls at 1000 ms timeout take ~200 ms (%.0f ms)" % ms,
          # the 2nd call may start with a ms left (then it times out at once): either way
          # the budget ends the page
          180 <= ms < 600 and [getattr(x, "code", None) for x in errs][::2] ==
          ["timeout", "budget_exhausted"] and all(isinstance(x, patron.PatronUnavailable) for x in errs),
          (errs, ms))

    # 5. asyncio: 5 concurrent calls against the stopped daemon finish within ~the timeout
    async def five():
        ac = patron.AsyncClient(SOCK, 150, breaker=patron.Breaker(1000, 0), concurrency=5)
        os.kill(PID, signal.SIGCONT)  # its 5 threads open and connect their handles first
        await asyncio.gather(*[ac.call("ping", timeout_ms=2000) for _ in range(5)])
        os.kill(PID, signal.SIGSTOP)
        t0 = time.monotonic()
        rs = await asyncio.gather(*[ac.call("ping") for _ in range(5)], return_exceptions=True)
        ms = (time.monotonic() - t0) * 1000
        await ac.close()
        return rs, ms
    rs, ms = asyncio.run(five())
    # one after the other they would take 5 x 150 = 750 ms; the bound leaves room for a
    # loaded CI host
    check("asyncio: 5 concurrent calls, 150 ms timeout, stopped daemon: all done in %.0f ms"
          % ms, all(isinstance(x, patron.PatronUnavailable) for x in rs) and ms < 450, (rs, ms))
finally:
    os.kill(PID, signal.SIGCONT)


async def live():
    async with patron.AsyncClient(SOCK, 1000, breaker=patron.Breaker(3, 0)) as ac:
        pong, items = await asyncio.gather(ac.ping(), ac.recs_cart(["nothing-here"]))
        return pong, items
pong, items = asyncio.run(live())
check("asyncio live: ping and recs_cart", pong.get("pong") is True and isinstance(items, list),
      (pong, items))

os.unlink(link)
os.rmdir(tmp)
check.summary()
