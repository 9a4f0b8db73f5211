/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/fuzz/fuzz.h: the contract between a fuzz target and its drivers
 * (libFuzzer, or the standalone replay/mutation driver fuzz-main.c). A target
 * defines the two functions below and never defines main(). */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Largest input the standalone driver builds or reads. */
#define FUZZ_MAX_INPUT 4096

/* Run one input; returns 0. A failed invariant aborts (FUZZ_CHECK). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Copy seed input i into buf (cap bytes) and return its length; 0 when there
 * is no seed i (seeds are numbered from 0 without holes). */
size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap);

/* An invariant of the code under test: crash loudly so every driver sees it. */
#define FUZZ_CHECK(cond)                                                                                     \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond);    \
			abort();                                                                             \
		}                                                                                            \
	} while (0)

#endif
