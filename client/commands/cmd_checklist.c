/*
 * daybook today / check / uncheck: the coping-skills checklist of the local day
 * (proto/schemas/checklist-day.schema.json). The items are Daybook's defaults
 * plus what a checklist_def record in the shared stream adds (a counselor's
 * assignment, or the client's own). One checklist_day record per local date:
 * checking writes a new revision of today's record, or creates it.
 *
 * `check/uncheck --date YYYY-MM-DD` edits that day's record instead (a day
 * logged late: not in the future, at most 365 days back).
 *
 * Streaks: the consecutive days, ending today, that an item was checked; an item
 * not yet checked today keeps the run that ended yesterday (daycount.h).
 */
#include "backdate.h"
#include "cmd.h"
#include "daycount.h"
#include "entries.h"
#include "checklist.h"
#include "notes.h"
#include "output.h"

#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct state {
    dbk_session s;
    bool open;
    dbk_eu_list l;
    dbk_checklist c;
    int64_t today;
};

static int
load(struct state *st)
{
    int rc;

    memset(st, 0, sizeof *st);
    if ((rc = dbk_session_open(&st->s, false)) != DBK_OK)
        return dbk_cmd_fail("no profile yet: run 'daybook init'", rc);
    st->open = true;
    if ((rc = dbk_eu_load(&st->s, &st->l)) != DBK_OK)
        return dbk_cmd_fail("cannot read your entries", rc);
    if ((rc = dbk_checklist_build(&st->s, &st->l, &st->c)) != DBK_OK)
        return dbk_cmd_fail("cannot read your checklist", rc);
    dbk_out_warn_unopened(&st->l);
    if (st->c.bad_defs > 0)
        fprintf(stderr, "daybook: %zu checklist definitions have malformed or repeated item ids "
                        "and are ignored\n",
                st->c.bad_defs);
    st->today = dbk_eu_today();
    return DBK_EXIT_OK;
}

static void
unload(struct state *st)
{
    dbk_checklist_free(&st->c);
    dbk_eu_free(&st->l);
    if (st->open)
        dbk_session_close(&st->s);
}

static unsigned
streak_of(const struct state *st, const char *item)
{
    size_t n;
    int64_t *days = dbk_checklist_days_of(&st->c, &st->l, item, &n);
    unsigned k = days ? dbk_streak(days, n, st->today) : 0;
    free(days);
    return k;
}

/* Every id checked today, in any of today's records (first seen first). */
static json_t *
checked_today(const struct state *st)
{
    json_t *all = json_array(), *v;
    size_t k;

    for (size_t i = 0; i < st->c.ndays; i++) {
        if (st->c.day[i] != st->today)
            continue;
        json_array_foreach(json_object_get(st->l.v[st->c.days[i]].doc, "checked"), k, v)
            if (json_is_string(v) && !dbk_checklist_has(all, json_string_value(v)))
                json_array_append(all, v);
    }
    /* A group session the counselor marked attended ticks its item. */
    if (dbk_checklist_attended(&st->c, st->today) && !dbk_checklist_has(all, DBK_CK_ATTENDED))
        json_array_append_new(all, json_string(DBK_CK_ATTENDED));
    return all;
}

/* A counselor's referrals (daybook transfer), with the command that acts on each;
 * frees refs. */
static void
print_referrals(json_t *refs, const char *cname)
{
    size_t i;
    json_t *r;
    json_array_foreach(refs, i, r) {
        const char *role = json_string_value(json_object_get(r, "role"));
        const char *msg = json_string_value(json_object_get(r, "message"));
        bool transfer = strcmp(json_string_value(json_object_get(r, "kind")), "transfer") == 0;
        printf("\n%s asks you to %s %s%s%s%s.\n", cname,
               transfer ? "move your care to" : "share with",
               json_string_value(json_object_get(r, "name")), role[0] ? " (" : "", role,
               role[0] ? ")" : "");
        if (msg[0] != '\0')
            printf("  \"%s\"\n", msg);
        printf("  Nothing is shared unless you agree: daybook share '%s'\n",
               json_string_value(json_object_get(r, "link")));
        if (transfer)
            printf("  Afterwards, 'daybook revoke' ends %s's access if you want it to.\n",
                   cname);
    }
    json_decref(refs);
}

static void
print_item(bool color, const dbk_ck_item *it, bool done, unsigned streak)
{
    const char *box = done ? (color ? "\033[32m[x]\033[0m" : "[x]") : "[ ]";
    printf("  %s %-24s %s", box, it->id, it->label);
    if (streak > 0 && done)
        printf("  (streak: %u day%s)", streak, streak == 1 ? "" : "s");
    else if (streak > 0)
        printf("  (streak: %u day%s; check it today to keep it going)", streak,
               streak == 1 ? "" : "s");
    printf("\n");
}

static int
run_today(dbk_ctx *ctx, int argc, char **argv)
{
    struct state st;
    json_t *checked, *items, *unknown;
    size_t done = 0, total = 0, i;
    int ret;

    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: daybook today\n");
        return DBK_EXIT_USAGE;
    }
    if ((ret = load(&st)) != DBK_EXIT_OK) {
        unload(&st);
        return ret;
    }
    checked = checked_today(&st);
    items = json_array();
    unknown = json_array();
    for (i = 0; i < st.c.nitems; i++) {
        const dbk_ck_item *it = &st.c.items[i];
        bool is = dbk_checklist_has(checked, it->id);
        if (!it->active && !is)
            continue;
        total += it->active;
        done += it->active && is;
        json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:b, s:b, s:i}", "id", it->id,
                                               "label", it->label, "source", it->source,
                                               "active", it->active, "checked", is, "streak",
                                               (int)streak_of(&st, it->id)));
    }
    {
        json_t *v;
        json_array_foreach(checked, i, v)
            if (dbk_checklist_item(&st.c, json_string_value(v)) == NULL)
                json_array_append(unknown, v);
    }
    char date[11], cname[201];
    /* The counselor's notes of the last week, and its name on what it assigned. */
    json_t *recent = json_array(), *all = dbk_notes_from_counselor(&st.s, &st.l, 0), *nv;
    json_array_foreach(all, i, nv) {
        int64_t d;
        const char *at = json_string_value(json_object_get(nv, "at"));
        if (strcmp(json_string_value(json_object_get(nv, "kind")), "note") == 0 && at != NULL &&
            strlen(at) >= 10 && dbk_day_parse(at, &d) && st.today - d < 7)
            json_array_append(recent, nv);
    }
    json_decref(all);
    dbk_notes_counselor(&st.s, cname, sizeof cname);
    dbk_day_format(st.today, date);
    if (ctx->json) {
        json_t *out = json_pack("{s:s, s:O, s:O, s:i, s:i, s:o, s:o}", "date", date, "items",
                                items, "unknown", unknown, "done", (int)done, "total",
                                (int)total, "notes", recent, "measures_due",
                                dbk_cmd_due_measures(&st.s, &st.l, st.today, NULL));
        json_object_set_new(out, "referrals", dbk_cmd_referrals(&st.s, &st.l));
        recent = NULL;
        dbk_out_json(stdout, out);
        json_decref(out);
    } else {
        time_t now = time(NULL);
        struct tm tm;
        char nice[64];
        bool header = false;
        json_t *it;
        localtime_r(&now, &tm);
        strftime(nice, sizeof nice, "%A %e %B %Y", &tm);
        printf("Today's checklist, %s\n\n", nice);
        /* Daybook's and the client's own items, then the counselor's. */
        for (int pass = 0; pass < 2; pass++) {
            for (i = 0; i < st.c.nitems; i++) {
                const dbk_ck_item *x = &st.c.items[i];
                bool from_counselor = strcmp(x->source, "counselor") == 0;
                bool is = dbk_checklist_has(checked, x->id);
                if ((pass == 0) == from_counselor || (!x->active && !is))
                    continue;
                if (pass == 1 && !header) {
                    printf("\n  Assigned by %s:\n", cname);
                    header = true;
                }
                print_item(ctx->color, x, is, streak_of(&st, x->id));
            }
        }
        json_array_foreach(unknown, i, it)
            printf("  [x] %-24s (an item this device does not know yet; sync may bring it)\n",
                   json_string_value(it));
        printf("\n%zu of %zu done today.", done, total);
        if (done < total)
            printf(" Tick an item with 'daybook check ITEM', e.g. 'daybook check %s'.",
                   st.c.items[0].id);
        printf("\n");
        if (json_array_size(recent) > 0)
            printf("\nNotes from %s this week ('daybook notes' lists them all):\n", cname);
        json_array_foreach(recent, i, nv)
            printf("  %.10s  %s\n", json_string_value(json_object_get(nv, "at")),
                   json_string_value(json_object_get(nv, "text")));
        json_decref(dbk_cmd_due_measures(&st.s, &st.l, st.today, stdout));
        print_referrals(dbk_cmd_referrals(&st.s, &st.l), cname);
    }
    json_decref(recent);
    json_decref(items);
    json_decref(unknown);
    json_decref(checked);
    unload(&st);
    return DBK_EXIT_OK;
}

/* Why typed is not an item one can check, on stderr. */
static void
unknown_item(const struct state *st, const char *typed)
{
    const dbk_ck_item *it = dbk_checklist_item(&st->c, typed);
    const char *s;

    if (it != NULL && !it->active) {
        fprintf(stderr, "daybook: '%s' (%s) is retired from your checklist\n", typed, it->label);
        return;
    }
    s = dbk_checklist_suggest(&st->c, typed);
    if (s != NULL)
        fprintf(stderr, "daybook: no checklist item '%s'; did you mean '%s'?\n", typed, s);
    else
        fprintf(stderr, "daybook: no checklist item '%s'; 'daybook today' lists the items\n",
                typed);
}

static int
run_mark(dbk_ctx *ctx, int argc, char **argv, bool check)
{
    const char *verb = check ? "check" : "uncheck";
    struct state st;
    json_t *want = json_array(), *before, *changed = json_array(), *after, *v;
    size_t i, k;
    int ret = DBK_EXIT_OK, rc;
    bool bad = false;
    char date[11];
    dbk_id written;
    bool wrote = false;

    const char *date_arg = NULL, *when = "today";
    char on_date[16];
    int nitems = 0;

    /* ITEM... and --date DATE (or --date=DATE), in any order. */
    for (int a = 1; a < argc && !bad; a++) {
        if (strcmp(argv[a], "--date") == 0 && a + 1 < argc && date_arg == NULL)
            date_arg = argv[++a];
        else if (strncmp(argv[a], "--date=", 7) == 0 && date_arg == NULL)
            date_arg = argv[a] + 7;
        else if (argv[a][0] == '-')
            bad = true;
        else
            argv[1 + nitems++] = argv[a];
    }
    if (bad || nitems == 0) {
        fprintf(stderr,
                "usage: daybook %s ITEM... [--date YYYY-MM-DD]\n"
                "  ITEM          an item id ('daybook today' lists them)\n"
                "  --date DATE   that day's checklist instead of today's (not in the future,\n"
                "                at most 365 days ago)\n",
                verb);
        json_decref(want);
        json_decref(changed);
        return DBK_EXIT_USAGE;
    }
    if ((ret = load(&st)) != DBK_EXIT_OK) {
        unload(&st);
        json_decref(want);
        json_decref(changed);
        return ret;
    }
    if (date_arg != NULL) {
        int64_t day;
        if (!dbk_bd_day("--date", date_arg, st.today, &day)) {
            ret = DBK_EXIT_USAGE;
            before = json_array();
            goto out;
        }
        if (day != st.today) {
            st.today = day; /* the day whose records are edited */
            snprintf(on_date, sizeof on_date, "on %.10s", date_arg);
            when = on_date;
        }
    }
    before = checked_today(&st);
    for (int a = 1; a <= nitems; a++) {
        const dbk_ck_item *it = dbk_checklist_item(&st.c, argv[a]);
        bool ok = check ? it != NULL && it->active
                        : it != NULL || dbk_checklist_has(before, argv[a]);
        if (!ok) {
            unknown_item(&st, argv[a]);
            bad = true;
        } else if (!dbk_checklist_has(want, argv[a])) {
            json_array_append_new(want, json_string(argv[a]));
        }
    }
    if (bad) {
        ret = DBK_EXIT_USAGE;
        goto out;
    }
    dbk_day_format(st.today, date);

    if (check) {
        json_array_foreach(want, i, v)
            if (!dbk_checklist_has(before, json_string_value(v)))
                json_array_append(changed, v);
        if (json_array_size(changed) > 0) {
            rc = dbk_checklist_add(&st.s, &st.l, &st.c, st.today, changed);
            if (rc != DBK_OK) {
                ret = dbk_cmd_fail("the checklist was not saved", rc);
                goto out;
            }
            wrote = true;
        }
    } else {
        json_array_foreach(want, i, v)
            if (dbk_checklist_has(before, json_string_value(v)))
                json_array_append(changed, v);
        /* Every record of today that holds one of them gets a revision without it. */
        for (i = 0; i < st.c.ndays && json_array_size(changed) > 0; i++) {
            const dbk_eu_entry *e = &st.l.v[st.c.days[i]];
            json_t *keep, *doc;
            bool touched = false;
            if (st.c.day[i] != st.today)
                continue;
            keep = json_array();
            json_array_foreach(json_object_get(e->doc, "checked"), k, v) {
                if (json_is_string(v) && dbk_checklist_has(changed, json_string_value(v)))
                    touched = true;
                else
                    json_array_append(keep, v);
            }
            if (!touched) {
                json_decref(keep);
                continue;
            }
            doc = json_deep_copy(e->doc);
            json_object_set_new(doc, "checked", keep);
            rc = dbk_entry_save(&st.s, e->kind, &e->hdr.record, doc, &written);
            json_decref(doc);
            if (rc != DBK_OK) {
                ret = dbk_cmd_fail("the checklist was not saved", rc);
                goto out;
            }
            wrote = true;
        }
    }

    after = json_array();
    json_array_foreach(before, i, v)
        if (check || !dbk_checklist_has(changed, json_string_value(v)))
            json_array_append(after, v);
    if (check)
        json_array_foreach(changed, i, v)
            if (!dbk_checklist_has(after, json_string_value(v)))
                json_array_append(after, v);
    size_t total = 0, done = 0;
    for (i = 0; i < st.c.nitems; i++) {
        total += st.c.items[i].active;
        done += st.c.items[i].active && dbk_checklist_has(after, st.c.items[i].id);
    }
    if (ctx->json) {
        json_t *out = json_pack("{s:s, s:O, s:O, s:b, s:i, s:i}", "date", date, "checked", after,
                                "changed", changed, "saved", wrote, "done", (int)done, "total",
                                (int)total);
        dbk_out_json(stdout, out);
        json_decref(out);
    } else {
        const char *sep = "";
        if (json_array_size(changed) > 0) {
            printf("%s: ", check ? "Checked" : "Unchecked");
            json_array_foreach(changed, i, v) {
                printf("%s%s", sep, json_string_value(v));
                sep = ", ";
            }
            printf(".");
        } else {
            printf("%s %s; nothing changed.", check ? "Already checked" : "Not checked", when);
        }
        printf(" %zu of %zu done %s.\n", done, total, when);
    }
    json_decref(after);
out:
    json_decref(before);
    json_decref(want);
    json_decref(changed);
    unload(&st);
    return ret;
}

static int
run_check(dbk_ctx *ctx, int argc, char **argv)
{
    return run_mark(ctx, argc, argv, true);
}

static int
run_uncheck(dbk_ctx *ctx, int argc, char **argv)
{
    return run_mark(ctx, argc, argv, false);
}

const dbk_cmd dbk_cmd_today = {
    .name = "today",
    .usage = "daybook today",
    .summary = "show today's coping-skills checklist and your streaks",
    .client_only = true,
    .run = run_today,
};

const dbk_cmd dbk_cmd_check = {
    .name = "check",
    .usage = "daybook check ITEM... [--date YYYY-MM-DD]",
    .summary = "tick checklist items done today (ids as 'daybook today' shows them)",
    .client_only = true,
    .run = run_check,
};

const dbk_cmd dbk_cmd_uncheck = {
    .name = "uncheck",
    .usage = "daybook uncheck ITEM... [--date YYYY-MM-DD]",
    .summary = "untick checklist items for today (or --date a past day)",
    .client_only = true,
    .run = run_uncheck,
};
