/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the SMTP client session against a tiny scripted server
 * that runs in the same libevent loop on a loopback listener: replies come
 * from a table of command prefixes, DATA content is recorded, STARTTLS and
 * implicit TLS use a self-signed certificate generated here. Covers
 * pipelining, per-recipient 4xx/5xx, dot-stuffing, HELO fallback,
 * opportunistic and required TLS with host name verification, AUTH PLAIN,
 * timeouts, refused connections and malformed replies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "smtpc/smtpc_session.h"
#include "testcert.h"

/* ---- the scripted server ---- */

struct sst_rule {
	const char	*prefix;	/* command prefix; "." is end of DATA */
	const char	*reply;		/* without the final CRLF */
};

struct sst_server {
	struct event_base	*base;
	struct evconnlistener	*lst;
	struct sockaddr_in	 sin;
	SSL_CTX			*ctx;
	bool			 implicit;
	const char		*greeting;	/* NULL: stay silent */
	const char		*ehlo;		/* EHLO reply before TLS */
	const char		*ehlo_tls;	/* EHLO reply under TLS */
	const struct sst_rule	*rules;
	struct bufferevent	*bev;
	bool			 tls_on;
	bool			 in_data;
	char			 transcript[8192];
	struct evbuffer		*data;
	char			*msgs[4];
	int			 nmsgs;
	int			 max_per_read;
};

static SSL_CTX *sst_srv_ctx;
static char sst_ca_path[64];

static void sst_read_cb(struct bufferevent *, void *);

static void
sst_reply(struct sst_server *v, const char *reply)
{
	evbuffer_add_printf(bufferevent_get_output(v->bev), "%s\r\n", reply);
}

static const char *
sst_lookup(struct sst_server *v, const char *line)
{
	const struct sst_rule *r;

	for (r = v->rules; r != NULL && r->prefix != NULL; r++)
		if (strncmp(line, r->prefix, strlen(r->prefix)) == 0)
			return r->reply;
	if (strncmp(line, "EHLO", 4) == 0)
		return v->tls_on && v->ehlo_tls ? v->ehlo_tls : v->ehlo;
	if (strncmp(line, "DATA", 4) == 0)
		return "354 go ahead";
	if (strncmp(line, "QUIT", 4) == 0)
		return "221 2.0.0 bye";
	if (strncmp(line, "STARTTLS", 8) == 0)
		return "220 2.0.0 ready";
	if (strcmp(line, ".") == 0)
		return "250 2.0.0 queued";
	return "250 2.0.0 ok";
}

static void
sst_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sst_server *v = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;		/* TLS handshake done */
	if (bev == v->bev) {
		bufferevent_free(v->bev);
		v->bev = NULL;
	}
}

static void
sst_starttls(struct sst_server *v)
{
	v->bev = bufferevent_openssl_filter_new(v->base, v->bev,
	    SSL_new(v->ctx), BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(v->bev);
	bufferevent_openssl_set_allow_dirty_shutdown(v->bev, 1);
	bufferevent_setcb(v->bev, sst_read_cb, NULL, sst_event_cb, v);
	bufferevent_enable(v->bev, EV_READ | EV_WRITE);
	v->tls_on = true;
}

/* One line in DATA mode; true at the end of the message. */
static bool
sst_data_line(struct sst_server *v, const char *line, size_t n)
{
	size_t len;

	if (strcmp(line, ".") != 0) {
		evbuffer_add(v->data, line, n);
		evbuffer_add(v->data, "\r\n", 2);
		return false;
	}
	len = evbuffer_get_length(v->data);
	v->msgs[v->nmsgs] = calloc(1, len + 1);
	evbuffer_remove(v->data, v->msgs[v->nmsgs], len);
	v->nmsgs++;
	v->in_data = false;
	return true;
}

static void
sst_read_cb(struct bufferevent *bev, void *arg)
{
	struct sst_server *v = arg;
	const char *reply;
	char *line;
	size_t n;
	int cmds = 0;

	while ((line = evbuffer_readln(bufferevent_get_input(bev), &n,
	    EVBUFFER_EOL_CRLF_STRICT)) != NULL) {
		if (v->in_data && !sst_data_line(v, line, n)) {
			free(line);
			continue;
		}
		if (strcmp(line, ".") != 0) {
			cmds++;
			strncat(v->transcript, line, sizeof(v->transcript) -
			    strlen(v->transcript) - 2);
			strcat(v->transcript, "\n");
		}
		reply = sst_lookup(v, line);
		sst_reply(v, reply);
		if (strncmp(line, "DATA", 4) == 0 && reply[0] == '3')
			v->in_data = true;
		if (strncmp(line, "STARTTLS", 8) == 0 && reply[0] == '2') {
			free(line);
			sst_starttls(v);
			return;
		}
		free(line);
	}
	if (cmds > v->max_per_read)
		v->max_per_read = cmds;
}

static void
sst_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct sst_server *v = arg;

	(void)l;
	(void)sa;
	(void)salen;
	if (v->implicit) {
		v->bev = bufferevent_openssl_socket_new(v->base, fd,
		    SSL_new(v->ctx), BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE);
		bufferevent_openssl_set_allow_dirty_shutdown(v->bev, 1);
		v->tls_on = true;
	} else
		v->bev = bufferevent_socket_new(v->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(v->bev, sst_read_cb, NULL, sst_event_cb, v);
	bufferevent_enable(v->bev, EV_READ | EV_WRITE);
	if (v->greeting != NULL)
		sst_reply(v, v->greeting);
}

static void
sst_server_start(struct sst_server *v, struct event_base *base)
{
	socklen_t len = sizeof(v->sin);

	v->base = base;
	v->ctx = sst_srv_ctx;
	v->data = evbuffer_new();
	if (v->ehlo == NULL)
		v->ehlo = "250-srv.test\r\n250-PIPELINING\r\n250 8BITMIME";
	memset(&v->sin, 0, sizeof(v->sin));
	v->sin.sin_family = AF_INET;
	v->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	v->lst = evconnlistener_new_bind(base, sst_accept_cb, v,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 8,
	    (struct sockaddr *)&v->sin, sizeof(v->sin));
	assert_non_null(v->lst);
	getsockname(evconnlistener_get_fd(v->lst), (struct sockaddr *)&v->sin,
	    &len);
}

static void
sst_server_stop(struct sst_server *v)
{
	int i;

	if (v->bev != NULL)
		bufferevent_free(v->bev);
	if (v->lst != NULL)
		evconnlistener_free(v->lst);
	evbuffer_free(v->data);
	for (i = 0; i < v->nmsgs; i++)
		free(v->msgs[i]);
}

/* ---- the client side harness ---- */

struct sst_client {
	struct event_base		*base;
	struct smtpc_session		*s;
	const struct smtpc_message	*msgs;
	size_t				 nmsgs, next;
	struct smtpc_status		 mst[4];
	struct smtpc_status		 rst[4][4];
	size_t				 nres;
	struct smtpc_status		 closed;
	struct smtpc_tls_info		 tls;
	struct smtpc_caps		 caps;
	int				 nready;
	bool				 done;
};

static void
sst_next(struct sst_client *c)
{
	if (c->next < c->nmsgs)
		assert_int_equal(smtpc_session_send(c->s,
		    &c->msgs[c->next++]), 0);
	else
		assert_int_equal(smtpc_session_quit(c->s), 0);
}

static void
sst_cb(struct smtpc_session *s, enum smtpc_event ev,
    const struct smtpc_result *res, void *arg)
{
	struct sst_client *c = arg;
	size_t i;

	switch (ev) {
	case SMTPC_EV_READY:
		c->nready++;
		c->caps = *smtpc_session_caps(s);
		sst_next(c);
		break;
	case SMTPC_EV_MESSAGE:
		assert_true(c->nres < 4 && res->nrcpts <= 4);
		c->mst[c->nres] = res->status;
		for (i = 0; i < res->nrcpts; i++)
			c->rst[c->nres][i] = res->rcpt[i];
		c->nres++;
		/* After a failure of the connection no more sends. */
		if (c->next < c->nmsgs &&
		    smtpc_session_send(s, &c->msgs[c->next]) == 0)
			c->next++;
		else
			(void)smtpc_session_quit(s);
		break;
	case SMTPC_EV_CLOSED:
		c->closed = res->status;
		c->tls = *smtpc_session_tls(s);
		c->done = true;
		smtpc_session_free(s);	/* from within the callback */
		c->s = NULL;
		event_base_loopbreak(c->base);
		break;
	}
}

/* Run one client session against v until it is closed. */
static void
sst_run(struct sst_client *c, struct sst_server *v, struct smtpc_params *p,
    const struct smtpc_message *msgs, size_t nmsgs)
{
	struct timeval limit = { 10, 0 };
	char err[128];

	c->base = v->base;
	c->msgs = msgs;
	c->nmsgs = nmsgs;
	p->addr = (struct sockaddr *)&v->sin;
	p->addrlen = sizeof(v->sin);
	if (p->helo == NULL)
		p->helo = "client.test";
	c->s = smtpc_session_new(c->base, p, sst_cb, c, err, sizeof(err));
	assert_non_null(c->s);
	event_base_loopexit(c->base, &limit);
	event_base_dispatch(c->base);
	assert_true(c->done);
}

/* A message file in memory. As in the spool, more bytes follow the
 * message (the committed envelope): none of them may be sent. */
static int
sst_fd(const char *content)
{
	static const char tail[] = "ENVELOPE TAIL\n";
	int fd = memfd_create("sst", 0);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)),
	    (ssize_t)strlen(content));
	assert_int_equal(write(fd, tail, sizeof(tail) - 1),
	    (ssize_t)sizeof(tail) - 1);
	return fd;
}

/* The fd and len fields of a struct smtpc_message for text. */
#define SST_MSG(text)	.fd = sst_fd(text), .len = strlen(text)

/* ---- certificate ---- */

static int
sst_setup(void **state)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x;
	FILE *f;
	int fd;

	(void)state;
	assert_non_null(key);
	x = testcert_self_signed(key, "mx.test");
	assert_non_null(x);
	sst_srv_ctx = SSL_CTX_new(TLS_server_method());
	assert_int_equal(SSL_CTX_use_certificate(sst_srv_ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sst_srv_ctx, key), 1);
	snprintf(sst_ca_path, sizeof(sst_ca_path), "/tmp/smtpc_ca_XXXXXX");
	fd = mkstemp(sst_ca_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	PEM_write_X509(f, x);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
	return 0;
}

static int
sst_teardown(void **state)
{
	(void)state;
	unlink(sst_ca_path);
	SSL_CTX_free(sst_srv_ctx);
	return 0;
}

/* ---- tests ---- */

static const char sst_body[] = "Subject: t\n\n.leading dot\n..two\nx.\n"
    ".\nCRLF line\r\n\r.bare cr\rend";
static const char sst_stuffed[] = "Received: x\r\nSubject: t\r\n\r\n"
    "..leading dot\r\n...two\r\nx.\r\n..\r\nCRLF line\r\n\r\n..bare cr\r\n"
    "end\r\n";

static void
test_pipelining_two_messages(void **state)
{
	static const struct sst_rule rules[] = {
		{ "RCPT TO:<bad@", "550 5.1.1 no such user" },
		{ "RCPT TO:<later@", "451-4.3.0 try\r\n451 4.3.0 later" },
		{ NULL, NULL },
	};
	struct sst_server v = { .greeting = "220 srv.test ESMTP",
	    .ehlo = "250-srv.test\r\n250-PIPELINING\r\n250-SIZE 100000\r\n"
	    "250-8BITMIME\r\n250-DSN\r\n250 ENHANCEDSTATUSCODES",
	    .rules = rules };
	struct event_base *base = event_base_new();
	struct smtpc_rcpt r1[] = {
		{ "good@y.test", "rfc822;good@y.test", ENVELOPE_NOTIFY_FAILURE |
		    ENVELOPE_NOTIFY_DELAY },
		{ "bad@y.test", NULL, 0 },
		{ "later@y.test", NULL, ENVELOPE_NOTIFY_NEVER },
	};
	struct smtpc_rcpt r2[] = { { "good2@y.test", NULL, 0 } };
	struct smtpc_message m[2] = {
		{ .qid = "q1", .mail_from = "a@x.test", .rcpts = r1,
		    .nrcpts = 3, SST_MSG(sst_body), .prepend =
		    "Received: x\r\n", .prepend_len = 13, .size = 120,
		    .body = ENVELOPE_BODY_8BITMIME, .ret = ENVELOPE_RET_HDRS,
		    .envid = "ID+2B1" },
		{ .qid = "q2", .mail_from = "", .rcpts = r2, .nrcpts = 1,
		    SST_MSG("") },
	};
	struct smtpc_params p = { .tls = SMTPC_TLS_NONE };
	struct sst_client c = { 0 };

	(void)state;
	sst_server_start(&v, base);
	sst_run(&c, &v, &p, m, 2);
	assert_int_equal(c.nres, 2);
	assert_int_equal(c.mst[0].klass, SMTPC_OK);
	assert_int_equal(c.rst[0][0].klass, SMTPC_OK);
	assert_int_equal(c.rst[0][0].code, 250);
	assert_string_equal(c.rst[0][0].stage, "dot");
	assert_int_equal(c.rst[0][1].klass, SMTPC_PERM);
	assert_int_equal(c.rst[0][1].code, 550);
	assert_string_equal(c.rst[0][1].enhanced, "5.1.1");
	assert_string_equal(c.rst[0][1].text, "no such user");
	assert_int_equal(c.rst[0][2].klass, SMTPC_TEMP);
	assert_string_equal(c.rst[0][2].text, "try; later");
	assert_int_equal(c.mst[1].klass, SMTPC_OK);
	assert_int_equal(c.closed.klass, SMTPC_OK);
	assert_int_equal(v.nmsgs, 2);
	assert_string_equal(v.msgs[0], sst_stuffed);
	assert_string_equal(v.msgs[1], "");
	assert_non_null(strstr(v.transcript, "MAIL FROM:<a@x.test> SIZE=120 "
	    "BODY=8BITMIME RET=HDRS ENVID=ID+2B1\n"));
	assert_non_null(strstr(v.transcript, "RCPT TO:<good@y.test> "
	    "NOTIFY=FAILURE,DELAY ORCPT=rfc822;good@y.test\n"));
	assert_non_null(strstr(v.transcript, "RCPT TO:<later@y.test> "
	    "NOTIFY=NEVER\n"));
	assert_non_null(strstr(v.transcript, "MAIL FROM:<>\n"));
	assert_null(strstr(v.transcript, "RSET"));
	assert_non_null(strstr(v.transcript, "QUIT"));
	/* MAIL and the three RCPTs arrived as one pipelined group. */
	assert_true(v.max_per_read >= 4);
	assert_true(c.caps.pipelining && c.caps.dsn && c.caps.size_max ==
	    100000);
	close(m[0].fd);
	close(m[1].fd);
	sst_server_stop(&v);
	event_base_free(base);
}

static void
test_rejected_then_rset_no_pipelining(void **state)
{
	static const struct sst_rule rules[] = {
		{ "RCPT TO:<bad", "550 5.1.1 nope" },
		{ "RCPT TO:<tmp", "450 4.2.0 busy" },
		{ NULL, NULL },
	};
	struct sst_server v = { .greeting = "220 srv", .ehlo =
	    "250-srv\r\n250 8BITMIME", .rules = rules };
	struct event_base *base = event_base_new();
	struct smtpc_rcpt r1[] = { { "bad1@y.test", NULL, 0 },
	    { "tmp@y.test", NULL, 0 }, { "bad\r\nDATA@y.test", NULL, 0 } };
	struct smtpc_rcpt r2[] = { { "ok@y.test", NULL, 4 } };
	struct smtpc_message m[2] = {
		{ .mail_from = "a@x.test", .rcpts = r1, .nrcpts = 3,
		    SST_MSG("x\n") },
		{ .mail_from = "a@x.test", .rcpts = r2, .nrcpts = 1,
		    SST_MSG("line\n"), .size = 5 },
	};
	struct smtpc_params p = { .tls = SMTPC_TLS_OPPORTUNISTIC };
	struct sst_client c = { 0 };

	(void)state;
	sst_server_start(&v, base);
	sst_run(&c, &v, &p, m, 2);
	assert_int_equal(c.nres, 2);
	/* One temporary rejection: the whole is temporary. */
	assert_int_equal(c.mst[0].klass, SMTPC_TEMP);
	assert_int_equal(c.rst[0][0].klass, SMTPC_PERM);
	assert_int_equal(c.rst[0][1].klass, SMTPC_TEMP);
	/* The CRLF-carrying address never reached the wire. */
	assert_int_equal(c.rst[0][2].klass, SMTPC_PERM);
	assert_int_equal(c.rst[0][2].code, 0);
	assert_string_equal(c.rst[0][2].enhanced, "5.1.3");
	assert_null(strstr(v.transcript, "DATA@"));
	assert_non_null(strstr(v.transcript, "RSET\n"));
	assert_int_equal(c.mst[1].klass, SMTPC_OK);
	assert_int_equal(v.max_per_read, 1);
	/* No SIZE or DSN announced: no parameters. */
	assert_non_null(strstr(v.transcript, "RCPT TO:<ok@y.test>\n"));
	assert_non_null(strstr(v.transcript, "MAIL FROM:<a@x.test>\n"));
	assert_int_equal(v.nmsgs, 1);
	assert_string_equal(v.msgs[0], "line\r\n");
	assert_false(c.tls.active);	/* not offered */
	close(m[0].fd);
	close(m[1].fd);
	sst_server_stop(&v);
	event_base_free(base);
}

/* Only 2xx is success: a 3xx where a final answer belongs (here to
 * RCPT) is not taken for acceptance, and the recipient is deferred. */
static void
test_odd_reply_class(void **state)
{
	static const struct sst_rule rules[] = {
		{ "RCPT TO:<odd", "354 what" },
		{ NULL, NULL },
	};
	struct sst_server v = { .greeting = "220 srv", .rules = rules };
	struct event_base *base = event_base_new();
	struct smtpc_rcpt r[] = { { "ok@y.test", NULL, 0 },
	    { "odd@y.test", NULL, 0 } };
	struct smtpc_message m[1] = {
		{ .mail_from = "a@x.test", .rcpts = r, .nrcpts = 2,
		    SST_MSG("x\n") },
	};
	struct smtpc_params p = { .tls = SMTPC_TLS_NONE };
	struct sst_client c = { 0 };

	(void)state;
	sst_server_start(&v, base);
	sst_run(&c, &v, &p, m, 1);
	assert_int_equal(c.nres, 1);
	assert_int_equal(c.rst[0][0].klass, SMTPC_OK);
	assert_int_equal(c.rst[0][1].code, 354);
	assert_int_equal(c.rst[0][1].klass, SMTPC_TEMP);
	close(m[0].fd);
	sst_server_stop(&v);
	event_base_free(base);
}

/* A quoted local part (RFC 5321 §4.1.2 Quoted-string) may hold spaces:
 * such a sender or recipient goes out as written, where a space outside
 * quotes (a smuggled parameter) is still refused. */
static void
test_quoted_paths(void **state)
{
	struct sst_server v = { .greeting = "220 srv" };
	struct event_base *base = event_base_new();
	struct smtpc_rcpt r[] = { { "\"a b\"@y.test", NULL, 0 },
	    { "c@y.test SIZE=1", NULL, 0 }, { "\"d\" e@y.test", NULL, 0 } };
	struct smtpc_message m[1] = {
		{ .mail_from = "\"john doe\"@x.test", .rcpts = r, .nrcpts = 3,
		    SST_MSG("x\n") },
	};
	struct smtpc_params p = { .tls = SMTPC_TLS_NONE, .lmtp = true };
	struct sst_client c = { 0 };

	(void)state;
	sst_server_start(&v, base);
	sst_run(&c, &v, &p, m, 1);
	assert_non_null(strstr(v.transcript,
	    "MAIL FROM:<\"john doe\"@x.test>"));
	assert_non_null(strstr(v.transcript, "RCPT TO:<\"a b\"@y.test>\n"));
	assert_null(strstr(v.transcript, "SIZE=1"));
	assert_null(strstr(v.transcript, "e@y.test"));
	assert_int_equal(c.nres, 1);
	assert_int_equal(c.rst[0][0].klass, SMTPC_OK);
	assert_int_equal(c.rst[0][1].klass, SMTPC_PERM);
	assert_int_equal(c.rst[0][2].klass, SMTPC_PERM);
	close(m[0].fd);
	sst_server_stop(&v);
	event_base_free(base);
}

/* LMTP mode (RFC 2033): LHLO, and after the final dot one reply per
 * accepted recipient, in RCPT order, each its recipient's outcome (a
 * recipient refused at RCPT gets none); a refused LHLO is not followed
 * by HELO. */
static void
test_lmtp_mode(void **state)
{
	static const struct sst_rule rules[] = {
		{ "LHLO", "250-srv\r\n250 PIPELINING" },
		{ "RCPT TO:<gone", "550 5.1.1 no such user" },
		{ ".", "250 2.0.0 saved a\r\n452 4.2.2 over quota c" },
		{ NULL, NULL },
	};
	static const struct sst_rule refuse[] = {
		{ "LHLO", "500 5.5.1 what" },
		{ NULL, NULL },
	};
	struct sst_server v = { .greeting = "220 lmtp", .rules = rules };
	struct event_base *base = event_base_new();
	struct smtpc_rcpt r[] = { { "a@y.test", NULL, 0 },
	    { "gone@y.test", NULL, 0 }, { "c@y.test", NULL, 0 } };
	struct smtpc_message m[1] = {
		{ .mail_from = "s@x.test", .rcpts = r, .nrcpts = 3,
		    SST_MSG("hi\n") },
	};
	struct smtpc_params p = { .tls = SMTPC_TLS_NONE, .lmtp = true };
	struct sst_client c = { 0 };

	(void)state;
	sst_server_start(&v, base);
	sst_run(&c, &v, &p, m, 1);
	assert_non_null(strstr(v.transcript, "LHLO client.test\n"));
	assert_null(strstr(v.transcript, "EHLO"));
	assert_int_equal(c.nres, 1);
	assert_int_equal(c.rst[0][0].klass, SMTPC_OK);
	assert_string_equal(c.rst[0][0].stage, "dot");
	assert_int_equal(c.rst[0][1].klass, SMTPC_PERM);
	assert_string_equal(c.rst[0][1].stage, "rcpt");
	assert_int_equal(c.rst[0][2].klass, SMTPC_TEMP);
	assert_int_equal(c.rst[0][2].code, 452);
	assert_string_equal(c.rst[0][2].text, "over quota c");
	/* Both replies read: the session ended with QUIT, not a timeout
	 * or an unexpected reply. */
	assert_int_equal(c.closed.klass, SMTPC_OK);
	close(m[0].fd);
	sst_server_stop(&v);

	memset(&v, 0, sizeof(v));
	memset(&c, 0, sizeof(c));
	v.greeting = "220 lmtp";
	v.rules = refuse;
	m[0].fd = sst_fd("hi\n");
	sst_server_start(&v, base);
	sst_run(&c, &v, &p, m, 1);
	assert_null(strstr(v.transcript, "HELO"));
	assert_int_equal(c.nres, 0);
	assert_int_equal(c.closed.klass, SMTPC_PERM);
	close(m[0].fd);
	sst_server_stop(&v);
	event_base_free(base);
}

static void
test_helo_fallback_and_smtputf8(void **state)
{
	struct sst_server v = { .greeting = "220 old", .ehlo =
	    "502 5.5.2 what?" };
	struct event_base *base = event_base_new();
	struct smtpc_rcpt r[] = { { "b@y.test", NULL, 0 } };
	struct smtpc_message m[2] = {
		{ .mail_from = "j\xc3\xb6rg@x.test", .rcpts = r, .nrcpts = 1,
		    SST_MSG("x\n"), .smtputf8 = true },
		{ .mail_from = "a@x.test", .rcpts = r, .nrcpts = 1,
		    SST_MSG("hello\n"), .body = ENVELOPE_BODY_8BITMIME },
	};
	struct smtpc_params p = { .tls = SMTPC_TLS_NONE };
	struct sst_client c = { 0 };

	(void)state;
	sst_server_start(&v, base);
	sst_run(&c, &v, &p, m, 2);
	assert_non_null(strstr(v.transcript, "EHLO client.test\nHELO "
	    "client.test\n"));
	assert_int_equal(c.nres, 2);
	assert_int_equal(c.mst[0].klass, SMTPC_PERM);
	assert_string_equal(c.mst[0].enhanced, "5.6.7");
	assert_int_equal(c.rst[0][0].klass, SMTPC_PERM);
	assert_int_equal(c.mst[1].klass, SMTPC_OK);
	assert_non_null(strstr(v.transcript, "MAIL FROM:<a@x.test>\n"));
	assert_null(strstr(v.transcript, "j\xc3\xb6rg"));
	close(m[0].fd);
	close(m[1].fd);
	sst_server_stop(&v);
	event_base_free(base);
}

static void
test_starttls_opportunistic(void **state)
{
	struct sst_server v = { .greeting = "220 srv", .ehlo =
	    "250-srv\r\n250-PIPELINING\r\n250 STARTTLS", .ehlo_tls =
	    "250-srv\r\n250 PIPELINING" };
	struct event_base *base = event_base_new();
	struct smtpc_rcpt r[] = { { "b@y.test", NULL, 0 } };
	struct smtpc_message m = { .mail_from = "a@x.test", .rcpts = r,
	    .nrcpts = 1, SST_MSG(".\n") };
	struct smtpc_params p = { .tls = SMTPC_TLS_OPPORTUNISTIC,
	    .peer_name = "mx.test" };
	struct sst_client c = { 0 };

	(void)state;
	sst_server_start(&v, base);
	sst_run(&c, &v, &p, &m, 1);
	assert_int_equal(c.mst[0].klass, SMTPC_OK);
	assert_true(c.tls.active);
	assert_false(c.tls.verified);	/* self-signed, not trusted */
	assert_string_equal(c.tls.version, "TLSv1.3");
	assert_non_null(strstr(v.transcript, "STARTTLS\nEHLO client.test\n"
	    "MAIL"));
	assert_string_equal(v.msgs[0], "..\r\n");
	close(m.fd);
	sst_server_stop(&v);
	event_base_free(base);
}

/* Required STARTTLS: verified with the CA file and the right name; the
 * wrong name, a missing STARTTLS or injected data end it before MAIL. */
static void
sst_required(const char *peer, const char *ehlo, const char *starttls,
    struct sst_client *c, struct sst_server *v)
{
	static struct sst_rule rules[2];
	struct event_base *base = event_base_new();
	struct smtpc_rcpt r[] = { { "b@y.test", NULL, 0 } };
	struct smtpc_message m = { .mail_from = "a@x.test", .rcpts = r,
	    .nrcpts = 1, SST_MSG("hi\n") };
	struct smtpc_params p = { .tls = SMTPC_TLS_STARTTLS, .tls_verify =
	    true, .ca_file = sst_ca_path, .peer_name = peer };

	rules[0].prefix = "STARTTLS";
	rules[0].reply = starttls;
	memset(v, 0, sizeof(*v));
	v->greeting = "220 srv";
	v->ehlo = ehlo;
	v->ehlo_tls = "250 srv";
	v->rules = rules;
	memset(c, 0, sizeof(*c));
	sst_server_start(v, base);
	sst_run(c, v, &p, &m, 1);
	close(m.fd);
}

static void
test_starttls_required(void **state)
{
	struct sst_server v;
	struct sst_client c;

	(void)state;
	sst_required("mx.test.", "250-srv\r\n250 STARTTLS", "220 go", &c, &v);
	assert_int_equal(c.nres, 1);
	assert_int_equal(c.mst[0].klass, SMTPC_OK);
	assert_true(c.tls.active && c.tls.verified);
	sst_server_stop(&v);
	event_base_free(v.base);

	sst_required("other.test", "250-srv\r\n250 STARTTLS", "220 go", &c,
	    &v);
	assert_int_equal(c.nready, 0);
	assert_int_equal(c.closed.klass, SMTPC_TEMP);
	assert_string_equal(c.closed.stage, "tls");
	assert_true(c.tls.active && !c.tls.verified);
	assert_null(strstr(v.transcript, "MAIL"));
	sst_server_stop(&v);
	event_base_free(v.base);

	sst_required("mx.test", "250 srv", "220 go", &c, &v);
	assert_int_equal(c.nready, 0);
	assert_int_equal(c.closed.klass, SMTPC_TEMP);
	assert_string_equal(c.closed.stage, "starttls");
	assert_string_equal(c.closed.enhanced, "4.7.10");
	assert_non_null(strstr(v.transcript, "QUIT"));
	assert_null(strstr(v.transcript, "MAIL"));
	sst_server_stop(&v);
	event_base_free(v.base);

	/* RFC 3207 §4.2: a reply smuggled behind "220" is refused. */
	sst_required("mx.test", "250-srv\r\n250 STARTTLS",
	    "220 go\r\n250 injected", &c, &v);
	assert_int_equal(c.nready, 0);
	assert_int_equal(c.closed.klass, SMTPC_TEMP);
	assert_string_equal(c.closed.stage, "starttls");
	assert_false(c.tls.active);
	sst_server_stop(&v);
	event_base_free(v.base);
}

static void
test_implicit_tls_auth(void **state)
{
	static const struct sst_rule rules[] = {
		/* base64("\0user\0secret") */
		{ "AUTH PLAIN AHVzZXIAc2VjcmV0", "235 2.7.0 ok" },
		{ "AUTH", "535 5.7.8 bad credentials" },
		{ NULL, NULL },
	};
	struct sst_server v = { .greeting = "220 relay", .implicit = true,
	    .ehlo = "250-relay\r\n250-AUTH LOGIN PLAIN\r\n250 SIZE 10",
	    .rules = rules };
	struct event_base *base = event_base_new();
	struct smtpc_rcpt r[] = { { "b@y.test", NULL, 0 } };
	struct smtpc_message m[2] = {
		{ .mail_from = "a@x.test", .rcpts = r, .nrcpts = 1,
		    SST_MSG("big message\n"), .size = 11 },
		{ .mail_from = "a@x.test", .rcpts = r, .nrcpts = 1,
		    SST_MSG("small\n"), .size = 6 },
	};
	struct smtpc_params p = { .tls = SMTPC_TLS_IMPLICIT, .tls_verify =
	    true, .ca_file = sst_ca_path, .peer_name = "mx.test",
	    .auth_user = "user", .auth_pass = "secret" };
	struct sst_client c = { 0 };

	(void)state;
	sst_server_start(&v, base);
	sst_run(&c, &v, &p, m, 2);
	assert_true(c.tls.active && c.tls.verified);
	assert_int_equal(c.nres, 2);
	assert_int_equal(c.mst[0].klass, SMTPC_PERM);	/* over SIZE 10 */
	assert_string_equal(c.mst[0].enhanced, "5.3.4");
	assert_int_equal(c.mst[1].klass, SMTPC_OK);
	assert_non_null(strstr(v.transcript, "AUTH PLAIN "));
	assert_int_equal(v.nmsgs, 1);
	close(m[0].fd);
	close(m[1].fd);
	sst_server_stop(&v);
	event_base_free(base);

	/* Wrong password: deferred, never bounced. */
	p.auth_pass = "wrong";
	memset(&c, 0, sizeof(c));
	memset(&v, 0, sizeof(v));
	v.greeting = "220 relay";
	v.implicit = true;
	v.ehlo = "250-relay\r\n250 AUTH PLAIN";
	v.rules = rules;
	base = event_base_new();
	sst_server_start(&v, base);
	sst_run(&c, &v, &p, m, 1);
	assert_int_equal(c.nready, 0);
	assert_int_equal(c.closed.klass, SMTPC_TEMP);
	assert_string_equal(c.closed.stage, "auth");
	assert_int_equal(c.closed.code, 535);
	sst_server_stop(&v);
	event_base_free(base);
}

static void
test_failures(void **state)
{
	char longline[700];
	struct sst_server v = { 0 };
	struct sst_client c = { 0 };
	struct smtpc_params p = { .tls = SMTPC_TLS_NONE, .timeout_max_ms =
	    200 };
	struct event_base *base = event_base_new();

	(void)state;
	/* Silent server: the greeting times out. */
	sst_server_start(&v, base);
	sst_run(&c, &v, &p, NULL, 0);
	assert_int_equal(c.closed.klass, SMTPC_TEMP);
	assert_string_equal(c.closed.stage, "greeting");
	sst_server_stop(&v);

	/* Overlong reply line. */
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	memcpy(longline, "220 ", 4);
	memset(&v, 0, sizeof(v));
	memset(&c, 0, sizeof(c));
	v.greeting = longline;
	sst_server_start(&v, base);
	sst_run(&c, &v, &p, NULL, 0);
	assert_int_equal(c.closed.klass, SMTPC_TEMP);
	assert_string_equal(c.closed.text, "reply line too long");
	sst_server_stop(&v);

	/* 554 greeting: QUIT, permanent for this server. */
	memset(&v, 0, sizeof(v));
	memset(&c, 0, sizeof(c));
	v.greeting = "554 5.7.1 go away";
	sst_server_start(&v, base);
	sst_run(&c, &v, &p, NULL, 0);
	assert_int_equal(c.closed.klass, SMTPC_PERM);
	assert_int_equal(c.closed.code, 554);
	assert_string_equal(c.closed.stage, "greeting");
	assert_string_equal(v.transcript, "QUIT\n");
	sst_server_stop(&v);

	/* Nobody listening. */
	memset(&v, 0, sizeof(v));
	memset(&c, 0, sizeof(c));
	sst_server_start(&v, base);
	evconnlistener_free(v.lst);
	v.lst = NULL;
	sst_run(&c, &v, &p, NULL, 0);
	assert_int_equal(c.closed.klass, SMTPC_TEMP);
	assert_string_equal(c.closed.stage, "connect");
	sst_server_stop(&v);
	event_base_free(base);
}

/* A body far above the output high-water mark streams through the write
 * callback without loss. */
static void
test_large_body(void **state)
{
	struct sst_server v = { .greeting = "220 srv" };
	struct event_base *base = event_base_new();
	struct smtpc_rcpt r[] = { { "b@y.test", NULL, 0 } };
	struct smtpc_message m = { .mail_from = "a@x.test", .rcpts = r,
	    .nrcpts = 1 };
	struct smtpc_params p = { .tls = SMTPC_TLS_NONE };
	struct sst_client c = { 0 };
	size_t i, o = 0, n = 40000;
	char *body = malloc(n * 8 + 1), *want = malloc(n * 10 + 1);
	const char *l;

	(void)state;
	for (i = 0; i < n; i++) {
		memcpy(body + i * 8, i % 7 ? "line xx\n" : ".dot xx\n", 8);
		l = i % 7 ? "line xx\r\n" : "..dot xx\r\n";
		memcpy(want + o, l, strlen(l));
		o += strlen(l);
	}
	body[n * 8] = '\0';
	want[o] = '\0';
	m.fd = sst_fd(body);
	m.len = strlen(body);
	sst_server_start(&v, base);
	sst_run(&c, &v, &p, &m, 1);
	assert_int_equal(c.mst[0].klass, SMTPC_OK);
	assert_int_equal(v.nmsgs, 1);
	assert_int_equal(strlen(v.msgs[0]), o);
	assert_string_equal(v.msgs[0], want);
	close(m.fd);
	free(body);
	free(want);
	sst_server_stop(&v);
	event_base_free(base);
}

/* REQUIRETLS (RFC 8689): one session with a REQUIRETLS message from a@x
 * and one from the null path, against a server with the given EHLO
 * replies before and under TLS. */
static void
sst_requiretls(enum smtpc_tls_mode tls, const char *ehlo,
    const char *ehlo_tls, struct sst_client *c, struct sst_server *v)
{
	struct event_base *base = event_base_new();
	struct smtpc_rcpt r[] = { { "b@y.test", NULL, 0 },
	    { "c@y.test", NULL, 0 } };
	struct smtpc_message m[2] = {
		{ .mail_from = "a@x.test", .rcpts = r, .nrcpts = 2,
		    SST_MSG("secret\n"), .requiretls = true },
		{ .mail_from = "", .rcpts = r, .nrcpts = 1,
		    SST_MSG("bounce\n"), .requiretls = true },
	};
	struct smtpc_params p = { .tls = tls, .peer_name = "mx.test" };

	memset(v, 0, sizeof(*v));
	memset(c, 0, sizeof(*c));
	v->greeting = "220 srv";
	v->ehlo = ehlo;
	v->ehlo_tls = ehlo_tls;
	sst_server_start(v, base);
	sst_run(c, v, &p, m, 2);
	assert_int_equal(c->nres, 2);
	close(m[0].fd);
	close(m[1].fd);
}

/* The message finished unsent with the RFC 8689 §4.2.1 status enh. */
static void
sst_requiretls_refused(const struct sst_client *c,
    const struct sst_server *v, const char *enh)
{
	assert_int_equal(c->mst[0].klass, SMTPC_PERM);
	assert_int_equal(c->mst[0].code, 0);
	assert_string_equal(c->mst[0].enhanced, enh);
	assert_string_equal(c->mst[0].stage, "requiretls");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(c->rst[0][i].klass, SMTPC_PERM);
		assert_string_equal(c->rst[0][i].enhanced, enh);
		assert_string_equal(c->rst[0][i].stage, "requiretls");
	}
	assert_null(strstr(v->transcript, "MAIL FROM:<a@x.test>"));
	assert_null(strstr(v->transcript, "RCPT TO:<c@y.test>"));
	/* §5: the bounce goes anyway, without the parameter. */
	assert_int_equal(c->mst[1].klass, SMTPC_OK);
	assert_non_null(strstr(v->transcript, "MAIL FROM:<>\n"));
	assert_int_equal(v->nmsgs, 1);
	assert_string_equal(v->msgs[0], "bounce\r\n");
}

static void
test_requiretls(void **state)
{
	struct sst_server v;
	struct sst_client c;

	(void)state;
	/* Offered after STARTTLS: the parameter is passed on, also for the
	 * bounce. */
	sst_requiretls(SMTPC_TLS_OPPORTUNISTIC, "250-srv\r\n250 STARTTLS",
	    "250-srv\r\n250 REQUIRETLS", &c, &v);
	assert_true(c.tls.active);
	assert_int_equal(c.mst[0].klass, SMTPC_OK);
	assert_int_equal(c.mst[1].klass, SMTPC_OK);
	assert_non_null(strstr(v.transcript, "STARTTLS\nEHLO client.test\n"
	    "MAIL FROM:<a@x.test> REQUIRETLS\n"));
	assert_non_null(strstr(v.transcript, "MAIL FROM:<> REQUIRETLS\n"));
	assert_int_equal(v.nmsgs, 2);
	sst_server_stop(&v);
	event_base_free(v.base);

	/* TLS, but REQUIRETLS offered only before it: 5.7.30. */
	sst_requiretls(SMTPC_TLS_OPPORTUNISTIC, "250-srv\r\n250-REQUIRETLS"
	    "\r\n250 STARTTLS", "250-srv\r\n250 PIPELINING", &c, &v);
	assert_true(c.tls.active);
	sst_requiretls_refused(&c, &v, "5.7.30");
	assert_non_null(strstr(c.mst[0].text, "REQUIRETLS support required"));
	sst_server_stop(&v);
	event_base_free(v.base);

	/* No TLS (here: STARTTLS not offered), REQUIRETLS offered in clear:
	 * 5.7.10, and nothing of the message reaches the wire. */
	sst_requiretls(SMTPC_TLS_OPPORTUNISTIC, "250-srv\r\n250 REQUIRETLS",
	    NULL, &c, &v);
	assert_false(c.tls.active);
	sst_requiretls_refused(&c, &v, "5.7.10");
	assert_non_null(strstr(c.mst[0].text, "Encryption needed"));
	assert_null(strstr(v.transcript, "REQUIRETLS"));
	sst_server_stop(&v);
	event_base_free(v.base);
}

/* The stuffer gives the same output however the input is split. */
static void
test_stuffer_splits(void **state)
{
	struct evbuffer *whole = evbuffer_new(), *parts;
	struct smtpc_stuffer st;
	size_t i, len = strlen(sst_body), n;
	char out[512];

	(void)state;
	smtpc_stuff_init(&st);
	smtpc_stuff_push(&st, sst_body, len, whole);
	smtpc_stuff_end(&st, whole);
	n = evbuffer_remove(whole, out, sizeof(out) - 1);
	out[n] = '\0';
	assert_string_equal(out + 13 - 13, "Subject: t\r\n\r\n..leading dot\r\n"
	    "...two\r\nx.\r\n..\r\nCRLF line\r\n\r\n..bare cr\r\nend\r\n"
	    ".\r\n");
	for (i = 0; i <= len; i++) {
		parts = evbuffer_new();
		smtpc_stuff_init(&st);
		smtpc_stuff_push(&st, sst_body, i, parts);
		smtpc_stuff_push(&st, sst_body + i, len - i, parts);
		smtpc_stuff_end(&st, parts);
		assert_int_equal(evbuffer_get_length(parts), n);
		evbuffer_free(parts);
	}
	evbuffer_free(whole);
	/* Empty input: just the terminator. */
	whole = evbuffer_new();
	smtpc_stuff_init(&st);
	smtpc_stuff_end(&st, whole);
	assert_int_equal(evbuffer_get_length(whole), 3);
	evbuffer_free(whole);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lmtp_mode),
		cmocka_unit_test(test_quoted_paths),
		cmocka_unit_test(test_odd_reply_class),
		cmocka_unit_test(test_stuffer_splits),
		cmocka_unit_test(test_pipelining_two_messages),
		cmocka_unit_test(test_rejected_then_rset_no_pipelining),
		cmocka_unit_test(test_helo_fallback_and_smtputf8),
		cmocka_unit_test(test_starttls_opportunistic),
		cmocka_unit_test(test_starttls_required),
		cmocka_unit_test(test_implicit_tls_auth),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_large_body),
		cmocka_unit_test(test_requiretls),
	};

	return cmocka_run_group_tests(tests, sst_setup, sst_teardown);
}
