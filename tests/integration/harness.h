/* Integration test harness: run the real cocod binary on a temporary state directory and
 * sockets, and talk to it with libcurl. */
#pragma once
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

struct daemon {
	pid_t pid;
	char dir[64];
	char sock[128];
	char conf[128];
	char log[128];
	unsigned port; /* TCP port when the config has listen_tcp */
	/* Optional: environment additions ("K=V"; "WATCHDOG_PID=self" becomes the child's pid)
	 * and a wrapper command to run cocod under (e.g. systemd-socket-activate). */
	const char *const *env;
	const char *const *wrapper;
};

struct reply {
	long status;
	char *body;
	char *headers;
};

/* Make a temp dir and a config: platform emulated, state and socket inside the dir, then
 * `extra` lines (may contain "%PORT%" and "%DIR%", replaced). */
void daemon_config(struct daemon *d, const char *extra);
void daemon_rewrite_config(struct daemon *d, const char *extra);
/* Start cocod and wait (bounded) until its socket answers /healthz. */
void daemon_start(struct daemon *d);
/* Send a signal and wait (bounded) for the exit status; -1 on timeout (the process is killed). */
int daemon_signal_wait(struct daemon *d, int sig, double timeout_s);
void daemon_cleanup(struct daemon *d);
/* Run cocod (or another binary) to completion with args; capture stdout+stderr. */
int run_capture(const char *const argv[], char **ret_output);

/* One HTTP request. url_path like "/v1/host". tcp selects the TCP listener (http or https
 * when tls is set). extra headers: NULL-terminated list. */
struct req_opts {
	bool tcp;
	bool tls;
	const char *ca, *cert, *key; /* TLS files */
	const char *const *headers;
	const char *body;
	long body_len; /* -1: strlen */
	bool chunked;
};
void http(struct daemon *d, const char *method, const char *path, const struct req_opts *o,
	  struct reply *r);
void reply_free(struct reply *r);
/* A response header's value (first match, name case-insensitive) into buf; NULL (and buf
 * empty) when absent. */
const char *reply_header(const struct reply *r, const char *name, char *buf, size_t n);
const char *json_field(const char *body, const char *key, char *buf, size_t n);
/* method path with a body of content type ct (NULL: application/json; body NULL: none,
 * body_len 0: strlen); asserts the status is want and returns the parsed JSON reply (put it). */
json_object *http_json(struct daemon *d, const char *method, const char *path, const char *ct,
		       const char *body, long body_len, long want);
/* The member at a dotted path ("table.complete") as a string; NULL when absent. */
const char *json_path(json_object *o, const char *path);
char *slurp(const char *path);
/* Wait (bounded, 10 s) until GET /v1/snp/certs says the table is complete. */
void daemon_wait_cert_table(struct daemon *d);
