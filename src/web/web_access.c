/* SPDX-License-Identifier: ISC */
/* Access to the admin pages (see web_access.h). */
#include "web/web_access.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>

#include "auth/passwd.h"
#include "conf/conf.h"
#include "core/log.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "net/connlimit.h"
#include "web/web.h"
#include "web/web_basic.h"
#include "web/web_reply.h"
#include "web/web_users.h"

/* Checks hashing per listener beyond which a request is answered 503 at
 * once: a flood must not queue minutes of hashing. Failed checks waiting
 * out their delay do not count: guessers would lock the administrator
 * out for as long as their delays. */
#define WEB_ACCESS_QUEUE_MAX	16

struct web_check;

struct web_access {
	const char		*name;
	struct web_users	*users;
	struct workpool		*pool;
	struct connlimit	*limits;
	const struct web_env	*env;
	struct web_check	*checks;	/* in progress */
	unsigned		 nchecks;	/* of them hashing */
};

/* One request waiting for its password check, then for its delay. */
struct web_check {
	struct web_access	*a;	/* NULL once the listener is gone */
	struct evhttp_request	*req;
	struct workpool_job	*wj;	/* while hashing */
	struct event		*delay;	/* while delaying a 401 */
	struct web_check	*next;
	struct sockaddr_storage	 peer;
	char			 sid[32];
	char			 addr[INET6_ADDRSTRLEN];
	struct web_basic	 cred;
	char			*hash;	/* NULL: unknown user */
	bool			 decoy;	/* hash is another user's */
	bool			 ok;
	bool			 counted;	/* in a->nchecks */
};

/* Hash checked for unknown users of a password_file without users, so
 * timing does not tell that; made once per process and never freed, as
 * pool threads read it after a listener is gone. Where the file has
 * users, unknown ones are checked against a listed user's hash instead:
 * the file's crypt scheme and cost may be far from this one's. */
static char *web_access_dummy;

struct web_access *
web_access_new(const char *name, struct web_users *users,
    struct workpool *authpool, struct connlimit *limits,
    const struct web_env *env)
{
	struct web_access *a = xcalloc(1, sizeof(*a));

	a->name = name;
	a->users = users;
	a->pool = authpool;
	a->limits = limits;
	a->env = env;
	if (users != NULL && web_access_dummy == NULL)
		web_access_dummy = passwd_hash("sealmail-dummy-password");
	return a;
}

/* The check no longer hashes (nor waits to). */
static void
web_check_uncount(struct web_check *c)
{
	if (c->counted && c->a != NULL)
		c->a->nchecks--;
	c->counted = false;
}

static void
web_check_unlink(struct web_check *c)
{
	struct web_access *a = c->a;

	if (a == NULL)
		return;
	web_check_uncount(c);
	for (struct web_check **pp = &a->checks; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->a = NULL;
}

static void
web_check_free(struct web_check *c)
{
	web_check_unlink(c);
	if (c->delay)
		event_free(c->delay);
	web_basic_clear(&c->cred);
	free(c->hash);
	free(c);
}

void
web_access_free(struct web_access *a)
{
	if (a == NULL)
		return;
	while (a->checks != NULL) {
		struct web_check *c = a->checks;
		web_check_unlink(c);
		if (c->wj != NULL)
			workpool_cancel(c->wj);	/* done() frees c */
		else
			web_check_free(c);
	}
	web_users_free(a->users);
	free(a);
}

bool
web_access_is_trusted(const struct conf *conf, const struct sockaddr *sa)
{
	static const unsigned char mapped127[13] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127,
	};

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
			return true;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)sa;
		/* Only ::1 and v4-mapped 127/8: ipclass also calls 6to4 and
		 * NAT64 forms of 127/8 loopback, which a remote peer could
		 * use as its source address. */
		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		    memcmp(s6->sin6_addr.s6_addr, mapped127,
		    sizeof(mapped127)) == 0)
			return true;
	}
	return conf_is_trusted(conf, sa);
}

static void
web_access_unauthorized(struct evhttp_request *req)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "WWW-Authenticate", "Basic realm=\"sealmail\", charset=\"UTF-8\"");
	web_reply_error(req, 401, "Unauthorized");
}

static void
web_check_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct web_check *c = arg;

	(void)fd;
	(void)what;
	web_access_unauthorized(c->req);
	web_check_free(c);
}

/* The verdict on a check, on the loop; consumes c. */
static void
web_check_result(struct web_check *c)
{
	struct web_access *a = c->a;
	char esc[LOG_QUOTE_SIZE(WEB_USERS_NAME_MAX)];
	const struct sockaddr *sa = (const struct sockaddr *)&c->peer;
	unsigned n, pn, delay, pdelay;
	char pairname[WEB_USERS_NAME_MAX + 8];

	web_check_uncount(c);
	/* Its own name space: "alice" of the admin pages is not alice's
	 * mail login. */
	snprintf(pairname, sizeof(pairname), "web:%s", c->cred.user);
	log_quote(c->cred.user, strlen(c->cred.user), esc, sizeof(esc));
	if (c->ok) {
		connlimit_auth_pair_ok(a->limits, pairname, sa);
		log_info("sid=%s web auth result=pass listener=%s user=%s",
		    c->sid, a->name, esc);
		web_admin_serve(c->req, a->env);
		web_check_free(c);
		return;
	}
	delay = connlimit_auth_fail_delay(a->limits, sa, &n);
	pdelay = connlimit_auth_pair_failed(a->limits, pairname, sa, &pn);
	if (pdelay > delay)
		delay = pdelay;
	log_info("sid=%s web auth result=fail listener=%s user=%s addr=%s "
	    "failures=%u delay=%us user_failures=%u", c->sid, a->name, esc,
	    c->addr, n, delay, pn);
	web_basic_clear(&c->cred);
	const struct timeval tv = { delay, 0 };
	c->delay = evtimer_new(a->env->base, web_check_delay_cb, c);
	if (c->delay == NULL || evtimer_add(c->delay, &tv) == -1) {
		web_access_unauthorized(c->req);
		web_check_free(c);
	}
}

/* On a pool thread: only c's own fields and the read-only dummy. */
static void
web_check_run(void *arg)
{
	struct web_check *c = arg;

	if (c->hash != NULL)
		c->ok = passwd_verify(c->cred.pass, c->hash) && !c->decoy;
	else if (web_access_dummy != NULL)
		(void)passwd_verify(c->cred.pass, web_access_dummy);
	explicit_bzero(c->cred.pass, sizeof(c->cred.pass));
}

static void
web_check_done(void *arg, bool cancelled)
{
	struct web_check *c = arg;

	c->wj = NULL;
	if (cancelled || c->a == NULL) {
		web_check_free(c);
		return;
	}
	web_check_result(c);
}

void
web_access_serve(struct web_access *a, struct evhttp_request *req,
    const struct sockaddr *peer, const char *sid)
{
	const char *auth;
	struct web_check *c;

	if (web_access_is_trusted(a->env->conf, peer)) {
		web_admin_serve(req, a->env);
		return;
	}
	auth = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (a->users == NULL || auth == NULL) {
		web_access_unauthorized(req);
		return;
	}
	if (a->nchecks >= WEB_ACCESS_QUEUE_MAX) {
		log_warn("sid=%s web auth refused listener=%s: %u checks "
		    "queued", sid, a->name, a->nchecks);
		web_reply_error(req, HTTP_SERVUNAVAIL, "Service Unavailable");
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->req = req;
	snprintf(c->sid, sizeof(c->sid), "%s", sid);
	memcpy(&c->peer, peer, peer->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	if (getnameinfo(peer, peer->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), c->addr,
	    sizeof(c->addr), NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(c->addr, sizeof(c->addr), "unknown");
	c->a = a;
	c->next = a->checks;
	a->checks = c;
	a->nchecks++;
	c->counted = true;
	if (web_basic_parse(auth, strlen(auth), &c->cred) == -1) {
		/* Malformed credentials count as a failed guess. */
		web_check_result(c);
		return;
	}
	const char *hash = web_users_hash(a->users, c->cred.user,
	    strlen(c->cred.user));
	if (hash == NULL && web_users_count(a->users) > 0) {
		hash = web_users_hash_at(a->users, 0);
		c->decoy = true;
	}
	c->hash = hash ? xstrdup(hash) : NULL;
	c->wj = workpool_submit(a->pool, web_check_run, web_check_done, c);
}
