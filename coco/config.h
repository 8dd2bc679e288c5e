/* cocod.conf: "key = value" lines, '#' comments, documented in cocod.conf(5). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "coco/log.h"

#define COCO_EX_CONFIG 78 /* sysexits.h EX_CONFIG */
#define COCO_CONFIG_MAX_BYTES (1u << 20)
#define COCO_CONFIG_MAX_ROLE_MAPS 256
#define COCO_CONFIG_MAX_IMAGE_DIRS 32

enum coco_platform { COCO_PLATFORM_EMULATED = 1, COCO_PLATFORM_NATIVE = 2 };

enum coco_role { COCO_ROLE_NONE = 0, COCO_ROLE_READER, COCO_ROLE_OPERATOR, COCO_ROLE_ADMIN };

struct coco_unix_role {
	enum coco_role role;
	bool is_group; /* "@group" */
	unsigned id;   /* uid or gid */
};

struct coco_subject_role {
	enum coco_role role;
	char *subject; /* RFC 4514 DN as GnuTLS prints it, e.g. "CN=cp,O=Example" */
};

struct coco_config {
	char *path;
	enum coco_platform platform;
	char *state_dir;
	char *listen_unix; /* "" disables the Unix socket */
	mode_t listen_unix_mode;
	char *listen_unix_group; /* NULL: keep the daemon's group */
	char *listen_tcp;        /* NULL: no TCP listener; "host:port" or "[v6]:port" */
	char *tls_cert, *tls_key, *tls_client_ca;
	char *token_file;
	char *kds_base_url;  /* "emulated": the emulated platform's KDS, in process */
	unsigned kds_timeout_s; /* all attempts of one fetch */
	unsigned kds_attempts;
	/* The GHCB certificate table file VMMs read (NULL: <state_dir>/snp-cert-table.bin;
	 * "": none), the VMM socket (NULL or "": none) and the group allowed on it. */
	char *snp_cert_table;
	char *vmm_socket;
	char *vmm_socket_group;
	bool snp_trust_emulated_root; /* emulated platform only */
	bool snp_cert_crl;            /* put the ARK's CRL in the table */
	char *snp_vlek_cert;          /* the VLEK certificate (PEM/DER) from the CSP */
	/* The CSP's VLEK interface, a URL template (see snp_tcb_url_expand), fetched with the TLS
	 * client certificate kds_client_cert/kds_client_key (PEM files). NULL: none. */
	char *snp_vlek_url;
	char *kds_client_cert, *kds_client_key;
	/* TDX module updates: the module store (tdx_module_<x.y.z>.blob + mapping_file.json),
	 * the mapping file (NULL: <tdx_module_dir>/mapping_file.json), the pinned version
	 * ("latest" or x.y.z), how long an update waits for TD launches to leave the gate, and
	 * whether debug-signed modules may be requested at all. */
	char *tdx_module_dir;
	char *tdx_mapping_file;
	char *tdx_module_pin;
	unsigned tdx_gate_timeout_s;
	bool tdx_allow_debug_modules;
	char *libvirt_uri;            /* native guests; NULL = "qemu:///system" */
	int log_level;
	size_t api_max_body;
	unsigned api_max_connections;
	enum coco_role unix_default_role;
	struct coco_unix_role *unix_roles;
	size_t n_unix_roles;
	struct coco_subject_role *subject_roles;
	size_t n_subject_roles;
	/* Directories API requests may name firmware, kernels and initrds from. */
	char **image_dirs;
	size_t n_image_dirs;
};

/* Parse a buffer as config text; name is used in messages. On error returns a negative errno
 * and writes "name:line: key 'k': reason" into err. Never logs. */
int coco_config_parse(const char *name, const char *buf, size_t len, struct coco_config **ret,
		      char *err, size_t errlen);
/* Read and parse a file (at most COCO_CONFIG_MAX_BYTES). */
int coco_config_load(const char *path, struct coco_config **ret, char *err, size_t errlen);
void coco_config_free(struct coco_config *c);

const char *coco_platform_name(enum coco_platform p);
const char *coco_role_name(enum coco_role r);
int coco_role_from_name(const char *s, enum coco_role *ret);
/* Split "host:port" / "[v6]:port"; host is written into host (hostlen bytes). */
int coco_parse_hostport(const char *s, char *host, size_t hostlen, unsigned *ret_port);
