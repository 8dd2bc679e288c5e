/* attest/tdx_report.c: TDREPORT and DCAP quote v4/v5 parsing, JSON and reference checks. */
#include "attest/tdx_report.h"

#include "coco/endian.h"
#include "coco/util.h"

/* TD report body (quote), TD 1.0: offsets in the DCAP Quoting Library API's table. */
enum {
	BODY_TEE_TCB_SVN = 0,
	BODY_MRSEAM = 16,
	BODY_MRSIGNERSEAM = 64,
	BODY_SEAMATTRIBUTES = 112,
	BODY_TDATTRIBUTES = 120,
	BODY_XFAM = 128,
	BODY_MRTD = 136,
	BODY_MRCONFIGID = 184,
	BODY_MROWNER = 232,
	BODY_MROWNERCONFIG = 280,
	BODY_RTMR0 = 328,
	BODY_REPORTDATA = 520,
	BODY_TEE_TCB_SVN2 = 584, /* TD 1.5 */
	BODY_MRSERVICETD = 600,
};

/* TDREPORT_STRUCT (TDX Module ABI): see hv/emul/tdx_module.h for the same table. */
enum {
	TR_TYPE = 0,
	TR_RESERVED1 = 4, /* 12 bytes */
	TR_CPUSVN = 16,
	TR_TEE_TCB_INFO_HASH = 32,
	TR_TEE_INFO_HASH = 80,
	TR_REPORTDATA = 128,
	TR_RESERVED2 = 192, /* 32 bytes */
	TR_MAC = 224,
	TR_TCB = 256, /* TEE_TCB_INFO, 239 bytes */
	TCB_VALID = 0,
	TCB_SVN = 8,
	TCB_MRSEAM = 24,
	TCB_MRSIGNERSEAM = 72,
	TCB_ATTRIBUTES = 120,
	TCB_SVN2 = 128,
	TCB_RESERVED = 144, /* 95 bytes */
	TR_RESERVED3 = 495, /* 17 bytes */
	TR_TDINFO = 512,
	TI_ATTRIBUTES = 0,
	TI_XFAM = 8,
	TI_MRTD = 16,
	TI_MRCONFIGID = 64,
	TI_MROWNER = 112,
	TI_MROWNERCONFIG = 160,
	TI_RTMR = 208,
	TI_SERVTD_HASH = 400,
	TI_RESERVED = 448, /* 64 bytes */
};

/* Where each body field sits: a quote body (offsets from the body) or a TDREPORT (offsets
 * from the report: TEE_TCB_INFO, TDINFO and REPORTMACSTRUCT.REPORTDATA). */
struct body_layout {
	size_t svn, mrseam, mrsignerseam, seam_attr, td_attr, xfam, mrtd, mrconfigid, mrowner,
	    mrownerconfig, rtmr, report_data, svn2, servtd;
};

static const struct body_layout quote_layout = {
    BODY_TEE_TCB_SVN, BODY_MRSEAM,	BODY_MRSIGNERSEAM, BODY_SEAMATTRIBUTES, BODY_TDATTRIBUTES,
    BODY_XFAM,	      BODY_MRTD,	BODY_MRCONFIGID,   BODY_MROWNER,	BODY_MROWNERCONFIG,
    BODY_RTMR0,	      BODY_REPORTDATA, BODY_TEE_TCB_SVN2, BODY_MRSERVICETD};

static const struct body_layout tdreport_layout = {
    TR_TCB + TCB_SVN,		  TR_TCB + TCB_MRSEAM,	      TR_TCB + TCB_MRSIGNERSEAM,
    TR_TCB + TCB_ATTRIBUTES,	  TR_TDINFO + TI_ATTRIBUTES,  TR_TDINFO + TI_XFAM,
    TR_TDINFO + TI_MRTD,	  TR_TDINFO + TI_MRCONFIGID,  TR_TDINFO + TI_MROWNER,
    TR_TDINFO + TI_MROWNERCONFIG, TR_TDINFO + TI_RTMR,	      TR_REPORTDATA,
    TR_TCB + TCB_SVN2,		  TR_TDINFO + TI_SERVTD_HASH};

static void body_parse(const uint8_t *p, const struct body_layout *l, bool td15,
		       struct tdx_td_body *b)
{
	memcpy(b->tee_tcb_svn, p + l->svn, 16);
	memcpy(b->mrseam, p + l->mrseam, 48);
	memcpy(b->mrsignerseam, p + l->mrsignerseam, 48);
	b->seam_attributes = get_le64(p + l->seam_attr);
	b->td_attributes = get_le64(p + l->td_attr);
	b->xfam = get_le64(p + l->xfam);
	memcpy(b->mrtd, p + l->mrtd, 48);
	memcpy(b->mrconfigid, p + l->mrconfigid, 48);
	memcpy(b->mrowner, p + l->mrowner, 48);
	memcpy(b->mrownerconfig, p + l->mrownerconfig, 48);
	memcpy(b->rtmr, p + l->rtmr, sizeof(b->rtmr));
	memcpy(b->report_data, p + l->report_data, 64);
	b->has_15 = td15;
	if (td15) {
		memcpy(b->tee_tcb_svn2, p + l->svn2, 16);
		memcpy(b->mrservicetd, p + l->servtd, 48);
	}
}

static int nonzero_at(const uint8_t *b, size_t from, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[from + i])
			return (int)(from + i);
	return -1;
}

int tdx_tdreport_parse(const uint8_t *buf, size_t len, struct tdx_tdreport *ret, char *err,
		       size_t errlen)
{
	if (!buf || len != TDX_TDREPORT_SIZE)
		return set_error(err, errlen, -EBADMSG, "TDREPORT: %zu bytes, want %d", len,
				 TDX_TDREPORT_SIZE);
	if (buf[TR_TYPE] != TDX_TEE_TYPE_TDX)
		return set_error(err, errlen, -EBADMSG,
				 "TDREPORT: REPORTTYPE.TYPE 0x%02x, want 0x81 (TDX)", buf[TR_TYPE]);
	static const struct {
		size_t off, n;
	} rsvd[] = {{3, 1},
		    {TR_RESERVED1, 12},
		    {TR_RESERVED2, 32},
		    {TR_TCB + TCB_RESERVED, 95},
		    {TR_RESERVED3, 17},
		    {TR_TDINFO + TI_RESERVED, 64}};
	for (size_t i = 0; i < ARRAY_SIZE(rsvd); i++) {
		int at = nonzero_at(buf, rsvd[i].off, rsvd[i].n);
		if (at >= 0)
			return set_error(err, errlen, -EBADMSG,
					 "TDREPORT: reserved byte %d is 0x%02x", at, buf[at]);
	}
	struct tdx_tdreport r = {0};
	r.report_type = buf[TR_TYPE];
	r.report_subtype = buf[TR_TYPE + 1];
	r.report_version = buf[TR_TYPE + 2];
	memcpy(r.cpusvn, buf + TR_CPUSVN, 16);
	memcpy(r.tee_tcb_info_hash, buf + TR_TEE_TCB_INFO_HASH, 48);
	memcpy(r.tee_info_hash, buf + TR_TEE_INFO_HASH, 48);
	memcpy(r.mac, buf + TR_MAC, 32);
	r.tee_tcb_info_valid = get_le64(buf + TR_TCB + TCB_VALID);
	body_parse(buf, &tdreport_layout, true, &r.body);
	*ret = r;
	return 0;
}


int tdx_quote_parse(const uint8_t *buf, size_t len, struct tdx_quote *ret, char *err,
		    size_t errlen)
{
	if (!buf || len < TDX_QUOTE_HEADER_SIZE)
		return set_error(err, errlen, -EBADMSG, "quote: %zu bytes, shorter than the header",
				 len);
	if (len > TDX_QUOTE_MAX_SIZE)
		return set_error(err, errlen, -EBADMSG, "quote: %zu bytes, over %u", len,
				 TDX_QUOTE_MAX_SIZE);
	struct tdx_quote q = {0};
	q.version = get_le16(buf);
	q.att_key_type = get_le16(buf + 2);
	q.tee_type = get_le32(buf + 4);
	q.qe_svn = get_le16(buf + 8);
	q.pce_svn = get_le16(buf + 10);
	memcpy(q.qe_vendor_id, buf + 12, 16);
	memcpy(q.user_data, buf + 28, 20);
	if (q.version != 4 && q.version != 5)
		return set_error(err, errlen, -EBADMSG, "quote: version %u (known: 4, 5)",
				 q.version);
	if (q.tee_type != TDX_TEE_TYPE_TDX)
		return set_error(err, errlen, -EBADMSG, "quote: TEE type 0x%x, want 0x81 (TDX)",
				 q.tee_type);
	if (q.att_key_type != 2 && q.att_key_type != 3)
		return set_error(err, errlen, -EBADMSG,
				 "quote: attestation key type %u (2 ECDSA P-256, 3 P-384)",
				 q.att_key_type);
	size_t off = TDX_QUOTE_HEADER_SIZE;
	if (q.version == 4) {
		q.body_type = 2;
		q.body_size = TDX_QUOTE_BODY_V4_SIZE;
	} else {
		/* v5: the body descriptor first; never read a v5 body at v4 offsets. */
		if (len < off + 6)
			return set_error(err, errlen, -EBADMSG, "quote: v5 body descriptor truncated");
		q.body_type = get_le16(buf + off);
		q.body_size = get_le32(buf + off + 2);
		off += 6;
		uint32_t want = q.body_type == 2   ? TDX_QUOTE_BODY_V4_SIZE
				: q.body_type == 3 ? TDX_QUOTE_BODY_15_SIZE
						   : 0;
		if (!want)
			return set_error(err, errlen, -EBADMSG,
					 "quote: v5 body type %u (%s; TDX: 2 TD 1.0, 3 TD 1.5)",
					 q.body_type,
					 q.body_type == 1 ? "an SGX enclave report" : "unknown");
		if (q.body_size != want)
			return set_error(err, errlen, -EBADMSG,
					 "quote: v5 body type %u with size %u, want %u",
					 q.body_type, q.body_size, want);
	}
	if (len - off < q.body_size + 4)
		return set_error(err, errlen, -EBADMSG, "quote: %zu bytes, body truncated", len);
	body_parse(buf + off, &quote_layout, q.body_type == 3, &q.body);
	off += q.body_size;
	q.sig_data_len = get_le32(buf + off);
	off += 4;
	if (q.sig_data_len > len - off)
		return set_error(err, errlen, -EBADMSG,
				 "quote: signature data length %u, only %zu bytes left",
				 q.sig_data_len, len - off);
	if (q.sig_data_len != len - off)
		return set_error(err, errlen, -EBADMSG,
				 "quote: %zu bytes after the signature data",
				 len - off - q.sig_data_len);
	q.sig_data_off = off;
	*ret = q;
	return 0;
}

static json_object *body_json(const struct tdx_td_body *b)
{
	json_object *o = json_object_new_object(), *rt = json_object_new_array();
	attest_json_hex(o, "tee_tcb_svn", b->tee_tcb_svn, 16);
	attest_json_hex(o, "mrseam", b->mrseam, 48);
	attest_json_hex(o, "mrsignerseam", b->mrsignerseam, 48);
	attest_json_u64hex(o, "seam_attributes", b->seam_attributes);
	attest_json_u64hex(o, "td_attributes", b->td_attributes);
	json_object_object_add(o, "debug", json_object_new_boolean(b->td_attributes & 1));
	attest_json_u64hex(o, "xfam", b->xfam);
	attest_json_hex(o, "mrtd", b->mrtd, 48);
	attest_json_hex(o, "mrconfigid", b->mrconfigid, 48);
	attest_json_hex(o, "mrowner", b->mrowner, 48);
	attest_json_hex(o, "mrownerconfig", b->mrownerconfig, 48);
	for (int i = 0; i < 4; i++) {
		char h[97];
		hex_encode(b->rtmr[i], 48, h);
		json_object_array_add(rt, json_object_new_string(h));
	}
	json_object_object_add(o, "rtmr", rt);
	attest_json_hex(o, "report_data", b->report_data, 64);
	if (b->has_15) {
		attest_json_hex(o, "tee_tcb_svn2", b->tee_tcb_svn2, 16);
		attest_json_hex(o, "mrservicetd", b->mrservicetd, 48);
	}
	return o;
}

json_object *tdx_tdreport_json(const struct tdx_tdreport *r)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "report_type", json_object_new_int(r->report_type));
	json_object_object_add(o, "report_subtype", json_object_new_int(r->report_subtype));
	json_object_object_add(o, "report_version", json_object_new_int(r->report_version));
	attest_json_hex(o, "cpusvn", r->cpusvn, 16);
	attest_json_hex(o, "tee_tcb_info_hash", r->tee_tcb_info_hash, 48);
	attest_json_hex(o, "tee_info_hash", r->tee_info_hash, 48);
	attest_json_hex(o, "mac", r->mac, 32);
	attest_json_u64hex(o, "tee_tcb_info_valid", r->tee_tcb_info_valid);
	json_object_object_add(o, "td", body_json(&r->body));
	json_object_object_add(o, "mac_verified", json_object_new_boolean(false));
	json_object_object_add(o, "note",
			       json_object_new_string("the MAC is checked only by the CPU that made "
						      "the report (EVERIFYREPORT2)"));
	return o;
}

json_object *tdx_quote_json(const struct tdx_quote *q)
{
	json_object *o = json_object_new_object(), *h = json_object_new_object();
	json_object_object_add(h, "version", json_object_new_int(q->version));
	json_object_object_add(h, "att_key_type", json_object_new_int(q->att_key_type));
	json_object_object_add(h, "tee_type", json_object_new_int64(q->tee_type));
	json_object_object_add(h, "qe_svn", json_object_new_int(q->qe_svn));
	json_object_object_add(h, "pce_svn", json_object_new_int(q->pce_svn));
	attest_json_hex(h, "qe_vendor_id", q->qe_vendor_id, 16);
	attest_json_hex(h, "user_data", q->user_data, 20);
	json_object_object_add(o, "header", h);
	json_object_object_add(o, "body_type", json_object_new_int(q->body_type));
	json_object_object_add(o, "body_size", json_object_new_int64(q->body_size));
	json_object_object_add(o, "td", body_json(&q->body));
	json_object_object_add(o, "signature_data_length", json_object_new_int64(q->sig_data_len));
	json_object_object_add(o, "signature_verified", json_object_new_boolean(false));
	json_object_object_add(o, "note",
			       json_object_new_string("the quote signature and the PCK certificate "
						      "chain are NOT verified"));
	return o;
}

static void check_eq(struct attest_result *res, const char *name, bool want, const uint8_t *exp,
		     const uint8_t *act, size_t n)
{
	char e[129], a[129];
	hex_encode(act, n, a);
	if (!want) {
		attest_add(res, name, ATTEST_SKIPPED, NULL, a, "no reference value given");
		return;
	}
	hex_encode(exp, n, e);
	attest_add(res, name, mem_equal_ct(exp, act, n) ? ATTEST_PASSED : ATTEST_FAILED, e, a, NULL);
}

void tdx_check_reference(const struct tdx_td_body *b, const struct tdx_reference *ref,
			 bool is_quote, struct attest_result *res)
{
	char a[97];
	hex_encode(b->mrseam, 48, a);
	if (!ref->n_known_mrseam) {
		attest_add(res, "tdx.mrseam", ATTEST_SKIPPED, NULL, a, "no known modules given");
	} else {
		size_t i = 0;
		while (i < ref->n_known_mrseam && !mem_equal_ct(ref->known_mrseam[i], b->mrseam, 48))
			i++;
		bool ok = i < ref->n_known_mrseam;
		attest_add(res, "tdx.mrseam", ok ? ATTEST_PASSED : ATTEST_FAILED,
			   "one of the known modules", a, "%s of %zu known modules",
			   ok ? "one" : "none", ref->n_known_mrseam);
	}
	check_eq(res, "tdx.mrtd", ref->has_mrtd, ref->mrtd, b->mrtd, 48);
	static const char *const rt[] = {"tdx.rtmr0", "tdx.rtmr1", "tdx.rtmr2", "tdx.rtmr3"};
	for (int i = 0; i < 4; i++)
		check_eq(res, rt[i], ref->has_rtmr[i], ref->rtmr[i], b->rtmr[i], 48);
	check_eq(res, "tdx.report_data", ref->has_report_data, ref->report_data, b->report_data,
		 64);
	if (is_quote)
		attest_add(res, "quote.signature", ATTEST_SKIPPED, NULL, NULL,
			   "NOT VERIFIED: quote signature and PCK chain verification are not "
			   "implemented yet");
}
