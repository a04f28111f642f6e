# SPDX-License-Identifier: ISC
"""Resource limits: timeouts (command, data, TLS handshake), max_errors,
connection limits per client address and in total."""

import time

import pytest

from harness import SLOW, make_message, new_marker
from smtpraw import Closed, RawSMTP

ALICE = "alice@example.test"
SENDER = "someone@remote.test"


@pytest.fixture(scope="module")
def lim(module_daemons, certs):
    cfg = module_daemons.config([certs["ec"]], ipv6=False)
    cfg.server.update({
        "command_timeout": "2s",
        "data_timeout": "2s",
        "tls_handshake_timeout": "2s",
        "max_errors": "3",
        "max_connections_per_ip": "3",
        "max_connections": "5",
    })
    return module_daemons.start(cfg)


def wait_421_and_close(c, lo, hi):
    t0 = time.monotonic()
    r = c.reply()
    dt = time.monotonic() - t0
    assert r.code == 421, r
    assert lo <= dt <= hi * SLOW, "421 after %.2fs" % dt
    assert c.closed(), "connection still open after 421"
    return dt


def test_command_timeout(lim):
    with RawSMTP.to(lim["mx_plain"], timeout=15) as c:
        wait_421_and_close(c, 1.5, 8)


def test_command_timeout_is_per_command(lim):
    """Activity resets the timer: 4 s of NOOPs a second apart survive."""
    with RawSMTP.to(lim["mx_plain"], timeout=15) as c:
        for _ in range(4):
            time.sleep(1)
            c.expect("NOOP", 250)
        wait_421_and_close(c, 1.5, 8)


def test_data_timeout(lim):
    marker = new_marker()
    with RawSMTP.to(lim["mx_plain"], timeout=15) as c:
        c.ehlo()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        c.expect("DATA", 354)
        c.send(make_message(SENDER, ALICE, marker))
        wait_421_and_close(c, 1.5, 8)
    time.sleep(0.5)
    assert lim.mailbox(ALICE).with_marker(marker) == []


# A client that never completes the handshake holds its connection for
# tls_handshake_timeout (2 s here), plus a little slack, not more.
HANDSHAKE_MAX = 4.5


def test_tls_handshake_timeout_implicit(lim):
    c = RawSMTP(lim["submissions"].host, lim["submissions"].port, timeout=15,
                greeting=False)
    with c:
        t0 = time.monotonic()
        assert c.closed(wait=10), "no handshake and still open after 10s"
        dt = time.monotonic() - t0
        assert 1.5 <= dt <= HANDSHAKE_MAX * SLOW, "closed after %.1fs" % dt


def test_tls_handshake_timeout_starttls(lim):
    with RawSMTP.to(lim["submission"], timeout=15) as c:
        c.ehlo()
        c.expect("STARTTLS", 220)
        t0 = time.monotonic()
        assert c.closed(wait=10), "no handshake and still open after 10s"
        dt = time.monotonic() - t0
        assert 1.5 <= dt <= HANDSHAKE_MAX * SLOW, "closed after %.1fs" % dt


def test_max_errors(lim):
    """max_errors = 3: the third error (or the one after) ends the session
    with 421, and the connection is closed."""
    with RawSMTP.to(lim["mx_plain"]) as c:
        codes = []
        for i in range(5):
            try:
                r = c.cmd("BOGUS%d" % i)
            except Closed:
                break
            codes.append(r.code)
            if r.code == 421:
                break
        assert codes and codes[-1] == 421, codes
        assert codes[:-1] and all(500 <= x < 600 for x in codes[:-1]), codes
        assert 2 <= len(codes) - 1 <= 3, "421 after %d errors" % (
            len(codes) - 1)
        assert c.closed()


def test_max_errors_counts_rejected_recipients(lim):
    """Failed RCPTs are errors too (a dictionary attack); one good command
    in between does not reset the count."""
    with RawSMTP.to(lim["mx_plain"]) as c:
        c.ehlo()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        codes = []
        for i in range(5):
            try:
                r = c.cmd("RCPT TO:<guess%d@example.test>" % i)
                codes.append(r.code)
                if r.code == 421:
                    break
                r = c.cmd("NOOP")
            except Closed:
                break
            if r.code == 421:
                codes.append(r.code)
                break
            assert r.code == 250, r
        assert codes and codes[-1] == 421, codes
        assert 3 <= len(codes) <= 4, codes
        assert c.closed()


def refused(c):
    """True if a connection got no 220: a 421 reply, or a close."""
    try:
        r = c.reply()
    except (Closed, ConnectionResetError):
        return True
    assert r.code != 220, "greeted beyond the connection limit"
    assert r.code == 421, r
    return True


def connect(lim, source, greeting=True):
    lst = lim["mx_plain"]
    return RawSMTP(lst.host, lst.port, source=source, timeout=5,
                   greeting=greeting)


def test_max_connections_per_ip(lim):
    held = []
    try:
        for _ in range(3):
            held.append(connect(lim, "127.0.0.6"))
            assert held[-1].greeting.code == 220
        extra = connect(lim, "127.0.0.6", greeting=False)
        held.append(extra)
        assert refused(extra)
        # another address is not affected by 127.0.0.6's count
        other = connect(lim, "127.0.0.7")
        held.append(other)
        assert other.greeting.code == 220
        # a slot freed is usable again
        held[0].cmd("QUIT")
        held[0].close()
        deadline = time.monotonic() + 3 * SLOW
        while True:
            c = connect(lim, "127.0.0.6", greeting=False)
            held.append(c)
            try:
                r = c.reply()
            except Closed:
                r = None
            if r is not None and r.code == 220:
                break
            assert time.monotonic() < deadline, "slot not freed: %r" % r
            time.sleep(0.1)
    finally:
        for c in held:
            c.close()


def test_max_connections_total(lim):
    time.sleep(0.5)     # let the server see the previous tests' closes
    held = []
    try:
        for src in ("127.0.0.3", "127.0.0.3", "127.0.0.3",
                    "127.0.0.4", "127.0.0.4"):
            held.append(connect(lim, src))
            assert held[-1].greeting.code == 220
        extra = connect(lim, "127.0.0.5", greeting=False)
        held.append(extra)
        assert refused(extra)
    finally:
        for c in held:
            c.close()
    time.sleep(0.5)
