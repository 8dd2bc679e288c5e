#include "api/auth.h"

#include <strings.h>

#include "coco/util.h"

int api_auth_new(const struct coco_config *c, struct api_auth **ret, char *err, size_t errlen)
{
	struct api_auth *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->unix_default_role = c->unix_default_role;
	if (c->n_unix_roles) {
		a->unix_roles = malloc(c->n_unix_roles * sizeof(*a->unix_roles));
		if (!a->unix_roles)
			goto oom;
		memcpy(a->unix_roles, c->unix_roles, c->n_unix_roles * sizeof(*a->unix_roles));
		a->n_unix_roles = c->n_unix_roles;
	}
	if (c->n_subject_roles) {
		a->subject_roles = calloc(c->n_subject_roles, sizeof(*a->subject_roles));
		if (!a->subject_roles)
			goto oom;
		for (size_t i = 0; i < c->n_subject_roles; i++) {
			a->subject_roles[i].role = c->subject_roles[i].role;
			a->subject_roles[i].subject = strdup(c->subject_roles[i].subject);
			a->n_subject_roles++;
			if (!a->subject_roles[i].subject)
				goto oom;
		}
	}
	if (c->token_file) {
		int r = coco_tokens_load(c->token_file, &a->tokens, err, errlen);
		if (r < 0) {
			api_auth_free(a);
			return r;
		}
	}
	*ret = a;
	return 0;
oom:
	api_auth_free(a);
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

void api_auth_free(struct api_auth *a)
{
	if (!a)
		return;
	free(a->unix_roles);
	for (size_t i = 0; i < a->n_subject_roles; i++)
		free(a->subject_roles[i].subject);
	free(a->subject_roles);
	coco_tokens_clear(&a->tokens);
	free(a);
}

enum coco_role api_auth_unix_role(const struct api_auth *a, uid_t uid, const gid_t *gids,
				  size_t n_gids)
{
	for (size_t i = 0; i < a->n_unix_roles; i++)
		if (!a->unix_roles[i].is_group && a->unix_roles[i].id == uid)
			return a->unix_roles[i].role;
	enum coco_role best = COCO_ROLE_NONE;
	bool group_match = false;
	for (size_t i = 0; i < a->n_unix_roles; i++) {
		if (!a->unix_roles[i].is_group)
			continue;
		for (size_t g = 0; g < n_gids; g++)
			if (gids[g] == a->unix_roles[i].id && a->unix_roles[i].role > best) {
				best = a->unix_roles[i].role;
				group_match = true;
			}
	}
	if (group_match)
		return best;
	if (uid == 0)
		return COCO_ROLE_ADMIN;
	return a->unix_default_role;
}

enum coco_role api_auth_subject_role(const struct api_auth *a, const char *dn)
{
	for (size_t i = 0; i < a->n_subject_roles; i++)
		if (streq(a->subject_roles[i].subject, dn))
			return a->subject_roles[i].role;
	return COCO_ROLE_NONE;
}

const struct coco_token *api_auth_bearer(const struct api_auth *a, const char *authorization)
{
	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	const char *t = authorization + 7;
	while (*t == ' ')
		t++;
	size_t n = strcspn(t, " \t");
	if (n == 0 || n > 512 || t[n] != '\0')
		return NULL;
	return coco_tokens_find(&a->tokens, t, n);
}
