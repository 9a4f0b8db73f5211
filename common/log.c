/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common/log.c: logging for the daemon layer: one line per message, to stderr
 * with a UTC microsecond timestamp and the level in the foreground, to syslog
 * otherwise. Not for library code (heartbeat/, migrate/). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "common/log.h"
#include "common/time.h"

static bool log_to_stderr = true;
static enum log_level log_min = LOG_LVL_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const int level_prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};

void log_open(const char *ident, bool to_stderr, enum log_level min_level)
{
	log_to_stderr = to_stderr;
	log_min = min_level;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void log_close(void)
{
	if (!log_to_stderr)
		closelog();
}

void log_set_level(enum log_level min_level)
{
	log_min = min_level;
}

static void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char msg[2048];

	if (lvl < log_min)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_to_stderr) {
		usec_t now = time_real_usec();
		time_t secs = (time_t)(now / USEC_PER_SEC);
		struct tm tm;
		char ts[32];

		gmtime_r(&secs, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		/* one fprintf: a line is written whole even with several writers */
		fprintf(stderr, "%s.%06uZ %s %s\n", ts, (unsigned)(now % USEC_PER_SEC), level_names[lvl],
			msg);
		fflush(stderr);
	} else {
		syslog(level_prio[lvl], "%s", msg);
	}
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	exit(EXIT_FAILURE);
}
