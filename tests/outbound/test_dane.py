# SPDX-License-Identifier: ISC
"""Authenticated TLS between servers (issue 11): DANE (RFC 7672) and the
[policy "DOMAIN"] levels, between sealmail instances on loopback.

A (127.0.0.1) sends; B (127.0.0.2) receives over STARTTLS with a
self-signed certificate; C (127.0.0.3) receives without STARTTLS. The test
DNS server serves DNSSEC-signed zones (keys made at the start, trust
anchors handed to A through the unbound config) whose MX records point at
B or C, with TLSA records that match B's key or not.

Run as root from the repository root (make test does this):

    SEALMAIL_BIN=$PWD/build/sealmail unshare --net sh -c \\
      'ip link set lo up && exec /usr/bin/python3 -m pytest -q tests/outbound'
"""

import gzip
import json
import os
import re
import socket
import ssl
import threading
import time

import pytest

import remote_env as env

import harness
import mailcheck
from harness import new_marker, wait_until
from remote_env import wait_attempt

pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")

C_HOST = "127.0.0.3"
D_HOST = "127.0.0.4"     # the stub below: TLS, never REQUIRETLS
E_HOST = "127.0.0.5"     # the stub: self-signed TLS, offers REQUIRETLS
F_HOST = "127.0.0.6"     # the stub: offers STARTTLS, then refuses it
WRONG = "00" * 32

# Zones whose MX is B (127.0.0.2) or C (127.0.0.3): (name, MX host,
# signed?, TLSA rdata or None, extra directives).
B_ZONES = {
    "ee.test": (True, "3 1 1 {spki}"),          # DANE-EE, matches B
    "mismatch.test": (True, "3 1 1 " + WRONG),  # matches nothing
    "bogus.dane.test": (True, "3 1 1 {spki}"),  # corrupted after signing
    "unusable.test": (True, "0 0 1 " + WRONG),  # PKIX-TA: unusable
    "sf.test": (True, None),                    # TLSA lookup SERVFAIL
    "unsigned.test": (False, "3 1 1 " + WRONG), # insecure: ignored
    "nodane.test": (True, None),                # signed, no TLSA
    "p-verify.test": (False, None),
    "p-verifymx.test": (False, None),
    "p-daneonly.test": (False, None),
    "p-none.test": (False, None),
    "rpt-ee.test": (True, "3 1 1 {spki}"),      # as ee.test, TLS-RPT
    "rpt-mismatch.test": (True, "3 1 1 " + WRONG),  # as mismatch.test
}
D_ZONES = {
    "noreq.test": (True, "3 1 1 {dspki}"),      # DANE ok, no REQUIRETLS
}
F_ZONES = {
    "tls454.test": (True, "3 1 1 {dspki}"),     # DANE, STARTTLS refused
}
C_ZONES = {
    "stripped.test": (True, "3 1 1 {spki}"),    # DANE, no STARTTLS
    "aaaabogus.test": (True, "3 1 1 {spki}"),   # same, its AAAA bogus
    "p-encrypt.test": (False, None),
}

# They publish _smtp._tls (RFC 8460): test_tlsrpt_of_dane_sessions.
TLSRPT_ZONES = ("rpt-ee.test", "rpt-mismatch.test")

CNAME_ZONES = ["cname.test", "cname-orig.test", "cname-first.test"]

POLICIES = """
[policy "p-verify.test"]
tls = verify

[policy "p-verifymx.test"]
tls = verify
mx_match = mail.p-verifymx.test

[policy "p-daneonly.test"]
tls = dane-only

[policy "p-none.test"]
tls = none

[policy "p-encrypt.test"]
tls = encrypt
"""


def zone_body(name, host_ip, signed, tlsa, spki, port, dspki=""):
    body = "@ MX 10 mx\nmx A %s\n" % host_ip
    if signed:
        body += ";! sign\n"
    if tlsa is not None:
        body += "_%d._tcp.mx TLSA %s\n" % (port, tlsa.format(spki=spki,
                                                           dspki=dspki))
    if name in TLSRPT_ZONES:
        body += '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tlsrpt@%s"\n' % name
    if name == "aaaabogus.test":
        body += "mx AAAA 2001:db8::1\n"
        body += ";! corrupt mx.%s. AAAA\n" % name
    if name == "bogus.dane.test":
        body += ";! corrupt _%d._tcp.mx.%s. TLSA\n" % (port, name)
    if name == "sf.test":
        # The name exists in the signed zone (so no cached NSEC proves it
        # absent, RFC 8198), and NSD answers SERVFAIL for it.
        body += '_%d._tcp.mx TXT "x"\n' % port
        body += ";! servfail _%d._tcp.mx.sf.test\n" % port
    return body


class NoRequireTLS:
    """An SMTP stub on host:port that speaks STARTTLS and by default
    never offers REQUIRETLS (as Postfix does today); requiretls=True
    offers it after TLS, starttls_reply answers STARTTLS instead of 220,
    delay holds the greeting back. It takes no mail (502), so a message
    that reached MAIL would show up in `commands`."""

    def __init__(self, host, port, cert, requiretls=False,
                 starttls_reply=None):
        self.requiretls = requiretls
        self.starttls_reply = starttls_reply
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert.cert, cert.key)
        self.sock = socket.create_server((host, port))
        self.sock.settimeout(0.2)
        self.commands = []
        self.delay = 0          # seconds before the greeting
        self.stopping = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.session, args=(conn,),
                             daemon=True).start()

    def session(self, conn):
        try:
            self.dialogue(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def dialogue(self, conn):
        conn.settimeout(10)
        time.sleep(self.delay)
        f = conn.makefile("rwb")
        f.write(b"220 stub.noreq.test ESMTP\r\n")
        f.flush()
        tls = False
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.decode("ascii", "replace").strip()
            self.commands.append(cmd)
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                f.write(b"250-stub.noreq.test\r\n" +
                        (b"" if tls else b"250-STARTTLS\r\n") +
                        (b"250-REQUIRETLS\r\n" if tls and self.requiretls
                         else b"") +
                        b"250 PIPELINING\r\n")
            elif verb == "STARTTLS" and self.starttls_reply:
                f.write(self.starttls_reply)
            elif verb == "STARTTLS" and not tls:
                f.write(b"220 go ahead\r\n")
                f.flush()
                conn = self.ctx.wrap_socket(conn, server_side=True)
                f = conn.makefile("rwb")
                tls = True
                continue
            elif verb == "QUIT":
                f.write(b"221 bye\r\n")
                f.flush()
                return
            else:
                f.write(b"502 5.5.1 not here\r\n")
            f.flush()

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("dane"))
    certs = os.path.join(base, "certs")
    cert_b = harness.make_cert(certs, "b", cn="mx.ee.test")
    cert_d = harness.make_cert(certs, "d", cn="mx.noreq.test")
    spki = env.spki_sha256(cert_b.cert)
    dspki = env.spki_sha256(cert_d.cert)
    port = env.free_port_everywhere()
    extra = {}
    for name, (signed, tlsa) in B_ZONES.items():
        extra[name] = zone_body(name, "127.0.0.2", signed, tlsa, spki, port)
    for name, (signed, tlsa) in C_ZONES.items():
        extra[name] = zone_body(name, C_HOST, signed, tlsa, spki, port)
    # RFC 7672 §2.2.2: MX hosts that are CNAMEs (secure expansions).
    cname = "@ MX 10 mx\nmx CNAME real\nreal A 127.0.0.2\n;! sign\n"
    extra["cname.test"] = cname + "_%d._tcp.real TLSA 3 1 1 %s\n" % (
        port, spki)
    extra["cname-orig.test"] = cname + "_%d._tcp.mx TLSA 3 1 1 %s\n" % (
        port, spki)
    extra["cname-first.test"] = cname + (
        "_%d._tcp.real TLSA 3 1 1 %s\n_%d._tcp.mx TLSA 3 1 1 %s\n" % (
            port, WRONG, port, spki))
    for name, (signed, tlsa) in D_ZONES.items():
        extra[name] = zone_body(name, D_HOST, signed, tlsa, spki, port,
                                dspki)
    for name, (signed, tlsa) in F_ZONES.items():
        extra[name] = zone_body(name, F_HOST, signed, tlsa, spki, port,
                                dspki)
    signed = [n for n, v in list(B_ZONES.items()) + list(C_ZONES.items()) +
              list(D_ZONES.items()) + list(F_ZONES.items()) if v[0]] + \
        CNAME_ZONES
    keys = env.signing_keys(os.path.join(base, "keys"), signed)
    dnsdir = os.path.join(base, "dns")
    dns = env.dnsserver.start(
        dnsdir, env.write_zones(os.path.join(base, "zones"), extra),
        keysdir=keys)
    pool = env.Pool()
    errors = []
    stub = stub_e = stub_f = None
    try:
        stub = NoRequireTLS(D_HOST, port, cert_d)
        stub_e = NoRequireTLS(E_HOST, port, cert_d, requiretls=True)
        stub_f = NoRequireTLS(F_HOST, port, cert_d,
                              starttls_reply=b"454 4.7.0 TLS not available"
                              b"\r\n")
        doms_b = list(B_ZONES) + CNAME_ZONES
        b = pool.start(env.receiver(os.path.join(base, "b"), cert_b, dns,
                                    port, "127.0.0.2", doms_b),
                       provision=env.provision_rcpts(doms_b))
        c = pool.start(env.receiver(os.path.join(base, "c"),
                                    harness.make_cert(certs, "c"), dns, port,
                                    C_HOST, list(C_ZONES), "none"),
                       provision=env.provision_rcpts(list(C_ZONES)))
        cfg = env.a_config(os.path.join(base, "a"),
                           harness.make_cert(certs, "a"), dns, port,
                           dane="yes")
        cfg.extra = POLICIES
        a = pool.start(cfg)
        yield {"a": a, "b": b, "c": c, "port": port, "spki": spki,
               "stub": stub, "stub_e": stub_e}
    finally:
        if stub is not None:
            stub.stop()
        if stub_e is not None:
            stub_e.stop()
        if stub_f is not None:
            stub_f.stop()
        errors = pool.stop_all()
        env.dnsserver.stop(dnsdir)
    if errors:
        raise harness.HarnessError("daemon teardown: " + "\n".join(errors))


def test_dane_ee_match_delivers_authenticated(world):
    line = env.delivered_to(world, "ee.test")
    assert "policy=dane authenticated=yes" in line, line
    assert "verified=yes" in line, line


def test_tlsa_mismatch_defers_and_says_why(world):
    line, show = env.deferred_to(world, "mismatch.test")
    assert "policy=dane authenticated=no" in line, line
    assert "4.7.5 dane: certificate matches no TLSA record of " \
        "mx.mismatch.test" in show, show


def test_tlsrpt_of_dane_sessions(world, tmp_path):
    """The TLS-RPT report (RFC 8460 §4) of DANE sessions: policy-type tlsa
    with the TLSA records as policy-string, a success at rpt-ee.test, the
    TLSA mismatch at rpt-mismatch.test as result-type tlsa-invalid
    (§4.3.1),
    counts equal to the store's (a dry run: nothing marked).
    Issue 12: sessions that succeed and fail under DANE."""
    env.delivered_to(world, "rpt-ee.test")
    env.deferred_to(world, "rpt-mismatch.test")

    def stored():
        """The store's policies of today, once both domains are there
        (the SMTP client records its sessions once a second)."""
        r = world["a"].cli("tls-results", "--json")
        assert r.returncode == 0, r.stderr
        pol = {p["policy"]["policy-domain"]: p
               for p in json.loads(r.stdout)["policies"]}
        return pol if set(TLSRPT_ZONES) <= set(pol) else None
    wait_until(stored, 10, what="the DANE sessions in the store")
    time.sleep(2)       # the sessions of this test's two attempts too
    before = stored()
    out = str(tmp_path / "tlsrpt")
    os.makedirs(out)
    (sent, written, failed), err = env.reports_send(world["a"], "--now",
                                                    "--to-dir", out)
    assert (sent, failed) == (0, 0), err
    got = {}
    for f in os.listdir(out):
        rep = json.loads(gzip.open(os.path.join(out, f)).read())
        for p in rep["policies"]:
            got[p["policy"]["policy-domain"]] = p
    ee, mm = got["rpt-ee.test"], got["rpt-mismatch.test"]
    assert ee["policy"]["policy-type"] == "tlsa", ee
    assert ee["policy"]["policy-string"] == [
        "3 1 1 %s" % world["spki"]], ee
    assert mm["policy"]["policy-type"] == "tlsa", mm
    assert mm["policy"]["policy-string"] == ["3 1 1 %s" % WRONG], mm
    assert ee["summary"]["total-successful-session-count"] >= 1, ee
    assert ee["summary"]["total-failure-session-count"] == 0, ee
    assert mm["summary"]["total-successful-session-count"] == 0, mm
    assert mm["summary"]["total-failure-session-count"] >= 1, mm
    assert {f["result-type"] for f in mm["failure-details"]} == {
        "tlsa-invalid"}, mm
    for f in mm["failure-details"]:
        assert f["receiving-mx-hostname"] == "mx.rpt-mismatch.test", f
        assert f["receiving-ip"] == "127.0.0.2", f
    assert sum(f["failed-session-count"] for f in mm["failure-details"]) \
        == mm["summary"]["total-failure-session-count"]
    # Equal to the store's, which a retry may have grown meanwhile.
    after = stored()
    for d, p in (("rpt-ee.test", ee), ("rpt-mismatch.test", mm)):
        for k, n in p["summary"].items():
            assert before[d]["summary"][k] <= n <= \
                after[d]["summary"][k], (d, p, before[d], after[d])


def test_bogus_tlsa_defers(world):
    line, show = env.deferred_to(world, "bogus.dane.test")
    assert "4.7.5 dane: TLSA lookup failed or was bogus for " \
        "mx.bogus.dane.test" in show, show
    assert env.log_lines(world["a"], "remote host mx.bogus.dane.test "
                         "skipped", "reason=dnssec-invalid")


def test_tlsa_servfail_defers(world):
    line, show = env.deferred_to(world, "sf.test")
    assert "TLSA lookup failed or was bogus" in show, show


def test_secure_unusable_tlsa_encrypts_unauthenticated(world):
    line = env.delivered_to(world, "unusable.test")
    assert "policy=dane authenticated=no" in line, line
    assert "tls=TLSv1.3/" in line, line


def test_starttls_stripped_under_dane_defers(world):
    line, show = env.deferred_to(world, "stripped.test", host="c")
    assert "STARTTLS not offered" in show, show


def test_cname_mx_uses_the_expanded_name(world):
    """RFC 7672 §2.2.2: mx.cname.test is a CNAME for real.cname.test;
    the TLSA records there are used, and it is the base domain (SNI)."""
    line = env.delivered_to(world, "cname.test")
    assert "policy=dane authenticated=yes" in line, line
    assert env.log_lines(world["a"], "smtpc tls host=real.cname.test",
                         "dane=yes")


def test_cname_mx_falls_back_to_the_original_name(world):
    """No TLSA records at the expanded name: those of the MX name."""
    line = env.delivered_to(world, "cname-orig.test")
    assert "policy=dane authenticated=yes" in line, line


def test_cname_mx_expanded_name_comes_first(world):
    """Records at the expanded name win, even if the original's match."""
    line, show = env.deferred_to(world, "cname-first.test")
    assert "certificate matches no TLSA record of real.cname-first.test" \
        in show, show


def test_bogus_address_record_does_not_downgrade_dane(world):
    """RFC 7672 §2.1.2: a bogus AAAA answer for a DANE host behind a
    signed MX makes the host unusable; its secure A record must not be
    used without DANE (here: in clear, the server offers no STARTTLS)."""
    line, show = env.deferred_to(world, "aaaabogus.test", host="c")
    assert "DNS AAAA lookup for mx.aaaabogus.test failed: bogus" in show, \
        show
    assert env.log_lines(world["a"], "remote host mx.aaaabogus.test "
                         "skipped")


def test_starttls_refused_under_dane_defers_and_is_recorded(world):
    """tls454.test: DANE, and the server answers STARTTLS with 454.
    Deferred, and the session counts as starttls-not-supported in
    tls-results (RFC 8460 §4.3.2.3)."""
    import json
    a = world["a"]
    marker = new_marker()
    qid = submit_with(a, [env.rcpt("tls454.test")], marker)
    wait_attempt(a, qid, env.rcpt("tls454.test"), "deferred")

    def failures():
        r = a.cli("tls-results", "--json")
        assert r.returncode == 0, r.stderr
        return [f["result-type"] for p in json.loads(r.stdout)["policies"]
                if p["policy"]["policy-domain"] == "tls454.test"
                for f in p["failure-details"]] or None
    got = wait_until(failures, 10, what="TLS result for tls454.test")
    assert got == ["starttls-not-supported"], got


def test_insecure_tlsa_is_ignored(world):
    line = env.delivered_to(world, "unsigned.test")
    assert "policy=may" in line, line


def test_signed_without_tlsa_is_opportunistic(world):
    line = env.delivered_to(world, "nodane.test")
    assert "policy=may" in line, line


def test_policy_verify_refuses_self_signed(world):
    line, show = env.deferred_to(world, "p-verify.test")
    assert "policy=verify authenticated=no" in line, line
    assert "4.7.5 certificate verification failed" in show, show


def test_policy_verify_mx_match(world):
    line, show = env.deferred_to(world, "p-verifymx.test")
    assert "MX host not in the mx_match list" in show, show


def test_policy_dane_only_needs_dnssec(world):
    line, show = env.deferred_to(world, "p-daneonly.test")
    assert "dane-only" in show, show
    assert env.log_lines(world["a"], "remote host mx.p-daneonly.test "
                         "skipped", "reason=dane-required")


def test_policy_none_sends_in_clear(world):
    line = env.delivered_to(world, "p-none.test")
    assert "tls=none" in line and "policy=none" in line, line


def test_policy_encrypt_needs_starttls(world):
    line, show = env.deferred_to(world, "p-encrypt.test", host="c")
    assert "STARTTLS not offered" in show, show


# ------------------------------------------------------------ RFC 8689

def submit_with(a, rcpts, marker, options=(), headers=(), body=None):
    """Submit as alice over STARTTLS with MAIL options; the queue id."""
    s = mailcheck.smtp_connect(a["submission"])
    try:
        mailcheck.login(s, env.ALICE)
        code, resp = s.mail(env.ALICE, list(options))
        assert code == 250, (code, resp)
        for r in rcpts:
            code, resp = s.rcpt(r)
            assert code == 250, (code, resp)
        code, resp = s.data(harness.make_message(
            env.ALICE, ", ".join(rcpts), marker, body=body, headers=headers))
        assert code == 250, (code, resp)
        return mailcheck.queued_id(mailcheck.Reply(code, [resp.decode()]))
    finally:
        s.quit()


def dsn_for(world, marker):
    return world["a"].mailbox(env.ALICE).wait_for(marker)[0].decode(
        "utf-8", "replace")


def test_requiretls_under_dane_end_to_end(world):
    """A sends a REQUIRETLS message to B under DANE: B gets it with the
    flag, in its envelope (its log) and its own delivery."""
    a, b = world["a"], world["b"]
    marker = new_marker()
    qid = submit_with(a, [env.rcpt("ee.test")], marker, ["REQUIRETLS"])
    b.mailbox(env.rcpt("ee.test")).wait_for(marker)
    line = wait_attempt(a, qid, env.rcpt("ee.test"), "delivered")[0]
    assert "policy=dane authenticated=yes" in line, line
    assert env.log_lines(b, "requiretls=yes"), "B did not see REQUIRETLS"


def test_requiretls_to_opportunistic_destination_bounces_5710(world):
    """unsigned.test: no DNSSEC, no MTA-STS: no host qualifies
    (RFC 8689 §4.2.1 step 2); bounced 5.7.10, body withheld."""
    a, b = world["a"], world["b"]
    marker, secret = new_marker(), "secret-" + new_marker()
    qid = submit_with(a, [env.rcpt("unsigned.test")], marker, ["REQUIRETLS"],
                      body="The secret is %s." % secret)
    line = wait_attempt(a, qid, env.rcpt("unsigned.test"), "failed")[0]
    assert "5.7.10" in line, line
    text = dsn_for(world, marker)
    assert re.search(r"^Status: 5\.7\.10\r?$", text, re.M), text
    assert secret not in text, "the DSN returned the body"
    assert not b.mailbox(env.rcpt("unsigned.test")).with_marker(marker)


def test_requiretls_tlsa_servfail_defers(world):
    """sf.test: the TLSA lookup fails (SERVFAIL). That is a DNS failure,
    retried later (RFC 7672 §2.1.2), not a refusal: a REQUIRETLS message
    is deferred, not bounced 5.7.10."""
    a = world["a"]
    marker = new_marker()
    qid = submit_with(a, [env.rcpt("sf.test")], marker, ["REQUIRETLS"])
    line = wait_attempt(a, qid, env.rcpt("sf.test"), "deferred")[0]
    assert "5.7.10" not in line, line
    assert qid in a.queue_ids()


def test_requiretls_to_address_literal_bounces_5710(world):
    """rcpt@[127.0.0.5]: no MX host name to validate or authenticate
    (RFC 8689 §4.2.1 steps 2 and 4), so the message never goes to that
    server, although it offers REQUIRETLS over (self-signed) TLS."""
    a = world["a"]
    to = "rcpt@[%s]" % E_HOST
    marker = new_marker()
    qid = submit_with(a, [to], marker, ["REQUIRETLS"])
    line = wait_attempt(a, qid, to, "failed")[0]
    assert "5.7.10" in line, line
    assert not any(c.upper().startswith("MAIL") for c in
                   world["stub_e"].commands), world["stub_e"].commands


def test_requiretls_starttls_stripped_bounces_5710(world):
    """stripped.test: a DNSSEC-validated MX whose server offers no
    STARTTLS (stripped, say): no TLS-protected session can be had, so
    the REQUIRETLS message is bounced 5.7.10 (RFC 8689 §4.2.1), not
    retried for days; nothing is sent."""
    a, c = world["a"], world["c"]
    marker = new_marker()
    qid = submit_with(a, [env.rcpt("stripped.test")], marker, ["REQUIRETLS"])
    line = wait_attempt(a, qid, env.rcpt("stripped.test"), "failed")[0]
    assert "5.7.10" in line, line
    assert not c.mailbox(env.rcpt("stripped.test")).with_marker(marker)


def test_requiretls_not_offered_bounces_5730(world):
    """noreq.test: DANE authenticates the server, but it does not offer
    REQUIRETLS: bounced 5.7.30, body withheld, nothing sent past EHLO."""
    a = world["a"]
    marker, secret = new_marker(), "secret-" + new_marker()
    qid = submit_with(a, [env.rcpt("noreq.test")], marker, ["REQUIRETLS"],
                      body="The secret is %s." % secret)
    line = wait_attempt(a, qid, env.rcpt("noreq.test"), "failed")[0]
    assert "5.7.30" in line, line
    text = dsn_for(world, marker)
    assert re.search(r"^Status: 5\.7\.30\r?$", text, re.M), text
    assert "Content-Type: text/rfc822-headers" in text, text
    assert secret not in text, "the DSN returned the body"
    assert not any(c.upper().startswith("MAIL") for c in
                   world["stub"].commands), world["stub"].commands
    assert env.log_lines(a, "smtpc tls host=mx.noreq.test", "verified=yes",
                         "dane=yes")


def test_requiretls_failure_spares_other_messages(world):
    """Four REQUIRETLS messages hold every connection to noreq.test (the
    server greets late) while a fifth, ordinary one waits; their 5.7.30
    failure is theirs alone: the ordinary one gets its own connection (and
    the stub's own answer, 502 at MAIL), never the REQUIRETLS verdict."""
    a, stub = world["a"], world["stub"]
    stub.delay = 2
    try:
        held = [submit_with(a, [env.rcpt("noreq.test")], new_marker(),
                            ["REQUIRETLS"]) for _ in range(4)]
        plain = submit_with(a, [env.rcpt("noreq.test")], new_marker())
        for qid in held:
            line = wait_attempt(a, qid, env.rcpt("noreq.test"), "failed")[0]
            assert "5.7.30" in line, line
        line = wait_attempt(a, plain, env.rcpt("noreq.test"), "failed")[0]
    finally:
        stub.delay = 0
    assert "5.7.30" not in line and "502" in line, line


def test_tls_required_no_overrides_dane_mismatch(world):
    """TLS-Required: No (RFC 8689 §4): delivered despite the TLSA
    mismatch, still encrypted, and the log says the sender overrode the
    policy."""
    a, b = world["a"], world["b"]
    marker = new_marker()
    qid = submit_with(a, [env.rcpt("mismatch.test")], marker,
                      headers=["TLS-Required: No"])
    b.mailbox(env.rcpt("mismatch.test")).wait_for(marker)
    line = wait_attempt(a, qid, env.rcpt("mismatch.test"), "delivered")[0]
    assert "overridden=tls-required-no" in line, line
    assert "tls=TLSv1.3/" in line and "authenticated=no" in line, line
    assert env.log_lines(a, "remote host mx.mismatch.test: policy=dane "
                         "relaxed")


def test_tls_required_no_ignored_with_requiretls(world):
    """With REQUIRETLS the header field is ignored (RFC 8689 §4.1): the
    certificate does not authenticate, so no host meets the sender's
    demand and the message is bounced 5.7.10 (§4.2.1), never sent."""
    a, b = world["a"], world["b"]
    marker = new_marker()
    qid = submit_with(a, [env.rcpt("mismatch.test")], marker, ["REQUIRETLS"],
                      headers=["TLS-Required: No"])
    line = wait_attempt(a, qid, env.rcpt("mismatch.test"), "failed")[0]
    assert "overridden" not in line and "5.7.10" in line, line
    assert re.search(r"^Status: 5\.7\.10\r?$", dsn_for(world, marker),
                     re.M)
    env.no_mail_for(b.mailbox(env.rcpt("mismatch.test")), marker, 1)


# ------------------------------------------------------------ TLS results

def test_tls_results_count_what_happened(world):
    """`sealmail tls-results --json` (RFC 8460 §4.4 policies) counts the
    sessions of this module's tests above, which ran before it: one
    policy entry per destination and policy, with the failures named."""
    import json
    a = world["a"]

    def policies():
        r = a.cli("tls-results", "--json")
        assert r.returncode == 0, r.stderr
        out = {}
        for p in json.loads(r.stdout)["policies"]:
            out.setdefault(p["policy"]["policy-domain"], []).append(p)
        return out

    def count(got, domain, key):
        return sum(e["summary"][key] for e in got.get(domain, []))

    def settled():
        # Results reach the store within seconds (REMOTE_RPT_FLUSH_S):
        # wait for the last sessions of the tests above.
        got = policies()
        return got if (count(got, "ee.test",
                             "total-successful-session-count") >= 2 and
                       count(got, "mismatch.test",
                             "total-failure-session-count") >= 3 and
                       count(got, "stripped.test",
                             "total-failure-session-count") >= 2) else None
    got = wait_until(settled, 10, what="TLS results written")

    ee = got["ee.test"]
    assert len(ee) == 1, ee
    assert ee[0]["policy"]["policy-type"] == "tlsa"
    assert ee[0]["policy"]["policy-string"] == [
        "3 1 1 " + world["spki"]], ee
    assert ee[0]["policy"]["mx-host"] == "mx.ee.test"
    # test_dane_ee_match_delivers_authenticated, the REQUIRETLS one
    assert ee[0]["summary"] == {"total-successful-session-count": 2,
                                "total-failure-session-count": 0}, ee

    mm = got["mismatch.test"][0]
    # deferred, TLS-Required: No (checked, not enforced), REQUIRETLS
    assert mm["summary"]["total-failure-session-count"] == 3, mm
    fd = mm["failure-details"]
    assert len(fd) == 1, fd
    assert fd[0]["result-type"] == "tlsa-invalid", fd
    assert fd[0]["receiving-mx-hostname"] == "mx.mismatch.test", fd
    assert fd[0]["receiving-ip"] == "127.0.0.2", fd
    assert fd[0]["sending-mta-ip"] == "127.0.0.1", fd
    assert fd[0]["receiving-mx-helo"] == "mx.ee.test", fd

    def only_failure(domain, kind, count=1):
        p = got[domain]
        fails = [f for e in p for f in e.get("failure-details", [])]
        assert [(f["result-type"], f["failed-session-count"])
                for f in fails] == [(kind, count)], p

    only_failure("bogus.dane.test", "dnssec-invalid")
    only_failure("p-daneonly.test", "dane-required")
    # deferred plain, and the REQUIRETLS one bounced
    only_failure("stripped.test", "starttls-not-supported", 2)
    un = got["unsigned.test"]
    assert [e["policy"]["policy-type"] for e in un] == ["no-policy-found"]
    assert un[0]["summary"]["total-successful-session-count"] == 1, un
