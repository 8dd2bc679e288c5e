/* hv/libvirt.h: confidential guests through libvirt. A guest description becomes a libvirt
 * domain XML document (hv_libvirt_domain_xml, pure: no connection needed), and a connection
 * (hv_libvirt_open, any URI: qemu:///system on a host, test:///default in tests) defines,
 * starts, looks up, lists and removes domains.
 *
 * Domain XML facts (libvirt docs/formatdomain.rst "Launch Security", schema
 * src/conf/schemas/domaincommon.rng):
 *   <launchSecurity type='sev-snp' authorKey='yes|no' vcek='yes|no' kernelHashes='yes|no'>
 *     <policy>0x…</policy> <guestVisibleWorkarounds>b64</guestVisibleWorkarounds>
 *     <idBlock>b64</idBlock> <idAuth>b64</idAuth> <hostData>b64</hostData>
 *   </launchSecurity>                                      libvirt >= 10.5.0
 *   <launchSecurity type='tdx'> <policy>0x…</policy> <mrConfigId>b64</mrConfigId>
 *     <mrOwner>b64</mrOwner> <mrOwnerConfig>b64</mrOwnerConfig>
 *     <quoteGenerationService path='/…'/> </launchSecurity>   libvirt >= 11.6.0
 * (docs/notes/libvirt-launch-security.md says where the versions come from.)
 *
 * Every function returns 0 or a negative errno with a message in err. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hv_tee { HV_TEE_NONE, HV_TEE_SNP, HV_TEE_TDX };

#define HV_GUEST_NAME_MAX 64
#define HV_GUEST_CMDLINE_MAX 4096
#define HV_GUEST_PATH_MAX 1024
#define HV_GUEST_MAX_VCPUS 512
#define HV_SNP_ID_BLOCK_SIZE 96	 /* SNP ABI: ID block */
#define HV_SNP_ID_AUTH_SIZE 4096 /* SNP ABI: ID authentication information structure */

struct hv_guest_snp {
	uint64_t policy; /* SNP ABI GUEST_POLICY */
	bool has_host_data;
	uint8_t host_data[32];
	const uint8_t *id_block; /* HV_SNP_ID_BLOCK_SIZE bytes, or NULL */
	const uint8_t *id_auth;	 /* HV_SNP_ID_AUTH_SIZE bytes; required with id_block */
	bool author_key;	 /* authorKey='yes': id_auth carries an author key */
	bool vlek;		 /* vcek='no': the guest's reports are signed with the VLEK */
	bool kernel_hashes;	 /* kernelHashes='yes': OVMF checks the direct-boot hashes */
};

struct hv_guest_tdx {
	uint64_t policy; /* TD attributes libvirt passes on (bit 0 DEBUG, bit 28 SEPT_VE_DISABLE) */
	bool has_mrconfigid, has_mrowner, has_mrownerconfig;
	uint8_t mrconfigid[48], mrowner[48], mrownerconfig[48];
	const char *qgs_path; /* Quote Generation Service Unix socket, or NULL */
};

struct hv_guest_desc {
	const char *name; /* 1..64 of [A-Za-z0-9._-], not starting with '.' or '-' */
	const char *uuid; /* canonical 8-4-4-4-12 hex form */
	enum hv_tee tee;
	const char *firmware; /* absolute paths; firmware required */
	const char *kernel;   /* NULL: boot from the firmware alone */
	const char *initrd;   /* requires kernel */
	const char *cmdline;  /* requires kernel; printable ASCII */
	unsigned vcpus;	      /* 1..HV_GUEST_MAX_VCPUS */
	uint64_t memory_mib;  /* 1..16 TiB */
	struct hv_guest_snp snp;
	struct hv_guest_tdx tdx;
	/* For drivers that do not run QEMU (test:///default): domain type (NULL = "kvm"), and no
	 * <launchSecurity> (libvirt < 10.5 refuses sev-snp, < 11.6 tdx). */
	const char *domain_type;
	bool omit_launch_security;
};

/* The domain XML (malloc'd, NUL-terminated) for d. Refuses (-EINVAL) what libvirt or the
 * firmware would refuse later or what cannot be written safely: control characters, relative
 * paths, a name or UUID outside its form, an ID auth without an ID block, kernel hashes or an
 * initrd/cmdline without a kernel. */
int hv_libvirt_domain_xml(const struct hv_guest_desc *d, char **ret_xml, char *err,
			  size_t errlen);

/* --- a connection --- */
struct hv_libvirt;

enum hv_domain_state {
	HV_DOMAIN_NOSTATE,
	HV_DOMAIN_RUNNING,
	HV_DOMAIN_BLOCKED,
	HV_DOMAIN_PAUSED,
	HV_DOMAIN_SHUTDOWN,
	HV_DOMAIN_SHUTOFF,
	HV_DOMAIN_CRASHED,
	HV_DOMAIN_PMSUSPENDED,
};
const char *hv_domain_state_name(enum hv_domain_state s);

struct hv_libvirt_domain {
	char name[HV_GUEST_NAME_MAX + 1]; /* longer foreign names are cut */
	char uuid[37];
	enum hv_domain_state state;
};

/* uri NULL = "qemu:///system". Errors go to err only (libvirt's stderr printer is off). */
int hv_libvirt_open(const char *uri, struct hv_libvirt **ret, char *err, size_t errlen);
void hv_libvirt_close(struct hv_libvirt *c);
/* Define the domain persistently and start it; if the start fails the definition is removed
 * again (no half-launched guest stays). ret_uuid may be NULL. */
int hv_libvirt_define_start(struct hv_libvirt *c, const char *xml, char ret_uuid[37], char *err,
			    size_t errlen);
/* -ENOENT when no domain has this UUID. */
int hv_libvirt_lookup(struct hv_libvirt *c, const char *uuid, struct hv_libvirt_domain *ret,
		      char *err, size_t errlen);
/* Stop (if running) and undefine; -ENOENT when no domain has this UUID. */
int hv_libvirt_destroy(struct hv_libvirt *c, const char *uuid, char *err, size_t errlen);
/* Every domain, active or not (malloc'd array, *ret_n entries). */
int hv_libvirt_list(struct hv_libvirt *c, struct hv_libvirt_domain **ret, size_t *ret_n,
		    char *err, size_t errlen);
