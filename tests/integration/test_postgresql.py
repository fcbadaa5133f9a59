"""test_postgresql.py -- several patrond nodes sharing one real PostgreSQL 15 ([store] backend =
postgresql, docs/SCALEOUT.md), started by the test in a temporary directory (pgtest.py; Unix
socket only), no mocks. Each test gets a database of its own and fresh nodes:
- migrations: three nodes starting at once on an empty database apply each migration once;
- the change feed: an order recorded on node A is visible through customer.get on B and C within
  the documented bound (polled with a deadline), and a node's own write is visible to its next
  read at once;
- money: concurrent loyalty redemptions of one balance through all three nodes: exactly the
  affordable ones are accepted, every node ends on the same balance;
- idempotency: a redemption and an order replayed through another node answer the first answer;
- migration: `patronctl migrate` copies an embedded store into an empty database (and refuses
  a second time); the migrated node and a new one serve the same answers as before;
- a node restarted while the database is down serves reads from its local copy, refuses
  writes, says stale, and recovers on its own when the database returns;
- failure: PostgreSQL restarted under a write load through all nodes: writes during the outage
  answer `unavailable`, health says stale, the nodes recover without a restart, no acknowledged
  write is lost and none is counted twice;
- the change log keeps only the newest change of a record (a forgotten customer's data does not
  linger in it);
- the offer-token key ring is one record of the fleet: a token decided on one node redeems on
  another, also after offers.rotate_key on a third (old tokens within the grace, new ones from
  every node).
With PATRON_TEST_PG_WRITE_LOCK=table every node takes the fleet's write lock as a row lock
(docs/SCALEOUT.md: engines without advisory locks); the same tests must pass.
usage: python3 test_postgresql.py PATH/TO/patrond   (exit 77 without postgresql-15)"""
import base64
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgtest  # noqa: E402
from patrontest import Client, Daemon, RpcError, order, wait_until  # noqa: E402

PATROND = None
PATRONCTL = None
PG = None
FEED_POLL_MS = 500
# docs/SCALEOUT.md: another node's committed write is in a node's local copy within one feed
# poll interval after its COMMIT (NOTIFY wakes the feed at once; the poll covers a lost one);
# the test allows twice that for a loaded machine
BOUND_S = 2 * FEED_POLL_MS / 1000.0
# the fleet's write lock ([store] pg_write_lock): CMake runs this file once per kind
WRITE_LOCK = os.environ.get("PATRON_TEST_PG_WRITE_LOCK", "advisory")

PROGRAM = {
    "tiers": [{"name": "silver", "entry_threshold": 500, "earn_mult_bp": 10000}],
    "basis": "points", "window": "lifetime", "downgrade": "never",
    "earn": [{"currency": "EUR", "points": 1, "per_minor": 100}],
    "redeem": [{"currency": "EUR", "points": 100, "per_minor": 500}],
    "pending_days": 0, "expiry": "none",
}


def order_count(cl, cust):
    """customer.get's order_count on one node; 0 while the node does not know the customer."""
    try:
        return cl.call("customer.get", {"customer_id": cust})["order_count"]
    except RpcError as e:
        if e.code != "not_found":
            raise
        return 0


def all_at_once(f, requests):
    """Send every (node, method, params) request, each on a connection of its own, before
    reading any answer; the raw answers [1, msgid, error, result] in request order."""
    sent = []
    for node, method, params in requests:
        cl = Client(f.nodes[node].sock)
        msgid, data = cl.request_bytes(method, params)
        sent.append((cl, msgid, data))
    for cl, _, data in sent:
        cl.send_raw(data)
    answers = [cl.read_reply(m) for cl, m, _ in sent]
    for cl, _, _ in sent:
        cl.close()
    return answers


def eur_order(oid, cust, euros, ts=None):
    return order(oid, cust, ts=ts or int(time.time()),
                 lines=[{"product_id": "p1", "quantity": 1, "unit_price": euros * 100}])


class Fleet:
    """n patrond nodes on one database."""

    def __init__(self, db, n=3, start=True):
        self.conninfo = PG.create_db(db)
        self.db = db
        self.nodes = [Daemon(PATROND, extra=[
            "--set", "store.backend=postgresql", "--set", "store.postgresql=" + self.conninfo,
            "--set", "store.node_name=node%d" % i, "--set", "store.feed_poll_ms=%d" % FEED_POLL_MS,
            "--set", "store.pg_write_lock=" + WRITE_LOCK])
            for i in range(n)]
        self.clients = []
        if start:
            for d in self.nodes:
                d.start()
            self.connect()

    def connect(self):
        self.clients = [Client(d.sock) for d in self.nodes]
        self.admins = [Client(d.admin) for d in self.nodes]

    def sql(self, q):
        return PG.psql(q, self.db)

    def close(self):
        """Stop every node with SIGTERM: each must exit 0 (under ASan: no leak, no error)."""
        for c in self.clients + getattr(self, "admins", []):
            c.close()
        codes = []
        for d in self.nodes:
            if d.proc:
                codes.append(d.stop())
            log = d.read_log() if os.path.exists(d.log) else ""
            d.cleanup()
            if "Sanitizer" in log:
                raise AssertionError("sanitizer report:\n" + log[-4000:])
        if any(codes):
            raise AssertionError("a node exited with %r" % codes)


class PostgresqlTest(unittest.TestCase):
    def tearDown(self):
        if getattr(self, "fleet", None):
            self.fleet.close()

    def test_a_migrations_apply_once_when_nodes_start_together(self):
        self.fleet = f = Fleet("mig", start=False)
        threads = [threading.Thread(target=d.start) for d in f.nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        f.connect()
        for c in f.clients:
            self.assertTrue(c.call("health")["ok"])
        rows = f.sql("SELECT version, count(*) FROM patron_schema_migrations GROUP BY version "
                     "ORDER BY version")
        sql_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../src/store/pg")
        versions = sorted(int(n.split("_")[0]) for n in os.listdir(sql_dir) if n.endswith(".sql"))
        self.assertEqual(rows, [[str(v), "1"] for v in versions])
        self.assertEqual(f.sql("SELECT count(*) FROM patron_meta WHERE k = 'cluster_id'"), [["1"]])
        self.assertEqual(f.sql("SELECT v FROM patron_meta WHERE k = 'write_lock'"), [[WRITE_LOCK]])
        # a node taking the other lock would not exclude the others' writes: refused
        other = {"advisory": "table", "table": "advisory"}[WRITE_LOCK]
        odd = Daemon(PATROND, extra=["--set", "store.backend=postgresql", "--set",
                                     "store.postgresql=" + f.conninfo, "--set",
                                     "store.pg_write_lock=" + other])
        self.addCleanup(odd.cleanup)
        with self.assertRaises(RuntimeError):  # exits at start
            odd.start()
        self.assertIn("every node must take the same one", odd.read_log())
        bad = subprocess.run([PATROND, "--no-config", "--set", "store.pg_write_lock=row",
                              "--print-config"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn(b"store.pg_write_lock must be advisory or table", bad.stderr)
        for d in f.nodes:
            self.assertNotIn("error", d.read_log())
        # one offer-token key ring for the three nodes that started together: exactly one
        # stored it, and a token decided on each node redeems on the next one
        self.assertEqual(sum("token key ring is stored" in d.read_log() for d in f.nodes), 1)
        f.admins[0].call("offers.set", {"id": "t", "kind": "amount_off", "value": 100,
                                        "currency": "EUR"})
        cart = {"currency": "EUR", "lines": [{"product_id": "p", "quantity": 1,
                                              "unit_price": 1000}]}
        for i in range(3):
            cust = "ta%d" % i
            wait_until(lambda: any(o.get("token") for o in f.clients[i].call(
                "offers.decide", {"customer_id": cust, "cart": cart})["offers"]), BOUND_S,
                "the offer on node %d" % i)
            tok = [o["token"] for o in f.clients[i].call(
                "offers.decide", {"customer_id": cust, "cart": cart})["offers"] if o.get("token")]
            r = f.clients[(i + 1) % 3].call("offers.redeem", {
                "token": tok[0], "customer_id": cust, "cart": cart, "idempotency_key": cust})
            self.assertEqual(r["discount"], 100)

    def test_b_an_order_on_one_node_is_read_on_the_others_within_the_bound(self):
        self.fleet = f = Fleet("feed")
        a, b, c = f.clients
        t0 = time.monotonic()
        self.assertTrue(a.call("order.record", eur_order("o1", "c1", 25))["created"])
        acked = time.monotonic()
        # A's own acknowledged write: visible to A's next read, no wait
        self.assertEqual(order_count(a, "c1"), 1)
        for cl in (b, c):
            wait_until(lambda: order_count(cl, "c1") == 1,
                       BOUND_S, "the order on the other nodes within %.1f s" % BOUND_S)
        seen = time.monotonic()
        print("order.record acked in %.1f ms; visible on B and C %.1f ms after the ack"
              % (1000 * (acked - t0), 1000 * (seen - acked)))
        # B's cached answer (read twice: the second from the cache) is dropped when C writes
        self.assertEqual(order_count(b, "c1"), 1)
        self.assertTrue(c.call("order.record", eur_order("o2", "c1", 5))["created"])
        wait_until(lambda: order_count(b, "c1") == 2,
                   BOUND_S, "B's cached customer.get dropped after C's write")
        for cl in f.clients:
            wait_until(lambda: order_count(cl, "c1") == 2, BOUND_S, "C's order on every node")
            o = cl.call("order.get", {"order_id": "o2"})
            self.assertEqual((o["customer_id"], o["lines"][0]["unit_price"]), ("c1", 500))
        st = b.call("stats")["store"]
        self.assertEqual(st["backend"], "postgresql")
        self.assertTrue(st["feed"]["connected"])
        self.assertEqual(st["feed"]["applied_pos"],
                         int(f.sql("SELECT max(pos) FROM patron_change_log")[0][0]))

    def test_c_concurrent_redemptions_through_three_nodes_take_only_the_balance(self):
        self.fleet = f = Fleet("money")
        f.admins[0].call("loyalty.program.set", PROGRAM)
        f.clients[0].call("order.record", eur_order("o1", "c4", 1000))  # 1000 points
        answers = all_at_once(f, [(i % 3, "loyalty.redeem", {  # 4 a node
            "customer_id": "c4", "points": 300, "redemption_id": "r%d" % i, "currency": "EUR"})
            for i in range(12)])
        for a in answers:
            self.assertIsNone(a[2], a)
        statuses = [a[3]["status"] for a in answers]
        self.assertEqual(statuses.count("accepted"), 1000 // 300, statuses)
        self.assertEqual(statuses.count("insufficient_points"), 12 - 1000 // 300, statuses)
        for cl in f.clients:
            wait_until(lambda: cl.call("loyalty.points", {"customer_id": "c4"})["balance"] == 100,
                       BOUND_S, "balance 100 on every node")
        for adm in f.admins:
            self.assertTrue(adm.call("loyalty.check")["ok"])

    def test_c2_concurrent_offer_redemptions_through_three_nodes_keep_the_budget(self):
        self.fleet = f = Fleet("budget")
        budget = 5
        f.admins[0].call("offers.set", {"id": "scarce", "kind": "amount_off", "value": 300,
                                        "currency": "EUR", "budget": {"redemptions": budget}})
        cart = {"currency": "EUR", "lines": [{"product_id": "mug", "category": "kitchen",
                                              "quantity": 2, "unit_price": 2500}]}

        def offered(cl, cust):
            return [o for o in cl.call("offers.decide", {"customer_id": cust, "cart": cart})["offers"]
                    if o["offer_id"] == "scarce" and o.get("token")]
        for cl in f.clients:  # the catalogue follows another node's offers.set
            wait_until(lambda: any(offered(cl, "k%d" % i) for i in range(20)), BOUND_S,
                       "the offer on every node")
        tokens = []
        for i in range(40):
            got = offered(f.clients[i % 3], "k%d" % i)
            if got:
                tokens.append(("k%d" % i, got[0]["token"], (i + 1) % 3))  # redeemed elsewhere
        self.assertGreater(len(tokens), 3 * budget)
        answers = all_at_once(f, [(node, "offers.redeem", {
            "token": tok, "customer_id": cust, "cart": cart, "idempotency_key": "s-" + cust})
            for cust, tok, node in tokens])
        ok = [a for a in answers if a[2] is None]
        refused = [a[2]["message"].split(":")[0] for a in answers if a[2] is not None]
        self.assertEqual(len(ok), budget, answers)
        self.assertEqual(set(refused), {"budget_exhausted"}, refused)
        for adm in f.admins:
            wait_until(lambda: adm.call("experiments.report", {"offer_id": "scarce"})
                       ["redemptions"] == budget, BOUND_S, "the budget's count on every node")

    def test_d_a_replay_through_another_node_returns_the_first_answer(self):
        self.fleet = f = Fleet("replay")
        a, b, c = f.clients
        f.admins[1].call("loyalty.program.set", PROGRAM)
        first_order = a.call("order.record", eur_order("o1", "c5", 300, ts=1700000000))
        self.assertTrue(first_order["created"])
        again = c.call("order.record", eur_order("o1", "c5", 300, ts=1700000000))
        self.assertEqual((again["created"], again["total"]), (False, first_order["total"]))
        with self.assertRaises(RpcError) as cm:  # same id, other content: conflict on any node
            b.call("order.record", eur_order("o1", "c5", 301, ts=1700000000))
        self.assertEqual(cm.exception.code, "conflict")
        req = {"customer_id": "c5", "points": 200, "redemption_id": "rp1", "currency": "EUR"}
        first = a.call("loyalty.redeem", req)
        self.assertEqual((first["status"], first["created"], first["balance_after"]),
                         ("accepted", True, 100))
        for cl in (b, c):  # at once: the replay is decided in the database's order, not the feed's
            r = cl.call("loyalty.redeem", req)
            self.assertEqual((r["status"], r["created"], r["balance_after"], r["value"]),
                             ("accepted", False, 100, first["value"]))
        self.assertEqual(f.sql("SELECT count(*) FROM patron_change_log WHERE tbl = 'orders'"),
                         [["1"]])

    def write_load(self, f, fault, must_refuse=True):
        """Orders through every node (unique ids, a refused one retried with the same id) while
        fault() runs; then: every refusal was `unavailable`, every acknowledged order is in the
        database, none was stored twice, every node converges. Returns (acked, refused)."""
        acked, errors, lock = set(), [], threading.Lock()
        stop = threading.Event()

        def load(node):
            cl = Client(f.nodes[node].sock)
            i = 0
            while not stop.is_set():
                oid = "n%d-%d" % (node, i)
                try:
                    cl.call("order.record", eur_order(oid, "cust%d" % (i % 7), 1))
                    with lock:
                        acked.add(oid)
                    i += 1
                except RpcError as e:
                    with lock:
                        errors.append(e.code)
                    stop.wait(0.005)  # a client's retry pace; the same id again (idempotent)
            cl.close()

        threads = [threading.Thread(target=load, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: len(acked) >= 30, 10, "writes before the fault")
            fault(acked, errors)
            n = len(acked)
            wait_until(lambda: len(acked) >= n + 30, 15, "writes after the fault")
        finally:
            stop.set()
            for t in threads:
                t.join()
        if must_refuse:
            self.assertTrue(errors, "the fault refused no write")
        self.assertEqual(set(errors), {"unavailable"}, errors)
        stored = {r[0] for r in f.sql("SELECT convert_from(key, 'UTF8') FROM patron_kv "
                                      "WHERE tbl = 'orders'")}
        self.assertEqual(acked - stored, set(), "acknowledged writes lost")
        total = len(stored)
        for cl in f.clients:
            wait_until(lambda: cl.call("stats")["counts"]["orders"] == total, BOUND_S * 4,
                       "every node holds the %d orders" % total)
            try:
                wait_until(lambda: cl.call("health")["ok"], 10, "health ok again")
            except AssertionError:
                raise AssertionError("health not ok again: %r" % cl.call("health"))
            # no order counted twice: the customers' order counts add up to the orders stored
            self.assertEqual(sum(order_count(cl, "cust%d" % i) for i in range(7)), total)
        return acked, errors

    def test_g_the_log_keeps_no_overwritten_value(self):
        self.fleet = f = Fleet("compact", n=2)
        a, b = f.clients
        a.call("customer.upsert", {"customer_id": "cf", "email": "first@example.org"})
        a.call("order.record", eur_order("of1", "cf", 10))
        b.call("customer.upsert", {"customer_id": "cf", "email": "second@example.org"})
        rows = f.sql("SELECT count(*) FROM patron_change_log WHERE tbl = 'customers' AND "
                     "key = convert_to('cf', 'UTF8')")
        self.assertEqual(rows, [["1"]])
        log = f.sql("SELECT encode(val, 'escape') FROM patron_change_log WHERE val IS NOT NULL")
        self.assertFalse(any("first@example.org" in r[0] for r in log))
        self.assertTrue(any("second@example.org" in r[0] for r in log))
        wait_until(lambda: a.call("customer.get", {"customer_id": "cf"})["email"]
                   == "second@example.org", BOUND_S, "B's upsert on A")
        f.admins[0].call("customer.forget", {"customer_id": "cf"})
        log = f.sql("SELECT encode(val, 'escape') FROM patron_change_log WHERE val IS NOT NULL "
                    "UNION ALL SELECT encode(val, 'escape') FROM patron_kv")
        self.assertFalse(any("example.org" in r[0] for r in log), "personal data left")
        wait_until(lambda: order_count(b, "cf") == 0, BOUND_S, "the forget on B")

    def test_h_patronctl_migrate_moves_an_embedded_store_into_the_fleet(self):
        emb = Daemon(PATROND).start()
        self.addCleanup(emb.cleanup)
        c, adm = Client(emb.sock), Client(emb.admin)
        adm.call("loyalty.program.set", PROGRAM)
        for i in range(20):
            c.call("order.record", eur_order("m%d" % i, "mc%d" % (i % 4), 100 + i, ts=1700000000 + i))
        c.call("loyalty.redeem", {"customer_id": "mc1", "points": 100, "redemption_id": "mr1",
                                  "currency": "EUR"})
        before = {cu: c.call("customer.get", {"customer_id": cu}) for cu in ("mc0", "mc1")}
        points = c.call("loyalty.points", {"customer_id": "mc1"})["balance"]
        c.close()
        adm.close()
        self.assertEqual(emb.stop(), 0)
        conninfo = PG.create_db("migrated")
        env = dict(os.environ, PATROND=PATROND)
        r = subprocess.run([PATRONCTL, "migrate", "--postgresql", conninfo, "--data-dir", emb.data,
                            "--config", os.devnull], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        out = r.stdout.decode()
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("migrated", out)
        again = subprocess.run([PATRONCTL, "migrate", "--postgresql", conninfo, "--data-dir",
                                emb.data, "--config", os.devnull], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertNotEqual(again.returncode, 0)
        self.assertIn("already holds records", again.stdout.decode())
        # the migrated node on its old directory, and a new node: both serve the same answers
        pg_args = ["--set", "store.backend=postgresql", "--set", "store.postgresql=" + conninfo]
        old = Daemon(PATROND, extra=pg_args, data_dir=emb.data).start()
        new = Daemon(PATROND, extra=pg_args).start()
        for d in (old, new):
            self.addCleanup(d.cleanup)
            cl = Client(d.sock)
            for cu, want in before.items():
                got = cl.call("customer.get", {"customer_id": cu})
                self.assertEqual((got["order_count"], got["totals"]),
                                 (want["order_count"], want["totals"]))
            self.assertEqual(cl.call("loyalty.points", {"customer_id": "mc1"})["balance"], points)
            with self.assertRaises(RpcError) as cm:  # the redemption's key moved too
                cl.call("loyalty.redeem", {"customer_id": "mc1", "points": 5,
                                           "redemption_id": "mr1", "currency": "EUR"})
            self.assertEqual(cm.exception.code, "conflict")
            cl.close()

    def test_i_a_node_started_while_the_database_is_down_serves_and_recovers(self):
        self.fleet = f = Fleet("startdown", n=2)
        a, b = f.clients
        a.call("order.record", eur_order("d1", "dc", 10))
        wait_until(lambda: order_count(b, "dc") == 1, BOUND_S, "the order on B")
        b.close()
        self.assertEqual(f.nodes[1].stop(), 0)
        PG.stop("fast")
        try:
            f.nodes[1].start()  # on its local copy
            f.nodes[1].wait_for_log("unreachable at start", 0)
            b = f.clients[1] = Client(f.nodes[1].sock)
            self.assertEqual(order_count(b, "dc"), 1)  # reads served from the local copy
            with self.assertRaises(RpcError) as cm:
                b.call("order.record", eur_order("d2", "dc", 10))
            self.assertEqual(cm.exception.code, "unavailable")
            h = b.call("health")
            self.assertEqual((h["ok"], h["stale"]), (False, True))
        finally:
            PG.start()
        wait_until(lambda: b.call("health")["ok"], 10, "B healthy once the database is back")
        self.assertTrue(b.call("order.record", eur_order("d2", "dc", 10))["created"])
        a.call("order.record", eur_order("d3", "dc", 10))
        for cl in (a, b):
            wait_until(lambda: order_count(cl, "dc") == 3, BOUND_S, "all three orders everywhere")

    def test_e_database_restart_under_load_loses_nothing_and_recovers(self):
        self.fleet = f = Fleet("restart")

        def restart(acked, errors):
            PG.stop("fast")
            before = len(errors)
            wait_until(lambda: len(errors) >= before + 3, 10, "writes refused during the outage")
            wait_until(lambda: f.clients[1].call("health")["stale"], 10, "health says stale")
            # reads are still served from the local copy
            self.assertGreaterEqual(f.clients[2].call("stats")["counts"]["orders"], 1)
            PG.start()
        acked, errors = self.write_load(f, restart)
        print("restart: %d orders acknowledged, %d refusals (unavailable) during the outage"
              % (len(acked), len(errors)))

    def test_f_killed_connections_during_batches_lose_nothing(self):
        self.fleet = f = Fleet("kill")

        def kill(acked, errors):
            for _ in range(5):  # the nodes' connections, writers and feeds, mid-batch or idle
                before = len(errors)
                killed = f.sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE application_name = 'patrond' AND datname = 'kill'")
                self.assertGreater(int(killed[0][0]), 0)
                n = len(acked)
                wait_until(lambda: len(acked) > n + 5 and len(errors) >= before, 10,
                           "writes again after the kill")
        # a kill between batches refuses nothing (the next BEGIN reconnects): refusals optional
        acked, errors = self.write_load(f, kill, must_refuse=False)
        print("killed connections: %d orders acknowledged, %d refusals (unavailable)"
              % (len(acked), len(errors)))

    def test_j_the_offer_key_ring_is_the_fleets(self):
        self.fleet = f = Fleet("keys")
        for d in f.nodes:  # no key file on any node: one ring, a record of the database
            self.assertFalse(os.path.exists(os.path.join(d.data, "offers.key")))
        self.assertEqual(f.sql("SELECT count(*) FROM patron_kv WHERE tbl = 'meta' AND "
                               "key = convert_to('offers_keyring', 'UTF8')"), [["1"]])
        f.admins[0].call("offers.set", {"id": "ten", "kind": "amount_off", "value": 1000,
                                        "currency": "EUR"})
        cart = {"currency": "EUR", "lines": [{"product_id": "mug", "quantity": 1,
                                              "unit_price": 2500}]}
        serial = iter(range(10**6))

        def token(node):
            """(customer, token) decided on node for a new customer."""
            cust = "kc%d" % next(serial)
            got = [o["token"] for o in f.clients[node].call(
                "offers.decide", {"customer_id": cust, "cart": cart})["offers"]
                if o["offer_id"] == "ten" and o.get("token")]
            return (cust, got[0]) if got else (cust, None)

        def key_id(tok):
            raw = base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4))
            return int.from_bytes(raw[2:6], "big")

        def redeem(node, cust_tok):
            cust, tok = cust_tok
            r = f.clients[node].call("offers.redeem", {"token": tok, "customer_id": cust,
                                                      "cart": cart, "idempotency_key": "i-" + cust})
            self.assertEqual((r["offer_id"], r["discount"]), ("ten", 1000))

        for i in range(3):  # the catalogue follows A's offers.set
            wait_until(lambda: token(i)[1], BOUND_S, "the offer on node %d" % i)
        first = key_id(token(0)[1])
        # decided on each node, redeemed on each other one (A -> B among them)
        old = {(i, j): token(i) for i in range(3) for j in range(3) if i != j}
        self.assertEqual({key_id(t) for _, t in old.values()}, {first})
        for (i, j), ct in list(old.items())[:3]:
            redeem(j, ct)
        rot = f.admins[2].call("offers.rotate_key")  # on C
        self.assertEqual((rot["previous_key_id"], rot["key_id"]), (first, first + 1))
        # the tokens of the previous key, still accepted everywhere (within the grace), at once
        for (i, j), ct in list(old.items())[3:]:
            redeem(j, ct)
        # every node signs with the new key once the feed brings it; each verifies the others'
        for i in range(3):
            wait_until(lambda: key_id(token(i)[1]) == rot["key_id"], BOUND_S,
                       "node %d signing with the rotated key" % i)
        for i in range(3):
            for j in range(3):
                if i != j:
                    ct = token(i)
                    self.assertEqual(key_id(ct[1]), rot["key_id"])
                    redeem(j, ct)
        self.assertEqual(f.sql("SELECT count(*) FROM patron_kv WHERE tbl = 'meta' AND "
                               "key = convert_to('offers_keyring', 'UTF8')"), [["1"]])
        # a second rotation (on B) retires the first key: refused on every node
        stale = token(0)
        f.admins[1].call("offers.rotate_key")
        f.admins[1].call("offers.rotate_key")
        for j in range(3):
            with self.assertRaises(RpcError) as cm:
                redeem(j, stale)
            self.assertTrue(cm.exception.err["message"].startswith("token_bad_signature"),
                            cm.exception.err)

if __name__ == "__main__":
    PATRONCTL = os.environ.get("PATRONCTL") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[1]))), "adapters", "c",
        "patronctl") if len(sys.argv) > 1 else None
    pgtest.main(sys.modules[__name__], __doc__)
