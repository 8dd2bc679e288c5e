/* A libvirt connection for guests (hv/libvirt.h): define + start, lookup by UUID, destroy +
 * undefine, list. One function per libvirt operation; each reports libvirt's own message. */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>

#include "coco/util.h"
#include "hv/libvirt.h"

struct hv_libvirt {
	virConnectPtr conn;
};

static void silent_error(void *opaque, virErrorPtr e)
{
	/* libvirt's default handler prints every error on stderr; we report through err. */
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result;

static void init_libvirt(void)
{
	/* virInitialize: required before threads share libvirt (libvirt.c). */
	init_result = virInitialize();
	virSetErrorFunc(NULL, silent_error);
}

static int lv_error(char *err, size_t errlen, int r, const char *what)
{
	const char *m = virGetLastErrorMessage();
	return set_error(err, errlen, r, "libvirt %s: %s", what, m ? m : "unknown error");
}

const char *hv_domain_state_name(enum hv_domain_state s)
{
	static const char *const names[] = {
		[HV_DOMAIN_NOSTATE] = "nostate",   [HV_DOMAIN_RUNNING] = "running",
		[HV_DOMAIN_BLOCKED] = "blocked",   [HV_DOMAIN_PAUSED] = "paused",
		[HV_DOMAIN_SHUTDOWN] = "shutdown", [HV_DOMAIN_SHUTOFF] = "shutoff",
		[HV_DOMAIN_CRASHED] = "crashed",   [HV_DOMAIN_PMSUSPENDED] = "pmsuspended",
	};
	return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "unknown";
}

static enum hv_domain_state state_from_libvirt(int s)
{
	switch (s) {
	case VIR_DOMAIN_RUNNING: return HV_DOMAIN_RUNNING;
	case VIR_DOMAIN_BLOCKED: return HV_DOMAIN_BLOCKED;
	case VIR_DOMAIN_PAUSED: return HV_DOMAIN_PAUSED;
	case VIR_DOMAIN_SHUTDOWN: return HV_DOMAIN_SHUTDOWN;
	case VIR_DOMAIN_SHUTOFF: return HV_DOMAIN_SHUTOFF;
	case VIR_DOMAIN_CRASHED: return HV_DOMAIN_CRASHED;
	case VIR_DOMAIN_PMSUSPENDED: return HV_DOMAIN_PMSUSPENDED;
	default: return HV_DOMAIN_NOSTATE;
	}
}

int hv_libvirt_open(const char *uri, struct hv_libvirt **ret, char *err, size_t errlen)
{
	pthread_once(&init_once, init_libvirt);
	if (init_result < 0)
		return lv_error(err, errlen, -EIO, "initialisation");
	struct hv_libvirt *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	const char *u = uri ? uri : "qemu:///system";
	c->conn = virConnectOpen(u);
	if (!c->conn) {
		free(c);
		char what[96];
		snprintf(what, sizeof(what), "connect to %s", u);
		return lv_error(err, errlen, -ECONNREFUSED, what);
	}
	*ret = c;
	return 0;
}

void hv_libvirt_close(struct hv_libvirt *c)
{
	if (!c)
		return;
	virConnectClose(c->conn);
	free(c);
}

static void domain_freep(virDomainPtr *d)
{
	if (*d)
		virDomainFree(*d);
}

static int domain_info(virDomainPtr dom, struct hv_libvirt_domain *ret, char *err, size_t errlen)
{
	struct hv_libvirt_domain out = {0};
	const char *name = virDomainGetName(dom);
	if (!name || virDomainGetUUIDString(dom, out.uuid) < 0)
		return lv_error(err, errlen, -EIO, "domain identity");
	snprintf(out.name, sizeof(out.name), "%s", name);
	int state = 0, reason = 0;
	if (virDomainGetState(dom, &state, &reason, 0) < 0)
		return lv_error(err, errlen, -EIO, "domain state");
	out.state = state_from_libvirt(state);
	*ret = out;
	return 0;
}

int hv_libvirt_define_start(struct hv_libvirt *c, const char *xml, char ret_uuid[37], char *err,
			    size_t errlen)
{
	_cleanup_(domain_freep) virDomainPtr dom = virDomainDefineXML(c->conn, xml);
	if (!dom)
		return lv_error(err, errlen, -EINVAL, "define");
	if (virDomainCreate(dom) < 0) {
		int r = lv_error(err, errlen, -EIO, "start");
		virDomainUndefine(dom); /* no definition without the guest behind it */
		return r;
	}
	if (ret_uuid && virDomainGetUUIDString(dom, ret_uuid) < 0)
		return lv_error(err, errlen, -EIO, "domain UUID");
	return 0;
}

static int lookup(struct hv_libvirt *c, const char *uuid, virDomainPtr *ret, char *err,
		  size_t errlen)
{
	virDomainPtr dom = virDomainLookupByUUIDString(c->conn, uuid);
	if (!dom) {
		virErrorPtr e = virGetLastError();
		if (e && e->code == VIR_ERR_NO_DOMAIN)
			return set_error(err, errlen, -ENOENT, "no domain with UUID %s", uuid);
		if (e && e->code == VIR_ERR_INVALID_ARG)
			return set_error(err, errlen, -EINVAL, "invalid UUID '%s'", uuid);
		return lv_error(err, errlen, -EIO, "lookup");
	}
	*ret = dom;
	return 0;
}

int hv_libvirt_lookup(struct hv_libvirt *c, const char *uuid, struct hv_libvirt_domain *ret,
		      char *err, size_t errlen)
{
	_cleanup_(domain_freep) virDomainPtr dom = NULL;
	int r = lookup(c, uuid, &dom, err, errlen);
	return r < 0 ? r : domain_info(dom, ret, err, errlen);
}

int hv_libvirt_destroy(struct hv_libvirt *c, const char *uuid, char *err, size_t errlen)
{
	_cleanup_(domain_freep) virDomainPtr dom = NULL;
	int r = lookup(c, uuid, &dom, err, errlen);
	if (r < 0)
		return r;
	int active = virDomainIsActive(dom);
	if (active < 0)
		return lv_error(err, errlen, -EIO, "domain state");
	if (active && virDomainDestroy(dom) < 0)
		return lv_error(err, errlen, -EIO, "destroy");
	if (virDomainIsPersistent(dom) == 1 && virDomainUndefine(dom) < 0)
		return lv_error(err, errlen, -EIO, "undefine");
	return 0;
}

int hv_libvirt_list(struct hv_libvirt *c, struct hv_libvirt_domain **ret, size_t *ret_n,
		    char *err, size_t errlen)
{
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(c->conn, &doms, 0);
	if (n < 0)
		return lv_error(err, errlen, -EIO, "list domains");
	struct hv_libvirt_domain *out = calloc(n ? (size_t)n : 1, sizeof(*out));
	int r = out ? 0 : -ENOMEM;
	for (int i = 0; i < n; i++) {
		if (r == 0)
			r = domain_info(doms[i], &out[i], err, errlen);
		virDomainFree(doms[i]);
	}
	free(doms);
	if (r < 0) {
		free(out);
		return r;
	}
	*ret = out;
	*ret_n = (size_t)n;
	return 0;
}
