/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common/log.h: the daemon layer's logging (stderr with timestamps in the
 * foreground, syslog otherwise). heartbeat/ and migrate/ never log: they
 * return errors and report events; only clusterd/ calls these. */
#ifndef CL_LOG_H
#define CL_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERR };

/* ident: program name; to_stderr: foreground mode (otherwise syslog). */
void log_open(const char *ident, bool to_stderr, enum log_level min_level);
void log_close(void);
void log_set_level(enum log_level min_level);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)

#endif
