/* attest/snp_report.h: the SEV-SNP ATTESTATION_REPORT (SNP ABI 1.58, table 23
 * "ATTESTATION_REPORT Structure"; 0x4A0 bytes), versions 2, 3 (adds CPUID_FAM_ID/MOD_ID/STEP at
 * 0x188) and 5 (adds LAUNCH_MIT_VECTOR / CURRENT_MIT_VECTOR at 0x1F8 / 0x200). Strict: every
 * reserved (MBZ) range of the report's version is checked. Pure. */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coco/snp/product.h"

#define SNP_REPORT_SIZE 0x4a0
#define SNP_REPORT_SIGNED_LEN 0x2a0 /* the signature covers bytes 0x000..0x29F */
#define SNP_REPORT_SIGNATURE_OFF 0x2a0
#define SNP_REPORT_VERSION_OFF 0x000
#define SNP_REPORT_GUEST_SVN_OFF 0x004
#define SNP_REPORT_POLICY_OFF 0x008
#define SNP_REPORT_FAMILY_ID_OFF 0x010
#define SNP_REPORT_IMAGE_ID_OFF 0x020
#define SNP_REPORT_VMPL_OFF 0x030
#define SNP_REPORT_SIGNATURE_ALGO_OFF 0x034
#define SNP_REPORT_CURRENT_TCB_OFF 0x038
#define SNP_REPORT_PLATFORM_INFO_OFF 0x040
#define SNP_REPORT_KEY_INFO_OFF 0x048 /* bit 0 AUTHOR_KEY_EN, 1 MASK_CHIP_KEY, 4:2 SIGNING_KEY */
#define SNP_REPORT_RESERVED0_OFF 0x04c
#define SNP_REPORT_REPORT_DATA_OFF 0x050
#define SNP_REPORT_MEASUREMENT_OFF 0x090
#define SNP_REPORT_HOST_DATA_OFF 0x0c0
#define SNP_REPORT_ID_KEY_DIGEST_OFF 0x0e0
#define SNP_REPORT_AUTHOR_KEY_DIGEST_OFF 0x110
#define SNP_REPORT_REPORT_ID_OFF 0x140
#define SNP_REPORT_REPORT_ID_MA_OFF 0x160
#define SNP_REPORT_REPORTED_TCB_OFF 0x180
#define SNP_REPORT_CPUID_FAM_ID_OFF 0x188 /* v3+ */
#define SNP_REPORT_CPUID_MOD_ID_OFF 0x189
#define SNP_REPORT_CPUID_STEP_OFF 0x18a
#define SNP_REPORT_CHIP_ID_OFF 0x1a0
#define SNP_REPORT_COMMITTED_TCB_OFF 0x1e0
#define SNP_REPORT_CURRENT_BUILD_OFF 0x1e8 /* BUILD, MINOR 0x1E9, MAJOR 0x1EA, 0x1EB reserved */
#define SNP_REPORT_COMMITTED_BUILD_OFF 0x1ec /* BUILD, MINOR 0x1ED, MAJOR 0x1EE, 0x1EF rsvd */
#define SNP_REPORT_LAUNCH_TCB_OFF 0x1f0
#define SNP_REPORT_LAUNCH_MIT_VECTOR_OFF 0x1f8 /* v5 */
#define SNP_REPORT_CURRENT_MIT_VECTOR_OFF 0x200 /* v5 */
#define SNP_REPORT_SIG_R_OFF 0x2a0
#define SNP_REPORT_SIG_S_OFF 0x2e8

/* KEY_INFO.SIGNING_KEY */
#define SNP_SIGNING_KEY_VCEK 0
#define SNP_SIGNING_KEY_VLEK 1
#define SNP_SIGNING_KEY_NONE 7

/* Guest POLICY bits (SNP ABI 1.58 table 9). */
#define SNP_POLICY_ABI_MINOR(p) ((unsigned)((p) & 0xff))
#define SNP_POLICY_ABI_MAJOR(p) ((unsigned)(((p) >> 8) & 0xff))
#define SNP_POLICY_SMT (1ull << 16)
#define SNP_POLICY_RESERVED_ONE (1ull << 17) /* must be 1 */
#define SNP_POLICY_MIGRATE_MA (1ull << 18)
#define SNP_POLICY_DEBUG (1ull << 19)
#define SNP_POLICY_SINGLE_SOCKET (1ull << 20)

struct snp_report {
	uint32_t version;
	uint32_t guest_svn;
	uint64_t policy;
	uint8_t family_id[16], image_id[16];
	uint32_t vmpl;
	uint32_t signature_algo;
	uint64_t current_tcb;
	uint64_t platform_info;
	bool author_key_en, mask_chip_key;
	uint8_t signing_key; /* SNP_SIGNING_KEY_* */
	uint8_t report_data[64];
	uint8_t measurement[48];
	uint8_t host_data[32];
	uint8_t id_key_digest[48], author_key_digest[48];
	uint8_t report_id[32], report_id_ma[32];
	uint64_t reported_tcb;
	bool has_cpuid; /* v3+ */
	uint8_t cpuid_fam_id, cpuid_mod_id, cpuid_step;
	uint8_t chip_id[64];
	uint64_t committed_tcb;
	uint8_t current_build, current_minor, current_major;
	uint8_t committed_build, committed_minor, committed_major;
	uint64_t launch_tcb;
	bool has_mit_vectors; /* v5 */
	uint64_t launch_mit_vector, current_mit_vector;
	uint8_t raw[SNP_REPORT_SIZE]; /* the bytes as received: signed and verified as they are */
};

/* -EBADMSG naming the field: not 0x4A0 bytes, a version other than 2, 3, 5, a reserved byte
 * nonzero (with its offset). Nothing is interpreted beyond layout (signature algorithm, TCB
 * layout and policy are the verifier's checks). */
int snp_report_parse(const uint8_t *buf, size_t len, struct snp_report *ret, char *err,
		     size_t errlen);
/* The product a v3+ report's CPUID fields name; SNP_PRODUCT_UNKNOWN for v2 or unknown parts. */
enum snp_product snp_report_product(const struct snp_report *r);
/* Every field, hex for byte strings, TCBs decoded in product's layout (UNKNOWN: raw only). */
json_object *snp_report_json(const struct snp_report *r, enum snp_product product);
/* A TCB_VERSION as {"raw": "0x...", "fmc"?, "bootloader", "tee", "snp", "microcode"}. */
json_object *snp_tcb_json(enum snp_product product, uint64_t tcb);
