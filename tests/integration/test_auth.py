# SPDX-License-Identifier: ISC
"""SMTP AUTH beyond the basics of test_roles_tls.py: the empty initial
response (RFC 4954 §4), log lines that client text cannot forge fields
into, and password checks that do not hold up the worker's other
sessions."""

import re
import shlex
import time

import pytest

from harness import wait_until
from smtpraw import RawSMTP

ALICE = "alice@example.test"


def test_auth_plain_empty_initial_response(mta):
    """'AUTH PLAIN =' is an initial response of zero length, not a request
    for a 334 challenge; an empty PLAIN message is malformed."""
    with RawSMTP.to(mta["submissions"], source="127.0.0.21") as c:
        c.ehlo()
        r = c.cmd("AUTH PLAIN =")
        assert (r.code, r.enhanced) == (501, "5.5.2"), r
        # Back to commands: the next line is a command, not a response.
        c.expect("NOOP", 250, "2.0.0")


def test_auth_login_empty_initial_response(mta):
    with RawSMTP.to(mta["submissions"], source="127.0.0.21") as c:
        c.ehlo()
        r = c.cmd("AUTH LOGIN =")
        assert (r.code, r.enhanced) == (501, "5.5.2"), r
        c.expect("NOOP", 250, "2.0.0")
