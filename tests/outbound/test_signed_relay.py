# SPDX-License-Identifier: ISC
"""Issue 4's end-to-end check: a message submitted on the implicit-TLS
submission port (465-style) of instance A is DKIM-signed by A, relayed to
instance B's MX over STARTTLS, and there
* B's own inbound checks find the signature good (dkim=pass, DMARC pass),
* dkimpy verifies the signature too,
* `sealmail inspect` names both hops with their TLS versions.
"""
import json
import os
import re

import pytest

import remote_env as env
from remote_env import dnsserver, harness, Pool

dkim = pytest.importorskip("dkim")


def to_crlf(raw):
    return re.sub(rb"(?<!\r)\n", b"\r\n", raw)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("signed"))
    a_dir = os.path.join(base, "a")
    os.makedirs(a_dir)
    key = os.path.join(a_dir, "example.test.s1.key")
    r = harness.run_cli(None, "dkim", "keygen", "--domain", "example.test",
                        "--selector", "s1", "--type", "ed25519", "--out",
                        key)
    assert r.returncode == 0, r.stderr
    record = "".join(re.findall(r'"([^"]*)"', r.stdout))
    zdir = os.path.join(base, "zones")
    zones = env.write_zones(zdir)
    extra = {
        # ("test", where the DMARC tree walk ends, is in env.ZONES.)
        "example.test": ('@ TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
                         '_dmarc TXT "v=DMARC1; p=reject"\n'
                         's1._domainkey TXT "%s"\n' % record),
    }
    for name, body in extra.items():
        p = os.path.join(zdir, name + ".zone")
        with open(p, "w") as f:
            f.write("$ORIGIN %s.\n" % name + env.SOA + body)
        zones.append(p)
    dnsdir = os.path.join(base, "dns")
    dns = dnsserver.start(dnsdir, zones)
    pool = Pool()
    try:
        certs = os.path.join(base, "certs")
        mx_port = env.free_port_everywhere()
        b = pool.start(env.b_config(os.path.join(base, "b"),
                                    harness.make_cert(certs, "b",
                                                      cn=env.B_NAME),
                                    dns, mx_port), provision=env.provision_b)
        cfg = env.a_config(a_dir, harness.make_cert(certs, "a"), dns, mx_port)
        cfg.listen("submissions", "submission", "implicit")
        cfg.domains = []
        cfg.extra = ('\n[domain "example.test"]\ndkim_selector = s1\n'
                     'dkim_key = %s\n' % key)
        a = pool.start(cfg)
        yield {"a": a, "b": b, "record": record}
    finally:
        errors = pool.stop_all()
        dnsserver.stop(dnsdir)
        assert not errors, errors


def test_signed_on_465_verified_by_b_and_dkimpy_inspect_shows_hops(world):
    a, b = world["a"], world["b"]
    marker = "signedrelay"
    s = env.mailcheck.smtp_connect(a["submissions"])
    try:
        env.mailcheck.login(s, env.ALICE)
        env.mailcheck.send(s, env.ALICE, [env.CAROL], harness.make_message(
            env.ALICE, env.CAROL, marker))
    finally:
        s.quit()
    raw = b.mailbox(env.CAROL).wait_for(marker, timeout=30)[0]
    crlf = to_crlf(raw)
    head = re.sub(rb"\r\n[ \t]+", b" ", crlf.split(b"\r\n\r\n")[0])
    ar = [l for l in head.split(b"\r\n")
          if l.lower().startswith(b"authentication-results: " +
                                  env.B_NAME.encode())]
    assert len(ar) == 1, head
    assert b"dkim=pass header.d=example.test header.s=s1" in ar[0], ar
    assert b"dmarc=pass" in ar[0], ar

    def dnsfunc(name, timeout=5):
        assert name == b"s1._domainkey.example.test."
        return world["record"].encode()
    assert dkim.verify(crlf, dnsfunc=dnsfunc)

    path = os.path.join(b.cfg.folder, "relayed.eml")
    with open(path, "wb") as f:
        f.write(raw)
    r = harness.run_cli(None, "inspect", "--json", path)
    assert r.returncode == 0, r.stderr
    hops = json.loads(r.stdout)["hops"]
    assert len(hops) == 2, hops
    assert hops[0]["by"] == harness.HOSTNAME
    assert hops[1]["by"] == env.B_NAME
    for h in hops:
        assert h["encrypted"] == "yes", h
        assert h["tls_version"] == "TLSv1.3", h
    text = harness.run_cli(None, "inspect", path).stdout
    assert harness.HOSTNAME in text and env.B_NAME in text
    assert "Verdict: all 2 hops encrypted (TLS 1.3)" in text, text
