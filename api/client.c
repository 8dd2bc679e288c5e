#include "api/client.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <getopt.h>
#include <stdarg.h>

#include "coco/util.h"

#define CLI_MAX_RESPONSE (16u << 20)

struct buf {
	char *data;
	size_t len;
	bool overflow;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t add = size * n;
	if (b->len + add > CLI_MAX_RESPONSE) {
		b->overflow = true;
		return 0;
	}
	char *nd = realloc(b->data, b->len + add + 1);
	if (!nd)
		return 0;
	memcpy(nd + b->len, p, add);
	b->data = nd;
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

/* libcurl, loaded on first use: `snpctl measure` and the other offline commands never pay
 * for its dynamic linking (a third of their start-up time). Only the soname's stable ABI is
 * used (libcurl4: these entry points since 7.x). */
static struct {
	void *dl;
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	void (*easy_cleanup)(CURL *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} lc;

static int load_curl(struct cli *cli)
{
	if (lc.dl)
		return 0;
	void *dl = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		fprintf(stderr, "%s: cannot load libcurl, needed to talk to cocod: %s\n"
				"%s: install it (apt-get install libcurl4)\n",
			cli->prog, dlerror(), cli->prog);
		return -ENOENT;
	}
	struct {
		void **fn;
		const char *name;
	} syms[] = {
		{(void **)&lc.easy_init, "curl_easy_init"},
		{(void **)&lc.easy_setopt, "curl_easy_setopt"},
		{(void **)&lc.easy_perform, "curl_easy_perform"},
		{(void **)&lc.easy_getinfo, "curl_easy_getinfo"},
		{(void **)&lc.easy_strerror, "curl_easy_strerror"},
		{(void **)&lc.easy_cleanup, "curl_easy_cleanup"},
		{(void **)&lc.slist_append, "curl_slist_append"},
		{(void **)&lc.slist_free_all, "curl_slist_free_all"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(syms); i++)
		if (!(*syms[i].fn = dlsym(dl, syms[i].name))) {
			fprintf(stderr, "%s: libcurl.so.4 lacks %s\n", cli->prog, syms[i].name);
			dlclose(dl);
			return -ENOENT;
		}
	lc.dl = dl;
	return 0;
}

int cli_request(struct cli *cli, const char *method, const char *path, const char *body,
		long *ret_status, json_object **ret_body)
{
	char *data = NULL;
	size_t len = 0;
	int r = cli_request_raw(cli, method, path, body ? "application/json" : NULL, body,
				body ? strlen(body) : 0, ret_status, &data, &len);
	if (r == 0)
		*ret_body = data ? json_tokener_parse(data) : NULL;
	free(data);
	return r;
}

int cli_request_raw(struct cli *cli, const char *method, const char *path,
		    const char *content_type, const void *body, size_t body_len, long *ret_status,
		    char **ret_data, size_t *ret_len)
{
	if (load_curl(cli) < 0)
		return -ENOENT;
	CURL *h = lc.easy_init();
	if (!h)
		return -ENOMEM;
	char url[1024], errbuf[CURL_ERROR_SIZE] = "";
	snprintf(url, sizeof(url), "http://localhost%s", path);
	struct buf b = {0};
	struct curl_slist *hdrs = NULL;
	lc.easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, cli->socket);
	lc.easy_setopt(h, CURLOPT_URL, url);
	lc.easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	lc.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	lc.easy_setopt(h, CURLOPT_WRITEDATA, &b);
	lc.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	lc.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	lc.easy_setopt(h, CURLOPT_TIMEOUT, 300L);
	lc.easy_setopt(h, CURLOPT_USERAGENT, cli->prog);
	if (body) {
		char ct[128];
		snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
		hdrs = lc.slist_append(hdrs, ct);
		lc.easy_setopt(h, CURLOPT_POSTFIELDS, body);
		lc.easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body_len);
		lc.easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	}
	CURLcode rc = lc.easy_perform(h);
	int r = 0;
	if (rc != CURLE_OK) {
		if (b.overflow)
			fprintf(stderr, "%s: response from cocod exceeds %u bytes\n", cli->prog,
				CLI_MAX_RESPONSE);
		else if (rc == CURLE_COULDNT_CONNECT)
			fprintf(stderr,
				"%s: cannot connect to cocod at %s: %s\n"
				"%s: is cocod running? (systemctl status cocod, or --socket PATH)\n",
				cli->prog, cli->socket, errbuf[0] ? errbuf : lc.easy_strerror(rc),
				cli->prog);
		else
			fprintf(stderr, "%s: request to cocod failed: %s\n", cli->prog,
				errbuf[0] ? errbuf : lc.easy_strerror(rc));
		r = -EIO;
	} else {
		lc.easy_getinfo(h, CURLINFO_RESPONSE_CODE, ret_status);
		*ret_data = b.data;
		*ret_len = b.len;
		b.data = NULL;
	}
	free(b.data);
	lc.slist_free_all(hdrs);
	lc.easy_cleanup(h);
	return r;
}

void cli_print_problem(struct cli *cli, long status, json_object *body)
{
	if (cli->json && body) {
		puts(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PRETTY));
		return;
	}
	json_object *t = NULL, *dt = NULL;
	if (body) {
		json_object_object_get_ex(body, "title", &t);
		json_object_object_get_ex(body, "detail", &dt);
	}
	fprintf(stderr, "%s: %s (HTTP %ld)%s%s\n", cli->prog,
		t ? json_object_get_string(t) : "request failed", status, dt ? ": " : "",
		dt ? json_object_get_string(dt) : "");
}

int cli_parse_sub_options(struct cli *cli, const struct cli_command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	optind = 1;
	int o;
	while ((o = getopt_long(argc, argv, "+jh", opts, NULL)) != -1) {
		switch (o) {
		case 'j': cli->json = true; break;
		case 'h': fputs(cmd->usage, stdout); return 1;
		default: fprintf(stderr, "%s", cmd->usage); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s %s: unexpected argument '%s'\n%s", cli->prog, cmd->name,
			argv[optind], cmd->usage);
		return -1;
	}
	return 0;
}

static void main_usage(FILE *f, const char *prog, const char *description,
		       const struct cli_command *cmds, size_t n)
{
	fprintf(f,
		"Usage: %s [--socket PATH] [--json] COMMAND [ARGS]\n\n%s\n\n"
		"Global options:\n"
		"  -s, --socket PATH   cocod's API socket (default $COCOD_SOCKET or %s)\n"
		"  -j, --json          print machine-readable JSON\n"
		"  -h, --help          show this help; COMMAND --help shows a command's help\n\n"
		"Commands:\n",
		prog, description, COCOD_DEFAULT_SOCKET);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-18s  %s\n", cmds[i].name, cmds[i].summary);
}

int cli_main(const char *prog, const char *description, const struct cli_command *cmds,
	     size_t n_cmds, int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct cli cli = {.prog = prog, .socket = getenv("COCOD_SOCKET")};
	if (!cli.socket || !*cli.socket)
		cli.socket = COCOD_DEFAULT_SOCKET;
	int o;
	while ((o = getopt_long(argc, argv, "+s:jh", opts, NULL)) != -1) {
		switch (o) {
		case 's': cli.socket = optarg; break;
		case 'j': cli.json = true; break;
		case 'h': main_usage(stdout, prog, description, cmds, n_cmds); return 0;
		default: main_usage(stderr, prog, description, cmds, n_cmds); return 2;
		}
	}
	if (optind >= argc) {
		main_usage(stderr, prog, description, cmds, n_cmds);
		return 2;
	}
	const char *name = argv[optind];
	if (streq(name, "help")) {
		main_usage(stdout, prog, description, cmds, n_cmds);
		return 0;
	}
	for (size_t i = 0; i < n_cmds; i++)
		if (streq(cmds[i].name, name))
			return cmds[i].run(&cli, argc - optind, argv + optind);
	fprintf(stderr, "%s: unknown command '%s'; see '%s --help'\n", prog, name, prog);
	return 2;
}

int cli_fail(const char *prog, const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s %s: ", prog, cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 2;
}
