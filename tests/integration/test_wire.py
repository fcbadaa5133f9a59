"""test_wire.py -- the real patrond driven by an independent msgpack-RPC peer (Debian's
python3-msgpack over a raw Unix socket): every method's happy path and bad inputs,
idempotency, pipelining and stream splits, the input limits, slow and greedy clients, and
durability across SIGTERM and SIGKILL.
usage: python3 test_wire.py PATH/TO/patrond"""
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

import msgpack

from patrontest import Client, Daemon, RpcError, order, wait_until

PATROND = None


class WireTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(PATROND, extra=["--set", "limits.read_timeout_ms=400",
                                       "--set", "limits.max_message_bytes=65536"]).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        cls.d.cleanup()
        assert rc == 0, rc

    def setUp(self):
        self.c = Client(self.d.sock)

    def tearDown(self):
        self.c.close()

    def assertRpcError(self, code, field, method, params):
        with self.assertRaises(RpcError) as cm:
            self.c.call(method, params)
        self.assertEqual(cm.exception.code, code, cm.exception.err)
        if field is not None:
            self.assertEqual(cm.exception.field, field, cm.exception.err)
        return cm.exception

    # ---- happy paths ----
    def test_ping_health_stats(self):
        self.assertTrue(self.c.call("ping")["pong"])
        h = self.c.call("health")
        self.assertTrue(h["ok"])
        self.assertEqual(h["status"], "ok")
        s = self.c.call("stats")
        self.assertGreaterEqual(s["connections"]["current"], 1)
        self.assertGreaterEqual(s["requests"]["by_method"]["ping"]["calls"], 1)

    def test_product_roundtrip_and_partial_update(self):
        self.c.call("product.upsert", {"product_id": "mug", "name": "Mug", "category": "kitchen",
                                       "price": 1200, "currency": "EUR", "stock": 5, "margin": 400})
        p = self.c.call("product.get", {"product_id": "mug"})
        self.assertEqual((p["name"], p["price"], p["currency"], p["stock"], p["margin"]),
                         ("Mug", 1200, "EUR", 5, 400))
        self.c.call("product.upsert", {"product_id": "mug", "stock": 0})
        p = self.c.call("product.get", {"product_id": "mug"})
        self.assertEqual((p["name"], p["price"], p["stock"], p["in_stock"]), ("Mug", 1200, 0, False))
        self.assertRpcError("not_found", None, "product.get", {"product_id": "nope"})

    def test_customer_profile(self):
        self.c.call("customer.upsert", {"customer_id": "prof", "email": "a@example.com", "name": "A"})
        self.c.call("order.record", order("prof-1", "prof", ts=1000, lines=[
            {"product_id": "a", "quantity": 2, "unit_price": 500},
            {"product_id": "b", "quantity": 1, "unit_price": 300}], discount=100, shipping=50))
        self.c.call("order.record", order("prof-2", "prof", ts=3000, lines=[
            {"product_id": "c", "quantity": 1, "unit_price": 999}]))
        self.c.call("order.record", order("prof-3", "prof", ts=2000, cur="USD"))
        p = self.c.call("customer.get", {"customer_id": "prof"})
        self.assertTrue(p["known"])
        self.assertEqual(p["email"], "a@example.com")
        self.assertEqual((p["first_order_at"], p["last_order_at"], p["order_count"]), (1000, 3000, 3))
        eur = [t for t in p["totals"] if t["currency"] == "EUR"][0]
        self.assertEqual((eur["orders"], eur["gross"], eur["net"]), (2, 1250 + 999, 1250 + 999))
        self.assertEqual(eur["aov"], 1125)  # (1250 + 999) / 2 = 1124.5, half up
        self.assertEqual(p["last_products"][0], "c")
        self.assertEqual(set(p["last_products"]), {"a", "b", "c", "p1"})
        self.assertRpcError("not_found", None, "customer.get", {"customer_id": "ghost"})

    def test_order_idempotency_and_conflict(self):
        o = order("idem-1", "idem")
        r1 = self.c.call("order.record", o)
        r2 = self.c.call("order.record", o)
        self.assertEqual((r1["created"], r2["created"]), (True, False))
        self.assertEqual(r1["total"], r2["total"])
        changed = dict(o, lines=[{"product_id": "p1", "quantity": 2, "unit_price": 1000}])
        self.assertRpcError("conflict", "order_id", "order.record", changed)
        p = self.c.call("customer.get", {"customer_id": "idem"})
        self.assertEqual(p["order_count"], 1)

    def test_refunds(self):
        self.c.call("order.record", order("rf-1", "rf", lines=[
            {"product_id": "x", "quantity": 3, "unit_price": 1000}], shipping=500))
        r = self.c.call("order.refund", {"refund_id": "rf-1-a", "order_id": "rf-1",
                                         "lines": [{"product_id": "x", "quantity": 2}]})
        self.assertEqual((r["amount"], r["refunded"], r["refundable"]), (2000, 2000, 1500))
        # replay: no-op; same id, other content: conflict
        self.assertFalse(self.c.call("order.refund", {"refund_id": "rf-1-a", "order_id": "rf-1",
                                     "lines": [{"product_id": "x", "quantity": 2}]})["created"])
        self.assertRpcError("conflict", "refund_id", "order.refund",
                            {"refund_id": "rf-1-a", "order_id": "rf-1", "amount": 5})
        # more than left: refused, nothing changes
        self.assertRpcError("invalid_params", "lines[0].quantity", "order.refund",
                            {"refund_id": "rf-1-b", "order_id": "rf-1",
                             "lines": [{"product_id": "x", "quantity": 2}]})
        self.assertRpcError("invalid_params", "amount", "order.refund",
                            {"refund_id": "rf-1-c", "order_id": "rf-1", "amount": 1501})
        self.assertRpcError("not_found", "order_id", "order.refund",
                            {"refund_id": "rf-9", "order_id": "nope", "amount": 1})
        r = self.c.call("order.refund", {"refund_id": "rf-1-d", "order_id": "rf-1", "amount": 1500})
        self.assertEqual(r["refundable"], 0)
        g = self.c.call("order.get", {"order_id": "rf-1"})
        self.assertEqual(g["refunded"], 3500)
        p = self.c.call("customer.get", {"customer_id": "rf"})
        self.assertEqual((p["totals"][0]["refunded"], p["totals"][0]["net"], p["refund_count"]),
                         (3500, 0, 2))

    def test_read_cache_never_serves_a_stale_answer(self):
        self.c.call("order.record", order("rc-1", "rc", lines=[{"product_id": "m", "quantity": 1, "unit_price": 700}]))
        first = self.c.call("customer.get", {"customer_id": "rc"})
        hits0 = self.c.call("stats")["read_cache"]["hits"]
        self.assertEqual(self.c.call("customer.get", {"customer_id": "rc"}), first)
        self.assertGreater(self.c.call("stats")["read_cache"]["hits"], hits0)
        # every kind of write that changes the profile is visible at once
        self.c.call("order.record", order("rc-2", "rc", ts=1700001000))
        self.assertEqual(self.c.call("customer.get", {"customer_id": "rc"})["order_count"], 2)
        self.c.call("order.refund", {"refund_id": "rc-r", "order_id": "rc-1", "amount": 200})
        self.assertEqual(self.c.call("customer.get", {"customer_id": "rc"})["totals"][0]["refunded"], 200)
        self.c.call("customer.upsert", {"customer_id": "rc", "name": "Cached"})
        self.assertEqual(self.c.call("customer.get", {"customer_id": "rc"})["name"], "Cached")
        self.c.call("product.upsert", {"product_id": "m", "stock": 4})
        self.assertEqual(self.c.call("product.get", {"product_id": "m"})["stock"], 4)
        self.c.call("product.upsert", {"product_id": "m", "stock": 0})
        self.assertEqual(self.c.call("product.get", {"product_id": "m"})["stock"], 0)

    # ---- bad input: structured errors, nothing changes ----
    def test_bad_inputs(self):
        cases = [
            ("order.record", order("bad-1", lines=[{"product_id": "p", "quantity": -2, "unit_price": 1}]), "lines[0].quantity"),
            ("order.record", order("bad-2", lines=[{"product_id": "p", "quantity": 1, "unit_price": 9.99}]), "lines[0].unit_price"),
            ("order.record", order("bad-3", cur="XYZ"), "currency"),
            ("order.record", order("bad-4", cur="eur"), "currency"),
            ("order.record", order("bad-5", ts="yesterday"), "ts"),
            ("order.record", dict(order("bad-6"), lines=[]), "lines"),
            ("order.record", order("bad-7", discount=5000), "discount"),
            ("order.record", order("bad-8", totl=1), "totl"),
            ("order.record", {"order_id": "bad-9"}, "customer_id"),
            ("order.record", order("", "c"), "order_id"),
            ("order.record", order("bad-10", "c" * 129), "customer_id"),
            ("order.record", order("bad-11", lines=[{"product_id": "p", "quantity": 10**9, "unit_price": 10**15}] * 20), None),
            ("product.upsert", {"product_id": "p", "price": 5}, "currency"),
            ("product.upsert", {"product_id": "p", "price": -5, "currency": "EUR"}, "price"),
            ("product.upsert", {"product_id": 12}, "product_id"),
            ("customer.upsert", {"customer_id": "c", "email": ["x"]}, "email"),
            ("customer.get", {}, "customer_id"),
        ]
        before = self.c.call("stats")["counts"]
        for method, params, field in cases:
            with self.subTest(method=method, field=field):
                self.assertRpcError("invalid_params", field, method, params)
        # params that are not a map, and an unknown method
        r = self.c.call_raw("ping", 5)
        self.assertEqual(r[2]["code"], "invalid_params")
        self.assertRpcError("unknown_method", None, "order.delete", {})
        self.assertEqual(self.c.call("stats")["counts"], before)
        for oid in ("bad-1", "bad-3", "bad-7", "bad-11"):
            self.assertRpcError("not_found", None, "order.get", {"order_id": oid})

    def test_empty_key_at_the_start_of_a_second_read(self):
        # issue 12 item 4: a request split so that an empty field name starts the second
        # read (msgpack-c then hands a zero-length key with a NULL pointer); the sanitizer
        # build aborted on memcpy(name, NULL, 0)
        first, second = bytes.fromhex("940001a470696e67"), bytes.fromhex("9181a001")
        in0 = self.c.call("stats")["bytes"]["in"]
        c = Client(self.d.sock)
        try:
            c.send_raw(first)
            # wait until patrond has read the first part (its byte counter moves), so the
            # second part is a second read
            polls = 0
            while True:
                polls += 1
                seen = self.c.call("stats")["bytes"]["in"]
                if seen - in0 - polls * len(self.c.request_bytes("stats", msgid=0)[1]) >= len(first):
                    break
            c.send_raw(second)
            m = c.read_message()
            self.assertEqual((m[1], m[2]["code"]), (1, "invalid_params"))
            self.assertEqual(m[2]["message"], "unknown field ''")
            self.assertTrue(c.call("ping")["pong"])
        finally:
            c.close()

    def test_error_messages_are_valid_utf8(self):
        # issue 12 item 6: client bytes that are not UTF-8 are escaped in error messages, so
        # this strict (raw=False) client can decode them; valid UTF-8 is kept as it is
        for raw, shown in ((b"\xff", "\\xFF"), (b"caf\xc3\xa9\xc3", "caf\u00e9\\xC3")):
            self.c.send_raw(msgpack.packb([0, 90, raw, []], use_bin_type=False))
            m = self.c.read_message()
            self.assertEqual((m[1], m[2]["code"]), (90, "unknown_method"))
            self.assertEqual(m[2]["message"], "unknown method '%s'" % shown)

    def test_wrong_message_shapes_keep_connection(self):
        # a response sent to the daemon, params not an array: answered, connection stays
        self.c.send_raw(msgpack.packb([1, 77, None, None]))
        m = self.c.read_message()
        self.assertEqual((m[1], m[2]["code"]), (77, "invalid_request"))
        self.c.send_raw(msgpack.packb([0, 78, "ping", {"a": 1}]))
        m = self.c.read_message()
        self.assertEqual((m[1], m[2]["code"]), (78, "invalid_request"))
        self.assertTrue(self.c.call("ping")["pong"])

    # ---- streams ----
    def test_pipelined_mixed_reads_and_writes(self):
        reqs = []
        for i in range(300):
            if i % 3 == 0:
                reqs.append(self.c.request_bytes("order.record", order("pipe-%d" % i, "pipe")))
            else:
                reqs.append(self.c.request_bytes("ping"))
        self.c.send_raw(b"".join(d for _, d in reqs))
        got = [self.c.read_message() for _ in reqs]
        self.assertEqual(sorted(m[1] for m in got), sorted(i for i, _ in reqs))
        self.assertTrue(all(m[2] is None for m in got))
        # reads come back in the order sent
        read_ids = [i for k, (i, _) in enumerate(reqs) if k % 3]
        self.assertEqual([m[1] for m in got if m[1] in set(read_ids)], read_ids)
        self.assertEqual(self.c.call("customer.get", {"customer_id": "pipe"})["order_count"], 100)

    def test_pipelined_writes_with_rejections(self):
        """Writes the core rejects (conflicts, over-refunds) pipelined between valid ones from
        two connections: the writer batches them together (one savepoint a job), each gets
        its own answer, and every valid write is stored."""
        self.c.call("order.record", order("rej-base", "rej", lines=[
            {"product_id": "p1", "quantity": 1, "unit_price": 1000}]))
        before = self.c.call("stats")["writes"]
        conns = [self.c, Client(self.d.sock)]
        sent, valid = [], []
        for i in range(400):
            c = conns[i % 2]
            if i % 4 == 0:   # same order id, other content
                req = ("order.record", order("rej-base", "rej", lines=[
                    {"product_id": "p2", "quantity": 3, "unit_price": 10}]), "conflict")
            elif i % 4 == 1:  # more than the order's total
                req = ("order.refund", {"refund_id": "rej-r%d" % i, "order_id": "rej-base",
                                        "amount": 10**6}, "invalid_params")
            else:
                req = ("order.record", order("rej-%d" % i, "rej"), None)
                valid.append("rej-%d" % i)
            msgid, data = c.request_bytes(req[0], req[1])
            sent.append((c, msgid, data, req[2]))
        for c in conns:
            c.send_raw(b"".join(d for cc, _, d, _ in sent if cc is c))
        for c, msgid, _, want in sent:
            m = c.read_reply(msgid)
            self.assertEqual(m[2] and m[2]["code"], want, (msgid, m))
        conns[1].close()
        self.assertEqual(self.c.call("customer.get", {"customer_id": "rej"})["order_count"],
                         len(valid) + 1)
        for oid in valid:
            self.assertEqual(self.c.call("order.get", {"order_id": oid})["customer_id"], "rej")
        base = self.c.call("order.get", {"order_id": "rej-base"})
        self.assertEqual((base["refunded"], base["lines"][0]["product_id"]), (0, "p1"))
        after = self.c.call("stats")["writes"]
        self.assertEqual(after["failed"], before["failed"])
        # the rejections shared batches with accepted writes
        self.assertLess(after["batches"] - before["batches"],
                        after["committed"] - before["committed"])

    def test_one_byte_at_a_time(self):
        data = b"".join(self.c.request_bytes("ping", msgid=i)[1] for i in (1, 2, 3))
        data += self.c.request_bytes("order.record", order("byte-1", "byte"), msgid=4)[1]
        for b in data:
            self.c.send_raw(bytes([b]))
        got = sorted(self.c.read_message()[1] for _ in range(4))
        self.assertEqual(got, [1, 2, 3, 4])

    def test_notification_executes_without_answer(self):
        self.c.send_raw(msgpack.packb([2, "order.record", [order("notif-1", "notif")]]))
        self.assertTrue(self.c.call("ping")["pong"])

        def recorded():
            try:
                return self.c.call("order.get", {"order_id": "notif-1"})
            except RpcError:
                return None
        wait_until(recorded, 5, "the notified order.record to commit")
        self.assertEqual(self.c.call("order.get", {"order_id": "notif-1"})["customer_id"], "notif")

    # ---- limits: per connection, never process-wide ----
    def assertClosedWith(self, c, code, msgid):
        m = c.read_message()
        self.assertEqual((m[1], m[2]["code"]), (msgid, code))
        self.assertTrue(c.closed_by_peer())
        self.assertTrue(self.c.call("ping")["pong"])  # everyone else is fine

    def test_oversize_frame(self):
        c = Client(self.d.sock)
        c.send_raw(msgpack.packb([0, 9, "order.record", [{"order_id": "x" * 70000}]]))
        self.assertClosedWith(c, "too_large", 9)

    def test_str32_announcing_a_gigabyte(self):
        c = Client(self.d.sock)
        c.send_raw(bytes([0x94, 0x00, 0x0b, 0xdb, 0x40, 0, 0, 0]))
        self.assertClosedWith(c, "too_large", 11)

    def test_array32_header_amplification(self):
        rss0 = self.c.call("stats")["memory"]["rss_bytes"]
        c = Client(self.d.sock)
        c.send_raw(bytes([0x94, 0x00, 0x0c, 0xa1, 0x70, 0xdd, 0x0f, 0xff, 0xff, 0xff]))
        self.assertClosedWith(c, "too_large", 12)
        self.assertLess(self.c.call("stats")["memory"]["rss_bytes"], rss0 + (64 << 20))

    def test_deep_nesting(self):
        c = Client(self.d.sock)
        c.send_raw(bytes([0x94, 0x00, 0x0d, 0xa4]) + b"ping" + bytes([0x91]) * 40 + bytes([0xc0]))
        self.assertClosedWith(c, "too_large", 13)

    def test_limits_in_one_read_of_loop_requests(self):
        # loop reads are decoded in one walk with the limits (protocol/mpdecode.h): in one
        # read, the requests before a violation are answered, the violation is refused with
        # the guard's code and msgid, nothing after it runs; for each limit
        head = bytes([0x94, 0x00, 0x15, 0xa4]) + b"ping" + bytes([0x91, 0x81, 0xa1, 0x61])  # [{"a":
        deep = head + bytes([0x91]) * 14 + bytes([0xc0])  # depth 17: one over max_depth 16
        wide = msgpack.packb([0, 0x15, "customer.get", [{"customer_id": "c", "x": list(range(70000))}]])
        big = msgpack.packb([0, 0x15, "customer.get", [{"customer_id": "c" * 70000}]])
        bad = head + bytes([0xc1])
        for violation, code in ((deep, "too_large"), (wide, "too_large"), (big, "too_large"),
                                (bad, "invalid_request")):
            c = Client(self.d.sock)
            before = b"".join(msgpack.packb([0, i, m, [p] if p else []]) for i, m, p in
                              ((0x11, "ping", None), (0x12, "customer.get", {"customer_id": "nobody"}),
                               (0x13, "experiments.assign", {"key": "k", "id": "c-1"})))
            after = msgpack.packb([0, 0x16, "ping", []])
            try:
                c.send_raw(before + violation + after)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the two large violations outgrow the socket buffer: the daemon may have
                # refused and closed before the client wrote the rest; its answers are still there
            got = [c.read_message() for _ in range(4)]
            self.assertEqual([m[1] for m in got], [0x11, 0x12, 0x13, 0x15])
            self.assertIsNone(got[0][2])
            self.assertEqual(got[1][2]["code"], "not_found")
            self.assertEqual(sorted(got[2][3]), ["hash", "in_experiment", "variation"])
            self.assertEqual(got[3][2]["code"], code)
            self.assertTrue(c.closed_by_peer())
        self.assertTrue(self.c.call("ping")["pong"])

    def test_garbage_bytes(self):
        for junk in (b"GET / HTTP/1.1\r\n\r\n", bytes([0xc1]), bytes(range(256))):
            c = Client(self.d.sock)
            c.send_raw(junk)
            self.assertTrue(c.closed_by_peer())
        self.assertTrue(self.c.call("ping")["pong"])
        self.assertGreater(self.c.call("stats")["requests"]["protocol_errors"], 0)

    def test_slow_partial_request_times_out(self):
        c = Client(self.d.sock)
        c.send_raw(msgpack.packb([0, 1, "ping", []])[:3])
        self.assertTrue(c.closed_by_peer(wait=5))

    def test_client_that_never_reads(self):
        # floods requests without reading answers: the daemon stops reading it, memory bounded
        c = Client(self.d.sock)
        c.s.setblocking(False)
        req = msgpack.packb([0, 1, "stats", []])
        sent = 0
        deadline = time.time() + 3
        while time.time() < deadline:
            try:
                sent += c.s.send(req * 256)
            except BlockingIOError:
                select.select([], [c.s], [], 0.05)  # until writable again (or the 3 s end)
        rss = self.c.call("stats")["memory"]["rss_bytes"]
        self.assertLess(rss, 512 << 20)
        self.assertTrue(self.c.call("ping")["pong"])
        c.close()


class ConnLimitTest(unittest.TestCase):
    def test_max_connections(self):
        d = Daemon(PATROND, extra=["--set", "limits.max_connections=4"]).start()
        try:
            keep = [Client(d.sock) for _ in range(4)]
            for k in keep:
                k.call("ping")
            # at the limit, a newcomer takes the slot of the longest-idle connection
            extra = Client(d.sock)
            self.assertTrue(extra.call("ping")["pong"])
            self.assertTrue(keep[0].closed_by_peer())
            self.assertEqual(extra.call("stats")["connections"]["current"], 4)
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()


class DurabilityTest(unittest.TestCase):
    def run_writers(self, d, n_threads=4, per=150):
        acked = []
        lock = threading.Lock()

        def writer(t):
            c = Client(d.sock)
            for i in range(per):
                oid = "dur-%d-%d" % (t, i)
                r = c.call("order.record", order(oid, "dur-%d" % (i % 17), ts=1700000000 + i))
                if r["created"]:
                    with lock:
                        acked.append(oid)
            c.close()

        ts = [threading.Thread(target=writer, args=(t,)) for t in range(n_threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return acked

    def check_all_present(self, d, acked):
        c = Client(d.sock)
        for oid in acked:
            self.assertEqual(c.call("order.get", {"order_id": oid})["order_id"], oid)
        self.assertEqual(c.call("stats")["counts"]["orders"], len(acked))
        total = sum(c.call("customer.get", {"customer_id": "dur-%d" % k})["order_count"] for k in range(17))
        self.assertEqual(total, len(acked))
        c.close()

    def test_sigterm_then_restart(self):
        d = Daemon(PATROND).start()
        try:
            acked = self.run_writers(d)
            self.assertEqual(len(acked), 600)
            self.assertEqual(d.stop(signal.SIGTERM), 0)
            self.assertFalse(os.path.exists(d.sock))
            d.start()
            self.check_all_present(d, acked)
        finally:
            d.stop()
            d.cleanup()

    def test_sigkill_loses_no_acknowledged_write(self):
        d = Daemon(PATROND).start()
        try:
            acked = []
            stop = threading.Event()

            def writer():
                c = Client(d.sock)
                i = 0
                try:
                    while not stop.is_set():
                        oid = "kill-%d" % i
                        c.call("order.record", order(oid, "dur-%d" % (i % 17)))
                        acked.append(oid)
                        i += 1
                except (EOFError, OSError):
                    pass

            t = threading.Thread(target=writer)
            t.start()
            wait_until(lambda: len(acked) >= 50, 30, "50 acknowledged writes")
            d.stop(signal.SIGKILL)
            stop.set()
            t.join()
            self.assertGreater(len(acked), 10)
            d.start()  # stale socket from the killed daemon is removed
            c = Client(d.sock)
            for oid in acked:
                c.call("order.get", {"order_id": oid})
            c.close()
        finally:
            d.stop()
            d.cleanup()

    def test_refuses_second_daemon_on_live_socket(self):
        d = Daemon(PATROND).start()
        try:
            other = os.path.join(d.tmp, "other")
            r = subprocess.run([PATROND, "--no-config", "--socket", d.sock, "--admin-socket", "",
                                "--data-dir", other], capture_output=True, timeout=10)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(b"already running", r.stderr)
            self.assertTrue(Client(d.sock).call("ping")["pong"])
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()


class ConfigTest(unittest.TestCase):
    def test_sighup_reloads_limits_and_keeps_running_config_on_error(self):
        d = Daemon(PATROND)
        conf = os.path.join(d.tmp, "patrond.conf")
        with open(conf, "w") as f:
            f.write("[limits]\nmax_message_bytes = 65536\n")
        d.extra = ["-c", conf]
        d.start()
        try:
            c = Client(d.sock)
            big = {"customer_id": "big", "name": "n" * 500, "email": "e" * 500}
            self.assertEqual(c.call("customer.upsert", big)["customer_id"], "big")
            with open(conf, "w") as f:
                f.write("[limits]\nmax_message_bytes = 1024\n")
            reloads = d.log_count("configuration reloaded")
            d.proc.send_signal(signal.SIGHUP)
            d.wait_for_log("configuration reloaded", reloads)
            c2 = Client(d.sock)
            c2.send_raw(msgpack.packb([0, 5, "customer.upsert", [big]]))
            m = c2.read_message()
            self.assertEqual((m[1], m[2]["code"]), (5, "too_large"))
            # a broken file on reload: logged, the running settings stay
            with open(conf, "w") as f:
                f.write("[limits]\nmax_message_bytez = 1\n")
            failed = d.log_count("reload failed")
            d.proc.send_signal(signal.SIGHUP)
            d.wait_for_log("reload failed", failed)
            self.assertTrue(Client(d.sock).call("ping")["pong"])
            c3 = Client(d.sock)  # still the reloaded limit, not the broken file's
            c3.send_raw(msgpack.packb([0, 6, "customer.upsert", [big]]))
            m = c3.read_message()
            self.assertEqual((m[1], m[2]["code"]), (6, "too_large"))
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()

    def test_no_config_reads_no_file(self):
        # --no-config: the built-in defaults, exactly as with an empty file; never with -c
        scratch = Daemon(PATROND)
        self.addCleanup(scratch.cleanup)
        empty = os.path.join(scratch.tmp, "empty.conf")
        open(empty, "w").close()
        none = subprocess.run([PATROND, "--no-config", "--print-config"], capture_output=True,
                              timeout=10)
        base = subprocess.run([PATROND, "-c", empty, "--print-config"], capture_output=True,
                              timeout=10)
        self.assertEqual((none.returncode, none.stdout), (0, base.stdout))
        r = subprocess.run([PATROND, "--no-config", "-c", empty, "--check-config"],
                           capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 64)
        self.assertIn(b"--no-config", r.stderr)
        self.assertIn(b"--no-config", subprocess.run([PATROND, "--help"], capture_output=True,
                                                     timeout=10).stdout)

    def test_startup_errors_are_clear(self):
        scratch = Daemon(PATROND)
        self.addCleanup(scratch.cleanup)
        tmp = scratch.tmp
        long_path = os.path.join(tmp, "s" * 120 + ".sock")
        r = subprocess.run([PATROND, "--no-config", "--socket", long_path, "--data-dir", tmp + "/d"],
                           capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 78)
        self.assertIn(b"longer than 107 bytes", r.stderr)
        conf = os.path.join(tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write("[server]\nsocket = /tmp/x.sock\n\n[limits]\nmax_connections = lots\n")
        r = subprocess.run([PATROND, "-c", conf, "--check-config"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 78)
        self.assertIn((conf + ":5:").encode(), r.stderr)
        r = subprocess.run([PATROND, "--no-config", "--set", "limits.nope=1", "--check-config"],
                           capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 64)
        # a regular file where the socket should be is never removed
        regular = os.path.join(tmp, "not-a-socket")
        open(regular, "w").close()
        r = subprocess.run([PATROND, "--no-config", "--socket", regular, "--admin-socket", "none",
                            "--data-dir", tmp + "/d"], capture_output=True, timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(os.path.isfile(regular))


if __name__ == "__main__":
    PATROND = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
