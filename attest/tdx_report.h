/* attest/tdx_report.h: Intel TDX evidence: TDREPORT_STRUCT (1024 bytes; Intel TDX Module ABI
 * Specification, TDREPORT_STRUCT / REPORTMACSTRUCT / TEE_TCB_INFO / TDINFO_STRUCT; layout also in
 * hv/emul/tdx_module.h) and DCAP quotes v4 and v5 (Intel TDX DCAP Quoting Library API, appendix
 * "Quote Format": 48-byte header; v4 a 584-byte TD report body; v5 a u16 body type (2 = TD 1.0,
 * 584 bytes; 3 = TD 1.5, 648 bytes) and u32 body size before the body; then u32 signature data
 * length and the signature data). Parsing, JSON, and reference-value checks (MRSEAM among known
 * modules, MRTD, RTMRs). THE QUOTE SIGNATURE AND PCK CHAIN ARE NOT VERIFIED here (a later
 * issue): results say so. Pure. */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/check.h"

#define TDX_TDREPORT_SIZE 1024
#define TDX_QUOTE_HEADER_SIZE 48
#define TDX_QUOTE_BODY_V4_SIZE 584 /* TD 1.0 report body */
#define TDX_QUOTE_BODY_15_SIZE 648 /* TD 1.5: + TEE_TCB_SVN2[16] + MRSERVICETD[48] */
#define TDX_QUOTE_MAX_SIZE (64u * 1024)
#define TDX_TEE_TYPE_TDX 0x81

/* What a TD report body carries (quote body; a TDREPORT's TEE_TCB_INFO + TDINFO). */
struct tdx_td_body {
	uint8_t tee_tcb_svn[16];
	uint8_t mrseam[48], mrsignerseam[48];
	uint64_t seam_attributes, td_attributes, xfam;
	uint8_t mrtd[48], mrconfigid[48], mrowner[48], mrownerconfig[48];
	uint8_t rtmr[4][48];
	uint8_t report_data[64];
	bool has_15; /* TD 1.5 fields below are present */
	uint8_t tee_tcb_svn2[16];
	uint8_t mrservicetd[48]; /* TDREPORT: SERVTD_HASH */
};

struct tdx_tdreport {
	uint8_t report_type, report_subtype, report_version;
	uint8_t cpusvn[16];
	uint8_t tee_tcb_info_hash[48], tee_info_hash[48];
	uint8_t mac[32];
	uint64_t tee_tcb_info_valid;
	struct tdx_td_body body;
};

struct tdx_quote {
	uint16_t version, att_key_type;
	uint32_t tee_type;
	uint16_t qe_svn, pce_svn;
	uint8_t qe_vendor_id[16], user_data[20];
	uint16_t body_type; /* v5: 2 or 3; v4: 2 (implied) */
	uint32_t body_size;
	struct tdx_td_body body;
	uint32_t sig_data_len;
	size_t sig_data_off; /* into the quote bytes */
};

/* -EBADMSG naming the field: size, REPORTTYPE not TDX (0x81), reserved bytes nonzero. */
int tdx_tdreport_parse(const uint8_t *buf, size_t len, struct tdx_tdreport *ret, char *err,
		       size_t errlen);
/* -EBADMSG: truncated, version not 4/5, TEE type not TDX, attestation key type not 2/3, a v5
 * body type other than 2/3 or a size not its own, signature data running past the end or
 * bytes after it. */
int tdx_quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *ret, char *err,
		    size_t errlen);
json_object *tdx_tdreport_json(const struct tdx_tdreport *r);
/* Includes "signature_verified": false and a note saying the quote signature is not checked. */
json_object *tdx_quote_json(const struct tdx_quote *q);

struct tdx_reference {
	const uint8_t (*known_mrseam)[48]; /* the module store's MRSEAMs; n 0 = skip */
	size_t n_known_mrseam;
	bool has_mrtd;
	uint8_t mrtd[48];
	bool has_rtmr[4];
	uint8_t rtmr[4][48];
	bool has_report_data;
	uint8_t report_data[64];
};
/* tdx.mrseam, tdx.mrtd, tdx.rtmr0..3, tdx.report_data, and for a quote (is_quote)
 * quote.signature: skipped, "NOT VERIFIED". */
void tdx_check_reference(const struct tdx_td_body *b, const struct tdx_reference *ref,
			 bool is_quote, struct attest_result *res);
