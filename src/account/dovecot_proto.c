/* SPDX-License-Identifier: ISC */
/* Dovecot auth protocol lines, client side (see dovecot_proto.h). */
#include "account/dovecot_proto.h"

#include <string.h>
#include <strings.h>

#include "core/base64.h"

#define DOVECOT_ESC	'\001'

int
dovecot_proto_escape(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char esc = 0;

		switch (s[i]) {
		case '\0':	esc = '0'; break;
		case DOVECOT_ESC: esc = '1'; break;
		case '\t':	esc = 't'; break;
		case '\r':	esc = 'r'; break;
		case '\n':	esc = 'n'; break;
		}
		if (esc != 0) {
			char e[2] = { DOVECOT_ESC, esc };
			if (buf_append(out, e, 2) == -1)
				return -1;
		} else if (buf_append(out, &s[i], 1) == -1)
			return -1;
	}
	return 0;
}

size_t
dovecot_proto_unescape(char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != DOVECOT_ESC || i + 1 == len) {
			s[o++] = s[i];
			continue;
		}
		switch (s[++i]) {
		case '0':	s[o++] = '\0'; break;
		case '1':	s[o++] = DOVECOT_ESC; break;
		case 't':	s[o++] = '\t'; break;
		case 'r':	s[o++] = '\r'; break;
		case 'n':	s[o++] = '\n'; break;
		default:	s[o++] = s[i]; break;
		}
	}
	return o;
}

/* A field of the line: [p, p + len). */
struct dovecot_field {
	const char	*p;
	size_t		 len;
};

/* The next TAB-separated field after *pos; false at the end. */
static bool
dovecot_next(const char *line, size_t len, size_t *pos,
    struct dovecot_field *f)
{
	const char *tab;

	if (*pos > len)
		return false;
	f->p = line + *pos;
	tab = memchr(f->p, '\t', len - *pos);
	f->len = tab ? (size_t)(tab - f->p) : len - *pos;
	*pos += f->len + 1;
	return true;
}

static bool
dovecot_is(const struct dovecot_field *f, const char *s)
{
	return f->len == strlen(s) && memcmp(f->p, s, f->len) == 0;
}

/* A decimal number of 1 to 10 digits that fits in 32 bits. */
static bool
dovecot_uint(const struct dovecot_field *f, uint32_t *out)
{
	uint64_t v = 0;

	if (f->len == 0 || f->len > 10)
		return false;
	for (size_t i = 0; i < f->len; i++) {
		if (f->p[i] < '0' || f->p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(f->p[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* user=VALUE into out->user; false if the value is unusable (an empty,
 * overlong or control-character name must not become a login). */
static bool
dovecot_user(const struct dovecot_field *f, struct dovecot_proto_reply *out)
{
	char tmp[LIMIT_SASL_FIELD * 2 + 1];
	size_t vlen = f->len - 5, n;

	/* Escapes at most halve the length. */
	if (vlen == 0 || vlen > sizeof(tmp) - 1)
		return false;
	memcpy(tmp, f->p + 5, vlen);
	n = dovecot_proto_unescape(tmp, vlen);
	if (n == 0 || n > LIMIT_SASL_FIELD)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)tmp[i] < 0x20 || tmp[i] == 0x7f)
			return false;
	memcpy(out->user, tmp, n);
	out->user[n] = '\0';
	return true;
}

/* The optional parameters of OK and FAIL; unknown ones are ignored. */
static bool
dovecot_params(const char *line, size_t len, size_t pos,
    struct dovecot_proto_reply *out)
{
	struct dovecot_field f;

	while (dovecot_next(line, len, &pos, &f)) {
		if (f.len >= 5 && memcmp(f.p, "user=", 5) == 0) {
			if (!dovecot_user(&f, out))
				return false;
		} else if (dovecot_is(&f, "temp") ||
		    dovecot_is(&f, "code=temp_fail"))
			out->temp = true;
	}
	return true;
}

enum dovecot_proto_kind
dovecot_proto_parse(const char *line, size_t len,
    struct dovecot_proto_reply *out)
{
	struct dovecot_field cmd, a, b;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	out->kind = DOVECOT_PROTO_BAD;
	if (len > DOVECOT_PROTO_LINE_MAX)
		return out->kind;
	(void)dovecot_next(line, len, &pos, &cmd);
	if (dovecot_is(&cmd, "VERSION")) {
		uint32_t major, minor;
		if (!dovecot_next(line, len, &pos, &a) ||
		    !dovecot_next(line, len, &pos, &b) ||
		    !dovecot_uint(&a, &major) || !dovecot_uint(&b, &minor))
			return out->kind;
		out->major = major;
		out->minor = minor;
		out->kind = DOVECOT_PROTO_VERSION;
	} else if (dovecot_is(&cmd, "MECH")) {
		if (!dovecot_next(line, len, &pos, &a) || a.len == 0)
			return out->kind;
		out->plain = a.len == 5 && strncasecmp(a.p, "PLAIN", 5) == 0;
		out->kind = DOVECOT_PROTO_MECH;
	} else if (dovecot_is(&cmd, "DONE")) {
		out->kind = DOVECOT_PROTO_DONE;
	} else if (dovecot_is(&cmd, "OK") || dovecot_is(&cmd, "FAIL") ||
	    dovecot_is(&cmd, "CONT")) {
		if (!dovecot_next(line, len, &pos, &a) ||
		    !dovecot_uint(&a, &out->id))
			return out->kind;
		/* CONT's one argument is the server's challenge, which a
		 * PLAIN exchange never needs: not parsed. */
		if (cmd.p[0] == 'C') {
			out->kind = DOVECOT_PROTO_CONT;
			return out->kind;
		}
		if (!dovecot_params(line, len, pos, out)) {
			memset(out, 0, sizeof(*out));
			out->kind = DOVECOT_PROTO_BAD;
			return out->kind;
		}
		out->kind = cmd.p[0] == 'O' ? DOVECOT_PROTO_OK :
		    DOVECOT_PROTO_FAIL;
	} else
		out->kind = DOVECOT_PROTO_OTHER;
	return out->kind;
}

int
dovecot_proto_handshake(struct buf *out, unsigned long pid)
{
	return buf_printf(out, "VERSION\t%d\t2\nCPID\t%lu\n",
	    DOVECOT_PROTO_MAJOR, pid);
}

/* Append "\tkey=" and the escaped value, unless the value is empty. */
static int
dovecot_param(struct buf *out, const char *key, const char *v)
{
	if (v == NULL || v[0] == '\0')
		return 0;
	if (buf_printf(out, "\t%s=", key) == -1)
		return -1;
	return dovecot_proto_escape(out, v, strlen(v));
}

int
dovecot_proto_auth_plain(struct buf *out, uint32_t id, const char *service,
    const char *lip, const char *rip, const char *user, const char *pass)
{
	uint8_t msg[2 * LIMIT_SASL_FIELD + 2];
	char b64[(sizeof(msg) + 2) / 3 * 4 + 1];
	size_t ulen = strnlen(user, LIMIT_SASL_FIELD + 1);
	size_t plen = strnlen(pass, LIMIT_SASL_FIELD + 1);
	long n;
	int rc = -1;

	if (ulen == 0 || plen == 0 || ulen > LIMIT_SASL_FIELD ||
	    plen > LIMIT_SASL_FIELD)
		return -1;
	/* RFC 4616: authzid NUL authcid NUL passwd, authzid empty. */
	msg[0] = '\0';
	memcpy(msg + 1, user, ulen);
	msg[1 + ulen] = '\0';
	memcpy(msg + 2 + ulen, pass, plen);
	n = base64_encode(msg, 2 + ulen + plen, b64, sizeof(b64));
	if (n < 0)
		goto out;
	if (buf_printf(out, "AUTH\t%lu\tPLAIN", (unsigned long)id) == -1 ||
	    dovecot_param(out, "service", service) == -1 ||
	    buf_append_str(out, "\tnologin") == -1 ||
	    dovecot_param(out, "lip", lip) == -1 ||
	    dovecot_param(out, "rip", rip) == -1 ||
	    buf_append_str(out, "\tsecured\tresp=") == -1 ||
	    buf_append(out, b64, (size_t)n) == -1 ||
	    buf_append(out, "\n", 1) == -1)
		goto out;
	rc = 0;
out:
	explicit_bzero(msg, sizeof(msg));
	explicit_bzero(b64, sizeof(b64));
	return rc;
}

int
dovecot_proto_cancel(struct buf *out, uint32_t id)
{
	return buf_printf(out, "CANCEL\t%lu\n", (unsigned long)id);
}
