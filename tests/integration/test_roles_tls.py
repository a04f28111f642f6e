# SPDX-License-Identifier: ISC
"""Every listener role x TLS mode with real clients (smtplib, swaks), the
EHLO offer, AUTH before and after TLS, Received trace fields, IPv6."""

import smtplib
import subprocess
import time

import pytest

from harness import (HOSTNAME, SLOW, USERS, client_ctx, make_message,
                     new_marker)
from mailcheck import check_received, login, send, smtp_connect
from smtpraw import RawSMTP

ALICE = "alice@example.test"

# listener name -> (role, tls, protocol keyword in Received)
COMBOS = {
    "mx": ("mx", "starttls", "ESMTPS"),
    "mx_implicit": ("mx", "implicit", "ESMTPS"),
    "mx_plain": ("mx", "none", "ESMTP"),
    "submission": ("submission", "starttls", "ESMTPSA"),
    "submissions": ("submission", "implicit", "ESMTPSA"),
    "plain": ("submission", "none", None),
}


@pytest.mark.parametrize("name", list(COMBOS))
def test_greeting(mta, name):
    with RawSMTP.to(mta[name]) as c:
        assert c.greeting.code == 220
        # Plaintext/STARTTLS mx: "220-" first for a client that has not
        # waited for it yet (pregreet_wait), with the same text.
        text = "%s ESMTP sealmail" % HOSTNAME
        if name in ("mx", "mx_plain"):
            assert c.greeting.lines in ([text], [text, text]), c.greeting
        else:
            assert c.greeting.lines == [text], c.greeting


@pytest.mark.parametrize("name", list(COMBOS))
def test_role_and_tls_mode(mta, certs, name):
    """Send one message through each listener the way its role and TLS mode
    allow, with certificate verification, and check the offer at every
    stage and the trace field of the delivered copy."""
    role, tls, proto = COMBOS[name]
    lst = mta[name]
    assert (lst.role, lst.tls) == (role, tls)
    ctx = client_ctx(cafile=certs["ec"].cert)
    marker = new_marker()
    if tls == "starttls":
        with RawSMTP.to(lst) as c:
            caps = c.ehlo()
            assert "STARTTLS" in caps
            assert "AUTH" not in caps, "AUTH offered before TLS: %r" % caps
    s = smtp_connect(lst, ctx=ctx)
    try:
        assert not s.has_extn("starttls"), \
            "STARTTLS offered again (tls=%s, after TLS or none)" % tls
        if role == "submission" and tls != "none":
            assert s.has_extn("auth")
            mechs = s.esmtp_features["auth"].upper().split()
            assert "PLAIN" in mechs and "LOGIN" in mechs, mechs
            login(s)
        else:
            assert not s.has_extn("auth"), \
                "AUTH offered on %s/%s: %r" % (role, tls, s.esmtp_features)
        if proto is None:
            code, resp = s.mail(ALICE)
            assert (code, resp[:5]) == (530, b"5.7.0"), (code, resp)
            return
        frm = ALICE if role == "submission" else "sender@remote.test"
        qid = send(s, frm, [ALICE], make_message(frm, ALICE, marker))
        s.quit()
    finally:
        s.close()
    raw = mta.mailbox(ALICE).wait_for(marker)[0]
    check_received(raw, qid, proto, tls != "none")


def test_ehlo_extensions(mta):
    with RawSMTP.to(mta["mx"]) as c:
        caps = c.ehlo()
    for ext in ("PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
                "CHUNKING", "DSN", "STARTTLS"):
        assert ext in caps, "%s missing from EHLO: %r" % (ext, caps)
    assert caps.get("SIZE") == "SIZE 100000", caps


def test_helo_is_accepted(mta):
    with RawSMTP.to(mta["mx_plain"]) as c:
        r = c.expect("HELO client.example.test", 250)
        assert r.lines[0].startswith(HOSTNAME)


@pytest.mark.parametrize("name", ["plain", "submission"])
def test_auth_refused_before_tls(mta, name):
    """RFC 4954 §4 / RFC 8314: no AUTH over plaintext, even if asked."""
    with RawSMTP.to(mta[name]) as c:
        caps = c.ehlo()
        assert "AUTH" not in caps, caps
        r = c.auth_plain(ALICE, USERS[ALICE])
        assert (r.code, r.enhanced) == (538, "5.7.11"), r
        r = c.cmd("AUTH LOGIN")
        assert (r.code, r.enhanced) == (538, "5.7.11"), r
        r = c.cmd("MAIL FROM:<%s>" % ALICE)
        assert (r.code, r.enhanced) == (530, "5.7.0"), r


def test_mail_requires_auth_after_tls(mta):
    with RawSMTP.to(mta["submission"]) as c:
        c.ehlo()
        c.starttls()
        caps = c.ehlo()
        assert "AUTH" in caps
        r = c.cmd("MAIL FROM:<%s>" % ALICE)
        assert (r.code, r.enhanced) == (530, "5.7.0"), r


@pytest.mark.parametrize("mech,initial", [("PLAIN", True), ("PLAIN", False),
                                          ("LOGIN", False)])
def test_auth_plain_and_login(mta, mech, initial):
    s = smtp_connect(mta["submissions"])
    try:
        s.user, s.password = ALICE, USERS[ALICE]
        fn = s.auth_plain if mech == "PLAIN" else s.auth_login
        code, resp = s.auth(mech, fn, initial_response_ok=initial)
        assert code == 235, (mech, code, resp)
        r = s.docmd("AUTH", "PLAIN")
        assert r[0] == 503, "second AUTH in a session: %r" % (r,)
    finally:
        s.close()


def test_auth_bad_password_is_delayed(mta):
    """535 5.7.8 after a delay that grows per client address. A private
    source address keeps this test's failures away from the others."""
    times = []
    for _ in range(2):
        with RawSMTP.to(mta["submissions"], source="127.0.0.9",
                        timeout=30) as c:
            c.ehlo()
            t0 = time.monotonic()
            r = c.auth_plain(ALICE, "wrong-password")
            times.append(time.monotonic() - t0)
            assert (r.code, r.enhanced) == (535, "5.7.8"), r
    assert times[0] >= 0.8, "first failure answered after %.2fs" % times[0]
    assert times[1] > times[0] + 0.1, \
        "delay did not grow for the same address: %r" % times


def test_auth_unknown_user(mta):
    with RawSMTP.to(mta["submissions"], source="127.0.0.10",
                    timeout=30) as c:
        c.ehlo()
        r = c.auth_plain("nobody@example.test", "x")
        assert (r.code, r.enhanced) == (535, "5.7.8"), r


@pytest.fixture(scope="module")
def swaks_tls():
    r = subprocess.run(["swaks", "--support"], capture_output=True,
                       text=True, timeout=30)
    if "TLS supported" not in r.stdout + r.stderr:
        pytest.skip("swaks has no TLS support (install libnet-ssleay-perl)")


def swaks(lst, *extra, marker="", timeout=30):
    cmd = ["swaks", "--server", "%s:%d" % (lst.host, lst.port),
           "--helo", "client.example.test", "--from", ALICE, "--to", ALICE,
           "--header", "Subject: swaks %s" % marker,
           "--timeout", "20"] + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout * SLOW, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("name,flag", [("submission", "--tls"),
                                       ("submissions", "--tlsc")])
@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_auth(mta, swaks_tls, name, flag, mech):
    marker = new_marker()
    r = swaks(mta[name], flag, "--auth", mech, "--auth-user", ALICE,
              "--auth-password", USERS[ALICE], marker=marker)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "queued as" in r.stdout
    raw = mta.mailbox(ALICE).wait_for(marker)[0]
    assert b"with ESMTPSA" in raw


def test_swaks_auth_without_tls_fails(mta):
    marker = new_marker()
    r = swaks(mta["plain"], "--auth", "PLAIN", "--auth-user", ALICE,
              "--auth-password", USERS[ALICE], marker=marker)
    assert r.returncode != 0, r.stdout
    r = swaks(mta["submission"], "--auth", "PLAIN", "--auth-user", ALICE,
              "--auth-password", USERS[ALICE], marker=marker)
    assert r.returncode != 0, r.stdout
    time.sleep(1)
    assert mta.mailbox(ALICE).with_marker(marker) == []


def test_tls_session_is_verified_and_tls13(mta, certs):
    """The default client negotiates TLS 1.3 against our certificate."""
    ctx = client_ctx(cafile=certs["ec"].cert)
    c = RawSMTP.to(mta["submissions"], ctx=ctx)
    try:
        assert c.sock.version() == "TLSv1.3"
    finally:
        c.close()


def test_ipv6_listener(mta, certs):
    if "mx6" not in mta.cfg.listeners:
        pytest.skip("no IPv6 on loopback in this namespace")
    marker = new_marker()
    s = smtp_connect(mta["mx6"], ctx=client_ctx(cafile=certs["ec"].cert))
    try:
        qid = send(s, "v6@remote.test", [ALICE],
                   make_message("v6@remote.test", ALICE, marker))
        s.quit()
    finally:
        s.close()
    raw = mta.mailbox(ALICE).wait_for(marker)[0]
    check_received(raw, qid, "ESMTPS", True, addr="::1")


def test_smtplib_sendmail_plaintext_mx(mta):
    """A plain RFC 5321 client on the no-TLS mx listener: 'with ESMTP' and
    the delivered file in LF line ends."""
    marker = new_marker()
    s = smtplib.SMTP(mta["mx_plain"].host, mta["mx_plain"].port,
                     local_hostname="client.example.test", timeout=10 * SLOW)
    try:
        refused = s.sendmail("p@remote.test", [ALICE],
                             make_message("p@remote.test", ALICE, marker))
        assert refused == {}
        s.quit()
    finally:
        s.close()
    raw = mta.mailbox(ALICE).wait_for(marker)[0]
    assert b"\r" not in raw, "delivered file has CR characters"
    rec = check_received(raw, "", "ESMTP", False)
    assert "with ESMTPS" not in rec
