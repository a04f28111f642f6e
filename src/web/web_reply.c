/* SPDX-License-Identifier: ISC */
/* Answers of the HTTP listeners (see web_reply.h). */
#include "web/web_reply.h"

#include <stdio.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

void
web_reply(struct evhttp_request *req, int code, const char *reason,
    const char *content_type, const char *cache, const char *body,
    size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", cache);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, NULL);
}

void
web_reply_error(struct evhttp_request *req, int code, const char *reason)
{
	char text[128];
	int n = snprintf(text, sizeof(text), "%d %s\n", code, reason);

	web_reply(req, code, reason, "text/plain; charset=utf-8", "no-store",
	    text, n > 0 && (size_t)n < sizeof(text) ? (size_t)n : 0);
}
