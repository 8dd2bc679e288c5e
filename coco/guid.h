/* GUIDs as they are stored in firmware images: the first three fields little-endian
 * (EFI_GUID / RFC 4122 "bytes_le" order). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct coco_guid {
	uint8_t b[16];
};

/* Build from the canonical string fields: COCO_GUID(0x96b582de, 0x1fb2, 0x45f7, 0xba, 0xea,
 * 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d) is 96b582de-1fb2-45f7-baea-a366c55a082d. */
#define COCO_GUID(d1, d2, d3, b0, b1, b2, b3, b4, b5, b6, b7)                                      \
	((struct coco_guid){{(uint8_t)(d1), (uint8_t)((d1) >> 8), (uint8_t)((d1) >> 16),           \
			     (uint8_t)((d1) >> 24), (uint8_t)(d2), (uint8_t)((d2) >> 8),           \
			     (uint8_t)(d3), (uint8_t)((d3) >> 8), b0, b1, b2, b3, b4, b5, b6,      \
			     b7}})

static inline bool coco_guid_eq(const void *bytes, struct coco_guid g)
{
	return memcmp(bytes, g.b, 16) == 0;
}
