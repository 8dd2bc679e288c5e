/* hv/snp_req_certs.h: the VMM's answer to KVM_EXIT_SNP_REQ_CERTS (Linux 7.0,
 * Documentation/virt/kvm/api.rst): the guest asked for a report plus the certificates of the key
 * that signs it, in `npages` shared pages at `gpa`. The VMM writes the GHCB certificate table
 * there (GHCB spec, SNP Extended Guest Request: 24-byte entries {GUID, u32 offset, u32 length}
 * ended by an all-zero entry, certificates after it) and sets ret = 0; or ret = ENOSPC with
 * npages = the pages needed; EAGAIN when the table is being rewritten (the guest retries); EIO
 * for anything else.
 *
 * Locking (kernel doc of KVM_SEV_SNP_ENABLE_REQ_CERTS): the VMM holds an F_OFD_SETLK read lock
 * on the certificate file from reading it until the request has reached the firmware; whoever
 * changes keys or TCB (SNP_COMMIT, SNP_SET_CONFIG, SNP_VLEK_LOAD, a blob rewrite) holds the
 * write lock. So the handler returns the locked fd: set kvm_run.immediate_exit, KVM_RUN again
 * (it completes the request, then returns -EINTR), then close the fd. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "hv/uapi/kvm_compat.h"

/* Guest memory as the VMM maps it: disjoint GPA ranges, each mapped at hva. */
struct hv_guest_mem_region {
	uint64_t gpa, size;
	uint8_t *hva;
};
struct hv_guest_mem {
	const struct hv_guest_mem_region *regions;
	size_t n;
};
/* The mapping of [gpa, gpa + len), which must lie inside one region: 0 or -EFAULT. */
int hv_guest_mem_translate(const struct hv_guest_mem *m, uint64_t gpa, uint64_t len,
			   uint8_t **ret_hva);

#define HV_SNP_CERT_ENTRY_SIZE 24
#define HV_SNP_CERTS_MAX_SIZE (1u << 20) /* a VLEK/VCEK + ASK + ARK table is ~5 KiB */
#define HV_SNP_REQ_CERTS_MAX_PAGES (HV_SNP_CERTS_MAX_SIZE / 4096)

/* Handle one exit. `path`: the certificate table file (absent: the guest gets just the
 * terminating entry, which the kernel requires once the feature is on). `lock_timeout_ms`
 * bounds the wait for the read lock (F_OFD_SETLK retried until then; then ret = EAGAIN).
 * Sets exit->ret (and exit->npages on ENOSPC) and returns 0, with *ret_lock_fd the fd holding
 * the read lock (-1 when there is none; close it after the request reached the firmware).
 * Returns a negative errno only for a caller error (NULL arguments). */
int hv_snp_req_certs_handle(struct hv_kvm_exit_snp_req_certs *exit, const struct hv_guest_mem *m,
			    const char *path, unsigned lock_timeout_ms, int *ret_lock_fd);
/* The same on a vCPU's kvm_run after KVM_EXIT_SNP_REQ_CERTS (-EINVAL for another exit). */
int hv_snp_req_certs_handle_run(struct kvm_run *run, const struct hv_guest_mem *m,
				const char *path, unsigned lock_timeout_ms, int *ret_lock_fd);

/* Check a certificate table blob: entries inside `len`, an all-zero terminator, every
 * {offset, length} inside the blob and past the table. 0 or -EBADMSG. */
int hv_snp_cert_table_check(const uint8_t *blob, size_t len);
