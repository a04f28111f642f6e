/* SPDX-License-Identifier: ISC */
/*
 * The [milter] content filters of a listener, run at the end of the
 * message, before our checks finish and before the commit and its 250:
 * each milter in file order gets the whole transaction (milter_client.h)
 * and may refuse it (its reply, sanitised, goes to the client), discard
 * it, quarantine it (into .Junk, as lookalike action = junk does) or
 * change it; its changes (header fields, sender, recipients, body) are
 * applied before the next milter sees the message, and the spool file is
 * rewritten once at the end if the header section or the body changed.
 * The state lives in a run allocated here and listed on the worker's
 * context, so a session without milters costs nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include "auth/dkim_keys.h"
#include "auth/dkim_sign.h"
#include "conf/conf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "milter/milter_client.h"
#include "milter/milter_edit.h"
#include "milter/milter_proto.h"
#include "msg/addr.h"
#include "net/tls.h"
#include "queue/spool.h"
#include "smtpd/smtpd_internal.h"
#include "smtpd/smtpd_milter.h"
#include "store/db.h"

struct smtpd_milter_run {
	struct smtpd_session	*s;
	struct smtpd_milter_run	*next, **prevp;	/* ctx->milter_runs */
	size_t			 cur;		/* index in conf milters */
	struct milter_client	*mc;
	struct milter_msg	 msg;
	int			 rfd;		/* the message as received */
	struct buf		 hdr;		/* the header section now */
	struct buf		 body;		/* a replaced body */
	bool			 hdr_changed, body_replaced;
	/* Strings msg points to. */
	char			 host[80], port_addr[64], if_addr[64];
	char			 under[160], from[LIMIT_PATH + 3];
	char			**rcpts;
	size_t			 nrcpts;
};

static const char *const smtpd_milter_tempfail =
    "451 4.7.1 Service unavailable - try again later";

bool
smtpd_milter_wanted(const struct smtpd_session *s)
{
	const struct conf *c = s->ctx->conf;

	for (size_t i = 0; i < c->nmilters; i++)
		if (conf_milter_applies(&c->milters[i], s->lst))
			return true;
	return false;
}

static void
smtpd_milter_free_rcpts(struct smtpd_milter_run *r)
{
	for (size_t i = 0; i < r->nrcpts; i++)
		free(r->rcpts[i]);
	free(r->rcpts);
	r->rcpts = NULL;
	r->nrcpts = 0;
}

/* The envelope as milters see it: "<address>" strings. */
static void
smtpd_milter_envelope(struct smtpd_milter_run *r)
{
	const struct envelope *env = &r->s->env;

	smtpd_milter_free_rcpts(r);
	snprintf(r->from, sizeof(r->from), "<%s>", env->mail_from ?
	    env->mail_from : "");
	r->rcpts = xcalloc(env->nrcpts + 1, sizeof(*r->rcpts));
	for (size_t i = 0; i < env->nrcpts; i++)
		r->rcpts[r->nrcpts++] = xasprintf("<%s>", env->rcpts[i].orig ?
		    env->rcpts[i].orig : env->rcpts[i].address);
	r->msg.mail_from = r->from;
	r->msg.rcpts = (const char *const *)r->rcpts;
	r->msg.nrcpts = r->nrcpts;
}

static void
smtpd_milter_describe(struct smtpd_milter_run *r)
{
	struct smtpd_session *s = r->s;
	struct milter_msg *m = &r->msg;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	m->macros[MILTER_M_J] = s->ctx->conf->hostname;
	snprintf(r->host, sizeof(r->host), "[%s]", s->addr);
	snprintf(r->under, sizeof(r->under), "unknown [%s]", s->addr);
	m->macros[MILTER_M_UNDERSCORE] = r->under;
	m->macros[MILTER_M_DAEMON_NAME] = s->lst->name;
	if (getsockname(s->fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    ss.ss_family != AF_UNIX) {
		smtpd_addr_text((const struct sockaddr *)&ss, r->if_addr,
		    sizeof(r->if_addr));
		m->macros[MILTER_M_IF_ADDR] = r->if_addr;
	}
	if (s->tls && s->ssl != NULL) {
		struct tls_info ti;

		tls_info_get(s->ssl, &ti);
		m->macros[MILTER_M_TLS_VERSION] = ti.version;
		m->macros[MILTER_M_CIPHER] = ti.cipher;
	}
	m->macros[MILTER_M_AUTH_AUTHEN] = s->auth_user;
	m->macros[MILTER_M_QUEUE_ID] = s->qid;
	m->client_host = r->host;
	if (s->local || s->peer.ss_family == AF_UNIX) {
		m->family = 'L';
		m->client_port = 0;
		m->client_addr = "localhost";
	} else {
		const struct sockaddr *sa = (const struct sockaddr *)&s->peer;
		m->family = sa->sa_family == AF_INET6 && strchr(s->addr, ':') ?
		    '6' : '4';
		m->client_port = sa->sa_family == AF_INET ?
		    ntohs(((const struct sockaddr_in *)sa)->sin_port) :
		    ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
		snprintf(r->port_addr, sizeof(r->port_addr), "%s", s->addr);
		m->client_addr = r->port_addr;
	}
	m->helo = s->helo;
	smtpd_milter_envelope(r);
}

static void
smtpd_milter_unlink(struct smtpd_milter_run *r)
{
	*r->prevp = r->next;
	if (r->next != NULL)
		r->next->prevp = r->prevp;
}

static void
smtpd_milter_free(struct smtpd_milter_run *r)
{
	smtpd_milter_unlink(r);
	milter_client_free(r->mc);
	if (r->rfd != -1)
		close(r->rfd);
	buf_clear(&r->hdr);
	buf_clear(&r->body);
	smtpd_milter_free_rcpts(r);
	free(r);
}

void
smtpd_milter_cancel(struct smtpd_session *s)
{
	struct smtpd_milter_run *r = s->ctx->milter_runs;

	while (r != NULL && r->s != s)
		r = r->next;
	if (r != NULL)
		smtpd_milter_free(r);
}

/* The run ends with reply (the transaction is over) or NULL (go on).
 * reply may live in the run (a milter's own reply): copied before the
 * run is freed. */
static void
smtpd_milter_end(struct smtpd_milter_run *r, const char *reply)
{
	struct smtpd_session *s = r->s;
	char copy[LIMIT_REPLY_LINE];

	if (reply != NULL)
		snprintf(copy, sizeof(copy), "%s", reply);
	smtpd_milter_free(r);
	smtpd_enter(s, SMTPD_STATE_CMD);
	if (reply != NULL) {
		smtpd_txn_reject(s, copy, METRICS_REJECT_POLICY);
		smtpd_resume(s);
		return;
	}
	smtpd_checks_finish(s);
}

static void
smtpd_milter_discard(struct smtpd_milter_run *r, const char *why)
{
	struct smtpd_session *s = r->s;

	log_info("sid=%s qid=%s milter discard reason=%s", s->sid, s->qid,
	    why);
	smtpd_milter_free(r);
	smtpd_enter(s, SMTPD_STATE_CMD);
	/* The sender is told it went, as with any filter that drops. */
	smtpd_reply(s, "250 2.0.0 Ok: discarded by a content filter");
	smtpd_txn_reset(s);
	smtpd_resume(s);
}

static bool
smtpd_milter_is_local(const char *domain, void *arg)
{
	return conf_is_local_domain(arg, domain);
}

/* A recipient a milter adds: a valid path; a local one must exist (it
 * is expanded like a RCPT). -1 if it cannot be taken. */
static int
smtpd_milter_addrcpt(struct smtpd_milter_run *r, const char *p, size_t len)
{
	struct smtpd_session *s = r->s;
	char to[LIMIT_PATH + 1], **targets = NULL;
	struct addr a;
	bool null;
	size_t end, n = 0;

	if (addr_parse_path(p, len, false, s->env.smtputf8, &a, &null,
	    &end) != ADDR_OK || end != len || addr_to_text(&a, to,
	    sizeof(to)) == -1)
		return -1;
	if (!conf_is_local_domain(s->ctx->conf, a.domain)) {
		envelope_add_rcpt(&s->env, to, to, NULL, 0);
		return 0;
	}
	if (db_rcpt_expand(s->ctx->db, to, smtpd_milter_is_local,
	    (void *)s->ctx->conf, &targets, &n) != DB_OK)
		return -1;
	for (size_t i = 0; i < n; i++)
		envelope_add_rcpt(&s->env, targets[i], to, NULL, 0);
	db_strv_free(targets, n);
	return 0;
}

/* Remove every recipient given (or expanded from) the address. */
static int
smtpd_milter_delrcpt(struct smtpd_milter_run *r, const char *p, size_t len)
{
	struct envelope *env = &r->s->env;
	char to[LIMIT_PATH + 1];
	struct addr a;
	bool null;
	size_t end, k = 0;

	if (addr_parse_path(p, len, false, env->smtputf8, &a, &null, &end) !=
	    ADDR_OK || end != len || addr_to_text(&a, to, sizeof(to)) == -1)
		return -1;
	for (size_t i = 0; i < env->nrcpts; i++) {
		struct envelope_rcpt *rc = &env->rcpts[i];
		if (addr_text_equal(rc->address, to) || (rc->orig != NULL &&
		    addr_text_equal(rc->orig, to))) {
			free(rc->address);
			free(rc->orig);
			free(rc->orcpt);
			free(rc->last_reply);
			continue;
		}
		env->rcpts[k++] = *rc;
	}
	env->nrcpts = k;
	return 0;
}

static int
smtpd_milter_chgfrom(struct smtpd_milter_run *r, const char *p, size_t len)
{
	struct envelope *env = &r->s->env;
	char from[LIMIT_PATH + 1] = "";
	struct addr a;
	bool null = false;
	size_t end;

	if (addr_parse_path(p, len, true, env->smtputf8, &a, &null, &end) !=
	    ADDR_OK || end != len || (!null && addr_to_text(&a, from,
	    sizeof(from)) == -1))
		return -1;
	free(env->mail_from);
	env->mail_from = xstrdup(from);
	return 0;
}

/* One modification; -1 names the milter's error. */
static int
smtpd_milter_mod(struct smtpd_milter_run *r, const struct milter_reply *m,
    bool *body_seen)
{
	switch (m->kind) {
	case MILTER_R_ADDHEADER:
		r->hdr_changed = true;
		return milter_edit_add(&r->hdr, m->name, m->name_len, m->value,
		    m->value_len);
	case MILTER_R_INSHEADER:
		r->hdr_changed = true;
		return milter_edit_insert(&r->hdr, m->index, m->name,
		    m->name_len, m->value, m->value_len);
	case MILTER_R_CHGHEADER:
		r->hdr_changed = true;
		return milter_edit_change(&r->hdr, m->index, m->name,
		    m->name_len, m->value, m->value_len);
	case MILTER_R_REPLBODY:
		if (!*body_seen) {	/* its first chunk replaces */
			buf_reset(&r->body);
			*body_seen = r->body_replaced = true;
		}
		return buf_append(&r->body, m->body, m->body_len);
	case MILTER_R_ADDRCPT: case MILTER_R_ADDRCPT_PAR:
		return smtpd_milter_addrcpt(r, m->name, m->name_len);
	case MILTER_R_DELRCPT:
		return smtpd_milter_delrcpt(r, m->name, m->name_len);
	case MILTER_R_CHGFROM:
		return smtpd_milter_chgfrom(r, m->name, m->name_len);
	default:
		return -1;
	}
}

static int
smtpd_milter_apply(struct smtpd_milter_run *r, const struct milter_result *res)
{
	const uint8_t *p = res->mods.data;
	size_t left = res->mods.len;
	bool body_seen = false;

	while (left > 0) {
		uint8_t cmd;
		const uint8_t *data;
		size_t dlen, used;
		struct milter_reply m;

		if (milter_frame_next(p, left, &cmd, &data, &dlen, &used) !=
		    MILTER_FRAME_OK || milter_reply_parse(cmd, data, dlen,
		    &m) != MILTER_PARSE_OK || smtpd_milter_mod(r, &m,
		    &body_seen) == -1)
			return -1;
		p += used;
		left -= used;
	}
	if (res->quarantine)
		r->s->env.quarantine = true;
	return 0;
}

/* Write the changed message: the header section, its empty line, then
 * the new body or the old one copied from the received file. */
static int
smtpd_milter_rewrite(struct smtpd_milter_run *r)
{
	struct smtpd_session *s = r->s;
	uint8_t chunk[16384];
	uint64_t off = r->msg.body_off, left = r->msg.body_len;
	int old = spool_msg_restart(s->msg);

	if (old == -1)
		return -1;
	close(old);	/* r->rfd reads the same file */
	if ((r->hdr.len > 0 && spool_msg_write(s->msg, r->hdr.data,
	    r->hdr.len) == -1) || spool_msg_write(s->msg, "\r\n", 2) == -1)
		return -1;
	if (r->body_replaced)
		return r->body.len == 0 ? 0 : spool_msg_write(s->msg,
		    r->body.data, r->body.len);
	while (left > 0) {
		size_t n = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
		ssize_t got = pread(r->rfd, chunk, n, (off_t)off);
		if (got <= 0 || spool_msg_write(s->msg, chunk, (size_t)got) == -1)
			return -1;
		off += (uint64_t)got;
		left -= (uint64_t)got;
	}
	return 0;
}

/* Our DKIM signer hashed the body as it arrived (the header section is
 * read when it signs): a replaced body is hashed again, with the same
 * keys. */
static void
smtpd_milter_resign(struct smtpd_milter_run *r)
{
	struct smtpd_session *s = r->s;
	struct dkim_sign_key *const *keys;
	size_t nkeys = dkim_keys_for(s->ctx->dkim_keys, s->sign_domain, &keys);

	dkim_sign_free(s->signer);
	s->signer = nkeys == 0 ? NULL : dkim_sign_new(keys, nkeys, time(NULL));
	if (s->signer != NULL && r->body.len > 0)
		dkim_sign_body(s->signer, r->body.data, r->body.len);
}

static void smtpd_milter_next(struct smtpd_milter_run *r);

static void
smtpd_milter_done(struct milter_client *mc, void *arg)
{
	struct smtpd_milter_run *r = arg;
	struct smtpd_session *s = r->s;
	const struct conf_milter *m = &s->ctx->conf->milters[r->cur];
	const struct milter_result *res = milter_client_result(mc);
	char q[LOG_QUOTE_SIZE(LIMIT_REPLY_LINE)];
	const char *reply = res->reply[0] ? res->reply : NULL;

	switch (res->verdict) {
	case MILTER_V_REJECT:
	case MILTER_V_TEMPFAIL:
		if (reply == NULL)
			reply = res->verdict == MILTER_V_REJECT ?
			    "550 5.7.1 Message content rejected" :
			    smtpd_milter_tempfail;
		log_info("sid=%s qid=%s milter=%s result=%s reply=%s", s->sid,
		    s->qid, m->name, res->verdict == MILTER_V_REJECT ?
		    "reject" : "tempfail", log_quote(reply, strlen(reply), q,
		    sizeof(q)));
		smtpd_milter_end(r, reply);
		return;
	case MILTER_V_DISCARD:
		smtpd_milter_discard(r, m->name);
		return;
	case MILTER_V_ERROR:
		log_warn("sid=%s qid=%s milter=%s error=\"%s\" on_error=%s",
		    s->sid, s->qid, m->name, res->error, m->on_error ==
		    CONF_MILTER_ACCEPT ? "accept" : "tempfail");
		if (m->on_error == CONF_MILTER_TEMPFAIL) {
			smtpd_milter_end(r, smtpd_milter_tempfail);
			return;
		}
		break;
	case MILTER_V_CONTINUE:
		if (smtpd_milter_apply(r, res) == -1) {
			log_warn("sid=%s qid=%s milter=%s error=\"modification "
			    "refused\"", s->sid, s->qid, m->name);
			/* Half applied: the message is not what either side
			 * meant, so it is never accepted as it is. */
			smtpd_milter_end(r, smtpd_milter_tempfail);
			return;
		}
		log_info("sid=%s qid=%s milter=%s result=continue mods=%zu%s",
		    s->sid, s->qid, m->name, res->nmods, res->quarantine ?
		    " quarantine=yes" : "");
		if (s->env.nrcpts == 0) {
			smtpd_milter_discard(r, "no recipient left");
			return;
		}
		break;
	}
	milter_client_free(r->mc);
	r->mc = NULL;
	r->cur++;
	smtpd_milter_next(r);
}

/* Start the next milter that applies, or finish. */
static void
smtpd_milter_next(struct smtpd_milter_run *r)
{
	struct smtpd_session *s = r->s;
	const struct conf *c = s->ctx->conf;

	while (r->cur < c->nmilters &&
	    !conf_milter_applies(&c->milters[r->cur], s->lst))
		r->cur++;
	if (r->cur < c->nmilters) {
		smtpd_milter_envelope(r);	/* as earlier milters left it */
		r->msg.headers = r->hdr.data;
		r->msg.headers_len = r->hdr.len;
		r->msg.body_buf = r->body_replaced ? &r->body : NULL;
		r->mc = milter_client_start(s->ctx->base, &c->milters[r->cur],
		    &r->msg, smtpd_milter_done, r);
		return;
	}
	if (r->hdr_changed || r->body_replaced) {
		if (smtpd_milter_rewrite(r) == -1) {
			log_warn("sid=%s qid=%s milter rewrite failed: %s",
			    s->sid, s->qid, strerror(errno));
			smtpd_milter_end(r, "451 4.3.0 Error: queue file write "
			    "error");
			return;
		}
		/* What the checks, the signer and the commit see from now
		 * on. */
		buf_reset(&s->headers);
		if (r->hdr.len > 0)
			buf_append(&s->headers, r->hdr.data, r->hdr.len);
		if (r->body_replaced && s->signer != NULL)
			smtpd_milter_resign(r);
	}
	smtpd_milter_end(r, NULL);
}

void
smtpd_milter_start(struct smtpd_session *s)
{
	struct smtpd_milter_run *r = xcalloc(1, sizeof(*r));
	size_t size = spool_msg_size(s->msg);

	r->s = s;
	r->next = s->ctx->milter_runs;
	r->prevp = &s->ctx->milter_runs;
	if (r->next != NULL)
		r->next->prevp = &r->next;
	s->ctx->milter_runs = r;
	buf_init(&r->hdr, LIMIT_HEADER_SECTION);
	buf_init(&r->body, s->ctx->conf->max_message_size);
	if (s->headers.len > 0)
		buf_append(&r->hdr, s->headers.data, s->headers.len);
	r->rfd = spool_msg_reader(s->msg);
	if (r->rfd == -1 || size < s->headers.len + 2) {
		log_warn("sid=%s qid=%s milter: cannot read the spool file: %s",
		    s->sid, s->qid, strerror(errno));
		smtpd_milter_end(r, "451 4.3.0 Error: queue file write error");
		return;
	}
	r->msg.body_fd = r->rfd;
	r->msg.body_off = s->headers.len + 2;
	r->msg.body_len = size - r->msg.body_off;
	smtpd_milter_describe(r);
	smtpd_wait(s);
	smtpd_milter_next(r);
}
