# SPDX-License-Identifier: ISC
"""The last store questions of an SMTP session, asked off the worker's
event loop on a PostgreSQL store (src/smtpd/smtpd_store.c): a local
program's From: (which decides the DKIM signature: smtpd_local.c), a
recipient a milter adds in a local domain (expanded as a RCPT would be),
and the From: of a submission as a milter left it. Each is shown with the
worker's only loop answering another session while the question waits on
a locked table, and each gets a temporary failure, never a wrong answer,
while the server is down. One PostgreSQL server, one daemon (one worker)
with a fake milter (tests/integration/fakemilter.py) on mx and
submission."""
import os
import smtplib
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "integration"))
import fakemilter  # noqa: E402
import harness  # noqa: E402
from harness import new_marker  # noqa: E402
import nxdns  # noqa: E402

import pgnode  # noqa: E402


DB = "offloop"
ALICE = "alice@example.test"
ALICE_PW = "alice-Secret-0123"
NOT_OWNED = "From: is not owned by local user root"


@pytest.fixture(scope="module")
def milter():
    m = fakemilter.FakeMilter(slow=4.0)
    yield m
    m.stop()


@pytest.fixture
def rules(milter):
    milter.rules = {}
    yield milter.rules
    milter.rules = {}


@pytest.fixture(scope="module")
def node(pg, milter, tmp_path_factory):
    """sealmail serve (one worker) on database DB: alice (with a
    password, for AUTH), bob, an alias of alice's and one of root's (the
    local login the tests' sendmail runs as)."""
    folder = str(tmp_path_factory.mktemp("pgoffloop"))
    dns = nxdns.NxDns()
    c = pgnode.config(folder, dns)
    c.listen("mx", "mx", "none")
    c.listen("submissions", "submission", "implicit")
    c.extra = pg.store_section(DB) + (
        '\n[milter "fake"]\naddress = %s\nroles = mx, submission\n'
        "command_timeout = 30s\ncontent_timeout = 30s\n" % milter.address)
    try:
        pgnode.provision(c, ((ALICE, ALICE_PW), ("bob@example.test", None)),
                         (("sales@example.test", ALICE),
                          ("ops@example.test", "root@example.test")))
    except BaseException:
        dns.close()
        raise
    yield from pgnode.serve(c, dns)


def loop_answers(node):
    """The worker's loop greets and answers a second session at once."""
    t0 = time.monotonic()
    with smtplib.SMTP(timeout=3) as b:
        assert b.connect(node["mx"].host, node["mx"].port)[0] == 220
        assert b.ehlo("second.example.net")[0] == 250
        assert b.noop()[0] == 250
    assert time.monotonic() - t0 < 2


def message(frm, to, marker):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@t>"
            "\r\n\r\nbody of %s\r\n" % (frm, to, marker, marker, marker)
            ).encode()


def local_send(node, frm, marker, wait=True):
    """sendmail -t as root (the tests' uid) with From: frm; the process
    (waited for when wait)."""
    p = subprocess.Popen(
        [harness.sealmail_bin(), "-c", node.cfg.path, "sendmail", "-t"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    p.stdin.write("From: %s\nTo: %s\nSubject: %s\n\ncron %s\n"
                  % (frm, ALICE, marker, marker))
    p.stdin.close()
    if wait:
        assert p.wait(timeout=60) == 0, p.stderr.read()
    return p


def not_owned_count(node):
    return node.log_text().count(NOT_OWNED)


def warm_up(node):
    """One message to alice and bob, so both are in the worker's
    recipient cache (a RCPT then does not wait on a locked table)."""
    marker = new_marker()
    with smtplib.SMTP(node["mx"].host, node["mx"].port, timeout=30) as s:
        s.sendmail("x@sender.example.net", [ALICE, "bob@example.test"],
                   message("x@sender.example.net", ALICE, marker))
    node.mailbox(ALICE).wait_for(marker)
    node.mailbox("bob@example.test").wait_for(marker)


def test_local_from_asked_while_the_body_streams(node, pg, rules):
    """A local program's From: that only the store can tie to its login
    (an alias of root's) is asked on a store thread: the loop answers
    another session meanwhile, and the message is signed (not logged as
    not owned) once the answer comes; another user's address is not."""
    warm_up(node)
    before = not_owned_count(node)
    with pg.locked("users", DB):
        p = local_send(node, "ops@example.test", marker := new_marker(),
                       wait=False)
        time.sleep(0.5)
        loop_answers(node)
        assert p.poll() is None, "the message ended without its answer"
    assert p.wait(timeout=60) == 0, p.stderr.read()
    node.mailbox(ALICE).wait_for(marker)
    assert not_owned_count(node) == before
    local_send(node, "bob@example.test", marker := new_marker())
    node.mailbox(ALICE).wait_for(marker)
    assert not_owned_count(node) == before + 1


def test_local_from_changed_by_a_milter(node, rules):
    """A milter that makes a local program's From: root's own alias gets
    it signed; one that makes it another user's address, not."""
    warm_up(node)
    for new, owned in (("ops@example.test", True),
                       ("bob@example.test", False)):
        rules[b"E"] = lambda d, new=new: fakemilter.pkt(
            b"m", b"\0\0\0\x01From\0<%s>\0" % new.encode()) + \
            fakemilter.pkt(b"c")
        before = not_owned_count(node)
        local_send(node, "root@example.test", marker := new_marker())
        raw = node.mailbox(ALICE).wait_for(marker)[0]
        assert ("\nFrom: <%s>\n" % new).encode() in raw
        assert not_owned_count(node) == before + (not owned), new


def data_while_locked(node, pg, s, msg):
    """DATA of msg on session s while users is locked: the loop answers
    another session meanwhile; the reply once the lock is gone."""
    with pg.locked("users", DB):
        s.putcmd("data")
        assert s.getreply()[0] == 354
        s.send(msg + b".\r\n")
        time.sleep(0.5)
        loop_answers(node)
    return s.getreply()


def send_mx(node, marker):
    """The reply to the end of DATA of a message for alice on mx."""
    with smtplib.SMTP(node["mx"].host, node["mx"].port, timeout=60) as s:
        s.ehlo("client.example.net")
        s.mail("x@sender.example.net")
        assert s.rcpt(ALICE)[0] == 250
        return s.data(message("x@sender.example.net", ALICE, marker))


def addrcpt(address):
    return lambda d: fakemilter.pkt(b"+", b"<%s>\0" % address.encode()) + \
        fakemilter.pkt(b"c")


def test_milter_adds_a_local_recipient(node, pg, rules):
    """A recipient a milter adds in a local domain is expanded by a store
    thread (an alias to its target) while the loop answers others; one
    that does not exist, or that cannot be looked up with the server
    down, gets the message a temporary failure, never a 5xx."""
    warm_up(node)
    rules[b"E"] = addrcpt("sales@example.test")
    marker = new_marker()
    with smtplib.SMTP(node["mx"].host, node["mx"].port, timeout=60) as s:
        s.ehlo("client.example.net")
        s.mail("x@sender.example.net")
        assert s.rcpt("bob@example.test")[0] == 250
        code, text = data_while_locked(node, pg, s, message(
            "x@sender.example.net", "bob@example.test", marker))
    assert code == 250, text
    node.mailbox("bob@example.test").wait_for(marker)
    # sales@ is alice's: the copy is hers.
    node.mailbox(ALICE).wait_for(marker)

    rules[b"E"] = addrcpt("nobody@example.test")
    code, text = send_mx(node, new_marker())
    assert code == 451, text

    rules[b"E"] = addrcpt("sales@example.test")
    pg.stop("fast")
    try:
        code, text = send_mx(node, new_marker())
    finally:
        pg.start()
    assert code == 451, text


def submissions(node):
    """An SMTP session of alice's, logged in (AUTH asks the keys process,
    which asks the server: before any stop)."""
    lst = node["submissions"]
    s = smtplib.SMTP_SSL(lst.host, lst.port, timeout=60,
                         context=harness.client_ctx())
    s.login(ALICE, ALICE_PW)
    return s


def submit(s, rcpt, marker):
    """The reply to the end of DATA of a message alice sends to rcpt."""
    assert s.mail(ALICE)[0] == 250
    assert s.rcpt(rcpt)[0] == 250
    return s.data(message(ALICE, rcpt, marker))


def test_submission_from_changed_by_a_milter(node, pg, rules):
    """The From: a milter leaves on alice's submission is asked on a store
    thread (the loop answers others meanwhile): her alias is taken, bob's
    address refused (550), and with the server down the reply is 451
    4.3.0, never 550."""
    warm_up(node)

    def change_from(new):
        rules[b"E"] = lambda d: fakemilter.pkt(
            b"m", b"\0\0\0\x01From\0<%s>\0" % new.encode()) + \
            fakemilter.pkt(b"c")

    with submissions(node) as s:
        change_from("sales@example.test")
        assert s.mail(ALICE)[0] == 250
        assert s.rcpt("bob@example.test")[0] == 250
        code, text = data_while_locked(node, pg, s, message(
            ALICE, "bob@example.test", marker := new_marker()))
        assert code == 250, text
        raw = node.mailbox("bob@example.test").wait_for(marker)[0]
        assert b"\nFrom: <sales@example.test>\n" in raw
        change_from("bob@example.test")
        code, text = submit(s, "bob@example.test", new_marker())
        assert code == 550 and b"From: header" in text, text
        change_from("sales@example.test")
        pg.stop("fast")
        try:
            # A remote recipient: nothing but the From: asks the store.
            code, text = submit(s, "someone@example.net", new_marker())
        finally:
            pg.start()
        assert code == 451 and text.startswith(b"4.3.0"), text
