/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/fuzz/fuzz-control.c: fuzz target for the control socket's request
 * parser: total on any bytes; what it accepts is a JSON object with a
 * string "cmd"; what it refuses comes with a code and a message. */
#include <string.h>

#include "clusterd/control.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *req = NULL, *cmd;
	const char *code = NULL;
	char msg[256] = "";
	int r = ctl_parse_request((const char *)data, size, &req, &code, msg, sizeof(msg));

	if (r == 0) {
		FUZZ_CHECK(req != NULL && json_object_is_type(req, json_type_object));
		FUZZ_CHECK(json_object_object_get_ex(req, "cmd", &cmd) &&
			   json_object_is_type(cmd, json_type_string));
		json_object_put(req);
	} else {
		FUZZ_CHECK(code != NULL && msg[0] != '\0');
		FUZZ_CHECK(strlen(msg) < sizeof(msg));
	}
	return 0;
}

size_t fuzz_seed(unsigned i, uint8_t *buf, size_t cap)
{
	static const char *const seeds[] = {
		"{\"cmd\":\"status\"}",
		"{\"cmd\": \"nodes\", \"x\": [1, 2, {\"y\": null}]}",
		"{\"cmd\":5}",
		"[1,2,3]",
		"{\"cmd\":\"a\\u0000b\"}",
		"{} trailing",
	};
	size_t n;

	if (i >= sizeof(seeds) / sizeof(seeds[0]))
		return 0;
	n = strlen(seeds[i]);
	if (n > cap)
		n = cap;
	memcpy(buf, seeds[i], n);
	return n;
}
