/* coco/config: the cocod.conf parser, good and hostile inputs. */
#include <check.h>

#include "coco/config.h"
#include "coco/util.h"
#include "tests/check_main.h"

static struct coco_config *cfg;
static char err[1024];

static int parse(const char *text)
{
	coco_config_free(cfg);
	cfg = NULL;
	err[0] = '\0';
	return coco_config_parse("t.conf", text, strlen(text), &cfg, err, sizeof(err));
}

static void teardown(void)
{
	coco_config_free(cfg);
	cfg = NULL;
}

START_TEST(minimal_defaults)
{
	ck_assert_int_eq(parse("platform = emulated\n"), 0);
	ck_assert_int_eq(cfg->platform, COCO_PLATFORM_EMULATED);
	ck_assert_str_eq(cfg->state_dir, "/var/lib/cocod");
	ck_assert_str_eq(cfg->listen_unix, "/run/cocod/cocod.sock");
	ck_assert_uint_eq(cfg->listen_unix_mode, 0660);
	ck_assert_ptr_null(cfg->listen_tcp);
	ck_assert_str_eq(cfg->kds_base_url, "https://kdsintf.amd.com");
	ck_assert_ptr_null(cfg->libvirt_uri);
	ck_assert_int_eq(cfg->log_level, LOG_INFO);
	ck_assert_uint_eq(cfg->api_max_body, 1u << 20);
	ck_assert_int_eq(cfg->unix_default_role, COCO_ROLE_READER);
	ck_assert_str_eq(cfg->tdx_module_dir, "/var/lib/cocod/tdx-modules");
	ck_assert_ptr_null(cfg->tdx_mapping_file);
	ck_assert_str_eq(cfg->tdx_module_pin, "latest");
	ck_assert_uint_eq(cfg->tdx_gate_timeout_s, 30);
	ck_assert(!cfg->tdx_allow_debug_modules);
}
END_TEST

START_TEST(tdx_keys)
{
	ck_assert_int_eq(parse("platform = native\ntdx_module_dir = /srv/tdx\n"
			       "tdx_mapping_file = /srv/map.json\ntdx_module_pin = 1.5.16\n"
			       "tdx_gate_timeout = 120\ntdx_allow_debug_modules = yes\n"),
			 0);
	ck_assert_str_eq(cfg->tdx_module_dir, "/srv/tdx");
	ck_assert_str_eq(cfg->tdx_mapping_file, "/srv/map.json");
	ck_assert_str_eq(cfg->tdx_module_pin, "1.5.16");
	ck_assert_uint_eq(cfg->tdx_gate_timeout_s, 120);
	ck_assert(cfg->tdx_allow_debug_modules);
}
END_TEST

START_TEST(full_config)
{
	const char *t = "# comment\n"
			"  platform = native  \n"
			"state_directory = \"/srv/cocod state\"\n"
			"listen_unix = /tmp/x.sock\n"
			"listen_unix_mode = 0600\n"
			"listen_unix_group = 0\n"
			"listen_tcp = [::1]:8443\n"
			"token_file = /etc/cocod/tokens\n"
			"kds_base_url = http://proxy.local:8080/kds///\n"
			"libvirt_uri = qemu+ssh://h/system\n"
			"log_level = debug\n"
			"api_max_body = 4096\n"
			"api_max_connections = 8\n"
			"unix_default_role = none\n"
			"unix_role = operator 1000\n"
			"unix_role = admin @0\n";
	ck_assert_msg(parse(t) == 0, "%s", err);
	ck_assert_int_eq(cfg->platform, COCO_PLATFORM_NATIVE);
	ck_assert_str_eq(cfg->state_dir, "/srv/cocod state");
	ck_assert_uint_eq(cfg->listen_unix_mode, 0600);
	ck_assert_str_eq(cfg->listen_tcp, "[::1]:8443");
	ck_assert_str_eq(cfg->kds_base_url, "http://proxy.local:8080/kds");
	ck_assert_str_eq(cfg->libvirt_uri, "qemu+ssh://h/system");
	ck_assert_int_eq(cfg->log_level, LOG_DEBUG);
	ck_assert_uint_eq(cfg->api_max_body, 4096);
	ck_assert_uint_eq(cfg->api_max_connections, 8);
	ck_assert_int_eq(cfg->unix_default_role, COCO_ROLE_NONE);
	ck_assert_uint_eq(cfg->n_unix_roles, 2);
	ck_assert_int_eq(cfg->unix_roles[0].role, COCO_ROLE_OPERATOR);
	ck_assert(!cfg->unix_roles[0].is_group);
	ck_assert_uint_eq(cfg->unix_roles[0].id, 1000);
	ck_assert(cfg->unix_roles[1].is_group);
	ck_assert_uint_eq(cfg->unix_roles[1].id, 0);
}
END_TEST

START_TEST(shipped_config_is_valid)
{
	ck_assert_int_eq(coco_config_load(SOURCE_DIR "/etc/cocod.conf", &cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(cfg->platform, COCO_PLATFORM_NATIVE);
}
END_TEST

/* Each hostile input: expected message fragment (file, line and key named). */
static const struct {
	const char *text, *msg;
} bad[] = {
	{"", "t.conf: key 'platform': required"},
	{"state_directory = /x\n", "key 'platform': required"},
	{"platform = emulated\nplatform = native\n", "t.conf:2: key 'platform': already set on line 1"},
	{"platform = vmware\n", "t.conf:1: key 'platform': invalid value 'vmware'"},
	{"platform = emulated\nfoo = bar\n", "t.conf:2: key 'foo': unknown key"},
	{"platform = emulated\njust words\n", "t.conf:2: expected 'key = value'"},
	{"platform = emulated\nstate_directory = relative/dir\n", "t.conf:2: key 'state_directory': 'relative/dir' is not an absolute path"},
	{"platform = emulated\nlisten_unix_mode = 0999\n", "t.conf:2: key 'listen_unix_mode'"},
	{"platform = emulated\nlisten_unix_mode = 01777\n", "key 'listen_unix_mode'"},
	{"platform = emulated\nlisten_tcp = localhost:80\n", "t.conf:2: key 'listen_tcp': 'localhost:80' is not ADDRESS:PORT"},
	{"platform = emulated\nlisten_tcp = 127.0.0.1:0\n", "key 'listen_tcp'"},
	{"platform = emulated\nlisten_tcp = 127.0.0.1:65536\n", "key 'listen_tcp'"},
	{"platform = emulated\nlisten_tcp = 0.0.0.0:8443\ntoken_file = /t\n", "t.conf:2: key 'listen_tcp': plain HTTP is only allowed on loopback"},
	{"platform = emulated\nlisten_tcp = 127.0.0.1:8443\n", "t.conf:2: key 'listen_tcp': TCP clients need credentials"},
	{"platform = emulated\nlisten_tcp = 10.0.0.1:8443\ntls_cert = /c\n", "t.conf:3: key 'tls_cert': tls_cert and tls_key must be set together"},
	{"platform = emulated\ntls_client_ca = /ca\n", "key 'tls_client_ca': requires tls_cert"},
	{"platform = emulated\ntls_cert = /c\ntls_key = /k\n", "t.conf:2: key 'tls_cert': TLS applies to listen_tcp"},
	{"platform = emulated\nlog_level = loud\n", "t.conf:2: key 'log_level': invalid value 'loud'"},
	{"platform = emulated\napi_max_body = 12\n", "t.conf:2: key 'api_max_body'"},
	{"platform = emulated\napi_max_body = 99999999999999999999999\n", "key 'api_max_body'"},
	{"platform = emulated\napi_max_connections = 0\n", "key 'api_max_connections'"},
	{"platform = emulated\nunix_role = god 0\n", "t.conf:2: key 'unix_role': unknown role 'god'"},
	{"platform = emulated\nunix_role = admin\n", "t.conf:2: key 'unix_role': expected '<role> <user|uid|@group|@gid>'"},
	{"platform = emulated\nunix_role = admin no-such-user-xyz\n", "key 'unix_role': unknown user 'no-such-user-xyz'"},
	{"platform = emulated\nunix_role = none 0\n", "key 'unix_role': unknown role 'none'"},
	{"platform = emulated\nkds_base_url = ftp://x\n", "t.conf:2: key 'kds_base_url'"},
	/* Found by tests/fuzz/fuzz_config: a scheme with no host used to be stored as "https:". */
	{"platform = native\nkds_base_url = https://\n", "t.conf:2: key 'kds_base_url': 'https://' is not an http(s) URL with a host"},
	{"platform = native\nkds_base_url = http:///x\n", "key 'kds_base_url'"},
	{"platform = native\nlibvirt_uri = qemu\n", "t.conf:2: key 'libvirt_uri': 'qemu' is not a libvirt URI"},
	{"platform = native\nlibvirt_uri = :/x\n", "key 'libvirt_uri'"},
	{"platform = native\nlibvirt_uri = qemu:///sys\"tem\n", "key 'libvirt_uri'"},
	{"platform = emulated\nlisten_unix =\n", "key 'listen_unix': no listener"},
	{"platform = native\nsnp_vlek_url = https://csp/{hwid}\n", "t.conf:2: key 'snp_vlek_url': 'https://csp/{hwid}' is not an http(s) URL template"},
	{"platform = native\nsnp_vlek_url = https://csp/{tcb\n", "key 'snp_vlek_url'"},
	{"platform = native\nsnp_vlek_url = file:///etc/vlek\n", "key 'snp_vlek_url'"},
	{"platform = emulated\nkds_base_url = emulated\nsnp_vlek_url = https://csp/{tcb}\n", "t.conf:3: key 'snp_vlek_url': with kds_base_url = emulated"},
	{"platform = native\nkds_client_cert = /c.pem\n", "t.conf:2: key 'kds_client_cert': kds_client_cert and kds_client_key must be set together"},
	{"platform = native\nkds_client_key = k.pem\n", "key 'kds_client_key': 'k.pem' is not an absolute path"},
	{"platform = emulated\ntls_subject_role = admin CN=x\n", "key 'tls_subject_role': requires tls_client_ca"},
	{"platform = native\ntdx_module_pin = 1.5.6\n", "t.conf:2: key 'tdx_module_pin': '1.5.6' is neither a module version"},
	{"platform = native\ntdx_module_pin = newest\n", "key 'tdx_module_pin'"},
	{"platform = native\ntdx_module_dir = tdx\n", "t.conf:2: key 'tdx_module_dir': 'tdx' is not an absolute path"},
	{"platform = native\ntdx_gate_timeout = 0\n", "t.conf:2: key 'tdx_gate_timeout'"},
	{"platform = native\ntdx_allow_debug_modules = maybe\n", "key 'tdx_allow_debug_modules': 'maybe' is not yes or no"},
	{"platform = emulated\nlisten_unix_group = no-such-group-xyz\n", "t.conf:2: key 'listen_unix_group': unknown group"},
	{"platform = emulated\nlisten_unix = /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\n", "t.conf:2: key 'listen_unix': socket path longer than 107 bytes"},
};

START_TEST(hostile)
{
	ck_assert_int_lt(parse(bad[_i].text), 0);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(err, bad[_i].msg), "input %d: got '%s', want '%s'", _i, err,
		      bad[_i].msg);
}
END_TEST

START_TEST(csp_vlek_keys)
{
	ck_assert_int_eq(parse("platform = native\n"
			       "snp_vlek_url = https://csp.example/vlek/{product}/{tcb}?fmc={fmcSPL}\n"
			       "kds_client_cert = /etc/cocod/csp.pem\n"
			       "kds_client_key = /etc/cocod/csp.key\n"),
			 0);
	ck_assert_str_eq(cfg->snp_vlek_url, "https://csp.example/vlek/{product}/{tcb}?fmc={fmcSPL}");
	ck_assert_str_eq(cfg->kds_client_cert, "/etc/cocod/csp.pem");
	ck_assert_str_eq(cfg->kds_client_key, "/etc/cocod/csp.key");
}
END_TEST

START_TEST(long_line_and_nul)
{
	char *t = malloc(10000);
	memset(t, 'a', 9999);
	t[9999] = '\0';
	ck_assert_int_eq(parse(t), -E2BIG);
	ck_assert_ptr_nonnull(strstr(err, "t.conf:1: line longer"));
	free(t);
	const char nul[] = "platform = emu\0lated\n";
	ck_assert_int_lt(coco_config_parse("t.conf", nul, sizeof(nul) - 1, &cfg, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
}
END_TEST

START_TEST(missing_file)
{
	ck_assert_int_eq(coco_config_load("/nonexistent/cocod.conf", &cfg, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/cocod.conf: cannot read"));
}
END_TEST

START_TEST(hostport)
{
	char host[64];
	unsigned port;
	ck_assert_int_eq(coco_parse_hostport("127.0.0.1:80", host, sizeof(host), &port), 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_uint_eq(port, 80);
	ck_assert_int_eq(coco_parse_hostport("[fe80::1]:65535", host, sizeof(host), &port), 0);
	ck_assert_str_eq(host, "fe80::1");
	ck_assert_uint_eq(port, 65535);
	ck_assert_int_lt(coco_parse_hostport("::1:80", host, sizeof(host), &port), 0);
	ck_assert_int_lt(coco_parse_hostport("[::1]80", host, sizeof(host), &port), 0);
	ck_assert_int_lt(coco_parse_hostport(":80", host, sizeof(host), &port), 0);
	ck_assert_int_lt(coco_parse_hostport("1.2.3.4:", host, sizeof(host), &port), 0);
	ck_assert_int_lt(coco_parse_hostport("1.2.3.4:-1", host, sizeof(host), &port), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, minimal_defaults);
	tcase_add_test(tc, full_config);
	tcase_add_test(tc, tdx_keys);
	tcase_add_test(tc, shipped_config_is_valid);
	tcase_add_test(tc, csp_vlek_keys);
	tcase_add_loop_test(tc, hostile, 0, (int)ARRAY_SIZE(bad));
	tcase_add_test(tc, long_line_and_nul);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, hostport);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
