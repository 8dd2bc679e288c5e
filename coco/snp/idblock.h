/* The SEV-SNP ID block and ID authentication information a VMM hands to SNP_LAUNCH_FINISH
 * (KVM: struct kvm_sev_snp_launch_finish id_block_uaddr/id_auth_uaddr; QEMU: sev-snp-guest
 * id-block=/id-auth= as base64), signed with ECDSA P-384/SHA-384 "ID" and optional "author"
 * keys. The firmware refuses to launch a guest whose launch digest or policy differs from the
 * block, and puts the SHA-384 of each public key structure in every attestation report
 * (REPORT.ID_KEY_DIGEST, REPORT.AUTHOR_KEY_DIGEST).
 *
 * Layouts: SEV-SNP Firmware ABI (AMD pub. 56860), SNP_LAUNCH_FINISH "ID Block" and "ID
 * Authentication Information Structure" tables, and the "ECDSA Signature Format" / "ECDSA Public
 * Key Format" tables of its chapter on digital signatures. Sizes match Linux uapi asm/kvm.h
 * (KVM_SEV_SNP_ID_BLOCK_SIZE 96, KVM_SEV_SNP_ID_AUTH_SIZE 4096); offsets match AMD's own
 * AMDESE/sev-guest id-block.h and sev-ecdsa.h, virtee/sev idblock_types.rs and
 * sev-snp-measure id_block.py. All integers little-endian.
 *
 * Pure: no I/O, no logging; errors are a negative errno plus a message in err. */
#pragma once
#include <openssl/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coco/snp/gctx.h"

/* SNP ABI "ID Block" (SNP_LAUNCH_FINISH), 0x60 bytes. */
#define SNP_ID_BLOCK_SIZE 0x60
#define SNP_ID_BLOCK_LD_OFF 0x00	/* LD: expected launch digest, 48 bytes */
#define SNP_ID_BLOCK_FAMILY_ID_OFF 0x30 /* FAMILY_ID, 16 bytes */
#define SNP_ID_BLOCK_IMAGE_ID_OFF 0x40	/* IMAGE_ID, 16 bytes */
#define SNP_ID_BLOCK_VERSION_OFF 0x50	/* VERSION, u32: must be 1 */
#define SNP_ID_BLOCK_GUEST_SVN_OFF 0x54 /* GUEST_SVN, u32 */
#define SNP_ID_BLOCK_POLICY_OFF 0x58	/* POLICY, u64: must equal SNP_LAUNCH_START's */
#define SNP_ID_BLOCK_VERSION 1
#define SNP_ID_SIZE 16

/* SNP ABI "ID Authentication Information Structure", 0x1000 bytes; reserved ranges
 * 0x008-0x03F, 0x644-0x67F and 0xC84-0xFFF are zero. */
#define SNP_ID_AUTH_SIZE 0x1000
#define SNP_ID_AUTH_ID_KEY_ALGO_OFF 0x000   /* ID_KEY_ALGO, u32 */
#define SNP_ID_AUTH_AUTH_KEY_ALGO_OFF 0x004 /* AUTH_KEY_ALGO, u32 (0 without author key) */
#define SNP_ID_AUTH_ID_BLOCK_SIG_OFF 0x040  /* ID_BLOCK_SIG: ID key over the ID block */
#define SNP_ID_AUTH_ID_KEY_OFF 0x240	    /* ID_KEY: public key structure */
#define SNP_ID_AUTH_ID_KEY_SIG_OFF 0x680    /* ID_KEY_SIG: author key over ID_KEY */
#define SNP_ID_AUTH_AUTHOR_KEY_OFF 0x880    /* AUTHOR_KEY: public key structure */

/* SNP ABI signature algorithm encoding: 1 = ECDSA P-384 with SHA-384. */
#define SNP_SIG_ALGO_ECDSA_P384_SHA384 1
/* SNP ABI ECC curve encoding: 2 = P-384. */
#define SNP_ECC_CURVE_P384 2

/* SNP ABI "ECDSA Signature Format", 0x200 bytes: R at 0x00 and S at 0x48, each a 72-byte
 * little-endian integer zero-extended from 48 bytes; 0x90-0x1FF reserved. */
#define SNP_ECDSA_SIG_SIZE 0x200
#define SNP_ECDSA_SIG_R_OFF 0x00
#define SNP_ECDSA_SIG_S_OFF 0x48
/* SNP ABI "ECDSA Public Key Format", 0x404 bytes: CURVE u32 at 0x00, QX at 0x04 and QY at 0x4C
 * (72-byte little-endian, zero-extended); 0x94-0x403 reserved. */
#define SNP_ECDSA_PUBKEY_SIZE 0x404
#define SNP_ECDSA_PUBKEY_QX_OFF 0x04
#define SNP_ECDSA_PUBKEY_QY_OFF 0x4c
#define SNP_ECDSA_COORD_SIZE 72 /* field width; P-384 values use the low 48 bytes */

/* QEMU's sev-snp-guest default policy, and sev-snp-measure's and snpguest's ID block default:
 * bit 17 (reserved, must be one) and bit 16 (SMT allowed). */
#define SNP_ID_DEFAULT_POLICY 0x30000ull

/* Largest PEM key file accepted. */
#define SNP_ID_KEY_PEM_MAX (64 * 1024)

struct snp_id_block_fields {
	uint8_t ld[SNP_LD_SIZE];
	uint8_t family_id[SNP_ID_SIZE];
	uint8_t image_id[SNP_ID_SIZE];
	uint32_t guest_svn;
	uint64_t policy;
};

/* The 0x60 ID block bytes, VERSION 1. */
void snp_id_block_build(const struct snp_id_block_fields *f, uint8_t out[SNP_ID_BLOCK_SIZE]);
/* Read an ID block back; -EINVAL on a wrong length or VERSION other than 1. */
int snp_id_block_parse(const uint8_t *buf, size_t len, struct snp_id_block_fields *ret, char *err,
		       size_t errlen);

/* An ECDSA P-384 key from PEM text: private as SEC1 "EC PRIVATE KEY" or PKCS#8 "PRIVATE KEY";
 * with need_private false also a "PUBLIC KEY". Refuses other key types and curves, explicit
 * curve parameters, encrypted keys (never prompts), and keys failing OpenSSL's key check.
 * The caller frees *ret_key with EVP_PKEY_free(). */
int snp_id_key_from_pem(const void *pem, size_t len, bool need_private, EVP_PKEY **ret_key,
			char *err, size_t errlen);
/* The 0x404-byte public key structure of a P-384 key. */
int snp_id_key_encode(const EVP_PKEY *key, uint8_t out[SNP_ECDSA_PUBKEY_SIZE], char *err,
		      size_t errlen);
/* SHA-384 of a public key structure: what the report's ID_KEY_DIGEST/AUTHOR_KEY_DIGEST hold. */
void snp_id_pubkey_digest(const uint8_t pub[SNP_ECDSA_PUBKEY_SIZE], uint8_t out[SNP_LD_SIZE]);
/* snp_id_key_encode() then snp_id_pubkey_digest(). */
int snp_id_key_digest(const EVP_PKEY *key, uint8_t out[SNP_LD_SIZE], char *err, size_t errlen);
/* A public key structure back to an EVP_PKEY: CURVE must be 2, coordinates below 2^384 and on
 * the curve (reserved bytes are not looked at; they are covered by the key digest). */
int snp_id_pubkey_decode(const uint8_t pub[SNP_ECDSA_PUBKEY_SIZE], EVP_PKEY **ret_key, char *err,
			 size_t errlen);

/* Sign an ID block into ID_AUTH_INFO: ID_BLOCK_SIG over the 0x60 block bytes with id_key; with
 * author_key (may be NULL) also ID_KEY_SIG over the 0x404-byte ID_KEY structure. Launch with
 * KVM auth_key_en / QEMU author-key-enabled=on exactly when author_key was given. */
int snp_id_auth_sign(const uint8_t id_block[SNP_ID_BLOCK_SIZE], EVP_PKEY *id_key,
		     EVP_PKEY *author_key, uint8_t out[SNP_ID_AUTH_SIZE], char *err, size_t errlen);

/* Verify an SNP signature structure (R, S little-endian at 0x00 / 0x48, 72 bytes each, the
 * top 24 bytes of each zero) over msg: ECDSA P-384 with SHA-384 of msg. 1 verified, 0 not,
 * -EINVAL an R or S above 384 bits, -ENOMEM. Reports and ID blocks are signed this way. */
int snp_ecdsa_sig_verify(EVP_PKEY *key, const uint8_t *msg, size_t len,
			 const uint8_t sig_field[SNP_ECDSA_SIG_SIZE], char *err, size_t errlen);

struct snp_id_auth_verified {
	uint8_t id_key_digest[SNP_LD_SIZE];
	bool author_key; /* author_key_en was set and its signature verified */
	uint8_t author_key_digest[SNP_LD_SIZE]; /* zeros without author key */
};

/* Check ID_AUTH_INFO as the firmware does at SNP_LAUNCH_FINISH: algorithms, keys, ID_BLOCK_SIG
 * over id_block and, when author_key_en, ID_KEY_SIG over ID_KEY. -EINVAL for malformed input,
 * -EBADMSG for a signature that does not verify. On success fills *ret (may be NULL). */
int snp_id_auth_verify(const uint8_t *id_block, size_t id_block_len, const uint8_t *id_auth,
		       size_t id_auth_len, bool author_key_en, struct snp_id_auth_verified *ret,
		       char *err, size_t errlen);
