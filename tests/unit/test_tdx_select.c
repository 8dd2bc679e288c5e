/* coco/tdx/mapping.c and coco/tdx/select.c: the strict mapping_file.json parser, the module
 * directory inventory and selection. The table runs against Intel's real mapping_file.json
 * (tests/data/tdx, see its README) for every release in it, with synthetic blobs (v1, as Intel
 * ships them) from coco/tdx/blobgen.h. Expected results are written out by hand from Intel's
 * rules (ARCHITECTURE.md), not computed by the code under test. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coco/tdx/blobgen.h"
#include "coco/tdx/mapping.h"
#include "coco/tdx/select.h"
#include "coco/util.h"
#include "tests/check_main.h"

static char top[64];

static void load_mapping(struct tdx_mapping *m)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	char err[256];
	ck_assert_int_eq(read_file_max(SOURCE_DIR "/tests/data/tdx/mapping_file.json", 1 << 20,
				       &buf, &len),
			 0);
	ck_assert_msg(tdx_mapping_parse(buf, len, m, err, sizeof(err)) == 0, "%s", err);
}

static struct tdx_version V(const char *s)
{
	struct tdx_version v;
	ck_assert_int_eq(tdx_version_parse(s, strlen(s), &v), 0);
	return v;
}

START_TEST(mapping_real_file)
{
	struct tdx_mapping m;
	load_mapping(&m);
	ck_assert_uint_eq(m.n, 11);
	/* spot values straight from the file */
	struct tdx_version v = V("1.5.01");
	const struct tdx_mapping_release *r = tdx_mapping_find(&m, &v);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->n_seamldr, 1);
	ck_assert_uint_eq(r->tdx_feature0, 0xF0FBF);
	v = V("2.0.08");
	r = tdx_mapping_find(&m, &v);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(tdx_version_cmp(&r->min_td_preserving, &(struct tdx_version){2, 0, 4}), 0);
	ck_assert_uint_eq(r->tdx_feature0, 0x32A71F0FBFull);
	v = V("1.5.06");
	r = tdx_mapping_find(&m, &v);
	ck_assert_uint_eq(r->n_seamldr, 2);
	struct tdx_version sl = V("2.0.00");
	ck_assert_ptr_nonnull(tdx_mapping_seamldr_match(r, &sl));
	sl = V("1.5.02");
	ck_assert_ptr_nonnull(tdx_mapping_seamldr_match(r, &sl));
	sl = V("1.6.00");
	ck_assert_ptr_null(tdx_mapping_seamldr_match(r, &sl));
	v = V("1.5.07");
	ck_assert_ptr_null(tdx_mapping_find(&m, &v));
	tdx_mapping_clear(&m);
}
END_TEST

START_TEST(mapping_hostile)
{
#define REL(x) "{\"tdx_module_releases\":[" x "]}"
#define OK1 "\"version\":\"1.5.06\",\"min_module_version_for_td_preserving\":\"1.5.01\""
	static const char *const bad[] = {
		"",
		"[]",
		"{}",
		"{\"tdx_module_releases\":{}}",
		REL(""),
		REL("1"),
		REL("{" OK1 "}"),					  /* no seamldr list */
		REL("{" OK1 ",\"min_seamldr_versions\":[]}"),
		REL("{" OK1 ",\"min_seamldr_versions\":\"1.5.00\"}"),
		REL("{" OK1 ",\"min_seamldr_versions\":[\"1.5.0\"]}"),	  /* %02u */
		REL("{" OK1 ",\"min_seamldr_versions\":[\"1.5.00\",\"1.5.01\"]}"),
		REL("{" OK1 ",\"min_seamldr_versions\":[1]}"),
		REL("{\"version\":\"1.5.6\",\"min_module_version_for_td_preserving\":\"1.5.01\","
		    "\"min_seamldr_versions\":[\"1.5.00\"]}"),
		REL("{\"version\":\"1.5.06\",\"min_module_version_for_td_preserving\":\"1.5.07\","
		    "\"min_seamldr_versions\":[\"1.5.00\"]}"),
		REL("{\"version\":\" 1.5.06\",\"min_module_version_for_td_preserving\":\"1.5.01\","
		    "\"min_seamldr_versions\":[\"1.5.00\"]}"),
		REL("{" OK1 ",\"min_seamldr_versions\":[\"1.5.00\"],\"tdx_feature0\":\"F0\"}"),
		REL("{" OK1 ",\"min_seamldr_versions\":[\"1.5.00\"],\"tdx_feature0\":\"0x\"}"),
		REL("{" OK1 ",\"min_seamldr_versions\":[\"1.5.00\"],\"tdx_feature0\":\"0xg\"}"),
		REL("{" OK1 ",\"min_seamldr_versions\":[\"1.5.00\"],"
		    "\"tdx_feature0\":\"0x11111111111111111\"}"),
		REL("{" OK1 ",\"min_seamldr_versions\":[\"1.5.00\"]},{" OK1
		    ",\"min_seamldr_versions\":[\"1.5.00\"]}"),		  /* duplicate release */
		REL("{" OK1 ",\"version\":\"1.5.07\",\"min_seamldr_versions\":[\"1.5.00\"]}"),
		REL("{" OK1 ",\"min_seamldr_versions\":[\"1.5.00\"]}") "x",
		"{'tdx_module_releases':[]}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct tdx_mapping m = {.releases = (void *)0x1, .n = 77};
		char err[256] = "";
		ck_assert_msg(tdx_mapping_parse(bad[i], strlen(bad[i]), &m, err, sizeof(err)) ==
				      -EINVAL,
			      "accepted #%zu: %s", i, bad[i]);
		ck_assert_msg(err[0], "no message for #%zu", i);
		ck_assert_uint_eq(m.n, 77); /* untouched */
	}
	const char *good = REL("{" OK1 ",\"min_seamldr_versions\":[\"1.5.00\"],\"new\":[1]}");
	struct tdx_mapping m;
	char err[256];
	ck_assert_int_eq(tdx_mapping_parse(good, strlen(good), &m, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.n, 1);
	ck_assert(!m.releases[0].has_feature0);
	tdx_mapping_clear(&m);
}
END_TEST

/* ---------------------------------------------------------------- module directories */

static void write_file(const char *dir, const char *name, const uint8_t *d, size_t n)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(d, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static uint8_t *blob(struct tdx_version v, bool debug, uint32_t cpuid, size_t *n)
{
	struct tdx_blobgen_params p = {.major = v.major, .minor = v.minor, .update = v.update,
				       .module_pages = 2, .debug = debug,
				       .cpuid = cpuid ? &cpuid : NULL, .cpuid_count = cpuid ? 1 : 0,
				       .seed = v.update};
	uint8_t *b;
	ck_assert_int_eq(tdx_blobgen(&p, &b, n), 0);
	return b;
}

static void put_blob(const char *dir, struct tdx_version v, bool debug, uint32_t cpuid)
{
	size_t n;
	_cleanup_free_ uint8_t *b = blob(v, debug, cpuid, &n);
	char name[64], s[TDX_VERSION_STRLEN];
	tdx_version_format(&v, s);
	snprintf(name, sizeof(name), "tdx_module_%s.blob", s);
	write_file(dir, name, b, n);
}

static void new_dir(char *dir, size_t len)
{
	snprintf(dir, len, "%s/mods-XXXXXX", top);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* A directory with one blob per release in the mapping file. */
static void all_releases(char *dir, size_t len, const struct tdx_mapping *m)
{
	new_dir(dir, len);
	for (size_t i = 0; i < m->n; i++)
		put_blob(dir, m->releases[i].version, false, 0);
}

static const struct tdx_candidate *cand(const struct tdx_selection *s, const char *v)
{
	struct tdx_version x = V(v);
	for (size_t i = 0; i < s->n; i++)
		if (tdx_version_cmp(&s->candidates[i].file->version, &x) == 0)
			return &s->candidates[i];
	ck_abort_msg("no candidate %s", v);
	return NULL;
}

/* For every release of the real file as the running module, under a 1.5 and a 2.0
 * P-SEAMLDR: the eligible targets and the default choice. */
static const struct {
	const char *running, *seamldr, *eligible, *target;
} table[] = {
	{"1.5.01", "1.5.02", "1.5.05 1.5.06 1.5.08 1.5.09 1.5.13 1.5.16", "1.5.16"},
	{"1.5.05", "1.5.02", "1.5.06 1.5.08 1.5.09 1.5.13 1.5.16", "1.5.16"},
	{"1.5.06", "1.5.02", "1.5.08 1.5.09 1.5.13 1.5.16", "1.5.16"},
	{"1.5.08", "1.5.02", "1.5.09 1.5.13 1.5.16", "1.5.16"},
	{"1.5.09", "1.5.02", "1.5.13 1.5.16", "1.5.16"},
	{"1.5.13", "1.5.02", "1.5.16", "1.5.16"},
	{"1.5.16", "1.5.02", "", NULL},
	{"2.0.02", "1.5.02", "", NULL},
	{"2.0.04", "1.5.02", "", NULL},
	{"2.0.05", "1.5.02", "", NULL},
	{"2.0.08", "1.5.02", "", NULL},
	/* 1.5.01 lists only P-SEAMLDR 1.5.00; 2.0.02 needs a running 2.0.02 to preserve TDs,
	 * and 2.0.04 and later need 2.0.04 */
	{"1.5.01", "2.0.00", "1.5.05 1.5.06 1.5.08 1.5.09 1.5.13 1.5.16", "1.5.16"},
	{"1.5.05", "2.0.00", "1.5.06 1.5.08 1.5.09 1.5.13 1.5.16", "1.5.16"},
	{"1.5.06", "2.0.00", "1.5.08 1.5.09 1.5.13 1.5.16", "1.5.16"},
	{"1.5.08", "2.0.00", "1.5.09 1.5.13 1.5.16", "1.5.16"},
	{"1.5.09", "2.0.00", "1.5.13 1.5.16", "1.5.16"},
	{"1.5.13", "2.0.00", "1.5.16", "1.5.16"},
	{"1.5.16", "2.0.00", "", NULL},
	{"2.0.02", "2.0.00", "", NULL},
	{"2.0.04", "2.0.00", "2.0.05 2.0.08", "2.0.08"},
	{"2.0.05", "2.0.00", "2.0.08", "2.0.08"},
	{"2.0.08", "2.0.00", "", NULL},
	/* an older P-SEAMLDR of a listed major.minor: 1.5.00 <= 1.5.00 still loads */
	{"1.5.06", "1.5.00", "1.5.08 1.5.09 1.5.13 1.5.16", "1.5.16"},
	/* a P-SEAMLDR nobody lists */
	{"1.5.06", "1.6.00", "", NULL},
};

START_TEST(table_real_mapping)
{
	struct tdx_mapping m;
	load_mapping(&m);
	char dir[128], err[256];
	all_releases(dir, sizeof(dir), &m);
	struct tdx_inventory inv;
	ck_assert_int_eq(tdx_inventory_scan(dir, &inv, err, sizeof(err)), 0);
	ck_assert_uint_eq(inv.n, m.n);
	for (size_t i = 0; i < inv.n; i++)
		ck_assert_msg(inv.files[i].error == 0, "%s: %s", inv.files[i].name,
			      inv.files[i].error_msg);
	for (size_t t = 0; t < ARRAY_SIZE(table); t++) {
		struct tdx_select_input in = {.current = V(table[t].running),
					      .seamldr = V(table[t].seamldr),
					      .cpuid_1_eax = TDX_BLOBGEN_CPUID_DEFAULT};
		struct tdx_selection s;
		ck_assert_int_eq(tdx_select(&inv, &m, &in, &s), 0);
		char got[256] = "";
		for (size_t i = 0; i < s.n; i++) {
			if (!s.candidates[i].eligible) {
				ck_assert_msg(s.candidates[i].reasons && s.candidates[i].detail[0],
					      "row %zu: ineligible without a reason", t);
				continue;
			}
			char v[TDX_VERSION_STRLEN];
			tdx_version_format(&s.candidates[i].file->version, v);
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s",
				 got[0] ? " " : "", v);
		}
		ck_assert_msg(streq(got, table[t].eligible), "running %s, P-SEAMLDR %s: got [%s]",
			      table[t].running, table[t].seamldr, got);
		if (table[t].target) {
			ck_assert_ptr_nonnull(s.target);
			struct tdx_version want = V(table[t].target);
			ck_assert_int_eq(tdx_version_cmp(&s.target->file->version, &want), 0);
		} else {
			ck_assert_ptr_null(s.target);
			ck_assert_str_eq(s.why_none, "no eligible module in the directory");
		}
		tdx_selection_clear(&s);
	}
	tdx_inventory_clear(&inv);
	tdx_mapping_clear(&m);
}
END_TEST

/* The exact reasons, one cell per rule, against the real file. */
START_TEST(reasons_per_rule)
{
	struct tdx_mapping m;
	load_mapping(&m);
	char dir[128], err[256];
	all_releases(dir, sizeof(dir), &m);
	struct tdx_inventory inv;
	ck_assert_int_eq(tdx_inventory_scan(dir, &inv, err, sizeof(err)), 0);
	struct tdx_select_input in = {.current = V("1.5.06"), .seamldr = V("2.0.00"),
				      .cpuid_1_eax = TDX_BLOBGEN_CPUID_DEFAULT};
	struct tdx_selection s;
	ck_assert_int_eq(tdx_select(&inv, &m, &in, &s), 0);
	ck_assert_uint_eq(cand(&s, "1.5.01")->reasons, TDX_REASON_SEAMLDR | TDX_REASON_NOT_NEWER);
	ck_assert_uint_eq(cand(&s, "1.5.05")->reasons, TDX_REASON_NOT_NEWER);
	ck_assert_uint_eq(cand(&s, "1.5.06")->reasons, TDX_REASON_NOT_NEWER);
	ck_assert_ptr_nonnull(strstr(cand(&s, "1.5.06")->detail, "reinstall not requested"));
	ck_assert_uint_eq(cand(&s, "1.5.08")->reasons, 0);
	ck_assert_uint_eq(cand(&s, "2.0.02")->reasons,
			  TDX_REASON_CROSS_MINOR | TDX_REASON_TD_PRESERVING);
	ck_assert_uint_eq(cand(&s, "2.0.08")->reasons,
			  TDX_REASON_CROSS_MINOR | TDX_REASON_TD_PRESERVING);
	ck_assert_str_eq(cand(&s, "2.0.08")->detail,
			 "2.0.08 is not a 1.5 Z-stream update of the running 1.5.06 (needs a "
			 "reboot); needs a running module >= 2.0.04 to preserve TDs (running 1.5.06)");
	tdx_selection_clear(&s);

	/* reinstall: the running version itself becomes eligible; a pin chooses it */
	in.reinstall = true;
	in.pinned = true;
	in.pin = V("1.5.06");
	ck_assert_int_eq(tdx_select(&inv, &m, &in, &s), 0);
	ck_assert_uint_eq(cand(&s, "1.5.06")->reasons, 0);
	ck_assert_int_eq(tdx_version_cmp(&s.target->file->version, &in.pin), 0);
	tdx_selection_clear(&s);
	/* a pin on an ineligible version: nothing, and it says so */
	in.reinstall = false;
	ck_assert_int_eq(tdx_select(&inv, &m, &in, &s), 0);
	ck_assert_ptr_null(s.target);
	ck_assert_str_eq(s.why_none, "the pinned version 1.5.06 is not eligible");
	tdx_selection_clear(&s);
	in.pin = V("1.5.07");
	ck_assert_int_eq(tdx_select(&inv, &m, &in, &s), 0);
	ck_assert_ptr_null(s.target);
	ck_assert_str_eq(s.why_none, "the pinned version 1.5.07 is not in the module directory");
	tdx_selection_clear(&s);
	/* a pin below the highest eligible */
	in.pin = V("1.5.09");
	ck_assert_int_eq(tdx_select(&inv, &m, &in, &s), 0);
	ck_assert_int_eq(tdx_version_cmp(&s.target->file->version, &in.pin), 0);
	tdx_selection_clear(&s);

	/* another CPU: every candidate refused for it */
	in.pinned = false;
	in.cpuid_1_eax = 0x000a06a4; /* Meteor Lake, not in the table */
	ck_assert_int_eq(tdx_select(&inv, &m, &in, &s), 0);
	for (size_t i = 0; i < s.n; i++)
		ck_assert(s.candidates[i].reasons & TDX_REASON_CPU);
	ck_assert_ptr_null(s.target);
	tdx_selection_clear(&s);
	/* another stepping of the same CPU is fine (bits 3:0 masked) */
	in.cpuid_1_eax = TDX_BLOBGEN_CPUID_DEFAULT ^ 0x7;
	ck_assert_int_eq(tdx_select(&inv, &m, &in, &s), 0);
	ck_assert_uint_eq(cand(&s, "1.5.16")->reasons, 0);
	tdx_selection_clear(&s);
	tdx_inventory_clear(&inv);
	tdx_mapping_clear(&m);
}
END_TEST

/* Bad blobs stay in the inventory with their reason. */
START_TEST(inventory_bad_blobs)
{
	struct tdx_mapping m;
	load_mapping(&m);
	char dir[128], err[256];
	new_dir(dir, sizeof(dir));
	size_t n;
	/* 1.5.08: debug-signed; 1.5.09: another CPU's module */
	put_blob(dir, V("1.5.08"), true, 0);
	put_blob(dir, V("1.5.09"), false, 0x000a06a0);
	/* 1.5.13: one module byte flipped: the checksum catches it */
	uint8_t *b = blob(V("1.5.13"), false, 0, &n);
	b[n - 1] ^= 1;
	write_file(dir, "tdx_module_1.5.13.blob", b, n);
	/* 1.5.16: module byte flipped and the checksum repaired: seamhash mismatch */
	b[n - 1] ^= 1;
	b[n - 2] ^= 0x10;
	b[2] = b[3] = 0;
	uint16_t sum = (uint16_t)(0x10000u - tdx_blob_sum16(b, n));
	b[2] = (uint8_t)sum;
	b[3] = (uint8_t)(sum >> 8);
	write_file(dir, "tdx_module_1.5.16.blob", b, n);
	/* 1.5.05: truncated (length field disagrees) */
	free(b);
	b = blob(V("1.5.05"), false, 0, &n);
	write_file(dir, "tdx_module_1.5.05.blob", b, n - 4096);
	free(b);
	/* 1.5.07: a good blob of a version Intel never released */
	put_blob(dir, V("1.5.07"), false, 0);
	/* a name that is not a version; and files that are not blobs at all (ignored) */
	write_file(dir, "tdx_module_latest.blob", (const uint8_t *)"x", 1);
	write_file(dir, "mapping_file.json", (const uint8_t *)"{}", 2);
	write_file(dir, "tdx_module_1.5.06.blob.sig", (const uint8_t *)"x", 1);

	struct tdx_inventory inv;
	ck_assert_int_eq(tdx_inventory_scan(dir, &inv, err, sizeof(err)), 0);
	ck_assert_uint_eq(inv.n, 7);
	struct tdx_select_input in = {.current = V("1.5.06"), .seamldr = V("2.0.00"),
				      .cpuid_1_eax = TDX_BLOBGEN_CPUID_DEFAULT};
	struct tdx_selection s;
	ck_assert_int_eq(tdx_select(&inv, &m, &in, &s), 0);
	ck_assert_ptr_null(s.target);
	ck_assert_uint_eq(cand(&s, "1.5.08")->reasons, TDX_REASON_DEBUG);
	ck_assert_uint_eq(cand(&s, "1.5.09")->reasons, TDX_REASON_CPU);
	ck_assert_uint_eq(cand(&s, "1.5.13")->reasons, TDX_REASON_BLOB);
	ck_assert_int_eq(cand(&s, "1.5.13")->file->error, -EBADMSG);
	ck_assert_ptr_nonnull(strstr(cand(&s, "1.5.13")->detail, "checksum"));
	ck_assert_uint_eq(cand(&s, "1.5.16")->reasons, TDX_REASON_BLOB);
	ck_assert_int_eq(cand(&s, "1.5.16")->file->error, -EBADMSG);
	ck_assert_ptr_nonnull(strstr(cand(&s, "1.5.16")->detail, "seamhash"));
	ck_assert_uint_eq(cand(&s, "1.5.05")->reasons, TDX_REASON_BLOB | TDX_REASON_NOT_NEWER);
	ck_assert_int_eq(cand(&s, "1.5.05")->file->error, -EINVAL);
	ck_assert_uint_eq(cand(&s, "1.5.07")->reasons, TDX_REASON_NO_MAPPING);
	ck_assert_str_eq(s.candidates[0].file->name, "tdx_module_latest.blob"); /* 0.0.00 */
	ck_assert_uint_eq(s.candidates[0].reasons, TDX_REASON_BLOB);
	tdx_selection_clear(&s);
	/* allow_debug: the debug module becomes the choice */
	in.allow_debug = true;
	ck_assert_int_eq(tdx_select(&inv, &m, &in, &s), 0);
	ck_assert_ptr_nonnull(s.target);
	ck_assert_str_eq(s.target->file->name, "tdx_module_1.5.08.blob");
	/* load: the same bytes, verified again; a file changed since is refused */
	uint8_t *data;
	struct tdx_blob tb;
	ck_assert_int_eq(tdx_module_file_load(dir, s.target->file, &data, &n, &tb, err,
					      sizeof(err)),
			 0);
	ck_assert_uint_eq(n, s.target->file->size);
	ck_assert(tb.sig.debug);
	free(data);
	put_blob(dir, V("1.5.08"), false, 0);
	ck_assert_int_eq(tdx_module_file_load(dir, s.target->file, &data, &n, &tb, err,
					      sizeof(err)),
			 -ESTALE);
	tdx_selection_clear(&s);
	tdx_inventory_clear(&inv);
	tdx_mapping_clear(&m);

	ck_assert_int_eq(tdx_inventory_scan("/nonexistent-dir", &inv, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir"));
}
END_TEST

START_TEST(file_names)
{
	struct tdx_version v;
	ck_assert_int_eq(tdx_module_file_name_version("tdx_module_1.5.06.blob", &v), 0);
	ck_assert_uint_eq(v.update, 6);
	static const char *const bad[] = {"tdx_module_1.5.6.blob", "tdx_module_.blob",
					  "tdx_module_1.5.06.bin", "TDX_module_1.5.06.blob",
					  "tdx_module_01.5.06.blob", "tdx_module_1.5.06 .blob"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_int_eq(tdx_module_file_name_version(bad[i], &v), -EINVAL);
}
END_TEST

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

int main(void)
{
	snprintf(top, sizeof(top), "/tmp/test-tdx-select-XXXXXX");
	if (!mkdtemp(top))
		return 1;
	Suite *s = suite_create("tdx_select");
	TCase *tc = tcase_create("select");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, mapping_real_file);
	tcase_add_test(tc, mapping_hostile);
	tcase_add_test(tc, table_real_mapping);
	tcase_add_test(tc, reasons_per_rule);
	tcase_add_test(tc, inventory_bad_blobs);
	tcase_add_test(tc, file_names);
	suite_add_tcase(s, tc);
	int r = run_suite(s);
	if (nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		r = 1;
	return r;
}
