/*
 * The review period (the days a review or a Read first box covers) and the
 * times the review shows. Both the review (review.c) and its Read first box
 * (read_first.c) stand on this; it stands on the book alone.
 */
#include "period.h"
#include "daycount.h"

#include "dbk/error.h"

#include <stdio.h>
#include <string.h>

int
dbk_review_period_make(const dbk_eu_list *l, const dbk_id *client, const char *since,
                   dbk_review_period *p)
{
    memset(p, 0, sizeof *p);
    p->enrolled_day = INT64_MIN;
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

int64_t
dbk_review_day_in(const dbk_review_period *p, int64_t d)
{
    return d > p->to ? p->to : d;
}

static const char *
str_or(const json_t *doc, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(doc, key));
    return v ? v : dflt;
}

const char *
dbk_review_when_key(const char *type)
{
    return strcmp(type, "journal") == 0   ? "written_at"
           : strcmp(type, "checkin") == 0 ? "recorded_at"
           : strcmp(type, "measure") == 0 ? "answered_at"
                                          : "occurred_at";
}

void
dbk_review_when(const json_t *doc, const char *key, char out[DBK_REVIEW_WHEN_MAX])
{
    const char *v = str_or(doc, key, ""), *tz = str_or(doc, "tz", NULL);
    char zone[64] = "";
    size_t n = strlen(v);
    if (n < 16) {
        snprintf(out, DBK_REVIEW_WHEN_MAX, "%s", n ? v : "(no time)");
        return;
    }
    if (tz != NULL && *tz) {
        snprintf(zone, sizeof zone, "%s", tz);
    } else {
        /* The offset the client's device wrote: "Z" or "+hh:mm" at the end. */
        const char *off = v + n - 1;
        if (*off == 'Z' || *off == 'z')
            snprintf(zone, sizeof zone, "UTC");
        else if (n >= 22 && (v[n - 6] == '+' || v[n - 6] == '-'))
            snprintf(zone, sizeof zone, "UTC%s", v + n - 6);
        else
            snprintf(zone, sizeof zone, "zone not given");
    }
    snprintf(out, DBK_REVIEW_WHEN_MAX, "%.10s %.5s %s", v, v + 11, zone);
}
