# SPDX-License-Identifier: ISC
"""The test helpers other MTA-STS tests build on: testca.py issues
certificates that verify (or not) against its CA, and stsserver.py serves
policies per Host header and SNI name, changeable while it runs."""

import http.client
import os
import socket
import ssl
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import testca  # noqa: E402
from stsserver import StsServer  # noqa: E402

ADDR = "127.0.0.5"
POLICY = "version: STSv1\nmode: enforce\nmx: mx.a.test\nmax_age: 86400\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("pki"))
    ca = testca.make_ca(d)
    good = testca.issue(ca, d, "good", ["mta-sts.a.test", "*.w.test"],
                        ips=("127.0.0.5",))
    old = testca.issue(ca, d, "old", ["mta-sts.old.test"], expired=True)
    return ca, good, old


def get(srv, ca, host, sni=None):
    """GET the policy of host over TLS verified against ca: (status,
    content-type, body, headers) or raises ssl.SSLError."""
    ctx = ssl.create_default_context(cafile=ca.cert)
    sock = socket.create_connection((srv.addr, srv.port), timeout=5)
    tls = ctx.wrap_socket(sock, server_hostname=sni or host)
    conn = http.client.HTTPConnection(host, srv.port)
    conn.sock = tls
    conn.request("GET", "/.well-known/mta-sts.txt", headers={"Host": host})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, r.getheader("Content-Type"), body, r


def test_policy_by_host_and_changes(pki):
    ca, good, old = pki
    with StsServer(ADDR, 0, good.cert, good.key,
                   certs={"mta-sts.old.test": (old.cert, old.key)}) as srv:
        srv.set("mta-sts.a.test", policy=POLICY)
        status, ctype, body, _ = get(srv, ca, "mta-sts.a.test")
        assert (status, ctype, body) == (200, "text/plain", POLICY.encode())
        srv.set("mta-sts.a.test", status=404)
        assert get(srv, ca, "mta-sts.a.test")[0] == 404
        srv.set("mta-sts.a.test", location="https://elsewhere.test/")
        status, _, _, r = get(srv, ca, "mta-sts.a.test")
        assert status == 301 and r.getheader("Location") == \
            "https://elsewhere.test/"
        srv.set("mta-sts.a.test", policy=POLICY, size=70000,
                content_type="text/html")
        status, ctype, body, _ = get(srv, ca, "mta-sts.a.test")
        assert ctype == "text/html" and len(body) == 70000
        assert body.startswith(POLICY.encode())
        # Unknown hosts are a 404; the wildcard name verifies.
        assert get(srv, ca, "mta-sts.w.test", sni="x.w.test")[0] == 404
        assert srv.hits["mta-sts.a.test"] == 4


def test_certificates(pki):
    ca, good, old = pki
    assert good.fingerprint and good.kind == "ec"
    with StsServer(ADDR, 0, good.cert, good.key,
                   certs={"mta-sts.old.test": (old.cert, old.key)}) as srv:
        srv.set("mta-sts.old.test", policy=POLICY)
        with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
            get(srv, ca, "mta-sts.old.test")
        with pytest.raises(ssl.SSLCertVerificationError,
                           match="mismatch|match"):
            get(srv, ca, "mta-sts.b.test")
        other = testca.make_ca(os.path.join(os.path.dirname(ca.cert), "o"))
        with pytest.raises(ssl.SSLCertVerificationError):
            get(srv, other, "mta-sts.a.test")
