# SPDX-License-Identifier: ISC
"""REQUIRETLS (RFC 8689) on the server side: the EHLO offer only inside
TLS, MAIL ... REQUIRETLS refused in clear and accepted inside TLS, the flag
in the envelope (`queue show`), local delivery unaffected, and the bounce
of a REQUIRETLS message: header only, whatever RET= said, and itself
queued with REQUIRETLS (§5)."""

import re

import pytest

from harness import (USERS, make_message, new_marker, spool_split,
                     wait_until)
from smtpraw import RawSMTP, queued_id

ALICE = "alice@example.test"

# listener -> whether its sessions start in TLS / can get it with STARTTLS
LISTENERS = {
    "mx": "starttls",
    "mx_implicit": "implicit",
    "mx_plain": "none",
    "submission": "starttls",
    "submissions": "implicit",
    "plain": "none",
}


@pytest.fixture(scope="module")
def trusted(module_daemons, certs):
    """The standard daemon with trusted_networks = 127.0.0.0/8, so a
    client relays without AUTH (mail to defer.test stays queued: its DNS
    answers SERVFAIL; nowhere.test is NXDOMAIN and bounces)."""
    cfg = module_daemons.config([certs["ec"]])
    cfg.server["trusted_networks"] = "127.0.0.0/8"
    return module_daemons.start(cfg)


@pytest.mark.parametrize("name", list(LISTENERS))
def test_ehlo_offers_requiretls_only_inside_tls(mta, name):
    mode = LISTENERS[name]
    with RawSMTP.to(mta[name]) as c:
        caps = c.ehlo()
        if mode == "implicit":
            assert "REQUIRETLS" in caps, caps
            return
        assert "REQUIRETLS" not in caps, caps
        if mode == "starttls":
            c.starttls()
            caps = c.ehlo()
            assert "REQUIRETLS" in caps, caps
            assert caps["REQUIRETLS"] == "REQUIRETLS", caps


@pytest.mark.parametrize("name", ["mx", "mx_plain"])
def test_mail_requiretls_refused_in_clear(mta, name):
    """Outside TLS the parameter is refused (RFC 8689 names no reply:
    530 5.7.10, "Encryption needed"), and the session goes on: the same
    message without it is accepted and delivered."""
    marker = new_marker()
    with RawSMTP.to(mta[name]) as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<x@remote.test> REQUIRETLS")
        assert (r.code, r.enhanced) == (530, "5.7.10"), r
        assert "REQUIRETLS" in r.text, r
        # No transaction was started by the refused MAIL.
        r = c.cmd("RCPT TO:<%s>" % ALICE)
        assert (r.code, r.enhanced) == (503, "5.5.1"), r
        c.expect("MAIL FROM:<x@remote.test>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        queued_id(c.data(make_message("x@remote.test", ALICE, marker)))
    mta.mailbox(ALICE).wait_for(marker)


def test_mail_requiretls_after_starttls_delivers_locally(mta):
    """Inside TLS (STARTTLS on mx) the parameter is accepted; a local
    recipient gets the message as usual (local delivery is unaffected)."""
    marker = new_marker()
    with RawSMTP.to(mta["mx"]) as c:
        c.ehlo()
        c.starttls()
        c.ehlo()
        c.expect("MAIL FROM:<x@remote.test> REQUIRETLS", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        qid = queued_id(c.data(make_message("x@remote.test", ALICE,
                                            marker)))
    raw = mta.mailbox(ALICE).wait_for(marker)[0]
    assert b"Hello %s." % marker.encode() in raw
    wait_until(lambda: re.search(r"qid=%s smtp mail .*requiretls=yes" % qid,
                                 mta.log_text()), 10,
               what="mail log line with requiretls=yes")


def test_submission_requiretls_delivers_locally(mta):
    """Submission over implicit TLS with AUTH, REQUIRETLS, a local
    recipient: delivered."""
    marker = new_marker()
    with RawSMTP.to(mta["submissions"]) as c:
        c.ehlo()
        c.login(ALICE, USERS[ALICE])
        c.expect("MAIL FROM:<%s> REQUIRETLS" % ALICE, 250)
        c.expect("RCPT TO:<bob@example.test>", 250)
        queued_id(c.data(make_message(ALICE, "bob@example.test", marker)))
    mta.mailbox("bob@example.test").wait_for(marker)


def relay(d, listener, frm, rcpt, marker, params="", starttls=False,
          body=None):
    with RawSMTP.to(d[listener]) as c:
        c.ehlo()
        if starttls:
            c.starttls()
            c.ehlo()
        c.expect("MAIL FROM:<%s>%s" % (frm, params), 250)
        c.expect("RCPT TO:<%s>" % rcpt, 250)
        return queued_id(c.data(make_message(frm, rcpt, marker, body=body)))


def test_queue_show_requiretls(trusted):
    """The flag is kept in the envelope and `queue show` says so; a
    message without it shows no such line."""
    with_flag = relay(trusted, "submissions", "anyone@remote.test",
                      "pal@defer.test", new_marker(), " REQUIRETLS")
    without = relay(trusted, "mx", "anyone@remote.test", "pal@defer.test",
                    new_marker(), starttls=True)
    r = trusted.cli("queue", "show", with_flag)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^requiretls:\s+yes$", r.stdout, re.M), r.stdout
    assert re.search(r"^requiretls yes$", spool_split(trusted.data_dir,
                                                       with_flag)[1], re.M)
    r = trusted.cli("queue", "show", without)
    assert r.returncode == 0, r.stderr
    assert "requiretls" not in r.stdout, r.stdout
    for qid in (with_flag, without):
        assert trusted.cli("queue", "delete", qid).returncode == 0


def bounce_of(d, qid, timeout=20):
    """The queue id of the DSN for qid (from the runner's log line)."""
    pat = re.compile(r"qid=([0-9a-f]{20}) bounce of=%s\b" % qid)
    m = wait_until(lambda: pat.search(d.log_text()), timeout,
                   what="bounce of %s" % qid)
    return m.group(1)


def failed_relay_dsn(d, params):
    """Relay a message with a secret body and MAIL params to a domain that
    does not exist (so it fails whatever REQUIRETLS asks) from a sender
    whose domain defers (so the DSN stays queued). Returns the DSN's
    `queue show` text and its message bytes, the marker and the secret;
    the DSN is deleted."""
    marker, secret = new_marker(), "body-" + new_marker()
    qid = relay(d, "mx", "sender@defer.test", "nobody@nowhere.test",
                marker, params, starttls=True,
                body="The secret is %s." % secret)
    dsn = bounce_of(d, qid)
    r = d.cli("queue", "show", dsn)
    assert r.returncode == 0, r.stderr
    msg, _ = spool_split(d.data_dir, dsn)
    assert d.cli("queue", "delete", dsn).returncode == 0
    return r.stdout, msg, marker, secret


def test_bounce_of_requiretls_message(trusted):
    """A REQUIRETLS message that fails for another reason, with RET=FULL:
    the DSN returns the header only and is queued with REQUIRETLS
    itself (RFC 8689 §5)."""
    show, msg, marker, secret = failed_relay_dsn(trusted,
                                                 " RET=FULL REQUIRETLS")
    assert re.search(r"^requiretls:\s+yes$", show, re.M), show
    assert re.search(r"^sender:\s+<>$", show, re.M), show
    assert "sender@defer.test" in show, show
    assert b"Content-Type: text/rfc822-headers" in msg, msg[:2000]
    assert b"Subject: test %s" % marker.encode() in msg, msg[:2000]
    assert secret.encode() not in msg, "body returned in the DSN"
    assert b"message/rfc822" not in msg


def test_bounce_without_requiretls_returns_body(trusted):
    """The same failure without REQUIRETLS: RET=FULL returns the body and
    the DSN is an ordinary one (what the test above is measured by)."""
    show, msg, _, secret = failed_relay_dsn(trusted, " RET=FULL")
    assert "requiretls" not in show, show
    assert secret.encode() in msg
