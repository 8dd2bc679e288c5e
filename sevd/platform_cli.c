/* snpctl config set / snpctl commit: SNP_SET_CONFIG and SNP_COMMIT through cocod, which
 * journals and audits them (PUT /v1/snp/config, POST /v1/snp/commit; role admin). */
#include <getopt.h>

#include "api/cli_status.h"
#include "coco/util.h"
#include "sevd/snpctl.h"

const char snpctl_config_usage[] =
	"Usage: snpctl [--socket PATH] config set [--reported-tcb TCB|current]\n"
	"                                  [--mask-chip-id yes|no] [--mask-chip-key yes|no] [--json]\n"
	"\n"
	"Change the SEV firmware's configuration (SNP_SET_CONFIG) through cocod (role admin):\n"
	"  --reported-tcb TCB   the TCB_VERSION reports carry and VCEKs are issued for, as a\n"
	"                       64-bit value (0x...); at most the committed TCB. 'current' goes\n"
	"                       back to the running firmware's TCB.\n"
	"  --mask-chip-id yes|no   reports carry a zero CHIP_ID\n"
	"  --mask-chip-key yes|no  reports are not signed (SIGNING_KEY 7)\n"
	"  --json               print cocod's reply (the operation and the new platform status)\n"
	"Options not given keep their current value. The change is journaled as an operation.\n";

const char snpctl_commit_usage[] =
	"Usage: snpctl [--socket PATH] commit [--json]\n"
	"\n"
	"Commit the running SEV firmware (SNP_COMMIT) through cocod (role admin): the committed\n"
	"TCB becomes the current one and the firmware can no longer be rolled back below it.\n"
	"This cannot be undone. The command is journaled as an operation.\n"
	"  --json   print cocod's reply (the operation and the new platform status)\n";

static int print_change(struct cli *cli, const char *what, long status, json_object *body)
{
	if (status != 200) {
		cli_print_problem(cli, status, body);
		return 1;
	}
	if (cli->json) {
		puts(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PRETTY));
		return 0;
	}
	printf("%s (operation %s)\n", what, cli_json_str(body, "operation"));
	printf("reported TCB: %s\n", cli_json_str(body, "platform.tcb.reported.raw"));
	printf("current TCB:  %s\n", cli_json_str(body, "platform.tcb.current.raw"));
	printf("mask chip id: %s, mask chip key: %s\n",
	       cli_json_bool(body, "platform.config.mask_chip_id") == 1 ? "yes" : "no",
	       cli_json_bool(body, "platform.config.mask_chip_key") == 1 ? "yes" : "no");
	return 0;
}

static int yes_no(const char *opt, const char *v, bool *ret)
{
	if (streq(v, "yes") || streq(v, "true") || streq(v, "1"))
		*ret = true;
	else if (streq(v, "no") || streq(v, "false") || streq(v, "0"))
		*ret = false;
	else {
		fprintf(stderr, "snpctl config set: %s takes yes or no, not '%s'\n", opt, v);
		return -1;
	}
	return 0;
}

int snpctl_config(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 || !streq(argv[1], "set")) {
		if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
			fputs(snpctl_config_usage, stdout);
			return 0;
		}
		fprintf(stderr, "snpctl config: expected 'set'; see 'snpctl config --help'\n");
		return 2;
	}
	static const struct option opts[] = {
		{"reported-tcb", required_argument, NULL, 't'},
		{"mask-chip-id", required_argument, NULL, 'i'},
		{"mask-chip-key", required_argument, NULL, 'k'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	json_object *req = json_object_new_object();
	int o, ret = 2;
	bool b;
	optind = 1;
	while ((o = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		switch (o) {
		case 't': {
			if (streq(optarg, "current")) {
				json_object_object_add(req, "reported_tcb",
							json_object_new_string("current"));
				break;
			}
			uint64_t v;
			char *end;
			errno = 0;
			v = strtoull(optarg, &end, 0);
			if (!*optarg || *optarg == '-' || *optarg == '+' || errno || *end) {
				fprintf(stderr,
					"snpctl config set: --reported-tcb '%s' is not a 64-bit "
					"TCB_VERSION (0x...) or 'current'\n",
					optarg);
				goto out;
			}
			char hex[24];
			snprintf(hex, sizeof(hex), "0x%016llx", (unsigned long long)v);
			json_object_object_add(req, "reported_tcb", json_object_new_string(hex));
			break;
		}
		case 'i':
		case 'k':
			if (yes_no(o == 'i' ? "--mask-chip-id" : "--mask-chip-key", optarg, &b) < 0)
				goto out;
			json_object_object_add(req, o == 'i' ? "mask_chip_id" : "mask_chip_key",
					       json_object_new_boolean(b));
			break;
		case 'j': cli->json = true; break;
		case 'h': fputs(snpctl_config_usage, stdout); ret = 0; goto out;
		default: fputs(snpctl_config_usage, stderr); goto out;
		}
	}
	if (optind < argc - 1) {
		fprintf(stderr, "snpctl config set: unexpected argument '%s'\n", argv[optind + 1]);
		goto out;
	}
	if (json_object_object_length(req) == 0) {
		fprintf(stderr, "snpctl config set: nothing to change; see 'snpctl config --help'\n");
		goto out;
	}
	long status = 0;
	json_object *body = NULL;
	ret = 1;
	if (cli_request(cli, "PUT", "/v1/snp/config", json_object_to_json_string(req), &status,
			&body) == 0)
		ret = print_change(cli, "configuration set", status, body);
	json_object_put(body);
out:
	json_object_put(req);
	return ret;
}

int snpctl_commit(struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	int r = cli_parse_sub_options(cli, cmd, argc, argv);
	if (r)
		return r < 0 ? 2 : 0;
	long status = 0;
	json_object *body = NULL;
	if (cli_request(cli, "POST", "/v1/snp/commit", NULL, &status, &body) < 0)
		return 1;
	r = print_change(cli, "firmware committed", status, body);
	json_object_put(body);
	return r;
}
