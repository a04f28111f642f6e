# SPDX-License-Identifier: ISC
"""`sealmail serve` on a PostgreSQL store (pgserver.py) with the roles of
docs/postgresql-grants.sql: the workers and the runner as the worker role,
the keys process as its own role ([store] keys_postgresql, with a password
of its own). Sandboxed as always (the build's default): AUTH PLAIN on
submission checks a password that `sealmail user add` put in PostgreSQL;
the worker role reads no hash; the MTA-STS policy and `cluster status`
come from the shared registry; two nodes on one store send one DMARC
aggregate report for a day with the rows of both, and a node never takes
over the claim of another node's run; after a restart of PostgreSQL the
keys process and the runner connect again from inside their sandboxes."""
import email
import gzip
import os
import smtplib
import ssl
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "integration"))
import harness  # noqa: E402
from harness import Config, Daemon, make_cert, run_cli  # noqa: E402

import pgserver  # noqa: E402

USER = "alice@example.test"
PASS = "alice-Secret-0123"
KEYS_PASSWORD = "keys-role-password-of-its-own"
GRANTS = os.path.join(pgserver.TREE, "docs", "postgresql-grants.sql")


def psql_as(pg, role, password, sql, db="d1"):
    """psql over TCP as role (not the superuser the fixture uses)."""
    env = dict(os.environ, PGPASSWORD=password)
    return subprocess.run(
        [os.path.join(pgserver.PGBIN, "psql"), "-X", "-q", "-A", "-t",
         "-h", "127.0.0.1", "-p", str(pg.port), "-U", role, "-d", db,
         "-c", sql], env=env, capture_output=True, text=True, timeout=60,
        cwd="/")


def node_config(folder, pg, hostname, keys_pwfile):
    c = Config(folder, [make_cert(folder, "ec")])
    c.server["hostname"] = hostname
    c.server["workers"] = "1"
    c.listen("mx", "mx", "starttls")
    c.listen("submission", "submission", "starttls")
    c.listen("https", "https", "implicit")
    c.delivery["local"] = "lmtp:127.0.0.1:1"
    c.extra = ("\n[domain \"example.test\"]\nmta_sts = testing\n"
               "\n[reports]\nfrom = reports@example.test\n"
               "org_name = example.test\n"
               "\n[store]\nbackend = postgresql\n"
               "postgresql = %s\npostgresql_password_file = %s\n"
               "keys_postgresql = %s\nkeys_postgresql_password_file = %s\n"
               % (pg.dsn("d1", pgserver.WORKER) + " connect_timeout=3",
                  pg.pwfile,
                  pg.dsn("d1", pgserver.KEYS) + " connect_timeout=3",
                  keys_pwfile))
    c.domains = []
    c.write()
    return c


def owner_config(folder, pg):
    """The CLI's config: the owner role (migrations, accounts)."""
    c = Config(folder, [make_cert(folder, "ec")])
    c.listen("mx", "mx", "starttls")
    c.delivery["local"] = "lmtp:127.0.0.1:1"
    c.extra = ("\n[store]\nbackend = postgresql\npostgresql = %s\n"
               "postgresql_password_file = %s\n"
               % (pg.new_database("d1"), pg.pwfile))
    return c.write()


@pytest.fixture(scope="module")
def cluster(pg, tmp_path_factory):
    base = str(tmp_path_factory.mktemp("pgdaemon"))
    owner = owner_config(os.path.join(base, "owner"), pg)
    r = run_cli(owner, "store", "migrate")
    assert r.returncode == 0, r.stderr
    with open(GRANTS) as f:
        sql = f.read()
    pg.psql(sql.replace(":worker", pgserver.WORKER).replace(
        ":keys", pgserver.KEYS), db="d1")
    pg.psql("ALTER ROLE %s PASSWORD '%s'" % (pgserver.KEYS, KEYS_PASSWORD))
    keys_pw = os.path.join(base, "keys.password")
    with open(keys_pw, "w") as f:
        f.write(KEYS_PASSWORD + "\n")
    os.chmod(keys_pw, 0o600)
    r = run_cli(owner, "user", "add", USER, "--password-stdin",
                input="first-password-0\n")
    assert r.returncode == 0, r.stderr
    r = run_cli(owner, "user", "passwd", USER, "--password-stdin",
                input=PASS + "\n")
    assert r.returncode == 0, r.stderr
    os.environ["SEALMAIL_TEST_HEARTBEAT_SECONDS"] = "1"
    nodes = []
    try:
        # mx1 serves; mx2 and mx3 only run `reports send` (their spools
        # keep what they queue: no runner delivers it meanwhile).
        for i, host in enumerate(("mx1.example.test", "mx2.example.test",
                                  "mx3.example.test")):
            cfg = node_config(os.path.join(base, "n%d" % i), pg, host,
                              keys_pw)
            r = run_cli(cfg.path, "check-config")
            assert r.returncode == 0, r.stderr
            nodes.append(cfg)
        d = Daemon(nodes[0]).start(timeout=40)
        yield {"owner": owner, "d": d, "nodes": nodes, "pg": pg}
        d.stop()
    finally:
        del os.environ["SEALMAIL_TEST_HEARTBEAT_SECONDS"]


def auth(d, password):
    """AUTH PLAIN on submission after STARTTLS: the reply code."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", d["submission"].port, timeout=30) as s:
        s.starttls(context=ctx)
        s.ehlo("client.example")
        try:
            code, _ = s.login(USER, password)
        except smtplib.SMTPAuthenticationError as e:
            code = e.smtp_code
        return code


def test_sandboxed_on_postgresql(cluster):
    """Every process entered its sandbox (the build's default) and
    connected from inside it. The daemon is ready once its listeners
    answer; the queue runner may still be starting then (a loaded
    machine): waited for."""
    d = cluster["d"]
    for who in ("smtp worker", "queue runner", "keys"):
        harness.wait_until(lambda: "%s sandboxed" % who in d.log_text(),
                           15, what="%s sandboxed" % who)


def test_auth_against_postgresql(cluster):
    d = cluster["d"]
    assert auth(d, PASS) == 235, d.log_tail()
    assert auth(d, "not-" + PASS) == 535
    assert auth(d, "first-password-0") == 535


def test_worker_role_reads_no_hash(cluster):
    pg = cluster["pg"]
    r = psql_as(pg, pgserver.WORKER, pgserver.PASSWORD,
                "SELECT count(*) FROM passwords")
    assert r.returncode != 0 and "permission denied" in r.stderr, r
    r = psql_as(pg, pgserver.WORKER, pgserver.PASSWORD,
                "SELECT count(*) FROM users")
    assert r.returncode == 0 and r.stdout.strip() == "1", r
    # The keys role's own password, not the workers'.
    r = psql_as(pg, pgserver.KEYS, KEYS_PASSWORD,
                "SELECT count(*) FROM passwords")
    assert r.returncode == 0 and r.stdout.strip() == "1", r


def test_policy_and_cluster_status(cluster):
    d = cluster["d"]

    def listed():
        r = run_cli(cluster["owner"], "cluster", "status")
        return r.returncode == 0 and "mx1.example.test" in r.stdout
    harness.wait_until(listed, 20 * harness.SLOW, what="the heartbeat")
    port = d["https"].port
    host = "mta-sts.example.test"
    r = subprocess.run(["curl", "-sk", "--max-time", "20", "--resolve",
                        "%s:%d:127.0.0.1" % (host, port),
                        "https://%s:%d/.well-known/mta-sts.txt" %
                        (host, port)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr + d.log_tail()
    assert "mode: testing" in r.stdout and "mx: mx1.example.test" in \
        r.stdout, r.stdout


def add_rows(pg, day_start):
    """Rows of one day's evaluations as two nodes recorded them (one
    source address each) and the sender's published policy."""
    for i, ip in enumerate(("192.0.2.11", "192.0.2.22")):
        pg.psql("INSERT INTO dmarc_results (time, source_ip, header_from, "
                "envelope_from, policy_domain, policy, disposition, result, "
                "dkim_domain, dkim_result, dkim_aligned, spf_domain, "
                "spf_result, spf_aligned, testing, dkim_selector) VALUES "
                "(%d, '%s', 'sender.example', 'sender.example', "
                "'sender.example', 'none', 'none', 'pass', 'sender.example',"
                " 'pass', 1, 'sender.example', 'pass', 1, 0, 's1')"
                % (day_start + 3600 + i, ip), db="d1")
    pg.psql("INSERT INTO dmarc_policies (policy_domain, time, p, sp, np, "
            "adkim, aspf, fo, testing, rua) VALUES ('sender.example', %d, "
            "'none', '', '', 'r', 'r', '', 0, "
            "'mailto:rua@sender.example')" % (day_start + 3600), db="d1")


def queued_reports(cfg):
    """The DMARC report messages in cfg's queue: their XML."""
    out = []
    for root, _, files in os.walk(os.path.join(cfg.data_dir, "spool")):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                data = fh.read()
            if b"application/gzip" not in data:
                continue
            for part in email.message_from_bytes(data).walk():
                if part.get_content_type() == "application/gzip":
                    out.append(gzip.decompress(part.get_payload(
                        decode=True)).decode())
    return out


def dead_pid():
    """A pid no process has any more."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_one_report_for_the_cluster(cluster):
    """A claim held by a run of node 2 (a pid that means nothing on node
    3) keeps node 3 from reporting; once it is gone, node 2 and node 3
    reporting at once send one report, with the rows of both."""
    pg, n2, n3 = cluster["pg"], cluster["nodes"][1], cluster["nodes"][2]
    now = int(time.time())
    day = now // 86400 * 86400 - 86400
    add_rows(pg, day)
    pg.psql("UPDATE report_state SET reported_to = %d" % day, db="d1")
    # Node 2's run, on another machine in the same initial pid namespace
    # as ours: a pid that is nobody's here.
    holder = "%d.%s.AAAAAAAAAAAA@mx2.example.test" % (
        dead_pid(), os.readlink("/proc/self/ns/pid"))
    pg.psql("INSERT INTO report_state (kind, holder, held_until, "
            "reported_to) VALUES ('dmarc', '%s', %d, %d) ON CONFLICT (kind) "
            "DO UPDATE SET holder = excluded.holder, held_until = "
            "excluded.held_until, reported_to = excluded.reported_to"
            % (holder, now + 3600, day), db="d1")
    r = run_cli(n3.path, "reports", "send")
    assert r.returncode == 0, r.stderr
    assert "another run is reporting" in r.stderr, r.stderr
    assert queued_reports(n3) == []
    pg.psql("UPDATE report_state SET holder = '', held_until = 0 WHERE "
            "kind = 'dmarc'", db="d1")
    procs = [subprocess.Popen([harness.sealmail_bin(), "-c", c.path,
                               "reports", "send"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for c in (n2, n3)]
    errs = []
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        errs.append(err)
    reports = queued_reports(n3) + queued_reports(n2)
    assert len(reports) == 1, errs
    assert "192.0.2.11" in reports[0] and "192.0.2.22" in reports[0]
    # A later run of either node sends the day no more.
    r = run_cli(n2.path, "reports", "send")
    assert r.returncode == 0, r.stderr
    assert len(queued_reports(n3) + queued_reports(n2)) == 1


def test_reconnect_after_postgresql_restart(cluster):
    """PostgreSQL restarted under the running daemon: AUTH fails
    temporarily meanwhile, then works again (the keys process reconnects
    from its sandbox); the runner's heartbeat is written again."""
    d, pg = cluster["d"], cluster["pg"]
    assert auth(d, PASS) == 235
    pg.stop("immediate")
    try:
        code = auth(d, PASS)
        assert 400 <= code < 500, code
    finally:
        pg.start()
    harness.wait_until(lambda: auth(d, PASS) == 235, 30 * harness.SLOW,
                       interval=0.5, what="AUTH after the restart")
    before = int(time.time())

    def beat():
        rows = pg.query("SELECT heartbeat FROM cluster_nodes WHERE name = "
                        "'mx1.example.test'", db="d1")
        return rows and int(rows[0]) > before
    harness.wait_until(beat, 30 * harness.SLOW, interval=0.5,
                       what="a heartbeat after the restart")
    assert d.alive()
    assert "not allowed: process ends" not in d.log_text()


def memory_holds(pid, secret):
    """Whether secret is anywhere in the readable memory of pid."""
    return bool(harness.memory_hits(pid, {"secret": secret.encode()}))


def test_keys_password_only_in_keys_process(cluster):
    """The keys role's password is in the master (which reads it before
    any child) and the keys process, in no worker and not the runner."""
    d = cluster["d"]
    kids = harness.children(d.pid)
    found = {}
    for pid, comm in kids:
        found[pid] = (comm, memory_holds(pid, KEYS_PASSWORD))
    keys = [v for v in found.values() if "keys" in v[0]]
    others = [v for v in found.values() if "keys" not in v[0]]
    assert keys and all(v[1] for v in keys), found
    assert others and not any(v[1] for v in others), found
