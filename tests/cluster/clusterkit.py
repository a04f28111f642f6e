# SPDX-License-Identifier: ISC
"""The two-node cluster of issue 16, started for real on loopback: one
PostgreSQL 15 (tests/store/pgserver.py) holding the shared store, `sealmail
store migrate`, nodes mx1.example.test (127.0.0.1) and mx2.example.test
(127.0.0.2), each with its own config file, data_dir and spool, both
delivering local mail over LMTP to ONE shared sink
(tests/integration/lmtpsink.py), a loopback DNS server (NSD,
tests/dns/dnsserver.py) for the senders' SPF and DMARC records, and
Debian's HAProxy in TCP mode in front: send-proxy-v2 to both nodes' mx
listeners (STARTTLS), send-proxy (v1) to their plaintext mx listeners,
`option smtpchk` health checks. Everything it starts it stops, also when
a test or the setup fails.

conftest.py makes it the module-scoped fixture `cluster` (a Cluster).
A module of its own, not conftest.py: the suites share one pytest run,
and `import conftest` there could name another folder's."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for sub in ("integration", "store", "dns"):
    p = os.path.join(ROOT, "tests", sub)
    if p not in sys.path:
        sys.path.insert(0, p)

import dnsserver  # noqa: E402
import harness  # noqa: E402
import pgserver  # noqa: E402
from lmtpsink import LmtpSink  # noqa: E402
import test_haproxy  # noqa: E402

HAPROXY = test_haproxy.HAPROXY
NODES = (("mx1.example.test", "127.0.0.1"), ("mx2.example.test", "127.0.0.2"))
SENDER_DOMAIN = "sender.test"
RUA = "dmarc-rua@example.test"

# sender.test: SPF for all of loopback, DMARC p=none with aggregate
# reports to a mailbox of ours; example.test authorises reports about
# sender.test (RFC 9990 section 4). "test" makes every other name
# NXDOMAIN at once.
ZONES = {
    "test": "",
    SENDER_DOMAIN: ('@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
                    '_dmarc IN TXT "v=DMARC1; p=none; rua=mailto:%s"\n'
                    % RUA),
    "example.test": ('sender.test._report._dmarc IN TXT "v=DMARC1"\n'),
}

HAPROXY_CFG = """\
global
    stats socket {sock} mode 600 level admin
    maxconn 500

defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check 2s
    # A server that refuses the connection (a dead node): try again,
    # the last time on another server.
    retries 2
    option redispatch

frontend fe_v2
    bind 127.0.0.1:{fe_v2}
    default_backend be_v2

backend be_v2
    balance roundrobin
    source 127.0.0.1
    option smtpchk EHLO haproxy.example.test
{servers_v2}

frontend fe_v1
    bind 127.0.0.1:{fe_v1}
    default_backend be_v1

backend be_v1
    balance roundrobin
    source 127.0.0.1
    option smtpchk EHLO haproxy.example.test
{servers_v1}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HAProxy(test_haproxy.HAProxy):
    """Debian's haproxy in the foreground (-db) on cfg_text, whose
    "{sock}" becomes its stats socket; stat(), log_text() and stop() are
    test_haproxy's."""

    def __init__(self, folder, cfg_text):
        self.sock = os.path.join(folder, "haproxy.sock")
        self.cfg = os.path.join(folder, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(cfg_text.replace("{sock}", self.sock))
        self.log_path = os.path.join(folder, "haproxy.log")
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.cfg],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)


class Cluster:
    """What the fixture started: pg (PgServer), sink (LmtpSink), nodes
    [Daemon, Daemon], ha (HAProxy), fronts {"v2": Listener, "v1":
    Listener} (HAProxy's frontends), dns (dnsserver info), base."""

    def __init__(self):
        self.pg = self.sink = self.ha = self.dns = None
        self.nodes = []
        self.fronts = {}
        self.base = None
        self.dnsdir = None

    def node_named(self, hostname):
        for d in self.nodes:
            if d.cfg.server["hostname"] == hostname:
                return d
        raise KeyError(hostname)

    def wait_up(self, names=("n1", "n2"), timeout=20):
        """Until HAProxy's checks see the servers names UP in both
        backends."""
        want = {(b, n) for b in ("be_v2", "be_v1") for n in names}

        def up():
            if self.ha.proc.poll() is not None:
                raise AssertionError("haproxy exited: " + self.ha.log_text())
            try:
                st = self.ha.stat()
            except OSError:
                return False
            return all(st.get(k, "").startswith("UP") for k in want)
        harness.wait_until(up, timeout, interval=0.1,
                           what="HAProxy's health checks of %s" % (names,))

    def kill_node(self, d):
        """SIGKILL the node's master and every process of it at once (a
        machine that dies), then reap."""
        pids = [d.pid] + [p for p, _ in d.children()]
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        d.proc.wait()
        d._kill()

    def close(self):
        errors = []
        if self.ha is not None:
            self.ha.stop()
        for d in self.nodes:
            try:
                if d.alive():
                    d.stop()
                else:
                    d._kill()
            except Exception as e:
                errors.append(str(e))
        if self.sink is not None:
            self.sink.close()
        if self.dnsdir is not None:
            dnsserver.stop(self.dnsdir)
        if self.pg is not None:
            self.pg.close()
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
        return errors


def node_config(c, i, cert, dsn, pwfile):
    name, addr = NODES[i]
    folder = os.path.join(c.base, "node%d" % (i + 1))
    cfg = harness.Config(folder, [cert])
    cfg.server.update({
        "hostname": name,
        "workers": "1",
        # A client gets its greeting at once: the load tests open a
        # session per message.
        "pregreet_wait": "0",
        "max_connections_per_ip": "3",
    })
    # Both behind HAProxy (which connects from 127.0.0.1): the mx
    # listener (STARTTLS) takes v2 headers, mxv1 (plaintext) v1 headers.
    for lname, tls in (("mx", "starttls"), ("mxv1", "none")):
        lst = cfg.listen(lname, "mx", tls, host=addr)
        lst.options["proxy_protocol"] = "yes"
        lst.options["proxy_from"] = "127.0.0.1"
    cfg.delivery["local"] = c.sink.target
    cfg.dns = {"resolver": c.dns["resolver"], "trust_anchor": "",
               "unbound_config": c.dns["unbound_config"]}
    cfg.extra = ("\n[store]\nbackend = postgresql\npostgresql = %s\n"
                 "postgresql_password_file = %s\n" % (dsn, pwfile))
    return cfg


def start_cluster(c):
    if not os.access(HAPROXY, os.X_OK):
        pytest.skip("haproxy is not installed (apt-get install haproxy, "
                    "or scripts/install-deps.sh test)")
    reason = pgserver.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    if not dnsserver.have_tools():
        pytest.skip("nsd is not installed (scripts/install-deps.sh test)")
    c.base = tempfile.mkdtemp(prefix="sealmail-cluster-", dir="/tmp")
    c.dnsdir = os.path.join(c.base, "dns")
    c.dns = dnsserver.start(c.dnsdir, dnsserver.write_zones(
        os.path.join(c.base, "zones"), ZONES))
    c.pg = pgserver.PgServer()
    dsn = c.pg.new_database("cluster")
    pwfile = os.path.join(c.base, "pg.password")
    shutil.copyfile(c.pg.pwfile, pwfile)
    os.chmod(pwfile, 0o600)
    c.sink = LmtpSink()
    certdir = os.path.join(c.base, "certs")
    cfgs = []
    for i, (name, addr) in enumerate(NODES):
        cert = harness.make_cert(certdir, "node%d" % (i + 1), cn=name,
                                 ips=(addr,))
        cfgs.append(node_config(c, i, cert, dsn, pwfile))
    # The schema, once, from node 1; the accounts through node 1's CLI:
    # node 2 sees them because the store is shared.
    for cfg in cfgs:
        cfg.write()
    harness.cli_ok(cfgs[0].path, "store", "migrate")
    harness.provision(cfgs[0])
    harness.cli_ok(cfgs[0].path, "user", "add", RUA, "--password-stdin",
                   input="rua-Secret-0123\n")
    for cfg in cfgs:
        d = harness.Daemon(cfg)
        c.nodes.append(d)
        d.start(timeout=30)
    ports = {"fe_v2": free_port(), "fe_v1": free_port()}
    while ports["fe_v1"] == ports["fe_v2"]:
        ports["fe_v1"] = free_port()

    def servers(lname, send):
        return "\n".join(
            "    server n%d %s:%d %s check check-send-proxy inter 250ms "
            "rise 2 fall 1" % (i + 1, d[lname].host, d[lname].port, send)
            for i, d in enumerate(c.nodes))
    text = HAPROXY_CFG.replace("{fe_v2}", str(ports["fe_v2"])).replace(
        "{fe_v1}", str(ports["fe_v1"])).replace(
        "{servers_v2}", servers("mx", "send-proxy-v2")).replace(
        "{servers_v1}", servers("mxv1", "send-proxy"))
    hdir = os.path.join(c.base, "haproxy")
    os.makedirs(hdir)
    c.ha = HAProxy(hdir, text)
    c.wait_up()
    c.fronts = {
        "v2": harness.Listener("fe_v2", "127.0.0.1", ports["fe_v2"], "mx",
                               "starttls"),
        "v1": harness.Listener("fe_v1", "127.0.0.1", ports["fe_v1"], "mx",
                               "none"),
    }
