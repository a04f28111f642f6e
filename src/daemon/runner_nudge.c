/* SPDX-License-Identifier: ISC */
/* The runner's datagram socket DATA/run/queue.sock: "new ID" (try that
 * message now) and "flush" (try every pending recipient now). */
#include "daemon/runner_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "queue/spool.h"

/* One datagram: "new ID" or "flush". */
static void
runner_nudge(struct runner *r, const char *msg, size_t n)
{
	char esc[100];

	if (n == 5 && memcmp(msg, "flush", 5) == 0) {
		log_info("queue flush requested");
		runner_scan(r, true);
	} else if (n == 4 + IDS_QID_LEN && memcmp(msg, "new ", 4) == 0 &&
	    ids_qid_valid(msg + 4)) {
		runner_urgent(r, msg + 4);
	} else
		log_warn("queue runner ignored nudge \"%s\"",
		    log_escape(msg, n, esc, sizeof(esc)));
}

static void
runner_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	char msg[64];

	(void)what;
	for (int i = 0; i < RUNNER_NUDGE_BURST; i++) {
		ssize_t n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		msg[n] = '\0';
		runner_nudge(arg, msg, (size_t)n);
	}
}

/* Bind DATA/run/queue.sock (a stale one is removed first). Without it the
 * runner still works from its periodic scans, so failure only warns. */
void
runner_bind(struct runner *r)
{
	struct sockaddr_un *sun = &r->sun;

	if (spool_sock_addr(r->conf->data_dir, sun) == -1) {
		log_warn("queue runner: socket path too long, no nudges");
		sun->sun_path[0] = '\0';
		return;
	}
	unlink(sun->sun_path);
	r->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (r->sock == -1 || bind(r->sock, (struct sockaddr *)sun,
	    sizeof(*sun)) == -1) {
		log_warn("queue runner: bind %s: %s", sun->sun_path,
		    strerror(errno));
		if (r->sock != -1)
			close(r->sock);
		r->sock = -1;
		sun->sun_path[0] = '\0';
		return;
	}
	chmod(sun->sun_path, 0600);
	if (stat(sun->sun_path, &r->sun_st) == -1)
		memset(&r->sun_st, 0, sizeof(r->sun_st));
	r->nudge_ev = event_new(r->base, r->sock, EV_READ | EV_PERSIST,
	    runner_sock_cb, r);
	event_add(r->nudge_ev, NULL);
}
