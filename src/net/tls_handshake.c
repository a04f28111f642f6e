/* SPDX-License-Identifier: ISC */
/* Asynchronous server handshakes (see tls_handshake.h). */
#include "net/tls_handshake.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/async.h>
#include <openssl/err.h>

#include "core/log.h"
#include "core/xmalloc.h"

struct tls_hs {
	SSL		*ssl;
	struct event	*ev;		/* fd readiness, or a resume */
	tls_hs_done_cb	*cb;		/* NULL once cancelled */
	void		*arg;
	bool		 paused;	/* a job is under way: waits for its
					 * signature, or was resumed and
					 * waits for the loop to step it */
	bool		 queued;	/* waits for a free job */
	bool		 kicked;	/* told a job is free, not yet run */
	struct tls_hs	*next_queued;
};

/* Handshakes that found no free ASYNC job, oldest first. */
static struct tls_hs *tls_hs_queue, **tls_hs_queue_tail = &tls_hs_queue;

static void tls_hs_event_cb(evutil_socket_t fd, short what, void *arg);

static void
tls_hs_unqueue(struct tls_hs *hs)
{
	struct tls_hs **pp;

	if (!hs->queued)
		return;
	for (pp = &tls_hs_queue; *pp != hs; pp = &(*pp)->next_queued)
		;
	*pp = hs->next_queued;
	if (tls_hs_queue_tail == &hs->next_queued)
		tls_hs_queue_tail = pp;
	hs->next_queued = NULL;
	hs->queued = false;
}

/* A job went back to the pool: the oldest waiting handshake tries. */
static void
tls_hs_kick(void)
{
	struct tls_hs *hs = tls_hs_queue;

	if (hs == NULL)
		return;
	tls_hs_unqueue(hs);
	hs->kicked = true;
	event_active(hs->ev, EV_TIMEOUT, 0);
}

static void
tls_hs_free(struct tls_hs *hs)
{
	tls_hs_unqueue(hs);
	event_free(hs->ev);
	free(hs);
}

static void
tls_hs_finish(struct tls_hs *hs, enum tls_hs_result r, const char *detail)
{
	tls_hs_done_cb *cb = hs->cb;
	void *arg = hs->arg;

	/* Reads, writes and the shutdown run outside jobs: no job per
	 * record, and no callback to a handshake that is gone. */
	SSL_clear_mode(hs->ssl, SSL_MODE_ASYNC);
	SSL_set_async_callback(hs->ssl, NULL);
	SSL_set_async_callback_arg(hs->ssl, NULL);
	tls_hs_free(hs);
	cb(arg, r, detail);
}

static void
tls_hs_wait(struct tls_hs *hs, short what)
{
	event_del(hs->ev);
	event_assign(hs->ev, event_get_base(hs->ev), event_get_fd(hs->ev),
	    what, tls_hs_event_cb, hs);
	event_add(hs->ev, NULL);
}

/* A cancelled handshake's job came back: let it end, then free all. */
static void
tls_hs_drain(struct tls_hs *hs)
{
	ERR_clear_error();
	hs->paused = false;
	if (SSL_do_handshake(hs->ssl) != 1 &&
	    SSL_get_error(hs->ssl, -1) == SSL_ERROR_WANT_ASYNC) {
		hs->paused = true;
		return;
	}
	ERR_clear_error();
	SSL_free(hs->ssl);
	tls_hs_free(hs);
	tls_hs_kick();
}

static void
tls_hs_step(struct tls_hs *hs)
{
	char detail[160];
	unsigned long e;
	int r, err;

	if (hs->cb == NULL) {
		tls_hs_drain(hs);
		return;
	}
	ERR_clear_error();
	errno = 0;
	hs->paused = false;
	hs->kicked = false;
	r = SSL_do_handshake(hs->ssl);
	err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(hs->ssl, r);
	if (err != SSL_ERROR_WANT_ASYNC && err != SSL_ERROR_WANT_ASYNC_JOB)
		tls_hs_kick();
	switch (err) {
	case SSL_ERROR_NONE:
		tls_hs_finish(hs, TLS_HS_OK, NULL);
		return;
	case SSL_ERROR_WANT_READ:
		tls_hs_wait(hs, EV_READ);
		return;
	case SSL_ERROR_WANT_WRITE:
		tls_hs_wait(hs, EV_WRITE);
		return;
	case SSL_ERROR_WANT_ASYNC:
		/* The provider's callback resumes us (tls_hs_resume_cb). */
		hs->paused = true;
		return;
	case SSL_ERROR_WANT_ASYNC_JOB:
		hs->queued = true;
		*tls_hs_queue_tail = hs;
		tls_hs_queue_tail = &hs->next_queued;
		return;
	case SSL_ERROR_ZERO_RETURN:
		tls_hs_finish(hs, TLS_HS_EOF, NULL);
		return;
	case SSL_ERROR_SYSCALL:
		if ((e = ERR_peek_error()) == 0) {
			if (errno == 0)
				tls_hs_finish(hs, TLS_HS_EOF, NULL);
			else
				tls_hs_finish(hs, TLS_HS_IO_ERROR,
				    strerror(errno));
			return;
		}
		/* FALLTHROUGH */
	default:
		e = ERR_get_error();
		if (e != 0)
			ERR_error_string_n(e, detail, sizeof(detail));
		else
			snprintf(detail, sizeof(detail), "SSL error %d", err);
		ERR_clear_error();
		tls_hs_finish(hs, TLS_HS_TLS_ERROR, detail);
		return;
	}
}

static void
tls_hs_event_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tls_hs_step(arg);
}

/*
 * The provider calls this (through the ASYNC wait context) when the
 * signature is in. That may be deep inside the key backend's own
 * callback: resume on the next loop turn instead of here.
 */
static int
tls_hs_resume_cb(SSL *ssl, void *arg)
{
	struct tls_hs *hs = arg;

	(void)ssl;
	/* Still paused until the step: a cancel meanwhile must let the job
	 * run to its end, or it is never given back to the pool. */
	event_del(hs->ev);
	event_active(hs->ev, EV_TIMEOUT, 0);
	return 1;
}

struct tls_hs *
tls_hs_start(struct event_base *base, int fd, SSL *ssl, tls_hs_done_cb *cb,
    void *arg)
{
	static bool jobs_bounded;
	struct tls_hs *hs;

	/* The pool keeps each job's stack once made: bound it. */
	if (!jobs_bounded) {
		if (!ASYNC_init_thread(TLS_HS_JOBS_MAX, 0))
			return NULL;
		jobs_bounded = true;
	}
	hs = xcalloc(1, sizeof(*hs));
	hs->ssl = ssl;
	hs->cb = cb;
	hs->arg = arg;
	hs->ev = event_new(base, fd, EV_READ, tls_hs_event_cb, hs);
	if (hs->ev == NULL || SSL_set_fd(ssl, fd) != 1) {
		if (hs->ev)
			event_free(hs->ev);
		free(hs);
		return NULL;
	}
	SSL_set_accept_state(ssl);
	SSL_set_mode(ssl, SSL_MODE_ASYNC);
	SSL_set_async_callback(ssl, tls_hs_resume_cb);
	SSL_set_async_callback_arg(ssl, hs);
	/* The client speaks first. */
	event_add(hs->ev, NULL);
	return hs;
}

void
tls_hs_cancel(struct tls_hs *hs)
{
	if (hs == NULL)
		return;
	hs->cb = NULL;
	if (!hs->paused) {
		bool kicked = hs->kicked;

		SSL_free(hs->ssl);
		tls_hs_free(hs);
		/* The free job it was told of goes to the next in line. */
		if (kicked)
			tls_hs_kick();
		return;
	}
	/* The job resumes when its signature comes and must run to its end:
	 * whatever it would still read or write fails, never touches the fd
	 * (which may belong to another connection by then). A BIO on fd -1,
	 * not a null BIO: whoever else holds the SSL (a bufferevent that
	 * closes the fd its SSL names, web_server.c) must find no fd in it,
	 * and BIO_get_fd of a null BIO says 0. */
	BIO *none = BIO_new_fd(-1, BIO_NOCLOSE);
	if (none == NULL)
		fatal("cannot allocate a BIO");
	SSL_set_bio(hs->ssl, none, none);
	/* Not event_del(): the resume may be due already (tls_hs_resume_cb);
	 * otherwise the event is not pending (it fired, or was kicked). */
}
