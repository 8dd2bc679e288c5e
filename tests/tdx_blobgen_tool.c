/* tdx-blobgen: write synthetic TDX module blobs (coco/tdx/blobgen.h: Intel's layouts, a module
 * only the emulated P-SEAMLDR runs) into a module store directory, for `make run`
 * (scripts/run-dev) and the integration tests of module updates.
 *   tdx-blobgen DIR VERSION... [--debug] [--v2] [--min-update-hv=N]
 * Each VERSION (x.y.zz) becomes DIR/tdx_module_<x.y.zz>.blob, for the emulated CPU.
 * --min-update-hv above the running module's hand-off version (1) makes a blob that passes
 * every preflight check but that P-SEAMLDR refuses after shutdown: the module is lost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coco/tdx/blob.h"
#include "coco/tdx/blobgen.h"
#include "coco/tdx/version.h"

int main(int argc, char **argv)
{
	bool debug = false, v2 = false;
	unsigned long min_hv = 0;
	for (int i = 2; i < argc; i++) {
		debug |= strcmp(argv[i], "--debug") == 0;
		v2 |= strcmp(argv[i], "--v2") == 0;
		if (strncmp(argv[i], "--min-update-hv=", 16) == 0)
			min_hv = strtoul(argv[i] + 16, NULL, 10);
	}
	if (argc < 3 || min_hv > 0xffff) {
		fputs("usage: tdx-blobgen DIR VERSION... [--debug] [--v2] [--min-update-hv=N]\n",
		      stderr);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		struct tdx_version v;
		if (tdx_version_parse(argv[i], strlen(argv[i]), &v) < 0) {
			fprintf(stderr, "tdx-blobgen: '%s' is not a version (1.5.08)\n", argv[i]);
			return 2;
		}
		struct tdx_blobgen_params p = {.blob_version = v2 ? TDX_BLOB_V2 : TDX_BLOB_V1,
					       .major = v.major, .minor = v.minor,
					       .update = v.update, .module_pages = 8,
					       .debug = debug, .seed = v.update,
					       .min_update_hv = (uint16_t)min_hv};
		uint8_t *d = NULL;
		size_t n = 0;
		char path[4200];
		snprintf(path, sizeof(path), "%s/tdx_module_%s.blob", argv[1], argv[i]);
		FILE *f = tdx_blobgen(&p, &d, &n) == 0 ? fopen(path, "wb") : NULL;
		bool ok = f && fwrite(d, 1, n, f) == n;
		if (f)
			ok = fclose(f) == 0 && ok;
		free(d);
		if (!ok) {
			fprintf(stderr, "tdx-blobgen: cannot write %s\n", path);
			return 1;
		}
	}
	return 0;
}
