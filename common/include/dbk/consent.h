/*
 * The clinic's consent template: the wording of the section 2.31 consent a client
 * reads and agrees to before sharing (client/book/consent.c fills in the names,
 * ids and dates). daybookd loads it from its consent-template setting and refuses
 * to start when an element is missing; the client checks the document it builds
 * from it again. A JSON object; every field a statement of 1 to 4000 characters:
 *
 *   program              who discloses besides the client: the program's name
 *   information          what is disclosed, in words
 *   purpose              why
 *   right_to_revoke      that the consent may be revoked, and how
 *   expires_event        the event that ends it (and/or expires_days)
 *   expires_days         days from signing to its end date, 1 to 3650
 *   redisclosure_notice  the section 2.32 notice
 *   other_statements     optional: an array of further statements (at most 20)
 */
#ifndef DBK_CONSENT_H
#define DBK_CONSENT_H

#include <jansson.h>
#include <stddef.h>

/* DBK_OK, or DBK_E_INVALID with what is wrong (the field, and why) in why. */
int dbk_consent_template_check(const json_t *tmpl, char *why, size_t cap);

#endif
