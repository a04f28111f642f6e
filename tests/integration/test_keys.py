# SPDX-License-Identifier: ISC
"""The keys process (issue 14): `sealmail-keys` runs as the service user
and cannot be ptraced by its peers; the workers and the runner hold no
private key (their memory is searched for the keys' PEM text and raw
private numbers, which the keys process's memory does hold: the control),
nor does the master, also after reloads and a restart of the keys process;
DKIM-signed submissions verify; killing the keys process is survived; a
key that is not one, or that does not match its certificate, keeps
`serve` from starting. A malformed request from a peer closing only that
peer is tested in src/daemon/keys_test.c (the peers' sockets are the
workers' own)."""

import base64
import os
import re
import signal
import subprocess

import pytest

import harness
from harness import make_message, new_marker, wait_until
import mailcheck

dkim = pytest.importorskip("dkim")
serialization = pytest.importorskip(
    "cryptography.hazmat.primitives.serialization")

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root to create a user")

ALICE = "alice@example.test"


@pytest.fixture(scope="module")
def svc_user():
    yield from harness.service_user("kys")


def keygen(folder, selector, kind):
    """A DKIM key file (root's only) and its DNS record value."""
    key = os.path.join(folder, "example.test.%s.key" % selector)
    r = harness.run_cli(None, "dkim", "keygen", "--domain", "example.test",
                        "--selector", selector, "--type", kind, "--out", key)
    assert r.returncode == 0, r.stderr
    os.chmod(key, 0o600)
    return key, "".join(re.findall(r'"([^"]*)"', r.stdout))


@pytest.fixture(scope="module")
def world(module_daemons, svc_user):
    # The service user must reach the data folder: a 0755 one.
    folder = harness.reachable_dir("sealmail-keys-")
    cert = harness.make_cert(os.path.join(folder, "certs"), "tls")
    os.chmod(cert.key, 0o600)
    ed, ed_rec = keygen(folder, "ed", "ed25519")
    rsa, rsa_rec = keygen(folder, "rsa", "rsa")
    cfg = harness.standard_config(os.path.join(folder, "conf"), [cert],
                                  ipv6=False)
    cfg.server["user"] = svc_user.pw_name
    cfg.domains = []
    cfg.extra = ('\n[domain "example.test"]\ndkim_selector = ed\n'
                 'dkim_key = %s\ndkim_selector = rsa\ndkim_key = %s\n'
                 % (ed, rsa))
    d = module_daemons.start(cfg)
    return {"d": d, "cert": cert, "dkim": {"ed": (ed, ed_rec),
                                           "rsa": (rsa, rsa_rec)},
            "user": svc_user}


def kids(d, comm):
    return [p for p, c in d.children() if c == comm]


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    raise AssertionError("no Uid line")


def needles(keyfile):
    """What of a private key must not be found in a process: its PEM
    body (two base64 lines of it) and its private numbers as raw bytes
    (both byte orders: OpenSSL's BIGNUMs are little-endian words)."""
    with open(keyfile, "rb") as f:
        pem = f.read()
    lines = [l for l in pem.split(b"\n") if l and not l.startswith(b"-")]
    out = {"pem line 1": lines[0], "pem last line": lines[-1]}
    k = serialization.load_pem_private_key(pem, password=None)
    if hasattr(k, "private_numbers"):
        n = k.private_numbers()
        secret = getattr(n, "d", None) or getattr(n, "private_value")
        size = (secret.bit_length() + 7) // 8
        out["private number (big-endian)"] = secret.to_bytes(size, "big")
        out["private number (little-endian)"] = secret.to_bytes(size,
                                                                "little")
    else:
        out["ed25519 seed"] = k.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
            serialization.NoEncryption())
    return out


def found(pid, keyfile):
    """Which needles of keyfile are in pid's readable memory."""
    return sorted(harness.memory_hits(pid, needles(keyfile)))


def submit_signed(d, marker):
    s = mailcheck.smtp_connect(d["submissions"])
    try:
        mailcheck.login(s, ALICE)
        mailcheck.send(s, ALICE, [ALICE], make_message(ALICE, ALICE, marker))
    finally:
        s.quit()
    return d.mailbox(ALICE).wait_for(marker, timeout=30)[0]


def check_signatures(world, raw):
    """Both signatures (Ed25519 and RSA) verify against their records."""
    recs = {"%s._domainkey.example.test." % s: rec.encode()
            for s, (_, rec) in world["dkim"].items()}

    def dns(name, timeout=5):
        return recs.get(name.decode() if isinstance(name, bytes) else name)

    msg = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    v = dkim.DKIM(msg)
    sigs = [l for l in msg.split(b"\r\n\r\n")[0].split(b"\r\n")
            if l.lower().startswith(b"dkim-signature:")]
    assert len(sigs) == 2, msg[:2000]
    for i in range(2):
        assert v.verify(idx=i, dnsfunc=dns), "signature %d does not " \
            "verify" % i


def test_keys_process_runs_as_service_user_undumpable(world):
    d, u = world["d"], world["user"]
    keys = kids(d, "sealmail-keys")
    assert len(keys) == 1, d.children()
    assert uid_of(keys[0]) == [u.pw_uid] * 4
    # Not dumpable: its /proc files belong to root, so no process of the
    # service user (a worker) may ptrace it or read its memory.
    assert os.stat("/proc/%d/mem" % keys[0]).st_uid == 0
    for w in kids(d, "sealmail-smtp"):
        assert uid_of(w)[0] == u.pw_uid


def test_signed_submission_verifies(world):
    check_signatures(world, submit_signed(world["d"], new_marker()))


def test_workers_and_runner_hold_no_dkim_key(world):
    d = world["d"]
    # A signature first, so the workers have used the keys.
    submit_signed(d, new_marker())
    keys = kids(d, "sealmail-keys")[0]
    peers = kids(d, "sealmail-smtp") + kids(d, "sealmail-queue")
    assert len(peers) == 3, d.children()
    for sel, (keyfile, _) in world["dkim"].items():
        # The control: the search finds the key where it is.
        assert found(keys, keyfile), "search does not work for %s" % sel
        for pid in peers:
            with open("/proc/%d/maps" % pid) as f:
                assert keyfile not in f.read()
            assert found(pid, keyfile) == [], \
                "pid %d (%s) holds DKIM key %s" % (
                    pid, harness.proc_comm(pid), sel)


def test_workers_and_runner_hold_no_tls_key(world):
    d = world["d"]
    keyfile = world["cert"].key
    # A TLS session first, so the workers have signed a handshake.
    submit_signed(d, new_marker())
    assert found(kids(d, "sealmail-keys")[0], keyfile)
    for pid in kids(d, "sealmail-smtp") + kids(d, "sealmail-queue"):
        with open("/proc/%d/maps" % pid) as f:
            assert keyfile not in f.read()
        assert found(pid, keyfile) == [], "pid %d holds the TLS key" % pid


def key_files(world):
    return [world["cert"].key] + [k for k, _ in world["dkim"].values()]


def assert_only_keys_process_holds_keys(world):
    """No process but sealmail-keys holds a byte of any private key: not
    the master (it reads the files, as root) and not one of its current
    children (forked from it, they inherit its memory and registers)."""
    d = world["d"]
    keys = kids(d, "sealmail-keys")
    others = [d.pid] + kids(d, "sealmail-smtp") + kids(d, "sealmail-queue")
    for keyfile in key_files(world):
        assert any(found(k, keyfile) for k in keys), \
            "search does not work for %s" % keyfile
        for pid in others:
            assert found(pid, keyfile) == [], "pid %d (%s) holds %s" % (
                pid, harness.proc_comm(pid), keyfile)


def new_generation(d, old_keys, old_peers):
    """Wait until a new keys process and all of a new generation's
    children run, and the old ones have left."""
    wait_until(lambda: set(kids(d, "sealmail-keys")) - old_keys, 10,
               what="a new keys process")
    peers = lambda: set(kids(d, "sealmail-smtp") + kids(d, "sealmail-queue"))
    wait_until(lambda: len(peers() - old_peers) == 3, 10,
               what="children of the new generation")
    wait_until(lambda: not peers() & old_peers and
               not set(kids(d, "sealmail-keys")) & old_keys, 10,
               what="the old generation to leave")


def test_reload_leaves_no_key_outside_the_keys_process(world):
    # A reload reads every key file again in the master, and forks new
    # children after it: an unwiped copy (heap, stack, a CPU register the
    # copy went through and a later call spilled to the stack) would be
    # theirs. Twice, so a remnant of the first reload is not overwritten
    # by chance.
    d = world["d"]
    for _ in range(2):
        old_keys = set(kids(d, "sealmail-keys"))
        old_peers = set(kids(d, "sealmail-smtp") + kids(d, "sealmail-queue"))
        d.signal(signal.SIGHUP)
        new_generation(d, old_keys, old_peers)
        check_signatures(world, submit_signed(d, new_marker()))
        assert_only_keys_process_holds_keys(world)


def test_keys_process_killed_is_survived(world):
    d = world["d"]
    old = kids(d, "sealmail-keys")[0]
    old_workers = set(kids(d, "sealmail-smtp"))
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: set(kids(d, "sealmail-keys")) - {old}, 10,
               what="a new keys process")
    wait_until(lambda: len(set(kids(d, "sealmail-smtp")) - old_workers) ==
               2, 10, what="workers of the new generation")
    # The old generation's workers retire (idle, they leave at once; one
    # that had not yet seen its SIGUSR1 could take a connection and
    # answer AUTH 454, its keys connection gone).
    wait_until(lambda: not set(kids(d, "sealmail-smtp")) & old_workers, 10,
               what="the old workers to leave")
    # AUTH and signing work again.
    check_signatures(world, submit_signed(d, new_marker()))
    # The keys were read again for the new keys process.
    assert_only_keys_process_holds_keys(world)


def serve_fails(folder, cert, key, extra=""):
    cfg = harness.standard_config(folder, [harness.Cert(cert, key, "ec")],
                                  ipv6=False)
    cfg.extra = extra
    cfg.write()
    r = subprocess.run([harness.sealmail_bin(), "-c", cfg.path, "serve"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, r.stderr
    # One line says why (the rest is the log).
    why = [l for l in r.stderr.split("\n") if l.startswith("sealmail: ")]
    assert len(why) == 1, r.stderr
    return why[0]


def test_bad_dkim_key_refuses_to_start(tmp_path):
    c = harness.make_cert(str(tmp_path / "c"), "tls")
    bad = str(tmp_path / "bad.key")
    with open(bad, "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----"
                "\n" % base64.b64encode(b"not a key").decode())
    err = serve_fails(str(tmp_path / "conf"), c.cert, c.key,
                      '\n[domain "signed.test"]\ndkim_selector = s1\n'
                      'dkim_key = %s\n' % bad)
    assert "not a PEM private key" in err and bad in err, err


def test_tls_key_not_matching_refuses_to_start(tmp_path):
    a = harness.make_cert(str(tmp_path / "a"), "a")
    b = harness.make_cert(str(tmp_path / "b"), "b")
    err = serve_fails(str(tmp_path / "conf"), a.cert, b.key)
    # Today the master's TLS setup says it first; once the TLS provider
    # is in, the keys process does ("key does not match certificate").
    assert b.key in err and ("does not match" in err or
                             "mismatch" in err), err
