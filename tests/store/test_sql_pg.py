"""The PostgreSQL driver (src/store/sql_pg.c) and schema
(src/store/db_schema_pg.c) against a real PostgreSQL 15 started on
loopback (pgserver.py), through the C helper tests/helpers/sql_pg_check.c.
"""
import os
import subprocess
import time

import pgserver
from pgserver import helper


def check(*args, timeout=120):
    return subprocess.run([helper("sql_pg_check")] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


def test_driver_and_schema(pg):
    dsn = pg.new_database("basic")
    r = check("basic", dsn, pg.pwfile)
    assert r.returncode == 0, r.stderr + pg.log_tail()
    assert r.stderr == ""


def test_migrate_from_empty_then_again(pg):
    dsn = pg.new_database("again")
    r = check("migrate", dsn, pg.pwfile)
    assert r.returncode == 0, r.stdout + r.stderr
    first = dict(kv.split("=") for kv in r.stdout.split())
    assert first["from"] == "0"
    assert first["version"] == first["latest"]
    r = check("migrate", dsn, pg.pwfile)
    again = dict(kv.split("=") for kv in r.stdout.split())
    assert again["from"] == again["version"] == first["latest"]
    # Every step ran once: one version row, one change counter row.
    assert pg.query("SELECT count(*) FROM sealmail_schema", "again") == ["1"]
    assert pg.query("SELECT count(*) FROM sealmail_changes",
                    "again") == ["1"]


def test_concurrent_migrators(pg):
    """Several nodes migrating one empty database at once take turns
    (the advisory lock): each succeeds, each step runs once."""
    dsn = pg.new_database("race")
    procs = [subprocess.Popen([helper("sql_pg_check"), "migrate", dsn,
                               pg.pwfile], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, out + err + pg.log_tail()
        outs.append(dict(kv.split("=") for kv in out.split()))
    latest = outs[0]["latest"]
    assert all(o["version"] == latest for o in outs)
    # One of them found the database empty and did the first step.
    assert sorted(o["from"] for o in outs).count("0") >= 1
    assert pg.query("SELECT count(*) FROM sealmail_changes",
                    "race") == ["1"]
    assert pg.query("SELECT counter FROM sealmail_changes",
                    "race") == ["0"]


def test_refuses_a_database_that_folds_differently(pg):
    """lower() and citext fold non-ASCII letters under a ctype other than
    C, unlike SQLite's NOCASE: the migration says so and does nothing."""
    pg.psql("CREATE DATABASE utf8ctype OWNER %s ENCODING 'UTF8' "
            "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0"
            % pgserver.OWNER)
    r = check("migrate", pg.dsn("utf8ctype"), pg.pwfile)
    assert r.returncode == 1
    assert "LC_CTYPE C" in r.stdout
    assert pg.query("SELECT to_regclass('users') IS NULL",
                    "utf8ctype") == ["t"]


def test_password_and_dsn(pg):
    pg.new_database("auth")
    r = check("open", pg.dsn("auth"), "-")
    assert r.returncode == 1
    assert "password" in r.stdout
    r = check("open", pg.dsn("auth"), pg.pwfile)
    assert r.returncode == 0, r.stdout
    r = check("open", "host=127.0.0.1 port=%d nonsense" % pg.port,
              pg.pwfile)
    assert r.returncode == 1
    assert "invalid PostgreSQL connection string" in r.stdout
    # Nothing listens there: the first connection fails, with libpq's
    # reason, within the connect_timeout the driver adds.
    t0 = time.monotonic()
    r = check("open", "host=127.0.0.1 port=%d dbname=auth user=sealmail"
              % pgserver.free_port(), pg.pwfile)
    assert r.returncode == 1 and "connect" in r.stdout
    assert time.monotonic() - t0 < 30


def tcp_settings(dsn, pwfile):
    """What the kernel holds for the driver's TCP socket (sql_pg_tcp)."""
    r = subprocess.run([helper("sql_pg_tcp"), dsn, pwfile],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    tcp = [ln for ln in r.stdout.splitlines() if ln.startswith("tcp ")]
    assert len(tcp) == 1, r.stdout
    return dict(kv.split("=") for kv in tcp[0].split()[1:])


def kernel_keepalive(name):
    with open("/proc/sys/net/ipv4/tcp_keepalive_" + name) as f:
        return f.read().strip()


def test_tcp_keepalive_defaults(pg):
    """A server that goes silent (no RST) is noticed in about 30 s: the
    driver adds keepalives and tcp_user_timeout when the DSN sets none of
    them, and a DSN that sets any one keeps all of its own (the kernel's
    defaults for the rest). A Unix socket connects as before."""
    dsn = pg.new_database("tcp")
    assert tcp_settings(dsn, pg.pwfile) == {
        "keepalive": "1", "idle": "15", "interval": "5", "count": "3",
        "user_timeout": "30000"}
    assert tcp_settings(dsn + " keepalives_idle=60", pg.pwfile) == {
        "keepalive": "1", "idle": "60",
        "interval": kernel_keepalive("intvl"),
        "count": kernel_keepalive("probes"), "user_timeout": "0"}
    own = tcp_settings(dsn + " tcp_user_timeout=12000", pg.pwfile)
    assert own["user_timeout"] == "12000"
    assert own["idle"] == kernel_keepalive("time")
    off = tcp_settings(dsn + " keepalives=0", pg.pwfile)
    assert off["keepalive"] == "0" and off["user_timeout"] == "0"
    # Over the server's socket (trust for postgres): libpq ignores them.
    r = subprocess.run([helper("sql_pg_tcp"), "host=%s port=%d dbname=tcp "
                        "user=postgres" % (pg.dir, pg.port), "-"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["unix"], r.stdout


def test_worker_role_cannot_read_hashes(pg):
    """The GRANTs of docs/postgresql.md: the workers' role uses the store
    but never reads the password hashes; the keys role does."""
    dsn = pg.new_database("roles")
    assert check("migrate", dsn, pg.pwfile).returncode == 0
    with open(os.path.join(pgserver.TREE, "docs",
                           "postgresql-grants.sql")) as f:
        grants = f.read()
    grants = grants.replace(":worker", pgserver.WORKER).replace(
        ":keys", pgserver.KEYS)
    pg.psql(grants, db="roles")
    pg.psql("INSERT INTO users (address) VALUES ('alice@example.test');"
            "INSERT INTO passwords VALUES ('alice@example.test', 'x')",
            db="roles")
    r = check("worker", pg.dsn("roles", pgserver.WORKER), pg.pwfile)
    assert r.returncode == 0, r.stderr
    assert pg.query("SET ROLE %s; SELECT hash FROM passwords"
                    % pgserver.KEYS, "roles") == ["x"]


class Outage:
    """The helper's outage protocol: one command, one answer line."""

    def __init__(self, dsn, pwfile):
        self.p = subprocess.Popen([helper("sql_pg_check"), "outage", dsn,
                                   pwfile], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "ready"

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
                self.p.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()


def test_idle_connection_through_a_restart(pg):
    """A connection that sat idle while the server restarted is found
    broken by the next statement, which the server never ran: that call
    still answers (sent again at once on a new connection), rather than
    failing once per connection a restart left behind."""
    dsn = pg.new_database("restart")
    assert check("migrate", dsn, pg.pwfile).returncode == 0
    o = Outage(dsn, pg.pwfile)
    try:
        assert o.ask("once").startswith("ok")
        for mode in ("fast", "immediate"):
            pg.stop(mode)
            pg.start()
            ans = o.ask("once")
            assert ans.startswith("ok"), (mode, ans)
        # Inside a transaction the break is the caller's news: never
        # sent again, the transaction said lost until rolled back.
        assert o.ask("begin_insert").startswith("ok")
        pg.stop("fast")
        pg.start()
        assert o.ask("expect_unavailable").startswith("ok")
        assert o.ask("expect_lost").startswith("ok")
        assert o.ask("rollback") == "ok"
        # Then again after the backoff (it starts at 100 ms).
        assert o.ask("recover").startswith("ok")
    finally:
        o.close()
        if not pg.running:
            pg.start()


def test_connection_loss_and_recovery(pg):
    """The server stopped mid-use: calls answer SQL_UNAVAILABLE (not
    SQL_ERROR), a transaction open at the break is reported lost, while it
    is down connections are tried only at the doubling backoff, and once
    the server is back the same handle works again after it."""
    dsn = pg.new_database("outage")
    assert check("migrate", dsn, pg.pwfile).returncode == 0
    o = Outage(dsn, pg.pwfile)
    try:
        assert o.ask("begin_insert").startswith("ok")
        pg.stop("fast")
        assert o.ask("expect_unavailable").startswith("ok")
        # While it is down, again: still unavailable (backoff or refused).
        assert o.ask("expect_unavailable").startswith("ok")
        pg.start()
        # The transaction is gone with the connection: said so until the
        # caller rolls back, server or no server.
        assert o.ask("expect_lost").startswith("ok")
        assert o.ask("rollback") == "ok"
        ans = o.ask("recover")
        assert ans.startswith("ok"), ans
        # A crash this time (no goodbye from the server), outside a
        # transaction.
        pg.stop("immediate")
        assert o.ask("expect_unavailable").startswith("ok")
        # Calls while it is down do not hammer it: connection attempts
        # only at the doubling backoff (100, 200, 400 ... ms).
        ans = o.ask("backoff")
        assert ans.startswith("ok"), ans
        pg.start()
        ans = o.ask("recover")
        assert ans.startswith("ok"), ans
        ms = int(ans.split("ms=")[1].split()[0])
        # The backoff is at most 5 s between tries.
        assert ms < 8000, ans
        # The break met by the COMMIT itself: that failure is the news;
        # the handle needs no rollback to go on, and nothing was kept.
        assert o.ask("begin_insert").startswith("ok")
        pg.stop("fast")
        assert o.ask("commit_unavailable").startswith("ok")
        pg.start()
        ans = o.ask("recover")
        assert ans.startswith("ok"), ans
    finally:
        o.close()
        if not pg.running:
            pg.start()
