#include "api/http.h"

#include <stdarg.h>
#include <strings.h>

#include "coco/json_strict.h"
#include "coco/util.h"

void api_response_header(struct api_response *rs, const char *name, const char *fmt, ...)
{
	if (rs->n_headers >= API_MAX_HEADERS)
		return;
	rs->headers[rs->n_headers].name = name;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rs->headers[rs->n_headers].value, sizeof(rs->headers[0].value), fmt, ap);
	va_end(ap);
	rs->n_headers++;
}

static void set_body_json(struct api_response *rs, json_object *obj)
{
	size_t len;
	const char *s = json_object_to_json_string_length(
		obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	rs->body = malloc(len + 2);
	if (rs->body) {
		memcpy(rs->body, s, len);
		rs->body[len] = '\n';
		rs->body[len + 1] = '\0'; /* not sent; keeps the buffer a C string */
		rs->body_len = len + 1;
	} else {
		rs->status = 500;
		rs->body_len = 0;
	}
}

void api_response_json(struct api_response *rs, unsigned status, json_object *obj)
{
	api_response_clear(rs);
	rs->status = status;
	rs->content_type = "application/json";
	set_body_json(rs, obj);
	json_object_put(obj);
}

void api_problem(struct api_response *rs, unsigned status, const char *slug, const char *title,
		 const char *fmt, ...)
{
	char detail[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	char type[96];
	snprintf(type, sizeof(type), "urn:cocod:problem:%s", slug);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "title", json_object_new_string(title));
	json_object_object_add(o, "status", json_object_new_int((int)status));
	json_object_object_add(o, "detail", json_object_new_string(detail));
	api_response_clear(rs);
	rs->status = status;
	rs->content_type = "application/problem+json";
	set_body_json(rs, o);
	json_object_put(o);
}

void api_response_clear(struct api_response *rs)
{
	if (!rs->body_static)
		free(rs->body);
	rs->body = NULL;
	rs->body_len = 0;
	rs->body_static = false;
}

bool api_content_type_is(const char *ct, const char *want)
{
	if (!ct)
		return false;
	size_t n = strcspn(ct, ";");
	while (n > 0 && ct[n - 1] == ' ')
		n--;
	return n == strlen(want) && strncasecmp(ct, want, n) == 0;
}

json_object *api_parse_json_body(const struct api_request *rq, struct api_response *rs)
{
	if (!api_content_type_is(rq->content_type, "application/json")) {
		api_problem(rs, 415, "unsupported-media-type", "Unsupported media type",
			    "request body must be application/json");
		return NULL;
	}
	if (rq->body_len == 0) {
		api_problem(rs, 400, "malformed-json", "Malformed JSON",
			    "request body is empty; a JSON object is required");
		return NULL;
	}
	if (memchr(rq->body, '\0', rq->body_len)) {
		api_problem(rs, 400, "malformed-json", "Malformed JSON",
			    "NUL byte in request body");
		return NULL;
	}
	struct coco_json_error jerr;
	json_object *obj = coco_json_parse_strict(rq->body, rq->body_len, &jerr);
	if (!obj) {
		api_problem(rs, 400, "malformed-json", "Malformed JSON", "%s at byte offset %zu",
			    jerr.what, jerr.offset);
		return NULL;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		api_problem(rs, 400, "malformed-json", "Malformed JSON",
			    "request body must be a JSON object");
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

void api_problem_from_svc(struct api_response *rs, const struct svc_reply *reply)
{
	switch (reply->status) {
	case SVC_OK: break;
	case SVC_E_INVALID:
		api_problem(rs, 422, "invalid-request", "Invalid request", "%s", reply->detail);
		return;
	case SVC_E_NOT_FOUND:
		api_problem(rs, 404, "not-found", "Not found", "%s", reply->detail);
		return;
	case SVC_E_CONFLICT:
		api_problem(rs, 409, "conflict", "Conflict", "%s", reply->detail);
		return;
	case SVC_E_UNAVAILABLE:
		api_problem(rs, 503, "unavailable", "Service unavailable", "%s", reply->detail);
		api_response_header(rs, "Retry-After", "5");
		return;
	case SVC_E_NOT_SUPPORTED:
		api_problem(rs, 501, "not-supported", "Not supported", "%s", reply->detail);
		return;
	case SVC_E_FIRMWARE:
		api_problem(rs, 502, "firmware-error", "Firmware error", "%s", reply->detail);
		return;
	case SVC_E_UPSTREAM:
		api_problem(rs, 502, "upstream-error", "Upstream error", "%s", reply->detail);
		return;
	case SVC_E_INTERNAL: break;
	}
	api_problem(rs, 500, "internal", "Internal error", "%s",
		    reply->detail[0] ? reply->detail : "internal error");
}

enum api_match api_route_match(const char *method, const char *path, struct api_request *rq,
			       size_t *ret_idx, char *allow, size_t allow_len)
{
	bool path_found = false;
	size_t allow_off = 0;
	if (allow_len)
		allow[0] = '\0';
	for (size_t i = 0; i < api_n_routes; i++) {
		const char *p = api_routes[i].pattern, *u = path;
		size_t ncap = 0, capoff = 0;
		const char *caps[API_MAX_CAPTURES];
		bool ok = true;
		while (*p && *u) {
			if (*p != '/' || *u != '/') {
				ok = false;
				break;
			}
			p++, u++;
			size_t pl = strcspn(p, "/"), ul = strcspn(u, "/");
			if (*p == '{') {
				if (ul == 0 || ncap >= API_MAX_CAPTURES ||
				    capoff + ul + 1 > sizeof(rq->capture_buf)) {
					ok = false;
					break;
				}
				memcpy(rq->capture_buf + capoff, u, ul);
				rq->capture_buf[capoff + ul] = '\0';
				caps[ncap++] = rq->capture_buf + capoff;
				capoff += ul + 1;
			} else if (pl != ul || memcmp(p, u, pl) != 0) {
				ok = false;
				break;
			}
			p += pl, u += ul;
		}
		if (!ok || *p || *u)
			continue;
		path_found = true;
		if (streq(api_routes[i].method, method)) {
			for (size_t c = 0; c < ncap; c++)
				rq->captures[c] = caps[c];
			rq->route = &api_routes[i];
			*ret_idx = i;
			return API_MATCH_OK;
		}
		if (allow_len) {
			int w = snprintf(allow + allow_off, allow_len - allow_off, "%s%s",
					 allow_off ? ", " : "", api_routes[i].method);
			if (w > 0 && (size_t)w < allow_len - allow_off)
				allow_off += (size_t)w;
		}
	}
	return path_found ? API_MATCH_NO_METHOD : API_MATCH_NO_PATH;
}

void svc_reply_clear(const struct svc_req *req, struct svc_reply *reply)
{
	if (req->op == SVC_OPERATION_GET && reply->status == SVC_OK)
		coco_operation_clear(&reply->operation);
	if (svc_op_is_doc(req->op)) {
		json_object_put(reply->doc.json);
		free(reply->doc.bytes);
		reply->doc.json = NULL;
		reply->doc.bytes = NULL;
	}
}
