/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/fuzz/fuzz-config.c: fuzz target for the configuration loader: any
 * bytes as clusterd.conf either load into a config or produce at least one
 * error, each naming the file; never a crash. The input is handed over as a
 * memfd (/proc/self/fd/N); its key_file points at a key made once. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clusterd/config.h"
#include "tests/fuzz/fuzz.h"

static char key_file[64];

static void remove_key(void)
{
	unlink(key_file);
}

static const char *key_path(void)
{
	char *path = key_file;

	if (!path[0]) {
		FILE *f;

		snprintf(path, sizeof(key_file), "/tmp/clusterd-fuzz-config-%d.key", (int)getpid());
		f = fopen(path, "w");
		FUZZ_CHECK(f != NULL);
		fputs("0123456789abcdef0123456789abcdef0123456789abcdef", f);
		fclose(f);
		atexit(remove_key); /* leave nothing behind in /tmp */
	}
	return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_errors errs = {0};
	struct cfg *cfg = NULL;
	char path[64];
	int fd = memfd_create("clusterd.conf", MFD_CLOEXEC), r;

	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	(void)key_path();
	r = cfg_load(path, &cfg, &errs);
	if (r == 0) {
		FUZZ_CHECK(cfg != NULL && errs.n == 0);
		FUZZ_CHECK(cfg->n_nodes >= 1 && cfg->n_networks >= 1);
		FUZZ_CHECK(cfg->heartbeat.same_subnet_delay_ms >= 50 &&
			   cfg->heartbeat.same_subnet_delay_ms <= 10000);
		cfg_free(cfg);
	} else {
		FUZZ_CHECK(cfg == NULL);
		FUZZ_CHECK(r != -EINVAL || errs.n >= 1);
		for (size_t i = 0; i < errs.n; i++)
			FUZZ_CHECK(strncmp(errs.v[i].msg, path, strlen(path)) == 0);
	}
	cfg_errors_clear(&errs);
	close(fd);
	return 0;
}

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	char text[2048];
	int n;

	if (i > 1)
		return 0;
	n = snprintf(
		text, sizeof(text),
		"cluster = { name = \"fz\"; key_file = \"%s\"; };\n"
		"networks = ( { name = \"cluster\"; role = \"cluster\"; subnet = \"10.0.0.0/24\"; }%s );\n"
		"nodes = ( { id = 1; name = \"a\"; addresses = { cluster = \"10.0.0.1\"; }; },\n"
		"          { id = 2; name = \"b\"; addresses = { cluster = \"10.0.0.2\"; }; } );\n"
		"heartbeat = { same_subnet_delay_ms = 100; same_subnet_threshold = 5; };\n%s",
		key_path(),
		i ? ",\n  { name = \"mig\"; role = \"migration\"; subnets = [ \"10.1.0.0/24\" ]; }" : "",
		i ? "migration = { network = \"mig\"; max_concurrent = 4; };\nfencing = { mode = \"self\"; "
		    "};\n"
		  : "");
	if (n < 0 || (size_t)n > cap)
		return 0;
	memcpy(buf, text, (size_t)n);
	return (size_t)n;
}
