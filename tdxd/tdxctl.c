/* tdxctl: the host operator's Intel TDX tool. Talks to cocod over its Unix socket. */
#include "api/cli_guest.h"
#include "api/cli_status.h"
#include "coco/util.h"
#include "tdxd/measure.h"
#include "tdxd/tdxctl.h"

static const char status_usage[] =
	"Usage: tdxctl [--socket PATH] status [--json]\n"
	"\n"
	"Show the host's TDX state as cocod sees it: platform (emulated or native), the TDX\n"
	"module and P-SEAMLDR versions, remaining runtime updates, the fw_upload interface, and\n"
	"whether KVM can create TDs. A lost module (after a failed update) is shown as\n"
	"'reboot required'.\n"
	"  --json   print {\"host\": GET /v1/host, \"tdx_module\": GET /v1/tdx/module}\n";

static const struct cli_command commands[];

static void print_tdx(json_object *h, json_object *m, json_object *problem)
{
	json_object *tdx = NULL, *rem = NULL;
	char remaining[32] = "unknown";
	if (json_object_object_get_ex(h, "tdx", &tdx) &&
	    json_object_object_get_ex(tdx, "remaining_updates", &rem) &&
	    json_object_is_type(rem, json_type_int))
		snprintf(remaining, sizeof(remaining), "%lld",
			 (long long)json_object_get_int64(rem));
	const char *mv = cli_json_str(h, "tdx.module_version"),
		   *merr = cli_json_str(h, "tdx.module_error"),
		   *lv = cli_json_str(h, "tdx.seamldr_version");
	printf("platform:          %s\n", cli_json_str(h, "platform"));
	printf("cocod:             %s (%s)\n", cli_json_str(h, "version"),
	       cli_json_str(h, "commit"));
	printf("TDX host:          %s\n", cli_json_bool(h, "tdx.host") == 1 ? "present" : "absent");
	printf("TDX module:        %s\n", merr ? merr : (mv ? mv : "unknown"));
	printf("P-SEAMLDR:         %s\n", lv ? lv : "unknown");
	printf("remaining updates: %s\n", remaining);
	printf("update interface:  %s\n",
	       cli_json_bool(h, "tdx.update_interface") == 1 ? "present" : "absent");
	printf("TD guests:         %s\n",
	       cli_json_bool(h, "tdx.available") == 1 ? "supported" : "not supported on this host");
	if (!m) {
		const char *d = problem ? cli_json_str(problem, "detail") : NULL;
		printf("module status:     unavailable%s%s\n", d ? ": " : "", d ? d : "");
		return;
	}
	char on[24], poss[24];
	const char *all = cli_json_bool(m, "cpus.all_online") == 1   ? "all online"
			  : cli_json_bool(m, "cpus.all_online") == 0 ? "NOT all online: updates refused"
								     : "unknown";
	const char *boot = cli_json_str(m, "boot.version");
	printf("module state:      %s\n", cli_json_str(m, "state"));
	printf("boot-time module:  %s%s\n", boot ? boot : "unknown",
	       cli_json_bool(m, "boot.current_differs") == 1
		       ? " (runtime updates do not survive a reboot: it comes back)"
		       : "");
	printf("CPUs:              %s of %s (%s)\n", cli_json_int_str(m, "cpus.online", on, sizeof(on)),
	       cli_json_int_str(m, "cpus.possible", poss, sizeof(poss)), all);
}

static int cmd_status(struct cli *cli, int argc, char **argv)
{
	return cli_status_run(cli, &commands[0], argc, argv, "/v1/tdx/module", "tdx_module",
			      print_tdx);
}

static int cmd_guest(struct cli *cli, int argc, char **argv)
{
	return cli_guest_run(cli, "tdx", argc, argv);
}

static const struct cli_command commands[] = {
	{"status", "show the host's TDX state", status_usage, cmd_status},
	{"module", "list, plan and run runtime TDX module updates; their history",
	 tdxctl_module_usage, tdxctl_module},
	{"measure", "compute MRTD, replay RTMRs or MRSEAM (offline)", tdxctl_measure_usage,
	 tdxctl_measure},
	{"quote", "show a TD quote or TDREPORT and check reference values (offline): quote show "
		  "FILE",
	 tdxctl_quote_usage, tdxctl_quote},
	{"guest", "launch, list, show or destroy TD guests", cli_guest_usage_tdx, cmd_guest},
};

int main(int argc, char **argv)
{
	return cli_main("tdxctl", "Intel TDX host operations through cocod.", commands,
			ARRAY_SIZE(commands), argc, argv);
}
