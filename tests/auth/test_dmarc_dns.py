# SPDX-License-Identifier: ISC
"""DMARC (RFC 9989) and BIMI discovery against a real NSD on loopback.

There is no independent DMARC implementation of RFC 9989 in Debian 12, so
each scenario asserts the outcome the RFC states: the Appendix B tree
walks (B.4.1 simple, B.4.2 deep with its 8-query bound, B.4.3 psd=y),
relaxed and strict alignment, sp/np (with the existence check), psd, t=y,
missing, duplicate, split and broken records, several Author Domains, and
BIMI discovery with its Organizational Domain fallback, selectors, lps=,
declination and the DMARC conditions.

The C side is tests/auth/drivers/dmarc_driver.c, built here with cc into
a temporary folder against DRIVER_SOURCES; it runs the real asynchronous
code (dmarc_eval_sync, bimi_lookup_sync) on libunbound. Run from the
repository root:

    /usr/bin/python3 -m pytest -q tests/auth/test_dmarc_dns.py

It needs nsd and ldnsutils; inside `unshare --net` with lo up it reaches
nothing but loopback.
"""

import glob
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "dns"))

import dnsserver  # noqa: E402

DRIVER_SOURCES = (
    ["tests/auth/drivers/dmarc_driver.c", "src/auth/dmarc.c",
     "src/auth/dmarc_record.c", "src/auth/authres.c", "src/auth/bimi.c",
     "src/msg/addr.c", "src/msg/idna.c", "src/dns/dns.c",
     "src/dns/dns_rr.c"] +
    sorted(f for f in glob.glob(os.path.join(ROOT, "src/core/*.c")) +
           glob.glob(os.path.join(ROOT, "src/conf/*.c"))
           if not f.endswith("_test.c")))
CFLAGS = ["-std=c17", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
          "-Wstrict-prototypes", "-Wmissing-prototypes", "-Wshadow",
          "-Wpointer-arith", "-Wsign-compare", "-Wformat=2", "-Wvla",
          "-Isrc", "-g", "-O1"]
if os.environ.get("SEALMAIL_SANITIZE") == "1":
    CFLAGS += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
               "-fno-sanitize-recover=undefined"]
# libpq: [store] postgresql is parsed by libpq (src/conf/conf_store.c).
LIBS = "libevent libevent_openssl openssl libunbound inih libidn2 libpq"

SOA = ("@ IN SOA ns1.%s. hostmaster.%s. 1 3600 600 86400 300\n"
       "@ NS ns1\nns1 A 127.0.0.1\n")

ZONES = {
    # RFC 9989 B.4.1 and B.4.2.
    "com": """
_dmarc.example TXT "v=DMARC1; p=reject"
_dmarc.signing.example TXT "v=DMARC1; p=none"
example A 192.0.2.1
signing.example A 192.0.2.2
a.b.c.d.e.f.g.h.i.j.k.example A 192.0.2.3
""",
    # RFC 9989 B.4.3 (the PSD record also has sp and np).
    "example": """
_dmarc.bank TXT "v=DMARC1; p=reject; sp=quarantine; np=reject; psd=y"
_dmarc.giant.bank TXT "v=DMARC1; p=quarantine"
mail.giant.bank A 192.0.2.4
mail.mega.bank A 192.0.2.5
www.small.bank A 192.0.2.6
""",
    "test": """
;! servfail broken.test
_dmarc.org1 TXT "v=DMARC1; p=none; sp=reject; np=quarantine"
exists.org1 A 192.0.2.7
_dmarc.strict TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
_dmarc.tmode TXT "v=DMARC1; p=reject; t=y"
_dmarc.multi TXT "v=DMARC1; p=reject"
_dmarc.multi TXT "v=DMARC1; p=none"
_dmarc.mixed TXT "v=spf1 -all"
_dmarc.mixed TXT "v=DMARC1; p=quarantine"
_dmarc.split TXT "v=DMARC1; " "p=reject"
_dmarc.nop TXT "v=DMARC1; sp=reject"
_dmarc.noprua TXT "v=DMARC1; p=bogus; rua=mailto:agg@noprua.test"
plain A 192.0.2.8
_dmarc.brand TXT "v=DMARC1; p=reject"
default._bimi.brand TXT "v=BIMI1; l=https://img.brand.test/logo.svg"
myselector._bimi.brand TXT "v=BIMI1; l=https://img.brand.test/my.svg"
sub.brand A 192.0.2.9
_dmarc.declined TXT "v=DMARC1; p=quarantine"
default._bimi.declined TXT "v=BIMI1; l=; a=;"
_dmarc.weak TXT "v=DMARC1; p=none"
default._bimi.weak TXT "v=BIMI1; l=https://img.weak.test/logo.svg"
_dmarc.lps TXT "v=DMARC1; p=reject"
default._bimi.lps TXT "v=BIMI1; l=https://img.lps.test/d.svg; lps=news"
newsletter._bimi.lps TXT "v=BIMI1; l=https://img.lps.test/n.svg"
_dmarc.badbimi TXT "v=BIMI1; p=reject"
_dmarc.badbimi TXT "v=DMARC1; p=reject"
default._bimi.badbimi TXT "v=BIMI1; l=http://insecure.badbimi.test/x.svg"
_dmarc.nobimi TXT "v=DMARC1; p=reject"
""",
    # The TLD's own _dmarc name fails (SERVFAIL; REFUSED reaches us the
    # same way through the resolver) above Author Domains with records.
    "lame": """
;! servfail _dmarc.lame
_dmarc.a TXT "v=DMARC1; p=reject"
_dmarc.q TXT "v=DMARC1; p=quarantine"
""",
}

# (from domains, extra args, expected key=value pairs)
DMARC_SCENARIOS = [
    # B.4.1: simple; both identifiers align, policy domain example.com.
    ("example.com", ["spf=example.com", "dkim=signing.example.com"],
     {"result": "pass", "org": "example.com",
      "policy_domain": "example.com", "spf_aligned": "1",
      "dkim_aligned": "1"}),
    ("example.com", ["dkimfail=example.com"],
     {"result": "fail", "disposition": "reject", "source": "p"}),
    # B.4.2: deep walk, 8 queries for the Author Domain + 1 for DKIM.
    ("a.b.c.d.e.f.g.h.i.j.k.example.com",
     ["spf=example.com", "dkim=signing.example.com"],
     {"result": "pass", "org": "example.com",
      "policy_domain": "example.com", "queries": "9"}),
    ("a.b.c.d.e.f.g.h.i.j.k.example.com", [],
     {"result": "fail", "disposition": "reject", "queries": "8"}),
    # B.4.3: psd=y.
    ("giant.bank.example",
     ["spf=mail.giant.bank.example", "dkim=mail.mega.bank.example"],
     {"result": "pass", "org": "giant.bank.example",
      "policy_domain": "giant.bank.example", "spf_aligned": "1",
      "dkim_aligned": "0"}),
    ("giant.bank.example", ["dkim=mail.mega.bank.example"],
     {"result": "fail", "disposition": "quarantine"}),
    # PSD policy for a name without its own Organizational Domain record.
    ("www.small.bank.example", [],
     {"result": "fail", "policy_domain": "bank.example",
      "org": "small.bank.example", "source": "sp",
      "disposition": "quarantine"}),
    ("ghost.bank.example", [],
     {"result": "fail", "source": "np", "disposition": "reject"}),
    ("www.small.bank.example", ["spf=small.bank.example"],
     {"result": "pass"}),
    # sp / np below an Organizational Domain.
    ("org1.test", [], {"result": "fail", "disposition": "none"}),
    ("exists.org1.test", [],
     {"result": "fail", "source": "sp", "disposition": "reject"}),
    ("nothere.org1.test", [],
     {"result": "fail", "source": "np", "disposition": "quarantine"}),
    ("exists.org1.test", ["dkim=org1.test"], {"result": "pass"}),
    # Strict alignment.
    ("strict.test", ["spf=mail.strict.test", "dkim=x.strict.test"],
     {"result": "fail", "disposition": "reject"}),
    ("strict.test", ["dkim=strict.test"], {"result": "pass"}),
    # t=y lowers reject to quarantine.
    ("tmode.test", [],
     {"result": "fail", "testing": "1", "disposition": "quarantine"}),
    # Records: several (discarded -> parent, none), mixed, split.
    ("multi.test", [], {"result": "none", "disposition": "none"}),
    ("mixed.test", [], {"result": "fail", "disposition": "quarantine"}),
    ("split.test", [], {"result": "fail", "disposition": "reject"}),
    ("nop.test", [], {"result": "permerror", "disposition": "none"}),
    ("noprua.test", [], {"result": "fail", "disposition": "none"}),
    ("plain.test", ["spf=plain.test"], {"result": "none"}),
    ("nothing.test", [], {"result": "none", "queries": "2"}),
    ("x.broken.test", [], {"result": "temperror", "disposition": "none"}),
    # A DNS error above the Author Domain's own record loses nothing:
    # identical identifiers align without the Organizational Domain, a
    # message that aligns nothing fails under p=reject; only relaxed
    # alignment of a subdomain is a temperror, and then the policy may
    # be reject (the daemon answers 451) or may not.
    ("a.lame", ["spf=a.lame", "dkim=a.lame"],
     {"result": "pass", "policy_domain": "a.lame", "spf_aligned": "1",
      "dkim_aligned": "1"}),
    ("a.lame", [], {"result": "fail", "disposition": "reject"}),
    ("a.lame", ["dkim=sub.a.lame"],
     {"result": "temperror", "may_reject": "1"}),
    ("q.lame", ["dkim=sub.q.lame"],
     {"result": "temperror", "may_reject": "0"}),
    ("x.broken.test", [], {"result": "temperror", "may_reject": "1"}),
    # Several Author Domains: the strictest failing policy applies.
    ("tmode.test,example.com", ["dkim=example.com"],
     {"result": "fail", "disposition": "quarantine"}),
    ("strict.test,example.com", ["dkim=example.com"],
     {"result": "fail", "disposition": "reject"}),
]

BIMI_SCENARIOS = [
    (["brand.test", "info"], {"bimi": "pass", "domain": "brand.test",
     "selector": "default", "location": "https://img.brand.test/logo.svg"}),
    # Fallback to the Organizational Domain.
    (["sub.brand.test", "info"], {"bimi": "pass", "domain": "brand.test",
     "selector": "default"}),
    (["sub.brand.test", "info", "myselector"],
     {"bimi": "pass", "domain": "brand.test", "selector": "myselector",
      "location": "https://img.brand.test/my.svg"}),
    (["brand.test", "info", "nosuch"], {"bimi": "none"}),
    (["declined.test", "info"], {"bimi": "declined"}),
    (["weak.test", "info"], {"bimi": "skipped"}),
    # lps=news matches "news-letter", which has no record: the
    # default record is used, after the extra query.
    (["lps.test", "News.Letter+x"], {"bimi": "pass", "selector":
     "default", "location": "https://img.lps.test/d.svg", "queries": "2"}),
    (["lps.test", "newsletter"], {"bimi": "pass", "selector": "newsletter",
     "location": "https://img.lps.test/n.svg"}),
    (["lps.test", "sales"], {"bimi": "pass", "selector": "default"}),
    (["badbimi.test", "info"], {"bimi": "fail"}),
    (["nobimi.test", "info"], {"bimi": "none"}),
]


def _parse(line):
    out = {}
    for part in line.split():
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v.strip('"')
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    if not dnsserver.have_tools():
        pytest.skip("needs nsd and ldnsutils")
    if shutil.which("cc") is None or shutil.which("pkg-config") is None:
        pytest.skip("needs cc and pkg-config")
    d = tmp_path_factory.mktemp("dmarc")
    libs = subprocess.run(["pkg-config", "--libs"] + LIBS.split(),
                          check=True, capture_output=True,
                          text=True).stdout.split()
    cflags = subprocess.run(["pkg-config", "--cflags"] + LIBS.split(),
                            check=True, capture_output=True,
                            text=True).stdout.split()
    driver = str(d / "dmarc_driver")
    subprocess.run(["cc"] + CFLAGS + cflags + DRIVER_SOURCES +
                   ["-o", driver] + libs, cwd=ROOT, check=True)
    zonefiles = []
    for zone, body in ZONES.items():
        path = d / ("%s.zone" % zone)
        directives = "".join(l + "\n" for l in body.splitlines()
                             if l.startswith(";!"))
        rest = "".join(l + "\n" for l in body.splitlines()
                       if not l.startswith(";!"))
        path.write_text(directives + "$ORIGIN %s.\n$TTL 300\n" % zone +
                        SOA % (zone, zone) + rest)
        zonefiles.append(str(path))
    srv = str(d / "srv")
    info = dnsserver.start(srv, zonefiles)
    try:
        yield driver, info
    finally:
        dnsserver.stop(srv)


def _run(env, *args):
    driver, info = env
    p = subprocess.run([driver, info["resolver"], info["unbound_config"]] +
                       list(args), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return _parse(p.stdout.strip())


@pytest.mark.parametrize("frm,extra,want", DMARC_SCENARIOS,
                         ids=[s[0] + ":" + ",".join(s[1])
                              for s in DMARC_SCENARIOS])
def test_dmarc(env, frm, extra, want):
    got = _run(env, "dmarc", frm, *extra)
    for k, v in want.items():
        assert got.get(k) == v, "%s: %s != %s (%r)" % (k, got.get(k), v, got)


@pytest.mark.parametrize("args,want", BIMI_SCENARIOS,
                         ids=[":".join(s[0]) for s in BIMI_SCENARIOS])
def test_bimi(env, args, want):
    got = _run(env, "bimi", *args)
    for k, v in want.items():
        assert got.get(k) == v, "%s: %s != %s (%r)" % (k, got.get(k), v, got)
