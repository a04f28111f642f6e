/* SPDX-License-Identifier: ISC */
/*
 * Sessions on the local submission socket (net/localsock.h), which is how
 * `sealmail sendmail` queues mail for any local user. The client is who
 * the kernel says (SO_PEERCRED): that uid and its login name go into the
 * Received field and the envelope; what the client writes in MAIL FROM,
 * EHLO or From: never changes them. The session is a submission without
 * TLS or AUTH that may relay, like Postfix's pickup of postdrop's files.
 *
 * DKIM signing: mail is signed as the domain's own only when its From: is
 * owned by that user (smtpd_local_owns); a compromised web application
 * running as www-data may still send, but unsigned, as anyone but itself.
 * The rule reads the store: on the loop for SQLite, on a store thread for
 * PostgreSQL (smtpd_store_senders).
 */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "msg/addr.h"
#include "net/localsock.h"
#include "smtpd/smtpd_internal.h"
#include "store/db.h"

/* The local socket's listener: submission (relaying allowed through
 * s->local), no TLS (the bytes never leave the machine), so no AUTH. */
static const struct conf_listener smtpd_local_listener = {
	.name = "local",
	.role = CONF_ROLE_SUBMISSION,
	.tls = CONF_TLS_NONE,
};

/* The login name of uid into out, if it is one we can write into a header
 * and an address ([A-Za-z0-9._-], at most SMTPD_LOCAL_USER_MAX); else "".
 * An NSS lookup: local files on a normal system, answered at once. */
static void
smtpd_local_name(uid_t uid, char *out, size_t outlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	size_t n;

	out[0] = '\0';
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL ||
	    pw.pw_name == NULL)
		return;
	n = strlen(pw.pw_name);
	if (n == 0 || n >= outlen || strspn(pw.pw_name, "abcdefghijklmnopqrs"
	    "tuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
		return;
	memcpy(out, pw.pw_name, n + 1);
}

void
smtpd_session_accept_local(struct smtpd_ctx *ctx, int fd)
{
	struct sockaddr_storage ss;
	struct smtpd_session *s;
	uid_t uid;

	if (localsock_peer_uid(fd, &uid) == -1) {
		log_warn("smtp local connection without credentials: %s",
		    strerror(errno));
		close(fd);
		return;
	}
	/* All local clients count as one address for the connection
	 * limits: a local flood cannot take every slot. */
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	s = smtpd_session_start(ctx, fd, (struct sockaddr *)&ss, sizeof(ss),
	    &smtpd_local_listener);
	if (s == NULL)
		return;
	s->local = true;
	s->local_uid = uid;
	smtpd_local_name(uid, s->local_user, sizeof(s->local_user));
	snprintf(s->addr, sizeof(s->addr), "local");
	smtpd_session_greet(s);
}

/* Whether address is LOGIN@ a local domain. */
static bool
smtpd_local_is_own(const struct conf *conf, const char *login,
    const char *address)
{
	const char *dom = addr_text_domain(address);
	size_t llen = strlen(login);

	return dom[0] != '\0' && (size_t)(dom - address) == llen + 1 &&
	    strncasecmp(address, login, llen) == 0 &&
	    conf_is_local_domain(conf, dom);
}

struct smtpd_local_match {
	const struct conf	*conf;
	const char		*login;
	bool			 found;
};

/* db_list_cb over an alias's rows: is a target the user's own? */
static void
smtpd_local_target_cb(const char *alias, const char *target, void *arg)
{
	struct smtpd_local_match *m = arg;

	(void)alias;
	if (target != NULL && smtpd_local_is_own(m->conf, m->login, target))
		m->found = true;
}

bool
smtpd_local_owns_quick(const struct conf *conf, const char *login,
    const char *address, enum db_result *r)
{
	if (login[0] == '\0')
		*r = DB_NOTFOUND;
	else if (smtpd_local_is_own(conf, login, address))
		*r = DB_OK;
	else
		return false;
	return true;
}

/*
 * The rule: login L owns L@D for every local domain D, and every alias
 * with a target L@D (one level: the row names the user). A store user's
 * address belongs to that account alone, as for AUTH (db_user_owns), and
 * catch-alls own nothing. So alice owns alice@example.org and an alias
 * sales@example.org -> alice@example.org, but not bob@example.org; www-data
 * owns only www-data@... A uid without a usable login name owns nothing.
 */
enum db_result
smtpd_local_owns(struct db *db, const struct conf *conf, const char *login,
    const char *address)
{
	struct smtpd_local_match m = { .conf = conf, .login = login };
	enum db_result r;

	if (smtpd_local_owns_quick(conf, login, address, &r))
		return r;
	/* Whether it is an account. */
	if ((r = db_user_exists(db, address)) != DB_NOTFOUND)
		return r == DB_OK ? DB_NOTFOUND : DB_ERROR;
	if (db_alias_list(db, address, smtpd_local_target_cb, &m) != DB_OK)
		return DB_ERROR;
	return m.found ? DB_OK : DB_NOTFOUND;
}
