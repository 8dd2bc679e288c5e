/* The TD launch sequence as QEMU performs it (target/i386/kvm/tdx.c: tdx_pre_create_vcpu,
 * tdx_finalize_vm), through hv/kvm.h; see hv/tdx_launch.h. */
#include <sys/mman.h>

#include "coco/util.h"
#include "hv/tdx_launch.h"

#define PAGE 4096ull
#define MAX_EXTENTS (HV_TDX_MAX_REGIONS + 1)

struct extent {
	uint64_t gpa, size;
	uint8_t *hva; /* shared backing */
	int gmem_fd;
};

struct hv_tdx_guest {
	struct hv_kvm *k;
	int sys_fd, vm_fd;
	struct extent mem[MAX_EXTENTS];
	unsigned n_mem;
	unsigned n_vcpus;
	int vcpu_fds[HV_TDX_MAX_VCPUS];
};

void hv_tdx_guest_free(struct hv_tdx_guest *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->n_vcpus; i++)
		hv_kvm_close(g->k, g->vcpu_fds[i]);
	for (unsigned i = 0; i < g->n_mem; i++) {
		hv_kvm_close(g->k, g->mem[i].gmem_fd);
		munmap(g->mem[i].hva, g->mem[i].size);
	}
	hv_kvm_close(g->k, g->vm_fd);
	hv_kvm_close(g->k, g->sys_fd);
	free(g);
}

static void guest_freep(struct hv_tdx_guest **g)
{
	hv_tdx_guest_free(*g);
}

int hv_tdx_guest_vm_fd(const struct hv_tdx_guest *g)
{
	return g->vm_fd;
}

unsigned hv_tdx_guest_vcpus(const struct hv_tdx_guest *g)
{
	return g->n_vcpus;
}

static int check_input(const struct hv_tdx_launch *in, char *err, size_t errlen)
{
	if (!in->n_regions || in->n_regions > HV_TDX_MAX_REGIONS)
		return set_error(err, errlen, -EINVAL, "a TD needs 1..%d memory regions",
				 HV_TDX_MAX_REGIONS);
	if (!in->vcpus || in->vcpus > HV_TDX_MAX_VCPUS)
		return set_error(err, errlen, -EINVAL, "vCPU count must be 1..%d", HV_TDX_MAX_VCPUS);
	if (in->ram_size & (PAGE - 1))
		return set_error(err, errlen, -EINVAL, "RAM size is not a multiple of 4 KiB");
	for (size_t i = 0; i < in->n_regions; i++) {
		const struct hv_tdx_region *r = &in->regions[i];
		if (r->gpa & (PAGE - 1) || !r->nr_pages || !r->src || r->nr_pages > (1ull << 40) ||
		    r->gpa + r->nr_pages * PAGE <= r->gpa)
			return set_error(err, errlen, -EINVAL,
					 "region %zu (GPA 0x%llx, %llu pages) is not page-aligned, "
					 "empty or wraps", i, (unsigned long long)r->gpa,
					 (unsigned long long)r->nr_pages);
		uint64_t end = r->gpa + r->nr_pages * PAGE;
		if (r->gpa < in->ram_size && end > in->ram_size)
			return set_error(err, errlen, -EINVAL, "region %zu straddles the end of RAM", i);
		for (size_t j = 0; j < i; j++) {
			const struct hv_tdx_region *o = &in->regions[j];
			if (r->gpa < o->gpa + o->nr_pages * PAGE && o->gpa < end)
				return set_error(err, errlen, -EINVAL, "regions %zu and %zu overlap", j,
						 i);
		}
	}
	return 0;
}

/* Guest memory: RAM at 0, and each run of adjacent regions above RAM as one more slot. */
static int plan_memory(const struct hv_tdx_launch *in, struct extent *ret, unsigned *ret_n)
{
	unsigned n = 0;
	if (in->ram_size)
		ret[n++] = (struct extent){.gpa = 0, .size = in->ram_size};
	struct extent out[HV_TDX_MAX_REGIONS];
	unsigned m = 0;
	for (size_t i = 0; i < in->n_regions; i++)
		if (in->regions[i].gpa >= in->ram_size)
			out[m++] = (struct extent){.gpa = in->regions[i].gpa,
						   .size = in->regions[i].nr_pages * PAGE};
	for (unsigned i = 1; i < m; i++) /* sort by GPA (few entries) */
		for (unsigned j = i; j > 0 && out[j - 1].gpa > out[j].gpa; j--) {
			struct extent t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	for (unsigned i = 0; i < m; i++) {
		struct extent *last = n ? &ret[n - 1] : NULL;
		if (last && last->gpa + last->size == out[i].gpa && (last->gpa || !in->ram_size))
			last->size += out[i].size;
		else
			ret[n++] = out[i];
	}
	*ret_n = n;
	return 0;
}

static int add_memory(struct hv_tdx_guest *g, const struct extent *e)
{
	if (e->size > SIZE_MAX)
		return -ENOMEM;
	void *hva = mmap(NULL, e->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hva == MAP_FAILED)
		return -errno;
	int gmem_fd = -1;
	int r = hv_kvm_create_guest_memfd(g->k, g->vm_fd, e->size, 0, &gmem_fd);
	if (r == 0) {
		struct hv_kvm_memslot s = {
			.slot = g->n_mem,
			.flags = KVM_MEM_GUEST_MEMFD,
			.gpa = e->gpa,
			.size = e->size,
			.uaddr = (uint64_t)(uintptr_t)hva,
			.gmem_fd = gmem_fd,
		};
		r = hv_kvm_set_memory_region2(g->k, g->vm_fd, &s);
	}
	if (r == 0) /* QEMU converts TD memory to private before TDH.MEM.PAGE.ADD */
		r = hv_kvm_set_memory_private(g->k, g->vm_fd, e->gpa, e->size, true);
	if (r < 0) {
		hv_kvm_close(g->k, gmem_fd);
		munmap(hva, e->size);
		return r;
	}
	g->mem[g->n_mem++] = (struct extent){e->gpa, e->size, hva, gmem_fd};
	return 0;
}

/* The shared mapping of [gpa, gpa + len): plan_memory() made one extent cover each region. */
static uint8_t *shared_hva(struct hv_tdx_guest *g, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < g->n_mem; i++)
		if (gpa >= g->mem[i].gpa && gpa + len <= g->mem[i].gpa + g->mem[i].size)
			return g->mem[i].hva + (gpa - g->mem[i].gpa);
	abort(); /* unreachable: every region lies in an extent */
}

static int init_vm(struct hv_tdx_guest *g, const struct hv_tdx_launch *in,
		   uint64_t *ret_hw_error, char *err, size_t errlen)
{
	_cleanup_free_ struct kvm_tdx_capabilities *caps = calloc(1, sizeof(*caps));
	_cleanup_free_ struct kvm_tdx_init_vm *init = calloc(1, sizeof(*init));
	if (!caps || !init)
		return -ENOMEM;
	int r = hv_kvm_tdx_capabilities(g->k, g->vm_fd, caps, ret_hw_error);
	if (r < 0)
		return set_error(err, errlen, r, "KVM_TDX_CAPABILITIES: %s", strerror(-r));
	uint64_t xfam = in->xfam ? in->xfam : HV_TDX_XFAM_DEFAULT;
	if (in->attributes & ~caps->supported_attrs)
		return set_error(err, errlen, -EINVAL,
				 "TD attributes 0x%llx outside the supported 0x%llx",
				 (unsigned long long)in->attributes,
				 (unsigned long long)caps->supported_attrs);
	if (xfam & ~caps->supported_xfam)
		return set_error(err, errlen, -EINVAL, "XFAM 0x%llx outside the supported 0x%llx",
				 (unsigned long long)xfam, (unsigned long long)caps->supported_xfam);
	init->attributes = in->attributes;
	init->xfam = xfam;
	if (in->mrconfigid)
		memcpy(init->mrconfigid, in->mrconfigid, 48);
	if (in->mrowner)
		memcpy(init->mrowner, in->mrowner, 48);
	if (in->mrownerconfig)
		memcpy(init->mrownerconfig, in->mrownerconfig, 48);
	r = hv_kvm_tdx_init_vm(g->k, g->vm_fd, init, ret_hw_error);
	if (r < 0)
		return set_error(err, errlen, r, "KVM_TDX_INIT_VM: %s", strerror(-r));
	return 0;
}

static int create_vcpus(struct hv_tdx_guest *g, const struct hv_tdx_launch *in,
			uint64_t *ret_hw_error, char *err, size_t errlen)
{
	for (unsigned i = 0; i < in->vcpus; i++) {
		int fd;
		int r = hv_kvm_create_vcpu(g->k, g->vm_fd, i, &fd);
		if (r < 0)
			return set_error(err, errlen, r, "vCPU %u: %s", i, strerror(-r));
		g->vcpu_fds[g->n_vcpus++] = fd;
		r = hv_kvm_tdx_init_vcpu(g->k, fd, in->hob_gpa, ret_hw_error);
		if (r < 0)
			return set_error(err, errlen, r, "KVM_TDX_INIT_VCPU %u: %s", i, strerror(-r));
	}
	return 0;
}

int hv_tdx_launch(struct hv_kvm *k, const struct hv_tdx_launch *in, struct hv_tdx_guest **ret,
		  uint64_t *ret_hw_error, char *err, size_t errlen)
{
	int r = check_input(in, err, errlen);
	if (r < 0)
		return r;
	_cleanup_(guest_freep) struct hv_tdx_guest *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->k = k;
	g->sys_fd = g->vm_fd = -1;
	r = hv_kvm_system_open(k, &g->sys_fd);
	if (r == 0)
		r = hv_kvm_create_vm(k, g->sys_fd, KVM_X86_TDX_VM, &g->vm_fd);
	if (r < 0)
		return set_error(err, errlen, r, "TDX VM creation: %s", strerror(-r));
	r = init_vm(g, in, ret_hw_error, err, errlen);
	if (r < 0)
		return r;
	struct extent plan[MAX_EXTENTS];
	unsigned n_plan = 0;
	plan_memory(in, plan, &n_plan);
	for (unsigned i = 0; i < n_plan; i++) {
		r = add_memory(g, &plan[i]);
		if (r < 0)
			return set_error(err, errlen, r, "guest memory at 0x%llx: %s",
					 (unsigned long long)plan[i].gpa, strerror(-r));
	}
	r = create_vcpus(g, in, ret_hw_error, err, errlen);
	if (r < 0)
		return r;
	/* KVM_TDX_INIT_MEM_REGION is a vCPU ioctl (Linux 6.16); QEMU uses the first vCPU, with
	 * the image copied into the region's shared pages first (a page-aligned source). */
	for (size_t i = 0; i < in->n_regions; i++) {
		const struct hv_tdx_region *reg = &in->regions[i];
		uint8_t *src = shared_hva(g, reg->gpa, reg->nr_pages * PAGE);
		memcpy(src, reg->src, reg->nr_pages * PAGE);
		r = hv_kvm_tdx_init_mem_region(k, g->vcpu_fds[0], src, reg->gpa, reg->nr_pages,
					       reg->measure, ret_hw_error);
		if (r < 0)
			return set_error(err, errlen, r, "KVM_TDX_INIT_MEM_REGION of region %zu "
					 "(GPA 0x%llx): %s", i, (unsigned long long)reg->gpa,
					 strerror(-r));
	}
	r = hv_kvm_tdx_finalize_vm(k, g->vm_fd, ret_hw_error);
	if (r < 0)
		return set_error(err, errlen, r, "KVM_TDX_FINALIZE_VM: %s", strerror(-r));
	*ret = TAKE_PTR(g);
	return 0;
}

int hv_tdx_guest_report(struct hv_tdx_guest *g, const uint8_t report_data[64], uint8_t *ret)
{
	if (!g->k->ops->tdx_report)
		return -EOPNOTSUPP;
	return g->k->ops->tdx_report(g->k->ctx, g->vm_fd, report_data, ret);
}

int hv_tdx_guest_mrtd(struct hv_tdx_guest *g, uint8_t ret[48])
{
	uint8_t rd[64] = {0}, rep[HV_TDREPORT_SIZE];
	int r = hv_tdx_guest_report(g, rd, rep);
	if (r == 0)
		memcpy(ret, rep + HV_TDREPORT_MRTD_OFF, 48);
	return r;
}
