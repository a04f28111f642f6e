/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for `sendmail`'s message handling (cli_sendmail_compose):
 * line-end conversion, the "." line, the header section's extent (mbox
 * line, field and continuation lines), Bcc: removal, the fields added and,
 * with -t, recipients from To:, Cc: and Bcc:. Input: byte 0 sets -t and
 * -i, the rest is standard input. Invariants of a queued message:
 *  - every line ends in CRLF (no bare CR or LF);
 *  - its header section (up to the first empty line, as the SMTP server
 *    splits it) holds no Bcc: field, read by msg/rfc5322_headers or line
 *    by line, and holds From:, Date: and Message-ID:;
 *  - without -i it holds no line that is a lone ".";
 *  - with -t there is at least one recipient, each a valid mailbox.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "msg/addr.h"
#include "msg/rfc5322_headers.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
rcpt(const char *address, void *arg)
{
	size_t *n = arg;
	struct addr a;

	CHECK(strchr(address, '@') != NULL);
	CHECK(addr_parse_mailbox(address, strlen(address), true, &a) ==
	    ADDR_OK);
	(*n)++;
}

/* "bcc" WSP* ":" at the start of a line, in any case. */
static bool
is_bcc_line(const char *p, size_t n)
{
	size_t i = 3;

	if (n < 4 || strncasecmp(p, "bcc", 3) != 0)
		return false;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out;
	size_t nrcpts = 0, hlen, pos;
	bool extract, dot_ends, from = false, date = false, msgid = false;
	const char *m, *end;
	struct rfc5322_headers h;
	struct rfc5322_field f;

	if (size < 1)
		return 0;
	extract = data[0] & 1;
	dot_ends = !(data[0] & 2);
	if (cli_sendmail_compose(data + 1, size - 1, extract, dot_ends, &out,
	    rcpt, &nrcpts) == -1) {
		buf_clear(&out);
		return 0;
	}
	CHECK(!extract || nrcpts > 0);
	CHECK(out.len >= 2);
	m = (const char *)out.data;
	for (size_t i = 0; i < out.len; i++) {
		if (m[i] == '\r')
			CHECK(i + 1 < out.len && m[i + 1] == '\n');
		if (m[i] == '\n')
			CHECK(i > 0 && m[i - 1] == '\r');
	}
	end = memmem(m, out.len, "\r\n\r\n", 4);
	hlen = memcmp(m, "\r\n", 2) == 0 ? 0 : end != NULL ?
	    (size_t)(end - m) + 2 : out.len;
	rfc5322_headers_init(&h, m, hlen);
	while (rfc5322_headers_next(&h, &f) == RFC5322_HEADERS_FIELD) {
		CHECK(!rfc5322_field_is(&f, "Bcc"));
		from |= rfc5322_field_is(&f, "From");
		date |= rfc5322_field_is(&f, "Date");
		msgid |= rfc5322_field_is(&f, "Message-ID");
	}
	CHECK(from && date && msgid);
	for (pos = 0; pos < hlen;) {
		const char *e = memmem(m + pos, hlen - pos, "\r\n", 2);
		size_t n = e != NULL ? (size_t)(e - (m + pos)) : hlen - pos;
		CHECK(!is_bcc_line(m + pos, n));
		pos += n + 2;
	}
	if (dot_ends) {
		CHECK(memmem(m, out.len, "\r\n.\r\n", 5) == NULL);
		CHECK(out.len < 3 || memcmp(m, ".\r\n", 3) != 0);
	}
	buf_clear(&out);
	return 0;
}
