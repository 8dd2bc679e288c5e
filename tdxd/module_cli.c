/* tdxctl module list|plan|update|history: runtime TDX module updates through cocod
 * (GET /v1/tdx/module/candidates, POST and GET /v1/tdx/module/updates, GET /v1/operations).
 * Exit status: 0 ok (for update: only a verified update, or a dry run / plan that passes),
 * 1 refused or failed (the failed checks are named), 2 usage, 3 cocod cannot be reached. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/cli_status.h"
#include "coco/util.h"
#include "tdxd/tdxctl.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

const char tdxctl_module_usage[] =
	"Usage: tdxctl module list [--allow-debug] [--reinstall] [--json]\n"
	"       tdxctl module plan [VERSION|latest] [--allow-debug] [--reinstall] [--json]\n"
	"       tdxctl module update [VERSION|latest] [--dry-run] [--allow-debug] [--reinstall]\n"
	"                            [--yes] [--no-wait] [--json]\n"
	"       tdxctl module history [--limit N] [--json]\n"
	"\n"
	"Runtime TDX module updates through cocod (role admin for update).\n"
	"  list     every module in cocod's module store, whether it is eligible and every\n"
	"           reason against it; '*' marks what an update would load\n"
	"  plan     the full preflight for VERSION (default: the highest eligible or the pinned\n"
	"           one) without changing anything; exit 1 naming the failed checks\n"
	"  update   run the update and follow it step by step; exit 0 only when the post-check\n"
	"           read the target version. Asks for confirmation on a terminal unless --yes;\n"
	"           --no-wait prints the operation and returns; --dry-run is plan\n"
	"  history  the update journal, newest first\n"
	"Runtime updates do not survive a reboot: the boot-time module comes back.\n"
	"Exit status: 0 ok, 1 refused or failed, 2 usage, 3 cocod cannot be reached.\n";

enum { OPT_ALLOW_DEBUG = 256, OPT_REINSTALL, OPT_DRY_RUN, OPT_YES, OPT_NO_WAIT, OPT_LIMIT };

struct margs {
	const char *what, *version;
	bool allow_debug, reinstall, dry_run, yes, no_wait, json;
	unsigned long limit;
};

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("tdxctl module: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nsee 'tdxctl module --help'\n", stderr);
	return EXIT_USAGE;
}

static int parse(int argc, char **argv, struct margs *a)
{
	static const struct option opts[] = {
		{"allow-debug", no_argument, NULL, OPT_ALLOW_DEBUG},
		{"reinstall", no_argument, NULL, OPT_REINSTALL},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"yes", no_argument, NULL, OPT_YES},
		{"no-wait", no_argument, NULL, OPT_NO_WAIT},
		{"limit", required_argument, NULL, OPT_LIMIT},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	optind = 0;
	opterr = 0;
	int o;
	uint64_t n;
	while ((o = getopt_long(argc, argv, "jhy", opts, NULL)) != -1) {
		switch (o) {
		case OPT_ALLOW_DEBUG: a->allow_debug = true; break;
		case OPT_REINSTALL: a->reinstall = true; break;
		case OPT_DRY_RUN: a->dry_run = true; break;
		case 'y':
		case OPT_YES: a->yes = true; break;
		case OPT_NO_WAIT: a->no_wait = true; break;
		case OPT_LIMIT:
			if (parse_uint(optarg, 1000, &n) < 0 || n == 0)
				return usage("--limit: '%s' is not a count in 1..1000", optarg);
			a->limit = (unsigned long)n;
			break;
		case 'j': a->json = true; break;
		case 'h': fputs(tdxctl_module_usage, stdout); return -1;
		default: return usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage("what? list, plan, update or history");
	a->what = argv[optind++];
	if (optind < argc)
		a->version = argv[optind++];
	if (optind < argc)
		return usage("unexpected argument '%s'", argv[optind]);
	return 0;
}

/* One request; EXIT_UNREACHABLE on transport failure (already printed). */
static int request(struct cli *cli, const char *method, const char *path, const char *body,
		   long *status, json_object **ret)
{
	*ret = NULL;
	return cli_request(cli, method, path, body, status, ret) < 0 ? EXIT_UNREACHABLE : 0;
}

static json_object *member(json_object *o, const char *k)
{
	json_object *v = NULL;
	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *str(json_object *o, const char *k)
{
	json_object *v = member(o, k);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
}

/* GET a document: printed as JSON (and *ret NULL) with --json, else handed back. */
static int get_doc(struct cli *cli, const struct margs *a, const char *path, json_object **ret)
{
	long st;
	json_object *o;
	*ret = NULL;
	int r = request(cli, "GET", path, NULL, &st, &o);
	if (r)
		return r;
	if (st != 200) {
		cli_print_problem(cli, st, o);
		json_object_put(o);
		return EXIT_REFUSED;
	}
	if (a->json) {
		print_json(o);
		json_object_put(o);
		return 0;
	}
	*ret = o;
	return 0;
}

static int cmd_list(struct cli *cli, const struct margs *a)
{
	char path[160];
	snprintf(path, sizeof(path), "/v1/tdx/module/candidates?allow_debug=%s&reinstall=%s",
		 a->allow_debug ? "true" : "false", a->reinstall ? "true" : "false");
	json_object *o;
	int r = get_doc(cli, a, path, &o);
	if (r || !o)
		return r;
	printf("running %s (P-SEAMLDR %s); module store %s\n", str(o, "current"),
	       str(o, "seamldr"), str(o, "module_dir"));
	json_object *c = member(o, "candidates");
	printf("  %-10s %-9s %s\n", "VERSION", "ELIGIBLE", "WHY NOT");
	for (size_t i = 0; c && i < json_object_array_length(c); i++) {
		json_object *e = json_object_array_get_idx(c, i);
		bool tgt = json_object_get_boolean(member(e, "target"));
		bool ok = json_object_get_boolean(member(e, "eligible"));
		const char *d = str(e, "detail");
		printf("%c %-10s %-9s %s\n", tgt ? '*' : ' ', str(e, "version"), ok ? "yes" : "no",
		       d ? d : "");
	}
	const char *none = str(o, "why_none");
	if (none)
		printf("no update target: %s\n", none);
	json_object_put(o);
	return 0;
}

static void print_checks(json_object *rep)
{
	json_object *c = member(rep, "checks");
	for (size_t i = 0; c && i < json_object_array_length(c); i++) {
		json_object *e = json_object_array_get_idx(c, i);
		const char *d = str(e, "detail");
		printf("  %-18s %-8s%s%s\n", str(e, "name"), str(e, "result"), d ? " " : "",
		       d ? d : "");
	}
}

static void failed_checks(json_object *rep, char *out, size_t len)
{
	json_object *f = member(rep, "failed_checks");
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; f && i < json_object_array_length(f) && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%s", i ? ", " : "",
				      json_object_get_string(json_object_array_get_idx(f, i)));
}

static void update_body(const struct margs *a, bool dry, char *out, size_t len)
{
	json_object *b = json_object_new_object();
	json_object_object_add(b, "version", json_object_new_string(a->version ? a->version
									       : "latest"));
	json_object_object_add(b, "dry_run", json_object_new_boolean(dry));
	json_object_object_add(b, "allow_debug", json_object_new_boolean(a->allow_debug));
	json_object_object_add(b, "reinstall", json_object_new_boolean(a->reinstall));
	snprintf(out, len, "%s", json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN));
	json_object_put(b);
}

static int cmd_plan(struct cli *cli, const struct margs *a)
{
	char body[256];
	update_body(a, true, body, sizeof(body));
	long st;
	json_object *o;
	int r = request(cli, "POST", "/v1/tdx/module/updates", body, &st, &o);
	if (r)
		return r;
	if (st != 200) {
		cli_print_problem(cli, st, o);
		json_object_put(o);
		return st == 400 || st == 422 ? EXIT_USAGE : EXIT_REFUSED;
	}
	bool ok = streq(str(o, "outcome") ? str(o, "outcome") : "", "planned");
	if (a->json) {
		print_json(o);
	} else {
		printf("%s\n", str(o, "message"));
		print_checks(o);
	}
	if (!ok) {
		char f[256];
		failed_checks(o, f, sizeof(f));
		fprintf(stderr, "tdxctl module: refused: failed checks: %s\n", f);
	}
	json_object_put(o);
	return ok ? 0 : EXIT_REFUSED;
}

static bool confirm(const struct margs *a)
{
	if (a->yes)
		return true;
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "tdxctl module update: not a terminal: pass --yes to update\n");
		return false;
	}
	printf("Update the TDX module to %s? TD launches wait while it runs. [y/N] ",
	       a->version ? a->version : "the highest eligible version");
	fflush(stdout);
	char line[16];
	return fgets(line, sizeof(line), stdin) && (line[0] == 'y' || line[0] == 'Y');
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* Follow the operation to its end, printing each new step; returns the final operation. */
static int follow(struct cli *cli, const char *id, bool quiet, json_object **ret)
{
	char path[96], last[256] = "";
	snprintf(path, sizeof(path), "/v1/operations/%s", id);
	for (;;) {
		long st;
		json_object *op;
		int r = request(cli, "GET", path, NULL, &st, &op);
		if (r)
			return r;
		if (st != 200) {
			cli_print_problem(cli, st, op);
			json_object_put(op);
			return EXIT_REFUSED;
		}
		const char *state = str(op, "state"), *msg = str(op, "message");
		if (!quiet && msg && !streq(msg, last)) {
			json_object *pr = member(op, "progress");
			printf("  [%3d%%] %s\n", pr ? json_object_get_int(pr) : 0, msg);
			fflush(stdout);
			snprintf(last, sizeof(last), "%s", msg);
		}
		if (state && (streq(state, "succeeded") || streq(state, "failed"))) {
			*ret = op;
			return 0;
		}
		json_object_put(op);
		sleep_ms(200);
	}
}

static int cmd_update(struct cli *cli, const struct margs *a)
{
	if (a->dry_run)
		return cmd_plan(cli, a);
	if (!confirm(a))
		return EXIT_USAGE;
	char body[256];
	update_body(a, false, body, sizeof(body));
	long st;
	json_object *o;
	int r = request(cli, "POST", "/v1/tdx/module/updates", body, &st, &o);
	if (r)
		return r;
	if (st != 202) {
		cli_print_problem(cli, st, o);
		json_object_put(o);
		return st == 400 || st == 422 ? EXIT_USAGE : EXIT_REFUSED;
	}
	char id[40];
	snprintf(id, sizeof(id), "%s", str(o, "operation") ? str(o, "operation") : "");
	json_object_put(o);
	if (a->no_wait) {
		if (a->json) {
			json_object *j = json_object_new_object();
			json_object_object_add(j, "operation", json_object_new_string(id));
			print_json(j);
			json_object_put(j);
		} else {
			printf("update started: operation %s (tdxctl module history, or GET "
			       "/v1/operations/%s)\n",
			       id, id);
		}
		return 0;
	}
	if (!a->json)
		printf("update started: operation %s\n", id);
	json_object *op = NULL;
	if ((r = follow(cli, id, a->json, &op)))
		return r;
	json_object *res = member(op, "result");
	bool ok = streq(str(op, "state"), "succeeded") && res &&
		  streq(str(res, "outcome") ? str(res, "outcome") : "", "updated");
	if (a->json) {
		print_json(op);
	} else {
		printf("%s: %s\n", ok ? "updated" : "FAILED", str(op, "message"));
		if (!ok && res)
			print_checks(res);
	}
	if (!ok) {
		char f[256] = "";
		if (res)
			failed_checks(res, f, sizeof(f));
		fprintf(stderr, "tdxctl module update: %s%s%s\n",
			res && str(res, "outcome") ? str(res, "outcome") : "failed",
			f[0] ? ": failed checks: " : "", f);
	}
	json_object_put(op);
	return ok ? 0 : EXIT_REFUSED;
}

static int cmd_history(struct cli *cli, const struct margs *a)
{
	char path[96];
	snprintf(path, sizeof(path), "/v1/tdx/module/updates?limit=%lu", a->limit ? a->limit : 20);
	json_object *o;
	int r = get_doc(cli, a, path, &o);
	if (r || !o)
		return r;
	json_object *u = member(o, "updates");
	if (!u || !json_object_array_length(u))
		printf("no module updates journaled\n");
	for (size_t i = 0; u && i < json_object_array_length(u); i++) {
		json_object *e = json_object_array_get_idx(u, i);
		time_t t = (time_t)json_object_get_int64(member(e, "started"));
		char when[32];
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime(&t));
		const char *d = str(e, "detail");
		printf("%s UTC  %s -> %s  %-9s %s\n", when, str(e, "from"), str(e, "target"),
		       str(e, "state"), d ? d : "");
	}
	json_object_put(o);
	return 0;
}

int tdxctl_module(struct cli *cli, int argc, char **argv)
{
	struct margs a = {0};
	int r = parse(argc, argv, &a);
	if (r)
		return r < 0 ? 0 : r;
	a.json |= cli->json;
	if (a.version && !streq(a.what, "plan") && !streq(a.what, "update"))
		return usage("%s takes no version", a.what);
	if (streq(a.what, "list"))
		return cmd_list(cli, &a);
	if (streq(a.what, "plan"))
		return cmd_plan(cli, &a);
	if (streq(a.what, "update"))
		return cmd_update(cli, &a);
	if (streq(a.what, "history"))
		return cmd_history(cli, &a);
	return usage("unknown command '%s' (list, plan, update, history)", a.what);
}
