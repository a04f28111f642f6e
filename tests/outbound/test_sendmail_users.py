# SPDX-License-Identifier: ISC
"""Issue 10 item 8: `sealmail sendmail` for every local user, through the
daemon's local submission socket ([server] submit_socket).

A throwaway unprivileged user is created for the module (useradd, removed
at the end). It cannot read the pytest folders (/tmp/pytest-of-root is
0700), so the binary, A's configuration and A's socket live in a folder of
their own with 0755 parents (a copy of build/sealmail: the checkout may
itself sit in a 0700 home folder). Instance A (mail.example.test, with a
DKIM key for example.test) sends to instance B (mx.remote.test) as in
remote_env; B's verdict and dkimpy check the signatures.
"""

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

import remote_env as env
from remote_env import harness
from harness import header_values, new_marker, wait_until

dkim = pytest.importorskip("dkim")

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root to create a user")

ZONE_EXTRA = {
    # A down MX: mail to it stays queued (for -bp and -q).
    "down.test": "@ MX 10 mx\nmx A 127.0.0.3\n",
}


def to_crlf(raw):
    return re.sub(rb"(?<!\r)\n", b"\r\n", raw)


@pytest.fixture(scope="module")
def local_user():
    name = "smt" + uuid.uuid4().hex[:8]
    subprocess.run(["useradd", "-M", "-U", "-s", "/usr/sbin/nologin",
                    "-c", "Test Runner", name], check=True,
                   capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory, local_user):
    base = str(tmp_path_factory.mktemp("smusers"))
    # What the test user must reach: binary, config, socket.
    public = tempfile.mkdtemp(prefix="sm-public-")
    os.chmod(public, 0o755)
    binary = os.path.join(public, "sealmail")
    shutil.copy(harness.sealmail_bin(), binary)
    os.chmod(binary, 0o755)
    try:
        with env.signing_pair(base, ZONE_EXTRA, dmarc="none") as w:
            cfg = w["cfg"]
            cfg.server["submit_socket"] = os.path.join(public,
                                                       "submit.sock")

            def provision(c):
                harness.provision(c)
                # An alias whose target is the test user's own address.
                harness.cli_ok(c.path, "alias", "add",
                               "webteam@example.test",
                               "%s@example.test" % local_user.pw_name)
            a = w["pool"].start(cfg, provision=provision)
            public_cfg = os.path.join(public, "sealmail.conf")
            shutil.copyfile(cfg.path, public_cfg)
            os.chmod(public_cfg, 0o644)
            yield {"a": a, "b": w["b"], "record": w["record"],
                   "bin": binary, "conf": public_cfg, "user": local_user,
                   "public": public, "pool": w["pool"]}
    finally:
        shutil.rmtree(public, ignore_errors=True)


def run_as(w, args, input=b"", argv0=None):
    """The copied binary as the test user: `sealmail -c CONF sendmail
    ARGS`, or through a link named argv0 with -C CONF."""
    if argv0:
        link = os.path.join(w["public"], argv0)
        if not os.path.exists(link):
            os.symlink("sealmail", link)
        cmd = [link, "-C", w["conf"]] + list(args)
    else:
        cmd = [w["bin"], "-c", w["conf"], "sendmail"] + list(args)
    u = w["user"]
    return subprocess.run(cmd, input=input, capture_output=True,
                          timeout=30 * harness.SLOW, user=u.pw_uid,
                          group=u.pw_gid, extra_groups=[],
                          env={"PATH": "/usr/bin:/bin"}, cwd="/")


def message(frm, to, marker):
    return ("From: %s\nTo: %s\nSubject: local %s\n\nfrom cron\n" %
            (frm, to, marker)).encode()


def verify(w, raw):
    def dnsfunc(name, timeout=5):
        assert name == b"s1._domainkey.example.test."
        return w["record"].encode()
    return dkim.verify(to_crlf(raw), dnsfunc=dnsfunc)


def b_authres(raw):
    return [v for v in header_values(raw, "Authentication-Results")
            if v.startswith(env.B_NAME)]


def test_unprivileged_sendmail_t_signed_and_fast(world):
    """`sendmail -t` as a fresh unprivileged user: queued, DKIM-signed for
    the user's own address, Received names the real user and uid, and the
    remote copy arrives at once (no wait for the periodic scan)."""
    u = world["user"]
    me = "%s@example.test" % u.pw_name
    mk = new_marker()
    t0 = time.monotonic()
    r = run_as(world, ["-t"], message(me, env.CAROL, mk))
    assert r.returncode == 0, r.stderr
    raw = world["b"].mailbox(env.CAROL).wait_for(mk, timeout=20)[0]
    took = time.monotonic() - t0
    assert took < 5 * harness.SLOW, "remote delivery took %.1f s" % took
    rcv = header_values(raw, "Received")
    mine = [v for v in rcv if "from local user" in v]
    assert len(mine) == 1, rcv
    assert ("from local user %s (uid %d)" % (u.pw_name, u.pw_uid)
            in mine[0]), mine
    assert "with local id" in mine[0]
    sigs = header_values(raw, "DKIM-Signature")
    assert len(sigs) == 1 and "d=example.test" in sigs[0], sigs
    assert verify(world, raw)
    ar = b_authres(raw)
    assert ar and "dkim=pass header.d=example.test" in ar[0], ar
    log = env.log_lines(world["a"], "listener=local",
                        "user=%s" % u.pw_name, "uid=%d" % u.pw_uid)
    assert log, "no local connect line with the real uid"


def test_alias_of_the_user_is_signed(world):
    mk = new_marker()
    r = run_as(world, ["-t"], message("Web <webteam@example.test>",
                                      env.CAROL, mk))
    assert r.returncode == 0, r.stderr
    raw = world["b"].mailbox(env.CAROL).wait_for(mk, timeout=20)[0]
    assert header_values(raw, "DKIM-Signature"), "alias not signed"
    assert verify(world, raw)


def test_someone_elses_from_is_queued_unsigned(world):
    """A local program writing another user's From: gets its mail sent,
    never signed (a compromised web application must not sign as anyone),
    and the daemon says why."""
    u = world["user"]
    mk = new_marker()
    r = run_as(world, ["-t", "-f", env.ALICE],
               message(env.ALICE, env.CAROL, mk))
    assert r.returncode == 0, r.stderr
    raw = world["b"].mailbox(env.CAROL).wait_for(mk, timeout=20)[0]
    assert not header_values(raw, "DKIM-Signature")
    ar = b_authres(raw)
    assert ar and "dkim=none" in ar[0], ar
    # The envelope sender was the caller's choice; the trace is not.
    assert any("from local user %s (uid %d)" % (u.pw_name, u.pw_uid) in v
               for v in header_values(raw, "Received"))
    env.wait_log(world["a"], "dkim not signed",
                 "not owned by local user %s" % u.pw_name)


def test_bs_session(world):
    """-bs: SMTP on stdin/stdout, for the same identity."""
    u = world["user"]
    mk = new_marker()
    script = ("EHLO i-am-root\r\n"
              "MAIL FROM:<root@example.test>\r\n"
              "RCPT TO:<%s>\r\n"
              "DATA\r\n"
              "From: root@example.test\r\nSubject: bs %s\r\n\r\nhi\r\n.\r\n"
              "QUIT\r\n" % (env.ALICE, mk)).encode()
    r = run_as(world, ["-bs"], script)
    assert r.returncode == 0, r.stderr
    codes = [ln[:3] for ln in r.stdout.decode().split("\r\n")
             if ln[:3].isdigit() and ln[3:4] == " "]
    assert codes == ["220", "250", "250", "250", "354", "250", "221"], \
        r.stdout
    raw = world["a"].mailbox(env.ALICE).wait_for(mk)[0]
    rcv = header_values(raw, "Received")
    assert "from local user %s (uid %d)" % (u.pw_name, u.pw_uid) in rcv[0]
    assert not header_values(raw, "DKIM-Signature")


def test_bp_q_mailq_newaliases(world):
    a = world["a"]
    mk = new_marker()
    r = harness.run_cli(world["conf"], "sendmail", "-v",
                        "someone@down.test", input="Subject: %s\n\nx\n" % mk)
    assert r.returncode == 0, r.stderr
    qid = r.stdout.split()[-1]
    wait_until(lambda: env.attempt_lines(a, qid, "someone@down.test",
                                         "deferred"), 20, what="deferral")
    for args, argv0 in ((["-bp"], None), ([], "mailq")):
        if argv0:
            link = os.path.join(world["public"], argv0)
            if not os.path.exists(link):
                os.symlink("sealmail", link)
            cmd = [link, "-C", world["conf"]]
        else:
            cmd = [world["bin"], "-c", world["conf"], "sendmail"] + args
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 0, out.stderr
        assert qid in out.stdout, out.stdout
    before = len(env.log_lines(a, "queue flush requested"))
    r = subprocess.run([world["bin"], "-c", world["conf"], "sendmail",
                        "-q"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    wait_until(lambda: len(env.log_lines(a, "queue flush requested")) >
               before, 10, what="flush")
    wait_until(lambda: len(env.attempt_lines(a, qid, "someone@down.test",
                                             "deferred")) >= 2, 20,
               what="second attempt after -q")
    r = run_as(world, [], argv0="newaliases")
    assert r.returncode == 0 and b"aliases" in r.stderr, r
    # The envelope names the local user the kernel reported.
    r = harness.run_cli(world["conf"], "queue", "show", qid)
    assert r.returncode == 0 and "local user root uid 0" in r.stdout, \
        r.stdout
    r = harness.run_cli(world["conf"], "queue", "delete", qid)
    assert r.returncode == 0, r.stderr


def test_socket_survives_reload(world):
    """SIGHUP: the new workers serve the same socket (no gap, no EADDRINUSE
    from our own stale file)."""
    a = world["a"]
    before = a.workers()
    a.signal(signal.SIGHUP)
    env.wait_log(a, "master reloaded")
    wait_until(lambda: set(a.workers()) - set(before), 20,
               what="new workers")
    mk = new_marker()
    r = run_as(world, [env.ALICE],
               b"Subject: after reload %s\n\nx\n" % mk.encode())
    assert r.returncode == 0, r.stderr
    a.mailbox(env.ALICE).wait_for(mk)
    assert not env.log_lines(a, "local submission off")


INOTIFY_HOG = """
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
fds = []
while len(fds) < 4096:
    fd = libc.inotify_init()
    if fd < 0:
        break
    fds.append(fd)
print(len(fds), flush=True)
sys.stdin.read()
"""


def test_service_user_daemon_without_inotify(world):
    """The daemon runs as a service user whose inotify instances are used
    up (fs.inotify.max_user_instances is per user), so the queue runner
    cannot watch spool/queue: it checks the folder for change instead and
    still gets new mail out at once, from the socket and from sendmail writing the spool
    itself (root, daemon socket unreachable). That path's Received names
    root, not the uid it switched to."""
    u = world["user"]
    a = world["a"]
    svc = os.path.join(world["public"], "svc")
    os.makedirs(svc)
    os.chmod(svc, 0o755)
    # The workers and the runner read these after dropping privileges.
    ub = os.path.join(world["public"], "unbound.conf")
    shutil.copyfile(a.cfg.dns["unbound_config"], ub)
    os.chmod(ub, 0o644)
    cfg = env.a_config(svc, a.cfg.certs[0],
                       {"resolver": a.cfg.dns["resolver"],
                        "unbound_config": ub}, a.cfg.delivery["mx_port"])
    cfg.server["user"] = u.pw_name
    cfg.server["submit_socket"] = os.path.join(svc, "submit.sock")
    hog = subprocess.Popen(["/usr/bin/python3", "-c", INOTIFY_HOG],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           user=u.pw_uid, group=u.pw_gid, extra_groups=[])
    d = None
    try:
        assert int(hog.stdout.readline()) > 0
        d = world["pool"].start(cfg)
        env.wait_log(d, "cannot watch")
        times = []
        # Through the socket, as the (unprivileged) user.
        w = dict(world, conf=os.path.join(svc, "sealmail.conf"))
        os.chmod(w["conf"], 0o644)
        mk = new_marker()
        t0 = time.monotonic()
        r = run_as(w, ["-t"], message("x@example.test", env.CAROL, mk))
        assert r.returncode == 0, r.stderr
        world["b"].mailbox(env.CAROL).wait_for(mk, timeout=40)
        times.append(time.monotonic() - t0)
        # Root without the socket: the spool, written as the service user.
        direct = os.path.join(svc, "direct.conf")
        with open(cfg.path) as f:
            text = f.read()
        with open(direct, "w") as f:
            f.write(text.replace(cfg.server["submit_socket"],
                                 os.path.join(svc, "none.sock")))
        mk = new_marker()
        t0 = time.monotonic()
        r = harness.run_cli(direct, "sendmail", "-t",
                            input=message("x@example.test", env.CAROL,
                                          mk).decode())
        assert r.returncode == 0, r.stderr
        raw = world["b"].mailbox(env.CAROL).wait_for(mk, timeout=40)[0]
        times.append(time.monotonic() - t0)
        assert any("from local user root (uid 0)" in v
                   for v in header_values(raw, "Received")), \
            header_values(raw, "Received")
        assert max(times) < 5 * harness.SLOW, times
    finally:
        hog.stdin.close()
        hog.wait(timeout=10)
        if d is not None:
            d.stop()


def test_other_user_without_daemon_is_refused(world):
    """Without the daemon only root and the [server] user can queue (they
    write the spool); anyone else is told, and nothing is queued."""
    w = dict(world)
    cfg = os.path.join(world["public"], "nodaemon.conf")
    with open(world["conf"]) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text.replace(os.path.join(world["public"], "submit.sock"),
                             os.path.join(world["public"], "none.sock")))
    os.chmod(cfg, 0o644)
    w["conf"] = cfg
    before = world["a"].queue_ids()
    r = run_as(w, [env.ALICE], b"Subject: x\n\nx\n")
    assert r.returncode == 1
    assert b"cannot reach the sealmail daemon" in r.stderr, r.stderr
    assert world["a"].queue_ids() == before
