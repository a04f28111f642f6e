# SPDX-License-Identifier: ISC
"""Who may send what where: mx recipients and relay denial, sender
ownership on submission (envelope and From:), size limits, command-level
rules (VRFY, sequence, line length)."""

import time

import pytest

from harness import USERS, make_message, new_marker
from smtpraw import RawSMTP, queued_id

ALICE = "alice@example.test"


def mx_session(mta, name="mx_plain"):
    c = RawSMTP.to(mta[name])
    c.ehlo()
    return c


def alice_session(mta):
    """Authenticated submission session (implicit TLS) as alice."""
    c = RawSMTP.to(mta["submissions"])
    c.ehlo()
    c.login(ALICE, USERS[ALICE])
    return c


# ------------------------------------------------------------------ mx

@pytest.mark.parametrize("name", ["mx", "mx_plain"])
def test_mx_denies_relay(mta, name):
    with mx_session(mta, name) as c:
        c.expect("MAIL FROM:<someone@remote.test>", 250)
        r = c.cmd("RCPT TO:<victim@elsewhere.test>")
        assert (r.code, r.enhanced) == (550, "5.7.1"), r
        # the session goes on: a local recipient is still fine
        c.expect("RCPT TO:<%s>" % ALICE, 250)


def test_mx_denies_relay_with_source_route_tricks(mta):
    with mx_session(mta) as c:
        c.expect("MAIL FROM:<someone@remote.test>", 250)
        for rcpt in ("victim%elsewhere.test@example.test",
                     "@example.test:victim@elsewhere.test",
                     "victim@elsewhere.test@example.test"):
            r = c.cmd("RCPT TO:<%s>" % rcpt)
            assert r.code >= 500, "%s -> %r" % (rcpt, r)


def test_mx_unknown_local_recipient(mta):
    with mx_session(mta) as c:
        c.expect("MAIL FROM:<someone@remote.test>", 250)
        r = c.cmd("RCPT TO:<nobody@example.test>")
        assert (r.code, r.enhanced) == (550, "5.1.1"), r


def test_mx_alias_and_domain_case(mta):
    """sales@ is an alias of alice; the domain matches in any case."""
    marker = new_marker()
    with mx_session(mta) as c:
        c.expect("MAIL FROM:<someone@remote.test>", 250)
        c.expect("RCPT TO:<sales@example.test>", 250)
        c.expect("RCPT TO:<alice@EXAMPLE.Test>", 250)
        qid = queued_id(c.data(make_message("someone@remote.test",
                                            "sales@example.test", marker)))
        c.expect("QUIT", 221)
    # two recipients expanding to the same mailbox: delivered once per
    # recipient or deduplicated, but at least once and at most twice
    msgs = mta.mailbox(ALICE).wait_for(marker)
    time.sleep(0.5)
    msgs = mta.mailbox(ALICE).with_marker(marker)
    assert 1 <= len(msgs) <= 2, len(msgs)
    assert qid.encode() in msgs[0]


def test_mx_accepts_null_sender(mta):
    marker = new_marker()
    with mx_session(mta) as c:
        c.expect("MAIL FROM:<>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        queued_id(c.data(make_message("MAILER-DAEMON@remote.test", ALICE,
                                      marker)))
    mta.mailbox(ALICE).wait_for(marker)


def test_mx_postmaster_without_domain(mta):
    """RFC 5321 §4.5.1: RCPT TO:<Postmaster> must be accepted... if
    postmaster exists; we only check it is not a relay or syntax error."""
    with mx_session(mta) as c:
        c.expect("MAIL FROM:<someone@remote.test>", 250)
        r = c.cmd("RCPT TO:<Postmaster>")
        assert r.code in (250, 550), r
        assert r.enhanced != "5.7.1", r


# ------------------------------------------------------------ submission

def test_mail_from_not_owned(mta):
    with alice_session(mta) as c:
        for frm in ("bob@example.test", "someone@remote.test",
                    "alice@remote.test"):
            r = c.cmd("MAIL FROM:<%s>" % frm)
            assert (r.code, r.enhanced) == (550, "5.7.1"), "%s: %r" % (frm, r)


def test_from_header_not_owned(mta):
    """Envelope owned, From: field not: refused at the end of DATA and not
    delivered; the session stays usable."""
    marker = new_marker()
    with alice_session(mta) as c:
        c.expect("MAIL FROM:<%s>" % ALICE, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        r = c.data(make_message("Bob <bob@example.test>", ALICE, marker))
        assert (r.code, r.enhanced) == (550, "5.7.1"), r
        # a second From: address in the same field is not a way around it
        c.expect("MAIL FROM:<%s>" % ALICE, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        r = c.data(make_message("alice@example.test, bob@example.test",
                                ALICE, marker))
        assert (r.code, r.enhanced) == (550, "5.7.1"), r
        # nor a second From: field
        c.expect("MAIL FROM:<%s>" % ALICE, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        r = c.data(make_message(ALICE, ALICE, marker,
                                headers=["From: bob@example.test"]))
        assert r.code >= 500, r
        c.expect("NOOP", 250)
    time.sleep(1.0)
    assert mta.mailbox(ALICE).with_marker(marker) == []


def test_owned_alias_and_display_name(mta):
    marker = new_marker()
    with alice_session(mta) as c:
        c.expect("MAIL FROM:<sales@example.test>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        qid = queued_id(c.data(make_message(
            '"Sales Team" <sales@example.test>', ALICE, marker)))
        c.expect("MAIL FROM:<%s>" % ALICE, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        queued_id(c.data(make_message("Alice Example <%s>" % ALICE, ALICE,
                                      marker + "b")))
    raw = mta.mailbox(ALICE).wait_for(marker)[0]
    assert qid.encode() in raw
    mta.mailbox(ALICE).wait_for(marker + "b")


def test_submission_relays_for_authenticated_user(mta):
    with alice_session(mta) as c:
        c.expect("MAIL FROM:<%s>" % ALICE, 250)
        c.expect("RCPT TO:<friend@defer.test>", 250)
        qid = queued_id(c.data(make_message(ALICE, "friend@defer.test",
                                            new_marker())))
    # DNS fails temporarily for defer.test: the message waits in the queue
    assert qid in mta.queue_ids()
    r = mta.cli("queue", "delete", qid)
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------ size

def test_size_declared_too_big(mta):
    with mx_session(mta) as c:
        r = c.cmd("MAIL FROM:<someone@remote.test> SIZE=100001")
        assert (r.code, r.enhanced) == (552, "5.3.4"), r
        c.expect("MAIL FROM:<someone@remote.test> SIZE=99000", 250)


def test_size_exceeded_during_data(mta):
    marker = new_marker()
    body = "\r\n".join(["x" * 70] * 2000)        # ~144 KB
    with mx_session(mta) as c:
        c.expect("MAIL FROM:<someone@remote.test>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        r = c.data(make_message("someone@remote.test", ALICE, marker,
                                body=body))
        assert (r.code, r.enhanced) == (552, "5.3.4"), r
        # in sync afterwards: a small message goes through
        c.expect("MAIL FROM:<someone@remote.test>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        queued_id(c.data(make_message("someone@remote.test", ALICE,
                                      marker + "ok")))
    mta.mailbox(ALICE).wait_for(marker + "ok")
    assert mta.mailbox(ALICE).with_marker("test " + marker + "\r") == []
    assert mta.mailbox(ALICE).with_marker("test " + marker + "\n") == []


def test_size_exceeded_with_bdat(mta):
    with mx_session(mta) as c:
        c.expect("MAIL FROM:<someone@remote.test>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        chunk = b"Subject: big\r\n\r\n" + b"y" * 120000
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        r = c.reply()
        assert (r.code, r.enhanced) == (552, "5.3.4"), r
        c.expect("NOOP", 250)


# ------------------------------------------------------------ commands

def test_vrfy(mta):
    with mx_session(mta) as c:
        r = c.cmd("VRFY alice")
        assert r.code == 252, r


def test_bad_sequence(mta):
    with mx_session(mta) as c:
        r = c.cmd("RCPT TO:<%s>" % ALICE)
        assert r.code == 503, r
        r = c.cmd("DATA")
        assert r.code in (503, 554), r
        c.expect("MAIL FROM:<someone@remote.test>", 250)
        r = c.cmd("MAIL FROM:<someone@remote.test>")
        assert r.code == 503, r
        r = c.cmd("DATA")
        assert r.code in (503, 554), r
        c.expect("RSET", 250)
        c.expect("QUIT", 221)
        assert c.closed()


def test_unknown_command(mta):
    with mx_session(mta) as c:
        r = c.cmd("FROBNICATE now")
        assert r.code == 500, r
        c.expect("NOOP", 250)


@pytest.mark.parametrize("length", [600, 5000])
def test_command_line_too_long(mta, length):
    """RFC 5321 §4.5.3.1.4: 512 octets. The rest of the long line must not
    be taken as another command."""
    with mx_session(mta) as c:
        c.send("NOOP " + "A" * (length - 25) + " QUIT\r\n")
        r = c.reply()
        assert (r.code, r.enhanced) == (500, "5.5.6"), r
        r = c.cmd("NOOP")
        assert r.code == 250, "after the long line: %r" % r


def test_command_line_at_limit(mta):
    """A 512-octet line (with CRLF) is still a valid command."""
    with mx_session(mta) as c:
        c.expect("MAIL FROM:<someone@remote.test>", 250)
        line = "RCPT TO:<%s>" % ALICE
        line += " " * (510 - len(line))
        assert len(line) + 2 == 512
        r = c.cmd(line)
        assert r.code == 250, r
