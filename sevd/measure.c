/* snpctl measure: the expected launch digest of an SEV/SEV-ES/SEV-SNP guest, offline.
 * Accepts virtee/sev-snp-measure's flags and prints the digest the same way, so scripts can
 * switch over unchanged. */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "coco/filehash.h"
#include "coco/snp/measure.h"
#include "coco/util.h"
#include "sevd/snpctl.h"

const char snpctl_measure_usage[] =
	"Usage: snpctl measure --mode MODE --ovmf FILE [OPTIONS]\n"
	"\n"
	"Compute the launch digest a guest will report, from its firmware, kernel, initrd,\n"
	"command line and vCPUs. Flags and output match virtee/sev-snp-measure.\n"
	"\n"
	"  --mode MODE             snp | seves | sev | snp:ovmf-hash | snp:svsm\n"
	"  --ovmf FILE             firmware image (OVMF.fd, or OVMF_CODE for snp:svsm)\n"
	"  --vcpus N               number of vCPUs (all modes but sev and snp:ovmf-hash)\n"
	"  --vcpu-type NAME        QEMU CPU model: EPYC, EPYC-v1..v4, EPYC-IBPB, EPYC-Rome[-v1..v3],\n"
	"                          EPYC-Milan[-v1,-v2], EPYC-Genoa[-v1], EPYC-Turin\n"
	"  --vcpu-sig SIG          CPUID 1 EAX signature (e.g. 0xa00f11)\n"
	"  --vcpu-family N --vcpu-model N --vcpu-stepping N\n"
	"                          signature from family/model/stepping (wins over the above)\n"
	"  --vmm-type TYPE         qemu (default), ec2 or gce\n"
	"  --kernel FILE           kernel for direct boot (measured through the hashes table)\n"
	"  --initrd FILE           initrd (needs --kernel)\n"
	"  --append CMDLINE        kernel command line (needs --kernel)\n"
	"  --guest-features N      SEV_FEATURES of the VMSAs (default 0x1: SNPActive)\n"
	"  --snp-ovmf-hash HEX     start from this firmware hash (96 hex digits) instead of\n"
	"                          measuring the firmware pages (snp mode)\n"
	"  --svsm FILE             COCONUT-SVSM image (snp:svsm)\n"
	"  --vars-size N | --vars-file FILE\n"
	"                          size of the OVMF vars region (snp:svsm)\n"
	"  --output-format FMT     hex (default) or base64\n"
	"  --dump-vmsa             write each measured VMSA to vmsaN.bin in the current directory\n"
	"  -v, --verbose           print 'Calculated <MODE> guest measurement: <digest>'\n"
	"  --json                  print a JSON object with the digest in hex and base64, timing\n"
	"  -h, --help              show this help\n"
	"\n"
	"Refused, with a reason, where other tools silently measure wrong: SNP modes on firmware\n"
	"without SEV metadata, a kernel on firmware without a kernel-hashes section, vCPUs > 1\n"
	"without an AP reset vector, non-page-aligned images and sections.\n";

enum {
	OPT_MODE = 256, OPT_OVMF, OPT_VCPUS, OPT_VCPU_TYPE, OPT_VCPU_SIG, OPT_VCPU_FAMILY,
	OPT_VCPU_MODEL, OPT_VCPU_STEPPING, OPT_VMM_TYPE, OPT_KERNEL, OPT_INITRD, OPT_APPEND,
	OPT_FEATURES, OPT_OVMF_HASH, OPT_SVSM, OPT_VARS_SIZE, OPT_VARS_FILE, OPT_FORMAT,
	OPT_DUMP_VMSA, OPT_JSON, OPT_THREADS,
};

struct measure_args {
	const char *mode, *ovmf, *vcpu_type, *kernel, *initrd, *append, *ovmf_hash, *svsm,
		*vars_file, *format;
	bool have_vcpus, have_sig, have_family, have_model, have_stepping, have_vars_size;
	uint64_t vcpus, sig, family, model, stepping, features, vars_size, threads;
	const char *vmm_type;
	bool dump_vmsa, verbose, json;
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "snpctl measure: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nsee 'snpctl measure --help'\n");
	va_end(ap);
	return 2;
}

/* Integers as sev-snp-measure's int(x, 0) takes them: decimal, 0x, 0o, 0b. */
static int parse_int0(const char *s, uint64_t *ret)
{
	int base = 10;
	const char *p = s;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16, p += 2;
	else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
		base = 8, p += 2;
	else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
		base = 2, p += 2;
	if (!*p)
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, base);
	if (errno || *end || *p == '-' || *p == '+')
		return -EINVAL;
	*ret = v;
	return 0;
}

static void dump_vmsa(void *userdata, unsigned index, const uint8_t page[SNP_PAGE_SIZE])
{
	int *failed = userdata;
	char name[32];
	snprintf(name, sizeof(name), "vmsa%u.bin", index);
	FILE *f = fopen(name, "wb");
	if (!f || fwrite(page, 1, SNP_PAGE_SIZE, f) != SNP_PAGE_SIZE) {
		fprintf(stderr, "snpctl measure: cannot write %s: %s\n", name, strerror(errno));
		*failed = 1;
	}
	if (f)
		fclose(f);
}

static int parse_args(int argc, char **argv, struct measure_args *a)
{
	static const struct option opts[] = {
		{"mode", required_argument, NULL, OPT_MODE},
		{"ovmf", required_argument, NULL, OPT_OVMF},
		{"vcpus", required_argument, NULL, OPT_VCPUS},
		{"vcpu-type", required_argument, NULL, OPT_VCPU_TYPE},
		{"vcpu-sig", required_argument, NULL, OPT_VCPU_SIG},
		{"vcpu-family", required_argument, NULL, OPT_VCPU_FAMILY},
		{"vcpu-model", required_argument, NULL, OPT_VCPU_MODEL},
		{"vcpu-stepping", required_argument, NULL, OPT_VCPU_STEPPING},
		{"vmm-type", required_argument, NULL, OPT_VMM_TYPE},
		{"kernel", required_argument, NULL, OPT_KERNEL},
		{"initrd", required_argument, NULL, OPT_INITRD},
		{"append", required_argument, NULL, OPT_APPEND},
		{"guest-features", required_argument, NULL, OPT_FEATURES},
		{"snp-ovmf-hash", required_argument, NULL, OPT_OVMF_HASH},
		{"svsm", required_argument, NULL, OPT_SVSM},
		{"vars-size", required_argument, NULL, OPT_VARS_SIZE},
		{"vars-file", required_argument, NULL, OPT_VARS_FILE},
		{"output-format", required_argument, NULL, OPT_FORMAT},
		{"dump-vmsa", no_argument, NULL, OPT_DUMP_VMSA},
		{"json", no_argument, NULL, OPT_JSON},
		{"threads", required_argument, NULL, OPT_THREADS},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	*a = (struct measure_args){.features = 0x1, .vmm_type = "qemu", .format = "hex"};
	optind = 1;
	opterr = 0; /* getopt would name the program "measure" */
	int o;
	while ((o = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		uint64_t *num = NULL;
		bool *have = NULL;
		switch (o) {
		case OPT_MODE: a->mode = optarg; break;
		case OPT_OVMF: a->ovmf = optarg; break;
		case OPT_VCPU_TYPE: a->vcpu_type = optarg; break;
		case OPT_VMM_TYPE: a->vmm_type = optarg; break;
		case OPT_KERNEL: a->kernel = optarg; break;
		case OPT_INITRD: a->initrd = optarg; break;
		case OPT_APPEND: a->append = optarg; break;
		case OPT_OVMF_HASH: a->ovmf_hash = optarg; break;
		case OPT_SVSM: a->svsm = optarg; break;
		case OPT_VARS_FILE: a->vars_file = optarg; break;
		case OPT_FORMAT: a->format = optarg; break;
		case OPT_DUMP_VMSA: a->dump_vmsa = true; break;
		case OPT_JSON: a->json = true; break;
		case 'v': a->verbose = true; break;
		case 'h': fputs(snpctl_measure_usage, stdout); return 1;
		case OPT_VCPUS: num = &a->vcpus, have = &a->have_vcpus; break;
		case OPT_VCPU_SIG: num = &a->sig, have = &a->have_sig; break;
		case OPT_VCPU_FAMILY: num = &a->family, have = &a->have_family; break;
		case OPT_VCPU_MODEL: num = &a->model, have = &a->have_model; break;
		case OPT_VCPU_STEPPING: num = &a->stepping, have = &a->have_stepping; break;
		case OPT_VARS_SIZE: num = &a->vars_size, have = &a->have_vars_size; break;
		case OPT_FEATURES: num = &a->features; break;
		case OPT_THREADS: num = &a->threads; break;
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
		if (num && parse_int0(optarg, num) < 0)
			return usage_error("'%s' is not a non-negative integer", optarg);
		if (have)
			*have = true;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return 0;
}

/* Check flags as sev-snp-measure does (its messages), then what it lets through. */
static int validate(struct measure_args *a, struct snp_measure_input *in, uint8_t seed[48])
{
	if (!a->mode)
		return usage_error("--mode is required (snp, seves, sev, snp:ovmf-hash, snp:svsm)");
	if (snp_mode_from_name(a->mode, &in->mode) < 0)
		return usage_error("unknown mode '%s' (snp, seves, sev, snp:ovmf-hash, snp:svsm)",
				   a->mode);
	if (!a->ovmf)
		return usage_error("--ovmf FILE is required");
	if (strcmp(a->format, "hex") != 0 && strcmp(a->format, "base64") != 0)
		return usage_error("unknown output format '%s' (hex, base64)", a->format);
	if (in->mode == SNP_MODE_OVMF_HASH)
		return 0;
	if (a->initrd && !a->kernel)
		return usage_error("--kernel required when using --initrd");
	if (a->append && *a->append && !a->kernel)
		return usage_error("--kernel required when using --append");
	if (in->mode != SNP_MODE_SEV && !a->have_vcpus)
		return usage_error("missing --vcpus N in guest mode '%s'", a->mode);
	if (a->vcpus > 4096)
		return usage_error("--vcpus: at most 4096");
	if (snp_vmm_type_from_name(a->vmm_type, &in->vmm) < 0)
		return usage_error("unknown VMM type '%s' (qemu, ec2, gce)", a->vmm_type);
	uint32_t type_sig;
	if (a->vcpu_type && snp_vcpu_type_sig(a->vcpu_type, &type_sig) < 0)
		return usage_error("unknown --vcpu-type '%s' (see --help)", a->vcpu_type);
	if (a->have_family || a->have_model || a->have_stepping) {
		if (!(a->have_family && a->have_model && a->have_stepping))
			return usage_error("--vcpu-family, --vcpu-model and --vcpu-stepping go together");
		if (a->family > 0x10e || a->model > 0xff || a->stepping > 0xf)
			return usage_error("family/model/stepping out of range");
		in->vcpu_sig = snp_vcpu_sig((unsigned)a->family, (unsigned)a->model,
					    (unsigned)a->stepping);
	} else if (a->have_sig) {
		if (a->sig > UINT32_MAX)
			return usage_error("--vcpu-sig 0x%llx is not a 32-bit CPUID signature",
					   (unsigned long long)a->sig);
		in->vcpu_sig = a->sig;
	} else if (a->vcpu_type) {
		uint32_t sig;
		if (snp_vcpu_type_sig(a->vcpu_type, &sig) < 0)
			return usage_error("unknown --vcpu-type '%s' (see --help)", a->vcpu_type);
		in->vcpu_sig = sig;
	} else if (in->mode != SNP_MODE_SEV && in->vmm == SNP_VMM_QEMU) {
		return usage_error("missing --vcpu-type or --vcpu-sig or --vcpu-family in guest mode '%s'",
				   a->mode);
	}
	if (in->mode == SNP_MODE_SVSM) {
		if (a->have_vars_size && a->vars_file)
			return usage_error("--vars-size and --vars-file are exclusive");
		if (a->vars_file) {
			struct stat st;
			if (stat(a->vars_file, &st) < 0)
				return usage_error("cannot stat --vars-file %s", a->vars_file);
			a->vars_size = (uint64_t)st.st_size;
		} else if (!a->have_vars_size) {
			return usage_error("snp:svsm mode requires --vars-size or --vars-file");
		}
		in->vars_size = a->vars_size;
	}
	if (a->dump_vmsa && in->mode == SNP_MODE_SEV)
		return usage_error("--dump-vmsa is not available in mode sev");
	if (a->ovmf_hash) {
		if (in->mode != SNP_MODE_SNP)
			return usage_error("--snp-ovmf-hash applies to mode snp only");
		if (strlen(a->ovmf_hash) != 96)
			return usage_error("--snp-ovmf-hash '%s' is not 96 hex digits", a->ovmf_hash);
		for (size_t i = 0; i < 48; i++)
			if (sscanf(a->ovmf_hash + 2 * i, "%2hhx", &seed[i]) != 1 ||
			    !isxdigit((unsigned char)a->ovmf_hash[2 * i]) ||
			    !isxdigit((unsigned char)a->ovmf_hash[2 * i + 1]))
				return usage_error("--snp-ovmf-hash '%s' is not hex", a->ovmf_hash);
		in->seed = seed;
	}
	in->vcpus = (unsigned)a->vcpus;
	in->guest_features = in->mode == SNP_MODE_SEVES ? 0 : a->features;
	return 0;
}

static const char *verbose_name(enum snp_mode m)
{
	switch (m) {
	case SNP_MODE_SEV: return "SEV";
	case SNP_MODE_SEVES: return "SEV_ES";
	case SNP_MODE_SVSM: return "SEV_SNP_SVSM";
	default: return "SEV_SNP";
	}
}

/* The inputs are mapped: one truncated while it is hashed faults (SIGBUS). */
static void input_shrank(int sig)
{
	static const char msg[] = "snpctl measure: an input file shrank while it was read\n";
	ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)w;
	(void)sig;
	_exit(1);
}

int snpctl_measure(struct cli *cli, int argc, char **argv)
{
	struct measure_args a;
	int r = parse_args(argc, argv, &a);
	if (r)
		return r < 0 ? 2 : r == 1 ? 0 : r;
	a.json |= cli->json;
	struct snp_measure_input in = {0};
	uint8_t seed[48];
	if ((r = validate(&a, &in, seed)) != 0)
		return r;
	uint64_t t0 = now_ns();
	/* One SHA-256 stream cannot be split, so the largest file is the critical path: it gets a
	 * thread (a core) of its own, and this thread faults its pages in ahead of it, then hashes
	 * the other file and the firmware pages. Files are mapped, not read: no copy. */
	struct coco_hash_thread kt = {0}, it = {0};
	struct coco_mapped_file km = {0}, im = {0}, fw = {0}, svsm = {0};
	uint8_t *page_hashes = NULL;
	int ret = 1;
	bool kernel = a.kernel && in.mode != SNP_MODE_OVMF_HASH;
	bool initrd_threaded = false;
	signal(SIGBUS, input_shrank);
	if (kernel) {
		if ((r = coco_map_file_lazy(a.kernel, SIZE_MAX, &km)) < 0) {
			fprintf(stderr, "snpctl measure: --kernel %s: %s\n", a.kernel, strerror(-r));
			goto out;
		}
		if (a.initrd && (r = coco_map_file_lazy(a.initrd, SIZE_MAX, &im)) < 0) {
			fprintf(stderr, "snpctl measure: --initrd %s: %s\n", a.initrd, strerror(-r));
			goto out;
		}
	}
	if (kernel) {
		initrd_threaded = a.initrd && im.size >= km.size;
		coco_sha256_mapped_start(initrd_threaded ? &it : &kt, initrd_threaded ? &im : &km);
		coco_map_populate(initrd_threaded ? &im : &km);
	}
	if ((r = coco_map_file(a.ovmf, 1ull << 32, &fw)) < 0) {
		fprintf(stderr, "snpctl measure: --ovmf %s: %s\n", a.ovmf, strerror(-r));
		goto out;
	}
	if (in.mode == SNP_MODE_SVSM) {
		if (!a.svsm) {
			fprintf(stderr, "snpctl measure: snp:svsm mode requires --svsm FILE\n"
					"see 'snpctl measure --help'\n");
			ret = 2;
			goto out;
		}
		if ((r = coco_map_file(a.svsm, 1ull << 32, &svsm)) < 0) {
			fprintf(stderr, "snpctl measure: --svsm %s: %s\n", a.svsm, strerror(-r));
			goto out;
		}
	}
	in.ovmf = fw.data;
	in.ovmf_size = fw.size;
	in.svsm = svsm.data;
	in.svsm_size = svsm.size;
	in.threads = (unsigned)a.threads;
	int dump_failed = 0;
	if (a.dump_vmsa) {
		in.vmsa_cb = dump_vmsa;
		in.vmsa_userdata = &dump_failed;
	}
	if (kernel && a.initrd) { /* the file without a thread of its own, here */
		if (initrd_threaded)
			kt.result = coco_sha256_mapped(km.data, km.size, kt.digest);
		else
			it.result = coco_sha256_mapped(im.data, im.size, it.digest);
	}
	/* Firmware pages next, still while the long stream runs. */
	if (in.mode != SNP_MODE_SEV && in.mode != SNP_MODE_SEVES && !in.seed &&
	    fw.size % SNP_PAGE_SIZE == 0 && (page_hashes = malloc(fw.size / SNP_PAGE_SIZE * 48 + 1))) {
		snp_hash_pages(fw.data, fw.size / SNP_PAGE_SIZE, page_hashes,
			       kernel ? 1 : (unsigned)a.threads);
		in.ovmf_page_hashes = page_hashes;
	}
	/* And the chain over them (what the daemon caches per firmware), so that only the
	 * metadata, kernel-hashes and VMSA pages are left for after the join. */
	uint8_t prefix[SNP_LD_SIZE];
	if ((in.mode == SNP_MODE_SNP || in.mode == SNP_MODE_SVSM) && !in.seed &&
	    snp_measure_prefix(&in, prefix, NULL, 0) == 0)
		in.seed = prefix; /* else: the full measurement below says what is wrong */
	if (kernel) {
		/* Waiting for the threaded file: unmap what is done with meanwhile. */
		if (a.initrd)
			coco_unmap_file(initrd_threaded ? &km : &im);
		if ((r = kt.started ? coco_sha256_join_releasing(&kt, &km) : kt.result) < 0) {
			fprintf(stderr, "snpctl measure: --kernel %s: %s\n", a.kernel, strerror(-r));
			goto out;
		}
		memcpy(in.hashes.kernel, kt.digest, 32);
		if (a.initrd) {
			if ((r = it.started ? coco_sha256_join_releasing(&it, &im) : it.result) < 0) {
				fprintf(stderr, "snpctl measure: --initrd %s: %s\n", a.initrd,
					strerror(-r));
				goto out;
			}
			memcpy(in.hashes.initrd, it.digest, 32);
		} else {
			SHA256((const uint8_t *)"", 0, in.hashes.initrd);
		}
		snp_hash_cmdline(a.append, in.hashes.cmdline);
		in.kernel = true;
	}
	struct snp_measure_result res;
	char err[512];
	if ((r = snp_measure(&in, &res, err, sizeof(err))) < 0) {
		fprintf(stderr, "snpctl measure: refused: %s\n", err);
		goto out;
	}
	if (dump_failed)
		goto out;
	double ms = (double)(now_ns() - t0) / 1e6;
	char hex[97], b64[80];
	hex_encode(res.digest, res.digest_len, hex);
	EVP_EncodeBlock((unsigned char *)b64, res.digest, (int)res.digest_len);
	/* snp:ovmf-hash is always hex, as in sev-snp-measure. */
	const char *out_s = strcmp(a.format, "base64") == 0 && in.mode != SNP_MODE_OVMF_HASH ? b64 : hex;
	if (a.json) {
		printf("{\"mode\":\"%s\",\"digest\":\"%s\",\"digest_base64\":\"%s\","
		       "\"firmware_gpa\":%llu,\"pages\":%u,\"vcpus\":%u,\"vmm_type\":\"%s\","
		       "\"elapsed_ms\":%.3f}\n",
		       snp_mode_name(in.mode), hex, b64, (unsigned long long)res.firmware_gpa,
		       res.pages, in.vcpus, snp_vmm_type_name(in.vmm), ms);
	} else if (a.verbose && in.mode != SNP_MODE_OVMF_HASH) {
		printf("Calculated %s guest measurement: %s\n", verbose_name(in.mode), out_s);
	} else {
		printf("%s\n", out_s);
	}
	ret = 0;
out:
	if (kt.started)
		coco_sha256_file_join(&kt);
	if (it.started)
		coco_sha256_file_join(&it);
	free(page_hashes);
	coco_unmap_file(&fw);
	coco_unmap_file(&svsm);
	coco_unmap_file(&km);
	coco_unmap_file(&im);
	return ret;
}
