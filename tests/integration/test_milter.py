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
import time

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


# ---- milters at every SMTP stage ----

@pytest.fixture
def rules(milter):
    """The fake milter's per-command rules for one test."""
    milter.rules = {}
    yield milter.rules
    milter.rules = {}


def raw(d, lst="mx_plain"):
    import smtpraw
    return smtpraw.RawSMTP.to(d[lst], timeout=30)


def y(text):
    """A REPLYCODE packet."""
    return fakemilter.pkt(b"y", text.encode() + b"\0")


def test_rcpt_reject_refuses_that_recipient_only(mx, milter, rules):
    rules[b"R"] = lambda d: y("550 5.7.1 Not bob, says the milter") \
        if d.startswith(b"<bob@example.test>") else None
    l = mx["mx_plain"]
    with smtplib.SMTP(l.host, l.port, timeout=30) as s:
        s.ehlo("client.sender.test")
        s.mail("x@sender.test")
        assert s.rcpt(BOB) == (550, b"5.7.1 Not bob, says the milter")
        assert s.rcpt(ALICE)[0] == 250
        code, text = s.data(message("rcptreject one", ALICE))
        assert code == 250, text
    assert mx.mailbox(ALICE).wait_for("rcptreject one")
    assert not mx.mailbox(BOB).with_marker("rcptreject one")
    # The milter saw both recipients, then the message for alice.
    assert b"E" in milter.sessions[-1]


def test_added_local_recipient_expanded_or_refused(mx, rules):
    """A recipient a milter adds in a local domain is expanded as a RCPT
    would be (an alias to its target, at the end once every milter
    answered); one that does not exist tempfails the message (451), the
    milter's change not being what it meant."""
    rules[b"E"] = lambda d: fakemilter.pkt(
        b"+", b"<sales@example.test>\0") + fakemilter.pkt(b"c")
    assert send(mx, "addrcpt alias", rcpts=(BOB,))[0] == 250
    assert mx.mailbox(BOB).wait_for("addrcpt alias")
    assert mx.mailbox(ALICE).wait_for("addrcpt alias")
    rules[b"E"] = lambda d: fakemilter.pkt(
        b"+", b"<nobody@example.test>\0") + fakemilter.pkt(b"c")
    code, text = send(mx, "addrcpt unknown", rcpts=(BOB,))
    assert code == 451, text
    # Added, then deleted by the same milter: the message goes on.
    rules[b"E"] = lambda d: fakemilter.pkt(
        b"+", b"<nobody@example.test>\0") + fakemilter.pkt(
        b"-", b"<nobody@example.test>\0") + fakemilter.pkt(b"c")
    assert send(mx, "addrcpt deleted", rcpts=(BOB,))[0] == 250
    assert mx.mailbox(BOB).wait_for("addrcpt deleted")


def test_rcpt_tempfail_and_args(mx, milter, rules):
    seen = []

    def rcpt(d):
        seen.append(d)
        return fakemilter.pkt(b"t") if b"bob" in d else None
    rules[b"R"] = rcpt
    with raw(mx) as c:
        c.ehlo()
        c.expect("MAIL FROM:<x@sender.test>", 250)
        c.expect("RCPT TO:<%s> NOTIFY=NEVER" % ALICE, 250)
        c.expect("RCPT TO:<%s>" % BOB, 451, "4.7.1")
        c.expect("QUIT", 221)
    # The path and its ESMTP parameter, as libmilter splits them.
    assert seen[0] == b"<%s>\0NOTIFY=NEVER\0" % ALICE.encode()


def test_mail_reject_with_its_reply_and_args(mx, milter, rules):
    seen = []

    def mail(d):
        seen.append(d)
        return y("553 5.7.1 Not from you") if b"spam" in d else None
    rules[b"M"] = mail
    l = mx["mx_plain"]
    with smtplib.SMTP(l.host, l.port, timeout=30) as s:
        s.ehlo("client.sender.test")
        assert s.mail("spam@sender.test") == (553, b"5.7.1 Not from you")
        # The transaction is gone; a new one is asked again.
        assert s.rcpt(ALICE)[0] == 503
        assert s.mail("x@sender.test", ["BODY=8BITMIME", "SIZE=100"])[0] \
            == 250
    assert seen[-1] == b"<x@sender.test>\0BODY=8BITMIME\0SIZE=100\0"


def test_helo_reject_multiline(mx, milter, rules):
    rules[b"H"] = lambda d: y("550-5.7.1 Bad name\r\n550 5.7.1 Really")
    with raw(mx) as c:
        r = c.cmd("EHLO client.sender.test")
        assert r.code == 550 and r.lines == ["5.7.1 Bad name",
                                             "5.7.1 Really"], r
        # Not greeted.
        c.expect("MAIL FROM:<x@sender.test>", 503)
        c.expect("QUIT", 221)


def test_connect_reject(mx, milter, rules):
    rules[b"C"] = lambda d: y("554 5.7.1 Go away, client")
    with raw(mx) as c:
        r = c.cmd("EHLO client.sender.test")
        assert (r.code, r.text) == (554, "5.7.1 Go away, client")
        c.expect("MAIL FROM:<x@sender.test>", 554)
        c.expect("QUIT", 221)
    # Told of the client: address and port.
    conn = [e for e in milter.events if e[1] == b"C"][-1][2]
    assert conn.startswith(b"[127.0.0.1]\0" + b"4")
    assert conn.endswith(b"127.0.0.1\0")


def test_unknown_command(mx, milter, rules):
    rules[b"U"] = lambda d: y("502 5.5.1 Nor do I know %s" % d[:-1].decode())
    with raw(mx) as c:
        c.ehlo()
        r = c.cmd("XFOO bar")
        assert (r.code, r.text) == (502, "5.5.1 Nor do I know XFOO bar")
        rules.clear()
        c.expect("XBAR", 500)
        c.expect("QUIT", 221)


def test_multiline_reply_at_end(mx):
    assert send(mx, "multiline one") == (
        550, "5.7.1 first line\n5.7.1 second line")


def test_abort_on_rset_and_quit(mx, milter):
    with raw(mx) as c:
        c.ehlo()
        c.expect("MAIL FROM:<x@sender.test>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        c.expect("RSET", 250)
        c.expect("MAIL FROM:<x@sender.test>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        assert c.data(message("abort one")).code == 250
        c.expect("QUIT", 221)
    mine = milter.sessions[-1]
    harness.wait_until(lambda: mine[-1:] == [b"Q"], 5, what="QUIT")
    steps = [x for x in mine if x not in (b"D", b"L")]
    # One connection for the session: connect, helo, then the aborted
    # transaction, then the message, then QUIT.
    assert steps[:7] == [b"O", b"C", b"H", b"M", b"R", b"A", b"M"], mine
    assert b"E" in steps and steps[-1] == b"Q"


def test_accept_at_mail_stops_asking(mx, milter, rules):
    rules[b"M"] = lambda d: fakemilter.pkt(b"a") if b"trusted" in d else None
    with raw(mx) as c:
        c.ehlo()
        c.expect("MAIL FROM:<trusted@sender.test>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        # Its "reject" subject is not asked about.
        assert c.data(message("reject accepted")).code == 250
        c.expect("QUIT", 221)
    mine = milter.sessions[-1]
    assert b"R" not in mine and b"E" not in mine and b"B" not in mine


def test_body_streamed_before_the_end(mx, milter):
    """Body chunks (at most 65535 bytes) reach the milter while the client
    is still sending: before the final dot."""
    # More than a chunk, less than the test's max_message_size.
    body = b"".join(b"line %06d of a long body ......................\r\n"
                    % i for i in range(1500))          # 78 KB
    msg = message("stream one").replace(b"body of stream one\r\n", body)
    start = len(milter.events)
    with raw(mx) as c:
        c.ehlo()
        c.expect("MAIL FROM:<x@sender.test>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        c.expect("DATA", 354)
        c.send(msg)
        harness.wait_until(lambda: any(e[1] == b"B" for e in
                                       milter.events[start:]), 10,
                           what="a body chunk before the end")
        time.sleep(0.3)
        dot = time.time()
        c.send(b".\r\n")
        assert c.reply().code == 250
        c.expect("QUIT", 221)
    chunks = [e for e in milter.events[start:] if e[1] == b"B"]
    assert chunks[0][0] < dot
    assert all(len(e[2]) <= 65535 for e in chunks)
    assert b"".join(e[2] for e in chunks) == body


def test_reject_at_first_body_chunk(mx, milter, rules):
    rules[b"B"] = lambda d: y("550 5.7.1 Body refused early")
    body = b"x" * 70 + b"\r\n"
    msg = message("early one").replace(b"body of early one\r\n",
                                       body * 1000)
    with raw(mx) as c:
        c.ehlo()
        c.expect("MAIL FROM:<x@sender.test>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        r = c.data(msg)
        assert (r.code, r.text) == (550, "5.7.1 Body refused early")
        c.expect("QUIT", 221)
    mine = milter.sessions[-1]
    assert b"B" in mine and b"E" not in mine


def test_chgfrom_parameters(mx):
    code, _ = send(mx, "chgfromargs one")
    assert code == 250
    raw_ = mx.mailbox(ALICE).wait_for("chgfromargs one")[0]
    assert b"Return-Path: <new-sender@example.net>" in raw_
    # A parameter we would refuse from a client is refused from a milter.
    assert send(mx, "chgfrombad one") == (
        451, "4.7.1 Service unavailable - try again later")
    assert 'milter=fake error="modification refused"' in mx.log_text()


def test_no_reply_flags(daemons, certs):
    """SMFIP_NR_*: steps the milter does not answer are not waited for
    (the 2 s timeout would tempfail); SMFIP_NO*: steps not sent."""
    m = fakemilter.FakeMilter()
    m.protocol = (0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x40000 |
                  0x80000 | 0x80)
    try:
        d = start(daemons, certs, m)
        code, text = send(d, "addheader nr")
        assert code == 250, text
        raw_ = d.mailbox(ALICE).wait_for("addheader nr")[0]
        assert b"\nX-Fake-Milter: seen qid=" in raw_
        m.protocol = 0x20 | 0x10       # NOHDRS, NOBODY
        assert send(d, "reject nohdrs")[0] == 250   # no subject seen
        mine = m.sessions[-1]
        assert b"L" not in mine and b"B" not in mine and b"E" in mine
        # Without MAIL (SMFIP_NOMAIL) it still gets the rest.
        m.protocol = 0x4
        assert send(d, "addheader nomail")[0] == 250
        raw_ = d.mailbox(ALICE).wait_for("addheader nomail")[0]
        assert b"\nX-Fake-Milter: seen qid=" in raw_
        assert b"M" not in m.sessions[-1]
    finally:
        m.stop()


def test_from_checked_after_milter(daemons, certs, milter, rules):
    """Submission: a milter that changes From: to an address the user does
    not own gets the message refused; one that makes it the user's own
    gets it accepted."""
    cfg = daemons.config([certs["ec"]], ipv6=False)
    cfg.extra = ('\n[milter "fake"]\naddress = %s\nroles = submission\n'
                 % milter.address)
    d = daemons.start(cfg)
    lst = d["submissions"]

    def submit(frm, subject):
        with smtplib.SMTP_SSL(lst.host, lst.port, timeout=30,
                              context=harness.client_ctx()) as s:
            s.login(ALICE, harness.USERS[ALICE])
            s.mail(ALICE)
            s.rcpt(BOB)
            return s.data(message(subject, BOB).replace(
                b"From: <x@sender.test>", b"From: <%s>" % frm.encode()))

    rules[b"E"] = lambda d: fakemilter.pkt(
        b"m", b"\0\0\0\x01From\0<bob@example.test>\0") + fakemilter.pkt(b"c")
    code, text = submit(ALICE, "fromchanged one")
    assert code == 550 and b"From: header" in text, text
    rules[b"E"] = lambda d: fakemilter.pkt(
        b"m", b"\0\0\0\x01From\0<alice@example.test>\0") + \
        fakemilter.pkt(b"c")
    code, text = submit(BOB, "fromchanged two")
    assert code == 250, text
    raw_ = d.mailbox(BOB).wait_for("fromchanged two")[0]
    assert b"\nFrom: <alice@example.test>\n" in raw_


def test_setsymlist(daemons, certs):
    """SMFIR_SETSYMLIST: the macros the milter names for a stage are the
    ones it gets there (RCPT: none by default)."""
    import struct
    m = fakemilter.FakeMilter()
    m.actions = fakemilter.ACTIONS | 0x100
    m.optneg_extra = (struct.pack(">I", 3) + b"{rcpt_addr} {nosuch}\0" +
                      struct.pack(">I", 0) + b"{client_addr} j\0")
    try:
        d = start(daemons, certs, m)
        assert send(d, "symlist one")[0] == 250
        by_stage = {p[:1]: p[1:] for p in m.macro_packets}
        assert by_stage[b"R"] == b"{rcpt_addr}\0%s\0" % ALICE.encode()
        assert by_stage[b"C"] == (b"{client_addr}\x00127.0.0.1\x00j\x00%s\x00"
                                  % harness.HOSTNAME.encode())
    finally:
        m.stop()
