/* SPDX-License-Identifier: ISC */
/*
 * SMTP server sessions inside one worker's event loop. The worker builds a
 * struct smtpd_ctx once and hands each accepted connection to
 * smtpd_session_accept(); sessions own themselves from then on and free
 * themselves when the connection ends.
 */
#ifndef SEALMAIL_SMTPD_SMTPD_SESSION_H
#define SEALMAIL_SMTPD_SMTPD_SESSION_H

#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "core/ratelog.h"

struct tls_server;
struct db;
struct dns_resolver;
struct dkim_keys;
struct spool_committer;
struct connlimit;
struct smtpd_session;
struct keys_client;
struct dovecot_client;
struct lookalike_set;
struct smtpd_proxy_wait;
struct smtpd_store;
struct db_pool;

/* Per-worker state shared by its sessions (borrowed pointers, owned by the
 * worker, alive as long as any session). */
struct smtpd_milter_run;

struct smtpd_ctx {
	const struct conf	*conf;
	struct tls_server	*tls;
	struct db		*db;
	struct event_base	*base;
	struct dns_resolver	*dns;		/* NULL: no DNS checks */
	const struct dkim_keys	*dkim_keys;	/* signing keys, may be NULL */
	struct spool_committer	*committer;	/* fsyncs off the loop */
	struct connlimit	*limits;
	unsigned		 auth_jobs;	/* checks queued or running */
	struct keys_client	*keys;		/* the keys process; NULL:
						 * none (unit tests) */
	struct dovecot_client	*dovecot;	/* [auth] passdb = dovecot:
						 * checks passwords; else NULL */
	unsigned		 slot;		/* this worker's connlimit slot */
	unsigned		 nsessions;
	bool			 stopping;	/* shutting down: 421 at the next
						 * command, no new transactions */
	struct smtpd_session	*sessions;	/* all live sessions */
	struct event		*grace_timer;
	struct event		*flush_ev;	/* writes the replies below */
	struct smtpd_session	*flush;		/* sessions with replies */
	bool			 stress;	/* connection pressure: idle
						 * timeouts cut to stress_timeout */
	struct ratelog		 refused_log[2];	/* per-IP, total */
	struct ratelog		 proxy_log;	/* peers outside proxy_from */
	struct smtpd_proxy_wait	*proxy_waits;	/* PROXY headers awaited */
	struct lookalike_set	*lookalike;	/* protected domains, built at
						 * the first mx message */
	time_t			 lookalike_at;	/* when it was built */
	bool			 lookalike_building;	/* by a store thread */
	time_t			 lookalike_note_at;	/* this minute's */
	unsigned		 lookalike_notes;	/* store writes */
	struct smtpd_milter_run	*milter_runs;	/* sessions in their milters
						 * (smtpd_milter.c) */
	struct smtpd_store	*store;		/* a store over the network:
						 * its calls off the loop
						 * (smtpd_store.c); NULL:
						 * SQLite, called on it */
};

/* Take over connected socket fd (non-blocking) accepted on listener
 * conf->listeners[listener]. Closes fd itself on any failure. */
void smtpd_session_accept(struct smtpd_ctx *ctx, int fd,
    const struct sockaddr *sa, socklen_t salen, size_t listener);

/*
 * Take over a connection accepted on the local submission socket
 * (net/localsock.h). The client is the local user the kernel names
 * (SO_PEERCRED); the session is a submission without TLS or AUTH that
 * may relay, records that user in Received and the envelope, and
 * DKIM-signs only mail whose From: that user owns (smtpd_local.c).
 */
void smtpd_session_accept_local(struct smtpd_ctx *ctx, int fd);

/* Shutdown: sessions between transactions get 421 and are closed now;
 * sessions receiving a message may finish it for `grace` seconds, then get
 * 421. With grace < 0, sessions are left to finish on their own (reload). */
void smtpd_sessions_stop(struct smtpd_ctx *ctx, int grace);

/* The worker's tick: rebuild the protected set of the lookalike check
 * (smtpd_lookalike.c) when it is older than a minute, so new local
 * domains' correspondents count soon; free: at the worker's end. */
void smtpd_lookalike_tick(struct smtpd_ctx *ctx, time_t now);
void smtpd_lookalike_free(struct smtpd_ctx *ctx);

/* A store reached over the network (PostgreSQL): the sessions' lookups
 * run on pool's threads (smtpd_store.c owns it from now on), and the
 * DMARC rows deferred on ctx->db are written there, ctx->db and spare (a
 * second handle, owned from now on) taking turns. tick: the worker's
 * second, which starts that write. end: stop it all (the jobs finish),
 * and give back the handle that is not ctx->db (NULL without a store
 * pool); the caller closes both. */
void smtpd_store_start(struct smtpd_ctx *ctx, struct db_pool *pool,
    struct db *spare);
void smtpd_store_tick(struct smtpd_ctx *ctx);
struct db *smtpd_store_end(struct smtpd_ctx *ctx);

#endif
