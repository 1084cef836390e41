/*
 * Care teams: a client shares with more than one counselor, each under a consent of
 * its own (a primary counselor, a group facilitator, a prescriber).
 *
 *   daybook team-link [--role ROLE]   (counselors) the link a client already in
 *                                      Daybook uses to share with you too
 *   daybook share LINK [--yes]         (clients) share with the counselor it names
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
#include "links.h"
#include "output.h"
#include "resolve.h"
#include "share.h"
#include "trust.h"
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

/*
 * The counselor of a team link checked: their keys pinned on this device, or fetched
 * and matched against the link's fingerprint, then pinned. Exit code; on success
 * sign_pk and box_pk hold the keys.
 */
static int
team_counselor_keys(dbk_session *s, const dbk_link *u, const dbk_id *counselor,
                    unsigned char box_pk[32])
{
    unsigned char sign_pk[32];
    char fp[DBK_FP_SHORT_LEN + 1];
    int rc;

    if (dbk_trust_pinned(s, counselor, sign_pk, box_pk) == DBK_OK) {
        dbk_fingerprint_short(fp, counselor, sign_pk, box_pk);
        rc = strcmp(fp, u->fp) == 0 ? DBK_OK : DBK_E_FINGERPRINT;
    } else {
        rc = dbk_share_counselor_keys(s, counselor, u->fp, sign_pk, box_pk);
        if (rc == DBK_OK)
            rc = dbk_trust_pin(s, counselor, sign_pk, box_pk);
    }
    if (rc == DBK_E_FINGERPRINT) {
        fprintf(stderr, "daybook: the keys for this counselor do not match the link's "
                        "fingerprint. Nothing was shared. Check the link with your counselor, "
                        "and tell your clinic.\n");
        return DBK_EXIT_FAIL;
    }
    if (rc != DBK_OK)
        return dbk_cmd_fail("cannot fetch the counselor's keys (sharing needs the server)", rc);
    return DBK_EXIT_OK;
}

int
dbk_cmd_share_link(dbk_ctx *ctx, const char *text, bool yes)
{
    dbk_session s;
    dbk_link u;
    dbk_id counselor, first;
    unsigned char box_pk[32];
    char cname[420], patient[201] = "";
    size_t n;
    int rc, ret;

    if (dbk_link_parse(text, &u) != DBK_OK || u.kind != DBK_LINK_TEAM ||
        dbk_id_from_text(&counselor, u.counselor, strlen(u.counselor)) != DBK_OK) {
        fprintf(stderr, "daybook: that is not a counselor's team link (daybook://team?...); "
                        "ask them for 'daybook team-link'\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if (s.role != DBK_ROLE_CLIENT ||
        dbk_local_get(s.L, "counselor", first.b, DBK_ID_BYTES, &n) != DBK_OK) {
        fprintf(stderr, "daybook: %s\n", s.role == DBK_ROLE_COUNSELOR
                                             ? "share is for clients; this is a counselor's profile"
                                             : "enroll first, with the code your counselor gave "
                                               "you: daybook enroll CODE");
        dbk_session_close(&s);
        return DBK_EXIT_FAIL;
    }
    if (strcmp(u.server, s.server) != 0) {
        fprintf(stderr, "daybook: the link is for the server %s; your records are on %s. Ask "
                        "for a link from your clinic's server.\n", u.server, s.server);
        dbk_session_close(&s);
        return DBK_EXIT_FAIL;
    }
    if (dbk_id_equal(&counselor, &s.account) || dbk_id_equal(&counselor, &first)) {
        fprintf(stderr, "daybook: %s\n", dbk_id_equal(&counselor, &s.account)
                                             ? "that link names your own account"
                                             : "that is the counselor you enrolled with: daybook "
                                               "share COUNSELOR shares with them again");
        dbk_session_close(&s);
        return DBK_EXIT_FAIL;
    }
    if ((rc = dbk_unlock(&s)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot unlock your keys", rc);
    }
    if ((ret = team_counselor_keys(&s, &u, &counselor, box_pk)) != DBK_EXIT_OK) {
        dbk_session_close(&s);
        return ret;
    }
    /* The name and role come with the fingerprint, from the counselor's own screen. */
    snprintf(cname, sizeof cname, "%s%s%s%s", u.by[0] ? u.by : "your counselor",
             u.role[0] ? " (" : "", u.role, u.role[0] ? ")" : "");
    (void)dbk_local_get_text(s.L, "patient_name", patient, sizeof patient);
    ret = dbk_cmd_offer_consent(ctx, &s, &counselor, cname, box_pk,
                                patient[0] ? patient : "Daybook client", yes);
    dbk_session_close(&s);
    if (ret == DBK_EXIT_OK && ctx->json)
        printf("{\"shared\":\"%s\"}\n", u.counselor);
    return ret;
}

const dbk_cmd dbk_cmd_team_link = {
    .name = "team-link",
    .usage = "daybook team-link [--role ROLE]",
    .summary = "(counselors) a link a client uses to share with you too",
    .help = "--role ROLE   your part in the client's care (prescriber, group\n"
            "              facilitator), shown in their consent",
    .run = run_team_link,
};
