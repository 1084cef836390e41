/* The coping-skills checklist; see checklist.h. */
#include "checklist.h"
#include "daycount.h"
#include "entry.h"

#include "dbk/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Daybook's default items (proto/schemas/README.md), in display order. */
static const struct {
    const char *id, *label;
} default_items[] = {
    {"attended_treatment", "Attended treatment or a meeting"},
    {"called_support", "Called a support person"},
    {"practised_coping_skill", "Practised a coping skill"},
    {"exercise", "Exercise"},
    {"regular_meals", "Ate regular meals"},
    {"slept_enough", "Slept enough"},
    {"took_medication", "Took prescribed medication"},
    {"avoided_high_risk", "Avoided a high-risk person or place"},
    {"scheduled_day", "Planned the day"},
    {"mindfulness", "Mindfulness or relaxation practice"},
    {"journaling", "Journaling"},
};

static bool
valid_item_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n < 1 || n > 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '_'))
            return false;
    return true;
}

static dbk_ck_item *
find_item(dbk_checklist *c, const char *id)
{
    for (size_t i = 0; i < c->nitems; i++)
        if (strcmp(c->items[i].id, id) == 0)
            return &c->items[i];
    return NULL;
}

/* A definition whose items are all well-formed and distinct, or false. */
static bool
definition_ok(const json_t *items)
{
    size_t i, j;
    json_t *it, *other;

    if (!json_is_array(items))
        return false;
    json_array_foreach(items, i, it) {
        const char *id = json_string_value(json_object_get(it, "id"));
        const char *label = json_string_value(json_object_get(it, "label"));
        const char *source = json_string_value(json_object_get(it, "source"));
        if (!valid_item_id(id) || label == NULL || label[0] == '\0' || source == NULL ||
            (strcmp(source, "default") && strcmp(source, "client") && strcmp(source, "counselor")) ||
            !json_is_boolean(json_object_get(it, "active")))
            return false;
        json_array_foreach(items, j, other) {
            if (j >= i)
                break;
            if (strcmp(json_string_value(json_object_get(other, "id")), id) == 0)
                return false;
        }
    }
    return true;
}

int
dbk_checklist_build(dbk_session *s, const dbk_eu_list *l, dbk_checklist *c)
{
    return dbk_checklist_build_for(s, l, &s->account, c);
}

int
dbk_checklist_build_for(dbk_session *s, const dbk_eu_list *l, const dbk_id *owner,
                        dbk_checklist *c)
{
    size_t ndef = sizeof default_items / sizeof default_items[0];
    dbk_local_stream shared;
    bool have_shared;

    memset(c, 0, sizeof *c);
    have_shared = dbk_local_stream_of(s->L, owner, DBK_LOCAL_SHARED, &shared) == DBK_OK;
    /* At most: the defaults plus every item of every definition. */
    size_t cap = ndef, ndays = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].type, "checklist_def") == 0)
            cap += json_array_size(json_object_get(l->v[i].doc, "items"));
        else if (strcmp(l->v[i].type, "checklist_day") == 0 ||
                 strcmp(l->v[i].type, "attendance") == 0)
            ndays++;
    }
    c->items = calloc(cap, sizeof *c->items);
    c->days = calloc(ndays + 1, sizeof *c->days);
    c->day = calloc(ndays + 1, sizeof *c->day);
    c->attended = calloc(ndays + 1, sizeof *c->attended);
    if (c->items == NULL || c->days == NULL || c->day == NULL || c->attended == NULL) {
        dbk_checklist_free(c);
        return DBK_E_NOMEM;
    }
    for (size_t i = 0; i < ndef; i++) {
        dbk_ck_item *it = &c->items[c->nitems++];
        snprintf(it->id, sizeof it->id, "%s", default_items[i].id);
        it->label = default_items[i].label;
        it->source = "default";
        it->active = true;
    }
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        if (strcmp(e->type, "checklist_def") == 0) {
            json_t *items = json_object_get(e->doc, "items"), *jt;
            size_t k;
            if (!have_shared || !dbk_id_equal(&e->hdr.stream, &shared.id))
                continue;
            if (!definition_ok(items)) {
                c->bad_defs++;
                continue;
            }
            json_array_foreach(items, k, jt) {
                const char *id = json_string_value(json_object_get(jt, "id"));
                dbk_ck_item *it = find_item(c, id);
                if (it == NULL) {
                    it = &c->items[c->nitems++];
                    snprintf(it->id, sizeof it->id, "%s", id);
                }
                it->label = json_string_value(json_object_get(jt, "label"));
                it->source = json_string_value(json_object_get(jt, "source"));
                it->active = json_is_true(json_object_get(jt, "active"));
            }
        } else if (strcmp(e->type, "checklist_day") == 0 && dbk_id_equal(&e->owner, owner)) {
            int64_t d;
            if (!json_is_array(json_object_get(e->doc, "checked")) ||
                !dbk_day_parse(json_string_value(json_object_get(e->doc, "date")), &d))
                continue;
            c->days[c->ndays] = i;
            c->day[c->ndays++] = d;
        } else if (strcmp(e->type, "attendance") == 0 && dbk_id_equal(&e->owner, owner)) {
            int64_t d;
            if (dbk_day_parse(json_string_value(json_object_get(e->doc, "date")), &d) &&
                !dbk_checklist_attended(c, d))
                c->attended[c->nattended++] = d;
        }
    }
    return DBK_OK;
}

bool
dbk_checklist_attended(const dbk_checklist *c, int64_t day)
{
    for (size_t i = 0; i < c->nattended; i++)
        if (c->attended[i] == day)
            return true;
    return false;
}

void
dbk_checklist_free(dbk_checklist *c)
{
    free(c->items);
    free(c->days);
    free(c->day);
    free(c->attended);
    memset(c, 0, sizeof *c);
}

const dbk_ck_item *
dbk_checklist_item(const dbk_checklist *c, const char *id)
{
    return find_item((dbk_checklist *)c, id);
}

const char *
dbk_checklist_suggest(const dbk_checklist *c, const char *typed)
{
    const char *best = NULL;
    size_t best_d = 4, contains = 0;
    const char *contained = NULL;

    if (typed[0] == '\0')
        return NULL;
    for (size_t i = 0; i < c->nitems; i++) {
        const dbk_ck_item *it = &c->items[i];
        size_t d;
        if (!it->active)
            continue;
        if (strlen(typed) >= 3 && strstr(it->id, typed) != NULL) {
            contains++;
            contained = it->id;
        }
        d = dbk_eu_distance(typed, it->id);
        if (d < best_d && d < strlen(it->id)) {
            best_d = d;
            best = it->id;
        }
    }
    if (best != NULL)
        return best;
    return contains == 1 ? contained : NULL;
}

bool
dbk_checklist_has(const json_t *checked, const char *item)
{
    size_t i;
    json_t *v;
    json_array_foreach(checked, i, v) {
        const char *s = json_string_value(v);
        if (s != NULL && strcmp(s, item) == 0)
            return true;
    }
    return false;
}

bool
dbk_checklist_checked(const dbk_checklist *c, const dbk_eu_list *l, const char *item, int64_t day)
{
    if (strcmp(item, DBK_CK_ATTENDED) == 0 && dbk_checklist_attended(c, day))
        return true;
    for (size_t i = 0; i < c->ndays; i++)
        if (c->day[i] == day &&
            dbk_checklist_has(json_object_get(l->v[c->days[i]].doc, "checked"), item))
            return true;
    return false;
}

bool
dbk_checklist_checked_through(const dbk_checklist *c, const dbk_eu_list *l, const char *item,
                              int64_t day, int64_t last)
{
    if (day != last)
        return dbk_checklist_checked(c, l, item, day);
    if (strcmp(item, DBK_CK_ATTENDED) == 0)
        for (size_t i = 0; i < c->nattended; i++)
            if (c->attended[i] >= day)
                return true;
    for (size_t i = 0; i < c->ndays; i++)
        if (c->day[i] >= day &&
            dbk_checklist_has(json_object_get(l->v[c->days[i]].doc, "checked"), item))
            return true;
    return false;
}

int64_t *
dbk_checklist_days_of(const dbk_checklist *c, const dbk_eu_list *l, const char *item, size_t *n)
{
    int64_t *out = malloc((c->ndays + c->nattended + 1) * sizeof *out);
    *n = 0;
    if (out == NULL)
        return NULL;
    if (strcmp(item, DBK_CK_ATTENDED) == 0)
        for (size_t i = 0; i < c->nattended; i++)
            out[(*n)++] = c->attended[i];
    for (size_t i = 0; i < c->ndays; i++) {
        bool seen = false;
        if (!dbk_checklist_has(json_object_get(l->v[c->days[i]].doc, "checked"), item))
            continue;
        for (size_t k = 0; k < *n && !seen; k++)
            seen = out[k] == c->day[i];
        if (!seen)
            out[(*n)++] = c->day[i];
    }
    return out;
}


/*
 * Each device ticks into its own checklist_day record for a day (proto/README.md rule
 * R7), remembered in the profile under "ck_day:DATE": two devices that tick different
 * items before either has seen the other's write two records, which readers combine by
 * union, instead of two revisions of one record, where the later would hide the other's
 * tick. Returns the index in l of this device's record for day, or SIZE_MAX.
 */
static size_t
own_day_record(dbk_session *s, const dbk_eu_list *l, const dbk_checklist *c, int64_t day)
{
    char key[32], date[11];
    unsigned char id[DBK_ID_BYTES];
    size_t n;

    dbk_day_format(day, date);
    snprintf(key, sizeof key, "ck_day:%s", date);
    if (dbk_local_get(s->L, key, id, sizeof id, &n) != DBK_OK || n != sizeof id)
        return SIZE_MAX;
    for (size_t i = 0; i < c->ndays; i++)
        if (c->day[i] == day && memcmp(l->v[c->days[i]].hdr.record.b, id, sizeof id) == 0)
            return c->days[i];
    return SIZE_MAX;
}

int
dbk_checklist_add(dbk_session *s, const dbk_eu_list *l, const dbk_checklist *c, int64_t day,
                  const json_t *items)
{
    size_t target = own_day_record(s, l, c, day), i;
    char date[11], tz[64], key[32];
    json_t *doc, *all, *v;
    dbk_id written;
    int rc, kind = DBK_LOCAL_SHARED;

    dbk_day_format(day, date);
    if (target != SIZE_MAX) {
        doc = json_deep_copy(l->v[target].doc); /* keeps the note and unknown fields */
        kind = l->v[target].kind;
    } else {
        dbk_local_tz(tz, sizeof tz);
        doc = json_pack("{s:s, s:i, s:s, s:s}", "type", "checklist_day", "v", 1, "date", date,
                        "tz", tz);
    }
    if (doc == NULL)
        return DBK_E_NOMEM;
    all = json_object_get(doc, "checked");
    if (!json_is_array(all))
        json_object_set_new(doc, "checked", all = json_array());
    json_array_foreach(items, i, v)
        if (json_is_string(v) && !dbk_checklist_has(all, json_string_value(v)))
            json_array_append(all, v);
    rc = dbk_entry_save(s, kind, target != SIZE_MAX ? &l->v[target].hdr.record : NULL, doc,
                        &written);
    json_decref(doc);
    snprintf(key, sizeof key, "ck_day:%s", date);
    if (rc == DBK_OK && target == SIZE_MAX)
        rc = dbk_local_put(s->L, key, written.b, DBK_ID_BYTES);
    return rc;
}

/*
 * Ticks item on day for this account, as 'daybook check' would. Nothing is written when
 * the item is not an active item or is already ticked that day.
 */
int
dbk_checklist_tick(dbk_session *s, const char *item, int64_t day, bool *ticked)
{
    dbk_eu_list l;
    dbk_checklist c;
    const dbk_ck_item *it;
    json_t *one;
    int rc;

    *ticked = false;
    if ((rc = dbk_eu_load(s, &l)) != DBK_OK)
        return rc;
    if ((rc = dbk_checklist_build(s, &l, &c)) != DBK_OK) {
        dbk_eu_free(&l);
        return rc;
    }
    it = dbk_checklist_item(&c, item);
    if (it != NULL && it->active && !dbk_checklist_checked(&c, &l, item, day)) {
        one = json_pack("[s]", item);
        rc = one ? dbk_checklist_add(s, &l, &c, day, one) : DBK_E_NOMEM;
        json_decref(one);
        *ticked = rc == DBK_OK;
    }
    dbk_checklist_free(&c);
    dbk_eu_free(&l);
    return rc;
}

/* Removes items from day's checklist: every record of the day that holds one of
 * them gets a revision without it (*wrote when one was written). */
int
dbk_checklist_remove(dbk_session *s, const dbk_eu_list *l, const dbk_checklist *c, int64_t day,
                     const json_t *items, bool *wrote)
{
    dbk_id written;
    size_t k;
    json_t *v;

    for (size_t i = 0; i < c->ndays && json_array_size(items) > 0; i++) {
        const dbk_eu_entry *e = &l->v[c->days[i]];
        json_t *keep, *doc;
        bool touched = false;
        int rc;
        if (c->day[i] != day)
            continue;
        keep = json_array();
        json_array_foreach(json_object_get(e->doc, "checked"), k, v) {
            if (json_is_string(v) && dbk_checklist_has(items, json_string_value(v)))
                touched = true;
            else
                json_array_append(keep, v);
        }
        if (!touched) {
            json_decref(keep);
            continue;
        }
        doc = json_deep_copy(e->doc);
        json_object_set_new(doc, "checked", keep);
        rc = dbk_entry_save(s, e->kind, &e->hdr.record, doc, &written);
        json_decref(doc);
        if (rc != DBK_OK)
            return rc;
        *wrote = true;
    }
    return DBK_OK;
}
