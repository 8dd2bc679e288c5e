#include "api/metrics.h"

#include "coco/util.h"

const double api_metrics_bucket_bounds[API_METRICS_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5, 10,
};

int api_metrics_init(struct api_metrics *m, size_t n_routes)
{
	m->routes = calloc(n_routes, sizeof(*m->routes));
	if (!m->routes)
		return -ENOMEM;
	m->n = n_routes;
	return 0;
}

void api_metrics_free(struct api_metrics *m)
{
	free(m->routes);
	m->routes = NULL;
	m->n = 0;
}

void api_metrics_label(struct api_metrics *m, size_t idx, const char *method, const char *route)
{
	if (idx < m->n) {
		m->routes[idx].method = method;
		m->routes[idx].route = route;
	}
}

void api_metrics_observe(struct api_metrics *m, size_t idx, unsigned code, double seconds)
{
	if (idx >= m->n)
		return;
	struct api_route_metrics *r = &m->routes[idx];
	size_t i;
	for (i = 0; i < r->n_codes && r->codes[i].code != code; i++)
		;
	if (i == r->n_codes && r->n_codes < API_METRICS_MAX_CODES)
		r->codes[r->n_codes++].code = code;
	if (i < r->n_codes)
		r->codes[i].n++;
	for (size_t b = 0; b < API_METRICS_BUCKETS; b++)
		if (seconds <= api_metrics_bucket_bounds[b]) {
			r->buckets[b]++;
			break;
		}
	r->count++;
	r->sum += seconds;
}

int api_metrics_render(const struct api_metrics *m, const struct api_metrics_info *info,
		       char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "# HELP cocod_build_info Build of the running cocod.\n"
		   "# TYPE cocod_build_info gauge\n"
		   "cocod_build_info{version=\"%s\",commit=\"%s\"} 1\n",
		info->version, info->commit);
	fprintf(f, "# HELP cocod_platform_info Platform cocod runs on (emulated or native).\n"
		   "# TYPE cocod_platform_info gauge\n"
		   "cocod_platform_info{platform=\"%s\"} 1\n",
		info->platform);
	fprintf(f, "# HELP cocod_start_time_seconds Unix time the daemon started.\n"
		   "# TYPE cocod_start_time_seconds gauge\n"
		   "cocod_start_time_seconds %lld\n",
		(long long)info->started);
	fprintf(f, "# HELP cocod_http_connections Open API connections.\n"
		   "# TYPE cocod_http_connections gauge\n"
		   "cocod_http_connections %u\n",
		info->connections);
	fprintf(f, "# HELP cocod_http_auth_failures_total Requests refused with 401.\n"
		   "# TYPE cocod_http_auth_failures_total counter\n"
		   "cocod_http_auth_failures_total %llu\n",
		(unsigned long long)info->auth_failures);
	fprintf(f, "# HELP cocod_http_requests_total API requests by route, method and status.\n"
		   "# TYPE cocod_http_requests_total counter\n");
	for (size_t i = 0; i < m->n; i++) {
		const struct api_route_metrics *r = &m->routes[i];
		for (size_t c = 0; c < r->n_codes; c++)
			fprintf(f,
				"cocod_http_requests_total{method=\"%s\",route=\"%s\",code=\"%u\"} "
				"%llu\n",
				r->method, r->route, r->codes[c].code,
				(unsigned long long)r->codes[c].n);
	}
	fprintf(f, "# HELP cocod_http_request_duration_seconds API request latency by route.\n"
		   "# TYPE cocod_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i < m->n; i++) {
		const struct api_route_metrics *r = &m->routes[i];
		if (!r->count)
			continue;
		uint64_t cum = 0;
		for (size_t b = 0; b < API_METRICS_BUCKETS; b++) {
			cum += r->buckets[b];
			fprintf(f,
				"cocod_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
				"le=\"%g\"} %llu\n",
				r->method, r->route, api_metrics_bucket_bounds[b],
				(unsigned long long)cum);
		}
		fprintf(f,
			"cocod_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
			"le=\"+Inf\"} %llu\n"
			"cocod_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.9f\n"
			"cocod_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
			r->method, r->route, (unsigned long long)r->count, r->method, r->route, r->sum,
			r->method, r->route, (unsigned long long)r->count);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}
