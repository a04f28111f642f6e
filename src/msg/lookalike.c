/* SPDX-License-Identifier: ISC */
/*
 * Lookalike senders (see lookalike.h for the rules): UTS #39 skeletons by
 * ICU's spoof checker plus a one-edit typo distance, over a protected set
 * whose skeletons are computed once when a name is added. Pure; the set
 * owns every string it holds.
 */
#include "msg/lookalike.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unicode/uspoof.h>
#include <unicode/ustring.h>

#include "core/xmalloc.h"
#include "msg/addr.h"
#include "msg/idna.h"

/* One name in its forms. */
struct lk_name {
	char	*alabel;	/* ASCII, A-labels (as addr.c writes it) */
	char	*uni;		/* Unicode, lower-cased (UTF-8) */
	char	*skel;		/* UTS #39 skeleton of uni (UTF-8) */
	char	*askel;		/* ASCII skeleton (lookalike.h), or NULL */
	bool	 typo_ok;	/* first label long enough for typo distance */
};

struct lookalike_set {
	USpoofChecker	*sc;
	struct lk_name	*names;
	size_t		 n, cap;
};

const char *
lookalike_reason_name(enum lookalike_reason r)
{
	switch (r) {
	case LOOKALIKE_NONE: return "none";
	case LOOKALIKE_CONFUSABLE: return "confusable";
	case LOOKALIKE_MIXED_SCRIPT: return "mixed-script";
	case LOOKALIKE_WHOLE_SCRIPT: return "whole-script";
	case LOOKALIKE_TYPO: return "typo";
	case LOOKALIKE_DISPLAY_NAME: return "display-name";
	}
	return "none";
}

/* The UTF-8 form of the n UTF-16 units in u, allocated; NULL on failure. */
static char *
lk_to_utf8(const UChar *u, int32_t n)
{
	UErrorCode err = U_ZERO_ERROR;
	/* A UTF-16 unit is at most 3 bytes of UTF-8 (a pair 4). */
	char *out = xmalloc((size_t)n * 3 + 1);
	int32_t len;

	u_strToUTF8(out, n * 3 + 1, &len, u, n, &err);
	if (U_FAILURE(err)) {
		free(out);
		return NULL;
	}
	return out;
}

/*
 * The UTS #39 skeleton of the lower-cased UTF-8 text s (len bytes, at most
 * LOOKALIKE_DISPLAY_MAX): the lower-cased text into *lower and its
 * skeleton into *skel, both UTF-8, allocated. Each step is sized by ICU
 * first (a character's skeleton may be several), so no text is ever cut.
 * -1 (nothing allocated) if ICU fails.
 */
static int
lk_skeleton(const USpoofChecker *sc, const char *s, size_t len,
    char **lower, char **skel)
{
	UErrorCode err = U_ZERO_ERROR;
	UChar *a, *b = NULL, *k = NULL;
	int32_t na, nb, nk;
	int rc = -1;

	*lower = *skel = NULL;
	if (len > LOOKALIKE_DISPLAY_MAX)
		return -1;
	/* UTF-16 needs no more units than UTF-8 has bytes (a U+FFFD per
	 * ill-formed sequence included). A byte that is no UTF-8 is shown
	 * by a reader as a replacement character beside the rest: refusing
	 * the whole text would let one such byte hide a protected name. */
	a = xcalloc(len + 1, sizeof(UChar));
	u_strFromUTF8WithSub(a, (int32_t)len + 1, &na, s, (int32_t)len,
	    0xfffd, NULL, &err);
	if (U_FAILURE(err))
		goto out;
	nb = u_strToLower(NULL, 0, a, na, "", &err);
	if (U_FAILURE(err) && err != U_BUFFER_OVERFLOW_ERROR)
		goto out;
	err = U_ZERO_ERROR;
	b = xcalloc((size_t)nb + 1, sizeof(UChar));
	u_strToLower(b, nb + 1, a, na, "", &err);
	if (U_FAILURE(err))
		goto out;
	nk = uspoof_getSkeleton(sc, 0, b, nb, NULL, 0, &err);
	if (U_FAILURE(err) && err != U_BUFFER_OVERFLOW_ERROR)
		goto out;
	err = U_ZERO_ERROR;
	k = xcalloc((size_t)nk + 1, sizeof(UChar));
	uspoof_getSkeleton(sc, 0, b, nb, k, nk + 1, &err);
	if (U_FAILURE(err) || (*lower = lk_to_utf8(b, nb)) == NULL ||
	    (*skel = lk_to_utf8(k, nk)) == NULL)
		goto out;
	rc = 0;
out:
	if (rc == -1) {
		free(*lower);
		*lower = NULL;
	}
	free(a);
	free(b);
	free(k);
	return rc;
}

/* The ASCII skeleton of skel (see lookalike.h), or NULL if skel is not
 * all ASCII. */
static char *
lk_ascii_skeleton(const char *skel)
{
	size_t len = strlen(skel), o = 0;
	char *out = xmalloc(len + 1);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)skel[i];

		if (c >= 0x80) {
			free(out);
			return NULL;
		}
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if ((c == 'r' && (skel[i + 1] | 0x20) == 'n') ||
		    (c == 'v' && (skel[i + 1] | 0x20) == 'v')) {
			c = c == 'r' ? 'm' : 'w';
			i++;
		} else if (c == '1') {
			c = 'l';
		} else if (c == '0') {
			c = 'o';
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

static void
lk_name_clear(struct lk_name *n)
{
	free(n->alabel);
	free(n->uni);
	free(n->skel);
	free(n->askel);
	memset(n, 0, sizeof(*n));
}

/* Fill n from domain (any form); -1 if it is unusable. */
static int
lk_name_init(const USpoofChecker *sc, const char *domain, struct lk_name *n)
{
	struct addr a;
	char uni[LIMIT_DOMAIN * 4 + 1];
	size_t len = strlen(domain);

	memset(n, 0, sizeof(*n));
	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || addr_parse_domain(domain, len, true, &a) != ADDR_OK ||
	    a.domain[0] == '[' || strchr(a.domain, '.') == NULL)
		return -1;
	if (idna_to_ulabels(a.domain, uni, sizeof(uni), NULL) == -1 ||
	    lk_skeleton(sc, uni, strlen(uni), &n->uni, &n->skel) == -1)
		return -1;
	n->alabel = xstrdup(a.domain);
	n->askel = lk_ascii_skeleton(n->skel);
	n->typo_ok = n->askel != NULL &&
	    strcspn(n->askel, ".") >= LOOKALIKE_TYPO_MIN;
	return 0;
}

struct lookalike_set *
lookalike_set_new(void)
{
	UErrorCode err = U_ZERO_ERROR;
	USpoofChecker *sc = uspoof_open(&err);
	struct lookalike_set *set;

	if (U_FAILURE(err))
		return NULL;
	set = xcalloc(1, sizeof(*set));
	set->sc = sc;
	return set;
}

void
lookalike_set_free(struct lookalike_set *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++)
		lk_name_clear(&set->names[i]);
	free(set->names);
	uspoof_close(set->sc);
	free(set);
}

size_t
lookalike_set_count(const struct lookalike_set *set)
{
	return set->n;
}

int
lookalike_set_add(struct lookalike_set *set, const char *domain)
{
	struct lk_name n;

	if (lk_name_init(set->sc, domain, &n) == -1)
		return -1;
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->names[i].alabel, n.alabel) == 0) {
			lk_name_clear(&n);
			return 0;
		}
	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 16;
		set->names = xreallocarray(set->names, set->cap,
		    sizeof(*set->names));
	}
	set->names[set->n++] = n;
	return 0;
}

/* True if a and b are equal or one edit apart (insertion, deletion,
 * substitution, or two neighbours swapped). */
static bool
lk_one_edit(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i = 0;

	if (la > lb + 1 || lb > la + 1)
		return false;
	while (i < la && i < lb && a[i] == b[i])
		i++;
	if (la == lb) {
		if (i == la || strcmp(a + i + 1, b + i + 1) == 0)
			return true;
		return i + 1 < la && a[i] == b[i + 1] && a[i + 1] == b[i] &&
		    strcmp(a + i + 2, b + i + 2) == 0;
	}
	return la > lb ? strcmp(a + i + 1, b + i) == 0 :
	    strcmp(a + i, b + i + 1) == 0;
}

/* True if name is p or below it. */
static bool
lk_is_under(const char *name, const char *p)
{
	size_t ln = strlen(name), lp = strlen(p);

	if (ln == lp)
		return strcmp(name, p) == 0;
	return ln > lp && name[ln - lp - 1] == '.' &&
	    strcmp(name + ln - lp, p) == 0;
}

/* The protected name that alabel is or is below, or NULL. */
static const struct lk_name *
lk_own(const struct lookalike_set *set, const char *alabel)
{
	for (size_t i = 0; i < set->n; i++)
		if (lk_is_under(alabel, set->names[i].alabel))
			return &set->names[i];
	return NULL;
}

bool
lookalike_set_covers(const struct lookalike_set *set, const char *domain)
{
	struct addr a;

	return addr_parse_domain(domain, strlen(domain), true, &a) == ADDR_OK &&
	    lk_own(set, a.domain) != NULL;
}

/* How two names with one skeleton differ. */
static enum lookalike_reason
lk_confusable_kind(const struct lookalike_set *set, const struct lk_name *c,
    const struct lk_name *p)
{
	UErrorCode err = U_ZERO_ERROR;
	int32_t bits;

	if (strcmp(c->alabel, c->uni) == 0 && strcmp(p->alabel, p->uni) == 0)
		return LOOKALIKE_TYPO;
	bits = uspoof_areConfusableUTF8(set->sc, c->uni, -1, p->uni, -1, &err);
	if (U_FAILURE(err))
		return LOOKALIKE_CONFUSABLE;
	if (bits & USPOOF_WHOLE_SCRIPT_CONFUSABLE)
		return LOOKALIKE_WHOLE_SCRIPT;
	if (bits & USPOOF_MIXED_SCRIPT_CONFUSABLE)
		return LOOKALIKE_MIXED_SCRIPT;
	return LOOKALIKE_CONFUSABLE;
}

/* Compare candidate c with every protected name; the best reason (a
 * skeleton match before a typo) and the name in *match. */
static enum lookalike_reason
lk_compare(const struct lookalike_set *set, const struct lk_name *c,
    const struct lk_name **match)
{
	enum lookalike_reason best = LOOKALIKE_NONE;

	for (size_t i = 0; i < set->n; i++) {
		const struct lk_name *p = &set->names[i];

		if (strcmp(c->skel, p->skel) == 0) {
			*match = p;
			return lk_confusable_kind(set, c, p);
		}
		if (best == LOOKALIKE_NONE && p->typo_ok && c->askel != NULL &&
		    lk_one_edit(c->askel, p->askel)) {
			best = LOOKALIKE_TYPO;
			*match = p;
		}
	}
	return best;
}

/* The From: domain and each of its parents with two labels or more (the
 * Organizational Domain is one of them, whatever the tree walk found). */
static bool
lk_check_domain(const struct lookalike_set *set, const char *alabel,
    struct lookalike_hit *hit)
{
	const char *s = alabel;

	for (;;) {
		const char *dot = strchr(s, '.');
		const struct lk_name *match = NULL;
		struct lk_name c;
		enum lookalike_reason r;

		if (dot == NULL)
			return false;
		if (lk_name_init(set->sc, s, &c) == 0) {
			r = lk_compare(set, &c, &match);
			lk_name_clear(&c);
			if (r != LOOKALIKE_NONE) {
				hit->reason = r;
				snprintf(hit->resembles, sizeof(hit->resembles),
				    "%s", match->alabel);
				return true;
			}
		}
		s = dot + 1;
	}
}

/* RFC 5322 atext plus '.', the characters of a dot-atom local part. */
static bool
lk_is_local_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+/=?^_`{|}~.-",
	    c) != NULL);
}

static bool
lk_is_domain_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c >= 0x80;
}

/* An address shown in the display text other than the real one: its
 * domain (A-labels) into dom. */
static bool
lk_display_address(const char *text, size_t len, const char *real,
    char *dom, size_t domlen)
{
	for (size_t at = 0; at < len; at++) {
		size_t l = at, e = at + 1;
		struct addr a;
		char shown[LIMIT_LOCAL_PART + 1 + sizeof(a.domain)];

		if (text[at] != '@')
			continue;
		while (l > 0 && lk_is_local_char((unsigned char)text[l - 1]))
			l--;
		while (e < len && lk_is_domain_char((unsigned char)text[e]))
			e++;
		while (e > at + 1 && text[e - 1] == '.')
			e--;
		if (l == at || e - at - 1 > LIMIT_DOMAIN ||
		    at - l > LIMIT_LOCAL_PART ||
		    memchr(text + at + 1, '.', e - at - 1) == NULL ||
		    addr_parse_domain(text + at + 1, e - at - 1, true, &a) !=
		    ADDR_OK)
			continue;
		if (snprintf(shown, sizeof(shown), "%.*s@%s", (int)(at - l),
		    text + l, a.domain) >= (int)sizeof(shown))
			continue;
		if (real == NULL || strcasecmp(shown, real) != 0) {
			snprintf(dom, domlen, "%s", a.domain);
			return true;
		}
	}
	return false;
}

static bool
lk_is_word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c >= 0x80;
}

/* A protected name (by skeleton) in the display skeleton dskel, standing
 * alone: not part of a longer word on either side. */
static const struct lk_name *
lk_display_names(const struct lookalike_set *set, const char *dskel,
    const char *from)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct lk_name *p = &set->names[i];
		size_t pl = strlen(p->skel);

		if (lk_is_under(from, p->alabel))
			continue;
		for (const char *s = strstr(dskel, p->skel); s != NULL;
		    s = strstr(s + 1, p->skel)) {
			if ((s == dskel || !lk_is_word_char((unsigned char)
			    s[-1])) && !lk_is_word_char((unsigned char)s[pl]))
				return p;
		}
	}
	return NULL;
}

static bool
lk_check_display(const struct lookalike_set *set,
    const struct lookalike_from *f, const char *from,
    struct lookalike_hit *hit)
{
	size_t len = strnlen(f->display, LOOKALIKE_DISPLAY_MAX + 1);
	const struct lk_name *p;
	char *lower, *dskel;
	struct lk_name shown;
	bool found = false;

	if (len > LOOKALIKE_DISPLAY_MAX)
		len = LOOKALIKE_DISPLAY_MAX;
	if (lk_display_address(f->display, len, f->address, hit->resembles,
	    sizeof(hit->resembles))) {
		/* Name the protected domain the shown address imitates, if
		 * it imitates one. */
		if (lk_name_init(set->sc, hit->resembles, &shown) == 0) {
			const struct lk_name *m = lk_own(set, shown.alabel);

			if (m == NULL)
				(void)lk_compare(set, &shown, &m);
			if (m != NULL)
				snprintf(hit->resembles, sizeof(hit->resembles),
				    "%s", m->alabel);
			lk_name_clear(&shown);
		}
		hit->reason = LOOKALIKE_DISPLAY_NAME;
		return true;
	}
	/* A display text cut in the middle of a UTF-8 sequence is invalid
	 * as a whole: back up to a character boundary. */
	while (len > 0 && ((unsigned char)f->display[len] & 0xc0) == 0x80)
		len--;
	if (lk_skeleton(set->sc, f->display, len, &lower, &dskel) == -1)
		return false;
	if ((p = lk_display_names(set, dskel, from)) != NULL) {
		hit->reason = LOOKALIKE_DISPLAY_NAME;
		snprintf(hit->resembles, sizeof(hit->resembles), "%s",
		    p->alabel);
		found = true;
	}
	free(lower);
	free(dskel);
	return found;
}

bool
lookalike_check(const struct lookalike_set *set,
    const struct lookalike_from *f, struct lookalike_hit *hit)
{
	struct addr a;
	const char *from;

	memset(hit, 0, sizeof(*hit));
	if (f->domain == NULL || addr_parse_domain(f->domain,
	    strlen(f->domain), true, &a) != ADDR_OK || a.domain[0] == '[')
		return false;
	from = a.domain;
	snprintf(hit->from, sizeof(hit->from), "%s", from);
	if (lk_own(set, from) != NULL) {
		/* Our own name, authenticated: nothing to warn about. */
		if (f->dmarc_pass)
			return false;
	} else if (lk_check_domain(set, from, hit)) {
		return true;
	}
	if (f->display != NULL && f->display[0] != '\0' &&
	    lk_check_display(set, f, from, hit))
		return true;
	memset(hit, 0, sizeof(*hit));
	return false;
}
