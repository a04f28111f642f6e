# SPDX-License-Identifier: ISC
"""The admin listener's pages: /metrics checked by Prometheus's own parser
(promtool) with counts that match the traffic the test sent, and the status
page rendered by headless Chromium (DOM text and a screenshot kept in
build/ for a person to look at). The status page's 24 h history and recent
failures survive a restart (the totals do not), and a message that passes
DMARC (a real DNS server, tests/dns/dnsserver.py) shows in its DMARC
table."""

import os
import re
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from harness import SLOW, make_message, new_marker, wait_until

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "dns"))
import dnsserver  # noqa: E402
from mailcheck import login, send, smtp_connect

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SHOT = os.path.join(ROOT, "build", "status-page.png")
CHROMIUM = "/usr/bin/chromium"
PROMTOOL = "/usr/bin/promtool"


@pytest.fixture(scope="module")
def traffic(module_daemons, certs):
    """A daemon with an admin listener, and known traffic: four messages
    accepted (one over plaintext, three over TLS, one of them to a remote
    domain whose delivery fails), one recipient rejected."""
    cfg = module_daemons.config([certs["ec"]], ipv6=False)
    cfg.listen("admin", "admin", "none")
    # The remote delivery fails at once (every name is NXDOMAIN) and is
    # not retried within the test.
    cfg.delivery["retry_schedule"] = "1h"
    d = module_daemons.start(cfg)
    # The start-up probes of every listener are sessions too: counted
    # once they have all ended, and subtracted.
    d.base = scrape_when(d, lambda m: sessions(m) == m.get(
        "sealmail_connections_total"), "start-up sessions counted")
    marker = new_marker()
    s = smtp_connect(d["mx_plain"])
    send(s, "sender@sender.test", ["alice@example.test"],
         make_message("sender@sender.test", "alice@example.test", marker))
    s.quit()
    s = smtp_connect(d["mx_plain"])
    s.mail("sender@sender.test")
    code, _ = s.rcpt("nobody@example.test")
    assert code == 550
    s.quit()
    s = smtp_connect(d["mx"])
    send(s, "sender@sender.test", ["bob@example.test"],
         make_message("sender@sender.test", "bob@example.test", marker))
    s.quit()
    s = smtp_connect(d["submissions"])
    login(s)
    send(s, "alice@example.test", ["bob@example.test"],
         make_message("alice@example.test", "bob@example.test", marker))
    send(s, "alice@example.test", ["someone@nowhere.test"],
         make_message("alice@example.test", "someone@nowhere.test",
                      marker))
    s.quit()
    d.mailbox("alice@example.test").wait_for(marker)
    d.mailbox("bob@example.test").wait_for(marker, count=2)
    return d


def get(d, path):
    url = "http://%s:%d%s" % (d["admin"].host, d["admin"].port, path)
    with urllib.request.urlopen(url, timeout=10 * SLOW) as r:
        return r.status, r.headers, r.read().decode()


def samples(text):
    """{'name{labels}': value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, val = line.rpartition(" ")
            out[key] = float(val)
    return out


def sessions(m):
    return sum(v for k, v in m.items()
               if k.startswith("sealmail_sessions_total"))


def delta(d, m, key):
    return m.get(key, 0) - d.base.get(key, 0)


def scrape_when(d, pred, what):
    box = {}

    def ok():
        box["m"] = samples(get(d, "/metrics")[2])
        return pred(box["m"])
    try:
        wait_until(ok, 10 * SLOW, interval=0.2, what=what)
    except AssertionError:
        raise AssertionError("%s: %r" % (what, box.get("m")))
    return box["m"]


def counted(traffic):
    """The metrics once the test's traffic is all counted: four local
    deliveries (alice, bob twice, the bounce to alice), the failed remote
    one, and four more sessions ended."""
    return scrape_when(traffic, lambda m: m.get(
        'sealmail_deliveries_total{result="delivered",policy="local"}') == 4
        and m.get('sealmail_deliveries_total{result="bounced",'
                  'policy="none"}') == 1
        and sessions(m) - sessions(traffic.base) == 4,
        "deliveries and sessions counted")


def test_metrics_match_traffic(traffic):
    m = counted(traffic)
    assert m["sealmail_messages_accepted_total"] == 4
    assert m['sealmail_messages_rejected_total{reason="recipient"}'] == 1
    assert sum(v for k, v in m.items()
               if k.startswith("sealmail_messages_rejected_total")) == 1
    assert delta(traffic, m, 'sealmail_sessions_total{tls="none"}') == 2
    assert delta(traffic, m, 'sealmail_sessions_total{tls="TLSv1.3"}') == 2
    assert delta(traffic, m, "sealmail_connections_total") == 4
    assert sum(v for k, v in m.items()
               if k.startswith("sealmail_deliveries_total")) == 5
    # Inbound checks ran for the three mx messages (DNS says NXDOMAIN
    # to all: no SPF record, no DMARC policy).
    assert m['sealmail_auth_results_total{method="spf",result="none"}'] == 2
    assert m['sealmail_auth_results_total{method="dmarc",result="none"}'] \
        == 2
    assert m["sealmail_dns_query_duration_seconds_count"] >= 1
    assert m["sealmail_resident_memory_bytes"] > 1e6
    assert m["sealmail_processes"] == 5     # master, 2 workers, runner, keys
    assert m["sealmail_queue_messages"] >= 0


def test_metrics_promtool(traffic):
    status, headers, text = get(traffic, "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr


def test_unknown_path_404(traffic):
    for path in ("/metrics/", "/index.html", "/../etc/passwd"):
        with pytest.raises(urllib.error.HTTPError) as e:
            get(traffic, path)
        assert e.value.code == 404


def chromium(url, *args):
    prof = tempfile.mkdtemp(prefix="sealmail-chromium-")
    try:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--user-data-dir=" + prof,
             "--window-size=412,900"] + list(args) + [url],
            capture_output=True, text=True, timeout=60 * SLOW)
    finally:
        shutil.rmtree(prof, ignore_errors=True)


def page_field(html, id_):
    m = re.search(r'id="%s">([^<]*)<' % id_, html)
    assert m, "no #%s in the page" % id_
    return m.group(1)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_status_page_in_chromium(traffic):
    m = counted(traffic)
    tls = sessions(m) - m['sealmail_sessions_total{tls="none"}']
    url = "http://%s:%d/" % (traffic["admin"].host, traffic["admin"].port)
    r = chromium(url, "--dump-dom")
    assert r.returncode == 0, r.stderr
    dom = r.stdout

    def field(id_):
        return page_field(dom, id_)
    assert field("in-accepted") == "4"
    assert field("in-rejected") == "1"
    assert field("in-encrypted") == "%d%%" % (tls * 100 // sessions(m))
    assert field("out-failed") == "1"
    assert "someone@nowhere.test" in dom
    assert "<svg" in dom
    assert "<script" not in dom

    os.makedirs(os.path.dirname(SHOT), exist_ok=True)
    if os.path.exists(SHOT):
        os.unlink(SHOT)
    r = chromium(url, "--screenshot=" + SHOT)
    assert r.returncode == 0, r.stderr
    w, h = png_size(SHOT)
    assert (w, h) == (412, 900)
    # A blank page compresses to a few KiB.
    assert os.path.getsize(SHOT) > 20000


# Last in the module: it reloads and kills the daemon's children.
def test_counters_survive_reload_and_restart(traffic):
    counted(traffic)
    old = set(traffic.children())
    traffic.signal(signal.SIGHUP)
    wait_until(lambda: "master reloaded" in traffic.log_text(), 10 * SLOW,
               what="the reload")
    # A worker killed: the master starts another, the counts stay. A
    # worker the reload retired may exit just before the kill: take
    # another one then.
    for _ in range(50):
        worker = traffic.workers()[0]
        try:
            os.kill(worker, signal.SIGKILL)
            break
        except ProcessLookupError:
            time.sleep(0.1)
    else:
        raise AssertionError("no worker to kill")
    wait_until(lambda: worker not in traffic.workers() and
               len(traffic.workers()) == 2, 10 * SLOW,
               what="a new worker")
    m = scrape_when(traffic, lambda m: set(traffic.children()) != old,
                    "new children serving")
    assert m["sealmail_messages_accepted_total"] == 4
    assert m['sealmail_messages_rejected_total{reason="recipient"}'] == 1
    assert m['sealmail_deliveries_total{result="delivered",'
             'policy="local"}'] == 4


def store(d, sql):
    db = sqlite3.connect(os.path.join(d.data_dir, "sealmail.db"), timeout=10)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_history_survives_restart(daemons, certs, monkeypatch):
    """The runner saves the 24 h history and the failures (every second
    here: SEALMAIL_TEST_HISTORY_SECONDS, a test-only knob); after SIGTERM
    and a new start the status page still shows them, while /metrics
    counts from 0 again."""
    monkeypatch.setenv("SEALMAIL_TEST_HISTORY_SECONDS", "1")
    cfg = daemons.config([certs["ec"]], ipv6=False)
    cfg.listen("admin", "admin", "none")
    cfg.delivery["retry_schedule"] = "1h"
    d = daemons.start(cfg)
    marker = new_marker()
    s = smtp_connect(d["mx_plain"])
    send(s, "sender@sender.test", ["alice@example.test"],
         make_message("sender@sender.test", "alice@example.test", marker))
    s.mail("sender@sender.test")
    code, _ = s.rcpt("nobody@example.test")
    assert code == 550
    s.quit()
    s = smtp_connect(d["submissions"])
    login(s)
    send(s, "alice@example.test", ["gone@nowhere.test"],
         make_message("alice@example.test", "gone@nowhere.test", marker))
    s.quit()
    d.mailbox("alice@example.test").wait_for(marker)
    # The runner's periodic save, seen in the store.
    wait_until(lambda: store(d, "SELECT sum(accepted), sum(rejected), "
                         "sum(out_failed) FROM metrics_history") ==
               [(2, 1, 1)] and store(
                   d, "SELECT rcpt FROM metrics_failures") ==
               [("gone@nowhere.test",)], 10 * SLOW,
               what="the history saved by the runner")
    before = get(d, "/")[2]
    d.stop()
    d.start()
    status, _, html = get(d, "/")
    assert status == 200
    assert page_field(html, "in-accepted") == "2"
    assert page_field(html, "in-rejected") == "1"
    assert page_field(html, "out-failed") == "1"
    fails = html.split('id="failures"', 1)
    assert len(fails) == 2 and "gone@nowhere.test" in fails[1]
    # The same failure rows as before the restart.
    assert fails[1].split("</table>")[0] == \
        before.split('id="failures"', 1)[1].split("</table>")[0]
    m = samples(get(d, "/metrics")[2])
    assert m["sealmail_messages_accepted_total"] == 0
    assert sum(v for k, v in m.items()
               if k.startswith("sealmail_messages_rejected_total")) == 0
    assert sum(v for k, v in m.items()
               if k.startswith("sealmail_deliveries_total")) == 0


ZONE = """$TTL 300
@ IN SOA ns1.%(z)s. hostmaster.%(z)s. 1 3600 600 86400 300
@ IN NS ns1.%(z)s.
ns1 IN A 127.0.0.1
%(extra)s"""


@pytest.fixture
def dmarc_dns(tmp_path):
    """NSD serving pass.test: SPF allows 127.0.0.0/8, DMARC p=none."""
    if not dnsserver.have_tools():
        pytest.skip("nsd and ldnsutils are not installed")
    files = []
    for z, extra in (("test", ""), ("pass.test",
                     '@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
                     '_dmarc IN TXT "v=DMARC1; p=none"\n')):
        p = str(tmp_path / ("%s.zone" % z))
        with open(p, "w") as f:
            f.write(ZONE % {"z": z, "extra": extra})
        files.append(p)
    info = dnsserver.start(str(tmp_path / "dns"), files)
    yield info
    dnsserver.stop(str(tmp_path / "dns"))


def test_dmarc_pass_rate_shown(daemons, certs, dmarc_dns):
    cfg = daemons.config([certs["ec"]], ipv6=False)
    cfg.listen("admin", "admin", "none")
    cfg.dns = {"resolver": dmarc_dns["resolver"], "trust_anchor": "",
               "unbound_config": dmarc_dns["unbound_config"]}
    d = daemons.start(cfg)
    marker = new_marker()
    s = smtp_connect(d["mx"])
    send(s, "news@pass.test", ["alice@example.test"],
         make_message("news@pass.test", "alice@example.test", marker))
    s.quit()
    raw = d.mailbox("alice@example.test").wait_for(marker)[0]
    assert b"dmarc=pass" in raw
    box = {}

    def table():
        box["html"] = get(d, "/")[2]
        return 'id="dmarc"' in box["html"]
    # The worker writes its DMARC rows once a second.
    wait_until(table, 10 * SLOW, what="the DMARC table")
    rows = re.findall(r"<tr><td>([^<]*)</td><td>(\d+)</td><td>(\d+)</td>"
                      r"<td>(\d+)%", box["html"].split('id="dmarc"')[1])
    assert rows == [("pass.test", "1", "1", "100")]
    assert page_field(box["html"], "in-authenticated") == "100%"


def test_recipient_tempfail_not_rejected(daemons, certs):
    """A recipient the store cannot look up gets 451 (try again): a delay,
    not a refusal, so neither sealmail_messages_rejected_total nor the
    status page's rejections count it (as for any other 4xx)."""
    cfg = daemons.config([certs["ec"]], ipv6=False)
    cfg.listen("admin", "admin", "none")
    d = daemons.start(cfg)
    store(d, "ALTER TABLE users RENAME TO users_away")
    try:
        s = smtp_connect(d["mx_plain"])
        s.mail("sender@sender.test")
        code, _ = s.rcpt("alice@example.test")
        s.quit()
    finally:
        store(d, "ALTER TABLE users_away RENAME TO users")
    assert code == 451
    m = samples(get(d, "/metrics")[2])
    assert sum(v for k, v in m.items()
               if k.startswith("sealmail_messages_rejected_total")) == 0
    assert page_field(get(d, "/")[2], "in-rejected") == "0"
