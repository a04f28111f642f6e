/* SPDX-License-Identifier: ISC */
/*
 * [milter "NAME"] sections: where a content filter listens, what to do when
 * it fails, its timeouts (Postfix's defaults), and which listeners it
 * applies to. Kept apart from conf_parse.c so the section is one file.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_internal.h"
#include "core/log.h"
#include "core/unixaddr.h"
#include "core/xmalloc.h"

#define MOFF(f)		offsetof(struct conf_milter, f)

int
conf_milter_new(struct conf_parse *p, const char *name)
{
	struct conf *c = p->c;
	struct conf_milter *m;
	char e[80];
	size_t n = strlen(name);

	if (n == 0 || n > CONF_LISTEN_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") != n)
		return conf_parse_fail(p, "bad milter name %s (letters, "
		    "digits, '.', '_', '-'; at most %d)",
		    log_escape(name, n, e, sizeof(e)), CONF_LISTEN_NAME_MAX);
	for (size_t i = 0; i < c->nmilters; i++)
		if (strcmp(c->milters[i].name, name) == 0)
			return conf_parse_fail(p, "duplicate milter (first on "
			    "line %u)", c->milters[i].line);
	if (c->nmilters == CONF_MAX_MILTERS)
		return conf_parse_fail(p, "too many milters (at most %d)",
		    CONF_MAX_MILTERS);
	c->milters = xreallocarray(c->milters, c->nmilters + 1,
	    sizeof(*c->milters));
	m = &c->milters[c->nmilters++];
	memset(m, 0, sizeof(*m));
	m->name = xstrdup(name);
	m->on_error = CONF_MILTER_TEMPFAIL;
	m->connect_timeout = 30;
	m->command_timeout = 30;
	m->content_timeout = 300;
	m->line = p->lineno;
	p->base = m;
	return 0;
}

static int
conf_milter_address(struct conf_parse *p, void *base, const char *v)
{
	struct conf_milter *m = base;
	char why[128], e[80];

	free(m->path);
	m->path = NULL;
	if (strncmp(v, "unix:", 5) == 0) {
		struct sockaddr_un sun;

		if (v[5] != '/' || unixaddr_set(&sun, v + 5) == -1)
			return conf_parse_fail(p, "unix:PATH needs an absolute "
			    "path that fits a socket address");
		m->is_unix = true;
		m->path = xstrdup(v + 5);
		return 0;
	}
	if (strncmp(v, "inet:", 5) == 0) {
		if (conf_check_sockaddr(v + 5, &m->inet, why, sizeof(why)) ==
		    -1)
			return conf_parse_fail(p, "inet:%s: %s", log_escape(v + 5,
			    strlen(v + 5), e, sizeof(e)), why);
		m->is_unix = false;
		return 0;
	}
	return conf_parse_fail(p, "must be unix:PATH or inet:ADDRESS:PORT");
}

static void
conf_milter_print_address(FILE *fp, const void *base,
    const struct conf_key *k)
{
	const struct conf_milter *m = base;

	if (m->is_unix)
		fprintf(fp, "%s = unix:%s\n", k->name, m->path);
	else if (m->inet.len > 0)
		fprintf(fp, "%s = inet:%s\n", k->name, m->inet.text);
	else
		fprintf(fp, "%s =\n", k->name);
}

static int
conf_milter_on_error(struct conf_parse *p, void *base, const char *v)
{
	struct conf_milter *m = base;

	if (strcmp(v, "tempfail") == 0)
		m->on_error = CONF_MILTER_TEMPFAIL;
	else if (strcmp(v, "accept") == 0)
		m->on_error = CONF_MILTER_ACCEPT;
	else
		return conf_parse_fail(p, "must be tempfail or accept");
	return 0;
}

static void
conf_milter_print_on_error(FILE *fp, const void *base,
    const struct conf_key *k)
{
	fprintf(fp, "%s = %s\n", k->name,
	    ((const struct conf_milter *)base)->on_error ==
	    CONF_MILTER_ACCEPT ? "accept" : "tempfail");
}

static int
conf_milter_listener_item(struct conf_parse *p, void *base, const char *v)
{
	struct conf_milter *m = base;

	return conf_parse_strv_add(p, &m->listeners, &m->nlisteners,
	    CONF_MAX_LISTENERS, "listeners", xstrdup(v));
}

static int
conf_milter_listeners(struct conf_parse *p, void *base, const char *v)
{
	struct conf_milter *m = base;

	conf_parse_strv_reset(p, &m->listeners, &m->nlisteners);
	return conf_check_list(p, base, v, conf_milter_listener_item);
}

static void
conf_milter_print_listeners(FILE *fp, const void *base,
    const struct conf_key *k)
{
	const struct conf_milter *m = base;

	conf_print_strv(fp, k->name, (const char *const *)m->listeners,
	    m->nlisteners);
}

static int
conf_milter_role_item(struct conf_parse *p, void *base, const char *v)
{
	struct conf_milter *m = base;

	if (strcmp(v, "mx") == 0)
		m->role_mx = true;
	else if (strcmp(v, "submission") == 0)
		m->role_submission = true;
	else
		return conf_parse_fail(p, "must be mx and/or submission");
	return 0;
}

static int
conf_milter_roles(struct conf_parse *p, void *base, const char *v)
{
	struct conf_milter *m = base;

	if (!p->continuation)
		m->role_mx = m->role_submission = false;
	return conf_check_list(p, base, v, conf_milter_role_item);
}

static void
conf_milter_print_roles(FILE *fp, const void *base, const struct conf_key *k)
{
	const struct conf_milter *m = base;
	const char *r[2];
	size_t n = 0;

	if (m->role_mx)
		r[n++] = "mx";
	if (m->role_submission)
		r[n++] = "submission";
	conf_print_strv(fp, k->name, r, n);
}

const struct conf_key conf_keys_milter[CONF_MILTER_NKEYS] = {
	{ "address", CONF_T_CUSTOM, 0, 0, 0, 0, conf_milter_address,
	    conf_milter_print_address },
	{ "on_error", CONF_T_CUSTOM, 0, 0, 0, 0, conf_milter_on_error,
	    conf_milter_print_on_error },
	{ "connect_timeout", CONF_T_DURATION, MOFF(connect_timeout), 1, 3600,
	    0, NULL, NULL },
	{ "command_timeout", CONF_T_DURATION, MOFF(command_timeout), 1, 3600,
	    0, NULL, NULL },
	{ "content_timeout", CONF_T_DURATION, MOFF(content_timeout), 1, 3600,
	    0, NULL, NULL },
	{ "listeners", CONF_T_CUSTOM, 0, 0, 0, CONF_KEY_LIST,
	    conf_milter_listeners, conf_milter_print_listeners },
	{ "roles", CONF_T_CUSTOM, 0, 0, 0, CONF_KEY_LIST, conf_milter_roles,
	    conf_milter_print_roles },
};

int
conf_milter_check(struct conf_parse *p)
{
	const struct conf *c = p->c;
	char sec[80];

	for (size_t i = 0; i < c->nmilters; i++) {
		const struct conf_milter *m = &c->milters[i];

		snprintf(sec, sizeof(sec), "[milter \"%s\"]", m->name);
		if (!m->is_unix && m->inet.len == 0)
			return conf_parse_fail_at(p, m->line, sec, "address",
			    "missing (unix:PATH or inet:ADDRESS:PORT)");
		if (m->nlisteners == 0 && !m->role_mx && !m->role_submission)
			return conf_parse_fail_at(p, m->line, sec, NULL,
			    "applies to nothing: give listeners = NAME, ... "
			    "and/or roles = mx | submission");
		for (size_t j = 0; j < m->nlisteners; j++) {
			size_t k = 0;

			while (k < c->nlisteners && strcmp(c->listeners[k].name,
			    m->listeners[j]) != 0)
				k++;
			if (k == c->nlisteners)
				return conf_parse_fail_at(p, m->line, sec,
				    "listeners", "no [listen \"%.40s\"] section",
				    m->listeners[j]);
			if (CONF_ROLE_IS_HTTP(c->listeners[k].role))
				return conf_parse_fail_at(p, m->line, sec,
				    "listeners", "%.40s is not an SMTP listener",
				    m->listeners[j]);
		}
	}
	return 0;
}

bool
conf_milter_applies(const struct conf_milter *m,
    const struct conf_listener *l)
{
	if ((l->role == CONF_ROLE_MX && m->role_mx) ||
	    (l->role == CONF_ROLE_SUBMISSION && m->role_submission))
		return true;
	for (size_t i = 0; i < m->nlisteners; i++)
		if (l->name != NULL && strcmp(m->listeners[i], l->name) == 0)
			return true;
	return false;
}

void
conf_milter_free(struct conf *c)
{
	for (size_t i = 0; i < c->nmilters; i++) {
		struct conf_milter *m = &c->milters[i];

		free(m->name);
		free(m->path);
		for (size_t j = 0; j < m->nlisteners; j++)
			free(m->listeners[j]);
		free(m->listeners);
	}
	free(c->milters);
}
