/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common/time.h: the one time type of clusterd — monotonic microseconds.
 * The event loop reads the clock once per tick and passes `now` down; logic
 * code never reads the clock itself (so it can run under a fake clock). */
#ifndef CL_TIME_H
#define CL_TIME_H

#include <stdint.h>
#include <time.h>

typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t)UINT64_MAX)
#define USEC_PER_MSEC ((usec_t)1000)
#define USEC_PER_SEC  ((usec_t)1000000)

/* CLOCK_MONOTONIC in microseconds. Only the event loop and I/O edges call it. */
static inline usec_t time_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

/* CLOCK_REALTIME in microseconds, for log timestamps and wire incarnations only. */
static inline usec_t time_real_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

#endif
