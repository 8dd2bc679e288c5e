/* Document routes: the request body (JSON or bytes), the {id} capture and the query go to the
 * service as one svc_doc_req; the service's svc_doc comes back as the response. */
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "coco/util.h"

const char *svc_doc_arg(const struct svc_doc_req *d, const char *name)
{
	for (size_t i = 0; i < d->n_args; i++)
		if (streq(d->args[i].name, name))
			return d->args[i].value;
	return NULL;
}

bool api_doc_prepare(const struct api_env *env, struct api_request *rq, struct api_response *rs,
		     struct api_async *a)
{
	(void)env;
	const struct api_route *route = rq->route;
	a->req = (struct svc_req){.op = route->op, .role = rq->role, .actor = rq->actor};
	struct svc_doc_req *d = &a->req.doc;
	if (rq->args_truncated) {
		api_problem(rs, 400, "invalid-query", "Invalid query",
			    "too many or too long query parameters (at most %d, values up to %zu "
			    "bytes)",
			    SVC_DOC_MAX_ARGS, sizeof(d->args[0].value) - 1);
		return false;
	}
	memcpy(d->args, rq->args, sizeof(d->args));
	d->n_args = rq->n_args;
	snprintf(d->idempotency_key, sizeof(d->idempotency_key), "%s", rq->idempotency_key);
	d->id = rq->captures[0];
	d->content_type = rq->content_type;

	bool empty = rq->body_len == 0;
	if (empty && (route->body == API_BODY_NONE || (route->body & API_BODY_OPTIONAL)))
		return true;
	if (!empty && route->body == API_BODY_NONE) {
		api_problem(rs, 400, "unexpected-body", "Unexpected body",
			    "%s %s takes no request body", route->method, route->pattern);
		return false;
	}
	if ((route->body & API_BODY_BYTES) &&
	    api_content_type_is(rq->content_type, "application/octet-stream")) {
		d->bytes = (const uint8_t *)rq->body;
		d->len = rq->body_len;
		return true;
	}
	if (!(route->body & API_BODY_JSON)) {
		api_problem(rs, 415, "unsupported-media-type", "Unsupported media type",
			    "request body must be application/octet-stream");
		return false;
	}
	if ((route->body & API_BODY_BYTES) && !api_content_type_is(rq->content_type, "application/json")) {
		api_problem(rs, 415, "unsupported-media-type", "Unsupported media type",
			    "request body must be application/json or application/octet-stream");
		return false;
	}
	a->keep = api_parse_json_body(rq, rs);
	if (!a->keep)
		return false;
	d->json = a->keep;
	return true;
}

void api_doc_render(const struct api_env *env, struct api_async *a, struct api_response *rs)
{
	(void)env;
	struct svc_doc *doc = &a->reply.doc;
	if (a->reply.status != SVC_OK) {
		api_problem_from_svc(rs, &a->reply);
		if (doc->retry_after) {
			/* replace the generic Retry-After of a 503 with the service's */
			for (size_t i = 0; i < rs->n_headers; i++)
				if (streq(rs->headers[i].name, "Retry-After"))
					rs->headers[i] = rs->headers[--rs->n_headers];
			api_response_header(rs, "Retry-After", "%u", doc->retry_after);
		}
		return;
	}
	unsigned status = doc->http_status ? doc->http_status : 200;
	if (doc->bytes || !doc->json) {
		api_response_clear(rs);
		rs->status = status;
		rs->content_type =
		    doc->content_type[0] ? doc->content_type : "application/octet-stream";
		rs->body = (char *)doc->bytes; /* handed over */
		rs->body_len = doc->len;
		doc->bytes = NULL;
		if (status == 204) {
			rs->content_type = NULL;
		}
	} else {
		api_response_json(rs, status, json_object_get(doc->json));
	}
	if (doc->location[0])
		api_response_header(rs, "Location", "%s", doc->location);
	if (doc->retry_after)
		api_response_header(rs, "Retry-After", "%u", doc->retry_after);
}
