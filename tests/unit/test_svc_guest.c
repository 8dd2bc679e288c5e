/* cocod/svc_guest.c and guest_launch.c in process, on the emulated platform: a TD launch while a
 * module update holds the TD-launch gate answers 409 with Retry-After and stores nothing, a
 * closed gate (module lost) refuses, a launch whose firmware measurement differs from the
 * expected one fails loudly and leaves no guest running. Inputs: the AmdSev OVMF fixture
 * (tests/data/snp/firmware) and a synthetic TDVF (tdvf_synth). */
#include <check.h>
#include <sys/stat.h>

#include "cocod/guest_launch.h"
#include "cocod/svc.h"
#include "coco/tdx/tdvf.h"
#include "coco/util.h"
#include "tdxd/gate.h"
#include "tests/check_main.h"

static char dir[] = "/tmp/test-svc-guest-XXXXXX";
static struct svc s;

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char cmd[512], conf[1024], err[256];
	snprintf(cmd, sizeof(cmd),
		 "mkdir %s/images && cp %s/tests/data/snp/firmware/ovmf_AmdSev_suffix.bin "
		 "%s/images/ovmf.fd",
		 dir, SOURCE_DIR, dir);
	ck_assert_int_eq(system(cmd), 0);
	uint8_t *td;
	ck_assert_int_eq(tdvf_synth(128 * 1024, 3, false, &td), 0);
	snprintf(cmd, sizeof(cmd), "%s/images/tdvf.fd", dir);
	FILE *f = fopen(cmd, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(td, 1, 128 * 1024, f), 128 * 1024);
	fclose(f);
	free(td);
	snprintf(conf, sizeof(conf), "platform = emulated\nstate_directory = %s/state\n"
				     "image_dir = %s/images\n", dir, dir);
	ck_assert_msg(coco_config_parse("t", conf, strlen(conf), &s.config, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(coco_store_open(s.config->state_dir, &s.store, err, sizeof(err)), 0);
	ck_assert_int_eq(sevd_measure_cache_new(&s.measure_cache), 0);
	struct hv_platform_params pp = {.kind = COCO_PLATFORM_EMULATED,
					.state_dir = s.config->state_dir};
	ck_assert_msg(hv_platform_open(&pp, &s.platform, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(tdxd_gate_new(&s.tdx_gate), 0);
	ck_assert_int_eq(svc_guest_start(&s, err, sizeof(err)), 0);
}

static void teardown(void)
{
	svc_guest_stop(&s);
	tdxd_gate_free(s.tdx_gate);
	hv_platform_close(s.platform);
	sevd_measure_cache_free(s.measure_cache);
	coco_store_close(s.store);
	coco_config_free(s.config);
	s = (struct svc){0};
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/test-svc-guest-XXXXXX");
}

static void create(const char *body, struct svc_reply *r)
{
	json_object *j = json_tokener_parse(body);
	ck_assert_ptr_nonnull(j);
	struct svc_req q = {.op = SVC_GUEST_CREATE, .role = COCO_ROLE_OPERATOR, .actor = "test"};
	q.doc.json = j;
	*r = (struct svc_reply){0};
	svc_guest_dispatch(&s, &q, r);
	json_object_put(j);
}

static const struct svc_req create_req = {.op = SVC_GUEST_CREATE};

static size_t n_guests(void)
{
	struct coco_guest *v;
	size_t n;
	ck_assert_int_eq(coco_store_guest_list(s.store, &v, &n), 0);
	coco_guests_free(v, n);
	return n;
}

static const char td_body[] =
	"{\"name\":\"td\",\"tee\":\"tdx\",\"firmware\":\"tdvf.fd\",\"vcpus\":1}";

START_TEST(td_launch_waits_for_gate)
{
	struct svc_reply r;
	/* A module update holds the gate: the launch gives up after its timeout, 409. */
	ck_assert_int_eq(tdxd_gate_enter_exclusive(s.tdx_gate, 1000), 0);
	uint64_t t0 = now_ns();
	create(td_body, &r);
	uint64_t waited_ms = (now_ns() - t0) / 1000000;
	ck_assert_int_eq(r.status, SVC_E_CONFLICT);
	ck_assert_uint_eq(r.doc.retry_after, GUEST_GATE_RETRY_AFTER_S);
	ck_assert_ptr_nonnull(strstr(r.detail, "TD-launch gate"));
	ck_assert_uint_ge(waited_ms, GUEST_GATE_TIMEOUT_MS - 50);
	ck_assert_uint_eq(n_guests(), 0);
	svc_reply_clear(&create_req, &r);
	tdxd_gate_leave_exclusive(s.tdx_gate);
	/* Released: the same request launches. */
	create(td_body, &r);
	ck_assert_msg(r.status == SVC_OK, "%s", r.detail);
	ck_assert_uint_eq(r.doc.http_status, 201);
	ck_assert_uint_eq(n_guests(), 1);
	svc_reply_clear(&create_req, &r);
	/* The module is lost: refused, nothing stored. */
	tdxd_gate_close(s.tdx_gate);
	create("{\"name\":\"td2\",\"tee\":\"tdx\",\"firmware\":\"tdvf.fd\"}", &r);
	ck_assert_int_eq(r.status, SVC_E_CONFLICT);
	ck_assert_uint_eq(r.doc.retry_after, 0);
	ck_assert_ptr_nonnull(strstr(r.detail, "reboot required"));
	ck_assert_uint_eq(n_guests(), 1);
	svc_reply_clear(&create_req, &r);
}
END_TEST

/* The firmware's measurement must equal the expected one: a wrong expectation fails with both
 * values named and leaves no guest. */
START_TEST(measurement_mismatch_fails)
{
	static const char *const bodies[] = {
		"{\"name\":\"s\",\"tee\":\"snp\",\"firmware\":\"ovmf.fd\",\"vcpus\":2}",
		"{\"name\":\"t\",\"tee\":\"tdx\",\"firmware\":\"tdvf.fd\",\"vcpus\":2}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bodies); i++) {
		json_object *j = json_tokener_parse(bodies[i]);
		struct guest_spec sp;
		char err[512];
		uint8_t exp[48];
		ck_assert_int_eq(guest_spec_parse(j, &sp, err, sizeof(err)), 0);
		ck_assert_msg(guest_expected(s.measure_cache, s.config->image_dirs,
					     s.config->n_image_dirs, &sp, exp, err,
					     sizeof(err)) == 0,
			      "%s", err);
		struct guest_handle h;
		ck_assert_msg(guest_launch_emulated(s.platform, s.tdx_gate, s.measure_cache,
						    s.config->image_dirs, s.config->n_image_dirs,
						    &sp, exp, &h, err, sizeof(err)) == 0,
			      "%s", err);
		ck_assert(h.snp || h.tdx);
		guest_handle_free(&h);
		char want[97];
		hex_encode(exp, 48, want);
		exp[47] ^= 1;
		ck_assert_int_eq(guest_launch_emulated(s.platform, s.tdx_gate, s.measure_cache,
						       s.config->image_dirs, s.config->n_image_dirs,
						       &sp, exp, &h, err, sizeof(err)),
				 -EBADMSG);
		ck_assert_ptr_nonnull(strstr(err, "differs from the expected"));
		ck_assert_ptr_nonnull(strstr(err, want)); /* what the firmware measured */
		ck_assert(!h.snp && !h.tdx);
		guest_spec_clear(&sp);
		json_object_put(j);
	}
}
END_TEST

/* Idempotency-Key claims: while the key's first request runs, a second one with it (same
 * caller) gets 409 + Retry-After instead of running the op again; another caller's key is
 * its own; a failed first request leaves nothing (the key is free again); a recorded one is
 * replayed. */
START_TEST(idempotency_claims)
{
	struct svc_req q1 = {.op = SVC_GUEST_CREATE, .actor = "alice"}, q2 = q1, q3 = q1;
	q3.actor = "bob";
	snprintf(q1.doc.idempotency_key, sizeof(q1.doc.idempotency_key), "k-1");
	memcpy(q2.doc.idempotency_key, q1.doc.idempotency_key, 4);
	memcpy(q3.doc.idempotency_key, q1.doc.idempotency_key, 4);
	struct svc_reply r = {0};
	ck_assert(!svc_idem_replay(&s, &q1, "guest.create", &r)); /* claimed by q1 */
	ck_assert(svc_idem_replay(&s, &q2, "guest.create", &r));
	ck_assert_int_eq(r.status, SVC_E_CONFLICT);
	ck_assert_uint_eq(r.doc.retry_after, 1);
	ck_assert_ptr_nonnull(strstr(r.detail, "'k-1' is still running"));
	r = (struct svc_reply){0};
	ck_assert(!svc_idem_replay(&s, &q3, "guest.create", &r)); /* bob's own key */
	svc_idem_release(&s, &q3);
	/* q1 failed: its claim goes, nothing is kept, q2 may run. */
	r = (struct svc_reply){.status = SVC_E_INTERNAL};
	svc_idem_record(&s, &q1, "guest.create", &r);
	r = (struct svc_reply){0};
	ck_assert(!svc_idem_replay(&s, &q2, "guest.create", &r));
	/* q2 succeeds and is recorded: q1 retried now gets q2's reply. */
	r = (struct svc_reply){0};
	r.doc.json = json_tokener_parse("{\"id\":\"x\"}");
	r.doc.http_status = 201;
	snprintf(r.doc.location, sizeof(r.doc.location), "/v1/guests/x");
	svc_idem_record(&s, &q2, "guest.create", &r);
	json_object_put(r.doc.json);
	r = (struct svc_reply){0};
	ck_assert(svc_idem_replay(&s, &q1, "guest.create", &r));
	ck_assert_int_eq(r.status, SVC_OK);
	ck_assert_uint_eq(r.doc.http_status, 201);
	ck_assert_str_eq(r.doc.location, "/v1/guests/x");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(r.doc.json, "id")), "x");
	json_object_put(r.doc.json);
	ck_assert_ptr_null(s.idem_claims);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("svc_guest");
	TCase *tc = tcase_create("guest");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, td_launch_waits_for_gate);
	tcase_add_test(tc, measurement_mismatch_fails);
	tcase_add_test(tc, idempotency_claims);
	suite_add_tcase(su, tc);
	return run_suite(su);
}
