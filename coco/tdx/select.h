/* The module directory and the choice of a module to load.
 *
 * Inventory: the files tdx_module_<x.y.z>.blob of a directory (others are ignored), each read
 * (at most TDX_BLOB_MAX_SIZE), parsed (header, length, checksum, sigstruct) and verified
 * (seamhash == SHA-384(module)); a file that fails says why and stays in the inventory, so
 * selection can name it as not eligible.
 *
 * Selection is a pure function of (inventory, mapping, what the host runs, the operator's
 * options): every candidate comes back with its eligibility and every reason against it
 * (Intel's rules, ARCHITECTURE.md "Kernel and firmware facts"):
 *   - the blob parsed and verified; its name gives the version;
 *   - a mapping_file.json entry for that version;
 *   - the CPU: CPUID.1.EAX (stepping masked) in the sigstruct's CPUID table;
 *   - P-SEAMLDR: the running major.minor listed in min_seamldr_versions with update <= running;
 *   - Z-stream: same major.minor as the running module, update above it (or equal with
 *     reinstall), and min_module_version_for_td_preserving <= the running module;
 *   - debug-signed (sigstruct type bit 31) refused unless allowed.
 * The default target is the highest eligible version; a pinned version is the target if it
 * is eligible, and nothing else is.
 * Pure: reads only the given directory, no logging. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coco/tdx/blob.h"
#include "coco/tdx/mapping.h"
#include "coco/tdx/version.h"

#define TDX_INVENTORY_MAX_FILES 1024
#define TDX_MODULE_FILE_PREFIX "tdx_module_"
#define TDX_MODULE_FILE_SUFFIX ".blob"

struct tdx_module_file {
	char name[256];
	struct tdx_version version; /* from the name */
	size_t size;
	int error;		    /* 0, or why it is unusable: -EINVAL, -EBADMSG, -EFBIG, -EIO */
	char error_msg[256];
	struct tdx_blob blob;	    /* valid when error == 0 (offsets only; no data kept) */
	uint8_t mrseam[TDX_SEAMHASH_SIZE];
	uint8_t sha384[48]; /* of the whole file: what tdx_module_file_load() compares */
};

struct tdx_inventory {
	struct tdx_module_file *files; /* sorted by version, then name */
	size_t n;
};

/* -ENOENT / -EACCES ... (the directory), -E2BIG (too many files), -ENOMEM. A bad file is not
 * an error of the scan. */
int tdx_inventory_scan(const char *dir, struct tdx_inventory *ret, char *err, size_t errlen);
void tdx_inventory_clear(struct tdx_inventory *inv);
/* "tdx_module_1.5.06.blob" -> 1.5.06; -EINVAL for any other name. */
int tdx_module_file_name_version(const char *name, struct tdx_version *ret);
/* Read dir/name again and check it is still what the inventory saw (same size and SHA-384,
 * parsed and verified): the bytes that will be uploaded. *ret is malloc'd; -ESTALE if the file
 * changed. */
int tdx_module_file_load(const char *dir, const struct tdx_module_file *f, uint8_t **ret,
			 size_t *ret_len, struct tdx_blob *ret_blob, char *err, size_t errlen);

enum tdx_reason {
	TDX_REASON_BLOB = 1u << 0,	   /* unreadable, malformed, or fails verification */
	TDX_REASON_NO_MAPPING = 1u << 1,   /* no mapping_file.json entry */
	TDX_REASON_CPU = 1u << 2,	   /* CPU not in the sigstruct's CPUID table */
	TDX_REASON_SEAMLDR = 1u << 3,	   /* running P-SEAMLDR not listed */
	TDX_REASON_CROSS_MINOR = 1u << 4,  /* other major.minor than the running module */
	TDX_REASON_NOT_NEWER = 1u << 5,	   /* not above the running module (Z-stream) */
	TDX_REASON_TD_PRESERVING = 1u << 6, /* running module older than min for TD preserving */
	TDX_REASON_DEBUG = 1u << 7,	   /* debug-signed, not allowed */
};
#define TDX_REASON_COUNT 8
/* "blob", "no-mapping", "cpu", "seamldr", "cross-minor", "not-newer", "td-preserving",
 * "debug"; NULL for anything else. */
const char *tdx_reason_name(enum tdx_reason r);

struct tdx_select_input {
	struct tdx_version current; /* the running module */
	struct tdx_version seamldr; /* the running P-SEAMLDR */
	uint32_t cpuid_1_eax;
	bool allow_debug;
	bool reinstall;		     /* allow the running version itself */
	bool pinned;		     /* target = pin, if eligible */
	struct tdx_version pin;
};

struct tdx_candidate {
	const struct tdx_module_file *file; /* into the inventory */
	bool eligible;
	uint32_t reasons;  /* enum tdx_reason bits */
	char detail[512];  /* one clause per reason, "; "-separated ("" when eligible) */
};

struct tdx_selection {
	struct tdx_candidate *candidates; /* one per inventory file, same order */
	size_t n;
	const struct tdx_candidate *target; /* NULL: none */
	char why_none[256];		    /* when target is NULL */
};

/* -ENOMEM only: ineligibility is a result, not an error. */
int tdx_select(const struct tdx_inventory *inv, const struct tdx_mapping *map,
	       const struct tdx_select_input *in, struct tdx_selection *ret);
void tdx_selection_clear(struct tdx_selection *s);
