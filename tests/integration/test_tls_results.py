# SPDX-License-Identifier: ISC
"""`sealmail tls-results`: the outbound TLS sessions of a UTC day as text
and as RFC 8460 §4.4 "policies" JSON. The rows are recorded through the
store's own API (db_tls_result_defer/flush) by the test helper
build/test/helpers/tls_results_fill (tests/helpers/tls_results_fill.c),
since sealmail has no command that inserts them; the counts-match-what-
happened test comes with remote delivery."""

import calendar
import json
import os
import subprocess
import time

import pytest

from harness import Config, provision, run_cli, sealmail_bin

# 2026-12-05 00:00:00 UTC
T0 = calendar.timegm((2026, 12, 5, 0, 0, 0))
TLSA = "3 1 1 aabbccdd\\n2 1 1 eeff0011"
STS = "version: STSv1\\nmode: enforce\\nmx: *.b.example\\nmax_age: 86400"


def fill_bin():
    return os.path.join(os.path.dirname(sealmail_bin()), "test", "helpers",
                        "tls_results_fill")


def fill(cfg, rows):
    """Record rows (tuples of the 11 fields of struct db_tls_result)."""
    text = "".join("\t".join(str(f) for f in r) + "\n" for r in rows)
    r = subprocess.run([fill_bin(), os.path.join(cfg.data_dir,
                                                 "sealmail.db")],
                       input=text, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr


def dane(t, result="success", code="", ip="198.51.100.7"):
    return (t, "a.example", "tlsa", TLSA, "mx.a.example", "192.0.2.1",
            "mx.a.example", "mx1.a.example", ip, result, code)


def sts(t, result="success", ip="203.0.113.5"):
    return (t, "b.example", "sts", STS, "*.b.example", "192.0.2.1",
            "mx.b.example", "", ip, result, "")


def nopolicy(t, result="success"):
    return (t, "c.example", "no-policy-found", "", "", "", "mx.c.example",
            "", "203.0.113.9", result, "")


@pytest.fixture
def store(tmp_path, certs):
    if not os.access(fill_bin(), os.X_OK):
        pytest.fail("%s missing: make build/test/helpers/tls_results_fill"
                    % fill_bin())
    cfg = Config(str(tmp_path), [certs["ec"]])
    cfg.listen("mx", "mx", "starttls")
    provision(cfg)
    return cfg


def results(cfg, *args):
    r = run_cli(cfg.path, "tls-results", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_json_is_rfc8460_policies(store):
    fill(store, [dane(T0 + 1)] * 3 +
         [dane(T0 + 2, "validation-failure", "no TLSA record matches")] * 2 +
         [sts(T0 + 3)] * 4 + [sts(T0 + 4, "certificate-expired")] +
         [sts(T0 + 5, "certificate-expired", ip="203.0.113.6")] +
         [nopolicy(T0 + 6)] * 2 +
         # the day before and the day after, to the second
         [dane(T0 - 1), nopolicy(T0 + 86400, "starttls-not-supported")])
    out = json.loads(results(store, "--day", "2026-12-05", "--json"))
    assert out["date"] == "2026-12-05"
    pols = {p["policy"]["policy-domain"]: p for p in out["policies"]}
    assert sorted(pols) == ["a.example", "b.example", "c.example"]
    a = pols["a.example"]
    assert a["policy"] == {
        "policy-type": "tlsa",
        "policy-string": ["3 1 1 aabbccdd", "2 1 1 eeff0011"],
        "policy-domain": "a.example", "mx-host": "mx.a.example"}
    assert a["summary"] == {"total-successful-session-count": 3,
                            "total-failure-session-count": 2}
    assert a["failure-details"] == [{
        "result-type": "validation-failure",
        "sending-mta-ip": "192.0.2.1",
        "receiving-mx-hostname": "mx.a.example",
        "receiving-mx-helo": "mx1.a.example",
        "receiving-ip": "198.51.100.7",
        "failed-session-count": 2,
        "failure-reason-code": "no TLSA record matches"}]
    b = pols["b.example"]
    assert b["policy"] == {
        "policy-type": "sts",
        "policy-string": ["version: STSv1", "mode: enforce",
                          "mx: *.b.example", "max_age: 86400"],
        "policy-domain": "b.example", "mx-host": ["*.b.example"]}
    assert b["summary"] == {"total-successful-session-count": 4,
                            "total-failure-session-count": 2}
    # no EHLO name and no reason code: those keys are left out
    assert sorted((f["receiving-ip"], f["failed-session-count"])
                  for f in b["failure-details"]) == \
        [("203.0.113.5", 1), ("203.0.113.6", 1)]
    assert all(set(f) == {"result-type", "sending-mta-ip",
                          "receiving-mx-hostname", "receiving-ip",
                          "failed-session-count"}
               for f in b["failure-details"])
    c = pols["c.example"]
    assert c["policy"] == {"policy-type": "no-policy-found",
                           "policy-string": [],
                           "policy-domain": "c.example"}
    assert c["summary"] == {"total-successful-session-count": 2,
                            "total-failure-session-count": 0}
    assert c["failure-details"] == []
    # Each neighbouring UTC day has its own one session.
    before = json.loads(results(store, "--day", "2026-12-04", "--json"))
    assert [p["summary"] for p in before["policies"]] == [
        {"total-successful-session-count": 1,
         "total-failure-session-count": 0}]
    after = json.loads(results(store, "--json", "--day", "2026-12-06"))
    assert [(p["policy"]["policy-domain"],
             p["failure-details"][0]["result-type"])
            for p in after["policies"]] == [("c.example",
                                             "starttls-not-supported")]


def test_text(store):
    fill(store, [dane(T0 + 1)] * 2 +
         [dane(T0 + 2, "validation-failure", "no TLSA record matches")] +
         [sts(T0 + 3, "certificate-expired")])
    out = results(store, "--day", "2026-12-05")
    assert out.startswith("date: 2026-12-05 (UTC)\n"), out
    a = out.split("policy-domain: a.example\n", 1)[1].split("\n\n")[0]
    assert "  policy-type: tlsa\n" in a
    assert "  mx-host: mx.a.example\n" in a
    assert "  policy-string: 3 1 1 aabbccdd\n" \
        "  policy-string: 2 1 1 eeff0011\n" in a
    assert "  successful: 2\n  failed: 1\n" in a
    assert "  failure: validation-failure count=1 " \
        "receiving-mx-hostname=mx.a.example receiving-ip=198.51.100.7 " \
        "sending-mta-ip=192.0.2.1 receiving-mx-helo=mx1.a.example " \
        "failure-reason-code=\"no TLSA record matches\"" in a, a
    b = out.split("policy-domain: b.example\n", 1)[1]
    assert "  policy-type: sts\n  mx-host: *.b.example\n" in b
    assert "  successful: 0\n  failed: 1\n" in b


def test_default_day_is_today_utc(store):
    now = int(time.time())
    fill(store, [nopolicy(now)])
    out = json.loads(results(store, "--json"))
    # A run across midnight UTC sees the next day: accept either.
    today = [time.strftime("%Y-%m-%d", time.gmtime(t))
             for t in (now, time.time())]
    assert out["date"] in today
    if out["date"] == today[0]:
        assert [p["policy"]["policy-domain"]
                for p in out["policies"]] == ["c.example"]


def test_empty_day(store):
    out = results(store, "--day", "2001-01-01")
    assert out == "date: 2001-01-01 (UTC)\nno outbound TLS sessions " \
        "recorded\n", out
    assert json.loads(results(store, "--day", "2001-01-01", "--json")) == \
        {"date": "2001-01-01", "policies": []}


def test_untrusted_text_escaped(store):
    """An EHLO name is the remote server's text: escaped on the terminal,
    ASCII in JSON."""
    row = list(dane(T0, "validation-failure"))
    row[7] = "evil\x1b[2J\xe9.example"
    fill(store, [tuple(row)])
    out = results(store, "--day", "2026-12-05")
    assert "\x1b" not in out and "receiving-mx-helo=evil\\x1b[2J" in out, \
        out
    j = json.loads(results(store, "--day", "2026-12-05", "--json"))
    helo = j["policies"][0]["failure-details"][0]["receiving-mx-helo"]
    assert helo == "evil\x1b[2J??.example", helo


@pytest.mark.parametrize("args", [["--day", "2026-02-30"],
                                  ["--day", "5.12.2026"], ["--day"],
                                  ["--xml"]])
def test_usage(store, args):
    r = run_cli(store.path, "tls-results", *args)
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    assert r.stdout == ""
