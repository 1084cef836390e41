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

/* What the flags said. */
struct journal {
    const char *text, *prompt, *at;
    json_t *tags;
    bool private_;
    long mood; /* 0: not given */
};

/* The flags into j; DBK_EXIT_OK, or DBK_EXIT_USAGE after saying why. */
static int
parse_journal(struct journal *j, int argc, char **argv)
{
    static const struct option opts[] = {
        {"message", required_argument, NULL, 'm'}, {"mood", required_argument, NULL, 'M'},
        {"tag", required_argument, NULL, 't'},     {"private", no_argument, NULL, 'p'},
        {"prompt", required_argument, NULL, 'P'},  {"at", required_argument, NULL, 'A'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "m:", opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'm': j->text = optarg; break;
        case 'M':
            j->mood = strtol(optarg, &end, 10);
            if (*end != '\0' || j->mood < 1 || j->mood > 5) {
                fprintf(stderr, "daybook: --mood is 1 (very low) to 5 (very good)\n");
                return DBK_EXIT_USAGE;
            }
            break;
        case 't': json_array_append_new(j->tags, json_string(optarg)); break;
        case 'p': j->private_ = true; break;
        case 'P': j->prompt = optarg; break;
        case 'A': j->at = optarg; break;
        default:
            fprintf(stderr,
                    "usage: daybook journal [-m TEXT] [--mood 1-5] [--tag T]... [--private] "
                    "[--at TIME]\n       (without -m: $EDITOR on a terminal, else standard input)\n"
                    "  --at TIME   when it was written, for an entry logged late: RFC 3339 with an\n"
                    "              offset (2026-11-20T18:40:00-05:00) or YYYY-MM-DD (12:00 that\n"
                    "              day); not in the future, at most 365 days ago\n");
            return DBK_EXIT_USAGE;
        }
    }
    return DBK_EXIT_OK;
}

/* The entry's text when -m did not give it: $EDITOR on a terminal (after the
 * passphrase), else standard input, in *owned (wiped by the caller). */
static int
read_text(dbk_session *s, char **owned)
{
    if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
        /* Passphrase first: a wrong one costs none of what is written next. */
        if (dbk_prompt_unlock(s) == DBK_E_PASSPHRASE)
            fprintf(stderr, "The passphrase did not unlock Daybook. You can still write: the "
                            "entry is kept sealed on this device and saved the next time "
                            "Daybook unlocks.\n");
        if (write_in_editor(s->dir, owned) != 0)
            return DBK_EXIT_FAIL;
    } else {
        *owned = read_stdin();
    }
    return DBK_EXIT_OK;
}

/* The journal record (journal.schema.json) for text written at when. */
static json_t *
build_journal(const struct journal *j, const char *text, const char *when)
{
    char tz[64];
    json_t *doc;

    dbk_local_tz(tz, sizeof tz);
    doc = json_pack("{s:s, s:i, s:s, s:s, s:s, s:b}", "type", "journal", "v", 1, "text", text,
                    "written_at", when, "tz", tz, "shared", !j->private_);
    if (j->mood > 0)
        json_object_set_new(doc, "mood", json_integer(j->mood));
    if (json_array_size(j->tags) > 0)
        json_object_set(doc, "tags", j->tags);
    if (j->prompt != NULL)
        json_object_set_new(doc, "prompt", json_string(j->prompt));
    return doc;
}

/* Saves doc (kept sealed as a draft when the passphrase failed), ticks
 * "journaling" on the entry's day, and says so; risk: show the crisis card. */
static int
save_journal(dbk_ctx *ctx, dbk_session *s, const struct journal *j, json_t *doc, bool risk)
{
    int kind = j->private_ ? DBK_LOCAL_PRIVATE : DBK_LOCAL_SHARED;
    char t[DBK_ID_TEXT_LEN + 1];
    bool ticked = false;
    int64_t day;
    dbk_id id;
    int rc, trc;

    rc = dbk_entry_save(s, kind, NULL, doc, &id);
    if (rc == DBK_OK) {
        (void)dbk_draft_remember_pk(s);
        dbk_prompt_drafts_saved(s);
    } else if (rc == DBK_E_PASSPHRASE) { /* a failed save is still a save */
        (void)dbk_prompt_keep_draft(s, kind, doc, "journal entry");
    }
    /* Writing is the "journaling" item of the checklist, on the day the entry is for;
     * a tick that fails leaves the entry saved, and says so. */
    if (rc == DBK_OK && dbk_eu_entry_day(doc, &day) &&
        (trc = dbk_checklist_tick(s, "journaling", day, &ticked)) != DBK_OK)
        fprintf(stderr, "daybook: the entry is saved, but 'journaling' was not ticked on the "
                        "checklist: %s\n", dbk_err_message(trc));
    if (rc != DBK_OK) {
        int ret = dbk_cmd_fail("the entry was not saved", rc);
        if (risk)
            dbk_crisis_card_for(stderr, s);
        return ret;
    }
    dbk_id_to_text(&id, t);
    if (ctx->json)
        printf("{\"id\":\"%s\",\"private\":%s,\"ticked\":%s}\n", t,
               j->private_ ? "true" : "false", ticked ? "[\"journaling\"]" : "[]");
    else
        printf("Saved (%s)%s.%s\n", t,
               j->private_ ? ", private: only your own devices can read it"
                           : "; your counselor can read it after you sync",
               ticked ? " Ticked 'journaling' on the checklist." : "");
    if (risk)
        dbk_crisis_card_for(ctx->json ? stderr : stdout, s);
    return DBK_EXIT_OK;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    struct journal j = {.tags = json_array()};
    char *owned = NULL, when[40];
    const char *text;
    json_t *doc;
    dbk_session s;
    bool risk;
    int rc, ret;

    if ((ret = parse_journal(&j, argc, argv)) != DBK_EXIT_OK ||
        (j.at != NULL && !dbk_bd_time("--at", j.at, when))) {
        json_decref(j.tags);
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK) {
        json_decref(j.tags);
        return dbk_cmd_no_profile(rc);
    }
    if (j.text == NULL && (ret = read_text(&s, &owned)) != DBK_EXIT_OK) {
        dbk_session_close(&s);
        json_decref(j.tags);
        return ret;
    }
    text = j.text != NULL ? j.text : owned;
    if (text == NULL || text[0] == '\0' || strlen(text) > JOURNAL_MAX) {
        fprintf(stderr, "daybook: the entry is empty (or over %d characters); nothing saved\n",
                JOURNAL_MAX);
        if (owned != NULL)
            dbk_eu_wipe_free(owned);
        dbk_session_close(&s);
        json_decref(j.tags);
        return DBK_EXIT_FAIL;
    }
    /* Risk language brings up the crisis card at once, offline, saved or not. */
    risk = dbk_risk_screen(text, NULL, NULL);
    if (j.at == NULL)
        dbk_now_rfc3339(when);
    doc = build_journal(&j, text, when);
    if (owned != NULL) {
        sodium_memzero(owned, strlen(owned));
        free(owned);
    }
    json_decref(j.tags);
    ret = save_journal(ctx, &s, &j, doc, risk);
    json_decref(doc);
    dbk_session_close(&s);
    return ret;
}

const dbk_cmd dbk_cmd_journal = {
    .name = "journal",
    .usage = "daybook journal [-m TEXT] [--mood 1-5] [--tag T]... [--private] [--at TIME]",
    .summary = "write a journal entry (shared with your counselor unless --private)",
    .client_only = true,
    .run = run,
};
