/*
 * The review's Read first box and the changes to entries already reviewed.
 * It stands below the review (review.c calls it) and takes nothing from it:
 * the period and the time format come from period.h.
 *
 * Read first is decision support: it lists, before anything else, what a
 * program watches for between sessions (DOMAIN.md): risk language (risk.h), a
 * reported use, a craving of DBK_REVIEW_RISK_CRAVING or more, a mood at or below
 * DBK_REVIEW_LOW_MOOD, missed medication days, the days with no entry, and
 * entries the client removed or edited after the counselor had reviewed them.
 * Flags are the software's; the counselor decides, and the box says so.
 *
 * A flagged entry from before the period stays in the box, marked "carried
 * forward: not yet discussed", until the counselor marks it discussed
 * ('daybook session discussed CLIENT ID'): a discussed record in the counselor's
 * private stream, like the session markers, so a 'session done' never hides
 * what nobody talked about.
 *
 * The kept copies: every client entry a review showed is remembered, as first
 * seen, in the counselor's local meta sealed to their own key ("reviewed:<id>");
 * a later removal or edit by the client shows against that copy.
 */
#include "read_first.h"
#include "reviewed.h"
#include "counts.h"
#include "daycount.h"
#include "measures.h"

#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITEMS_MAX DBK_REVIEW_ITEMS_MAX
#define KEPT_CAP (8u << 20) /* the sealed copies of one client's reviewed entries */

static const char *
str_or(const json_t *doc, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(doc, key));
    return v ? v : dflt;
}

/* The record ids the counselor marked discussed for client, as {id: at}. */
static json_t *
discussed_set(const dbk_eu_list *l, const char *client)
{
    json_t *set = json_object();
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        const char *rec = str_or(e->doc, "record", NULL);
        if (e->mine && e->kind == DBK_LOCAL_PRIVATE && strcmp(e->type, "discussed") == 0 &&
            rec != NULL && strcmp(str_or(e->doc, "client", ""), client) == 0)
            json_object_set_new(set, rec, json_string(str_or(e->doc, "at", "")));
    }
    return set;
}

static json_t *
item(const char *kind, const dbk_eu_entry *e, const char *when, const char *text)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "kind", kind, "when", when, "text", text);
    if (e != NULL) {
        char id[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(&e->hdr.record, id);
        json_object_set_new(o, "record", json_string(id));
    }
    return o;
}

/* A check-in: use that day, a peak craving of 9-10, a low mood, a risky situation. */
static void
checkin_flags(const dbk_eu_entry *e, bool before, const char *when, json_t *items)
{
    char line[200];
    const json_t *use = json_object_get(e->doc, "use");
    if (json_is_true(json_object_get(use, "any"))) {
        const char *what = str_or(use, "substance", NULL);
        snprintf(line, sizeof line, "reported use in a check-in%s%.80s", what ? ": " : "",
                 what ? what : "");
        json_array_append_new(items, item("use", e, when, line));
    }
    json_int_t peak = json_integer_value(json_object_get(e->doc, "craving_peak"));
    if (json_is_integer(json_object_get(e->doc, "craving_peak")) &&
        peak >= DBK_REVIEW_RISK_CRAVING) {
        snprintf(line, sizeof line, "peak craving of %d/10 in a check-in", (int)peak);
        json_array_append_new(items, item("high_craving", e, when, line));
    }
    json_int_t mood = json_integer_value(json_object_get(e->doc, "mood"));
    if (!before && json_is_integer(json_object_get(e->doc, "mood")) &&
        mood <= DBK_REVIEW_LOW_CHECKIN_MOOD) {
        snprintf(line, sizeof line, "mood %d/10 in a check-in (low)", (int)mood);
        json_array_append_new(items, item("low_mood", e, when, line));
    }
    if (!before && json_is_true(json_object_get(e->doc, "risky_situation")))
        json_array_append_new(items, item("risky_situation", e, when,
                                          "a risky situation reported in a check-in"));
}

/*
 * A measure, scored again from its answers (never from the score the writer
 * stored): PHQ-9 item 9 above 0 is risk; a PHQ-9 or GAD-7 band of moderately
 * severe or severe, and a BAM composite past its cut-off, are their own items.
 * Answers that do not score are flagged too: when unsure, flag.
 */
static void
measure_flags(const dbk_eu_entry *e, const char *when, json_t *items)
{
    const dbk_measure *m = dbk_measure_find(str_or(e->doc, "instrument", ""));
    const json_t *ans = json_object_get(e->doc, "answers");
    int v[DBK_MEASURE_ITEMS_MAX];
    dbk_measure_score sc;
    char line[200];
    if (m == NULL || m->nitems > DBK_MEASURE_ITEMS_MAX)
        return;
    for (size_t i = 0; i < m->nitems; i++) {
        const json_t *a = json_object_get(ans, m->items[i].id);
        v[i] = json_is_integer(a) ? (int)json_integer_value(a) : -1;
    }
    if (!dbk_measure_score_answers(m, v, m->nitems, &sc)) {
        snprintf(line, sizeof line, "%s answers that do not score: read them yourself", m->name);
        json_array_append_new(items, item("measure", e, when, line));
        return;
    }
    if (sc.self_harm) {
        json_t *o = item("risk", e, when, "");
        snprintf(line, sizeof line, "PHQ-9 item 9 (thoughts of self-harm) answered %d of 3",
                 v[8]);
        json_object_set_new(o, "text", json_string(line));
        json_object_set_new(o, "category", json_string(DBK_RISK_SELF_HARM));
        json_array_append_new(items, o);
    }
    if (sc.band != NULL && (strcmp(sc.band, "severe") == 0 ||
                            strcmp(sc.band, "moderately severe") == 0)) {
        snprintf(line, sizeof line, "%s %d: %s", m->name, sc.total, sc.band);
        json_array_append_new(items, item("measure", e, when, line));
    }
    if (sc.use_flag || sc.risk_flag || sc.protective_flag) {
        snprintf(line, sizeof line, "BAM past its cut-off:%s%s%s", sc.use_flag ? " use" : "",
                 sc.risk_flag ? " risk" : "", sc.protective_flag ? " low protection" : "");
        json_array_append_new(items, item("measure", e, when, line));
    }
}

/* The flags one entry raises, appended to items (each with discussed/carried). */
static void
entry_flags(const dbk_eu_entry *e, const dbk_review_period *p, const dbk_risk_extra *extra,
            const json_t *discussed, json_t *items)
{
    static const char *const texts[] = {"text", "situation", "thoughts", "feelings", "note"};
    char when[DBK_REVIEW_WHEN_MAX], id[DBK_ID_TEXT_LEN + 1], line[200];
    bool journal = strcmp(e->type, "journal") == 0;
    int64_t day = 0;
    double v = 0;
    (void)dbk_eu_entry_day(e->doc, &day);
    bool before = day < p->from;
    dbk_id_to_text(&e->hdr.record, id);
    bool was_discussed = json_object_get(discussed, id) != NULL;
    if (before && was_discussed)
        return;
    dbk_review_when(e->doc, dbk_review_when_key(e->type), when);
    size_t first = json_array_size(items);

    dbk_risk_hit hit;
    for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
        if (dbk_risk_screen(str_or(e->doc, texts[k], NULL), extra, &hit)) {
            snprintf(line, sizeof line, "risk language (%s) in a %s", hit.category,
                     journal ? "journal entry" : strcmp(e->type, "checkin") == 0 ? "check-in"
                                                                              : "craving");
            json_t *o = item("risk", e, when, line);
            json_object_set_new(o, "category", json_string(hit.category));
            json_object_set_new(o, "quote", json_string(hit.sentence));
            json_array_append_new(items, o);
            break;
        }
    }
    if (strcmp(e->type, "checkin") == 0)
        checkin_flags(e, before, when, items);
    else if (strcmp(e->type, "measure") == 0)
        measure_flags(e, when, items);
    const char *result = strcmp(e->type, "craving") != 0 ? NULL : dbk_eu_outcome(e->doc);
    if (result != NULL && strcmp(result, "used") == 0) {
        const char *what = json_string_value(json_object_get(
            json_object_get(json_object_get(e->doc, "outcome"), "used"), "substance"));
        snprintf(line, sizeof line, "reported use%s%.80s", what ? ": " : "", what ? what : "");
        json_array_append_new(items, item("use", e, when, line));
    }
    if (strcmp(e->type, "craving") == 0 && dbk_eu_intensity10(e->doc, &v) &&
        v >= DBK_REVIEW_RISK_CRAVING) {
        snprintf(line, sizeof line, "craving of %g/10", v);
        json_array_append_new(items, item("high_craving", e, when, line));
    }
    json_int_t mood = json_integer_value(json_object_get(e->doc, "mood"));
    if (journal && !before && json_is_integer(json_object_get(e->doc, "mood")) &&
        mood <= DBK_REVIEW_LOW_MOOD) {
        snprintf(line, sizeof line, "mood %d/5 (%s)", (int)mood, mood <= 1 ? "very low" : "low");
        json_array_append_new(items, item("low_mood", e, when, line));
    }
    for (size_t i = first; i < json_array_size(items); i++) {
        json_t *o = json_array_get(items, i);
        json_object_set_new(o, "discussed", json_boolean(was_discussed));
        json_object_set_new(o, "carried_forward", json_boolean(before));
    }
}

void
dbk_review_entry_marks(const dbk_eu_entry *e, const dbk_risk_extra *extra, int *nitems,
                       int *nrisk, int *nuse, json_t **out)
{
    /* As an entry from before the period, never discussed: what it would carry forward. */
    dbk_review_period p = {.from = INT64_MAX, .to = INT64_MAX, .since = "default",
                           .enrolled_day = INT64_MIN};
    json_t *items = json_array(), *none = json_object(), *x;
    size_t i;
    *nitems = *nrisk = *nuse = 0;
    entry_flags(e, &p, extra, none, items);
    json_array_foreach(items, i, x) {
        (*nitems)++;
        *nrisk += strcmp(str_or(x, "kind", ""), "risk") == 0;
        *nuse += strcmp(str_or(x, "kind", ""), "use") == 0;
    }
    if (out != NULL)
        *out = json_incref(items);
    json_decref(items);
    json_decref(none);
}

void
dbk_review_carried_free(dbk_review_carried_list *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].when != NULL)
            dbk_eu_wipe_free(c->v[i].when);
        json_decref(c->v[i].items);
    }
    free(c->v);
    if (c->cravings != NULL)
        sodium_memzero(c->cravings, c->capcravings * sizeof *c->cravings);
    free(c->cravings);
    memset(c, 0, sizeof *c);
}

static int
carried_newest_first(const void *a, const void *b)
{
    const dbk_review_carried *x = a, *y = b;
    int d = strcmp(y->when, x->when);
    if (d != 0)
        return d;
    return y->clock > x->clock ? 1 : y->clock < x->clock ? -1 : 0;
}

/* Whether opened entry e comes before carried c, newest first (review.c's order). */
static bool
entry_first(const dbk_eu_entry *e, const dbk_review_carried *c)
{
    int d = strcmp(str_or(e->doc, dbk_review_when_key(e->type), ""), c->when);
    return d != 0 ? d > 0 : e->hdr.rev.clock >= c->clock;
}

/* The items of a carried entry, unless the counselor marked it discussed. */
static void
carried_flags(const dbk_review_carried *c, const json_t *discussed, json_t *items)
{
    char id[DBK_ID_TEXT_LEN + 1];
    size_t i;
    json_t *x;
    dbk_id_to_text(&c->record, id);
    if (json_object_get(discussed, id) != NULL)
        return;
    json_array_foreach(c->items, i, x)
        json_array_append_new(items, json_deep_copy(x));
}

json_t *
dbk_review_discussed(const dbk_eu_list *l, const dbk_id *client)
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(client, t);
    return discussed_set(l, t);
}

static void
append_days(json_t *items, const char *kind, const json_t *days, const char *what)
{
    size_t n = json_array_size(days), i;
    json_t *x;
    char text[400];
    int k;
    if (n == 0)
        return;
    k = snprintf(text, sizeof text, "%s on %zu day%s:", what, n, n == 1 ? "" : "s");
    json_array_foreach(days, i, x) {
        if (k < 0 || (size_t)k >= sizeof text - 16) {
            snprintf(text + k, sizeof text - (size_t)k, " ...");
            break;
        }
        k += snprintf(text + k, sizeof text - (size_t)k, " %s", json_string_value(x) + 5);
    }
    json_t *o = item(kind, NULL, json_string_value(json_array_get(days, n - 1)), text);
    json_object_set(o, "dates", (json_t *)days);
    json_object_set_new(o, "discussed", json_false());
    json_object_set_new(o, "carried_forward", json_false());
    json_array_append_new(items, o);
}

static const char *
md_last(const json_t *days)
{
    const char *v = json_string_value(json_array_get(days, json_array_size(days) - 1));
    return v != NULL ? v : "";
}

/* Items ordered by urgency: risk, use, craving, medication, mood, changes, silence. */
static int
rank(const char *kind)
{
    static const char *const order[] = {"risk",     "use",     "high_craving",    "missed_medication",
                                        "measure",  "low_mood", "risky_situation", "removed",
                                        "edited",   "silence"};
    for (int i = 0; i < (int)(sizeof order / sizeof *order); i++)
        if (strcmp(kind, order[i]) == 0)
            return i;
    return 99;
}

static int
by_rank(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return rank(str_or(x, "kind", "")) - rank(str_or(y, "kind", ""));
}

static json_t *
sorted(json_t *items)
{
    size_t n = json_array_size(items);
    json_t **v = malloc((n + 1) * sizeof *v), *out = json_array();
    if (v == NULL)
        return items;
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(items, i);
    /* A stable order within a kind: insertion sort by rank (n is small). */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && by_rank(&v[j - 1], &v[j]) > 0; j--) {
            json_t *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    for (size_t i = 0; i < n && i < ITEMS_MAX; i++)
        json_array_append(out, v[i]);
    free(v);
    json_decref(items);
    return out;
}

json_t *
dbk_review_read_first(const dbk_eu_list *l, const dbk_id *client, const dbk_review_period *p,
                      const dbk_risk_extra *extra, const dbk_eu_entry *const *flaggable, size_t n,
                      const dbk_review_carried_list *carried, const json_t *engagement,
                      const json_t *medication, const json_t *changes)
{
    char t[DBK_ID_TEXT_LEN + 1];
    size_t i, k = 0, nc = carried != NULL ? carried->n : 0;
    json_t *x, *items = json_array();
    dbk_id_to_text(client, t);
    json_t *discussed = discussed_set(l, t);
    /* The entries opened and those carried from the summary, merged newest first as
     * if every one had been opened. */
    if (nc > 0)
        qsort(carried->v, nc, sizeof *carried->v, carried_newest_first);
    for (i = 0; i < n || k < nc;) {
        if (k == nc || (i < n && entry_first(flaggable[i], &carried->v[k])))
            entry_flags(flaggable[i++], p, extra, discussed, items);
        else
            carried_flags(&carried->v[k++], discussed, items);
    }
    json_decref(discussed);
    bool mat = strcmp(str_or(medication, "source", ""), "mat") == 0;
    append_days(items, "missed_medication", json_object_get(medication, "missed_days"),
                mat ? "a dose missed" : "medication not ticked");
    json_int_t streak = json_integer_value(json_object_get(medication, "missed_streak"));
    if (mat && streak >= DBK_REVIEW_MISSED_STREAK) {
        char text[120];
        const json_t *md = json_object_get(medication, "missed_days");
        snprintf(text, sizeof text, "doses missed %d days in a row", (int)streak);
        json_t *o = item("missed_medication", NULL,
                         md_last(md), text);
        json_object_set_new(o, "streak", json_integer(streak));
        json_object_set_new(o, "discussed", json_false());
        json_object_set_new(o, "carried_forward", json_false());
        json_array_append_new(items, o);
    }
    json_array_foreach(changes, i, x) {
        json_t *o = json_deep_copy(x);
        json_object_set_new(o, "discussed", json_false());
        json_object_set_new(o, "carried_forward", json_false());
        json_array_append_new(items, o);
    }
    append_days(items, "silence", json_object_get(engagement, "days_without_entry"),
                "no entry at all");
    items = sorted(items);
    size_t risk = 0;
    json_array_foreach(items, i, x)
        risk += strcmp(str_or(x, "kind", ""), "risk") == 0;
    return json_pack("{s:s, s:i, s:i, s:o}", "label", DBK_REVIEW_DECISION_SUPPORT, "count",
                     (int)json_array_size(items), "risk", (int)risk, "items", items);
}

/* ---- the kept copies ---- */

static void
kept_key(const dbk_id *client, char out[64])
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(client, t);
    snprintf(out, 64, "reviewed:%s", t);
}

int
dbk_review_kept_load(dbk_session *s, const dbk_id *client, json_t **kept)
{
    char key[64];
    kept_key(client, key);
    return dbk_co_sealed_get(s, key, KEPT_CAP, kept);
}

static const dbk_eu_entry *
find_record(const dbk_eu_list *l, const dbk_id *client, const char *id)
{
    for (size_t i = 0; i < l->n; i++) {
        char t[DBK_ID_TEXT_LEN + 1];
        if (!dbk_id_equal(&l->v[i].owner, client))
            continue;
        dbk_id_to_text(&l->v[i].hdr.record, t);
        if (strcmp(t, id) == 0)
            return &l->v[i];
    }
    return NULL;
}

/* Adds to kept the client's journal entries and cravings of the period it does not
 * hold yet (the copy as first reviewed stays); whether it added any. */
static bool
kept_add(const dbk_id *client, const dbk_eu_list *l, const dbk_review_period *p, json_t *kept)
{
    char seen[40];
    bool added = false;
    dbk_now_rfc3339(seen);
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        char id[DBK_ID_TEXT_LEN + 1], clock[24];
        int64_t d;
        if (!dbk_id_equal(&e->owner, client) || !dbk_id_equal(&e->hdr.author, client) ||
            (strcmp(e->type, "journal") != 0 && strcmp(e->type, "craving") != 0) ||
            !dbk_eu_entry_day(e->doc, &d) || dbk_review_day_in(p, d) < p->from)
            continue;
        dbk_id_to_text(&e->hdr.record, id);
        if (json_object_get(kept, id) != NULL)
            continue; /* the copy as first reviewed stays */
        snprintf(clock, sizeof clock, "%llu", (unsigned long long)e->hdr.rev.clock);
        json_object_set_new(kept, id, json_pack("{s:s, s:s, s:O}", "clock", clock, "seen_at",
                                                seen, "doc", e->doc));
        added = true;
    }
    return added;
}

int
dbk_review_remember(dbk_session *s, const dbk_id *client, const dbk_eu_list *l,
                    const dbk_review_period *p, json_t *kept, bool *mark_failed)
{
    char key[64];
    int rc, mrc;

    *mark_failed = false;
    kept_key(client, key);
    bool added = kept_add(client, l, p, kept);
    if ((rc = dbk_local_begin(s->L)) != DBK_OK)
        return rc;
    if (added && (rc = dbk_co_sealed_put(s, key, kept)) != DBK_OK) {
        dbk_local_rollback(s->L);
        return rc;
    }
    mrc = dbk_co_reviewed_mark(s, client, l, kept);
    if (mrc == DBK_OK || mrc == DBK_E_NOT_FOUND) {
        if ((rc = dbk_local_commit(s->L)) != DBK_OK)
            dbk_local_rollback(s->L);
        return rc;
    }
    /* The note did not go: the copies must stay all the same (what the counselor saw is
     * never lost), on their own. */
    dbk_local_rollback(s->L);
    *mark_failed = true;
    if (added && (rc = dbk_co_sealed_put(s, key, kept)) != DBK_OK) {
        *mark_failed = false;
        return rc;
    }
    return mrc;
}

/* "craving 8/10, used: alcohol" or the first words of a journal entry. */
static void
summary(const json_t *doc, char *out, size_t cap)
{
    const char *type = str_or(doc, "type", "");
    double v = 0;
    if (strcmp(type, "craving") == 0) {
        const char *r = dbk_eu_outcome(doc);
        const char *what = json_string_value(json_object_get(
            json_object_get(json_object_get(doc, "outcome"), "used"), "substance"));
        snprintf(out, cap, "craving %g/10, %s%s%.60s", dbk_eu_intensity10(doc, &v) ? v : 0.0,
                 r ? r : "no outcome", what ? ": " : "", what ? what : "");
    } else {
        snprintf(out, cap, "journal: %.100s", str_or(doc, "text", ""));
    }
}

json_t *
dbk_review_changes(const dbk_eu_list *l, const dbk_id *client, const dbk_review_period *p,
                   const json_t *kept)
{
    json_t *out = json_array(), *v;
    const char *id;
    json_object_foreach((json_t *)kept, id, v) {
        const dbk_eu_entry *e = find_record(l, client, id);
        unsigned long long was = strtoull(str_or(v, "clock", "0"), NULL, 10);
        char when[32], text[300], about[200];
        int64_t day;
        if (e == NULL || e->hdr.rev.clock == was)
            continue;
        bool removed = strcmp(e->type, "tombstone") == 0;
        dbk_eu_clock_text(e->hdr.rev.clock, when);
        if (!dbk_day_parse(when, &day) || day < p->from)
            continue; /* shown in the review of the period it happened in */
        summary(json_object_get(v, "doc"), about, sizeof about);
        snprintf(text, sizeof text, "%s by the client on %.10s after you reviewed it (%s)",
                 removed ? "removed" : "edited", when, about);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "kind",
                              removed ? "removed" : "edited", "record", id, "when", when, "text",
                              text, "seen_at", str_or(v, "seen_at", ""), "as_reviewed",
                              json_object_get(v, "doc"));
        if (!removed)
            json_object_set(o, "now", e->doc);
        json_array_append_new(out, o);
    }
    return out;
}
