/* cocod: the confidential-computing daemon of a Linux/KVM host. */
#include <getopt.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>

#include "api/server.h"
#include "coco/config.h"
#include "coco/log.h"
#include "coco/loop.h"
#include "coco/store.h"
#include "coco/tokens.h"
#include "coco/util.h"
#include "cocod/svc.h"
#include "hv/platform.h"
#include "version.h"

#define DEFAULT_CONFIG "/etc/cocod/cocod.conf"
#define DRAIN_TIMEOUT_NS (10ull * 1000000000ull)

struct daemon {
	const char *config_path;
	struct coco_loop *loop;
	struct svc svc;
	struct api_server *api;
	int sigfd, wdfd;
	bool draining;
	uint64_t drain_deadline;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: cocod [OPTIONS]\n"
		"\n"
		"The confidential-computing daemon of a Linux/KVM host (AMD SEV-SNP, Intel TDX).\n"
		"Serves the REST API on a Unix socket (and optionally TCP) and owns the host's\n"
		"SEV firmware, TDX module and confidential guests.\n"
		"\n"
		"Options:\n"
		"  -c, --config PATH         configuration file (default " DEFAULT_CONFIG ")\n"
		"      --check-config        validate the configuration (and token file) and exit:\n"
		"                            0 when valid, 78 with file:line: key: reason otherwise\n"
		"      --generate-token ROLE [NAME]\n"
		"                            print a new API token (stdout) and the line to add to\n"
		"                            the token file (stderr); ROLE: reader|operator|admin\n"
		"  -V, --version             print the version and exit\n"
		"  -h, --help                show this help\n"
		"\n"
		"Signals: SIGTERM/SIGINT drain requests and exit 0; SIGHUP reloads the configuration.\n"
		"See cocod(8) and cocod.conf(5).\n");
}

/* Keys applied by a reload; all others need a restart. */
static int daemon_reload(void *userdata, struct svc_reload *ret, char *err, size_t errlen)
{
	struct daemon *d = userdata;
	struct coco_config *old = d->svc.config, *nc;
	int r = coco_config_load(d->config_path, &nc, err, errlen);
	if (r < 0)
		return r;
	struct api_auth *auth;
	if ((r = api_auth_new(nc, &auth, err, errlen)) < 0) {
		coco_config_free(nc);
		return r;
	}
	struct svc_reload rl = {.applied = true};
	size_t no = 0;
#define RESTART_ONLY(changed, name)                                                             \
	do {                                                                                    \
		if (changed)                                                                    \
			no += (size_t)snprintf(rl.needs_restart + no,                           \
					       no < sizeof(rl.needs_restart)                    \
						       ? sizeof(rl.needs_restart) - no          \
						       : 0,                                     \
					       "%s%s", no ? " " : "", name);                   \
	} while (0)
#define STRCHG(a, b) (!!(a) != !!(b) || ((a) && (b) && strcmp((a), (b)) != 0))
	RESTART_ONLY(nc->platform != old->platform, "platform");
	RESTART_ONLY(STRCHG(nc->state_dir, old->state_dir), "state_directory");
	RESTART_ONLY(STRCHG(nc->listen_unix, old->listen_unix), "listen_unix");
	RESTART_ONLY(nc->listen_unix_mode != old->listen_unix_mode, "listen_unix_mode");
	RESTART_ONLY(STRCHG(nc->listen_unix_group, old->listen_unix_group), "listen_unix_group");
	RESTART_ONLY(STRCHG(nc->listen_tcp, old->listen_tcp), "listen_tcp");
	RESTART_ONLY(STRCHG(nc->tls_cert, old->tls_cert), "tls_cert");
	RESTART_ONLY(STRCHG(nc->tls_key, old->tls_key), "tls_key");
	RESTART_ONLY(STRCHG(nc->tls_client_ca, old->tls_client_ca), "tls_client_ca");
	RESTART_ONLY(nc->api_max_connections != old->api_max_connections, "api_max_connections");
	/* The certificate service (cocod/svc_snp.c) is set up once, at start. */
	RESTART_ONLY(STRCHG(nc->kds_base_url, old->kds_base_url), "kds_base_url");
	RESTART_ONLY(nc->kds_timeout_s != old->kds_timeout_s, "kds_timeout");
	RESTART_ONLY(nc->kds_attempts != old->kds_attempts, "kds_attempts");
	RESTART_ONLY(STRCHG(nc->snp_cert_table, old->snp_cert_table), "snp_cert_table");
	RESTART_ONLY(STRCHG(nc->vmm_socket, old->vmm_socket), "vmm_socket");
	RESTART_ONLY(STRCHG(nc->vmm_socket_group, old->vmm_socket_group), "vmm_socket_group");
	RESTART_ONLY(nc->snp_trust_emulated_root != old->snp_trust_emulated_root,
		     "snp_trust_emulated_root");
	RESTART_ONLY(nc->snp_cert_crl != old->snp_cert_crl, "snp_cert_crl");
	RESTART_ONLY(STRCHG(nc->snp_vlek_cert, old->snp_vlek_cert), "snp_vlek_cert");
	RESTART_ONLY(STRCHG(nc->snp_vlek_url, old->snp_vlek_url), "snp_vlek_url");
	RESTART_ONLY(STRCHG(nc->kds_client_cert, old->kds_client_cert), "kds_client_cert");
	RESTART_ONLY(STRCHG(nc->kds_client_key, old->kds_client_key), "kds_client_key");
	/* The TDX module updater (cocod/svc_tdx.c) is set up once, at start. */
	RESTART_ONLY(STRCHG(nc->tdx_module_dir, old->tdx_module_dir), "tdx_module_dir");
	RESTART_ONLY(STRCHG(nc->tdx_mapping_file, old->tdx_mapping_file), "tdx_mapping_file");
	RESTART_ONLY(STRCHG(nc->tdx_module_pin, old->tdx_module_pin), "tdx_module_pin");
	RESTART_ONLY(nc->tdx_gate_timeout_s != old->tdx_gate_timeout_s, "tdx_gate_timeout");
	RESTART_ONLY(nc->tdx_allow_debug_modules != old->tdx_allow_debug_modules,
		     "tdx_allow_debug_modules");
#undef RESTART_ONLY
#undef STRCHG
	/* Restart-only keys keep their running values so the config reflects what runs. */
	nc->platform = old->platform;
#define KEEP(field)                                                                             \
	do {                                                                                    \
		free(nc->field);                                                                \
		nc->field = old->field;                                                         \
		old->field = NULL;                                                              \
	} while (0)
	KEEP(state_dir);
	KEEP(listen_unix);
	KEEP(listen_unix_group);
	KEEP(listen_tcp);
	KEEP(tls_cert);
	KEEP(tls_key);
	KEEP(tls_client_ca);
	KEEP(kds_base_url);
	KEEP(snp_cert_table);
	KEEP(vmm_socket);
	KEEP(vmm_socket_group);
	KEEP(snp_vlek_cert);
	KEEP(snp_vlek_url); /* borrowed by the certificate service */
	KEEP(kds_client_cert);
	KEEP(kds_client_key);
	KEEP(tdx_module_dir);
	KEEP(tdx_mapping_file);
	KEEP(tdx_module_pin);
#undef KEEP
	nc->tdx_gate_timeout_s = old->tdx_gate_timeout_s;
	nc->tdx_allow_debug_modules = old->tdx_allow_debug_modules;
	nc->kds_timeout_s = old->kds_timeout_s;
	nc->kds_attempts = old->kds_attempts;
	nc->snp_trust_emulated_root = old->snp_trust_emulated_root;
	nc->snp_cert_crl = old->snp_cert_crl;
	nc->listen_unix_mode = old->listen_unix_mode;
	nc->api_max_connections = old->api_max_connections;
	snprintf(rl.changed, sizeof(rl.changed),
		 "log_level token_file unix_default_role unix_role tls_subject_role api_max_body "
		 "image_dir");
	coco_log_set_level(nc->log_level);
	api_server_set_auth(d->api, auth);
	api_server_set_max_body(d->api, nc->api_max_body);
	svc_config_swap(&d->svc, nc);
	coco_config_free(old);
	if (rl.needs_restart[0])
		log_warn("configuration reloaded; changed keys that need a restart: %s",
			 rl.needs_restart);
	else
		log_info("configuration reloaded");
	*ret = rl;
	return 0;
}

static void start_drain(struct daemon *d, const char *why)
{
	if (d->draining)
		return;
	log_info("%s: draining %u connection(s) and exiting", why, api_server_connections(d->api));
	sd_notify(0, "STOPPING=1\nSTATUS=Draining requests");
	d->draining = true;
	d->drain_deadline = now_ns() + DRAIN_TIMEOUT_NS;
	api_server_quiesce(d->api);
}

static void on_signal(struct coco_loop *l, int fd, uint32_t events, void *userdata)
{
	struct daemon *d = userdata;
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT: start_drain(d, si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT"); break;
		case SIGHUP: {
			struct svc_reload rl;
			char err[512];
			sd_notify(0, "RELOADING=1");
			if (daemon_reload(d, &rl, err, sizeof(err)) < 0)
				log_err("SIGHUP: configuration not reloaded, keeping the running one: %s",
					err);
			sd_notify(0, "READY=1");
			break;
		}
		}
	}
}

static int on_prepare(struct coco_loop *l, void *userdata)
{
	struct daemon *d = userdata;
	if (!d->draining)
		return -1;
	unsigned n = api_server_connections(d->api);
	if (n == 0 || now_ns() >= d->drain_deadline) {
		if (n)
			log_warn("drain timeout: closing %u connection(s)", n);
		coco_loop_exit(l, 0);
		return 0;
	}
	return 50;
}

static void on_watchdog(struct coco_loop *l, int fd, uint32_t events, void *userdata)
{
	uint64_t ticks;
	if (read(fd, &ticks, sizeof(ticks)) == (ssize_t)sizeof(ticks))
		sd_notify(0, "WATCHDOG=1");
}

static int setup_watchdog(struct daemon *d)
{
	uint64_t usec;
	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	d->wdfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->wdfd < 0)
		return -errno;
	uint64_t half = usec / 2;
	struct itimerspec its = {
		.it_interval = {(time_t)(half / 1000000), (long)(half % 1000000) * 1000},
		.it_value = {(time_t)(half / 1000000), (long)(half % 1000000) * 1000},
	};
	if (timerfd_settime(d->wdfd, 0, &its, NULL) < 0)
		return -errno;
	return coco_loop_add(d->loop, d->wdfd, EPOLLIN, on_watchdog, d);
}

/* systemd socket activation (cocod.socket): one Unix stream socket at fd 3. */
static int activated_unix_fd(void)
{
	int n = sd_listen_fds(1);
	if (n <= 0)
		return -1;
	if (n > 1 || sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
		log_warn("ignoring %d socket-activation fd(s): expected one listening Unix socket", n);
		return -1;
	}
	return SD_LISTEN_FDS_START;
}

static int check_config(const char *path)
{
	char err[1024];
	struct coco_config *c;
	if (coco_config_load(path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "cocod: %s\n", err);
		return COCO_EX_CONFIG;
	}
	struct api_auth *a;
	int r = api_auth_new(c, &a, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "cocod: %s: key 'token_file': %s\n", path, err);
		coco_config_free(c);
		return COCO_EX_CONFIG;
	}
	api_auth_free(a);
	/* Files read only at start-up are checked here too, so a valid check means a clean start. */
	const struct {
		const char *key, *path;
	} files[] = {{"tls_cert", c->tls_cert}, {"tls_key", c->tls_key},
		     {"tls_client_ca", c->tls_client_ca}};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char *pem;
		if (!files[i].path)
			continue;
		r = read_file_max(files[i].path, 1u << 20, &pem, NULL);
		if (r < 0) {
			fprintf(stderr, "cocod: %s: key '%s': cannot read %s: %s\n", path, files[i].key,
				files[i].path, strerror(-r));
			coco_config_free(c);
			return COCO_EX_CONFIG;
		}
		if (!strstr(pem, "-----BEGIN ")) {
			fprintf(stderr, "cocod: %s: key '%s': %s is not PEM\n", path, files[i].key,
				files[i].path);
			free(pem);
			coco_config_free(c);
			return COCO_EX_CONFIG;
		}
		free(pem);
	}
	printf("%s: valid (platform %s, state %s, listen %s%s%s)\n", path,
	       coco_platform_name(c->platform), c->state_dir,
	       c->listen_unix[0] ? c->listen_unix : "-", c->listen_tcp ? " and " : "",
	       c->listen_tcp ? c->listen_tcp : "");
	coco_config_free(c);
	return 0;
}

static int generate_token(int argc, char **argv)
{
	enum coco_role role;
	if (optind >= argc || coco_role_from_name(argv[optind], &role) < 0 ||
	    role == COCO_ROLE_NONE) {
		fprintf(stderr, "cocod: --generate-token needs a role: reader, operator or admin\n");
		return 2;
	}
	const char *name = optind + 1 < argc ? argv[optind + 1] : "unnamed";
	if (!coco_token_name_valid(name)) {
		fprintf(stderr, "cocod: token name must be 1-63 characters from [A-Za-z0-9._@:-]\n");
		return 2;
	}
	char token[64], line[160];
	if (coco_token_generate(role, name, token, line) < 0) {
		fprintf(stderr, "cocod: cannot generate a token: no randomness\n");
		return 1;
	}
	printf("%s\n", token);
	fprintf(stderr, "cocod: add this line to the token file (it holds only the hash):\n%s\n",
		line);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 'C'},
		{"generate-token", no_argument, NULL, 'T'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct daemon d = {.config_path = DEFAULT_CONFIG, .sigfd = -1, .wdfd = -1};
	bool check = false, gen = false;
	int o;
	while ((o = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (o) {
		case 'c': d.config_path = optarg; break;
		case 'C': check = true; break;
		case 'T': gen = true; break;
		case 'V': printf("cocod %s (%s)\n", COCOD_VERSION, COCOD_GIT_COMMIT); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (gen)
		return generate_token(argc, argv);
	if (optind < argc) {
		fprintf(stderr, "cocod: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (check)
		return check_config(d.config_path);

	coco_log_open("cocod");
	char err[1024];
	if (coco_config_load(d.config_path, &d.svc.config, err, sizeof(err)) < 0) {
		fprintf(stderr, "cocod: %s\n", err);
		return COCO_EX_CONFIG;
	}
	struct coco_config *c = d.svc.config;
	coco_log_set_level(c->log_level);
	struct api_auth *auth;
	if (api_auth_new(c, &auth, err, sizeof(err)) < 0) {
		fprintf(stderr, "cocod: %s: key 'token_file': %s\n", d.config_path, err);
		return COCO_EX_CONFIG;
	}
	int r, ret = 1;
	/* Block the signals the loop reads from its signalfd before any thread exists (the
	 * emulated platform and the work queue start threads): a thread that left them
	 * unblocked would take SIGTERM with its default action and kill the daemon. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d.svc.started = now_unix();
	d.svc.reload = daemon_reload;
	d.svc.reload_userdata = &d;

	if ((r = coco_store_open(c->state_dir, &d.svc.store, err, sizeof(err))) < 0) {
		log_err("state store: %s", err);
		api_auth_free(auth);
		goto out;
	}
	if ((r = sevd_measure_cache_new(&d.svc.measure_cache)) < 0) {
		log_err("measurement cache: %s", strerror(-r));
		api_auth_free(auth);
		goto out;
	}
	struct hv_platform_params pp = {.kind = c->platform, .state_dir = c->state_dir};
	if ((r = hv_platform_open(&pp, &d.svc.platform, err, sizeof(err))) < 0) {
		log_err("platform: %s", err);
		api_auth_free(auth);
		goto out;
	}
	if (c->platform == COCO_PLATFORM_EMULATED)
		log_notice("platform = emulated (set explicitly in %s): no hardware is touched",
			   d.config_path);
	svc_probe_platform(&d.svc, true);

	signal(SIGPIPE, SIG_IGN);
	if ((r = coco_loop_new(&d.loop)) < 0 ||
	    (d.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0 ||
	    (r = coco_loop_add(d.loop, d.sigfd, EPOLLIN, on_signal, &d)) < 0 ||
	    (r = coco_loop_add_prepare(d.loop, on_prepare, &d)) < 0) {
		log_err("event loop: %s", strerror(r < 0 ? -r : errno));
		api_auth_free(auth);
		goto out;
	}
	if ((r = svc_start(&d.svc, d.loop, err, sizeof(err))) < 0) {
		log_err("%s", err);
		api_auth_free(auth);
		goto out;
	}
	struct api_server_params ap = {
		.config = c,
		.unix_fd = activated_unix_fd(),
		.platform_name = coco_platform_name(c->platform),
		.started = d.svc.started,
		.dispatch = svc_dispatch,
		.dispatch_async = svc_dispatch_async,
		.dispatch_ctx = &d.svc,
	};
	if ((r = api_server_new(&ap, auth, d.loop, &d.api, err, sizeof(err))) < 0) {
		log_err("%s", err);
		goto out;
	}
	if ((r = setup_watchdog(&d)) < 0)
		log_warn("watchdog: %s", strerror(-r));
	log_info("cocod %s ready: platform %s, listening on %s", COCOD_VERSION,
		 coco_platform_name(c->platform), api_server_listeners(d.api));
	sd_notifyf(0, "READY=1\nSTATUS=Serving on %s (platform %s)", api_server_listeners(d.api),
		   coco_platform_name(c->platform));
	r = coco_loop_run(d.loop);
	ret = r < 0 ? 1 : r;
	log_info("stopped");
out:
	/* Finish queued work first: its completions resume suspended connections, and MHD must
	 * not be stopped while any is suspended. */
	svc_drain(&d.svc);
	api_server_free(d.api);
	svc_stop(&d.svc);
	if (d.sigfd >= 0)
		close(d.sigfd);
	if (d.wdfd >= 0)
		close(d.wdfd);
	coco_loop_free(d.loop);
	hv_platform_close(d.svc.platform);
	sevd_measure_cache_free(d.svc.measure_cache);
	coco_store_close(d.svc.store);
	coco_config_free(d.svc.config);
	return ret;
}
