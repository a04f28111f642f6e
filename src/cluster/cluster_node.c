/* SPDX-License-Identifier: ISC */
/* Staleness and MX names of the node registry (see cluster_node.h). */
#include "cluster/cluster_node.h"

#include <string.h>

bool
cluster_node_is_stale(long long now, long long heartbeat, long long every)
{
	if (every < 1 || every > 3600)
		every = CLUSTER_BEAT_EVERY;
	if (now <= heartbeat)
		return false;
	return now - heartbeat > CLUSTER_STALE_BEATS * every;
}

bool
cluster_valid_mx(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		/* RFC 5321 §4.1.2 Domain: LDH labels that start and end
		 * with a letter or digit, as policy readers check. */
		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || (ch == '-' && label > 0)) ||
		    ++label > 63)
			return false;
	}
	return label > 0 && s[n - 1] != '-';
}
