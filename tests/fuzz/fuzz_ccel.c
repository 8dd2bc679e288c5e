/* TD event logs as `tdxctl measure rtmr --event-log` takes them (a CCEL log area). Checks:
 * replay fails with -EINVAL and a message and no events, or gives the Spec ID event first and
 * then events that lie inside the input in order, with RTMRs equal to a replay done here from
 * the events' digests, and ccel_locate finds each final value and the value after every event. */
#include <errno.h>
#include <openssl/sha.h>
#include <string.h>

#include "coco/tdx/ccel.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ccel_log l;
	char err[256] = "";
	int r = ccel_replay(data, size, &l, err, sizeof(err));
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL && err[0] && !l.ev && l.n == 0);
		return 0;
	}
	FUZZ_CHECK(l.n >= 1 && l.ev[0].type == CCEL_EV_NO_ACTION && l.ev[0].rtmr == -1);
	FUZZ_CHECK(l.used <= size);
	uint8_t mr[4][48] = {{0}};
	size_t prev = 0;
	for (size_t i = 0; i < l.n; i++) {
		const struct ccel_event *e = &l.ev[i];
		FUZZ_CHECK(e->seq == i && e->data_off + e->data_len <= l.used);
		FUZZ_CHECK(i == 0 || (e->offset >= prev && e->offset < e->data_off));
		prev = e->data_off + e->data_len;
		if (e->rtmr < 0) {
			FUZZ_CHECK(i == 0 || e->type == CCEL_EV_NO_ACTION);
			continue;
		}
		FUZZ_CHECK(e->rtmr <= 3 && e->mr_index == (uint32_t)e->rtmr + 1);
		uint8_t buf[96];
		memcpy(buf, mr[e->rtmr], 48);
		memcpy(buf + 48, e->digest, 48);
		SHA384(buf, 96, mr[e->rtmr]);
		FUZZ_CHECK(memcmp(mr[e->rtmr], e->rtmr_after, 48) == 0);
	}
	FUZZ_CHECK(memcmp(mr, l.rtmr, sizeof(mr)) == 0);
	long bad;
	for (unsigned k = 0; k < 4; k++)
		FUZZ_CHECK(ccel_locate(&l, k, l.rtmr[k], &bad) == CCEL_MATCH);
	ccel_log_free(&l);
	return 0;
}
