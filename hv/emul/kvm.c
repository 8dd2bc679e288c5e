/* The emulated KVM: fake fds, VMs of a type, guest_memfd, memory slots and attributes, vCPU
 * register state; the SNP commands live in kvm_snp.c. Errors follow what the kernel answers for
 * the same misuse (virt/kvm/kvm_main.c, guest_memfd.c, arch/x86/kvm/x86.c). */
#include <sys/mman.h>

#include "coco/util.h"
#include "hv/emul/kvm_priv.h"
#include "hv/emul/tdx_module.h"
#include "hv/kvm.h"

#define EKVM_FD_BASE (1 << 20) /* fake fds, far above what this process opens for real */
#define EKVM_VM_TYPES ((1ul << KVM_X86_DEFAULT_VM) | (1ul << KVM_X86_SNP_VM) | (1ul << KVM_X86_TDX_VM))

/* --- handles --- */

static struct ekvm_fd *fd_find(struct emul_kvm *ek, int fd)
{
	for (size_t i = 0; i < ek->n_fds; i++)
		if (ek->fds[i].fd == fd)
			return &ek->fds[i];
	return NULL;
}

static int fd_add(struct emul_kvm *ek, enum ekvm_kind kind, struct ekvm_vm *vm, void *obj)
{
	if (ek->n_fds == ek->cap_fds) {
		size_t cap = ek->cap_fds ? 2 * ek->cap_fds : 16;
		struct ekvm_fd *n = reallocarray(ek->fds, cap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		ek->fds = n;
		ek->cap_fds = cap;
	}
	if (ek->next_fd == INT32_MAX)
		return -EMFILE;
	int fd = ek->next_fd++;
	ek->fds[ek->n_fds++] = (struct ekvm_fd){.fd = fd, .kind = kind, .vm = vm, .obj = obj};
	if (vm)
		vm->refs++;
	return fd;
}

static void gmem_free(struct ekvm_gmem *g)
{
	if (!g)
		return;
	if (g->mem)
		munmap(g->mem, g->size);
	free(g->populated);
	free(g);
}

static void vm_destroy(struct emul_kvm *ek, struct ekvm_vm *vm)
{
	if (vm->prev)
		vm->prev->next = vm->next;
	else
		ek->vms = vm->next;
	if (vm->next)
		vm->next->prev = vm->prev;
	ekvm_vm_decommission(ek, vm);
	ekvm_tdx_vm_destroy(ek, vm);
	for (size_t i = 0; i < vm->n_vcpus; i++) {
		free(vm->vcpus[i]->run);
		free(vm->vcpus[i]);
	}
	for (size_t i = 0; i < vm->n_gmems; i++)
		gmem_free(vm->gmems[i]);
	free(vm->priv);
	free(vm);
}

static void vm_unref(struct emul_kvm *ek, struct ekvm_vm *vm)
{
	if (!--vm->refs)
		vm_destroy(ek, vm);
}

static int fd_close(struct emul_kvm *ek, int fd)
{
	struct ekvm_fd *f = fd_find(ek, fd);
	if (!f)
		return -EBADF;
	struct ekvm_vm *vm = f->vm;
	*f = ek->fds[--ek->n_fds];
	if (vm)
		vm_unref(ek, vm);
	return 0;
}

/* --- memory --- */

bool ekvm_has_private_mem(const struct ekvm_vm *vm)
{
	return vm->type == KVM_X86_SNP_VM || vm->type == KVM_X86_TDX_VM;
}

struct ekvm_slot *ekvm_slot_find(struct ekvm_vm *vm, uint64_t gpa, uint64_t len)
{
	for (size_t i = 0; i < EKVM_MAX_SLOTS; i++) {
		struct ekvm_slot *s = &vm->slots[i];
		if (s->used && gpa >= s->gpa && len <= s->size && gpa - s->gpa <= s->size - len)
			return s;
	}
	return NULL;
}

uint8_t *ekvm_shared_hva(struct ekvm_vm *vm, uint64_t gpa, uint64_t len)
{
	struct ekvm_slot *s = ekvm_slot_find(vm, gpa, len);
	if (!s || !s->uaddr)
		return NULL;
	return (uint8_t *)(uintptr_t)(s->uaddr + (gpa - s->gpa));
}

bool ekvm_range_private(const struct ekvm_vm *vm, uint64_t gpa, uint64_t len)
{
	uint64_t end = gpa + len;
	/* Ranges are sorted and disjoint, adjacent ones merged: one must cover it all. */
	for (size_t i = 0; i < vm->n_priv; i++)
		if (vm->priv[i].start <= gpa && end <= vm->priv[i].end)
			return true;
	return false;
}

/* Set [start, end) private or shared; keeps the list sorted, disjoint and merged. */
static int range_set(struct ekvm_vm *vm, uint64_t start, uint64_t end, bool private_)
{
	struct ekvm_range *out = calloc(vm->n_priv + 2, sizeof(*out));
	if (!out)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < vm->n_priv; i++) {
		struct ekvm_range r = vm->priv[i];
		if (r.end <= start || r.start >= end) {
			out[n++] = r;
			continue;
		}
		if (r.start < start)
			out[n++] = (struct ekvm_range){r.start, start};
		if (r.end > end)
			out[n++] = (struct ekvm_range){end, r.end};
	}
	if (private_)
		out[n++] = (struct ekvm_range){start, end};
	/* sort (insertion: the list is short) and merge */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && out[j - 1].start > out[j].start; j--) {
			struct ekvm_range t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && out[m - 1].end >= out[i].start) {
			if (out[i].end > out[m - 1].end)
				out[m - 1].end = out[i].end;
		} else
			out[m++] = out[i];
	}
	if (m > EKVM_MAX_PRIVATE_RANGES) {
		free(out);
		return -ENOSPC;
	}
	free(vm->priv);
	vm->priv = out;
	vm->n_priv = m;
	return 0;
}

static int vm_set_memory_attributes(struct ekvm_vm *vm, const struct kvm_memory_attributes *a)
{
	/* kvm_vm_ioctl_set_mem_attributes(): only supported attributes, no flags, page-aligned,
	 * non-empty, no wrap. */
	uint64_t supported = ekvm_has_private_mem(vm) ? KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
	if (a->flags || (a->attributes & ~supported))
		return -EINVAL;
	if (!a->size || (a->address | a->size) & (EKVM_PAGE - 1) || a->address + a->size < a->address)
		return -EINVAL;
	return range_set(vm, a->address, a->address + a->size,
			 a->attributes & KVM_MEMORY_ATTRIBUTE_PRIVATE);
}

static int vm_create_guest_memfd(struct emul_kvm *ek, struct ekvm_vm *vm,
				 const struct kvm_create_guest_memfd *c)
{
	if (!ekvm_has_private_mem(vm))
		return -EINVAL;
	if (c->flags || !c->size || c->size & (EKVM_PAGE - 1))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(c->reserved); i++)
		if (c->reserved[i])
			return -EINVAL;
	if (vm->n_gmems == EKVM_MAX_GMEMS)
		return -EMFILE;
	if (c->size > (1ull << 46))
		return -ENOMEM;
	struct ekvm_gmem *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->size = c->size;
	g->populated = calloc((c->size / EKVM_PAGE + 7) / 8, 1);
	/* Lazily backed: a large guest costs only the pages the launch touches. */
	g->mem = mmap(NULL, c->size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!g->populated || g->mem == MAP_FAILED) {
		if (g->mem == MAP_FAILED)
			g->mem = NULL;
		gmem_free(g);
		return -ENOMEM;
	}
	int fd = fd_add(ek, EKVM_GMEM, vm, g);
	if (fd < 0) {
		gmem_free(g);
		return fd;
	}
	vm->gmems[vm->n_gmems++] = g;
	return fd;
}

static int vm_set_memory_region2(struct emul_kvm *ek, struct ekvm_vm *vm,
				 const struct kvm_userspace_memory_region2 *m)
{
	/* kvm_set_memory_region() / check_memory_region_flags() */
	uint32_t valid = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY;
	if (ekvm_has_private_mem(vm))
		valid = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_GUEST_MEMFD; /* no read-only slots */
	if (m->flags & ~valid)
		return -EINVAL;
	if ((m->guest_phys_addr | m->memory_size | m->userspace_addr) & (EKVM_PAGE - 1))
		return -EINVAL;
	if (m->guest_phys_addr + m->memory_size < m->guest_phys_addr)
		return -EINVAL;
	if ((uint16_t)m->slot >= EKVM_MAX_SLOTS || m->slot >> 16)
		return -EINVAL;
	struct ekvm_slot *s = &vm->slots[(uint16_t)m->slot];
	if (!m->memory_size) { /* delete */
		if (!s->used)
			return -EINVAL;
		*s = (struct ekvm_slot){0};
		return 0;
	}
	if (s->used) /* moving/resizing: not for guest_memfd slots, and not emulated */
		return -EINVAL;
	for (size_t i = 0; i < EKVM_MAX_SLOTS; i++) {
		const struct ekvm_slot *o = &vm->slots[i];
		if (o->used && m->guest_phys_addr < o->gpa + o->size &&
		    o->gpa < m->guest_phys_addr + m->memory_size)
			return -EEXIST;
	}
	struct ekvm_gmem *g = NULL;
	if (m->flags & KVM_MEM_GUEST_MEMFD) {
		struct ekvm_fd *f = fd_find(ek, (int)m->guest_memfd);
		if (!f || f->kind != EKVM_GMEM || f->vm != vm)
			return -EINVAL;
		g = f->obj;
		/* kvm_gmem_bind(): aligned offset, inside the file, not bound twice */
		if (m->guest_memfd_offset & (EKVM_PAGE - 1) || m->guest_memfd_offset > g->size ||
		    m->memory_size > g->size - m->guest_memfd_offset)
			return -EINVAL;
		for (size_t i = 0; i < EKVM_MAX_SLOTS; i++) {
			const struct ekvm_slot *o = &vm->slots[i];
			if (o->used && o->gmem == g &&
			    m->guest_memfd_offset < o->gmem_off + o->size &&
			    o->gmem_off < m->guest_memfd_offset + m->memory_size)
				return -EBUSY;
		}
	}
	*s = (struct ekvm_slot){
		.used = true,
		.id = m->slot,
		.flags = m->flags,
		.gpa = m->guest_phys_addr,
		.size = m->memory_size,
		.uaddr = m->userspace_addr,
		.gmem = g,
		.gmem_off = m->guest_memfd_offset,
	};
	return 0;
}

int emul_kvm_read_private(struct emul_kvm *ek, int vm_fd, uint64_t gpa, void *buf, size_t len)
{
	pthread_mutex_lock(&ek->lock);
	int r = -EBADF;
	struct ekvm_fd *f = fd_find(ek, vm_fd);
	if (f && f->kind == EKVM_VM) {
		struct ekvm_slot *s = ekvm_slot_find(f->vm, gpa, len);
		r = -EFAULT;
		if (s && s->gmem) {
			memcpy(buf, s->gmem->mem + s->gmem_off + (gpa - s->gpa), len);
			r = 0;
		}
	}
	pthread_mutex_unlock(&ek->lock);
	return r;
}

/* --- vCPUs --- */

/* KVM's vCPU reset state (kvm_vcpu_reset(), svm init_vmcb()): real mode at the reset vector. */
static void vcpu_reset(struct ekvm_vcpu *v)
{
	struct kvm_segment data = {.limit = 0xffff, .type = 3, .present = 1, .s = 1};
	v->regs = (struct kvm_regs){.rip = 0xfff0, .rflags = 0x2, .rdx = 0x600};
	v->sregs = (struct kvm_sregs){
		.cs = {.base = 0xffff0000, .limit = 0xffff, .selector = 0xf000, .type = 0xb,
		       .present = 1, .s = 1},
		.ds = data, .es = data, .fs = data, .gs = data, .ss = data,
		.tr = {.limit = 0xffff, .type = 0xb, .present = 1},
		.ldt = {.limit = 0xffff, .type = 2, .present = 1},
		.gdt = {.limit = 0xffff},
		.idt = {.limit = 0xffff},
		.cr0 = 0x60000010,
		.apic_base = 0xfee00000 | (1 << 11),
	};
	v->fpu = (struct kvm_fpu){.fcw = 0x37f, .mxcsr = 0x1f80};
	v->xcr0 = 1;
	v->dr6 = 0xffff0ff0; /* DR6_ACTIVE_LOW */
	v->dr7 = 0x400;	     /* DR7_FIXED_1 */
	v->pat = 0x0007040600070406ull;
}

static int vm_create_vcpu(struct emul_kvm *ek, struct ekvm_vm *vm, unsigned long id)
{
	if (id >= EKVM_MAX_VCPU_ID || vm->n_vcpus == EKVM_MAX_VCPUS)
		return -EINVAL;
	for (size_t i = 0; i < vm->n_vcpus; i++)
		if (vm->vcpus[i]->id == id)
			return -EEXIST;
	if (vm->sev == EKVM_SEV_FINISHED)
		return -EINVAL;
	/* tdx_vcpu_create(): only between KVM_TDX_INIT_VM and KVM_TDX_FINALIZE_VM */
	if (vm->type == KVM_X86_TDX_VM && vm->td_state != EKVM_TD_INITIALIZED)
		return -EIO;
	struct ekvm_vcpu *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->run = calloc(1, EKVM_RUN_MMAP_SIZE);
	if (!v->run) {
		free(v);
		return -ENOMEM;
	}
	v->id = id;
	v->vm = vm;
	vcpu_reset(v);
	if (id == 0)
		v->sregs.apic_base |= 1 << 8; /* BSP */
	int fd = fd_add(ek, EKVM_VCPU, vm, v);
	if (fd < 0) {
		free(v->run);
		free(v);
		return fd;
	}
	vm->vcpus[vm->n_vcpus++] = v;
	return fd;
}

static int vcpu_set_xcrs(struct ekvm_vcpu *v, const struct kvm_xcrs *x)
{
	/* kvm_vcpu_ioctl_x86_set_xcrs() / __kvm_set_xcr(): XCR0 only, x87 always on, AVX needs
	 * SSE; the supported set here is x87|SSE|AVX. */
	if (x->flags || x->nr_xcrs > KVM_MAX_XCRS)
		return -EINVAL;
	uint64_t xcr0 = v->xcr0;
	for (uint32_t i = 0; i < x->nr_xcrs; i++) {
		if (x->xcrs[i].xcr != 0)
			return -EINVAL;
		uint64_t val = x->xcrs[i].value;
		if (!(val & 1) || (val & ~7ull) || ((val & 4) && !(val & 2)))
			return -EINVAL;
		xcr0 = val;
	}
	v->xcr0 = xcr0;
	return 0;
}

static int vcpu_ioctl(struct emul_kvm *ek, struct ekvm_vcpu *v, unsigned long req, void *p)
{
	/* Register state of an SEV-ES/SNP vCPU is sealed once its VMSA is measured. */
	bool sealed = v->vmsa_done;
	switch (req) {
	case KVM_RUN:
		return ekvm_vcpu_run(ek, v);
	case KVM_GET_REGS:
		if (sealed)
			return -EINVAL;
		memcpy(p, &v->regs, sizeof(v->regs));
		return 0;
	case KVM_SET_REGS:
		if (sealed)
			return -EINVAL;
		memcpy(&v->regs, p, sizeof(v->regs));
		return 0;
	case KVM_GET_SREGS:
		if (sealed)
			return -EINVAL;
		memcpy(p, &v->sregs, sizeof(v->sregs));
		return 0;
	case KVM_SET_SREGS: {
		struct kvm_sregs s;
		memcpy(&s, p, sizeof(s));
		/* kvm_is_valid_sregs(): CR0 bits 63:32 reserved; PG needs PE */
		if (s.cr0 >> 32 || ((s.cr0 & (1u << 31)) && !(s.cr0 & 1)))
			return -EINVAL;
		if (sealed)
			return -EINVAL;
		v->sregs = s;
		return 0;
	}
	case KVM_SET_FPU:
		if (sealed)
			return -EINVAL;
		memcpy(&v->fpu, p, sizeof(v->fpu));
		return 0;
	case KVM_SET_XCRS: {
		if (sealed)
			return -EINVAL;
		struct kvm_xcrs x;
		memcpy(&x, p, sizeof(x));
		return vcpu_set_xcrs(v, &x);
	}
	case KVM_MEMORY_ENCRYPT_OP:
		/* TDX has vCPU-scoped commands (INIT_VCPU, INIT_MEM_REGION); SVM has none */
		if (v->vm->type == KVM_X86_TDX_VM) {
			struct kvm_tdx_cmd cmd;
			memcpy(&cmd, p, sizeof(cmd));
			int r = ekvm_tdx_op(ek, v->vm, v, &cmd);
			memcpy(p, &cmd, sizeof(cmd));
			return r;
		}
		return -ENOTTY;
	default:
		return -ENOTTY;
	}
}

/* --- VMs and the system fd --- */

static int check_extension(const struct ekvm_vm *vm, long cap)
{
	switch (cap) {
	case KVM_CAP_VM_TYPES:
		return (int)EKVM_VM_TYPES;
	case KVM_CAP_USER_MEMORY2:
	case KVM_CAP_GUEST_MEMFD:
		return 1;
	case KVM_CAP_MEMORY_ATTRIBUTES:
		return !vm || ekvm_has_private_mem(vm) ? (int)KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
	default:
		return 0;
	}
}

static int vm_ioctl(struct emul_kvm *ek, struct ekvm_vm *vm, unsigned long req, unsigned long arg)
{
	void *p = (void *)(uintptr_t)arg;
	if (req != KVM_CREATE_VCPU && req != KVM_CHECK_EXTENSION && !p)
		return -EFAULT;
	switch (req) {
	case KVM_CHECK_EXTENSION:
		return check_extension(vm, (long)arg);
	case KVM_CREATE_VCPU:
		return vm_create_vcpu(ek, vm, arg);
	case KVM_CREATE_GUEST_MEMFD: {
		struct kvm_create_guest_memfd c;
		memcpy(&c, p, sizeof(c));
		return vm_create_guest_memfd(ek, vm, &c);
	}
	case KVM_SET_USER_MEMORY_REGION2: {
		struct kvm_userspace_memory_region2 m;
		memcpy(&m, p, sizeof(m));
		return vm_set_memory_region2(ek, vm, &m);
	}
	case KVM_SET_USER_MEMORY_REGION: {
		struct kvm_userspace_memory_region m1;
		memcpy(&m1, p, sizeof(m1));
		if (m1.flags & KVM_MEM_GUEST_MEMFD)
			return -EINVAL;
		struct kvm_userspace_memory_region2 m = {
			.slot = m1.slot,
			.flags = m1.flags,
			.guest_phys_addr = m1.guest_phys_addr,
			.memory_size = m1.memory_size,
			.userspace_addr = m1.userspace_addr,
		};
		return vm_set_memory_region2(ek, vm, &m);
	}
	case KVM_SET_MEMORY_ATTRIBUTES: {
		struct kvm_memory_attributes a;
		memcpy(&a, p, sizeof(a));
		return vm_set_memory_attributes(vm, &a);
	}
	case KVM_MEMORY_ENCRYPT_OP:
		if (vm->type == KVM_X86_SNP_VM) {
			struct kvm_sev_cmd cmd;
			memcpy(&cmd, p, sizeof(cmd));
			int r = ekvm_sev_op(ek, vm, &cmd);
			memcpy(p, &cmd, sizeof(cmd)); /* error is copied back */
			return r;
		}
		if (vm->type == KVM_X86_TDX_VM) {
			struct kvm_tdx_cmd cmd;
			memcpy(&cmd, p, sizeof(cmd));
			int r = ekvm_tdx_op(ek, vm, NULL, &cmd);
			memcpy(p, &cmd, sizeof(cmd)); /* hw_error is copied back */
			return r;
		}
		return -ENOTTY; /* default VMs have no encryption ops */
	default:
		return -ENOTTY;
	}
}

static int vm_create(struct emul_kvm *ek, unsigned long type)
{
	if (type >= 64 || !(EKVM_VM_TYPES & (1ul << type)))
		return -EINVAL;
	struct ekvm_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->type = type;
	int fd = fd_add(ek, EKVM_VM, vm, vm);
	if (fd < 0) {
		free(vm);
		return fd;
	}
	vm->next = ek->vms;
	if (ek->vms)
		ek->vms->prev = vm;
	ek->vms = vm;
	return fd;
}

static int system_ioctl(struct emul_kvm *ek, unsigned long req, unsigned long arg)
{
	switch (req) {
	case KVM_GET_API_VERSION:
		return KVM_API_VERSION;
	case KVM_CREATE_VM:
		return vm_create(ek, arg);
	case KVM_CHECK_EXTENSION:
		return check_extension(NULL, (long)arg);
	case KVM_GET_VCPU_MMAP_SIZE:
		return EKVM_RUN_MMAP_SIZE;
	case KVM_GET_DEVICE_ATTR: {
		struct kvm_device_attr a;
		if (!arg)
			return -EFAULT;
		memcpy(&a, (void *)(uintptr_t)arg, sizeof(a));
		uint64_t v;
		if (a.group != KVM_X86_GRP_SEV)
			return -ENXIO;
		if (a.attr == KVM_X86_SEV_VMSA_FEATURES)
			v = EKVM_VMSA_FEATURES | EKVM_VMSA_FEATURES_SNP;
		else if (a.attr == KVM_X86_SEV_SNP_REQ_CERTS)
			v = 1;
		else
			return -ENXIO;
		if (!a.addr)
			return -EFAULT;
		memcpy((void *)(uintptr_t)a.addr, &v, sizeof(v));
		return 0;
	}
	default:
		return -ENOTTY;
	}
}

/* --- ops --- */

static int ops_open_system(void *ctx, int *ret_fd)
{
	struct emul_kvm *ek = ctx;
	pthread_mutex_lock(&ek->lock);
	int fd = fd_add(ek, EKVM_SYSTEM, NULL, NULL);
	pthread_mutex_unlock(&ek->lock);
	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return 0;
}

static int ops_ioctl(void *ctx, int fd, unsigned long req, unsigned long arg)
{
	struct emul_kvm *ek = ctx;
	pthread_mutex_lock(&ek->lock);
	int r;
	struct ekvm_fd *f = fd_find(ek, fd);
	if (!f)
		r = -EBADF;
	else if (f->kind == EKVM_SYSTEM)
		r = system_ioctl(ek, req, arg);
	else if (f->kind == EKVM_VM)
		r = vm_ioctl(ek, f->vm, req, arg);
	else if (f->kind == EKVM_VCPU)
		r = req == KVM_RUN || arg ? vcpu_ioctl(ek, f->obj, req, (void *)(uintptr_t)arg)
					  : -EFAULT;
	else
		r = -ENOTTY; /* guest_memfd has no ioctls */
	pthread_mutex_unlock(&ek->lock);
	return r;
}

static int ops_mmap(void *ctx, int vcpu_fd, size_t size, void **ret)
{
	struct emul_kvm *ek = ctx;
	pthread_mutex_lock(&ek->lock);
	int r = -EBADF;
	struct ekvm_fd *f = fd_find(ek, vcpu_fd);
	if (f && f->kind != EKVM_VCPU)
		r = -ENODEV;
	else if (f && (size == 0 || size > EKVM_RUN_MMAP_SIZE))
		r = -EINVAL;
	else if (f) {
		struct ekvm_vcpu *v = f->obj;
		v->vm->refs++; /* a mapping keeps the vCPU, as in the kernel */
		*ret = v->run;
		r = 0;
	}
	pthread_mutex_unlock(&ek->lock);
	return r;
}

static void ops_munmap(void *ctx, void *p, size_t size)
{
	struct emul_kvm *ek = ctx;
	pthread_mutex_lock(&ek->lock);
	for (struct ekvm_vm *vm = ek->vms; vm; vm = vm->next)
		for (size_t j = 0; j < vm->n_vcpus; j++)
			if ((void *)vm->vcpus[j]->run == p) {
				vm_unref(ek, vm);
				goto out;
			}
out:
	pthread_mutex_unlock(&ek->lock);
}

static int ops_close(void *ctx, int fd)
{
	struct emul_kvm *ek = ctx;
	pthread_mutex_lock(&ek->lock);
	int r = fd_close(ek, fd);
	pthread_mutex_unlock(&ek->lock);
	return r;
}

static int ops_tdx_report(void *ctx, int vm_fd, const uint8_t report_data[64], uint8_t *ret)
{
	struct emul_kvm *ek = ctx;
	uint32_t td;
	int r = emul_kvm_tdx_handle(ek, vm_fd, &td);
	if (r == 0 && !ek->tdx)
		r = -ENODEV;
	return r < 0 ? r : emul_tdx_td_report(ek->tdx, td, report_data, ret);
}

static const struct hv_kvm_ops emul_ops = {
	.name = "emulated",
	.open_system = ops_open_system,
	.ioctl = ops_ioctl,
	.mmap = ops_mmap,
	.munmap = ops_munmap,
	.close = ops_close,
	.free = NULL, /* the emul_kvm belongs to its creator */
	.tdx_report = ops_tdx_report,
};

int hv_kvm_open_emulated(struct emul_kvm *ek, struct hv_kvm **ret)
{
	return hv_kvm_new(&emul_ops, ek, ret);
}

int emul_kvm_new(const struct emul_kvm_snp_fw *fw, struct emul_kvm **ret)
{
	struct emul_kvm *ek = calloc(1, sizeof(*ek));
	if (!ek)
		return -ENOMEM;
	pthread_mutex_init(&ek->lock, NULL);
	if (fw) {
		ek->fw = *fw;
		ek->has_fw = true;
	}
	ek->next_fd = EKVM_FD_BASE;
	*ret = ek;
	return 0;
}

void emul_kvm_free(struct emul_kvm *ek)
{
	if (!ek)
		return;
	/* Close what the user left open; VMs go with their last handle. */
	while (ek->n_fds)
		fd_close(ek, ek->fds[ek->n_fds - 1].fd);
	while (ek->vms) /* still mapped: the mappings die with the emulator */
		vm_destroy(ek, ek->vms);
	free(ek->fds);
	pthread_mutex_destroy(&ek->lock);
	free(ek);
}

void emul_kvm_set_tdx_module(struct emul_kvm *ek, struct emul_tdx_module *m)
{
	pthread_mutex_lock(&ek->lock);
	ek->tdx = m;
	pthread_mutex_unlock(&ek->lock);
}

int emul_kvm_tdx_handle(struct emul_kvm *ek, int vm_fd, uint32_t *ret_td)
{
	pthread_mutex_lock(&ek->lock);
	int r = -EBADF;
	struct ekvm_fd *f = fd_find(ek, vm_fd);
	if (f && (f->kind != EKVM_VM || f->vm->type != KVM_X86_TDX_VM))
		r = -EINVAL;
	else if (f && f->vm->td_state == EKVM_TD_NONE)
		r = -ENOENT;
	else if (f) {
		*ret_td = f->vm->td;
		r = 0;
	}
	pthread_mutex_unlock(&ek->lock);
	return r;
}

int emul_kvm_snp_handle(struct emul_kvm *ek, int vm_fd, uint32_t *ret_handle)
{
	pthread_mutex_lock(&ek->lock);
	int r = -EBADF;
	struct ekvm_fd *f = fd_find(ek, vm_fd);
	if (f && f->kind != EKVM_VM)
		r = -EINVAL;
	else if (f && (f->vm->sev != EKVM_SEV_STARTED && f->vm->sev != EKVM_SEV_FINISHED))
		r = -ENOENT;
	else if (f) {
		*ret_handle = f->vm->handle;
		r = 0;
	}
	pthread_mutex_unlock(&ek->lock);
	return r;
}

int emul_kvm_vmsa(struct emul_kvm *ek, int vcpu_fd, uint8_t ret_page[4096])
{
	pthread_mutex_lock(&ek->lock);
	int r = -EBADF;
	struct ekvm_fd *f = fd_find(ek, vcpu_fd);
	if (f && f->kind != EKVM_VCPU)
		r = -EINVAL;
	else if (f && !((struct ekvm_vcpu *)f->obj)->vmsa_done)
		r = -ENOENT;
	else if (f) {
		memcpy(ret_page, ((struct ekvm_vcpu *)f->obj)->vmsa, 4096);
		r = 0;
	}
	pthread_mutex_unlock(&ek->lock);
	return r;
}
