/* SPDX-License-Identifier: ISC */
/*
 * SMTP reply parser and EHLO capability reader for the client. Lines come
 * from the remote server: every length is checked before anything is copied,
 * and the number of lines per reply is capped, so a hostile server can make
 * us buffer at most SMTPC_REPLY_MAX_LINES * LIMIT_REPLY_LINE octets.
 */
#include "smtpc/smtpc_reply.h"

#include <string.h>
#include <strings.h>

#include "core/limits.h"

void
smtpc_reply_init(struct smtpc_reply *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->text, (size_t)SMTPC_REPLY_MAX_LINES * LIMIT_REPLY_LINE);
}

void
smtpc_reply_clear(struct smtpc_reply *r)
{
	buf_clear(&r->text);
	memset(r, 0, sizeof(*r));
}

void
smtpc_reply_reset(struct smtpc_reply *r)
{
	buf_reset(&r->text);
	r->code = 0;
	r->enhanced[0] = '\0';
	r->nlines = 0;
	r->done = false;
}

static bool
smtpc_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Length of an RFC 3463 status code "class.subject.detail" at p (class 2, 4
 * or 5; subject and detail 1-3 digits) ended by SP or the end; 0 if none.
 */
static size_t
smtpc_enh_len(const char *p, size_t len)
{
	size_t i = 0, part, n;

	if (len < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') ||
	    p[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; i < len && n < 4 && smtpc_is_digit(p[i]); n++)
			i++;
		if (n == 0 || n > 3)
			return 0;
		if (part == 0) {
			if (i >= len || p[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && p[i] != ' ')
		return 0;
	return i;
}

/* Check "DDD" (RFC 5321 §4.2: 2-5, 0-5, 0-9) and return the code or -1. */
static int
smtpc_code(const char *p, size_t len)
{
	if (len < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '5' ||
	    !smtpc_is_digit(p[2]))
		return -1;
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/* Take the text part of a line (after "DDD" and the separator). */
static void
smtpc_reply_take_text(struct smtpc_reply *r, const char *p, size_t len)
{
	size_t el;

	if (r->nlines == 0) {
		el = smtpc_enh_len(p, len);
		/* RFC 3463 §2: the class must agree with the reply code. */
		if (el > 0 && el < SMTPC_ENH_MAX && p[0] - '0' == r->code / 100)
			memcpy(r->enhanced, p, el), r->enhanced[el] = '\0';
	} else
		(void)buf_append(&r->text, "\n", 1);
	/* RFC 2034 §4: every line repeats the code; show it once. */
	el = strlen(r->enhanced);
	if (el > 0 && len >= el && memcmp(p, r->enhanced, el) == 0 &&
	    (len == el || p[el] == ' ')) {
		p += el;
		len -= el;
		if (len > 0)
			p++, len--;
	}
	/* Cannot fail: the buf holds MAX_LINES full lines. */
	(void)buf_append(&r->text, p, len);
}

enum smtpc_reply_result
smtpc_reply_push(struct smtpc_reply *r, const char *line, size_t len)
{
	int code;
	bool last;

	if (r->done)
		smtpc_reply_reset(r);
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > LIMIT_REPLY_LINE - 2)
		return SMTPC_REPLY_ERR_TOO_LONG;
	if (r->nlines >= SMTPC_REPLY_MAX_LINES)
		return SMTPC_REPLY_ERR_TOO_MANY;
	if ((code = smtpc_code(line, len)) < 0)
		return SMTPC_REPLY_ERR_SYNTAX;
	/* A bare "DDD" is tolerated as a last line, as Postfix does. */
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return SMTPC_REPLY_ERR_SYNTAX;
	if (r->nlines > 0 && code != r->code)
		return SMTPC_REPLY_ERR_MISMATCH;
	r->code = code;
	last = len == 3 || line[3] == ' ';
	smtpc_reply_take_text(r, len > 4 ? line + 4 : "", len > 4 ? len - 4 : 0);
	r->nlines++;
	if (!last)
		return SMTPC_REPLY_MORE;
	r->done = true;
	return SMTPC_REPLY_DONE;
}

enum smtpc_reply_result
smtpc_reply_parse(struct smtpc_reply *r, const char *data, size_t len,
    size_t *used)
{
	enum smtpc_reply_result res = SMTPC_REPLY_MORE;
	const char *nl;
	size_t off = 0, ll;

	*used = 0;
	while (off < len) {
		nl = memchr(data + off, '\n', len - off);
		if (nl == NULL)
			break;
		ll = (size_t)(nl - (data + off));
		res = smtpc_reply_push(r, data + off, ll);
		off += ll + 1;
		*used = off;
		if (res != SMTPC_REPLY_MORE)
			return res;
	}
	if (len - off > LIMIT_REPLY_LINE)
		return SMTPC_REPLY_ERR_TOO_LONG;
	return SMTPC_REPLY_MORE;
}

int
smtpc_reply_class(const struct smtpc_reply *r)
{
	return r->code / 100;
}

const char *
smtpc_reply_result_text(enum smtpc_reply_result res)
{
	switch (res) {
	case SMTPC_REPLY_DONE:
		return "done";
	case SMTPC_REPLY_MORE:
		return "incomplete";
	case SMTPC_REPLY_ERR_SYNTAX:
		return "malformed reply line";
	case SMTPC_REPLY_ERR_TOO_LONG:
		return "reply line too long";
	case SMTPC_REPLY_ERR_TOO_MANY:
		return "too many reply lines";
	case SMTPC_REPLY_ERR_MISMATCH:
		return "reply code changed within a reply";
	}
	return "unknown";
}

/* Case-insensitive compare of a keyword of klen octets with name. */
static bool
smtpc_kw(const char *kw, size_t klen, const char *name)
{
	return klen == strlen(name) && strncasecmp(kw, name, klen) == 0;
}

static const struct {
	const char	*name;
	unsigned	 bit;
} smtpc_auth_mechs[] = {
	{ "PLAIN", SMTPC_AUTH_PLAIN },
	{ "LOGIN", SMTPC_AUTH_LOGIN },
	{ "CRAM-MD5", SMTPC_AUTH_CRAM_MD5 },
	{ "SCRAM-SHA-1", SMTPC_AUTH_SCRAM_SHA_1 },
	{ "SCRAM-SHA-256", SMTPC_AUTH_SCRAM_SHA_256 },
	{ "XOAUTH2", SMTPC_AUTH_XOAUTH2 },
};

/* Mechanisms separated by spaces in p[0..len). */
static unsigned
smtpc_caps_auth(const char *p, size_t len)
{
	unsigned bits = 0, found;
	size_t i = 0, start, k;

	while (i < len) {
		while (i < len && p[i] == ' ')
			i++;
		start = i;
		while (i < len && p[i] != ' ')
			i++;
		if (i == start)
			break;
		found = SMTPC_AUTH_OTHER;
		for (k = 0; k < sizeof(smtpc_auth_mechs) /
		    sizeof(smtpc_auth_mechs[0]); k++)
			if (smtpc_kw(p + start, i - start,
			    smtpc_auth_mechs[k].name))
				found = smtpc_auth_mechs[k].bit;
		bits |= found;
	}
	return bits;
}

/* RFC 1870 §4: SIZE [number]; a missing, malformed or huge number counts
 * as "no fixed limit" (0) rather than a limit we would enforce wrongly. */
static uint64_t
smtpc_caps_size(const char *p, size_t len)
{
	uint64_t v = 0;
	size_t i;

	while (len > 0 && *p == ' ')
		p++, len--;
	if (len == 0 || len > 19)
		return 0;
	for (i = 0; i < len; i++) {
		if (!smtpc_is_digit(p[i]))
			return 0;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	return v;
}

/* One EHLO line: "KEYWORD[ params]". */
static void
smtpc_caps_line(struct smtpc_caps *c, const char *p, size_t len)
{
	size_t kl = 0;

	while (kl < len && p[kl] != ' ' && p[kl] != '=')
		kl++;
	const char *arg = p + kl + (kl < len ? 1 : 0);
	size_t alen = kl < len ? len - kl - 1 : 0;

	if (smtpc_kw(p, kl, "PIPELINING"))
		c->pipelining = true;
	else if (smtpc_kw(p, kl, "SIZE")) {
		c->size = true;
		c->size_max = smtpc_caps_size(arg, alen);
	} else if (smtpc_kw(p, kl, "8BITMIME"))
		c->eightbitmime = true;
	else if (smtpc_kw(p, kl, "SMTPUTF8"))
		c->smtputf8 = true;
	else if (smtpc_kw(p, kl, "STARTTLS"))
		c->starttls = true;
	else if (smtpc_kw(p, kl, "AUTH"))
		c->auth |= smtpc_caps_auth(arg, alen);
	else if (smtpc_kw(p, kl, "CHUNKING"))
		c->chunking = true;
	else if (smtpc_kw(p, kl, "DSN"))
		c->dsn = true;
	else if (smtpc_kw(p, kl, "ENHANCEDSTATUSCODES"))
		c->enhancedstatuscodes = true;
	else if (smtpc_kw(p, kl, "REQUIRETLS"))
		c->requiretls = true;
}

int
smtpc_caps_from_reply(const struct smtpc_reply *r, struct smtpc_caps *caps)
{
	const char *p, *end, *nl;

	memset(caps, 0, sizeof(*caps));
	if (!r->done || r->code / 100 != 2)
		return -1;
	p = buf_cstr(&r->text);
	end = p + r->text.len;
	/* The first line is "domain [greeting]", not a keyword. */
	nl = memchr(p, '\n', (size_t)(end - p));
	while (nl != NULL) {
		p = nl + 1;
		nl = memchr(p, '\n', (size_t)(end - p));
		smtpc_caps_line(caps, p, (size_t)((nl ? nl : end) - p));
	}
	return 0;
}
