/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/daemon.c: wires the parts on the one event loop — the heartbeat
 * monitor and its sockets, the corosync client, the replicated cluster state,
 * the control socket, the libvirt helper, drains and the migrations this
 * node runs — and logs every state change. Failures (fence agent runs,
 * self-fencing, restarts, prepared copies) are daemon_evac.c's. The policy
 * is not here: states are derived in cluster.c, plans made by drain.c and
 * evac.c. */
#include <errno.h>
#include <stdarg.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "autoconf.h"
#include "clusterd/cluster.h"
#include "clusterd/control.h"
#include "clusterd/corosync.h"
#include "clusterd/knet_probe.h"
#include "clusterd/daemon.h"
#include "clusterd/drain.h"
#include "clusterd/evac.h"
#include "clusterd/fence.h"
#include "clusterd/selffence.h"
#include "clusterd/ha.h"
#include "clusterd/mig_wire.h"
#include "clusterd/prepared.h"
#include "clusterd/status.h"
#include "clusterd/virt_link.h"
#include "migrate/mig_exec.h"
#include "migrate/mig_job.h"
#include "common/log.h"
#include "heartbeat/hb_io.h"
#include "heartbeat/hb_monitor.h"
#include "heartbeat/hb_wire.h"

#include "clusterd/daemon_priv.h"

const char *dm_node_name(const struct cl_daemon *d, uint32_t id)
{
	int i = cfg_node_by_id(d->cfg, id);
	return i >= 0 ? d->cfg->nodes[i].name : "?";
}

static const char *net_name(const struct cl_daemon *d, uint8_t link)
{
	return link < d->cfg->n_networks ? d->cfg->networks[link].name : "?";
}

/* The libvirt URI that reaches node's libvirtd: libvirt.uri for this node
 * when local_ok, else libvirt.peer_uri with its management address.
 * -ENOENT: it has none. */
int dm_node_libvirt_uri(const struct cl_daemon *d, uint32_t node, bool local_ok, char *buf, size_t len)
{
	int x = cfg_node_by_id(d->cfg, node), mgmt = cfg_network_by_role(d->cfg, CFG_ROLE_MANAGEMENT);
	const char *p = strstr(d->cfg->libvirt_peer_uri, "%s");
	char addr[HB_ADDR_STRLEN];

	if (local_ok && node == d->local_id) {
		snprintf(buf, len, "%s", d->cfg->libvirt_uri);
		return 0;
	}
	if (mgmt < 0 || x < 0 || !d->cfg->nodes[x].has_addr[mgmt] || !p)
		return -ENOENT;
	/* the template has exactly one %s (config validates it): splice, no format string */
	snprintf(buf, len, "%.*s%s%s", (int)(p - d->cfg->libvirt_peer_uri), d->cfg->libvirt_peer_uri,
		 hb_addr_str(&d->cfg->nodes[x].addr[mgmt], addr, sizeof(addr)), p + 2);
	return 0;
}

/* "down: cluster; up: management migration" for a node's links */
static void describe_links(const struct cl_daemon *d, uint32_t id, char *buf, size_t len)
{
	static const enum hb_link_state order[] = {HB_LINK_DOWN, HB_LINK_LOSSY, HB_LINK_UP, HB_LINK_UNKNOWN};
	FILE *f = fmemopen(buf, len, "w");

	buf[0] = '\0';
	if (!f)
		return;
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		const char *sep = ftell(f) ? "; " : "";
		bool any = false;

		for (size_t l = 0; l < d->cfg->n_networks; l++) {
			struct hb_link_stats st;

			if (hb_monitor_link_stats(d->mon, id, (uint8_t)l, &st) < 0 || st.state != order[k])
				continue;
			if (!any)
				fprintf(f, "%s%s:", sep, hb_link_state_name(order[k]));
			fprintf(f, " %s", net_name(d, (uint8_t)l));
			any = true;
		}
	}
	fclose(f); /* fmemopen NUL-terminates within len */
}

enum hb_node_health dm_peer_health(const struct cl_daemon *d, uint32_t id)
{
	int h = hb_monitor_node_health(d->mon, id);
	return h < 0 ? HB_NODE_UNKNOWN : (enum hb_node_health)h;
}

static void on_hb_event(const struct hb_event *ev, void *userdata)
{
	struct cl_daemon *d = userdata;
	char links[256];

	if (ev->kind == HB_EV_LINK) {
		struct hb_link_stats st;
		if (hb_monitor_link_stats(d->mon, ev->node_id, ev->link, &st) < 0)
			return;
		if (d->cluster)
			cl_cluster_local_link(d->cluster, ev->node_id, ev->link, &st,
					      dm_peer_health(d, ev->node_id), ev->now);
		if (ev->new_state == HB_LINK_DOWN)
			log_warn("link %s/%s: %s -> down, silent %llu ms (%s, threshold %u x %u ms)",
				 dm_node_name(d, ev->node_id), net_name(d, ev->link),
				 hb_link_state_name(ev->old_state),
				 (unsigned long long)(ev->silent_us / USEC_PER_MSEC), hb_class_name(st.cls),
				 st.threshold, st.delay_ms);
		else if (ev->new_state == HB_LINK_UP && st.rtt_us >= 0)
			log_info("link %s/%s: %s -> up, rtt %.3f ms", dm_node_name(d, ev->node_id),
				 net_name(d, ev->link), hb_link_state_name(ev->old_state),
				 (double)st.rtt_us / 1000.0);
		else if (ev->new_state == HB_LINK_LOSSY)
			log_info("link %s/%s: %s -> lossy, %u missed now, %u.%u%% lost of last heartbeats",
				 dm_node_name(d, ev->node_id), net_name(d, ev->link),
				 hb_link_state_name(ev->old_state), st.missed, st.loss_permille / 10,
				 st.loss_permille % 10);
		else
			log_info("link %s/%s: %s -> %s", dm_node_name(d, ev->node_id), net_name(d, ev->link),
				 hb_link_state_name(ev->old_state), hb_link_state_name(ev->new_state));
		return;
	}
	if (d->cluster)
		for (size_t l = 0; l < d->cfg->n_networks; l++) {
			struct hb_link_stats st;
			if (hb_monitor_link_stats(d->mon, ev->node_id, (uint8_t)l, &st) == 0)
				cl_cluster_local_link(d->cluster, ev->node_id, (uint8_t)l, &st,
						      (enum hb_node_health)ev->new_state, ev->now);
		}
	describe_links(d, ev->node_id, links, sizeof(links));
	d->evac_due = true; /* a node seen dead may be fenced early (evac_set_suspect) */
	if (ev->new_state == HB_NODE_DOWN || ev->new_state == HB_NODE_DEGRADED)
		log_warn("node %s: %s -> %s (%s)", dm_node_name(d, ev->node_id),
			 hb_node_health_name(ev->old_state), hb_node_health_name(ev->new_state), links);
	else
		log_info("node %s: %s -> %s (%s)", dm_node_name(d, ev->node_id),
			 hb_node_health_name(ev->old_state), hb_node_health_name(ev->new_state), links);
}

/* Tick the monitor only when its deadline has come: a received heartbeat can
 * only move deadlines later, never earlier, so the cached one is never late
 * (at worst one tick finds nothing to do). O(links) per tick, not per wakeup. */
static usec_t hb_prepare(struct ev_loop *loop, usec_t now, void *userdata)
{
	struct cl_daemon *d = userdata;

	if (now >= d->hb_deadline) {
		hb_monitor_tick(d->mon, now);
		(void)hb_io_send_due(d->io, now);
		d->hb_deadline = hb_monitor_next_deadline(d->mon);
	}
	return d->hb_deadline;
}

/* Our current view of every link, into the cluster state (for RTT/loss,
 * which change without events). O(links). */
static void refresh_local_view(struct cl_daemon *d, usec_t now)
{
	for (size_t i = 0; i < d->cfg->n_nodes; i++)
		for (size_t l = 0; l < d->cfg->n_networks; l++) {
			struct hb_link_stats st;

			if (hb_monitor_link_stats(d->mon, d->cfg->nodes[i].id, (uint8_t)l, &st) == 0)
				cl_cluster_local_link(d->cluster, d->cfg->nodes[i].id, (uint8_t)l, &st,
						      dm_peer_health(d, d->cfg->nodes[i].id), now);
		}
}

/* Multicast now, or queue behind what corosync has refused for now: order is
 * kept, nothing is dropped (a full queue is an error the caller reports). */
int dm_multicast(struct cl_daemon *d, const uint8_t *buf, size_t len)
{
	int r = -EAGAIN;

	if (d->n_outq == 0)
		r = cs_client_send(d->cs, buf, len);
	if (r != -EAGAIN)
		return r;
	if (d->n_outq == sizeof(d->outq) / sizeof(d->outq[0]))
		return -ENOBUFS;
	d->outq[d->n_outq].buf = malloc(len);
	if (!d->outq[d->n_outq].buf)
		return -ENOMEM;
	memcpy(d->outq[d->n_outq].buf, buf, len);
	d->outq[d->n_outq++].len = len;
	return 0;
}

static void flush_outq(struct cl_daemon *d)
{
	size_t sent = 0;

	while (sent < d->n_outq && cs_client_send(d->cs, d->outq[sent].buf, d->outq[sent].len) != -EAGAIN) {
		free(d->outq[sent].buf);
		sent++;
	}
	memmove(d->outq, d->outq + sent, (d->n_outq - sent) * sizeof(d->outq[0]));
	d->n_outq -= sent;
}

/* Multicast our link view when the cluster state says it is due. */
static usec_t cluster_prepare(struct ev_loop *loop, usec_t now, void *userdata)
{
	struct cl_daemon *d = userdata;
	usec_t next = cl_cluster_next_deadline(d->cluster);
	int len, r;

	if (d->n_outq) {
		flush_outq(d);
		if (d->n_outq)
			return now + SEND_RETRY_USEC;
	}
	if (next > now || now < d->send_retry_at)
		return next > d->send_retry_at ? next : d->send_retry_at;
	refresh_local_view(d, now);
	len = cl_cluster_poll_send(d->cluster, now, d->msg, sizeof(d->msg));
	if (len <= 0) {
		if (len < 0)
			log_err("cluster: cannot encode our link view: %s", strerror(-len));
		return cl_cluster_next_deadline(d->cluster);
	}
	r = cs_client_send(d->cs, d->msg, (size_t)len);
	if (r < 0) {
		cl_cluster_send_failed(d->cluster);
		d->send_retry_at = now + SEND_RETRY_USEC;
		if (r != -EAGAIN && r != -ENOTCONN)
			log_warn("cluster: cannot multicast our link view: %s", strerror(-r));
		return d->send_retry_at;
	}
	return cl_cluster_next_deadline(d->cluster);
}

/* ---- migrations this node runs ---- */

void dm_report(struct cl_daemon *d, struct local_mig *m, enum clm_mig_state st, const char *reason)
{
	struct clm_mig_report rep = {.sender = d->local_id,
				     .id = m->id,
				     .state = (uint8_t)st,
				     .processed = m->job.processed,
				     .remaining = m->job.remaining,
				     .total = m->job.total,
				     .dirty_rate = m->job.dirty_rate,
				     .iteration = m->job.iteration};
	int64_t eta = mig_job_eta_s(&m->job);
	uint8_t buf[CLM_MIG_STATE_LEN];
	int len, r;

	/* what carries it, just before its state (CPG keeps the order): a
	 * finished migration's counters are final when the table sees its end */
	const struct cl_migration *cm = cl_cluster_migration(d->cluster, m->id);

	if (cm && cm->kind == CLM_KIND_MIGRATE && (m->exec || m->out)) {
		struct clm_mig_copy cp;

		mw_out_copy(m->out, ev_loop_now(d->loop), &cp);
		cp.sender = d->local_id;
		cp.id = m->id;
		len = clm_encode_mig_copy(&cp, buf, sizeof(buf));
		r = len < 0 ? len : dm_multicast(d, buf, (size_t)len);
		if (r < 0)
			log_err("migration %llx: cannot report its copy counters: %s",
				(unsigned long long)m->id, strerror(-r));
	}
	rep.eta_s = eta < 0 ? -1 : eta > INT32_MAX ? INT32_MAX : (int32_t)eta;
	if (reason)
		snprintf(rep.reason, sizeof(rep.reason), "%.*s", CLM_REASON_MAX - 1, reason);
	len = clm_encode_mig_report(&rep, buf, sizeof(buf));
	r = len < 0 ? len : dm_multicast(d, buf, (size_t)len);
	if (r < 0)
		log_err("migration %llx: cannot report %s: %s", (unsigned long long)m->id,
			cl_mig_state_name(st), strerror(-r));
}

static void mig_progress(void *ud, const char *line, usec_t now)
{
	struct local_mig *m = ud;
	unsigned long long p, rem, tot, dirty, it;

	if (sscanf(line, "%llu %llu %llu %llu %llu", &p, &rem, &tot, &dirty, &it) != 5)
		return;
	mig_job_progress(&m->job, p, rem, tot, dirty, (uint32_t)it, now);
	if (now - m->last_report >= USEC_PER_SEC) { /* the cluster hears progress once a second */
		m->last_report = now;
		dm_report(m->d, m, CLM_MIG_RUNNING, NULL);
	}
}

static void mig_done(void *ud, bool ok, const char *msg, usec_t now)
{
	struct local_mig *m = ud;
	struct cl_daemon *d = m->d;
	const struct cl_migration *cm = cl_cluster_migration(d->cluster, m->id);

	char via[128];

	mig_job_finished(&m->job, ok, msg, now);
	if (m->out)
		mw_out_summary(m->out, m->via, sizeof(m->via));
	snprintf(via, sizeof(via), "%s", m->via[0] ? m->via : "QEMU's own TCP");
	log_info("migration of %s to %s: %s%s%s (%s)", cm ? cm->name : "?",
		 cm ? dm_node_name(d, cm->target) : "?", ok ? "done" : "failed", ok ? "" : ": ",
		 ok ? "" : m->job.reason, via);
	dm_report(d, m, ok ? CLM_MIG_SUCCEEDED : CLM_MIG_FAILED, ok ? NULL : m->job.reason);
	for (size_t i = 0; i < d->n_lm; i++)
		if (d->lm[i] == m) {
			d->lm[i] = d->lm[--d->n_lm];
			break;
		}
	mig_exec_free(m->exec); /* reaped already: just frees */
	mw_out_free(m->out);
	free(m);
}

/* The source's engine failed: the job fails with the engine's reason (it
 * came first: libvirt only sees its socket close). Abort the job, and have
 * the engine freed at once (mig_prepare): closing QEMU's sockets is what
 * unblocks a QEMU stuck writing into them — a cancel alone does not. */
static void mig_mcopy_failed(void *ud, const char *reason)
{
	struct local_mig *m = ud;

	(void)mig_job_abort(&m->job, reason);
	m->out_failed = true;
	(void)mig_exec_signal(m->exec, SIGUSR1);
}

static bool tried(struct cl_daemon *d, uint64_t id)
{
	for (size_t i = 0; i < d->n_tried && i < CL_MAX_MIGRATIONS; i++)
		if (d->tried[i] == id)
			return true;
	return false;
}

/* A helper program beside our own executable (a build tree), else where make
 * install puts it (pkglibexecdir). */
void dm_sibling_path(const char *prog, char *buf, size_t len)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			snprintf(buf, len, "%.*s/%s", (int)(slash - self), self, prog);
			if (access(buf, X_OK) == 0)
				return;
		}
	}
	snprintf(buf, len, "%s/%s", PKGLIBEXECDIR, prog);
}

/* Which of migration.links carry this migration, when that is news: links
 * left out for being DOWN, or all of them DOWN and tried anyway. */
static void links_note(struct cl_daemon *d, const char *vm, const int *nets, size_t n, uint32_t down)
{
	char used[256] = "", out[256] = "";
	size_t ou = 0, oo = 0;
	bool all_down = n > 0;

	if (!down)
		return;
	for (size_t k = 0; k < n; k++) {
		ou += (size_t)snprintf(used + ou, sizeof(used) - ou, "%s%s", k ? ", " : "",
				       net_name(d, (uint8_t)nets[k]));
		all_down &= (down >> nets[k]) & 1u;
	}
	if (all_down) {
		log_warn("migration of %s: every migration link is DOWN to the target; trying all of them "
			 "(%s)",
			 vm, used);
		return;
	}
	for (size_t net = 0; net < d->cfg->n_networks && net < 32; net++)
		if ((down >> net) & 1u)
			oo += (size_t)snprintf(out + oo, sizeof(out) - oo, "%s%s", oo ? ", " : "",
					       net_name(d, (uint8_t)net));
	log_warn("migration of %s: not over link(s) %s: DOWN to the target; carried over %s", vm, out, used);
}

static void start_migration(struct cl_daemon *d, const struct cl_migration *cm, usec_t now)
{
	int t = cfg_node_by_id(d->cfg, cm->target), mgmt = cfg_network_by_role(d->cfg, CFG_ROLE_MANAGEMENT);
	const char *net_why = "no migration network";
	int mnet = drain_migration_network(d->cluster, d->cfg, d->local_id, cm->target, &net_why);
	char helper[4200], dest[1200], muri[160], addr[HB_ADDR_STRLEN], bw[32], dt[32], par[16];
	const struct cfg_node *tn = t >= 0 ? &d->cfg->nodes[t] : NULL;
	struct mig_job_params jp = {.mem_bytes = 0,
				    .timeout_s_per_gib = d->cfg->migration.timeout_s_per_gib,
				    .progress_timeout_s = d->cfg->migration.progress_timeout_s};
	struct local_mig *m;
	const struct clm_vm *vms;
	size_t n;
	bool up, known;
	int r;

	if (d->n_lm == CL_MAX_MIGRATIONS || tried(d, cm->id))
		return;
	d->tried[d->n_tried++ % CL_MAX_MIGRATIONS] = cm->id;
	/* two requests for one VM can both reach the table (sent from two nodes
	 * at once): never run two jobs on it; the first one goes on */
	for (size_t i = 0; i < d->n_lm; i++) {
		const struct cl_migration *o = cl_cluster_migration(d->cluster, d->lm[i]->id);

		if (o && strcmp(o->uuid, cm->uuid) == 0) {
			struct local_mig dup = {.d = d, .id = cm->id};

			log_warn("migration of %s: not started: migration %llx of this VM runs", cm->name,
				 (unsigned long long)o->id);
			dm_report(d, &dup, CLM_MIG_FAILED, "another migration of this VM runs");
			return;
		}
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		log_err("migration of %s: out of memory", cm->name);
		return;
	}
	*m = (struct local_mig){.d = d, .id = cm->id, .last_report = now};
	if (cl_cluster_inventory(d->cluster, d->local_id, &vms, &n, &up, &known) == 0)
		for (size_t i = 0; i < n; i++)
			if (strcmp(vms[i].uuid, cm->uuid) == 0)
				jp.mem_bytes = vms[i].mem_kib * 1024;
	if (!tn || mnet < 0 || !tn->has_addr[mnet] || mgmt < 0 || !tn->has_addr[mgmt] || jp.mem_bytes == 0 ||
	    mig_job_init(&m->job, &jp) < 0) {
		const char *why = !tn                               ? "unknown target"
				  : mnet < 0 || !tn->has_addr[mnet] ? net_why
				  : mgmt < 0 || !tn->has_addr[mgmt] ? "the target has no management address"
								    : "the VM is not running here";
		log_warn("migration of %s: not started: %s", cm->name, why);
		dm_report(d, m, CLM_MIG_FAILED, why);
		free(m);
		return;
	}
	(void)dm_node_libvirt_uri(d, cm->target, false, dest, sizeof(dest)); /* it has the address */
	if (d->cfg->migration.transport == CFG_TRANSPORT_MCOPY && mnet == d->cfg->migration.network) {
		struct hb_addr targets[CFG_MIG_LINKS_MAX];
		int nets[CFG_MIG_LINKS_MAX];
		uint32_t down;
		size_t nl = drain_migration_links(d->cluster, d->cfg, d->local_id, cm->target, nets, &down);

		links_note(d, cm->name, nets, nl, down);
		for (size_t k = 0; k < nl; k++)
			targets[k] = tn->addr[nets[k]];
		r = nl ? mw_out_start(d->mw, cm->id, targets, nl, mig_mcopy_failed, m, muri, sizeof(muri),
				      &m->out)
		       : -ENETUNREACH;
		if (r < 0) {
			log_err("migration of %s: not started: mcopy: cannot listen for QEMU: %s", cm->name,
				strerror(-r));
			dm_report(d, m, CLM_MIG_FAILED, "mcopy: cannot listen for QEMU");
			free(m);
			return;
		}
	} else {
		if (d->cfg->migration.transport == CFG_TRANSPORT_MCOPY)
			log_info("migration of %s: over the fallback network: QEMU's own TCP, not mcopy",
				 cm->name);
		snprintf(muri, sizeof(muri), "tcp://%s", hb_addr_str(&tn->addr[mnet], addr, sizeof(addr)));
	}
	snprintf(par, sizeof(par), "%u", d->cfg->migration.streams);
	snprintf(bw, sizeof(bw), "%u", (d->cfg->migration.bandwidth_mbps + 7) / 8);
	snprintf(dt, sizeof(dt), "%u", d->cfg->migration.max_downtime_ms);
	dm_sibling_path("clusterd-migrate-vm", helper, sizeof(helper));
	{
		char *argv[20];
		size_t a = 0;

		argv[a++] = helper;
		argv[a++] = (char *)"--domain";
		argv[a++] = (char *)cm->uuid;
		argv[a++] = (char *)"--source-uri";
		argv[a++] = d->cfg->libvirt_uri;
		argv[a++] = (char *)"--dest-uri";
		argv[a++] = dest;
		argv[a++] = (char *)"--migrate-uri";
		argv[a++] = muri;
		argv[a++] = (char *)"--max-downtime";
		argv[a++] = dt;
		if (d->cfg->migration.bandwidth_mbps) {
			argv[a++] = (char *)"--bandwidth";
			argv[a++] = bw;
		}
		if (d->cfg->migration.auto_converge)
			argv[a++] = (char *)"--auto-converge";
		if (d->cfg->migration.postcopy)
			argv[a++] = (char *)"--postcopy";
		if (d->cfg->migration.streams > 1) {
			argv[a++] = (char *)"--parallel";
			argv[a++] = par;
		}
		argv[a] = NULL;
		r = mig_exec_start(d->loop, argv, mig_done, m, &m->exec);
	}
	if (r < 0) {
		log_err("migration of %s: cannot start %s: %s", cm->name, helper, strerror(-r));
		dm_report(d, m, CLM_MIG_FAILED, "cannot start the migration helper");
		mw_out_free(m->out);
		free(m);
		return;
	}
	mig_exec_set_progress(m->exec, mig_progress);
	mig_job_start(&m->job, now);
	d->lm[d->n_lm++] = m;
	log_info("migration of %s to %s over %s (network %s%s, %s, %u QEMU connection(s)) started", cm->name,
		 tn->name, muri, net_name(d, (uint8_t)mnet),
		 mnet != d->cfg->migration.network ? ", the fallback" : "",
		 m->out ? "mcopy to the target's engine" : "QEMU's own TCP", mw_channels(d->cfg));
	if (m->out)
		log_info("migration of %s: mcopy to %s", cm->name, mw_out_peer(m->out));
	dm_report(d, m, CLM_MIG_RUNNING, NULL);
}

/* Start what the replicated table admits and this node runs. */
static void run_admitted(struct cl_daemon *d, usec_t now)
{
	const struct cl_migration *migs;
	size_t n = cl_cluster_migrations(d->cluster, &migs);

	for (size_t i = 0; i < n; i++) {
		bool mine = migs[i].kind == CLM_KIND_START ? migs[i].target == d->local_id
							   : migs[i].source == d->local_id;

		if (!mine || !migs[i].admitted || migs[i].state != CLM_MIG_REQUESTED || tried(d, migs[i].id))
			continue;
		if (migs[i].kind == CLM_KIND_START)
			dm_start_restart(d, &migs[i], now);
		else
			start_migration(d, &migs[i], now);
	}
}

/* Deadlines of the running migrations (mig_job): abort what overran. */
static usec_t mig_prepare(struct ev_loop *loop, usec_t now, void *userdata)
{
	struct cl_daemon *d = userdata;
	usec_t next = dm_sweep_prepared(d, now);

	mw_sweep(d->mw);
	for (size_t i = 0; i < d->n_lm; i++) {
		struct local_mig *m = d->lm[i];

		if (m->out_failed && m->out) {
			mw_out_summary(m->out, m->via, sizeof(m->via));
			mw_out_free(m->out);
			m->out = NULL;
		}

		if (mig_job_tick(&m->job, now) == MIG_ACT_ABORT) {
			log_warn("migration %llx: aborting: %s", (unsigned long long)m->id, m->job.reason);
			(void)mig_exec_signal(m->exec, SIGUSR1);
		}
		if (mig_job_next_deadline(&m->job) < next)
			next = mig_job_next_deadline(&m->job);
	}
	return next;
}

/* ---- drains ---- */

int dm_send_admin(struct cl_daemon *d, const struct drain_admin *a)
{
	struct clm_admin_msg m = {.sender = d->local_id,
				  .node = a->node,
				  .state = (uint8_t)a->state,
				  .flags = a->flags,
				  .version = a->version,
				  .if_version = a->if_version,
				  .drain = a->drain};
	uint8_t buf[CLM_ADMIN_LEN];
	int len;

	snprintf(m.reason, sizeof(m.reason), "%s", a->reason);
	len = clm_encode_admin(&m, buf, sizeof(buf));
	return len < 0 ? len : dm_multicast(d, buf, (size_t)len);
}

/* Every node's admin register, as we hold it: whoever lacks one (a node
 * that just joined) takes it; for the others it is not newer, so a no-op. */
static void resend_admin(struct cl_daemon *d)
{
	for (size_t i = 0; i < d->cfg->n_nodes; i++) {
		struct cl_admin a = cl_cluster_admin(d->cluster, d->cfg->nodes[i].id);
		struct drain_admin m = {.node = d->cfg->nodes[i].id,
					.state = a.state,
					.flags = a.blocked ? CLM_ADM_BLOCKED : 0,
					.version = a.version,
					.drain = a.drain};
		int r;

		if (a.version == 0)
			continue;
		snprintf(m.reason, sizeof(m.reason), "%s", a.reason);
		r = dm_send_admin(d, &m);
		if (r < 0)
			log_warn("cluster: cannot re-send the admin state of %s: %s", d->cfg->nodes[i].name,
				 strerror(-r));
	}
}

static void send_ha(struct cl_daemon *d, struct ha_msg *m)
{
	size_t len = ha_msg_len(m);
	uint8_t *buf = malloc(len);
	int r = buf ? 0 : -ENOMEM;

	m->sender = d->local_id;
	if (r == 0) {
		int n = ha_msg_encode(m, buf, len);
		r = n < 0 ? n : dm_multicast(d, buf, (size_t)n);
	}
	if (r < 0)
		log_err("ha: cannot multicast the entry of %s: %s", m->vm.name, strerror(-r));
	free(buf);
}

/* The whole HA registry, tombstones included (LWW: a no-op where known). */
static void resend_ha(struct cl_daemon *d)
{
	struct ha_msg m;

	for (size_t i = 0; ha_registry_entry_msg(cl_cluster_ha(d->cluster), i, &m) == 0; i++) {
		send_ha(d, &m);
		ha_msg_clear(&m);
	}
}

static uint64_t new_mig_id(struct cl_daemon *d)
{
	/* unique across the cluster: our start time, a counter, and our node id */
	return (time_real_usec() / USEC_PER_SEC) << 32 | ((uint64_t)++d->mig_counter << 12) |
	       (d->local_id & 0xfff);
}

int dm_send_migrate(struct cl_daemon *d, struct clm_migrate *m)
{
	uint8_t buf[CLM_MIGRATE_LEN];
	int len;

	m->sender = d->local_id;
	m->id = new_mig_id(d);
	len = clm_encode_migrate(m, buf, sizeof(buf));
	return len < 0 ? len : dm_multicast(d, buf, (size_t)len);
}

/* The coordinator's planner, after changes (coalesced) and once a second
 * while a drain runs. Everything it decides goes out through CPG and takes
 * effect when delivered, on every node alike. */
static usec_t drain_prepare(struct ev_loop *loop, usec_t now, void *userdata)
{
	struct cl_daemon *d = userdata;
	struct drain_out *out = d->drain_out;
	bool any = false;

	if (cl_cluster_coordinator(d->cluster) != d->local_id) {
		drain_planner_reset(d->planner);
		d->drain_due = false;
		return USEC_INFINITY;
	}
	for (size_t i = 0; i < d->cfg->n_nodes; i++)
		any |= cl_cluster_admin(d->cluster, d->cfg->nodes[i].id).state == CLM_ADMIN_DRAINING;
	if (!any) {
		d->drain_due = false;
		return USEC_INFINITY;
	}
	if (now < d->drain_next)
		return d->drain_next;
	if (!d->drain_due && d->drain_next && now < d->drain_next + DRAIN_IDLE_USEC)
		return d->drain_next + DRAIN_IDLE_USEC;
	d->drain_due = false;
	d->drain_next = now + DRAIN_COALESCE_USEC;
	drain_step(d->planner, d->cluster, now, out);
	for (size_t i = 0; i < out->n_orders; i++) {
		const struct drain_order *o = &out->orders[i];
		struct clm_migrate m = {.source = o->source, .target = o->target, .drain = o->drain};
		int r;

		memcpy(m.uuid, o->uuid, sizeof(m.uuid));
		memcpy(m.name, o->name, sizeof(m.name));
		r = dm_send_migrate(d, &m);
		if (r < 0) {
			log_err("drain of %s: cannot request the migration of %s: %s",
				dm_node_name(d, o->source), o->name, strerror(-r));
			drain_planner_reset(d->planner);
		} else {
			log_info("drain of %s: %s -> %s", dm_node_name(d, o->source), o->name,
				 dm_node_name(d, o->target));
		}
	}
	for (size_t i = 0; i < out->n_admin; i++) {
		int r = dm_send_admin(d, &out->admin[i]);

		if (r < 0) {
			log_err("drain of %s: cannot publish its state: %s",
				dm_node_name(d, out->admin[i].node), strerror(-r));
			drain_planner_reset(d->planner);
		}
	}
	return d->drain_next;
}

/* Abort the migrations this node runs that match (drain id, or target). */
static void abort_local(struct cl_daemon *d, uint64_t drain, uint32_t target, const char *why)
{
	for (size_t i = 0; i < d->n_lm; i++) {
		const struct cl_migration *cm = cl_cluster_migration(d->cluster, d->lm[i]->id);

		if (!cm || (drain && cm->drain != drain) || (target && cm->target != target))
			continue;
		if (!mig_job_abort(&d->lm[i]->job, why))
			continue;
		log_warn("migration of %s to %s: aborting: %s", cm->name, dm_node_name(d, cm->target), why);
		(void)mig_exec_signal(d->lm[i]->exec, SIGUSR1);
	}
}

/* ---- corosync ---- */

static void cs_connected(void *ud, uint32_t cs_id, usec_t now)
{
	struct cl_daemon *d = ud;

	if (cs_id != d->local_id)
		log_err("corosync says this is node %u but clusterd runs as node %u: node ids in %s must "
			"equal "
			"corosync's nodeids",
			cs_id, d->local_id, d->cfg->path);
	cl_cluster_connected(d->cluster, true, now);
}

static void cs_disconnected(void *ud, const char *why, usec_t now)
{
	struct cl_daemon *d = ud;

	cl_cluster_connected(d->cluster, false, now);
}

static void cs_membership(void *ud, const uint32_t *members, size_t n, usec_t now)
{
	struct cl_daemon *d = ud;
	char buf[512];
	size_t off = 0;
	bool joined = false;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < sizeof(buf) - 80; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, " %s", dm_node_name(d, members[i]));
	log_info("membership:%s", n ? buf : " (none)");
	/* the previous membership is cl_cluster's until this call (it forgets
	 * it when corosync goes away: then everyone is new) */
	for (size_t i = 0; i < n; i++)
		joined |= !cl_cluster_is_member(d->cluster, members[i]);
	cl_cluster_membership(d->cluster, members, n, now);
	d->drain_due = d->evac_due = true;
	/* joiners learn every node's admin state and the HA registry; a node
	 * leaving teaches nobody anything, and the registry (up to 256 KiB of
	 * XML per VM) would only queue ahead of a failure's fence record and
	 * restart orders */
	if (joined && cl_cluster_coordinator(d->cluster) == d->local_id) {
		resend_admin(d);
		resend_ha(d);
	}
	run_admitted(d, now);
}

static void cs_quorum(void *ud, const struct cs_quorum *q, usec_t now)
{
	struct cl_daemon *d = ud;

	cl_cluster_quorum(d->cluster, q, now);
}

static void cs_message(void *ud, uint32_t from, const void *data, size_t len, usec_t now)
{
	struct cl_daemon *d = ud;

	(void)cl_cluster_receive(d->cluster, from, data, len, now);
	d->drain_due = d->evac_due = true;
	run_admitted(d, now);
}

static void on_cluster_event(const struct cl_event *ev, void *userdata)
{
	struct cl_daemon *d = userdata;
	int i;

	switch (ev->kind) {
	case CL_EV_NODE:
		d->drain_due = d->evac_due = true;
		if (ev->new_state == CL_NODE_FAILED)
			abort_local(d, 0, ev->node_id, "the target node failed");
		if (ev->new_state == CL_NODE_FAILED || ev->new_state == CL_NODE_DEGRADED)
			log_warn("cluster: node %s: %s -> %s (%s)", dm_node_name(d, ev->node_id),
				 cl_node_state_name(ev->old_state), cl_node_state_name(ev->new_state),
				 ev->reason);
		else
			log_info("cluster: node %s: %s -> %s (%s)", dm_node_name(d, ev->node_id),
				 cl_node_state_name(ev->old_state), cl_node_state_name(ev->new_state),
				 ev->reason);
		break;
	case CL_EV_COORDINATOR:
		if (ev->node_id)
			log_info("cluster: coordinator is %s", dm_node_name(d, ev->node_id));
		else
			log_info("cluster: no coordinator (not quorate)");
		d->drain_due = d->evac_due = true;
		if (ev->node_id == d->local_id) {
			resend_admin(d);
			resend_ha(d);
		}
		break;
	case CL_EV_FENCE:
		d->drain_due = d->evac_due = true;
		if (ev->new_state == CLM_FENCE_FENCED)
			log_warn("fence: %s is fenced (%s: %s)", dm_node_name(d, ev->node_id),
				 cl_fence_how_name(cl_cluster_fence(d->cluster, ev->node_id).how),
				 ev->reason);
		else
			log_info("fence: %s is no longer fenced (%s)", dm_node_name(d, ev->node_id),
				 ev->reason);
		break;
	case CL_EV_HA: {
		int r = ha_registry_save(cl_cluster_ha(d->cluster), d->cfg->state_dir);

		log_info("ha: %s %s (from %s)%s", ev->reason,
			 ev->new_state == HA_OP_SET ? "is HA" : "is no longer HA",
			 dm_node_name(d, ev->node_id), r < 0 ? "" : ", saved");
		if (r < 0)
			log_err("ha: cannot save the registry in %s: %s", d->cfg->state_dir, strerror(-r));
		d->drain_due = d->evac_due = true;
		break;
	}
	case CL_EV_ADMIN: {
		struct cl_admin a = cl_cluster_admin(d->cluster, ev->node_id);

		d->drain_due = d->evac_due = true;
		if (ev->old_state != ev->new_state)
			log_info("cluster: node %s: %s -> %s%s%s", dm_node_name(d, ev->node_id),
				 cl_admin_name(ev->old_state), cl_admin_name(ev->new_state),
				 a.reason[0] ? ": " : "", a.reason);
		else if (a.reason[0])
			log_warn("cluster: drain of %s: %s%s", dm_node_name(d, ev->node_id),
				 a.blocked ? "blocked: " : "", a.reason);
		/* a drain of ours ended (aborted, undrained, restarted): stop its migrations */
		if (ev->node_id == d->local_id && ev->old_state == CLM_ADMIN_DRAINING && ev->mig_id &&
		    ev->mig_id != a.drain)
			abort_local(d, ev->mig_id, 0,
				    a.state == CLM_ADMIN_NONE ? "the drain was aborted"
							      : "the drain was restarted");
		break;
	}
	case CL_EV_QUORUM:
		d->drain_due = d->evac_due = true;
		if (ev->new_state)
			log_info("quorum: quorate");
		else
			log_warn("quorum: not quorate: this partition acts on nothing");
		break;
	case CL_EV_MIGRATION: {
		const struct cl_migration *m = cl_cluster_migration(d->cluster, ev->mig_id);
		if (m)
			log_info("migration of %s from %s to %s: %s%s%s", m->name, dm_node_name(d, m->source),
				 dm_node_name(d, m->target), cl_mig_state_name(ev->new_state),
				 m->reason[0] ? ": " : "", m->reason);
		break;
	}
	case CL_EV_BAD_MESSAGE:
		i = cfg_node_by_id(d->cfg, ev->node_id);
		if (i < 0 || d->bad_logged[i] == 0 || ev->now - d->bad_logged[i] >= BAD_MESSAGE_LOG_USEC) {
			log_warn("cluster: message from node %u rejected: %s", ev->node_id, ev->reason);
			if (i >= 0)
				d->bad_logged[i] = ev->now ? ev->now : 1;
		}
		break;
	}
}

/* ---- control socket ---- */

static struct cl_status_src status_src(struct cl_daemon *d)
{
	usec_t now = ev_loop_now(d->loop);

	refresh_local_view(d, now);
	return (struct cl_status_src){
		.cfg = d->cfg, .cluster = d->cluster, .mon = d->mon, .local_id = d->local_id, .now = now};
}

#define READ_HANDLER(fn, builder)                                                                            \
	static int fn(void *ud, const struct ctl_request *req, struct json_object **ret_data,                \
		      const char **ret_code, char *msg, size_t msglen)                                       \
	{                                                                                                    \
		struct cl_status_src src = status_src(ud);                                                   \
		*ret_data = builder(&src);                                                                   \
		return 0;                                                                                    \
	}
READ_HANDLER(ctl_status, cl_status_all)
READ_HANDLER(ctl_nodes, cl_status_nodes)
READ_HANDLER(ctl_quorum, cl_status_quorum)
READ_HANDLER(ctl_links, cl_status_links)
READ_HANDLER(ctl_vms, cl_status_vms)
READ_HANDLER(ctl_migrations, cl_status_migrations)

static int fail_req(const char **ret_code, const char *code, char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fail_req(const char **ret_code, const char *code, char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	*ret_code = code;
	return -1;
}

/* {"cmd":"migrate","vm":NAME,"node":TARGET}: checked against the replicated
 * state, then multicast; every node adds it in the same order and the
 * source runs it when the limits admit it (reply: the migration, queued or
 * requested; follow it with "migrations"). */
static int ctl_migrate(void *ud, const struct ctl_request *req, struct json_object **ret_data,
		       const char **ret_code, char *msg, size_t msglen)
{
	struct cl_daemon *d = ud;
	struct json_object *jvm, *jnode;
	const char *vm, *target;
	struct clm_migrate m = {.sender = d->local_id};
	const struct cl_migration *migs;
	const char *why;
	size_t found = 0, n;
	int t, r;

	if (!json_object_object_get_ex(req->args, "vm", &jvm) ||
	    !json_object_is_type(jvm, json_type_string) ||
	    !json_object_object_get_ex(req->args, "node", &jnode) ||
	    !json_object_is_type(jnode, json_type_string))
		return fail_req(ret_code, CTL_EINVAL, msg, msglen,
				"migrate needs \"vm\" and \"node\" (strings)");
	vm = json_object_get_string(jvm);
	target = json_object_get_string(jnode);
	if (!cl_cluster_is_quorate(d->cluster))
		return fail_req(ret_code, CTL_ENOTQUORATE, msg, msglen,
				"this partition is not quorate: nothing is moved");
	t = cfg_node_by_name(d->cfg, target);
	if (t < 0)
		return fail_req(ret_code, CTL_EINVAL, msg, msglen, "no node named '%s'", target);
	for (size_t i = 0; i < d->cfg->n_nodes; i++) {
		const struct clm_vm *vms;
		bool up, known;

		if (cl_cluster_inventory(d->cluster, d->cfg->nodes[i].id, &vms, &n, &up, &known) < 0)
			continue;
		for (size_t k = 0; k < n; k++)
			if (strcmp(vms[k].name, vm) == 0 && vms[k].state == CLM_VM_RUNNING) {
				found++;
				m.source = d->cfg->nodes[i].id;
				memcpy(m.uuid, vms[k].uuid, sizeof(m.uuid));
			}
	}
	if (found == 0)
		return fail_req(ret_code, CTL_EINVAL, msg, msglen,
				"no VM named '%s' is running in the cluster", vm);
	if (found > 1)
		return fail_req(ret_code, CTL_EINVAL, msg, msglen,
				"VM '%s' is running on more than one node: not moving it", vm);
	m.target = d->cfg->nodes[t].id;
	if (m.target == m.source)
		return fail_req(ret_code, CTL_EINVAL, msg, msglen, "VM '%s' already runs on %s", vm, target);
	if (!drain_target_ok(d->cluster, d->cfg, m.source, m.target, &why))
		return fail_req(ret_code, CTL_EINVAL, msg, msglen, "node %s takes no VMs now: %s", target,
				why);
	n = cl_cluster_migrations(d->cluster, &migs);
	for (size_t i = 0; i < n; i++)
		if (strcmp(migs[i].uuid, m.uuid) == 0 &&
		    (migs[i].state == CLM_MIG_REQUESTED || migs[i].state == CLM_MIG_RUNNING))
			return fail_req(ret_code, CTL_EINVAL, msg, msglen,
					"VM '%s' is already being migrated (to %s)", vm,
					dm_node_name(d, migs[i].target));
	/* sent from here, not in the table yet: the same answer */
	if (d->sent_id && strcmp(d->sent_uuid, m.uuid) == 0 &&
	    !cl_cluster_migration(d->cluster, d->sent_id) && time_now_usec() - d->sent_at < SENT_PENDING_USEC)
		return fail_req(
			ret_code, CTL_EINVAL, msg, msglen,
			"VM '%s' is already being migrated (requested %.1f s ago, not yet in the table)", vm,
			(double)(time_now_usec() - d->sent_at) / USEC_PER_SEC);
	snprintf(m.name, sizeof(m.name), "%s", vm);
	r = dm_send_migrate(d, &m);
	if (r < 0)
		return fail_req(ret_code, CTL_EIO, msg, msglen, "cannot send the request: %s", strerror(-r));
	d->sent_id = m.id;
	memcpy(d->sent_uuid, m.uuid, sizeof(d->sent_uuid));
	d->sent_at = time_now_usec();
	*ret_data = json_object_new_object();
	{
		char id[24];
		snprintf(id, sizeof(id), "%llx", (unsigned long long)m.id);
		json_object_object_add(*ret_data, "id", json_object_new_string(id));
	}
	json_object_object_add(*ret_data, "vm", json_object_new_string(vm));
	json_object_object_add(*ret_data, "source", json_object_new_string(dm_node_name(d, m.source)));
	json_object_object_add(*ret_data, "target", json_object_new_string(target));
	json_object_object_add(*ret_data, "state", json_object_new_string("requested"));
	log_info("migration of %s from %s to %s requested by uid %u", vm, dm_node_name(d, m.source), target,
		 (unsigned)req->uid);
	return 0;
}

/* A new version for an admin's request: later than what this node has
 * seen for the node (clocks may differ between nodes), and far above the
 * coordinator's +1 steps so neither can collide with the other. */
static uint64_t admin_version(const struct cl_admin *a)
{
	uint64_t v = (uint64_t)time_real_usec(), floor = a->version + (1u << 20);

	return v > floor ? v : floor;
}

static int node_arg(struct cl_daemon *d, const struct ctl_request *req, const char *cmd, int *ret_idx,
		    const char **ret_code, char *msg, size_t msglen)
{
	struct json_object *j;
	const char *name;

	if (!json_object_object_get_ex(req->args, "node", &j) || !json_object_is_type(j, json_type_string))
		return fail_req(ret_code, CTL_EINVAL, msg, msglen, "%s needs \"node\" (a string)", cmd);
	name = json_object_get_string(j);
	*ret_idx = cfg_node_by_name(d->cfg, name);
	if (*ret_idx < 0)
		return fail_req(ret_code, CTL_EINVAL, msg, msglen, "no node named '%s'", name);
	if (!cl_cluster_is_quorate(d->cluster))
		return fail_req(ret_code, CTL_ENOTQUORATE, msg, msglen,
				"this partition is not quorate: nothing is changed");
	return 0;
}

static size_t running_vms(struct cl_daemon *d, uint32_t node)
{
	const struct clm_vm *vms;
	size_t n, count = 0;
	bool up, known;

	if (cl_cluster_inventory(d->cluster, node, &vms, &n, &up, &known) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		count += vms[i].state == CLM_VM_RUNNING || vms[i].state == CLM_VM_PAUSED;
	return count;
}

static struct json_object *admin_reply(struct cl_daemon *d, uint32_t node, const char *state, uint64_t drain)
{
	struct json_object *o = json_object_new_object();
	char id[24];

	json_object_object_add(o, "node", json_object_new_string(dm_node_name(d, node)));
	json_object_object_add(o, "admin", json_object_new_string(state));
	if (drain) {
		snprintf(id, sizeof(id), "%llx", (unsigned long long)drain);
		json_object_object_add(o, "drain", json_object_new_string(id));
	}
	return o;
}

/* {"cmd":"drain","node":N[,"abort":true]}: N becomes DRAINING (applied in
 * CPG order everywhere); the coordinator then moves its VMs. Draining a
 * node that is draining already is a no-op, unless its drain is blocked:
 * then it starts over (each VM gets its two attempts again). abort: back
 * to NONE; queued migrations are dropped, running ones aborted. */
static int ctl_drain(void *ud, const struct ctl_request *req, struct json_object **ret_data,
		     const char **ret_code, char *msg, size_t msglen)
{
	struct cl_daemon *d = ud;
	struct json_object *j;
	bool abort_it = json_object_object_get_ex(req->args, "abort", &j) && json_object_get_boolean(j);
	struct clm_admin_msg m = {.sender = d->local_id};
	struct cl_admin a;
	enum cl_node_state st;
	uint8_t buf[CLM_ADMIN_LEN];
	int x, len, r;

	if (node_arg(d, req, "drain", &x, ret_code, msg, msglen) < 0)
		return -1;
	m.node = d->cfg->nodes[x].id;
	a = cl_cluster_admin(d->cluster, m.node);
	st = cl_cluster_node_state(d->cluster, m.node);
	m.version = admin_version(&a);
	if (abort_it) {
		if (a.state != CLM_ADMIN_DRAINING)
			return fail_req(ret_code, CTL_EINVAL, msg, msglen,
					"node %s is not draining (it is %s)", d->cfg->nodes[x].name,
					cl_admin_name(a.state));
		m.state = CLM_ADMIN_NONE;
		m.flags = CLM_ADM_ABORT;
		snprintf(m.reason, sizeof(m.reason), "drain aborted by uid %u", (unsigned)req->uid);
	} else {
		if (a.state == CLM_ADMIN_DRAINED || (a.state == CLM_ADMIN_DRAINING && !a.blocked)) {
			*ret_data = admin_reply(d, m.node, cl_admin_name(a.state), a.drain);
			json_object_object_add(*ret_data, "already", json_object_new_boolean(true));
			return 0;
		}
		if (st != CL_NODE_ONLINE && st != CL_NODE_DEGRADED)
			return fail_req(ret_code, CTL_EINVAL, msg, msglen,
					"node %s is %s: only a live node can be drained (a failed one is "
					"evacuated)",
					d->cfg->nodes[x].name, cl_node_state_name(st));
		if (running_vms(d, m.node) > 0) {
			char why[CLM_REASON_MAX] = "";
			size_t ok = 0, off = 0;

			for (size_t i = 0; i < d->cfg->n_nodes; i++) {
				const char *w = "";

				if (drain_target_ok(d->cluster, d->cfg, m.node, d->cfg->nodes[i].id, &w))
					ok++;
				else if (d->cfg->nodes[i].id != m.node && off < sizeof(why) - 1)
					off += (size_t)snprintf(why + off, sizeof(why) - off, "%s%s: %s",
								off ? "; " : "", d->cfg->nodes[i].name, w);
			}
			if (ok == 0)
				return fail_req(ret_code, CTL_EINVAL, msg, msglen,
						"no other node can take %s's VMs (%s): nothing is moved",
						d->cfg->nodes[x].name, why);
		}
		m.state = CLM_ADMIN_DRAINING;
		m.drain = m.version;
	}
	len = clm_encode_admin(&m, buf, sizeof(buf));
	r = len < 0 ? len : dm_multicast(d, buf, (size_t)len);
	if (r < 0)
		return fail_req(ret_code, CTL_EIO, msg, msglen, "cannot send the request: %s", strerror(-r));
	log_info("%s of %s requested by uid %u", abort_it ? "abort of the drain" : "drain",
		 d->cfg->nodes[x].name, (unsigned)req->uid);
	*ret_data = admin_reply(d, m.node, abort_it ? "none" : "draining", m.drain);
	return 0;
}

/* {"cmd":"undrain","node":N}: a DRAINED node takes VMs again (they stay
 * where they are). A draining one must be aborted (drain --abort). */
static int ctl_undrain(void *ud, const struct ctl_request *req, struct json_object **ret_data,
		       const char **ret_code, char *msg, size_t msglen)
{
	struct cl_daemon *d = ud;
	struct clm_admin_msg m = {.sender = d->local_id};
	struct cl_admin a;
	uint8_t buf[CLM_ADMIN_LEN];
	int x, len, r;

	if (node_arg(d, req, "undrain", &x, ret_code, msg, msglen) < 0)
		return -1;
	m.node = d->cfg->nodes[x].id;
	a = cl_cluster_admin(d->cluster, m.node);
	if (a.state == CLM_ADMIN_NONE) {
		*ret_data = admin_reply(d, m.node, "none", 0);
		json_object_object_add(*ret_data, "already", json_object_new_boolean(true));
		return 0;
	}
	if (a.state == CLM_ADMIN_DRAINING)
		return fail_req(ret_code, CTL_EINVAL, msg, msglen,
				"node %s is still draining: stop it with 'drain --abort %s'",
				d->cfg->nodes[x].name, d->cfg->nodes[x].name);
	m.version = admin_version(&a);
	m.state = CLM_ADMIN_NONE;
	len = clm_encode_admin(&m, buf, sizeof(buf));
	r = len < 0 ? len : dm_multicast(d, buf, (size_t)len);
	if (r < 0)
		return fail_req(ret_code, CTL_EIO, msg, msglen, "cannot send the request: %s", strerror(-r));
	log_info("undrain of %s requested by uid %u", d->cfg->nodes[x].name, (unsigned)req->uid);
	*ret_data = admin_reply(d, m.node, "none", 0);
	return 0;
}

/* ---- the HA registry: `ha add|remove` ---- */

struct ha_fetch {
	struct cl_daemon *d;
	struct mig_exec *exec;
	struct ha_msg m; /* the SET to send once the XML is here */
	char path[4200];
};

static struct ha_result *ha_result(struct cl_daemon *d, const char *name, bool create)
{
	size_t n = d->n_ha_results < 16 ? d->n_ha_results : 16;

	for (size_t i = 0; i < n; i++)
		if (strcmp(d->ha_results[i].name, name) == 0)
			return &d->ha_results[i];
	if (!create)
		return NULL;
	{
		struct ha_result *r = &d->ha_results[d->n_ha_results++ % 16];
		*r = (struct ha_result){0};
		snprintf(r->name, sizeof(r->name), "%s", name);
		return r;
	}
}

/* LWW versions: later than anything seen for the VM and than our clock,
 * with our node id in the low byte so two nodes never write the same one. */
static uint64_t ha_version(struct cl_daemon *d, const char *uuid)
{
	uint64_t seen = ha_registry_version(cl_cluster_ha(d->cluster), uuid) >> 8,
		 now = (uint64_t)time_real_usec();

	return (now > seen ? now : seen + 1) << 8 | (d->local_id & 0xff);
}

static void ha_fetched(void *ud, bool ok, const char *msg, usec_t now)
{
	struct ha_fetch *f = ud;
	struct cl_daemon *d = f->d;
	struct ha_result *res = ha_result(d, f->m.vm.name, true);
	FILE *in = NULL;
	long len = -1;

	if (ok && (in = fopen(f->path, "re")) && fseek(in, 0, SEEK_END) == 0 && (len = ftell(in)) > 0 &&
	    len <= HA_XML_MAX && fseek(in, 0, SEEK_SET) == 0 && (f->m.vm.xml = calloc(1, (size_t)len + 1)) &&
	    fread(f->m.vm.xml, 1, (size_t)len, in) == (size_t)len) {
		f->m.vm.version = ha_version(d, f->m.vm.uuid);
		send_ha(d, &f->m);
		snprintf(res->state, sizeof(res->state), "done");
		res->error[0] = '\0';
	} else {
		snprintf(res->state, sizeof(res->state), "failed");
		snprintf(res->error, sizeof(res->error), "%s",
			 !ok                ? msg
			 : len > HA_XML_MAX ? "the domain XML is larger than 256 KiB"
					    : "cannot read the fetched domain XML");
		log_warn("ha: %s not added: %s", f->m.vm.name, res->error);
	}
	if (in)
		fclose(in);
	unlink(f->path);
	for (size_t i = 0; i < 8; i++)
		if (d->fetch[i] == f)
			d->fetch[i] = NULL;
	ha_msg_clear(&f->m);
	mig_exec_free(f->exec);
	free(f);
}

/* "n2,n3" -> node ids; -1 and msg on a bad name or too many. */
static int node_list(struct cl_daemon *d, struct json_object *arr, uint32_t *ids, const char *what,
		     const char **ret_code, char *msg, size_t msglen)
{
	size_t n = arr ? json_object_array_length(arr) : 0;

	if (arr && !json_object_is_type(arr, json_type_array))
		return fail_req(ret_code, CTL_EINVAL, msg, msglen, "%s must be a list of node names", what);
	if (n > HA_NODES_MAX)
		return fail_req(ret_code, CTL_EINVAL, msg, msglen, "at most %d %s nodes", HA_NODES_MAX, what);
	for (size_t i = 0; i < n; i++) {
		const char *name = json_object_get_string(json_object_array_get_idx(arr, i));
		int x = name ? cfg_node_by_name(d->cfg, name) : -1;

		if (x < 0)
			return fail_req(ret_code, CTL_EINVAL, msg, msglen, "%s: no node named '%s'", what,
					name ? name : "?");
		for (size_t k = 0; k < i; k++)
			if (ids[k] == d->cfg->nodes[x].id)
				return fail_req(ret_code, CTL_EINVAL, msg, msglen, "%s: %s twice", what,
						name);
		ids[i] = d->cfg->nodes[x].id;
	}
	return 0;
}

/* {"cmd":"ha","op":"add"|"remove","vm":NAME[,"priority":N,"prefer":[…],
 * "forbid":[…]]}. add fetches the domain's XML from the node it is on (a
 * child process: libvirt calls never block the loop) and then multicasts
 * the entry; the reply says "fetching": follow it with ha-result. */
static int ctl_ha(void *ud, const struct ctl_request *req, struct json_object **ret_data,
		  const char **ret_code, char *msg, size_t msglen)
{
	struct cl_daemon *d = ud;
	struct json_object *jop, *jvm, *j;
	const char *op, *vm;
	const struct ha_vm *cur;

	if (!json_object_object_get_ex(req->args, "op", &jop) ||
	    !json_object_is_type(jop, json_type_string) ||
	    !json_object_object_get_ex(req->args, "vm", &jvm) || !json_object_is_type(jvm, json_type_string))
		return fail_req(ret_code, CTL_EINVAL, msg, msglen, "ha needs \"op\" and \"vm\" (strings)");
	op = json_object_get_string(jop);
	vm = json_object_get_string(jvm);
	if (strcmp(op, "add") != 0 && strcmp(op, "remove") != 0)
		return fail_req(ret_code, CTL_EINVAL, msg, msglen, "ha: op is add or remove, not '%s'", op);
	if (!*vm || strlen(vm) >= HA_NAME_MAX)
		return fail_req(ret_code, CTL_EINVAL, msg, msglen, "ha: a VM name of 1..%d characters",
				HA_NAME_MAX - 1);
	if (!cl_cluster_is_quorate(d->cluster))
		return fail_req(ret_code, CTL_ENOTQUORATE, msg, msglen,
				"this partition is not quorate: nothing is changed");
	cur = ha_registry_find_by_name(cl_cluster_ha(d->cluster), vm);
	if (strcmp(op, "remove") == 0) {
		struct ha_msg m = {.op = HA_OP_REMOVE};

		if (!cur)
			return fail_req(ret_code, CTL_EINVAL, msg, msglen, "VM '%s' is not HA", vm);
		memcpy(m.vm.uuid, cur->uuid, sizeof(m.vm.uuid));
		memcpy(m.vm.name, cur->name, sizeof(m.vm.name));
		m.vm.version = ha_version(d, cur->uuid);
		send_ha(d, &m);
		log_info("ha: removal of %s requested by uid %u", vm, (unsigned)req->uid);
		*ret_data = json_object_new_object();
		json_object_object_add(*ret_data, "vm", json_object_new_string(vm));
		json_object_object_add(*ret_data, "state", json_object_new_string("removed"));
		return 0;
	}
	{
		struct ha_fetch *f;
		const struct clm_vm *found = NULL;
		uint32_t owner = 0;
		size_t slot, count = 0;
		char helper[4200], uri[1200];
		int r;

		for (size_t i = 0; i < d->cfg->n_nodes; i++) {
			const struct clm_vm *vms;
			size_t n;
			bool up, known;

			if (cl_cluster_inventory(d->cluster, d->cfg->nodes[i].id, &vms, &n, &up, &known) < 0)
				continue;
			for (size_t k = 0; k < n; k++)
				if (strcmp(vms[k].name, vm) == 0) {
					found = &vms[k];
					owner = d->cfg->nodes[i].id;
					count++;
				}
		}
		if (!found)
			return fail_req(ret_code, CTL_EINVAL, msg, msglen, "no VM named '%s' in the cluster",
					vm);
		if (count > 1)
			return fail_req(ret_code, CTL_EINVAL, msg, msglen,
					"VM '%s' is defined on more than one node: not adding it", vm);
		for (slot = 0; slot < 8 && d->fetch[slot]; slot++)
			;
		if (slot == 8)
			return fail_req(ret_code, CTL_EIO, msg, msglen, "too many ha add requests at once");
		f = calloc(1, sizeof(*f));
		if (!f)
			return fail_req(ret_code, CTL_EIO, msg, msglen, "out of memory");
		f->d = d;
		f->m.op = HA_OP_SET;
		memcpy(f->m.vm.uuid, found->uuid, sizeof(f->m.vm.uuid));
		snprintf(f->m.vm.name, sizeof(f->m.vm.name), "%s", vm);
		if (json_object_object_get_ex(req->args, "priority", &j)) {
			if (!json_object_is_type(j, json_type_int) || json_object_get_int64(j) < -1000 ||
			    json_object_get_int64(j) > 1000) {
				free(f);
				return fail_req(ret_code, CTL_EINVAL, msg, msglen,
						"priority: an integer in -1000..1000");
			}
			f->m.vm.priority = (int32_t)json_object_get_int64(j);
		} else if (cur) {
			f->m.vm.priority = cur->priority;
		}
		if (node_list(d, json_object_object_get_ex(req->args, "prefer", &j) ? j : NULL,
			      f->m.vm.preferred, "prefer", ret_code, msg, msglen) < 0 ||
		    node_list(d, json_object_object_get_ex(req->args, "forbid", &j) ? j : NULL,
			      f->m.vm.forbidden, "forbid", ret_code, msg, msglen) < 0) {
			free(f);
			return -1;
		}
		for (size_t a = 0; a < HA_NODES_MAX && f->m.vm.preferred[a]; a++)
			for (size_t b = 0; b < HA_NODES_MAX && f->m.vm.forbidden[b]; b++)
				if (f->m.vm.preferred[a] == f->m.vm.forbidden[b]) {
					uint32_t both = f->m.vm.preferred[a];

					free(f);
					return fail_req(ret_code, CTL_EINVAL, msg, msglen,
							"node %s is both preferred and forbidden",
							dm_node_name(d, both));
				}
		if (dm_node_libvirt_uri(d, owner, true, uri, sizeof(uri)) < 0) {
			free(f);
			return fail_req(ret_code, CTL_EINVAL, msg, msglen,
					"%s has no management address to fetch the XML from",
					dm_node_name(d, owner));
		}
		snprintf(f->path, sizeof(f->path), "%s/ha-fetch.%u.%zu.xml", d->cfg->state_dir,
			 (unsigned)getpid(), slot);
		dm_sibling_path("clusterd-virt", helper, sizeof(helper));
		{
			char *argv[] = {helper,       (char *)"--dumpxml", uri,
					f->m.vm.uuid, (char *)"--to",      f->path,
					NULL};
			r = mig_exec_start(d->loop, argv, ha_fetched, f, &f->exec);
		}
		if (r < 0) {
			free(f);
			return fail_req(ret_code, CTL_EIO, msg, msglen, "cannot start %s: %s", helper,
					strerror(-r));
		}
		d->fetch[slot] = f;
		{
			struct ha_result *res = ha_result(d, vm, true);
			snprintf(res->state, sizeof(res->state), "fetching");
			res->error[0] = '\0';
		}
		log_info("ha: adding %s (on %s) requested by uid %u", vm, dm_node_name(d, owner),
			 (unsigned)req->uid);
		*ret_data = json_object_new_object();
		json_object_object_add(*ret_data, "vm", json_object_new_string(vm));
		json_object_object_add(*ret_data, "node", json_object_new_string(dm_node_name(d, owner)));
		json_object_object_add(*ret_data, "state", json_object_new_string("fetching"));
		return 0;
	}
}

/* {"cmd":"ha-result","vm":NAME}: how this node's last `ha` request for the
 * VM went: fetching, done (multicast), failed (error), or unknown. */
static int ctl_ha_result(void *ud, const struct ctl_request *req, struct json_object **ret_data,
			 const char **ret_code, char *msg, size_t msglen)
{
	struct cl_daemon *d = ud;
	struct json_object *jvm;
	struct ha_result *res;
	const struct ha_vm *e;

	if (!json_object_object_get_ex(req->args, "vm", &jvm) || !json_object_is_type(jvm, json_type_string))
		return fail_req(ret_code, CTL_EINVAL, msg, msglen, "ha-result needs \"vm\" (a string)");
	res = ha_result(d, json_object_get_string(jvm), false);
	e = ha_registry_find_by_name(cl_cluster_ha(d->cluster), json_object_get_string(jvm));
	*ret_data = json_object_new_object();
	json_object_object_add(*ret_data, "vm", json_object_new_string(json_object_get_string(jvm)));
	json_object_object_add(*ret_data, "state", json_object_new_string(res ? res->state : "unknown"));
	json_object_object_add(*ret_data, "error",
			       res && res->error[0] ? json_object_new_string(res->error) : NULL);
	json_object_object_add(*ret_data, "ha", json_object_new_boolean(e != NULL));
	return 0;
}

/* The drain planner's per-VM wishes, from the HA registry. */
static void ha_prefs(void *ud, const char *uuid, struct mig_vm *vm)
{
	struct cl_daemon *d = ud;
	const struct ha_vm *e = ha_registry_find(cl_cluster_ha(d->cluster), uuid);

	if (!e)
		return;
	vm->priority = e->priority;
	for (size_t i = 0; i < HA_NODES_MAX && i < MIG_MAX_PREFS; i++) {
		vm->preferred[i] = e->preferred[i];
		vm->forbidden[i] = e->forbidden[i];
	}
}

/* The state directory (0700: the registry holds domain XML) and the
 * registry saved there. A registry file that does not parse is set aside,
 * never overwritten, and the others' copies fill ours in. */
static int setup_state(struct cl_daemon *d)
{
	const char *dir = d->cfg->state_dir;
	int r;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_err("state: cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	r = ha_registry_load(cl_cluster_ha(d->cluster), dir);
	if (r == -EBADMSG) {
		char from[4200], to[4300];

		snprintf(from, sizeof(from), "%s/%s", dir, HA_REGISTRY_FILE);
		snprintf(to, sizeof(to), "%s.corrupt.%lld", from,
			 (long long)(time_real_usec() / USEC_PER_SEC));
		log_err("ha: %s is not a valid registry: set aside as %s; the cluster's copy will replace it",
			from, to);
		if (rename(from, to) < 0)
			log_err("ha: cannot set %s aside: %s", from, strerror(errno));
	} else if (r < 0) {
		log_err("ha: cannot load the registry from %s: %s", dir, strerror(-r));
		return r;
	} else {
		log_info("ha: %zu HA VMs in %s/%s", ha_registry_count(cl_cluster_ha(d->cluster)), dir,
			 HA_REGISTRY_FILE);
	}
	return 0;
}

/* {"cmd":"fence","node":N,"confirm":true}: an administrator declares an
 * absent node off (it was powered off by hand): its HA VMs may be restarted.
 * Refused for a member (it is alive) and without confirm. */
static int ctl_fence(void *ud, const struct ctl_request *req, struct json_object **ret_data,
		     const char **ret_code, char *msg, size_t msglen)
{
	struct cl_daemon *d = ud;
	struct json_object *j;
	struct cl_fence f;
	char why[CLM_REASON_MAX];
	int x, r;

	if (node_arg(d, req, "fence", &x, ret_code, msg, msglen) < 0)
		return -1;
	if (!json_object_object_get_ex(req->args, "confirm", &j) || !json_object_get_boolean(j))
		return fail_req(ret_code, CTL_EINVAL, msg, msglen,
				"fence needs --confirm: you state that %s is powered off and runs nothing",
				d->cfg->nodes[x].name);
	if (cl_cluster_is_member(d->cluster, d->cfg->nodes[x].id))
		return fail_req(ret_code, CTL_EINVAL, msg, msglen,
				"node %s is a member: it is running, not fenced", d->cfg->nodes[x].name);
	f = cl_cluster_fence(d->cluster, d->cfg->nodes[x].id);
	snprintf(why, sizeof(why), "confirmed off by uid %u", (unsigned)req->uid);
	r = dm_send_fence(d, d->cfg->nodes[x].id, CLM_FENCED_ADMIN, f.version + 1, why);
	if (r < 0)
		return fail_req(ret_code, CTL_EIO, msg, msglen, "cannot send the request: %s", strerror(-r));
	log_warn("fence: %s confirmed off by uid %u", d->cfg->nodes[x].name, (unsigned)req->uid);
	*ret_data = json_object_new_object();
	json_object_object_add(*ret_data, "node", json_object_new_string(d->cfg->nodes[x].name));
	json_object_object_add(*ret_data, "fenced", json_object_new_boolean(true));
	return 0;
}

/* {"cmd":"quarantine","op":"clear","node":N}: end a quarantine early. */
static int ctl_quarantine(void *ud, const struct ctl_request *req, struct json_object **ret_data,
			  const char **ret_code, char *msg, size_t msglen)
{
	struct cl_daemon *d = ud;
	struct json_object *j;
	struct clm_admin_msg m = {.sender = d->local_id, .state = CLM_ADMIN_NONE};
	struct cl_admin a;
	uint8_t buf[CLM_ADMIN_LEN];
	int x, len, r;

	if (!json_object_object_get_ex(req->args, "op", &j) || !json_object_is_type(j, json_type_string) ||
	    strcmp(json_object_get_string(j), "clear") != 0)
		return fail_req(ret_code, CTL_EINVAL, msg, msglen, "quarantine: op must be \"clear\"");
	if (node_arg(d, req, "quarantine", &x, ret_code, msg, msglen) < 0)
		return -1;
	m.node = d->cfg->nodes[x].id;
	a = cl_cluster_admin(d->cluster, m.node);
	if (a.state != CLM_ADMIN_QUARANTINED)
		return fail_req(ret_code, CTL_EINVAL, msg, msglen, "node %s is not quarantined (it is %s)",
				d->cfg->nodes[x].name, cl_admin_name(a.state));
	m.version = admin_version(&a);
	snprintf(m.reason, sizeof(m.reason), "quarantine cleared by uid %u", (unsigned)req->uid);
	len = clm_encode_admin(&m, buf, sizeof(buf));
	r = len < 0 ? len : dm_multicast(d, buf, (size_t)len);
	if (r < 0)
		return fail_req(ret_code, CTL_EIO, msg, msglen, "cannot send the request: %s", strerror(-r));
	log_info("quarantine of %s cleared by uid %u", d->cfg->nodes[x].name, (unsigned)req->uid);
	*ret_data = admin_reply(d, m.node, "none", 0);
	return 0;
}

/* {"cmd":"evacuation"}: what the coordinator's failure policy waits for
 * (answered by any node; only the coordinator's has content). */
static int ctl_evacuation(void *ud, const struct ctl_request *req, struct json_object **ret_data,
			  const char **ret_code, char *msg, size_t msglen)
{
	struct cl_daemon *d = ud;
	const struct evac_node_status *st;
	size_t n = evac_status(d->evac, &st);
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(
			o, "node", st[i].node ? json_object_new_string(dm_node_name(d, st[i].node)) : NULL);
		json_object_object_add(o, "text", json_object_new_string(st[i].text));
		json_object_array_add(a, o);
	}
	*ret_data = json_object_new_object();
	json_object_object_add(*ret_data, "coordinator",
			       json_object_new_boolean(cl_cluster_coordinator(d->cluster) == d->local_id));
	json_object_object_add(*ret_data, "status", a);
	return 0;
}

static const struct ctl_command commands[] = {
	{"status", CTL_READ, ctl_status},
	{"nodes", CTL_READ, ctl_nodes},
	{"quorum", CTL_READ, ctl_quorum},
	{"links", CTL_READ, ctl_links},
	{"vms", CTL_READ, ctl_vms},
	{"migrations", CTL_READ, ctl_migrations},
	{"migrate", CTL_CHANGE, ctl_migrate},
	{"drain", CTL_CHANGE, ctl_drain},
	{"undrain", CTL_CHANGE, ctl_undrain},
	{"ha", CTL_CHANGE, ctl_ha},
	{"ha-result", CTL_READ, ctl_ha_result},
	{"fence", CTL_CHANGE, ctl_fence},
	{"quarantine", CTL_CHANGE, ctl_quarantine},
	{"evacuation", CTL_READ, ctl_evacuation},
	{NULL, CTL_READ, NULL},
};

static int group_id(const char *name, const char *key, gid_t *ret_gid)
{
	struct group gr, *res = NULL;
	char buf[4096];
	int r = getgrnam_r(name, &gr, buf, sizeof(buf), &res);

	if (r != 0 || !res) {
		log_err("%s: group '%s' does not exist on this host", key, name);
		return -ENOENT;
	}
	*ret_gid = res->gr_gid;
	return 0;
}

/* ---- libvirt, through the clusterd-virt helper ---- */

static void on_inventory(void *ud, const struct clm_vm *vms, size_t n, bool up, const struct vlink_host *host,
			 const char *why, usec_t now)
{
	struct cl_daemon *d = ud;

	if (up != d->virt_up_logged || n != d->n_vms_logged)
		log_info("libvirt: %s, %zu domains on this node", up ? "connected" : "not connected", n);
	d->virt_up_logged = up;
	d->n_vms_logged = n;
	for (size_t i = 0; i < host->n_prepared; i++) {
		bool known = false;

		for (size_t k = 0; k < d->prep.n && !known; k++)
			known = strcmp(d->prep.c[k].uuid, host->prepared[i].uuid) == 0;
		if (!known)
			log_info("evacuation: a prepared copy of %s is here (paused)",
				 host->prepared[i].name);
	}
	prep_update(&d->prep, host->prepared, host->n_prepared, now);
	cl_cluster_local_inventory(d->cluster, vms, n, up, host->free_kib, host->cpus, now);
	d->drain_due = d->evac_due = true;
}

static int setup_virt(struct cl_daemon *d)
{
	char helper[4200];
	int r;

	dm_sibling_path("clusterd-virt", helper, sizeof(helper));
	r = vlink_new(d->loop, helper, d->cfg->libvirt_uri, on_inventory, d, &d->virt);
	if (r < 0)
		log_err("libvirt: cannot start %s: %s", helper, strerror(-r));
	return r;
}

static int setup_cluster(struct cl_daemon *d)
{
	static const struct cs_callbacks cbs = {
		.connected = cs_connected,
		.disconnected = cs_disconnected,
		.membership = cs_membership,
		.quorum = cs_quorum,
		.message = cs_message,
	};
	char group[128];
	gid_t read_gid, admin_gid;
	int r;

	r = cl_cluster_new(d->cfg, d->local_id, &d->cluster);
	if (r < 0)
		return r;
	cl_cluster_set_event_cb(d->cluster, on_cluster_event, d);
	snprintf(group, sizeof(group), "clusterd:%s", d->cfg->cluster_name);
	r = cs_client_new(d->loop, group, &cbs, d, &d->cs);
	if (r < 0) {
		log_err("corosync: cannot start the client: %s", strerror(-r));
		return r;
	}
	r = ev_prepare_add(d->loop, cluster_prepare, d);
	if (r < 0)
		return r;
	if ((r = group_id(d->cfg->control_group, "control.group", &read_gid)) < 0 ||
	    (r = group_id(d->cfg->admin_group, "control.admin_group", &admin_gid)) < 0)
		return r;
	r = ctl_server_new(d->loop, d->cfg->control_socket, read_gid, admin_gid, commands, d, &d->ctl);
	if (r < 0) {
		log_err("control: cannot listen on %s: %s%s", d->cfg->control_socket, strerror(-r),
			r == -EADDRINUSE ? " (another clusterd is running)" : "");
		return r;
	}
	log_info("control: listening on %s", d->cfg->control_socket);
	return 0;
}

static void hb_readable(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now,
			void *userdata)
{
	struct cl_daemon *d = userdata;
	int r = hb_io_recv(d->io, fd, now);

	if (r < 0)
		log_warn("heartbeat: receive failed on fd %d: %s", fd, strerror(-r));
}

int cl_daemon_find_local_node(const struct cfg *cfg, uint32_t *ret_id)
{
	uint32_t found = 0;

	if (cfg->local_id) {
		*ret_id = cfg->local_id;
		return 0;
	}
	for (size_t i = 0; i < cfg->n_nodes; i++)
		for (size_t n = 0; n < cfg->n_networks; n++)
			if (cfg->nodes[i].has_addr[n] && hb_net_addr_is_local(&cfg->nodes[i].addr[n])) {
				if (found && found != cfg->nodes[i].id)
					return -EEXIST;
				found = cfg->nodes[i].id;
			}
	if (!found)
		return -ENOENT;
	*ret_id = found;
	return 0;
}

/* Subnet classification for (local address, peer): by the prefix of the local
 * interface address; if the address is not on an interface (it will fail to
 * bind anyway), by the network's configured subnet holding it. */
static enum hb_class classify(const struct cfg_network *net, const struct hb_addr *local,
			      const struct hb_addr *peer)
{
	unsigned len;

	if (hb_net_local_prefixlen(local, &len) == 0)
		return hb_net_classify(local, len, peer);
	for (size_t s = 0; s < net->n_subnets; s++)
		if (hb_prefix_contains(&net->subnets[s].addr, net->subnets[s].prefixlen, local))
			return hb_net_classify(local, net->subnets[s].prefixlen, peer);
	return HB_CLASS_CROSS_SUBNET;
}

static int setup_heartbeat(struct cl_daemon *d)
{
	const struct cfg *cfg = d->cfg;
	const struct cfg_node *self = &cfg->nodes[d->local_idx];
	struct hb_monitor_params p = {
		.local_id = d->local_id,
		.cluster_id = hb_cluster_id(cfg->cluster_name),
		.incarnation = time_real_usec(),
		.cls[HB_CLASS_SAME_SUBNET] = {cfg->heartbeat.same_subnet_delay_ms,
					      cfg->heartbeat.same_subnet_threshold},
		.cls[HB_CLASS_CROSS_SUBNET] = {cfg->heartbeat.cross_subnet_delay_ms,
					       cfg->heartbeat.cross_subnet_threshold},
		.rise = cfg->heartbeat.rise,
		.history_len = cfg->heartbeat.route_history_length,
	};
	usec_t now = ev_loop_now(d->loop);
	size_t n_links = 0;
	int r;

	r = hb_key_new(cfg->key, cfg->key_len, &d->key);
	if (r < 0) {
		log_err("heartbeat: cluster key from %s unusable: %s", cfg->key_file, strerror(-r));
		return r;
	}
	r = hb_monitor_new(&p, &d->mon);
	if (r < 0) {
		log_err("heartbeat: cannot create the monitor: %s", strerror(-r));
		return r;
	}
	hb_monitor_set_event_cb(d->mon, on_hb_event, d);
	r = hb_io_new(d->mon, d->key, p.cluster_id, &d->io);
	if (r < 0)
		return r;

	for (size_t n = 0; n < cfg->n_networks; n++) {
		const struct cfg_network *net = &cfg->networks[n];
		char la[HB_ADDR_STRLEN], pa[HB_ADDR_STRLEN];
		int fd;

		if (!net->heartbeat || !self->has_addr[n])
			continue;
		fd = hb_io_add_link(d->io, (uint8_t)n, &self->addr[n], cfg->heartbeat.port);
		if (fd < 0) {
			log_err("heartbeat: cannot bind %s:%u on network %s: %s",
				hb_addr_str(&self->addr[n], la, sizeof(la)), cfg->heartbeat.port, net->name,
				strerror(-fd));
			return fd;
		}
		r = ev_io_add(d->loop, fd, EPOLLIN, hb_readable, d, &d->watch[d->n_watch]);
		if (r < 0)
			return r;
		d->n_watch++;
		for (size_t i = 0; i < cfg->n_nodes; i++) {
			const struct cfg_node *peer = &cfg->nodes[i];
			enum hb_class cls;

			if ((int)i == d->local_idx || !peer->has_addr[n])
				continue;
			cls = classify(net, &self->addr[n], &peer->addr[n]);
			r = hb_monitor_add_link(d->mon, peer->id, (uint8_t)n, cls, now);
			if (r >= 0)
				r = hb_io_add_peer(d->io, peer->id, (uint8_t)n, &peer->addr[n],
						   cfg->heartbeat.port);
			if (r < 0) {
				log_err("heartbeat: cannot monitor %s on %s: %s", peer->name, net->name,
					strerror(-r));
				return r;
			}
			log_info("heartbeat: link %s/%s: local %s -> peer %s, %s, every %u ms, down after %u "
				 "missed",
				 peer->name, net->name, hb_addr_str(&self->addr[n], la, sizeof(la)),
				 hb_addr_str(&peer->addr[n], pa, sizeof(pa)), hb_class_name(cls),
				 p.cls[cls].delay_ms, p.cls[cls].threshold);
			n_links++;
		}
	}
	if (n_links == 0)
		log_warn("heartbeat: no peer shares a heartbeat network with %s: nothing to monitor",
			 self->name);
	return ev_prepare_add(d->loop, hb_prepare, d);
}

int cl_daemon_new(struct cfg *cfg, struct ev_loop *loop, struct cl_daemon **ret_daemon)
{
	struct cl_daemon *d;
	int r;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->wd_fd = -1;
	d->cfg = cfg;
	d->loop = loop;
	r = cl_daemon_find_local_node(cfg, &d->local_id);
	if (r == -EEXIST) {
		log_err("%s: addresses of several nodes are configured on this host: set node.id", cfg->path);
		goto fail;
	} else if (r < 0) {
		log_err("%s: no node's address is configured on this host: set node.id or fix "
			"nodes[].addresses",
			cfg->path);
		goto fail;
	}
	d->local_idx = cfg_node_by_id(cfg, d->local_id);
	if (d->local_idx < 0) {
		r = -ENOENT;
		log_err("%s: node.id %u is not in nodes", cfg->path, d->local_id);
		goto fail;
	}
	log_info("clusterd %s: node %s (id %u) of cluster %s, %zu nodes, %zu networks", PACKAGE_VERSION,
		 cfg->nodes[d->local_idx].name, d->local_id, cfg->cluster_name, cfg->n_nodes,
		 cfg->n_networks);
	r = setup_heartbeat(d);
	if (r < 0)
		goto fail;
	r = setup_cluster(d);
	if (r < 0)
		goto fail;
	r = setup_virt(d);
	if (r < 0)
		goto fail;
	r = mw_new(d->loop, d->cfg, d->local_id, d->cluster, &d->mw);
	if (r < 0)
		goto fail;
	r = ev_prepare_add(d->loop, mig_prepare, d);
	if (r < 0)
		goto fail;
	d->drain_out = calloc(1, sizeof(*d->drain_out));
	if (!d->drain_out) {
		r = -ENOMEM;
		goto fail;
	}
	r = drain_planner_new(d->cfg, &d->planner);
	if (r < 0)
		goto fail;
	drain_planner_set_prefs(d->planner, ha_prefs, d);
	d->evac_out = calloc(1, sizeof(*d->evac_out));
	if (!d->evac_out) {
		r = -ENOMEM;
		goto fail;
	}
	r = evac_planner_new(d->cfg, &d->evac);
	if (r < 0)
		goto fail;
	r = ev_prepare_add(d->loop, dm_evac_prepare, d);
	if (r < 0)
		goto fail;
	sf_init(&d->sf, d->cfg->fencing.mode != CFG_FENCE_NONE, d->cfg->fencing.isolation_grace_ms,
		d->cfg->fencing.self_fence_ms, ev_loop_now(d->loop));
	d->sf_destroyed = true;
	r = dm_setup_watchdog(d);
	if (r < 0)
		goto fail;
	r = ev_prepare_add(d->loop, dm_sf_prepare, d);
	if (r < 0)
		goto fail;
	if (d->cfg->fencing.mode == CFG_FENCE_NONE)
		log_warn("fencing: mode none: no self-fencing, and failed nodes' HA VMs are restarted only "
			 "after 'clusterctl fence NODE --confirm'");
	else
		log_info("fencing: %s%s%s; self-fence: HA VMs destroyed %u ms after quorum is lost (grace), "
			 "survivors wait %u ms + margin; guarantee: %s",
			 d->cfg->fencing.mode == CFG_FENCE_AGENT ? "agent " : "self",
			 d->cfg->fencing.mode == CFG_FENCE_AGENT ? d->cfg->fencing.agent : "",
			 d->cfg->fencing.mode == CFG_FENCE_AGENT && d->cfg->fencing.allow_self_fence_fallback
				 ? ", self-fence wait if it fails"
				 : "",
			 d->cfg->fencing.isolation_grace_ms, d->cfg->fencing.self_fence_ms,
			 d->wd_fd >= 0 ? "hardware watchdog (fencing.watchdog)"
				       : "software only (clusterd must be alive to self-fence; no "
					 "fencing.watchdog)");
	r = setup_state(d);
	if (r < 0)
		goto fail;
	r = ev_prepare_add(d->loop, drain_prepare, d);
	if (r < 0)
		goto fail;
	*ret_daemon = d;
	return 0;
fail:
	d->cfg = NULL; /* not ours on failure */
	cl_daemon_free(d);
	return r;
}

void cl_daemon_free(struct cl_daemon *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_lm; i++) {
		/* the migration itself goes on in libvirtd; we stop following it */
		mig_exec_free(d->lm[i]->exec);
		mw_out_free(d->lm[i]->out);
		free(d->lm[i]);
	}
	mw_free(d->mw);
	for (size_t i = 0; i < PREP_MAX_JOBS; i++)
		if (d->prep_job[i]) {
			if (!d->prep_job[i]->destroy)
				unlink(d->prep_job[i]->path);
			mig_exec_free(d->prep_job[i]->exec);
			free(d->prep_job[i]);
		}
	for (size_t i = 0; i < d->n_outq; i++)
		free(d->outq[i].buf);
	vlink_free(d->virt);
	for (size_t i = 0; i < 8; i++)
		if (d->fetch[i]) {
			unlink(d->fetch[i]->path);
			ha_msg_clear(&d->fetch[i]->m);
			mig_exec_free(d->fetch[i]->exec);
			free(d->fetch[i]);
		}
	drain_planner_free(d->planner);
	free(d->drain_out);
	for (size_t i = 0; i < CFG_MAX_NODES; i++)
		fence_run_free(d->agent_run[i]);
	mig_exec_free(d->sf_exec);
	if (d->wd_fd >= 0) {
		/* magic close: a clean stop disarms the watchdog */
		if (write(d->wd_fd, "V", 1) < 0)
			log_warn("watchdog: cannot disarm %s: %s", d->cfg->fencing.watchdog, strerror(errno));
		close(d->wd_fd);
	}
	evac_planner_free(d->evac);
	free(d->evac_out);
	ctl_server_free(d->ctl);
	cs_client_free(d->cs);
	knet_probe_free(d->knet);
	cl_cluster_free(d->cluster);
	for (size_t i = 0; i < d->n_watch; i++)
		ev_io_del(d->watch[i]);
	hb_io_free(d->io);
	hb_monitor_free(d->mon);
	hb_key_free(d->key);
	cfg_free(d->cfg);
	free(d);
}

void cl_daemon_log_status(const struct cl_daemon *d)
{
	const struct hb_io_counters *c = hb_io_get_counters(d->io);
	uint64_t bad = 0;

	for (size_t i = 0; i < d->cfg->n_nodes; i++) {
		const struct cfg_node *node = &d->cfg->nodes[i];
		int h;

		if ((int)i == d->local_idx)
			continue;
		h = hb_monitor_node_health(d->mon, node->id);
		log_info("status: node %s: %s", node->name,
			 h >= 0 ? hb_node_health_name(h) : "not monitored");
		for (size_t l = 0; l < d->cfg->n_networks; l++) {
			struct hb_link_stats st;
			struct hb_history_entry hist[HB_HISTORY_MAX];
			char route[512];
			size_t off = 0;
			int n;

			if (hb_monitor_link_stats(d->mon, node->id, (uint8_t)l, &st) < 0)
				continue;
			n = hb_monitor_link_history(d->mon, node->id, (uint8_t)l, hist, HB_HISTORY_MAX);
			route[0] = '\0';
			for (int k = 0; k < n && off + 16 < sizeof(route); k++)
				off += (size_t)snprintf(route + off, sizeof(route) - off, "%s",
							hist[k].lost ? "x" : ".");
			log_info("status: link %s/%s: %s, %s, rtt %.3f ms (srtt %.3f, jitter %.3f), loss "
				 "%u.%u%%, "
				 "rx %llu tx %llu lost %llu late %llu dup %llu stale %llu, history [%s]",
				 node->name, net_name(d, (uint8_t)l), hb_link_state_name(st.state),
				 hb_class_name(st.cls), (double)st.rtt_us / 1000.0,
				 (double)st.srtt_us / 1000.0, (double)st.jitter_us / 1000.0,
				 st.loss_permille / 10, st.loss_permille % 10, (unsigned long long)st.rx,
				 (unsigned long long)st.tx, (unsigned long long)st.lost,
				 (unsigned long long)st.late, (unsigned long long)st.dup,
				 (unsigned long long)st.stale, route);
		}
	}
	for (size_t i = 0; i < sizeof(c->decode_errors) / sizeof(c->decode_errors[0]); i++)
		bad += c->decode_errors[i];
	log_info("status: heartbeat datagrams rx %llu tx %llu, tx errors %llu, rejected %llu, wrong source "
		 "%llu",
		 (unsigned long long)c->rx_datagrams, (unsigned long long)c->tx_datagrams,
		 (unsigned long long)c->tx_errors, (unsigned long long)bad,
		 (unsigned long long)c->wrong_source);
}
