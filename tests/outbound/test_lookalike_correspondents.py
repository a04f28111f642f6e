# SPDX-License-Identifier: ISC
"""The domains our users write to join the lookalike check's protected set
(issue 15 item 2): alice on A sends to carol@remote.test (B); the queue
runner counts remote.test in A's store; then a message to alice on A's mx
listener From rernote.test (rn for m) carries a Sealmail-Warning naming
remote.test.
"""
import os
import smtplib
import sqlite3

import pytest

import remote_env as env
from remote_env import ALICE, CAROL, submit

import harness
from harness import new_marker, wait_until

pytestmark = pytest.mark.skipif(not env.dnsserver.have_tools(),
                                reason="nsd/ldnsutils not installed "
                                "(scripts/install-deps.sh test)")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    yield from env.world(tmp_path_factory)


def correspondents(d):
    db = sqlite3.connect(os.path.join(d.data_dir, "sealmail.db"))
    try:
        return dict(db.execute("SELECT domain, count FROM correspondents"))
    finally:
        db.close()


def test_written_to_domain_is_protected(world):
    w = world
    cfg = env.a_config(os.path.join(w["base"], "a-mx"), w["cert_a"],
                       w["dns"], w["mx_port"])
    cfg.listen("mx_plain", "mx", "none")
    a = w["pool"].start(cfg)
    marker = new_marker()
    submit(a, [CAROL], marker)
    w["b"].mailbox(CAROL).wait_for(marker)
    # Written every 5 s by the runner (and when it stops).
    wait_until(lambda: correspondents(a).get("remote.test") == 1, 20,
               what="remote.test counted in A's store")
    lst = a["mx_plain"]
    msg = (b"From: Carol <carol@rernote.test>\r\nTo: <%s>\r\n"
           b"Subject: lk-corr\r\n\r\nbody\r\n" % ALICE.encode())
    with smtplib.SMTP(lst.host, lst.port, timeout=30) as s:
        s.sendmail("carol@rernote.test", [ALICE], msg)
    raw = a.mailbox(ALICE).wait_for("lk-corr")[0]
    assert (b'Sealmail-Warning: lookalike; from="rernote.test";\r\n'
            b'\tresembles="remote.test"; reason=typo; first-seen=today\r\n') in \
        raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), raw
    assert set(correspondents(a)) == {"remote.test"}


def test_sendmail_users_counted(world):
    """A local user writing with `sealmail sendmail` (through the submit
    socket: client "local user root uid 0", no AUTH) is one of our users
    writing, not mail relayed for others: the domain is counted."""
    w = world
    cfg = env.a_config(os.path.join(w["base"], "a-sendmail"), w["cert_a"],
                       w["dns"], w["mx_port"])
    a = w["pool"].start(cfg)
    marker = new_marker()
    r = harness.run_cli(a.cfg.path, "sendmail", "-f", ALICE, CAROL,
                        input="Subject: %s\n\nx\n" % marker)
    assert r.returncode == 0, r.stderr
    w["b"].mailbox(CAROL).wait_for(marker)
    wait_until(lambda: correspondents(a).get("remote.test") == 1, 20,
               what="remote.test counted in A's store")
