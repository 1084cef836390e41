/*
 * The consent a client gives a counselor (42 CFR Part 2 section 2.31), as the
 * document sealed inside a key grant (proto/schemas/consent-grant.schema.json).
 * Its wording is the clinic's: a template (the clinic's setting, served by
 * daybookd; Daybook's defaults when the server has none) whose statements fill the
 * document; names, ids, dates are filled in here. The document is built, checked
 * for every required element and shown whole before anything is granted.
 */
#ifndef DBK_CLIENT_CONSENT_H
#define DBK_CLIENT_CONSENT_H

#include "session.h"

#include <jansson.h>

/* Days a consent holds when the template does not say. */
#define DBK_CONSENT_DEFAULT_DAYS 180
/* Within this many days of its end, a consent is shown as ending soon. */
#define DBK_CONSENT_WARN_DAYS 14

/*
 * The consent document. tmpl may be NULL (Daybook's wording) or the clinic's template
 * object: "program", "information", "purpose", "right_to_revoke", "expires_event",
 * "expires_days", "redisclosure_notice", "other_statements" (each optional; what is
 * given replaces the default). *expires_ms gets the end of the expiry date (local
 * midnight after it, Unix ms) for the grant's expires_at. New reference, or NULL.
 */
json_t *dbk_consent_build(const json_t *tmpl, const char *patient_name, const dbk_id *patient,
                          const char *recipient_name, const dbk_id *recipient,
                          const dbk_id *stream, int64_t *expires_ms);
/* The Unix ms at which a consent whose expiry date is date (YYYY-MM-DD) ends: local
 * midnight after it (proto/README.md rule R10). 0 for no date or a bad one. */
int64_t dbk_consent_end_ms(const char *date);
/*
 * Whether doc carries every element section 2.31 requires (and the section 2.32
 * notice): DBK_OK, or DBK_E_INVALID with the first missing element's name in missing.
 */
int dbk_consent_check(const json_t *doc, char *missing, size_t cap);
#endif
