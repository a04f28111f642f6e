/* SPDX-License-Identifier: ISC */
/*
 * `sealmail inspect FILE|- [--json] [--verify]`: explain a received message
 * from its headers, answering "did my mail travel encrypted?". Lists the
 * hops of the Received chain oldest first (from, by, when, TLS or not, and
 * how we know: msg/received.h), then the Authentication-Results fields
 * (auth/authres.h), the DKIM-Signature fields (d=, s=, a=; re-verified
 * against DNS with --verify, using the configuration's [dns]) and a
 * one-line verdict. --json prints the same data as one JSON object.
 *
 * The message is untrusted. It is read up to INSPECT_MESSAGE_MAX bytes;
 * every string taken from it is escaped on output (terminal control bytes,
 * invalid UTF-8 and bidirectional overrides never reach the terminal raw;
 * JSON strings are escaped per RFC 8259 §7). Note what the headers cannot
 * prove: fields below the first one written by a server you trust may be
 * forged by the sender, and only Authentication-Results written by your
 * own server (its authserv-id) mean anything.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/authres.h"
#include "auth/dkim_sig.h"
#include "auth/dkim_verify.h"
#include "cli/cli_common.h"
#include "cli/cli_msg.h"
#include "conf/conf.h"
#include "core/buf.h"
#include "core/xmalloc.h"
#include "msg/addr.h"
#include "msg/idna.h"
#include "msg/lookalike.h"
#include "msg/received.h"
#include "msg/rfc5322_headers.h"

/* Largest message read: above the 50 MiB default of [server]
 * max_message_size, so anything we accepted can be inspected. */
#define INSPECT_MESSAGE_MAX	(64u * 1024 * 1024)
/* Authentication-Results and DKIM-Signature fields listed. */
#define INSPECT_AR_MAX		32
#define INSPECT_DKIM_MAX	16
/* Longest header text shown for From:, Subject:, a raw field. */
#define INSPECT_TEXT_MAX	2048

#define INSPECT_USAGE	"inspect FILE...|- [--json] [--verify]"

/* A header field kept for later: its raw value and an unfolded copy. */
struct inspect_field {
	const char	*value;
	size_t		 len;
	char		*text;		/* unfolded, NUL-terminated, owned */
};

struct inspect {
	const char		*path;
	bool			 json, verify, color;
	struct buf		 msg;		/* CRLF line ends */
	size_t			 body;		/* offset of the body */
	bool			 headers_cut;	/* section over the limits */
	size_t			 bad_lines;
	struct received_hop	*hops;		/* oldest first */
	size_t			 nhops, hops_skipped;
	struct received_summary	 sum;
	struct inspect_field	 received[RECEIVED_MAX_HOPS];
	struct inspect_field	 ar[INSPECT_AR_MAX];
	size_t			 nar, ar_skipped;
	struct inspect_field	 dkim[INSPECT_DKIM_MAX];
	size_t			 ndkim, dkim_skipped;
	struct inspect_field	 from, subject, date, msgid;
	/* The newest Sealmail-Warning: ours, since every earlier one is
	 * removed on arrival (smtpd_checks.c). */
	struct inspect_field	 warning;
	struct dkim_verify	*dv;		/* with --verify */
	char			 verify_err[256];
};

/* ---- reading ---------------------------------------------------------- */

static int
inspect_read(struct inspect *ins)
{
	return cli_read_message(ins->path, INSPECT_MESSAGE_MAX, &ins->msg);
}

/* ---- collecting the fields ------------------------------------------- */

static void
inspect_keep(struct inspect_field *k, const struct rfc5322_field *f)
{
	struct buf b;

	buf_init(&b, INSPECT_TEXT_MAX);
	if (rfc5322_field_unfold(f, &b) == -1) {
		/* Too long to show whole: show the start. */
		struct rfc5322_field cut = *f;
		cut.value_len = INSPECT_TEXT_MAX / 2;
		(void)rfc5322_field_unfold(&cut, &b);
		(void)buf_append_str(&b, "...");
	}
	k->value = f->value;
	k->len = f->value_len;
	k->text = b.data != NULL ? buf_take(&b) : xstrdup("");
}

/* Keep f in list (size max, *n used) or count it as skipped. */
static void
inspect_keep_list(struct inspect_field *list, size_t max, size_t *n,
    size_t *skipped, const struct rfc5322_field *f)
{
	if (*n < max)
		inspect_keep(&list[(*n)++], f);
	else
		(*skipped)++;
}

static void
inspect_collect(struct inspect *ins, size_t *nreceived)
{
	struct rfc5322_headers h;
	struct rfc5322_field f;
	enum rfc5322_headers_result r;

	rfc5322_headers_init(&h, ins->msg.data, ins->msg.len);
	while ((r = rfc5322_headers_next(&h, &f)) == RFC5322_HEADERS_FIELD) {
		if (rfc5322_field_is(&f, "Received"))
			inspect_keep_list(ins->received, RECEIVED_MAX_HOPS,
			    nreceived, &ins->hops_skipped, &f);
		else if (rfc5322_field_is(&f, "Authentication-Results"))
			inspect_keep_list(ins->ar, INSPECT_AR_MAX, &ins->nar,
			    &ins->ar_skipped, &f);
		else if (rfc5322_field_is(&f, "DKIM-Signature"))
			inspect_keep_list(ins->dkim, INSPECT_DKIM_MAX,
			    &ins->ndkim, &ins->dkim_skipped, &f);
		else if (rfc5322_field_is(&f, "From") && !ins->from.text)
			inspect_keep(&ins->from, &f);
		else if (rfc5322_field_is(&f, "Subject") && !ins->subject.text)
			inspect_keep(&ins->subject, &f);
		else if (rfc5322_field_is(&f, "Date") && !ins->date.text)
			inspect_keep(&ins->date, &f);
		else if (rfc5322_field_is(&f, "Message-ID") && !ins->msgid.text)
			inspect_keep(&ins->msgid, &f);
		else if (rfc5322_field_is(&f, "Sealmail-Warning") &&
		    !ins->warning.text)
			inspect_keep(&ins->warning, &f);
	}
	ins->headers_cut = r != RFC5322_HEADERS_END;
	ins->body = r == RFC5322_HEADERS_END ?
	    rfc5322_headers_body_offset(&h) : ins->msg.len;
	ins->bad_lines = rfc5322_headers_bad_lines(&h);
}

/* Parse the Received fields, newest first in the header, into hops
 * oldest first. */
static void
inspect_hops(struct inspect *ins, size_t nreceived)
{
	ins->hops = xcalloc(nreceived ? nreceived : 1, sizeof(*ins->hops));
	ins->nhops = nreceived;
	for (size_t i = 0; i < nreceived; i++)
		(void)received_parse(ins->received[i].value,
		    ins->received[i].len, &ins->hops[nreceived - 1 - i]);
	received_summarize(ins->hops, ins->nhops, &ins->sum);
}

/* --verify: check every DKIM signature against DNS ([dns] of config). */
static void
inspect_verify(struct inspect *ins, const char *config)
{
	struct conf *c = NULL;

	if (cli_load_conf(config, &c) == -1) {
		snprintf(ins->verify_err, sizeof(ins->verify_err),
		    "cannot load the configuration for [dns]");
		return;
	}
	ins->dv = dkim_verify_new((const char *)ins->msg.data, ins->body,
	    time(NULL));
	dkim_verify_body(ins->dv, ins->msg.data + ins->body,
	    ins->msg.len - ins->body);
	if (dkim_verify_run_sync(ins->dv, c, ins->verify_err,
	    sizeof(ins->verify_err)) == -1) {
		char esc[sizeof(ins->verify_err) * 4];
		cli_error("--verify: %s", cli_escape(ins->verify_err, esc,
		    sizeof(esc)));
		dkim_verify_free(ins->dv);
		ins->dv = NULL;
	}
	conf_free(c);
}

static void
inspect_field_clear(struct inspect_field *f)
{
	free(f->text);
	f->text = NULL;
}

static void
inspect_clear(struct inspect *ins)
{
	for (size_t i = 0; i < RECEIVED_MAX_HOPS; i++)
		inspect_field_clear(&ins->received[i]);
	for (size_t i = 0; i < ins->nar; i++)
		inspect_field_clear(&ins->ar[i]);
	for (size_t i = 0; i < ins->ndkim; i++)
		inspect_field_clear(&ins->dkim[i]);
	inspect_field_clear(&ins->from);
	inspect_field_clear(&ins->subject);
	inspect_field_clear(&ins->date);
	inspect_field_clear(&ins->msgid);
	inspect_field_clear(&ins->warning);
	dkim_verify_free(ins->dv);
	free(ins->hops);
	buf_clear(&ins->msg);
}

/* ---- escaping ---------------------------------------------------------- */

/* "", as JSON null. */
static void
inspect_json_opt(const char *s)
{
	cli_json_str(s != NULL && s[0] != '\0' ? s : NULL);
}

/*
 * The From: domain (first address), when it is an internationalized one:
 * its A-label form into alabel and its display form or the reason it is
 * not valid IDNA into shown. False for a plain ASCII domain or no From:.
 */
static bool
inspect_from_idn(const struct inspect *ins, char *alabel, size_t alen,
    char *shown, size_t slen, bool *valid)
{
	struct addr a[1];
	const char *why = NULL;
	size_t n;

	if (ins->from.value == NULL || addr_parse_header_list_keep_idn(
	    ins->from.value, ins->from.len, a, 1) < 1 ||
	    idna_is_plain(a[0].domain, (n = strlen(a[0].domain))))
		return false;
	*valid = idna_to_alabels(a[0].domain, n, alabel, alen, &why) == 0;
	if (*valid)
		idna_display(alabel, shown, slen);
	else {
		snprintf(alabel, alen, "%s", a[0].domain);
		snprintf(shown, slen, "%s", why);
	}
	return true;
}

/* A domain as written in a field, then its other form if it is an IDN
 * ("xn--bcher-kva.example (bücher.example)"), or why it is invalid. */
static void
inspect_put_domain(const char *d)
{
	char u[IDNA_DISPLAY_MAX], a[LIMIT_DOMAIN + 1];
	const char *why = NULL, *p;

	cli_put_text(d);
	if (idna_is_plain(d, strlen(d)))
		return;
	if (idna_to_alabels(d, strlen(d), a, sizeof(a), &why) != 0 ||
	    idna_to_ulabels(a, u, sizeof(u), &why) != 0) {
		printf(" (%s)", why);
		return;
	}
	for (p = d; *p != '\0' && (unsigned char)*p < 0x80; p++)
		;
	printf(" (");
	cli_put_text(*p == '\0' ? u : a);
	putchar(')');
}

/* ---- shared wording ------------------------------------------------- */

/* The sending side of a hop: "rdns [ip]", "[ip] (helo NAME)" when the
 * address has no verified name, or the HELO name alone. */
static void
inspect_hop_from(const struct received_hop *h, char *out, size_t outlen)
{
	if (h->from[0] == '\0')
		snprintf(out, outlen, "(local)");
	else if (h->from_ip[0] == '\0')
		snprintf(out, outlen, "%s", h->from);
	else if (h->from_rdns[0] != '\0')
		snprintf(out, outlen, "%s [%s]", h->from_rdns, h->from_ip);
	else if (h->from[0] == '[')
		snprintf(out, outlen, "[%s]%s%s%s", h->from_ip,
		    strstr(h->from, h->from_ip) == NULL ? " (helo " : "",
		    strstr(h->from, h->from_ip) == NULL ? h->from : "",
		    strstr(h->from, h->from_ip) == NULL ? ")" : "");
	else
		snprintf(out, outlen, "[%s] (helo %s)", h->from_ip, h->from);
}

/* "a -> b" for hop i. */
static void
inspect_hop_arrow(const struct received_hop *h, char *out, size_t outlen)
{
	char from[LIMIT_DOMAIN + 80];

	inspect_hop_from(h, from, sizeof(from));
	snprintf(out, outlen, "%s -> %s", from, h->by[0] ? h->by : "?");
}

/* "49900 older hops" or, when the header section was cut before its end,
 * "at least 900 older hops" (the rest was never seen). */
static void
inspect_not_read(const struct inspect *ins, char *out, size_t len)
{
	snprintf(out, len, "%s%zu older hop%s", ins->headers_cut ?
	    "at least " : "", ins->hops_skipped, ins->hops_skipped == 1 ? "" :
	    "s");
}

/* The verdict: a status word and one line of text. */
static const char *
inspect_verdict(const struct inspect *ins, char *out, size_t outlen)
{
	const struct received_summary *s = &ins->sum;
	size_t net = s->nyes + s->nno + s->nunknown, o;
	char arrow[2 * LIMIT_DOMAIN + 128];
	const char *status;

	if (s->nhops == 0) {
		snprintf(out, outlen, "no Received fields: nothing shows how "
		    "this message travelled");
		return "no_hops";
	}
	if (net == 0) {
		snprintf(out, outlen, "no network hops (%zu local)", s->nlocal);
		return "local_only";
	}
	if (s->nno > 0) {
		inspect_hop_arrow(&ins->hops[s->first_no], arrow, sizeof(arrow));
		if (s->nno == 1)
			o = (size_t)snprintf(out, outlen, "hop %zu (%s) was "
			    "NOT encrypted", s->first_no + 1, arrow);
		else
			o = (size_t)snprintf(out, outlen, "%zu of %zu hops were "
			    "NOT encrypted, the first is hop %zu (%s)", s->nno,
			    net, s->first_no + 1, arrow);
		status = "not_encrypted";
	} else if (s->nunknown > 0) {
		inspect_hop_arrow(&ins->hops[s->first_unknown], arrow,
		    sizeof(arrow));
		o = (size_t)snprintf(out, outlen, "%zu of %zu hops encrypted%s%s%s"
		    "; hop %zu (%s) does not say", s->nyes, net,
		    s->versions[0] ? " (" : "", s->versions,
		    s->versions[0] ? ")" : "", s->first_unknown + 1, arrow);
		status = "unknown";
	} else {
		o = (size_t)snprintf(out, outlen, "%s %zu hop%s encrypted (%s)",
		    ins->hops_skipped > 0 ? "the newest" : net == 1 ? "the" :
		    "all", net, net == 1 ? " was" : "s",
		    s->versions[0] ? s->versions : "TLS version not recorded");
		status = "encrypted";
	}
	if (s->nlocal > 0 && o < outlen)
		o += (size_t)snprintf(out + o, outlen - o, "; %zu local hop%s "
		    "not counted", s->nlocal, s->nlocal == 1 ? "" : "s");
	if (ins->hops_skipped > 0 && o < outlen) {
		char skipped[64];

		/* What was not read cannot be called encrypted. */
		inspect_not_read(ins, skipped, sizeof(skipped));
		snprintf(out + o, outlen - o, "; %s not read", skipped);
		if (strcmp(status, "encrypted") == 0)
			status = "unknown";
	}
	return status;
}

/* Evidence bits as words, into out. */
static void
inspect_evidence(unsigned ev, const char **words, size_t *n)
{
	static const struct { unsigned bit; const char *word; } names[] = {
		{ RECEIVED_EV_PROTOCOL, "protocol" },
		{ RECEIVED_EV_TLS_CLAUSE, "tls-clause" },
		{ RECEIVED_EV_COMMENT, "comment" },
		{ RECEIVED_EV_MICROSOFT, "microsoft" },
		{ RECEIVED_EV_CONFLICT, "conflict" },
	};

	*n = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ev & names[i].bit)
			words[(*n)++] = names[i].word;
}

/* d=, s=, a= of a DKIM-Signature as shown (longer values are cut). */
struct inspect_dkim_tags {
	char	d[LIMIT_DOMAIN + 1];
	char	s[DKIM_SELECTOR_MAX + 1];
	char	a[64];
};

/* The tags of f, leniently (shown even when the signature is invalid;
 * dkim_sig_parse says whether it is). */
static void
inspect_dkim_tags(const struct inspect_field *f, struct inspect_dkim_tags *tg)
{
	struct dkim_tag_iter it;
	struct dkim_tag t;

	tg->d[0] = tg->s[0] = tg->a[0] = '\0';
	dkim_tag_init(&it, f->value, f->len);
	while (dkim_tag_next(&it, &t) == 1) {
		if (t.namelen != 1)
			continue;
		if (t.name[0] == 'd')
			snprintf(tg->d, sizeof(tg->d), "%.*s", (int)t.vallen,
			    t.val);
		else if (t.name[0] == 's')
			snprintf(tg->s, sizeof(tg->s), "%.*s", (int)t.vallen,
			    t.val);
		else if (t.name[0] == 'a')
			snprintf(tg->a, sizeof(tg->a), "%.*s", (int)t.vallen,
			    t.val);
	}
}

/* dkim_sig_parse's verdict on field f: NULL when valid. */
static const char *
inspect_dkim_syntax(const struct inspect_field *f)
{
	struct dkim_sig *sig = xcalloc(1, sizeof(*sig));
	enum dkim_sig_result r = dkim_sig_parse(f->value, f->len, sig);

	dkim_sig_clear(sig);
	free(sig);
	return r == DKIM_SIG_OK ? NULL : dkim_sig_result_name(r);
}

/* The --verify result for signature i, or NULL. */
static const struct dkim_result *
inspect_dkim_result(const struct inspect *ins, size_t i)
{
	if (ins->dv == NULL || i >= dkim_verify_count(ins->dv))
		return NULL;
	return dkim_verify_result(ins->dv, i);
}

/* ---- text output ------------------------------------------------------ */

#define C_RED	"\033[1;31m"
#define C_GREEN	"\033[32m"
#define C_YEL	"\033[33m"
#define C_DIM	"\033[2m"
#define C_OFF	"\033[0m"

static void
inspect_color(const struct inspect *ins, const char *code)
{
	if (ins->color)
		fputs(code, stdout);
}

/* "  Label: value" for a header shown at the top. */
static void
inspect_text_line(const char *label, const struct inspect_field *f)
{
	if (f->text == NULL)
		return;
	printf("  %-8s ", label);
	cli_put_text(f->text);
	putchar('\n');
}

/* The lookalike warning, with the Unicode form of an A-label sender
 * domain, which is what the reader was shown: "(from xn--xample-2of.org =
 * еxample.org)". */
static void
inspect_text_warning(const struct inspect *ins)
{
	const char *t = ins->warning.text, *p, *q;
	char dom[LOOKALIKE_NAME_MAX], uni[LOOKALIKE_NAME_MAX * 4];

	if (t == NULL)
		return;
	inspect_text_line("Warning:", &ins->warning);
	if ((p = strstr(t, "from=\"")) == NULL ||
	    (q = strchr(p + 6, '"')) == NULL ||
	    (size_t)(q - p - 6) >= sizeof(dom))
		return;
	memcpy(dom, p + 6, (size_t)(q - p - 6));
	dom[q - p - 6] = '\0';
	if (idna_to_ulabels(dom, uni, sizeof(uni), NULL) == 0 &&
	    strcmp(uni, dom) != 0) {
		printf("           (");
		cli_put_text(dom);
		printf(" is ");
		cli_put_text(uni);
		printf(")\n");
	}
}

/* "           (domain bücher.example (xn--bcher-kva.example))" under the
 * From: line, or the reason its IDN is invalid. */
static void
inspect_text_from_idn(const struct inspect *ins)
{
	char a[LIMIT_DOMAIN + 1], shown[IDNA_DISPLAY_MAX];
	bool valid;

	if (!inspect_from_idn(ins, a, sizeof(a), shown, sizeof(shown), &valid))
		return;
	printf("           (domain ");
	if (valid)
		cli_put_text(shown);
	else {
		cli_put_text(a);
		printf(": %s", shown);
	}
	printf(")\n");
}

/* "2024-05-14 07:21:07 UTC (+3s)" or the raw date. */
static void
inspect_text_when(const struct received_hop *h, const struct received_hop *prev)
{
	char t[64];
	struct tm tm;

	if (!h->when_valid || gmtime_r(&h->when, &tm) == NULL) {
		cli_put_text(h->date[0] ? h->date : "(no date)");
		return;
	}
	strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fputs(t, stdout);
	if (prev != NULL && prev->when_valid)
		printf(" (%+llds)", (long long)(h->when - prev->when));
}

/* "encrypted: yes, TLSv1.3, CIPHER, 256 bits, group X25519". */
static void
inspect_text_tls(const struct inspect *ins, const struct received_hop *h)
{
	printf("     encrypted: ");
	if (h->tls == RECEIVED_TLS_YES) {
		inspect_color(ins, C_GREEN);
		printf("yes");
		inspect_color(ins, C_OFF);
		if (h->tls_version[0])
			printf(", %s", h->tls_version);
		if (h->tls_cipher[0])
			printf(", %s", h->tls_cipher);
		if (h->tls_bits > 0)
			printf(", %d bits", h->tls_bits);
		if (h->tls_group[0])
			printf(", group %s", h->tls_group);
	} else if (h->tls == RECEIVED_TLS_NO) {
		inspect_color(ins, h->local ? C_YEL : C_RED);
		printf("NO%s", h->local ? " (local hop)" : " - plaintext hop");
		inspect_color(ins, C_OFF);
		if (h->evidence & RECEIVED_EV_CONFLICT)
			printf(" (a TLS claim in the field was ignored: the "
			    "server wrote \"with %s\")", h->with);
	} else {
		inspect_color(ins, C_YEL);
		printf("unknown");
		inspect_color(ins, C_OFF);
		fputs(h->local ? " (local hop)" : " (no protocol word or TLS "
		    "note this tool knows)", stdout);
	}
	putchar('\n');
}

static void
inspect_text_hop(const struct inspect *ins, size_t i)
{
	const struct received_hop *h = &ins->hops[i];
	char arrow[2 * LIMIT_DOMAIN + 128];

	inspect_hop_arrow(h, arrow, sizeof(arrow));
	printf("  %zu. ", i + 1);
	cli_put_text(arrow);
	printf("\n     when: ");
	inspect_text_when(h, i > 0 ? &ins->hops[i - 1] : NULL);
	if (h->with[0]) {
		printf("   with: ");
		cli_put_text(h->with);
	}
	if (h->authenticated)
		printf(" (authenticated)");
	if (h->id[0]) {
		printf("   id: ");
		cli_put_text(h->id);
	}
	putchar('\n');
	inspect_text_tls(ins, h);
	if (h->odd || h->truncated) {
		inspect_color(ins, C_DIM);
		printf("     note: %s\n", h->truncated ? "field cut at a limit" :
		    "clauses out of place: parts of it may come from the "
		    "client");
		inspect_color(ins, C_OFF);
	}
}

static void
inspect_text_hops(const struct inspect *ins)
{
	char skipped[64];

	/* Only the newest RECEIVED_MAX_HOPS are read (the header lists the
	 * newest first): say so, so that hop 1 is not taken for the first
	 * server the message saw. */
	inspect_not_read(ins, skipped, sizeof(skipped));
	if (ins->hops_skipped > 0)
		printf("\nHops: the newest %zu, oldest of them first (%s not "
		    "read):\n", ins->nhops, skipped);
	else
		printf("\nHops, oldest first (%zu):\n", ins->nhops);
	if (ins->nhops == 0)
		printf("  (none)\n");
	if (ins->hops_skipped > 0)
		printf("  ... %s not read (at most %d are)\n", skipped,
		    RECEIVED_MAX_HOPS);
	for (size_t i = 0; i < ins->nhops; i++)
		inspect_text_hop(ins, i);
}

/* One Authentication-Results field, parsed or raw. */
static void
inspect_text_ar(const struct inspect_field *f)
{
	struct authres *ar = NULL;

	if (authres_parse(f->value, f->len, &ar) != AUTHRES_OK) {
		printf("  (unparsed) ");
		cli_put_text(f->text);
		putchar('\n');
		return;
	}
	printf("  by ");
	cli_put_text(ar->authserv_id);
	printf(":%s\n", ar->none || ar->nresults == 0 ? " none" : "");
	for (size_t i = 0; i < ar->nresults; i++) {
		const struct authres_parsed_result *r = &ar->results[i];
		printf("    ");
		cli_put_text(r->method);
		putchar('=');
		cli_put_text(r->result);
		for (size_t k = 0; k < r->nprops; k++) {
			printf(" ");
			cli_put_text(r->props[k].ptype);
			putchar('.');
			cli_put_text(r->props[k].property);
			putchar('=');
			if (strcmp(r->props[k].property, "from") == 0 ||
			    strcmp(r->props[k].property, "d") == 0)
				inspect_put_domain(r->props[k].value);
			else
				cli_put_text(r->props[k].value);
		}
		if (r->reason != NULL) {
			printf(" reason=\"");
			cli_put_text(r->reason);
			putchar('"');
		}
		putchar('\n');
	}
	authres_free(ar);
}

static void
inspect_text_dkim_one(const struct inspect *ins, size_t i)
{
	struct inspect_dkim_tags tg;
	const char *bad = inspect_dkim_syntax(&ins->dkim[i]);
	const struct dkim_result *r = inspect_dkim_result(ins, i);

	inspect_dkim_tags(&ins->dkim[i], &tg);
	printf("  %zu. d=", i + 1);
	inspect_put_domain(tg.d);
	printf(" s=");
	cli_put_text(tg.s);
	printf(" a=");
	cli_put_text(tg.a);
	if (bad != NULL)
		printf("  (invalid: %s)", bad);
	if (r != NULL) {
		bool pass = r->res == DKIM_RES_PASS;
		printf("  verify: ");
		inspect_color(ins, pass ? C_GREEN : C_RED);
		printf("%s", dkim_res_name(r->res));
		inspect_color(ins, C_OFF);
		if (!pass && r->detail != NULL)
			printf(" (%s)", r->detail);
		if (r->has_l)
			printf(" (l=%llu: body partly signed)",
			    (unsigned long long)r->l);
	} else if (!ins->verify)
		printf("  (not verified; --verify checks it)");
	putchar('\n');
}

static void
inspect_text_auth(const struct inspect *ins)
{
	printf("\nAuthentication-Results, newest first (%zu):\n", ins->nar);
	if (ins->nar == 0)
		printf("  (none)\n");
	for (size_t i = 0; i < ins->nar; i++)
		inspect_text_ar(&ins->ar[i]);
	printf("\nDKIM-Signature (%zu):\n", ins->ndkim + ins->dkim_skipped);
	if (ins->ndkim == 0)
		printf("  (none)\n");
	for (size_t i = 0; i < ins->ndkim; i++)
		inspect_text_dkim_one(ins, i);
	if (ins->verify && ins->dv == NULL && ins->ndkim > 0) {
		printf("  verify: not done: ");
		cli_put_text(ins->verify_err);
		putchar('\n');
	}
}

static void
inspect_text(const struct inspect *ins)
{
	char verdict[1024];
	const char *status = inspect_verdict(ins, verdict, sizeof(verdict));

	printf("Message: ");
	cli_put_text(ins->path);
	putchar('\n');
	inspect_text_line("From:", &ins->from);
	inspect_text_from_idn(ins);
	inspect_text_line("Subject:", &ins->subject);
	inspect_text_line("Date:", &ins->date);
	inspect_text_warning(ins);
	if (ins->headers_cut)
		printf("  (header section cut at %d fields or %d bytes)\n",
		    RFC5322_HEADERS_MAX_FIELDS, RFC5322_HEADERS_MAX_SECTION);
	inspect_text_hops(ins);
	inspect_text_auth(ins);
	printf("\nVerdict: ");
	inspect_color(ins, strcmp(status, "encrypted") == 0 ? C_GREEN :
	    strcmp(status, "not_encrypted") == 0 ? C_RED : C_YEL);
	cli_put_text(verdict);
	inspect_color(ins, C_OFF);
	putchar('\n');
}

/* ---- JSON output ------------------------------------------------------ */

static void
inspect_json_key(const char *key, const char *value, bool comma)
{
	printf("%s\"%s\": ", comma ? ", " : "", key);
	inspect_json_opt(value);
}

/* "from_domain_idn": {"alabel", "ulabel", "error"} for an IDN From:
 * domain, else null. */
static void
inspect_json_from_idn(const struct inspect *ins)
{
	char a[LIMIT_DOMAIN + 1], shown[IDNA_DISPLAY_MAX];
	char u[IDNA_DISPLAY_MAX];
	bool valid;

	printf(", \"from_domain_idn\": ");
	if (!inspect_from_idn(ins, a, sizeof(a), shown, sizeof(shown),
	    &valid)) {
		printf("null");
		return;
	}
	printf("{");
	inspect_json_key("alabel", a, false);
	inspect_json_key("ulabel", valid && idna_to_ulabels(a, u, sizeof(u),
	    NULL) == 0 ? u : NULL, true);
	inspect_json_key("error", valid ? NULL : shown, true);
	printf("}");
}

static void
inspect_json_hop(const struct inspect *ins, size_t i)
{
	const struct received_hop *h = &ins->hops[i];
	const char *ev[8];
	size_t nev;

	printf("%s\n    {\"hop\": %zu", i > 0 ? "," : "", i + 1);
	inspect_json_key("from", h->from, true);
	inspect_json_key("from_rdns", h->from_rdns, true);
	inspect_json_key("from_ip", h->from_ip, true);
	inspect_json_key("by", h->by, true);
	inspect_json_key("via", h->via, true);
	inspect_json_key("with", h->with, true);
	inspect_json_key("id", h->id, true);
	inspect_json_key("for", h->for_addr, true);
	inspect_json_key("date", h->date, true);
	if (h->when_valid)
		printf(", \"timestamp\": %lld", (long long)h->when);
	else
		printf(", \"timestamp\": null");
	inspect_json_key("encrypted", received_tls_to_text(h->tls), true);
	inspect_json_key("tls_version", h->tls_version, true);
	inspect_json_key("tls_cipher", h->tls_cipher, true);
	inspect_json_key("tls_group", h->tls_group, true);
	printf(", \"tls_bits\": %d, \"authenticated\": %s, \"local\": %s, "
	    "\"odd\": %s, \"truncated\": %s, \"evidence\": [", h->tls_bits,
	    h->authenticated ? "true" : "false", h->local ? "true" : "false",
	    h->odd ? "true" : "false", h->truncated ? "true" : "false");
	inspect_evidence(h->evidence, ev, &nev);
	for (size_t k = 0; k < nev; k++)
		printf("%s\"%s\"", k > 0 ? ", " : "", ev[k]);
	printf("]}");
}

static void
inspect_json_ar_result(const struct authres_parsed_result *r, bool comma)
{
	printf("%s{\"method\": ", comma ? ", " : "");
	cli_json_str(r->method);
	printf(", \"result\": ");
	cli_json_str(r->result);
	printf(", \"reason\": ");
	cli_json_str(r->reason);
	printf(", \"properties\": [");
	for (size_t k = 0; k < r->nprops; k++) {
		printf("%s{\"ptype\": ", k > 0 ? ", " : "");
		cli_json_str(r->props[k].ptype);
		printf(", \"property\": ");
		cli_json_str(r->props[k].property);
		printf(", \"value\": ");
		cli_json_str(r->props[k].value);
		putchar('}');
	}
	printf("]}");
}

static void
inspect_json_ar(const struct inspect_field *f, bool comma)
{
	struct authres *ar = NULL;

	printf("%s\n    {\"raw\": ", comma ? "," : "");
	cli_json_str(f->text);
	if (authres_parse(f->value, f->len, &ar) != AUTHRES_OK) {
		printf(", \"authserv_id\": null, \"results\": null}");
		return;
	}
	printf(", \"authserv_id\": ");
	cli_json_str(ar->authserv_id);
	printf(", \"results\": [");
	for (size_t i = 0; i < ar->nresults; i++)
		inspect_json_ar_result(&ar->results[i], i > 0);
	printf("]}");
	authres_free(ar);
}

static void
inspect_json_dkim(const struct inspect *ins, size_t i)
{
	struct inspect_dkim_tags tg;
	const struct dkim_result *r = inspect_dkim_result(ins, i);

	inspect_dkim_tags(&ins->dkim[i], &tg);
	printf("%s\n    {", i > 0 ? "," : "");
	inspect_json_key("d", tg.d, false);
	inspect_json_key("s", tg.s, true);
	inspect_json_key("a", tg.a, true);
	printf(", \"syntax_error\": ");
	cli_json_str(inspect_dkim_syntax(&ins->dkim[i]));
	printf(", \"verify\": ");
	if (r == NULL) {
		printf("null}");
		return;
	}
	printf("{\"result\": \"%s\", \"detail\": ", dkim_res_name(r->res));
	cli_json_str(r->detail);
	printf(", \"l\": ");
	if (r->has_l)
		printf("%llu}}", (unsigned long long)r->l);
	else
		printf("null}}");
}

static void
inspect_json(const struct inspect *ins)
{
	char verdict[1024];
	const char *status = inspect_verdict(ins, verdict, sizeof(verdict));

	printf("{");
	inspect_json_key("file", ins->path, false);
	inspect_json_key("from", ins->from.text, true);
	inspect_json_from_idn(ins);
	inspect_json_key("subject", ins->subject.text, true);
	inspect_json_key("sealmail_warning", ins->warning.text, true);
	inspect_json_key("date", ins->date.text, true);
	inspect_json_key("message_id", ins->msgid.text, true);
	printf(",\n  \"hops\": [");
	for (size_t i = 0; i < ins->nhops; i++)
		inspect_json_hop(ins, i);
	printf("],\n  \"hops_skipped\": %zu, \"hops_skipped_exact\": %s,\n"
	    "  \"authentication_results\": [", ins->hops_skipped,
	    ins->headers_cut ? "false" : "true");
	for (size_t i = 0; i < ins->nar; i++)
		inspect_json_ar(&ins->ar[i], i > 0);
	printf("],\n  \"dkim_signatures\": [");
	for (size_t i = 0; i < ins->ndkim; i++)
		inspect_json_dkim(ins, i);
	printf("],\n  \"dkim_verify\": ");
	if (!ins->verify)
		printf("null");
	else if (ins->dv == NULL && ins->ndkim > 0) {
		printf("{\"error\": ");
		cli_json_str(ins->verify_err);
		putchar('}');
	} else
		printf("{\"error\": null}");
	printf(",\n  \"verdict\": {\"status\": \"%s\", \"text\": ", status);
	cli_json_str(verdict);
	printf("}\n}\n");
}

/* ---- entry point ------------------------------------------------------ */

/* Options into opt, file names into paths (argc entries); "-" once. */
static int
inspect_args(struct inspect *opt, int argc, char **argv, const char **paths,
    size_t *npaths)
{
	bool stdin_seen = false;

	*npaths = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			opt->json = true;
		else if (strcmp(argv[i], "--verify") == 0)
			opt->verify = true;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return -1;
		else if (strcmp(argv[i], "-") == 0 && stdin_seen)
			return -1;
		else {
			stdin_seen |= strcmp(argv[i], "-") == 0;
			paths[(*npaths)++] = argv[i];
		}
	}
	return *npaths > 0 ? 0 : -1;
}

/* Analyse and print the message read into ins. */
static int
inspect_report(struct inspect *ins, const char *config, const char *sep,
    bool *shown)
{
	size_t nreceived = 0;

	inspect_collect(ins, &nreceived);
	inspect_hops(ins, nreceived);
	if (ins->verify && ins->ndkim > 0)
		inspect_verify(ins, config);
	/* Out together with the report, so that a file with none gets no
	 * separator (a JSON array stays one). */
	fputs(sep, stdout);
	*shown = true;
	if (ins->json)
		inspect_json(ins);
	else
		inspect_text(ins);
	/* The report is printed either way; a --verify that could not run
	 * (already explained on stderr) still makes the command fail. */
	return fflush(stdout) == 0 && !(ins->verify && ins->ndkim > 0 &&
	    ins->dv == NULL) ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* Read, analyse and print one message with the options of opt; *shown
 * once its report is printed, after the separator sep. */
static int
inspect_one(const struct inspect *opt, const char *path, const char *config,
    const char *sep, bool *shown)
{
	struct inspect *ins = xcalloc(1, sizeof(*ins));
	int rc = CLI_EXIT_FAIL;

	ins->json = opt->json;
	ins->verify = opt->verify;
	ins->color = opt->color;
	ins->path = path;
	buf_init(&ins->msg, 2 * (size_t)INSPECT_MESSAGE_MAX);
	if (inspect_read(ins) == -1)
		goto out;
	rc = inspect_report(ins, config, sep, shown);
out:
	inspect_clear(ins);
	free(ins);
	return rc;
}

int
cli_inspect_message(const void *msg, size_t len, bool json)
{
	struct inspect *ins = xcalloc(1, sizeof(*ins));
	bool shown = false;
	int rc = CLI_EXIT_FAIL;

	ins->json = json;
	ins->path = "(memory)";
	if (cli_msg_from_bytes(msg, len, INSPECT_MESSAGE_MAX, &ins->msg) == 0)
		rc = inspect_report(ins, NULL, "", &shown);
	inspect_clear(ins);
	free(ins);
	return rc;
}

/*
 * Several files (all of a Maildir's new folder) are reported one after the other, as
 * a JSON array with --json; a file that cannot be read is explained on
 * stderr and the others are still shown, and the exit status is 1.
 */
int
cli_inspect(int argc, char **argv, const char *config)
{
	struct inspect opt;
	const char **paths = xcalloc((size_t)argc, sizeof(*paths));
	size_t npaths;
	bool shown = false;
	int rc = CLI_EXIT_OK;

	memset(&opt, 0, sizeof(opt));
	if (inspect_args(&opt, argc, argv, paths, &npaths) == -1) {
		free(paths);
		return cli_usage(INSPECT_USAGE);
	}
	/* Colour only for a person at a terminal (https://no-color.org). */
	opt.color = !opt.json && isatty(STDOUT_FILENO) &&
	    getenv("NO_COLOR") == NULL;
	if (opt.json && npaths > 1)
		printf("[");
	for (size_t i = 0; i < npaths; i++) {
		/* What went to stdout before goes out before any error
		 * about this file on stderr. */
		fflush(stdout);
		if (inspect_one(&opt, paths[i], config, !shown ? "" :
		    opt.json ? "," : "\n", &shown) != CLI_EXIT_OK)
			rc = CLI_EXIT_FAIL;
	}
	if (opt.json && npaths > 1)
		printf("]\n");
	free(paths);
	if (fflush(stdout) != 0)
		rc = CLI_EXIT_FAIL;
	return rc;
}
