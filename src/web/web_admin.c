/* SPDX-License-Identifier: ISC */
/* The admin listener's pages: placeholder until they are built. */
#include "web/web.h"

#include <event2/http.h>

void
web_admin_serve(struct evhttp_request *req, const struct web_env *env)
{
	(void)env;
	evhttp_send_error(req, HTTP_NOTFOUND, NULL);
}
