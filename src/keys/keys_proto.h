/* SPDX-License-Identifier: ISC */
/*
 * The keys process's wire protocol (pure codec, no I/O): typed,
 * length-prefixed messages between the keys process and its peers (SMTP
 * workers and the queue runner: SIGN, PASSWD) and the master (LOAD,
 * READY, PEER). A frame is a 4-octet big-endian body length, then the
 * body: type (1 octet), request id (4 octets BE), the type's fields.
 * Integers are big-endian; byte strings carry a 2- or 4-octet length.
 * Every decoder check is against the remaining length and the field's
 * own bound: the bytes come from a process that may be compromised.
 * Decoded byte strings are borrowed from the frame.
 */
#ifndef SEALMAIL_KEYS_KEYS_PROTO_H
#define SEALMAIL_KEYS_KEYS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/limits.h"
#include "keys/keyop.h"

struct buf;

/* The length prefix. */
#define KEYS_PROTO_HDR		4
/* Largest PEM file the master hands over (a certificate chain or a key). */
#define KEYS_PROTO_PEM_MAX	(64 * 1024)
/* Largest body from the master (LOAD: a key and its certificate chain). */
#define KEYS_PROTO_CTRL_MAX	(2 * KEYS_PROTO_PEM_MAX + 64)
/* Largest body from a worker or the runner, and from the keys process to
 * them (a SIGN with the largest tbs, a PASSWD with the longest fields). */
#define KEYS_PROTO_PEER_MAX	(KEYOP_SIG_MAX + 64)
/* Requests a peer may have outstanding; more close its connection. */
#define KEYS_PROTO_PEER_INFLIGHT	256
/* One line of error text in LOADED. */
#define KEYS_PROTO_TEXT_MAX	512

enum keys_msg_type {
	KEYS_MSG_SIGN = 1,	/* peer -> keys: op */
	KEYS_MSG_SIG,		/* keys -> peer: status, data = signature */
	KEYS_MSG_PASSWD,	/* peer -> keys: realm, user, pass */
	KEYS_MSG_PASSWD_RES,	/* keys -> peer: status (keys_passwd_res) */
	KEYS_MSG_LOAD,		/* master -> keys: handle, kind, data = key
				 * PEM, cert = certificate PEM (TLS only) */
	KEYS_MSG_LOADED,	/* keys -> master: handle, status, kind =
				 * the key's keyop_alg family, text */
	KEYS_MSG_READY,		/* master -> keys: all loaded; keys -> master:
				 * serving */
	KEYS_MSG_PEER,		/* master -> keys: a peer's socket rides
				 * along (SCM_RIGHTS) */
	KEYS_MSG_CANCEL,	/* peer -> keys: nobody waits for request
				 * id any more (its answer still comes) */
};
#define KEYS_MSG_TYPE_MAX	KEYS_MSG_CANCEL

enum keys_key_kind {
	KEYS_KIND_TLS = 1,
	KEYS_KIND_DKIM = 2,
};

/* The key's type, in LOADED (what a worker needs to name the algorithm). */
enum keys_key_type {
	KEYS_TYPE_RSA = 1,
	KEYS_TYPE_EC = 2,
	KEYS_TYPE_ED25519 = 3,
};

/* Whose passwords a PASSWD means: the store's accounts (their hashes in
 * passwd.db), or the
 * password_file of admin listener conf->listeners[i]. */
#define KEYS_REALM_STORE	0
#define KEYS_REALM_ADMIN(i)	((uint16_t)((i) + 1))

enum keys_passwd_res {
	KEYS_PASSWD_OK = 0,
	KEYS_PASSWD_WRONG = 1,	/* or an unknown user */
	KEYS_PASSWD_TEMP = 2,	/* the store failed: try again later */
};

/* One decoded message; which fields count depends on type. */
struct keys_msg {
	enum keys_msg_type	 type;
	uint32_t		 id;
	/* SIGN */
	uint32_t		 handle;	/* also LOAD, LOADED */
	uint8_t			 alg;		/* enum keyop_alg */
	char			 md[sizeof(((struct keyop *)0)->md)];
	int32_t			 saltlen;
	/* SIGN: tbs (<= KEYOP_TBS_MAX); SIG: signature (<= KEYOP_SIG_MAX);
	 * LOAD: key PEM (<= KEYS_PROTO_PEM_MAX). */
	const uint8_t		*data;
	size_t			 datalen;
	/* LOAD: certificate PEM or empty. */
	const uint8_t		*cert;
	size_t			 certlen;
	/* PASSWD: realm, then user and pass: 1..LIMIT_SASL_FIELD and
	 * 0..LIMIT_SASL_FIELD octets, no NUL. */
	uint16_t		 realm;
	const uint8_t		*user;
	size_t			 userlen;
	const uint8_t		*pass;
	size_t			 passlen;
	/* SIG: 0 ok, 1 failed; PASSWD_RES: keys_passwd_res; LOADED: 0 ok,
	 * 1 refused (text says why). */
	uint8_t			 status;
	uint8_t			 kind;		/* LOAD: keys_key_kind;
						 * LOADED: keys_key_type */
	const uint8_t		*text;		/* LOADED: printable, no NUL */
	size_t			 textlen;
};

/*
 * Whether p[0..avail) starts with a whole frame: 1 with its body length
 * in *bodylen (the frame is KEYS_PROTO_HDR + *bodylen octets), 0 when more
 * octets are needed, -1 when the announced body is over max or under the
 * type-and-id minimum (the peer is broken: drop it).
 */
int keys_proto_frame(const uint8_t *p, size_t avail, size_t max,
    size_t *bodylen);

/* Decode one body p[0..len) into *m (zeroed first; byte strings borrowed
 * from p). -1 on any malformation: unknown type, a field past the end or
 * over its bound, trailing octets, bad enum values. */
int keys_proto_decode(const uint8_t *p, size_t len, struct keys_msg *m);

/* The size of m's frame (length prefix included), or -1 when a field is
 * over its bound or the type is unknown. */
long keys_proto_frame_size(const struct keys_msg *m);
/* Write m's frame at dst[0..room): its size, or -1 (too big for room, or
 * as keys_proto_frame_size). For frames that must not linger in a buf. */
long keys_proto_encode_raw(uint8_t *dst, size_t room,
    const struct keys_msg *m);

/* The octets of a LOAD frame before its key. */
#define KEYS_PROTO_LOAD_HEAD	(KEYS_PROTO_HDR + 1 + 4 + 4 + 1 + 4)
/*
 * A LOAD frame as sendmsg() pieces, its key and certificate not copied:
 * iov[0] the octets before the key (written to head), iov[1] m->data,
 * iov[2] the certificate's length (written to mid), iov[3] m->cert. A
 * copy would pass the key through the CPU's vector registers, which no
 * wipe reaches and which the dynamic linker's lazy binding later spills
 * onto the stack: into every child the master forks. The frame's size,
 * or -1 (not a LOAD, or as keys_proto_frame_size).
 */
long keys_proto_load_iov(const struct keys_msg *m,
    uint8_t head[KEYS_PROTO_LOAD_HEAD], uint8_t mid[4], struct iovec iov[4]);
/* Append m (any type but LOAD) as one frame to out. -1 (out unchanged)
 * when a field is over its bound or out is full. */
int keys_proto_encode(struct buf *out, const struct keys_msg *m);

/* The message to sign op as request id. */
void keys_proto_sign_msg(struct keys_msg *m, uint32_t id,
    const struct keyop *op);

#endif
