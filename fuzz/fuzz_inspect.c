/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for `sealmail inspect`'s message reader and report:
 * line-end conversion (cli_msg), header field collection, Received chain
 * parsing (msg/received), Authentication-Results and DKIM-Signature
 * listing, and the text and JSON output (cli_inspect_message). Input:
 * byte 0 picks text or JSON, the rest is the message. stdout goes to a
 * memory file that is checked after each run. Invariants:
 *  - the report is printed (exit 0 without --verify);
 *  - text output reaches a terminal safely: only printable ASCII, LF and
 *    UTF-8 outside C1 controls and bidirectional overrides;
 *  - JSON output is exactly one JSON object (json-c parses all of it).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli/cli.h"
#include "cli/cli_msg.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char *outbuf;
static size_t outcap;

static bool
cp_unsafe(uint32_t cp)
{
	return (cp >= 0x80 && cp < 0xa0) || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0xfeff;
}

static void
check_text(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		if (p[i] == '\n' || (p[i] >= 0x20 && p[i] < 0x7f)) {
			i++;
			continue;
		}
		/* outbuf is NUL-terminated, so cli_utf8 stops there. */
		n = cli_utf8(p + i, &cp);
		CHECK(n > 0 && !cp_unsafe(cp));
		i += n;
	}
}

static void
check_json(const char *s, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	CHECK(tok != NULL);
	o = json_tokener_parse_ex(tok, s, (int)len);
	CHECK(o != NULL && json_object_is_type(o, json_type_object));
	/* Only white space may follow the object. */
	for (size_t i = tok->char_offset; i < len; i++)
		CHECK(s[i] == '\n' || s[i] == ' ');
	json_object_put(o);
	json_tokener_free(tok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	off_t len;
	bool json;

	if (size < 1)
		return 0;
	if (memfd == -1) {
		memfd = memfd_create("inspect-out", 0);
		CHECK(memfd != -1);
		fflush(stdout);
		CHECK(dup2(memfd, STDOUT_FILENO) == STDOUT_FILENO);
	}
	json = data[0] & 1;
	CHECK(ftruncate(STDOUT_FILENO, 0) == 0);
	CHECK(lseek(STDOUT_FILENO, 0, SEEK_SET) == 0);
	CHECK(cli_inspect_message(data + 1, size - 1, json) == 0);
	CHECK(fflush(stdout) == 0);
	len = lseek(STDOUT_FILENO, 0, SEEK_CUR);
	CHECK(len > 0 && len < (1 << 26));
	if ((size_t)len + 1 > outcap) {
		outcap = (size_t)len + 1;
		outbuf = realloc(outbuf, outcap);
		CHECK(outbuf != NULL);
	}
	CHECK(pread(STDOUT_FILENO, outbuf, (size_t)len, 0) == len);
	outbuf[len] = '\0';
	if (json)
		check_json(outbuf, (size_t)len);
	else
		check_text(outbuf, (size_t)len);
	return 0;
}
