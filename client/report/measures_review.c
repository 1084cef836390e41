/*
 * The review's validated measures: what the counselor scheduled (due, overdue,
 * answered when), and the scores of the period beside the published cut-offs
 * (measures.h), with the last score before the period as the baseline. Scores are
 * recomputed from the answers, never taken from what the writer stored. The text
 * and HTML forms below print only numbers, days this file formats, and the static
 * names and bands of measures.c, so nothing a record holds reaches the HTML raw.
 */
#include "measures_review.h"

#include "daycount.h"
#include "measure_plan.h"

#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>

/* The published cut-off a counselor reads a score against. */
static const char *
cutoff_text(const dbk_measure *m)
{
    if (strcmp(m->id, "phq9") == 0)
        return "10 or more: moderate or worse (bands 5, 10, 15, 20); item 9 above 0 is "
               "flagged";
    if (strcmp(m->id, "gad7") == 0)
        return "10 or more: moderate or worse (bands 5, 10, 15)";
    return "Use 1 or more, Risk 12 or more, Protective 12 or less are clinically significant";
}

static json_t *
score_json(const dbk_measure *m, const dbk_measure_score *sc, int64_t day)
{
    char d[11];
    dbk_day_format(day, d);
    if (sc->total >= 0)
        return json_pack("{s:s, s:s, s:s, s:i, s:s, s:b, s:b}", "instrument", m->id, "name",
                         m->name, "date", d, "total", sc->total, "band", sc->band, "over_cutoff",
                         sc->total >= 10, "self_harm", sc->self_harm);
    return json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:b}", "instrument", m->id, "name", m->name,
                     "date", d, "use", sc->use, "risk", sc->risk, "protective", sc->protective,
                     "over_cutoff", sc->use_flag || sc->risk_flag || sc->protective_flag);
}

/* The scores of client's answers in the period, oldest first, after the newest one
 * before it (marked "baseline"). */
static json_t *
scores_json(const dbk_eu_list *l, const dbk_id *client, int64_t from)
{
    json_t *out = json_array(), *before[3] = {NULL};
    int64_t before_day[3] = {0};
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        const dbk_measure *m;
        dbk_measure_score sc;
        int64_t day;
        if (strcmp(e->type, "measure") != 0 || !dbk_id_equal(&e->owner, client) ||
            !dbk_measure_rescore(e->doc, &m, &sc, &day))
            continue;
        /* Dated after today here (the client's zone or clock ahead): in the period, as
         * the review counts it (period.h dbk_review_day_in), shown with its own date. */
        if (day >= from) {
            json_array_append_new(out, score_json(m, &sc, day));
            continue;
        }
        size_t k = (size_t)(strcmp(m->id, "phq9") == 0 ? 0 : strcmp(m->id, "gad7") == 0 ? 1 : 2);
        if (before[k] == NULL || day >= before_day[k]) {
            json_decref(before[k]);
            before[k] = score_json(m, &sc, day);
            before_day[k] = day;
        }
    }
    for (size_t k = 3; k-- > 0;) /* PHQ-9, GAD-7, BAM first */
        if (before[k] != NULL) {
            json_object_set_new(before[k], "baseline", json_true());
            json_array_insert_new(out, 0, before[k]);
        }
    return out;
}

json_t *
dbk_review_measures(const dbk_eu_list *l, const dbk_id *client, int64_t from, int64_t to)
{
    dbk_measure_sched *v = NULL;
    size_t n = 0;
    json_t *sched = json_array(), *cut = json_object();
    char d[11];

    if (dbk_measure_schedules(l, client, &v, &n) != DBK_OK)
        n = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s, s:s, s:i, s:b}", "instrument", v[i].m->id, "name",
                              v[i].m->name, "every_days", v[i].every_days, "active",
                              v[i].active);
        if (v[i].last != INT64_MIN) {
            dbk_day_format(v[i].last, d);
            json_object_set_new(o, "last_answered", json_string(d));
        } else {
            json_object_set_new(o, "last_answered", json_null());
        }
        dbk_day_format(v[i].due, d);
        json_object_set_new(o, "due", v[i].active ? json_string(d) : json_null());
        json_object_set_new(o, "overdue_days",
                            json_integer(v[i].active && v[i].due < to ? to - v[i].due : 0));
        json_array_append_new(sched, o);
    }
    free(v);
    static const char *const ids[] = {"phq9", "gad7", "bam"};
    for (size_t i = 0; i < 3; i++)
        json_object_set_new(cut, ids[i], json_string(cutoff_text(dbk_measure_find(ids[i]))));
    return json_pack("{s:o, s:o, s:o}", "schedules", sched, "scores", scores_json(l, client, from),
                     "cutoffs", cut);
}

static const char *
S(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static long long
I(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

/* "PHQ-9 12 (moderate)" or "BAM use 3, risk 14, protective 10". */
static void
put_score(FILE *o, const json_t *x)
{
    if (json_is_integer(json_object_get(x, "total")))
        fprintf(o, "%s %lld (%s)", S(x, "name"), I(x, "total"), S(x, "band"));
    else
        fprintf(o, "%s use %lld, risk %lld, protective %lld", S(x, "name"), I(x, "use"),
                I(x, "risk"), I(x, "protective"));
}

void
dbk_report_text_measures(FILE *o, const json_t *ms)
{
    size_t i;
    const json_t *x;
    const json_t *sched = json_object_get(ms, "schedules"), *scores = json_object_get(ms, "scores");

    if (json_array_size(sched) == 0 && json_array_size(scores) == 0)
        return;
    fprintf(o, "\nMEASURES\n");
    json_array_foreach(sched, i, x) {
        if (!json_is_true(json_object_get(x, "active")))
            continue;
        fprintf(o, "  %-6s every %lld days; last answered %s", S(x, "name"), I(x, "every_days"),
                json_is_string(json_object_get(x, "last_answered")) ? S(x, "last_answered")
                                                                    : "never");
        if (I(x, "overdue_days") > 0)
            fprintf(o, "; OVERDUE %lld days\n", I(x, "overdue_days"));
        else
            fprintf(o, "; next due %s\n", S(x, "due"));
    }
    json_array_foreach(scores, i, x) {
        fprintf(o, "  %s  ", S(x, "date"));
        put_score(o, x);
        fprintf(o, "%s%s%s\n", json_is_true(json_object_get(x, "over_cutoff")) ? "  PAST CUT-OFF" : "",
                json_is_true(json_object_get(x, "self_harm")) ? "  ITEM 9 ABOVE 0" : "",
                json_is_true(json_object_get(x, "baseline")) ? "  (before the period)" : "");
    }
    if (json_array_size(scores) > 0)
        fprintf(o, "  Cut-offs as published: PHQ-9 and GAD-7 10 or more; BAM Use 1 or\n"
                   "  more, Risk 12 or more, Protective 12 or less.\n");
}

void
dbk_report_html_measures(FILE *o, const json_t *ms)
{
    size_t i;
    const json_t *x;
    const json_t *sched = json_object_get(ms, "schedules"), *scores = json_object_get(ms, "scores");

    if (json_array_size(sched) == 0 && json_array_size(scores) == 0)
        return;
    fprintf(o, "<section id=\"measures\"><h2>Measures</h2><ul>");
    json_array_foreach(sched, i, x) {
        if (!json_is_true(json_object_get(x, "active")))
            continue;
        fprintf(o, "<li>%s every %lld days; last answered %s", S(x, "name"), I(x, "every_days"),
                json_is_string(json_object_get(x, "last_answered")) ? S(x, "last_answered")
                                                                    : "never");
        if (I(x, "overdue_days") > 0)
            fprintf(o, "; <span class=\"risk\">overdue %lld days</span></li>",
                    I(x, "overdue_days"));
        else
            fprintf(o, "; next due %s</li>", S(x, "due"));
    }
    fprintf(o, "</ul><table><tr><th>date</th><th>score</th><th></th></tr>");
    json_array_foreach(scores, i, x) {
        fprintf(o, "<tr><td>%s</td><td>", S(x, "date"));
        put_score(o, x);
        fprintf(o, "</td><td>%s%s%s</td></tr>",
                json_is_true(json_object_get(x, "over_cutoff")) ? "<span class=\"risk\">past "
                                                                  "cut-off</span> "
                                                                : "",
                json_is_true(json_object_get(x, "self_harm")) ? "<span class=\"risk\">item 9 "
                                                                "above 0</span> "
                                                              : "",
                json_is_true(json_object_get(x, "baseline")) ? "before the period" : "");
    }
    fprintf(o, "</table><p class=\"muted\">Cut-offs as published: PHQ-9 and GAD-7 10 or more "
               "(moderate); BAM Use 1 or more, Risk 12 or more, Protective 12 or less.</p>"
               "</section>\n");
}
