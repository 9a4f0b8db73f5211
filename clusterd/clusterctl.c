/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/clusterctl.c: the command-line client of the control socket
 * (docs/PROTOCOL.md) — one request, one reply line, printed as tables or as
 * JSON. Links only json-c, never clusterd's internals; trusts nothing in a
 * reply (missing or mistyped members print as "?"). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "autoconf.h"

#define DEFAULT_SOCKET   "/run/clusterd/clusterd.sock"
#define REPLY_TIMEOUT_MS 10000
#define REPLY_MAX        (16 * 1024 * 1024)

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3, EXIT_NOTQUORATE = 4 };

static const char *const commands[] = {"status",     "nodes",      "quorum",     "links",   "vms",
				       "migrations", "migrate",    "drain",      "undrain", "ha",
				       "fence",      "quarantine", "evacuation", NULL};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: clusterctl [-s SOCKET] [--json] COMMAND\n"
		"\n"
		"Commands:\n"
		"  status                overview: quorum, coordinator, nodes, links down\n"
		"  nodes                 every node's state, membership and health\n"
		"  quorum                corosync quorum (as corosync-quorumtool -s)\n"
		"  links                 the heartbeat link matrix of every network\n"
		"  vms                   every VM in the cluster: node, state, size, HA\n"
		"  migrations            live migrations: requested, queued, running, finished\n"
		"  migrate VM NODE       live-migrate VM to NODE over the migration network\n"
		"                        (--wait: follow it to the end; --timeout S: give up waiting)\n"
		"  drain NODE            move every VM off NODE, live; NODE takes none until undrain\n"
		"                        (--wait: follow it until DRAINED; --timeout S: give up waiting)\n"
		"  drain --abort NODE    stop a drain: queued moves dropped, running ones aborted\n"
		"  undrain NODE          a drained NODE takes VMs again (nothing moves back)\n"
		"  ha add VM             make VM cluster-managed (its XML is kept on every node)\n"
		"                        [--priority N] [--prefer NODE,…] [--forbid NODE,…]\n"
		"  ha remove VM          the cluster stops managing VM (it keeps running)\n"
		"  fence NODE --confirm  declare an absent NODE powered off: its HA VMs may restart\n"
		"  quarantine clear NODE end NODE's quarantine: it takes VMs again\n"
		"  evacuation            what the failure policy does or waits for (coordinator)\n"
		"\n"
		"Options:\n"
		"  -s, --socket SOCKET   control socket (default $CLUSTERD_SOCKET or %s)\n"
		"  -j, --json            print the reply's data as JSON\n"
		"  -V, --version         print the version and exit\n"
		"  -h, --help            print this help and exit\n"
		"\n"
		"Exit status: 0 ok, 1 failed, 2 usage, 3 clusterd unreachable, 4 not quorate.\n",
		DEFAULT_SOCKET);
}

/* ---- talking to clusterd ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connect, send one request and read one reply line. Returns an exit code;
 * on EXIT_OK *ret_line is a malloc'd NUL-terminated line without '\n'. */
static int transact(const char *path, const char *request, char **ret_line)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = REPLY_TIMEOUT_MS / 1000};
	int64_t deadline = mono_ms() + REPLY_TIMEOUT_MS;
	size_t len = 0, cap = 0, sent = 0, rlen = strlen(request);
	char *buf = NULL;
	int fd = -1, ret = EXIT_UNREACHABLE, send_err = 0;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "clusterctl: cannot reach clusterd at %s: %s\n", path,
			strerror(ENAMETOOLONG));
		goto out;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "clusterctl: socket: %s\n", strerror(errno));
		goto out;
	}
	/* bounds connect() (a full backlog blocks it) and send() */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EAGAIN)
			fprintf(stderr,
				"clusterctl: clusterd at %s does not answer (connection not accepted)\n",
				path);
		else
			fprintf(stderr, "clusterctl: cannot reach clusterd at %s: %s\n", path,
				strerror(errno));
		goto out;
	}
	while (sent < rlen) {
		ssize_t n = send(fd, request + sent, rlen - sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			send_err = errno; /* clusterd may have said why before closing */
			break;
		}
		sent += (size_t)n;
	}
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - mono_ms();
		ssize_t n;
		char *nl;
		int p;

		if (left <= 0) {
			fprintf(stderr, "clusterctl: clusterd at %s does not answer (no reply within %d s)\n",
				path, REPLY_TIMEOUT_MS / 1000);
			goto out;
		}
		p = poll(&pfd, 1, (int)left);
		if (p < 0 && errno != EINTR) {
			fprintf(stderr, "clusterctl: poll: %s\n", strerror(errno));
			goto out;
		}
		if (p <= 0)
			continue;
		if (cap - len < 4096) {
			char *b;

			if (cap >= REPLY_MAX) {
				fprintf(stderr,
					"clusterctl: malformed reply from clusterd: longer than %d bytes\n",
					REPLY_MAX);
				ret = EXIT_FAILED;
				goto out;
			}
			cap = cap ? cap * 2 : 65536;
			b = realloc(buf, cap);
			if (!b) {
				fprintf(stderr, "clusterctl: out of memory\n");
				ret = EXIT_FAILED;
				goto out;
			}
			buf = b;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			if (len == 0) {
				fprintf(stderr, "clusterctl: clusterd at %s closed the connection: %s\n",
					path, strerror(errno));
				goto out;
			}
			n = 0; /* e.g. ECONNRESET after the reply: parse what came */
		}
		if (n == 0) {
			if (len == 0) {
				if (send_err)
					fprintf(stderr, "clusterctl: cannot send to clusterd at %s: %s\n",
						path, strerror(send_err));
				else
					fprintf(stderr,
						"clusterctl: clusterd at %s closed the connection without "
						"replying\n",
						path);
				goto out;
			}
			buf[len] = '\0';
			break; /* an unterminated last line: let the parser judge it */
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			*nl = '\0';
			break;
		}
	}
	*ret_line = buf;
	buf = NULL;
	ret = EXIT_OK;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ---- reading a reply that may hold anything ---- */

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* True when key is present with the value null (json-c's NULL object). */
static bool is_null(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v) && !v;
}

static struct json_object *get_type(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v = get(o, key);

	return v && json_object_is_type(v, t) ? v : NULL;
}

static size_t arr_len(struct json_object *a)
{
	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static struct json_object *arr_get(struct json_object *a, size_t i)
{
	return i < arr_len(a) ? json_object_array_get_idx(a, i) : NULL;
}

/* A printable copy of s (a terminal is no place for control bytes), cut at
 * 255 bytes. Results live in a static ring, so several fit in one printf. */
static const char *clean(const char *s)
{
	static char ring[16][256];
	static unsigned next;
	char *out = ring[next++ % 16];
	size_t n = 0;

	for (; *s && n + 1 < sizeof(ring[0]); s++)
		out[n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	out[n] = '\0';
	return out;
}

/* A string value, printable; "?" when missing or not a string. */
static const char *str_of(struct json_object *v)
{
	if (!v || !json_object_is_type(v, json_type_string))
		return "?";
	return clean(json_object_get_string(v));
}

static const char *str(struct json_object *o, const char *key)
{
	return str_of(get(o, key));
}

/* The raw string member, for comparisons; "" when missing. */
static const char *raw(struct json_object *o, const char *key)
{
	struct json_object *v = get_type(o, key, json_type_string);

	return v ? json_object_get_string(v) : "";
}

static const char *num_of(struct json_object *v)
{
	static char ring[8][32];
	static unsigned next;
	char *out = ring[next++ % 8];

	if (v && json_object_is_type(v, json_type_int))
		snprintf(out, sizeof(ring[0]), "%lld", (long long)json_object_get_int64(v));
	else if (v && json_object_is_type(v, json_type_double))
		snprintf(out, sizeof(ring[0]), "%g", json_object_get_double(v));
	else
		return "?";
	return out;
}

static const char *num(struct json_object *o, const char *key)
{
	return num_of(get(o, key));
}

static const char *yesno(struct json_object *o, const char *key)
{
	struct json_object *v = get_type(o, key, json_type_boolean);

	return v ? (json_object_get_boolean(v) ? "yes" : "no") : "?";
}

/* A double member (ints too); false when missing or null. */
static bool dbl(struct json_object *o, const char *key, double *ret)
{
	struct json_object *v = get(o, key);

	if (!v || !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		return false;
	*ret = json_object_get_double(v);
	return true;
}

/* Join the elements of an array (strings or numbers) with sep. */
static void join(struct json_object *a, const char *sep, const char *empty, char *buf, size_t len)
{
	size_t n = 0;

	if (!a || !json_object_is_type(a, json_type_array)) {
		snprintf(buf, len, "?");
		return;
	}
	buf[0] = '\0';
	if (arr_len(a) == 0)
		snprintf(buf, len, "%s", empty);
	for (size_t i = 0; i < arr_len(a) && n < len; i++) {
		struct json_object *e = arr_get(a, i);
		const char *t = json_object_is_type(e, json_type_string) ? str_of(e) : num_of(e);
		int w = snprintf(buf + n, len - n, "%s%s", i ? sep : "", t);

		if (w < 0)
			break;
		n += (size_t)w;
	}
}

/* ---- aligned tables ---- */

#define TABLE_MAX_COLS 16

struct table {
	size_t ncols, nrows;
	char **cells; /* nrows * ncols */
};

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

static void table_add(struct table *t, ...) /* ncols strings */
{
	char **cells = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(*cells));
	va_list ap;

	if (!cells) {
		fprintf(stderr, "clusterctl: out of memory\n");
		exit(EXIT_FAILED);
	}
	t->cells = cells;
	va_start(ap, t);
	for (size_t c = 0; c < t->ncols; c++) {
		const char *s = va_arg(ap, const char *);
		char *d = strdup(s ? s : "?");

		if (!d) {
			fprintf(stderr, "clusterctl: out of memory\n");
			exit(EXIT_FAILED);
		}
		cells[t->nrows * t->ncols + c] = d;
	}
	va_end(ap);
	t->nrows++;
}

/* Like table_add with an array of ncols strings. */
static void table_add_row(struct table *t, const char *const *row)
{
	char **cells = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(*cells));

	if (!cells) {
		fprintf(stderr, "clusterctl: out of memory\n");
		exit(EXIT_FAILED);
	}
	t->cells = cells;
	for (size_t c = 0; c < t->ncols; c++) {
		cells[t->nrows * t->ncols + c] = strdup(row[c] ? row[c] : "?");
		if (!cells[t->nrows * t->ncols + c]) {
			fprintf(stderr, "clusterctl: out of memory\n");
			exit(EXIT_FAILED);
		}
	}
	t->nrows++;
}

static void table_print(const struct table *t, const char *indent)
{
	size_t w[TABLE_MAX_COLS] = {0};

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols && c < TABLE_MAX_COLS; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);
			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		fputs(indent, stdout);
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				printf("%s\n", s);
			else
				printf("%-*s  ", (int)(c < TABLE_MAX_COLS ? w[c] : 0), s);
		}
	}
}

/* ---- commands ---- */

static void print_nodes_table(struct json_object *nodes, const char *indent)
{
	struct table t = {.ncols = 6};

	table_add(&t, "ID", "NAME", "STATE", "MEMBER", "HEALTH", "ROLE");
	for (size_t i = 0; i < arr_len(nodes); i++) {
		struct json_object *n = arr_get(nodes, i),
				   *dn = get_type(n, "degraded_networks", json_type_array);
		struct json_object *coord = get_type(n, "coordinator", json_type_boolean);
		struct json_object *local = get_type(n, "local", json_type_boolean);
		char state[256], nets[200], role[32];
		bool is_coord = coord && json_object_get_boolean(coord);
		bool is_local = local && json_object_get_boolean(local);

		if (arr_len(dn)) {
			join(dn, ",", "", nets, sizeof(nets));
			snprintf(state, sizeof(state), "%s (%s)", str(n, "state"), nets);
		} else {
			snprintf(state, sizeof(state), "%s", str(n, "state"));
		}
		if (get_type(n, "fenced", json_type_string)) {
			size_t off = strlen(state);
			snprintf(state + off, sizeof(state) - off, ", fenced");
		}
		if (strcmp(str(n, "admin"), "none") != 0 && strcmp(str(n, "admin"), "?") != 0) {
			size_t off = strlen(state);
			snprintf(state + off, sizeof(state) - off, ", %s%s", str(n, "admin"),
				 get_type(n, "drain_blocked", json_type_boolean) &&
						 json_object_get_boolean(get(n, "drain_blocked"))
					 ? " (blocked)"
					 : "");
		}
		if (is_coord || is_local)
			snprintf(role, sizeof(role), "%s%s%s", is_coord ? "coordinator" : "",
				 is_coord && is_local ? ", " : "", is_local ? "local" : "");
		else
			snprintf(role, sizeof(role), "%s", coord && local ? "-" : "?");
		table_add(&t, num(n, "id"), str(n, "name"), state, yesno(n, "member"), str(n, "health"),
			  role);
	}
	if (!nodes)
		table_add(&t, "?", "?", "?", "?", "?", "?");
	table_print(&t, indent);
	table_free(&t);
}

/* "drain of n1: vm3: failed twice (…)" under the table, for each node that has one */
static void print_admin_reasons(struct json_object *nodes)
{
	for (size_t i = 0; i < arr_len(nodes); i++) {
		struct json_object *n = arr_get(nodes, i);

		if (get_type(n, "admin_reason", json_type_string))
			printf("\n%s: %s: %s", str(n, "name"), str(n, "admin"), str(n, "admin_reason"));
	}
	for (size_t i = 0; i < arr_len(nodes); i++)
		if (get_type(arr_get(nodes, i), "admin_reason", json_type_string)) {
			printf("\n");
			break;
		}
}

static int cmd_admin(struct json_object *d)
{
	struct json_object *already = get_type(d, "already", json_type_boolean);

	printf("node %s: %s%s\n", str(d, "node"), str(d, "admin"),
	       already && json_object_get_boolean(already) ? " (already)" : "");
	return EXIT_OK;
}

static int cmd_nodes(struct json_object *d)
{
	struct json_object *coord = get(d, "coordinator");
	struct json_object *quorate = get_type(d, "quorate", json_type_boolean);
	const char *coord_s = is_null(d, "coordinator") ? "none" : num_of(coord);
	const char *quorum_s = "quorum ?";

	if (quorate)
		quorum_s = json_object_get_boolean(quorate) ? "quorate" : "NOT quorate";
	printf("Cluster %s, local node %s, coordinator %s, %s\n\n", str(d, "cluster"), num(d, "local_id"),
	       coord_s, quorum_s);
	print_nodes_table(get_type(d, "nodes", json_type_array), "");
	print_admin_reasons(get_type(d, "nodes", json_type_array));
	return EXIT_OK;
}

static int cmd_vms(struct json_object *d)
{
	struct json_object *vms = get_type(d, "vms", json_type_array);
	struct json_object *blind = get_type(d, "nodes_without_inventory", json_type_array);
	struct json_object *twice = get_type(d, "running_twice", json_type_array);
	struct table t = {.ncols = 6};
	char buf[512];

	table_add(&t, "NAME", "NODE", "STATE", "MEMORY", "VCPUS", "HA");
	for (size_t i = 0; i < arr_len(vms); i++) {
		struct json_object *v = arr_get(vms, i);
		char mem[32];

		snprintf(mem, sizeof(mem), "%s MiB", num(v, "memory_mib"));
		table_add(&t, str(v, "name"), is_null(v, "node") ? "-" : str(v, "node"), str(v, "state"),
			  is_null(v, "memory_mib") ? "-" : mem, is_null(v, "vcpus") ? "-" : num(v, "vcpus"),
			  yesno(v, "ha"));
	}
	if (arr_len(vms))
		table_print(&t, "");
	else
		printf("no VMs%s\n", vms ? "" : " (malformed reply)");
	table_free(&t);
	if (arr_len(blind)) {
		join(blind, " ", "", buf, sizeof(buf));
		printf("\nNo inventory from: %s (libvirt not connected there, or not heard yet)\n", buf);
	}
	if (arr_len(twice)) {
		join(twice, " ", "", buf, sizeof(buf));
		printf("\nWARNING: running on two nodes at once: %s\n", buf);
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

/* "436.3 MB, 118.2 MB/s, 5 ch, 2 links, tcp unframed", "direct" or "-". */
static void copy_cell(struct json_object *m, char *buf, size_t len)
{
	struct json_object *c = get_type(m, "copy", json_type_object);
	struct json_object *b = get(c, "bytes"), *l = get_type(c, "links", json_type_int);
	char links[24] = "";

	if (!c) {
		snprintf(buf, len, "%s", strcmp(raw(m, "transport"), "direct") == 0 ? "direct" : "-");
		return;
	}
	if (l && json_object_get_int(l) > 1)
		snprintf(links, sizeof(links), ", %d links", json_object_get_int(l));
	snprintf(buf, len, "%.1f MB, %s MB/s, %s ch%s, %s",
		 b && json_object_is_type(b, json_type_int) ? (double)json_object_get_int64(b) / 1e6 : 0.0,
		 is_null(c, "mb_s") ? "-" : num(c, "mb_s"), num(c, "channels"), links, str(c, "backend"));
}

static void mig_row(struct table *t, struct json_object *m)
{
	char prog[160], state[40], carried[160];

	if (is_null(m, "percent"))
		snprintf(prog, sizeof(prog), "-");
	else if (strcmp(str(m, "state"), "running") == 0)
		snprintf(prog, sizeof(prog), "%s%%, %s MiB left, dirty %s MiB/s, pass %s, eta %s s",
			 num(m, "percent"), num(m, "remaining_mib"), num(m, "dirty_mib_s"),
			 num(m, "iteration"), is_null(m, "eta_s") ? "?" : num(m, "eta_s"));
	else
		snprintf(prog, sizeof(prog), "%s%% (%s MiB sent)", num(m, "percent"),
			 num(m, "processed_mib"));
	snprintf(state, sizeof(state), "%s%s", str(m, "state"),
		 strcmp(str(m, "kind"), "restart") == 0 ? " (restart)" : "");
	copy_cell(m, carried, sizeof(carried));
	table_add(t, str(m, "id"), str(m, "vm"), str(m, "source"), str(m, "target"), state, prog, carried,
		  is_null(m, "reason") ? "" : str(m, "reason"));
}

static int cmd_migrations(struct json_object *d)
{
	struct json_object *migs = get_type(d, "migrations", json_type_array);
	struct table t = {.ncols = 8};

	if (!arr_len(migs)) {
		printf("no migrations%s\n", migs ? "" : " (malformed reply)");
		return migs ? EXIT_OK : EXIT_FAILED;
	}
	table_add(&t, "ID", "VM", "FROM", "TO", "STATE", "PROGRESS", "CARRIED", "REASON");
	for (size_t i = 0; i < arr_len(migs); i++)
		mig_row(&t, arr_get(migs, i));
	table_print(&t, "");
	table_free(&t);
	printf("\nat most %s at once per node\n", num(d, "max_concurrent"));
	return EXIT_OK;
}

static int cmd_migrate(struct json_object *d)
{
	printf("migration %s of %s from %s to %s: %s\n", str(d, "id"), str(d, "vm"), str(d, "source"),
	       str(d, "target"), str(d, "state"));
	return EXIT_OK;
}

static int cmd_quorum(struct json_object *d)
{
	char members[1024], flags[512];
	struct table t = {.ncols = 2};

	join(get(d, "members"), " ", "none", members, sizeof(members));
	join(get(d, "flags"), " ", "none", flags, sizeof(flags));
	table_add(&t, "Quorate:", yesno(d, "quorate"));
	table_add(&t, "Node ID:", num(d, "node_id"));
	table_add(&t, "Total votes:", num(d, "total_votes"));
	table_add(&t, "Expected votes:", num(d, "expected_votes"));
	table_add(&t, "Quorum:", num(d, "quorum"));
	table_add(&t, "Members:", members);
	table_add(&t, "Flags:", flags);
	table_add(&t, "Ring ID:", str(d, "ring_id"));
	table_add(&t, "Corosync:", str(d, "corosync"));
	table_print(&t, "");
	table_free(&t);
	return EXIT_OK;
}

/* Index of name in names[0..n), appending it if absent (n < max). */
static size_t name_index(const char **names, size_t *n, size_t max, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	if (*n == max)
		return max;
	names[*n] = name;
	return (*n)++;
}

#define LINKS_MAX_NODES 64
#define LINKS_MAX_NETS  16

static void link_cell(struct json_object *l, char *buf, size_t len)
{
	double rtt, loss;
	const char *state = str(l, "state");
	int n = snprintf(buf, len, "%s", state);

	if (n < 0 || (size_t)n >= len)
		return;
	if (dbl(l, "rtt_ms", &rtt))
		n += snprintf(buf + n, len - (size_t)n, " %.2fms", rtt);
	if ((size_t)n < len && strcmp(state, "lossy") == 0 && dbl(l, "loss_pct", &loss))
		snprintf(buf + n, len - (size_t)n, " %.0f%%", loss);
}

static int cmd_links(struct json_object *d)
{
	struct json_object *nets = get_type(d, "networks", json_type_array);
	struct json_object *links = get_type(d, "links", json_type_array);
	/* names point into the reply, which outlives this function */
	const char *nodes[LINKS_MAX_NODES], *netnames[LINKS_MAX_NETS];
	size_t nn = 0, nnet = 0;

	if (!nets && !links) {
		printf("?\n");
		return EXIT_OK;
	}
	for (size_t i = 0; i < arr_len(nets); i++) {
		struct json_object *v = arr_get(nets, i);
		if (json_object_is_type(v, json_type_string))
			name_index(netnames, &nnet, LINKS_MAX_NETS, json_object_get_string(v));
	}
	for (size_t i = 0; i < arr_len(links); i++) {
		struct json_object *l = arr_get(links, i);
		struct json_object *f = get_type(l, "from", json_type_string),
				   *t = get_type(l, "to", json_type_string);
		struct json_object *net = get_type(l, "network", json_type_string);

		if (f)
			name_index(nodes, &nn, LINKS_MAX_NODES, json_object_get_string(f));
		if (t)
			name_index(nodes, &nn, LINKS_MAX_NODES, json_object_get_string(t));
		if (net)
			name_index(netnames, &nnet, LINKS_MAX_NETS, json_object_get_string(net));
	}
	if (nnet == 0 || nn == 0) {
		printf("No links.\n");
		return EXIT_OK;
	}
	if (nn + 1 > TABLE_MAX_COLS) {
		/* too wide for a matrix: one line per link */
		struct table t = {.ncols = 4};

		table_add(&t, "NETWORK", "FROM", "TO", "STATE");
		for (size_t i = 0; i < arr_len(links); i++) {
			struct json_object *l = arr_get(links, i);
			char cell[128];

			link_cell(l, cell, sizeof(cell));
			table_add(&t, str(l, "network"), str(l, "from"), str(l, "to"), cell);
		}
		table_print(&t, "");
		table_free(&t);
		return EXIT_OK;
	}
	for (size_t k = 0; k < nnet; k++) {
		struct table t = {.ncols = nn + 1};
		const char *row[TABLE_MAX_COLS];
		char cells[TABLE_MAX_COLS][128];

		printf("%sNetwork %s (rows: from, columns: to)\n", k ? "\n" : "", clean(netnames[k]));
		row[0] = "";
		for (size_t j = 0; j < nn; j++) {
			snprintf(cells[j + 1], sizeof(cells[0]), "%s", clean(nodes[j]));
			row[j + 1] = cells[j + 1];
		}
		table_add_row(&t, row);
		for (size_t i = 0; i < nn; i++) {
			snprintf(cells[0], sizeof(cells[0]), "%s", clean(nodes[i]));
			row[0] = cells[0];
			for (size_t j = 0; j < nn; j++) {
				snprintf(cells[j + 1], sizeof(cells[0]), "%s", i == j ? "-" : "?");
				row[j + 1] = cells[j + 1];
			}
			for (size_t x = 0; x < arr_len(links); x++) {
				struct json_object *l = arr_get(links, x);
				const char *f = raw(l, "from"), *to = raw(l, "to"), *net = raw(l, "network");
				size_t j;

				if (strcmp(f, nodes[i]) != 0 || strcmp(net, netnames[k]) != 0)
					continue;
				for (j = 0; j < nn && strcmp(to, nodes[j]) != 0; j++)
					;
				if (j < nn && j != i)
					link_cell(l, cells[j + 1], sizeof(cells[0]));
			}
			table_add_row(&t, row);
		}
		table_print(&t, "  ");
		table_free(&t);
	}
	return EXIT_OK;
}

static int cmd_status(struct json_object *d)
{
	struct json_object *q = get_type(d, "quorum", json_type_object);
	struct json_object *local = get_type(d, "local", json_type_object);
	struct json_object *coord = get(d, "coordinator");
	struct json_object *down = get_type(d, "links_down", json_type_array);
	struct json_object *migs = get(d, "migrations");
	struct json_object *quorate = get_type(q, "quorate", json_type_boolean);
	char members[1024], coord_s[256];

	join(get(q, "members"), " ", "none", members, sizeof(members));
	if (is_null(d, "coordinator"))
		snprintf(coord_s, sizeof(coord_s), "none");
	else if (coord && json_object_is_type(coord, json_type_object))
		snprintf(coord_s, sizeof(coord_s), "%s (id %s)", str(coord, "name"), num(coord, "id"));
	else
		snprintf(coord_s, sizeof(coord_s), "?");

	printf("Cluster:      %s\n", str(d, "cluster"));
	printf("Local node:   %s (id %s)\n", str(local, "name"), num(local, "id"));
	printf("Corosync:     %s\n", str(q, "corosync"));
	printf("Quorum:       %s, %s of %s votes, quorum %s, members %s\n",
	       !quorate                           ? "?"
	       : json_object_get_boolean(quorate) ? "quorate"
						  : "NOT quorate",
	       num(q, "total_votes"), num(q, "expected_votes"), num(q, "quorum"), members);
	printf("Coordinator:  %s\n", coord_s);
	printf("\n");
	print_nodes_table(get_type(d, "nodes", json_type_array), "  ");
	print_admin_reasons(get_type(d, "nodes", json_type_array));
	printf("\n");
	if (!down)
		printf("Links down:   ?\n");
	else if (arr_len(down) == 0)
		printf("Links down:   none\n");
	else {
		printf("Links down:   %zu\n", arr_len(down));
		for (size_t i = 0; i < arr_len(down); i++) {
			struct json_object *l = arr_get(down, i);
			printf("  %s -> %s on %s\n", str(l, "from"), str(l, "to"), str(l, "network"));
		}
	}
	if (!migs || !json_object_is_type(migs, json_type_array)) {
		printf("Migrations:   ?\n");
	} else {
		struct table t = {.ncols = 8};
		size_t active = 0;

		table_add(&t, "ID", "VM", "FROM", "TO", "STATE", "PROGRESS", "CARRIED", "REASON");
		for (size_t i = 0; i < arr_len(migs); i++) {
			struct json_object *m = arr_get(migs, i);
			const char *st = str(m, "state");

			if (strcmp(st, "succeeded") != 0 && strcmp(st, "failed") != 0) {
				mig_row(&t, m);
				active++;
			}
		}
		if (active) {
			printf("Migrations:   %zu in progress\n", active);
			table_print(&t, "  ");
		} else {
			printf("Migrations:   none in progress (%zu finished: clusterctl migrations)\n",
			       arr_len(migs));
		}
		table_free(&t);
	}
	return EXIT_OK;
}

/* ---- main ---- */

static int print_reply(const char *cmd, const char *line, bool json)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *reply = NULL, *ok, *data;
	size_t len = strlen(line);
	int ret = EXIT_FAILED;

	if (!tok) {
		fprintf(stderr, "clusterctl: out of memory\n");
		goto out;
	}
	reply = json_tokener_parse_ex(tok, line, (int)len);
	if (reply) {
		size_t end = json_tokener_get_parse_end(tok);

		end += strspn(line + end, " \t\r");
		if (end != len) {
			fprintf(stderr,
				"clusterctl: malformed reply from clusterd: trailing data at byte %zu\n",
				end);
			goto out;
		}
	} else if (json_tokener_get_error(tok) == json_tokener_continue) {
		reply = json_tokener_parse_ex(tok, "", 1);
	}
	if (!reply || !json_object_is_type(reply, json_type_object)) {
		fprintf(stderr, "clusterctl: malformed reply from clusterd: %s\n",
			reply || json_tokener_get_error(tok) == json_tokener_success
				? "not a JSON object"
				: json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	ok = get_type(reply, "ok", json_type_boolean);
	if (!ok) {
		fprintf(stderr, "clusterctl: malformed reply from clusterd: no \"ok\" member\n");
		goto out;
	}
	if (!json_object_get_boolean(ok)) {
		const char *code = str(reply, "code");

		fprintf(stderr, "clusterctl: %s: %s\n", code, str(reply, "error"));
		ret = strcmp(code, "ENOTQUORATE") == 0 ? EXIT_NOTQUORATE : EXIT_FAILED;
		goto out;
	}
	data = get_type(reply, "data", json_type_object);
	if (!data) {
		fprintf(stderr,
			"clusterctl: malformed reply from clusterd: \"data\" missing or not an object\n");
		goto out;
	}
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(data, JSON_C_TO_STRING_PRETTY |
									    JSON_C_TO_STRING_SPACED |
									    JSON_C_TO_STRING_NOSLASHESCAPE));
		ret = EXIT_OK;
	} else if (strcmp(cmd, "status") == 0) {
		ret = cmd_status(data);
	} else if (strcmp(cmd, "nodes") == 0) {
		ret = cmd_nodes(data);
	} else if (strcmp(cmd, "quorum") == 0) {
		ret = cmd_quorum(data);
	} else if (strcmp(cmd, "vms") == 0) {
		ret = cmd_vms(data);
	} else if (strcmp(cmd, "migrations") == 0) {
		ret = cmd_migrations(data);
	} else if (strcmp(cmd, "migrate") == 0) {
		ret = cmd_migrate(data);
	} else if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "undrain") == 0) {
		ret = cmd_admin(data);
	} else if (strcmp(cmd, "fence") == 0) {
		printf("node %s: fenced (confirmed by you)\n", str(data, "node"));
		ret = EXIT_OK;
	} else if (strcmp(cmd, "quarantine") == 0) {
		ret = cmd_admin(data);
	} else if (strcmp(cmd, "evacuation") == 0) {
		struct json_object *st = get_type(data, "status", json_type_array);

		if (!json_object_get_boolean(get(data, "coordinator")))
			printf("this node is not the coordinator: ask the coordinator (clusterctl status)\n");
		else if (!arr_len(st))
			printf("nothing to do: every node is a member or fenced, every HA VM runs\n");
		for (size_t i = 0; i < arr_len(st); i++)
			printf("%s%s%s\n", is_null(arr_get(st, i), "node") ? "" : str(arr_get(st, i), "node"),
			       is_null(arr_get(st, i), "node") ? "" : ": ", str(arr_get(st, i), "text"));
		ret = EXIT_OK;
	} else if (strcmp(cmd, "ha") == 0) {
		if (strcmp(str(data, "state"), "removed") == 0)
			printf("%s is no longer HA\n", str(data, "vm"));
		ret = EXIT_OK;
	} else {
		ret = cmd_links(data);
	}
out:
	json_object_put(reply);
	if (tok)
		json_tokener_free(tok);
	return ret;
}

/* Follow the migration the reply `line` describes until it ends (polling
 * "migrations" twice a second), printing each change. 0 succeeded, 1 failed
 * or gone, 3 daemon lost; past timeout_s: 1, saying the migration goes on.
 * The request reaches the replicated table only when corosync delivers it
 * back (~0.5 s seen on a loaded host): until it is first listed it is under
 * way, not gone — calling it failed then made callers act (a test's
 * teardown destroyed the source VM) while the migration went on. */
#define WAIT_LISTED_MS 15000
static int wait_migration(const char *path, const char *reply_line, long timeout_s)
{
	struct json_object *reply = json_tokener_parse(reply_line), *data, *id;
	char want[64], last[256] = "";
	int64_t deadline = mono_ms() + timeout_s * 1000, listed_by = mono_ms() + WAIT_LISTED_MS;
	int ret = EXIT_FAILED;
	bool seen = false;

	if (!reply || !json_object_object_get_ex(reply, "data", &data) ||
	    !json_object_object_get_ex(data, "id", &id)) {
		fprintf(stderr, "clusterctl: the reply has no migration id to wait for\n");
		json_object_put(reply);
		return EXIT_FAILED;
	}
	snprintf(want, sizeof(want), "%s", json_object_get_string(id));
	json_object_put(reply);
	while (mono_ms() < deadline) {
		struct json_object *r, *d, *migs, *m = NULL;
		char *line = NULL, now_s[256];
		int t = transact(path, "{\"cmd\":\"migrations\"}\n", &line);

		if (t != EXIT_OK)
			return t;
		r = json_tokener_parse(line);
		free(line);
		if (r && json_object_object_get_ex(r, "data", &d) &&
		    (migs = get_type(d, "migrations", json_type_array)))
			for (size_t i = 0; i < arr_len(migs); i++)
				if (strcmp(str(arr_get(migs, i), "id"), want) == 0)
					m = arr_get(migs, i);
		if (!m && !seen && mono_ms() < listed_by) {
			json_object_put(r);
			poll(NULL, 0, 100); /* on its way to the table */
			continue;
		}
		if (!m) {
			if (seen)
				fprintf(stderr, "clusterctl: migration %s is no longer listed\n", want);
			else
				fprintf(stderr,
					"clusterctl: migration %s never reached the cluster table in %d s\n",
					want, WAIT_LISTED_MS / 1000);
			json_object_put(r);
			return EXIT_FAILED;
		}
		seen = true;
		snprintf(now_s, sizeof(now_s), "%s%s%s%s", str(m, "state"), is_null(m, "percent") ? "" : " ",
			 is_null(m, "percent") ? "" : num(m, "percent"), is_null(m, "percent") ? "" : "%");
		if (strcmp(now_s, last) != 0) {
			printf("  %s\n", now_s);
			fflush(stdout);
			snprintf(last, sizeof(last), "%s", now_s);
		}
		if (strcmp(str(m, "state"), "succeeded") == 0 || strcmp(str(m, "state"), "failed") == 0) {
			ret = strcmp(str(m, "state"), "succeeded") == 0 ? EXIT_OK : EXIT_FAILED;
			if (ret != EXIT_OK)
				fprintf(stderr, "clusterctl: migration failed: %s\n", str(m, "reason"));
			json_object_put(r);
			return ret;
		}
		json_object_put(r);
		poll(NULL, 0, 500);
	}
	fprintf(stderr, "clusterctl: still not finished after %ld s; it goes on (clusterctl migrations)\n",
		timeout_s);
	return EXIT_FAILED;
}

/* "n2,n3" as a JSON array of strings (empty items kept: clusterd names them) */
static struct json_object *split_list(const char *s)
{
	struct json_object *a = json_object_new_array();
	const char *p = s;

	for (;;) {
		size_t n = strcspn(p, ",");
		json_object_array_add(a, json_object_new_string_len(p, (int)(n > 200 ? 200 : n)));
		if (!p[n])
			break;
		p += n + 1;
	}
	return a;
}

/* ha add answers "fetching": the XML comes from the VM's node in a child
 * process. Poll ha-result until it is done or failed (30 s at most). */
static int wait_ha(const char *path, const char *vm)
{
	int64_t deadline = mono_ms() + 30000;
	struct json_object *req = json_object_new_object();
	char request[512];

	json_object_object_add(req, "cmd", json_object_new_string("ha-result"));
	json_object_object_add(req, "vm", json_object_new_string(vm));
	snprintf(request, sizeof(request), "%s\n",
		 json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	while (mono_ms() < deadline) {
		struct json_object *r, *d;
		char *line = NULL;
		int t = transact(path, request, &line);

		if (t != EXIT_OK)
			return t;
		r = json_tokener_parse(line);
		free(line);
		if (!r || !json_object_object_get_ex(r, "data", &d)) {
			fprintf(stderr, "clusterctl: malformed ha-result reply\n");
			json_object_put(r);
			return EXIT_FAILED;
		}
		if (strcmp(str(d, "state"), "failed") == 0) {
			fprintf(stderr, "clusterctl: %s not added: %s\n", vm, str(d, "error"));
			json_object_put(r);
			return EXIT_FAILED;
		}
		if (strcmp(str(d, "state"), "done") == 0 && json_object_get_boolean(get(d, "ha"))) {
			printf("%s is HA\n", vm);
			json_object_put(r);
			return EXIT_OK;
		}
		json_object_put(r);
		poll(NULL, 0, 200);
	}
	fprintf(stderr, "clusterctl: %s not HA after 30 s (clusterctl vms)\n", vm);
	return EXIT_FAILED;
}

static struct json_object *find_named(struct json_object *arr, const char *key, const char *want)
{
	for (size_t i = 0; i < arr_len(arr); i++)
		if (strcmp(str(arr_get(arr, i), key), want) == 0)
			return arr_get(arr, i);
	return NULL;
}

/* How long a drain the daemon accepted may take to show in its status (CPG
 * delivers it in well under this; longer, it was aborted meanwhile). */
#define APPLY_WAIT_MS 5000

/* Follow a drain of `node` (polling "status" twice a second), printing each
 * of its migrations as it changes. 0 when the node is DRAINED; 1 when the
 * drain was aborted, is blocked (nothing more can move: the reason is
 * printed), or timeout_s passed (the drain goes on); 3 daemon lost. */
static int wait_drain(const char *path, const char *node, const char *drain, long timeout_s)
{
	int64_t start = mono_ms(), deadline = start + timeout_s * 1000;
	/* the daemon replied before CPG delivered the drain back to it: until
	 * its status names this drain, what it shows may be the state before */
	bool applied = !drain[0];
	char seen[64][160];
	size_t n_seen = 0;

	memset(seen, 0, sizeof(seen));
	while (mono_ms() < deadline) {
		struct json_object *r, *d = NULL, *n, *migs;
		char *line = NULL;
		const char *admin;
		size_t active = 0;
		int t = transact(path, "{\"cmd\":\"status\"}\n", &line);

		if (t != EXIT_OK)
			return t;
		r = json_tokener_parse(line);
		free(line);
		if (!r || !json_object_object_get_ex(r, "data", &d) ||
		    !(n = find_named(get_type(d, "nodes", json_type_array), "name", node))) {
			fprintf(stderr, "clusterctl: malformed status reply\n");
			json_object_put(r);
			return EXIT_FAILED;
		}
		migs = get_type(d, "migrations", json_type_array);
		for (size_t i = 0; i < arr_len(migs); i++) {
			struct json_object *m = arr_get(migs, i);
			const char *st = str(m, "state");
			char now_s[160];
			size_t k;

			if (strcmp(str(m, "source"), node) != 0)
				continue;
			/* this drain's moves, not those of a drain that was aborted before */
			if (drain[0] && strcmp(raw(m, "drain"), drain) != 0)
				continue;
			active += strcmp(st, "succeeded") != 0 && strcmp(st, "failed") != 0;
			snprintf(now_s, sizeof(now_s), "%.20s %.64s -> %.32s: %.12s%s%s%s%s%s%s%s",
				 str(m, "id"), str(m, "vm"), str(m, "target"), st,
				 is_null(m, "percent") ? "" : " ",
				 is_null(m, "percent") ? "" : num(m, "percent"),
				 is_null(m, "percent") ? "" : "%", is_null(m, "eta_s") ? "" : ", eta ",
				 is_null(m, "eta_s") ? "" : num(m, "eta_s"), is_null(m, "eta_s") ? "" : " s",
				 "");
			for (k = 0; k < n_seen && strncmp(seen[k], now_s, 20) != 0; k++)
				;
			if (k < n_seen && strcmp(seen[k], now_s) == 0)
				continue;
			if (k == n_seen && n_seen < 64)
				n_seen++;
			if (k < 64)
				snprintf(seen[k], sizeof(seen[k]), "%s", now_s);
			printf("  %s%s%s\n", strchr(now_s, ' ') + 1, strcmp(st, "failed") == 0 ? ": " : "",
			       strcmp(st, "failed") == 0 ? str(m, "reason") : "");
			fflush(stdout);
		}
		admin = str(n, "admin");
		if (!applied && strcmp(raw(n, "drain"), drain) != 0 && mono_ms() < start + APPLY_WAIT_MS) {
			json_object_put(r);
			poll(NULL, 0, 100);
			continue;
		}
		applied = true;
		if (strcmp(admin, "drained") == 0) {
			printf("node %s: drained\n", node);
			json_object_put(r);
			return EXIT_OK;
		}
		if (strcmp(admin, "draining") != 0) {
			fprintf(stderr, "clusterctl: node %s is %s: the drain was aborted\n", node, admin);
			json_object_put(r);
			return EXIT_FAILED;
		}
		if (active == 0 && get_type(n, "drain_blocked", json_type_boolean) &&
		    json_object_get_boolean(get(n, "drain_blocked"))) {
			fprintf(stderr, "clusterctl: the drain of %s is blocked: %s\n", node,
				str(n, "admin_reason"));
			json_object_put(r);
			return EXIT_FAILED;
		}
		json_object_put(r);
		poll(NULL, 0, 500);
	}
	fprintf(stderr,
		"clusterctl: %s not drained after %ld s; the drain goes on (clusterctl drain --abort %s "
		"stops "
		"it)\n",
		node, timeout_s, node);
	return EXIT_FAILED;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},   {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},           {"version", no_argument, NULL, 'V'},
		{"wait", no_argument, NULL, 'w'},           {"timeout", required_argument, NULL, 't'},
		{"abort", no_argument, NULL, 'a'},          {"confirm", no_argument, NULL, 'C'},
		{"priority", required_argument, NULL, 'p'}, {"prefer", required_argument, NULL, 'P'},
		{"forbid", required_argument, NULL, 'F'},   {NULL, 0, NULL, 0},
	};
	const char *priority = NULL, *prefer = NULL, *forbid = NULL;
	bool wait = false, abort_it = false, confirm = false;
	long timeout_s = 3600;
	const char *path = getenv("CLUSTERD_SOCKET"), *cmd;
	struct json_object *req;
	char *line = NULL, request[1024];
	bool json = false;
	size_t i;
	int c, ret;

	if (!path || !*path)
		path = DEFAULT_SOCKET;
	while ((c = getopt_long(argc, argv, "s:jhVwt:", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			abort_it = true;
			break;
		case 'C':
			confirm = true;
			break;
		case 'p':
			priority = optarg;
			break;
		case 'P':
			prefer = optarg;
			break;
		case 'F':
			forbid = optarg;
			break;
		case 'w':
			wait = true;
			break;
		case 't': {
			char *end;
			timeout_s = strtol(optarg, &end, 10);
			if (*end || timeout_s <= 0) {
				fprintf(stderr, "clusterctl: --timeout wants a number of seconds, got '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 's':
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("clusterctl %s\n", PACKAGE_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "clusterctl: no command given\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	for (i = 0; commands[i] && strcmp(commands[i], cmd) != 0; i++)
		;
	if (!commands[i]) {
		fprintf(stderr, "clusterctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	{
		bool is_mig = strcmp(cmd, "migrate") == 0, is_drain = strcmp(cmd, "drain") == 0,
		     is_undrain = strcmp(cmd, "undrain") == 0, is_ha = strcmp(cmd, "ha") == 0,
		     is_fence = strcmp(cmd, "fence") == 0, is_q = strcmp(cmd, "quarantine") == 0;
		int want = is_mig || is_ha || is_q ? 3 : is_drain || is_undrain || is_fence ? 2 : 1;

		if (is_q && optind + 3 == argc && strcmp(argv[optind + 1], "clear") != 0)
			want = -1;
		if (confirm && !is_fence) {
			fprintf(stderr, "clusterctl: --confirm goes with fence\n");
			return EXIT_USAGE;
		}
		if (is_fence && optind + 2 == argc && !confirm) {
			fprintf(stderr,
				"clusterctl: fence %s needs --confirm: you state that it is powered off and "
				"runs "
				"nothing (a wrong confirmation can run a VM twice)\n",
				argv[optind + 1]);
			return EXIT_USAGE;
		}

		if (is_ha && optind + 3 == argc && strcmp(argv[optind + 1], "add") != 0 &&
		    strcmp(argv[optind + 1], "remove") != 0)
			want = -1;
		if (optind + want != argc) {
			if (is_ha)
				fprintf(stderr,
					"clusterctl: usage: clusterctl ha add VM [--priority N] [--prefer "
					"NODE,...] [--forbid NODE,...] | ha remove VM\n");
			else if (is_mig)
				fprintf(stderr, "clusterctl: usage: clusterctl migrate VM NODE [--wait] "
						"[--timeout S]\n");
			else if (is_drain)
				fprintf(stderr,
					"clusterctl: usage: clusterctl drain NODE [--wait] [--timeout S] | "
					"drain --abort NODE\n");
			else if (is_undrain)
				fprintf(stderr, "clusterctl: usage: clusterctl undrain NODE\n");
			else {
				fprintf(stderr, "clusterctl: '%s' takes no arguments\n", cmd);
				usage(stderr);
			}
			return EXIT_USAGE;
		}
		if ((wait || timeout_s != 3600) && !is_mig && !is_drain) {
			fprintf(stderr, "clusterctl: --wait and --timeout go with migrate and drain\n");
			return EXIT_USAGE;
		}
		if ((priority || prefer || forbid) && !(is_ha && strcmp(argv[optind + 1], "add") == 0)) {
			fprintf(stderr, "clusterctl: --priority, --prefer and --forbid go with ha add\n");
			return EXIT_USAGE;
		}
		if (abort_it && !is_drain) {
			fprintf(stderr, "clusterctl: --abort goes with drain\n");
			return EXIT_USAGE;
		}
		if (abort_it && (wait || timeout_s != 3600)) {
			fprintf(stderr, "clusterctl: drain --abort takes no --wait or --timeout\n");
			return EXIT_USAGE;
		}
	}
	if (!*path) {
		fprintf(stderr, "clusterctl: empty socket path\n");
		return EXIT_USAGE;
	}

	req = json_object_new_object();
	if (!req || json_object_object_add(req, "cmd", json_object_new_string(cmd)) < 0) {
		fprintf(stderr, "clusterctl: out of memory\n");
		return EXIT_FAILED;
	}
	if (strcmp(cmd, "migrate") == 0) {
		if (strlen(argv[optind + 1]) > 200 || strlen(argv[optind + 2]) > 200) {
			fprintf(stderr, "clusterctl: VM or node name too long\n");
			json_object_put(req);
			return EXIT_USAGE;
		}
		json_object_object_add(req, "vm", json_object_new_string(argv[optind + 1]));
		json_object_object_add(req, "node", json_object_new_string(argv[optind + 2]));
	}
	if (strcmp(cmd, "ha") == 0) {
		if (strlen(argv[optind + 2]) > 200) {
			fprintf(stderr, "clusterctl: VM name too long\n");
			json_object_put(req);
			return EXIT_USAGE;
		}
		json_object_object_add(req, "op", json_object_new_string(argv[optind + 1]));
		json_object_object_add(req, "vm", json_object_new_string(argv[optind + 2]));
		if (priority) {
			char *end;
			long p = strtol(priority, &end, 10);

			if (*end || !*priority || p < -1000 || p > 1000) {
				fprintf(stderr,
					"clusterctl: --priority wants an integer in -1000..1000, got '%s'\n",
					priority);
				json_object_put(req);
				return EXIT_USAGE;
			}
			json_object_object_add(req, "priority", json_object_new_int((int)p));
		}
		if (prefer)
			json_object_object_add(req, "prefer", split_list(prefer));
		if (forbid)
			json_object_object_add(req, "forbid", split_list(forbid));
	}
	if (strcmp(cmd, "fence") == 0 || strcmp(cmd, "quarantine") == 0) {
		const char *node = argv[strcmp(cmd, "fence") == 0 ? optind + 1 : optind + 2];

		if (strlen(node) > 200) {
			fprintf(stderr, "clusterctl: node name too long\n");
			json_object_put(req);
			return EXIT_USAGE;
		}
		json_object_object_add(req, "node", json_object_new_string(node));
		if (strcmp(cmd, "fence") == 0)
			json_object_object_add(req, "confirm", json_object_new_boolean(true));
		else
			json_object_object_add(req, "op", json_object_new_string("clear"));
	}
	if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "undrain") == 0) {
		if (strlen(argv[optind + 1]) > 200) {
			fprintf(stderr, "clusterctl: node name too long\n");
			json_object_put(req);
			return EXIT_USAGE;
		}
		json_object_object_add(req, "node", json_object_new_string(argv[optind + 1]));
		if (abort_it)
			json_object_object_add(req, "abort", json_object_new_boolean(true));
	}
	snprintf(request, sizeof(request), "%s\n",
		 json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	ret = transact(path, request, &line);
	if (ret == EXIT_OK)
		ret = print_reply(cmd, line, json);
	if (ret == EXIT_OK && strcmp(cmd, "ha") == 0 && strcmp(argv[optind + 1], "add") == 0) {
		ret = wait_ha(path, argv[optind + 2]);
	} else if (ret == EXIT_OK && wait && strcmp(cmd, "drain") == 0) {
		struct json_object *r = json_tokener_parse(line), *d = NULL;
		char drain[32];

		/* the reply names the drain (none when the node is drained already) */
		snprintf(drain, sizeof(drain), "%s",
			 r && json_object_object_get_ex(r, "data", &d) ? raw(d, "drain") : "");
		json_object_put(r);
		ret = wait_drain(path, argv[optind + 1], drain, timeout_s);
	} else if (ret == EXIT_OK && wait) {
		ret = wait_migration(path, line, timeout_s);
	}
	free(line);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "clusterctl: write error: %s\n", strerror(errno));
		if (ret == EXIT_OK)
			ret = EXIT_FAILED;
	}
	return ret;
}
