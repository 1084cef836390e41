/*
 * The pre-session review, computed: from the loaded entries of one client, one
 * JSON object that the text, JSON and HTML outputs all render (render.h). What
 * each figure means is told in cmd_review.c's header; the period is the days
 * since the last session marker (or --since, or the default window).
 */
#include "review.h"
#include "checklist.h"
#include "counts.h"
#include "daycount.h"

#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>

#define TOP_TRIGGERS 5
#define NOTES_MAX 10

static const char *const halt_states[] = {"hungry", "angry", "lonely", "tired"};

int
dbk_review_period_make(const dbk_eu_list *l, const dbk_id *client, const char *since,
                   dbk_review_period *p)
{
    memset(p, 0, sizeof *p);
    p->to = dbk_eu_today();
    if (since == NULL || strcmp(since, "last-session") == 0) {
        if (dbk_co_last_session(l, client, p->last_session) &&
            dbk_day_parse(p->last_session, &p->from) && p->from <= p->to) {
            p->since = "last-session";
        } else {
            p->last_session[0] = '\0';
            p->from = p->to - DBK_REVIEW_DEFAULT_DAYS + 1;
            p->since = "default";
        }
        return DBK_OK;
    }
    if (strlen(since) != 10 || !dbk_day_parse(since, &p->from) || p->from > p->to)
        return DBK_E_INVALID;
    (void)dbk_co_last_session(l, client, p->last_session);
    p->since = "date";
    return DBK_OK;
}

/* ---- the review ---- */

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

/* Craving figures over [from, to]; per_day may be NULL. */
struct cstats {
    size_t count;
    double sum, peak;
};

static void
craving_stats(const dbk_eu_list *l, const dbk_id *client, int64_t from, int64_t to,
              struct cstats *cs)
{
    memset(cs, 0, sizeof *cs);
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        int64_t d;
        double v;
        if (!dbk_id_equal(&e->owner, client) || !dbk_id_equal(&e->hdr.author, client) ||
            strcmp(e->type, "craving") != 0 || !dbk_eu_entry_day(e->doc, &d) || d < from ||
            d > to || !dbk_eu_intensity10(e->doc, &v))
            continue;
        cs->count++;
        cs->sum += v;
        if (cs->count == 1 || v > cs->peak)
            cs->peak = v;
    }
}

json_t *
dbk_review_build(dbk_session *s, const dbk_eu_list *l, const dbk_id *client, const char *label,
              const dbk_review_period *p)
{
    static const char *const blocks[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                         "\u2585", "\u2586", "\u2587", "\u2588"};
    size_t days = (size_t)(p->to - p->from + 1);
    int *per_n = calloc(days, sizeof *per_n), *per_entries = calloc(days, sizeof *per_entries);
    double *per_sum = calloc(days, sizeof *per_sum), *per_peak = calloc(days, sizeof *per_peak);
    struct dated *used = calloc(l->n + 1, sizeof *used), *jour = calloc(l->n + 1, sizeof *jour),
                 *notes = calloc(l->n + 1, sizeof *notes);
    char *spark = malloc(days * 4 + 1), *strip = malloc(days * 4 + 1);
    size_t nused = 0, njour = 0, nnotes = 0, count = 0, active_days = 0;
    int halt[4] = {0, 0, 0, 0};
    double sum = 0, peak = 0;
    uint64_t last_clock = 0;
    int64_t last_day = INT64_MIN;
    dbk_eu_counts trig = {0}, coping = {0};
    dbk_checklist ck;
    char t[DBK_ID_TEXT_LEN + 1], from_s[11], to_s[11];
    json_t *out = NULL;

    memset(&ck, 0, sizeof ck);
    if (per_n == NULL || per_entries == NULL || per_sum == NULL || per_peak == NULL ||
        used == NULL || jour == NULL || notes == NULL || spark == NULL || strip == NULL ||
        dbk_checklist_build_for(s, l, client, &ck) != DBK_OK)
        goto out;

    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        int64_t d;
        double v;
        if (!dbk_id_equal(&e->owner, client))
            continue;
        if (strcmp(e->type, "note") == 0 && dbk_id_equal(&e->hdr.author, &s->account)) {
            notes[nnotes].e = e;
            notes[nnotes++].when = str_or(e->doc, "written_at", "");
            continue;
        }
        if (!dbk_id_equal(&e->hdr.author, client) || strcmp(e->type, "tombstone") == 0 ||
            !dbk_eu_entry_day(e->doc, &d))
            continue;
        if (e->hdr.rev.clock > last_clock)
            last_clock = e->hdr.rev.clock;
        if (d > last_day)
            last_day = d;
        if (d < p->from || d > p->to)
            continue;
        size_t di = (size_t)(d - p->from);
        per_entries[di]++;
        if (strcmp(e->type, "journal") == 0) {
            jour[njour].e = e;
            jour[njour++].when = str_or(e->doc, "written_at", "");
            continue;
        }
        if (strcmp(e->type, "craving") != 0 || !dbk_eu_intensity10(e->doc, &v))
            continue;
        count++;
        sum += v;
        if (count == 1 || v > peak)
            peak = v;
        if (per_n[di] == 0 || v > per_peak[di])
            per_peak[di] = v;
        per_n[di]++;
        per_sum[di] += v;
        const json_t *tr = json_object_get(e->doc, "triggers");
        dbk_eu_count_triggers(&trig, tr);
        for (size_t h = 0; h < 4; h++)
            halt[h] += dbk_checklist_has(json_object_get(tr, "halt"), halt_states[h]);
        dbk_eu_count_coping(&coping, e->doc);
        const char *result = dbk_eu_outcome(e->doc);
        if (result != NULL && strcmp(result, "used") == 0) {
            used[nused].e = e;
            used[nused++].when = str_or(e->doc, "occurred_at", "");
        }
    }
    dbk_eu_counts_sort(&trig);
    dbk_eu_counts_sort(&coping);
    qsort(used, nused, sizeof *used, newest_first);
    qsort(jour, njour, sizeof *jour, newest_first);
    qsort(notes, nnotes, sizeof *notes, newest_first);

    dbk_id_to_text(client, t);
    dbk_day_format(p->from, from_s);
    dbk_day_format(p->to, to_s);

    /* Reported use. */
    json_t *lapses = json_array();
    for (size_t i = 0; i < nused; i++) {
        const json_t *doc = used[i].e->doc;
        double v = 0;
        char id[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(&used[i].e->hdr.record, id);
        (void)dbk_eu_intensity10(doc, &v);
        json_t *o = json_pack("{s:s, s:s, s:f}", "id", id, "occurred_at", used[i].when,
                              "intensity", v);
        const char *what = json_string_value(json_object_get(
            json_object_get(json_object_get(doc, "outcome"), "used"), "substance"));
        json_object_set_new(o, "substance", what ? json_string(what) : json_null());
        if (json_object_get(doc, "situation"))
            json_object_set(o, "situation", json_object_get(doc, "situation"));
        json_array_append_new(lapses, o);
    }

    /* Engagement and the per-day craving figures. */
    json_t *cal = json_array(), *pd = json_array();
    spark[0] = strip[0] = '\0';
    for (size_t i = 0; i < days; i++) {
        char ds[11];
        dbk_day_format(p->from + (int64_t)i, ds);
        active_days += per_entries[i] > 0;
        json_array_append_new(cal, json_pack("{s:s, s:i}", "date", ds, "entries", per_entries[i]));
        json_array_append_new(
            pd, json_pack("{s:s, s:i, s:o, s:o}", "date", ds, "count", per_n[i], "mean",
                          real_or_null(per_n[i] > 0, per_n[i] ? per_sum[i] / per_n[i] : 0),
                          "peak", real_or_null(per_n[i] > 0, per_peak[i])));
        if (per_n[i] == 0) {
            strcat(spark, " ");
        } else {
            int level = (int)(per_peak[i] * 7.0 / 10.0 + 0.5);
            strcat(spark, blocks[level < 0 ? 0 : level > 7 ? 7 : level]);
        }
        strcat(strip, per_entries[i] > 0 ? "\u25a0" : "\u00b7");
    }
    char last_entry[32] = "";
    if (last_clock > 0)
        dbk_eu_clock_text(last_clock, last_entry);
    json_t *eng = json_pack("{s:i, s:i, s:f, s:s, s:o, s:o, s:o, s:o}", "days_with_entries",
                            (int)active_days, "days", (int)days,
                            "rate", (double)active_days / (double)days, "strip", strip,
                            "calendar", cal, "last_entry_at",
                            last_clock ? json_string(last_entry) : json_null(), "last_entry_ms",
                            last_clock ? json_integer((json_int_t)dbk_hlc_ms(last_clock))
                                       : json_null(),
                            "days_since_last_entry",
                            last_day != INT64_MIN ? json_integer(dbk_eu_today() - last_day)
                                                  : json_null());

    /* Cravings: figures, trend against the previous period of equal length. */
    struct cstats prev;
    char pf[11], pt[11];
    craving_stats(l, client, p->from - (int64_t)days, p->from - 1, &prev);
    dbk_day_format(p->from - (int64_t)days, pf);
    dbk_day_format(p->from - 1, pt);
    double mean = count ? sum / (double)count : 0, pmean = prev.count ? prev.sum / (double)prev.count : 0;
    const char *direction = "no data";
    if (count > 0 && prev.count > 0)
        direction = mean > pmean + 0.05 ? "stronger" : mean < pmean - 0.05 ? "weaker" : "about the same";
    else if (count > 0)
        direction = "none before";
    else if (prev.count > 0)
        direction = "none now";
    json_t *trend = json_pack(
        "{s:s, s:s, s:i, s:o, s:o, s:i, s:o, s:s}", "previous_from", pf, "previous_to", pt,
        "previous_count", (int)prev.count, "previous_mean", real_or_null(prev.count > 0, pmean),
        "previous_peak", real_or_null(prev.count > 0, prev.peak), "count_change",
        (int)count - (int)prev.count, "mean_change",
        real_or_null(count > 0 && prev.count > 0, mean - pmean), "mean_direction", direction);
    json_t *tr = json_array(), *co = json_array(), *hj = json_object();
    for (size_t i = 0, k = 0; i < trig.n && k < TOP_TRIGGERS; i++) {
        if (strcmp(trig.v[i].kind, "halt") == 0)
            continue; /* HALT has its own counts */
        json_array_append_new(tr, json_pack("{s:s, s:s, s:i}", "kind", trig.v[i].kind, "value",
                                            trig.v[i].value, "count", trig.v[i].n));
        k++;
    }
    for (size_t i = 0; i < coping.n; i++)
        json_array_append_new(co, json_pack("{s:s, s:i, s:i}", "strategy", coping.v[i].value,
                                            "uses", coping.v[i].n, "resisted",
                                            coping.v[i].resisted));
    for (size_t h = 0; h < 4; h++)
        json_object_set_new(hj, halt_states[h], json_integer(halt[h]));
    json_t *cravings = json_pack("{s:i, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o}", "count",
                                 (int)count, "mean", real_or_null(count > 0, mean), "peak",
                                 real_or_null(count > 0, peak), "per_day", pd, "sparkline", spark,
                                 "trend", trend, "triggers", tr, "halt", hj, "coping", co);

    /* The checklist: active items and any other id checked in the period. */
    json_t *items = json_array(), *ids = json_array(), *perday = json_array(),
           *unpractised = json_array(), *x;
    size_t k, nactive = 0;
    for (size_t i = 0; i < ck.nitems; i++)
        if (ck.items[i].active) {
            json_array_append_new(ids, json_string(ck.items[i].id));
            nactive++;
        }
    for (size_t i = 0; i < ck.ndays; i++) {
        if (ck.day[i] < p->from || ck.day[i] > p->to)
            continue;
        json_array_foreach(json_object_get(l->v[ck.days[i]].doc, "checked"), k, x)
            if (json_is_string(x) && !dbk_checklist_has(ids, json_string_value(x)))
                json_array_append(ids, x);
    }
    json_array_foreach(ids, k, x) {
        const char *id = json_string_value(x);
        const dbk_ck_item *it = dbk_checklist_item(&ck, id);
        int done = 0;
        size_t n;
        int64_t *dv = dbk_checklist_days_of(&ck, l, id, &n);
        unsigned streak = dv ? dbk_streak(dv, n, p->to) : 0;
        free(dv);
        for (int64_t d = p->from; d <= p->to; d++)
            done += dbk_checklist_checked(&ck, l, id, d);
        json_array_append_new(
            items, json_pack("{s:s, s:s, s:s, s:b, s:i, s:i, s:f, s:i}", "item", id, "label",
                             it ? it->label : id, "source", it ? it->source : "unknown",
                             "active", it ? it->active : false, "days_checked", done, "days",
                             (int)days, "rate", (double)done / (double)days, "streak",
                             (int)streak));
        if (it != NULL && it->active && strcmp(it->source, "counselor") == 0 && done == 0)
            json_array_append_new(unpractised, json_string(id));
    }
    for (int64_t d = p->from; d <= p->to; d++) {
        char ds[11];
        int n = 0;
        for (size_t i = 0; i < ck.nitems; i++)
            n += ck.items[i].active && dbk_checklist_checked(&ck, l, ck.items[i].id, d);
        dbk_day_format(d, ds);
        json_array_append_new(perday, json_pack("{s:s, s:i, s:i}", "date", ds, "checked", n,
                                                "of", (int)nactive));
    }
    json_decref(ids);
    json_t *checklist = json_pack("{s:o, s:o, s:o}", "items", items, "per_day", perday,
                                  "assigned_not_practised", unpractised);

    /* Journal entries, newest first, in full; the counselor's own notes. */
    json_t *jj = json_array(), *nj = json_array();
    for (size_t i = 0; i < njour; i++) {
        char id[DBK_ID_TEXT_LEN + 1];
        const json_t *doc = jour[i].e->doc;
        dbk_id_to_text(&jour[i].e->hdr.record, id);
        json_t *o = json_pack("{s:s, s:s, s:s}", "id", id, "written_at", jour[i].when, "text",
                              str_or(doc, "text", ""));
        if (json_is_integer(json_object_get(doc, "mood")))
            json_object_set(o, "mood", json_object_get(doc, "mood"));
        if (json_is_array(json_object_get(doc, "tags")))
            json_object_set(o, "tags", json_object_get(doc, "tags"));
        json_array_append_new(jj, o);
    }
    for (size_t i = 0; i < nnotes && i < NOTES_MAX; i++) {
        char id[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(&notes[i].e->hdr.record, id);
        json_array_append_new(nj, json_pack("{s:s, s:s, s:s, s:b}", "id", id, "written_at",
                                            notes[i].when, "text",
                                            str_or(notes[i].e->doc, "text", ""), "pending",
                                            notes[i].e->pending));
    }

    out = json_pack("{s:{s:s, s:s}, s:{s:s, s:s, s:i, s:s, s:o}, s:{s:i, s:o}, s:o, s:o, s:o, "
                    "s:o, s:o}",
                    "client", "account", t, "label", label, "period", "from", from_s, "to", to_s,
                    "days", (int)days, "since", p->since, "last_session",
                    p->last_session[0] ? json_string(p->last_session) : json_null(), "lapses",
                    "count", (int)nused, "entries", lapses, "engagement", eng, "cravings",
                    cravings, "checklist", checklist, "journal", jj, "notes", nj);
out:
    dbk_checklist_free(&ck);
    dbk_eu_counts_free(&trig);
    dbk_eu_counts_free(&coping);
    free(per_n);
    free(per_entries);
    free(per_sum);
    free(per_peak);
    free(used);
    free(jour);
    free(notes);
    free(spark);
    free(strip);
    return out;
}
