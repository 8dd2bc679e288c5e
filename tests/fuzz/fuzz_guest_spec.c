/* guest_spec_parse() (cocod/guest_launch.c): the body of POST /v1/guests after the strict JSON
 * parser. Checks: non-JSON-object input and every refusal are -EINVAL with a message and the
 * output untouched; an accepted spec keeps every rule of docs/API.md: a name of 1..64
 * [A-Za-z0-9._-] not starting with '.' or '-', tee snp|tdx, a firmware, 1..512 vCPUs, memory
 * 1..16 TiB, initrd/cmdline only with a kernel, printable cmdline, ID block and auth together,
 * SNPActive set for SNP, no SNP member accepted for TDX and no TDX member for SNP; parsing the
 * same document again gives the same spec. */
#include <errno.h>
#include <string.h>

#include "cocod/guest_launch.h"
#include "coco/util.h"
#include "tests/fuzz/fuzz.h"

static bool same(const struct guest_spec *a, const struct guest_spec *b)
{
	return streq(a->name, b->name) && a->tee == b->tee && a->vcpus == b->vcpus &&
	       a->memory_mib == b->memory_mib && a->policy == b->policy &&
	       a->sev_features == b->sev_features && a->vcpu_sig == b->vcpu_sig &&
	       a->firmware == b->firmware && a->kernel == b->kernel && a->initrd == b->initrd &&
	       a->cmdline == b->cmdline && !memcmp(a->host_data, b->host_data, 32) &&
	       !memcmp(a->mrconfigid, b->mrconfigid, 48) && !memcmp(a->mrowner, b->mrowner, 48) &&
	       !memcmp(a->mrownerconfig, b->mrownerconfig, 48) && !!a->id_block == !!b->id_block;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *text = malloc(size + 1);
	FUZZ_CHECK(text);
	memcpy(text, data, size);
	text[size] = '\0';
	json_object *j = json_tokener_parse(text);
	free(text);
	struct guest_spec sp, sp2, canary;
	memset(&canary, 0x5a, sizeof(canary));
	sp = canary;
	char err[256] = "";
	int r = guest_spec_parse(j, &sp, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r < 0) {
		FUZZ_CHECK(err[0] && !memcmp(&sp, &canary, sizeof(sp)));
		json_object_put(j);
		return 0;
	}
	size_t nl = strlen(sp.name);
	FUZZ_CHECK(nl >= 1 && nl <= HV_GUEST_NAME_MAX && sp.name[0] != '.' && sp.name[0] != '-');
	FUZZ_CHECK(strspn(sp.name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789._-") == nl);
	FUZZ_CHECK(sp.tee == HV_TEE_SNP || sp.tee == HV_TEE_TDX);
	FUZZ_CHECK(sp.firmware && sp.firmware[0]);
	FUZZ_CHECK(sp.vcpus >= 1 && sp.vcpus <= HV_GUEST_MAX_VCPUS);
	FUZZ_CHECK(sp.memory_mib >= 1 && sp.memory_mib <= GUEST_MAX_MEMORY_MIB);
	FUZZ_CHECK(sp.kernel || (!sp.initrd && !sp.cmdline));
	for (const char *c = sp.cmdline; c && *c; c++)
		FUZZ_CHECK(*c >= 0x20 && *c <= 0x7e);
	FUZZ_CHECK(!!sp.id_block == !!sp.id_auth);
	if (sp.tee == HV_TEE_SNP)
		FUZZ_CHECK((sp.sev_features & 1) && !sp.has_mrconfigid && !sp.has_mrowner &&
			   !sp.has_mrownerconfig);
	else
		FUZZ_CHECK(!sp.has_host_data && !sp.id_block && !sp.author_key);
	FUZZ_CHECK(guest_spec_parse(j, &sp2, err, sizeof(err)) == 0 && same(&sp, &sp2));
	guest_spec_clear(&sp2);
	guest_spec_clear(&sp);
	json_object_put(j);
	return 0;
}
