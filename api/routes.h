/* Route handlers defined outside api/routes.c, one file per service area. */
#pragma once
#include "api/http.h"

void api_post_snp_measurement(const struct api_env *env, struct api_request *rq,
			      struct api_response *rs);
