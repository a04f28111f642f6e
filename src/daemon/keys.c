/* SPDX-License-Identifier: ISC */
/* The keys process's entry (see keys.h): its loop, the service set up
 * before and after the sandbox (keys/keys_serve.h), signals and memory
 * reports. */
#include "daemon/keys.h"

#include <signal.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/metrics.h"
#include "keys/keys_serve.h"
#include "proc/sandbox.h"

/* Seconds between reports of its memory (metrics.h). */
#define KEYS_MEMORY_INTERVAL	5

/* Its memory for /metrics (metrics.h): no other process may read it. */
static void
keys_memory_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	metrics_rss_update();
}

static void
keys_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	keys_service_stop(arg);
}

int
keys_main(const struct conf *conf, int ctl)
{
	const struct timeval every = { KEYS_MEMORY_INTERVAL, 0 };
	struct event_base *base;
	struct event *sigterm, *memory;
	struct keys *k;

	if ((base = event_base_new()) == NULL)
		fatal("cannot create the event loop");
	k = keys_service_new(base, conf, ctl);
	/* Before the first thread, which Landlock would not cover. */
	sandbox_enter(SANDBOX_KEYS, conf);
	keys_service_start(k);
	sigterm = evsignal_new(base, SIGTERM, keys_signal_cb, k);
	memory = event_new(base, -1, EV_PERSIST, keys_memory_cb, NULL);
	if (sigterm == NULL || evsignal_add(sigterm, NULL) == -1 ||
	    memory == NULL || event_add(memory, &every) == -1)
		fatal("keys: cannot set up the loop");
	metrics_rss_update();

	event_base_dispatch(base);

	keys_service_free(k);
	event_free(memory);
	event_free(sigterm);
	event_base_free(base);
	return 0;
}
