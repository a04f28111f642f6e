/* SPDX-License-Identifier: ISC */
/* Access to the admin pages (see web_access.h). */
#include "web/web_access.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>

#include "conf/conf.h"
#include "core/log.h"
#include "core/xmalloc.h"
#include "keys/keys_client.h"
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
	uint16_t		 realm;		/* in the keys process */
	bool			 has_users;	/* a password_file is set */
	struct keys_client	*keys;
	struct connlimit	*limits;
	const struct web_env	*env;
	struct web_check	*checks;	/* in progress */
	unsigned		 nchecks;	/* of them hashing */
};

/* One request waiting for its password check, then for its delay. */
struct web_check {
	struct web_access	*a;	/* NULL once the listener is gone */
	struct evhttp_request	*req;
	uint32_t		 keys_id;	/* while the keys process
						 * checks; 0: not */
	struct event		*delay;	/* while delaying a 401 */
	struct web_check	*next;
	struct sockaddr_storage	 peer;
	char			 sid[32];
	char			 addr[INET6_ADDRSTRLEN];
	struct web_basic	 cred;
	bool			 ok;
	bool			 counted;	/* in a->nchecks */
};

struct web_access *
web_access_new(const char *name, size_t listener, bool has_users,
    struct keys_client *keys, struct connlimit *limits,
    const struct web_env *env)
{
	struct web_access *a = xcalloc(1, sizeof(*a));

	a->name = name;
	a->realm = KEYS_REALM_ADMIN(listener);
	a->has_users = has_users && keys != NULL;
	a->keys = keys;
	a->limits = limits;
	a->env = env;
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
	free(c);
}

void
web_access_free(struct web_access *a)
{
	if (a == NULL)
		return;
	while (a->checks != NULL) {
		struct web_check *c = a->checks;
		if (c->keys_id != 0)
			keys_client_cancel(a->keys, c->keys_id);
		web_check_free(c);
	}
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

/* The keys process's verdict (the listener is alive: freeing it cancels
 * its checks). No verdict is a failure: the client may try again. */
static void
web_check_done(void *arg, enum keys_passwd_res r)
{
	struct web_check *c = arg;

	c->keys_id = 0;
	c->ok = r == KEYS_PASSWD_OK;
	web_check_result(c);
}

void
web_access_serve(struct web_access *a, struct evhttp_request *req,
    const struct sockaddr *peer, bool may_trust, const char *sid)
{
	const char *auth;
	struct web_check *c;

	if (may_trust && web_access_is_trusted(a->env->conf, peer)) {
		web_admin_serve(req, a->env);
		return;
	}
	auth = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	if (!a->has_users || auth == NULL) {
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
	c->keys_id = keys_client_passwd(a->keys, a->realm, c->cred.user,
	    c->cred.pass, web_check_done, c);
	explicit_bzero(c->cred.pass, sizeof(c->cred.pass));
	if (c->keys_id == 0)
		web_check_result(c);	/* unavailable: a failure */
}
