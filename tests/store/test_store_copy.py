# SPDX-License-Identifier: ISC
"""`sealmail store copy` and `store migrate` (src/store/db_pg.c,
src/cli/cli_store.c) against a private PostgreSQL 15 (pgserver.py): a
single node's SQLite store, made by the CLI and with rows of the tables
that matter most (accounts and their password hashes, aliases, a secret,
a received report with its records), moves into a new database whole;
the id sequences follow the copied ids; a second copy into a store in use
is refused and changes nothing; a store at an older schema is refused."""
import os
import sqlite3
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "integration"))
from harness import Config, make_cert, run_cli  # noqa: E402

import pgserver  # noqa: E402

USERS = ("alice@example.test", "Bob@example.test")


@pytest.fixture
def node(tmp_path, pg):
    """A configured node with a populated SQLite store; its config names
    a password file for the PostgreSQL owner role."""
    c = Config(str(tmp_path), [make_cert(str(tmp_path), "ec")])
    c.listen("mx", "mx", "starttls")
    pw = tmp_path / "pg.password"
    pw.write_text(pgserver.PASSWORD + "\n")
    os.chmod(pw, 0o600)
    c.pwfile = str(pw)
    path = c.write()
    for i, u in enumerate(USERS):
        r = run_cli(path, "user", "add", u, "--password-stdin",
                    input="pw-%d-long-enough\n" % i)
        assert r.returncode == 0, r.stderr
    r = run_cli(path, "alias", "add", "sales@example.test",
                "alice@example.test", "bob@example.test")
    assert r.returncode == 0, r.stderr
    db = sqlite3.connect(os.path.join(c.data_dir, "sealmail.db"))
    with db:
        db.execute("INSERT INTO secrets (name, value, created) VALUES "
                   "('srs', ?, 1700000000)", (bytes(range(32)),))
        db.execute("INSERT INTO inreports (id, kind, org_name, report_id, "
                   "begin, \"end\", policy_domain, policy, contact, "
                   "authenticated, received) VALUES (41, 'dmarc', "
                   "'Receiver Inc', 'r-1', 1, 2, 'example.test', 'none', "
                   "'', 1, 3)")
        cols = [r[1] for r in db.execute(
            "PRAGMA table_info(inreport_records)")]
        vals = {"report": 41, "source_ip": "192.0.2.1", "count": 7}
        db.execute("INSERT INTO inreport_records (%s) VALUES (%s)" % (
            ", ".join(cols), ", ".join("?" * len(cols))),
            [vals.get(k, 0 if k == "idx" else "x") for k in cols])
    db.close()
    c.path = path
    return c


def copy(node, dsn, *extra):
    return run_cli(node.path, "store", "copy", "--from",
                   "sqlite:" + os.path.join(node.data_dir, "sealmail.db"),
                   "--to", "postgresql:" + dsn, "--password-file",
                   node.pwfile, *extra)


def test_copy_moves_a_store_whole(pg, node):
    dsn = pg.new_database("copy1")
    r = copy(node, dsn)
    assert r.returncode == 0, r.stderr
    assert "copied users: 2 rows" in r.stdout
    assert "copied passwords: 2 rows" in r.stdout
    assert "copied inreport_records: 1 row" in r.stdout
    q = lambda sql: pg.query(sql, db="copy1")  # noqa: E731
    assert sorted(q("SELECT address FROM users")) == sorted(USERS)
    assert q("SELECT target FROM aliases WHERE address = "
             "'SALES@example.test' ORDER BY target") == [
        "alice@example.test", "bob@example.test"]
    # The hashes, byte for byte as the password file holds them.
    pw = sqlite3.connect(os.path.join(node.data_dir, "passwd.db"))
    want = dict(pw.execute("SELECT address, hash FROM passwords"))
    pw.close()
    got = dict(l.split("|", 1) for l in q(
        "SELECT address, hash FROM passwords"))
    assert got == want and len(got) == 2
    assert q("SELECT encode(value, 'hex') FROM secrets") == [
        bytes(range(32)).hex()]
    assert q("SELECT count FROM inreport_records WHERE report = 41") == ["7"]
    # New ids follow the copied ones.
    pg.psql("INSERT INTO inreports (kind, org_name, report_id, begin, "
            "\"end\", policy_domain, policy, contact, authenticated, "
            "received) VALUES ('dmarc', 'Other', 'r-2', 1, 2, 'x', 'none', "
            "'', 0, 3)", db="copy1")
    assert int(q("SELECT max(id) FROM inreports")[0]) > 41


def test_copy_into_a_store_in_use_is_refused(pg, node):
    dsn = pg.new_database("copy2")
    assert copy(node, dsn).returncode == 0
    # users (the first table) empty again, aliases not: the copy of users
    # goes through, then aliases stops it.
    pg.psql("DELETE FROM users", db="copy2")
    r = copy(node, dsn)
    assert r.returncode == 1
    assert "table aliases is not empty in PostgreSQL" in r.stderr
    assert "nothing was copied" in r.stderr
    # All or nothing: the users copied before it were rolled back.
    assert pg.query("SELECT count(*) FROM users", db="copy2") == ["0"]


def test_copy_refuses_an_older_store_and_a_password_on_the_line(pg, node):
    db = sqlite3.connect(os.path.join(node.data_dir, "sealmail.db"))
    v = db.execute("PRAGMA user_version").fetchone()[0]
    db.execute("PRAGMA user_version = %d" % (v - 1))
    db.close()
    dsn = pg.new_database("copy3")
    r = copy(node, dsn)
    assert r.returncode == 1
    assert "run `sealmail store migrate`" in r.stderr
    r = copy(node, dsn + " password=hunter2")
    assert r.returncode == 1
    assert "must not hold a password" in r.stderr
    assert "hunter2" not in r.stderr + r.stdout


def test_migrate(pg, node):
    """store migrate on backend = postgresql runs the migrations (once);
    on sqlite it upgrades the files as serve would."""
    dsn = pg.new_database("mig1")
    r = run_cli(node.path, "store", "migrate")
    assert r.returncode == 0, r.stderr
    assert "sealmail.db is at this sealmail's schema" in r.stdout
    node.extra = ("\n[store]\nbackend = postgresql\npostgresql = %s\n"
                  "postgresql_password_file = %s\n" % (dsn, node.pwfile))
    path = node.write()
    r = run_cli(path, "store", "migrate")
    assert r.returncode == 0, r.stderr
    assert "migrated from version 0 to" in r.stdout
    r = run_cli(path, "store", "migrate")
    assert r.returncode == 0, r.stderr
    assert "already" in r.stdout
    assert pg.query("SELECT count(*) FROM users", db="mig1") == ["0"]


def test_cli_accounts_on_postgresql(pg, node):
    """With backend = postgresql the account commands work on the
    database (after store migrate): users with their password hashes in
    the passwords table, aliases, and the lists read back from it."""
    dsn = pg.new_database("cli1")
    node.extra = ("\n[store]\nbackend = postgresql\npostgresql = %s\n"
                  "postgresql_password_file = %s\n" % (dsn, node.pwfile))
    path = node.write()
    r = run_cli(path, "user", "list")
    assert r.returncode == 1
    assert "run `sealmail store migrate`" in r.stderr
    assert run_cli(path, "store", "migrate").returncode == 0
    r = run_cli(path, "user", "add", "carol@example.test",
                "--password-stdin", input="carol-pw-long-enough\n")
    assert r.returncode == 0, r.stderr
    r = run_cli(path, "alias", "add", "team@example.test",
                "carol@example.test")
    assert r.returncode == 0, r.stderr
    q = lambda sql: pg.query(sql, db="cli1")  # noqa: E731
    assert q("SELECT address FROM users") == ["carol@example.test"]
    h = q("SELECT hash FROM passwords WHERE address = 'CAROL@example.test'")
    assert len(h) == 1 and h[0].startswith("$"), h
    r = run_cli(path, "user", "list")
    assert r.returncode == 0 and "carol@example.test" in r.stdout, r.stderr
    r = run_cli(path, "alias", "list")
    assert "team@example.test" in r.stdout and "carol@example.test" in \
        r.stdout, r.stdout
    r = run_cli(path, "user", "del", "carol@example.test")
    assert r.returncode == 0, r.stderr
    assert q("SELECT count(*) FROM passwords") == ["0"]
    # The SQLite files of the node were not touched by any of it.
    db = sqlite3.connect(os.path.join(node.data_dir, "sealmail.db"))
    assert db.execute("SELECT count(*) FROM users WHERE address LIKE "
                      "'carol%'").fetchone()[0] == 0
    db.close()
