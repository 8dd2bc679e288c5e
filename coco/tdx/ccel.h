/* TD event logs (ACPI CCEL table's log area; TCG PC Client Platform Firmware Profile
 * "crypto agile" format) and the RTMR replay.
 *
 * The log starts with a TCG_PCR_EVENT in the SHA-1 layout: u32 index, u32 type (EV_NO_ACTION = 3),
 * 20 zero bytes, u32 size, then TCG_EfiSpecIDEvent: "Spec ID Event03\0", u32 platform class,
 * u8 minor, major, errata, uintn size, u32 number of algorithms, {u16 alg id, u16 digest size} x n,
 * u8 vendor info size, vendor info. Every following event is a TCG_PCR_EVENT2: u32 index,
 * u32 type, u32 digest count, {u16 alg id, digest of the size the Spec ID event gave} x count,
 * u32 event size, event data. In a TD's log (CC_EVENT) the index is the MR index: 0 MRTD,
 * 1..4 RTMR0..3 (edk2 maps PCR 0 -> RTMR0 (index 1), PCR 1 and 7 -> RTMR1, PCR 2..6 -> RTMR2).
 * The log area may be followed by 0xff or 0x00 fill: an event header of all-0xff or all-zero
 * bytes ends the log.
 *
 * Replay: RTMR[i] starts at 48 zero bytes; each event with index 1..4 and a SHA-384
 * (alg 0x000c) digest does RTMR[i-1] = SHA-384(RTMR[i-1] || digest). EV_NO_ACTION events are
 * not extended.
 *
 * Pure: no I/O; -EINVAL with a message for a malformed log, -ENOMEM. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CCEL_ALG_SHA384 0x000c
#define CCEL_EV_NO_ACTION 0x3
#define CCEL_MAX_ALGS 8
#define CCEL_MAX_EVENTS 65536
#define CCEL_MAX_EVENT_DATA (16u << 20)
#define CCEL_SPEC_ID "Spec ID Event03"

struct ccel_event {
	uint32_t seq;     /* 0 = the Spec ID event */
	size_t offset;    /* of its header in the log */
	uint32_t mr_index, type;
	int rtmr;	  /* 0..3, or -1 when not extended into an RTMR */
	uint8_t digest[48]; /* the SHA-384 digest (zero for the first event) */
	uint8_t rtmr_after[48]; /* the RTMR's value after this event (rtmr >= 0) */
	size_t data_off, data_len;
};

struct ccel_log {
	struct ccel_event *ev; /* malloc'd, n of them */
	size_t n;
	uint8_t rtmr[4][48];
	unsigned n_algs;
	uint16_t algs[CCEL_MAX_ALGS], alg_sizes[CCEL_MAX_ALGS];
	size_t used; /* bytes of the log the events take (the rest is fill) */
};

/* Parse and replay. *ret must be released with ccel_log_free (also after an error). */
int ccel_replay(const uint8_t *data, size_t size, struct ccel_log *ret, char *err, size_t errlen);
void ccel_log_free(struct ccel_log *l);

/* Compare RTMR[rtmr] of the replay with an expected value. Returns CCEL_MATCH; CCEL_PREFIX when
 * the value after an earlier event of that RTMR equals it (the log has events the TD did not
 * measure: *ret_first_bad is the index in l->ev of the first of them); CCEL_NO_PREFIX when no
 * prefix of the RTMR's events gives it (a digest differs somewhere: *ret_first_bad is the RTMR's
 * first event, the first that can be wrong; the final value alone cannot say which). -1 in
 * *ret_first_bad: no such event. */
enum ccel_match { CCEL_MATCH = 0, CCEL_PREFIX = 1, CCEL_NO_PREFIX = 2 };
enum ccel_match ccel_locate(const struct ccel_log *l, unsigned rtmr, const uint8_t want[48],
			    long *ret_first_bad);

const char *ccel_event_type_name(uint32_t type);

/* A synthetic log for tests and fuzz seeds: the Spec ID event (SHA-384 only, or SHA-256 and
 * SHA-384 when two_algs), then n events with index 1 + i % 4, type EV_EFI_ACTION-like, data
 * "event <i>", digest SHA-384 of the data; then `fill` bytes of 0xff. *ret is malloc'd. */
int ccel_synth(unsigned n, bool two_algs, size_t fill, uint8_t **ret, size_t *ret_size);
