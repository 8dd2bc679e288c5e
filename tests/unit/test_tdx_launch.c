/* hv/tdx_launch.c on the emulated KVM + emulated TDX module: a TD built from hand-made regions
 * (some measured) reports the MRTD computed independently here (tests/tdx_mrtd_ref.h), in a
 * TDREPORT whose MAC verifies; and the TDX ioctls refuse misuse as KVM does. */
#include <openssl/evp.h>

#include "coco/util.h"
#include "hv/emul/kvm.h"
#include "hv/emul/tdx_module.h"
#include "hv/tdx_launch.h"
#include "tests/check_main.h"
#include "tests/tdx_mrtd_ref.h"

struct env {
	struct emul_tdx_module *m;
	struct emul_kvm *ek;
	struct hv_kvm *k;
};

static struct env env_new(bool with_module)
{
	struct env e = {0};
	struct emul_tdx_module_config c = {.boot_version = {1, 5, 6}, .num_remaining_updates = 1};
	ck_assert_int_eq(emul_tdx_module_new(&c, &e.m), 0);
	ck_assert_int_eq(emul_kvm_new(NULL, &e.ek), 0);
	if (with_module)
		emul_kvm_set_tdx_module(e.ek, e.m);
	ck_assert_int_eq(hv_kvm_open_emulated(e.ek, &e.k), 0);
	return e;
}

static void env_free(struct env *e)
{
	hv_kvm_free(e->k);
	emul_kvm_free(e->ek);
	emul_tdx_module_free(e->m);
}

/* payload is page-aligned: the raw ioctls below take it as the source; hv_tdx_launch copies
 * the others (deliberately unaligned) into the guest's shared pages first. */
static uint8_t payload[4096] __attribute__((aligned(4096)));
static uint8_t fw_buf[4 * 4096 + 8], tmp_buf[2 * 4096 + 8];
#define fw (fw_buf + 8)
#define tmp (tmp_buf + 8)

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed ^ (i * 7) ^ (i >> 8));
}

/* Three regions as a TDVF would give them: the BFV at the top of 4 GiB (measured), TempMem in
 * RAM (not measured), a payload in RAM (measured), in this order. */
static const struct hv_tdx_region regions[] = {
	{.gpa = 0xffffc000, .src = fw, .nr_pages = 4, .measure = true},
	{.gpa = 0x800000, .src = tmp, .nr_pages = 2, .measure = false},
	{.gpa = 0x100000, .src = payload, .nr_pages = 1, .measure = true},
};

static struct hv_tdx_launch launch_input(void)
{
	static uint8_t cfg[48];
	fill(fw, 4 * 4096, 1);
	fill(tmp, 2 * 4096, 2);
	fill(payload, sizeof(payload), 3);
	fill(cfg, sizeof(cfg), 4);
	return (struct hv_tdx_launch){
		.regions = regions,
		.n_regions = ARRAY_SIZE(regions),
		.vcpus = 2,
		.attributes = 1ull << 28, /* SEPT_VE_DISABLE */
		.mrconfigid = cfg,
		.ram_size = 16 << 20,
		.hob_gpa = 0x809000,
	};
}

static void expected_mrtd(uint8_t want[48])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_sha384(), NULL);
	for (size_t i = 0; i < ARRAY_SIZE(regions); i++)
		for (uint64_t p = 0; p < regions[i].nr_pages; p++)
			tdx_ref_page(c, regions[i].gpa + p * 4096, regions[i].src + p * 4096,
				     regions[i].measure);
	EVP_DigestFinal_ex(c, want, NULL);
	EVP_MD_CTX_free(c);
}

START_TEST(launch_mrtd_matches)
{
	struct env e = env_new(true);
	struct hv_tdx_launch in = launch_input();
	struct hv_tdx_guest *g = NULL;
	char err[256] = "";
	int r = hv_tdx_launch(e.k, &in, &g, NULL, err, sizeof(err));
	ck_assert_msg(r == 0, "launch: %s", err);
	ck_assert_uint_eq(hv_tdx_guest_vcpus(g), 2);

	uint8_t want[48], got[48];
	expected_mrtd(want);
	ck_assert_int_eq(hv_tdx_guest_mrtd(g, got), 0);
	ck_assert_mem_eq(got, want, 48);

	/* the TDREPORT: MAC verifies, TDINFO carries what INIT_VM set */
	uint8_t rd[64], rep[HV_TDREPORT_SIZE];
	fill(rd, sizeof(rd), 9);
	ck_assert_int_eq(hv_tdx_guest_report(g, rd, rep), 0);
	ck_assert_int_eq(emul_tdx_report_verify(e.m, rep), 0);
	ck_assert_mem_eq(rep + TDREPORT_REPORTDATA_OFF, rd, 64);
	ck_assert_mem_eq(rep + TDREPORT_TDINFO_OFF + TDINFO_MRTD_OFF, want, 48);
	ck_assert_mem_eq(rep + TDREPORT_TDINFO_OFF + TDINFO_MRCONFIGID_OFF, in.mrconfigid, 48);
	uint64_t attrs;
	memcpy(&attrs, rep + TDREPORT_TDINFO_OFF + TDINFO_ATTRIBUTES_OFF, 8);
	ck_assert_uint_eq(attrs, 1ull << 28);
	uint64_t xfam;
	memcpy(&xfam, rep + TDREPORT_TDINFO_OFF + TDINFO_XFAM_OFF, 8);
	ck_assert_uint_eq(xfam, HV_TDX_XFAM_DEFAULT);

	/* the private memory holds the sources */
	uint8_t back[2 * 4096];
	ck_assert_int_eq(emul_kvm_read_private(e.ek, hv_tdx_guest_vm_fd(g), 0x800000, back,
					       sizeof(back)), 0);
	ck_assert_mem_eq(back, tmp, 2 * 4096);
	ck_assert_int_eq(emul_kvm_read_private(e.ek, hv_tdx_guest_vm_fd(g), 0xffffc000, back,
					       4096), 0);
	ck_assert_mem_eq(back, fw, 4096);

	/* runnable now; gone with the VM */
	uint32_t td;
	enum emul_td_state st;
	ck_assert_int_eq(emul_kvm_tdx_handle(e.ek, hv_tdx_guest_vm_fd(g), &td), 0);
	ck_assert_int_eq(emul_tdx_td_state(e.m, td, &st), 0);
	ck_assert_int_eq(st, EMUL_TD_RUNNABLE);
	hv_tdx_guest_free(g);
	ck_assert_int_lt(emul_tdx_td_state(e.m, td, &st), 0);

	/* another measured byte changes MRTD; measure=false bytes do not */
	tmp[5] ^= 1;
	ck_assert_int_eq(hv_tdx_launch(e.k, &in, &g, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(hv_tdx_guest_mrtd(g, got), 0);
	ck_assert_mem_eq(got, want, 48);
	hv_tdx_guest_free(g);
	payload[100] ^= 1;
	ck_assert_int_eq(hv_tdx_launch(e.k, &in, &g, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(hv_tdx_guest_mrtd(g, got), 0);
	ck_assert_mem_ne(got, want, 48);
	expected_mrtd(want);
	ck_assert_mem_eq(got, want, 48);
	hv_tdx_guest_free(g);
	env_free(&e);
}
END_TEST

START_TEST(launch_refusals)
{
	struct env e = env_new(true);
	struct hv_tdx_launch in = launch_input();
	struct hv_tdx_guest *g = NULL;
	char err[256] = "";
	in.attributes = 1ull << 5; /* not offered by KVM_TDX_CAPABILITIES */
	ck_assert_int_eq(hv_tdx_launch(e.k, &in, &g, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "attributes"));
	in = launch_input();
	in.xfam = 1ull << 40;
	ck_assert_int_eq(hv_tdx_launch(e.k, &in, &g, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "XFAM"));
	struct hv_tdx_region bad[2] = {regions[1], regions[1]};
	in = launch_input();
	in.regions = bad;
	in.n_regions = 2;
	ck_assert_int_eq(hv_tdx_launch(e.k, &in, &g, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "overlap"));
	bad[0].gpa = (16 << 20) - 4096; /* two pages across the end of RAM */
	in.n_regions = 1;
	ck_assert_int_eq(hv_tdx_launch(e.k, &in, &g, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "straddles"));
	bad[0].gpa = 0x800800;
	ck_assert_int_eq(hv_tdx_launch(e.k, &in, &g, NULL, err, sizeof(err)), -EINVAL);
	in.n_regions = 0;
	ck_assert_int_eq(hv_tdx_launch(e.k, &in, &g, NULL, err, sizeof(err)), -EINVAL);
	in = launch_input();
	in.vcpus = 0;
	ck_assert_int_eq(hv_tdx_launch(e.k, &in, &g, NULL, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(g);
	env_free(&e);

	/* no TDX module behind the emulated KVM */
	e = env_new(false);
	in = launch_input();
	ck_assert_int_eq(hv_tdx_launch(e.k, &in, &g, NULL, err, sizeof(err)), -ENODEV);
	ck_assert_ptr_nonnull(strstr(err, "KVM_TDX_INIT_VM"));
	env_free(&e);
}
END_TEST

/* The raw ioctls, out of order, as KVM refuses them. */
START_TEST(ioctl_order)
{
	struct env e = env_new(true);
	int sys, vm, vcpu, gmem;
	uint64_t hw = 7;
	ck_assert_int_eq(hv_kvm_system_open(e.k, &sys), 0);
	ck_assert_int_eq(hv_kvm_create_vm(e.k, sys, KVM_X86_TDX_VM, &vm), 0);
	ck_assert_int_eq(hv_kvm_create_vcpu(e.k, vm, 0, &vcpu), -EIO); /* before INIT_VM */
	ck_assert_int_eq(hv_kvm_tdx_finalize_vm(e.k, vm, &hw), -EINVAL);
	ck_assert_uint_eq(hw, 0);
	struct kvm_tdx_init_vm init = {.xfam = 3};
	init.reserved[3] = 1;
	ck_assert_int_eq(hv_kvm_tdx_init_vm(e.k, vm, &init, NULL), -EINVAL);
	init.reserved[3] = 0;
	ck_assert_int_eq(hv_kvm_tdx_init_vm(e.k, vm, &init, NULL), 0);
	ck_assert_int_eq(hv_kvm_tdx_init_vm(e.k, vm, &init, NULL), -EINVAL); /* once */
	ck_assert_int_eq(hv_kvm_create_vcpu(e.k, vm, 0, &vcpu), 0);
	ck_assert_int_eq(hv_kvm_create_guest_memfd(e.k, vm, 1 << 20, 0, &gmem), 0);
	uint8_t *hva = aligned_alloc(4096, 1 << 20);
	struct hv_kvm_memslot s = {.slot = 0, .flags = KVM_MEM_GUEST_MEMFD, .gpa = 0,
				   .size = 1 << 20, .uaddr = (uint64_t)(uintptr_t)hva,
				   .gmem_fd = gmem};
	ck_assert_int_eq(hv_kvm_set_memory_region2(e.k, vm, &s), 0);
	/* before INIT_VCPU */
	ck_assert_int_eq(hv_kvm_tdx_init_mem_region(e.k, vcpu, payload, 0, 1, true, NULL), -EINVAL);
	ck_assert_int_eq(hv_kvm_tdx_init_vcpu(e.k, vcpu, 0x1000, NULL), 0);
	ck_assert_int_eq(hv_kvm_tdx_init_vcpu(e.k, vcpu, 0x1000, NULL), -EINVAL);
	/* shared memory: not populated */
	ck_assert_int_eq(hv_kvm_tdx_init_mem_region(e.k, vcpu, payload, 0, 1, true, NULL), -EINVAL);
	ck_assert_int_eq(hv_kvm_set_memory_private(e.k, vm, 0, 1 << 20, true), 0);
	/* unaligned GPA, unknown flag */
	ck_assert_int_eq(hv_kvm_tdx_init_mem_region(e.k, vcpu, payload, 0x10, 1, true, NULL),
			 -EINVAL);
	struct kvm_tdx_init_mem_region m = {(uint64_t)(uintptr_t)payload, 0, 1};
	struct kvm_tdx_cmd cmd = {.id = KVM_TDX_INIT_MEM_REGION, .flags = 2,
				  .data = (uint64_t)(uintptr_t)&m};
	ck_assert_int_eq(hv_kvm_tdx_op(e.k, vcpu, &cmd), -EINVAL);
	/* a VM-scoped command on the vCPU fd and the reverse */
	cmd = (struct kvm_tdx_cmd){.id = KVM_TDX_FINALIZE_VM};
	ck_assert_int_eq(hv_kvm_tdx_op(e.k, vcpu, &cmd), -EINVAL);
	cmd = (struct kvm_tdx_cmd){.id = KVM_TDX_INIT_MEM_REGION, .data = (uint64_t)(uintptr_t)&m};
	ck_assert_int_eq(hv_kvm_tdx_op(e.k, vm, &cmd), -EINVAL);
	/* added once; twice is refused */
	ck_assert_int_eq(hv_kvm_tdx_init_mem_region(e.k, vcpu, payload, 0, 1, true, NULL), 0);
	ck_assert_int_eq(hv_kvm_tdx_init_mem_region(e.k, vcpu, payload, 0, 1, true, NULL), -EEXIST);
	/* the module sees a TD being built: the update gate's business */
	uint32_t td;
	enum emul_td_state st;
	ck_assert_int_eq(emul_kvm_tdx_handle(e.ek, vm, &td), 0);
	ck_assert_int_eq(emul_tdx_td_state(e.m, td, &st), 0);
	ck_assert_int_eq(st, EMUL_TD_BUILDING);
	ck_assert_int_eq(hv_kvm_tdx_finalize_vm(e.k, vm, NULL), 0);
	ck_assert_int_eq(hv_kvm_tdx_finalize_vm(e.k, vm, NULL), -EINVAL);
	ck_assert_int_eq(hv_kvm_tdx_init_mem_region(e.k, vcpu, payload, 0x1000, 1, false, NULL),
			 -EINVAL);
	ck_assert_int_eq(hv_kvm_create_vcpu(e.k, vm, 1, &gmem), -EIO); /* after finalize */
	/* MRTD: one measured page */
	uint8_t want[48], got[48], rep[HV_TDREPORT_SIZE], rd[64] = {0};
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_sha384(), NULL);
	tdx_ref_page(c, 0, payload, true);
	EVP_DigestFinal_ex(c, want, NULL);
	EVP_MD_CTX_free(c);
	ck_assert_int_eq(e.k->ops->tdx_report(e.k->ctx, vm, rd, rep), 0);
	memcpy(got, rep + HV_TDREPORT_MRTD_OFF, 48);
	ck_assert_mem_eq(got, want, 48);
	/* capabilities */
	struct kvm_tdx_capabilities caps = {0};
	ck_assert_int_eq(hv_kvm_tdx_capabilities(e.k, vm, &caps, NULL), 0);
	ck_assert_uint_eq(caps.supported_attrs & 1, 1);
	ck_assert_uint_eq(caps.supported_xfam & 3, 3);
	hv_kvm_close(e.k, vcpu);
	hv_kvm_close(e.k, vm);
	hv_kvm_close(e.k, sys);
	free(hva);
	env_free(&e);
}
END_TEST

START_TEST(native_has_no_report)
{
	struct hv_kvm *k = NULL;
	ck_assert_int_eq(hv_kvm_open_native("/nonexistent", &k), 0);
	ck_assert_ptr_null(k->ops->tdx_report);
	hv_kvm_free(k);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tdx_launch");
	TCase *tc = tcase_create("emulated");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, launch_mrtd_matches);
	tcase_add_test(tc, launch_refusals);
	tcase_add_test(tc, ioctl_order);
	tcase_add_test(tc, native_has_no_report);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
