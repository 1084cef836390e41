/* MAT schedules and adherence; see mat.h for the rules. */
#include "mat.h"

#include "daycount.h"

#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const frequencies[] = {"daily", "twice_daily", "weekly", "monthly", NULL};

bool
dbk_mat_frequency_ok(const char *frequency)
{
    for (size_t i = 0; frequencies[i]; i++)
        if (strcmp(frequency, frequencies[i]) == 0)
            return true;
    return false;
}

static const char *
str(const json_t *doc, const char *key)
{
    return json_string_value(json_object_get(doc, key));
}

int
dbk_mat_schedules(const dbk_eu_list *l, const dbk_id *owner, dbk_med **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        dbk_med m = {e, str(e->doc, "name"), str(e->doc, "dose"), str(e->doc, "frequency"),
                     str(e->doc, "supervision"), json_is_true(json_object_get(e->doc, "active")),
                     0};
        if (strcmp(e->type, "medication") != 0 || !dbk_id_equal(&e->owner, owner) ||
            m.name == NULL || m.frequency == NULL || !dbk_mat_frequency_ok(m.frequency) ||
            str(e->doc, "start_date") == NULL || !dbk_day_parse(str(e->doc, "start_date"), &m.start))
            continue;
        dbk_med *v = realloc(*out, (*n + 1) * sizeof *v);
        if (v == NULL) {
            free(*out);
            *out = NULL;
            *n = 0;
            return DBK_E_NOMEM;
        }
        *out = v;
        v[(*n)++] = m;
    }
    return DBK_OK;
}

const dbk_med *
dbk_mat_find(const dbk_med *meds, size_t n, const char *name)
{
    const dbk_med *found = NULL;
    for (size_t i = 0; i < n; i++) /* oldest first: a later schedule of the same name wins */
        if (strcasecmp(meds[i].name, name) == 0)
            found = &meds[i];
    return found;
}

/* Doses of m due on day (0 between weekly or monthly doses). */
static unsigned
due_on(const dbk_med *m, int64_t day)
{
    if (day < m->start)
        return 0;
    if (strcmp(m->frequency, "daily") == 0)
        return 1;
    if (strcmp(m->frequency, "twice_daily") == 0)
        return 2;
    int64_t every = strcmp(m->frequency, "weekly") == 0 ? 7 : 28;
    return (day - m->start) % every == 0 ? 1 : 0;
}

/* Per day of the period: doses taken and missed as reported. */
struct day_report {
    unsigned taken, missed;
    bool any;
};

static void
collect(const dbk_eu_list *l, const dbk_id *owner, const dbk_med *m, int64_t from, int64_t to,
        struct day_report *r)
{
    bool per_day = strcmp(m->frequency, "daily") == 0 || strcmp(m->frequency, "twice_daily") == 0;
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        int64_t day;
        if (!dbk_id_equal(&e->owner, owner) || str(e->doc, "date") == NULL ||
            !dbk_day_parse(str(e->doc, "date"), &day) || day < from || day > to)
            continue;
        struct day_report *d = &r[day - from];
        unsigned due = per_day ? due_on(m, day) : 0;
        const char *status;
        if (strcmp(e->type, "dose") == 0 && str(e->doc, "medication") != NULL &&
            strcasecmp(str(e->doc, "medication"), m->name) == 0 &&
            (status = str(e->doc, "status")) != NULL) {
            d->any = true;
            if (strcmp(status, "taken") == 0)
                d->taken++;
            else if (strcmp(status, "missed") == 0)
                d->missed++;
        } else if (per_day && due > 0 && strcmp(e->type, "checkin") == 0 &&
                   (status = str(e->doc, "medication")) != NULL && strcmp(status, "none") != 0) {
            /* A check-in speaks for the day only where no dose record does. */
            if (d->any)
                continue;
            d->any = true;
            d->taken = strcmp(status, "taken") == 0 ? due : strcmp(status, "partly") == 0 ? due - 1 : 0;
            d->missed = due - d->taken;
        }
    }
}

static void
add_missed_day(dbk_mat_adherence *out, int64_t day)
{
    if (out->nmissed_days < sizeof out->missed_days / sizeof out->missed_days[0])
        out->missed_days[out->nmissed_days++] = day;
}

/* Weekly and monthly doses: one due at the start of each window of 7 or 28 days; a
 * dose reported taken (or missed) anywhere in the window answers it, so an injection
 * given a day late counts. */
static void
by_window(const dbk_med *m, int64_t from, int64_t to, const struct day_report *r,
          dbk_mat_adherence *out)
{
    int64_t every = strcmp(m->frequency, "weekly") == 0 ? 7 : 28;
    for (int64_t day = from; day <= to; day++) {
        if (due_on(m, day) == 0)
            continue;
        bool taken = false, missed = false;
        for (int64_t d = day; d < day + every && d <= to; d++)
            taken |= r[d - from].taken > 0, missed |= r[d - from].missed > 0;
        out->due++;
        if (taken)
            out->taken++;
        else if (missed)
            out->missed++, add_missed_day(out, day);
        else
            out->unconfirmed++;
    }
}

int64_t
dbk_mat_last_day(const dbk_eu_list *l, const dbk_id *owner, int64_t today)
{
    int64_t last = today, d;
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        const char *date = json_string_value(json_object_get(e->doc, "date"));
        if (date != NULL && dbk_id_equal(&e->owner, owner) &&
            (strcmp(e->type, "dose") == 0 || strcmp(e->type, "checkin") == 0) &&
            dbk_day_parse(date, &d) && d > last && d <= today + DBK_MAT_AHEAD_DAYS)
            last = d;
    }
    return last;
}

void
dbk_mat_adherence_of(const dbk_eu_list *l, const dbk_id *owner, const dbk_med *m, int64_t from,
                     int64_t to, dbk_mat_adherence *out)
{
    memset(out, 0, sizeof *out);
    if (to < from)
        return;
    struct day_report *r = calloc((size_t)(to - from + 1), sizeof *r);
    if (r == NULL)
        return;
    collect(l, owner, m, from, to, r);
    if (strcmp(m->frequency, "weekly") == 0 || strcmp(m->frequency, "monthly") == 0) {
        by_window(m, from, to, r, out);
        free(r);
        return;
    }
    for (int64_t day = from; day <= to; day++) {
        struct day_report *d = &r[day - from];
        unsigned due = due_on(m, day);
        unsigned taken = d->taken < due ? d->taken : due;
        unsigned missed = d->missed < due - taken ? d->missed : due - taken;
        out->due += due;
        out->taken += taken;
        out->missed += missed;
        out->unconfirmed += due - taken - missed;
        if (missed > 0)
            add_missed_day(out, day);
    }
    free(r);
}
