# SPDX-License-Identifier: ISC
"""`sealmail check-domain`: the posture of a well-configured and a badly
configured test domain, probed against real sealmail receivers, with DNS
from the loopback NSD (tests/dns/dnsserver.py; secure.test and bogus.test
are signed with the committed keys, bad.test is not).

  secure.test   signed; MX mx.secure.test -> B (127.0.0.2, STARTTLS, a
                self-signed certificate for mx.secure.test), TLSA 3 1 1 of
                B's key, SPF, DMARC p=reject, DKIM s1, TLS-RPT: exit 0.
  bad.test      unsigned; MX 10 -> C (127.0.0.3, mx listener tls = none),
                MX 20 -> D (127.0.0.4, an expired certificate for another
                name) with an (unsigned) TLSA record that does not match;
                SPF with 11 includes, a 768-bit RSA DKIM key, DMARC
                p=none: exit 1.
  bogus.test    signed; mx -> B with a secure TLSA record that does not
                match, mx2 -> B whose TLSA answer is corrupted (bogus);
                an MTA-STS record whose policy host's A is corrupted.
  hole.test     its MX host's name is black-holed (never answered).
  silent.test   its MX accepts connections and never speaks.
  sts.test      MTA-STS enforce policy (served by stsserver.py on
                127.0.0.6:443, certificate from testca.py, trusted through
                [delivery] tls_ca) that lists its MX, whose certificate is
                from the test CA: exit 0.
  stsbad.test   the same policy, but a second MX that it does not list.
  stsfail.test  a _mta-sts record, but no policy (404).
  stsdns.test   its _mta-sts lookup answers SERVFAIL.
  ta.test       signed with keys made at test time; its MX (E) has a
                DANE-TA record: 2 0 1 of the test CA's certificate.
  spf.test      SPF with a, mx, exists, redirect and, in the redirect
                target, an include of a name without an SPF record.
  spf2.test     SPF with an include, -all and a redirect= to a name
                without an SPF record, which -all makes ignored.
The reverse zone 0.0.127.in-addr.arpa gives B the PTR mx.secure.test
(libunbound answers 127.in-addr.arpa itself unless told otherwise).
"""

import base64
import datetime
import json
import os
import smtplib
import socket
import subprocess
import time

import pytest

import remote_env
from remote_env import dnsserver, harness, Config
import stsserver
import testca

B, C, D, SILENT, E = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5",
                      "127.0.0.6")
HOSTS = ("127.0.0.1", B, C, D, SILENT, E)
STS_POLICY = "version: STSv1\nmode: enforce\nmx: mx.sts.test\nmax_age: 86400\n"

pytestmark = pytest.mark.skipif(not dnsserver.have_tools(),
                                reason="nsd/ldnsutils missing")


def weak_dkim_record(folder):
    """A DKIM key record with a 768-bit RSA key (RFC 8301: too small)."""
    key = os.path.join(folder, "weak.key")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:768", "-out", key], check=True,
                   capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def zones(port, b_spki, dkim_good, dkim_weak, ca_sha256):
    tlsa = "_%d._tcp" % port
    includes = " ".join("include:i%d.bad.test" % i for i in range(11))
    return {
        "test": "",
        "secure.test": (
            ";! sign\n"
            "@ MX 10 mx\n"
            "mx A %s\n"
            "%s.mx TLSA 3 1 1 %s\n"
            '@ TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
            '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:d@secure.test"\n'
            's1._domainkey TXT "%s"\n'
            '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls@secure.test"\n'
            % (B, tlsa, b_spki, dkim_good)),
        "bad.test": (
            "@ MX 10 mx\n@ MX 20 mx2\n"
            "mx A %s\nmx2 A %s\n"
            "%s.mx2 TLSA 3 1 1 %s\n"
            '@ TXT "v=spf1 %s -all"\n'
            '_dmarc TXT "v=DMARC1; p=none"\n'
            'weak._domainkey TXT "%s"\n'
            % (C, D, tlsa, "00" * 32, includes, dkim_weak) +
            "".join('i%d TXT "v=spf1 -all"\n' % i for i in range(11))),
        "bogus.test": (
            ";! sign\n"
            ";! corrupt %s.mx2.bogus.test. TLSA\n"
            ";! corrupt mta-sts.bogus.test. A\n"
            '_mta-sts TXT "v=STSv1; id=1"\nmta-sts A %s\n'
            "@ MX 10 mx\n@ MX 20 mx2\n"
            "mx A %s\nmx2 A %s\n"
            "%s.mx TLSA 3 1 1 %s\n"
            "%s.mx2 TLSA 3 1 1 %s\n"
            % (tlsa, E, B, B, tlsa, "11" * 32, tlsa, b_spki)),
        "hole.test": "@ MX 10 mx.blackhole.test.\n",
        "silent.test": "@ MX 10 mx\nmx A %s\n" % SILENT,
        # 16 silent MX hosts: more than the probes' overall time budget.
        "manysilent.test": "".join("@ MX %d mx%d\nmx%d A %s\n" % (
            i, i, i, SILENT) for i in range(16)),
        "sts.test": ("@ MX 10 mx\nmx A %s\nmta-sts A %s\n"
                     '_mta-sts TXT "v=STSv1; id=20261205"\n' % (E, E)),
        "stsbad.test": ("@ MX 10 mx.sts.test.\n@ MX 20 mx2\nmx2 A %s\n"
                        'mta-sts A %s\n_mta-sts TXT "v=STSv1; id=1"\n'
                        % (E, E)),
        "stsfail.test": ("@ MX 10 mx.sts.test.\nmta-sts A %s\n"
                         '_mta-sts TXT "v=STSv1; id=1"\n' % E),
        "stsdns.test": (";! servfail _mta-sts.stsdns.test\n"
                        "@ MX 10 mx.sts.test.\n"),
        "spf.test": ('@ TXT "v=spf1 a mx exists:%{i}.x.spf.test '
                     'redirect=r.spf.test"\n'
                     'r TXT "v=spf1 include:missing.spf.test -all"\n'),
        "spf2.test": ('@ TXT "v=spf1 include:i.spf2.test -all '
                      'redirect=missing.spf2.test"\n'
                      'i TXT "v=spf1 -all"\n'),
        "0.0.127.in-addr.arpa": "2 PTR mx.secure.test.\n",
        "ta.test": (";! sign\n@ MX 10 mx\nmx A %s\n%s.mx TLSA 2 0 1 %s\n"
                    % (E, tlsa, ca_sha256)),
    }


def receiver(pool, base, name, host, port, cert, tls="starttls"):
    cfg = Config(os.path.join(base, name), [cert])
    cfg.server["hostname"] = "mx.%s.test" % name
    cfg.listen("mx", "mx", tls, host=host, port=port)
    return pool.start(cfg, provision=lambda c: c.write())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("checkdom"))
    certs = os.path.join(base, "certs")
    port = remote_env.free_port_everywhere(HOSTS)
    cert_b = harness.make_cert(certs, "b", cn="mx.secure.test")
    now = datetime.datetime.now(datetime.timezone.utc)
    cert_d = harness.make_dated_cert(
        certs, "d", now - datetime.timedelta(days=60),
        now - datetime.timedelta(days=1), dns=("wrong.example.net",))
    os.makedirs(os.path.join(base, "keys"))
    _, dkim_good = remote_env.dkim_key(os.path.join(base, "keys"),
                                       "secure.test", "s1")
    ca = testca.make_ca(certs)
    zfiles = remote_env.write_zones(
        os.path.join(base, "zones"),
        zones(port, remote_env.spki_sha256(cert_b.cert), dkim_good,
              weak_dkim_record(base), remote_env.cert_sha256(ca.cert)))
    dnsdir = os.path.join(base, "dns")
    dns = dnsserver.start(dnsdir, zfiles, blackhole=["blackhole.test"],
                          keysdir=remote_env.signing_keys(
                              os.path.join(base, "dnskeys"), ["ta.test"]))
    with open(dns["unbound_config"], "a") as f:
        f.write('server:\n    local-zone: "127.in-addr.arpa." transparent\n')
    pool = remote_env.Pool()
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    web = testca.issue(ca, certs, "web", ["mta-sts.sts.test",
                                          "mta-sts.stsbad.test",
                                          "mta-sts.stsfail.test"])
    sts = stsserver.StsServer(E, 443, web.cert, web.key)
    sts.set("mta-sts.sts.test", policy=STS_POLICY)
    sts.set("mta-sts.stsbad.test", policy=STS_POLICY)
    errors = []
    try:
        sts.start()
        # Accepted by the kernel, never read or answered.
        silent.bind((SILENT, port))
        silent.listen(8)
        b = receiver(pool, base, "b", B, port, cert_b)
        receiver(pool, base, "c", C, port, harness.make_cert(certs, "c"),
                 tls="none")
        receiver(pool, base, "d", D, port, cert_d)
        receiver(pool, base, "e", E, port, remote_env.full_chain(
            testca.issue(ca, certs, "e", ["mx.sts.test", "mx.ta.test"]),
            ca))
        checker = Config(os.path.join(base, "checker"),
                         [harness.make_cert(certs, "checker")])
        checker.listen("submission", "submission", "starttls")
        checker.delivery = {"mx_port": str(port), "tls_ca": ca.cert,
                            "fetch_private_addresses": "yes"}
        remote_env.set_dns(checker, dns)
        checker.write()
        yield {"port": port, "cfg": checker.path, "b": b,
               "b_spki": remote_env.spki_sha256(cert_b.cert), "cert_b": cert_b}
    finally:
        sts.stop()
        silent.close()
        errors = pool.stop_all()
        dnsserver.stop(dnsdir)
    if errors:
        raise harness.HarnessError("daemon teardown: " + "\n".join(errors))


def check(world, *args, timeout=120):
    t0 = time.monotonic()
    r = harness.run_cli(world["cfg"], "check-domain", *args, timeout=timeout)
    return r, time.monotonic() - t0


def check_json(world, *args):
    r, elapsed = check(world, *args, "--json")
    assert r.returncode in (0, 1) and r.stdout.startswith("{"), r.stderr
    return r, json.loads(r.stdout), elapsed


def findings(doc, level):
    return [f["text"] for f in doc["findings"] if f["level"] == level]


def advertises_requiretls(host, port):
    s = smtplib.SMTP(host, port, timeout=10)
    try:
        s.ehlo("probe.example.test")
        s.starttls()
        s.ehlo("probe.example.test")
        return s.has_extn("requiretls")
    finally:
        s.quit()


def test_well_configured_domain(world):
    r, doc, _ = check_json(world, "secure.test", "--selector", "s1")
    assert r.returncode == 0, findings(doc, "error")
    assert findings(doc, "error") == []
    for key in ("domain", "mx", "mta_sts", "tls_rpt", "spf", "dmarc",
                "dkim", "bimi", "findings"):
        assert key in doc
    assert doc["domain"] == "secure.test"
    [mx] = doc["mx"]
    assert mx["host"] == "mx.secure.test" and mx["preference"] == 10
    assert mx["addresses"] == [B]
    assert mx["starttls"] is True
    assert mx["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert mx["tlsa"]["dnssec"] == "secure"
    assert mx["tlsa"]["match"] is True
    assert mx["tlsa"]["records"] == [{"usage": 3, "selector": 1,
                                      "matching_type": 1,
                                      "data": world["b_spki"]}]
    # Self-signed: no PKIX, which DANE makes only worth an info.
    assert mx["certificate"]["verified"] is False
    assert 25 <= mx["certificate"]["days_left"] <= 30
    assert mx["requiretls"] == advertises_requiretls(B, world["port"])
    probe = mx["probes"][0]
    assert probe["certificate"]["spki_sha256"] == world["b_spki"]
    assert probe["ptr"] == "mx.secure.test"
    assert probe["forward_confirmed"] is True
    assert doc["spf"]["lookups"] == 0 and doc["spf"]["valid"]
    assert doc["dmarc"]["p"] == "reject"
    assert doc["dmarc"]["rua"] == ["mailto:d@secure.test"]
    assert doc["dkim"] == [{"selector": "s1", "found": True, "valid": True,
                            "type": "ed25519", "bits": 256,
                            "revoked": False, "error": None}]
    assert doc["tls_rpt"]["valid"] and doc["tls_rpt"]["rua"] == [
        "mailto:tls@secure.test"]
    # The record to publish is printed for every MX whose certificate was
    # seen (the Postfix DANE interop test uses it).
    want = "_%d._tcp.mx.secure.test. IN TLSA 3 1 1 %s" % (world["port"],
                                                         world["b_spki"])
    assert any(want in f for f in findings(doc, "info"))


def test_text_output(world):
    r, _ = check(world, "secure.test")
    assert r.returncode == 0, r.stdout
    for section in ("MX (DNSSEC secure)", "MTA-STS", "TLS-RPT", "SPF",
                    "DMARC", "DKIM", "BIMI", "Findings"):
        assert section in r.stdout
    assert "TLSA match: yes, DANE-EE" in r.stdout


def test_badly_configured_domain(world):
    r, doc, _ = check_json(world, "bad.test", "--selector", "weak")
    assert r.returncode == 1
    errors = findings(doc, "error")
    mx, mx2 = doc["mx"]
    assert (mx["host"], mx2["host"]) == ("mx.bad.test", "mx2.bad.test")
    assert mx["starttls"] is False and mx["tls_version"] is None
    assert any("mx.bad.test (%s) does not offer STARTTLS" % C in e
               for e in errors)
    assert mx2["starttls"] is True
    cert = mx2["certificate"]
    assert cert["verified"] is False and cert["days_left"] < 0
    assert any("certificate of mx2.bad.test (%s) expired" % D in e
               for e in errors)
    assert any("does not verify for mx2.bad.test" in e for e in errors)
    assert doc["mx"][1]["probes"][0]["certificate"]["name_matches"] is False
    # Unsigned: the TLSA record does not match, and is ignored anyway.
    assert mx2["tlsa"]["dnssec"] == "insecure"
    assert mx2["tlsa"]["match"] is False
    warnings = findings(doc, "warning")
    assert any("not DNSSEC-signed" in w for w in warnings)
    assert any("matches no TLSA record" in w and "IN TLSA 3 1 1" in w
               for w in warnings)
    assert doc["spf"]["lookups"] == 11
    assert any("SPF uses 11 DNS lookups, over the limit of 10" in e
               for e in errors)
    assert doc["dkim"][0]["bits"] == 768
    assert any("weak._domainkey.bad.test is RSA 768 bits" in e
               for e in errors)
    assert any("p=none" in w for w in warnings)
    assert any("no MTA-STS policy" in w for w in warnings)


def test_tlsa_mismatch_and_bogus(world):
    r, doc, _ = check_json(world, "bogus.test")
    assert r.returncode == 1
    mx, mx2 = doc["mx"]
    assert mx["tlsa"]["dnssec"] == "secure"
    assert mx["tlsa"]["match"] is False
    errors = findings(doc, "error")
    want = "publish _%d._tcp.mx.bogus.test. IN TLSA 3 1 1 %s" % (
        world["port"], world["b_spki"])
    assert any("matches no TLSA record" in e and want in e for e in errors)
    assert mx2["tlsa"]["dnssec"] == "bogus"
    assert any("_%d._tcp.mx2.bogus.test is DNSSEC-bogus" % world["port"] in e
               for e in errors)
    # The policy host's address is forged: not fetched from.
    assert "DNSSEC-bogus" in doc["mta_sts"]["error"]


def test_black_holed_mx_name_is_bounded(world):
    r, doc, elapsed = check_json(world, "hole.test", "--timeout", "2")
    assert r.returncode == 1
    assert elapsed < 30
    assert doc["mx"][0]["addresses"] == []
    assert any("MX host mx.blackhole.test has no address: the lookup "
               "failed" in e
               for e in findings(doc, "error"))


def test_silent_mx_is_bounded(world):
    r, doc, elapsed = check_json(world, "silent.test", "--timeout", "2")
    assert r.returncode == 1
    assert elapsed < 20
    [probe] = doc["mx"][0]["probes"]
    assert probe["connected"] is True and probe["starttls"] is False
    assert "no reply within the timeout" in probe["error"]


def test_many_silent_mx_hosts_share_one_budget(world):
    """Each step has its --timeout, and all probes together twelve of
    them: sixteen silent MX hosts do not cost sixteen timeouts."""
    r, doc, elapsed = check_json(world, "manysilent.test", "--timeout", "1")
    assert r.returncode == 1
    assert len(doc["mx"]) == 16, doc["mx"]
    errors = [p["error"] for m in doc["mx"] for p in m["probes"]]
    skipped = [e for e in errors if "not probed: the probes used up" in e]
    assert skipped and len(skipped) < 16, errors
    assert elapsed < 15, elapsed


def test_port_option_and_usage(world):
    # Nobody listens on port 1: the probe fails at once, an error.
    r, doc, _ = check_json(world, "secure.test", "--port", "1")
    assert r.returncode == 1
    assert doc["mx"][0]["tlsa"]["name"] == "_1._tcp.mx.secure.test"
    assert any("port 1: connect" in e for e in findings(doc, "error"))
    r, _ = check(world)
    assert r.returncode == 2
    r, _ = check(world, "secure.test", "--port", "0")
    assert r.returncode == 2


def test_mta_sts_enforce_pass(world):
    r, doc, _ = check_json(world, "sts.test")
    assert r.returncode == 0, findings(doc, "error")
    sts = doc["mta_sts"]
    assert sts["txt"] == "v=STSv1; id=20261205" and sts["id"] == "20261205"
    assert sts["policy"] == {"mode": "enforce", "max_age": 86400,
                             "mx": ["mx.sts.test"]}
    assert sts["mx_match"] is True
    [mx] = doc["mx"]
    # The test CA is trusted through tls_ca: PKIX verification passes.
    assert mx["certificate"] == {"verified": True, "error": None,
                                 "days_left": mx["certificate"]["days_left"]}
    assert mx["certificate"]["days_left"] >= 28
    assert mx["tlsa"]["records"] == [] and mx["tlsa"]["match"] is False
    assert mx["tlsa"]["dnssec"] == "insecure"


def test_mta_sts_mx_not_in_policy(world):
    r, doc, _ = check_json(world, "stsbad.test")
    assert r.returncode == 1
    assert doc["mta_sts"]["mx_match"] is False
    errors = findings(doc, "error")
    assert any("MX host mx2.stsbad.test matches no mx: pattern of the "
               "MTA-STS policy (mode enforce)" in e for e in errors)
    # mx.sts.test is listed and verifies; mx2's certificate names another
    # host, which enforce senders refuse.
    assert any("does not verify for mx2.stsbad.test" in e for e in errors)
    assert not any("mx.sts.test (" in e for e in errors)


def test_mta_sts_policy_missing(world):
    r, doc, _ = check_json(world, "stsfail.test")
    assert r.returncode == 1
    assert doc["mta_sts"]["policy"] is None
    assert "sts-policy-fetch-error" in doc["mta_sts"]["error"]
    assert any("MTA-STS policy of stsfail.test cannot be fetched" in e
               for e in findings(doc, "error"))


def test_mta_sts_lookup_failure_is_not_absence(world):
    # A SERVFAIL is not "no policy": senders cannot tell (RFC 8461 §3.3,
    # §5: a cached policy still applies), so the finding names the lookup.
    _, doc, _ = check_json(world, "stsdns.test")
    assert "SERVFAIL" in doc["mta_sts"]["error"]
    texts = [f["text"] for f in doc["findings"]]
    assert not any("no MTA-STS policy" in t for t in texts)
    assert any("_mta-sts.stsdns.test TXT record cannot be read (DNS "
               "lookup failed (SERVFAIL))" in t
               for t in findings(doc, "warning"))


def test_dane_ta(world):
    """A DANE-TA(2) record for the issuing CA: OpenSSL matches the chain
    and checks the names (the TLSA base domain mx.ta.test)."""
    r, doc, _ = check_json(world, "ta.test")
    assert r.returncode == 0, findings(doc, "error")
    [mx] = doc["mx"]
    assert mx["tlsa"]["dnssec"] == "secure"
    assert mx["tlsa"]["records"][0]["usage"] == 2
    assert mx["tlsa"]["match"] is True
    assert mx["probes"][0]["tlsa_match_usage"] == "DANE-TA"
    assert mx["certificate"]["verified"] is True


def test_spf_lookup_count_follows_redirect(world):
    r, doc, _ = check_json(world, "spf.test")
    spf = doc["spf"]
    # a, mx, exists, redirect= and the include in the redirect target.
    assert spf["lookups"] == 5
    assert spf["error"] == ("missing.spf.test has no SPF record (an "
                            "include or redirect of it is a permerror)")
    assert "SPF: " + spf["error"] in findings(doc, "error")
    assert r.returncode == 1
    # The redirect target's -all is the domain's (RFC 7208 §6.1).
    assert spf["all"] == "-all"
    assert not [w for w in findings(doc, "warning") if "SPF" in w]


def test_spf_redirect_ignored_with_all(world):
    # RFC 7208 §6.1: a redirect= in a record with "all" is ignored: it is
    # neither looked up nor counted (§4.6.4).
    _, doc, _ = check_json(world, "spf2.test")
    spf = doc["spf"]
    assert spf["lookups"] == 1
    assert spf["error"] is None and spf["valid"] is True
    assert spf["all"] == "-all"
    assert not [e for e in findings(doc, "error") if "SPF" in e]
