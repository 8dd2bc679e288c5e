/* The emulated AMD Secure Processor: identity, persistence, and the /dev/sev platform commands
 * (SNP_PLATFORM_STATUS, SEV_GET_ID2, SNP_COMMIT, SNP_SET_CONFIG, SNP_VLEK_LOAD) on the kernel's
 * UAPI structs. Guest launch is in psp_launch.c, attestation reports in psp_report.c.
 * Sections cited: SEV Secure Nested Paging Firmware ABI Specification (AMD 56860). */
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <sys/stat.h>

#include "coco/endian.h"
#include "coco/util.h"
#include "hv/emul/amdpki.h"
#include "hv/emul/psp_priv.h"
#include "hv/uapi/sev_compat.h"

#define PSP_IDENTITY_FILE "identity"
#define PSP_IDENTITY_MAX 4096

/* First-start identity per product: TCB_VERSION, firmware version and CPUID as the real
 * reports in ../shared/testdata/snp/reports carry them (REPORTED_TCB, CURRENT_BUILD/MINOR/MAJOR,
 * CPUID_FAM_ID/MOD_ID/STEP, PLATFORM_INFO). The API version is 1.55 on all three. */
static const struct psp_product_defaults {
	enum snp_product product;
	uint64_t tcb;
	uint8_t build;
	uint8_t fam, mod, step;
	uint64_t platform_info;
	size_t chip_id_len; /* Turin's CHIP_ID carries 8 bytes, zero-padded */
} psp_defaults[] = {
    {SNP_PRODUCT_MILAN, 0x7308000000000003ull, 4, 0x19, 0x01, 1, 0x01, 64},
    {SNP_PRODUCT_GENOA, 0x541900000000000aull, 43, 0x19, 0x11, 1, 0x25, 64},
    {SNP_PRODUCT_TURIN, 0x4700000002000100ull, 61, 0x1a, 0x02, 1, 0x25, 8},
};

static const struct psp_product_defaults *psp_product_defaults(enum snp_product p)
{
	for (size_t i = 0; i < ARRAY_SIZE(psp_defaults); i++)
		if (psp_defaults[i].product == p)
			return &psp_defaults[i];
	return &psp_defaults[1];
}

void psp_cpuid(const struct emul_psp *psp, uint8_t *ret_fam, uint8_t *ret_mod, uint8_t *ret_step)
{
	const struct psp_product_defaults *d = psp_product_defaults(psp->product);
	*ret_fam = d->fam;
	*ret_mod = d->mod;
	*ret_step = d->step;
}

int psp_fail(uint32_t *ret_fw_error, uint32_t status)
{
	if (ret_fw_error)
		*ret_fw_error = status;
	return -EIO;
}

/* ---- persistence: <state_dir>/emul-psp/identity, "key=value" lines, replaced atomically ---- */

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int psp_persist(struct emul_psp *psp)
{
	char chip[129], buf[PSP_IDENTITY_MAX], path[4096], tmp[4096];
	int len, r;

	hex_encode(psp->chip_id, sizeof(psp->chip_id), chip);
	len = snprintf(
	    buf, sizeof(buf),
	    "version=1\nproduct=%s\nchip_id=%s\napi=%u.%u\nbuild=%u\n"
	    "committed_api=%u.%u\ncommitted_build=%u\ncurrent_tcb=%016llx\n"
	    "reported_tcb=%016llx\ncommitted_tcb=%016llx\nmask_chip_id=%d\n"
	    "mask_chip_key=%d\n",
	    snp_product_name(psp->product), chip, psp->api_major, psp->api_minor, psp->build_id,
	    psp->committed_api_major, psp->committed_api_minor, psp->committed_build_id,
	    (unsigned long long)psp->current_tcb, (unsigned long long)psp->reported_tcb,
	    (unsigned long long)psp->committed_tcb, psp->mask_chip_id, psp->mask_chip_key);
	if (len < 0 || len >= (int)sizeof(buf))
		return -EOVERFLOW;
	if (snprintf(path, sizeof(path), "%s/" PSP_IDENTITY_FILE, psp->dir) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/." PSP_IDENTITY_FILE ".tmp", psp->dir) >=
		(int)sizeof(tmp))
		return -ENAMETOOLONG;

	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, buf, (size_t)len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	_cleanup_close_ int dfd = open(psp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		(void)fsync(dfd);
	return 0;
}

static int parse_hex_bytes(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int parse_version(const char *s, uint8_t *major, uint8_t *minor)
{
	unsigned a, b;
	char end;

	if (sscanf(s, "%u.%u%c", &a, &b, &end) != 2 || a > 255 || b > 255)
		return -EINVAL;
	*major = (uint8_t)a;
	*minor = (uint8_t)b;
	return 0;
}

static int parse_u64_hex(const char *s, uint64_t *ret)
{
	char *end;

	errno = 0;
	unsigned long long v = strtoull(s, &end, 16);
	if (errno || end == s || *end || strlen(s) != 16)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_small(const char *s, uint64_t max, uint8_t *ret)
{
	uint64_t v;
	int r = parse_uint(s, max, &v);
	if (r < 0)
		return r;
	*ret = (uint8_t)v;
	return 0;
}

/* Read the identity file; every key must be present exactly as psp_persist writes it. */
static int psp_load(struct emul_psp *psp, const char *path)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	unsigned seen = 0;
	int r;

	r = read_file_max(path, PSP_IDENTITY_MAX, &text, &len);
	if (r < 0)
		return r;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (!eq)
			return -EBADMSG;
		*eq = '\0';
		const char *k = line, *v = eq + 1;
		uint8_t b = 0;
		if (streq(k, "version")) {
			r = streq(v, "1") ? 0 : -EBADMSG;
			seen |= 1u << 0;
		} else if (streq(k, "product")) {
			r = snp_product_from_name(v, &psp->product);
			seen |= 1u << 1;
		} else if (streq(k, "chip_id")) {
			r = parse_hex_bytes(v, psp->chip_id, sizeof(psp->chip_id));
			seen |= 1u << 2;
		} else if (streq(k, "api")) {
			r = parse_version(v, &psp->api_major, &psp->api_minor);
			seen |= 1u << 3;
		} else if (streq(k, "build")) {
			r = parse_small(v, 255, &psp->build_id);
			seen |= 1u << 4;
		} else if (streq(k, "committed_api")) {
			r = parse_version(v, &psp->committed_api_major, &psp->committed_api_minor);
			seen |= 1u << 5;
		} else if (streq(k, "committed_build")) {
			r = parse_small(v, 255, &psp->committed_build_id);
			seen |= 1u << 6;
		} else if (streq(k, "current_tcb")) {
			r = parse_u64_hex(v, &psp->current_tcb);
			seen |= 1u << 7;
		} else if (streq(k, "reported_tcb")) {
			r = parse_u64_hex(v, &psp->reported_tcb);
			seen |= 1u << 8;
		} else if (streq(k, "committed_tcb")) {
			r = parse_u64_hex(v, &psp->committed_tcb);
			seen |= 1u << 9;
		} else if (streq(k, "mask_chip_id")) {
			r = parse_small(v, 1, &b);
			psp->mask_chip_id = b;
			seen |= 1u << 10;
		} else if (streq(k, "mask_chip_key")) {
			r = parse_small(v, 1, &b);
			psp->mask_chip_key = b;
			seen |= 1u << 11;
		} else {
			r = -EBADMSG;
		}
		if (r < 0)
			return -EBADMSG;
	}
	return seen == (1u << 12) - 1 ? 0 : -EBADMSG;
}

static int psp_create_identity(struct emul_psp *psp, const struct emul_psp_config *cfg)
{
	const struct psp_product_defaults *d = psp_product_defaults(psp->product);
	struct snp_tcb t;

	memset(psp->chip_id, 0, sizeof(psp->chip_id));
	if (RAND_bytes(psp->chip_id, (int)d->chip_id_len) != 1)
		return -EIO;
	psp->api_major = 1;
	psp->api_minor = 55;
	psp->build_id = d->build;
	psp->committed_api_major = psp->api_major;
	psp->committed_api_minor = psp->api_minor;
	psp->committed_build_id = psp->build_id;
	uint64_t tcb = cfg->initial_tcb ? cfg->initial_tcb : d->tcb;
	if (snp_tcb_decode(psp->product, tcb, &t) < 0)
		return -EINVAL;
	psp->current_tcb = psp->reported_tcb = psp->committed_tcb = tcb;
	return psp_persist(psp);
}

int emul_psp_open(const struct emul_psp_config *cfg, struct emul_psp **ret)
{
	char path[4096];
	int r;

	if (!cfg || !cfg->state_dir || !ret)
		return -EINVAL;
	struct emul_psp *psp = calloc(1, sizeof(*psp));
	if (!psp)
		return -ENOMEM;
	pthread_mutex_init(&psp->lock, NULL);
	psp->next_handle = 1;
	psp->guests = calloc(PSP_MAX_GUESTS, sizeof(*psp->guests));
	if (!psp->guests || asprintf(&psp->dir, "%s/emul-psp", cfg->state_dir) < 0) {
		psp->dir = NULL;
		r = -ENOMEM;
		goto fail;
	}
	if (mkdir(psp->dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		goto fail;
	}
	if (snprintf(path, sizeof(path), "%s/" PSP_IDENTITY_FILE, psp->dir) >= (int)sizeof(path)) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	enum snp_product want =
	    cfg->product == SNP_PRODUCT_UNKNOWN ? SNP_PRODUCT_GENOA : cfg->product;
	r = psp_load(psp, path);
	if (r == -ENOENT) {
		psp->product = want;
		r = psp_create_identity(psp, cfg);
	} else if (r == 0 && cfg->product != SNP_PRODUCT_UNKNOWN && psp->product != want) {
		r = -EINVAL; /* the state directory belongs to another product */
	}
	if (r < 0)
		goto fail;
	const struct psp_product_defaults *d = psp_product_defaults(psp->product);
	psp->platform_info = d->platform_info;
	psp->smt_en = d->platform_info & 1;
	r = emul_amd_pki_open(cfg->state_dir, psp->product, &psp->pki);
	if (r < 0)
		goto fail;
	*ret = psp;
	return 0;
fail:
	emul_psp_free(psp);
	return r;
}

void emul_psp_free(struct emul_psp *psp)
{
	if (!psp)
		return;
	EVP_PKEY_free(psp->vlek);
	EVP_PKEY_free(psp->vcek);
	if (psp->pki)
		emul_amd_pki_free(psp->pki);
	free(psp->guests);
	free(psp->dir);
	pthread_mutex_destroy(&psp->lock);
	free(psp);
}

enum snp_product emul_psp_product(const struct emul_psp *psp)
{
	return psp->product;
}

void emul_psp_chip_id(const struct emul_psp *psp, uint8_t ret[64])
{
	memcpy(ret, psp->chip_id, sizeof(psp->chip_id));
}

struct emul_amd_pki *emul_psp_pki(struct emul_psp *psp)
{
	return psp->pki;
}

uint32_t psp_guest_count(const struct emul_psp *psp)
{
	uint32_t n = 0;
	for (size_t i = 0; i < PSP_MAX_GUESTS; i++)
		n += psp->guests[i].state != PSP_GSTATE_FREE;
	return n;
}

struct psp_guest *psp_guest_find(struct emul_psp *psp, uint32_t handle)
{
	for (size_t i = 0; handle && i < PSP_MAX_GUESTS; i++)
		if (psp->guests[i].state != PSP_GSTATE_FREE && psp->guests[i].handle == handle)
			return &psp->guests[i];
	return NULL;
}

/* TCB a <= TCB b in every component (TCB_VERSION components are independent SVNs). */
static bool tcb_le(enum snp_product p, uint64_t a, uint64_t b)
{
	struct snp_tcb x, y;

	if (snp_tcb_decode(p, a, &x) < 0 || snp_tcb_decode(p, b, &y) < 0)
		return false;
	return x.fmc <= y.fmc && x.bootloader <= y.bootloader && x.tee <= y.tee && x.snp <= y.snp &&
	       x.microcode <= y.microcode;
}

int emul_psp_set_current_tcb(struct emul_psp *psp, uint64_t tcb)
{
	struct snp_tcb t;
	int r;

	if (!psp || snp_tcb_decode(psp->product, tcb, &t) < 0)
		return -EINVAL;
	pthread_mutex_lock(&psp->lock);
	if (!tcb_le(psp->product, psp->committed_tcb, tcb)) {
		/* Anti-rollback: firmware below the committed TCB does not load. */
		pthread_mutex_unlock(&psp->lock);
		return -EPERM;
	}
	psp->current_tcb = tcb;
	psp->build_id++;
	r = psp_persist(psp);
	pthread_mutex_unlock(&psp->lock);
	return r;
}

uint64_t emul_psp_committed_tcb(struct emul_psp *psp)
{
	pthread_mutex_lock(&psp->lock);
	uint64_t v = psp->committed_tcb;
	pthread_mutex_unlock(&psp->lock);
	return v;
}

/* ---- platform commands ---- */

/* SNP ABI SNP_PLATFORM_STATUS: the 32-byte status buffer the kernel copies to data. */
static int psp_snp_platform_status(struct emul_psp *psp, void *data, uint32_t *fw)
{
	uint8_t st[sizeof(struct sev_user_data_snp_status)] = {0};

	if (!data)
		return -EINVAL;
	st[0] = psp->api_major;
	st[1] = psp->api_minor;
	st[2] = 1;			 /* STATE: INIT (the kernel ran SNP_INIT at boot) */
	st[HV_SNP_STATUS_FLAGS_OFF] = 1; /* IS_RMP_INITIALIZED */
	put_le32(st + 4, psp->build_id);
	put_le32(st + HV_SNP_STATUS_MASKS_OFF,
		 (psp->mask_chip_id ? HV_SNP_STATUS_MASK_CHIP_ID : 0) |
		     (psp->mask_chip_key ? HV_SNP_STATUS_MASK_CHIP_KEY : 0) |
		     (psp->vlek ? HV_SNP_STATUS_VLEK_EN : 0));
	put_le32(st + 12, psp_guest_count(psp));
	put_le64(st + 16, psp->current_tcb);
	put_le64(st + 24, psp->reported_tcb);
	memcpy(data, st, sizeof(st));
	*fw = 0;
	return 0;
}

/* SEV_GET_ID2: the kernel hands the firmware a buffer of `length` bytes; too small (or no
 * address: a length query) gives INVALID_LEN with the length needed. */
static int psp_get_id2(struct emul_psp *psp, void *data, uint32_t *fw)
{
	struct sev_user_data_get_id2 *arg = data;

	if (!arg)
		return -EINVAL;
	if (!arg->address || arg->length < sizeof(psp->chip_id)) {
		arg->length = sizeof(psp->chip_id);
		return psp_fail(fw, HV_SEV_RET_INVALID_LEN);
	}
	memcpy((void *)(uintptr_t)arg->address, psp->chip_id, sizeof(psp->chip_id));
	arg->length = sizeof(psp->chip_id);
	*fw = 0;
	return 0;
}

/* SNP ABI SNP_COMMIT: CommittedTcb := CurrentTcb and the committed firmware version := the
 * current one (no rollback below it from now on); ReportedTcb is reset to CurrentTcb. */
static int psp_snp_commit(struct emul_psp *psp, uint32_t *fw)
{
	psp->committed_tcb = psp->current_tcb;
	psp->committed_api_major = psp->api_major;
	psp->committed_api_minor = psp->api_minor;
	psp->committed_build_id = psp->build_id;
	psp->reported_tcb = psp->current_tcb;
	*fw = 0;
	return psp_persist(psp);
}

/* SNP ABI SNP_CONFIG: reserved fields must be zero (INVALID_PARAM). A zero REPORTED_TCB resets
 * ReportedTcb to CurrentTcb; any other value must be a valid TCB_VERSION for the product that
 * does not exceed CommittedTcb in any component (Reported <= Committed <= Current), else
 * INVALID_PARAM. MASK_CHIP_ID zeroes REPORT.CHIP_ID; MASK_CHIP_KEY stops VCEK signing. */
static int psp_snp_set_config(struct emul_psp *psp, void *data, uint32_t *fw)
{
	uint8_t raw[sizeof(struct sev_user_data_snp_config)];

	if (!data)
		return -EINVAL;
	memcpy(raw, data, sizeof(raw));
	uint64_t tcb = get_le64(raw);
	uint32_t masks = get_le32(raw + HV_SNP_CONFIG_MASKS_OFF);
	if (masks & ~(HV_SNP_CONFIG_MASK_CHIP_ID | HV_SNP_CONFIG_MASK_CHIP_KEY))
		return psp_fail(fw, HV_SEV_RET_INVALID_PARAM);
	for (size_t i = 12; i < sizeof(raw); i++)
		if (raw[i])
			return psp_fail(fw, HV_SEV_RET_INVALID_PARAM);
	if (tcb == 0)
		tcb = psp->current_tcb;
	else if (!tcb_le(psp->product, tcb, psp->committed_tcb))
		return psp_fail(fw, HV_SEV_RET_INVALID_PARAM);
	psp->reported_tcb = tcb;
	psp->mask_chip_id = masks & HV_SNP_CONFIG_MASK_CHIP_ID;
	psp->mask_chip_key = masks & HV_SNP_CONFIG_MASK_CHIP_KEY;
	*fw = 0;
	return psp_persist(psp);
}

/* SNP ABI SNP_VLEK_LOAD. The kernel refuses a wrong LEN or version itself (EINVAL) and copies
 * the 432-byte hashstick in (EFAULT). The firmware unwraps it (a hashstick it cannot
 * authenticate: INVALID_KEY) and loads the VLEK only for the TCB it was issued for, which must
 * equal ReportedTcb (else BAD_SVN). From then on reports are signed with the VLEK. */
static int psp_snp_vlek_load(struct emul_psp *psp, void *data, uint32_t *fw)
{
	struct sev_user_data_snp_vlek_load arg;
	uint8_t stick[EMUL_VLEK_HASHSTICK_SIZE];
	EVP_PKEY *key = NULL;
	uint64_t tcb;
	int r;

	if (!data)
		return -EINVAL;
	memcpy(&arg, data, sizeof(arg));
	if (arg.len != sizeof(arg) || arg.vlek_wrapped_version != 0)
		return -EINVAL;
	if (!arg.vlek_wrapped_address)
		return -EFAULT;
	memcpy(stick, (const void *)(uintptr_t)arg.vlek_wrapped_address, sizeof(stick));
	r = emul_amd_pki_unwrap_vlek(psp->pki, stick, &tcb, &key);
	if (r == -EBADMSG || r == -EINVAL)
		return psp_fail(fw,
				r == -EBADMSG ? HV_SEV_RET_INVALID_KEY : HV_SEV_RET_INVALID_PARAM);
	if (r < 0)
		return r;
	if (tcb != psp->reported_tcb) {
		EVP_PKEY_free(key);
		return psp_fail(fw, HV_SEV_RET_BAD_SVN);
	}
	EVP_PKEY_free(psp->vlek);
	psp->vlek = key;
	*fw = 0;
	return 0;
}

int emul_psp_issue(struct emul_psp *psp, uint32_t cmd, void *data, uint32_t *ret_fw_error)
{
	uint32_t fw = 0;
	int r;

	if (!psp)
		return -EINVAL;
	/* sev_ioctl(): command numbers past SEV_MAX never reach the firmware. */
	if (cmd > SNP_VLEK_LOAD) {
		if (ret_fw_error)
			*ret_fw_error = 0;
		return -EINVAL;
	}
	pthread_mutex_lock(&psp->lock);
	switch (cmd) {
	case SNP_PLATFORM_STATUS: r = psp_snp_platform_status(psp, data, &fw); break;
	case SEV_GET_ID2: r = psp_get_id2(psp, data, &fw); break;
	case SNP_COMMIT: r = psp_snp_commit(psp, &fw); break;
	case SNP_SET_CONFIG: r = psp_snp_set_config(psp, data, &fw); break;
	case SNP_VLEK_LOAD: r = psp_snp_vlek_load(psp, data, &fw); break;
	default:
		/* Legacy SEV key management (PEK/PDH/OCA, FACTORY_RESET, GET_ID) is not
		 * emulated: the firmware's answer to a command it does not implement. */
		r = psp_fail(&fw, HV_SEV_RET_INVALID_COMMAND);
		break;
	}
	pthread_mutex_unlock(&psp->lock);
	if (ret_fw_error)
		*ret_fw_error = fw;
	return r;
}
