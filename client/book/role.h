/*
 * The account's role as its own signed record (proto/TRUST.md T13). A device that
 * knows its role of its own (it enrolled with the code that made it, or checked this
 * record) writes a "role" record into the account's private stream when it holds none,
 * sealed and signed like every entry; a device added with `daybook login` takes its
 * role from there, never from the server's answer alone. Only a record of the
 * account's own private stream signed by its own identity key counts.
 */
#ifndef DBK_CLIENT_ROLE_H
#define DBK_CLIENT_ROLE_H

#include "session.h"

#include <stdbool.h>

/* "counselor" or "client", as a role record and the CLI name it; NULL for any other. */
const char *dbk_role_name(int role);

/* The role this account's own role records state (DBK_ROLE_*): DBK_OK with *role,
 * DBK_E_NOT_FOUND when it holds none, DBK_E_CONFLICT when two disagree or the one they
 * state is not the one the other records imply (below, when that is one). *implied (when
 * not NULL): the role other records the account signed into its private stream imply
 * (a pin of its counselor taken at enrollment, a consent given to another account: a
 * client's; an alias, a session, an entry marked discussed: a counselor's), DBK_ROLE_NONE
 * for none, -1 for both. On a profile that keeps marks (a counselor's) the roles read are
 * kept in its meta with the private stream's mark, and only the account's revisions
 * stored after it are opened: the records added since are seen as they arrive; any
 * other change reads them all again. Keeping it is best effort (not inside the
 * caller's transaction, nor waiting for another process's write lock). */
int dbk_role_signed(dbk_session *s, int *role, int *implied);

/* Writes the role record of this device's role when the role is its own (no
 * "role_unsigned" mark: not taken from a server's word) and the private stream holds
 * none; *written says whether it did. The next push carries it. DBK_E_CONFLICT, nothing
 * written: the private stream's role records name another role than this device's
 * (*named), or disagree (*named DBK_ROLE_NONE); or, none held, the account's other
 * records imply another role (*by_records, *named the implied one, -1 both): a device
 * whose role was the server's word at a login from before role records signs no role
 * that what its account already signed contradicts. */
int dbk_role_keep(dbk_session *s, bool *written, int *named, bool *by_records);
/* Whether dbk_role_keep has nothing to do on this profile: no role of its own, the role
 * the server's word, or a role record already held (the "role_record" mark). Read
 * outside a transaction it is a hint; dbk_role_keep asks again inside its own. */
bool dbk_role_settled(dbk_session *s);
/* Whether this profile's own local state, without its keys, says it is a counselor's:
 * its role a counselor's, not the server's unchecked word (no "role_unsigned" mark), and
 * a role record stating it held (the "role_record" mark, which dbk_role_keep sets only
 * when the records say this role), and the last reading of the signed records (kept by
 * dbk_role_signed) found a counselor's role record and nothing a client writes. A
 * device from before role records given the other role by a server, or one whose
 * records contradict its role, is still told to contact the clinic. Only
 * ever a reason to refuse a client's command early, before the passphrase (commands.c):
 * never a reason to let one through, which dbk_role_check alone gives. */
bool dbk_role_locally_counselor(dbk_session *s);

/* Whether this device may act in its role (a counselor's or a client's, s->role): the
 * one check every command that acts in a role makes before it signs anything of it.
 * DBK_OK: no role, or the account's own records in its private stream support it (a
 * role record stating it, or none and no record implying the other role).
 * DBK_E_CONFLICT: they contradict it: a role record states the other (*says), role
 * records disagree (*says DBK_ROLE_NONE), or, with none, records the account signed
 * imply the other role (*says) or both (-1). A device whose role was the server's word
 * (a login from before role records) must then sign nothing as that role: a client's
 * key signing a counselor's records makes the account's own records say both.
 * Another error: the records could not be read (a caller refuses then too). Every record
 * counts, whenever it arrived: what was read before is kept only with the private
 * stream's mark (dbk_local_stream_mark), each check opens the revisions stored since,
 * and anything else than revisions added (one deleted, a record revised, the mark gone
 * back, a record that did not open) reads them all again (dbk_role_signed, which
 * dbk_role_keep shares). */
int dbk_role_check(dbk_session *s, int *says);

#endif
