# SPDX-License-Identifier: ISC
"""Mail loops (issue 10 item 4), the receiving side: a message with more
Received fields than [server] max_hops (default 100, RFC 5321 §6.3; the
field this server adds counts) is refused at the end of DATA or BDAT with
554 5.4.6, not accepted and bounced; a delivered copy starts with
Return-Path (RFC 5321 §4.4, "<>" for a bounce) and Delivered-To naming its
mailbox. The forwarding side (Delivered-To on alias forwarding, the loop
between two servers) is tests/outbound/test_alias_loop.py."""

from harness import header_values, make_message, new_marker, split_message
from smtpraw import RawSMTP, queued_id

ALICE = "alice@example.test"
SENDER = "someone@remote.test"


def with_hops(marker, n, to=ALICE, frm=SENDER):
    hops = ["Received: from h%d.remote.test by h%d.remote.test;\r\n"
            "\tThu, 01 Jan 2026 00:00:%02d +0000" % (i, i + 1, i % 60)
            for i in range(n)]
    return make_message(frm, to, marker, headers=hops)


def mx(mta):
    c = RawSMTP.to(mta["mx_plain"])
    c.ehlo()
    return c


def test_too_many_hops_refused_at_end_of_data(mta):
    marker = new_marker()
    with mx(mta) as c:
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        r = c.data(with_hops(marker, 101))
        assert (r.code, r.enhanced) == (554, "5.4.6"), r
        # the session goes on, and the transaction is gone
        c.expect("NOOP", 250)
        c.expect("DATA", 503)
    # 100 + ours is past the limit as well; 99 + ours is the limit
    with mx(mta) as c:
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        r = c.data(with_hops(marker, 100))
        assert (r.code, r.enhanced) == (554, "5.4.6"), r
        ok = new_marker()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        queued_id(c.data(with_hops(ok, 99)))
    raw = mta.mailbox(ALICE).wait_for(ok)[0]
    assert raw.count(b"\nReceived: ") == 100
    assert not mta.mailbox(ALICE).with_marker(marker)
    assert "554 5.4.6" in mta.log_text()


def test_too_many_hops_refused_at_bdat_last(mta):
    marker = new_marker()
    msg = with_hops(marker, 101)
    with mx(mta) as c:
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        c.send(b"BDAT %d\r\n" % 40 + msg[:40])
        assert c.reply().code == 250
        c.send(b"BDAT %d LAST\r\n" % (len(msg) - 40) + msg[40:])
        r = c.reply()
        assert (r.code, r.enhanced) == (554, "5.4.6"), r
        c.expect("NOOP", 250)
    assert not mta.mailbox(ALICE).with_marker(marker)


def test_delivered_copy_has_return_path_and_delivered_to(mta):
    marker = new_marker()
    with mx(mta) as c:
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<sales@example.test>", 250)   # alias -> alice
        queued_id(c.data(make_message(SENDER, "sales@example.test",
                                      marker)))
    raw = mta.mailbox(ALICE).wait_for(marker)[0]
    head, _ = split_message(raw)
    lines = head.split(b"\n")
    # first, as the final delivery writes them: the mailbox's address
    assert lines[0] == b"Return-Path: <%s>" % SENDER.encode(), head
    assert lines[1] == b"Delivered-To: %s" % ALICE.encode(), head
    assert header_values(raw, "Return-Path") == ["<%s>" % SENDER]
    # a bounce-like message (null reverse-path) gets "<>"
    marker2 = new_marker()
    with mx(mta) as c:
        c.expect("MAIL FROM:<>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        queued_id(c.data(make_message("MAILER-DAEMON@remote.test", ALICE,
                                      marker2)))
    raw = mta.mailbox(ALICE).wait_for(marker2)[0]
    assert raw.startswith(b"Return-Path: <>\nDelivered-To: %s\n" %
                          ALICE.encode()), raw[:200]
