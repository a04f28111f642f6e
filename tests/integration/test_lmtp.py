# SPDX-License-Identifier: ISC
"""Local delivery over LMTP into a real Dovecot."""

import os
import smtplib
import tempfile
import time

import pytest

import dovecot
from harness import (Config, Daemon, make_message, new_marker, provision,
                     spool_file, wait_until)
from lmtpsink import LmtpSink
from mailcheck import check_received
from smtpraw import RawSMTP, queued_id

ALICE = "alice@example.test"
BOB = "bob@example.test"


@pytest.fixture(scope="module")
def lmtp_setup(certs):
    dovecot.require()
    # Dovecot delivers as an unprivileged user: the folder must be
    # traversable by it, unlike pytest's private tmp folders.
    base = tempfile.mkdtemp(prefix="sealmail-lmtp-", dir="/tmp")
    os.chmod(base, 0o755)
    cfg = Config(base, [certs["ec"]])
    cfg.listen("mx_plain", "mx", "none")
    dc = dovecot.Dovecot(os.path.join(base, "dovecot"), cfg.data_dir)
    os.makedirs(dc.base)
    os.chmod(dc.base, 0o755)
    cfg.delivery["local"] = "lmtp:unix:" + dc.sock
    provision(cfg)
    os.chmod(cfg.data_dir, 0o755)
    yield from dovecot.serve(dc, Daemon(cfg), base)


def test_lmtp_delivery_into_dovecot(lmtp_setup):
    d, dc = lmtp_setup
    marker = new_marker()
    with RawSMTP.to(d["mx_plain"]) as c:
        c.ehlo("client.example.test")
        c.expect("MAIL FROM:<someone@remote.test>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        c.expect("RCPT TO:<%s>" % BOB, 250)
        qid = queued_id(c.data(make_message("someone@remote.test", ALICE,
                                            marker, body="..dot\r\nend")))
    raw = d.mailbox(ALICE).wait_for(marker)[0]
    raw_bob = d.mailbox(BOB).wait_for(marker)[0]
    # Dovecot logs the save just after the file appears
    wait_until(lambda: all("lmtp(%s)" % a in dc.log_text() for a in
                           (ALICE, BOB)), 5, what="Dovecot's log lines")
    assert "saved mail to INBOX" in dc.log_text()
    # Dovecot's own Maildir files (its index, its file names)
    mdir = d.mailbox(ALICE).path
    assert os.path.exists(os.path.join(mdir, "dovecot-uidlist"))
    assert b" with LMTP" in raw, "no Dovecot trace field: %r" % raw[:400]
    # our trace field survived LMTP, and dot-stuffing was done right: the
    # body line "..dot" (sent stuffed as "...dot") must be stuffed again
    # on the LMTP hop, or Dovecot would store ".dot"
    assert b"\n..dot\n" in raw.replace(b"\r\n", b"\n"), raw
    rec_at = raw.find(b"Received: from client.example.test")
    assert rec_at != -1, raw
    check_received(raw[rec_at:], qid, "ESMTP", False, rcpt=None)
    # Each copy names its own recipient (one LMTP transaction each, so
    # recipients do not share a copy); Return-Path is Dovecot's, once.
    ours = raw[raw.find(b" with LMTP"):]
    assert b"\nDelivered-To: alice@example.test\n" in ours, raw[:600]
    ours_bob = raw_bob[raw_bob.find(b" with LMTP"):]
    assert b"\nDelivered-To: bob@example.test\n" in ours_bob, raw_bob[:600]
    assert b"alice@" not in ours_bob.split(b"\n\n")[0].replace(
        b"To: alice@example.test", b""), raw_bob[:600]
    for r in (raw, raw_bob):
        assert r.count(b"Return-Path:") == 1, r[:600]


def start_with_sink(daemons, certs, sink):
    """A daemon whose local delivery goes to the LmtpSink sink."""
    cfg = daemons.config([certs["ec"]], ipv6=False)
    cfg.delivery["local"] = sink.target
    return daemons.start(cfg)


def send(d, rcpts, marker, body=None):
    lst = d["mx_plain"]
    with smtplib.SMTP(lst.host, lst.port, timeout=15) as c:
        c.sendmail("someone@remote.test", rcpts,
                   make_message("someone@remote.test", rcpts[0], marker,
                                body=body))


def test_refused_data_does_not_fail_the_next_recipient(daemons, certs):
    """Each recipient has its own LMTP transaction. A DATA refused with a
    4xx leaves the server's transaction open (RFC 5321 does not close it):
    the client must RSET, or the next recipient's MAIL gets 503 and that
    recipient is bounced for nothing."""
    sink = LmtpSink(refuse_data=1)
    try:
        d = start_with_sink(daemons, certs, sink)
        send(d, [ALICE, BOB], new_marker())
        wait_until(lambda: len(sink.snapshot()) >= 1, 20,
                   what="an LMTP delivery")
        time.sleep(0.5)
        got = [r for r, _ in sink.snapshot()]
        assert len(got) == 1 and BOB in got[0], got
        # The refused one is deferred, not bounced: it stays queued.
        assert len(d.queue_ids()) == 1, d.queue_ids()
    finally:
        sink.close()


def test_quoted_sender_with_space_is_delivered(daemons, certs):
    """A sender whose quoted local part holds a space (RFC 5321 §4.1.2
    Quoted-string) is accepted at MAIL; the LMTP hop sends it quoted as
    it came, where the smtpc engine's word check bounced every such
    message (5.1.7) since LMTP moved onto it."""
    sink = LmtpSink()
    try:
        d = start_with_sink(daemons, certs, sink)
        marker = new_marker()
        sender = '"john doe"@remote.test'
        with RawSMTP.to(d["mx_plain"]) as c:
            c.ehlo()
            c.expect("MAIL FROM:<%s>" % sender, 250)
            c.expect("RCPT TO:<%s>" % ALICE, 250)
            c.data(make_message("john@remote.test", ALICE, marker))
            c.expect("QUIT", 221)
        wait_until(lambda: any(marker.encode() in m for _, m in
                               sink.snapshot()), 20,
                   what="the LMTP delivery")
        assert "<%s>" % sender in sink.senders, sink.senders
        wait_until(lambda: not d.queue_ids(), 20, what="the queue to empty")
        assert "result=failed" not in d.log_text()
    finally:
        sink.close()


def test_stalled_lmtp_store_holds_only_its_own_delivery(daemons, certs):
    """LMTP runs on the queue runner's event loop (deliver/lmtp.c on the
    smtpc engine): a store that takes one message and never answers holds
    that delivery only. Another message, sent after it, is delivered
    while the first one hangs; when the store drops the connection the
    stalled recipient is deferred (kept queued), never bounced."""
    sink = LmtpSink(stall="bob@")
    try:
        d = start_with_sink(daemons, certs, sink)
        first, second = new_marker(), new_marker()
        send(d, [BOB], first)
        wait_until(lambda: sink.stalled == 1, 20, what="the stall")
        send(d, [ALICE], second)
        wait_until(lambda: any(second.encode() in m for _, m in
                               sink.snapshot()), 20,
                   what="the second message while the first one stalls")
        assert sink.stalled == 1
        assert not any(first.encode() in m for _, m in sink.snapshot())
        sink.close()
        wait_until(lambda: "result=deferred" in d.log_text(), 20,
                   what="the stalled delivery deferred")
        assert len(d.queue_ids()) == 1, d.queue_ids()
        assert "result=failed" not in d.log_text()
    finally:
        sink.close()


def test_bare_cr_before_dot_reaches_the_store_stuffed(daemons, certs):
    """The LMTP hop uses the smtpc engine's one dot-stuffer: every line
    end is CRLF, and a '.' that starts a line is doubled, also after a
    bare CR in the queued data. A bare CR cannot come in over SMTP (the
    server makes it CRLF), so the test puts one into a queued message
    (same length, while the daemon is stopped) after a first attempt was
    deferred. The blocking LMTP client this replaced sent "A\\r.dot" as
    it was: a store that ends lines at CR saw an unstuffed dot line."""
    sink = LmtpSink(refuse_data=1)
    try:
        d = start_with_sink(daemons, certs, sink)
        send(d, [ALICE], new_marker(), body="AB.dot\r\n.\r\nend")
        wait_until(lambda: "result=deferred" in d.log_text(), 20,
                   what="the first attempt deferred")
        d.stop()
        (qid,) = d.queue_ids()
        path = spool_file(d.data_dir, qid, "msg")
        with open(path, "rb") as f:
            data = f.read()
        assert data.count(b"AB.dot") == 1
        with open(path, "r+b") as f:
            f.seek(data.index(b"AB.dot"))
            f.write(b"A\r.dot")
        d.start()
        wait_until(lambda: sink.raw, 20, what="the LMTP delivery")
        raw = sink.raw[-1]
        # every CR is followed by LF; every line-start dot is doubled
        assert raw.count(b"\r") == raw.count(b"\r\n"), raw
        assert b"\r\nA\r\n..dot\r\n..\r\nend\r\n.\r\n" in raw, raw
        wait_until(lambda: not d.queue_ids(), 20, what="the queue to empty")
    finally:
        sink.close()


def test_stop_waits_for_an_lmtp_reply_past_the_grace_time(daemons, certs):
    """SIGTERM while the store is still working on a message it has
    taken in full (7 s, past the runner's 5-second grace time): the
    runner waits for that reply and records it, since a transaction cut
    off after its final dot may have been delivered and would be sent
    again by the next run. The message is stored once."""
    from test_restart_load import systemd_stop
    sink = LmtpSink(delay=7)
    try:
        d = start_with_sink(daemons, certs, sink)
        marker = new_marker()
        send(d, [ALICE], marker)
        wait_until(lambda: sink.raw, 20, what="the message sent")
        systemd_stop(d)
        assert "queue removed" in d.log_text()
        d.start()
        wait_until(lambda: not d.queue_ids(), 30, what="an empty queue")
        time.sleep(1)
        copies = [m for _, m in sink.snapshot() if marker.encode() in m]
        assert len(copies) == 1, len(copies)
    finally:
        sink.close()
