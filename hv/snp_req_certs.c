/* KVM_EXIT_SNP_REQ_CERTS: the GHCB certificate table into the guest's pages, under the
 * certificate file's OFD read lock (hv/snp_req_certs.h). Everything the guest controls (gpa,
 * npages) is checked before use; the file is bounded and its table checked before it is copied. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "coco/endian.h"
#include "coco/util.h"
#include "hv/snp_req_certs.h"

#define PAGE 4096ull

int hv_guest_mem_translate(const struct hv_guest_mem *m, uint64_t gpa, uint64_t len,
			   uint8_t **ret_hva)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct hv_guest_mem_region *r = &m->regions[i];
		if (gpa >= r->gpa && len <= r->size && gpa - r->gpa <= r->size - len) {
			*ret_hva = r->hva + (gpa - r->gpa);
			return 0;
		}
	}
	return -EFAULT;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int hv_snp_cert_table_check(const uint8_t *blob, size_t len)
{
	/* GHCB spec, SNP Extended Guest Request: the table, then the certificates it points at
	 * (offsets from the start of the table). */
	size_t end = 0;
	for (size_t off = 0;; off += HV_SNP_CERT_ENTRY_SIZE) {
		if (len < HV_SNP_CERT_ENTRY_SIZE || off > len - HV_SNP_CERT_ENTRY_SIZE)
			return -EBADMSG; /* no terminator */
		if (all_zero(blob + off, HV_SNP_CERT_ENTRY_SIZE)) {
			end = off + HV_SNP_CERT_ENTRY_SIZE;
			break;
		}
		if (all_zero(blob + off, 16))
			return -EBADMSG; /* a zero GUID is only the terminator */
	}
	for (size_t off = 0; off + HV_SNP_CERT_ENTRY_SIZE < end; off += HV_SNP_CERT_ENTRY_SIZE) {
		uint64_t o = get_le32(blob + off + 16), l = get_le32(blob + off + 20);
		if (o < end || o > len || l > len - o)
			return -EBADMSG;
	}
	return 0;
}

/* F_OFD_SETLK(F_RDLCK) on the whole file, retried until the deadline: the writer (sevd around
 * SNP_COMMIT / SET_CONFIG / VLEK_LOAD and blob rewrites) holds it only briefly. */
/* The locked file's bytes (at most HV_SNP_CERTS_MAX_SIZE). */
static int read_locked(int fd, uint8_t **ret, size_t *ret_len)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADF;
	if (st.st_size < 0 || (uint64_t)st.st_size > HV_SNP_CERTS_MAX_SIZE)
		return -EFBIG;
	size_t len = (size_t)st.st_size;
	_cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* shrank under a read lock: someone ignores the protocol */
		got += (size_t)n;
	}
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static void set_ret(struct hv_kvm_exit_snp_req_certs *exit, uint64_t ret)
{
	exit->ret = ret;
}

int hv_snp_req_certs_handle(struct hv_kvm_exit_snp_req_certs *exit, const struct hv_guest_mem *m,
			    const char *path, unsigned lock_timeout_ms, int *ret_lock_fd)
{
	if (!exit || !m || !path || !ret_lock_fd)
		return -EINVAL;
	uint64_t gpa = exit->gpa, npages = exit->npages;
	/* KVM checks only the alignment; the range must not wrap either. */
	if (gpa & (PAGE - 1) || npages > UINT64_MAX / PAGE || gpa > UINT64_MAX - npages * PAGE) {
		set_ret(exit, EIO);
		*ret_lock_fd = -1;
		return 0;
	}

	static const uint8_t terminator[HV_SNP_CERT_ENTRY_SIZE];
	_cleanup_free_ uint8_t *blob = NULL;
	const uint8_t *table = terminator;
	size_t len = sizeof(terminator);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno != ENOENT) {
		set_ret(exit, EIO);
		*ret_lock_fd = -1;
		return 0;
	}
	if (fd >= 0) {
		int r = coco_ofd_lock_until(fd, F_RDLCK,
					    now_ns() + (uint64_t)lock_timeout_ms * 1000000ull);
		if (r == -ETIMEDOUT) { /* the writer holds it: the guest retries (EAGAIN) */
			set_ret(exit, EAGAIN);
			*ret_lock_fd = -1;
			return 0;
		}
		size_t blen = 0;
		if (r == 0)
			r = read_locked(fd, &blob, &blen);
		if (r == 0 && blen && hv_snp_cert_table_check(blob, blen) < 0)
			r = -EBADMSG;
		if (r < 0) {
			set_ret(exit, EIO);
			*ret_lock_fd = -1;
			return 0;
		}
		if (blen) { /* an empty file: no certificates, just the terminator */
			table = blob;
			len = blen;
		}
	}

	uint64_t need = (len + PAGE - 1) / PAGE;
	if (npages < need) {
		exit->npages = need;
		set_ret(exit, ENOSPC);
		*ret_lock_fd = -1; /* nothing reaches the firmware: the lock goes now */
		return 0;
	}
	uint8_t *hva;
	if (hv_guest_mem_translate(m, gpa, need * PAGE, &hva) < 0) {
		set_ret(exit, EIO);
		*ret_lock_fd = -1;
		return 0;
	}
	memcpy(hva, table, len);
	memset(hva + len, 0, need * PAGE - len);
	set_ret(exit, 0);
	*ret_lock_fd = TAKE_FD(fd);
	return 0;
}

int hv_snp_req_certs_handle_run(struct kvm_run *run, const struct hv_guest_mem *m,
				const char *path, unsigned lock_timeout_ms, int *ret_lock_fd)
{
	if (!run || run->exit_reason != KVM_EXIT_SNP_REQ_CERTS)
		return -EINVAL;
	struct hv_kvm_exit_snp_req_certs e;
	hv_kvm_run_snp_req_certs_get(run, &e);
	int r = hv_snp_req_certs_handle(&e, m, path, lock_timeout_ms, ret_lock_fd);
	if (r == 0)
		hv_kvm_run_snp_req_certs_set(run, &e);
	return r;
}
