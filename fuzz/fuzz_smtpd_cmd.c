/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the SMTP command parser: the input is one command
 * line (without CRLF). It is split into verb and argument, and the
 * argument (and the whole line) is run through the MAIL, RCPT and BDAT
 * parsers whatever the verb, so every parser sees every shape of input.
 * Invariants: the argument lies inside the line; every parsed address and
 * parameter value is NUL-terminated, within its limit, and an address
 * re-parses to itself; a non-ASCII path only with SMTPUTF8.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd_cmd.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* A parsed address: terminated, within limits, lower-case domain, and
 * its text form parses back to the same thing. */
static void
check_addr(const struct addr *a, bool utf8)
{
	char text[LIMIT_PATH + 8];
	struct addr b;

	CHECK(memchr(a->local, '\0', sizeof(a->local)) != NULL);
	CHECK(memchr(a->domain, '\0', sizeof(a->domain)) != NULL);
	CHECK(strlen(a->domain) <= LIMIT_DOMAIN);
	CHECK(a->local[0] != '\0' && a->domain[0] != '\0');
	for (const char *p = a->domain; *p; p++)
		CHECK(!(*p >= 'A' && *p <= 'Z') || strncmp(a->domain, "[IPv6:",
		    6) == 0);
	if (!utf8)
		CHECK(!has_8bit(a->local) && !has_8bit(a->domain));
	CHECK(addr_to_text(a, text, sizeof(text)) == 0);
	CHECK(strlen(text) + 2 <= LIMIT_PATH);
	CHECK(addr_parse_mailbox(text, strlen(text), utf8, &b) == ADDR_OK);
	CHECK(strcmp(a->local, b.local) == 0);
	CHECK(strcmp(a->domain, b.domain) == 0);
	CHECK(addr_text_equal(text, text));
}

static void
check_mail(const char *arg, size_t len)
{
	struct smtpd_mail_args m;

	if (smtpd_cmd_parse_mail(arg, len, &m) != SMTPD_CMD_OK)
		return;
	if (m.is_null)
		CHECK(m.from.local[0] == '\0' && m.from.domain[0] == '\0');
	else
		check_addr(&m.from, m.smtputf8);
	CHECK(memchr(m.envid, '\0', sizeof(m.envid)) != NULL);
	CHECK(memchr(m.auth, '\0', sizeof(m.auth)) != NULL);
	CHECK(m.has_envid == (m.envid[0] != '\0'));
	CHECK(m.has_auth == (m.auth[0] != '\0'));
	CHECK(!has_8bit(m.envid) && !has_8bit(m.auth));
	CHECK(m.body <= ENVELOPE_BODY_BINARYMIME);
	CHECK(m.ret <= ENVELOPE_RET_HDRS);
}

static void
check_rcpt(const char *arg, size_t len, bool utf8)
{
	struct smtpd_rcpt_args r;

	if (smtpd_cmd_parse_rcpt(arg, len, utf8, &r) != SMTPD_CMD_OK)
		return;
	if (r.postmaster)
		CHECK(strcmp(r.to.local, "postmaster") == 0 &&
		    r.to.domain[0] == '\0');
	else
		check_addr(&r.to, utf8);
	CHECK(memchr(r.orcpt, '\0', sizeof(r.orcpt)) != NULL);
	CHECK(r.has_orcpt == (r.orcpt[0] != '\0'));
	CHECK(r.has_orcpt == (strchr(r.orcpt, ';') != NULL));
	CHECK((r.notify & ~0xfu) == 0);
	CHECK(!(r.notify & ENVELOPE_NOTIFY_NEVER) ||
	    r.notify == ENVELOPE_NOTIFY_NEVER);
}

static void
check_all(const char *arg, size_t len)
{
	uint64_t sz;
	bool last;

	check_mail(arg, len);
	check_rcpt(arg, len, false);
	check_rcpt(arg, len, true);
	if (smtpd_cmd_parse_bdat(arg, len, &sz, &last) != SMTPD_CMD_OK)
		CHECK(sz == 0 && !last);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct smtpd_cmd c;
	enum smtpd_cmd_result r;

	/* Longer than any line the session accepts (RFC 3461 §6: 1036). */
	if (size > 4096)
		return 0;
	r = smtpd_cmd_parse(line, size, &c);
	const char *reply = smtpd_cmd_error_reply(r);
	CHECK(reply != NULL && strlen(reply) > 10 && reply[3] == ' ');
	CHECK(strpbrk(reply, "\r\n") == NULL);
	if (c.arglen > 0) {
		CHECK(c.arg > line && c.arg + c.arglen <= line + size);
		CHECK(c.arg[-1] == ' ');
		CHECK(c.arg[c.arglen - 1] != ' ');
	} else
		CHECK(c.arg != NULL);
	if (r == SMTPD_CMD_OK) {
		CHECK(c.verb != SMTPD_VERB_UNKNOWN);
		CHECK(memchr(line, '\0', size) == NULL);
		CHECK(memchr(line, '\n', size) == NULL);
	}
	if (r == SMTPD_CMD_ERR_UNKNOWN)
		CHECK(c.verb == SMTPD_VERB_UNKNOWN);
	check_all(c.arg, c.arglen);
	check_all(line, size);
	return 0;
}
