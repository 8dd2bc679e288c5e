/* coco_config_parse(): cocod.conf text. A reload (SIGHUP, POST /v1/host/reload) parses
 * whatever is on disk, so every byte is untrusted. Beyond memory safety this checks the
 * parser's contract: failures leave *ret alone and name "fuzz.conf:line" inside the input;
 * an accepted config satisfies every cross-key rule of cocod.conf(5) and comes back equal
 * when written out as text and parsed again. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "coco/config.h"
#include "tests/fuzz/fuzz.h"

#define NAME "fuzz.conf"

static bool is_abs_or_null(const char *s)
{
	return !s || s[0] == '/';
}

static bool str_eq_or_null(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Lines the parser numbers: one per '\n' plus an unterminated last line. */
static unsigned long count_lines(const uint8_t *data, size_t size)
{
	unsigned long n = 0;
	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + (size && data[size - 1] != '\n');
}

static void check_error(int r, const char *err, size_t errlen, const uint8_t *data, size_t size)
{
	FUZZ_CHECK(r == -EINVAL || r == -ENOENT || r == -EEXIST || r == -E2BIG || r == -ENOMEM);
	FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
	FUZZ_CHECK(strncmp(err, NAME, strlen(NAME)) == 0);
	const char *s = err + strlen(NAME);
	if (s[0] == ':' && isdigit((unsigned char)s[1])) {
		/* "fuzz.conf:N: reason": N is a line of this input. */
		char *end;
		unsigned long line = strtoul(s + 1, &end, 10);
		FUZZ_CHECK(end > s + 1 && line >= 1 && line <= count_lines(data, size));
		FUZZ_CHECK(end[0] == ':' && end[1] == ' ' && end[2] != '\0');
	} else {
		/* "fuzz.conf: key 'k': reason": a whole-file rule with no line to blame. */
		FUZZ_CHECK(strncmp(s, ": key '", 7) == 0);
	}
}

static void check_valid(const struct coco_config *c)
{
	FUZZ_CHECK(c->path && strcmp(c->path, NAME) == 0);
	FUZZ_CHECK(c->platform == COCO_PLATFORM_EMULATED || c->platform == COCO_PLATFORM_NATIVE);
	FUZZ_CHECK(c->state_dir && c->state_dir[0] == '/');
	FUZZ_CHECK(c->listen_unix && (c->listen_unix[0] == '\0' || c->listen_unix[0] == '/'));
	FUZZ_CHECK(c->listen_unix[0] || c->listen_tcp);
	FUZZ_CHECK(c->listen_unix_mode <= 0777);
	FUZZ_CHECK(!c->listen_unix_group || c->listen_unix_group[0]);
	FUZZ_CHECK(is_abs_or_null(c->tls_cert) && is_abs_or_null(c->tls_key) &&
		   is_abs_or_null(c->tls_client_ca) && is_abs_or_null(c->token_file));
	FUZZ_CHECK(!!c->tls_cert == !!c->tls_key);
	FUZZ_CHECK(!c->tls_client_ca || c->tls_cert);
	FUZZ_CHECK(!c->tls_cert || c->listen_tcp);
	FUZZ_CHECK(!c->n_subject_roles || c->tls_client_ca);
	FUZZ_CHECK(!c->listen_tcp || c->token_file || c->tls_client_ca);
	if (c->listen_tcp) {
		char host[64];
		unsigned port = 0;
		FUZZ_CHECK(coco_parse_hostport(c->listen_tcp, host, sizeof(host), &port) == 0);
		FUZZ_CHECK(port >= 1 && port <= 65535);
	}
	/* A base URL the KDS paths ("/vcek/v1/...") can be appended to. */
	const char *u = c->kds_base_url;
	FUZZ_CHECK(u);
	size_t ul = strlen(u);
	size_t scheme = strncmp(u, "https://", 8) == 0 ? 8 : strncmp(u, "http://", 7) == 0 ? 7 : 0;
	FUZZ_CHECK(scheme && ul > scheme && u[ul - 1] != '/');
	FUZZ_CHECK(coco_log_level_from_name(coco_log_level_name(c->log_level)) == c->log_level);
	FUZZ_CHECK(c->api_max_body >= 1024 && c->api_max_body <= (64u << 20));
	FUZZ_CHECK(c->api_max_connections >= 1 && c->api_max_connections <= 65536);
	FUZZ_CHECK(c->unix_default_role <= COCO_ROLE_ADMIN);
	FUZZ_CHECK(c->n_unix_roles <= COCO_CONFIG_MAX_ROLE_MAPS);
	FUZZ_CHECK(!c->n_unix_roles || c->unix_roles);
	for (size_t i = 0; i < c->n_unix_roles; i++)
		FUZZ_CHECK(c->unix_roles[i].role >= COCO_ROLE_READER &&
			   c->unix_roles[i].role <= COCO_ROLE_ADMIN);
	FUZZ_CHECK(c->n_subject_roles <= COCO_CONFIG_MAX_ROLE_MAPS);
	for (size_t i = 0; i < c->n_subject_roles; i++) {
		FUZZ_CHECK(c->subject_roles[i].role >= COCO_ROLE_READER &&
			   c->subject_roles[i].role <= COCO_ROLE_ADMIN);
		FUZZ_CHECK(c->subject_roles[i].subject && strchr(c->subject_roles[i].subject, '='));
	}
}

/* "key=value", quoted only where the parser would otherwise change the value (empty, blank
 * at either end, or itself wrapped in quotes): such a value was quoted in the input too, so
 * no written line is longer than the line it came from (lines are limited to 4095 bytes). */
static void put(FILE *f, const char *key, const char *value)
{
	size_t n = strlen(value);
	bool quote = n == 0 || isspace((unsigned char)value[0]) ||
		     isspace((unsigned char)value[n - 1]) ||
		     (n >= 2 && value[0] == '"' && value[n - 1] == '"');
	fprintf(f, quote ? "%s=\"%s\"\n" : "%s=%s\n", key, value);
}

/* Write c back as config text; users and groups are written as numbers. */
static char *render(const struct coco_config *c, size_t *ret_len)
{
	char *buf = NULL, tmp[4200];
	FILE *f = open_memstream(&buf, ret_len);
	FUZZ_CHECK(f);
	put(f, "platform", coco_platform_name(c->platform));
	put(f, "state_directory", c->state_dir);
	put(f, "listen_unix", c->listen_unix);
	snprintf(tmp, sizeof(tmp), "%o", (unsigned)c->listen_unix_mode);
	put(f, "listen_unix_mode", tmp);
	const struct {
		const char *key, *value;
	} opt[] = {
	    {"listen_unix_group", c->listen_unix_group},
	    {"listen_tcp", c->listen_tcp},
	    {"tls_cert", c->tls_cert},
	    {"tls_key", c->tls_key},
	    {"tls_client_ca", c->tls_client_ca},
	    {"token_file", c->token_file},
	    {"kds_base_url", c->kds_base_url},
	};
	for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++)
		if (opt[i].value)
			put(f, opt[i].key, opt[i].value);
	put(f, "log_level", coco_log_level_name(c->log_level));
	snprintf(tmp, sizeof(tmp), "%zu", c->api_max_body);
	put(f, "api_max_body", tmp);
	snprintf(tmp, sizeof(tmp), "%u", c->api_max_connections);
	put(f, "api_max_connections", tmp);
	put(f, "unix_default_role", coco_role_name(c->unix_default_role));
	for (size_t i = 0; i < c->n_unix_roles; i++) {
		snprintf(tmp, sizeof(tmp), "%s %s%u", coco_role_name(c->unix_roles[i].role),
			 c->unix_roles[i].is_group ? "@" : "", c->unix_roles[i].id);
		put(f, "unix_role", tmp);
	}
	for (size_t i = 0; i < c->n_subject_roles; i++) {
		/* The subject came from a line of at most 4095 bytes. */
		FUZZ_CHECK((size_t)snprintf(tmp, sizeof(tmp), "%s %s",
					    coco_role_name(c->subject_roles[i].role),
					    c->subject_roles[i].subject) < sizeof(tmp));
		put(f, "tls_subject_role", tmp);
	}
	FUZZ_CHECK(fclose(f) == 0);
	return buf;
}

static void check_equal(const struct coco_config *a, const struct coco_config *b)
{
	FUZZ_CHECK(a->platform == b->platform);
	FUZZ_CHECK(str_eq_or_null(a->state_dir, b->state_dir));
	FUZZ_CHECK(str_eq_or_null(a->listen_unix, b->listen_unix));
	FUZZ_CHECK(a->listen_unix_mode == b->listen_unix_mode);
	FUZZ_CHECK(str_eq_or_null(a->listen_unix_group, b->listen_unix_group));
	FUZZ_CHECK(str_eq_or_null(a->listen_tcp, b->listen_tcp));
	FUZZ_CHECK(str_eq_or_null(a->tls_cert, b->tls_cert));
	FUZZ_CHECK(str_eq_or_null(a->tls_key, b->tls_key));
	FUZZ_CHECK(str_eq_or_null(a->tls_client_ca, b->tls_client_ca));
	FUZZ_CHECK(str_eq_or_null(a->token_file, b->token_file));
	FUZZ_CHECK(str_eq_or_null(a->kds_base_url, b->kds_base_url));
	FUZZ_CHECK(a->log_level == b->log_level);
	FUZZ_CHECK(a->api_max_body == b->api_max_body);
	FUZZ_CHECK(a->api_max_connections == b->api_max_connections);
	FUZZ_CHECK(a->unix_default_role == b->unix_default_role);
	FUZZ_CHECK(a->n_unix_roles == b->n_unix_roles);
	for (size_t i = 0; i < a->n_unix_roles; i++)
		FUZZ_CHECK(a->unix_roles[i].role == b->unix_roles[i].role &&
			   a->unix_roles[i].is_group == b->unix_roles[i].is_group &&
			   a->unix_roles[i].id == b->unix_roles[i].id);
	FUZZ_CHECK(a->n_subject_roles == b->n_subject_roles);
	for (size_t i = 0; i < a->n_subject_roles; i++)
		FUZZ_CHECK(a->subject_roles[i].role == b->subject_roles[i].role &&
			   strcmp(a->subject_roles[i].subject, b->subject_roles[i].subject) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* data has no NUL terminator: the parser must stay within size. */
	static struct coco_config sentinel;
	struct coco_config *const untouched = &sentinel, *c = untouched;
	char err[1024] = "";
	int r = coco_config_parse(NAME, (const char *)data, size, &c, err, sizeof(err));
	if (r < 0) {
		FUZZ_CHECK(c == untouched);
		check_error(r, err, sizeof(err), data, size);
		return 0;
	}
	FUZZ_CHECK(r == 0 && c && c != untouched);
	check_valid(c);

	size_t len;
	char *text = render(c, &len);
	struct coco_config *again = NULL;
	r = coco_config_parse(NAME, text, len, &again, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "re-parse of the written config failed: %s\n%s", err, text);
	FUZZ_CHECK(r == 0);
	check_equal(c, again);
	free(text);
	coco_config_free(again);
	coco_config_free(c);
	return 0;
}
