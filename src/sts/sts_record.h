/* SPDX-License-Identifier: ISC */
/*
 * The MTA-STS TXT record at _mta-sts.DOMAIN (RFC 8461 §3.1). Pure: the input
 * is the untrusted text of TXT records (character-strings already
 * concatenated, as dns_rr.h delivers them) given as bytes plus a length;
 * nothing is allocated and nothing is kept.
 *
 * Reading of the RFC applied here (ABNF of §3.1, RFC 7405 %s = case-
 * sensitive):
 *  - a record is an STS record when it begins with "v=STSv1" followed by
 *    the end, a space/tab or ';'; other records of the RRset are ignored;
 *  - after the version at least one field, each "name=value" with the
 *    sts-ext-name / sts-ext-value character sets, separated by *WSP ";" *WSP,
 *    one optional final delimiter; anything else is a syntax error;
 *  - "id" must be 1-32 letters or digits; a field named "id" with any other
 *    value is an error (stricter than reading it as an extension, so a
 *    mistyped id is reported, not silently missing); the first id wins
 *    (§3.2: duplicates of non-repeated fields are ignored); no id = error;
 *  - the RRset holds exactly one STS record, or there is no policy: more
 *    than one (even identical ones) means no available policy (§3.1).
 */
#ifndef SEALMAIL_STS_STS_RECORD_H
#define SEALMAIL_STS_STS_RECORD_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 8461 §3.1: sts-id = 1*32(ALPHA / DIGIT). */
#define STS_ID_MAX		32

enum sts_record_result {
	STS_RECORD_OK,
	STS_RECORD_NONE,	/* not an STSv1 record; for a set: none is */
	STS_RECORD_MULTIPLE,	/* a set with more than one STSv1 record */
	STS_RECORD_INVALID,	/* an STSv1 record that breaks the syntax */
};

struct sts_record {
	char	id[STS_ID_MAX + 1];	/* NUL-terminated, 1..32 alnum */
};

/* Whether txt starts like an STSv1 record (the §3.1 discard rule). */
bool sts_record_is_sts(const char *txt, size_t len);

/*
 * Parse one record. STS_RECORD_OK fills out; STS_RECORD_NONE when the
 * text is not an STSv1 record; STS_RECORD_INVALID with a one-line reason in
 * why (may be NULL) otherwise. out is untouched unless OK.
 */
enum sts_record_result sts_record_parse(const char *txt, size_t len,
    struct sts_record *out, char *why, size_t whylen);

/*
 * Pick the record from all n TXT strings of the _mta-sts RRset (txt[i] of
 * len[i] bytes): non-STS records are skipped, then exactly one must remain
 * and parse. Returns OK (out filled), NONE, MULTIPLE or INVALID (why says
 * why, as for sts_record_parse).
 */
enum sts_record_result sts_record_select(const char *const *txt,
    const size_t *len, size_t n, struct sts_record *out, char *why,
    size_t whylen);

/* "ok", "none", "multiple", "invalid"; never NULL. */
const char *sts_record_result_name(enum sts_record_result r);

#endif
