# SPDX-License-Identifier: ISC
"""Remote delivery between two sealmail instances on loopback (issue 3):
A (127.0.0.1, mail.example.test) sends, B (127.0.0.2, mx.remote.test,
the MX of remote.test in the test DNS server) receives.

Run as root from the repository root (make test does this):

    SEALMAIL_BIN=$PWD/build/sealmail unshare --net sh -c \\
      'ip link set lo up && exec /usr/bin/python3 -m pytest -q tests/outbound'

Needs nsd and ldnsutils (tests/dns/README.md); skipped without them.
"""

import os
import re
import socket

import pytest

import remote_env as env
from remote_env import ALICE, B_NAME, CAROL

import harness
from harness import header_values, new_marker, wait_until
from remote_env import submit, wait_attempt


pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")


# ------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """DNS server, certificates, MX_PORT, instance B and an MX-mode A."""
    yield from env.world(tmp_path_factory)


def dsn_fields(raw):
    """Per-recipient fields of the message/delivery-status part."""
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    return dict(re.findall(r"^(Status|Action|Final-Recipient|"
                           r"Remote-MTA|Diagnostic-Code): *(.*)$", text,
                           re.M))


# ------------------------------------------------------------ MX delivery

def test_starttls_delivery_to_mx(world):
    """A -> B over STARTTLS, and B's Received field says so."""
    a, b = world["a"], world["b"]
    marker = new_marker()
    qid = submit(a, [CAROL], marker)
    raw = b.mailbox(CAROL).wait_for(marker)[0]
    rec = header_values(raw, "Received")[0]
    assert rec.startswith("from mail.example.test"), rec
    assert "[127.0.0.1]" in rec, rec
    assert re.search(r"\bwith ESMTPS\b", rec), rec
    assert "TLSv1.3" in rec, rec
    line = wait_attempt(a, qid, CAROL, "delivered")[0]
    assert "relay=%s[127.0.0.2]:%d" % (B_NAME, world["mx_port"]) in line
    assert "tls=TLSv1.3/TLS_" in line, line
    # The message left A's queue.
    wait_until(lambda: qid not in a.queue_ids(), 10, what="queue empty")


def test_self_signed_receiver_opportunistic(world):
    """B's certificate is self-signed: A still encrypts and logs that the
    certificate did not verify."""
    a, b = world["a"], world["b"]
    marker = new_marker()
    qid = submit(a, [CAROL], marker)
    b.mailbox(CAROL).wait_for(marker)
    line = wait_attempt(a, qid, CAROL, "delivered")[0]
    assert "tls=TLSv1.3/" in line and "verified=no" in line, line
    assert env.log_lines(a, "smtpc tls host=%s" % B_NAME, "verified=no")


def test_one_transaction_per_domain(world):
    """Two recipients of one domain go in one transaction."""
    a, b = world["a"], world["b"]
    marker = new_marker()
    qid = submit(a, [CAROL, ALICE.replace("example.test", "remote.test")],
                 marker)
    b.mailbox(CAROL).wait_for(marker)
    wait_attempt(a, qid, CAROL, "delivered")
    msgs = env.log_lines(a, "qid=%s smtpc message" % qid)
    assert len(msgs) == 1, msgs
    assert "rcpts=2" in msgs[0], msgs


def test_deferral_then_flush(world):
    """B down: deferred and kept; B up and `queue flush`: delivered."""
    a, b = world["a"], world["b"]
    marker = new_marker()
    b.stop()
    try:
        qid = submit(a, [CAROL], marker)
        line = wait_attempt(a, qid, CAROL, "deferred")[0]
        assert "relay=%s[127.0.0.2]:%d" % (B_NAME, world["mx_port"]) \
            in line, line
        assert qid in a.queue_ids()
    finally:
        b.start()
    # retry_schedule is 1h: only the flush makes it go now.
    r = a.cli("queue", "flush")
    assert r.returncode == 0, r.stderr
    b.mailbox(CAROL).wait_for(marker)
    wait_attempt(a, qid, CAROL, "delivered")
    wait_until(lambda: qid not in a.queue_ids(), 10, what="queue empty")


def test_rcpt_550_bounces_to_sender(world):
    """550 5.1.1 at RCPT: the recipient fails, the sender gets a DSN."""
    a = world["a"]
    marker = new_marker()
    qid = submit(a, ["nobody@remote.test"], marker)
    line = wait_attempt(a, qid, "nobody@remote.test", "failed")[0]
    assert "550" in line and "5.1.1" in line, line
    dsn = a.mailbox(ALICE).wait_for(marker)[0]
    f = dsn_fields(dsn)
    assert f.get("Status") == "5.1.1", f
    assert f.get("Action") == "failed", f
    assert "nobody@remote.test" in f.get("Final-Recipient", ""), f
    assert f.get("Remote-MTA", "").endswith(B_NAME), f
    assert f.get("Diagnostic-Code", "").startswith("smtp; 550"), f
    wait_until(lambda: qid not in a.queue_ids(), 10, what="queue empty")


def test_partial_rejection(world):
    """One good and one unknown recipient: one delivered, one bounced."""
    a, b = world["a"], world["b"]
    marker = new_marker()
    qid = submit(a, [CAROL, "ghost@remote.test"], marker)
    b.mailbox(CAROL).wait_for(marker)
    wait_attempt(a, qid, CAROL, "delivered")
    wait_attempt(a, qid, "ghost@remote.test", "failed")
    dsn = a.mailbox(ALICE).wait_for(marker)[0]
    assert b"ghost@remote.test" in dsn
    assert dsn_fields(dsn).get("Status") == "5.1.1"


def test_null_mx_bounces(world):
    """RFC 7505: a null MX domain fails at once with 556 5.1.10."""
    a = world["a"]
    marker = new_marker()
    qid = submit(a, ["someone@nullmx.test"], marker)
    line = wait_attempt(a, qid, "someone@nullmx.test", "failed")[0]
    assert "556 5.1.10" in line, line
    dsn = a.mailbox(ALICE).wait_for(marker)[0]
    assert dsn_fields(dsn).get("Status") == "5.1.10", dsn_fields(dsn)


# ------------------------------------------------------------ smarthost

def relay_a(world, name, url, ca=None, creds=True):
    """A sending instance whose relayhost is url (B as smarthost)."""
    folder = os.path.join(world["base"], name)
    delivery = {"relayhost": url,
                "relayhost_ca": ca or world["cert_b"].cert}
    if creds:
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "relay-credentials")
        with open(path, "w") as f:
            f.write("%s:%s\n" % (ALICE, harness.USERS[ALICE]))
        os.chmod(path, 0o600)
        delivery["relayhost_credentials"] = path
    cfg = env.a_config(folder, world["cert_a"], world["dns"],
                       world["mx_port"], **delivery)
    return world["pool"].start(cfg)


def stop(world, d):
    d.stop()
    world["pool"].daemons.remove(d)


@pytest.mark.parametrize("scheme,listener", [("smtps", "submissions"),
                                             ("smtp", "submission")])
def test_smarthost_with_auth(world, scheme, listener):
    """relayhost smtps:// (implicit TLS) and smtp:// (STARTTLS required),
    certificate verified against relayhost_ca, AUTH PLAIN."""
    b = world["b"]
    url = "%s://%s:%d" % (scheme, B_NAME, b[listener].port)
    a = relay_a(world, "relay-" + scheme, url)
    try:
        marker = new_marker()
        qid = submit(a, [CAROL], marker)
        raw = b.mailbox(CAROL).wait_for(marker)[0]
        rec = header_values(raw, "Received")[0]
        assert re.search(r"\bwith ESMTPSA\b", rec), rec
        line = wait_attempt(a, qid, CAROL, "delivered")[0]
        assert "relay=%s[127.0.0.2]:%d" % (B_NAME, b[listener].port) \
            in line, line
        assert "verified=yes" in line, line
    finally:
        stop(world, a)


def assert_relay_refused(world, name, url, whys, ca=None):
    """A relayhost that must get nothing: the message is deferred, the
    attempt line says each of whys, it stays queued, B's mailbox empty."""
    a = relay_a(world, name, url, ca=ca)
    try:
        marker = new_marker()
        qid = submit(a, [CAROL], marker)
        line = wait_attempt(a, qid, CAROL, "deferred")[0]
        for why in whys:
            assert why in line, line
        assert qid in a.queue_ids()
        env.no_mail_for(world["b"].mailbox(CAROL), marker, 1.0)
    finally:
        stop(world, a)


def test_smarthost_unverified_certificate_is_refused(world):
    """relayhost_ca that does not match B's certificate: nothing is sent,
    the message stays queued, the log says why."""
    url = "smtps://%s:%d" % (B_NAME, world["b"]["submissions"].port)
    assert_relay_refused(world, "relay-badca", url,
                         ["certificate verification failed", "verified=no"],
                         ca=world["cert_a"].cert)


@pytest.fixture(scope="module")
def b_ip(world):
    """A second receiver on B's address whose certificate names 127.0.0.2
    as an IP SAN (B's own certificate does not)."""
    cert = harness.make_cert(os.path.join(world["base"], "certs"), "b-ip",
                             cn=B_NAME, ips=[env.B_HOST])
    cfg = harness.Config(os.path.join(world["base"], "b-ip"), [cert])
    cfg.server["hostname"] = B_NAME
    cfg.domains = [env.B_DOMAIN, harness.DOMAIN]
    cfg.listen("submissions", "submission", "implicit", host=env.B_HOST)
    env.set_dns(cfg, world["dns"])
    return world["pool"].start(cfg, provision=env.provision_b), cert


def test_smarthost_by_ip_verifies_ip_san(world, b_ip):
    """relayhost = smtps://127.0.0.2:PORT is verified against the
    certificate's IP SANs: one that names the address gets the mail."""
    b, cert = b_ip
    url = "smtps://%s:%d" % (env.B_HOST, b["submissions"].port)
    a = relay_a(world, "relay-ip", url, ca=cert.cert)
    try:
        marker = new_marker()
        qid = submit(a, [CAROL], marker)
        b.mailbox(CAROL).wait_for(marker)
        line = wait_attempt(a, qid, CAROL, "delivered")[0]
        assert "verified=yes" in line, line
    finally:
        stop(world, a)


def test_smarthost_by_ip_without_ip_san_is_refused(world):
    """B's certificate has no IP SAN for 127.0.0.2 (its DNS name does not
    count for an address): nothing is sent."""
    url = "smtps://%s:%d" % (env.B_HOST, world["b"]["submissions"].port)
    assert_relay_refused(world, "relay-ip-nosan", url,
                         ["certificate verification failed", "verified=no"])


def test_smarthost_without_starttls_is_refused(world):
    """smtp:// requires STARTTLS: a relay that does not offer it gets
    nothing, in particular no credentials."""
    url = "smtp://%s:%d" % (B_NAME, world["b"]["mx_plain"].port)
    assert_relay_refused(world, "relay-plain", url, ["STARTTLS not offered"])
    assert not env.log_lines(world["b"], "AUTH")


# ------------------------------------------------------------ shutdown

def test_sigterm_abandons_delivery_in_flight(world):
    """A delivery stuck on a silent server does not hold up SIGTERM: the
    runner gives it a few seconds, abandons it, and the recipient is still
    pending (nothing recorded), to be tried after the restart."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    silent.bind(("127.0.0.3", world["mx_port"]))
    silent.listen(4)
    a = world["pool"].start(env.a_config(
        os.path.join(world["base"], "a-sigterm"), world["cert_a"],
        world["dns"], world["mx_port"]))
    try:
        qid = submit(a, ["x@slow.test"], new_marker())
        env.wait_log(a, "smtpc connected host=mx.slow.test")
        a.stop()
        assert env.log_lines(a, "grace time over, 1 deliveries in flight")
        assert not attempt_lines_any(a, qid)
        assert qid in harness.queue_ids(a.data_dir)
        # Never attempted: the envelope is still the one committed.
        assert not os.path.exists(harness.spool_file(a.data_dir, qid, "env"))
        assert "x@slow.test" in harness.spool_split(a.data_dir, qid)[1]
    finally:
        silent.close()
        if a in world["pool"].daemons:
            world["pool"].daemons.remove(a)


def attempt_lines_any(a, qid):
    return env.log_lines(a, "qid=%s delivery" % qid)
