/* cocod/guest_launch.h: a confidential guest's launch request (POST /v1/guests), its expected
 * measurement, and its launch on the emulated platform (hv/snp_launch, hv/tdx_launch) or through
 * libvirt. Used by cocod/svc_guest.c (requests, restart reconciliation) and bench/guests. */
#pragma once
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/libvirt.h"

struct hv_platform;
struct hv_snp_guest;
struct hv_tdx_guest;
struct sevd_measure_cache;
struct tdxd_gate;

#define GUEST_MAX_MEMORY_MIB (16ull << 20) /* 16 TiB */
#define GUEST_DEFAULT_MEMORY_MIB 2048
#define GUEST_FIRMWARE_MAX (64u << 20)
/* How long a TD launch waits for the TD-launch gate while a module update holds it. */
#define GUEST_GATE_TIMEOUT_MS 2000
#define GUEST_GATE_RETRY_AFTER_S 5

/* A parsed request. Strings point into the JSON object it was parsed from. */
struct guest_spec {
	char name[HV_GUEST_NAME_MAX + 1];
	enum hv_tee tee;
	const char *firmware, *kernel, *initrd, *cmdline; /* names in the image directories */
	unsigned vcpus;
	uint64_t memory_mib;
	/* SNP */
	uint64_t policy; /* GUEST_POLICY (SNP) or TD attributes (TDX) */
	bool has_host_data;
	uint8_t host_data[32];
	char vcpu_type[32];
	uint32_t vcpu_sig;
	uint64_t sev_features;
	uint8_t *id_block, *id_auth; /* malloc'd */
	bool author_key;
	/* TDX */
	bool has_mrconfigid, has_mrowner, has_mrownerconfig;
	uint8_t mrconfigid[48], mrowner[48], mrownerconfig[48];
};

/* Strict: unknown members, wrong types, out-of-range values and members of the other TEE are
 * refused with a message naming the member. -EINVAL. */
int guest_spec_parse(json_object *o, struct guest_spec *ret, char *err, size_t errlen);
void guest_spec_clear(struct guest_spec *sp);

/* The expected launch digest (SNP, through the measurement service and its cache) or MRTD (TDX,
 * single-pass as KVM builds). Image names resolve only inside dirs. 48 bytes. -ENOENT/-EACCES/
 * -EINVAL with a message. */
int guest_expected(struct sevd_measure_cache *c, char *const *dirs, size_t n_dirs,
		   const struct guest_spec *sp, uint8_t ret[48], char *err, size_t errlen);

/* A launched emulated guest (exactly one of snp/tdx). */
struct guest_handle {
	struct hv_snp_guest *snp;
	struct hv_tdx_guest *tdx;
};
void guest_handle_free(struct guest_handle *h);

/* Launch on the emulated platform and compare what the firmware (PSP / TDX module) measured
 * with expected: -EBADMSG on a mismatch (err names both values). TD launches hold the gate
 * shared while they build: -ETIMEDOUT (an update holds it) or -ENXIO (module lost). The SNP
 * kernel-hashes page takes the kernel/initrd SHA-256s from c (its owner's thread only), or
 * hashes the files when c is NULL. */
int guest_launch_emulated(struct hv_platform *p, struct tdxd_gate *gate,
			  struct sevd_measure_cache *c, char *const *dirs,
			  size_t n_dirs, const struct guest_spec *sp, const uint8_t expected[48],
			  struct guest_handle *ret, char *err, size_t errlen);

/* Define and start the guest on the libvirt connection as domain `uuid`. TD launches hold the
 * gate as above. test_driver (a test:/// URI): domain type "test", no <launchSecurity> (the
 * test driver runs no QEMU), for exercising the lifecycle without a host. */
int guest_launch_libvirt(struct hv_libvirt *c, bool test_driver, struct tdxd_gate *gate,
			 char *const *dirs, size_t n_dirs, const struct guest_spec *sp,
			 const char *uuid, char *err, size_t errlen);

/* The SNP platform's reported TCB now (0 with -errno when the firmware cannot say). */
int guest_platform_tcb(struct hv_platform *p, uint64_t *ret);
