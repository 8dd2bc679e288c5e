/* snpctl verify and snpctl report show: offline SEV-SNP report verification and display with
 * the attest library (attest/snp_verify.h). Exit status: 0 every check passed, 1 a check
 * failed, 2 bad usage or unreadable input. */
#include <getopt.h>
#include <openssl/x509.h>

#include "api/cli_status.h"
#include "attest/snp_verify.h"
#include "coco/snp/amdcert.h"
#include "coco/util.h"
#include "sevd/snpctl.h"

const char snpctl_verify_usage[] =
    "Usage: snpctl verify --report FILE [--vcek FILE --ask FILE --ark FILE] [OPTIONS]\n"
    "\n"
    "Verify an SEV-SNP attestation report offline: the ARK (AMD's pinned root of the product,\n"
    "or one given with --trust-root), ARK -> ASK (ASVK for a VLEK) -> VCEK/VLEK (RSA-PSS\n"
    "SHA-384), the report signature (ECDSA P-384 over the raw bytes 0x000-0x29F), VCEK hwID ==\n"
    "CHIP_ID and TCB extensions == REPORTED_TCB in the product's layout, the signing key type,\n"
    "and the policy checks asked for. Every check is listed: passed, failed or skipped.\n"
    "\n"
    "  --report FILE          the 1184-byte report (binary)\n"
    "  --vcek FILE            the VCEK or VLEK that signed it (DER or PEM)\n"
    "  --ask FILE             the ASK (ASVK for a VLEK) (DER or PEM)\n"
    "  --ark FILE             the ARK (DER or PEM)\n"
    "  --chain FILE           KDS cert_chain (PEM: ASK then ARK) instead of --ask/--ark\n"
    "  --product P            Milan, Genoa or Turin (default: the report's CPUID, else the\n"
    "                         VCEK's productName, else the ARK's)\n"
    "  --trust-root FILE      also trust this ARK (e.g. the emulated platform's)\n"
    "  --crl FILE             check the ARK's CRL (DER): signed, current, nothing revoked\n"
    "  --measurement HEX      expected MEASUREMENT (96 hex digits)\n"
    "  --host-data HEX        expected HOST_DATA (64 hex digits)\n"
    "  --report-data HEX      expected REPORT_DATA (128 hex digits)\n"
    "  --id-key-digest HEX    expected ID_KEY_DIGEST (96 hex digits)\n"
    "  --author-key-digest HEX  expected AUTHOR_KEY_DIGEST (96 hex digits)\n"
    "  --min-tcb LIST         minimum REPORTED_TCB, e.g. bl=3,tee=0,snp=20,ucode=209[,fmc=1]\n"
    "  --no-debug             POLICY.DEBUG must be 0\n"
    "  --no-smt               POLICY.SMT must be 0\n"
    "  --no-migrate-ma        POLICY.MIGRATE_MA must be 0\n"
    "  --vmpl N               VMPL must be N\n"
    "  --min-abi MAJOR.MINOR  the firmware's ABI version at least this\n"
    "  --time UNIX            verify certificates at this time (default now)\n"
    "  --json                 print the result as JSON\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status: 0 when every check passed, 1 when one failed, 2 on bad usage or input.\n";

const char snpctl_report_usage[] =
    "Usage: snpctl report show FILE [--product P] [--json]\n"
    "\n"
    "Show every field of an SEV-SNP attestation report (versions 2, 3, 5; reserved bytes\n"
    "checked). TCB values are decoded in the product's layout: the report's CPUID names it\n"
    "(v3+); give --product for a v2 report. Nothing is verified: see 'snpctl verify'.\n"
    "  --product P   Milan, Genoa or Turin\n"
    "  --json        print a JSON object\n";

#define REPORT_FILE_MAX 4096

static int read_input(const char *cmd, const char *path, size_t max, uint8_t **ret, size_t *len)
{
	char *buf = NULL;
	int r = read_file_max(path, max, &buf, len);
	if (r < 0)
		return cli_fail("snpctl", cmd, "%s: %s", path, strerror(-r));
	*ret = (uint8_t *)buf;
	return 0;
}

static int load_cert(const char *path, X509 **ret)
{
	_cleanup_free_ uint8_t *b = NULL;
	size_t len;
	char err[256];
	if (read_input("verify", path, AMD_CERT_MAX_SIZE, &b, &len))
		return 2;
	if (amd_cert_parse(b, len, ret, err, sizeof(err)) < 0)
		return cli_fail("snpctl", "verify", "%s: %s", path, err);
	return 0;
}

static int parse_hex_opt(const char *name, const char *s, uint8_t *out, size_t n, bool *has)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (hex_decode_exact(s, out, n) < 0)
		return cli_fail("snpctl", "verify", "--%s: want %zu hex digits", name, 2 * n);
	*has = true;
	return 0;
}

static int parse_min_tcb(const char *s, struct snp_tcb *t)
{
	_cleanup_free_ char *copy = strdup(s);
	char *save = NULL;
	if (!copy)
		return 2;
	memset(t, 0, sizeof(*t));
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		uint64_t v;
		if (!eq || parse_uint(eq + 1, 255, &v) < 0)
			return cli_fail("snpctl", "verify", "--min-tcb: bad component '%s'", tok);
		*eq = 0;
		uint8_t *dst = streq(tok, "bl")	       ? &t->bootloader
			       : streq(tok, "tee")     ? &t->tee
			       : streq(tok, "snp")     ? &t->snp
			       : streq(tok, "ucode")   ? &t->microcode
			       : streq(tok, "fmc")     ? &t->fmc
							: NULL;
		if (!dst)
			return cli_fail("snpctl", "verify", "--min-tcb: unknown component '%s' (bl, tee, "
						    "snp, ucode, fmc)",
					  tok);
		*dst = (uint8_t)v;
	}
	return 0;
}

static void print_result(const struct attest_result *res)
{
	for (size_t i = 0; i < res->n; i++) {
		const struct attest_check *c = &res->checks[i];
		if (c->status == ATTEST_SKIPPED && streq(c->detail, "not requested"))
			continue;
		printf("%-8s %-26s", c->status == ATTEST_PASSED   ? "passed"
				     : c->status == ATTEST_FAILED ? "FAILED"
								  : "skipped",
		       c->name);
		if (c->detail[0])
			printf(" %s", c->detail);
		if (c->expected[0] || c->actual[0])
			printf("%s(expected %s, actual %s)", c->detail[0] ? " " : " ",
			       c->expected[0] ? c->expected : "-", c->actual[0] ? c->actual : "-");
		putchar('\n');
	}
	const struct attest_check *f = attest_first_failure(res);
	if (f)
		printf("verification FAILED: %s\n", f->name);
	else
		printf("verified\n");
}

struct verify_args {
	const char *report, *vcek, *ask, *ark, *chain, *trust, *crl, *product, *min_tcb;
	struct snp_verify_policy pol;
	time_t now;
	bool json;
};

static int parse_verify_args(int argc, char **argv, struct verify_args *a)
{
	enum {
		O_REPORT = 256, O_VCEK, O_ASK, O_ARK, O_CHAIN, O_PRODUCT, O_TRUST, O_CRL, O_MEAS,
		O_HOST, O_RDATA, O_IDK, O_AUK, O_MINTCB, O_NODEBUG, O_NOSMT, O_NOMA, O_VMPL,
		O_MINABI, O_TIME, O_JSON
	};
	static const struct option opts[] = {
	    {"report", required_argument, NULL, O_REPORT},
	    {"vcek", required_argument, NULL, O_VCEK},
	    {"vlek", required_argument, NULL, O_VCEK},
	    {"ask", required_argument, NULL, O_ASK},
	    {"asvk", required_argument, NULL, O_ASK},
	    {"ark", required_argument, NULL, O_ARK},
	    {"chain", required_argument, NULL, O_CHAIN},
	    {"product", required_argument, NULL, O_PRODUCT},
	    {"trust-root", required_argument, NULL, O_TRUST},
	    {"crl", required_argument, NULL, O_CRL},
	    {"measurement", required_argument, NULL, O_MEAS},
	    {"host-data", required_argument, NULL, O_HOST},
	    {"report-data", required_argument, NULL, O_RDATA},
	    {"id-key-digest", required_argument, NULL, O_IDK},
	    {"author-key-digest", required_argument, NULL, O_AUK},
	    {"min-tcb", required_argument, NULL, O_MINTCB},
	    {"no-debug", no_argument, NULL, O_NODEBUG},
	    {"no-smt", no_argument, NULL, O_NOSMT},
	    {"no-migrate-ma", no_argument, NULL, O_NOMA},
	    {"vmpl", required_argument, NULL, O_VMPL},
	    {"min-abi", required_argument, NULL, O_MINABI},
	    {"time", required_argument, NULL, O_TIME},
	    {"json", no_argument, NULL, O_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	struct snp_verify_policy *p = &a->pol;
	uint64_t v;
	int o, r = 0;
	optind = 0; /* 0: GNU getopt reinitialises (argument permutation state included) */
	while (r == 0 && (o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case O_REPORT: a->report = optarg; break;
		case O_VCEK: a->vcek = optarg; break;
		case O_ASK: a->ask = optarg; break;
		case O_ARK: a->ark = optarg; break;
		case O_CHAIN: a->chain = optarg; break;
		case O_PRODUCT: a->product = optarg; break;
		case O_TRUST: a->trust = optarg; break;
		case O_CRL: a->crl = optarg; break;
		case O_MEAS:
			r = parse_hex_opt("measurement", optarg, p->measurement, 48,
					  &p->has_measurement);
			break;
		case O_HOST:
			r = parse_hex_opt("host-data", optarg, p->host_data, 32, &p->has_host_data);
			break;
		case O_RDATA:
			r = parse_hex_opt("report-data", optarg, p->report_data, 64,
					  &p->has_report_data);
			break;
		case O_IDK:
			r = parse_hex_opt("id-key-digest", optarg, p->id_key_digest, 48,
					  &p->has_id_key_digest);
			break;
		case O_AUK:
			r = parse_hex_opt("author-key-digest", optarg, p->author_key_digest, 48,
					  &p->has_author_key_digest);
			break;
		case O_MINTCB:
			r = parse_min_tcb(optarg, &p->min_tcb);
			p->has_min_tcb = true;
			break;
		case O_NODEBUG: p->forbid_debug = true; break;
		case O_NOSMT: p->forbid_smt = true; break;
		case O_NOMA: p->forbid_migrate_ma = true; break;
		case O_VMPL:
			if (parse_uint(optarg, UINT32_MAX, &v) < 0)
				return cli_fail("snpctl", "verify", "--vmpl: not a number: %s", optarg);
			p->has_vmpl = true;
			p->vmpl = (uint32_t)v;
			break;
		case O_MINABI: {
			unsigned maj, min;
			char extra;
			if (sscanf(optarg, "%u.%u%c", &maj, &min, &extra) != 2 || maj > 255 ||
			    min > 255)
				return cli_fail("snpctl", "verify", "--min-abi: want MAJOR.MINOR");
			p->has_min_abi = true;
			p->min_abi_major = (uint8_t)maj;
			p->min_abi_minor = (uint8_t)min;
			break;
		}
		case O_TIME:
			if (parse_uint(optarg, INT32_MAX * 4ull, &v) < 0)
				return cli_fail("snpctl", "verify", "--time: want Unix seconds");
			a->now = (time_t)v;
			break;
		case O_JSON: a->json = true; break;
		case 'h': fputs(snpctl_verify_usage, stdout); return 1;
		default: fputs(snpctl_verify_usage, stderr); return 2;
		}
	}
	if (r)
		return r;
	if (optind < argc)
		return cli_fail("snpctl", "verify", "unexpected argument '%s'", argv[optind]);
	if (!a->report)
		return cli_fail("snpctl", "verify", "--report FILE is required");
	if (a->chain && (a->ask || a->ark))
		return cli_fail("snpctl", "verify", "--chain replaces --ask and --ark");
	return 0;
}

int snpctl_verify(struct cli *cli, int argc, char **argv)
{
	struct verify_args a = {.now = time(NULL)};
	int r = parse_verify_args(argc, argv, &a);
	if (r)
		return r == 1 ? 0 : r;
	a.json |= cli->json;
	struct snp_verify_input in = {.now = a.now, .policy = &a.pol};
	_cleanup_free_ uint8_t *report = NULL;
	_cleanup_free_ struct attest_result *res = NULL;
	X509 *trusted = NULL;
	if ((r = read_input("verify", a.report, REPORT_FILE_MAX, &report, &in.report_len)))
		return r;
	in.report = report;
	if (a.product && snp_product_from_name(a.product, &in.product) < 0) {
		r = cli_fail("snpctl", "verify", "--product: unknown '%s' (Milan, Genoa, Turin)",
			       a.product);
		goto out;
	}
	if ((a.vcek && (r = load_cert(a.vcek, &in.vek))) || (a.ask && (r = load_cert(a.ask, &in.ask))) ||
	    (a.ark && (r = load_cert(a.ark, &in.ark))) ||
	    (a.trust && (r = load_cert(a.trust, &trusted))))
		goto out;
	if (a.chain) {
		_cleanup_free_ uint8_t *pem = NULL;
		size_t len;
		char err[256];
		if ((r = read_input("verify", a.chain, AMD_CERT_MAX_SIZE, &pem, &len)))
			goto out;
		if (amd_cert_chain_parse(pem, len, &in.ask, &in.ark, err, sizeof(err)) < 0) {
			r = cli_fail("snpctl", "verify", "%s: %s", a.chain, err);
			goto out;
		}
	}
	if (trusted) {
		in.trusted = &trusted;
		in.n_trusted = 1;
	}
	if (a.crl) {
		_cleanup_free_ uint8_t *der = NULL;
		size_t len;
		char err[256];
		if ((r = read_input("verify", a.crl, AMD_CRL_MAX_SIZE, &der, &len)))
			goto out;
		if (amd_crl_parse(der, len, &in.crl, err, sizeof(err)) < 0) {
			r = cli_fail("snpctl", "verify", "%s: %s", a.crl, err);
			goto out;
		}
	}
	res = calloc(1, sizeof(*res));
	if (!res) {
		r = 2;
		goto out;
	}
	snp_verify(&in, res);
	if (a.json) {
		json_object *j = attest_result_json(res);
		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(j);
	} else {
		print_result(res);
	}
	r = attest_ok(res) ? 0 : 1;
out:
	X509_free(in.vek);
	X509_free(in.ask);
	X509_free(in.ark);
	X509_free(trusted);
	X509_CRL_free(in.crl);
	return r;
}

int snpctl_report(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"product", required_argument, NULL, 'p'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *product = NULL;
	bool json = cli->json;
	int o;
	optind = 0; /* 0: GNU getopt reinitialises (argument permutation state included) */
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'p': product = optarg; break;
		case 'j': json = true; break;
		case 'h': fputs(snpctl_report_usage, stdout); return 0;
		default: fputs(snpctl_report_usage, stderr); return 2;
		}
	}
	if (argc - optind != 2 || !streq(argv[optind], "show"))
		return cli_fail("snpctl", "report", "want 'report show FILE'; see 'snpctl report --help'");
	enum snp_product p = SNP_PRODUCT_UNKNOWN;
	if (product && snp_product_from_name(product, &p) < 0)
		return cli_fail("snpctl", "report", "--product: unknown '%s'", product);
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r = read_input("report", argv[optind + 1], REPORT_FILE_MAX, &buf, &len);
	if (r)
		return r;
	_cleanup_free_ struct snp_report *rep = calloc(1, sizeof(*rep));
	char err[256];
	if (!rep)
		return 2;
	if (snp_report_parse(buf, len, rep, err, sizeof(err)) < 0) {
		fprintf(stderr, "snpctl report: %s: %s\n", argv[optind + 1], err);
		return 1;
	}
	if (p == SNP_PRODUCT_UNKNOWN)
		p = snp_report_product(rep);
	json_object *j = snp_report_json(rep, p);
	if (json)
		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		cli_print_flat(j, NULL);
	json_object_put(j);
	return 0;
}
