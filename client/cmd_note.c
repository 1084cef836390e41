/*
 * daybook session done CLIENT: marks the review point. The marker is a record
 * {"type":"session","v":1,"client":ID,"at":RFC3339} in the counselor's PRIVATE
 * stream: it syncs to the counselor's other devices, encrypted, and the server
 * never learns when sessions happen. 'daybook review CLIENT' starts from the day
 * of the newest marker.
 *
 * daybook note CLIENT -m TEXT: feedback the client reads after sync, a
 * counselor-note record (proto/schemas/counselor-note.schema.json) written by
 * the counselor into the client's SHARED stream, sealed with the key of the
 * client's grant for the stream's current epoch and signed by the counselor
 * (the client's device verifies the signature when it opens it).
 */
#include "cmd.h"
#include "counselor.h"

#include "dbk/error.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define NOTE_MAX 100000

/* Opens the session, checks the role and names the client. */
static int
open_client(dbk_session *s, const char *cmd, const char *arg, dbk_id *client, char *label,
            size_t cap, char *state, size_t scap)
{
    json_t *aliases = NULL, *caseload = NULL, *v;
    size_t i;
    int rc, ret;

    if ((rc = dbk_session_open(s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if ((ret = dbk_co_require_counselor(s, cmd)) != DBK_EXIT_OK)
        goto fail;
    if ((rc = dbk_co_aliases(s, &aliases)) != DBK_OK) {
        ret = dbk_cmd_fail("cannot read your aliases", rc);
        goto fail;
    }
    rc = dbk_co_caseload(s, &caseload);
    if (rc != DBK_OK && rc != DBK_E_UNAVAILABLE) {
        ret = dbk_cmd_fail("cannot fetch your caseload", rc);
        goto fail;
    }
    if ((ret = dbk_co_resolve(s, aliases, caseload, arg, client)) != DBK_EXIT_OK)
        goto fail;
    dbk_co_label(aliases, client, label, cap);
    if (caseload != NULL) {
        char t[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(client, t);
        snprintf(state, scap, "none");
        json_array_foreach(caseload, i, v) {
            const char *a = json_string_value(json_object_get(v, "account"));
            const char *g = json_string_value(json_object_get(v, "grant_state"));
            if (a != NULL && g != NULL && strcmp(a, t) == 0)
                snprintf(state, scap, "%s", g);
        }
        dbk_co_state_put(s, client, state);
    } else {
        dbk_co_state_get(s, client, state, scap);
    }
    json_decref(aliases);
    json_decref(caseload);
    return DBK_EXIT_OK;
fail:
    json_decref(aliases);
    json_decref(caseload);
    dbk_session_close(s);
    return ret;
}

static int
run_session(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    dbk_id client, rec;
    char label[64], state[32] = "", when[40], t[DBK_ID_TEXT_LEN + 1];
    int rc, ret;

    if (argc != 3 || strcmp(argv[1], "done") != 0) {
        fprintf(stderr, "usage: daybook session done CLIENT\n");
        return DBK_EXIT_USAGE;
    }
    if ((ret = open_client(&s, "daybook session", argv[2], &client, label, sizeof label, state,
                           sizeof state)) != DBK_EXIT_OK)
        return ret;
    dbk_now_rfc3339(when);
    dbk_id_to_text(&client, t);
    json_t *doc = json_pack("{s:s, s:i, s:s, s:s}", "type", "session", "v", 1, "client", t, "at",
                            when);
    rc = dbk_entry_save(&s, DBK_LOCAL_PRIVATE, NULL, doc, &rec);
    json_decref(doc);
    dbk_session_close(&s);
    if (rc != DBK_OK)
        return dbk_cmd_fail("the session was not marked", rc);
    if (ctx->json)
        printf("{\"client\":\"%s\",\"at\":\"%s\"}\n", t, when);
    else
        printf("Session with %s marked (%.16s). The next review starts here; the marker stays "
               "in your private stream.\n",
               label, when);
    return DBK_EXIT_OK;
}

static int
run_note(dbk_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"message", required_argument, NULL, 'm'},
                                         {NULL, 0, NULL, 0}};
    const char *text = NULL;
    dbk_session s;
    dbk_local_stream st;
    dbk_id client, rec;
    char label[64], state[32] = "", when[40], tz[64], me[DBK_ID_TEXT_LEN + 1],
                    t[DBK_ID_TEXT_LEN + 1];
    size_t n;
    int opt, rc, ret;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:", opts, NULL)) != -1) {
        if (opt != 'm')
            goto usage;
        text = optarg;
    }
    if (optind != argc - 1 || text == NULL)
        goto usage;
    n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        n--;
    if (n == 0 || n > NOTE_MAX) {
        fprintf(stderr, "daybook: a note is 1 to %d characters\n", NOTE_MAX);
        return DBK_EXIT_USAGE;
    }
    if ((ret = open_client(&s, "daybook note", argv[optind], &client, label, sizeof label, state,
                           sizeof state)) != DBK_EXIT_OK)
        return ret;
    if (strcmp(state, "revoked") == 0 || strcmp(state, "expired") == 0) {
        fprintf(stderr, "daybook: %s has ended your access; the note was not written\n", label);
        dbk_session_close(&s);
        return DBK_EXIT_FAIL;
    }
    if (dbk_co_client_stream(&s, &client, &st) != DBK_OK) {
        fprintf(stderr, "daybook: %s has not shared a stream with you on this device yet; run "
                        "'daybook sync'\n",
                label);
        dbk_session_close(&s);
        return DBK_EXIT_FAIL;
    }
    dbk_now_rfc3339(when);
    dbk_local_tz(tz, sizeof tz);
    dbk_id_to_text(&s.account, me);
    json_t *doc = json_pack("{s:s, s:i, s:s%, s:s, s:s, s:b, s:s}", "type", "note", "v", 1,
                            "text", text, n, "written_at", when, "tz", tz, "visible_to_client", 1,
                            "author_id", me);
    rc = doc ? dbk_co_seal_into(&s, &st.id, doc, &rec) : DBK_E_NOMEM;
    json_decref(doc);
    dbk_session_close(&s);
    if (rc == DBK_E_NOT_FOUND) {
        fprintf(stderr, "daybook: you hold no key for %s's current entries (access ended or "
                        "the key changed); the note was not written\n",
                label);
        return DBK_EXIT_FAIL;
    }
    if (rc != DBK_OK)
        return dbk_cmd_fail("the note was not written", rc);
    dbk_id_to_text(&rec, t);
    if (ctx->json)
        printf("{\"id\":\"%s\",\"saved\":true}\n", t);
    else
        printf("Note for %s saved (%.8s). %s reads it after 'daybook sync' on both sides.\n",
               label, t, label);
    return DBK_EXIT_OK;
usage:
    fprintf(stderr, "usage: daybook note CLIENT -m TEXT\n");
    return DBK_EXIT_USAGE;
}

const dbk_cmd dbk_cmd_session = {
    .name = "session",
    .usage = "daybook session done CLIENT",
    .summary = "counselors: mark a session done (the next review starts there)",
    .run = run_session,
};

const dbk_cmd dbk_cmd_note = {
    .name = "note",
    .usage = "daybook note CLIENT -m TEXT",
    .summary = "counselors: write a note the client reads after sync",
    .run = run_note,
};
