/*
 * daybook session done CLIENT: marks the review point. The marker is a record
 * {"type":"session","v":1,"client":ID,"at":RFC3339} in the counselor's PRIVATE
 * stream: it syncs to the counselor's other devices, encrypted, and the server
 * never learns when sessions happen. 'daybook review CLIENT' starts from the day
 * of the newest marker.
 *
 * daybook note CLIENT -m TEXT [--share|--private]: a counselor-note record
 * (proto/schemas/counselor-note.schema.json). Shared (--share, or "yes" when asked
 * on a terminal): feedback the client reads after sync, written by the counselor
 * into the client's SHARED stream, sealed with the key of the client's grant for
 * the stream's current epoch and signed by the counselor (the client's device
 * verifies the signature when it opens it). Private (the default without a
 * terminal): for the counselor's own record, in the counselor's PRIVATE stream with
 * "client" naming whom it is about; the client never holds its key.
 *
 * daybook assign CLIENT SKILL[=LABEL]... / unassign CLIENT SKILL...: changes the
 * client's coping-skills checklist with a checklist_def record (source
 * "counselor", assigned_by this account) written the same way into the client's
 * shared stream; unassigning retires the item (active false), so past days that
 * checked it still make sense.
 */
#include "cmd.h"
#include "counselor.h"
#include "checklist.h"
#include "prompt.h"
#include "resolve.h"
#include "review.h"
#include "sharing.h"

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
    if ((ret = dbk_require_counselor(s, cmd)) != DBK_EXIT_OK)
        goto fail;
    if ((rc = dbk_co_aliases(s, &aliases)) != DBK_OK) {
        ret = dbk_cmd_fail("cannot read your aliases", rc);
        goto fail;
    }
    rc = dbk_sync_caseload(s, &caseload);
    if (rc != DBK_OK && rc != DBK_E_UNAVAILABLE) {
        ret = dbk_cmd_fail("cannot fetch your caseload", rc);
        goto fail;
    }
    if ((ret = dbk_resolve_client(s, aliases, caseload, arg, client)) != DBK_EXIT_OK)
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

/*
 * daybook session discussed CLIENT ID: a flagged entry (ID or its first 6+
 * characters, as the review's Read first shows it) was talked through; it stops
 * being carried forward. A record {"type":"discussed","client","record","at"} in
 * the counselor's private stream, like the session markers.
 */
static int
run_discussed(dbk_ctx *ctx, const char *who, const char *prefix)
{
    dbk_session s;
    dbk_eu_list l;
    dbk_id client, rec;
    char label[64], state[32] = "", when[40], t[DBK_ID_TEXT_LEN + 1], found[DBK_ID_TEXT_LEN + 1] = "";
    int rc, ret, matches = 0;

    if (strlen(prefix) < 6 || strlen(prefix) > DBK_ID_TEXT_LEN) {
        fprintf(stderr, "daybook: ID is the entry's id or its first 6 or more characters\n");
        return DBK_EXIT_USAGE;
    }
    if ((ret = open_client(&s, "daybook session", who, &client, label, sizeof label, state,
                           sizeof state)) != DBK_EXIT_OK)
        return ret;
    memset(&l, 0, sizeof l);
    if ((rc = dbk_eu_load_owned(&s, &client, &l)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot read the entries on this device", rc);
    }
    for (size_t i = 0; i < l.n; i++) {
        char id[DBK_ID_TEXT_LEN + 1];
        if (!dbk_id_equal(&l.v[i].owner, &client) || !dbk_id_equal(&l.v[i].hdr.author, &client))
            continue;
        dbk_id_to_text(&l.v[i].hdr.record, id);
        if (strncmp(id, prefix, strlen(prefix)) == 0 && strcmp(id, found) != 0) {
            memcpy(found, id, sizeof found);
            matches++;
        }
    }
    dbk_eu_free(&l);
    if (matches != 1) {
        dbk_session_close(&s);
        fprintf(stderr, "daybook: %s entry of %s begins with '%s'\n",
                matches == 0 ? "no" : "more than one", label, prefix);
        return DBK_EXIT_FAIL;
    }
    dbk_now_rfc3339(when);
    dbk_id_to_text(&client, t);
    json_t *doc = json_pack("{s:s, s:i, s:s, s:s, s:s}", "type", "discussed", "v", 1, "client", t,
                            "record", found, "at", when);
    rc = dbk_entry_save(&s, DBK_LOCAL_PRIVATE, NULL, doc, &rec);
    json_decref(doc);
    dbk_session_close(&s);
    if (rc != DBK_OK)
        return dbk_cmd_fail("the entry was not marked discussed", rc);
    if (ctx->json)
        printf("{\"client\":\"%s\",\"record\":\"%s\",\"discussed\":true}\n", t, found);
    else
        printf("Entry %.8s of %s marked discussed; it is no longer carried forward.\n", found,
               label);
    return DBK_EXIT_OK;
}

/*
 * What 'session done' will mark as reviewed: the current review's period, its
 * counts and its Read first items (flagged ones stay in Read first until
 * discussed). Printed on stdout before the question.
 */
static const char *
str_of(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL ? v : "";
}

static void
print_pending(const json_t *rev, const char *label)
{
    const json_t *p = json_object_get(rev, "period"), *rf = json_object_get(rev, "read_first"),
                 *x;
    size_t i;
    printf("Marking the session with %s done. The next review starts from now; what the\n"
           "review shows today (%s to %s) is then marked as reviewed:\n",
           label, str_of(p, "from"), str_of(p, "to"));
    printf("  %lld craving%s (%lld with use), %zu journal entr%s\n",
           (long long)json_integer_value(json_object_get(json_object_get(rev, "cravings"), "count")),
           json_integer_value(json_object_get(json_object_get(rev, "cravings"), "count")) == 1
               ? "" : "s",
           (long long)json_integer_value(json_object_get(json_object_get(rev, "lapses"), "count")),
           json_array_size(json_object_get(rev, "journal")),
           json_array_size(json_object_get(rev, "journal")) == 1 ? "y" : "ies");
    if (json_array_size(json_object_get(rf, "items")) == 0) {
        printf("  Read first: nothing flagged.\n");
        return;
    }
    printf("  Read first (%zu): flagged entries stay there as \"not yet discussed\" until\n"
           "  'daybook session discussed CLIENT ID':\n",
           json_array_size(json_object_get(rf, "items")));
    json_array_foreach(json_object_get(rf, "items"), i, x) {
        const char *rec = json_string_value(json_object_get(x, "record"));
        printf("  %s %s  %s", strcmp(str_of(x, "kind"), "risk") == 0 ? "!!" : "*",
               str_of(x, "when"), str_of(x, "text"));
        if (rec != NULL)
            printf("  [%.8s]", rec);
        printf("\n");
    }
}

/* The review 'session done' is about to close, for print_pending (NULL on failure). */
static json_t *
pending_review(dbk_session *s, const dbk_id *client, const char *label)
{
    dbk_eu_list l;
    dbk_review_period p;
    json_t *rev = NULL;
    memset(&l, 0, sizeof l);
    if (dbk_eu_load_owned(s, client, &l) == DBK_OK &&
        dbk_review_period_make(&l, client, NULL, &p) == DBK_OK) {
        p.enrolled_day = dbk_co_enrolled_day(s, NULL, client);
        rev = dbk_review_build(s, &l, client, label, &p, NULL, NULL);
    }
    dbk_eu_free(&l);
    return rev;
}

/*
 * daybook session undo CLIENT: the newest session marker is removed (a tombstone
 * of the counselor's own private record), so the review starts again from the
 * marker before it; what the counselor saw is never lost to a mistaken 'done'.
 */
static int
run_undo(dbk_ctx *ctx, const char *who)
{
    dbk_session s;
    dbk_eu_list l;
    dbk_id client, rec;
    char label[64], state[32] = "", when[40], at[40], t[DBK_ID_TEXT_LEN + 1];
    int rc, ret;

    if ((ret = open_client(&s, "daybook session", who, &client, label, sizeof label, state,
                           sizeof state)) != DBK_EXIT_OK)
        return ret;
    memset(&l, 0, sizeof l);
    if ((rc = dbk_eu_load_owned(&s, &client, &l)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot read the entries on this device", rc);
    }
    const dbk_eu_entry *m = dbk_co_last_session_entry(&l, &client);
    if (m == NULL) {
        dbk_eu_free(&l);
        dbk_session_close(&s);
        fprintf(stderr, "daybook: no session with %s is marked; nothing to undo\n", label);
        return DBK_EXIT_FAIL;
    }
    snprintf(at, sizeof at, "%s", json_string_value(json_object_get(m->doc, "at")));
    rec = m->hdr.record;
    dbk_now_rfc3339(when);
    json_t *tomb = json_pack("{s:s, s:i, s:s}", "type", "tombstone", "v", 1, "deleted_at", when);
    rc = dbk_entry_save(&s, DBK_LOCAL_PRIVATE, &rec, tomb, NULL);
    json_decref(tomb);
    char prev[40] = "";
    dbk_eu_free(&l);
    memset(&l, 0, sizeof l);
    bool more = rc == DBK_OK && dbk_eu_load_owned(&s, &client, &l) == DBK_OK &&
                dbk_co_last_session(&l, &client, prev);
    dbk_eu_free(&l);
    dbk_session_close(&s);
    if (rc != DBK_OK)
        return dbk_cmd_fail("the session marker was not removed", rc);
    dbk_id_to_text(&client, t);
    if (ctx->json)
        printf("{\"client\":\"%s\",\"undone\":\"%s\",\"last_session\":%s%s%s}\n", t, at,
               more ? "\"" : "", more ? prev : "null", more ? "\"" : "");
    else
        printf("The session with %s marked %.16s is undone. The next review starts %s%.16s.\n",
               label, at, more ? "from the session before, " : "again from the last ",
               more ? prev : "7 days");
    return DBK_EXIT_OK;
}

static int
usage_session(void)
{
    fprintf(stderr, "usage: daybook session done CLIENT [--yes] | daybook session undo CLIENT | "
                    "daybook session discussed CLIENT ID\n"
                    "       daybook session group CLIENT [CLIENT...] [--date DATE] [--topic "
                    "TEXT]\n");
    return DBK_EXIT_USAGE;
}

static int
run_session(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    dbk_id client, rec;
    char label[64], state[32] = "", when[40], t[DBK_ID_TEXT_LEN + 1];
    bool yes = false;
    int rc, ret;

    if (argc >= 2 && strcmp(argv[1], "group") == 0)
        return dbk_cmd_session_group(ctx, argc - 1, argv + 1);
    if (argc == 4 && strcmp(argv[1], "discussed") == 0)
        return run_discussed(ctx, argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "undo") == 0)
        return run_undo(ctx, argv[2]);
    if (argc == 4 && strcmp(argv[1], "done") == 0 && strcmp(argv[3], "--yes") == 0)
        yes = true;
    else if (argc == 4 && strcmp(argv[1], "done") == 0 && strcmp(argv[2], "--yes") == 0)
        yes = true, argv[2] = argv[3];
    else if (argc != 3 || strcmp(argv[1], "done") != 0)
        return usage_session();
    /* Marking hides the period from the next review: a person confirms it, a script
     * says --yes. */
    if (!yes && !dbk_prompt_interactive()) {
        fprintf(stderr, "daybook: 'session done' marks everything the review shows as reviewed; "
                        "run it on a terminal to see what and confirm, or add --yes\n");
        return DBK_EXIT_USAGE;
    }
    if ((ret = open_client(&s, "daybook session", argv[2], &client, label, sizeof label, state,
                           sizeof state)) != DBK_EXIT_OK)
        return ret;
    /* Pull first: what the client synced since the last pull is part of what this
     * marks as reviewed, and the counselor should see it before saying yes. */
    json_t *fresh = dbk_review_freshen(&s, false);
    if (!yes) {
        json_t *rev = pending_review(&s, &client, label);
        if (rev != NULL)
            print_pending(rev, label);
        json_decref(rev);
        if (json_is_true(json_object_get(fresh, "offline")))
            printf("  !! OFFLINE: data as of %s; what %s sent since is not listed\n",
                   json_is_string(json_object_get(fresh, "as_of"))
                       ? json_string_value(json_object_get(fresh, "as_of")) : "never",
                   label);
    }
    json_decref(fresh);
    if (!yes) {
        int c = dbk_prompt_confirm("Mark the session done? ('daybook session undo' takes it "
                                   "back) [yes/no] ");
        if (c != 1) {
            dbk_session_close(&s);
            printf("Not marked; the next review still starts where it did.\n");
            return c < 0 ? DBK_EXIT_FAIL : DBK_EXIT_OK;
        }
    }
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
        printf("Session with %s marked (%.16s). The next review starts here; flagged entries "
               "stay in Read first until discussed. 'daybook session undo %s' takes it back.\n",
               label, when, argv[2]);
    return DBK_EXIT_OK;
}

/* The flags and the client into *who, *text (its length without trailing
 * newlines and spaces in *n) and *share (-1: not said). DBK_EXIT_OK, or the usage. */
static int
parse_note(int argc, char **argv, const char **who, const char **text, size_t *n, int *share)
{
    static const struct option opts[] = {{"message", required_argument, NULL, 'm'},
                                         {"share", no_argument, NULL, 'S'},
                                         {"private", no_argument, NULL, 'P'},
                                         {NULL, 0, NULL, 0}};
    const char *first = dbk_cmd_take_operand(&argc, argv, "m");
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:", opts, NULL)) != -1) {
        if (opt == 'S' || opt == 'P') {
            if (*share != -1 && *share != (opt == 'S'))
                goto usage;
            *share = opt == 'S';
        } else if (opt == 'm') {
            *text = optarg;
        } else {
            goto usage;
        }
    }
    if ((*who = dbk_cmd_operand(first, argc, argv)) == NULL || *text == NULL)
        goto usage;
    *n = strlen(*text);
    while (*n > 0 && ((*text)[*n - 1] == '\n' || (*text)[*n - 1] == ' '))
        (*n)--;
    if (*n == 0 || *n > NOTE_MAX) {
        fprintf(stderr, "daybook: a note is 1 to %d characters\n", NOTE_MAX);
        return DBK_EXIT_USAGE;
    }
    return DBK_EXIT_OK;
usage:
    fprintf(stderr, "usage: daybook note CLIENT -m TEXT [--share|--private]\n");
    return DBK_EXIT_USAGE;
}

/* A note about the client kept in the counselor's private stream. */
static int
note_private(dbk_ctx *ctx, dbk_session *s, const dbk_id *client, const char *label,
             const char *text, size_t n)
{
    char when[40], tz[64], me[DBK_ID_TEXT_LEN + 1], t[DBK_ID_TEXT_LEN + 1];
    dbk_id rec;
    json_t *own;
    int rc;

    dbk_now_rfc3339(when);
    dbk_local_tz(tz, sizeof tz);
    dbk_id_to_text(&s->account, me);
    dbk_id_to_text(client, t);
    own = json_pack("{s:s, s:i, s:s%, s:s, s:s, s:b, s:s, s:s}", "type", "note", "v", 1, "text",
                    text, n, "written_at", when, "tz", tz, "visible_to_client", 0, "author_id",
                    me, "client", t);
    rc = own ? dbk_entry_save(s, DBK_LOCAL_PRIVATE, NULL, own, &rec) : DBK_E_NOMEM;
    json_decref(own);
    if (rc != DBK_OK)
        return dbk_cmd_fail("the note was not written", rc);
    dbk_id_to_text(&rec, t);
    if (ctx->json)
        printf("{\"id\":\"%s\",\"saved\":true,\"shared\":false}\n", t);
    else
        printf("Note about %s saved for your own record (%.8s); %s does not see it. "
               "--share sends a note to them.\n", label, t, label);
    return DBK_EXIT_OK;
}

/* A note for the client, sealed into their stream with the counselor's grant. */
static int
note_shared(dbk_ctx *ctx, dbk_session *s, const dbk_id *client, const char *label,
            const char *state, const char *text, size_t n)
{
    char when[40], tz[64], me[DBK_ID_TEXT_LEN + 1], t[DBK_ID_TEXT_LEN + 1];
    dbk_local_stream st;
    dbk_id rec;
    json_t *doc;
    int rc;

    if (strcmp(state, "revoked") == 0 || strcmp(state, "expired") == 0) {
        fprintf(stderr, "daybook: %s has ended your access; the note was not written\n", label);
        return DBK_EXIT_FAIL;
    }
    if (dbk_co_client_stream(s, client, &st) != DBK_OK) {
        fprintf(stderr, "daybook: %s has not shared a stream with you on this device yet; run "
                        "'daybook sync'\n",
                label);
        return DBK_EXIT_FAIL;
    }
    dbk_now_rfc3339(when);
    dbk_local_tz(tz, sizeof tz);
    dbk_id_to_text(&s->account, me);
    doc = json_pack("{s:s, s:i, s:s%, s:s, s:s, s:b, s:s}", "type", "note", "v", 1, "text", text,
                    n, "written_at", when, "tz", tz, "visible_to_client", 1, "author_id", me);
    rc = doc ? dbk_co_save_into(s, &st.id, doc, &rec) : DBK_E_NOMEM;
    json_decref(doc);
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
        printf("{\"id\":\"%s\",\"saved\":true,\"shared\":true}\n", t);
    else
        printf("Note for %s saved and shared (%.8s). %s reads it after 'daybook sync' on both "
               "sides.\n", label, t, label);
    return DBK_EXIT_OK;
}

static int
run_note(dbk_ctx *ctx, int argc, char **argv)
{
    const char *text = NULL, *who = NULL;
    int share = -1; /* -1: ask on a terminal, else private */
    dbk_session s;
    dbk_id client;
    char label[64], state[32] = "";
    size_t n = 0;
    int ret;

    if ((ret = parse_note(argc, argv, &who, &text, &n, &share)) != DBK_EXIT_OK)
        return ret;
    if ((ret = open_client(&s, "daybook note", who, &client, label, sizeof label, state,
                           sizeof state)) != DBK_EXIT_OK)
        return ret;
    if (share == -1 && dbk_prompt_interactive()) {
        char q[160];
        snprintf(q, sizeof q, "Share this note with %s? (no keeps it for your own record) "
                              "[yes/no] ", label);
        if ((share = dbk_prompt_confirm(q)) < 0) {
            dbk_session_close(&s);
            return DBK_EXIT_FAIL;
        }
    }
    if (share != 1)
        ret = note_private(ctx, &s, &client, label, text, n);
    else
        ret = note_shared(ctx, &s, &client, label, state, text, n);
    dbk_session_close(&s);
    return ret;
}

static bool
valid_slug(const char *id, size_t n)
{
    if (n < 1 || n > 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '_'))
            return false;
    return true;
}

/* Each SKILL[=LABEL] operand well formed (no =LABEL to unassign); false after a message. */
static bool
check_skills(int argc, char **argv, bool assign)
{
    for (int i = 2; i < argc; i++) {
        size_t n = strcspn(argv[i], "=");
        if (!valid_slug(argv[i], n) || (!assign && argv[i][n] == '=') ||
            (argv[i][n] == '=' && (argv[i][n + 1] == '\0' || strlen(argv[i] + n + 1) > 200))) {
            fprintf(stderr, "daybook: '%s': a skill is an id of lower-case letters, digits and "
                            "_ (up to 40)%s\n",
                    argv[i], assign ? ", optionally =LABEL (up to 200 characters)" : "");
            return false;
        }
    }
    return true;
}

/* The checklist_def items for the operands: each assigned (or retired) by me, its
 * label given, else the item's own, else (to assign) the id as words. NULL after a
 * message for an item the client's checklist lacks or the client set up. */
static json_t *
skill_items(const dbk_checklist *ck, int argc, char **argv, bool assign, const char *label,
            const char *me)
{
    json_t *items = json_array();

    for (int i = 2; i < argc; i++) {
        char id[41], lab[256];
        size_t n = strcspn(argv[i], "=");
        const dbk_ck_item *it;
        snprintf(id, sizeof id, "%.*s", (int)n, argv[i]);
        it = dbk_checklist_item(ck, id);
        if (argv[i][n] == '=') {
            snprintf(lab, sizeof lab, "%s", argv[i] + n + 1);
        } else if (it != NULL) {
            snprintf(lab, sizeof lab, "%s", it->label);
        } else if (assign) {
            snprintf(lab, sizeof lab, "%s", id); /* the id as words: "call_sponsor" */
            for (char *q = lab; *q; q++)
                if (*q == '_')
                    *q = ' ';
            lab[0] = (char)(lab[0] >= 'a' && lab[0] <= 'z' ? lab[0] - 32 : lab[0]);
        } else {
            fprintf(stderr, "daybook: %s has no checklist item '%s'\n", label, id);
            json_decref(items);
            return NULL;
        }
        if (!assign && (it == NULL || strcmp(it->source, "counselor") != 0)) {
            fprintf(stderr, "daybook: '%s' was not assigned by a counselor; only the client "
                            "changes their own items\n", id);
            json_decref(items);
            return NULL;
        }
        json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:b}", "id", id, "label",
                                               lab, "source", "counselor", "assigned_by", me,
                                               "active", assign));
    }
    return items;
}

static int
run_assign_common(dbk_ctx *ctx, int argc, char **argv, bool assign)
{
    const char *cmd = assign ? "daybook assign" : "daybook unassign";
    dbk_session s;
    dbk_local_stream st;
    dbk_eu_list l;
    dbk_checklist ck;
    dbk_id client, rec;
    char label[64], state[32] = "", me[DBK_ID_TEXT_LEN + 1], t[DBK_ID_TEXT_LEN + 1];
    json_t *items = NULL, *doc;
    int rc, ret;

    if (argc < 3) {
        fprintf(stderr, "usage: %s\n", assign ? "daybook assign CLIENT SKILL[=LABEL]..."
                                              : "daybook unassign CLIENT SKILL...");
        return DBK_EXIT_USAGE;
    }
    if (!check_skills(argc, argv, assign))
        return DBK_EXIT_USAGE;
    if ((ret = open_client(&s, cmd, argv[1], &client, label, sizeof label, state,
                           sizeof state)) != DBK_EXIT_OK)
        return ret;
    memset(&ck, 0, sizeof ck);
    memset(&l, 0, sizeof l);
    if (strcmp(state, "revoked") == 0 || strcmp(state, "expired") == 0 ||
        dbk_co_client_stream(&s, &client, &st) != DBK_OK) {
        fprintf(stderr, "daybook: you have no current access to %s's checklist\n", label);
        ret = DBK_EXIT_FAIL;
        goto out;
    }
    if ((rc = dbk_eu_load(&s, &l)) != DBK_OK ||
        (rc = dbk_checklist_build_for(&s, &l, &client, &ck)) != DBK_OK) {
        ret = dbk_cmd_fail("cannot read the client's checklist", rc);
        goto out;
    }
    dbk_id_to_text(&s.account, me);
    if ((items = skill_items(&ck, argc, argv, assign, label, me)) == NULL) {
        ret = DBK_EXIT_FAIL;
        goto out;
    }
    doc = json_pack("{s:s, s:i, s:O}", "type", "checklist_def", "v", 1, "items", items);
    rc = dbk_co_save_into(&s, &st.id, doc, &rec);
    json_decref(doc);
    if (rc != DBK_OK) {
        ret = dbk_cmd_fail("the checklist was not changed", rc);
        goto out;
    }
    dbk_id_to_text(&rec, t);
    if (ctx->json)
        printf("{\"id\":\"%s\",\"saved\":true}\n", t);
    else
        printf("%s's checklist %s %zu item%s; %s sees it after 'daybook sync' on both sides.\n",
               label, assign ? "gains" : "retires", json_array_size(items),
               json_array_size(items) == 1 ? "" : "s", label);
out:
    json_decref(items);
    dbk_checklist_free(&ck);
    dbk_eu_free(&l);
    dbk_session_close(&s);
    return ret;
}

static int
run_assign(dbk_ctx *ctx, int argc, char **argv)
{
    return run_assign_common(ctx, argc, argv, true);
}

static int
run_unassign(dbk_ctx *ctx, int argc, char **argv)
{
    return run_assign_common(ctx, argc, argv, false);
}

const dbk_cmd dbk_cmd_assign = {
    .name = "assign",
    .usage = "daybook assign CLIENT SKILL[=LABEL]...",
    .summary = "counselors: add coping skills to a client's checklist",
    .run = run_assign,
};

const dbk_cmd dbk_cmd_unassign = {
    .name = "unassign",
    .usage = "daybook unassign CLIENT SKILL...",
    .summary = "counselors: retire skills you assigned from a client's checklist",
    .run = run_unassign,
};

const dbk_cmd dbk_cmd_session = {
    .name = "session",
    .usage = "daybook session done CLIENT [--yes] | daybook session undo CLIENT | "
             "daybook session discussed CLIENT ID | daybook session group CLIENT...",
    .summary = "counselors: mark a session done (asked first; undo takes it back)",
    .run = run_session,
};

const dbk_cmd dbk_cmd_note = {
    .name = "note",
    .usage = "daybook note CLIENT -m TEXT [--share|--private]   (asked on a terminal; "
             "private without one)",
    .summary = "counselors: a note shared with the client, or kept for your own record",
    .run = run_note,
};
