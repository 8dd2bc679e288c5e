#pragma once
#include "api/client.h"

/* GET /v1/host; on success returns 0 and the parsed object (caller puts it). Prints errors. */
int cli_get_host(struct cli *cli, json_object **ret);
/* Helpers for human-readable output of a host object. */
const char *cli_json_str(json_object *o, const char *path);
int cli_json_bool(json_object *o, const char *path); /* -1 when absent */
