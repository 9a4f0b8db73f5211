/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate/mig_job.h: one live migration's life as a pure state machine —
 * progress samples in (from virDomainGetJobStats), timeouts out: a
 * completion deadline per GiB of RAM and a no-progress deadline, either of
 * which asks the caller to abort (virDomainAbortJob). Tracks throughput and
 * ETA for `clusterctl migrations`. No I/O, no clock, no logging. */
#ifndef MIG_JOB_H
#define MIG_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "common/time.h"

enum mig_job_state {
	MIG_JOB_PENDING = 0, /* planned, not started */
	MIG_JOB_RUNNING,
	MIG_JOB_ABORTING, /* abort asked for; waiting for libvirt to confirm */
	MIG_JOB_SUCCEEDED,
	MIG_JOB_FAILED, /* ended with an error (or was aborted) */
};

enum mig_job_action {
	MIG_ACT_NONE = 0,
	MIG_ACT_ABORT, /* call virDomainAbortJob; reason in mig_job_reason() */
};

struct mig_job_params {
	uint64_t mem_bytes;          /* the domain's RAM: sizes the completion deadline */
	uint32_t timeout_s_per_gib;  /* migration.timeout_s_per_gib */
	uint32_t progress_timeout_s; /* migration.progress_timeout_s */
};

struct mig_job {
	struct mig_job_params p;
	enum mig_job_state state;
	usec_t started, finished;
	usec_t deadline;      /* completion deadline */
	usec_t last_progress; /* when data_processed last grew */
	uint64_t processed, remaining, total;
	uint64_t dirty_rate; /* bytes/s, as last reported */
	uint32_t iteration;  /* memory pass */
	double rate;         /* smoothed throughput, bytes/s */
	usec_t last_sample;
	char reason[160]; /* why it failed or was aborted */
};

/* -EINVAL for zero RAM or zero timeouts. */
int mig_job_init(struct mig_job *j, const struct mig_job_params *p);
/* PENDING -> RUNNING at now; deadline = now + max(1, ceil(GiB)) x timeout_s_per_gib. */
int mig_job_start(struct mig_job *j, usec_t now);
/* A progress sample; a sample with more data processed resets the
 * no-progress clock. Ignored unless RUNNING. */
void mig_job_progress(struct mig_job *j, uint64_t processed, uint64_t remaining, uint64_t total,
		      uint64_t dirty_rate, uint32_t iteration, usec_t now);
/* Check the deadlines: MIG_ACT_ABORT once (RUNNING -> ABORTING) when one passed. */
enum mig_job_action mig_job_tick(struct mig_job *j, usec_t now);
/* When tick has work to do next; USEC_INFINITY when not running. */
usec_t mig_job_next_deadline(const struct mig_job *j);
/* The migration ended (libvirt said so): ok -> SUCCEEDED, else FAILED with
 * `why` (an abort's reason is kept if we asked for it). */
void mig_job_finished(struct mig_job *j, bool ok, const char *why, usec_t now);

/* Asked to stop (a drain aborted, its target failed): RUNNING -> ABORTING
 * with why, kept as the failure's reason; true if the caller should now
 * abort the libvirt job. A completion that wins the race still succeeds. */
bool mig_job_abort(struct mig_job *j, const char *why);

/* 0..100, or -1 when nothing is known yet. */
int mig_job_percent(const struct mig_job *j);
/* Seconds to completion at the smoothed rate; -1 unknown. */
int64_t mig_job_eta_s(const struct mig_job *j);
const char *mig_job_state_name(enum mig_job_state s);

#endif
