/* SPDX-License-Identifier: ISC */
/* The keys process's wire protocol (see keys_proto.h). */
#include "keys/keys_proto.h"

#include <string.h>

#include "core/buf.h"

/* A reader over one body: every get checks the remaining length first. */
struct rd {
	const uint8_t	*p;
	size_t		 left;
	int		 err;
};

static uint32_t
rd_u(struct rd *r, size_t n)
{
	uint32_t v = 0;

	if (r->err || r->left < n) {
		r->err = 1;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		v = v << 8 | r->p[i];
	r->p += n;
	r->left -= n;
	return v;
}

/* A byte string with an lenbytes-octet length, min..max octets. */
static const uint8_t *
rd_bytes(struct rd *r, size_t lenbytes, size_t min, size_t max, size_t *len)
{
	const uint8_t *p;
	size_t n = rd_u(r, lenbytes);

	*len = 0;
	if (r->err || n < min || n > max || n > r->left) {
		r->err = 1;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	*len = n;
	return n ? p : NULL;
}

static bool
printable(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

int
keys_proto_frame(const uint8_t *p, size_t avail, size_t max, size_t *bodylen)
{
	size_t n;

	if (avail < KEYS_PROTO_HDR)
		return 0;
	n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	if (n > max || n < 5)
		return -1;
	if (avail - KEYS_PROTO_HDR < n)
		return 0;
	*bodylen = n;
	return 1;
}

static void
decode_sign(struct rd *r, struct keys_msg *m)
{
	const uint8_t *md;
	size_t mdlen;

	m->handle = rd_u(r, 4);
	m->alg = (uint8_t)rd_u(r, 1);
	md = rd_bytes(r, 1, 0, sizeof(m->md) - 1, &mdlen);
	if (mdlen > 0 && printable(md, mdlen))
		memcpy(m->md, md, mdlen);
	else if (mdlen > 0)
		r->err = 1;
	m->saltlen = (int32_t)rd_u(r, 4);
	m->data = rd_bytes(r, 2, 1, KEYOP_TBS_MAX, &m->datalen);
	if (m->alg < KEYOP_RSA_PKCS1 || m->alg > KEYOP_ED25519 ||
	    m->saltlen < -4 || m->saltlen > KEYOP_SIG_MAX)
		r->err = 1;
}

static void
decode_passwd(struct rd *r, struct keys_msg *m)
{
	m->realm = (uint16_t)rd_u(r, 2);
	m->user = rd_bytes(r, 2, 1, LIMIT_SASL_FIELD, &m->userlen);
	m->pass = rd_bytes(r, 2, 0, LIMIT_SASL_FIELD, &m->passlen);
	if ((m->user && memchr(m->user, 0, m->userlen)) ||
	    (m->pass && memchr(m->pass, 0, m->passlen)))
		r->err = 1;
}

int
keys_proto_decode(const uint8_t *p, size_t len, struct keys_msg *m)
{
	struct rd r = { p, len, 0 };

	memset(m, 0, sizeof(*m));
	m->type = (enum keys_msg_type)rd_u(&r, 1);
	m->id = rd_u(&r, 4);
	switch (m->type) {
	case KEYS_MSG_SIGN:
		decode_sign(&r, m);
		break;
	case KEYS_MSG_SIG:
		m->status = (uint8_t)rd_u(&r, 1);
		m->data = rd_bytes(&r, 2, 0, KEYOP_SIG_MAX, &m->datalen);
		if (m->status > 1 || (m->status == 0) != (m->datalen > 0))
			r.err = 1;
		break;
	case KEYS_MSG_PASSWD:
		decode_passwd(&r, m);
		break;
	case KEYS_MSG_PASSWD_RES:
		m->status = (uint8_t)rd_u(&r, 1);
		if (m->status > KEYS_PASSWD_TEMP)
			r.err = 1;
		break;
	case KEYS_MSG_LOAD:
		m->handle = rd_u(&r, 4);
		m->kind = (uint8_t)rd_u(&r, 1);
		m->data = rd_bytes(&r, 4, 1, KEYS_PROTO_PEM_MAX, &m->datalen);
		m->cert = rd_bytes(&r, 4, 0, KEYS_PROTO_PEM_MAX, &m->certlen);
		if (m->kind != KEYS_KIND_TLS && m->kind != KEYS_KIND_DKIM)
			r.err = 1;
		break;
	case KEYS_MSG_LOADED:
		m->handle = rd_u(&r, 4);
		m->status = (uint8_t)rd_u(&r, 1);
		m->kind = (uint8_t)rd_u(&r, 1);
		m->text = rd_bytes(&r, 2, 0, KEYS_PROTO_TEXT_MAX, &m->textlen);
		if (m->status > 1 || m->kind > KEYS_TYPE_ED25519 ||
		    (m->status == 0 && m->kind == 0) ||
		    !printable(m->text, m->textlen))
			r.err = 1;
		break;
	case KEYS_MSG_READY:
	case KEYS_MSG_PEER:
	case KEYS_MSG_CANCEL:
		break;
	default:
		r.err = 1;
	}
	if (r.err || r.left != 0) {
		memset(m, 0, sizeof(*m));
		return -1;
	}
	return 0;
}

static void
put_u(uint8_t **w, uint32_t v, size_t n)
{
	for (size_t i = n; i-- > 0;)
		*(*w)++ = (uint8_t)(v >> (8 * i));
}

static void
put_bytes(uint8_t **w, size_t lenbytes, const uint8_t *p, size_t n)
{
	put_u(w, (uint32_t)n, lenbytes);
	if (n > 0)
		memcpy(*w, p, n);
	*w += n;
}

long
keys_proto_frame_size(const struct keys_msg *m)
{
	size_t n = 5, mdlen = strnlen(m->md, sizeof(m->md));

	switch (m->type) {
	case KEYS_MSG_SIGN:
		if (mdlen >= sizeof(m->md) || m->datalen == 0 ||
		    m->datalen > KEYOP_TBS_MAX)
			return -1;
		n += 4 + 1 + 1 + mdlen + 4 + 2 + m->datalen;
		break;
	case KEYS_MSG_SIG:
		if (m->datalen > KEYOP_SIG_MAX)
			return -1;
		n += 1 + 2 + m->datalen;
		break;
	case KEYS_MSG_PASSWD:
		if (m->userlen == 0 || m->userlen > LIMIT_SASL_FIELD ||
		    m->passlen > LIMIT_SASL_FIELD)
			return -1;
		n += 2 + 2 + m->userlen + 2 + m->passlen;
		break;
	case KEYS_MSG_PASSWD_RES:
		n += 1;
		break;
	case KEYS_MSG_LOAD:
		if (m->datalen > KEYS_PROTO_PEM_MAX ||
		    m->certlen > KEYS_PROTO_PEM_MAX)
			return -1;
		n += 4 + 1 + 4 + m->datalen + 4 + m->certlen;
		break;
	case KEYS_MSG_LOADED:
		if (m->textlen > KEYS_PROTO_TEXT_MAX)
			return -1;
		n += 4 + 1 + 1 + 2 + m->textlen;
		break;
	case KEYS_MSG_READY:
	case KEYS_MSG_PEER:
	case KEYS_MSG_CANCEL:
		break;
	default:
		return -1;
	}
	return (long)(KEYS_PROTO_HDR + n);
}

long
keys_proto_encode_raw(uint8_t *dst, size_t room, const struct keys_msg *m)
{
	long size = keys_proto_frame_size(m);
	uint8_t *w = dst;

	if (size < 0 || (size_t)size > room)
		return -1;
	put_u(&w, (uint32_t)size - KEYS_PROTO_HDR, KEYS_PROTO_HDR);
	put_u(&w, m->type, 1);
	put_u(&w, m->id, 4);
	switch (m->type) {
	case KEYS_MSG_SIGN:
		put_u(&w, m->handle, 4);
		put_u(&w, m->alg, 1);
		put_bytes(&w, 1, (const uint8_t *)m->md,
		    strnlen(m->md, sizeof(m->md)));
		put_u(&w, (uint32_t)m->saltlen, 4);
		put_bytes(&w, 2, m->data, m->datalen);
		break;
	case KEYS_MSG_SIG:
		put_u(&w, m->status, 1);
		put_bytes(&w, 2, m->data, m->datalen);
		break;
	case KEYS_MSG_PASSWD:
		put_u(&w, m->realm, 2);
		put_bytes(&w, 2, m->user, m->userlen);
		put_bytes(&w, 2, m->pass, m->passlen);
		break;
	case KEYS_MSG_PASSWD_RES:
		put_u(&w, m->status, 1);
		break;
	case KEYS_MSG_LOAD:
		put_u(&w, m->handle, 4);
		put_u(&w, m->kind, 1);
		put_bytes(&w, 4, m->data, m->datalen);
		put_bytes(&w, 4, m->cert, m->certlen);
		break;
	case KEYS_MSG_LOADED:
		put_u(&w, m->handle, 4);
		put_u(&w, m->status, 1);
		put_u(&w, m->kind, 1);
		put_bytes(&w, 2, m->text, m->textlen);
		break;
	default:
		break;
	}
	return size;
}

long
keys_proto_load_iov(const struct keys_msg *m,
    uint8_t head[KEYS_PROTO_LOAD_HEAD], uint8_t mid[4], struct iovec iov[4])
{
	long size = keys_proto_frame_size(m);
	uint8_t *w = head;

	if (m->type != KEYS_MSG_LOAD || size < 0)
		return -1;
	put_u(&w, (uint32_t)size - KEYS_PROTO_HDR, KEYS_PROTO_HDR);
	put_u(&w, m->type, 1);
	put_u(&w, m->id, 4);
	put_u(&w, m->handle, 4);
	put_u(&w, m->kind, 1);
	put_u(&w, (uint32_t)m->datalen, 4);
	w = mid;
	put_u(&w, (uint32_t)m->certlen, 4);
	iov[0] = (struct iovec){ head, KEYS_PROTO_LOAD_HEAD };
	iov[1] = (struct iovec){ (void *)(uintptr_t)m->data, m->datalen };
	iov[2] = (struct iovec){ mid, 4 };
	iov[3] = (struct iovec){ (void *)(uintptr_t)m->cert, m->certlen };
	return size;
}

int
keys_proto_encode(struct buf *out, const struct keys_msg *m)
{
	uint8_t frame[KEYS_PROTO_PEER_MAX + KEYS_PROTO_TEXT_MAX + 64];
	long n;
	int r;

	/* LOAD (private keys) is sent with keys_proto_load_iov(), never
	 * copied. */
	if (m->type == KEYS_MSG_LOAD ||
	    (n = keys_proto_encode_raw(frame, sizeof(frame), m)) < 0)
		return -1;
	r = buf_append(out, frame, (size_t)n);
	explicit_bzero(frame, (size_t)n);
	return r;
}

void
keys_proto_sign_msg(struct keys_msg *m, uint32_t id, const struct keyop *op)
{
	memset(m, 0, sizeof(*m));
	m->type = KEYS_MSG_SIGN;
	m->id = id;
	m->handle = op->key;
	m->alg = (uint8_t)op->alg;
	memcpy(m->md, op->md, sizeof(m->md));
	m->md[sizeof(m->md) - 1] = '\0';
	m->saltlen = op->saltlen;
	m->data = op->tbs;
	m->datalen = op->tbslen;
}
