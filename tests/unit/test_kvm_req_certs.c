/* hv/snp_req_certs: the KVM_EXIT_SNP_REQ_CERTS handler against hostile exits (gpa/npages come
 * from the guest), hostile certificate files, and the OFD lock protocol of the kernel's
 * KVM_SEV_SNP_ENABLE_REQ_CERTS documentation. Guest memory is a malloc'd buffer. */
#include <check.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "coco/util.h"
#include "hv/snp_req_certs.h"
#include "tests/check_main.h"

#define GPA_BASE 0x100000ull
#define MEM_SIZE (16 * 4096ull)

static uint8_t *mem;
static struct hv_guest_mem_region region;
static struct hv_guest_mem gm;
static char dir[] = "/tmp/test-req-certs-XXXXXX";
static char path[64];

static void setup(void)
{
	mem = aligned_alloc(4096, MEM_SIZE);
	ck_assert_ptr_nonnull(mem);
	memset(mem, 0x5a, MEM_SIZE);
	region = (struct hv_guest_mem_region){.gpa = GPA_BASE, .size = MEM_SIZE, .hva = mem};
	gm = (struct hv_guest_mem){.regions = &region, .n = 1};
	strcpy(dir, "/tmp/test-req-certs-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/certs", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
	free(mem);
}

static void write_file(const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	close(fd);
}

/* A table of `n` entries (GUID i+1, certificate of `cert_len` bytes each) + terminator. */
static size_t make_table(uint8_t *out, unsigned n, uint32_t cert_len)
{
	size_t table = (n + 1) * HV_SNP_CERT_ENTRY_SIZE, off = table;
	memset(out, 0, table);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = out + i * HV_SNP_CERT_ENTRY_SIZE;
		memset(e, (int)(i + 1), 16);
		uint32_t o = (uint32_t)off;
		memcpy(e + 16, &o, 4);
		memcpy(e + 20, &cert_len, 4);
		memset(out + off, 0xc0 + (int)i, cert_len);
		off += cert_len;
	}
	return off;
}

static struct hv_kvm_exit_snp_req_certs exit_at(uint64_t gpa, uint64_t npages)
{
	return (struct hv_kvm_exit_snp_req_certs){.gpa = gpa, .npages = npages};
}

START_TEST(absent_file_gives_terminator)
{
	struct hv_kvm_exit_snp_req_certs e = exit_at(GPA_BASE + 4096, 1);
	int lock = -2;
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 10, &lock), 0);
	ck_assert_uint_eq(e.ret, 0);
	ck_assert_int_eq(lock, -1);
	static const uint8_t zero[4096];
	ck_assert_mem_eq(mem + 4096, zero, 4096); /* terminator, rest of the page cleared */
	ck_assert_uint_eq(mem[0], 0x5a);	     /* nothing outside the pages */
	ck_assert_uint_eq(mem[2 * 4096], 0x5a);
	/* npages 0: the terminator still needs a page */
	e = exit_at(GPA_BASE, 0);
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 10, &lock), 0);
	ck_assert_uint_eq(e.ret, ENOSPC);
	ck_assert_uint_eq(e.npages, 1);
}
END_TEST

START_TEST(table_written_under_read_lock)
{
	uint8_t blob[3 * 4096];
	size_t n = make_table(blob, 3, 1400); /* VCEK, ASK, ARK-sized: 2 pages */
	write_file(blob, n);
	struct hv_kvm_exit_snp_req_certs e = exit_at(GPA_BASE + 8192, 4);
	int lock = -2;
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 100, &lock), 0);
	ck_assert_uint_eq(e.ret, 0);
	ck_assert_uint_eq(e.npages, 4); /* untouched on success */
	ck_assert_mem_eq(mem + 8192, blob, n);
	ck_assert_uint_gt(n, 4096);
	ck_assert_uint_eq(mem[8192 + n], 0);	     /* rest of the last page cleared */
	ck_assert_uint_eq(mem[8192 + 2 * 4096], 0x5a); /* pages beyond the table untouched */
	ck_assert_int_ge(lock, 0);
	/* The fd holds an OFD read lock: a writer (sevd around SNP_COMMIT) cannot get in, other
	 * readers can. */
	int w = open(path, O_RDWR | O_CLOEXEC);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	ck_assert_int_eq(fcntl(w, F_OFD_SETLK, &fl), -1);
	ck_assert_int_eq(errno, EAGAIN);
	fl.l_type = F_RDLCK;
	ck_assert_int_eq(fcntl(w, F_OFD_SETLK, &fl), 0);
	fl.l_type = F_UNLCK;
	ck_assert_int_eq(fcntl(w, F_OFD_SETLK, &fl), 0);
	close(lock); /* the request reached the firmware */
	fl.l_type = F_WRLCK;
	ck_assert_int_eq(fcntl(w, F_OFD_SETLK, &fl), 0);
	close(w);
}
END_TEST

START_TEST(enospc_says_pages_needed)
{
	uint8_t blob[3 * 4096];
	size_t n = make_table(blob, 3, 1400);
	write_file(blob, n);
	struct hv_kvm_exit_snp_req_certs e = exit_at(GPA_BASE, 1);
	int lock = -2;
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 100, &lock), 0);
	ck_assert_uint_eq(e.ret, ENOSPC);
	ck_assert_uint_eq(e.npages, 2);
	ck_assert_int_eq(lock, -1); /* released: nothing goes to the firmware */
	ck_assert_uint_eq(mem[0], 0x5a);
	/* and the lock is really gone */
	int w = open(path, O_RDWR | O_CLOEXEC);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	ck_assert_int_eq(fcntl(w, F_OFD_SETLK, &fl), 0);
	close(w);
}
END_TEST

START_TEST(writer_holding_lock_gives_eagain)
{
	uint8_t blob[4096];
	write_file(blob, make_table(blob, 1, 100));
	int w = open(path, O_RDWR | O_CLOEXEC);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	ck_assert_int_eq(fcntl(w, F_OFD_SETLK, &fl), 0);
	struct hv_kvm_exit_snp_req_certs e = exit_at(GPA_BASE, 1);
	int lock = -2;
	uint64_t t0 = now_ns();
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 50, &lock), 0);
	uint64_t ms = (now_ns() - t0) / 1000000;
	ck_assert_uint_eq(e.ret, EAGAIN);
	ck_assert_int_eq(lock, -1);
	ck_assert_uint_ge(ms, 50);
	ck_assert_uint_lt(ms, 2000);
	ck_assert_uint_eq(mem[0], 0x5a);
	close(w);
}
END_TEST

START_TEST(hostile_gpa_npages)
{
	int lock = -2;
	struct {
		uint64_t gpa, npages;
	} cases[] = {
		{GPA_BASE + 1, 1},		  /* unaligned */
		{GPA_BASE + 0x800, 1},		  /* unaligned */
		{0, 1},				  /* below guest memory */
		{GPA_BASE + MEM_SIZE, 1},	  /* just past it */
		{GPA_BASE + MEM_SIZE - 4096, 2},  /* needs 1 page, has 1: fits... see below */
		{~0xfffull, 1},			  /* the top page: no mapping */
		{~0xfffull, 2},			  /* wraps */
		{GPA_BASE, UINT64_MAX},		  /* npages * 4096 overflows */
		{GPA_BASE, UINT64_MAX / 4096},	  /* gpa + size overflows */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct hv_kvm_exit_snp_req_certs e = exit_at(cases[i].gpa, cases[i].npages);
		ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 10, &lock), 0);
		if (i == 4) { /* the terminator fits in the last page */
			ck_assert_uint_eq(e.ret, 0);
			continue;
		}
		ck_assert_msg(e.ret == EIO, "case %zu: ret %llu", i, (unsigned long long)e.ret);
		ck_assert_int_eq(lock, -1);
	}
	/* a table of two pages into the last page of guest memory: out of range, not written */
	uint8_t blob[2 * 4096];
	write_file(blob, make_table(blob, 2, 3000));
	memset(mem, 0x5a, MEM_SIZE);
	struct hv_kvm_exit_snp_req_certs e = exit_at(GPA_BASE + MEM_SIZE - 4096, 100);
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 10, &lock), 0);
	ck_assert_uint_eq(e.ret, EIO);
	ck_assert_uint_eq(mem[MEM_SIZE - 1], 0x5a);
	ck_assert_int_eq(hv_snp_req_certs_handle(NULL, &gm, path, 10, &lock), -EINVAL);
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, NULL, 10, &lock), -EINVAL);
}
END_TEST

START_TEST(hostile_files)
{
	int lock = -2;
	uint8_t blob[4096];
	struct hv_kvm_exit_snp_req_certs e;
	/* no terminator */
	memset(blob, 0x11, 48);
	write_file(blob, 48);
	e = exit_at(GPA_BASE, 4);
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 10, &lock), 0);
	ck_assert_uint_eq(e.ret, EIO);
	/* a certificate past the end */
	size_t n = make_table(blob, 1, 100);
	uint32_t len = 5000;
	memcpy(blob + 20, &len, 4);
	write_file(blob, n);
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 10, &lock), 0);
	ck_assert_uint_eq(e.ret, EIO);
	/* offset + length wrapping 32 bits */
	n = make_table(blob, 1, 100);
	uint32_t off = 0xffffff00;
	memcpy(blob + 16, &off, 4);
	write_file(blob, n);
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 10, &lock), 0);
	ck_assert_uint_eq(e.ret, EIO);
	/* a certificate overlapping the table */
	n = make_table(blob, 1, 100);
	off = 8;
	memcpy(blob + 16, &off, 4);
	write_file(blob, n);
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 10, &lock), 0);
	ck_assert_uint_eq(e.ret, EIO);
	/* a zero GUID that is not the terminator */
	n = make_table(blob, 2, 10);
	memset(blob, 0, 16);
	write_file(blob, n);
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 10, &lock), 0);
	ck_assert_uint_eq(e.ret, EIO);
	/* shorter than one entry */
	write_file(blob, 10);
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 10, &lock), 0);
	ck_assert_uint_eq(e.ret, EIO);
	/* too large (the bound is 1 MiB) */
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ck_assert_int_eq(ftruncate(fd, HV_SNP_CERTS_MAX_SIZE + 1), 0);
	close(fd);
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 10, &lock), 0);
	ck_assert_uint_eq(e.ret, EIO);
	/* an empty file: no certificates, just the terminator */
	write_file(blob, 0);
	memset(mem, 0x5a, 64);
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, path, 10, &lock), 0);
	ck_assert_uint_eq(e.ret, 0);
	ck_assert_uint_eq(mem[0], 0);
	ck_assert_uint_eq(mem[23], 0);
	ck_assert_int_ge(lock, 0);
	close(lock);
	/* a directory is not a certificate file */
	ck_assert_int_eq(hv_snp_req_certs_handle(&e, &gm, dir, 10, &lock), 0);
	ck_assert_uint_eq(e.ret, EIO);
	ck_assert_int_eq(lock, -1);
}
END_TEST

START_TEST(table_check_and_translate)
{
	uint8_t blob[4096];
	size_t n = make_table(blob, 2, 100);
	ck_assert_int_eq(hv_snp_cert_table_check(blob, n), 0);
	ck_assert_int_eq(hv_snp_cert_table_check(blob, n - 1), -EBADMSG); /* cert cut short */
	ck_assert_int_eq(hv_snp_cert_table_check(blob, 3 * 24 - 1), -EBADMSG);
	ck_assert_int_eq(hv_snp_cert_table_check(blob, 0), -EBADMSG);
	static const uint8_t term[24];
	ck_assert_int_eq(hv_snp_cert_table_check(term, 24), 0);
	uint8_t *hva;
	ck_assert_int_eq(hv_guest_mem_translate(&gm, GPA_BASE, MEM_SIZE, &hva), 0);
	ck_assert_ptr_eq(hva, mem);
	ck_assert_int_eq(hv_guest_mem_translate(&gm, GPA_BASE, MEM_SIZE + 1, &hva), -EFAULT);
	ck_assert_int_eq(hv_guest_mem_translate(&gm, GPA_BASE - 1, 2, &hva), -EFAULT);
	ck_assert_int_eq(hv_guest_mem_translate(&gm, UINT64_MAX, 2, &hva), -EFAULT);
	/* the run wrapper wants the right exit */
	struct kvm_run run = {.exit_reason = KVM_EXIT_HLT};
	int lock;
	ck_assert_int_eq(hv_snp_req_certs_handle_run(&run, &gm, path, 10, &lock), -EINVAL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kvm_req_certs");
	TCase *tc = tcase_create("handler");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, absent_file_gives_terminator);
	tcase_add_test(tc, table_written_under_read_lock);
	tcase_add_test(tc, enospc_says_pages_needed);
	tcase_add_test(tc, writer_holding_lock_gives_eagain);
	tcase_add_test(tc, hostile_gpa_npages);
	tcase_add_test(tc, hostile_files);
	tcase_add_test(tc, table_check_and_translate);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
