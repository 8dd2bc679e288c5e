#include "api/cli_status.h"

#include "coco/util.h"

int cli_get_host(struct cli *cli, json_object **ret)
{
	long status = 0;
	json_object *body = NULL;
	if (cli_request(cli, "GET", "/v1/host", NULL, &status, &body) < 0)
		return -EIO;
	if (status != 200 || !body || !json_object_is_type(body, json_type_object)) {
		cli_print_problem(cli, status, body);
		json_object_put(body);
		return -EPROTO;
	}
	*ret = body;
	return 0;
}

/* Look up "a.b.c" in nested objects. */
static json_object *lookup(json_object *o, const char *path)
{
	char key[64];
	while (o && *path) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		json_object *next = NULL;
		if (!json_object_object_get_ex(o, key, &next))
			return NULL;
		o = next;
		path += n + (path[n] == '.');
	}
	return o;
}

const char *cli_json_str(json_object *o, const char *path)
{
	json_object *v = lookup(o, path);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int cli_json_bool(json_object *o, const char *path)
{
	json_object *v = lookup(o, path);
	return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : -1;
}

const char *cli_json_int_str(json_object *o, const char *path, char *buf, size_t n)
{
	json_object *v = lookup(o, path);
	if (!v || !json_object_is_type(v, json_type_int))
		return "unknown";
	snprintf(buf, n, "%lld", (long long)json_object_get_int64(v));
	return buf;
}

int cli_status_run(struct cli *cli, const struct cli_command *cmd, int argc, char **argv,
		   const char *detail_path, const char *detail_key,
		   void (*print_human)(json_object *host, json_object *detail,
				       json_object *problem))
{
	int r = cli_parse_sub_options(cli, cmd, argc, argv);
	if (r)
		return r < 0 ? 2 : 0;
	json_object *h;
	if (cli_get_host(cli, &h) < 0)
		return 1;
	/* The live device status; a problem (e.g. 501: not this kind of host) is part of the
	 * answer, not a failure of the command. */
	long status = 0;
	json_object *body = NULL;
	if (cli_request(cli, "GET", detail_path, NULL, &status, &body) < 0) {
		json_object_put(h);
		return 1;
	}
	json_object *detail = status == 200 ? body : NULL, *problem = status == 200 ? NULL : body;
	if (cli->json) {
		json_object *o = json_object_new_object();
		char key[64];
		json_object_object_add(o, "host", json_object_get(h));
		json_object_object_add(o, detail_key, json_object_get(detail));
		if (problem) {
			snprintf(key, sizeof(key), "%s_problem", detail_key);
			json_object_object_add(o, key, json_object_get(problem));
		}
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
		json_object_put(o);
	} else {
		print_human(h, detail, problem);
	}
	json_object_put(body);
	json_object_put(h);
	return 0;
}

void cli_print_flat(json_object *o, const char *prefix)
{
	char path[256];
	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			snprintf(path, sizeof(path), "%s%s%s", prefix ? prefix : "", prefix ? "." : "",
				 k);
			cli_print_flat(v, path);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			snprintf(path, sizeof(path), "%s[%zu]", prefix ? prefix : "", i);
			cli_print_flat(json_object_array_get_idx(o, i), path);
		}
	} else {
		printf("%s: %s\n", prefix ? prefix : "", o ? json_object_get_string(o) : "null");
	}
}
