/* Helpers the benchmark drivers share: medians and removing a temporary tree. */
#pragma once
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The median of v[0..n) (n >= 1); sorts v. */
static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline int bench_rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

/* rm -rf dir (no symlinks followed). */
static inline void bench_rm_tree(const char *dir)
{
	nftw(dir, bench_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
