"""test_raw_params.py -- the raw column of methods.def over the wire: with the read cache off
(cache.read_cache_mb=0, where recs.cart and offers.decide read their params straight from the
bytes), each request is sent twice, once as clients send it ([map]: the raw decoder's form)
and once with its params array in an array16 header (which the raw and one-walk decoders
decline: msgpack-c and the object path decode it), and the two answers must be the same
(results and errors alike, code, message and field) over valid, edge and malformed params.
offers.decide's tokens and expiry carry the second they were made, so those two fields are
compared for presence only, and a decision queues exposures that move the next one's
figures, so each request is first sent once and the writer waited for.
usage: python3 test_raw_params.py PATH/TO/patrond"""
import struct
import sys
import unittest

import msgpack

from patrontest import Client, Daemon, order

PATROND = None


def packed_request(msgid, method, params_bytes, wide):
    """[0, msgid, method, [params]] with the params' array header fix (0x91) or array16."""
    head = msgpack.packb(0) + msgpack.packb(msgid) + msgpack.packb(method)
    arr = b"\xdc\x00\x01" if wide else b"\x91"
    return b"\x94" + head + arr + params_bytes


def strip_volatile(v):
    if isinstance(v, dict):
        return {k: ("<%s>" % type(x).__name__ if k in ("token", "expires") else strip_volatile(x))
                for k, x in v.items()}
    if isinstance(v, list):
        return [strip_volatile(x) for x in v]
    return v


def raw_map(*pairs):
    """pairs of (key, packed value bytes)."""
    out = bytes([0x80 | len(pairs)])
    for k, v in pairs:
        out += msgpack.packb(k) + v
    return out


P = msgpack.packb


class RawParamsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(PATROND, extra=["--set", "cache.read_cache_mb=0"], sync=False).start()
        cls.c = Client(cls.d.sock)
        cls.a = Client(cls.d.admin)
        for i in range(6):
            cls.c.call("product.upsert", {"product_id": "p%d" % i, "category": "cat%d" % (i % 2),
                                          "price": 1000 + i, "currency": "EUR", "stock": 10})
        for i in range(30):
            lines = [{"product_id": "p%d" % ((i + k) % 6), "quantity": 1, "unit_price": 1000}
                     for k in range(3)]
            cls.c.call("order.record", order("o%d" % i, cust="c%d" % (i % 5), ts=1700000000 + i,
                                             lines=lines))
        cls.a.call("model.refit", {"models": ["recs"]})
        # one offer: its decision is fixed by the rule and the holdout hash (two offers would
        # swap places as each one's exposures move its expected value)
        cls.a.call("offers.set", {"id": "ten_off", "kind": "percent_off", "value": 10,
                                  "currency": "EUR", "experiment": {"holdout": 0.2},
                                  "rule": {"channel": {"$ne": "app"}}})
        cls.a.call("offers.reload")
        cls.msgid = 1000

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.a.close()
        cls.d.stop()

    def answer(self, method, params_bytes, wide):
        type(self).msgid += 1
        self.c.send_raw(packed_request(self.msgid, method, params_bytes, wide))
        r = self.c.read_reply(self.msgid)
        return strip_volatile(r[2]), strip_volatile(r[3])

    def same(self, method, params_bytes):
        # offers.decide queues the exposures of a first decision, which move the next one's
        # figures: decide once, wait for the writer (a write answered after them), then
        # compare two decisions that queue nothing new (the same hour's impressions)
        self.answer(method, params_bytes, False)
        self.c.call("customer.upsert", {"customer_id": "zz-flush"})
        narrow = self.answer(method, params_bytes, False)
        wide = self.answer(method, params_bytes, True)
        self.assertEqual(narrow, wide, "%s %r" % (method, params_bytes))
        return narrow

    def test_recs_cart(self):
        ok = 0
        cases = [
            P({"items": ["p1"]}), P({"items": ["p1", "p2", "p3", "p4", "p5"]}),
            P({"items": ["p1"], "limit": 3}), P({"limit": 1, "items": ["p0", "p9"]}),
            P({"items": ["p%d" % (i % 6) for i in range(9)], "limit": 1000}),
            P({"items": ["p1"], "limit": 0}), P({"items": ["p1"], "limit": 1001}),
            P({"items": ["p1"], "limit": -1}), P({"items": ["p1"], "limit": 5.0}),
            P({"items": ["p1"], "limit": None}), P({"items": []}), P({"items": None}),
            P({"items": "p1"}), P({"items": [1]}), P({"items": [""]}), P({"items": ["x" * 128]}),
            P({"items": ["x" * 129]}), P({"items": [b"p1"]}), P({}),
            P({"items": ["p1"], "customer_id": "c1"}), P({"items": ["p1"], "other": 1}),
            P({"items": ["p1"], "filters": {"in_stock_only": False}}),
            raw_map(("items", P(["p1"])), ("items", P(["p2"]))),
            raw_map(("items", b"\x91\xa2\xff\xfe")),                 # not UTF-8
            raw_map(("items", b"\x91\xd9\x02p1")),                   # str8 form
            raw_map(("items", P(["p1"])), ("limit", b"\xcd\x00\x05")),  # uint16 form
            raw_map(("items", P(["p1"] * 1001))),
        ]
        for params in cases:
            err, res = self.same("recs.cart", params)
            ok += err is None
            self.assertTrue(err is None or err.get("code"), err)
        self.assertGreaterEqual(ok, 8)

    def test_offers_decide(self):
        line = {"product_id": "mug", "category": "kitchen", "quantity": 2, "unit_price": 2500}
        cart = {"currency": "EUR", "lines": [line]}
        ok = 0
        cases = [
            P({"customer_id": "c1", "cart": cart}),
            P({"customer_id": "c2", "cart": cart, "attributes": {"channel": "web"}}),
            P({"customer_id": "c2", "cart": cart, "attributes": {"channel": "app"}}),
            P({"customer_id": "c3", "cart": cart, "attributes": {"channel": "web", "n": 1.5,
                                                                 "b": True, "z": None}}),
            P({"customer_id": "c4", "cart": cart, "max_offers": 1}),
            P({"customer_id": "c4", "cart": dict(cart, value=99999)}),
            P({"customer_id": "c4", "cart": {"currency": "EUR", "lines": None}}),
            P({"customer_id": "c4", "cart": {"currency": "EUR", "lines": []}}),
            P({"customer_id": "c5", "cart": {"currency": "EUR", "lines": [
                {"product_id": "a", "unit_price": 1}, {"product_id": "b", "unit_price": 0,
                                                       "quantity": None, "category": None}]}}),
            P({"customer_id": "c1", "cart": cart, "attributes": {"tags": ["a", "b"]}}),
            P({"customer_id": "c1", "cart": cart, "attributes": {"big": 2 ** 64 - 1}}),
            P({"customer_id": "c1", "cart": cart, "attributes": [1]}),
            P({"customer_id": "c1", "cart": cart, "max_offers": 0}),
            P({"customer_id": "c1", "cart": cart, "max_offers": 17}),
            P({"customer_id": "c1", "cart": cart, "max_offers": 2.0}),
            P({"customer_id": "", "cart": cart}), P({"customer_id": "x" * 129, "cart": cart}),
            P({"customer_id": "c\x001", "cart": cart}), P({"customer_id": 7, "cart": cart}),
            P({"customer_id": "c1"}), P({"cart": cart}), P({"customer_id": "c1", "cart": None}),
            P({"customer_id": "c1", "cart": {"lines": [line]}}),
            P({"customer_id": "c1", "cart": {"currency": "EURO", "lines": [line]}}),
            P({"customer_id": "c1", "cart": {"currency": "EUR", "lines": [dict(line, quantity=0)]}}),
            P({"customer_id": "c1", "cart": {"currency": "EUR",
                                             "lines": [dict(line, unit_price=None)]}}),
            P({"customer_id": "c1", "cart": {"currency": "EUR",
                                             "lines": [dict(line, unit_price=-1)]}}),
            P({"customer_id": "c1", "cart": {"currency": "EUR", "lines": [dict(line, extra=1)]}}),
            P({"customer_id": "c1", "cart": dict(cart, value=-5)}),
            P({"customer_id": "c1", "cart": cart, "other": 1}),
            raw_map(("customer_id", P("c1")), ("customer_id", P("c2")), ("cart", P(cart))),
            raw_map(("customer_id", b"\xa2\xff\xfe"), ("cart", P(cart))),  # not UTF-8
            raw_map(("customer_id", b"\xd9\x02c1"), ("cart", P(cart))),    # str8 form
            raw_map(("customer_id", P("c1")),
                    ("cart", raw_map(("currency", P("EUR")), ("value", b"\xd3" + struct.pack(">q", 10))))),
        ]
        for params in cases:
            err, res = self.same("offers.decide", params)
            ok += err is None
        self.assertGreaterEqual(ok, 10)
        # some answers carry offers (the comparison is not of empty lists only)
        err, res = self.same("offers.decide", P({"customer_id": "c2", "cart": cart,
                                                 "attributes": {"channel": "web"}}))
        self.assertIsNone(err)
        self.assertTrue(res["offers"], res)
        err, res = self.same("recs.cart", P({"items": ["p1"]}))
        self.assertIsNone(err)
        self.assertTrue(res["items"], res)


if __name__ == "__main__":
    PATROND = sys.argv.pop(1)
    unittest.main()
