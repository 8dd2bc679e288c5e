/* hv/kvm + hv/emul/kvm: the UAPI layouts against the kernel ABI values, every emulated KVM ioctl
 * with good and bad input (wrong fd, wrong order, unaligned ranges), the VMSAs KVM builds from
 * QEMU's reset state against coco's and sev-snp-measure's known pages, and the Extended Guest
 * Request round trip with KVM_EXIT_SNP_REQ_CERTS. The firmware here is a recording fake, so that
 * what KVM hands the firmware can be asserted call by call (the real emulated PSP is driven by
 * test_snp_launch). */
#include <check.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/mman.h>

#include "coco/snp/vmsa.h"
#include "coco/util.h"
#include "hv/emul/kvm.h"
#include "hv/kvm.h"
#include "hv/snp_launch.h"
#include "tests/check_main.h"

#define DATA SOURCE_DIR "/tests/data/snp"

/* --- the recording fake firmware --- */

struct fw_call {
	uint64_t gpa;
	uint8_t type;
	uint8_t first; /* first byte of the page handed over, 0xee when none */
};

static struct fake_fw {
	int started, finished;
	uint64_t policy;
	struct fw_call calls[256];
	size_t n_calls;
	bool id_block;
	uint8_t host_data[32];
	int decommissioned;
	uint8_t vmsa[8][4096];
	size_t n_vmsa;
} ff;

static int ff_start(void *ctx, uint64_t policy, const uint8_t gosvw[16], uint32_t *ret_handle,
		    uint32_t *ret_fw_error)
{
	ff.started++;
	ff.policy = policy;
	*ret_handle = 7;
	return 0;
}

static int ff_update(void *ctx, uint32_t handle, uint64_t gpa, uint8_t type,
		     const uint8_t *contents, uint32_t *ret_fw_error)
{
	ck_assert_uint_eq(handle, 7);
	if (ff.n_calls < ARRAY_SIZE(ff.calls))
		ff.calls[ff.n_calls++] = (struct fw_call){gpa, type, contents ? contents[0] : 0xee};
	if (type == 2 && ff.n_vmsa < ARRAY_SIZE(ff.vmsa))
		memcpy(ff.vmsa[ff.n_vmsa++], contents, 4096);
	if (gpa == 0xbad000) { /* a page the fake firmware refuses */
		*ret_fw_error = 0x16; /* INVALID_PARAM */
		return -EIO;
	}
	return 0;
}

static int ff_finish(void *ctx, uint32_t handle, const uint8_t *id_block, const uint8_t *id_auth,
		     bool author_key_en, const uint8_t host_data[32], uint32_t *ret_fw_error)
{
	ff.finished++;
	ff.id_block = id_block != NULL;
	memcpy(ff.host_data, host_data, 32);
	return 0;
}

static int ff_report(void *ctx, uint32_t handle, const uint8_t report_data[64],
		     uint8_t *ret_report, uint32_t *ret_fw_error)
{
	memset(ret_report, 0, EMUL_KVM_REPORT_SIZE);
	ret_report[0] = 5;			  /* VERSION */
	memcpy(ret_report + 0x50, report_data, 64); /* SNP ABI: REPORT_DATA at 0x50 */
	return 0;
}

static int ff_decommission(void *ctx, uint32_t handle, uint32_t *ret_fw_error)
{
	ff.decommissioned++;
	return 0;
}

static const struct emul_kvm_snp_fw fake_fw = {
	.launch_start = ff_start,
	.launch_update = ff_update,
	.launch_finish = ff_finish,
	.guest_report = ff_report,
	.decommission = ff_decommission,
};

static struct emul_kvm *ek;
static struct hv_kvm *kvm;

static void setup(void)
{
	memset(&ff, 0, sizeof(ff));
	ck_assert_int_eq(emul_kvm_new(&fake_fw, &ek), 0);
	ck_assert_int_eq(hv_kvm_open_emulated(ek, &kvm), 0);
}

static void teardown(void)
{
	hv_kvm_free(kvm);
	emul_kvm_free(ek);
}

/* --- UAPI --- */

START_TEST(uapi_layout)
{
	/* Values from upstream include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h. */
	ck_assert_int_eq(KVM_X86_SNP_VM, 4);
	ck_assert_int_eq(KVM_X86_TDX_VM, 5);
	ck_assert_int_eq(KVM_SEV_INIT2, 22);
	ck_assert_int_eq(KVM_SEV_SNP_LAUNCH_START, 100);
	ck_assert_int_eq(KVM_SEV_SNP_LAUNCH_UPDATE, 101);
	ck_assert_int_eq(KVM_SEV_SNP_LAUNCH_FINISH, 102);
	ck_assert_int_eq(KVM_SEV_SNP_ENABLE_REQ_CERTS, 103);
	ck_assert_int_eq(KVM_EXIT_SNP_REQ_CERTS, 43);
	ck_assert_int_eq(KVM_CAP_GUEST_MEMFD, 234);
	ck_assert_uint_eq(KVM_CREATE_GUEST_MEMFD, 0xc040aed4);
	ck_assert_uint_eq(KVM_SET_USER_MEMORY_REGION2, 0x40a0ae49);
	ck_assert_uint_eq(KVM_SET_MEMORY_ATTRIBUTES, 0x4020aed2);
	ck_assert_uint_eq(KVM_MEMORY_ATTRIBUTE_PRIVATE, 8);
	ck_assert_uint_eq(KVM_MEM_GUEST_MEMFD, 4);
	ck_assert_uint_eq(sizeof(struct kvm_sev_snp_launch_update), 64);
	ck_assert_uint_eq(offsetof(struct kvm_sev_snp_launch_finish, host_data), 19);
	ck_assert_uint_eq(sizeof(struct kvm_sev_snp_launch_finish), 88);
	ck_assert_uint_eq(sizeof(struct kvm_tdx_init_vm), 264);
	ck_assert_int_eq(KVM_TDX_FINALIZE_VM, 4);
	/* The exit's fields sit at the start of kvm_run's union. */
	struct kvm_run run = {0};
	struct hv_kvm_exit_snp_req_certs e = {.gpa = 0x1000, .npages = 3, .ret = 28}, g;
	hv_kvm_run_snp_req_certs_set(&run, &e);
	ck_assert_uint_eq(run.mmio.phys_addr, 0x1000); /* mmio.phys_addr is the union's first u64 */
	hv_kvm_run_snp_req_certs_get(&run, &g);
	ck_assert_uint_eq(g.npages, 3);
	ck_assert_uint_eq(g.ret, 28);
}
END_TEST

/* --- system fd and VM types --- */

START_TEST(system_and_vm_types)
{
	int sys, vm, v;
	ck_assert_int_eq(hv_kvm_system_open(kvm, &sys), 0);
	ck_assert_int_eq(hv_kvm_check_extension(kvm, sys, KVM_CAP_VM_TYPES, &v), 0);
	ck_assert_int_eq(v, (1 << 0) | (1 << 4) | (1 << 5));
	ck_assert_int_eq(hv_kvm_check_extension(kvm, sys, KVM_CAP_GUEST_MEMFD, &v), 0);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(hv_kvm_check_extension(kvm, sys, 9999, &v), 0);
	ck_assert_int_eq(v, 0);
	uint64_t a;
	ck_assert_int_eq(hv_kvm_sev_get_attr(kvm, sys, KVM_X86_SEV_SNP_REQ_CERTS, &a), 0);
	ck_assert_uint_eq(a, 1);
	ck_assert_int_eq(hv_kvm_sev_get_attr(kvm, sys, KVM_X86_SEV_VMSA_FEATURES, &a), 0);
	ck_assert_uint_eq(a, 0x221);
	ck_assert_int_eq(hv_kvm_sev_get_attr(kvm, sys, 77, &a), -ENXIO);
	size_t sz;
	ck_assert_int_eq(hv_kvm_vcpu_mmap_size(kvm, sys, &sz), 0);
	ck_assert_uint_ge(sz, sizeof(struct kvm_run));
	ck_assert_int_eq(hv_kvm_create_vm(kvm, sys, KVM_X86_SEV_VM, &vm), -EINVAL);
	ck_assert_int_eq(hv_kvm_create_vm(kvm, sys, 99, &vm), -EINVAL);
	ck_assert_int_eq(hv_kvm_create_vm(kvm, sys, KVM_X86_TDX_VM, &vm), 0);
	ck_assert_int_eq(hv_kvm_close(kvm, vm), 0);
	ck_assert_int_eq(hv_kvm_create_vm(kvm, sys, KVM_X86_DEFAULT_VM, &vm), 0);
	/* wrong fds */
	ck_assert_int_eq(hv_kvm_create_vm(kvm, 12345, KVM_X86_SNP_VM, &v), -EBADF);
	ck_assert_int_eq(hv_kvm_create_vcpu(kvm, sys, 0, &v), -ENOTTY);
	ck_assert_int_eq(hv_kvm_create_vm(kvm, vm, KVM_X86_SNP_VM, &v), -ENOTTY);
	/* a default VM has no private memory and no encryption ops */
	ck_assert_int_eq(hv_kvm_create_guest_memfd(kvm, vm, 1 << 20, 0, &v), -EINVAL);
	ck_assert_int_eq(hv_kvm_set_memory_private(kvm, vm, 0, 4096, true), -EINVAL);
	ck_assert_int_eq(hv_kvm_sev_init2(kvm, vm, 0, 0, NULL), -ENOTTY);
	ck_assert_int_eq(hv_kvm_close(kvm, vm), 0);
	ck_assert_int_eq(hv_kvm_close(kvm, vm), -EBADF);
	ck_assert_int_eq(hv_kvm_close(kvm, sys), 0);
}
END_TEST

/* --- memory --- */

START_TEST(memory_slots_and_attributes)
{
	int sys, vm, vm2, gmem, gmem2, fd;
	ck_assert_int_eq(hv_kvm_system_open(kvm, &sys), 0);
	ck_assert_int_eq(hv_kvm_create_vm(kvm, sys, KVM_X86_SNP_VM, &vm), 0);
	ck_assert_int_eq(hv_kvm_create_vm(kvm, sys, KVM_X86_SNP_VM, &vm2), 0);
	ck_assert_int_eq(hv_kvm_create_guest_memfd(kvm, vm, 4096 + 1, 0, &fd), -EINVAL);
	ck_assert_int_eq(hv_kvm_create_guest_memfd(kvm, vm, 0, 0, &fd), -EINVAL);
	ck_assert_int_eq(hv_kvm_create_guest_memfd(kvm, vm, 1 << 20, 1, &fd), -EINVAL);
	ck_assert_int_eq(hv_kvm_create_guest_memfd(kvm, vm, 1 << 20, 0, &gmem), 0);
	ck_assert_int_eq(hv_kvm_create_guest_memfd(kvm, vm2, 1 << 20, 0, &gmem2), 0);
	void *hva = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(hva, MAP_FAILED);
	struct hv_kvm_memslot s = {.slot = 0, .flags = KVM_MEM_GUEST_MEMFD, .gpa = 0,
				   .size = 1 << 20, .uaddr = (uintptr_t)hva, .gmem_fd = gmem};
	struct hv_kvm_memslot bad = s;
	bad.gpa = 0x800;
	ck_assert_int_eq(hv_kvm_set_memory_region2(kvm, vm, &bad), -EINVAL);
	bad = s;
	bad.uaddr += 8;
	ck_assert_int_eq(hv_kvm_set_memory_region2(kvm, vm, &bad), -EINVAL);
	bad = s;
	bad.gmem_fd = gmem2; /* another VM's guest_memfd */
	ck_assert_int_eq(hv_kvm_set_memory_region2(kvm, vm, &bad), -EINVAL);
	bad = s;
	bad.gmem_offset = 4096; /* past the file's end */
	ck_assert_int_eq(hv_kvm_set_memory_region2(kvm, vm, &bad), -EINVAL);
	bad = s;
	bad.flags |= KVM_MEM_READONLY;
	ck_assert_int_eq(hv_kvm_set_memory_region2(kvm, vm, &bad), -EINVAL);
	ck_assert_int_eq(hv_kvm_set_memory_region2(kvm, vm, &s), 0);
	bad = s;
	bad.slot = 1;
	bad.gpa = 0x80000; /* overlaps slot 0 */
	bad.flags = 0;
	ck_assert_int_eq(hv_kvm_set_memory_region2(kvm, vm, &bad), -EEXIST);
	bad.slot = 0; /* slot 0 again */
	bad.gpa = 0x100000;
	ck_assert_int_eq(hv_kvm_set_memory_region2(kvm, vm, &bad), -EINVAL);
	/* attributes: page-aligned, non-empty, no wrap, PRIVATE only */
	ck_assert_int_eq(hv_kvm_set_memory_private(kvm, vm, 0x10, 4096, true), -EINVAL);
	ck_assert_int_eq(hv_kvm_set_memory_private(kvm, vm, 0, 0, true), -EINVAL);
	ck_assert_int_eq(hv_kvm_set_memory_private(kvm, vm, ~0xfffull, 0x2000, true), -EINVAL);
	ck_assert_int_eq(hv_kvm_set_memory_private(kvm, vm, 0, 1 << 20, true), 0);
	ck_assert_int_eq(hv_kvm_set_memory_private(kvm, vm, 0x4000, 0x1000, false), 0);
	ck_assert_int_eq(hv_kvm_close(kvm, gmem2), 0);
	ck_assert_int_eq(hv_kvm_close(kvm, vm2), 0);
	/* delete the slot */
	s.size = 0;
	ck_assert_int_eq(hv_kvm_set_memory_region2(kvm, vm, &s), 0);
	ck_assert_int_eq(hv_kvm_set_memory_region2(kvm, vm, &s), -EINVAL);
	ck_assert_int_eq(hv_kvm_close(kvm, gmem), 0);
	ck_assert_int_eq(hv_kvm_close(kvm, vm), 0);
	ck_assert_int_eq(hv_kvm_close(kvm, sys), 0);
	munmap(hva, 2 << 20);
}
END_TEST

/* --- the SNP commands, in and out of order --- */

struct snp_vm {
	int sys, vm, gmem, vcpu;
	uint8_t *hva;
};

/* A VM with 1 MiB of private RAM at 0, nothing launched. */
static void snp_vm_new(struct snp_vm *t)
{
	ck_assert_int_eq(hv_kvm_system_open(kvm, &t->sys), 0);
	ck_assert_int_eq(hv_kvm_create_vm(kvm, t->sys, KVM_X86_SNP_VM, &t->vm), 0);
	ck_assert_int_eq(hv_kvm_create_guest_memfd(kvm, t->vm, 1 << 20, 0, &t->gmem), 0);
	t->hva = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(t->hva, MAP_FAILED);
	struct hv_kvm_memslot s = {.flags = KVM_MEM_GUEST_MEMFD, .size = 1 << 20,
				   .uaddr = (uintptr_t)t->hva, .gmem_fd = t->gmem};
	ck_assert_int_eq(hv_kvm_set_memory_region2(kvm, t->vm, &s), 0);
	t->vcpu = -1;
}

static void snp_vm_free(struct snp_vm *t)
{
	hv_kvm_close(kvm, t->vcpu);
	hv_kvm_close(kvm, t->gmem);
	hv_kvm_close(kvm, t->vm);
	hv_kvm_close(kvm, t->sys);
	munmap(t->hva, 1 << 20);
}

START_TEST(snp_command_order)
{
	struct snp_vm t;
	snp_vm_new(&t);
	uint32_t fw_error = 0xff;
	int v;
	/* nothing before INIT2: not an SNP guest yet */
	ck_assert_int_eq(hv_kvm_snp_launch_start(kvm, t.vm, 0x30000, NULL, &fw_error), -ENOTTY);
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, t.vm, 0, t.hva, 4096, 1, NULL), -ENOTTY);
	ck_assert_int_eq(hv_kvm_snp_enable_req_certs(kvm, t.vm, NULL), -EINVAL);
	/* INIT2: DebugSwap fine, unknown bits and flags refused; once */
	ck_assert_int_eq(hv_kvm_sev_init2(kvm, t.vm, 1ull << 1, 0, NULL), -EINVAL);
	ck_assert_int_eq(hv_kvm_sev_init2(kvm, t.vm, 0x20, 1, NULL), -EINVAL); /* GHCB v1 < 2 */
	ck_assert_int_eq(hv_kvm_sev_init2(kvm, t.vm, 0x20, 0, &fw_error), 0);
	ck_assert_int_eq(hv_kvm_sev_init2(kvm, t.vm, 0x20, 0, NULL), -EINVAL);
	/* LAUNCH_UPDATE before LAUNCH_START */
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, t.vm, 0, t.hva, 4096, 1, NULL), -EINVAL);
	ck_assert_int_eq(hv_kvm_snp_launch_finish(kvm, t.vm, NULL, NULL), -EINVAL);
	/* policy bit 17 must be one */
	ck_assert_int_eq(hv_kvm_snp_launch_start(kvm, t.vm, 0x10000, NULL, NULL), -EINVAL);
	ck_assert_int_eq(hv_kvm_snp_launch_start(kvm, t.vm, 1ull << 40 | 0x30000, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(hv_kvm_snp_launch_start(kvm, t.vm, 0x30000, NULL, &fw_error), 0);
	ck_assert_uint_eq(ff.policy, 0x30000);
	ck_assert_int_eq(hv_kvm_snp_launch_start(kvm, t.vm, 0x30000, NULL, NULL), -EINVAL);
	ck_assert_int_eq(hv_kvm_snp_enable_req_certs(kvm, t.vm, NULL), 0);

	/* LAUNCH_UPDATE: shared memory refused, then private */
	memset(t.hva, 0xab, 3 * 4096);
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, t.vm, 0, t.hva, 4096, 1, NULL), -EINVAL);
	ck_assert_int_eq(hv_kvm_set_memory_private(kvm, t.vm, 0, 1 << 20, true), 0);
	/* unaligned ranges and sources, bad types, outside the slot */
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, t.vm, 0x800, t.hva, 4096, 1, NULL), -EINVAL);
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, t.vm, 0, t.hva, 100, 1, NULL), -EINVAL);
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, t.vm, 0, t.hva + 8, 4096, 1, NULL), -EINVAL);
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, t.vm, 0, t.hva, 4096, 2 /* VMSA */, NULL),
			 -EINVAL);
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, t.vm, 0, t.hva, 4096, 9, NULL), -EINVAL);
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, t.vm, 0, NULL, 4096, 1, NULL), -EFAULT);
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, t.vm, 0xff000, t.hva, 0x2000, 1, NULL),
			 -EINVAL);
	ck_assert_uint_eq(ff.n_calls, 0);
	/* good: 2 NORMAL pages, then a ZERO page without a source */
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, t.vm, 0, t.hva, 0x2000, 1, &fw_error), 0);
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, t.vm, 0x2000, NULL, 0x1000, 3, &fw_error), 0);
	ck_assert_uint_eq(ff.n_calls, 3);
	ck_assert_uint_eq(ff.calls[0].gpa, 0);
	ck_assert_uint_eq(ff.calls[0].type, 1);
	ck_assert_uint_eq(ff.calls[0].first, 0xab);
	ck_assert_uint_eq(ff.calls[1].gpa, 0x1000);
	ck_assert_uint_eq(ff.calls[2].type, 3);
	ck_assert_uint_eq(ff.calls[2].first, 0xee); /* no contents for a ZERO page */
	uint8_t priv[16];
	ck_assert_int_eq(emul_kvm_read_private(ek, t.vm, 0x1000, priv, sizeof(priv)), 0);
	ck_assert_uint_eq(priv[0], 0xab);
	ck_assert_int_eq(emul_kvm_read_private(ek, t.vm, 0x2000, priv, sizeof(priv)), 0);
	ck_assert_uint_eq(priv[0], 0); /* the firmware zeroed it */
	/* populated once only */
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, t.vm, 0x1000, t.hva, 0x1000, 1, NULL),
			 -EEXIST);

	/* vCPU: ENABLE_REQ_CERTS only before it; SEV ops are VM-scoped */
	ck_assert_int_eq(hv_kvm_create_vcpu(kvm, t.vm, 0, &t.vcpu), 0);
	ck_assert_int_eq(hv_kvm_create_vcpu(kvm, t.vm, 0, &v), -EEXIST);
	ck_assert_int_eq(hv_kvm_create_vcpu(kvm, t.vm, 5000, &v), -EINVAL);
	ck_assert_int_eq(hv_kvm_snp_enable_req_certs(kvm, t.vm, NULL), -EINVAL);
	ck_assert_int_eq(hv_kvm_snp_launch_start(kvm, t.vcpu, 0x30000, NULL, NULL), -ENOTTY);
	ck_assert_int_eq(hv_kvm_run(kvm, t.vcpu), -EINVAL); /* no VMSA before LAUNCH_FINISH */
	struct kvm_xcrs x = {.nr_xcrs = 1, .xcrs = {{.xcr = 0, .value = 0x4}}};
	ck_assert_int_eq(hv_kvm_set_xcrs(kvm, t.vcpu, &x), -EINVAL); /* no x87 */
	x.xcrs[0].xcr = 1;
	x.xcrs[0].value = 1;
	ck_assert_int_eq(hv_kvm_set_xcrs(kvm, t.vcpu, &x), -EINVAL); /* only XCR0 */
	struct kvm_sregs sr;
	ck_assert_int_eq(hv_kvm_get_sregs(kvm, t.vcpu, &sr), 0);
	ck_assert_uint_eq(sr.cs.selector, 0xf000); /* KVM's reset state */
	sr.cr0 = 1ull << 40;
	ck_assert_int_eq(hv_kvm_set_sregs(kvm, t.vcpu, &sr), -EINVAL);

	/* LAUNCH_FINISH: the VMSA at 0xFFFFFFFFF000, then finish with host data */
	uint8_t host_data[32] = {0x42};
	struct hv_kvm_snp_finish fin = {.host_data = host_data};
	ck_assert_int_eq(hv_kvm_snp_launch_finish(kvm, t.vm, &fin, &fw_error), 0);
	ck_assert_int_eq(ff.finished, 1);
	ck_assert_uint_eq(ff.host_data[0], 0x42);
	ck_assert(!ff.id_block);
	ck_assert_uint_eq(ff.calls[ff.n_calls - 1].gpa, 0xfffffffff000ull);
	ck_assert_uint_eq(ff.calls[ff.n_calls - 1].type, 2);
	/* after FINISH: the firmware refuses (INVALID_GUEST_STATE), registers are sealed */
	fw_error = 0;
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, t.vm, 0x10000, t.hva, 0x1000, 1, &fw_error),
			 -EIO);
	ck_assert_uint_eq(fw_error, 2);
	ck_assert_int_eq(hv_kvm_snp_launch_finish(kvm, t.vm, NULL, &fw_error), -EIO);
	struct kvm_regs regs = {0};
	ck_assert_int_eq(hv_kvm_set_regs(kvm, t.vcpu, &regs), -EINVAL);
	ck_assert_int_eq(hv_kvm_create_vcpu(kvm, t.vm, 1, &v), -EINVAL);
	snp_vm_free(&t);
	ck_assert_int_eq(ff.decommissioned, 1); /* the last handle went: KVM decommissions */
}
END_TEST

START_TEST(snp_firmware_refusal)
{
	int sys, vm, gmem;
	ck_assert_int_eq(hv_kvm_system_open(kvm, &sys), 0);
	ck_assert_int_eq(hv_kvm_create_vm(kvm, sys, KVM_X86_SNP_VM, &vm), 0);
	ck_assert_int_eq(hv_kvm_create_guest_memfd(kvm, vm, 0x10000, 0, &gmem), 0);
	uint8_t *hva = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
	struct hv_kvm_memslot s = {.flags = KVM_MEM_GUEST_MEMFD, .gpa = 0xbad000 - 0x2000,
				   .size = 0x10000, .uaddr = (uintptr_t)hva, .gmem_fd = gmem};
	ck_assert_int_eq(hv_kvm_set_memory_region2(kvm, vm, &s), 0);
	ck_assert_int_eq(hv_kvm_set_memory_private(kvm, vm, s.gpa, s.size, true), 0);
	ck_assert_int_eq(hv_kvm_sev_init2(kvm, vm, 0, 0, NULL), 0);
	ck_assert_int_eq(hv_kvm_snp_launch_start(kvm, vm, 0x30000, NULL, NULL), 0);
	uint32_t fw_error = 0;
	/* pages 0xbab000, 0xbac000 go in; the firmware refuses 0xbad000 */
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, vm, s.gpa, hva, 0x4000, 1, &fw_error), -EIO);
	ck_assert_uint_eq(fw_error, 0x16);
	ck_assert_uint_eq(ff.n_calls, 3);
	/* the two before it are populated, the refused one is not */
	ck_assert_int_eq(hv_kvm_snp_launch_update(kvm, vm, s.gpa, hva, 0x1000, 1, NULL), -EEXIST);
	hv_kvm_close(kvm, gmem);
	hv_kvm_close(kvm, vm);
	hv_kvm_close(kvm, sys);
	munmap(hva, 0x10000);
}
END_TEST

/* --- VMSAs from QEMU's reset state --- */

static void sha384_hex(const uint8_t *p, char out[97])
{
	uint8_t h[48];
	SHA384(p, 4096, h);
	hex_encode(h, 48, out);
}

/* Launch ovmf_AmdSev_suffix.bin with 2 vCPUs (EPYC-v4, features 0x21) through hv/snp_launch:
 * the VMSAs KVM measured equal coco's builder and the pages sev-snp-measure hashes
 * (docs/notes/snp-measure-facts.md 5.2: BSP ae79efa6..., AP at 0x80B004 180ef267...). */
START_TEST(vmsa_from_reset_state)
{
	char *fw;
	size_t n;
	ck_assert_int_eq(read_file_max(DATA "/firmware/ovmf_AmdSev_suffix.bin", 1 << 20, &fw, &n), 0);
	struct hv_snp_ovmf_launch in = {.ovmf = (uint8_t *)fw, .ovmf_size = n, .vcpus = 2,
					.vcpu_type = "EPYC-v4", .sev_features = 0x21};
	struct hv_snp_guest *g = NULL;
	char err[256] = "";
	ck_assert_msg(hv_snp_launch_ovmf(kvm, &in, &g, NULL, err, sizeof(err)) == 0, "%s", err);
	uint8_t page[4096], want[4096];
	char hex[97];
	ck_assert_int_eq(emul_kvm_vmsa(ek, hv_snp_guest_vcpu_fd(g, 0), page), 0);
	snp_vmsa_build(want, SNP_VMM_QEMU, SNP_BSP_EIP, 0x21, 0x800f12);
	ck_assert_mem_eq(page, want, 4096);
	sha384_hex(page, hex);
	ck_assert_str_eq(hex, "ae79efa6efbe1594a2717dfd42af495a0e4ed37b00e529a5fdf349bea04c3513962ffb0c74cf65b0d9a1857271833d6e");
	ck_assert_int_eq(emul_kvm_vmsa(ek, hv_snp_guest_vcpu_fd(g, 1), page), 0);
	snp_vmsa_build(want, SNP_VMM_QEMU, 0x80b004, 0x21, 0x800f12);
	ck_assert_mem_eq(page, want, 4096);
	sha384_hex(page, hex);
	ck_assert_str_eq(hex, "180ef2675dc01615d31b3e84ef27a0a69d08bfbbb58ea4f6a0188f08884ab6407591ada42f99749ce9a406fb4e5d8355");
	/* What the firmware saw, in order: firmware page, 7 sections, 2 VMSAs (BSP first). */
	ck_assert_uint_eq(ff.calls[0].gpa, 0xfffff000);
	ck_assert_uint_eq(ff.calls[0].type, 1);
	size_t i = 1;
	for (; i < ff.n_calls && ff.calls[i].gpa < 0x80d000; i++)
		ck_assert_uint_eq(ff.calls[i].type, 3); /* SNP_SEC_MEM: ZERO */
	ck_assert_uint_eq(i, 1 + 9 + 3);
	ck_assert_uint_eq(ff.calls[i].gpa, 0x80d000);
	ck_assert_uint_eq(ff.calls[i++].type, 5); /* SECRETS */
	ck_assert_uint_eq(ff.calls[i].gpa, 0x80e000);
	ck_assert_uint_eq(ff.calls[i++].type, 6); /* CPUID */
	ck_assert_uint_eq(ff.calls[i].gpa, 0x80f000);
	ck_assert_uint_eq(ff.calls[i++].type, 3); /* SVSM_CAA: ZERO */
	ck_assert_uint_eq(ff.calls[i].gpa, 0x810000);
	ck_assert_uint_eq(ff.calls[i++].type, 3); /* no kernel: hashes page ZERO */
	for (unsigned k = 0; k < 15; k++, i++)
		ck_assert_uint_eq(ff.calls[i].type, 3); /* the last SEC_MEM */
	ck_assert_uint_eq(ff.calls[i].gpa, 0xfffffffff000ull);
	ck_assert_uint_eq(ff.calls[i + 1].gpa, 0xfffffffff000ull);
	ck_assert_uint_eq(ff.n_calls, i + 2);
	ck_assert_mem_eq(ff.vmsa[1], page, 4096); /* what the firmware measured */
	hv_snp_guest_free(g);
	free(fw);
}
END_TEST

/* --- the Extended Guest Request --- */

static struct hv_snp_guest *launch_small(bool certs)
{
	char *fw;
	size_t n;
	ck_assert_int_eq(read_file_max(DATA "/firmware/ovmf_AmdSev_suffix.bin", 1 << 20, &fw, &n), 0);
	struct hv_snp_ovmf_launch in = {.ovmf = (uint8_t *)fw, .ovmf_size = n, .vcpus = 1,
					.vcpu_type = "EPYC-Milan", .enable_req_certs = certs};
	struct hv_snp_guest *g = NULL;
	char err[256] = "";
	ck_assert_msg(hv_snp_launch_ovmf(kvm, &in, &g, NULL, err, sizeof(err)) == 0, "%s", err);
	free(fw);
	return g;
}

START_TEST(ext_report_with_req_certs)
{
	struct hv_snp_guest *g = launch_small(true);
	int vcpu = hv_snp_guest_vcpu_fd(g, 0);
	struct kvm_run *run = hv_snp_guest_run(g, 0);
	struct hv_guest_mem mem;
	hv_snp_guest_memory(g, &mem);
	uint8_t rd[64] = {0x11, 0x22};
	char path[] = "/tmp/test-kvm-certs-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	/* one entry {GUID 0x01.., offset 48, length 8} + terminator + 8 bytes */
	uint8_t blob[56] = {0};
	memset(blob, 0x01, 16);
	blob[16] = 48;
	blob[20] = 8;
	memset(blob + 48, 0xcc, 8);
	ck_assert_int_eq(write(fd, blob, sizeof(blob)), (ssize_t)sizeof(blob));
	close(fd);

	ck_assert_int_eq(emul_kvm_guest_ext_report(ek, vcpu, 0x100801, 1, rd), -EINVAL);
	ck_assert_int_eq(emul_kvm_guest_ext_report(ek, vcpu, 0x100000, 1, rd), 0);
	ck_assert_int_eq(emul_kvm_guest_ext_report(ek, vcpu, 0x100000, 1, rd), -EBUSY);
	struct emul_kvm_guest_report res;
	ck_assert_int_eq(emul_kvm_guest_ext_report_result(ek, vcpu, &res), -EAGAIN);
	ck_assert_int_eq(hv_kvm_run(kvm, vcpu), 0);
	ck_assert_uint_eq(run->exit_reason, KVM_EXIT_SNP_REQ_CERTS);
	int lock_fd = -2;
	ck_assert_int_eq(hv_snp_req_certs_handle_run(run, &mem, path, 100, &lock_fd), 0);
	ck_assert_int_ge(lock_fd, 0);
	struct hv_kvm_exit_snp_req_certs e;
	hv_kvm_run_snp_req_certs_get(run, &e);
	ck_assert_uint_eq(e.ret, 0);
	/* the kernel doc's protocol: immediate_exit, KVM_RUN completes then -EINTR */
	run->immediate_exit = 1;
	ck_assert_int_eq(hv_kvm_run(kvm, vcpu), -EINTR);
	close(lock_fd);
	run->immediate_exit = 0;
	ck_assert_int_eq(emul_kvm_guest_ext_report_result(ek, vcpu, &res), 0);
	ck_assert_uint_eq(res.exitinfo2, 0);
	ck_assert(res.has_report);
	ck_assert_mem_eq(res.report + 0x50, rd, 64);
	ck_assert_mem_eq(hv_snp_guest_hva(g, 0x100000, sizeof(blob)), blob, sizeof(blob));

	/* ENOSPC: KVM gives the guest the pages needed in RBX */
	ck_assert_int_eq(emul_kvm_guest_ext_report(ek, vcpu, 0x100000, 0, rd), 0);
	ck_assert_int_eq(hv_kvm_run(kvm, vcpu), 0);
	ck_assert_int_eq(hv_snp_req_certs_handle_run(run, &mem, path, 100, &lock_fd), 0);
	ck_assert_int_eq(lock_fd, -1);
	ck_assert_int_eq(hv_kvm_run(kvm, vcpu), 0);
	ck_assert_uint_eq(run->exit_reason, KVM_EXIT_HLT);
	ck_assert_int_eq(emul_kvm_guest_ext_report_result(ek, vcpu, &res), 0);
	ck_assert_uint_eq(res.exitinfo2, 1ull << 32);
	ck_assert_uint_eq(res.rbx, 1);
	ck_assert(!res.has_report);

	/* an unsupported ret fails KVM_RUN and leaves the request pending */
	ck_assert_int_eq(emul_kvm_guest_ext_report(ek, vcpu, 0x100000, 1, rd), 0);
	ck_assert_int_eq(hv_kvm_run(kvm, vcpu), 0);
	e = (struct hv_kvm_exit_snp_req_certs){.gpa = 0x100000, .npages = 1, .ret = 1234};
	hv_kvm_run_snp_req_certs_set(run, &e);
	ck_assert_int_eq(hv_kvm_run(kvm, vcpu), -EINVAL);
	e.ret = EAGAIN;
	hv_kvm_run_snp_req_certs_set(run, &e);
	ck_assert_int_eq(hv_kvm_run(kvm, vcpu), 0);
	ck_assert_int_eq(emul_kvm_guest_ext_report_result(ek, vcpu, &res), 0);
	ck_assert_uint_eq(res.exitinfo2, 2ull << 32);
	ck_assert_int_eq(emul_kvm_guest_ext_report_result(ek, vcpu, &res), -ENOENT);
	unlink(path);
	hv_snp_guest_free(g);
}
END_TEST

START_TEST(ext_report_without_req_certs)
{
	struct hv_snp_guest *g = launch_small(false);
	int vcpu = hv_snp_guest_vcpu_fd(g, 0);
	uint8_t *pages = hv_snp_guest_hva(g, 0x200000, 4096);
	memset(pages, 0x5a, 4096);
	uint8_t rd[64] = {9};
	ck_assert_int_eq(emul_kvm_guest_ext_report(ek, vcpu, 0x200000, 1, rd), 0);
	ck_assert_int_eq(hv_kvm_run(kvm, vcpu), 0);
	ck_assert_uint_eq(hv_snp_guest_run(g, 0)->exit_reason, KVM_EXIT_HLT); /* no exit to us */
	struct emul_kvm_guest_report res;
	ck_assert_int_eq(emul_kvm_guest_ext_report_result(ek, vcpu, &res), 0);
	ck_assert(res.has_report);
	static const uint8_t zero[24];
	ck_assert_mem_eq(pages, zero, 24); /* KVM wrote the empty table */
	ck_assert_uint_eq(pages[24], 0x5a);
	hv_snp_guest_free(g);
}
END_TEST

START_TEST(native_backend_without_kvm)
{
	/* The native backend against a device root without kvm: the open's errno, nothing else. */
	struct hv_kvm *n;
	ck_assert_int_eq(hv_kvm_open_native("/nonexistent-dev", &n), 0);
	int fd;
	ck_assert_int_eq(hv_kvm_system_open(n, &fd), -ENOENT);
	ck_assert_int_eq(hv_kvm_run(n, -1), -EBADF);
	hv_kvm_free(n);
	ck_assert_str_eq(hv_kvm_vm_type_name(KVM_X86_SNP_VM), "snp");
	ck_assert_str_eq(hv_kvm_vm_type_name(KVM_X86_TDX_VM), "tdx");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kvm");
	TCase *tc = tcase_create("emulated");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, uapi_layout);
	tcase_add_test(tc, system_and_vm_types);
	tcase_add_test(tc, memory_slots_and_attributes);
	tcase_add_test(tc, snp_command_order);
	tcase_add_test(tc, snp_firmware_refusal);
	tcase_add_test(tc, vmsa_from_reset_state);
	tcase_add_test(tc, ext_report_with_req_certs);
	tcase_add_test(tc, ext_report_without_req_certs);
	tcase_add_test(tc, native_backend_without_kvm);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
