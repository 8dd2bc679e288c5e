/* Internal request/response types of the REST layer, independent of libmicrohttpd so that
 * routing, rendering and errors are testable without sockets. */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/dispatch.h"
#include "coco/config.h"

#define API_MAX_CAPTURES 4
#define API_MAX_HEADERS 4

struct api_route;

struct api_request {
	const char *method;
	const char *path;
	const char *content_type; /* may be NULL */
	const char *body;
	size_t body_len;
	enum coco_role role;
	const char *actor;
	const char *captures[API_MAX_CAPTURES];
	char capture_buf[256];
	const struct api_route *route; /* set by api_route_match */
	/* Query parameters and the Idempotency-Key header, copied in by the server. */
	struct {
		char name[32];
		char value[160];
	} args[SVC_DOC_MAX_ARGS];
	size_t n_args;
	bool args_truncated; /* more parameters, or longer ones, than fit */
	char idempotency_key[80];
};

struct api_response {
	unsigned status;
	const char *content_type;
	char *body; /* malloc'd, or NULL */
	size_t body_len;
	bool body_static; /* body points at static data: do not free */
	struct {
		const char *name;
		char value[128];
	} headers[API_MAX_HEADERS];
	size_t n_headers;
};

struct api_env {
	svc_dispatch_fn dispatch;
	svc_dispatch_async_fn dispatch_async;
	void *dispatch_ctx;
	const char *openapi;
	size_t openapi_len;
	/* Filled by the server for /metrics. */
	int (*render_metrics)(void *server, char **ret, size_t *ret_len);
	void *server;
};

typedef void (*api_handler_fn)(const struct api_env *env, struct api_request *rq,
			       struct api_response *rs);

/* A slow request: prepare builds the typed request (or a problem in rs and returns false),
 * the server dispatches it without blocking the loop, render turns the reply into rs. */
struct api_async {
	struct svc_req req;
	struct svc_reply reply;
	json_object *keep; /* the parsed body, which req's strings point into */
};
typedef bool (*api_prepare_fn)(const struct api_env *env, struct api_request *rq,
			       struct api_response *rs, struct api_async *a);
typedef void (*api_render_fn)(const struct api_env *env, struct api_async *a,
			      struct api_response *rs);

struct api_route {
	const char *method;
	const char *pattern; /* "{name}" segments capture one path segment */
	enum coco_role role; /* COCO_ROLE_NONE: no credentials needed */
	api_handler_fn handler;  /* synchronous routes */
	api_prepare_fn prepare;  /* asynchronous routes: prepare + render */
	api_render_fn render;
	enum svc_op op;          /* document routes (API_DOC_ROUTE) */
	unsigned body;           /* API_BODY_*: what a document route accepts */
};

/* What a document route accepts as its body. */
#define API_BODY_NONE 0u
#define API_BODY_JSON 1u  /* one JSON object */
#define API_BODY_BYTES 2u /* application/octet-stream */
#define API_BODY_OPTIONAL 4u

/* A route whose request and reply are documents the service handles itself (svc_doc_req in,
 * svc_doc out); the service decides whether it runs at once or on a worker. */
bool api_doc_prepare(const struct api_env *env, struct api_request *rq, struct api_response *rs,
		     struct api_async *a);
void api_doc_render(const struct api_env *env, struct api_async *a, struct api_response *rs);
#define API_DOC_ROUTE(m, pat, r, o, b)                                                           \
	{.method = (m), .pattern = (pat), .role = (r), .prepare = api_doc_prepare,                 \
	 .render = api_doc_render, .op = (o), .body = (b)}

extern const struct api_route api_routes[];
extern const size_t api_n_routes;

enum api_match { API_MATCH_OK, API_MATCH_NO_PATH, API_MATCH_NO_METHOD };

/* Find the route for method+path; on API_MATCH_NO_METHOD, allow gets "GET, POST". */
enum api_match api_route_match(const char *method, const char *path, struct api_request *rq,
			       size_t *ret_idx, char *allow, size_t allow_len);

void api_response_header(struct api_response *rs, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void api_response_json(struct api_response *rs, unsigned status, json_object *obj);
/* RFC 9457 problem+json; slug becomes the stable type "urn:cocod:problem:<slug>". */
void api_problem(struct api_response *rs, unsigned status, const char *slug, const char *title,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void api_response_clear(struct api_response *rs);
/* The media type of a Content-Type value (parameters after ';' ignored, case-insensitive). */
bool api_content_type_is(const char *ct, const char *want);
/* Parse a request body strictly as one JSON object; on failure fills a 400/415 problem and
 * returns NULL. */
json_object *api_parse_json_body(const struct api_request *rq, struct api_response *rs);
/* Map a dispatch failure to a problem response. */
void api_problem_from_svc(struct api_response *rs, const struct svc_reply *reply);
