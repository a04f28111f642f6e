/* SPDX-License-Identifier: ISC */
/*
 * `sealmail queue list|show ID|flush|delete ID`: the queue as the spool
 * holds it (queue/spool.h). list and show only read envelopes; flush asks
 * the queue runner to try everything now; delete removes a message (the
 * runner tolerates a message vanishing under it). Envelope contents are
 * untrusted text and are escaped before they reach the terminal.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_common.h"
#include "conf/conf.h"
#include "core/ids.h"
#include "queue/spool.h"

#define CLI_QUEUE_USAGE	"queue list|show ID|flush|delete ID"

struct cli_queue_cmd {
	const char	*name;
	bool		 id;		/* takes a queue id */
	int		(*run)(const struct conf *, const char *);
};

/* "42s", "5m", "3h", "2d": the age of something created at t. */
static const char *
cli_queue_age(time_t t, time_t now, char *out, size_t outlen)
{
	long long d = now > t ? (long long)(now - t) : 0;

	if (d < 60)
		snprintf(out, outlen, "%llds", d);
	else if (d < 3600)
		snprintf(out, outlen, "%lldm", d / 60);
	else if (d < 86400)
		snprintf(out, outlen, "%lldh", d / 3600);
	else
		snprintf(out, outlen, "%lldd", d / 86400);
	return out;
}

/* UTC time as ISO 8601, or "now" for 0. */
static const char *
cli_queue_time(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(out, outlen, "now");
	else
		strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}

/* Load an envelope; prints why not (quietly skips a vanished one when
 * quiet_enoent). */
static int
cli_queue_load(const struct conf *c, const char *qid, struct envelope *env,
    bool quiet_enoent)
{
	char err[256], esc[300];

	envelope_init(env);
	if (spool_env_load(c->data_dir, qid, env, err, sizeof(err)) == 0)
		return 0;
	if (errno == ENOENT && quiet_enoent) {
		envelope_clear(env);
		return -1;
	}
	if (errno == ENOENT)
		cli_error("no such message %s", qid);
	else
		cli_error("%s: %s", qid, cli_escape(err, esc, sizeof(esc)));
	envelope_clear(env);
	return -1;
}

struct cli_queue_list {
	const struct conf	*conf;
	time_t			 now;
	int			 errors;
};

static void
cli_queue_list_one(const char *qid, void *arg)
{
	struct cli_queue_list *l = arg;
	struct envelope env;
	size_t n[3] = { 0, 0, 0 };
	char age[24], from[600];

	if (cli_queue_load(l->conf, qid, &env, true) == -1) {
		if (errno != ENOENT)
			l->errors++;
		return;
	}
	for (size_t i = 0; i < env.nrcpts; i++)
		if ((unsigned)env.rcpts[i].state < 3)
			n[env.rcpts[i].state]++;
	printf("%s %s %zu <%s> pending=%zu delivered=%zu failed=%zu\n", qid,
	    cli_queue_age(env.created, l->now, age, sizeof(age)), env.size,
	    cli_escape(env.mail_from ? env.mail_from : "", from,
	    sizeof(from)), n[ENVELOPE_RCPT_PENDING],
	    n[ENVELOPE_RCPT_DELIVERED], n[ENVELOPE_RCPT_FAILED]);
	envelope_clear(&env);
}

static int
cli_queue_list(const struct conf *c, const char *unused)
{
	struct cli_queue_list l = { c, time(NULL), 0 };

	(void)unused;
	if (spool_list(c->data_dir, cli_queue_list_one, &l) == -1) {
		cli_error("cannot read the queue in %s/spool/queue: %s",
		    c->data_dir, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	return l.errors ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* "label: value" with the value escaped; NULL values are skipped. */
static void
cli_queue_field(const char *label, const char *value)
{
	char esc[1024];

	if (value != NULL)
		printf("%-12s %s\n", label, cli_escape(value, esc,
		    sizeof(esc)));
}

static void
cli_queue_show_rcpt(const struct envelope_rcpt *rc, time_t now)
{
	static const char *const states[] = { "pending", "delivered",
	    "failed" };
	char addr[600], orig[600], reply[1100], when[32], in[24];

	printf("  <%s> state=%s attempts=%u", cli_escape(rc->address, addr,
	    sizeof(addr)), (unsigned)rc->state < 3 ? states[rc->state] : "?",
	    rc->attempts);
	if (rc->state == ENVELOPE_RCPT_PENDING)
		printf(" next=%s%s%s%s", cli_queue_time(rc->next_attempt, when,
		    sizeof(when)), rc->next_attempt > now ? " (in " : "",
		    rc->next_attempt > now ? cli_queue_age(now,
		    rc->next_attempt, in, sizeof(in)) : "",
		    rc->next_attempt > now ? ")" : "");
	printf("\n");
	if (rc->orig && strcmp(rc->orig, rc->address) != 0)
		printf("    orig=<%s>\n", cli_escape(rc->orig, orig,
		    sizeof(orig)));
	if (rc->last_reply)
		printf("    last reply: %s\n", cli_escape(rc->last_reply, reply,
		    sizeof(reply)));
}

static int
cli_queue_show(const struct conf *c, const char *qid)
{
	static const char *const bodies[] = { NULL, "7bit", "8bitmime",
	    "binarymime" };
	struct envelope env;
	time_t now = time(NULL);
	char created[32], age[24], from[600];

	if (cli_queue_load(c, qid, &env, false) == -1)
		return CLI_EXIT_FAIL;
	printf("%-12s %s\n", "id:", env.id);
	printf("%-12s %s (%s ago)\n", "created:", cli_queue_time(env.created,
	    created, sizeof(created)), cli_queue_age(env.created, now, age,
	    sizeof(age)));
	printf("%-12s %zu\n", "size:", env.size);
	printf("%-12s <%s>\n", "sender:", cli_escape(env.mail_from ?
	    env.mail_from : "", from, sizeof(from)));
	cli_queue_field("body:", (unsigned)env.body < 4 ? bodies[env.body] :
	    NULL);
	cli_queue_field("smtputf8:", env.smtputf8 ? "yes" : NULL);
	cli_queue_field("envid:", env.envid);
	cli_queue_field("ret:", env.ret == ENVELOPE_RET_FULL ? "full" :
	    env.ret == ENVELOPE_RET_HDRS ? "hdrs" : NULL);
	cli_queue_field("auth user:", env.auth_user);
	cli_queue_field("client:", env.client_addr);
	cli_queue_field("helo:", env.helo);
	cli_queue_field("quarantine:", env.quarantine ? "yes (Junk)" : NULL);
	cli_queue_field("requiretls:", env.requiretls ? "yes" : NULL);
	/* Failed DMARC p=reject, let in by dmarc_enforce = no: never
	 * forwarded. */
	cli_queue_field("dmarc-reject:", env.dmarc_reject);
	printf("%-12s %zu\n", "recipients:", env.nrcpts);
	for (size_t i = 0; i < env.nrcpts; i++)
		cli_queue_show_rcpt(&env.rcpts[i], now);
	envelope_clear(&env);
	return CLI_EXIT_OK;
}

static int
cli_queue_flush(const struct conf *c, const char *unused)
{
	(void)unused;
	if (spool_nudge(c->data_dir, "flush") == 0) {
		printf("queue flush requested\n");
		return CLI_EXIT_OK;
	}
	if (errno == ENOENT || errno == ECONNREFUSED) {
		/* The runner tries every pending recipient when it starts. */
		printf("the queue runner is not running; the queue will be "
		    "flushed when it starts\n");
		return CLI_EXIT_OK;
	}
	cli_error("cannot reach the queue runner: %s", strerror(errno));
	return CLI_EXIT_FAIL;
}

static int
cli_queue_delete(const struct conf *c, const char *qid)
{
	if (spool_remove(c->data_dir, qid) == 0) {
		printf("deleted %s\n", qid);
		return CLI_EXIT_OK;
	}
	if (errno == ENOENT)
		cli_error("no such message %s", qid);
	else
		cli_error("cannot delete %s: %s", qid, strerror(errno));
	return CLI_EXIT_FAIL;
}

static const struct cli_queue_cmd cli_queue_cmds[] = {
	{ "list", false, cli_queue_list },
	{ "show", true, cli_queue_show },
	{ "flush", false, cli_queue_flush },
	{ "delete", true, cli_queue_delete },
};

int
cli_queue(int argc, char **argv, const char *config)
{
	const struct cli_queue_cmd *cmd = NULL;
	struct conf *c;
	char esc[64];
	int code;

	for (size_t i = 0; argc >= 2 && i < sizeof(cli_queue_cmds) /
	    sizeof(cli_queue_cmds[0]); i++)
		if (strcmp(argv[1], cli_queue_cmds[i].name) == 0)
			cmd = &cli_queue_cmds[i];
	if (cmd == NULL || argc != (cmd->id ? 3 : 2))
		return cli_usage(CLI_QUEUE_USAGE);
	/* The id becomes a file name: only well-formed ids go further. */
	if (cmd->id && !ids_qid_valid(argv[2])) {
		cli_error("no such message %s (not a queue id)",
		    cli_escape(argv[2], esc, sizeof(esc)));
		return CLI_EXIT_FAIL;
	}
	if (cli_load_conf(config, &c) == -1)
		return CLI_EXIT_FAIL;
	code = cmd->run(c, cmd->id ? argv[2] : NULL);
	conf_free(c);
	return code;
}
