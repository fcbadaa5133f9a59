#!/usr/bin/python3
"""bench.py -- Python half of bench.sh: `overhead SOCK N` (recs.cart per call, median/p99 us)
and `page SOCK MODE PID` (one checkout page = recs.cart + recs.upsell + tier on one Budget;
MODE up | hung | down | open). Prints one line per measure."""
import os, signal, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "adapters", "python"))
import patron

def stats(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2], xs[len(xs) * 99 // 100]

def page(c):
    b = patron.Budget(300)
    t0 = time.perf_counter()
    c.recs_cart(["p1", "p2"], limit=4, budget=b)
    c.recs_upsell("p1", limit=4, budget=b)
    c.tier("c1", budget=b)
    return (time.perf_counter() - t0) * 1e3

mode, sock = sys.argv[1], sys.argv[2]
if mode == "overhead":
    n = int(sys.argv[3])
    c = patron.Client(sock, 1000, breaker=patron.Breaker(3, 5000))
    xs = []
    for i in range(-200, n):
        t0 = time.perf_counter()
        c.call("recs.cart", {"items": ["p1", "p2"], "limit": 4})
        if i >= 0:
            xs.append((time.perf_counter() - t0) * 1e6)
    print("python %.1f %.1f" % stats(xs))
else:
    m, pid = sys.argv[3], int(sys.argv[4])
    c = patron.Client(sock if m != "down" else sock + ".gone", 150, breaker=patron.Breaker(3, 60000))
    if m == "hung":
        c.ping()
        os.kill(pid, signal.SIGSTOP)
    try:
        first = page(c)
        rest = stats([page(c) for _ in range(50)])
    finally:
        if m == "hung":
            os.kill(pid, signal.SIGCONT)
    print("python page %s first %.2f ms, next 50 median %.3f ms" % (m, first, rest[0]))
