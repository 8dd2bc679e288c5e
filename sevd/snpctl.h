/* snpctl subcommands, one file each (wireguard-tools style). */
#pragma once
#include "api/client.h"

extern const char snpctl_measure_usage[];
int snpctl_measure(struct cli *cli, int argc, char **argv);
