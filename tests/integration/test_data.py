# SPDX-License-Identifier: ISC
"""The message byte stream: pipelining, BDAT/CHUNKING, SMTP smuggling
(bare LF / bare CR around a dot), dot-unstuffing and STARTTLS command
injection. All over a raw socket so that the bytes are exactly ours."""

import ssl
import time

import pytest

from harness import client_ctx, make_message, new_marker, wait_until
from smtpraw import Closed, RawSMTP, queued_id

ALICE = "alice@example.test"
SENDER = "someone@remote.test"


def mx(mta):
    c = RawSMTP.to(mta["mx_plain"])
    c.ehlo()
    return c


def assert_headers_only(prefix):
    """What we find before our own message in a delivered file must be
    header fields the server prepended (name: or folded continuation)."""
    for line in prefix.split(b"\n"):
        if not line:
            continue
        assert line[:1] in (b" ", b"\t") or b":" in line.split(b" ")[0], \
            "unexpected line before the message: %r" % line


def delivered_exactly(mta, marker, message):
    """The one delivered copy holding marker ends with message (LF line
    ends) and has only header fields before it."""
    msgs = mta.mailbox(ALICE).wait_for(marker)
    time.sleep(0.3)
    msgs = mta.mailbox(ALICE).with_marker(marker)
    assert len(msgs) == 1, "%d copies delivered" % len(msgs)
    want = message.replace(b"\r\n", b"\n")
    raw = msgs[0]
    assert raw.endswith(want), "delivered:\n%r\nwanted the end:\n%r" % (
        raw, want)
    assert_headers_only(raw[:-len(want)])
    return raw


# ------------------------------------------------------------ pipelining

def test_pipelined_transaction(mta):
    marker = new_marker()
    with mx(mta) as c:
        c.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n"
               "RCPT TO:<nobody@example.test>\r\n"
               "RCPT TO:<victim@elsewhere.test>\r\nDATA\r\n" % (SENDER, ALICE))
        r = c.replies(5)
        got = [(x.code, x.enhanced) for x in r]
        assert [g[0] for g in got] == [250, 250, 550, 550, 354], r
        assert got[2][1] == "5.1.1" and got[3][1] == "5.7.1", r
        msg = make_message(SENDER, ALICE, marker)
        # end of data, a whole second transaction and NOOP in one write
        marker2 = new_marker()
        c.send(msg + b".\r\nMAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (
            SENDER.encode(), ALICE.encode()))
        r = c.replies(4)
        assert [x.code for x in r] == [250, 250, 250, 354], r
        queued_id(r[0])
        msg2 = make_message(SENDER, ALICE, marker2)
        c.send(msg2 + b".\r\nNOOP\r\nQUIT\r\n")
        r = c.replies(3)
        assert [x.code for x in r] == [250, 250, 221], r
        queued_id(r[0])
    delivered_exactly(mta, marker, msg)
    delivered_exactly(mta, marker2, msg2)


def test_pipelined_no_valid_recipient(mta):
    with mx(mta) as c:
        c.send("MAIL FROM:<%s>\r\nRCPT TO:<nobody@example.test>\r\n"
               "DATA\r\nNOOP\r\n" % SENDER)
        r = c.replies(4)
        assert [x.code for x in r][:2] == [250, 550], r
        assert r[2].code in (503, 554), "DATA without recipients: %r" % r
        assert r[3].code == 250, r


# ------------------------------------------------------------ BDAT

def test_bdat_exact_bytes(mta):
    """CHUNKING (RFC 3030): no dot-unstuffing, no end marker; a chunk
    holding CRLF.CRLF and command text ends nothing; 8-bit bytes and
    control characters arrive unchanged; a CRLF split across chunks stays
    one line end."""
    marker = new_marker().encode()
    chunk1 = (b"From: " + SENDER.encode() + b"\r\nTo: " + ALICE.encode() +
              b"\r\nSubject: bdat " + marker + b"\r\n\r\n"
              b"8-bit \xc3\xa9\xe2\x82\xac \xff\x80 ctrl \x01\x1b\x7f\ttab\r\n"
              b".\r\nMAIL FROM:<evil@remote.test>\r\nRCPT TO:<" +
              ALICE.encode() + b">\r\nDATA\r\n..two dots\r\n.one dot\r\n"
              b"split line end\r")
    chunk2 = (b"\n.\r\nQUIT\r\nlast line " + marker + b"\r\n")
    with mx(mta) as c:
        c.expect("MAIL FROM:<%s> BODY=8BITMIME" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        c.send(b"BDAT %d\r\n" % len(chunk1) + chunk1)
        r = c.reply()
        assert r.code == 250, r
        assert c.quiet(0.3), "extra reply after the first chunk: %r" % c.buf
        c.send(b"BDAT %d LAST\r\n" % len(chunk2) + chunk2)
        queued_id(c.reply())
        assert c.quiet(0.5), "extra reply: %r" % c.buf
        c.expect("QUIT", 221)
    delivered_exactly(mta, marker.decode(), chunk1 + chunk2)


def test_bdat_pipelined_chunks(mta):
    marker = new_marker().encode()
    msg = (b"From: " + SENDER.encode() + b"\r\nSubject: chunks " + marker +
           b"\r\n\r\n" + b"".join(b"line %d\r\n" % i for i in range(200)))
    parts = [msg[:17], msg[17:1000], msg[1000:]]
    wire = b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n" % (SENDER.encode(),
                                                   ALICE.encode())
    for p in parts:
        wire += b"BDAT %d\r\n" % len(p) + p
    wire += b"BDAT 0 LAST\r\n"
    with mx(mta) as c:
        c.send(wire)
        r = c.replies(6)
        assert [x.code for x in r] == [250] * 6, r
        queued_id(r[5])
    delivered_exactly(mta, marker.decode(), msg)


def test_bdat_then_data_is_refused(mta):
    """RFC 3030 §3: DATA after BDAT in one transaction is a 503."""
    with mx(mta) as c:
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        c.send(b"BDAT 5\r\nhello")
        assert c.reply().code == 250
        r = c.cmd("DATA")
        assert r.code == 503, r
        c.expect("RSET", 250)


# ------------------------------------------------------------ smuggling

SMUGGLE = {
    "lf-dot-crlf": b"\n.\r\n",
    "lf-dot-lf": b"\n.\n",
    "cr-dot-cr": b"\r.\r",
    "crlf-dot-lf": b"\r\n.\n",
    "crlf-dot-cr": b"\r\n.\r",
    "lf-dot-cr": b"\n.\r",
    "cr-dot-crlf": b"\r.\r\n",
    "cr-dot-lf": b"\r.\n",
}


def smuggle_payload(marker, seq):
    """A message whose body holds `seq` followed by a complete second SMTP
    transaction; a vulnerable server ends the first message at seq and
    queues the smuggled one."""
    m = marker.encode()
    head = make_message(SENDER, ALICE, marker, body="before " + marker)
    smuggled = (b"MAIL FROM:<evil@remote.test>\r\nRCPT TO:<" +
                ALICE.encode() + b">\r\nDATA\r\nFrom: evil@remote.test\r\n"
                b"Subject: smuggled " + m + b"\r\n\r\nsmuggled body " + m)
    return head[:-2] + seq + smuggled + b"\r\n.\r\n"


def send_smuggle(c, marker, seq):
    c.expect("MAIL FROM:<%s>" % SENDER, 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.expect("DATA", 354)
    c.send(smuggle_payload(marker, seq))
    r = c.reply()
    assert c.quiet(0.5), "more replies after the end of data: %r -> %r" % (
        r, c.buf)
    return r


@pytest.mark.parametrize("seq", list(SMUGGLE))
def test_smuggling_normalize(mta, seq):
    """bare_newline = normalize (the default): one message, holding the
    smuggled text, with the bare line ends turned into real ones."""
    marker = new_marker()
    with mx(mta) as c:
        queued_id(send_smuggle(c, marker, SMUGGLE[seq]))
        c.expect("QUIT", 221)
    msgs = mta.mailbox(ALICE).wait_for(marker)
    time.sleep(0.5)
    msgs = mta.mailbox(ALICE).with_marker(marker)
    assert len(msgs) == 1, "%d messages: the data ended early" % len(msgs)
    raw = msgs[0]
    assert b"\r" not in raw, "bare CR left in the delivered message"
    i = raw.index(b"before " + marker.encode())
    j = raw.index(b"MAIL FROM:<evil@remote.test>")
    between = raw[i + len("before " + marker):j]
    assert between and set(between) <= set(b".\n"), between
    assert b"\n.\n" in between or b"\n\n" in between, between
    assert raw.rstrip(b"\n").endswith(b"smuggled body " + marker.encode())


@pytest.fixture(scope="module")
def mta_reject(module_daemons, certs):
    cfg = module_daemons.config([certs["ec"]], ipv6=False)
    cfg.server["bare_newline"] = "reject"
    return module_daemons.start(cfg)


@pytest.mark.parametrize("seq", list(SMUGGLE))
def test_smuggling_reject(mta_reject, seq):
    """bare_newline = reject: 550 5.6.0 at the real end, nothing queued,
    the session in sync (a clean message right after is accepted)."""
    marker = new_marker()
    sentinel = new_marker()
    with mx(mta_reject) as c:
        r = send_smuggle(c, marker, SMUGGLE[seq])
        assert (r.code, r.enhanced) == (550, "5.6.0"), r
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        queued_id(c.data(make_message(SENDER, ALICE, sentinel)))
        c.expect("QUIT", 221)
    mta_reject.mailbox(ALICE).wait_for(sentinel)
    time.sleep(0.3)
    assert mta_reject.mailbox(ALICE).with_marker(marker) == []
    wait_until(lambda: mta_reject.queue_ids() == set(), 5,
               what="an empty queue")


def test_bare_lf_in_bdat_reject(mta_reject):
    with mx(mta_reject) as c:
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        chunk = b"Subject: bare\r\n\r\nline\nline\r\n"
        c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
        r = c.reply()
        assert (r.code, r.enhanced) == (550, "5.6.0"), r


# ------------------------------------------------------------ dot-unstuffing

def test_dot_unstuffing(mta):
    """RFC 5321 §4.5.2: a leading dot is removed, once, from every line."""
    marker = new_marker()
    head = make_message(SENDER, ALICE, marker, body="first")
    wire = head + (b"..leading\r\n...\r\n.. space\r\n..\r\nmid.dle.\r\n"
                   b"....four\r\nlast\r\n.\r\n")
    want = head + (b".leading\r\n..\r\n. space\r\n.\r\nmid.dle.\r\n"
                   b"...four\r\nlast\r\n")
    with mx(mta) as c:
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        c.expect("DATA", 354)
        c.send(wire)
        queued_id(c.reply())
    delivered_exactly(mta, marker, want)


def test_data_empty_lines_and_long_text_line(mta):
    """A text line of 998 octets + CRLF is legal (RFC 5322 §2.1.1)."""
    marker = new_marker()
    msg = make_message(SENDER, ALICE, marker,
                       body="\r\n\r\n" + "z" * 998 + "\r\n\r\nend")
    with mx(mta) as c:
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        queued_id(c.data(msg))
    delivered_exactly(mta, marker, msg)


def test_data_text_line_too_long(mta):
    marker = new_marker()
    msg = make_message(SENDER, ALICE, marker, body="w" * 1200)
    with mx(mta) as c:
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        r = c.data(msg)
        assert (r.code, r.enhanced) == (550, "5.6.0"), r
        c.expect("NOOP", 250)


# ------------------------------------------------------------ STARTTLS

@pytest.mark.parametrize("name", ["mx", "submission"])
@pytest.mark.parametrize("split", [False, True])
def test_starttls_injection(mta, name, split):
    """RFC 3207 §4.2 / CVE-2011-0411: plaintext sent after STARTTLS must be
    discarded, never executed inside the TLS session. Either the handshake
    fails, or the first reply after TLS is the one to our own EHLO and
    nothing else follows."""
    c = RawSMTP.to(mta[name])
    try:
        c.ehlo()
        if split:
            c.send(b"STARTTLS\r\n")
            c.send(b"RSET\r\nNOOP\r\n")
        else:
            c.send(b"STARTTLS\r\nRSET\r\nNOOP\r\n")
        r = c.reply()
        assert r.code == 220, r
        if c.buf:
            return  # plaintext answer to the injection: handshake would fail
        try:
            c.sock = client_ctx().wrap_socket(c.sock)
        except (ssl.SSLError, OSError):
            return  # connection failed: acceptable
        try:
            c.send(b"EHLO after.example.test\r\n")
            r = c.reply()
        except (Closed, ssl.SSLError, OSError):
            return
        assert r.code == 250 and r.lines[0].startswith("mail.example.test"), \
            "first reply after TLS is not the EHLO reply: %r" % r
        assert len(r.lines) > 1, "EHLO reply has no extensions: %r" % r
        assert c.quiet(0.5), "extra data after EHLO: %r" % c.buf
        r = c.cmd("MAIL FROM:<>")
        assert r.code in (250, 530), r
    finally:
        c.close()
