# SPDX-License-Identifier: ISC
"""`sealmail sendmail` (and the binary called as `sendmail`): local
injection into the spool, then delivery by the queue runner.

Built on tests/integration/harness.py (imported, not copied). Each test
gets its own daemon in a fresh data folder: the daemon runs as the test
user (root in the suite, [server] user empty), which is the "root" case
of the command's permission rule.
"""

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import harness  # noqa: E402
from harness import (Daemon, header_values, new_marker,  # noqa: E402
                     provision, standard_config, wait_until)

ALICE = "alice@example.test"
BOB = "bob@example.test"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("certs"))
    return harness.make_cert(d, "ecdsa", "ec")


@pytest.fixture
def mta(tmp_path_factory, certs):
    """A provisioned config (alice, bob, sales -> alice); the daemon is
    started by the test through .start() when it wants one."""
    cfg = standard_config(str(tmp_path_factory.mktemp("sm")), [certs],
                          ipv6=False)
    provision(cfg)
    d = Daemon(cfg)
    yield d
    d.stop()


def sendmail(d, *args, input=b"", argv0=None, env=None, user=None):
    """Run `sealmail -c CFG sendmail ARGS` (or, with argv0="sendmail",
    the binary through a link of that name with -C CFG). Bytes in/out."""
    if argv0:
        link = os.path.join(d.cfg.folder, argv0)
        if not os.path.exists(link):
            os.symlink(harness.sealmail_bin(), link)
        cmd = [link, "-C", d.cfg.path] + list(args)
    else:
        cmd = [harness.sealmail_bin(), "-c", d.cfg.path, "sendmail"] + \
            list(args)
    kw = {}
    if user is not None:
        kw["user"] = user
    return subprocess.run(cmd, input=input, capture_output=True,
                          timeout=30 * harness.SLOW, env=env, **kw)


def lines(*ls):
    """A message with LF line ends, as scripts write it."""
    return ("\n".join(ls) + "\n").encode()


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r


# ------------------------------------------------------------------ tests

def test_extract_recipients_delivers(mta):
    mta.start()
    mk = new_marker()
    ok(sendmail(mta, "-t", input=lines(
        "To: Alice <%s>" % ALICE,
        "Cc: sales@example.test",
        "Bcc: %s" % BOB,
        "Subject: cron %s" % mk,
        "",
        "output of the job")))
    got = mta.mailbox(ALICE).wait_for(mk)[0]
    bob = mta.mailbox(BOB).wait_for(mk)[0]
    # Maildir files have LF line ends (Dovecot's layout).
    assert b"\n\noutput of the job\n" in got
    # Bcc is gone for everybody, including the Bcc recipient.
    assert not header_values(got, "Bcc") and not header_values(bob, "Bcc")
    # The alias and the direct address reach alice once.
    assert len(mta.mailbox(ALICE).with_marker(mk)) == 1
    # RFC 6409 §8: the fields a submission service adds.
    assert header_values(got, "Date")
    assert header_values(got, "Message-ID")[0].endswith(
        "@%s>" % harness.HOSTNAME)
    assert header_values(got, "From") == ["<root@example.test>"] or \
        header_values(got, "From")[0].endswith("<root@example.test>")
    rcv = header_values(got, "Received")
    assert any("from local user" in v and "with local id" in v
               for v in rcv), rcv


def test_argument_recipient_and_from(mta):
    mta.start()
    mk = new_marker()
    ok(sendmail(mta, "-f", "sender@example.test", "-F", "Job Runner", BOB,
                input=lines("Subject: args %s" % mk, "", "hi")))
    got = mta.mailbox(BOB).wait_for(mk)[0]
    assert header_values(got, "From") == [
        '"Job Runner" <sender@example.test>']
    assert not mta.mailbox(ALICE).with_marker(mk)


def test_from_header_kept(mta):
    mta.start()
    mk = new_marker()
    ok(sendmail(mta, "-f", "<>", BOB, input=lines(
        "From: Robot <robot@example.test>",
        "Subject: keep %s" % mk, "", "x")))
    got = mta.mailbox(BOB).wait_for(mk)[0]
    assert header_values(got, "From") == ["Robot <robot@example.test>"]


def test_dot_line(mta):
    mta.start()
    mk = new_marker()
    body = ["Subject: dots %s" % mk, "", "before", ".", "after", "..two"]
    # -i: "." is an ordinary line, nothing is unstuffed.
    ok(sendmail(mta, "-i", BOB, input=lines(*body)))
    got = mta.mailbox(BOB).wait_for(mk)[0]
    assert b"\nbefore\n.\nafter\n..two\n" in got
    # -oi is the same.
    mk2 = new_marker()
    body[0] = "Subject: dots %s" % mk2
    ok(sendmail(mta, "-oi", BOB, input=lines(*body)))
    assert b"\n.\nafter\n" in mta.mailbox(BOB).wait_for(mk2)[0]
    # Without -i the "." line ends the input.
    mk3 = new_marker()
    body[0] = "Subject: dots %s" % mk3
    ok(sendmail(mta, BOB, input=lines(*body)))
    got = mta.mailbox(BOB).wait_for(mk3)[0]
    assert got.endswith(b"\nbefore\n")
    assert b"after" not in got
    # A bare CR ends a line too, also the "." one (it used to become a
    # line of its own without ending the input; found by fuzz_sendmail).
    mk4 = new_marker()
    ok(sendmail(mta, BOB, input=("Subject: dots %s\n\nbefore\n.\rafter\n"
                                 % mk4).encode()))
    got = mta.mailbox(BOB).wait_for(mk4)[0]
    assert got.endswith(b"\nbefore\n")
    assert b"after" not in got


def test_unknown_local_user_fails(mta):
    mta.start()
    before = mta.queue_ids()
    r = sendmail(mta, "nobody@example.test", input=lines("Subject: x", "",
                                                         "x"))
    assert r.returncode == 1
    assert b"unknown user" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert mta.queue_ids() == before


def test_usage_and_bad_address(mta):
    r = sendmail(mta, input=b"x\n")          # no recipient, no -t
    assert r.returncode == 2
    r = sendmail(mta, "-bx", BOB, input=b"x\n")
    assert r.returncode == 2
    r = sendmail(mta, "bad address@", input=b"x\n")
    assert r.returncode == 1
    r = sendmail(mta, "-t", input=lines("Subject: none", "", "x"))
    assert r.returncode == 1 and b"no recipients" in r.stderr


def test_too_large(mta):
    mta.cfg.server["max_message_size"] = "2048"
    mta.cfg.write()
    r = sendmail(mta, BOB, input=b"Subject: big\n\n" + b"x" * 80 * 100)
    assert r.returncode == 1
    assert b"message too large" in r.stderr


def test_queued_while_daemon_stopped(mta):
    """The command queues durably without a daemon; delivery follows once
    it starts."""
    mk = new_marker()
    r = ok(sendmail(mta, "-v", ALICE,
                    input=lines("Subject: later %s" % mk, "", "x")))
    qid = r.stdout.decode().split()[-1]
    assert qid in mta.queue_ids()
    # The spool holds CRLF line ends although the input had LF.
    spooled = harness.spool_split(mta.data_dir, qid)[0]
    assert spooled.endswith(b"\r\n\r\nx\r\n")
    assert b"\n" not in spooled.replace(b"\r\n", b"")
    listing = harness.run_cli(mta.cfg.path, "queue", "list")
    assert listing.returncode == 0 and qid in listing.stdout
    assert not mta.mailbox(ALICE).with_marker(mk)
    mta.start()
    mta.mailbox(ALICE).wait_for(mk)
    wait_until(lambda: qid not in mta.queue_ids(), 15,
               what="queue entry removed")


def test_called_as_sendmail(mta):
    mta.start()
    mk = new_marker()
    ok(sendmail(mta, "-t", "-i", argv0="sendmail", input=lines(
        "To: %s" % BOB, "Subject: argv0 %s" % mk, "", "hi")))
    mta.mailbox(BOB).wait_for(mk)


def test_other_users_refused(mta):
    """Only root and the [server] user may write the spool."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to another user")
    # A config that user nobody can read (the test folders are private).
    d = tempfile.mkdtemp(prefix="sm-nobody-")
    try:
        os.chmod(d, 0o755)
        cfg = os.path.join(d, "sealmail.conf")
        shutil.copyfile(mta.cfg.path, cfg)
        os.chmod(cfg, 0o644)
        r = subprocess.run(
            [harness.sealmail_bin_for_others(), "-c", cfg, "sendmail", BOB],
            input=b"x\n", capture_output=True, timeout=30,
            user="nobody", group="nogroup", extra_groups=[])
    finally:
        shutil.rmtree(d)
    assert r.returncode == 1
    assert b"only root and the sealmail user" in r.stderr
