/* bench/vmmsock_bench: certificate requests per second over the VMM socket (sevd/vmmsock.c on
 * a coco_loop, as in cocod) against the limit for this transport measured in the same run: a
 * plain SOCK_SEQPACKET server that answers every message with a prebuilt reply of the same size
 * (no parsing, no checks, no table bookkeeping). One client process drives both with the same
 * number of connections, one request in flight on each.
 *
 * Usage: bench_vmmsock SECONDS CONNECTIONS WARMUP_SECONDS ROUNDS. Prints one line of medians
 * over the rounds: vmm_rps echo_rps vmm_cpu_us_per_request echo_cpu_us_per_request reply_bytes
 * Servers run pinned to CPU 1 and the client to CPU 0 when there are two CPUs. Every child is
 * killed and reaped before exit; sockets live in a private temporary directory. */
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "coco/loop.h"
#include "coco/util.h"
#include "sevd/vmmsock.h"

#define MAX_CONNS 256

static void pin(int cpu)
{
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* ARK, ASK, VCEK-sized entries (AMD's are ~1.6 KiB, ~1.6 KiB, ~1.3 KiB DER). */
static size_t make_table(uint8_t *out)
{
	static const uint32_t sizes[] = {1600, 1650, 1350};
	size_t off = (ARRAY_SIZE(sizes) + 1) * 24;
	memset(out, 0, off);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		memset(out + i * 24, 0xa0 + (int)i, 16);
		uint32_t o = (uint32_t)off;
		memcpy(out + i * 24 + 16, &o, 4);
		memcpy(out + i * 24 + 20, &sizes[i], 4);
		memset(out + off, 0x30 + (int)i, sizes[i]);
		off += sizes[i];
	}
	return off;
}

static void vmm_server(const char *path, const uint8_t *table, size_t len)
{
	struct coco_loop *l;
	struct vmmsock *v;
	struct vmmsock_options o = {.max_connections = MAX_CONNS + 1};
	if (coco_loop_new(&l) < 0 || vmmsock_new(l, path, &o, &v) < 0 ||
	    vmmsock_set_table(v, table, len) < 0)
		_exit(2);
	coco_loop_run(l);
	_exit(0);
}

/* The limit: read a message, send the same-size reply, nothing else. */
static void echo_server(const char *path, size_t reply_len)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	uint8_t *reply = calloc(1, reply_len);
	if (lfd < 0 || ep < 0 || !reply || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 128) < 0)
		_exit(2);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c;
				while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct epoll_event e = {.events = EPOLLIN, .data.fd = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
				}
				continue;
			}
			uint8_t req[32];
			ssize_t r = recv(fd, req, sizeof(req), MSG_DONTWAIT);
			if (r <= 0) {
				if (r == 0 || errno != EAGAIN)
					close(fd);
				continue;
			}
			if (send(fd, reply, reply_len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				close(fd);
		}
	}
}

static pid_t spawn(void (*fn)(const char *, const void *, size_t), const char *path,
		   const void *arg, size_t len)
{
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pin(1);
		fn(path, arg, len);
		_exit(0);
	}
	return pid;
}

static void run_vmm(const char *path, const void *arg, size_t len) { vmm_server(path, arg, len); }
static void run_echo(const char *path, const void *arg, size_t len) { echo_server(path, len); }

static int wait_socket(const char *path)
{
	for (int i = 0; i < 500; i++) {
		int fd = vmmsock_connect(path);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/* Drive `conns` connections for `seconds` (after `warmup`): requests per second. Every reply
 * must be exactly reply_len bytes. */
static double drive(const char *path, int conns, int seconds, int warmup, size_t reply_len,
		    uint64_t *ret_count)
{
	int fds[MAX_CONNS];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	uint8_t req[16], *buf = malloc(reply_len + 1);
	uint32_t f[4] = {VMMSOCK_MAGIC, VMMSOCK_VERSION, VMMSOCK_OP_GET_CERTS, 16};
	memcpy(req, f, sizeof(req)); /* x86: little-endian */
	if (ep < 0 || !buf)
		return -1;
	for (int i = 0; i < conns; i++) {
		fds[i] = vmmsock_connect(path);
		if (fds[i] < 0)
			return -1;
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
		if (send(fds[i], req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req))
			return -1;
	}
	uint64_t start = now_ns(), t0 = start + (uint64_t)warmup * 1000000000ull;
	uint64_t t1 = t0 + (uint64_t)seconds * 1000000000ull, count = 0, now = start;
	bool counting = false;
	while (now < t1) {
		struct epoll_event evs[MAX_CONNS];
		int n = epoll_wait(ep, evs, MAX_CONNS, 1000);
		if (n <= 0)
			return -1; /* a server stalled for a second: not a measurement */
		now = now_ns();
		if (!counting && now >= t0) {
			counting = true;
			count = 0;
			t0 = now;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t r = recv(fd, buf, reply_len + 1, 0);
			if (r != (ssize_t)reply_len)
				return -1;
			count++;
			if (send(fd, req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req))
				return -1;
		}
	}
	double rps = (double)count / ((double)(now - t0) / 1e9);
	*ret_count = count;
	for (int i = 0; i < conns; i++)
		close(fds[i]);
	close(ep);
	free(buf);
	return rps;
}

/* utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15). */
static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strrchr(buf, ')'); /* comm may contain spaces */
	unsigned long ut, st;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	uint64_t seconds, conns, warmup, rounds;
	if (argc != 5 || parse_uint(argv[1], 3600, &seconds) < 0 || seconds == 0 ||
	    parse_uint(argv[2], MAX_CONNS, &conns) < 0 || conns == 0 ||
	    parse_uint(argv[3], 600, &warmup) < 0 || parse_uint(argv[4], 15, &rounds) < 0 ||
	    rounds == 0) {
		fprintf(stderr,
			"usage: %s SECONDS CONNECTIONS(1-%d) WARMUP_SECONDS ROUNDS(1-15)\n",
			argv[0], MAX_CONNS);
		return 2;
	}
	char dir[] = "/tmp/cocod-bench-vmm-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char path[2][64];
	snprintf(path[0], sizeof(path[0]), "%s/vmm.sock", dir);
	snprintf(path[1], sizeof(path[1]), "%s/echo.sock", dir);
	static uint8_t table[8192];
	size_t len = make_table(table), reply = VMMSOCK_REPLY_HEADER_SIZE + len;

	pin(0);
	int rc = 0;
	pid_t pid[2] = {spawn(run_vmm, path[0], table, len), spawn(run_echo, path[1], NULL, reply)};
	/* Rounds alternate the servers, so load from other processes on a shared machine hits
	 * both alike; the median round of each is reported. */
	double rps[2][15], cpu_us[2][15];
	for (int s = 0; s < 2 && rc == 0; s++)
		if (pid[s] < 0 || wait_socket(path[s]) < 0)
			rc = 1;
	for (int s = 0; s < 2 && rc == 0 && warmup > 0; s++) {
		uint64_t ignored;
		if (drive(path[s], (int)conns, (int)warmup, 0, reply, &ignored) < 0)
			rc = 1;
	}
	for (uint64_t r = 0; r < rounds && rc == 0; r++)
		for (int s = 0; s < 2 && rc == 0; s++) {
			long c0 = cpu_ticks(pid[s]);
			uint64_t n0 = 0;
			double v = drive(path[s], (int)conns, (int)seconds, 0, reply, &n0);
			long c1 = cpu_ticks(pid[s]);
			if (v < 0 || c0 < 0 || c1 < 0) {
				fprintf(stderr, "bench_vmmsock: the %s run failed\n",
					s ? "echo" : "VMM socket");
				rc = 1;
				break;
			}
			rps[s][r] = v;
			cpu_us[s][r] = (double)(c1 - c0) * 1e6 / (double)sysconf(_SC_CLK_TCK) /
				       (double)(n0 ? n0 : 1);
		}
	for (int s = 0; s < 2; s++)
		if (pid[s] > 0) {
			kill(pid[s], SIGKILL);
			waitpid(pid[s], NULL, 0);
		}
	unlink(path[0]);
	unlink(path[1]);
	rmdir(dir);
	if (rc)
		return rc;
	for (int s = 0; s < 2; s++) {
		qsort(rps[s], rounds, sizeof(double), cmp_double);
		qsort(cpu_us[s], rounds, sizeof(double), cmp_double);
	}
	/* vmm_rps echo_rps vmm_cpu_us echo_cpu_us reply_bytes (medians) */
	printf("%.0f %.0f %.2f %.2f %zu\n", rps[0][rounds / 2], rps[1][rounds / 2],
	       cpu_us[0][rounds / 2], cpu_us[1][rounds / 2], reply);
	return 0;
}
