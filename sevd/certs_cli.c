/* snpctl certs ... and snpctl vlek ...: the certificate cache, the GHCB table and the VLEK
 * through cocod (GET/POST /v1/snp/certs, /v1/snp/certs/table, /v1/snp/certs/refresh,
 * /v1/snp/vlek). export/import use snphost's directory layout: ark.pem, ask.pem (asvk.pem),
 * vcek.pem (vlek.pem), or .der with --format der. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/cli_status.h"
#include "coco/snp/certtable.h"
#include "coco/util.h"
#include "sevd/snpctl.h"

const char snpctl_certs_usage[] =
	"Usage: snpctl [--socket PATH] certs show [--json]\n"
	"       snpctl [--socket PATH] certs fetch [--force] [--json]\n"
	"       snpctl [--socket PATH] certs table [-o FILE]\n"
	"       snpctl [--socket PATH] certs export DIR [--format pem|der]\n"
	"       snpctl [--socket PATH] certs import [--product P] FILE|DIR ...\n"
	"\n"
	"The SEV-SNP certificates cocod serves to guests (the GHCB certificate table of extended\n"
	"report requests) and their validated cache:\n"
	"  show     the cache (kind, TCB, source, expiry) and the table being served\n"
	"  fetch    fetch what the cache lacks from AMD's KDS now (--force: everything again);\n"
	"           exit 0 only when the table is complete (role operator)\n"
	"  table    write the GHCB table blob (to FILE, or to stdout when it is not a terminal)\n"
	"  export   write the served chain to DIR as snphost does: ark, ask|asvk, vcek|vlek\n"
	"           (.pem, or .der with --format der)\n"
	"  import   add certificates to the cache (role admin), validated like fetched ones:\n"
	"           files named ark/ask/asvk/vcek/vlek/crl(.pem|.der|.cert|.crt), or directories\n"
	"           of them (snphost's layout); imported root first, then ASK/ASVK, then VEK\n"
	"Exit status: 0 success, 1 failure (cocod's reason printed), 2 usage error.\n";

const char snpctl_vlek_usage[] =
	"Usage: snpctl [--socket PATH] vlek load FILE [--json]\n"
	"       snpctl [--socket PATH] vlek status [--json]\n"
	"       snpctl [--socket PATH] vlek forget [--json]\n"
	"\n"
	"The Versioned Loaded Endorsement Key (role admin for load/forget):\n"
	"  load     SNP_VLEK_LOAD of a 432-byte wrapped hashstick from your cloud provider's KDS\n"
	"           interface. Its TCB must equal the platform's reported TCB. cocod keeps it\n"
	"           (0600, in its state store) and loads it again after a restart or a firmware\n"
	"           reset; the certificate table switches to the VLEK chain.\n"
	"  status   whether the firmware has a VLEK and which hashstick cocod keeps\n"
	"  forget   cocod no longer keeps (nor reloads) the hashstick; the firmware keeps a\n"
	"           loaded VLEK until its next reset\n"
	"The hashstick's bytes are never printed or logged.\n";

/* A member as text whatever its JSON type ("-" when absent), in a rotating static buffer. */
static const char *jv(json_object *o, const char *path)
{
	static char bufs[4][64];
	static unsigned k;
	char *b = bufs[k++ % 4];
	const char *s = cli_json_str(o, path);
	if (s)
		return s;
	int v = cli_json_bool(o, path);
	if (v >= 0)
		return v ? "true" : "false";
	return cli_json_int_str(o, path, b, 64) == b ? b : "-";
}

static int request_json(struct cli *cli, const char *method, const char *path, const char *body,
			json_object **ret)
{
	long status = 0;
	json_object *b = NULL;
	if (cli_request(cli, method, path, body, &status, &b) < 0)
		return 1;
	if (status < 200 || status > 299) {
		cli_print_problem(cli, status, b);
		json_object_put(b);
		return 1;
	}
	*ret = b;
	return 0;
}

static void print_table_state(json_object *o)
{
	printf("table: %s", jv(o, "table.path"));
	if (cli_json_bool(o, "table.served") != 1) {
		printf(" (not served yet)\n");
	} else {
		printf("\n  chain: %s, %s entries, %s bytes, reported TCB %s, %s\n",
		       jv(o, "table.chain"), jv(o, "table.entries"),
		       jv(o, "table.size"), jv(o, "table.reported_tcb"),
		       cli_json_bool(o, "table.complete") == 1 ? "complete" : "INCOMPLETE");
	}
	json_object *t, *m;
	if (json_object_object_get_ex(o, "table", &t) && json_object_object_get_ex(t, "missing", &m))
		for (size_t i = 0; i < json_object_array_length(m); i++)
			printf("  missing: %s\n", json_object_get_string(json_object_array_get_idx(m, i)));
	const char *fe = jv(o, "table.last_fetch_error");
	if (fe && *fe && !streq(fe, "-"))
		printf("  last fetch: %s\n", fe);
}

static int certs_show(struct cli *cli)
{
	json_object *o;
	if (request_json(cli, "GET", "/v1/snp/certs", NULL, &o))
		return 1;
	if (cli->json) {
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
		return 0;
	}
	if (cli_json_bool(o, "active") != 1)
		printf("SEV-SNP: inactive: %s\n", jv(o, "inactive_reason"));
	else
		printf("product: %s, certificates from %s\n", jv(o, "product"),
		       jv(o, "kds"));
	print_table_state(o);
	json_object *a;
	if (json_object_object_get_ex(o, "certificates", &a)) {
		printf("%-5s %-6s %-18s %-8s %-11s %s\n", "KIND", "PRODUCT", "TCB", "SOURCE",
		       "EXPIRES", "SHA-256");
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			json_object *c = json_object_array_get_idx(a, i);
			const char *exp = jv(c, "not_after");
			if (!exp || streq(exp, "-"))
				exp = jv(c, "next_update");
			char day[16] = "-";
			time_t t = (time_t)atoll(exp);
			struct tm tm;
			if (t && gmtime_r(&t, &tm))
				strftime(day, sizeof(day), "%Y-%m-%d", &tm);
			const char *tcb = jv(c, "tcb");
			printf("%-5s %-6s %-18s %-8s %-11s %.16s...\n", jv(c, "kind"),
			       jv(c, "product"), tcb && !streq(tcb, "-") ? tcb : "",
			       jv(c, "source"), day, jv(c, "sha256"));
		}
	}
	json_object_put(o);
	return 0;
}

static int certs_fetch(struct cli *cli, bool force)
{
	json_object *o;
	if (request_json(cli, "POST", "/v1/snp/certs/refresh", force ? "{\"force\":true}" : NULL,
			 &o))
		return 1;
	if (cli->json)
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	else {
		printf("fetched %s certificate(s)\n", jv(o, "fetched"));
		print_table_state(o);
	}
	json_object_put(o);
	return 0;
}

static int get_table(struct cli *cli, char **ret, size_t *ret_len)
{
	long status = 0;
	if (cli_request_raw(cli, "GET", "/v1/snp/certs/table", NULL, NULL, 0, &status, ret,
			    ret_len) < 0)
		return 1;
	if (status != 200) {
		json_object *b = *ret ? json_tokener_parse(*ret) : NULL;
		cli_print_problem(cli, status, b);
		json_object_put(b);
		free(*ret);
		return 1;
	}
	return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		c += w, n -= (size_t)w;
	}
	return 0;
}

static int certs_table(struct cli *cli, const char *out)
{
	if (!out && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "snpctl certs table: the table is binary; use -o FILE or a pipe\n");
		return 2;
	}
	char *t;
	size_t n;
	if (get_table(cli, &t, &n))
		return 1;
	int fd = out ? open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : STDOUT_FILENO;
	int r = fd < 0 ? -errno : write_all(fd, t, n);
	if (out && fd >= 0 && close(fd) < 0 && r == 0)
		r = -errno;
	free(t);
	if (r < 0) {
		fprintf(stderr, "snpctl certs table: %s: %s\n", out ? out : "stdout", strerror(-r));
		return 1;
	}
	return 0;
}

static const char *entry_name(enum snp_cert_kind k, bool vlek_chain)
{
	switch (k) {
	case SNP_CERT_ARK: return "ark";
	case SNP_CERT_ASK: return vlek_chain ? "asvk" : "ask";
	case SNP_CERT_VCEK: return "vcek";
	case SNP_CERT_VLEK: return "vlek";
	case SNP_CERT_CRL: return "crl";
	default: return NULL;
	}
}

static int certs_export(struct cli *cli, const char *dir, bool der)
{
	char *t;
	size_t n;
	if (get_table(cli, &t, &n))
		return 1;
	struct snp_cert_entry e[SNP_CERT_TABLE_MAX_ENTRIES];
	size_t ne;
	char err[160];
	int ret = 1;
	if (snp_cert_table_decode((const uint8_t *)t, n, e, SNP_CERT_TABLE_MAX_ENTRIES, &ne, err,
				  sizeof(err)) < 0) {
		fprintf(stderr, "snpctl certs export: cocod's table does not decode: %s\n", err);
		goto out;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "snpctl certs export: %s: %s\n", dir, strerror(errno));
		goto out;
	}
	bool vlek = false;
	for (size_t i = 0; i < ne; i++)
		vlek |= e[i].kind == SNP_CERT_VLEK;
	for (size_t i = 0; i < ne; i++) {
		const char *name = entry_name(e[i].kind, vlek);
		if (!name)
			continue;
		bool crl = e[i].kind == SNP_CERT_CRL;
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s.%s", dir, name, der || crl ? "der" : "pem");
		FILE *f = fopen(path, "we");
		if (!f) {
			fprintf(stderr, "snpctl certs export: %s: %s\n", path, strerror(errno));
			goto out;
		}
		int ok;
		if (der || crl) {
			ok = fwrite(e[i].data, 1, e[i].len, f) == e[i].len;
		} else {
			const uint8_t *p = e[i].data;
			X509 *x = d2i_X509(NULL, &p, (long)e[i].len);
			ok = x && PEM_write_X509(f, x) == 1;
			X509_free(x);
		}
		if (fclose(f) != 0 || !ok) {
			fprintf(stderr, "snpctl certs export: cannot write %s\n", path);
			goto out;
		}
		if (!cli->json)
			printf("%s\n", path);
	}
	ret = 0;
out:
	free(t);
	return ret;
}

/* ark < ask/asvk < vcek/vlek < crl: the order the cache validates in. */
static int kind_rank(const char *kind)
{
	static const char *const order[] = {"ark", "ask", "asvk", "vcek", "vlek", "crl"};
	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		if (streq(kind, order[i]))
			return (int)i;
	return -1;
}

/* "…/vcek.pem" -> "vcek"; NULL for other names. */
static const char *kind_of_file(const char *path, char buf[8])
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t l = strcspn(base, ".");
	if (l == 0 || l >= 8)
		return NULL;
	memcpy(buf, base, l);
	buf[l] = '\0';
	const char *ext = base + l;
	if (*ext && !streq(ext, ".pem") && !streq(ext, ".der") && !streq(ext, ".cert") &&
	    !streq(ext, ".crt"))
		return NULL;
	return kind_rank(buf) >= 0 ? buf : NULL;
}

struct import_item {
	char path[4200];
	char kind[8];
};

static int add_item(struct import_item *items, size_t *n, const char *path, bool strict)
{
	char k[8];
	if (!kind_of_file(path, k)) {
		if (strict) {
			fprintf(stderr,
				"snpctl certs import: %s: name it ark, ask, asvk, vcek, vlek or crl "
				"(.pem/.der)\n",
				path);
			return -1;
		}
		return 0;
	}
	if (*n >= 64) {
		fprintf(stderr, "snpctl certs import: at most 64 files\n");
		return -1;
	}
	snprintf(items[*n].path, sizeof(items[*n].path), "%s", path);
	snprintf(items[*n].kind, sizeof(items[*n].kind), "%s", k);
	(*n)++;
	return 0;
}

static int cmp_items(const void *a, const void *b)
{
	return kind_rank(((const struct import_item *)a)->kind) -
	       kind_rank(((const struct import_item *)b)->kind);
}

static int certs_import(struct cli *cli, const char *product, char **paths, int n_paths)
{
	static struct import_item items[64];
	size_t n = 0;
	for (int i = 0; i < n_paths; i++) {
		struct stat st;
		if (stat(paths[i], &st) < 0) {
			fprintf(stderr, "snpctl certs import: %s: %s\n", paths[i], strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (add_item(items, &n, paths[i], true) < 0)
				return 2;
			continue;
		}
		static const char *const names[] = {"ark", "ask", "asvk", "vcek", "vlek", "crl"};
		static const char *const exts[] = {".pem", ".der", ".cert", ".crt"};
		for (size_t a = 0; a < ARRAY_SIZE(names); a++)
			for (size_t b = 0; b < ARRAY_SIZE(exts); b++) {
				char p[4200];
				snprintf(p, sizeof(p), "%s/%s%s", paths[i], names[a], exts[b]);
				if (access(p, R_OK) == 0 && add_item(items, &n, p, false) < 0)
					return 2;
			}
	}
	if (n == 0) {
		fprintf(stderr, "snpctl certs import: no certificate files found\n");
		return 2;
	}
	qsort(items, n, sizeof(items[0]), cmp_items);
	json_object *req = json_object_new_object(), *list = json_object_new_array();
	json_object_object_add(req, "certificates", list);
	int ret = 1;
	for (size_t i = 0; i < n; i++) {
		char *buf;
		size_t len;
		int r = read_file_max(items[i].path, 1 << 20, &buf, &len);
		if (r < 0) {
			fprintf(stderr, "snpctl certs import: %s: %s\n", items[i].path, strerror(-r));
			goto out;
		}
		json_object *c = json_object_new_object();
		json_object_object_add(c, "kind", json_object_new_string(items[i].kind));
		if (product)
			json_object_object_add(c, "product", json_object_new_string(product));
		if (memmem(buf, len, "-----BEGIN", 10)) {
			json_object_object_add(c, "pem", json_object_new_string_len(buf, (int)len));
		} else {
			char *b64 = base64_encode((const uint8_t *)buf, len);
			json_object_object_add(c, "der_base64", json_object_new_string(b64 ? b64 : ""));
			free(b64);
		}
		free(buf);
		json_object_array_add(list, c);
	}
	json_object *o;
	if (request_json(cli, "POST", "/v1/snp/certs", json_object_to_json_string(req), &o))
		goto out;
	if (cli->json) {
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	} else {
		for (size_t i = 0; i < n; i++)
			printf("imported %s (%s)\n", items[i].path, items[i].kind);
		print_table_state(o);
	}
	json_object_put(o);
	ret = 0;
out:
	json_object_put(req);
	return ret;
}

int snpctl_certs(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
		fputs(snpctl_certs_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	static const struct option opts[] = {
		{"force", no_argument, NULL, 'f'},   {"json", no_argument, NULL, 'j'},
		{"output", required_argument, NULL, 'o'}, {"format", required_argument, NULL, 'F'},
		{"product", required_argument, NULL, 'p'}, {"help", no_argument, NULL, 'h'},
		{0},
	};
	bool force = false, der = false;
	const char *out = NULL, *product = NULL;
	int o;
	optind = 1;
	while ((o = getopt_long(argc - 1, argv + 1, "o:", opts, NULL)) != -1) {
		switch (o) {
		case 'f': force = true; break;
		case 'j': cli->json = true; break;
		case 'o': out = optarg; break;
		case 'p': product = optarg; break;
		case 'F':
			if (streq(optarg, "der"))
				der = true;
			else if (!streq(optarg, "pem")) {
				fprintf(stderr, "snpctl certs: --format pem or der, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h': fputs(snpctl_certs_usage, stdout); return 0;
		default: fputs(snpctl_certs_usage, stderr); return 2;
		}
	}
	char **rest = argv + 1 + optind;
	int n_rest = argc - 1 - optind;
	if (streq(sub, "show") && n_rest == 0)
		return certs_show(cli);
	if (streq(sub, "fetch") && n_rest == 0)
		return certs_fetch(cli, force);
	if (streq(sub, "table") && n_rest == 0)
		return certs_table(cli, out);
	if (streq(sub, "export") && n_rest == 1)
		return certs_export(cli, rest[0], der);
	if (streq(sub, "import") && n_rest >= 1)
		return certs_import(cli, product, rest, n_rest);
	fprintf(stderr, "snpctl certs: unknown subcommand or wrong arguments; see 'snpctl certs "
			"--help'\n");
	return 2;
}

int snpctl_vlek(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
		fputs(snpctl_vlek_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	const char *file = NULL;
	for (int i = 2; i < argc; i++) {
		if (streq(argv[i], "--json"))
			cli->json = true;
		else if (streq(argv[i], "--help") || streq(argv[i], "-h")) {
			fputs(snpctl_vlek_usage, stdout);
			return 0;
		} else if (!file && argv[i][0] != '-')
			file = argv[i];
		else {
			fprintf(stderr, "snpctl vlek: unexpected argument '%s'\n", argv[i]);
			return 2;
		}
	}
	json_object *o = NULL;
	if (streq(sub, "load") && file) {
		char *buf;
		size_t len;
		int r = read_file_max(file, 4096, &buf, &len);
		if (r < 0) {
			fprintf(stderr, "snpctl vlek load: %s: %s\n", file, strerror(-r));
			return 1;
		}
		if (len != 432) {
			fprintf(stderr, "snpctl vlek load: %s: %zu bytes; a wrapped hashstick is 432\n",
				file, len);
			explicit_bzero(buf, len);
			free(buf);
			return 1;
		}
		long status = 0;
		char *data = NULL;
		size_t dlen = 0;
		r = cli_request_raw(cli, "POST", "/v1/snp/vlek", "application/octet-stream", buf,
				    len, &status, &data, &dlen);
		explicit_bzero(buf, len);
		free(buf);
		if (r < 0)
			return 1;
		o = data ? json_tokener_parse(data) : NULL;
		free(data);
		if (status != 200) {
			cli_print_problem(cli, status, o);
			json_object_put(o);
			return 1;
		}
		if (!cli->json)
			printf("VLEK loaded for TCB %s (operation %s)%s\n", jv(o, "tcb"),
			       jv(o, "operation"),
			       cli_json_bool(o, "kept") == 1 ? "; kept for restarts" : "");
	} else if (streq(sub, "status") && !file) {
		if (request_json(cli, "GET", "/v1/snp/vlek", NULL, &o))
			return 1;
		if (!cli->json) {
			printf("VLEK loaded in firmware: %s (reported TCB %s)\n",
			       cli_json_bool(o, "loaded") == 1 ? "yes" : "no",
			       jv(o, "reported_tcb"));
			const char *k = jv(o, "kept.tcb");
			if (k && !streq(k, "-"))
				printf("kept hashstick: TCB %s, loaded by %s\n", k,
				       jv(o, "kept.loaded_by"));
			else
				printf("kept hashstick: none\n");
		}
	} else if (streq(sub, "forget") && !file) {
		if (request_json(cli, "DELETE", "/v1/snp/vlek", NULL, &o))
			return 1;
		if (!cli->json)
			printf("forgotten: %s\n", jv(o, "note"));
	} else {
		fprintf(stderr, "snpctl vlek: expected 'load FILE', 'status' or 'forget'; see "
				"'snpctl vlek --help'\n");
		return 2;
	}
	if (cli->json)
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	json_object_put(o);
	return 0;
}
