# SPDX-License-Identifier: ISC
"""dist/certbot-deploy-hook (installed as
/etc/letsencrypt/renewal-hooks/deploy/sealmail) with stand-ins for
sealmail's `dns-records --check-tlsa`, systemctl and logger: a renewed key
that no TLSA record matches is reported loudly (stderr and mail.crit) and
sealmail is reloaded anyway; a certificate sealmail does not use is left
alone."""

import os
import subprocess

import pytest

from harness import stub

HOOK = os.path.join(os.path.dirname(__file__), "..", "..", "dist",
                    "certbot-deploy-hook")


@pytest.fixture
def env(tmp_path):
    """A lineage, a config naming it, and the stand-ins; calls.log records
    every stand-in's arguments."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    calls = tmp_path / "calls.log"
    lineage = tmp_path / "live" / "mail.example.test"
    lineage.mkdir(parents=True)
    conf = tmp_path / "sealmail.conf"
    conf.write_text("[tls]\ncert = %s/fullchain.pem\nkey = %s/privkey.pem\n"
                    % (lineage, lineage))
    # The interface of dns-records --check-tlsa: exit 0 = a TLSA record
    # matches (or none is published: a note), 1 = none matches, one line.
    stub(str(bin_ / "sealmail"),
         'echo "sealmail $*" >> %s\n'
         'if [ "$TLSA" = match ]; then exit 0; fi\n'
         'echo "no TLSA record of _25._tcp.mail.example.test matches" >&2\n'
         'exit 1\n' % calls)
    stub(str(bin_ / "systemctl"),
         'echo "systemctl $*" >> %s\n'
         '[ "$1" = is-active ] && [ "$ACTIVE" = no ] && exit 3\nexit 0\n'
         % calls)
    stub(str(bin_ / "logger"), 'echo "logger $*" >> %s\n' % calls)
    e = {"PATH": "%s:/usr/bin:/bin" % bin_, "SEALMAIL": str(bin_ / "sealmail"),
         "SEALMAIL_CONFIG": str(conf), "RENEWED_LINEAGE": str(lineage),
         "TLSA": "nomatch", "ACTIVE": "yes"}
    return e, calls, lineage


def hook(e):
    return subprocess.run(["sh", HOOK], env=e, capture_output=True,
                          text=True, timeout=30)


def log(calls):
    return calls.read_text().splitlines() if calls.exists() else []


def test_key_without_tlsa_warns_and_reloads(env):
    e, calls, lineage = env
    r = hook(e)
    assert r.returncode == 0, r.stderr
    assert "WARNING" in r.stderr and "no TLSA record" in r.stderr, r.stderr
    assert "--reuse-key" in r.stderr, r.stderr
    lines = log(calls)
    assert ("sealmail -c %s dns-records --check-tlsa --cert %s/fullchain.pem"
            % (e["SEALMAIL_CONFIG"], lineage)) in lines, lines
    crit = [l for l in lines if l.startswith("logger -p mail.crit")]
    assert crit and "no TLSA record" in crit[0], lines
    assert "systemctl reload sealmail.service" in lines, lines


def test_matching_key_reloads_quietly(env):
    e, calls, _ = env
    e["TLSA"] = "match"
    r = hook(e)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    lines = log(calls)
    assert not any(l.startswith("logger") for l in lines), lines
    assert "systemctl reload sealmail.service" in lines, lines


def test_stopped_service_is_not_started(env):
    e, calls, _ = env
    e["TLSA"], e["ACTIVE"] = "match", "no"
    r = hook(e)
    assert r.returncode == 0, r.stderr
    assert not any("reload" in l or " start" in l for l in log(calls))
    assert "not running" in r.stderr, r.stderr


def test_other_certificates_are_ignored(env):
    """certbot runs every deploy hook for every renewal."""
    e, calls, lineage = env
    e["RENEWED_LINEAGE"] = str(lineage.parent / "www.example.test")
    r = hook(e)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert log(calls) == []


def test_not_run_by_certbot(env):
    e, calls, _ = env
    del e["RENEWED_LINEAGE"]
    assert hook(e).returncode == 2
    assert log(calls) == []


def test_removed_package_stays_quiet(env):
    """`apt remove` (not purge; also what installing another MTA does,
    through Conflicts: mail-transport-agent) leaves the hook and the
    configuration, as conffiles, but not the binary: a renewal then is
    none of sealmail's business, not a critical TLSA warning."""
    e, calls, _ = env
    e["SEALMAIL"] = os.path.join(os.path.dirname(e["SEALMAIL"]), "gone")
    r = hook(e)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert log(calls) == []
