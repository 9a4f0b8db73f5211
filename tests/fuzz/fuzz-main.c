/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/fuzz/fuzz-main.c: a standalone driver for any fuzz target (fuzz.h)
 * when libFuzzer is not used: replays files, or runs the seeds plus a
 * deterministic mutation loop. Knows nothing about the target's format. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"

#define DEFAULT_RUNS 100000
#define MAX_SEEDS    256

struct input {
	uint8_t data[FUZZ_MAX_INPUT];
	size_t len;
};

static const char *prog = "fuzz";

/* Run one input from an exact-size heap copy, so that ASan sees any read
 * past its end. */
static void run_one(const uint8_t *data, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy) {
		fprintf(stderr, "%s: out of memory\n", prog);
		exit(2);
	}
	if (len)
		memcpy(copy, data, len);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
}

static int run_file(const char *path)
{
	static struct input in;
	FILE *f = fopen(path, "rb");

	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	in.len = fread(in.data, 1, sizeof(in.data), f);
	if (ferror(f)) {
		fprintf(stderr, "%s: %s: read error\n", prog, path);
		fclose(f);
		return -1;
	}
	fclose(f);
	run_one(in.data, in.len);
	return 0;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static size_t load_seeds(struct input *seeds)
{
	size_t n = 0;

	while (n < MAX_SEEDS && (seeds[n].len = fuzz_seed((unsigned)n, seeds[n].data, FUZZ_MAX_INPUT)) > 0)
		n++;
	return n;
}

/* One to four mutations of in, in place. */
static void mutate(struct input *in, const struct input *seeds, size_t n_seeds, uint64_t *s)
{
	static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x10, 0x40};
	int rounds = 1 + (int)(rnd(s) % 4);

	while (rounds-- > 0) {
		size_t pos = in->len ? rnd(s) % in->len : 0;

		switch (rnd(s) % 7) {
		case 0: /* bit flip */
			if (in->len)
				in->data[pos] ^= (uint8_t)(1u << (rnd(s) % 8));
			break;
		case 1: /* set a byte */
			if (in->len)
				in->data[pos] = rnd(s) % 2 ? (uint8_t)rnd(s)
							   : interesting[rnd(s) % sizeof(interesting)];
			break;
		case 2: /* truncate */
			in->len = in->len ? rnd(s) % in->len : 0;
			break;
		case 3: { /* extend with random bytes */
			size_t add = 1 + rnd(s) % 64;

			if (in->len + add > FUZZ_MAX_INPUT)
				add = FUZZ_MAX_INPUT - in->len;
			for (size_t i = 0; i < add; i++)
				in->data[in->len++] = (uint8_t)rnd(s);
			break;
		}
		case 4: { /* splice: our prefix, another seed's suffix */
			const struct input *o = &seeds[rnd(s) % n_seeds];
			size_t from = rnd(s) % o->len, room = FUZZ_MAX_INPUT - pos, take = o->len - from;

			if (take > room)
				take = room;
			memcpy(in->data + pos, o->data + from, take);
			in->len = pos + take;
			break;
		}
		case 5: /* duplicate a chunk inside the input */
			if (in->len > 1) {
				size_t from = rnd(s) % in->len, n = 1 + rnd(s) % 16;

				if (from + n > in->len)
					n = in->len - from;
				if (pos + n > FUZZ_MAX_INPUT)
					n = FUZZ_MAX_INPUT - pos;
				memmove(in->data + pos, in->data + from, n);
				if (pos + n > in->len)
					in->len = pos + n;
			}
			break;
		default: /* add or subtract a small number to a byte */
			if (in->len)
				in->data[pos] = (uint8_t)(in->data[pos] +
							  (rnd(s) % 2 ? 1 : -1) * (int)(1 + rnd(s) % 8));
			break;
		}
	}
}

static unsigned long env_ulong(const char *name, unsigned long def)
{
	const char *v = getenv(name);
	char *end;
	unsigned long r;

	if (!v || !*v)
		return def;
	errno = 0;
	r = strtoul(v, &end, 0);
	return errno || *end ? def : r;
}

static int write_seeds(const char *dir)
{
	static struct input seeds[MAX_SEEDS];
	size_t n = load_seeds(seeds);

	for (size_t i = 0; i < n; i++) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/seed-%03zu", dir, i);
		f = fopen(path, "wb");
		if (!f || fwrite(seeds[i].data, 1, seeds[i].len, f) != seeds[i].len) {
			fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
			if (f)
				fclose(f);
			return 1;
		}
		fclose(f);
	}
	printf("%s: wrote %zu seeds to %s\n", prog, n, dir);
	return 0;
}

int main(int argc, char **argv)
{
	static struct input seeds[MAX_SEEDS], cur;
	unsigned long runs, ran = 0;
	uint64_t s;
	size_t n_seeds;

	if (argc > 0 && argv[0]) {
		const char *slash = strrchr(argv[0], '/');

		prog = slash ? slash + 1 : argv[0];
	}
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: %s [FILE...]\n"
		       "       %s --write-seeds DIR\n"
		       "With files, run each once. Without, run the seeds and then a deterministic\n"
		       "mutation loop; FUZZ_RUNS (default %d) and FUZZ_SEED (default 1) tune it.\n",
		       prog, prog, DEFAULT_RUNS);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--write-seeds"))
		return write_seeds(argv[2]);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (run_file(argv[i]) < 0)
				return 1;
		printf("%s: %d inputs ran\n", prog, argc - 1);
		return 0;
	}

	n_seeds = load_seeds(seeds);
	if (n_seeds == 0) {
		fprintf(stderr, "%s: the target has no seeds\n", prog);
		return 1;
	}
	runs = env_ulong("FUZZ_RUNS", DEFAULT_RUNS);
	s = env_ulong("FUZZ_SEED", 1) * 0x9e3779b97f4a7c15ull | 1;
	for (size_t i = 0; i < n_seeds && ran < runs; i++, ran++)
		run_one(seeds[i].data, seeds[i].len);
	while (ran < runs) {
		/* mostly fresh from a seed; sometimes keep mutating the last input */
		if (cur.len == 0 || rnd(&s) % 4 != 0)
			cur = seeds[rnd(&s) % n_seeds];
		mutate(&cur, seeds, n_seeds, &s);
		run_one(cur.data, cur.len);
		ran++;
	}
	printf("%s: %lu inputs ran (%zu seeds, %lu mutations)\n", prog, ran, n_seeds,
	       ran > n_seeds ? ran - n_seeds : 0);
	return 0;
}
