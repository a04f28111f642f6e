# SPDX-License-Identifier: ISC
"""The PROXY protocol ([listen] proxy_protocol = yes, proxy_from), with
raw sockets playing the load balancer: v1 and v2 headers make the address
they name the client's in the log, Received, relay decisions and the
per-IP connection limit; the proxy's own address is never trusted; a
header from a peer outside proxy_from, a malformed header or none is
dropped and logged; LOCAL (a health check) gets the greeting at once,
without the pregreet wait; the TLS and SMTP bytes right behind a header
stay for the session. test_haproxy.py does the same through HAProxy."""

import re
import socket
import struct
import time

import pytest

from harness import (HOSTNAME, SLOW, USERS, Config, client_ctx, make_message,
                     new_marker, run_cli, wait_until)
from mailcheck import check_received
from smtpraw import RawSMTP, queued_id

ALICE = "alice@example.test"
SENDER = "someone@remote.test"
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
# trusted_networks below: relaying by the header's address only.
TRUSTED_CLIENT = "10.9.8.7"


def v1(src, dst, sport, dport, proto=None):
    proto = proto or ("TCP6" if ":" in src else "TCP4")
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport,
                                          dport)).encode()


def v2(src=None, dst=None, sport=0, dport=0, command=1, tlvs=b""):
    """A v2 header; src None: family UNSPEC (or LOCAL with command 0)."""
    if src is None:
        body, fam = b"", 0x00
    elif ":" in src:
        body = (socket.inet_pton(socket.AF_INET6, src) +
                socket.inet_pton(socket.AF_INET6, dst) +
                struct.pack(">HH", sport, dport))
        fam = 0x21
    else:
        body = (socket.inet_aton(src) + socket.inet_aton(dst) +
                struct.pack(">HH", sport, dport))
        fam = 0x11
    body += tlvs
    return V2_SIG + bytes([0x20 | command, fam]) + \
        struct.pack(">H", len(body)) + body


def tlv(kind, value):
    return bytes([kind]) + struct.pack(">H", len(value)) + value


@pytest.fixture(scope="module")
def px(module_daemons, certs):
    cfg = module_daemons.config([certs["ec"]], ipv6=False)
    cfg.server.update({
        "max_connections_per_ip": "3",
        # The proxy's own address is trusted here: it must not lend that
        # to the clients behind it, nor to its health checks.
        "trusted_networks": "10.9.8.0/24, 127.0.0.1",
        "pregreet_wait": "1s",
    })
    cfg.listen_proxied((("mxp", "mx", "starttls"),
                        ("plainp", "submission", "none"),
                        ("implicitp", "submission", "implicit")),
                       proxy_from="127.0.0.1, 127.0.0.2/32")
    return module_daemons.start(cfg)


def proxied(lst, header, source="127.0.0.1", tls=False, greeting=True):
    """Connect as the proxy, send header, then (implicit TLS) the
    handshake; the greeting is read unless greeting is False."""
    c = RawSMTP(lst.host, lst.port, source=source, greeting=False)
    c.send(header)
    if tls:
        c.sock = client_ctx().wrap_socket(c.sock, server_hostname=HOSTNAME)
        c.tls = True
    if greeting:
        c.greeting = c.reply()
    return c


def log_has(d, pattern, timeout=5):
    wait_until(lambda: re.search(pattern, d.log_text()), timeout,
               what="log line %r" % pattern)


def deliver(c, marker, rcpt=ALICE, frm=SENDER):
    c.ehlo()
    c.expect("MAIL FROM:<%s>" % frm, 250)
    c.expect("RCPT TO:<%s>" % rcpt, 250)
    return queued_id(c.data(make_message(frm, rcpt, marker)))


def test_v1_header_names_the_client(px):
    """The address and port of a v1 header are the client's in the log
    and in Received; the proxy (127.0.0.1) shows only as proxy=."""
    marker = new_marker()
    with proxied(px["mxp"], v1("192.0.2.7", "127.0.0.1", 40001, 25)) as c:
        assert c.greeting.code == 220
        qid = deliver(c, marker)
        c.cmd("QUIT")
    raw = px.mailbox(ALICE).wait_for(marker)[0]
    check_received(raw, qid, "ESMTP", False, helo="client.example.test",
                   addr="192.0.2.7")
    log_has(px, r"smtp proxy addr=192\.0\.2\.7 port=40001 "
            r"proxy=127\.0\.0\.1 version=1\b")
    log_has(px, r"smtp connect addr=192\.0\.2\.7 listener=mxp")


def test_v2_ipv6_with_tlvs(px):
    """v2 over INET6 with TLVs (ALPN, NOOP, one of our own): skipped;
    the IPv6 client shows in Received."""
    marker = new_marker()
    hdr = v2("2001:db8::25", "::1", 50123, 25,
             tlvs=tlv(0x01, b"smtp") + tlv(0x04, b"") + tlv(0xe5, b"x" * 300))
    with proxied(px["mxp"], hdr) as c:
        assert c.greeting.code == 220
        qid = deliver(c, marker)
    raw = px.mailbox(ALICE).wait_for(marker)[0]
    check_received(raw, qid, "ESMTP", False, addr="2001:db8::25")
    log_has(px, r"smtp proxy addr=2001:db8::25 port=50123 "
            r"proxy=127\.0\.0\.1 version=2\b")


def test_bytes_after_header_stay_for_the_session(px):
    """A header and the first command in one segment: the command is
    read by the session (no pregreet wait on submission)."""
    c = RawSMTP(px["plainp"].host, px["plainp"].port, greeting=False)
    with c:
        c.send(v1("192.0.2.8", "127.0.0.1", 1, 587) +
               b"EHLO client.example.test\r\n")
        assert c.reply().code == 220
        r = c.reply()
        assert r.code == 250 and r.lines[0].startswith(HOSTNAME), r


def test_implicit_tls_after_header(px):
    """Implicit TLS: the header comes first, then the handshake; AUTH
    and a message go through, Received names the header's client."""
    marker = new_marker()
    with proxied(px["implicitp"], v2("198.51.100.23", "127.0.0.1", 4242,
                                     465), tls=True) as c:
        assert c.greeting.code == 220
        c.ehlo()
        c.login(ALICE, USERS[ALICE])
        qid = deliver(c, marker, frm=ALICE)
    raw = px.mailbox(ALICE).wait_for(marker)[0]
    check_received(raw, qid, "ESMTPSA", True, addr="198.51.100.23")


def relay_reply(c):
    c.ehlo()
    c.expect("MAIL FROM:<%s>" % SENDER, 250)
    return c.cmd("RCPT TO:<someone@elsewhere.test>")


def test_relay_decided_by_header_address(px):
    """trusted_networks applies to the header's address: 10.9.8.7
    relays; 203.0.113.5 behind the same (trusted) proxy does not, nor
    does the proxy's own health check (LOCAL, or a header naming the
    proxy) or a v1 UNKNOWN."""
    with proxied(px["mxp"], v1(TRUSTED_CLIENT, "127.0.0.1", 2, 25)) as c:
        r = relay_reply(c)
        assert r.code == 250, r
    with proxied(px["mxp"], v1("203.0.113.5", "127.0.0.1", 2, 25)) as c:
        r = relay_reply(c)
        assert r.code == 554 or r.code == 550, r
    with proxied(px["mxp"], v2(command=0)) as c:
        r = relay_reply(c)
        assert r.code in (550, 554), r
    with proxied(px["mxp"], b"PROXY UNKNOWN\r\n") as c:
        r = relay_reply(c)
        assert r.code in (550, 554), r
    # A header naming the proxy itself (HAProxy's v1 health checks).
    with proxied(px["mxp"], v1("127.0.0.1", "127.0.0.1", 6, 25)) as c:
        assert len(c.greeting.lines) == 1, c.greeting
        r = relay_reply(c)
        assert r.code in (550, 554), r


def test_local_command_has_no_pregreet_wait(px):
    """A LOCAL header (HAProxy's health check) gets a one-line greeting
    at once; a new client behind the proxy gets "220-" and the wait."""
    with proxied(px["mxp"], v2(command=0)) as c:
        assert c.greeting.code == 220
        # One line: no "220-" first, so no wait behind it.
        assert len(c.greeting.lines) == 1, c.greeting
        c.expect("QUIT", 221)
    log_has(px, r"smtp proxy addr=127\.0\.0\.1 port=\d+ proxy=127\.0\.0\.1 "
            r"version=2 command=local")
    t0 = time.monotonic()
    with proxied(px["mxp"], v1("192.0.2.99", "127.0.0.1", 3, 25)) as c:
        assert c.greeting.code == 220
        assert len(c.greeting.lines) == 2, c.greeting
        assert time.monotonic() - t0 >= 0.9


def test_per_ip_limit_counts_header_address(px):
    """max_connections_per_ip = 3 counts the header's client: a fourth
    session of 192.0.2.50 is refused while 192.0.2.51, through the same
    proxy, gets in."""
    held = []
    try:
        for i in range(3):
            held.append(proxied(px["plainp"],
                                v1("192.0.2.50", "127.0.0.1", 100 + i, 587)))
            assert held[-1].greeting.code == 220
        extra = proxied(px["plainp"], v1("192.0.2.50", "127.0.0.1", 9, 587))
        held.append(extra)
        assert extra.greeting.code == 421, extra.greeting
        other = proxied(px["plainp"], v1("192.0.2.51", "127.0.0.1", 9, 587))
        held.append(other)
        assert other.greeting.code == 220
        log_has(px, r"smtp refused addr=192\.0\.2\.50 limit=per-ip")
    finally:
        for c in held:
            c.close()


def test_auth_failures_count_header_address(px):
    """AUTH failure delays are kept per header address: the second wrong
    password from 192.0.2.61 waits, counted as its second failure, while
    a right one from 192.0.2.62 through the same proxy does not."""
    for i in (1, 2):
        with proxied(px["implicitp"], v1("192.0.2.61", "127.0.0.1", i, 465),
                     tls=True) as c:
            c.ehlo()
            t0 = time.monotonic()
            r = c.auth_plain(ALICE, "wrong-%d" % i)
            assert r.code == 535, r
    assert time.monotonic() - t0 >= 1.5
    log_has(px, r"smtp auth result=fail user=\S+ addr=192\.0\.2\.61 "
            r"failures=2 ")
    with proxied(px["implicitp"], v1("192.0.2.62", "127.0.0.1", 1, 465),
                 tls=True) as c:
        c.ehlo()
        t0 = time.monotonic()
        c.login(ALICE, USERS[ALICE])
        assert time.monotonic() - t0 < 0.9 * SLOW


def test_peer_outside_proxy_from_is_refused(px):
    """127.0.0.9 is no proxy: its header is never read, the connection
    is closed without a word, and the refusal is logged."""
    c = RawSMTP(px["mxp"].host, px["mxp"].port, source="127.0.0.9",
                greeting=False)
    with c:
        c.send(v1(TRUSTED_CLIENT, "127.0.0.1", 5, 25))
        assert c.closed()
        assert c.buf == b""
    log_has(px, r"smtp proxy refused addr=127\.0\.0\.9 listener=mxp "
            r"reason=not-in-proxy_from")


@pytest.mark.parametrize("data,reason", [
    (b"EHLO client.example.test\r\n", "no-proxy-header"),
    (b"PROXY TCP4 192.0.2.1 127.0.0.1 99999 25\r\n", "v1-syntax"),
    (b"PROXY TCP4 192.0.2.1 127.0.0.1 1 25\n", "v1-syntax"),
    (b"PROXY UNKNOWN " + b"x" * 100 + b"\r\n", "v1-too-long"),
    (V2_SIG + b"\x21\x11\x00\x0b" + b"\x00" * 11, "v2-length"),
    (V2_SIG + b"\x23\x11\x00\x0c" + b"\x00" * 12, "v2-version"),
    (V2_SIG + b"\x21\x11\x00\x0f" + b"\x00" * 12 + b"\x04\x00\x09",
     "v2-tlv"),
])
def test_malformed_header_is_dropped(px, data, reason):
    c = RawSMTP(px["mxp"].host, px["mxp"].port, source="127.0.0.2",
                greeting=False)
    with c:
        c.send(data)
        assert c.closed()
        assert c.buf == b"", c.buf
    log_has(px, r"smtp proxy dropped proxy=127\.0\.0\.2 listener=mxp "
            r"reason=%s" % reason)


def test_missing_header_times_out(px):
    """A proxy that sends nothing is dropped after 10 s (a deadline)."""
    c = RawSMTP(px["plainp"].host, px["plainp"].port, greeting=False,
                timeout=20)
    with c:
        t0 = time.monotonic()
        assert c.closed(wait=15)
        assert 9 <= time.monotonic() - t0 <= 15 * SLOW
    log_has(px, r"smtp proxy dropped proxy=127\.0\.0\.1 listener=plainp "
            r"reason=timeout")


def test_dribbled_header_is_read(px):
    """A header that arrives a few bytes at a time is still read (the
    parser waits for the rest; nothing is taken from behind it)."""
    hdr = v2("192.0.2.77", "127.0.0.1", 7, 587) + b"EHLO x\r\n"
    c = RawSMTP(px["plainp"].host, px["plainp"].port, greeting=False)
    with c:
        for i in range(0, len(hdr), 5):
            c.send(hdr[i:i + 5])
            time.sleep(0.02)
        assert c.reply().code == 220
        assert c.reply().code == 250
    log_has(px, r"smtp connect addr=192\.0\.2\.77 listener=plainp")


def test_check_config_needs_proxy_from(tmp_path, certs):
    """proxy_protocol = yes without proxy_from is an error (anyone could
    send a header naming a trusted address); with it, the config is
    fine."""
    cfg = Config(str(tmp_path), [certs["ec"]])
    lst = cfg.listen("mx", "mx", "starttls")
    lst.options["proxy_protocol"] = "yes"
    r = run_cli(cfg.write(), "check-config")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert re.search(r'\[listen "mx"\] proxy_from: missing: '
                     r'proxy_protocol = yes needs', r.stderr), r.stderr
    lst.options["proxy_from"] = "10.0.0.5"
    r = run_cli(cfg.write(), "check-config")
    assert r.returncode == 0, r.stderr
    assert "proxy_protocol = yes" in r.stdout
    assert "proxy_from = 10.0.0.5/32" in r.stdout
