/* tdxctl measure: offline MRTD, RTMR replay and MRSEAM (tdxd/measure.c). */
#pragma once
#include "api/client.h"

extern const char tdxctl_measure_usage[];
int tdxctl_measure(struct cli *cli, int argc, char **argv);
