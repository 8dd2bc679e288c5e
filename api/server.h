/* The REST server: libmicrohttpd in external-epoll mode, driven by the daemon's loop. */
#pragma once
#include <stddef.h>

#include "api/auth.h"
#include "api/http.h"
#include "coco/config.h"
#include "coco/loop.h"

struct api_server;

struct api_server_params {
	const struct coco_config *config;
	int unix_fd; /* an already listening socket (systemd activation), or -1 */
	const char *platform_name;
	int64_t started;
	svc_dispatch_fn dispatch;
	svc_dispatch_async_fn dispatch_async;
	void *dispatch_ctx;
};

/* Bind the listeners (Unix socket with mode/group, optional TCP with TLS) and register with the
 * loop. Takes ownership of auth. */
int api_server_new(const struct api_server_params *p, struct api_auth *auth,
		   struct coco_loop *loop, struct api_server **ret, char *err, size_t errlen);
/* Replace the authorization tables (config reload). Takes ownership. */
void api_server_set_auth(struct api_server *s, struct api_auth *auth);
void api_server_set_max_body(struct api_server *s, size_t max);
/* Stop accepting new connections; in-flight requests finish. */
void api_server_quiesce(struct api_server *s);
unsigned api_server_connections(const struct api_server *s);
/* Human-readable listener list for STATUS= and logs. */
const char *api_server_listeners(const struct api_server *s);
void api_server_free(struct api_server *s);

/* The OpenAPI document compiled in from api/openapi.yaml. */
extern const char api_openapi_yaml[];
extern const size_t api_openapi_yaml_len;
