# SPDX-License-Identifier: ISC
"""Issue 12's must-show, on one message: a message forwarded by an alias
of A (fwd.test) to a user of B (remote.test) arrives at B with SPF pass
for its SRS envelope sender AND an ARC chain that python3-dkim verifies.

Two real sealmail instances and the test DNS server. The original sender
writes from 127.0.0.5, the only host origin.test's SPF authorises (A is
not), and DKIM-signs as origin.test; A (127.0.0.1) seals with fwd.test's
key and rewrites the sender to SRS0 in fwd.test, whose SPF names A.
"""

import os
import re
import smtplib

import pytest

import dkim

import remote_env as env
import harness
from harness import make_message, new_marker
from test_arc_forward import keygen

pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")

A_HOST, B_HOST, ORIGIN_IP = "127.0.0.1", "127.0.0.2", "127.0.0.5"
ALICE = "alice@origin.test"
CAROL = "carol@remote.test"
PW = "srs-Arc-Secret-2626"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("srsarc"))
    keys = os.path.join(base, "keys")
    os.makedirs(keys)
    e_key, e_zone, e_rec = keygen(keys, "fwd.test", "e1", "ed25519")
    f_key, f_zone, f_rec = keygen(keys, "fwd.test", "s1", "rsa")
    o_key, o_zone, o_rec = keygen(keys, "origin.test", "o1", "rsa")
    zones = {
        "test": "",
        "fwd.test": '@ MX 10 mx\nmx A %s\n@ TXT "v=spf1 ip4:%s -all"\n'
                    'e1._domainkey TXT %s\ns1._domainkey TXT %s\n'
                    % (A_HOST, A_HOST, e_zone, f_zone),
        "remote.test": "@ MX 10 mx\nmx A %s\n" % B_HOST,
        "origin.test": '@ MX 10 mx.remote.test.\n'
                       '@ TXT "v=spf1 ip4:%s -all"\n'
                       '_dmarc TXT "v=DMARC1; p=none"\n'
                       'o1._domainkey TXT %s\n' % (ORIGIN_IP, o_zone),
    }
    with env.dns_world(base, zones, (A_HOST, B_HOST)) as w:
        b_cfg = env.mx_instance(w, base, "b", "mx.remote.test", B_HOST,
                                ["remote.test"])
        a_cfg = env.mx_instance(w, base, "a", "mx.fwd.test", A_HOST, [])
        a_cfg.extra = ('\n[domain "fwd.test"]\ndkim_selector = e1\n'
                       'dkim_key = %s\ndkim_selector = s1\ndkim_key = %s\n'
                       '\n[forwarding]\nsrs = yes\narc = yes\n'
                       % (e_key, f_key))
        b = w["pool"].start(b_cfg, provision=env.provision_accounts(
            [(CAROL, PW)]))
        a = w["pool"].start(a_cfg, provision=env.provision_accounts(
            [], [("list@fwd.test", CAROL)]))
        with open(o_key, "rb") as f:
            origin_key = f.read()
        yield {"a": a, "b": b, "origin_key": origin_key,
               "records": {b"e1._domainkey.fwd.test.": e_rec,
                           b"s1._domainkey.fwd.test.": f_rec,
                           b"o1._domainkey.origin.test.": o_rec}}


def to_crlf(raw):
    return re.sub(rb"(?<!\r)\n", b"\r\n", raw)


def test_forwarded_copy_has_spf_pass_and_verifying_arc_chain(world):
    a, b = world["a"], world["b"]
    marker = new_marker()
    msg = make_message(ALICE, "list@fwd.test", marker)
    msg = dkim.sign(msg, b"o1", b"origin.test", world["origin_key"],
                    include_headers=[b"from", b"to", b"subject", b"date",
                                     b"message-id"]) + msg
    s = smtplib.SMTP(a["mx"].host, a["mx"].port, local_hostname="client.test",
                     source_address=(ORIGIN_IP, 0), timeout=20 * harness.SLOW)
    try:
        s.ehlo()
        env.mailcheck.send(s, ALICE, ["list@fwd.test"], msg)
    finally:
        s.quit()
    raw = b.mailbox(CAROL).wait_for(marker, timeout=40 * harness.SLOW)[0]

    # SPF: B saw an SRS0 sender in fwd.test, and its check passed.
    rp = harness.header_values(raw, "Return-Path")
    assert len(rp) == 1 and rp[0].startswith("<SRS0="), rp
    sender = rp[0].strip("<>")
    assert sender.endswith("=origin.test=alice@fwd.test"), sender
    ar = [v for v in harness.header_values(raw, "Authentication-Results")
          if v.startswith("mx.remote.test")]
    assert len(ar) == 1, ar
    assert "spf=pass smtp.mailfrom=%s" % sender in ar[0], ar

    # ARC: the very same message carries A's set (d=fwd.test, i=1, the
    # RSA key), and dkimpy as shipped verifies the chain.
    def dnsfunc(name, timeout=5):
        return world["records"][name].encode()
    cv, results, why = dkim.arc_verify(to_crlf(raw), dnsfunc=dnsfunc)
    assert cv == dkim.CV_Pass, (cv, why, results)
    assert [r["instance"] for r in results] == [1], results
    ams = harness.header_values(raw, "ARC-Message-Signature")
    assert len(ams) == 1 and re.search(r"\bd=fwd\.test;", ams[0]), ams
    assert re.search(r"\ba=rsa-sha256;", ams[0]), ams
    assert re.search(r"\bs=s1;", ams[0]), ams
    aar = harness.header_values(raw, "ARC-Authentication-Results")
    assert len(aar) == 1 and "spf=pass" in aar[0] and \
        "dkim=pass" in aar[0], aar
    # The AAR carries A's own Authentication-Results, word for word.
    ours = [v for v in harness.header_values(raw, "Authentication-Results")
            if v.startswith("mx.fwd.test")]
    assert len(ours) == 1, ours
    assert aar[0] == "i=1; " + ours[0], (aar, ours)
    # From: is untouched.
    assert harness.header_values(raw, "From") == [ALICE]
