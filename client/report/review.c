/*
 * The pre-session review, computed: from the loaded entries of one client, one
 * JSON object that the text, JSON and HTML outputs all render (render.h). What
 * each figure means is told in cmd_review.c's header; the period is the days
 * since the last session marker (or --since, or the default window).
 */
#include "review.h"
#include "measures_review.h"
#include "mat.h"
#include "checklist.h"
#include "entry.h"
#include "sync.h"
#include "counts.h"
#include "daycount.h"

#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOP_TRIGGERS 5
#define NOTES_MAX 10
#define TRIGGERS_LISTED 40

static const char *const halt_states[] = {"hungry", "angry", "lonely", "tired"};

/* ---- the review ----
 *
 * dbk_review_build gathers the client's entries once (gather), then each section
 * is computed by its own step from what was gathered: lapses, engagement,
 * cravings (with the trend against the previous period), the checklist,
 * medication, the journal, the notes, the changes to entries already reviewed,
 * and last the Read first box, which draws on all of them.
 */

static json_t *
real_or_null(bool have, double v)
{
    return have ? json_real(v) : json_null();
}

/* Entries sorted newest first: by the time field, then by the revision clock. */
struct dated {
    const dbk_eu_entry *e;
    const char *when;
};

static int
newest_first(const void *a, const void *b)
{
    const struct dated *x = a, *y = b;
    int d = strcmp(y->when, x->when);
    if (d != 0)
        return d;
    return y->e->hdr.rev.clock > x->e->hdr.rev.clock   ? 1
           : y->e->hdr.rev.clock < x->e->hdr.rev.clock ? -1
                                                       : 0;
}

static const char *
str_or(const json_t *doc, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(doc, key));
    return v ? v : dflt;
}

/* Craving figures over [from, to]. */
struct cstats {
    size_t count;
    double sum, peak;
};

static void
cstats_add(struct cstats *cs, double v)
{
    cs->count++;
    cs->sum += v;
    if (cs->count == 1 || v > cs->peak)
        cs->peak = v;
}

/* Over the entries opened and the cravings left closed (closed may be NULL), summed in
 * the order of their revision clocks, as if every one had been opened. */
static void
craving_stats(const dbk_eu_list *l, const dbk_review_carried_list *closed, const dbk_id *client,
              int64_t from, int64_t to, struct cstats *cs)
{
    size_t k = 0, nk = closed != NULL ? closed->ncravings : 0;
    memset(cs, 0, sizeof *cs);
    for (size_t i = 0; i <= l->n; i++) {
        const dbk_eu_entry *e = i < l->n ? &l->v[i] : NULL;
        int64_t d;
        double v;
        for (; k < nk && (e == NULL || closed->cravings[k].clock < e->hdr.rev.clock); k++)
            if (closed->cravings[k].day >= from && closed->cravings[k].day <= to)
                cstats_add(cs, closed->cravings[k].intensity);
        if (e == NULL || !dbk_id_equal(&e->owner, client) ||
            !dbk_id_equal(&e->hdr.author, client) || strcmp(e->type, "craving") != 0 ||
            !dbk_eu_entry_day(e->doc, &d) || d < from || d > to ||
            !dbk_eu_intensity10(e->doc, &v))
            continue;
        cstats_add(cs, v);
    }
}

/* What gather collects from the entries, for the steps. */
struct acc {
    const dbk_review_period *p;
    size_t days;
    int *per_n, *per_entries;
    double *per_sum, *per_peak;
    struct dated *used, *jour, *notes, *cravings, *flaggable;
    size_t nused, njour, nnotes, ncravings, nflaggable, count;
    int halt[4];
    double sum, peak;
    uint64_t last_clock;
    int64_t last_day, first_day;
    dbk_eu_counts trig, coping;
};

static void
acc_free(struct acc *a)
{
    dbk_eu_counts_free(&a->trig);
    dbk_eu_counts_free(&a->coping);
    free(a->per_n);
    free(a->per_entries);
    free(a->per_sum);
    free(a->per_peak);
    free(a->used);
    free(a->jour);
    free(a->notes);
    free(a->cravings);
    free(a->flaggable);
}

static void
gather_craving(struct acc *a, const dbk_eu_entry *e, size_t di)
{
    double v;
    a->cravings[a->ncravings].e = e;
    a->cravings[a->ncravings++].when = str_or(e->doc, "occurred_at", "");
    if (!dbk_eu_intensity10(e->doc, &v))
        return;
    a->count++;
    a->sum += v;
    if (a->count == 1 || v > a->peak)
        a->peak = v;
    if (a->per_n[di] == 0 || v > a->per_peak[di])
        a->per_peak[di] = v;
    a->per_n[di]++;
    a->per_sum[di] += v;
    const json_t *tr = json_object_get(e->doc, "triggers");
    dbk_eu_count_triggers(&a->trig, tr);
    for (size_t h = 0; h < 4; h++)
        a->halt[h] += dbk_checklist_has(json_object_get(tr, "halt"), halt_states[h]);
    dbk_eu_count_coping(&a->coping, e->doc);
    const char *result = dbk_eu_outcome(e->doc);
    if (result != NULL && strcmp(result, "used") == 0) {
        a->used[a->nused].e = e;
        a->used[a->nused++].when = str_or(e->doc, "occurred_at", "");
    }
}

/* One pass over the entries: the client's own in the period, the counselor's notes,
 * and every client entry that Read first may carry forward from before the period. */
static int
gather(dbk_session *s, const dbk_eu_list *l, const dbk_id *client, struct acc *a)
{
    size_t days = a->days, n = l->n + 1;
    a->last_day = INT64_MIN;
    a->first_day = INT64_MAX;
    a->per_n = calloc(days, sizeof *a->per_n);
    a->per_entries = calloc(days, sizeof *a->per_entries);
    a->per_sum = calloc(days, sizeof *a->per_sum);
    a->per_peak = calloc(days, sizeof *a->per_peak);
    a->used = calloc(n, sizeof *a->used);
    a->jour = calloc(n, sizeof *a->jour);
    a->notes = calloc(n, sizeof *a->notes);
    a->cravings = calloc(n, sizeof *a->cravings);
    a->flaggable = calloc(n, sizeof *a->flaggable);
    if (!a->per_n || !a->per_entries || !a->per_sum || !a->per_peak || !a->used || !a->jour ||
        !a->notes || !a->cravings || !a->flaggable)
        return DBK_E_NOMEM;
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        int64_t d;
        /* The counselor's notes about this client: shared ones in the client's stream,
         * the counselor's own in its private stream, naming the client. */
        if (strcmp(e->type, "note") == 0 && dbk_id_equal(&e->hdr.author, &s->account) &&
            dbk_id_equal(&e->owner, &s->account) && e->kind == DBK_LOCAL_PRIVATE) {
            char ct[DBK_ID_TEXT_LEN + 1];
            dbk_id_to_text(client, ct);
            if (strcmp(str_or(e->doc, "client", ""), ct) == 0) {
                a->notes[a->nnotes].e = e;
                a->notes[a->nnotes++].when = str_or(e->doc, "written_at", "");
            }
            continue;
        }
        if (!dbk_id_equal(&e->owner, client))
            continue;
        if (strcmp(e->type, "note") == 0 && dbk_id_equal(&e->hdr.author, &s->account)) {
            a->notes[a->nnotes].e = e;
            a->notes[a->nnotes++].when = str_or(e->doc, "written_at", "");
            continue;
        }
        if (!dbk_id_equal(&e->hdr.author, client) || strcmp(e->type, "tombstone") == 0 ||
            !dbk_eu_entry_day(e->doc, &d))
            continue;
        /* A day after this device's today is the client's (a time zone ahead, a clock
         * ahead): the entry counts today, never outside the review. */
        d = dbk_review_day_in(a->p, d);
        if (e->hdr.rev.clock > a->last_clock)
            a->last_clock = e->hdr.rev.clock;
        if (d > a->last_day)
            a->last_day = d;
        if (d < a->first_day)
            a->first_day = d;
        if (strcmp(e->type, "journal") == 0 || strcmp(e->type, "craving") == 0 ||
            strcmp(e->type, "checkin") == 0 || strcmp(e->type, "measure") == 0) {
            a->flaggable[a->nflaggable].e = e;
            a->flaggable[a->nflaggable++].when = str_or(e->doc, dbk_review_when_key(e->type), "");
        }
        if (d < a->p->from)
            continue;
        size_t di = (size_t)(d - a->p->from);
        a->per_entries[di]++;
        if (strcmp(e->type, "journal") == 0) {
            a->jour[a->njour].e = e;
            a->jour[a->njour++].when = str_or(e->doc, "written_at", "");
        } else if (strcmp(e->type, "craving") == 0) {
            gather_craving(a, e, di);
        }
    }
    dbk_eu_counts_sort(&a->trig);
    dbk_eu_counts_sort(&a->coping);
    qsort(a->used, a->nused, sizeof *a->used, newest_first);
    qsort(a->jour, a->njour, sizeof *a->jour, newest_first);
    qsort(a->notes, a->nnotes, sizeof *a->notes, newest_first);
    qsort(a->cravings, a->ncravings, sizeof *a->cravings, newest_first);
    qsort(a->flaggable, a->nflaggable, sizeof *a->flaggable, newest_first);
    return DBK_OK;
}

static const char *
used_substance(const json_t *doc)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(doc, "outcome"), "used"), "substance"));
}

static json_t *
lapses_json(const struct acc *a)
{
    json_t *lapses = json_array();
    for (size_t i = 0; i < a->nused; i++) {
        const json_t *doc = a->used[i].e->doc;
        double v = 0;
        char id[DBK_ID_TEXT_LEN + 1], when[DBK_REVIEW_WHEN_MAX];
        dbk_id_to_text(&a->used[i].e->hdr.record, id);
        dbk_review_when(doc, "occurred_at", when);
        (void)dbk_eu_intensity10(doc, &v);
        json_t *o = json_pack("{s:s, s:s, s:s, s:f}", "id", id, "occurred_at", a->used[i].when,
                              "when", when, "intensity", v);
        const char *what = used_substance(doc);
        json_object_set_new(o, "substance", what ? json_string(what) : json_null());
        if (json_object_get(doc, "situation"))
            json_object_set(o, "situation", json_object_get(doc, "situation"));
        json_array_append_new(lapses, o);
    }
    return json_pack("{s:i, s:o}", "count", (int)a->nused, "entries", lapses);
}

/* Days counted for engagement: the period's days on or after enrollment. */
static bool
enrolled_on(const dbk_review_period *p, int64_t day)
{
    return p->enrolled_day == INT64_MIN || day >= p->enrolled_day;
}

static json_t *
engagement_json(const struct acc *a)
{
    const dbk_review_period *p = a->p;
    json_t *cal = json_array(), *silent = json_array();
    size_t active = 0, counted = 0;
    char *strip = malloc(a->days * 4 + 1);
    if (strip == NULL)
        return NULL;
    strip[0] = '\0';
    for (size_t i = 0; i < a->days; i++) {
        char ds[11];
        int64_t d = p->from + (int64_t)i;
        strcat(strip, a->per_entries[i] > 0 ? "\u25a0" : "\u00b7");
        dbk_day_format(d, ds);
        json_array_append_new(cal, json_pack("{s:s, s:i, s:b}", "date", ds, "entries",
                                             a->per_entries[i], "enrolled", enrolled_on(p, d)));
        if (!enrolled_on(p, d))
            continue;
        counted++;
        active += a->per_entries[i] > 0;
        if (a->per_entries[i] == 0)
            json_array_append_new(silent, json_string(ds));
    }
    char last_entry[32] = "";
    if (a->last_clock > 0)
        dbk_eu_clock_text(a->last_clock, last_entry);
    json_t *out = json_pack(
        "{s:i, s:i, s:f, s:s, s:o, s:o, s:o, s:o, s:o}", "days_with_entries", (int)active, "days",
        (int)counted, "rate", counted ? (double)active / (double)counted : 0.0, "strip", strip,
        "calendar", cal,
        "days_without_entry", silent, "last_entry_at",
        a->last_clock ? json_string(last_entry) : json_null(), "last_entry_ms",
        a->last_clock ? json_integer((json_int_t)dbk_hlc_ms(a->last_clock)) : json_null(),
        "days_since_last_entry",
        a->last_day != INT64_MIN ? json_integer(dbk_eu_today() - a->last_day) : json_null());
    free(strip);
    return out;
}

/* The previous period of equal length, on or after enrollment only. */
static json_t *
trend_json(const dbk_eu_list *l, const dbk_review_carried_list *closed, const dbk_id *client,
           const struct acc *a)
{
    const dbk_review_period *p = a->p;
    int64_t pfrom = p->from - (int64_t)a->days, pto = p->from - 1;
    char pf[11], pt[11];
    if (p->enrolled_day != INT64_MIN && pfrom < p->enrolled_day)
        pfrom = p->enrolled_day;
    if (pfrom > pto) {
        dbk_day_format(p->from - (int64_t)a->days, pf);
        dbk_day_format(pto, pt);
        return json_pack("{s:b, s:s, s:s, s:s}", "no_earlier_data", 1, "previous_from", pf,
                         "previous_to", pt, "mean_direction", "no earlier data");
    }
    struct cstats prev;
    craving_stats(l, closed, client, pfrom, pto, &prev);
    dbk_day_format(pfrom, pf);
    dbk_day_format(pto, pt);
    double mean = a->count ? a->sum / (double)a->count : 0,
           pmean = prev.count ? prev.sum / (double)prev.count : 0;
    const char *direction = "no data";
    if (a->count > 0 && prev.count > 0)
        direction = mean > pmean + 0.05   ? "stronger"
                    : mean < pmean - 0.05 ? "weaker"
                                          : "about the same";
    else if (a->count > 0)
        direction = "none before";
    else if (prev.count > 0)
        direction = "none now";
    return json_pack("{s:b, s:s, s:s, s:i, s:i, s:o, s:o, s:i, s:o, s:s}", "no_earlier_data", 0,
                     "previous_from", pf, "previous_to", pt, "previous_days",
                     (int)(pto - pfrom + 1), "previous_count", (int)prev.count, "previous_mean",
                     real_or_null(prev.count > 0, pmean), "previous_peak",
                     real_or_null(prev.count > 0, prev.peak), "count_change",
                     (int)a->count - (int)prev.count, "mean_change",
                     real_or_null(a->count > 0 && prev.count > 0, mean - pmean), "mean_direction",
                     direction);
}

/* Triggers totalled as external (people, places, things, times) and internal
 * (emotions, HALT, withdrawal), and listed (all of them, up to TRIGGERS_LISTED). */
static json_t *
triggers_json(const struct acc *a)
{
    static const char *const external[] = {"people", "places", "things", "times"};
    json_t *list = json_array(), *by_kind = json_object();
    int ext = 0, in = 0;
    for (size_t i = 0; i < a->trig.n; i++) {
        const dbk_eu_count *c = &a->trig.v[i];
        bool is_ext = false;
        for (size_t k = 0; k < 4; k++)
            is_ext |= strcmp(c->kind, external[k]) == 0;
        if (is_ext)
            ext += c->n;
        else
            in += c->n;
        json_t *old = json_object_get(by_kind, c->kind);
        json_object_set_new(by_kind, c->kind,
                            json_integer(json_integer_value(old) + (json_int_t)c->n));
        if (json_array_size(list) < TRIGGERS_LISTED)
            json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i}", "kind", c->kind,
                                                  "side", is_ext ? "external" : "internal",
                                                  "value", c->value, "count", c->n));
    }
    return json_pack("{s:o, s:{s:i, s:i, s:o}}", "list", list, "totals", "external", ext,
                     "internal", in, "by_kind", by_kind);
}

static json_t *
craving_entry_json(const dbk_eu_entry *e)
{
    static const char *const texts[] = {"situation", "thoughts", "feelings", "note"};
    char id[DBK_ID_TEXT_LEN + 1], when[DBK_REVIEW_WHEN_MAX];
    double v = 0;
    bool have = dbk_eu_intensity10(e->doc, &v);
    const char *result = dbk_eu_outcome(e->doc), *what = used_substance(e->doc);
    dbk_id_to_text(&e->hdr.record, id);
    dbk_review_when(e->doc, "occurred_at", when);
    json_t *o = json_pack("{s:s, s:s, s:o, s:o}", "id", id, "when", when, "intensity",
                          real_or_null(have, v), "outcome",
                          result ? json_string(result) : json_null());
    if (what != NULL)
        json_object_set_new(o, "substance", json_string(what));
    for (size_t k = 0; k < sizeof texts / sizeof *texts; k++)
        if (json_is_string(json_object_get(e->doc, texts[k])))
            json_object_set(o, texts[k], json_object_get(e->doc, texts[k]));
    return o;
}

static json_t *
cravings_json(const dbk_eu_list *l, const dbk_review_carried_list *closed, const dbk_id *client,
              const struct acc *a)
{
    static const char *const blocks[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                         "\u2585", "\u2586", "\u2587", "\u2588"};
    json_t *pd = json_array(), *co = json_array(), *hj = json_object(), *list = json_array(),
           *tr = json_array();
    char *spark = malloc(a->days * 4 + 1);
    if (spark == NULL)
        return NULL;
    spark[0] = '\0';
    for (size_t i = 0; i < a->days; i++) {
        char ds[11];
        dbk_day_format(a->p->from + (int64_t)i, ds);
        int n = a->per_n[i];
        json_array_append_new(pd, json_pack("{s:s, s:i, s:o, s:o}", "date", ds, "count", n,
                                            "mean", real_or_null(n > 0, n ? a->per_sum[i] / n : 0),
                                            "peak", real_or_null(n > 0, a->per_peak[i])));
        int level = (int)(a->per_peak[i] * 7.0 / 10.0 + 0.5);
        strcat(spark, n == 0 ? " " : blocks[level < 0 ? 0 : level > 7 ? 7 : level]);
    }
    for (size_t i = 0, k = 0; i < a->trig.n && k < TOP_TRIGGERS; i++) {
        if (strcmp(a->trig.v[i].kind, "halt") == 0)
            continue; /* HALT has its own counts */
        json_array_append_new(tr, json_pack("{s:s, s:s, s:i}", "kind", a->trig.v[i].kind, "value",
                                            a->trig.v[i].value, "count", a->trig.v[i].n));
        k++;
    }
    for (size_t i = 0; i < a->coping.n; i++)
        json_array_append_new(co, json_pack("{s:s, s:i, s:i}", "strategy", a->coping.v[i].value,
                                            "uses", a->coping.v[i].n, "resisted",
                                            a->coping.v[i].resisted));
    for (size_t h = 0; h < 4; h++)
        json_object_set_new(hj, halt_states[h], json_integer(a->halt[h]));
    for (size_t i = 0; i < a->ncravings; i++)
        json_array_append_new(list, craving_entry_json(a->cravings[i].e));
    double mean = a->count ? a->sum / (double)a->count : 0;
    json_t *out = json_pack("{s:i, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "count",
                            (int)a->count, "mean", real_or_null(a->count > 0, mean), "peak",
                            real_or_null(a->count > 0, a->peak), "per_day", pd, "sparkline",
                            spark, "trend", trend_json(l, closed, client, a), "triggers", tr,
                            "trigger_totals", triggers_json(a), "halt", hj, "coping", co,
                            "entries", list);
    free(spark);
    return out;
}

/* Whether a counselor marked the client at a session on day d of the period: on its
 * last day, also on a day after it (period.h dbk_review_day_in). */
static bool
attended_in(const dbk_checklist *ck, const dbk_review_period *p, int64_t d)
{
    for (size_t i = 0; i < ck->nattended; i++)
        if (dbk_review_day_in(p, ck->attended[i]) == d)
            return true;
    return false;
}

/* One checklist item's figures over the period. */
static json_t *
checklist_item_json(const dbk_checklist *ck, const dbk_eu_list *l, const dbk_review_period *p,
                    size_t days, const char *id, json_t *unpractised)
{
    const dbk_ck_item *it = dbk_checklist_item(ck, id);
    int done = 0;
    size_t n;
    int64_t *dv = dbk_checklist_days_of(ck, l, id, &n);
    for (size_t i = 0; dv != NULL && i < n; i++)
        dv[i] = dbk_review_day_in(p, dv[i]);
    unsigned streak = dv ? dbk_streak(dv, n, p->to) : 0;
    free(dv);
    for (int64_t d = p->from; d <= p->to; d++)
        done += dbk_checklist_checked_through(ck, l, id, d, p->to);
    if (it != NULL && it->active && strcmp(it->source, "counselor") == 0 && done == 0)
        json_array_append_new(unpractised, json_string(id));
    return json_pack("{s:s, s:s, s:s, s:b, s:i, s:i, s:f, s:i}", "item", id, "label",
                     it ? it->label : id, "source", it ? it->source : "unknown", "active",
                     it ? it->active : false, "days_checked", done, "days", (int)days, "rate",
                     (double)done / (double)days, "streak", (int)streak);
}

/* The checklist: active items and any other id checked in the period. */
static json_t *
checklist_json(const dbk_checklist *ck, const dbk_eu_list *l, const dbk_review_period *p,
               size_t days)
{
    json_t *items = json_array(), *ids = json_array(), *perday = json_array(),
           *unpractised = json_array(), *x;
    size_t k, nactive = 0;
    for (size_t i = 0; i < ck->nitems; i++)
        if (ck->items[i].active) {
            json_array_append_new(ids, json_string(ck->items[i].id));
            nactive++;
        }
    for (size_t i = 0; i < ck->ndays; i++) {
        if (dbk_review_day_in(p, ck->day[i]) < p->from)
            continue;
        json_array_foreach(json_object_get(l->v[ck->days[i]].doc, "checked"), k, x)
            if (json_is_string(x) && !dbk_checklist_has(ids, json_string_value(x)))
                json_array_append(ids, x);
    }
    json_array_foreach(ids, k, x)
        json_array_append_new(
            items, checklist_item_json(ck, l, p, days, json_string_value(x), unpractised));
    for (int64_t d = p->from; d <= p->to; d++) {
        char ds[11];
        int n = 0;
        for (size_t i = 0; i < ck->nitems; i++)
            n += ck->items[i].active &&
                 dbk_checklist_checked_through(ck, l, ck->items[i].id, d, p->to);
        dbk_day_format(d, ds);
        json_array_append_new(perday, json_pack("{s:s, s:i, s:i}", "date", ds, "checked", n,
                                                "of", (int)nactive));
    }
    json_decref(ids);
    /* Group sessions the counselor marked attended (they tick attended_treatment). */
    json_t *sessions = json_array();
    for (int64_t d = p->from; d <= p->to; d++)
        if (attended_in(ck, p, d)) {
            char ds[11];
            dbk_day_format(d, ds);
            json_array_append_new(sessions, json_string(ds));
        }
    return json_pack("{s:o, s:o, s:o, s:o}", "items", items, "per_day", perday,
                     "assigned_not_practised", unpractised, "sessions_attended", sessions);
}

/* The first checklist day after day d, or INT64_MAX. */
static int64_t
checklist_day_after(const dbk_checklist *ck, int64_t d)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < ck->ndays; i++)
        if (ck->day[i] > d && ck->day[i] < next)
            next = ck->day[i];
    return next;
}

/*
 * Medication adherence. Until MAT records exist, the source is the checklist's
 * "took_medication" item: a day the client filled in the checklist without ticking
 * it is a missed day; a day with no checklist at all is unknown, not missed. A
 * checklist dated after the period's end (the client's date ahead of this device's,
 * period.h) is in it with its own date: folded into today, a day taken would hide a
 * day missed.
 */
static json_t *
medication_json(const dbk_checklist *ck, const dbk_eu_list *l, const dbk_review_period *p)
{
    const dbk_ck_item *it = dbk_checklist_item(ck, DBK_REVIEW_MED_ITEM);
    json_t *missed = json_array();
    int taken = 0, recorded = 0;
    for (int64_t d = p->from; it != NULL && d != INT64_MAX;
         d = d < p->to ? d + 1 : checklist_day_after(ck, d)) {
        bool filled = false;
        for (size_t i = 0; i < ck->ndays; i++)
            filled |= ck->day[i] == d;
        if (!filled || !enrolled_on(p, d))
            continue;
        recorded++;
        if (dbk_checklist_checked(ck, l, DBK_REVIEW_MED_ITEM, d)) {
            taken++;
        } else {
            char ds[11];
            dbk_day_format(d, ds);
            json_array_append_new(missed, json_string(ds));
        }
    }
    if (recorded == 0) {
        json_decref(missed);
        return json_pack("{s:b, s:s}", "data", 0, "source", "none");
    }
    return json_pack("{s:b, s:s, s:i, s:i, s:o}", "data", 1, "source", "checklist",
                     "days_recorded", recorded, "days_taken", taken, "missed_days", missed);
}

/*
 * Medication adherence from MAT records (book/mat.h) when the counselor set a
 * schedule: each medication's doses due, taken, missed and unconfirmed over the
 * period (from enrollment; to a later day the client reported on, dbk_mat_last_day), the
 * days with a missed dose, and the longest run of consecutive days with one (a streak
 * of DBK_REVIEW_MISSED_STREAK or more is its own Read first item). NULL when no
 * schedule exists: the checklist speaks then.
 */
static json_t *
mat_json(const dbk_eu_list *l, const dbk_id *client, const dbk_review_period *p)
{
    dbk_med *meds = NULL;
    size_t n = 0;
    int64_t from = p->from, last = dbk_mat_last_day(l, client, p->to);
    if (dbk_mat_schedules(l, client, &meds, &n) != DBK_OK || n == 0) {
        free(meds);
        return NULL;
    }
    if (p->enrolled_day != INT64_MIN && from < p->enrolled_day)
        from = p->enrolled_day;
    json_t *list = json_array(), *missed = json_array();
    int64_t mdays[64];
    size_t nm = 0;
    unsigned due = 0, taken = 0, miss = 0, unconf = 0;
    for (size_t i = 0; i < n; i++) {
        dbk_mat_adherence ad;
        if (!meds[i].active && meds[i].start > last)
            continue;
        dbk_mat_adherence_of(l, client, &meds[i], from, last, &ad);
        json_t *md = json_array();
        for (size_t k = 0; k < ad.nmissed_days; k++) {
            char ds[11];
            dbk_day_format(ad.missed_days[k], ds);
            json_array_append_new(md, json_string(ds));
            bool seen = false;
            for (size_t j = 0; j < nm; j++)
                seen |= mdays[j] == ad.missed_days[k];
            if (!seen && nm < 64)
                mdays[nm++] = ad.missed_days[k];
        }
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:i, s:i, s:i, s:o}",
                                              "name", meds[i].name ? meds[i].name : "",
                                              "dose", meds[i].dose ? meds[i].dose : "",
                                              "frequency", meds[i].frequency ? meds[i].frequency : "",
                                              "supervision",
                                              meds[i].supervision ? meds[i].supervision : "",
                                              "active", meds[i].active, "due", ad.due, "taken",
                                              ad.taken, "missed", ad.missed, "unconfirmed",
                                              ad.unconfirmed, "missed_days", md));
        due += ad.due, taken += ad.taken, miss += ad.missed, unconf += ad.unconfirmed;
    }
    free(meds);
    /* The days with a missed dose, oldest first, and the longest run of them. */
    for (size_t i = 1; i < nm; i++)
        for (size_t j = i; j > 0 && mdays[j - 1] > mdays[j]; j--) {
            int64_t t = mdays[j];
            mdays[j] = mdays[j - 1];
            mdays[j - 1] = t;
        }
    int streak = 0, run = 0;
    for (size_t i = 0; i < nm; i++) {
        char ds[11];
        dbk_day_format(mdays[i], ds);
        json_array_append_new(missed, json_string(ds));
        run = i > 0 && mdays[i] == mdays[i - 1] + 1 ? run + 1 : 1;
        streak = run > streak ? run : streak;
    }
    return json_pack("{s:b, s:s, s:i, s:i, s:i, s:i, s:o, s:i, s:o}", "data", 1, "source", "mat",
                     "doses_due", due, "doses_taken", taken, "doses_missed", miss,
                     "doses_unconfirmed", unconf, "missed_days", missed, "missed_streak", streak,
                     "medications", list);
}

static json_t *
journal_json(const struct acc *a)
{
    json_t *jj = json_array();
    for (size_t i = 0; i < a->njour; i++) {
        char id[DBK_ID_TEXT_LEN + 1], when[DBK_REVIEW_WHEN_MAX];
        const json_t *doc = a->jour[i].e->doc;
        dbk_id_to_text(&a->jour[i].e->hdr.record, id);
        dbk_review_when(doc, "written_at", when);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "written_at", a->jour[i].when,
                              "when", when, "text", str_or(doc, "text", ""));
        if (json_is_integer(json_object_get(doc, "mood")))
            json_object_set(o, "mood", json_object_get(doc, "mood"));
        if (json_is_array(json_object_get(doc, "tags")))
            json_object_set(o, "tags", json_object_get(doc, "tags"));
        json_array_append_new(jj, o);
    }
    return jj;
}

static json_t *
notes_json(const struct acc *a)
{
    json_t *nj = json_array();
    for (size_t i = 0; i < a->nnotes && i < NOTES_MAX; i++) {
        char id[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(&a->notes[i].e->hdr.record, id);
        json_array_append_new(nj, json_pack("{s:s, s:s, s:s, s:b, s:b}", "id", id, "written_at",
                                            a->notes[i].when, "text",
                                            str_or(a->notes[i].e->doc, "text", ""), "pending",
                                            a->notes[i].e->pending, "shared",
                                            a->notes[i].e->kind == DBK_LOCAL_SHARED));
    }
    return nj;
}

json_t *
dbk_review_build(dbk_session *s, const dbk_eu_list *l, const dbk_id *client, const char *label,
                 const dbk_review_period *p, const json_t *kept,
                 const dbk_review_carried_list *carried)
{
    struct acc a;
    dbk_review_period q = *p;
    dbk_checklist ck;
    dbk_risk_extra extra = {0};
    char t[DBK_ID_TEXT_LEN + 1], from_s[11], to_s[11], enrolled[11] = "", path[4200];
    json_t *out = NULL, *lapses, *eng, *cravings, *checklist, *med, *jj, *nj, *changes, *rf;

    memset(&a, 0, sizeof a);
    memset(&ck, 0, sizeof ck);
    a.p = p;
    a.days = (size_t)(p->to - p->from + 1);
    snprintf(path, sizeof path, "%s/%s", s->dir, DBK_RISK_FILE);
    (void)dbk_risk_load(path, &extra, NULL); /* a bad line: the phrases before it count */
    if (gather(s, l, client, &a) != DBK_OK || dbk_checklist_build_for(s, l, client, &ck) != DBK_OK)
        goto out;
    /* Data starts at enrollment, or earlier when the client recorded earlier days
     * (backdated entries, a recall of past days): before that there is no data,
     * which is not the same as "0 cravings". */
    if (q.enrolled_day != INT64_MIN && a.first_day < q.enrolled_day)
        q.enrolled_day = a.first_day;
    if (p->enrolled_day != INT64_MIN)
        dbk_day_format(p->enrolled_day, enrolled);
    a.p = p = &q;

    dbk_id_to_text(client, t);
    dbk_day_format(p->from, from_s);
    dbk_day_format(p->to, to_s);
    lapses = lapses_json(&a);
    eng = engagement_json(&a);
    cravings = cravings_json(l, carried, client, &a);
    checklist = checklist_json(&ck, l, p, a.days);
    if ((med = mat_json(l, client, p)) == NULL)
        med = medication_json(&ck, l, p);
    jj = journal_json(&a);
    nj = notes_json(&a);
    changes = dbk_review_changes(l, client, p, kept);
    {
        const dbk_eu_entry **fl = calloc(a.nflaggable + 1, sizeof *fl);
        for (size_t i = 0; fl != NULL && i < a.nflaggable; i++)
            fl[i] = a.flaggable[i].e;
        rf = dbk_review_read_first(l, client, p, &extra, fl, fl ? a.nflaggable : 0, carried,
                                   eng, med, changes);
        free(fl);
    }
    out = json_pack("{s:{s:s, s:s}, s:{s:s, s:s, s:i, s:s, s:o, s:o}, s:o, s:o, s:o, s:o, s:o, "
                    "s:o, s:o, s:o, s:o, s:o}",
                    "client", "account", t, "label", label, "period", "from", from_s, "to", to_s,
                    "days", (int)a.days, "since", p->since, "last_session",
                    p->last_session[0] ? json_string(p->last_session) : json_null(),
                    "enrolled_on", enrolled[0] ? json_string(enrolled) : json_null(),
                    "read_first", rf, "lapses", lapses, "engagement", eng, "cravings", cravings,
                    "checklist", checklist, "medication", med, "journal", jj, "notes", nj,
                    "changes", changes, "measures", dbk_review_measures(l, client, p->from, p->to));
out:
    dbk_risk_extra_free(&extra);
    dbk_checklist_free(&ck);
    acc_free(&a);
    return out;
}

/* ---- how fresh the data is ---- */

json_t *
dbk_review_freshen(dbk_session *s, bool offline)
{
    dbk_sync_stats st = {0};
    int rc = DBK_E_UNAVAILABLE;
    if (!offline && s->server[0] != '\0') {
        int saved = s->net_timeout_s;
        s->net_timeout_s = DBK_REVIEW_PULL_TIMEOUT_S;
        /* The pull is 'daybook sync''s: it fetches the grants again whenever the server's
         * grants_seq moved (a client shared, revoked, rotated) or a stream is refused, and
         * marks the reading of a refused stream ended unless they list it active (else, or
         * when they cannot be fetched, not pulled); fetching them before it as well cost two
         * requests and a commit per client for nothing. Nor does it check every stream
         * against its owner's signed head, which only 'daybook sync' reports: the review
         * checks its client's (cmd_review.c withheld_check); 'clients' reports none. */
        rc = dbk_sync_pull_first(s, &st);
        s->net_timeout_s = saved;
    }
    /* Answered, but not for every stream (one left out, failed, or with more to come):
     * not current, whatever the time of the last sync says (sync.h unpulled). */
    bool pulled = rc == DBK_OK && st.unpulled == 0;
    int64_t at = dbk_local_get_int(s->L, "last_sync", 0);
    int64_t age = at > 0 ? (int64_t)time(NULL) - at : -1;
    char text[32] = "";
    if (at > 0)
        dbk_co_ms_text(at * 1000, text);
    json_t *fresh = json_pack(
        "{s:o, s:o, s:b, s:b, s:b, s:i}", "as_of", at > 0 ? json_string(text) : json_null(),
        "as_of_unix", at > 0 ? json_integer(at) : json_null(), "pulled", pulled, "offline",
        rc != DBK_OK, "stale", !pulled || at <= 0 || age > DBK_REVIEW_STALE_HOURS * 3600,
        "stale_after_hours", DBK_REVIEW_STALE_HOURS);
    /* Forged revisions the pull refused (sync.h): nothing is missing for them, but the
     * server is not honest; the commands tell the counselor (cli/output.h). */
    json_object_set_new(fresh, "refused_revisions", json_integer((json_int_t)st.forged_revisions));
    json_object_set_new(fresh, "refused_grants",
                        json_integer((json_int_t)(st.trust.bad_grants + st.trust.replaced_grants)));
    return fresh;
}

json_t *
dbk_review_freshness_of(const json_t *fresh, const json_t *stale, int64_t pulled_at,
                        const dbk_id *client, const dbk_id *me)
{
    char t[DBK_ID_TEXT_LEN + 1], text[32] = "";
    const dbk_id *whose[2] = {client, me};
    int64_t at = pulled_at;
    bool offline = json_is_true(json_object_get(fresh, "offline")), all = true;
    for (int i = 0; i < 2; i++) {
        json_t *m = json_object_get(stale, (dbk_id_to_text(whose[i], t), t));
        if (m != NULL) {
            all = false;
            at = json_integer_value(m) < at ? json_integer_value(m) : at;
        }
    }
    bool pulled = !offline && all;
    int64_t age = at > 0 ? (int64_t)time(NULL) - at : -1;
    if (at > 0)
        dbk_co_ms_text(at * 1000, text);
    return json_pack("{s:o, s:o, s:b, s:b, s:b, s:i, s:s}", "as_of",
                     at > 0 ? json_string(text) : json_null(), "as_of_unix",
                     at > 0 ? json_integer(at) : json_null(), "pulled", pulled, "offline", offline,
                     "stale", !pulled || at <= 0 || age > DBK_REVIEW_STALE_HOURS * 3600,
                     "stale_after_hours", DBK_REVIEW_STALE_HOURS, "scope", "client");
}

/* account -> the latest end of its reading here (Unix ms) for each client caseload lists
 * as sharing whose reading ended here (sync.h dbk_sync_consents); only: that client. */
static json_t *
ended_listed_active(dbk_session *s, const json_t *caseload, const char *only)
{
    json_t *active = json_object(), *c = NULL, *v, *out = json_object();
    size_t i;
    json_array_foreach(caseload, i, v)
    {
        const char *a = json_string_value(json_object_get(v, "account"));
        const char *g = json_string_value(json_object_get(v, "grant_state"));
        if (a != NULL && g != NULL && strcmp(g, "active") == 0 &&
            (only == NULL || strcmp(a, only) == 0))
            json_object_set_new(active, a, json_true());
    }
    /* Most caseloads never saw a reading end: then no walk of every client's stream. */
    if (json_object_size(active) > 0 && dbk_sync_ends_recorded(s) &&
        dbk_sync_consents(s, &c) == DBK_OK)
        json_array_foreach(c, i, v)
        {
            const char *o = json_string_value(json_object_get(v, "owner"));
            json_int_t e = json_integer_value(json_object_get(v, "ended_at"));
            if (o != NULL && e > 0 && json_object_get(active, o) != NULL &&
                e > json_integer_value(json_object_get(out, o)))
                json_object_set_new(out, o, json_integer(e));
        }
    json_decref(c);
    json_decref(active);
    return out;
}

json_t *
dbk_review_readings_ended(dbk_session *s, const json_t *caseload, const dbk_id *only,
                          json_t **fresh, size_t *forged_again, size_t *refused_grants)
{
    char t[DBK_ID_TEXT_LEN + 1];
    const char *one = only != NULL ? (dbk_id_to_text(only, t), t) : NULL, *k;
    json_t *ended = ended_listed_active(s, caseload, one), *v;
    json_int_t latest = 0, grants_again = 0;
    size_t n = json_object_size(ended);
    dbk_trust_report tr = {0}; /* what the grants fetched again refused */

    *forged_again = 0;
    if (n > 0 && dbk_refresh_grants(s, &tr) == DBK_OK) {
        json_decref(ended);
        ended = ended_listed_active(s, caseload, one);
        if (json_object_size(ended) < n) { /* an end undone: pull again */
            json_t *again = dbk_review_freshen(s, false);
            /* The data counts both pulls' refusals; the caller says the second's only
             * (the first's were said with the first pull). */
            static const char *const counts[] = {"refused_revisions", "refused_grants"};
            json_int_t forged = json_integer_value(json_object_get(again, counts[0]));
            grants_again = json_integer_value(json_object_get(again, counts[1]));
            for (size_t i = 0; i < 2; i++)
                json_object_set_new(
                    again, counts[i],
                    json_integer(json_integer_value(json_object_get(again, counts[i])) +
                                 json_integer_value(json_object_get(*fresh, counts[i]))));
            json_decref(*fresh);
            *fresh = again;
            *forged_again = (size_t)forged;
            json_decref(ended);
            ended = ended_listed_active(s, caseload, one);
        }
    }
    *refused_grants = tr.bad_grants + tr.replaced_grants + (size_t)grants_again;
    json_object_set_new(
        *fresh, "refused_grants",
        json_integer((json_int_t)(tr.bad_grants + tr.replaced_grants) +
                     json_integer_value(json_object_get(*fresh, "refused_grants"))));
    json_object_foreach(ended, k, v)
    {
        if (json_integer_value(v) > latest)
            latest = json_integer_value(v);
    }
    if (latest > 0) {
        json_object_set_new(*fresh, "pulled", json_false());
        json_object_set_new(*fresh, "stale", json_true());
        json_object_set_new(*fresh, "reading_ended_at", json_integer(latest));
    }
    return ended;
}
