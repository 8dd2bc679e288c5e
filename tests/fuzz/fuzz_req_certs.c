/* KVM_EXIT_SNP_REQ_CERTS as a guest and a certificate file can make it: the input is the exit's
 * gpa (LE64) and npages (LE64) as the guest chose them, then the certificate file's bytes.
 * Checks: the table check accepts only tables whose entries lie inside the blob; the handler
 * answers only 0 / ENOSPC / EIO (no writer holds the lock here); on 0 the guest pages hold
 * exactly the table (or the bare terminator) and nothing outside the needed pages changed; on
 * ENOSPC / EIO guest memory is untouched and no lock is kept. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/snp_req_certs.h"
#include "tests/fuzz/fuzz.h"

#define GPA_BASE 0x10000ull
#define MEM_SIZE (16 * 4096ull)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 16 || size - 16 > HV_SNP_CERTS_MAX_SIZE)
		return 0;
	uint64_t gpa = le64(data), npages = le64(data + 8);
	const uint8_t *blob = data + 16;
	size_t len = size - 16;

	int ok = hv_snp_cert_table_check(blob, len) == 0;
	if (ok) { /* every entry up to the terminator points inside the blob, past the table */
		size_t end = 0;
		while (1) {
			FUZZ_CHECK(end + HV_SNP_CERT_ENTRY_SIZE <= len);
			static const uint8_t zero[HV_SNP_CERT_ENTRY_SIZE];
			if (!memcmp(blob + end, zero, sizeof(zero)))
				break;
			end += HV_SNP_CERT_ENTRY_SIZE;
		}
		for (size_t o = 0; o < end; o += HV_SNP_CERT_ENTRY_SIZE) {
			uint64_t off = le32(blob + o + 16), l = le32(blob + o + 20);
			FUZZ_CHECK(off >= end + HV_SNP_CERT_ENTRY_SIZE && off + l <= len);
		}
	}

	static uint8_t *mem, *copy;
	if (!mem) {
		mem = malloc(MEM_SIZE);
		copy = malloc(MEM_SIZE);
		FUZZ_CHECK(mem && copy);
	}
	memset(mem, 0xa5, MEM_SIZE);
	memcpy(copy, mem, MEM_SIZE);
	struct hv_guest_mem_region region = {.gpa = GPA_BASE, .size = MEM_SIZE, .hva = mem};
	struct hv_guest_mem gm = {.regions = &region, .n = 1};

	int fd = memfd_create("certs", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(write(fd, blob, len) == (ssize_t)len);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

	struct hv_kvm_exit_snp_req_certs e = {.gpa = gpa, .npages = npages};
	int lock = -2;
	FUZZ_CHECK(hv_snp_req_certs_handle(&e, &gm, path, 0, &lock) == 0);
	FUZZ_CHECK(e.ret == 0 || e.ret == ENOSPC || e.ret == EIO);
	if (e.ret == 0) {
		const uint8_t *want = len ? blob : (const uint8_t[HV_SNP_CERT_ENTRY_SIZE]){0};
		size_t wlen = len ? len : HV_SNP_CERT_ENTRY_SIZE;
		uint64_t need = (wlen + 4095) / 4096;
		FUZZ_CHECK(ok || !len);
		FUZZ_CHECK(npages >= need && gpa >= GPA_BASE && gpa + need * 4096 <= GPA_BASE + MEM_SIZE);
		uint64_t at = gpa - GPA_BASE;
		FUZZ_CHECK(!memcmp(mem + at, want, wlen));
		FUZZ_CHECK(!memcmp(mem, copy, at));
		FUZZ_CHECK(!memcmp(mem + at + need * 4096, copy + at + need * 4096,
				   MEM_SIZE - at - need * 4096));
		FUZZ_CHECK(lock >= 0);
		close(lock);
	} else {
		FUZZ_CHECK(!memcmp(mem, copy, MEM_SIZE));
		FUZZ_CHECK(lock == -1);
		if (e.ret == ENOSPC)
			FUZZ_CHECK(e.npages * 4096 >= (len ? len : 1) && e.npages > npages);
	}
	close(fd);
	return 0;
}
