# SPDX-License-Identifier: ISC
"""A throwaway Dovecot for the local-delivery and authentication tests:
standalone config in a private folder, LMTP on a unix socket, Maildir under
the sealmail data folder (DESIGN.md §5: maildir:DATA/mail/%d/%n/Maildir);
with auth_users, also a passwd-file passdb of those users and passwords
served on an auth-client socket (what [auth] passdb = dovecot:PATH asks)."""

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from harness import SLOW, children, proc_alive, wait_until

LMTP_BIN = "/usr/lib/dovecot/lmtp"

CONF = """\
# written by tests/integration/dovecot.py
base_dir = {base}/run
state_dir = {base}/state
protocols = lmtp
listen = 127.0.0.1
ssl = no
log_path = {log}
info_log_path = {log}
mail_location = maildir:{data}/mail/%d/%n/Maildir
first_valid_uid = 1
{passdb}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={data}/mail/%d/%n
}}
service lmtp {{
  unix_listener {sock} {{
    mode = 0666
  }}
}}
"""

# LMTP checks no password, but Dovecot wants a passdb.
LMTP_PASSDB = """\
passdb {
  driver = static
  args = nopassword=y
}"""

# With auth_users, the one passdb (a second one would be asked after a
# failure of the first, and the static one accepts any password).
AUTH_PASSDB = """\
passdb {{
  driver = passwd-file
  args = {passwd}
}}
auth_mechanisms = plain login
# No delay of Dovecot's own on failures: sealmail adds its delay.
auth_failure_delay = 0
service auth {{
  unix_listener {auth_sock} {{
    mode = 0666
  }}
}}
"""


def installed():
    return shutil.which("dovecot") is not None and os.path.exists(LMTP_BIN)


def try_install():
    """apt-get install dovecot-lmtpd; returns '' or the reason it failed
    (inside the test network namespace there is no archive to reach)."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        r = subprocess.run(["apt-get", "install", "-y", "-qq",
                            "--no-install-recommends", "dovecot-lmtpd"],
                           env=env, capture_output=True, text=True,
                           timeout=300, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if r.returncode != 0 or not installed():
        lines = (r.stderr or r.stdout).strip().splitlines()
        return lines[-1] if lines else "exit %d" % r.returncode
    return ""


def require():
    """Skip the test when Dovecot is missing and cannot be installed."""
    if not installed():
        why = try_install()
        if why:
            pytest.skip("Dovecot LMTP is not installed and `apt-get install "
                        "dovecot-lmtpd` failed (%s); install it (make "
                        "test-deps) to run this test" % why)


def serve(dc, daemon, base):
    """The body of a module fixture: start Dovecot dc, then the daemon;
    yield (daemon, dc); then stop both, even when one fails, and remove
    the folder base."""
    dc.start()
    try:
        daemon.start()
        yield daemon, dc
    finally:
        errs = []
        for stop in (daemon.stop, dc.stop):
            try:
                stop()
            except Exception as e:
                errs.append(str(e))
        shutil.rmtree(base, ignore_errors=True)
        if errs:
            pytest.fail("teardown: " + "; ".join(errs), pytrace=False)


class Dovecot:
    def __init__(self, base, data_dir, auth_users=None):
        self.base = base
        self.data_dir = data_dir
        self.conf = os.path.join(base, "dovecot.conf")
        self.sock = os.path.join(base, "lmtp")
        self.auth_users = auth_users    # {user: password} or None
        self.auth_sock = os.path.join(base, "auth-client")
        self.passwd = os.path.join(base, "passwd")
        self.log = os.path.join(base, "dovecot.log")
        self.proc = None
        # Dovecot refuses to deliver as uid 0: use nobody when we are root.
        if os.getuid() == 0:
            self.uid, self.gid = 65534, 65534
        else:
            self.uid, self.gid = os.getuid(), os.getgid()

    def start(self, timeout=15):
        mail = os.path.join(self.data_dir, "mail")
        os.makedirs(mail, exist_ok=True)
        os.makedirs(os.path.join(self.base, "run"), exist_ok=True)
        os.makedirs(os.path.join(self.base, "state"), exist_ok=True)
        if os.getuid() == 0:
            os.chown(mail, self.uid, self.gid)
        passdb = LMTP_PASSDB
        if self.auth_users is not None:
            with open(self.passwd, "w") as f:
                for user, pw in self.auth_users.items():
                    f.write("%s:{PLAIN}%s::::::\n" % (user, pw))
            passdb = AUTH_PASSDB.format(passwd=self.passwd,
                                        auth_sock=self.auth_sock)
        with open(self.conf, "w") as f:
            f.write(CONF.format(base=self.base, log=self.log,
                                data=self.data_dir, uid=self.uid,
                                gid=self.gid, sock=self.sock, passdb=passdb))
        self.proc = subprocess.Popen(
            ["dovecot", "-F", "-c", self.conf], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(self.log + ".stderr", "w"))
        deadline = time.monotonic() + timeout * SLOW
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited (%s): %s" % (
                    self.proc.returncode, self.log_text()))
            if self._greets() and self._auth_ready():
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError("dovecot LMTP not ready: " +
                                     self.log_text())
            time.sleep(0.05)

    def _greets(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(self.sock)
            return s.recv(512).startswith(b"220")
        except OSError:
            return False
        finally:
            s.close()

    def _auth_ready(self):
        """The auth-client handshake completes (DONE), when served."""
        if self.auth_users is None:
            return True
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(self.auth_sock)
            s.sendall(b"VERSION\t1\t2\nCPID\t%d\n" % os.getpid())
            got = b""
            while b"\nDONE\n" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    return False
                got += chunk
            return True
        except OSError:
            return False
        finally:
            s.close()

    def stop(self, timeout=10):
        if self.proc is None or self.proc.poll() is not None:
            return
        # The master exits before its services (auth goes on answering
        # its clients for a moment): wait for those too, so a test that
        # stops Dovecot sees it gone.
        services = [pid for pid, _ in children(self.proc.pid)]
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("dovecot did not stop after SIGTERM")
        # auth serves its connected clients on after the master has
        # gone (until they hang up): end it as a crash would.
        for pid in services:
            if proc_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        wait_until(lambda: not any(proc_alive(p) for p in services),
                   timeout, what="dovecot's services to exit")

    def log_text(self):
        out = ""
        for p in (self.log, self.log + ".stderr"):
            try:
                with open(p) as f:
                    out += f.read()
            except OSError:
                pass
        return out
