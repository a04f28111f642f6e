# SPDX-License-Identifier: ISC
"""DNSSEC must work, or sealmail says so: with [delivery] dane = yes,
`serve` and `check-config` probe the configured resolver path (the DNSKEY
RRset of the trust anchor's zone must come back secure) and refuse, naming
the fixes, when there is no trust anchor or the probe fails. The DNS
servers are tests/dns/dnsserver.py (NSD): one serving the signed zone
secure.test, and one serving the same zone unsigned, which stands for a
forwarder that strips DNSSEC."""

import os
import subprocess
import time

import pytest

import remote_env as env
import harness
from harness import Config, run_cli, sealmail_bin

pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed")

FIXES = ("resolver = recursive", "validating resolver", "dane = no")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """signed: secure.test signed (its trust-anchors file validates);
    stripped: secure.test served unsigned; both with the empty parent
    zone test."""
    base = str(tmp_path_factory.mktemp("probe"))
    signed_dir, stripped_dir = (os.path.join(base, n)
                                for n in ("signed", "stripped"))
    signed = env.dnsserver.start(signed_dir, env.write_zones(
        os.path.join(base, "zs"), {"secure.test": ";! sign\nmx A 192.0.2.1\n"}))
    try:
        stripped = env.dnsserver.start(stripped_dir, env.write_zones(
            os.path.join(base, "zu"), {"secure.test": "mx A 192.0.2.1\n"}))
    except BaseException:
        env.dnsserver.stop(signed_dir)
        raise
    try:
        yield {"base": base, "signed": signed, "stripped": stripped}
    finally:
        env.dnsserver.stop(stripped_dir)
        env.dnsserver.stop(signed_dir)


def config(folder, resolver, anchor, dane="yes"):
    cfg = Config(folder, [harness.make_cert(os.path.join(folder, "certs"),
                                            "c")])
    cfg.listen("mx", "mx", "starttls")
    cfg.delivery["dane"] = dane
    cfg.dns = {"resolver": resolver, "trust_anchor": anchor}
    cfg.write()
    return cfg


def refused(cfg):
    """Run serve, which must exit at once; its stderr and the seconds it
    took."""
    t = time.monotonic()
    r = subprocess.run([sealmail_bin(), "-c", cfg.path, "serve"],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=30 * harness.SLOW)
    took = time.monotonic() - t
    assert r.returncode == 1, (r.returncode, r.stderr)
    return r.stderr, took


def check_config_fails(cfg):
    r = run_cli(cfg.path, "check-config")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stdout == ""
    return r.stderr


def assert_names_fixes(text):
    for fix in FIXES:
        assert fix in text, (fix, text)


def test_no_trust_anchor_refused(tmp_path):
    cfg = config(str(tmp_path), harness.DNS_RESOLVER, "")
    err, _ = refused(cfg)
    assert "[dns] trust_anchor is empty" in err, err
    assert_names_fixes(err)
    err = check_config_fails(cfg)
    assert "trust_anchor is empty" in err, err
    assert_names_fixes(err)


def test_dane_no_needs_no_dnssec(tmp_path):
    cfg = config(str(tmp_path), harness.DNS_RESOLVER, "", dane="no")
    r = run_cli(cfg.path, "check-config")
    assert r.returncode == 0, r.stderr
    assert "dane = no" in r.stdout


def test_stripping_forwarder_refused(tmp_path, servers):
    """The anchor of the signed zone, asked through a server that serves
    it unsigned: the DNSKEY answer is bogus."""
    cfg = config(str(tmp_path), servers["stripped"]["resolver"],
                 servers["signed"]["trust_anchor_file"])
    err, took = refused(cfg)
    assert 'DNSKEY records of "secure.test."' in err, err
    assert "the answer is bogus" in err, err
    assert servers["stripped"]["resolver"] in err, err
    assert_names_fixes(err)
    assert took < 10 * harness.SLOW, took
    err = check_config_fails(cfg)
    assert "the answer is bogus" in err, err
    assert_names_fixes(err)


def test_anchor_zone_without_dnskey_refused(tmp_path, servers):
    """An anchor for a zone that has no DNSKEY at all (nothing there)."""
    ds = servers["signed"]["trust_anchors"][0].split(None, 1)[1]
    anchor = str(tmp_path / "anchor")
    with open(anchor, "w") as f:
        f.write("; a comment first\n\nnosuch.test. %s\n" % ds)
    cfg = config(str(tmp_path), servers["signed"]["resolver"], anchor)
    err, _ = refused(cfg)
    assert 'DNSKEY records of "nosuch.test."' in err, err
    assert "bogus" in err, err
    assert_names_fixes(err)
    assert "nosuch.test" in check_config_fails(cfg)


def test_unreachable_resolver_refused(tmp_path, servers):
    """Nothing answers on the resolver's port: refused within the probe's
    bound (5 s), not after libunbound's own retries."""
    cfg = config(str(tmp_path), "127.0.0.1@1",
                 servers["signed"]["trust_anchor_file"])
    err, took = refused(cfg)
    assert "DNSSEC probe failed" in err, err
    assert "SERVFAIL" in err or "no answer within 5 s" in err, err
    assert took < 8 * harness.SLOW, took


def test_anchor_file_without_records_refused(tmp_path):
    anchor = str(tmp_path / "anchor")
    with open(anchor, "w") as f:
        f.write("; nothing here\n")
    cfg = config(str(tmp_path), harness.DNS_RESOLVER, anchor)
    err, _ = refused(cfg)
    assert "holds no DS or DNSKEY record" in err, err
    assert_names_fixes(err)


def test_signed_anchor_starts(tmp_path, servers):
    cfg = config(str(tmp_path), servers["signed"]["resolver"],
                 servers["signed"]["trust_anchor_file"])
    r = run_cli(cfg.path, "check-config")
    assert r.returncode == 0, r.stderr
    assert "dane = yes" in r.stdout
    pool = env.Pool()
    try:
        d = pool.start(cfg)
        assert d.alive()
    finally:
        errors = pool.stop_all()
    assert not errors, errors


def conf_value(path, section, key):
    """key's value in [section] of an INI file written by init."""
    cur = None
    for line in open(path):
        line = line.split(";", 1)[0].strip()
        if line.startswith("["):
            cur = line
        elif cur == section and "=" in line:
            k, v = (x.strip() for x in line.split("=", 1))
            if k == key:
                return v
    return None


def test_init_writes_recursive(tmp_path):
    """init writes resolver = recursive and dane = yes; this namespace
    has no Internet, so check-config on it says DNSSEC does not work and
    names the fixes."""
    d = str(tmp_path / "inst")
    r = run_cli(None, "init", "-d", d, "--hostname", "mx.example.org",
                "--domain", "example.org")
    assert r.returncode == 0, r.stderr
    conf = os.path.join(d, "sealmail.conf")
    assert conf_value(conf, "[dns]", "resolver") == "recursive"
    assert conf_value(conf, "[dns]", "trust_anchor") == \
        "/usr/share/dns/root.key"
    assert conf_value(conf, "[delivery]", "dane") == "yes"
    r = run_cli(conf, "check-config")
    assert r.returncode == 1, r.stderr
    err = r.stderr
    assert 'DNSKEY records of "."' in err, err
    assert "resolver = recursive" in err and "dane = no" in err, err


def test_init_dev_starts_offline(tmp_path):
    """init --dev: recursive too, but DANE off, so the development
    instance starts where DNSSEC cannot be checked."""
    d = str(tmp_path / "inst")
    r = run_cli(None, "init", "-d", d, "--dev")
    assert r.returncode == 0, r.stderr
    conf = os.path.join(d, "sealmail.conf")
    assert conf_value(conf, "[dns]", "resolver") == "recursive"
    assert conf_value(conf, "[delivery]", "dane") == "no"
    r = run_cli(conf, "check-config")
    assert r.returncode == 0, r.stderr


ROOT_ZONE = """$ORIGIN .
$TTL 300
@ IN SOA ns.root-servers.test. hostmaster.root-servers.test. 1 3600 600 86400 300
@ NS ns.root-servers.test.
ns.root-servers.test. A 127.0.0.1
sender.test. TXT "v=spf1 ip4:192.0.2.1 -all"
"""


def _run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def test_root(tmp_path):
    """A DNS root of our own: the zone "." signed with keys made now,
    served by NSD on 127.0.0.1 port 53 (this network namespace's own), and
    the trust anchor (its DS) and root hints that point libunbound at it.
    Port 53 because a resolver that iterates from the root talks to port
    53 of the servers it is referred to."""
    if os.geteuid() != 0:
        pytest.skip("port 53 needs root")
    d = str(tmp_path / "root")
    os.makedirs(os.path.join(d, "zones"))
    ksk = _run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "."],
               d).strip()
    zsk = _run(["ldns-keygen", "-a", "ECDSAP256SHA256", "."], d).strip()
    src = os.path.join(d, "root.zone")
    with open(src, "w") as f:
        f.write(ROOT_ZONE)
    _run(["ldns-signzone", "-o", ".", "-f",
          os.path.join(d, "zones", "root.signed"), src, ksk, zsk], d)
    anchor = os.path.join(d, "root.ds")
    with open(anchor, "w") as f:
        f.write(_run(["ldns-key2ds", "-n", "-2", ksk + ".key"], d))
    hints = os.path.join(d, "root.hints")
    with open(hints, "w") as f:
        f.write(". 3600 IN NS ns.root-servers.test.\n"
                "ns.root-servers.test. 3600 IN A 127.0.0.1\n")
    ub = os.path.join(d, "unbound.conf")
    with open(ub, "w") as f:
        f.write('server:\n    root-hints: "%s"\n'
                "    do-not-query-localhost: no\n"
                "    trust-anchor-signaling: no\n" % hints)
    conf = env.dnsserver._write_nsd_conf(d, 53, [(".", "root.signed")], [])
    pid, ok = env.dnsserver._spawn_nsd(d, conf, [(".", "root.signed")])
    try:
        if not ok:
            pytest.fail("nsd on port 53 did not start: %s" %
                        open(os.path.join(d, "nsd.log")).read())
        yield {"anchor": anchor, "unbound_config": ub}
    finally:
        env.dnsserver._stop_nsd(d, pid)


def test_recursive_resolves_from_the_root(tmp_path, test_root):
    """resolver = recursive: no forwarder and no resolv.conf (whose server
    is out of reach in this namespace); libunbound primes from the root
    hints and validates the root's DNSKEY with the anchor, so serve
    starts with DANE on. The same anchor with a forwarder that has no
    such zone is refused."""
    cfg = config(str(tmp_path / "ok"), "recursive", test_root["anchor"])
    cfg.dns["unbound_config"] = test_root["unbound_config"]
    cfg.write()
    r = run_cli(cfg.path, "check-config")
    assert r.returncode == 0, r.stderr
    assert "resolver = recursive" in r.stdout
    # Other lookups iterate from the root too (SPF of sender.test, a
    # name in the root zone).
    r = run_cli(cfg.path, "check-auth", "--ip", "192.0.2.1", "--helo",
                "mail.sender.test", "--mail-from", "a@sender.test", "-",
                input="From: a@sender.test\r\nSubject: x\r\n\r\nhi\r\n")
    assert "spf=pass" in r.stdout, (r.stdout, r.stderr)
    pool = env.Pool()
    try:
        assert pool.start(cfg).alive()
    finally:
        errors = pool.stop_all()
    assert not errors, errors
    # The same root anchor through resolv.conf's server, unreachable here.
    cfg = config(str(tmp_path / "system"), "system", test_root["anchor"])
    cfg.dns["unbound_config"] = test_root["unbound_config"]
    cfg.write()
    err, _ = refused(cfg)
    assert 'DNSKEY records of "."' in err, err
