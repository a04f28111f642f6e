/* SPDX-License-Identifier: ISC */
/*
 * The lookalike check of a whole message (lookalike_from.h): the From:
 * field's addresses, their DMARC results and the display text; the
 * protected set from the configuration and the store.
 */
#include "auth/lookalike_from.h"

#include <string.h>
#include <strings.h>

#include "auth/authres.h"
#include "auth/dmarc.h"
#include "conf/conf.h"
#include "core/buf.h"
#include "core/log.h"
#include "msg/addr.h"
#include "store/db_correspondent.h"

bool
lookalike_from_message(const struct lookalike_set *set, const char *hdrs,
    size_t len, const struct dmarc_verdict *v, bool only_sure,
    struct lookalike_hit *hit)
{
	struct addr addrs[DMARC_AUTHORS_MAX];
	char display[LOOKALIKE_DISPLAY_MAX + 1], real[LIMIT_PATH + 1];
	struct authres_field f;
	size_t pos = 0;
	bool found = false;
	int n;

	if (set == NULL || lookalike_set_count(set) == 0)
		return false;
	while (!found && authres_field_next(hdrs, len, &pos, &f))
		found = authres_field_is(&f, "from");
	if (!found)
		return false;
	/* As many addresses as DMARC evaluates Author Domains. */
	n = addr_parse_header_list(f.value, f.vlen, addrs, DMARC_AUTHORS_MAX);
	if (n <= 0)
		return false;
	(void)lookalike_display_text(f.value, f.vlen, display,
	    sizeof(display));
	for (size_t i = 0; i < (size_t)n && i < DMARC_AUTHORS_MAX; i++) {
		bool pass = false;

		if (only_sure && lookalike_set_covers(set, addrs[i].domain))
			continue;
		for (size_t j = 0; v != NULL && j < v->nauthors; j++)
			if (strcasecmp(v->author[j].domain,
			    addrs[i].domain) == 0)
				pass = v->author[j].result == DMARC_RESULT_PASS;
		if (addr_to_text(&addrs[i], real, sizeof(real)) == -1)
			continue;
		struct lookalike_from lf = { addrs[i].domain, real,
		    display[0] ? display : NULL, pass };
		if (lookalike_check(set, &lf, hit))
			return true;
	}
	return false;
}

/* db_correspondent_cb */
static bool
lookalike_add_cb(const char *domain, long long count, long long first_seen,
    void *arg)
{
	(void)count;
	(void)first_seen;
	/* A name the set cannot use (an address literal) is skipped. */
	(void)lookalike_set_add(arg, domain);
	return true;
}

struct lookalike_set *
lookalike_protected_set(const struct conf *c, struct db *db)
{
	struct lookalike_set *set = lookalike_set_new();

	if (set == NULL) {
		log_warn("lookalike check off: ICU spoof checker unavailable");
		return NULL;
	}
	for (size_t i = 0; i < c->ndomains; i++)
		(void)lookalike_set_add(set, c->domains[i].name);
	for (size_t i = 0; i < c->nlookalike_protect; i++)
		(void)lookalike_set_add(set, c->lookalike_protect[i]);
	if (db != NULL && db_correspondent_each(db, lookalike_add_cb, set) !=
	    DB_OK)
		log_warn("lookalike: correspondents not read: %s",
		    db_error(db));
	return set;
}

int
lookalike_from_field(const struct lookalike_hit *hit, bool new_today,
    struct buf *out)
{
	/* Both names are ASCII (A-labels) without quotes: safe as written. */
	return buf_printf(out, "Sealmail-Warning: lookalike; from=\"%s\";\r\n\t"
	    "resembles=\"%s\"; reason=%s%s\r\n", hit->from, hit->resembles,
	    lookalike_reason_name(hit->reason),
	    new_today ? "; first-seen=today" : "");
}
