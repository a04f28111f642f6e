/* SPDX-License-Identifier: ISC */
/* The connection to the keys process (see keys_client.h). */
#include "keys/keys_client.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"

/* A blocking call that waits longer than this gives up; its answer,
 * when it comes late, is skipped by its id. */
#define KEYS_CLIENT_SYNC_TIMEOUT_MS	10000

/* One request waiting for its answer: slot i of a fixed table, its id
 * (i + 1) | (seq << 16), so a late answer for a reused slot is ignored. */
struct keys_pending {
	uint32_t		 id;	/* 0: free */
	enum keys_msg_type	 want;	/* SIG or PASSWD_RES */
	keyop_done_cb		*sign_cb;
	keys_client_passwd_cb	*passwd_cb;
	void			*arg;	/* both NULL: cancelled */
};

struct keys_client {
	struct event_base	*base;
	struct bufferevent	*bev;	/* NULL once the keys process left */
	struct keys_pending	 pend[KEYS_PROTO_PEER_INFLIGHT];
	unsigned		 npend;
	uint32_t		 seq;
	struct keyop_backend	 backend;
	pthread_mutex_t		 sync_lock;
	int			 sync_fd;	/* -1: unusable */
	uint32_t		 sync_seq;
};

static int keys_client_inherited[2] = { -1, -1 };

void
keys_client_inherit(int async_fd, int sync_fd)
{
	keys_client_inherited[0] = async_fd;
	keys_client_inherited[1] = sync_fd;
}

static struct keys_pending *
keys_client_find(struct keys_client *kc, uint32_t id)
{
	uint32_t slot = (id & 0xffffu) - 1;

	if (slot >= KEYS_PROTO_PEER_INFLIGHT || kc->pend[slot].id != id)
		return NULL;
	return &kc->pend[slot];
}

/* Answer one pending request (sig or r) and free its slot. */
static void
keys_client_answer(struct keys_client *kc, struct keys_pending *p,
    const uint8_t *sig, size_t siglen, enum keys_passwd_res r)
{
	struct keys_pending copy = *p;

	memset(p, 0, sizeof(*p));
	kc->npend--;
	if (copy.sign_cb != NULL)
		copy.sign_cb(copy.arg, sig, siglen);
	else if (copy.passwd_cb != NULL)
		copy.passwd_cb(copy.arg, r);
}

/* The keys process is gone or spoke nonsense: fail everything pending. */
static void
keys_client_lost(struct keys_client *kc, const char *why)
{
	if (kc->bev == NULL)
		return;
	if (why != NULL)
		log_warn("keys process connection lost: %s", why);
	bufferevent_free(kc->bev);
	kc->bev = NULL;
	for (size_t i = 0; i < KEYS_PROTO_PEER_INFLIGHT; i++)
		if (kc->pend[i].id != 0)
			keys_client_answer(kc, &kc->pend[i], NULL, 0,
			    KEYS_PASSWD_TEMP);
}

static void
keys_client_read_cb(struct bufferevent *bev, void *arg)
{
	struct keys_client *kc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct keys_pending *p;
	struct keys_msg m;
	size_t body, avail;
	const uint8_t *h;
	int r;

	while (kc->bev != NULL) {
		avail = evbuffer_get_length(in);
		h = evbuffer_pullup(in, avail < KEYS_PROTO_HDR ? -1 :
		    KEYS_PROTO_HDR);
		if ((r = keys_proto_frame(h, avail, KEYS_PROTO_PEER_MAX,
		    &body)) == 0)
			return;
		h = r == 1 ? evbuffer_pullup(in, (ev_ssize_t)(KEYS_PROTO_HDR +
		    body)) : NULL;
		if (r == -1 || keys_proto_decode(h + KEYS_PROTO_HDR, body,
		    &m) == -1 || (m.type != KEYS_MSG_SIG &&
		    m.type != KEYS_MSG_PASSWD_RES)) {
			keys_client_lost(kc, "malformed answer");
			return;
		}
		/* The answer is copied out before the buffer is drained:
		 * the callback gets a borrowed signature. */
		uint8_t sig[KEYOP_SIG_MAX];
		size_t siglen = m.datalen;
		if (siglen > 0)
			memcpy(sig, m.data, siglen);
		evbuffer_drain(in, KEYS_PROTO_HDR + body);
		if ((p = keys_client_find(kc, m.id)) == NULL)
			continue;	/* cancelled and reused, or stale */
		if (m.type != p->want) {
			keys_client_lost(kc, "answer of the wrong type");
			return;
		}
		keys_client_answer(kc, p, m.type == KEYS_MSG_SIG &&
		    m.status == 0 ? sig : NULL, siglen,
		    (enum keys_passwd_res)m.status);
	}
}

static void
keys_client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		keys_client_lost(arg, what & BEV_EVENT_EOF ? "closed" :
		    "error");
}

/* A free slot with a fresh id, or NULL. */
static struct keys_pending *
keys_client_slot(struct keys_client *kc)
{
	if (kc->bev == NULL || kc->npend >= KEYS_PROTO_PEER_INFLIGHT)
		return NULL;
	for (uint32_t i = 0; i < KEYS_PROTO_PEER_INFLIGHT; i++)
		if (kc->pend[i].id == 0) {
			kc->seq = (kc->seq + 1) & 0xffffu;
			kc->pend[i].id = (i + 1) | (kc->seq << 16);
			kc->npend++;
			return &kc->pend[i];
		}
	return NULL;
}

static int
keys_client_send(struct keys_client *kc, struct keys_pending *p,
    const struct keys_msg *m)
{
	struct buf b;
	int r;

	buf_init(&b, KEYS_PROTO_HDR + KEYS_PROTO_PEER_MAX);
	r = keys_proto_encode(&b, m);
	if (r == 0)
		r = bufferevent_write(kc->bev, b.data, b.len);
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	buf_clear(&b);
	if (r == -1) {
		memset(p, 0, sizeof(*p));
		kc->npend--;
	}
	return r;
}

/* keyop_backend.start */
static int
keys_client_start(void *be, const struct keyop *op, keyop_done_cb *cb,
    void *arg)
{
	struct keys_client *kc = be;
	struct keys_pending *p = keys_client_slot(kc);
	struct keys_msg m;

	if (p == NULL)
		return -1;
	p->want = KEYS_MSG_SIG;
	p->sign_cb = cb;
	p->arg = arg;
	keys_proto_sign_msg(&m, p->id, op);
	return keys_client_send(kc, p, &m);
}

uint32_t
keys_client_passwd(struct keys_client *kc, uint16_t realm, const char *user,
    const char *pass, keys_client_passwd_cb *cb, void *arg)
{
	struct keys_pending *p;
	struct keys_msg m = { .type = KEYS_MSG_PASSWD, .realm = realm };

	if (kc == NULL || (p = keys_client_slot(kc)) == NULL)
		return 0;
	p->want = KEYS_MSG_PASSWD_RES;
	p->passwd_cb = cb;
	p->arg = arg;
	m.id = p->id;
	m.user = (const uint8_t *)user;
	m.userlen = strlen(user);
	m.pass = (const uint8_t *)pass;
	m.passlen = strlen(pass);
	return keys_client_send(kc, p, &m) == 0 ? m.id : 0;
}

void
keys_client_cancel(struct keys_client *kc, uint32_t id)
{
	struct keys_pending *p;

	if (kc != NULL && (p = keys_client_find(kc, id)) != NULL) {
		struct keys_msg m = { .type = KEYS_MSG_CANCEL, .id = id };
		struct buf b;

		p->sign_cb = NULL;
		p->passwd_cb = NULL;
		p->arg = NULL;
		/* Spare the keys process the work (a password hash); the
		 * answer still comes and frees the slot. */
		buf_init(&b, KEYS_PROTO_HDR + 16);
		if (kc->bev != NULL && keys_proto_encode(&b, &m) == 0)
			bufferevent_write(kc->bev, b.data, b.len);
		buf_clear(&b);
	}
}

/* Write all of p[0..n) to fd, or -1. */
static int
keys_client_write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read exactly n octets from fd within the timeout, or -1; -3 when the
 * time ran out before the first octet (the stream is still in step). */
static int
keys_client_read_all(int fd, uint8_t *p, size_t n)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	bool none = true;

	while (n > 0) {
		int ready = poll(&pfd, 1, KEYS_CLIENT_SYNC_TIMEOUT_MS);
		if (ready == -1 && errno == EINTR)
			continue;
		if (ready != 1)
			return ready == 0 && none ? -3 : -1;
		none = false;
		ssize_t r = recv(fd, p, n, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One request and its answer on the sync socket; the lock held. -1: a
 * failed signature or a timeout (answers to calls that timed out are
 * skipped later: the keys process answers every request); -2: the
 * socket is gone or out of step. */
static int
keys_client_sync_call(struct keys_client *kc, const struct keyop *op,
    uint8_t *sig, size_t *siglen)
{
	uint8_t frame[KEYS_PROTO_HDR + KEYS_PROTO_PEER_MAX];
	struct keys_msg m;
	size_t body;
	long n;
	int r;

	kc->sync_seq++;
	keys_proto_sign_msg(&m, kc->sync_seq, op);
	if ((n = keys_proto_encode_raw(frame, sizeof(frame), &m)) < 0)
		return -1;
	if (keys_client_write_all(kc->sync_fd, frame, (size_t)n) == -1)
		return -2;
	do {
		if ((r = keys_client_read_all(kc->sync_fd, frame,
		    KEYS_PROTO_HDR)) < 0)
			return r == -3 ? -1 : -2;
		body = (size_t)frame[0] << 24 | (size_t)frame[1] << 16 |
		    (size_t)frame[2] << 8 | frame[3];
		if (body < 5 || body > KEYS_PROTO_PEER_MAX ||
		    keys_client_read_all(kc->sync_fd, frame + KEYS_PROTO_HDR,
		    body) < 0 || keys_proto_decode(frame + KEYS_PROTO_HDR, body,
		    &m) == -1 || m.type != KEYS_MSG_SIG ||
		    (m.id != kc->sync_seq &&	/* an id never asked */
		    m.id - kc->sync_seq < 0x80000000u))
			return -2;
	} while (m.id != kc->sync_seq);	/* a late answer, skipped */
	if (m.status != 0 || m.datalen > *siglen)
		return -1;
	memcpy(sig, m.data, m.datalen);
	*siglen = m.datalen;
	return 0;
}

/* keyop_backend.sync */
static int
keys_client_sync(void *be, const struct keyop *op, uint8_t *sig,
    size_t *siglen)
{
	struct keys_client *kc = be;
	int r = -1;

	pthread_mutex_lock(&kc->sync_lock);
	if (kc->sync_fd != -1 &&
	    (r = keys_client_sync_call(kc, op, sig, siglen)) == -2) {
		/* Out of step or gone: never reuse it. */
		log_warn("keys process connection lost (blocking calls)");
		close(kc->sync_fd);
		kc->sync_fd = -1;
		r = -1;
	}
	pthread_mutex_unlock(&kc->sync_lock);
	return r;
}

struct keys_client *
keys_client_open(struct event_base *base)
{
	struct keys_client *kc;

	if (keys_client_inherited[0] == -1)
		return NULL;
	kc = xcalloc(1, sizeof(*kc));
	kc->base = base;
	evutil_make_socket_nonblocking(keys_client_inherited[0]);
	kc->bev = bufferevent_socket_new(base, keys_client_inherited[0],
	    BEV_OPT_CLOSE_ON_FREE);
	if (kc->bev == NULL)
		fatal("cannot connect to the keys process");
	bufferevent_setcb(kc->bev, keys_client_read_cb, NULL,
	    keys_client_event_cb, kc);
	bufferevent_enable(kc->bev, EV_READ);
	pthread_mutex_init(&kc->sync_lock, NULL);
	kc->sync_fd = keys_client_inherited[1];
	keys_client_inherited[0] = keys_client_inherited[1] = -1;
	kc->backend.start = keys_client_start;
	kc->backend.sync = keys_client_sync;
	kc->backend.be = kc;
	keyop_set_backend(&kc->backend);
	return kc;
}

const struct keyop_backend *
keys_client_backend(struct keys_client *kc)
{
	return &kc->backend;
}

void
keys_client_free(struct keys_client *kc)
{
	if (kc == NULL)
		return;
	if (keyop_backend() == &kc->backend)
		keyop_set_backend(NULL);
	keys_client_lost(kc, NULL);
	if (kc->sync_fd != -1)
		close(kc->sync_fd);
	pthread_mutex_destroy(&kc->sync_lock);
	free(kc);
}
