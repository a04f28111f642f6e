# SPDX-License-Identifier: ISC
"""The queue's promise under load and graceful restarts (issue 10, item 0):
several clients send over implicit TLS while a worker is killed and the
server is stopped with SIGTERM and started again every few seconds, the way `systemctl restart`
does it (systemd signals every process of the service, and the master
signals its children too). Every message that got a 250 must be delivered
exactly once; one whose 250 never arrived at most once."""

import glob
import os
import re
import signal
import smtplib
import ssl
import threading
import time

from harness import SLOW, make_message, new_marker, wait_until
from lmtpsink import LmtpSink

ALICE = "alice@example.test"
SENDER = "someone@remote.test"
CLIENTS = 6
CYCLES = 3
PERIOD = 3.0          # seconds of load between restarts


class Client(threading.Thread):
    """Sends messages one after another, reconnecting after any error;
    records which markers were acknowledged (250 after DATA)."""

    def __init__(self, lst, stop, compose=None):
        super().__init__(daemon=True)
        self.lst = lst
        self.stop = stop
        # marker -> (recipients, message bytes); default: a short one to
        # alice (test_kill_delivery.py sends larger ones).
        self.compose = compose or (lambda m: (
            [ALICE], make_message(SENDER, ALICE, m)))
        self.acked = []
        self.unacked = []
        self.errors = 0

    def connect(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        c = smtplib.SMTP_SSL(self.lst.host, self.lst.port, context=ctx,
                             timeout=15 * SLOW)
        c.ehlo("client.example.test")
        return c

    def run(self):
        conn = None
        while not self.stop.is_set():
            marker = new_marker()
            try:
                if conn is None:
                    conn = self.connect()
                rcpts, msg = self.compose(marker)
                conn.sendmail(SENDER, rcpts, msg)
                self.acked.append(marker)
            except (OSError, smtplib.SMTPException):
                self.unacked.append(marker)
                self.errors += 1
                try:
                    if conn is not None:
                        conn.close()
                except OSError:
                    pass
                conn = None
                time.sleep(0.05)
        if conn is not None:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                pass


def systemd_stop(d):
    """SIGTERM to every process of the service, as systemd's default
    KillMode=control-group does; the master, signalled a moment later,
    sends its children a second one. Then wait for the exit."""
    for pid, _ in d.children():
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    time.sleep(0.2)
    d.signal(signal.SIGTERM)
    d.stop(timeout=15, signalled=True)


def delivered_markers(d):
    counts = {}
    for raw in d.mailbox(ALICE).messages():
        m = re.search(rb"Subject: test (mk[0-9a-f]+)", raw)
        assert m, raw[:300]
        k = m.group(1).decode()
        counts[k] = counts.get(k, 0) + 1
    return counts


def test_stop_with_local_deliveries_in_flight(daemons, certs):
    """A stop that meets a backlog of local deliveries (a slow LMTP store:
    deliveries in flight and many queued behind them) records what it
    delivered and leaves the rest to the next run: each message is stored
    exactly once."""
    sink = LmtpSink(delay=0.25)
    try:
        cfg = daemons.config([certs["ec"]], ipv6=False)
        cfg.delivery["local"] = sink.target
        d = daemons.start(cfg)
        markers = [new_marker() for _ in range(40)]
        lst = d["mx_plain"]
        with smtplib.SMTP(lst.host, lst.port, timeout=15 * SLOW) as c:
            for m in markers:
                c.sendmail(SENDER, [ALICE], make_message(SENDER, ALICE, m))
        wait_until(lambda: len(sink.snapshot()) >= 4, 20,
                   what="the first LMTP deliveries")
        stored_at_stop = len(sink.snapshot())
        assert stored_at_stop < len(markers) // 2, "no backlog at the stop"
        systemd_stop(d)
        d.start()
        wait_until(lambda: not d.queue_ids(), 60, what="the queue to drain")
        time.sleep(0.5)
        counts = {}
        for _, raw in sink.snapshot():
            k = re.search(rb"Subject: test (mk[0-9a-f]+)", raw).group(1)
            counts[k.decode()] = counts.get(k.decode(), 0) + 1
        assert sorted(counts) == sorted(markers)
        twice = {m: n for m, n in counts.items() if n > 1}
        assert not twice, "%d of %d messages stored twice (%d stored " \
            "before the stop)" % (len(twice), len(markers), stored_at_stop)
    finally:
        sink.close()


def test_graceful_restarts_under_load(daemons, certs):
    d = daemons.start(daemons.config([certs["ec"]], ipv6=False))
    stop = threading.Event()
    clients = [Client(d["mx_implicit"], stop) for _ in range(CLIENTS)]
    for c in clients:
        c.start()
    try:
        for _ in range(CYCLES):
            # A worker killed mid-load (the master starts another) loses
            # only sessions it had not acknowledged.
            time.sleep(PERIOD / 2)
            workers = d.workers()
            if workers:
                os.kill(workers[0], signal.SIGKILL)
            time.sleep(PERIOD / 2)
            systemd_stop(d)
            d.start()
        time.sleep(PERIOD)
    finally:
        stop.set()
        for c in clients:
            c.join(30 * SLOW)
    acked = [m for c in clients for m in c.acked]
    unacked = [m for c in clients for m in c.unacked]
    assert len(acked) > 100, "too little load: %d acknowledged" % len(acked)

    # The runner delivers everything that is queued, then the queue is
    # empty (nothing stuck, nothing unreadable).
    wait_until(lambda: not d.queue_ids(), 60, what="the queue to drain")
    time.sleep(1.0)
    counts = delivered_markers(d)
    lost = [m for m in acked if counts.get(m, 0) == 0]
    twice = {m: n for m, n in counts.items() if n > 1}
    assert not lost, "%d acknowledged messages lost, e.g. %s" % (
        len(lost), lost[:3])
    assert not twice, "%d messages delivered more than once, e.g. %s" % (
        len(twice), list(twice.items())[:3])
    known = set(acked) | set(unacked)
    assert set(counts) <= known, "unexpected messages delivered"

    logs = ""
    for p in sorted(glob.glob(os.path.join(d.cfg.folder, "sealmail-*.log"))):
        with open(p, "rb") as f:
            logs += f.read().decode("utf-8", "replace")
    assert "queue envelope unusable" not in logs
    print("%d acknowledged, %d not, %d delivered, over %d restarts" % (
        len(acked), len(unacked), sum(counts.values()), CYCLES))
    assert d.cli("queue", "list").returncode == 0
