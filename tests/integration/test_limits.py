# SPDX-License-Identifier: ISC
"""Resource limits: timeouts (command, data, TLS handshake), deadlines
that trickled bytes do not extend (TLS handshake, whole message), stress
mode under connection pressure, max_errors, connection limits per client
address and in total (and their log lines)."""

import re
import select
import socket
import ssl
import time

import pytest

from harness import HOSTNAME, SLOW, client_ctx, make_message, new_marker
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
        "data_total_timeout": "4s",
        "max_errors": "3",
        "max_connections_per_ip": "3",
        "max_connections": "5",
        # Idle connections time out after 2 s here: a pregreet wait per
        # new client address would eat into that (test_abuse.py tests it).
        "pregreet_wait": "0",
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


def start_data(c):
    c.ehlo()
    c.expect("MAIL FROM:<%s>" % SENDER, 250)
    c.expect("RCPT TO:<%s>" % ALICE, 250)
    c.expect("DATA", 354)


def test_data_timeout(lim):
    marker = new_marker()
    with RawSMTP.to(lim["mx_plain"], timeout=15) as c:
        start_data(c)
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


# ------------------------------------------------ deadlines, not idle timers

def client_hello():
    """The first flight of a real TLS client (a ClientHello record)."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx().wrap_bio(inc, out, server_hostname=HOSTNAME)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    assert len(hello) > 50, hello
    return hello


def drip_until_closed(sock, data, every=1.0, limit=12):
    """Send data one byte every `every` seconds; seconds until the server
    closed the connection (None if it was still open after `limit`)."""
    t0 = time.monotonic()
    for b in data:
        try:
            sock.send(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - t0
        end = time.monotonic() + every
        while time.monotonic() < end:
            r, _, _ = select.select([sock], [], [], end - time.monotonic())
            if r:
                try:
                    if sock.recv(4096) == b"":
                        return time.monotonic() - t0
                except ConnectionResetError:
                    return time.monotonic() - t0
        if time.monotonic() - t0 > limit:
            return None
    return None


def test_tls_handshake_deadline_implicit_drip(lim):
    """A ClientHello dripped a byte a second (each byte within the 2 s
    tls_handshake_timeout of the last) is cut off 2 s after the accept:
    the timeout is a deadline for the whole handshake."""
    lst = lim["submissions"]
    with socket.create_connection((lst.host, lst.port), timeout=15) as s:
        dt = drip_until_closed(s, client_hello())
    assert dt is not None, "dripping client still connected after 12 s"
    assert 1.5 <= dt <= HANDSHAKE_MAX * SLOW, "closed after %.1fs" % dt


def test_tls_handshake_deadline_starttls_drip(lim):
    with RawSMTP.to(lim["submission"], timeout=15) as c:
        c.ehlo()
        c.expect("STARTTLS", 220)
        dt = drip_until_closed(c.sock, client_hello())
    assert dt is not None, "dripping client still connected after 12 s"
    assert 1.5 <= dt <= HANDSHAKE_MAX * SLOW, "closed after %.1fs" % dt


def drip_lines(c, lines, every=1.0, limit=12):
    """Send a line every `every` seconds until a reply comes; returns
    (seconds, reply) or (None, None) after `limit` seconds."""
    t0 = time.monotonic()
    for ln in lines:
        c.send(ln)
        end = time.monotonic() + every
        while time.monotonic() < end:
            r, _, _ = select.select([c.sock], [], [], end - time.monotonic())
            if r:
                return time.monotonic() - t0, c.reply()
        if time.monotonic() - t0 > limit:
            break
    return None, None


def test_data_total_deadline(lim):
    """A message trickled a line a second never trips the 2 s
    data_timeout, but it ends at data_total_timeout (4 s) with 421."""
    marker = new_marker()
    with RawSMTP.to(lim["mx_plain"], timeout=15) as c:
        start_data(c)
        head = make_message(SENDER, ALICE, marker)
        dt, r = drip_lines(c, [head] + [b"line %d\r\n" % i
                                        for i in range(30)])
        assert r is not None, "trickled DATA still open after 12 s"
        assert (r.code, r.enhanced) == (421, "4.4.2"), r
        assert 3.5 <= dt <= 7 * SLOW, "421 after %.1fs" % dt
        assert c.closed()
    time.sleep(0.5)
    assert lim.mailbox(ALICE).with_marker(marker) == []


def test_data_total_deadline_bdat(lim):
    """BDAT chunks a second apart: each is answered, the message as a
    whole is cut at data_total_timeout."""
    with RawSMTP.to(lim["mx_plain"], timeout=15) as c:
        c.ehlo()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        t0 = time.monotonic()
        last = None
        for i in range(12):
            c.send(b"BDAT 8\r\nchunk%02d\n" % i)
            r = c.reply()
            if r.code != 250:
                last = r
                break
            time.sleep(1)
        dt = time.monotonic() - t0
        assert last is not None, "BDAT chunks accepted for 12 s"
        assert (last.code, last.enhanced) == (421, "4.4.2"), last
        assert 3.5 <= dt <= 7 * SLOW, "421 after %.1fs" % dt


def test_data_total_deadline_is_per_message(lim):
    """A message abandoned after a BDAT chunk (RSET) takes its deadline
    with it: the next message, sent by DATA, gets the whole 4 s."""
    marker = new_marker()
    with RawSMTP.to(lim["mx_plain"], timeout=15) as c:
        c.ehlo()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        c.send(b"BDAT 8\r\nchunk00\n")
        assert c.reply().code == 250
        c.expect("RSET", 250)
        for _ in range(2):
            time.sleep(1)
            c.expect("NOOP", 250)
        time.sleep(0.5)
        # 2.5 s after the BDAT: the message's end comes 2 s later.
        start_data(c)
        head = make_message(SENDER, ALICE, marker)
        dt, r = drip_lines(c, [head, b"line 0\r\n", b".\r\n"])
        assert r is not None, "no reply to the end of the message"
        assert r.code == 250, "after %.1fs: %r" % (dt, r)


# ------------------------------------------------------------ refusal logs

def test_limit_refusals_are_logged(lim):
    """Every refusal kind is logged with the client address; a burst is
    rate-limited to a line a second per kind and worker, and a later line
    counts the refusals held back."""
    time.sleep(0.5)
    held = []

    def keep_held():
        # command_timeout is 2 s here: a slow run (sanitizers, a loaded
        # machine) would otherwise see the held sessions end and a new
        # one greeted.
        for h in held:
            h.expect("NOOP", 250)
    try:
        for _ in range(3):
            held.append(connect(lim, "127.0.0.8"))
            assert held[-1].greeting.code == 220
        for _ in range(10):
            keep_held()
            c = connect(lim, "127.0.0.8", greeting=False)
            assert refused(c)
            c.close()

        def lines():
            return [ln for ln in lim.log_text().splitlines()
                    if "smtp refused addr=127.0.0.8 limit=per-ip" in ln]
        burst = lines()
        assert 1 <= len(burst) <= 4, burst
        # Later refusals report what the burst held back.
        deadline = time.monotonic() + 10 * SLOW
        keep_held()
        time.sleep(1.1)
        while not any("suppressed=" in ln for ln in lines()):
            assert time.monotonic() < deadline, lines()
            keep_held()
            c = connect(lim, "127.0.0.8", greeting=False)
            assert refused(c)
            c.close()
            time.sleep(0.3)
        sup = [int(m) for ln in lines()
               for m in re.findall(r"suppressed=(\d+)", ln)]
        assert sum(sup) + len(burst) <= 10 + len(lines()), lines()
        # The total limit (5) has its own line.
        for src in ("127.0.0.9", "127.0.0.9"):
            held.append(connect(lim, src))
        c = connect(lim, "127.0.0.10", greeting=False)
        held.append(c)
        assert refused(c)
        time.sleep(0.2)
        assert "smtp refused addr=127.0.0.10 limit=total" in \
            lim.log_text()
    finally:
        for c in held:
            c.close()


# -------------------------------------------------------------- stress mode

def test_stress_mode_shortens_idle_timeouts(daemons, certs):
    """At 80% of max_connections idle sessions get stress_timeout (1 s)
    instead of command_timeout (30 s), the ones already waiting too; below
    80% again the normal timeout is back."""
    cfg = daemons.config([certs["ec"]], ipv6=False)
    cfg.server.update({"workers": "1", "max_connections": "5",
                       "max_connections_per_ip": "5",
                       "command_timeout": "30s", "stress_timeout": "1s"})
    d = daemons.start(cfg)
    lst = d["mx_plain"]
    held = [RawSMTP.to(lst, timeout=15) for _ in range(3)]
    try:
        assert held[0].quiet(2.0) and not held[0].buf, \
            "timed out below the pressure mark"
        held.append(RawSMTP.to(lst, timeout=15))     # 4 of 5: stress
        t0 = time.monotonic()
        for c in held:
            r = c.reply()
            assert (r.code, r.enhanced) == (421, "4.4.2"), r
        dt = time.monotonic() - t0
        assert dt <= 3 * SLOW, "stress timeouts after %.1fs" % dt
        for c in held:
            assert c.closed()
        text = d.log_text()
        assert "smtp stress on connections=4 max=5" in text, text[-2000:]
        assert "smtp stress off" in text, text[-2000:]
        with RawSMTP.to(lst, timeout=15) as c:
            assert c.quiet(2.0) and not c.buf, "stress mode stayed on"
    finally:
        for c in held:
            c.close()
