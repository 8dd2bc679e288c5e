#pragma once
#include "api/client.h"

/* The `status` subcommand shared by snpctl and tdxctl: options, GET /v1/host, --json output;
 * print_human renders the TEE-specific summary. Returns the exit status. */
int cli_status_run(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
		   void (*print_human)(json_object *host));
/* GET /v1/host; on success returns 0 and the parsed object (caller puts it). Prints errors. */
int cli_get_host(struct cli *cli, json_object **ret);
/* Helpers for human-readable output of a host object. */
const char *cli_json_str(json_object *o, const char *path);
int cli_json_bool(json_object *o, const char *path); /* -1 when absent */
