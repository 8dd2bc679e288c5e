/* Route handlers defined outside api/routes.c, one file per service area. */
#pragma once
#include "api/http.h"

bool api_snp_measurement_prepare(const struct api_env *env, struct api_request *rq,
				 struct api_response *rs, struct api_async *a);
void api_snp_measurement_render(const struct api_env *env, struct api_async *a,
				struct api_response *rs);

/* The SNP platform status object of GET /v1/snp/platform (also in config/commit replies). */
json_object *api_snp_platform_json(const struct svc_snp_platform *p);
void api_put_snp_config(const struct api_env *env, struct api_request *rq,
			struct api_response *rs);
void api_post_snp_commit(const struct api_env *env, struct api_request *rq,
			 struct api_response *rs);
