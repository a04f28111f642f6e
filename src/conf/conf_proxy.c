/* SPDX-License-Identifier: ISC */
/*
 * The PROXY protocol keys of [listen "NAME"]: proxy_from (the networks of
 * the load balancers allowed to send the header), its printer, and the
 * whole-file check that proxy_protocol = yes names them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf_internal.h"
#include "core/xmalloc.h"

static int
conf_parse_proxy_from_item(struct conf_parse *p, void *base, const char *v)
{
	struct conf_listener *l = base;
	struct conf_network n;
	char why[256];

	if (conf_check_network(v, &n, why, sizeof(why)) == -1)
		return conf_parse_fail(p, "%s", why);
	n.line = p->lineno;
	if (l->nproxy_from == CONF_MAX_NETWORKS)
		return conf_parse_fail(p, "too many networks (at most %d)",
		    CONF_MAX_NETWORKS);
	l->proxy_from = xreallocarray(l->proxy_from, l->nproxy_from + 1,
	    sizeof(n));
	l->proxy_from[l->nproxy_from++] = n;
	return 0;
}

int
conf_parse_proxy_from(struct conf_parse *p, void *base, const char *v)
{
	struct conf_listener *l = base;

	if (!p->continuation) {
		free(l->proxy_from);
		l->proxy_from = NULL;
		l->nproxy_from = 0;
	}
	return conf_check_list(p, base, v, conf_parse_proxy_from_item);
}

void
conf_print_proxy_from(FILE *fp, const void *base, const struct conf_key *k)
{
	const struct conf_listener *l = base;
	size_t col = strlen(k->name) + 2;
	char text[64];

	fprintf(fp, "%s =", k->name);
	for (size_t i = 0; i < l->nproxy_from; i++) {
		conf_network_to_text(&l->proxy_from[i], text, sizeof(text));
		conf_print_item(fp, &col, i, text);
	}
	fputc('\n', fp);
}

/*
 * A PROXY header names any address its sender likes, so only the load
 * balancers may send one: without proxy_from anyone who can connect could
 * claim to be a trusted network and relay. The web listeners read their
 * requests through evhttp, which takes the connection before we could
 * read a header: not supported there (yet).
 */
int
conf_check_proxy(struct conf_parse *p, size_t i, const char *sec)
{
	const struct conf_listener *l = &p->c->listeners[i];

	if (!l->proxy_protocol) {
		if (l->nproxy_from > 0)
			conf_parse_warn_at(p, p->listener_line[i], sec,
			    "proxy_from", "has no effect without "
			    "proxy_protocol = yes");
		return 0;
	}
	if (CONF_ROLE_IS_HTTP(l->role))
		return conf_parse_fail_at(p, p->listener_line[i], sec,
		    "proxy_protocol", "only mx and submission listeners "
		    "take the PROXY protocol");
	if (l->nproxy_from == 0)
		return conf_parse_fail_at(p, p->listener_line[i], sec,
		    "proxy_from", "missing: proxy_protocol = yes needs the "
		    "networks of the proxies allowed to send the header "
		    "(anyone else could claim any client address)");
	return 0;
}
