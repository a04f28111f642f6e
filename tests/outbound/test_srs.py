# SPDX-License-Identifier: ISC
"""SRS for forwarded mail (issue 12 item 7): two real sealmail instances,
A (mx.fwd.test, 127.0.0.1) which forwards aliases of fwd.test to B
(mx.remote.test, 127.0.0.2), and the test DNS server.

The original senders write from 127.0.0.5 (origin.test, whose SPF does not
authorise A) and 127.0.0.6 (strict.test, DMARC p=reject). Both domains
have B as their MX, so what comes back to them lands in B's mailboxes.

* A forwards with MAIL FROM SRS0=HASH=TT=origin.test=alice@fwd.test, so
  B's SPF check passes for fwd.test (pyspf agrees), From: is unchanged,
  and the address is what an independent Python SRS computes from the
  secret in A's store.
* A bounce from B (B's own alias leads to a null MX) goes to the SRS
  address, is accepted by A because it verifies, and is relayed to the
  original sender.
* Forged SRS addresses (bad hash, expired, malformed) are refused with
  550 5.1.1 and nothing is relayed.
* A message that failed DMARC p=reject, accepted with dmarc_enforce = no:
  the local copy is delivered, the forwarded one is bounced with a DSN.
"""

import base64
import hashlib
import hmac
import os
import re
import smtplib
import sqlite3
import time

import pytest

import remote_env as env
import harness
from harness import make_message, new_marker

pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")

A_HOST, B_HOST = "127.0.0.1", "127.0.0.2"
ORIGIN_IP, STRICT_IP = "127.0.0.5", "127.0.0.6"
ALICE = "alice@origin.test"         # writes from ORIGIN_IP
BOB = "bob@strict.test"             # writes from STRICT_IP, p=reject
CAROL = "carol@remote.test"         # B's user, target of A's aliases
DAVE = "dave@fwd.test"              # A's local user
PW = "srs-Test-Secret-4242"
MX_B = "@ MX 10 mx.remote.test.\n"
ZONES = {
    "test": "",
    "fwd.test": '@ MX 10 mx\nmx A 127.0.0.1\n'
                '@ TXT "v=spf1 ip4:127.0.0.1 -all"\n',
    "remote.test": "@ MX 10 mx\nmx A 127.0.0.2\n",
    # Only the sender's own host may send for origin.test: A may not.
    "origin.test": MX_B + '@ TXT "v=spf1 ip4:%s -all"\n'
                          '_dmarc TXT "v=DMARC1; p=none"\n' % ORIGIN_IP,
    "strict.test": MX_B + '@ TXT "v=spf1 ip4:%s -all"\n'
                          '_dmarc TXT "v=DMARC1; p=reject"\n' % STRICT_IP,
    "nullmx.test": "@ MX 0 .\n",
}
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("srs"))
    with env.dns_world(base, ZONES, (A_HOST, B_HOST)) as w:
        b_cfg = env.mx_instance(w, base, "b", "mx.remote.test", B_HOST,
                                ["remote.test", "origin.test",
                                 "strict.test"])
        a_cfg = env.mx_instance(w, base, "a", "mx.fwd.test", A_HOST,
                                ["fwd.test"])
        # Accept what fails DMARC p=reject (and deliver it here), which
        # must then never be forwarded.
        a_cfg.auth = {"dmarc_enforce": "no"}
        a_cfg.extra = "\n[forwarding]\nsrs = yes\nsrs_max_age = 21d\n"
        b = w["pool"].start(b_cfg, provision=env.provision_accounts(
            [(u, PW) for u in (CAROL, ALICE, BOB)],
            [("void@remote.test", "x@nullmx.test")]))
        a = w["pool"].start(a_cfg, provision=env.provision_accounts(
            [(DAVE, PW)], [("list@fwd.test", CAROL),
                           ("gone@fwd.test", "void@remote.test")]))
        yield {"a": a, "b": b, "dns": w["dns"]}


def connect(lst, source):
    s = smtplib.SMTP(lst.host, lst.port, local_hostname="client.test",
                     source_address=(source, 0), timeout=20 * harness.SLOW)
    s.ehlo()
    return s


def send_from(lst, source, frm, rcpts, msg):
    s = connect(lst, source)
    try:
        return env.mailcheck.send(s, frm, rcpts, msg)
    finally:
        s.quit()


def alice_writes(a, rcpt, marker, mailbox):
    """Alice sends to rcpt at A from her own host; returns the message
    with marker once it is in mailbox."""
    send_from(a["mx"], ORIGIN_IP, ALICE, [rcpt],
              make_message(ALICE, rcpt, marker))
    return mailbox.wait_for(marker, timeout=40 * harness.SLOW)[0]


def srs_secret(a):
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(
        a.cfg.data_dir, "sealmail.db"), uri=True)
    try:
        (v,) = db.execute("SELECT value FROM secrets WHERE name = 'srs'"
                          ).fetchone()
    finally:
        db.close()
    assert len(v) == 32
    return v


def srs0(key, local, domain, fwd, day):
    """The SRS0 address msg/srs.h describes, written independently."""
    d = day % 1024
    tt = B32[(d >> 5) & 31] + B32[d & 31]
    data = "\0".join((tt, domain, local)).lower().encode()
    h = base64.b64encode(hmac.new(key, data, hashlib.sha256).digest())
    return "SRS0=%s=%s=%s=%s@%s" % (h.decode()[:6], tt, domain, local, fwd)


def today():
    return int(time.time()) // 86400


def spf_check(dnsinfo, ip, sender, helo):
    """pyspf's verdict, resolving through the test DNS server."""
    spf = pytest.importorskip("spf")
    import dns.resolver
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = dnsinfo["port"]

    def lookup(name, qtype, *args, **kw):
        out = []
        try:
            for rd in r.resolve(name, qtype, lifetime=5):
                if qtype in ("A", "AAAA"):
                    out.append(((name, qtype), rd.address))
                elif qtype == "MX":
                    out.append(((name, qtype), (rd.preference, rd.exchange)))
                elif qtype in ("TXT", "SPF"):
                    out.append(((name, qtype), list(rd.strings)))
        except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
            pass
        return out
    saved = spf.DNSLookup
    spf.DNSLookup = lookup
    try:
        return spf.check2(i=ip, s=sender, h=helo)[0]
    finally:
        spf.DNSLookup = saved


def auth_results(raw, authserv):
    return [v for v in harness.header_values(raw, "Authentication-Results")
            if v.startswith(authserv)]


def test_forwarded_with_srs_sender_spf_passes_at_b(world):
    a, b = world["a"], world["b"]
    marker = new_marker()
    raw = alice_writes(a, "list@fwd.test", marker, b.mailbox(CAROL))
    # The envelope sender B saw (Return-Path) is in fwd.test, and B's SPF
    # check for it passes (fwd.test authorises A), as pyspf says.
    rp = harness.header_values(raw, "Return-Path")
    assert len(rp) == 1, rp
    sender = rp[0].strip("<>")
    ar = auth_results(raw, "mx.remote.test")
    assert len(ar) == 1, ar
    assert "spf=pass smtp.mailfrom=%s" % sender in ar[0], ar
    assert sender.endswith("@fwd.test"), sender
    # It is the very SRS0 address an independent implementation makes
    # from the secret in A's store.
    assert sender == srs0(srs_secret(a), "alice", "origin.test", "fwd.test",
                          today()), sender
    assert spf_check(world["dns"], A_HOST, sender, "mx.fwd.test") == "pass"
    # Without SRS, A's address would not be authorised for origin.test.
    assert spf_check(world["dns"], A_HOST, ALICE, "mx.fwd.test") == "fail"
    # From: and Subject: untouched; the alias is named in Delivered-To.
    assert harness.header_values(raw, "From") == [ALICE]
    assert harness.header_values(raw, "Subject") == ["test " + marker]
    assert "list@fwd.test" in harness.header_values(raw, "Delivered-To")
    assert env.log_lines(a, "remote srs", "mail-from=\"%s\"" % sender)


def test_bounce_from_b_returns_through_a_to_the_sender(world):
    a, b = world["a"], world["b"]
    marker = new_marker()
    # B accepts (void@remote.test is its alias), cannot deliver (null
    # MX), and bounces to the SRS address; A verifies it and relays the
    # DSN to alice@origin.test, whose MX is B.
    dsn = alice_writes(a, "gone@fwd.test", marker, b.mailbox(ALICE))
    text = dsn.decode("utf-8", "replace")
    assert re.search(r"^Status: 5\.1\.10", text, re.M), text[:3000]
    assert "x@nullmx.test" in text
    assert harness.header_values(dsn, "Return-Path") == ["<>"]
    lines = env.log_lines(a, "srs=ok", "relay-to=\"%s\"" % ALICE)
    assert lines, a.log_tail()
    # It went through A: A's Received field and the SRS address it was
    # relayed for.
    assert any("SRS0=" in v for v in
               harness.header_values(dsn, "Delivered-To")), text[:3000]


def rcpt_reply(lst, rcpt, source=B_HOST, frm=""):
    s = connect(lst, source)
    try:
        code, _ = s.mail(frm)
        assert code == 250
        return s.rcpt(rcpt)
    finally:
        s.quit()


def test_forged_srs_bounces_are_refused(world):
    a = world["a"]
    key = srs_secret(a)
    good = srs0(key, "alice", "origin.test", "fwd.test", today())
    # What Python computes is what A accepts...
    code, resp = rcpt_reply(a["mx"], good)
    assert code == 250, resp
    # ... case-insensitively (relays may fold the local part) ...
    code, resp = rcpt_reply(a["mx"], good.lower())
    assert code == 250, resp
    # ... from any sender, not only the null one.
    code, resp = rcpt_reply(a["mx"], good, frm="someone@remote.test")
    assert code == 250, resp
    forged = {
        "bad hash": "SRS0=AAAAAA" + good[len("SRS0=AAAAAA"):],
        "other address": good.replace("=alice@", "=mallory@"),
        "expired": srs0(key, "alice", "origin.test", "fwd.test",
                        today() - 30),
        "malformed": "SRS0=xx@fwd.test",
        "SRS1 bad hash": "SRS1=AAAAAA=other.test==HHHHHH=AA=x.test=y"
                         "@fwd.test",
    }
    for what, addr in forged.items():
        code, resp = rcpt_reply(a["mx"], addr)
        assert code == 550, (what, code, resp)
        assert resp.startswith(b"5.1.1"), (what, resp)
        assert b"SRS" in resp, (what, resp)
    assert env.log_lines(a, "srs=address expired")
    assert env.log_lines(a, "srs=hash does not verify")
    assert not env.log_lines(a, "relay-to=\"mallory@origin.test\"")
    # Still no open relay: a plain remote address is refused.
    code, resp = rcpt_reply(a["mx"], "alice@origin.test")
    assert code == 550 and b"Relay access denied" in resp, resp


def test_dmarc_reject_local_copy_delivered_forwarded_copy_bounced(world):
    a, b = world["a"], world["b"]
    marker = new_marker()
    msg = make_message(BOB, "list@fwd.test, %s" % DAVE, marker)
    qid = send_from(a["mx"], ORIGIN_IP, BOB, [DAVE, "list@fwd.test"], msg)
    # DMARC fails (SPF fail, no DKIM) with p=reject; accepted as
    # dmarc_enforce = no, delivered to the local user...
    local = a.mailbox(DAVE).wait_for(marker, timeout=30 * harness.SLOW)[0]
    ar = auth_results(local, "mx.fwd.test")
    assert ar and "dmarc=fail" in ar[0], ar
    # ... the forwarded copy is failed and bounced to the sender (at B).
    dsn = b.mailbox(BOB).wait_for(marker, timeout=30 * harness.SLOW)[0]
    text = dsn.decode("utf-8", "replace")
    assert re.search(r"^Status: 5\.7\.1", text, re.M), text[:3000]
    assert re.search(r"^Final-Recipient: rfc822; *%s" % CAROL, text,
                     re.M | re.I), text[:3000]
    # A's own refusal, made without connecting to B (no Remote-MTA).
    diag = re.search(r"^Diagnostic-Code: *(.*(?:\r?\n[ \t].*)*)", text,
                     re.M | re.I)
    assert diag, text[:3000]
    assert re.search(r"550 5\.7\.1 Not forwarded: .* \(p=reject\) of "
                     r"strict\.test", re.sub(r"\s+", " ", diag.group(1))), \
        diag.group(1)
    assert not re.search(r"^Remote-MTA:", text, re.M | re.I), text[:3000]
    assert env.log_lines(a, "qid=%s" % qid, "dmarc reject not enforced")
    # Nothing reached the alias's target.
    env.no_mail_for(b.mailbox(CAROL), marker, 1)
    assert not env.log_lines(b, "smtp mail from=\"%s\"" % BOB)
