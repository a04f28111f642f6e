/* SPDX-License-Identifier: ISC */
/*
 * Envelope text form (spool/queue/ID.env). The file is line-oriented, LF
 * terminated, and versioned:
 *
 *	sealmail-envelope 1
 *	id 018c2f9a1b2c3d4e5f60
 *	created 1700000000
 *	mail-from alice@example.org
 *	size 1234
 *	body 8bitmime			(optional: 7bit|8bitmime|
 *					 binarymime)
 *	smtputf8 yes			(optional)
 *	ret hdrs			(optional: full|hdrs)
 *	envid ...			(optional, also auth-user, helo,
 *	auth-user ...			 client-addr)
 *	quarantine yes			(optional)
 *	requiretls yes			(optional; absent in files written
 *					 before it existed, which parse as no)
 *	dmarc-reject example.org	(optional; absent in older files:
 *					 NULL, the message may be forwarded)
 *	rcpt state=pending attempts=0 next=0 address=bob@example.org
 *	     orig=Bob@example.org orcpt=rfc822;bob@example.org
 *	     notify=failure,delay reply=...	(one line per recipient)
 *	arc ARC-Seal:%20i=1;...%0D%0A	(optional; absent in files
 *					 written before it existed: none)
 *	prepend Received:%20from...%0D%0A	(optional)
 *	end
 *
 * A line is "KEY" (empty value) or "KEY SP VALUE". Every value is
 * percent-escaped: only the printable ASCII bytes 0x21-0x7e other than '%'
 * stand for themselves, every other byte is "%XX". So no value can contain
 * a raw CR, LF, NUL or space, and a value never spans lines. A decoded NUL
 * is rejected because values are C strings.
 *
 * The parser treats the file as untrusted (a corrupted or hand-edited
 * spool must not crash the queue runner): the whole input is bounded by
 * LIMIT_ENVELOPE_FILE, each string by ENVELOPE_STRING_MAX (the prepended
 * header block and the ARC set by ENVELOPE_PREPEND_MAX), the recipient count by
 * LIMIT_RECIPIENTS_MAX; unknown keys, duplicate keys, malformed numbers and
 * anything after "end" are errors. Order of keys is free except for the
 * version line (first) and "end" (last); envelope_to_text writes a
 * canonical order, so parse -> to_text -> parse -> to_text is a fixed point.
 */
#include "queue/envelope.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/xmalloc.h"

#define ENVELOPE_VERSION_LINE	"sealmail-envelope 1"
#define ENVELOPE_STRING_MAX	(64 * 1024)
#define ENVELOPE_PREPEND_MAX	(1024 * 1024)

bool
envelope_from_local_user(const struct envelope *env)
{
	return env->client_addr == NULL || strncmp(env->client_addr,
	    ENVELOPE_LOCAL_CLIENT, strlen(ENVELOPE_LOCAL_CLIENT)) == 0;
}

void
envelope_init(struct envelope *env)
{
	memset(env, 0, sizeof(*env));
}

/* Free one recipient's strings. */
static void
envelope_rcpt_clear(struct envelope_rcpt *r)
{
	free(r->address);
	free(r->orig);
	free(r->orcpt);
	free(r->last_reply);
}

void
envelope_clear(struct envelope *env)
{
	for (size_t i = 0; i < env->nrcpts; i++)
		envelope_rcpt_clear(&env->rcpts[i]);
	free(env->rcpts);
	free(env->mail_from);
	free(env->envid);
	free(env->auth_user);
	free(env->helo);
	free(env->client_addr);
	free(env->prepend);
	free(env->dmarc_reject);
	free(env->arc);
	envelope_init(env);
}

/*
 * Append an empty recipient. The array has no capacity field, so it grows
 * to the next power of two whenever nrcpts reaches one: amortised O(1) as
 * long as only this module resizes it.
 */
static struct envelope_rcpt *
envelope_rcpt_push(struct envelope *env)
{
	size_t n = env->nrcpts;

	if (n == 0 || (n & (n - 1)) == 0)
		env->rcpts = xreallocarray(env->rcpts, n ? n * 2 : 1,
		    sizeof(*env->rcpts));
	memset(&env->rcpts[n], 0, sizeof(env->rcpts[n]));
	env->nrcpts++;
	return &env->rcpts[n];
}

void
envelope_add_rcpt(struct envelope *env, const char *address,
    const char *orig, const char *orcpt, unsigned notify)
{
	struct envelope_rcpt *r = envelope_rcpt_push(env);

	r->address = xstrdup(address);
	r->orig = orig ? xstrdup(orig) : NULL;
	r->orcpt = orcpt ? xstrdup(orcpt) : NULL;
	r->notify = notify;
	r->state = ENVELOPE_RCPT_PENDING;
}

/* --- serialisation ---------------------------------------------------- */

static bool
envelope_is_literal(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != '%';
}

/* Append s percent-escaped, in runs of literal bytes. */
static int
envelope_put_escaped(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t run = 0;

		while (p[run] && envelope_is_literal(p[run]))
			run++;
		if (run > 0) {
			if (buf_append(out, p, run) == -1)
				return -1;
			p += run;
			continue;
		}
		char esc[3] = { '%', hex[*p >> 4], hex[*p & 15] };
		if (buf_append(out, esc, 3) == -1)
			return -1;
		p++;
	}
	return 0;
}

/* "KEY" for an empty value, else "KEY SP escaped". NULL writes nothing. */
static int
envelope_put_line(struct buf *out, const char *key, const char *value)
{
	if (value == NULL)
		return 0;
	if (buf_append_str(out, key) == -1)
		return -1;
	if (*value != '\0' && (buf_append(out, " ", 1) == -1 ||
	    envelope_put_escaped(out, value) == -1))
		return -1;
	return buf_append(out, "\n", 1);
}

/* " NAME=escaped" inside a rcpt line; NULL writes nothing. */
static int
envelope_put_field(struct buf *out, const char *name, const char *value)
{
	if (value == NULL)
		return 0;
	if (buf_printf(out, " %s=", name) == -1)
		return -1;
	return envelope_put_escaped(out, value);
}

static const char *const envelope_state_names[] = {
	[ENVELOPE_RCPT_PENDING] = "pending",
	[ENVELOPE_RCPT_DELIVERED] = "delivered",
	[ENVELOPE_RCPT_FAILED] = "failed",
};

static const char *const envelope_body_names[] = {
	[ENVELOPE_BODY_UNSPEC] = NULL,
	[ENVELOPE_BODY_7BIT] = "7bit",
	[ENVELOPE_BODY_8BITMIME] = "8bitmime",
	[ENVELOPE_BODY_BINARYMIME] = "binarymime",
};

static const char *const envelope_ret_names[] = {
	[ENVELOPE_RET_UNSPEC] = NULL,
	[ENVELOPE_RET_FULL] = "full",
	[ENVELOPE_RET_HDRS] = "hdrs",
};

/* RFC 3461 §4.1 keywords, in the canonical output order. */
static const struct {
	const char	*name;
	unsigned	 bit;
} envelope_notify_names[] = {
	{ "never", ENVELOPE_NOTIFY_NEVER },
	{ "success", ENVELOPE_NOTIFY_SUCCESS },
	{ "failure", ENVELOPE_NOTIFY_FAILURE },
	{ "delay", ENVELOPE_NOTIFY_DELAY },
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static int
envelope_put_notify(struct buf *out, unsigned notify)
{
	const char *sep = " notify=";

	for (size_t i = 0; i < NELEM(envelope_notify_names); i++) {
		if ((notify & envelope_notify_names[i].bit) == 0)
			continue;
		if (buf_printf(out, "%s%s", sep,
		    envelope_notify_names[i].name) == -1)
			return -1;
		sep = ",";
	}
	return 0;
}

static int
envelope_put_rcpt(struct buf *out, const struct envelope_rcpt *r)
{
	unsigned st = r->state;

	if (st >= NELEM(envelope_state_names))
		st = ENVELOPE_RCPT_PENDING;
	if (buf_printf(out, "rcpt state=%s attempts=%u next=%lld",
	    envelope_state_names[st], r->attempts,
	    (long long)(r->next_attempt < 0 ? 0 : r->next_attempt)) == -1)
		return -1;
	if (envelope_put_field(out, "address",
	    r->address ? r->address : "") == -1 ||
	    envelope_put_field(out, "orig", r->orig) == -1 ||
	    envelope_put_field(out, "orcpt", r->orcpt) == -1 ||
	    envelope_put_notify(out, r->notify) == -1 ||
	    envelope_put_field(out, "reply", r->last_reply) == -1)
		return -1;
	return buf_append(out, "\n", 1);
}

/* Name of an enum value from a table, NULL when unspecified/out of range. */
static const char *
envelope_enum_name(const char *const *names, size_t n, unsigned v)
{
	return v < n ? names[v] : NULL;
}

static int
envelope_put_header(struct buf *out, const struct envelope *env)
{
	if (buf_append_str(out, ENVELOPE_VERSION_LINE "\n") == -1 ||
	    envelope_put_line(out, "id", env->id) == -1 ||
	    buf_printf(out, "created %lld\nsize %zu\n",
	    (long long)(env->created < 0 ? 0 : env->created),
	    env->size) == -1 ||
	    envelope_put_line(out, "mail-from",
	    env->mail_from ? env->mail_from : "") == -1)
		return -1;
	if (envelope_put_line(out, "body", envelope_enum_name(
	    envelope_body_names, NELEM(envelope_body_names),
	    env->body)) == -1 ||
	    envelope_put_line(out, "smtputf8",
	    env->smtputf8 ? "yes" : NULL) == -1 ||
	    envelope_put_line(out, "ret", envelope_enum_name(
	    envelope_ret_names, NELEM(envelope_ret_names), env->ret)) == -1)
		return -1;
	if (envelope_put_line(out, "envid", env->envid) == -1 ||
	    envelope_put_line(out, "auth-user", env->auth_user) == -1 ||
	    envelope_put_line(out, "helo", env->helo) == -1 ||
	    envelope_put_line(out, "client-addr", env->client_addr) == -1 ||
	    envelope_put_line(out, "quarantine",
	    env->quarantine ? "yes" : NULL) == -1 ||
	    envelope_put_line(out, "requiretls",
	    env->requiretls ? "yes" : NULL) == -1 ||
	    envelope_put_line(out, "dmarc-reject", env->dmarc_reject) == -1)
		return -1;
	return 0;
}

int
envelope_to_text(const struct envelope *env, struct buf *out)
{
	size_t start = out->len;

	if (envelope_put_header(out, env) == -1)
		goto fail;
	for (size_t i = 0; i < env->nrcpts; i++)
		if (envelope_put_rcpt(out, &env->rcpts[i]) == -1)
			goto fail;
	/* The header block goes last so the recipients stay readable at the
	 * top of the file with `head`. */
	if (envelope_put_line(out, "arc", env->arc) == -1 ||
	    envelope_put_line(out, "prepend", env->prepend) == -1 ||
	    buf_append_str(out, "end\n") == -1)
		goto fail;
	return 0;
fail:
	/* Leave out as it was: a half-written envelope must never be used. */
	buf_truncate(out, start);
	return -1;
}

/* --- parsing ---------------------------------------------------------- */

struct envelope_parser {
	struct envelope	*env;
	unsigned	 lineno;
	unsigned	 seen;		/* bit per top-level key */
	char		*err;
	size_t		 errlen;
};

static int
envelope_fail(struct envelope_parser *ep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record a one-line reason and return -1. */
static int
envelope_fail(struct envelope_parser *ep, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ep->errlen == 0)
		return -1;
	if (ep->lineno > 0)
		snprintf(ep->err, ep->errlen, "line %u: %s", ep->lineno, msg);
	else
		snprintf(ep->err, ep->errlen, "%s", msg);
	return -1;
}

static int
envelope_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Decode the escaped value s[0..n) into a new string of at most max bytes.
 * The allocation is bounded by n, which is bounded by the file size.
 */
static int
envelope_unescape(struct envelope_parser *ep, const char *s, size_t n,
    size_t max, char **out)
{
	char *d = xmalloc((n < max ? n : max) + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o == max) {
			free(d);
			return envelope_fail(ep, "value longer than %zu bytes",
			    max);
		}
		if (c == '%') {
			int hi = i + 2 < n ?
			    envelope_hexval((unsigned char)s[i + 1]) : -1;
			int lo = hi >= 0 ? envelope_hexval(
			    (unsigned char)s[i + 2]) : -1;
			if (lo < 0 || (hi | lo) == 0) {
				free(d);
				return envelope_fail(ep, lo < 0 ?
				    "bad %% escape" : "escaped NUL");
			}
			d[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (envelope_is_literal(c))
			d[o++] = (char)c;
		else {
			free(d);
			return envelope_fail(ep, "raw byte 0x%02x in value", c);
		}
	}
	d[o] = '\0';
	*out = d;
	return 0;
}

/* Decimal without sign or leading zeros, at most max. */
static int
envelope_number(struct envelope_parser *ep, const char *s, size_t n,
    unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return envelope_fail(ep, "bad number");
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return envelope_fail(ep, "bad number");
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return envelope_fail(ep, "number out of range");
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Index of s[0..n) in a table of names (NULL entries skipped), or -1. */
static int
envelope_lookup(const char *const *names, size_t count, const char *s,
    size_t n)
{
	for (size_t i = 0; i < count; i++)
		if (names[i] && strlen(names[i]) == n &&
		    memcmp(names[i], s, n) == 0)
			return (int)i;
	return -1;
}

static int
envelope_notify(struct envelope_parser *ep, const char *s, size_t n,
    unsigned *out)
{
	unsigned v = 0;

	while (n > 0) {
		const char *comma = memchr(s, ',', n);
		size_t len = comma ? (size_t)(comma - s) : n;
		size_t i;

		for (i = 0; i < NELEM(envelope_notify_names); i++)
			if (strlen(envelope_notify_names[i].name) == len &&
			    memcmp(envelope_notify_names[i].name, s, len) == 0)
				break;
		if (i == NELEM(envelope_notify_names) ||
		    (v & envelope_notify_names[i].bit))
			return envelope_fail(ep, "bad notify list");
		v |= envelope_notify_names[i].bit;
		if (comma == NULL)
			break;
		n -= len + 1;
		s = comma + 1;
		if (n == 0)
			return envelope_fail(ep, "bad notify list");
	}
	if (v == 0)
		return envelope_fail(ep, "bad notify list");
	*out = v;
	return 0;
}

/* --- recipient lines -------------------------------------------------- */

enum envelope_rfield {
	ENVELOPE_RF_STATE,
	ENVELOPE_RF_ATTEMPTS,
	ENVELOPE_RF_NEXT,
	ENVELOPE_RF_ADDRESS,
	ENVELOPE_RF_ORIG,
	ENVELOPE_RF_ORCPT,
	ENVELOPE_RF_NOTIFY,
	ENVELOPE_RF_REPLY,
	ENVELOPE_RF_COUNT,
};

static const char *const envelope_rfield_names[] = {
	[ENVELOPE_RF_STATE] = "state",
	[ENVELOPE_RF_ATTEMPTS] = "attempts",
	[ENVELOPE_RF_NEXT] = "next",
	[ENVELOPE_RF_ADDRESS] = "address",
	[ENVELOPE_RF_ORIG] = "orig",
	[ENVELOPE_RF_ORCPT] = "orcpt",
	[ENVELOPE_RF_NOTIFY] = "notify",
	[ENVELOPE_RF_REPLY] = "reply",
};

/* time_t is signed; its maximum without relying on TIME_MAX. */
#define ENVELOPE_TIME_MAX						\
	(sizeof(time_t) == 8 ? (unsigned long long)INT64_MAX :		\
	    (unsigned long long)INT32_MAX)

static int
envelope_rfield(struct envelope_parser *ep, struct envelope_rcpt *r,
    int f, const char *v, size_t n)
{
	unsigned long long u = 0;
	int i;

	switch (f) {
	case ENVELOPE_RF_STATE:
		i = envelope_lookup(envelope_state_names,
		    NELEM(envelope_state_names), v, n);
		if (i < 0)
			return envelope_fail(ep, "bad recipient state");
		r->state = (enum envelope_rcpt_state)i;
		return 0;
	case ENVELOPE_RF_ATTEMPTS:
		if (envelope_number(ep, v, n, UINT_MAX, &u) == -1)
			return -1;
		r->attempts = (unsigned)u;
		return 0;
	case ENVELOPE_RF_NEXT:
		if (envelope_number(ep, v, n, ENVELOPE_TIME_MAX, &u) == -1)
			return -1;
		r->next_attempt = (time_t)u;
		return 0;
	case ENVELOPE_RF_ADDRESS:
		if (n == 0)
			return envelope_fail(ep, "empty recipient address");
		return envelope_unescape(ep, v, n, ENVELOPE_STRING_MAX,
		    &r->address);
	case ENVELOPE_RF_ORIG:
		return envelope_unescape(ep, v, n, ENVELOPE_STRING_MAX,
		    &r->orig);
	case ENVELOPE_RF_ORCPT:
		return envelope_unescape(ep, v, n, ENVELOPE_STRING_MAX,
		    &r->orcpt);
	case ENVELOPE_RF_NOTIFY:
		return envelope_notify(ep, v, n, &r->notify);
	default:
		return envelope_unescape(ep, v, n, ENVELOPE_STRING_MAX,
		    &r->last_reply);
	}
}

/* "rcpt NAME=VALUE (SP NAME=VALUE)*": one recipient with its state. */
static int
envelope_parse_rcpt(struct envelope_parser *ep, const char *s, size_t n)
{
	struct envelope_rcpt *r;
	unsigned seen = 0;

	if (ep->env->nrcpts >= LIMIT_RECIPIENTS_MAX)
		return envelope_fail(ep, "more than %d recipients",
		    LIMIT_RECIPIENTS_MAX);
	r = envelope_rcpt_push(ep->env);
	while (n > 0) {
		const char *sp = memchr(s, ' ', n);
		size_t flen = sp ? (size_t)(sp - s) : n;
		const char *eq = memchr(s, '=', flen);
		if (eq == NULL)
			return envelope_fail(ep, "bad recipient field");
		int f = envelope_lookup(envelope_rfield_names,
		    NELEM(envelope_rfield_names), s, (size_t)(eq - s));
		if (f < 0)
			return envelope_fail(ep, "unknown recipient field");
		if (seen & (1u << f))
			return envelope_fail(ep, "duplicate recipient field");
		seen |= 1u << f;
		if (envelope_rfield(ep, r, f, eq + 1,
		    flen - (size_t)(eq + 1 - s)) == -1)
			return -1;
		if (sp == NULL)
			break;
		n -= flen + 1;
		s = sp + 1;
		if (n == 0)
			return envelope_fail(ep, "trailing space");
	}
	if (r->address == NULL)
		return envelope_fail(ep, "recipient without address");
	return 0;
}

/* --- top-level lines -------------------------------------------------- */

enum envelope_key {
	ENVELOPE_K_ID,
	ENVELOPE_K_CREATED,
	ENVELOPE_K_MAIL_FROM,
	ENVELOPE_K_SIZE,
	ENVELOPE_K_BODY,
	ENVELOPE_K_SMTPUTF8,
	ENVELOPE_K_RET,
	ENVELOPE_K_ENVID,
	ENVELOPE_K_AUTH_USER,
	ENVELOPE_K_HELO,
	ENVELOPE_K_CLIENT_ADDR,
	ENVELOPE_K_QUARANTINE,
	ENVELOPE_K_REQUIRETLS,
	ENVELOPE_K_DMARC_REJECT,
	ENVELOPE_K_PREPEND,
	ENVELOPE_K_ARC,
	ENVELOPE_K_RCPT,
	ENVELOPE_K_END,
};

static const char *const envelope_key_names[] = {
	[ENVELOPE_K_ID] = "id",
	[ENVELOPE_K_CREATED] = "created",
	[ENVELOPE_K_MAIL_FROM] = "mail-from",
	[ENVELOPE_K_SIZE] = "size",
	[ENVELOPE_K_BODY] = "body",
	[ENVELOPE_K_SMTPUTF8] = "smtputf8",
	[ENVELOPE_K_RET] = "ret",
	[ENVELOPE_K_ENVID] = "envid",
	[ENVELOPE_K_AUTH_USER] = "auth-user",
	[ENVELOPE_K_HELO] = "helo",
	[ENVELOPE_K_CLIENT_ADDR] = "client-addr",
	[ENVELOPE_K_QUARANTINE] = "quarantine",
	[ENVELOPE_K_REQUIRETLS] = "requiretls",
	[ENVELOPE_K_DMARC_REJECT] = "dmarc-reject",
	[ENVELOPE_K_PREPEND] = "prepend",
	[ENVELOPE_K_ARC] = "arc",
	[ENVELOPE_K_RCPT] = "rcpt",
	[ENVELOPE_K_END] = "end",
};

static int
envelope_parse_id(struct envelope_parser *ep, const char *v, size_t n)
{
	if (n != IDS_QID_LEN)
		return envelope_fail(ep, "bad queue id");
	memcpy(ep->env->id, v, n);
	ep->env->id[n] = '\0';
	if (!ids_qid_valid(ep->env->id)) {
		ep->env->id[0] = '\0';
		return envelope_fail(ep, "bad queue id");
	}
	return 0;
}

static int
envelope_parse_yesno(struct envelope_parser *ep, const char *v, size_t n,
    bool *out)
{
	if (n == 3 && memcmp(v, "yes", 3) == 0)
		*out = true;
	else if (n == 2 && memcmp(v, "no", 2) == 0)
		*out = false;
	else
		return envelope_fail(ep, "expected yes or no");
	return 0;
}

static int
envelope_parse_enum(struct envelope_parser *ep, const char *const *names,
    size_t count, const char *v, size_t n, int *out)
{
	int i = envelope_lookup(names, count, v, n);

	if (i < 0)
		return envelope_fail(ep, "bad value");
	*out = i;
	return 0;
}

/* The envelope-wide string fields, NULL for other keys. */
static char **
envelope_string_field(struct envelope *env, int k)
{
	switch (k) {
	case ENVELOPE_K_MAIL_FROM:	return &env->mail_from;
	case ENVELOPE_K_ENVID:		return &env->envid;
	case ENVELOPE_K_AUTH_USER:	return &env->auth_user;
	case ENVELOPE_K_HELO:		return &env->helo;
	case ENVELOPE_K_CLIENT_ADDR:	return &env->client_addr;
	case ENVELOPE_K_PREPEND:	return &env->prepend;
	case ENVELOPE_K_DMARC_REJECT:	return &env->dmarc_reject;
	case ENVELOPE_K_ARC:		return &env->arc;
	default:			return NULL;
	}
}

static int
envelope_parse_value(struct envelope_parser *ep, int k, const char *v,
    size_t n)
{
	struct envelope *env = ep->env;
	unsigned long long u = 0;
	char **sp;
	int e = 0;

	if ((sp = envelope_string_field(env, k)) != NULL)
		return envelope_unescape(ep, v, n, k == ENVELOPE_K_PREPEND ||
		    k == ENVELOPE_K_ARC ? ENVELOPE_PREPEND_MAX :
		    ENVELOPE_STRING_MAX, sp);
	switch (k) {
	case ENVELOPE_K_ID:
		return envelope_parse_id(ep, v, n);
	case ENVELOPE_K_CREATED:
	case ENVELOPE_K_SIZE:
		if (envelope_number(ep, v, n, k == ENVELOPE_K_SIZE ?
		    (unsigned long long)SIZE_MAX : ENVELOPE_TIME_MAX,
		    &u) == -1)
			return -1;
		if (k == ENVELOPE_K_SIZE)
			env->size = (size_t)u;
		else
			env->created = (time_t)u;
		return 0;
	case ENVELOPE_K_BODY:
	case ENVELOPE_K_RET:
		if (k == ENVELOPE_K_BODY ? envelope_parse_enum(ep,
		    envelope_body_names, NELEM(envelope_body_names), v, n,
		    &e) : envelope_parse_enum(ep, envelope_ret_names,
		    NELEM(envelope_ret_names), v, n, &e))
			return -1;
		if (k == ENVELOPE_K_BODY)
			env->body = (enum envelope_body)e;
		else
			env->ret = (enum envelope_ret)e;
		return 0;
	case ENVELOPE_K_SMTPUTF8:
		return envelope_parse_yesno(ep, v, n, &env->smtputf8);
	case ENVELOPE_K_QUARANTINE:
		return envelope_parse_yesno(ep, v, n, &env->quarantine);
	case ENVELOPE_K_REQUIRETLS:
		return envelope_parse_yesno(ep, v, n, &env->requiretls);
	case ENVELOPE_K_RCPT:
		return envelope_parse_rcpt(ep, v, n);
	default:	/* ENVELOPE_K_END */
		return n == 0 ? 0 : envelope_fail(ep, "value after end");
	}
}

/* One line after the version line (without its LF). */
static int
envelope_parse_line(struct envelope_parser *ep, const char *s, size_t n)
{
	const char *sp = memchr(s, ' ', n);
	size_t klen = sp ? (size_t)(sp - s) : n;
	int k = envelope_lookup(envelope_key_names,
	    NELEM(envelope_key_names), s, klen);

	if (k < 0)
		return envelope_fail(ep, "unknown key");
	if (k != ENVELOPE_K_RCPT && (ep->seen & (1u << k)))
		return envelope_fail(ep, "duplicate key %s",
		    envelope_key_names[k]);
	ep->seen |= 1u << k;
	if (sp != NULL && klen + 1 == n)
		return envelope_fail(ep, "trailing space");
	return envelope_parse_value(ep, k, s + klen + (sp ? 1 : 0),
	    n - klen - (sp ? 1 : 0));
}

static int
envelope_check_version(struct envelope_parser *ep, const char *s, size_t n)
{
	static const char prefix[] = "sealmail-envelope ";

	if (n == sizeof(ENVELOPE_VERSION_LINE) - 1 &&
	    memcmp(s, ENVELOPE_VERSION_LINE, n) == 0)
		return 0;
	if (n >= sizeof(prefix) - 1 && memcmp(s, prefix,
	    sizeof(prefix) - 1) == 0)
		return envelope_fail(ep, "unsupported envelope version");
	return envelope_fail(ep, "not a sealmail envelope");
}

int
envelope_from_text(const char *text, size_t len, struct envelope *env,
    char *err, size_t errlen)
{
	struct envelope_parser ep = { env, 0, 0, err, errlen };
	size_t off = 0;

	if (errlen > 0)
		err[0] = '\0';
	if (len > LIMIT_ENVELOPE_FILE)
		return envelope_fail(&ep, "envelope larger than %d bytes",
		    LIMIT_ENVELOPE_FILE);
	while (off < len) {
		const char *s = text + off;
		const char *nl = memchr(s, '\n', len - off);

		ep.lineno++;
		if (ep.seen & (1u << ENVELOPE_K_END))
			return envelope_fail(&ep, "data after end");
		if (nl == NULL)
			return envelope_fail(&ep, "unterminated line");
		off += (size_t)(nl - s) + 1;
		if ((ep.lineno == 1 ? envelope_check_version(&ep, s,
		    (size_t)(nl - s)) : envelope_parse_line(&ep, s,
		    (size_t)(nl - s))) == -1)
			return -1;
	}
	ep.lineno = 0;
	if (!(ep.seen & (1u << ENVELOPE_K_END)))
		return envelope_fail(&ep, "truncated envelope (no end line)");
	if (!(ep.seen & (1u << ENVELOPE_K_ID)) ||
	    !(ep.seen & (1u << ENVELOPE_K_CREATED)) ||
	    !(ep.seen & (1u << ENVELOPE_K_MAIL_FROM)))
		return envelope_fail(&ep, "missing id, created or mail-from");
	return 0;
}
