/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common/loop.c: the daemon's single-threaded epoll loop — fds, one-shot
 * timers, signals (signalfd) and "prepare" hooks that report the next
 * deadline of a state machine. The clock is read once per iteration.
 * Timers live in an unsorted list: O(timers) per iteration, fine for the
 * handful a daemon has. Handles deleted inside callbacks are freed after
 * the dispatch that deleted them. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/loop.h"

struct ev_io {
	struct ev_loop *loop;
	int fd;
	ev_io_cb cb;
	void *userdata;
	bool dead;
	struct ev_io *next;
};

struct ev_timer {
	struct ev_loop *loop;
	usec_t when;
	ev_timer_cb cb;
	void *userdata;
	bool dead;
	bool due; /* due in the current iteration */
	struct ev_timer *next;
};

struct ev_prepare {
	ev_prepare_cb cb;
	void *userdata;
	struct ev_prepare *next;
};

struct ev_sig {
	int signo;
	ev_signal_cb cb;
	void *userdata;
	struct ev_sig *next;
};

struct ev_loop {
	int epfd;
	usec_t (*clock)(void);
	usec_t now;
	bool quit;
	struct ev_io *ios;
	struct ev_timer *timers;
	struct ev_prepare *prepares;
	struct ev_sig *sigs;
	sigset_t sigmask;
	int sigfd;
	struct ev_io *sigio;
	unsigned garbage; /* handles marked dead, to sweep */
};

int ev_loop_new(usec_t (*clock)(void), struct ev_loop **ret_loop)
{
	struct ev_loop *l;

	if (!ret_loop)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int r = -errno;
		free(l);
		return r;
	}
	l->clock = clock ? clock : time_now_usec;
	l->now = l->clock();
	l->sigfd = -1;
	sigemptyset(&l->sigmask);
	*ret_loop = l;
	return 0;
}

void ev_loop_free(struct ev_loop *l)
{
	if (!l)
		return;
	while (l->ios) {
		struct ev_io *n = l->ios->next;
		free(l->ios);
		l->ios = n;
	}
	while (l->timers) {
		struct ev_timer *n = l->timers->next;
		free(l->timers);
		l->timers = n;
	}
	while (l->prepares) {
		struct ev_prepare *n = l->prepares->next;
		free(l->prepares);
		l->prepares = n;
	}
	while (l->sigs) {
		struct ev_sig *n = l->sigs->next;
		free(l->sigs);
		l->sigs = n;
	}
	if (l->sigfd >= 0)
		close(l->sigfd);
	close(l->epfd);
	free(l);
}

usec_t ev_loop_now(const struct ev_loop *l)
{
	return l->now;
}

int ev_io_add(struct ev_loop *l, int fd, uint32_t events, ev_io_cb cb, void *userdata, struct ev_io **ret_io)
{
	struct epoll_event ev = {.events = events};
	struct ev_io *io;

	if (!l || fd < 0 || !cb)
		return -EINVAL;
	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->loop = l;
	io->fd = fd;
	io->cb = cb;
	io->userdata = userdata;
	ev.data.ptr = io;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;
		free(io);
		return r;
	}
	io->next = l->ios;
	l->ios = io;
	if (ret_io)
		*ret_io = io;
	return 0;
}

int ev_io_modify(struct ev_io *io, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = io};

	if (!io || io->dead)
		return -EINVAL;
	return epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0 ? -errno : 0;
}

void ev_io_del(struct ev_io *io)
{
	if (!io || io->dead)
		return;
	/* the fd may already be closed by its owner: ignore the error */
	epoll_ctl(io->loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->dead = true;
	io->loop->garbage++;
}

int ev_timer_add(struct ev_loop *l, usec_t when, ev_timer_cb cb, void *userdata, struct ev_timer **ret_timer)
{
	struct ev_timer *t;

	if (!l || !cb)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->loop = l;
	t->when = when;
	t->cb = cb;
	t->userdata = userdata;
	t->next = l->timers;
	l->timers = t;
	if (ret_timer)
		*ret_timer = t;
	return 0;
}

void ev_timer_set(struct ev_timer *t, usec_t when)
{
	if (t && !t->dead)
		t->when = when;
}

void ev_timer_del(struct ev_timer *t)
{
	if (!t || t->dead)
		return;
	t->dead = true;
	t->when = USEC_INFINITY;
	t->loop->garbage++;
}

int ev_prepare_add(struct ev_loop *l, ev_prepare_cb cb, void *userdata)
{
	struct ev_prepare *p;

	if (!l || !cb)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cb = cb;
	p->userdata = userdata;
	p->next = l->prepares;
	l->prepares = p;
	return 0;
}

static void sig_readable(struct ev_loop *l, struct ev_io *io, int fd, uint32_t events, usec_t now, void *ud)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		for (struct ev_sig *s = l->sigs; s; s = s->next)
			if (s->signo == (int)si.ssi_signo)
				s->cb(l, s->signo, now, s->userdata);
	}
}

int ev_signal_add(struct ev_loop *l, int signo, ev_signal_cb cb, void *userdata)
{
	struct ev_sig *s;
	sigset_t old;
	int fd, r;

	if (!l || !cb || signo <= 0)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	sigaddset(&l->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &l->sigmask, &old) < 0) {
		r = -errno;
		goto fail;
	}
	fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	if (l->sigfd < 0) {
		r = ev_io_add(l, fd, EPOLLIN, sig_readable, NULL, &l->sigio);
		if (r < 0) {
			close(fd);
			goto fail;
		}
		l->sigfd = fd;
	}
	s->signo = signo;
	s->cb = cb;
	s->userdata = userdata;
	s->next = l->sigs;
	l->sigs = s;
	return 0;
fail:
	sigdelset(&l->sigmask, signo);
	free(s);
	return r;
}

static void sweep(struct ev_loop *l)
{
	struct ev_io **pio = &l->ios;
	struct ev_timer **pt = &l->timers;

	if (!l->garbage)
		return;
	while (*pio) {
		if ((*pio)->dead) {
			struct ev_io *d = *pio;
			*pio = d->next;
			free(d);
		} else {
			pio = &(*pio)->next;
		}
	}
	while (*pt) {
		if ((*pt)->dead) {
			struct ev_timer *d = *pt;
			*pt = d->next;
			free(d);
		} else {
			pt = &(*pt)->next;
		}
	}
	l->garbage = 0;
}

int ev_loop_run_once(struct ev_loop *l, usec_t max_wait)
{
	struct epoll_event evs[64];
	usec_t deadline = USEC_INFINITY;
	int n, timeout_ms, ran = 0;

	l->now = l->clock();
	for (struct ev_prepare *p = l->prepares; p; p = p->next) {
		usec_t d = p->cb(l, l->now, p->userdata);
		if (d < deadline)
			deadline = d;
	}
	for (struct ev_timer *t = l->timers; t; t = t->next)
		if (!t->dead && t->when < deadline)
			deadline = t->when;
	if (max_wait != USEC_INFINITY && (deadline == USEC_INFINITY || deadline > l->now + max_wait))
		deadline = l->now + max_wait;

	if (deadline == USEC_INFINITY)
		timeout_ms = -1;
	else if (deadline <= l->now)
		timeout_ms = 0;
	else /* round up: waking early would only spin */
		timeout_ms = (int)((deadline - l->now + USEC_PER_MSEC - 1) / USEC_PER_MSEC);

	n = epoll_wait(l->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout_ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -errno;
	}
	l->now = l->clock();
	for (int i = 0; i < n; i++) {
		struct ev_io *io = evs[i].data.ptr;
		if (io->dead)
			continue;
		io->cb(l, io, io->fd, evs[i].events, l->now, io->userdata);
		ran++;
	}
	/* Timers due now fire once each. Mark first: a callback may add, delete
	 * or re-arm timers (a re-armed or new one waits for the next iteration). */
	for (struct ev_timer *t = l->timers; t; t = t->next)
		t->due = !t->dead && t->when <= l->now;
	for (struct ev_timer *t = l->timers; t; t = t->next) {
		if (!t->due || t->dead)
			continue;
		t->due = false;
		t->when = USEC_INFINITY;
		t->cb(l, t, l->now, t->userdata);
		ran++;
	}
	sweep(l);
	return ran;
}

int ev_loop_run(struct ev_loop *l)
{
	l->quit = false;
	while (!l->quit) {
		int r = ev_loop_run_once(l, USEC_INFINITY);
		if (r < 0)
			return r;
	}
	return 0;
}

void ev_loop_quit(struct ev_loop *l)
{
	l->quit = true;
}
