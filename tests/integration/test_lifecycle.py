# SPDX-License-Identifier: ISC
"""The process model under stress: process names, restart with a queued
message, SIGKILL of a worker mid-DATA, SIGKILL of the queue runner, SIGHUP
certificate reload during a session, SIGTERM with an open session."""

import os
import signal
import time

from harness import (USERS, block_domain, copy_cert, make_message,
                     new_marker, peer_fingerprint, pid_holding_socket,
                     replace_file, socket_inode, spool_file, unblock_domain,
                     wait_until)
from smtpraw import RawSMTP, queued_id

ALICE = "alice@example.test"
SENDER = "someone@remote.test"


def mx_send(d, marker, name="mx_plain"):
    with RawSMTP.to(d[name]) as c:
        c.ehlo()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        qid = queued_id(c.data(make_message(SENDER, ALICE, marker)))
        c.expect("QUIT", 221)
    return qid


def exactly_once(d, marker, settle=1.0):
    d.mailbox(ALICE).wait_for(marker)
    time.sleep(settle)
    n = len(d.mailbox(ALICE).with_marker(marker))
    assert n == 1, "%d copies of %s delivered" % (n, marker)


def spool_holds(d, marker):
    q = os.path.join(d.data_dir, "spool", "queue")
    for n in os.listdir(q) if os.path.isdir(q) else []:
        with open(os.path.join(q, n), "rb") as f:
            if marker.encode() in f.read():
                return n
    return None


def test_process_tree(mta):
    assert open("/proc/%d/comm" % mta.pid).read().strip() == "sealmail"
    kids = [c for _, c in mta.children()]
    assert kids.count("sealmail-smtp") == 2, kids
    assert kids.count("sealmail-queue") == 1, kids


def test_restart_with_queued_message(daemons, certs):
    """A message acknowledged but not yet delivered survives a stop and is
    delivered, once, by the next run."""
    d = daemons.start(daemons.config([certs["ec"]], ipv6=False))
    block_domain(d.data_dir)
    marker = new_marker()
    qid = mx_send(d, marker)
    assert qid in d.queue_ids()
    time.sleep(1.5)         # the runner tries and defers (retry in 1 s)
    assert d.mailbox(ALICE).with_marker(marker) == []
    d.stop()
    assert os.path.exists(spool_file(d.data_dir, qid, "msg"))
    assert os.path.exists(spool_file(d.data_dir, qid, "env")), \
        "the deferred message left the queue (bounced on a local I/O error?)"
    unblock_domain(d.data_dir)
    d.start()
    exactly_once(d, marker)
    wait_until(lambda: qid not in d.queue_ids(), 10,
               what="%s to leave the queue" % qid)


def test_worker_sigkill_mid_data(daemons, certs):
    d = daemons.start(daemons.config([certs["ec"]], ipv6=False))
    acked, unacked = new_marker(), new_marker()
    lst = d["mx_plain"]
    c = RawSMTP.to(lst)
    try:
        c.ehlo()
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        queued_id(c.data(make_message(SENDER, ALICE, acked)))
        c.expect("MAIL FROM:<%s>" % SENDER, 250)
        c.expect("RCPT TO:<%s>" % ALICE, 250)
        c.expect("DATA", 354)
        c.send(make_message(SENDER, ALICE, unacked))    # no end marker
        time.sleep(0.3)
        workers = d.workers()
        assert len(workers) == 2, d.children()
        inode = wait_until(lambda: socket_inode(lst.port, c.local_port()),
                           3, what="the server side of our connection")
        victim = pid_holding_socket(workers, inode)
        assert victim, "no sealmail-smtp worker holds our connection"
        os.kill(victim, signal.SIGKILL)
        assert c.closed(), "connection survived its worker's death"
    finally:
        c.close()
    wait_until(lambda: len(d.workers()) == 2 and victim not in d.workers(),
               10, what="the master to start a new worker")
    assert d.alive()
    later = new_marker()
    mx_send(d, later)
    exactly_once(d, acked)
    d.mailbox(ALICE).wait_for(later)
    assert d.mailbox(ALICE).with_marker(unacked) == [], \
        "the unacknowledged message was delivered"
    assert spool_holds(d, unacked) is None, \
        "the unacknowledged message is in the queue"


def test_queue_runner_sigkill(daemons, certs):
    d = daemons.start(daemons.config([certs["ec"]], ipv6=False))
    runner = [p for p, c in d.children() if c == "sealmail-queue"]
    assert len(runner) == 1, d.children()
    os.kill(runner[0], signal.SIGKILL)
    wait_until(lambda: [p for p, c in d.children()
                        if c == "sealmail-queue" and p != runner[0]],
               10, what="a new queue runner")
    marker = new_marker()
    mx_send(d, marker)
    exactly_once(d, marker)


def test_sighup_reloads_certificate(daemons, certs):
    """New clients get the new certificate; sessions opened before the HUP
    (one mid-DATA over implicit TLS, one idle after STARTTLS) finish."""
    cfg = daemons.config([], ipv6=False)
    live = copy_cert(certs["ec"], cfg.folder, "live")
    cfg.certs = [live]
    d = daemons.start(cfg)
    master = d.pid
    old_fp, new_fp = certs["ec"].fingerprint, certs["ec2"].fingerprint

    def fingerprint(name):
        with RawSMTP.to(d[name]) as x:
            if d[name].tls == "starttls":
                x.ehlo()
                x.starttls()
            return peer_fingerprint(x.sock)

    m1, m2 = new_marker(), new_marker()
    c1 = RawSMTP.to(d["submissions"])
    c2 = RawSMTP.to(d["mx"])
    try:
        assert peer_fingerprint(c1.sock) == old_fp
        c1.ehlo()
        c1.login(ALICE, USERS[ALICE])
        c1.expect("MAIL FROM:<%s>" % ALICE, 250)
        c1.expect("RCPT TO:<%s>" % ALICE, 250)
        c1.expect("DATA", 354)
        msg = make_message(ALICE, ALICE, m1)
        c1.send(msg[:40])
        c2.ehlo()
        c2.starttls()
        c2.ehlo()

        replace_file(certs["ec2"].key, live.key)
        replace_file(certs["ec2"].cert, live.cert)
        d.signal(signal.SIGHUP)
        wait_until(lambda: fingerprint("submissions") == new_fp, 10,
                   what="the new certificate on the implicit listener")
        assert fingerprint("mx") == new_fp
        assert d.pid == master and d.alive()

        c1.send(msg[40:] + b".\r\n")
        queued_id(c1.reply())
        c2.expect("MAIL FROM:<%s>" % SENDER, 250)
        c2.expect("RCPT TO:<%s>" % ALICE, 250)
        queued_id(c2.data(make_message(SENDER, ALICE, m2)))
    finally:
        c1.close()
        c2.close()
    exactly_once(d, m1, settle=0.2)
    exactly_once(d, m2, settle=0.2)


def test_sighup_with_broken_certificate_keeps_serving(daemons, certs):
    """A reload that cannot load the new files keeps the old ones (and the
    daemon) running."""
    cfg = daemons.config([], ipv6=False)
    live = copy_cert(certs["ec"], cfg.folder, "live")
    cfg.certs = [live]
    d = daemons.start(cfg)
    with open(live.cert, "w") as f:
        f.write("not a certificate\n")
    d.signal(signal.SIGHUP)
    time.sleep(1.0)
    assert d.alive()
    with RawSMTP.to(d["submissions"]) as c:
        assert peer_fingerprint(c.sock) == certs["ec"].fingerprint
    # put it back so that the final stop is clean
    replace_file(certs["ec"].cert, live.cert)


def test_sigterm_tempfails_open_session(daemons, certs):
    d = daemons.start(daemons.config([certs["ec"]], ipv6=False))
    with RawSMTP.to(d["mx_plain"], timeout=15) as c:
        c.ehlo()
        d.signal(signal.SIGTERM)
        r = c.reply()
        assert r.code == 421, r
        assert c.closed()
    d.stop(signalled=True)


class NotifyListener:
    """The datagram socket systemd listens on for a Type=notify service,
    under an abstract name (as $NOTIFY_SOCKET spells it: "@name")."""

    def __init__(self):
        import socket
        self.name = "@sealmail-it-notify-%d" % os.getpid()
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind("\0" + self.name[1:])
        self.s.settimeout(20)

    def next_with(self, key):
        """The next datagram that has a KEY=... line, as a dict."""
        while True:
            msg = self.s.recv(4096).decode()
            fields = dict(l.split("=", 1) for l in msg.split("\n"))
            if key in fields:
                return fields


def test_systemd_notifications(daemons, certs, monkeypatch):
    """READY=1 with a STATUS once listening; RELOADING=1 (with
    MONOTONIC_USEC) then READY=1 around SIGHUP, also when the reload fails
    (the STATUS says so); STOPPING=1 on SIGTERM."""
    n = NotifyListener()
    monkeypatch.setenv("NOTIFY_SOCKET", n.name)
    cfg = daemons.config([], ipv6=False)
    live = copy_cert(certs["ec"], cfg.folder, "live")
    cfg.certs = [live]
    d = daemons.start(cfg)
    try:
        f = n.next_with("READY")
        assert f["READY"] == "1" and "generation 0" in f["STATUS"], f
        d.signal(signal.SIGHUP)
        f = n.next_with("RELOADING")
        assert f["MONOTONIC_USEC"].isdigit(), f
        f = n.next_with("READY")
        assert "generation 1" in f["STATUS"], f
        with open(live.cert, "w") as fp:
            fp.write("not a certificate\n")
        d.signal(signal.SIGHUP)
        n.next_with("RELOADING")
        f = n.next_with("READY")
        assert f["STATUS"].startswith("reload failed, still running "
                                      "generation 1"), f
        replace_file(certs["ec"].cert, live.cert)
        d.signal(signal.SIGTERM)
        assert n.next_with("STOPPING")["STOPPING"] == "1"
        d.stop(signalled=True)
    finally:
        n.s.close()
