/*
 * daybook help-now: the crisis card, at any time, offline, with no network and
 * without waiting on a passphrase (DOMAIN.md "Safety"). In order: the client's
 * safety plan (book/plan.h, the Stanley-Brown steps) once one exists, then the
 * clinic's own numbers as pinned at enrollment (trust/help_pin.h; the clinic sets
 * them in daybookd's help-line setting), then 988, the SAMHSA National Helpline
 * and 911.
 *
 * The plan is sealed like every entry, so it shows when the keys are open in this
 * session's cache; otherwise the numbers show at once with a line saying how to see
 * the plan, and `--plan` asks for the passphrase first. Works with no profile at all
 * (the national lines).
 */
#include "cmd.h"
#include "crisis.h"
#include "session.h"
#include "unlock.h"

#include "dbk/error.h"

#include <string.h>

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    bool ask = false;
    (void)ctx;

    if (argc == 2 && strcmp(argv[1], "--plan") == 0)
        ask = true;
    else if (argc > 1) {
        fprintf(stderr, "usage: daybook help-now [--plan]\n");
        return DBK_EXIT_USAGE;
    }
    if (dbk_session_open(&s, false) != DBK_OK) {
        dbk_crisis_card(stdout);
        return DBK_EXIT_OK;
    }
    if (s.role == DBK_ROLE_CLIENT && dbk_unlock_cached(&s) != DBK_OK && ask &&
        dbk_unlock(&s) != DBK_OK)
        fprintf(stderr, "daybook: your safety plan stays locked (the passphrase did not "
                        "open it); the numbers follow.\n");
    if (s.role == DBK_ROLE_CLIENT && s.keys == NULL)
        printf("\n  Your safety plan, if you made one, is locked on this device:\n"
               "  'daybook help-now --plan' shows it first (it asks your passphrase).\n");
    dbk_crisis_card_for(stdout, &s);
    dbk_session_close(&s);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_help_now = {
    .name = "help-now",
    .usage = "daybook help-now [--plan]",
    .summary = "your safety plan, your clinic's numbers and the crisis lines, offline",
    .run = run,
};
