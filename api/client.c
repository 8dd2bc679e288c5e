#include "api/client.h"

#include <curl/curl.h>
#include <getopt.h>

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

int cli_request(struct cli *cli, const char *method, const char *path, const char *body,
		long *ret_status, json_object **ret_body)
{
	CURL *h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	char url[1024], errbuf[CURL_ERROR_SIZE] = "";
	snprintf(url, sizeof(url), "http://localhost%s", path);
	struct buf b = {0};
	struct curl_slist *hdrs = NULL;
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, cli->socket);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, cli->prog);
	if (body) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	}
	CURLcode rc = curl_easy_perform(h);
	int r = 0;
	if (rc != CURLE_OK) {
		if (b.overflow)
			fprintf(stderr, "%s: response from cocod exceeds %u bytes\n", cli->prog,
				CLI_MAX_RESPONSE);
		else if (rc == CURLE_COULDNT_CONNECT)
			fprintf(stderr,
				"%s: cannot connect to cocod at %s: %s\n"
				"%s: is cocod running? (systemctl status cocod, or --socket PATH)\n",
				cli->prog, cli->socket, errbuf[0] ? errbuf : curl_easy_strerror(rc),
				cli->prog);
		else
			fprintf(stderr, "%s: request to cocod failed: %s\n", cli->prog,
				errbuf[0] ? errbuf : curl_easy_strerror(rc));
		r = -EIO;
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, ret_status);
		*ret_body = b.data ? json_tokener_parse(b.data) : NULL;
	}
	free(b.data);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
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
		if (streq(cmds[i].name, name)) {
			curl_global_init(CURL_GLOBAL_DEFAULT);
			int r = cmds[i].run(&cli, argc - optind, argv + optind);
			curl_global_cleanup();
			return r;
		}
	fprintf(stderr, "%s: unknown command '%s'; see '%s --help'\n", prog, name, prog);
	return 2;
}
