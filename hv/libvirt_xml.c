/* The libvirt domain XML of a confidential guest (hv/libvirt.h). Element and attribute names
 * follow libvirt's docs/formatdomain.rst and src/conf/schemas/domaincommon.rng; every string
 * from the description is checked (no control characters) and XML-escaped, every binary value
 * is base64 (what libvirt hands QEMU: sev-snp-guest id-block/id-auth/host-data, tdx-guest
 * mrconfigid/mrowner/mrownerconfig). */
#include <openssl/evp.h>

#include "coco/util.h"
#include "hv/libvirt.h"

#define MEMORY_MIB_MAX (16ull << 20) /* 16 TiB */

/* Printable ASCII only: no control characters (XML 1.0 cannot carry most of them, and a
 * newline in a path or command line is never meant). */
static bool printable(const char *s, size_t max)
{
	size_t n = 0;
	for (; *s; s++, n++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || n >= max)
			return false;
	return true;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > HV_GUEST_NAME_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool valid_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = s[i];
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

static int check_path(const char *what, const char *p, char *err, size_t errlen)
{
	if (p[0] != '/' || !printable(p, HV_GUEST_PATH_MAX))
		return set_error(err, errlen, -EINVAL,
				 "%s must be an absolute path of at most %d printable characters",
				 what, HV_GUEST_PATH_MAX);
	return 0;
}

static int check_desc(const struct hv_guest_desc *d, char *err, size_t errlen)
{
	if (!d->name || !valid_name(d->name))
		return set_error(err, errlen, -EINVAL,
				 "guest name must be 1..%d of [A-Za-z0-9._-], not starting with "
				 "'.' or '-'", HV_GUEST_NAME_MAX);
	if (!d->uuid || !valid_uuid(d->uuid))
		return set_error(err, errlen, -EINVAL, "guest UUID must be lowercase 8-4-4-4-12 hex");
	if (d->tee != HV_TEE_NONE && d->tee != HV_TEE_SNP && d->tee != HV_TEE_TDX)
		return set_error(err, errlen, -EINVAL, "unknown TEE %d", (int)d->tee);
	if (!d->vcpus || d->vcpus > HV_GUEST_MAX_VCPUS)
		return set_error(err, errlen, -EINVAL, "vCPU count must be 1..%d", HV_GUEST_MAX_VCPUS);
	if (!d->memory_mib || d->memory_mib > MEMORY_MIB_MAX)
		return set_error(err, errlen, -EINVAL, "memory must be 1..%llu MiB",
				 (unsigned long long)MEMORY_MIB_MAX);
	if (!d->firmware)
		return set_error(err, errlen, -EINVAL, "firmware is required");
	int r = check_path("firmware", d->firmware, err, errlen);
	if (r == 0 && d->kernel)
		r = check_path("kernel", d->kernel, err, errlen);
	if (r == 0 && d->initrd)
		r = check_path("initrd", d->initrd, err, errlen);
	if (r < 0)
		return r;
	if (!d->kernel && (d->initrd || d->cmdline))
		return set_error(err, errlen, -EINVAL, "initrd and cmdline need a kernel");
	if (d->cmdline && !printable(d->cmdline, HV_GUEST_CMDLINE_MAX))
		return set_error(err, errlen, -EINVAL,
				 "cmdline must be at most %d printable ASCII characters",
				 HV_GUEST_CMDLINE_MAX);
	if (d->domain_type && !valid_name(d->domain_type))
		return set_error(err, errlen, -EINVAL, "invalid domain type");
	if (d->tee == HV_TEE_SNP) {
		if (d->snp.id_auth && !d->snp.id_block)
			return set_error(err, errlen, -EINVAL, "an ID auth needs its ID block");
		if (d->snp.id_block && !d->snp.id_auth)
			return set_error(err, errlen, -EINVAL, "an ID block needs its ID auth");
		if (d->snp.author_key && !d->snp.id_block)
			return set_error(err, errlen, -EINVAL, "an author key needs an ID block");
		if (d->snp.kernel_hashes && !d->kernel)
			return set_error(err, errlen, -EINVAL, "kernel hashes need a kernel");
	}
	if (d->tee == HV_TEE_TDX && d->tdx.qgs_path)
		return check_path("quote generation service socket", d->tdx.qgs_path, err, errlen);
	return 0;
}

/* XML 1.0 escaping for text and for attribute values in either quote style. */
static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '\'': fputs("&apos;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

static void put_text_element(FILE *f, const char *indent, const char *tag, const char *text)
{
	fprintf(f, "%s<%s>", indent, tag);
	put_escaped(f, text);
	fprintf(f, "</%s>\n", tag);
}

/* <tag>base64(bytes)</tag>: base64 needs no escaping. */
static int put_base64_element(FILE *f, const char *tag, const uint8_t *b, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (!out)
		return -ENOMEM;
	EVP_EncodeBlock((unsigned char *)out, b, (int)n);
	fprintf(f, "    <%s>%s</%s>\n", tag, out, tag);
	free(out);
	return 0;
}

static int put_snp(FILE *f, const struct hv_guest_desc *d)
{
	const struct hv_guest_snp *s = &d->snp;
	fputs("  <launchSecurity type='sev-snp'", f);
	if (s->author_key)
		fputs(" authorKey='yes'", f);
	if (s->vlek)
		fputs(" vcek='no'", f);
	if (s->kernel_hashes)
		fputs(" kernelHashes='yes'", f);
	fprintf(f, ">\n    <policy>0x%08llx</policy>\n", (unsigned long long)s->policy);
	int r = 0;
	if (s->id_block)
		r = put_base64_element(f, "idBlock", s->id_block, HV_SNP_ID_BLOCK_SIZE);
	if (r == 0 && s->id_auth)
		r = put_base64_element(f, "idAuth", s->id_auth, HV_SNP_ID_AUTH_SIZE);
	if (r == 0 && s->has_host_data)
		r = put_base64_element(f, "hostData", s->host_data, sizeof(s->host_data));
	fputs("  </launchSecurity>\n", f);
	return r;
}

static int put_tdx(FILE *f, const struct hv_guest_desc *d)
{
	const struct hv_guest_tdx *t = &d->tdx;
	fprintf(f, "  <launchSecurity type='tdx'>\n    <policy>0x%08llx</policy>\n",
		(unsigned long long)t->policy);
	int r = 0;
	if (t->has_mrconfigid)
		r = put_base64_element(f, "mrConfigId", t->mrconfigid, 48);
	if (r == 0 && t->has_mrowner)
		r = put_base64_element(f, "mrOwner", t->mrowner, 48);
	if (r == 0 && t->has_mrownerconfig)
		r = put_base64_element(f, "mrOwnerConfig", t->mrownerconfig, 48);
	if (t->qgs_path) {
		fputs("    <quoteGenerationService path='", f);
		put_escaped(f, t->qgs_path);
		fputs("'/>\n", f);
	}
	fputs("  </launchSecurity>\n", f);
	return r;
}

static void put_os(FILE *f, const struct hv_guest_desc *d)
{
	fputs("  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n", f);
	/* QEMU -bios: AmdSev OVMF and TDVF are stateless ROM images */
	fputs("    <loader type='rom' readonly='yes'>", f);
	put_escaped(f, d->firmware);
	fputs("</loader>\n", f);
	if (d->kernel)
		put_text_element(f, "    ", "kernel", d->kernel);
	if (d->initrd)
		put_text_element(f, "    ", "initrd", d->initrd);
	if (d->cmdline)
		put_text_element(f, "    ", "cmdline", d->cmdline);
	fputs("  </os>\n", f);
}

int hv_libvirt_domain_xml(const struct hv_guest_desc *d, char **ret_xml, char *err,
			  size_t errlen)
{
	int r = check_desc(d, err, errlen);
	if (r < 0)
		return r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return set_error(err, errlen, -errno, "open_memstream: %s", strerror(errno));
	fprintf(f, "<domain type='%s'>\n", d->domain_type ? d->domain_type : "kvm");
	fprintf(f, "  <name>%s</name>\n  <uuid>%s</uuid>\n", d->name, d->uuid);
	fprintf(f, "  <memory unit='MiB'>%llu</memory>\n", (unsigned long long)d->memory_mib);
	fprintf(f, "  <vcpu placement='static'>%u</vcpu>\n", d->vcpus);
	put_os(f, d);
	fputs("  <features>\n    <acpi/>\n    <apic/>\n", f);
	if (d->tee == HV_TEE_TDX) /* a TD has no in-kernel IOAPIC (split irqchip) */
		fputs("    <ioapic driver='qemu'/>\n", f);
	fputs("  </features>\n  <cpu mode='host-passthrough'/>\n  <clock offset='utc'/>\n", f);
	fputs("  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n"
	      "  <on_crash>destroy</on_crash>\n", f);
	/* A confidential guest cannot give memory back through a balloon. */
	fputs("  <devices>\n    <console type='pty'/>\n    <memballoon model='none'/>\n"
	      "  </devices>\n", f);
	if (!d->omit_launch_security) {
		if (d->tee == HV_TEE_SNP)
			r = put_snp(f, d);
		else if (d->tee == HV_TEE_TDX)
			r = put_tdx(f, d);
	}
	fputs("</domain>\n", f);
	bool write_failed = ferror(f);
	if (fclose(f) != 0 || write_failed || r < 0) {
		free(buf);
		return set_error(err, errlen, r < 0 ? r : -ENOMEM, "domain XML: out of memory");
	}
	*ret_xml = buf;
	return 0;
}
