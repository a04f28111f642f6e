/* SPDX-License-Identifier: ISC */
/*
 * `sealmail arc sign --domain D --selector S --key FILE [--time T]
 * [--authserv-id ID] [FILE|-]`: print the ARC set (auth/arc_sign) that
 * sealing the message would prepend, for operators and tests. The
 * incoming chain is validated first (auth/arc, DNS from the
 * configuration's [dns]); a message without ARC fields needs neither DNS
 * nor a configuration. The message is untrusted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/arc.h"
#include "auth/arc_sign.h"
#include "auth/authres.h"
#include "auth/dkim_sign.h"
#include "cli/cli.h"
#include "cli/cli_common.h"
#include "cli/cli_msg.h"
#include "conf/conf.h"

#define ARC_SIGN_USAGE "arc sign --domain D --selector S --key FILE " \
	"[--time T] [--authserv-id ID] [FILE|-]"
/* Without a configuration: its default max_message_size. */
#define ARC_SIGN_MESSAGE_MAX	(50 * 1024 * 1024)

struct arc_args {
	const char	*domain, *selector, *key, *authserv_id, *path;
	time_t		 now;
};

static int
arc_args(struct arc_args *a, int argc, char **argv)
{
	char esc[128], *end;

	a->path = "-";
	a->now = time(NULL);
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i];
		if (i + 1 < argc && strcmp(o, "--domain") == 0)
			a->domain = argv[++i];
		else if (i + 1 < argc && strcmp(o, "--selector") == 0)
			a->selector = argv[++i];
		else if (i + 1 < argc && strcmp(o, "--key") == 0)
			a->key = argv[++i];
		else if (i + 1 < argc && strcmp(o, "--authserv-id") == 0)
			a->authserv_id = argv[++i];
		else if (i + 1 < argc && strcmp(o, "--time") == 0) {
			errno = 0;
			long long t = strtoll(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || end == argv[i] ||
			    t < 0) {
				cli_error("--time: not a Unix time in seconds");
				return -1;
			}
			a->now = (time_t)t;
		} else if (o[0] == '-' && o[1] != '\0') {
			cli_error("unknown option or missing value: %s",
			    cli_escape(o, esc, sizeof(esc)));
			return -1;
		} else
			a->path = o;
	}
	if (a->domain == NULL || a->selector == NULL || a->key == NULL) {
		cli_error("--domain, --selector and --key are required");
		return -1;
	}
	return 0;
}

/*
 * The chain of msg into *c. A message with ARC fields is validated with
 * DNS from the configuration: without one there is no way to know cv=,
 * and a guess would seal a lie, so that is an error.
 */
static int
arc_chain(const struct buf *msg, size_t hlen, const struct arc_args *a,
    const char *config, struct arc_verify **vp, struct arc_sign_chain *c)
{
	struct arc_verify *v = arc_verify_new((const char *)msg->data, hlen,
	    a->now);
	struct conf *conf;
	char err[512];

	*vp = v;
	if (hlen + 2 <= msg->len)
		arc_verify_body(v, msg->data + hlen + 2, msg->len - hlen - 2);
	if (arc_verify_count(v) > 0 || arc_verify_result(v) != ARC_NONE) {
		if (cli_load_conf(config, &conf) == -1) {
			cli_error("the message has an ARC chain: validating it "
			    "needs the configuration's DNS");
			return -1;
		}
		int r = arc_verify_run_sync(v, conf, err, sizeof(err));
		conf_free(conf);
		if (r == -1) {
			cli_error("%s", err);
			return -1;
		}
	}
	c->n = arc_verify_count(v);
	c->res = arc_verify_result(v);
	c->reason = arc_verify_reason(v);
	return 0;
}

/* Our results for the AAR: the chain's validation (all a message file
 * tells us without its SMTP transaction). */
static int
arc_results(const struct arc_verify *v, const char *id, struct buf *out)
{
	struct authres_result r;

	memset(&r, 0, sizeof(r));
	arc_verify_authres(v, NULL, &r);
	return authres_format(out, id, &r, 1);
}

/* The fields with LF line ends (a text tool's output; folding kept). */
static void
arc_print(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] != '\r')
			putchar(b->data[i]);
}

static int
arc_sign_cmd(int argc, char **argv, const char *config)
{
	struct arc_args a = { 0 };
	struct dkim_sign_key *k;
	struct arc_verify *v = NULL;
	struct arc_sign_chain c;
	struct arc_sign *s;
	struct buf msg, ar, out;
	char err[512];
	size_t hlen;
	int rc = CLI_EXIT_FAIL, r;

	if (arc_args(&a, argc, argv) == -1)
		return cli_usage(ARC_SIGN_USAGE);
	if ((k = dkim_sign_key_load(a.domain, a.selector, a.key, err,
	    sizeof(err))) == NULL) {
		cli_error("%s", err);
		return CLI_EXIT_FAIL;
	}
	if (cli_read_message(a.path, ARC_SIGN_MESSAGE_MAX, &msg) == -1) {
		dkim_sign_key_free(k);
		return CLI_EXIT_FAIL;
	}
	hlen = cli_msg_header_len(&msg);
	buf_init(&ar, 64 * 1024);
	buf_init(&out, 256 * 1024);
	if (arc_chain(&msg, hlen, &a, config, &v, &c) == -1)
		goto out;
	if (arc_results(v, a.authserv_id ? a.authserv_id : a.domain,
	    &ar) == -1) {
		cli_error("--authserv-id: not usable in Authentication-Results");
		goto out;
	}
	s = arc_sign_new(a.now);
	if (hlen + 2 <= msg.len)
		arc_sign_body(s, msg.data + hlen + 2, msg.len - hlen - 2);
	r = arc_sign_seal(s, k, &c, (const char *)msg.data, hlen,
	    (const char *)ar.data, ar.len, &out, err, sizeof(err));
	arc_sign_free(s);
	if (r == ARC_SIGN_SKIPPED)
		cli_error("not sealed: the ARC chain (i=%u) is %s, %s "
		    "(RFC 8617 5.1)", c.n, arc_result_name(c.res),
		    arc_reason_name(c.reason));
	else if (r == -1)
		cli_error("%s", err);
	else {
		arc_print(&out);
		rc = CLI_EXIT_OK;
	}
out:
	arc_verify_free(v);
	buf_clear(&out);
	buf_clear(&ar);
	buf_clear(&msg);
	dkim_sign_key_free(k);
	return rc;
}

int
cli_arc(int argc, char **argv, const char *config)
{
	if (argc >= 2 && strcmp(argv[1], "sign") == 0)
		return arc_sign_cmd(argc, argv, config);
	return cli_usage(ARC_SIGN_USAGE);
}
