/* api_route_match(): the request line's method and path, straight from the client. Input:
 * the first byte picks the method (G, P, U, D, H for GET, POST, PUT, DELETE, HEAD; any other
 * byte picks one of them by value), the rest is the path; inputs holding a NUL are skipped
 * (libmicrohttpd never hands one over). Every result is compared with a second matcher
 * written here from the pattern syntax: same outcome, same route, same captures, same Allow
 * list; a short Allow buffer only truncates. A matched route's handler then runs against a
 * stub dispatch that answers "not found", so captured path segments reach their checks. */
#include <errno.h>
#include <string.h>

#include "api/http.h"
#include "tests/fuzz/fuzz.h"

#define MAX_SEGMENTS 16

struct segment {
	const char *s;
	size_t n;
};

/* "/a/b" -> {a, b}; "/" -> {""}; -1 when s is not absolute or has too many segments. */
static int split_path(const char *s, struct segment *seg)
{
	if (s[0] != '/')
		return -1;
	int n = 0;
	for (const char *p = s + 1;; p++) {
		if (n == MAX_SEGMENTS)
			return -1;
		seg[n].s = p;
		p += strcspn(p, "/");
		seg[n].n = (size_t)(p - seg[n].s);
		n++;
		if (!*p)
			return n;
	}
}

/* Does pattern match path? Literal segments compare bytewise, "{x}" takes one non-empty
 * segment; the captures, each NUL-terminated, must fit in capture_buf together. */
static bool reference_match(const char *pattern, const struct segment *useg, int nuseg,
			    struct segment *caps, size_t *ret_ncap)
{
	struct segment pseg[MAX_SEGMENTS];
	int npseg = split_path(pattern, pseg);
	FUZZ_CHECK(npseg > 0);
	if (npseg != nuseg)
		return false;
	size_t ncap = 0, used = 0;
	for (int i = 0; i < npseg; i++) {
		if (pseg[i].s[0] == '{') {
			used += useg[i].n + 1;
			if (useg[i].n == 0 || ncap == API_MAX_CAPTURES ||
			    used > sizeof(((struct api_request *)NULL)->capture_buf))
				return false;
			caps[ncap++] = useg[i];
		} else if (pseg[i].n != useg[i].n || memcmp(pseg[i].s, useg[i].s, pseg[i].n) != 0) {
			return false;
		}
	}
	*ret_ncap = ncap;
	return true;
}

static void stub_dispatch(void *ctx, const struct svc_req *req, struct svc_reply *reply)
{
	reply->status = SVC_E_NOT_FOUND;
	snprintf(reply->detail, sizeof(reply->detail), "stub");
}

static int stub_metrics(void *server, char **ret, size_t *ret_len)
{
	return -ENOMEM;
}

static void run_handler(size_t idx, struct api_request *rq)
{
	static const char openapi[] = "openapi: 3.1.0\n";
	const struct api_env env = {
	    .dispatch = stub_dispatch,
	    .openapi = openapi,
	    .openapi_len = sizeof(openapi) - 1,
	    .render_metrics = stub_metrics,
	};
	struct api_response rs = {0};
	rq->role = api_routes[idx].role;
	rq->actor = "fuzz";
	if (api_routes[idx].handler) {
		api_routes[idx].handler(&env, rq, &rs);
	} else {
		/* Asynchronous route: prepare, then render the stub's answer. */
		FUZZ_CHECK(api_routes[idx].prepare && api_routes[idx].render);
		struct api_async a = {0};
		if (api_routes[idx].prepare(&env, rq, &rs, &a)) {
			stub_dispatch(NULL, &a.req, &a.reply);
			api_routes[idx].render(&env, &a, &rs);
			json_object_put(a.keep);
		}
	}
	FUZZ_CHECK(rs.status >= 200 && rs.status <= 599);
	FUZZ_CHECK(rs.content_type && rs.body && rs.body_len > 0);
	api_response_clear(&rs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "HEAD"};
	if (size == 0 || memchr(data, '\0', size))
		return 0;
	static const char letters[] = "GPUDH";
	const char *letter = strchr(letters, data[0]);
	const char *method = methods[letter ? (size_t)(letter - letters) : data[0] % 5u];
	/* An exact-size copy, so ASan catches a read past the terminator. */
	char *path = malloc(size);
	FUZZ_CHECK(path);
	memcpy(path, data + 1, size - 1);
	path[size - 1] = '\0';

	/* What the reference says: the first route matching path and method, else the methods
	 * of every route matching path. */
	struct segment useg[MAX_SEGMENTS], want_caps[API_MAX_CAPTURES];
	int nuseg = split_path(path, useg);
	size_t want_idx = api_n_routes, want_ncap = 0;
	bool path_found = false;
	char want_allow[256] = "";
	for (size_t i = 0; nuseg > 0 && i < api_n_routes; i++) {
		struct segment caps[API_MAX_CAPTURES];
		size_t ncap;
		if (!reference_match(api_routes[i].pattern, useg, nuseg, caps, &ncap))
			continue;
		path_found = true;
		if (strcmp(api_routes[i].method, method) == 0) {
			want_idx = i;
			want_ncap = ncap;
			memcpy(want_caps, caps, sizeof(caps));
			break;
		}
		size_t l = strlen(want_allow);
		snprintf(want_allow + l, sizeof(want_allow) - l, "%s%s", l ? ", " : "",
			 api_routes[i].method);
	}
	enum api_match want = want_idx < api_n_routes ? API_MATCH_OK
			      : path_found	      ? API_MATCH_NO_METHOD
						      : API_MATCH_NO_PATH;

	struct api_request rq = {.method = method, .path = path};
	size_t idx = SIZE_MAX;
	char allow[64];
	enum api_match m = api_route_match(method, path, &rq, &idx, allow, sizeof(allow));
	FUZZ_CHECK(m == want);
	FUZZ_CHECK(memchr(allow, '\0', sizeof(allow)) != NULL);
	if (m == API_MATCH_OK) {
		FUZZ_CHECK(idx == want_idx && idx < api_n_routes);
		FUZZ_CHECK(strcmp(api_routes[idx].method, method) == 0);
		for (size_t c = 0; c < API_MAX_CAPTURES; c++) {
			if (c >= want_ncap) {
				FUZZ_CHECK(rq.captures[c] == NULL);
				continue;
			}
			const char *got = rq.captures[c];
			FUZZ_CHECK(got >= rq.capture_buf &&
				   got < rq.capture_buf + sizeof(rq.capture_buf));
			FUZZ_CHECK(strlen(got) == want_caps[c].n &&
				   memcmp(got, want_caps[c].s, want_caps[c].n) == 0);
		}
	} else {
		FUZZ_CHECK(idx == SIZE_MAX);
		for (size_t c = 0; c < API_MAX_CAPTURES; c++)
			FUZZ_CHECK(rq.captures[c] == NULL);
		/* Allow lists the path's methods; empty for an unknown path. */
		if (strlen(want_allow) < sizeof(allow))
			FUZZ_CHECK(strcmp(allow, want_allow) == 0);
		FUZZ_CHECK(m == API_MATCH_NO_PATH ? !allow[0] : !!allow[0]);
	}

	/* Same answer with an Allow buffer of 0..7 bytes; it holds a prefix of the full list
	 * and nothing is written past its end (exact-size heap buffer). */
	size_t small_len = size % 8;
	char *small = malloc(small_len ? small_len : 1);
	FUZZ_CHECK(small);
	small[0] = 'x';
	struct api_request rq2 = {.method = method, .path = path};
	size_t idx2 = SIZE_MAX;
	FUZZ_CHECK(api_route_match(method, path, &rq2, &idx2, small, small_len) == m);
	FUZZ_CHECK(idx2 == idx);
	if (small_len == 0) {
		FUZZ_CHECK(small[0] == 'x');
	} else if (m != API_MATCH_OK) {
		FUZZ_CHECK(memchr(small, '\0', small_len) != NULL);
		FUZZ_CHECK(strncmp(small, allow, strlen(small)) == 0);
	}
	free(small);

	if (m == API_MATCH_OK)
		run_handler(idx, &rq);
	free(path);
	return 0;
}
