#pragma once
#include "api/client.h"

/* The `status` subcommand shared by snpctl and tdxctl: options, GET /v1/host and the TEE's
 * live status (detail_path, e.g. /v1/snp/platform), --json output ({"host": ..., detail_key:
 * ... or null, detail_key"_problem": the problem document when it failed}); print_human
 * renders the summary (detail or problem is NULL). Returns the exit status. */
int cli_status_run(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
		   const char *detail_path, const char *detail_key,
		   void (*print_human)(json_object *host, json_object *detail,
				       json_object *problem));
/* GET /v1/host; on success returns 0 and the parsed object (caller puts it). Prints errors. */
int cli_get_host(struct cli *cli, json_object **ret);
/* Helpers for human-readable output of a host object. */
const char *cli_json_str(json_object *o, const char *path);
int cli_json_bool(json_object *o, const char *path); /* -1 when absent */
/* An integer member as a string ("unknown" when absent or not an integer). */
const char *cli_json_int_str(json_object *o, const char *path, char *buf, size_t n);
/* Print a JSON object as "path: value" lines (nested objects dotted, arrays indexed), for the
 * human output of documents such as attestation reports. prefix may be NULL. */
void cli_print_flat(json_object *o, const char *prefix);
