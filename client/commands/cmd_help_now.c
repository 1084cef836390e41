/*
 * daybook help-now: the crisis card, at any time, offline, with no profile,
 * no passphrase and no network (DOMAIN.md "Safety"): the clinic's own numbers
 * first when this device knows them, then 988, the SAMHSA National Helpline
 * and 911. The clinic's number is DAYBOOK_CLINIC_PHONE (documented in
 * daybook(1) and the README). The safety plan, once the product has one, goes
 * before the numbers.
 */
#include "cmd.h"
#include "crisis.h"

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: daybook help-now\n");
        return DBK_EXIT_USAGE;
    }
    dbk_crisis_card(stdout);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_help_now = {
    .name = "help-now",
    .usage = "daybook help-now",
    .summary = "crisis lines and your clinic's number, now, offline",
    .run = run,
};
