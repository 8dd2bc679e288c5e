/* Internals of the emulated KVM shared by hv/emul/kvm.c (handles, memory, vCPUs) and
 * hv/emul/kvm_snp.c (KVM_MEMORY_ENCRYPT_OP for SNP, guest requests). */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/emul/kvm.h"
#include "hv/uapi/kvm_compat.h"

#define EKVM_PAGE 4096ull
#define EKVM_MAX_SLOTS 32
#define EKVM_MAX_VCPUS 512
#define EKVM_MAX_VCPU_ID 4096
#define EKVM_MAX_GMEMS 64
#define EKVM_MAX_PRIVATE_RANGES 4096
#define EKVM_RUN_MMAP_SIZE (3 * 4096) /* x86: kvm_run + PIO page + coalesced MMIO ring */
/* SEV features KVM_SEV_INIT2 accepts here: DebugSwap (5); for SNP also SNPActive (0, newer
 * kernels; KVM sets it anyway) and SecureTSC (9). */
#define EKVM_VMSA_FEATURES (1ull << 5)
#define EKVM_VMSA_FEATURES_SNP ((1ull << 0) | (1ull << 9))
/* SEV firmware status the emulated firmware side answers with (SNP ABI, status codes). */
#define EKVM_FW_INVALID_GUEST_STATE 0x02

struct ekvm_gmem {
	uint64_t size;
	uint8_t *mem;	    /* private contents (lazily backed anonymous mapping) */
	uint8_t *populated; /* one bit per page: filled by LAUNCH_UPDATE */
};

struct ekvm_slot {
	bool used;
	uint32_t id, flags;
	uint64_t gpa, size, uaddr;
	struct ekvm_gmem *gmem;
	uint64_t gmem_off;
};

struct ekvm_range {
	uint64_t start, end;
};

enum ekvm_ext_state { EKVM_EXT_NONE, EKVM_EXT_QUEUED, EKVM_EXT_EXITED, EKVM_EXT_DONE };

struct ekvm_vm;

struct ekvm_vcpu {
	unsigned long id;
	struct ekvm_vm *vm;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	uint64_t xcr0, xss, dr6, dr7, pat;
	struct kvm_run *run; /* EKVM_RUN_MMAP_SIZE bytes */
	bool vmsa_done;
	uint8_t vmsa[4096];
	enum ekvm_ext_state ext;
	uint64_t ext_gpa, ext_npages;
	uint8_t ext_data[64];
	struct emul_kvm_guest_report ext_result;
	bool td_init; /* KVM_TDX_INIT_VCPU done */
	uint64_t td_rcx;
};

enum ekvm_sev_state { EKVM_SEV_NONE, EKVM_SEV_INIT, EKVM_SEV_STARTED, EKVM_SEV_FINISHED };
enum ekvm_td_state { EKVM_TD_NONE, EKVM_TD_INITIALIZED, EKVM_TD_RUNNABLE };

struct ekvm_vm {
	unsigned long type;
	unsigned refs; /* fds of the VM, its vCPUs and guest_memfds, plus kvm_run mappings */
	struct ekvm_slot slots[EKVM_MAX_SLOTS];
	struct ekvm_range *priv;
	size_t n_priv;
	struct ekvm_vcpu *vcpus[EKVM_MAX_VCPUS];
	size_t n_vcpus;
	struct ekvm_gmem *gmems[EKVM_MAX_GMEMS];
	size_t n_gmems;
	enum ekvm_sev_state sev;
	uint64_t vmsa_features;
	uint16_t ghcb_version;
	uint32_t handle;
	bool certs;
	enum ekvm_td_state td_state; /* TDX VMs */
	uint32_t td;		     /* the emulated TDX module's handle after INIT_VM */
	struct ekvm_vm *prev, *next; /* emul_kvm.vms */
};

enum ekvm_kind { EKVM_SYSTEM = 1, EKVM_VM, EKVM_VCPU, EKVM_GMEM };

struct ekvm_fd {
	int fd;
	enum ekvm_kind kind;
	struct ekvm_vm *vm;
	void *obj; /* struct ekvm_vcpu / ekvm_gmem */
};

struct emul_kvm {
	pthread_mutex_t lock;
	bool has_fw;
	struct emul_kvm_snp_fw fw;
	struct emul_tdx_module *tdx; /* not owned; NULL: TDX commands fail with -ENODEV */
	struct ekvm_fd *fds;
	size_t n_fds, cap_fds;
	struct ekvm_vm *vms; /* alive: held by fds or kvm_run mappings */
	int next_fd;
};

/* kvm.c */
struct ekvm_slot *ekvm_slot_find(struct ekvm_vm *vm, uint64_t gpa, uint64_t len);
bool ekvm_range_private(const struct ekvm_vm *vm, uint64_t gpa, uint64_t len);
uint8_t *ekvm_shared_hva(struct ekvm_vm *vm, uint64_t gpa, uint64_t len);
bool ekvm_has_private_mem(const struct ekvm_vm *vm);
/* kvm_snp.c */
int ekvm_sev_op(struct emul_kvm *ek, struct ekvm_vm *vm, struct kvm_sev_cmd *cmd);
int ekvm_vcpu_run(struct emul_kvm *ek, struct ekvm_vcpu *v);
void ekvm_vm_decommission(struct emul_kvm *ek, struct ekvm_vm *vm);
/* kvm_tdx.c: KVM_MEMORY_ENCRYPT_OP on a TDX VM or one of its vCPUs (v NULL: the VM fd) */
int ekvm_tdx_op(struct emul_kvm *ek, struct ekvm_vm *vm, struct ekvm_vcpu *v,
		struct kvm_tdx_cmd *cmd);
void ekvm_tdx_vm_destroy(struct emul_kvm *ek, struct ekvm_vm *vm);
