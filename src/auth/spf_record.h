/* SPDX-License-Identifier: ISC */
/*
 * SPF records (RFC 7208 §4.5, §4.6, §5, §6, grammar in §12): recognise a
 * "v=spf1" TXT string and parse it into terms. Pure, no I/O.
 *
 * The record comes from the DNS and is untrusted: it is bytes plus a
 * length (NULs are refused), the number of terms is bounded by
 * SPF_RECORD_TERMS_MAX, and the whole record is checked before anything is
 * evaluated (§4.6: any syntax error anywhere is a permerror). Mechanism
 * and modifier names are case-insensitive; domain-specs are kept as
 * written and checked with spf_macro_check() (§7.1) and for a valid
 * domain-end (§4.8).
 */
#ifndef SEALMAIL_AUTH_SPF_RECORD_H
#define SEALMAIL_AUTH_SPF_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Terms (directives and modifiers) we accept in one record. A TXT RRset
 * can be 64 KiB; no real policy comes near this. More is a permerror. */
#define SPF_RECORD_TERMS_MAX	512

enum spf_qualifier {
	SPF_QUAL_PASS,		/* "+" (the default) */
	SPF_QUAL_FAIL,		/* "-" */
	SPF_QUAL_SOFTFAIL,	/* "~" */
	SPF_QUAL_NEUTRAL,	/* "?" */
};

enum spf_mech {
	SPF_MECH_ALL,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

struct spf_term {
	enum spf_mech		 mech;
	enum spf_qualifier	 qual;
	char			*spec;		/* domain-spec as written, or NULL
						 * (a, mx, ptr: the current domain) */
	uint8_t			 addr[16];	/* ip4 (4 octets) / ip6 network */
	unsigned		 cidr4;		/* 0..32, default 32 */
	unsigned		 cidr6;		/* 0..128, default 128 */
	char			*text;		/* the term as written, for logs
						 * and the "mechanism" of a result */
};

struct spf_record {
	struct spf_term	*terms;		/* mechanisms in record order */
	size_t		 nterms;
	char		*redirect;	/* domain-spec of redirect=, or NULL */
	char		*exp;		/* domain-spec of exp=, or NULL */
};

enum spf_record_result {
	SPF_RECORD_OK,
	SPF_RECORD_NOT_SPF,		/* does not start with "v=spf1" SP / end */
	SPF_RECORD_ERR_SYNTAX,		/* bad term, bad byte, bad qualifier */
	SPF_RECORD_ERR_MECHANISM,	/* unknown mechanism (§5) */
	SPF_RECORD_ERR_DUP_MODIFIER,	/* redirect= or exp= twice (§6) */
	SPF_RECORD_ERR_CIDR,		/* bad or out-of-range CIDR length */
	SPF_RECORD_ERR_ADDR,		/* bad ip4/ip6 network */
	SPF_RECORD_ERR_MACRO,		/* bad macro-string (§7.1) */
	SPF_RECORD_ERR_DOMAIN,		/* bad domain-end (§4.8), empty spec */
	SPF_RECORD_ERR_TOO_MANY,	/* more than SPF_RECORD_TERMS_MAX terms */
};

/*
 * True if txt (len bytes) is an SPF record: "v=spf1" in any case, followed
 * by a space or the end (§4.5). "v=spf10" and "v=spf1\t" are not.
 */
bool spf_record_is_spf(const char *txt, size_t len);

/*
 * Parse txt (len bytes). On SPF_RECORD_OK *out is a new record the caller
 * frees with spf_record_free(); otherwise *out is NULL and, if err is not
 * NULL, one line saying which term failed and why (the term text is
 * escaped) is written into err.
 */
enum spf_record_result spf_record_parse(const char *txt, size_t len,
    struct spf_record **out, char *err, size_t errlen);

void spf_record_free(struct spf_record *rec);

const char *spf_record_result_name(enum spf_record_result r);
const char *spf_mech_name(enum spf_mech m);

#endif
