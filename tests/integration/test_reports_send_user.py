# SPDX-License-Identifier: ISC
"""`sealmail reports send` with a [server] user: run by root it reads the
DKIM key (root's only), then works as the service user, so the report it
queues belongs to the daemon's user; run by the service user itself it
works too (here as a dry run into a folder of its own, unsigned since it
cannot read the key). No daemon and no DNS: the report's destination is
in the reported domain itself, which RFC 9990 §4 does not check.
"""
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time

import pytest

import harness

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root to create a user")


@pytest.fixture(scope="module")
def svc_user():
    yield from harness.service_user("rps")


@pytest.fixture
def setup(svc_user, tmp_path):
    # The service user must reach the binary, config and data: a folder
    # with 0755 parents (pytest's is 0700).
    public = tempfile.mkdtemp(prefix="rps-public-")
    os.chmod(public, 0o755)
    try:
        binary = os.path.join(public, "sealmail")
        shutil.copy(harness.sealmail_bin(), binary)
        os.chmod(binary, 0o755)
        certs = os.path.join(public, "certs")
        cfg = harness.Config(os.path.join(public, "conf"),
                             [harness.make_cert(certs, "a")])
        cfg.listen("mx", "mx", "starttls")
        cfg.server["user"] = svc_user.pw_name
        cfg.domains = []
        key = os.path.join(public, "example.test.s1.key")
        r = harness.run_cli(None, "dkim", "keygen", "--domain",
                            "example.test", "--selector", "s1", "--type",
                            "ed25519", "--out", key)
        assert r.returncode == 0, r.stderr
        os.chmod(key, 0o600)     # root's only
        cfg.extra = ('\n[domain "example.test"]\ndkim_selector = s1\n'
                     'dkim_key = %s\n' % key)
        cfg.write()
        os.chmod(cfg.folder, 0o755)
        harness.cli_ok(cfg.path, "user", "add", "dmarc@example.test",
                       "--password-stdin", input="dmarc-Secret-0123\n")
        db = sqlite3.connect(os.path.join(cfg.data_dir, "sealmail.db"))
        now = int(time.time()) - 30
        for i in range(3):
            db.execute(
                "INSERT INTO dmarc_results (time, source_ip, header_from, "
                "envelope_from, policy_domain, policy, disposition, result, "
                "dkim_domain, dkim_selector, dkim_result, dkim_aligned, "
                "spf_domain, spf_result, spf_aligned, testing) VALUES "
                "(?, '192.0.2.7', 'example.test', 'example.test', "
                "'example.test', 'none', 'none', 'pass', 'example.test', "
                "'s1', 'pass', 1, 'example.test', 'pass', 1, 0)", (now + i,))
        db.execute("INSERT INTO dmarc_policies VALUES ('example.test', ?, "
                   "'none', '', '', 'r', 'r', '', 0, "
                   "'mailto:dmarc@example.test')", (now,))
        db.commit()
        db.close()
        # What the daemon does at start: data_dir is the user's.
        for root, dirs, files in os.walk(cfg.data_dir):
            for n in [root] + [os.path.join(root, f) for f in dirs + files]:
                os.chown(n, svc_user.pw_uid, svc_user.pw_gid)
        yield {"cfg": cfg, "bin": binary, "public": public}
    finally:
        shutil.rmtree(public, ignore_errors=True)


def run(setup, *args, user=None):
    kw = {}
    if user is not None:
        kw = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    return subprocess.run([setup["bin"], "-c", setup["cfg"].path, "reports",
                           "send"] + list(args), capture_output=True,
                          text=True, timeout=60, **kw)


def test_as_service_user_then_as_root(setup, svc_user):
    out = os.path.join(setup["public"], "out")
    os.makedirs(out)
    os.chown(out, svc_user.pw_uid, svc_user.pw_gid)
    r = run(setup, "--now", "--to-dir", out, user=svc_user)
    assert r.returncode == 0, r.stderr
    assert "written=1" in r.stderr, r.stderr
    files = os.listdir(out)
    assert len(files) == 1 and files[0].startswith("example.test!"
                                                   "example.test!"), files
    assert os.stat(os.path.join(out, files[0])).st_uid == svc_user.pw_uid

    # Root: the key is read, then the report is queued as the user.
    r = run(setup, "--now")
    assert r.returncode == 0, r.stderr
    assert "sent=1" in r.stderr, r.stderr
    assert "not DKIM-signed" not in r.stderr, r.stderr
    queue = os.path.join(setup["cfg"].data_dir, "spool", "queue")
    msgs = [n for n in os.listdir(queue) if n.endswith(".msg")]
    assert len(msgs) == 1, msgs
    path = os.path.join(queue, msgs[0])
    assert os.stat(path).st_uid == svc_user.pw_uid
    with open(path, "rb") as f:
        raw = f.read()
    assert raw.startswith(b"DKIM-Signature: ") and \
        b"d=example.test" in raw[:400], raw[:400]
    assert b"To: <dmarc@example.test>" in raw
    # Sent once: the next run has nothing.
    r = run(setup, "--now")
    assert r.returncode == 0 and "sent=0" in r.stderr, r.stderr
