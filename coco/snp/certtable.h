/* The GHCB certificate table (GHCB spec 2.03, 4.1.8.1: SNP extended guest request / MSG_REPORT_REQ
 * with certificates; KVM_EXIT_SNP_REQ_CERTS): 24-byte entries {GUID (16), u32 offset,
 * u32 length}, ended by an all-zero entry, followed by the certificates; offsets are from the
 * start of the table, little-endian. GUIDs are stored in RFC 4122 (big-endian) byte order, not
 * COCO_GUID's EFI order: evidence in certtable.c. Pure: no I/O, no logging. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "coco/guid.h"

enum snp_cert_kind {
	SNP_CERT_OTHER = 0, /* a GUID we do not know: kept, passed through */
	SNP_CERT_ARK,
	SNP_CERT_ASK, /* ASK, or ASVK in a VLEK chain (see the GUID table in certtable.c) */
	SNP_CERT_VCEK,
	SNP_CERT_VLEK,
	SNP_CERT_CRL,
};

#define SNP_CERT_TABLE_ENTRY_SIZE 24
#define SNP_CERT_TABLE_MAX_ENTRIES 64
#define SNP_CERT_TABLE_MAX_SIZE (1u << 20) /* far above ARK+ASK+VCEK+CRL (~10 KiB) */

struct snp_cert_entry {
	struct coco_guid guid;
	enum snp_cert_kind kind;
	const uint8_t *data; /* decode: points into the blob */
	size_t len;
};

/* The GUID of a kind (GHCB spec table), and the kind of a GUID (SNP_CERT_OTHER if unknown). */
struct coco_guid snp_cert_kind_guid(enum snp_cert_kind k);
enum snp_cert_kind snp_cert_kind_of(const struct coco_guid *g);
const char *snp_cert_kind_name(enum snp_cert_kind k); /* "ark", "ask", "vcek", "vlek", "crl" */

/* Build a table from n entries (their guid is taken from kind unless kind is OTHER): entries,
 * terminator, then the data in order, packed. *ret is
 * malloc'd. -EINVAL: n == 0, n > SNP_CERT_TABLE_MAX_ENTRIES, an empty entry, a zero GUID or a
 * total over SNP_CERT_TABLE_MAX_SIZE. */
int snp_cert_table_encode(const struct snp_cert_entry *entries, size_t n, uint8_t **ret,
			  size_t *ret_len);
/* Parse a table from untrusted bytes: at most SNP_CERT_TABLE_MAX_SIZE bytes, an all-zero
 * terminator (a zero GUID with a nonzero offset/length is refused), at most
 * SNP_CERT_TABLE_MAX_ENTRIES entries, each non-empty, its data inside the blob (computed in
 * 64 bits: no 32-bit wrap) and after the entry array and terminator, no two entries with the
 * same GUID or overlapping data. A bare terminator is a valid table of 0 entries. Entries point
 * into blob. -EBADMSG with a reason in err (may be NULL); -ENOSPC when valid but more than
 * max_entries; outputs untouched on failure. */
int snp_cert_table_decode(const uint8_t *blob, size_t len, struct snp_cert_entry *ret_entries,
			  size_t max_entries, size_t *ret_n, char *err, size_t errlen);
