# SPDX-License-Identifier: ISC
"""Milters (issue 15 item 3) on the real daemon, with a milter written in
the test (fakemilter.py, a real socket): it rejects (with its own reply,
sanitised), tempfails, discards, quarantines into .Junk, adds, inserts and
changes header fields, changes recipients and the sender, and replaces the
body, all before our 250; a milter that does not answer in time gives 451
4.7.1 (or, with on_error = accept, the message goes on without it); one
that sends malformed packets tempfails the message and the worker goes on
serving (the next message is accepted). A listener no milter applies to
is left alone.
"""
import smtplib

import pytest

import fakemilter
import harness

ALICE = "alice@example.test"
BOB = "bob@example.test"


@pytest.fixture(scope="module")
def milter():
    m = fakemilter.FakeMilter(slow=4.0)
    yield m
    m.stop()


def start(pool, certs, milter, on_error="tempfail"):
    cfg = pool.config([certs["ec"]], ipv6=False)
    # The milter applies to the mx role, and to one submission listener
    # by name; "submission" (starttls) gets none.
    cfg.extra = ('\n[milter "fake"]\naddress = %s\nroles = mx\n'
                 'listeners = plain\non_error = %s\ncommand_timeout = 2s\n'
                 'content_timeout = 2s\nconnect_timeout = 2s\n'
                 % (milter.address, on_error))
    return pool.start(cfg)


@pytest.fixture(scope="module")
def mx(module_daemons, certs, milter):
    return start(module_daemons, certs, milter)


def message(subject, to=ALICE, extra=""):
    return ("From: <x@sender.test>\r\nTo: <%s>\r\nSubject: %s\r\n"
            "Message-ID: <%s@t>\r\n%s\r\nbody of %s\r\n"
            % (to, subject, subject.replace(" ", "."), extra, subject)
            ).encode()


def send(d, subject, rcpts=(ALICE,), lst="mx_plain", extra=""):
    """The reply to the end of DATA: (code, text)."""
    l = d[lst]
    with smtplib.SMTP(l.host, l.port, timeout=30) as s:
        s.ehlo("client.sender.test")
        s.mail("x@sender.test")
        for r in rcpts:
            code, _ = s.rcpt(r)
            assert code == 250
        code, text = s.data(message(subject, rcpts[0], extra))
        return code, text.decode()


def lf(raw):
    """Maildir files have LF line ends."""
    return raw.replace(b"\r\n", b"\n")


def test_reject_with_its_reply(mx, milter):
    assert send(mx, "reject one") == (554, "5.7.1 Rejected by the fake "
                                           "milter")
    assert send(mx, "plainreject one") == (550, "5.7.1 Message content "
                                                "rejected")
    assert "milter=fake result=reject" in mx.log_text()


def test_tempfail(mx):
    assert send(mx, "tempfail one") == (451, "4.7.1 Service unavailable - "
                                             "try again later")


def test_discard(mx):
    code, text = send(mx, "discard one")
    assert code == 250 and "discarded" in text
    assert "milter discard reason=fake" in mx.log_text()


def test_add_header_and_macros(mx, milter):
    code, text = send(mx, "addheader one")
    assert code == 250, text
    qid = text.split()[-1]
    raw = mx.mailbox(ALICE).wait_for("addheader one")[0]
    head = raw.split(b"\n\n")[0]
    # Appended at the end of the header section, with the macro i.
    assert head.endswith(b"\nX-Fake-Milter: seen qid=%s" % qid.encode())
    assert milter.macros["j"] == harness.HOSTNAME
    assert milter.macros["{daemon_name}"] == "mx_plain"
    assert milter.macros["{if_addr}"] == "127.0.0.1"
    assert milter.macros["_"] == "unknown [127.0.0.1]"


def test_insert_and_change_header(mx):
    assert send(mx, "insheader one")[0] == 250
    raw = mx.mailbox(ALICE).wait_for("body of insheader one")[0]
    # Above everything the message came with (our trace fields are
    # prepended at delivery).
    assert b"\nX-First: top\nFrom: <x@sender.test>\n" in raw, raw
    assert send(mx, "chgheader one", extra="X-Drop: me\r\n")[0] == 250
    raw = mx.mailbox(ALICE).wait_for("body of chgheader one")[0]
    assert b"\nSubject: changed by milter\n" in raw, raw
    assert b"X-Drop" not in raw and b"Subject: chgheader" not in raw


def test_change_recipient(mx):
    assert send(mx, "chgrcpt one")[0] == 250
    assert mx.mailbox(BOB).wait_for("chgrcpt one")
    assert not mx.mailbox(ALICE).with_marker("chgrcpt one")


def test_change_sender(mx):
    code, text = send(mx, "chgfrom one")
    assert code == 250
    raw = mx.mailbox(ALICE).wait_for("chgfrom one")[0]
    assert b"Return-Path: <new-sender@example.net>" in raw, raw[:400]


def test_replace_body(mx, milter):
    code, _ = send(mx, "replbody one", extra="X-Pad: 1\r\n")
    assert code == 250
    raw = mx.mailbox(ALICE).wait_for("replaced body line 1")[0]
    assert raw.endswith(b"\n\nreplaced body line 1\nreplaced body "
                        b"line 2\n"), raw
    assert b"body of replbody" not in raw
    assert b"body of replbody one\r\n" in milter.bodies[-1]


def test_quarantine_goes_to_junk(mx):
    assert send(mx, "quarantine one")[0] == 250
    assert mx.mailbox(ALICE, "Junk").wait_for("quarantine one")
    assert not mx.mailbox(ALICE).with_marker("quarantine one")


def test_slow_milter_tempfails(mx):
    code, text = send(mx, "slow one")
    assert (code, text) == (451, "4.7.1 Service unavailable - try again "
                                 "later")
    assert 'milter=fake error="timeout waiting for the milter"' in \
        mx.log_text()


@pytest.mark.parametrize("kind", ["garbage", "badpacket", "unasked"])
def test_malformed_milter_tempfails_worker_unharmed(mx, kind):
    workers = mx.workers()
    code, _ = send(mx, "%s one" % kind)
    assert code == 451
    # The worker is the same and serves the next message.
    assert send(mx, "after %s" % kind)[0] == 250
    assert mx.workers() == workers
    assert mx.mailbox(ALICE).wait_for("after %s" % kind)


def test_listener_without_milter(mx, milter):
    """The submission listener "plain" is named by the milter, the
    starttls one is not: a reject subject passes there."""
    before = milter.conns
    with smtplib.SMTP(mx["submission"].host, mx["submission"].port,
                      timeout=30) as s:
        s.starttls(context=harness.client_ctx())
        s.login(ALICE, harness.USERS[ALICE])
        s.sendmail(ALICE, [BOB], message("reject two", BOB).replace(
            b"From: <x@sender.test>", b"From: <%s>" % ALICE.encode()))
    assert mx.mailbox(BOB).wait_for("reject two")
    assert milter.conns == before


def test_on_error_accept(daemons, certs, milter):
    d = start(daemons, certs, milter, on_error="accept")
    assert send(d, "slow two")[0] == 250
    assert d.mailbox(ALICE).wait_for("slow two")
    assert send(d, "garbage two")[0] == 250
    # An unreachable milter: on_error too.
    dead = fakemilter.FakeMilter()
    dead.stop()
    d2 = start(daemons, certs, dead, on_error="accept")
    assert send(d2, "reject three")[0] == 250
    # on_error = tempfail: the client hears it at MAIL (the milter could
    # not be told of the session), as Postfix's default_action.
    d3 = start(daemons, certs, dead)
    l = d3["mx_plain"]
    with smtplib.SMTP(l.host, l.port, timeout=30) as s:
        assert s.ehlo("client.sender.test")[0] == 250
        assert s.mail("x@sender.test") == (
            451, b"4.7.1 Service unavailable - try again later")


def test_client_gone_while_milter_works(mx):
    """The client leaves while the milter thinks: the run is dropped with
    the session, and the worker goes on."""
    workers = mx.workers()
    l = mx["mx_plain"]
    s = smtplib.SMTP(l.host, l.port, timeout=30)
    s.ehlo("client.sender.test")
    s.mail("x@sender.test")
    s.rcpt(ALICE)
    s.putcmd("data")
    assert s.getreply()[0] == 354
    s.send(message("slow gone") + b".\r\n")
    s.close()
    # Gone at once (eof), not after the milter's 2 s timeout.
    harness.wait_until(lambda: "reason=eof" in mx.log_text(), 1.5,
                       what="the disconnect")
    assert send(mx, "after gone")[0] == 250
    assert mx.workers() == workers
    assert not mx.mailbox(ALICE).with_marker("slow gone")


def test_unix_socket_milter(daemons, certs, tmp_path):
    """unix:PATH, from the sandboxed worker."""
    m = fakemilter.FakeMilter(path=str(tmp_path / "milter.sock"))
    try:
        d = start(daemons, certs, m)
        code, text = send(d, "addheader unix")
        assert code == 250, text
        raw = d.mailbox(ALICE).wait_for("addheader unix")[0]
        assert b"\nX-Fake-Milter: seen qid=" in raw
        assert send(d, "reject unix")[0] == 554
    finally:
        m.stop()


def test_bdat(mx, milter):
    """CHUNKING ends the message the same way: the milter sees the body
    of both chunks, its reply and its header reach the client and the
    mailbox."""
    import smtpraw
    for subject, code in (("reject bdat", 554), ("addheader bdat", 250)):
        msg = message(subject)
        half = len(msg) // 2
        with smtpraw.RawSMTP.to(mx["mx_plain"]) as c:
            c.ehlo()
            c.expect("MAIL FROM:<x@sender.test>", 250)
            c.expect("RCPT TO:<%s>" % ALICE, 250)
            c.send(b"BDAT %d\r\n" % half + msg[:half])
            assert c.reply().code == 250
            c.send(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
            r = c.reply()
            assert r.code == code, r
            c.expect("QUIT", 221)
        assert milter.bodies[-1] == b"body of %s\r\n" % subject.encode()
    raw = mx.mailbox(ALICE).wait_for("body of addheader bdat")[0]
    assert b"\nX-Fake-Milter: seen qid=" in raw


def test_our_dkim_signature_covers_replaced_body(daemons, certs, milter):
    """A submission we sign ourselves ([domain] dkim_key) whose body a
    milter replaced: the signature is over what is delivered."""
    import os
    import re

    import dkim
    cfg = daemons.config([certs["ec"]], ipv6=False)
    os.makedirs(cfg.folder, exist_ok=True)
    key = os.path.join(cfg.folder, "example.test.s1.key")
    r = harness.run_cli(None, "dkim", "keygen", "--domain", "example.test",
                        "--selector", "s1", "--out", key)
    assert r.returncode == 0, r.stderr
    record = "".join(re.findall(r'"([^"]*)"', r.stdout))
    cfg.domains = []
    cfg.extra = ('\n[domain "example.test"]\ndkim_selector = s1\n'
                 'dkim_key = %s\n[milter "fake"]\naddress = %s\n'
                 'roles = submission\n' % (key, milter.address))
    d = daemons.start(cfg)
    lst = d["submissions"]
    with smtplib.SMTP_SSL(lst.host, lst.port, timeout=30,
                          context=harness.client_ctx()) as s:
        s.login(ALICE, harness.USERS[ALICE])
        s.sendmail(ALICE, [BOB], message("replbody signed", BOB).replace(
            b"From: <x@sender.test>", b"From: <%s>" % ALICE.encode()))
    raw = d.mailbox(BOB).wait_for("replaced body line 1")[0]
    raw = raw.replace(b"\n", b"\r\n")
    assert b"DKIM-Signature:" in raw and b"body of replbody" not in raw

    def dnsfunc(name, timeout=5):
        return record.encode()
    assert dkim.verify(raw, dnsfunc=dnsfunc), raw
