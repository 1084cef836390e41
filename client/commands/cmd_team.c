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
#include "entry.h"
#include "links.h"
#include "output.h"
#include "resolve.h"
#include "sharing.h"
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
    (void)dbk_sync_my_name(s, name, sizeof name);
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

json_t *
dbk_cmd_referrals(const dbk_session *s, const dbk_eu_list *l)
{
    json_t *out = json_array();
    for (size_t i = l->n; i-- > 0;) {
        const dbk_eu_entry *e = &l->v[i];
        const char *text = json_string_value(json_object_get(e->doc, "link"));
        dbk_link u;
        char by[DBK_ID_TEXT_LEN + 1], at[32];
        size_t k;
        json_t *x;
        bool seen = false;
        if (strcmp(e->type, "referral") != 0 || !dbk_id_equal(&e->owner, &s->account) ||
            dbk_id_equal(&e->hdr.author, &s->account) || text == NULL ||
            dbk_link_parse_on(text, s->server, &u) != DBK_OK || u.kind != DBK_LINK_TEAM)
            continue;
        json_array_foreach(out, k, x)
            seen |= strcmp(json_string_value(json_object_get(x, "link")), text) == 0;
        /* Acted on: the client consented to that counselor after the referral came. */
        for (size_t j = i + 1; j < l->n && !seen; j++) {
            const char *to = json_string_value(
                json_object_get(json_object_get(l->v[j].doc, "recipient"), "account_id"));
            seen = strcmp(l->v[j].type, "consent") == 0 && l->v[j].mine && to != NULL &&
                   strcmp(to, u.counselor) == 0;
        }
        if (seen)
            continue;
        dbk_id_to_text(&e->hdr.author, by);
        dbk_eu_clock_text(e->hdr.rev.clock, at);
        const char *kind = json_string_value(json_object_get(e->doc, "kind"));
        const char *msg = json_string_value(json_object_get(e->doc, "message"));
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "link", text,
                                             "by", by, "name", u.by[0] ? u.by : "a counselor",
                                             "role", u.role, "at", at, "kind",
                                             kind && strcmp(kind, "team") == 0 ? "team"
                                                                               : "transfer",
                                             "message", msg ? msg : ""));
    }
    return out;
}

const dbk_cmd dbk_cmd_team_link = {
    .name = "team-link",
    .usage = "daybook team-link [--role ROLE]",
    .summary = "(counselors) a link a client uses to share with you too",
    .help = "--role ROLE   your part in the client's care (prescriber, group\n"
            "              facilitator), shown in their consent",
    .run = run_team_link,
};

/*
 * daybook transfer LINK CLIENT... [--team] [--message TEXT] (counselors): hands each
 * client another counselor's team link in a record this counselor signs, asking the
 * client to move their care there (or, with --team, to share with them too). Nothing
 * moves until each client runs daybook share LINK and agrees to a consent; the server
 * alone can never move access.
 */
static int
run_transfer(dbk_ctx *ctx, int argc, char **argv)
{
    const char *message = NULL, *team = NULL;
    bool as_team = false;
    dbk_link u;
    dbk_session s;
    int rc, marked = 0, failed = 0;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--team") == 0) {
            as_team = true;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof *argv);
            argc--;
            break;
        }
    if (!dbk_cmd_take_option(&argc, argv, "--message", &message) || argc < 3 ||
        (message != NULL && (message[0] == '\0' || strlen(message) > 2000))) {
        fprintf(stderr, "usage: daybook transfer LINK CLIENT [CLIENT...] [--team] [--message "
                        "TEXT]   (LINK: the other counselor's 'daybook team-link')\n");
        return DBK_EXIT_USAGE;
    }
    team = argv[1];
    if ((rc = dbk_link_parse(team, &u)) == DBK_E_UNAVAILABLE)
        return DBK_EXIT_FAIL; /* main names the library to install */
    if (rc != DBK_OK || u.kind != DBK_LINK_TEAM) {
        fprintf(stderr, "daybook: that is not a team link (daybook://team?...); the other "
                        "counselor prints it with 'daybook team-link'\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if ((rc = dbk_require_counselor(&s, "daybook transfer")) != DBK_EXIT_OK) {
        dbk_session_close(&s);
        return rc;
    }
    if (strcmp(u.server, s.server) != 0) {
        fprintf(stderr, "daybook: the link is for the server %s, not yours (%s)\n", u.server,
                s.server);
        dbk_session_close(&s);
        return DBK_EXIT_FAIL;
    }
    json_t *doc = json_pack("{s:s, s:i, s:s, s:s}", "type", "referral", "v", 1, "link", team,
                            "kind", as_team ? "team" : "transfer");
    if (message != NULL)
        json_object_set_new(doc, "message", json_string(message));
    for (int i = 2; i < argc; i++) {
        dbk_id owner, id;
        dbk_local_stream st;
        if (dbk_resolve_owner(&s, "daybook transfer", argv[i], &owner) != DBK_EXIT_OK) {
            failed++;
            continue;
        }
        if ((rc = dbk_local_stream_of(s.L, &owner, DBK_LOCAL_SHARED, &st)) != DBK_OK ||
            (rc = dbk_entry_save_in(&s, &st.id, NULL, doc, &id)) != DBK_OK) {
            fprintf(stderr, "daybook: %s was not asked: %s\n", argv[i], dbk_err_message(rc));
            failed++;
            continue;
        }
        marked++;
    }
    json_decref(doc);
    dbk_session_close(&s);
    if (ctx->json)
        printf("{\"asked\":%d,\"failed\":%d}\n", marked, failed);
    else
        printf("%d client%s asked to %s %s. Nothing changes until each one agrees (daybook "
               "share LINK on their device); they see it after both of you sync.\n",
               marked, marked == 1 ? "" : "s", as_team ? "share with" : "move their care to",
               u.by[0] ? u.by : "the other counselor");
    return failed ? DBK_EXIT_FAIL : DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_transfer = {
    .name = "transfer",
    .usage = "daybook transfer LINK CLIENT [CLIENT...] [--team] [--message TEXT]",
    .summary = "(counselors) ask clients to move to, or add, another counselor",
    .run = run_transfer,
};
