/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-loop.c: the event loop under a fake clock — fd dispatch,
 * one-shot timers, re-arming and deleting inside callbacks, prepare hooks'
 * deadlines and signals through signalfd. No sleeps: every wait is bounded
 * by a timer or a ready fd. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/loop.h"

static usec_t fake_now;
static usec_t fake_clock(void)
{
	return fake_now;
}

struct counter {
	int fired;
	usec_t at;
	struct ev_timer *rearm; /* re-arm this timer +100 from the callback */
	struct ev_timer *del;   /* delete this timer from the callback */
	struct ev_io *del_io;
};

static void timer_cb(struct ev_loop *l, struct ev_timer *t, usec_t now, void *ud)
{
	struct counter *c = ud;

	c->fired++;
	c->at = now;
	if (c->rearm)
		ev_timer_set(c->rearm, now + 100);
	if (c->del)
		ev_timer_del(c->del);
}

static void test_timer_fires_once_at_deadline(void **state)
{
	struct ev_loop *l;
	struct counter c = {0};
	struct ev_timer *t;

	fake_now = 1000;
	assert_int_equal(ev_loop_new(fake_clock, &l), 0);
	assert_int_equal(ev_timer_add(l, 1500, timer_cb, &c, &t), 0);
	assert_int_equal(ev_loop_run_once(l, 0), 0); /* not due: nothing runs */
	assert_int_equal(c.fired, 0);
	fake_now = 1499;
	assert_int_equal(ev_loop_run_once(l, 0), 0);
	fake_now = 1500;
	assert_int_equal(ev_loop_run_once(l, 0), 1);
	assert_int_equal(c.fired, 1);
	assert_int_equal(c.at, 1500);
	fake_now = 5000; /* one-shot: never again until re-armed */
	assert_int_equal(ev_loop_run_once(l, 0), 0);
	ev_timer_set(t, 5000);
	assert_int_equal(ev_loop_run_once(l, 0), 1);
	assert_int_equal(c.fired, 2);
	ev_loop_free(l);
}

static void test_timer_rearm_in_callback_waits_next_iteration(void **state)
{
	struct ev_loop *l;
	struct counter c = {0};
	struct ev_timer *t;

	fake_now = 0;
	assert_int_equal(ev_loop_new(fake_clock, &l), 0);
	assert_int_equal(ev_timer_add(l, 0, timer_cb, &c, &t), 0);
	c.rearm = t;
	assert_int_equal(ev_loop_run_once(l, 0), 1);
	assert_int_equal(c.fired, 1); /* re-armed to 100: not run again now */
	fake_now = 99;
	assert_int_equal(ev_loop_run_once(l, 0), 0);
	fake_now = 100;
	assert_int_equal(ev_loop_run_once(l, 0), 1);
	assert_int_equal(c.fired, 2);
	ev_loop_free(l);
}

static void test_timer_delete_other_in_callback(void **state)
{
	struct ev_loop *l;
	struct counter a = {0}, b = {0};
	struct ev_timer *ta, *tb;

	fake_now = 0;
	assert_int_equal(ev_loop_new(fake_clock, &l), 0);
	assert_int_equal(ev_timer_add(l, 10, timer_cb, &b, &tb), 0);
	assert_int_equal(ev_timer_add(l, 10, timer_cb, &a, &ta), 0); /* list head: runs first */
	a.del = tb;
	fake_now = 10;
	assert_int_equal(ev_loop_run_once(l, 0), 1);
	assert_int_equal(a.fired, 1);
	assert_int_equal(b.fired, 0); /* deleted before its turn */
	ev_timer_del(ta);
	ev_timer_del(NULL);
	assert_int_equal(ev_loop_run_once(l, 0), 0);
	ev_loop_free(l);
}

static void io_cb(struct ev_loop *l, struct ev_io *io, int fd, uint32_t events, usec_t now, void *ud)
{
	struct counter *c = ud;
	char buf[16];

	c->fired++;
	c->at = now;
	assert_true(events & EPOLLIN);
	assert_true(read(fd, buf, sizeof(buf)) > 0);
	if (c->del_io)
		ev_io_del(c->del_io);
}

static void test_io_dispatch_and_delete(void **state)
{
	struct ev_loop *l;
	struct counter c = {0};
	struct ev_io *io;
	int p[2];

	fake_now = 7;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ev_loop_new(fake_clock, &l), 0);
	assert_int_equal(ev_io_add(l, p[0], EPOLLIN, io_cb, &c, &io), 0);
	assert_int_equal(ev_loop_run_once(l, 0), 0); /* nothing to read */
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(ev_loop_run_once(l, 0), 1);
	assert_int_equal(c.fired, 1);
	assert_int_equal(c.at, 7); /* `now` handed down is the loop's clock */
	c.del_io = io;             /* deleting itself inside its callback is safe */
	assert_int_equal(write(p[1], "y", 1), 1);
	assert_int_equal(ev_loop_run_once(l, 0), 1);
	assert_int_equal(write(p[1], "z", 1), 1);
	assert_int_equal(ev_loop_run_once(l, 0), 0); /* gone */
	assert_int_equal(c.fired, 2);
	assert_int_equal(ev_io_add(l, -1, EPOLLIN, io_cb, &c, NULL), -EINVAL);
	ev_loop_free(l);
	close(p[0]);
	close(p[1]);
}

struct prep {
	int calls;
	usec_t deadline;
	usec_t seen_now;
};

static usec_t prep_cb(struct ev_loop *l, usec_t now, void *ud)
{
	struct prep *p = ud;

	p->calls++;
	p->seen_now = now;
	return p->deadline;
}

static usec_t real_clock(void)
{
	return time_now_usec();
}

/* A prepare hook's deadline bounds the wait: with a real clock and no fds,
 * run_once returns once the deadline passes instead of blocking forever. */
static void test_prepare_deadline_bounds_wait(void **state)
{
	struct ev_loop *l;
	struct prep p = {0};
	usec_t t0;

	assert_int_equal(ev_loop_new(real_clock, &l), 0);
	assert_int_equal(ev_prepare_add(l, prep_cb, &p), 0);
	t0 = time_now_usec();
	p.deadline = t0 + 20 * USEC_PER_MSEC;
	assert_int_equal(ev_loop_run_once(l, USEC_INFINITY), 0);
	assert_int_equal(p.calls, 1);
	assert_true(p.seen_now >= t0);
	assert_true(time_now_usec() >= p.deadline); /* waited until the deadline, not less */
	ev_loop_free(l);
}

static void sig_cb(struct ev_loop *l, int signo, usec_t now, void *ud)
{
	int *got = ud;

	*got = signo;
	ev_loop_quit(l);
}

static void test_signal_via_signalfd(void **state)
{
	struct ev_loop *l;
	int got = 0;

	assert_int_equal(ev_loop_new(real_clock, &l), 0);
	assert_int_equal(ev_signal_add(l, SIGUSR2, sig_cb, &got), 0);
	assert_int_equal(raise(SIGUSR2), 0); /* blocked: queued for the signalfd */
	assert_int_equal(ev_loop_run(l), 0); /* returns once the callback quits */
	assert_int_equal(got, SIGUSR2);
	ev_loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_fires_once_at_deadline),
		cmocka_unit_test(test_timer_rearm_in_callback_waits_next_iteration),
		cmocka_unit_test(test_timer_delete_other_in_callback),
		cmocka_unit_test(test_io_dispatch_and_delete),
		cmocka_unit_test(test_prepare_deadline_bounds_wait),
		cmocka_unit_test(test_signal_via_signalfd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
