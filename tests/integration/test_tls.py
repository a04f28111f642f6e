# SPDX-License-Identifier: ISC
"""TLS configuration: RSA + ECDSA certificates side by side, the minimum
protocol version."""

import re
import socket
import ssl
import subprocess
import time
import warnings

import pytest

from harness import SLOW, client_ctx, free_port, peer_fingerprint
from smtpraw import RawSMTP


@pytest.fixture(scope="module")
def dual(module_daemons, certs):
    cfg = module_daemons.config([certs["ec"], certs["rsa"]], ipv6=False)
    return module_daemons.start(cfg)


def s_client(lst, *args, servername="mail.example.test"):
    """openssl s_client against a listener; returns (rc, stdout)."""
    cmd = ["openssl", "s_client", "-connect",
           "%s:%d" % (lst.host, lst.port), "-servername", servername]
    if lst.tls == "starttls":
        cmd += ["-starttls", "smtp"]
    cmd += list(args)
    r = subprocess.run(cmd, input=b"", capture_output=True,
                       timeout=20 * SLOW)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def served_pem(out):
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                  out, re.S)
    assert m, "no certificate in s_client output:\n" + out
    return m.group(0)


def same_cert(pem, cert):
    return ssl.PEM_cert_to_DER_cert(pem) == \
        ssl.PEM_cert_to_DER_cert(cert.pem)


@pytest.mark.parametrize("name", ["submissions", "mx"])
def test_dual_default_is_ecdsa(dual, certs, name):
    rc, out = s_client(dual[name])
    assert rc == 0, out
    assert same_cert(served_pem(out), certs["ec"])


@pytest.mark.parametrize("name", ["submissions", "mx"])
def test_dual_rsa_for_rsa_only_tls13_client(dual, certs, name):
    rc, out = s_client(dual[name], "-tls1_3", "-sigalgs", "RSA-PSS+SHA256")
    assert rc == 0, out
    assert same_cert(served_pem(out), certs["rsa"])


def test_dual_rsa_for_rsa_cipher_tls12_client(dual, certs):
    ctx = client_ctx(maxv=ssl.TLSVersion.TLSv1_2,
                     ciphers="ECDHE-RSA-AES256-GCM-SHA384")
    with RawSMTP.to(dual["submissions"], ctx=ctx) as c:
        assert c.sock.version() == "TLSv1.2"
        assert peer_fingerprint(c.sock) == certs["rsa"].fingerprint
    ctx = client_ctx(maxv=ssl.TLSVersion.TLSv1_2,
                     ciphers="ECDHE-ECDSA-AES256-GCM-SHA384")
    with RawSMTP.to(dual["submissions"], ctx=ctx) as c:
        assert peer_fingerprint(c.sock) == certs["ec"].fingerprint


def tls11_ctx():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return client_ctx(minv=ssl.TLSVersion.TLSv1_1,
                          maxv=ssl.TLSVersion.TLSv1_1,
                          ciphers="DEFAULT:@SECLEVEL=0")


@pytest.fixture(scope="module")
def tls11_client_works(certs):
    """Control: this machine's OpenSSL can still speak TLS 1.1 as a client
    (else a refusal would prove nothing)."""
    port = free_port()
    srv = subprocess.Popen(
        ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
         "-cert", certs["rsa"].cert, "-key", certs["rsa"].key,
         "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-naccept", "1",
         "-quiet"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        ok = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not ok:
            try:
                with socket.create_connection(("127.0.0.1", port), 2) as s:
                    with tls11_ctx().wrap_socket(s) as t:
                        ok = t.version() == "TLSv1.1"
            except ConnectionRefusedError:
                time.sleep(0.05)
            except (ssl.SSLError, OSError):
                break
    finally:
        srv.kill()
        srv.wait()
    if not ok:
        pytest.skip("this OpenSSL cannot act as a TLS 1.1 client")


@pytest.mark.parametrize("name", ["submissions", "submission"])
def test_tls11_client_refused(mta, tls11_client_works, name):
    lst = mta[name]
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        if lst.tls == "implicit":
            c = RawSMTP.to(lst, ctx=tls11_ctx())
            c.close()
        else:
            with RawSMTP.to(lst) as c:
                c.ehlo()
                c.starttls(ctx=tls11_ctx())


def test_tls12_client_accepted(mta):
    ctx = client_ctx(maxv=ssl.TLSVersion.TLSv1_2)
    with RawSMTP.to(mta["submissions"], ctx=ctx) as c:
        assert c.sock.version() == "TLSv1.2"
        c.ehlo()


@pytest.fixture(scope="module")
def tls13_only(module_daemons, certs):
    cfg = module_daemons.config([certs["ec"]], ipv6=False)
    cfg.tls["min_version"] = "TLSv1.3"
    return module_daemons.start(cfg)


def test_min_version_tls13(tls13_only):
    ctx = client_ctx(maxv=ssl.TLSVersion.TLSv1_2)
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        RawSMTP.to(tls13_only["submissions"], ctx=ctx).close()
    with RawSMTP.to(tls13_only["submissions"]) as c:
        assert c.sock.version() == "TLSv1.3"
