/* SPDX-License-Identifier: ISC */
/*
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and
 * 2) that a load balancer sends before anything else on a connection, to
 * name the client it accepted. A pure, push-style parser: the caller
 * feeds the bytes it has peeked at, and learns how many of them belong
 * to the header, so that the TLS or SMTP bytes behind it stay in the
 * socket for the session. Its input is untrusted (any peer allowed to
 * connect could send it); everything is bounded by the struct itself.
 */
#ifndef SEALMAIL_NET_PROXY_PROTO_H
#define SEALMAIL_NET_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A version 1 header is at most 107 bytes with its CRLF (spec §2.1). */
#define PROXY_PROTO_V1_MAX	107
/* The fixed part of a version 2 header: signature, version and command,
 * family and transport, length (spec §2.2). */
#define PROXY_PROTO_V2_FIXED	16
/* The longest address block we keep (AF_UNIX: 2 x 108 bytes); the TLVs
 * after it are checked for structure and skipped, never stored. */
#define PROXY_PROTO_V2_ADDR_MAX	216

enum proxy_proto_result {
	PROXY_PROTO_MORE,	/* every byte fed is the header's; feed more */
	PROXY_PROTO_DONE,	/* the header ends: *used bytes were its */
	PROXY_PROTO_ERR_SIGNATURE,	/* not a PROXY header at all */
	PROXY_PROTO_ERR_SYNTAX,		/* a malformed v1 line */
	PROXY_PROTO_ERR_TOO_LONG,	/* v1 past 107 bytes without CRLF */
	PROXY_PROTO_ERR_VERSION,	/* v2 version or command unknown */
	PROXY_PROTO_ERR_FAMILY,		/* v2 family/transport invalid */
	PROXY_PROTO_ERR_LENGTH,		/* v2 length too short for it */
	PROXY_PROTO_ERR_TLV,		/* a v2 TLV overruns the header */
};

struct proxy_proto {
	/* The result, once PROXY_PROTO_DONE was returned. */
	int			 version;	/* 1 or 2 */
	/* True when the header names the client (v1 TCP4/TCP6, v2 PROXY
	 * over INET/INET6 with STREAM): src and dst hold it, ports
	 * included. False for v2 LOCAL (a health check of the proxy's own),
	 * v1 UNKNOWN and v2 UNSPEC or UNIX: the connection stands for
	 * itself (spec: "use the real connection endpoints"). */
	bool			 has_addr;
	bool			 local;		/* v2 LOCAL command */
	struct sockaddr_storage	 src, dst;

	/* Parser state. */
	int			 state;
	uint8_t			 buf[PROXY_PROTO_V1_MAX];	/* v1 line, or
						 * v2 fixed part */
	size_t			 have;		/* bytes in buf */
	uint8_t			 addr[PROXY_PROTO_V2_ADDR_MAX];
	size_t			 addr_have, addr_len;	/* v2 address block */
	size_t			 rest;		/* v2 bytes after it (TLVs) */
	uint8_t			 tlv[3];	/* type and length of the TLV
						 * being read */
	size_t			 tlv_have;
	size_t			 tlv_left;	/* its value bytes still to
						 * skip */
};

/* Ready p for a new header. */
void proxy_proto_init(struct proxy_proto *p);

/*
 * Feed len bytes (the next ones on the connection). *used is how many of
 * them belong to the header: all of them with PROXY_PROTO_MORE, those up
 * to its end with PROXY_PROTO_DONE (the rest belong to the session). After
 * an error, p is done; the connection must be dropped.
 */
enum proxy_proto_result proxy_proto_feed(struct proxy_proto *p,
    const uint8_t *data, size_t len, size_t *used);

/* At most how many more bytes the header can take (peek no more than
 * that, to learn where it ends); at least 1 until it is done. */
size_t proxy_proto_want(const struct proxy_proto *p);

/* The error's name for a log line ("signature", "v1-syntax", ...). */
const char *proxy_proto_result_text(enum proxy_proto_result r);

#endif
