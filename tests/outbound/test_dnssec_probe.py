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
