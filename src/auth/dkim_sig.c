/* SPDX-License-Identifier: ISC */
/*
 * DKIM tag=value lists and DKIM-Signature parsing (RFC 6376 §3.2, §3.5;
 * RFC 8463 §4.1). The input is an untrusted header field value; every
 * length is checked against dkim_sig.h before anything is copied, and the
 * only allocation is one copy of the value (bounded by
 * LIMIT_HEADER_SECTION) that the signature owns.
 */
#include "auth/dkim_sig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/xmalloc.h"
#include "msg/idna.h"

/* Bits of the tags that have a meaning for us, to find duplicates fast. */
enum {
	TAG_V = 1 << 0, TAG_A = 1 << 1, TAG_B = 1 << 2, TAG_BH = 1 << 3,
	TAG_C = 1 << 4, TAG_D = 1 << 5, TAG_H = 1 << 6, TAG_I = 1 << 7,
	TAG_L = 1 << 8, TAG_Q = 1 << 9, TAG_S = 1 << 10, TAG_T = 1 << 11,
	TAG_X = 1 << 12, TAG_Z = 1 << 13,
};
#define TAGS_REQUIRED	(TAG_V | TAG_A | TAG_B | TAG_BH | TAG_D | TAG_H | \
    TAG_S)

static bool
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

static bool
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

bool
dkim_name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

/*
 * Length of the FWS element at text[pos]: 1 for WSP, 3 for CRLF WSP, 2 for
 * a CRLF that ends the text (a caller may pass the field with its final
 * line break), 0 otherwise.
 */
static size_t
fws_at(const char *text, size_t len, size_t pos)
{
	if (pos >= len)
		return 0;
	if (is_wsp((unsigned char)text[pos]))
		return 1;
	if (text[pos] == '\r' && pos + 1 < len && text[pos + 1] == '\n') {
		if (pos + 2 == len)
			return 2;
		if (is_wsp((unsigned char)text[pos + 2]))
			return 3;
	}
	return 0;
}

static void
skip_fws(struct dkim_tag_iter *it)
{
	size_t n;

	while ((n = fws_at(it->text, it->len, it->pos)) > 0)
		it->pos += n;
}

void
dkim_tag_init(struct dkim_tag_iter *it, const char *text, size_t len)
{
	it->text = text;
	it->len = len;
	it->pos = 0;
	it->done = false;
}

/* Scan a tag-value up to ";" or the end; -1 on a byte outside VALCHAR. */
static int
scan_value(struct dkim_tag_iter *it, struct dkim_tag *tag)
{
	size_t start, last, n;

	tag->vstart = it->pos;
	skip_fws(it);
	start = last = it->pos;
	while (it->pos < it->len && it->text[it->pos] != ';') {
		unsigned char c = (unsigned char)it->text[it->pos];
		if ((n = fws_at(it->text, it->len, it->pos)) > 0) {
			it->pos += n;
			continue;
		}
		/* VALCHAR is %x21-3A / %x3C-7E; UTF-8 tolerated (§3.2). */
		if (c < 0x21 || c == 0x7f)
			return -1;
		last = ++it->pos;
	}
	tag->val = it->text + start;
	tag->vallen = last - start;
	tag->vend = it->pos;
	if (it->pos < it->len)
		it->pos++;		/* the ";" */
	else
		it->done = true;
	return 0;
}

int
dkim_tag_next(struct dkim_tag_iter *it, struct dkim_tag *tag)
{
	size_t start;

	if (it->done)
		return 0;
	skip_fws(it);
	if (it->pos >= it->len) {
		/* Empty list, or the optional ";" after the last tag-spec. */
		it->done = true;
		return 0;
	}
	start = it->pos;
	if (!is_alpha((unsigned char)it->text[it->pos]))
		return -1;
	while (it->pos < it->len) {
		unsigned char c = (unsigned char)it->text[it->pos];
		if (!is_alpha(c) && !is_digit(c) && c != '_')
			break;
		it->pos++;
	}
	tag->name = it->text + start;
	tag->namelen = it->pos - start;
	skip_fws(it);
	if (it->pos >= it->len || it->text[it->pos] != '=')
		return -1;
	it->pos++;
	return scan_value(it, tag) == 0 ? 1 : -1;
}

long
dkim_base64_decode(const char *s, size_t len, uint8_t *out, size_t outcap)
{
	size_t n = 0, max = (outcap + 2) / 3 * 4;
	char *tmp;
	long r;

	tmp = xmalloc(max + 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_wsp(c) || c == '\r' || c == '\n')
			continue;
		if (n == max) {
			free(tmp);
			return -1;
		}
		tmp[n++] = (char)c;
	}
	r = n == 0 ? -1 : base64_decode(tmp, n, out, outcap);
	free(tmp);
	return r;
}

/* Decimal of 1..maxdigits digits; saturates at UINT64_MAX. */
static int
parse_uint(const struct dkim_tag *tag, size_t maxdigits, uint64_t *out)
{
	uint64_t v = 0;

	if (tag->vallen == 0 || tag->vallen > maxdigits)
		return -1;
	for (size_t i = 0; i < tag->vallen; i++) {
		unsigned d = (unsigned char)tag->val[i] - '0';
		if (d > 9)
			return -1;
		v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
	}
	*out = v;
	return 0;
}

/*
 * A domain name of LDH (and "_", seen in selectors) labels of 1..63 octets,
 * at most LIMIT_DOMAIN - 2 octets in all; minlabels 2 for d= and the i=
 * domain (RFC 6376 §3.5 domain-name), 1 for s=.
 */
static bool
valid_domain(const char *p, size_t len, unsigned minlabels)
{
	size_t label = 0;
	unsigned nlabels = 1;

	if (len == 0 || len > LIMIT_DOMAIN - 2)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '.') {
			if (label == 0 || p[i - 1] == '-')
				return false;
			label = 0;
			nlabels++;
			continue;
		}
		if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_')
			return false;
		if ((label == 0 && c == '-') || ++label > 63)
			return false;
	}
	return label > 0 && p[len - 1] != '-' && nlabels >= minlabels;
}

/*
 * A d= value (or the domain of i=) into dst: RFC 8616 §5 lets a signature
 * in an internationalized message write it with U-labels; the key lookup
 * and DMARC need the A-label form (msg/idna), which also checks an
 * A-label as written. The hash still covers the field as written.
 */
static int
copy_domain(char *dst, size_t dstsize, const char *p, size_t len)
{
	if (idna_is_plain(p, len)) {
		if (len >= dstsize)
			return -1;
		memcpy(dst, p, len);
		dst[len] = '\0';
	} else if (idna_to_alabels(p, len, dst, dstsize, NULL) != 0)
		return -1;
	return valid_domain(dst, strlen(dst), 2) ? 0 : -1;
}

static int
copy_text(char *dst, size_t dstsize, const struct dkim_tag *tag)
{
	if (tag->vallen >= dstsize)
		return -1;
	memcpy(dst, tag->val, tag->vallen);
	dst[tag->vallen] = '\0';
	return 0;
}

static enum dkim_sig_result
parse_alg(const struct dkim_tag *tag, struct dkim_sig *sig)
{
	static const struct {
		const char	*name;
		enum dkim_alg	 alg;
	} algs[] = {
		{ "rsa-sha256", DKIM_ALG_RSA_SHA256 },
		{ "ed25519-sha256", DKIM_ALG_ED25519_SHA256 },
		{ "rsa-sha1", DKIM_ALG_RSA_SHA1 },
	};

	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (tag->vallen == strlen(algs[i].name) &&
		    memcmp(tag->val, algs[i].name, tag->vallen) == 0) {
			sig->alg = algs[i].alg;
			return DKIM_SIG_OK;
		}
	return DKIM_SIG_ERR_ALG;
}

static int
canon_word(const char *p, size_t len, enum dkim_canon_mode *m)
{
	if (len == 6 && memcmp(p, "simple", 6) == 0)
		*m = DKIM_CANON_SIMPLE;
	else if (len == 7 && memcmp(p, "relaxed", 7) == 0)
		*m = DKIM_CANON_RELAXED;
	else
		return -1;
	return 0;
}

/* c= header[/body]; the body part defaults to simple (§3.5). */
static enum dkim_sig_result
parse_canon(const struct dkim_tag *tag, struct dkim_sig *sig)
{
	const char *slash = memchr(tag->val, '/', tag->vallen);
	size_t hl = slash ? (size_t)(slash - tag->val) : tag->vallen;

	if (canon_word(tag->val, hl, &sig->hcanon) == -1)
		return DKIM_SIG_ERR_CANON;
	sig->bcanon = DKIM_CANON_SIMPLE;
	if (slash != NULL && canon_word(slash + 1, tag->vallen - hl - 1,
	    &sig->bcanon) == -1)
		return DKIM_SIG_ERR_CANON;
	return DKIM_SIG_OK;
}

/* Trim FWS on both sides of p[0..*len). */
static const char *
trim_fws(const char *p, size_t *len)
{
	while (*len > 0 && (is_wsp((unsigned char)*p) || *p == '\r' ||
	    *p == '\n')) {
		p++;
		(*len)--;
	}
	while (*len > 0 && (is_wsp((unsigned char)p[*len - 1]) ||
	    p[*len - 1] == '\r' || p[*len - 1] == '\n'))
		(*len)--;
	return p;
}

/* h= is hdr-name *( [FWS] ":" [FWS] hdr-name ) and must list From. */
static enum dkim_sig_result
parse_h(const struct dkim_tag *tag, struct dkim_sig *sig)
{
	const char *p = tag->val, *end = tag->val + tag->vallen;
	bool from = false;

	while (p <= end) {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		size_t n = colon ? (size_t)(colon - p) : (size_t)(end - p);
		const char *name = trim_fws(p, &n);

		if (n == 0 || n > DKIM_FIELD_NAME_MAX)
			return DKIM_SIG_ERR_FROM;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)name[i];
			/* RFC 5322 §3.6.8 ftext: printable except ":" */
			if (c < 33 || c > 126)
				return DKIM_SIG_ERR_FROM;
		}
		if (sig->nh == DKIM_SIG_H_MAX)
			return DKIM_SIG_ERR_TOO_BIG;
		sig->h[sig->nh].p = name;
		sig->h[sig->nh++].len = n;
		if (dkim_name_eq(name, n, "from", 4))
			from = true;
		if (colon == NULL)
			break;
		p = colon + 1;
	}
	return from ? DKIM_SIG_OK : DKIM_SIG_ERR_FROM;
}

/* q= is a colon-separated list that must offer dns/txt (§3.5). */
static enum dkim_sig_result
parse_q(const struct dkim_tag *tag)
{
	const char *p = tag->val, *end = tag->val + tag->vallen;

	while (p <= end) {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		size_t n = colon ? (size_t)(colon - p) : (size_t)(end - p);
		const char *m = trim_fws(p, &n);

		if (dkim_name_eq(m, n, "dns/txt", 7))
			return DKIM_SIG_OK;
		if (colon == NULL)
			break;
		p = colon + 1;
	}
	return DKIM_SIG_ERR_QUERY;
}

static enum dkim_sig_result
parse_b(const struct dkim_tag *tag, struct dkim_sig *sig)
{
	long n = dkim_base64_decode(tag->val, tag->vallen, sig->b,
	    sizeof(sig->b));
	size_t k = 0;

	if (n <= 0)
		return DKIM_SIG_ERR_BASE64;
	sig->blen = (size_t)n;
	sig->b_start = tag->vstart;
	sig->b_end = tag->vend;
	for (size_t i = 0; i < tag->vallen && k < 8; i++)
		if (!is_wsp((unsigned char)tag->val[i]) && tag->val[i] != '\r' &&
		    tag->val[i] != '\n')
			sig->b_prefix[k++] = tag->val[i];
	sig->b_prefix[k] = '\0';
	return DKIM_SIG_OK;
}

static enum dkim_sig_result
parse_bh(const struct dkim_tag *tag, struct dkim_sig *sig)
{
	long n = dkim_base64_decode(tag->val, tag->vallen, sig->bh,
	    sizeof(sig->bh));

	if (n <= 0)
		return DKIM_SIG_ERR_BASE64;
	sig->bhlen = (size_t)n;
	return DKIM_SIG_OK;
}

/* i= is [local-part] "@" domain, the domain d= or below it (§3.5). */
static enum dkim_sig_result
check_auid(struct dkim_sig *sig)
{
	const char *at = memrchr(sig->i, '@', strlen(sig->i));
	size_t dl = strlen(sig->d), il;
	char dom[LIMIT_DOMAIN + 1];

	if (at == NULL || copy_domain(dom, sizeof(dom), at + 1,
	    strlen(at + 1)) != 0)
		return DKIM_SIG_ERR_AUID;
	il = strlen(dom);
	if (il < dl ||
	    !dkim_name_eq(dom + il - dl, dl, sig->d, dl) ||
	    (il > dl && dom[il - dl - 1] != '.'))
		return DKIM_SIG_ERR_AUID;
	return DKIM_SIG_OK;
}

/* Tags each kind parses; others are ignored like unknown tags. ARC
 * (RFC 8617): an AMS ignores v= (§4.1.2) and its i= is the instance, an
 * AS has only i, a, b, d, s, t and cv (§4.1.3); arc.c reads i= and cv=. */
static unsigned
tags_known(enum dkim_sig_kind kind)
{
	switch (kind) {
	case DKIM_SIG_KIND_ARC_AMS:
		return ~(unsigned)(TAG_V | TAG_I);
	case DKIM_SIG_KIND_ARC_SEAL:
		return TAG_A | TAG_B | TAG_D | TAG_S | TAG_T;
	default:
		return ~0u;
	}
}

static enum dkim_sig_result
parse_tag(const struct dkim_tag *tag, struct dkim_sig *sig, unsigned *seen,
    enum dkim_sig_kind kind)
{
	static const char *names[] = { "v", "a", "b", "bh", "c", "d", "h",
	    "i", "l", "q", "s", "t", "x", "z" };
	unsigned bit = 0;

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (tag->namelen == strlen(names[k]) &&
		    memcmp(tag->name, names[k], tag->namelen) == 0)
			bit = 1u << k;
	if ((bit & tags_known(kind)) == 0)
		return DKIM_SIG_OK;	/* unknown tags are ignored (§3.2) */
	*seen |= bit;
	switch (bit) {
	case TAG_V:
		return tag->vallen == 1 && tag->val[0] == '1' ? DKIM_SIG_OK :
		    DKIM_SIG_ERR_VERSION;
	case TAG_A:
		return parse_alg(tag, sig);
	case TAG_B:
		return parse_b(tag, sig);
	case TAG_BH:
		return parse_bh(tag, sig);
	case TAG_C:
		return parse_canon(tag, sig);
	case TAG_D:
		return copy_domain(sig->d, sizeof(sig->d), tag->val,
		    tag->vallen) == 0 ? DKIM_SIG_OK : DKIM_SIG_ERR_DOMAIN;
	case TAG_S:
		return copy_text(sig->s, sizeof(sig->s), tag) == 0 &&
		    valid_domain(sig->s, tag->vallen, 1) ? DKIM_SIG_OK :
		    DKIM_SIG_ERR_DOMAIN;
	case TAG_H:
		return parse_h(tag, sig);
	case TAG_I:
		return copy_text(sig->i, sizeof(sig->i), tag) == 0 ?
		    DKIM_SIG_OK : DKIM_SIG_ERR_AUID;
	case TAG_L:
		sig->has_l = true;
		return parse_uint(tag, 76, &sig->l) == 0 ? DKIM_SIG_OK :
		    DKIM_SIG_ERR_NUMBER;
	case TAG_Q:
		return parse_q(tag);
	case TAG_T:
		sig->has_t = true;
		return parse_uint(tag, 12, &sig->t) == 0 ? DKIM_SIG_OK :
		    DKIM_SIG_ERR_NUMBER;
	case TAG_X:
		sig->has_x = true;
		return parse_uint(tag, 12, &sig->x) == 0 ? DKIM_SIG_OK :
		    DKIM_SIG_ERR_NUMBER;
	default:
		return DKIM_SIG_OK;	/* z= is diagnostic only */
	}
}

/* Checks that need all tags: presence, bh= size, i=, x= after t=. */
static enum dkim_sig_result
check_sig(struct dkim_sig *sig, unsigned seen, enum dkim_sig_kind kind)
{
	size_t want = sig->alg == DKIM_ALG_RSA_SHA1 ? 20 : 32;
	unsigned required = TAGS_REQUIRED & tags_known(kind);

	if ((seen & required) != required)
		return DKIM_SIG_ERR_MISSING;
	if (kind == DKIM_SIG_KIND_ARC_SEAL) {
		/* Relaxed header canonicalization only, no body. */
		sig->hcanon = DKIM_CANON_RELAXED;
	} else if (sig->bhlen != want)
		return DKIM_SIG_ERR_BASE64;
	if (kind != DKIM_SIG_KIND_DKIM || !(seen & TAG_I))
		snprintf(sig->i, sizeof(sig->i), "@%s", sig->d);
	else if (check_auid(sig) != DKIM_SIG_OK)
		return DKIM_SIG_ERR_AUID;
	if (sig->has_t && sig->has_x && sig->x < sig->t)
		return DKIM_SIG_ERR_NUMBER;
	return DKIM_SIG_OK;
}

/* Walk the tag-list of sig->raw; duplicates of any tag, known or not,
 * invalidate the list (§3.2). */
static enum dkim_sig_result
parse_tags(struct dkim_sig *sig, unsigned *seen, enum dkim_sig_kind kind)
{
	struct dkim_tag_iter it;
	struct dkim_tag tags[DKIM_TAGS_MAX];
	size_t ntags = 0;
	enum dkim_sig_result r;
	int k;

	dkim_tag_init(&it, sig->raw, sig->rawlen);
	while ((k = dkim_tag_next(&it, &tags[ntags])) == 1) {
		for (size_t j = 0; j < ntags; j++)
			if (tags[j].namelen == tags[ntags].namelen &&
			    memcmp(tags[j].name, tags[ntags].name,
			    tags[j].namelen) == 0)
				return DKIM_SIG_ERR_DUP_TAG;
		if ((r = parse_tag(&tags[ntags], sig, seen, kind)) !=
		    DKIM_SIG_OK)
			return r;
		if (++ntags == DKIM_TAGS_MAX)
			return DKIM_SIG_ERR_TOO_BIG;
	}
	return k == 0 ? DKIM_SIG_OK : DKIM_SIG_ERR_SYNTAX;
}

enum dkim_sig_result
dkim_sig_parse(const char *value, size_t len, struct dkim_sig *sig)
{
	return dkim_sig_parse_kind(value, len, DKIM_SIG_KIND_DKIM, sig);
}

enum dkim_sig_result
dkim_sig_parse_kind(const char *value, size_t len, enum dkim_sig_kind kind,
    struct dkim_sig *sig)
{
	enum dkim_sig_result r;
	unsigned seen = 0;

	memset(sig, 0, sizeof(*sig));
	if (len > LIMIT_HEADER_SECTION)
		return DKIM_SIG_ERR_TOO_BIG;
	sig->raw = xmalloc(len + 1);
	memcpy(sig->raw, value, len);
	sig->raw[len] = '\0';
	sig->rawlen = len;
	if ((r = parse_tags(sig, &seen, kind)) == DKIM_SIG_OK)
		r = check_sig(sig, seen, kind);
	if (r != DKIM_SIG_OK)
		dkim_sig_clear(sig);
	return r;
}

void
dkim_sig_clear(struct dkim_sig *sig)
{
	free(sig->raw);
	memset(sig, 0, sizeof(*sig));
}

const char *
dkim_alg_name(enum dkim_alg alg)
{
	switch (alg) {
	case DKIM_ALG_RSA_SHA256:
		return "rsa-sha256";
	case DKIM_ALG_ED25519_SHA256:
		return "ed25519-sha256";
	case DKIM_ALG_RSA_SHA1:
		return "rsa-sha1";
	}
	return "unknown";
}

const char *
dkim_sig_result_name(enum dkim_sig_result r)
{
	static const char *names[] = {
		"ok", "syntax error", "duplicate tag", "missing tag",
		"bad version", "unknown algorithm", "unknown canonicalization",
		"bad base64", "bad domain or selector", "From not signed",
		"bad i= identity", "no dns/txt query method", "bad number",
		"too big",
	};

	if ((size_t)r < sizeof(names) / sizeof(names[0]))
		return names[r];
	return "unknown";
}
