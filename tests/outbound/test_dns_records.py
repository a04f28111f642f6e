# SPDX-License-Identifier: ISC
"""`sealmail dns-records` on a config made by `sealmail init` (host
mail.secure.test, domain secure.test, Ed25519 DKIM key), extended with a
second domain example.net (an RSA 2048 DKIM key from `dkim keygen`,
mta_sts = enforce), an https listener and a [reports] inbox:

  - `--zone` per domain loads in named-checkzone and ldns-read-zone (with
    an SOA and NS added, as a zone fragment), and so does the output for
    every domain and the output without --zone;
  - its TLSA record is the SHA-256 of the certificate's key as openssl
    computes it;
  - the DKIM records joined are what `dkim keygen` printed, and a message
    signed with the key files verifies (python3-dkim) against them;
  - the _mta-sts id is the SHA-256 of the policy text, and changes with
    mta_sts;
  - `init` ends with the same records;
  - `--check-tlsa` against the loopback NSD: secure.test is signed (the
    committed keys) with _25._tcp.mail TLSA 3 1 1 of init's certificate:
    match (0), another certificate (1, the record to publish), no record
    (0), a bogus answer and SERVFAIL (1); plain.test (unsigned) and
    mail3 (usage 1 only) match nothing but DANE senders would not use
    them (0, a note).
"""

import base64
import hashlib
import os
import re
import subprocess

import pytest

import remote_env
from remote_env import dnsserver, harness

HOST = "mail.secure.test"
DOMAIN = "secure.test"
OTHER = "example.net"
INBOX = "dmarc@secure.test"
HEADER = ("$ORIGIN {d}.\n@ 3600 IN SOA ns.{d}. hostmaster.{d}. 1 3600 600 "
          "86400 300\n@ 3600 IN NS ns.{d}.\nns 3600 IN A 192.0.2.53\n")

pytestmark = pytest.mark.skipif(not dnsserver.have_tools(),
                                reason="nsd/ldnsutils missing")


def run(cfg, *args):
    return harness.run_cli(cfg, *args)


def set_key(text, section_key, value):
    """Replace the first `key = ...` line (a whole line) in text."""
    new, n = re.subn(r"(?m)^%s\s*=.*$" % re.escape(section_key),
                     "%s = %s" % (section_key, value), text, count=1)
    assert n == 1, section_key
    return new


def txt_value(line):
    """The joined character-strings of a TXT record line."""
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', line)
    assert all(len(s) <= 255 for s in strings), line
    return "".join(strings)


def record(out, owner, rtype):
    """The lines of out whose owner and type match (records, not
    comments)."""
    return [l for l in out.splitlines()
            if not l.startswith(";") and l.split()[:1] == [owner + "."]
            and (" IN %s " % rtype) in l]


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("dnsrec"))
    d = os.path.join(base, "inst")
    r = run(None, "init", "-d", d, "--hostname", HOST, "--domain", DOMAIN)
    assert r.returncode == 0, r.stderr
    conf = os.path.join(d, "sealmail.conf")
    rsa_key = os.path.join(d, "dkim", OTHER + ".rsa1.key")
    kg = run(None, "dkim", "keygen", "--domain", OTHER, "--selector",
             "rsa1", "--type", "rsa", "--bits", "2048", "--out", rsa_key)
    assert kg.returncode == 0, kg.stderr
    text = open(conf).read()
    text = set_key(text, "inbox", INBOX)
    text += ('\n[listen "https"]\naddress = 0.0.0.0:443, [::]:443\n'
             'role = https\ntls = implicit\n\n'
             '[domain "%s"]\ndkim_selector = rsa1\ndkim_key = %s\n'
             'mta_sts = enforce\n' % (OTHER, rsa_key))
    with open(conf, "w") as f:
        f.write(text)
    return {"dir": d, "conf": conf, "base": base, "init_out": r.stdout,
            "keygen_out": kg.stdout, "rsa_key": rsa_key,
            "ed_key": os.path.join(d, "dkim", DOMAIN + ".s1.key"),
            "cert": os.path.join(d, "tls", "ecdsa.pem")}


def check_zone(tmp, name, body):
    path = os.path.join(tmp, name + ".zone")
    with open(path, "w") as f:
        f.write(HEADER.format(d=name) + body)
    r = subprocess.run(["named-checkzone", name, path], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr + body
    r = subprocess.run(["ldns-read-zone", path], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_zone_loads_per_domain(inst, tmp_path):
    if subprocess.run(["which", "named-checkzone"],
                      capture_output=True).returncode != 0:
        pytest.skip("bind9-utils (named-checkzone) missing")
    for name in (DOMAIN, OTHER):
        r = run(inst["conf"], "dns-records", "--zone", "--domain", name)
        assert r.returncode == 0, r.stderr
        assert "$ORIGIN %s.\n$TTL 3600\n" % name in r.stdout, r.stdout
        parsed = check_zone(str(tmp_path), name, r.stdout)
        # what ldns read back: the records of this zone, absolute
        assert re.search(r"(?m)^%s\.\s+3600\s+IN\s+MX\s+10 %s\.$" % (
            re.escape(name), re.escape(HOST)), parsed), parsed
        assert "_mta-sts.%s." % name in parsed
        assert "_smtp._tls.%s." % name in parsed
        # example.net's reports go to the inbox at secure.test, whose
        # zone holds the consent record (RFC 9990 §4)
        assert (("%s._report._dmarc.%s." % (OTHER, DOMAIN)) in parsed) == \
            (name == DOMAIN), parsed
    # the host's records live in secure.test's zone; in example.net's
    # output they are comments
    r = run(inst["conf"], "dns-records", "--zone", "--domain", OTHER)
    assert "_25._tcp" not in "".join(
        l for l in r.stdout.splitlines() if not l.startswith(";"))


def test_all_domains_and_plain_output_parse(inst, tmp_path):
    for args in (["--zone"], []):
        r = run(inst["conf"], "dns-records", *args)
        assert r.returncode == 0, r.stderr
        path = str(tmp_path / "all.zone")
        with open(path, "w") as f:
            f.write(HEADER.format(d=DOMAIN) + r.stdout)
        p = subprocess.run(["ldns-read-zone", path], capture_output=True,
                           text=True)
        assert p.returncode == 0, p.stderr + r.stdout
        for name in (DOMAIN, OTHER):
            assert "_dmarc.%s." % name in p.stdout


def test_tlsa_matches_openssl(inst):
    r = run(inst["conf"], "dns-records")
    assert r.returncode == 0, r.stderr
    tlsa = record(r.stdout, "_25._tcp." + HOST, "TLSA")
    assert tlsa == ["_25._tcp.%s. 3600 IN TLSA 3 1 1 %s" % (
        HOST, harness.spki_openssl(inst["cert"]))], r.stdout
    assert "next key's record" in r.stdout


def test_dkim_records_equal_keygen_and_verify(inst):
    import dkim
    from cryptography.hazmat.primitives import serialization

    r = run(inst["conf"], "dns-records")
    assert r.returncode == 0, r.stderr
    rsa = record(r.stdout, "rsa1._domainkey." + OTHER, "TXT")
    ed = record(r.stdout, "s1._domainkey." + DOMAIN, "TXT")
    assert len(rsa) == 1 and len(ed) == 1, r.stdout
    # RSA 2048: more than 255 octets, so two strings, the first full
    strings = re.findall(r'"([^"]*)"', rsa[0])
    assert [len(s) for s in strings][0] == 255 and len(strings) == 2
    printed = {b"rsa1._domainkey.%s." % OTHER.encode(): txt_value(rsa[0]),
               b"s1._domainkey.%s." % DOMAIN.encode(): txt_value(ed[0])}
    kg = [l for l in inst["keygen_out"].splitlines()
          if not l.startswith(";")]
    assert txt_value(kg[0]) == printed[b"rsa1._domainkey.%s." %
                                       OTHER.encode()]

    def dnsfunc(name, timeout=5):
        return printed[name].encode()

    msg = (b"From: a@%s\r\nTo: b@example.org\r\nSubject: t\r\n"
           b"Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n"
           b"Message-ID: <1@x>\r\n\r\nbody\r\n")
    rsa_pem = open(inst["rsa_key"], "rb").read()
    sig = dkim.sign(msg % OTHER.encode(), b"rsa1", OTHER.encode(), rsa_pem,
                    include_headers=[b"from", b"to", b"subject"])
    assert dkim.verify(sig + msg % OTHER.encode(), dnsfunc=dnsfunc)
    key = serialization.load_pem_private_key(open(inst["ed_key"],
                                                  "rb").read(), None)
    raw = key.private_bytes(serialization.Encoding.Raw,
                            serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    sig = dkim.sign(msg % DOMAIN.encode(), b"s1", DOMAIN.encode(),
                    base64.b64encode(raw),
                    signature_algorithm=b"ed25519-sha256",
                    include_headers=[b"from", b"to", b"subject"])
    assert dkim.verify(sig + msg % DOMAIN.encode(), dnsfunc=dnsfunc)


def sts_id(out, name):
    (line,) = record(out, "_mta-sts." + name, "TXT")
    m = re.fullmatch(r"v=STSv1; id=([0-9a-f]{32})", txt_value(line))
    assert m, line
    return m.group(1)


def test_mta_sts_id_follows_policy(inst, tmp_path):
    r = run(inst["conf"], "dns-records", "--domain", OTHER)
    assert r.returncode == 0, r.stderr
    policy = ("version: STSv1\r\nmode: enforce\r\nmx: %s\r\n"
              "max_age: 604800\r\n" % HOST)
    want = hashlib.sha256(policy.encode()).hexdigest()[:32]
    assert sts_id(r.stdout, OTHER) == want
    assert record(r.stdout, "mta-sts." + OTHER, "CNAME") == [
        "mta-sts.%s. 3600 IN CNAME %s." % (OTHER, HOST)]
    assert "policy mode enforce" in r.stdout
    conf = str(tmp_path / "testing.conf")
    with open(conf, "w") as f:
        f.write(open(inst["conf"]).read().replace("mta_sts = enforce",
                                                  "mta_sts = testing"))
    r2 = run(conf, "dns-records", "--domain", OTHER)
    assert r2.returncode == 0, r2.stderr
    want2 = hashlib.sha256(policy.replace("enforce", "testing")
                           .encode()).hexdigest()[:32]
    assert sts_id(r2.stdout, OTHER) == want2 != want


def test_reports_records(inst):
    r = run(inst["conf"], "dns-records")
    out = r.stdout
    assert txt_value(record(out, "_dmarc." + OTHER, "TXT")[0]) == \
        "v=DMARC1; p=none; rua=mailto:" + INBOX
    assert txt_value(record(out, "_smtp._tls." + DOMAIN, "TXT")[0]) == \
        "v=TLSRPTv1; rua=mailto:" + INBOX
    # example.net's reports go to secure.test, which authorises them
    assert txt_value(record(out, "%s._report._dmarc.%s" % (OTHER, DOMAIN),
                            "TXT")[0]) == "v=DMARC1"
    # no public address inside the test's network namespace: SPF names
    # the host, with a comment saying what to fill in
    assert txt_value(record(out, DOMAIN, "TXT")[0]) == \
        "v=spf1 a:%s -all" % HOST
    assert "; %s. IN A <its public IPv4 address>" % HOST in out


def test_init_prints_the_records(inst):
    out = inst["init_out"]
    assert "Publish these DNS records" in out
    tlsa = record(out, "_25._tcp." + HOST, "TLSA")
    assert tlsa == ["_25._tcp.%s. 3600 IN TLSA 3 1 1 %s" % (
        HOST, harness.spki_openssl(inst["cert"]))], out
    assert record(out, "s1._domainkey." + DOMAIN, "TXT"), out
    assert record(out, DOMAIN, "MX"), out


def test_unreadable_key_is_named_and_the_rest_printed(inst, tmp_path):
    conf = str(tmp_path / "nokey.conf")
    with open(conf, "w") as f:
        f.write(open(inst["conf"]).read().replace(inst["rsa_key"],
                                                  "/nonexistent/k.key"))
    r = run(conf, "dns-records")
    assert r.returncode == 1
    assert "/nonexistent/k.key" in r.stderr and \
        len(r.stderr.splitlines()) == 1, r.stderr
    assert record(r.stdout, "s1._domainkey." + DOMAIN, "TXT"), r.stdout
    assert not record(r.stdout, "rsa1._domainkey." + OTHER, "TXT")
    assert "; rsa1._domainkey.%s. IN TXT" % OTHER in r.stdout


# ---------------------------------------------------------- --check-tlsa

@pytest.fixture(scope="module")
def dns(inst):
    spki = harness.spki_openssl(inst["cert"])
    zones = {
        # mail3: signed, but only usage 1 (unusable for SMTP)
        DOMAIN: ";! sign\nmail A 127.0.0.1\nmail2 A 127.0.0.1\n"
                "_25._tcp.mail TLSA 3 1 1 %s\n" % spki +
                "mail3 A 127.0.0.1\n_25._tcp.mail3 TLSA 1 1 1 %s\n"
                % ("00" * 32),
        # not signed: DANE senders ignore its TLSA records
        "plain.test": "mail A 127.0.0.1\n_25._tcp.mail TLSA 3 1 1 %s\n"
                      % ("00" * 32),
        "bogus.test": ";! sign\n;! corrupt _25._tcp.mail.bogus.test. TLSA\n"
                      "mail A 127.0.0.1\n_25._tcp.mail TLSA 3 1 1 %s\n"
                      % spki,
    }
    base = os.path.join(inst["base"], "dns")
    info = dnsserver.start(base, remote_env.write_zones(
        os.path.join(inst["base"], "z"), zones), servfail=["sf.test"])
    try:
        yield info
    finally:
        dnsserver.stop(base)


def host_conf(inst, dns, tmp, host):
    text = open(inst["conf"]).read()
    text = set_key(text, "hostname", host)
    text = set_key(text, "resolver", dns["resolver"])
    text = set_key(text, "trust_anchor", dns["trust_anchor_file"])
    text = set_key(text, "unbound_config", dns["unbound_config"])
    path = os.path.join(tmp, host + ".conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_check_tlsa_match(inst, dns, tmp_path):
    conf = host_conf(inst, dns, str(tmp_path), HOST)
    for args in ([], ["--cert", inst["cert"]]):
        r = run(conf, "dns-records", "--check-tlsa", *args)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "_25._tcp.%s: 3 1 1 %s matches %s" % (
            HOST, harness.spki_openssl(inst["cert"]), inst["cert"]) in r.stdout


def test_check_tlsa_new_key_mismatch(inst, dns, tmp_path):
    conf = host_conf(inst, dns, str(tmp_path), HOST)
    key, cert = str(tmp_path / "new.key"), str(tmp_path / "new.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                    "-out", cert, "-subj", "/CN=" + HOST, "-days", "2"],
                   check=True, capture_output=True)
    r = run(conf, "dns-records", "--check-tlsa", "--cert", cert)
    assert r.returncode == 1, r.stdout + r.stderr
    new = harness.spki_openssl(cert)
    assert len(r.stderr.splitlines()) == 1, r.stderr
    assert "no TLSA record at _25._tcp.%s matches" % HOST in r.stderr
    assert "publish _25._tcp.%s. IN TLSA 3 1 1 %s" % (HOST, new) in r.stderr


@pytest.mark.parametrize("host", ["mail.plain.test", "mail3." + DOMAIN])
def test_check_tlsa_unused_records_are_a_note(inst, dns, tmp_path, host):
    # No record matches, but DANE senders would not use these records (an
    # unsigned zone; only usages 0 and 1): a note, exit 0, no alarm.
    conf = host_conf(inst, dns, str(tmp_path), host)
    r = run(conf, "dns-records", "--check-tlsa")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr == ""
    assert "note: no record matches the key of %s" % inst["cert"] in \
        r.stdout
    assert "publish _25._tcp.%s. IN TLSA 3 1 1 %s" % (
        host, harness.spki_openssl(inst["cert"])) in r.stdout


def test_check_tlsa_absent(inst, dns, tmp_path):
    conf = host_conf(inst, dns, str(tmp_path), "mail2." + DOMAIN)
    r = run(conf, "dns-records", "--check-tlsa")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no TLSA record published" in r.stdout


@pytest.mark.parametrize("host,why", [("mail.bogus.test", "bogus"),
                                      ("mail.sf.test", "SERVFAIL")])
def test_check_tlsa_lookup_failure(inst, dns, tmp_path, host, why):
    conf = host_conf(inst, dns, str(tmp_path), host)
    r = run(conf, "dns-records", "--check-tlsa")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "TLSA lookup of _25._tcp.%s failed: %s" % (host, why) in \
        r.stderr, r.stderr
