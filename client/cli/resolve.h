/*
 * What a person types to name a thing, resolved: an entry id or its prefix, a
 * client by alias, id or id prefix. Each prints what went wrong and returns the
 * command's exit code (cmd.h), DBK_EXIT_OK with the result.
 */
#ifndef DBK_CLIENT_RESOLVE_H
#define DBK_CLIENT_RESOLVE_H

#include "counselor.h"
#include "entries.h"

#define DBK_EU_PREFIX_MIN 6
/*
 * The entry whose record id is id_or_prefix, or starts with it (at least
 * DBK_EU_PREFIX_MIN characters, matching exactly one record). Prints what went
 * wrong and returns the exit code (DBK_EXIT_USAGE for a too short prefix,
 * DBK_EXIT_FAIL for none or several); DBK_EXIT_OK with *idx.
 */
int dbk_resolve_entry(const dbk_eu_list *l, const char *id_or_prefix, size_t *idx);

/* DBK_EXIT_OK for a counselor's profile that may act as one (dbk_require_own_role);
 * else says cmd is for counselors, or why this device may not act as one. */
int dbk_require_counselor(dbk_session *s, const char *cmd);

/*
 * DBK_EXIT_OK when the account's own signed records do not contradict this device's
 * role (book/role.h dbk_role_check; proto/TRUST.md T13); else says that the role was
 * the server's word and is false, that cmd is refused and to contact the clinic, and
 * returns DBK_EXIT_FAIL (so too when the records cannot be read). Every command that
 * signs a record of one role calls it (through dbk_require_counselor for a counselor's).
 */
int dbk_require_own_role(dbk_session *s, const char *cmd);
/* The same check where nothing is refused (after `daybook sync`): true when the records
 * contradict the role (said as a warning) or cannot be read; the caller then signs
 * nothing of the role. */
bool dbk_role_contradicted(dbk_session *s);

/*
 * The client that arg names: an alias (exact, case-insensitive), an account id,
 * or the start of one (at least 6 characters), among the clients of caseload
 * (may be NULL) and the owners of the client streams on this device. Prints
 * what went wrong and returns an exit code; DBK_EXIT_OK with *out.
 */
int dbk_resolve_client(dbk_session *s, const json_t *aliases, const json_t *caseload,
                   const char *arg, dbk_id *out);

/*
 * Whether arg names one client for certain without the server's listing: an alias, or
 * a whole account id whose shared stream this device holds (then *out). False, quietly,
 * for anything else (a prefix, an id not held here): dbk_resolve_client decides then.
 * Where both answer, they answer the same.
 */
bool dbk_resolve_known(dbk_session *s, const json_t *aliases, const char *arg, dbk_id *out);

/*
 * Whose records a command works on: this account's when client_arg is NULL, else
 * the client it names (for a counselor only; cmd names the command in messages).
 * Aliases and this device's client streams are searched, not the server. Prints
 * what went wrong and returns an exit code; DBK_EXIT_OK with *owner.
 */
int dbk_resolve_owner(dbk_session *s, const char *cmd, const char *client_arg, dbk_id *owner);

#endif
