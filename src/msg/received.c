/* SPDX-License-Identifier: ISC */
/*
 * Received: field parsing and TLS evidence (see received.h for the rules
 * and what is trusted). Three steps: cut the value into tokens (words,
 * comments, <paths>, ';'), walk the tokens before the last ';' as RFC 5321
 * §4.4 clauses, then judge the transport from the "with" word, the RFC
 * 8314 tls clause and the comments. Pure; no allocation.
 */
#include "msg/received.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum received_tok_type {
	RECEIVED_TOK_WORD,
	RECEIVED_TOK_COMMENT,	/* p/len without the outer parentheses */
	RECEIVED_TOK_SEMI,
};

struct received_tok {
	enum received_tok_type	 type;
	const char		*p;
	size_t			 len;
};

/* Clause walker state. */
struct received_walk {
	struct received_hop	*hop;
	enum received_clause	 cur;
	bool			 want_value;	/* next word is cur's value */
	bool			 want_group;	/* next word is a tls group */
	bool			 after_comment;	/* a comment since the value */
	bool			 seen_by;
};

static bool
received_is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Append n bytes of s to the NUL-terminated dst (size dstlen), after a
 * space if dst is not empty and `sep`. Runs of white space (folding
 * included) become one space, control bytes '?'. Truncates silently.
 */
static void
received_put(char *dst, size_t dstlen, const char *s, size_t n, bool sep)
{
	size_t o = strlen(dst);
	bool space = sep && o > 0;

	for (size_t i = 0; i < n && o + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)s[i];
		if (received_is_wsp((char)c)) {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < dstlen)
			dst[o++] = ' ';
		space = false;
		dst[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	dst[o] = '\0';
}

/* Replace dst with n bytes of s. */
static void
received_set(char *dst, size_t dstlen, const char *s, size_t n)
{
	dst[0] = '\0';
	received_put(dst, dstlen, s, n, false);
}

/* Length of the comment opening at v[0] == '('; *inner gets the length
 * between the parentheses. Unclosed comments run to the end. */
static size_t
received_comment_len(const char *v, size_t len, size_t *inner)
{
	size_t i = 1, depth = 1;

	while (i < len && depth > 0) {
		if (v[i] == '\\' && i + 1 < len)
			i++;
		else if (v[i] == '(')
			depth++;
		else if (v[i] == ')')
			depth--;
		i++;
	}
	*inner = depth == 0 ? i - 2 : i - 1;
	return i;
}

/* Length of a word at v[0]: "<...>" and "\"...\"" may hold spaces, ';'
 * and '(' (a quoted local part), so they are read as one token. */
static size_t
received_word_len(const char *v, size_t len)
{
	size_t i = 0;
	bool quoted = false, angle = v[0] == '<';

	for (; i < len; i++) {
		char c = v[i];
		if (c == '\\' && i + 1 < len) {
			i++;
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		else if (quoted)
			continue;
		else if (angle && c == '>')
			return i + 1;
		else if (!angle && (received_is_wsp(c) || c == '(' ||
		    c == ';'))
			break;
	}
	return i;
}

/* Cut v into at most max tokens; sets *truncated if some were left. */
static size_t
received_tokenize(const char *v, size_t len, struct received_tok *toks,
    size_t max, bool *truncated)
{
	size_t i = 0, n = 0;

	while (i < len) {
		if (received_is_wsp(v[i])) {
			i++;
			continue;
		}
		if (n == max) {
			*truncated = true;
			break;
		}
		struct received_tok *t = &toks[n++];
		size_t step, inner = 0;
		if (v[i] == '(') {
			step = received_comment_len(v + i, len - i, &inner);
			*t = (struct received_tok){ RECEIVED_TOK_COMMENT,
			    v + i + 1, inner };
		} else if (v[i] == ';') {
			step = 1;
			*t = (struct received_tok){ RECEIVED_TOK_SEMI, v + i, 1 };
		} else {
			step = received_word_len(v + i, len - i);
			*t = (struct received_tok){ RECEIVED_TOK_WORD, v + i,
			    step };
		}
		i += step;
	}
	return n;
}

/* Case-insensitive match of a token against a NUL-terminated word. */
static bool
received_word_is(const char *p, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(p, word, len) == 0;
}

static enum received_clause
received_keyword(const struct received_tok *t)
{
	static const struct {
		const char		*word;
		enum received_clause	 clause;
	} kw[] = {
		{ "from", RECEIVED_CLAUSE_FROM }, { "by", RECEIVED_CLAUSE_BY },
		{ "via", RECEIVED_CLAUSE_VIA }, { "with", RECEIVED_CLAUSE_WITH },
		{ "id", RECEIVED_CLAUSE_ID }, { "for", RECEIVED_CLAUSE_FOR },
		{ "tls", RECEIVED_CLAUSE_TLS },
	};

	for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
		if (received_word_is(t->p, t->len, kw[i].word))
			return kw[i].clause;
	return RECEIVED_CLAUSE_NONE;
}

/* The field that holds a clause's value (NULL for tls and other). */
static char *
received_field(struct received_hop *hop, enum received_clause c,
    size_t *size)
{
	switch (c) {
	case RECEIVED_CLAUSE_FROM:
		*size = sizeof(hop->from);
		return hop->from;
	case RECEIVED_CLAUSE_BY:
		*size = sizeof(hop->by);
		return hop->by;
	case RECEIVED_CLAUSE_VIA:
		*size = sizeof(hop->via);
		return hop->via;
	case RECEIVED_CLAUSE_WITH:
		*size = sizeof(hop->with);
		return hop->with;
	case RECEIVED_CLAUSE_ID:
		*size = sizeof(hop->id);
		return hop->id;
	case RECEIVED_CLAUSE_FOR:
		*size = sizeof(hop->for_addr);
		return hop->for_addr;
	default:
		*size = 0;
		return NULL;
	}
}

/* RFC 8314 §4.3: tls-cipher-name = ALPHA *(ALPHA / DIGIT / "_"), or
 * "0x" 4HEXDIG; dh-group = ALPHA *(ALPHA / DIGIT / "_" / "-"). */
static bool
received_valid_cipher(const char *p, size_t len, bool group)
{
	if (!group && len == 6 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		return isxdigit((unsigned char)p[2]) &&
		    isxdigit((unsigned char)p[3]) &&
		    isxdigit((unsigned char)p[4]) &&
		    isxdigit((unsigned char)p[5]);
	if (len == 0 || !isalpha((unsigned char)p[0]))
		return false;
	for (size_t i = 1; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!isalnum(c) && c != '_' && !(group && c == '-'))
			return false;
	}
	return true;
}

/* A word after "tls": the cipher, "group", or the group's name. */
static void
received_walk_tls(struct received_walk *w, const struct received_tok *t)
{
	struct received_hop *hop = w->hop;

	if (w->want_value) {
		w->want_value = false;
		if (received_valid_cipher(t->p, t->len, false)) {
			received_set(hop->tls_cipher, sizeof(hop->tls_cipher),
			    t->p, t->len);
			hop->evidence |= RECEIVED_EV_TLS_CLAUSE;
		} else
			hop->odd = true;
	} else if (w->want_group) {
		w->want_group = false;
		if (received_valid_cipher(t->p, t->len, true))
			received_set(hop->tls_group, sizeof(hop->tls_group),
			    t->p, t->len);
		else
			hop->odd = true;
	} else if (received_word_is(t->p, t->len, "group") &&
	    hop->tls_cipher[0] != '\0' && hop->tls_group[0] == '\0' &&
	    !w->after_comment)
		w->want_group = true;
	else {
		w->cur = RECEIVED_CLAUSE_OTHER;
		w->want_value = true;
	}
}

/*
 * "by" starts the part of the field the receiving server writes itself.
 * Clauses seen before it came from inside the from clause, i.e. from a
 * client's HELO (Postfix joins a multi-word HELO with spaces): forget them.
 */
static void
received_walk_by(struct received_walk *w)
{
	struct received_hop *hop = w->hop;

	if (hop->with[0] || hop->via[0] || hop->id[0] || hop->for_addr[0] ||
	    hop->tls_cipher[0] || w->seen_by)
		hop->odd = true;
	hop->with[0] = hop->via[0] = hop->id[0] = hop->for_addr[0] = '\0';
	hop->tls_cipher[0] = hop->tls_group[0] = '\0';
	hop->evidence &= ~(unsigned)RECEIVED_EV_TLS_CLAUSE;
	hop->by[0] = '\0';
	/* Everything so far, comments included, is the from part. */
	for (size_t i = 0; i < hop->ncomments; i++)
		hop->comments[i].clause = RECEIVED_CLAUSE_FROM;
	w->seen_by = true;
}

/* A keyword: start its clause. */
static void
received_walk_keyword(struct received_walk *w, enum received_clause c)
{
	struct received_hop *hop = w->hop;
	size_t size;
	char *field;

	w->after_comment = w->want_group = false;
	w->want_value = true;
	if (c == RECEIVED_CLAUSE_BY)
		received_walk_by(w);
	else if (c == RECEIVED_CLAUSE_FROM) {
		if (w->seen_by || hop->from[0])
			c = RECEIVED_CLAUSE_OTHER;
	} else if (c == RECEIVED_CLAUSE_TLS) {
		if (hop->tls_cipher[0])
			c = RECEIVED_CLAUSE_OTHER;
	} else if ((field = received_field(hop, c, &size)) != NULL &&
	    field[0] != '\0')
		c = RECEIVED_CLAUSE_OTHER;	/* repeated: keep the first */
	if (c == RECEIVED_CLAUSE_OTHER || (c != RECEIVED_CLAUSE_FROM &&
	    c != RECEIVED_CLAUSE_BY && !w->seen_by))
		hop->odd = true;
	w->cur = c;
}

/* One word token. */
static void
received_walk_word(struct received_walk *w, const struct received_tok *t)
{
	struct received_hop *hop = w->hop;
	enum received_clause kw;
	size_t size;
	char *field;

	if (w->cur == RECEIVED_CLAUSE_TLS) {
		if (w->want_value || w->want_group ||
		    received_keyword(t) == RECEIVED_CLAUSE_NONE) {
			received_walk_tls(w, t);
			return;
		}
	}
	kw = received_keyword(t);
	/* An unknown clause's value may be missing (a word that is junk
	 * from a HELO): a keyword after it is a keyword. */
	if (w->want_value && !(w->cur == RECEIVED_CLAUSE_OTHER &&
	    kw != RECEIVED_CLAUSE_NONE)) {
		w->want_value = false;
		if ((field = received_field(hop, w->cur, &size)) != NULL)
			received_set(field, size, t->p, t->len);
		return;
	}
	if (kw != RECEIVED_CLAUSE_NONE) {
		received_walk_keyword(w, kw);
		return;
	}
	/* Multi-word protocol and link names ("with Microsoft SMTP
	 * Server", "via Frontend Transport"). */
	if ((w->cur == RECEIVED_CLAUSE_WITH || w->cur == RECEIVED_CLAUSE_VIA) &&
	    !w->after_comment) {
		field = received_field(hop, w->cur, &size);
		received_put(field, size, t->p, t->len, true);
		return;
	}
	/* An unknown clause (RFC 5321 Additional-Registered-Clauses):
	 * name and value. Extra words of a one-word clause land here too. */
	w->cur = RECEIVED_CLAUSE_OTHER;
	w->want_value = true;
}

static void
received_add_comment(struct received_hop *hop, enum received_clause c,
    const struct received_tok *t)
{
	if (hop->ncomments == RECEIVED_MAX_COMMENTS) {
		hop->truncated = true;
		return;
	}
	struct received_comment *rc = &hop->comments[hop->ncomments++];
	rc->clause = c;
	received_set(rc->text, sizeof(rc->text), t->p, t->len);
}

/* Walk the tokens before the date. */
static void
received_walk(struct received_hop *hop, const struct received_tok *toks,
    size_t n)
{
	struct received_walk w = { .hop = hop, .cur = RECEIVED_CLAUSE_NONE };

	for (size_t i = 0; i < n; i++) {
		const struct received_tok *t = &toks[i];
		if (t->type == RECEIVED_TOK_COMMENT) {
			received_add_comment(hop, w.cur, t);
			w.after_comment = true;
		} else if (t->type == RECEIVED_TOK_WORD)
			received_walk_word(&w, t);
		else
			hop->odd = true;	/* an earlier ';' */
	}
	if (w.want_value && w.cur != RECEIVED_CLAUSE_OTHER)
		hop->odd = true;
}

/* The words after the last ';' are the date; comments there are kept. */
static void
received_walk_date(struct received_hop *hop, const struct received_tok *toks,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (toks[i].type == RECEIVED_TOK_COMMENT)
			received_add_comment(hop, RECEIVED_CLAUSE_DATE,
			    &toks[i]);
		else if (toks[i].type == RECEIVED_TOK_WORD)
			received_put(hop->date, sizeof(hop->date), toks[i].p,
			    toks[i].len, true);
	}
	hop->when_valid = received_date_parse(hop->date, strlen(hop->date),
	    &hop->when);
}

/* Defined in the second half of the file. */
static void received_client(struct received_hop *hop);
static void received_judge(struct received_hop *hop);

enum received_result
received_parse(const char *value, size_t len, struct received_hop *hop)
{
	struct received_tok toks[RECEIVED_MAX_TOKENS];
	size_t n, semi;

	memset(hop, 0, sizeof(*hop));
	if (len > RECEIVED_MAX_VALUE) {
		len = RECEIVED_MAX_VALUE;
		hop->truncated = true;
	}
	n = received_tokenize(value, len, toks, RECEIVED_MAX_TOKENS,
	    &hop->truncated);
	/* The date follows the last ';': a ';' earlier (in a HELO, say)
	 * must not let a client choose where the clauses end. */
	for (semi = n; semi > 0; semi--)
		if (toks[semi - 1].type == RECEIVED_TOK_SEMI)
			break;
	if (semi > 0) {
		received_walk(hop, toks, semi - 1);
		received_walk_date(hop, toks + semi, n - semi);
	} else
		received_walk(hop, toks, n);
	received_client(hop);
	received_judge(hop);
	if (hop->from[0] == '\0' && hop->by[0] == '\0')
		return RECEIVED_ERR_SYNTAX;
	return RECEIVED_OK;
}

/* ---- The client: TCP-info in the from clause's comment. ---- */

/* If p/len is an IPv4 or IPv6 address (optionally "IPv6:"), copy it. */
static bool
received_ip(const char *p, size_t len, char *out, size_t outlen)
{
	char tmp[64];
	unsigned char bin[16];

	if (len > 5 && strncasecmp(p, "IPv6:", 5) == 0) {
		p += 5;
		len -= 5;
	}
	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, p, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET, tmp, bin) != 1 &&
	    inet_pton(AF_INET6, tmp, bin) != 1)
		return false;
	snprintf(out, outlen, "%s", tmp);
	return true;
}

/* "name [addr]", "[addr]:port helo=x", "addr" (Microsoft). */
static bool
received_tcp_info(struct received_hop *hop, const char *s)
{
	const char *lb = strchr(s, '['), *rb;
	size_t len = strlen(s);

	if (lb == NULL)
		return received_ip(s, len, hop->from_ip, sizeof(hop->from_ip));
	if ((rb = strchr(lb, ']')) == NULL ||
	    !received_ip(lb + 1, (size_t)(rb - lb - 1), hop->from_ip,
	    sizeof(hop->from_ip)))
		return false;
	/* The word just before '[' is the verified reverse name. */
	const char *end = lb;
	while (end > s && end[-1] == ' ')
		end--;
	const char *start = end;
	while (start > s && start[-1] != ' ' && start[-1] != '(')
		start--;
	while (end > start && end[-1] == '.')	/* Gmail's "name." */
		end--;
	if (end > start && !received_word_is(start, (size_t)(end - start),
	    "unknown"))
		received_set(hop->from_rdns, sizeof(hop->from_rdns), start,
		    (size_t)(end - start));
	return true;
}

static bool
received_is_loopback(const char *ip)
{
	unsigned char bin[16];

	if (inet_pton(AF_INET, ip, bin) == 1)
		return bin[0] == 127;
	if (inet_pton(AF_INET6, ip, bin) != 1)
		return false;
	static const unsigned char one[16] = { [15] = 1 };
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	return memcmp(bin, one, 16) == 0 ||
	    (memcmp(bin, mapped, 12) == 0 && bin[12] == 127);
}

/* Fill from_ip/from_rdns and decide whether the hop is local. */
static void
received_client(struct received_hop *hop)
{
	/* The server writes TCP-info last before "by"; an earlier look-alike
	 * can only have come from the client's HELO. */
	for (size_t i = hop->ncomments; i > 0; i--) {
		if (hop->comments[i - 1].clause != RECEIVED_CLAUSE_FROM)
			continue;
		hop->from_ip[0] = hop->from_rdns[0] = '\0';
		if (received_tcp_info(hop, hop->comments[i - 1].text))
			break;
	}
	if (hop->from_ip[0] == '\0' && hop->from[0] == '[') {
		const char *rb = strchr(hop->from, ']');
		if (rb != NULL)
			received_ip(hop->from + 1, (size_t)(rb - hop->from - 1),
			    hop->from_ip, sizeof(hop->from_ip));
	}
	/* Exim writes "with local" / "local-esmtp" for local submission. */
	hop->local = (hop->from[0] == '\0' && hop->by[0] != '\0') ||
	    (hop->from_ip[0] != '\0' && received_is_loopback(hop->from_ip)) ||
	    strncasecmp(hop->with, "local", 5) == 0;
}

/* ---- TLS evidence. ---- */

bool
received_tls_version_normalize(const char *s, size_t len, char *out,
    size_t outlen)
{
	bool tls;
	size_t i = 3;
	unsigned major = 0, minor = 0;

	out[0] = '\0';
	if (len < 4)
		return false;
	if (strncasecmp(s, "TLS", 3) == 0)
		tls = true;
	else if (strncasecmp(s, "SSL", 3) == 0)
		tls = false;
	else
		return false;
	if (s[i] == 'v' || s[i] == 'V')
		i++;
	if (i >= len || !isdigit((unsigned char)s[i]))
		return false;
	major = (unsigned)(s[i++] - '0');
	if (i + 1 < len && (s[i] == '.' || s[i] == '_') &&
	    isdigit((unsigned char)s[i + 1])) {
		minor = (unsigned)(s[i + 1] - '0');
		i += 2;
	}
	if (i != len)
		return false;
	if (tls && major == 1)
		snprintf(out, outlen, "TLSv1.%u", minor);
	else if (!tls && (major == 2 || major == 3) && minor == 0)
		snprintf(out, outlen, "SSLv%u", major);
	else
		return false;
	return true;
}

/* Next word of a comment, split at spaces and commas; *pos advances. */
static bool
received_next_word(const char *s, size_t *pos, const char **w, size_t *wlen)
{
	size_t i = *pos;

	while (s[i] == ' ' || s[i] == ',')
		i++;
	if (s[i] == '\0')
		return false;
	*w = s + i;
	while (s[i] != '\0' && s[i] != ' ' && s[i] != ',')
		i++;
	*wlen = (size_t)(s + i - *w);
	*pos = i;
	return true;
}

/* Set the version/cipher/bits/group fields that are still empty. */
static void
received_tls_detail(struct received_hop *hop, const char *version,
    size_t vlen, const char *cipher, size_t clen, const char *bits)
{
	if (hop->tls_version[0] == '\0' && version != NULL)
		received_tls_version_normalize(version, vlen, hop->tls_version,
		    sizeof(hop->tls_version));
	if (hop->tls_cipher[0] == '\0' && cipher != NULL) {
		/* Cipher names are OpenSSL's (ECDHE-RSA-AES256-GCM-SHA384)
		 * or IANA's: letters, digits, '_', '-', '.'. */
		size_t n = 0;
		while (n < clen && (isalnum((unsigned char)cipher[n]) ||
		    cipher[n] == '_' || cipher[n] == '-' || cipher[n] == '.'))
			n++;
		received_set(hop->tls_cipher, sizeof(hop->tls_cipher), cipher,
		    n);
	}
	if (hop->tls_bits == 0 && bits != NULL) {
		int b = 0;
		for (size_t i = 0; isdigit((unsigned char)bits[i]) && i < 5;
		    i++)
			b = b * 10 + (bits[i] - '0');
		hop->tls_bits = b;
	}
}

/* Postfix and sealmail: "using TLSv1.3 with cipher C (256/256 bits)
 * key-exchange X25519 server-signature ..." (Postfix's
 * smtpd_tls_received_header). */
static bool
received_comment_postfix(struct received_hop *hop, const char *s)
{
	const char *w, *v, *c = NULL, *bits = NULL;
	size_t pos = 6, wl, vl, cl = 0;
	char norm[16];

	if (strncmp(s, "using ", 6) != 0 ||
	    !received_next_word(s, &pos, &v, &vl) ||
	    !received_tls_version_normalize(v, vl, norm, sizeof(norm)))
		return false;
	while (received_next_word(s, &pos, &w, &wl)) {
		if (received_word_is(w, wl, "cipher") && c == NULL) {
			if (received_next_word(s, &pos, &c, &cl))
				continue;
			c = NULL;
		} else if (w[0] == '(' && c != NULL && bits == NULL)
			bits = w + 1;
		else if (received_word_is(w, wl, "key-exchange") &&
		    hop->tls_group[0] == '\0' &&
		    received_next_word(s, &pos, &w, &wl) &&
		    received_valid_cipher(w, wl, true))
			received_set(hop->tls_group, sizeof(hop->tls_group), w,
			    wl);
	}
	received_tls_detail(hop, v, vl, c, cl, bits);
	return true;
}

/* sendmail, Gmail, Microsoft 365, OpenSMTPD 7: "version=TLS1_3
 * cipher=C bits=128/128", "version=TLS1_2, cipher=C", "TLS version=TLSv1.3
 * cipher=C bits=256 verify=NO". */
static bool
received_comment_kv(struct received_hop *hop, const char *s)
{
	const char *w, *v = NULL, *c = NULL, *bits = NULL;
	size_t pos = 0, wl, vl = 0, cl = 0;
	char norm[16];

	while (received_next_word(s, &pos, &w, &wl)) {
		if (wl > 8 && strncasecmp(w, "version=", 8) == 0 && v == NULL) {
			v = w + 8;
			vl = wl - 8;
		} else if (wl > 7 && strncasecmp(w, "cipher=", 7) == 0 &&
		    c == NULL) {
			c = w + 7;
			cl = wl - 7;
		} else if (wl > 5 && strncasecmp(w, "bits=", 5) == 0)
			bits = w + 5;
	}
	if (v == NULL || !received_tls_version_normalize(v, vl, norm,
	    sizeof(norm)))
		return false;
	received_tls_detail(hop, v, vl, c, cl, bits);
	return true;
}

/* Exim and OpenSMTPD 6: "TLS1.3", "TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256",
 * "TLSv1.2:C:256:NO"; Exchange 2010: "TLS". */
static bool
received_comment_colon(struct received_hop *hop, const char *s)
{
	const char *c1, *c2;
	char norm[16];
	size_t vl;

	if (strcmp(s, "TLS") == 0)
		return true;
	if (strchr(s, ' ') != NULL)
		return false;
	c1 = strchr(s, ':');
	vl = c1 != NULL ? (size_t)(c1 - s) : strlen(s);
	if (!received_tls_version_normalize(s, vl, norm, sizeof(norm)))
		return false;
	if (c1 == NULL) {
		received_tls_detail(hop, s, vl, NULL, 0, NULL);
		return true;
	}
	c2 = strchr(c1 + 1, ':');
	received_tls_detail(hop, s, vl, c1 + 1,
	    c2 != NULL ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1),
	    c2 != NULL ? c2 + 1 : NULL);
	return true;
}

/* Does this comment say the hop used TLS? Fills details it finds. */
static bool
received_comment_tls(struct received_hop *hop, const char *s)
{
	if (strncasecmp(s, "Authenticated sender:", 21) == 0) {
		hop->authenticated = true;	/* Postfix */
		return false;
	}
	if (strcasecmp(s, "Google Transport Security") == 0)
		return true;
	return received_comment_postfix(hop, s) ||
	    received_comment_kv(hop, s) || received_comment_colon(hop, s);
}

/* RFC 3848 and RFC 6531 §3.7.3 transmission types, plus the unregistered
 * SMTPS/SMTPSA (Gmail) and HTTP/HTTPS (webmail submission). */
static const struct received_proto {
	const char	*word;
	bool		 tls;
	bool		 auth;
} received_protos[] = {
	{ "SMTP", false, false }, { "ESMTP", false, false },
	{ "ESMTPA", false, true }, { "ESMTPS", true, false },
	{ "ESMTPSA", true, true }, { "LMTP", false, false },
	{ "LMTPA", false, true }, { "LMTPS", true, false },
	{ "LMTPSA", true, true }, { "UTF8SMTP", false, false },
	{ "UTF8SMTPA", false, true }, { "UTF8SMTPS", true, false },
	{ "UTF8SMTPSA", true, true }, { "UTF8LMTP", false, false },
	{ "UTF8LMTPA", false, true }, { "UTF8LMTPS", true, false },
	{ "UTF8LMTPSA", true, true }, { "SMTPS", true, false },
	{ "SMTPSA", true, true }, { "HTTP", false, false },
	{ "HTTPS", true, false },
};

static const struct received_proto *
received_proto_find(const char *with)
{
	for (size_t i = 0; i < sizeof(received_protos) /
	    sizeof(received_protos[0]); i++)
		if (strcasecmp(with, received_protos[i].word) == 0)
			return &received_protos[i];
	return NULL;
}

/* Decide hop->tls from the evidence (rules in received.h). */
static void
received_judge(struct received_hop *hop)
{
	const struct received_proto *proto = received_proto_find(hop->with);
	bool claim = (hop->evidence & RECEIVED_EV_TLS_CLAUSE) != 0;

	for (size_t i = 0; i < hop->ncomments; i++)
		if (received_comment_tls(hop, hop->comments[i].text)) {
			hop->evidence |= RECEIVED_EV_COMMENT;
			claim = true;
		}
	if (proto != NULL) {
		hop->evidence |= RECEIVED_EV_PROTOCOL;
		hop->authenticated = hop->authenticated || proto->auth;
		hop->tls = proto->tls ? RECEIVED_TLS_YES : RECEIVED_TLS_NO;
		if (!proto->tls && claim) {
			/* The server said plaintext; the claim is a HELO or
			 * an injected comment. Show nothing of it. */
			hop->evidence |= RECEIVED_EV_CONFLICT;
			hop->tls_version[0] = hop->tls_cipher[0] = '\0';
			hop->tls_group[0] = '\0';
			hop->tls_bits = 0;
		}
	} else if (claim)
		hop->tls = RECEIVED_TLS_YES;
	else if (strcasecmp(hop->with, "Microsoft SMTP Server") == 0) {
		hop->tls = RECEIVED_TLS_NO;
		hop->evidence |= RECEIVED_EV_MICROSOFT;
	} else
		hop->tls = RECEIVED_TLS_UNKNOWN;
}

const char *
received_tls_to_text(enum received_tls tls)
{
	switch (tls) {
	case RECEIVED_TLS_YES:
		return "yes";
	case RECEIVED_TLS_NO:
		return "no";
	default:
		return "unknown";
	}
}

/* ---- RFC 5322 §3.3 dates. ---- */

struct received_scan {
	const char	*s;
	size_t		 len;
	size_t		 i;
};

static void
received_scan_ws(struct received_scan *sc)
{
	while (sc->i < sc->len && received_is_wsp(sc->s[sc->i]))
		sc->i++;
}

/* 1..maxd digits; false if none. */
static bool
received_scan_num(struct received_scan *sc, size_t maxd, int *val,
    size_t *ndigits)
{
	size_t n = 0;

	*val = 0;
	while (sc->i < sc->len && n < maxd &&
	    isdigit((unsigned char)sc->s[sc->i])) {
		*val = *val * 10 + (sc->s[sc->i++] - '0');
		n++;
	}
	if (ndigits != NULL)
		*ndigits = n;
	return n > 0;
}

/* Letters into w (size wlen); returns how many were read. */
static size_t
received_scan_alpha(struct received_scan *sc, char *w, size_t wlen)
{
	size_t n = 0;

	while (sc->i < sc->len && isalpha((unsigned char)sc->s[sc->i])) {
		if (n + 1 < wlen)
			w[n] = sc->s[sc->i];
		n++;
		sc->i++;
	}
	w[n + 1 < wlen ? n : wlen - 1] = '\0';
	return n;
}

static bool
received_scan_char(struct received_scan *sc, char c)
{
	if (sc->i < sc->len && sc->s[sc->i] == c) {
		sc->i++;
		return true;
	}
	return false;
}

/* Zone as seconds east of UTC (RFC 5322 §3.3 and obsolete §4.3 names;
 * military letters and unknown names count as -0000, i.e. 0). */
static bool
received_scan_zone(struct received_scan *sc, long *off)
{
	static const struct { const char *name; int hours; } zones[] = {
		{ "UT", 0 }, { "GMT", 0 }, { "UTC", 0 }, { "EST", -5 },
		{ "EDT", -4 }, { "CST", -6 }, { "CDT", -5 }, { "MST", -7 },
		{ "MDT", -6 }, { "PST", -8 }, { "PDT", -7 },
	};
	char w[8];
	int hhmm;
	size_t nd;

	received_scan_ws(sc);
	*off = 0;
	if (sc->i < sc->len && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-')) {
		int sign = sc->s[sc->i++] == '-' ? -1 : 1;
		if (!received_scan_num(sc, 4, &hhmm, &nd) || nd != 4 ||
		    hhmm % 100 > 59)
			return false;
		*off = sign * ((hhmm / 100) * 3600L + (hhmm % 100) * 60L);
		return true;
	}
	if (received_scan_alpha(sc, w, sizeof(w)) == 0)
		return false;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strcasecmp(w, zones[i].name) == 0)
			*off = zones[i].hours * 3600L;
	return true;
}

/* "[Day ,] DD Mon YYYY": fills mday, mon, year. */
static bool
received_scan_day(struct received_scan *sc, struct tm *tm)
{
	static const char months[12][4] = { "jan", "feb", "mar", "apr",
	    "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec" };
	char w[8];
	size_t nd, save;
	int year;

	received_scan_ws(sc);
	save = sc->i;
	if (received_scan_alpha(sc, w, sizeof(w)) > 0) {
		received_scan_ws(sc);
		if (!received_scan_char(sc, ','))
			return false;
	} else
		sc->i = save;
	received_scan_ws(sc);
	if (!received_scan_num(sc, 2, &tm->tm_mday, NULL))
		return false;
	received_scan_ws(sc);
	if (received_scan_alpha(sc, w, sizeof(w)) != 3)
		return false;
	tm->tm_mon = -1;
	for (int m = 0; m < 12; m++)
		if (strcasecmp(w, months[m]) == 0)
			tm->tm_mon = m;
	received_scan_ws(sc);
	if (tm->tm_mon < 0 || !received_scan_num(sc, 4, &year, &nd) || nd < 2)
		return false;
	/* RFC 5322 §4.3: two-digit years below 50 are 20xx, three-digit
	 * years count from 1900. */
	if (nd == 2)
		year += year < 50 ? 2000 : 1900;
	else if (nd == 3)
		year += 1900;
	tm->tm_year = year - 1900;
	return true;
}

static bool
received_valid_tm(const struct tm *tm)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	int year = tm->tm_year + 1900;
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	if (tm->tm_mday < 1 || tm->tm_mday > mdays[tm->tm_mon] ||
	    (tm->tm_mon == 1 && !leap && tm->tm_mday > 28))
		return false;
	return year >= 1900 && tm->tm_hour <= 23 && tm->tm_min <= 59 &&
	    tm->tm_sec <= 60;
}

bool
received_date_parse(const char *s, size_t len, time_t *out)
{
	struct received_scan sc = { s, len, 0 };
	struct tm tm;
	long off;

	memset(&tm, 0, sizeof(tm));
	if (!received_scan_day(&sc, &tm))
		return false;
	received_scan_ws(&sc);
	if (!received_scan_num(&sc, 2, &tm.tm_hour, NULL) ||
	    !received_scan_char(&sc, ':') ||
	    !received_scan_num(&sc, 2, &tm.tm_min, NULL))
		return false;
	if (received_scan_char(&sc, ':') &&
	    !received_scan_num(&sc, 2, &tm.tm_sec, NULL))
		return false;
	if (!received_scan_zone(&sc, &off) || !received_valid_tm(&tm))
		return false;
	received_scan_ws(&sc);
	if (sc.i != sc.len)
		return false;
	*out = timegm(&tm) - (time_t)off;
	return true;
}

/* ---- Summary. ---- */

/* Versions in the order the summary lists them. */
static const char *const received_versions[] = {
	"TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3", "SSLv2",
};

/* "TLS 1.3/1.2, SSL 3" from a bit per received_versions[] entry. */
static void
received_versions_text(unsigned seen, char *out, size_t outlen)
{
	size_t o = 0;
	int family = -1;	/* 0 TLS, 1 SSL */

	out[0] = '\0';
	for (size_t i = 0; i < 6; i++) {
		if (!(seen & (1u << i)))
			continue;
		int fam = i < 4 ? 0 : 1;
		int n = snprintf(out + o, outlen - o, "%s%s%s",
		    family == -1 ? "" : family == fam ? "/" : ", ",
		    family == fam ? "" : fam == 0 ? "TLS " : "SSL ",
		    received_versions[i] + 4);
		if (n < 0 || (size_t)n >= outlen - o)
			return;
		o += (size_t)n;
		family = fam;
	}
}

void
received_summarize(const struct received_hop *hops, size_t n,
    struct received_summary *out)
{
	unsigned seen = 0;

	memset(out, 0, sizeof(*out));
	out->first_no = out->first_unknown = (size_t)-1;
	out->nhops = n;
	for (size_t i = 0; i < n; i++) {
		const struct received_hop *h = &hops[i];
		/* A local hop (loopback, local submission) says nothing about
		 * the network, unless it was itself a TLS connection: then it
		 * counts like any other encrypted hop. */
		if (h->local && h->tls != RECEIVED_TLS_YES) {
			out->nlocal++;
			continue;
		}
		if (h->tls == RECEIVED_TLS_YES)
			out->nyes++;
		else if (h->tls == RECEIVED_TLS_NO && out->nno++ == 0)
			out->first_no = i;
		else if (h->tls == RECEIVED_TLS_UNKNOWN &&
		    out->nunknown++ == 0)
			out->first_unknown = i;
		for (size_t v = 0; v < 6 && h->tls == RECEIVED_TLS_YES; v++)
			if (strcmp(h->tls_version, received_versions[v]) == 0)
				seen |= 1u << v;
	}
	received_versions_text(seen, out->versions, sizeof(out->versions));
}
