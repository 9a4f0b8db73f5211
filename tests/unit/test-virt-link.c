/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-virt-link.c: the daemon's side of clusterd-virt — the line
 * parser over good and bad lines, and end to end with the real helper
 * (built beside this test: $top_builddir/clusterd/clusterd-virt) against
 * libvirt's test driver: the inventory arrives, a killed helper is reported
 * as "not connected" and restarted, a missing helper is retried. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "clusterd/virt_link.h"
#include "common/log.h"

static void test_parse(void **state)
{
	static const char good[] = "{\"libvirt\":\"connected\",\"vms\":[{\"name\":\"web\",\"uuid\":"
				   "\"6695eb01-f6a4-8304-79aa-97f2502e193f\","
				   "\"state\":1,\"mem_kib\":262144,\"vcpus\":2,\"persistent\":true}],"
				   "\"host\":{\"free_kib\":1048576,\"cpus\":8}}";
	static const char *const bad[] = {
		"",
		"{\"libvirt\":\"connected\",\"vms\":[],\"host\":7}",
		"not json",
		"[]",
		"{\"vms\":[]}",
		"{\"libvirt\":\"connected\"}",
		"{\"libvirt\":\"connected\",\"vms\":[{\"uuid\":\"6695eb01-f6a4-8304-79aa-97f2502e193f\","
		"\"state\":1}]}",
		"{\"libvirt\":\"connected\",\"vms\":[{\"name\":\"a\",\"uuid\":\"short\",\"state\":1}]}",
		"{\"libvirt\":\"connected\",\"vms\":[{\"name\":\"a\",\"uuid\":\"6695eb01-f6a4-8304-79aa-"
		"97f2502e193f\","
		"\"state\":9}]}",
		"{\"libvirt\":\"connected\",\"vms\":[{\"name\":"
		"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		"\"uuid\":\"6695eb01-f6a4-8304-79aa-97f2502e193f\",\"state\":1}]}",
	};
	struct clm_vm vms[2];
	size_t n = 99;
	bool up = false;
	struct vlink_host host;
	char why[64];

	assert_int_equal(vlink_parse(good, vms, 2, &n, &up, &host, why, sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_true(up);
	assert_string_equal(vms[0].name, "web");
	assert_int_equal(vms[0].state, CLM_VM_RUNNING);
	assert_int_equal(vms[0].mem_kib, 262144);
	assert_true(vms[0].persistent);
	assert_int_equal(host.free_kib, 1048576);
	assert_int_equal(host.cpus, 8);
	assert_int_equal(vlink_parse(good, vms, 0, &n, &up, &host, why, sizeof(why)),
			 -EBADMSG); /* over capacity */
	assert_int_equal(vlink_parse("{\"libvirt\":\"not connected\",\"why\":\"no socket\",\"vms\":[]}", vms,
				     2, &n, &up, &host, why, sizeof(why)),
			 0);
	assert_false(up);
	assert_int_equal(n, 0);
	assert_string_equal(why, "no socket");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (vlink_parse(bad[i], vms, 2, &n, &up, &host, why, sizeof(why)) != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
}

/* A prepared copy is never in the inventory: it is the host's, apart. */
static void test_parse_prepared(void **state)
{
	static const char line[] =
		"{\"libvirt\":\"connected\",\"vms\":["
		"{\"name\":\"web\",\"uuid\":\"6695eb01-f6a4-8304-79aa-97f2502e193f\",\"state\":2,"
		"\"prepared\":true},"
		"{\"name\":\"db\",\"uuid\":\"6695eb01-f6a4-8304-79aa-97f2502e1940\",\"state\":2,"
		"\"prepared\":false}]}";
	struct clm_vm vms[2];
	size_t n = 99;
	bool up = false;
	struct vlink_host host;
	char why[64];

	assert_int_equal(vlink_parse(line, vms, 2, &n, &up, &host, why, sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(vms[0].name, "db");
	assert_int_equal(vms[0].state, CLM_VM_PAUSED);
	assert_int_equal(host.n_prepared, 1);
	assert_string_equal(host.prepared[0].name, "web");
	assert_string_equal(host.prepared[0].uuid, "6695eb01-f6a4-8304-79aa-97f2502e193f");
}

struct seen {
	int calls, up_calls, down_calls;
	size_t last_n;
	char last_name[CLM_VM_NAME_MAX];
	char why[256];
};

static void on_inv(void *ud, const struct clm_vm *vms, size_t n, bool up, const struct vlink_host *host,
		   const char *why, usec_t now)
{
	struct seen *s = ud;

	s->calls++;
	if (up)
		s->up_calls++;
	else
		s->down_calls++;
	s->last_n = n;
	snprintf(s->last_name, sizeof(s->last_name), "%s", n ? vms[0].name : "");
	snprintf(s->why, sizeof(s->why), "%s", why);
}

static void run_until(struct ev_loop *loop, const int *counter, int want)
{
	usec_t deadline = time_now_usec() + 10 * USEC_PER_SEC;

	while (*counter < want && time_now_usec() < deadline)
		assert_true(ev_loop_run_once(loop, 50 * USEC_PER_MSEC) >= 0);
	assert_int_equal(*counter, want);
}

static void test_real_helper(void **state)
{
	const char *top = getenv("top_builddir");
	char helper[4096];
	struct ev_loop *loop;
	struct vlink *l;
	struct seen s = {0};
	pid_t child;
	char cmd[128];

	snprintf(helper, sizeof(helper), "%s/clusterd/clusterd-virt", top ? top : ".");
	if (access(helper, X_OK) != 0)
		fail_msg("%s not built", helper);
	assert_int_equal(ev_loop_new(NULL, &loop), 0);
	assert_int_equal(vlink_new(loop, helper, "test:///default", on_inv, &s, &l), 0);
	run_until(loop, &s.up_calls, 1);
	assert_int_equal(s.last_n, 1);
	assert_string_equal(s.last_name, "test");
	/* the helper dies: libvirt unknown, then it is back */
	snprintf(cmd, sizeof(cmd), "pgrep -n -P %d clusterd-virt", (int)getpid());
	{
		FILE *p = popen(cmd, "r");
		int pid = 0;
		assert_non_null(p);
		assert_int_equal(fscanf(p, "%d", &pid), 1);
		pclose(p);
		child = pid;
	}
	assert_int_equal(kill(child, SIGKILL), 0);
	run_until(loop, &s.down_calls, 1);
	assert_int_equal(s.last_n, 0);
	assert_string_equal(s.why, "it exited");
	run_until(loop, &s.up_calls, 2); /* restarted after the backoff */
	vlink_free(l);
	ev_loop_free(loop);
}

static void test_missing_helper(void **state)
{
	struct ev_loop *loop;
	struct vlink *l;
	struct seen s = {0};

	assert_int_equal(ev_loop_new(NULL, &loop), 0);
	assert_int_equal(vlink_new(loop, "/nonexistent/clusterd-virt", NULL, on_inv, &s, &l), 0);
	run_until(loop, &s.down_calls, 1);
	assert_int_equal(s.up_calls, 0);
	vlink_free(l);
	ev_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_prepared),
		cmocka_unit_test(test_real_helper),
		cmocka_unit_test(test_missing_helper),
	};

	log_open("test-virt-link", true, LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
