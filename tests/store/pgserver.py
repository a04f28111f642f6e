"""A private PostgreSQL 15 server for the tests (Debian's postgresql-15).

PgServer(folder) runs initdb and pg_ctl as the `postgres` user (they refuse
root) on a data dir under a fresh folder in /tmp that the user owns (the
tree may sit in a 0700 folder such as /root, which postgres cannot enter),
listening on 127.0.0.1 only, on a free port, with a unix socket in that
folder. Password (scram-sha-256) auth over TCP, trust over the socket for
the superuser the fixture uses. Every server it starts it stops, and
close() removes the folder, even after a failure.

    with PgServer() as pg:
        dsn = pg.new_database("t1")          # owner role "sealmail"
        ... pg.stop(); pg.start() ...

Without the package the tests skip: skip_reason() says why.
"""
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

TREE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def helper(name):
    """build/test/helpers/NAME beside the binary under test, built if
    missing (make, in the tree, for the build folder in use)."""
    sbin = os.environ.get("SEALMAIL_BIN", os.path.join(TREE, "build",
                                                       "sealmail"))
    build = os.path.dirname(os.path.abspath(sbin))
    path = os.path.join(build, "test", "helpers", name)
    if not os.path.exists(path):
        rel = os.path.relpath(build, TREE)
        subprocess.run(["make", "-s", "BUILD=" + rel,
                        os.path.join(rel, "test", "helpers", name)],
                       cwd=TREE, check=True, timeout=600)
    return path


PGBIN = "/usr/lib/postgresql/15/bin"
OWNER = "sealmail"            # owns the database, runs migrations
WORKER = "sealmail_worker"    # the daemon's workers (no password hashes)
KEYS = "sealmail_keys"        # the keys process (the hashes)
PASSWORD = "test-password-not-secret"


def skip_reason():
    """Why the server cannot run here, or None."""
    for b in ("initdb", "pg_ctl", "postgres"):
        if not os.access(os.path.join(PGBIN, b), os.X_OK):
            return ("PostgreSQL 15 is not installed (%s/%s missing; "
                    "scripts/install-deps.sh test installs postgresql)"
                    % (PGBIN, b))
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user (the postgresql package makes it)"
    return None


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self):
        self.pw = pwd.getpwnam("postgres")
        self.dir = tempfile.mkdtemp(prefix="sealmail-pg-", dir="/tmp")
        os.chown(self.dir, self.pw.pw_uid, self.pw.pw_gid)
        os.chmod(self.dir, 0o700)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.port = free_port()
        self.running = False
        self.pwfile = os.path.join(self.dir, "password")
        with open(self.pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(self.pwfile, 0o644)
        try:
            self._initdb()
            self.start()
            self._roles()
        except BaseException:
            self.close()
            raise

    def _as_postgres(self, argv, **kw):
        if os.getuid() == 0:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        kw.setdefault("timeout", 60)
        # In the server's own folder: the tree may sit in a folder the
        # postgres user cannot enter (a clone in /root), and psql warns
        # "could not change directory" there. Its warnings go to stderr,
        # kept apart from the rows a query returns.
        kw.setdefault("cwd", self.dir)
        r = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, **kw)
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s\nserver log: %s" % (
                " ".join(argv), r.returncode, r.stdout, r.stderr,
                self.log_tail()))
        return r.stdout

    def log_tail(self, n=20):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def _initdb(self):
        # The store needs UTF8 with the C collation and ctype
        # (db_schema_pg.c); the cluster's default is what new databases
        # get from template0 unless told.
        self._as_postgres([os.path.join(PGBIN, "initdb"), "-D", self.data,
                           "-U", "postgres", "-E", "UTF8", "--locale=C",
                           "--auth-local=trust",
                           "--auth-host=scram-sha-256", "--no-sync"])
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '127.0.0.1'\n"
                    "port = %d\n"
                    "unix_socket_directories = '%s'\n"
                    "fsync = off\n"
                    "max_connections = 40\n" % (self.port, self.dir))
        # Only loopback, only with a password (the initdb default also
        # has ::1 and replication lines; none are needed).
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write("local all postgres trust\n"
                    "host all all 127.0.0.1/32 scram-sha-256\n")

    def pid(self):
        """The postmaster's pid (postmaster.pid), or None."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def start(self):
        self._as_postgres([os.path.join(PGBIN, "pg_ctl"), "-D", self.data,
                           "-l", self.log, "-w", "-t", "60", "start"])
        self.running = True

    def stop(self, mode="fast"):
        """Stop the server: fast ends sessions with 57P01, immediate
        drops them (as a crash would)."""
        try:
            self._as_postgres([os.path.join(PGBIN, "pg_ctl"), "-D",
                               self.data, "-m", mode, "-w", "-t", "30",
                               "stop"])
        finally:
            self.running = self.pid() is not None and self._alive()

    def _alive(self):
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    def psql(self, sql, db="postgres"):
        return self._as_postgres([os.path.join(PGBIN, "psql"), "-X", "-q",
                                  "-v", "ON_ERROR_STOP=1", "-h", self.dir,
                                  "-p", str(self.port), "-U", "postgres",
                                  "-d", db, "-c", sql])

    def query(self, sql, db="postgres"):
        """The rows of sql, unaligned: one line per row, "|" between
        fields."""
        return self._as_postgres([os.path.join(PGBIN, "psql"), "-X", "-q",
                                  "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                  "-h", self.dir, "-p", str(self.port),
                                  "-U", "postgres", "-d", db, "-c",
                                  sql]).split()

    @contextlib.contextmanager
    def locked(self, table, db):
        """Hold table of db locked (ACCESS EXCLUSIVE: every query of it
        waits) in a psql session for the with block; rolled back after."""
        argv = [os.path.join(PGBIN, "psql"), "-X", "-q", "-A", "-t",
                "-h", self.dir, "-p", str(self.port), "-U", "postgres",
                "-d", db]
        if os.getuid() == 0:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        locker = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True,
                                  cwd=self.dir)
        try:
            locker.stdin.write("BEGIN; LOCK TABLE %s IN ACCESS EXCLUSIVE "
                               "MODE; SELECT 'locked';\n" % table)
            locker.stdin.flush()
            assert "locked" in locker.stdout.readline()
            yield
        finally:
            try:
                locker.stdin.write("ROLLBACK;\n")
                locker.stdin.close()
            except OSError:
                pass
            locker.wait(timeout=30)

    def _roles(self):
        for r in (OWNER, WORKER, KEYS):
            self.psql("CREATE ROLE %s LOGIN PASSWORD '%s'" % (r, PASSWORD))

    def new_database(self, name):
        """A new empty database owned by OWNER; its DSN (as OWNER, no
        password in it: the password is in self.pwfile)."""
        self.psql("CREATE DATABASE %s OWNER %s ENCODING 'UTF8' "
                  "LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
                  % (name, OWNER))
        return self.dsn(name)

    def store_section(self, name):
        """The [store] section of a config on a new database name (as
        OWNER, a 2 s connect timeout: a stopped server fails fast)."""
        return ("\n[store]\nbackend = postgresql\npostgresql = %s "
                "connect_timeout=2\npostgresql_password_file = %s\n"
                % (self.new_database(name), self.pwfile))

    def dsn(self, db, user=OWNER):
        return ("host=127.0.0.1 port=%d dbname=%s user=%s"
                % (self.port, db, user))

    def close(self):
        """Stop the server (whatever it takes) and remove everything."""
        if self._alive():
            try:
                self.stop("immediate")
            except Exception:
                pass
        pid = self.pid()
        if pid is not None and self._alive():
            # pg_ctl could not: end the postmaster we started and the
            # backends it forked, by their ids.
            kids = []
            for p in os.listdir("/proc"):
                try:
                    with open("/proc/%s/stat" % p) as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                            kids.append(int(p))
                except (OSError, ValueError, IndexError):
                    pass
            for p in [pid] + kids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        self.running = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
