/* The counselor's reviewed record; see reviewed.h. */
#include "reviewed.h"
#include "counselor.h"

#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>

/* This counselor's newest reviewed record about client in l, or NULL. */
static const dbk_eu_entry *
own_record(const dbk_eu_list *l, const dbk_id *me, const dbk_id *client)
{
    const dbk_eu_entry *best = NULL;
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        if (strcmp(e->type, "reviewed") == 0 && dbk_id_equal(&e->owner, client) &&
            dbk_id_equal(&e->hdr.author, me) &&
            (best == NULL || e->hdr.rev.clock > best->hdr.rev.clock))
            best = e;
    }
    return best;
}

static bool
names(const json_t *records, const char *id)
{
    size_t i;
    const json_t *x;
    json_array_foreach(records, i, x) {
        if (json_is_string(x) && strcmp(json_string_value(x), id) == 0)
            return true;
    }
    return false;
}

int
dbk_co_reviewed_mark(dbk_session *s, const dbk_id *client, const dbk_eu_list *l,
                     const json_t *kept)
{
    const dbk_eu_entry *cur = own_record(l, &s->account, client);
    const json_t *had = cur != NULL ? json_object_get(cur->doc, "records") : NULL;
    json_t *records = json_array(), *doc;
    const char *id;
    const json_t *v;
    bool grew = false;
    char now[40];
    dbk_local_stream st;
    dbk_id out;
    int rc;

    /* The set already sent first, in its order, then what is new. */
    for (size_t i = 0; json_is_array(had) && i < json_array_size(had); i++)
        if (json_is_string(json_array_get(had, i)))
            json_array_append(records, json_array_get(had, i));
    json_object_foreach((json_t *)kept, id, v) {
        if (json_array_size(records) >= DBK_REVIEWED_MAX)
            break;
        if (!names(records, id)) {
            json_array_append_new(records, json_string(id));
            grew = true;
        }
    }
    (void)v;
    if (!grew) {
        json_decref(records);
        return DBK_OK;
    }
    if ((rc = dbk_co_client_stream(s, client, &st)) != DBK_OK) {
        json_decref(records);
        return rc;
    }
    dbk_now_rfc3339(now);
    doc = json_pack("{s:s, s:i, s:o, s:s}", "type", "reviewed", "v", 1, "records", records,
                    "at", now);
    dbk_id record = cur != NULL ? cur->hdr.record : (dbk_id){{0}};
    rc = dbk_entry_save_in(s, &st.id, cur != NULL ? &record : NULL, doc, &out);
    json_decref(doc);
    return rc;
}

bool
dbk_eu_reviewed_by_counselor(const dbk_eu_list *l, const dbk_id *owner, const dbk_id *record,
                             char at[40])
{
    char id[DBK_ID_TEXT_LEN + 1];
    const dbk_eu_entry *best = NULL;

    dbk_id_to_text(record, id);
    at[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        if (strcmp(e->type, "reviewed") != 0 || !dbk_id_equal(&e->owner, owner) ||
            dbk_id_equal(&e->hdr.author, owner) || e->kind != DBK_LOCAL_SHARED ||
            !names(json_object_get(e->doc, "records"), id))
            continue;
        if (best == NULL || e->hdr.rev.clock > best->hdr.rev.clock)
            best = e;
    }
    if (best != NULL) {
        const char *a = json_string_value(json_object_get(best->doc, "at"));
        snprintf(at, 40, "%s", a != NULL ? a : "");
    }
    return best != NULL;
}
