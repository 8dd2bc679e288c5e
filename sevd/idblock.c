/* snpctl id-block and snpctl key-digest: sign an SEV-SNP ID block for QEMU's sev-snp-guest
 * id-block=/id-auth= properties, and print the key digests attestation reports will carry.
 * Offline, like snpctl measure; what snpguest's "generate id-block"/"key-digest" and
 * sev-snp-measure's snp-create-id-block do. */
#include "coco/snp/idblock.h"

#include <ctype.h>
#include <getopt.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdarg.h>

#include "coco/util.h"
#include "sevd/snpctl.h"

const char snpctl_id_block_usage[] =
    "Usage: snpctl id-block --measurement DIGEST --id-key PEM [OPTIONS]\n"
    "\n"
    "Build the SEV-SNP ID block for a launch digest and sign it into the ID authentication\n"
    "information, for QEMU's -object sev-snp-guest,...,id-block=B64,id-auth=B64\n"
    "(and author-key-enabled=on when --author-key is given). The firmware then refuses to\n"
    "launch the guest unless its launch digest and policy match, and every attestation report\n"
    "carries FAMILY_ID, IMAGE_ID, GUEST_SVN and the SHA-384 digests of the ID and author keys.\n"
    "\n"
    "  --measurement DIGEST    expected launch digest: 96 hex digits (0x prefix allowed) or\n"
    "                          64 base64 characters; '-' reads the output of\n"
    "                          'snpctl measure --mode snp ...' (plain, -v, base64 or --json)\n"
    "                          from standard input\n"
    "  --id-key PEM            ECDSA P-384 private key signing the ID block (\"EC PRIVATE KEY\"\n"
    "                          or PKCS#8 \"PRIVATE KEY\", unencrypted)\n"
    "  --author-key PEM        optional ECDSA P-384 private key signing the ID key\n"
    "  --family-id HEX32       FAMILY_ID, 16 bytes as 32 hex digits (default zeros)\n"
    "  --family-id-base64 B64  FAMILY_ID as base64\n"
    "  --image-id HEX32        IMAGE_ID, 16 bytes as 32 hex digits (default zeros)\n"
    "  --image-id-base64 B64   IMAGE_ID as base64\n"
    "  --guest-svn N           GUEST_SVN, 32 bits (default 0)\n"
    "  --policy N              guest policy (default 0x30000); must equal the launch policy\n"
    "                          (QEMU sev-snp-guest policy=)\n"
    "  --out-id-block FILE     also write the ID block, base64 without newline (as snpguest)\n"
    "  --out-id-auth FILE      also write the ID auth info, base64 without newline\n"
    "  --json                  print a JSON object instead\n"
    "  -h, --help              show this help\n"
    "\n"
    "Prints id-block and id-auth (base64, as QEMU takes them), author-key-enabled, and the\n"
    "ID and author key digests (hex; what REPORT.ID_KEY_DIGEST and AUTHOR_KEY_DIGEST show).\n"
    "Example:\n"
    "  snpctl measure --mode snp --vcpus 4 --vcpu-type EPYC-v4 --ovmf OVMF.fd |\n"
    "      snpctl id-block --measurement - --id-key id.pem --author-key author.pem\n";

const char snpctl_key_digest_usage[] =
    "Usage: snpctl key-digest --key PEM [--json]\n"
    "\n"
    "Print the SHA-384 digest of an ECDSA P-384 key in the SEV-SNP public key format: what an\n"
    "attestation report shows as ID_KEY_DIGEST or AUTHOR_KEY_DIGEST for a guest launched with\n"
    "an ID block signed by (or with the ID key certified by) this key.\n"
    "\n"
    "  --key PEM    private (\"EC PRIVATE KEY\", \"PRIVATE KEY\") or public (\"PUBLIC KEY\")\n"
    "  --json       print {\"key_digest\": hex, \"key_digest_base64\": b64}\n"
    "  -h, --help   show this help\n";

#define MEASUREMENT_INPUT_MAX (64 * 1024)

__attribute__((format(printf, 2, 3))) static int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "snpctl %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nsee 'snpctl %s --help'\n", cmd);
	va_end(ap);
	return 2;
}

/* Read a whole stream of at most max bytes (pipes and /dev/fd included), NUL-terminated. */
static int read_stream(FILE *f, size_t max, char **ret, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > max)
				return -EFBIG;
			char *n = realloc(buf, cap * 2);
			if (!n)
				return -ENOMEM;
			buf = n;
			cap *= 2;
		}
		size_t n = fread(buf + len, 1, cap - 1 - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f))
				return -EIO;
			break;
		}
	}
	if (len > max)
		return -EFBIG;
	buf[len] = 0;
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static int read_path(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	return read_stream(f, max, ret, ret_len);
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* Exactly n bytes as standard padded base64. */
static int b64_decode_exact(const char *s, uint8_t *out, size_t n)
{
	size_t len = strlen(s), want = 4 * ((n + 2) / 3), pad = 0;
	if (len != want)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '=' && i >= len - 2) {
			pad++;
		} else if (pad || !(isalnum((unsigned char)c) || c == '+' || c == '/')) {
			return -EINVAL;
		}
	}
	uint8_t tmp[96];
	if (len / 4 * 3 > sizeof(tmp))
		return -EINVAL;
	int r = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)len);
	if (r < 0 || (size_t)r - pad != n)
		return -EINVAL;
	memcpy(out, tmp, n);
	return 0;
}

static int parse_id(const char *hex, const char *b64, uint8_t out[SNP_ID_SIZE], const char *name)
{
	if (hex && b64)
		return usage_error("id-block", "--%s and --%s-base64 are exclusive", name, name);
	if (hex && hex_decode_exact(hex, out, SNP_ID_SIZE) < 0)
		return usage_error("id-block", "--%s '%s' is not 32 hex digits (16 bytes)", name,
				   hex);
	if (b64 && b64_decode_exact(b64, out, SNP_ID_SIZE) < 0)
		return usage_error("id-block", "--%s-base64 '%s' is not 16 bytes of base64", name,
				   b64);
	return 0;
}

/* Decimal or 0x-prefixed hex, at most max. */
static int parse_num(const char *s, uint64_t max, uint64_t *ret)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (!s[2] || strlen(s + 2) > 16 || !is_hex(s + 2, strlen(s + 2)))
			return -EINVAL;
		uint64_t v = strtoull(s + 2, NULL, 16);
		if (v > max)
			return -ERANGE;
		*ret = v;
		return 0;
	}
	return parse_uint(s, max, ret);
}

/* A launch digest in hex or base64, or what 'snpctl measure' printed (from '-'). */
static int parse_measurement(const char *arg, uint8_t ld[SNP_LD_SIZE])
{
	const char *cmd = "id-block";
	_cleanup_free_ char *input = NULL;
	json_object *j = NULL;
	const char *v = arg;
	if (streq(arg, "-")) {
		size_t len;
		int r = read_stream(stdin, MEASUREMENT_INPUT_MAX, &input, &len);
		if (r < 0) {
			fprintf(stderr, "snpctl id-block: --measurement -: reading stdin: %s\n",
				strerror(-r));
			return 1;
		}
		if (strlen(input) != len)
			return usage_error(cmd, "--measurement -: standard input is not text");
		char *t = str_strip(input);
		if (t[0] == '{') {
			/* snpctl measure --json */
			json_object *d, *m;
			j = json_tokener_parse(t);
			if (!j || !json_object_object_get_ex(j, "digest", &d) ||
			    !json_object_is_type(d, json_type_string)) {
				json_object_put(j);
				return usage_error(cmd,
						   "--measurement -: JSON without a \"digest\"");
			}
			if (json_object_object_get_ex(j, "mode", &m) &&
			    json_object_is_type(m, json_type_string) &&
			    streq(json_object_get_string(m), "snp:ovmf-hash")) {
				json_object_put(j);
				return usage_error(cmd,
						   "--measurement -: an snp:ovmf-hash firmware "
						   "hash is not a launch digest");
			}
			v = json_object_get_string(d);
		} else {
			/* The last word: the digest alone, or after "Calculated ... measurement:".
			 */
			char *sp = strrchr(t, ' ');
			char *nl = strrchr(t, '\n');
			char *last = sp > nl ? sp : nl;
			v = last ? last + 1 : t;
		}
	}
	char shown[112];
	snprintf(shown, sizeof(shown), "%s%s", v, strlen(v) > 100 ? "..." : "");
	const char *h = v[0] == '0' && (v[1] == 'x' || v[1] == 'X') ? v + 2 : v;
	int ret = 0;
	if (hex_decode_exact(h, ld, SNP_LD_SIZE) == 0)
		ret = 0;
	else if (strlen(h) == 64 && is_hex(h, 64))
		ret = usage_error(cmd,
				  "--measurement '%s' is 32 bytes, an SEV or SEV-ES digest; an "
				  "ID block needs the 48-byte SEV-SNP launch digest",
				  shown);
	else if (b64_decode_exact(v, ld, SNP_LD_SIZE) == 0)
		ret = 0;
	else
		ret = usage_error(cmd,
				  "--measurement '%s' is not a 48-byte launch digest (96 hex "
				  "digits or 64 base64 characters)",
				  shown);
	json_object_put(j);
	return ret;
}

static EVP_PKEY *load_key(const char *cmd, const char *opt, const char *path, bool need_private)
{
	_cleanup_free_ char *pem = NULL;
	size_t len = 0;
	int r = read_path(path, SNP_ID_KEY_PEM_MAX, &pem, &len);
	if (r < 0) {
		fprintf(stderr, "snpctl %s: %s %s: %s\n", cmd, opt, path,
			r == -EFBIG ? "too large for a PEM key" : strerror(-r));
		return NULL;
	}
	EVP_PKEY *key = NULL;
	char err[256];
	if (snp_id_key_from_pem(pem, len, need_private, &key, err, sizeof(err)) < 0) {
		fprintf(stderr, "snpctl %s: %s %s: %s\n", cmd, opt, path, err);
		return NULL;
	}
	return key;
}

static int write_text(const char *path, const char *text)
{
	_cleanup_fclose_ FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	size_t n = strlen(text);
	if (fwrite(text, 1, n, f) != n)
		return -EIO;
	int r = fclose(TAKE_PTR(f));
	return r == 0 ? 0 : -errno;
}

static char *b64_encode(const uint8_t *in, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return out;
}

struct id_block_args {
	const char *measurement, *id_key, *author_key, *family_hex, *family_b64, *image_hex,
	    *image_b64, *svn, *policy, *out_block, *out_auth;
	bool json;
};

enum {
	OPT_MEASUREMENT = 256,
	OPT_ID_KEY,
	OPT_AUTHOR_KEY,
	OPT_FAMILY,
	OPT_FAMILY_B64,
	OPT_IMAGE,
	OPT_IMAGE_B64,
	OPT_SVN,
	OPT_POLICY,
	OPT_OUT_BLOCK,
	OPT_OUT_AUTH,
	OPT_JSON,
	OPT_KEY,
};

static int parse_id_block_args(int argc, char **argv, struct id_block_args *a)
{
	static const struct option opts[] = {
	    {"measurement", required_argument, NULL, OPT_MEASUREMENT},
	    {"id-key", required_argument, NULL, OPT_ID_KEY},
	    {"author-key", required_argument, NULL, OPT_AUTHOR_KEY},
	    {"family-id", required_argument, NULL, OPT_FAMILY},
	    {"family-id-base64", required_argument, NULL, OPT_FAMILY_B64},
	    {"image-id", required_argument, NULL, OPT_IMAGE},
	    {"image-id-base64", required_argument, NULL, OPT_IMAGE_B64},
	    {"guest-svn", required_argument, NULL, OPT_SVN},
	    {"policy", required_argument, NULL, OPT_POLICY},
	    {"out-id-block", required_argument, NULL, OPT_OUT_BLOCK},
	    {"out-id-auth", required_argument, NULL, OPT_OUT_AUTH},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	*a = (struct id_block_args){0};
	optind = 1;
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case OPT_MEASUREMENT: a->measurement = optarg; break;
		case OPT_ID_KEY: a->id_key = optarg; break;
		case OPT_AUTHOR_KEY: a->author_key = optarg; break;
		case OPT_FAMILY: a->family_hex = optarg; break;
		case OPT_FAMILY_B64: a->family_b64 = optarg; break;
		case OPT_IMAGE: a->image_hex = optarg; break;
		case OPT_IMAGE_B64: a->image_b64 = optarg; break;
		case OPT_SVN: a->svn = optarg; break;
		case OPT_POLICY: a->policy = optarg; break;
		case OPT_OUT_BLOCK: a->out_block = optarg; break;
		case OPT_OUT_AUTH: a->out_auth = optarg; break;
		case OPT_JSON: a->json = true; break;
		case 'h': fputs(snpctl_id_block_usage, stdout); return 1;
		default: return usage_error("id-block", "bad option");
		}
	}
	if (optind < argc)
		return usage_error("id-block", "unexpected argument '%s'", argv[optind]);
	if (!a->measurement)
		return usage_error("id-block", "--measurement DIGEST is required");
	if (!a->id_key)
		return usage_error("id-block", "--id-key PEM is required");
	return 0;
}

static int id_block_fields(const struct id_block_args *a, struct snp_id_block_fields *f)
{
	int r;
	*f = (struct snp_id_block_fields){.policy = SNP_ID_DEFAULT_POLICY};
	if ((r = parse_id(a->family_hex, a->family_b64, f->family_id, "family-id")) ||
	    (r = parse_id(a->image_hex, a->image_b64, f->image_id, "image-id")))
		return r;
	uint64_t v;
	if (a->svn) {
		if (parse_num(a->svn, UINT32_MAX, &v) < 0)
			return usage_error("id-block", "--guest-svn '%s' is not a 32-bit number",
					   a->svn);
		f->guest_svn = (uint32_t)v;
	}
	if (a->policy) {
		if (parse_num(a->policy, UINT64_MAX, &f->policy) < 0)
			return usage_error("id-block", "--policy '%s' is not a 64-bit number",
					   a->policy);
		/* SNP ABI guest policy: bit 17 is reserved and must be one, or the launch fails. */
		if (!(f->policy & (1ull << 17)))
			return usage_error("id-block",
					   "--policy 0x%llx lacks bit 17, which the "
					   "SNP ABI requires set (e.g. 0x30000)",
					   (unsigned long long)f->policy);
	}
	return parse_measurement(a->measurement, f->ld);
}

static void print_id_block(const struct id_block_args *a, const struct snp_id_block_fields *f,
			   const char *blk, const char *auth, const uint8_t id_digest[SNP_LD_SIZE],
			   const uint8_t *author_digest)
{
	char idd[2 * SNP_LD_SIZE + 1], ad[2 * SNP_LD_SIZE + 1], ld[2 * SNP_LD_SIZE + 1];
	char fam[2 * SNP_ID_SIZE + 1], img[2 * SNP_ID_SIZE + 1];
	hex_encode(id_digest, SNP_LD_SIZE, idd);
	if (author_digest)
		hex_encode(author_digest, SNP_LD_SIZE, ad);
	if (!a->json) {
		printf("id-block:           %s\n", blk);
		printf("id-auth:            %s\n", auth);
		printf("author-key-enabled: %s\n", author_digest ? "on" : "off");
		printf("policy:             0x%llx\n", (unsigned long long)f->policy);
		printf("id-key-digest:      %s\n", idd);
		printf("author-key-digest:  %s\n", author_digest ? ad : "none");
		return;
	}
	hex_encode(f->ld, SNP_LD_SIZE, ld);
	hex_encode(f->family_id, SNP_ID_SIZE, fam);
	hex_encode(f->image_id, SNP_ID_SIZE, img);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id_block", json_object_new_string(blk));
	json_object_object_add(o, "id_auth", json_object_new_string(auth));
	json_object_object_add(o, "author_key_enabled", json_object_new_boolean(!!author_digest));
	json_object_object_add(o, "id_key_digest", json_object_new_string(idd));
	json_object_object_add(o, "author_key_digest",
			       author_digest ? json_object_new_string(ad) : NULL);
	json_object_object_add(o, "measurement", json_object_new_string(ld));
	json_object_object_add(o, "family_id", json_object_new_string(fam));
	json_object_object_add(o, "image_id", json_object_new_string(img));
	json_object_object_add(o, "guest_svn", json_object_new_int64(f->guest_svn));
	json_object_object_add(o, "policy", json_object_new_uint64(f->policy));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int snpctl_id_block(struct cli *cli, int argc, char **argv)
{
	struct id_block_args a;
	int r = parse_id_block_args(argc, argv, &a);
	if (r)
		return r == 1 ? 0 : r;
	a.json |= cli->json;
	struct snp_id_block_fields f;
	if ((r = id_block_fields(&a, &f)) != 0)
		return r;
	int ret = 1;
	EVP_PKEY *id_key = NULL, *author_key = NULL;
	_cleanup_free_ char *blk_b64 = NULL, *auth_b64 = NULL;
	_cleanup_free_ uint8_t *auth = malloc(SNP_ID_AUTH_SIZE);
	if (!auth) {
		fprintf(stderr, "snpctl id-block: out of memory\n");
		return 1;
	}
	if (!(id_key = load_key("id-block", "--id-key", a.id_key, true)))
		goto out;
	if (a.author_key &&
	    !(author_key = load_key("id-block", "--author-key", a.author_key, true)))
		goto out;
	uint8_t blk[SNP_ID_BLOCK_SIZE], id_digest[SNP_LD_SIZE], author_digest[SNP_LD_SIZE];
	char err[256];
	snp_id_block_build(&f, blk);
	if (snp_id_auth_sign(blk, id_key, author_key, auth, err, sizeof(err)) < 0 ||
	    snp_id_key_digest(id_key, id_digest, err, sizeof(err)) < 0 ||
	    (author_key && snp_id_key_digest(author_key, author_digest, err, sizeof(err)) < 0)) {
		fprintf(stderr, "snpctl id-block: %s\n", err);
		goto out;
	}
	/* Check what was signed as the firmware will, before anyone launches with it. */
	if (snp_id_auth_verify(blk, sizeof(blk), auth, SNP_ID_AUTH_SIZE, author_key != NULL, NULL,
			       err, sizeof(err)) < 0) {
		fprintf(stderr, "snpctl id-block: self-check failed: %s\n", err);
		goto out;
	}
	blk_b64 = b64_encode(blk, sizeof(blk));
	auth_b64 = b64_encode(auth, SNP_ID_AUTH_SIZE);
	if (!blk_b64 || !auth_b64) {
		fprintf(stderr, "snpctl id-block: out of memory\n");
		goto out;
	}
	const char *outs[2][2] = {{a.out_block, blk_b64}, {a.out_auth, auth_b64}};
	for (size_t i = 0; i < 2; i++)
		if (outs[i][0] && (r = write_text(outs[i][0], outs[i][1])) < 0) {
			fprintf(stderr, "snpctl id-block: cannot write %s: %s\n", outs[i][0],
				strerror(-r));
			goto out;
		}
	print_id_block(&a, &f, blk_b64, auth_b64, id_digest, author_key ? author_digest : NULL);
	ret = 0;
out:
	EVP_PKEY_free(id_key);
	EVP_PKEY_free(author_key);
	return ret;
}

int snpctl_key_digest(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, OPT_KEY},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *path = NULL;
	bool json = cli->json;
	optind = 1;
	int o;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case OPT_KEY: path = optarg; break;
		case OPT_JSON: json = true; break;
		case 'h': fputs(snpctl_key_digest_usage, stdout); return 0;
		default: return usage_error("key-digest", "bad option");
		}
	}
	if (optind < argc)
		return usage_error("key-digest", "unexpected argument '%s'", argv[optind]);
	if (!path)
		return usage_error("key-digest", "--key PEM is required");
	EVP_PKEY *key = load_key("key-digest", "--key", path, false);
	if (!key)
		return 1;
	uint8_t digest[SNP_LD_SIZE];
	char err[256], hex[2 * SNP_LD_SIZE + 1], b64[4 * SNP_LD_SIZE / 3 + 1];
	int r = snp_id_key_digest(key, digest, err, sizeof(err));
	EVP_PKEY_free(key);
	if (r < 0) {
		fprintf(stderr, "snpctl key-digest: %s\n", err);
		return 1;
	}
	hex_encode(digest, SNP_LD_SIZE, hex);
	EVP_EncodeBlock((unsigned char *)b64, digest, SNP_LD_SIZE);
	if (json)
		printf("{\"key_digest\":\"%s\",\"key_digest_base64\":\"%s\"}\n", hex, b64);
	else
		printf("%s\n", hex);
	return 0;
}
