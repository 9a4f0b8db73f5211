/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/mig_wire.c: the copy engine in the daemon (see mig_wire.h). The
 * engines' data paths run in their own worker threads; everything here runs
 * on the daemon's loop. Engines are freed outside their own callbacks: the
 * incoming ones by mw_sweep, the outgoing ones by their owner. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clusterd/mig_wire.h"
#include "common/log.h"
#include "migrate/mcopy.h"
#include "migrate/mcopy_listen.h"

#define MW_PATH_MAX 108 /* sun_path */

struct mw_in {
	struct mw *w;
	uint64_t id;
	struct mcopy_engine *e;
	char path[MW_PATH_MAX];
	bool finished;
};

struct mw {
	struct ev_loop *loop;
	const struct cfg *cfg;
	uint32_t local_id;
	struct cl_cluster *cluster;
	struct mcopy_key *key;
	struct mcopy_listen *listen[CFG_MAX_NETWORKS]; /* one per migration.links network */
	struct mw_in *in[CL_MAX_MIGRATIONS];
	size_t n_in;
};

struct mw_out {
	struct mw *w;
	uint64_t id;
	struct mcopy_engine *e;
	char path[MW_PATH_MAX];
	char peer[64 * MCOPY_LINK_MAX];
	unsigned channels, up, links, streams;
	uint64_t bytes;
	usec_t first_up, ended; /* loop time of the first channel up / the copy's end; 0: not yet */
	bool failed, done;
	mw_out_failed_fn cb;
	void *userdata;
};

unsigned mw_channels(const struct cfg *cfg)
{
	return cfg->migration.streams > 1 ? cfg->migration.streams + 1 : 1;
}

void mw_socket_path(uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/mig-%016" PRIx64 ".sock", MW_SOCKET_DIR, id);
}

static const char *vm_of(const struct mw *w, uint64_t id)
{
	const struct cl_migration *cm = cl_cluster_migration(w->cluster, id);

	return cm ? cm->name : "?";
}

/* mkdir -p MW_SOCKET_DIR (0755: QEMU binds and connects there), and remove
 * sockets a previous daemon left behind (their migrations died with it). */
static void socket_dir_prepare(void)
{
	char path[sizeof(MW_SOCKET_DIR) + 1 + 256];
	struct dirent *de;
	struct stat st;
	DIR *dir;

	if (mkdir("/run/clusterd", 0755) < 0 && errno != EEXIST)
		log_warn("mcopy: cannot create /run/clusterd: %s", strerror(errno));
	if (mkdir(MW_SOCKET_DIR, 0755) < 0 && errno != EEXIST)
		log_warn("mcopy: cannot create %s: %s", MW_SOCKET_DIR, strerror(errno));
	dir = opendir(MW_SOCKET_DIR);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "mig-", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", MW_SOCKET_DIR, de->d_name);
		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(path) == 0)
			log_info("mcopy: removed stale socket %s", path);
	}
	closedir(dir);
}

/* ---- target side ---- */

static void in_event(struct mcopy_engine *e, const struct mcopy_event *ev, void *userdata)
{
	struct mw_in *in = userdata;
	char peer[96] = "";

	(void)e;
	if (ev->peer)
		snprintf(peer, sizeof(peer), " from %s", ev->peer);
	switch (ev->type) {
	case MCOPY_EV_REFUSED:
		log_warn("migration of %s: mcopy: dropped a stream%s (channel %u stream %u): %s: %s",
			 vm_of(in->w, in->id), peer, ev->channel, ev->stream, ev->what,
			 mcopy_strerror(ev->error));
		break;
	case MCOPY_EV_CHANNEL_UP:
		log_debug("migration of %s: mcopy: channel %u up, connected to QEMU at %s",
			  vm_of(in->w, in->id), ev->channel, in->path);
		break;
	case MCOPY_EV_CHANNEL_DONE:
		break;
	case MCOPY_EV_FAILED:
		log_warn("migration of %s: mcopy: receiving failed: channel %u stream %u%s: %s: %s%s%s",
			 vm_of(in->w, in->id), ev->channel, ev->stream, peer, ev->what,
			 mcopy_strerror(ev->error), ev->peer_error ? ": " : "",
			 ev->peer_error ? strerror(ev->peer_error) : "");
		in->finished = true;
		break;
	case MCOPY_EV_DONE:
		log_info("migration of %s: mcopy: received %" PRIu64 " bytes on %u channel(s) for QEMU",
			 vm_of(in->w, in->id), ev->bytes, mw_channels(in->w->cfg));
		in->finished = true;
		break;
	}
}

static void in_free(struct mw_in *in)
{
	struct stat st;

	mcopy_engine_free(in->e);
	/* QEMU's listening socket: every connection is made (or never will be) */
	if (lstat(in->path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(in->path);
	free(in);
}

/* A stream for migration id arrived: its engine, made now if the replicated
 * table says that migration comes here and is under way. */
static struct mcopy_engine *route(void *userdata, uint64_t id, const char *peer)
{
	struct mw *w = userdata;
	const struct cl_migration *cm = cl_cluster_migration(w->cluster, id);
	struct mcopy_params p;
	struct mw_in *in;
	int r;

	for (size_t i = 0; i < w->n_in; i++)
		if (w->in[i]->id == id)
			return w->in[i]->finished ? NULL : w->in[i]->e;
	if (!cm || cm->target != w->local_id ||
	    !(cm->state == CLM_MIG_RUNNING || (cm->state == CLM_MIG_REQUESTED && cm->admitted)))
		return NULL;
	if (w->n_in == CL_MAX_MIGRATIONS)
		return NULL;
	in = calloc(1, sizeof(*in));
	if (!in)
		return NULL;
	in->w = w;
	in->id = id;
	mw_socket_path(id, in->path, sizeof(in->path));
	mcopy_params_init(&p, MCOPY_SERVER);
	p.migration_id = id;
	p.channels = mw_channels(w->cfg);
	p.n_links = 0; /* streams come from the shared listener */
	p.unix_path = in->path;
	p.key = w->key;
	p.congestion = cfg_mig_congestion(w->cfg);
	r = mcopy_engine_new(w->loop, &p, in_event, in, &in->e);
	if (r < 0) {
		log_err("migration of %s: mcopy: cannot start receiving (stream from %s): %s", cm->name, peer,
			mcopy_strerror(r));
		free(in);
		return NULL;
	}
	w->in[w->n_in++] = in;
	log_info("migration of %s: mcopy: receiving from %s, %u channel(s), for QEMU at %s", cm->name, peer,
		 p.channels, in->path);
	return in->e;
}

static void dropped(void *userdata, uint64_t id, const char *peer, int error)
{
	struct mw *w = userdata;

	if (error == -ENOENT)
		log_warn("mcopy: refused a stream from %s for migration %" PRIx64
			 ": no such migration to this node under way",
			 peer, id);
	else
		log_warn("mcopy: dropped a stream from %s before its handshake: %s", peer,
			 error == -MCOPY_EBADMSG ? "not an mcopy stream (or another version)"
						 : mcopy_strerror(error));
	(void)w;
}

/* Listen on this node's address on network net (one of migration.links). */
static void listen_on(struct mw *w, size_t k, int net)
{
	const struct cfg_node *me = &w->cfg->nodes[cfg_node_by_id(w->cfg, w->local_id)];
	struct sockaddr_storage ss;
	socklen_t len;
	char addr[HB_ADDR_STRLEN];
	int r;

	hb_addr_to_sockaddr(&me->addr[net], w->cfg->migration.mcopy_port, &ss, &len);
	hb_addr_str(&me->addr[net], addr, sizeof(addr));
	r = mcopy_listen_new(w->loop, (struct sockaddr *)&ss, len, MCOPY_DEFAULT_TIMEOUT, route, dropped, w,
			     &w->listen[k]);
	if (r < 0)
		log_err("mcopy: cannot listen on %s port %d (network %s): %s; migrations to this node "
			"over it will fail",
			addr, w->cfg->migration.mcopy_port, w->cfg->networks[net].name, strerror(-r));
	else
		log_info("mcopy: listening on %s port %d for incoming migrations (%u channel(s) each, "
			 "network %s)",
			 addr, w->cfg->migration.mcopy_port, mw_channels(w->cfg), w->cfg->networks[net].name);
}

int mw_new(struct ev_loop *loop, const struct cfg *cfg, uint32_t local_id, struct cl_cluster *cluster,
	   struct mw **ret_mw)
{
	int me = cfg_node_by_id(cfg, local_id), net = cfg->migration.network, r;
	const char *cc = cfg_mig_congestion(cfg);
	struct mw *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	*w = (struct mw){.loop = loop, .cfg = cfg, .local_id = local_id, .cluster = cluster};
	if (cfg->migration.transport != CFG_TRANSPORT_MCOPY) {
		*ret_mw = w;
		return 0;
	}
	r = mcopy_key_new(cfg->key, cfg->key_len, &w->key);
	if (r < 0) {
		log_err("mcopy: the cluster key cannot be used (%zu bytes; %d..%d needed): %s", cfg->key_len,
			MCOPY_KEY_MIN, MCOPY_KEY_MAX, mcopy_strerror(r));
		free(w);
		return r;
	}
	if (cc) {
		r = mcopy_congestion_check(cc);
		if (r < 0) {
			log_err("migration.congestion \"%s\": this kernel does not offer it to the engine: "
				"%s",
				cfg->migration.congestion, mcopy_congestion_strerror(r));
			mcopy_key_free(w->key);
			free(w);
			return r;
		}
		log_info("mcopy: the engines' streams use TCP congestion control %s (migration.congestion)",
			 cc);
	} else {
		log_info("mcopy: the engines' streams use the host's TCP congestion control");
	}
	socket_dir_prepare();
	/* auto would take rdma where a device reaches the peer, but QEMU's side
	 * is a unix socket with a return path, which rdma does not carry */
	log_info("mcopy: backend tcp for every migration, not probing for RDMA: QEMU's connections carry "
		 "a return path, which the RDMA backend does not (RDMA backend %s)",
#ifdef HAVE_RDMA
		 "built"
#else
		 "not built"
#endif
	);
	if (me < 0 || net < 0 || !cfg->nodes[me].has_addr[net]) {
		log_warn("mcopy: this node has no migration-network address: it cannot receive migrations");
		*ret_mw = w;
		return 0;
	}
	/* config validation: every node has an address on every link */
	for (size_t k = 0; k < cfg->migration.n_links; k++)
		if (cfg->nodes[me].has_addr[cfg->migration.links[k]])
			listen_on(w, k, cfg->migration.links[k]);
	*ret_mw = w;
	return 0;
}

void mw_sweep(struct mw *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_in;) {
		struct mw_in *in = w->in[i];
		const struct cl_migration *cm = cl_cluster_migration(w->cluster, in->id);
		bool ended = !cm || cm->state == CLM_MIG_SUCCEEDED || cm->state == CLM_MIG_FAILED;

		if (!in->finished && !ended) {
			i++;
			continue;
		}
		if (!in->finished)
			log_info("migration of %s ended (%s): mcopy: stopped receiving", cm ? cm->name : "?",
				 cm ? cl_mig_state_name(cm->state) : "forgotten");
		w->in[i] = w->in[--w->n_in];
		in_free(in);
	}
}

void mw_free(struct mw *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_in; i++)
		in_free(w->in[i]);
	for (size_t k = 0; k < CFG_MAX_NETWORKS; k++)
		mcopy_listen_free(w->listen[k]);
	mcopy_key_free(w->key);
	free(w);
}

/* ---- source side ---- */

static void out_event(struct mcopy_engine *e, const struct mcopy_event *ev, void *userdata)
{
	struct mw_out *o = userdata;
	char reason[CLM_REASON_MAX];

	(void)e;
	switch (ev->type) {
	case MCOPY_EV_REFUSED:
		break;
	case MCOPY_EV_CHANNEL_UP:
		if (o->up++ == 0) {
			o->first_up = ev_loop_now(o->w->loop);
			log_info("migration of %s: mcopy: QEMU connected, carrying to %s", vm_of(o->w, o->id),
				 o->peer);
		}
		break;
	case MCOPY_EV_CHANNEL_DONE:
		o->bytes += ev->bytes;
		break;
	case MCOPY_EV_DONE:
		o->bytes = ev->bytes;
		o->done = true;
		o->ended = ev_loop_now(o->w->loop);
		break;
	case MCOPY_EV_FAILED:
		if (ev->peer_error)
			snprintf(reason, sizeof(reason), "mcopy: channel %u: %s: %s: %s", ev->channel,
				 ev->what, mcopy_strerror(ev->error), strerror(ev->peer_error));
		else
			snprintf(reason, sizeof(reason), "mcopy: channel %u: %s: %s", ev->channel, ev->what,
				 mcopy_strerror(ev->error));
		log_warn("migration of %s: %s (peer %s)", vm_of(o->w, o->id), reason,
			 ev->peer ? ev->peer : o->peer);
		o->failed = true;
		o->ended = ev_loop_now(o->w->loop);
		if (o->cb)
			o->cb(o->userdata, reason);
		break;
	}
}

int mw_out_start(struct mw *w, uint64_t id, const struct hb_addr *targets, size_t n_targets,
		 mw_out_failed_fn failed, void *userdata, char *uri, size_t urilen, struct mw_out **ret_out)
{
	struct mcopy_params p;
	struct mw_out *o;
	size_t off = 0;
	int r;

	if (!w || !w->key || !targets || n_targets < 1 || n_targets > MCOPY_LINK_MAX || !uri || !ret_out)
		return -EINVAL;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	*o = (struct mw_out){.w = w, .id = id, .cb = failed, .userdata = userdata};
	mw_socket_path(id, o->path, sizeof(o->path));
	mcopy_params_init(&p, MCOPY_CLIENT);
	p.migration_id = id;
	p.channels = o->channels = mw_channels(w->cfg);
	/* Several QEMU connections: each on its own unframed TCP connection,
	 * channel i on link i % links (the engine's rule for 1-stream
	 * channels). A single connection over several links: striped, one
	 * framed stream per link (otherwise it would use one link only). */
	p.streams = o->streams = p.channels == 1 && n_targets > 1 ? (unsigned)n_targets : 1;
	p.n_links = o->links = (unsigned)n_targets;
	for (size_t k = 0; k < n_targets; k++) {
		char a[HB_ADDR_STRLEN];

		hb_addr_to_sockaddr(&targets[k], w->cfg->migration.mcopy_port, &p.links[k], &p.link_lens[k]);
		off += (size_t)snprintf(o->peer + off, sizeof(o->peer) - off, "%s%s:%d", k ? ", " : "",
					hb_addr_str(&targets[k], a, sizeof(a)), w->cfg->migration.mcopy_port);
	}
	p.unix_path = o->path;
	p.key = w->key;
	p.congestion = cfg_mig_congestion(w->cfg);
	r = mcopy_engine_new(w->loop, &p, out_event, o, &o->e);
	if (r < 0) {
		free(o);
		return r;
	}
	snprintf(uri, urilen, "unix://%s", o->path);
	*ret_out = o;
	return 0;
}

void mw_out_copy(const struct mw_out *o, usec_t now, struct clm_mig_copy *ret)
{
	struct mcopy_stats st = {0};

	if (!o) {
		*ret = (struct clm_mig_copy){
			.backend = CLM_COPY_DIRECT, .links = 1, .streams = 1, .channels = 1};
		return;
	}
	mcopy_engine_stats(o->e, &st);
	*ret = (struct clm_mig_copy){
		.bytes = o->done ? o->bytes : st.bytes, /* the engine's final count once it has one */
		.copy_us = !o->first_up ? 0 : (o->ended ? o->ended : now) - o->first_up,
		.channels = (uint16_t)o->channels,
		.up = (uint16_t)(o->up < o->channels ? o->up : o->channels),
		/* streams = 1 (mw_out_start): unframed, the return path in BACK frames */
		.backend = o->streams > 1 ? CLM_COPY_TCP_FRAMED : CLM_COPY_TCP_RAW,
		.links = (uint8_t)o->links,
		.streams = (uint8_t)o->streams,
		.flags = o->done     ? CLM_COPY_DONE
			 : o->failed ? CLM_COPY_FAILED
				     : 0};
}

void mw_out_summary(const struct mw_out *o, char *buf, size_t len)
{
	struct clm_mig_copy c;
	char links[24] = "";

	if (!o) {
		snprintf(buf, len, "direct");
		return;
	}
	mw_out_copy(o, o->ended, &c);
	if (c.links > 1)
		snprintf(links, sizeof(links), ", over %u links", c.links);
	snprintf(buf, len, "mcopy: %u channel(s), %.1f MB carried, backend %s%s", c.channels,
		 (double)c.bytes / 1e6, clm_copy_backend_name(c.backend), links);
}

const char *mw_out_peer(const struct mw_out *o)
{
	return o ? o->peer : "";
}

void mw_out_free(struct mw_out *o)
{
	if (!o)
		return;
	mcopy_engine_free(o->e); /* unlinks the socket */
	free(o);
}
