/* SPDX-License-Identifier: ISC */
/*
 * One milter conversation about one message, asynchronous on a libevent
 * loop (never blocking): connect, negotiate, then the whole transaction
 * (connect, helo, mail, rcpt, headers, eoh, body chunks read from a file
 * descriptor or a buffer, end of message), with a timeout on each wait.
 * Everything the milter sends is decoded by milter_proto.c and bounded;
 * its modification actions are kept as packets for the caller to apply.
 */
#ifndef SEALMAIL_MILTER_MILTER_CLIENT_H
#define SEALMAIL_MILTER_MILTER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/limits.h"

struct event_base;
struct conf_milter;
struct milter_client;

/* Macros by stage: what Postfix sends (NULL values are left out). */
enum milter_macro {
	MILTER_M_J,		/* j: our host name */
	MILTER_M_UNDERSCORE,	/* _: the client, "name [addr]" */
	MILTER_M_DAEMON_NAME,	/* {daemon_name}: the listener */
	MILTER_M_IF_ADDR,	/* {if_addr}: our address */
	MILTER_M_TLS_VERSION,	/* {tls_version} */
	MILTER_M_CIPHER,	/* {cipher} */
	MILTER_M_AUTH_AUTHEN,	/* {auth_authen}: the SASL user */
	MILTER_M_QUEUE_ID,	/* i: our queue id */
	MILTER_M_COUNT,
};

/* The transaction, borrowed for the conversation's life. */
struct milter_msg {
	const char		*macros[MILTER_M_COUNT];
	const char		*client_host;	/* "[addr]" or a name */
	char			 family;	/* '4', '6', 'L' */
	uint16_t		 client_port;
	const char		*client_addr;
	const char		*helo;		/* NULL: none */
	const char		*mail_from;	/* "<a@b>" */
	const char *const	*rcpts;		/* "<a@b>" each */
	size_t			 nrcpts;
	const uint8_t		*headers;	/* CRLF lines, no empty line */
	size_t			 headers_len;
	int			 body_fd;	/* read from body_off ... */
	uint64_t		 body_off, body_len;
	const struct buf	*body_buf;	/* ... or this, if not NULL */
};

enum milter_verdict {
	MILTER_V_CONTINUE,	/* accepted, with mods to apply */
	MILTER_V_REJECT,	/* reply (custom, or 550 5.7.1) */
	MILTER_V_TEMPFAIL,	/* reply (custom, or 451 4.7.1) */
	MILTER_V_DISCARD,
	MILTER_V_ERROR,		/* cannot connect, timeout, bad packet:
				 * [milter] on_error decides */
};

struct milter_result {
	enum milter_verdict	 verdict;
	char			 reply[LIMIT_REPLY_LINE];	/* "" or a
						 * sanitised custom reply */
	const char		*error;		/* MILTER_V_ERROR: why, for
						 * the log (static text) */
	bool			 quarantine;
	struct buf		 mods;		/* modification packets */
	size_t			 nmods;
};

typedef void milter_client_done(struct milter_client *mc, void *arg);

/* Start a conversation with milter m about msg; done(mc, arg) is called
 * once, from the loop (never from inside this call), with the result in
 * milter_client_result(mc). The caller frees mc afterwards. */
struct milter_client *milter_client_start(struct event_base *base,
    const struct conf_milter *m, const struct milter_msg *msg,
    milter_client_done *done, void *arg);
const struct milter_result *milter_client_result(
    const struct milter_client *mc);
/* Close the connection and free; a conversation under way ends without
 * its callback. NULL is a no-op. */
void milter_client_free(struct milter_client *mc);

#endif
