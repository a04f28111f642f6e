/* SPDX-License-Identifier: ISC */
/* The one way the HTTP listeners answer: fixed headers, a body we wrote. */
#ifndef SEALMAIL_WEB_WEB_REPLY_H
#define SEALMAIL_WEB_WEB_REPLY_H

#include <stddef.h>

struct evhttp_request;

/*
 * Answer req with code and reason, body (len bytes, our own text, never
 * request data) as content_type, Cache-Control cache (e.g. "no-store"),
 * nosniff (web_server.c has already added Connection: close). evhttp
 * adds Content-Length and Date, and sends no body to HEAD.
 */
void web_reply(struct evhttp_request *req, int code, const char *reason,
    const char *content_type, const char *cache, const char *body,
    size_t len);
/* A short text/plain error page: "CODE REASON\n", not cached. */
void web_reply_error(struct evhttp_request *req, int code,
    const char *reason);

#endif
