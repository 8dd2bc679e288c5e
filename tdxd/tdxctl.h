/* tdxctl subcommands, one file each (wireguard-tools style). */
#pragma once
#include "api/client.h"

extern const char tdxctl_quote_usage[];
int tdxctl_quote(struct cli *cli, int argc, char **argv);
extern const char tdxctl_module_usage[];
int tdxctl_module(struct cli *cli, int argc, char **argv);
