/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/corosync.c: the corosync client — CPG (membership, agreed-order
 * messages), libquorum (quorate, members, ring id), libvotequorum (votes,
 * flags), every fd on the loop; an absent corosync is retried from a timer,
 * never by sleeping. No cluster policy: it only reports what corosync says. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>

#include <corosync/corotypes.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>
#include <corosync/votequorum.h>

#include "autoconf.h"
#include "clusterd/corosync.h"
#include "common/log.h"

struct cs_client {
	struct ev_loop *loop;
	char group[CPG_MAX_NAME_LENGTH];
	struct cs_callbacks cb;
	void *ud;

	cpg_handle_t cpg;
	quorum_handle_t qh;
	votequorum_handle_t vq;
	bool have_cpg, have_q, have_vq;
	struct ev_io *io_cpg, *io_q, *io_vq;

	struct ev_timer *retry;   /* reconnect (or deferred teardown) */
	struct ev_timer *refresh; /* votequorum_getinfo said TRY_AGAIN */
	usec_t backoff;
	bool connected;
	bool down_reported; /* `disconnected` already said for this outage */
	uint32_t local_id;

	/* set during dispatch, acted on once the library call has returned */
	usec_t now;
	int dispatching;
	bool free_pending;
	bool lost;
	char lost_why[160];

	/* libquorum's view (quorate, ring, members), waiting for the votes */
	bool have_qview;
	bool q_dirty;
	bool q_published;
	struct cs_quorum view;
	struct cs_quorum q; /* the last snapshot handed out */
};

static const char *cs_err_name(cs_error_t e)
{
	switch (e) {
	case CS_OK:
		return "CS_OK";
	case CS_ERR_LIBRARY:
		return "CS_ERR_LIBRARY";
	case CS_ERR_VERSION:
		return "CS_ERR_VERSION";
	case CS_ERR_INIT:
		return "CS_ERR_INIT";
	case CS_ERR_TIMEOUT:
		return "CS_ERR_TIMEOUT";
	case CS_ERR_TRY_AGAIN:
		return "CS_ERR_TRY_AGAIN";
	case CS_ERR_INVALID_PARAM:
		return "CS_ERR_INVALID_PARAM";
	case CS_ERR_NO_MEMORY:
		return "CS_ERR_NO_MEMORY";
	case CS_ERR_BAD_HANDLE:
		return "CS_ERR_BAD_HANDLE";
	case CS_ERR_BUSY:
		return "CS_ERR_BUSY";
	case CS_ERR_ACCESS:
		return "CS_ERR_ACCESS (not allowed: uidgid in corosync.conf?)";
	case CS_ERR_NOT_EXIST:
		return "CS_ERR_NOT_EXIST";
	case CS_ERR_NAME_TOO_LONG:
		return "CS_ERR_NAME_TOO_LONG";
	case CS_ERR_EXIST:
		return "CS_ERR_EXIST";
	case CS_ERR_NO_SPACE:
		return "CS_ERR_NO_SPACE";
	case CS_ERR_INTERRUPT:
		return "CS_ERR_INTERRUPT";
	case CS_ERR_NOT_SUPPORTED:
		return "CS_ERR_NOT_SUPPORTED";
	case CS_ERR_MESSAGE_ERROR:
		return "CS_ERR_MESSAGE_ERROR";
	default:
		return "corosync error";
	}
}

/* "what: ERR", with a hint when the IPC itself failed (corosync absent) */
static void cs_why(char *buf, size_t len, const char *what, cs_error_t e)
{
	snprintf(buf, len, "%s: %s%s", what, cs_err_name(e),
		 e == CS_ERR_LIBRARY ? " (corosync not running?)" : "");
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* copy node ids into out (at most CS_MAX_MEMBERS), ascending, without
 * duplicates (several processes of one node may be in a CPG group) */
static size_t ids_sorted(uint32_t *out, const uint32_t *in, size_t n)
{
	size_t k = 0;

	if (n > CS_MAX_MEMBERS)
		n = CS_MAX_MEMBERS;
	memcpy(out, in, n * sizeof(*out));
	qsort(out, n, sizeof(*out), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || out[k - 1] != out[i])
			out[k++] = out[i];
	return k;
}

static bool quorum_equal(const struct cs_quorum *a, const struct cs_quorum *b)
{
	return a->quorate == b->quorate && a->total_votes == b->total_votes &&
	       a->expected_votes == b->expected_votes && a->quorum == b->quorum && a->flags == b->flags &&
	       a->n_members == b->n_members && a->ring_rep == b->ring_rep && a->ring_seq == b->ring_seq &&
	       memcmp(a->members, b->members, a->n_members * sizeof(a->members[0])) == 0;
}

/* ---------------------------------------------------------------- library callbacks */

static struct cs_client *cpg_client(cpg_handle_t h)
{
	void *ctx = NULL;

	return cpg_context_get(h, &ctx) == CS_OK ? ctx : NULL;
}

static void on_cpg_deliver(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid, uint32_t pid,
			   void *msg, size_t len)
{
	struct cs_client *c = cpg_client(h);

	if (!c || c->free_pending || c->lost || len > CS_MAX_MESSAGE)
		return;
	if (c->cb.message)
		c->cb.message(c->ud, nodeid, msg, len, c->now);
}

static void on_cpg_confchg(cpg_handle_t h, const struct cpg_name *group, const struct cpg_address *members,
			   size_t n_members, const struct cpg_address *left, size_t n_left,
			   const struct cpg_address *joined, size_t n_joined)
{
	struct cs_client *c = cpg_client(h);
	uint32_t ids[CPG_MEMBERS_MAX], out[CS_MAX_MEMBERS];
	size_t n;

	if (!c || c->free_pending || c->lost)
		return;
	if (n_members > CPG_MEMBERS_MAX)
		n_members = CPG_MEMBERS_MAX;
	for (size_t i = 0; i < n_members; i++)
		ids[i] = members[i].nodeid;
	n = ids_sorted(out, ids, n_members);
	if (c->cb.membership)
		c->cb.membership(c->ud, out, n, c->now);
}

static struct cs_client *quorum_client(quorum_handle_t h)
{
	const void *ctx = NULL;

	return quorum_context_get(h, &ctx) == CS_OK ? (struct cs_client *)ctx : NULL;
}

static void on_quorum(quorum_handle_t h, uint32_t quorate, struct quorum_ring_id ring, uint32_t n,
		      const uint32_t *members)
{
	struct cs_client *c = quorum_client(h);

	if (!c)
		return;
	c->view.quorate = quorate != 0;
	c->view.ring_rep = ring.nodeid;
	c->view.ring_seq = ring.seq;
	c->view.ring_id = (uint64_t)ring.nodeid << 32 | (ring.seq & 0xffffffffu);
	c->view.n_members = ids_sorted(c->view.members, members, n);
	c->have_qview = true;
	c->q_dirty = true;
}

static void on_quorum_nodelist(quorum_handle_t h, struct quorum_ring_id ring, uint32_t n,
			       const uint32_t *members, uint32_t n_joined, const uint32_t *joined,
			       uint32_t n_left, const uint32_t *left)
{
	struct cs_client *c = quorum_client(h);

	/* the quorum notification that follows carries the same list and
	 * whether it is quorate; only the votes may have moved */
	if (c)
		c->q_dirty = true;
}

static struct cs_client *vq_client(votequorum_handle_t h)
{
	void *ctx = NULL;

	return votequorum_context_get(h, &ctx) == CS_OK ? ctx : NULL;
}

static void on_vq_quorum(votequorum_handle_t h, uint64_t context, uint32_t quorate, uint32_t n,
			 votequorum_node_t nodes[])
{
	struct cs_client *c = vq_client(h);

	if (c)
		c->q_dirty = true;
}

static void on_vq_nodelist(votequorum_handle_t h, uint64_t context, votequorum_ring_id_t ring, uint32_t n,
			   uint32_t nodes[])
{
	struct cs_client *c = vq_client(h);

	if (c)
		c->q_dirty = true;
}

static void on_vq_expected(votequorum_handle_t h, uint64_t context, uint32_t expected)
{
	struct cs_client *c = vq_client(h);

	if (c)
		c->q_dirty = true;
}

/* ---------------------------------------------------------------- connection */

/* leave: say goodbye to the group first (cs_client_free); a lost or failing
 * connection is just finalized, corosync drops us from the group itself */
static void cs_teardown(struct cs_client *c, bool leave)
{
	ev_io_del(c->io_cpg);
	ev_io_del(c->io_q);
	ev_io_del(c->io_vq);
	c->io_cpg = c->io_q = c->io_vq = NULL;
	if (c->have_cpg) {
		struct cpg_name name = {.length = (uint32_t)strlen(c->group)};

		memcpy(name.value, c->group, name.length);
		if (leave && c->connected && !c->lost)
			(void)cpg_leave(c->cpg, &name);
		(void)cpg_finalize(c->cpg);
	}
	if (c->have_q)
		(void)quorum_finalize(c->qh);
	if (c->have_vq)
		(void)votequorum_finalize(c->vq);
	c->have_cpg = c->have_q = c->have_vq = false;
	c->connected = false;
	c->lost = false;
	c->have_qview = c->q_dirty = c->q_published = false;
	memset(&c->view, 0, sizeof(c->view));
	memset(&c->q, 0, sizeof(c->q));
	ev_timer_set(c->refresh, USEC_INFINITY);
}

/* Drop the connection (or the failed attempt), say so once per outage, and
 * retry after the current backoff, which doubles up to the maximum. */
static void cs_lose(struct cs_client *c, const char *why, usec_t now)
{
	bool was = c->connected;

	cs_teardown(c, false);
	ev_timer_set(c->retry, now + c->backoff);
	if (was || !c->down_reported)
		log_debug("corosync: next attempt in %llu ms",
			  (unsigned long long)(c->backoff / USEC_PER_MSEC));
	c->backoff = c->backoff * 2 > CS_BACKOFF_MAX_USEC ? CS_BACKOFF_MAX_USEC : c->backoff * 2;
	if (c->down_reported) {
		log_debug("corosync: still not connected (%s)", why);
		return;
	}
	c->down_reported = true;
	log_warn("corosync: not connected (%s), retrying", why);
	if (c->cb.disconnected)
		c->cb.disconnected(c->ud, why, now);
}

static void cs_on_io(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now, void *ud);

static int cs_watch(struct cs_client *c, int fd, struct ev_io **ret_io)
{
	return ev_io_add(c->loop, fd, EPOLLIN, cs_on_io, c, ret_io);
}

/* One attempt: every handle, fd and track, or nothing. 0, or -EAGAIN with
 * `why` filled in. */
static int cs_connect(struct cs_client *c, char *why, size_t why_len)
{
	cpg_model_v1_data_t cpg_model = {
		.model = CPG_MODEL_V1,
		.cpg_deliver_fn = on_cpg_deliver,
		.cpg_confchg_fn = on_cpg_confchg,
	};
	quorum_model_v1_data_t q_model = {
		.model = QUORUM_MODEL_V1,
		.quorum_notify_fn = on_quorum,
		.nodelist_notify_fn = on_quorum_nodelist,
	};
	votequorum_callbacks_t vq_cbs = {
		.votequorum_quorum_notify_fn = on_vq_quorum,
		.votequorum_expectedvotes_notify_fn = on_vq_expected,
		.votequorum_nodelist_notify_fn = on_vq_nodelist,
	};
	struct cpg_name name = {.length = (uint32_t)strlen(c->group)};
	struct votequorum_info info;
	uint32_t q_type = 0;
	const char *what;
	cs_error_t e;
	int fd, r;

	memcpy(name.value, c->group, name.length);
	what = "cpg_initialize";
	e = cpg_model_initialize(&c->cpg, CPG_MODEL_V1, (cpg_model_data_t *)&cpg_model, c);
	if (e != CS_OK)
		goto fail;
	c->have_cpg = true;
	what = "cpg_fd_get";
	if ((e = cpg_fd_get(c->cpg, &fd)) != CS_OK)
		goto fail;
	if ((r = cs_watch(c, fd, &c->io_cpg)) < 0)
		goto fail_errno;
	what = "cpg_local_get";
	if ((e = cpg_local_get(c->cpg, &c->local_id)) != CS_OK)
		goto fail;

	what = "quorum_initialize";
	e = quorum_model_initialize(&c->qh, QUORUM_MODEL_V1, (quorum_model_data_t *)&q_model, &q_type, c);
	if (e != CS_OK)
		goto fail;
	c->have_q = true;
	what = "quorum_fd_get";
	if ((e = quorum_fd_get(c->qh, &fd)) != CS_OK)
		goto fail;
	if ((r = cs_watch(c, fd, &c->io_q)) < 0)
		goto fail_errno;
	what = "quorum_trackstart";
	if ((e = quorum_trackstart(c->qh, CS_TRACK_CURRENT | CS_TRACK_CHANGES)) != CS_OK)
		goto fail;

	what = "votequorum_initialize";
	if ((e = votequorum_initialize(&c->vq, &vq_cbs)) != CS_OK)
		goto fail;
	c->have_vq = true;
	what = "votequorum_context_set";
	if ((e = votequorum_context_set(c->vq, c)) != CS_OK)
		goto fail;
	what = "votequorum_fd_get";
	if ((e = votequorum_fd_get(c->vq, &fd)) != CS_OK)
		goto fail;
	if ((r = cs_watch(c, fd, &c->io_vq)) < 0)
		goto fail_errno;
	what = "votequorum_trackstart";
	if ((e = votequorum_trackstart(c->vq, 0, CS_TRACK_CURRENT | CS_TRACK_CHANGES)) != CS_OK)
		goto fail;
	/* votequorum answers only when it is the quorum provider */
	what = "votequorum_getinfo";
	if ((e = votequorum_getinfo(c->vq, c->local_id, &info)) != CS_OK)
		goto fail;

	/* last: joining makes us visible to the group */
	what = "cpg_join";
	if ((e = cpg_join(c->cpg, &name)) != CS_OK)
		goto fail;
	return 0;

fail:
	cs_why(why, why_len, what, e);
	return -EAGAIN;
fail_errno:
	snprintf(why, why_len, "cannot watch the %s fd: %s", what, strerror(-r));
	return -EAGAIN;
}

static void cs_on_retry(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *ud)
{
	struct cs_client *c = ud;
	char why[160];

	ev_timer_set(t, USEC_INFINITY);
	if (c->connected) {
		/* a send found the connection dead: tear down outside its caller */
		cs_lose(c, c->lost_why, now);
		return;
	}
	c->now = now;
	if (cs_connect(c, why, sizeof(why)) < 0) {
		cs_lose(c, why, now);
		return;
	}
	c->connected = true;
	c->down_reported = false;
	c->backoff = CS_BACKOFF_MIN_USEC;
	log_info("corosync: connected (node id %u)", c->local_id);
	if (c->cb.connected)
		c->cb.connected(c->ud, c->local_id, now);
}

/* Combine libquorum's view with the votes and publish it when it changed. */
static void cs_quorum_refresh(struct cs_client *c, usec_t now)
{
	struct votequorum_info info;
	struct cs_quorum q;
	char why[160];
	cs_error_t e;

	if (!c->connected || !c->q_dirty || !c->have_qview)
		return;
	e = votequorum_getinfo(c->vq, c->local_id, &info);
	if (e == CS_ERR_TRY_AGAIN) {
		ev_timer_set(c->refresh, now + CS_BACKOFF_MIN_USEC);
		return;
	}
	if (e != CS_OK) {
		cs_why(why, sizeof(why), "votequorum_getinfo", e);
		cs_lose(c, why, now);
		return;
	}
	c->q_dirty = false;
	q = c->view;
	q.total_votes = info.total_votes;
	q.expected_votes = info.node_expected_votes;
	q.quorum = info.quorum;
	q.flags = 0;
	if (info.flags & VOTEQUORUM_INFO_TWONODE)
		q.flags |= CS_FLAG_TWO_NODE;
	if (info.flags & VOTEQUORUM_INFO_WAIT_FOR_ALL)
		q.flags |= CS_FLAG_WAIT_FOR_ALL;
	if (info.flags & VOTEQUORUM_INFO_LAST_MAN_STANDING)
		q.flags |= CS_FLAG_LAST_MAN_STANDING;
	if (info.flags & VOTEQUORUM_INFO_AUTO_TIE_BREAKER)
		q.flags |= CS_FLAG_AUTO_TIE_BREAKER;
	if (c->q_published && quorum_equal(&q, &c->q))
		return;
	c->q = q;
	c->q_published = true;
	if (c->cb.quorum)
		c->cb.quorum(c->ud, &c->q, now);
}

static void cs_on_refresh(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *ud)
{
	struct cs_client *c = ud;

	ev_timer_set(t, USEC_INFINITY);
	cs_quorum_refresh(c, now);
}

static void cs_destroy(struct cs_client *c)
{
	cs_teardown(c, true);
	ev_timer_del(c->retry);
	ev_timer_del(c->refresh);
	free(c);
}

static void cs_on_io(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now, void *ud)
{
	struct cs_client *c = ud;
	const char *what;
	char why[160];
	cs_error_t e;

	c->now = now;
	c->dispatching++;
	if (io == c->io_cpg) {
		what = "cpg_dispatch";
		e = cpg_dispatch(c->cpg, CS_DISPATCH_ALL);
	} else if (io == c->io_q) {
		what = "quorum_dispatch";
		e = quorum_dispatch(c->qh, CS_DISPATCH_ALL);
	} else {
		what = "votequorum_dispatch";
		e = votequorum_dispatch(c->vq, CS_DISPATCH_ALL);
	}
	c->dispatching--;
	if (c->free_pending) {
		if (!c->dispatching)
			cs_destroy(c);
		return;
	}
	if (e != CS_OK && e != CS_ERR_TRY_AGAIN) {
		snprintf(why, sizeof(why), "%s: %s, connection lost", what, cs_err_name(e));
		cs_lose(c, why, now);
		return;
	}
	if (events & (EPOLLHUP | EPOLLERR)) {
		snprintf(why, sizeof(why), "%s: connection closed by corosync", what);
		cs_lose(c, why, now);
		return;
	}
	if (c->lost) {
		cs_lose(c, c->lost_why, now);
		return;
	}
	cs_quorum_refresh(c, now);
}

/* ---------------------------------------------------------------- API */

int cs_client_new(struct ev_loop *loop, const char *group, const struct cs_callbacks *cb, void *userdata,
		  struct cs_client **ret_client)
{
	struct cs_client *c;
	size_t len;
	int r;

	if (!loop || !group || !cb || !ret_client)
		return -EINVAL;
	len = strlen(group);
	if (len == 0 || len >= CPG_MAX_NAME_LENGTH)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	memcpy(c->group, group, len + 1);
	c->cb = *cb;
	c->ud = userdata;
	c->backoff = CS_BACKOFF_MIN_USEC;
	/* first attempt from the loop, so no callback runs before we return */
	r = ev_timer_add(loop, ev_loop_now(loop), cs_on_retry, c, &c->retry);
	if (r < 0)
		goto fail;
	r = ev_timer_add(loop, USEC_INFINITY, cs_on_refresh, c, &c->refresh);
	if (r < 0)
		goto fail;
	*ret_client = c;
	return 0;

fail:
	ev_timer_del(c->retry);
	free(c);
	return r;
}

void cs_client_free(struct cs_client *c)
{
	if (!c)
		return;
	if (c->dispatching) {
		/* called from one of our callbacks: finish once the library returns */
		c->free_pending = true;
		return;
	}
	cs_destroy(c);
}

bool cs_client_connected(const struct cs_client *c)
{
	return c && c->connected && !c->lost;
}

int cs_client_send(struct cs_client *c, const void *data, size_t len)
{
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	cs_error_t e;

	if (!c || (!data && len))
		return -EINVAL;
	if (!cs_client_connected(c))
		return -ENOTCONN;
	if (len > CS_MAX_MESSAGE)
		return -EMSGSIZE;
	e = cpg_mcast_joined(c->cpg, CPG_TYPE_AGREED, &iov, 1);
	switch (e) {
	case CS_OK:
		return 0;
	case CS_ERR_TRY_AGAIN:
		return -EAGAIN;
	case CS_ERR_TOO_BIG:
		return -EMSGSIZE;
	default:
		/* the connection is gone; tear it down from the loop, not under
		 * our caller (which may be one of our own callbacks) */
		snprintf(c->lost_why, sizeof(c->lost_why), "cpg_mcast_joined: %s, connection lost",
			 cs_err_name(e));
		c->lost = true;
		ev_timer_set(c->retry, ev_loop_now(c->loop));
		return -ENOTCONN;
	}
}

const struct cs_quorum *cs_client_quorum(const struct cs_client *c)
{
	static const struct cs_quorum none;

	return c && c->connected && c->q_published ? &c->q : &none;
}
