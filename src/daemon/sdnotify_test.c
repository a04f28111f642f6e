/* SPDX-License-Identifier: ISC */
/* Unit tests for daemon/sdnotify: the datagrams systemd would receive, on
 * a socket the test makes (a path and an abstract name). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/sdnotify.h"

static void
test_sdnotify_addr(void **state)
{
	struct sockaddr_un sun;
	socklen_t len = 0;
	char longname[sizeof(sun.sun_path) + 2];

	(void)state;
	assert_int_equal(sdnotify_addr("/run/systemd/notify", &sun, &len), 0);
	assert_string_equal(sun.sun_path, "/run/systemd/notify");
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 20);
	assert_int_equal(sdnotify_addr("@abc", &sun, &len), 0);
	assert_int_equal(sun.sun_path[0], '\0');
	assert_memory_equal(sun.sun_path + 1, "abc", 3);
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 4);
	assert_int_equal(sdnotify_addr("", &sun, &len), -1);
	assert_int_equal(sdnotify_addr(NULL, &sun, &len), -1);
	assert_int_equal(sdnotify_addr("@", &sun, &len), -1);
	assert_int_equal(sdnotify_addr("run/notify", &sun, &len), -1);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(sdnotify_addr(longname, &sun, &len), -1);
}

/* A datagram socket bound to `name` as $NOTIFY_SOCKET spells it. */
static int
listen_at(const char *name)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	assert_int_equal(sdnotify_addr(name, &sun, &len), 0);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

static void
recv_expect(int fd, const char *want)
{
	char got[2048];
	ssize_t n = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);

	assert_true(n >= 0);
	got[n] = '\0';
	assert_string_equal(got, want);
}

static void
test_sdnotify_path(void **state)
{
	char dir[] = "/tmp/sdnotify_test.XXXXXX", path[64];
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = listen_at(path);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_true(sdnotify_init());
	/* Taken away, so that forked children cannot send. */
	assert_null(getenv("NOTIFY_SOCKET"));
	assert_int_equal(sdnotify("READY=1\nSTATUS=%s", "listening on 3"), 0);
	recv_expect(fd, "READY=1\nSTATUS=listening on 3");
	assert_int_equal(sdnotify("STOPPING=1"), 0);
	recv_expect(fd, "STOPPING=1");
	close(fd);
	unlink(path);
	rmdir(dir);
}

static void
test_sdnotify_abstract(void **state)
{
	char name[64];
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "@sealmail-sdnotify-test-%ld",
	    (long)getpid());
	fd = listen_at(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_true(sdnotify_init());
	assert_int_equal(sdnotify("READY=1"), 0);
	recv_expect(fd, "READY=1");
	close(fd);
}

static void
test_sdnotify_reloading(void **state)
{
	char name[64], got[256], *end;
	struct timespec before, after;
	unsigned long long usec;
	ssize_t n;
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "@sealmail-sdnotify-reload-%ld",
	    (long)getpid());
	fd = listen_at(name);
	setenv("NOTIFY_SOCKET", name, 1);
	assert_true(sdnotify_init());
	clock_gettime(CLOCK_MONOTONIC, &before);
	assert_int_equal(sdnotify_reloading(), 0);
	clock_gettime(CLOCK_MONOTONIC, &after);
	n = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	got[n] = '\0';
	assert_memory_equal(got, "RELOADING=1\nMONOTONIC_USEC=", 27);
	usec = strtoull(got + 27, &end, 10);
	assert_int_equal(*end, '\0');
	assert_true(usec >= (unsigned long long)before.tv_sec * 1000000ULL);
	assert_true(usec <= (unsigned long long)after.tv_sec * 1000000ULL +
	    (unsigned long long)after.tv_nsec / 1000ULL);
	close(fd);
}

static void
test_sdnotify_absent(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_false(sdnotify_init());
	assert_int_equal(sdnotify("READY=1"), 0);
	/* A value that is no socket address is ignored, and still removed. */
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_false(sdnotify_init());
	assert_null(getenv("NOTIFY_SOCKET"));
	assert_int_equal(sdnotify("READY=1"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sdnotify_addr),
		cmocka_unit_test(test_sdnotify_path),
		cmocka_unit_test(test_sdnotify_abstract),
		cmocka_unit_test(test_sdnotify_reloading),
		cmocka_unit_test(test_sdnotify_absent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
