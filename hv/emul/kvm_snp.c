/* The emulated KVM's SEV-SNP side: KVM_MEMORY_ENCRYPT_OP on an SNP VM (arch/x86/kvm/svm/sev.c:
 * sev_mem_enc_ioctl and the snp_* handlers) and the Extended Guest Request path with
 * KVM_EXIT_SNP_REQ_CERTS (Documentation/virt/kvm/api.rst, Linux 7.0). The firmware commands go
 * to emul_kvm_snp_fw. */
#include "coco/util.h"
#include "hv/emul/kvm_priv.h"

#define SNP_POLICY_RSVD_MBO (1ull << 17) /* SNP ABI: GUEST_POLICY bit 17 must be one */
#define SNP_POLICY_VALID ((1ull << 26) - 1)
#define SNP_VMSA_GPA 0xfffffffff000ull /* the RMP's (u64)-1, page-aligned, 52 bits */
#define GHCB_VERSION_MAX 2
/* SW_EXITINFO2 upper half (GHCB spec, SNP Extended Guest Request; KVM's generic error). */
#define SNP_GUEST_VMM_ERR(e) ((uint64_t)(e) << 32)
#define SNP_GUEST_VMM_ERR_INVALID_LEN 1
#define SNP_GUEST_VMM_ERR_BUSY 2
#define SNP_GUEST_VMM_ERR_GENERIC 0xffffffffu

static void *user_ptr(uint64_t uaddr)
{
	return (void *)(uintptr_t)uaddr;
}

static int fw_refused(struct kvm_sev_cmd *cmd, uint32_t status)
{
	cmd->error = status;
	return -EIO;
}

static int snp_init2(struct ekvm_vm *vm, struct kvm_sev_cmd *cmd)
{
	/* sev_guest_init2() / __sev_guest_init() */
	if (vm->sev != EKVM_SEV_NONE || vm->n_vcpus)
		return -EINVAL;
	if (!cmd->data)
		return -EFAULT;
	struct kvm_sev_init in;
	memcpy(&in, user_ptr(cmd->data), sizeof(in));
	if (in.flags || in.pad1)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(in.pad2); i++)
		if (in.pad2[i])
			return -EINVAL;
	if (in.vmsa_features & ~(EKVM_VMSA_FEATURES | EKVM_VMSA_FEATURES_SNP))
		return -EINVAL;
	if (!in.ghcb_version)
		in.ghcb_version = GHCB_VERSION_MAX;
	if (in.ghcb_version < 2 || in.ghcb_version > GHCB_VERSION_MAX)
		return -EINVAL;
	vm->vmsa_features = in.vmsa_features | 1; /* SVM_SEV_FEAT_SNP_ACTIVE for SNP VMs */
	vm->ghcb_version = in.ghcb_version;
	vm->sev = EKVM_SEV_INIT;
	return 0;
}

static int snp_launch_start(struct emul_kvm *ek, struct ekvm_vm *vm, struct kvm_sev_cmd *cmd)
{
	if (vm->sev == EKVM_SEV_NONE)
		return -ENOTTY; /* not an SNP guest until INIT2 */
	if (vm->sev != EKVM_SEV_INIT)
		return -EINVAL; /* snp_context exists already */
	if (!cmd->data)
		return -EFAULT;
	struct kvm_sev_snp_launch_start in;
	memcpy(&in, user_ptr(cmd->data), sizeof(in));
	if (in.flags)
		return -EINVAL;
	if (in.policy & ~SNP_POLICY_VALID || !(in.policy & SNP_POLICY_RSVD_MBO))
		return -EINVAL;
	if (!ek->has_fw)
		return -ENODEV;
	uint32_t handle = 0, fw_error = 0;
	int r = ek->fw.launch_start(ek->fw.ctx, in.policy, in.gosvw, &handle, &fw_error);
	if (r < 0) {
		cmd->error = fw_error;
		return r;
	}
	vm->handle = handle;
	vm->sev = EKVM_SEV_STARTED;
	return 0;
}

static bool snp_page_type_valid(uint8_t t)
{
	return t == KVM_SEV_SNP_PAGE_TYPE_NORMAL || t == KVM_SEV_SNP_PAGE_TYPE_ZERO ||
	       t == KVM_SEV_SNP_PAGE_TYPE_UNMEASURED || t == KVM_SEV_SNP_PAGE_TYPE_SECRETS ||
	       t == KVM_SEV_SNP_PAGE_TYPE_CPUID;
}

static int snp_launch_update(struct emul_kvm *ek, struct ekvm_vm *vm, struct kvm_sev_cmd *cmd)
{
	if (vm->sev == EKVM_SEV_NONE)
		return -ENOTTY;
	if (vm->sev == EKVM_SEV_INIT)
		return -EINVAL; /* no snp_context before LAUNCH_START */
	if (vm->sev == EKVM_SEV_FINISHED)
		return fw_refused(cmd, EKVM_FW_INVALID_GUEST_STATE); /* the guest is RUNNING */
	if (!cmd->data)
		return -EFAULT;
	struct kvm_sev_snp_launch_update u;
	memcpy(&u, user_ptr(cmd->data), sizeof(u));
	/* snp_launch_update(): flags/padding zero, a known type, a whole number of pages,
	 * a page-aligned source except for ZERO pages. */
	if (u.flags || u.pad0 || u.pad1 || u.pad2[0] || u.pad2[1] || u.pad2[2] || u.pad2[3])
		return -EINVAL;
	if (!snp_page_type_valid(u.type) || !u.len || u.len & (EKVM_PAGE - 1))
		return -EINVAL;
	if (u.gfn_start > (UINT64_MAX >> 12) || u.len > UINT64_MAX - (u.gfn_start << 12))
		return -EINVAL;
	bool zero = u.type == KVM_SEV_SNP_PAGE_TYPE_ZERO;
	if (!zero && (u.uaddr & (EKVM_PAGE - 1) || !u.uaddr))
		return u.uaddr ? -EINVAL : -EFAULT;
	uint64_t gpa = u.gfn_start << 12;
	/* kvm_gmem_populate(): one guest_memfd-backed slot, all private, none populated yet */
	struct ekvm_slot *s = ekvm_slot_find(vm, gpa, u.len);
	if (!s || !s->gmem)
		return -EINVAL;
	if (!ekvm_range_private(vm, gpa, u.len))
		return -EINVAL;
	uint64_t first = (s->gmem_off + (gpa - s->gpa)) / EKVM_PAGE;
	uint64_t n = u.len / EKVM_PAGE;
	for (uint64_t i = 0; i < n; i++)
		if (s->gmem->populated[(first + i) / 8] & (1u << ((first + i) % 8)))
			return -EEXIST;
	if (!ek->has_fw)
		return -ENODEV;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t *dst = s->gmem->mem + (first + i) * EKVM_PAGE;
		const uint8_t *src = zero ? NULL : (const uint8_t *)user_ptr(u.uaddr) + i * EKVM_PAGE;
		/* The firmware zeroes ZERO pages and fills SECRETS; the others are copied in. */
		if (src && u.type != KVM_SEV_SNP_PAGE_TYPE_SECRETS)
			memcpy(dst, src, EKVM_PAGE);
		else
			memset(dst, 0, EKVM_PAGE);
		bool contents = u.type == KVM_SEV_SNP_PAGE_TYPE_NORMAL ||
				u.type == KVM_SEV_SNP_PAGE_TYPE_CPUID;
		uint32_t fw_error = 0;
		int r = ek->fw.launch_update(ek->fw.ctx, vm->handle, gpa + i * EKVM_PAGE, u.type,
					     contents ? dst : NULL, &fw_error);
		if (r < 0) {
			cmd->error = fw_error;
			/* report the progress made so far, as KVM does */
			u.gfn_start += i;
			u.uaddr = zero ? u.uaddr : u.uaddr + i * EKVM_PAGE;
			u.len -= i * EKVM_PAGE;
			memcpy(user_ptr(cmd->data), &u, sizeof(u));
			return r;
		}
		s->gmem->populated[(first + i) / 8] |= (uint8_t)(1u << ((first + i) % 8));
	}
	/* Linux api: the struct describes what is left: nothing. */
	u.gfn_start += n;
	if (!zero)
		u.uaddr += u.len;
	u.len = 0;
	memcpy(user_ptr(cmd->data), &u, sizeof(u));
	return 0;
}

static int snp_launch_finish(struct emul_kvm *ek, struct ekvm_vm *vm, struct kvm_sev_cmd *cmd)
{
	if (vm->sev == EKVM_SEV_NONE)
		return -ENOTTY;
	if (vm->sev == EKVM_SEV_INIT)
		return -EINVAL;
	if (vm->sev == EKVM_SEV_FINISHED)
		return fw_refused(cmd, EKVM_FW_INVALID_GUEST_STATE);
	if (!cmd->data)
		return -EFAULT;
	struct kvm_sev_snp_launch_finish f;
	memcpy(&f, user_ptr(cmd->data), sizeof(f));
	if (f.flags || f.vcek_disabled > 1 || f.id_block_en > 1 || f.auth_key_en > 1)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(f.pad0); i++)
		if (f.pad0[i])
			return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(f.pad1); i++)
		if (f.pad1[i])
			return -EINVAL;
	const uint8_t *id_block = NULL, *id_auth = NULL;
	if (f.id_block_en) {
		if (!f.id_block_uaddr || !f.id_auth_uaddr)
			return -EFAULT;
		id_block = user_ptr(f.id_block_uaddr);
		id_auth = user_ptr(f.id_auth_uaddr);
	}
	if (!ek->has_fw)
		return -ENODEV;
	/* snp_launch_update_vmsa(): every vCPU in creation order (the BSP first), each VMSA
	 * synced from the register state and measured at the fixed VMSA GPA. */
	for (size_t i = 0; i < vm->n_vcpus; i++) {
		struct ekvm_vcpu *v = vm->vcpus[i];
		if (v->dr7 & ~0x400ull) /* sev_es_sync_vmsa() refuses live debug state */
			return -EINVAL;
		struct emul_kvm_vcpu_state st = {
			.regs = &v->regs, .sregs = &v->sregs, .fpu = &v->fpu, .xcr0 = v->xcr0,
			.xss = v->xss, .dr6 = v->dr6, .dr7 = v->dr7, .pat = v->pat,
		};
		emul_kvm_vmsa_build(&st, vm->vmsa_features, v->vmsa);
		uint32_t fw_error = 0;
		int r = ek->fw.launch_update(ek->fw.ctx, vm->handle, SNP_VMSA_GPA, 2 /* VMSA */,
					     v->vmsa, &fw_error);
		if (r < 0) {
			cmd->error = fw_error;
			return r;
		}
		v->vmsa_done = true;
	}
	uint32_t fw_error = 0;
	int r = ek->fw.launch_finish(ek->fw.ctx, vm->handle, id_block, id_auth, f.auth_key_en,
				     f.host_data, &fw_error);
	if (r < 0) {
		cmd->error = fw_error;
		return r;
	}
	vm->sev = EKVM_SEV_FINISHED;
	return 0;
}

int ekvm_sev_op(struct emul_kvm *ek, struct ekvm_vm *vm, struct kvm_sev_cmd *cmd)
{
	cmd->error = 0;
	switch (cmd->id) {
	case KVM_SEV_INIT2:
		return snp_init2(vm, cmd);
	case KVM_SEV_SNP_LAUNCH_START:
		return snp_launch_start(ek, vm, cmd);
	case KVM_SEV_SNP_LAUNCH_UPDATE:
		return snp_launch_update(ek, vm, cmd);
	case KVM_SEV_SNP_LAUNCH_FINISH:
		return snp_launch_finish(ek, vm, cmd);
	case KVM_SEV_SNP_ENABLE_REQ_CERTS:
		/* snp_enable_certs(): an SNP guest with no vCPU yet */
		if (vm->sev == EKVM_SEV_NONE || vm->n_vcpus)
			return -EINVAL;
		vm->certs = true;
		return 0;
	default:
		/* KVM_SEV_INIT/ES_INIT and the legacy SEV commands are not for SNP VMs */
		return -EINVAL;
	}
}

void ekvm_vm_decommission(struct emul_kvm *ek, struct ekvm_vm *vm)
{
	if (ek->has_fw && ek->fw.decommission &&
	    (vm->sev == EKVM_SEV_STARTED || vm->sev == EKVM_SEV_FINISHED))
		ek->fw.decommission(ek->fw.ctx, vm->handle, NULL);
}

/* --- the guest's Extended Guest Request --- */

static void ext_report(struct emul_kvm *ek, struct ekvm_vcpu *v)
{
	struct emul_kvm_guest_report *res = &v->ext_result;
	uint32_t fw_error = 0;
	int r = ek->has_fw ? ek->fw.guest_report(ek->fw.ctx, v->vm->handle, v->ext_data,
						 res->report, &fw_error)
			   : -ENODEV;
	if (r < 0)
		res->exitinfo2 = fw_error ? fw_error : SNP_GUEST_VMM_ERR(SNP_GUEST_VMM_ERR_GENERIC);
	else
		res->has_report = true;
}

/* snp_complete_req_certs(): KVM acts on userspace's `ret`. */
static int ext_complete(struct emul_kvm *ek, struct ekvm_vcpu *v)
{
	struct hv_kvm_exit_snp_req_certs e;
	hv_kvm_run_snp_req_certs_get(v->run, &e);
	switch (e.ret) {
	case 0:
		ext_report(ek, v);
		break;
	case ENOSPC:
		v->ext_result.rbx = e.npages;
		v->ext_result.exitinfo2 = SNP_GUEST_VMM_ERR(SNP_GUEST_VMM_ERR_INVALID_LEN);
		break;
	case EAGAIN:
		v->ext_result.exitinfo2 = SNP_GUEST_VMM_ERR(SNP_GUEST_VMM_ERR_BUSY);
		break;
	case EIO:
		v->ext_result.exitinfo2 = SNP_GUEST_VMM_ERR(SNP_GUEST_VMM_ERR_GENERIC);
		break;
	default:
		return -EINVAL; /* KVM_RUN fails; the request stays pending */
	}
	v->ext = EKVM_EXT_DONE;
	return 0;
}

int ekvm_vcpu_run(struct emul_kvm *ek, struct ekvm_vcpu *v)
{
	struct ekvm_vm *vm = v->vm;
	if (vm->type == KVM_X86_SNP_VM && vm->sev != EKVM_SEV_FINISHED)
		return -EINVAL; /* no VMSA to run yet */
	/* x86: complete_userspace_io first, then immediate_exit */
	if (v->ext == EKVM_EXT_EXITED) {
		int r = ext_complete(ek, v);
		if (r < 0)
			return r;
	}
	if (v->run->immediate_exit)
		return -EINTR;
	if (v->ext == EKVM_EXT_QUEUED) {
		if (vm->certs) {
			struct hv_kvm_exit_snp_req_certs e = {.gpa = v->ext_gpa,
							      .npages = v->ext_npages};
			v->run->exit_reason = KVM_EXIT_SNP_REQ_CERTS;
			hv_kvm_run_snp_req_certs_set(v->run, &e);
			v->ext = EKVM_EXT_EXITED;
			return 0;
		}
		/* Without certificate fetching KVM writes the empty table: the 24-byte zero
		 * terminator (GHCB spec, SNP Extended Guest Request). */
		if (v->ext_npages) {
			uint8_t *hva = ekvm_shared_hva(vm, v->ext_gpa, 24);
			if (!hva) {
				v->ext_result.exitinfo2 =
					SNP_GUEST_VMM_ERR(SNP_GUEST_VMM_ERR_GENERIC);
				v->ext = EKVM_EXT_DONE;
				goto idle;
			}
			memset(hva, 0, 24);
		}
		ext_report(ek, v);
		v->ext = EKVM_EXT_DONE;
	}
idle:
	v->run->exit_reason = KVM_EXIT_HLT; /* the emulated guest has nothing else to do */
	return 0;
}

static int vcpu_lookup(struct emul_kvm *ek, int vcpu_fd, struct ekvm_vcpu **ret)
{
	for (size_t i = 0; i < ek->n_fds; i++)
		if (ek->fds[i].fd == vcpu_fd) {
			if (ek->fds[i].kind != EKVM_VCPU)
				return -EINVAL;
			*ret = ek->fds[i].obj;
			return 0;
		}
	return -EBADF;
}

int emul_kvm_guest_ext_report(struct emul_kvm *ek, int vcpu_fd, uint64_t gpa, uint64_t npages,
			      const uint8_t report_data[64])
{
	pthread_mutex_lock(&ek->lock);
	struct ekvm_vcpu *v;
	int r = vcpu_lookup(ek, vcpu_fd, &v);
	if (r == 0 && (v->vm->type != KVM_X86_SNP_VM || v->vm->sev != EKVM_SEV_FINISHED))
		r = -EINVAL;
	else if (r == 0 && gpa & (EKVM_PAGE - 1))
		r = -EINVAL; /* KVM refuses an unaligned GPA before any exit */
	else if (r == 0 && (v->ext == EKVM_EXT_QUEUED || v->ext == EKVM_EXT_EXITED))
		r = -EBUSY;
	else if (r == 0) {
		v->ext = EKVM_EXT_QUEUED;
		v->ext_gpa = gpa;
		v->ext_npages = npages;
		memcpy(v->ext_data, report_data, sizeof(v->ext_data));
		memset(&v->ext_result, 0, sizeof(v->ext_result));
	}
	pthread_mutex_unlock(&ek->lock);
	return r;
}

int emul_kvm_guest_ext_report_result(struct emul_kvm *ek, int vcpu_fd,
				     struct emul_kvm_guest_report *ret)
{
	pthread_mutex_lock(&ek->lock);
	struct ekvm_vcpu *v;
	int r = vcpu_lookup(ek, vcpu_fd, &v);
	if (r == 0 && v->ext != EKVM_EXT_DONE)
		r = v->ext == EKVM_EXT_NONE ? -ENOENT : -EAGAIN;
	else if (r == 0) {
		*ret = v->ext_result;
		v->ext = EKVM_EXT_NONE;
	}
	pthread_mutex_unlock(&ek->lock);
	return r;
}
