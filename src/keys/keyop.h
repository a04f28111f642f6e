/* SPDX-License-Identifier: ISC */
/*
 * The seam between code that needs a private-key signature (the TLS
 * provider, DKIM and ARC signing) and whatever holds the keys: in the
 * daemon the keys process (keys_client.c registers itself as the
 * backend), in unit tests an in-process backend. A worker never holds a
 * private key; it names one by handle.
 */
#ifndef SEALMAIL_KEYS_KEYOP_H
#define SEALMAIL_KEYS_KEYOP_H

#include <stddef.h>
#include <stdint.h>

/* Largest input to sign: a digest, or an Ed25519 message (TLS 1.3's
 * CertificateVerify content is 64 + 34 + 64 octets; DKIM's is a SHA-256). */
#define KEYOP_TBS_MAX	256
/* Largest signature: RSA 8192 bits. */
#define KEYOP_SIG_MAX	1024

/* TLS key handles are the [tls] cert/key pairs' indexes in conf->certs. */
#define KEYOP_HANDLE_TLS(i)	((uint32_t)(i))
/* DKIM key handles start here (the keys process numbers them in the
 * order dkim_keys_load() finds them). */
#define KEYOP_HANDLE_DKIM0	0x10000u

enum keyop_alg {
	KEYOP_RSA_PKCS1 = 1,	/* tbs is a digest made with md */
	KEYOP_RSA_PSS = 2,	/* tbs is a digest; MGF1 with md, saltlen */
	KEYOP_ECDSA = 3,	/* tbs is a digest; signature DER */
	KEYOP_ED25519 = 4,	/* tbs is the message itself (PureEdDSA) */
};

struct keyop {
	uint32_t	 key;		/* a KEYOP_HANDLE_* */
	enum keyop_alg	 alg;
	char		 md[16];	/* "SHA256", "SHA384"...; "" for Ed25519 */
	int		 saltlen;	/* RSA-PSS salt in octets */
	const uint8_t	*tbs;		/* borrowed, tbslen <= KEYOP_TBS_MAX */
	size_t		 tbslen;
};

/* Called once per keyop_start, on the caller's event loop: sig[0..siglen)
 * (borrowed for the call) or sig == NULL when the operation failed. */
typedef void keyop_done_cb(void *arg, const uint8_t *sig, size_t siglen);

struct keyop_backend {
	/* Start op; the callback follows later, never from inside start.
	 * -1 if it cannot even be queued (then no callback). */
	int	(*start)(void *be, const struct keyop *op, keyop_done_cb *cb,
		    void *arg);
	/* Blocking: for callers without an event loop at hand (the HTTPS
	 * listeners' handshakes, command-line tools). 0 and the signature
	 * in sig[0..*siglen) (siglen in: room), or -1. */
	int	(*sync)(void *be, const struct keyop *op, uint8_t *sig,
		    size_t *siglen);
	void	*be;
};

/* The process's backend (one per process; set at child start, before any
 * signature is needed). The pointer is kept, not copied. */
void keyop_set_backend(const struct keyop_backend *b);
const struct keyop_backend *keyop_backend(void);

#endif
