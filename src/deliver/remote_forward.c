/* SPDX-License-Identifier: ISC */
/* Forwarded copies: their SRS envelope sender and the DMARC refusal (see
 * remote_forward.h). */
#include "deliver/remote_forward.h"

#include <stdio.h>

#include "conf/conf.h"
#include "msg/addr.h"

bool
remote_forward_sender(const struct conf *conf, const uint8_t *key,
    const char *sender, const char *alias, long long now, char *out,
    size_t outlen, enum srs_result *why)
{
	const char *dom;

	*why = SRS_OK;
	if (!conf->forward_srs || sender == NULL || *sender == '\0' ||
	    conf_is_local_domain(conf, addr_text_domain(sender)))
		return false;
	dom = addr_text_domain(alias);
	*why = srs_forward(key, SRS_SECRET_LEN, sender, dom, now, out,
	    outlen);
	return *why == SRS_OK;
}

bool
remote_forward_refused(const struct envelope *env, char *text, size_t len)
{
	if (env->dmarc_reject == NULL)
		return false;
	snprintf(text, len, "Not forwarded: the message failed the DMARC "
	    "policy (p=reject) of %s", env->dmarc_reject);
	return true;
}
