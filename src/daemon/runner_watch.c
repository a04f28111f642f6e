/* SPDX-License-Identifier: ISC */
/* Noticing new mail in spool/queue at once: an inotify watch, or without
 * one a cheap poll of the directory's modification time. */
#include "daemon/runner_internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "queue/spool.h"

/*
 * Without the inotify watch (inotify instances are a per-user limit,
 * fs.inotify.max_user_instances, 128 by default) new mail must still be
 * taken at once: queue/ is checked every RUNNER_POLL_MS and scanned when
 * its modification time moved (every commit renames into it). One stat
 * per poll, and nothing on the writers' side.
 */
void
runner_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	char path[PATH_MAX];
	struct stat st;

	(void)fd;
	(void)what;
	if (spool_queue_dir(r->conf->data_dir, path, sizeof(path)) == -1 ||
	    stat(path, &st) == -1 ||
	    (st.st_mtim.tv_sec == r->queue_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == r->queue_mtime.tv_nsec))
		return;
	r->queue_mtime = st.st_mtim;
	if (r->scan.pos < r->scan.n)
		r->rescan = true;
	else
		runner_scan(r, false);
}

/*
 * inotify on spool/queue: every message file renamed in (a commit by an
 * SMTP worker, sendmail or a bounce) is work. This needs nothing from the
 * writers, and unlike datagram nudges (a Unix datagram socket queues only
 * net.unix.max_dgram_qlen = 10 by default, so a burst loses them) the
 * kernel says when it dropped events: then the queue is scanned.
 */
static void
runner_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runner *r = arg;
	char buf[16384] __attribute__((aligned(__alignof__(struct
	    inotify_event))));
	const size_t hdr = sizeof(struct inotify_event);

	(void)what;
	for (int burst = 0; burst < RUNNER_NUDGE_BURST; burst++) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (size_t off = 0; off + hdr <= (size_t)n; ) {
			const struct inotify_event *ev =
			    (const struct inotify_event *)(buf + off);
			size_t len = strnlen(ev->name, ev->len);

			off += hdr + ev->len;
			if (off > (size_t)n)
				break;
			if (ev->mask & IN_Q_OVERFLOW) {
				log_info("queue watch overflowed, scanning");
				if (r->scan.pos < r->scan.n)
					r->rescan = true;
				else
					runner_scan(r, false);
				continue;
			}
			char name[NAME_MAX + 1], qid[IDS_QID_LEN + 1];

			if (len >= sizeof(name))
				continue;
			memcpy(name, ev->name, len);
			name[len] = '\0';
			if (spool_committed_name(name, qid))
				runner_urgent(r, qid);
		}
	}
}

/* Watch spool/queue; without the watch, nudges and scans still work. */
void
runner_watch(struct runner *r)
{
	char path[PATH_MAX];

	r->watch_fd = -1;
	if (spool_queue_dir(r->conf->data_dir, path, sizeof(path)) == -1)
		return;
	r->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (r->watch_fd == -1 ||
	    inotify_add_watch(r->watch_fd, path, IN_MOVED_TO) == -1) {
		log_warn("queue runner: cannot watch %s: %s (checking it "
		    "every %d ms instead)", path, strerror(errno),
		    RUNNER_POLL_MS);
		if (r->watch_fd != -1)
			close(r->watch_fd);
		r->watch_fd = -1;
		return;
	}
	r->watch_ev = event_new(r->base, r->watch_fd, EV_READ | EV_PERSIST,
	    runner_watch_cb, r);
	event_add(r->watch_ev, NULL);
}
