# SPDX-License-Identifier: ISC
"""Issue 16's must-show: two sealmail nodes behind HAProxy sharing one
PostgreSQL store (the fixture: clusterkit.py, conftest.py). A user added on node 1
gets mail through either node within a second; Received and the per-IP
limit see the real client, not HAProxy; a PROXY header from outside
proxy_from is refused; one DMARC aggregate report covers both nodes'
traffic; PostgreSQL stopped mid-load gives 4xx, never a 5xx, loses
nothing and service resumes by itself; node 1 killed under load loses no
acknowledged message and delivers none twice.

Messages are told apart by their Message-ID (unique per message): the
shared LMTP sink is where they are counted."""

import email
import email.policy
import gzip
import json
import re
import smtplib
import socket
import struct
import threading
import time
import uuid
import xml.etree.ElementTree as ET

import harness
from harness import SLOW, header_values, wait_until
from mailcheck import smtp_connect
from smtpraw import RawSMTP
from clusterkit import RUA, SENDER_DOMAIN

ALICE = "alice@example.test"
BOB = "bob@example.test"
FROM = "someone@" + SENDER_DOMAIN
HELO = "client.example.test"
NODE1, NODE2 = "mx1.example.test", "mx2.example.test"


def message(frm, to, mid):
    return ("From: %s\r\nTo: %s\r\nSubject: cluster %s\r\n"
            "Message-ID: <%s>\r\nDate: Sun, 06 Dec 2026 08:00:00 +0000\r\n"
            "\r\nHello %s.\r\n" % (frm, to, mid, mid, mid)).encode()


def new_mid(tag="m"):
    return "%s-%s@client.example.test" % (tag, uuid.uuid4().hex)


def delivered(sink, mid):
    """The copies of Message-ID mid the sink stored: [(rcpt, bytes)]."""
    key = ("Message-ID: <%s>" % mid).encode()
    return [(r, m) for r, m in sink.snapshot() if key in m]


def wait_delivered(sink, mid, timeout=15):
    return wait_until(lambda: delivered(sink, mid), timeout,
                      what="delivery of <%s>" % mid)


def taken_by(raw):
    """The node whose Received field is on top (ours: "by mxN...")."""
    rec = header_values(raw, "Received")[0]
    m = re.search(r"\bby (mx[12]\.example\.test)\b", rec)
    assert m, rec
    return m.group(1), rec


def header(version, client, port=40000, dport=25):
    """A PROXY header (as HAProxy would send it) naming client."""
    if version == 1:
        return ("PROXY TCP4 %s 127.0.0.1 %d %d\r\n" % (client, port,
                                                      dport)).encode()
    body = (socket.inet_aton(client) + socket.inet_aton("127.0.0.1") +
            struct.pack(">HH", port, dport))
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) +
            struct.pack(">H", len(body)) + body)


def direct(node, client, listener="mxv1"):
    """A session to one node, the test playing HAProxy (from 127.0.0.1,
    in proxy_from) for client: greeting read, EHLO sent."""
    lst = node[listener]
    c = RawSMTP(lst.host, lst.port, source="127.0.0.1", greeting=False)
    c.send(header(1 if listener == "mxv1" else 2, client))
    c.greeting = c.reply()
    assert c.greeting.code == 220, c.greeting
    c.ehlo(HELO)
    return c


def rcpt_code(node, rcpt, client="127.0.0.10"):
    """The reply to RCPT TO:<rcpt> on node, for a client sender.test's
    SPF allows."""
    with direct(node, client) as c:
        c.expect("MAIL FROM:<%s>" % FROM, 250)
        r = c.cmd("RCPT TO:<%s>" % rcpt)
        c.cmd("QUIT")
        return r


# ---------------------------------------------------------------- clients

class Attempt:
    """One SMTP transaction through a frontend, as a client MTA makes
    it: the outcome is "ok" (250 after DATA, with the queue id), "temp"
    (a 4xx or a connection that failed before the message was sent:
    try again), "unknown" (the connection broke after the message's
    final dot, before its reply: RFC 1047's case, the client sends
    again and a second copy is no server fault) or "perm" (a 5xx)."""

    def __init__(self, front, source, frm, rcpts, msg, tls=False):
        self.replies = []        # (step, code) of every reply seen
        self.outcome, self.qid, self.detail = None, None, ""
        self.t_start = time.monotonic()    # before the connection
        step = "connect"
        s = None
        try:
            s = smtplib.SMTP(front.host, front.port, local_hostname=HELO,
                             timeout=15 * SLOW,
                             source_address=(source, 0))
            step = "ehlo"
            code, _ = s.ehlo()
            self.replies.append((step, code))
            if tls:
                step = "starttls"
                code, _ = s.starttls(context=harness.client_ctx())
                self.replies.append((step, code))
                s.ehlo()
            step = "mail"
            code, resp = s.mail(frm)
            self.replies.append((step, code))
            if code != 250:
                return self._end(code, resp)
            for r in rcpts:
                step = "rcpt"
                code, resp = s.rcpt(r)
                self.replies.append((step, code))
                if code != 250:
                    return self._end(code, resp)
            step = "data"
            code, resp = s.docmd("DATA")
            self.replies.append((step, code))
            if code != 354:
                return self._end(code, resp)
            step = "dot"
            q = smtplib.quotedata(msg.decode())
            if q[-2:] != "\r\n":
                q += "\r\n"
            s.send(q.encode() + b".\r\n")
            code, resp = s.getreply()
            self.replies.append((step, code))
            if code != 250:
                return self._end(code, resp)
            self.outcome = "ok"
            self.qid = resp.decode().rsplit(" ", 1)[-1]
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass
        except smtplib.SMTPConnectError as e:
            # A 4xx/5xx greeting.
            self.replies.append(("greeting", e.smtp_code))
            self._end(e.smtp_code, e.smtp_error)
        except (smtplib.SMTPException, OSError) as e:
            self.outcome = "unknown" if step == "dot" else "temp"
            self.detail = "%s at %s" % (e.__class__.__name__, step)
        finally:
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass

    def _end(self, code, resp):
        self.outcome = "temp" if 400 <= code < 500 else "perm"
        self.detail = "%d %r" % (code, resp)


class Load:
    """n messages (unique Message-IDs) to rcpts over `clients` concurrent
    clients through a frontend, each client from its own loopback
    address, each message sent until it gets its 250 (retrying on 4xx
    and connection errors after a short pause, as a client MTA does) or
    the deadline passes. acked: Message-ID -> queue id; acked_at:
    Message-ID -> when its successful attempt began; unknown: the
    Message-IDs that once met RFC 1047's case; replies: (time, mid,
    step, code) of every reply seen; perm: the 5xx answers (mid,
    detail). pace: each client's pause between two messages."""

    def __init__(self, front, n, rcpts, clients=4, tag="load",
                 base_addr=40, deadline=90, pace=0.0):
        self.front, self.rcpts, self.tag = front, rcpts, tag
        self.pace = pace
        self.acked_at = {}
        self.mids = [new_mid(tag) for _ in range(n)]
        self.acked, self.unknown, self.perm = {}, set(), []
        self.replies = []
        self.retries = 0
        self.lock = threading.Lock()
        self.todo = list(self.mids)
        self.deadline = time.monotonic() + deadline * SLOW
        self.threads = [threading.Thread(
            target=self._client, args=("127.0.0.%d" % (base_addr + i),),
            daemon=True) for i in range(clients)]
        for t in self.threads:
            t.start()

    def _client(self, source):
        while True:
            with self.lock:
                if not self.todo:
                    return
                mid = self.todo.pop(0)
            while time.monotonic() < self.deadline:
                a = Attempt(self.front, source, FROM, self.rcpts,
                            message(FROM, self.rcpts[0], mid))
                now = time.monotonic()
                with self.lock:
                    self.replies += [(now, mid) + r for r in a.replies]
                    if a.outcome == "ok":
                        self.acked[mid] = a.qid
                        self.acked_at[mid] = a.t_start
                        break
                    self.retries += 1
                    if a.outcome == "unknown":
                        self.unknown.add(mid)
                    elif a.outcome == "perm":
                        self.perm.append((mid, a.detail))
                        break
                time.sleep(0.2)
            time.sleep(self.pace)

    def n_acked(self):
        with self.lock:
            return len(self.acked)

    def join(self):
        for t in self.threads:
            t.join(max(1, self.deadline - time.monotonic() + 30))
        assert not any(t.is_alive() for t in self.threads), "clients hung"


def check_exactly_once(cluster, load, timeout=60):
    """Every message of load was acknowledged; each acknowledged one
    reaches the shared sink exactly once per recipient (a message that
    met RFC 1047's case at least once: its client sent it again)."""
    assert not load.perm, load.perm[:5]
    missing = [m for m in load.mids if m not in load.acked]
    assert not missing, "%d messages never acknowledged (e.g. %s)" % (
        len(missing), missing[:3])

    def counts():
        c = {}
        key = re.compile(rb"Message-ID: <(%s-[0-9a-f]{32}@client\."
                         rb"example\.test)>" % load.tag.encode())
        for _, raw in cluster.sink.snapshot():
            m = key.search(raw)
            if m:
                mid = m.group(1).decode()
                c[mid] = c.get(mid, 0) + 1
        return c
    want = len(load.rcpts)

    def all_there():
        c = counts()
        return all(c.get(m, 0) >= want for m in load.mids)
    try:
        wait_until(all_there, timeout, interval=0.2,
                   what="every acknowledged message at the sink")
    except AssertionError:
        pass                 # the count below says which
    c = counts()
    lost = [m for m in load.mids if c.get(m, 0) < want]
    assert not lost, "%d acknowledged messages lost (e.g. %s)" % (
        len(lost), lost[:3])
    time.sleep(1.5)      # a late second copy would show now
    c = counts()
    twice = [m for m in load.mids if c.get(m, 0) > want and
             m not in load.unknown]
    assert not twice, "%d messages delivered twice (e.g. %s)" % (
        len(twice), twice[:3])
    return c


# ---------------------------------------------------------------- tests

def send_through(front, source, rcpt, mid, frm=FROM):
    """One message through HAProxy from source; it must be taken."""
    a = Attempt(front, source, frm, [rcpt], message(frm, rcpt, mid),
                tls=front.tls == "starttls")
    assert a.outcome == "ok", (a.detail, a.replies)
    return a.qid


def delivery_logged(node, qid, rcpt):
    return re.search(r"qid=%s delivery rcpt=\"%s\" method=lmtp "
                     r"result=delivered" % (re.escape(qid), re.escape(rcpt)),
                     node.log_text())


def test_user_added_on_node1_gets_mail_through_either_node(cluster):
    """Both nodes first refuse the address (and may cache that); it is
    added on node 1 (its CLI, the shared store); within a second both
    take it, and mail to it through HAProxy is delivered by both."""
    n1, n2 = cluster.nodes
    user = "new%s@example.test" % uuid.uuid4().hex[:8]
    for n in (n1, n2):
        r = rcpt_code(n, user)
        assert 500 <= r.code < 600, r
    harness.cli_ok(n1.cfg.path, "user", "add", user, "--password-stdin",
                   input="new-Secret-4242\n")
    added = time.monotonic()
    for n in (n2, n1):
        def takes():
            r = rcpt_code(n, user)
            assert r.code == 250 or 500 <= r.code < 600, r
            return r.code == 250
        wait_until(takes, 10, interval=0.05,
                   what="%s to take %s" % (n.cfg.server["hostname"], user))
        late = time.monotonic() - added
        assert late <= 1.5 * SLOW, (
            "%s took the user added on node 1 only %.2f s later (want "
            "within a second)" % (n.cfg.server["hostname"], late))
    sent = {}
    for i in range(6):
        mid = new_mid("newuser")
        sent[mid] = send_through(cluster.fronts["v1"], "127.0.0.3", user,
                                 mid)
    by = {}
    for mid, qid in sent.items():
        copies = wait_delivered(cluster.sink, mid)
        assert len(copies) == 1, copies
        assert user in copies[0][0], copies[0][0]
        node, _ = taken_by(copies[0][1])
        by.setdefault(node, []).append(qid)
    assert set(by) == {NODE1, NODE2}, by
    for name, qids in by.items():
        node = cluster.node_named(name)
        for qid in qids:
            wait_until(lambda: delivery_logged(node, qid, user), 5,
                       what="%s's delivery log line of %s" % (name, qid))


def test_received_names_the_real_client(cluster):
    """Through the v2 frontend (STARTTLS) from 127.0.0.3 and the v1 one
    (plaintext) from 127.0.0.4: Received and the node's log name the
    client, HAProxy (127.0.0.1) shows only as proxy=."""
    for front, source, version, proto in (
            ("v2", "127.0.0.3", 2, "ESMTPS"),
            ("v1", "127.0.0.4", 1, "ESMTP")):
        mid = new_mid("rcvd")
        s = smtp_connect(cluster.fronts[front], source=source)
        try:
            code, _ = s.mail(FROM)
            assert code == 250
            code, _ = s.rcpt(ALICE)
            assert code == 250
            code, resp = s.data(message(FROM, ALICE, mid))
            assert code == 250, resp
        finally:
            s.quit()
        raw = wait_delivered(cluster.sink, mid)[0][1]
        name, rec = taken_by(raw)
        assert "(unknown [%s])" % source in rec, rec
        assert "127.0.0.1" not in rec, rec
        assert re.search(r"\bwith %s\b" % proto, rec), rec
        ar = header_values(raw, "Authentication-Results")[0]
        assert "smtp.remote-ip=%s" % source in ar, ar
        node = cluster.node_named(name)
        assert re.search(r"smtp proxy addr=%s port=\d+ proxy=127\.0\.0\.1 "
                         r"version=%d\n" % (re.escape(source), version),
                         node.log_text())


def test_per_ip_limit_counts_the_real_client(cluster):
    """max_connections_per_ip = 3 on each node: 127.0.0.5 holds sessions
    through HAProxy until a node refuses it (421), at 3 to 6 sessions
    (round robin over two nodes); 127.0.0.6, through the same HAProxy,
    still gets in on both nodes. Were HAProxy's address counted, it
    would be refused too."""
    front = cluster.fronts["v1"]
    held, greeted, refused = [], 0, None
    try:
        for _ in range(8):
            c = RawSMTP(front.host, front.port, source="127.0.0.5")
            held.append(c)
            if c.greeting.code == 421:
                refused = c.greeting
                break
            assert c.greeting.code == 220, c.greeting
            greeted += 1
        assert refused is not None, "no refusal after %d sessions" % greeted
        assert 3 <= greeted <= 6, greeted
        for _ in range(2):
            c = RawSMTP(front.host, front.port, source="127.0.0.6")
            held.append(c)
            assert c.greeting.code == 220, c.greeting
        wait_until(lambda: any(
            re.search(r"smtp refused addr=127\.0\.0\.5 limit=per-ip",
                      n.log_text()) for n in cluster.nodes), 5,
            what="the per-ip refusal in a node's log")
    finally:
        for c in held:
            c.close()


def test_proxy_header_from_outside_proxy_from_refused(cluster):
    """127.0.0.9 is not HAProxy: its header (naming some client) is
    never read; the connection closes without a word on both listeners
    of both nodes, and each node logs the refusal (at most once a second
    per worker: anyone could flood the log)."""
    for n in cluster.nodes:
        for lname, version in (("mx", 2), ("mxv1", 1)):
            lst = n[lname]
            c = RawSMTP(lst.host, lst.port, source="127.0.0.9",
                        greeting=False)
            with c:
                c.send(header(version, "192.0.2.77"))
                assert c.closed()
                assert c.buf == b"", c.buf
        wait_until(lambda: re.search(
            r"smtp proxy refused addr=127\.0\.0\.9 listener=mx(v1)? "
            r"reason=not-in-proxy_from", n.log_text()), 5,
            what="the refusal in %s's log" % n.cfg.server["hostname"])
        assert not re.search(r"smtp connect addr=(127\.0\.0\.9|"
                             r"192\.0\.2\.77)", n.log_text())


def report_counts(xml):
    """{source_ip: count} of an RFC 9990 report, and its policy domain."""
    ns = "{urn:ietf:params:xml:ns:dmarc-2.0}"
    root = ET.fromstring(xml)
    out = {}
    for rec in root.findall(ns + "record"):
        ip = rec.find(ns + "row/" + ns + "source_ip").text
        out[ip] = out.get(ip, 0) + int(rec.find(ns + "row/" + ns +
                                                "count").text)
    dom = root.find(ns + "policy_published/" + ns + "domain").text
    return out, dom


def reports_send(node):
    r = node.cli("reports", "send", "--now")
    assert r.returncode == 0, r.stderr
    m = re.search(r"reports run.* sent=(\d+) written=(\d+) failed=(\d+)",
                  r.stderr)
    assert m, r.stderr
    return [int(x) for x in m.groups()], r.stderr


def test_one_dmarc_report_for_both_nodes(cluster):
    """Six messages from sender.test (p=none, rua= a mailbox of ours),
    each from its own client address, through HAProxy: both nodes take
    some. `reports send --now` on node 2, then on node 1, sends ONE
    report for the cluster, whose rows hold every client of both
    nodes."""
    by_node = {}
    for i in range(6):
        source = "127.0.0.%d" % (60 + i)
        mid = new_mid("dmarc")
        send_through(cluster.fronts["v1"], source, ALICE, mid)
        name, _ = taken_by(wait_delivered(cluster.sink, mid)[0][1])
        by_node.setdefault(name, set()).add(source)
    assert set(by_node) == {NODE1, NODE2}, by_node
    # The workers write their evaluations once a second.
    time.sleep(2.5)
    n1, n2 = cluster.nodes
    (sent2, _, failed2), err2 = reports_send(n2)
    (sent1, _, failed1), err1 = reports_send(n1)
    assert failed1 == failed2 == 0, (err2, err1)
    assert sent1 + sent2 == 1, (err2, err1)

    def reports():
        out = []
        for rcpt, raw in cluster.sink.snapshot():
            if RUA in rcpt and b"Report Domain: " in raw:
                out.append(raw)
        return out
    wait_until(reports, 30, what="the report at %s" % RUA)
    time.sleep(1.5)
    got = reports()
    assert len(got) == 1, [r[:300] for r in got]
    msg = email.message_from_bytes(got[0], policy=email.policy.default)
    parts = list(msg.iter_attachments())
    assert len(parts) == 1
    rows, dom = report_counts(gzip.decompress(parts[0].get_content()))
    assert dom == SENDER_DOMAIN
    for name, sources in by_node.items():
        for source in sources:
            assert rows.get(source) == 1, (name, source, rows)


def spki(cluster, name):
    return harness.spki_openssl(cluster.node_named(name).cfg.certs[0].cert)


def test_registry_lists_both_nodes(cluster):
    """The node registry lives in the shared store: each node's queue
    runner writes its heartbeat there, so `cluster status` on either
    node lists both, alive, each with the key of its own certificate."""
    for n in cluster.nodes:
        def listed():
            r = n.cli("cluster", "status", "--json")
            assert r.returncode == 0, r.stderr
            d = {x["name"]: x for x in json.loads(r.stdout)["nodes"]}
            return d if set(d) == {NODE1, NODE2} else None
        nodes = wait_until(listed, 15, what="both nodes in %s's cluster "
                           "status" % n.cfg.server["hostname"])
        for name, row in nodes.items():
            assert not row["stale"], row
            assert row["this_node"] == (name == n.cfg.server["hostname"])
            assert row["tlsa_3_1_1"] == [spki(cluster, name)], row


def test_dns_records_cover_both_nodes(cluster):
    """`dns-records` on either node prints the MX and the TLSA 3 1 1
    record of every node in the shared registry: what the outside sees
    is the same on every node. A node whose runner has not written its
    row yet gets one here (a row as its heartbeat writes it; a real row
    is left alone), so that this checks dns-records' reading of the
    shared registry alone."""
    now = int(time.time())
    for i, name in enumerate((NODE1, NODE2)):
        cluster.pg.psql(
            "INSERT INTO cluster_nodes (name, mx, version, spki, "
            "queue_messages, queue_oldest, heartbeat, beat_every, "
            "first_seen, instance) VALUES ('%s', '%s', 'test', '%s', 0, 0, "
            "%d, 10, %d, 'test-%d') ON CONFLICT (name) DO NOTHING"
            % (name, name, spki(cluster, name), now, now, i), db="cluster")
    want = {"_25._tcp.%s. 3600 IN TLSA 3 1 1 %s" % (name, spki(cluster, name))
            for name in (NODE1, NODE2)}
    for n in cluster.nodes:
        r = n.cli("dns-records", "--domain", "example.test")
        assert r.returncode == 0, r.stdout + r.stderr
        got = {ln for ln in r.stdout.splitlines()
               if " IN TLSA " in ln and not ln.startswith(";")}
        assert got == want, r.stdout
        for name in (NODE1, NODE2):
            assert "example.test. 3600 IN MX 10 %s." % name in r.stdout, \
                r.stdout


def test_postgresql_stopped_mid_load(cluster):
    """PostgreSQL stops for 3 s while three clients send through HAProxy
    to existing users: they meet 4xx (or answers from a node's cache),
    never a 5xx; every message is taken in the end and delivered once;
    afterwards both nodes find a user added after the restart, by
    themselves."""
    pg = cluster.pg
    load = Load(cluster.fronts["v1"], 150, [ALICE], clients=3, tag="pgdown",
                base_addr=70, pace=0.05)
    wait_until(lambda: load.n_acked() >= 15, 30, what="15 messages taken")
    stopped = time.monotonic()
    pg.stop("fast")
    try:
        time.sleep(3)
    finally:
        pg.start()
    started = time.monotonic()
    load.join()
    during = [r for r in load.replies if stopped <= r[0] <= started]
    assert during, "no session ran while PostgreSQL was down"
    bad = [r for r in load.replies if r[3] >= 500]
    assert not bad, "5xx answers: %s" % bad[:5]
    check_exactly_once(cluster, load)
    user = "after%s@example.test" % uuid.uuid4().hex[:8]
    harness.cli_ok(cluster.nodes[0].cfg.path, "user", "add", user,
                   "--password-stdin", input="after-Secret-4242\n")
    for n in cluster.nodes:
        wait_until(lambda: rcpt_code(n, user).code == 250, 15,
                   what="%s to take %s after the restart" % (
                       n.cfg.server["hostname"], user))


def test_node_killed_under_load(cluster):
    """200 messages over four clients through HAProxy (v2), deliveries
    held (the shared LMTP target answers 451, so what a node acknowledged
    sits in its queue): node 1 dies (SIGKILL, every process) with mail in
    its queue after 60 are taken; HAProxy marks it down and node 2 takes
    the rest; node 1 comes back (same config, data_dir and spool), the
    target accepts again, node 1's queue drains, and every message that
    got a 250 is delivered exactly once. The hold keeps LMTP's own
    window (a copy stored whose 250 the dying node never read is sent
    again, as with any MTA) out of the count; the test is about the
    queue."""
    n1, n2 = cluster.nodes
    sink = cluster.sink
    in_queue = set()
    with sink.lock:
        sink.refuse_data = 10 ** 9
    load = Load(cluster.fronts["v2"], 200, [BOB], clients=4, tag="kill",
                base_addr=80, pace=0.02)
    try:
        wait_until(lambda: load.n_acked() >= 60, 60, what="60 taken")
        in_queue = n1.queue_ids()
        cluster.kill_node(n1)
        killed = time.monotonic()
        assert in_queue, "node 1's queue was empty when it died"
        wait_until(lambda: cluster.ha.stat().get(("be_v2", "n1"), "")
                   .startswith("DOWN"), 10, interval=0.05,
                   what="HAProxy to mark node 1 down")
        before = load.n_acked()
        wait_until(lambda: load.n_acked() >= before + 20, 30,
                   what="node 2 to take 20 more while node 1 is down")
        # Down until its restart begins: HAProxy may send it a session
        # as soon as its health check passes, before start() returns.
        back = time.monotonic()
        n1.start(timeout=30)
        cluster.wait_up(("n1",))
        load.join()
    finally:
        with sink.lock:
            sink.refuse_data = 0
    # Retry now rather than at the next queue scan (every 30 s), as an
    # operator would once the mail store is back.
    for n in (n1, n2):
        r = n.cli("queue", "flush")
        assert r.returncode == 0, r.stderr
    counts = check_exactly_once(cluster, load, timeout=60)
    wait_until(lambda: not n1.queue_ids(), 30, what="node 1's queue empty")
    # Whatever was sent while node 1 was down (its connection opened
    # after the kill) was taken by node 2.
    down = [m for m, t in load.acked_at.items() if killed < t < back]
    assert down, "nothing was taken while node 1 was down"
    for mid in down:
        raw = delivered(sink, mid)[0][1]
        assert taken_by(raw)[0] == NODE2, mid
    assert all(counts.get(m) for m in load.mids)
