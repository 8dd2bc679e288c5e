/* The VMM socket: VMMs (QEMU, cloud-hypervisor, ...) ask cocod for the GHCB certificate table
 * on KVM_EXIT_SNP_REQ_CERTS instead of reading the file. A Unix SOCK_SEQPACKET server: one
 * request per message, one reply per message, so a message's size is known before it is read.
 * Protocol: docs/VMM-SOCKET.md. It runs on cocod's epoll loop as one source (its own epoll fd
 * holds the listener and the connections) and serves a preassembled blob that the owner
 * replaces only when the certificates change. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct coco_loop;
struct vmmsock;

/* Wire format (little-endian u32 fields). */
#define VMMSOCK_MAGIC 0x56434f43u /* "COCV" */
#define VMMSOCK_VERSION 1u
#define VMMSOCK_OP_GET_CERTS 1u
#define VMMSOCK_REQUEST_SIZE 16u
#define VMMSOCK_REPLY_HEADER_SIZE 16u
#define VMMSOCK_STATUS_OK 0u
#define VMMSOCK_STATUS_ENOSPC 28u /* Linux ENOSPC: the guest buffer is too small */
#define VMMSOCK_STATUS_EAGAIN 11u /* Linux EAGAIN: no table yet, ask again */
#define VMMSOCK_PAGE_SIZE 4096u
/* One reply is one message, so it must fit a Unix socket send buffer (wmem_default 208 KiB);
 * an ARK+ASK+VCEK+CRL table is ~10 KiB. */
#define VMMSOCK_TABLE_MAX (128u * 1024)

struct vmmsock_options {
	unsigned max_connections; /* 0: 64 */
	gid_t allowed_gid;        /* peers in this group (primary or supplementary) may connect */
	int allow_gid;            /* 0: only root and cocod's own uid */
	mode_t socket_mode;       /* 0: 0660 */
};

struct vmmsock_stats {
	uint64_t accepted, refused, requests, replies_ok, replies_enospc, replies_eagain,
		protocol_errors;
	unsigned connections;
};

/* Listen on path (a stale socket there is replaced; anything else is -EEXIST) and register on
 * loop. The table starts unset: requests get EAGAIN until vmmsock_set_table(). */
int vmmsock_new(struct coco_loop *loop, const char *path, const struct vmmsock_options *opts,
		struct vmmsock **ret);
/* Close every connection and the listener, unlink path, leave the loop. */
void vmmsock_free(struct vmmsock *v);
/* Replace the served table (copied; len <= VMMSOCK_TABLE_MAX; NULL/0 = unset: EAGAIN). Call on
 * the loop's thread: the swap is then atomic for every request; replies already queued keep
 * the table they were answered with. */
int vmmsock_set_table(struct vmmsock *v, const uint8_t *blob, size_t len);
void vmmsock_get_stats(const struct vmmsock *v, struct vmmsock_stats *ret);

/* Client side, blocking, for VMM-side helpers, tests and the bench: one request on a connected
 * fd. The reply's table goes into buf (at most buf_len bytes; -EMSGSIZE beyond). *ret_status,
 * *ret_pages_needed, *ret_len as on the wire. */
int vmmsock_request(int fd, uint32_t guest_pages, uint8_t *buf, size_t buf_len,
		    uint32_t *ret_status, uint32_t *ret_pages_needed, size_t *ret_len);
/* Connect a SOCK_SEQPACKET client to path; returns the fd or a negative errno. */
int vmmsock_connect(const char *path);
