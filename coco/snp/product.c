#include "coco/snp/product.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *snp_product_name(enum snp_product p)
{
	switch (p) {
	case SNP_PRODUCT_MILAN:
		return "Milan";
	case SNP_PRODUCT_GENOA:
		return "Genoa";
	case SNP_PRODUCT_TURIN:
		return "Turin";
	default:
		return NULL;
	}
}

int snp_product_from_name(const char *name, enum snp_product *ret)
{
	static const struct {
		const char *name;
		enum snp_product p;
	} names[] = {
		{"Milan", SNP_PRODUCT_MILAN},	{"Genoa", SNP_PRODUCT_GENOA},
		{"Bergamo", SNP_PRODUCT_GENOA}, {"Siena", SNP_PRODUCT_GENOA},
		{"Turin", SNP_PRODUCT_TURIN},
	};
	for (unsigned i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i].name) == 0) {
			*ret = names[i].p;
			return 0;
		}
	return -EINVAL;
}

enum snp_product snp_product_from_cpuid(uint32_t eax)
{
	/* CPUID Fn0000_0001_EAX: family = base (11:8) + extended (27:20), model = extended
	 * (19:16) << 4 | base (7:4). */
	unsigned family = ((eax >> 8) & 0xf) + ((eax >> 20) & 0xff);
	unsigned model = ((eax >> 12) & 0xf0) | ((eax >> 4) & 0xf);
	if (family == 0x19 && model <= 0x0f)
		return SNP_PRODUCT_MILAN;
	if (family == 0x19 && ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf)))
		return SNP_PRODUCT_GENOA;
	if (family == 0x1a && model <= 0x1f)
		return SNP_PRODUCT_TURIN;
	return SNP_PRODUCT_UNKNOWN;
}

int snp_tcb_encode(enum snp_product p, const struct snp_tcb *t, uint64_t *ret)
{
	uint64_t v;
	switch (p) {
	case SNP_PRODUCT_MILAN:
	case SNP_PRODUCT_GENOA:
		if (t->fmc)
			return -EINVAL;
		v = (uint64_t)t->bootloader | (uint64_t)t->tee << 8 | (uint64_t)t->snp << 48 |
		    (uint64_t)t->microcode << 56;
		break;
	case SNP_PRODUCT_TURIN:
		v = (uint64_t)t->fmc | (uint64_t)t->bootloader << 8 | (uint64_t)t->tee << 16 |
		    (uint64_t)t->snp << 24 | (uint64_t)t->microcode << 56;
		break;
	default:
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

int snp_tcb_decode(enum snp_product p, uint64_t v, struct snp_tcb *ret)
{
	struct snp_tcb t = {0};
	switch (p) {
	case SNP_PRODUCT_MILAN:
	case SNP_PRODUCT_GENOA:
		if (v & 0x0000ffffffff0000ull)
			return -EINVAL;
		t.bootloader = (uint8_t)v;
		t.tee = (uint8_t)(v >> 8);
		t.snp = (uint8_t)(v >> 48);
		t.microcode = (uint8_t)(v >> 56);
		break;
	case SNP_PRODUCT_TURIN:
		if (v & 0x00ffffff00000000ull)
			return -EINVAL;
		t.fmc = (uint8_t)v;
		t.bootloader = (uint8_t)(v >> 8);
		t.tee = (uint8_t)(v >> 16);
		t.snp = (uint8_t)(v >> 24);
		t.microcode = (uint8_t)(v >> 56);
		break;
	default:
		return -EINVAL;
	}
	*ret = t;
	return 0;
}

int snp_tcb_url_expand(const char *tmpl, enum snp_product product, uint64_t tcb, char *ret,
		       size_t retlen)
{
	const char *name = snp_product_name(product);
	struct snp_tcb t;
	if (!tmpl || !name || !ret || retlen == 0 || snp_tcb_decode(product, tcb, &t) < 0 ||
	    (strncmp(tmpl, "https://", 8) != 0 && strncmp(tmpl, "http://", 7) != 0))
		return -EINVAL;
	size_t o = 0;
	for (const char *s = tmpl; *s;) {
		char piece[32];
		const char *add = piece;
		size_t n;
		if (*s != '{') {
			add = s;
			n = strcspn(s, "{");
			s += n;
		} else {
			const char *end = strchr(s, '}');
			if (!end)
				return -EINVAL;
			size_t kl = (size_t)(end - s - 1);
			const char *k = s + 1;
#define IS(lit) (kl == strlen(lit) && strncmp(k, lit, kl) == 0)
			if (IS("product"))
				add = name;
			else if (IS("tcb"))
				snprintf(piece, sizeof(piece), "%016llx", (unsigned long long)tcb);
			else if (IS("blSPL"))
				snprintf(piece, sizeof(piece), "%u", t.bootloader);
			else if (IS("teeSPL"))
				snprintf(piece, sizeof(piece), "%u", t.tee);
			else if (IS("snpSPL"))
				snprintf(piece, sizeof(piece), "%u", t.snp);
			else if (IS("ucodeSPL"))
				snprintf(piece, sizeof(piece), "%u", t.microcode);
			else if (IS("fmcSPL") && product == SNP_PRODUCT_TURIN)
				snprintf(piece, sizeof(piece), "%u", t.fmc);
			else
				return -EINVAL;
#undef IS
			n = strlen(add);
			s = end + 1;
		}
		if (o + n >= retlen)
			return -ENAMETOOLONG;
		memcpy(ret + o, add, n);
		o += n;
	}
	ret[o] = '\0';
	return 0;
}
