#include "coco/snp/hashes.h"

#include <errno.h>
#include <openssl/sha.h>
#include <string.h>

#include "coco/guid.h"

/* QEMU target/i386/sev.c: SEV_HASH_TABLE_HEADER_GUID and the three entry GUIDs. */
#define GUID_TABLE_HEADER                                                                          \
	COCO_GUID(0x9438d606, 0x4f22, 0x4cc9, 0xb4, 0x79, 0xa7, 0x93, 0xd4, 0x11, 0xfd, 0x21)
#define GUID_KERNEL                                                                                \
	COCO_GUID(0x4de79437, 0xabd2, 0x427f, 0xb8, 0x35, 0xd5, 0xb1, 0x72, 0xd2, 0x04, 0x5b)
#define GUID_INITRD                                                                                \
	COCO_GUID(0x44baf731, 0x3a2f, 0x4bd7, 0x9a, 0xf1, 0x41, 0xe2, 0x91, 0x69, 0x78, 0x1d)
#define GUID_CMDLINE                                                                               \
	COCO_GUID(0x97d02dd8, 0xbd20, 0x4c94, 0xaa, 0x78, 0xe7, 0x71, 0x4d, 0x36, 0xab, 0x2a)

#define ENTRY_LEN 50 /* GUID, u16 length, SHA-256 */

static uint8_t *put_entry(uint8_t *p, struct coco_guid g, const uint8_t hash[32])
{
	memcpy(p, g.b, 16);
	p[16] = ENTRY_LEN;
	p[17] = 0;
	memcpy(p + 18, hash, 32);
	return p + ENTRY_LEN;
}

void snp_hash_table_build(const struct snp_kernel_hashes *h, uint8_t out[SNP_HASH_TABLE_PADDED])
{
	memset(out, 0, SNP_HASH_TABLE_PADDED);
	struct coco_guid hdr = GUID_TABLE_HEADER;
	memcpy(out, hdr.b, 16);
	out[16] = SNP_HASH_TABLE_LEN & 0xff;
	out[17] = SNP_HASH_TABLE_LEN >> 8;
	uint8_t *p = out + 18;
	/* Order fixed by QEMU's SevHashTable: cmdline, initrd, kernel. */
	p = put_entry(p, GUID_CMDLINE, h->cmdline);
	p = put_entry(p, GUID_INITRD, h->initrd);
	put_entry(p, GUID_KERNEL, h->kernel);
}

int snp_hash_table_page(const struct snp_kernel_hashes *h, uint64_t gpa,
			uint8_t page[SNP_PAGE_SIZE])
{
	size_t off = gpa & (SNP_PAGE_SIZE - 1);
	if (off + SNP_HASH_TABLE_PADDED > SNP_PAGE_SIZE)
		return -EINVAL;
	memset(page, 0, SNP_PAGE_SIZE);
	snp_hash_table_build(h, page + off);
	return 0;
}

void snp_hash_cmdline(const char *cmdline, uint8_t out[32])
{
	/* strlen + 1 includes the terminator; NULL hashes the lone NUL of an empty line. */
	const char *s = cmdline ? cmdline : "";
	SHA256((const unsigned char *)s, strlen(s) + 1, out);
}
