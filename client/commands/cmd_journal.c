/* daybook journal: write a journal entry (shared with your counselor, or --private). */
#include "backdate.h"
#include "checklist.h"
#include "cmd.h"
#include "entries.h"
#include "crisis.h"
#include "draft.h"
#include "risk.h"
#include "entry.h"
#include "prompt.h"

#include "dbk/error.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define JOURNAL_MAX 100000

/* Reads stdin (up to the schema's maximum) into a malloc'd string. */
static char *
read_stdin(void)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    while (b != NULL) {
        size_t r = fread(b + n, 1, cap - n - 1, stdin);
        n += r;
        if (r == 0 || n > JOURNAL_MAX)
            break;
        if (cap - n < 1024) {
            char *nb = realloc(b, cap * 2);
            if (nb == NULL) {
                free(b);
                return NULL;
            }
            b = nb, cap *= 2;
        }
    }
    if (b != NULL) {
        b[n] = '\0';
        while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == ' '))
            b[--n] = '\0';
    }
    return b;
}

/*
 * The text from $EDITOR, as git commit does: a file in a directory of its own
 * (mkdtemp, 0700) inside the profile directory, overwritten and removed with the
 * directory afterwards. Returns 0 with *out malloc'd, or -1 after saying why.
 */
static int
write_in_editor(const char *profile, char **out)
{
    char dir[4200];
    int rc;

    snprintf(dir, sizeof dir, "%s/journal-XXXXXX", profile);
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "daybook: cannot make a private directory in %s: %s\n", profile,
                strerror(errno));
        return -1;
    }
    rc = dbk_prompt_editor(dir, "", JOURNAL_MAX, out);
    if (rmdir(dir) != 0)
        fprintf(stderr, "daybook: could not remove %s: %s\n", dir, strerror(errno));
    return rc;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"message", required_argument, NULL, 'm'}, {"mood", required_argument, NULL, 'M'},
        {"tag", required_argument, NULL, 't'},     {"private", no_argument, NULL, 'p'},
        {"prompt", required_argument, NULL, 'P'},  {"at", required_argument, NULL, 'A'},
        {NULL, 0, NULL, 0},
    };
    const char *text = NULL, *prompt = NULL, *at = NULL;
    char *owned = NULL, when[40], tz[64], t[DBK_ID_TEXT_LEN + 1];
    json_t *tags = json_array(), *doc;
    bool private_ = false;
    long mood = 0;
    dbk_session s;
    dbk_id id;
    int64_t day;
    bool ticked = false;
    int opt, rc, trc, ret;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:", opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'm': text = optarg; break;
        case 'M':
            mood = strtol(optarg, &end, 10);
            if (*end != '\0' || mood < 1 || mood > 5) {
                fprintf(stderr, "daybook: --mood is 1 (very low) to 5 (very good)\n");
                json_decref(tags);
                return DBK_EXIT_USAGE;
            }
            break;
        case 't': json_array_append_new(tags, json_string(optarg)); break;
        case 'p': private_ = true; break;
        case 'P': prompt = optarg; break;
        case 'A': at = optarg; break;
        default:
            fprintf(stderr,
                    "usage: daybook journal [-m TEXT] [--mood 1-5] [--tag T]... [--private] "
                    "[--at TIME]\n       (without -m: $EDITOR on a terminal, else standard input)\n"
                    "  --at TIME   when it was written, for an entry logged late: RFC 3339 with an\n"
                    "              offset (2026-11-20T18:40:00-05:00) or YYYY-MM-DD (12:00 that\n"
                    "              day); not in the future, at most 365 days ago\n");
            json_decref(tags);
            return DBK_EXIT_USAGE;
        }
    }
    if (at != NULL && !dbk_bd_time("--at", at, when)) {
        json_decref(tags);
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK) {
        json_decref(tags);
        return dbk_cmd_no_profile(rc);
    }
    if (text == NULL && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
        /* Passphrase first: a wrong one costs none of what is written next. */
        if (dbk_prompt_unlock(&s) == DBK_E_PASSPHRASE)
            fprintf(stderr, "The passphrase did not unlock Daybook. You can still write: the "
                            "entry is kept sealed on this device and saved the next time "
                            "Daybook unlocks.\n");
        if (write_in_editor(s.dir, &owned) != 0) {
            dbk_session_close(&s);
            json_decref(tags);
            return DBK_EXIT_FAIL;
        }
        text = owned;
    } else if (text == NULL) {
        text = owned = read_stdin();
    }
    if (text == NULL || text[0] == '\0' || strlen(text) > JOURNAL_MAX) {
        fprintf(stderr, "daybook: the entry is empty (or over %d characters); nothing saved\n",
                JOURNAL_MAX);
        if (owned != NULL)
            dbk_eu_wipe_free(owned);
        dbk_session_close(&s);
        json_decref(tags);
        return DBK_EXIT_FAIL;
    }
    /* Risk language brings up the crisis card at once, offline, saved or not. */
    bool risk = dbk_risk_screen(text, NULL, NULL);
    if (at == NULL)
        dbk_now_rfc3339(when);
    dbk_local_tz(tz, sizeof tz);
    doc = json_pack("{s:s, s:i, s:s, s:s, s:s, s:b}", "type", "journal", "v", 1, "text", text,
                    "written_at", when, "tz", tz, "shared", !private_);
    if (owned != NULL) {
        sodium_memzero(owned, strlen(owned));
        free(owned);
    }
    if (mood > 0)
        json_object_set_new(doc, "mood", json_integer(mood));
    if (json_array_size(tags) > 0)
        json_object_set(doc, "tags", tags);
    if (prompt != NULL)
        json_object_set_new(doc, "prompt", json_string(prompt));
    json_decref(tags);
    rc = dbk_entry_save(&s, private_ ? DBK_LOCAL_PRIVATE : DBK_LOCAL_SHARED, NULL, doc, &id);
    if (rc == DBK_OK) {
        (void)dbk_draft_remember_pk(&s);
        dbk_prompt_drafts_saved(&s);
    } else if (rc == DBK_E_PASSPHRASE) { /* a failed save is still a save */
        (void)dbk_prompt_keep_draft(&s, private_ ? DBK_LOCAL_PRIVATE : DBK_LOCAL_SHARED, doc,
                                    "journal entry");
    }
    /* Writing is the "journaling" item of the checklist, on the day the entry is for;
     * a tick that fails leaves the entry saved, and says so. */
    if (rc == DBK_OK && dbk_eu_entry_day(doc, &day) &&
        (trc = dbk_checklist_tick(&s, "journaling", day, &ticked)) != DBK_OK)
        fprintf(stderr, "daybook: the entry is saved, but 'journaling' was not ticked on the "
                        "checklist: %s\n", dbk_err_message(trc));
    json_decref(doc);
    if (rc != DBK_OK) {
        ret = dbk_cmd_fail("the entry was not saved", rc);
        if (risk)
            dbk_crisis_card_for(stderr, &s);
        dbk_session_close(&s);
        return ret;
    }
    dbk_id_to_text(&id, t);
    if (ctx->json)
        printf("{\"id\":\"%s\",\"private\":%s,\"ticked\":%s}\n", t,
               private_ ? "true" : "false", ticked ? "[\"journaling\"]" : "[]");
    else
        printf("Saved (%s)%s.%s\n", t,
               private_ ? ", private: only your own devices can read it"
                        : "; your counselor can read it after you sync",
               ticked ? " Ticked 'journaling' on the checklist." : "");
    if (risk)
        dbk_crisis_card_for(ctx->json ? stderr : stdout, &s);
    dbk_session_close(&s);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_journal = {
    .name = "journal",
    .usage = "daybook journal [-m TEXT] [--mood 1-5] [--tag T]... [--private] [--at TIME]",
    .summary = "write a journal entry (shared with your counselor unless --private)",
    .client_only = true,
    .run = run,
};
