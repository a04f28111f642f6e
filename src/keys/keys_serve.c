/* SPDX-License-Identifier: ISC */
/*
 * The keys process's service (see keys_serve.h). Signatures and yescrypt
 * run on two pools of threads; the loop only reads requests, looks up
 * hashes and writes replies. A peer that sends anything malformed, too big
 * or too much is disconnected: that peer only, never the process.
 */
#include "keys/keys_serve.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "account/passwd.h"
#include "account/passwd_cache.h"
#include "core/buf.h"
#include "conf/conf.h"
#include "core/log.h"
#include "core/workpool.h"
#include "core/xmalloc.h"
#include "store/store_open.h"
#include "keys/keys_proto.h"
#include "keys/keys_table.h"
#include "store/db.h"
#include "web/web_users.h"

/* A peer that does not read its replies is broken: past this much
 * unread output it is dropped. */
#define KEYS_PEER_OUT_MAX	(256 * 1024)
#define KEYS_THREADS_MAX	8
enum { KEYS_POOL_SIGN, KEYS_POOL_PASSWD, KEYS_NPOOLS };

struct keys;

struct keys_job;

struct keys_peer {
	struct keys		*k;
	struct bufferevent	*bev;	/* NULL once closed */
	unsigned		 inflight;
	struct keys_job		*jobs;	/* password checks under way */
	/* Per pool: jobs not yet in it, oldest first, and how many are. */
	struct keys_job		*wait[KEYS_NPOOLS];
	struct keys_job		**wait_tail[KEYS_NPOOLS];
	unsigned		 running[KEYS_NPOOLS];
	struct keys_peer	*next;
};

struct keys {
	const struct conf	*conf;
	struct event_base	*base;
	struct event		*ctl_ev;
	int			 ctl;	/* -1 once the master closed it */
	uint8_t			*ctlbuf;	/* one control packet */
	struct keys_table	*table;
	/* Signatures and password checks on pools of their own: a burst of
	 * AUTH attempts (yescrypt, ~100 ms each by design) must not queue
	 * ahead of every TLS handshake and DKIM signature. */
	struct workpool		*pool[KEYS_NPOOLS];
	/* PostgreSQL: hashes are looked up on this one thread (which alone
	 * uses pw then), never on the loop. NULL for SQLite. */
	struct workpool		*lookup;
	bool			 remote;
	struct db_passwd	*pw;	/* the password hashes, read only */
	char			*dummy;	/* hash for unknown users */
	struct web_users	**admin;	/* per listener: its
						 * password_file, or NULL */
	size_t			 nadmin;
	/* Jobs of one peer in one pool at a time (as many as it has
	 * threads); the rest wait in the peer's own queue. The pools' FIFOs
	 * then take the peers in turn: one peer with 256 requests
	 * outstanding (a compromised worker, a flood of logins on one
	 * worker) does not hold up the others' signatures. */
	unsigned		 share;
	struct keys_peer	*peers;
	size_t			 npeers;
	bool			 stopping;
};

/* One request on a pool thread; done() answers and frees it. */
struct keys_job {
	struct keys_peer	*p;	/* the loop's; threads use k */
	const struct keys	*k;
	struct keys_msg		 req;	/* type and id; byte fields unused */
	struct keyop		 op;
	uint8_t			 tbs[KEYOP_TBS_MAX];
	uint8_t			 sig[KEYOP_SIG_MAX];
	size_t			 siglen;
	int			 r;
	char			 user[LIMIT_SASL_FIELD + 1];
	char			 pass[LIMIT_SASL_FIELD + 1];
	uint16_t		 realm;
	bool			 nopass;	/* an empty password */
	enum db_result		 dr;	/* the hash lookup's */
	char			*hash;	/* NULL: unknown user */
	bool			 decoy;	/* hash is another user's */
	enum keys_passwd_res	 res;
	/* Set by the loop when the peer cancels or goes: a check nobody
	 * waits for is skipped, so clients that send AUTH and hang up
	 * cannot queue hashing ahead of real logins. */
	atomic_bool		 abandoned;
	/* Taken by the pool thread that hashes, or by a CANCEL that answers
	 * at once: a cancelled check queued behind others must not hold
	 * its peer's request slot until its turn. */
	atomic_bool		 claimed;
	bool			 answered;	/* by the CANCEL */
	bool			 started;	/* queued for the pool */
	bool			 running;	/* in the pool */
	struct keys_job		*next;	/* in p->jobs */
	struct keys_job		*wait_next;	/* in p->wait[] */
};

static void
keys_maybe_exit(struct keys *k)
{
	if ((k->ctl == -1 || k->stopping) && k->npeers == 0)
		event_base_loopexit(k->base, NULL);
}

static void keys_job_run(void *arg);
static void keys_job_done(void *arg, bool cancelled);

static unsigned
keys_job_pool(const struct keys_job *j)
{
	return j->req.type == KEYS_MSG_SIGN ? KEYS_POOL_SIGN :
	    KEYS_POOL_PASSWD;
}

/* Hand p's waiting jobs of pool i to it, up to its share; once p is
 * closed, end them unrun. */
static void
keys_peer_pump(struct keys_peer *p, unsigned i)
{
	struct keys_job *j;

	while ((j = p->wait[i]) != NULL &&
	    (p->bev == NULL || p->running[i] < p->k->share)) {
		if ((p->wait[i] = j->wait_next) == NULL)
			p->wait_tail[i] = &p->wait[i];
		if (p->bev == NULL) {
			keys_job_done(j, true);
			continue;
		}
		j->running = true;
		p->running[i]++;
		workpool_submit(p->k->pool[i], keys_job_run, keys_job_done, j);
	}
}

/* Queue j (counted in p->inflight) for its pool. */
static void
keys_peer_submit(struct keys_peer *p, struct keys_job *j)
{
	unsigned i = keys_job_pool(j);

	j->wait_next = NULL;
	*p->wait_tail[i] = j;
	p->wait_tail[i] = &j->wait_next;
	keys_peer_pump(p, i);
}

static void
keys_peer_unref(struct keys_peer *p)
{
	struct keys *k = p->k;

	if (p->bev != NULL || p->inflight > 0)
		return;
	for (struct keys_peer **pp = &k->peers; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	free(p);
	k->npeers--;
	keys_maybe_exit(k);
}

static void
keys_peer_close(struct keys_peer *p, const char *why)
{
	if (p->bev == NULL)
		return;
	if (why != NULL)
		log_warn("keys peer dropped: %s", why);
	for (struct keys_job *j = p->jobs; j != NULL; j = j->next)
		atomic_store(&j->abandoned, true);
	bufferevent_free(p->bev);
	p->bev = NULL;
	/* Held: ending the waiting jobs must not free p under us. */
	p->inflight++;
	for (unsigned i = 0; i < KEYS_NPOOLS; i++)
		keys_peer_pump(p, i);
	p->inflight--;
	keys_peer_unref(p);
}

static void
keys_reply(struct keys_peer *p, const struct keys_msg *m)
{
	struct buf b;

	if (p->bev == NULL)
		return;
	buf_init(&b, KEYS_PROTO_PEER_MAX + KEYS_PROTO_HDR);
	if (keys_proto_encode(&b, m) == 0)
		bufferevent_write(p->bev, b.data, b.len);
	buf_clear(&b);
	if (evbuffer_get_length(bufferevent_get_output(p->bev)) >
	    KEYS_PEER_OUT_MAX)
		keys_peer_close(p, "replies not read");
}

/* workpool_run_fn: the private-key or password work. */
static void
keys_job_run(void *arg)
{
	struct keys_job *j = arg;

	if (j->req.type == KEYS_MSG_SIGN) {
		j->siglen = sizeof(j->sig);
		j->r = keys_table_sign(j->k->table, &j->op, j->sig,
		    &j->siglen);
		return;
	}
	/* An unknown user costs the same computation as a known one. */
	if (atomic_exchange(&j->claimed, true) || atomic_load(&j->abandoned))
		j->res = KEYS_PASSWD_TEMP;
	else if (j->hash != NULL)
		j->res = passwd_verify(j->pass, j->hash) && !j->decoy ?
		    KEYS_PASSWD_OK : KEYS_PASSWD_WRONG;
	else {
		(void)passwd_verify(j->pass, j->k->dummy);
		j->res = KEYS_PASSWD_WRONG;
	}
}

static void
keys_job_done(void *arg, bool cancelled)
{
	struct keys_job *j = arg;
	struct keys_peer *p = j->p;
	struct keys_msg m = { .id = j->req.id };

	if (!cancelled && j->req.type == KEYS_MSG_SIGN) {
		m.type = KEYS_MSG_SIG;
		m.status = j->r == 0 ? 0 : 1;
		m.data = j->r == 0 ? j->sig : NULL;
		m.datalen = j->r == 0 ? j->siglen : 0;
		keys_reply(p, &m);
	} else if (j->req.type == KEYS_MSG_PASSWD) {
		for (struct keys_job **jj = &p->jobs; *jj; jj = &(*jj)->next)
			if (*jj == j) {
				*jj = j->next;
				break;
			}
		if (!cancelled && j->res == KEYS_PASSWD_OK &&
		    j->realm == KEYS_REALM_STORE)
			passwd_cache_store(j->user, j->hash, j->pass);
		m.type = KEYS_MSG_PASSWD_RES;
		m.status = (uint8_t)j->res;
		if (!cancelled && !j->answered)
			keys_reply(p, &m);
	}
	explicit_bzero(j->pass, sizeof(j->pass));
	free(j->hash);
	if (j->running) {
		unsigned i = keys_job_pool(j);
		p->running[i]--;
		keys_peer_pump(p, i);
	}
	free(j);
	p->inflight--;
	keys_peer_unref(p);
}

/* Open the password hashes: data_dir's file (this process alone reads
 * it; the store it never opens), or PostgreSQL's passwords table as the
 * keys role. At start, before the sandbox, which lets it only read that
 * file by name (or reconnect to the server) later; the master made the
 * file before any child. */
static int
k_db_open(struct keys *k)
{
	char err[512];

	if (k->pw != NULL)
		return 0;
	if ((k->pw = store_open_passwd(k->conf, err, sizeof(err))) == NULL) {
		log_warn("keys: password hashes unavailable: %s", err);
		return -1;
	}
	return 0;
}

/* The stored hash of user into *hash (heap), read at each check: a
 * `sealmail user passwd` applies to the next login. On the loop (SQLite)
 * or on the lookup thread (PostgreSQL). */
static enum db_result
k_db_hash(struct keys *k, const char *user, char **hash)
{
	*hash = NULL;
	if (k_db_open(k) == -1)
		return DB_ERROR;
	return db_passwd_get(k->pw, user, hash);
}

/* The hash of user in an admin listener's password_file into j: a
 * listed user's own, else (unknown user) another's as a decoy, so timing
 * does not tell who is listed and the file's scheme and cost apply; NULL
 * when the listener has no usable file. */
static void
keys_admin_hash(struct keys *k, uint16_t realm, struct keys_job *j)
{
	const struct web_users *u = realm - 1u < k->nadmin ?
	    k->admin[realm - 1] : NULL;
	const char *h;

	if (u == NULL)
		return;
	h = web_users_hash(u, j->user, strlen(j->user));
	if (h == NULL && web_users_count(u) > 0) {
		h = web_users_hash_at(u, 0);
		j->decoy = true;
	}
	j->hash = h != NULL ? xstrdup(h) : NULL;
}

/* j's hash is known (j->dr): a failed lookup or a cached login answers
 * at once, the rest waits for keys_peer_start to go to the pool. */
static void
keys_passwd_go(struct keys_peer *p, struct keys_job *j)
{
	struct keys_msg r = { .type = KEYS_MSG_PASSWD_RES, .id = j->req.id };

	if (j->dr == DB_ERROR || j->nopass || (j->realm == KEYS_REALM_STORE &&
	    j->dr == DB_OK && passwd_cache_hit(j->user, j->hash, j->pass))) {
		r.status = j->dr == DB_ERROR ? KEYS_PASSWD_TEMP : j->nopass ?
		    KEYS_PASSWD_WRONG : KEYS_PASSWD_OK;
		keys_reply(p, &r);
		explicit_bzero(j->pass, sizeof(j->pass));
		free(j->hash);
		free(j);
		return;
	}
	/* Started once the whole read is decoded (keys_peer_start): a
	 * CANCEL right behind it (the client hung up) then spares the hash. */
	p->inflight++;
	j->next = p->jobs;
	p->jobs = j;
}

/* workpool_run_fn: a PostgreSQL lookup, on the lookup thread. */
static void
keys_lookup_run(void *arg)
{
	struct keys_job *j = arg;

	j->dr = k_db_hash(j->p->k, j->user, &j->hash);
}

static void keys_peer_start(struct keys_peer *p);

/* workpool_done_fn: the lookup is back on the loop. */
static void
keys_lookup_done(void *arg, bool cancelled)
{
	struct keys_job *j = arg;
	struct keys_peer *p = j->p;

	if (cancelled || p->bev == NULL) {
		explicit_bzero(j->pass, sizeof(j->pass));
		free(j->hash);
		free(j);
	} else {
		keys_passwd_go(p, j);
		keys_peer_start(p);
	}
	p->inflight--;
	keys_peer_unref(p);
}

/* The hash lookup runs here on the loop for SQLite (an indexed read of a
 * local file); PostgreSQL's (a round trip that may wait for a reconnect)
 * on the lookup thread. */
static void
keys_passwd(struct keys_peer *p, struct keys_job *j, const struct keys_msg *m)
{
	memcpy(j->user, m->user, m->userlen);
	if (m->passlen > 0)
		memcpy(j->pass, m->pass, m->passlen);
	j->nopass = m->passlen == 0;
	j->realm = m->realm;
	j->dr = DB_OK;
	if (m->realm != KEYS_REALM_STORE)
		keys_admin_hash(p->k, m->realm, j);
	else if (p->k->lookup == NULL)
		j->dr = k_db_hash(p->k, j->user, &j->hash);
	else if (!j->nopass) {
		p->inflight++;
		workpool_submit(p->k->lookup, keys_lookup_run,
		    keys_lookup_done, j);
		return;
	}
	keys_passwd_go(p, j);
}

/* Start the password checks the last read queued; those cancelled
 * meanwhile are answered at once, unhashed. */
static void
keys_peer_start(struct keys_peer *p)
{
	struct keys_job *j;

again:
	for (j = p->jobs; j != NULL; j = j->next) {
		if (j->started)
			continue;
		j->started = true;
		if (atomic_load(&j->abandoned)) {
			j->res = KEYS_PASSWD_TEMP;
			/* Its answer may drop p, which ends the waiting
			 * jobs: the list changed. */
			keys_job_done(j, false);
			goto again;
		}
		keys_peer_submit(p, j);
	}
}

/* One request from p; -1 when it is malformed or over the bounds. */
static int
keys_peer_request(struct keys_peer *p, const uint8_t *body, size_t len)
{
	struct keys_msg m;
	struct keys_job *j;

	if (keys_proto_decode(body, len, &m) == -1)
		return -1;
	if (m.type == KEYS_MSG_CANCEL) {
		for (j = p->jobs; j != NULL; j = j->next) {
			if (j->req.id != m.id || j->answered)
				continue;
			atomic_store(&j->abandoned, true);
			if (!atomic_exchange(&j->claimed, true)) {
				struct keys_msg r = { .type =
				    KEYS_MSG_PASSWD_RES, .id = m.id,
				    .status = KEYS_PASSWD_TEMP };
				j->answered = true;
				keys_reply(p, &r);
				/* Dropped for not reading: the close ended
				 * the waiting jobs, maybe j. */
				if (p->bev == NULL)
					break;
			}
		}
		return 0;
	}
	if (m.type != KEYS_MSG_SIGN && m.type != KEYS_MSG_PASSWD)
		return -1;
	if (p->inflight > KEYS_PROTO_PEER_INFLIGHT)	/* 1: the read guard */
		return -1;
	j = xcalloc(1, sizeof(*j));
	j->p = p;
	j->k = p->k;
	j->req.type = m.type;
	j->req.id = m.id;
	if (m.type == KEYS_MSG_PASSWD) {
		keys_passwd(p, j, &m);
		return 0;
	}
	memcpy(j->tbs, m.data, m.datalen);
	j->op.key = m.handle;
	j->op.alg = (enum keyop_alg)m.alg;
	memcpy(j->op.md, m.md, sizeof(j->op.md));
	j->op.saltlen = m.saltlen;
	j->op.tbs = j->tbs;
	j->op.tbslen = m.datalen;
	p->inflight++;
	/* ECDSA and Ed25519 signatures take tens of microseconds: made here,
	 * on the loop, they spare each TLS handshake two thread hand-offs.
	 * RSA (a millisecond and more) goes to the signing threads. The
	 * algorithm must fit the key (keys_table_sign), so a peer cannot
	 * have RSA work done here by naming another one. */
	if (j->op.alg == KEYOP_ECDSA || j->op.alg == KEYOP_ED25519) {
		keys_job_run(j);
		keys_job_done(j, false);
		return 0;
	}
	keys_peer_submit(p, j);
	return 0;
}

static void
keys_peer_read_cb(struct bufferevent *bev, void *arg)
{
	struct keys_peer *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t body;
	int r = 0;

	/* Held while reading: a reply written meanwhile may drop the peer,
	 * which must not be freed under us. */
	p->inflight++;
	while (r != -1 && p->bev != NULL) {
		size_t avail = evbuffer_get_length(in);
		const uint8_t *h = evbuffer_pullup(in, avail < KEYS_PROTO_HDR ?
		    -1 : KEYS_PROTO_HDR);

		r = keys_proto_frame(h, avail, KEYS_PROTO_PEER_MAX, &body);
		if (r == 0)
			break;
		if (r == -1) {
			keys_peer_close(p, "oversized frame");
			break;
		}
		h = evbuffer_pullup(in, (ev_ssize_t)(KEYS_PROTO_HDR + body));
		r = keys_peer_request(p, h + KEYS_PROTO_HDR, body);
		/* The request may carry a password: wipe it from the buffer. */
		explicit_bzero((uint8_t *)h, KEYS_PROTO_HDR + body);
		evbuffer_drain(in, KEYS_PROTO_HDR + body);
		if (r == -1)
			keys_peer_close(p, "malformed request");
	}
	keys_peer_start(p);
	p->inflight--;
	keys_peer_unref(p);
}

static void
keys_peer_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		keys_peer_close(arg, NULL);
}

static void
keys_peer_add(struct keys *k, int fd)
{
	struct keys_peer *p = xcalloc(1, sizeof(*p));

	evutil_make_socket_nonblocking(fd);
	p->k = k;
	for (unsigned i = 0; i < KEYS_NPOOLS; i++)
		p->wait_tail[i] = &p->wait[i];
	p->bev = bufferevent_socket_new(k->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (p->bev == NULL)
		fatal("keys: cannot set up a peer");
	bufferevent_setcb(p->bev, keys_peer_read_cb, NULL, keys_peer_event_cb,
	    p);
	bufferevent_enable(p->bev, EV_READ);
	p->next = k->peers;
	k->peers = p;
	k->npeers++;
}

/* LOAD: parse and check the key, answer LOADED. */
static void
keys_ctl_load(struct keys *k, const struct keys_msg *m)
{
	struct keys_msg r = { .type = KEYS_MSG_LOADED, .id = m->id,
	    .handle = m->handle };
	enum keys_key_type type = 0;
	char err[KEYS_PROTO_TEXT_MAX];
	struct buf b;

	if (keys_table_load(k->table, m->handle, m->kind, m->data, m->datalen,
	    m->cert, m->certlen, &type, err, sizeof(err)) == -1) {
		r.status = 1;
		r.text = (const uint8_t *)err;
		r.textlen = strlen(err);
		for (size_t i = 0; i < r.textlen; i++)
			if (err[i] < 0x20 || err[i] > 0x7e)
				err[i] = '?';
	}
	r.kind = (uint8_t)type;
	buf_init(&b, KEYS_PROTO_PEER_MAX + KEYS_PROTO_TEXT_MAX);
	if (keys_proto_encode(&b, &r) == -1 ||
	    send(k->ctl, b.data, b.len, MSG_NOSIGNAL) != (ssize_t)b.len)
		fatal("keys: cannot answer the master: %s", strerror(errno));
	buf_clear(&b);
}

/* One packet from the master, with at most one descriptor (PEER). A
 * malformed packet is the master's bug: exit (STYLE.md §2). */
static void
keys_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct keys *k = arg;
	struct keys_msg m;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { k->ctlbuf, KEYS_PROTO_HDR + KEYS_PROTO_CTRL_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c;
	ssize_t n;
	size_t body;
	int pfd = -1;

	(void)what;
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* A newer generation took over: serve our peers to the end. */
		event_del(k->ctl_ev);
		close(k->ctl);
		k->ctl = -1;
		keys_maybe_exit(k);
		return;
	}
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)) && pfd == -1)
			memcpy(&pfd, CMSG_DATA(c), sizeof(int));
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    keys_proto_frame(k->ctlbuf, (size_t)n, KEYS_PROTO_CTRL_MAX,
	    &body) != 1 || KEYS_PROTO_HDR + body != (size_t)n ||
	    keys_proto_decode(k->ctlbuf + KEYS_PROTO_HDR, body, &m) == -1 ||
	    (m.type == KEYS_MSG_PEER) != (pfd != -1))
		fatal("keys: malformed message from the master");
	if (m.type == KEYS_MSG_LOAD)
		keys_ctl_load(k, &m);
	else if (m.type == KEYS_MSG_PEER)
		keys_peer_add(k, pfd);
	else if (m.type == KEYS_MSG_READY) {
		if (send(k->ctl, k->ctlbuf, (size_t)n, MSG_NOSIGNAL) != n)
			fatal("keys: cannot answer the master");
		log_info("keys ready");
	} else
		fatal("keys: unexpected message from the master");
	/* The packet may have been a private key. */
	explicit_bzero(k->ctlbuf, (size_t)n);
}

/* The admin listeners' password files (the workers ask by listener). A
 * file that does not load lets only loopback and trusted_networks in, as
 * the worker says when it starts the listener. */
static void
keys_admin_load(struct keys *k)
{
	char err[512];

	k->nadmin = k->conf->nlisteners;
	k->admin = xcalloc(k->nadmin + 1, sizeof(*k->admin));
	for (size_t i = 0; i < k->nadmin; i++) {
		const struct conf_listener *cl = &k->conf->listeners[i];
		if (cl->role != CONF_ROLE_ADMIN || cl->password_file == NULL)
			continue;
		if ((k->admin[i] = web_users_load(cl->password_file, err,
		    sizeof(err))) == NULL)
			log_warn("keys: listener %s: password_file not used: %s",
			    cl->name, err);
	}
}

static unsigned
keys_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 2 ? 2 : n > KEYS_THREADS_MAX ? KEYS_THREADS_MAX :
	    (unsigned)n;
}

struct keys *
keys_service_new(struct event_base *base, const struct conf *conf, int ctl)
{
	struct keys *k = xcalloc(1, sizeof(*k));

	k->base = base;
	k->conf = conf;
	k->ctl = ctl;
	k->table = keys_table_new();
	k->ctlbuf = xmalloc(KEYS_PROTO_HDR + KEYS_PROTO_CTRL_MAX);
	k->dummy = passwd_hash("sealmail-dummy-password");
	if (k->dummy == NULL)
		fatal("keys: cannot compute a password hash");
	keys_admin_load(k);
	k->remote = store_open_is_remote(conf);
	(void)k_db_open(k);
	return k;
}

void
keys_service_start(struct keys *k)
{
	k->share = keys_threads();
	k->pool[KEYS_POOL_SIGN] = workpool_new(k->base, k->share, "keys");
	k->pool[KEYS_POOL_PASSWD] = workpool_new(k->base, k->share,
	    "keys passwords");
	if (k->remote)
		k->lookup = workpool_new(k->base, 1, "keys password lookups");
	evutil_make_socket_nonblocking(k->ctl);
	k->ctl_ev = event_new(k->base, k->ctl, EV_READ | EV_PERSIST,
	    keys_ctl_cb, k);
	if (k->ctl_ev == NULL || event_add(k->ctl_ev, NULL) == -1)
		fatal("keys: cannot set up the loop");
}

void
keys_service_stop(struct keys *k)
{
	k->stopping = true;
	keys_maybe_exit(k);
}

void
keys_service_free(struct keys *k)
{
	/* Answers what is queued; peers wait. */
	workpool_free(k->lookup);
	for (unsigned i = 0; i < KEYS_NPOOLS; i++)
		workpool_free(k->pool[i]);
	while (k->peers != NULL) {
		struct keys_peer *p = k->peers;
		k->peers = p->next;
		if (p->bev)
			bufferevent_free(p->bev);
		free(p);
	}
	if (k->ctl_ev)
		event_free(k->ctl_ev);
	if (k->ctl != -1)
		close(k->ctl);
	keys_table_free(k->table);
	for (size_t i = 0; i < k->nadmin; i++)
		web_users_free(k->admin[i]);
	free(k->admin);
	free(k->ctlbuf);
	free(k->dummy);
	db_passwd_close(k->pw);
	free(k);
}
