/* hv/: the only layer that touches the machine. A platform is either native (ioctls on /dev,
 * sysfs) or emulated (hv/emul), chosen explicitly by configuration, never by fallback. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "coco/config.h"
#include "coco/snp/product.h"

struct hv_platform;

struct hv_host_info {
	enum coco_platform platform;
	/* SEV: /dev/sev opened (read-only probe) */
	bool sev_device;
	int sev_errno; /* why it could not be opened, 0 if it could */
	/* KVM: /dev/kvm opened and KVM_CAP_VM_TYPES answered */
	bool kvm_device;
	int kvm_errno;
	bool kvm_vm_types_known;
	uint64_t kvm_vm_types; /* bit n set: KVM_CREATE_VM type n supported */
	/* TDX host: /sys/devices/faux/tdx_host (Linux 7.2) */
	bool tdx_host;
	char tdx_module_version[32];
	int tdx_version_errno; /* ENXIO: module lost, reboot required */
	char tdx_seamldr_version[32];
	long tdx_remaining_updates; /* -1: unknown */
	bool tdx_update_interface;  /* /sys/class/firmware/tdx_module present */
	/* /sys/devices/system/cpu/{online,possible}: a module update needs every CPU online. */
	bool cpus_known;
	unsigned cpus_online, cpus_possible;
};

struct hv_platform_params {
	enum coco_platform kind;
	/* Native: default "/sys" and "/dev" when NULL (tests pass temporary trees). */
	const char *sysfs_root;
	const char *dev_root;
	/* Emulated: where the emulated PSP, AMD PKI and TDX module keep their state (required). */
	const char *state_dir;
};

/* Opens the platform's devices: native: /dev/sev (read-only; commands that need a writable fd
 * open one on demand); emulated: the emulated PSP. A missing device is not an error here
 * (the probe and each command report it); err gets a sentence on failure. */
int hv_platform_open(const struct hv_platform_params *prm, struct hv_platform **ret, char *err,
		     size_t errlen);
void hv_platform_close(struct hv_platform *p);
enum coco_platform hv_platform_kind(const struct hv_platform *p);

struct hv_sev;
/* The SEV firmware: NULL with *ret_errno set when /dev/sev could not be opened. `writable`:
 * the read-write handle SNP_SET_CONFIG and SNP_VLEK_LOAD need (native opens it on first use). */
struct hv_sev *hv_platform_sev(struct hv_platform *p, bool writable, int *ret_errno);
/* The SNP product of this host (native: from CPUID; emulated: the PSP's). */
enum snp_product hv_platform_snp_product(const struct hv_platform *p);
int hv_platform_probe(struct hv_platform *p, struct hv_host_info *ret);

struct hv_tdx;
struct emul_tdx_kernel;
struct emul_amd_pki;
/* CPUID.1.EAX of this host (native: the CPUID instruction; emulated: the emulated TDX module's
 * CPU), as module selection matches it against a sigstruct's CPUID table. */
uint32_t hv_platform_cpuid_1_eax(const struct hv_platform *p);
/* The TDX host's sysfs (hv/tdx.h): native "/sys" (or sysfs_root), emulated the simulated tree. */
struct hv_tdx *hv_platform_tdx(struct hv_platform *p);
/* Emulated only (NULL on native): the simulated kernel side, for fault injection in tests. */
struct emul_tdx_kernel *hv_platform_emul_tdx_kernel(struct hv_platform *p);
/* The emulated platform's AMD PKI (its KDS and root); NULL on native. */
struct emul_amd_pki *hv_platform_emul_pki(struct hv_platform *p);
struct hv_kvm;
/* KVM for guest launches (hv/snp_launch.h, hv/tdx_launch.h): native /dev/kvm (opened per use),
 * or the emulated KVM whose SNP firmware is the emulated PSP and whose TDX module is the
 * emulated one. Borrowed; valid until hv_platform_close (free every guest before). */
struct hv_kvm *hv_platform_kvm(struct hv_platform *p);
#define HV_SNP_REPORT_SIZE 1184
/* SNP_HV_REPORT_REQ (SNP ABI 1.57): a host-requested attestation report (VMPL 0xFFFFFFFF,
 * REPORT_DATA zero: the command carries none) for the SNP guest on vm_fd. The emulated
 * platform's PSP answers; on native hosts -EOPNOTSUPP (the kernel has no ioctl for it). */
int hv_platform_snp_hv_report(struct hv_platform *p, int vm_fd, uint8_t ret[HV_SNP_REPORT_SIZE],
			      uint32_t *ret_fw_error, char *err, size_t errlen);
/* The launch digest the firmware computed for the SNP guest on vm_fd (emulated only: the PSP
 * tells; -EOPNOTSUPP on native, where the guest's report carries it). */
int hv_platform_snp_launch_digest(struct hv_platform *p, int vm_fd, uint8_t ret[48]);
/* The TDX fields of a host summary, read through hv/tdx.c. */
void hv_host_info_fill_tdx(struct hv_tdx *t, struct hv_host_info *h);

/* Derived views: a TEE is usable when the kernel offers its VM type (native) or the emulator
 * provides it. */
bool hv_host_snp_available(const struct hv_host_info *h);
bool hv_host_tdx_available(const struct hv_host_info *h);

/* Backends (hv/native.c, hv/emul/emul.c). */
int hv_native_probe(const char *sysfs_root, const char *dev_root, struct hv_host_info *ret);
int hv_emul_probe(struct hv_host_info *ret);
