"""pg_model_failover.py -- the model leader's failover time (docs/BENCHMARKS.md section 15,
docs/SCALEOUT.md section 7): three patrond nodes on one PostgreSQL 15 (a throw-away cluster
started here, Unix socket), some orders so both models build; then, R times: kill -9 the model
leader during a CLV build (a model.refit held at the leader's build gate,
PATRON_DEBUG_BUILD_GATE: the build is marked as started in patron_model_builds, so the new
leader rebuilds CLV at once; a leader killed between builds leaves nothing to rebuild) and
measure
- lock: kill -> the new leader's row in patron_model_leader (written right after it took the
  advisory lock; PostgreSQL's now(), same host clock as the kill's time.time());
- published: kill -> the new leader's CLV snapshot row (created_at);
- served: kill -> every surviving node's model.status shows the new versions (polled).
Every other build passes the gates at once (a thread per node).
The killed node is restarted (it follows) before the next run. Every node restarts its poll
interval when a publication is notified, so a kill right after the fleet converged would land
at the same phase of the followers' polls each run: the kill waits a random 0..poll time first
(--no-spread: none), so the runs sample a kill at an arbitrary moment. Not a test: prints the
runs, the medians and the command.
usage: python3 bench/pg_model_failover.py PATH/TO/patrond [--runs R] [--poll-ms P]"""
import argparse
import os
import random
import signal
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import pgtest  # noqa: E402
from patrontest import BuildGate, Client, Daemon, order, wait_until  # noqa: E402

KINDS = ("clv", "recs")
REBUILT = ("clv",)  # the kind whose build the kill interrupts


class Gates:
    """Each node's build gate, passed at once except the one build held for the kill."""

    def __init__(self):
        self.hold = None  # the daemon whose next build stays at its gate
        self.held = threading.Event()
        self.gates = {}

    def start(self, d):
        if d not in self.gates:
            self.gates[d] = BuildGate(d)
        gate = self.gates[d]
        gate.start(d)
        threading.Thread(target=self.passer, args=(d, gate), daemon=True).start()

    def passer(self, d, gate):
        while True:
            gate.started()
            if self.hold is d:  # left at the gate: the node is killed there
                self.held.set()
                return
            gate.release()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("patrond")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--poll-ms", type=int, default=1000, help="store.model_leader_poll_ms")
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--no-spread", action="store_true", help="kill right after convergence")
    a = ap.parse_args()
    if not pgtest.available():
        sys.exit("postgresql-15 not installed")
    pg = pgtest.Postgres().start()
    nodes = []
    try:
        conninfo = pg.create_db("bench")

        def sql(q):
            return pg.psql(q, "bench")
        for i in range(3):
            nodes.append(Daemon(a.patrond, extra=[
                "--set", "store.backend=postgresql", "--set", "store.postgresql=" + conninfo,
                "--set", "store.node_name=node%d" % i,
                "--set", "store.model_leader_poll_ms=%d" % a.poll_ms]))
        gates = Gates()
        gates.start(nodes[0])
        cl = Client(nodes[0].sock)
        for i in range(a.orders):
            cl.call("order.record", order("o%d" % i, "c%d" % (i % 300),
                                          ts=1700000000 + (i % 400) * 86400,
                                          lines=[{"product_id": "p%d" % (i % 50), "quantity": 1,
                                                  "unit_price": 1000},
                                                 {"product_id": "p%d" % ((i * 7) % 50),
                                                  "quantity": 1, "unit_price": 700}]))
        cl.close()
        adm = Client(nodes[0].admin)  # node0 leads (it started alone): the first models
        adm.call("model.refit")
        adm.close()
        for d in nodes[1:]:
            gates.start(d)

        def newest():
            rows = sql("SELECT DISTINCT ON (kind) kind, version FROM patron_model_snapshots "
                       "ORDER BY kind, version DESC")
            return {r[0]: int(r[1]) for r in rows}

        def serving(live, want):
            for d in live:
                c = Client(d.sock)
                st = {m["name"]: m["version"] for m in c.call("model.status")["models"]}
                c.close()
                if st != want:
                    return False
            return True

        def leader_name():
            rows = sql("SELECT node FROM patron_model_leader")
            return rows[0][0] if rows else None
        wait_until(lambda: set(newest()) == set(KINDS), 60, "the first snapshots")
        runs = []
        for r in range(a.runs):
            before = newest()
            wait_until(lambda: serving(nodes, before), 30, "every node on the snapshots")
            name = leader_name()
            victim = nodes[int(name[4:])]
            live = [d for d in nodes if d is not victim]
            gates.held.clear()
            gates.hold = victim
            adm = Client(victim.admin)
            adm.send_raw(adm.request_bytes("model.refit", {"models": list(REBUILT)})[1])
            if not gates.held.wait(30):
                raise RuntimeError("the leader's refit did not reach its gate")
            gates.hold = None
            if not a.no_spread:  # a benchmark's sampling delay, not a wait for an event
                time.sleep(random.uniform(0, a.poll_ms / 1000.0))
            t_kill = time.time()
            t0 = time.monotonic()
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait()
            victim.proc = None
            victim.logf.close()
            adm.close()
            row = wait_until(lambda: (lambda x: x if x and x[0][0] != name else None)(
                sql("SELECT node, extract(epoch FROM since) FROM patron_model_leader")), 30,
                "a new leader")
            lock_ms = (float(row[0][1]) - t_kill) * 1000
            new = row[0][0]
            pub = wait_until(lambda: (lambda x: x if len(x) == len(REBUILT) else None)(
                sql("SELECT kind, max(extract(epoch FROM created_at)) FROM "
                    "patron_model_snapshots WHERE built_by = '%s' AND created_at >= "
                    "to_timestamp(%f) GROUP BY kind" % (new, t_kill))), 60, "the new snapshots")
            pub_ms = (max(float(x[1]) for x in pub) - t_kill) * 1000
            after = newest()
            wait_until(lambda: serving(live, after), 30, "the survivors on the new snapshots")
            served_ms = (time.monotonic() - t0) * 1000
            runs.append((lock_ms, pub_ms, served_ms))
            print("run %d: killed %s; %s took the lock after %.0f ms, published %r after %.0f ms, "
                  "every survivor served them after %.0f ms" % (r + 1, name, new, lock_ms, after,
                                                                 pub_ms, served_ms))
            gates.start(victim)  # back as a follower for the next run
        med = [statistics.median(x[i] for x in runs) for i in range(3)]
        print("model leader failover, %d runs, store.model_leader_poll_ms = %d: median kill -> "
              "lock %.0f ms, kill -> published %.0f ms, kill -> served on every node %.0f ms "
              "(load average %s)" % (len(runs), a.poll_ms, med[0], med[1], med[2],
                                     open("/proc/loadavg").read().split()[0]))
        print("command: python3 bench/pg_model_failover.py %s --runs %d --poll-ms %d%s"
              % (a.patrond, a.runs, a.poll_ms, " --no-spread" if a.no_spread else ""))
    finally:
        for d in nodes:
            if d.proc:
                d.stop()
            d.cleanup()
        pg.cleanup()


if __name__ == "__main__":
    main()
