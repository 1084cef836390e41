/*
 * daybook med: medication for addiction treatment (book/mat.h).
 *
 *   daybook med [--client CLIENT] [--days N]       schedules and adherence
 *   daybook med take [NAME] [--date DATE] [--missed] a dose taken (or missed)
 *   daybook med set CLIENT NAME --dose TEXT --frequency F --observed|--take-home
 *   daybook med stop CLIENT NAME
 *
 * `set` and `stop` are the counselor's (or prescriber's): a medication record
 * written into the client's shared stream. `take` is the client's: a dose record.
 */
#include "backdate.h"
#include "cmd.h"
#include "counselor.h"
#include "daycount.h"
#include "entries.h"
#include "mat.h"
#include "output.h"
#include "resolve.h"

#include "dbk/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADHERENCE_DAYS 7

static int
usage(void)
{
    fprintf(stderr,
            "usage: daybook med [--client CLIENT] [--days N]\n"
            "       daybook med take [NAME] [--date YYYY-MM-DD] [--missed]\n"
            "       daybook med set CLIENT NAME --dose TEXT --frequency daily|twice_daily|\n"
            "                       weekly|monthly --observed|--take-home [--start DATE]\n"
            "       daybook med stop CLIENT NAME\n"
            "  NAME is the generic name (buprenorphine, methadone, naltrexone,\n"
            "  acamprosate, disulfiram, ...). A dose nobody confirmed is shown as\n"
            "  unconfirmed, never as taken.\n");
    return DBK_EXIT_USAGE;
}

/* Loads owner's entries and schedules; the session stays open. */
static int
load(dbk_session *s, const char *cmd, const char *client, dbk_id *owner, dbk_eu_list *l,
     dbk_med **meds, size_t *n)
{
    int rc = dbk_cmd_load_owned(s, cmd, client, "the medication records", owner, l);
    if (rc == DBK_EXIT_OK && (rc = dbk_mat_schedules(l, owner, meds, n)) != DBK_OK) {
        dbk_eu_free(l);
        dbk_session_close(s);
        return dbk_cmd_fail("cannot read the medication records", rc);
    }
    return rc;
}

static int
cmd_list(dbk_ctx *ctx, const char *client, long days)
{
    dbk_session s;
    dbk_eu_list l;
    dbk_med *meds = NULL;
    size_t n = 0;
    dbk_id owner;
    int64_t today = dbk_eu_today(), last;
    json_t *arr = json_array();
    char to[11];
    int rc;

    if ((rc = load(&s, "med --client", client, &owner, &l, &meds, &n)) != DBK_EXIT_OK) {
        json_decref(arr);
        return rc;
    }
    /* To today, or a later day the client reported on (its date ahead of this device's),
     * each day with its own date, as in the review (book/mat.h dbk_mat_last_day). */
    last = dbk_mat_last_day(&l, &owner, today);
    dbk_day_format(last, to);
    if (n == 0 && !ctx->json)
        printf("No medication schedule. Your counselor or prescriber sets one "
               "('daybook med set').\n");
    for (size_t i = 0; i < n; i++) {
        const dbk_med *m = &meds[i];
        if (dbk_mat_find(meds, n, m->name) != m)
            continue; /* an older schedule of the same medication */
        dbk_mat_adherence a;
        dbk_mat_adherence_of(&l, &owner, m, today - days + 1, last, &a);
        if (ctx->json) {
            json_t *missed = json_array();
            for (size_t k = 0; k < a.nmissed_days; k++) {
                char d[11];
                dbk_day_format(a.missed_days[k], d);
                json_array_append_new(missed, json_string(d));
            }
            json_array_append_new(
                arr,
                json_pack("{s:s, s:s?, s:s, s:s?, s:b, s:{s:i, s:s, s:i, s:i, s:i, s:i, "
                          "s:o}}",
                          "name", m->name, "dose", m->dose, "frequency", m->frequency,
                          "supervision", m->supervision, "active", m->active, "adherence", "days",
                          (int)days, "to", to, "due", a.due, "taken", a.taken, "missed", a.missed,
                          "unconfirmed", a.unconfirmed, "missed_days", missed));
            continue;
        }
        printf("%s %s, %s, %s%s\n", m->name, m->dose ? m->dose : "",
               strcmp(m->frequency, "twice_daily") == 0 ? "twice daily" : m->frequency,
               m->supervision && strcmp(m->supervision, "observed") == 0 ? "observed at the clinic"
                                                                         : "take-home",
               m->active ? "" : " (stopped)");
        if (m->active)
            printf("  last %ld days%s%s%s: %u of %u doses taken, %u missed, %u not confirmed\n",
                   days, last > today ? " (to " : "", last > today ? to : "",
                   last > today ? ", a date ahead of this device's)" : "", a.taken, a.due, a.missed,
                   a.unconfirmed);
    }
    if (ctx->json)
        dbk_out_json(stdout, arr);
    json_decref(arr);
    free(meds);
    dbk_eu_free(&l);
    dbk_session_close(&s);
    return DBK_EXIT_OK;
}

static int
cmd_take(dbk_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"date", required_argument, NULL, 'd'},
        {"missed", no_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    const char *date_arg = NULL, *name = NULL;
    bool missed = false;
    int64_t today = dbk_eu_today(), day = today;
    char date[11], now[40], tz[64], t[DBK_ID_TEXT_LEN + 1];
    dbk_session s;
    dbk_eu_list l;
    dbk_med *meds = NULL;
    const dbk_med *m = NULL;
    size_t n = 0;
    dbk_id owner, id;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'd': date_arg = optarg; break;
        case 'm': missed = true; break;
        default: return usage();
        }
    }
    if (argc - optind > 1)
        return usage();
    name = optind < argc ? argv[optind] : NULL;
    if (date_arg != NULL && !dbk_bd_day("--date", date_arg, today, &day))
        return DBK_EXIT_USAGE;
    if ((rc = load(&s, "med take", NULL, &owner, &l, &meds, &n)) != DBK_EXIT_OK)
        return rc;
    size_t active = 0;
    for (size_t i = 0; i < n; i++)
        if (meds[i].active && dbk_mat_find(meds, n, meds[i].name) == &meds[i])
            active++, m = name ? m : &meds[i];
    if (name != NULL)
        m = dbk_mat_find(meds, n, name);
    if (m == NULL || !m->active || (name == NULL && active != 1)) {
        fprintf(stderr, "daybook: %s; 'daybook med' lists your medication\n",
                name ? "no such medication in your schedule"
                     : active ? "you take more than one medication: name it"
                              : "you have no medication schedule yet");
        rc = DBK_EXIT_USAGE;
    } else {
        dbk_day_format(day, date);
        dbk_now_rfc3339(now);
        dbk_local_tz(tz, sizeof tz);
        json_t *doc = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "type", "dose", "v", 1,
                                "medication", m->name, "date", date, "status",
                                missed ? "missed" : "taken", "recorded_at", now, "tz", tz);
        if (day < today)
            json_object_set_new(doc, "recalled", json_true());
        rc = dbk_entry_save(&s, DBK_LOCAL_SHARED, NULL, doc, &id);
        json_decref(doc);
        if (rc != DBK_OK) {
            rc = dbk_cmd_fail("the dose was not saved", rc);
        } else {
            dbk_id_to_text(&id, t);
            if (ctx->json)
                printf("{\"id\":\"%s\",\"medication\":\"%s\",\"date\":\"%s\",\"status\":\"%s\"}\n",
                       t, m->name, date, missed ? "missed" : "taken");
            else
                printf("%s %s for %s (%s).%s\n", missed ? "Noted a missed dose of" : "Noted",
                       m->name, date, t,
                       missed ? " Thank you for saying so; your counselor will see it and can "
                                "help."
                              : "");
            rc = DBK_EXIT_OK;
        }
    }
    free(meds);
    dbk_eu_free(&l);
    dbk_session_close(&s);
    return rc;
}

static json_t *
schedule_doc(const char *name, const char *dose, const char *freq, const char *sup,
             const char *start)
{
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:b, s:s, s:s}", "type", "medication", "v",
                     1, "name", name, "dose", dose, "frequency", freq, "supervision", sup,
                     "active", 1, "start_date", start, "set_by", "counselor");
}

/* Saves the schedule doc for the client owner's shared stream, revising old when this
 * counselor wrote it, and says so; the exit code. */
static int
save_schedule(const dbk_ctx *ctx, dbk_session *s, const dbk_id *owner, const dbk_med *old,
              json_t *doc, bool stop, const char *med)
{
    /* A counselor revises only a record it wrote (proto README section 9). */
    bool own = old != NULL && dbk_id_equal(&old->e->hdr.author, &s->account);
    dbk_id record = own ? old->e->hdr.record : (dbk_id){{0}}, id;
    dbk_local_stream st;
    char t[DBK_ID_TEXT_LEN + 1];
    int rc;

    if ((rc = dbk_local_stream_of(s->L, owner, DBK_LOCAL_SHARED, &st)) == DBK_OK)
        rc = dbk_entry_save_in(s, &st.id, own ? &record : NULL, doc, &id);
    if (rc != DBK_OK)
        return dbk_cmd_fail("the schedule was not saved", rc);
    dbk_id_to_text(&id, t);
    if (ctx->json)
        printf("{\"id\":\"%s\",\"active\":%s}\n", t, stop ? "false" : "true");
    else
        printf("%s %s for the client (%s); they see it after both of you sync.\n",
               stop ? "Stopped" : "Set", med, t);
    return DBK_EXIT_OK;
}

/* `set CLIENT NAME ...` and `stop CLIENT NAME`: a new revision of the client's
 * schedule for NAME (the counselor's own record of it), or a new schedule. */
static int
cmd_set(dbk_ctx *ctx, int argc, char **argv, bool stop)
{
    static const struct option opts[] = {
        {"dose", required_argument, NULL, 'd'},
        {"frequency", required_argument, NULL, 'f'},
        {"observed", no_argument, NULL, 'o'},
        {"take-home", no_argument, NULL, 't'},
        {"start", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    const char *dose = NULL, *freq = NULL, *sup = NULL, *start = NULL, *client, *name;
    int64_t start_day = dbk_eu_today();
    char today_s[11];
    dbk_session s;
    dbk_eu_list l;
    dbk_med *meds = NULL;
    size_t n = 0;
    dbk_id owner;
    int opt, rc;

    /* CLIENT first: an account id may begin with '-' (one in 64) and is not an option. */
    client = dbk_cmd_take_operand(&argc, argv, "");
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'd': dose = optarg; break;
        case 'f': freq = optarg; break;
        case 'o': sup = "observed"; break;
        case 't': sup = "take_home"; break;
        case 's': start = optarg; break;
        default: return usage();
        }
    }
    if (freq != NULL && !dbk_mat_frequency_ok(freq)) {
        fprintf(stderr, "daybook: med set needs --dose, --frequency (daily, twice_daily, "
                        "weekly or monthly) and --observed or --take-home\n");
        return DBK_EXIT_USAGE;
    }
    if (argc - optind != (client != NULL ? 1 : 2) || (stop && (dose || freq || sup || start)))
        return usage();
    if (client == NULL)
        client = argv[optind++];
    name = argv[optind];
    if (start != NULL && !dbk_bd_day("--start", start, dbk_eu_today(), &start_day))
        return DBK_EXIT_USAGE;
    if (!stop && (dose == NULL || freq == NULL || sup == NULL || !dbk_mat_frequency_ok(freq))) {
        fprintf(stderr, "daybook: med set needs --dose, --frequency (daily, twice_daily, "
                        "weekly or monthly) and --observed or --take-home\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = load(&s, stop ? "med stop" : "med set", client, &owner, &l, &meds, &n)) !=
        DBK_EXIT_OK)
        return rc;
    const dbk_med *old = dbk_mat_find(meds, n, name);
    json_t *doc = NULL;
    if (stop && old == NULL) {
        fprintf(stderr, "daybook: %s is not in the client's schedule\n", name);
        rc = DBK_EXIT_FAIL;
    } else if (stop) {
        doc = json_deep_copy(old->e->doc);
        json_object_set_new(doc, "active", json_false());
    } else {
        dbk_day_format(start_day, today_s);
        doc = schedule_doc(name, dose, freq, sup, today_s);
    }
    if (doc != NULL) {
        rc = save_schedule(ctx, &s, &owner, old, doc, stop, name);
        json_decref(doc);
    }
    free(meds);
    dbk_eu_free(&l);
    dbk_session_close(&s);
    return rc;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"client", required_argument, NULL, 'c'},
        {"days", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    const char *client = NULL;
    long days = ADHERENCE_DAYS;
    int opt;

    if (argc >= 2 && strcmp(argv[1], "take") == 0)
        return cmd_take(ctx, argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "set") == 0 || strcmp(argv[1], "stop") == 0))
        return cmd_set(ctx, argc - 1, argv + 1, strcmp(argv[1], "stop") == 0);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'c': client = optarg; break;
        case 'n':
            days = strtol(optarg, &end, 10);
            if (*end != '\0' || days < 1 || days > 366) {
                fprintf(stderr, "daybook: --days is 1 to 366\n");
                return DBK_EXIT_USAGE;
            }
            break;
        default: return usage();
        }
    }
    if (optind != argc)
        return usage();
    return cmd_list(ctx, client, days);
}

const dbk_cmd dbk_cmd_med = {
    .name = "med",
    .usage = "daybook med [take [NAME] | set CLIENT NAME ... | stop CLIENT NAME] [--client C]",
    .summary = "medication for addiction treatment: the schedule, doses taken, adherence",
    .run = run,
};
