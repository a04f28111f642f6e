# SPDX-License-Identifier: ISC
"""Shared setup of the outbound (remote delivery) tests: a loopback DNS
server (tests/dns/dnsserver.py, NSD) whose zones send remote.test to
127.0.0.2, sealmail instance B (mx.remote.test) on 127.0.0.2 and sending
instances A on 127.0.0.1, built on tests/integration/harness.py.

The sender's [delivery] mx_port is global, so every receiver of a test
listens on the same port: MX_PORT is picked free on 127.0.0.1, .2 and .3.
Not a conftest.py on purpose (tests/outbound is shared with other test
files): test modules import it and build fixtures from it.
"""

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "dns"))

import dnsserver  # noqa: E402
import harness  # noqa: E402
from harness import Config, USERS, cli_ok  # noqa: E402
from harness import make_message, wait_until  # noqa: E402
import mailcheck  # noqa: E402

B_HOST = "127.0.0.2"
B_NAME = "mx.remote.test"
B_DOMAIN = "remote.test"
# B's own user, and A's sender, which B also knows so that A can relay
# through B's submission ports as that user (B lets an authenticated user
# send only as their own address).
CAROL = "carol@remote.test"
CAROL_PW = "carol-Secret-8901"
ALICE = "alice@example.test"

SOA = """$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ NS ns1
ns1 A 127.0.0.1
"""

ZONES = {
    # The parent of the test domains, empty: names in no zone of ours
    # (example.test, the senders' domain) are NXDOMAIN, not REFUSED. A
    # refused _dmarc lookup is a DMARC temperror, which an mx listener
    # answers 451 when the policy could be reject (it cannot be known).
    "test": "",
    "remote.test": "@ MX 10 mx\nmx A 127.0.0.2\n",
    # RFC 7505: this domain accepts no mail.
    "nullmx.test": "@ MX 0 .\n",
    # A server that accepts and never speaks (SIGTERM test).
    "slow.test": "@ MX 10 mx\nmx A 127.0.0.3\n",
    # The Postfix interop test's receiver (127.0.0.1:MX_PORT).
    "postfix.test": "@ MX 10 mx\nmx A 127.0.0.1\n",
    # Signed (tests/dns/keys): the DNS server's trust-anchors file names
    # it, so the senders run with DANE on and their DNSSEC probe at
    # start validates.
    "secure.test": ";! sign\n",
}


def write_zones(folder, extra=None):
    """ZONES plus extra (name -> records) as zone files in folder."""
    os.makedirs(folder, exist_ok=True)
    out = []
    for name, body in dict(ZONES, **(extra or {})).items():
        p = os.path.join(folder, name + ".zone")
        with open(p, "w") as f:
            f.write("$ORIGIN %s.\n" % name + SOA + body)
        out.append(p)
    return out


def free_port_everywhere(hosts=("127.0.0.1", "127.0.0.2", "127.0.0.3")):
    """A port free on every address in hosts (bound on the first one, the
    others checked), for the global mx_port."""
    for _ in range(50):
        port = harness.free_port(hosts[0])
        ok = True
        for h in hosts[1:]:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((h, port))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no port free on all of %s" % (hosts,))


def set_dns(cfg, dns):
    """[dns] of the DNS server dns, validating with its trust anchors
    when it has them; else no DNSSEC, and then DANE off too (serve would
    refuse to start)."""
    anchor = dns.get("trust_anchor_file", "")
    cfg.dns = {"resolver": dns["resolver"], "trust_anchor": anchor,
               "unbound_config": dns["unbound_config"]}
    if not anchor:
        cfg.delivery["dane"] = "no"


def b_config(folder, cert, dns, mx_port):
    """Instance B: mx.remote.test on 127.0.0.2, domains remote.test and
    example.test (for the relay tests' AUTH user), listeners mx (STARTTLS,
    on MX_PORT), mx_plain (no TLS), submission (587-style STARTTLS) and
    submissions (465-style implicit TLS)."""
    cfg = Config(folder, [cert])
    cfg.server["hostname"] = B_NAME
    cfg.domains = [B_DOMAIN, harness.DOMAIN]
    cfg.listen("mx", "mx", "starttls", host=B_HOST, port=mx_port)
    cfg.listen("mx_plain", "mx", "none", host=B_HOST)
    cfg.listen("submission", "submission", "starttls", host=B_HOST)
    cfg.listen("submissions", "submission", "implicit", host=B_HOST)
    set_dns(cfg, dns)
    return cfg


def a_config(folder, cert, dns, mx_port, **delivery):
    """A sending instance on 127.0.0.1 (mail.example.test): one submission
    listener; retries far apart so that a test decides when to retry."""
    cfg = Config(folder, [cert])
    cfg.listen("submission", "submission", "starttls")
    cfg.delivery = {"local": "maildir", "retry_schedule": "1h",
                    "mx_port": str(mx_port), "dane": "yes"}
    cfg.delivery.update(delivery)
    set_dns(cfg, dns)
    return cfg


def dkim_key(folder, domain="example.test", selector="s1"):
    """An Ed25519 key written by `sealmail dkim keygen` into folder, and
    the value of its DNS TXT record."""
    key = os.path.join(folder, "%s.%s.key" % (domain, selector))
    r = harness.run_cli(None, "dkim", "keygen", "--domain", domain,
                        "--selector", selector, "--type", "ed25519",
                        "--out", key)
    assert r.returncode == 0, r.stderr
    return key, "".join(re.findall(r'"([^"]*)"', r.stdout))


def signing_zones(record, dmarc="reject"):
    """Extra zones for example.test signing with s1 (record), SPF for
    loopback and a DMARC policy; "test" ends the DMARC tree walk."""
    return {"test": "",
            "example.test": ('@ TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
                             '_dmarc TXT "v=DMARC1; p=%s"\n'
                             's1._domainkey TXT "%s"\n' % (dmarc, record))}


@contextlib.contextmanager
def signing_pair(base, extra=None, dmarc="reject"):
    """DNS (ZONES, signing_zones and extra), instance B started, and the
    configuration of a sending instance A whose only domain, example.test,
    signs with a new key (selector s1), not started: the caller adjusts
    it and starts it with w["pool"]. Yields a dict (pool, b, cfg, record);
    everything is stopped at the end."""
    a_dir = os.path.join(base, "a")
    os.makedirs(a_dir)
    key, record = dkim_key(a_dir)
    zones = write_zones(os.path.join(base, "zones"),
                        dict(extra or {}, **signing_zones(record, dmarc)))
    dnsdir = os.path.join(base, "dns")
    dns = dnsserver.start(dnsdir, zones)
    pool = Pool()
    errors = []
    try:
        certs = os.path.join(base, "certs")
        mx_port = free_port_everywhere()
        b = pool.start(b_config(os.path.join(base, "b"),
                                harness.make_cert(certs, "b", cn=B_NAME),
                                dns, mx_port), provision=provision_b)
        cfg = a_config(a_dir, harness.make_cert(certs, "a"), dns, mx_port)
        cfg.domains = []
        cfg.extra = ('\n[domain "example.test"]\ndkim_selector = s1\n'
                     'dkim_key = %s\n' % key)
        yield {"pool": pool, "b": b, "cfg": cfg, "record": record}
    finally:
        errors = pool.stop_all()
        dnsserver.stop(dnsdir)
    if errors:
        raise harness.HarnessError("daemon teardown: " + "\n".join(errors))


@contextlib.contextmanager
def dns_world(base, zones, hosts=("127.0.0.1", "127.0.0.2")):
    """The DNS server for zones (name -> records, as write_zones) and a
    Pool of daemons, all stopped at the end. Yields a dict: dns, pool,
    certs (a folder for certificates), mx_port (free on hosts)."""
    dnsdir = os.path.join(base, "dns")
    dns = dnsserver.start(dnsdir, write_zones(os.path.join(base, "z"),
                                              zones))
    pool = Pool()
    errors = []
    try:
        yield {"dns": dns, "pool": pool,
               "certs": os.path.join(base, "certs"),
               "mx_port": free_port_everywhere(hosts)}
    finally:
        errors = pool.stop_all()
        dnsserver.stop(dnsdir)
    if errors:
        raise harness.HarnessError("daemon teardown: " + "\n".join(errors))


def mx_instance(w, base, key, hostname, host, domains, submission=False):
    """The configuration of an instance of dns_world w: hostname on host
    (its own certificate), an mx listener (STARTTLS) on w's mx_port, a
    submission listener if asked, local domains, retries an hour apart.
    Its folder is base/key."""
    cfg = Config(os.path.join(base, key),
                 [harness.make_cert(w["certs"], key, cn=hostname)])
    cfg.server["hostname"] = hostname
    cfg.domains = list(domains)
    cfg.listen("mx", "mx", "starttls", host=host, port=w["mx_port"])
    if submission:
        cfg.listen("submission", "submission", "starttls", host=host)
    cfg.delivery = {"local": "maildir", "retry_schedule": "1h",
                    "mx_port": str(w["mx_port"])}
    set_dns(cfg, w["dns"])
    return cfg


def provision_accounts(users=(), aliases=()):
    """Provisioning for pool.start: users as (address, password) pairs,
    aliases as (address, target) pairs."""
    def run(cfg):
        cfg.write()
        for addr, pw in users:
            cli_ok(cfg.path, "user", "add", addr, "--password-stdin",
                   input=pw + "\n")
        for addr, target in aliases:
            cli_ok(cfg.path, "alias", "add", addr, target)
    return run


def provision_b(cfg):
    cfg.write()
    cli_ok(cfg.path, "user", "add", CAROL, "--password-stdin",
           input=CAROL_PW + "\n")
    cli_ok(cfg.path, "user", "add", ALICE, "--password-stdin",
           input=USERS[ALICE] + "\n")


class Pool(harness.DaemonGroup):
    """Daemons started by one fixture, all stopped at its end."""


def log_lines(daemon, *needles):
    """Lines of daemon's log that contain every needle."""
    return [ln for ln in daemon.log_text().splitlines()
            if all(n in ln for n in needles)]


def wait_log(daemon, *needles, timeout=20):
    return harness.wait_until(lambda: log_lines(daemon, *needles), timeout,
                              what="log line with %r" % (needles,))


def no_mail_for(mailbox, marker, seconds):
    """Assert that nothing with marker arrives in mailbox for seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert not mailbox.with_marker(marker), "unexpected delivery"
        time.sleep(0.1)


def world(tmp_path_factory):
    """Generator for a module fixture: DNS server, certificates, MX_PORT,
    instance B and an MX-mode instance A, as a dict (keys base, dns, pool,
    cert_a, cert_b, mx_port, a, b); everything stopped at the end."""
    base = str(tmp_path_factory.mktemp("outbound"))
    dnsdir = os.path.join(base, "dns")
    dns = dnsserver.start(dnsdir, write_zones(os.path.join(base, "zones")))
    pool = Pool()
    errors = []
    try:
        certs = os.path.join(base, "certs")
        w = {
            "base": base, "dns": dns, "pool": pool,
            "cert_a": harness.make_cert(certs, "a"),
            "cert_b": harness.make_cert(certs, "b", cn=B_NAME),
            "mx_port": free_port_everywhere(),
        }
        w["b"] = pool.start(b_config(os.path.join(base, "b"), w["cert_b"],
                                     dns, w["mx_port"]),
                            provision=provision_b)
        w["a"] = pool.start(a_config(os.path.join(base, "a"), w["cert_a"],
                                     dns, w["mx_port"]))
        yield w
    finally:
        errors = pool.stop_all()
        dnsserver.stop(dnsdir)
    if errors:
        raise harness.HarnessError("daemon teardown: " + "\n".join(errors))


def reports_send(daemon, *args):
    """`sealmail reports send ARGS` on daemon: [sent, written, failed] of
    its summary line, and its standard error."""
    r = daemon.cli("reports", "send", *args)
    assert r.returncode == 0, r.stderr
    m = re.search(r"reports run.* sent=(\d+) written=(\d+) failed=(\d+)",
                  r.stderr)
    assert m, r.stderr
    return [int(x) for x in m.groups()], r.stderr


def submit(a, rcpts, marker, frm=ALICE):
    """Submit a message to instance a as alice; returns its queue id."""
    s = mailcheck.smtp_connect(a["submission"])
    try:
        mailcheck.login(s, ALICE)
        return mailcheck.send(s, frm, rcpts,
                              make_message(frm, ", ".join(rcpts), marker))
    finally:
        s.quit()


def attempt_lines(a, qid, rcpt, result=None):
    needles = ["qid=%s delivery" % qid, "rcpt=\"%s\"" % rcpt, "method=smtp"]
    if result:
        needles.append("result=" + result)
    return log_lines(a, *needles)


def wait_attempt(a, qid, rcpt, result, timeout=20):
    return wait_until(lambda: attempt_lines(a, qid, rcpt, result), timeout,
                      what="%s attempt for %s of %s" % (result, rcpt, qid))


def signing_keys(folder, zones):
    """A keys folder for dnsserver.start(keysdir=...): the committed test
    keys plus a new KSK and ZSK (ldns-keygen, ECDSA P-256) for each zone
    name in zones, so a test can sign zones of its own."""
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(dnsserver.KEYS_DIR):
        shutil.copy(os.path.join(dnsserver.KEYS_DIR, name), folder)
    for zone in zones:
        for extra in (["-k"], []):
            subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256"] + extra +
                           [zone], cwd=folder, check=True,
                           capture_output=True, timeout=30)
    # ldns-keygen also writes .ds files; dnsserver computes DS itself.
    return folder


def spki_sha256(cert_path):
    """Hex SHA-256 of the certificate's SubjectPublicKeyInfo: the data of
    a TLSA 3 1 1 (DANE-EE) record for it."""
    import hashlib
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    with open(cert_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


UNBOUND_CONF = """\
server:
    interface: 127.0.0.1
    port: 53
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    logfile: "{d}/unbound.log"
    use-syslog: no
    verbosity: 1
    do-not-query-localhost: no
    local-zone: "test." transparent
    trust-anchor-signaling: no
    infra-cache-max-rtt: 500
    access-control: 127.0.0.0/8 allow
{anchors}
remote-control:
    control-enable: no
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@{port}
"""


def start_unbound(d, dns, probe, validating=True):
    """A real unbound(8) daemon on 127.0.0.1:53 (inside the test's network
    namespace) forwarding to the test DNS server, validating with its
    trust anchors: the resolver of tools that read /etc/resolv.conf
    (Postfix, mta-sts-query) run with a bind-mounted one (run_with_resolver).
    Ready once probe (a name) resolves, with the AD bit if validating.
    Returns the Popen; terminate() and wait() it."""
    os.makedirs(d)
    with open(dns["trust_anchor_file"]) as f:
        anchors = "".join('    trust-anchor: "%s"\n' % ln.strip()
                          for ln in f if ln.strip())
    conf = os.path.join(d, "unbound.conf")
    with open(conf, "w") as f:
        f.write(UNBOUND_CONF.format(d=d, anchors=anchors, port=dns["port"]))
    p = subprocess.Popen(["/usr/sbin/unbound", "-d", "-c", conf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def ready():
        r = subprocess.run(["dig", "+tries=1", "+time=1", "-p", "53",
                            "@127.0.0.1", probe, "MX"], capture_output=True,
                           text=True)
        return "status: NOERROR" in r.stdout and (
            not validating or " ad" in r.stdout)
    wait_until(ready, 20, what="unbound validating on 127.0.0.1:53")
    return p


def run_with_resolver(resolv_folder, argv, env=None, timeout=60):
    """Run argv with /etc/resolv.conf replaced (private mount namespace)
    by one naming 127.0.0.1 with trust-ad: where start_unbound listens."""
    conf = os.path.join(resolv_folder, "resolv.conf")
    with open(conf, "w") as f:
        f.write("nameserver 127.0.0.1\noptions trust-ad\n")
    script = 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"'
    return subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh",
                           conf] + list(argv), capture_output=True,
                          text=True, timeout=timeout, env=env)


def ensure_package(binary, package):
    """Install package (apt-get) unless binary exists; None when it is
    there, else why not (for pytest.skip)."""
    if os.path.exists(binary):
        return None
    r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends",
                        package], capture_output=True, text=True,
                       timeout=600, env=dict(os.environ,
                                             DEBIAN_FRONTEND="noninteractive"))
    if r.returncode != 0 or not os.path.exists(binary):
        return "apt-get install %s failed: %s" % (
            package, (r.stderr.strip().splitlines() or ["?"])[-1])
    return None


def cert_sha256(cert_path):
    """Hex SHA-256 of the (first) certificate in cert_path: the data of a
    TLSA x 0 1 record for it."""
    import hashlib
    import ssl
    with open(cert_path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def full_chain(leaf, ca):
    """leaf (a harness.Cert) with the CA certificate after it, as a
    receiver presents it: a DANE-TA(2) 2 0 1 record needs the trust anchor
    in the chain (RFC 7671 §5.2.2)."""
    import types
    path = leaf.cert[:-4] + "-chain.pem"
    with open(path, "w") as f:
        f.write(leaf.pem + ca.pem)
    # Not a harness.Cert: its fingerprint reads one certificate only.
    return types.SimpleNamespace(cert=path, key=leaf.key, kind=leaf.kind)


def expect_delivered(a, receiver, rcpt):
    """Submit to rcpt on sending instance a and wait for it in receiver's
    mailbox; returns a's delivery attempt log line."""
    marker = harness.new_marker()
    qid = submit(a, [rcpt], marker)
    receiver.mailbox(rcpt).wait_for(marker)
    return wait_attempt(a, qid, rcpt, "delivered")[0]


def expect_deferred(a, receiver, rcpt):
    """Submit to rcpt on a: deferred, nothing reaches receiver, still
    queued. Returns (a's attempt log line, `queue show` of the message)."""
    marker = harness.new_marker()
    qid = submit(a, [rcpt], marker)
    line = wait_attempt(a, qid, rcpt, "deferred")[0]
    no_mail_for(receiver.mailbox(rcpt), marker, 1)
    assert qid in a.queue_ids()
    r = a.cli("queue", "show", qid)
    assert r.returncode == 0, r.stderr
    return line, r.stdout


# --- receivers for policy tests: mailbox rcpt@DOMAIN for each domain ---

RCPT_PW = "rcpt-Secret-4711"


def rcpt(domain):
    """The test recipient of a receiving instance's domain."""
    return "rcpt@" + domain


def receiver(folder, cert, dns, port, host, domains, tls="starttls"):
    """A receiving instance on host:port (mx listener, tls as given) for
    domains, named mx.FIRST-DOMAIN; start it with provision_rcpts."""
    cfg = Config(folder, [cert])
    cfg.server["hostname"] = "mx." + domains[0]
    cfg.domains = list(domains)
    cfg.listen("mx", "mx", tls, host=host, port=port)
    set_dns(cfg, dns)
    return cfg


def provision_rcpts(domains):
    """Provisioning for pool.start: rcpt@DOMAIN for every domain."""
    def run(cfg):
        cfg.write()
        for d in domains:
            cli_ok(cfg.path, "user", "add", rcpt(d), "--password-stdin",
                   input=RCPT_PW + "\n")
    return run


def delivered_to(world, domain, host="b"):
    """expect_delivered from world["a"] to rcpt@domain at world[host]."""
    return expect_delivered(world["a"], world[host], rcpt(domain))


def deferred_to(world, domain, host="b"):
    """expect_deferred from world["a"] to rcpt@domain at world[host]."""
    return expect_deferred(world["a"], world[host], rcpt(domain))
