# SPDX-License-Identifier: ISC
"""The HTTP listeners (src/web): our MTA-STS policy on an https listener
(RFC 8461 §3.3), the bounds every HTTP request is held to, and who gets
through an admin listener (loopback, trusted_networks, basic auth).

One daemon with one worker (so the connection cap is one number), two
domains each with its own certificate for mta-sts.DOMAIN from a test CA
(the SNI choice is proven by curl verifying the name), and admin
listeners on 192.0.2.7, an address added to the namespace's loopback
interface, so that clients from 192.0.2.7 are neither loopback nor
trusted, while 192.0.2.8 is in trusted_networks.
"""

import os
import re
import socket
import ssl
import subprocess
import time

import pytest

import harness
import testca

ADMIN_HOST = "192.0.2.7"
TRUSTED_SRC = "192.0.2.8"
# Clients that guess passwords, and one that knows it.
GUESSERS = ("192.0.2.9", "192.0.2.10", "192.0.2.11")
LATE_ADMIN = "192.0.2.12"
# Fresh addresses (first failure: 1 s delay) for timing 401s.
TIMERS = tuple("192.0.2.%d" % i for i in range(20, 28))
# An admin listener on IPv6 and twelve clients of one /64 (one host, as
# SMTP's per-client counts take it).
ADMIN6_HOST = "2001:db8:1::7"
CLIENTS6 = ["2001:db8:2::%x" % i for i in range(1, 13)]
ADMIN_USER = "ops"
ADMIN_PASS = "ops-Secret-2718"
OTHER = "other.test"


def curl(args, timeout=20):
    r = subprocess.run(["curl", "-sS", "-i", "--max-time", str(timeout)] +
                       args, capture_output=True, timeout=timeout + 10)
    return r


def parse_http(raw):
    """(status, headers dict with lower-case names, body) of one
    response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3}) ", lines[0])
    assert m, lines[0]
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(m.group(1)), headers, body


@pytest.fixture(scope="module")
def web(module_daemons, tmp_path_factory):
    for addr in (ADMIN_HOST, TRUSTED_SRC) + GUESSERS + (LATE_ADMIN,) + TIMERS:
        r = subprocess.run(["ip", "addr", "add", addr + "/32", "dev", "lo"],
                           capture_output=True, text=True)
        if r.returncode != 0 and "File exists" not in r.stderr:
            pytest.skip("cannot add %s to lo: %s" % (addr, r.stderr))
    for addr in [ADMIN6_HOST] + CLIENTS6:
        r = subprocess.run(["ip", "-6", "addr", "add", addr + "/128", "dev",
                            "lo", "nodad"], capture_output=True, text=True)
        if r.returncode != 0 and "File exists" not in r.stderr:
            pytest.skip("cannot add %s to lo: %s" % (addr, r.stderr))
    d = str(tmp_path_factory.mktemp("webcerts"))
    ca = testca.make_ca(d)
    mail = testca.issue(ca, d, "mail", [harness.HOSTNAME])
    sts1 = testca.issue(ca, d, "sts1", ["mta-sts." + harness.DOMAIN])
    sts2 = testca.issue(ca, d, "sts2", ["mta-sts." + OTHER])
    folder = module_daemons.folder()
    cfg = harness.Config(folder, [mail, sts1, sts2])
    cfg.server["workers"] = "1"
    cfg.server["trusted_networks"] = TRUSTED_SRC + "/32"
    cfg.listen("mx", "mx", "starttls")
    cfg.listen("https", "https", "implicit")
    cfg.listen("admin", "admin", "none", host=ADMIN_HOST)
    adm6 = cfg.listen("admin6", "admin", "none", host=ADMIN6_HOST)
    sec = cfg.listen("admin_tls", "admin", "implicit", host=ADMIN_HOST)
    pwfile = os.path.join(folder, "admin.passwd")
    h = subprocess.run(["openssl", "passwd", "-6", "-stdin"],
                       input=ADMIN_PASS, capture_output=True, text=True,
                       check=True).stdout.strip()
    with open(pwfile, "w") as f:
        f.write("# admin users\n%s:%s\n" % (ADMIN_USER, h))
    sec.options["password_file"] = pwfile
    cfg.domains = [harness.DOMAIN]
    cfg.extra = ('\n[domain "%s"]\nmta_sts = enforce\n'
                 'mta_sts_mx = mx1.%s, *.%s\nmta_sts_max_age = 2d\n' %
                 (OTHER, OTHER, OTHER))
    daemon = module_daemons.start(cfg, users=False)
    return {"d": daemon, "ca": ca.cert, "https": cfg["https"].port,
            "admin": cfg["admin"].port, "admin_tls": sec.port,
            "admin6": adm6.port}


def fetch(web, host, path="/.well-known/mta-sts.txt", extra=()):
    port = web["https"]
    return curl(["--cacert", web["ca"], "--resolve",
                 "%s:%d:127.0.0.1" % (host, port)] + list(extra) +
                ["https://%s:%d%s" % (host, port, path)])


def test_policy_served(web):
    """The policy of [domain "example.test"] (all defaults), exactly as
    sts_serve writes it, over HTTPS with a certificate for
    mta-sts.example.test."""
    r = fetch(web, "mta-sts." + harness.DOMAIN)
    assert r.returncode == 0, r.stderr
    status, h, body = parse_http(r.stdout)
    assert status == 200
    assert h["content-type"] == "text/plain"
    assert body == (b"version: STSv1\r\nmode: testing\r\n"
                    b"mx: mail.example.test\r\nmax_age: 604800\r\n")
    assert int(h["content-length"]) == len(body)
    assert "max-age" in h["cache-control"]
    assert "location" not in h
    line = web["d"].log_text()
    assert re.search(r"sid=[0-9a-f]{16} web request listener=https "
                     r"addr=127\.0\.0\.1 method=GET host=\"mta-sts\."
                     r"example\.test:\d+\" path=\"/\.well-known/"
                     r"mta-sts\.txt\" status=200", line), line


def test_policy_of_second_domain_by_sni(web):
    """Another domain's policy (enforce, two mx patterns, max_age 2d):
    curl checks that the certificate names mta-sts.other.test, so SNI
    picked that domain's pair."""
    r = fetch(web, "mta-sts." + OTHER)
    assert r.returncode == 0, r.stderr
    status, h, body = parse_http(r.stdout)
    assert status == 200
    assert body == (b"version: STSv1\r\nmode: enforce\r\nmx: mx1.other.test"
                    b"\r\nmx: *.other.test\r\nmax_age: 172800\r\n")


def test_head(web):
    r = fetch(web, "mta-sts." + harness.DOMAIN, extra=["-I"])
    status, h, body = parse_http(r.stdout)
    assert status == 200 and body == b""
    assert h["content-type"] == "text/plain"


@pytest.mark.parametrize("path", ["/", "/.well-known/mta-sts.txt?x=1",
                                  "/.well-known/mta-sts.txt/",
                                  "/.well-known/MTA-STS.TXT",
                                  "/.well-known/../.well-known/mta-sts.txt"])
def test_other_paths_404(web, path):
    r = fetch(web, "mta-sts." + harness.DOMAIN, path=path,
              extra=["--path-as-is"])
    status, h, body = parse_http(r.stdout)
    assert status == 404, r.stdout
    assert h["content-type"].startswith("text/plain")


@pytest.mark.parametrize("host", ["mta-sts.unknown.test", harness.DOMAIN,
                                  "www." + harness.DOMAIN,
                                  "mta-sts.mta-sts.example.test", ""])
def test_other_hosts_404(web, host):
    """Host names no policy: 404 (the connection and SNI are for a
    served domain, so only Host differs)."""
    r = fetch(web, "mta-sts." + harness.DOMAIN,
              extra=["-H", "Host: " + host])
    status, _, _ = parse_http(r.stdout)
    assert status in (404, 400), r.stdout


def test_host_must_match_sni(web):
    """SNI for one domain, Host of another: 404, so one domain's
    certificate never serves another's policy."""
    r = fetch(web, "mta-sts." + harness.DOMAIN,
              extra=["-H", "Host: mta-sts." + OTHER])
    assert parse_http(r.stdout)[0] == 404


def test_methods(web):
    r = fetch(web, "mta-sts." + harness.DOMAIN, extra=["-X", "DELETE"])
    status, h, _ = parse_http(r.stdout)
    assert status == 405 and h["allow"] == "GET, HEAD"
    # A body is never read: refused whatever the method.
    r = fetch(web, "mta-sts." + harness.DOMAIN, extra=["-d", "x=1"])
    assert parse_http(r.stdout)[0] in (405, 413)


def tls_conn(web, host="mta-sts." + harness.DOMAIN):
    ctx = ssl.create_default_context(cafile=web["ca"])
    s = socket.create_connection(("127.0.0.1", web["https"]), timeout=30)
    return ctx.wrap_socket(s, server_hostname=host)


def read_all(s):
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass
    return data


def raw_request(web, head):
    s = tls_conn(web)
    try:
        try:
            s.sendall(head)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        return read_all(s)
    finally:
        s.close()


def test_oversized_headers_refused(web):
    """Request line and headers above 8 KiB: refused, not served."""
    big = b"X-Big: " + b"a" * 9000 + b"\r\n"
    data = raw_request(web, b"GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
                       b"Host: mta-sts.example.test\r\n" + big + b"\r\n")
    assert not data.startswith(b"HTTP/1.1 200"), data[:200]
    data = raw_request(web, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n"
                       b"Host: mta-sts.example.test\r\n\r\n")
    assert not data.startswith(b"HTTP/1.1 200"), data[:200]
    # The same request within the bound is served.
    ok = raw_request(web, b"GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
                     b"Host: mta-sts.example.test\r\nX-Big: " +
                     b"a" * 6000 + b"\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200"), ok[:200]


def test_too_many_headers_refused(web):
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(60))
    data = raw_request(web, b"GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
                       b"Host: mta-sts.example.test\r\n" + many + b"\r\n")
    assert data.startswith(b"HTTP/1.1 431 "), data[:200]
    few = b"".join(b"X-H%d: v\r\n" % i for i in range(30))
    data = raw_request(web, b"GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
                       b"Host: mta-sts.example.test\r\n" + few + b"\r\n")
    assert data.startswith(b"HTTP/1.1 200 "), data[:200]


def test_request_data_escaped_in_log_not_echoed(web):
    marker = b"/zz\"q\x01<b>"
    data = raw_request(web, b"GET " + marker + b" HTTP/1.1\r\n"
                       b"Host: mta-sts.example.test\r\n\r\n")
    status, _, body = parse_http(data)
    assert status in (400, 404)
    assert b"<b>" not in body and b"zz" not in body
    if status == 404:
        log = web["d"].log_text()
        assert 'path="/zz\\"q\\x01<b>"' in log, log[-2000:]
        assert "\x01" not in log


def test_slow_client_cut_off(web):
    """A client that sends a byte every second never completes its
    request: the connection ends about WEB_REQUEST_TIME (10 s) after
    accept, though evhttp's idle timeout (5 s) is never reached."""
    s = tls_conn(web)
    t0 = time.monotonic()
    req = b"GET /.well-known/mta-sts.txt HTTP/1.1\r\nX-Slow: " + b"a" * 100
    closed = None
    try:
        for b in req:
            try:
                s.sendall(bytes([b]))
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                closed = time.monotonic() - t0
                break
            s.settimeout(1)
            try:
                if s.recv(100) == b"":
                    closed = time.monotonic() - t0
                    break
            except socket.timeout:
                pass
            except (ConnectionResetError, ssl.SSLError):
                closed = time.monotonic() - t0
                break
    finally:
        s.close()
    assert closed is not None, "slow client never cut off"
    assert 9 <= closed <= 14, closed
    assert "web timeout listener=https after=10s" in web["d"].log_text()


def test_connection_cap(web):
    """64 idle connections (from loopback, which has no per-client
    limit) fill the worker's HTTP slots: the 65th is served only once one
    of them ends (and SMTP is still served meanwhile)."""
    port = web["admin"]
    conns = []
    src = ("127.0.0.1", 0)
    try:
        for _ in range(64):
            conns.append(socket.create_connection((ADMIN_HOST, port),
                                                  timeout=10,
                                                  source_address=src))
        harness.wait_until(lambda: "web connections=64 at the limit" in
                           web["d"].log_text(), 10, what="the cap")
        late = socket.create_connection((ADMIN_HOST, port), timeout=10,
                                        source_address=src)
        late.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        late.settimeout(2)
        with pytest.raises(socket.timeout):
            late.recv(100)
        harness.greet(web["d"]["mx"])
        for c in conns[:8]:
            c.close()
        late.settimeout(10)
        assert late.recv(100).startswith(b"HTTP/1.1 404 ")
        late.close()
    finally:
        for c in conns:
            c.close()


def per_client_limit(web, host, port, sources, refused_re):
    """Twelve connections to host:port from sources (one client): the
    newest four are closed at once, the older eight still get answers."""
    conns = [socket.create_connection((host, port), timeout=10,
                                      source_address=(src, 0))
             for src in sources]
    try:
        # Closed at once, well before evhttp's 5 s idle timeout.
        for c in conns[8:]:
            c.settimeout(3)
            assert c.recv(100) == b""
        for c in conns[:8]:
            c.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
            c.settimeout(5)
            assert c.recv(100).startswith(b"HTTP/1.1 401 ")
    finally:
        for c in conns:
            c.close()
    log = web["d"].log_text()
    assert len(re.findall(refused_re, log)) == 4, log[-3000:]


def test_per_client_limit(web):
    """One client address that is neither loopback nor trusted keeps at
    most 8 HTTP connections per worker."""
    per_client_limit(web, ADMIN_HOST, web["admin"], [ADMIN_HOST] * 12,
                     r"web refused addr=192\.0\.2\.7 listener=admin "
                     r"limit=per-ip")


def test_per_client_limit_ipv6_prefix(web):
    """IPv6 clients count by /64, as SMTP's limits count them: one host
    holds a whole /64, so twelve of its addresses still get 8
    connections, not twelve."""
    per_client_limit(web, ADMIN6_HOST, web["admin6"], CLIENTS6,
                     r"web refused addr=2001:db8:2::[0-9a-f]+ "
                     r"listener=admin6 limit=per-ip")


# ------------------------------------------------------------ admin access

def admin_get(web, src, auth=None, tls=False, path="/no-such-page"):
    """Status and headers of GET path on an admin listener from source
    address src."""
    port = web["admin_tls"] if tls else web["admin"]
    s = socket.create_connection((ADMIN_HOST, port), timeout=40,
                                 source_address=(src, 0))
    if tls:
        s = harness.client_ctx().wrap_socket(s)
    try:
        head = b"GET %s HTTP/1.1\r\nHost: admin\r\n" % path.encode()
        if auth is not None:
            head += b"Authorization: " + auth + b"\r\n"
        s.sendall(head + b"\r\n")
        status, h, _ = parse_http(read_all(s))
        return status, h
    finally:
        s.close()


def basic(user, pw):
    import base64
    return b"Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode())


def test_admin_loopback_and_trusted_pass(web):
    """Loopback and trusted_networks clients reach the pages (the
    placeholder answers 404 there) without credentials."""
    assert admin_get(web, "127.0.0.1")[0] != 401
    assert admin_get(web, TRUSTED_SRC)[0] != 401
    assert admin_get(web, "127.0.0.1", tls=True)[0] != 401


def test_admin_needs_credentials(web):
    status, h = admin_get(web, ADMIN_HOST)
    assert status == 401
    assert h["www-authenticate"].startswith('Basic realm="sealmail"')
    # No password_file on this listener: credentials cannot help.
    status, _ = admin_get(web, ADMIN_HOST, basic(ADMIN_USER, ADMIN_PASS))
    assert status == 401


def test_admin_basic_auth(web):
    t0 = time.monotonic()
    status, _ = admin_get(web, ADMIN_HOST, basic(ADMIN_USER, "wrong"),
                          tls=True)
    assert status == 401
    # Failures are delayed (1 s for the first, doubling) like SMTP AUTH.
    assert time.monotonic() - t0 >= 0.9
    status, _ = admin_get(web, ADMIN_HOST, basic("nobody", ADMIN_PASS),
                          tls=True)
    assert status == 401
    status, _ = admin_get(web, ADMIN_HOST, b"Basic !!notbase64", tls=True)
    assert status == 401
    status, _ = admin_get(web, ADMIN_HOST, basic(ADMIN_USER, ADMIN_PASS),
                          tls=True)
    assert status != 401 and status != 503
    log = web["d"].log_text()
    assert re.search(r'web auth result=fail listener=admin_tls user="ops" '
                     r'addr=192\.0\.2\.7 failures=\d+ delay=\d+s', log), \
        log[-2000:]
    assert 'web auth result=pass listener=admin_tls user="ops"' in log
    assert ADMIN_PASS not in log and "wrong" not in log


# ------------------------------------------------------------ check-config

def sts_check(tmp_path, certs, https=True, domain_keys="mta_sts = enforce"):
    """check-config's stderr for a config with certs, an https listener
    (or not) and [domain "example.test"] with domain_keys."""
    cfg = harness.Config(str(tmp_path), certs)
    cfg.listen("mx", "mx", "starttls")
    if https:
        cfg.listen("https", "https", "implicit")
    cfg.domains = []
    cfg.extra = '\n[domain "%s"]\n%s\n' % (harness.DOMAIN, domain_keys)
    cfg.write()
    r = harness.run_cli(cfg.path, "check-config")
    assert r.returncode == 0, r.stderr
    return r.stderr


@pytest.fixture(scope="module")
def ca_certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("stscerts"))
    ca = testca.make_ca(d)
    return {
        "mail": testca.issue(ca, d, "mail", [harness.HOSTNAME]),
        "sts": testca.issue(ca, d, "sts", ["mta-sts." + harness.DOMAIN]),
        "both": testca.issue(ca, d, "both", [harness.HOSTNAME,
                                             "mta-sts." + harness.DOMAIN]),
        "self": harness.make_cert(d, "self"),
    }


def test_check_config_sts_clean(tmp_path, ca_certs):
    err = sts_check(tmp_path, [ca_certs["mail"], ca_certs["sts"]])
    assert "mta-sts" not in err and "self-signed" not in err, err
    err = sts_check(tmp_path, [ca_certs["both"]])
    assert "mta-sts" not in err and "self-signed" not in err, err


def test_check_config_sts_no_policy_host_cert(tmp_path, ca_certs):
    err = sts_check(tmp_path, [ca_certs["mail"]])
    assert ("warning: %s: no [tls] certificate names mta-sts.example.test "
            "(the MTA-STS policy host): senders cannot validate it" %
            os.path.join(str(tmp_path), "sealmail.conf")) in err, err
    # mode testing: still a warning, without the enforce consequence.
    err = sts_check(tmp_path, [ca_certs["mail"]],
                    domain_keys="mta_sts = testing")
    assert "no [tls] certificate names mta-sts.example.test (the MTA-STS " \
        "policy host)\n" in err, err
    # Without an https listener the policy is not ours to serve.
    err = sts_check(tmp_path, [ca_certs["mail"]], https=False)
    assert "mta-sts" not in err, err


def test_check_config_sts_self_signed(tmp_path, ca_certs):
    """enforce with the self-signed default certificate: it serves both
    the policy host (named by no certificate) and the mx."""
    err = sts_check(tmp_path, [ca_certs["self"], ca_certs["sts"]])
    assert re.search(r"\[tls\] cert: the certificate for mail\.example\.test "
                     r"\(an mx of its policy of example\.test, mta_sts = "
                     r"enforce\) is self-signed", err), err
    assert "names mta-sts" not in err, err
    # testing mode: no self-signed warning.
    err = sts_check(tmp_path, [ca_certs["self"], ca_certs["sts"]],
                    domain_keys="mta_sts = testing")
    assert "self-signed" not in err, err


def test_check_config_sts_mx_names(tmp_path, ca_certs):
    """An mta_sts_mx entry that is our hostname (or a wildcard over it)
    must be named by a certificate; other mx hosts are not ours to
    check."""
    keys = "mta_sts = enforce\nmta_sts_mx = *.example.test, mx2.other.test"
    err = sts_check(tmp_path, [ca_certs["sts"]], domain_keys=keys)
    assert "no [tls] certificate names mail.example.test (an mx of its " \
        "policy)" in err, err
    assert "mx2.other.test" not in err, err
    err = sts_check(tmp_path, [ca_certs["both"]], domain_keys=keys)
    assert "certificate names" not in err, err


def test_check_config_password_file(tmp_path, ca_certs):
    cfg = harness.Config(str(tmp_path), [ca_certs["mail"]])
    cfg.listen("mx", "mx", "starttls")
    adm = cfg.listen("admin", "admin", "implicit")
    pw = os.path.join(str(tmp_path), "pw")
    adm.options["password_file"] = pw
    cfg.write()
    with open(pw, "w") as f:
        f.write("ops:$6$salt$hash\nbroken line\n")
    r = harness.run_cli(cfg.path, "check-config")
    assert r.returncode == 1
    assert ('[listen "admin"] password_file %s: line 2: no \':\' between '
            'user and hash' % pw) in r.stderr, r.stderr
    with open(pw, "w") as f:
        f.write("# nobody yet\n")
    r = harness.run_cli(cfg.path, "check-config")
    assert r.returncode == 0, r.stderr
    assert "has no users" in r.stderr
    with open(pw, "w") as f:
        f.write("ops:$6$salt$hash\n")
    r = harness.run_cli(cfg.path, "check-config")
    assert r.returncode == 0 and "password_file" not in r.stderr, r.stderr


def test_one_request_per_connection(web):
    """A second request on the same connection (pipelined or kept
    alive) is never read: the deadline bounds one request only."""
    req = (b"GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
           b"Host: mta-sts.example.test\r\n\r\n")
    data = raw_request(web, req + req)
    assert data.count(b"HTTP/1.1 ") == 1, data
    assert b"\r\nConnection: close\r\n" in data


def test_failed_guesses_do_not_lock_out(web):
    """Failed checks waiting out their delay (up to 30 s) are not hashing:
    they do not count towards the 16 checks in progress beyond which a
    request is answered 503, so guessers cannot lock the administrator
    out."""
    port = web["admin_tls"]
    bad = b"GET /x HTTP/1.1\r\nHost: admin\r\nAuthorization: " + \
        basic(ADMIN_USER, "guess") + b"\r\n\r\n"
    held = []

    def guess(src, n):
        for _ in range(n):
            s = socket.create_connection((ADMIN_HOST, port), timeout=10,
                                         source_address=(src, 0))
            s = harness.client_ctx().wrap_socket(s)
            s.sendall(bad)
            held.append(s)

    def failures():
        log = web["d"].log_text()
        return sum(len(re.findall(r"web auth result=fail listener=admin_tls "
                                  r"user=\S+ addr=%s " % re.escape(g), log))
                   for g in GUESSERS)

    try:
        # Five failures per guesser (delays 1, 2, 4, 8 and 16 s), then,
        # once the shorter delays are over, four more each (30 s): 16
        # checks, none of them hashing, wait out their delays.
        for g in GUESSERS:
            guess(g, 5)
        harness.wait_until(lambda: failures() == 15, 20, what="15 failures")
        time.sleep(4.5)
        for g in GUESSERS:
            guess(g, 4)
        harness.wait_until(lambda: failures() >= 25, 20, what="25 failures")
        status, _ = admin_get(web, LATE_ADMIN, basic(ADMIN_USER, ADMIN_PASS),
                              tls=True)
        assert status not in (401, 503), status
    finally:
        for s in held:
            s.close()


def test_unknown_user_costs_a_known_users_hash(web):
    """A wrong password for an unknown user takes as long to refuse as
    one for a user of password_file (whose hashes are SHA-512 crypt, a
    few ms): checking unknown users against a hash of another scheme
    (yescrypt, some 100 ms) would tell which user names exist."""
    def time_401(src, user):
        s = socket.create_connection((ADMIN_HOST, web["admin_tls"]),
                                     timeout=40, source_address=(src, 0))
        s = harness.client_ctx().wrap_socket(s)
        try:
            t0 = time.monotonic()
            s.sendall(b"GET /x HTTP/1.1\r\nHost: admin\r\n"
                      b"Authorization: " + basic(user, "wrong") +
                      b"\r\n\r\n")
            data = read_all(s)
            t = time.monotonic() - t0
        finally:
            s.close()
        assert parse_http(data)[0] == 401
        return t

    # Each from its own fresh address, so each waits the same 1 s delay.
    known = min(time_401(src, ADMIN_USER) for src in TIMERS[:4])
    unknown = min(time_401(src, "nobody") for src in TIMERS[4:])
    assert abs(unknown - known) < 0.04, (known, unknown)


def test_connect_gets_one_request_too(web):
    """CONNECT is answered 405 like any method but GET and HEAD, and its
    connection closed too (evhttp keeps a CONNECT's connection open
    whatever Connection says): a second request on it is never read,
    nor held to no deadline."""
    s = socket.create_connection((ADMIN_HOST, web["admin"]), timeout=10,
                                 source_address=("127.0.0.1", 0))
    try:
        s.sendall(b"CONNECT a:1 HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        s.settimeout(3)
        try:
            data = read_all(s)
        except socket.timeout:
            pytest.fail("connection still open after its answer")
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 405 "), data
    assert data.count(b"HTTP/1.1 ") == 1, data
