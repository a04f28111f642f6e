# SPDX-License-Identifier: ISC
"""TLS private-key operations through the keys provider: every server
handshake signs through keyop asynchronously (in the SMTP sessions and
the HTTPS listener alike, the handshake's ASYNC job paused while the
signature is made on the loop). Handshakes with RSA (PKCS#1 v1.5 in TLS
1.2, PSS in 1.3), ECDSA and, selected by SNI, Ed25519 certificates, on
implicit TLS and STARTTLS, one at a time and many interleaved."""

import os
import re
import socket
import ssl
import subprocess
import threading

import pytest

import harness
from harness import SLOW, client_ctx, peer_fingerprint
from smtpraw import RawSMTP
from test_tls import s_client, same_cert, served_pem

ED_NAME = "ed.example.test"


def make_ed25519_cert(folder, name, cn):
    cert = os.path.join(folder, name + ".pem")
    key = os.path.join(folder, name + ".key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes",
         "-days", "30", "-subj", "/CN=" + cn,
         "-addext", "subjectAltName=DNS:" + cn, "-keyout", key,
         "-out", cert], check=True, capture_output=True, timeout=60)
    return harness.Cert(cert, key, "ed25519")


@pytest.fixture(scope="module")
def tri(module_daemons, certs, tmp_path_factory):
    """One worker (so that handshakes interleave in one loop) with an
    ECDSA and an RSA certificate for the host name and an Ed25519 one
    for ED_NAME."""
    d = str(tmp_path_factory.mktemp("edcert"))
    ed = make_ed25519_cert(d, "ed", ED_NAME)
    folder = module_daemons.folder()
    cfg = harness.Config(folder, [certs["ec"], certs["rsa"], ed])
    cfg.server["workers"] = "1"
    cfg.listen("mx", "mx", "starttls")
    cfg.listen("submissions", "submission", "implicit")
    cfg.listen("https", "https", "implicit")
    daemon = module_daemons.start(cfg)
    return {"d": daemon, "cfg": cfg, "ed": ed}


CASES = [
    # (protocol flag, sigalgs, certificate, signature s_client reports)
    ("-tls1_2", "RSA+SHA256", "rsa", "RSA"),           # PKCS#1 v1.5
    ("-tls1_2", "RSA-PSS+SHA256", "rsa", "RSA-PSS"),
    ("-tls1_3", "RSA-PSS+SHA384", "rsa", "RSA-PSS"),
    ("-tls1_2", "ECDSA+SHA256", "ec", "ECDSA"),
    ("-tls1_3", "ECDSA+SHA256", "ec", "ECDSA"),
]


@pytest.mark.parametrize("name", ["submissions", "mx"])
@pytest.mark.parametrize("proto,sigalgs,kind,sigtype", CASES)
def test_handshake_signed_by_keys_provider(tri, certs, name, proto, sigalgs,
                                           kind, sigtype):
    rc, out = s_client(tri["cfg"][name], proto, "-sigalgs", sigalgs)
    assert rc == 0, out
    assert same_cert(served_pem(out), certs[kind])
    assert re.search(r"Peer signature type: %s\b" % re.escape(sigtype),
                     out), out
    assert ("New, TLSv1.%s," % proto[-1]) in out, out


@pytest.mark.parametrize("name", ["submissions", "mx"])
@pytest.mark.parametrize("proto", ["-tls1_2", "-tls1_3"])
def test_ed25519_by_sni(tri, name, proto):
    rc, out = s_client(tri["cfg"][name], proto, servername=ED_NAME)
    assert rc == 0, out
    assert same_cert(served_pem(out), tri["ed"])
    assert "peer signature type: ed25519" in out.lower(), out


def one_session(lst, i, results):
    """Handshake, EHLO, QUIT; TLS 1.2 with RSA or TLS 1.3 with ECDSA."""
    try:
        if i % 2:
            ctx = client_ctx(maxv=ssl.TLSVersion.TLSv1_2,
                             ciphers="ECDHE-RSA-AES128-GCM-SHA256")
        else:
            ctx = client_ctx(minv=ssl.TLSVersion.TLSv1_3)
        with RawSMTP(lst.host, lst.port, implicit=lst.tls == "implicit",
                     ctx=ctx, greeting=True) as c:
            if lst.tls == "starttls":
                c.ehlo()
                c.starttls(ctx=ctx)
            c.ehlo()
            results[i] = (c.sock.version(), peer_fingerprint(c.sock))
            c.expect("QUIT", 221)
    except Exception as e:  # noqa: BLE001 - reported by the test
        results[i] = e


@pytest.mark.parametrize("name", ["submissions", "mx"])
def test_many_handshakes_interleaved(tri, certs, name):
    """20 sessions at once into one worker: the handshakes' signatures
    are outstanding together, each resumes its own handshake."""
    n = 20
    lst = tri["cfg"][name]
    results = [None] * n
    threads = [threading.Thread(target=one_session, args=(lst, i, results))
               for i in range(n)]
    before = tri["d"].log_text().count("smtp tls version=")
    for t in threads:
        t.start()
    for t in threads:
        t.join(60 * SLOW)
    for i, r in enumerate(results):
        assert isinstance(r, tuple), "session %d: %r" % (i, r)
        if i % 2:
            assert r == ("TLSv1.2", certs["rsa"].fingerprint), r
        else:
            assert r == ("TLSv1.3", certs["ec"].fingerprint), r
    assert tri["d"].log_text().count("smtp tls version=") - before == n
    assert "handshake failed" not in tri["d"].log_text()


def test_https_listener_signs_async(tri, certs):
    """The HTTPS listener's handshakes (evhttp's connections) run in ASYNC
    jobs too, in the same worker (test_sign_async.py: while one waits,
    the worker serves others)."""
    lst = tri["cfg"]["https"]
    for ctx, fp in ((client_ctx(minv=ssl.TLSVersion.TLSv1_3),
                     certs["ec"].fingerprint),
                    (client_ctx(maxv=ssl.TLSVersion.TLSv1_2,
                                ciphers="ECDHE-RSA-AES128-GCM-SHA256"),
                     certs["rsa"].fingerprint)):
        with socket.create_connection((lst.host, lst.port),
                                      timeout=10 * SLOW) as raw:
            with ctx.wrap_socket(raw, server_hostname=harness.HOSTNAME) as s:
                assert peer_fingerprint(s) == fp
                s.sendall(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
                          b"Host: mta-sts.example.test\r\n"
                          b"Connection: close\r\n\r\n")
                assert s.recv(100).startswith(b"HTTP/1.1 ")


def test_unsupported_key_type_refused(tmp_path, certs):
    """An Ed448 certificate (no keyop algorithm for it): check-config
    says so and serve does not start, naming the certificate."""
    cert = str(tmp_path / "ed448.pem")
    key = str(tmp_path / "ed448.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ed448", "-nodes", "-days",
         "30", "-subj", "/CN=" + harness.HOSTNAME, "-keyout", key,
         "-out", cert], check=True, capture_output=True, timeout=60)
    cfg = harness.Config(str(tmp_path / "d"),
                         [certs["ec"], harness.Cert(cert, key, "ed448")])
    cfg.listen("submissions", "submission", "implicit")
    path = cfg.write()
    r = harness.run_cli(path, "check-config")
    assert r.returncode == 1, r.stderr
    assert "unsupported key type" in r.stderr, r.stderr
    r = harness.run_cli(path, "serve", timeout=20)
    assert r.returncode != 0
    assert "unsupported key type" in r.stderr and cert in r.stderr, r.stderr
