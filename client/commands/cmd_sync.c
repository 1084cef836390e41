/* daybook sync and daybook status. */
#include "cmd.h"
#include "role.h"
#include "summary.h"
#include "consent.h"
#include "counselor.h"
#include "daycount.h"
#include "entries.h"
#include "notes.h"
#include "entry.h"
#include "links.h"
#include "output.h"
#include "resolve.h"
#include "spool.h"
#include "spool_file.h"
#include "sync.h"
#include "trust.h"
#include "help_pin.h"

#include "dbk/error.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* The server refused new records with storage_full: nothing is lost here. */
/* The server offered what this device does not believe (trust/trust.h): said loudly,
 * once per sync, with what was kept instead. */
/* The clinic's numbers the server lists now, compared with the pinned ones (section
 * 4.4): a server that changed them is not followed, and the client hears of it. */
static void
check_help_lines(dbk_session *s)
{
    json_t *lines = NULL;
    if (dbk_sync_help_lines(s, &lines) == DBK_OK &&
        dbk_trust_help_compare(s, lines) == DBK_E_FINGERPRINT)
        fprintf(stderr, "daybook: warning: the server now lists other numbers for 'daybook "
                        "help-now' than\nthe ones you got when you enrolled. Daybook keeps "
                        "the ones from enrollment.\nAsk your counselor which numbers are "
                        "right.\n");
    json_decref(lines);
}

static void
warn_refused(const dbk_trust_report *r)
{
    fprintf(stderr, "daybook: WARNING: the server sent data this device refused:\n");
    if (r->bad_grants)
        fprintf(stderr, "  %zu key grant(s) not signed by a key this device trusts\n",
                r->bad_grants);
    if (r->replaced_grants)
        fprintf(stderr, "  %zu attempt(s) to replace a key grant already held\n",
                r->replaced_grants);
    if (r->kind_swaps)
        fprintf(stderr, "  %zu stream(s) listed as shared where they are private, or the "
                        "reverse\n",
                r->kind_swaps);
    if (r->epoch_rollbacks)
        fprintf(stderr, "  %zu stream(s) listed with an older key than this device holds\n",
                r->epoch_rollbacks);
    if (r->withheld)
        fprintf(stderr, "  %zu entr%s signed for by their writer (in the stream's signed "
                        "head) never\n  arrived: the server is withholding them\n",
                r->withheld, r->withheld == 1 ? "y" : "ies");
    if (r->head_rollbacks)
        fprintf(stderr, "  %zu stream(s) came with an older signed head than this device "
                        "already saw\n",
                r->head_rollbacks);
    fprintf(stderr, "  Nothing was changed: your entries stay sealed to the keys you verified. "
                    "If the\n  clinic restored its server from a backup this can happen once; "
                    "otherwise tell\n  your clinic.\n");
}

static void
server_disk_full(const dbk_sync_stats *st)
{
    fprintf(stderr, "daybook: the server's disk is full; your entries are kept and will be sent "
                    "later (%lld waiting). Try again later.\n",
            (long long)st->pending);
}

/* The streams whose reading ended in this sync, told once: "Sam K. stopped sharing on
 * <date>", as JSON objects when j is not NULL. */
static void
report_ended(dbk_session *s, const dbk_sync_stats *st, json_t *j)
{
    json_t *aliases = NULL;

    if (st->nended == 0)
        return;
    if (dbk_co_aliases(s, &aliases) != DBK_OK)
        aliases = json_object();
    for (size_t i = 0; i < st->nended; i++) {
        char name[128], day[32], id[DBK_ID_TEXT_LEN + 1];
        const dbk_sync_ended *e = &st->ended[i];
        dbk_co_label(aliases, &e->owner, name, sizeof name);
        dbk_co_ms_text(e->at_ms, day);
        day[10] = '\0';
        dbk_id_to_text(&e->owner, id);
        /* Whose word it is: the client's signed end, or the server's alone (TRUST.md T8). */
        int64_t signed_ms;
        bool end_signed = dbk_co_end_signed(s, &e->owner, &signed_ms);
        if (j != NULL)
            json_array_append_new(j,
                                  json_pack("{s:s, s:s, s:s, s:s, s:b}", "client", id, "name", name,
                                            "on", day, "reason", e->expired ? "expired" : "revoked",
                                            "end_signed", end_signed));
        else if (e->expired)
            printf("%s's consent ended on %s; sharing stopped. They can renew it with "
                   "'daybook share'.\n", name, day);
        else
            printf("%s stopped sharing on %s (%s). What you already read stays on this "
                   "device. If %s shared again since, the server could be withholding it: "
                   "this device cannot tell; ask in session.\n",
                   name, day,
                   end_signed ? "signed by the client"
                              : "the server's word; not signed by the client",
                   name);
    }
    json_decref(aliases);
}

/* A counselor's consents near their end: each client's, into expiring, and printed
 * ("consent expires in N days") when print. */
static void
counselor_expiring(dbk_session *s, bool print, json_t *expiring)
{
    json_t *list = NULL, *aliases = NULL, *v;
    int64_t now = (int64_t)time(NULL) * 1000;
    size_t i;

    if (dbk_sync_consents(s, &list) == DBK_OK && dbk_co_aliases(s, &aliases) == DBK_OK) {
        json_array_foreach(list, i, v) {
            int64_t exp = json_integer_value(json_object_get(v, "expires_at"));
            const char *o = json_string_value(json_object_get(v, "owner"));
            long days = (long)((exp - now) / 86400000); /* whole days left, as the client counts */
            char name[128];
            dbk_id oid;
            if (exp <= 0 || json_integer_value(json_object_get(v, "ended_at")) > 0 ||
                days > DBK_CONSENT_WARN_DAYS ||
                dbk_id_from_text(&oid, o, strlen(o)) != DBK_OK)
                continue;
            dbk_co_label(aliases, &oid, name, sizeof name);
            json_array_append_new(expiring, json_pack("{s:s, s:s, s:i}", "client", o, "name",
                                                      name, "days", (int)days));
            if (print)
                printf("%s's consent expires in %ld day%s; they can renew it with "
                       "'daybook share'.\n", name, days, days == 1 ? "" : "s");
        }
    }
    json_decref(list);
    json_decref(aliases);
}

/* A client's news: notes and skills from the counselor not yet shown (*fresh, each
 * once), and its own consents near their end (the newest per counselor, into
 * expiring); printed, with how to renew, when print. */
static void
client_news(dbk_session *s, bool print, json_t **fresh, json_t *expiring, size_t *waiting)
{
    int64_t today = dbk_eu_today();
    dbk_eu_list l;
    const char *k;
    json_t *v;
    size_t i;

    dbk_notes_mark seen, next;

    /* Not the whole history: the consents and what the counselor's writing brought
     * since the last news, or brought before its key came. */
    dbk_notes_seen(s, &seen);
    if (dbk_notes_load_news(s, &seen, &l, &next) != DBK_OK)
        return;
    *waiting = next.nwait + next.over;
    if (print && *waiting > 0)
        fprintf(stderr,
                "daybook: %zu record(s) written for you by someone else reached this "
                "device without the key that opens them; they show in 'daybook notes' "
                "once it comes (a sync of your other device, then this one). If they "
                "go on waiting, "
                "tell the clinic.\n",
                *waiting);
    *fresh = dbk_notes_from_counselor(s, &l);
    json_array_foreach(*fresh, i, v) {
        if (!print)
            continue;
        if (strcmp(json_string_value(json_object_get(v, "kind")), "note") == 0)
            printf("New note from %s: %s\n", json_string_value(json_object_get(v, "by_name")),
                   json_string_value(json_object_get(v, "text")));
        else
            printf("New skill from %s on your checklist: %s\n",
                   json_string_value(json_object_get(v, "by_name")),
                   json_string_value(json_object_get(v, "text")));
    }
    (void)dbk_notes_mark_seen(s, &seen, &next);
    /* The newest consent per counselor, near its end. */
    json_t *newest = json_object();
    for (i = 0; i < l.n; i++) {
        const char *to = json_string_value(
            json_object_get(json_object_get(l.v[i].doc, "recipient"), "name"));
        if (l.v[i].mine && l.v[i].kind == DBK_LOCAL_PRIVATE &&
            strcmp(l.v[i].type, "consent") == 0 && to != NULL)
            json_object_set(newest, to, l.v[i].doc);
    }
    json_object_foreach(newest, k, v) {
        const char *date = json_string_value(json_object_get(json_object_get(v, "expires"),
                                                             "date"));
        int64_t day;
        if (date == NULL || !dbk_day_parse(date, &day) || day - today > DBK_CONSENT_WARN_DAYS)
            continue;
        json_array_append_new(expiring, json_pack("{s:s, s:i}", "name", k,
                                                  "days", (int)(day - today)));
        if (print && day < today)
            printf("Your consent to share with %s ended on %s; nothing new is shared with "
                   "them. To share again: daybook share '%s'\n", k, date, k);
        else if (print)
            printf("Your consent to share with %s ends in %lld day%s. To keep sharing, renew "
                   "it: daybook share '%s'\n", k, (long long)(day - today),
                   day - today == 1 ? "" : "s", k);
    }
    json_decref(newest);
    dbk_eu_free(&l);
}

/*
 * What this sync brought back (a client: notes and skills from the counselor not yet
 * shown, each once) and what needs doing (a consent near its end: the counselor is
 * told "consent expires in N days", the client is asked to renew). Into j when not
 * NULL ("new", "expiring"), else printed.
 */
static void
report_loop(dbk_session *s, json_t *j)
{
    json_t *fresh = NULL, *expiring = json_array();
    size_t waiting = 0;

    if (s->role == DBK_ROLE_COUNSELOR)
        counselor_expiring(s, j == NULL, expiring);
    else
        client_news(s, j == NULL, &fresh, expiring, &waiting);
    if (j != NULL) {
        json_object_set_new(j, "new", fresh ? fresh : json_array());
        json_object_set_new(j, "waiting", json_integer((json_int_t)waiting));
        json_object_set_new(j, "expiring", expiring);
    } else {
        json_decref(fresh);
        json_decref(expiring);
    }
}

/* Entries written while this device's clock was days ahead are refused by the
 * server; with the clock set right they are dated again from now. */
static void
restamp_ahead(const dbk_ctx *ctx, dbk_session *s)
{
    size_t restamped = 0;

    if (dbk_entry_restamp_ahead(s, &restamped) != DBK_OK)
        fprintf(stderr, "daybook: entries written while this device's clock was ahead "
                        "could not be dated again; they are kept and wait\n");
    else if (restamped > 0 && !ctx->json)
        printf("%zu entr%s written while this device's clock was more than a day ahead "
               "%s dated again from now.\n",
               restamped, restamped == 1 ? "y" : "ies", restamped == 1 ? "was" : "were");
}

/* A sync that failed as a whole, in words; the exit code. */
static int
sync_failed(int rc, const dbk_sync_stats *st)
{
    if (rc == DBK_E_UNAVAILABLE) {
        fprintf(stderr, "daybook: the server cannot be reached; nothing is lost, %lld entries "
                        "wait to sync. Try again later.\n",
                (long long)st->pending);
        return DBK_EXIT_FAIL;
    }
    if (rc == DBK_E_UNAUTHENTICATED) {
        fprintf(stderr, "daybook: the server no longer accepts this device's sign-in; "
                        "log in again\n");
        return DBK_EXIT_FAIL;
    }
    if (rc == DBK_E_STORAGE_FULL && st->server_error == DBK_E_STORAGE_FULL) {
        /* The server's disk (a whole-request 507); dbk_cmd_fail would speak of this
         * device's, which fails with the same code. */
        server_disk_full(st);
        return DBK_EXIT_FAIL;
    }
    return dbk_cmd_fail("sync failed; nothing is lost", rc);
}

/* The --json answer: the counts, ended (taken) and the loop's fields (loop). */
static void
print_sync_json(const dbk_sync_stats *st, json_t *ended, const json_t *loop)
{
    json_t *j = json_pack("{s:i, s:i, s:I, s:i, s:o}", "pushed", (int)st->pushed, "pulled",
                          (int)st->pulled, "pending", (json_int_t)st->pending, "failed_streams",
                          (int)st->failed_streams, "ended", ended);
    json_object_set_new(j, "undeliverable", json_integer(st->undeliverable));
    json_object_update(j, (json_t *)loop);
    if (st->failed_streams > 0 && st->server_error != DBK_OK)
        json_object_set_new(j, "server_error", json_string(dbk_err_code(st->server_error)));
    json_object_set_new(j, "refused",
                        json_pack("{s:i, s:i, s:i, s:i, s:i}", "grants", (int)st->trust.bad_grants,
                                  "replaced_grants", (int)st->trust.replaced_grants, "kind_swaps",
                                  (int)st->trust.kind_swaps, "epoch_rollbacks",
                                  (int)st->trust.epoch_rollbacks, "revisions",
                                  (int)st->forged_revisions));
    json_object_set_new(j, "withheld",
                        json_pack("{s:i, s:i, s:i, s:i, s:i}", "records", (int)st->trust.withheld,
                                  "head_rollbacks", (int)st->trust.head_rollbacks,
                                  "streams_unknown", (int)st->trust.heads_unknown, "streams_unseen",
                                  (int)st->trust.heads_none, "own_unseen",
                                  (int)st->trust.own_none));
    json_object_set_new(j, "access_changes",
                        json_pack("{s:i, s:i, s:i}", "sent", (int)st->acts.sent, "waiting",
                                  (int)st->acts.pending, "conflicts", (int)st->acts.conflicts));
    dbk_out_json(stdout, j);
    json_decref(j);
}

/* What a sync that ran left undone (refused keys, streams not synced, access changes
 * not sent), in words; the exit code: a failure when anything waits. */
static int
warn_partial(const dbk_sync_stats *st)
{
    if (dbk_trust_report_any(&st->trust))
        warn_refused(&st->trust);
    dbk_out_warn_forged(st->forged_revisions);
    if (st->undeliverable > 0)
        fprintf(stderr, "daybook: %lld record(s) you wrote for a client were not sent: the "
                        "client stopped sharing first. They stay on this device.\n",
                (long long)st->undeliverable);
    if (st->trust.heads_unknown > 0)
        fprintf(stderr, "daybook: for %zu stream(s) this device cannot tell whether the server "
                        "withheld entries: their writer has signed no stream head yet (a "
                        "device from before heads), or this device lacks an older key\n",
                st->trust.heads_unknown);
    dbk_out_own_unseen(st->trust.own_none);
    if (st->failed_streams > 0 && st->server_error == DBK_E_STORAGE_FULL)
        server_disk_full(st); /* a stream's push refused in a 200 answer */
    else if (st->failed_streams > 0 && st->server_error == DBK_E_CLOCK_AHEAD)
        /* proto/README.md section 10, check 6: kept in the outbox, sent once within a day. */
        fprintf(stderr, "daybook: the server refused entries dated more than a day ahead of its "
                        "clock: this device's date or time is wrong. Nothing is lost: %lld "
                        "entries wait and are sent once they are within a day of the server's "
                        "clock. Correct the clock so that new entries are not affected.\n",
                (long long)st->pending);
    else if (st->failed_streams > 0 && st->server_error == DBK_E_QUOTA)
        fprintf(stderr,
                "daybook: the server refused new entries: this account's storage "
                "quota on the server is used up. Nothing is lost: %lld entries wait "
                "on this device and are sent once the clinic raises the quota. Tell "
                "the clinic.\n",
                (long long)st->pending);
    else if (st->failed_streams > 0)
        fprintf(stderr,
                "daybook: %zu stream(s) could not be synced (access ended, a key "
                "rotation is pending, or the server failed them or left them out of its "
                "answer): what this device holds of them is as of its last complete "
                "sync; the rest is up to date. Run 'daybook sync' again later; if it "
                "stays so, tell the clinic.\n",
                st->failed_streams);
    if (st->cut_short)
        fprintf(stderr, "daybook: the server still had entries to send when this sync stopped "
                        "after its rounds: this device is not up to date. Run 'daybook sync' "
                        "again to fetch the rest; if it never ends, tell the clinic.\n");
    if (st->acts.pending > 0)
        fprintf(stderr, "daybook: %zu change(s) of who may read your entries are not on the "
                        "server yet (%s); they are sent again at every sync ('daybook access' "
                        "shows them). New entries already use the new key.\n",
                st->acts.pending,
                st->acts.conflicts > 0 ? "another of your devices changed the key at the same "
                                         "time"
                                       : dbk_err_message(st->acts.error));
    return st->failed_streams > 0 || st->acts.pending > 0 || st->trust.withheld > 0 ||
                   st->trust.head_rollbacks > 0 || st->forged_revisions > 0 || st->cut_short
               ? DBK_EXIT_FAIL
               : DBK_EXIT_OK;
}

/* The account's role signed into its private stream by a device that knows it of its
 * own (book/role.h; proto/TRUST.md T13), so the push carries it to a device added
 * later. A failure is said; the sync goes on (the next one writes it). Whether the
 * account's records name another role than this device's (said loudly: the sync exits
 * 1). */
static bool
sign_role(dbk_session *s)
{
    bool written, by_records;
    int rc, named;
    /* Settled (every sync once a role record is held): no write transaction to learn it. */
    if (dbk_role_settled(s) || dbk_local_begin(s->L) != DBK_OK)
        return false;
    if ((rc = dbk_role_keep(s, &written, &named, &by_records)) == DBK_OK &&
        dbk_local_commit(s->L) == DBK_OK)
        return false;
    dbk_local_rollback(s->L);
    if (rc == DBK_E_CONFLICT && by_records) {
        dbk_out_role_unsupported(s->role, named);
        return true;
    }
    if (rc == DBK_E_CONFLICT && named != DBK_ROLE_NONE) {
        fprintf(stderr,
                "daybook: WARNING: this device works as a %s's, but your account's own "
                "signed record says %s. This device's role was the server's word: do not "
                "use this profile; move it away and 'daybook login' again. Tell the "
                "clinic.\n",
                dbk_role_name(s->role), dbk_role_name(named));
        return true;
    }
    if (rc == DBK_E_CONFLICT) {
        fprintf(stderr, "daybook: WARNING: your account's own signed records of its role "
                        "disagree: a device of your account took a false role from the server "
                        "before it could check it, and new devices of the account are refused "
                        "at login. Tell the clinic.\n");
        return true;
    }
    fprintf(stderr, "daybook: your account's role could not be signed for your other devices "
                    "this time; the next sync tries again\n");
    return false;
}

/* A device whose role is the server's word (daybook login found no signed record):
 * the account's own record, once pulled, clears the mark or, naming the other role,
 * is said loudly; with none, records the account signed that imply the other role
 * (book/role.h) are said loudly too. Whether it is wrong. */
static bool
check_unsigned_role(dbk_session *s)
{
    int signed_role, implied;
    if (dbk_local_get_int(s->L, "role_unsigned", 0) == 0)
        return false;
    if (dbk_role_signed(s, &signed_role, &implied) == DBK_E_NOT_FOUND) {
        if (implied != DBK_ROLE_NONE && implied != s->role) {
            dbk_out_role_unsupported(s->role, implied);
            return true;
        }
        /* Still none: said at each sync, not only at the login, while it lasts. */
        fprintf(stderr,
                "daybook: your account's signed record of its role has still not reached "
                "this device: it works as a %s's on the server's word alone, unchecked. "
                "Sync your other device, then this one.\n",
                dbk_role_name(s->role));
        return false;
    }
    if (signed_role == s->role && signed_role != DBK_ROLE_NONE) {
        (void)dbk_local_del(s->L, "role_unsigned"); /* checked; kept again if this fails */
        return false;
    }
    fprintf(stderr,
            "daybook: WARNING: this device was signed in as a %s on the server's word, "
            "but your account's own signed record says otherwise. The server was wrong "
            "or tampered with: do not use this device's profile; move it away and "
            "'daybook login' again. Tell the clinic.\n",
            dbk_role_name(s->role));
    return true;
}

/* Why a profile with no server cannot sync, and what finishes its enrollment. */
static void
say_not_enrolled(dbk_session *s)
{
    char sent[DBK_URL_MAX];
    /* An enrollment sent whose answer never came (cmd_enroll.c): only the code finishes
     * it, since the consent it offers is the code's counselor's. */
    if (dbk_local_get_text(s->L, "enroll_sent_server", sent, sizeof sent) == DBK_OK)
        fprintf(stderr,
                "daybook: your enrollment with %s was sent but its answer never came; run "
                "'daybook enroll CODE' again with the same code to finish it (if it then "
                "says the code was used or has expired, ask your counselor for a new one). "
                "Your entries are safe on this device\n",
                sent);
    else
        fprintf(stderr, "daybook: not enrolled with a server yet (daybook enroll CODE); "
                        "your entries are safe on this device\n");
}

/* The sync's hook (sync.h): each revision pulled queued to be checked ahead. */
static void
open_ahead(void *arg, const dbk_local_record *r)
{
    dbk_eu_opener_add(arg, r);
}

static int
run_sync(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    dbk_sync_stats st;
    json_t *ended = NULL, *loop = NULL;
    bool role_wrong = false;
    int rc;

    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: daybook sync\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if (s.server[0] == '\0') {
        say_not_enrolled(&s);
        dbk_session_close(&s);
        return DBK_EXIT_FAIL;
    }
    /* Cravings spooled since the last command that read entries go out with this push. */
    if ((rc = dbk_cmd_fold_spool(&s)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("the cravings logged since the last sync could not be added "
                            "to the profile",
                            rc);
    }
    restamp_ahead(ctx, &s);
    role_wrong = sign_role(&s);
    /* A counselor's summaries open every revision pulled (report/summary.h): their
     * signatures are checked on the other core while the rounds wait on the server and
     * store what came, not after them; the summaries take a check only for exactly the
     * stored bytes and key (book/entries.h dbk_eu_opener). */
    dbk_eu_opener *ahead =
        s.role == DBK_ROLE_COUNSELOR && dbk_report_summary_on() ? dbk_eu_opener_start(&s) : NULL;
    dbk_sync_hook hook = {open_ahead, ahead};
    rc = dbk_sync_with(&s, &st, ahead != NULL ? &hook : NULL);
    if (rc == DBK_OK && check_unsigned_role(&s))
        role_wrong = true;
    /* A device told just now that its role is false (the account's own records say
     * another) signs nothing more in it: a counselor's alias learned here would be
     * signed with a client's key, and the account's records would then say both. The
     * marks above are no such check once a role record was held (sign_role settled):
     * the records that contradict it may have arrived since, so they are read. */
    if (rc == DBK_OK && !role_wrong && s.role == DBK_ROLE_COUNSELOR && dbk_role_contradicted(&s))
        role_wrong = true;
    if (rc == DBK_OK && !role_wrong && s.role == DBK_ROLE_COUNSELOR) {
        size_t learned;
        (void)dbk_co_learn_names(&s, &learned); /* names are a help, not the sync's result */
        /* The caseload's summaries take what was just pulled (report/summary.h); one that
         * fails is rebuilt by the next clients or review, so the sync stands. */
        if (dbk_report_summary_on())
            (void)dbk_report_summary_refresh_pre(&s, ahead);
    }
    dbk_eu_opener_free(ahead);
    if (rc == DBK_OK && s.role == DBK_ROLE_CLIENT)
        check_help_lines(&s);
    if (rc == DBK_OK && ctx->json) {
        ended = json_array();
        loop = json_object();
        report_ended(&s, &st, ended);
        report_loop(&s, loop);
    } else if (rc == DBK_OK) {
        printf("Synced: %zu sent, %zu received, %lld waiting.\n", st.pushed, st.pulled,
               (long long)st.pending);
        report_ended(&s, &st, NULL);
        report_loop(&s, NULL);
    }
    dbk_session_close(&s);
    if (rc != DBK_OK)
        return sync_failed(rc, &st);
    if (ctx->json) {
        print_sync_json(&st, ended, loop);
        json_decref(loop);
    }
    int ret = warn_partial(&st);
    return role_wrong ? DBK_EXIT_FAIL : ret;
}

static int
run_status(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    int64_t pending, last;
    char when[32] = "never";
    int rc;

    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: daybook status\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    pending = dbk_sync_pending(&s);
    if (pending >= 0) /* and the cravings spooled since entries were last read */
        pending += (int64_t)dbk_spool_count(&s);
    last = dbk_local_get_int(s.L, "last_sync", 0);
    if (last > 0) {
        time_t t = (time_t)last;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    }
    /* The role, and whether it rests on the server's word alone (proto/TRUST.md T13). */
    const char *role = dbk_role_name(s.role);
    bool unchecked = dbk_local_get_int(s.L, "role_unsigned", 0) != 0;
    if (ctx->json)
        printf("{\"server\":\"%s\",\"pending\":%lld,\"last_sync\":%lld,\"enrolled\":%s,"
               "\"role\":%s%s%s,\"role_checked\":%s}\n",
               s.server, (long long)pending, (long long)last, s.server[0] ? "true" : "false",
               role ? "\"" : "", role ? role : "null", role ? "\"" : "",
               unchecked ? "false" : "true");
    else
        printf("server:     %s\nwaiting:    %lld entries\nlast sync:  %s\n",
               s.server[0] ? s.server : "(not enrolled)", (long long)pending, when);
    if (!ctx->json && role != NULL)
        printf("role:       %s%s\n", role,
               unchecked ? " (the server's word: your account's signed record of it has not "
                           "reached this device yet)"
                         : "");
    if (!ctx->json && s.server[0]) {
        /* The link a second device needs: not a secret (the passphrase is). */
        char t[DBK_ID_TEXT_LEN + 1], link[2048];
        dbk_id_to_text(&s.account, t);
        if (dbk_link_login_format(link, sizeof link, s.server, t) == DBK_OK)
            printf("other device: daybook login '%s'\n", link);
    }
    dbk_session_close(&s);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_sync = {
    .name = "sync",
    .usage = "daybook sync",
    .summary = "send your new entries and receive what changed (end-to-end encrypted)",
    .run = run_sync,
};

const dbk_cmd dbk_cmd_status = {
    .name = "status",
    .usage = "daybook status",
    .summary = "what waits to sync, when you last synced, and with which server",
    .run = run_status,
};
