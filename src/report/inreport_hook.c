/* SPDX-License-Identifier: ISC */
/* Received reports after local delivery (see inreport_hook.h). */
#include "report/inreport_hook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "store/store_open.h"
#include "queue/envelope.h"
#include "queue/spool.h"
#include "report/inreport.h"
#include "store/db_inreport.h"

static const char *const inreport_hook_kinds[] = {
	[INREPORT_DMARC] = "dmarc",
	[INREPORT_TLS] = "tls",
	[INREPORT_ARF] = "arf",
};

struct inreport_hook {
	const char	*qid;
	struct db	*db;
	const struct conf *conf;
	char		 dberr[512];
};

/* The report's identity for the log line. */
static void
inreport_hook_ident(const struct inreport *r, const char **org,
    const char **id, size_t *items)
{
	switch (r->kind) {
	case INREPORT_DMARC:
		*org = r->u.dmarc.org_name;
		*id = r->u.dmarc.report_id;
		*items = r->u.dmarc.nrec;
		break;
	case INREPORT_TLS:
		*org = r->u.tls.org_name;
		*id = r->u.tls.report_id;
		*items = r->u.tls.npol;
		break;
	case INREPORT_ARF:
		*org = r->msg_from_domain;
		*id = r->msg_id;
		*items = 1;
		break;
	}
}

/* inreport_cb: store one report, or log why it was refused. */
static void
inreport_hook_one(const struct inreport *r, const char *err, void *arg)
{
	struct inreport_hook *h = arg;
	char e1[300], e2[300], e3[300];
	const char *org = "", *id = "";
	size_t items = 0;
	enum db_result res;

	if (r == NULL) {
		log_warn("qid=%s report refused reason=\"%s\"", h->qid,
		    log_escape(err, strlen(err), e1, sizeof(e1)));
		return;
	}
	inreport_hook_ident(r, &org, &id, &items);
	if (h->db == NULL)
		h->db = store_open(h->conf, true, h->dberr,
		    sizeof(h->dberr));
	res = h->db != NULL ? db_inreport_add(h->db, r) : DB_ERROR;
	log_escape(org, strlen(org), e1, sizeof(e1));
	log_escape(id, strlen(id), e2, sizeof(e2));
	if (res == DB_OK)
		log_info("qid=%s report stored kind=%s org=\"%s\" "
		    "report_id=\"%s\" items=%zu authenticated=%s", h->qid,
		    inreport_hook_kinds[r->kind], e1, e2, items,
		    r->authenticated ? "yes" : "no");
	else if (res == DB_NOTFOUND)
		log_info("qid=%s report duplicate kind=%s org=\"%s\" "
		    "report_id=\"%s\"", h->qid, inreport_hook_kinds[r->kind],
		    e1, e2);
	else {
		const char *why = h->db != NULL ? db_error(h->db) : h->dberr;
		log_warn("qid=%s report not stored kind=%s org=\"%s\" "
		    "report_id=\"%s\" reason=\"%s\"", h->qid,
		    inreport_hook_kinds[r->kind], e1, e2,
		    log_escape(why, strlen(why), e3, sizeof(e3)));
	}
}

bool
inreport_hook_wants(const struct conf *c, const struct envelope *env,
    size_t i)
{
	const struct envelope_rcpt *r = &env->rcpts[i];

	return (r->address != NULL && conf_is_reports_inbox(c, r->address)) ||
	    (r->orig != NULL && conf_is_reports_inbox(c, r->orig));
}

void
inreport_hook_run(const struct conf *c, const struct envelope *env,
    int msg_fd)
{
	struct inreport_hook h = { .qid = env->id, .conf = c };
	size_t plen = env->prepend != NULL ? strlen(env->prepend) : 0;
	char *msg;
	ssize_t got;
	bool auth;

	if (plen + env->size > LIMIT_REPORT_MESSAGE) {
		log_warn("qid=%s report refused reason=\"message of %zu bytes "
		    "is past the limit %d\"", env->id, plen + env->size,
		    LIMIT_REPORT_MESSAGE);
		return;
	}
	msg = xmalloc(plen + env->size + 1);
	if (plen > 0)
		memcpy(msg, env->prepend, plen);
	got = spool_pread_full(msg_fd, env->size, msg + plen, env->size, 0);
	if (got < 0 || (size_t)got != env->size) {
		log_warn("qid=%s report not read: cannot read the message",
		    env->id);
		free(msg);
		return;
	}
	auth = inreport_authenticated(msg, plen, c->hostname);
	if (inreport_from_message(msg, plen + env->size, auth,
	    (long long)time(NULL), inreport_hook_one, &h) == 0)
		log_info("qid=%s report none found in the message", env->id);
	db_close(h.db);
	free(msg);
}
