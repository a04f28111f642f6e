/* SPDX-License-Identifier: ISC */
/*
 * SRS addresses (see srs.h): writing SRS0/SRS1 for a forwarded copy and
 * reading them back from a bounce. Every span is bounded by the address
 * length, which is checked against LIMIT_PATH before anything is read.
 */
#include "msg/srs.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/base64.h"
#include "core/limits.h"
#include "msg/addr.h"

static const char srs_base32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* A borrowed run of bytes inside the address being read or written. */
struct srs_span {
	const char	*p;
	size_t		 n;
};

static char
srs_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The separator libsrs2 accepts after "SRS0"/"SRS1" (some MTAs turn the
 * '=' into '+' or '-'); inside the address only '=' separates. */
static bool
srs_is_sep(char c)
{
	return c == '=' || c == '+' || c == '-';
}

/*
 * Split "local@domain" (at its last '@'): *nlocal and *domain. -1 when
 * the text is longer than LIMIT_PATH or has no '@'.
 */
static int
srs_split(const char *address, size_t *nlocal, const char **domain)
{
	size_t len = strnlen(address, LIMIT_PATH + 1);
	const char *at;

	if (len > LIMIT_PATH || (at = memrchr(address, '@', len)) == NULL)
		return -1;
	*nlocal = (size_t)(at - address);
	*domain = at + 1;
	return 0;
}

/* '0' or '1' for an SRS local part, else 0. */
static char
srs_kind(const char *local, size_t n)
{
	if (n < 5 || srs_lower(local[0]) != 's' || srs_lower(local[1]) != 'r' ||
	    srs_lower(local[2]) != 's' || !srs_is_sep(local[4]))
		return 0;
	return local[3] == '0' || local[3] == '1' ? local[3] : 0;
}

bool
srs_is_srs(const char *address)
{
	const char *dom;
	size_t n;

	return srs_split(address, &n, &dom) == 0 && srs_kind(address, n) != 0;
}

/*
 * The hash of parts (lower-cased, joined by NUL so that no byte can move
 * from one field to the next) into out (SRS_HASH_LEN chars + NUL).
 */
static void
srs_hash(const uint8_t *key, size_t keylen, const struct srs_span *parts,
    size_t nparts, char out[SRS_HASH_LEN + 1])
{
	unsigned char in[3 * (LIMIT_PATH + 1)], md[EVP_MAX_MD_SIZE];
	char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	unsigned int mdlen = 0;
	size_t len = 0;

	for (size_t i = 0; i < nparts && i < 3; i++) {
		/* Each part lies inside an address of at most LIMIT_PATH. */
		for (size_t k = 0; k < parts[i].n && k < LIMIT_PATH; k++)
			in[len++] = (unsigned char)srs_lower(parts[i].p[k]);
		if (i + 1 < nparts)
			in[len++] = '\0';
	}
	if (HMAC(EVP_sha256(), key, (int)keylen, in, len, md, &mdlen) ==
	    NULL || base64_encode(md, mdlen, b64, sizeof(b64)) <
	    SRS_HASH_LEN) {
		/* Cannot happen with SHA-256; an unusable hash never
		 * verifies ('!' is not base64). */
		memset(out, '!', SRS_HASH_LEN);
	} else
		memcpy(out, b64, SRS_HASH_LEN);
	out[SRS_HASH_LEN] = '\0';
}

/* Compare a received hash with ours, ignoring case, in constant time. */
static bool
srs_hash_ok(const struct srs_span *got, const char want[SRS_HASH_LEN + 1])
{
	char a[SRS_HASH_LEN], b[SRS_HASH_LEN];

	if (got->n != SRS_HASH_LEN)
		return false;
	for (size_t i = 0; i < SRS_HASH_LEN; i++) {
		a[i] = srs_lower(got->p[i]);
		b[i] = srs_lower(want[i]);
	}
	return CRYPTO_memcmp(a, b, SRS_HASH_LEN) == 0;
}

/* Today in the 1024-day cycle. */
static unsigned
srs_today(long long now)
{
	return now < 0 ? 0 : (unsigned)((now / 86400) % SRS_TIME_CYCLE);
}

/* The day as two base32 characters, and back (-1: not base32). */
static void
srs_stamp_encode(long long now, char out[3])
{
	unsigned d = srs_today(now);

	out[0] = srs_base32[(d >> 5) & 31];
	out[1] = srs_base32[d & 31];
	out[2] = '\0';
}

static int
srs_stamp_decode(const struct srs_span *s)
{
	int v = 0;

	if (s->n != 2)
		return -1;
	for (size_t i = 0; i < 2; i++) {
		char c = s->p[i];
		int d;

		if (c >= 'a' && c <= 'z')
			d = c - 'a';
		else if (c >= 'A' && c <= 'Z')
			d = c - 'A';
		else if (c >= '2' && c <= '7')
			d = c - '2' + 26;
		else
			return -1;
		v = v * 32 + d;
	}
	return v;
}

/* The next '='-terminated field of [*p, end) into f; -1 without '='. */
static int
srs_field(const char **p, const char *end, struct srs_span *f)
{
	const char *eq = memchr(*p, '=', (size_t)(end - *p));

	if (eq == NULL)
		return -1;
	f->p = *p;
	f->n = (size_t)(eq - *p);
	*p = eq + 1;
	return 0;
}

/*
 * The parts of an SRS1 local part (n bytes): hash, first forwarder's
 * host, and the rest after the '=' that ends the host ("=HHH=TT=..."),
 * which starts with a separator. -1 if malformed.
 */
static int
srs1_parse(const char *local, size_t n, struct srs_span *hash,
    struct srs_span *host, struct srs_span *user)
{
	const char *p = local + 5, *end = local + n;

	if (srs_field(&p, end, hash) == -1 || srs_field(&p, end, host) == -1 ||
	    host->n == 0 || p >= end || !srs_is_sep(*p))
		return -1;
	user->p = p;
	user->n = (size_t)(end - p);
	return user->n > 1 ? 0 : -1;
}

/*
 * Write "local@domain" (pieces concatenated) into out as the canonical
 * address of msg/addr.h. SRS_ERR_TOO_LONG for a local part over 64
 * octets; SRS_ERR_SYNTAX when it is not an address, or (require_plain)
 * when its local part would need quoting.
 */
static enum srs_result
srs_compose(const struct srs_span *local, size_t nlocal, const char *domain,
    bool require_plain, char *out, size_t outlen)
{
	char text[2 * LIMIT_PATH + 2];
	size_t len = 0, dlen = strnlen(domain, LIMIT_PATH + 1);
	struct addr a;

	for (size_t i = 0; i < nlocal; i++) {
		if (local[i].n > LIMIT_PATH || len + local[i].n > LIMIT_PATH)
			return SRS_ERR_TOO_LONG;
		memcpy(text + len, local[i].p, local[i].n);
		len += local[i].n;
	}
	if (len > LIMIT_LOCAL_PART)
		return SRS_ERR_TOO_LONG;
	if (dlen > LIMIT_DOMAIN)
		return SRS_ERR_SYNTAX;
	text[len] = '@';
	memcpy(text + len + 1, domain, dlen);
	len += 1 + dlen;
	if (addr_parse_mailbox(text, len, true, &a) != ADDR_OK ||
	    a.domain[0] == '\0')
		return SRS_ERR_SYNTAX;
	if (require_plain && a.local[0] == '"')
		return SRS_ERR_SYNTAX;
	return addr_to_text(&a, out, outlen) == 0 ? SRS_OK : SRS_ERR_TOO_LONG;
}

/* The SRS0 address at host that an SRS1 with these parts reverses to is
 * a valid address: only then is a received SRS1 re-wrapped. */
static bool
srs1_target_ok(const struct srs_span *host, const struct srs_span *user)
{
	char dom[LIMIT_DOMAIN + 1], out[LIMIT_PATH + 1];

	if (host->n > LIMIT_DOMAIN)
		return false;
	memcpy(dom, host->p, host->n);
	dom[host->n] = '\0';
	struct srs_span l[] = { { "SRS0", 4 }, *user };
	return srs_compose(l, 2, dom, false, out, sizeof(out)) == SRS_OK;
}

enum srs_result
srs_forward(const uint8_t *key, size_t keylen, const char *sender,
    const char *forwarding_domain, long long now, char *out, size_t outlen)
{
	struct srs_span hash, host, user, parts[3];
	char h[SRS_HASH_LEN + 1], tt[3], kind, canon[LIMIT_PATH + 1];
	const char *dom;
	struct addr a;
	size_t n;

	/* Only a valid address is wrapped, in canonical form: a '=' in a
	 * "domain" would shift the fields read back from the bounce. */
	n = strnlen(sender, LIMIT_PATH + 1);
	if (n > LIMIT_PATH || addr_parse_mailbox(sender, n, true, &a) !=
	    ADDR_OK || a.domain[0] == '\0' || addr_to_text(&a, canon,
	    sizeof(canon)) == -1)
		return SRS_ERR_SYNTAX;
	sender = canon;
	if (srs_split(sender, &n, &dom) == -1 || n == 0)
		return SRS_ERR_SYNTAX;
	/* An SRS1 keeps its first forwarder: bounces skip the hops in
	 * between. An SRS0 of another forwarder becomes SRS1 pointing at
	 * it. A malformed SRS1 is wrapped like any address. */
	kind = srs_kind(sender, n);
	if (kind == '0') {
		host = (struct srs_span){ dom, strlen(dom) };
		user = (struct srs_span){ sender + 4, n - 4 };
	}
	if ((kind == '0' && user.n > 1) || (kind == '1' &&
	    srs1_parse(sender, n, &hash, &host, &user) == 0 &&
	    srs1_target_ok(&host, &user))) {
		parts[0] = host;
		parts[1] = user;
		srs_hash(key, keylen, parts, 2, h);
		struct srs_span l[] = { { "SRS1=", 5 }, { h, SRS_HASH_LEN },
		    { "=", 1 }, host, { "=", 1 }, user };
		return srs_compose(l, 6, forwarding_domain, true, out, outlen);
	}
	srs_stamp_encode(now, tt);
	parts[0] = (struct srs_span){ tt, 2 };
	parts[1] = (struct srs_span){ dom, strlen(dom) };
	parts[2] = (struct srs_span){ sender, n };
	srs_hash(key, keylen, parts, 3, h);
	struct srs_span l[] = { { "SRS0=", 5 }, { h, SRS_HASH_LEN },
	    { "=", 1 }, parts[0], { "=", 1 }, parts[1], { "=", 1 }, parts[2] };
	return srs_compose(l, 8, forwarding_domain, true, out, outlen);
}

/* SRS0 local part (n bytes) back to the original sender. */
static enum srs_result
srs0_reverse(const uint8_t *key, size_t keylen, const char *local, size_t n,
    long long now, unsigned max_age_days, char *out, size_t outlen)
{
	const char *p = local + 5, *end = local + n;
	struct srs_span hash, parts[3];
	char h[SRS_HASH_LEN + 1], dom[LIMIT_DOMAIN + 1];
	int then;
	unsigned age;

	if (srs_field(&p, end, &hash) == -1 ||
	    srs_field(&p, end, &parts[0]) == -1 ||
	    srs_field(&p, end, &parts[1]) == -1 || parts[1].n == 0 ||
	    parts[1].n > LIMIT_DOMAIN || p >= end ||
	    (then = srs_stamp_decode(&parts[0])) < 0)
		return SRS_ERR_SYNTAX;
	parts[2] = (struct srs_span){ p, (size_t)(end - p) };
	srs_hash(key, keylen, parts, 3, h);
	if (!srs_hash_ok(&hash, h))
		return SRS_ERR_HASH;
	age = (srs_today(now) + SRS_TIME_CYCLE - (unsigned)then) %
	    SRS_TIME_CYCLE;
	if (age > max_age_days)
		return SRS_ERR_EXPIRED;
	memcpy(dom, parts[1].p, parts[1].n);
	dom[parts[1].n] = '\0';
	return srs_compose(&parts[2], 1, dom, false, out, outlen);
}

/* SRS1 local part back to the SRS0 address at the first forwarder. */
static enum srs_result
srs1_reverse(const uint8_t *key, size_t keylen, const char *local, size_t n,
    char *out, size_t outlen)
{
	struct srs_span hash, parts[2];
	char h[SRS_HASH_LEN + 1], host[LIMIT_DOMAIN + 1];

	if (srs1_parse(local, n, &hash, &parts[0], &parts[1]) == -1 ||
	    parts[0].n > LIMIT_DOMAIN)
		return SRS_ERR_SYNTAX;
	srs_hash(key, keylen, parts, 2, h);
	if (!srs_hash_ok(&hash, h))
		return SRS_ERR_HASH;
	memcpy(host, parts[0].p, parts[0].n);
	host[parts[0].n] = '\0';
	struct srs_span l[] = { { "SRS0", 4 }, parts[1] };
	return srs_compose(l, 2, host, false, out, outlen);
}

enum srs_result
srs_reverse(const uint8_t *key, size_t keylen, const char *address,
    long long now, unsigned max_age_days, char *out, size_t outlen)
{
	const char *dom;
	size_t n;
	char kind;

	if (srs_split(address, &n, &dom) == -1)
		return SRS_ERR_SYNTAX;
	if ((kind = srs_kind(address, n)) == 0)
		return SRS_NOT_SRS;
	if (n > LIMIT_LOCAL_PART)
		return SRS_ERR_TOO_LONG;
	if (kind == '0')
		return srs0_reverse(key, keylen, address, n, now,
		    max_age_days, out, outlen);
	return srs1_reverse(key, keylen, address, n, out, outlen);
}

const char *
srs_result_text(enum srs_result r)
{
	switch (r) {
	case SRS_OK:		return "ok";
	case SRS_NOT_SRS:	return "not an SRS address";
	case SRS_ERR_SYNTAX:	return "malformed SRS address";
	case SRS_ERR_TOO_LONG:	return "local part longer than 64 octets";
	case SRS_ERR_HASH:	return "hash does not verify";
	case SRS_ERR_EXPIRED:	return "address expired";
	}
	return "?";
}
