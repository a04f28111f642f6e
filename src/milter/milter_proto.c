/* SPDX-License-Identifier: ISC */
/*
 * Milter protocol v6 packets: encoders for what we send, the bounded
 * decoder of what a milter answers (untrusted), option negotiation, and
 * the sanitising of a milter's custom SMTP reply.
 */
#include "milter/milter_proto.h"

#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "smtpc/smtpc_reply.h"

static void
milter_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
milter_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* A packet being built in b from byte `start`: its header is written
 * first with a placeholder length, fixed by milter_pkt_end. */
static size_t
milter_pkt_begin(struct buf *b, char cmd, bool *ok)
{
	uint8_t h[5] = { 0, 0, 0, 0, (uint8_t)cmd };
	size_t start = b->len;

	*ok = buf_append(b, h, sizeof(h)) == 0;
	return start;
}

static void
milter_pkt_add(struct buf *b, const void *p, size_t n, bool *ok)
{
	if (*ok && n > 0 && buf_append(b, p, n) == -1)
		*ok = false;
}

/* A NUL-terminated string field. */
static void
milter_pkt_str(struct buf *b, const char *s, bool *ok)
{
	milter_pkt_add(b, s, strlen(s) + 1, ok);
}

static int
milter_pkt_end(struct buf *b, size_t start, bool ok)
{
	size_t n = b->len - start - 4;

	if (!ok || n > LIMIT_MILTER_PACKET) {
		buf_truncate(b, start);
		return -1;
	}
	milter_put32(b->data + start, (uint32_t)n);
	return 0;
}

int
milter_enc_optneg(struct buf *b, uint32_t version, uint32_t actions,
    uint32_t protocol)
{
	uint8_t w[12];
	bool ok;
	size_t start = milter_pkt_begin(b, MILTER_CMD_OPTNEG, &ok);

	milter_put32(w, version);
	milter_put32(w + 4, actions);
	milter_put32(w + 8, protocol);
	milter_pkt_add(b, w, sizeof(w), &ok);
	return milter_pkt_end(b, start, ok);
}

int
milter_enc_macro(struct buf *b, char stage, const char *const *names,
    const char *const *values, size_t n)
{
	bool ok;
	size_t start = milter_pkt_begin(b, MILTER_CMD_MACRO, &ok);

	milter_pkt_add(b, &stage, 1, &ok);
	for (size_t i = 0; i < n; i++) {
		milter_pkt_str(b, names[i], &ok);
		milter_pkt_str(b, values[i], &ok);
	}
	return milter_pkt_end(b, start, ok);
}

int
milter_enc_connect(struct buf *b, const char *host, char family,
    uint16_t port, const char *addr)
{
	uint8_t pb[2] = { (uint8_t)(port >> 8), (uint8_t)port };
	bool ok;
	size_t start = milter_pkt_begin(b, MILTER_CMD_CONNECT, &ok);

	milter_pkt_str(b, host, &ok);
	milter_pkt_add(b, &family, 1, &ok);
	if (family != 'U') {	/* unknown: no port and no address */
		milter_pkt_add(b, pb, 2, &ok);
		milter_pkt_str(b, addr, &ok);
	}
	return milter_pkt_end(b, start, ok);
}

int
milter_enc_helo(struct buf *b, const char *helo)
{
	bool ok;
	size_t start = milter_pkt_begin(b, MILTER_CMD_HELO, &ok);

	milter_pkt_str(b, helo, &ok);
	return milter_pkt_end(b, start, ok);
}

int
milter_enc_args(struct buf *b, char cmd, const char *const *args, size_t n)
{
	bool ok;
	size_t start = milter_pkt_begin(b, cmd, &ok);

	for (size_t i = 0; i < n; i++)
		milter_pkt_str(b, args[i], &ok);
	return milter_pkt_end(b, start, ok);
}

int
milter_enc_header(struct buf *b, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	bool ok;
	size_t start = milter_pkt_begin(b, MILTER_CMD_HEADER, &ok);

	milter_pkt_add(b, name, nlen, &ok);
	milter_pkt_add(b, "", 1, &ok);
	milter_pkt_add(b, value, vlen, &ok);
	milter_pkt_add(b, "", 1, &ok);
	return milter_pkt_end(b, start, ok);
}

int
milter_enc_body(struct buf *b, const void *p, size_t n)
{
	bool ok;
	size_t start = milter_pkt_begin(b, MILTER_CMD_BODY, &ok);

	milter_pkt_add(b, p, n, &ok);
	return milter_pkt_end(b, start, ok);
}

int
milter_enc_simple(struct buf *b, char cmd)
{
	bool ok;
	size_t start = milter_pkt_begin(b, cmd, &ok);

	return milter_pkt_end(b, start, ok);
}

enum milter_frame
milter_frame_next(const uint8_t *p, size_t len, uint8_t *cmd,
    const uint8_t **data, size_t *dlen, size_t *used)
{
	uint32_t n;

	if (len < 4)
		return MILTER_FRAME_MORE;
	n = milter_get32(p);
	/* Checked before waiting for the rest: a milter announcing 4 GiB
	 * must not make us buffer it. */
	if (n == 0 || n > LIMIT_MILTER_PACKET)
		return MILTER_FRAME_BAD;
	if (len - 4 < n)
		return MILTER_FRAME_MORE;
	*cmd = p[4];
	*data = p + 5;
	*dlen = n - 1;
	*used = (size_t)n + 4;
	return MILTER_FRAME_OK;
}

/* The NUL-terminated string at *off in data (len bytes): its start and
 * length, *off moved past the NUL; false if no NUL ends it. */
static bool
milter_take_str(const uint8_t *data, size_t len, size_t *off,
    const char **s, size_t *slen)
{
	const uint8_t *nul;

	if (*off >= len)
		return false;
	nul = memchr(data + *off, '\0', len - *off);
	if (nul == NULL)
		return false;
	*s = (const char *)(data + *off);
	*slen = (size_t)(nul - (data + *off));
	*off += *slen + 1;
	return true;
}

/* name\0value\0, optionally after a 32-bit index; nothing may follow. */
static enum milter_parse
milter_parse_header(const uint8_t *data, size_t len, bool indexed,
    struct milter_reply *r)
{
	size_t off = 0;

	if (indexed) {
		if (len < 4)
			return MILTER_PARSE_BAD;
		r->index = milter_get32(data);
		off = 4;
	}
	if (!milter_take_str(data, len, &off, &r->name, &r->name_len) ||
	    !milter_take_str(data, len, &off, &r->value, &r->value_len) ||
	    off != len || !milter_valid_header_name(r->name, r->name_len))
		return MILTER_PARSE_BAD;
	return MILTER_PARSE_OK;
}

/* One string, optionally (args) a second; then the end. */
static enum milter_parse
milter_parse_strs(const uint8_t *data, size_t len, bool args,
    struct milter_reply *r)
{
	size_t off = 0;

	if (!milter_take_str(data, len, &off, &r->name, &r->name_len))
		return MILTER_PARSE_BAD;
	if (args && off < len && !milter_take_str(data, len, &off, &r->value,
	    &r->value_len))
		return MILTER_PARSE_BAD;
	return off == len ? MILTER_PARSE_OK : MILTER_PARSE_BAD;
}

enum milter_parse
milter_reply_parse(uint8_t cmd, const uint8_t *data, size_t len,
    struct milter_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = (enum milter_reply_kind)cmd;
	switch (cmd) {
	case MILTER_R_ACCEPT: case MILTER_R_CONTINUE: case MILTER_R_DISCARD:
	case MILTER_R_REJECT: case MILTER_R_TEMPFAIL: case MILTER_R_SKIP:
	case MILTER_R_PROGRESS: case MILTER_R_SHUTDOWN: case MILTER_R_CONN_FAIL:
		return len == 0 ? MILTER_PARSE_OK : MILTER_PARSE_BAD;
	case MILTER_R_OPTNEG:
		/* Macro lists may follow the three words (SETSYMLIST by
		 * negotiation): in body, for milter_negotiate. */
		if (len < 12)
			return MILTER_PARSE_BAD;
		r->version = milter_get32(data);
		r->actions = milter_get32(data + 4);
		r->protocol = milter_get32(data + 8);
		r->body = data + 12;
		r->body_len = len - 12;
		return MILTER_PARSE_OK;
	case MILTER_R_ADDHEADER:
		return milter_parse_header(data, len, false, r);
	case MILTER_R_INSHEADER: case MILTER_R_CHGHEADER:
		return milter_parse_header(data, len, true, r);
	case MILTER_R_ADDRCPT: case MILTER_R_DELRCPT:
	case MILTER_R_QUARANTINE: case MILTER_R_REPLYCODE:
		return milter_parse_strs(data, len, false, r);
	case MILTER_R_CHGFROM: case MILTER_R_ADDRCPT_PAR:
		return milter_parse_strs(data, len, true, r);
	case MILTER_R_REPLBODY:
		r->body = data;
		r->body_len = len;
		return MILTER_PARSE_OK;
	case MILTER_R_SETSYMLIST:
		return len >= 5 ? MILTER_PARSE_OK : MILTER_PARSE_BAD;
	default:
		return MILTER_PARSE_UNKNOWN;
	}
}

int
milter_negotiate(const struct milter_reply *r, uint32_t offer_actions,
    uint32_t offer_protocol, struct milter_neg *out)
{
	size_t off = 0;

	if (r->kind != MILTER_R_OPTNEG || r->version < 2 ||
	    (r->actions & ~offer_actions) != 0 ||
	    (r->protocol & ~offer_protocol) != 0)
		return -1;
	memset(out, 0, sizeof(*out));
	out->version = r->version < MILTER_VERSION ? r->version :
	    MILTER_VERSION;
	out->actions = r->actions;
	out->protocol = r->protocol;
	/* The lists count only with the action negotiated (else they are
	 * ignored, as Postfix does); each: a 32-bit stage, then the
	 * names, NUL-ended, bounded. */
	if (!(out->actions & MILTER_ACT_SETSYMLIST))
		return 0;
	while (r->body != NULL && off < r->body_len) {
		const char *list;
		size_t llen;
		uint32_t st;

		if (r->body_len - off < 4)
			return -1;
		st = milter_get32(r->body + off);
		off += 4;
		if (st >= MILTER_SYMLIST_STAGES || !milter_take_str(r->body,
		    r->body_len, &off, &list, &llen) ||
		    llen > LIMIT_MILTER_SYMLIST)
			return -1;
		memcpy(out->symlist[st], list, llen);
		out->symlist[st][llen] = '\0';
		out->has_symlist[st] = true;
	}
	return 0;
}

bool
milter_valid_header_name(const char *name, size_t len)
{
	if (len == 0 || len > LIMIT_MILTER_HEADER_NAME)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] < 33 || name[i] > 126 || name[i] == ':')
			return false;
	return true;
}

/* One line of a reply (n bytes, no line end) appended to out at *o as
 * "CODE-X.Y.Z text" (the caller turns the last '-' into ' '); *code is
 * the first line's, which every later line must repeat. -1 if the line
 * is not a 4xx/5xx reply line. */
static int
milter_reply_line(const char *text, size_t n, int *code, char *out,
    size_t outlen, size_t *o)
{
	char line[LIMIT_REPLY_LINE];
	struct smtpc_reply r;
	size_t k, start = *o;
	int rc = -1;

	if (n > sizeof(line) - 3)
		n = sizeof(line) - 3;
	memcpy(line, text, n);
	if (n > 3 && line[3] == '-')
		line[3] = ' ';
	smtpc_reply_init(&r);
	if (smtpc_reply_push(&r, line, n) != SMTPC_REPLY_DONE ||
	    (r.code / 100 != 4 && r.code / 100 != 5) ||
	    (*code != 0 && r.code != *code) ||
	    (start > 0 ? start + 2 : 0) + LIMIT_REPLY_LINE > outlen)
		goto out;
	*code = r.code;
	if (start > 0) {
		out[(*o)++] = '\r';
		out[(*o)++] = '\n';
	}
	/* The parser takes an enhanced code only of the reply's class
	 * (another stays in the text): else ours. */
	k = (size_t)snprintf(out + *o, outlen - *o, "%d-%s", r.code,
	    r.enhanced[0] ? r.enhanced : r.code / 100 == 4 ? "4.7.1" : "5.7.1");
	k += *o;
	if (r.text.len > 0)
		out[k++] = ' ';
	for (size_t i = 0; i < r.text.len && k - *o + 1 < LIMIT_REPLY_LINE - 2;
	    i++) {
		unsigned char c = r.text.data[i];
		out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[k] = '\0';
	*o = k;
	rc = 0;
out:
	smtpc_reply_clear(&r);
	return rc;
}

int
milter_reply_sanitize(const char *text, size_t len, char *out,
    size_t outlen)
{
	size_t o = 0, last = 0, i = 0, nlines = 0;
	int code = 0;

	if (outlen < LIMIT_REPLY_LINE)
		return -1;
	out[0] = '\0';
	/* Lines end in CRLF (or a bare CR or LF); empty ones are skipped,
	 * lines past MILTER_REPLY_LINES or past outlen dropped. */
	while (i < len && nlines < MILTER_REPLY_LINES) {
		size_t n = 0;

		while (i + n < len && text[i + n] != '\r' && text[i + n] != '\n')
			n++;
		if (n > 0) {
			size_t before = o;
			if (o > 0 && o + 2 + LIMIT_REPLY_LINE > outlen)
				break;
			if (milter_reply_line(text + i, n, &code, out, outlen,
			    &o) == -1)
				return -1;
			last = before == 0 ? 0 : before + 2;
			nlines++;
		}
		i += n;
		while (i < len && (text[i] == '\r' || text[i] == '\n'))
			i++;
	}
	if (nlines == 0)
		return -1;
	out[last + 3] = ' ';
	return 0;
}
