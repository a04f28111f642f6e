/* SPDX-License-Identifier: ISC */
/*
 * The [milter] content filters of a session, asked at each SMTP stage as
 * Postfix asks them: connect (at the first command), HELO, MAIL with its
 * ESMTP parameters, each RCPT (a refusal refuses that recipient only),
 * then DATA, the header fields, the end of the header section and the
 * body in chunks of up to 65535 bytes as it is written to the spool
 * (read back from there, so nothing grows in memory; reading from the
 * client stops while the milters are more than MILTER_BACKLOG behind),
 * and the end of the message with the modifications, all before our
 * reply and the spool commit. Milters are asked in file order; one that
 * refuses ends the stage. A refusal during the message is answered at
 * its end. Each milter's changes (header fields, sender, recipients,
 * body) are applied in order after its end of message, and the spool
 * file is rewritten once if the header section or the body changed.
 * The state is allocated at the session's first command when a milter
 * applies, and listed on the worker's context: a session without
 * milters costs nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
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
#include "msg/rfc5322_headers.h"
#include "net/tls.h"
#include "queue/spool.h"
#include "smtpd/smtpd_cmd.h"
#include "smtpd/smtpd_internal.h"
#include "smtpd/smtpd_milter.h"
#include "store/db.h"

/* Body bytes in the spool the milters may lag behind before we stop
 * reading from the client. */
#define MILTER_BACKLOG	((uint64_t)4 * MILTER_CHUNK)
/* ESMTP parameters of a MAIL or RCPT passed on (the line is bounded by
 * LIMIT_SMTP_PARAM_LINE anyway). */
#define SMTPD_MILTER_ARGS	16

struct smtpd_milter_run;
typedef void smtpd_milter_cont(struct smtpd_milter_run *r, bool async);

struct smtpd_milter_one {
	struct smtpd_milter_run	*r;
	const struct conf_milter *m;
	struct milter_client	*mc;
	bool			 neg_done;
	bool			 failed;	/* on_error applies */
};

struct smtpd_milter_add {
	char			*to;
	char			*orcpt;		/* NULL: none */
	unsigned		 notify;
};

struct smtpd_milter_run {
	struct smtpd_session	*s;
	struct smtpd_milter_run	*next, **prevp;	/* ctx->milter_runs */
	struct smtpd_milter_one	*v;
	size_t			 n;

	/* The stage being asked. */
	enum milter_stage	 stage;
	size_t			 cur;		/* milter asked */
	bool			 busy;		/* waiting for it */
	smtpd_milter_cont	*cont;
	enum milter_verdict	 verdict;	/* CONTINUE or the refusal */
	char			 reply[MILTER_REPLY_MAX];
	char			*arg;		/* RCPT or UNKNOWN text */
	size_t			 arglen;

	/* The session. */
	bool			 connected;	/* connect stage done */
	char			*conn_reply;	/* refused at connect */
	bool			 discard_all;	/* discard at connect/helo */
	bool			 esmtp;		/* HELO/EHLO waiting */
	size_t			 rcpt_first;	/* RCPT waiting */
	char			 if_addr[64], under[160];
	char			*mail_arg;	/* MAIL's argument */

	/* The message. */
	bool			 discard;
	const char		*discard_by;	/* its milter's name */
	bool			 in_data, data_sent, hdrs_done, eoh_sent;
	bool			 data_end, ending, throttled;
	bool			 sync;		/* inside smtpd_milter_eom */
	enum milter_verdict	 mverdict;	/* a refusal during it */
	char			 mreply[MILTER_REPLY_MAX];
	struct rfc5322_headers	 walk;		/* s->headers */
	struct rfc5322_field	 field;
	int			 rfd;		/* the spool file, read */
	uint64_t		 body_off, body_sent, body_len;
	uint8_t			*chunk;
	size_t			 chunk_len;
	struct buf		 hdr;		/* the header section at EOM */
	struct buf		 body;		/* a replaced body */
	bool			 hdr_changed, body_replaced;
	/* Recipients added in a local domain: expanded as RCPT's by the
	 * store once every milter answered (smtpd_milter_eom_expand). */
	struct smtpd_milter_add	*adds;
	size_t			 nadds;
};

static const char *const smtpd_milter_tempfail =
    "451 4.7.1 Service unavailable - try again later";

static void smtpd_milter_pump(struct smtpd_milter_run *r);

bool
smtpd_milter_wanted(const struct smtpd_session *s)
{
	const struct conf *c = s->ctx->conf;

	for (size_t i = 0; i < c->nmilters; i++)
		if (conf_milter_applies(&c->milters[i], s->lst))
			return true;
	return false;
}

static struct smtpd_milter_run *
smtpd_milter_find(const struct smtpd_session *s)
{
	struct smtpd_milter_run *r = s->ctx->milter_runs;

	while (r != NULL && r->s != s)
		r = r->next;
	return r;
}

/* Each line of a (sanitised, CRLF-joined) reply; the last one by
 * smtpd_txn_reject if reject, which ends the transaction. */
static void
smtpd_milter_say(struct smtpd_session *s, const char *reply, bool reject)
{
	const char *p = reply, *e;

	while ((e = strstr(p, "\r\n")) != NULL) {
		smtpd_reply(s, "%.*s", (int)(e - p), p);
		p = e + 2;
	}
	if (reject)
		smtpd_txn_reject(s, p, METRICS_REJECT_POLICY);
	else
		smtpd_reply(s, "%s", p);
}

/* ---- macros ---- */

enum smtpd_milter_macro {
	SMTPD_MM_J, SMTPD_MM_UNDERSCORE, SMTPD_MM_DAEMON_NAME, SMTPD_MM_IF_ADDR,
	SMTPD_MM_TLS_VERSION, SMTPD_MM_CIPHER, SMTPD_MM_AUTH_AUTHEN,
	SMTPD_MM_QUEUE_ID, SMTPD_MM_CLIENT_ADDR, SMTPD_MM_MAIL_ADDR,
	SMTPD_MM_RCPT_ADDR, SMTPD_MM_COUNT,
};

/* Names without braces ("j", "daemon_name"). */
static const char *const smtpd_milter_macro_names[SMTPD_MM_COUNT] = {
	[SMTPD_MM_J] = "j", [SMTPD_MM_UNDERSCORE] = "_",
	[SMTPD_MM_DAEMON_NAME] = "daemon_name", [SMTPD_MM_IF_ADDR] = "if_addr",
	[SMTPD_MM_TLS_VERSION] = "tls_version", [SMTPD_MM_CIPHER] = "cipher",
	[SMTPD_MM_AUTH_AUTHEN] = "auth_authen", [SMTPD_MM_QUEUE_ID] = "i",
	[SMTPD_MM_CLIENT_ADDR] = "client_addr", [SMTPD_MM_MAIL_ADDR] = "mail_addr",
	[SMTPD_MM_RCPT_ADDR] = "rcpt_addr",
};

/* The values of every macro we know, now (NULL: none). */
static void
smtpd_milter_macro_values(struct smtpd_milter_run *r, struct tls_info *ti,
    const char **val)
{
	struct smtpd_session *s = r->s;

	memset(val, 0, SMTPD_MM_COUNT * sizeof(*val));
	val[SMTPD_MM_J] = s->ctx->conf->hostname;
	val[SMTPD_MM_UNDERSCORE] = r->under;
	val[SMTPD_MM_DAEMON_NAME] = s->lst->name;
	val[SMTPD_MM_IF_ADDR] = r->if_addr[0] ? r->if_addr : NULL;
	if (s->tls && s->ssl != NULL) {
		tls_info_get(s->ssl, ti);
		val[SMTPD_MM_TLS_VERSION] = ti->version;
		val[SMTPD_MM_CIPHER] = ti->cipher;
	}
	val[SMTPD_MM_AUTH_AUTHEN] = s->auth_user;
	val[SMTPD_MM_QUEUE_ID] = s->qid[0] ? s->qid : NULL;
	val[SMTPD_MM_CLIENT_ADDR] = s->addr;
	val[SMTPD_MM_MAIL_ADDR] = s->has_mail ? s->env.mail_from : NULL;
	if (s->env.nrcpts > 0) {	/* as the client gave it */
		const struct envelope_rcpt *rc = &s->env.rcpts[s->env.nrcpts -
		    1];
		val[SMTPD_MM_RCPT_ADDR] = rc->orig ? rc->orig : rc->address;
	}
}

/* The macros of stage cmd: those the milter named for it (SETSYMLIST),
 * else those Postfix sends (which[]). Names go out as written: "{x}"
 * for the long ones, one letter bare. */
static int
smtpd_milter_macros(struct smtpd_milter_run *r, const struct milter_neg *neg,
    struct buf *out, char cmd, const enum smtpd_milter_macro *which,
    size_t n)
{
	static const char stages[] = { MILTER_CMD_CONNECT, MILTER_CMD_HELO,
	    MILTER_CMD_MAIL, MILTER_CMD_RCPT, MILTER_CMD_DATA,
	    MILTER_CMD_BODYEOB, MILTER_CMD_EOH };
	const char *val[SMTPD_MM_COUNT], *nv[LIMIT_MILTER_SYMLIST_NAMES];
	const char *vv[LIMIT_MILTER_SYMLIST_NAMES];
	char names[LIMIT_MILTER_SYMLIST + 1], longn[SMTPD_MM_COUNT][16];
	struct tls_info ti;
	const char *list = NULL;
	size_t k = 0;

	smtpd_milter_macro_values(r, &ti, val);
	for (size_t st = 0; st < sizeof(stages); st++)
		if (stages[st] == cmd && neg->has_symlist[st])
			list = neg->symlist[st];
	if (list == NULL) {
		for (size_t i = 0; i < n; i++) {
			const char *nm = smtpd_milter_macro_names[which[i]];
			if (val[which[i]] == NULL)
				continue;
			if (nm[1] != '\0') {
				snprintf(longn[i], sizeof(longn[i]), "{%s}", nm);
				nm = longn[i];
			}
			nv[k] = nm;
			vv[k++] = val[which[i]];
		}
	} else {
		char *save = NULL;

		snprintf(names, sizeof(names), "%s", list);
		for (char *t = strtok_r(names, " ,", &save); t != NULL &&
		    k < LIMIT_MILTER_SYMLIST_NAMES; t = strtok_r(NULL, " ,",
		    &save)) {
			size_t tl = strlen(t), off = 0;
			if (tl > 2 && t[0] == '{' && t[tl - 1] == '}') {
				off = 1;
				tl -= 2;
			}
			for (size_t m = 0; m < SMTPD_MM_COUNT; m++)
				if (strlen(smtpd_milter_macro_names[m]) == tl &&
				    strncmp(smtpd_milter_macro_names[m], t + off,
				    tl) == 0 && val[m] != NULL) {
					nv[k] = t;
					vv[k++] = val[m];
					break;
				}
		}
	}
	if (k == 0)
		return 0;
	return milter_enc_macro(out, cmd, nv, vv, k);
}

/* ---- what each stage sends ---- */

static int
smtpd_milter_enc_connect(struct smtpd_milter_run *r,
    const struct milter_neg *neg, struct buf *out)
{
	static const enum smtpd_milter_macro mm[] = { SMTPD_MM_J,
	    SMTPD_MM_UNDERSCORE, SMTPD_MM_DAEMON_NAME, SMTPD_MM_IF_ADDR };
	struct smtpd_session *s = r->s;
	char host[80];
	uint16_t port = 0;
	char family = '4';
	const char *addr = s->addr;

	snprintf(host, sizeof(host), "[%s]", s->addr);
	if (s->local || s->peer.ss_family == AF_UNIX) {
		family = 'L';
		addr = "localhost";
	} else if (s->peer.ss_family == AF_INET) {
		port = ntohs(((const struct sockaddr_in *)&s->peer)->sin_port);
	} else {
		port = ntohs(((const struct sockaddr_in6 *)&s->peer)->sin6_port);
		family = strchr(s->addr, ':') ? '6' : '4';
	}
	if (smtpd_milter_macros(r, neg, out, MILTER_CMD_CONNECT, mm, 4) == -1)
		return -1;
	return milter_enc_connect(out, host, family, port, addr);
}

/* A MAIL or RCPT argument as the milter wants it: the path with its
 * brackets, then each ESMTP parameter. arg is "FROM:<path> params"
 * (already parsed and accepted by us: smtpd_cmd). */
static int
smtpd_milter_enc_path(struct buf *out, char cmd, const char *arg, size_t len)
{
	const char *args[1 + SMTPD_MILTER_ARGS];
	char *copy = xstrndup(arg, len), *p, *save = NULL, *tok = NULL;
	size_t n = 0;
	int rc;

	p = strchr(copy, ':');
	p = p != NULL ? p + 1 : copy;
	while (*p == ' ')
		p++;
	/* The path ends at its '>' (a quoted local part may hold spaces). */
	char *gt = strchr(p, '>');
	if (gt != NULL && gt[1] != '\0') {
		gt[1] = '\0';
		save = gt + 2;
	}
	args[n++] = p;
	for (char *t = save != NULL ? strtok_r(save, " ", &tok) : NULL; t != NULL &&
	    n < sizeof(args) / sizeof(args[0]); t = strtok_r(NULL, " ", &tok))
		args[n++] = t;
	rc = milter_enc_args(out, cmd, args, n);
	free(copy);
	return rc;
}

/* A command without data, after the macros the milter named for it. */
static int
smtpd_milter_enc_simple(struct smtpd_milter_run *r,
    const struct milter_neg *neg, struct buf *out, char cmd)
{
	if (smtpd_milter_macros(r, neg, out, cmd, NULL, 0) == -1)
		return -1;
	return milter_enc_simple(out, cmd);
}

static int
smtpd_milter_enc(struct smtpd_milter_run *r, const struct milter_neg *neg,
    struct buf *out)
{
	static const enum smtpd_milter_macro helo_m[] = {
	    SMTPD_MM_TLS_VERSION, SMTPD_MM_CIPHER };
	static const enum smtpd_milter_macro mail_m[] = {
	    SMTPD_MM_AUTH_AUTHEN, SMTPD_MM_QUEUE_ID };
	static const enum smtpd_milter_macro eom_m[] = { SMTPD_MM_QUEUE_ID };
	struct smtpd_session *s = r->s;
	const struct rfc5322_field *f = &r->field;
	struct buf v;
	int rc;

	switch (r->stage) {
	case MILTER_STAGE_CONNECT:
		return smtpd_milter_enc_connect(r, neg, out);
	case MILTER_STAGE_HELO:
		if (smtpd_milter_macros(r, neg, out, MILTER_CMD_HELO, helo_m,
		    2) == -1)
			return -1;
		return milter_enc_helo(out, s->helo);
	case MILTER_STAGE_MAIL:
		if (smtpd_milter_macros(r, neg, out, MILTER_CMD_MAIL, mail_m,
		    2) == -1 || r->mail_arg == NULL)
			return -1;
		return smtpd_milter_enc_path(out, MILTER_CMD_MAIL, r->mail_arg,
		    strlen(r->mail_arg));
	case MILTER_STAGE_RCPT:
		if (smtpd_milter_macros(r, neg, out, MILTER_CMD_RCPT, NULL, 0) ==
		    -1)
			return -1;
		return smtpd_milter_enc_path(out, MILTER_CMD_RCPT, r->arg,
		    r->arglen);
	case MILTER_STAGE_DATA:
		return smtpd_milter_enc_simple(r, neg, out, MILTER_CMD_DATA);
	case MILTER_STAGE_HEADER:
		/* The value without its leading blank and with folds as LF,
		 * as Postfix sends it. */
		buf_init(&v, f->value_len + 1);
		for (size_t i = 0; i < f->value_len; i++) {
			if (i == 0 && (f->value[i] == ' ' ||
			    f->value[i] == '\t'))
				continue;
			if ((f->value[i] == '\r' && i + 1 < f->value_len &&
			    f->value[i + 1] == '\n') || f->value[i] == '\0')
				continue;
			buf_append(&v, &f->value[i], 1);
		}
		rc = milter_enc_header(out, f->name, f->name_len,
		    (const char *)v.data, v.len);
		buf_clear(&v);
		return rc;
	case MILTER_STAGE_EOH:
		return smtpd_milter_enc_simple(r, neg, out, MILTER_CMD_EOH);
	case MILTER_STAGE_BODY:
		return milter_enc_body(out, r->chunk, r->chunk_len);
	case MILTER_STAGE_EOM:
		if (smtpd_milter_macros(r, neg, out, MILTER_CMD_BODYEOB, eom_m,
		    1) == -1)
			return -1;
		return milter_enc_simple(out, MILTER_CMD_BODYEOB);
	case MILTER_STAGE_UNKNOWN: {
		const char *one[1];
		char *line = xstrndup(r->arg, r->arglen);

		one[0] = line;
		rc = milter_enc_args(out, MILTER_CMD_UNKNOWN, one, 1);
		free(line);
		return rc;
	}
	default:
		return -1;
	}
}

/* "VERB:<path> args" from a milter's path (with or without its
 * brackets) and ESMTP arguments (NULL: none), for the parser of our own
 * MAIL and RCPT commands: what we would refuse from a client, we refuse
 * from a milter. NULL if it cannot be a command line. */
static char *
smtpd_milter_cmdline(const char *verb, const char *p, size_t len,
    const char *args, size_t alen)
{
	bool br = len > 0 && p[0] == '<';

	if (len + alen + 16 > LIMIT_SMTP_PARAM_LINE)
		return NULL;
	return xasprintf("%s:%s%.*s%s%s%.*s", verb, br ? "" : "<", (int)len, p,
	    br ? "" : ">", args != NULL && alen > 0 ? " " : "",
	    args != NULL ? (int)alen : 0, args != NULL ? args : "");
}

/* A recipient a milter adds (SMFIR_ADDRCPT, or ADDRCPT_PAR with RCPT
 * parameters): a valid path with valid parameters; a local one must
 * exist (it is expanded like a RCPT, at the end: the store may be over
 * the network). -1 if it cannot be taken. */
static int
smtpd_milter_addrcpt(struct smtpd_milter_run *r, const struct milter_reply *m)
{
	struct smtpd_session *s = r->s;
	char to[LIMIT_PATH + 1];
	char *line = smtpd_milter_cmdline("TO", m->name, m->name_len, m->value,
	    m->value_len);
	struct smtpd_rcpt_args ra;
	struct smtpd_milter_add *a;

	if (line == NULL)
		return -1;
	if (smtpd_cmd_parse_rcpt(line, strlen(line), s->env.smtputf8, &ra) !=
	    SMTPD_CMD_OK || ra.postmaster || addr_to_text(&ra.to, to,
	    sizeof(to)) == -1) {
		free(line);
		return -1;
	}
	free(line);
	const char *orcpt = ra.has_orcpt ? ra.orcpt : NULL;
	if (!conf_is_local_domain(s->ctx->conf, ra.to.domain)) {
		envelope_add_rcpt(&s->env, to, to, orcpt, ra.notify);
		return 0;
	}
	/* Each is a store lookup: no more than a client may give. */
	if (r->nadds >= s->ctx->conf->max_recipients)
		return -1;
	r->adds = xreallocarray(r->adds, r->nadds + 1, sizeof(*r->adds));
	a = &r->adds[r->nadds++];
	a->to = xstrdup(to);
	a->orcpt = orcpt != NULL ? xstrdup(orcpt) : NULL;
	a->notify = ra.notify;
	return 0;
}

static void
smtpd_milter_adds_clear(struct smtpd_milter_run *r)
{
	for (size_t i = 0; i < r->nadds; i++) {
		free(r->adds[i].to);
		free(r->adds[i].orcpt);
	}
	free(r->adds);
	r->adds = NULL;
	r->nadds = 0;
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
	for (size_t i = 0; i < r->nadds; i++) {
		struct smtpd_milter_add *ad = &r->adds[i];
		if (addr_text_equal(ad->to, to)) {
			free(ad->to);
			free(ad->orcpt);
			continue;
		}
		r->adds[k++] = *ad;
	}
	r->nadds = k;
	k = 0;
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

/* SMFIR_CHGFROM: the new sender and its MAIL parameters, parsed and
 * refused as a client's would be (smtpd_txn_mail); the parameters given
 * replace those of the transaction. */
static int
smtpd_milter_chgfrom(struct smtpd_milter_run *r, const struct milter_reply *m)
{
	struct smtpd_session *s = r->s;
	struct envelope *env = &s->env;
	char from[LIMIT_PATH + 1] = "";
	char *line = smtpd_milter_cmdline("FROM", m->name, m->name_len,
	    m->value, m->value_len);
	struct smtpd_mail_args ma;

	if (line == NULL)
		return -1;
	if (smtpd_cmd_parse_mail(line, strlen(line), &ma) != SMTPD_CMD_OK ||
	    ma.body == ENVELOPE_BODY_BINARYMIME || (ma.requiretls &&
	    !s->tls) || ma.size > s->ctx->conf->max_message_size ||
	    (!ma.is_null && addr_to_text(&ma.from, from, sizeof(from)) == -1)) {
		free(line);
		return -1;
	}
	free(line);
	free(env->mail_from);
	env->mail_from = xstrdup(from);
	if (m->value != NULL && m->value_len > 0) {
		if (ma.body != ENVELOPE_BODY_UNSPEC)
			env->body = ma.body;
		if (ma.ret != ENVELOPE_RET_UNSPEC)
			env->ret = ma.ret;
		if (ma.has_envid) {
			free(env->envid);
			env->envid = xstrdup(ma.envid);
		}
		env->smtputf8 = env->smtputf8 || ma.smtputf8;
		env->requiretls = env->requiretls || ma.requiretls;
	}
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
		return smtpd_milter_addrcpt(r, m);
	case MILTER_R_DELRCPT:
		return smtpd_milter_delrcpt(r, m->name, m->name_len);
	case MILTER_R_CHGFROM:
		return smtpd_milter_chgfrom(r, m);
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
 * the new body or the old one copied from the received file; the body
 * as written is what our signer and sealer hash (smtpd_checks_resign). */
static int
smtpd_milter_rewrite(struct smtpd_milter_run *r)
{
	struct smtpd_session *s = r->s;
	uint8_t chunk[16384];
	uint64_t off = r->body_off, left = r->body_len;
	int old = spool_msg_restart(s->msg);

	if (old == -1)
		return -1;
	close(old);	/* r->rfd reads the same file */
	if ((r->hdr.len > 0 && spool_msg_write(s->msg, r->hdr.data,
	    r->hdr.len) == -1) || spool_msg_write(s->msg, "\r\n", 2) == -1)
		return -1;
	if (r->body_replaced) {
		smtpd_checks_sign_body(s, r->body.data, r->body.len);
		return r->body.len == 0 ? 0 : spool_msg_write(s->msg,
		    r->body.data, r->body.len);
	}
	while (left > 0) {
		size_t n = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
		ssize_t got = pread(r->rfd, chunk, n, (off_t)off);
		if (got <= 0 || spool_msg_write(s->msg, chunk, (size_t)got) == -1)
			return -1;
		smtpd_checks_sign_body(s, chunk, (size_t)got);
		off += (uint64_t)got;
		left -= (uint64_t)got;
	}
	return 0;
}

/* ---- asking the milters about one stage ---- */

static void
smtpd_milter_refuse(struct smtpd_milter_run *r, enum milter_verdict v,
    const char *reply)
{
	r->verdict = v;
	snprintf(r->reply, sizeof(r->reply), "%s", reply);
	r->cur = r->n;
}

/* A milter that failed: on_error = accept skips it for the session;
 * tempfail refuses every transaction stage (not connect nor HELO: the
 * client hears it at MAIL). */
static bool
smtpd_milter_failed(struct smtpd_milter_run *r,
    const struct smtpd_milter_one *o)
{
	if (o->m->on_error == CONF_MILTER_TEMPFAIL &&
	    r->stage >= MILTER_STAGE_MAIL && r->stage <= MILTER_STAGE_EOM) {
		smtpd_milter_refuse(r, MILTER_V_TEMPFAIL,
		    smtpd_milter_tempfail);
		return true;
	}
	return false;
}

/* Ask the milters from r->cur on; true while one is being asked. */
static bool
smtpd_milter_iter(struct smtpd_milter_run *r)
{
	struct smtpd_session *s = r->s;

	while (r->cur < r->n) {
		struct smtpd_milter_one *o = &r->v[r->cur];

		if (o->failed) {
			if (smtpd_milter_failed(r, o))
				break;
			r->cur++;
			continue;
		}
		if (r->stage == MILTER_STAGE_NEG) {
			if (o->neg_done) {
				r->cur++;
				continue;
			}
			r->busy = true;
			return true;
		}
		if (milter_client_skips(o->mc, r->stage)) {
			r->cur++;
			continue;
		}
		if (smtpd_milter_enc(r, milter_client_neg(o->mc),
		    milter_client_out(o->mc)) == -1) {
			buf_reset(milter_client_out(o->mc));
			log_warn("sid=%s milter=%s error=\"cannot encode\"",
			    s->sid, o->m->name);
			o->failed = true;
			continue;
		}
		milter_client_send(o->mc, r->stage);
		r->busy = true;
		return true;
	}
	r->busy = false;
	return false;
}

/* Ask every milter about stage st; cont(r, async) has the outcome
 * (r->verdict, r->reply). Called at once (async false) when no milter
 * had to be waited for. */
static void
smtpd_milter_ask(struct smtpd_milter_run *r, enum milter_stage st,
    smtpd_milter_cont *cont)
{
	r->stage = st;
	r->cur = 0;
	r->verdict = MILTER_V_CONTINUE;
	r->reply[0] = '\0';
	r->cont = cont;
	if (!smtpd_milter_iter(r))
		cont(r, false);
}

static int smtpd_milter_apply(struct smtpd_milter_run *r,
    const struct milter_result *res);

static const char *
smtpd_milter_stage_name(enum milter_stage st)
{
	static const char *const names[] = {
		[MILTER_STAGE_NEG] = "negotiate",
		[MILTER_STAGE_CONNECT] = "connect", [MILTER_STAGE_HELO] = "helo",
		[MILTER_STAGE_MAIL] = "mail", [MILTER_STAGE_RCPT] = "rcpt",
		[MILTER_STAGE_DATA] = "data", [MILTER_STAGE_HEADER] = "header",
		[MILTER_STAGE_EOH] = "eoh", [MILTER_STAGE_BODY] = "body",
		[MILTER_STAGE_EOM] = "eom", [MILTER_STAGE_UNKNOWN] = "unknown",
	};

	return names[st];
}

/* One milter's answer to the stage being asked. */
static void
smtpd_milter_answer(struct smtpd_milter_run *r, struct smtpd_milter_one *o,
    const struct milter_result *res)
{
	struct smtpd_session *s = r->s;
	char q[LOG_QUOTE_SIZE(MILTER_REPLY_MAX)];
	const char *reply;

	switch (res->verdict) {
	case MILTER_V_CONTINUE:
	case MILTER_V_ACCEPT:
		if (r->stage == MILTER_STAGE_EOM) {
			if (smtpd_milter_apply(r, res) == -1) {
				log_warn("sid=%s qid=%s milter=%s error="
				    "\"modification refused\"", s->sid,
				    s->qid, o->m->name);
				/* Half applied: the message is not what
				 * either side meant, so it is never accepted
				 * as it is. */
				smtpd_milter_refuse(r, MILTER_V_TEMPFAIL,
				    smtpd_milter_tempfail);
				return;
			}
			log_info("sid=%s qid=%s milter=%s result=continue "
			    "mods=%zu%s", s->sid, s->qid, o->m->name,
			    res->nmods, res->quarantine ? " quarantine=yes" :
			    "");
		}
		r->cur++;
		return;
	case MILTER_V_REJECT:
	case MILTER_V_TEMPFAIL:
		reply = res->reply[0] ? res->reply : res->verdict ==
		    MILTER_V_TEMPFAIL ? smtpd_milter_tempfail :
		    r->stage == MILTER_STAGE_RCPT ? "550 5.7.1 Recipient "
		    "rejected" : r->stage == MILTER_STAGE_CONNECT ||
		    r->stage == MILTER_STAGE_HELO ? "550 5.7.1 Access denied" :
		    r->stage >= MILTER_STAGE_DATA ? "550 5.7.1 Message content "
		    "rejected" : "550 5.7.1 Command rejected";
		log_info("sid=%s qid=%s milter=%s result=%s stage=%s reply=%s",
		    s->sid, s->qid, o->m->name, res->verdict ==
		    MILTER_V_REJECT ? "reject" : "tempfail",
		    smtpd_milter_stage_name(r->stage), log_quote(reply,
		    strlen(reply), q, sizeof(q)));
		smtpd_milter_refuse(r, res->verdict, reply);
		return;
	case MILTER_V_DISCARD:
		log_info("sid=%s qid=%s milter=%s result=discard stage=%s",
		    s->sid, s->qid, o->m->name,
		    smtpd_milter_stage_name(r->stage));
		if (r->stage <= MILTER_STAGE_HELO)
			r->discard_all = true;
		r->discard = true;
		r->discard_by = o->m->name;
		r->cur++;
		return;
	case MILTER_V_ERROR:
		log_warn("sid=%s qid=%s milter=%s error=\"%s\" on_error=%s",
		    s->sid, s->qid, o->m->name, res->error, o->m->on_error ==
		    CONF_MILTER_ACCEPT ? "accept" : "tempfail");
		o->failed = true;
		if (!smtpd_milter_failed(r, o))
			r->cur++;
		return;
	}
}

static void
smtpd_milter_client_done(struct milter_client *mc, void *arg)
{
	struct smtpd_milter_one *o = arg;
	struct smtpd_milter_run *r = o->r;
	const struct milter_result *res = milter_client_result(mc);

	if (!o->neg_done) {
		o->neg_done = true;
		if (res->verdict == MILTER_V_ERROR) {
			log_warn("sid=%s milter=%s error=\"%s\" on_error=%s",
			    r->s->sid, o->m->name, res->error,
			    o->m->on_error == CONF_MILTER_ACCEPT ? "accept" :
			    "tempfail");
			o->failed = true;
		}
	}
	if (!r->busy || &r->v[r->cur] != o) {
		/* Not the stage's answer (a failure while idle). */
		if (res->verdict == MILTER_V_ERROR && !o->failed) {
			log_warn("sid=%s milter=%s error=\"%s\"", r->s->sid,
			    o->m->name, res->error);
			o->failed = true;
		}
		return;
	}
	if (r->stage == MILTER_STAGE_NEG)
		r->cur++;
	else
		smtpd_milter_answer(r, o, res);
	if (!smtpd_milter_iter(r))
		r->cont(r, true);
}

/* ---- the session's stages ---- */

/* A command's stage is over: read on (from the loop), or the command
 * handler returns to smtpd_process (at once). */
static void
smtpd_milter_go(struct smtpd_milter_run *r, bool async)
{
	free(r->arg);
	r->arg = NULL;
	if (async)
		smtpd_resume(r->s);
	else
		smtpd_enter(r->s, SMTPD_STATE_CMD);
}

static void
smtpd_milter_connected(struct smtpd_milter_run *r, bool async)
{
	r->connected = true;
	if (r->verdict == MILTER_V_REJECT || r->verdict == MILTER_V_TEMPFAIL)
		r->conn_reply = xstrdup(r->reply);
	(void)async;	/* the line waits: NEG always answers later */
	smtpd_resume(r->s);
}

static void
smtpd_milter_negotiated(struct smtpd_milter_run *r, bool async)
{
	(void)async;	/* the line waits either way */
	smtpd_milter_ask(r, MILTER_STAGE_CONNECT, smtpd_milter_connected);
}

static struct smtpd_milter_run *
smtpd_milter_new(struct smtpd_session *s)
{
	const struct conf *c = s->ctx->conf;
	struct smtpd_milter_run *r = xcalloc(1, sizeof(*r));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	r->s = s;
	r->rfd = -1;
	r->next = s->ctx->milter_runs;
	r->prevp = &s->ctx->milter_runs;
	if (r->next != NULL)
		r->next->prevp = &r->next;
	s->ctx->milter_runs = r;
	buf_init(&r->hdr, LIMIT_HEADER_SECTION);
	buf_init(&r->body, c->max_message_size);
	snprintf(r->under, sizeof(r->under), "unknown [%s]", s->addr);
	if (getsockname(s->fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    ss.ss_family != AF_UNIX)
		smtpd_addr_text((const struct sockaddr *)&ss, r->if_addr,
		    sizeof(r->if_addr));
	r->v = xcalloc(c->nmilters, sizeof(*r->v));
	for (size_t i = 0; i < c->nmilters; i++) {
		if (!conf_milter_applies(&c->milters[i], s->lst))
			continue;
		r->v[r->n].r = r;
		r->v[r->n].m = &c->milters[i];
		r->n++;
	}
	/* All connect at once; each is then asked in order. */
	for (size_t i = 0; i < r->n; i++)
		r->v[i].mc = milter_client_new(s->ctx->base, r->v[i].m,
		    smtpd_milter_client_done, &r->v[i]);
	return r;
}

bool
smtpd_milter_command(struct smtpd_session *s, const char *line, size_t len)
{
	struct smtpd_milter_run *r;

	if (s->ctx->conf->nmilters == 0)
		return false;
	if ((r = smtpd_milter_find(s)) == NULL) {
		/* A session that only says QUIT is not worth a milter. */
		if (!smtpd_milter_wanted(s) || (len == 4 &&
		    strncasecmp(line, "QUIT", 4) == 0))
			return false;
		r = smtpd_milter_new(s);
	}
	if (!r->connected) {
		/* Read the line again once the milters know the client. */
		struct evbuffer *in = bufferevent_get_input(s->bev);

		evbuffer_prepend(in, "\r\n", 2);
		evbuffer_prepend(in, line, len);
		smtpd_wait(s);
		if (!r->busy)
			smtpd_milter_ask(r, MILTER_STAGE_NEG,
			    smtpd_milter_negotiated);
		return true;
	}
	if (r->conn_reply != NULL && !(len == 4 &&
	    strncasecmp(line, "QUIT", 4) == 0)) {
		smtpd_milter_say(s, r->conn_reply, false);
		return true;
	}
	return false;
}

static void
smtpd_milter_helo_done(struct smtpd_milter_run *r, bool async)
{
	struct smtpd_session *s = r->s;

	if (r->verdict == MILTER_V_REJECT || r->verdict == MILTER_V_TEMPFAIL) {
		/* Not greeted: MAIL needs a HELO/EHLO the milters took. */
		free(s->helo);
		s->helo = NULL;
		smtpd_milter_say(s, r->reply, false);
	} else
		smtpd_verb_hello_reply(s, r->esmtp);
	smtpd_milter_go(r, async);
}

bool
smtpd_milter_helo(struct smtpd_session *s, bool esmtp)
{
	struct smtpd_milter_run *r;

	if (s->ctx->milter_runs == NULL || (r = smtpd_milter_find(s)) == NULL)
		return false;
	r->esmtp = esmtp;
	smtpd_wait(s);
	smtpd_milter_ask(r, MILTER_STAGE_HELO, smtpd_milter_helo_done);
	return true;
}

void
smtpd_milter_mail_arg(struct smtpd_session *s, const char *arg, size_t len)
{
	struct smtpd_milter_run *r;

	if (s->ctx->milter_runs == NULL || (r = smtpd_milter_find(s)) == NULL)
		return;
	free(r->mail_arg);
	r->mail_arg = xstrndup(arg, len);
}

static void
smtpd_milter_mail_done(struct smtpd_milter_run *r, bool async)
{
	struct smtpd_session *s = r->s;

	if (r->verdict == MILTER_V_REJECT || r->verdict == MILTER_V_TEMPFAIL)
		smtpd_milter_say(s, r->reply, true);
	else
		smtpd_reply(s, "250 2.1.0 Ok");
	smtpd_milter_go(r, async);
}

bool
smtpd_milter_mail(struct smtpd_session *s)
{
	struct smtpd_milter_run *r;

	if (s->ctx->milter_runs == NULL || (r = smtpd_milter_find(s)) == NULL)
		return false;
	r->discard = r->discard_all;	/* discard_by stays */
	smtpd_wait(s);
	smtpd_milter_ask(r, MILTER_STAGE_MAIL, smtpd_milter_mail_done);
	return true;
}

static void
smtpd_milter_rcpt_done(struct smtpd_milter_run *r, bool async)
{
	struct smtpd_session *s = r->s;
	struct envelope *env = &s->env;

	if (r->verdict == MILTER_V_REJECT || r->verdict == MILTER_V_TEMPFAIL) {
		/* That recipient only: the others stay. */
		for (size_t i = r->rcpt_first; i < env->nrcpts; i++) {
			free(env->rcpts[i].address);
			free(env->rcpts[i].orig);
			free(env->rcpts[i].orcpt);
			free(env->rcpts[i].last_reply);
		}
		env->nrcpts = r->rcpt_first;
		s->nrcpt--;
		if (r->verdict == MILTER_V_REJECT)
			metrics_rejected(METRICS_REJECT_POLICY);
		smtpd_milter_say(s, r->reply, false);
	} else
		smtpd_reply(s, "250 2.1.5 Ok");
	smtpd_milter_go(r, async);
}

bool
smtpd_milter_rcpt(struct smtpd_session *s, const char *arg, size_t len,
    size_t first)
{
	struct smtpd_milter_run *r;

	if (s->ctx->milter_runs == NULL || (r = smtpd_milter_find(s)) == NULL)
		return false;
	free(r->arg);	/* each milter gets it in turn */
	r->arg = xstrndup(arg, len);
	r->arglen = len;
	r->rcpt_first = first;
	smtpd_wait(s);
	smtpd_milter_ask(r, MILTER_STAGE_RCPT, smtpd_milter_rcpt_done);
	return true;
}

static void
smtpd_milter_unknown_done(struct smtpd_milter_run *r, bool async)
{
	if (r->verdict == MILTER_V_REJECT || r->verdict == MILTER_V_TEMPFAIL)
		smtpd_milter_say(r->s, r->reply, false);
	else
		smtpd_reply(r->s, "500 5.5.2 Error: command not recognized");
	smtpd_milter_go(r, async);
}

bool
smtpd_milter_unknown(struct smtpd_session *s, const char *line, size_t len)
{
	struct smtpd_milter_run *r;

	if (s->ctx->milter_runs == NULL || (r = smtpd_milter_find(s)) == NULL)
		return false;
	free(r->arg);
	r->arg = xstrndup(line, len);
	r->arglen = len;
	smtpd_wait(s);
	smtpd_milter_ask(r, MILTER_STAGE_UNKNOWN, smtpd_milter_unknown_done);
	return true;
}

/* ---- the message ---- */

/* Whether a milter still wants step st of this message. */
static bool
smtpd_milter_anyone(const struct smtpd_milter_run *r, enum milter_stage st)
{
	for (size_t i = 0; i < r->n; i++)
		if (!r->v[i].failed && !milter_client_skips(r->v[i].mc, st))
			return true;
	return false;
}

/* The body bytes written to the spool and not sent yet. */
static uint64_t
smtpd_milter_backlog(const struct smtpd_milter_run *r)
{
	const struct smtpd_session *s = r->s;
	uint64_t have = s->msg == NULL ? 0 : spool_msg_size(s->msg);

	return have > r->body_off + r->body_sent ? have - r->body_off -
	    r->body_sent : 0;
}

/* The next step of the message to send: false if there is none now. */
static bool
smtpd_milter_next_item(struct smtpd_milter_run *r, enum milter_stage *st)
{
	if (!r->data_sent) {
		r->data_sent = true;
		*st = MILTER_STAGE_DATA;
		return true;
	}
	if (!r->hdrs_done) {
		if (smtpd_milter_anyone(r, MILTER_STAGE_HEADER) &&
		    rfc5322_headers_next(&r->walk, &r->field) ==
		    RFC5322_HEADERS_FIELD) {
			*st = MILTER_STAGE_HEADER;
			return true;
		}
		r->hdrs_done = true;
	}
	if (!r->eoh_sent) {
		r->eoh_sent = true;
		*st = MILTER_STAGE_EOH;
		return true;
	}
	uint64_t left = smtpd_milter_backlog(r);
	if (!smtpd_milter_anyone(r, MILTER_STAGE_BODY)) {
		r->body_sent += left;	/* nobody reads it */
		return false;
	}
	if (left == 0 || (left < MILTER_CHUNK && !r->data_end))
		return false;
	size_t n = left < MILTER_CHUNK ? (size_t)left : MILTER_CHUNK;
	/* What the spool still buffers goes to the file first (one write
	 * per chunk at most, as the spool's own), then a bounded read. */
	ssize_t got = -1;
	if (spool_msg_flushed(r->s->msg) >= r->body_off + r->body_sent + n ||
	    spool_msg_flush(r->s->msg) == 0)
		got = pread(r->rfd, r->chunk, n,
		    (off_t)(r->body_off + r->body_sent));
	if (got <= 0) {
		log_warn("sid=%s qid=%s milter: cannot read the spool file: %s",
		    r->s->sid, r->s->qid, got == 0 ? "short" : strerror(errno));
		r->mverdict = MILTER_V_TEMPFAIL;
		snprintf(r->mreply, sizeof(r->mreply), "451 4.3.0 Error: queue "
		    "file read error");
		return false;
	}
	r->chunk_len = (size_t)got;
	r->body_sent += (uint64_t)got;
	*st = MILTER_STAGE_BODY;
	return true;
}

static void smtpd_milter_pump_done(struct smtpd_milter_run *r, bool async);
static void smtpd_milter_eom_start(struct smtpd_milter_run *r);

/* A refusal during the message is kept for its end; the rest of the
 * message is not sent. */
static void
smtpd_milter_pump_result(struct smtpd_milter_run *r)
{
	if (r->verdict == MILTER_V_REJECT || r->verdict == MILTER_V_TEMPFAIL) {
		r->mverdict = r->verdict;
		snprintf(r->mreply, sizeof(r->mreply), "%s", r->reply);
	}
}

/* Send what the spool holds, one step at a time; at the end of the
 * data, go on to the end of message. */
static void
smtpd_milter_pump(struct smtpd_milter_run *r)
{
	enum milter_stage st;

	while (!r->busy && !r->ending && r->mverdict == MILTER_V_CONTINUE &&
	    smtpd_milter_next_item(r, &st)) {
		r->stage = st;
		r->cur = 0;
		r->verdict = MILTER_V_CONTINUE;
		r->reply[0] = '\0';
		r->cont = smtpd_milter_pump_done;
		if (smtpd_milter_iter(r))
			return;
		smtpd_milter_pump_result(r);
	}
	if (r->busy || r->ending)
		return;
	if (r->data_end) {
		smtpd_milter_eom_start(r);
		return;
	}
	if (r->throttled && smtpd_milter_backlog(r) < MILTER_BACKLOG) {
		r->throttled = false;
		bufferevent_enable(r->s->bev, EV_READ);
	}
}

static void
smtpd_milter_pump_done(struct smtpd_milter_run *r, bool async)
{
	(void)async;
	smtpd_milter_pump_result(r);
	smtpd_milter_pump(r);
}

void
smtpd_milter_headers(struct smtpd_session *s)
{
	struct smtpd_milter_run *r;

	if (s->ctx->milter_runs == NULL || (r = smtpd_milter_find(s)) == NULL)
		return;
	if (s->spool_failed || (r->rfd = spool_msg_reader(s->msg)) == -1) {
		r->mverdict = MILTER_V_TEMPFAIL;
		snprintf(r->mreply, sizeof(r->mreply), "451 4.3.0 Error: queue "
		    "file write error");
		return;
	}
	r->in_data = true;
	r->body_off = spool_msg_size(s->msg);
	r->chunk = xmalloc(MILTER_CHUNK);
	rfc5322_headers_init(&r->walk, s->headers.data, s->headers.len);
	smtpd_milter_pump(r);
}

void
smtpd_milter_input(struct smtpd_session *s)
{
	struct smtpd_milter_run *r;

	if (s->ctx->milter_runs == NULL || (r = smtpd_milter_find(s)) == NULL ||
	    !r->in_data || r->data_end)
		return;
	smtpd_milter_pump(r);
	/* The milters lag: the client waits (its bytes stay in the kernel's
	 * buffers), so the spool file runs ahead of them by a bounded
	 * amount. */
	if (r->busy && !r->throttled && s->bev != NULL &&
	    smtpd_milter_backlog(r) >= MILTER_BACKLOG) {
		r->throttled = true;
		bufferevent_disable(s->bev, EV_READ);
	}
}

/* The milters' part of the message is over: reply (refused) or go on
 * with our checks and the commit. */
static void
smtpd_milter_end(struct smtpd_milter_run *r, const char *reply)
{
	struct smtpd_session *s = r->s;
	char copy[MILTER_REPLY_MAX];
	bool sync = r->sync;

	smtpd_enter(s, SMTPD_STATE_CMD);
	if (reply == NULL) {
		smtpd_checks_finish(s);
		return;
	}
	/* reply may live in r, which the transaction's reset clears. */
	snprintf(copy, sizeof(copy), "%s", reply);
	smtpd_milter_say(s, copy, true);
	if (!sync)
		smtpd_resume(s);
}

static void
smtpd_milter_discard(struct smtpd_milter_run *r, const char *why)
{
	struct smtpd_session *s = r->s;
	bool sync = r->sync;

	log_info("sid=%s qid=%s milter discard reason=%s", s->sid, s->qid,
	    why);
	smtpd_enter(s, SMTPD_STATE_CMD);
	/* The sender is told it went, as with any filter that drops. */
	smtpd_reply(s, "250 2.0.0 Ok: discarded by a content filter");
	smtpd_txn_reset(s);
	if (!sync)
		smtpd_resume(s);
}

static void smtpd_milter_eom_expanded(struct smtpd_session *s);
static void smtpd_milter_eom_senders(struct smtpd_session *s);

static void
smtpd_milter_eom_done(struct smtpd_milter_run *r, bool async)
{
	struct smtpd_session *s = r->s;
	const char **to;
	bool now;

	(void)async;
	if (r->verdict == MILTER_V_REJECT || r->verdict == MILTER_V_TEMPFAIL) {
		smtpd_milter_end(r, r->reply);
		return;
	}
	if (r->discard) {
		smtpd_milter_discard(r, r->discard_by);
		return;
	}
	to = xcalloc(r->nadds + 1, sizeof(*to));
	for (size_t i = 0; i < r->nadds; i++)
		to[i] = r->adds[i].to;
	now = smtpd_store_expand(s, to, r->nadds, smtpd_milter_eom_expanded);
	free(to);
	if (now)
		smtpd_milter_eom_expanded(s);
}

/* The added local recipients are expanded: into the envelope. */
static void
smtpd_milter_eom_expanded(struct smtpd_session *s)
{
	struct smtpd_milter_run *r = smtpd_milter_find(s);

	for (size_t i = 0; i < r->nadds; i++) {
		struct smtpd_milter_add *a = &r->adds[i];
		char **v;
		size_t n;
		enum db_result dr = smtpd_store_expanded(s, i, &v, &n);

		if (dr != DB_OK) {
			/* A recipient that does not exist, or a store that
			 * could not say: the change is not what the milter
			 * meant, so the message is not accepted as it is. */
			db_strv_free(v, n);
			log_warn("sid=%s qid=%s milter error=\"added "
			    "recipient %s\"", s->sid, s->qid,
			    dr == DB_NOTFOUND ? "does not exist" :
			    "could not be looked up");
			smtpd_milter_end(r, smtpd_milter_tempfail);
			return;
		}
		for (size_t k = 0; k < n; k++)
			envelope_add_rcpt(&s->env, v[k], a->to, a->orcpt,
			    a->notify);
		db_strv_free(v, n);
	}
	smtpd_milter_adds_clear(r);
	if (s->env.nrcpts == 0) {
		smtpd_milter_discard(r, "no recipient left");
		return;
	}
	if (r->hdr_changed || r->body_replaced) {
		/* What the checks, the signer and the commit see from now
		 * on. */
		buf_reset(&s->headers);
		if (r->hdr.len > 0)
			buf_append(&s->headers, r->hdr.data, r->hdr.len);
	}
	smtpd_milter_eom_senders(s);
}

/* A submission's From: is checked as the milters left it (a milter may
 * have changed it), and a local one's signer chosen from it. */
static void
smtpd_milter_eom_senders(struct smtpd_session *s)
{
	struct smtpd_milter_run *r = smtpd_milter_find(s);
	const char *refused;

	if (!smtpd_store_senders(s, smtpd_milter_eom_senders))
		return;
	if (r->hdr_changed || r->body_replaced) {
		smtpd_checks_resign(s);
		if (smtpd_milter_rewrite(r) == -1) {
			log_warn("sid=%s qid=%s milter rewrite failed: %s",
			    s->sid, s->qid, strerror(errno));
			smtpd_milter_end(r, "451 4.3.0 Error: queue file write "
			    "error");
			return;
		}
	}
	if ((refused = smtpd_txn_senders_refusal(s)) != NULL) {
		smtpd_milter_end(r, refused);
		return;
	}
	smtpd_milter_end(r, NULL);
}

static void
smtpd_milter_eom_start(struct smtpd_milter_run *r)
{
	struct smtpd_session *s = r->s;

	r->ending = true;
	if (r->mverdict != MILTER_V_CONTINUE) {
		smtpd_milter_end(r, r->mreply);
		return;
	}
	buf_reset(&r->hdr);
	if (s->headers.len > 0)
		buf_append(&r->hdr, s->headers.data, s->headers.len);
	smtpd_milter_ask(r, MILTER_STAGE_EOM, smtpd_milter_eom_done);
}

bool
smtpd_milter_active(const struct smtpd_session *s)
{
	return s->ctx->milter_runs != NULL && smtpd_milter_find(s) != NULL;
}

bool
smtpd_milter_eom(struct smtpd_session *s)
{
	struct smtpd_milter_run *r;

	if (s->ctx->milter_runs == NULL || (r = smtpd_milter_find(s)) == NULL)
		return false;
	if (r->throttled) {
		r->throttled = false;
		bufferevent_enable(s->bev, EV_READ);
	}
	r->data_end = true;
	if (!r->in_data && r->mverdict == MILTER_V_CONTINUE) {
		r->mverdict = MILTER_V_TEMPFAIL;
		snprintf(r->mreply, sizeof(r->mreply), "%s",
		    smtpd_milter_tempfail);
	}
	if (r->in_data && spool_msg_flush(s->msg) == -1) {
		r->mverdict = MILTER_V_TEMPFAIL;
		snprintf(r->mreply, sizeof(r->mreply), "451 4.3.0 Error: queue "
		    "file write error");
	}
	r->body_len = spool_msg_size(s->msg) - r->body_off;
	smtpd_wait(s);
	r->sync = true;
	if (!r->in_data)
		smtpd_milter_eom_start(r);
	else
		smtpd_milter_pump(r);
	/* Found again: what ended at once may have ended the session (and
	 * r with it); what did not ends from the loop. */
	if ((r = smtpd_milter_find(s)) != NULL)
		r->sync = false;
	return true;
}

void
smtpd_milter_reset(struct smtpd_session *s)
{
	struct smtpd_milter_run *r;

	if (s->ctx->milter_runs == NULL || (r = smtpd_milter_find(s)) == NULL)
		return;
	for (size_t i = 0; i < r->n; i++)
		if (!r->v[i].failed)
			milter_client_abort(r->v[i].mc);
	if (r->busy && r->stage >= MILTER_STAGE_DATA)
		r->busy = false;	/* its answer is dropped (abort) */
	r->discard = false;
	r->in_data = r->data_sent = r->hdrs_done = r->eoh_sent = false;
	r->data_end = r->ending = false;
	r->mverdict = MILTER_V_CONTINUE;
	r->mreply[0] = '\0';
	if (r->rfd != -1)
		close(r->rfd);
	r->rfd = -1;
	free(r->chunk);
	r->chunk = NULL;
	r->body_off = r->body_sent = r->body_len = 0;
	buf_reset(&r->hdr);
	buf_reset(&r->body);
	r->hdr_changed = r->body_replaced = false;
	smtpd_milter_adds_clear(r);
	if (r->throttled) {
		r->throttled = false;
		if (s->bev != NULL)
			bufferevent_enable(s->bev, EV_READ);
	}
}

void
smtpd_milter_cancel(struct smtpd_session *s)
{
	struct smtpd_milter_run *r;

	if (s->ctx->milter_runs == NULL || (r = smtpd_milter_find(s)) == NULL)
		return;
	*r->prevp = r->next;
	if (r->next != NULL)
		r->next->prevp = r->prevp;
	for (size_t i = 0; i < r->n; i++)
		milter_client_free(r->v[i].mc);
	free(r->v);
	if (r->rfd != -1)
		close(r->rfd);
	free(r->chunk);
	free(r->conn_reply);
	free(r->mail_arg);
	free(r->arg);
	buf_clear(&r->hdr);
	buf_clear(&r->body);
	smtpd_milter_adds_clear(r);
	free(r);
}
