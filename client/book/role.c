/* The account's role as a record of its private stream; see role.h. */
#include "role.h"

#include "entries.h"
#include "entry.h"
#include "trust.h"

#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
dbk_role_name(int role)
{
    return role == DBK_ROLE_COUNSELOR ? "counselor" : role == DBK_ROLE_CLIENT ? "client" : NULL;
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

/*
 * What the account's current records of its private stream say, as two sets of roles
 * (a bit each: ROLE_BIT): the roles its role records state and the roles its other
 * records imply. Both only grow as records are added, so they are kept in the profile's
 * meta (ROLE_SEEN) with the mark of the stream they were read at
 * (dbk_local_stream_mark), and a check opens only the revisions stored since: the
 * records are still all seen, the new ones as they arrive. Anything else (a revision
 * deleted, a record revised, the mark gone back as after a restore, another stream, a
 * record that did not open) reads them all again, as before there was a mark. The
 * stream head, revised by each push that carries one of the stream's records, is the
 * one record whose revisions do not: a head is never listed, so its old revision said
 * nothing (unless an entry listed had its id: head_listed).
 */
#define ROLE_SEEN DBK_LOCAL_ROLE_SEEN
#define ROLE_BIT(role) ((role) == DBK_ROLE_COUNSELOR ? 1u : (role) == DBK_ROLE_CLIENT ? 2u : 0u)

struct role_seen {
    dbk_id stream;
    int64_t rows, max_rowid;
    unsigned stated, implied;
    /* Whether an entry listed had the stream head's record id (which sync revises at
     * each push and which, a head, is never listed): then its revisions count as any. */
    unsigned head_listed;
};

static bool
seen_get(dbk_session *s, const dbk_id *stream, struct role_seen *out)
{
    char text[128], id[DBK_ID_TEXT_LEN + 8], want[DBK_ID_TEXT_LEN + 1];
    long long rows, max_rowid;
    unsigned stated, implied, head;

    dbk_id_to_text(stream, want);
    if (dbk_local_get_text(s->L, ROLE_SEEN, text, sizeof text) != DBK_OK ||
        sscanf(text, "1 %29s %lld %lld %u %u %u", id, &rows, &max_rowid, &stated, &implied,
               &head) != 6 ||
        strcmp(id, want) != 0 || rows < 0 || max_rowid < 0 || stated > 3 || implied > 3 || head > 1)
        return false;
    out->stream = *stream;
    out->rows = rows, out->max_rowid = max_rowid, out->stated = stated, out->implied = implied;
    out->head_listed = head;
    return true;
}

/* Best effort: a profile opened read-only, another process's write lock or a
 * transaction of the caller's (not this check's to write into) keep nothing, and the
 * next check reads again from the mark it finds. */
static void
seen_put(dbk_session *s, const struct role_seen *v)
{
    char text[128], id[DBK_ID_TEXT_LEN + 1];
    if (dbk_local_read_only(s->L) || dbk_local_in_tx(s->L))
        return;
    dbk_id_to_text(&v->stream, id);
    snprintf(text, sizeof text, "1 %s %lld %lld %u %u %u", id, (long long)v->rows,
             (long long)v->max_rowid, v->stated, v->implied, v->head_listed);
    (void)dbk_local_put_text_nowait(s->L, ROLE_SEEN, text);
}

/* The revisions stored after a mark, any author's and current or not: how many, and
 * which records they revise (a record with another revision held may have replaced
 * one already counted: then everything is read again). */
struct after {
    int64_t n;
    dbk_id *records;
    size_t cap;
    int rc;
};

static void
on_after(const dbk_local_record *r, void *arg)
{
    struct after *a = arg;
    if (a->rc != DBK_OK)
        return;
    if ((size_t)a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        dbk_id *v = realloc(a->records, cap * sizeof *v);
        if (v == NULL) {
            a->rc = DBK_E_NOMEM;
            return;
        }
        a->records = v, a->cap = cap;
    }
    a->records[a->n++] = r->hdr.record;
}

static void
count_revision(const dbk_local_record *r, void *arg)
{
    (void)r;
    ++*(int *)arg;
}

/* Whether the store holds exactly seen's revisions and, after them, only revisions of
 * records it held none of, or of the stream head (never listed, unless seen says one
 * with its id was). */
static int
only_added(dbk_session *s, const struct role_seen *seen, int64_t rows, bool *ok)
{
    struct after a = {0, NULL, 0, DBK_OK};
    dbk_id head;
    int rc = dbk_local_records_after(s->L, &seen->stream, seen->max_rowid, on_after, &a);

    dbk_trust_head_id(&seen->stream, &head);
    if (rc == DBK_OK)
        rc = a.rc;
    *ok = rc == DBK_OK && seen->rows + a.n == rows;
    for (int64_t i = 0; *ok && i < a.n; i++) {
        int revisions = 0;
        if (!seen->head_listed && dbk_id_equal(&a.records[i], &head))
            continue;
        if ((rc = dbk_local_revisions(s->L, &a.records[i], count_revision, &revisions)) != DBK_OK)
            *ok = false;
        else if (revisions != 1)
            *ok = false;
    }
    free(a.records);
    return rc;
}

struct want_after {
    const dbk_id *account;
    int64_t rowid;
};

/* Of the private stream, only what the account wrote after the mark is opened (the
 * header's author, which the signature covers: opening checks it). */
static bool
written_after(const dbk_local_record *r, void *arg)
{
    const struct want_after *w = arg;
    return r->rowid > w->rowid && dbk_id_equal(&r->hdr.author, w->account);
}

/* Adds to *v what the account's current records of its private stream stored after
 * v->max_rowid say; *whole: none was left out (each opened and verified). */
static int
read_after(dbk_session *s, struct role_seen *v, bool *whole)
{
    struct want_after w = {&s->account, v->max_rowid};
    dbk_eu_list l;
    dbk_id head;
    int rc = dbk_eu_load_stream(s, &v->stream, written_after, &w, NULL, NULL, &l);

    if (rc != DBK_OK)
        return rc;
    dbk_trust_head_id(&v->stream, &head);
    *whole = l.bad == 0; /* foreign authors are counted in bad (entries.c) */
    for (size_t i = 0; i < l.n; i++) {
        const dbk_eu_entry *e = &l.v[i];
        const char *r = json_string_value(json_object_get(e->doc, "role"));
        /* Only what this account signed into its own private stream. */
        if (dbk_id_equal(&e->hdr.record, &head))
            v->head_listed = 1;
        if (!e->mine || e->kind != DBK_LOCAL_PRIVATE || !dbk_id_equal(&e->hdr.author, &s->account))
            continue;
        if (strcmp(e->type, "role") != 0)
            v->implied |= ROLE_BIT(implied_role(e));
        else if (r != NULL)
            v->stated |= strcmp(r, "counselor") == 0 ? ROLE_BIT(DBK_ROLE_COUNSELOR)
                         : strcmp(r, "client") == 0  ? ROLE_BIT(DBK_ROLE_CLIENT)
                                                     : 0u;
    }
    dbk_eu_free(&l);
    return DBK_OK;
}

static int
role_of_bits(unsigned bits)
{
    return bits == 0u                             ? DBK_ROLE_NONE
           : bits == ROLE_BIT(DBK_ROLE_COUNSELOR) ? DBK_ROLE_COUNSELOR
           : bits == ROLE_BIT(DBK_ROLE_CLIENT)    ? DBK_ROLE_CLIENT
                                                  : -1;
}

int
dbk_role_signed(dbk_session *s, int *role, int *implied)
{
    dbk_local_stream st;
    struct role_seen v;
    int64_t rows, max_rowid;
    int rc, by_records, found;
    bool ok = false, whole;

    *role = DBK_ROLE_NONE;
    if (implied == NULL)
        implied = &by_records;
    *implied = DBK_ROLE_NONE;
    if ((rc = dbk_local_stream_of(s->L, &s->account, DBK_LOCAL_PRIVATE, &st)) != DBK_OK)
        return rc; /* none held: DBK_E_NOT_FOUND, no record */
    /* A profile that keeps no marks (a client's) reads them all each time. */
    if (!dbk_local_has_marks(s->L))
        rows = max_rowid = -1;
    else if ((rc = dbk_local_stream_mark(s->L, &st.id, &rows, &max_rowid)) != DBK_OK)
        return rc;
    /* The mark kept: the same (nothing to open), or only revisions added since. */
    if (seen_get(s, &st.id, &v) && rows >= v.rows && max_rowid >= v.max_rowid) {
        if (rows == v.rows && max_rowid == v.max_rowid)
            ok = true;
        else if (max_rowid > v.max_rowid && (rc = only_added(s, &v, rows, &ok)) != DBK_OK)
            return rc;
    }
    if (!ok) /* everything, again */
        v = (struct role_seen){.stream = st.id};
    if (!ok || rows != v.rows || max_rowid != v.max_rowid) {
        if ((rc = read_after(s, &v, &whole)) != DBK_OK)
            return rc;
        v.rows = rows, v.max_rowid = max_rowid;
        /* A record that did not open may open later (its key arrives): it is looked at
         * again each time, so nothing is kept. */
        if (whole && rows >= 0)
            seen_put(s, &v);
    }
    *implied = role_of_bits(v.implied);
    found = role_of_bits(v.stated);
    /* A role record that what the account signed besides contradicts (one role implied,
     * the other stated) is no more the last word than two records that disagree: a
     * device from before role records that took the server's false word signs one
     * when the records that say otherwise were withheld from it (proto/TRUST.md T13).
     * Records implying both say nothing here. */
    if (found == -1 || (found != DBK_ROLE_NONE && *implied > DBK_ROLE_NONE && *implied != found))
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

bool
dbk_role_locally_counselor(dbk_session *s)
{
    dbk_local_stream st;
    struct role_seen v;

    if (s->role != DBK_ROLE_COUNSELOR || dbk_local_get_int(s->L, "role_unsigned", 0) != 0 ||
        dbk_local_get_int(s->L, "role_record", 0) == 0)
        return false;
    /* And the last reading of the signed records (dbk_role_signed's kept bits) found a
     * counselor's role record and nothing of a client's: a device that took a server's
     * false word signs a role record too (the "role_record" mark), and its records that
     * say otherwise must send it to the clinic, never to "is for clients". */
    return dbk_local_stream_of(s->L, &s->account, DBK_LOCAL_PRIVATE, &st) == DBK_OK &&
           seen_get(s, &st.id, &v) && v.stated == ROLE_BIT(DBK_ROLE_COUNSELOR) &&
           (v.implied & ROLE_BIT(DBK_ROLE_CLIENT)) == 0;
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
