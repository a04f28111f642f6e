/* SPDX-License-Identifier: ISC */
/*
 * The nodes of a cluster (table cluster_nodes): every node sharing the
 * store writes its own row, its heartbeat, every few seconds (the queue
 * runner, daemon/runner_heartbeat.h); `sealmail cluster status` lists
 * the rows, the MTA-STS policy and `dns-records` read the MX names and
 * key digests of all of them. A row goes only by `cluster forget`: a node
 * that stops beating is shown stale, never dropped.
 */
#ifndef SEALMAIL_STORE_DB_NODE_H
#define SEALMAIL_STORE_DB_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include "store/db.h"

/* Nodes read at most (a cluster is a handful of machines). */
#define DB_NODES_MAX		256
/* Bytes of a stored text field read back (name, mx, version, spki). */
#define DB_NODE_TEXT_MAX	4096

struct db_node {
	char		*name;		/* the node's [server] hostname */
	char		*mx;		/* the MX host name it answers as */
	char		*version;	/* sealmail's */
	char		*spki;		/* SHA-256 of each [tls] cert's
					 * SubjectPublicKeyInfo, 64 hex
					 * digits each, space-separated */
	long long	 queue_messages;	/* -1: unknown */
	long long	 queue_oldest;	/* arrival time; 0: queue empty */
	long long	 heartbeat;	/* Unix time of its last beat */
	long long	 every;		/* seconds between its beats */
	long long	 first_seen;	/* its first beat */
	char		*instance;	/* the writing runner's random id */
};

/*
 * Write n's row (n->first_seen is ignored: set on the first beat). *clash
 * is set when the row was written after `since` (the writer's previous
 * beat; 0: none yet) by another instance: two nodes beat under one name.
 */
enum db_result db_node_beat(struct db *db, const struct db_node *n,
    long long since, bool *clash);

/*
 * Every row, by name, at most DB_NODES_MAX, into *out (a heap array the
 * caller frees with db_node_list_free, NULL when *n is 0). Text longer
 * than DB_NODE_TEXT_MAX is cut.
 */
enum db_result db_node_list(struct db *db, struct db_node **out,
    size_t *n);
void db_node_list_free(struct db_node *v, size_t n);

/* Remove node name's row: DB_NOTFOUND when there is none. */
enum db_result db_node_forget(struct db *db, const char *name);

#endif
