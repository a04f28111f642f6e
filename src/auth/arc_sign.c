/* SPDX-License-Identifier: ISC */
/*
 * ARC sealing (RFC 8617 §5.1). The body hash runs in a DKIM signer
 * without keys while the body streams; at the end the AAR is written from
 * our Authentication-Results, the AMS is a DKIM signature over the header
 * section, and the seal a DKIM signature over an implicit list: the sets
 * 1..N found in the header by instance, then the new AAR and AMS (§5.1.1),
 * or the new set alone when the chain failed (§5.1.2).
 */
#include "auth/arc_sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/dkim_canon.h"
#include "auth/dkim_sign.h"
#include "core/buf.h"
#include "core/limits.h"
#include "core/xmalloc.h"

enum arc_stage {
	ARC_STAGE_NONE,		/* no seal under way */
	ARC_STAGE_AMS,		/* pend is the AMS */
	ARC_STAGE_AS,		/* pend is the seal */
};

struct arc_sign {
	time_t			 now;
	struct dkim_sign	*body;		/* no keys: the body hash */
	char			 bh64[DKIM_SIGN_BH64];
	int			 body_state;	/* 0 running, 1 done, -1 failed */
	/* The seal under way (arc_sign_start to the last arc_sign_next). */
	enum arc_stage		 stage;
	const struct dkim_sign_key *k;
	unsigned		 inst;
	enum arc_cv		 cv;
	unsigned		 nprev;		/* sets of the chain it covers */
	struct buf		 set;		/* the new AAR, then the AMS */
	size_t			 aarlen;
	struct dkim_sign_pending pend;
};

/* §4.1.2: never ARC fields, Authentication-Results or trace fields. */
static const struct dkim_sign_hname ams_fields[] = {
	{ "from", true }, { "to", true }, { "subject", true },
	{ "date", true }, { "message-id", true }, { "cc", false },
	{ "reply-to", false }, { "in-reply-to", false },
	{ "references", false }, { "mime-version", false },
	{ "content-type", false }, { "content-transfer-encoding", false },
	{ "dkim-signature", false },
};
#define NAMS_FIELDS	(sizeof(ams_fields) / sizeof(ams_fields[0]))

static void arc_sign_stop(struct arc_sign *a);

static const char *const cv_names[] = {
	[ARC_CV_NONE] = "none", [ARC_CV_PASS] = "pass", [ARC_CV_FAIL] = "fail",
};

int
arc_sign_plan(const struct arc_sign_chain *c, unsigned *instance,
    enum arc_cv *cv)
{
	switch (c->res) {
	case ARC_NONE:
		*instance = 1;
		*cv = ARC_CV_NONE;
		return 0;
	case ARC_PASS:
		*cv = ARC_CV_PASS;
		break;
	default:
		/* Step 2: a chain already marked failed is not extended;
		 * past 50 sets there is no instance left (§4.2.1). */
		if (c->reason == ARC_REASON_CV_FAIL ||
		    c->reason == ARC_REASON_TOO_MANY)
			return -1;
		*cv = ARC_CV_FAIL;
		break;
	}
	if (c->n >= ARC_INSTANCES_MAX)
		return -1;
	*instance = c->n + 1;
	return 0;
}

struct arc_sign *
arc_sign_new(time_t now)
{
	struct arc_sign *a = xcalloc(1, sizeof(*a));

	a->now = now;
	a->body = dkim_sign_new(NULL, 0, now);
	return a;
}

void
arc_sign_body(struct arc_sign *a, const void *data, size_t len)
{
	if (a->body_state == 0)
		dkim_sign_body(a->body, data, len);
}

void
arc_sign_free(struct arc_sign *a)
{
	if (a == NULL)
		return;
	arc_sign_stop(a);
	dkim_sign_free(a->body);
	free(a);
}

/* The first field of text[0..len) if it is named name. */
static int
first_field(const char *text, size_t len, const char *name,
    struct dkim_field *f)
{
	size_t pos = 0;

	if (dkim_header_next(text, len, &pos, f) != 1 ||
	    !dkim_name_eq(f->name, f->namelen, name, strlen(name)))
		return -1;
	return 0;
}

/* "ARC-Authentication-Results: i=N; " and the value of our
 * Authentication-Results field (§4.1.1). */
static int
write_aar(unsigned inst, const char *authres, size_t alen, struct buf *out)
{
	struct dkim_field f;
	size_t i = 0;

	if (first_field(authres, alen, "Authentication-Results", &f) == -1)
		return -1;
	while (i < f.valuelen && (f.value[i] == ' ' || f.value[i] == '\t'))
		i++;
	if (i == f.valuelen)
		return -1;
	if (buf_printf(out, "ARC-Authentication-Results: i=%u; ", inst) ==
	    -1 || buf_append(out, f.value + i, f.valuelen - i) == -1 ||
	    buf_append(out, "\r\n", 2) == -1)
		return -1;
	return 0;
}

/*
 * The seal's list (§5.1.1): sets 1..n of hdr by instance, AAR, AMS, AS
 * each, then the new AAR and AMS. Each must be there exactly once (a
 * chain that passed has them); -1 if not.
 */
static int
seal_fields(const char *hdr, size_t len, unsigned n,
    const struct dkim_field *aar, const struct dkim_field *ams,
    struct dkim_field *sel)
{
	struct dkim_field f;
	size_t pos = 0, filled = 0;
	unsigned inst;
	enum arc_field_kind k;

	while (dkim_header_next(hdr, len, &pos, &f) == 1) {
		if ((k = arc_field_kind(&f, &inst)) == ARC_FIELD_NONE ||
		    inst == 0 || inst > n)
			continue;
		struct dkim_field *slot = &sel[(inst - 1) * 3 + k];
		if (slot->field != NULL)
			return -1;
		*slot = f;
		filled++;
	}
	if (filled != (size_t)n * 3)
		return -1;
	sel[n * 3] = *aar;
	sel[n * 3 + 1] = *ams;
	return 0;
}

static void
arc_sign_stop(struct arc_sign *a)
{
	dkim_sign_field_clear(&a->pend);
	buf_clear(&a->set);
	a->stage = ARC_STAGE_NONE;
}

int
arc_sign_start(struct arc_sign *a, const struct dkim_sign_key *k,
    const struct arc_sign_chain *c, const char *hdr, size_t len,
    const char *authres, size_t alen, char *err, size_t errlen)
{
	char head[64];

	if (a->stage != ARC_STAGE_NONE || len > LIMIT_HEADER_SECTION) {
		snprintf(err, errlen, "arc: header section too big");
		return -1;
	}
	if (a->body_state == 0)
		a->body_state = dkim_sign_body_end(a->body, a->bh64) == 0 ?
		    1 : -1;
	if (a->body_state == -1) {
		snprintf(err, errlen, "arc: body hash failed");
		return -1;
	}
	if (arc_sign_plan(c, &a->inst, &a->cv) == -1)
		return ARC_SIGN_SKIPPED;
	/* §5.1.2: a failed chain's seal covers the new set alone. */
	a->nprev = a->cv == ARC_CV_FAIL ? 0 : a->inst - 1;
	a->k = k;
	buf_init(&a->set, 256 * 1024);
	if (write_aar(a->inst, authres, alen, &a->set) == -1) {
		snprintf(err, errlen, "arc: our Authentication-Results "
		    "field is malformed");
		arc_sign_stop(a);
		return -1;
	}
	a->aarlen = a->set.len;
	snprintf(head, sizeof(head), "ARC-Message-Signature: i=%u;", a->inst);
	struct dkim_sign_spec ams_spec = {
		.head = head, .h = ams_fields, .nh = NAMS_FIELDS,
		.bh64 = a->bh64,
	};
	if (dkim_sign_field_begin(k, a->now, &ams_spec, hdr, len, &a->pend) ==
	    -1) {
		snprintf(err, errlen, "arc: signing failed (out of room or "
		    "OpenSSL)");
		arc_sign_stop(a);
		return -1;
	}
	a->stage = ARC_STAGE_AMS;
	return ARC_SIGN_PENDING;
}

struct dkim_sign_pending *
arc_sign_pending(struct arc_sign *a)
{
	return a->stage != ARC_STAGE_NONE ? &a->pend : NULL;
}

/* The AMS is signed: begin the seal over the sets before and the new AAR
 * and AMS, as the verifier will read them back. */
static int
arc_sign_begin_seal(struct arc_sign *a, const char *hdr, size_t len,
    char *err, size_t errlen)
{
	struct dkim_field aar, ams, *sel;
	char head[64];
	int r = -1;

	if (dkim_sign_field_end(&a->pend, &a->set) == -1 ||
	    first_field((const char *)a->set.data, a->aarlen,
	    "ARC-Authentication-Results", &aar) == -1 ||
	    first_field((const char *)a->set.data + a->aarlen,
	    a->set.len - a->aarlen, "ARC-Message-Signature", &ams) == -1) {
		snprintf(err, errlen, "arc: signing failed (out of room or "
		    "OpenSSL)");
		return -1;
	}
	sel = xcalloc((size_t)a->nprev * 3 + 2, sizeof(*sel));
	if (seal_fields(hdr, len, a->nprev, &aar, &ams, sel) == -1) {
		snprintf(err, errlen, "arc: the chain to extend is not in the "
		    "header section");
		goto out;
	}
	snprintf(head, sizeof(head), "ARC-Seal: i=%u; cv=%s;", a->inst,
	    cv_names[a->cv]);
	struct dkim_sign_spec as_spec = {
		.head = head, .fields = sel,
		.nfields = (size_t)a->nprev * 3 + 2,
	};
	if (dkim_sign_field_begin(a->k, a->now, &as_spec, NULL, 0, &a->pend) ==
	    -1) {
		snprintf(err, errlen, "arc: signing failed (out of room or "
		    "OpenSSL)");
		goto out;
	}
	a->stage = ARC_STAGE_AS;
	r = 0;
out:
	free(sel);
	return r;
}

int
arc_sign_next(struct arc_sign *a, const char *hdr, size_t len,
    struct buf *out, char *err, size_t errlen)
{
	size_t start = out->len;
	int r = -1;

	switch (a->stage) {
	case ARC_STAGE_AMS:
		if (arc_sign_begin_seal(a, hdr, len, err, errlen) == 0)
			return ARC_SIGN_PENDING;
		break;
	case ARC_STAGE_AS:
		/* The seal first, then the AMS, then the AAR. */
		if (dkim_sign_field_end(&a->pend, out) == -1 ||
		    buf_append(out, a->set.data + a->aarlen,
		    a->set.len - a->aarlen) == -1 ||
		    buf_append(out, a->set.data, a->aarlen) == -1) {
			snprintf(err, errlen, "arc: signing failed (out of "
			    "room or OpenSSL)");
			buf_truncate(out, start);
		} else
			r = ARC_SIGN_SEALED;
		break;
	default:
		snprintf(err, errlen, "arc: no seal under way");
		return -1;
	}
	arc_sign_stop(a);
	return r;
}

int
arc_sign_seal(struct arc_sign *a, const struct dkim_sign_key *k,
    const struct arc_sign_chain *c, const char *hdr, size_t len,
    const char *authres, size_t alen, struct buf *out, char *err,
    size_t errlen)
{
	int r = arc_sign_start(a, k, c, hdr, len, authres, alen, err, errlen);

	while (r == ARC_SIGN_PENDING) {
		if (dkim_sign_field_sign(&a->pend) == -1) {
			snprintf(err, errlen, "arc: signing failed (out of "
			    "room or OpenSSL)");
			arc_sign_stop(a);
			return -1;
		}
		r = arc_sign_next(a, hdr, len, out, err, errlen);
	}
	return r;
}
