/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for reading a committed message file back: the
 * envelope and trailer at the end of spool/queue/ID.msg (spool_env_open,
 * as the queue runner and the CLI call it). The file is ours when written,
 * but a damaged or tampered spool must give a clear error, never a crash
 * or a read outside the file. Invariants checked:
 *  - a rejection comes with a non-empty one-line reason and no descriptor;
 *  - an accepted file gives a descriptor, the envelope id of the file
 *    name, and a message size that, with the envelope text and the
 *    trailer, stays within the file.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/envelope.h"
#include "queue/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The id the seeds' envelopes carry. */
#define FUZZ_QID	"018c2f9a1b2c3d4e5f60"

static char fuzz_dir[64];
static char fuzz_msg[160];

/* Remove what fuzz_setup made when the fuzzer exits. */
static void
fuzz_cleanup(void)
{
	char p[128];

	unlink(fuzz_msg);
	snprintf(p, sizeof(p), "%s/spool/queue", fuzz_dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/spool", fuzz_dir);
	rmdir(p);
	rmdir(fuzz_dir);
}

static void
fuzz_setup(void)
{
	char p[128];

	snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/sealmail-fuzz-spool.XXXXXX");
	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	snprintf(p, sizeof(p), "%s/spool", fuzz_dir);
	if (mkdir(p, 0700) == -1)
		abort();
	snprintf(p, sizeof(p), "%s/spool/queue", fuzz_dir);
	if (mkdir(p, 0700) == -1)
		abort();
	snprintf(fuzz_msg, sizeof(fuzz_msg), "%s/spool/queue/%s.msg", fuzz_dir,
	    FUZZ_QID);
	atexit(fuzz_cleanup);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope env;
	char err[256];
	int fd, out;

	if (fuzz_dir[0] == '\0')
		fuzz_setup();
	out = open(fuzz_msg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out == -1 || (size > 0 && write(out, data, size) != (ssize_t)size))
		abort();
	close(out);
	envelope_init(&env);
	err[0] = '\0';
	if (spool_env_open(fuzz_dir, FUZZ_QID, &env, &fd, err,
	    sizeof(err)) == -1) {
		if (fd != -1 || err[0] == '\0' || strchr(err, '\n') != NULL)
			abort();
	} else {
		if (fd == -1 || strcmp(env.id, FUZZ_QID) != 0 ||
		    env.size > size)
			abort();
		close(fd);
	}
	envelope_clear(&env);
	return 0;
}
