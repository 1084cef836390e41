/*
 * daybook verify [CLIENT] [--confirm]: the safety number of this account and the
 * other one (a client's counselor, or the CLIENT a counselor names), 60 digits and a
 * QR code, to compare in person, as Signal does. --confirm records that the two
 * people compared it for the keys pinned now (trust/trust.h). The keys the server
 * lists now are compared with the pinned ones: a difference is a loud warning and
 * exit 1, and nothing is ever sealed to the new keys. A record of the comparison that
 * cannot be read (damaged) is said too, and exit 1: never "not confirmed yet".
 */
#include "cmd.h"
#include "output.h"
#include "resolve.h"
#include "sync.h"
#include "trust.h"
#include "unlock.h"

#include "dbk/error.h"
#include "dbk/fingerprint.h"

#include <stdio.h>
#include <string.h>

/* The other party's keys to compare (dbk_trust_verify_keys) with what the server lists
 * now; the server's error when it cannot be asked and nothing is pinned. */
static int
other_keys(dbk_session *s, const dbk_id *other, unsigned char sign_pk[32],
           unsigned char box_pk[32], bool *changed)
{
    unsigned char ls[32], lb[32];
    int fetched = dbk_sync_account_keys(s, other, ls, lb);
    bool listed = fetched == DBK_OK;
    int rc = dbk_trust_verify_keys(s, other, listed ? ls : NULL, listed ? lb : NULL, sign_pk,
                                   box_pk, changed);
    return rc == DBK_E_NOT_FOUND && !listed ? fetched : rc;
}

/* The safety number sn with the account whose id is t, and whether the two compared it
 * (confirmed: dbk_trust_confirmed's answer; an error is "cannot tell", told on stderr
 * with what to do). */
static void
show(const dbk_ctx *ctx, const char *t, const char *sn, int confirmed, bool changed)
{
    bool unknown = confirmed != DBK_OK && confirmed != DBK_E_NOT_FOUND;
    if (ctx->json) {
        printf("{\"account\":\"%s\",\"safety_number\":\"%s\",\"confirmed\":%s,\"changed\":%s}\n", t,
               sn,
               unknown               ? "null"
               : confirmed == DBK_OK ? "true"
                                     : "false",
               changed ? "true" : "false");
    } else {
        printf("Safety number with %.8s (compare it in person):\n  %.35s\n  %s\n", t, sn, sn + 36);
        dbk_out_qr(stdout, sn);
        printf("%s\n", unknown ? "Cannot tell whether you compared this number in person "
                                 "(see below)."
                       : confirmed == DBK_OK ? "Confirmed: you compared this number in person."
                                             : "Not confirmed yet. When the numbers match on both "
                                               "screens, run: daybook verify --confirm");
    }
    if (unknown)
        fprintf(stderr,
                "daybook: this device's record of whether you compared the safety number with "
                "%.8s cannot be read (%s). Compare the number in person again; when it matches "
                "on both screens, run this again with --confirm to record it anew.\n",
                t, dbk_err_message(confirmed));
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    const char *client = NULL;
    bool confirm = false, changed;
    unsigned char sign_pk[32], box_pk[32];
    char sn[DBK_SAFETY_NUMBER_LEN + 1], t[DBK_ID_TEXT_LEN + 1];
    dbk_session s;
    dbk_id other;
    size_t n;
    int rc;

    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--confirm") == 0)
            confirm = true;
        else if (dbk_cmd_is_operand(argv[a]) && client == NULL)
            client = argv[a];
        else {
            fprintf(stderr, "usage: daybook verify [CLIENT] [--confirm]\n");
            return DBK_EXIT_USAGE;
        }
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if (s.role == DBK_ROLE_COUNSELOR && client == NULL) {
        dbk_session_close(&s);
        fprintf(stderr, "daybook: name the client: daybook verify CLIENT\n");
        return DBK_EXIT_USAGE;
    }
    if (client != NULL) {
        if ((rc = dbk_resolve_owner(&s, "verify CLIENT", client, &other)) != DBK_EXIT_OK) {
            dbk_session_close(&s);
            return rc;
        }
    } else if (dbk_local_get(s.L, "counselor", other.b, DBK_ID_BYTES, &n) != DBK_OK) {
        dbk_session_close(&s);
        fprintf(stderr, "daybook: no counselor yet: enroll with the code your counselor gives "
                        "you first\n");
        return DBK_EXIT_FAIL;
    }
    if ((rc = dbk_unlock(&s)) != DBK_OK || (rc = other_keys(&s, &other, sign_pk, box_pk, &changed)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot get the keys to compare", rc);
    }
    dbk_trust_safety_number(&s, &other, sign_pk, box_pk, sn);
    if (confirm && !changed && (rc = dbk_trust_confirm(&s, &other)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("the confirmation was not saved", rc);
    }
    /* A record of the comparison that cannot be read is said, never "not confirmed". */
    int confirmed = dbk_trust_confirmed(&s, &other);
    bool unknown = confirmed != DBK_OK && confirmed != DBK_E_NOT_FOUND;
    dbk_id_to_text(&other, t);
    show(ctx, t, sn, confirmed, changed);
    if (changed)
        fprintf(stderr,
                "daybook: WARNING: the server now lists other keys for %.8s than the ones this "
                "device verified. Nothing is sealed to the new keys. Compare safety numbers in "
                "person before you do anything else; if they differ, tell your clinic.\n",
                t);
    dbk_session_close(&s);
    return changed || unknown ? DBK_EXIT_FAIL : DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_verify = {
    .name = "verify",
    .usage = "daybook verify [CLIENT] [--confirm]",
    .summary = "the safety number to compare in person with your counselor (or a client)",
    .run = run,
};
