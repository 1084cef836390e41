/*
 * daybook review CLIENT [--since last-session|YYYY-MM-DD] [--format text|json|html]
 *                       [--out FILE]
 *
 * The counselor's pre-session picture of the client's days, from what the client
 * shares (after 'daybook sync'), in the order a CBT session reviews it
 * (DOMAIN.md): reported use first; engagement (days with an entry, a calendar
 * strip); cravings (count, mean and peak intensity per day, trend against the
 * previous period of equal length, top triggers, HALT, which coping strategies
 * were followed by resisting); the checklist (per skill and per day, streaks,
 * assigned skills not practised); the journal entries shared, newest first, in
 * full; the counselor's own notes, newest first.
 *
 * The period starts on the day of the last 'daybook session done CLIENT' (or
 * --since DATE; without a marker, the last 7 days) and ends today. Days are
 * local calendar days; intensities are on the 0-10 scale. The figures are
 * computed once (report/review.c) and rendered as text (80 columns), JSON or one
 * self-contained HTML file (inline CSS and SVG, no scripts, nothing fetched),
 * which carries the 42 CFR Part 2 redisclosure notice at the top. --out writes
 * the file with mode 0600: it holds health records.
 *
 * The review is refused when the client has revoked (or let expire) the
 * counselor's access, as the caseload says (or, offline, as it last said). A client
 * whose shared stream this device holds but whom the server's caseload, answered, does
 * not list at all (a server restored from a backup, changed, or lying: 'daybook
 * clients' flags the row NOT IN SERVER'S CASELOAD) is reviewed from what this device
 * holds, flagged so: an absent row is the server's word alone, and only a row that
 * says revoked, expired or none (or, before it, what this device last saw) refuses.
 */
#include "cmd.h"
#include "caseload.h"
#include "counselor.h"
#include "render.h"
#include "review.h"
#include "summary.h"
#include "daycount.h"
#include "output.h"
#include "resolve.h"
#include "sharing.h"
#include "sync.h"
#include "trust.h"

#include "dbk/error.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the command ---- */

static int
usage(void)
{
    fprintf(stderr, "usage: daybook review CLIENT [--since last-session|YYYY-MM-DD] "
                    "[--format text|json|html] [--out FILE] [--offline]\n");
    return DBK_EXIT_USAGE;
}

#define CONSENT_STATE_LEN 32 /* "active", "revoked", "expired", "none" */

/* Whether the caseload answered has a row for client; state: its grant_state (the
 * last row that has one, *entry that row), or "none". */
static bool
caseload_row(const json_t *caseload, const dbk_id *client, const json_t **entry,
             char state[CONSENT_STATE_LEN])
{
    size_t i;
    json_t *v;
    bool found = false;
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(client, t);
    snprintf(state, CONSENT_STATE_LEN, "none");
    json_array_foreach(caseload, i, v)
    {
        const char *a = json_string_value(json_object_get(v, "account"));
        const char *g = json_string_value(json_object_get(v, "grant_state"));
        if (a == NULL || strcmp(a, t) != 0)
            continue;
        found = true;
        if (g != NULL) {
            snprintf(state, CONSENT_STATE_LEN, "%s", g);
            *entry = v;
        }
    }
    return found;
}

/* Consent: the caseload's word, or offline (or with the server not answering for it)
 * what it said last, into state. *unlisted: the caseload answered without a row for a
 * client whose shared stream this device holds; then what this device last saw stands
 * (unknown, or a "none" this device once stored for an absent row, reads "unknown").
 * Prints why not. */
static int
check_consent(dbk_session *s, const json_t *caseload, const dbk_id *client, const char *label,
              const json_t **entry, char state[CONSENT_STATE_LEN], bool *unlisted)
{
    dbk_local_stream held;
    state[0] = '\0';
    *entry = NULL;
    *unlisted = false;
    if (caseload == NULL) {
        dbk_co_state_get(s, client, state, CONSENT_STATE_LEN);
    } else if (!caseload_row(caseload, client, entry, state) &&
               dbk_co_client_stream(s, client, &held) == DBK_OK) {
        *unlisted = true;
        dbk_co_state_get(s, client, state, CONSENT_STATE_LEN);
        if (state[0] == '\0' || strcmp(state, "none") == 0)
            snprintf(state, CONSENT_STATE_LEN, "unknown");
    } else {
        dbk_co_state_put(s, client, state);
    }
    int64_t ends_ms;
    if ((strcmp(state, "revoked") == 0 || strcmp(state, "expired") == 0) &&
        dbk_co_end_signed(s, client, &ends_ms)) {
        /* The client's own signature says so (proto/TRUST.md T8): no server's word. */
        char on[32];
        dbk_co_ms_text(ends_ms, on);
        fprintf(stderr,
                "daybook: %s %s on %s (signed by the client); no review is made. A share "
                "signed after it, if the client made one, the server could be withholding: "
                "this device cannot tell. The client decides what to share: ask in session "
                "whether they want to share again.\n",
                label,
                strcmp(state, "revoked") == 0 ? "ended your access to their records"
                                              : "gave a consent to share that ended",
                on);
        return DBK_EXIT_FAIL;
    }
    if (strcmp(state, "revoked") == 0 || strcmp(state, "expired") == 0 ||
        strcmp(state, "none") == 0) {
        fprintf(stderr,
                "daybook: %s%s has %s; no review is made. The client decides what to share: "
                "ask in session whether they want to share again.\n",
                caseload == NULL || *unlisted ? "as this device last saw it, " : "the server says ",
                label,
                strcmp(state, "revoked") == 0
                    ? "revoked your access to their records (not signed by the client)"
                : strcmp(state, "expired") == 0 ? "a consent that has expired"
                                                : "not shared their records with you");
        return DBK_EXIT_FAIL;
    }
    return DBK_EXIT_OK;
}

/* The server stopped listing the client (check_consent's unlisted): said on stderr, what
 * the review shows and what to do, never that the client stopped sharing (only a row that
 * says so, the server's word, or this device's last sight of one, refuses a review). */
static void
unlisted_said(const char *label, const json_t *fresh)
{
    const char *at = json_string_value(json_object_get(fresh, "as_of"));
    fprintf(stderr,
            "daybook: WARNING: the server no longer lists %s among your clients "
            "(" DBK_REPORT_CASELOAD_UNLISTED
            "). This review shows what this device holds (data as of %s). The server's "
            "listing alone does not say %s stopped sharing. Ask the clinic why (a server "
            "restored from a backup, or changed), and ask %s in session.\n",
            label, at ? at : "never", label, label);
}

/*
 * The consent checked now (caseload) says the client shares, yet this device stopped
 * reading their stream (report/review.h dbk_review_readings_ended): looked at again,
 * the review's data pulled again when the end is undone (the forged revisions that
 * pull refused said), else not current and said so.
 */
static void
reading_ended_check(dbk_session *s, const json_t *caseload, const dbk_id *client, const char *label,
                    json_t **fresh)
{
    size_t again;
    char when[32];
    if (caseload == NULL)
        return; /* the consent not checked now */
    size_t refused;
    json_t *ended = dbk_review_readings_ended(s, caseload, client, fresh, &again, &refused);
    dbk_out_warn_forged(again);
    dbk_out_warn_refused_grants(refused);
    json_t *at = json_object_iter_value(json_object_iter(ended));
    if (at != NULL) {
        dbk_co_ms_text(json_integer_value(at), when);
        dbk_out_warn_reading_ended(label, when);
    }
    json_decref(ended);
}

/* How fresh the review's data is: the client's own (report/review.h
 * dbk_review_freshness_of), with what the pull refused and an end of reading that stands
 * (reading_ended_check) carried over, and the device's whole in "device"; when the
 * store cannot say per stream, the device's (not current unless everything is). */
static json_t *
client_data(dbk_session *s, const json_t *fresh, const dbk_id *client)
{
    json_t *stale = NULL, *d, *v;
    int64_t at = 0;
    if (dbk_sync_stale_owners(s, &stale, &at) != DBK_OK)
        return json_deep_copy(fresh);
    d = dbk_review_freshness_of(fresh, stale, at, client, &s->account);
    json_decref(stale);
    json_object_set(d, "refused_revisions", json_object_get(fresh, "refused_revisions"));
    json_object_set(d, "refused_grants", json_object_get(fresh, "refused_grants"));
    if ((v = json_object_get(fresh, "reading_ended_at")) != NULL) {
        json_object_set(d, "reading_ended_at", v);
        json_object_set_new(d, "pulled", json_false());
        json_object_set_new(d, "stale", json_true());
    }
    json_object_set_new(d, "device", json_deep_copy(fresh));
    return d;
}

/* Whether the server withheld entries of the client's shared stream, as its signed
 * stream head says (proto/TRUST.md T12): told on stderr, and in the JSON. */
static void
withheld_check(dbk_session *s, const dbk_id *client, json_t *rev)
{
    dbk_trust_report r = {0};
    int rc = dbk_co_withheld(s, client, &r);
    if (rc == DBK_E_NOT_FOUND) /* no stream of the client's here: nothing to withhold */
        return;
    if (rc != DBK_OK) { /* when unsure, flag: the check did not run */
        json_object_set_new(rev, "withheld", dbk_co_withheld_json(NULL));
        dbk_out_withheld_unchecked("the client", dbk_err_message(rc),
                                   "this review may be missing some");
        return;
    }
    json_object_set_new(rev, "withheld", dbk_co_withheld_json(&r));
    dbk_out_withheld("the client", dbk_co_withheld_warn(&r), r.withheld, r.heads_unknown > 0,
                     r.heads_none > 0, "this review is missing them");
}

/* What stderr said of entries left out (dbk_out_warn_unopened), in the review itself, so
 * that a review kept as a file says it too. */
static void
unopened_said(json_t *rev, const dbk_eu_list *l)
{
    json_object_set_new(rev, "unopened",
                        json_pack("{s:I, s:I}", "records", (json_int_t)(l->bad - l->foreign_author),
                                  "foreign_author", (json_int_t)l->foreign_author));
}

/* What the review says besides its figures: the notice, what was withheld or did not
 * open, how fresh its data is (data), the consent as checked (checked: asked of the
 * server now and listed by it) and, for a client the server no longer lists, its flag. */
static void
review_said(dbk_session *s, json_t *rev, const dbk_id *client, const dbk_eu_list *l, json_t *data,
            const char *consent, bool checked, bool unlisted)
{
    json_object_set_new(rev, "notice", json_string(dbk_report_notice));
    withheld_check(s, client, rev);
    unopened_said(rev, l);
    json_object_set(rev, "data", data);
    json_object_set_new(rev, "consent",
                        json_pack("{s:s, s:b, s:b}", "state", consent[0] ? consent : "unknown",
                                  "checked", checked, "listed", !unlisted));
    if (unlisted)
        json_object_set_new(rev, "flags", json_pack("[s]", DBK_REPORT_CASELOAD_UNLISTED));
}

/* Writes the review in format to outpath (mode 0600) or stdout. */
static int
write_review(dbk_ctx *ctx, const json_t *rev, const char *format, const char *outpath)
{
    FILE *o = stdout;
    if (outpath != NULL) {
        int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || (o = fdopen(fd, "w")) == NULL) {
            if (fd >= 0)
                close(fd);
            fprintf(stderr, "daybook: cannot write %s\n", outpath);
            return DBK_EXIT_FAIL;
        }
        (void)fchmod(fd, 0600);
    }
    if (strcmp(format, "json") == 0)
        dbk_out_json(o, rev);
    else if (strcmp(format, "html") == 0)
        dbk_report_html(o, rev);
    else
        dbk_report_text(o, rev, o == stdout ? dbk_out_columns() : 80, ctx->color && o == stdout);
    if (o != stdout && fclose(o) != 0) {
        fprintf(stderr, "daybook: cannot write %s\n", outpath);
        return DBK_EXIT_FAIL;
    }
    if (o != stdout && !ctx->json)
        fprintf(stderr, "Review written to %s (mode 0600: it holds health records).\n", outpath);
    return DBK_EXIT_OK;
}

/* What 'daybook review' was asked for. */
struct review_args {
    const char *who, *since, *format, *outpath;
    bool offline;
};

/* The flags and the client into a; DBK_EXIT_OK, or the usage. */
static int
parse_review(struct review_args *a, int argc, char **argv)
{
    static const struct option opts[] = {{"since", required_argument, NULL, 's'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"offline", no_argument, NULL, 'n'},
                                         {NULL, 0, NULL, 0}};
    const char *first = dbk_cmd_take_operand(&argc, argv, "");
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 's': a->since = optarg; break;
        case 'f': a->format = optarg; break;
        case 'o': a->outpath = optarg; break;
        case 'n': a->offline = true; break;
        default: return usage();
        }
    }
    if ((a->who = dbk_cmd_operand(first, argc, argv)) == NULL ||
        (strcmp(a->format, "text") && strcmp(a->format, "json") && strcmp(a->format, "html")))
        return usage();
    return DBK_EXIT_OK;
}

/* The review's period for client from this account's own entries (its session
 * markers, or --since), with the day the client enrolled. Exit code. */
static int
review_period(dbk_session *s, const dbk_eu_list *own, const dbk_id *client, const char *since,
              const json_t *entry, dbk_review_period *p)
{
    if (dbk_review_period_make(own, client, since, p) != DBK_OK) {
        fprintf(stderr, "daybook: --since is last-session or a date YYYY-MM-DD, not in the "
                        "future\n");
        return DBK_EXIT_USAGE;
    }
    p->enrolled_day = dbk_co_enrolled_day(s, entry, client);
    return DBK_EXIT_OK;
}

/* Once the review is written: this device's copies of the entries it showed, and the
 * reviewed record (the client's device learns from it that these entries were read: a
 * 'daybook rm' says so), in one commit. Either failing is told; the review stands.
 * Queued for a client who stops sharing before the next sync, the record is taken out
 * of the outbox then (sync.c apply_push). */
static void
keep_reviewed(dbk_session *s, const dbk_id *client, const dbk_eu_list *l,
              const dbk_review_period *p, json_t *kept)
{
    bool mark_failed = false;
    int rc = dbk_review_remember(s, client, l, p, kept, &mark_failed);
    if (rc != DBK_OK)
        (void)dbk_cmd_fail(mark_failed ? "the note that you reviewed these entries was not saved"
                                       : "your copy of the entries reviewed was not kept",
                           rc);
}

/* This account's own entries, as pulled, read once (from the summary cache: see
 * report/summary.h): the aliases, the session markers and the review itself all read
 * them. Exit code. */
static int
load_own(dbk_session *s, dbk_eu_list *own, json_t **aliases)
{
    int rc;
    if ((rc = dbk_report_summary_own(s, own)) != DBK_OK)
        return dbk_cmd_fail("cannot read the entries on this device", rc);
    if ((rc = dbk_co_aliases_in(s, own, aliases)) != DBK_OK)
        return dbk_cmd_fail("cannot read your aliases", rc);
    return DBK_EXIT_OK;
}

/* The client a->who names, and the server's caseload to read its consent in (NULL
 * offline): the client's row alone when the name is certain here (an alias, a whole id
 * held: dbk_resolve_known), not every client's (40 of them were 1.7M instructions of
 * JSON, and the server looked up the grants of each); else the whole caseload, which a
 * prefix is resolved against. Exit code. */
static int
client_and_caseload(dbk_session *s, const struct review_args *a, const json_t *aliases,
                    dbk_id *client, json_t **caseload)
{
    bool known = dbk_resolve_known(s, aliases, a->who, client);
    int rc = a->offline ? DBK_E_UNAVAILABLE
             : known    ? dbk_sync_caseload_of(s, client, caseload)
                        : dbk_sync_caseload(s, caseload);
    if (rc != DBK_OK && rc != DBK_E_UNAVAILABLE)
        return dbk_cmd_fail("cannot fetch your caseload", rc);
    return known ? DBK_EXIT_OK : dbk_resolve_client(s, aliases, *caseload, a->who, client);
}

/* The counselor's profile, opened. Exit code. */
static int
open_profile(dbk_session *s)
{
    int rc, ret;
    if ((rc = dbk_session_open(s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if ((ret = dbk_require_counselor(s, "daybook review")) != DBK_EXIT_OK)
        dbk_session_close(s);
    return ret;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    struct review_args a = {.format = ctx->json ? "json" : "text"};
    dbk_session s;
    dbk_eu_list l, own;
    dbk_review_period p;
    dbk_review_carried_list carried = {0};
    json_t *aliases = NULL, *caseload = NULL, *rev = NULL, *fresh = NULL, *kept = NULL,
           *data = NULL;
    const json_t *entry;
    dbk_id client;
    char label[64], consent[CONSENT_STATE_LEN];
    bool unlisted = false;
    int rc, ret;

    if ((ret = parse_review(&a, argc, argv)) != DBK_EXIT_OK)
        return ret;
    if ((ret = open_profile(&s)) != DBK_EXIT_OK)
        return ret;
    memset(&l, 0, sizeof l);
    memset(&own, 0, sizeof own);
    /* Pull first: a review of stale data can say "no use" about a lapse. */
    fresh = dbk_review_freshen(&s, a.offline);
    dbk_out_warn_pulled(fresh);
    s.net_timeout_s = DBK_REVIEW_PULL_TIMEOUT_S;
    if ((ret = load_own(&s, &own, &aliases)) != DBK_EXIT_OK ||
        (ret = client_and_caseload(&s, &a, aliases, &client, &caseload)) != DBK_EXIT_OK)
        goto out;
    dbk_co_label(aliases, &client, label, sizeof label);
    if ((ret = check_consent(&s, caseload, &client, label, &entry, consent, &unlisted)) !=
        DBK_EXIT_OK)
        goto out;
    reading_ended_check(&s, caseload, &client, label, &fresh);
    data = client_data(&s, fresh, &client);
    if (unlisted)
        unlisted_said(label, data);
    /* When unsure, flag: online, but the server did not answer for the consent. */
    if (caseload == NULL && !a.offline)
        fprintf(stderr,
                "daybook: the server did not answer for %s's consent; this review follows "
                "what this device last saw (%s). Sync again before acting on it.\n",
                label, consent[0] ? consent : "unknown");

    /* The period from this account's own entries (session markers); then the client's
     * streams and this account's own: everything the review counts, without opening the
     * rest of the caseload, nor (with summaries, report/summary.h) the client's old
     * entries that count for nothing in this period. */
    if ((ret = review_period(&s, &own, &client, a.since, entry, &p)) != DBK_EXIT_OK)
        goto out;
    if ((rc = dbk_review_kept_load(&s, &client, &kept)) != DBK_OK)
        (void)dbk_cmd_fail("your copies of reviewed entries cannot be read", rc);
    if ((rc = dbk_report_summary_load(&s, &client, &p, kept, &own, &l, &carried)) != DBK_OK) {
        ret = dbk_cmd_fail("cannot read the entries on this device", rc);
        goto out;
    }
    dbk_out_warn_unopened(&l);
    if ((rev = dbk_review_build(&s, &l, &client, label, &p, kept, &carried)) == NULL) {
        ret = dbk_cmd_fail("cannot compute the review", DBK_E_NOMEM);
        goto out;
    }
    review_said(&s, rev, &client, &l, data, consent, caseload != NULL && !unlisted, unlisted);
    if ((ret = write_review(ctx, rev, a.format, a.outpath)) == DBK_EXIT_OK && kept != NULL)
        keep_reviewed(&s, &client, &l, &p, kept);
out:
    json_decref(rev);
    json_decref(kept);
    json_decref(fresh);
    json_decref(data);
    json_decref(aliases);
    json_decref(caseload);
    dbk_eu_free(&l);
    dbk_eu_free(&own);
    dbk_review_carried_free(&carried);
    dbk_session_close(&s);
    return ret;
}

const dbk_cmd dbk_cmd_review = {
    .name = "review",
    .usage = "daybook review CLIENT [--since last-session|YYYY-MM-DD] [--format text|json|html] "
             "[--out FILE] [--offline]",
    .summary = "counselors: a client's days since the last session, before the session",
    .run = run,
};
