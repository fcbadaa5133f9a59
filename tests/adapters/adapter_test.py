#!/usr/bin/python3
"""adapter_test.py -- integration test of adapters/python/patron.py against the real patrond.

Owns: the Python half of tests/adapters/run.sh (which starts patrond and exports
PATRON_SOCKET, PATRON_CLIENT_LIB, PATRON_TEST_PID). Invariants: talks to the daemon only
through patron.py -> libpatronclient; ends by stopping (SIGSTOP) and then killing the
daemon, checking that both give the unavailable indication within the timeout."""
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
c.close()
check.summary()
