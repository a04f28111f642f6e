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
from remote_env import harness

dkim = pytest.importorskip("dkim")


def to_crlf(raw):
    return re.sub(rb"(?<!\r)\n", b"\r\n", raw)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("signed"))
    with env.signing_pair(base) as w:
        cfg = w["cfg"]
        cfg.listen("submissions", "submission", "implicit")
        a = w["pool"].start(cfg)
        yield {"a": a, "b": w["b"], "record": w["record"]}


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
