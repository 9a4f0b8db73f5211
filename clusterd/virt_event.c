/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd/virt_event.c: libvirt's event API over common/loop (see
 * virt_event.h). libvirt's rules honoured here: a watch with no events is
 * taken out of epoll (else HUP would still wake us); a 0 ms timeout fires on
 * every iteration; free callbacks run later from a clean stack (a prepare
 * hook), never inside a remove call. Watches and timers live in one list;
 * lookups are O(n) over the few libvirt uses (a handful per connection). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <libvirt/libvirt.h>

#include "clusterd/virt_event.h"

struct vwatch {
	int id;
	bool is_timer;
	bool removed;
	/* handle */
	int fd, dupfd; /* dupfd >= 0: we registered a dup (fd already in epoll) */
	int events;    /* VIR_EVENT_HANDLE_* wanted */
	struct ev_io *io;
	virEventHandleCallback hcb;
	/* timer */
	int timeout_ms; /* -1 disabled */
	struct ev_timer *timer;
	virEventTimeoutCallback tcb;
	void *opaque;
	virFreeCallback ff;
	struct vwatch *next;
};

static struct ev_loop *vloop;
static struct vwatch *watches;
static int next_id = 1;

static struct vwatch *find(int id, bool is_timer)
{
	for (struct vwatch *w = watches; w; w = w->next)
		if (w->id == id && w->is_timer == is_timer && !w->removed)
			return w;
	return NULL;
}

static uint32_t to_epoll(int ev)
{
	return (ev & VIR_EVENT_HANDLE_READABLE ? EPOLLIN : 0) |
	       (ev & VIR_EVENT_HANDLE_WRITABLE ? EPOLLOUT : 0);
}

static int from_epoll(uint32_t ev)
{
	return (ev & EPOLLIN ? VIR_EVENT_HANDLE_READABLE : 0) |
	       (ev & EPOLLOUT ? VIR_EVENT_HANDLE_WRITABLE : 0) |
	       (ev & EPOLLERR ? VIR_EVENT_HANDLE_ERROR : 0) | (ev & EPOLLHUP ? VIR_EVENT_HANDLE_HANGUP : 0);
}

static void on_fd(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now, void *ud)
{
	struct vwatch *w = ud;

	if (!w->removed && w->hcb)
		w->hcb(w->id, w->fd, from_epoll(events), w->opaque);
}

/* Put the watch in epoll with its events, or take it out when it wants none. */
static int arm_handle(struct vwatch *w)
{
	int r;

	if (!w->events || w->removed) {
		ev_io_del(w->io);
		w->io = NULL;
		return 0;
	}
	if (w->io)
		return ev_io_modify(w->io, to_epoll(w->events));
	r = ev_io_add(vloop, w->dupfd >= 0 ? w->dupfd : w->fd, to_epoll(w->events), on_fd, w, &w->io);
	if (r == -EEXIST && w->dupfd < 0) {
		/* libvirt watches the same fd twice: give epoll a second description */
		w->dupfd = dup(w->fd);
		if (w->dupfd < 0)
			return -errno;
		r = ev_io_add(vloop, w->dupfd, to_epoll(w->events), on_fd, w, &w->io);
	}
	return r;
}

static int add_handle(int fd, int event, virEventHandleCallback cb, void *opaque, virFreeCallback ff)
{
	struct vwatch *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	*w = (struct vwatch){.id = next_id++,
			     .fd = fd,
			     .dupfd = -1,
			     .events = event,
			     .hcb = cb,
			     .opaque = opaque,
			     .ff = ff,
			     .timeout_ms = -1};
	if (arm_handle(w) < 0) {
		if (w->dupfd >= 0)
			close(w->dupfd);
		free(w);
		return -1;
	}
	w->next = watches;
	watches = w;
	return w->id;
}

static void update_handle(int id, int event)
{
	struct vwatch *w = find(id, false);

	if (!w)
		return;
	w->events = event;
	(void)arm_handle(w);
}

static int remove_handle(int id)
{
	struct vwatch *w = find(id, false);

	if (!w)
		return -1;
	w->removed = true;
	ev_io_del(w->io);
	w->io = NULL;
	return 0;
}

static void on_timer(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *ud)
{
	struct vwatch *w = ud;

	if (w->removed || w->timeout_ms < 0)
		return;
	/* periodic: re-arm before the callback, which may change or remove it */
	ev_timer_set(t, now + (usec_t)w->timeout_ms * USEC_PER_MSEC);
	w->tcb(w->id, w->opaque);
}

static int add_timeout(int timeout, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff)
{
	struct vwatch *w = calloc(1, sizeof(*w));
	usec_t now = ev_loop_now(vloop);

	if (!w)
		return -1;
	*w = (struct vwatch){.id = next_id++,
			     .is_timer = true,
			     .fd = -1,
			     .dupfd = -1,
			     .timeout_ms = timeout,
			     .tcb = cb,
			     .opaque = opaque,
			     .ff = ff};
	if (ev_timer_add(vloop, timeout < 0 ? USEC_INFINITY : now + (usec_t)timeout * USEC_PER_MSEC, on_timer,
			 w, &w->timer) < 0) {
		free(w);
		return -1;
	}
	w->next = watches;
	watches = w;
	return w->id;
}

static void update_timeout(int id, int timeout)
{
	struct vwatch *w = find(id, true);

	if (!w)
		return;
	w->timeout_ms = timeout;
	ev_timer_set(w->timer,
		     timeout < 0 ? USEC_INFINITY : ev_loop_now(vloop) + (usec_t)timeout * USEC_PER_MSEC);
}

static int remove_timeout(int id)
{
	struct vwatch *w = find(id, true);

	if (!w)
		return -1;
	w->removed = true;
	ev_timer_del(w->timer);
	w->timer = NULL;
	return 0;
}

/* Free what libvirt removed, from the loop's clean stack. */
static usec_t sweep(struct ev_loop *loop, usec_t now, void *ud)
{
	struct vwatch **p = &watches;

	while (*p) {
		struct vwatch *w = *p;

		if (!w->removed) {
			p = &w->next;
			continue;
		}
		*p = w->next;
		if (w->dupfd >= 0)
			close(w->dupfd);
		if (w->ff)
			w->ff(w->opaque);
		free(w);
	}
	return USEC_INFINITY;
}

int cl_virt_event_register(struct ev_loop *loop)
{
	int r;

	if (!loop)
		return -EINVAL;
	if (vloop)
		return vloop == loop ? 0 : -EALREADY;
	r = ev_prepare_add(loop, sweep, NULL);
	if (r < 0)
		return r;
	vloop = loop;
	virEventRegisterImpl(add_handle, update_handle, remove_handle, add_timeout, update_timeout,
			     remove_timeout);
	return 0;
}

int cl_virt_event_count(void)
{
	int n = 0;

	for (struct vwatch *w = watches; w; w = w->next)
		n += !w->removed;
	return n;
}
