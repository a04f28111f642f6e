# SPDX-License-Identifier: ISC
"""The command line against a live daemon and alone: trusted_networks
relaying and the queue CLI, user and alias round trips, check-config and
init."""

import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from harness import (HOSTNAME, SLOW, USERS, Config, copy_cert, free_port,
                     make_dated_cert, make_message, new_marker, provision,
                     run_cli, sealmail_bin, spool_file)
from smtpraw import RawSMTP, queued_id

ALICE = "alice@example.test"


@pytest.fixture(scope="module")
def trusted(module_daemons, certs):
    """trusted_networks = 127.0.0.0/8, plus submission listeners on [::1]
    (outside the trusted network, like mx6) when IPv6 works."""
    cfg = module_daemons.config([certs["ec"]])
    cfg.server["trusted_networks"] = "127.0.0.0/8"
    if "mx6" in cfg.listeners:
        cfg.listen("submission6", "submission", "implicit", host="::1")
        cfg.listen("plain6", "submission", "none", host="::1")
    return module_daemons.start(cfg)


def relay_without_auth(d, marker, rcpt="friend@defer.test"):
    with RawSMTP.to(d["submissions"]) as c:
        c.ehlo()
        c.expect("MAIL FROM:<anyone@remote.test>", 250)
        c.expect("RCPT TO:<%s>" % rcpt, 250)
        return queued_id(c.data(make_message("anyone@remote.test", rcpt,
                                             marker)))


# ------------------------------------------------------------ trusted + queue

def test_trusted_network_relays_without_auth(trusted):
    qid = relay_without_auth(trusted, new_marker())
    r = trusted.cli("queue", "list")
    assert r.returncode == 0, r.stderr
    assert qid in r.stdout, r.stdout
    time.sleep(1.5)   # DNS fails temporarily for defer.test: still queued
    assert qid in trusted.queue_ids()
    assert qid in trusted.cli("queue", "list").stdout


def test_untrusted_address_still_needs_auth(trusted):
    if "submission6" not in trusted.cfg.listeners:
        pytest.skip("no IPv6 on loopback")
    with RawSMTP.to(trusted["submission6"]) as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<anyone@remote.test>")
        assert (r.code, r.enhanced) == (530, "5.7.0"), r


def test_mx_relays_for_trusted(trusted):
    """Postfix's mynetworks: a trusted client relays on mx too, in
    plaintext and without AUTH."""
    marker = new_marker()
    with RawSMTP.to(trusted["mx_plain"]) as c:
        c.ehlo()
        c.expect("MAIL FROM:<anyone@remote.test>", 250)
        c.expect("RCPT TO:<friend@defer.test>", 250)
        qid = queued_id(c.data(make_message("anyone@remote.test",
                                            "friend@defer.test", marker)))
    assert qid in trusted.cli("queue", "list").stdout


def test_mx_does_not_judge_trusted_clients(trusted):
    """Mail from trusted_networks is ours (OpenDMARC's IgnoreHosts): the
    inbound checks do not run, so it gets no Authentication-Results, while
    the same message from an outside client does."""
    if "mx6" not in trusted.cfg.listeners:
        pytest.skip("no IPv6 on loopback")
    markers = {}
    for listener in ("mx_plain", "mx6"):
        markers[listener] = new_marker()
        with RawSMTP.to(trusted[listener]) as c:
            c.ehlo()
            c.expect("MAIL FROM:<x@remote.test>", 250)
            c.expect("RCPT TO:<%s>" % ALICE, 250)
            queued_id(c.data(make_message("x@remote.test", ALICE,
                                          markers[listener])))
    box = trusted.mailbox(ALICE)
    inside = box.wait_for(markers["mx_plain"])[0]
    outside = box.wait_for(markers["mx6"])[0]
    assert b"\nAuthentication-Results: mail.example.test" in outside
    assert b"Authentication-Results:" not in inside, inside[:600]


def test_untrusted_never_relays_on_mx_or_plain_submission(trusted):
    """Outside trusted_networks: mx never relays, and a plaintext
    submission listener (no AUTH without TLS) refuses the transaction."""
    if "plain6" not in trusted.cfg.listeners:
        pytest.skip("no IPv6 on loopback")
    with RawSMTP.to(trusted["mx6"]) as c:
        c.ehlo()
        c.expect("MAIL FROM:<anyone@remote.test>", 250)
        r = c.cmd("RCPT TO:<friend@elsewhere.test>")
        assert (r.code, r.enhanced) == (550, "5.7.1"), r
    with RawSMTP.to(trusted["plain6"]) as c:
        assert "AUTH" not in c.ehlo()
        r = c.cmd("MAIL FROM:<anyone@remote.test>")
        assert (r.code, r.enhanced) == (530, "5.7.0"), r
        r = c.cmd("RCPT TO:<friend@elsewhere.test>")
        assert r.code >= 500, r


def test_queue_show_and_delete(trusted):
    marker = new_marker()
    qid = relay_without_auth(trusted, marker, rcpt="pal@defer.test")
    r = trusted.cli("queue", "show", qid)
    assert r.returncode == 0, r.stderr
    assert qid in r.stdout
    assert "pal@defer.test" in r.stdout
    assert "anyone@remote.test" in r.stdout
    r = trusted.cli("queue", "flush")
    assert r.returncode == 0, r.stderr
    r = trusted.cli("queue", "delete", qid)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(spool_file(trusted.data_dir, qid, "env"))
    assert not os.path.exists(spool_file(trusted.data_dir, qid, "msg"))
    assert qid not in trusted.cli("queue", "list").stdout
    r = trusted.cli("queue", "show", qid)
    assert r.returncode == 1, (r.returncode, r.stdout)
    assert r.stderr.strip() and len(r.stderr.strip().splitlines()) == 1
    r = trusted.cli("queue", "delete", qid)
    assert r.returncode == 1, (r.returncode, r.stdout)


@pytest.mark.parametrize("bad", ["../../../etc/passwd", "ZZZZ",
                                 "0123456789abcdef012"])
def test_queue_rejects_bad_ids(trusted, bad):
    for verb in ("show", "delete"):
        r = trusted.cli("queue", verb, bad)
        assert r.returncode in (1, 2), (verb, bad, r.returncode, r.stdout)


@pytest.mark.parametrize("args", [["queue"], ["queue", "frob"],
                                  ["queue", "show"], ["user"],
                                  ["alias", "frob"], ["frobnicate"], []])
def test_usage_errors(trusted, args):
    r = trusted.cli(*args)
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    assert r.stderr.strip()


# ------------------------------------------------------------ users, aliases

def auth_ok(d, user, password, source):
    with RawSMTP.to(d["submissions"], source=source, timeout=30) as c:
        c.ehlo()
        r = c.auth_plain(user, password)
    assert r.code in (235, 535), r
    return r.code == 235


def test_user_round_trip_with_daemon(trusted):
    """Accounts changed by the CLI take effect in the running daemon."""
    carol = "carol@example.test"
    src = "127.0.0.20"
    r = trusted.cli("user", "add", carol, "--password-stdin",
                    input="carol-pw-1\n")
    assert r.returncode == 0, r.stderr
    r = trusted.cli("user", "add", carol, "--password-stdin",
                    input="again\n")
    assert r.returncode == 1, "duplicate user added: %r" % r.stdout
    assert carol in trusted.cli("user", "list").stdout
    assert auth_ok(trusted, carol, "carol-pw-1", src)
    r = trusted.cli("user", "passwd", carol, "--password-stdin",
                    input="carol-pw-2\n")
    assert r.returncode == 0, r.stderr
    assert auth_ok(trusted, carol, "carol-pw-2", src)
    assert not auth_ok(trusted, carol, "carol-pw-1", src)
    r = trusted.cli("user", "del", carol)
    assert r.returncode == 0, r.stderr
    assert carol not in trusted.cli("user", "list").stdout
    assert not auth_ok(trusted, carol, "carol-pw-2", src)
    r = trusted.cli("user", "del", carol)
    assert r.returncode == 1


def test_alias_round_trip_with_daemon(trusted):
    team = "team@example.test"
    r = trusted.cli("alias", "add", team, "bob@example.test", ALICE)
    assert r.returncode == 0, r.stderr
    out = trusted.cli("alias", "list").stdout
    assert team in out and "bob@example.test" in out
    marker = new_marker()
    with RawSMTP.to(trusted["mx_plain"]) as c:
        c.ehlo()
        c.expect("MAIL FROM:<x@remote.test>", 250)
        c.expect("RCPT TO:<%s>" % team, 250)
        queued_id(c.data(make_message("x@remote.test", team, marker)))
    trusted.mailbox("bob@example.test").wait_for(marker)
    trusted.mailbox(ALICE).wait_for(marker)
    r = trusted.cli("alias", "del", team)
    assert r.returncode == 0, r.stderr
    assert team not in trusted.cli("alias", "list").stdout
    with RawSMTP.to(trusted["mx_plain"]) as c:
        c.ehlo()
        c.expect("MAIL FROM:<x@remote.test>", 250)
        r = c.cmd("RCPT TO:<%s>" % team)
        assert (r.code, r.enhanced) == (550, "5.1.1"), r


def test_catch_all_alias(trusted):
    r = trusted.cli("alias", "add", "@example.test", ALICE)
    assert r.returncode == 0, r.stderr
    try:
        marker = new_marker()
        with RawSMTP.to(trusted["mx_plain"]) as c:
            c.ehlo()
            c.expect("MAIL FROM:<x@remote.test>", 250)
            c.expect("RCPT TO:<whoever@example.test>", 250)
            queued_id(c.data(make_message("x@remote.test",
                                          "whoever@example.test", marker)))
        trusted.mailbox(ALICE).wait_for(marker)
    finally:
        trusted.cli("alias", "del", "@example.test")


@pytest.fixture
def offline(tmp_path, certs):
    """A provisioned config with no daemon."""
    cfg = Config(str(tmp_path), [certs["ec"]])
    cfg.listen("mx", "mx", "starttls")
    provision(cfg)
    return cfg


def test_user_cli_offline(offline):
    p = offline.path
    assert run_cli(p, "user", "add", "dave@example.test",
                   "--password-stdin", input="dave-pw-0123\n").returncode == 0
    out = run_cli(p, "user", "list").stdout
    for u in list(USERS) + ["dave@example.test"]:
        assert u in out, out
    r = run_cli(p, "user", "add", "not-an-address", "--password-stdin",
                input="pw\n")
    assert r.returncode in (1, 2), r.stdout
    r = run_cli(p, "user", "add", "erin@example.test", "--password-stdin",
                input="")
    assert r.returncode != 0, "empty password accepted"
    assert "erin@example.test" not in run_cli(p, "user", "list").stdout
    # the hash, not the password, is stored, and not in the store
    for name in ("sealmail.db", "passwd.db"):
        with open(os.path.join(offline.data_dir, name), "rb") as f:
            data = f.read()
        assert USERS[ALICE].encode() not in data
        assert (b"$y$" in data) == (name == "passwd.db"), name


def test_min_password_length(offline):
    """[auth] min_password_length (default 10) for user add and passwd,
    counted in characters."""
    p = offline.path
    for pw in ("x", "123456789"):
        r = run_cli(p, "user", "add", "frank@example.test",
                    "--password-stdin", input=pw + "\n")
        assert r.returncode == 1, (pw, r.stderr)
        assert "password too short" in r.stderr
        assert "min_password_length" in r.stderr
    assert "frank@example.test" not in run_cli(p, "user", "list").stdout
    r = run_cli(p, "user", "passwd", ALICE, "--password-stdin", input="x\n")
    assert r.returncode == 1 and "password too short" in r.stderr
    r = run_cli(p, "user", "add", "frank@example.test", "--password-stdin",
                input="\u00e9" * 10 + "\n")    # 10 characters, 20 bytes
    assert r.returncode == 0, r.stderr
    offline.auth["min_password_length"] = "3"
    offline.write()
    r = run_cli(p, "user", "passwd", ALICE, "--password-stdin",
                input="abc\n")
    assert r.returncode == 0, r.stderr


def test_alias_cli_offline(offline):
    p = offline.path
    assert run_cli(p, "alias", "add", "info@example.test", ALICE,
                   "bob@example.test").returncode == 0
    out = run_cli(p, "alias", "list", "info@example.test").stdout
    assert ALICE in out and "bob@example.test" in out
    assert run_cli(p, "alias", "del", "info@example.test",
                   ALICE).returncode == 0
    out = run_cli(p, "alias", "list", "info@example.test").stdout
    assert ALICE not in out and "bob@example.test" in out
    assert run_cli(p, "alias", "del", "info@example.test").returncode == 0
    assert "info@example.test" not in run_cli(p, "alias", "list").stdout


# ------------------------------------------------------------ check-config

def test_check_config_ok(offline):
    r = run_cli(offline.path, "check-config")
    assert r.returncode == 0, r.stderr
    assert "mail.example.test" in r.stdout
    assert "hostname" in r.stdout
    env = dict(os.environ, SEALMAIL_CONFIG=offline.path)
    r = subprocess.run([sealmail_bin(), "check-config"], env=env,
                       capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 0, "SEALMAIL_CONFIG not used: " + r.stderr


BAD = {
    "unknown key": ("[server]", "frobnicate = 1"),
    "bad role": ('[listen "mx"]', "role = relay"),
    "bad tls mode": ('[listen "mx"]', "tls = sometimes"),
    "bad duration": ("[server]", "command_timeout = soon"),
    "bad number": ("[server]", "max_errors = many"),
    "bad bare_newline": ("[server]", "bare_newline = ignore"),
    "bad min_version": ("[tls]", "min_version = SSLv3"),
    "bad network": ("[server]", "trusted_networks = 10.0.0.0/99"),
    "open relay network": ("[server]", "trusted_networks = 0.0.0.0/0"),
    "open relay network v6": ("[server]", "trusted_networks = ::/0"),
    "bad delivery": ("[delivery]", "local = mbox"),
    "unknown section": ("[frobnicate]", "x = 1"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_check_config_errors(offline, case):
    """Exit 1 and one line naming FILE:LINE: of the offending line."""
    section, line = BAD[case]
    text = offline.text()
    lines = text.splitlines()
    if section in lines:
        at = lines.index(section) + 1
    else:
        lines.append(section)
        at = len(lines)
    lines.insert(at, line)
    with open(offline.path, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = run_cli(offline.path, "check-config")
    assert r.returncode == 1, (case, r.returncode, r.stdout)
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1, err
    lines_ok = {at + 1}
    if case == "unknown section":
        lines_ok.add(at)    # the section line itself is fine too
    assert any("%s:%d:" % (offline.path, n) in err for n in lines_ok), \
        (case, sorted(lines_ok), err)


def check_config(cfg):
    """Write cfg, run check-config: (exit code, stderr lines, stdout)."""
    cfg.write()
    r = run_cli(cfg.path, "check-config")
    return r.returncode, r.stderr.strip().splitlines(), r.stdout


def line_of(cfg, text):
    """1-based number of the first line of cfg's file that starts with
    text."""
    lines = cfg.text().splitlines()
    return 1 + [i for i, ln in enumerate(lines) if ln.startswith(text)][0]


def days(n):
    import datetime
    return datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(days=n)


def dkim_domain(cfg, mode):
    """Add a signing domain whose key file has the given mode."""
    key = os.path.join(cfg.folder, "dkim.key")
    r = run_cli(cfg.path, "dkim", "keygen", "--domain", "signed.test",
                "--selector", "s1", "--out", key)
    assert r.returncode == 0, r.stderr
    os.chmod(key, mode)
    cfg.extra = '[domain "signed.test"]\ndkim_selector = s1\n' \
        'dkim_key = %s\n' % key


def set_key_mode(cfg, mode):
    cfg.certs = [copy_cert(cfg.certs[0], cfg.folder, "copy")]
    os.chmod(cfg.certs[0].key, mode)


def dated_cert(cfg, start, end, dns=(HOSTNAME,)):
    cfg.certs = [make_dated_cert(cfg.folder, "dated", days(start),
                                 days(end), dns)]


def overlap(cfg, wild, host):
    port = free_port()
    cfg.listen("wild", "mx", "none", host=wild, port=port)
    cfg.listen("one", "mx", "none", host=host, port=port)


def sub_plain(cfg):
    cfg.listen("plain", "submission", "none")


# name: (change to the offline config, exit code, text in one stderr line)
CHECKS = {
    "user missing": (lambda c: c.server.update(user="nosuchuser"), 1,
                     "[server] user: no such user nosuchuser"),
    "data_dir parent missing": (
        lambda c: c.server.update(data_dir=c.folder + "/no/such/data"), 1,
        "[server] data_dir: "),
    "listeners overlap": (lambda c: overlap(c, "0.0.0.0", "127.0.0.1"), 1,
                          "overlaps 0.0.0.0:"),
    "listeners overlap v6": (lambda c: overlap(c, "::", "::1"), 1,
                             "overlaps [::]:"),
    "cert expired": (lambda c: dated_cert(c, -30, -1), 1,
                     "[tls] cert: certificate expired on"),
    "cert expires soon": (lambda c: dated_cert(c, -30, 5), 0,
                          "[tls] cert: certificate expires on"),
    "cert names": (lambda c: dated_cert(c, -1, 90, ("other.example",)), 0,
                   "[tls] cert: certificate does not name hostname "
                   "mail.example.test"),
    "tls key world-readable": (lambda c: set_key_mode(c, 0o644), 1,
                               "[tls] key: "),
    "dkim key world-readable": (lambda c: dkim_domain(c, 0o604), 1,
                                '[domain "signed.test"] dkim_key: '),
    "trusted wide": (
        lambda c: c.server.update(trusted_networks="10.0.0.0/8"), 0,
        "[server] trusted_networks: 10.0.0.0/8 is wider than a /24"),
    "trusted public": (
        lambda c: c.server.update(trusted_networks="192.0.2.0/28"), 0,
        "[server] trusted_networks: 192.0.2.0/28 is public"),
    "submission without tls": (sub_plain, 0,
                               '[listen "plain"] tls: none on a submission'),
}


@pytest.mark.parametrize("case", list(CHECKS))
def test_check_config_checks(offline, case):
    """What the text alone cannot show: errors exit 1, warnings print the
    configuration and exit 0; each is one FILE:LINE: line."""
    change, code, text = CHECKS[case]
    change(offline)
    rc, err, out = check_config(offline)
    assert rc == code, (case, rc, err)
    hits = [ln for ln in err if text in ln]
    assert hits, (case, err)
    assert hits[0].startswith("sealmail: " + ("warning: " if code == 0
                                              else "") + offline.path + ":")
    if code == 0:
        assert "[server]" in out


def test_check_config_clean_is_silent(offline):
    rc, err, _ = check_config(offline)
    assert (rc, err) == (0, []), err


def test_check_config_private_dkim_key_is_clean(offline):
    dkim_domain(offline, 0o600)
    rc, err, _ = check_config(offline)
    assert (rc, err) == (0, []), err


@pytest.mark.parametrize("mode,who", [(0o664, "its group"),
                                      (0o646, "every user")])
def test_check_config_writable_config(offline, mode, who):
    offline.write()
    os.chmod(offline.path, mode)
    r = run_cli(offline.path, "check-config")
    assert r.returncode == 1, r.stderr
    assert "sealmail: %s: writable by %s" % (offline.path, who) in r.stderr


def test_check_config_missing_cert_names_line(offline):
    offline.certs = [copy_cert(offline.certs[0], offline.folder, "copy")]
    offline.certs[0].cert = offline.folder + "/missing.pem"
    rc, err, _ = check_config(offline)
    assert rc == 1
    want = "sealmail: %s:%d: [tls] cert: %s/missing.pem: No such file" % (
        offline.path, line_of(offline, "cert = "), offline.folder)
    assert any(ln.startswith(want) for ln in err), err


def test_check_config_missing_file(tmp_path):
    r = run_cli(str(tmp_path / "nope.conf"), "check-config")
    assert r.returncode == 1, r.returncode
    assert "nope.conf" in r.stderr


def test_init_dev(tmp_path):
    d = tmp_path / "inst"
    r = run_cli(None, "init", "-d", str(d), "--dev")
    assert r.returncode == 0, r.stderr
    confs = [n for n in os.listdir(d) if n.endswith(".conf")]
    assert confs, os.listdir(d)
    conf = str(d / ("sealmail.conf" if "sealmail.conf" in confs
                    else confs[0]))
    r = run_cli(conf, "check-config")
    assert r.returncode == 0, r.stderr
    for port in ("2525", "5870", "4650"):
        assert port in r.stdout, "dev port %s missing:\n%s" % (port,
                                                              r.stdout)
    assert "127.0.0.1" in r.stdout


def test_init_http_listener_examples_are_valid(tmp_path):
    # init writes the https and admin listeners as comments; uncommented,
    # as the operator would, they must pass check-config as they are.
    d = tmp_path / "inst"
    assert run_cli(None, "init", "-d", str(d), "--dev").returncode == 0
    conf = str(d / "sealmail.conf")
    text = open(conf).read()
    for name in ("https", "admin"):
        assert '; [listen "%s"]' % name in text, text
    text = re.sub(r"(?m)^; (\[listen \"(https|admin)\"\]|address =|role =|"
                  r"tls =)", r"\1", text)
    with open(conf, "w") as f:
        f.write(text)
    r = run_cli(conf, "check-config")
    assert r.returncode == 0, r.stderr
    assert "role = https" in r.stdout and "role = admin" in r.stdout


def test_init_usage(tmp_path):
    assert run_cli(None, "init").returncode == 2


PACKAGED_CONF = """; sealmail configuration (Debian package): commented defaults
[server]
; hostname = mail.example.org
; data_dir = /var/lib/sealmail
# [listen "mx"]
"""


def test_init_packaged_layout(tmp_path):
    """The Debian package ships /etc/sealmail/sealmail.conf with every key
    commented: `init -d /etc/sealmail --data-dir /var/lib/sealmail`
    replaces it (it sets nothing), keeps the data where the package made
    it, and the result passes check-config. A config that sets anything
    is still never overwritten."""
    etc, data = tmp_path / "etc", tmp_path / "var" / "lib" / "sealmail"
    etc.mkdir()
    data.mkdir(parents=True)
    conf = etc / "sealmail.conf"
    conf.write_text(PACKAGED_CONF)
    assert run_cli(str(conf), "check-config").returncode == 1
    r = run_cli(None, "init", "-d", str(etc), "--data-dir", str(data),
                "--dev")
    assert r.returncode == 0, r.stderr
    text = conf.read_text()
    assert "data_dir = %s\t" % data in text, text
    assert not (etc / "data").exists()
    r = run_cli(str(conf), "check-config")
    assert r.returncode == 0, r.stderr
    before = conf.read_text()
    r = run_cli(None, "init", "-d", str(etc), "--data-dir", str(data),
                "--dev")
    assert r.returncode == 1 and "not overwriting" in r.stderr, r.stderr
    assert conf.read_text() == before
    r = run_cli(None, "init", "-d", str(tmp_path / "x"), "--data-dir",
                "rel/data", "--dev")
    assert r.returncode == 1 and "absolute" in r.stderr, r.stderr


# ------------------------------------------------------------ newcomer path

@pytest.mark.parametrize("args,want", [
    (["-h"], "usage: sealmail"), (["--help"], "usage: sealmail"),
    (["help"], "usage: sealmail"), (["--version"], "sealmail "),
    (["serve", "--help"], "usage: sealmail [-c FILE] serve"),
    (["user", "-h"], "usage: sealmail [-c FILE] user"),
])
def test_help_and_version(args, want):
    r = run_cli(None, *args)
    assert r.returncode == 0, (args, r.returncode, r.stderr)
    assert r.stdout.startswith(want), r.stdout


@pytest.mark.parametrize("bad", [
    ["init"], ["sendmail", "-x"], ["user"], ["alias"], ["queue"],
    ["inspect"], ["dkim"], ["check-auth"], ["serve", "--x"],
])
def test_command_help_is_its_usage(bad):
    """`COMMAND --help` shows the options the command itself knows."""
    err = run_cli(None, *bad).stderr
    usage = [l for l in err.splitlines() if l.startswith("usage: ")]
    assert usage, err
    r = run_cli(None, bad[0], "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.replace("[-c FILE] ", "") == usage[0] + "\n", \
        (r.stdout, usage[0])


@pytest.mark.parametrize("args,why", [
    (["dkim", "keygen", "--domain", "a.example", "--selector", "s",
      "--bits", "512"], "--bits 512: must be a number from 1024"),
    (["dkim", "keygen", "--domain", "a.example", "--selector", "s",
      "--type", "dsa"], "--type dsa: must be ed25519 or rsa"),
    (["check-auth", "--ip", "notanip", "--helo", "x", "--mail-from",
      "a@b.example"], "--ip notanip: not an IPv4 or IPv6 address"),
])
def test_usage_errors_say_what_is_wrong(args, why):
    r = run_cli(None, *args)
    assert r.returncode == 2, (args, r.returncode)
    assert "sealmail: " + why in r.stderr, r.stderr


def test_dkim_keygen_says_where_the_key_is(offline):
    r = run_cli(offline.path, "dkim", "keygen", "--domain", "example.test",
                "--selector", "s9")
    assert r.returncode == 0, r.stderr
    path = os.path.join(offline.data_dir, "keys", "example.test.s9.key")
    assert os.path.exists(path)
    assert "; private key written to %s\n" % path in r.stdout, r.stdout


def test_init_next_steps_work_verbatim(tmp_path):
    """init --dev's "Next steps" as printed: the binary by a path that
    exists (no sealmail on PATH after make), and a swaks line that sends
    (it had no --from, so the daemon refused the sender: 550)."""
    d = tmp_path / "inst"
    r = run_cli(None, "init", "-d", str(d), "--dev")
    assert r.returncode == 0, r.stderr
    steps = r.stdout.split("Next steps:\n", 1)[1].splitlines()
    add, serve, swaks = [s.strip().split() for s in steps[:3]]
    assert os.path.isabs(add[0]) and os.access(add[0], os.X_OK), add
    assert add[1:4] == ["-c", str(d / "sealmail.conf"), "user"], add
    assert serve[0] == add[0] and serve[-1] == "serve", serve
    assert swaks[0] == "swaks", swaks
    if shutil.which("swaks") is None:
        pytest.skip("swaks not installed")
    # user add prompts on a terminal; the same with the password on stdin
    r = subprocess.run(add + ["--password-stdin"], input="pw-0123456789\n",
                       capture_output=True, text=True, timeout=60 * SLOW)
    assert r.returncode == 0, r.stderr
    log = open(str(tmp_path / "serve.log"), "w")
    p = subprocess.Popen(serve, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20 * SLOW
        while True:
            try:
                socket.create_connection(("127.0.0.1", 5870), 1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "serve did not start"
                assert p.poll() is None, open(log.name).read()
                time.sleep(0.1)
        # swaks asks for the password on the terminal: give it here
        r = subprocess.run(swaks + ["--auth-password", "pw-0123456789"],
                           capture_output=True, text=True,
                           timeout=60 * SLOW)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "250 2.0.0" in r.stdout or "Queued" in r.stdout, r.stdout
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15 * SLOW)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()
