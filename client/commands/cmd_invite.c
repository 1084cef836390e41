/*
 * daybook invite (counselors): a one-time enrollment code for a new client,
 * carrying the server, the secret and this counselor's key fingerprint
 * (proto/README.md section 4.2). The client's device checks the fingerprint, so
 * a server that substitutes keys is caught. It also carries the short hash of the
 * clinic's help lines as this counselor is shown them (section 4.4), so the client's
 * help-now gets exactly these numbers.
 */
#include "cmd.h"
#include "account.h"
#include "output.h"
#include "resolve.h"
#include "session.h"
#include "sync.h"

#include "dbk/error.h"
#include "dbk/fingerprint.h"
#include "dbk/helplines.h"
#include "dbk/pct.h"

#include <stdbool.h>

#include <stdio.h>
#include <string.h>

/* --name NAME (or --name=NAME) as the link's "&name=..." parameter in name ("" when
 * not given). --name travels in the link the client is handed, and from there only
 * inside the consent sealed to this counselor: the server never sees it. False for
 * anything else, or a name empty or over 200 characters. */
static bool
parse_name(int argc, char **argv, char name[700])
{
    const char *given;

    if (argc == 1)
        return true;
    if (argc == 3 && strcmp(argv[1], "--name") == 0)
        given = argv[2];
    else if (argc == 2 && strncmp(argv[1], "--name=", 7) == 0)
        given = argv[1] + 7;
    else
        return false;
    if (given[0] == '\0' || strlen(given) > 200)
        return false;
    strcpy(name, "&name=");
    return dbk_pct_append(name, 700, given) == DBK_OK;
}

/* The counselor's name, as the server holds it, in my_name and as the link's
 * "&by=..." parameter in by (both "" when there is none). The counselor's name goes
 * in the link, shown here so the counselor sees what the client will be told: the
 * client takes it from the link, handed over with the fingerprint, not from the
 * server (proto/README.md rule R9). */
static void
by_param(dbk_session *s, char by[700], char my_name[201])
{
    json_t *acct = NULL;

    if (dbk_sync_account(s, &acct) == DBK_OK && json_is_string(json_object_get(acct, "name"))) {
        snprintf(my_name, 201, "%s", json_string_value(json_object_get(acct, "name")));
        strcpy(by, "&by=");
        if (dbk_pct_append(by, 700, my_name) != DBK_OK)
            by[0] = my_name[0] = '\0';
    }
    json_decref(acct);
}

/* The enrollment link for the invite resp (code, expires_at), as text with its QR
 * code or as --json. */
/* What the client's help-now will show, as the link pins it. */
static void
print_help_lines(const char *help, const json_t *lines)
{
    size_t i;
    const json_t *x;
    if (help[0] == '\0') {
        printf("The server did not list the clinic's help lines: the client's help-now will\n"
               "show the national lines only.\n\n");
        return;
    }
    if (json_array_size(lines) == 0) {
        printf("Your clinic has set no numbers of its own for help-now (daybookd's help-line\n"
               "setting); the client will see the national lines.\n\n");
        return;
    }
    printf("The client's help-now will show your clinic's numbers:\n");
    json_array_foreach(lines, i, x)
        printf("  %-20s %s\n", json_string_value(json_object_get(x, "number")),
               json_string_value(json_object_get(x, "label")));
    printf("\n");
}

static void
print_invite(const dbk_ctx *ctx, dbk_session *s, const json_t *resp, const char *name,
             const char *by, const char *help, const char *my_name, const json_t *lines)
{
    char fp[DBK_FP_SHORT_LEN + 1], cid[DBK_ID_TEXT_LEN + 1], server[1600] = "";
    const char *code = json_string_value(json_object_get(resp, "code"));

    /* The fingerprint comes from this device's own keys, never from the server. */
    dbk_fingerprint_short(fp, &s->account, s->keys->sign_pk, s->keys->box_pk);
    dbk_id_to_text(&s->account, cid);
    (void)dbk_pct_append(server, sizeof server, s->server); /* fits: 3 x sizeof s->server */
    if (ctx->json) {
        printf("{\"uri\":\"daybook://enroll?server=%s&code=%s&fp=%s&counselor=%s%s%s%s\","
               "\"expires_at\":%lld}\n",
               server, code, fp, cid, name, by, help,
               (long long)json_integer_value(json_object_get(resp, "expires_at")));
        return;
    }
    char uri[4200];
    snprintf(uri, sizeof uri, "daybook://enroll?server=%s&code=%s&fp=%s&counselor=%s%s%s%s",
             server, code, fp, cid, name, by, help);
    printf("Give this code to your client (valid once, for 7 days):\n\n  %s\n\n", uri);
    if (my_name[0] != '\0')
        printf("It names you as %s. If that is wrong, tell your clinic's administrator.\n\n",
               my_name);
    print_help_lines(help, lines);
    dbk_out_qr(stdout, uri);
    printf("\nThey scan it, or run: daybook enroll '<the code>'\n");
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    json_t *resp = NULL;
    char name[700] = "", by[700] = "", my_name[201] = "";
    int rc;

    if (!parse_name(argc, argv, name)) {
        fprintf(stderr, "usage: daybook invite [--name NAME]   (NAME: how you know the client, "
                        "1 to 200 characters)\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    /* An invite makes another person pin this account's keys as their counselor's. */
    if ((rc = dbk_require_counselor(&s, "daybook invite")) != DBK_EXIT_OK) {
        dbk_session_close(&s);
        return rc;
    }
    if (dbk_local_get_int(s.L, "role_unsigned", 0) != 0) {
        /* A counselor's role on the server's word alone (proto/TRUST.md T13): an invite
         * makes a client pin this account's keys as their counselor's, so it waits for
         * the account's own signed record of its role. */
        dbk_session_close(&s);
        fprintf(stderr, "daybook: this device is a counselor's on the server's word alone "
                        "(your account's signed record of its role has not reached it): it "
                        "makes no invite until that is checked. Sync your other device, then "
                        "this one\n");
        return DBK_EXIT_FAIL;
    }
    if ((rc = dbk_sync_invite(&s, &resp)) != DBK_OK) {
        json_decref(resp);
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot create an invite", rc);
    }
    by_param(&s, by, my_name);
    /* The clinic's numbers for help-now, as the counselor sees them here: their hash
     * goes in the link, so the client's device pins these or none (section 4.4). */
    char help[40] = "", hh[DBK_HELP_HASH_LEN + 1];
    json_t *lines = NULL;
    if (dbk_sync_help_lines(&s, &lines) == DBK_OK && dbk_help_lines_hash(hh, lines) == DBK_OK)
        snprintf(help, sizeof help, "&help=%s", hh);
    print_invite(ctx, &s, resp, name, by, help, my_name, lines);
    json_decref(lines);
    json_decref(resp);
    dbk_session_close(&s);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_invite = {
    .name = "invite",
    .usage = "daybook invite [--name NAME]",
    .summary = "(counselors) create a one-time enrollment code for a new client",
    .run = run,
};
