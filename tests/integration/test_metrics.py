"""test_metrics.py -- patrond's Prometheus exposition (issue 11, Observability): the HTTP
/metrics listener scraped with curl and the node_exporter textfile, both parsed by a strict
parser of the text format (promtext.py); counters that follow known requests; the listener's
refusals (405, 404, 431, 400, connection limit, slowloris timeout); the error-answer and
slow-request log lines (rate-limited, no personal data); stats' peak RSS never below RSS.
Usage: test_metrics.py PATROND"""
import os
import socket
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promtext  # noqa: E402
from patrontest import SLOWDOWN, BuildGate, Client, Daemon, RpcError, free_port, order, wait_until  # noqa: E402

PATROND = None
# http_metrics.h
HTTP_REQ_MAX = 8192
HTTP_MAX_CONNS = 16
HTTP_CONN_TIMEOUT_S = 5


def scrape(port, path="/metrics", method="GET"):
    """curl's status line and body."""
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "-X", method, "-o", "-",
                        "-w", "\n%{http_code}", "http://127.0.0.1:%d%s" % (port, path)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    body, _, code = r.stdout.decode().rpartition("\n")
    return int(code), body


def raw_http(port, data, shut=False, timeout=10):
    """Send bytes, read until the daemon closes; the bytes it answered."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except ConnectionResetError:
        pass
    s.close()
    return out


def prometheus_client_agrees(test, text, fams):
    """A second, independent parser: the official Python client's (Debian
    python3-prometheus-client) reads the same series, types and values as promtext."""
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:  # scripts/setup-deps.sh installs it
        print("note: python3-prometheus-client is missing: second parser skipped")
        return
    theirs, ours = {}, {}
    for fam in text_string_to_metric_families(text):
        for smp in fam.samples:
            theirs[(smp.name, tuple(sorted(smp.labels.items())))] = (fam.type, smp.value)
    for fam in fams.values():
        for name, labels, v in fam["samples"]:
            ours[(name, tuple(sorted(labels.items())))] = (fam["type"], v)
    test.assertEqual(sorted(ours), sorted(theirs))
    for key, (typ, v) in ours.items():
        test.assertEqual(theirs[key], (typ, v), key)


class ParserTest(unittest.TestCase):
    """The parser rejects what the spec forbids (so its acceptance of patrond's output means
    something)."""

    GOOD = ("# HELP h A histogram.\n# TYPE h histogram\n"
            'h_bucket{m="a",le="0.1"} 1\nh_bucket{m="a",le="1"} 2\nh_bucket{m="a",le="+Inf"} 3\n'
            'h_sum{m="a"} 1.5\nh_count{m="a"} 3\n'
            "# TYPE c counter\nc{x=\"q\\\"\\\\\\n\"} 4\n")

    def test_good(self):
        f = promtext.parse(self.GOOD)
        self.assertEqual(promtext.value(f, "h", "h_count", m="a"), 3)
        self.assertEqual(promtext.value(f, "c", x='q"\\\n'), 4)

    def test_rejects(self):
        bad = [
            self.GOOD.replace('le="1"} 2', 'le="1"} 0'),            # not cumulative
            self.GOOD.replace('h_count{m="a"} 3', 'h_count{m="a"} 4'),  # +Inf != count
            self.GOOD.replace('h_bucket{m="a",le="+Inf"} 3\n', ""),   # no +Inf
            self.GOOD.replace("# TYPE c counter\n", ""),               # no TYPE
            self.GOOD + "c{x=\"q\\\"\\\\\\n\"} 5\n",                   # series twice
            self.GOOD.replace('x="q', 'x="\\q'),                       # bad escape
            self.GOOD.replace("} 4", "} four"),                        # bad value
            self.GOOD + "# TYPE h2 gauge\nh2 1\nc{x=\"z\"} 1\n",      # family not one group
            self.GOOD.replace("c{", "9c{"),                            # bad name
            self.GOOD[:-1],                                            # no final newline
            self.GOOD.replace("} 4", "} -4"),                          # negative counter
        ]
        for text in bad:
            with self.assertRaises(promtext.ParseError, msg=text):
                promtext.parse(text)


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.d = Daemon(PATROND, sync=False)
        cls.textfile = os.path.join(cls.d.tmp, "textfile", "patron.prom")
        os.mkdir(os.path.dirname(cls.textfile))
        cls.d.start(["--set", "metrics.listen=127.0.0.1:%d" % cls.port,
                     "--set", "metrics.textfile=" + cls.textfile,
                     "--set", "metrics.textfile_interval_s=1"])

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0, cls.d.read_log()
        cls.d.cleanup()

    def metrics(self):
        code, body = scrape(self.port)
        self.assertEqual(code, 200, body)
        fams = promtext.parse(body)
        prometheus_client_agrees(self, body, fams)
        return fams

    def test_every_family_typed_and_documented(self):
        f = self.metrics()
        for name, fam in f.items():
            self.assertTrue(name.startswith("patron_"), name)
            self.assertTrue(fam["help"], name)
        for name in ("patron_requests_total", "patron_request_errors_total",
                     "patron_request_duration_seconds", "patron_connections",
                     "patron_queue_depth", "patron_write_batch_size",
                     "patron_commit_duration_seconds", "patron_model_age_seconds",
                     "patron_model_bytes", "patron_lmdb_map_used_bytes",
                     "patron_lmdb_map_size_bytes", "patron_process_resident_memory_bytes",
                     "patron_process_peak_resident_memory_bytes"):
            self.assertIn(name, f)
        self.assertEqual(promtext.value(f, "patron_connections", socket="tls"), 0)  # no [tls]
        self.assertIn("patron_tls_handshake_failures_total", f)
        self.assertEqual(f["patron_request_duration_seconds"]["type"], "histogram")
        self.assertEqual(f["patron_requests_total"]["type"], "counter")
        used = promtext.value(f, "patron_lmdb_map_used_bytes")
        size = promtext.value(f, "patron_lmdb_map_size_bytes")
        self.assertTrue(0 < used <= size, (used, size))
        rss = promtext.value(f, "patron_process_resident_memory_bytes")
        peak = promtext.value(f, "patron_process_peak_resident_memory_bytes")
        self.assertTrue(0 < rss <= peak, (rss, peak))

    def test_counters_follow_requests(self):
        before = self.metrics()
        n = 37
        c = Client(self.d.sock)
        for _ in range(n):
            c.call("ping")
        # error answers: not_found (a read on the loop), unknown_method, forbidden
        for _ in range(3):
            with self.assertRaises(RpcError) as cm:
                c.call("customer.get", {"customer_id": "nobody-here"})
            self.assertEqual(cm.exception.code, "not_found")
        with self.assertRaises(RpcError):
            c.call("no.such.method")
        with self.assertRaises(RpcError) as cm:
            c.call("model.refit")
        self.assertEqual(cm.exception.code, "forbidden")
        # writes through the group-commit writer, one with invalid params (an error there)
        k = 5
        for i in range(k):
            c.call("order.record", order("metrics-o%d" % i, "metrics-c%d" % i))
        with self.assertRaises(RpcError) as cm:
            c.call("order.record", order("metrics-bad", "c", cur="XX"))
        self.assertEqual(cm.exception.code, "invalid_params")
        conns_during = promtext.value(self.metrics(), "patron_connections", socket="shop")
        c.close()
        after = self.metrics()

        def delta(family, sample=None, **labels):
            return (promtext.value(after, family, sample, **labels)
                    - promtext.value(before, family, sample, **labels))
        self.assertEqual(delta("patron_requests_total", method="ping"), n)
        self.assertEqual(delta("patron_request_duration_seconds",
                               "patron_request_duration_seconds_count", method="ping"), n)
        self.assertEqual(delta("patron_request_duration_seconds",
                               "patron_request_duration_seconds_bucket", method="ping",
                               le="+Inf"), n)
        self.assertEqual(delta("patron_request_errors_total", method="customer.get",
                               code="not_found"), 3)
        self.assertEqual(delta("patron_request_errors_total", method="(unknown)",
                               code="unknown_method"), 1)
        self.assertEqual(delta("patron_requests_total", method="(unknown)"), 1)
        self.assertEqual(delta("patron_request_errors_total", method="model.refit",
                               code="forbidden"), 1)
        self.assertEqual(delta("patron_request_errors_total", method="order.record",
                               code="invalid_params"), 1)
        self.assertEqual(delta("patron_request_errors_total", method="ping",
                               code="not_found"), 0)
        self.assertEqual(delta("patron_requests_total", method="order.record"), k + 1)
        self.assertEqual(delta("patron_writes_committed_total"), k)
        # every write went through a batch: the batch sizes add up to the writes batched
        self.assertEqual(delta("patron_write_batch_size", "patron_write_batch_size_sum"), k)
        self.assertGreaterEqual(delta("patron_commit_duration_seconds",
                                      "patron_commit_duration_seconds_count"), 1)
        self.assertEqual(delta("patron_commit_duration_seconds",
                               "patron_commit_duration_seconds_count"),
                         delta("patron_write_batch_size", "patron_write_batch_size_count"))
        self.assertGreaterEqual(conns_during, 1)
        self.assertEqual(delta("patron_connections_accepted_total"), 1)

    def test_models_after_refit(self):
        c, a = Client(self.d.sock), Client(self.d.admin)
        for i in range(20):
            c.call("order.record", order("model-o%d" % i, "model-c%d" % (i % 7),
                                         ts=1700000000 + 86400 * i))
        a.call("model.refit")
        status = {m["name"]: m for m in a.call("model.status")["models"]}
        c.close()
        a.close()
        f = self.metrics()
        for name, st in status.items():
            self.assertEqual(promtext.value(f, "patron_model_version", model=name), st["version"])
            self.assertEqual(promtext.value(f, "patron_model_bytes", model=name), st["bytes"])
            self.assertEqual(promtext.value(f, "patron_model_ready", model=name),
                             1 if st["status"] == "ready" else 0)
        self.assertEqual(promtext.value(f, "patron_model_ready", model="clv"), 1)

    def test_textfile(self):
        def parsed():
            if not os.path.exists(self.textfile):
                return None
            with open(self.textfile) as fh:
                text = fh.read()
            fams = promtext.parse(text)
            prometheus_client_agrees(self, text, fams)
            return fams
        first = wait_until(parsed, 10, "the textfile")
        self.assertEqual(stat.S_IMODE(os.stat(self.textfile).st_mode), 0o644)
        c = Client(self.d.sock)
        n = 11
        base = promtext.value(first, "patron_requests_total", method="health")
        for _ in range(n):
            c.call("health")
        c.close()
        # rewritten every second: wait for the version holding the calls
        wait_until(lambda: promtext.value(parsed(), "patron_requests_total",
                                          method="health") == base + n, 10,
                   "the textfile to count the health calls")
        leftovers = [x for x in os.listdir(os.path.dirname(self.textfile)) if x != "patron.prom"]
        self.assertEqual(leftovers, [])

    def test_head_and_query(self):
        out = raw_http(self.port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = out.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), out[:200])
        self.assertIn(b"text/plain; version=0.0.4", head)
        self.assertEqual(body, b"")
        code, body = scrape(self.port, "/metrics?x=1")
        self.assertEqual(code, 200)
        promtext.parse(body)

    def test_refusals(self):
        code, body = scrape(self.port, method="POST")
        self.assertEqual(code, 405)
        out = raw_http(self.port, b"DELETE /metrics HTTP/1.1\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 405 "), out)
        self.assertIn(b"\r\nAllow: GET, HEAD\r\n", out)
        for path in ("/", "/metricsx", "/metrics/", "/favicon.ico"):
            self.assertEqual(scrape(self.port, path)[0], 404, path)
        # oversize head: 431, then closed
        out = raw_http(self.port, b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * (2 * HTTP_REQ_MAX))
        self.assertTrue(out.startswith(b"HTTP/1.1 431 "), out[:100])
        # garbage, with and without an end of head
        for junk in (b"\x00\xff\x10garbage\r\n\r\n", b"GET\r\n\r\n", b"GET /metrics\r\n\r\n",
                     b"GET /metrics HTTP/9.9\r\n\r\n", b" GET /metrics HTTP/1.1\r\n\r\n",
                     b"G\x01T /metrics HTTP/1.1\r\n\r\n"):
            out = raw_http(self.port, junk)
            self.assertTrue(out.startswith(b"HTTP/1.1 400 "), (junk, out))
        # bytes with no line end: the head never ends, so the close gets no answer (random
        # bytes holding "\r\n" would end a request line and rightly get a 400)
        noise = bytes(b for b in os.urandom(3000) if b not in (10, 13))
        self.assertEqual(raw_http(self.port, noise, shut=True), b"")
        # a request with a body we do not read: the answer still arrives whole
        out = raw_http(self.port, b"GET /metrics HTTP/1.1\r\nContent-Length: 5000\r\n\r\n"
                       + b"b" * 5000)
        self.assertTrue(out.startswith(b"HTTP/1.1 200 "), out[:100])
        # the daemon is unharmed
        c = Client(self.d.sock)
        c.call("ping")
        c.close()
        f = self.metrics()
        for code in ("400", "404", "405", "431"):
            self.assertGreaterEqual(promtext.value(f, "patron_metrics_http_responses_total",
                                                   code=code), 1, code)

    def test_slowloris_and_connection_limit(self):
        before = self.metrics()
        held = [socket.create_connection(("127.0.0.1", self.port), timeout=30)
                for _ in range(HTTP_MAX_CONNS)]
        for s in held:
            s.sendall(b"GET /metr")  # never finished
        extra = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.assertEqual(extra.recv(100), b"", "a connection over the limit is closed")
        extra.close()
        # every held connection is closed by the daemon within the timeout (+ the 1 s sweep)
        t0 = time.monotonic()
        for s in held:
            self.assertEqual(s.recv(100), b"")
            s.close()
        self.assertLess(time.monotonic() - t0, (HTTP_CONN_TIMEOUT_S + 10) * SLOWDOWN)
        after = self.metrics()
        self.assertEqual(promtext.value(after, "patron_metrics_http_closed_total", reason="limit")
                         - promtext.value(before, "patron_metrics_http_closed_total",
                                          reason="limit"), 1)
        self.assertEqual(promtext.value(after, "patron_metrics_http_closed_total",
                                        reason="timeout")
                         - promtext.value(before, "patron_metrics_http_closed_total",
                                          reason="timeout"), HTTP_MAX_CONNS)

    def test_stats_peak_not_below_rss(self):
        c = Client(self.d.sock)
        for _ in range(5):
            m = c.call("stats")["memory"]
            self.assertGreaterEqual(m["peak_rss_bytes"], m["rss_bytes"], m)
            self.assertGreater(m["rss_bytes"], 0)
        c.close()


class ListenSettingTest(unittest.TestCase):
    def test_bad_values_fail_the_check(self):
        for bad in ("bogus", "localhost:9464", "127.0.0.1:0", "127.0.0.1:70000", "::1:9464"):
            r = subprocess.run([PATROND, "--no-config", "-d", "/nonexistent/x", "--check-config",
                                "--set", "metrics.listen=" + bad],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(r.returncode, 78, bad)
            self.assertIn(b"metrics.listen", r.stderr)

    def test_port_alone_is_loopback_and_a_busy_port_refuses_the_start(self):
        port = free_port()
        d = Daemon(PATROND, sync=False).start(["--set", "metrics.listen=%d" % port])
        try:
            self.assertIn("serving metrics on http://127.0.0.1:%d/metrics" % port, d.read_log())
            self.assertEqual(scrape(port)[0], 200)
            other = Daemon(PATROND, sync=False)
            with self.assertRaises(RuntimeError) as cm:
                other.start(["--set", "metrics.listen=%d" % port])
            self.assertIn("cannot listen for metrics on", str(cm.exception))
            self.assertEqual(other.proc.wait(), 1)
            other.cleanup()
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()


class LogTest(unittest.TestCase):
    """One info line per error answer (method, code; no ids), one per slow request, each kind
    at most 10 lines per 5 s with a line counting the suppressed ones (metrics.c)."""

    def test_error_lines_rate_limited_without_personal_data(self):
        d = Daemon(PATROND, sync=False).start()
        try:
            secret = "alice.secret@example.com"
            c = Client(d.sock)
            msgs = []
            for i in range(30):
                msgid, data = c.request_bytes("customer.get", {"customer_id": secret})
                msgs.append(msgid)
                c.send_raw(data)
            for msgid in msgs:
                self.assertEqual(c.read_reply(msgid)[2]["code"], "not_found")
            d.wait_for_log("more error-answer line(s) suppressed", 0, timeout=15)
            log = d.read_log()
            lines = [x for x in log.splitlines()
                     if "error answer: method customer.get, code not_found" in x]
            self.assertEqual(len(lines), 10, log)
            self.assertIn(" info: ", lines[0])
            self.assertIn("20 more error-answer line(s) suppressed", log)
            self.assertNotIn(secret, log)
            self.assertNotIn("alice", log)
            c.close()
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()

    def test_slow_request_line(self):
        d = Daemon(PATROND, extra=["--set", "log.slow_request_ms=40"], sync=False)
        gate = BuildGate(d)
        gate.start(d)
        try:
            a = Client(d.admin)
            for _ in a.call("model.status")["models"]:  # the start-up builds (no request)
                gate.started()
                gate.release()
            answer = gate.held_refit(d, ["clv"])
            # the request's input: it is held at the gate for longer than the threshold
            held = time.monotonic()
            wait_until(lambda: time.monotonic() - held > 0.1, 5, "0.1 s")
            gate.release()
            self.assertIsNotNone(answer())
            d.wait_for_log("slow request: method model.refit took", 0)
            line = [x for x in d.read_log().splitlines() if "slow request:" in x][0]
            ms = int(line.split(" took ")[1].split(" ms")[0])
            self.assertGreaterEqual(ms, 100, line)
            self.assertIn("(log.slow_request_ms = 40)", line)
            a.close()
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()


if __name__ == "__main__":
    PATROND = sys.argv.pop(1)
    unittest.main(verbosity=2)
