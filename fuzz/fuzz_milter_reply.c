/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for what a milter sends back (milter/milter_proto.h):
 * the input is a stream of packets. Each framed packet is decoded; a
 * decoded header action is applied to a header section (milter_edit.h),
 * a REPLYCODE is sanitised, an OPTNEG negotiated, and the invariants the
 * session relies on are checked: fields inside the packet, the bound on a
 * packet, a sanitised reply that is one valid 4xx/5xx line, a header
 * section that stays within its max and gains no empty line.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/limits.h"
#include "fuzz_check.h"
#include "milter/milter_edit.h"
#include "milter/milter_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
fuzz_inside(const void *p, size_t n, const uint8_t *d, size_t dlen)
{
	const uint8_t *q = p;

	return q >= d && q + n <= d + dlen;
}

/* A sanitised reply: 1..MILTER_REPLY_LINES lines joined with CRLF, each
 * a valid reply line of the same 4xx/5xx code ("CODE-" but the last,
 * "CODE "), with an enhanced code of its class, printable ASCII only. */
static void
fuzz_reply_line(const struct milter_reply *r)
{
	char out[MILTER_REPLY_MAX];
	const char *p, *e;
	size_t lines = 0;

	if (milter_reply_sanitize(r->name, r->name_len, out,
	    sizeof(out)) == -1)
		return;
	for (p = out;; p = e + 2) {
		const char *nl = strstr(p, "\r\n");
		size_t n;

		e = nl != NULL ? nl : p + strlen(p);
		n = (size_t)(e - p);
		lines++;
		CHECK(n >= 9 && n < LIMIT_REPLY_LINE - 2);
		CHECK(p[0] == '4' || p[0] == '5');
		CHECK(memcmp(p, out, 3) == 0);
		CHECK(p[3] == (nl != NULL ? '-' : ' '));
		CHECK(p[4] == p[0] && p[5] == '.');
		for (size_t i = 0; i < n; i++)
			CHECK(p[i] >= 0x20 && p[i] < 0x7f);
		if (nl == NULL)
			break;
	}
	CHECK(lines >= 1 && lines <= MILTER_REPLY_LINES);
}

static void
fuzz_edit(struct buf *h, const struct milter_reply *r)
{
	int rc;

	if (r->kind == MILTER_R_ADDHEADER)
		rc = milter_edit_add(h, r->name, r->name_len, r->value,
		    r->value_len);
	else if (r->kind == MILTER_R_INSHEADER)
		rc = milter_edit_insert(h, r->index, r->name, r->name_len,
		    r->value, r->value_len);
	else
		rc = milter_edit_change(h, r->index, r->name, r->name_len,
		    r->value, r->value_len);
	(void)rc;
	CHECK(h->len <= h->max);
	/* Never an empty line (the section would end there), never a bare
	 * CR or LF. */
	for (size_t i = 0; i < h->len; i++) {
		if (h->data[i] == '\n')
			CHECK(i > 0 && h->data[i - 1] == '\r');
		if (h->data[i] == '\r')
			CHECK(i + 1 < h->len && h->data[i + 1] == '\n');
	}
	CHECK(h->len < 2 || h->data[0] != '\r');
	CHECK(h->len < 4 || memmem(h->data, h->len, "\r\n\r\n", 4) == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf h;
	size_t off = 0;

	buf_init(&h, 4096);
	buf_append_str(&h, "From: a@b.test\r\nSubject: x\r\n y\r\n");
	while (off < size) {
		uint8_t cmd;
		const uint8_t *d;
		size_t dlen, used;
		struct milter_reply r;
		struct milter_neg neg;

		if (milter_frame_next(data + off, size - off, &cmd, &d, &dlen,
		    &used) != MILTER_FRAME_OK)
			break;
		CHECK(used >= 5 && used <= size - off);
		CHECK(used - 4 <= LIMIT_MILTER_PACKET);
		off += used;
		if (milter_reply_parse(cmd, d, dlen, &r) != MILTER_PARSE_OK)
			continue;
		if (r.name != NULL) {
			CHECK(fuzz_inside(r.name, r.name_len + 1, d, dlen));
			CHECK(r.name[r.name_len] == '\0');
		}
		if (r.value != NULL)
			CHECK(fuzz_inside(r.value, r.value_len + 1, d, dlen));
		if (r.body != NULL)
			CHECK(fuzz_inside(r.body, r.body_len, d, dlen));
		switch (r.kind) {
		case MILTER_R_REPLYCODE:
			fuzz_reply_line(&r);
			break;
		case MILTER_R_ADDHEADER: case MILTER_R_INSHEADER:
		case MILTER_R_CHGHEADER:
			CHECK(milter_valid_header_name(r.name, r.name_len));
			fuzz_edit(&h, &r);
			break;
		case MILTER_R_OPTNEG:
			if (milter_negotiate(&r, MILTER_OFFER_ACTIONS,
			    MILTER_OFFER_PROTOCOL, &neg) == 0) {
				CHECK((neg.actions & ~MILTER_OFFER_ACTIONS) == 0);
				CHECK((neg.protocol & ~MILTER_OFFER_PROTOCOL) ==
				    0);
				CHECK(neg.version >= 2 &&
				    neg.version <= MILTER_VERSION);
			}
			break;
		default:
			break;
		}
	}
	buf_clear(&h);
	return 0;
}
