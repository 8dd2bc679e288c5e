/* The SEV-SNP certificate area of the service: the KDS-backed certificate cache, the GHCB
 * certificate table (file and VMM socket), and the VLEK. */
#include "cocod/svc.h"

int svc_snp_start(struct svc *s, char *err, size_t errlen)
{
	(void)s, (void)err, (void)errlen;
	return 0;
}

void svc_snp_stop(struct svc *s)
{
	(void)s;
}

bool svc_snp_is_slow(enum svc_op op)
{
	return op == SVC_SNP_CERTS_REFRESH;
}

void svc_snp_dispatch(struct svc *s, const struct svc_req *q, struct svc_reply *r)
{
	(void)s;
	svc_reply_error(r, SVC_E_INTERNAL, "unknown operation %d", (int)q->op);
}
