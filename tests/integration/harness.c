#include "harness.h"
#include "tests/pki_cache.h"

#include <arpa/inet.h>
#include <errno.h>
#include <check.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(sa);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static char *subst(const char *in, const char *key, const char *val)
{
	size_t kl = strlen(key), vl = strlen(val), n = 0;
	for (const char *p = in; (p = strstr(p, key)); p += kl)
		n++;
	char *out = malloc(strlen(in) + n * vl + 1), *o = out;
	for (const char *p = in;;) {
		const char *q = strstr(p, key);
		if (!q) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, val, vl);
		o += vl;
		p = q + kl;
	}
	return out;
}

void daemon_rewrite_config(struct daemon *d, const char *extra)
{
	char port[16];
	snprintf(port, sizeof(port), "%u", d->port);
	char *e1 = subst(extra ? extra : "", "%PORT%", port);
	char *e2 = subst(e1, "%DIR%", d->dir);
	FILE *f = fopen(d->conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "platform = emulated\nstate_directory = %s/state\nlisten_unix = %s\n%s", d->dir,
		d->sock, e2);
	fclose(f);
	free(e1);
	free(e2);
}

static void share_pki(const char *dir)
{
	char state[300];
	snprintf(state, sizeof(state), "%s/state", dir);
	share_emulated_pki(state);
}

void daemon_config(struct daemon *d, const char *extra)
{
	memset(d, 0, sizeof(*d));
	d->pid = -1;
	snprintf(d->dir, sizeof(d->dir), "/tmp/cocod-it-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d->dir));
	snprintf(d->sock, sizeof(d->sock), "%s/cocod.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/cocod.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/cocod.log", d->dir);
	d->port = free_port();
	share_pki(d->dir);
	daemon_rewrite_config(d, extra);
}

void daemon_start(struct daemon *d)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(fd, 2);
		dup2(fd, 1);
		for (size_t i = 0; d->env && d->env[i]; i++) {
			char kv[256];
			snprintf(kv, sizeof(kv), "%s", d->env[i]);
			char *eq = strchr(kv, '=');
			*eq = '\0';
			char pid_s[16];
			snprintf(pid_s, sizeof(pid_s), "%d", (int)getpid());
			setenv(kv, strcmp(eq + 1, "self") == 0 ? pid_s : eq + 1, 1);
		}
		const char *argv[32];
		size_t n = 0;
		for (size_t i = 0; d->wrapper && d->wrapper[i] && n < 26; i++)
			argv[n++] = d->wrapper[i];
		argv[n++] = COCOD_BIN;
		argv[n++] = "-c";
		argv[n++] = d->conf;
		argv[n] = NULL;
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	d->pid = pid;
	for (int i = 0; i < 200; i++) { /* 10 s at most */
		struct reply r;
		CURL *h = curl_easy_init();
		char url[64];
		snprintf(url, sizeof(url), "http://localhost/healthz");
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, d->sock);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 1L);
		CURLcode rc = curl_easy_perform(h);
		r.status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
		curl_easy_cleanup(h);
		if (rc == CURLE_OK && r.status == 200)
			return;
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			d->pid = -1;
			char *log = slurp(d->log);
			ck_abort_msg("cocod exited during start-up: %s", log ? log : "");
		}
		usleep(50000);
	}
	char *log = slurp(d->log);
	ck_abort_msg("cocod did not answer /healthz within 10 s: %s", log ? log : "");
}

int daemon_signal_wait(struct daemon *d, int sig, double timeout_s)
{
	if (d->pid <= 0)
		return -1;
	kill(d->pid, sig);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int st;
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = -1;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > timeout_s) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &st, 0);
			d->pid = -1;
			return -1;
		}
		usleep(10000);
	}
}

void daemon_cleanup(struct daemon *d)
{
	if (d->pid > 0)
		daemon_signal_wait(d, SIGKILL, 5);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
	if (d->dir[0])
		ck_assert_int_eq(system(cmd), 0);
}

int run_capture(const char *const argv[], char **ret_output)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	size_t cap = 4096, len = 0;
	char *out = malloc(cap);
	ssize_t n;
	while ((n = read(p[0], out + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2)
			out = realloc(out, cap *= 2);
	}
	out[len] = '\0';
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	*ret_output = out;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct acc {
	char *data;
	size_t len;
};

static size_t acc_write(char *p, size_t s, size_t n, void *ud)
{
	struct acc *a = ud;
	a->data = realloc(a->data, a->len + s * n + 1);
	memcpy(a->data + a->len, p, s * n);
	a->len += s * n;
	a->data[a->len] = '\0';
	return s * n;
}

struct upload {
	const char *p;
	size_t left;
};

static size_t read_body(char *buf, size_t s, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t k = s * n < u->left ? s * n : u->left;
	memcpy(buf, u->p, k);
	u->p += k;
	u->left -= k;
	return k;
}

void http(struct daemon *d, const char *method, const char *path, const struct req_opts *o,
	  struct reply *r)
{
	static const struct req_opts none;
	if (!o)
		o = &none;
	CURL *h = curl_easy_init();
	char url[256];
	if (o->tcp)
		snprintf(url, sizeof(url), "%s://127.0.0.1:%u%s", o->tls ? "https" : "http", d->port,
			 path);
	else {
		snprintf(url, sizeof(url), "http://localhost%s", path);
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, d->sock);
	}
	struct acc body = {0}, hdr = {0};
	struct curl_slist *hl = NULL;
	for (size_t i = 0; o->headers && o->headers[i]; i++)
		hl = curl_slist_append(hl, o->headers[i]);
	struct upload up = {0};
	if (o->body) {
		size_t bl = o->body_len < 0 || (o->body_len == 0 && o->body[0]) ? strlen(o->body)
								 : (size_t)o->body_len;
		if (o->chunked) {
			up = (struct upload){o->body, bl};
			hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
			curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
			curl_easy_setopt(h, CURLOPT_READDATA, &up);
		} else {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, o->body);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)bl);
		}
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, acc_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, acc_write);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &hdr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	if (o->tls) {
		curl_easy_setopt(h, CURLOPT_CAINFO, o->ca);
		if (o->cert) {
			curl_easy_setopt(h, CURLOPT_SSLCERT, o->cert);
			curl_easy_setopt(h, CURLOPT_SSLKEY, o->key);
		}
	}
	CURLcode rc = curl_easy_perform(h);
	r->status = 0;
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	else
		r->status = -(long)rc;
	r->body = body.data ? body.data : strdup("");
	r->headers = hdr.data ? hdr.data : strdup("");
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
}

void reply_free(struct reply *r)
{
	free(r->body);
	free(r->headers);
	r->body = r->headers = NULL;
}

const char *reply_header(const struct reply *r, const char *name, char *buf, size_t n)
{
	buf[0] = '\0';
	char pat[64];
	snprintf(pat, sizeof(pat), "\n%s: ", name);
	const char *l = r->headers ? strcasestr(r->headers, pat) : NULL;
	if (!l)
		return NULL;
	l += strlen(pat);
	snprintf(buf, n, "%.*s", (int)strcspn(l, "\r\n"), l);
	return buf;
}

const char *json_field(const char *body, const char *key, char *buf, size_t n)
{
	json_object *o = json_tokener_parse(body), *v;
	buf[0] = '\0';
	if (o && json_object_object_get_ex(o, key, &v))
		snprintf(buf, n, "%s", json_object_get_string(v));
	json_object_put(o);
	return buf;
}

char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = calloc(1, 1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

json_object *http_json(struct daemon *d, const char *method, const char *path, const char *ct,
		       const char *body, long body_len, long want)
{
	char h1[96];
	snprintf(h1, sizeof(h1), "Content-Type: %s", ct ? ct : "application/json");
	const char *h[] = {h1, NULL};
	struct req_opts o = {.headers = body ? h : NULL, .body = body,
			     .body_len = body_len ? body_len : -1};
	struct reply r;
	http(d, method, path, &o, &r);
	ck_assert_msg(r.status == want, "%s %s: %ld (want %ld): %s", method, path, r.status, want,
		      r.body);
	json_object *j = json_tokener_parse(r.body);
	ck_assert_ptr_nonnull(j);
	reply_free(&r);
	return j;
}

const char *json_path(json_object *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", path);
	json_object *cur = o;
	for (char *save, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(cur, k, &cur))
			return NULL;
	return json_object_get_string(cur);
}

void daemon_wait_cert_table(struct daemon *d)
{
	for (int i = 0; i < 200; i++) {
		struct reply r;
		http(d, "GET", "/v1/snp/certs", NULL, &r);
		bool done = r.status == 200 && strstr(r.body, "\"complete\":true");
		reply_free(&r);
		if (done)
			return;
		usleep(50000);
	}
	ck_abort_msg("the certificate cache did not fill in 10 s");
}
