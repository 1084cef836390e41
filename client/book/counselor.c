/* The counselor's aliases and session markers; see counselor.h. */
#include "counselor.h"
#include "daycount.h"
#include "unlock.h"
#include "stream_key.h"
#include "trust.h"

#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- aliases ---- */

int
dbk_co_sealed_get(dbk_session *s, const char *key, size_t cap, json_t **out)
{
    unsigned char *sealed;
    size_t len = 0;
    int rc;

    *out = NULL;
    if ((rc = dbk_unlock(s)) != DBK_OK)
        return rc;
    if ((sealed = malloc(cap)) == NULL)
        return DBK_E_NOMEM;
    rc = dbk_local_get(s->L, key, sealed, cap, &len);
    if (rc == DBK_E_NOT_FOUND) {
        *out = json_object();
        rc = DBK_OK;
    } else if (rc == DBK_OK) {
        rc = dbk_trust_open_doc(s, sealed, len, out);
    }
    free(sealed);
    return rc;
}

int
dbk_co_sealed_put(dbk_session *s, const char *key, const json_t *doc)
{
    unsigned char *sealed;
    size_t len;
    int rc;

    if ((rc = dbk_unlock(s)) != DBK_OK ||
        (rc = dbk_trust_seal_doc(doc, s->keys->box_pk, &sealed, &len)) != DBK_OK)
        return rc;
    rc = dbk_local_put(s->L, key, sealed, len);
    free(sealed);
    return rc;
}

/* Alias records (proto/schemas/alias.schema.json) of this counselor's private stream,
 * applied oldest first over the device's cache: the newest name of a client wins on
 * every device of the counselor; an empty name removes it. */
static void
apply_alias(const dbk_entry *e, void *arg)
{
    json_t *aliases = arg;
    const char *type = json_string_value(json_object_get(e->doc, "type"));
    const char *client = json_string_value(json_object_get(e->doc, "client"));
    const char *name = json_string_value(json_object_get(e->doc, "name"));
    dbk_id id;

    if (e->kind != DBK_LOCAL_PRIVATE || type == NULL || strcmp(type, "alias") != 0 ||
        client == NULL || name == NULL || dbk_id_from_text(&id, client, strlen(client)) != DBK_OK)
        return;
    if (name[0] == '\0')
        json_object_del(aliases, client);
    else
        json_object_set_new(aliases, client, json_string(name));
}

/* The same over an entry already opened (dbk_eu_load_owned of this account). */
static void
apply_alias_entry(const dbk_eu_entry *e, json_t *aliases)
{
    dbk_entry x;
    memset(&x, 0, sizeof x);
    x.hdr = e->hdr;
    x.doc = e->doc;
    x.kind = e->kind;
    x.owner = e->owner;
    x.pending = e->pending;
    apply_alias(&x, aliases);
}

int
dbk_co_aliases_in(dbk_session *s, const dbk_eu_list *own, json_t **out)
{
    int rc = dbk_co_sealed_get(s, "client_aliases", 1 << 20, out);
    for (size_t i = 0; rc == DBK_OK && s->role == DBK_ROLE_COUNSELOR && i < own->n; i++)
        if (own->v[i].mine)
            apply_alias_entry(&own->v[i], *out);
    if (rc != DBK_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int
dbk_co_aliases(dbk_session *s, json_t **out)
{
    size_t bad = 0;
    int rc = dbk_co_sealed_get(s, "client_aliases", 1 << 20, out);
    if (rc == DBK_OK && s->role == DBK_ROLE_COUNSELOR)
        rc = dbk_entries_owned(s, &s->account, apply_alias, *out, &bad);
    if (rc != DBK_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* An alias record in the private stream for each client whose name changed from
 * before (dbk_co_aliases, read by the caller), so the counselor's other devices learn
 * it at their next sync. Writes only. */
static int
alias_records(dbk_session *s, const json_t *aliases, json_t *before)
{
    json_t *v;
    const char *k;
    char when[40];
    dbk_id rec;
    int rc = DBK_OK;

    dbk_now_rfc3339(when);
    json_object_foreach((json_t *)aliases, k, v) {
        const char *old = json_string_value(json_object_get(before, k));
        if (rc != DBK_OK || (old != NULL && strcmp(old, json_string_value(v)) == 0))
            continue;
        json_t *doc = json_pack("{s:s, s:i, s:s, s:O, s:s}", "type", "alias", "v", 1, "client", k,
                                "name", v, "set_at", when);
        rc = doc ? dbk_entry_save(s, DBK_LOCAL_PRIVATE, NULL, doc, &rec) : DBK_E_NOMEM;
        json_decref(doc);
    }
    json_object_foreach(before, k, v) {
        if (rc != DBK_OK || json_object_get(aliases, k) != NULL)
            continue;
        json_t *doc = json_pack("{s:s, s:i, s:s, s:s, s:s}", "type", "alias", "v", 1, "client", k,
                                "name", "", "set_at", when);
        rc = doc ? dbk_entry_save(s, DBK_LOCAL_PRIVATE, NULL, doc, &rec) : DBK_E_NOMEM;
        json_decref(doc);
    }
    return rc;
}

/* The alias records and the sealed list in one commit (one sync of the disk, not one a
 * client: a first sync learns the name of every client, 40 syncs of 187 in the cold sync
 * of a counselor of 40, issue 20). Each write may stand alone, as they did: a group, not
 * a transaction that must hold all or nothing. Unlocked first: no prompt while the write
 * lock is held. The names as they were (every owned entry decrypted) are read before
 * the lock is taken, so it is held for the writes only; read again under it when
 * another process committed meanwhile (a sync that pulled another device's alias, say),
 * so that no change is written against names that are no longer so. The lock is the
 * caller's transaction, or the group's: one that cannot begin (another process holds
 * the lock past the busy wait, a read-only profile) fails the save with its error,
 * nothing written, rather than re-check and write with no lock held. */
int
dbk_co_aliases_save(dbk_session *s, const json_t *aliases)
{
    json_t *before = NULL;
    int64_t seen = dbk_local_data_version(s->L);
    bool own = !dbk_local_in_tx(s->L);
    int rc = dbk_unlock(s);
    if (rc != DBK_OK || (rc = dbk_co_aliases(s, &before)) != DBK_OK)
        return rc;
    if (own && (rc = dbk_local_begin(s->L)) != DBK_OK) {
        json_decref(before);
        return rc;
    }
    if (seen < 0 || dbk_local_data_version(s->L) != seen) {
        json_decref(before);
        rc = dbk_co_aliases(s, &before);
    }
    if (rc == DBK_OK)
        rc = alias_records(s, aliases, before);
    if (rc == DBK_OK)
        rc = dbk_co_sealed_put(s, "client_aliases", aliases);
    json_decref(before);
    return dbk_local_group_end(s->L, own, rc);
}

void
dbk_co_label(const json_t *aliases, const dbk_id *id, char *out, size_t cap)
{
    char t[DBK_ID_TEXT_LEN + 1];
    const char *a;
    dbk_id_to_text(id, t);
    a = json_string_value(json_object_get(aliases, t));
    if (a != NULL)
        snprintf(out, cap, "%s", a);
    else
        snprintf(out, cap, "%.8s", t);
}

/* ---- naming a client ---- */

int
dbk_co_client_stream(dbk_session *s, const dbk_id *client, dbk_local_stream *out)
{
    return dbk_local_stream_of(s->L, client, DBK_LOCAL_SHARED, out);
}

int
dbk_co_withheld(dbk_session *s, const dbk_id *client, dbk_trust_report *r)
{
    dbk_local_stream st;
    int rc = dbk_co_client_stream(s, client, &st);
    return rc != DBK_OK ? rc : dbk_trust_stream_head(s, &st.id, client, st.epoch, r);
}

bool
dbk_co_withheld_warn(const dbk_trust_report *r)
{
    return r->withheld > 0 || r->head_rollbacks > 0;
}

json_t *
dbk_co_withheld_json(const dbk_trust_report *r)
{
    if (r == NULL)
        return json_pack("{s:n, s:b, s:b, s:b}", "records", "cannot_tell", 1, "rolled_back", 0,
                         "none_seen", 0);
    return json_pack("{s:i, s:b, s:b, s:b}", "records", (int)r->withheld, "cannot_tell",
                     r->heads_unknown > 0 || r->heads_none > 0, "rolled_back",
                     r->head_rollbacks > 0, "none_seen", r->heads_none > 0);
}

const dbk_eu_entry *
dbk_co_last_session_entry(const dbk_eu_list *l, const dbk_id *client)
{
    char t[DBK_ID_TEXT_LEN + 1];
    const dbk_eu_entry *best = NULL;

    dbk_id_to_text(client, t);
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        const char *c = json_string_value(json_object_get(e->doc, "client"));
        const char *when = json_string_value(json_object_get(e->doc, "at"));
        if (!e->mine || e->kind != DBK_LOCAL_PRIVATE || strcmp(e->type, "session") != 0 ||
            c == NULL || strcmp(c, t) != 0 || when == NULL || strlen(when) < 10)
            continue;
        if (best == NULL || e->hdr.rev.clock > best->hdr.rev.clock)
            best = e;
    }
    return best;
}

bool
dbk_co_last_session(const dbk_eu_list *l, const dbk_id *client, char at[40])
{
    const dbk_eu_entry *e = dbk_co_last_session_entry(l, client);
    if (e != NULL)
        snprintf(at, 40, "%s", json_string_value(json_object_get(e->doc, "at")));
    return e != NULL;
}

int
dbk_co_save_into(dbk_session *s, const dbk_id *stream, json_t *doc, dbk_id *out_id)
{
    return dbk_entry_save_in(s, stream, NULL, doc, out_id);
}

void
dbk_co_ms_text(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
}

void
dbk_co_state_put(dbk_session *s, const dbk_id *client, const char *state)
{
    char t[DBK_ID_TEXT_LEN + 1], key[64];
    dbk_id_to_text(client, t);
    snprintf(key, sizeof key, "grant_state:%s", t);
    char was[32];
    /* Written only when it changed: each write is a commit, and it is the same on
     * nearly every review. */
    if (dbk_local_get_text(s->L, key, was, sizeof was) != DBK_OK || strcmp(was, state) != 0)
        (void)dbk_local_put_text(s->L, key, state);
}

void
dbk_co_state_get(dbk_session *s, const dbk_id *client, char *out, size_t cap)
{
    char t[DBK_ID_TEXT_LEN + 1], key[64];
    dbk_id_to_text(client, t);
    snprintf(key, sizeof key, "grant_state:%s", t);
    if (dbk_local_get_text(s->L, key, out, cap) != DBK_OK)
        out[0] = '\0';
}

bool
dbk_co_end_signed(dbk_session *s, const dbk_id *client, int64_t *ends_ms)
{
    dbk_local_stream st;
    *ends_ms = 0;
    return dbk_co_client_stream(s, client, &st) == DBK_OK &&
           dbk_trust_end_signed(s, &st.id, ends_ms);
}

int64_t
dbk_co_enrolled_day(dbk_session *s, const json_t *entry, const dbk_id *client)
{
    char t[DBK_ID_TEXT_LEN + 1], key[64], text[32];
    int64_t ms, day;
    dbk_id_to_text(client, t);
    snprintf(key, sizeof key, "enrolled_at:%s", t);
    if (json_is_integer(json_object_get(entry, "enrolled_at"))) {
        ms = (int64_t)json_integer_value(json_object_get(entry, "enrolled_at"));
        if (dbk_local_get_int(s->L, key, 0) != ms) /* a commit only when it changed */
            (void)dbk_local_put_int(s->L, key, ms);
    } else {
        ms = dbk_local_get_int(s->L, key, 0);
    }
    if (ms <= 0)
        return INT64_MIN;
    dbk_co_ms_text(ms, text);
    return dbk_day_parse(text, &day) ? day : INT64_MIN;
}

struct learn_acc {
    dbk_session *s;
    json_t *aliases;
    size_t n;
};

static void
learn_one(const dbk_local_stream *st, void *arg)
{
    struct learn_acc *a = arg;
    char t[DBK_ID_TEXT_LEN + 1];
    json_t *consent = NULL;
    const char *name;

    if (dbk_id_equal(&st->owner, &a->s->account) || st->kind != DBK_LOCAL_SHARED)
        return;
    dbk_id_to_text(&st->owner, t);
    if (json_object_get(a->aliases, t) != NULL ||
        dbk_stream_consent(a->s, &st->id, st->epoch, &consent) != DBK_OK)
        return;
    name = json_string_value(json_object_get(json_object_get(consent, "patient"), "name"));
    if (name != NULL && name[0] != '\0' && strlen(name) <= 64) {
        json_object_set_new(a->aliases, t, json_string(name));
        a->n++;
    }
    json_decref(consent);
}

int
dbk_co_learn_names(dbk_session *s, size_t *learned)
{
    struct learn_acc a = {s, NULL, 0};
    int rc;

    *learned = 0;
    if ((rc = dbk_co_aliases(s, &a.aliases)) != DBK_OK)
        return rc;
    rc = dbk_local_streams(s->L, learn_one, &a);
    if (rc == DBK_OK && a.n > 0)
        rc = dbk_co_aliases_save(s, a.aliases);
    json_decref(a.aliases);
    *learned = a.n;
    return rc;
}
