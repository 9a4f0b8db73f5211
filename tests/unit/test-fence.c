/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-fence.c: the fence-agent runner with small agents written
 * by the test: success (the agent checks the key=value lines it got),
 * failure, a hang past the timeout, a hung grandchild (the whole process
 * group is killed), death by a signal, a missing agent, bad parameters.
 * Waits are for the verdict, with a deadline. */
#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "clusterd/fence.h"

static char dir[] = "/tmp/test-fence.XXXXXX";

struct verdict {
	int calls, result, status;
	char output[FENCE_OUTPUT_MAX];
};

static void done(void *ud, int result, int status, const char *output, usec_t now)
{
	struct verdict *v = ud;

	v->calls++;
	v->result = result;
	v->status = status;
	snprintf(v->output, sizeof(v->output), "%s", output);
}

static const char *agent(const char *name, const char *body)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

static struct verdict run(const char *path, const struct fence_param *p, size_t n, unsigned timeout_s)
{
	struct verdict v = {0};
	struct ev_loop *loop;
	struct fence_run *r;
	usec_t deadline = time_now_usec() + (timeout_s + 10) * USEC_PER_SEC;

	assert_int_equal(ev_loop_new(NULL, &loop), 0);
	assert_int_equal(fence_run_start(loop, path, p, n, timeout_s, done, &v, &r), 0);
	while (v.calls == 0 && time_now_usec() < deadline)
		assert_true(ev_loop_run_once(loop, 100 * USEC_PER_MSEC) >= 0);
	assert_int_equal(v.calls, 1);
	fence_run_free(r);
	ev_loop_free(loop);
	return v;
}

/* Not running any more: gone, or a zombie (PID 1 may not reap orphans). */
static bool running(int pid)
{
	char path[64], stat[256], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	p = fgets(stat, sizeof(stat), f);
	fclose(f);
	p = p ? strrchr(stat, ')') : NULL; /* "pid (comm) S ..." */
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static const struct fence_param off_n3[] = {{"action", "off"}, {"plug", "n3"}, {"password", "s3cret=x"}};

static int setup(void **state)
{
	signal(SIGPIPE, SIG_IGN); /* as the daemon does */
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_success_gets_its_parameters(void **state)
{
	struct verdict v = run(agent("ok", "in=$(cat)\n"
					   "printf '%s\\n' \"$in\" | grep -qx 'action=off' || exit 9\n"
					   "printf '%s\\n' \"$in\" | grep -qx 'plug=n3' || exit 9\n"
					   "printf '%s\\n' \"$in\" | grep -qx 'password=s3cret=x' || exit 9\n"
					   "echo 'Success: Powered OFF'"),
			       off_n3, 3, 10);

	assert_int_equal(v.result, 0);
	assert_int_equal(v.status, 0);
	assert_string_equal(v.output, "Success: Powered OFF\n");
}

static void test_failure(void **state)
{
	struct verdict v =
		run(agent("fail", "cat >/dev/null; echo 'Failed: Unable to connect/login' >&2; exit 1"),
		    off_n3, 3, 10);

	assert_int_equal(v.result, -EIO);
	assert_int_equal(v.status, 1);
	assert_non_null(strstr(v.output, "Unable to connect"));
}

static void test_hang_times_out(void **state)
{
	usec_t t0 = time_now_usec();
	struct verdict v = run(agent("hang", "exec sleep 1000"), off_n3, 3, 1);

	assert_int_equal(v.result, -ETIMEDOUT);
	assert_true(time_now_usec() - t0 >= USEC_PER_SEC); /* not before the timeout */
}

/* The agent started a helper that hangs (like ipmitool): killing the agent
 * alone would leave it, and its open stdout would keep us waiting. */
static void test_hung_grandchild_killed_with_the_group(void **state)
{
	struct verdict v = run(agent("grandchild", "sleep 1000 & echo \"child $!\"; wait"), off_n3, 3, 1);
	int child = 0;

	assert_int_equal(v.result, -ETIMEDOUT);
	assert_int_equal(sscanf(v.output, "child %d", &child), 1);
	/* SIGKILL went to the group; the kernel takes a moment to end it (a
	 * loaded machine: longer). Gone within 30 s, or it was never signalled. */
	for (int i = 0; i < 3000 && running(child); i++)
		usleep(10000);
	assert_false(running(child));
}

static void test_killed_by_signal(void **state)
{
	struct verdict v = run(agent("sig", "kill -TERM $$"), NULL, 0, 10);

	assert_int_equal(v.result, -EINTR);
	assert_int_equal(v.status, SIGTERM);
}

static void test_output_tail_is_bounded(void **state)
{
	struct verdict v =
		run(agent("chatty",
			  "cat >/dev/null; i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done"),
		    off_n3, 3, 10);

	assert_int_equal(v.result, 0);
	assert_true(strlen(v.output) < FENCE_OUTPUT_MAX);
	assert_non_null(strstr(v.output, "line-2999\n")); /* the tail, not the head */
	assert_null(strstr(v.output, "line-0\n"));
}

static void test_refused_before_running(void **state)
{
	struct ev_loop *loop;
	struct fence_run *r = NULL;
	struct verdict v = {0};
	const struct fence_param newline[] = {{"plug", "n3\naction=on"}};
	const struct fence_param badkey[] = {{"Action", "off"}};
	char big[5000];
	struct fence_param huge[] = {{"password", big}};

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(ev_loop_new(NULL, &loop), 0);
	assert_int_equal(fence_run_start(loop, "/nonexistent/fence_x", off_n3, 3, 5, done, &v, &r), -ENOENT);
	assert_int_equal(fence_run_start(loop, "/bin/true", newline, 1, 5, done, &v, &r), -EINVAL);
	assert_int_equal(fence_run_start(loop, "/bin/true", badkey, 1, 5, done, &v, &r), -EINVAL);
	assert_int_equal(fence_run_start(loop, "/bin/true", huge, 1, 5, done, &v, &r), -EINVAL);
	assert_int_equal(fence_run_start(loop, "/bin/true", off_n3, 3, 0, done, &v, &r), -EINVAL);
	assert_null(r);
	assert_int_equal(v.calls, 0);
	ev_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_gets_its_parameters),
		cmocka_unit_test(test_failure),
		cmocka_unit_test(test_hang_times_out),
		cmocka_unit_test(test_hung_grandchild_killed_with_the_group),
		cmocka_unit_test(test_killed_by_signal),
		cmocka_unit_test(test_output_tail_is_bounded),
		cmocka_unit_test(test_refused_before_running),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
