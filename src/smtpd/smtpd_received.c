/* SPDX-License-Identifier: ISC */
/*
 * Our Received: header (RFC 5321 §4.4), laid out like this:
 *
 *   Received: from HELO (RDNS [ADDR])
 *   	by BY (sealmail) with ESMTPSA id QID
 *   	tls TLS_AES_256_GCM_SHA384 group x25519
 *   	(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))
 *   	for <RCPT>; Fri, 27 Nov 2026 21:25:48 +0000
 *
 * The "with" type follows RFC 3848 and RFC 6531 §3.7.3, the tls clause
 * RFC 8314 §4.3; the comment repeats version and cipher for humans. The
 * header is how a reader (and `sealmail inspect`) tells whether a hop was
 * encrypted, so the client-chosen HELO must not be able to forge clauses:
 * it is cut down to one token of printable ASCII without the characters
 * that open or close comments and literals. Pure.
 */
#include "smtpd/smtpd_received.h"

#include <stdio.h>
#include <string.h>

#include "core/datetime.h"
#include "core/limits.h"

/* Strip a client- or DNS-supplied name to one safe token (or "unknown"). */
static void
smtpd_received_token(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (const char *p = in ? in : ""; *p && o + 1 < outlen; p++) {
		unsigned char c = (unsigned char)*p;
		/* Spaces go too: "x with ESMTPS tls ..." would read as
		 * clauses of our own. */
		if (c <= 0x20 || c >= 0x7f || strchr("()[]\\", c) != NULL)
			continue;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, outlen, "unknown");
}

/* Keep only the characters of an RFC 8314 tls-cipher / TLS version. */
static void
smtpd_received_word(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (const char *p = in ? in : ""; *p && o + 1 < outlen; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.')
			out[o++] = (char)c;
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, outlen, "unknown");
}

/* The recipient inside "for <...>": a checked address, but never let a
 * control byte (or 8-bit outside an SMTPUTF8 message) into a header. */
static void
smtpd_received_rcpt(const char *in, bool utf8, char *out, size_t outlen)
{
	size_t o = 0;

	for (const char *p = in; *p && o + 1 < outlen; p++) {
		unsigned char c = (unsigned char)*p;
		bool ok = (c > 0x20 && c < 0x7f && c != '<' && c != '>') ||
		    (c >= 0x80 && utf8);
		out[o++] = ok ? (char)c : '?';
	}
	out[o] = '\0';
}

const char *
smtpd_received_protocol(bool esmtp, bool tls, bool auth, bool smtputf8)
{
	/* Index: UTF8 * 4 + TLS * 2 + AUTH. RFC 3848 has no HELO-with-TLS
	 * type; a HELO client on an implicit-TLS port still gets ESMTPS so
	 * the encryption shows. */
	static const char *const types[8] = {
		"ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA",
		"UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA",
	};

	if (!esmtp && !tls && !auth)
		return "SMTP";
	return types[(smtputf8 ? 4 : 0) + (tls ? 2 : 0) + (auth ? 1 : 0)];
}

/* "from HELO (RDNS [ADDR])" and "by BY (sealmail) with T id QID" lines. */
static int
smtpd_received_head(struct buf *out, const struct smtpd_received_info *ri)
{
	char helo[LIMIT_HELO + 1], rdns[LIMIT_HELO + 1], addr[64];
	char by[LIMIT_HELO + 1], qid[64];
	const char *v6 = ri->addr && strchr(ri->addr, ':') ? "IPv6:" : "";
	bool tls = ri->tls_version != NULL;

	smtpd_received_token(ri->helo, helo, sizeof(helo));
	smtpd_received_token(ri->rdns, rdns, sizeof(rdns));
	smtpd_received_token(ri->addr, addr, sizeof(addr));
	smtpd_received_token(ri->by, by, sizeof(by));
	if (buf_printf(out, "Received: from %s (%s [%s%s])\r\n", helo, rdns,
	    v6, addr) < 0)
		return -1;
	if (buf_printf(out, "\tby %s (sealmail) with %s", by,
	    smtpd_received_protocol(ri->esmtp, tls, ri->authenticated,
	    ri->smtputf8)) < 0)
		return -1;
	if (ri->qid) {
		smtpd_received_token(ri->qid, qid, sizeof(qid));
		if (buf_printf(out, " id %s", qid) < 0)
			return -1;
	}
	return 0;
}

/* The RFC 8314 tls clause and the human-readable comment. */
static int
smtpd_received_tls(struct buf *out, const struct smtpd_received_info *ri)
{
	char version[32], cipher[128], group[64];

	smtpd_received_word(ri->tls_version, version, sizeof(version));
	smtpd_received_word(ri->tls_cipher, cipher, sizeof(cipher));
	if (buf_printf(out, "\r\n\ttls %s", cipher) < 0)
		return -1;
	if (ri->tls_group) {
		smtpd_received_word(ri->tls_group, group, sizeof(group));
		if (buf_printf(out, " group %s", group) < 0)
			return -1;
	}
	return buf_printf(out, "\r\n\t(using %s with cipher %s (%d/%d bits))",
	    version, cipher, ri->tls_bits, ri->tls_bits);
}

int
smtpd_received_format(struct buf *out, const struct smtpd_received_info *ri)
{
	char rcpt[LIMIT_PATH + 1], date[64];
	size_t start = out->len;

	datetime_rfc5322(ri->when, date, sizeof(date));
	if (smtpd_received_head(out, ri) < 0)
		goto fail;
	if (ri->tls_version && smtpd_received_tls(out, ri) < 0)
		goto fail;
	if (ri->for_rcpt) {
		smtpd_received_rcpt(ri->for_rcpt, ri->smtputf8, rcpt,
		    sizeof(rcpt));
		if (buf_printf(out, "\r\n\tfor <%s>; %s\r\n", rcpt, date) < 0)
			goto fail;
	} else if (buf_printf(out, ";\r\n\t%s\r\n", date) < 0)
		goto fail;
	return 0;
fail:
	/* Leave the buffer as it was, not with half a header. */
	buf_truncate(out, start);
	return -1;
}

int
smtpd_received_format_local(struct buf *out, const char *user,
    unsigned long uid, const char *by, const char *qid, time_t when)
{
	char date[64], who[96];

	datetime_rfc5322(when, date, sizeof(date));
	if (user != NULL && user[0] != '\0')
		snprintf(who, sizeof(who), "user %.64s (uid %lu)", user, uid);
	else
		snprintf(who, sizeof(who), "uid %lu (no user name)", uid);
	return buf_printf(out, "Received: from local %s\r\n\tby %s (sealmail) "
	    "with local id %s; %s\r\n", who, by, qid, date);
}
