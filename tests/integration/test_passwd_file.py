# SPDX-License-Identifier: ISC
"""Password hashes live in DATA_DIR/passwd.db, not in the store (issue 14):
the workers open sealmail.db, so it must hold no hash; only the keys
process (reading) and the CLI open the password file. AUTH PLAIN and LOGIN
work on 587 and 465; `sealmail user passwd`, `add` and `del` apply to the
next login without a restart; an older store's hashes move to the new file
at start, every account keeping its password; the files belong to the
service user, 0600. In the running daemon only the keys process holds the
password file open, and it does not hold the store; that the workers' and
the runner's Landlock rules refuse the password file (and the keys
process's the store) is tested in src/proc/sandbox_test.c
(test_password_hashes_keys_only)."""

import base64
import os
import sqlite3
import stat

import pytest

import harness
from harness import USERS
from smtpraw import RawSMTP

ALICE = "alice@example.test"
BOB = "bob@example.test"
# Every yescrypt hash starts so; sealmail's cost parameter is j9T.
HASH_MARK = b"$y$"


def store_files(d):
    return [os.path.join(d.data_dir, n) for n in
            ("sealmail.db", "sealmail.db-journal")]


def has_hash(path):
    with open(path, "rb") as f:
        return HASH_MARK in f.read()


def auth_code(lst, user, password, mech="PLAIN"):
    """The reply code to AUTH mech on a listener (TLS as it is set)."""
    with RawSMTP.to(lst) as c:
        c.ehlo()
        if lst.tls == "starttls":
            c.starttls()
            c.ehlo()
        if mech == "PLAIN":
            r = c.auth_plain(user, password)
        else:
            b64 = lambda s: base64.b64encode(s.encode()).decode()
            r = c.cmd("AUTH LOGIN " + b64(user))
            if r.code == 334:
                r = c.cmd(b64(password))
        return r.code


def open_files(pid):
    """The data files pid holds open (names in /proc/PID/fd)."""
    out = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            out.add(os.path.basename(os.readlink("/proc/%d/fd/%s" %
                                                 (pid, fd))))
        except OSError:
            pass
    return out


def logs_in(d, user, password):
    return auth_code(d["submissions"], user, password) == 235


def test_auth_works_and_store_holds_no_hash(daemons, certs):
    d = daemons.start(daemons.config([certs["ec"]], ipv6=False))
    for lst in ("submission", "submissions"):
        for mech in ("PLAIN", "LOGIN"):
            for user in (ALICE, BOB):
                assert auth_code(d[lst], user, USERS[user], mech) == 235, \
                    (lst, mech, user)
            assert auth_code(d[lst], ALICE, "wrong-password-1", mech) == \
                535, (lst, mech)
    for p in store_files(d):
        assert not has_hash(p), p
    assert has_hash(os.path.join(d.data_dir, "passwd.db"))
    db = sqlite3.connect(os.path.join(d.data_dir, "sealmail.db"))
    try:
        cols = [r[1] for r in db.execute("PRAGMA table_info(users)")]
    finally:
        db.close()
    assert "hash" not in cols, cols
    assert "address" in cols
    kids = d.children()
    assert len(kids) == 4, kids
    for pid, comm in kids:
        files = open_files(pid)
        if comm == "sealmail-keys":
            assert "passwd.db" in files and "sealmail.db" not in files, \
                files
        else:
            assert "passwd.db" not in files and "sealmail.db" in files, \
                (comm, files)


def test_user_changes_apply_without_restart(daemons, certs):
    d = daemons.start(daemons.config([certs["ec"]], ipv6=False))
    # A login first: the keys process caches it (passwd_cache.c).
    assert logs_in(d, ALICE, USERS[ALICE])
    new = "a-new-password-42"
    r = d.cli("user", "passwd", ALICE, "--password-stdin", input=new + "\n")
    assert r.returncode == 0, r.stderr
    assert logs_in(d, ALICE, new)
    assert not logs_in(d, ALICE, USERS[ALICE])
    r = d.cli("user", "add", "carol@example.test", "--password-stdin",
              input="carol-password-7\n")
    assert r.returncode == 0, r.stderr
    assert logs_in(d, "carol@example.test", "carol-password-7")
    assert logs_in(d, BOB, USERS[BOB])
    r = d.cli("user", "del", BOB)
    assert r.returncode == 0, r.stderr
    assert not logs_in(d, BOB, USERS[BOB])
    # Still none in the store, after all this.
    for p in store_files(d):
        assert not has_hash(p), p


# Tables made by the schema steps after the one that moves the hashes and
# the one that adds users.seq (db_schema.c), one step each: an older store
# has none of them.
LATER_TABLES = ("cluster_nodes",)


def make_old_store(data_dir):
    """Turn a stopped daemon's files into those of the sealmail before the
    password file: users(address, hash, created) in sealmail.db at the
    schema version before the step that moves the hashes, no passwd.db.
    The steps after it are taken out again: the one that adds users.seq
    (users is made anew here) and the idx columns of inreport_records and
    inreport_failures, then one step per table of LATER_TABLES (a step
    appended after them adds its table there)."""
    pwfile = os.path.join(data_dir, "passwd.db")
    pw = sqlite3.connect(pwfile)
    try:
        hashes = dict(pw.execute("SELECT address, hash FROM passwords"))
    finally:
        pw.close()
    os.unlink(pwfile)
    os.unlink(pwfile + "-journal")
    db = sqlite3.connect(os.path.join(data_dir, "sealmail.db"),
                         isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = PERSIST")
        v = db.execute("PRAGMA user_version").fetchone()[0]
        users = db.execute("SELECT address, created FROM users").fetchall()
        db.execute("BEGIN")
        db.execute("DROP TABLE users")
        db.execute("CREATE TABLE users ("
                   "  address TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,"
                   "  hash    TEXT NOT NULL,"
                   "  created INTEGER)")
        for a, created in users:
            db.execute("INSERT INTO users VALUES (?, ?, ?)",
                       (a, hashes[a], created))
        db.execute("ALTER TABLE inreport_records DROP COLUMN idx")
        db.execute("ALTER TABLE inreport_failures DROP COLUMN idx")
        for t in LATER_TABLES:
            db.execute("DROP TABLE %s" % t)
        db.execute("PRAGMA user_version = %d" % (v - 2 - len(LATER_TABLES)))
        db.execute("COMMIT")
    finally:
        db.close()
    return sorted(a for a, _ in users)


def test_upgrade_moves_hashes(daemons, certs):
    cfg = daemons.config([certs["ec"]], ipv6=False)
    d = daemons.start(cfg)
    r = d.cli("user", "add", "dave@example.test", "--password-stdin",
              input="dave-password-99\n")
    assert r.returncode == 0, r.stderr
    d.stop()
    accounts = make_old_store(d.data_dir)
    assert accounts == sorted(list(USERS) + ["dave@example.test"])
    assert has_hash(os.path.join(d.data_dir, "sealmail.db"))
    d.start()
    for a in accounts:
        pw = USERS.get(a, "dave-password-99")
        assert logs_in(d, a, pw), a
    for p in store_files(d):
        assert not has_hash(p), p
    assert "moving the password hashes" not in d.log_text()
    # The accounts are still accounts (delivery, sender ownership).
    assert sorted(d.cli("user", "list").stdout.split()) == accounts


@pytest.fixture(scope="module")
def svc_user():
    if os.geteuid() != 0:
        pytest.skip("needs root to create a user")
    yield from harness.service_user("pwf")


def test_files_belong_to_service_user(daemons, certs, svc_user):
    """The CLI run as root and the master make the password file and its
    journal the service user's, 0600, as the store; the keys process
    (that user) reads it: logins work. The workers, the same user, are
    kept out of it by Landlock alone (sandbox_test.c)."""
    folder = harness.reachable_dir("sealmail-pwf-")
    cfg = harness.standard_config(os.path.join(folder, "conf"),
                                  [certs["ec"]], ipv6=False)
    cfg.server["user"] = svc_user.pw_name
    d = daemons.start(cfg)
    assert logs_in(d, ALICE, USERS[ALICE])
    r = d.cli("user", "passwd", ALICE, "--password-stdin",
              input="root-set-password-1\n")
    assert r.returncode == 0, r.stderr
    assert logs_in(d, ALICE, "root-set-password-1")
    for name in ("passwd.db", "passwd.db-journal", "sealmail.db"):
        st = os.stat(os.path.join(d.data_dir, name))
        assert (st.st_uid, st.st_gid) == (svc_user.pw_uid,
                                          svc_user.pw_gid), name
        assert stat.S_IMODE(st.st_mode) == 0o600, (name, oct(st.st_mode))


def crash_mid_write(path, address):
    """A writer of the password file killed in a transaction that had
    already written to the file (a small cache spilt the changes): the
    original pages are in the journal, hot (the writer is gone, its lock
    with it), the file half changed."""
    pid = os.fork()
    if pid == 0:
        try:
            c = sqlite3.connect(path, isolation_level=None)
            c.execute("PRAGMA journal_mode = PERSIST")
            c.execute("PRAGMA cache_size = 1")
            c.execute("BEGIN IMMEDIATE")
            c.execute("UPDATE passwords SET hash = '$y$j9T$x$y' "
                      "WHERE address = ?", (address,))
            for i in range(3000):
                c.execute("INSERT INTO passwords VALUES (?, ?)",
                          ("spill%d@example.test" % i, "$y$j9T$" + "x" * 80))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def test_login_after_writer_crash(daemons, certs):
    """A writer of the password file that died mid-transaction leaves a
    hot journal, which the next reader must roll back: the keys process
    does, and logins go on (they failed, 454, until a restart)."""
    d = daemons.start(daemons.config([certs["ec"]], ipv6=False))
    pw = os.path.join(d.data_dir, "passwd.db")
    crash_mid_write(pw, BOB)
    with open(pw + "-journal", "rb") as f:
        assert f.read(8) == b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7"
    assert auth_code(d["submissions"], ALICE, USERS[ALICE]) == 235
    assert logs_in(d, BOB, USERS[BOB])
