/* sevd/vmmsock: the VMM socket (docs/VMM-SOCKET.md). The server runs on a coco_loop in a
 * second thread; the test thread is the VMM. Table swaps go through a pipe registered on the
 * same loop, so vmmsock_set_table() runs on the loop's thread as in cocod, and are acknowledged
 * on a second pipe. Asserts: EAGAIN before a table exists, ENOSPC with the page count for a
 * small buffer, the whole table for a large one, hostile messages closing only their own
 * connection, swaps visible to the next request, the connection limit, the peer credential
 * check, many clients. Tables are built by hand (24-byte entries, zero terminator, data). */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#include "coco/loop.h"
#include "coco/util.h"
#include "sevd/vmmsock.h"
#include "tests/check_main.h"

#define MAX_CONNS 100

static char dir[64], sockpath[128];
static struct coco_loop *loop;
static struct vmmsock *vs;
static pthread_t thread;
static int ctl[2], ack[2];
static struct vmmsock_stats stats;

/* Commands for the loop thread: 't' + u32 len + bytes sets the table, 's' copies the stats,
 * 'q' quits. Each is acknowledged with one byte. */
static void on_ctl(struct coco_loop *l, int fd, uint32_t events, void *userdata)
{
	char c;
	if (read(fd, &c, 1) != 1 || c == 'q') {
		coco_loop_exit(l, 0);
	} else if (c == 's') {
		vmmsock_get_stats(vs, &stats);
	} else {
		uint32_t len;
		if (read(fd, &len, 4) != 4)
			abort();
		uint8_t *buf = malloc(len ? len : 1);
		size_t got = 0;
		while (got < len) {
			ssize_t n = read(fd, buf + got, len - got);
			if (n <= 0)
				abort();
			got += (size_t)n;
		}
		if (vmmsock_set_table(vs, len ? buf : NULL, len) < 0)
			abort();
		free(buf);
	}
	if (write(ack[1], "k", 1) != 1)
		abort();
}

static void *run_loop(void *arg)
{
	coco_loop_run(loop);
	return NULL;
}

static void command(char c, const uint8_t *blob, uint32_t len)
{
	ck_assert_int_eq(write(ctl[1], &c, 1), 1);
	if (c == 't') {
		ck_assert_int_eq(write(ctl[1], &len, 4), 4);
		size_t off = 0;
		while (off < len) {
			ssize_t n = write(ctl[1], blob + off, len - off);
			ck_assert_int_gt(n, 0);
			off += (size_t)n;
		}
	}
	struct pollfd p = {.fd = ack[0], .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert_int_eq(read(ack[0], &c, 1), 1);
}

static void start(unsigned max_conns, int allow_gid, gid_t gid)
{
	snprintf(dir, sizeof(dir), "/tmp/cocod-vmmsock-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	snprintf(sockpath, sizeof(sockpath), "%s/vmm.sock", dir);
	ck_assert_int_eq(pipe2(ctl, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(ack, O_CLOEXEC), 0);
	ck_assert_int_eq(coco_loop_new(&loop), 0);
	struct vmmsock_options o = {.max_connections = max_conns, .allow_gid = allow_gid,
				    .allowed_gid = gid, .socket_mode = 0666};
	ck_assert_int_eq(vmmsock_new(loop, sockpath, &o, &vs), 0);
	ck_assert_int_eq(coco_loop_add(loop, ctl[0], EPOLLIN, on_ctl, NULL), 0);
	ck_assert_int_eq(pthread_create(&thread, NULL, run_loop, NULL), 0);
}

static void setup(void) { start(MAX_CONNS, 0, 0); }

static void teardown(void)
{
	command('q', NULL, 0);
	pthread_join(thread, NULL);
	vmmsock_free(vs);
	coco_loop_free(loop);
	close(ctl[0]);
	close(ctl[1]);
	close(ack[0]);
	close(ack[1]);
	ck_assert_int_eq(access(sockpath, F_OK), -1); /* unlinked */
	rmdir(dir);
}

static uint32_t make_table(uint8_t *out, unsigned n, uint32_t cert_len, uint8_t fill)
{
	size_t off = (n + 1) * 24;
	memset(out, 0, off);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = out + i * 24;
		memset(e, 0xa0 + (int)i, 16);
		uint32_t o = (uint32_t)off;
		memcpy(e + 16, &o, 4);
		memcpy(e + 20, &cert_len, 4);
		memset(out + off, fill + (int)i, cert_len);
		off += cert_len;
	}
	return (uint32_t)off;
}

static int connect_ok(void)
{
	int fd = vmmsock_connect(sockpath);
	ck_assert_int_ge(fd, 0);
	struct timeval tv = {.tv_sec = 5}; /* every wait in this suite is bounded */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* The peer closed: the next read is EOF (or a reset), within 5 s. */
static void assert_closed(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	char c;
	ck_assert_int_le(recv(fd, &c, 1, MSG_DONTWAIT), 0);
}

static void req(int fd, uint32_t pages, uint32_t want_status, uint32_t want_pages,
		const uint8_t *want, size_t want_len)
{
	static uint8_t buf[VMMSOCK_TABLE_MAX];
	uint32_t st = 99, pn = 99;
	size_t len = 99;
	ck_assert_int_eq(vmmsock_request(fd, pages, buf, sizeof(buf), &st, &pn, &len), 0);
	ck_assert_uint_eq(st, want_status);
	ck_assert_uint_eq(pn, want_pages);
	ck_assert_uint_eq(len, want_len);
	if (want_len)
		ck_assert_mem_eq(buf, want, want_len);
}

START_TEST(not_ready_enospc_ok)
{
	static uint8_t t[16384];
	uint32_t len = make_table(t, 3, 1700, 0x10); /* 5196 bytes: 2 pages */
	int fd = connect_ok();
	req(fd, 4, VMMSOCK_STATUS_EAGAIN, 0, NULL, 0);
	command('t', t, len);
	req(fd, 0, VMMSOCK_STATUS_ENOSPC, 2, NULL, 0);
	req(fd, 1, VMMSOCK_STATUS_ENOSPC, 2, NULL, 0);
	req(fd, 2, VMMSOCK_STATUS_OK, 2, t, len);
	req(fd, UINT32_MAX, VMMSOCK_STATUS_OK, 2, t, len);
	/* Exactly one page: 4096 bytes need 1, 4097 need 2. */
	command('t', t, 4096);
	req(fd, 1, VMMSOCK_STATUS_OK, 1, t, 4096);
	command('t', t, 4097);
	req(fd, 1, VMMSOCK_STATUS_ENOSPC, 2, NULL, 0);
	/* Unset again: EAGAIN. */
	command('t', NULL, 0);
	req(fd, 4, VMMSOCK_STATUS_EAGAIN, 0, NULL, 0);
	/* A reply larger than the client's buffer is reported, not truncated silently. */
	command('t', t, len);
	uint8_t small[100];
	uint32_t st, pn;
	size_t got;
	ck_assert_int_eq(vmmsock_request(fd, 4, small, sizeof(small), &st, &pn, &got), -EMSGSIZE);
	close(fd);
	command('s', NULL, 0);
	ck_assert_uint_eq(stats.requests, 9);
	ck_assert_uint_eq(stats.replies_eagain, 2);
	ck_assert_uint_eq(stats.replies_enospc, 3);
	ck_assert_uint_eq(stats.replies_ok, 4);
	ck_assert_uint_eq(stats.protocol_errors, 0);
}
END_TEST

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); } /* x86: little-endian */

START_TEST(hostile_requests_close_only_their_connection)
{
	static uint8_t t[8192];
	uint32_t len = make_table(t, 2, 2000, 0x20);
	command('t', t, len);
	int bystander = connect_ok();
	req(bystander, 8, VMMSOCK_STATUS_OK, 1, t, len);

	uint8_t good[17];
	put32(good, VMMSOCK_MAGIC);
	put32(good + 4, VMMSOCK_VERSION);
	put32(good + 8, VMMSOCK_OP_GET_CERTS);
	put32(good + 12, 8);
	good[16] = 0;
	struct {
		const char *what;
		size_t len;
		unsigned field; /* which u32 to corrupt (4 = none) */
	} cases[] = {
		{"empty", 0, 4},    {"short", 8, 4},          {"one short", 15, 4},
		{"long", 17, 4},    {"wrong magic", 16, 0},   {"wrong version", 16, 1},
		{"wrong op", 16, 2},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t m[17];
		memcpy(m, good, sizeof(m));
		if (cases[i].field < 4)
			m[cases[i].field * 4] ^= 0x01;
		int fd = connect_ok();
		ck_assert_int_eq(send(fd, m, cases[i].len, MSG_NOSIGNAL), (ssize_t)cases[i].len);
		assert_closed(fd);
		close(fd);
		/* The bystander is still served. */
		req(bystander, 8, VMMSOCK_STATUS_OK, 1, t, len);
	}
	/* A huge message (64 KiB) is not read into any buffer either. */
	static uint8_t big[65536];
	memcpy(big, good, 16);
	int fd = connect_ok();
	ck_assert_int_eq(send(fd, big, sizeof(big), MSG_NOSIGNAL), (ssize_t)sizeof(big));
	assert_closed(fd);
	close(fd);
	/* A good request followed by garbage on the same connection: the first is answered. */
	fd = connect_ok();
	ck_assert_int_eq(send(fd, good, 16, MSG_NOSIGNAL), 16);
	ck_assert_int_eq(send(fd, good, 3, MSG_NOSIGNAL), 3);
	static uint8_t buf[16 + 8192];
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), 0), (ssize_t)(16 + len));
	assert_closed(fd);
	close(fd);
	req(bystander, 8, VMMSOCK_STATUS_OK, 1, t, len);
	close(bystander);
	command('s', NULL, 0);
	ck_assert_uint_eq(stats.protocol_errors, ARRAY_SIZE(cases) - 1 + 2); /* empty = EOF */
}
END_TEST

START_TEST(swap_visible_to_next_request)
{
	static uint8_t a[16384], b[16384];
	uint32_t la = make_table(a, 3, 1500, 0x10), lb = make_table(b, 4, 3000, 0x60);
	command('t', a, la);
	int fd = connect_ok();
	req(fd, 8, VMMSOCK_STATUS_OK, 2, a, la);
	command('t', b, lb);
	req(fd, 8, VMMSOCK_STATUS_OK, 3, b, lb); /* the same connection sees the new table */
	int fd2 = connect_ok();
	req(fd2, 2, VMMSOCK_STATUS_ENOSPC, 3, NULL, 0);
	req(fd2, 3, VMMSOCK_STATUS_OK, 3, b, lb);
	close(fd);
	close(fd2);
}
END_TEST

/* Pipelined requests without reading: the server stops reading when the socket is full and
 * resumes with EPOLLOUT; every reply arrives, in order, after a swap too. */
START_TEST(pipelined_requests_and_backpressure)
{
	static uint8_t a[65536], b[8192];
	uint32_t la = make_table(a, 4, 16000, 0x10), lb = make_table(b, 1, 100, 0x50);
	command('t', a, la);
	int fd = connect_ok();
	uint8_t m[16];
	put32(m, VMMSOCK_MAGIC);
	put32(m + 4, VMMSOCK_VERSION);
	put32(m + 8, VMMSOCK_OP_GET_CERTS);
	put32(m + 12, 64);
	enum { N = 64 };
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(send(fd, m, 16, MSG_NOSIGNAL), 16);
	usleep(100000);
	command('t', b, lb); /* replies queued before keep the old bytes alive */
	static uint8_t buf[16 + 65536];
	unsigned old = 0, young = 0;
	for (int i = 0; i < N; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n == (ssize_t)(16 + la) && !memcmp(buf + 16, a, la))
			old++;
		else if (n == (ssize_t)(16 + lb) && !memcmp(buf + 16, b, lb))
			young++;
		else
			ck_abort_msg("reply %d: %zd bytes", i, n);
		ck_assert_msg(!old || !young || n == (ssize_t)(16 + lb), "old after new");
	}
	ck_assert_uint_eq(old + young, N);
	ck_assert_uint_gt(old, 0);
	close(fd);
}
END_TEST

START_TEST(many_clients_and_limit)
{
	static uint8_t t[8192];
	uint32_t len = make_table(t, 3, 1300, 0x30);
	command('t', t, len);
	int fds[MAX_CONNS];
	for (int i = 0; i < MAX_CONNS; i++)
		fds[i] = connect_ok();
	for (int round = 0; round < 20; round++)
		for (int i = 0; i < MAX_CONNS; i++)
			req(fds[i], 1, VMMSOCK_STATUS_OK, 1, t, len);
	/* One over the limit is accepted and closed at once; the others keep working. */
	int extra = connect_ok();
	assert_closed(extra);
	close(extra);
	req(fds[0], 1, VMMSOCK_STATUS_OK, 1, t, len);
	/* A slot freed is a slot available. */
	close(fds[0]);
	usleep(50000);
	fds[0] = connect_ok();
	req(fds[0], 1, VMMSOCK_STATUS_OK, 1, t, len);
	for (int i = 0; i < MAX_CONNS; i++)
		close(fds[i]);
	command('s', NULL, 0);
	ck_assert_uint_eq(stats.accepted, MAX_CONNS + 1);
	ck_assert_uint_eq(stats.refused, 1);
	ck_assert_uint_eq(stats.requests, 20 * MAX_CONNS + 2);
}
END_TEST

/* A child switched to nobody connects: refused unless its group is the configured one. */
static int child_request_as(uid_t uid, gid_t gid)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(10);
		int fd = vmmsock_connect(sockpath);
		if (fd < 0)
			_exit(11);
		struct timeval tv = {.tv_sec = 5};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		uint8_t buf[8192];
		uint32_t st, pn;
		size_t len;
		int r = vmmsock_request(fd, 8, buf, sizeof(buf), &st, &pn, &len);
		_exit(r == 0 && st == VMMSOCK_STATUS_OK ? 0 : 1);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(peer_credentials)
{
	if (geteuid() != 0)
		return; /* needs root to become another user */
	static uint8_t t[4096];
	command('t', t, make_table(t, 1, 100, 0x30));
	ck_assert_int_eq(child_request_as(65534, 65534), 1); /* nobody: refused */
	command('s', NULL, 0);
	ck_assert_uint_eq(stats.refused, 1);
	teardown();
	start(MAX_CONNS, 1, 4242);
	command('t', t, make_table(t, 1, 100, 0x30));
	ck_assert_int_eq(child_request_as(65534, 4242), 0); /* in the VMM group: served */
	ck_assert_int_eq(child_request_as(65534, 65534), 1);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("vmmsock");
	TCase *tc = tcase_create("socket");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, not_ready_enospc_ok);
	tcase_add_test(tc, hostile_requests_close_only_their_connection);
	tcase_add_test(tc, swap_visible_to_next_request);
	tcase_add_test(tc, pipelined_requests_and_backpressure);
	tcase_add_test(tc, many_clients_and_limit);
	tcase_add_test(tc, peer_credentials);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
