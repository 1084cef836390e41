/*
 * Drafts: an entry typed while the passphrase failed is not thrown away. It is
 * sealed (crypto_box_seal, trust/'s dbk_trust_seal_doc) to the account's own X25519
 * public key, which needs no passphrase, and kept in the profile's meta under
 * DBK_DRAFT_KEY; only the account's secret key opens it, so nothing typed is ever on
 * disk in plaintext. At the next unlock the drafts are saved as entries, oldest first.
 *
 * The public key is remembered (DBK_DRAFT_PK) at each successful unlock. A profile
 * that was never unlocked since this existed has none: then no draft can be kept,
 * and the caller says so (the entry is lost, as before, but never silently).
 */
#ifndef DBK_CLIENT_DRAFT_H
#define DBK_CLIENT_DRAFT_H

#include "session.h"

#include <jansson.h>

#define DBK_DRAFT_PK "draft_box_pk"
#define DBK_DRAFT_KEY "drafts"
/* At most this many drafts are kept; one more is refused (DBK_E_TOO_LARGE). */
#define DBK_DRAFT_MAX 32

/* Remembers this account's public X25519 key (s must be unlocked). */
int dbk_draft_remember_pk(dbk_session *s);
/* Seals doc, meant for a stream of kind (DBK_LOCAL_SHARED...), as a draft. No unlock
 * needed. DBK_E_NOT_FOUND when no public key was remembered yet. */
int dbk_draft_keep(dbk_session *s, int kind, const json_t *doc);
/* How many drafts wait (no unlock needed). */
size_t dbk_draft_count(dbk_session *s);
/* Saves every draft as an entry (s must be unlocked); *saved counts them. A draft that
 * does not open or save stays kept. */
int dbk_draft_import(dbk_session *s, size_t *saved);

#endif
