/*
 * The clinic's help lines this device believes (proto/README.md section 4.4): the
 * numbers `daybook help-now` shows after the safety plan. They are pinned once, at
 * enrollment, when the list the server hands out matches the hash the counselor put
 * in the enrollment link (or, for a link without one, as the server gave them, and
 * the client is shown them). Afterwards the server's list is only compared: a
 * different list is refused and remembered, so help-now keeps the pinned numbers
 * and says that the server offered others, offline too. Stored in the profile in
 * the clear: the same numbers every client of the clinic has, needed with no
 * passphrase.
 */
#ifndef DBK_CLIENT_HELP_PIN_H
#define DBK_CLIENT_HELP_PIN_H

#include "session.h"

#include <jansson.h>
#include <stdbool.h>

/* Where the pinned list came from. */
enum { DBK_HELP_PIN_NONE = 0, DBK_HELP_PIN_LINK = 1, DBK_HELP_PIN_SERVER = 2 };

/*
 * Pins offered (the server's list) at enrollment. link_hash is the link's `help=`
 * ("" when the link has none). DBK_E_FINGERPRINT when the list does not match the
 * link's hash, DBK_E_INVALID when it is no valid list: then nothing is pinned (the
 * link's hash is kept for dbk_trust_help_compare). offered may be NULL (the server
 * did not answer): only the link's hash is kept.
 */
int dbk_trust_help_pin(dbk_session *s, const json_t *offered, const char *link_hash);

/*
 * Compares the server's current list with the pinned one. DBK_OK when they are the
 * same (and a remembered refusal is forgotten); DBK_E_FINGERPRINT when they differ
 * or the list is invalid, remembered for help-now; DBK_E_NOT_FOUND when nothing is
 * pinned. When enrollment could not fetch the list, the link's hash (kept) still
 * decides: a list that matches it is pinned now. Nothing else is ever pinned later.
 */
int dbk_trust_help_compare(dbk_session *s, const json_t *offered);

/* The pinned list (new reference, an empty array when none) and its source. */
json_t *dbk_trust_help_lines(dbk_session *s, int *source);

/* Whether the server offered a different list since enrollment (and not the pinned
 * one again since). */
bool dbk_trust_help_refused(dbk_session *s);

#endif
