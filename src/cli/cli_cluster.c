/* SPDX-License-Identifier: ISC */
/*
 * `sealmail cluster status [--json]`: the nodes of the store's registry
 * (store/db_node.h) with their last heartbeat, version, queue and whether
 * they went stale (cluster/cluster_node.h). `sealmail cluster forget
 * NODE`: remove a stopped node's row, so that its MX leaves the MTA-STS
 * policy; a node still beating is refused (it would register again within
 * seconds). Stored text comes from other nodes: escaped on the terminal
 * and in JSON.
 */
#include "cli/cli.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/cli_common.h"
#include "cluster/cluster_node.h"
#include "conf/conf.h"
#include "core/xmalloc.h"
#include "store/db.h"
#include "store/db_node.h"

#define CLI_CLUSTER_USAGE	"cluster status [--json] | cluster forget NODE"
/* Room for an escaped stored text (log_escape: up to 4 bytes a byte). */
#define CLI_CLUSTER_ESC		(4 * DB_NODE_TEXT_MAX + 4)

/* A duration in seconds as "42s", "5m07s", "3h02m" or "4d05h". */
static void
cli_cluster_age(long long s, char *out, size_t outlen)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, outlen, "%llds", s);
	else if (s < 3600)
		snprintf(out, outlen, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, outlen, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(out, outlen, "%lldd%02lldh", s / 86400,
		    s % 86400 / 3600);
}

static void
cli_cluster_text(const struct conf *c, const struct db_node *v, size_t n,
    long long now)
{
	static char name[CLI_CLUSTER_ESC], mx[CLI_CLUSTER_ESC],
	    ver[CLI_CLUSTER_ESC];
	char age[32], beat[40], oldest[32], queue[32];

	if (n == 0) {
		printf("no node has written a heartbeat into the store yet\n");
		return;
	}
	printf("%-2s%-30s %-6s %-10s %-10s %-7s %-8s %s\n", "", "NODE",
	    "STATE", "HEARTBEAT", "VERSION", "QUEUE", "OLDEST", "MX");
	for (size_t i = 0; i < n; i++) {
		const struct db_node *d = &v[i];
		bool stale = cluster_node_is_stale(now, d->heartbeat,
		    d->every);

		cli_cluster_age(now - d->heartbeat, age, sizeof(age));
		snprintf(beat, sizeof(beat), "%s ago", age);
		if (d->queue_messages < 0)
			snprintf(queue, sizeof(queue), "?");
		else
			snprintf(queue, sizeof(queue), "%lld",
			    d->queue_messages);
		if (d->queue_oldest > 0)
			cli_cluster_age(now - d->queue_oldest, oldest,
			    sizeof(oldest));
		else
			snprintf(oldest, sizeof(oldest), "-");
		printf("%-2s%-30s %-6s %-10s %-10s %-7s %-8s %s\n",
		    strcasecmp(d->name, c->hostname) == 0 ? "*" : "",
		    cli_escape(d->name, name, sizeof(name)),
		    stale ? "stale" : "alive", beat,
		    cli_escape(d->version, ver, sizeof(ver)), queue, oldest,
		    cli_escape(d->mx, mx, sizeof(mx)));
	}
	printf("(* this node; stale: no heartbeat for %d beats, listed and "
	    "kept in the MTA-STS policy until `sealmail cluster forget "
	    "NODE`)\n", CLUSTER_STALE_BEATS);
}

static json_object *
cli_cluster_jstr(const char *s)
{
	static char esc[CLI_CLUSTER_ESC];

	return json_object_new_string(cli_escape(s, esc, sizeof(esc)));
}

static void
cli_cluster_json(const struct conf *c, const struct db_node *v, size_t n,
    long long now)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();

	json_object_object_add(o, "now", json_object_new_int64(now));
	for (size_t i = 0; i < n; i++) {
		const struct db_node *d = &v[i];
		json_object *j = json_object_new_object();
		json_object *keys = json_object_new_array();
		char *copy = xstrdup(d->spki), *k, *save = NULL;

		json_object_object_add(j, "name", cli_cluster_jstr(d->name));
		json_object_object_add(j, "mx", cli_cluster_jstr(d->mx));
		json_object_object_add(j, "version",
		    cli_cluster_jstr(d->version));
		json_object_object_add(j, "this_node", json_object_new_boolean(
		    strcasecmp(d->name, c->hostname) == 0));
		json_object_object_add(j, "stale", json_object_new_boolean(
		    cluster_node_is_stale(now, d->heartbeat, d->every)));
		json_object_object_add(j, "heartbeat",
		    json_object_new_int64(d->heartbeat));
		json_object_object_add(j, "heartbeat_age",
		    json_object_new_int64(now - d->heartbeat));
		json_object_object_add(j, "beat_every",
		    json_object_new_int64(d->every));
		json_object_object_add(j, "first_seen",
		    json_object_new_int64(d->first_seen));
		json_object_object_add(j, "queue_messages",
		    d->queue_messages < 0 ? NULL :
		    json_object_new_int64(d->queue_messages));
		json_object_object_add(j, "queue_oldest", d->queue_oldest > 0 ?
		    json_object_new_int64(d->queue_oldest) : NULL);
		for (k = strtok_r(copy, " ", &save); k != NULL;
		    k = strtok_r(NULL, " ", &save))
			json_object_array_add(keys, cli_cluster_jstr(k));
		free(copy);
		json_object_object_add(j, "tlsa_3_1_1", keys);
		json_object_array_add(a, j);
	}
	json_object_object_add(o, "nodes", a);
	printf("%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static int
cli_cluster_status(const struct conf *c, struct db *db, bool json)
{
	long long now = (long long)time(NULL);
	struct db_node *v;
	size_t n;

	if (db_node_list(db, &v, &n) != DB_OK) {
		cli_error("store: %s", db_error(db));
		return CLI_EXIT_FAIL;
	}
	if (json)
		cli_cluster_json(c, v, n, now);
	else
		cli_cluster_text(c, v, n, now);
	db_node_list_free(v, n);
	return cli_list_done();
}

static int
cli_cluster_forget(struct db *db, const char *name)
{
	char esc[CLI_CLUSTER_ESC], age[32];
	long long now = (long long)time(NULL);
	struct db_node *v;
	size_t n;
	enum db_result r;

	cli_escape(name, esc, sizeof(esc));
	if (db_node_list(db, &v, &n) != DB_OK) {
		cli_error("store: %s", db_error(db));
		return CLI_EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(v[i].name, name) != 0 ||
		    cluster_node_is_stale(now, v[i].heartbeat, v[i].every))
			continue;
		cli_cluster_age(now - v[i].heartbeat, age, sizeof(age));
		cli_error("node %s is alive (last heartbeat %s ago): stop it "
		    "first, or it registers again at its next heartbeat", esc,
		    age);
		db_node_list_free(v, n);
		return CLI_EXIT_FAIL;
	}
	db_node_list_free(v, n);
	if ((r = db_node_forget(db, name)) == DB_NOTFOUND) {
		cli_error("no node %s in the store", esc);
		return CLI_EXIT_FAIL;
	}
	if (r != DB_OK) {
		cli_error("store: %s", db_error(db));
		return CLI_EXIT_FAIL;
	}
	printf("forgot node %s: the MTA-STS policies without mta_sts_mx no "
	    "longer list it; publish their new _mta-sts TXT id (sealmail "
	    "dns-records)\n", esc);
	return cli_list_done();
}

int
cli_cluster(int argc, char **argv, const char *config)
{
	bool json = false;
	struct conf *c;
	struct db *db;
	int rc;

	if (argc >= 2 && strcmp(argv[1], "status") == 0) {
		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--json") != 0)
				return cli_usage(CLI_CLUSTER_USAGE);
			json = true;
		}
	} else if (argc != 3 || strcmp(argv[1], "forget") != 0)
		return cli_usage(CLI_CLUSTER_USAGE);
	if (cli_load_conf(config, &c) == -1)
		return CLI_EXIT_FAIL;
	if ((db = cli_open_store(c, false)) == NULL) {
		conf_free(c);
		return CLI_EXIT_FAIL;
	}
	if (strcmp(argv[1], "status") == 0)
		rc = cli_cluster_status(c, db, json);
	else
		rc = cli_cluster_forget(db, argv[2]);
	db_close(db);
	conf_free(c);
	return rc;
}
