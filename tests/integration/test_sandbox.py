# SPDX-License-Identifier: ISC
"""The children's sandbox (src/proc/sandbox.c). Every thread of every SMTP
worker and of the queue runner runs under seccomp (Seccomp: 2) with
NoNewPrivs, and Landlock refuses files outside the trees each may touch.
Landlock is observed with symlinks: a mailbox or spool folder that is a
symlink out of data_dir is refused, while the same kind of symlink to a
folder inside the allowed tree works (root's permissions would allow
both). Each test runs with the kernel's Landlock ABI and with ABI 2,
Debian 12's 6.1 kernel (SEALMAIL_TEST_LANDLOCK_ABI)."""

import ctypes
import os
import re
import shutil
import subprocess
import time

import pytest

from harness import make_message, new_marker, wait_until
from mailcheck import login, send, smtp_connect
from smtpraw import RawSMTP, queued_id

ALICE = "alice@example.test"
BOB = "bob@example.test"
SENDER = "someone@remote.test"


def kernel_landlock_abi():
    """landlock_create_ruleset(NULL, 0, VERSION): 444 on every arch."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    v = libc.syscall(ctypes.c_long(444), None, ctypes.c_size_t(0),
                     ctypes.c_uint(1))
    return v if v > 0 else 0


@pytest.fixture(params=[None, "2"], ids=["native-abi", "abi2"])
def abi(request, monkeypatch):
    """The Landlock ABI the daemon should use (0: none)."""
    k = kernel_landlock_abi()
    if request.param is None:
        monkeypatch.delenv("SEALMAIL_TEST_LANDLOCK_ABI", raising=False)
        want = k
    else:
        if k < int(request.param):
            pytest.skip("kernel Landlock ABI %d < %s" % (k, request.param))
        monkeypatch.setenv("SEALMAIL_TEST_LANDLOCK_ABI", request.param)
        want = int(request.param)
    return want if want >= 2 else 0


def status(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def mx_send(d, rcpt, marker):
    """The reply to DATA if it refuses, else the final reply."""
    with RawSMTP.to(d["mx_plain"]) as c:
        c.ehlo()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % rcpt, 250)
        r = c.cmd("DATA")
        if r.code == 354:
            c.send(make_message(SENDER, rcpt, marker) + b".\r\n")
            r = c.reply()
        c.expect("QUIT", 221)
    return r


def test_every_thread_sandboxed(daemons, certs, abi):
    d = daemons.start(daemons.config([certs["ec"]], ipv6=False))
    # Submission with AUTH (the password threads) and a local delivery
    # (the runner's delivery threads): the pools are busy, not just there.
    marker = new_marker()
    s = smtp_connect(d["submission"])
    login(s)
    send(s, ALICE, [BOB], make_message(ALICE, BOB, marker))
    s.quit()
    d.mailbox(BOB).wait_for(marker)
    kids = d.children()
    assert sorted(c for _, c in kids).count("sealmail-smtp") == 2, kids
    assert "sealmail-queue" in [c for _, c in kids], kids
    assert "sealmail-keys" in [c for _, c in kids], kids
    for pid, comm in kids:
        st = status("/proc/%d/status" % pid)
        assert st["Seccomp"] == "2", (comm, st["Seccomp"])
        assert st["NoNewPrivs"] == "1", (comm, st["NoNewPrivs"])
        assert int(st["Seccomp_filters"]) >= 1, comm
        tids = os.listdir("/proc/%d/task" % pid)
        # the event loop plus the pools (spool commits,
        # deliveries; the keys process's signing and password threads):
        # all started after the sandbox, all inside it
        assert len(tids) > (2 if comm == "sealmail-keys" else 4), \
            (comm, tids)
        for tid in tids:
            ts = status("/proc/%d/task/%s/status" % (pid, tid))
            assert ts["Seccomp"] == "2", (comm, tid, ts["Seccomp"])
            assert ts["NoNewPrivs"] == "1", (comm, tid)
    log = d.log_text()
    for who in ("smtp worker", "queue runner"):
        assert re.search(r"%s sandboxed landlock_abi=%d seccomp=on" %
                         (who, abi), log), (who, abi)
    # The master stays unconfined: it reloads, reaps and respawns.
    assert status("/proc/%d/status" % d.pid)["Seccomp"] == "0"


def test_runner_refuses_maildir_outside(daemons, certs, abi, tmp_path):
    """alice's mailbox is a symlink out of data_dir: refused, the message
    stays queued; bob's is a symlink inside the Maildir tree: delivered.
    Once alice's is a real folder, the retry delivers."""
    if abi == 0:
        pytest.skip("no Landlock in this kernel")
    d = daemons.start(daemons.config([certs["ec"]], ipv6=False))
    dom = os.path.join(d.data_dir, "mail", "example.test")
    os.makedirs(dom, exist_ok=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    inside = os.path.join(d.data_dir, "mail", "elsewhere-bob")
    os.makedirs(inside)
    os.symlink(str(outside), os.path.join(dom, "alice"))
    os.symlink(inside, os.path.join(dom, "bob"))

    m_bob, m_alice = new_marker(), new_marker()
    assert mx_send(d, BOB, m_bob).code == 250
    d.mailbox(BOB).wait_for(m_bob)
    qid = queued_id(mx_send(d, ALICE, m_alice))
    wait_until(lambda: re.search(r"qid=%s.*Permission denied" % qid,
                                 d.log_text()), 15,
               what="a refused delivery for %s" % qid)
    assert qid in d.queue_ids()
    assert not any(m_alice.encode() in p.read_bytes()
                   for p in outside.rglob("*") if p.is_file()), \
        "the runner wrote outside its tree"

    os.unlink(os.path.join(dom, "alice"))
    os.makedirs(os.path.join(dom, "alice"))
    d.cli("queue", "flush")
    d.mailbox(ALICE).wait_for(m_alice, timeout=30)


def test_worker_refuses_spool_outside(daemons, certs, abi, tmp_path):
    """spool/tmp is a symlink out of data_dir: the worker cannot create
    the message file and answers 451; with spool/tmp a symlink to a folder
    inside the spool, the same daemon setup accepts."""
    if abi == 0:
        pytest.skip("no Landlock in this kernel")
    outside = tmp_path / "outside"
    outside.mkdir()
    for target, ok in ((str(outside), False), (None, True)):
        cfg = daemons.config([certs["ec"]], ipv6=False)
        cfg.write()
        spool = os.path.join(cfg.data_dir, "spool")
        os.makedirs(spool)
        if target is None:
            target = os.path.join(spool, "tmp-real")
            os.makedirs(target)
        os.symlink(target, os.path.join(spool, "tmp"))
        d = daemons.start(cfg)
        marker = new_marker()
        r = mx_send(d, ALICE, marker)
        if ok:
            assert r.code == 250, r
            d.mailbox(ALICE).wait_for(marker)
        else:
            assert r.code == 451, r
            time.sleep(0.5)
            assert not any(marker.encode() in p.read_bytes()
                           for p in outside.rglob("*") if p.is_file())
            assert "Permission denied" in d.log_text()
        d.stop()


def open_in(pid, path):
    """open(path, O_RDONLY) run inside process pid (gdb attaches, makes
    the call on the process's own thread, under its own Landlock domain,
    closes what it opened and detaches): (fd, errno)."""
    r = subprocess.run(
        ["gdb", "-nx", "-batch", "-p", str(pid),
         "-ex", 'set $fd = (int) open("%s", 0)' % path,
         "-ex", "set $err = *((int *(*)(void)) __errno_location)()",
         "-ex", "print $fd", "-ex", "print $err",
         "-ex", "if $fd >= 0\ncall (int) close($fd)\nend"],
        capture_output=True, text=True, timeout=120)
    vals = re.findall(r"^\$\d+ = (-?\d+)$", r.stdout, re.M)
    assert len(vals) >= 2, (r.stdout, r.stderr)
    return int(vals[0]), int(vals[1])


@pytest.mark.skipif(shutil.which("gdb") is None, reason="needs gdb")
def test_children_read_only_their_own_proc(daemons, certs):
    """A worker and the runner read their own /proc/PID but no other
    process's: not the master's cmdline, not another child's status
    (EACCES: Landlock, as the files are world-readable). The memory
    /metrics shows is the master's sample (test_admin_pages checks it)."""
    if kernel_landlock_abi() < 2:
        pytest.skip("no Landlock in this kernel")
    d = daemons.start(daemons.config([certs["ec"]], ipv6=False))
    kids = d.children()
    workers = [p for p, c in kids if c == "sealmail-smtp"]
    runner = [p for p, c in kids if c == "sealmail-queue"][0]
    for pid, other in ((workers[0], runner), (runner, workers[1])):
        fd, _ = open_in(pid, "/proc/self/status")
        assert fd >= 0, pid
        for path in ("/proc/%d/cmdline" % d.pid,
                     "/proc/%d/status" % other, "/proc/1/cmdline"):
            assert os.access(path, os.R_OK), path
            assert open_in(pid, path) == (-1, 13), (pid, path)
