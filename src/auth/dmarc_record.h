/* SPDX-License-Identifier: ISC */
/*
 * DMARC Policy Record parsing (RFC 9989 §4.7, §4.8). Pure: the input is the
 * untrusted text of one DNS TXT record (its character-strings already
 * concatenated, RFC 9989 §4.5) given as bytes plus a length; nothing is
 * allocated and nothing is kept.
 *
 * Reading of the RFC applied here:
 *  - The record must start with the "v" tag whose value is exactly
 *    "DMARC1" (case-sensitive, §4.7 "v"); otherwise it is not a DMARC
 *    record at all and the caller discards it (§4.10 step 2).
 *  - Every other syntax error is local to its tag: the tag is dropped and
 *    its default applies (§4.8 "Syntax errors in the remainder of the
 *    record MUST be discarded in favor of default values"). Each dropped
 *    tag sets a bit in `errors`, so check-domain can explain it.
 *  - Tag names and the keyword values (none, quarantine, reject, y, n, u,
 *    r, s) are compared case-insensitively (RFC 5234 quoted strings);
 *    unknown tags are ignored (§4.7). The first occurrence of a repeated
 *    tag wins; the repeat is flagged in `errors`.
 *  - p missing or invalid, or sp/np invalid, sets `policy_invalid`: §4.10.1
 *    then says to act as "p=none" when rua holds a valid URI and to apply
 *    no DMARC processing otherwise. dmarc.c makes that decision.
 *  - pct (historic, RFC 7489) is parsed into `pct` (-1 when absent) and is
 *    used only as RFC 9989 Appendix A.6 describes: "t=y" and "t=n" are the
 *    analogues of "pct=0" and "pct=100", so a record without a t tag that
 *    says pct=0 is read as test mode (dmarc_record_testing()). Values other
 *    than 0 request sampling, which RFC 9989 removed: the policy applies.
 */
#ifndef SEALMAIL_AUTH_DMARC_RECORD_H
#define SEALMAIL_AUTH_DMARC_RECORD_H

#include <stdbool.h>
#include <stddef.h>

/* Reporting URIs we keep per list (rua, ruf); further ones are ignored. */
#define DMARC_URIS_MAX		8
/* Length of one kept URI (longer ones are dropped as unusable). */
#define DMARC_URI_MAX		256

enum dmarc_policy {
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

enum dmarc_align {
	DMARC_ALIGN_RELAXED,	/* "r", the default */
	DMARC_ALIGN_STRICT,	/* "s" */
};

enum dmarc_psd {
	DMARC_PSD_U,		/* default: use the tree walk */
	DMARC_PSD_Y,		/* the domain is a Public Suffix Domain */
	DMARC_PSD_N,		/* the domain is an Organizational Domain */
};

/* Failure-reporting options (fo=), a bit set. */
#define DMARC_FO_0	0x01u
#define DMARC_FO_1	0x02u
#define DMARC_FO_D	0x04u
#define DMARC_FO_S	0x08u

/* Bits of dmarc_record.errors: which tags were dropped. */
#define DMARC_ERR_P		0x0001u
#define DMARC_ERR_SP		0x0002u
#define DMARC_ERR_NP		0x0004u
#define DMARC_ERR_ADKIM		0x0008u
#define DMARC_ERR_ASPF		0x0010u
#define DMARC_ERR_PSD		0x0020u
#define DMARC_ERR_T		0x0040u
#define DMARC_ERR_FO		0x0080u
#define DMARC_ERR_RUA		0x0100u	/* a URI of rua was dropped */
#define DMARC_ERR_RUF		0x0200u
#define DMARC_ERR_PCT		0x0400u
#define DMARC_ERR_SYNTAX	0x0800u	/* a tag-spec that is not name=value */
#define DMARC_ERR_DUPLICATE	0x1000u	/* a tag given twice */

struct dmarc_record {
	enum dmarc_policy p, sp, np;	/* sp and np only meaningful if has_ */
	bool		 has_p, has_sp, has_np;
	bool		 policy_invalid;	/* p absent/invalid, sp/np invalid */
	enum dmarc_align adkim, aspf;
	enum dmarc_psd	 psd;
	bool		 t;		/* t=y */
	bool		 has_t;
	int		 pct;		/* 0..100, or -1 when absent/invalid */
	unsigned	 fo;		/* DMARC_FO_*; DMARC_FO_0 by default */
	/* Valid reporting URIs, in record order, without the obsolete
	 * "!size" suffix (§4.8 obs-dmarc-uri). */
	char		 rua[DMARC_URIS_MAX][DMARC_URI_MAX + 1];
	size_t		 nrua;
	char		 ruf[DMARC_URIS_MAX][DMARC_URI_MAX + 1];
	size_t		 nruf;
	unsigned	 errors;	/* DMARC_ERR_* */
};

enum dmarc_record_result {
	DMARC_RECORD_OK,
	DMARC_RECORD_NOT_DMARC,	/* no leading v=DMARC1: ignore the record */
};

/*
 * Parse txt (len bytes, not NUL-terminated, may contain NULs) into *out,
 * which is fully overwritten. DMARC_RECORD_OK means a DMARC record (maybe
 * with dropped tags, see errors and policy_invalid); DMARC_RECORD_NOT_DMARC
 * leaves *out zeroed with defaults.
 */
enum dmarc_record_result dmarc_record_parse(const char *txt, size_t len,
    struct dmarc_record *out);

/* True if txt starts with a valid "v=DMARC1" tag (the §4.10 filter). */
bool dmarc_record_is_dmarc(const char *txt, size_t len);

/* Test mode per §4.7 "t" and Appendix A.6 (pct=0 without a t tag). */
bool dmarc_record_testing(const struct dmarc_record *r);

/* Static names: "none", "quarantine", "reject"; "r"/"s"; "y"/"n"/"u". */
const char *dmarc_policy_name(enum dmarc_policy p);
const char *dmarc_align_name(enum dmarc_align a);
const char *dmarc_psd_name(enum dmarc_psd p);

#endif
