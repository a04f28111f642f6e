/* SPDX-License-Identifier: ISC */
/*
 * `sealmail check-domain`: the facts about one mail domain's transport
 * security and sender authentication (MX, per MX host its addresses, PTR,
 * an SMTP/STARTTLS probe and its TLSA records; MTA-STS, TLS-RPT, SPF,
 * DMARC, DKIM, BIMI), gathered by blocking DNS lookups through the
 * configured [dns] resolver and blocking, time-bounded probes (CLI only,
 * never in the daemon), and the findings derived from them.
 *
 * Everything read from the network is untrusted. Text kept here for
 * display (SMTP greeting, certificate names, DNS record text) is escaped
 * with log_escape when it is stored, so it is always printable ASCII of
 * bounded size. The struct has fixed caps (CHECKDOM_*_MAX); what goes
 * beyond is counted, not stored. Only tlsa records own heap memory.
 */
#ifndef SEALMAIL_CHECK_CHECKDOM_H
#define SEALMAIL_CHECK_CHECKDOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "dns/dns_rr.h"
#include "smtpc/smtpc_route.h"

struct conf;

/* Addresses probed per MX host; more are listed as skipped. */
#define CHECKDOM_ADDRS_MAX	8
#define CHECKDOM_TLSA_MAX	16
#define CHECKDOM_CHAIN_MAX	8
#define CHECKDOM_SELECTORS_MAX	16
#define CHECKDOM_FINDINGS_MAX	160
#define CHECKDOM_URIS_MAX	8
#define CHECKDOM_STS_MX_MAX	16
/* Display text (escaped) and one finding. */
#define CHECKDOM_TEXT		256
#define CHECKDOM_RECORD		1024
#define CHECKDOM_FINDING	768
/* RFC 7208 §4.6.4: at most 10 DNS-querying terms per evaluation. */
#define CHECKDOM_SPF_LOOKUPS_MAX	10
/* How far the SPF include/redirect tree is followed. */
#define CHECKDOM_SPF_DEPTH_MAX	10
#define CHECKDOM_SPF_RECORDS_MAX	40
/* Certificates expiring within this many days are a warning. */
#define CHECKDOM_EXPIRY_WARN_DAYS	14
/* Default step timeout (connect, each reply, the handshake, each DNS
 * lookup), in milliseconds. */
#define CHECKDOM_TIMEOUT_MS	10000
/* All SMTP probes together get this many step timeouts; addresses left
 * then are reported as not probed. */
#define CHECKDOM_PROBE_BUDGET	12

enum checkdom_level {
	CHECKDOM_INFO,
	CHECKDOM_WARNING,
	CHECKDOM_ERROR,
};

struct checkdom_finding {
	enum checkdom_level	 level;
	char			 text[CHECKDOM_FINDING];
};

struct checkdom_cert {
	char	 subject[CHECKDOM_TEXT];
	char	 issuer[CHECKDOM_TEXT];
	char	 not_after[32];		/* "2027-01-31 12:00:00 UTC" */
};

/* One TLSA record of _PORT._tcp.HOST. */
struct checkdom_tlsa {
	uint8_t	 usage, selector, mtype;
	uint8_t	*data;			/* owned */
	size_t	 len;
};

/* One address of an MX host and what the probe saw there. */
struct checkdom_probe {
	char	 address[48];		/* text form */
	bool	 ptr_found;
	char	 ptr[LIMIT_DOMAIN + 1];	/* first PTR name (escaped) */
	bool	 fcrdns;		/* ptr resolves back to address */
	bool	 probed;		/* the probe was attempted */
	bool	 connected;
	int	 greeting_code;		/* 0: none */
	char	 greeting[CHECKDOM_TEXT];
	bool	 ehlo_ok;
	bool	 starttls;		/* offered */
	bool	 tls;			/* handshake completed */
	char	 tls_version[16];
	char	 cipher[64];
	struct checkdom_cert chain[CHECKDOM_CHAIN_MAX];
	size_t	 nchain;
	bool	 verified;		/* PKIX with the MX host name */
	bool	 name_ok;		/* RFC 9525 name check alone */
	char	 verify_error[CHECKDOM_TEXT];
	bool	 has_days;
	long	 days_left;		/* negative when expired */
	char	 spki_sha256[65];	/* hex, for a "3 1 1" record */
	bool	 requiretls;		/* EHLO after TLS offered it */
	bool	 dane_checked;		/* usable TLSA records were tried */
	bool	 dane_match;
	char	 dane_error[CHECKDOM_TEXT];
	int	 dane_usage;		/* usage of the record that matched */
	/* Where the probe stopped ("" when it went to QUIT). */
	char	 error[CHECKDOM_TEXT];
};

struct checkdom_mx {
	char		 host[LIMIT_DOMAIN + 1];
	uint16_t	 pref;
	/* Addresses: A and AAAA. */
	enum dns_rcode	 addr_rcode;	/* worst of the two lookups */
	enum dns_sec	 addr_sec;	/* secure only if both are */
	struct checkdom_probe addr[CHECKDOM_ADDRS_MAX];
	size_t		 naddr;
	size_t		 addr_skipped;
	/* TLSA at _PORT._tcp.HOST. */
	char		 tlsa_name[LIMIT_DOMAIN + 16];
	enum dns_rcode	 tlsa_rcode;
	enum dns_sec	 tlsa_sec;
	struct checkdom_tlsa tlsa[CHECKDOM_TLSA_MAX];
	size_t		 ntlsa;
	size_t		 tlsa_usable;	/* usages 2 and 3 */
	/* MTA-STS: the host matches a pattern of the fetched policy. */
	bool		 sts_match;
};

struct checkdom_sts {
	enum dns_rcode	 rcode;
	size_t		 nrecords;	/* TXT strings starting v=STSv1 */
	bool		 txt_valid;
	char		 txt[CHECKDOM_RECORD];
	char		 id[40];
	char		 txt_error[CHECKDOM_TEXT];
	bool		 fetch_tried;
	bool		 fetched;	/* a policy that parsed */
	char		 fetch_error[CHECKDOM_TEXT];
	char		 mode[16];	/* enforce, testing, none */
	char		 mx[CHECKDOM_STS_MX_MAX][LIMIT_DOMAIN + 1];
	size_t		 nmx;
	long		 max_age;
};

struct checkdom_tlsrpt {
	enum dns_rcode	 rcode;
	size_t		 nrecords;	/* TXT strings starting v=TLSRPTv1 */
	char		 record[CHECKDOM_RECORD];
	bool		 valid;
	char		 error[CHECKDOM_TEXT];
	char		 rua[CHECKDOM_URIS_MAX][CHECKDOM_TEXT];
	size_t		 nrua;
};

struct checkdom_spf {
	enum dns_rcode	 rcode;
	size_t		 nrecords;
	char		 record[CHECKDOM_RECORD];
	bool		 parsed;
	char		 error[CHECKDOM_TEXT];	/* first problem in the tree */
	unsigned	 lookups;	/* DNS-querying terms, recursively */
	bool		 incomplete;	/* macros or errors stopped counting */
	char		 all[8];	/* "-all", "~all", "?all", "+all", "" */
};

struct checkdom_dmarc {
	bool		 dns_error;
	bool		 found;
	bool		 invalid;	/* record without a valid policy */
	char		 policy_domain[LIMIT_DOMAIN + 1];
	char		 org_domain[LIMIT_DOMAIN + 1];
	char		 p[16], sp[16];	/* sp "" when absent */
	bool		 testing;
	char		 rua[CHECKDOM_URIS_MAX][CHECKDOM_TEXT];
	size_t		 nrua;
};

struct checkdom_dkim {
	char		 selector[LIMIT_DOMAIN + 1];
	enum dns_rcode	 rcode;
	bool		 found;		/* a TXT record at the name */
	bool		 valid;
	char		 error[CHECKDOM_TEXT];
	char		 type[16];	/* "rsa", "ed25519" */
	unsigned	 bits;
	bool		 revoked;
	bool		 testing;
};

struct checkdom_bimi {
	char		 result[16];	/* bimi_result_name() */
	char		 reason[CHECKDOM_TEXT];
	char		 domain[LIMIT_DOMAIN + 1];
	char		 l[CHECKDOM_TEXT];
	char		 a[CHECKDOM_TEXT];
};

struct checkdom {
	char		 domain[LIMIT_DOMAIN + 1];
	unsigned	 port;
	unsigned	 timeout_ms;
	enum dns_rcode	 mx_rcode;
	enum dns_sec	 mx_sec;
	bool		 null_mx;
	bool		 implicit_mx;
	struct checkdom_mx mx[SMTPC_ROUTE_MAX_HOSTS];
	size_t		 nmx;
	struct checkdom_sts sts;
	struct checkdom_tlsrpt tlsrpt;
	struct checkdom_spf spf;
	struct checkdom_dmarc dmarc;
	struct checkdom_dkim dkim[CHECKDOM_SELECTORS_MAX];
	size_t		 ndkim;
	struct checkdom_bimi bimi;
	struct checkdom_finding findings[CHECKDOM_FINDINGS_MAX];
	size_t		 nfindings;
	size_t		 findings_dropped;
};

/* A zeroed checkdom for domain (lower-cased, final dot removed) on port;
 * -1 when domain is not a valid domain name. Free with checkdom_free. */
struct checkdom *checkdom_new(const char *domain, unsigned port,
    unsigned timeout_ms);
void checkdom_free(struct checkdom *cd);

/*
 * Gather every fact (blocking; DNS through conf's [dns], probes with
 * cd->timeout_ms per step). selectors: DKIM selectors to look up.
 * 0, or -1 with one line in err when the resolver cannot be set up.
 */
int checkdom_collect(struct checkdom *cd, const struct conf *conf,
    const char *const *selectors, size_t nselectors, char *err,
    size_t errlen);

/*
 * Probe one address of an MX host (blocking, every step bounded by
 * timeout_ms): connect, greeting, EHLO, STARTTLS, TLS handshake (SNI =
 * host; DANE with the host's usable TLSA records, decided by OpenSSL;
 * PKIX verification against the system store plus tls_ca for host),
 * EHLO again, QUIT. Results go into p (address already set).
 */
void checkdom_probe(struct checkdom_probe *p, const struct checkdom_mx *mx,
    const char *domain, unsigned port, const char *helo,
    const char *tls_ca, unsigned timeout_ms);

/* Derive cd->findings from the facts. Pure; may be called again. */
void checkdom_findings(struct checkdom *cd);

/* True if any finding is an error. */
bool checkdom_has_error(const struct checkdom *cd);

/* snprintf into a display field, cutting what does not fit (the fields
 * are for people; a cut message is still useful). */
void checkdom_text(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "error", "warning", "info". */
const char *checkdom_level_name(enum checkdom_level l);

/* The TLSA usage, selector and matching type names for display
 * ("DANE-EE", "SPKI", "SHA2-256"); "?" for others. */
const char *checkdom_tlsa_usage_name(uint8_t usage);

#endif
