/* The SEV-SNP launch sequence as QEMU performs it (target/i386/sev.c, hw/i386/pc_sysfw.c),
 * through hv/kvm.h. Facts: docs/notes/snp-measure-facts.md; kernel ABI:
 * Documentation/virt/kvm/x86/amd-memory-encryption.rst. */
#include <sys/mman.h>

#include "coco/ovmf.h"
#include "coco/snp/vmsa.h"
#include "coco/util.h"
#include "hv/snp_launch.h"

#define PAGE 4096ull
#define FOUR_GIB 0x100000000ull
#define LOWMEM_MAX 0x80000000ull /* RAM above this goes above 4 GiB (q35 with > 2 GiB) */

struct snp_region {
	uint64_t gpa, size;
	uint8_t *hva; /* shared backing */
	int gmem_fd;
};

struct hv_snp_guest {
	struct hv_kvm *k;
	int sys_fd, vm_fd;
	uint64_t sev_features;
	struct snp_region regions[HV_SNP_MAX_REGIONS];
	struct hv_guest_mem_region mem[HV_SNP_MAX_REGIONS];
	unsigned n_regions;
	size_t run_size;
	unsigned n_vcpus;
	int vcpu_fds[HV_SNP_MAX_VCPUS];
	struct kvm_run *runs[HV_SNP_MAX_VCPUS];
};

void hv_snp_guest_free(struct hv_snp_guest *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->n_vcpus; i++) {
		hv_kvm_unmap_run(g->k, g->runs[i], g->run_size);
		hv_kvm_close(g->k, g->vcpu_fds[i]);
	}
	for (unsigned i = 0; i < g->n_regions; i++) {
		hv_kvm_close(g->k, g->regions[i].gmem_fd);
		munmap(g->regions[i].hva, g->regions[i].size);
	}
	hv_kvm_close(g->k, g->vm_fd);
	hv_kvm_close(g->k, g->sys_fd);
	free(g);
}

static void guest_freep(struct hv_snp_guest **g)
{
	hv_snp_guest_free(*g);
}

int hv_snp_guest_create(struct hv_kvm *k, const struct hv_snp_guest_config *cfg,
			struct hv_snp_guest **ret, uint32_t *ret_fw_error)
{
	/* KVM sets SNPActive in every SNP VMSA: a digest computed without it would not match. */
	if (!(cfg->sev_features & HV_SNP_FEATURE_SNP_ACTIVE))
		return -EINVAL;
	_cleanup_(guest_freep) struct hv_snp_guest *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->k = k;
	g->sys_fd = g->vm_fd = -1;
	g->sev_features = cfg->sev_features;
	int r = hv_kvm_system_open(k, &g->sys_fd);
	if (r < 0)
		return r;
	r = hv_kvm_vcpu_mmap_size(k, g->sys_fd, &g->run_size);
	if (r < 0)
		return r;
	r = hv_kvm_create_vm(k, g->sys_fd, KVM_X86_SNP_VM, &g->vm_fd);
	if (r < 0)
		return r;
	r = hv_kvm_sev_init2(k, g->vm_fd, cfg->sev_features & ~HV_SNP_FEATURE_SNP_ACTIVE, 0,
			     ret_fw_error);
	if (r < 0)
		return r;
	r = hv_kvm_snp_launch_start(k, g->vm_fd, cfg->policy ? cfg->policy : HV_SNP_POLICY_DEFAULT,
				    cfg->gosvw, ret_fw_error);
	if (r < 0)
		return r;
	if (cfg->enable_req_certs) {
		r = hv_kvm_snp_enable_req_certs(k, g->vm_fd, ret_fw_error);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(g);
	return 0;
}

int hv_snp_guest_add_memory(struct hv_snp_guest *g, uint64_t gpa, uint64_t size)
{
	if (g->n_regions == HV_SNP_MAX_REGIONS)
		return -ENOSPC;
	if (!size || (gpa | size) & (PAGE - 1) || gpa + size < gpa || size > SIZE_MAX)
		return -EINVAL;
	struct snp_region *reg = &g->regions[g->n_regions];
	void *hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hva == MAP_FAILED)
		return -errno;
	int gmem_fd = -1;
	int r = hv_kvm_create_guest_memfd(g->k, g->vm_fd, size, 0, &gmem_fd);
	if (r == 0) {
		struct hv_kvm_memslot s = {
			.slot = g->n_regions,
			.flags = KVM_MEM_GUEST_MEMFD,
			.gpa = gpa,
			.size = size,
			.uaddr = (uint64_t)(uintptr_t)hva,
			.gmem_fd = gmem_fd,
		};
		r = hv_kvm_set_memory_region2(g->k, g->vm_fd, &s);
	}
	if (r == 0)
		r = hv_kvm_set_memory_private(g->k, g->vm_fd, gpa, size, true);
	if (r < 0) {
		hv_kvm_close(g->k, gmem_fd);
		munmap(hva, size);
		return r;
	}
	*reg = (struct snp_region){.gpa = gpa, .size = size, .hva = hva, .gmem_fd = gmem_fd};
	g->mem[g->n_regions] = (struct hv_guest_mem_region){.gpa = gpa, .size = size, .hva = hva};
	g->n_regions++;
	return 0;
}

void hv_snp_guest_memory(const struct hv_snp_guest *g, struct hv_guest_mem *ret)
{
	*ret = (struct hv_guest_mem){.regions = g->mem, .n = g->n_regions};
}

uint8_t *hv_snp_guest_hva(struct hv_snp_guest *g, uint64_t gpa, uint64_t len)
{
	struct hv_guest_mem m;
	uint8_t *hva;
	hv_snp_guest_memory(g, &m);
	return hv_guest_mem_translate(&m, gpa, len, &hva) == 0 ? hva : NULL;
}

int hv_snp_guest_launch_update(struct hv_snp_guest *g, uint64_t gpa, uint64_t len, uint8_t type,
			       uint32_t *ret_fw_error)
{
	const uint8_t *src = NULL;
	if (type != KVM_SEV_SNP_PAGE_TYPE_ZERO) {
		src = hv_snp_guest_hva(g, gpa, len);
		if (!src)
			return -EFAULT;
	}
	return hv_kvm_snp_launch_update(g->k, g->vm_fd, gpa, src, len, type, ret_fw_error);
}

/* QEMU's x86_cpu_reset() state as KVM_SET_SREGS/REGS/FPU/XCRS carry it, with the SEV-ES reset
 * vector of an AP (sev_es_set_reset_vector()). */
static int vcpu_set_reset_state(struct hv_snp_guest *g, int fd, bool bsp, uint32_t eip,
				uint32_t sig)
{
	struct kvm_segment data = {.limit = 0xffff, .type = 3 /* RW, accessed */, .present = 1,
				   .s = 1};
	struct kvm_sregs sregs = {
		.cs = {.base = eip & 0xffff0000u, .limit = 0xffff, .selector = 0xf000,
		       .type = 0xb /* code, RX, accessed */, .present = 1, .s = 1},
		.ds = data, .es = data, .fs = data, .gs = data, .ss = data,
		.tr = {.limit = 0xffff, .type = 0xb /* busy 32-bit TSS */, .present = 1},
		.ldt = {.limit = 0xffff, .type = 2 /* LDT */, .present = 1},
		.gdt = {.limit = 0xffff},
		.idt = {.limit = 0xffff},
		.cr0 = 0x60000010, /* CD | NW | ET */
		.apic_base = 0xfee00000u | (1u << 11) | (bsp ? 1u << 8 : 0),
	};
	struct kvm_regs regs = {.rip = eip & 0xffff, .rflags = 0x2, .rdx = sig};
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	struct kvm_xcrs xcrs = {.nr_xcrs = 1, .xcrs = {{.xcr = 0, .value = 1 /* x87 */}}};
	int r = hv_kvm_set_sregs(g->k, fd, &sregs);
	if (r == 0)
		r = hv_kvm_set_regs(g->k, fd, &regs);
	if (r == 0)
		r = hv_kvm_set_fpu(g->k, fd, &fpu);
	if (r == 0)
		r = hv_kvm_set_xcrs(g->k, fd, &xcrs);
	return r;
}

int hv_snp_guest_create_vcpus(struct hv_snp_guest *g, unsigned n, uint32_t vcpu_sig,
			      uint32_t ap_reset_eip)
{
	if (!n || n > HV_SNP_MAX_VCPUS - g->n_vcpus)
		return -EINVAL;
	if (n > 1 && !ap_reset_eip)
		return -EINVAL; /* APs need the firmware's SEV-ES reset block */
	for (unsigned i = 0; i < n; i++) {
		unsigned id = g->n_vcpus;
		int fd;
		int r = hv_kvm_create_vcpu(g->k, g->vm_fd, id, &fd);
		if (r < 0)
			return r;
		struct kvm_run *run = NULL;
		r = hv_kvm_map_run(g->k, fd, g->run_size, &run);
		if (r < 0) {
			hv_kvm_close(g->k, fd);
			return r;
		}
		g->vcpu_fds[id] = fd;
		g->runs[id] = run;
		g->n_vcpus++;
		bool bsp = id == 0;
		r = vcpu_set_reset_state(g, fd, bsp, bsp ? SNP_BSP_EIP : ap_reset_eip, vcpu_sig);
		if (r < 0)
			return r;
	}
	return 0;
}

int hv_snp_guest_launch_finish(struct hv_snp_guest *g, const struct hv_kvm_snp_finish *f,
			       uint32_t *ret_fw_error)
{
	return hv_kvm_snp_launch_finish(g->k, g->vm_fd, f, ret_fw_error);
}

int hv_snp_guest_vm_fd(const struct hv_snp_guest *g)
{
	return g->vm_fd;
}

unsigned hv_snp_guest_vcpus(const struct hv_snp_guest *g)
{
	return g->n_vcpus;
}

int hv_snp_guest_vcpu_fd(const struct hv_snp_guest *g, unsigned i)
{
	return i < g->n_vcpus ? g->vcpu_fds[i] : -1;
}

struct kvm_run *hv_snp_guest_run(const struct hv_snp_guest *g, unsigned i)
{
	return i < g->n_vcpus ? g->runs[i] : NULL;
}

/* --- from an OVMF image --- */

/* RAM large enough for every metadata section (QEMU's guest RAM holds them). */
static uint64_t ram_needed(const struct ovmf *o)
{
	uint64_t end = 0;
	for (size_t i = 0; i < o->n_sections; i++) {
		uint64_t e = (uint64_t)o->sections[i].gpa + o->sections[i].size;
		if (e > end)
			end = e;
	}
	uint64_t two_mib = 2ull << 20;
	end = (end + two_mib - 1) & ~(two_mib - 1);
	return end < (16ull << 20) ? 16ull << 20 : end;
}

static int add_ram(struct hv_snp_guest *g, uint64_t mem_size)
{
	uint64_t low = mem_size < LOWMEM_MAX ? mem_size : LOWMEM_MAX;
	int r = hv_snp_guest_add_memory(g, 0, low);
	if (r == 0 && mem_size > low)
		r = hv_snp_guest_add_memory(g, FOUR_GIB, mem_size - low);
	return r;
}

/* One metadata section as QEMU's SNP launch feeds it (snp_populate_metadata_pages()). */
static int launch_section(struct hv_snp_guest *g, const struct ovmf *o,
			  const struct ovmf_sev_section *s, const struct snp_kernel_hashes *h,
			  uint32_t *ret_fw_error, char *err, size_t errlen)
{
	uint8_t type;
	switch (s->type) {
	case OVMF_SEV_SNP_SEC_MEM:
	case OVMF_SEV_SVSM_CAA:
		type = KVM_SEV_SNP_PAGE_TYPE_ZERO;
		break;
	case OVMF_SEV_SNP_SECRETS:
		type = KVM_SEV_SNP_PAGE_TYPE_SECRETS;
		break;
	case OVMF_SEV_CPUID:
		/* QEMU fills the page with the guest's CPUID table; the firmware checks it and
		 * measures the page with zero contents. An empty table (count 0) here. */
		type = KVM_SEV_SNP_PAGE_TYPE_CPUID;
		break;
	case OVMF_SEV_SNP_KERNEL_HASHES:
		type = h ? KVM_SEV_SNP_PAGE_TYPE_NORMAL : KVM_SEV_SNP_PAGE_TYPE_ZERO;
		break;
	default:
		return set_error(err, errlen, -EINVAL, "unknown SEV metadata section type 0x%x",
				 s->type);
	}
	if (!s->size)
		return 0;
	uint8_t *hva = hv_snp_guest_hva(g, s->gpa, s->size);
	if (!hva)
		return set_error(err, errlen, -EINVAL,
				 "SEV metadata section at 0x%x (+0x%x) is outside guest memory",
				 s->gpa, s->size);
	if (s->type == OVMF_SEV_SNP_KERNEL_HASHES && h) {
		if (s->size != PAGE)
			return set_error(err, errlen, -EINVAL,
					 "SNP_KERNEL_HASHES section is 0x%x bytes, not one page",
					 s->size);
		if (snp_hash_table_page(h, o->hash_table_gpa, hva) < 0)
			return set_error(err, errlen, -EINVAL,
					 "kernel hashes table does not fit its page");
	}
	int r = hv_snp_guest_launch_update(g, s->gpa, s->size, type, ret_fw_error);
	if (r < 0)
		return set_error(err, errlen, r, "SNP_LAUNCH_UPDATE of %s at 0x%x: %s",
				 ovmf_sev_section_name(s->type), s->gpa, strerror(-r));
	return 0;
}

static int check_layout(const struct hv_snp_ovmf_launch *in, const struct ovmf *o, char *err,
			size_t errlen)
{
	if (!in->ovmf_size || in->ovmf_size % PAGE || in->ovmf_size > LOWMEM_MAX)
		return set_error(err, errlen, -EINVAL, "firmware size is not a multiple of 4 KiB");
	if (!in->vcpus || in->vcpus > HV_SNP_MAX_VCPUS)
		return set_error(err, errlen, -EINVAL, "vCPU count must be 1..%d", HV_SNP_MAX_VCPUS);
	if (!o->has_reset_eip)
		return set_error(err, errlen, -EINVAL, "firmware has no SEV-ES reset block");
	if (in->vcpus > 1 && !o->sev_es_reset_eip)
		return set_error(err, errlen, -EINVAL, "firmware's AP reset EIP is 0");
	if (in->hashes && !ovmf_has_section(o, OVMF_SEV_SNP_KERNEL_HASHES))
		return set_error(err, errlen, -EINVAL,
				 "kernel given but the firmware has no SNP_KERNEL_HASHES section");
	if (in->hashes && !o->has_hash_table)
		return set_error(err, errlen, -EINVAL, "firmware has no SEV hashes table entry");
	for (size_t i = 0; i < o->n_sections; i++) {
		uint64_t end = (uint64_t)o->sections[i].gpa + o->sections[i].size;
		if ((o->sections[i].gpa | o->sections[i].size) & (PAGE - 1))
			return set_error(err, errlen, -EINVAL,
					 "SEV metadata section at 0x%x is not page-aligned",
					 o->sections[i].gpa);
		if (end > LOWMEM_MAX)
			return set_error(err, errlen, -EINVAL,
					 "SEV metadata section at 0x%x is above low RAM",
					 o->sections[i].gpa);
	}
	return 0;
}

int hv_snp_launch_ovmf(struct hv_kvm *k, const struct hv_snp_ovmf_launch *in,
		       struct hv_snp_guest **ret, uint32_t *ret_fw_error, char *err, size_t errlen)
{
	_cleanup_free_ struct ovmf *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	int r = ovmf_parse(in->ovmf, in->ovmf_size, o, err, errlen);
	if (r < 0)
		return r;
	r = check_layout(in, o, err, errlen);
	if (r < 0)
		return r;
	uint32_t sig = in->vcpu_sig;
	if (in->vcpu_type && snp_vcpu_type_sig(in->vcpu_type, &sig) < 0)
		return set_error(err, errlen, -EINVAL, "unknown vCPU type '%s'", in->vcpu_type);
	uint64_t mem = in->mem_size ? in->mem_size : ram_needed(o);
	if (mem < ram_needed(o) || mem & (PAGE - 1))
		return set_error(err, errlen, -EINVAL,
				 "memory size 0x%llx does not hold the firmware's sections",
				 (unsigned long long)mem);

	struct hv_snp_guest_config cfg = {
		.policy = in->policy,
		.sev_features = in->sev_features ? in->sev_features : HV_SNP_FEATURE_SNP_ACTIVE,
		.enable_req_certs = in->enable_req_certs,
	};
	_cleanup_(guest_freep) struct hv_snp_guest *g = NULL;
	r = hv_snp_guest_create(k, &cfg, &g, ret_fw_error);
	if (r < 0)
		return set_error(err, errlen, r, "SNP VM creation (INIT2, LAUNCH_START): %s",
				 strerror(-r));
	r = add_ram(g, mem);
	uint64_t fw_gpa = ovmf_gpa(o);
	if (r == 0) /* the flash at the top of 4 GiB, backed by guest_memfd like the RAM */
		r = hv_snp_guest_add_memory(g, fw_gpa, in->ovmf_size);
	if (r < 0)
		return set_error(err, errlen, r, "guest memory: %s", strerror(-r));
	r = hv_snp_guest_create_vcpus(g, in->vcpus, sig, o->sev_es_reset_eip);
	if (r < 0)
		return set_error(err, errlen, r, "vCPUs: %s", strerror(-r));

	/* 1. the firmware image, copied into its shared pages first (as QEMU's pflash) */
	memcpy(hv_snp_guest_hva(g, fw_gpa, in->ovmf_size), in->ovmf, in->ovmf_size);
	r = hv_snp_guest_launch_update(g, fw_gpa, in->ovmf_size, KVM_SEV_SNP_PAGE_TYPE_NORMAL,
				       ret_fw_error);
	if (r < 0)
		return set_error(err, errlen, r, "SNP_LAUNCH_UPDATE of the firmware: %s",
				 strerror(-r));
	/* 2. the SEV metadata sections, in table order */
	for (size_t i = 0; i < o->n_sections; i++) {
		r = launch_section(g, o, &o->sections[i], in->hashes, ret_fw_error, err, errlen);
		if (r < 0)
			return r;
	}
	/* 3. KVM measures the VMSAs (BSP first), then the firmware finishes */
	r = hv_snp_guest_launch_finish(g, in->finish, ret_fw_error);
	if (r < 0)
		return set_error(err, errlen, r, "SNP_LAUNCH_FINISH: %s", strerror(-r));
	*ret = TAKE_PTR(g);
	return 0;
}
