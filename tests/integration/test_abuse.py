# SPDX-License-Identifier: ISC
"""Abuse limits (issue 14 item 6): per-account hourly submission limits
([limits], 451 4.7.1, counted by all workers), AUTH failure delays per
(name, client address) on top of those per address, and the pregreet
test on plaintext/STARTTLS mx listeners ([server] pregreet_wait). Each
test uses its own client addresses (127.0.0.x), so the shared counters of
one do not touch another."""

import re
import socket
import threading
import time

import pytest

from harness import SLOW, USERS, make_message, new_marker, wait_until
from smtpraw import RawSMTP

ALICE = "alice@example.test"
BOB = "bob@example.test"


@pytest.fixture(scope="module")
def abuse(module_daemons, certs):
    cfg = module_daemons.config([certs["ec"]], ipv6=False)
    cfg.extra += "\n[limits]\nmessages_per_hour = 3\nrecipients_per_hour = 5\n"
    return module_daemons.start(cfg)


def submit(d, source, user, rcpts, marker=None):
    """Log in as user from source and send one message to rcpts; returns
    the replies of MAIL, each RCPT and (if all were taken) the data."""
    with RawSMTP.to(d["submissions"], source=source, timeout=30) as c:
        c.ehlo()
        c.login(user, USERS[user])
        out = [c.cmd("MAIL FROM:<%s>" % user)]
        if out[0].code != 250:
            return out
        for r in rcpts:
            out.append(c.cmd("RCPT TO:<%s>" % r))
        if all(r.code == 250 for r in out):
            out.append(c.data(make_message(user, rcpts[0],
                                           marker or new_marker())))
        c.cmd("QUIT")
        return out


def test_messages_per_hour(abuse):
    """The fourth message of the hour is refused at MAIL with 451 4.7.1,
    whichever worker each connection lands on, and logged with the
    account and the client address."""
    for _ in range(3):
        out = submit(abuse, "127.0.0.41", ALICE, [BOB])
        assert [r.code for r in out] == [250, 250, 250], out
    out = submit(abuse, "127.0.0.42", ALICE, [BOB])
    assert (out[0].code, out[0].enhanced) == (451, "4.7.1"), out
    log = abuse.log_text()
    assert re.search(r'smtp limit user="?alice@example\.test"? '
                     r'addr=127\.0\.0\.42 limit=messages_per_hour '
                     r'count=3 max=3', log), log[-3000:]
    # Another account is not held back by alice's count.
    out = submit(abuse, "127.0.0.42", BOB, [ALICE])
    assert [r.code for r in out] == [250, 250, 250], out


def test_recipients_per_hour(module_daemons, certs):
    """Recipients of accepted messages count; the RCPT that would pass
    the hour's limit gets 451 4.7.1, the ones before it 250 (a daemon of
    its own: the counts of the other tests stay out)."""
    cfg = module_daemons.config([certs["ec"]], ipv6=False)
    cfg.extra += "\n[limits]\nrecipients_per_hour = 5\n"
    abuse = module_daemons.start(cfg)
    rcpts = [ALICE, "sales@example.test", "postmaster@example.test",
             "alice+a@example.test"]
    out = submit(abuse, "127.0.0.43", BOB, rcpts)
    assert [r.code for r in out] == [250] * 6, out
    out = submit(abuse, "127.0.0.43", BOB, [ALICE, "sales@example.test"])
    assert [r.code for r in out[:2]] == [250, 250], out
    assert (out[2].code, out[2].enhanced) == (451, "4.7.1"), out
    assert re.search(r'smtp limit user="?bob@example\.test"? '
                     r'addr=127\.0\.0\.43 limit=recipients_per_hour',
                     abuse.log_text())


def test_recipients_per_hour_parallel(module_daemons, certs):
    """Recipients count at their RCPT's 250: two sessions of one account
    open at once cannot each take the hour's limit before either sends
    its data (a spammer's parallel connections)."""
    cfg = module_daemons.config([certs["ec"]], ipv6=False)
    cfg.extra += "\n[limits]\nrecipients_per_hour = 3\n"
    d = module_daemons.start(cfg)
    rcpts = [ALICE, "sales@example.test", "alice+a@example.test"]
    with RawSMTP.to(d["submissions"], source="127.0.0.47", timeout=30) as a, \
            RawSMTP.to(d["submissions"], source="127.0.0.48",
                       timeout=30) as b:
        for c in (a, b):
            c.ehlo()
            c.login(BOB, USERS[BOB])
            c.expect("MAIL FROM:<%s>" % BOB, 250)
        for r in rcpts:
            a.expect("RCPT TO:<%s>" % r, 250)
        r = b.cmd("RCPT TO:<%s>" % ALICE)
        assert (r.code, r.enhanced) == (451, "4.7.1"), r
        assert a.data(make_message(BOB, ALICE, new_marker())).code == 250
        a.cmd("QUIT")
        b.cmd("QUIT")


@pytest.fixture(scope="module")
def msg_limit(module_daemons, certs):
    """A daemon of its own with messages_per_hour = 3 (no recipient
    limit): each test below uses its own account."""
    cfg = module_daemons.config([certs["ec"]], ipv6=False)
    cfg.extra += "\n[limits]\nmessages_per_hour = 3\n"
    return module_daemons.start(cfg)


def open_sessions(d, user, n, first):
    """n logged-in submission sessions of user, from 127.0.0.first+i."""
    out = []
    for i in range(n):
        c = RawSMTP.to(d["submissions"], source="127.0.0.%d" % (first + i),
                       timeout=30)
        c.ehlo()
        c.login(user, USERS[user])
        out.append(c)
    return out


def test_messages_per_hour_parallel(msg_limit):
    """Six sessions of one account open at once, each with its MAIL in
    before any sends its data (a spammer's parallel connections, spread
    over the workers): exactly the hour's 3 get a slot, the others 451
    4.7.1 at MAIL, and 3 messages are accepted, not 6."""
    sessions = open_sessions(msg_limit, BOB, 6, 60)
    try:
        mail = [c.cmd("MAIL FROM:<%s>" % BOB) for c in sessions]
        assert sorted(r.code for r in mail) == [250] * 3 + [451] * 3, mail
        assert all(r.enhanced == "4.7.1" for r in mail if r.code == 451)
        accepted = 0
        for c, r in zip(sessions, mail):
            if r.code != 250:
                continue
            c.expect("RCPT TO:<%s>" % ALICE, 250)
            accepted += c.data(make_message(BOB, ALICE,
                                            new_marker())).code == 250
        assert accepted == 3
        # Used up: a seventh session is refused too.
        assert submit(msg_limit, "127.0.0.66", BOB, [ALICE])[0].code == 451
    finally:
        for c in sessions:
            c.close()


def test_message_slot_given_back(msg_limit):
    """A slot taken at MAIL comes back when the transaction ends without
    the 250 after the data: RSET, a 550 at the end of the data (From:
    not the user's), a second MAIL refused, a disconnect. Then the
    hour's 3 messages still go through, and only 3."""
    with RawSMTP.to(msg_limit["submissions"], source="127.0.0.70",
                    timeout=30) as c:
        c.ehlo()
        c.login(ALICE, USERS[ALICE])
        for _ in range(4):
            c.expect("MAIL FROM:<%s>" % ALICE, 250)
            c.expect("RSET", 250)
        c.expect("MAIL FROM:<%s>" % ALICE, 250)
        c.expect("RCPT TO:<%s>" % BOB, 250)
        r = c.data(make_message(BOB, ALICE, new_marker()))
        assert (r.code, r.enhanced) == (550, "5.7.1"), r
        c.expect("MAIL FROM:<%s>" % ALICE, 250)
        c.expect("MAIL FROM:<%s>" % ALICE, 503)
        c.expect("RSET", 250)
    # Gone mid-transaction, three times (more than the limit).
    for i in range(3):
        c = RawSMTP.to(msg_limit["submissions"], source="127.0.0.71",
                       timeout=30)
        c.ehlo()
        c.login(ALICE, USERS[ALICE])
        c.expect("MAIL FROM:<%s>" % ALICE, 250)
        c.close()
    # The worker frees the session once it reads the close.
    for _ in range(3):
        out = []
        wait_until(lambda: (out.append(submit(msg_limit, "127.0.0.72",
                                              ALICE, [BOB])) or
                            out[-1][0].code == 250), 10,
                   what="a message slot given back")
        assert [r.code for r in out[-1]] == [250, 250, 250], out
    out = submit(msg_limit, "127.0.0.72", ALICE, [BOB])
    assert (out[0].code, out[0].enhanced) == (451, "4.7.1"), out


def test_recipients_per_hour_burst(module_daemons, certs):
    """Eight sessions of one account pipeline recipients at once: exactly
    the hour's limit of RCPTs get 250, the rest 451 4.7.1."""
    cfg = module_daemons.config([certs["ec"]], ipv6=False)
    cfg.extra += "\n[limits]\nrecipients_per_hour = 50\n"
    d = module_daemons.start(cfg)
    sessions = open_sessions(d, BOB, 8, 80)
    codes = []
    lock = threading.Lock()
    start = threading.Barrier(len(sessions))

    def burst(c):
        c.expect("MAIL FROM:<%s>" % BOB, 250)
        start.wait()
        c.send("".join("RCPT TO:<alice+%d@example.test>\r\n" % i
                       for i in range(20)))
        got = [c.reply() for _ in range(20)]
        with lock:
            codes.extend((r.code, r.enhanced) for r in got)

    try:
        threads = [threading.Thread(target=burst, args=(c,))
                   for c in sessions]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        for c in sessions:
            c.close()
    assert len(codes) == 160
    assert codes.count((250, "2.1.5")) == 50, codes
    assert codes.count((451, "4.7.1")) == 110, codes


def timed_auth(lst, source, user, password, results, key):
    with RawSMTP.to(lst, source=source, timeout=60) as c:
        c.ehlo()
        t = time.monotonic()
        r = c.auth_plain(user, password)
        results[key] = (r, time.monotonic() - t)


def test_auth_delay_per_name_and_address(abuse):
    """Parallel wrong guesses for one name from one address queue behind
    each other (1, 1+2, 3+4 s), where the per-address delay alone would
    answer the last after 4 s; the right password for that name from
    that address then waits for the queue; the right password of another
    name from that address, or of that name from a fresh address, does
    not wait at all."""
    lst = abuse["submissions"]
    res = {}
    threads = [threading.Thread(target=timed_auth, args=(
        lst, "127.0.0.51", ALICE, "wrong-%d" % i, res, i))
        for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.5)     # the guesses are in (each waits >= 1 s)
    timed_auth(lst, "127.0.0.52", ALICE, USERS[ALICE], res, "fresh")
    timed_auth(lst, "127.0.0.51", BOB, USERS[BOB], res, "other")
    timed_auth(lst, "127.0.0.51", ALICE, USERS[ALICE], res, "queued")
    for t in threads:
        t.join()
    fails = sorted(res[i][1] for i in range(3))
    for i in range(3):
        assert (res[i][0].code, res[i][0].enhanced) == (535, "5.7.8"), res
    assert fails[2] >= 5.5, "guesses answered after %r s" % fails
    for k in ("fresh", "other"):
        assert res[k][0].code == 235, res
        assert res[k][1] < 0.9 * SLOW, "%s: 235 after %.2fs" % (k,
                                                                res[k][1])
    assert res["queued"][0].code == 235, res
    assert res["queued"][1] >= 2.0, \
        "right password from the guessing address after %.2fs" % \
        res["queued"][1]
    log = abuse.log_text()
    assert re.search(r"addr=127\.0\.0\.51 failures=3 delay=\d+s "
                     r"user_failures=3", log), log[-3000:]


def test_unknown_name_delays_like_a_known_one(abuse):
    """The per-name queue does not tell which accounts exist: parallel
    guesses for a name nobody has wait just as long."""
    lst = abuse["submissions"]
    res = {}
    threads = [threading.Thread(target=timed_auth, args=(
        lst, "127.0.0.53", "nobody@example.test", "wrong-%d" % i, res, i))
        for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert max(v[1] for v in res.values()) >= 5.5, res


def raw_connect(lst, source):
    s = socket.create_connection((lst.host, lst.port), timeout=10 * SLOW,
                                 source_address=(source, 0))
    return s


def read_lines(s, n, timeout):
    s.settimeout(timeout)
    data = b""
    while data.count(b"\r\n") < n:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("listener,source", [("mx_plain", "127.0.0.61"),
                                             ("mx", "127.0.0.62")])
def test_pregreet_talker_is_disconnected(abuse, listener, source):
    """A client that speaks between "220-" and "220 " gets 554 5.5.1 and
    is disconnected, and the log says so."""
    s = raw_connect(abuse[listener], source)
    try:
        first = read_lines(s, 1, 5 * SLOW)
        assert first.startswith(b"220-"), first
        s.sendall(b"EHLO bot.example\r\n")
        rest = read_lines(s, 1, 5 * SLOW)
        assert rest.startswith(b"554 5.5.1 "), rest
        s.settimeout(5 * SLOW)
        assert s.recv(100) == b""
    finally:
        s.close()
    assert re.search(r"smtp pregreet addr=%s bytes=18" % re.escape(source),
                     abuse.log_text())


def test_pregreet_waiting_client_is_served_once(abuse):
    """A client that waits gets the final 220 after pregreet_wait (1 s
    by default) and is served; its next connection is greeted at once."""
    t = time.monotonic()
    with RawSMTP.to(abuse["mx_plain"], source="127.0.0.63") as c:
        took = time.monotonic() - t
        assert c.greeting.code == 220 and len(c.greeting.lines) == 2, \
            c.greeting
        assert took >= 0.9, took
        c.ehlo()
        c.expect("MAIL FROM:<a@remote.test>", 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
    t = time.monotonic()
    with RawSMTP.to(abuse["mx_plain"], source="127.0.0.63") as c:
        assert len(c.greeting.lines) == 1, c.greeting
        assert time.monotonic() - t < 0.8 * SLOW
        c.ehlo()


@pytest.mark.parametrize("listener", ["mx_implicit", "submission", "plain"])
def test_no_pregreet_on_implicit_tls_or_submission(abuse, listener):
    t = time.monotonic()
    with RawSMTP.to(abuse[listener], source="127.0.0.64") as c:
        assert len(c.greeting.lines) == 1, c.greeting
        assert time.monotonic() - t < 0.8 * SLOW


def test_pregreet_off(module_daemons, certs):
    cfg = module_daemons.config([certs["ec"]], ipv6=False)
    cfg.server["pregreet_wait"] = "0"
    d = module_daemons.start(cfg)
    s = raw_connect(d["mx_plain"], "127.0.0.65")
    try:
        s.sendall(b"EHLO early.example\r\n")
        data = read_lines(s, 2, 5 * SLOW)
        assert data.startswith(b"220 "), data
        assert b"\r\n250" in data, data
    finally:
        s.close()
