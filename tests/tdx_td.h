/* Check helper of the TDX tests: a small finalized TD on an emulated module (a runnable TD
 * that an update must preserve, or that a lost module kills). */
#pragma once
#include <check.h>

#include "hv/emul/tdx_module.h"

static inline uint32_t test_finalized_td(struct emul_tdx_module *m)
{
	struct emul_td_params p = {.attributes = 0x10000000, .xfam = 0xe7};
	uint32_t td;
	uint8_t page[4096] = {1, 2, 3};
	ck_assert_int_eq(emul_tdx_td_create(m, &p, &td), 0);
	ck_assert_int_eq(emul_tdx_td_page_add(m, td, 0xfffff000, page), 0);
	ck_assert_int_eq(emul_tdx_td_mr_extend(m, td, 0xfffff000), 0);
	ck_assert_int_eq(emul_tdx_td_finalize(m, td), 0);
	return td;
}
