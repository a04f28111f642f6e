"""A test HTTPS server for MTA-STS policies (RFC 8461 §3.3), standard
library only (http.server + ssl); run it with /usr/bin/python3.

It answers GET /.well-known/mta-sts.txt per Host header (port and final
dot removed, lower-cased) from a dict of entries that may change while it
runs; any other host or path is a 404. An entry is a dict:

    policy        the body (str), default ""
    status        HTTP status, default 200 (301 when location is set)
    content_type  default "text/plain"
    location      send a redirect there (with status, default 301)
    size          pad the body with filler lines up to this many bytes
    no_length     True: no Content-Length, the body ends at close
    delay         seconds to wait before answering

From pytest:

    from stsserver import StsServer
    srv = StsServer("127.0.0.2", 443, cert.cert, cert.key,
                    certs={"mta-sts.other.test": (c2.cert, c2.key)})
    srv.start()
    srv.set("mta-sts.example.test", policy="version: STSv1\\n...")
    srv.hits["mta-sts.example.test"]   # requests seen for that host
    srv.posts                           # POSTs: (host, path, type, body)
    srv.stop()                          # also: with StsServer(...) as srv

certs maps a server name (SNI) to another (cert, key) pair; cert/key is
the default. Port 443 needs root, as tests have inside `unshare --net`.

From another process (the C tests): the entries come from a JSON file
{"HOST": {entry}, ...} read again on every request, hits are written to
a JSON file after each request, and SIGTERM stops it:

    stsserver.py --listen 127.0.0.2:443 --cert C --key K \\
        [--sni NAME=CERT:KEY]... --config FILE [--hits FILE] [--ready FILE]

--ready is created once the socket listens.
"""

import http.server
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time

PATH = "/.well-known/mta-sts.txt"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stsserver"

    def log_message(self, *args):
        pass

    def _host(self):
        h = (self.headers.get("Host") or "").strip().lower()
        if h.startswith("["):
            h = h[:h.find("]") + 1]
        elif ":" in h:
            h = h.rsplit(":", 1)[0]
        return h.rstrip(".")

    def do_GET(self):
        host = self._host()
        entry = self.server.sts.entry(host) if self.path == PATH else None
        self.server.sts.hit(host)
        if entry is None:
            self._send(404, "text/plain", b"not found\n", True)
            return
        if entry.get("delay"):
            time.sleep(float(entry["delay"]))
        body = entry.get("policy", "").encode()
        size = int(entry.get("size", 0))
        if size > len(body):
            line = b"x-filler: " + b"x" * 100 + b"\n"
            body += line * ((size - len(body)) // len(line) + 1)
            body = body[:size]
        status = int(entry.get("status", 301 if entry.get("location")
                                else 200))
        extra = {}
        if entry.get("location"):
            extra["Location"] = entry["location"]
        self._send(status, entry.get("content_type", "text/plain"), body,
                   not entry.get("no_length"), extra)

    def do_POST(self):
        """A report upload (RFC 8460 §5.4): recorded in srv.posts as
        (host, path, Content-Type, body); answered with the host entry's
        status (default 200), 404 for an unknown host."""
        host = self._host()
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if 0 <= n <= (16 << 20) else b""
        entry = self.server.sts.entry(host)
        self.server.sts.post(host, self.path,
                             self.headers.get("Content-Type"), body)
        status = int(entry.get("status", 200)) if entry is not None else 404
        self._send(status, "text/plain", b"ok\n", True)

    def _send(self, status, ctype, body, with_length, extra=None):
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if with_length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.close_connection = True
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass    # the client aborted (oversize): expected


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, sts):
        self.sts = sts
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.address_family = family
        super().__init__(addr, _Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the request's thread, so a slow
        # or failing client never holds up accept().
        try:
            tls = self.sts.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass    # aborted clients are part of the tests


class StsServer:
    def __init__(self, addr, port, cert, key, policies=None, certs=None,
                 config_file=None, hits_file=None):
        self.addr = addr
        self.port = port
        self.policies = dict(policies or {})
        self.hits = {}
        self.posts = []
        self.config_file = config_file
        self.hits_file = hits_file
        self._lock = threading.Lock()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self._sni = {}
        for name, (c, k) in (certs or {}).items():
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(c, k)
            self._sni[name.lower()] = ctx
        if self._sni:
            self.context.sni_callback = self._pick
        self._server = None
        self._thread = None

    def _pick(self, sslsock, name, ctx):
        if name and name.lower() in self._sni:
            sslsock.context = self._sni[name.lower()]

    def set(self, host, **entry):
        """Serve entry for host (replacing the old one)."""
        with self._lock:
            self.policies[host.lower()] = entry

    def remove(self, host):
        with self._lock:
            self.policies.pop(host.lower(), None)

    def entry(self, host):
        if self.config_file:
            try:
                with open(self.config_file) as f:
                    return json.load(f).get(host)
            except (OSError, ValueError):
                return None
        with self._lock:
            return self.policies.get(host)

    def hit(self, host):
        with self._lock:
            self.hits[host] = self.hits.get(host, 0) + 1
            if self.hits_file:
                tmp = self.hits_file + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self.hits, f)
                os.replace(tmp, self.hits_file)

    def post(self, host, path, ctype, body):
        with self._lock:
            self.posts.append((host, path, ctype, body))

    def start(self):
        self._server = _Server((self.addr, self.port), self)
        self.port = self._server.server_address[1]   # port 0: the one picked
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv):
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--sni", action="append", default=[])
    ap.add_argument("--config", required=True)
    ap.add_argument("--hits")
    ap.add_argument("--ready")
    a = ap.parse_args(argv[1:])
    addr, port = a.listen.rsplit(":", 1)
    certs = {}
    for s in a.sni:
        name, pair = s.split("=", 1)
        c, k = pair.split(":", 1)
        certs[name] = (c, k)
    srv = StsServer(addr.strip("[]"), int(port), a.cert, a.key, certs=certs,
                    config_file=a.config, hits_file=a.hits)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *x: stop.set())
    signal.signal(signal.SIGINT, lambda *x: stop.set())
    srv.start()
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    while not stop.wait(0.2):
        pass
    srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
