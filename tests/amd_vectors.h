/* The real AMD vectors of tests/data/snp (see its README): AMD's ARK/ASK/ASVK per product under
 * amd/<product>/ and three real reports with their VCEKs under reports/<product>/. Shared by
 * the Check suites that use them (test_snp_amdcert, test_attest). */
#pragma once
#include <check.h>
#include <limits.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <time.h>

#include "coco/snp/amdcert.h"
#include "coco/util.h"

#define AMD SOURCE_DIR "/tests/data/snp/amd"
#define REPORTS SOURCE_DIR "/tests/data/snp/reports"

/* 2026-01-01T00:00:00Z: inside the validity of every real certificate here (the Genoa and
 * Turin VCEKs date from 2025-07/08, valid 7 years). */
static const time_t NOW = 1767225600;

static const char *const lower[] = {
    [SNP_PRODUCT_MILAN] = "milan", [SNP_PRODUCT_GENOA] = "genoa", [SNP_PRODUCT_TURIN] = "turin"};

static inline uint8_t *slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	ck_assert_msg(read_file_max(path, 1 << 20, &buf, len) == 0, "read %s", path);
	return (uint8_t *)buf;
}

/* <dir>/<product>/<file>, DER or PEM. */
static inline X509 *load(const char *dir, enum snp_product p, const char *file)
{
	char path[PATH_MAX], err[256] = "";
	snprintf(path, sizeof(path), "%s/%s/%s", dir, lower[p], file);
	size_t len;
	_cleanup_free_ uint8_t *b = slurp(path, &len);
	X509 *c = NULL;
	ck_assert_msg(amd_cert_parse(b, len, &c, err, sizeof(err)) == 0, "%s: %s", path, err);
	return c;
}
