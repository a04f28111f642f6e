/* SPDX-License-Identifier: ISC */
/*
 * The PROXY protocol keys of [listen "NAME"]: proxy_from (the networks of
 * the load balancers allowed to send the header), its printer, and the
 * whole-file check that proxy_protocol = yes names them.
 */
#include <stdio.h>
#include <stdlib.h>

#include "conf/conf_internal.h"

static int
conf_parse_proxy_from_item(struct conf_parse *p, void *base, const char *v)
{
	struct conf_listener *l = base;

	return conf_parse_network_add(p, &l->proxy_from, &l->nproxy_from, v);
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

	conf_print_network_list(fp, k->name, l->proxy_from, l->nproxy_from);
}

/*
 * A PROXY header names any address its sender likes, so only the load
 * balancers may send one: without proxy_from anyone who can connect could
 * claim to be a trusted network and relay.
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
	if (l->nproxy_from == 0)
		return conf_parse_fail_at(p, p->listener_line[i], sec,
		    "proxy_from", "missing: proxy_protocol = yes needs the "
		    "networks of the proxies allowed to send the header "
		    "(anyone else could claim any client address)");
	return 0;
}
