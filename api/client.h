/* The REST client used by snpctl and tdxctl: HTTP over cocod's Unix socket with libcurl, and
 * the subcommand framework both CLIs share (wireguard-tools style). */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#define COCOD_DEFAULT_SOCKET "/run/cocod/cocod.sock"

struct cli {
	const char *prog;
	const char *socket; /* --socket, else $COCOD_SOCKET, else the default */
	bool json;
};

struct cli_command {
	const char *name;
	const char *summary;
	const char *usage; /* full --help text of the subcommand */
	int (*run)(struct cli *cli, int argc, char **argv);
};

/* Parse global options, pick the subcommand, handle --help everywhere. */
int cli_main(const char *prog, const char *description, const struct cli_command *cmds,
	     size_t n_cmds, int argc, char **argv);

/* GET/PUT/POST on cocod. On success *ret_status is the HTTP status and *ret_body the parsed
 * JSON (NULL for non-JSON bodies). Transport failures return -errno and print why. */
int cli_request(struct cli *cli, const char *method, const char *path, const char *body,
		long *ret_status, json_object **ret_body);
/* The same with any body (content_type) and the raw response: *ret_data is malloc'd and
 * NUL-terminated (NULL when empty), *ret_len its length without the NUL. */
int cli_request_raw(struct cli *cli, const char *method, const char *path,
		    const char *content_type, const void *body, size_t body_len, long *ret_status,
		    char **ret_data, size_t *ret_len);
/* Print a problem+json (or any error body) as "prog: title: detail". */
void cli_print_problem(struct cli *cli, long status, json_object *body);
/* Common per-subcommand option parsing: --json and --help; returns -1 on a bad option,
 * 1 when help was printed. */
int cli_parse_sub_options(struct cli *cli, const struct cli_command *cmd, int argc, char **argv);
/* "prog cmd: message" on stderr, for a subcommand's usage or input errors; returns 2 (the
 * exit status of bad usage). */
int cli_fail(const char *prog, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
