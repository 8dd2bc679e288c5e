/* sevd/certfile: the published certificate table file. Atomic rewrites (rename, mode 0644, no
 * temporary left behind), the OFD lock protocol against a VMM reader in another process (the
 * writer waits for it, bounded), readers never seeing a torn table, and hv's
 * KVM_EXIT_SNP_REQ_CERTS handler reading what was written. Tables are built by hand here
 * (24-byte entries {GUID, u32 offset, u32 length}, zero terminator, data) so this suite does
 * not depend on coco/snp/certtable.c. */
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>

#include "coco/util.h"
#include "hv/snp_req_certs.h"
#include "sevd/certfile.h"
#include "tests/check_main.h"

static char dir[64], path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cocod-certfile-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/certs.bin", dir);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* n entries with GUIDs filled with 0xa0+i, each cert_len bytes of (fill + i). */
static size_t make_table(uint8_t *out, unsigned n, uint32_t cert_len, uint8_t fill)
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
	return off;
}

static size_t read_all(const char *p, uint8_t *buf, size_t max)
{
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ssize_t n = read(fd, buf, max);
	ck_assert_int_ge(n, 0);
	close(fd);
	return (size_t)n;
}

static unsigned count_entries(void)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	unsigned n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

START_TEST(write_atomic_mode)
{
	static uint8_t a[8192], b[8192], got[16384];
	size_t la = make_table(a, 3, 1500, 0x10), lb = make_table(b, 4, 1300, 0x40);
	umask(077); /* the file is 0644 whatever the daemon's umask */
	ck_assert_int_eq(certfile_write(path, a, la, 1000), 0);
	struct stat st1, st2;
	ck_assert_int_eq(stat(path, &st1), 0);
	ck_assert_int_eq(st1.st_mode & 07777, 0644);
	ck_assert_uint_eq(read_all(path, got, sizeof(got)), la);
	ck_assert_mem_eq(got, a, la);
	ck_assert_int_eq(hv_snp_cert_table_check(got, la), 0);

	/* A reader that opened the old inode: after the rewrite, the path is a new inode (rename)
	 * and the old one carries the new bytes too (for VMMs that were waiting on its lock). */
	int old = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(old, 0);
	ck_assert_int_eq(certfile_write(path, b, lb, 1000), 0);
	ck_assert_int_eq(stat(path, &st2), 0);
	ck_assert_int_ne(st1.st_ino, st2.st_ino);
	ck_assert_int_eq(st2.st_mode & 07777, 0644);
	ck_assert_uint_eq(read_all(path, got, sizeof(got)), lb);
	ck_assert_mem_eq(got, b, lb);
	ck_assert_int_eq(pread(old, got, sizeof(got), 0), (ssize_t)lb);
	ck_assert_mem_eq(got, b, lb);
	close(old);
	ck_assert_uint_eq(count_entries(), 1); /* no temporary left */
	umask(022);
}
END_TEST

/* A child takes the VMM's read lock (as hv_snp_req_certs_handle does) and keeps it hold_ms. */
static pid_t reader_holding(unsigned hold_ms)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
		if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) < 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(2);
		usleep(hold_ms * 1000);
		_exit(0);
	}
	close(p[1]);
	char c;
	ck_assert_int_eq(read(p[0], &c, 1), 1); /* the lock is held from here on */
	close(p[0]);
	return pid;
}

START_TEST(writer_waits_for_reader)
{
	static uint8_t a[4096], b[4096], got[8192];
	size_t la = make_table(a, 2, 1000, 0x10), lb = make_table(b, 2, 1200, 0x50);
	ck_assert_int_eq(certfile_write(path, a, la, 1000), 0);

	pid_t pid = reader_holding(600);
	uint64_t t0 = now_ns();
	/* Bounded: the reader keeps the lock longer than we wait. */
	ck_assert_int_eq(certfile_write(path, b, lb, 100), -ETIMEDOUT);
	uint64_t waited = (now_ns() - t0) / 1000000;
	ck_assert_uint_ge(waited, 100);
	ck_assert_uint_lt(waited, 500);
	ck_assert_uint_eq(read_all(path, got, sizeof(got)), la); /* unchanged */
	ck_assert_mem_eq(got, a, la);
	ck_assert_uint_eq(count_entries(), 1);
	/* Now wait long enough: done once the reader lets go, not before. */
	ck_assert_int_eq(certfile_write(path, b, lb, 5000), 0);
	uint64_t total = (now_ns() - t0) / 1000000;
	ck_assert_uint_ge(total, 500);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(read_all(path, got, sizeof(got)), lb);
	ck_assert_mem_eq(got, b, lb);
}
END_TEST

/* A child reads under the read lock in a loop while we rewrite between two tables of different
 * sizes: every read is one table whole. */
START_TEST(readers_never_see_torn_tables)
{
	static uint8_t a[16384], b[16384];
	size_t la = make_table(a, 3, 4000, 0x10), lb = make_table(b, 2, 1000, 0x70);
	ck_assert_int_eq(certfile_write(path, a, la, 1000), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		static uint8_t got[32768];
		unsigned bad = 0;
		uint64_t end = now_ns() + 1500000000ull;
		while (now_ns() < end) {
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
			if (fd < 0)
				_exit(3);
			while (fcntl(fd, F_OFD_SETLK, &fl) < 0)
				usleep(50);
			ssize_t n = pread(fd, got, sizeof(got), 0);
			if (!((n == (ssize_t)la && !memcmp(got, a, la)) ||
			      (n == (ssize_t)lb && !memcmp(got, b, lb))))
				bad++;
			close(fd);
		}
		_exit(bad ? 1 : 0);
	}
	for (int i = 0; i < 300; i++) {
		int r = certfile_write(path, i % 2 ? a : b, i % 2 ? la : lb, 2000);
		ck_assert_int_eq(r, 0);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "reader saw a torn table");
}
END_TEST

/* cocod holds the lock around SNP_COMMIT and rewrites the table inside it: the VMM's handler
 * gets EAGAIN (bounded) meanwhile, then the new table. */
START_TEST(lock_around_operation_and_req_certs)
{
	static uint8_t a[8192], b[8192];
	size_t la = make_table(a, 3, 1400, 0x10), lb = make_table(b, 3, 1800, 0x30);
	ck_assert_int_eq(certfile_write(path, a, la, 1000), 0);

	uint8_t *mem = aligned_alloc(4096, 4 * 4096);
	ck_assert_ptr_nonnull(mem);
	struct hv_guest_mem_region region = {.gpa = 0x10000, .size = 4 * 4096, .hva = mem};
	struct hv_guest_mem gm = {.regions = &region, .n = 1};
	struct hv_kvm_exit_snp_req_certs e = {.gpa = 0x10000, .npages = 4};
	int lfd = -1;
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 100, &lfd), 0);
	ck_assert_uint_eq(e.ret, 0);
	ck_assert_mem_eq(mem, a, la);
	close(lfd);

	struct certfile_lock lock = {.fd = -1};
	ck_assert_int_eq(certfile_lock(path, 1000, &lock), 0);
	e = (struct hv_kvm_exit_snp_req_certs){.gpa = 0x10000, .npages = 4};
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 50, &lfd), 0);
	ck_assert_uint_eq(e.ret, EAGAIN);
	ck_assert_int_eq(certfile_write_locked(&lock, path, b, lb), 0);
	/* Still held, now on the new inode. */
	e = (struct hv_kvm_exit_snp_req_certs){.gpa = 0x10000, .npages = 4};
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 50, &lfd), 0);
	ck_assert_uint_eq(e.ret, EAGAIN);
	certfile_unlock(&lock);
	certfile_unlock(&lock); /* idempotent */
	ck_assert_int_eq(lock.fd, -1);

	e = (struct hv_kvm_exit_snp_req_certs){.gpa = 0x10000, .npages = 1};
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 100, &lfd), 0);
	ck_assert_uint_eq(e.ret, ENOSPC);
	ck_assert_uint_eq(e.npages, (lb + 4095) / 4096);
	e = (struct hv_kvm_exit_snp_req_certs){.gpa = 0x10000, .npages = 4};
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 100, &lfd), 0);
	ck_assert_uint_eq(e.ret, 0);
	ck_assert_mem_eq(mem, b, lb);
	close(lfd);
	free(mem);

	/* Lock on a missing file creates it empty (hv: just the terminator). */
	char p2[160];
	snprintf(p2, sizeof(p2), "%s/none", dir);
	ck_assert_int_eq(certfile_lock(p2, 100, &lock), 0);
	struct stat st;
	ck_assert_int_eq(stat(p2, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	certfile_unlock(&lock);
	ck_assert_int_eq(certfile_write_locked(&lock, p2, a, la), -EINVAL); /* not held */
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("certfile");
	TCase *tc = tcase_create("file");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, write_atomic_mode);
	tcase_add_test(tc, writer_waits_for_reader);
	tcase_add_test(tc, readers_never_see_torn_tables);
	tcase_add_test(tc, lock_around_operation_and_req_certs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
