/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-config.c: cfg_load on good and bad clusterd.conf files
 * written to a private temp dir — defaults, the exact line, key and allowed
 * values of each error, several errors per file, lookups. Table-driven; no
 * network, no sleeps, nothing outside the temp dir is written. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "clusterd/config.h"

#define KEY_BYTES 64

static char tmpdir[256];

/* ---- fixture ---- */

static void write_bytes(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void key_pattern(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + 1);
}

static int group_setup(void **state)
{
	char path[PATH_MAX + 32];
	uint8_t key[2048];

	snprintf(tmpdir, sizeof(tmpdir), "%s/test-config-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir))
		return -1;
	key_pattern(key, sizeof(key));
	snprintf(path, sizeof(path), "%s/key", tmpdir);
	write_bytes(path, key, KEY_BYTES);
	snprintf(path, sizeof(path), "%s/short.key", tmpdir);
	write_bytes(path, key, 31);
	snprintf(path, sizeof(path), "%s/min.key", tmpdir);
	write_bytes(path, key, 32);
	snprintf(path, sizeof(path), "%s/max.key", tmpdir);
	write_bytes(path, key, 1024);
	snprintf(path, sizeof(path), "%s/long.key", tmpdir);
	write_bytes(path, key, 1025);
	snprintf(path, sizeof(path), "%s/keydir", tmpdir);
	if (mkdir(path, 0700) < 0)
		return -1;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int group_teardown(void **state)
{
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to a new file in tmpdir; its path goes to path (PATH_MAX). */
static void write_conf(const char *text, char *path)
{
	int fd;

	snprintf(path, PATH_MAX, "%s/conf-XXXXXX", tmpdir);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

/* Message must begin "PATH:LINE: KEY: " ("PATH: KEY: " without a line) and
 * contain want when given. */
static void check_error(const struct cfg_error *e, const char *path, int line, const char *key,
			const char *want)
{
	char prefix[PATH_MAX + 256], head[PATH_MAX + 256];
	size_t n;

	assert_int_equal(e->line, line);
	assert_string_equal(e->key, key);
	n = line > 0 ? (size_t)snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line)
		     : (size_t)snprintf(prefix, sizeof(prefix), "%s: ", path);
	if (*key)
		snprintf(prefix + n, sizeof(prefix) - n, "%s: ", key);
	snprintf(head, strlen(prefix) + 1, "%s", e->msg);
	assert_string_equal(head, prefix);
	if (want && !strstr(e->msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", e->msg, want);
}

/* Loads text that must be valid. */
static struct cfg *load_ok(const char *text)
{
	char path[PATH_MAX];
	struct cfg *cfg = NULL;
	struct cfg_errors errs;
	int r;

	write_conf(text, path);
	r = cfg_load(path, &cfg, &errs);
	for (size_t i = 0; i < errs.n; i++)
		print_error("unexpected: %s\n", errs.v[i].msg);
	assert_int_equal(r, 0);
	assert_int_equal(errs.n, 0);
	assert_null(errs.v);
	assert_non_null(cfg);
	assert_string_equal(cfg->path, path);
	return cfg;
}

/* ---- the configurations ---- */

/* A minimal valid file, one setting per line so lines are known: 1..8. */
#define L1_CLUSTER "cluster = { name = \"test\"; key_file = \"key\"; };\n"
#define L2_NETS    "networks = (\n"
#define L3_NET     "  { name = \"cluster\"; role = \"cluster\"; subnet = \"10.0.0.0/24\"; }\n"
#define L4_END     ");\n"
#define L5_NODES   "nodes = (\n"
#define L6_NODE_A  "  { id = 1; name = \"a\"; addresses = { cluster = \"10.0.0.1\"; }; },\n"
#define L7_NODE_B  "  { id = 2; name = \"b\"; addresses = { cluster = \"10.0.0.2\"; }; }\n"
#define L8_END     ");\n"
#define MINIMAL    L1_CLUSTER L2_NETS L3_NET L4_END L5_NODES L6_NODE_A L7_NODE_B L8_END
/* MINIMAL with node b (line 7) replaced */
#define WITH_NODE_B(b) L1_CLUSTER L2_NETS L3_NET L4_END L5_NODES L6_NODE_A b L8_END
/* MINIMAL with the network (line 3) replaced */
#define WITH_NET(n) L1_CLUSTER L2_NETS n L4_END L5_NODES L6_NODE_A L7_NODE_B L8_END

#define THREE_NETS_WITH_NODE_B(b)                                                                            \
	L1_CLUSTER                                                                                           \
	"networks = (\n"                                                                                     \
	"  { name = \"mgmt\"; role = \"management\"; subnet = \"192.0.2.0/24\"; },\n"                        \
	"  { name = \"cluster\"; role = \"cluster\"; subnet = \"10.0.0.0/24\"; },\n"                         \
	"  { name = \"mig\"; role = \"migration\"; subnets = [ \"10.1.0.0/24\", \"10.1.1.0/24\" ]; }\n"      \
	");\n"                                                                                               \
	"nodes = (\n"                                                                                        \
	"  { id = 1; name = \"a\"; addresses = { mgmt = \"192.0.2.1\"; cluster = \"10.0.0.1\"; mig = "       \
	"\"10.1.0.1\"; }; },\n" b ");\n"
/* Three networks, the migration one with two subnets: lines 1..10. */
#define THREE_NETS                                                                                           \
	THREE_NETS_WITH_NODE_B("  { id = 2; name = \"b\"; addresses = { cluster = \"10.0.0.2\"; mig = "      \
			       "\"10.1.1.2\"; }; }\n")

/* THREE_NETS with node b on mgmt too (any network may carry migrations) */
#define THREE_NETS_MGMT_B                                                                                    \
	THREE_NETS_WITH_NODE_B("  { id = 2; name = \"b\"; addresses = { cluster = \"10.0.0.2\"; mig = "      \
			       "\"10.1.1.2\"; mgmt = \"192.0.2.2\"; }; }\n")

#define NODES_ONLY L5_NODES L6_NODE_A L7_NODE_B L8_END

/* A file with exactly one error: at line, under key, its message containing want. */
struct bad_case {
	const char *name;
	const char *text;
	int line;
	const char *key;
	const char *want;
};

#define RANGE_HB(k, v) MINIMAL "heartbeat = {\n  " k " = " v ";\n};\n"

static const struct bad_case bad_cases[] = {
	/* unknown keys, at every level */
	{"unknown_top_level", MINIMAL "bogus = 1;\n", 9, "bogus",
	 "unknown key (allowed: cluster, node, networks, nodes, heartbeat, migration, fencing, libvirt, "
	 "control, "
	 "state_dir)"},
	{"unknown_in_section", MINIMAL "heartbeat = {\n  port = 3343;\n  sam_subnet_delay_ms = 100;\n};\n",
	 11, "heartbeat.sam_subnet_delay_ms",
	 "unknown key (allowed: port, same_subnet_delay_ms, same_subnet_threshold"},
	{"unknown_in_cluster",
	 "cluster = { name = \"test\";\n  key_file = \"key\";\n  secret = \"x\"; };\n" L2_NETS L3_NET L4_END
		 NODES_ONLY,
	 3, "cluster.secret", "unknown key (allowed: name, key_file)"},
	{"unknown_in_node",
	 WITH_NODE_B("  { id = 2; name = \"b\"; zone = 3; addresses = { cluster = \"10.0.0.2\"; }; }\n"), 7,
	 "nodes[1].zone", "unknown key (allowed: id, name, addresses)"},
	{"unknown_in_network",
	 WITH_NET("  { name = \"cluster\"; role = \"cluster\"; subnet = \"10.0.0.0/24\"; mtu = 9000; }\n"), 3,
	 "networks[0].mtu", "unknown key (allowed: name, role, subnet, subnets, heartbeat)"},
	{"unknown_in_local_node", MINIMAL "node = {\n  id = 1;\n  name = \"a\";\n};\n", 11, "node.name",
	 "unknown key (allowed: id)"},
	{"unknown_in_fencing", MINIMAL "fencing = {\n  mode = \"self\";\n  stonith = true;\n};\n", 11,
	 "fencing.stonith", "(allowed: mode, agent, agent_timeout_s"},
	{"unknown_network_in_addresses",
	 WITH_NODE_B("  { id = 2; name = \"b\";\n addresses = { cluster = \"10.0.0.2\"; storage = "
		     "\"10.9.0.2\"; }; }\n"),
	 8, "nodes[1].addresses.storage", "unknown network (allowed: cluster)"},

	/* wrong types */
	{"string_for_int", MINIMAL "heartbeat = { port = \"3343\"; };\n", 9, "heartbeat.port",
	 "expected an integer, got a string (allowed: 1..65535)"},
	{"int_for_string", "cluster = { name = 5; key_file = \"key\"; };\n" L2_NETS L3_NET L4_END NODES_ONLY,
	 1, "cluster.name", "expected a string, got an integer (allowed: 1-63 characters"},
	{"float_for_int", MINIMAL "heartbeat = { rise = 3.0; };\n", 9, "heartbeat.rise",
	 "expected an integer, got a float (allowed: 1..100)"},
	{"int_for_bool", MINIMAL "migration = { postcopy = 1; };\n", 9, "migration.postcopy",
	 "expected a boolean, got an integer (allowed: true, false)"},
	{"string_for_bool", MINIMAL "migration = {\n  auto_converge = \"yes\";\n};\n", 10,
	 "migration.auto_converge", "expected a boolean, got a string (allowed: true, false)"},
	{"int_for_section", MINIMAL "heartbeat = 5;\n", 9, "heartbeat", "expected a group, got an integer"},
	{"string_for_node_id", MINIMAL "node = { id = \"1\"; };\n", 9, "node.id",
	 "expected an integer, got a string (allowed: 1..2147483647)"},
	{"group_for_networks", L1_CLUSTER "networks = { cluster = \"10.0.0.0/24\"; };\n" NODES_ONLY, 2,
	 "networks", "expected a list, got a group"},
	{"int_for_address", WITH_NODE_B("  { id = 2; name = \"b\"; addresses = { cluster = 10; }; }\n"), 7,
	 "nodes[1].addresses.cluster",
	 "expected a string, got an integer (allowed: an IPv4 or IPv6 address)"},

	/* ranges, at each edge */
	{"same_delay_49", RANGE_HB("same_subnet_delay_ms", "49"), 10, "heartbeat.same_subnet_delay_ms",
	 "49 is out of range (allowed: 50..10000)"},
	{"same_delay_10001", RANGE_HB("same_subnet_delay_ms", "10001"), 10, "heartbeat.same_subnet_delay_ms",
	 "10001 is out of range (allowed: 50..10000)"},
	{"cross_delay_49", RANGE_HB("cross_subnet_delay_ms", "49"), 10, "heartbeat.cross_subnet_delay_ms",
	 "49 is out of range (allowed: 50..10000)"},
	{"cross_delay_10001", RANGE_HB("cross_subnet_delay_ms", "10001"), 10,
	 "heartbeat.cross_subnet_delay_ms", "10001 is out of range (allowed: 50..10000)"},
	{"same_threshold_2", RANGE_HB("same_subnet_threshold", "2"), 10, "heartbeat.same_subnet_threshold",
	 "2 is out of range (allowed: 3..120)"},
	{"same_threshold_121", RANGE_HB("same_subnet_threshold", "121"), 10,
	 "heartbeat.same_subnet_threshold", "121 is out of range (allowed: 3..120)"},
	{"cross_threshold_2", RANGE_HB("cross_subnet_threshold", "2"), 10, "heartbeat.cross_subnet_threshold",
	 "2 is out of range (allowed: 3..120)"},
	{"cross_threshold_121", RANGE_HB("cross_subnet_threshold", "121"), 10,
	 "heartbeat.cross_subnet_threshold", "121 is out of range (allowed: 3..120)"},
	{"port_0", RANGE_HB("port", "0"), 10, "heartbeat.port", "0 is out of range (allowed: 1..65535)"},
	{"port_65536", RANGE_HB("port", "65536"), 10, "heartbeat.port",
	 "65536 is out of range (allowed: 1..65535)"},
	{"history_0", RANGE_HB("route_history_length", "0"), 10, "heartbeat.route_history_length",
	 "0 is out of range (allowed: 1..1000)"},
	{"history_1001", RANGE_HB("route_history_length", "1001"), 10, "heartbeat.route_history_length",
	 "1001 is out of range (allowed: 1..1000)"},
	{"rise_101", RANGE_HB("rise", "101"), 10, "heartbeat.rise", "101 is out of range (allowed: 1..100)"},
	{"degraded_grace_negative", RANGE_HB("degraded_grace_s", "-1"), 10, "heartbeat.degraded_grace_s",
	 "-1 is out of range (allowed: 0..86400)"},
	{"streams_17", MINIMAL "migration = {\n  streams = 17;\n};\n", 10, "migration.streams",
	 "17 is out of range (allowed: 1..16)"},
	{"max_concurrent_0", MINIMAL "migration = {\n  max_concurrent = 0;\n};\n", 10,
	 "migration.max_concurrent", "0 is out of range (allowed: 1..16)"},
	{"watchdog_relative", MINIMAL "fencing = {\n  watchdog = \"dev/watchdog\";\n};\n", 10,
	 "fencing.watchdog",
	 "invalid value \"dev/watchdog\" (allowed: an absolute path of a watchdog device)"},
	{"max_cluster_257", MINIMAL "migration = {\n  max_cluster = 257;\n};\n", 10, "migration.max_cluster",
	 "257 is out of range (allowed: 0..256)"},
	{"cpu_overcommit_0", MINIMAL "migration = {\n  cpu_overcommit = 0;\n};\n", 10,
	 "migration.cpu_overcommit", "0 is out of range (allowed: 1..64)"},
	{"max_downtime_60001", MINIMAL "migration = {\n  max_downtime_ms = 60001;\n};\n", 10,
	 "migration.max_downtime_ms", "60001 is out of range (allowed: 1..60000)"},
	{"mcopy_port_0", MINIMAL "migration = {\n  mcopy_port = 0;\n};\n", 10, "migration.mcopy_port",
	 "0 is out of range (allowed: 1..65535)"},
	{"mcopy_port_65536", MINIMAL "migration = {\n  mcopy_port = 65536;\n};\n", 10, "migration.mcopy_port",
	 "65536 is out of range (allowed: 1..65535)"},
	{"congestion_upper", MINIMAL "migration = {\n  congestion = \"Reno\";\n};\n", 10,
	 "migration.congestion",
	 "invalid value \"Reno\" (allowed: a TCP congestion control such as \"reno\" or \"cubic\", 1-15 "
	 "characters of a-z 0-9 _)"},
	{"congestion_empty", MINIMAL "migration = {\n  congestion = \"\";\n};\n", 10, "migration.congestion",
	 "invalid value \"\""},
	{"congestion_long", MINIMAL "migration = {\n  congestion = \"abcdefghijklmnop\";\n};\n", 10,
	 "migration.congestion", "too long: 16 bytes"},
	{"congestion_number", MINIMAL "migration = {\n  congestion = 1;\n};\n", 10, "migration.congestion",
	 "expected a string, got an integer"},
	{"self_fence_999", MINIMAL "fencing = {\n  self_fence_ms = 999;\n};\n", 10, "fencing.self_fence_ms",
	 "999 is out of range (allowed: 1000..600000)"},
	{"quarantine_s_604801", MINIMAL "fencing = {\n  quarantine_s = 604801;\n};\n", 10,
	 "fencing.quarantine_s", "604801 is out of range (allowed: 1..604800)"},
	{"agent_timeout_601", MINIMAL "fencing = {\n  agent_timeout_s = 601;\n};\n", 10,
	 "fencing.agent_timeout_s", "601 is out of range (allowed: 1..600)"},
	{"node_id_0", WITH_NODE_B("  { id = 0; name = \"b\"; addresses = { cluster = \"10.0.0.2\"; }; }\n"),
	 7, "nodes[1].id", "0 is out of range (allowed: 1..2147483647)"},

	/* nodes */
	{"duplicate_node_id",
	 WITH_NODE_B("  { id = 1; name = \"b\"; addresses = { cluster = \"10.0.0.2\"; }; }\n"), 7,
	 "nodes[1].id", "duplicate id 1, also nodes[0] (allowed: a unique id)"},
	{"duplicate_node_name",
	 WITH_NODE_B("  { id = 2; name = \"a\"; addresses = { cluster = \"10.0.0.2\"; }; }\n"), 7,
	 "nodes[1].name", "duplicate name \"a\", also nodes[0] (allowed: a unique name)"},
	{"duplicate_address",
	 WITH_NODE_B("  { id = 2; name = \"b\"; addresses = { cluster = \"10.0.0.1\"; }; }\n"), 7,
	 "nodes[1].addresses.cluster",
	 "10.0.0.1 is already used by nodes[0].addresses.cluster (allowed: a unique address)"},
	{"address_outside_subnet",
	 WITH_NODE_B("  { id = 2; name = \"b\"; addresses = { cluster = \"10.0.1.2\"; }; }\n"), 7,
	 "nodes[1].addresses.cluster",
	 "10.0.1.2 is outside network \"cluster\" (allowed: an address in 10.0.0.0/24)"},
	{"address_outside_subnets",
	 THREE_NETS_WITH_NODE_B("  { id = 2; name = \"b\"; addresses = { cluster = \"10.0.0.2\"; mig = "
				"\"10.1.2.2\"; }; }\n"),
	 9, "nodes[1].addresses.mig",
	 "10.1.2.2 is outside network \"mig\" (allowed: an address in 10.1.0.0/24, 10.1.1.0/24)"},
	{"address_wrong_family",
	 WITH_NODE_B("  { id = 2; name = \"b\"; addresses = { cluster = \"2001:db8::2\"; }; }\n"), 7,
	 "nodes[1].addresses.cluster", "outside network \"cluster\" (allowed: an address in 10.0.0.0/24)"},
	{"address_bad_syntax",
	 WITH_NODE_B("  { id = 2; name = \"b\"; addresses = { cluster = \"10.0.0.300\"; }; }\n"), 7,
	 "nodes[1].addresses.cluster", "invalid address \"10.0.0.300\" (allowed: an IPv4 or IPv6 address)"},
	{"missing_cluster_address",
	 THREE_NETS_WITH_NODE_B("  { id = 2; name = \"b\";\n    addresses = { mig = \"10.1.1.2\"; }; }\n"),
	 10, "nodes[1].addresses.cluster", "missing address on cluster network \"cluster\""},
	{"missing_addresses", WITH_NODE_B("  { id = 2; name = \"b\"; }\n"), 7, "nodes[1].addresses",
	 "missing (allowed: { network = \"address\"; ... }, required for: cluster)"},
	{"missing_node_name", WITH_NODE_B("  { id = 2; addresses = { cluster = \"10.0.0.2\"; }; }\n"), 7,
	 "nodes[1].name", "missing (allowed: 1-63 characters"},
	{"empty_nodes", L1_CLUSTER L2_NETS L3_NET L4_END "nodes = ( );\n", 5, "nodes",
	 "empty (allowed: a list of 1..32 nodes)"},
	{"local_id_not_in_nodes", MINIMAL "node = { id = 3; };\n", 9, "node.id",
	 "no node with id 3 in nodes (allowed: 1, 2)"},

	/* networks and roles */
	{"no_cluster_role",
	 L1_CLUSTER
	 "networks = (\n  { name = \"mgmt\"; role = \"management\"; subnet = \"10.0.0.0/24\"; }\n);\n"
	 "nodes = (\n  { id = 1; name = \"a\"; addresses = { mgmt = \"10.0.0.1\"; }; }\n);\n",
	 2, "networks", "no network with role \"cluster\" (allowed: one or more)"},
	{"duplicate_migration_role",
	 L1_CLUSTER L2_NETS
	 "  { name = \"cluster\"; role = \"cluster\"; subnet = \"10.0.0.0/24\"; },\n"
	 "  { name = \"m1\"; role = \"migration\"; subnet = \"10.1.0.0/24\"; },\n"
	 "  { name = \"m2\";\n    role = \"migration\"; subnet = \"10.2.0.0/24\"; }\n" L4_END NODES_ONLY,
	 6, "networks[2].role",
	 "a second network with role \"migration\", also networks[1] (allowed: at most one)"},
	{"missing_role", WITH_NET("  { name = \"cluster\";\n    subnet = \"10.0.0.0/24\"; }\n"), 3,
	 "networks[0].role", "missing (allowed: \"cluster\", \"migration\", \"management\")"},
	{"bad_role", WITH_NET("  { name = \"cluster\"; role = \"storage\"; subnet = \"10.0.0.0/24\"; }\n"), 3,
	 "networks[0].role",
	 "unknown value \"storage\" (allowed: \"cluster\", \"migration\", \"management\")"},
	{"duplicate_network_name",
	 L1_CLUSTER L2_NETS
	 "  { name = \"cluster\"; role = \"cluster\"; subnet = \"10.0.0.0/24\"; },\n"
	 "  { name = \"cluster\"; role = \"management\"; subnet = \"10.1.0.0/24\"; }\n" L4_END NODES_ONLY,
	 4, "networks[1].name",
	 "duplicate network name \"cluster\", also networks[0] (allowed: a unique name)"},
	{"bad_network_name",
	 L1_CLUSTER L2_NETS
	 "  { name = \"cluster\"; role = \"cluster\"; subnet = \"10.0.0.0/24\"; },\n"
	 "  { name = \"9net\"; role = \"management\"; subnet = \"10.1.0.0/24\"; }\n" L4_END NODES_ONLY,
	 4, "networks[1].name", "invalid value \"9net\" (allowed: 1-63 characters: a letter, then"},
	{"subnet_and_subnets",
	 WITH_NET("  { name = \"cluster\"; role = \"cluster\"; subnet = \"10.0.0.0/24\";\n"
		  "    subnets = [ \"10.0.0.0/24\" ]; }\n"),
	 4, "networks[0].subnets", "both subnet and subnets given (allowed: exactly one of subnet, subnets)"},
	{"no_subnet", WITH_NET("  { name = \"cluster\"; role = \"cluster\"; }\n"), 3, "networks[0].subnet",
	 "missing (allowed: subnet = \"a/n\" or subnets = [ \"a/n\", ... ])"},
	{"subnet_host_bits",
	 WITH_NET("  { name = \"cluster\"; role = \"cluster\"; subnet = \"10.0.0.1/24\"; }\n"), 3,
	 "networks[0].subnet",
	 "\"10.0.0.1/24\" has host bits set, did you mean 10.0.0.0/24? (allowed: a prefix"},
	{"subnet_bad_length",
	 WITH_NET("  { name = \"cluster\"; role = \"cluster\"; subnet = \"10.0.0.0/33\"; }\n"), 3,
	 "networks[0].subnet", "invalid prefix \"10.0.0.0/33\" (allowed: a prefix like 10.10.1.0/24"},
	{"subnets_bad_element",
	 WITH_NET("  { name = \"cluster\"; role = \"cluster\";\n"
		  "    subnets = [ \"10.0.0.0/24\",\n      \"10.0.1.0/24x\" ]; }\n"),
	 5, "networks[0].subnets[1]", "invalid prefix \"10.0.1.0/24x\""},
	{"network_heartbeat_not_bool",
	 WITH_NET("  { name = \"cluster\"; role = \"cluster\"; subnet = \"10.0.0.0/24\"; heartbeat = \"on\"; "
		  "}\n"),
	 3, "networks[0].heartbeat", "expected a boolean, got a string (allowed: true, false)"},

	/* cluster section and key file */
	{"missing_cluster_section", L2_NETS L3_NET L4_END NODES_ONLY, 0, "cluster",
	 "missing (allowed: cluster = { name = "},
	{"missing_cluster_name", "cluster = { key_file = \"key\"; };\n" L2_NETS L3_NET L4_END NODES_ONLY, 1,
	 "cluster.name", "missing (allowed: 1-63 characters"},
	{"bad_cluster_name",
	 "cluster = { name = \"my cluster\"; key_file = \"key\"; };\n" L2_NETS L3_NET L4_END NODES_ONLY, 1,
	 "cluster.name", "invalid value \"my cluster\" (allowed: 1-63 characters of A-Z a-z 0-9 _ . -"},
	{"missing_key_file",
	 "cluster = { name = \"test\";\n  key_file = \"nokey\"; };\n" L2_NETS L3_NET L4_END NODES_ONLY, 2,
	 "cluster.key_file",
	 "/nokey: No such file or directory (allowed: a readable file of 32..1024 bytes)"},
	{"short_key_file",
	 "cluster = { name = \"test\";\n  key_file = \"short.key\"; };\n" L2_NETS L3_NET L4_END NODES_ONLY, 2,
	 "cluster.key_file", "is too short: 31 bytes (allowed: 32..1024 bytes)"},
	{"long_key_file",
	 "cluster = { name = \"test\";\n  key_file = \"long.key\"; };\n" L2_NETS L3_NET L4_END NODES_ONLY, 2,
	 "cluster.key_file", "is too long: more than 1024 bytes (allowed: 32..1024 bytes)"},
	{"key_file_is_dir",
	 "cluster = { name = \"test\";\n  key_file = \"keydir\"; };\n" L2_NETS L3_NET L4_END NODES_ONLY, 2,
	 "cluster.key_file", "is not a regular file (allowed: a readable file of 32..1024 bytes)"},

	/* migration, fencing, control */
	{"migration_network_wrong_role", THREE_NETS "migration = { network = \"cluster\"; };\n", 11,
	 "migration.network",
	 "network \"cluster\" has role \"cluster\" (allowed: a network with role \"migration\": \"mig\")"},
	{"migration_network_unknown", THREE_NETS "migration = { network = \"fast\"; };\n", 11,
	 "migration.network",
	 "no network named \"fast\" (allowed: a network with role \"migration\": \"mig\")"},
	{"fallback_is_migration_network", THREE_NETS "migration = {\n  fallback_network = \"mig\";\n};\n", 12,
	 "migration.fallback_network",
	 "\"mig\" is the migration network itself (allowed: \"mgmt\", \"cluster\")"},
	{"fallback_unknown", THREE_NETS "migration = { fallback_network = \"wan\"; };\n", 11,
	 "migration.fallback_network", "no network named \"wan\" (allowed: \"mgmt\", \"cluster\")"},
	/* migration.links: lines 11.., the element's own line */
	{"links_unknown", THREE_NETS_MGMT_B "migration = {\n  links = [ \"mig\",\n    \"wan\" ];\n};\n", 13,
	 "migration.links[1]", "no network named \"wan\" (allowed: \"mgmt\", \"mig\")"},
	{"links_duplicate", THREE_NETS_MGMT_B "migration = {\n  links = [ \"mig\", \"mig\" ];\n};\n", 12,
	 "migration.links[1]", "\"mig\" listed twice (allowed: each network once)"},
	{"links_cluster_role", THREE_NETS_MGMT_B "migration = { links = [ \"cluster\" ]; };\n", 11,
	 "migration.links[0]",
	 "network \"cluster\" has role \"cluster\": a migration would crowd out corosync and heartbeats "
	 "(allowed: \"mgmt\", \"mig\")"},
	{"links_node_without_address", THREE_NETS "migration = {\n  links = [ \"mig\", \"mgmt\" ];\n};\n", 12,
	 "migration.links[1]",
	 "node \"b\" has no address on network \"mgmt\" (allowed: networks every node has an address on)"},
	{"links_empty", THREE_NETS_MGMT_B "migration = {\n  links = [ ];\n};\n", 12, "migration.links",
	 "0 networks (allowed: 1..4 of \"mgmt\", \"mig\")"},
	{"links_not_array", THREE_NETS_MGMT_B "migration = { links = \"mig\"; };\n", 11, "migration.links",
	 "expected an array of network names, got a string (allowed: [ \"name\", ... ] of \"mgmt\", "
	 "\"mig\")"},
	{"links_not_strings", THREE_NETS_MGMT_B "migration = { links = ( \"mig\", 2 ); };\n", 11,
	 "migration.links[1]", "expected a string, got an integer (allowed: \"mgmt\", \"mig\")"},
	{"links_direct",
	 THREE_NETS_MGMT_B "migration = {\n  transport = \"direct\";\n  links = [ \"mig\", \"mgmt\" ];\n};\n",
	 13, "migration.links",
	 "2 networks with transport \"direct\" (allowed: one, or transport \"mcopy\")"},
	{"bad_transport", MINIMAL "migration = { transport = \"tcp\"; };\n", 9, "migration.transport",
	 "unknown value \"tcp\" (allowed: \"mcopy\", \"direct\")"},
	{"isolation_grace_not_below_self_fence",
	 MINIMAL "fencing = {\n  self_fence_ms = 3000;\n  isolation_grace_ms = 3000;\n};\n", 11,
	 "fencing.isolation_grace_ms", "3000 is not below self_fence_ms 3000 (allowed: 0..2999)"},
	{"isolation_default_not_below_self_fence", MINIMAL "fencing = {\n  self_fence_ms = 5000;\n};\n", 10,
	 "fencing.isolation_grace_ms", "5000 is not below self_fence_ms 5000 (allowed: 0..4999)"},
	{"agent_mode_without_agent", MINIMAL "fencing = {\n  mode = \"agent\";\n};\n", 9, "fencing.agent",
	 "mode \"agent\" needs an agent (allowed: an absolute path of a fence-agents program)"},
	{"agent_relative", MINIMAL "fencing = { mode = \"agent\"; agent = \"fence_ipmilan\"; };\n", 9,
	 "fencing.agent", "invalid value \"fence_ipmilan\" (allowed: an absolute path"},
	{"bad_fence_mode", MINIMAL "fencing = { mode = \"sbd\"; };\n", 9, "fencing.mode",
	 "unknown value \"sbd\" (allowed: \"self\", \"agent\", \"none\")"},
	{"socket_relative", MINIMAL "control = { socket = \"clusterd.sock\"; };\n", 9, "control.socket",
	 "(allowed: an absolute path of a UNIX socket)"},
	{"socket_too_long",
	 MINIMAL "control = { socket = "
		 "\"/run/"
		 "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
		 "12345678901k\"; };\n",
	 9, "control.socket",
	 "too long: 108 bytes (allowed: an absolute path of a UNIX socket, at most 107 bytes)"},
	{"bad_group", MINIMAL "control = { admin_group = \"wheel users\"; };\n", 9, "control.admin_group",
	 "invalid value \"wheel users\" (allowed: a group name"},
	{"libvirt_uri_empty", MINIMAL "libvirt = { uri = \"\"; };\n", 9, "libvirt.uri",
	 "invalid value \"\" (allowed: a libvirt connection URI"},
	{"libvirt_peer_uri_no_placeholder",
	 MINIMAL "libvirt = {\n  peer_uri = \"qemu+tcp://hv2/system\";\n};\n", 10, "libvirt.peer_uri",
	 "invalid value \"qemu+tcp://hv2/system\" (allowed: a libvirt URI template with one %s"},
	{"libvirt_peer_uri_two_placeholders", MINIMAL "libvirt = { peer_uri = \"qemu+tcp://%s/%s\"; };\n", 9,
	 "libvirt.peer_uri", "invalid value \"qemu+tcp://%s/%s\" (allowed:"},
	{"state_dir_relative", MINIMAL "state_dir = \"var/lib/clusterd\";\n", 9, "state_dir",
	 "invalid value \"var/lib/clusterd\" (allowed: an absolute directory path)"},

	/* libconfig syntax errors: one error, libconfig's line and text, no key */
	{"syntax_error", MINIMAL "heartbeat = {\n  port = ;\n};\n", 10, "", "syntax error"},
	{"duplicate_setting", MINIMAL "state_dir = \"/a\";\nstate_dir = \"/b\";\n", 10, "",
	 "duplicate setting name"},
};

#define N_BAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

static void test_bad_case(void **state)
{
	const struct bad_case *c = *state;
	struct cfg *sentinel = (struct cfg *)&tmpdir, *cfg = sentinel;
	struct cfg_errors errs;
	char path[PATH_MAX];
	int r;

	write_conf(c->text, path);
	r = cfg_load(path, &cfg, &errs);
	if (r == 0) {
		cfg_free(cfg);
		fail_msg("a bad file loaded without error");
	}
	assert_int_equal(r, -EINVAL);
	assert_ptr_equal(cfg, sentinel); /* untouched on failure */
	for (size_t i = 0; i < errs.n; i++)
		print_message("  %s\n", errs.v[i].msg);
	assert_int_equal(errs.n, 1);
	check_error(&errs.v[0], path, c->line, c->key, c->want);
	cfg_errors_clear(&errs);
	assert_null(errs.v);
	assert_int_equal(errs.n, 0);
}

/* ---- good files ---- */

static void assert_addr(const struct hb_addr *a, const char *want)
{
	struct hb_addr w;

	assert_int_equal(hb_addr_parse(want, &w), 0);
	assert_true(hb_addr_equal(a, &w));
}

static void assert_subnet(const struct cfg_subnet *s, const char *addr, unsigned len)
{
	assert_addr(&s->addr, addr);
	assert_int_equal(s->prefixlen, len);
}

static void assert_key(const struct cfg *cfg, size_t len)
{
	uint8_t want[2048];

	key_pattern(want, sizeof(want));
	assert_int_equal(cfg->key_len, len);
	assert_memory_equal(cfg->key, want, len);
}

/* The defaults documented in clusterd.conf(5) that every file without those
 * keys gets: shared by the tests of the example and of a minimal config. */
static void assert_documented_defaults(const struct cfg *cfg)
{
	assert_int_equal(cfg->heartbeat.same_subnet_threshold, 10);
	assert_int_equal(cfg->heartbeat.cross_subnet_delay_ms, 1000);
	assert_int_equal(cfg->heartbeat.cross_subnet_threshold, 20);
	assert_int_equal(cfg->heartbeat.route_history_length, 10);
	assert_int_equal(cfg->heartbeat.rise, 3);
	assert_int_equal(cfg->heartbeat.degraded_grace_s, 30);
	assert_int_equal(cfg->migration.transport, CFG_TRANSPORT_MCOPY);
	assert_int_equal(cfg->migration.streams, 1);
	assert_int_equal(cfg->migration.max_concurrent, 2);
	assert_int_equal(cfg->migration.max_cluster, 0);
	assert_int_equal(cfg->migration.cpu_overcommit, 4);
	assert_int_equal(cfg->migration.bandwidth_mbps, 0);
	assert_int_equal(cfg->migration.max_downtime_ms, 300);
	assert_int_equal(cfg->migration.mcopy_port, 49300);
	assert_string_equal(cfg->migration.congestion, "");
	assert_int_equal(cfg->migration.timeout_s_per_gib, 120);
	assert_int_equal(cfg->migration.progress_timeout_s, 60);
	assert_true(cfg->migration.auto_converge);
	assert_false(cfg->migration.postcopy);
	assert_int_equal(cfg->migration.fallback_network, -1);
	assert_int_equal(cfg->fencing.mode, CFG_FENCE_SELF);
	assert_string_equal(cfg->fencing.agent, "");
	assert_int_equal(cfg->fencing.agent_timeout_s, 60);
	assert_int_equal(cfg->fencing.self_fence_ms, 10000);
	assert_int_equal(cfg->fencing.isolation_grace_ms, 5000);
	assert_true(cfg->fencing.allow_self_fence_fallback);
	assert_int_equal(cfg->fencing.quarantine_failures, 3);
	assert_int_equal(cfg->fencing.quarantine_window_s, 3600);
	assert_int_equal(cfg->fencing.quarantine_s, 3600);
	assert_string_equal(cfg->libvirt_uri, "qemu:///system");
	assert_string_equal(cfg->libvirt_peer_uri, "qemu+tls://%s/system");
	assert_string_equal(cfg->control_group, "root");
	assert_string_equal(cfg->admin_group, "root");
}

static void test_example_config(void **state)
{
	const char *top = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
	const char *old = "key_file = \"/etc/clusterd/cluster.key\";";
	char path[PATH_MAX], *text, *at, *mod;
	struct cfg *cfg;
	FILE *f;
	long size;

	snprintf(path, sizeof(path), "%s/configs/clusterd.conf", top);
	f = fopen(path, "re");
	if (!f)
		fail_msg("cannot open %s (set top_srcdir): %s", path, strerror(errno));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size > 0);
	rewind(f);
	text = calloc(1, (size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
	fclose(f);

	/* point key_file at the test key */
	at = strstr(text, old);
	assert_non_null(at);
	mod = malloc((size_t)size + PATH_MAX + 64);
	assert_non_null(mod);
	sprintf(mod, "%.*skey_file = \"%s/key\";%s", (int)(at - text), text, tmpdir, at + strlen(old));
	free(text);
	cfg = load_ok(mod);
	free(mod);

	assert_string_equal(cfg->cluster_name, "kvm-prod");
	snprintf(path, sizeof(path), "%s/key", tmpdir);
	assert_string_equal(cfg->key_file, path);
	assert_key(cfg, KEY_BYTES);
	assert_int_equal(cfg->local_id, 0);

	assert_int_equal(cfg->n_networks, 3);
	assert_string_equal(cfg->networks[0].name, "management");
	assert_int_equal(cfg->networks[0].role, CFG_ROLE_MANAGEMENT);
	assert_int_equal(cfg->networks[0].n_subnets, 1);
	assert_subnet(&cfg->networks[0].subnets[0], "192.0.2.0", 24);
	assert_true(cfg->networks[0].heartbeat);
	assert_string_equal(cfg->networks[1].name, "cluster");
	assert_int_equal(cfg->networks[1].role, CFG_ROLE_CLUSTER);
	assert_subnet(&cfg->networks[1].subnets[0], "10.10.1.0", 24);
	assert_string_equal(cfg->networks[2].name, "migration");
	assert_int_equal(cfg->networks[2].role, CFG_ROLE_MIGRATION);
	assert_subnet(&cfg->networks[2].subnets[0], "10.10.2.0", 24);
	assert_true(cfg->networks[2].heartbeat);

	assert_int_equal(cfg->n_nodes, 3);
	for (size_t i = 0; i < 3; i++) {
		char name[8], a[32];
		assert_int_equal(cfg->nodes[i].id, i + 1);
		snprintf(name, sizeof(name), "hv%zu", i + 1);
		assert_string_equal(cfg->nodes[i].name, name);
		for (size_t k = 0; k < 3; k++)
			assert_true(cfg->nodes[i].has_addr[k]);
		snprintf(a, sizeof(a), "192.0.2.%zu", 11 + i);
		assert_addr(&cfg->nodes[i].addr[0], a);
		snprintf(a, sizeof(a), "10.10.1.%zu", 11 + i);
		assert_addr(&cfg->nodes[i].addr[1], a);
		snprintf(a, sizeof(a), "10.10.2.%zu", 11 + i);
		assert_addr(&cfg->nodes[i].addr[2], a);
	}

	/* the example spells out every default */
	assert_int_equal(cfg->heartbeat.port, 3343);
	assert_int_equal(cfg->heartbeat.same_subnet_delay_ms, 1000);
	assert_documented_defaults(cfg);
	assert_int_equal(cfg->migration.network, 2);
	assert_string_equal(cfg->control_socket, "/run/clusterd/clusterd.sock");
	assert_string_equal(cfg->state_dir, "/var/lib/clusterd");

	assert_int_equal(cfg_node_by_id(cfg, 1), 0);
	assert_int_equal(cfg_node_by_id(cfg, 3), 2);
	assert_int_equal(cfg_node_by_id(cfg, 4), -ENOENT);
	assert_int_equal(cfg_node_by_id(cfg, 0), -ENOENT);
	assert_int_equal(cfg_node_by_name(cfg, "hv2"), 1);
	assert_int_equal(cfg_node_by_name(cfg, "hv4"), -ENOENT);
	assert_int_equal(cfg_node_by_name(cfg, ""), -ENOENT);
	assert_int_equal(cfg_network_by_role(cfg, CFG_ROLE_MANAGEMENT), 0);
	assert_int_equal(cfg_network_by_role(cfg, CFG_ROLE_CLUSTER), 1);
	assert_int_equal(cfg_network_by_role(cfg, CFG_ROLE_MIGRATION), 2);
	assert_int_equal(cfg_network_by_name(cfg, "migration"), 2);
	assert_int_equal(cfg_network_by_name(cfg, "storage"), -ENOENT);
	cfg_free(cfg);
}

static void test_minimal_defaults(void **state)
{
	struct cfg *cfg = load_ok(MINIMAL);
	char path[PATH_MAX + 8];

	assert_string_equal(cfg->cluster_name, "test");
	/* relative key_file: relative to the config file's directory */
	snprintf(path, sizeof(path), "%s/key", tmpdir);
	assert_string_equal(cfg->key_file, path);
	assert_key(cfg, KEY_BYTES);
	assert_int_equal(cfg->local_id, 0);
	assert_int_equal(cfg->n_networks, 1);
	assert_true(cfg->networks[0].heartbeat);
	assert_int_equal(cfg->networks[0].line, 3);
	assert_int_equal(cfg->n_nodes, 2);
	assert_int_equal(cfg->nodes[0].line, 6);
	assert_int_equal(cfg->nodes[1].line, 7);
	assert_true(cfg->nodes[1].has_addr[0]);
	assert_addr(&cfg->nodes[1].addr[0], "10.0.0.2");

	/* every default, by constant and by its documented value */
	assert_int_equal(cfg->heartbeat.port, CFG_DEFAULT_HB_PORT);
	assert_int_equal(cfg->heartbeat.port, 3343);
	assert_int_equal(cfg->heartbeat.same_subnet_delay_ms, HB_DEFAULT_SAME_DELAY_MS);
	assert_int_equal(cfg->heartbeat.same_subnet_delay_ms, 1000);
	assert_documented_defaults(cfg);
	assert_int_equal(cfg->migration.network, -1); /* no migration network */
	assert_string_equal(cfg->control_socket, CFG_DEFAULT_SOCKET);
	assert_string_equal(cfg->state_dir, CFG_DEFAULT_STATE_DIR);

	assert_int_equal(cfg_network_by_role(cfg, CFG_ROLE_CLUSTER), 0);
	assert_int_equal(cfg_network_by_role(cfg, CFG_ROLE_MIGRATION), -ENOENT);
	assert_int_equal(cfg_network_by_role(cfg, CFG_ROLE_MANAGEMENT), -ENOENT);
	assert_int_equal(cfg_network_by_name(cfg, "cluster"), 0);
	assert_int_equal(cfg_node_by_name(cfg, "b"), 1);
	assert_int_equal(cfg_node_by_id(cfg, 2), 1);
	cfg_free(cfg);
}

/* The accepted edge of every range, int64 integers, and keys given. */
static void test_edges_accepted(void **state)
{
	struct cfg *cfg;

	cfg = load_ok(
		MINIMAL
		"node = { id = 2; };\n"
		"heartbeat = { port = 1; same_subnet_delay_ms = 50; cross_subnet_delay_ms = 10000;\n"
		"  same_subnet_threshold = 3; cross_subnet_threshold = 120; route_history_length = 1000;\n"
		"  rise = 100; degraded_grace_s = 0; };\n"
		"migration = { bandwidth_mbps = 10000L; streams = 16; max_downtime_ms = 60000;\n"
		"  transport = \"direct\"; auto_converge = false; postcopy = true; mcopy_port = 65535;\n"
		"  congestion = \"bbr_2\"; };\n"
		"fencing = { mode = \"none\"; self_fence_ms = 1000; isolation_grace_ms = 999;\n"
		"  allow_self_fence_fallback = false; quarantine_s = 604800; };\n"
		"control = { group = \"clusterd\"; admin_group = \"wheel\"; };\n"
		"libvirt = { uri = \"qemu+ssh://hv1/system\"; };\n"
		"state_dir = \"/srv/clusterd\";\n");
	assert_int_equal(cfg->local_id, 2);
	assert_int_equal(cfg->heartbeat.port, 1);
	assert_int_equal(cfg->heartbeat.same_subnet_delay_ms, 50);
	assert_int_equal(cfg->heartbeat.cross_subnet_delay_ms, 10000);
	assert_int_equal(cfg->heartbeat.same_subnet_threshold, 3);
	assert_int_equal(cfg->heartbeat.cross_subnet_threshold, 120);
	assert_int_equal(cfg->heartbeat.route_history_length, 1000);
	assert_int_equal(cfg->heartbeat.rise, 100);
	assert_int_equal(cfg->heartbeat.degraded_grace_s, 0);
	assert_int_equal(cfg->migration.bandwidth_mbps, 10000);
	assert_int_equal(cfg->migration.streams, 16);
	assert_int_equal(cfg->migration.max_downtime_ms, 60000);
	assert_int_equal(cfg->migration.mcopy_port, 65535);
	assert_string_equal(cfg->migration.congestion, "bbr_2");
	assert_int_equal(cfg->migration.transport, CFG_TRANSPORT_DIRECT);
	assert_false(cfg->migration.auto_converge);
	assert_true(cfg->migration.postcopy);
	assert_int_equal(cfg->fencing.mode, CFG_FENCE_NONE);
	assert_int_equal(cfg->fencing.self_fence_ms, 1000);
	assert_int_equal(cfg->fencing.isolation_grace_ms, 999);
	assert_false(cfg->fencing.allow_self_fence_fallback);
	assert_int_equal(cfg->fencing.quarantine_s, 604800);
	assert_string_equal(cfg->control_group, "clusterd");
	assert_string_equal(cfg->admin_group, "wheel");
	assert_string_equal(cfg->libvirt_uri, "qemu+ssh://hv1/system");
	assert_string_equal(cfg->state_dir, "/srv/clusterd");
	cfg_free(cfg);

	cfg = load_ok(
		MINIMAL
		"heartbeat = { port = 65535; same_subnet_delay_ms = 10000; cross_subnet_delay_ms = 50;\n"
		"  same_subnet_threshold = 120; cross_subnet_threshold = 3; };\n");
	assert_int_equal(cfg->heartbeat.port, 65535);
	assert_int_equal(cfg->heartbeat.same_subnet_delay_ms, 10000);
	assert_int_equal(cfg->heartbeat.cross_subnet_delay_ms, 50);
	assert_int_equal(cfg->heartbeat.same_subnet_threshold, 120);
	assert_int_equal(cfg->heartbeat.cross_subnet_threshold, 3);
	cfg_free(cfg);

	/* key files of exactly HB_KEY_MIN and HB_KEY_MAX bytes */
	cfg = load_ok(
		"cluster = { name = \"t\"; key_file = \"min.key\"; };\n" L2_NETS L3_NET L4_END NODES_ONLY);
	assert_key(cfg, 32);
	cfg_free(cfg);
	cfg = load_ok(
		"cluster = { name = \"t\"; key_file = \"max.key\"; };\n" L2_NETS L3_NET L4_END NODES_ONLY);
	assert_key(cfg, 1024);
	cfg_free(cfg);
}

/* Three networks, routed subnets, IPv6, agent fencing, a fallback network. */
static void test_three_networks(void **state)
{
	struct cfg *cfg;

	cfg = load_ok(THREE_NETS "migration = { fallback_network = \"mgmt\"; };\n"
				 "fencing = { mode = \"agent\"; agent = \"/usr/sbin/fence_ipmilan\"; };\n");
	assert_int_equal(cfg->n_networks, 3);
	assert_int_equal(cfg->networks[2].n_subnets, 2);
	assert_subnet(&cfg->networks[2].subnets[1], "10.1.1.0", 24);
	assert_int_equal(cfg->migration.network, 2);
	assert_int_equal(cfg->migration.fallback_network, 0);
	assert_int_equal(cfg->migration.n_links, 1); /* default: just the migration network */
	assert_int_equal(cfg->migration.links[0], 2);
	assert_int_equal(cfg->fencing.mode, CFG_FENCE_AGENT);
	assert_string_equal(cfg->fencing.agent, "/usr/sbin/fence_ipmilan");
	/* node b is not on mgmt: optional for a management network */
	assert_true(cfg->nodes[0].has_addr[0]);
	assert_false(cfg->nodes[1].has_addr[0]);
	assert_true(cfg->nodes[1].has_addr[2]);
	assert_addr(&cfg->nodes[1].addr[2], "10.1.1.2");
	assert_int_equal(cfg_network_by_role(cfg, CFG_ROLE_MIGRATION), 2);
	assert_int_equal(cfg_network_by_name(cfg, "mgmt"), 0);
	assert_string_equal(cfg_role_name(cfg->networks[0].role), "management");
	assert_string_equal(cfg_role_name(CFG_ROLE_CLUSTER), "cluster");
	assert_string_equal(cfg_role_name(CFG_ROLE_MIGRATION), "migration");
	cfg_free(cfg);

	cfg = load_ok(
		L1_CLUSTER
		"networks = (\n"
		"  { name = \"c6\"; role = \"cluster\"; subnet = \"2001:db8:1::/64\"; heartbeat = false; },\n"
		"  { name = \"c4\"; role = \"cluster\"; subnet = \"10.0.0.0/8\"; }\n"
		");\n"
		"nodes = (\n"
		"  { id = 10; name = \"x\"; addresses = { c6 = \"2001:db8:1::a\"; c4 = \"10.1.2.3\"; }; },\n"
		"  { id = 2147483647; name = \"y.example\"; addresses = { c4 = \"10.1.2.4\";\n"
		"    c6 = \"2001:db8:1::b\"; }; }\n"
		");\n");
	assert_false(cfg->networks[0].heartbeat);
	assert_subnet(&cfg->networks[0].subnets[0], "2001:db8:1::", 64);
	assert_addr(&cfg->nodes[0].addr[0], "2001:db8:1::a");
	assert_addr(&cfg->nodes[1].addr[1], "10.1.2.4");
	assert_int_equal(cfg->nodes[1].id, 2147483647);
	assert_int_equal(cfg_node_by_id(cfg, 2147483647), 1);
	assert_int_equal(cfg_node_by_name(cfg, "y.example"), 1);
	assert_int_equal(cfg->migration.network, -1);
	assert_int_equal(cfg->migration.n_links, 0);
	cfg_free(cfg);

	/* migration.links: in the order given, management allowed */
	cfg = load_ok(THREE_NETS_MGMT_B "migration = { links = [ \"mgmt\", \"mig\" ]; };\n");
	assert_int_equal(cfg->migration.n_links, 2);
	assert_int_equal(cfg->migration.links[0], 0);
	assert_int_equal(cfg->migration.links[1], 2);
	cfg_free(cfg);
}

/* Several problems in one file: all reported, in line order. */
static void test_three_errors(void **state)
{
	const char *text = L1_CLUSTER L2_NETS L3_NET L4_END L5_NODES L6_NODE_A
		"  { id = 2; name = \"a\"; addresses = { cluster = \"10.0.0.2\"; }; }\n" /* 7: duplicate name
											  */
		L8_END "heartbeat = {\n"
		"  cross_subnet_threshold = 121;\n" /* 10: out of range */
		"};\n"
		"colour = \"blue\";\n"; /* 12: unknown key */
	struct cfg *cfg = NULL;
	struct cfg_errors errs;
	char path[PATH_MAX];

	write_conf(text, path);
	assert_int_equal(cfg_load(path, &cfg, &errs), -EINVAL);
	assert_null(cfg);
	assert_int_equal(errs.n, 3);
	check_error(&errs.v[0], path, 7, "nodes[1].name", "duplicate name \"a\"");
	check_error(&errs.v[1], path, 10, "heartbeat.cross_subnet_threshold", "(allowed: 3..120)");
	check_error(&errs.v[2], path, 12, "colour", "unknown key");
	cfg_errors_clear(&errs);
}

/* Many errors at once, none lost, and a file that is not there or not a file. */
static void test_file_errors(void **state)
{
	struct cfg *cfg = NULL;
	struct cfg_errors errs;
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
	assert_int_equal(cfg_load(path, &cfg, &errs), -EINVAL);
	assert_null(cfg);
	assert_int_equal(errs.n, 1);
	check_error(&errs.v[0], path, 0, "", "cannot open: No such file or directory");
	cfg_errors_clear(&errs);

	snprintf(path, sizeof(path), "%s/keydir", tmpdir);
	assert_int_equal(cfg_load(path, &cfg, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	check_error(&errs.v[0], path, 0, "", "is a directory");
	cfg_errors_clear(&errs);

	/* an empty file: every required part is missing, none tied to a line */
	write_conf("", path);
	assert_int_equal(cfg_load(path, &cfg, &errs), -EINVAL);
	assert_int_equal(errs.n, 3);
	check_error(&errs.v[0], path, 0, "cluster", "missing");
	check_error(&errs.v[1], path, 0, "networks", "missing");
	check_error(&errs.v[2], path, 0, "nodes", "missing (allowed: a list of 1..32 nodes)");
	cfg_errors_clear(&errs);

	/* NULL ret_errs is allowed; bad arguments */
	assert_int_equal(cfg_load(path, &cfg, NULL), -EINVAL);
	assert_int_equal(cfg_load(NULL, &cfg, &errs), -EINVAL);
	assert_int_equal(errs.n, 0);
	assert_int_equal(cfg_load(path, NULL, &errs), -EINVAL);
	assert_null(cfg);
	cfg_free(NULL);
	cfg_errors_clear(NULL);
}

/* The key file is unreadable (only meaningful without CAP_DAC_OVERRIDE). */
/* As root every file is readable, so the check runs in a child that drops
 * to nobody first; cmocka asserts in the child become its exit status. */
static void test_unreadable_key(void **state)
{
	char key[PATH_MAX + 32], path[PATH_MAX];
	uint8_t buf[KEY_BYTES] = {0};
	int status;
	pid_t pid;

	snprintf(key, sizeof(key), "%s/noperm.key", tmpdir);
	write_bytes(key, buf, sizeof(buf));
	assert_int_equal(chmod(key, 0), 0);
	write_conf(
		"cluster = { name = \"t\"; key_file = \"noperm.key\"; };\n" L2_NETS L3_NET L4_END NODES_ONLY,
		path);
	assert_int_equal(chmod(tmpdir, 0755), 0);
	assert_int_equal(chmod(path, 0644), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cfg *cfg = NULL;
		struct cfg_errors errs;
		int ok;

		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(3);
		ok = cfg_load(path, &cfg, &errs) == -EINVAL && errs.n == 1 && errs.v[0].line == 1 &&
		     strcmp(errs.v[0].key, "cluster.key_file") == 0 &&
		     strstr(errs.v[0].msg, "Permission denied (allowed: a readable file") != NULL;
		if (!ok && errs.n > 0)
			fprintf(stderr, "unexpected: %s\n", errs.v[0].msg);
		cfg_errors_clear(&errs);
		cfg_free(cfg);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(chmod(tmpdir, 0700), 0);
}

/* At most CFG_MAX_NODES nodes and CFG_MAX_NETWORKS networks. */
static void test_limits(void **state)
{
	struct cfg *cfg = NULL;
	struct cfg_errors errs;
	char path[PATH_MAX], *text;
	size_t len = 0, size = 16384;

	text = malloc(size);
	assert_non_null(text);
	len += (size_t)snprintf(text + len, size - len, "%s", L1_CLUSTER L2_NETS L3_NET L4_END L5_NODES);
	for (int i = 1; i <= CFG_MAX_NODES + 1; i++) /* node i on line 5 + i */
		len += (size_t)snprintf(
			text + len, size - len,
			"  { id = %d; name = \"n%d\"; addresses = { cluster = \"10.0.0.%d\"; }; }%s\n", i, i,
			i, i <= CFG_MAX_NODES ? "," : "");
	snprintf(text + len, size - len, ");\n");
	write_conf(text, path);
	assert_int_equal(cfg_load(path, &cfg, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	check_error(&errs.v[0], path, 6 + CFG_MAX_NODES, "nodes[32]", "too many nodes (allowed: at most 32)");
	cfg_errors_clear(&errs);

	len = (size_t)snprintf(text, size, "%s", L1_CLUSTER L2_NETS L3_NET);
	for (int i = 1; i <= CFG_MAX_NETWORKS; i++) /* network i on line 3 + i */
		len += (size_t)snprintf(
			text + len, size - len,
			"  ,{ name = \"m%d\"; role = \"management\"; subnet = \"10.%d.0.0/16\"; }\n", i, i);
	snprintf(text + len, size - len, "%s", L4_END NODES_ONLY);
	write_conf(text, path);
	assert_int_equal(cfg_load(path, &cfg, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	check_error(&errs.v[0], path, 3 + CFG_MAX_NETWORKS, "networks[8]",
		    "too many networks (allowed: at most 8)");
	cfg_errors_clear(&errs);
	free(text);
	assert_null(cfg);
}

int main(void)
{
	static struct CMUnitTest tests[N_BAD + 16];
	const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_example_config), cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_edges_accepted), cmocka_unit_test(test_three_networks),
		cmocka_unit_test(test_three_errors),   cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_unreadable_key), cmocka_unit_test(test_limits),
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		tests[n++] = fixed[i];
	for (size_t i = 0; i < N_BAD; i++)
		tests[n++] = (struct CMUnitTest){
			.name = bad_cases[i].name,
			.test_func = test_bad_case,
			.initial_state = (void *)&bad_cases[i],
		};
	return _cmocka_run_group_tests("config", tests, n, group_setup, group_teardown);
}
