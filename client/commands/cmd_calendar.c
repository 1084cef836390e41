/*
 * daybook calendar: the Timeline Followback calendar (client/book/tlfb.h), a month
 * grid of use, abstinent and unreported days with the counts programs report.
 *
 *   daybook calendar [--month YYYY-MM] [--client CLIENT]
 *   daybook calendar fill DATE --used|--abstinent [--substance TEXT]
 *
 * `fill` records a missed day afterwards, as a check-in marked recalled, so the
 * calendar keeps it apart from days recorded on the day. A counselor passes
 * --client to see a client's calendar, the same grid the review shows.
 */
#include "cmd.h"
#include "counselor.h"
#include "daycount.h"
#include "entries.h"
#include "output.h"
#include "resolve.h"
#include "tlfb.h"

#include "dbk/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
usage(void)
{
    fprintf(stderr,
            "usage: daybook calendar [--month YYYY-MM] [--client CLIENT]\n"
            "       daybook calendar fill DATE --used|--abstinent [--substance TEXT]\n"
            "  A  abstinent (reported that day)   a  abstinent, filled in afterwards\n"
            "  U  used (reported that day)        u  used, filled in afterwards\n"
            "  .  no report                        (a day with no report is never\n"
            "                                      counted as abstinent)\n");
    return DBK_EXIT_USAGE;
}

static char
mark(const dbk_tlfb_day *d)
{
    switch (d->state) {
    case DBK_TLFB_ABSTINENT: return d->recalled ? 'a' : 'A';
    case DBK_TLFB_USED: return d->recalled ? 'u' : 'U';
    case DBK_TLFB_NONE: break;
    }
    return '.';
}

static const char *
state_name(dbk_tlfb_state s)
{
    return s == DBK_TLFB_ABSTINENT ? "abstinent" : s == DBK_TLFB_USED ? "used" : "none";
}

/* The grid, Monday first, 5 columns a day (35 in all). */
static void
print_grid(const dbk_tlfb *t, int64_t y, unsigned m, int64_t today)
{
    static const char *const names[] = {"January", "February", "March",     "April",
                                        "May",     "June",     "July",      "August",
                                        "September", "October", "November", "December"};
    /* 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays. */
    int64_t wd = (t->first + 3) % 7;
    if (wd < 0)
        wd += 7;
    printf("%s %lld\n  Mo   Tu   We   Th   Fr   Sa   Su\n", names[m - 1], (long long)y);
    for (int64_t i = 0; i < wd; i++)
        fputs("     ", stdout);
    for (size_t i = 0; i < t->n; i++) {
        int64_t day = t->first + (int64_t)i;
        printf(" %2u %c", (unsigned)(i + 1), day > today ? ' ' : mark(&t->days[i]));
        if ((wd + (int64_t)i) % 7 == 6 || i + 1 == t->n)
            putchar('\n');
    }
}

static void
print_counts(const dbk_tlfb_counts *c)
{
    printf("\nAbstinent %u day%s, used %u day%s, no report %u day%s", c->abstinent,
           c->abstinent == 1 ? "" : "s", c->used, c->used == 1 ? "" : "s", c->unreported,
           c->unreported == 1 ? "" : "s");
    if (c->pct_abstinent >= 0)
        printf(" (%.0f%% of the days reported abstinent)", c->pct_abstinent);
    printf(".\nLongest abstinent run %u day%s; current run %u day%s.\n", c->longest_run,
           c->longest_run == 1 ? "" : "s", c->current_run, c->current_run == 1 ? "" : "s");
    if (c->recalled > 0)
        printf("%u day%s filled in afterwards (a, u).\n", c->recalled, c->recalled == 1 ? "" : "s");
}

static json_t *
to_json(const dbk_tlfb *t, const char *month, const dbk_tlfb_counts *c, int64_t today)
{
    json_t *days = json_array();
    for (size_t i = 0; i < t->n && t->first + (int64_t)i <= today; i++) {
        char d[11];
        dbk_day_format(t->first + (int64_t)i, d);
        json_array_append_new(days, json_pack("{s:s, s:s, s:b}", "date", d, "state",
                                              state_name(t->days[i].state), "recalled",
                                              t->days[i].recalled));
    }
    return json_pack("{s:s, s:o, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:o}}", "month", month, "days",
                     days, "counts", "abstinent", c->abstinent, "used", c->used, "unreported",
                     c->unreported, "recalled", c->recalled, "longest_run", c->longest_run,
                     "current_run", c->current_run, "pct_abstinent",
                     c->pct_abstinent >= 0 ? json_real(c->pct_abstinent) : json_null());
}

/* The month of --month (or this month) as its first and last day numbers. */
static bool
month_range(const char *arg, int64_t today, int64_t *y, unsigned *m, int64_t *first,
            int64_t *last)
{
    char d[11];
    dbk_day_format(today, d);
    if (arg == NULL) {
        *y = atoi(d);
        *m = (unsigned)atoi(d + 5);
    } else {
        int yy, mm;
        char extra;
        if (sscanf(arg, "%4d-%2d%c", &yy, &mm, &extra) != 2 || strlen(arg) != 7 || mm < 1 ||
            mm > 12 || yy < 1970) {
            fprintf(stderr, "daybook: --month is YYYY-MM, for example 2026-11\n");
            return false;
        }
        *y = yy, *m = (unsigned)mm;
    }
    *first = dbk_day_from_civil(*y, *m, 1);
    *last = (*m == 12 ? dbk_day_from_civil(*y + 1, 1, 1) : dbk_day_from_civil(*y, *m + 1, 1)) - 1;
    return true;
}

static int
show(dbk_ctx *ctx, const char *month_arg, const char *client_arg)
{
    int64_t today = dbk_eu_today(), y, first, last;
    unsigned m;
    char month[32];
    dbk_session s;
    dbk_eu_list l;
    dbk_tlfb t;
    dbk_tlfb_counts c;
    dbk_id client;
    int rc;

    if (!month_range(month_arg, today, &y, &m, &first, &last))
        return DBK_EXIT_USAGE;
    snprintf(month, sizeof month, "%04lld-%02u", (long long)y, m);
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if ((rc = dbk_resolve_owner(&s, "calendar --client", client_arg, &client)) != DBK_EXIT_OK) {
        dbk_session_close(&s);
        return rc;
    }
    rc = dbk_eu_load_owned(&s, &client, &l);
    dbk_session_close(&s);
    if (rc != DBK_OK)
        return dbk_cmd_fail("cannot read the entries", rc);
    dbk_out_warn_unopened(&l);
    rc = dbk_tlfb_build(&l, client_arg ? &client : NULL, first, last < today ? last : today, &t);
    dbk_eu_free(&l);
    if (rc != DBK_OK)
        return dbk_cmd_fail("cannot build the calendar", rc);
    if (t.n == 0) { /* a month still to come: every day blank */
        dbk_tlfb_free(&t);
        fprintf(stderr, "daybook: %s has not begun yet\n", month);
        return DBK_EXIT_FAIL;
    }
    dbk_tlfb_count(&t, &c);
    if (ctx->json) {
        json_t *j = to_json(&t, month, &c, today);
        dbk_out_json(stdout, j);
        json_decref(j);
    } else {
        /* The grid shows the whole month; days after today are blank. */
        dbk_tlfb whole = t;
        whole.n = (size_t)(last - first + 1);
        whole.days = calloc(whole.n, sizeof *whole.days);
        if (whole.days != NULL) {
            memcpy(whole.days, t.days, t.n * sizeof *t.days);
            print_grid(&whole, y, m, today);
            free(whole.days);
        }
        print_counts(&c);
    }
    dbk_tlfb_free(&t);
    return DBK_EXIT_OK;
}

/* `calendar fill DATE --used|--abstinent`: a recalled check-in, through `checkin`. */
static int
fill(dbk_ctx *ctx, int argc, char **argv)
{
    extern const dbk_cmd dbk_cmd_checkin;
    static const struct option opts[] = {
        {"used", no_argument, NULL, 'u'},
        {"abstinent", no_argument, NULL, 'a'},
        {"substance", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    int used = -1, opt;
    const char *substance = NULL;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'u': used = 1; break;
        case 'a': used = 0; break;
        case 's': substance = optarg; break;
        default: return usage();
        }
    }
    if (optind != argc - 1 || used < 0 || (substance && used == 0))
        return usage();
    char *cargv[8] = {"checkin", "--date", argv[optind], used ? "--used" : "--no-use", NULL};
    int cargc = 4;
    if (substance) {
        cargv[cargc++] = "--substance";
        cargv[cargc++] = (char *)substance;
    }
    cargv[cargc] = NULL;
    return dbk_cmd_checkin.run(ctx, cargc, cargv);
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"month", required_argument, NULL, 'm'},
        {"client", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    const char *month = NULL, *client = NULL;
    int opt;
    if (argc >= 2 && strcmp(argv[1], "fill") == 0)
        return fill(ctx, argc - 1, argv + 1);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'm': month = optarg; break;
        case 'c': client = optarg; break;
        default: return usage();
        }
    }
    if (optind != argc)
        return usage();
    return show(ctx, month, client);
}

const dbk_cmd dbk_cmd_calendar = {
    .name = "calendar",
    .usage = "daybook calendar [--month YYYY-MM] [--client CLIENT] | fill DATE --used|--abstinent",
    .summary = "the month's use and abstinent days (Timeline Followback), with the counts",
    .run = run,
};
