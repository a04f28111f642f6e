/* SPDX-License-Identifier: ISC */
/*
 * ARC sealing of mail an alias forwards to another domain ([forwarding]
 * arc): on an mx listener, for a message from outside (the inbound checks
 * run), when a recipient was expanded from an alias to a non-local
 * address. The body hash runs while DATA streams; the set is made once
 * our verdicts are known and kept in the envelope (env.arc), which the
 * remote delivery puts on the forwarded copies only (deliver/remote.c).
 *
 * One set per message, whatever the number of forwarding aliases: signed
 * with a key of the domain of the first such alias (in RCPT order) that
 * has keys: its first RSA key, else its first key. ARC verifiers as
 * deployed (OpenARC, dkimpy, the big receivers) know rsa-sha256 only, and
 * a set, unlike DKIM, cannot be made once per algorithm (RFC 8617 §4.2). ARC ties no domain to the alias (RFC 8617 §4.1.2:
 * "no requirements on the selectors and/or domains"), and one seal keeps
 * the work at two signatures per message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/arc.h"
#include "auth/arc_sign.h"
#include "auth/authcheck.h"
#include "auth/dkim_keys.h"
#include "auth/dkim_sign.h"
#include "conf/conf.h"
#include "core/log.h"
#include "msg/addr.h"
#include "smtpd/smtpd_internal.h"

/* The alias rc was expanded from when its target is off-site, or NULL. */
static const char *
smtpd_arc_forwarded(const struct conf *c, const struct envelope_rcpt *rc)
{
	if (rc->orig == NULL || rc->orig[0] == '\0' ||
	    strcasecmp(rc->orig, rc->address) == 0 ||
	    conf_is_local_domain(c, addr_text_domain(rc->address)))
		return NULL;
	return rc->orig;
}

void
smtpd_arc_headers(struct smtpd_session *s)
{
	const struct conf *c = s->ctx->conf;
	struct dkim_sign_key *const *keys;
	const char *first = NULL;
	size_t nkeys;

	/* s->ac: an mx listener, a client neither authenticated nor
	 * trusted; our own users' mail is signed, not sealed. */
	if (s->ac == NULL || !c->forward_arc)
		return;
	for (size_t i = 0; i < s->env.nrcpts; i++) {
		const char *alias = smtpd_arc_forwarded(c, &s->env.rcpts[i]);
		const char *dom;

		if (alias == NULL)
			continue;
		dom = addr_text_domain(alias);
		if (first == NULL)
			first = dom;
		if ((nkeys = dkim_keys_for(s->ctx->dkim_keys, dom, &keys)) == 0)
			continue;
		s->arc_key = keys[0];
		for (size_t k = nkeys; k-- > 0;)
			if (dkim_sign_key_is_rsa(keys[k]))
				s->arc_key = keys[k];
		snprintf(s->arc_domain, sizeof(s->arc_domain), "%s", dom);
		s->arc = arc_sign_new(time(NULL));
		return;
	}
	if (first != NULL)
		log_info("sid=%s qid=%s arc not sealed: forwarding domain %s "
		    "has no DKIM key", s->sid, s->qid, first);
}

void
smtpd_arc_body(struct smtpd_session *s, const uint8_t *p, size_t n)
{
	arc_sign_body(s->arc, p, n);
}

void
smtpd_arc_seal(struct smtpd_session *s, const struct authcheck *ac,
    const struct buf *ar, smtpd_next_fn *next)
{
	const struct arc_verify *v = authcheck_arc(ac);
	struct arc_sign_chain c = { 0, ARC_NONE, ARC_REASON_NONE };

	if (s->arc == NULL) {
		next(s);
		return;
	}
	if (v != NULL) {
		c.n = arc_verify_count(v);
		c.res = arc_verify_result(v);
		c.reason = arc_verify_reason(v);
	}
	/* The seal is signed by the keys process, off the loop. */
	smtpd_sign_arc(s, &c, ar, next);
}

void
smtpd_arc_reset(struct smtpd_session *s)
{
	arc_sign_free(s->arc);
	s->arc = NULL;
	s->arc_key = NULL;
	s->arc_domain[0] = '\0';
}
