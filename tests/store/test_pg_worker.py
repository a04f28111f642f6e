# SPDX-License-Identifier: ISC
"""The SMTP worker on a PostgreSQL store (src/smtpd/smtpd_store.c,
src/store/db_pool.c): recipients are looked up on the worker's store
threads, never on its event loop; a change made by any process (here the
CLI) is honoured within a second (the sealmail_changes counter); while
the server is down an uncached recipient gets 451 4.3.0, never a 5xx, and
service resumes by itself when it is back. One PostgreSQL server
(pgserver.py) and one daemon with one worker for the whole module."""
import os
import re
import shutil
import smtplib
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "integration"))
import harness  # noqa: E402
from harness import Daemon, make_message, new_marker, \
    run_cli  # noqa: E402
import nxdns  # noqa: E402

import pgnode  # noqa: E402


DB = "worker1"
DB2 = "worker2"


@pytest.fixture(scope="module")
def node(pg, tmp_path_factory):
    """sealmail serve (one worker) on database DB, with alice and an alias
    added before the start."""
    folder = str(tmp_path_factory.mktemp("pgworker"))
    dns = nxdns.NxDns()
    c = pgnode.config(folder, dns)
    c.listen("mx", "mx", "none")
    c.extra = pg.store_section(DB)
    try:
        pgnode.provision(c, [(u, None) for u in (
            "alice@example.test", "carol@example.test", "dave@example.test")],
            (("sales@example.test", "alice@example.test"),))
    except BaseException:
        dns.close()
        raise
    yield from pgnode.serve(c, dns)


def cli(node, *args):
    r = run_cli(node.cfg.path, *args)
    assert r.returncode == 0, r.stdout + r.stderr


def session(node, timeout=10):
    s = smtplib.SMTP(timeout=timeout)
    s.connect(node["mx"].host, node["mx"].port)
    s.ehlo("client.example.net")
    return s


def rcpt_once(node, address):
    """The reply to RCPT TO:<address> in a new transaction."""
    with session(node) as s:
        code, _ = s.mail("sender@example.net")
        assert code == 250
        return s.rcpt(address)


def poll_rcpt(node, address, want, limit):
    """Seconds until RCPT of address gets a reply whose class is want
    (2 or 5), asking every 50 ms for at most limit seconds; None if not."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        code, _ = rcpt_once(node, address)
        if code // 100 == want:
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def send(node, rcpts, marker):
    with session(node) as s:
        msg = make_message("sender@example.net", rcpts[0], marker)
        s.sendmail("sender@example.net", rcpts, msg)


def test_known_user_receives_unknown_refused(node):
    marker = new_marker()
    send(node, ["alice@example.test"], marker)
    node.mailbox("alice@example.test").wait_for(marker)
    code, msg = rcpt_once(node, "nobody@example.test")
    assert code == 550 and msg.startswith(b"5.1.1"), (code, msg)
    code, _ = rcpt_once(node, "sales@example.test")
    assert code == 250


def test_changes_honoured_within_a_second(node):
    addr = "erin@example.test"
    # Refused first, so a cached "unknown" must be dropped too.
    code, _ = rcpt_once(node, addr)
    assert code == 550
    # Within a second (the counter is read every 500 ms), and the RCPT
    # polls themselves take a little time: 1.5 s (scaled for a
    # sanitizer build).
    limit = 1.5 * harness.SLOW
    cli(node, "user", "add", addr, "--no-password")
    took = poll_rcpt(node, addr, 2, limit)
    assert took is not None, "not accepted within %.1f s" % limit
    cli(node, "alias", "add", "team@example.test", addr)
    took = poll_rcpt(node, "team@example.test", 2, limit)
    assert took is not None, "alias not accepted within %.1f s" % limit
    cli(node, "user", "del", addr)
    took = poll_rcpt(node, addr, 5, limit)
    assert took is not None, "not refused within %.1f s" % limit


def test_server_down_answers_451_then_resumes(node, pg):
    # alice is in the worker's cache (earlier tests), carol is not.
    code, _ = rcpt_once(node, "alice@example.test")
    assert code == 250
    before = new_marker()
    during = new_marker()
    s = session(node)
    try:
        assert s.mail("sender@example.net")[0] == 250
        pg.stop("fast")
        code, msg = s.rcpt("carol@example.test")
        assert code == 451 and msg.startswith(b"4.3.0"), (code, msg)
        code, msg = s.rcpt("alice@example.test")
        assert code in (250, 451), (code, msg)
        if code == 250:
            # Correct answers from the cache: the message is taken.
            s.data(make_message("sender@example.net",
                                "alice@example.test", during))
        s.rset()
        # Never a 5xx for an existing user while the server is away.
        for _ in range(5):
            assert s.mail("sender@example.net")[0] == 250
            code, msg = s.rcpt("dave@example.test")
            assert code // 100 == 4, (code, msg)
            s.rset()
        assert node.alive()
    finally:
        s.close()
        if not pg.running:
            pg.start()
    took = poll_rcpt(node, "carol@example.test", 2, 15)
    assert took is not None, "RCPT not accepted again after the restart"
    send(node, ["carol@example.test", "alice@example.test"], before)
    node.mailbox("carol@example.test").wait_for(before)
    node.mailbox("alice@example.test").wait_for(before)
    if code == 250:
        node.mailbox("alice@example.test").wait_for(during)


def test_loop_not_blocked_by_a_stalled_lookup(node, pg):
    """A lookup waiting on a locked table does not stop the worker (its
    only one) from greeting and answering another session."""
    with pg.locked("users", DB):
        a = session(node, timeout=30)
        assert a.mail("sender@example.net")[0] == 250
        # An address no earlier test asked for: not in any cache.
        a.putcmd("rcpt", "TO:<frank@example.test>")
        time.sleep(0.3)
        t0 = time.monotonic()
        b = smtplib.SMTP(timeout=3)
        try:
            code, _ = b.connect(node["mx"].host, node["mx"].port)
            assert code == 220
            assert b.ehlo("second.example.net")[0] == 250
            assert b.noop()[0] == 250
        finally:
            b.close()
        assert time.monotonic() - t0 < 2
    # The lookup ends once the lock is gone: frank is no user.
    code, msg = a.getreply()
    a.close()
    assert code == 550, (code, msg)


def test_lookup_stuck_past_the_statement_timeout_is_451(node, pg):
    """A lookup that waits on the server longer than the workers'
    statement timeout (10 s) ends as a temporary failure."""
    with pg.locked("users", DB):
        with session(node, timeout=30) as s:
            assert s.mail("sender@example.net")[0] == 250
            t0 = time.monotonic()
            code, msg = s.rcpt("grace@example.test")
            took = time.monotonic() - t0
        assert code == 451 and msg.startswith(b"4.3.0"), (code, msg)
        assert 9 < took < 20, took


def test_lookalike_noted_in_the_store(node, pg):
    """A lookalike sender is warned about and noted in the shared store
    by a store thread (smtpd_lookalike.c)."""
    marker = new_marker()
    msg = ("From: Billing <billing@examp1e.test>\r\nTo: <alice@example.test>"
           "\r\nSubject: %s\r\nMessage-ID: <%s@t>\r\n\r\nbody\r\n"
           % (marker, marker)).encode()
    with session(node) as s:
        s.sendmail("x@sender.example.net", ["alice@example.test"], msg)
    raw = node.mailbox("alice@example.test").wait_for(marker)[0]
    head = re.sub(rb"\r?\n[ \t]+", b" ", raw)
    assert b'from="examp1e.test"; resembles="example.test"' in head, raw
    harness.wait_until(
        lambda: pg.query("SELECT domain FROM lookalike_senders",
                         db=DB) == ["examp1e.test"], 5,
        what="the lookalike sender's row")


def test_local_submission_ownership(node):
    """A local program's From: decides the DKIM signature, by a rule
    that asks the store (an alias naming the login): root owns an alias
    to root@, not a store user's address (asked on a store thread:
    test_pg_offloop.py shows the loop free meanwhile)."""
    cli(node, "alias", "add", "ops@example.test", "root@example.test")
    refused = "From: is not owned by local user root"

    def local_send(frm):
        marker = new_marker()
        r = run_cli(node.cfg.path, "sendmail", "-t", input=(
            "From: %s\nTo: alice@example.test\nSubject: %s\n\ncron\n"
            % (frm, marker)))
        assert r.returncode == 0, r.stdout + r.stderr
        # The decision is logged before the message is committed.
        node.mailbox("alice@example.test").wait_for(marker)

    # An earlier test restarted the server: the store threads'
    # connections find that out before their next query and connect
    # again (sql_pg.c), so the first answer is already right.
    for frm, owned in (("ops@example.test", True),
                       ("alice@example.test", False)):
        before = node.log_text().count(refused)
        local_send(frm)
        assert node.log_text().count(refused) == before + (not owned), frm


@pytest.fixture(scope="module")
def dove_node(pg, tmp_path_factory):
    """A second daemon on database DB2 whose passdb is a Dovecot (AUTH
    against PostgreSQL itself is test_pg_daemon's): erin exists in
    Dovecot, and in the store with an alias."""
    import dovecot
    dovecot.require()
    # Dovecot's processes must reach its folder (pytest's is 0700).
    folder = tempfile.mkdtemp(prefix="sealmail-pgdove-", dir="/tmp")
    os.chmod(folder, 0o755)
    dns = nxdns.NxDns()
    c = pgnode.config(folder, dns)
    c.listen("submissions", "submission", "implicit")
    dc = dovecot.Dovecot(os.path.join(folder, "dovecot"), c.data_dir,
                         auth_users={"erin@example.test": "erin-pw-long"})
    os.makedirs(dc.base)
    os.chmod(dc.base, 0o755)
    c.auth["passdb"] = "dovecot:" + dc.auth_sock
    try:
        c.extra = pg.store_section(DB2)
        pgnode.provision(c, (("erin@example.test", None),
                             ("bob@example.test", None)),
                         (("erin.alias@example.test", "erin@example.test"),))
        yield from dovecot.serve(dc, Daemon(c), folder)
    finally:
        dns.close()
        shutil.rmtree(folder, ignore_errors=True)   # serve's, or ours


def test_mail_from_ownership_off_the_loop(dove_node, pg):
    """MAIL FROM of an AUTHed user is checked on a store thread: an
    alias of the user's is taken, another account's address refused; with
    the server down the answer is 451 4.3.0, never 550 not owned."""
    from smtpraw import RawSMTP
    d, _ = dove_node
    with RawSMTP.to(d["submissions"]) as c:
        c.ehlo()
        c.login("erin@example.test", "erin-pw-long")
        c.expect("MAIL FROM:<erin.alias@example.test>", 250)
        c.expect("RSET", 250)
        r = c.cmd("MAIL FROM:<bob@example.test>")
        assert (r.code, r.enhanced) == (550, "5.7.1"), r
        pg.stop("fast")
        try:
            r = c.cmd("MAIL FROM:<erin.alias@example.test>")
            assert (r.code, r.enhanced) == (451, "4.3.0"), r
            # Her own address needs no lookup.
            c.expect("MAIL FROM:<erin@example.test>", 250)
        finally:
            pg.start()
        c.expect("RSET", 250)
        ok = None
        for _ in range(60):
            r = c.cmd("MAIL FROM:<erin.alias@example.test>")
            if r.code == 250:
                ok = r
                break
            c.expect("RSET", 250)
            time.sleep(0.25)
        assert ok is not None, r


def test_from_header_ownership_off_the_loop(dove_node, pg):
    """The From: of a submitted message is checked on a store thread: an
    alias of the user's is taken, another account's address refused (550),
    and with the server down the reply is 451 4.3.0, never 550."""
    from smtpraw import RawSMTP
    d, _ = dove_node

    def submit(c, frm_header):
        c.expect("MAIL FROM:<erin@example.test>", 250)
        c.expect("RCPT TO:<someone@example.net>", 250)
        return c.data(make_message(frm_header, "someone@example.net",
                                   new_marker()))

    with RawSMTP.to(d["submissions"]) as c:
        c.ehlo()
        c.login("erin@example.test", "erin-pw-long")
        r = submit(c, "erin.alias@example.test")
        assert r.code == 250, r
        r = submit(c, "bob@example.test")
        assert (r.code, r.enhanced) == (550, "5.7.1"), r
        pg.stop("fast")
        try:
            r = submit(c, "erin.alias@example.test")
            assert (r.code, r.enhanced) == (451, "4.3.0"), r
        finally:
            pg.start()
        c.expect("NOOP", 250)
