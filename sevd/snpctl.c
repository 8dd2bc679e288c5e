/* snpctl: the host operator's SEV-SNP tool. Talks to cocod over its Unix socket. */
#include "api/cli_status.h"
#include "coco/util.h"
#include "sevd/snpctl.h"

static const char status_usage[] =
	"Usage: snpctl [--socket PATH] status [--json]\n"
	"\n"
	"Show the host's SEV-SNP state as cocod sees it: platform (emulated or native),\n"
	"/dev/sev and /dev/kvm, and whether KVM can create SNP guests.\n"
	"  --json   print cocod's full host object (GET /v1/host)\n";

static const struct cli_command commands[];

static void print_snp(json_object *h)
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
}

static int cmd_status(struct cli *cli, int argc, char **argv)
{
	return cli_status_run(cli, &commands[0], argc, argv, print_snp);
}

static const struct cli_command commands[] = {
	{"status", "show the host's SEV-SNP state", status_usage, cmd_status},
	{"measure", "compute a guest's launch digest (offline; sev-snp-measure flags)",
	 snpctl_measure_usage, snpctl_measure},
	{"id-block", "sign an ID block for a launch digest (offline; QEMU id-block/id-auth)",
	 snpctl_id_block_usage, snpctl_id_block},
	{"key-digest", "print an ID or author key's digest as attestation reports show it",
	 snpctl_key_digest_usage, snpctl_key_digest},
};

int main(int argc, char **argv)
{
	return cli_main("snpctl", "AMD SEV-SNP host operations through cocod.", commands,
			ARRAY_SIZE(commands), argc, argv);
}
