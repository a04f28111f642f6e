/* SPDX-License-Identifier: ISC */
/*
 * The authentication work around a mail transaction: on mx listeners the
 * inbound pipeline (auth/authcheck: SPF at MAIL FROM, DKIM while the
 * message streams, DMARC and BIMI at its end) and the removal of forged
 * Authentication-Results and BIMI fields; for authenticated submission and
 * trusted clients, DKIM signing with the sender domain's keys. Results
 * become header fields in the envelope's prepend block.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/authcheck.h"
#include "auth/authres.h"
#include "auth/bimi.h"
#include "auth/dkim_keys.h"
#include "auth/dkim_sign.h"
#include "auth/dkim_verify.h"
#include "auth/dmarc_record.h"
#include "conf/conf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "msg/addr.h"
#include "msg/idna.h"
#include "report/dmarc_failure.h"
#include "smtpd/smtpd_internal.h"
#include "smtpd/smtpd_milter.h"
#include "store/db.h"

/* Enhanced codes of RFC 7372 §3.2 for an SPF fail at MAIL FROM. */
#define SMTPD_SPF_REJECT	"550 5.7.23"

/* No signer, or none yet. */
static void
smtpd_checks_unsign(struct smtpd_session *s)
{
	dkim_sign_free(s->signer);
	s->signer = NULL;
	s->sign_domain[0] = '\0';
	s->sign_provisional = false;
}

void
smtpd_checks_reset(struct smtpd_session *s)
{
	authcheck_free(s->ac);
	s->ac = NULL;
	smtpd_checks_unsign(s);
	smtpd_arc_reset(s);
}

static void
smtpd_checks_spf_cb(struct authcheck *ac, void *arg)
{
	struct smtpd_session *s = arg;
	const struct spf_outcome *o = authcheck_spf(ac);
	char q[LOG_QUOTE_SIZE(sizeof(o->domain))];

	if (o->result == SPF_FAIL) {
		log_info("sid=%s qid=%s smtp mail rejected spf=fail domain=%s",
		    s->sid, s->qid, log_quote(o->domain, strlen(o->domain), q,
		    sizeof(q)));
		metrics_rejected(METRICS_REJECT_SPF);
		smtpd_reply(s, "%s SPF check failed for %s%s%s", SMTPD_SPF_REJECT,
		    o->domain, o->explanation[0] ? ": " : "", o->explanation);
		smtpd_txn_reset(s);
	} else
		smtpd_txn_mail_ok(s);
	/* Unless the milters have the MAIL now (they resume it). */
	if (s->state == SMTPD_STATE_WAIT && smtpd_milter_active(s) &&
	    s->has_mail)
		return;
	smtpd_resume(s);
}

bool
smtpd_checks_mail(struct smtpd_session *s)
{
	const struct conf *c = s->ctx->conf;

	/* Trusted networks are our own senders, as with OpenDKIM's
	 * InternalHosts and OpenDMARC's IgnoreHosts: signed, not judged (a
	 * p=reject of our own domain must not refuse their relayed mail). */
	if (s->lst->role != CONF_ROLE_MX || s->ctx->dns == NULL ||
	    s->auth_user != NULL || s->trusted)
		return false;
	struct authcheck_params p = {
		.authserv_id = c->hostname,
		.ip = (const struct sockaddr *)&s->peer,
		.helo = s->helo,
		.mail_from = s->env.mail_from,
	};
	s->ac = authcheck_new(s->ctx->base, s->ctx->dns, &p);
	if (!c->spf_reject_fail)
		return false;
	smtpd_wait(s);
	authcheck_wait_spf(s->ac, smtpd_checks_spf_cb, s);
	return true;
}

static int
smtpd_checks_range_cmp(const void *a, const void *b)
{
	const struct authres_field *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Remove from s->headers the fields that claim to be ours: Authentication-
 * Results with our authserv-id (RFC 8601 §5), any sender-supplied BIMI
 * fields (the BIMI draft's "Handle Existing BIMI-Location") and every
 * Sealmail-Warning (a forged one could vouch for nothing, but a reader
 * must only ever see ours). */
static void
smtpd_checks_strip(struct smtpd_session *s)
{
	const char *h = (const char *)s->headers.data;
	size_t len = s->headers.len;
	size_t nar = authres_find_ours(h, len, s->ctx->conf->hostname, NULL, 0);
	size_t nbimi = bimi_strip_ranges(h, len, NULL, 0);
	size_t nwarn = smtpd_lookalike_strip_ranges(h, len, NULL, 0);
	size_t nf = nar + nbimi + nwarn;

	if (nf == 0)
		return;
	struct authres_field *f = xcalloc(nf, sizeof(*f));
	authres_find_ours(h, len, s->ctx->conf->hostname, f, nar);
	bimi_strip_ranges(h, len, f + nar, nbimi);
	smtpd_lookalike_strip_ranges(h, len, f + nar + nbimi, nwarn);
	qsort(f, nf, sizeof(*f), smtpd_checks_range_cmp);

	struct buf kept;
	size_t at = 0;
	buf_init(&kept, s->headers.max);
	for (size_t i = 0; i < nf; i++) {
		if (f[i].off < at)
			continue;
		buf_append(&kept, h + at, f[i].off - at);
		at = f[i].off + f[i].len;
	}
	buf_append(&kept, h + at, len - at);
	log_info("sid=%s qid=%s smtp removed forged fields count=%zu", s->sid,
	    s->qid, nf);
	free(f);
	buf_clear(&s->headers);
	s->headers = kept;
}

static void
smtpd_checks_not_signed(const struct smtpd_session *s)
{
	log_info("sid=%s qid=%s dkim not signed: From: is not owned by local "
	    "user %s (uid %lu)", s->sid, s->qid, s->local_user[0] ?
	    s->local_user : "-", (unsigned long)s->local_uid);
}

/* Sign for the From: domain when it is ours and has keys. */
static void
smtpd_checks_signer(struct smtpd_session *s)
{
	char domains[1][DMARC_DOMAIN_MAX];
	struct dkim_sign_key *const *keys;
	size_t nkeys;

	if (s->local) {
		/* Signing vouches for the author: only for the user's own
		 * addresses (smtpd_local_owns), never for whatever a local
		 * program writes into From:. A store over the network answers
		 * while the body comes in; the signer hashes it meanwhile. */
		bool pending = smtpd_store_senders_start(s);

		if (!smtpd_txn_from_owned(s)) {
			smtpd_checks_not_signed(s);
			return;
		}
		s->sign_provisional = pending;
	} else if (s->auth_user == NULL && !s->trusted)
		return;
	if (dmarc_author_domains((const char *)s->headers.data, s->headers.len,
	    domains, 1) != 1)
		return;
	nkeys = dkim_keys_for(s->ctx->dkim_keys, domains[0], &keys);
	if (nkeys == 0)
		return;
	snprintf(s->sign_domain, sizeof(s->sign_domain), "%s", domains[0]);
	s->signer = dkim_sign_new(keys, nkeys, time(NULL));
}

void
smtpd_checks_headers(struct smtpd_session *s)
{
	if (s->ac)
		authcheck_headers(s->ac, (const char *)s->headers.data,
		    s->headers.len);
	smtpd_checks_strip(s);
	if (s->ac)
		smtpd_lookalike_headers(s);
	smtpd_checks_signer(s);
	smtpd_arc_headers(s);
}

void
smtpd_checks_resign(struct smtpd_session *s)
{
	smtpd_checks_unsign(s);
	smtpd_arc_reset(s);
	smtpd_checks_signer(s);
	smtpd_arc_headers(s);
}

void
smtpd_checks_sign_body(struct smtpd_session *s, const uint8_t *p, size_t n)
{
	if (s->signer)
		dkim_sign_body(s->signer, p, n);
	if (s->arc)
		smtpd_arc_body(s, p, n);
}

void
smtpd_checks_body(struct smtpd_session *s, const uint8_t *p, size_t n)
{
	if (s->ac)
		authcheck_body(s->ac, p, n);
	if (s->signer)
		dkim_sign_body(s->signer, p, n);
	if (s->arc)
		smtpd_arc_body(s, p, n);
}

void
smtpd_checks_prepend(struct smtpd_session *s, struct buf *add)
{
	struct buf b;

	buf_init(&b, SIZE_MAX);
	buf_append_str(&b, s->env.prepend ? s->env.prepend : "");
	buf_append(&b, add->data, add->len);
	free(s->env.prepend);
	s->env.prepend = buf_take(&b);
}

/*
 * The DKIM signature reported for an Author Domain (RFC 9990 §3.1.3: a
 * passing aligned one first, then any passing one, then the first), or
 * NULL when the message has none.
 */
static const struct dkim_result *
smtpd_checks_dkim_sig(const struct authcheck *ac,
    const struct dmarc_author *a)
{
	const struct dkim_verify *v = authcheck_dkim(ac);
	const struct dkim_result *pass = NULL;
	size_t n = v ? dkim_verify_count(v) : 0;

	for (size_t i = 0; i < n; i++) {
		const struct dkim_result *r = dkim_verify_result(v, i);

		if (r->res != DKIM_RES_PASS)
			continue;
		if (a->dkim_aligned && strcasecmp(r->d, a->dkim_domain) == 0)
			return r;
		if (pass == NULL)
			pass = r;
	}
	return pass ? pass : n > 0 ? dkim_verify_result(v, 0) : NULL;
}

/* The valid rua URIs of rec joined by ",", into out. */
static void
smtpd_checks_rua(const struct dmarc_record *rec, char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < rec->nrua; i++) {
		int n = snprintf(out + off, len - off, "%s%s", i ? "," : "",
		    rec->rua[i]);
		if (n < 0 || (size_t)n >= len - off) {
			out[off] = '\0';	/* keep whole URIs only */
			return;
		}
		off += (size_t)n;
	}
}

/* fo= as published ("" when it is the default "0"). */
static void
smtpd_checks_fo(unsigned fo, char *out, size_t len)
{
	static const struct { unsigned bit; char c; } opt[] = {
		{ DMARC_FO_0, '0' }, { DMARC_FO_1, '1' }, { DMARC_FO_D, 'd' },
		{ DMARC_FO_S, 's' },
	};
	size_t off = 0;

	out[0] = '\0';
	if (fo == DMARC_FO_0)
		return;
	for (size_t i = 0; i < 4 && off + 3 < len; i++)
		if (fo & opt[i].bit) {
			if (off > 0)
				out[off++] = ':';
			out[off++] = opt[i].c;
		}
	out[off] = '\0';
}

/* The most of the failed message's header section a report carries. */
#define SMTPD_FAILURE_HEADERS_MAX	(64 * 1024)

/* The fo= facts of Author Domain a. */
static struct dmarc_failure_facts
smtpd_checks_facts(const struct authcheck *ac, const struct dmarc_author *a)
{
	const struct dkim_verify *v = authcheck_dkim(ac);
	struct dmarc_failure_facts f = {
		.fo = a->record.fo, .dkim_aligned = a->dkim_aligned,
		.spf_aligned = a->spf_aligned,
		.spf_failed = authcheck_spf(ac)->result == SPF_FAIL,
	};

	for (size_t i = 0; v != NULL && i < dkim_verify_count(v); i++)
		if (dkim_verify_result(v, i)->res == DKIM_RES_FAIL)
			f.dkim_failed = true;
	return f;
}

/*
 * RFC 9991: keep what a failure report about Author Domain a needs, when
 * [reports] dmarc_failure_reports is on and its record asks (ruf=, fo=;
 * never for psd=y records, §2). Only the header section is kept, local
 * parts redacted; the body never reaches the store.
 */
static void
smtpd_checks_failure(struct smtpd_session *s, const struct authcheck *ac,
    const struct dmarc_author *a, const char *applied)
{
	const struct dkim_verify *v = authcheck_dkim(ac);
	const struct dkim_result *bad = NULL;
	struct dmarc_failure_facts facts;
	const char *type;
	struct buf ar, ruf;
	char *hdr, *from, *arv, ident[LIMIT_DOMAIN + 2];

	if (!s->ctx->conf->reports_dmarc_failure || a->record.nruf == 0 ||
	    a->record.psd == DMARC_PSD_Y)
		return;
	facts = smtpd_checks_facts(ac, a);
	if ((type = dmarc_failure_wanted(&facts)) == NULL)
		return;
	buf_init(&ar, 64 * 1024);
	buf_init(&ruf, SIZE_MAX);
	(void)authcheck_format(ac, &ar);
	for (size_t i = 0; i < a->record.nruf; i++)
		buf_printf(&ruf, "%s%s", i ? "\n" : "", a->record.ruf[i]);
	hdr = dmarc_failure_redact((const char *)s->headers.data,
	    s->headers.len, SMTPD_FAILURE_HEADERS_MAX);
	from = dmarc_failure_redact_addr(s->env.mail_from ?
	    s->env.mail_from : "");
	arv = dmarc_failure_ar_value((const char *)ar.data, ar.len);
	/* RFC 9991 §4: the DKIM failure of an aligned identifier is named. */
	for (size_t i = 0; v != NULL && bad == NULL &&
	    i < dkim_verify_count(v); i++) {
		const struct dkim_result *r = dkim_verify_result(v, i);
		if (r->res != DKIM_RES_PASS && r->d[0] != '\0' &&
		    dmarc_failure_dkim_aligned(r->d, a->domain, a->org_domain,
		    a->record.adkim == DMARC_ALIGN_STRICT))
			bad = r;
	}
	/* i= defaults to "@" d= (RFC 6376 §3.5); a local part is redacted. */
	snprintf(ident, sizeof(ident), "@%s", bad != NULL ? bad->d : "");
	char *bad_i = bad != NULL && bad->i[0] != '\0' ?
	    dmarc_failure_redact_addr(bad->i) : xstrdup(bad != NULL ? ident :
	    "");
	struct db_dmarc_failure row = {
		.time = (long long)time(NULL), .source_ip = s->addr,
		.policy_domain = a->policy_domain, .header_from = a->domain,
		.mail_from = from, .ruf = buf_cstr(&ruf), .auth_failure = type,
		.auth_results = arv,
		.alignment = dmarc_failure_alignment(&facts),
		.delivery = strcmp(applied, "reject") == 0 ? "reject" :
		    strcmp(applied, "quarantine") == 0 ? "spam" : "delivered",
		.headers = hdr,
		.dkim_domain = bad != NULL ? bad->d : "",
		.dkim_identity = bad_i,
		.dkim_selector = bad != NULL ? bad->s : "",
	};
	if (!smtpd_store_dmarc_room(s->ctx, true))
		log_warn("sid=%s qid=%s dmarc failure report not stored: "
		    "%u waiting for the store already", s->sid, s->qid,
		    DB_DFAIL_PENDING_MAX);
	else if (db_dmarc_failure_defer(s->ctx->db, &row) != DB_OK)
		log_warn("sid=%s qid=%s dmarc failure report not stored: %s",
		    s->sid, s->qid, db_error(s->ctx->db));
	free(bad_i);
	free(arv);
	free(from);
	free(hdr);
	buf_clear(&ruf);
	buf_clear(&ar);
}

/* Keep each Author Domain's evaluation for aggregate reports. */
static void
smtpd_checks_record(struct smtpd_session *s, const struct authcheck *ac,
    const char *applied)
{
	const struct dmarc_verdict *v = authcheck_dmarc(ac);
	const struct spf_outcome *spf = authcheck_spf(ac);
	char rua[DMARC_URIS_MAX * (DMARC_URI_MAX + 1)], fo[8];

	for (size_t i = 0; v && i < v->nauthors; i++) {
		const struct dmarc_author *a = &v->author[i];
		const struct dmarc_record *rec = &a->record;
		if (!a->has_record)
			continue;
		const struct dkim_result *sig = smtpd_checks_dkim_sig(ac, a);
		smtpd_checks_rua(rec, rua, sizeof(rua));
		smtpd_checks_fo(rec->fo, fo, sizeof(fo));
		struct db_dmarc_row row = {
			.time = (long long)time(NULL),
			.source_ip = s->addr,
			.header_from = a->domain,
			/* RFC 9990 reports the RFC5321.MailFrom domain. */
			.envelope_from = addr_text_domain(s->env.mail_from ?
			    s->env.mail_from : ""),
			.policy_domain = a->policy_domain,
			.policy = dmarc_policy_name(a->policy),
			.disposition = applied,
			.result = dmarc_result_name(a->result),
			.dkim_domain = sig ? sig->d : "",
			.dkim_selector = sig ? sig->s : "",
			.dkim_result = sig ? dkim_res_name(sig->res) : "none",
			.dkim_aligned = a->dkim_aligned,
			.spf_domain = spf->domain,
			.spf_result = spf_result_name(spf->result),
			.spf_aligned = a->spf_aligned,
			.testing = a->testing,
			.pub = {
				/* An invalid p is used as none (RFC 9989
				 * §4.10.1): the policy that applied. */
				.p = rec->has_p && !rec->policy_invalid ?
				    dmarc_policy_name(rec->p) : "none",
				.sp = rec->has_sp ? dmarc_policy_name(rec->sp) :
				    "",
				.np = rec->has_np ? dmarc_policy_name(rec->np) :
				    "",
				.adkim = dmarc_align_name(rec->adkim),
				.aspf = dmarc_align_name(rec->aspf),
				.fo = fo,
				.rua = rua,
			},
		};
		if (!smtpd_store_dmarc_room(s->ctx, false))
			log_warn("sid=%s qid=%s dmarc record not stored: %u "
			    "waiting for the store already", s->sid, s->qid,
			    DB_DMARC_PENDING_MAX);
		else if (db_dmarc_defer(s->ctx->db, &row) != DB_OK)
			log_warn("sid=%s qid=%s dmarc record not stored: %s",
			    s->sid, s->qid, db_error(s->ctx->db));
		smtpd_checks_failure(s, ac, a, applied);
	}
}

/*
 * A DMARC temperror where the policy may be reject: delivering as if
 * there were no policy would let a DNS failure switch a reject policy
 * off, so the sender is asked to retry (RFC 9989 §4.10.1 "fail closed").
 * Nothing is recorded for reports: the retry will be. True if answered.
 */
static bool
smtpd_checks_dmarc_defer(struct smtpd_session *s, const struct authcheck *ac)
{
	const struct dmarc_verdict *v = authcheck_dmarc(ac);
	char reply[LIMIT_REPLY_LINE];
	size_t i;

	if (!dmarc_verdict_may_reject(v))
		return false;
	for (i = 0; i < v->nauthors; i++)
		if (v->author[i].may_reject)
			break;
	snprintf(reply, sizeof(reply), "451 4.7.5 DMARC policy of %s "
	    "cannot be evaluated (DNS error), try again later",
	    i < v->nauthors ? v->author[i].domain : "the sender's domain");
	smtpd_txn_reject(s, reply, METRICS_REJECT_DMARC);
	smtpd_resume(s);
	return true;
}

/* The Author Domain a DMARC reject is reported for. */
static const char *
smtpd_checks_reject_domain(const struct authcheck *ac)
{
	const struct dmarc_verdict *v = authcheck_dmarc(ac);

	return v && v->nauthors && v->author[0].domain[0] ?
	    v->author[0].domain : "the sender's domain";
}

/* The message's verdict per method for the metrics: DKIM passes if any
 * signature does (else the first signature's result), DMARC is the
 * verdict over the Author Domains. */
static void
smtpd_checks_count(const struct authcheck *ac)
{
	const struct spf_outcome *spf = authcheck_spf(ac);
	const struct dkim_verify *v = authcheck_dkim(ac);
	const struct dmarc_verdict *d = authcheck_dmarc(ac);
	size_t n = v ? dkim_verify_count(v) : 0;
	const char *dkim = "none";

	for (size_t i = 0; i < n; i++) {
		enum dkim_res r = dkim_verify_result(v, i)->res;
		if (i == 0 || r == DKIM_RES_PASS)
			dkim = dkim_res_name(r);
		if (r == DKIM_RES_PASS)
			break;
	}
	if (spf != NULL)
		metrics_verdict(METRICS_METHOD_SPF,
		    spf_result_name(spf->result));
	metrics_verdict(METRICS_METHOD_DKIM, dkim);
	metrics_verdict(METRICS_METHOD_DMARC, d ? dmarc_result_name(d->result) :
	    "none");
}

static void
smtpd_checks_done_cb(struct authcheck *ac, void *arg)
{
	struct smtpd_session *s = arg;
	const struct conf *c = s->ctx->conf;
	enum dmarc_disposition dis = authcheck_disposition(ac);
	char summary[LOG_QUOTE_SIZE(IDNA_DISPLAY_MAX) + 512];
	struct buf ar;

	authcheck_summary(ac, summary, sizeof(summary));
	log_info("sid=%s qid=%s auth %s", s->sid, s->qid, summary);
	smtpd_checks_count(ac);
	smtpd_enter(s, SMTPD_STATE_CMD);
	if (!c->dmarc_enforce) {
		/* Accepted and delivered here in spite of p=reject, but
		 * never forwarded: the envelope says so and remote delivery
		 * fails forwarded copies, which bounce to the sender. */
		if (dis == DMARC_DISPOSITION_REJECT) {
			const char *d = smtpd_checks_reject_domain(ac);

			free(s->env.dmarc_reject);
			s->env.dmarc_reject = xstrdup(d);
			log_info("sid=%s qid=%s dmarc reject not enforced "
			    "(dmarc_enforce = no): not to be forwarded", s->sid,
			    s->qid);
		}
		dis = DMARC_DISPOSITION_NONE;
	} else if (dis != DMARC_DISPOSITION_REJECT &&
	    smtpd_checks_dmarc_defer(s, ac))
		return;
	smtpd_checks_record(s, ac, dmarc_disposition_name(dis));
	if (dis == DMARC_DISPOSITION_REJECT) {
		char reply[LIMIT_REPLY_LINE];
		snprintf(reply, sizeof(reply), "550 5.7.1 Message rejected by "
		    "the DMARC policy of %s", smtpd_checks_reject_domain(ac));
		smtpd_txn_reject(s, reply, METRICS_REJECT_DMARC);
		smtpd_resume(s);
		return;
	}
	if (dis == DMARC_DISPOSITION_QUARANTINE)
		s->env.quarantine = true;
	smtpd_lookalike_verdict(s, authcheck_dmarc(ac));
	buf_init(&ar, 64 * 1024);
	if (authcheck_format(ac, &ar) == 0) {
		smtpd_checks_prepend(s, &ar);
		/* Commits (resuming the session when durable) once sealed. */
		smtpd_arc_seal(s, ac, &ar, smtpd_txn_commit);
	} else
		smtpd_txn_commit(s);
	buf_clear(&ar);
}

/* After signing: the inbound checks, or straight to the commit. */
static void
smtpd_checks_verify(struct smtpd_session *s)
{
	if (s->ac == NULL) {
		smtpd_txn_commit(s);
		return;
	}
	smtpd_wait(s);
	authcheck_finish(s->ac, smtpd_checks_done_cb, s);
}

void
smtpd_checks_finish(struct smtpd_session *s)
{
	/* The store has answered on a local user's From: now (both ends
	 * of a message wait for it: smtpd_store_senders). */
	if (s->sign_provisional && !smtpd_txn_from_owned(s)) {
		smtpd_checks_not_signed(s);
		smtpd_checks_unsign(s);
	}
	s->sign_provisional = false;
	if (s->signer)
		smtpd_sign_dkim(s, smtpd_checks_verify);
	else
		smtpd_checks_verify(s);
}
