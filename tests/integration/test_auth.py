# SPDX-License-Identifier: ISC
"""SMTP AUTH beyond the basics of test_roles_tls.py: the empty initial
response (RFC 4954 §4), log lines that client text cannot forge fields
into, and password checks that do not hold up the worker's other
sessions."""

import base64
import os
import re
import socket
import ssl
import sqlite3
import threading
import time
import warnings

import pytest

from harness import HOSTNAME, USERS, client_ctx, wait_until
from smtpraw import RawSMTP

ALICE = "alice@example.test"


def test_auth_plain_empty_initial_response(mta):
    """'AUTH PLAIN =' is an initial response of zero length, not a request
    for a 334 challenge; an empty PLAIN message is malformed."""
    with RawSMTP.to(mta["submissions"], source="127.0.0.21") as c:
        c.ehlo()
        r = c.cmd("AUTH PLAIN =")
        assert (r.code, r.enhanced) == (501, "5.5.2"), r
        # Back to commands: the next line is a command, not a response.
        c.expect("NOOP", 250, "2.0.0")


def test_auth_login_empty_initial_response(mta):
    with RawSMTP.to(mta["submissions"], source="127.0.0.21") as c:
        c.ehlo()
        r = c.cmd("AUTH LOGIN =")
        assert (r.code, r.enhanced) == (501, "5.5.2"), r
        c.expect("NOOP", 250, "2.0.0")


# ------------------------------------------------------------ log fields

FIELD = re.compile(r'([a-z][a-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def log_fields(line):
    """(key, value) pairs of a log line as sealmail(8) defines them: a
    quoted value ends at the first unescaped quote."""
    out = []
    for k, v in FIELD.findall(line.split(": ", 1)[1]):
        if v.startswith('"'):
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        out.append((k, v))
    return out


def fail2ban_regex():
    """The failregex that man/sealmail.8 gives, as Python sees it."""
    man = os.path.join(os.path.dirname(__file__), "..", "..", "man",
                       "sealmail.8")
    with open(man) as f:
        line = next(ln for ln in f if ln.startswith("failregex = "))
    rx = line.split("= ", 1)[1].strip().replace("\\e", "\\")
    return re.compile(rx.replace("<HOST>", r"(?P<host>\S+)"))


def auth_fail_lines(d, sid_user):
    return [ln for ln in d.log_text().splitlines()
            if "smtp auth result=fail" in ln and sid_user in ln]


def test_auth_user_cannot_forge_log_fields(mta):
    """AUTH with a user name that looks like more fields is logged as
    one quoted value: the only addr= is the client's, and the fail2ban
    filter of sealmail(8) bans the client, not the address in the name."""
    forged = 'x addr=10.9.9.9 failures=99 "q\\'
    with RawSMTP.to(mta["submissions"], source="127.0.0.22",
                    timeout=40) as c:
        c.ehlo()
        r = c.auth_plain(forged, "wrong-password")
        assert (r.code, r.enhanced) == (535, "5.7.8"), r
    lines = []
    wait_until(lambda: lines.extend(auth_fail_lines(mta, "10.9.9.9")) or
               lines, 5, what="the AUTH failure log line")
    f = log_fields(lines[0])
    assert [v for k, v in f if k == "addr"] == ["127.0.0.22"], lines[0]
    assert [v for k, v in f if k == "user"] == [forged], lines[0]
    assert len([k for k, v in f if k == "failures"]) == 1, lines[0]
    m = fail2ban_regex().match(lines[0])
    assert m and m.group("host") == "127.0.0.22", (lines[0], m)


def test_helo_and_mail_from_are_quoted(mta):
    with RawSMTP.to(mta["mx_plain"]) as c:
        c.expect('EHLO x.example addr=10.8.8.8', 250)
        c.expect('MAIL FROM:<"a b addr=10.8.8.9"@client.example>', 250)
        c.expect("QUIT", 221)
    text = mta.log_text()
    ehlo = [ln for ln in text.splitlines() if "10.8.8.8" in ln]
    mail = [ln for ln in text.splitlines() if "10.8.8.9" in ln]
    assert ehlo and mail, text[-2000:]
    assert dict(log_fields(ehlo[0]))["name"] == "x.example addr=10.8.8.8"
    assert "addr" not in dict(log_fields(ehlo[0])), ehlo[0]
    assert dict(log_fields(mail[0]))["from"] == \
        '"a b addr=10.8.8.9"@client.example', mail[0]
    assert "addr" not in dict(log_fields(mail[0])), mail[0]


# ------------------------------------------------- checks off the event loop

def slow_hash(password):
    """A real yescrypt hash of a higher cost than sealmail's own (about
    eight times the work), so a check is long enough to measure."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return crypt.crypt(password, "$y$jCT$" + crypt.mksalt(
        crypt.METHOD_SHA512)[3:19] + "$")


def set_hash(d, user, h):
    """Replace user's hash in the password file (the keys process reads
    it at each check)."""
    db = sqlite3.connect(os.path.join(d.data_dir, "passwd.db"))
    with db:
        assert db.execute("UPDATE passwords SET hash = ? WHERE address = ?",
                          (h, user)).rowcount == 1
    db.close()


@pytest.fixture
def one_worker(daemons, certs):
    """One SMTP worker, so every client shares its event loop; alice's
    password has a slow hash."""
    cfg = daemons.config([certs["ec"]], ipv6=False)
    cfg.server["workers"] = "1"
    d = daemons.start(cfg)
    h = slow_hash(USERS[ALICE])
    assert h.startswith("$y$jCT$"), h
    set_hash(d, ALICE, h)
    return d


def noop_latencies(c, until):
    """NOOP round trips on c while until() is false; their durations."""
    out = []
    while not until() or not out:
        t0 = time.monotonic()
        c.expect("NOOP", 250)
        out.append(time.monotonic() - t0)
        time.sleep(0.01)
    return out


def auth_while_polling(d, password, source):
    """AUTH as alice from `source` on one connection while another one of
    the same worker sends NOOPs; (AUTH reply, its seconds, NOOP round
    trips)."""
    other = RawSMTP.to(d["submissions"], timeout=30)
    slow = RawSMTP.to(d["submissions"], timeout=40, source=source)
    try:
        other.ehlo()
        slow.ehlo()
        done = threading.Event()
        res = {}

        def login():
            t0 = time.monotonic()
            res["reply"] = slow.auth_plain(ALICE, password)
            res["took"] = time.monotonic() - t0
            done.set()
        t = threading.Thread(target=login)
        t.start()
        lat = noop_latencies(other, done.is_set)
        t.join(40)
        return res["reply"], res["took"], lat
    finally:
        other.close()
        slow.close()


def test_slow_auth_does_not_block_other_sessions(one_worker):
    """While one client's password is checked (a real yescrypt hash),
    another client of the same worker is answered at once."""
    r, took, lat = auth_while_polling(one_worker, USERS[ALICE], "127.0.0.1")
    assert r.code == 235, r
    assert took >= 0.3, "the hash took only %.2fs" % took
    assert len(lat) >= 3, (took, lat)
    assert max(lat) < took / 3, \
        "NOOP waited %.2fs during a %.2fs AUTH" % (max(lat), took)


def test_failed_auth_does_not_block_other_sessions(one_worker):
    """A wrong password costs the same hash, also off the loop, then the
    failure delay: the other client is answered throughout."""
    r, took, lat = auth_while_polling(one_worker, "wrong-password",
                                      "127.0.0.23")
    assert (r.code, r.enhanced) == (535, "5.7.8"), r
    assert max(lat) < 0.25, "NOOP waited %.2fs" % max(lat)


def test_client_not_reading_at_starttls_stalls_nobody(one_worker):
    """A client that pipelines megabytes of replies' worth of commands,
    then STARTTLS, and never reads, leaves the 220 stuck behind them: the
    worker must not wait for it to drain."""
    d = one_worker
    other = RawSMTP.to(d["mx"], timeout=30)
    other.ehlo()
    lst = d["mx"]
    stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect((lst.host, lst.port))
    try:
        # ~5 MB of HELP replies: more than the socket buffers hold.
        burst = b"EHLO stuck.example\r\n" + b"HELP\r\n" * 40000 + \
            b"STARTTLS\r\n"
        stuck.sendall(burst)
        t_end = time.monotonic() + 2.5
        lat = noop_latencies(other, lambda: time.monotonic() > t_end)
        assert max(lat) < 0.3, "NOOP waited %.2fs" % max(lat)
        assert "starttls discarded" not in d.log_text()
    finally:
        stuck.close()
        other.close()


def test_abandoned_auth_checks_cost_nothing(one_worker):
    """Clients that send AUTH and hang up at once leave no hashing behind:
    a check whose session is gone is skipped, so a flood of them does not
    queue up seconds of work ahead of a real login."""
    d = one_worker
    tok = base64.b64encode(("\0%s\0wrong-password" % ALICE).encode())
    for i in range(40):
        c = RawSMTP.to(d["submissions"], source="127.0.1.%d" % (i + 1))
        c.ehlo()
        c.send(b"AUTH PLAIN " + tok + b"\r\n")
        c.close()
    time.sleep(0.5)     # the worker sees every hang-up
    with RawSMTP.to(d["submissions"], timeout=60,
                    source="127.0.0.1") as c:
        c.ehlo()
        t0 = time.monotonic()
        r = c.auth_plain(ALICE, USERS[ALICE])
        took = time.monotonic() - t0
    assert r.code == 235, r
    # One check takes a fraction of a second; 40 abandoned ones queued
    # ahead of it would take many seconds on the worker's two threads.
    assert took < 4, "the login waited %.1fs" % took


@pytest.fixture
def one_worker_1s(daemons, certs):
    """one_worker with command_timeout = 1s."""
    cfg = daemons.config([certs["ec"]], ipv6=False)
    cfg.server["workers"] = "1"
    cfg.server["command_timeout"] = "1s"
    d = daemons.start(cfg)
    set_hash(d, ALICE, slow_hash(USERS[ALICE]))
    return d


def test_auth_result_after_421_is_dropped(one_worker_1s):
    """A session closed (421 timeout) while its password is checked stays
    closed: the late result neither answers nor revives it. Its client
    does not read, so the session is still draining its output (closing)
    when the check ends."""
    d = one_worker_1s
    tok = base64.b64encode(("\0%s\0wrong-password" % ALICE).encode())
    busy = []
    for i in range(2):      # both pool threads, for about a second
        c = RawSMTP.to(d["submissions"], source="127.0.2.%d" % (i + 1))
        c.ehlo()
        c.send(b"AUTH PLAIN " + tok + b"\r\n")
        busy.append(c)
    lst = d["submissions"]
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.bind(("127.0.2.9", 0))
    raw.connect((lst.host, lst.port))
    stuck = client_ctx().wrap_socket(raw, server_hostname=HOSTNAME)
    try:
        stuck.settimeout(10)
        stuck.sendall(b"EHLO stuck.example\r\n" + b"HELP\r\n" * 40000 +
                      b"AUTH PLAIN " + tok + b"\r\n")
        # 421 at ~1 s, the check's result at ~2 s (behind the busy ones)
        wait_until(lambda: "addr=127.0.2.9 reason=timeout" in
                   d.log_text(), 10)
        time.sleep(3)
    finally:
        stuck.close()
        for c in busy:
            c.close()
    mine = [ln for ln in d.log_text().splitlines()
            if "127.0.2.9" in ln and "smtp connect" in ln]
    assert len(mine) == 1, mine
    sid = re.search(r"sid=(\w+)", mine[0]).group(1)
    lines = [ln for ln in d.log_text().splitlines() if "sid=" + sid in ln]
    gone = [i for i, ln in enumerate(lines) if "smtp disconnect" in ln]
    assert gone and "reason=timeout" in lines[gone[0]], lines[-5:]
    assert len(gone) == 1, lines[gone[0]:]
    assert not any("smtp auth result" in ln for ln in lines[gone[0]:]), \
        lines[gone[0]:]
