# SPDX-License-Identifier: ISC
"""A cluster of nodes (issue 16 item 3): each node's queue runner writes
its heartbeat into the store's node registry (table cluster_nodes);
`sealmail cluster status` lists the nodes, a stopped one goes stale and
stays listed until `cluster forget`; the MTA-STS policy served over HTTPS
and `dns-records` (MX, TLSA, the policy's id) cover every node.

Two real daemons, node 1 (mx1.example.test on 127.0.0.1) and node 2
(mx2.example.test on 127.0.0.2), each with its own data_dir and its own
certificate. Nodes of a real cluster share one PostgreSQL store; the
store here is still a SQLite file per data_dir (and refuses a symlink), so
the test stands in for the shared store: replicate() copies each node's
own registry row, as its runner last wrote it, into the other node's
store. Everything else is the daemons' own work: the rows, their
heartbeats (every second here: SEALMAIL_TEST_HEARTBEAT_SECONDS, a
test-only knob), the policies both serve and the records both print.
"""

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import time

import pytest

import harness
import testca

NODE1, NODE2 = "mx1.example.test", "mx2.example.test"
ADDR2 = "127.0.0.2"
STS_HOST = "mta-sts." + harness.DOMAIN
COLS = ("name, mx, version, spki, queue_messages, queue_oldest, heartbeat, "
        "beat_every, first_seen, instance")


def store(d):
    return os.path.join(d.data_dir, "sealmail.db")


def connect(d):
    """The store of d as the daemon keeps it: its "-journal" must stay
    (PERSIST), since the sandboxed processes may not create it again."""
    db = sqlite3.connect(store(d), timeout=10)
    db.execute("PRAGMA journal_mode = PERSIST")
    return db


def own_row(d):
    name = d.cfg.server["hostname"]
    with connect(d) as db:
        return db.execute("SELECT %s FROM cluster_nodes WHERE name = ?" %
                          COLS, (name,)).fetchone()


def replicate(nodes):
    """The shared store's part: every node's own row into every other
    node's store."""
    rows = [(d, own_row(d)) for d in nodes]
    for d in nodes:
        with connect(d) as db:
            for src, row in rows:
                if src is not d and row is not None:
                    db.execute("INSERT OR REPLACE INTO cluster_nodes (%s) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" % COLS,
                               row)


def status(d):
    r = harness.run_cli(d.cfg.path, "cluster", "status", "--json")
    assert r.returncode == 0, r.stderr
    return {n["name"]: n for n in json.loads(r.stdout)["nodes"]}


def policy(c, d):
    """(status, body) of GET the policy from node d over HTTPS."""
    port = d["https"].port
    addr = d["https"].host
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "-w",
                        "\n%{http_code}", "--cacert", c["ca"], "--resolve",
                        "%s:%d:%s" % (STS_HOST, port, addr),
                        "https://%s:%d/.well-known/mta-sts.txt" %
                        (STS_HOST, port)], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code), body


def records(d):
    r = harness.run_cli(d.cfg.path, "dns-records", "--domain",
                        harness.DOMAIN)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def txt_id(text):
    m = re.search(r'^_mta-sts\.example\.test\. \d+ IN TXT "v=STSv1; '
                  r'id=([0-9a-f]+)"$', text, re.M)
    assert m, text
    return m.group(1)


def served_id(body):
    """The id sealmail gives a policy text (sts_serve.h)."""
    return hashlib.sha256(body).hexdigest()[:32]


def wait_beat(d, name, after):
    """Until d's registry (replicated) shows a beat of name after `after`."""
    def beat():
        replicate(c_nodes)
        n = status(d).get(name)
        return n is not None and n["heartbeat"] > after
    harness.wait_until(beat, 10 * harness.SLOW, what="a newer heartbeat "
                       "of %s" % name)


c_nodes = []


@pytest.fixture(scope="module")
def cluster(module_daemons, tmp_path_factory):
    # 127.0.0.2 is on lo already (127.0.0.0/8): adding it as an address
    # of its own would change the source address of every later test's
    # connections to it.
    old = os.environ.get("SEALMAIL_TEST_HEARTBEAT_SECONDS")
    os.environ["SEALMAIL_TEST_HEARTBEAT_SECONDS"] = "1"
    d = str(tmp_path_factory.mktemp("clustercerts"))
    ca = testca.make_ca(d)
    nodes, certs = [], []
    try:
        for name, addr in ((NODE1, "127.0.0.1"), (NODE2, ADDR2)):
            cert = testca.issue(ca, d, name.split(".")[0],
                                [name, STS_HOST], ips=(addr,))
            cfg = harness.Config(module_daemons.folder(), [cert])
            cfg.server["hostname"] = name
            cfg.server["workers"] = "1"
            cfg.listen("mx", "mx", "starttls", host=addr)
            cfg.listen("https", "https", "implicit", host=addr)
            nodes.append(module_daemons.start(cfg, users=False))
            certs.append(cert)
    finally:
        if old is None:
            del os.environ["SEALMAIL_TEST_HEARTBEAT_SECONDS"]
        else:
            os.environ["SEALMAIL_TEST_HEARTBEAT_SECONDS"] = old
    c_nodes[:] = nodes
    for n in nodes:
        harness.wait_until(lambda: own_row(n) is not None, 10 * harness.SLOW,
                           what="the first heartbeat of %s" %
                           n.cfg.server["hostname"])
    replicate(nodes)
    return {"n1": nodes[0], "n2": nodes[1], "ca": ca.cert,
            "spki1": harness.spki_openssl(certs[0].cert),
            "spki2": harness.spki_openssl(certs[1].cert)}


def test_status_lists_both_with_advancing_heartbeats(cluster):
    n1, n2 = cluster["n1"], cluster["n2"]
    version = harness.run_cli(None, "--version").stdout.split()[-1]
    before = status(n1)
    assert set(before) == {NODE1, NODE2}, before
    for name, n in before.items():
        assert n["mx"] == name
        assert n["version"] == version
        assert not n["stale"], n
        assert n["beat_every"] == 1
        assert n["queue_messages"] == 0 and n["queue_oldest"] is None
        assert n["this_node"] == (name == NODE1)
    assert before[NODE1]["tlsa_3_1_1"] == [cluster["spki1"]]
    assert before[NODE2]["tlsa_3_1_1"] == [cluster["spki2"]]
    # Both nodes beat on: each row's heartbeat moves on.
    wait_beat(n1, NODE1, before[NODE1]["heartbeat"])
    wait_beat(n1, NODE2, before[NODE2]["heartbeat"])
    # Node 2 sees the same two nodes, itself marked.
    other = status(n2)
    assert set(other) == {NODE1, NODE2}
    assert other[NODE2]["this_node"] and not other[NODE1]["this_node"]
    # The text form: a header and one line per node.
    r = harness.run_cli(n1.cfg.path, "cluster", "status")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NODE", "STATE", "HEARTBEAT", "VERSION",
                                "QUEUE", "OLDEST", "MX"], r.stdout
    assert re.search(r"^\* mx1\.example\.test +alive +\d+s ago +%s +0 +- +"
                     r"mx1\.example\.test$" % re.escape(version), r.stdout,
                     re.M), r.stdout
    assert re.search(r"^  mx2\.example\.test +alive ", r.stdout, re.M), \
        r.stdout


def test_queue_size_reported(cluster):
    """A message waiting in node 1's queue (its destination's DNS fails,
    so it is deferred) shows in node 1's row, with its age."""
    n1 = cluster["n1"]
    r = harness.run_cli(n1.cfg.path, "sendmail", "-f", "root@example.test",
                        "someone@defer.test",
                        input="Subject: held\n\nheld\n")
    assert r.returncode == 0, r.stderr
    try:
        harness.wait_until(lambda: status(n1)[NODE1]["queue_messages"] == 1,
                           10 * harness.SLOW, what="queue size 1 in the row")
        n = status(n1)[NODE1]
        assert 0 < time.time() - n["queue_oldest"] < 60, n
    finally:
        for qid in n1.queue_ids():
            harness.cli_ok(n1.cfg.path, "queue", "delete", qid)
    harness.wait_until(lambda: status(n1)[NODE1]["queue_messages"] == 0,
                       10 * harness.SLOW, what="queue size 0 again")


def test_two_nodes_one_name_warned(cluster):
    """Two nodes with one hostname would share one row (and one MX):
    a beat that finds the row written by another runner since its own
    last beat says so in the log."""
    n1 = cluster["n1"]
    with connect(n1) as db:
        db.execute("UPDATE cluster_nodes SET instance = 'elsewhere', "
                   "heartbeat = heartbeat + 1 WHERE name = ?", (NODE1,))
    harness.wait_until(lambda: "another node writes the heartbeat of "
                       "mx1.example.test: every node of a cluster needs "
                       "its own [server] hostname" in n1.log_text(),
                       10 * harness.SLOW, what="the clash warning")


def test_policy_lists_every_node_on_every_node(cluster):
    n1, n2 = cluster["n1"], cluster["n2"]
    replicate([n1, n2])
    code1, body1 = policy(cluster, n1)
    code2, body2 = policy(cluster, n2)
    assert code1 == 200 and code2 == 200
    assert body1 == (b"version: STSv1\r\nmode: testing\r\n"
                     b"mx: mx1.example.test\r\nmx: mx2.example.test\r\n"
                     b"max_age: 604800\r\n"), body1
    # What the outside sees is the same on every node.
    assert body2 == body1
    rec1, rec2 = records(n1), records(n2)
    assert txt_id(rec1) == served_id(body1)
    assert txt_id(rec2) == txt_id(rec1)
    for rec in (rec1, rec2):
        assert "example.test. 3600 IN MX 10 mx1.example.test." in rec
        assert "example.test. 3600 IN MX 10 mx2.example.test." in rec


def test_dns_records_tlsa_of_every_node(cluster):
    n1, n2 = cluster["n1"], cluster["n2"]
    replicate([n1, n2])
    want = {"_25._tcp.%s. 3600 IN TLSA 3 1 1 %s" % (NODE1, cluster["spki1"]),
            "_25._tcp.%s. 3600 IN TLSA 3 1 1 %s" % (NODE2, cluster["spki2"])}
    for d in (n1, n2):
        got = {ln for ln in records(d).splitlines() if " IN TLSA " in ln
               and not ln.startswith(";")}
        assert got == want, got


def test_stopped_node_goes_stale_then_forgotten(cluster):
    """Node 2 stops: it goes stale, stays listed and in the policy; it
    leaves only by `cluster forget`, which a live node refuses; then the
    policy, its id and the records no longer have it."""
    n1, n2 = cluster["n1"], cluster["n2"]
    replicate([n1, n2])
    _, before = policy(cluster, n1)
    id_before = txt_id(records(n1))
    n2.stop()
    replicate([n1])
    harness.wait_until(lambda: status(n1)[NODE2]["stale"],
                       15 * harness.SLOW, what="node 2 stale")
    s = status(n1)
    assert not s[NODE1]["stale"]
    r = harness.run_cli(n1.cfg.path, "cluster", "status")
    assert re.search(r"^  mx2\.example\.test +stale ", r.stdout, re.M), \
        r.stdout
    # Stale is not gone: still in the policy.
    code, body = policy(cluster, n1)
    assert code == 200 and body == before
    # A live node cannot be forgotten (it would register again).
    r = harness.run_cli(n1.cfg.path, "cluster", "forget", NODE1)
    assert r.returncode == 1
    assert "node mx1.example.test is alive" in r.stderr, r.stderr
    r = harness.run_cli(n1.cfg.path, "cluster", "forget", "mx9.example.test")
    assert r.returncode == 1 and "no node mx9.example.test" in r.stderr
    r = harness.run_cli(n1.cfg.path, "cluster", "forget")
    assert r.returncode == 2
    r = harness.run_cli(n1.cfg.path, "cluster", "forget", NODE2)
    assert r.returncode == 0, r.stderr
    assert "forgot node mx2.example.test" in r.stdout
    assert set(status(n1)) == {NODE1}
    code, body = policy(cluster, n1)
    assert code == 200
    assert body == (b"version: STSv1\r\nmode: testing\r\n"
                    b"mx: mx1.example.test\r\nmax_age: 604800\r\n"), body
    rec = records(n1)
    assert txt_id(rec) == served_id(body) != id_before
    assert NODE2 not in rec


def test_unreadable_registry_is_503(cluster):
    """Without the registry a policy would list this node alone and
    shut the others out of senders' caches: the fetch fails instead."""
    n1 = cluster["n1"]
    with connect(n1) as db:
        db.execute("ALTER TABLE cluster_nodes RENAME TO cluster_nodes_x")
    try:
        code, _ = policy(cluster, n1)
        assert code == 503
        assert "node registry unreadable" in n1.log_text()
    finally:
        with connect(n1) as db:
            db.execute("ALTER TABLE cluster_nodes_x RENAME TO "
                       "cluster_nodes")
    assert policy(cluster, n1)[0] == 200
