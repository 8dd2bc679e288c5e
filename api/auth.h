/* Who is asking, and in which role. Unix socket peers are identified by SO_PEERCRED (uid) and
 * SO_PEERGROUPS; TCP peers by a bearer token or a verified client certificate's subject. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

#include "coco/config.h"
#include "coco/tokens.h"

struct api_auth {
	enum coco_role unix_default_role;
	struct coco_unix_role *unix_roles;
	size_t n_unix_roles;
	struct coco_subject_role *subject_roles;
	size_t n_subject_roles;
	struct coco_tokens tokens;
};

/* Build from a config (copies what it needs) and load its token file. */
int api_auth_new(const struct coco_config *c, struct api_auth **ret, char *err, size_t errlen);
void api_auth_free(struct api_auth *a);

/* Role of a Unix peer: an explicit uid entry first, then a group entry, then root = admin,
 * then the default role. */
enum coco_role api_auth_unix_role(const struct api_auth *a, uid_t uid, const gid_t *gids,
				  size_t n_gids);
/* Role mapped to a client certificate subject DN, COCO_ROLE_NONE if unmapped. */
enum coco_role api_auth_subject_role(const struct api_auth *a, const char *dn);
/* Parse "Bearer <token>"; returns the token entry or NULL (also for a malformed header). */
const struct coco_token *api_auth_bearer(const struct api_auth *a, const char *authorization);
