/* mapping_file.json (coco/tdx/mapping.h). */
#include "coco/tdx/mapping.h"

#include <json-c/json.h>

#include "coco/json_strict.h"
#include "coco/util.h"

static int version_field(json_object *o, const char *key, size_t idx, struct tdx_version *ret,
			 char *err, size_t errlen)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return set_error(err, errlen, -EINVAL, "tdx_module_releases[%zu]: no \"%s\"", idx,
				 key);
	if (!json_object_is_type(v, json_type_string) ||
	    tdx_version_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v),
			      ret) < 0)
		return set_error(err, errlen, -EINVAL,
				 "tdx_module_releases[%zu].%s: not a version \"x.y.zz\"", idx, key);
	return 0;
}

static int feature0(json_object *o, size_t idx, struct tdx_mapping_release *rel, char *err,
		    size_t errlen)
{
	json_object *v;
	if (!json_object_object_get_ex(o, "tdx_feature0", &v))
		return 0;
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	size_t n = s ? strlen(s) : 0;
	bool ok = s && n >= 3 && n <= 18 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	uint64_t x = 0;
	for (size_t i = 2; ok && i < n; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
						    : 16u;
		ok = d < 16;
		x = x << 4 | d;
	}
	if (!ok)
		return set_error(err, errlen, -EINVAL,
				 "tdx_module_releases[%zu].tdx_feature0: not \"0x\" + 1-16 hex digits",
				 idx);
	rel->has_feature0 = true;
	rel->tdx_feature0 = x;
	return 0;
}

static int release(json_object *o, size_t idx, struct tdx_mapping_release *rel, char *err,
		   size_t errlen)
{
	int r;
	memset(rel, 0, sizeof(*rel));
	if (!json_object_is_type(o, json_type_object))
		return set_error(err, errlen, -EINVAL, "tdx_module_releases[%zu]: not an object",
				 idx);
	if ((r = version_field(o, "version", idx, &rel->version, err, errlen)) < 0 ||
	    (r = version_field(o, "min_module_version_for_td_preserving", idx,
			       &rel->min_td_preserving, err, errlen)) < 0)
		return r;
	if (tdx_version_cmp(&rel->min_td_preserving, &rel->version) > 0)
		return set_error(err, errlen, -EINVAL,
				 "tdx_module_releases[%zu]: min_module_version_for_td_preserving "
				 "is newer than the release",
				 idx);
	json_object *l;
	if (!json_object_object_get_ex(o, "min_seamldr_versions", &l) ||
	    !json_object_is_type(l, json_type_array) || json_object_array_length(l) == 0 ||
	    json_object_array_length(l) > TDX_MAPPING_MAX_SEAMLDR)
		return set_error(err, errlen, -EINVAL,
				 "tdx_module_releases[%zu].min_seamldr_versions: not a list of 1-%d "
				 "versions",
				 idx, TDX_MAPPING_MAX_SEAMLDR);
	for (size_t i = 0; i < json_object_array_length(l); i++) {
		json_object *v = json_object_array_get_idx(l, i);
		struct tdx_version *sv = &rel->seamldr[i];
		if (!json_object_is_type(v, json_type_string) ||
		    tdx_version_parse(json_object_get_string(v),
				      (size_t)json_object_get_string_len(v), sv) < 0)
			return set_error(err, errlen, -EINVAL,
					 "tdx_module_releases[%zu].min_seamldr_versions[%zu]: not a "
					 "version \"x.y.zz\"",
					 idx, i);
		for (size_t j = 0; j < i; j++)
			if (tdx_version_same_minor(&rel->seamldr[j], sv))
				return set_error(err, errlen, -EINVAL,
						 "tdx_module_releases[%zu].min_seamldr_versions: "
						 "%u.%u listed twice",
						 idx, sv->major, sv->minor);
		rel->n_seamldr = i + 1;
	}
	return feature0(o, idx, rel, err, errlen);
}

int tdx_mapping_parse(const char *buf, size_t len, struct tdx_mapping *ret, char *err,
		      size_t errlen)
{
	if (len > TDX_MAPPING_MAX_SIZE)
		return set_error(err, errlen, -EINVAL, "mapping file over %u bytes",
				 TDX_MAPPING_MAX_SIZE);
	struct coco_json_error je = {0};
	json_object *root = coco_json_parse_strict(buf, len, &je);
	if (!root)
		return set_error(err, errlen, -EINVAL, "not JSON at byte %zu: %s", je.offset,
				 je.what ? je.what : "invalid");
	int r = 0;
	struct tdx_mapping_release *rel = NULL;
	json_object *list;
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "tdx_module_releases", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		r = set_error(err, errlen, -EINVAL, "no \"tdx_module_releases\" list");
		goto out;
	}
	size_t n = json_object_array_length(list);
	if (n == 0 || n > TDX_MAPPING_MAX_RELEASES) {
		r = set_error(err, errlen, -EINVAL, "tdx_module_releases: %zu entries (1-%d)", n,
			      TDX_MAPPING_MAX_RELEASES);
		goto out;
	}
	if (!(rel = calloc(n, sizeof(*rel)))) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = release(json_object_array_get_idx(list, i), i, &rel[i], err, errlen)) < 0)
			goto out;
		for (size_t j = 0; j < i; j++)
			if (tdx_version_cmp(&rel[j].version, &rel[i].version) == 0) {
				char v[TDX_VERSION_STRLEN];
				tdx_version_format(&rel[i].version, v);
				r = set_error(err, errlen, -EINVAL,
					      "tdx_module_releases: version %s listed twice", v);
				goto out;
			}
	}
	ret->releases = TAKE_PTR(rel);
	ret->n = n;
out:
	free(rel);
	json_object_put(root);
	return r;
}

void tdx_mapping_clear(struct tdx_mapping *m)
{
	if (!m)
		return;
	free(m->releases);
	m->releases = NULL;
	m->n = 0;
}

const struct tdx_mapping_release *tdx_mapping_find(const struct tdx_mapping *m,
						   const struct tdx_version *v)
{
	for (size_t i = 0; i < m->n; i++)
		if (tdx_version_cmp(&m->releases[i].version, v) == 0)
			return &m->releases[i];
	return NULL;
}

const struct tdx_version *tdx_mapping_seamldr_match(const struct tdx_mapping_release *r,
						    const struct tdx_version *seamldr)
{
	for (size_t i = 0; i < r->n_seamldr; i++)
		if (tdx_version_same_minor(&r->seamldr[i], seamldr) &&
		    r->seamldr[i].update <= seamldr->update)
			return &r->seamldr[i];
	return NULL;
}
