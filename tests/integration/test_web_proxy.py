# SPDX-License-Identifier: ISC
"""The PROXY protocol on the web listeners ([listen] proxy_protocol = yes
with role https or admin): the header comes before TLS and the request,
and the client it names is the one the log, the per-client limit and the
admin pages' access rules see. The proxy's own address (trusted here)
never lends its trust: its health checks need a password like anyone
outside trusted_networks. Raw sockets play the load balancer;
test_haproxy.py puts HAProxy in front of the SMTP listeners."""

import os
import re
import socket
import subprocess

import pytest

import harness
import testca
from test_proxy_protocol import v1, v2
from test_web import basic, parse_http, read_all

PROXY = "127.0.0.1"
OUTSIDER = "127.0.0.3"		# not in proxy_from
TRUSTED_CLIENT = "10.9.8.7"	# in trusted_networks
STRANGER = "192.0.2.55"		# in neither
ADMIN_USER = "ops"
ADMIN_PASS = "ops-Proxy-1414"


@pytest.fixture(scope="module")
def wp(module_daemons, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("webproxycerts"))
    ca = testca.make_ca(d)
    mail = testca.issue(ca, d, "mail", [harness.HOSTNAME])
    sts = testca.issue(ca, d, "sts", ["mta-sts." + harness.DOMAIN])
    folder = module_daemons.folder()
    cfg = harness.Config(folder, [mail, sts])
    cfg.server["workers"] = "1"
    # The proxy's own address is trusted: it must not lend that to its
    # health checks, nor to the clients behind it.
    cfg.server["trusted_networks"] = TRUSTED_CLIENT + "/32, " + PROXY
    cfg.listen("mx", "mx", "starttls")
    cfg.listen_proxied((("https", "https", "implicit"),
                        ("admin", "admin", "none")),
                       proxy_from=PROXY + ", 127.0.0.2")
    pwfile = os.path.join(folder, "admin.passwd")
    h = subprocess.run(["openssl", "passwd", "-6", "-stdin"],
                       input=ADMIN_PASS, capture_output=True, text=True,
                       check=True).stdout.strip()
    with open(pwfile, "w") as f:
        f.write("%s:%s\n" % (ADMIN_USER, h))
    cfg["admin"].options["password_file"] = pwfile
    cfg.domains = [harness.DOMAIN]
    daemon = module_daemons.start(cfg, users=False)
    return {"d": daemon, "ca": ca.cert, "https": cfg["https"].port,
            "admin": cfg["admin"].port}


def connect(port, header, source=PROXY):
    s = socket.create_connection(("127.0.0.1", port), timeout=30,
                                 source_address=(source, 0))
    s.sendall(header)
    return s


def admin_get(wp, header, auth=None, source=PROXY):
    s = connect(wp["admin"], header, source)
    try:
        head = b"GET /no-such-page HTTP/1.1\r\nHost: admin\r\n"
        if auth is not None:
            head += b"Authorization: " + auth + b"\r\n"
        s.sendall(head + b"\r\n")
        raw = read_all(s)
    finally:
        s.close()
    return parse_http(raw)[0] if raw else None


def log_has(wp, pattern):
    harness.wait_until(lambda: re.search(pattern, wp["d"].log_text()), 5,
                       what="log line %r" % pattern)


def test_policy_over_tls_after_v2_header(wp):
    """A v2 header, then the TLS handshake (SNI picks the mta-sts
    certificate) and the request: the policy is served and the log names
    the header's client, not the proxy."""
    s = connect(wp["https"], v2(STRANGER, "127.0.0.1", 41001, 443))
    t = harness.client_ctx(wp["ca"]).wrap_socket(s, server_hostname="mta-sts." + harness.DOMAIN)
    try:
        t.sendall(b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts."
                  + harness.DOMAIN.encode() + b"\r\n\r\n")
        status, _, body = parse_http(read_all(t))
    finally:
        t.close()
    assert status == 200
    assert body.startswith(b"version: STSv1\r\n")
    log_has(wp, r"web proxy addr=192\.0\.2\.55 port=41001 proxy=127\.0\.0\.1"
            r" version=2 listener=https\b")
    log_has(wp, r"web request listener=https addr=192\.0\.2\.55 method=GET")


def test_admin_trust_follows_the_header(wp):
    """A header naming a trusted_networks client gets in without a
    password; one naming a stranger gets 401 (with a password: in)."""
    assert admin_get(wp, v1(TRUSTED_CLIENT, "127.0.0.1", 40100, 8080)) \
        not in (None, 401)
    assert admin_get(wp, v1(STRANGER, "127.0.0.1", 40101, 8080)) == 401
    assert admin_get(wp, v1(STRANGER, "127.0.0.1", 40102, 8080),
                     basic(ADMIN_USER, ADMIN_PASS)) not in (None, 401)
    log_has(wp, r"web request listener=admin addr=192\.0\.2\.55 method=GET "
            r".* status=401")


@pytest.mark.parametrize("header,what", [
    (v2(command=0), "local"),
    (b"PROXY UNKNOWN\r\n", "unknown"),
    (v1(PROXY, "127.0.0.1", 40200, 8080), "proxy-self"),
])
def test_proxy_own_connection_is_not_trusted(wp, header, what):
    """Health checks (LOCAL, UNKNOWN, a v1 header naming the proxy
    itself) come from the proxy's address, which is in trusted_networks,
    yet need a password: the admin pages answer 401 without one."""
    assert admin_get(wp, header) == 401
    log_has(wp, r"web proxy addr=127\.0\.0\.1 port=\d+ proxy=127\.0\.0\.1 "
            r"version=\d listener=admin command=%s" % what)


def test_peer_outside_proxy_from_is_refused(wp):
    """A connection from outside proxy_from is closed unanswered, even with
    a well-formed header."""
    assert admin_get(wp, v1(TRUSTED_CLIENT, "127.0.0.1", 40300, 8080),
                     source=OUTSIDER) is None
    log_has(wp, r"web proxy refused addr=127\.0\.0\.3 listener=admin "
            r"reason=not-in-proxy_from")


def test_missing_or_malformed_header_dropped(wp):
    """A request where the header should be is a malformed header: the
    connection is dropped without an answer."""
    assert admin_get(wp, b"") is None
    log_has(wp, r"web proxy dropped proxy=127\.0\.0\.1 listener=admin "
            r"reason=\S+")


def test_check_config_web_listeners(tmp_path, certs):
    """proxy_protocol is taken on https and admin listeners; without
    proxy_from it is an error there too."""
    cfg = harness.Config(str(tmp_path), [certs["ec"]])
    cfg.listen("mx", "mx", "starttls")
    lst = cfg.listen("admin", "admin", "none")
    lst.options["proxy_protocol"] = "yes"
    r = harness.run_cli(cfg.write(), "check-config")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert re.search(r'\[listen "admin"\] proxy_from: missing', r.stderr)
    lst.options["proxy_from"] = "10.0.0.5"
    r = harness.run_cli(cfg.write(), "check-config")
    assert r.returncode == 0, r.stderr
    assert "proxy_from = 10.0.0.5/32" in r.stdout
