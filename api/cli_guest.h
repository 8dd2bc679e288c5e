/* `snpctl guest ...` and `tdxctl guest ...`: confidential guests through cocod (POST/GET/DELETE
 * /v1/guests). One implementation; the CLI's TEE is the one launches use. */
#pragma once
#include "api/client.h"

extern const char cli_guest_usage_snp[];
extern const char cli_guest_usage_tdx[];

/* argv[0] is "guest"; tee "snp" or "tdx". Exit status: 0, 1 (cocod refused: reason printed),
 * 2 (usage). */
int cli_guest_run(struct cli *cli, const char *tee, int argc, char **argv);
