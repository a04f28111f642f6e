# SPDX-License-Identifier: ISC
"""sealmail behind Debian's HAProxy in TCP mode: send-proxy-v2 in front of
a STARTTLS mx listener and an implicit-TLS submission listener (465
style), send-proxy (v1) in front of a plaintext mx listener, each with
health checks that carry the header (check-send-proxy: v2 LOCAL, v1
with the check's own
addresses) and option smtpchk on the SMTP ones, which mark a server down on
a "220-" greeting: they must see no pregreet wait. The client connects
from 127.0.0.7 / 127.0.0.8, HAProxy from 127.0.0.1: Received and the log
must name the client, not HAProxy. Skips if haproxy is not installed
(scripts/install-deps.sh test installs it)."""

import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from harness import (Listener, free_port, make_message, new_marker,
                     wait_until)
from mailcheck import check_received, login, send, smtp_connect

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
ALICE = "alice@example.test"
SENDER = "someone@remote.test"

HAPROXY_CFG = """\
global
    stats socket {sock} mode 600 level admin
    maxconn 200

defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout check 5s

frontend fe_v2
    bind 127.0.0.1:{fe_v2}
    default_backend be_v2

backend be_v2
    option smtpchk EHLO haproxy.test
    server mx 127.0.0.1:{mx} send-proxy-v2 check check-send-proxy inter 300ms rise 1 fall 1

frontend fe_v1
    bind 127.0.0.1:{fe_v1}
    default_backend be_v1

backend be_v1
    option smtpchk EHLO haproxy.test
    server mx 127.0.0.1:{mxv1} send-proxy check check-send-proxy inter 300ms rise 1 fall 1

frontend fe_tls
    bind 127.0.0.1:{fe_tls}
    default_backend be_tls

backend be_tls
    server subs 127.0.0.1:{subs} send-proxy-v2 check check-send-proxy inter 1s rise 1 fall 1
"""


class HAProxy:
    def __init__(self, folder, ports):
        self.sock = os.path.join(folder, "haproxy.sock")
        self.cfg = os.path.join(folder, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(HAPROXY_CFG.format(sock=self.sock, **ports))
        self.log_path = os.path.join(folder, "haproxy.log")
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.cfg],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)

    def stat(self):
        """{(backend, server): status} from the stats socket."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.sock)
            s.sendall(b"show stat\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        out = {}
        lines = data.decode().splitlines()
        head = lines[0].lstrip("# ").split(",")
        for ln in lines[1:]:
            if not ln:
                continue
            row = dict(zip(head, ln.split(",")))
            out[(row["pxname"], row["svname"])] = row["status"]
        return out

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


@pytest.fixture(scope="module")
def ha(module_daemons, certs, tmp_path_factory):
    if not os.access(HAPROXY, os.X_OK):
        pytest.skip("haproxy is not installed (apt-get install haproxy, or "
                    "scripts/install-deps.sh test)")
    cfg = module_daemons.config([certs["ec"]], ipv6=False)
    # The pregreet wait stays on (1 s): health checks must not see it.
    cfg.server["pregreet_wait"] = "1s"
    cfg.listen_proxied((("mxv2", "mx", "starttls"), ("mxv1", "mx", "none"),
                        ("subsp", "submission", "implicit")))
    d = module_daemons.start(cfg)
    folder = str(tmp_path_factory.mktemp("haproxy"))
    ports = {"fe_v2": free_port(), "fe_v1": free_port(),
             "fe_tls": free_port(), "mx": d["mxv2"].port,
             "mxv1": d["mxv1"].port, "subs": d["subsp"].port}
    while len(set(ports.values())) < len(ports):
        ports["fe_v1"] = free_port()
        ports["fe_tls"] = free_port()
    hp = HAProxy(folder, ports)
    try:
        want = {("be_v2", "mx"), ("be_v1", "mx"), ("be_tls", "subs")}

        def all_up():
            if hp.proc.poll() is not None:
                raise AssertionError("haproxy exited: " + hp.log_text())
            try:
                st = hp.stat()
            except OSError:
                return False
            return all(st.get(k, "").startswith("UP") for k in want)
        wait_until(all_up, 20, interval=0.2,
                   what="HAProxy's health checks to pass")
        fronts = {
            "v2": Listener("fe_v2", "127.0.0.1", ports["fe_v2"], "mx",
                           "starttls"),
            "v1": Listener("fe_v1", "127.0.0.1", ports["fe_v1"], "mx",
                           "none"),
            "tls": Listener("fe_tls", "127.0.0.1", ports["fe_tls"],
                            "submission", "implicit"),
        }
        yield d, hp, fronts
    finally:
        hp.stop()


def test_health_checks_keep_servers_up(ha):
    """smtpchk over v2 LOCAL headers and v1 headers naming HAProxy's own
    address: one-line greetings to the proxy's own, untrusted session,
    and the servers stay UP."""
    d, hp, _ = ha
    time.sleep(1)
    st = hp.stat()
    for k in (("be_v2", "mx"), ("be_v1", "mx"), ("be_tls", "subs")):
        assert st[k].startswith("UP"), (k, st, hp.log_text())
    log = d.log_text()
    assert re.search(r"smtp proxy addr=127\.0\.0\.1 port=\d+ "
                     r"proxy=127\.0\.0\.1 version=2 command=local", log)
    assert re.search(r"smtp proxy addr=127\.0\.0\.1 port=\d+ "
                     r"proxy=127\.0\.0\.1 version=1 command=proxy-self", log)
    # Never marked down since it started (a "220-" would have).
    assert "is DOWN" not in hp.log_text(), hp.log_text()


@pytest.mark.parametrize("front,source,proto,tls,version", [
    ("v2", "127.0.0.7", "ESMTPS", True, 2),     # STARTTLS, send-proxy-v2
    ("v1", "127.0.0.8", "ESMTP", False, 1),     # plaintext, send-proxy
])
def test_mx_through_haproxy(ha, front, source, proto, tls, version):
    """Received and the log name the client (source), not HAProxy."""
    d, _, fronts = ha
    marker = new_marker()
    s = smtp_connect(fronts[front], source=source)
    try:
        qid = send(s, SENDER, [ALICE], make_message(SENDER, ALICE, marker))
    finally:
        s.quit()
    raw = d.mailbox(ALICE).wait_for(marker)[0]
    rec = check_received(raw, qid, proto, tls, addr=source)
    assert "127.0.0.1" not in rec, rec
    assert re.search(r"smtp proxy addr=%s port=\d+ proxy=127\.0\.0\.1 "
                     r"version=%d\n" % (re.escape(source), version),
                     d.log_text())


def test_implicit_tls_through_haproxy(ha):
    """465-style: the v2 header, then the TLS handshake through HAProxy;
    AUTH and a message, Received names 127.0.0.7."""
    d, _, fronts = ha
    marker = new_marker()
    s = smtp_connect(fronts["tls"], source="127.0.0.7")
    try:
        login(s)
        qid = send(s, ALICE, [ALICE], make_message(ALICE, ALICE, marker))
    finally:
        s.quit()
    raw = d.mailbox(ALICE).wait_for(marker)[0]
    rec = check_received(raw, qid, "ESMTPSA", True, addr="127.0.0.7")
    assert "127.0.0.1" not in rec, rec
