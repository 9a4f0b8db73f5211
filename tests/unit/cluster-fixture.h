/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/cluster-fixture.h: the three-node, three-network config the
 * cluster, drain and evacuation tests share (node ids 1..n, addresses
 * 10.99.{3,1,2}.id), written to a fresh temporary directory with its key,
 * plus `extra` top-level groups (e.g. a fencing section). */
#ifndef TEST_CLUSTER_FIXTURE_H
#define TEST_CLUSTER_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "clusterd/config.h"

/* dir: a mkdtemp template, filled in. NULL on any failure (errors printed). */
static inline struct cfg *fixture_cfg(char *dir, int n, const char *extra)
{
	char path[256], key[256];
	struct cfg_errors errs;
	struct cfg *cfg = NULL;
	FILE *f;

	if (!mkdtemp(dir))
		return NULL;
	snprintf(key, sizeof(key), "%s/key", dir);
	f = fopen(key, "w");
	if (!f)
		return NULL;
	fprintf(f, "0123456789abcdef0123456789abcdef");
	fclose(f);
	snprintf(path, sizeof(path), "%s/c.conf", dir);
	f = fopen(path, "w");
	if (!f)
		return NULL;
	fprintf(f,
		"cluster = { name = \"t\"; key_file = \"key\"; };\n"
		"networks = ( { name = \"management\"; role = \"management\"; subnet = \"10.99.3.0/24\"; },\n"
		"  { name = \"cluster\"; role = \"cluster\"; subnet = \"10.99.1.0/24\"; },\n"
		"  { name = \"migration\"; role = \"migration\"; subnet = \"10.99.2.0/24\"; } );\n"
		"%s"
		"nodes = (\n",
		extra ? extra : "");
	for (int i = 1; i <= n; i++)
		fprintf(f,
			"  { id = %d; name = \"n%d\"; addresses = { management = \"10.99.3.%d\"; cluster = "
			"\"10.99.1.%d\"; migration = \"10.99.2.%d\"; }; }%s\n",
			i, i, i, i, i, i < n ? "," : "");
	fprintf(f, ");\n");
	fclose(f);
	if (cfg_load(path, &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.v[i].msg);
		cfg_errors_clear(&errs);
		return NULL;
	}
	return cfg;
}

#endif
