/* SPDX-License-Identifier: ISC */
/*
 * SMTP command lines (RFC 5321 §4.1) and the MAIL/RCPT parameters we
 * implement: SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8
 * (RFC 6531), RET/ENVID/NOTIFY/ORCPT (RFC 3461), AUTH (RFC 4954 §5) and
 * REQUIRETLS (RFC 8689). Input is one untrusted line without its CRLF,
 * given as pointer and length; the results point into it or are copied
 * into fixed-size fields after a length check. Pure.
 */
#include "smtpd/smtpd_cmd.h"

#include <string.h>

/* Verb table: name, value, and whether an argument is forbidden/required. */
static const struct smtpd_cmd_verb {
	const char	*name;
	enum smtpd_verb	 verb;
	bool		 noarg;
	bool		 needarg;
	bool		 eightbit;	/* path may hold UTF-8 (RFC 6531) */
} smtpd_cmd_verbs[] = {
	{ "HELO", SMTPD_VERB_HELO, false, true, false },
	{ "EHLO", SMTPD_VERB_EHLO, false, true, false },
	{ "MAIL", SMTPD_VERB_MAIL, false, true, true },
	{ "RCPT", SMTPD_VERB_RCPT, false, true, true },
	{ "DATA", SMTPD_VERB_DATA, true, false, false },
	{ "BDAT", SMTPD_VERB_BDAT, false, true, false },
	{ "RSET", SMTPD_VERB_RSET, true, false, false },
	{ "NOOP", SMTPD_VERB_NOOP, false, false, false },
	{ "QUIT", SMTPD_VERB_QUIT, true, false, false },
	{ "VRFY", SMTPD_VERB_VRFY, false, true, false },
	{ "EXPN", SMTPD_VERB_EXPN, false, true, false },
	{ "HELP", SMTPD_VERB_HELP, false, false, false },
	{ "STARTTLS", SMTPD_VERB_STARTTLS, true, false, false },
	{ "AUTH", SMTPD_VERB_AUTH, false, true, false },
};

static char
smtpd_cmd_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Case-insensitive match of n untrusted bytes against upper-case text. */
static bool
smtpd_cmd_caseeq(const char *p, size_t n, const char *upper)
{
	if (strlen(upper) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (smtpd_cmd_upper(p[i]) != upper[i])
			return false;
	return true;
}

/* True if the n bytes start with the upper-case prefix, any case. */
static bool
smtpd_cmd_has_prefix(const char *p, size_t n, const char *upper)
{
	size_t k = strlen(upper);

	return n >= k && smtpd_cmd_caseeq(p, k, upper);
}

static const struct smtpd_cmd_verb *
smtpd_cmd_lookup(const char *p, size_t n)
{
	for (size_t i = 0; i < sizeof(smtpd_cmd_verbs) /
	    sizeof(smtpd_cmd_verbs[0]); i++)
		if (smtpd_cmd_caseeq(p, n, smtpd_cmd_verbs[i].name))
			return &smtpd_cmd_verbs[i];
	return NULL;
}

static bool
smtpd_cmd_has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return true;
	return false;
}

enum smtpd_cmd_result
smtpd_cmd_parse(const char *line, size_t len, struct smtpd_cmd *out)
{
	out->verb = SMTPD_VERB_UNKNOWN;
	out->arg = "";
	out->arglen = 0;
	/* A NUL would cut the line short for any C string API later; a CR
	 * or LF inside a line is a framing trick (command injection). */
	if (memchr(line, '\0', len) || memchr(line, '\r', len) ||
	    memchr(line, '\n', len))
		return SMTPD_CMD_ERR_NUL;

	const char *sp = memchr(line, ' ', len);
	size_t vlen = sp ? (size_t)(sp - line) : len;
	const struct smtpd_cmd_verb *v = smtpd_cmd_lookup(line, vlen);
	if (v == NULL)
		return SMTPD_CMD_ERR_UNKNOWN;
	out->verb = v->verb;
	if (!v->eightbit && smtpd_cmd_has_8bit(line, len))
		return SMTPD_CMD_ERR_NUL;

	if (sp != NULL) {
		size_t n = len - vlen - 1;
		while (n > 0 && (sp[n] == ' ' || sp[n] == '\t'))
			n--;
		if (n > 0) {
			out->arg = sp + 1;
			out->arglen = n;
		}
	}
	if ((v->noarg && out->arglen > 0) || (v->needarg && out->arglen == 0))
		return SMTPD_CMD_ERR_SYNTAX;
	return SMTPD_CMD_OK;
}

/* Decimal without sign; false on no digits, a non-digit or overflow. */
static bool
smtpd_cmd_uint64(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		unsigned d = (unsigned)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool
smtpd_cmd_is_hex_upper(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/*
 * RFC 3461 §4: xtext = *( xchar / hexchar ); xchar is '!'..'~' except
 * '+' and '='; hexchar is '+' and two UPPER-case hex digits. Non-empty,
 * since an esmtp-value is 1*CHAR.
 */
static bool
smtpd_cmd_valid_xtext(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '+') {
			if (n - i < 3 || !smtpd_cmd_is_hex_upper(p[i + 1]) ||
			    !smtpd_cmd_is_hex_upper(p[i + 2]))
				return false;
			i += 2;
		} else if (p[i] < '!' || p[i] > '~' || p[i] == '=')
			return false;
	}
	return true;
}

/* Copy a checked value into a fixed field (cap includes the NUL). */
static bool
smtpd_cmd_copy(char *dst, size_t cap, const char *p, size_t n)
{
	if (n >= cap)
		return false;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return true;
}

/* One esmtp-param, split; val is NULL when there is no "=". */
struct smtpd_cmd_param {
	const char	*key;
	size_t		 klen;
	const char	*val;
	size_t		 vlen;
};

typedef enum smtpd_cmd_result smtpd_cmd_param_fn(void *ctx,
    const struct smtpd_cmd_param *prm, unsigned *seen);

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static bool
smtpd_cmd_valid_keyword(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = smtpd_cmd_upper(p[i]);
		bool ld = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!ld && (i == 0 || c != '-'))
			return false;
	}
	return n > 0;
}

/* esmtp-value = 1*(%d33-60 / %d62-126) */
static bool
smtpd_cmd_valid_value(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 33 || p[i] > 126 || p[i] == '=')
			return false;
	return n > 0;
}

/* Split one space-free parameter token and check its generic syntax. */
static enum smtpd_cmd_result
smtpd_cmd_param_split(const char *p, size_t n, struct smtpd_cmd_param *prm)
{
	if (smtpd_cmd_has_8bit(p, n))
		return SMTPD_CMD_ERR_NUL;
	const char *eq = memchr(p, '=', n);
	prm->key = p;
	prm->klen = eq ? (size_t)(eq - p) : n;
	prm->val = eq ? eq + 1 : NULL;
	prm->vlen = eq ? n - prm->klen - 1 : 0;
	if (!smtpd_cmd_valid_keyword(prm->key, prm->klen))
		return SMTPD_CMD_ERR_SYNTAX;
	if (eq && !smtpd_cmd_valid_value(prm->val, prm->vlen))
		return SMTPD_CMD_ERR_SYNTAX;
	return SMTPD_CMD_OK;
}

/*
 * Mail-parameters = esmtp-param *(SP esmtp-param), after the path. The
 * text must be empty or start with a space; runs of spaces are tolerated.
 * fn sees each parameter; seen is its bitmask for duplicates.
 */
static enum smtpd_cmd_result
smtpd_cmd_params(const char *p, size_t n, smtpd_cmd_param_fn *fn, void *ctx)
{
	struct smtpd_cmd_param prm;
	enum smtpd_cmd_result r;
	unsigned seen = 0;
	size_t i = 0;

	if (n > 0 && p[0] != ' ')
		return SMTPD_CMD_ERR_SYNTAX;
	for (;;) {
		while (i < n && p[i] == ' ')
			i++;
		if (i == n)
			return SMTPD_CMD_OK;
		const char *sp = memchr(p + i, ' ', n - i);
		size_t tlen = sp ? (size_t)(sp - (p + i)) : n - i;
		r = smtpd_cmd_param_split(p + i, tlen, &prm);
		if (r != SMTPD_CMD_OK)
			return r;
		if ((r = fn(ctx, &prm, &seen)) != SMTPD_CMD_OK)
			return r;
		i += tlen;
	}
}

/* Mark parameter bit as seen; false if it was already (a duplicate). */
static bool
smtpd_cmd_once(unsigned *seen, unsigned bit)
{
	if (*seen & bit)
		return false;
	*seen |= bit;
	return true;
}

#define SMTPD_CMD_KEY(prm, name) smtpd_cmd_caseeq((prm)->key, (prm)->klen, name)
#define SMTPD_CMD_VAL(prm, name) smtpd_cmd_caseeq((prm)->val, (prm)->vlen, name)

/* BODY= (RFC 6152 §2, RFC 3030 §3) */
static enum smtpd_cmd_result
smtpd_cmd_mail_body(struct smtpd_mail_args *m,
    const struct smtpd_cmd_param *prm)
{
	if (prm->val == NULL)
		return SMTPD_CMD_ERR_SYNTAX;
	if (SMTPD_CMD_VAL(prm, "7BIT"))
		m->body = ENVELOPE_BODY_7BIT;
	else if (SMTPD_CMD_VAL(prm, "8BITMIME"))
		m->body = ENVELOPE_BODY_8BITMIME;
	else if (SMTPD_CMD_VAL(prm, "BINARYMIME"))
		m->body = ENVELOPE_BODY_BINARYMIME;
	else
		return SMTPD_CMD_ERR_SYNTAX;
	return SMTPD_CMD_OK;
}

/* RET= (RFC 3461 §4.3) */
static enum smtpd_cmd_result
smtpd_cmd_mail_ret(struct smtpd_mail_args *m,
    const struct smtpd_cmd_param *prm)
{
	if (prm->val == NULL)
		return SMTPD_CMD_ERR_SYNTAX;
	if (SMTPD_CMD_VAL(prm, "FULL"))
		m->ret = ENVELOPE_RET_FULL;
	else if (SMTPD_CMD_VAL(prm, "HDRS"))
		m->ret = ENVELOPE_RET_HDRS;
	else
		return SMTPD_CMD_ERR_SYNTAX;
	return SMTPD_CMD_OK;
}

/* ENVID= and AUTH=: xtext kept as given, within the field's size. */
static enum smtpd_cmd_result
smtpd_cmd_xtext_field(char *dst, size_t cap, bool *has,
    const struct smtpd_cmd_param *prm)
{
	if (prm->val == NULL || !smtpd_cmd_valid_xtext(prm->val, prm->vlen) ||
	    !smtpd_cmd_copy(dst, cap, prm->val, prm->vlen))
		return SMTPD_CMD_ERR_SYNTAX;
	*has = true;
	return SMTPD_CMD_OK;
}

enum {
	SMTPD_CMD_P_SIZE = 0x1,
	SMTPD_CMD_P_BODY = 0x2,
	SMTPD_CMD_P_UTF8 = 0x4,
	SMTPD_CMD_P_RET = 0x8,
	SMTPD_CMD_P_ENVID = 0x10,
	SMTPD_CMD_P_AUTH = 0x20,
	SMTPD_CMD_P_REQTLS = 0x40,
	SMTPD_CMD_P_NOTIFY = 0x80,
	SMTPD_CMD_P_ORCPT = 0x100,
};

/* Table of keyword -> duplicate bit; 0 bit means "unknown". */
static unsigned
smtpd_cmd_param_bit(const struct smtpd_cmd_param *prm, bool rcpt)
{
	static const struct { const char *k; unsigned bit; bool rcpt; } t[] = {
		{ "SIZE", SMTPD_CMD_P_SIZE, false },
		{ "BODY", SMTPD_CMD_P_BODY, false },
		{ "SMTPUTF8", SMTPD_CMD_P_UTF8, false },
		{ "RET", SMTPD_CMD_P_RET, false },
		{ "ENVID", SMTPD_CMD_P_ENVID, false },
		{ "AUTH", SMTPD_CMD_P_AUTH, false },
		{ "REQUIRETLS", SMTPD_CMD_P_REQTLS, false },
		{ "NOTIFY", SMTPD_CMD_P_NOTIFY, true },
		{ "ORCPT", SMTPD_CMD_P_ORCPT, true },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].rcpt == rcpt && SMTPD_CMD_KEY(prm, t[i].k))
			return t[i].bit;
	return 0;
}

static enum smtpd_cmd_result
smtpd_cmd_mail_param(void *ctx, const struct smtpd_cmd_param *prm,
    unsigned *seen)
{
	struct smtpd_mail_args *m = ctx;
	unsigned bit = smtpd_cmd_param_bit(prm, false);

	if (bit == 0 || !smtpd_cmd_once(seen, bit))
		return SMTPD_CMD_ERR_PARAM;
	switch (bit) {
	case SMTPD_CMD_P_SIZE:
		/* RFC 1870 §3: size-value = 1*20DIGIT; overflow: syntax */
		return prm->val && smtpd_cmd_uint64(prm->val, prm->vlen,
		    &m->size) ? SMTPD_CMD_OK : SMTPD_CMD_ERR_SYNTAX;
	case SMTPD_CMD_P_BODY:
		return smtpd_cmd_mail_body(m, prm);
	case SMTPD_CMD_P_RET:
		return smtpd_cmd_mail_ret(m, prm);
	case SMTPD_CMD_P_ENVID:
		return smtpd_cmd_xtext_field(m->envid, sizeof(m->envid),
		    &m->has_envid, prm);
	case SMTPD_CMD_P_AUTH:
		return smtpd_cmd_xtext_field(m->auth, sizeof(m->auth),
		    &m->has_auth, prm);
	case SMTPD_CMD_P_UTF8:
		/* RFC 6531 §3.4: "it MUST not accept a value" */
		m->smtputf8 = true;
		return prm->val ? SMTPD_CMD_ERR_SYNTAX : SMTPD_CMD_OK;
	default:
		/* RFC 8689 §3: REQUIRETLS has no value */
		m->requiretls = true;
		return prm->val ? SMTPD_CMD_ERR_SYNTAX : SMTPD_CMD_OK;
	}
}

/* Skip "FROM:"/"TO:" and the spaces some clients put after the colon. */
static bool
smtpd_cmd_prefix(const char *arg, size_t len, const char *upper, size_t *pos)
{
	if (!smtpd_cmd_has_prefix(arg, len, upper))
		return false;
	*pos = strlen(upper);
	while (*pos < len && arg[*pos] == ' ')
		(*pos)++;
	return true;
}

static enum smtpd_cmd_result
smtpd_cmd_addr_error(enum addr_result r)
{
	if (r == ADDR_ERR_UTF8)
		return SMTPD_CMD_ERR_PATH_UTF8;
	if (r == ADDR_ERR_IDNA)
		return SMTPD_CMD_ERR_PATH_IDNA;
	return SMTPD_CMD_ERR_PATH;
}

enum smtpd_cmd_result
smtpd_cmd_parse_mail(const char *arg, size_t len, struct smtpd_mail_args *out)
{
	enum smtpd_cmd_result r;
	enum addr_result ar;
	size_t pos, end;

	memset(out, 0, sizeof(*out));
	out->body = ENVELOPE_BODY_UNSPEC;
	out->ret = ENVELOPE_RET_UNSPEC;
	if (!smtpd_cmd_prefix(arg, len, "FROM:", &pos))
		return SMTPD_CMD_ERR_SYNTAX;
	/* The parameters come after the path, so accept UTF-8 first and
	 * refuse it below unless SMTPUTF8 was among them (RFC 6531 §3.4). */
	ar = addr_parse_path(arg + pos, len - pos, true, true, &out->from,
	    &out->is_null, &end);
	if (ar != ADDR_OK)
		return smtpd_cmd_addr_error(ar);
	bool path8 = smtpd_cmd_has_8bit(arg + pos, end);
	pos += end;
	r = smtpd_cmd_params(arg + pos, len - pos, smtpd_cmd_mail_param, out);
	if (r == SMTPD_CMD_OK && path8 && !out->smtputf8)
		r = SMTPD_CMD_ERR_PATH_UTF8;
	return r;
}

/* NOTIFY = "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ) (RFC 3461 §4.1) */
static enum smtpd_cmd_result
smtpd_cmd_rcpt_notify(struct smtpd_rcpt_args *a, const char *p, size_t n)
{
	static const struct { const char *k; unsigned bit; } t[] = {
		{ "NEVER", ENVELOPE_NOTIFY_NEVER },
		{ "SUCCESS", ENVELOPE_NOTIFY_SUCCESS },
		{ "FAILURE", ENVELOPE_NOTIFY_FAILURE },
		{ "DELAY", ENVELOPE_NOTIFY_DELAY },
	};
	size_t i = 0;

	while (i <= n) {
		const char *c = memchr(p + i, ',', n - i);
		size_t k = c ? (size_t)(c - (p + i)) : n - i, j;
		for (j = 0; j < sizeof(t) / sizeof(t[0]); j++)
			if (smtpd_cmd_caseeq(p + i, k, t[j].k))
				break;
		if (j == sizeof(t) / sizeof(t[0]) || (a->notify & t[j].bit))
			return SMTPD_CMD_ERR_SYNTAX;
		a->notify |= t[j].bit;
		i += k + 1;
	}
	/* NEVER cannot be combined with anything else. */
	if ((a->notify & ENVELOPE_NOTIFY_NEVER) &&
	    a->notify != ENVELOPE_NOTIFY_NEVER)
		return SMTPD_CMD_ERR_SYNTAX;
	return SMTPD_CMD_OK;
}

/* ORCPT = addr-type ";" xtext (RFC 3461 §4.2); addr-type is an atom. */
static enum smtpd_cmd_result
smtpd_cmd_rcpt_orcpt(struct smtpd_rcpt_args *a, const char *p, size_t n)
{
	const char *semi = memchr(p, ';', n);

	if (semi == NULL || semi == p)
		return SMTPD_CMD_ERR_SYNTAX;
	for (const char *q = p; q < semi; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		    (*q >= '0' && *q <= '9') ||
		    strchr("!#$%&'*+-/=?^_`{|}~", *q) != NULL))
			return SMTPD_CMD_ERR_SYNTAX;
	size_t rest = n - (size_t)(semi + 1 - p);
	if (!smtpd_cmd_valid_xtext(semi + 1, rest) ||
	    !smtpd_cmd_copy(a->orcpt, sizeof(a->orcpt), p, n))
		return SMTPD_CMD_ERR_SYNTAX;
	a->has_orcpt = true;
	return SMTPD_CMD_OK;
}

static enum smtpd_cmd_result
smtpd_cmd_rcpt_param(void *ctx, const struct smtpd_cmd_param *prm,
    unsigned *seen)
{
	struct smtpd_rcpt_args *a = ctx;
	unsigned bit = smtpd_cmd_param_bit(prm, true);

	if (bit == 0 || !smtpd_cmd_once(seen, bit))
		return SMTPD_CMD_ERR_PARAM;
	if (prm->val == NULL)
		return SMTPD_CMD_ERR_SYNTAX;
	if (bit == SMTPD_CMD_P_NOTIFY)
		return smtpd_cmd_rcpt_notify(a, prm->val, prm->vlen);
	return smtpd_cmd_rcpt_orcpt(a, prm->val, prm->vlen);
}

enum smtpd_cmd_result
smtpd_cmd_parse_rcpt(const char *arg, size_t len, bool smtputf8,
    struct smtpd_rcpt_args *out)
{
	enum addr_result ar;
	size_t pos, end;
	bool is_null;

	memset(out, 0, sizeof(*out));
	if (!smtpd_cmd_prefix(arg, len, "TO:", &pos))
		return SMTPD_CMD_ERR_SYNTAX;
	/* RFC 5321 §4.1.1.3: "<Postmaster>" without a domain, any case. */
	if (smtpd_cmd_has_prefix(arg + pos, len - pos, "<POSTMASTER>")) {
		out->postmaster = true;
		memcpy(out->to.local, "postmaster", sizeof("postmaster"));
		end = strlen("<POSTMASTER>");
	} else {
		ar = addr_parse_path(arg + pos, len - pos, false, smtputf8,
		    &out->to, &is_null, &end);
		if (ar != ADDR_OK)
			return smtpd_cmd_addr_error(ar);
	}
	pos += end;
	return smtpd_cmd_params(arg + pos, len - pos, smtpd_cmd_rcpt_param,
	    out);
}

enum smtpd_cmd_result
smtpd_cmd_parse_bdat(const char *arg, size_t len, uint64_t *size, bool *last)
{
	size_t i = 0, n;

	*size = 0;
	*last = false;
	while (i < len && arg[i] == ' ')
		i++;
	for (n = 0; i + n < len && arg[i + n] != ' '; n++)
		;
	/* RFC 3030 §2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] */
	if (!smtpd_cmd_uint64(arg + i, n, size))
		goto fail;
	i += n;
	while (i < len && arg[i] == ' ')
		i++;
	if (i == len)
		return SMTPD_CMD_OK;
	size_t rest = len - i;
	while (rest > 0 && arg[i + rest - 1] == ' ')
		rest--;
	if (!smtpd_cmd_caseeq(arg + i, rest, "LAST"))
		goto fail;
	*last = true;
	return SMTPD_CMD_OK;
fail:
	*size = 0;
	return SMTPD_CMD_ERR_SYNTAX;
}

const char *
smtpd_cmd_error_reply(enum smtpd_cmd_result r)
{
	switch (r) {
	case SMTPD_CMD_OK:
		return "250 2.0.0 Ok";
	case SMTPD_CMD_ERR_UNKNOWN:
		return "500 5.5.2 Error: command not recognized";
	case SMTPD_CMD_ERR_SYNTAX:
		return "501 5.5.4 Syntax error in parameters or arguments";
	case SMTPD_CMD_ERR_PATH:
		return "553 5.1.3 Bad address syntax";
	case SMTPD_CMD_ERR_PATH_UTF8:
		return "553 5.6.7 Non-ASCII address requires SMTPUTF8";
	case SMTPD_CMD_ERR_PATH_IDNA:
		return "553 5.1.3 Domain is not a valid internationalized "
		    "name (IDNA2008)";
	case SMTPD_CMD_ERR_PARAM:
		return "555 5.5.4 Unsupported or duplicate parameter";
	case SMTPD_CMD_ERR_NUL:
		return "500 5.5.2 Error: invalid characters in command";
	}
	return "500 5.5.2 Error: command not recognized";
}
