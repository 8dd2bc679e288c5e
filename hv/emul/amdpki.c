/* hv/emul/amdpki.c: the emulated AMD key infrastructure: its state directory, the derivation
 * of VCEK/VLEK keys, the certificate cache and the VLEK hashstick (un)wrapping. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sys/stat.h>

#include "coco/endian.h"
#include "coco/util.h"
#include "hv/emul/amdpki_int.h"

#define SECRET_SIZE 48	 /* VCEK/VLEK derivation secret */
#define WRAP_KEY_SIZE 32 /* AES-256 */
#define CACHE_MAX 64	 /* certificates kept in memory */
#define REVOKED_MAX 1024
#define FILE_MAX (64 * 1024)

/* WRAPPED_VLEK_HASHSTICK, 432 bytes: SEV-SNP Firmware ABI (56860) 1.54+, SNP_VLEK_LOAD (the
 * revision Linux's psp-sev.h cites; chapter 8.30 in 1.55+), offsets as virtee/sev decodes
 * them: IV (AES-256-GCM, 96 bits) 0x000, reserved 0x00C-0x00F, VLEK_WRAPPED 0x010 (384),
 * TCB_VERSION 0x190, reserved 0x198-0x19F, VLEK_AUTH_TAG 0x1A0 (16), over the wrapped VLEK
 * and the TCB_VERSION. Here the 384 wrapped bytes are the VLEK's P-384 private scalar
 * (big-endian, 48 bytes) followed by zeros, and the AAD is TCB_VERSION (little-endian). */
#define HS_IV_OFF 0x000
#define HS_IV_SIZE 12
#define HS_RSVD1_OFF 0x00C
#define HS_RSVD1_SIZE 4
#define HS_WRAPPED_OFF 0x010
#define HS_WRAPPED_SIZE 384
#define HS_TCB_OFF 0x190
#define HS_RSVD2_OFF 0x198
#define HS_RSVD2_SIZE 8
#define HS_TAG_OFF 0x1A0
#define HS_TAG_SIZE 16
_Static_assert(HS_TAG_OFF + HS_TAG_SIZE == EMUL_VLEK_HASHSTICK_SIZE, "hashstick layout");
_Static_assert(HS_WRAPPED_OFF + HS_WRAPPED_SIZE == HS_TCB_OFF, "hashstick layout");

struct cache_entry {
	bool used, vlek;
	uint8_t hwid[64];
	uint64_t tcb;
	EVP_PKEY *key;
	X509 *cert;
};

struct emul_amd_pki {
	enum snp_product product;
	EVP_PKEY *ark_key, *ask_key, *asvk_key;
	X509 *ark, *ask, *asvk;
	time_t not_before; /* the ARK's: VCEKs/VLEKs start there */
	uint8_t secret[SECRET_SIZE];
	uint8_t wrap_key[WRAP_KEY_SIZE];
	pthread_mutex_t lock; /* cache, revoked, crl_number */
	struct cache_entry cache[CACHE_MAX];
	size_t cache_next;
	struct emul_amd_revoked revoked[REVOKED_MAX];
	size_t n_revoked;
	uint64_t crl_number;
};

static void pkey_freep(EVP_PKEY **k) { EVP_PKEY_free(*k); }
static void x509_freep(X509 **x) { X509_free(*x); }
static void bio_freep(BIO **b) { BIO_free(*b); }
static void bn_clear_freep(BIGNUM **b) { BN_clear_free(*b); }

enum snp_product emul_amd_pki_product(const struct emul_amd_pki *pki) { return pki->product; }

size_t emul_amd_hwid_len(enum snp_product product)
{
	/* KDS hwid: the whole 64-byte CHIP_ID, Turin only its first 8 bytes (the real Turin
	 * VCEK's hwID extension is 8 bytes). */
	switch (product) {
	case SNP_PRODUCT_MILAN:
	case SNP_PRODUCT_GENOA:
		return 64;
	case SNP_PRODUCT_TURIN:
		return 8;
	default:
		return 0;
	}
}

X509 *emul_amd_pki_ark(struct emul_amd_pki *pki) { return pki->ark; }
X509 *emul_amd_pki_ask(struct emul_amd_pki *pki) { return pki->ask; }
X509 *emul_amd_pki_asvk(struct emul_amd_pki *pki) { return pki->asvk; }

/* ---- state directory ---- */

static const char *const ca_names[] = {"ark", "ask", "asvk"};

static int write_file_at(int dfd, const char *name, const void *data, size_t len, mode_t mode)
{
	char tmp[64];
	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	_cleanup_close_ int fd =
		openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	const uint8_t *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		return -errno;
	if (renameat(dfd, tmp, dfd, name) < 0)
		return -errno;
	return 0;
}

/* Reads name under dfd; keys must not be readable by group or others. */
static int read_file_at(int dfd, const char *name, bool private, uint8_t **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (private && (st.st_mode & 077))
		return -EPERM;
	if (st.st_size <= 0 || st.st_size > FILE_MAX)
		return -EINVAL;
	size_t len = (size_t)st.st_size, off = 0;
	_cleanup_free_ uint8_t *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	while (off < len) {
		ssize_t n = read(fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (size_t)n;
	}
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static int write_pem_at(int dfd, const char *name, X509 *cert, EVP_PKEY *key)
{
	_cleanup_(bio_freep) BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return -ENOMEM;
	int ok = cert ? PEM_write_bio_X509(b, cert)
		      : PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
	if (!ok)
		return -ENOMEM;
	char *data;
	long len = BIO_get_mem_data(b, &data);
	int r = write_file_at(dfd, name, data, (size_t)len, cert ? 0644 : 0600);
	/* The key text is in the BIO's buffer: wipe it before freeing. */
	OPENSSL_cleanse(data, (size_t)len);
	return r;
}

static int read_pem_at(int dfd, const char *name, X509 **ret_cert, EVP_PKEY **ret_key)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	int r = read_file_at(dfd, name, ret_key != NULL, &buf, &len);
	if (r < 0)
		return r;
	BIO *b = BIO_new_mem_buf(buf, (int)len);
	if (!b)
		return -ENOMEM;
	if (ret_cert)
		*ret_cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
	else
		*ret_key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	OPENSSL_cleanse(buf, len);
	if (ret_cert ? !*ret_cert : !*ret_key)
		return -EINVAL;
	return 0;
}

struct rsa_job {
	pthread_t tid;
	bool started;
	EVP_PKEY *key;
};

static void *rsa_job_run(void *arg)
{
	struct rsa_job *j = arg;
	j->key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	return NULL;
}

/* ARK, ASK, ASVK keys: RSA-4096 generation dominates creation (1-3 s each), so the three run
 * on their own threads. */
static int generate_ca_keys(EVP_PKEY *ret[3])
{
	struct rsa_job jobs[3] = {0};
	for (int i = 1; i < 3; i++)
		jobs[i].started = pthread_create(&jobs[i].tid, NULL, rsa_job_run, &jobs[i]) == 0;
	rsa_job_run(&jobs[0]);
	for (int i = 1; i < 3; i++)
		if (jobs[i].started)
			pthread_join(jobs[i].tid, NULL);
		else
			rsa_job_run(&jobs[i]);
	if (!jobs[0].key || !jobs[1].key || !jobs[2].key) {
		for (int i = 0; i < 3; i++)
			EVP_PKEY_free(jobs[i].key);
		return -EIO;
	}
	for (int i = 0; i < 3; i++)
		ret[i] = jobs[i].key;
	return 0;
}

static int remove_tree_flat(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	return rmdir(path) < 0 ? -errno : 0;
}

/* Generate a whole set in <dir>/.emul-amd-<p>.XXXXXX and rename it to final. */
static int create_set(const char *dir, const char *final, enum snp_product p)
{
	char stage[PATH_MAX];
	if ((size_t)snprintf(stage, sizeof(stage), "%s/.emul-amd-%s.XXXXXX", dir,
			     emul_amd_product_lower(p)) >= sizeof(stage))
		return -ENAMETOOLONG;
	if (!mkdtemp(stage))
		return -errno;
	EVP_PKEY *keys[3] = {0};
	X509 *certs[3] = {0};
	uint8_t secrets[SECRET_SIZE + WRAP_KEY_SIZE];
	int r = generate_ca_keys(keys);
	time_t nb = time(NULL);
	if (r == 0)
		r = emul_amd_ca_cert(p, EMUL_AMD_ARK, keys[0], NULL, NULL, nb, &certs[0]);
	for (int i = 1; r == 0 && i < 3; i++)
		r = emul_amd_ca_cert(p, i, keys[i], certs[0], keys[0], nb, &certs[i]);
	if (r == 0 && RAND_priv_bytes(secrets, sizeof(secrets)) != 1)
		r = -EIO;
	_cleanup_close_ int dfd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && dfd < 0)
		r = -errno;
	for (int i = 0; r == 0 && i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "%s.key", ca_names[i]);
		r = write_pem_at(dfd, name, NULL, keys[i]);
		snprintf(name, sizeof(name), "%s.pem", ca_names[i]);
		if (r == 0)
			r = write_pem_at(dfd, name, certs[i], NULL);
	}
	if (r == 0)
		r = write_file_at(dfd, "derive.secret", secrets, SECRET_SIZE, 0600);
	if (r == 0)
		r = write_file_at(dfd, "vlek-wrap.key", secrets + SECRET_SIZE, WRAP_KEY_SIZE, 0600);
	if (r == 0 && fsync(dfd) < 0)
		r = -errno;
	OPENSSL_cleanse(secrets, sizeof(secrets));
	for (int i = 0; i < 3; i++) {
		EVP_PKEY_free(keys[i]);
		X509_free(certs[i]);
	}
	if (r == 0 && rename(stage, final) < 0) {
		/* Lost a race with another creator: theirs stands, ours goes. */
		r = (errno == EEXIST || errno == ENOTEMPTY) ? 0 : -errno;
		remove_tree_flat(stage);
		return r;
	}
	if (r < 0) {
		remove_tree_flat(stage);
		return r;
	}
	_cleanup_close_ int pfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd >= 0)
		fsync(pfd);
	return 0;
}

static int load_set(struct emul_amd_pki *pki, const char *path)
{
	_cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	X509 **certs[3] = {&pki->ark, &pki->ask, &pki->asvk};
	EVP_PKEY **keys[3] = {&pki->ark_key, &pki->ask_key, &pki->asvk_key};
	int r;
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "%s.pem", ca_names[i]);
		if ((r = read_pem_at(dfd, name, certs[i], NULL)) < 0)
			return r;
		snprintf(name, sizeof(name), "%s.key", ca_names[i]);
		if ((r = read_pem_at(dfd, name, NULL, keys[i])) < 0)
			return r;
		if (EVP_PKEY_eq(X509_get0_pubkey(*certs[i]), *keys[i]) != 1)
			return -EINVAL;
	}
	/* The set hangs together: ARK-<Product> self-signed, ASK and ASVK signed by it. */
	char cn[32];
	X509_NAME *want = NULL;
	snprintf(cn, sizeof(cn), "ARK-%s", snp_product_name(pki->product));
	if ((r = emul_amd_name(cn, &want)) < 0)
		return r;
	bool ok = X509_NAME_cmp(want, X509_get_subject_name(pki->ark)) == 0;
	X509_NAME_free(want);
	if (!ok || X509_verify(pki->ark, pki->ark_key) != 1 ||
	    X509_verify(pki->ask, pki->ark_key) != 1 || X509_verify(pki->asvk, pki->ark_key) != 1)
		return -EINVAL;
	uint8_t *buf = NULL;
	size_t len;
	if ((r = read_file_at(dfd, "derive.secret", true, &buf, &len)) < 0)
		return r;
	if (len == SECRET_SIZE)
		memcpy(pki->secret, buf, SECRET_SIZE);
	OPENSSL_clear_free(buf, len);
	if (len != SECRET_SIZE)
		return -EINVAL;
	if ((r = read_file_at(dfd, "vlek-wrap.key", true, &buf, &len)) < 0)
		return r;
	if (len == WRAP_KEY_SIZE)
		memcpy(pki->wrap_key, buf, WRAP_KEY_SIZE);
	OPENSSL_clear_free(buf, len);
	if (len != WRAP_KEY_SIZE)
		return -EINVAL;
	struct tm tm;
	if (ASN1_TIME_to_tm(X509_get0_notBefore(pki->ark), &tm) != 1)
		return -EINVAL;
	pki->not_before = timegm(&tm);
	return 0;
}

int emul_amd_pki_open(const char *dir, enum snp_product product, struct emul_amd_pki **ret)
{
	const char *lower = emul_amd_product_lower(product);
	if (!dir || !lower)
		return -EINVAL;
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/emul-amd-%s", dir, lower) >= sizeof(path))
		return -ENAMETOOLONG;
	struct emul_amd_pki *pki = calloc(1, sizeof(*pki));
	if (!pki)
		return -ENOMEM;
	pki->product = product;
	pthread_mutex_init(&pki->lock, NULL);
	int r = 0;
	struct stat st;
	if (stat(path, &st) < 0)
		r = errno == ENOENT ? create_set(dir, path, product) : -errno;
	if (r == 0)
		r = load_set(pki, path);
	if (r < 0) {
		emul_amd_pki_free(pki);
		return r;
	}
	*ret = pki;
	return 0;
}

void emul_amd_pki_free(struct emul_amd_pki *pki)
{
	if (!pki)
		return;
	for (size_t i = 0; i < CACHE_MAX; i++) {
		EVP_PKEY_free(pki->cache[i].key);
		X509_free(pki->cache[i].cert);
	}
	EVP_PKEY_free(pki->ark_key);
	EVP_PKEY_free(pki->ask_key);
	EVP_PKEY_free(pki->asvk_key);
	X509_free(pki->ark);
	X509_free(pki->ask);
	X509_free(pki->asvk);
	pthread_mutex_destroy(&pki->lock);
	OPENSSL_cleanse(pki, sizeof(*pki));
	free(pki);
}

/* ---- VCEK / VLEK ---- */

/* d = HKDF-SHA-384(secret, salt "cocod emulated AMD PKI", info label || product || msg), 64
 * bytes, reduced to [1, n-1] (n: the P-384 order; 128 extra bits make the bias negligible). */
static int derive_key(struct emul_amd_pki *pki, const char *label, const uint8_t *msg,
		      size_t msg_len, EVP_PKEY **ret)
{
	static const char salt[] = "cocod emulated AMD PKI";
	uint8_t info[4 + 1 + 64 + 8], okm[64];
	size_t label_len = strlen(label);
	if (label_len + 1 + msg_len > sizeof(info))
		return -EINVAL;
	memcpy(info, label, label_len);
	info[label_len] = (uint8_t)pki->product;
	memcpy(info + label_len + 1, msg, msg_len);
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_KDF_free(kdf);
	if (!kctx)
		return -ENOMEM;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA384", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, pki->secret, SECRET_SIZE),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
						  sizeof(salt) - 1),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info,
						  label_len + 1 + msg_len),
		OSSL_PARAM_construct_end(),
	};
	int ok = EVP_KDF_derive(kctx, okm, sizeof(okm), params) == 1;
	EVP_KDF_CTX_free(kctx);
	if (!ok)
		return -EIO;
	_cleanup_(bn_clear_freep) BIGNUM *d = BN_secure_new();
	BIGNUM *n1 = BN_new();
	BN_CTX *bn = BN_CTX_new();
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_secp384r1);
	ok = d && n1 && bn && g && BN_copy(n1, EC_GROUP_get0_order(g)) && BN_sub_word(n1, 1) &&
	     BN_bin2bn(okm, sizeof(okm), d) && BN_nnmod(d, d, n1, bn) && BN_add_word(d, 1);
	OPENSSL_cleanse(okm, sizeof(okm));
	BN_free(n1);
	BN_CTX_free(bn);
	EC_GROUP_free(g);
	if (!ok)
		return -ENOMEM;
	return emul_amd_ec_key_from_scalar(d, ret);
}

/* The key and certificate of a VCEK (hwid) or VLEK (vlek), from the cache or made now. */
static int endorsement_key(struct emul_amd_pki *pki, bool vlek, const uint8_t *chip_id,
			   uint64_t tcb, EVP_PKEY **ret_key, X509 **ret_cert)
{
	struct snp_tcb t;
	int r = snp_tcb_decode(pki->product, tcb, &t);
	if (r < 0)
		return r;
	size_t hwid_len = vlek ? 0 : emul_amd_hwid_len(pki->product);
	uint8_t hwid[64] = {0};
	if (!vlek)
		memcpy(hwid, chip_id, hwid_len);

	pthread_mutex_lock(&pki->lock);
	for (size_t i = 0; i < CACHE_MAX; i++) {
		struct cache_entry *e = &pki->cache[i];
		if (e->used && e->vlek == vlek && e->tcb == tcb && !memcmp(e->hwid, hwid, 64)) {
			if (ret_key)
				EVP_PKEY_up_ref(e->key), *ret_key = e->key;
			if (ret_cert)
				X509_up_ref(e->cert), *ret_cert = e->cert;
			pthread_mutex_unlock(&pki->lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&pki->lock);

	/* The key depends on what KDS can name: hwid (Turin: 8 bytes) and TCB. */
	uint8_t msg[64 + 8];
	memcpy(msg, hwid, hwid_len);
	put_le64(msg + hwid_len, tcb);
	_cleanup_(pkey_freep) EVP_PKEY *key = NULL;
	_cleanup_(x509_freep) X509 *cert = NULL;
	if ((r = derive_key(pki, vlek ? "VLEK" : "VCEK", msg, hwid_len + 8, &key)) < 0)
		return r;
	r = emul_amd_ek_cert(pki->product, vlek, hwid, hwid_len, tcb, key,
			     vlek ? pki->asvk : pki->ask, vlek ? pki->asvk_key : pki->ask_key,
			     pki->not_before, &cert);
	if (r < 0)
		return r;

	pthread_mutex_lock(&pki->lock);
	struct cache_entry *e = &pki->cache[pki->cache_next];
	pki->cache_next = (pki->cache_next + 1) % CACHE_MAX;
	EVP_PKEY_free(e->key);
	X509_free(e->cert);
	*e = (struct cache_entry){.used = true, .vlek = vlek, .tcb = tcb, .key = key, .cert = cert};
	memcpy(e->hwid, hwid, 64);
	EVP_PKEY_up_ref(key);
	X509_up_ref(cert);
	pthread_mutex_unlock(&pki->lock);
	if (ret_key)
		*ret_key = TAKE_PTR(key);
	if (ret_cert)
		*ret_cert = TAKE_PTR(cert);
	return 0;
}

int emul_amd_pki_vcek(struct emul_amd_pki *pki, const uint8_t chip_id[64], uint64_t tcb,
		      EVP_PKEY **ret_key, X509 **ret_cert)
{
	return endorsement_key(pki, false, chip_id, tcb, ret_key, ret_cert);
}

int emul_amd_pki_vlek(struct emul_amd_pki *pki, uint64_t tcb, EVP_PKEY **ret_key,
		      X509 **ret_cert)
{
	return endorsement_key(pki, true, NULL, tcb, ret_key, ret_cert);
}

/* ---- VLEK hashstick ---- */

static int gcm(bool enc, const uint8_t key[WRAP_KEY_SIZE], const uint8_t iv[HS_IV_SIZE],
	       const uint8_t aad[8], const uint8_t *in, uint8_t *out, uint8_t tag[HS_TAG_SIZE])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, r = -EIO;
	if (!c)
		return -ENOMEM;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, HS_IV_SIZE, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, iv, enc) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, aad, 8) != 1 ||
	    EVP_CipherUpdate(c, out, &n, in, HS_WRAPPED_SIZE) != 1 || n != HS_WRAPPED_SIZE)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, HS_TAG_SIZE, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &n) != 1) {
		r = enc ? -EIO : -EBADMSG;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, HS_TAG_SIZE, tag) != 1)
		goto out;
	r = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return r;
}

int emul_amd_pki_wrap_vlek(struct emul_amd_pki *pki, uint64_t tcb,
			   uint8_t ret[EMUL_VLEK_HASHSTICK_SIZE])
{
	_cleanup_(pkey_freep) EVP_PKEY *key = NULL;
	int r = emul_amd_pki_vlek(pki, tcb, &key, NULL);
	if (r < 0)
		return r;
	_cleanup_(bn_clear_freep) BIGNUM *d = NULL;
	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1)
		return -EIO;
	uint8_t plain[HS_WRAPPED_SIZE] = {0}, hs[EMUL_VLEK_HASHSTICK_SIZE] = {0};
	if (BN_bn2binpad(d, plain, 48) != 48 || RAND_bytes(hs + HS_IV_OFF, HS_IV_SIZE) != 1) {
		OPENSSL_cleanse(plain, sizeof(plain));
		return -EIO;
	}
	put_le64(hs + HS_TCB_OFF, tcb);
	r = gcm(true, pki->wrap_key, hs + HS_IV_OFF, hs + HS_TCB_OFF, plain, hs + HS_WRAPPED_OFF,
		hs + HS_TAG_OFF);
	OPENSSL_cleanse(plain, sizeof(plain));
	if (r < 0)
		return r;
	memcpy(ret, hs, sizeof(hs));
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

int emul_amd_pki_unwrap_vlek(struct emul_amd_pki *pki,
			     const uint8_t hashstick[EMUL_VLEK_HASHSTICK_SIZE], uint64_t *ret_tcb,
			     EVP_PKEY **ret_key)
{
	/* Layout first: reserved areas zero, a TCB_VERSION valid for this product. */
	if (!all_zero(hashstick + HS_RSVD1_OFF, HS_RSVD1_SIZE) ||
	    !all_zero(hashstick + HS_RSVD2_OFF, HS_RSVD2_SIZE))
		return -EINVAL;
	uint64_t tcb = 0;
	for (int i = 7; i >= 0; i--)
		tcb = tcb << 8 | hashstick[HS_TCB_OFF + i];
	struct snp_tcb t;
	if (snp_tcb_decode(pki->product, tcb, &t) < 0)
		return -EINVAL;
	uint8_t plain[HS_WRAPPED_SIZE], tag[HS_TAG_SIZE];
	memcpy(tag, hashstick + HS_TAG_OFF, HS_TAG_SIZE);
	int r = gcm(false, pki->wrap_key, hashstick + HS_IV_OFF, hashstick + HS_TCB_OFF,
		    hashstick + HS_WRAPPED_OFF, plain, tag);
	if (r < 0) {
		OPENSSL_cleanse(plain, sizeof(plain));
		return r;
	}
	/* Authentic, so ours: still, a scalar outside [1, n-1] or padding is not a key. */
	_cleanup_(bn_clear_freep) BIGNUM *d = BN_secure_new();
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_secp384r1);
	bool ok = d && g && BN_bin2bn(plain, 48, d);
	bool valid = ok && all_zero(plain + 48, sizeof(plain) - 48) && !BN_is_zero(d) &&
		     BN_cmp(d, EC_GROUP_get0_order(g)) < 0;
	EC_GROUP_free(g);
	OPENSSL_cleanse(plain, sizeof(plain));
	if (!ok)
		return -ENOMEM;
	if (!valid)
		return -EBADMSG;
	EVP_PKEY *key = NULL;
	if (ret_key && (r = emul_amd_ec_key_from_scalar(d, &key)) < 0)
		return r;
	if (ret_tcb)
		*ret_tcb = tcb;
	if (ret_key)
		*ret_key = key;
	return 0;
}

/* ---- revocation ---- */

int emul_amd_pki_revoke(struct emul_amd_pki *pki, uint64_t serial)
{
	int r = 0;
	pthread_mutex_lock(&pki->lock);
	bool dup = false;
	for (size_t i = 0; i < pki->n_revoked; i++)
		dup |= pki->revoked[i].serial == serial;
	if (!dup && pki->n_revoked == REVOKED_MAX)
		r = -ENOSPC;
	else if (!dup)
		pki->revoked[pki->n_revoked++] =
			(struct emul_amd_revoked){.serial = serial, .when = time(NULL)};
	pthread_mutex_unlock(&pki->lock);
	return r;
}

int emul_amd_pki_crl(struct emul_amd_pki *pki, bool vlek, X509_CRL **ret)
{
	(void)vlek; /* one ARK, one list: both CRLs carry every serial it revoked */
	pthread_mutex_lock(&pki->lock);
	size_t n = pki->n_revoked;
	struct emul_amd_revoked *copy = malloc((n ? n : 1) * sizeof(*copy));
	if (copy)
		memcpy(copy, pki->revoked, n * sizeof(*copy));
	/* crlNumber grows across restarts too: never below the clock. */
	uint64_t now = (uint64_t)time(NULL);
	pki->crl_number = pki->crl_number + 1 > now ? pki->crl_number + 1 : now;
	uint64_t number = pki->crl_number;
	pthread_mutex_unlock(&pki->lock);
	if (!copy)
		return -ENOMEM;
	int r = emul_amd_build_crl(pki->ark, pki->ark_key, copy, n, number, time(NULL), ret);
	free(copy);
	return r;
}
