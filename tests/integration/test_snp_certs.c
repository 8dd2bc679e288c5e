/* The certificate service on the real daemon (emulated platform): the table file, the VMM
 * socket and a simulated KVM_EXIT_SNP_REQ_CERTS agree with the validated cache; an untrusted
 * root is never cached nor served; KDS failures (mock KDS on 127.0.0.1) keep the cached chain
 * served; a VLEK hashstick is checked, loaded, kept and reloaded after a restart. */
#include <check.h>
#include <errno.h>
#include <openssl/evp.h>
#include <json-c/json.h>
#include <openssl/x509.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coco/endian.h"
#include "coco/snp/certtable.h"
#include "coco/util.h"
#include "harness.h"
#include "hv/emul/amdpki.h"
#include "hv/snp_req_certs.h"
#include "sevd/vmmsock.h"
#include "tests/check_main.h"
#include "tests/kds_mock.h"

static struct daemon d;
static void teardown(void) { daemon_cleanup(&d); }

static void get_table(uint8_t **ret, size_t *ret_len)
{
	struct reply r;
	http(&d, "GET", "/v1/snp/certs/table", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.headers, "application/octet-stream"));
	/* The harness NUL-terminates; the table holds NULs, so take its size from the JSON. */
	json_object *l = http_json(&d, "GET", "/v1/snp/certs", NULL, NULL, 0, 200);
	size_t n = (size_t)atol(json_path(l, "table.size"));
	json_object_put(l);
	*ret = malloc(n);
	memcpy(*ret, r.body, n);
	*ret_len = n;
	reply_free(&r);
}

/* The table decodes to ARK, ASK|ASVK, VCEK|VLEK whose DER equal the cache's. */
static void check_table(const uint8_t *t, size_t len, bool vlek)
{
	struct snp_cert_entry e[8];
	size_t n;
	char err[128];
	ck_assert_int_eq(snp_cert_table_decode(t, len, e, 8, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(e[0].kind, SNP_CERT_ARK);
	ck_assert_int_eq(e[1].kind, SNP_CERT_ASK);
	ck_assert_int_eq(e[2].kind, vlek ? SNP_CERT_VLEK : SNP_CERT_VCEK);
	json_object *l = http_json(&d, "GET", "/v1/snp/certs", NULL, NULL, 0, 200);
	json_object *certs;
	ck_assert(json_object_object_get_ex(l, "certificates", &certs));
	const char *want_kind[] = {"ark", vlek ? "asvk" : "ask", vlek ? "vlek" : "vcek"};
	for (size_t i = 0; i < 3; i++) {
		uint8_t fp[32];
		char hex[65];
		EVP_Digest(e[i].data, e[i].len, fp, NULL, EVP_sha256(), NULL);
		hex_encode(fp, 32, hex);
		bool found = false;
		for (size_t j = 0; j < json_object_array_length(certs); j++) {
			json_object *c = json_object_array_get_idx(certs, j);
			if (streq(json_path(c, "kind"), want_kind[i]) && streq(json_path(c, "sha256"), hex))
				found = true;
		}
		ck_assert_msg(found, "table entry %zu (%s) is not the cached certificate", i,
			      want_kind[i]);
	}
	json_object_put(l);
}

/* The start-up fetch runs in the background: wait (bounded) until the table is complete. */
static void wait_complete(const char *chain)
{
	for (int i = 0; i < 200; i++) {
		json_object *l = http_json(&d, "GET", "/v1/snp/certs", NULL, NULL, 0, 200);
		const char *c = json_path(l, "table.complete"), *ch = json_path(l, "table.chain");
		bool done = c && streq(c, "true") && ch && streq(ch, chain);
		json_object_put(l);
		if (done)
			return;
		usleep(50000);
	}
	ck_abort_msg("the certificate table did not become complete (%s chain) in 10 s", chain);
}

START_TEST(table_file_socket_and_req_certs)
{
	daemon_config(&d, "kds_base_url = emulated\nsnp_trust_emulated_root = yes\n"
			  "vmm_socket = %DIR%/vmm.sock\n");
	daemon_start(&d);
	wait_complete("vcek");
	json_object *l = http_json(&d, "GET", "/v1/snp/certs", NULL, NULL, 0, 200);
	ck_assert_str_eq(json_path(l, "table.complete"), "true");
	ck_assert_str_eq(json_path(l, "table.chain"), "vcek");
	ck_assert_str_eq(json_path(l, "product"), "Genoa");
	json_object_put(l);
	uint8_t *t;
	size_t tlen;
	get_table(&t, &tlen);
	check_table(t, tlen, false);

	/* The file VMMs read holds the same bytes. */
	char path[256];
	snprintf(path, sizeof(path), "%s/state/snp-cert-table.bin", d.dir);
	char *file;
	size_t flen;
	ck_assert_int_eq(read_file_max(path, 1 << 20, &file, &flen), 0);
	ck_assert_uint_eq(flen, tlen);
	ck_assert_mem_eq(file, t, tlen);
	free(file);

	/* A simulated KVM_EXIT_SNP_REQ_CERTS on that file: one page is too small (the table is
	 * ~4.7 KiB): ENOSPC and the page count; two pages get the table. */
	size_t pages = (tlen + 4095) / 4096;
	ck_assert_uint_eq(pages, 2);
	uint8_t *guest = calloc(1, 4 * 4096);
	struct hv_guest_mem_region reg = {.gpa = 0x100000, .size = 4 * 4096, .hva = guest};
	struct hv_guest_mem m = {.regions = &reg, .n = 1};
	struct hv_kvm_exit_snp_req_certs ex = {.gpa = 0x100000, .npages = 1};
	int lfd = -1;
	ck_assert_int_eq(hv_snp_req_certs_handle(&ex, &m, path, 1000, &lfd), 0);
	ck_assert_uint_eq(ex.ret, ENOSPC);
	ck_assert_uint_eq(ex.npages, pages);
	if (lfd >= 0)
		close(lfd);
	ex = (struct hv_kvm_exit_snp_req_certs){.gpa = 0x100000, .npages = 2};
	lfd = -1;
	ck_assert_int_eq(hv_snp_req_certs_handle(&ex, &m, path, 1000, &lfd), 0);
	ck_assert_uint_eq(ex.ret, 0);
	ck_assert_mem_eq(guest, t, tlen);
	check_table(guest, 2 * 4096, false);
	if (lfd >= 0)
		close(lfd);
	free(guest);

	/* The VMM socket: the same two answers. */
	char vpath[160];
	snprintf(vpath, sizeof(vpath), "%s/vmm.sock", d.dir);
	int fd = vmmsock_connect(vpath);
	ck_assert_int_ge(fd, 0);
	uint8_t buf[VMMSOCK_TABLE_MAX];
	uint32_t st, need;
	size_t got;
	ck_assert_int_eq(vmmsock_request(fd, 1, buf, sizeof(buf), &st, &need, &got), 0);
	ck_assert_uint_eq(st, VMMSOCK_STATUS_ENOSPC);
	ck_assert_uint_eq(need, pages);
	ck_assert_int_eq(vmmsock_request(fd, 2, buf, sizeof(buf), &st, &need, &got), 0);
	ck_assert_uint_eq(st, VMMSOCK_STATUS_OK);
	ck_assert_uint_eq(got, tlen);
	ck_assert_mem_eq(buf, t, tlen);
	close(fd);
	free(t);
}
END_TEST

START_TEST(untrusted_root_is_neither_cached_nor_served)
{
	/* The emulated KDS under a root that is not trusted: every chain fails validation. */
	daemon_config(&d, "kds_base_url = emulated\n");
	daemon_start(&d);
	json_object *e = http_json(&d, "POST", "/v1/snp/certs/refresh", NULL, NULL, 0, 502);
	ck_assert_str_eq(json_path(e, "type"), "urn:cocod:problem:upstream-error");
	ck_assert_msg(strstr(json_path(e, "detail"), "ARK: not a pinned AMD root nor a trusted one"),
		      "%s", json_path(e, "detail"));
	json_object_put(e);
	json_object *l = http_json(&d, "GET", "/v1/snp/certs", NULL, NULL, 0, 200);
	json_object *certs;
	ck_assert(json_object_object_get_ex(l, "certificates", &certs));
	ck_assert_uint_eq(json_object_array_length(certs), 0);
	ck_assert_str_eq(json_path(l, "table.served"), "false");
	json_object_put(l);
	e = http_json(&d, "GET", "/v1/snp/certs/table", NULL, NULL, 0, 404);
	json_object_put(e);
}
END_TEST

START_TEST(kds_failures_keep_the_cached_chain)
{
	char pdir[256];
	snprintf(pdir, sizeof(pdir), "%s", PKI_CACHE_DIR);
	struct emul_amd_pki *pki;
	ck_assert_int_eq(emul_amd_pki_open(pdir, SNP_PRODUCT_GENOA, &pki), 0);
	struct kds_mock *mock;
	ck_assert_int_eq(kds_mock_start(pki, &mock), 0);
	/* The first fetch gets garbage for the chain: nothing is stored or served. */
	struct kds_mock_action garbage = {.kind = KDS_MOCK_GARBAGE};
	ck_assert_int_eq(kds_mock_push(mock, &garbage), 0);
	char extra[512];
	snprintf(extra, sizeof(extra),
		 "kds_base_url = %s\nsnp_trust_emulated_root = yes\nkds_attempts = 2\n"
		 "kds_timeout = 5\n",
		 kds_mock_base_url(mock));
	daemon_config(&d, extra);
	daemon_start(&d);
	/* Wait (bounded) for the start-up fetch to have run. */
	for (int i = 0; i < 100 && kds_mock_requests(mock) < 1; i++)
		usleep(50000);
	usleep(200000);
	json_object *l = http_json(&d, "GET", "/v1/snp/certs", NULL, NULL, 0, 200);
	json_object *certs;
	ck_assert(json_object_object_get_ex(l, "certificates", &certs));
	ck_assert_uint_eq(json_object_array_length(certs), 0);
	ck_assert_str_eq(json_path(l, "table.served"), "false");
	json_object_put(l);

	/* 404 on the VCEK is not retried. */
	struct kds_mock_action serve = {.kind = KDS_MOCK_SERVE};
	struct kds_mock_action nf = {.kind = KDS_MOCK_STATUS, .status = 404};
	ck_assert_int_eq(kds_mock_push(mock, &serve), 0);
	ck_assert_int_eq(kds_mock_push(mock, &nf), 0);
	unsigned before = kds_mock_requests(mock);
	json_object *e = http_json(&d, "POST", "/v1/snp/certs/refresh", NULL, NULL, 0, 502);
	ck_assert_msg(strstr(json_path(e, "detail"), "VCEK"), "%s", json_path(e, "detail"));
	json_object_put(e);
	ck_assert_uint_eq(kds_mock_requests(mock) - before, 2);
	/* The chain it did get is valid and cached; the table is partial (ARK, ASK). */
	l = http_json(&d, "GET", "/v1/snp/certs", NULL, NULL, 0, 200);
	ck_assert_str_eq(json_path(l, "table.complete"), "false");
	json_object_put(l);

	/* A VCEK for another hwid is refused; then two 500s and a good answer complete it. */
	struct kds_mock_action other = {.kind = KDS_MOCK_OTHER_HWID};
	ck_assert_int_eq(kds_mock_push(mock, &other), 0);
	e = http_json(&d, "POST", "/v1/snp/certs/refresh", NULL, NULL, 0, 502);
	ck_assert_msg(strstr(json_path(e, "detail"), "hwID"), "%s", json_path(e, "detail"));
	json_object_put(e);
	struct kds_mock_action err500 = {.kind = KDS_MOCK_STATUS, .status = 500};
	ck_assert_int_eq(kds_mock_push(mock, &err500), 0);
	l = http_json(&d, "POST", "/v1/snp/certs/refresh", NULL, NULL, 0, 200);
	ck_assert_str_eq(json_path(l, "table.complete"), "true");
	json_object_put(l);

	/* KDS down (every request a 503 with Retry-After): a forced refresh fails, and the
	 * complete cached chain keeps being served. */
	uint8_t *t1, *t2;
	size_t n1, n2;
	get_table(&t1, &n1);
	struct kds_mock_action busy = {.kind = KDS_MOCK_STATUS, .status = 503, .retry_after = "1"};
	ck_assert_int_eq(kds_mock_push_n(mock, &busy, 4), 0);
	e = http_json(&d, "POST", "/v1/snp/certs/refresh", NULL, "{\"force\":true}", 0, 502);
	json_object_put(e);
	get_table(&t2, &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_mem_eq(t1, t2, n1);
	check_table(t2, n2, false);
	free(t1);
	free(t2);
	daemon_cleanup(&d);
	kds_mock_stop(mock);
	emul_amd_pki_free(pki);
}
END_TEST

static void restart(void)
{
	ck_assert_int_eq(daemon_signal_wait(&d, SIGTERM, 20), 0);
	daemon_start(&d);
}

START_TEST(vlek_load_keep_reload)
{
	daemon_config(&d, "kds_base_url = emulated\nsnp_trust_emulated_root = yes\n");
	daemon_start(&d);
	json_object *p = http_json(&d, "GET", "/v1/snp/platform", NULL, NULL, 0, 200);
	uint64_t tcb = strtoull(json_path(p, "tcb.reported.raw"), NULL, 16);
	json_object_put(p);
	char pdir[300];
	snprintf(pdir, sizeof(pdir), "%s/state", d.dir);
	struct emul_amd_pki *pki;
	ck_assert_int_eq(emul_amd_pki_open(pdir, SNP_PRODUCT_GENOA, &pki), 0);
	uint8_t good[EMUL_VLEK_HASHSTICK_SIZE], wrong[EMUL_VLEK_HASHSTICK_SIZE];
	ck_assert_int_eq(emul_amd_pki_wrap_vlek(pki, tcb, good), 0);
	ck_assert_int_eq(emul_amd_pki_wrap_vlek(pki, tcb - (1ull << 48), wrong), 0);
	emul_amd_pki_free(pki);

	/* Wrong TCB, wrong size, bad base64: refused, nothing loaded or kept. */
	json_object *e = http_json(&d, "POST", "/v1/snp/vlek", "application/octet-stream",
				  (const char *)wrong, sizeof(wrong), 422);
	ck_assert_msg(strstr(json_path(e, "detail"), "but the platform reports"), "%s",
		      json_path(e, "detail"));
	json_object_put(e);
	e = http_json(&d, "POST", "/v1/snp/vlek", "application/octet-stream", (const char *)good, 431,
		     422);
	json_object_put(e);
	e = http_json(&d, "POST", "/v1/snp/vlek", NULL, "{\"hashstick\":\"@@@\"}", 0, 422);
	json_object_put(e);
	json_object *v = http_json(&d, "GET", "/v1/snp/vlek", NULL, NULL, 0, 200);
	ck_assert_str_eq(json_path(v, "loaded"), "false");
	ck_assert_ptr_null(json_path(v, "kept"));
	json_object_put(v);

	/* The right one, as base64 JSON. */
	char *b64 = base64_encode(good, sizeof(good));
	char body[1024];
	snprintf(body, sizeof(body), "{\"hashstick\":\"%s\",\"version\":0}", b64);
	json_object *ok = http_json(&d, "POST", "/v1/snp/vlek", NULL, body, 0, 200);
	ck_assert_str_eq(json_path(ok, "loaded"), "true");
	ck_assert_str_eq(json_path(ok, "kept"), "true");
	json_object_put(ok);
	/* The table switches to the VLEK chain (the VLEK from the emulated CSP interface). */
	wait_complete("vlek");
	uint8_t *t;
	size_t tlen;
	get_table(&t, &tlen);
	check_table(t, tlen, true);
	free(t);

	/* Restart: the emulated firmware forgot the VLEK (as after a reset); cocod loads it
	 * again at start and the table carries the VLEK chain. */
	restart();
	wait_complete("vlek");
	v = http_json(&d, "GET", "/v1/snp/vlek", NULL, NULL, 0, 200);
	ck_assert_str_eq(json_path(v, "loaded"), "true");
	ck_assert_ptr_nonnull(json_path(v, "kept.loaded_at"));
	json_object_put(v);
	get_table(&t, &tlen);
	check_table(t, tlen, true);
	free(t);

	/* The hashstick never appears in the log. */
	char *log = slurp(d.log);
	ck_assert_ptr_nonnull(log);
	b64[40] = '\0';
	ck_assert_ptr_null(strstr(log, b64));
	free(log);
	free(b64);

	/* DELETE forgets it; a second DELETE is 404. */
	json_object *del = http_json(&d, "DELETE", "/v1/snp/vlek", NULL, NULL, 0, 200);
	json_object_put(del);
	del = http_json(&d, "DELETE", "/v1/snp/vlek", NULL, NULL, 0, 404);
	json_object_put(del);
}
END_TEST

/* The cloud provider's VLEK interface (snp_vlek_url, a template; kds_client_cert/key for its
 * TLS client authentication, unused over the mock's plain HTTP): after a VLEK load, the VLEK
 * certificate is fetched from it, validated and served in the VLEK chain. */
START_TEST(csp_vlek_interface)
{
	struct emul_amd_pki *pki;
	ck_assert_int_eq(emul_amd_pki_open(PKI_CACHE_DIR, SNP_PRODUCT_GENOA, &pki), 0);
	struct kds_mock *mock;
	ck_assert_int_eq(kds_mock_start(pki, &mock), 0);
	daemon_config(&d, "");
	/* The client certificate files must be readable, or cocod refuses to start. */
	char cert[300], key[300], extra[2048];
	snprintf(cert, sizeof(cert), "%s/csp.pem", d.dir);
	snprintf(key, sizeof(key), "%s/csp.key", d.dir);
	snprintf(extra, sizeof(extra),
		 "kds_base_url = %s\nsnp_trust_emulated_root = yes\nkds_attempts = 2\n"
		 "kds_timeout = 5\nsnp_vlek_url = %s/csp/vlek/{tcb}\n"
		 "kds_client_cert = %s\nkds_client_key = %s\n",
		 kds_mock_base_url(mock), kds_mock_base_url(mock), cert, key);
	daemon_rewrite_config(&d, extra);
	char *out;
	const char *argv[] = {COCOD_BIN, "-c", d.conf, NULL};
	ck_assert_int_eq(run_capture(argv, &out), 1);
	ck_assert_msg(strstr(out, "kds_client_cert"), "%s", out);
	free(out);
	FILE *f = fopen(cert, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	f = fopen(key, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	daemon_start(&d);
	wait_complete("vcek");
	json_object *p = http_json(&d, "GET", "/v1/snp/platform", NULL, NULL, 0, 200);
	uint64_t tcb = strtoull(json_path(p, "tcb.reported.raw"), NULL, 16);
	json_object_put(p);
	uint8_t hs[EMUL_VLEK_HASHSTICK_SIZE];
	ck_assert_int_eq(emul_amd_pki_wrap_vlek(pki, tcb, hs), 0);

	/* The CSP interface fails first (500s; each fetch gives up after kds_attempts = 2, and
	 * the load may start two fetches): the load itself succeeds, the VLEK chain stays
	 * incomplete and no VLEK is cached. */
	struct kds_mock_action err500 = {.kind = KDS_MOCK_STATUS, .status = 500};
	ck_assert_int_eq(kds_mock_push(mock, &(struct kds_mock_action){.kind = KDS_MOCK_SERVE}), 0);
	ck_assert_int_eq(kds_mock_push_n(mock, &err500, 4), 0);
	json_object *ok = http_json(&d, "POST", "/v1/snp/vlek", "application/octet-stream",
				   (const char *)hs, sizeof(hs), 200);
	json_object_put(ok);
	json_object *l = NULL;
	for (int i = 0; i < 200; i++) {
		l = http_json(&d, "GET", "/v1/snp/certs", NULL, NULL, 0, 200);
		const char *err = json_path(l, "table.last_fetch_error");
		if (err && strstr(err, "VLEK"))
			break;
		json_object_put(l);
		l = NULL;
		usleep(50000);
	}
	ck_assert_msg(l, "the VLEK fetch did not fail as scripted");
	ck_assert_str_eq(json_path(l, "table.complete"), "false");
	ck_assert_msg(strstr(json_path(l, "table.last_fetch_error"), "/csp/vlek/"), "%s",
		      json_path(l, "table.last_fetch_error"));
	json_object *certs;
	ck_assert(json_object_object_get_ex(l, "certificates", &certs));
	for (size_t i = 0; i < json_object_array_length(certs); i++)
		ck_assert_str_ne(json_path(json_object_array_get_idx(certs, i), "kind"), "vlek");
	json_object_put(l);

	/* The interface answers again: a refresh completes the VLEK chain with its certificate
	 * (one more try when a scripted 500 was still queued). */
	for (int i = 0; i < 3; i++) {
		struct reply rr;
		http(&d, "POST", "/v1/snp/certs/refresh", NULL, &rr);
		long st = rr.status;
		reply_free(&rr);
		if (st == 200)
			break;
		ck_assert_int_eq(st, 502);
	}
	l = http_json(&d, "GET", "/v1/snp/certs", NULL, NULL, 0, 200);
	ck_assert_str_eq(json_path(l, "table.complete"), "true");
	ck_assert_str_eq(json_path(l, "table.chain"), "vlek");
	json_object_put(l);
	char path[1024];
	kds_mock_last_path(mock, path, sizeof(path));
	char want[64];
	snprintf(want, sizeof(want), "/csp/vlek/%016llx", (unsigned long long)tcb);
	ck_assert_str_eq(path, want);
	uint8_t *t;
	size_t tlen;
	get_table(&t, &tlen);
	check_table(t, tlen, true);
	free(t);
	/* The refresh timer is set a day before the first served certificate expires. */
	l = http_json(&d, "GET", "/v1/snp/certs", NULL, NULL, 0, 200);
	ck_assert(json_object_object_get_ex(l, "certificates", &certs));
	long long first = 0;
	for (size_t i = 0; i < json_object_array_length(certs); i++) {
		json_object *c = json_object_array_get_idx(certs, i);
		const char *kind = json_path(c, "kind");
		if (streq(kind, "vcek") || streq(kind, "ask"))
			continue; /* not in the VLEK chain */
		long long na = atoll(json_path(c, "not_after"));
		if (!first || na < first)
			first = na;
	}
	ck_assert_str_eq(json_path(l, "table.chain"), "vlek");
	ck_assert_int_eq(atoll(json_path(l, "table.next_refresh_at")), first - 86400);
	json_object_put(l);
	daemon_cleanup(&d);
	kds_mock_stop(mock);
	emul_amd_pki_free(pki);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("snp_certs");
	TCase *tc = tcase_create("daemon");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, table_file_socket_and_req_certs);
	tcase_add_test(tc, untrusted_root_is_neither_cached_nor_served);
	tcase_add_test(tc, kds_failures_keep_the_cached_chain);
	tcase_add_test(tc, vlek_load_keep_reload);
	tcase_add_test(tc, csp_vlek_interface);
	suite_add_tcase(s, tc);
	int r = run_suite(s);
	curl_global_cleanup();
	return r;
}
