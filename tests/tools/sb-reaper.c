/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/tools/sb-reaper.c: runs CMD as a child subreaper's child, so that the
 * sandbox's orphans (the daemons `sandbox up` leaves behind, the QEMU
 * processes libvirtd daemonizes) are reaped at once when they die.
 *
 * Why: an orphan is reparented to PID 1, and on some machines PID 1 is not an
 * init that reaps promptly (on the firecracker VMs this project is built
 * and tested on, it reaps about every 2 s). libvirt waits until a QEMU it
 * stopped is gone, and a zombie is not gone: every migration's confirm
 * phase and every virDomainDestroy then took ~2 s longer than on a host
 * with systemd, skewing every time a test or benchmark measures. With PR_SET_CHILD_SUBREAPER, orphans below
 * us come to us instead, and we reap them as they die.
 *
 *   sb-reaper CMD [ARGS...]     exits with CMD's status (128+N if killed by N)
 *
 * TERM, INT and HUP are passed on to CMD. Orphans still alive when CMD ends
 * go back to PID 1 as before. A test tool: no logic beyond that. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;

static void pass_on(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int st, code = 1;
	pid_t p;

	if (argc < 2) {
		fprintf(stderr, "usage: sb-reaper CMD [ARGS...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		fprintf(stderr, "sb-reaper: PR_SET_CHILD_SUBREAPER: %s (orphans go to PID 1)\n",
			strerror(errno));
	p = fork();
	if (p < 0) {
		fprintf(stderr, "sb-reaper: fork: %s\n", strerror(errno));
		return 1;
	}
	if (p == 0) {
		execvp(argv[1], argv + 1);
		fprintf(stderr, "sb-reaper: cannot run %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	child_pid = p;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pass_on;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	for (;;) {
		pid_t r = waitpid(-1, &st, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: cannot happen before CMD ends */
		}
		if (r != p)
			continue; /* an orphan, reaped */
		code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		break;
	}
	return code;
}
