/* The GHCB certificate table file that VMMs read on KVM_EXIT_SNP_REQ_CERTS (hv/snp_req_certs.h).
 *
 * Protocol (kernel doc of KVM_SEV_SNP_ENABLE_REQ_CERTS): a VMM holds an F_OFD_SETLK read lock on
 * the file from reading it until its request has reached the firmware; whoever changes what
 * the table must say (SNP_COMMIT, SNP_SET_CONFIG, SNP_VLEK_LOAD, a rewrite) holds the write lock.
 *
 * A rewrite writes a temporary file in the same directory, fsyncs it, takes the write lock on
 * it too, renames it over the path and fsyncs the directory: a crash leaves the old or the new
 * table, never a torn one. A VMM that opened the old inode before the rename and is waiting for
 * its read lock must not get the old table after a commit either, so the old inode gets the new
 * bytes as well, under the write lock, before it is released. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct certfile_lock {
	int fd; /* the inode currently at path, write-locked; -1 when not held */
};

/* Take the exclusive OFD lock on path (created empty, 0644, if missing: an empty file means
 * "no certificates" to hv_snp_req_certs_handle), waiting at most timeout_ms for VMM readers.
 * -ETIMEDOUT when they kept it longer. */
int certfile_lock(const char *path, unsigned timeout_ms, struct certfile_lock *ret);
/* Release (idempotent). */
void certfile_unlock(struct certfile_lock *lock);

/* Replace the table at path with blob, under `lock` (held on path by certfile_lock). The lock
 * stays held, now on the new inode. */
int certfile_write_locked(struct certfile_lock *lock, const char *path, const uint8_t *blob,
			  size_t len);
/* Lock, write, unlock. */
int certfile_write(const char *path, const uint8_t *blob, size_t len, unsigned timeout_ms);
