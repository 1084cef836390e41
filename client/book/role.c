/* The account's role as a record of its private stream; see role.h. */
#include "role.h"

#include "entries.h"
#include "entry.h"

#include "dbk/error.h"

#include <string.h>

const char *
dbk_role_name(int role)
{
    return role == DBK_ROLE_COUNSELOR ? "counselor" : role == DBK_ROLE_CLIENT ? "client" : NULL;
}

/* Of the private stream, only what the account wrote is opened (the header's author,
 * which the signature covers: opening checks it). */
static bool
written_by_account(const dbk_local_record *r, void *arg)
{
    return dbk_id_equal(&r->hdr.author, arg);
}

/* The role a record the account signed into its private stream implies, other than a
 * role record: a pin taken at enrollment or a consent given to another account is a
 * client's (a counselor enrolls no counselor and shares nothing); an alias, a session
 * or a "discussed" mark of a client's entry is a counselor's. DBK_ROLE_NONE: neither. */
static int
implied_role(const dbk_eu_entry *e)
{
    const char *how = json_string_value(json_object_get(e->doc, "how"));
    if (strcmp(e->type, "pin") == 0 && how != NULL && strcmp(how, "enrollment") == 0)
        return DBK_ROLE_CLIENT;
    if (strcmp(e->type, "consent") == 0 && !json_is_true(json_object_get(e->doc, "self")) &&
        json_object_get(json_object_get(e->doc, "recipient"), "account_id") != NULL)
        return DBK_ROLE_CLIENT;
    if (strcmp(e->type, "alias") == 0 || strcmp(e->type, "session") == 0 ||
        strcmp(e->type, "discussed") == 0)
        return DBK_ROLE_COUNSELOR;
    return DBK_ROLE_NONE;
}

int
dbk_role_signed(dbk_session *s, int *role, int *implied)
{
    dbk_local_stream st;
    dbk_eu_list l;
    int rc, found = DBK_ROLE_NONE, by_records = DBK_ROLE_NONE;
    bool conflict = false;

    *role = DBK_ROLE_NONE;
    if (implied == NULL)
        implied = &by_records;
    *implied = DBK_ROLE_NONE;
    if ((rc = dbk_local_stream_of(s->L, &s->account, DBK_LOCAL_PRIVATE, &st)) != DBK_OK)
        return rc; /* none held: DBK_E_NOT_FOUND, no record */
    if ((rc = dbk_eu_load_stream(s, &st.id, written_by_account, &s->account, NULL, NULL, &l)) !=
        DBK_OK)
        return rc;
    for (size_t i = 0; i < l.n; i++) {
        const dbk_eu_entry *e = &l.v[i];
        const char *r = json_string_value(json_object_get(e->doc, "role"));
        int this_role = r == NULL                     ? DBK_ROLE_NONE
                        : strcmp(r, "counselor") == 0 ? DBK_ROLE_COUNSELOR
                        : strcmp(r, "client") == 0    ? DBK_ROLE_CLIENT
                                                      : DBK_ROLE_NONE;
        /* Only what this account signed into its own private stream. */
        if (!e->mine || e->kind != DBK_LOCAL_PRIVATE || !dbk_id_equal(&e->hdr.author, &s->account))
            continue;
        if (strcmp(e->type, "role") != 0 && implied_role(e) != DBK_ROLE_NONE)
            *implied =
                *implied == DBK_ROLE_NONE || *implied == implied_role(e) ? implied_role(e) : -1;
        if (strcmp(e->type, "role") != 0 || this_role == DBK_ROLE_NONE)
            continue;
        if (found != DBK_ROLE_NONE && found != this_role)
            conflict = true;
        found = this_role;
    }
    dbk_eu_free(&l);
    /* A role record that what the account signed besides contradicts (one role implied,
     * the other stated) is no more the last word than two records that disagree: a
     * device from before role records that took the server's false word signs one
     * when the records that say otherwise were withheld from it (proto/TRUST.md T13).
     * Records implying both say nothing here. */
    if (found != DBK_ROLE_NONE && *implied > DBK_ROLE_NONE && *implied != found)
        conflict = true;
    if (conflict)
        return DBK_E_CONFLICT;
    if (found == DBK_ROLE_NONE)
        return DBK_E_NOT_FOUND;
    *role = found;
    return DBK_OK;
}

int
dbk_role_check(dbk_session *s, int *says)
{
    int rc, held, implied;

    *says = DBK_ROLE_NONE;
    if (dbk_role_name(s->role) == NULL)
        return DBK_OK;
    rc = dbk_role_signed(s, &held, &implied);
    if (rc == DBK_E_NOT_FOUND) /* no role record: what the account signed besides */
        rc = implied == DBK_ROLE_NONE || implied == s->role ? DBK_OK : DBK_E_CONFLICT;
    else if (rc == DBK_OK && held != s->role)
        rc = DBK_E_CONFLICT;
    if (rc == DBK_E_CONFLICT)
        *says = held != DBK_ROLE_NONE ? held : implied != s->role ? implied : DBK_ROLE_NONE;
    return rc;
}

bool
dbk_role_settled(dbk_session *s)
{
    return dbk_role_name(s->role) == NULL || dbk_local_get_int(s->L, "role_unsigned", 0) != 0 ||
           dbk_local_get_int(s->L, "role_record", 0) != 0;
}

int
dbk_role_keep(dbk_session *s, bool *written, int *named, bool *by_records)
{
    char when[40];
    dbk_id rec;
    int rc, held, implied;

    *written = false;
    *by_records = false;
    *named = DBK_ROLE_NONE;
    /* Only a role this device knows of its own is signed; and the records are read once
     * (the private stream's own records opened), then the mark "role_record" says one is held. */
    if (dbk_role_settled(s))
        return DBK_OK;
    rc = dbk_role_signed(s, &held, &implied);
    *named = held;
    /* Records naming another role (or disagreeing) are not this device's to settle: it
     * writes nothing and keeps no mark, so each sync says it until they are put right
     * (a device whose role was the server's word at a login from before this rule). */
    if (rc == DBK_E_CONFLICT || (rc == DBK_OK && held != s->role))
        return DBK_E_CONFLICT;
    if (rc == DBK_OK) /* held */
        return dbk_local_put_int(s->L, "role_record", 1);
    if (rc != DBK_E_NOT_FOUND)
        return rc;
    /* None yet: a role that what the account signed already cannot support (a pin of its
     * counselor on a counselor's device, an alias of a client on a client's) is not
     * signed; nor one of an account whose records imply both. */
    if (implied != DBK_ROLE_NONE && implied != s->role) {
        *named = implied;
        *by_records = true;
        return DBK_E_CONFLICT;
    }
    dbk_now_rfc3339(when);
    json_t *doc = json_pack("{s:s, s:i, s:s, s:s}", "type", "role", "v", 1, "role",
                            dbk_role_name(s->role), "stated_at", when);
    if (doc == NULL)
        return DBK_E_NOMEM;
    rc = dbk_entry_save(s, DBK_LOCAL_PRIVATE, NULL, doc, &rec);
    json_decref(doc);
    if (rc == DBK_OK)
        rc = dbk_local_put_int(s->L, "role_record", 1);
    *written = rc == DBK_OK;
    return rc;
}
