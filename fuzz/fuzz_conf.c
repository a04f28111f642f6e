/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the configuration parser (conf_load: our line reader
 * in front of inih, the key handlers and the whole-file checks).
 *
 * Invariants, beyond "no crash, no leak":
 *  - on failure, err is exactly one non-empty line that names the file;
 *    so is every warning on success;
 *  - on success, conf_print's output loads again, and printing that gives
 *    the same text (the print is a fixed point), with every printed line
 *    short enough for inih's line buffer.
 * The input goes through a memfd so the target does no disk I/O.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf/conf.h"

#define FUZZ_CONF_MAX_LINE	198	/* inih: 200 with LF and NUL */

/* A memfd holding data; its /proc path in path. */
static int
fuzz_conf_memfd(const void *data, size_t len, char *path, size_t pathlen)
{
	int fd = memfd_create("fuzz_conf", MFD_CLOEXEC);

	if (fd == -1 || (len > 0 && write(fd, data, len) != (ssize_t)len))
		abort();
	snprintf(path, pathlen, "/proc/self/fd/%d", fd);
	return fd;
}

/* conf_print into a heap string. */
static char *
fuzz_conf_print(const struct conf *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	if (fp == NULL)
		abort();
	conf_print(c, fp);
	fclose(fp);
	return text;
}

/* The print without its first line, which names the file. */
static const char *
fuzz_conf_body(const char *text)
{
	const char *nl = strchr(text, '\n');

	if (nl == NULL)
		abort();
	return nl + 1;
}

static void
fuzz_conf_check_lines(const char *text)
{
	for (const char *s = text; *s != '\0';) {
		size_t n = strcspn(s, "\n");

		if (n > FUZZ_CONF_MAX_LINE)
			abort();
		s += n + (s[n] == '\n');
	}
}

/* Load the printed config and check that it prints the same again. */
static void
fuzz_conf_reload(const char *text1)
{
	struct conf *c2;
	char path[64], err[1024], *text2;
	int fd = fuzz_conf_memfd(text1, strlen(text1), path, sizeof(path));

	if (conf_load(path, &c2, err, sizeof(err)) == -1) {
		fprintf(stderr, "printed config does not load: %s\n%s\n", err,
		    text1);
		abort();
	}
	text2 = fuzz_conf_print(c2);
	if (strcmp(fuzz_conf_body(text1), fuzz_conf_body(text2)) != 0) {
		fprintf(stderr, "print is not a fixed point:\n%s\n---\n%s\n",
		    text1, text2);
		abort();
	}
	free(text2);
	conf_free(c2);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c = NULL;
	char path[64], err[1024], *text;
	int fd;

	if (size > 64 * 1024)
		return 0;
	fd = fuzz_conf_memfd(data, size, path, sizeof(path));
	memset(err, 'x', sizeof(err));
	if (conf_load(path, &c, err, sizeof(err)) == -1) {
		size_t n = strnlen(err, sizeof(err));

		if (c != NULL || n == 0 || n == sizeof(err) ||
		    memchr(err, '\n', n) != NULL ||
		    strncmp(err, path, strlen(path)) != 0)
			abort();
		close(fd);
		return 0;
	}
	close(fd);
	/* Warnings have the shape of errors: one line naming the file. */
	for (size_t i = 0; i < c->nwarnings; i++)
		if (strchr(c->warnings[i], '\n') != NULL ||
		    strncmp(c->warnings[i], path, strlen(path)) != 0)
			abort();
	text = fuzz_conf_print(c);
	fuzz_conf_check_lines(text);
	fuzz_conf_reload(text);
	free(text);
	conf_free(c);
	return 0;
}
