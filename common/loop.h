/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common/loop.h: the one event loop (epoll) that owns every fd and timer of
 * the daemon. Single-threaded; `now` is read once per iteration and handed
 * to every callback. Callbacks must not block. Errors are -errno. */
#ifndef CL_LOOP_H
#define CL_LOOP_H

#include <stdint.h>

#include "common/time.h"

struct ev_loop;
struct ev_io;
struct ev_timer;

/* events: EPOLLIN/EPOLLOUT/... bits as returned by epoll. */
typedef void (*ev_io_cb)(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, usec_t now,
			 void *userdata);
typedef void (*ev_timer_cb)(struct ev_loop *loop, struct ev_timer *t, usec_t now, void *userdata);
/* Called once per iteration before waiting; may return the next deadline it
 * needs (USEC_INFINITY for none). Used by state machines that expose a
 * "next deadline" instead of owning timers. */
typedef usec_t (*ev_prepare_cb)(struct ev_loop *loop, usec_t now, void *userdata);

/* clock: NULL for time_now_usec (tests may inject a fake). */
int ev_loop_new(usec_t (*clock)(void), struct ev_loop **ret_loop);
void ev_loop_free(struct ev_loop *loop);
usec_t ev_loop_now(const struct ev_loop *loop);

/* Watch fd for `events` (EPOLLIN, EPOLLOUT). The loop does not own the fd. */
int ev_io_add(struct ev_loop *loop, int fd, uint32_t events, ev_io_cb cb, void *userdata,
	      struct ev_io **ret_io);
int ev_io_modify(struct ev_io *io, uint32_t events);
void ev_io_del(struct ev_io *io); /* NULL is fine; safe inside callbacks */

/* One-shot timer at absolute monotonic time `when`; re-arm with ev_timer_set. */
int ev_timer_add(struct ev_loop *loop, usec_t when, ev_timer_cb cb, void *userdata,
		 struct ev_timer **ret_timer);
void ev_timer_set(struct ev_timer *t, usec_t when); /* USEC_INFINITY disarms */
void ev_timer_del(struct ev_timer *t);              /* NULL is fine; safe inside callbacks */

int ev_prepare_add(struct ev_loop *loop, ev_prepare_cb cb, void *userdata);

/* Signals are delivered through a signalfd: block them, then this. */
typedef void (*ev_signal_cb)(struct ev_loop *loop, int signo, usec_t now, void *userdata);
int ev_signal_add(struct ev_loop *loop, int signo, ev_signal_cb cb, void *userdata);

/* Run one iteration: wait at most until the earliest deadline (or max_wait
 * µs, USEC_INFINITY for no limit), then dispatch. Returns number of
 * callbacks run, or -errno. */
int ev_loop_run_once(struct ev_loop *loop, usec_t max_wait);
/* Run until ev_loop_quit(); returns 0 or -errno. */
int ev_loop_run(struct ev_loop *loop);
void ev_loop_quit(struct ev_loop *loop);

#endif
