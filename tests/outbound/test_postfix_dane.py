# SPDX-License-Identifier: ISC
"""Interop: Debian's Postfix, as the sending client with
smtp_tls_security_level = dane, delivers to sealmail B using the TLSA
record that `sealmail check-domain` advises for B, published in a
DNSSEC-signed test zone, and refuses to when the record does not match.

Postfix reads /etc/resolv.conf and trusts the AD bit of a validating
resolver, so it runs in a private mount namespace (unshare --mount) in
which /etc/resolv.conf is a bind-mounted file naming 127.0.0.1 with
`options trust-ad`; there a real unbound(8) daemon on 127.0.0.1:53
validates the test zones (their trust anchors) and forwards to the test
DNS server. All of it inside the test's network namespace: nothing leaves
loopback. Postfix and unbound are installed if missing; the test is
skipped with a message when that fails.
"""

import json
import os
import pwd
import re
import shutil
import smtplib
import tempfile

import pytest

import remote_env as env
import test_postfix_interop as pfi

import harness
from harness import make_message, new_marker, wait_until

pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")

GOOD = "pfdane.test"        # TLSA matches B's key
BAD = "pfbad.test"          # TLSA matches nothing
PW = "pfdane-Secret-4711"
SENDER = "sender@pfclient.test"

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.pfclient.test
mydomain = pfclient.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
alias_maps =
alias_database =
smtpd_peername_lookup = no
smtp_dns_support_level = dnssec
smtp_tls_security_level = dane
smtp_tls_loglevel = 1
smtp_host_lookup = dns
transport_maps = texthash:{d}/transport
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    why = pfi.ensure_postfix() or env.ensure_package("/usr/sbin/unbound",
                                                     "unbound")
    if why:
        pytest.skip(why)
    base = str(tmp_path_factory.mktemp("pfdane"))
    certs = os.path.join(base, "certs")
    cert_b = harness.make_cert(certs, "b", cn="mx." + GOOD)
    port = env.free_port_everywhere()
    zones = {
        # No TLSA yet: check-domain tells which record to publish.
        GOOD: "@ MX 10 mx\nmx A 127.0.0.2\n;! sign\n",
        BAD: ("@ MX 10 mx\nmx A 127.0.0.2\n;! sign\n"
              "_%d._tcp.mx TLSA 3 1 1 %s\n" % (port, "00" * 32)),
    }
    keys = env.signing_keys(os.path.join(base, "keys"), list(zones))
    dnsdir = os.path.join(base, "dns")
    dns = env.dnsserver.start(
        dnsdir, env.write_zones(os.path.join(base, "zones"), zones),
        keysdir=keys)
    pool = env.Pool()
    errors = []
    ub = pf = None
    try:
        cfg = harness.Config(os.path.join(base, "b"), [cert_b])
        cfg.server["hostname"] = "mx." + GOOD
        cfg.domains = [GOOD, BAD]
        cfg.listen("mx", "mx", "starttls", host="127.0.0.2", port=port)
        env.set_dns(cfg, dns)

        def provision(c):
            c.write()
            for dom in (GOOD, BAD):
                harness.cli_ok(c.path, "user", "add", "rcpt@" + dom,
                               "--password-stdin", input=PW + "\n")
        b = pool.start(cfg, provision=provision)
        record = tlsa_from_check_domain(b, port)
        assert record.endswith(env.spki_sha256(cert_b.cert)), record
        # Publish it: the zones signed again with the record, B and the
        # resolver on the new server.
        env.dnsserver.stop(dnsdir)
        zones[GOOD] += record + "\n"
        dnsdir = os.path.join(base, "dns2")
        dns = env.dnsserver.start(
            dnsdir, env.write_zones(os.path.join(base, "zones2"), zones),
            keysdir=keys)
        b.stop()
        env.set_dns(b.cfg, dns)
        b.start()
        ub = env.start_unbound(os.path.join(base, "unbound"), dns, GOOD)
        pf = start_postfix(port)
        yield {"b": b, "pf": pf, "port": port, "record": record}
    finally:
        if pf is not None:
            pfi.stop_postfix(pf["dir"], pf["pidfile"])
            shutil.rmtree(pf["dir"], ignore_errors=True)
        if ub is not None:
            ub.terminate()
            ub.wait(timeout=30)
        errors = pool.stop_all()
        env.dnsserver.stop(dnsdir)
    if errors:
        raise harness.HarnessError("daemon teardown: " + "\n".join(errors))


def tlsa_from_check_domain(b, port):
    """The TLSA record `sealmail check-domain` advises for B's MX, as a
    zone line relative to the zone ("_PORT._tcp.mx TLSA 3 1 1 HEX")."""
    r = b.cli("check-domain", GOOD, "--port", str(port), "--json")
    report = json.loads(r.stdout)
    for f in report["findings"]:
        m = re.search(r"_(\d+)\._tcp\.mx\.%s\. IN TLSA 3 1 1 "
                      r"([0-9a-f]{64})" % re.escape(GOOD), f["text"])
        if m:
            assert int(m.group(1)) == port, f
            return "_%s._tcp.mx TLSA 3 1 1 %s" % (m.group(1), m.group(2))
    raise AssertionError("check-domain advised no TLSA record: %s" %
                         r.stdout)


def start_postfix(port):
    d = tempfile.mkdtemp(prefix="sealmail-pfdane-")
    os.chmod(d, 0o755)
    os.mkdir(os.path.join(d, "queue"), 0o755)
    os.mkdir(os.path.join(d, "data"), 0o700)
    pfuser = pwd.getpwnam("postfix")
    os.chown(os.path.join(d, "data"), pfuser.pw_uid, pfuser.pw_gid)
    with open(os.path.join(d, "main.cf"), "w") as f:
        f.write(MAIN_CF.format(d=d))
    # The MX of each domain on the test's port (Postfix's smtp(8) would
    # use 25); DANE then looks up _PORT._tcp.mx.DOMAIN.
    with open(os.path.join(d, "transport"), "w") as f:
        for dom in (GOOD, BAD):
            f.write("%s smtp:%s:%d\n" % (dom, dom, port))
    smtpd_port = harness.free_port("127.0.0.1")
    pfi.write_master_cf(d, smtpd_port)
    # Postfix's processes keep the mount namespace they start in.
    r = env.run_with_resolver(d, ["postfix", "-c", d, "start"])
    pidfile = os.path.join(d, "queue", "pid", "master.pid")
    pf = {"dir": d, "pidfile": pidfile, "port": smtpd_port}
    if r.returncode != 0:
        pfi.stop_postfix(d, pidfile)
        raise AssertionError("postfix start: %s%s" % (r.stdout, r.stderr))
    wait_until(lambda: pfi.smtp_up(pf["port"]), 20,
               what="postfix smtpd on 127.0.0.1:%d" % pf["port"])
    return pf


def send_via_postfix(pf, rcpt, marker):
    s = smtplib.SMTP("127.0.0.1", pf["port"], timeout=20,
                     local_hostname="client.pfclient.test")
    try:
        s.sendmail(SENDER, [rcpt], make_message(SENDER, rcpt, marker))
    finally:
        s.quit()


def maillog(pf):
    try:
        with open(os.path.join(pf["dir"], "maillog")) as f:
            return f.read()
    except OSError:
        return ""


def test_postfix_dane_delivers_to_sealmail(world):
    rcpt = "rcpt@" + GOOD
    marker = new_marker()
    send_via_postfix(world["pf"], rcpt, marker)
    raw = world["b"].mailbox(rcpt).wait_for(
        marker, timeout=40)[0]
    assert b"with ESMTPS" in raw, raw[:400]
    log = maillog(world["pf"])
    assert "Verified TLS connection established to mx.%s" % GOOD in log, \
        log[-3000:]


def test_postfix_dane_refuses_mismatch(world):
    rcpt = "rcpt@" + BAD
    marker = new_marker()
    send_via_postfix(world["pf"], rcpt, marker)
    wait_until(lambda: "TLSA" in maillog(world["pf"]) and
               "to=<%s>" % rcpt in maillog(world["pf"]), 40,
               what="Postfix deferral for %s (maillog:\n%s)" %
               (rcpt, maillog(world["pf"])[-2000:]))
    log = maillog(world["pf"])
    assert "status=deferred" in log, log[-3000:]
    env.no_mail_for(world["b"].mailbox(rcpt), marker, 1)
