/* TDX module and P-SEAMLDR versions as Intel writes them ("%u.%u.%02u": 1.5.06, 2.0.00): in
 * tdx_host sysfs, in mapping_file.json and in blob file names (tdx_module_<x.y.z>.blob).
 * Pure: no I/O, no logging. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct tdx_version {
	uint16_t major, minor, update;
};
#define TDX_VERSION_STRLEN 24 /* "65535.65535.65535" + NUL fits */

/* Exactly "%u.%u.%02u" in s[0..len): no signs, blanks, newline or leading zeros (beyond the
 * update's two-digit padding). -EINVAL otherwise, -ERANGE above 65535. */
int tdx_version_parse(const char *s, size_t len, struct tdx_version *ret);
void tdx_version_format(const struct tdx_version *v, char out[TDX_VERSION_STRLEN]);
/* -1, 0, 1 as major, then minor, then update order them. */
int tdx_version_cmp(const struct tdx_version *a, const struct tdx_version *b);
static inline int tdx_version_same_minor(const struct tdx_version *a, const struct tdx_version *b)
{
	return a->major == b->major && a->minor == b->minor;
}

/* Decimal digits s[0..n) as a value <= max, as printf "%0<min_digits>u" writes it: at least
 * min_digits digits, no leading zero beyond that padding. -EINVAL, -ERANGE. */
int tdx_decimal_parse(const char *s, size_t n, size_t min_digits, uint64_t max, uint64_t *ret);
