/*
 * daybook trends [--days N]: what a counselor looks at, for the client first: the
 * figures of report/trends.h over the last N local days, as text or (--json) as
 * numbers.
 */
#include "cmd.h"
#include "checklist.h"
#include "daycount.h"
#include "entries.h"
#include "output.h"
#include "trends.h"

#include "dbk/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#define DAYS_DEFAULT 28
#define DAYS_MAX 3660

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"days", required_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    long days = DAYS_DEFAULT;
    dbk_session s;
    dbk_eu_list l;
    dbk_checklist ck;
    json_t *t;
    int opt, rc, ret = DBK_EXIT_OK;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        if (opt != 'd')
            goto usage;
        days = strtol(optarg, &end, 10);
        if (*end != '\0' || days < 1 || days > DAYS_MAX)
            goto usage;
    }
    if (optind != argc)
        goto usage;

    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_fail("no profile yet: run 'daybook init'", rc);
    if ((rc = dbk_eu_load(&s, &l)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot read your entries", rc);
    }
    if ((rc = dbk_checklist_build(&s, &l, &ck)) != DBK_OK) {
        dbk_eu_free(&l);
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot read your checklist", rc);
    }
    dbk_out_warn_unopened(&l);
    if ((t = dbk_trends(&l, &ck, dbk_eu_today(), days)) == NULL)
        ret = dbk_cmd_fail("cannot compute your trends", DBK_E_NOMEM);
    else if (ctx->json)
        dbk_out_json(stdout, t);
    else
        dbk_trends_text(stdout, t);
    json_decref(t);
    dbk_checklist_free(&ck);
    dbk_eu_free(&l);
    dbk_session_close(&s);
    return ret;
usage:
    fprintf(stderr, "usage: daybook trends [--days N]   (N from 1 to %d; default %d)\n", DAYS_MAX,
            DAYS_DEFAULT);
    return DBK_EXIT_USAGE;
}

const dbk_cmd dbk_cmd_trends = {
    .name = "trends",
    .usage = "daybook trends [--days N]",
    .summary = "cravings, triggers, what helped and checklist completion over recent days",
    .client_only = true,
    .run = run,
};
