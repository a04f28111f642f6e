# SPDX-License-Identifier: ISC
"""Assertions on delivered messages and smtplib helpers shared by tests."""

import re
import smtplib

from harness import HOSTNAME, SLOW, USERS, client_ctx, header_values
from smtpraw import Reply, queued_id

CLIENT_NAME = "client.example.test"


def smtp_connect(lst, ctx=None, helo=CLIENT_NAME, source=None):
    """smtplib session to a Listener, TLS done (STARTTLS or implicit) unless
    its mode is none, EHLO sent; returns the smtplib object."""
    kw = dict(local_hostname=helo, timeout=10 * SLOW)
    if source:
        kw["source_address"] = (source, 0)
    if lst.tls == "implicit":
        s = smtplib.SMTP_SSL(lst.host, lst.port, context=ctx or client_ctx(),
                             **kw)
    else:
        s = smtplib.SMTP(lst.host, lst.port, **kw)
    s.ehlo()
    if lst.tls == "starttls":
        assert s.has_extn("starttls"), "STARTTLS not offered on %r" % lst
        code, msg = s.starttls(context=ctx or client_ctx())
        assert code == 220, (code, msg)
        s.ehlo()
    return s


def login(s, user="alice@example.test"):
    code, msg = s.login(user, USERS[user])
    assert code == 235, (code, msg)


def send(s, frm, rcpts, msg):
    """MAIL/RCPT/DATA through smtplib; returns the queue id of the 250."""
    code, resp = s.mail(frm)
    assert code == 250, "MAIL FROM:<%s> -> %d %r" % (frm, code, resp)
    for r in rcpts:
        code, resp = s.rcpt(r)
        assert code == 250, "RCPT TO:<%s> -> %d %r" % (r, code, resp)
    code, resp = s.data(msg)
    return queued_id(Reply(code, [resp.decode()]))


def check_received(raw, qid, proto, tls, helo=CLIENT_NAME,
                   addr="127.0.0.1", rcpt="alice@example.test"):
    """The top Received field of a delivered message describes this hop:
    RFC 3848 protocol, RFC 8314 tls clause and cipher comment iff TLS.
    Local delivery writes Return-Path and Delivered-To above it."""
    raw = re.sub(rb"\A(Return-Path|Delivered-To):[^\n]*\n"
                 rb"(Delivered-To:[^\n]*\n)?", b"", raw)
    assert raw.startswith(b"Received:"), \
        "message does not start with our Received field: %r" % raw[:200]
    rec = header_values(raw, "Received")[0]
    assert rec.startswith("from %s " % helo), rec
    assert "[%s]" % addr in rec or "[IPv6:%s]" % addr in rec, rec
    assert "by %s" % HOSTNAME in rec, rec
    assert re.search(r"\bwith %s\b" % proto, rec), \
        "wanted 'with %s' in %r" % (proto, rec)
    assert "id %s" % qid in rec, rec
    if rcpt:
        assert "for <%s>" % rcpt in rec, rec
    if tls:
        assert re.search(r"\btls TLS_[A-Z0-9_]+", rec), rec
        assert re.search(r"using TLSv1\.[23] with cipher \S+", rec), rec
    else:
        assert not re.search(r"\btls\s", rec), rec
        assert "using TLS" not in rec, rec
    return rec
