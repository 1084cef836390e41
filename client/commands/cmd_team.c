/*
 * Care teams: a client shares with more than one counselor, each under a consent of
 * its own (a primary counselor, a group facilitator, a prescriber).
 *
 *   daybook team-link [--role ROLE]   (counselors) the link a client already in
 *                                      Daybook uses to share with you too
 *   daybook share LINK [--yes]         (clients) share with the counselor it names;
 *                                      in cmd_consent.c with the rest of 'share'
 *
 * The link (proto/README.md rule R11) carries no secret: the counselor's id and the
 * fingerprint of their keys, handed over in person. The client's device fetches the
 * keys, checks them against the fingerprint itself, pins them and asks for consent
 * before it grants anything; the server never decides who is on the team. Sharing
 * again later, or with the counselor of the enrollment, is 'daybook share COUNSELOR'
 * (cmd_consent.c).
 */
#include "cmd.h"
#include "counselor.h"
#include "output.h"
#include "resolve.h"
#include "unlock.h"

#include "dbk/error.h"
#include "dbk/fingerprint.h"
#include "dbk/pct.h"

#include <stdio.h>
#include <string.h>

/* The link for this counselor into out; DBK_E_INVALID when it does not fit. */
static int
team_link_format(dbk_session *s, const char *role, char *out, size_t cap)
{
    char fp[DBK_FP_SHORT_LEN + 1], cid[DBK_ID_TEXT_LEN + 1], name[201] = "";

    /* The fingerprint comes from this device's own keys, never from the server. */
    dbk_fingerprint_short(fp, &s->account, s->keys->sign_pk, s->keys->box_pk);
    dbk_id_to_text(&s->account, cid);
    (void)dbk_co_my_name(s, name, sizeof name);
    if ((size_t)snprintf(out, cap, "daybook://team?server=") >= cap ||
        dbk_pct_append(out, cap, s->server) != DBK_OK)
        return DBK_E_INVALID;
    size_t o = strlen(out);
    if ((size_t)snprintf(out + o, cap - o, "&counselor=%s&fp=%s", cid, fp) >= cap - o)
        return DBK_E_INVALID;
    if (name[0] != '\0' && (strlen(out) + 4 >= cap || !strcat(out, "&by=") ||
                            dbk_pct_append(out, cap, name) != DBK_OK))
        return DBK_E_INVALID;
    if (role != NULL && (strlen(out) + 6 >= cap || !strcat(out, "&role=") ||
                         dbk_pct_append(out, cap, role) != DBK_OK))
        return DBK_E_INVALID;
    return DBK_OK;
}

static int
run_team_link(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    const char *role = NULL;
    char link[4200];
    int rc;

    if (!dbk_cmd_take_option(&argc, argv, "--role", &role) || argc != 1 ||
        (role != NULL && (role[0] == '\0' || strlen(role) > 200))) {
        fprintf(stderr, "usage: daybook team-link [--role ROLE]   (ROLE: your part in the "
                        "client's care, 1 to 200 characters)\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if ((rc = dbk_require_counselor(&s, "daybook team-link")) != DBK_EXIT_OK) {
        dbk_session_close(&s);
        return rc;
    }
    if ((rc = dbk_unlock(&s)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot unlock your keys", rc);
    }
    rc = team_link_format(&s, role, link, sizeof link);
    dbk_session_close(&s);
    if (rc != DBK_OK)
        return dbk_cmd_fail("cannot make the link", rc);
    if (ctx->json) {
        json_t *doc = json_pack("{s:s}", "uri", link);
        dbk_out_json(stdout, doc);
        json_decref(doc);
        return DBK_EXIT_OK;
    }
    printf("For a client already in Daybook who wants to share with you too (no secret; "
           "it can be\nused again):\n\n  %s\n\n", link);
    dbk_out_qr(stdout, link);
    printf("\nThey run: daybook share '<the link>'. Compare the link's last part on both "
           "screens.\n");
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_team_link = {
    .name = "team-link",
    .usage = "daybook team-link [--role ROLE]",
    .summary = "(counselors) a link a client uses to share with you too",
    .help = "--role ROLE   your part in the client's care (prescriber, group\n"
            "              facilitator), shown in their consent",
    .run = run_team_link,
};
