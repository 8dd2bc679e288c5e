/* TDX versions (coco/tdx/version.h). */
#include "coco/tdx/version.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int tdx_decimal_parse(const char *s, size_t n, size_t min_digits, uint64_t max, uint64_t *ret)
{
	if (n == 0 || n > 20)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	/* printf "%0Nu" pads to N digits and never adds more zeros. */
	if (n > 1 && s[0] == '0' && n > min_digits)
		return -EINVAL;
	if (n < min_digits)
		return -EINVAL;
	if (v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int tdx_version_parse(const char *s, size_t n, struct tdx_version *ret)
{
	if (!s || memchr(s, '\0', n))
		return -EINVAL;
	const char *d1 = memchr(s, '.', n);
	if (!d1)
		return -EINVAL;
	const char *d2 = memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - s));
	if (!d2)
		return -EINVAL;
	uint64_t ma, mi, up;
	int r;
	if ((r = tdx_decimal_parse(s, (size_t)(d1 - s), 1, UINT16_MAX, &ma)) < 0 ||
	    (r = tdx_decimal_parse(d1 + 1, (size_t)(d2 - d1 - 1), 1, UINT16_MAX, &mi)) < 0 ||
	    (r = tdx_decimal_parse(d2 + 1, n - (size_t)(d2 + 1 - s), 2, UINT16_MAX, &up)) < 0)
		return r;
	ret->major = (uint16_t)ma;
	ret->minor = (uint16_t)mi;
	ret->update = (uint16_t)up;
	return 0;
}

void tdx_version_format(const struct tdx_version *v, char out[TDX_VERSION_STRLEN])
{
	snprintf(out, TDX_VERSION_STRLEN, "%u.%u.%02u", v->major, v->minor, v->update);
}

int tdx_version_cmp(const struct tdx_version *a, const struct tdx_version *b)
{
	uint64_t x = (uint64_t)a->major << 32 | (uint64_t)a->minor << 16 | a->update;
	uint64_t y = (uint64_t)b->major << 32 | (uint64_t)b->minor << 16 | b->update;
	return x < y ? -1 : x > y;
}
