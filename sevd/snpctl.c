/* snpctl: the host operator's SEV-SNP tool. Talks to cocod over its Unix socket. */
#include "api/cli_guest.h"
#include "api/cli_status.h"
#include "coco/util.h"
#include "sevd/snpctl.h"

static const char status_usage[] =
	"Usage: snpctl [--socket PATH] status [--json]\n"
	"\n"
	"Show the host's SEV-SNP state as cocod sees it: platform (emulated or native),\n"
	"/dev/sev and /dev/kvm, whether KVM can create SNP guests, and the firmware's live\n"
	"status (SNP_PLATFORM_STATUS): version, current/reported/committed TCB, VLEK, chip id.\n"
	"  --json   print {\"host\": GET /v1/host, \"snp_platform\": GET /v1/snp/platform}\n";

static const struct cli_command commands[];

static void print_tcb(const char *label, json_object *p, const char *which)
{
	char path[64], raw[64] = "", parts[128] = "";
	snprintf(path, sizeof(path), "tcb.%s.raw", which);
	const char *r = cli_json_str(p, path);
	if (!r) {
		printf("%-15s%s\n", label, "unknown");
		return;
	}
	snprintf(raw, sizeof(raw), "%s", r);
	static const char *const comp[] = {"fmc", "bootloader", "tee", "snp", "microcode"};
	for (size_t i = 0; i < ARRAY_SIZE(comp); i++) {
		char buf[24];
		snprintf(path, sizeof(path), "tcb.%s.%s", which, comp[i]);
		const char *v = cli_json_int_str(p, path, buf, sizeof(buf));
		if (strcmp(v, "unknown") == 0)
			continue;
		size_t o = strlen(parts);
		snprintf(parts + o, sizeof(parts) - o, "%s%s=%s", o ? " " : "", comp[i], v);
	}
	printf("%-15s%s%s%s%s\n", label, raw, parts[0] ? " (" : "", parts, parts[0] ? ")" : "");
}

static void print_snp(json_object *h, json_object *p, json_object *problem)
{
	json_object *types = NULL, *kvm = NULL;
	char tbuf[128] = "";
	if (json_object_object_get_ex(h, "kvm", &kvm) &&
	    json_object_object_get_ex(kvm, "vm_types", &types) &&
	    json_object_is_type(types, json_type_array))
		for (size_t i = 0; i < json_object_array_length(types); i++) {
			size_t o = strlen(tbuf);
			snprintf(tbuf + o, sizeof(tbuf) - o, "%s%s", o ? " " : "",
				 json_object_get_string(json_object_array_get_idx(types, i)));
		}
	const char *sev_err = cli_json_str(h, "sev.error"), *kvm_err = cli_json_str(h, "kvm.error");
	printf("platform:     %s\n", cli_json_str(h, "platform"));
	printf("cocod:        %s (%s)\n", cli_json_str(h, "version"), cli_json_str(h, "commit"));
	printf("/dev/sev:     %s%s%s\n", cli_json_bool(h, "sev.device") == 1 ? "present" : "absent",
	       sev_err ? ": " : "", sev_err ? sev_err : "");
	printf("/dev/kvm:     %s%s%s\n", cli_json_bool(h, "kvm.device") == 1 ? "present" : "absent",
	       kvm_err ? ": " : "", kvm_err ? kvm_err : "");
	printf("KVM VM types: %s\n", tbuf[0] ? tbuf : "unknown");
	printf("SNP guests:   %s\n",
	       cli_json_bool(h, "sev.snp") == 1 ? "supported" : "not supported on this host");
	if (!p) {
		const char *d = problem ? cli_json_str(problem, "detail") : NULL;
		printf("firmware:     unavailable%s%s\n", d ? ": " : "", d ? d : "");
		return;
	}
	char b1[24];
	const char *product = cli_json_str(p, "product"), *chip = cli_json_str(p, "chip_id"),
		   *chip_err = cli_json_str(p, "chip_id_error");
	printf("firmware:     %s (%s backend), %s, state %s\n",
	       cli_json_str(p, "firmware.version"), cli_json_str(p, "backend"),
	       product ? product : "unknown product", cli_json_str(p, "state"));
	print_tcb("current TCB:", p, "current");
	print_tcb("reported TCB:", p, "reported");
	print_tcb("committed TCB:", p, "committed");
	printf("guests:       %s\n", cli_json_int_str(p, "guest_count", b1, sizeof(b1)));
	printf("VLEK:         %s\n", cli_json_bool(p, "vlek_loaded") == 1 ? "loaded (reports "
									     "signed with the VLEK)"
									   : "not loaded");
	printf("mask chip id: %s, mask chip key: %s\n",
	       cli_json_bool(p, "config.mask_chip_id") == 1 ? "yes" : "no",
	       cli_json_bool(p, "config.mask_chip_key") == 1 ? "yes" : "no");
	printf("chip id:      %s\n", chip ? chip : (chip_err ? chip_err : "unknown"));
}

static int cmd_status(struct cli *cli, int argc, char **argv)
{
	return cli_status_run(cli, &commands[0], argc, argv, "/v1/snp/platform", "snp_platform",
			      print_snp);
}

static int cmd_commit(struct cli *cli, int argc, char **argv)
{
	return snpctl_commit(cli, &commands[3], argc, argv);
}

static int cmd_guest(struct cli *cli, int argc, char **argv)
{
	return cli_guest_run(cli, "snp", argc, argv);
}

static const struct cli_command commands[] = {
	{"status", "show the host's SEV-SNP state", status_usage, cmd_status},
	{"measure", "compute a guest's launch digest (offline; sev-snp-measure flags)",
	 snpctl_measure_usage, snpctl_measure},
	{"id-block", "sign an ID block for a launch digest (offline; QEMU id-block/id-auth)",
	 snpctl_id_block_usage, snpctl_id_block},
	{"commit", "commit the running SEV firmware (SNP_COMMIT; no rollback below it)",
	 snpctl_commit_usage, cmd_commit},
	{"config", "change reported TCB and chip id/key masking (SNP_SET_CONFIG)",
	 snpctl_config_usage, snpctl_config},
	{"key-digest", "print an ID or author key's digest as attestation reports show it",
	 snpctl_key_digest_usage, snpctl_key_digest},
	{"certs", "the certificate cache and the GHCB table guests get (show, fetch, export...)",
	 snpctl_certs_usage, snpctl_certs},
	{"vlek", "load, show or forget the VLEK hashstick (SNP_VLEK_LOAD)", snpctl_vlek_usage,
	 snpctl_vlek},
	{"verify", "verify an attestation report and its certificates (offline)",
	 snpctl_verify_usage, snpctl_verify},
	{"report", "show an attestation report's fields (offline): report show FILE",
	 snpctl_report_usage, snpctl_report},
	{"guest", "launch, list, show or destroy SEV-SNP guests", cli_guest_usage_snp, cmd_guest},
};

int main(int argc, char **argv)
{
	return cli_main("snpctl", "AMD SEV-SNP host operations through cocod.", commands,
			ARRAY_SIZE(commands), argc, argv);
}
