/* SPDX-License-Identifier: ISC */
/*
 * RFC 9990 aggregate reports, the pure part of dmarc_agg.c: the XML of
 * one report from the store's records, its Report-ID and file name.
 * Everything here is deterministic, so a report sent again after a crash
 * is the same report.
 */
#ifndef SEALMAIL_REPORT_DMARC_AGG_H
#define SEALMAIL_REPORT_DMARC_AGG_H

#include <stddef.h>

struct buf;
struct db_dmarc_policy;
struct db_dmarc_record;

#define DMARC_AGG_NS	"urn:ietf:params:xml:ns:dmarc-2.0"
/* 32 hex digits and a NUL. */
#define DMARC_AGG_ID_LEN	33

/* What the report says about itself (report_metadata). */
struct dmarc_agg_meta {
	const char	*org_name;	/* [reports] org_name */
	const char	*email;		/* [reports] from */
	const char	*report_id;
	long long	 begin, end;	/* the period [begin, end) */
};

/*
 * The Report-ID of the report about domain for [begin, end) sent by
 * receiver: the first 128 bits of SHA-256 over those, in hex (a ridfmt
 * and a unique-id of RFC 9990 §3.5.1 and §3.5.2 at once).
 */
void dmarc_agg_report_id(const char *receiver, const char *domain,
    long long begin, long long end, char out[DMARC_AGG_ID_LEN]);

/* receiver!policy-domain!begin!end!report-id.xml.gz (RFC 9990 §3.5.2)
 * into out, end being the period's last second (end - 1, as in the XML's
 * date_range); -1 if it does not fit. */
int dmarc_agg_filename(const char *receiver, const char *domain,
    long long begin, long long end, const char *report_id, char *out,
    size_t outlen);

/*
 * Append the XML report (UTF-8, valid against RFC 9990 Appendix A) for
 * policy and rec[0..n) (n >= 1) to out. Values come from the store and
 * are escaped by libxml2's writer. -1 if out is full or the writer
 * fails.
 */
int dmarc_agg_xml(const struct dmarc_agg_meta *m,
    const struct db_dmarc_policy *policy, const struct db_dmarc_record *rec,
    size_t n, struct buf *out);

#endif
