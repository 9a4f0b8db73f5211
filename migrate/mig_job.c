/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mig_job.c: the live-migration job state machine (see mig_job.h).
 * Throughput is smoothed over samples (1/4 new) so one slow poll does not
 * swing the ETA; deadlines are absolute monotonic times. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "migrate/mig_job.h"

#define GIB (1024ull * 1024 * 1024)

static const char *const state_names[] = {"pending", "running", "aborting", "succeeded", "failed"};

const char *mig_job_state_name(enum mig_job_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

int mig_job_init(struct mig_job *j, const struct mig_job_params *p)
{
	if (!j || !p || p->mem_bytes == 0 || p->timeout_s_per_gib == 0 || p->progress_timeout_s == 0)
		return -EINVAL;
	memset(j, 0, sizeof(*j));
	j->p = *p;
	j->state = MIG_JOB_PENDING;
	return 0;
}

int mig_job_start(struct mig_job *j, usec_t now)
{
	uint64_t gib;

	if (!j || j->state != MIG_JOB_PENDING)
		return -EINVAL;
	gib = (j->p.mem_bytes + GIB - 1) / GIB;
	j->state = MIG_JOB_RUNNING;
	j->started = now;
	j->last_progress = now;
	j->last_sample = now;
	j->deadline = now + (gib ? gib : 1) * j->p.timeout_s_per_gib * USEC_PER_SEC;
	return 0;
}

void mig_job_progress(struct mig_job *j, uint64_t processed, uint64_t remaining, uint64_t total,
		      uint64_t dirty_rate, uint32_t iteration, usec_t now)
{
	if (!j || j->state != MIG_JOB_RUNNING)
		return;
	if (processed > j->processed) {
		if (now > j->last_sample) {
			double inst = (double)(processed - j->processed) * USEC_PER_SEC /
				      (double)(now - j->last_sample);
			j->rate = j->rate > 0 ? 0.75 * j->rate + 0.25 * inst : inst;
		}
		j->last_progress = now;
		j->processed = processed;
	}
	j->last_sample = now;
	j->remaining = remaining;
	j->total = total;
	j->dirty_rate = dirty_rate;
	j->iteration = iteration;
}

enum mig_job_action mig_job_tick(struct mig_job *j, usec_t now)
{
	if (!j || j->state != MIG_JOB_RUNNING)
		return MIG_ACT_NONE;
	if (now >= j->deadline) {
		snprintf(j->reason, sizeof(j->reason),
			 "not complete after %llu s (%u s per GiB of %llu MiB RAM)",
			 (unsigned long long)((now - j->started) / USEC_PER_SEC), j->p.timeout_s_per_gib,
			 (unsigned long long)(j->p.mem_bytes >> 20));
	} else if (now >= j->last_progress + (usec_t)j->p.progress_timeout_s * USEC_PER_SEC) {
		snprintf(j->reason, sizeof(j->reason),
			 "no progress for %u s (%llu MiB sent, %llu MiB remaining)", j->p.progress_timeout_s,
			 (unsigned long long)(j->processed >> 20), (unsigned long long)(j->remaining >> 20));
	} else {
		return MIG_ACT_NONE;
	}
	j->state = MIG_JOB_ABORTING;
	return MIG_ACT_ABORT;
}

usec_t mig_job_next_deadline(const struct mig_job *j)
{
	usec_t stall;

	if (!j || j->state != MIG_JOB_RUNNING)
		return USEC_INFINITY;
	stall = j->last_progress + (usec_t)j->p.progress_timeout_s * USEC_PER_SEC;
	return stall < j->deadline ? stall : j->deadline;
}

void mig_job_finished(struct mig_job *j, bool ok, const char *why, usec_t now)
{
	if (!j || (j->state != MIG_JOB_RUNNING && j->state != MIG_JOB_ABORTING))
		return;
	if (ok) { /* libvirt's verdict: the VM runs on the target, even if an abort came too late */
		j->state = MIG_JOB_SUCCEEDED;
		j->remaining = 0;
	} else {
		/* an abort we asked for keeps its reason; libvirt's text says less */
		if (j->state != MIG_JOB_ABORTING || !j->reason[0])
			snprintf(j->reason, sizeof(j->reason), "%s",
				 why && why[0] ? why : "migration failed");
		j->state = MIG_JOB_FAILED;
	}
	j->finished = now;
}

bool mig_job_abort(struct mig_job *j, const char *why)
{
	if (!j || j->state != MIG_JOB_RUNNING)
		return false;
	j->state = MIG_JOB_ABORTING;
	snprintf(j->reason, sizeof(j->reason), "%s", why && why[0] ? why : "aborted");
	return true;
}

int mig_job_percent(const struct mig_job *j)
{
	if (!j)
		return -1;
	if (j->state == MIG_JOB_SUCCEEDED)
		return 100;
	if (j->total == 0)
		return -1;
	/* processed can exceed total when pages are resent: use remaining */
	return (int)(100 - (j->remaining > j->total ? j->total : j->remaining) * 100 / j->total);
}

int64_t mig_job_eta_s(const struct mig_job *j)
{
	if (!j || j->state != MIG_JOB_RUNNING || j->rate <= 0 || j->total == 0)
		return -1;
	return (int64_t)((double)j->remaining / j->rate + 0.5);
}
