/* snpctl/tdxctl guest launch|list|show|destroy over /v1/guests. */
#include "api/cli_guest.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "api/cli_status.h"
#include "coco/util.h"

#define USAGE_COMMON(prog)                                                                         \
	"       " prog " [--socket PATH] guest list [--json]\n"                                    \
	"       " prog " [--socket PATH] guest show ID [--json]\n"                                 \
	"       " prog " [--socket PATH] guest destroy ID\n"                                       \
	"\n"                                                                                       \
	"Confidential guests cocod launches and tracks (role operator for launch/destroy):\n"   \
	"  launch   compute the expected measurement, record the guest and launch it (libvirt,\n" \
	"           or the emulated platform, whose firmware measurement must match); image\n"    \
	"           names are files in cocod's image_dir directories\n"                           \
	"  list     every guest: id, name, TEE, state, expected measurement\n"                    \
	"  show     one guest, its request and its state\n"                                       \
	"  destroy  stop the guest and forget it\n"                                               \
	"Exit status: 0 success, 1 failure (cocod's reason printed), 2 usage error.\n"

const char cli_guest_usage_snp[] =
	"Usage: snpctl [--socket PATH] guest launch NAME --firmware F [--kernel K [--initrd I]\n"
	"              [--cmdline S]] [--vcpus N] [--memory MIB] [--policy P] [--host-data HEX]\n"
	"              [--vcpu-type MODEL] [--sev-features X] [--id-block F --id-auth F\n"
	"              [--author-key]] [--json]\n" USAGE_COMMON("snpctl");

const char cli_guest_usage_tdx[] =
	"Usage: tdxctl [--socket PATH] guest launch NAME --firmware TDVF [--vcpus N]\n"
	"              [--memory MIB] [--attributes A] [--mrconfigid HEX] [--mrowner HEX]\n"
	"              [--mrownerconfig HEX] [--json]\n" USAGE_COMMON("tdxctl");

enum { O_JSON = 1, O_HELP };

/* Option -> request member; kind: 's' string, 'i' integer, 'x' integer or 0x string,
 * 'f' file as base64, 'b' true. tee: which CLI has it ("" both). */
static const struct {
	const char *opt, *member;
	char kind;
	const char *tee;
} launch_opts[] = {
	{"firmware", "firmware", 's', ""},
	{"kernel", "kernel", 's', "snp"},
	{"initrd", "initrd", 's', "snp"},
	{"cmdline", "cmdline", 's', "snp"},
	{"vcpus", "vcpus", 'i', ""},
	{"memory", "memory_mib", 'i', ""},
	{"policy", "policy", 'x', "snp"},
	{"attributes", "policy", 'x', "tdx"},
	{"host-data", "host_data", 's', "snp"},
	{"vcpu-type", "vcpu_type", 's', "snp"},
	{"sev-features", "sev_features", 'x', "snp"},
	{"id-block", "id_block", 'f', "snp"},
	{"id-auth", "id_auth", 'f', "snp"},
	{"author-key", "author_key", 'b', "snp"},
	{"mrconfigid", "mrconfigid", 's', "tdx"},
	{"mrowner", "mrowner", 's', "tdx"},
	{"mrownerconfig", "mrownerconfig", 's', "tdx"},
};

static int member_from_opt(const char *prog, size_t i, const char *arg, json_object *body)
{
	uint64_t v;
	json_object *val = NULL;
	switch (launch_opts[i].kind) {
	case 's': val = json_object_new_string(arg); break;
	case 'b': val = json_object_new_boolean(1); break;
	case 'i':
	case 'x':
		if (launch_opts[i].kind == 'x' && strncmp(arg, "0x", 2) == 0)
			val = json_object_new_string(arg);
		else if (parse_uint(arg, INT64_MAX, &v) == 0)
			val = json_object_new_int64((int64_t)v);
		else
			return cli_fail(prog, "guest launch", "--%s: not a number: '%s'",
					launch_opts[i].opt, arg);
		break;
	case 'f': {
		char *data;
		size_t n;
		int r = read_file_max(arg, 1 << 16, &data, &n);
		if (r < 0)
			return cli_fail(prog, "guest launch", "--%s %s: %s", launch_opts[i].opt, arg,
					strerror(-r));
		char *b64 = base64_encode((const uint8_t *)data, n);
		free(data);
		if (!b64)
			return cli_fail(prog, "guest launch", "out of memory");
		val = json_object_new_string(b64);
		free(b64);
		break;
	}
	default: break;
	}
	json_object_object_add(body, launch_opts[i].member, val);
	return 0;
}

/* The request's outcome: 1 with the problem printed, or 0 with the reply (caller puts it). */
static int call(struct cli *cli, const char *method, const char *path, const char *body,
		long want, json_object **ret)
{
	long status;
	json_object *j = NULL;
	if (cli_request(cli, method, path, body, &status, &j) < 0)
		return 1;
	if (status != want) {
		cli_print_problem(cli, status, j);
		json_object_put(j);
		return 1;
	}
	*ret = j;
	return 0;
}

static const char *expected_of(json_object *g)
{
	const char *m = cli_json_str(g, "expected_measurement");
	return m ? m : cli_json_str(g, "expected_mrtd");
}

static int guest_launch(struct cli *cli, const char *tee, const char *name, json_object *body)
{
	json_object_object_add(body, "name", json_object_new_string(name));
	json_object_object_add(body, "tee", json_object_new_string(tee));
	json_object *g;
	int r = call(cli, "POST", "/v1/guests", json_object_to_json_string(body), 201, &g);
	if (r)
		return r;
	if (cli->json)
		printf("%s\n", json_object_to_json_string_ext(g, JSON_C_TO_STRING_PRETTY));
	else
		printf("guest %s (%s) %s on %s\nexpected %s: %s\n", cli_json_str(g, "name"),
		       cli_json_str(g, "id"), cli_json_str(g, "state"), cli_json_str(g, "backend"),
		       streq(tee, "snp") ? "measurement" : "MRTD", expected_of(g));
	json_object_put(g);
	return 0;
}

static int guest_list(struct cli *cli)
{
	json_object *j, *a;
	int r = call(cli, "GET", "/v1/guests", NULL, 200, &j);
	if (r)
		return r;
	if (cli->json) {
		printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));
	} else if (json_object_object_get_ex(j, "guests", &a)) {
		printf("%-36s  %-20s  %-3s  %-9s  %s\n", "ID", "NAME", "TEE", "STATE", "EXPECTED");
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			json_object *g = json_object_array_get_idx(a, i);
			const char *e = expected_of(g);
			printf("%-36s  %-20s  %-3s  %-9s  %.16s...\n", cli_json_str(g, "id"),
			       cli_json_str(g, "name"), cli_json_str(g, "tee"),
			       cli_json_str(g, "state"), e ? e : "-");
		}
	}
	json_object_put(j);
	return 0;
}

static int guest_show_or_destroy(struct cli *cli, bool destroy, const char *id)
{
	char path[160];
	if (strlen(id) != 36 || strspn(id, "0123456789abcdef-") != 36)
		return cli_fail(cli->prog, destroy ? "guest destroy" : "guest show",
				"'%s' is not a guest id (a UUID)", id);
	snprintf(path, sizeof(path), "/v1/guests/%s", id);
	json_object *j = NULL;
	int r = call(cli, destroy ? "DELETE" : "GET", path, NULL, destroy ? 204 : 200, &j);
	if (r)
		return r;
	if (destroy)
		printf("guest %s destroyed\n", id);
	else if (cli->json)
		printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY));
	else
		cli_print_flat(j, NULL);
	json_object_put(j);
	return 0;
}

int cli_guest_run(struct cli *cli, const char *tee, int argc, char **argv)
{
	const char *usage = streq(tee, "snp") ? cli_guest_usage_snp : cli_guest_usage_tdx;
	if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	struct option opts[ARRAY_SIZE(launch_opts) + 3] = {0};
	size_t n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(launch_opts); i++)
		if (!launch_opts[i].tee[0] || streq(launch_opts[i].tee, tee))
			opts[n++] = (struct option){launch_opts[i].opt,
						    launch_opts[i].kind == 'b' ? no_argument
									      : required_argument,
						    NULL, (int)(256 + i)};
	opts[n++] = (struct option){"json", no_argument, NULL, O_JSON};
	opts[n++] = (struct option){"help", no_argument, NULL, O_HELP};
	json_object *body = json_object_new_object();
	int o, r = 0;
	optind = 0; /* reinitialize: options may follow NAME/ID (cli_main parsed in "+" order) */
	while (r == 0 && (o = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		if (o == O_JSON)
			cli->json = true;
		else if (o == O_HELP) {
			fputs(usage, stdout);
			json_object_put(body);
			return 0;
		} else if (o >= 256 && o < 256 + (int)ARRAY_SIZE(launch_opts) && streq(sub, "launch"))
			r = member_from_opt(cli->prog, (size_t)(o - 256), optarg, body);
		else {
			fputs(usage, stderr);
			r = 2;
		}
	}
	char **rest = argv + 1 + optind;
	int n_rest = argc - 1 - optind;
	if (r == 0) {
		if (streq(sub, "launch") && n_rest == 1)
			r = guest_launch(cli, tee, rest[0], body);
		else if (streq(sub, "list") && n_rest == 0)
			r = guest_list(cli);
		else if ((streq(sub, "show") || streq(sub, "destroy")) && n_rest == 1)
			r = guest_show_or_destroy(cli, streq(sub, "destroy"), rest[0]);
		else
			r = cli_fail(cli->prog, "guest", "expected launch NAME, list, show ID or "
							 "destroy ID (see --help)");
	}
	json_object_put(body);
	return r;
}
