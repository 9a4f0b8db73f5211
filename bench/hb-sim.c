/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench/hb-sim.c: plays many heartbeat peers in one process, for benchmarks
 * and tests: every node of a clusterd.conf in --nodes A-B gets its own
 * monitor and sockets (bound to its configured addresses) and heartbeats the
 * --target node on every network they share. One event loop, no threads. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "clusterd/config.h"
#include "common/loop.h"
#include "heartbeat/hb_io.h"

struct sim_peer {
	uint32_t id;
	struct hb_monitor *m;
	struct hb_io *io;
};

static struct sim_peer peers[CFG_MAX_NODES];
static size_t n_peers;

static usec_t on_prepare(struct ev_loop *loop, usec_t now, void *ud)
{
	usec_t next = USEC_INFINITY;

	for (size_t i = 0; i < n_peers; i++) {
		usec_t d;
		hb_monitor_tick(peers[i].m, now);
		hb_io_send_due(peers[i].io, now);
		d = hb_monitor_next_deadline(peers[i].m);
		if (d < next)
			next = d;
	}
	return next;
}

static void on_readable(struct ev_loop *loop, struct ev_io *w, int fd, uint32_t ev, usec_t now, void *ud)
{
	hb_io_recv(((struct sim_peer *)ud)->io, fd, now);
}

static void on_stop(struct ev_loop *loop, int signo, usec_t now, void *ud)
{
	ev_loop_quit(loop);
}

static void on_duration(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *ud)
{
	ev_loop_quit(loop);
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	unsigned lo = 0, hi = 0, target = 1, duration_s = 0;
	struct cfg_errors errs = {0};
	struct hb_key *key;
	struct ev_loop *loop;
	struct cfg *cfg;
	int c, r;

	while ((c = getopt(argc, argv, "c:n:t:d:")) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			if (sscanf(optarg, "%u-%u", &lo, &hi) != 2 || lo == 0 || hi < lo) {
				fprintf(stderr, "hb-sim: -n takes a range of node ids like 2-32\n");
				return 2;
			}
			break;
		case 't':
			target = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			duration_s = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr,
				"usage: hb-sim -c CONFIG -n FIRST-LAST [-t TARGET_ID] [-d SECONDS]\n");
			return 2;
		}
	}
	if (!path || !lo) {
		fprintf(stderr, "usage: hb-sim -c CONFIG -n FIRST-LAST [-t TARGET_ID] [-d SECONDS]\n");
		return 2;
	}
	if (cfg_load(path, &cfg, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.v[i].msg);
		return 1;
	}
	int ti = cfg_node_by_id(cfg, target);
	if (ti < 0) {
		fprintf(stderr, "hb-sim: target node %u is not in %s\n", target, path);
		return 1;
	}
	if ((r = hb_key_new(cfg->key, cfg->key_len, &key)) < 0 || (r = ev_loop_new(NULL, &loop)) < 0) {
		fprintf(stderr, "hb-sim: setup failed: %s\n", strerror(-r));
		return 1;
	}
	usec_t now = ev_loop_now(loop);
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		const struct cfg_node *n = &cfg->nodes[i];
		struct sim_peer *p;
		struct hb_monitor_params mp = {
			.local_id = n->id,
			.cluster_id = hb_cluster_id(cfg->cluster_name),
			.incarnation = time_real_usec(),
			.cls = {{cfg->heartbeat.same_subnet_delay_ms, cfg->heartbeat.same_subnet_threshold},
				{cfg->heartbeat.cross_subnet_delay_ms,
				 cfg->heartbeat.cross_subnet_threshold}},
			.rise = cfg->heartbeat.rise,
			.history_len = cfg->heartbeat.route_history_length,
		};

		if (n->id < lo || n->id > hi || n->id == target)
			continue;
		p = &peers[n_peers++];
		p->id = n->id;
		if ((r = hb_monitor_new(&mp, &p->m)) < 0 ||
		    (r = hb_io_new(p->m, key, mp.cluster_id, &p->io)) < 0) {
			fprintf(stderr, "hb-sim: node %u: %s\n", n->id, strerror(-r));
			return 1;
		}
		for (size_t k = 0; k < cfg->n_networks; k++) {
			int fd;
			if (!cfg->networks[k].heartbeat || !n->has_addr[k] || !cfg->nodes[ti].has_addr[k])
				continue;
			fd = hb_io_add_link(p->io, (uint8_t)k, &n->addr[k], cfg->heartbeat.port);
			if (fd < 0 || (r = ev_io_add(loop, fd, EPOLLIN, on_readable, p, NULL)) < 0 ||
			    (r = hb_monitor_add_link(p->m, target, (uint8_t)k, HB_CLASS_SAME_SUBNET, now)) <
				    0 ||
			    (r = hb_io_add_peer(p->io, target, (uint8_t)k, &cfg->nodes[ti].addr[k],
						cfg->heartbeat.port)) < 0) {
				fprintf(stderr, "hb-sim: node %u network %s: %s\n", n->id,
					cfg->networks[k].name, strerror(fd < 0 ? -fd : -r));
				return 1;
			}
		}
	}
	ev_prepare_add(loop, on_prepare, NULL);
	ev_signal_add(loop, SIGTERM, on_stop, NULL);
	ev_signal_add(loop, SIGINT, on_stop, NULL);
	if (duration_s)
		ev_timer_add(loop, now + duration_s * USEC_PER_SEC, on_duration, NULL, NULL);
	printf("hb-sim: %zu peers heartbeating node %u\n", n_peers, target);
	fflush(stdout);
	r = ev_loop_run(loop);

	uint64_t tx = 0, rx = 0;
	for (size_t i = 0; i < n_peers; i++) {
		tx += hb_io_get_counters(peers[i].io)->tx_datagrams;
		rx += hb_io_get_counters(peers[i].io)->rx_datagrams;
		hb_io_free(peers[i].io);
		hb_monitor_free(peers[i].m);
	}
	printf("hb-sim: sent %llu heartbeats, received %llu\n", (unsigned long long)tx,
	       (unsigned long long)rx);
	hb_key_free(key);
	ev_loop_free(loop);
	cfg_free(cfg);
	return r < 0 ? 1 : 0;
}
