/* Entries in memory, revisions, days and the checklist; see entries_util.h. */
#include "entries_util.h"
#include "cmd.h"
#include "daycount.h"
#include "unlock.h"
#include "stream_key.h"

#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- entries in memory ---- */

struct load_ctx {
    dbk_session *s;
    dbk_eu_list *l;
    int rc;
};

static void
on_entry(const dbk_entry *e, void *arg)
{
    struct load_ctx *c = arg;
    dbk_eu_list *l = c->l;
    dbk_eu_entry *x;
    const char *type;

    if (c->rc != DBK_OK)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        dbk_eu_entry *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL) {
            c->rc = DBK_E_NOMEM;
            return;
        }
        l->v = v, l->cap = cap;
    }
    x = &l->v[l->n++];
    x->hdr = e->hdr;
    x->doc = json_incref(e->doc);
    type = json_string_value(json_object_get(e->doc, "type"));
    x->type = type ? type : "";
    x->pending = e->pending;
    x->kind = e->kind;
    x->owner = e->owner;
    x->mine = dbk_id_equal(&e->owner, &c->s->account);
}

static int
load(dbk_session *s, const dbk_id *owner, dbk_eu_list *out)
{
    struct load_ctx c = {s, out, DBK_OK};
    int rc;

    memset(out, 0, sizeof *out);
    rc = owner ? dbk_entries_owned(s, owner, on_entry, &c, &out->bad)
               : dbk_entries(s, on_entry, &c, &out->bad);
    if (rc == DBK_OK)
        rc = c.rc;
    if (rc != DBK_OK)
        dbk_eu_free(out);
    return rc;
}

int
dbk_eu_load(dbk_session *s, dbk_eu_list *out)
{
    return load(s, NULL, out);
}

int
dbk_eu_load_owned(dbk_session *s, const dbk_id *owner, dbk_eu_list *out)
{
    return load(s, owner, out);
}

void
dbk_eu_free(dbk_eu_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->v[i].doc);
    free(l->v);
    memset(l, 0, sizeof *l);
}

void
dbk_eu_warn_bad(const dbk_eu_list *l)
{
    if (l->bad > 0)
        fprintf(stderr, "daybook: %zu entries could not be opened (damaged or from an unknown "
                        "key) and are left out\n",
                l->bad);
}

int
dbk_eu_resolve(const dbk_eu_list *l, const char *arg, size_t *idx)
{
    size_t len = strlen(arg), found = 0;
    char t[DBK_ID_TEXT_LEN + 1];

    if (len < DBK_EU_PREFIX_MIN || len > DBK_ID_TEXT_LEN) {
        fprintf(stderr,
                "daybook: '%s' is not an entry id: give the id 'daybook log --json' shows, or "
                "at least its first %d characters\n",
                arg, DBK_EU_PREFIX_MIN);
        return DBK_EXIT_USAGE;
    }
    for (size_t i = 0; i < l->n; i++) {
        dbk_id_to_text(&l->v[i].hdr.record, t);
        if (strncmp(t, arg, len) == 0) {
            if (found++ == 0)
                *idx = i;
        }
    }
    if (found == 1)
        return DBK_EXIT_OK;
    if (found == 0) {
        fprintf(stderr, "daybook: no entry '%s' on this device; 'daybook log' lists your "
                        "entries (run 'daybook sync' first if it was written on another device)\n",
                arg);
        return DBK_EXIT_FAIL;
    }
    fprintf(stderr, "daybook: '%s' is the start of %zu entry ids:", arg, found);
    for (size_t i = 0; i < l->n; i++) {
        dbk_id_to_text(&l->v[i].hdr.record, t);
        if (strncmp(t, arg, len) == 0)
            fprintf(stderr, " %s", t);
    }
    fprintf(stderr, "\ndaybook: give more characters of the one you mean\n");
    return DBK_EXIT_FAIL;
}

/* ---- revisions ---- */

/* Opens one stored revision, as entry.c does for current ones. */
static json_t *
open_revision(dbk_session *s, const dbk_local_record *r)
{
    unsigned char key[32], pk[32], *plain;
    size_t plen, n;
    char name[64], t[DBK_ID_TEXT_LEN + 1];
    json_t *doc;

    if (s->keys == NULL)
        return NULL;
    if (dbk_id_equal(&r->hdr.author, &s->account)) {
        memcpy(pk, s->keys->sign_pk, 32);
    } else {
        dbk_id_to_text(&r->hdr.author, t);
        snprintf(name, sizeof name, "sign_pk:%s", t);
        if (dbk_local_get(s->L, name, pk, 32, &n) != DBK_OK || n != 32)
            return NULL;
    }
    if (dbk_stream_key(s, &r->hdr.stream, r->hdr.epoch, key) != DBK_OK)
        return NULL;
    dbk_envelope_expect x = {&r->hdr.stream, &r->hdr.record, r->hdr.epoch, &r->hdr.author, pk};
    if (dbk_envelope_open(r->env, r->len, &x, key, &plain, &plen) != DBK_OK) {
        sodium_memzero(key, sizeof key);
        return NULL;
    }
    sodium_memzero(key, sizeof key);
    doc = json_loadb((const char *)plain, plen, 0, NULL);
    dbk_plaintext_free(plain, plen);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

struct rev_ctx {
    dbk_session *s;
    dbk_eu_rev *v;
    size_t n, cap;
    int rc;
};

static void
on_rev(const dbk_local_record *r, void *arg)
{
    struct rev_ctx *c = arg;
    if (c->rc != DBK_OK)
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        dbk_eu_rev *v = realloc(c->v, cap * sizeof *v);
        if (v == NULL) {
            c->rc = DBK_E_NOMEM;
            return;
        }
        c->v = v, c->cap = cap;
    }
    c->v[c->n].hdr = r->hdr;
    c->v[c->n].current = r->current;
    c->v[c->n].pending = r->pending;
    c->v[c->n].doc = open_revision(c->s, r);
    c->n++;
}

int
dbk_eu_revisions(dbk_session *s, const dbk_id *record, dbk_eu_rev **out, size_t *n)
{
    struct rev_ctx c = {s, NULL, 0, 0, DBK_OK};
    int rc = dbk_unlock(s);

    if (rc == DBK_OK)
        rc = dbk_local_revisions(s->L, record, on_rev, &c);
    if (rc == DBK_OK)
        rc = c.rc;
    if (rc != DBK_OK) {
        dbk_eu_revisions_free(c.v, c.n);
        *out = NULL, *n = 0;
        return rc;
    }
    *out = c.v, *n = c.n;
    return DBK_OK;
}

void
dbk_eu_revisions_free(dbk_eu_rev *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(v[i].doc);
    free(v);
}

/* ---- days, text, output ---- */

int64_t
dbk_eu_today(void)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    return dbk_day_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
                              (unsigned)tm.tm_mday);
}

bool
dbk_eu_entry_day(const json_t *doc, int64_t *day)
{
    static const char *const keys[] = {"occurred_at", "written_at", "date", "deleted_at"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = json_string_value(json_object_get(doc, keys[i]));
        if (v != NULL)
            return strlen(v) >= 10 && dbk_day_parse(v, day);
    }
    return false;
}

const char *
dbk_eu_stream_name(int kind)
{
    return kind == DBK_LOCAL_PRIVATE ? "private" : "shared";
}

void
dbk_eu_clock_text(uint64_t clock, char out[32])
{
    time_t t = (time_t)(dbk_hlc_ms(clock) / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

bool
dbk_eu_intensity10(const json_t *craving, double *out)
{
    const json_t *i = json_object_get(craving, "intensity");
    const char *scale = json_string_value(json_object_get(i, "scale"));
    const json_t *v = json_object_get(i, "value");

    if (scale == NULL || !json_is_integer(v))
        return false;
    if (strcmp(scale, "0-10") == 0 && json_integer_value(v) >= 0 && json_integer_value(v) <= 10)
        *out = (double)json_integer_value(v);
    else if (strcmp(scale, "1-100") == 0 && json_integer_value(v) >= 1 &&
             json_integer_value(v) <= 100)
        *out = (double)json_integer_value(v) / 10.0;
    else
        return false;
    return true;
}

void
dbk_eu_wipe_free(char *s)
{
    if (s != NULL) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

void
dbk_eu_print_json(FILE *out, const json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    fprintf(out, "%s\n", text ? text : "null");
    dbk_eu_wipe_free(text);
}

size_t
dbk_eu_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[65];

    if (la > 64 || lb > 64)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[lb];
}

/* ---- the checklist ---- */

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
        else if (strcmp(l->v[i].type, "checklist_day") == 0)
            ndays++;
    }
    c->items = calloc(cap, sizeof *c->items);
    c->days = calloc(ndays + 1, sizeof *c->days);
    c->day = calloc(ndays + 1, sizeof *c->day);
    if (c->items == NULL || c->days == NULL || c->day == NULL) {
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
        }
    }
    return DBK_OK;
}

void
dbk_checklist_free(dbk_checklist *c)
{
    free(c->items);
    free(c->days);
    free(c->day);
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
    for (size_t i = 0; i < c->ndays; i++)
        if (c->day[i] == day &&
            dbk_checklist_has(json_object_get(l->v[c->days[i]].doc, "checked"), item))
            return true;
    return false;
}

int64_t *
dbk_checklist_days_of(const dbk_checklist *c, const dbk_eu_list *l, const char *item, size_t *n)
{
    int64_t *out = malloc((c->ndays + 1) * sizeof *out);
    *n = 0;
    if (out == NULL)
        return NULL;
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

/* ---- craving figures ---- */

dbk_eu_count *
dbk_eu_counts_bump(dbk_eu_counts *c, const char *kind, const char *value)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].kind, kind) == 0 && strcmp(c->v[i].value, value) == 0) {
            c->v[i].n++;
            return &c->v[i];
        }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        dbk_eu_count *v = realloc(c->v, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        c->v = v, c->cap = cap;
    }
    dbk_eu_count *x = &c->v[c->n++];
    snprintf(x->kind, sizeof x->kind, "%s", kind);
    x->value = value;
    x->n = 1;
    x->resisted = 0;
    return x;
}

static int
by_count(const void *a, const void *b)
{
    const dbk_eu_count *x = a, *y = b;
    int d;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    if ((d = strcmp(x->kind, y->kind)) != 0)
        return d;
    return strcmp(x->value, y->value);
}

void
dbk_eu_counts_sort(dbk_eu_counts *c)
{
    if (c->n > 1)
        qsort(c->v, c->n, sizeof *c->v, by_count);
}

void
dbk_eu_counts_free(dbk_eu_counts *c)
{
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* Whether value is already among the first n strings of arr. */
static bool
seen_before(const json_t *arr, size_t n, const char *value)
{
    for (size_t i = 0; i < n; i++) {
        const char *x = json_string_value(json_array_get(arr, i));
        if (x != NULL && strcmp(x, value) == 0)
            return true;
    }
    return false;
}

void
dbk_eu_count_triggers(dbk_eu_counts *c, const json_t *triggers)
{
    const char *kind;
    json_t *v;
    json_object_foreach((json_t *)triggers, kind, v) {
        size_t i;
        json_t *x;
        if (json_is_true(v) && strcmp(kind, "withdrawal") == 0) {
            dbk_eu_counts_bump(c, "withdrawal", "");
            continue;
        }
        json_array_foreach(v, i, x)
            if (json_is_string(x) && json_string_length(x) > 0 &&
                !seen_before(v, i, json_string_value(x)))
                dbk_eu_counts_bump(c, kind, json_string_value(x));
    }
}

const char *
dbk_eu_outcome(const json_t *craving)
{
    return json_string_value(json_object_get(json_object_get(craving, "outcome"), "result"));
}

void
dbk_eu_count_coping(dbk_eu_counts *c, const json_t *craving)
{
    const char *result = dbk_eu_outcome(craving);
    const json_t *cop = json_object_get(craving, "coping");
    size_t k;
    json_t *x;
    json_array_foreach(cop, k, x) {
        dbk_eu_count *n;
        if (!json_is_string(x) || seen_before(cop, k, json_string_value(x)))
            continue;
        if ((n = dbk_eu_counts_bump(c, "", json_string_value(x))) != NULL && result != NULL &&
            strcmp(result, "resisted") == 0)
            n->resisted++;
    }
}
