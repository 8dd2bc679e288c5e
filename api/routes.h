/* Route handlers defined outside api/routes.c, one file per service area. */
#pragma once
#include "api/http.h"

bool api_snp_measurement_prepare(const struct api_env *env, struct api_request *rq,
				 struct api_response *rs, struct api_async *a);
void api_snp_measurement_render(const struct api_env *env, struct api_async *a,
				struct api_response *rs);
