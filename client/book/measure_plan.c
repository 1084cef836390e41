/* When a measure is due; see measure_plan.h. */
#include "measure_plan.h"

#include "daycount.h"

#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>

/* The day of a measure record's answered_at ("YYYY-MM-DD..." in the writer's zone). */
static bool
answered_day(const json_t *doc, int64_t *day)
{
    const char *at = json_string_value(json_object_get(doc, "answered_at"));
    char d[11];
    if (at == NULL || strlen(at) < 10)
        return false;
    memcpy(d, at, 10);
    d[10] = '\0';
    return dbk_day_parse(d, day);
}

/* The owner's last answer of instrument among l, or INT64_MIN. */
static int64_t
last_answer(const dbk_eu_list *l, const dbk_id *owner, const char *instrument)
{
    int64_t last = INT64_MIN, day;
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        const char *ins = json_string_value(json_object_get(e->doc, "instrument"));
        if (strcmp(e->type, "measure") == 0 && dbk_id_equal(&e->owner, owner) && ins != NULL &&
            strcmp(ins, instrument) == 0 && answered_day(e->doc, &day) && day > last)
            last = day;
    }
    return last;
}

/* The schedule e describes, or false when it is malformed. */
static bool
parse(const dbk_eu_entry *e, dbk_measure_sched *s)
{
    const char *ins = json_string_value(json_object_get(e->doc, "instrument"));
    const char *start = json_string_value(json_object_get(e->doc, "start_date"));
    json_t *every = json_object_get(e->doc, "every_days");

    memset(s, 0, sizeof *s);
    s->e = e;
    s->m = ins != NULL ? dbk_measure_find(ins) : NULL;
    if (s->m == NULL || start == NULL || !dbk_day_parse(start, &s->start) ||
        !json_is_integer(every) || json_integer_value(every) < 1 ||
        json_integer_value(every) > DBK_MEASURE_EVERY_MAX)
        return false;
    s->every_days = (int)json_integer_value(every);
    s->active = json_is_true(json_object_get(e->doc, "active"));
    return true;
}

int
dbk_measure_schedules(const dbk_eu_list *l, const dbk_id *owner, dbk_measure_sched **out,
                      size_t *n)
{
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < l->n; i++) { /* oldest first: a later one of an instrument wins */
        dbk_measure_sched s;
        size_t k;
        if (strcmp(l->v[i].type, "measure_schedule") != 0 || !dbk_id_equal(&l->v[i].owner, owner) ||
            !parse(&l->v[i], &s))
            continue;
        for (k = 0; k < *n && (*out)[k].m != s.m; k++)
            ;
        if (k == *n) {
            dbk_measure_sched *v = realloc(*out, (*n + 1) * sizeof *v);
            if (v == NULL) {
                free(*out);
                *out = NULL;
                *n = 0;
                return DBK_E_NOMEM;
            }
            *out = v;
            (*n)++;
        }
        (*out)[k] = s;
    }
    for (size_t k = 0; k < *n; k++) {
        dbk_measure_sched *s = &(*out)[k];
        s->last = last_answer(l, owner, s->m->id);
        /* An answer before the schedule began does not put off its first one. */
        s->due = s->last == INT64_MIN || s->last < s->start ? s->start : s->last + s->every_days;
    }
    return DBK_OK;
}

bool
dbk_measure_is_due(const dbk_measure_sched *s, int64_t today)
{
    return s->active && s->due <= today;
}

bool
dbk_measure_rescore(const json_t *doc, const dbk_measure **m, dbk_measure_score *sc, int64_t *day)
{
    const char *ins = json_string_value(json_object_get(doc, "instrument"));
    const json_t *answers = json_object_get(doc, "answers");
    int a[DBK_MEASURE_ITEMS_MAX];

    if (ins == NULL || (*m = dbk_measure_find(ins)) == NULL || !answered_day(doc, day))
        return false;
    for (size_t i = 0; i < (*m)->nitems; i++) {
        json_t *v = json_object_get(answers, (*m)->items[i].id);
        a[i] = json_is_integer(v) ? (int)json_integer_value(v) : -1;
    }
    return dbk_measure_score_answers(*m, a, (*m)->nitems, sc);
}
