#!/usr/bin/python3
"""adapter_test.py -- integration test of adapters/python/patron.py against the real patrond.

Owns: the Python half of tests/adapters/run.sh (which starts patrond and exports
PATRON_SOCKET, PATRON_CLIENT_LIB, PATRON_TEST_PID). Invariants: talks to the daemon only
through patron.py -> libpatronclient; ends by stopping (SIGSTOP) and then killing the
daemon, checking that both give the unavailable indication within the timeout."""
import asyncio
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402  (also puts adapters/python on the path)
import patron  # noqa: E402

check = testlib.Checks("python")



def expect_error(fn, code):
    try:
        fn()
    except patron.PatronError as e:
        return e
    raise AssertionError("no error, expected " + code)


tag = "py%d" % os.getpid()
# cooldown 0: every call after a failure probes, so each failure below is seen as is
c = patron.Client(timeout_ms=2000, breaker=patron.Breaker(failures=1000, cooldown_ms=0))
r = c.ping()
check("ping", r.get("pong") is True, r)
r = c.call("product.upsert", {"product_id": tag + "-mug", "name": "Mug", "price": 1299,
                              "currency": "EUR"})
check("product.upsert", r.get("product_id") == tag + "-mug", r)
r = c.call("product.get", {"product_id": tag + "-mug"})
check("product.get price is int", r.get("price") == 1299 and isinstance(r["price"], int), r)
order = {"order_id": tag + "-o1", "customer_id": tag + "-c1", "ts": 1700000000,
         "currency": "EUR", "lines": [{"product_id": tag + "-mug", "quantity": 2,
                                       "unit_price": 1299}]}
r = c.call("order.record", order)
check("order.record", isinstance(r, dict) and r.get("total") == 2598, r)
r = c.call("order.record", order)
check("order.record replay is a no-op success", isinstance(r, dict), r)
r = c.call("customer.get", {"customer_id": tag + "-c1"})
check("customer.get order_count", r.get("order_count") == 1, r)
tot = (r.get("totals") or [{}])[0]
check("customer.get net spend", tot.get("net") == 2598 and isinstance(tot.get("net"), int), r)
e = expect_error(lambda: c.call("product.upsert", {"product_id": 5}), "invalid_params")
check("invalid_params error", type(e) is patron.PatronError and e.code == "invalid_params"
      and e.field == "product_id" and not e.unavailable and e.status == patron.E_REMOTE,
      vars(e))
e = expect_error(lambda: c.call("no.such.method"), "unknown_method")
check("unknown_method error", e.code == "unknown_method", vars(e))
e = expect_error(lambda: c.call("order.record", dict(order, lines=[{"product_id": "x",
                 "quantity": -1, "unit_price": 1}])), "invalid_params")
check("negative quantity refused", e.code == "invalid_params", vars(e))

# loyalty and offers through the typed helpers (program and offer set on the admin socket)
fixture = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "loyalty_offer.json")))
admin = patron.Client(socket_path=os.environ["PATRON_ADMIN_SOCKET"], timeout_ms=5000,
                      breaker=patron.Breaker())
admin.call("loyalty.program.set", fixture["program"])
admin.call("offers.set", fixture["offer"])
try:  # a daemon that rebuilds its catalogue on a worker: wait until decide serves the offer
    admin.call("offers.reload")
except patron.PatronError as e:
    if e.code != "unknown_method":  # older daemons install the catalogue with offers.set
        raise
admin.close()
cust = tag + "-loyal"
check("tier/points of a customer without loyalty activity: unknown / 0",
      c.tier(cust) == patron.UNKNOWN_TIER and c.points(cust) == 0, (c.tier(cust), c.points(cust)))
c.call("order.record", dict(order, order_id=tag + "-o2", customer_id=cust))  # 25.98 EUR: 25 points
check("tier() after an order: silver (from 10 points)", c.tier(cust) == "silver", c.tier(cust))
check("points() after an order: 25", c.points(cust) == 25, c.points(cust))
cart = {"currency": "EUR", "lines": [{"product_id": tag + "-mug", "quantity": 1, "unit_price": 1299}]}
o = c.offer(cust, cart)
check("offer(): the decided offer with its discount and token",
      o and o["offer_id"] == "five_off" and o["discount"] == 500 and o["token"], o)
small = {"currency": "EUR", "lines": [{"product_id": tag + "-mug", "quantity": 1, "unit_price": 999}]}
check("offer() of a cart under min_cart: None", c.offer(cust, small) is None)
r = c.redeem_offer(cust, o["token"], cart, tag + "-redeem")
r2 = c.redeem_offer(cust, o["token"], cart, tag + "-redeem")
check("redeem_offer(): accepted once, the replay answers the same",
      r["discount"] == 500 and not r["replay"] and r2["replay"], (r, r2))
r = c.call("loyalty.redeem", {"customer_id": cust, "points": 20, "redemption_id": tag + "-pts",
                              "currency": "EUR"})
check("loyalty.redeem 20 points = 1.00 EUR; points() 5 after",
      r["accepted"] and r["value"] == 100 and c.points(cust) == 5, r)


async def async_helpers():
    async with patron.AsyncClient(timeout_ms=2000) as ac:
        return await asyncio.gather(ac.tier(cust), ac.points(cust), ac.offer(cust, cart))


t, pts, ao = asyncio.run(async_helpers())
check("AsyncClient tier/points/offer", (t, pts, ao and ao["offer_id"]) == ("silver", 5, "five_off"),
      (t, pts, ao))

pid = int(os.environ["PATRON_TEST_PID"])
os.kill(pid, signal.SIGSTOP)  # a hung daemon: accepts nothing, answers nothing
t0 = time.monotonic()
e = expect_error(lambda: c.call("ping", timeout_ms=300), "unavailable")
el = (time.monotonic() - t0) * 1000
check("hung daemon -> unavailable within the timeout",
      isinstance(e, patron.PatronUnavailable) and e.unavailable and 250 <= el < 1000,
      "%s %.0f ms" % (vars(e), el))
os.kill(pid, signal.SIGKILL)
try:  # the killed daemon may already be reaped
    os.kill(pid, signal.SIGCONT)
except ProcessLookupError:
    pass


def socket_refuses(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return False
    except (ConnectionRefusedError, FileNotFoundError):
        return True
    finally:
        s.close()


deadline = time.monotonic() + 5  # wait for the death (its socket refuses), not a fixed time
while not socket_refuses(os.environ["PATRON_SOCKET"]):
    assert time.monotonic() < deadline, "patrond still accepts 5 s after SIGKILL"
    time.sleep(0.005)
t0 = time.monotonic()
e = expect_error(lambda: c.call("ping", timeout_ms=3000), "unavailable")
el = (time.monotonic() - t0) * 1000
check("dead daemon -> unavailable at once (well before the 3 s timeout)", isinstance(e, patron.PatronUnavailable)
      and e.code == "unavailable" and el < 1000, "%s %.0f ms" % (vars(e), el))
fb = (c.tier(cust), c.points(cust), c.offer(cust, cart))
check("dead daemon -> tier unknown, points None, offer None", fb == ("unknown", None, None), fb)
c.close()
check.summary()
