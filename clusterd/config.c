/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/config.c: clusterd.conf (libconfig) into struct cfg — defaults
 * first, then every key checked for name, type and range, then the checks
 * across fields. Every problem is collected as "FILE:LINE: KEY: what (allowed:
 * …)" and loading goes on; it never logs, never exits, never half-fills. */
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clusterd/config.h"
#include "heartbeat/hb_monitor.h"
#include "heartbeat/hb_wire.h"

/* Limits of the keys not owned by heartbeat/ (hb_monitor.h has the others). */
#define CFG_NODE_ID_MAX               2147483647
#define CFG_PORT_MAX                  65535
#define CFG_DEGRADED_GRACE_MAX_S      86400
#define CFG_MIG_STREAMS_MAX           16
#define CFG_MIG_CONCURRENT_MAX        16
#define CFG_MIG_CLUSTER_MAX           256
#define CFG_MIG_OVERCOMMIT_MAX        64
#define CFG_MIG_BANDWIDTH_MAX_MBPS    1000000
#define CFG_MIG_DOWNTIME_MAX_MS       60000
#define CFG_MIG_TIMEOUT_MAX_S         3600
#define CFG_FENCE_AGENT_TIMEOUT_MAX_S 600
#define CFG_SELF_FENCE_MIN_MS         1000
#define CFG_SELF_FENCE_MAX_MS         600000
#define CFG_QUARANTINE_FAILURES_MAX   100
#define CFG_QUARANTINE_WINDOW_MAX_S   86400
#define CFG_QUARANTINE_MAX_S          604800

#define KEY_LEN sizeof(((struct cfg_error *)0)->key)

_Static_assert(sizeof(((struct cfg *)0)->key) >= HB_KEY_MAX, "cfg.key holds HB_KEY_MAX bytes");

/* State of one load: where errors go, and what later checks may rely on. */
struct loader {
	const char *path;
	struct cfg *cfg;
	struct cfg_error *errs;
	size_t n_errs, cap;
	bool nomem;
	bool net_named[CFG_MAX_NETWORKS];   /* name valid and unique */
	bool net_subnets[CFG_MAX_NETWORKS]; /* every subnet parsed */
	bool net_role[CFG_MAX_NETWORKS];    /* role valid */
	bool networks_ok;                   /* networks list present and readable */
	bool node_id_ok[CFG_MAX_NODES];
	bool nodes_ok; /* nodes list present and readable */
};

static const char *const roles[] = {"cluster", "migration", "management"};
static const char *const transports[] = {"mcopy", "direct"};
static const char *const fence_modes[] = {"self", "agent", "none"};

/* ---- errors ---- */

static void __attribute__((format(printf, 5, 0)))
err_vadd(struct loader *ld, const char *file, int line, const char *key, const char *fmt, va_list ap)
{
	struct cfg_error *e;
	char what[384];
	size_t n;

	if (ld->nomem)
		return;
	if (ld->n_errs == ld->cap) {
		size_t cap = ld->cap ? ld->cap * 2 : 8;
		struct cfg_error *v = realloc(ld->errs, cap * sizeof(*v));
		if (!v) {
			ld->nomem = true;
			return;
		}
		ld->errs = v;
		ld->cap = cap;
	}
	e = &ld->errs[ld->n_errs++];
	memset(e, 0, sizeof(*e));
	vsnprintf(what, sizeof(what), fmt, ap);
	e->line = line;
	snprintf(e->key, sizeof(e->key), "%s", key);
	n = 0;
	if (line > 0)
		n = (size_t)snprintf(e->msg, sizeof(e->msg), "%s:%d: ", file, line);
	else
		n = (size_t)snprintf(e->msg, sizeof(e->msg), "%s: ", file);
	if (n < sizeof(e->msg) && *key)
		n += (size_t)snprintf(e->msg + n, sizeof(e->msg) - n, "%s: ", key);
	if (n < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - n, "%s", what);
}

/* An error located at setting `at` (its line and file), or at no line when
 * `at` is NULL or the root. */
static void __attribute__((format(printf, 4, 5)))
err_at(struct loader *ld, const config_setting_t *at, const char *key, const char *fmt, ...)
{
	const char *file = ld->path;
	int line = 0;
	va_list ap;

	if (at) {
		line = config_setting_source_line(at);
		if (config_setting_source_file(at))
			file = config_setting_source_file(at);
	}
	va_start(ap, fmt);
	err_vadd(ld, file, line, key, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 5, 6)))
err_line(struct loader *ld, const char *file, int line, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vadd(ld, file ? file : ld->path, line, key, fmt, ap);
	va_end(ap);
}

/* Stable sort by line, errors without a line first. */
static void errs_sort(struct cfg_error *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct cfg_error e = v[i];
		size_t j = i;
		while (j > 0 && v[j - 1].line > e.line) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = e;
	}
}

/* ---- small helpers ---- */

/* Appends s to buf (size bytes, holding len), cutting it to fit. */
static void buf_put(char *buf, size_t size, size_t *len, const char *s)
{
	size_t k = strlen(s);

	if (*len + k >= size)
		k = size - 1 - *len;
	memcpy(buf + *len, s, k);
	*len += k;
	buf[*len] = '\0';
}

/* "prefix.name" (or "name" with an empty prefix) into buf of KEY_LEN bytes;
 * a key too long for it is cut and still names the place. */
static void key_join(char *buf, const char *prefix, const char *name)
{
	size_t len = 0;

	buf[0] = '\0';
	buf_put(buf, KEY_LEN, &len, prefix);
	if (*prefix)
		buf_put(buf, KEY_LEN, &len, ".");
	buf_put(buf, KEY_LEN, &len, name);
}

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	default:
		return "nothing";
	}
}

static bool is_int(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

/* "a, b, c" (or "\"a\", \"b\"" when quoted) into buf. */
static void list_join(char *buf, size_t size, const char *const *names, size_t n, bool quoted)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, quoted ? "%s\"%s\"" : "%s%s", i ? ", " : "",
					names[i]);
}

/* [A-Za-z0-9_.-]{1,63}, not starting with '-': cluster, node and group names. */
static bool name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= CFG_NAME_MAX || s[0] == '-')
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}
#define NAME_ALLOWED "1-63 characters of A-Z a-z 0-9 _ . -, not starting with -"

/* Network names are also setting names inside `addresses`, so they follow
 * libconfig's rule for names: a letter, then letters, digits, '_' or '-'. */
static bool net_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= CFG_NAME_MAX || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}
#define NET_NAME_ALLOWED "1-63 characters: a letter, then letters, digits, _ or -"

static bool abs_path_valid(const char *s)
{
	return s[0] == '/';
}

static bool nonempty_valid(const char *s)
{
	return s[0] != '\0';
}

/* Reports every member of group whose name is not in allowed (NULL-ended). */
static void check_keys(struct loader *ld, const config_setting_t *group, const char *prefix,
		       const char *const *allowed)
{
	char list[512], key[KEY_LEN];
	size_t n_allowed = 0;

	while (allowed[n_allowed])
		n_allowed++;
	list_join(list, sizeof(list), allowed, n_allowed, false);
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);
		size_t j;

		for (j = 0; j < n_allowed; j++)
			if (name && strcmp(name, allowed[j]) == 0)
				break;
		if (j < n_allowed)
			continue;
		key_join(key, prefix, name ? name : "?");
		err_at(ld, s, key, "unknown key (allowed: %s)", list);
	}
}

/* Member `name` of group, or NULL when absent. */
static const config_setting_t *member(const config_setting_t *group, const char *name)
{
	return group ? config_setting_get_member(group, name) : NULL;
}

/*
 * Typed getters. Each returns 1 when the key is present and valid (the value
 * is stored), 0 when it is absent (the default stays), -EINVAL when it is
 * present but wrong (an error is reported, the default stays).
 */

static int get_int(struct loader *ld, const config_setting_t *group, const char *prefix, const char *name,
		   long long min, long long max, long long *ret)
{
	const config_setting_t *s = member(group, name);
	char key[KEY_LEN];
	long long v;

	if (!s)
		return 0;
	key_join(key, prefix, name);
	if (!is_int(s)) {
		err_at(ld, s, key, "expected an integer, got %s (allowed: %lld..%lld)",
		       type_name(config_setting_type(s)), min, max);
		return -EINVAL;
	}
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		err_at(ld, s, key, "%lld is out of range (allowed: %lld..%lld)", v, min, max);
		return -EINVAL;
	}
	*ret = v;
	return 1;
}

static int get_u32(struct loader *ld, const config_setting_t *group, const char *prefix, const char *name,
		   long long min, long long max, uint32_t *ret)
{
	long long v;
	int r = get_int(ld, group, prefix, name, min, max, &v);

	if (r > 0)
		*ret = (uint32_t)v;
	return r;
}

static int get_bool(struct loader *ld, const config_setting_t *group, const char *prefix, const char *name,
		    bool *ret)
{
	const config_setting_t *s = member(group, name);
	char key[KEY_LEN];

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		key_join(key, prefix, name);
		err_at(ld, s, key, "expected a boolean, got %s (allowed: true, false)",
		       type_name(config_setting_type(s)));
		return -EINVAL;
	}
	*ret = config_setting_get_bool(s) != 0;
	return 1;
}

/* A string of at most size-1 bytes that satisfies valid (when given). */
static int get_string(struct loader *ld, const config_setting_t *group, const char *prefix, const char *name,
		      bool (*valid)(const char *), const char *allowed, char *buf, size_t size)
{
	const config_setting_t *s = member(group, name);
	char key[KEY_LEN];
	const char *v;

	if (!s)
		return 0;
	key_join(key, prefix, name);
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err_at(ld, s, key, "expected a string, got %s (allowed: %s)",
		       type_name(config_setting_type(s)), allowed);
		return -EINVAL;
	}
	v = config_setting_get_string(s);
	if (strlen(v) >= size) {
		err_at(ld, s, key, "too long: %zu bytes (allowed: %s, at most %zu bytes)", strlen(v), allowed,
		       size - 1);
		return -EINVAL;
	}
	if (valid && !valid(v)) {
		err_at(ld, s, key, "invalid value \"%s\" (allowed: %s)", v, allowed);
		return -EINVAL;
	}
	memcpy(buf, v, strlen(v) + 1);
	return 1;
}

/* One of names[0..n-1]; *ret is its index. */
static int get_enum(struct loader *ld, const config_setting_t *group, const char *prefix, const char *name,
		    const char *const *names, size_t n, int *ret)
{
	const config_setting_t *s = member(group, name);
	char key[KEY_LEN], list[128];
	const char *v;

	if (!s)
		return 0;
	key_join(key, prefix, name);
	list_join(list, sizeof(list), names, n, true);
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err_at(ld, s, key, "expected a string, got %s (allowed: %s)",
		       type_name(config_setting_type(s)), list);
		return -EINVAL;
	}
	v = config_setting_get_string(s);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, names[i]) == 0) {
			*ret = (int)i;
			return 1;
		}
	err_at(ld, s, key, "unknown value \"%s\" (allowed: %s)", v, list);
	return -EINVAL;
}

/* Section `name` of parent that must be a group; NULL when absent or wrong
 * (reported). A missing required section is reported at parent's line. */
static const config_setting_t *get_group(struct loader *ld, const config_setting_t *parent,
					 const char *prefix, const char *name, bool required,
					 const char *allowed)
{
	const config_setting_t *s = member(parent, name);
	char key[KEY_LEN];

	key_join(key, prefix, name);
	if (!s) {
		if (required)
			err_at(ld, parent, key, "missing (allowed: %s)", allowed);
		return NULL;
	}
	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		err_at(ld, s, key, "expected a group, got %s (allowed: %s)",
		       type_name(config_setting_type(s)), allowed);
		return NULL;
	}
	return s;
}

/* Index of the network called name, or -1. */
static int net_index(const struct cfg *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_networks; i++)
		if (strcmp(cfg->networks[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- defaults ---- */

static void cfg_set_defaults(struct cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->key_file, sizeof(cfg->key_file), "%s", CFG_DEFAULT_KEY_FILE);
	cfg->heartbeat = (struct cfg_heartbeat){
		.port = CFG_DEFAULT_HB_PORT,
		.same_subnet_delay_ms = HB_DEFAULT_SAME_DELAY_MS,
		.same_subnet_threshold = HB_DEFAULT_SAME_THRESHOLD,
		.cross_subnet_delay_ms = HB_DEFAULT_CROSS_DELAY_MS,
		.cross_subnet_threshold = HB_DEFAULT_CROSS_THRESHOLD,
		.route_history_length = HB_DEFAULT_HISTORY,
		.rise = HB_DEFAULT_RISE,
		.degraded_grace_s = CFG_DEFAULT_DEGRADED_GRACE_S,
	};
	cfg->migration = (struct cfg_migration){
		.network = -1,
		.transport = CFG_DEFAULT_MIG_TRANSPORT,
		.streams = CFG_DEFAULT_MIG_STREAMS,
		.max_concurrent = CFG_DEFAULT_MIG_MAX_CONCURRENT,
		.max_cluster = CFG_DEFAULT_MIG_MAX_CLUSTER,
		.cpu_overcommit = CFG_DEFAULT_MIG_CPU_OVERCOMMIT,
		.bandwidth_mbps = CFG_DEFAULT_MIG_BANDWIDTH_MBPS,
		.max_downtime_ms = CFG_DEFAULT_MIG_MAX_DOWNTIME_MS,
		.mcopy_port = CFG_DEFAULT_MIG_MCOPY_PORT,
		.timeout_s_per_gib = CFG_DEFAULT_MIG_TIMEOUT_S_PER_GIB,
		.progress_timeout_s = CFG_DEFAULT_MIG_PROGRESS_TIMEOUT_S,
		.auto_converge = CFG_DEFAULT_MIG_AUTO_CONVERGE,
		.postcopy = CFG_DEFAULT_MIG_POSTCOPY,
		.fallback_network = -1,
	};
	cfg->fencing = (struct cfg_fencing){
		.mode = CFG_DEFAULT_FENCE_MODE,
		.agent_timeout_s = CFG_DEFAULT_FENCE_AGENT_TIMEOUT_S,
		.self_fence_ms = CFG_DEFAULT_SELF_FENCE_MS,
		.isolation_grace_ms = CFG_DEFAULT_ISOLATION_GRACE_MS,
		.allow_self_fence_fallback = CFG_DEFAULT_SELF_FENCE_FALLBACK,
		.quarantine_failures = CFG_DEFAULT_QUARANTINE_FAILURES,
		.quarantine_window_s = CFG_DEFAULT_QUARANTINE_WINDOW_S,
		.quarantine_s = CFG_DEFAULT_QUARANTINE_S,
	};
	snprintf(cfg->libvirt_uri, sizeof(cfg->libvirt_uri), "%s", CFG_DEFAULT_LIBVIRT_URI);
	snprintf(cfg->libvirt_peer_uri, sizeof(cfg->libvirt_peer_uri), "%s", CFG_DEFAULT_LIBVIRT_PEER_URI);
	snprintf(cfg->control_socket, sizeof(cfg->control_socket), "%s", CFG_DEFAULT_SOCKET);
	snprintf(cfg->control_group, sizeof(cfg->control_group), "%s", CFG_DEFAULT_CONTROL_GROUP);
	snprintf(cfg->admin_group, sizeof(cfg->admin_group), "%s", CFG_DEFAULT_ADMIN_GROUP);
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", CFG_DEFAULT_STATE_DIR);
}

/* ---- cluster ---- */

/* Reads the key file into cfg->key; errors are reported at `at`. */
static void read_key(struct loader *ld, const config_setting_t *at)
{
	struct cfg *cfg = ld->cfg;
	uint8_t buf[HB_KEY_MAX + 1];
	struct stat st;
	size_t len = 0;
	int fd;

	fd = open(cfg->key_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err_at(ld, at, "cluster.key_file",
		       "cannot open %s: %s (allowed: a readable file of %d..%d bytes)", cfg->key_file,
		       strerror(errno), HB_KEY_MIN, HB_KEY_MAX);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err_at(ld, at, "cluster.key_file",
		       "%s is not a regular file (allowed: a readable file of %d..%d bytes)", cfg->key_file,
		       HB_KEY_MIN, HB_KEY_MAX);
		goto out;
	}
	while (len < sizeof(buf)) {
		ssize_t k = read(fd, buf + len, sizeof(buf) - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			err_at(ld, at, "cluster.key_file",
			       "cannot read %s: %s (allowed: a readable file of %d..%d bytes)", cfg->key_file,
			       strerror(errno), HB_KEY_MIN, HB_KEY_MAX);
			goto out;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	if (len < HB_KEY_MIN)
		err_at(ld, at, "cluster.key_file", "%s is too short: %zu bytes (allowed: %d..%d bytes)",
		       cfg->key_file, len, HB_KEY_MIN, HB_KEY_MAX);
	else if (len > HB_KEY_MAX)
		err_at(ld, at, "cluster.key_file",
		       "%s is too long: more than %d bytes (allowed: %d..%d bytes)", cfg->key_file,
		       HB_KEY_MAX, HB_KEY_MIN, HB_KEY_MAX);
	else {
		memcpy(cfg->key, buf, len);
		cfg->key_len = len;
	}
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
}

static void parse_cluster(struct loader *ld, const config_setting_t *root)
{
	static const char *const keys[] = {"name", "key_file", NULL};
	struct cfg *cfg = ld->cfg;
	const config_setting_t *grp, *kf;
	char file[sizeof(cfg->key_file)];
	int r;

	grp = get_group(ld, root, "", "cluster", true, "cluster = { name = \"...\"; key_file = \"...\"; }");
	if (!grp)
		return;
	check_keys(ld, grp, "cluster", keys);
	if (!member(grp, "name"))
		err_at(ld, grp, "cluster.name", "missing (allowed: " NAME_ALLOWED ")");
	else
		get_string(ld, grp, "cluster", "name", name_valid, NAME_ALLOWED, cfg->cluster_name,
			   sizeof(cfg->cluster_name));

	kf = member(grp, "key_file");
	r = get_string(ld, grp, "cluster", "key_file", nonempty_valid, "a file path", file, sizeof(file));
	if (r < 0)
		return;
	if (r > 0 && file[0] != '/') {
		/* relative to the directory of the configuration file */
		const char *slash = strrchr(ld->path, '/');
		int dirlen = slash ? (int)(slash - ld->path) : 1;
		const char *dir = slash ? ld->path : ".";
		if (slash == ld->path)
			dirlen = 0; /* "/clusterd.conf" */
		if ((size_t)snprintf(cfg->key_file, sizeof(cfg->key_file), "%.*s/%s", dirlen, dir, file) >=
		    sizeof(cfg->key_file)) {
			err_at(ld, kf, "cluster.key_file", "path too long (allowed: at most %zu bytes)",
			       sizeof(cfg->key_file) - 1);
			return;
		}
	} else if (r > 0) {
		memcpy(cfg->key_file, file, strlen(file) + 1);
	}
	read_key(ld, kf ? kf : grp);
}

/* ---- networks ---- */

/* Address a masked to len bits, for "did you mean". */
static void prefix_mask(const struct hb_addr *a, unsigned len, struct hb_addr *ret)
{
	uint8_t *b;
	unsigned nbytes;

	*ret = *a;
	b = a->family == AF_INET ? (uint8_t *)&ret->u.v4 : (uint8_t *)&ret->u.v6;
	nbytes = a->family == AF_INET ? 4 : 16;
	for (unsigned i = 0; i < nbytes; i++) {
		if (i * 8 >= len)
			b[i] = 0;
		else if (i * 8 + 8 > len)
			b[i] &= (uint8_t)(0xff << (8 - (len - i * 8)));
	}
}

#define SUBNET_ALLOWED "a prefix like 10.10.1.0/24 or 2001:db8::/64, host bits zero"

/* One "a/n" string at setting s into *ret; reports what is wrong with it. */
static int parse_subnet(struct loader *ld, const config_setting_t *s, const char *key, struct cfg_subnet *ret)
{
	char addr[HB_ADDR_STRLEN + 1], want[HB_ADDR_STRLEN];
	struct hb_addr a, masked;
	const char *str, *slash;
	unsigned long len;
	char *end;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		err_at(ld, s, key, "expected a string, got %s (allowed: %s)",
		       type_name(config_setting_type(s)), SUBNET_ALLOWED);
		return -EINVAL;
	}
	str = config_setting_get_string(s);
	if (hb_prefix_parse(str, &ret->addr, &ret->prefixlen) == 0)
		return 0;
	/* say why: syntax, or host bits set */
	slash = strchr(str, '/');
	if (slash && (size_t)(slash - str) < sizeof(addr)) {
		memcpy(addr, str, (size_t)(slash - str));
		addr[slash - str] = '\0';
		errno = 0;
		len = strtoul(slash + 1, &end, 10);
		if (hb_addr_parse(addr, &a) == 0 && slash[1] >= '0' && slash[1] <= '9' && !errno && !*end &&
		    len <= (a.family == AF_INET ? 32u : 128u)) {
			prefix_mask(&a, (unsigned)len, &masked);
			err_at(ld, s, key, "\"%s\" has host bits set, did you mean %s/%lu? (allowed: %s)",
			       str, hb_addr_str(&masked, want, sizeof(want)), len, SUBNET_ALLOWED);
			return -EINVAL;
		}
	}
	err_at(ld, s, key, "invalid prefix \"%s\" (allowed: %s)", str, SUBNET_ALLOWED);
	return -EINVAL;
}

static void parse_network(struct loader *ld, const config_setting_t *s, size_t i)
{
	static const char *const keys[] = {"name", "role", "subnet", "subnets", "heartbeat", NULL};
	struct cfg_network *net = &ld->cfg->networks[i];
	const config_setting_t *one, *many;
	char prefix[KEY_LEN], key[KEY_LEN];
	int role;
	bool ok = true;

	snprintf(prefix, sizeof(prefix), "networks[%zu]", i);
	net->line = config_setting_source_line(s);
	net->heartbeat = CFG_DEFAULT_NET_HEARTBEAT;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		err_at(ld, s, prefix,
		       "expected a group, got %s (allowed: { name = ...; role = ...; subnet = ...; })",
		       type_name(config_setting_type(s)));
		return;
	}
	check_keys(ld, s, prefix, keys);

	/* name: required, unique */
	key_join(key, prefix, "name");
	if (!member(s, "name"))
		err_at(ld, s, key, "missing (allowed: " NET_NAME_ALLOWED ")");
	else if (get_string(ld, s, prefix, "name", net_name_valid, NET_NAME_ALLOWED, net->name,
			    sizeof(net->name)) > 0) {
		int j = net_index(ld->cfg, net->name);
		if (j >= 0 && (size_t)j < i)
			err_at(ld, member(s, "name"), key,
			       "duplicate network name \"%s\", also networks[%d] (allowed: a unique name)",
			       net->name, j);
		else
			ld->net_named[i] = true;
	}

	/* role: required */
	key_join(key, prefix, "role");
	if (!member(s, "role"))
		err_at(ld, s, key, "missing (allowed: \"cluster\", \"migration\", \"management\")");
	else if (get_enum(ld, s, prefix, "role", roles, 3, &role) > 0) {
		net->role = (enum cfg_role)role;
		ld->net_role[i] = true;
	}

	/* exactly one of subnet, subnets */
	one = member(s, "subnet");
	many = member(s, "subnets");
	if (one && many) {
		key_join(key, prefix, "subnets");
		err_at(ld, many, key,
		       "both subnet and subnets given (allowed: exactly one of subnet, subnets)");
		ok = false;
	} else if (!one && !many) {
		key_join(key, prefix, "subnet");
		err_at(ld, s, key, "missing (allowed: subnet = \"a/n\" or subnets = [ \"a/n\", ... ])");
		ok = false;
	} else if (one) {
		key_join(key, prefix, "subnet");
		if (parse_subnet(ld, one, key, &net->subnets[0]) < 0)
			ok = false;
		else
			net->n_subnets = 1;
	} else {
		int n = config_setting_length(many);
		key_join(key, prefix, "subnets");
		if (config_setting_type(many) != CONFIG_TYPE_ARRAY) {
			err_at(ld, many, key,
			       "expected an array, got %s (allowed: [ \"a/n\", ... ], 1..%d prefixes)",
			       type_name(config_setting_type(many)), CFG_MAX_SUBNETS);
			ok = false;
		} else if (n < 1 || n > CFG_MAX_SUBNETS) {
			err_at(ld, many, key, "%d prefixes (allowed: 1..%d prefixes)", n, CFG_MAX_SUBNETS);
			ok = false;
		} else {
			for (int k = 0; k < n; k++) {
				char ekey[KEY_LEN];
				snprintf(ekey, sizeof(ekey), "networks[%zu].subnets[%d]", i, k);
				if (parse_subnet(ld, config_setting_get_elem(many, (unsigned)k), ekey,
						 &net->subnets[net->n_subnets]) < 0)
					ok = false;
				else
					net->n_subnets++;
			}
		}
	}
	ld->net_subnets[i] = ok;

	get_bool(ld, s, prefix, "heartbeat", &net->heartbeat);
}

static void parse_networks(struct loader *ld, const config_setting_t *root)
{
	struct cfg *cfg = ld->cfg;
	const config_setting_t *list = member(root, "networks");
	int n, n_cluster = 0, first_migration = -1;

	if (!list) {
		err_at(ld, NULL, "networks",
		       "missing (allowed: a list of 1..%d networks, one or more with role "
		       "\"cluster\")",
		       CFG_MAX_NETWORKS);
		return;
	}
	if (config_setting_type(list) != CONFIG_TYPE_LIST) {
		err_at(ld, list, "networks",
		       "expected a list, got %s (allowed: ( { name = ...; role = ...; }, ... ))",
		       type_name(config_setting_type(list)));
		return;
	}
	ld->networks_ok = true;
	n = config_setting_length(list);
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);
		if (i >= CFG_MAX_NETWORKS) {
			char key[KEY_LEN];
			snprintf(key, sizeof(key), "networks[%d]", i);
			err_at(ld, s, key, "too many networks (allowed: at most %d)", CFG_MAX_NETWORKS);
			break;
		}
		cfg->n_networks = (size_t)i + 1;
		parse_network(ld, s, (size_t)i);
	}

	/* roles: at least one cluster network, at most one migration network */
	for (size_t i = 0; i < cfg->n_networks; i++) {
		if (!ld->net_role[i])
			continue;
		if (cfg->networks[i].role == CFG_ROLE_CLUSTER)
			n_cluster++;
		if (cfg->networks[i].role != CFG_ROLE_MIGRATION)
			continue;
		if (first_migration < 0) {
			first_migration = (int)i;
		} else {
			char key[KEY_LEN];
			snprintf(key, sizeof(key), "networks[%zu].role", i);
			err_at(ld,
			       config_setting_get_member(config_setting_get_elem(list, (unsigned)i), "role"),
			       key,
			       "a second network with role \"migration\", also networks[%d] (allowed: at "
			       "most one)",
			       first_migration);
		}
	}
	if (n_cluster == 0) {
		bool roles_ok = true;
		for (size_t i = 0; i < cfg->n_networks; i++)
			roles_ok = roles_ok && ld->net_role[i];
		/* a bad role was already reported; do not guess that it was "cluster" */
		if (roles_ok)
			err_at(ld, list, "networks",
			       "no network with role \"cluster\" (allowed: one or more)");
	}
}

/* ---- nodes ---- */

static void parse_addresses(struct loader *ld, const config_setting_t *node, size_t i)
{
	struct cfg *cfg = ld->cfg;
	struct cfg_node *nd = &cfg->nodes[i];
	const config_setting_t *grp;
	char prefix[KEY_LEN], key[KEY_LEN], names[CFG_MAX_NETWORKS * (CFG_NAME_MAX + 2)];
	char required[CFG_MAX_NETWORKS * (CFG_NAME_MAX + 2)];
	const char *name_list[CFG_MAX_NETWORKS], *req_list[CFG_MAX_NETWORKS];
	bool present[CFG_MAX_NETWORKS] = {false};
	size_t n_names = 0, n_req = 0;

	for (size_t k = 0; k < cfg->n_networks; k++) {
		if (!ld->net_named[k])
			continue;
		name_list[n_names++] = cfg->networks[k].name;
		if (ld->net_role[k] && cfg->networks[k].role == CFG_ROLE_CLUSTER)
			req_list[n_req++] = cfg->networks[k].name;
	}
	list_join(names, sizeof(names), name_list, n_names, false);
	list_join(required, sizeof(required), req_list, n_req, false);

	snprintf(prefix, sizeof(prefix), "nodes[%zu].addresses", i);
	grp = member(node, "addresses");
	if (!grp) {
		err_at(ld, node, prefix,
		       "missing (allowed: { network = \"address\"; ... }, required for: %s)", required);
		return;
	}
	if (config_setting_type(grp) != CONFIG_TYPE_GROUP) {
		err_at(ld, grp, prefix, "expected a group, got %s (allowed: { network = \"address\"; ... })",
		       type_name(config_setting_type(grp)));
		return;
	}
	if (!ld->networks_ok)
		return; /* already reported; every name here would look unknown */
	for (int m = 0; m < config_setting_length(grp); m++) {
		const config_setting_t *s = config_setting_get_elem(grp, (unsigned)m);
		const char *net_name = config_setting_name(s), *str;
		struct hb_addr a;
		int k;

		key_join(key, prefix, net_name);
		k = net_index(cfg, net_name);
		if (k < 0 || !ld->net_named[k]) {
			err_at(ld, s, key, "unknown network (allowed: %s)", names);
			continue;
		}
		present[k] = true;
		if (config_setting_type(s) != CONFIG_TYPE_STRING) {
			err_at(ld, s, key, "expected a string, got %s (allowed: an IPv4 or IPv6 address)",
			       type_name(config_setting_type(s)));
			continue;
		}
		str = config_setting_get_string(s);
		if (hb_addr_parse(str, &a) < 0) {
			err_at(ld, s, key, "invalid address \"%s\" (allowed: an IPv4 or IPv6 address)", str);
			continue;
		}
		if (ld->net_subnets[k]) {
			const struct cfg_network *net = &cfg->networks[k];
			char list[CFG_MAX_SUBNETS * (HB_ADDR_STRLEN + 6)], buf[HB_ADDR_STRLEN];
			size_t len = 0, j;

			for (j = 0; j < net->n_subnets; j++)
				if (hb_prefix_contains(&net->subnets[j].addr, net->subnets[j].prefixlen, &a))
					break;
			if (j == net->n_subnets) {
				list[0] = '\0';
				for (j = 0; j < net->n_subnets && len < sizeof(list); j++)
					len += (size_t)snprintf(
						list + len, sizeof(list) - len, "%s%s/%u", j ? ", " : "",
						hb_addr_str(&net->subnets[j].addr, buf, sizeof(buf)),
						net->subnets[j].prefixlen);
				err_at(ld, s, key, "%s is outside network \"%s\" (allowed: an address in %s)",
				       str, net->name, list);
				continue;
			}
		}
		/* unique over every node and network */
		for (size_t o = 0; o <= i; o++)
			for (size_t q = 0; q < cfg->n_networks; q++) {
				if (!cfg->nodes[o].has_addr[q] || !hb_addr_equal(&cfg->nodes[o].addr[q], &a))
					continue;
				err_at(ld, s, key,
				       "%s is already used by nodes[%zu].addresses.%s (allowed: a unique "
				       "address)",
				       str, o, cfg->networks[q].name);
				goto next;
			}
		nd->addr[k] = a;
		nd->has_addr[k] = true;
	next:;
	}
	/* every node is on every cluster network */
	for (size_t k = 0; k < cfg->n_networks; k++) {
		if (!ld->net_named[k] || !ld->net_role[k] || cfg->networks[k].role != CFG_ROLE_CLUSTER ||
		    present[k])
			continue;
		key_join(key, prefix, cfg->networks[k].name);
		err_at(ld, grp, key,
		       "missing address on cluster network \"%s\" (allowed: an address on every "
		       "cluster network: %s)",
		       cfg->networks[k].name, required);
	}
}

static void parse_node(struct loader *ld, const config_setting_t *s, size_t i)
{
	static const char *const keys[] = {"id", "name", "addresses", NULL};
	struct cfg *cfg = ld->cfg;
	struct cfg_node *nd = &cfg->nodes[i];
	char prefix[KEY_LEN], key[KEY_LEN];
	long long id;

	snprintf(prefix, sizeof(prefix), "nodes[%zu]", i);
	nd->line = config_setting_source_line(s);
	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		err_at(ld, s, prefix,
		       "expected a group, got %s (allowed: { id = ...; name = ...; addresses = ...; })",
		       type_name(config_setting_type(s)));
		return;
	}
	check_keys(ld, s, prefix, keys);

	key_join(key, prefix, "id");
	if (!member(s, "id")) {
		err_at(ld, s, key, "missing (allowed: 1..%d)", CFG_NODE_ID_MAX);
	} else if (get_int(ld, s, prefix, "id", 1, CFG_NODE_ID_MAX, &id) > 0) {
		size_t j;
		for (j = 0; j < i; j++)
			if (ld->node_id_ok[j] && cfg->nodes[j].id == (uint32_t)id)
				break;
		if (j < i) {
			err_at(ld, member(s, "id"), key,
			       "duplicate id %lld, also nodes[%zu] (allowed: a unique id)", id, j);
		} else {
			nd->id = (uint32_t)id;
			ld->node_id_ok[i] = true;
		}
	}

	key_join(key, prefix, "name");
	if (!member(s, "name")) {
		err_at(ld, s, key, "missing (allowed: " NAME_ALLOWED ")");
	} else if (get_string(ld, s, prefix, "name", name_valid, NAME_ALLOWED, nd->name, sizeof(nd->name)) >
		   0) {
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->nodes[j].name, nd->name) == 0) {
				err_at(ld, member(s, "name"), key,
				       "duplicate name \"%s\", also nodes[%zu] (allowed: a unique name)",
				       nd->name, j);
				nd->name[0] = '\0';
				break;
			}
	}

	parse_addresses(ld, s, i);
}

static void parse_nodes(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *list = member(root, "nodes");
	int n;

	if (!list) {
		err_at(ld, NULL, "nodes", "missing (allowed: a list of 1..%d nodes)", CFG_MAX_NODES);
		return;
	}
	if (config_setting_type(list) != CONFIG_TYPE_LIST) {
		err_at(ld, list, "nodes",
		       "expected a list, got %s (allowed: ( { id = ...; name = ...; }, ... ))",
		       type_name(config_setting_type(list)));
		return;
	}
	n = config_setting_length(list);
	if (n == 0) {
		err_at(ld, list, "nodes", "empty (allowed: a list of 1..%d nodes)", CFG_MAX_NODES);
		return;
	}
	ld->nodes_ok = true;
	for (int i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(list, (unsigned)i);
		if (i >= CFG_MAX_NODES) {
			char key[KEY_LEN];
			snprintf(key, sizeof(key), "nodes[%d]", i);
			err_at(ld, s, key, "too many nodes (allowed: at most %d)", CFG_MAX_NODES);
			break;
		}
		ld->cfg->n_nodes = (size_t)i + 1;
		parse_node(ld, s, (size_t)i);
	}
}

static void parse_local_node(struct loader *ld, const config_setting_t *root)
{
	static const char *const keys[] = {"id", NULL};
	struct cfg *cfg = ld->cfg;
	const config_setting_t *grp;
	long long id;
	size_t i;

	grp = get_group(ld, root, "", "node", false, "node = { id = N; }");
	if (!grp)
		return;
	check_keys(ld, grp, "node", keys);
	if (get_int(ld, grp, "node", "id", 1, CFG_NODE_ID_MAX, &id) <= 0)
		return;
	cfg->local_id = (uint32_t)id;
	if (!ld->nodes_ok)
		return;
	for (i = 0; i < cfg->n_nodes; i++)
		if (cfg->nodes[i].id == (uint32_t)id)
			return;
	{
		char list[CFG_MAX_NODES * 12];
		size_t len = 0;
		list[0] = '\0';
		for (i = 0; i < cfg->n_nodes && len < sizeof(list); i++)
			if (ld->node_id_ok[i])
				len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%u",
							len ? ", " : "", cfg->nodes[i].id);
		err_at(ld, member(grp, "id"), "node.id", "no node with id %lld in nodes (allowed: %s)", id,
		       list);
	}
}

/* ---- heartbeat, migration, fencing, libvirt, control ---- */

static void parse_heartbeat(struct loader *ld, const config_setting_t *root)
{
	static const char *const keys[] = {"port",
					   "same_subnet_delay_ms",
					   "same_subnet_threshold",
					   "cross_subnet_delay_ms",
					   "cross_subnet_threshold",
					   "route_history_length",
					   "rise",
					   "degraded_grace_s",
					   NULL};
	struct cfg_heartbeat *hb = &ld->cfg->heartbeat;
	const config_setting_t *g;
	uint32_t port;
	const char *p = "heartbeat";

	g = get_group(ld, root, "", p, false, "heartbeat = { port = ...; ... }");
	if (!g)
		return;
	check_keys(ld, g, p, keys);
	if (get_u32(ld, g, p, "port", 1, CFG_PORT_MAX, &port) > 0)
		hb->port = (uint16_t)port;
	get_u32(ld, g, p, "same_subnet_delay_ms", HB_DELAY_MIN_MS, HB_DELAY_MAX_MS,
		&hb->same_subnet_delay_ms);
	get_u32(ld, g, p, "same_subnet_threshold", HB_THRESHOLD_MIN, HB_THRESHOLD_MAX,
		&hb->same_subnet_threshold);
	get_u32(ld, g, p, "cross_subnet_delay_ms", HB_DELAY_MIN_MS, HB_DELAY_MAX_MS,
		&hb->cross_subnet_delay_ms);
	get_u32(ld, g, p, "cross_subnet_threshold", HB_THRESHOLD_MIN, HB_THRESHOLD_MAX,
		&hb->cross_subnet_threshold);
	get_u32(ld, g, p, "route_history_length", 1, HB_HISTORY_MAX, &hb->route_history_length);
	get_u32(ld, g, p, "rise", 1, HB_RISE_MAX, &hb->rise);
	get_u32(ld, g, p, "degraded_grace_s", 0, CFG_DEGRADED_GRACE_MAX_S, &hb->degraded_grace_s);
}

/* Names of the networks with role `role` into buf ("none" when there are none). */
static void role_names(const struct loader *ld, enum cfg_role role, int except, char *buf, size_t size)
{
	const char *v[CFG_MAX_NETWORKS];
	size_t n = 0;

	for (size_t i = 0; i < ld->cfg->n_networks; i++)
		if (ld->net_named[i] && (int)i != except &&
		    ((int)role < 0 || (ld->net_role[i] && ld->cfg->networks[i].role == role)))
			v[n++] = ld->cfg->networks[i].name;
	if (n == 0)
		snprintf(buf, size, "none defined");
	else
		list_join(buf, size, v, n, true);
}

/* migration.links: 1..CFG_MIG_LINKS_MAX names of networks with role
 * migration or management (not cluster: a migration saturates its links, and
 * corosync and heartbeats must not queue behind it), each once, on which
 * every node has an address (any node may be a target). Default, and on any
 * error: just the migration network. */
static void parse_links(struct loader *ld, const config_setting_t *g)
{
	struct cfg *cfg = ld->cfg;
	struct cfg_migration *m = &cfg->migration;
	const config_setting_t *a = member(g, "links");
	const char *v[CFG_MAX_NETWORKS];
	char list[CFG_MAX_NETWORKS * (CFG_NAME_MAX + 4)], key[KEY_LEN];
	int links[CFG_MIG_LINKS_MAX], n;
	size_t nv = 0, n_links = 0;
	bool ok = true;

	m->n_links = 0;
	if (m->network >= 0)
		m->links[m->n_links++] = m->network;
	if (!a)
		return;
	for (size_t i = 0; i < cfg->n_networks; i++)
		if (ld->net_named[i] && ld->net_role[i] && cfg->networks[i].role != CFG_ROLE_CLUSTER)
			v[nv++] = cfg->networks[i].name;
	if (nv)
		list_join(list, sizeof(list), v, nv, true);
	else
		snprintf(list, sizeof(list), "none defined");
	n = config_setting_length(a);
	if (config_setting_type(a) != CONFIG_TYPE_ARRAY && config_setting_type(a) != CONFIG_TYPE_LIST) {
		err_at(ld, a, "migration.links",
		       "expected an array of network names, got %s (allowed: [ \"name\", ... ] of %s)",
		       type_name(config_setting_type(a)), list);
		return;
	}
	if (n < 1 || n > CFG_MIG_LINKS_MAX) {
		err_at(ld, a, "migration.links", "%d networks (allowed: 1..%d of %s)", n, CFG_MIG_LINKS_MAX,
		       list);
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(a, (unsigned)i);
		const char *name = config_setting_get_string(e);
		int k = name ? net_index(cfg, name) : -1;

		snprintf(key, sizeof(key), "migration.links[%d]", i);
		if (!name) {
			err_at(ld, e, key, "expected a string, got %s (allowed: %s)",
			       type_name(config_setting_type(e)), list);
			ok = false;
			continue;
		}
		if (k < 0 || !ld->net_named[k]) {
			err_at(ld, e, key, "no network named \"%s\" (allowed: %s)", name, list);
			ok = false;
			continue;
		}
		if (ld->net_role[k] && cfg->networks[k].role == CFG_ROLE_CLUSTER) {
			err_at(ld, e, key,
			       "network \"%s\" has role \"cluster\": a migration would crowd out corosync "
			       "and heartbeats (allowed: %s)",
			       name, list);
			ok = false;
			continue;
		}
		for (size_t j = 0; j < n_links; j++)
			if (links[j] == k) {
				err_at(ld, e, key, "\"%s\" listed twice (allowed: each network once)", name);
				ok = false;
			}
		for (size_t x = 0; x < cfg->n_nodes; x++)
			if (!cfg->nodes[x].has_addr[k]) {
				err_at(ld, e, key,
				       "node \"%s\" has no address on network \"%s\" (allowed: networks "
				       "every node has an address on)",
				       cfg->nodes[x].name, name);
				ok = false;
				break;
			}
		links[n_links++] = k;
	}
	if (ok && n_links > 1 && m->transport != CFG_TRANSPORT_MCOPY) {
		err_at(ld, a, "migration.links",
		       "%zu networks with transport \"direct\" (allowed: one, or transport \"mcopy\")",
		       n_links);
		ok = false;
	}
	if (!ok)
		return;
	memcpy(m->links, links, n_links * sizeof(links[0]));
	m->n_links = n_links;
}

/* a kernel TCP congestion control name (whether this kernel has it is
 * checked when the engine starts) */
static bool congestion_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

#define CONGESTION_ALLOWED                                                                                   \
	"a TCP congestion control such as \"reno\" or \"cubic\", 1-15 characters of a-z 0-9 _"

static void parse_migration(struct loader *ld, const config_setting_t *root)
{
	static const char *const keys[] = {"network",
					   "transport",
					   "mcopy_port",
					   "congestion",
					   "streams",
					   "max_concurrent",
					   "bandwidth_mbps",
					   "max_downtime_ms",
					   "timeout_s_per_gib",
					   "progress_timeout_s",
					   "auto_converge",
					   "postcopy",
					   "fallback_network",
					   "max_cluster",
					   "cpu_overcommit",
					   "links",
					   NULL};
	struct cfg *cfg = ld->cfg;
	struct cfg_migration *m = &cfg->migration;
	const config_setting_t *g;
	char name[CFG_NAME_MAX], list[CFG_MAX_NETWORKS * (CFG_NAME_MAX + 4)];
	const char *p = "migration";
	uint32_t port;
	int v, r, k;

	/* default network: the one with role migration, if any */
	for (size_t i = 0; i < cfg->n_networks; i++)
		if (ld->net_role[i] && cfg->networks[i].role == CFG_ROLE_MIGRATION) {
			m->network = (int)i;
			break;
		}

	g = get_group(ld, root, "", p, false, "migration = { network = ...; ... }");
	if (!g) {
		parse_links(ld, NULL);
		return;
	}
	check_keys(ld, g, p, keys);

	role_names(ld, CFG_ROLE_MIGRATION, -1, list, sizeof(list));
	r = get_string(ld, g, p, "network", NULL, "the name of the network with role \"migration\"", name,
		       sizeof(name));
	if (r > 0) {
		k = net_index(cfg, name);
		if (k < 0 || !ld->net_named[k])
			err_at(ld, member(g, "network"), "migration.network",
			       "no network named \"%s\" (allowed: a network with role \"migration\": %s)",
			       name, list);
		else if (ld->net_role[k] && cfg->networks[k].role != CFG_ROLE_MIGRATION)
			err_at(ld, member(g, "network"), "migration.network",
			       "network \"%s\" has role \"%s\" (allowed: a network with role \"migration\": "
			       "%s)",
			       name, cfg_role_name(cfg->networks[k].role), list);
		else
			m->network = k;
	}

	if (get_enum(ld, g, p, "transport", transports, 2, &v) > 0)
		m->transport = (enum cfg_transport)v;
	if (get_u32(ld, g, p, "mcopy_port", 1, CFG_PORT_MAX, &port) > 0)
		m->mcopy_port = (uint16_t)port;
	get_string(ld, g, p, "congestion", congestion_valid, CONGESTION_ALLOWED, m->congestion,
		   sizeof(m->congestion));
	get_u32(ld, g, p, "streams", 1, CFG_MIG_STREAMS_MAX, &m->streams);
	get_u32(ld, g, p, "max_concurrent", 1, CFG_MIG_CONCURRENT_MAX, &m->max_concurrent);
	get_u32(ld, g, p, "max_cluster", 0, CFG_MIG_CLUSTER_MAX, &m->max_cluster);
	get_u32(ld, g, p, "cpu_overcommit", 1, CFG_MIG_OVERCOMMIT_MAX, &m->cpu_overcommit);
	get_u32(ld, g, p, "bandwidth_mbps", 0, CFG_MIG_BANDWIDTH_MAX_MBPS, &m->bandwidth_mbps);
	get_u32(ld, g, p, "max_downtime_ms", 1, CFG_MIG_DOWNTIME_MAX_MS, &m->max_downtime_ms);
	get_u32(ld, g, p, "timeout_s_per_gib", 1, CFG_MIG_TIMEOUT_MAX_S, &m->timeout_s_per_gib);
	get_u32(ld, g, p, "progress_timeout_s", 1, CFG_MIG_TIMEOUT_MAX_S, &m->progress_timeout_s);
	get_bool(ld, g, p, "auto_converge", &m->auto_converge);
	get_bool(ld, g, p, "postcopy", &m->postcopy);

	r = get_string(ld, g, p, "fallback_network", NULL, "the name of another network", name, sizeof(name));
	if (r > 0) {
		role_names(ld, (enum cfg_role) - 1, m->network, list, sizeof(list));
		k = net_index(cfg, name);
		if (k < 0 || !ld->net_named[k])
			err_at(ld, member(g, "fallback_network"), "migration.fallback_network",
			       "no network named \"%s\" (allowed: %s)", name, list);
		else if (k == m->network)
			err_at(ld, member(g, "fallback_network"), "migration.fallback_network",
			       "\"%s\" is the migration network itself (allowed: %s)", name, list);
		else
			m->fallback_network = k;
	}
	parse_links(ld, g);
}

static void parse_fencing(struct loader *ld, const config_setting_t *root)
{
	static const char *const keys[] = {"mode",
					   "agent",
					   "agent_timeout_s",
					   "self_fence_ms",
					   "isolation_grace_ms",
					   "allow_self_fence_fallback",
					   "quarantine_failures",
					   "quarantine_window_s",
					   "quarantine_s",
					   "watchdog",
					   NULL};
	struct cfg_fencing *f = &ld->cfg->fencing;
	const config_setting_t *g, *at;
	const char *p = "fencing";
	int v, r_mode, r_agent, r_self, r_grace;

	g = get_group(ld, root, "", p, false, "fencing = { mode = ...; ... }");
	if (!g)
		return;
	check_keys(ld, g, p, keys);
	r_mode = get_enum(ld, g, p, "mode", fence_modes, 3, &v);
	if (r_mode > 0)
		f->mode = (enum cfg_fence_mode)v;
	r_agent = get_string(ld, g, p, "agent", abs_path_valid, "an absolute path of a fence-agents program",
			     f->agent, sizeof(f->agent));
	get_u32(ld, g, p, "agent_timeout_s", 1, CFG_FENCE_AGENT_TIMEOUT_MAX_S, &f->agent_timeout_s);
	get_string(ld, g, p, "watchdog", abs_path_valid, "an absolute path of a watchdog device", f->watchdog,
		   sizeof(f->watchdog));
	r_self = get_u32(ld, g, p, "self_fence_ms", CFG_SELF_FENCE_MIN_MS, CFG_SELF_FENCE_MAX_MS,
			 &f->self_fence_ms);
	r_grace =
		get_u32(ld, g, p, "isolation_grace_ms", 0, CFG_SELF_FENCE_MAX_MS - 1, &f->isolation_grace_ms);
	get_bool(ld, g, p, "allow_self_fence_fallback", &f->allow_self_fence_fallback);
	get_u32(ld, g, p, "quarantine_failures", 1, CFG_QUARANTINE_FAILURES_MAX, &f->quarantine_failures);
	get_u32(ld, g, p, "quarantine_window_s", 1, CFG_QUARANTINE_WINDOW_MAX_S, &f->quarantine_window_s);
	get_u32(ld, g, p, "quarantine_s", 1, CFG_QUARANTINE_MAX_S, &f->quarantine_s);

	if (r_self >= 0 && r_grace >= 0 && f->isolation_grace_ms >= f->self_fence_ms) {
		at = member(g, r_grace > 0 ? "isolation_grace_ms" : "self_fence_ms");
		err_at(ld, at ? at : g, "fencing.isolation_grace_ms",
		       "%u is not below self_fence_ms %u (allowed: 0..%u)", f->isolation_grace_ms,
		       f->self_fence_ms, f->self_fence_ms - 1);
	}
	if (f->mode == CFG_FENCE_AGENT && r_agent == 0)
		err_at(ld, g, "fencing.agent",
		       "missing: mode \"agent\" needs an agent (allowed: an absolute path "
		       "of a fence-agents program)");
}

/* A URI template with exactly one "%s" and no other '%'. */
static bool peer_uri_valid(const char *s)
{
	const char *p = strchr(s, '%');

	return p && p[1] == 's' && !strchr(p + 2, '%') && strchr(s, ':');
}

static void parse_libvirt(struct loader *ld, const config_setting_t *root)
{
	static const char *const keys[] = {"uri", "peer_uri", NULL};
	const config_setting_t *g = get_group(ld, root, "", "libvirt", false, "libvirt = { uri = ...; }");

	if (!g)
		return;
	check_keys(ld, g, "libvirt", keys);
	get_string(ld, g, "libvirt", "uri", nonempty_valid, "a libvirt connection URI such as qemu:///system",
		   ld->cfg->libvirt_uri, sizeof(ld->cfg->libvirt_uri));
	get_string(ld, g, "libvirt", "peer_uri", peer_uri_valid,
		   "a libvirt URI template with one %s for the node's management address, such as "
		   "qemu+tls://%s/system",
		   ld->cfg->libvirt_peer_uri, sizeof(ld->cfg->libvirt_peer_uri));
}

static void parse_control(struct loader *ld, const config_setting_t *root)
{
	static const char *const keys[] = {"socket", "group", "admin_group", NULL};
	struct cfg *cfg = ld->cfg;
	const config_setting_t *g =
		get_group(ld, root, "", "control", false, "control = { socket = ...; ... }");
	/* the path has to fit sockaddr_un */
	size_t sun_max = sizeof(((struct sockaddr_un *)0)->sun_path);

	if (!g)
		return;
	check_keys(ld, g, "control", keys);
	get_string(ld, g, "control", "socket", abs_path_valid, "an absolute path of a UNIX socket",
		   cfg->control_socket,
		   sun_max < sizeof(cfg->control_socket) ? sun_max : sizeof(cfg->control_socket));
	get_string(ld, g, "control", "group", name_valid, "a group name, " NAME_ALLOWED, cfg->control_group,
		   sizeof(cfg->control_group));
	get_string(ld, g, "control", "admin_group", name_valid, "a group name, " NAME_ALLOWED,
		   cfg->admin_group, sizeof(cfg->admin_group));
}

static void parse_root(struct loader *ld, const config_setting_t *root)
{
	static const char *const keys[] = {"cluster",   "node",      "networks", "nodes",
					   "heartbeat", "migration", "fencing",  "libvirt",
					   "control",   "state_dir", NULL};

	check_keys(ld, root, "", keys);
	parse_cluster(ld, root);
	parse_networks(ld, root);
	parse_nodes(ld, root);
	parse_local_node(ld, root);
	parse_heartbeat(ld, root);
	parse_migration(ld, root);
	parse_fencing(ld, root);
	parse_libvirt(ld, root);
	parse_control(ld, root);
	get_string(ld, root, "", "state_dir", abs_path_valid, "an absolute directory path",
		   ld->cfg->state_dir, sizeof(ld->cfg->state_dir));
}

/* ---- public ---- */

int cfg_load(const char *path, struct cfg **ret_cfg, struct cfg_errors *ret_errs)
{
	struct loader ld = {0};
	struct cfg *cfg = NULL;
	config_t lc;
	struct stat st;
	FILE *f = NULL;
	int r;

	if (ret_errs)
		*ret_errs = (struct cfg_errors){NULL, 0};
	if (!path || !ret_cfg)
		return -EINVAL;
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	cfg_set_defaults(cfg);
	ld.path = path;
	ld.cfg = cfg;
	config_init(&lc);

	if (strlen(path) >= sizeof(cfg->path)) {
		err_line(&ld, NULL, 0, "", "path too long (allowed: at most %zu bytes)",
			 sizeof(cfg->path) - 1);
		goto done;
	}
	memcpy(cfg->path, path, strlen(path) + 1);
	f = fopen(path, "re");
	if (!f) {
		err_line(&ld, NULL, 0, "", "cannot open: %s", strerror(errno));
		goto done;
	}
	/* libconfig's scanner exits the process on a read error such as EISDIR */
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		err_line(&ld, NULL, 0, "", "is a directory (allowed: a configuration file)");
		goto done;
	}
	if (!config_read(&lc, f)) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			err_line(&ld, config_error_file(&lc), 0, "", "cannot read: %s",
				 config_error_text(&lc));
		else
			err_line(&ld, config_error_file(&lc), config_error_line(&lc), "", "%s",
				 config_error_text(&lc));
		goto done;
	}
	parse_root(&ld, config_root_setting(&lc));

done:
	if (f)
		fclose(f);
	config_destroy(&lc);
	if (ld.nomem) {
		r = -ENOMEM;
	} else if (ld.n_errs > 0) {
		r = -EINVAL;
		errs_sort(ld.errs, ld.n_errs);
		if (ret_errs) {
			*ret_errs = (struct cfg_errors){ld.errs, ld.n_errs};
			ld.errs = NULL;
		}
	} else {
		*ret_cfg = cfg;
		cfg = NULL;
		r = 0;
	}
	free(ld.errs);
	cfg_free(cfg);
	return r;
}

void cfg_free(struct cfg *cfg)
{
	if (!cfg)
		return;
	explicit_bzero(cfg->key, sizeof(cfg->key));
	free(cfg);
}

void cfg_errors_clear(struct cfg_errors *errs)
{
	if (!errs)
		return;
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

int cfg_node_by_id(const struct cfg *cfg, uint32_t id)
{
	if (!cfg)
		return -EINVAL;
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (cfg->nodes[i].id == id)
			return (int)i;
	return -ENOENT;
}

int cfg_node_by_name(const struct cfg *cfg, const char *name)
{
	if (!cfg || !name)
		return -EINVAL;
	for (size_t i = 0; i < cfg->n_nodes; i++)
		if (strcmp(cfg->nodes[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

int cfg_network_by_role(const struct cfg *cfg, enum cfg_role role)
{
	if (!cfg)
		return -EINVAL;
	for (size_t i = 0; i < cfg->n_networks; i++)
		if (cfg->networks[i].role == role)
			return (int)i;
	return -ENOENT;
}

int cfg_network_by_name(const struct cfg *cfg, const char *name)
{
	if (!cfg || !name)
		return -EINVAL;
	for (size_t i = 0; i < cfg->n_networks; i++)
		if (strcmp(cfg->networks[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

const char *cfg_role_name(enum cfg_role r)
{
	if ((unsigned)r < sizeof(roles) / sizeof(roles[0]))
		return roles[r];
	return "unknown";
}
