/* coco/store: the SNP certificate cache (schema migration 2): put/get/list/delete, the key's
 * shape checks, a u64 TCB with the top bit set, and persistence across close + reopen. The DER
 * bytes are arbitrary: the store does not parse certificates (sevd validates before caching). */
#include <check.h>

#include "coco/store.h"
#include "coco/util.h"
#include "tests/check_main.h"

static char tmpdir[64];

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cocod-certcache-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct coco_store *open_store(void)
{
	char dir[128], err[256] = "";
	snprintf(dir, sizeof(dir), "%s/state", tmpdir);
	struct coco_store *s = NULL;
	ck_assert_msg(coco_store_open(dir, &s, err, sizeof(err)) == 0, "%s", err);
	return s;
}

static struct coco_cert_record rec(const char *product, const char *hwid, uint64_t tcb,
				   enum coco_cert_kind kind, const uint8_t *der, size_t len)
{
	struct coco_cert_record r = {.source = COCO_CERT_SRC_KDS, .fetched_at = 1700000000,
				     .not_after = 1900000000, .der = (uint8_t *)der, .der_len = len};
	snprintf(r.key.product, sizeof(r.key.product), "%s", product);
	snprintf(r.key.hwid, sizeof(r.key.hwid), "%s", hwid);
	r.key.tcb = tcb;
	r.key.kind = kind;
	return r;
}

#define HWID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" \
	     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
/* Turin TCB with FMC in the top byte: the u64 must survive SQLite's signed INTEGER. */
#define TCB_HIGH 0x9a1b000000000304ull

START_TEST(cert_put_get_list_delete_persist)
{
	struct coco_store *s = open_store();
	int v;
	ck_assert_int_eq(coco_store_schema_version(s, &v), 0);
	ck_assert_int_eq(v, coco_store_latest_schema());
	ck_assert_int_ge(v, 2); /* the certificate cache is migration 2 */

	uint8_t vcek[300], ark[200], crl[50];
	memset(vcek, 0x11, sizeof(vcek));
	memset(ark, 0x22, sizeof(ark));
	memset(crl, 0x33, sizeof(crl));
	struct coco_cert_record r1 = rec("Turin", HWID, TCB_HIGH, COCO_CERT_VCEK, vcek, sizeof(vcek));
	struct coco_cert_record r2 = rec("Turin", "", 0, COCO_CERT_ARK, ark, sizeof(ark));
	struct coco_cert_record r3 = rec("Milan", "", 0, COCO_CERT_CRL, crl, sizeof(crl));
	r2.source = COCO_CERT_SRC_IMPORT;
	r3.source = COCO_CERT_SRC_EMULATED;
	ck_assert_int_eq(coco_store_cert_put(s, &r1), 0);
	ck_assert_int_eq(coco_store_cert_put(s, &r2), 0);
	ck_assert_int_eq(coco_store_cert_put(s, &r3), 0);
	/* Replacing a key updates in place. */
	r1.not_after = 1950000000;
	ck_assert_int_eq(coco_store_cert_put(s, &r1), 0);

	struct coco_cert_record got;
	ck_assert_int_eq(coco_store_cert_get(s, &r1.key, &got), 0);
	ck_assert_uint_eq(got.key.tcb, TCB_HIGH);
	ck_assert_str_eq(got.key.hwid, HWID);
	ck_assert_int_eq(got.key.kind, COCO_CERT_VCEK);
	ck_assert_int_eq(got.source, COCO_CERT_SRC_KDS);
	ck_assert_int_eq(got.fetched_at, 1700000000);
	ck_assert_int_eq(got.not_after, 1950000000);
	ck_assert_uint_eq(got.der_len, sizeof(vcek));
	ck_assert_mem_eq(got.der, vcek, sizeof(vcek));
	coco_cert_record_clear(&got);

	/* Another TCB of the same chip is another key. */
	struct coco_cert_key k = r1.key;
	k.tcb = TCB_HIGH - 1;
	ck_assert_int_eq(coco_store_cert_get(s, &k, &got), -ENOENT);
	ck_assert_int_eq(coco_store_cert_delete(s, &k), -ENOENT);

	struct coco_cert_record *list;
	size_t n;
	ck_assert_int_eq(coco_store_cert_list(s, NULL, &list, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(list[0].key.product, "Milan"); /* ordered by product, kind */
	ck_assert_int_eq(list[0].key.kind, COCO_CERT_CRL);
	ck_assert_int_eq(list[0].source, COCO_CERT_SRC_EMULATED);
	ck_assert_str_eq(coco_cert_kind_name(list[1].key.kind), "ark");
	ck_assert_str_eq(coco_cert_kind_name(list[2].key.kind), "vcek");
	coco_cert_records_free(list, n);
	ck_assert_int_eq(coco_store_cert_list(s, "Turin", &list, &n), 0);
	ck_assert_uint_eq(n, 2);
	coco_cert_records_free(list, n);

	/* Survives a restart. */
	coco_store_close(s);
	s = open_store();
	ck_assert_int_eq(coco_store_cert_get(s, &r2.key, &got), 0);
	ck_assert_int_eq(got.source, COCO_CERT_SRC_IMPORT);
	ck_assert_mem_eq(got.der, ark, sizeof(ark));
	coco_cert_record_clear(&got);
	ck_assert_int_eq(coco_store_cert_delete(s, &r2.key), 0);
	ck_assert_int_eq(coco_store_cert_get(s, &r2.key, &got), -ENOENT);
	coco_store_close(s);
	s = open_store();
	ck_assert_int_eq(coco_store_cert_list(s, NULL, &list, &n), 0);
	ck_assert_uint_eq(n, 2);
	coco_cert_records_free(list, n);
	/* The operations table of migration 1 still works next to it. */
	char id[37];
	ck_assert_int_eq(coco_store_op_create(s, "snp.certs.refresh", id), 0);
	coco_store_close(s);
}
END_TEST

START_TEST(cert_bad_keys)
{
	struct coco_store *s = open_store();
	uint8_t der[4] = {1, 2, 3, 4};
	struct coco_cert_record bad[] = {
		rec("", HWID, 1, COCO_CERT_VCEK, der, 4),            /* no product */
		rec("Mil'an", HWID, 1, COCO_CERT_VCEK, der, 4),      /* SQL-ish product */
		rec("Milan", "0123ABCD", 1, COCO_CERT_VCEK, der, 4), /* uppercase hex */
		rec("Milan", "", 1, COCO_CERT_VCEK, der, 4),         /* VCEK without hwid */
		rec("Milan", "00", 0, COCO_CERT_ARK, der, 4),        /* ARK is not per chip */
		rec("Milan", "", 5, COCO_CERT_ASK, der, 4),          /* nor per TCB */
		rec("Milan", "", 0, (enum coco_cert_kind)42, der, 4),
		rec("Milan", "", 0, COCO_CERT_ARK, der, 0), /* empty */
		rec("Milan", "", 0, COCO_CERT_ARK, NULL, 4),
		rec("Milan", "", 0, COCO_CERT_ARK, der, COCO_CERT_DER_MAX + 1),
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(coco_store_cert_put(s, &bad[i]) == -EINVAL, "case %zu", i);
	struct coco_cert_record r = rec("Milan", "", 0, COCO_CERT_ARK, der, 4);
	r.source = (enum coco_cert_source)7;
	ck_assert_int_eq(coco_store_cert_put(s, &r), -EINVAL);
	struct coco_cert_record got = {.der_len = 77};
	ck_assert_int_eq(coco_store_cert_get(s, &bad[1].key, &got), -EINVAL);
	ck_assert_uint_eq(got.der_len, 77); /* untouched on failure */
	struct coco_cert_record *list;
	size_t n;
	ck_assert_int_eq(coco_store_cert_list(s, NULL, &list, &n), 0);
	ck_assert_uint_eq(n, 0);
	coco_cert_records_free(list, n);
	enum coco_cert_kind kind;
	ck_assert_int_eq(coco_cert_kind_from_name("asvk", &kind), 0);
	ck_assert_int_eq(kind, COCO_CERT_ASVK);
	ck_assert_int_eq(coco_cert_kind_from_name("VCEK", &kind), -EINVAL);
	coco_store_close(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("certcache");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cert_put_get_list_delete_persist);
	tcase_add_test(tc, cert_bad_keys);
	suite_add_tcase(s, tc);
	return s;
}

int main(void) { return run_suite(suite()); }
