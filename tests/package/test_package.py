# SPDX-License-Identifier: ISC
"""The .deb on a fresh Debian 12 root (conftest.py): its files, user and
unit, that it is not started while the config is incomplete, and that the
unit's ExecStart, run by hand in the root inside `unshare --net` with the
unit's capability bounding set and no-new-privs, reports ready to systemd,
accepts a message from the installed sendmail, delivers it to a Maildir,
answers mailq, reloads and stops."""

import os
import re
import socket
import subprocess
import time

import pytest

from conftest import ROOT, in_root, root_pids, run

CONF = "/etc/sealmail/sealmail.conf"
UNIT = "/lib/systemd/system/sealmail.service"


def rp(path):
    return ROOT + path


def unit_value(key):
    """The values of key= in the installed unit (one per line)."""
    vals = []
    for line in open(rp(UNIT)):
        if line.startswith(key + "="):
            vals.append(line.split("=", 1)[1].strip())
    return vals


def test_files(root):
    assert os.access(rp("/usr/sbin/sealmail"), os.X_OK)
    for link in ("/usr/sbin/sendmail", "/usr/bin/mailq", "/usr/bin/newaliases",
                 "/usr/lib/sendmail"):
        assert os.path.islink(rp(link)), link
        assert os.path.realpath(rp(link)) == rp("/usr/sbin/sealmail"), link
    conffiles = open(rp("/var/lib/dpkg/info/sealmail.conffiles")).read()
    assert CONF in conffiles.split(), conffiles
    hook = "/etc/letsencrypt/renewal-hooks/deploy/sealmail"
    assert hook in conffiles.split() and os.access(rp(hook), os.X_OK)
    # The shipped config sets nothing: every line a comment or blank.
    for line in open(rp(CONF)):
        assert line.strip() == "" or line.lstrip()[0] in ";#", line
    for page in ("/usr/share/man/man8/sealmail.8.gz",
                 "/usr/share/man/man5/sealmail.conf.5.gz"):
        r = run(["man", "-l", "-Tutf8", rp(page)], check=False,
                env={"MANWIDTH": "80", "PATH": os.environ["PATH"]})
        assert r.returncode == 0 and "sealmail" in r.stdout, (page, r.stderr)
        assert "error" not in r.stderr.lower(), r.stderr
    assert os.path.exists(rp(UNIT))
    v = in_root("sealmail", "--version").stdout
    assert re.fullmatch(r"sealmail \d+\.\d+\.\d+\S*\n", v), v
    st = in_root("dpkg-query", "-W", "-f", "${Provides}|${Conflicts}|"
                 "${Replaces}", "sealmail").stdout
    assert st.count("mail-transport-agent") == 3, st


def test_user_and_data_dir(root):
    pw = in_root("getent", "passwd", "sealmail").stdout.split(":")
    assert int(pw[2]) < 1000 and pw[5] == "/var/lib/sealmail", pw
    gr = in_root("getent", "group", "sealmail").stdout.split(":")
    assert gr[2] == pw[3], (gr, pw)
    st = os.stat(rp("/var/lib/sealmail"))
    assert (st.st_uid, st.st_mode & 0o777) == (int(pw[2]), 0o700)


def test_unit_verifies(root):
    r = run(["systemd-analyze", "verify", "--man=no", "--root=" + ROOT,
             "sealmail.service"], check=False)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    # The unit is enabled as packages' units are (deb-systemd-helper).
    assert os.path.islink(rp("/etc/systemd/system/multi-user.target.wants/"
                             "sealmail.service"))


def test_security_score(root):
    r = run(["systemd-analyze", "security", "--offline=true", "--root=" + ROOT,
             "--no-pager", "sealmail.service"], check=False)
    m = re.search(r"Overall exposure level for sealmail.service: "
                  r"(\d+\.\d+) (\w+)", r.stdout)
    assert m, r.stdout + r.stderr
    print("\nsystemd-analyze security: %s %s" % (m.group(1), m.group(2)))
    assert float(m.group(1)) <= 3.5, r.stdout


def test_not_started_while_incomplete(root):
    assert "is not complete, so the service was not started" in root, root
    r = in_root("sealmail", "-c", CONF, "check-config", check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert root_pids("/usr/sbin/sealmail") == [], "sealmail runs"


class NotifySocket:
    """The socket systemd would listen on for the unit (Type=notify)."""

    def __init__(self, path):
        self.path = path
        if os.path.exists(rp(path)):
            os.unlink(rp(path))
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(rp(path))
        os.chmod(rp(path), 0o666)

    def wait(self, want, proc, timeout=30):
        """The datagrams until one holds the line `want`."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.s.settimeout(0.5)
            try:
                msg = self.s.recv(4096).decode()
            except socket.timeout:
                assert proc.poll() is None, "sealmail exited: %s" % seen
                continue
            seen.append(msg)
            if want in msg.split("\n"):
                return msg
        raise AssertionError("no %s from sealmail: %s" % (want, seen))

    def close(self):
        self.s.close()
        os.unlink(rp(self.path))


def maildir_new(domain, local):
    d = rp("/var/lib/sealmail/mail/%s/%s/Maildir/new" % (domain, local))
    return [os.path.join(d, n) for n in os.listdir(d)] if os.path.isdir(d) \
        else []


def test_serve_by_hand(root):
    # `init` in the packaged layout replaces the commented conffile; dev
    # ports on loopback, but as the sealmail user (the privilege drop the
    # unit's capability set must allow).
    r = in_root("sealmail", "init", "-d", "/etc/sealmail", "--data-dir",
                "/var/lib/sealmail", "--dev", "--hostname", "mail.example.test",
                "--domain", "example.test")
    conf = open(rp(CONF)).read()
    conf = re.sub(r"(?m)^user =.*$", "user = sealmail", conf)
    open(rp(CONF), "w").write(conf)
    in_root("sealmail", "-c", CONF, "check-config")
    in_root("sealmail", "user", "add", "you@example.test", "--password-stdin",
            input="pw-0123456789\n")

    caps = unit_value("CapabilityBoundingSet")[0].split()
    bounding = "-all," + ",".join("+" + c[4:].lower() for c in caps)
    start = unit_value("ExecStart")[0].split()
    assert start[0] == "/usr/sbin/sealmail", start
    notify = NotifySocket("/run/test-notify.sock")
    log = open(os.path.join(os.path.dirname(ROOT), "serve.log"), "w")
    # RuntimeDirectory=sealmail, as systemd would make it.
    os.makedirs(rp("/run/sealmail"), mode=0o755, exist_ok=True)
    cmd = ("ip link set lo up && exec chroot %s setpriv --no-new-privs "
           "--bounding-set=%s %s" % (ROOT, bounding, " ".join(start)))
    p = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", cmd], stdout=log,
        stderr=subprocess.STDOUT,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
             "NOTIFY_SOCKET": "/run/test-notify.sock"})
    try:
        ready = notify.wait("READY=1", p)
        assert "STATUS=" in ready, ready
        kids = [int(k) for k in open("/proc/%d/task/%d/children" %
                                     (p.pid, p.pid)).read().split()]
        assert kids, "no children"
        uid = int(in_root("id", "-u", "sealmail").stdout)
        # READY follows the forks; each child drops to the sealmail user
        # as its first step, which may not have run yet.
        for k in kids:
            deadline = time.monotonic() + 10
            while True:
                status = open("/proc/%d/status" % k).read()
                if re.search(r"(?m)^Uid:\t%d\t%d\t%d\t%d$" % ((uid,) * 4),
                             status):
                    break
                assert time.monotonic() < deadline, (k, status)
                time.sleep(0.05)

        # The installed sendmail, as an ordinary local user (nobody).
        msg = ("From: nobody@example.test\nTo: you@example.test\n"
               "Subject: package test\n\nfrom the installed sendmail\n")
        r = in_root("/usr/sbin/sendmail", "-i", "you@example.test",
                    userspec="nobody:nogroup", input=msg, timeout=60)
        deadline = time.monotonic() + 30
        while not maildir_new("example.test", "you"):
            assert time.monotonic() < deadline, open(log.name).read()
            time.sleep(0.2)
        got = open(maildir_new("example.test", "you")[0]).read()
        assert "from the installed sendmail" in got, got
        # A remote recipient stays queued (no network in here): mailq,
        # the installed link, lists it (id, age, size, sender, counts).
        msg = msg.replace("To: you@example.test", "To: far@remote.example")
        in_root("/usr/sbin/sendmail", "-i", "far@remote.example",
                userspec="nobody:nogroup", input=msg, timeout=60)
        r = in_root("mailq", timeout=60)
        print("\nmailq:\n" + r.stdout.rstrip())
        assert re.search(r"(?m)^[0-9a-f]{20} .* <nobody@example.test> "
                         r"pending=1 ", r.stdout), r.stdout

        # systemctl reload = SIGHUP: RELOADING=1, then READY=1 again.
        p.send_signal(1)
        notify.wait("RELOADING=1", p)
        notify.wait("READY=1", p)
        p.terminate()
        stopping = None
        try:
            stopping = notify.wait("STOPPING=1", p, timeout=10)
        except AssertionError:
            pass
        assert p.wait(timeout=30) == 0
        assert stopping, "no STOPPING=1"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        notify.close()
        log.close()
    assert root_pids("/usr/sbin/sealmail") == []


def test_purge(root):
    """Last: purge removes the data and /etc/sealmail (keys from init
    included), and leaves no sendmail behind."""
    assert os.path.isdir(rp("/var/lib/sealmail/spool"))
    r = in_root("apt-get", "purge", "-y", "-q", "sealmail")
    for gone in ("/var/lib/sealmail", "/etc/sealmail", "/usr/sbin/sealmail",
                 "/usr/sbin/sendmail", UNIT):
        assert not os.path.lexists(rp(gone)), (gone, r.stdout)
    assert not os.path.lexists(rp("/etc/systemd/system/multi-user.target."
                                  "wants/sealmail.service"))
