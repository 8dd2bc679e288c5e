/* tdxctl quote show: offline display of a TDX quote (v4, v5) or TDREPORT with the reference
 * checks asked for (attest/tdx_report.h). The quote signature is NOT verified (a later issue):
 * the output says so. Exit status: 0 every requested check passed, 1 a check failed or the
 * evidence does not parse, 2 bad usage. */
#include <getopt.h>

#include "api/cli_status.h"
#include "attest/tdx_report.h"
#include "coco/endian.h"
#include "coco/util.h"
#include "tdxd/tdxctl.h"

const char tdxctl_quote_usage[] =
    "Usage: tdxctl quote show FILE [--mrseam HEX]... [--mrtd HEX] [--rtmr N=HEX]...\n"
    "                         [--report-data HEX] [--json]\n"
    "\n"
    "Show a TDX quote (DCAP versions 4 and 5, TD 1.0 and TD 1.5 bodies) or a TDREPORT (1024\n"
    "bytes), and check it against reference values. THE QUOTE SIGNATURE AND THE PCK\n"
    "CERTIFICATE CHAIN ARE NOT VERIFIED: treat the values as claims until they are.\n"
    "  --mrseam HEX        a known TDX module's MRSEAM (96 hex digits; repeat for each\n"
    "                      module of the module store): MRSEAM must be one of them\n"
    "  --mrtd HEX          expected MRTD\n"
    "  --rtmr N=HEX        expected RTMR N (0-3)\n"
    "  --report-data HEX   expected REPORTDATA (128 hex digits)\n"
    "  --json              print {\"quote\"|\"tdreport\": ..., \"result\": ...}\n"
    "\n"
    "Exit status: 0 when every requested check passed, 1 when one failed or the evidence does\n"
    "not parse, 2 on bad usage.\n";

#define QUOTE_MAX_KNOWN 64

static int hex_arg(const char *name, const char *s, uint8_t *out, size_t n)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (hex_decode_exact(s, out, n) < 0)
		return cli_fail("tdxctl", "quote", "--%s: want %zu hex digits", name, 2 * n);
	return 0;
}

int tdxctl_quote(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"mrseam", required_argument, NULL, 's'}, {"mrtd", required_argument, NULL, 't'},
	    {"rtmr", required_argument, NULL, 'r'},   {"report-data", required_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'},	      {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static uint8_t known[QUOTE_MAX_KNOWN][48];
	struct tdx_reference ref = {.known_mrseam = known};
	bool json = cli->json;
	int o, r = 0;
	optind = 0; /* 0: GNU getopt reinitialises (argument permutation state included) */
	while (r == 0 && (o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			if (ref.n_known_mrseam == QUOTE_MAX_KNOWN)
				return cli_fail("tdxctl", "quote", "at most %d --mrseam", QUOTE_MAX_KNOWN);
			r = hex_arg("mrseam", optarg, known[ref.n_known_mrseam++], 48);
			break;
		case 't':
			r = hex_arg("mrtd", optarg, ref.mrtd, 48);
			ref.has_mrtd = true;
			break;
		case 'r': {
			if (optarg[0] < '0' || optarg[0] > '3' || optarg[1] != '=')
				return cli_fail("tdxctl", "quote", "--rtmr: want N=HEX with N 0-3");
			int i = optarg[0] - '0';
			r = hex_arg("rtmr", optarg + 2, ref.rtmr[i], 48);
			ref.has_rtmr[i] = true;
			break;
		}
		case 'd':
			r = hex_arg("report-data", optarg, ref.report_data, 64);
			ref.has_report_data = true;
			break;
		case 'j': json = true; break;
		case 'h': fputs(tdxctl_quote_usage, stdout); return 0;
		default: fputs(tdxctl_quote_usage, stderr); return 2;
		}
	}
	if (r)
		return r;
	if (argc - optind != 2 || !streq(argv[optind], "show"))
		return cli_fail("tdxctl", "quote", "want 'quote show FILE'");
	const char *path = argv[optind + 1];
	_cleanup_free_ char *buf = NULL;
	size_t len;
	if ((r = read_file_max(path, TDX_QUOTE_MAX_SIZE, &buf, &len)) < 0)
		return cli_fail("tdxctl", "quote", "%s: %s", path, strerror(-r));
	const uint8_t *b = (const uint8_t *)buf;
	char err[256];
	json_object *doc;
	const char *kind;
	struct tdx_td_body body;
	bool is_quote = len >= 8 && (get_le16(b) == 4 || get_le16(b) == 5) &&
			get_le32(b + 4) == TDX_TEE_TYPE_TDX;
	if (is_quote) {
		struct tdx_quote q;
		if (tdx_quote_parse(b, len, &q, err, sizeof(err)) < 0) {
			fprintf(stderr, "tdxctl quote: %s: %s\n", path, err);
			return 1;
		}
		body = q.body;
		doc = tdx_quote_json(&q);
		kind = "quote";
	} else {
		struct tdx_tdreport t;
		if (tdx_tdreport_parse(b, len, &t, err, sizeof(err)) < 0) {
			fprintf(stderr, "tdxctl quote: %s: neither a quote (v4/v5, TDX) nor a "
					"TDREPORT: %s\n",
				path, err);
			return 1;
		}
		body = t.body;
		doc = tdx_tdreport_json(&t);
		kind = "tdreport";
	}
	_cleanup_free_ struct attest_result *res = calloc(1, sizeof(*res));
	if (!res) {
		json_object_put(doc);
		return 2;
	}
	tdx_check_reference(&body, &ref, is_quote, res);
	bool ok = !attest_first_failure(res) && !res->overflow;
	if (json) {
		json_object *out = json_object_new_object(), *rj = attest_result_json(res);
		json_object_object_add(rj, "verified", json_object_new_boolean(false));
		json_object_object_add(rj, "reference_checks_passed", json_object_new_boolean(ok));
		json_object_object_add(out, kind, doc);
		json_object_object_add(out, "result", rj);
		puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(out);
	} else {
		cli_print_flat(doc, kind);
		json_object_put(doc);
		for (size_t i = 0; i < res->n; i++) {
			const struct attest_check *c = &res->checks[i];
			printf("check %-16s %s%s%s\n", c->name, attest_status_name(c->status),
			       c->status == ATTEST_FAILED ? ": expected " : "",
			       c->status == ATTEST_FAILED ? c->expected : "");
		}
		printf("%s: the quote signature is NOT verified\n",
		       ok ? "reference checks passed" : "reference checks FAILED");
	}
	return ok ? 0 : 1;
}
