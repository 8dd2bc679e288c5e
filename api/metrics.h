/* Prometheus metrics for the REST API: per-route request counts by status and a latency
 * histogram. Single-threaded: only the daemon's loop thread touches it. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define API_METRICS_BUCKETS 12
#define API_METRICS_MAX_CODES 16

struct api_route_metrics {
	const char *method;
	const char *route;
	struct {
		unsigned code;
		uint64_t n;
	} codes[API_METRICS_MAX_CODES];
	size_t n_codes;
	uint64_t buckets[API_METRICS_BUCKETS]; /* cumulative at render time, per-bucket here */
	uint64_t count;
	double sum;
};

struct api_metrics {
	struct api_route_metrics *routes;
	size_t n;
};

struct api_metrics_info {
	const char *version, *commit, *platform;
	int64_t started;
	unsigned connections;
	uint64_t auth_failures;
};

extern const double api_metrics_bucket_bounds[API_METRICS_BUCKETS];

int api_metrics_init(struct api_metrics *m, size_t n_routes);
void api_metrics_free(struct api_metrics *m);
void api_metrics_label(struct api_metrics *m, size_t idx, const char *method, const char *route);
void api_metrics_observe(struct api_metrics *m, size_t idx, unsigned code, double seconds);
/* Render the text exposition format (version 0.0.4) into a malloc'd buffer. */
int api_metrics_render(const struct api_metrics *m, const struct api_metrics_info *info,
		       char **ret, size_t *ret_len);
