# SPDX-License-Identifier: ISC
"""An SMTP worker that the master starts while PostgreSQL is away (a
crashed worker, a reload) comes up and serves: 451 4.3.0 for local
recipients it cannot look up, never a 5xx, never an exit; once the server
is back it accepts and delivers by itself, and the DMARC rows it deferred
during an outage (on handles that had never connected) reach the table.
One PostgreSQL server (pgserver.py), a loopback DNS stand-in that serves
the SPF and DMARC records of two sender domains, one daemon with one
worker for the module."""
import os
import signal
import smtplib
import struct
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "integration"))
from harness import make_message, new_marker, wait_until  # noqa: E402
import nxdns  # noqa: E402

import pgnode  # noqa: E402

DB = "outage1"
# Sender domains whose mail the worker evaluates with DMARC (a record,
# so a report row) and whose SPF passes from loopback (so it is taken).
DMARC_DOMAINS = ("during.test",)


def txt_records(name):
    """The TXT strings of name, or None if the name does not exist."""
    for d in DMARC_DOMAINS:
        if name == d:
            return [b"v=spf1 ip4:127.0.0.0/8 -all"]
        if name == "_dmarc." + d:
            return [b"v=DMARC1; p=none"]
    return None


class DmarcDns(nxdns.NxDns):
    """nxdns, but the names of txt_records exist (each answer is far
    below 512 bytes: UDP never truncates it)."""

    @staticmethod
    def answer(query):
        r = nxdns.answer(query)
        if r is None or len(r) <= 12:
            return r
        question = r[12:]
        txts = txt_records(nxdns.qname(question))
        if txts is None:
            return r
        qtype = struct.unpack("!H", question[-4:-2])[0]
        if qtype != 16:
            txts = []                 # the name exists: no data
        qid, flags = struct.unpack("!HH", r[:4])
        flags = (flags & ~0xF) | 0x0400     # NOERROR, authoritative
        rrs = b""
        for t in txts:
            rdata = bytes([len(t)]) + t
            rrs += b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 60,
                                              len(rdata)) + rdata
        return struct.pack("!HHHHHH", qid, flags, 1, len(txts), 0,
                           0) + question + rrs


@pytest.fixture(scope="module")
def node(pg, tmp_path_factory):
    """sealmail serve (one worker) on database DB with alice and carol."""
    folder = str(tmp_path_factory.mktemp("pgoutage"))
    dns = DmarcDns()
    c = pgnode.config(folder, dns)
    c.listen("mx", "mx", "none")
    c.extra = pg.store_section(DB)
    try:
        pgnode.provision(c, (("alice@example.test", None),
                             ("carol@example.test", None)))
    except BaseException:
        dns.close()
        raise
    yield from pgnode.serve(c, dns)


def rcpt_once(node, address, sender="sender@example.net"):
    """(code, message) of RCPT TO:<address> in a new session."""
    with smtplib.SMTP(node["mx"].host, node["mx"].port, timeout=10) as s:
        s.ehlo("client.example.net")
        code, msg = s.mail(sender)
        assert code == 250, (code, msg)
        return s.rcpt(address)


def wait_rcpt(node, address, want, limit):
    """Wait (at most limit seconds, scaled) until RCPT of address gets a
    reply of class want (2, 4 or 5)."""
    wait_until(lambda: rcpt_once(node, address)[0] // 100 == want, limit,
               what="RCPT %s answered %dxx" % (address, want))


def only_worker(node):
    """The pid of the node's one worker (a retired one gone)."""
    return wait_until(lambda: node.workers() if len(node.workers()) == 1
                      else None, 15, what="one worker")[0]


def new_worker(node, old):
    """The worker the master started after old was gone."""
    return wait_until(lambda: [p for p in node.workers() if p != old] if
                      old not in node.workers() else None, 15,
                      what="a new worker in place of %d" % old)[0]


def assert_451_for_local_users(node):
    """Uncached local users (the worker is new) get 451 4.3.0, never a
    5xx, in several sessions."""
    for _ in range(3):
        for rcpt in ("carol@example.test", "alice@example.test"):
            code, msg = rcpt_once(node, rcpt)
            assert code == 451 and msg.startswith(b"4.3.0"), (rcpt, code,
                                                              msg)


def send(node, sender, rcpt, marker):
    with smtplib.SMTP(node["mx"].host, node["mx"].port, timeout=30) as s:
        s.ehlo("client.example.net")
        s.sendmail(sender, [rcpt], make_message(sender, rcpt, marker))


def dmarc_rows(pg):
    return pg.query("SELECT header_from FROM dmarc_results ORDER BY 1",
                    db=DB)


def counter_read(pg):
    """Whether a connection of the daemon has read the change counter
    (its last query, finished) since the server started."""
    return pg.query("SELECT count(*) FROM pg_stat_activity WHERE datname "
                    "= '%s' AND state = 'idle' AND query LIKE 'SELECT "
                    "counter FROM sealmail_changes%%'" % DB) != ["0"]


def resumes(node, worker):
    """Back by itself once the server is: the store threads connect
    again, carol is taken and her mail delivered, by the same worker."""
    wait_rcpt(node, "carol@example.test", 2, 15)
    marker = new_marker()
    send(node, "sender@example.net", "carol@example.test", marker)
    node.mailbox("carol@example.test").wait_for(marker)
    assert node.workers() == [worker]


def test_worker_killed_during_outage_serves_and_resumes(node, pg):
    old = only_worker(node)
    code, _ = rcpt_once(node, "alice@example.test")
    assert code == 250
    pg.stop("fast")
    try:
        os.kill(old, signal.SIGKILL)
        worker = new_worker(node, old)
        assert_451_for_local_users(node)
        # It served: the same worker, not one restarted after an exit.
        assert node.workers() == [worker]
    finally:
        if not pg.running:
            pg.start()
    resumes(node, worker)

    # The worker's two DMARC row handles have not connected yet (no row
    # so far: example.net has no DMARC record). A row deferred while the
    # server is away again waits on them. Its recipient must be answered
    # from the worker's cache then: alice is, once asked after the
    # worker's first successful read of the change counter (every 500
    # ms); if not, the server comes back and she is asked again.
    assert dmarc_rows(pg) == []
    during = new_marker()
    try:
        for _ in range(3):
            wait_until(lambda: counter_read(pg), 15,
                       what="the worker's read of the change counter")
            wait_rcpt(node, "alice@example.test", 2, 15)
            pg.stop("fast")
            if rcpt_once(node, "alice@example.test")[0] == 250:
                break
            pg.start()
        else:
            pytest.fail("alice's RCPT never answered from the cache")
        send(node, "someone@during.test", "alice@example.test", during)
        # Its write was tried and failed: the row is kept.
        wait_until(lambda: "1 dmarc records and 0 failure reports not "
                   "stored yet" in node.log_text(), 10,
                   what="the failed write of the deferred row")
    finally:
        if not pg.running:
            pg.start()
    # Rows kept after a failed write are written again every second
    # (smtpd_store_tick), with no new row needed.
    node.mailbox("alice@example.test").wait_for(during)
    wait_until(lambda: dmarc_rows(pg) == ["during.test"], 15,
               what="the kept DMARC row in the table")
    assert node.workers() == [worker]


def test_worker_of_a_reload_during_outage_serves(node, pg):
    """A reload while the server is away: the new generation's worker
    serves (451 for uncached local users), its runner has remote
    delivery, and both go on once the server is back."""
    old = only_worker(node)
    pg.stop("fast")
    try:
        # The old worker retires, the new generation's starts.
        started = node.log_text().count("queue runner started")
        node.signal(signal.SIGHUP)
        worker = new_worker(node, old)
        assert_451_for_local_users(node)
        assert node.workers() == [worker]
        # The new generation's runner too, with remote delivery: its
        # store handle connects at its first use.
        wait_until(lambda: node.log_text().count("queue runner started")
                   > started, 15, what="the new queue runner")
        line = [ln for ln in node.log_text().splitlines()
                if "queue runner started" in ln][-1]
        assert "remote=mx" in line, line
    finally:
        if not pg.running:
            pg.start()
    resumes(node, worker)
