#include "coco/config.h"

#include <arpa/inet.h>
#include <grp.h>
#include <pwd.h>
#include <sys/un.h>
#include <stdarg.h>

#include "coco/snp/product.h"
#include "coco/tdx/version.h"
#include "coco/util.h"

#define MAX_LINE 4096

static const char *const level_names[] = {
	[LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

int coco_log_level_from_name(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
		if (level_names[i] && streq(level_names[i], s))
			return (int)i;
	return -1;
}

const char *coco_log_level_name(int level)
{
	if (level < 0 || (size_t)level >= ARRAY_SIZE(level_names) || !level_names[level])
		return "unknown";
	return level_names[level];
}


enum key_id {
	K_PLATFORM, K_STATE_DIR, K_LISTEN_UNIX, K_LISTEN_UNIX_MODE, K_LISTEN_UNIX_GROUP,
	K_LISTEN_TCP, K_TLS_CERT, K_TLS_KEY, K_TLS_CLIENT_CA, K_TOKEN_FILE, K_KDS_BASE_URL,
	K_LOG_LEVEL, K_API_MAX_BODY, K_API_MAX_CONNECTIONS, K_UNIX_DEFAULT_ROLE, K_UNIX_ROLE,
	K_TLS_SUBJECT_ROLE, K_IMAGE_DIR, K_SNP_CERT_TABLE, K_VMM_SOCKET, K_VMM_SOCKET_GROUP,
	K_SNP_TRUST_EMULATED_ROOT, K_SNP_CERT_CRL, K_KDS_TIMEOUT, K_KDS_ATTEMPTS, K_SNP_VLEK_CERT,
	K_SNP_VLEK_URL, K_KDS_CLIENT_CERT, K_KDS_CLIENT_KEY,
	K_TDX_MODULE_DIR, K_TDX_MAPPING_FILE, K_TDX_MODULE_PIN, K_TDX_GATE_TIMEOUT,
	K_TDX_ALLOW_DEBUG_MODULES, K_LIBVIRT_URI, K_COUNT,
};

struct parse_ctx {
	const char *name;
	char *err;
	size_t errlen;
	unsigned seen[K_COUNT]; /* line a single-valued key was set on, by key index */
};

static int fail(struct parse_ctx *p, unsigned line, const char *key, int r, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fail(struct parse_ctx *p, unsigned line, const char *key, int r, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (line && key)
		snprintf(p->err, p->errlen, "%s:%u: key '%s': %s", p->name, line, key, why);
	else if (line)
		snprintf(p->err, p->errlen, "%s:%u: %s", p->name, line, why);
	else
		snprintf(p->err, p->errlen, "%s: key '%s': %s", p->name, key ? key : "?", why);
	return r;
}

static const char *const role_names[] = {
	[COCO_ROLE_NONE] = "none", [COCO_ROLE_READER] = "reader",
	[COCO_ROLE_OPERATOR] = "operator", [COCO_ROLE_ADMIN] = "admin",
};

const char *coco_role_name(enum coco_role r)
{
	return (size_t)r < ARRAY_SIZE(role_names) ? role_names[r] : "none";
}

int coco_role_from_name(const char *s, enum coco_role *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(role_names); i++)
		if (streq(role_names[i], s)) {
			*ret = (enum coco_role)i;
			return 0;
		}
	return -EINVAL;
}

const char *coco_platform_name(enum coco_platform p)
{
	switch (p) {
	case COCO_PLATFORM_EMULATED: return "emulated";
	case COCO_PLATFORM_NATIVE: return "native";
	}
	return "unset";
}

int coco_parse_hostport(const char *s, char *host, size_t hostlen, unsigned *ret_port)
{
	const char *colon;
	size_t hl;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		hl = (size_t)(end - s - 1);
		s++;
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen)
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	uint64_t port;
	if (parse_uint(colon + 1, 65535, &port) < 0 || port == 0)
		return -EINVAL;
	unsigned char buf[16];
	if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
		return -EINVAL; /* numeric addresses only: no resolver at bind time */
	*ret_port = (unsigned)port;
	return 0;
}

static bool host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static const struct {
	const char *name;
	bool repeatable;
} keys[K_COUNT] = {
	[K_PLATFORM] = {"platform", false},
	[K_STATE_DIR] = {"state_directory", false},
	[K_LISTEN_UNIX] = {"listen_unix", false},
	[K_LISTEN_UNIX_MODE] = {"listen_unix_mode", false},
	[K_LISTEN_UNIX_GROUP] = {"listen_unix_group", false},
	[K_LISTEN_TCP] = {"listen_tcp", false},
	[K_TLS_CERT] = {"tls_cert", false},
	[K_TLS_KEY] = {"tls_key", false},
	[K_TLS_CLIENT_CA] = {"tls_client_ca", false},
	[K_TOKEN_FILE] = {"token_file", false},
	[K_KDS_BASE_URL] = {"kds_base_url", false},
	[K_LOG_LEVEL] = {"log_level", false},
	[K_API_MAX_BODY] = {"api_max_body", false},
	[K_API_MAX_CONNECTIONS] = {"api_max_connections", false},
	[K_UNIX_DEFAULT_ROLE] = {"unix_default_role", false},
	[K_UNIX_ROLE] = {"unix_role", true},
	[K_TLS_SUBJECT_ROLE] = {"tls_subject_role", true},
	[K_IMAGE_DIR] = {"image_dir", true},
	[K_SNP_CERT_TABLE] = {"snp_cert_table", false},
	[K_VMM_SOCKET] = {"vmm_socket", false},
	[K_VMM_SOCKET_GROUP] = {"vmm_socket_group", false},
	[K_SNP_TRUST_EMULATED_ROOT] = {"snp_trust_emulated_root", false},
	[K_SNP_CERT_CRL] = {"snp_cert_crl", false},
	[K_KDS_TIMEOUT] = {"kds_timeout", false},
	[K_KDS_ATTEMPTS] = {"kds_attempts", false},
	[K_SNP_VLEK_CERT] = {"snp_vlek_cert", false},
	[K_SNP_VLEK_URL] = {"snp_vlek_url", false},
	[K_KDS_CLIENT_CERT] = {"kds_client_cert", false},
	[K_KDS_CLIENT_KEY] = {"kds_client_key", false},
	[K_TDX_MODULE_DIR] = {"tdx_module_dir", false},
	[K_TDX_MAPPING_FILE] = {"tdx_mapping_file", false},
	[K_TDX_MODULE_PIN] = {"tdx_module_pin", false},
	[K_TDX_GATE_TIMEOUT] = {"tdx_gate_timeout", false},
	[K_TDX_ALLOW_DEBUG_MODULES] = {"tdx_allow_debug_modules", false},
	[K_LIBVIRT_URI] = {"libvirt_uri", false},
};

static int set_bool(struct parse_ctx *p, unsigned line, const char *key, bool *field,
		    const char *v)
{
	if (streq(v, "yes") || streq(v, "true") || streq(v, "1"))
		*field = true;
	else if (streq(v, "no") || streq(v, "false") || streq(v, "0"))
		*field = false;
	else
		return fail(p, line, key, -EINVAL, "'%s' is not yes or no", v);
	return 0;
}

static int set_str(char **field, const char *v)
{
	char *d = strdup(v);
	if (!d)
		return -ENOMEM;
	free(*field);
	*field = d;
	return 0;
}

static int set_path(struct parse_ctx *p, unsigned line, const char *key, char **field,
		    const char *v, bool allow_empty)
{
	if (!(allow_empty && !*v) && v[0] != '/')
		return fail(p, line, key, -EINVAL, "'%s' is not an absolute path", v);
	if (strlen(v) >= 4096)
		return fail(p, line, key, -EINVAL, "path too long");
	return set_str(field, v);
}

/* "<role> <subject>": split off the role word. */
static int split_role(struct parse_ctx *p, unsigned line, const char *key, char *v,
		      enum coco_role *ret_role, char **ret_rest)
{
	char *sp = v + strcspn(v, " \t");
	if (!*sp)
		return fail(p, line, key, -EINVAL, "expected '<role> <%s>'",
			    streq(key, "unix_role") ? "user|uid|@group|@gid" : "subject DN");
	*sp = '\0';
	if (coco_role_from_name(v, ret_role) < 0 || *ret_role == COCO_ROLE_NONE)
		return fail(p, line, key, -EINVAL, "unknown role '%s' (reader, operator, admin)", v);
	*ret_rest = str_strip(sp + 1);
	return 0;
}

static int add_unix_role(struct parse_ctx *p, unsigned line, const char *key,
			 struct coco_config *c, char *v)
{
	enum coco_role role;
	char *who;
	int r = split_role(p, line, key, v, &role, &who);
	if (r < 0)
		return r;
	if (c->n_unix_roles >= COCO_CONFIG_MAX_ROLE_MAPS)
		return fail(p, line, key, -E2BIG, "more than %d entries", COCO_CONFIG_MAX_ROLE_MAPS);
	struct coco_unix_role e = {.role = role, .is_group = who[0] == '@'};
	const char *name = e.is_group ? who + 1 : who;
	uint64_t id;
	if (parse_uint(name, UINT32_MAX - 1, &id) == 0) {
		e.id = (unsigned)id;
	} else if (e.is_group) {
		struct group *g = getgrnam(name);
		if (!g)
			return fail(p, line, key, -ENOENT, "unknown group '%s'", name);
		e.id = g->gr_gid;
	} else {
		struct passwd *pw = getpwnam(name);
		if (!pw)
			return fail(p, line, key, -ENOENT, "unknown user '%s'", name);
		e.id = pw->pw_uid;
	}
	struct coco_unix_role *n = realloc(c->unix_roles, (c->n_unix_roles + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	c->unix_roles = n;
	c->unix_roles[c->n_unix_roles++] = e;
	return 0;
}

static int add_subject_role(struct parse_ctx *p, unsigned line, const char *key,
			    struct coco_config *c, char *v)
{
	enum coco_role role;
	char *dn;
	int r = split_role(p, line, key, v, &role, &dn);
	if (r < 0)
		return r;
	if (c->n_subject_roles >= COCO_CONFIG_MAX_ROLE_MAPS)
		return fail(p, line, key, -E2BIG, "more than %d entries", COCO_CONFIG_MAX_ROLE_MAPS);
	if (!strchr(dn, '='))
		return fail(p, line, key, -EINVAL, "'%s' is not a distinguished name", dn);
	struct coco_subject_role *n =
		realloc(c->subject_roles, (c->n_subject_roles + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	c->subject_roles = n;
	char *d = strdup(dn);
	if (!d)
		return -ENOMEM;
	c->subject_roles[c->n_subject_roles++] = (struct coco_subject_role){role, d};
	return 0;
}

static int apply_key(struct parse_ctx *p, unsigned line, enum key_id k, char *v,
		     struct coco_config *c)
{
	const char *key = keys[k].name;
	uint64_t n;
	switch (k) {
	case K_PLATFORM:
		if (streq(v, "emulated"))
			c->platform = COCO_PLATFORM_EMULATED;
		else if (streq(v, "native"))
			c->platform = COCO_PLATFORM_NATIVE;
		else
			return fail(p, line, key, -EINVAL,
				    "invalid value '%s' (expected emulated or native)", v);
		return 0;
	case K_STATE_DIR: return set_path(p, line, key, &c->state_dir, v, false);
	case K_LISTEN_UNIX:
		if (strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return fail(p, line, key, -ENAMETOOLONG,
				    "socket path longer than %zu bytes",
				    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return set_path(p, line, key, &c->listen_unix, v, true);
	case K_LISTEN_UNIX_MODE:
		if (!*v || strspn(v, "01234567") != strlen(v) || strlen(v) > 4 ||
		    (n = strtoul(v, NULL, 8)) > 0777)
			return fail(p, line, key, -EINVAL, "'%s' is not an octal mode <= 0777", v);
		c->listen_unix_mode = (mode_t)n;
		return 0;
	case K_LISTEN_UNIX_GROUP:
		if (!*v)
			return fail(p, line, key, -EINVAL, "empty group");
		if (parse_uint(v, UINT32_MAX - 1, &n) < 0 && !getgrnam(v))
			return fail(p, line, key, -ENOENT, "unknown group '%s'", v);
		return set_str(&c->listen_unix_group, v);
	case K_LISTEN_TCP: {
		char host[64];
		unsigned port;
		if (coco_parse_hostport(v, host, sizeof(host), &port) < 0)
			return fail(p, line, key, -EINVAL,
				    "'%s' is not ADDRESS:PORT (numeric IPv4, or [IPv6]:PORT)", v);
		return set_str(&c->listen_tcp, v);
	}
	case K_TLS_CERT: return set_path(p, line, key, &c->tls_cert, v, false);
	case K_TLS_KEY: return set_path(p, line, key, &c->tls_key, v, false);
	case K_TLS_CLIENT_CA: return set_path(p, line, key, &c->tls_client_ca, v, false);
	case K_TOKEN_FILE: return set_path(p, line, key, &c->token_file, v, false);
	case K_KDS_BASE_URL: {
		if (streq(v, "emulated")) /* the emulated platform's own KDS, in process */
			return set_str(&c->kds_base_url, v);
		size_t scheme = strncmp(v, "https://", 8) == 0 ? 8
				: strncmp(v, "http://", 7) == 0 ? 7
								: 0;
		/* Stored without a trailing slash: paths are appended as "/vcek/v1/...". */
		size_t l = strlen(v);
		while (l > scheme && v[l - 1] == '/')
			l--;
		if (!scheme || l == scheme || v[scheme] == '/' || strcspn(v, " \t\"\\") != strlen(v))
			return fail(p, line, key, -EINVAL,
				    "'%s' is not an http(s) URL with a host", v);
		if (l > 1024)
			return fail(p, line, key, -EINVAL, "URL too long");
		v[l] = '\0';
		return set_str(&c->kds_base_url, v);
	}
	case K_LIBVIRT_URI: {
		/* A libvirt connection URI (qemu:///system, qemu+ssh://h/system, test:///default) */
		const char *colon = strstr(v, ":/");
		size_t l = strlen(v);
		bool ok = colon && colon > v && l <= 1024;
		for (size_t i = 0; ok && i < l; i++)
			ok = v[i] > ' ' && v[i] < 0x7f && v[i] != '"' && v[i] != '\\';
		if (!ok)
			return fail(p, line, key, -EINVAL, "'%s' is not a libvirt URI", v);
		return set_str(&c->libvirt_uri, v);
	}
	case K_LOG_LEVEL: {
		int l = coco_log_level_from_name(v);
		if (l < 0)
			return fail(p, line, key, -EINVAL,
				    "invalid value '%s' (error, warning, notice, info, debug)", v);
		c->log_level = l;
		return 0;
	}
	case K_API_MAX_BODY:
		if (parse_uint(v, 64u << 20, &n) < 0 || n < 1024)
			return fail(p, line, key, -EINVAL, "'%s' is not a byte count in 1024..%u", v,
				    64u << 20);
		c->api_max_body = (size_t)n;
		return 0;
	case K_API_MAX_CONNECTIONS:
		if (parse_uint(v, 65536, &n) < 0 || n < 1)
			return fail(p, line, key, -EINVAL, "'%s' is not a count in 1..65536", v);
		c->api_max_connections = (unsigned)n;
		return 0;
	case K_UNIX_DEFAULT_ROLE: {
		enum coco_role r;
		if (coco_role_from_name(v, &r) < 0)
			return fail(p, line, key, -EINVAL,
				    "unknown role '%s' (none, reader, operator, admin)", v);
		c->unix_default_role = r;
		return 0;
	}
	case K_UNIX_ROLE: return add_unix_role(p, line, key, c, v);
	case K_TLS_SUBJECT_ROLE: return add_subject_role(p, line, key, c, v);
	case K_IMAGE_DIR: {
		if (c->n_image_dirs >= COCO_CONFIG_MAX_IMAGE_DIRS)
			return fail(p, line, key, -E2BIG, "more than %d entries",
				    COCO_CONFIG_MAX_IMAGE_DIRS);
		char *d = NULL;
		int r = set_path(p, line, key, &d, v, false);
		if (r < 0)
			return r;
		char **dirs = realloc(c->image_dirs, (c->n_image_dirs + 1) * sizeof(*dirs));
		if (!dirs) {
			free(d);
			return -ENOMEM;
		}
		c->image_dirs = dirs;
		c->image_dirs[c->n_image_dirs++] = d;
		return 0;
	}
	case K_SNP_CERT_TABLE: return set_path(p, line, key, &c->snp_cert_table, v, true);
	case K_VMM_SOCKET: return set_path(p, line, key, &c->vmm_socket, v, true);
	case K_VMM_SOCKET_GROUP:
		if (!*v)
			return fail(p, line, key, -EINVAL, "empty group");
		if (parse_uint(v, UINT32_MAX - 1, &n) < 0 && !getgrnam(v))
			return fail(p, line, key, -ENOENT, "unknown group '%s'", v);
		return set_str(&c->vmm_socket_group, v);
	case K_SNP_TRUST_EMULATED_ROOT:
		return set_bool(p, line, key, &c->snp_trust_emulated_root, v);
	case K_SNP_CERT_CRL: return set_bool(p, line, key, &c->snp_cert_crl, v);
	case K_KDS_TIMEOUT:
	case K_TDX_GATE_TIMEOUT:
		if (parse_uint(v, 3600, &n) < 0 || n < 1)
			return fail(p, line, key, -EINVAL, "'%s' is not a number of seconds in 1..3600",
				    v);
		*(k == K_KDS_TIMEOUT ? &c->kds_timeout_s : &c->tdx_gate_timeout_s) = (unsigned)n;
		return 0;
	case K_KDS_ATTEMPTS:
		if (parse_uint(v, 20, &n) < 0 || n < 1)
			return fail(p, line, key, -EINVAL, "'%s' is not a count in 1..20", v);
		c->kds_attempts = (unsigned)n;
		return 0;
	case K_SNP_VLEK_CERT: return set_path(p, line, key, &c->snp_vlek_cert, v, false);
	case K_SNP_VLEK_URL: {
		/* Checked with a sample TCB: every placeholder must be one we fill. */
		char url[2048];
		int r = snp_tcb_url_expand(v, SNP_PRODUCT_TURIN, 0, url, sizeof(url));
		if (r == -EINVAL && strstr(v, "{fmcSPL}") == NULL)
			return fail(p, line, key, -EINVAL,
				    "'%s' is not an http(s) URL template (placeholders: {product} "
				    "{tcb} {blSPL} {teeSPL} {snpSPL} {ucodeSPL} {fmcSPL})",
				    v);
		if (r < 0 && r != -EINVAL)
			return fail(p, line, key, r, "URL template too long");
		if (strcspn(v, " \t\"\\") != strlen(v))
			return fail(p, line, key, -EINVAL, "'%s' has characters a URL cannot", v);
		return set_str(&c->snp_vlek_url, v);
	}
	case K_KDS_CLIENT_CERT: return set_path(p, line, key, &c->kds_client_cert, v, false);
	case K_KDS_CLIENT_KEY: return set_path(p, line, key, &c->kds_client_key, v, false);
	case K_TDX_MODULE_DIR: return set_path(p, line, key, &c->tdx_module_dir, v, false);
	case K_TDX_MAPPING_FILE: return set_path(p, line, key, &c->tdx_mapping_file, v, false);
	case K_TDX_MODULE_PIN: {
		struct tdx_version pin;
		if (!streq(v, "latest") && tdx_version_parse(v, strlen(v), &pin) < 0)
			return fail(p, line, key, -EINVAL,
				    "'%s' is neither a module version (1.5.16) nor 'latest'", v);
		return set_str(&c->tdx_module_pin, v);
	}
	case K_TDX_ALLOW_DEBUG_MODULES:
		return set_bool(p, line, key, &c->tdx_allow_debug_modules, v);
	case K_COUNT: break;
	}
	return -EINVAL;
}

static int validate(struct parse_ctx *p, struct coco_config *c)
{
#define LINE(k) p->seen[k]
	if (!c->platform)
		return fail(p, 0, "platform", -EINVAL,
			    "required: set 'platform = native' or 'platform = emulated' explicitly");
	if (!c->listen_unix[0] && !c->listen_tcp)
		return fail(p, LINE(K_LISTEN_UNIX), "listen_unix", -EINVAL,
			    "no listener: set listen_unix or listen_tcp");
	if (!!c->tls_cert != !!c->tls_key)
		return fail(p, LINE(c->tls_cert ? K_TLS_CERT : K_TLS_KEY),
			    c->tls_cert ? "tls_cert" : "tls_key", -EINVAL,
			    "tls_cert and tls_key must be set together");
	if (c->tls_client_ca && !c->tls_cert)
		return fail(p, LINE(K_TLS_CLIENT_CA), "tls_client_ca", -EINVAL,
			    "requires tls_cert and tls_key");
	if (c->tls_cert && !c->listen_tcp)
		return fail(p, LINE(K_TLS_CERT), "tls_cert", -EINVAL,
			    "TLS applies to listen_tcp, which is not set");
	if (c->n_subject_roles && !c->tls_client_ca)
		return fail(p, LINE(K_TLS_SUBJECT_ROLE), "tls_subject_role", -EINVAL,
			    "requires tls_client_ca (client certificates are not requested)");
	if (c->listen_tcp && !c->tls_cert) {
		char host[64];
		unsigned port;
		if (coco_parse_hostport(c->listen_tcp, host, sizeof(host), &port) < 0 ||
		    !host_is_loopback(host))
			return fail(p, LINE(K_LISTEN_TCP), "listen_tcp", -EINVAL,
				    "plain HTTP is only allowed on loopback; set tls_cert and tls_key");
	}
	if (c->snp_trust_emulated_root && c->platform != COCO_PLATFORM_EMULATED)
		return fail(p, LINE(K_SNP_TRUST_EMULATED_ROOT), "snp_trust_emulated_root", -EINVAL,
			    "only with platform = emulated (its root is not AMD's)");
	if (streq(c->kds_base_url, "emulated") && c->platform != COCO_PLATFORM_EMULATED)
		return fail(p, LINE(K_KDS_BASE_URL), "kds_base_url", -EINVAL,
			    "'emulated' (the emulated platform's KDS) needs platform = emulated");
	if (!!c->kds_client_cert != !!c->kds_client_key)
		return fail(p, LINE(c->kds_client_cert ? K_KDS_CLIENT_CERT : K_KDS_CLIENT_KEY),
			    c->kds_client_cert ? "kds_client_cert" : "kds_client_key", -EINVAL,
			    "kds_client_cert and kds_client_key must be set together");
	if (c->snp_vlek_url && streq(c->kds_base_url, "emulated"))
		return fail(p, LINE(K_SNP_VLEK_URL), "snp_vlek_url", -EINVAL,
			    "with kds_base_url = emulated, VLEKs come from the emulated platform");
	if (c->listen_tcp && !c->token_file && !c->tls_client_ca)
		return fail(p, LINE(K_LISTEN_TCP), "listen_tcp", -EINVAL,
			    "TCP clients need credentials: set token_file or tls_client_ca");
	return 0;
#undef LINE
}

static struct coco_config *config_new_defaults(const char *name)
{
	struct coco_config *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->path = strdup(name);
	c->state_dir = strdup("/var/lib/cocod");
	c->listen_unix = strdup("/run/cocod/cocod.sock");
	c->kds_base_url = strdup("https://kdsintf.amd.com");
	c->tdx_module_dir = strdup("/var/lib/cocod/tdx-modules");
	c->tdx_module_pin = strdup("latest");
	if (!c->path || !c->state_dir || !c->listen_unix || !c->kds_base_url ||
	    !c->tdx_module_dir || !c->tdx_module_pin) {
		coco_config_free(c);
		return NULL;
	}
	c->listen_unix_mode = 0660;
	c->log_level = LOG_INFO;
	c->api_max_body = 1u << 20;
	c->api_max_connections = 256;
	c->unix_default_role = COCO_ROLE_READER;
	c->kds_timeout_s = 120;
	c->kds_attempts = 5;
	c->tdx_gate_timeout_s = 30;
	return c;
}

int coco_config_parse(const char *name, const char *buf, size_t len, struct coco_config **ret,
		      char *err, size_t errlen)
{
	struct parse_ctx p = {.name = name, .err = err, .errlen = errlen};
	struct coco_config *c = config_new_defaults(name);
	if (!c)
		return fail(&p, 0, NULL, -ENOMEM, "out of memory");
	int r = 0;
	unsigned lineno = 0;
	for (size_t off = 0; off < len;) {
		lineno++;
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - (buf + off)) : len - off;
		if (ll >= MAX_LINE) {
			r = fail(&p, lineno, NULL, -E2BIG, "line longer than %d bytes", MAX_LINE - 1);
			goto out;
		}
		char line[MAX_LINE];
		memcpy(line, buf + off, ll);
		line[ll] = '\0';
		off += ll + (nl ? 1 : 0);
		if (memchr(line, '\0', ll)) {
			r = fail(&p, lineno, NULL, -EINVAL, "NUL byte in line");
			goto out;
		}
		char *s = str_strip(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			r = fail(&p, lineno, NULL, -EINVAL, "expected 'key = value', got '%.64s'", s);
			goto out;
		}
		*eq = '\0';
		char *key = str_strip(s), *val = str_strip(eq + 1);
		size_t vl = strlen(val);
		if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
			val[vl - 1] = '\0';
			val++;
		}
		enum key_id k = K_COUNT;
		for (size_t i = 0; i < K_COUNT; i++)
			if (streq(keys[i].name, key))
				k = (enum key_id)i;
		if (k == K_COUNT) {
			r = fail(&p, lineno, key, -ENOENT, "unknown key");
			goto out;
		}
		if (!keys[k].repeatable && p.seen[k]) {
			r = fail(&p, lineno, key, -EEXIST, "already set on line %u", p.seen[k]);
			goto out;
		}
		p.seen[k] = lineno;
		r = apply_key(&p, lineno, k, val, c);
		if (r == -ENOMEM)
			r = fail(&p, lineno, key, r, "out of memory");
		if (r < 0)
			goto out;
	}
	r = validate(&p, c);
out:
	if (r < 0) {
		coco_config_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int coco_config_load(const char *path, struct coco_config **ret, char *err, size_t errlen)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = read_file_max(path, COCO_CONFIG_MAX_BYTES, &buf, &len);
	if (r < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-r));
		return r;
	}
	return coco_config_parse(path, buf, len, ret, err, errlen);
}

void coco_config_free(struct coco_config *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->state_dir);
	free(c->listen_unix);
	free(c->listen_unix_group);
	free(c->listen_tcp);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_client_ca);
	free(c->token_file);
	free(c->kds_base_url);
	free(c->libvirt_uri);
	free(c->snp_cert_table);
	free(c->vmm_socket);
	free(c->vmm_socket_group);
	free(c->snp_vlek_cert);
	free(c->snp_vlek_url);
	free(c->kds_client_cert);
	free(c->kds_client_key);
	free(c->tdx_module_dir);
	free(c->tdx_mapping_file);
	free(c->tdx_module_pin);
	free(c->unix_roles);
	for (size_t i = 0; i < c->n_subject_roles; i++)
		free(c->subject_roles[i].subject);
	free(c->subject_roles);
	for (size_t i = 0; i < c->n_image_dirs; i++)
		free(c->image_dirs[i]);
	free(c->image_dirs);
	free(c);
}
