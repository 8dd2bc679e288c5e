/* tdvf-synth: write the synthetic inputs of the TDX measurement tests to stdout, for making the
 * cross-check vectors (tests/data/tdx/README) and for bench/tdx-measure.
 *   tdvf-synth image SIZE SEED [aug]   a TDVF image (tdvf_synth)
 *   tdvf-synth ccel N [two-algs]       a TD event log of N events (ccel_synth) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coco/tdx/ccel.h"
#include "coco/tdx/tdvf.h"

int main(int argc, char **argv)
{
	uint8_t *d = NULL;
	size_t n = 0;
	int r = -1;
	if (argc >= 4 && strcmp(argv[1], "image") == 0) {
		n = strtoull(argv[2], NULL, 0);
		r = tdvf_synth(n, (uint32_t)strtoul(argv[3], NULL, 0),
			       argc > 4 && strcmp(argv[4], "aug") == 0, &d);
	} else if (argc >= 3 && strcmp(argv[1], "ccel") == 0) {
		r = ccel_synth((unsigned)strtoul(argv[2], NULL, 0),
			       argc > 3 && strcmp(argv[3], "two-algs") == 0, 64, &d, &n);
	} else {
		fputs("usage: tdvf-synth image SIZE SEED [aug] | ccel N [two-algs]\n", stderr);
		return 2;
	}
	if (r < 0 || fwrite(d, 1, n, stdout) != n) {
		fputs("tdvf-synth: failed\n", stderr);
		return 1;
	}
	free(d);
	return 0;
}
