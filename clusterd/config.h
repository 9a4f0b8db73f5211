/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/config.h: clusterd.conf (libconfig) into a typed, validated
 * struct. Loading fills every default first, then reads the file, then checks
 * meaning across fields; every problem found is reported (not just the first)
 * as "FILE:LINE: KEY: what is wrong (allowed: …)". Never logs. */
#ifndef CFG_CONFIG_H
#define CFG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "heartbeat/hb_net.h"

#define CFG_MAX_NODES     32
#define CFG_MAX_NETWORKS  8
#define CFG_MAX_SUBNETS   8
#define CFG_NAME_MAX      64
#define CFG_MIG_LINKS_MAX 4 /* migration.links; = MCOPY_LINK_MAX, the engine's limit */

/* Defaults not owned by heartbeat/ (hb_monitor.h has the heartbeat ones). */
#define CFG_DEFAULT_PATH                   SYSCONFDIR "/clusterd/clusterd.conf"
#define CFG_DEFAULT_KEY_FILE               SYSCONFDIR "/clusterd/cluster.key"
#define CFG_DEFAULT_HB_PORT                3343
#define CFG_DEFAULT_STATE_DIR              LOCALSTATEDIR "/lib/clusterd"
#define CFG_DEFAULT_SOCKET                 RUNSTATEDIR "/clusterd/clusterd.sock"
#define CFG_DEFAULT_LIBVIRT_URI            "qemu:///system"
#define CFG_DEFAULT_LIBVIRT_PEER_URI       "qemu+tls://%s/system"
#define CFG_DEFAULT_CONTROL_GROUP          "root"
#define CFG_DEFAULT_ADMIN_GROUP            "root"
#define CFG_DEFAULT_NET_HEARTBEAT          true
#define CFG_DEFAULT_DEGRADED_GRACE_S       30
#define CFG_DEFAULT_MIG_TRANSPORT          CFG_TRANSPORT_MCOPY
#define CFG_DEFAULT_MIG_STREAMS            1
#define CFG_DEFAULT_MIG_MAX_CONCURRENT     2
#define CFG_DEFAULT_MIG_MAX_CLUSTER        0 /* no cluster-wide limit */
#define CFG_DEFAULT_MIG_CPU_OVERCOMMIT     4
#define CFG_DEFAULT_MIG_BANDWIDTH_MBPS     0 /* unlimited */
#define CFG_DEFAULT_MIG_MAX_DOWNTIME_MS    300
#define CFG_DEFAULT_MIG_MCOPY_PORT         49300
#define CFG_DEFAULT_MIG_TIMEOUT_S_PER_GIB  120
#define CFG_DEFAULT_MIG_PROGRESS_TIMEOUT_S 60
#define CFG_DEFAULT_MIG_AUTO_CONVERGE      true
#define CFG_DEFAULT_MIG_POSTCOPY           false
#define CFG_DEFAULT_FENCE_MODE             CFG_FENCE_SELF
#define CFG_DEFAULT_FENCE_AGENT_TIMEOUT_S  60
#define CFG_DEFAULT_SELF_FENCE_MS          10000
#define CFG_DEFAULT_ISOLATION_GRACE_MS     5000
#define CFG_DEFAULT_SELF_FENCE_FALLBACK    true
#define CFG_DEFAULT_QUARANTINE_FAILURES    3
#define CFG_DEFAULT_QUARANTINE_WINDOW_S    3600
#define CFG_DEFAULT_QUARANTINE_S           3600

enum cfg_role { CFG_ROLE_CLUSTER, CFG_ROLE_MIGRATION, CFG_ROLE_MANAGEMENT };
enum cfg_transport { CFG_TRANSPORT_MCOPY, CFG_TRANSPORT_DIRECT };
enum cfg_fence_mode { CFG_FENCE_SELF, CFG_FENCE_AGENT, CFG_FENCE_NONE };

struct cfg_subnet {
	struct hb_addr addr;
	unsigned prefixlen;
};

struct cfg_network {
	char name[CFG_NAME_MAX];
	enum cfg_role role;
	struct cfg_subnet subnets[CFG_MAX_SUBNETS]; /* `subnet = "a/n"` or `subnets = [...]` */
	size_t n_subnets;
	bool heartbeat; /* carry heartbeats on this network (default true) */
	int line;
};

struct cfg_node {
	uint32_t id; /* 1..2^31-1, unique */
	char name[CFG_NAME_MAX];
	/* address on network i (index into cfg.networks); has_addr[i] false when
	 * the node is not on that network */
	struct hb_addr addr[CFG_MAX_NETWORKS];
	bool has_addr[CFG_MAX_NETWORKS];
	int line;
};

struct cfg_heartbeat {
	uint16_t port;                   /* 1..65535, default 3343 */
	uint32_t same_subnet_delay_ms;   /* 50..10000 */
	uint32_t same_subnet_threshold;  /* 3..120 */
	uint32_t cross_subnet_delay_ms;  /* 50..10000 */
	uint32_t cross_subnet_threshold; /* 3..120 */
	uint32_t route_history_length;   /* 1..1000, default 10 */
	uint32_t rise;                   /* 1..100, default 3 */
	uint32_t degraded_grace_s;       /* 0..86400, default 30 */
};

struct cfg_migration {
	int network;                  /* index of the migration network, -1 none */
	enum cfg_transport transport; /* "mcopy" (default) | "direct" */
	uint16_t mcopy_port;          /* the engines' TCP port, 1..65535, default 49300 (every node alike) */
	char congestion[16];          /* TCP congestion control of the engines' streams; "": the host's
				       * (cfg_mig_congestion) */
	uint32_t streams;             /* 1..16, default 1 */
	uint32_t max_concurrent;      /* 1..16, default 2 */
	uint32_t max_cluster;         /* 0..256 at once in the cluster, 0 = no limit (default) */
	uint32_t cpu_overcommit;      /* 1..64 vCPUs per host CPU when placing, default 4 */
	uint32_t bandwidth_mbps;      /* 0 = unlimited, default 0 */
	uint32_t max_downtime_ms;     /* 1..60000, default 300 */
	uint32_t timeout_s_per_gib;   /* 1..3600, default 120 */
	uint32_t progress_timeout_s;  /* 1..3600, default 60 */
	bool auto_converge;           /* default true */
	bool postcopy;                /* default false */
	int fallback_network;         /* index or -1 (default: none) */
	/* networks whose addresses carry an mcopy migration's connections
	 * (indexes, no duplicates, role migration or management, every node has
	 * an address on each); default: just `network` (n_links 0 when none) */
	int links[CFG_MIG_LINKS_MAX];
	size_t n_links;
};

struct cfg_fencing {
	enum cfg_fence_mode mode;       /* "self" (default) | "agent" | "none" */
	char agent[256];                /* path of a fence-agents program, "" none */
	char watchdog[256];             /* watchdog device (e.g. /dev/watchdog), "" none (default) */
	uint32_t agent_timeout_s;       /* 1..600, default 60 */
	uint32_t self_fence_ms;         /* 1000..600000, default 10000 */
	uint32_t isolation_grace_ms;    /* 0..self_fence_ms-1, default 5000 */
	bool allow_self_fence_fallback; /* default true */
	uint32_t quarantine_failures;   /* 1..100, default 3 */
	uint32_t quarantine_window_s;   /* 1..86400, default 3600 */
	uint32_t quarantine_s;          /* 1..604800, default 3600 */
};

struct cfg {
	char path[4096];
	/* cluster */
	char cluster_name[CFG_NAME_MAX];
	char key_file[4096];
	uint8_t key[1024]; /* contents of key_file (HB_KEY_MIN..HB_KEY_MAX bytes) */
	size_t key_len;
	/* node: this node's id; 0 = not set in the file (find it by local address) */
	uint32_t local_id;
	struct cfg_node nodes[CFG_MAX_NODES];
	size_t n_nodes;
	struct cfg_network networks[CFG_MAX_NETWORKS]; /* index = link id on the wire */
	size_t n_networks;
	struct cfg_heartbeat heartbeat;
	struct cfg_migration migration;
	struct cfg_fencing fencing;
	char libvirt_uri[1024];
	char libvirt_peer_uri[1024]; /* another node's libvirt, "%s" = its management address */
	char control_socket[4096];
	char control_group[CFG_NAME_MAX]; /* group allowed read commands, default "root" */
	char admin_group[CFG_NAME_MAX];   /* group allowed changing commands, default "root" */
	char state_dir[4096];
};

/* One problem found while loading. */
struct cfg_error {
	char msg[512]; /* complete "FILE:LINE: KEY: what (allowed: …)" text */
	int line;      /* 0 when the problem is not tied to a line */
	char key[128]; /* dotted path, e.g. "heartbeat.same_subnet_delay_ms" or "nodes[2].name" */
};

struct cfg_errors {
	struct cfg_error *v;
	size_t n;
};

/* Load and validate path. Returns 0 and a new *ret_cfg, or -EINVAL with every
 * problem in *ret_errs (caller frees with cfg_errors_clear), or -ENOMEM. A
 * file that cannot be opened or parsed is one error naming it. *ret_cfg is
 * untouched on failure; *ret_errs (may be NULL) is always set, empty unless
 * -EINVAL, ordered by line. A relative key_file is relative to path's directory. */
int cfg_load(const char *path, struct cfg **ret_cfg, struct cfg_errors *ret_errs);
void cfg_free(struct cfg *cfg); /* NULL is fine; wipes the key */
void cfg_errors_clear(struct cfg_errors *errs);

/* Index of a node by id / name, or -ENOENT. */
int cfg_node_by_id(const struct cfg *cfg, uint32_t id);
int cfg_node_by_name(const struct cfg *cfg, const char *name);
/* Index of the network with that role / name, or -ENOENT (first match). */
int cfg_network_by_role(const struct cfg *cfg, enum cfg_role role);
int cfg_network_by_name(const struct cfg *cfg, const char *name);

const char *cfg_role_name(enum cfg_role r);

/* migration.congestion as the engine takes it: the name, or NULL (the
 * host's default; also with transport "direct", which has no engine). */
static inline const char *cfg_mig_congestion(const struct cfg *cfg)
{
	return cfg->migration.transport == CFG_TRANSPORT_MCOPY && cfg->migration.congestion[0]
		       ? cfg->migration.congestion
		       : NULL;
}

#endif
