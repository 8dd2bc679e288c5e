/* attest/snp_report.c: parse and render the SEV-SNP ATTESTATION_REPORT (SNP ABI 1.58 table 23).
 * Reserved ranges per version: 0x4C-0x4F; KEY_INFO bits 31:5; 0x188-0x19F (v2) or 0x18B-0x19F
 * (v3+); 0x1EB; 0x1EF; 0x1F8-0x29F (v2/v3) or 0x208-0x29F (v5); signature 0x330-0x49F. */
#include "attest/snp_report.h"

#include "attest/check.h"

#include "coco/endian.h"
#include "coco/util.h"

struct rsvd {
	uint16_t from, to; /* inclusive */
	uint8_t min_version, max_version;
};

static const struct rsvd reserved[] = {
    {0x04c, 0x04f, 2, 5}, {0x188, 0x19f, 2, 2}, {0x18b, 0x19f, 3, 5}, {0x1eb, 0x1eb, 2, 5},
    {0x1ef, 0x1ef, 2, 5}, {0x1f8, 0x29f, 2, 3}, {0x208, 0x29f, 5, 5}, {0x330, 0x49f, 2, 5},
};

int snp_report_parse(const uint8_t *buf, size_t len, struct snp_report *ret, char *err,
		     size_t errlen)
{
	if (!buf || len != SNP_REPORT_SIZE)
		return set_error(err, errlen, -EBADMSG, "report: %zu bytes, want %d", len,
				 SNP_REPORT_SIZE);
	uint32_t version = get_le32(buf + SNP_REPORT_VERSION_OFF);
	if (version != 2 && version != 3 && version != 5)
		return set_error(err, errlen, -EBADMSG,
				 "report: VERSION %u (known: 2, 3, 5)", version);
	uint32_t key_info = get_le32(buf + SNP_REPORT_KEY_INFO_OFF);
	if (key_info >> 5)
		return set_error(err, errlen, -EBADMSG,
				 "report: KEY_INFO 0x%08x has reserved bits 31:5 set", key_info);
	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++) {
		if (version < reserved[i].min_version || version > reserved[i].max_version)
			continue;
		for (unsigned o = reserved[i].from; o <= reserved[i].to; o++)
			if (buf[o])
				return set_error(err, errlen, -EBADMSG,
						 "report: reserved byte 0x%03x is 0x%02x (v%u "
						 "reserved 0x%03x-0x%03x must be zero)",
						 o, buf[o], version, reserved[i].from,
						 reserved[i].to);
	}
	struct snp_report *r = calloc(1, sizeof(*r));
	if (!r)
		return set_error(err, errlen, -ENOMEM, "report: out of memory");
	r->version = version;
	r->guest_svn = get_le32(buf + SNP_REPORT_GUEST_SVN_OFF);
	r->policy = get_le64(buf + SNP_REPORT_POLICY_OFF);
	memcpy(r->family_id, buf + SNP_REPORT_FAMILY_ID_OFF, 16);
	memcpy(r->image_id, buf + SNP_REPORT_IMAGE_ID_OFF, 16);
	r->vmpl = get_le32(buf + SNP_REPORT_VMPL_OFF);
	r->signature_algo = get_le32(buf + SNP_REPORT_SIGNATURE_ALGO_OFF);
	r->current_tcb = get_le64(buf + SNP_REPORT_CURRENT_TCB_OFF);
	r->platform_info = get_le64(buf + SNP_REPORT_PLATFORM_INFO_OFF);
	r->author_key_en = key_info & 1;
	r->mask_chip_key = key_info >> 1 & 1;
	r->signing_key = (uint8_t)(key_info >> 2 & 7);
	memcpy(r->report_data, buf + SNP_REPORT_REPORT_DATA_OFF, 64);
	memcpy(r->measurement, buf + SNP_REPORT_MEASUREMENT_OFF, 48);
	memcpy(r->host_data, buf + SNP_REPORT_HOST_DATA_OFF, 32);
	memcpy(r->id_key_digest, buf + SNP_REPORT_ID_KEY_DIGEST_OFF, 48);
	memcpy(r->author_key_digest, buf + SNP_REPORT_AUTHOR_KEY_DIGEST_OFF, 48);
	memcpy(r->report_id, buf + SNP_REPORT_REPORT_ID_OFF, 32);
	memcpy(r->report_id_ma, buf + SNP_REPORT_REPORT_ID_MA_OFF, 32);
	r->reported_tcb = get_le64(buf + SNP_REPORT_REPORTED_TCB_OFF);
	if (version >= 3) {
		r->has_cpuid = true;
		r->cpuid_fam_id = buf[SNP_REPORT_CPUID_FAM_ID_OFF];
		r->cpuid_mod_id = buf[SNP_REPORT_CPUID_MOD_ID_OFF];
		r->cpuid_step = buf[SNP_REPORT_CPUID_STEP_OFF];
	}
	memcpy(r->chip_id, buf + SNP_REPORT_CHIP_ID_OFF, 64);
	r->committed_tcb = get_le64(buf + SNP_REPORT_COMMITTED_TCB_OFF);
	r->current_build = buf[SNP_REPORT_CURRENT_BUILD_OFF];
	r->current_minor = buf[SNP_REPORT_CURRENT_BUILD_OFF + 1];
	r->current_major = buf[SNP_REPORT_CURRENT_BUILD_OFF + 2];
	r->committed_build = buf[SNP_REPORT_COMMITTED_BUILD_OFF];
	r->committed_minor = buf[SNP_REPORT_COMMITTED_BUILD_OFF + 1];
	r->committed_major = buf[SNP_REPORT_COMMITTED_BUILD_OFF + 2];
	r->launch_tcb = get_le64(buf + SNP_REPORT_LAUNCH_TCB_OFF);
	if (version >= 5) {
		r->has_mit_vectors = true;
		r->launch_mit_vector = get_le64(buf + SNP_REPORT_LAUNCH_MIT_VECTOR_OFF);
		r->current_mit_vector = get_le64(buf + SNP_REPORT_CURRENT_MIT_VECTOR_OFF);
	}
	memcpy(r->raw, buf, SNP_REPORT_SIZE);
	*ret = *r;
	free(r);
	return 0;
}

enum snp_product snp_report_product(const struct snp_report *r)
{
	if (!r->has_cpuid || r->cpuid_fam_id < 0xf)
		return SNP_PRODUCT_UNKNOWN;
	/* Rebuild CPUID Fn0000_0001_EAX: family = 0xF + extended family, model split in two. */
	uint32_t eax = (uint32_t)(r->cpuid_step & 0xf) | (uint32_t)(r->cpuid_mod_id & 0xf) << 4 |
		       0xfu << 8 | (uint32_t)(r->cpuid_mod_id >> 4) << 16 |
		       (uint32_t)(r->cpuid_fam_id - 0xf) << 20;
	return snp_product_from_cpuid(eax);
}

json_object *snp_tcb_json(enum snp_product product, uint64_t tcb)
{
	json_object *o = json_object_new_object();
	attest_json_u64hex(o, "raw", tcb);
	struct snp_tcb t;
	if (product == SNP_PRODUCT_UNKNOWN || snp_tcb_decode(product, tcb, &t) < 0)
		return o;
	if (product == SNP_PRODUCT_TURIN)
		json_object_object_add(o, "fmc", json_object_new_int(t.fmc));
	json_object_object_add(o, "bootloader", json_object_new_int(t.bootloader));
	json_object_object_add(o, "tee", json_object_new_int(t.tee));
	json_object_object_add(o, "snp", json_object_new_int(t.snp));
	json_object_object_add(o, "microcode", json_object_new_int(t.microcode));
	return o;
}

static const char *signing_key_name(uint8_t k)
{
	switch (k) {
	case SNP_SIGNING_KEY_VCEK:
		return "vcek";
	case SNP_SIGNING_KEY_VLEK:
		return "vlek";
	case SNP_SIGNING_KEY_NONE:
		return "none";
	}
	return "reserved";
}

json_object *snp_report_json(const struct snp_report *r, enum snp_product product)
{
	json_object *o = json_object_new_object();
	char b[32];
	json_object_object_add(o, "version", json_object_new_int64(r->version));
	if (product != SNP_PRODUCT_UNKNOWN)
		json_object_object_add(o, "product",
				       json_object_new_string(snp_product_name(product)));
	json_object_object_add(o, "guest_svn", json_object_new_int64(r->guest_svn));
	json_object *pol = json_object_new_object();
	attest_json_u64hex(pol, "raw", r->policy);
	snprintf(b, sizeof(b), "%u.%u", SNP_POLICY_ABI_MAJOR(r->policy),
		 SNP_POLICY_ABI_MINOR(r->policy));
	json_object_object_add(pol, "abi_min", json_object_new_string(b));
	json_object_object_add(pol, "smt", json_object_new_boolean(r->policy & SNP_POLICY_SMT));
	json_object_object_add(pol, "migrate_ma",
			       json_object_new_boolean(r->policy & SNP_POLICY_MIGRATE_MA));
	json_object_object_add(pol, "debug", json_object_new_boolean(r->policy & SNP_POLICY_DEBUG));
	json_object_object_add(pol, "single_socket",
			       json_object_new_boolean(r->policy & SNP_POLICY_SINGLE_SOCKET));
	json_object_object_add(o, "policy", pol);
	attest_json_hex(o, "family_id", r->family_id, 16);
	attest_json_hex(o, "image_id", r->image_id, 16);
	json_object_object_add(o, "vmpl", json_object_new_int64(r->vmpl));
	json_object_object_add(o, "signature_algo", json_object_new_int64(r->signature_algo));
	json_object_object_add(o, "current_tcb", snp_tcb_json(product, r->current_tcb));
	attest_json_u64hex(o, "platform_info", r->platform_info);
	json_object_object_add(o, "author_key_en", json_object_new_boolean(r->author_key_en));
	json_object_object_add(o, "mask_chip_key", json_object_new_boolean(r->mask_chip_key));
	json_object_object_add(o, "signing_key",
			       json_object_new_string(signing_key_name(r->signing_key)));
	attest_json_hex(o, "report_data", r->report_data, 64);
	attest_json_hex(o, "measurement", r->measurement, 48);
	attest_json_hex(o, "host_data", r->host_data, 32);
	attest_json_hex(o, "id_key_digest", r->id_key_digest, 48);
	attest_json_hex(o, "author_key_digest", r->author_key_digest, 48);
	attest_json_hex(o, "report_id", r->report_id, 32);
	attest_json_hex(o, "report_id_ma", r->report_id_ma, 32);
	json_object_object_add(o, "reported_tcb", snp_tcb_json(product, r->reported_tcb));
	if (r->has_cpuid) {
		json_object_object_add(o, "cpuid_fam_id", json_object_new_int(r->cpuid_fam_id));
		json_object_object_add(o, "cpuid_mod_id", json_object_new_int(r->cpuid_mod_id));
		json_object_object_add(o, "cpuid_step", json_object_new_int(r->cpuid_step));
	}
	attest_json_hex(o, "chip_id", r->chip_id, 64);
	json_object_object_add(o, "committed_tcb", snp_tcb_json(product, r->committed_tcb));
	snprintf(b, sizeof(b), "%u.%u.%u", r->current_major, r->current_minor, r->current_build);
	json_object_object_add(o, "current_version", json_object_new_string(b));
	snprintf(b, sizeof(b), "%u.%u.%u", r->committed_major, r->committed_minor,
		 r->committed_build);
	json_object_object_add(o, "committed_version", json_object_new_string(b));
	json_object_object_add(o, "launch_tcb", snp_tcb_json(product, r->launch_tcb));
	if (r->has_mit_vectors) {
		attest_json_u64hex(o, "launch_mit_vector", r->launch_mit_vector);
		attest_json_u64hex(o, "current_mit_vector", r->current_mit_vector);
	}
	json_object *sig = json_object_new_object();
	attest_json_hex(sig, "r", r->raw + SNP_REPORT_SIG_R_OFF, 72);
	attest_json_hex(sig, "s", r->raw + SNP_REPORT_SIG_S_OFF, 72);
	json_object_object_add(o, "signature", sig);
	return o;
}
