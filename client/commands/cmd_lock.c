/* daybook unlock / lock: keep the keys unlocked for a while, or forget them now. */
#include "cmd.h"
#include "session.h"
#include "unlock.h"

#include "dbk/error.h"

#include <stdio.h>

static int
run_unlock(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    int rc;
    (void)ctx, (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: daybook unlock\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    rc = dbk_unlock(&s);
    dbk_session_close(&s);
    if (rc != DBK_OK)
        return dbk_cmd_fail("cannot unlock", rc);
    printf("Unlocked for this session (DAYBOOK_UNLOCK_SECONDS, default 15 minutes).\n");
    return DBK_EXIT_OK;
}

static int
run_lock(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    int rc;
    (void)ctx, (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: daybook lock\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    rc = dbk_unlock_forget(&s);
    dbk_session_close(&s);
    if (rc != DBK_OK) {
        fprintf(stderr, "daybook: the kernel keyring would not forget your unlocked keys; "
                        "they stay until the unlock times out (DAYBOOK_UNLOCK_SECONDS)\n");
        return DBK_EXIT_FAIL;
    }
    printf("Locked: the next command asks for your passphrase.\n");
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_unlock = {
    .name = "unlock",
    .usage = "daybook unlock",
    .summary = "unlock your keys for a limited time (kept in memory, never on disk)",
    .run = run_unlock,
};

const dbk_cmd dbk_cmd_lock = {
    .name = "lock",
    .usage = "daybook lock",
    .summary = "forget the unlocked keys now",
    .run = run_lock,
};
