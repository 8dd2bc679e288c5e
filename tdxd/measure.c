/* tdxctl measure mrtd|rtmr|mrseam: offline TDX measurements (no cocod needed). */
#include "tdxd/measure.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coco/filehash.h"
#include "coco/tdx/blob.h"
#include "coco/tdx/ccel.h"
#include "coco/tdx/tdvf.h"
#include "coco/util.h"

const char tdxctl_measure_usage[] =
	"Usage: tdxctl measure mrtd --firmware FILE [--two-pass] [--verbose] [--json]\n"
	"       tdxctl measure rtmr --event-log FILE [--rtmr0..3 HEX] [--quiet] [--json]\n"
	"       tdxctl measure mrseam --blob FILE [--json]\n"
	"\n"
	"Offline TDX measurements; cocod is not contacted.\n"
	"  mrtd     MRTD of a TD built from a TDVF (TDX OVMF) image: its TDX metadata sections\n"
	"           are added (MEM.PAGE.ADD) and, with the MR.EXTEND attribute, extended\n"
	"           (MR.EXTEND, 256 bytes at a time). The default order is single-pass (each page\n"
	"           added, then extended: upstream KVM); --two-pass adds every page of a section\n"
	"           before extending them (older QEMU/KVM trees). The order used is printed.\n"
	"  rtmr     replay RTMR0..3 from a TD event log (the CCEL table's log area, TCG2\n"
	"           crypto-agile format, SHA-384): every event with its digest, then the RTMRs.\n"
	"           With --rtmrN, compare and name the first event that can explain a difference;\n"
	"           exit status 1 on a mismatch.\n"
	"  mrseam   MRSEAM of a TDX module blob: SHA-384 of the module inside it, checked\n"
	"           against the sigstruct's seamhash.\n"
	"  --json   one JSON object on stdout\n";

enum { OPT_FIRMWARE = 256, OPT_TWO_PASS, OPT_EVENT_LOG, OPT_BLOB, OPT_JSON, OPT_RTMR0 };

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("tdxctl measure: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nsee 'tdxctl measure --help'\n", stderr);
	return 2;
}

static int hex48(const char *s, uint8_t out[48])
{
	if (strlen(s) != 96 || strspn(s, "0123456789abcdefABCDEF") != 96)
		return -EINVAL;
	for (int i = 0; i < 48; i++)
		if (sscanf(s + 2 * i, "%2hhx", &out[i]) != 1)
			return -EINVAL;
	return 0;
}

struct args {
	const char *what, *firmware, *event_log, *blob;
	bool two_pass, json, verbose, quiet;
	bool have_rtmr[4];
	uint8_t rtmr[4][48];
};

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{"firmware", required_argument, NULL, OPT_FIRMWARE},
		{"two-pass", no_argument, NULL, OPT_TWO_PASS},
		{"event-log", required_argument, NULL, OPT_EVENT_LOG},
		{"blob", required_argument, NULL, OPT_BLOB},
		{"json", no_argument, NULL, OPT_JSON},
		{"rtmr0", required_argument, NULL, OPT_RTMR0},
		{"rtmr1", required_argument, NULL, OPT_RTMR0 + 1},
		{"rtmr2", required_argument, NULL, OPT_RTMR0 + 2},
		{"rtmr3", required_argument, NULL, OPT_RTMR0 + 3},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	optind = 0; /* full re-initialisation: GNU getopt then permutes "mrtd" after the options */
	opterr = 0;
	int o;
	while ((o = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
		switch (o) {
		case OPT_FIRMWARE: a->firmware = optarg; break;
		case OPT_TWO_PASS: a->two_pass = true; break;
		case OPT_EVENT_LOG: a->event_log = optarg; break;
		case OPT_BLOB: a->blob = optarg; break;
		case OPT_JSON: a->json = true; break;
		case 'v': a->verbose = true; break;
		case 'q': a->quiet = true; break;
		case 'h': fputs(tdxctl_measure_usage, stdout); return 1;
		case OPT_RTMR0:
		case OPT_RTMR0 + 1:
		case OPT_RTMR0 + 2:
		case OPT_RTMR0 + 3:
			if (hex48(optarg, a->rtmr[o - OPT_RTMR0]) < 0)
				return usage_error("--rtmr%d: '%s' is not 96 hex digits",
						   o - OPT_RTMR0, optarg);
			a->have_rtmr[o - OPT_RTMR0] = true;
			break;
		default: return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("what to measure? mrtd, rtmr or mrseam");
	a->what = argv[optind++];
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return 0;
}

static int map(const char *opt, const char *path, struct coco_mapped_file *f)
{
	int r = coco_map_file(path, 1ull << 32, f);
	if (r < 0)
		fprintf(stderr, "tdxctl measure: %s %s: %s\n", opt, path, strerror(-r));
	return r;
}

static int do_mrtd(const struct args *a)
{
	if (!a->firmware)
		return usage_error("mrtd needs --firmware FILE");
	struct coco_mapped_file f = {0};
	if (map("--firmware", a->firmware, &f) < 0)
		return 1;
	uint64_t t0 = now_ns();
	struct tdvf *t = malloc(sizeof(*t));
	char err[256];
	uint8_t mrtd[48];
	int ret = 1;
	enum tdvf_order order = a->two_pass ? TDVF_TWO_PASS : TDVF_SINGLE_PASS;
	if (!t) {
		fprintf(stderr, "tdxctl measure: out of memory\n");
		goto out;
	}
	if (tdvf_parse(f.data, f.size, t, err, sizeof(err)) < 0 ||
	    tdvf_mrtd(t, order, mrtd, err, sizeof(err)) < 0) {
		fprintf(stderr, "tdxctl measure: %s: %s\n", a->firmware, err);
		goto out;
	}
	double ms = (double)(now_ns() - t0) / 1e6;
	char hex[97];
	hex_encode(mrtd, 48, hex);
	if (a->json) {
		printf("{\"mrtd\":\"%s\",\"order\":\"%s\",\"pages_added\":%llu,"
		       "\"chunks_extended\":%llu,\"elapsed_ms\":%.3f,\"sections\":[",
		       hex, tdvf_order_name(order), (unsigned long long)t->pages_added,
		       (unsigned long long)t->chunks_extended, ms);
		for (uint32_t i = 0; i < t->n; i++) {
			const struct tdvf_section *s = &t->s[i];
			printf("%s{\"type\":\"%s\",\"gpa\":%llu,\"mem_size\":%llu,\"data_offset\":%u,"
			       "\"raw_size\":%u,\"mr_extend\":%s,\"page_aug\":%s}",
			       i ? "," : "", tdvf_section_name(s->type), (unsigned long long)s->gpa,
			       (unsigned long long)s->mem_size, s->data_offset, s->raw_size,
			       s->attributes & TDVF_ATTR_MR_EXTEND ? "true" : "false",
			       s->attributes & TDVF_ATTR_PAGE_AUG ? "true" : "false");
		}
		printf("]}\n");
	} else if (a->verbose) {
		for (uint32_t i = 0; i < t->n; i++) {
			const struct tdvf_section *s = &t->s[i];
			printf("section %u %-12s gpa 0x%09llx size 0x%08llx raw 0x%08x@0x%08x %s\n", i,
			       tdvf_section_name(s->type), (unsigned long long)s->gpa,
			       (unsigned long long)s->mem_size, s->raw_size, s->data_offset,
			       s->attributes & TDVF_ATTR_PAGE_AUG	? "PAGE.AUG (not measured)"
			       : s->attributes & TDVF_ATTR_MR_EXTEND ? "added, MR.EXTEND"
								      : "added");
		}
		printf("mrtd %s\norder %s (%s)\n", hex, tdvf_order_name(order),
		       order == TDVF_TWO_PASS
			       ? "every page of a section added, then extended: older QEMU"
			       : "each page added, then extended: upstream KVM");
	} else {
		printf("%s %s\n", hex, tdvf_order_name(order));
	}
	ret = 0;
out:
	free(t);
	coco_unmap_file(&f);
	return ret;
}

static int do_rtmr(const struct args *a)
{
	if (!a->event_log)
		return usage_error("rtmr needs --event-log FILE");
	struct coco_mapped_file f = {0};
	if (map("--event-log", a->event_log, &f) < 0)
		return 1;
	struct ccel_log l;
	char err[256], hex[97];
	int ret = 1;
	if (ccel_replay(f.data, f.size, &l, err, sizeof(err)) < 0) {
		fprintf(stderr, "tdxctl measure: %s: %s\n", a->event_log, err);
		goto out;
	}
	if (a->json)
		printf("{\"events\":[");
	for (size_t i = 0; i < l.n && !a->quiet; i++) {
		const struct ccel_event *e = &l.ev[i];
		hex_encode(e->digest, 48, hex);
		if (a->json)
			printf("%s{\"seq\":%u,\"offset\":%zu,\"mr_index\":%u,\"rtmr\":%d,\"type\":%u,"
			       "\"type_name\":\"%s\",\"digest\":\"%s\",\"data_size\":%zu}",
			       i ? "," : "", e->seq, e->offset, e->mr_index, e->rtmr, e->type,
			       ccel_event_type_name(e->type), hex, e->data_len);
		else if (e->rtmr >= 0)
			printf("#%-4u @0x%06zx RTMR%d %-32s %s\n", e->seq, e->offset, e->rtmr,
			       ccel_event_type_name(e->type), hex);
		else
			printf("#%-4u @0x%06zx ----- %-32s (not extended)\n", e->seq, e->offset,
			       ccel_event_type_name(e->type));
	}
	if (a->json)
		printf("],\"rtmr\":[");
	bool mismatch = false;
	for (unsigned i = 0; i < 4; i++) {
		hex_encode(l.rtmr[i], 48, hex);
		const char *verdict = "";
		long bad = -1;
		enum ccel_match m = CCEL_MATCH;
		if (a->have_rtmr[i]) {
			m = ccel_locate(&l, i, a->rtmr[i], &bad);
			mismatch |= m != CCEL_MATCH;
			verdict = m == CCEL_MATCH ? "match" : m == CCEL_PREFIX ? "prefix" : "differs";
		}
		if (a->json) {
			printf("%s{\"index\":%u,\"value\":\"%s\"", i ? "," : "", i, hex);
			if (a->have_rtmr[i])
				printf(",\"comparison\":\"%s\",\"first_divergent_seq\":%ld",
				       verdict, bad >= 0 ? (long)l.ev[bad].seq : -1L);
			printf("}");
			continue;
		}
		printf("RTMR%u %s%s%s\n", i, hex, a->have_rtmr[i] ? "  " : "", verdict);
		if (m == CCEL_PREFIX)
			printf("  RTMR%u equals the value before event #%u (@0x%zx): the log has events "
			       "the TD did not measure from there on\n",
			       i, l.ev[bad].seq, l.ev[bad].offset);
		else if (m == CCEL_NO_PREFIX && bad >= 0)
			printf("  no prefix of RTMR%u's events gives the expected value: a digest "
			       "differs at or after its first event #%u (@0x%zx), or the TD measured "
			       "events missing from the log\n",
			       i, l.ev[bad].seq, l.ev[bad].offset);
		else if (m == CCEL_NO_PREFIX)
			printf("  the log has no RTMR%u events but the expected value is not zero: "
			       "events are missing from the log\n", i);
	}
	if (a->json)
		printf("],\"events_bytes\":%zu,\"log_bytes\":%zu,\"match\":%s}\n", l.used, f.size,
		       mismatch ? "false" : "true");
	ret = mismatch ? 1 : 0;
out:
	ccel_log_free(&l);
	coco_unmap_file(&f);
	return ret;
}

static int do_mrseam(const struct args *a)
{
	if (!a->blob)
		return usage_error("mrseam needs --blob FILE");
	struct coco_mapped_file f = {0};
	if (map("--blob", a->blob, &f) < 0)
		return 1;
	struct tdx_blob b;
	uint8_t mrseam[48];
	char err[256], hex[97];
	int ret = 1;
	if (tdx_blob_parse(f.data, f.size, &b, err, sizeof(err)) < 0 ||
	    tdx_blob_verify(f.data, &b, mrseam, err, sizeof(err)) < 0) {
		fprintf(stderr, "tdxctl measure: %s: %s\n", a->blob, err);
		goto out;
	}
	hex_encode(mrseam, 48, hex);
	if (a->json)
		printf("{\"mrseam\":\"%s\",\"seamhash_matches\":true,\"blob_version\":%u,"
		       "\"module_bytes\":%zu,\"seamsvn\":%u,\"debug\":%s}\n",
		       hex, b.version, b.module_len, b.sig.seamsvn, b.sig.debug ? "true" : "false");
	else
		printf("%s\n", hex);
	ret = 0;
out:
	coco_unmap_file(&f);
	return ret;
}

int tdxctl_measure(struct cli *cli, int argc, char **argv)
{
	struct args a = {0};
	int r = parse_args(argc, argv, &a);
	if (r)
		return r == 1 ? 0 : r;
	a.json |= cli->json;
	if (strcmp(a.what, "mrtd") == 0)
		return do_mrtd(&a);
	if (strcmp(a.what, "rtmr") == 0)
		return do_rtmr(&a);
	if (strcmp(a.what, "mrseam") == 0)
		return do_mrseam(&a);
	return usage_error("unknown measurement '%s' (mrtd, rtmr, mrseam)", a.what);
}
