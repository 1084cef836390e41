/*
 * daybook checkin: the daily check-in (proto/schemas/checkin.schema.json), done in
 * under 30 seconds: mood, the day's peak craving, any use (what, how much, how),
 * medication taken, hours of sleep, and whether there was a risky situation. One
 * check-in per day: checking in again that day writes a new revision of it. A
 * check-in for a past day (--date) is marked recalled, as the Timeline Followback
 * asks. After a reported use or a strong craving the crisis card is shown.
 */
#include "backdate.h"
#include "cmd.h"
#include "crisis.h"
#include "daycount.h"
#include "entries.h"
#include "output.h"

#include "dbk/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HIGH_CRAVING 7 /* as for a craving entry: the card is shown at or above this */

static const char *const routes[] = {"oral", "smoked", "snorted", "injected", "other", NULL};
static const char *const meds[] = {"taken", "partly", "missed", "none", NULL};

static int
usage(void)
{
    fprintf(stderr,
            "usage: daybook checkin [options]   (on a terminal, what is missing is asked)\n"
            "  --mood N            0 (very low) to 10 (very good)\n"
            "  --craving N         the day's strongest craving, 0 to 10\n"
            "  --used | --no-use   whether you used today\n"
            "  --substance TEXT    what you used; --amount TEXT, --route oral|smoked|\n"
            "                      snorted|injected|other\n"
            "  --meds taken|partly|missed|none   your prescribed medication today (none:\n"
            "                      none is prescribed)\n"
            "  --sleep HOURS       hours slept last night, 0 to 24\n"
            "  --risky | --no-risky  whether you were in a risky situation\n"
            "  --note TEXT         anything else\n"
            "  --date YYYY-MM-DD   a past day, filled in afterwards (marked recalled)\n");
    return DBK_EXIT_USAGE;
}

static bool
one_of(const char *v, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(v, list[i]) == 0)
            return true;
    return false;
}

static bool
int_in(const char *opt, const char *v, long lo, long hi, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end != '\0' || n < lo || n > hi) {
        fprintf(stderr, "daybook: %s is a whole number from %ld to %ld, not '%s'\n", opt, lo, hi,
                v);
        return false;
    }
    *out = n;
    return true;
}

/* Asks for a number in [lo, hi] until one is given; false at end of input. */
static bool
ask_int(const char *prompt, long lo, long hi, long *out)
{
    char line[64];
    for (;;) {
        printf("%s ", prompt);
        fflush(stdout);
        if (fgets(line, sizeof line, stdin) == NULL)
            return false;
        line[strcspn(line, "\r\n")] = '\0';
        char *end;
        long n = strtol(line, &end, 10);
        if (end != line && *end == '\0' && n >= lo && n <= hi) {
            *out = n;
            return true;
        }
        printf("  Please type a number from %ld to %ld.\n", lo, hi);
    }
}

static bool
ask_yes_no(const char *prompt, int *out)
{
    char line[64];
    for (;;) {
        printf("%s [y/n] ", prompt);
        fflush(stdout);
        if (fgets(line, sizeof line, stdin) == NULL)
            return false;
        if (line[0] == 'y' || line[0] == 'Y' || line[0] == 'n' || line[0] == 'N') {
            *out = line[0] == 'y' || line[0] == 'Y';
            return true;
        }
    }
}

struct answers {
    long mood, craving, sleep; /* -1: not given */
    int used, risky;           /* -1: not given */
    const char *substance, *amount, *route, *meds, *note, *date;
};

static int
parse(int argc, char **argv, struct answers *a)
{
    static const struct option opts[] = {
        {"mood", required_argument, NULL, 'm'},   {"craving", required_argument, NULL, 'c'},
        {"used", no_argument, NULL, 'u'},         {"no-use", no_argument, NULL, 'U'},
        {"substance", required_argument, NULL, 's'}, {"amount", required_argument, NULL, 'a'},
        {"route", required_argument, NULL, 'r'},  {"meds", required_argument, NULL, 'M'},
        {"sleep", required_argument, NULL, 'S'},  {"risky", no_argument, NULL, 'k'},
        {"no-risky", no_argument, NULL, 'K'},     {"note", required_argument, NULL, 'n'},
        {"date", required_argument, NULL, 'd'},   {NULL, 0, NULL, 0},
    };
    int opt;
    *a = (struct answers){-1, -1, -1, -1, -1, NULL, NULL, NULL, NULL, NULL, NULL};
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'm': if (!int_in("--mood", optarg, 0, 10, &a->mood)) return DBK_EXIT_USAGE; break;
        case 'c':
            if (!int_in("--craving", optarg, 0, 10, &a->craving))
                return DBK_EXIT_USAGE;
            break;
        case 'S': if (!int_in("--sleep", optarg, 0, 24, &a->sleep)) return DBK_EXIT_USAGE; break;
        case 'u': a->used = 1; break;
        case 'U': a->used = 0; break;
        case 'k': a->risky = 1; break;
        case 'K': a->risky = 0; break;
        case 's': a->substance = optarg; break;
        case 'a': a->amount = optarg; break;
        case 'r': a->route = optarg; break;
        case 'M': a->meds = optarg; break;
        case 'n': a->note = optarg; break;
        case 'd': a->date = optarg; break;
        default: return usage();
        }
    }
    if (optind != argc)
        return usage();
    if (a->route != NULL && !one_of(a->route, routes)) {
        fprintf(stderr, "daybook: --route is oral, smoked, snorted, injected or other\n");
        return DBK_EXIT_USAGE;
    }
    if (a->meds != NULL && !one_of(a->meds, meds)) {
        fprintf(stderr, "daybook: --meds is taken, partly, missed or none (none prescribed)\n");
        return DBK_EXIT_USAGE;
    }
    if (a->used == 0 && (a->substance || a->amount || a->route)) {
        fprintf(stderr, "daybook: --substance, --amount and --route go with --used\n");
        return DBK_EXIT_USAGE;
    }
    return DBK_EXIT_OK;
}

/* On a terminal, the three answers a check-in needs; a few seconds each. */
static bool
ask_missing(struct answers *a)
{
    if (a->mood < 0 && !ask_int("Mood today, 0 (very low) to 10 (very good)?", 0, 10, &a->mood))
        return false;
    if (a->craving < 0 &&
        !ask_int("Strongest craving today, 0 (none) to 10?", 0, 10, &a->craving))
        return false;
    if (a->used < 0 && !ask_yes_no("Did you use today? It's okay to say so.", &a->used))
        return false;
    return true;
}

static json_t *
make_doc(const struct answers *a, const char *date, bool recalled)
{
    char when[40], tz[64];
    json_t *use = json_pack("{s:b}", "any", a->used == 1), *doc;
    dbk_now_rfc3339(when);
    dbk_local_tz(tz, sizeof tz);
    if (a->substance)
        json_object_set_new(use, "substance", json_string(a->substance));
    if (a->amount)
        json_object_set_new(use, "amount", json_string(a->amount));
    if (a->route)
        json_object_set_new(use, "route", json_string(a->route));
    doc = json_pack("{s:s, s:i, s:s, s:s, s:s, s:o}", "type", "checkin", "v", 1, "date", date,
                    "recorded_at", when, "tz", tz, "use", use);
    if (a->mood >= 0)
        json_object_set_new(doc, "mood", json_integer(a->mood));
    if (a->craving >= 0)
        json_object_set_new(doc, "craving_peak", json_integer(a->craving));
    if (a->meds)
        json_object_set_new(doc, "medication", json_string(a->meds));
    if (a->sleep >= 0)
        json_object_set_new(doc, "sleep_hours", json_integer(a->sleep));
    if (a->risky >= 0)
        json_object_set_new(doc, "risky_situation", json_boolean(a->risky == 1));
    if (a->note)
        json_object_set_new(doc, "note", json_string(a->note));
    if (recalled)
        json_object_set_new(doc, "recalled", json_true());
    return doc;
}

/* This account's check-in for date, if there is one: its record id into *id. */
static bool
existing(dbk_session *s, const char *date, dbk_id *id)
{
    dbk_eu_list l;
    bool found = false;
    if (dbk_eu_load_owned(s, &s->account, &l) != DBK_OK)
        return false;
    for (size_t i = 0; i < l.n; i++) {
        const char *d = json_string_value(json_object_get(l.v[i].doc, "date"));
        if (l.v[i].mine && strcmp(l.v[i].type, "checkin") == 0 && d && strcmp(d, date) == 0) {
            *id = l.v[i].hdr.record;
            found = true;
        }
    }
    dbk_eu_free(&l);
    return found;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    struct answers a;
    char date[11], t[DBK_ID_TEXT_LEN + 1];
    int64_t today = dbk_eu_today(), day = today;
    dbk_session s;
    dbk_id id, prev;
    bool again;
    json_t *doc;
    int rc;

    if ((rc = parse(argc, argv, &a)) != DBK_EXIT_OK)
        return rc;
    if (a.date != NULL && !dbk_bd_day("--date", a.date, today, &day))
        return DBK_EXIT_USAGE;
    if ((a.used < 0 || (a.date == NULL && (a.mood < 0 || a.craving < 0))) &&
        (!isatty(STDIN_FILENO) || !ask_missing(&a)) && a.used < 0) {
        fprintf(stderr, "daybook: a check-in needs at least --used or --no-use "
                        "(and --mood and --craving for today)\n");
        return DBK_EXIT_USAGE;
    }
    dbk_day_format(day, date);
    doc = make_doc(&a, date, day < today);
    if ((rc = dbk_session_open(&s, false)) != DBK_OK) {
        json_decref(doc);
        return dbk_cmd_no_profile(rc);
    }
    again = existing(&s, date, &prev);
    rc = dbk_entry_save(&s, DBK_LOCAL_SHARED, again ? &prev : NULL, doc, &id);
    dbk_session_close(&s);
    json_decref(doc);
    if (rc != DBK_OK) {
        if (a.used == 1 || a.craving >= HIGH_CRAVING)
            dbk_crisis_card(stderr);
        return dbk_cmd_fail("the check-in was not saved", rc);
    }
    dbk_id_to_text(&id, t);
    if (ctx->json)
        printf("{\"id\":\"%s\",\"date\":\"%s\",\"updated\":%s,\"recalled\":%s}\n", t, date,
               again ? "true" : "false", day < today ? "true" : "false");
    else
        printf("Checked in for %s (%s)%s%s.\n", date, t, again ? ", replacing that day's" : "",
               day < today ? "; marked as filled in afterwards" : "");
    if (a.used == 1 || a.craving >= HIGH_CRAVING)
        dbk_crisis_card(ctx->json ? stderr : stdout);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_checkin = {
    .name = "checkin",
    .usage = "daybook checkin [--mood N] [--craving N] [--used|--no-use] [options]",
    .summary = "the daily check-in: mood, peak craving, any use, medication, sleep",
    .run = run,
};
