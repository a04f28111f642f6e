/* The fuzz targets' one invariant check: a failed invariant aborts, so
 * libFuzzer records the input as a crash like any sanitizer report. */
#ifndef SEALMAIL_FUZZ_CHECK_H
#define SEALMAIL_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(x) do { if (!(x)) { \
	fprintf(stderr, "invariant failed: %s (line %d)\n", #x, __LINE__); \
	abort(); } } while (0)

#endif
