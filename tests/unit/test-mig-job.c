/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/unit/test-mig-job.c: the live-migration job under a fake clock —
 * the completion deadline per GiB, the no-progress deadline (reset by real
 * progress only), exactly one abort, reasons, percent and ETA. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "migrate/mig_job.h"

#define MIB (1024ull * 1024)
#define GIB (1024 * MIB)
#define S   USEC_PER_SEC

static struct mig_job job(uint64_t mem, uint32_t per_gib, uint32_t stall)
{
	struct mig_job j;
	struct mig_job_params p = {
		.mem_bytes = mem, .timeout_s_per_gib = per_gib, .progress_timeout_s = stall};

	assert_int_equal(mig_job_init(&j, &p), 0);
	return j;
}

static void test_init_and_start(void **state)
{
	struct mig_job j;
	struct mig_job_params bad = {.mem_bytes = 0, .timeout_s_per_gib = 1, .progress_timeout_s = 1};

	assert_int_equal(mig_job_init(&j, &bad), -EINVAL);
	j = job(256 * MIB, 120, 60);
	assert_int_equal(j.state, MIG_JOB_PENDING);
	assert_int_equal(mig_job_tick(&j, 999 * S), MIG_ACT_NONE); /* not running: no deadline */
	assert_int_equal(mig_job_next_deadline(&j), USEC_INFINITY);
	assert_int_equal(mig_job_start(&j, 10 * S), 0);
	assert_int_equal(mig_job_start(&j, 11 * S), -EINVAL);
	/* 256 MiB rounds up to 1 GiB: 120 s; the stall deadline (60 s) comes first */
	assert_int_equal(j.deadline, 130 * S);
	assert_int_equal(mig_job_next_deadline(&j), 70 * S);
	/* 2.5 GiB -> 3 GiB x 120 s */
	j = job(5 * GIB / 2, 120, 600);
	mig_job_start(&j, 0);
	assert_int_equal(j.deadline, 360 * S);
}

/* Steady progress never trips the stall clock; the completion deadline
 * fires exactly at start + GiB x timeout, once. */
static void test_completion_deadline(void **state)
{
	struct mig_job j = job(GIB, 30, 10);
	usec_t t;

	mig_job_start(&j, 0);
	for (t = S; t < 30 * S; t += S) {
		mig_job_progress(&j, t / S * 10 * MIB, GIB, GIB, 0, 1, t);
		assert_int_equal(mig_job_tick(&j, t), MIG_ACT_NONE);
	}
	assert_int_equal(mig_job_tick(&j, 30 * S - 1), MIG_ACT_NONE);
	assert_int_equal(mig_job_tick(&j, 30 * S), MIG_ACT_ABORT);
	assert_int_equal(j.state, MIG_JOB_ABORTING);
	assert_non_null(strstr(j.reason, "not complete after 30 s (30 s per GiB of 1024 MiB RAM)"));
	assert_int_equal(mig_job_tick(&j, 31 * S), MIG_ACT_NONE); /* asked once */
	mig_job_finished(&j, false, "operation aborted: migration out job: canceled by client", 31 * S);
	assert_int_equal(j.state, MIG_JOB_FAILED);
	assert_non_null(strstr(j.reason, "not complete after")); /* our reason, not libvirt's */
}

/* An abort asked from outside keeps its reason; a completion that wins the
 * race still counts as done (the VM is on the target); only once. */
static void test_abort(void **state)
{
	struct mig_job j = job(GIB, 600, 60);

	assert_false(mig_job_abort(&j, "not started"));
	mig_job_start(&j, 0);
	assert_true(mig_job_abort(&j, "the drain was aborted"));
	assert_false(mig_job_abort(&j, "again"));
	assert_int_equal(j.state, MIG_JOB_ABORTING);
	assert_int_equal(mig_job_tick(&j, 9999 * S), MIG_ACT_NONE);
	mig_job_finished(&j, false, "operation aborted", S);
	assert_int_equal(j.state, MIG_JOB_FAILED);
	assert_string_equal(j.reason, "the drain was aborted");

	j = job(GIB, 600, 60);
	mig_job_start(&j, 0);
	assert_true(mig_job_abort(&j, "target failed"));
	mig_job_finished(&j, true, NULL, S);
	assert_int_equal(j.state, MIG_JOB_SUCCEEDED);
}

/* Samples that repeat the same amount are not progress. */
static void test_no_progress_deadline(void **state)
{
	struct mig_job j = job(GIB, 600, 10);

	mig_job_start(&j, 0);
	mig_job_progress(&j, 100 * MIB, 900 * MIB, GIB, 0, 1, 2 * S);
	for (usec_t t = 3 * S; t < 12 * S; t += S) {
		mig_job_progress(&j, 100 * MIB, 900 * MIB, GIB, 0, 1, t);
		assert_int_equal(mig_job_tick(&j, t), MIG_ACT_NONE);
	}
	assert_int_equal(mig_job_next_deadline(&j), 12 * S);
	assert_int_equal(mig_job_tick(&j, 12 * S), MIG_ACT_ABORT);
	assert_non_null(strstr(j.reason, "no progress for 10 s (100 MiB sent, 900 MiB remaining)"));
}

static void test_success_percent_eta(void **state)
{
	struct mig_job j = job(GIB, 120, 60);

	assert_int_equal(mig_job_percent(&j), -1);
	mig_job_start(&j, 0);
	assert_int_equal(mig_job_eta_s(&j), -1);
	mig_job_progress(&j, 256 * MIB, 768 * MIB, GIB, 50 * MIB, 1, S); /* 256 MiB/s */
	assert_int_equal(mig_job_percent(&j), 25);
	assert_int_equal(mig_job_eta_s(&j), 3);
	mig_job_progress(&j, 512 * MIB, 512 * MIB, GIB, 50 * MIB, 1, 2 * S);
	assert_int_equal(mig_job_percent(&j), 50);
	assert_int_equal(mig_job_eta_s(&j), 2);
	/* a second pass resends pages: processed > total, percent stays sane */
	mig_job_progress(&j, 1100 * MIB, 10 * MIB, GIB, 50 * MIB, 2, 3 * S);
	assert_true(mig_job_percent(&j) >= 99);
	assert_int_equal(j.iteration, 2);
	mig_job_finished(&j, true, NULL, 4 * S);
	assert_int_equal(j.state, MIG_JOB_SUCCEEDED);
	assert_int_equal(mig_job_percent(&j), 100);
	assert_int_equal(mig_job_eta_s(&j), -1);
	assert_int_equal(mig_job_tick(&j, 9999 * S), MIG_ACT_NONE);
	/* finished twice: no change */
	mig_job_finished(&j, false, "late error", 5 * S);
	assert_int_equal(j.state, MIG_JOB_SUCCEEDED);
}

static void test_failure_reason(void **state)
{
	struct mig_job j = job(GIB, 120, 60);

	mig_job_start(&j, 0);
	mig_job_finished(&j, false, "unable to connect to server at '10.99.2.2:49152': Connection refused",
			 S);
	assert_int_equal(j.state, MIG_JOB_FAILED);
	assert_string_equal(j.reason, "unable to connect to server at '10.99.2.2:49152': Connection refused");
	j = job(GIB, 120, 60);
	mig_job_start(&j, 0);
	mig_job_finished(&j, false, NULL, S);
	assert_string_equal(j.reason, "migration failed");
	assert_string_equal(mig_job_state_name(MIG_JOB_ABORTING), "aborting");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_and_start),       cmocka_unit_test(test_completion_deadline),
		cmocka_unit_test(test_no_progress_deadline), cmocka_unit_test(test_success_percent_eta),
		cmocka_unit_test(test_failure_reason),       cmocka_unit_test(test_abort),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
