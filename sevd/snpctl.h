/* snpctl subcommands, one file each (wireguard-tools style). */
#pragma once
#include "api/client.h"

extern const char snpctl_measure_usage[];
int snpctl_measure(struct cli *cli, int argc, char **argv);
extern const char snpctl_id_block_usage[];
int snpctl_id_block(struct cli *cli, int argc, char **argv);
extern const char snpctl_key_digest_usage[];
int snpctl_key_digest(struct cli *cli, int argc, char **argv);
extern const char snpctl_config_usage[];
int snpctl_config(struct cli *cli, int argc, char **argv);
extern const char snpctl_commit_usage[];
int snpctl_commit(struct cli *cli, const struct cli_command *cmd, int argc, char **argv);
extern const char snpctl_certs_usage[];
int snpctl_certs(struct cli *cli, int argc, char **argv);
extern const char snpctl_vlek_usage[];
int snpctl_vlek(struct cli *cli, int argc, char **argv);
extern const char snpctl_verify_usage[];
int snpctl_verify(struct cli *cli, int argc, char **argv);
extern const char snpctl_report_usage[];
int snpctl_report(struct cli *cli, int argc, char **argv);
