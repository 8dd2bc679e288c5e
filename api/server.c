#include "api/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <grp.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "api/metrics.h"
#include "coco/log.h"
#include "coco/util.h"
#include "version.h"

#define API_MAX_GROUPS 64
/* Per-connection pool (headers + read/write buffers). libmicrohttpd zeroes it for every
 * request, so it is kept small: bench/run measured 6-9% less CPU per request at 16 KiB than at
 * 64 KiB. Headers beyond it get 431. */
#define API_CONN_POOL (16 * 1024)

enum { LISTENER_UNIX, LISTENER_TCP, N_LISTENERS };

/* Open connections, so that a drain can close the idle ones at once. */
struct conn {
	struct conn *prev, *next;
	struct MHD_Connection *c;
};

struct listener {
	struct api_server *srv;
	struct conn *conns;
	struct MHD_Daemon *d;
	int kind;
	int epfd;
	uint64_t deadline_ns; /* when MHD wants to run again without I/O */
};

struct api_server {
	struct api_env env;
	struct api_auth *auth;
	struct api_metrics metrics;
	struct coco_loop *loop;
	struct listener listeners[N_LISTENERS];
	size_t max_body;
	char *unix_path; /* unlinked at exit when we created it */
	char listeners_desc[512];
	const char *platform_name;
	int64_t started;
	uint64_t auth_failures;
	char *tls_cert, *tls_key, *tls_ca; /* PEM kept alive for MHD */
	bool tls_client_auth;
	bool draining;
};

struct req_ctx {
	uint64_t start;
	/* Asynchronous routes: the connection is suspended while the service works. */
	struct api_async *async;
	bool async_done;
	struct listener *li;
	struct MHD_Connection *conn;
	char actor[320];
	char *body;
	size_t len, cap;
	bool too_large;
	size_t route_idx;
	unsigned status;
};

/* Metrics index for requests that matched no route. */
static size_t unmatched_idx(void)
{
	return api_n_routes;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt,
							    va_list ap)
{
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("libmicrohttpd: %s", buf);
}

static enum MHD_Result queue(const struct api_server *s, struct MHD_Connection *c,
			     struct req_ctx *rc, struct api_response *rs)
{
	struct MHD_Response *r;
	if (rs->body_static)
		r = MHD_create_response_from_buffer(rs->body_len, rs->body, MHD_RESPMEM_PERSISTENT);
	else
		r = MHD_create_response_from_buffer(rs->body_len, rs->body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		api_response_clear(rs);
		return MHD_NO;
	}
	rs->body = NULL; /* MHD owns it now */
	if (rs->content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	for (size_t i = 0; i < rs->n_headers; i++)
		MHD_add_response_header(r, rs->headers[i].name, rs->headers[i].value);
	if (s->draining)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	rc->status = rs->status;
	enum MHD_Result ret = MHD_queue_response(c, rs->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Identify a Unix peer: SO_PEERCRED for the uid, SO_PEERGROUPS for its groups. */
static enum coco_role unix_peer_role(struct api_server *s, int fd, char *actor, size_t n)
{
	struct ucred uc;
	socklen_t l = sizeof(uc);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) < 0) {
		snprintf(actor, n, "unix:unknown");
		return COCO_ROLE_NONE;
	}
	gid_t gids[API_MAX_GROUPS];
	socklen_t gl = sizeof(gids);
	size_t ngids = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gids, &gl) == 0)
		ngids = gl / sizeof(gid_t);
	/* A peer with more groups than we read is judged by its primary group and the first
	 * API_MAX_GROUPS: group entries can only add rights, never take them away. */
	if (ngids < API_MAX_GROUPS)
		gids[ngids++] = uc.gid;
	snprintf(actor, n, "uid:%u", (unsigned)uc.uid);
	return api_auth_unix_role(s->auth, uc.uid, gids, ngids);
}

enum cred_result { CRED_NONE, CRED_OK, CRED_BAD };

/* Verify a TLS client certificate on every request (MHD requests it but does not check it). */
static enum cred_result tls_peer_role(struct api_server *s, struct MHD_Connection *c,
				      enum coco_role *role, char *actor, size_t n, char *why,
				      size_t whylen)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return CRED_NONE;
	gnutls_session_t sess = (gnutls_session_t)ci->tls_session;
	unsigned int ncerts = 0;
	const gnutls_datum_t *certs = gnutls_certificate_get_peers(sess, &ncerts);
	if (!certs || ncerts == 0)
		return CRED_NONE;
	unsigned int status = 0;
	if (gnutls_certificate_verify_peers2(sess, &status) < 0 || status != 0) {
		gnutls_datum_t out = {0};
		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out,
								 0) == 0) {
			snprintf(why, whylen, "client certificate rejected: %s", out.data);
			gnutls_free(out.data);
		} else {
			snprintf(why, whylen, "client certificate rejected");
		}
		return CRED_BAD;
	}
	gnutls_x509_crt_t crt;
	if (gnutls_x509_crt_init(&crt) < 0)
		return CRED_BAD;
	enum cred_result res = CRED_BAD;
	gnutls_datum_t dn = {0};
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) == 0 &&
	    gnutls_x509_crt_get_dn3(crt, &dn, 0) == 0) {
		*role = api_auth_subject_role(s->auth, (const char *)dn.data);
		snprintf(actor, n, "cert:%s", (const char *)dn.data);
		res = *role == COCO_ROLE_NONE ? CRED_NONE : CRED_OK;
		if (res == CRED_NONE)
			snprintf(why, whylen, "client certificate subject '%s' has no role",
				 (const char *)dn.data);
		gnutls_free(dn.data);
	}
	gnutls_x509_crt_deinit(crt);
	return res;
}

static void run_listener(struct listener *li);

/* Loop thread: the service finished; let MHD call handle() again to send the reply. */
static void async_complete(void *userdata)
{
	struct req_ctx *rc = userdata;
	struct listener *li = rc->li;
	rc->async_done = true;
	MHD_resume_connection(rc->conn);
	run_listener(li); /* may complete and free rc */
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	(void)kind;
	struct api_request *rq = cls;
	if (!value)
		value = "";
	if (rq->n_args >= SVC_DOC_MAX_ARGS || strlen(key) >= sizeof(rq->args[0].name) ||
	    strlen(value) >= sizeof(rq->args[0].value)) {
		rq->args_truncated = true;
		return MHD_YES;
	}
	memcpy(rq->args[rq->n_args].name, key, strlen(key) + 1);
	memcpy(rq->args[rq->n_args].value, value, strlen(value) + 1);
	rq->n_args++;
	return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct listener *li = cls;
	struct api_server *s = li->srv;
	struct req_ctx *rc = *req_cls;
	struct api_response rs = {0};

	if (!rc) {
		rc = calloc(1, sizeof(*rc));
		if (!rc)
			return MHD_NO;
		rc->start = now_ns();
		rc->route_idx = unmatched_idx();
		*req_cls = rc;
		const char *cl =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		uint64_t n;
		if (cl && parse_uint(cl, UINT64_MAX, &n) == 0 && n > s->max_body) {
			api_problem(&rs, 413, "payload-too-large", "Payload too large",
				    "request body of %llu bytes exceeds the limit of %zu bytes",
				    (unsigned long long)n, s->max_body);
			return queue(s, c, rc, &rs);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t add = *upload_data_size;
		*upload_data_size = 0;
		if (rc->too_large || rc->len + add > s->max_body) {
			rc->too_large = true;
			return MHD_YES;
		}
		if (rc->len + add > rc->cap) {
			size_t ncap = rc->cap ? rc->cap : 4096;
			while (ncap < rc->len + add)
				ncap *= 2;
			char *nb = realloc(rc->body, ncap);
			if (!nb)
				return MHD_NO;
			rc->body = nb;
			rc->cap = ncap;
		}
		memcpy(rc->body + rc->len, upload_data, add);
		rc->len += add;
		return MHD_YES;
	}
	if (rc->async) {
		if (!rc->async_done)
			return MHD_YES; /* still working; the connection is suspended */
		api_routes[rc->route_idx].render(&s->env, rc->async, &rs);
		return queue(s, c, rc, &rs);
	}
	if (rc->too_large) {
		api_problem(&rs, 413, "payload-too-large", "Payload too large",
			    "request body exceeds the limit of %zu bytes", s->max_body);
		return queue(s, c, rc, &rs);
	}

	/* Who is asking. */
	struct api_request rq = {
	    .method = method, .path = url, .body = rc->body, .body_len = rc->len};
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &rq);
	const char *idem = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Idempotency-Key");
	if (idem && strlen(idem) < sizeof(rq.idempotency_key))
		memcpy(rq.idempotency_key, idem, strlen(idem) + 1);
	else if (idem) {
		api_problem(&rs, 400, "invalid-header", "Invalid header",
			    "Idempotency-Key is longer than %zu bytes", sizeof(rq.idempotency_key) - 1);
		return queue(s, c, rc, &rs);
	}
	char actor[320] = "anonymous", why[256] = "";
	enum coco_role role = COCO_ROLE_NONE;
	enum cred_result cred = CRED_NONE;
	if (li->kind == LISTENER_UNIX) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		role =
		    ci ? unix_peer_role(s, ci->connect_fd, actor, sizeof(actor)) : COCO_ROLE_NONE;
		cred = CRED_OK;
	} else {
		if (s->tls_client_auth)
			cred = tls_peer_role(s, c, &role, actor, sizeof(actor), why, sizeof(why));
		if (cred == CRED_NONE) {
			const char *authz = MHD_lookup_connection_value(
			    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
			if (authz) {
				const struct coco_token *t = api_auth_bearer(s->auth, authz);
				if (t) {
					role = t->role;
					snprintf(actor, sizeof(actor), "token:%s", t->name);
					cred = CRED_OK;
				} else {
					cred = CRED_BAD;
					snprintf(why, sizeof(why), "bearer token not recognised");
				}
			}
		}
	}
	rq.role = role;
	rq.actor = actor;
	if (cred == CRED_BAD) {
		s->auth_failures++;
		api_problem(&rs, 401, "unauthorized", "Unauthorized", "%s", why);
		api_response_header(&rs, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				    "Bearer realm=\"cocod\", error=\"invalid_token\"");
		return queue(s, c, rc, &rs);
	}

	/* Which route. HEAD is served as GET (MHD drops the body). */
	const char *match_method = streq(method, "HEAD") ? "GET" : method;
	char allow[128];
	size_t idx;
	switch (api_route_match(match_method, url, &rq, &idx, allow, sizeof(allow))) {
	case API_MATCH_NO_PATH:
		api_problem(&rs, 404, "not-found", "Not found", "no route for %.200s", url);
		return queue(s, c, rc, &rs);
	case API_MATCH_NO_METHOD:
		api_problem(&rs, 405, "method-not-allowed", "Method not allowed",
			    "%.16s is not allowed on %.200s (allowed: %s)", method, url, allow);
		api_response_header(&rs, MHD_HTTP_HEADER_ALLOW, "%s", allow);
		return queue(s, c, rc, &rs);
	case API_MATCH_OK: break;
	}
	rc->route_idx = idx;
	const struct api_route *route = &api_routes[idx];
	if (route->role != COCO_ROLE_NONE) {
		if (cred == CRED_NONE) {
			s->auth_failures++;
			api_problem(
			    &rs, 401, "unauthorized", "Unauthorized", "%s",
			    why[0]
				? why
				: "credentials required: a bearer token or a client certificate");
			api_response_header(&rs, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					    "Bearer realm=\"cocod\"");
			return queue(s, c, rc, &rs);
		}
		if (role < route->role) {
			api_problem(&rs, 403, "forbidden", "Forbidden",
				    "%s has role '%s'; %s %s needs '%s'", actor,
				    coco_role_name(role), route->method, route->pattern,
				    coco_role_name(route->role));
			return queue(s, c, rc, &rs);
		}
	}
	rq.content_type =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (route->prepare) {
		rc->async = calloc(1, sizeof(*rc->async));
		if (!rc->async) {
			api_problem(&rs, 503, "unavailable", "Service unavailable", "out of memory");
			return queue(s, c, rc, &rs);
		}
		snprintf(rc->actor, sizeof(rc->actor), "%s", actor);
		rq.actor = rc->actor; /* outlives this call */
		if (!route->prepare(&s->env, &rq, &rs, rc->async))
			return queue(s, c, rc, &rs);
		rc->li = li;
		rc->conn = c;
		if (s->env.dispatch_async(s->env.dispatch_ctx, &rc->async->req, &rc->async->reply,
					  async_complete, rc)) {
			route->render(&s->env, rc->async, &rs);
			return queue(s, c, rc, &rs);
		}
		MHD_suspend_connection(c);
		return MHD_YES;
	}
	route->handler(&s->env, &rq, &rs);
	if (rs.status == 0)
		api_problem(&rs, 500, "internal", "Internal error", "handler produced no response");
	return queue(s, c, rc, &rs);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct listener *li = cls;
	struct req_ctx *rc = *req_cls;
	if (!rc)
		return;
	if (rc->status)
		api_metrics_observe(&li->srv->metrics, rc->route_idx, rc->status,
				    (double)(now_ns() - rc->start) / 1e9);
	if (rc->async) {
		svc_reply_clear(&rc->async->req, &rc->async->reply);
		json_object_put(rc->async->keep);
		free(rc->async);
	}
	free(rc->body);
	free(rc);
	*req_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct listener *li = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct conn *n = calloc(1, sizeof(*n));
		if (!n)
			return;
		n->c = c;
		n->next = li->conns;
		if (li->conns)
			li->conns->prev = n;
		li->conns = n;
		*socket_context = n;
		if (li->srv->draining) /* accepted just before the quiesce */
			MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 1);
	} else if (*socket_context) {
		struct conn *n = *socket_context;
		if (n->prev)
			n->prev->next = n->next;
		else
			li->conns = n->next;
		if (n->next)
			n->next->prev = n->prev;
		free(n);
		*socket_context = NULL;
	}
}

static int render_metrics(void *server, char **ret, size_t *ret_len)
{
	struct api_server *s = server;
	struct api_metrics_info info = {
	    .version = COCOD_VERSION,
	    .commit = COCOD_GIT_COMMIT,
	    .platform = s->platform_name,
	    .started = s->started,
	    .connections = api_server_connections(s),
	    .auth_failures = s->auth_failures,
	};
	return api_metrics_render(&s->metrics, &info, ret, ret_len);
}

static void run_listener(struct listener *li)
{
	MHD_run(li->d);
	MHD_UNSIGNED_LONG_LONG t;
	li->deadline_ns = MHD_get_timeout(li->d, &t) == MHD_YES ? now_ns() + t * 1000000ull : 0;
}

static void on_epoll(struct coco_loop *l, int fd, uint32_t events, void *userdata)
{
	run_listener(userdata);
}

static int on_prepare(struct coco_loop *l, void *userdata)
{
	struct api_server *s = userdata;
	int timeout = -1;
	for (size_t i = 0; i < N_LISTENERS; i++) {
		struct listener *li = &s->listeners[i];
		if (!li->d || !li->deadline_ns)
			continue;
		uint64_t now = now_ns();
		if (now >= li->deadline_ns) {
			run_listener(li);
			if (!li->deadline_ns)
				continue;
		}
		/* MHD asks for an immediate re-run (timeout 0) while it still has buffered work,
		 * e.g. a large body arriving on an edge-triggered socket: never wait then. */
		now = now_ns();
		uint64_t ms = li->deadline_ns <= now ? 0 : (li->deadline_ns - now) / 1000000ull + 1;
		if (timeout < 0 || ms < (uint64_t)timeout)
			timeout = ms > INT32_MAX ? INT32_MAX : (int)ms;
	}
	return timeout;
}

static int bind_unix(const struct coco_config *c, int *ret_fd, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *path = c->listen_unix;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "listen_unix: path '%s' is longer than %zu bytes", path,
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A stale socket from a crashed daemon is replaced; a live one is an error. */
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "listen_unix: %s exists and is not a socket", path);
			return -EEXIST;
		}
		_cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			snprintf(err, errlen, "listen_unix: %s is in use by a running daemon",
				 path);
			return -EADDRINUSE;
		}
		unlink(path);
	}
	mode_t old = umask(0177); /* no window where the socket is wider than 0600 */
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	umask(old);
	if (r < 0) {
		snprintf(err, errlen, "listen_unix: bind %s: %s", path, strerror(e));
		return -e;
	}
	if (c->listen_unix_group) {
		struct group *g = NULL;
		uint64_t gid;
		gid_t id;
		if (parse_uint(c->listen_unix_group, UINT32_MAX - 1, &gid) == 0) {
			id = (gid_t)gid;
		} else if ((g = getgrnam(c->listen_unix_group))) {
			id = g->gr_gid;
		} else {
			unlink(path);
			snprintf(err, errlen, "listen_unix_group: unknown group '%s'",
				 c->listen_unix_group);
			return -ENOENT;
		}
		if (chown(path, (uid_t)-1, id) < 0) {
			e = errno;
			unlink(path);
			snprintf(err, errlen, "listen_unix_group: chown %s: %s", path, strerror(e));
			return -e;
		}
	}
	if (chmod(path, c->listen_unix_mode) < 0 || listen(fd, 128) < 0) {
		e = errno;
		unlink(path);
		snprintf(err, errlen, "listen_unix: %s: %s", path, strerror(e));
		return -e;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int bind_tcp(const char *hostport, int *ret_fd, char *err, size_t errlen)
{
	char host[64];
	unsigned port;
	if (coco_parse_hostport(hostport, host, sizeof(host), &port) < 0) {
		snprintf(err, errlen, "listen_tcp: cannot parse '%s'", hostport);
		return -EINVAL;
	}
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*s6);
	} else {
		snprintf(err, errlen, "listen_tcp: '%s' is not a numeric address", host);
		return -EINVAL;
	}
	_cleanup_close_ int fd =
	    socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		snprintf(err, errlen, "listen_tcp: %s: %s", hostport, strerror(e));
		return -e;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int load_pem(const char *path, const char *key, char **ret, char *err, size_t errlen)
{
	int r = read_file_max(path, 1u << 20, ret, NULL);
	if (r < 0)
		snprintf(err, errlen, "%s: cannot read %s: %s", key, path, strerror(-r));
	return r;
}

static int start_listener(struct api_server *s, struct listener *li, int kind, int fd,
			  const struct coco_config *c, char *err, size_t errlen)
{
	li->srv = s;
	li->kind = kind;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	bool tls = kind == LISTENER_TCP && s->tls_cert;
	if (tls)
		flags |= MHD_USE_TLS;
	struct MHD_OptionItem opts[16];
	size_t n = 0;
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, fd, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, li};
	opts[n++] =
	    (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, li};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
					    (intptr_t)c->api_max_connections, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, 30, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, API_CONN_POOL, NULL};
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL};
	if (tls) {
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
		opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
		if (s->tls_ca)
			opts[n++] =
			    (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, s->tls_ca};
	}
	opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	li->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, li, MHD_OPTION_ARRAY, opts,
				 MHD_OPTION_END);
	if (!li->d) {
		snprintf(err, errlen, "cannot start the HTTP server on the %s listener%s",
			 kind == LISTENER_UNIX ? "Unix" : "TCP",
			 tls ? " (check tls_cert/tls_key/tls_client_ca)" : "");
		return -EIO;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(li->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di) {
		snprintf(err, errlen, "libmicrohttpd has no epoll support");
		return -ENOTSUP;
	}
	li->epfd = di->epoll_fd;
	int r = coco_loop_add(s->loop, li->epfd, EPOLLIN, on_epoll, li);
	if (r < 0)
		snprintf(err, errlen, "cannot watch the HTTP server: %s", strerror(-r));
	return r;
}

int api_server_new(const struct api_server_params *p, struct api_auth *auth, struct coco_loop *loop,
		   struct api_server **ret, char *err, size_t errlen)
{
	const struct coco_config *c = p->config;
	struct api_server *s = calloc(1, sizeof(*s));
	int r = -ENOMEM;
	if (!s) {
		api_auth_free(auth);
		return -ENOMEM;
	}
	s->auth = auth;
	s->loop = loop;
	s->max_body = c->api_max_body;
	s->platform_name = p->platform_name;
	s->started = p->started;
	s->env = (struct api_env){
	    .dispatch = p->dispatch,
	    .dispatch_async = p->dispatch_async,
	    .dispatch_ctx = p->dispatch_ctx,
	    .openapi = api_openapi_yaml,
	    .openapi_len = api_openapi_yaml_len,
	    .render_metrics = render_metrics,
	    .server = s,
	};
	if (api_metrics_init(&s->metrics, api_n_routes + 1) < 0)
		goto fail;
	for (size_t i = 0; i < api_n_routes; i++)
		api_metrics_label(&s->metrics, i, api_routes[i].method, api_routes[i].pattern);
	api_metrics_label(&s->metrics, unmatched_idx(), "", "unmatched");

	if (c->tls_cert) {
		if ((r = load_pem(c->tls_cert, "tls_cert", &s->tls_cert, err, errlen)) < 0 ||
		    (r = load_pem(c->tls_key, "tls_key", &s->tls_key, err, errlen)) < 0)
			goto fail;
		if (c->tls_client_ca) {
			if ((r = load_pem(c->tls_client_ca, "tls_client_ca", &s->tls_ca, err,
					  errlen)) < 0)
				goto fail;
			s->tls_client_auth = true;
		}
	}

	size_t off = 0;
	if (p->unix_fd >= 0 || c->listen_unix[0]) {
		int fd = p->unix_fd;
		if (fd < 0) {
			if ((r = bind_unix(c, &fd, err, errlen)) < 0)
				goto fail;
			s->unix_path = strdup(c->listen_unix);
		}
		if ((r = start_listener(s, &s->listeners[LISTENER_UNIX], LISTENER_UNIX, fd, c, err,
					errlen)) < 0)
			goto fail;
		off += (size_t)snprintf(s->listeners_desc, sizeof(s->listeners_desc), "unix:%s",
					p->unix_fd >= 0 ? "(socket-activated)" : c->listen_unix);
	}
	if (c->listen_tcp) {
		int fd = -1;
		if ((r = bind_tcp(c->listen_tcp, &fd, err, errlen)) < 0)
			goto fail;
		if ((r = start_listener(s, &s->listeners[LISTENER_TCP], LISTENER_TCP, fd, c, err,
					errlen)) < 0) {
			close(fd);
			goto fail;
		}
		snprintf(s->listeners_desc + off, sizeof(s->listeners_desc) - off, "%s%s://%s",
			 off ? " " : "", s->tls_cert ? "https" : "http", c->listen_tcp);
	}
	if ((r = coco_loop_add_prepare(loop, on_prepare, s)) < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	api_server_free(s);
	return r;
}

void api_server_set_auth(struct api_server *s, struct api_auth *auth)
{
	api_auth_free(s->auth);
	s->auth = auth;
}

void api_server_set_max_body(struct api_server *s, size_t max)
{
	s->max_body = max;
}

void api_server_quiesce(struct api_server *s)
{
	s->draining = true;
	for (size_t i = 0; i < N_LISTENERS; i++) {
		struct listener *li = &s->listeners[i];
		if (!li->d)
			continue;
		MHD_socket fd = MHD_quiesce_daemon(li->d);
		if (fd != MHD_INVALID_SOCKET)
			close(fd);
		/* Keep-alive connections would otherwise hold the drain for the full idle
		 * timeout: give every connection one second of inactivity; in-flight requests
		 * finish and their responses carry "Connection: close". */
		for (struct conn *n = li->conns; n; n = n->next)
			MHD_set_connection_option(n->c, MHD_CONNECTION_OPTION_TIMEOUT, 1);
		run_listener(li);
	}
	if (s->unix_path) {
		unlink(s->unix_path);
		free(s->unix_path);
		s->unix_path = NULL;
	}
}

unsigned api_server_connections(const struct api_server *s)
{
	unsigned n = 0;
	for (size_t i = 0; i < N_LISTENERS; i++) {
		if (!s->listeners[i].d)
			continue;
		const union MHD_DaemonInfo *di =
		    MHD_get_daemon_info(s->listeners[i].d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (di)
			n += di->num_connections;
	}
	return n;
}

const char *api_server_listeners(const struct api_server *s)
{
	return s->listeners_desc;
}

void api_server_free(struct api_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < N_LISTENERS; i++)
		if (s->listeners[i].d) {
			coco_loop_remove(s->loop, s->listeners[i].epfd);
			MHD_stop_daemon(s->listeners[i].d);
		}
	if (s->unix_path) {
		unlink(s->unix_path);
		free(s->unix_path);
	}
	api_metrics_free(&s->metrics);
	api_auth_free(s->auth);
	free(s->tls_cert);
	if (s->tls_key) {
		explicit_bzero(s->tls_key, strlen(s->tls_key));
		free(s->tls_key);
	}
	free(s->tls_ca);
	free(s);
}
