# SPDX-License-Identifier: ISC
"""Three store paths of a live node on PostgreSQL, read back from the
database: a DMARC aggregate row from an SMTP session, SRS (the secret of
the `secrets` table signs a forward and verifies its bounce), and remote
delivery's store thread (the MTA-STS policy cache, TLS-RPT session
results). First, the command line reading postgresql_password_file as
serve does.

A (mx.fwd.test, 127.0.0.1) runs on PostgreSQL (pgserver.py) and forwards
aliases of fwd.test to B (mx.remote.test, 127.0.0.2, SQLite); the test DNS
server (tests/dns, NSD) serves the zones; remote.test publishes an
enforcing MTA-STS policy (tests/outbound/stsserver.py on 127.0.0.10:443)
and a TLS-RPT record. As tests/outbound/test_srs.py, whose world this
is, the original sender writes from 127.0.0.5 (origin.test, DMARC
p=none, B its MX)."""
import base64
import contextlib
import hashlib
import hmac
import os
import re
import smtplib
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "outbound"))
import remote_env as env  # noqa: E402
from stsserver import StsServer  # noqa: E402
import harness  # noqa: E402
import testca  # noqa: E402
from harness import Config, cli_ok, make_cert, make_message, \
    new_marker, run_cli  # noqa: E402

import pgserver  # noqa: E402

DB = "paths"
A_HOST, B_HOST = "127.0.0.1", "127.0.0.2"
ORIGIN_IP = "127.0.0.5"
STS_HOST = "127.0.0.10"             # remote.test's MTA-STS policy (HTTPS)
ALICE = "alice@origin.test"         # writes from ORIGIN_IP
CAROL = "carol@remote.test"         # B's user, target of A's alias
DAVE = "dave@fwd.test"              # A's local user
PW = "pgpaths-Test-Secret-4242"
ZONES = {
    "test": "",
    "fwd.test": '@ MX 10 mx\nmx A 127.0.0.1\n'
                '@ TXT "v=spf1 ip4:127.0.0.1 -all"\n',
    "remote.test": "@ MX 10 mx\nmx A 127.0.0.2\n"
                   '_mta-sts TXT "v=STSv1; id=1"\n'
                   "mta-sts A %s\n"
                   '_smtp._tls TXT "v=TLSRPTv1; '
                   'rua=mailto:tlsrpt@remote.test"\n' % STS_HOST,
    "origin.test": '@ MX 10 mx.remote.test.\n'
                   '@ TXT "v=spf1 ip4:%s -all"\n'
                   '_dmarc TXT "v=DMARC1; p=none; '
                   'rua=mailto:dmarc@origin.test"\n' % ORIGIN_IP,
    "nullmx.test": "@ MX 0 .\n",
}
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def provision_pg(users, aliases):
    """pool.start's provisioning of A: the schema first (`store
    migrate`), then the accounts, all in PostgreSQL."""
    accounts = env.provision_accounts(users, aliases)

    def run(cfg):
        cfg.write()
        cli_ok(cfg.path, "store", "migrate")
        accounts(cfg)
    return run


def test_cli_password_file(pg, tmp_path):
    """The command line reads the password file with serve's reader
    (store_open_read_password) only when it opens the store: a missing
    file is said and nothing is tried, a wrong password is refused by the
    server, the right one works; `store copy --password-file` reads the
    file it is given, not the configuration's."""
    dsn = pg.new_database("clipw")
    c = Config(str(tmp_path), [make_cert(str(tmp_path), "ec")])
    c.listen("mx", "mx", "starttls")
    good = tmp_path / "good.password"
    good.write_text(pgserver.PASSWORD + "\n")
    bad = tmp_path / "bad.password"
    bad.write_text("not-" + pgserver.PASSWORD + "\n")
    for f in (good, bad):
        os.chmod(f, 0o600)

    def conf(pwfile):
        c.extra = ("\n[store]\nbackend = postgresql\npostgresql = %s\n"
                   "postgresql_password_file = %s\n" % (dsn, pwfile))
        return c.write()
    path = conf(tmp_path / "missing.password")
    # No store opened: the file is not read.
    r = run_cli(path, "check-config")
    assert "missing.password: No such file" in r.stderr, r.stderr
    for args in (("store", "migrate"), ("alias", "list")):
        r = run_cli(path, *args)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "missing.password: No such file or directory" in r.stderr, \
            r.stderr
    path = conf(bad)
    r = run_cli(path, "store", "migrate")
    assert r.returncode == 1 and "password authentication failed" in \
        r.stderr, r.stderr
    assert pgserver.PASSWORD not in r.stderr
    path = conf(good)
    r = run_cli(path, "store", "migrate")
    assert r.returncode == 0, r.stderr
    r = run_cli(path, "alias", "add", "sales@example.test",
                "alice@example.test")
    assert r.returncode == 0, r.stderr
    assert pg.query("SELECT target FROM aliases", "clipw") == \
        ["alice@example.test"]
    # store copy into another database: its --password-file wins over
    # the configuration's (bad here), and a missing one is said.
    path = conf(bad)
    other = pg.new_database("clipw2")
    sqlite = Config(str(tmp_path / "sq"), [make_cert(str(tmp_path), "ec")])
    sqlite.listen("mx", "mx", "starttls")
    r = run_cli(sqlite.write(), "store", "migrate")
    assert r.returncode == 0, r.stderr
    src = os.path.join(sqlite.data_dir, "sealmail.db")
    r = run_cli(path, "store", "copy", "--from", "sqlite:" + src, "--to",
                "postgresql:" + other, "--password-file",
                str(tmp_path / "none.password"))
    assert r.returncode == 1 and "none.password: No such file" in \
        r.stderr, r.stderr
    r = run_cli(path, "store", "copy", "--from", "sqlite:" + src, "--to",
                "postgresql:" + other, "--password-file", str(good))
    assert r.returncode == 0, r.stdout + r.stderr
    assert pg.query("SELECT count(*) FROM sealmail_schema", "clipw2") == \
        ["1"]


@pytest.fixture(scope="module")
def world(pg, tmp_path_factory):
    if not env.dnsserver.have_tools():
        pytest.skip("nsd/ldnsutils not installed (scripts/install-deps.sh "
                    "test)")
    base = str(tmp_path_factory.mktemp("pgpaths"))
    dsn = pg.new_database(DB)
    # remote.test enforces MTA-STS: B's certificate and the policy
    # server's come from a test CA that A trusts ([delivery] tls_ca).
    certs = os.path.join(base, "certs")
    ca = testca.make_ca(certs)
    sts = testca.issue(ca, certs, "sts", ["mta-sts.remote.test"])
    srv = StsServer(STS_HOST, 443, sts.cert, sts.key)
    srv.set("mta-sts.remote.test", policy="version: STSv1\r\nmode: "
            "enforce\r\nmx: mx.remote.test\r\nmax_age: 604800\r\n")
    srv.start()
    with contextlib.ExitStack() as stack:
        stack.callback(srv.stop)
        w = stack.enter_context(env.dns_world(base, ZONES,
                                              (A_HOST, B_HOST)))
        b_cfg = env.mx_instance(w, base, "b", "mx.remote.test", B_HOST,
                                ["remote.test", "origin.test"])
        b_cfg.certs = [env.full_chain(testca.issue(
            ca, certs, "b-ca", ["mx.remote.test"]), ca)]
        a_cfg = env.mx_instance(w, base, "a", "mx.fwd.test", A_HOST,
                                ["fwd.test"])
        a_cfg.delivery.update(tls_ca=ca.cert,
                              fetch_private_addresses="yes")
        a_cfg.extra = ("\n[forwarding]\nsrs = yes\nsrs_max_age = 21d\n"
                       "\n[store]\nbackend = postgresql\n"
                       "postgresql = %s connect_timeout=3\n"
                       "postgresql_password_file = %s\n" % (dsn, pg.pwfile))
        b = w["pool"].start(b_cfg, provision=env.provision_accounts(
            [(u, PW) for u in (CAROL, ALICE)],
            [("void@remote.test", "x@nullmx.test")]))
        a = w["pool"].start(a_cfg, provision=provision_pg(
            [(DAVE, PW)], [("list@fwd.test", CAROL),
                           ("gone@fwd.test", "void@remote.test")]))
        yield {"a": a, "b": b, "pg": pg, "srv": srv}


def rows(world, sql):
    return world["pg"].query(sql, DB)


def wait_rows(world, sql, what):
    """The rows of sql once there are any (bounded wait)."""
    return harness.wait_until(lambda: rows(world, sql), 20,
                              interval=0.2, what=what)


def alice_sends(a, rcpt, marker):
    """Alice sends to rcpt at A from her own host."""
    s = smtplib.SMTP(a["mx"].host, a["mx"].port,
                     local_hostname="client.test",
                     source_address=(ORIGIN_IP, 0),
                     timeout=20 * harness.SLOW)
    try:
        s.ehlo()
        env.mailcheck.send(s, ALICE, [rcpt],
                           make_message(ALICE, rcpt, marker))
    finally:
        s.quit()


def forward(a, b, rcpt, marker, mailbox):
    """Alice writes to rcpt, an alias of A that forwards to B; the message
    once it is in mailbox (at B). On PostgreSQL the runner reads the SRS
    key on its store thread: the forward that asked for it waits for the
    read (src/deliver/remote.c), never deferred to a retry."""
    alice_sends(a, rcpt, marker)
    raw = mailbox.wait_for(marker, timeout=20)[0]
    assert not env.log_lines(a, "SRS key unavailable"), a.log_tail()
    return raw


def srs0(key, local, domain, fwd, day):
    """The SRS0 address msg/srs.h describes, written independently (as
    tests/outbound/test_srs.py)."""
    d = day % 1024
    tt = B32[(d >> 5) & 31] + B32[d & 31]
    data = "\0".join((tt, domain, local)).lower().encode()
    h = base64.b64encode(hmac.new(key, data, hashlib.sha256).digest())
    return "SRS0=%s=%s=%s=%s@%s" % (h.decode()[:6], tt, domain, local, fwd)


def test_no_sqlite_store(world):
    """Everything below comes from PostgreSQL: A has no sealmail.db."""
    assert not os.path.exists(os.path.join(world["a"].cfg.data_dir,
                                           "sealmail.db"))


def test_dmarc_row_from_a_live_session(world):
    """A message from origin.test (DMARC p=none, SPF pass from its own
    host) over SMTP: the worker's store thread writes its aggregate row
    and the published policy to PostgreSQL."""
    a = world["a"]
    before = int(time.time())
    marker = new_marker()
    alice_sends(a, DAVE, marker)
    a.mailbox(DAVE).wait_for(marker, timeout=20)
    got = wait_rows(world, "SELECT source_ip, envelope_from, policy, "
                    "result, spf_result, spf_aligned FROM dmarc_results "
                    "WHERE header_from = 'origin.test' AND time >= %d"
                    % before, "the DMARC row in PostgreSQL")
    assert got == ["%s|origin.test|none|pass|pass|1" % ORIGIN_IP], got
    pol = rows(world, "SELECT p, rua FROM dmarc_policies WHERE "
               "policy_domain = 'origin.test'")
    assert pol == ["none|mailto:dmarc@origin.test"], pol


def srs_secret(world):
    got = rows(world, "SELECT encode(value, 'hex') FROM secrets WHERE "
               "name = 'srs'")
    assert len(got) == 1, got
    key = bytes.fromhex(got[0])
    assert len(key) == 32
    return key


def test_srs_forward_and_bounce(world):
    """A forwards list@fwd.test to B with the SRS0 sender that the secret
    in PostgreSQL's secrets table gives; a bounce to such an address (B
    cannot deliver gone@fwd.test's target) verifies at A, against the
    same secret, and goes back to the original sender."""
    a, b = world["a"], world["b"]
    raw = forward(a, b, "list@fwd.test", new_marker(), b.mailbox(CAROL))
    rp = harness.header_values(raw, "Return-Path")
    assert len(rp) == 1, rp
    sender = rp[0].strip("<>")
    day = int(time.time()) // 86400
    # Around midnight the forward may carry the day before.
    want = [srs0(srs_secret(world), "alice", "origin.test", "fwd.test", d)
            for d in (day, day - 1)]
    assert sender in want, (sender, want)
    assert harness.header_values(raw, "From") == [ALICE]

    marker = new_marker()
    dsn = forward(a, b, "gone@fwd.test", marker, b.mailbox(ALICE))
    text = dsn.decode("utf-8", "replace")
    assert re.search(r"^Status: 5\.1\.10", text, re.M), text[:3000]
    assert harness.header_values(dsn, "Return-Path") == ["<>"]
    # Accepted by A as a verified SRS address and relayed to alice.
    assert env.log_lines(a, "srs=ok", "relay-to=\"%s\"" % ALICE), \
        a.log_tail()
    assert any("SRS0=" in v for v in
               harness.header_values(dsn, "Delivered-To")), text[:3000]


def test_remote_delivery_sts_and_tls_results(world):
    """Remote delivery's store thread: remote.test's MTA-STS policy,
    fetched for a delivery there, is cached in sts_policies, and the TLS
    session result under it (RFC 8460: policy type sts, the policy's
    lines) is a row of tls_results, with the session's addresses."""
    a, b = world["a"], world["b"]
    forward(a, b, "list@fwd.test", new_marker(), b.mailbox(CAROL))
    assert world["srv"].hits.get("mta-sts.remote.test", 0) >= 1
    assert env.log_lines(a, "rcpt=\"%s\"" % CAROL, "policy=mta-sts "
                         "authenticated=yes", "result=delivered")
    got = wait_rows(world, "SELECT id, expires > fetched FROM sts_policies "
                    "WHERE domain = 'remote.test' AND policy LIKE "
                    "'%mode: enforce%'", "the MTA-STS policy in PostgreSQL")
    assert got == ["1|t"], got
    got = wait_rows(world, "SELECT policy_type, receiving_mx, sending_ip, "
                    "receiving_ip, result FROM tls_results WHERE "
                    "policy_domain = 'remote.test' AND policy_string LIKE "
                    "'%mode: enforce%' AND count > 0",
                    "the TLS result row in PostgreSQL")
    assert "sts|mx.remote.test|%s|%s|success" % (A_HOST, B_HOST) in got, got
