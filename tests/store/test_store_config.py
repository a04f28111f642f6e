"""[store] in the configuration (src/conf/conf_store.c): check-config's
errors and warnings, and serve refusing a server it cannot reach."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "integration"))
import harness  # noqa: E402
from harness import Config, make_cert, run_cli  # noqa: E402


@pytest.fixture
def cfg(tmp_path):
    c = Config(str(tmp_path), [make_cert(str(tmp_path), "ec")])
    c.listen("mx", "mx", "starttls")
    pw = tmp_path / "pg.password"
    pw.write_text("not-the-real-one\n")
    os.chmod(pw, 0o600)
    c.pwfile = str(pw)
    return c


def store(c, *lines):
    c.extra = "\n[store]\n" + "\n".join(lines) + "\n"
    return c.write()


def test_postgresql_checked(cfg):
    """check-config takes a PostgreSQL store, with the Maildir warning of
    a shared store; serve refuses to start while the server cannot be
    reached, and says so."""
    path = store(cfg, "backend = postgresql",
                 "postgresql = host=127.0.0.1 port=1 dbname=sealmail "
                 "user=sealmail connect_timeout=2",
                 "postgresql_password_file = " + cfg.pwfile)
    r = run_cli(path, "check-config")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning:" in r.stderr and \
        "postgresql with [delivery] local = maildir" in r.stderr
    r = run_cli(path, "serve", timeout=30)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "127.0.0.1" in r.stderr and "not-the-real-one" not in r.stderr
    # LMTP to a Dovecot every node shares: no Maildir warning.
    cfg.delivery["local"] = "lmtp:127.0.0.1:24"
    path = store(cfg, "backend = postgresql",
                 "postgresql = postgresql://127.0.0.1/sealmail")
    r = run_cli(path, "check-config")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "local = maildir" not in r.stderr


@pytest.mark.parametrize("dsn", [
    "host=db user=sealmail password=hunter2",
    "postgresql://sealmail:hunter2@db/sealmail",
])
def test_password_in_dsn_refused(cfg, dsn):
    path = store(cfg, "backend = postgresql", "postgresql = " + dsn)
    r = run_cli(path, "check-config")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "[store] postgresql: must not hold a password" in lines[0]
    assert "postgresql_password_file" in lines[0]
    assert "hunter2" not in r.stderr + r.stdout


def test_password_file_checked(cfg):
    path = store(cfg, "backend = postgresql",
                 "postgresql = host=db dbname=sealmail",
                 "postgresql_password_file = /nonexistent/pg.password")
    r = run_cli(path, "check-config")
    assert "postgresql_password_file /nonexistent/pg.password: No such " \
        "file" in r.stderr
    os.chmod(cfg.pwfile, 0o644)
    path = store(cfg, "backend = postgresql",
                 "postgresql = host=db dbname=sealmail",
                 "postgresql_password_file = " + cfg.pwfile)
    r = run_cli(path, "check-config")
    assert "readable by every user" in r.stderr
    assert "not-the-real-one" not in r.stderr + r.stdout


def test_sqlite_with_postgresql_keys_warns(cfg):
    path = store(cfg, "postgresql = host=db dbname=sealmail")
    r = run_cli(path, "check-config")
    assert r.returncode == 0, r.stderr
    assert "[store] postgresql: has no effect without backend = " \
        "postgresql" in r.stderr
    assert "backend = sqlite" in r.stdout


def test_keys_password_file_checked(cfg):
    """The keys process's role: its own connection string is checked like
    the store's (no password in it) and its password file must be there
    and readable; serve reads it before any child."""
    path = store(cfg, "backend = postgresql",
                 "postgresql = host=db dbname=sealmail user=w",
                 "postgresql_password_file = " + cfg.pwfile,
                 "keys_postgresql = host=db dbname=sealmail user=k",
                 "keys_postgresql_password_file = /nonexistent/keys.pw")
    r = run_cli(path, "check-config")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "keys_postgresql_password_file /nonexistent/keys.pw: No such " \
        "file" in r.stderr
    r = run_cli(path, "serve", timeout=30)
    assert r.returncode == 1 and "/nonexistent/keys.pw" in r.stderr, \
        r.stderr
    path = store(cfg, "backend = postgresql",
                 "postgresql = host=db dbname=sealmail user=w",
                 "keys_postgresql = host=db user=k password=hunter2")
    r = run_cli(path, "check-config")
    assert r.returncode == 1
    assert "[store] keys_postgresql: must not hold a password" in r.stderr
    assert "hunter2" not in r.stderr + r.stdout
