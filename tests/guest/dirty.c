// SPDX-License-Identifier: LGPL-2.1-or-later
/* tests/guest/dirty.c: the /init of the sandbox's verification guest. It
 * dirties memory at a set rate, checking every page before rewriting it, and
 * checks a region that is never rewritten, so a migration that loses or
 * corrupts a page shows as errs > 0 or static_bad > 0. Once a second it prints
 *   TICK n t=SECS gen=G dirty_MiBps=R errs=E static_bad=B boot=ID lease_conflicts=C
 * on the console (ttyS0). ID is random at every boot: a live-migrated guest
 * keeps its ID and its TICK count, a restarted one starts again at TICK 1
 * with a new ID. It must not exit (as PID 1 that panics the kernel).
 *
 * The lease (lease=1, as PID 1 only): the sandbox gives every guest a disk
 * (/dev/vda, virtio-blk) that is the file NAME.lease in a directory shared by
 * all nodes (through a loop device), the same for every instance of the guest
 * NAME. Once a second the guest reads its first sector and writes
 * "LEASE boot=ID seq=N time=T" there (O_DIRECT: no guest cache; QEMU opens the
 * disk with cache=none too). If
 * what it reads is the lease of ANOTHER boot id that changed since its
 * previous look (a second earlier), another instance of this guest is alive
 * and writing: it prints "LEASE CONFLICT held by boot=OTHER seq=N" and counts
 * it in lease_conflicts (-1: no lease). A stale lease (an instance that died:
 * its lease never changes again) is taken over silently ("LEASE found"); a
 * live-migrated guest keeps its boot id, so its lease stays its own. No clock
 * is compared between instances (as sanlock's delta leases): only whether
 * the other's sequence number moved while this one was watching.
 *
 * Parameters (kernel command line, or argv when run as a normal process for a
 * quick check on the host): dirty_mb=N (buffer, MiB, default 64),
 * dirty_rate=R (MiB/s; 0 = as fast as it can; -1 = idle), static_mb=N
 * (checked region, default 16, less if the guest's memory is short),
 * ticks=N (exit after N ticks; not as PID 1), lease=1 (take the lease on
 * /dev/vda after loading the virtio modules in /lib/modules; PID 1 only).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE          4096u
#define WORDS         (PAGE / sizeof(uint64_t))
#define CHUNK         32u /* pages between two looks at the clock */
#define MAX_REPORTS   16u /* ERR lines printed before only counting */
#define MARGIN_MB     3   /* MiB left free for the kernel (page tables, reserves) */
#define LEASE_DEV     "/dev/vda"
#define LEASE_IO      4096u /* bytes read and written at offset 0 (the record fits one sector) */
#define LEASE_REPORTS 32u   /* CONFLICT lines printed before only counting */

struct params {
	long dirty_mb;
	long dirty_rate;
	long static_mb;
	long ticks;
};

static int out_fd = 1;
static uint64_t boot_id;

struct lease {
	int fd;             /* -1: no lease */
	uint64_t seq;       /* of our own writes */
	uint64_t seen_boot; /* another instance's lease at our previous look (0: none) */
	uint64_t seen_seq;
	long conflicts;    /* -1: no lease */
	unsigned char *io; /* LEASE_IO bytes, aligned for O_DIRECT */
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	/* one write per line: a line is never split by another writer */
	while (n > 0) {
		ssize_t w = write(out_fd, line, (size_t)n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		n -= (int)w;
		memmove(line, line + w, (size_t)n);
	}
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* splitmix64 finaliser: a cheap, well-mixed function of its input */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* the value page P holds in generation G: differs per page, per generation
 * and per boot, so neither a stale page nor another page's copy matches */
static uint64_t page_value(uint64_t page, uint64_t gen)
{
	return mix(boot_id ^ mix(page * 0x100000001b3ull + gen));
}

static uint64_t static_value(uint64_t word)
{
	return mix(~boot_id ^ word);
}

static uint64_t rdtsc(void)
{
#if defined(__x86_64__) || defined(__i386__)
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
#else
	return mono_ns();
#endif
}

/* random at every boot: the kernel's generator, mixed with the TSC in case
 * it is not ready yet (then the TSC alone still differs between boots) */
static uint64_t new_boot_id(void)
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = 0;
	return mix(r ^ rdtsc()) | 1; /* never 0 */
}

static long param(const char *text, const char *key, long def)
{
	size_t kl = strlen(key);
	const char *p = text;

	while ((p = strstr(p, key)) != NULL) {
		/* whole words only: "xdirty_mb=" is not "dirty_mb=" */
		if ((p == text || p[-1] == ' ' || p[-1] == '\n') && p[kl] == '=') {
			char *end;
			long v = strtol(p + kl + 1, &end, 10);
			if (end != p + kl + 1)
				return v;
		}
		p += kl;
	}
	return def;
}

static void setup_pid1(char *cmdline, size_t size)
{
	int fd;
	ssize_t n;

	mkdir("/proc", 0755);
	mkdir("/dev", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/ttyS0", O_WRONLY | O_NOCTTY);
	if (fd < 0)
		fd = open("/dev/console", O_WRONLY | O_NOCTTY);
	if (fd >= 0)
		out_fd = fd;
	fd = open("/proc/cmdline", O_RDONLY);
	if (fd >= 0) {
		n = read(fd, cmdline, size - 1);
		cmdline[n > 0 ? n : 0] = '\0';
		close(fd);
	}
}

/* the virtio-blk driver (modules in this kernel), in dependency order */
static int load_modules(void)
{
	static const char *const mods[] = {
		"virtio",     "virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
		"virtio_pci", "virtio_blk"};
	char path[64];

	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		int fd, r;

		snprintf(path, sizeof(path), "/lib/modules/%s.ko", mods[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			say("LEASE none: no %s in the initramfs (tests/deps.sh, tests/guest/build.sh)\n",
			    path);
			return -1;
		}
		r = (int)syscall(SYS_finit_module, fd, "", 0);
		close(fd);
		if (r < 0 && errno != EEXIST) {
			say("LEASE none: loading %s: %s\n", mods[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* read the lease, judge it, write ours; called once a second */
static void lease_step(struct lease *l)
{
	uint64_t b = 0, s = 0;
	struct timespec ts;

	if (l->fd < 0)
		return;
	if (pread(l->fd, l->io, LEASE_IO, 0) == (ssize_t)LEASE_IO) {
		l->io[LEASE_IO - 1] = '\0';
		if (sscanf((const char *)l->io, "LEASE boot=%16" SCNx64 " seq=%" SCNu64, &b, &s) != 2)
			b = 0;
	}
	if (b && b != boot_id) {
		if (b == l->seen_boot && s != l->seen_seq) {
			/* it wrote since our previous look: it is alive */
			if ((uint64_t)l->conflicts < LEASE_REPORTS)
				say("LEASE CONFLICT held by boot=%016" PRIx64 " seq=%" PRIu64
				    " (was seq=%" PRIu64 " a second ago); this is boot=%016" PRIx64 "\n",
				    b, s, l->seen_seq, boot_id);
			l->conflicts++;
		} else if (b != l->seen_boot) {
			say("LEASE found boot=%016" PRIx64 " seq=%" PRIu64
			    ": taking it (a conflict if it moves)\n",
			    b, s);
		}
		l->seen_boot = b;
		l->seen_seq = s;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	memset(l->io, 0, LEASE_IO);
	snprintf((char *)l->io, LEASE_IO, "LEASE boot=%016" PRIx64 " seq=%" PRIu64 " time=%lld.%03ld\n",
		 boot_id, ++l->seq, (long long)ts.tv_sec, ts.tv_nsec / 1000000);
	if (pwrite(l->fd, l->io, LEASE_IO, 0) != (ssize_t)LEASE_IO && l->seq < 4)
		say("LEASE write failed: %s\n", strerror(errno));
}

static void lease_open(struct lease *l)
{
	uint64_t deadline = mono_ns() + 10000000000ull;

	if (load_modules() < 0)
		return;
	/* devtmpfs makes the node once the driver has probed the disk */
	while ((l->fd = open(LEASE_DEV, O_RDWR | O_DIRECT | O_CLOEXEC)) < 0 && mono_ns() < deadline)
		sleep_ns(20000000u);
	if (l->fd < 0) {
		say("LEASE none: cannot open %s: %s\n", LEASE_DEV, strerror(errno));
		return;
	}
	l->io = mmap(NULL, LEASE_IO, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l->io == MAP_FAILED) {
		say("LEASE none: no memory\n");
		close(l->fd);
		l->fd = -1;
		return;
	}
	l->conflicts = 0;
	lease_step(l);
	say("LEASE taken on %s boot=%016" PRIx64 "\n", LEASE_DEV, boot_id);
}

static void hang(void)
{
	for (;;)
		pause();
}

/* MemFree in MiB (MemAvailable counts the initramfs, which stays), or -1 */
static long mem_avail_mb(void)
{
	char b[4096];
	const char *p;
	ssize_t n;
	int fd = open("/proc/meminfo", O_RDONLY);

	if (fd < 0)
		return -1;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	b[n] = '\0';
	p = strstr(b, "MemFree:");
	return p ? strtol(p + 8, NULL, 10) / 1024 : -1;
}

static void *region(size_t bytes)
{
	void *p =
		mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int main(int argc, char **argv)
{
	static char text[4096];
	struct params pr;
	uint64_t *buf = NULL, *fixed = NULL;
	uint64_t npages, nwords, pos = 0, gen = 0, errs = 0, written = 0;
	uint64_t t0, last, next_tick, budget, now, tick = 0;
	int pid1 = getpid() == 1;
	struct lease lease = {.fd = -1, .conflicts = -1};
	long avail;

	if (pid1) {
		setup_pid1(text, sizeof(text));
	} else {
		size_t used = 0, l;
		for (int i = 1; i < argc; i++) {
			l = strlen(argv[i]);
			if (used + l + 2 > sizeof(text))
				break;
			memcpy(text + used, argv[i], l);
			used += l;
			text[used++] = ' ';
		}
	}
	boot_id = new_boot_id();
	pr.dirty_mb = param(text, "dirty_mb", 64);
	pr.dirty_rate = param(text, "dirty_rate", 0);
	pr.static_mb = param(text, "static_mb", 16);
	pr.ticks = pid1 ? 0 : param(text, "ticks", 0);
	if (pr.dirty_mb < 0 || pr.dirty_mb > 65536 || pr.static_mb < 0 || pr.static_mb > 65536) {
		say("FATAL bad parameters dirty_mb=%ld static_mb=%ld\n", pr.dirty_mb, pr.static_mb);
		goto fatal;
	}
	/* a small guest (128 MiB leaves ~80 MiB to /init): the dirtied buffer is
	 * what was asked for; the checked region shrinks to what is left */
	avail = mem_avail_mb();
	if (avail > 0 && pr.dirty_mb + pr.static_mb + MARGIN_MB > avail) {
		long fit = avail - MARGIN_MB - pr.dirty_mb;
		if (fit < 1) {
			say("FATAL dirty_mb=%ld does not fit: MemFree %ld MiB\n", pr.dirty_mb, avail);
			goto fatal;
		}
		say("NOTE static_mb %ld -> %ld (MemFree %ld MiB)\n", pr.static_mb, fit, avail);
		pr.static_mb = fit;
	}
	npages = (uint64_t)pr.dirty_mb * (1u << 20) / PAGE;
	nwords = (uint64_t)pr.static_mb * (1u << 20) / sizeof(uint64_t);

	/* generation 0 of every page, and the region that is never rewritten */
	if (npages && !(buf = region(npages * PAGE))) {
		say("FATAL cannot map %ld MiB to dirty\n", pr.dirty_mb);
		goto fatal;
	}
	if (nwords && !(fixed = region(nwords * sizeof(uint64_t)))) {
		say("FATAL cannot map %ld MiB of static pattern\n", pr.static_mb);
		goto fatal;
	}
	for (uint64_t p = 0; p < npages; p++) {
		buf[p * WORDS] = page_value(p, 0);
		buf[p * WORDS + WORDS - 1] = page_value(p, 0);
	}
	for (uint64_t w = 0; w < nwords; w++)
		fixed[w] = static_value(w);
	say("INIT boot=%016" PRIx64 " dirty_mb=%ld dirty_rate=%ld static_mb=%ld pages=%" PRIu64 "\n", boot_id,
	    pr.dirty_mb, pr.dirty_rate, pr.static_mb, npages);
	/* never on the host: /dev/vda there is not a lease disk */
	if (pid1 && param(text, "lease", 0) == 1)
		lease_open(&lease);

	t0 = last = now = mono_ns();
	next_tick = t0 + 1000000000u;
	budget = t0;
	for (;;) {
		if (pr.dirty_rate >= 0 && npages) {
			/* verify, then write, the next CHUNK pages */
			for (unsigned k = 0; k < CHUNK; k++) {
				uint64_t *pg = buf + pos * WORDS, want = page_value(pos, gen);
				if (pg[0] != want || pg[WORDS - 1] != want) {
					if (errs < MAX_REPORTS)
						say("ERR page=%" PRIu64 " gen=%" PRIu64 " first=%016" PRIx64
						    " last=%016" PRIx64 " want=%016" PRIx64 "\n",
						    pos, gen, pg[0], pg[WORDS - 1], want);
					errs++;
				}
				pg[0] = pg[WORDS - 1] = page_value(pos, gen + 1);
				written++;
				if (++pos == npages) {
					pos = 0;
					gen++;
				}
			}
			now = mono_ns();
			if (pr.dirty_rate > 0) {
				/* CHUNK pages of budget each; never bank more than 1 s */
				budget += (uint64_t)CHUNK * PAGE * 1000000000u /
					  ((uint64_t)pr.dirty_rate << 20);
				if (budget + 1000000000u < now)
					budget = now;
				if (budget > now) {
					uint64_t until = budget < next_tick ? budget : next_tick;
					sleep_ns(until - now);
					now = mono_ns();
				}
			}
		} else {
			sleep_ns(next_tick > now ? next_tick - now : 0);
			now = mono_ns();
		}
		if (now >= next_tick) {
			uint64_t bad = 0;
			double span = (double)(now - last) / 1e9;

			for (uint64_t w = 0; w < nwords; w++)
				bad += fixed[w] != static_value(w);
			tick++;
			lease_step(&lease);
			say("TICK %" PRIu64 " t=%.1f gen=%" PRIu64 " dirty_MiBps=%.1f errs=%" PRIu64
			    " static_bad=%" PRIu64 " boot=%016" PRIx64 " lease_conflicts=%ld\n",
			    tick, (double)(now - t0) / 1e9, gen, (double)written * PAGE / (1 << 20) / span,
			    errs, bad, boot_id, lease.conflicts);
			written = 0;
			last = now;
			/* a long pause (migration downtime, host stall): no catch-up burst */
			next_tick += 1000000000u;
			if (next_tick <= now)
				next_tick = now + 1000000000u;
			if (pr.ticks > 0 && tick >= (uint64_t)pr.ticks)
				return errs || bad ? 1 : 0;
		}
	}
fatal:
	if (!pid1)
		return 2;
	hang();
	return 0;
}
