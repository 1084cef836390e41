/* The Timeline Followback calendar; see tlfb.h for the rules. */
#include "tlfb.h"
#include "counts.h"
#include "daycount.h"

#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>

void
dbk_tlfb_mark(dbk_tlfb *t, int64_t day, bool used, bool abstinent, bool recalled)
{
    if (day < t->first || day >= t->first + (int64_t)t->n || (!used && !abstinent))
        return;
    dbk_tlfb_day *d = &t->days[day - t->first];
    bool had = d->state != DBK_TLFB_NONE;
    if (used)
        d->state = DBK_TLFB_USED; /* any report of use makes it a use day */
    else if (d->state == DBK_TLFB_NONE)
        d->state = DBK_TLFB_ABSTINENT;
    /* Recalled only while every report of the day was filled in afterwards. */
    d->recalled = had ? d->recalled && recalled : recalled;
}

/* A check-in's date and whether it reports use; false when it is not one. */
static bool
checkin_of(const json_t *doc, int64_t *day, bool *used, bool *recalled)
{
    const char *date = json_string_value(json_object_get(doc, "date"));
    json_t *use = json_object_get(json_object_get(doc, "use"), "any");
    if (date == NULL || !json_is_boolean(use) || !dbk_day_parse(date, day))
        return false;
    *used = json_is_true(use);
    *recalled = json_is_true(json_object_get(doc, "recalled"));
    return true;
}

int
dbk_tlfb_build(const dbk_eu_list *l, const dbk_id *owner, int64_t first, int64_t last,
               dbk_tlfb *out)
{
    memset(out, 0, sizeof *out);
    if (last < first)
        return DBK_OK;
    out->first = first;
    out->n = (size_t)(last - first + 1);
    if ((out->days = calloc(out->n, sizeof *out->days)) == NULL)
        return DBK_E_NOMEM;
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        int64_t day;
        bool used, recalled;
        if (owner != NULL ? !dbk_id_equal(&e->owner, owner) : !e->mine)
            continue;
        if (strcmp(e->type, "checkin") == 0 && checkin_of(e->doc, &day, &used, &recalled))
            dbk_tlfb_mark(out, day, used, !used, recalled);
        else if (strcmp(e->type, "craving") == 0 && dbk_eu_entry_day(e->doc, &day) &&
                 dbk_eu_outcome(e->doc) != NULL && strcmp(dbk_eu_outcome(e->doc), "used") == 0)
            dbk_tlfb_mark(out, day, true, false, false);
    }
    return DBK_OK;
}

void
dbk_tlfb_free(dbk_tlfb *t)
{
    free(t->days);
    memset(t, 0, sizeof *t);
}

void
dbk_tlfb_count(const dbk_tlfb *t, dbk_tlfb_counts *out)
{
    unsigned run = 0;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < t->n; i++) {
        const dbk_tlfb_day *d = &t->days[i];
        out->recalled += d->state != DBK_TLFB_NONE && d->recalled;
        switch (d->state) {
        case DBK_TLFB_ABSTINENT:
            out->abstinent++;
            if (++run > out->longest_run)
                out->longest_run = run;
            break;
        case DBK_TLFB_USED: out->used++, run = 0; break;
        case DBK_TLFB_NONE: out->unreported++, run = 0; break;
        }
    }
    /* A last day not reported yet (today, still going) does not end the current run. */
    run = 0;
    size_t end = t->n;
    if (end > 0 && t->days[end - 1].state == DBK_TLFB_NONE)
        end--;
    while (end > 0 && t->days[end - 1].state == DBK_TLFB_ABSTINENT)
        run++, end--;
    out->current_run = run;
    unsigned reported = out->abstinent + out->used;
    out->pct_abstinent = reported ? 100.0 * out->abstinent / reported : -1;
}
