#!/usr/bin/python3
"""test_tls.py -- patrond's TLS listener (issue 11), end to end with certificates made here
by the openssl command (a CA, the server's, clients': valid, admin, from another CA, expired).

Clients: Python's ssl module (an independent TLS stack over the same OpenSSL build would not
be independent, but it is a separate client implementation of the handshake and records),
`openssl s_client` for TLS 1.2, patronctl (libpatronclient's C API over tls://) when
$PATRONCTL is set, and the Python adapter (ctypes) when --client-lib is given.

Checked: a valid client is served (ping, a write, customer.get, pipelined requests);
refused: no client certificate, one from another CA, an expired one, plain TCP, TLS 1.2;
admin methods only for subjects in tls.admin_subjects; the limits of the Unix sockets
(handshake never finished -> closed after read_timeout_ms; an oversized request -> too_large
and closed); a SIGHUP swaps the server certificate for new connections while an open one
keeps answering, and a reload with a broken key keeps the running certificate; the daemon
refuses to start, and --check-config fails, without cert/key/ca or with a key that does not
match."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from patrontest import Client, Daemon, RpcError, free_port, wait_until  # noqa: E402

CLIENT_LIB = None
if "--client-lib" in sys.argv:
    CLIENT_LIB = sys.argv[sys.argv.index("--client-lib") + 1]
PATRONCTL = os.environ.get("PATRONCTL")


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


class Pki:
    """Certificates made with the openssl command in a temporary directory."""

    def __init__(self, d):
        self.d = d

    def path(self, name):
        return os.path.join(self.d, name)

    def ca(self, name, cn):
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", self.path(name + ".key"), "-out", self.path(name + ".crt"),
            "-subj", "/CN=" + cn, "-days", "30")

    def leaf(self, name, ca, subj, days="30", san=None):
        """A certificate signed by ca; days '-1' makes one that has already expired (its
        notAfter is before its notBefore: OpenSSL 3.0's x509 -req accepts it)."""
        key, csr, crt = self.path(name + ".key"), self.path(name + ".csr"), self.path(name + ".crt")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", subj)
        args = ["openssl", "x509", "-req", "-in", csr, "-CA", self.path(ca + ".crt"),
                "-CAkey", self.path(ca + ".key"), "-CAcreateserial", "-out", crt, "-days", days]
        if san:
            ext = self.path(name + ".ext")
            with open(ext, "w") as f:
                f.write("subjectAltName=%s\n" % san)
            args += ["-extfile", ext]
        run(*args)
        return crt, key

    def serial(self, name):
        out = run("openssl", "x509", "-in", self.path(name + ".crt"), "-noout", "-serial").stdout
        return out.strip().split("=", 1)[1].upper()


class TlsClient(Client):
    """patrontest.Client over TLS to 127.0.0.1:port, checking the server against ca."""

    def __init__(self, port, ca, cert=None, key=None, max_version=None, timeout=10):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca)
        if cert:
            ctx.load_cert_chain(cert, key)
        if max_version:
            ctx.maximum_version = max_version
        raw = socket.create_connection(("127.0.0.1", port), timeout)
        self.s = ctx.wrap_socket(raw, server_hostname="localhost")
        self.u = msgpack.Unpacker(raw=False, max_buffer_size=64 << 20)
        self.msgid = 0
        self.pending = {}


def refusal(make):
    """The error a refused client sees (TLS 1.3: the client's handshake may finish before the
    daemon checks its certificate, so the alert comes with the first read)."""
    try:
        c = make()
        c.s.settimeout(10)
        c.s.recv(1)  # nothing sent: the daemon's alert is never raced by our own bytes
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, EOFError) as e:
        return str(e) or type(e).__name__
    raise AssertionError("a client that should be refused was served")


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what)


def main():
    binary = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="patron-tls-")
    pki = Pki(tmp)
    pki.ca("ca", "Patron Test CA")
    pki.ca("other", "Some Other CA")
    pki.leaf("server", "ca", "/CN=localhost", san="DNS:localhost,IP:127.0.0.1")
    pki.leaf("shop", "ca", "/O=Shop/CN=web-1")
    pki.leaf("ops", "ca", "/O=Shop/CN=ops")
    pki.leaf("stranger", "other", "/O=Shop/CN=web-1")
    pki.leaf("expired", "ca", "/O=Shop/CN=web-1", days="-1")
    ca = pki.path("ca.crt")
    cert = {n: (pki.path(n + ".crt"), pki.path(n + ".key")) for n in
            ("shop", "ops", "stranger", "expired")}
    port = free_port()
    opts = {"tls.listen": "127.0.0.1:%d" % port, "tls.cert": pki.path("server.crt"),
            "tls.key": pki.path("server.key"), "tls.ca": ca,
            "tls.admin_subjects": "CN=nobody | CN=ops,O=Shop",
            "limits.read_timeout_ms": "500", "limits.max_message_bytes": "4096"}

    def sets(o):
        return [x for k, v in o.items() for x in ("--set", "%s=%s" % (k, v))]
    tls_args = sets(opts)

    # --- refuses to start half-configured ---
    data = os.path.join(tmp, "cfgcheck")
    base = [binary, "--no-config", "--socket", os.path.join(tmp, "c.sock"), "--data-dir", data]
    for drop in ("tls.cert", "tls.key", "tls.ca"):
        args = sets({k: v for k, v in opts.items() if k != drop})
        for mode in (["--check-config"], []):
            p = subprocess.run(base + args + mode, capture_output=True, text=True, timeout=30)
            check(p.returncode == 78 and drop in p.stderr,
                  "without %s, %s exits 78 naming it" % (drop, " ".join(mode) or "a start"))
    bad_key = ["--set", "tls.key=" + pki.path("ops.key")]
    p = subprocess.run(base + tls_args + bad_key + ["--check-config"], capture_output=True,
                       text=True, timeout=30)
    check(p.returncode == 78 and "mismatch" in p.stderr,
          "--check-config fails when tls.key does not match tls.cert")
    p = subprocess.run(base + tls_args + ["--check-config"], capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 0, "--check-config passes with cert, key and ca")
    for listen, good in (("localhost:7443", False), ("127.0.0.1", False), ("127.0.0.1:0", False),
                         ("127.0.0.1:65536", False), ("127.0.0.1:-1", False), ("::1:7443", False),
                         ("[::1]:7443", True), ("0.0.0.0:7443", True), ("[::]:7443", True)):
        o = dict(opts, **{"tls.listen": listen})
        p = subprocess.run(base + sets(o) + ["--check-config"], capture_output=True, text=True,
                           timeout=30)
        check((p.returncode == 0) if good else (p.returncode == 78 and "numeric host" in p.stderr),
              "tls.listen = %s is %s" % (listen, "accepted" if good else "refused"))

    # the daemon under test reads [tls] from a file, as installed (and re-reads it on SIGHUP)
    conf = os.path.join(tmp, "patrond.conf")
    with open(conf, "w") as f:
        f.write("[limits]\nread_timeout_ms = 500\nmax_message_bytes = 4096\n[tls]\n")
        f.write("".join("%s = %s\n" % (k[4:], v) for k, v in opts.items()
                        if k.startswith("tls.")))
    d = Daemon(binary, extra=["-c", conf])
    try:
        d.start()
        shop = TlsClient(port, ca, *cert["shop"])
        check(shop.call("ping")["pong"] is True, "a valid client certificate is served: ping")
        shop.call("customer.upsert", {"customer_id": "t1", "email": "t1@example.com",
                                      "name": "Tee"})
        got = shop.call("customer.get", {"customer_id": "t1"})
        check(got["email"] == "t1@example.com", "a write over TLS, read back with customer.get")
        n = 500
        shop.send_raw(b"".join(shop.request_bytes("ping")[1] for _ in range(n)))
        first = shop.msgid - n + 1
        replies = [shop.read_reply(first + i) for i in range(n)]
        check(all(r[2] is None for r in replies), "%d pipelined requests answered" % n)

        # --- refused ---
        why = refusal(lambda: TlsClient(port, ca))
        check("certificate required" in why.lower(), "no client certificate: refused (%s)" % why)
        why = refusal(lambda: TlsClient(port, ca, *cert["stranger"]))
        check("unknown ca" in why.lower(), "a certificate from another CA: refused (%s)" % why)
        why = refusal(lambda: TlsClient(port, ca, *cert["expired"]))
        check("expired" in why.lower(), "an expired certificate: refused (%s)" % why)
        wait_until(lambda: d.log_count("client certificate refused: certificate has expired"),
                   5, "the log line naming the expired certificate")
        why = refusal(lambda: TlsClient(port, ca, *cert["shop"],
                                        max_version=ssl.TLSVersion.TLSv1_2))
        check("protocol version" in why.lower() or "unsupported protocol" in why.lower(),
              "TLS 1.2 from Python: refused (%s)" % why)
        p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2",
                            "-cert", cert["shop"][0], "-key", cert["shop"][1], "-CAfile", ca],
                           input="", capture_output=True, text=True, timeout=30)
        check(p.returncode != 0 and "alert protocol version" in (p.stdout + p.stderr),
              "openssl s_client -tls1_2: refused with a protocol_version alert")
        local = Client(d.sock)
        refused = local.call("stats")["connections"]["tls_refused"]
        local.close()
        check(refused >= 5, "stats.connections.tls_refused counts the refusals (%d)" % refused)
        raw = socket.create_connection(("127.0.0.1", port), 5)
        raw.sendall(msgpack.packb([0, 1, "ping", [{}]]))
        got = b""
        while True:
            chunk = raw.recv(4096)
            if not chunk:
                break
            got += chunk
        raw.close()
        check(b"pong" not in got and (not got or got[0] == 0x15),
              "plain TCP msgpack: no answer, only a TLS alert (%d bytes) and the close" % len(got))

        # --- admin methods by certificate subject ---
        try:
            shop.call("loyalty.program.get")
            raise AssertionError("admin method served to a subject not in the allowlist")
        except RpcError as e:
            check(e.code == "forbidden", "admin method refused for CN=web-1,O=Shop: forbidden")
        ops = TlsClient(port, ca, *cert["ops"])
        r = ops.call_raw("loyalty.program.get")
        check(r[2] is None or r[2].get("code") != "forbidden",
              "admin method allowed for CN=ops,O=Shop (in tls.admin_subjects)")
        local = Client(d.sock)
        try:
            local.call("loyalty.program.get")
            raise AssertionError("admin method on the shop socket")
        except RpcError as e:
            check(e.code == "forbidden", "the shop socket still refuses admin methods")
        local.close()

        # --- the limits of the Unix sockets ---
        idle = socket.create_connection(("127.0.0.1", port), 5)
        idle.settimeout(5)
        t0 = time.monotonic()
        check(idle.recv(4096) == b"" and time.monotonic() - t0 < 4,
              "a handshake never started is closed after limits.read_timeout_ms")
        idle.close()
        big = TlsClient(port, ca, *cert["shop"])
        r = big.call_raw("customer.get", {"customer_id": "x" * 8000})
        check(r[2]["code"] == "too_large" and big.closed_by_peer(),
              "a request over limits.max_message_bytes: too_large, then closed")

        # --- C API: patronctl over tls:// ---
        if PATRONCTL:
            env = dict(os.environ, PATRON_TLS_CERT=cert["shop"][0], PATRON_TLS_KEY=cert["shop"][1],
                       PATRON_TLS_CA=ca)
            url = "tls://localhost:%d" % port
            p = subprocess.run([PATRONCTL, "-s", url, "call", "customer.get",
                                '{"customer_id": "t1"}'], env=env, capture_output=True,
                               text=True, timeout=30)
            check(p.returncode == 0 and "t1@example.com" in p.stdout,
                  "libpatronclient (patronctl) over tls://: customer.get")
            env.pop("PATRON_TLS_CERT")
            env.pop("PATRON_TLS_KEY")
            p = subprocess.run([PATRONCTL, "-s", url, "call", "ping"], env=env,
                               capture_output=True, text=True, timeout=30)
            check(p.returncode == 2 and "certificate required" in p.stderr,
                  "libpatronclient without a client certificate: unavailable, with the alert")
            env = dict(os.environ, PATRON_TLS_CERT=cert["shop"][0],
                       PATRON_TLS_KEY=cert["shop"][1], PATRON_TLS_CA=pki.path("other.crt"))
            p = subprocess.run([PATRONCTL, "-s", url, "call", "ping"], env=env,
                               capture_output=True, text=True, timeout=30)
            check(p.returncode == 2 and "server certificate refused" in p.stderr,
                  "libpatronclient refuses a server certificate from another CA")

        if CLIENT_LIB:
            sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                            "..", "..", "adapters", "python"))
            import patron
            pc = patron.Client("tls://127.0.0.1:%d" % port, timeout_ms=5000, library=CLIENT_LIB,
                               tls={"cert": cert["ops"][0], "key": cert["ops"][1], "ca": ca})
            check(pc.call("customer.get", {"customer_id": "t1"})["name"] == "Tee",
                  "Python adapter over tls:// (IP address checked against the SAN)")
            try:
                pc.call("loyalty.program.get")
                code = "ok"
            except patron.PatronError as e:
                code = e.code
            check(code != "forbidden",
                  "Python adapter: admin method with an allowlisted certificate (%s)" % code)
            try:
                patron.Client("tls://127.0.0.1:%d" % port, library=CLIENT_LIB,
                              tls={"cert": pki.path("missing.crt"), "ca": ca})
                raise AssertionError("a missing certificate file was accepted")
            except patron.PatronError as e:
                check(e.field == "cert", "Python adapter: a missing cert file is invalid_params")
            php = shutil.which("php")
            if php and "FFI" in run(php, "-m").stdout:
                script = os.path.join(tmp, "t.php")
                with open(script, "w") as f:
                    f.write("<?php require %r;\n"
                            "$c = new Patron\\Client('tls://localhost:%d', 5000, null, "
                            "['cert' => %r, 'key' => %r, 'ca' => %r]);\n"
                            "echo $c->call('customer.get', ['customer_id' => 't1'])['name'];\n"
                            % (os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                            "..", "adapters", "php", "Patron.php"),
                               port, cert["shop"][0], cert["shop"][1], ca))
                p = subprocess.run([php, script], capture_output=True, text=True, timeout=30,
                                   env=dict(os.environ, PATRON_CLIENT_LIB=CLIENT_LIB))
                check(p.stdout == "Tee", "PHP adapter (FFI) over tls://: customer.get (%s)"
                      % (p.stdout + p.stderr).strip()[:200])
            else:
                print("skip: PHP adapter over tls:// (no php with FFI)")
            node_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "adapters", "node")
            node = shutil.which("node")
            if node and os.path.isdir(os.path.join(node_dir, "node_modules", "koffi")):
                js = ("const { Client } = require(%r);\n"
                      "const c = new Client({ socketPath: 'tls://localhost:%d', timeoutMs: 5000,"
                      " library: %r, tls: { cert: %r, key: %r, ca: %r } });\n"
                      "c.call('customer.get', { customer_id: 't1' }).then((r) => {"
                      " process.stdout.write(r.name + ' ' + c.callSync('ping').pong); c.close(); });\n"
                      % (os.path.join(node_dir, "index.js"), port, CLIENT_LIB, cert["shop"][0],
                         cert["shop"][1], ca))
                p = subprocess.run([node, "-e", js], capture_output=True, text=True, timeout=60)
                check(p.stdout == "Tee true", "Node adapter (koffi) over tls://: call and callSync "
                      "(%s)" % (p.stdout + p.stderr).strip()[:200])
            else:
                print("skip: Node adapter over tls:// (node or adapters/node/node_modules/koffi "
                      "missing: npm ci in adapters/node)")

        # --- SIGHUP: a new server certificate for new connections, old ones kept ---
        old_serial = pki.serial("server")
        check(shop.s.getpeercert()["serialNumber"].upper() == old_serial,
              "the open connection has the first server certificate")
        before = d.log_count("reload: TLS certificate for new connections")
        pki.leaf("server", "ca", "/CN=localhost/O=Reloaded", san="DNS:localhost,IP:127.0.0.1")
        new_serial = pki.serial("server")
        assert new_serial != old_serial
        d.proc.send_signal(signal.SIGHUP)
        d.wait_for_log("reload: TLS certificate for new connections", before)
        fresh = TlsClient(port, ca, *cert["shop"])
        pc_cert = fresh.s.getpeercert()
        check(pc_cert["serialNumber"].upper() == new_serial and
              ("organizationName", "Reloaded") in [x for rdn in pc_cert["subject"] for x in rdn],
              "after SIGHUP a new connection gets the new certificate (serial %s)" % new_serial)
        check(shop.call("ping")["pong"] is True and
              shop.call("customer.get", {"customer_id": "t1"})["name"] == "Tee",
              "the connection opened before the reload still answers")
        check(ops.call("ping")["pong"] is True, "a second pre-reload connection too")
        before = d.log_count("keeping the running TLS certificate")
        with open(pki.path("server.key"), "w") as f:
            f.write("not a key\n")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_for_log("keeping the running TLS certificate", before)
        again = TlsClient(port, ca, *cert["shop"])
        check(again.s.getpeercert()["serialNumber"].upper() == new_serial and
              again.call("ping")["pong"] is True,
              "a reload with a broken key keeps serving the running certificate")
        for c in (shop, ops, fresh, again):
            c.close()
        check(d.stop() == 0, "patrond stops cleanly (exit 0)")
    except BaseException:
        print(d.read_log(), file=sys.stderr)
        raise
    finally:
        d.cleanup()
        subprocess.run(["rm", "-rf", tmp])
    print("test_tls: all checks passed")


if __name__ == "__main__":
    main()
