/*
 * Scheduled measures (issue 19), the subcommands of daybook measure:
 *
 *   daybook measure schedule CLIENT INSTRUMENT --every DAYS [--start DATE]
 *   daybook measure unschedule CLIENT INSTRUMENT                   (counselors)
 *   daybook measure due [--client CLIENT]         what is due, and when it was last
 *                                                 answered
 *
 * A schedule is a "measure_schedule" record the counselor writes into the client's
 * shared stream (proto/schemas/measure-schedule.schema.json); a change or a stop is
 * a new revision of the same record. When it is due is book/measure_plan.h's rule.
 */
#include "cmd.h"
#include "daycount.h"
#include "entries.h"
#include "entry.h"
#include "measure_plan.h"
#include "output.h"
#include "resolve.h"

#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
usage(void)
{
    fprintf(stderr,
            "usage: daybook measure schedule CLIENT phq9|gad7|bam --every DAYS [--start DATE]\n"
            "       daybook measure unschedule CLIENT phq9|gad7|bam\n"
            "       daybook measure due [--client CLIENT]\n"
            "  DAYS is 1 to %d: 7 for a weekly PHQ-9, 30 for the BAM.\n",
            DBK_MEASURE_EVERY_MAX);
    return DBK_EXIT_USAGE;
}

/* Opens the session and loads owner's entries and schedules (the session stays open
 * on success). */
static int
load(dbk_session *s, const char *cmd, const char *client, dbk_id *owner, dbk_eu_list *l,
     dbk_measure_sched **v, size_t *n)
{
    int rc;
    memset(l, 0, sizeof *l);
    if ((rc = dbk_session_open(s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if ((rc = dbk_resolve_owner(s, cmd, client, owner)) != DBK_EXIT_OK) {
        dbk_session_close(s);
        return rc;
    }
    if ((rc = dbk_eu_load_owned(s, owner, l)) != DBK_OK ||
        (rc = dbk_measure_schedules(l, owner, v, n)) != DBK_OK) {
        dbk_eu_free(l);
        dbk_session_close(s);
        return dbk_cmd_fail("cannot read the measure records", rc);
    }
    dbk_out_warn_unopened(l);
    return DBK_EXIT_OK;
}

/* The schedule of m among v, or NULL. */
static const dbk_measure_sched *
find(const dbk_measure_sched *v, size_t n, const dbk_measure *m)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].m == m)
            return &v[i];
    return NULL;
}

/* Saves doc as the schedule (a revision of old when this account wrote it). */
static int
save(dbk_session *s, const dbk_id *owner, const dbk_measure_sched *old, json_t *doc,
     dbk_id *id)
{
    dbk_local_stream st;
    bool own = old != NULL && dbk_id_equal(&old->e->hdr.author, &s->account);
    dbk_id record = own ? old->e->hdr.record : (dbk_id){{0}};
    int rc = dbk_local_stream_of(s->L, owner, DBK_LOCAL_SHARED, &st);
    return rc == DBK_OK ? dbk_entry_save_in(s, &st.id, own ? &record : NULL, doc, id) : rc;
}

int
dbk_cmd_measure_schedule(dbk_ctx *ctx, int argc, char **argv, bool stop)
{
    const char *every_s = NULL, *start = NULL;
    const dbk_measure *m;
    long every = 0;
    int64_t start_day = dbk_eu_today();
    dbk_session s;
    dbk_eu_list l;
    dbk_measure_sched *v = NULL;
    size_t n = 0;
    dbk_id owner, id;
    char day[11], t[DBK_ID_TEXT_LEN + 1], *end;
    int rc;

    if (!dbk_cmd_take_option(&argc, argv, "--every", &every_s) ||
        !dbk_cmd_take_option(&argc, argv, "--start", &start) || argc != 3 ||
        (stop && (every_s != NULL || start != NULL)) || (!stop && every_s == NULL))
        return usage();
    if ((m = dbk_measure_find(argv[2])) == NULL) {
        fprintf(stderr, "daybook: no measure '%s'; 'daybook measure --list' shows them\n",
                argv[2]);
        return DBK_EXIT_USAGE;
    }
    if (every_s != NULL && ((every = strtol(every_s, &end, 10)) < 1 || *end != '\0' ||
                            every > DBK_MEASURE_EVERY_MAX)) {
        fprintf(stderr, "daybook: --every is a number of days, 1 to %d\n", DBK_MEASURE_EVERY_MAX);
        return DBK_EXIT_USAGE;
    }
    if (start != NULL && (!dbk_day_parse(start, &start_day) ||
                          start_day < dbk_eu_today() - 365 || start_day > dbk_eu_today() + 365)) {
        fprintf(stderr, "daybook: --start is a date YYYY-MM-DD within a year of today\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = load(&s, stop ? "measure unschedule" : "measure schedule", argv[1], &owner, &l, &v,
                   &n)) != DBK_EXIT_OK)
        return rc;
    const dbk_measure_sched *old = find(v, n, m);
    json_t *doc = NULL;
    if (stop && (old == NULL || !old->active)) {
        fprintf(stderr, "daybook: %s is not scheduled for this client\n", m->name);
        rc = DBK_EXIT_FAIL;
    } else if (stop) {
        doc = json_deep_copy(old->e->doc);
        json_object_set_new(doc, "active", json_false());
    } else {
        dbk_day_format(start_day, day);
        doc = json_pack("{s:s, s:i, s:s, s:i, s:b, s:s, s:s}", "type", "measure_schedule", "v", 1,
                        "instrument", m->id, "every_days", (int)every, "active", 1, "start_date",
                        day, "set_by", "counselor");
    }
    if (doc != NULL) {
        rc = save(&s, &owner, old, doc, &id);
        json_decref(doc);
        if (rc != DBK_OK) {
            rc = dbk_cmd_fail("the schedule was not saved", rc);
        } else {
            dbk_id_to_text(&id, t);
            if (ctx->json)
                printf("{\"id\":\"%s\",\"active\":%s}\n", t, stop ? "false" : "true");
            else if (stop)
                printf("%s is no longer scheduled (%s); the client sees it after both of you "
                       "sync.\n", m->name, t);
            else
                printf("%s every %ld days from %s (%s); the client sees it after both of you "
                       "sync.\n", m->name, every, day, t);
            rc = DBK_EXIT_OK;
        }
    }
    free(v);
    dbk_eu_free(&l);
    dbk_session_close(&s);
    return rc;
}

json_t *
dbk_cmd_due_measures(const dbk_session *s, const dbk_eu_list *l, int64_t today, FILE *o)
{
    dbk_measure_sched *v = NULL;
    size_t n = 0;
    json_t *due = json_array();
    if (dbk_measure_schedules(l, &s->account, &v, &n) != DBK_OK)
        return due;
    for (size_t i = 0; i < n; i++) {
        if (!dbk_measure_is_due(&v[i], today))
            continue;
        if (o != NULL && json_array_size(due) == 0)
            fprintf(o, "\nQuestionnaires your counselor asked for:\n");
        if (o != NULL)
            fprintf(o, "  %-6s %s: daybook measure %s\n", v[i].m->name,
                    v[i].due < today ? "overdue" : "due today", v[i].m->id);
        json_array_append_new(due, json_pack("{s:s, s:s, s:b}", "instrument", v[i].m->id, "name",
                                             v[i].m->name, "overdue", v[i].due < today));
    }
    free(v);
    return due;
}

int
dbk_cmd_measure_due(dbk_ctx *ctx, int argc, char **argv)
{
    const char *client = NULL;
    dbk_session s;
    dbk_eu_list l;
    dbk_measure_sched *v = NULL;
    size_t n = 0;
    dbk_id owner;
    int64_t today = dbk_eu_today();
    char d[11], last[11];
    int rc;

    if (!dbk_cmd_take_option(&argc, argv, "--client", &client) || argc != 1)
        return usage();
    if ((rc = load(&s, "measure due", client, &owner, &l, &v, &n)) != DBK_EXIT_OK)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!v[i].active)
            continue;
        dbk_day_format(v[i].due, d);
        if (v[i].last != INT64_MIN)
            dbk_day_format(v[i].last, last);
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:i, s:s, s:o, s:b}", "instrument", v[i].m->id, "name",
                           v[i].m->name, "every_days", v[i].every_days, "due", d,
                           "last_answered", v[i].last != INT64_MIN ? json_string(last) : json_null(),
                           "due_now", dbk_measure_is_due(&v[i], today)));
        if (!ctx->json)
            printf("%-6s every %3d days  last answered %-10s  %s %s\n", v[i].m->name,
                   v[i].every_days, v[i].last != INT64_MIN ? last : "never",
                   dbk_measure_is_due(&v[i], today) ? (v[i].due < today ? "OVERDUE since"
                                                                       : "due today,")
                                                    : "next due",
                   d);
    }
    if (ctx->json)
        dbk_out_json(stdout, arr);
    else if (json_array_size(arr) == 0)
        printf("No questionnaire is scheduled.\n");
    json_decref(arr);
    free(v);
    dbk_eu_free(&l);
    dbk_session_close(&s);
    return DBK_EXIT_OK;
}
