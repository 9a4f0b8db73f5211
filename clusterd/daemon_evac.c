/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/daemon_evac.c: the daemon's side of failures (the policy is
 * evac.c's, the rules for prepared copies prepared.c's, self-fencing's
 * selffence.c's — all pure): it runs the fence agent and publishes fence
 * records, tells the planner which members it sees dead, starts the
 * restarts this node is ordered to run, the prepares and destroys of
 * prepared copies, and the self-fence with its watchdog. */
#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clusterd/daemon_priv.h"
#include "common/log.h"

/* A domain's XML into path for the libvirt helper: mode 0600 (it may hold
 * secrets). 0, or -errno with nothing left behind. */
static int write_xml(const char *path, const char *xml)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), r = 0;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f) {
		r = errno ? -errno : -EIO;
		if (fd >= 0)
			close(fd);
	} else if ((fputs(xml, f) < 0) | (fclose(f) != 0)) { /* closed either way */
		r = errno ? -errno : -EIO;
	}
	if (r < 0)
		unlink(path);
	return r;
}

/* ---- restarts (evacuation): this node is the target ---- */

static void restart_done(void *ud, bool ok, const char *msg, usec_t now)
{
	struct local_mig *m = ud;
	struct cl_daemon *d = m->d;
	const struct cl_migration *cm = cl_cluster_migration(d->cluster, m->id);
	char path[4300];

	snprintf(path, sizeof(path), "%s/start-%llx.xml", d->cfg->state_dir, (unsigned long long)m->id);
	unlink(path);
	if (ok)
		log_info("evacuation: %s started here (%llu ms%s)", cm ? cm->name : "?",
			 (unsigned long long)((now - m->job.started) / USEC_PER_MSEC),
			 m->resumed ? ", its prepared copy resumed" : "");
	else
		log_warn("evacuation: %s not started here: %s", cm ? cm->name : "?", msg);
	dm_report(d, m, ok ? CLM_MIG_SUCCEEDED : CLM_MIG_FAILED, ok ? NULL : msg);
	for (size_t i = 0; i < d->n_lm; i++)
		if (d->lm[i] == m) {
			d->lm[i] = d->lm[--d->n_lm];
			break;
		}
	mig_exec_free(m->exec);
	free(m);
}

static void restart_progress(void *ud, const char *line, usec_t now)
{
	struct local_mig *m = ud;

	m->resumed |= strcmp(line, "resumed") == 0;
}

/* Start an HA VM from the registry's XML: only while quorate, and only if
 * no member lists it (whatever the coordinator believed). A prepared copy
 * of it here is resumed instead (the helper finds it by uuid). */
void dm_start_restart(struct cl_daemon *d, const struct cl_migration *cm, usec_t now)
{
	const struct ha_vm *h = ha_registry_find(cl_cluster_ha(d->cluster), cm->uuid);
	struct local_mig *m;
	const char *why = NULL;
	char path[4300], helper[4200];
	int r;

	if (d->n_lm == CL_MAX_MIGRATIONS)
		return;
	d->tried[d->n_tried++ % CL_MAX_MIGRATIONS] = cm->id;
	m = calloc(1, sizeof(*m));
	if (!m)
		return;
	*m = (struct local_mig){.d = d, .id = cm->id, .last_report = now};
	m->job.started = now; /* not a mig_job: no deadlines are ticked (state stays pending) */
	if (!sf_may_start(&d->sf) || !cl_cluster_is_quorate(d->cluster))
		why = "this node is not quorate: it starts nothing";
	else if (!h)
		why = "the VM is not in the HA registry";
	for (size_t i = 0; !why && i < d->cfg->n_nodes; i++) {
		const struct clm_vm *vms;
		size_t n;
		bool up, known;

		if (!cl_cluster_is_member(d->cluster, d->cfg->nodes[i].id) ||
		    cl_cluster_inventory(d->cluster, d->cfg->nodes[i].id, &vms, &n, &up, &known) < 0)
			continue;
		for (size_t k = 0; k < n && !why; k++)
			if (strcmp(vms[k].uuid, cm->uuid) == 0)
				why = "the VM is listed on a member already: not starting a second copy";
	}
	snprintf(path, sizeof(path), "%s/start-%llx.xml", d->cfg->state_dir, (unsigned long long)cm->id);
	if (!why && write_xml(path, h->xml) < 0)
		why = "cannot write the domain XML to the state directory";
	if (why) {
		log_warn("evacuation: %s not started here: %s", cm->name, why);
		dm_report(d, m, CLM_MIG_FAILED, why);
		free(m);
		return;
	}
	dm_sibling_path("clusterd-virt", helper, sizeof(helper));
	{
		char *argv[] = {helper, (char *)"--create", d->cfg->libvirt_uri, path, NULL};
		r = mig_exec_start(d->loop, argv, restart_done, m, &m->exec);
		if (r >= 0)
			mig_exec_set_progress(m->exec, restart_progress);
	}
	if (r < 0) {
		log_err("evacuation: cannot start %s: %s", helper, strerror(-r));
		dm_report(d, m, CLM_MIG_FAILED, "cannot start the libvirt helper");
		unlink(path);
		free(m);
		return;
	}
	d->lm[d->n_lm++] = m;
	log_info("evacuation: starting %s here (it ran on %s)%s", cm->name, dm_node_name(d, cm->source),
		 prep_has(&d->prep, cm->uuid) ? ": resuming its prepared copy" : "");
	dm_report(d, m, CLM_MIG_RUNNING, NULL);
}

/* ---- prepared restarts (prepared.h; evac.h, evac_prepare_done) ---- */

static void prep_job_done(void *ud, bool ok, const char *msg, usec_t now)
{
	struct prep_job *j = ud;
	struct cl_daemon *d = j->d;

	if (j->destroy) {
		if (ok)
			log_info("evacuation: prepared copy of %s destroyed", j->name);
		else
			log_err("evacuation: cannot destroy the prepared copy of %s: %s", j->name, msg);
	} else {
		unlink(j->path);
		if (ok)
			log_info("evacuation: %s prepared on %s (%llu ms)", j->name, dm_node_name(d, j->node),
				 (unsigned long long)((now - j->started) / USEC_PER_MSEC));
		else
			log_warn("evacuation: cannot prepare %s on %s: %s", j->name, dm_node_name(d, j->node),
				 msg);
		evac_prepare_done(d->evac, j->uuid, ok);
		d->evac_due = true;
	}
	for (size_t i = 0; i < PREP_MAX_JOBS; i++)
		if (d->prep_job[i] == j)
			d->prep_job[i] = NULL;
	mig_exec_free(j->exec); /* allowed from its done callback */
	free(j);
}

/* Run clusterd-virt ARG URI FILE-OR-UUID as a prep_job: a prepare of uuid
 * on node (from the registry's XML), or a destroy of the copy here. */
static int prep_job_start(struct cl_daemon *d, bool destroy, uint32_t node, const char *uuid,
			  const char *name, usec_t now)
{
	const struct ha_vm *h = ha_registry_find(cl_cluster_ha(d->cluster), uuid);
	char helper[4200], uri[1200];
	struct prep_job *j;
	size_t slot = 0;
	int r;

	for (size_t i = 0; destroy && i < PREP_MAX_JOBS; i++)
		if (d->prep_job[i] && d->prep_job[i]->destroy && strcmp(d->prep_job[i]->uuid, uuid) == 0)
			return 0; /* under way: its end is what the sweep waits for */
	while (slot < PREP_MAX_JOBS && d->prep_job[slot])
		slot++;
	if (slot == PREP_MAX_JOBS)
		return -EBUSY;
	if ((!destroy && !h) || dm_node_libvirt_uri(d, node, true, uri, sizeof(uri)) < 0)
		return -ENOENT;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	*j = (struct prep_job){.d = d, .destroy = destroy, .node = node, .started = now};
	snprintf(j->uuid, sizeof(j->uuid), "%s", uuid);
	snprintf(j->name, sizeof(j->name), "%s", name);
	if (!destroy) {
		snprintf(j->path, sizeof(j->path), "%s/prepare-%s.xml", d->cfg->state_dir, uuid);
		r = write_xml(j->path, h->xml);
		if (r < 0) {
			free(j);
			return r;
		}
	}
	dm_sibling_path("clusterd-virt", helper, sizeof(helper));
	{
		char *argv[] = {helper, (char *)(destroy ? "--destroy" : "--prepare"), uri,
				destroy ? j->uuid : j->path, NULL};
		r = mig_exec_start(d->loop, argv, prep_job_done, j, &j->exec);
	}
	if (r < 0) {
		if (!destroy)
			unlink(j->path);
		free(j);
		return r;
	}
	d->prep_job[slot] = j;
	return 0;
}

/* Coordinator: start the restart copies the planner asked prepared. */
static void run_prepares(struct cl_daemon *d, const struct evac_out *out, usec_t now)
{
	for (size_t i = 0; i < out->n_prepares; i++) {
		const struct drain_order *o = &out->prepares[i];
		int r = prep_job_start(d, false, o->target, o->uuid, o->name, now);

		if (r < 0) {
			log_warn("evacuation: cannot prepare %s on %s: %s", o->name,
				 dm_node_name(d, o->target), strerror(-r));
			evac_prepare_done(d->evac, o->uuid, false);
		} else {
			log_info("evacuation: preparing %s on %s (paused until its restart order)", o->name,
				 dm_node_name(d, o->target));
		}
	}
}

/* Every node: destroy the copies held here that nobody needs any more. */
usec_t dm_sweep_prepared(struct cl_daemon *d, usec_t now)
{
	struct prep_destroy out[VLINK_MAX_PREPARED];
	bool heard[CFG_MAX_NODES];
	size_t n;

	if (!d->prep.n)
		return USEC_INFINITY;
	for (size_t x = 0; x < d->cfg->n_nodes; x++)
		heard[x] = d->cfg->nodes[x].id == d->local_id ||
			   dm_peer_health(d, d->cfg->nodes[x].id) != HB_NODE_DOWN;
	n = prep_sweep(&d->prep, d->cluster, d->cfg, d->local_id, heard, now, out);

	for (size_t i = 0; i < n; i++) {
		const struct prep_copy *c = &d->prep.c[out[i].idx];
		int r = prep_job_start(d, true, d->local_id, c->uuid, c->name, now);

		if (r < 0)
			log_err("evacuation: cannot destroy the prepared copy of %s (%s): %s", c->name,
				out[i].why, strerror(-r));
		else
			log_info("evacuation: destroying the prepared copy of %s: %s", c->name, out[i].why);
	}
	return prep_next_deadline(&d->prep);
}

/* ---- failures: fencing, self-fencing, restarts (coordinator's evac planner) ---- */

static void agent_done(void *ud, int result, int status, const char *output, usec_t now);

/* Run fencing.agent on a node: action=off, plug/port = its name, ip = its
 * management address; the outcome goes back to the planner. */
static void run_agent(struct cl_daemon *d, uint32_t node, usec_t now)
{
	int x = cfg_node_by_id(d->cfg, node), mgmt = cfg_network_by_role(d->cfg, CFG_ROLE_MANAGEMENT), r;
	char addr[HB_ADDR_STRLEN] = "";
	struct fence_param params[4];
	size_t n = 0;
	struct agent_ctx *ctx;

	if (x < 0)
		return;
	if (d->agent_run[x]) {
		fence_run_free(d->agent_run[x]);
		d->agent_run[x] = NULL;
	}
	if (mgmt >= 0 && d->cfg->nodes[x].has_addr[mgmt])
		hb_addr_str(&d->cfg->nodes[x].addr[mgmt], addr, sizeof(addr));
	params[n++] = (struct fence_param){"action", "off"};
	params[n++] = (struct fence_param){"plug", d->cfg->nodes[x].name};
	params[n++] = (struct fence_param){"port", d->cfg->nodes[x].name};
	if (addr[0])
		params[n++] = (struct fence_param){"ip", addr};
	ctx = &d->agent_ctx[x];
	*ctx = (struct agent_ctx){.d = d, .node = node, .started = now};
	r = fence_run_start(d->loop, d->cfg->fencing.agent, params, n, d->cfg->fencing.agent_timeout_s,
			    agent_done, ctx, &d->agent_run[x]);
	if (r < 0) {
		char why[160];

		snprintf(why, sizeof(why), "cannot run %.100s: %s", d->cfg->fencing.agent, strerror(-r));
		log_err("fence: %s: %s", d->cfg->nodes[x].name, why);
		d->agent_run[x] = NULL;
		evac_agent_done(d->evac, node, false, why, now);
		return;
	}
	log_warn("fence: running %s action=off plug=%s", d->cfg->fencing.agent, d->cfg->nodes[x].name);
}

static void agent_done(void *ud, int result, int status, const char *output, usec_t now)
{
	struct agent_ctx *ctx = ud;
	struct cl_daemon *d = ctx->d;
	int x = cfg_node_by_id(d->cfg, ctx->node);
	char why[160];

	if (result == 0)
		snprintf(why, sizeof(why), "ok");
	else if (result == -ETIMEDOUT)
		snprintf(why, sizeof(why), "timed out after %u s", d->cfg->fencing.agent_timeout_s);
	else if (result == -EINTR)
		snprintf(why, sizeof(why), "killed by signal %d", status);
	else
		snprintf(why, sizeof(why), "exit status %d%s%.100s", status, output && output[0] ? ": " : "",
			 output ? output : "");
	for (char *p = why; *p; p++)
		if (*p == '\n')
			*p = ' ';
	if (result == 0)
		log_warn("fence: %s is off (agent, %llu ms)", dm_node_name(d, ctx->node),
			 (unsigned long long)((now - ctx->started) / USEC_PER_MSEC));
	else
		log_err("fence: agent failed for %s: %s", dm_node_name(d, ctx->node), why);
	if (x >= 0) {
		fence_run_free(d->agent_run[x]); /* allowed from its done callback */
		d->agent_run[x] = NULL;
	}
	evac_agent_done(d->evac, ctx->node, result == 0, why, now);
	d->evac_due = true;
}

int dm_send_fence(struct cl_daemon *d, uint32_t node, enum clm_fence_how how, uint64_t version,
		  const char *reason)
{
	struct clm_fence_msg m = {.sender = d->local_id,
				  .node = node,
				  .state = CLM_FENCE_FENCED,
				  .how = (uint8_t)how,
				  .version = version};
	uint8_t buf[CLM_FENCE_LEN];
	int len;

	snprintf(m.reason, sizeof(m.reason), "%s", reason);
	len = clm_encode_fence(&m, buf, sizeof(buf));
	return len < 0 ? len : dm_multicast(d, buf, (size_t)len);
}

/* While a member is DOWN by our heartbeat but corosync's links to it are
 * still connected, look again this often. */
#define SUSPECT_POLL_USEC (50 * USEC_PER_MSEC)

/* Tell the planner which members we see dead by both our heartbeat (DOWN on
 * every link) and corosync's knet links (all disconnected). Returns true
 * when one is dead by the heartbeat only: worth another look soon. */
static bool update_suspects(struct cl_daemon *d)
{
	bool pending = false;

	for (size_t x = 0; x < d->cfg->n_nodes; x++) {
		uint32_t id = d->cfg->nodes[x].id;
		bool suspect = false;

		if (id != d->local_id && cl_cluster_is_member(d->cluster, id) &&
		    dm_peer_health(d, id) == HB_NODE_DOWN) {
			int k;

			if (!d->knet && knet_probe_new(&d->knet) < 0)
				d->knet = NULL; /* no thread: no early fencing, nothing else lost */
			k = d->knet ? knet_probe_get(d->knet, id) : -ENOMEM;
			suspect = k == 0;
			/* connected may flip soon, and an answer may be on its way;
			 * no statistics or no corosync: not suspected */
			pending |= k == 1 || k == -EAGAIN;
		}
		evac_set_suspect(d->evac, id, suspect);
	}
	return pending;
}

/* Failures are acted on quickly (every step's decision waits for its
 * multicast to come back anyway); the coalescing only batches a burst. */
#define EVAC_COALESCE_USEC (10 * USEC_PER_MSEC)

usec_t dm_evac_prepare(struct ev_loop *loop, usec_t now, void *userdata)
{
	struct cl_daemon *d = userdata;
	struct evac_out *out = d->evac_out;
	const struct evac_node_status *st;
	size_t n_st;
	usec_t next;

	if (cl_cluster_coordinator(d->cluster) != d->local_id) {
		evac_planner_reset(d->evac);
		d->evac_due = false;
		return USEC_INFINITY;
	}
	if (d->suspect_poll && now >= d->suspect_poll)
		d->evac_due = true;
	next = evac_next_deadline(d->evac);
	if (d->suspect_poll && d->suspect_poll < next)
		next = d->suspect_poll;
	if (!d->evac_due && now < next && now < d->evac_next + DRAIN_IDLE_USEC)
		return next < d->evac_next + DRAIN_IDLE_USEC ? next : d->evac_next + DRAIN_IDLE_USEC;
	if (now < d->evac_next)
		return d->evac_next;
	d->evac_due = false;
	d->evac_next = now + EVAC_COALESCE_USEC;
	d->suspect_poll = update_suspects(d) ? now + SUSPECT_POLL_USEC : 0;
	evac_step(d->evac, d->cluster, now, out);
	for (size_t i = 0; i < out->n_run_agent; i++)
		run_agent(d, out->run_agent[i], now);
	for (size_t i = 0; i < out->n_fences; i++) {
		int r = dm_send_fence(d, out->fences[i].node, out->fences[i].how, out->fences[i].version,
				      out->fences[i].reason);
		if (r < 0)
			log_err("fence: cannot publish that %s is fenced: %s",
				dm_node_name(d, out->fences[i].node), strerror(-r));
	}
	for (size_t i = 0; i < out->n_admin; i++) {
		int r = dm_send_admin(d, &out->admin[i]);
		if (r < 0)
			log_err("cluster: cannot publish the admin state of %s: %s",
				dm_node_name(d, out->admin[i].node), strerror(-r));
	}
	for (size_t i = 0; i < out->n_starts; i++) {
		const struct drain_order *o = &out->starts[i];
		struct clm_migrate m = {.source = o->source, .target = o->target, .kind = CLM_KIND_START};
		int r;

		/* the node it ran on, for the table: where no member lists it, the absent node */
		for (size_t x = 0; x < d->cfg->n_nodes && !m.source; x++)
			if (!cl_cluster_is_member(d->cluster, d->cfg->nodes[x].id))
				m.source = d->cfg->nodes[x].id;
		/* the field may not be 0 or the target: any other configured node */
		for (size_t x = 0; x < d->cfg->n_nodes && (!m.source || m.source == m.target); x++)
			m.source = d->cfg->nodes[x].id;
		memcpy(m.uuid, o->uuid, sizeof(m.uuid));
		memcpy(m.name, o->name, sizeof(m.name));
		r = dm_send_migrate(d, &m);
		if (r < 0)
			log_err("evacuation: cannot request the restart of %s: %s", o->name, strerror(-r));
		else
			log_warn("evacuation: restarting %s on %s", o->name, dm_node_name(d, o->target));
	}
	run_prepares(d, out, now);
	/* say what it waits for, when that changes */
	n_st = evac_status(d->evac, &st);
	for (size_t i = 0; i < n_st; i++) {
		int x = st[i].node ? cfg_node_by_id(d->cfg, st[i].node) + 1 : 0;

		if (x < 0 || strcmp(d->evac_said[x], st[i].text) == 0)
			continue;
		{
			/* "…: 3896 ms left", "…: if it lasts 2 s more": the same text up to
			 * its first digit is a countdown, logged when it starts */
			size_t k = strcspn(st[i].text, "0123456789");
			bool countdown = st[i].text[k] && strncmp(st[i].text, d->evac_said[x], k) == 0 &&
					 d->evac_said[x][k] >= '0' && d->evac_said[x][k] <= '9';

			snprintf(d->evac_said[x], sizeof(d->evac_said[x]), "%s", st[i].text);
			if (countdown)
				continue; /* counts down: logged when it starts */
		}
		log_info("evacuation: %s%s%s", st[i].node ? dm_node_name(d, st[i].node) : "",
			 st[i].node ? ": " : "", st[i].text);
	}
	next = evac_next_deadline(d->evac);
	if (d->suspect_poll && d->suspect_poll < next)
		next = d->suspect_poll;
	return next < d->evac_next + DRAIN_IDLE_USEC ? (next > d->evac_next ? next : d->evac_next)
						     : d->evac_next + DRAIN_IDLE_USEC;
}

/* ---- self-fencing ---- */

static void sf_done(void *ud, bool ok, const char *msg, usec_t now)
{
	struct cl_daemon *d = ud;

	d->sf_destroyed = ok;
	if (ok)
		log_warn("self-fence: HA VMs destroyed, %llu ms after quorum was lost",
			 (unsigned long long)((now - d->sf.lost_at) / USEC_PER_MSEC));
	else
		log_err("self-fence: destroying HA VMs failed: %s%s", msg,
			d->wd_fd >= 0 ? " (the watchdog is no longer fed: it resets this machine)" : "");
	mig_exec_free(d->sf_exec);
	d->sf_exec = NULL;
}

static void sf_progress(void *ud, const char *line, usec_t now)
{
	struct cl_daemon *d = ud;

	if (strncmp(line, "killed ", 7) == 0)
		log_warn("self-fence: %s's QEMU killed, %llu ms after quorum was lost", line + 7,
			 (unsigned long long)((now - d->sf.lost_at) / USEC_PER_MSEC));
}

static void self_fence(struct cl_daemon *d, usec_t now)
{
	const struct clm_vm *vms;
	size_t n, k = 0;
	bool up, known;
	char helper[4200], *argv[4 + CLM_MAX_INV_ENTRIES], names[512] = "";
	static char ids[4 + CLM_MAX_INV_ENTRIES][CLM_VM_UUID_LEN + CLM_VM_NAME_MAX + 1];
	int r;

	if (cl_cluster_inventory(d->cluster, d->local_id, &vms, &n, &up, &known) < 0)
		n = 0;
	dm_sibling_path("clusterd-virt", helper, sizeof(helper));
	argv[k++] = helper;
	argv[k++] = (char *)"--destroy";
	argv[k++] = d->cfg->libvirt_uri;
	for (size_t i = 0; i < n; i++)
		if ((vms[i].state == CLM_VM_RUNNING || vms[i].state == CLM_VM_PAUSED) &&
		    ha_registry_find(cl_cluster_ha(d->cluster), vms[i].uuid)) {
			size_t off = strlen(names);
			snprintf(ids[k], sizeof(ids[k]), "%s/%s", vms[i].uuid, vms[i].name);
			argv[k] = ids[k];
			k++;
			snprintf(names + off, sizeof(names) - off, " %s", vms[i].name);
		}
	argv[k] = NULL;
	d->sf_destroyed = false;
	if (k == 3) {
		d->sf_destroyed = true;
		log_warn("self-fence: quorum lost %llu ms ago; no HA VM runs here",
			 (unsigned long long)((now - d->sf.lost_at) / USEC_PER_MSEC));
		return;
	}
	log_warn("self-fence: quorum lost %llu ms ago: destroying HA VMs%s (the quorate side restarts them)",
		 (unsigned long long)((now - d->sf.lost_at) / USEC_PER_MSEC), names);
	if (d->sf_exec)
		mig_exec_free(d->sf_exec);
	r = mig_exec_start(d->loop, argv, sf_done, d, &d->sf_exec);
	if (r < 0) {
		d->sf_exec = NULL;
		log_err("self-fence: cannot run %s: %s", helper, strerror(-r));
		return;
	}
	mig_exec_set_progress(d->sf_exec, sf_progress);
}

/* Feed the hardware watchdog once a second while self-fencing allows. */
#define WD_FEED_USEC USEC_PER_SEC

usec_t dm_sf_prepare(struct ev_loop *loop, usec_t now, void *userdata)
{
	struct cl_daemon *d = userdata;
	usec_t next;

	sf_quorum(&d->sf, cl_cluster_is_quorate(d->cluster), now);
	if (sf_tick(&d->sf, now) == SF_FENCE)
		self_fence(d, now);
	next = sf_next_deadline(&d->sf);
	if (d->wd_fd >= 0) {
		if (now >= d->wd_fed + WD_FEED_USEC && sf_feed_watchdog(&d->sf, d->sf_destroyed, now)) {
			if (write(d->wd_fd, "k", 1) < 0)
				log_err("watchdog: cannot feed %s: %s", d->cfg->fencing.watchdog,
					strerror(errno));
			d->wd_fed = now;
		}
		if (d->wd_fed + WD_FEED_USEC < next)
			next = d->wd_fed + WD_FEED_USEC;
	}
	return next;
}

/* fencing.watchdog: the hardware guarantee behind self-fencing. Its timeout
 * is set to self_fence_ms (rounded up to seconds): a clusterd that hangs,
 * or a self-fence that fails, resets the machine before the quorate side
 * restarts anything. Closed with the magic 'V' on a clean exit. */
int dm_setup_watchdog(struct cl_daemon *d)
{
	int timeout = (int)((d->cfg->fencing.self_fence_ms + 999) / 1000);

	d->wd_fd = -1;
	if (!d->cfg->fencing.watchdog[0] || d->cfg->fencing.mode == CFG_FENCE_NONE)
		return 0;
	d->wd_fd = open(d->cfg->fencing.watchdog, O_WRONLY | O_CLOEXEC);
	if (d->wd_fd < 0) {
		log_err("watchdog: cannot open %s: %s", d->cfg->fencing.watchdog, strerror(errno));
		return -errno;
	}
	if (ioctl(d->wd_fd, WDIOC_SETTIMEOUT, &timeout) < 0)
		log_warn("watchdog: %s: cannot set its timeout to %d s (%s): it keeps its own",
			 d->cfg->fencing.watchdog, timeout, strerror(errno));
	log_info("watchdog: %s armed, timeout %d s: a hung clusterd or a failed self-fence resets this "
		 "machine",
		 d->cfg->fencing.watchdog, timeout);
	return 0;
}
