/* SPDX-License-Identifier: ISC */
/*
 * What a node registry row means (store/db_node.h): when a node counts as
 * stale, and which MX names of the rows may enter a served MTA-STS
 * policy. Pure.
 */
#ifndef SEALMAIL_CLUSTER_CLUSTER_NODE_H
#define SEALMAIL_CLUSTER_CLUSTER_NODE_H

#include <stdbool.h>
#include <stddef.h>

/* Seconds between a node's heartbeats (its queue runner writes them). */
#define CLUSTER_BEAT_EVERY	10
/* Beats a node may miss before it is shown stale. */
#define CLUSTER_STALE_BEATS	3

/*
 * A node whose last beat was at heartbeat, beating every `every` seconds
 * (as its row says; out of 1..3600 counts as CLUSTER_BEAT_EVERY), is
 * stale at now when more than CLUSTER_STALE_BEATS beats are missing.
 * A beat from the future (clocks apart) is not stale.
 */
bool cluster_node_is_stale(long long now, long long heartbeat,
    long long every);

/*
 * Whether s may stand in a policy's mx line as a host name (RFC 5321
 * §4.1.2 Domain): 1..253 bytes, labels of 1..63 letters, digits and '-'
 * that start and end with a letter or digit, no final dot. Rows come
 * from other nodes: a name that is not one never reaches the policy text
 * (where one bad line would make senders reject the whole policy).
 */
bool cluster_valid_mx(const char *s);

#endif
