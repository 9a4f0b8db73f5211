/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-mig-exec.c: the child-process runner with shell scripts
 * standing in for clusterd-migrate-vm: success, an error line, death by a
 * signal, no verdict, an exit status, a missing program, and a hung child
 * that is freed (killed and reaped). The loop runs until the verdict
 * arrives, with a deadline; nothing sleeps to wait. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "migrate/mig_exec.h"

struct result {
	int calls;
	bool ok;
	char msg[MIG_EXEC_MAX_OUTPUT + 64];
};

static void done(void *ud, bool ok, const char *msg, usec_t now)
{
	struct result *r = ud;

	r->calls++;
	r->ok = ok;
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

static struct result run_script(const char *script)
{
	char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
	struct result r = {0};
	struct ev_loop *loop;
	struct mig_exec *e;
	usec_t deadline;

	assert_int_equal(ev_loop_new(NULL, &loop), 0);
	assert_int_equal(mig_exec_start(loop, argv, done, &r, &e), 0);
	assert_true(mig_exec_pid(e) > 0);
	deadline = time_now_usec() + 10 * USEC_PER_SEC;
	while (r.calls == 0 && time_now_usec() < deadline)
		assert_true(ev_loop_run_once(loop, 100 * USEC_PER_MSEC) >= 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(mig_exec_pid(e), -1); /* reaped */
	mig_exec_free(e);
	ev_loop_free(loop);
	return r;
}

static void test_verdicts(void **state)
{
	static const struct {
		const char *script;
		bool ok;
		const char *msg;
	} cases[] = {
		{"echo ok", true, "ok"},
		{"echo 'progress 10%'; echo ok", true, "ok"},
		{"echo 'error: migration failed: unable to connect to server'; exit 1", false,
		 "migration failed: unable to connect to server"},
		{"echo ok; exit 3", false, "helper exited with status 3: ok"},
		{"kill -9 $$", false, "helper killed by signal 9 (Killed)"},
		{"true", false, "helper gave no verdict"},
		{"echo something else", false, "helper gave no verdict: something else"},
		{"exit 1", false, "helper exited with status 1"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct result r = run_script(cases[i].script);

		if (r.ok != cases[i].ok || strcmp(r.msg, cases[i].msg) != 0)
			fail_msg("'%s': got ok=%d '%s', want ok=%d '%s'", cases[i].script, r.ok, r.msg,
				 cases[i].ok, cases[i].msg);
	}
}

/* Megabytes of output (a long run's progress) do not matter: lines are
 * handled as they come; an over-long line is cut, not a crash. */
static void test_long_output_is_bounded(void **state)
{
	struct result r =
		run_script("head -c 100000 /dev/zero | tr '\\\\0' x; echo; echo 'error: boom'; exit 1");

	assert_false(r.ok);
	assert_string_equal(r.msg, "boom");
	r = run_script("for i in $(seq 20000); do echo \"progress $i 0 0 0 1\"; done; echo ok");
	assert_true(r.ok);
}

static int progress_lines;
static char last_progress[128];

static void on_progress(void *ud, const char *line, usec_t now)
{
	progress_lines++;
	snprintf(last_progress, sizeof(last_progress), "%s", line);
}

/* Progress lines reach the callback and never count as the verdict; a
 * signal reaches the child (the abort path). */
static void test_progress_and_signal(void **state)
{
	char *argv[] = {
		"/bin/sh", "-c",
		/* the trap first: the progress lines tell the parent it is ready */
		"trap 'echo \"error: aborted on request\"; exit 1' USR1; "
		"echo 'progress 1 9 10 0 1'; echo 'progress 5 5 10 0 1'; while :; do sleep 0.05; done",
		NULL};
	struct result r = {0};
	struct ev_loop *loop;
	struct mig_exec *e;
	usec_t deadline;

	progress_lines = 0;
	assert_int_equal(ev_loop_new(NULL, &loop), 0);
	assert_int_equal(mig_exec_start(loop, argv, done, &r, &e), 0);
	mig_exec_set_progress(e, on_progress);
	deadline = time_now_usec() + 10 * USEC_PER_SEC;
	while (progress_lines < 2 && time_now_usec() < deadline)
		ev_loop_run_once(loop, 50 * USEC_PER_MSEC);
	assert_int_equal(progress_lines, 2);
	assert_string_equal(last_progress, "5 5 10 0 1");
	assert_int_equal(mig_exec_signal(e, SIGUSR1), 0);
	while (r.calls == 0 && time_now_usec() < deadline)
		ev_loop_run_once(loop, 50 * USEC_PER_MSEC);
	assert_int_equal(r.calls, 1);
	assert_false(r.ok);
	assert_string_equal(r.msg, "aborted on request");
	assert_int_equal(mig_exec_signal(e, SIGUSR1), -ESRCH);
	mig_exec_free(e);
	ev_loop_free(loop);
}

static void test_missing_program(void **state)
{
	char *argv[] = {"/nonexistent/clusterd-migrate-vm", NULL};
	struct ev_loop *loop;
	struct mig_exec *e = NULL;
	struct result r = {0};

	assert_int_equal(ev_loop_new(NULL, &loop), 0);
	assert_int_equal(mig_exec_start(loop, argv, done, &r, &e), -ENOENT);
	assert_null(e);
	assert_int_equal(mig_exec_start(loop, NULL, done, &r, &e), -EINVAL);
	ev_loop_free(loop);
}

static void test_free_kills_a_hung_child(void **state)
{
	char *argv[] = {"/bin/sh", "-c", "exec sleep 1000", NULL};
	struct ev_loop *loop;
	struct mig_exec *e;
	struct result r = {0};
	pid_t pid;

	assert_int_equal(ev_loop_new(NULL, &loop), 0);
	assert_int_equal(mig_exec_start(loop, argv, done, &r, &e), 0);
	pid = mig_exec_pid(e);
	assert_true(pid > 0);
	mig_exec_free(e);
	assert_int_equal(kill(pid, 0), -1); /* gone and reaped */
	assert_int_equal(errno, ESRCH);
	assert_int_equal(r.calls, 0); /* freed first: no callback */
	ev_loop_run_once(loop, 0);
	ev_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_long_output_is_bounded),
		cmocka_unit_test(test_progress_and_signal),
		cmocka_unit_test(test_missing_program),
		cmocka_unit_test(test_free_kills_a_hung_child),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
