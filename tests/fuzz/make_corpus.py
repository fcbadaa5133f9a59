#!/usr/bin/python3
"""make_corpus.py -- write the seed corpora of the libFuzzer targets into tests/fuzz/corpus/.
A few small, valid inputs per target (the fuzzer mutates from there), derived from
protocol/methods.def so that every method has a seed. Re-run after adding a method:
    /usr/bin/python3 tests/fuzz/make_corpus.py
Uses Debian's python3-msgpack (an independent msgpack implementation)."""
import os
import re
import shutil

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")

LINES = [{"product_id": "p1", "quantity": 2, "unit_price": 1999}]
FILTERS = {"in_stock_only": True, "exclude_products": ["p9"], "min_price": 100,
           "max_price": 90000, "currency": "EUR", "max_per_category": 2, "boost_margin": 0.5}
PARAMS = {
    "product.upsert": {"product_id": "p1", "name": "Mug", "category": "kitchen", "price": 1299,
                       "currency": "EUR", "stock": 5, "margin": 0.4, "active": True},
    "product.get": {"product_id": "p1"},
    "customer.upsert": {"customer_id": "c1", "email": "a@example.org", "name": "A",
                        "created_at": 1700000000},
    "customer.get": {"customer_id": "c1"},
    "order.record": {"order_id": "o1", "customer_id": "c1", "ts": 1700000000,
                     "currency": "EUR", "lines": LINES, "discount": 100, "shipping": 490,
                     "tax": 0},
    "order.refund": {"refund_id": "r1", "order_id": "o1", "ts": 1700000100,
                     "lines": [{"product_id": "p1", "quantity": 1}]},
    "order.get": {"order_id": "o1"},
    "model.refit": {"models": ["clv", "recs"], "as_of": 1700000000},
    "kpi.report": {"from": 1690000000, "to": 1700000000, "currency": "EUR"},
    "segment.customers": {"segment": "champions", "cursor": "", "limit": 10},
    "feedback.record": {"feedback_id": "f1", "customer_id": "c1", "kind": "nps", "score": 9,
                        "ts": 1700000000},
    "customer.merge": {"guest_id": "g1", "customer_id": "c1"},
    "customer.subscribe": {"subscribed": True},
    "recs.cart": {"items": ["p1", "p2"], "customer_id": "c1", "limit": 5, "filters": FILTERS},
    "recs.upsell": {"product_id": "p1", "customer_id": "c1", "limit": 3},
    "recs.similar": {"product_id": "p1", "limit": 3, "filters": {"in_stock_only": False}},
    "recs.for_customer": {"customer_id": "c1", "items": ["p1"], "limit": 4},
    "recs.rules": {"min_support": 0.01, "min_confidence": 0.2, "limit": 10},
}

RAW_PARAMS = {
    "recs.cart": {"items": ["p1", "p2", "p3"], "limit": 5},
    "offers.decide": {"customer_id": "c1", "attributes": {"channel": "web", "n": 1.5},
                      "cart": {"currency": "EUR", "lines": [
                          {"product_id": "p1", "category": "kitchen", "quantity": 2,
                           "unit_price": 1250}]},
                      "max_offers": 2},
}


def methods():
    src = open(os.path.join(ROOT, "protocol", "methods.def")).read()
    return re.findall(r'^XX\(\w+,\s*"([^"]+)"', src, re.M)


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def req(msgid, method, params):
    return msgpack.packb([0, msgid, method, [params]])


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    names = methods()
    stream_all = b""
    for i, name in enumerate(names):
        p = PARAMS.get(name, {})
        # fuzz_decode: one byte method index, then the params map
        write("fuzz_decode", "%02d_%s" % (i, name), bytes([i]) + msgpack.packb(p))
        stream_all += req(i + 1, name, p)
    # fuzz_decode: the raw decoders' common shapes (methods.def's raw column)
    for name, p in RAW_PARAMS.items():
        i = names.index(name)
        write("fuzz_decode", "%02d_%s_raw" % (i, name), bytes([i]) + msgpack.packb(p))
        # found by fuzz_decode: a further whole message after the params (the guard admits
        # both; the raw decoder takes only the first, as in the daemon's buffer)
        write("fuzz_decode", "%02d_%s_raw_then_message" % (i, name),
              bytes([i]) + msgpack.packb(p) + msgpack.packb(["p1", "p2", 5]))
    # fuzz_stream: first byte = read size (0 = one read); pipelines and odd shapes
    write("fuzz_stream", "all_methods_one_read", b"\x00" + stream_all)
    write("fuzz_stream", "all_methods_7_byte_reads", b"\x07" + stream_all)
    write("fuzz_stream", "notification", b"\x03" + msgpack.packb([2, "ping", []]))
    write("fuzz_stream", "empty_key_split", b"\x08" + bytes.fromhex("940001a470696e679181a001"))
    # found by fuzz_stream: a partial ext32 header announcing 0xffffffff bytes reaches
    # msgpack-c before the guard has the whole header (msgpack-c fails; the daemon closes)
    write("fuzz_stream", "ext32_max_partial_header", bytes.fromhex("039326cfcf4fcf6d61726769c9ffffffff"))
    write("fuzz_stream", "bin_method_nil_params", b"\x00" + msgpack.packb([0, 5, b"order.get", [None]]))
    # fuzz_config: the shipped configuration plus overrides
    conf = os.path.join(ROOT, "packaging", "patrond.conf")
    if os.path.exists(conf):
        write("fuzz_config", "shipped", open(conf, "rb").read())
    write("fuzz_config", "small", b"[server]\nsocket = /run/p.sock\nsocket_mode = 0660\n"
          b"[limits]\nmax_connections = 64\n[store]\nsync = true\nmap_size_mb = 64\n"
          b"[log]\nlevel = debug\n")
    write("fuzz_config", "overrides", b"store.sync=false\nlimits.max_depth=8\n"
          b"server.admin_socket=auto\nrecs.similarity=cosine\n")
    write("fuzz_config", "errors", b"[nowhere]\nx=1\n[limits]\nmax_depth=-3\nbad line\n")
    # fuzz_client: first byte = mode (bit0 JSON call, bit1 small reply cap, bit3 notify)
    ok = msgpack.packb([1, 1, None, {"customer_id": "c1", "orders": 3, "clv": 12.5,
                                    "tags": ["a", "b"], "blob": b"\x00\xff", "neg": -7}])
    err = msgpack.packb([1, 1, {"code": "not_found", "message": "no customer", "field": "id"}, None])
    note = msgpack.packb([2, "customer.changed", [{"customer_id": "c1"}]])
    late = msgpack.packb([1, 0, None, True])
    write("fuzz_client", "ok_binary", b"\x00" + ok)
    write("fuzz_client", "ok_json", b"\x01" + ok)
    write("fuzz_client", "error_json", b"\x01" + err)
    write("fuzz_client", "notify_late_then_reply", b"\x08" + note + late + ok)
    write("fuzz_client", "array_error_small_cap", b"\x02" + msgpack.packb([1, 1, ["unavailable", "busy"], None]))
    # found by fuzz_client: map keys nested in map keys made the JSON rendering double per
    # level (seconds of CPU; 31 levels would need gigabytes)
    write("fuzz_client", "nested_map_keys", bytes.fromhex(
        "01940101c086abf0b9f0f086abaf2100006a00000000000000909081818181818181818181818181"
        "818181818181818101000000000000008181818108931d656874b10163af6f7200ffffffffffffff"
        "00ffffffffffffffffffffffffffffffffffffffffffffffffcbcb21cacbcbcb24cbcb00cbcbcbcb"
        "cbd1940101bf86ab63757374ab63756e75f09090f09490f090940101c086ab63a7dd9301dd937273"
        "ffffff"))
    write("fuzz_client", "json_text", b"\x05" + b'{"a":[1,2.5,"x",null,true],"b":{"c":-1}}')


if __name__ == "__main__":
    main()
