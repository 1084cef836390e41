/*
 * daybook clients (counselors): the caseload in one line per client, from
 * GET /v1/caseload joined with what this device holds after 'daybook sync':
 * the alias (or the first 8 characters of the account id), the last sync (the
 * caseload's last_sync_at when the server gives it, else the newest entry),
 * days with entries since the last session, a RISK column (risk language in
 * the review's Read first box, report/read_first.c) and flags in order of
 * urgency: USE REPORTED (a craving with outcome "used" since the last session,
 * or one not yet discussed), HIGH CRAVING (7/10 or more since then), NO ENTRIES
 * N DAYS (none for 3 days or more), ACCESS REVOKED / EXPIRED. Rows are sorted by
 * risk, then use, then high craving, then silence, then the rest, ties by
 * recency. Coloured by recency as mindLAMP does: within 2 days green, within a
 * week yellow, within a month orange, older red.
 *
 * It pulls first (a short timeout; --offline skips it) and its header says how
 * fresh the data is: "data as of" the last successful sync, loud when offline
 * or older than DBK_REVIEW_STALE_HOURS. Each row has its own (report/review.h
 * dbk_review_freshness_of): a client one of whose streams the last sync did not
 * bring up to date is flagged STALE AS OF the last sync that did, and the header
 * counts them, while the others are current.
 *
 * Before every other flag, SERVER WITHHOLDING ENTRIES: the client's signed stream
 * head counts entries this device never received (caseload.c, the review's check),
 * said on stderr too in the review's words. As with the review, that is a warning,
 * not a failure: the command exits 0 when it shows the caseload ('daybook sync'
 * exits 1 for it).
 *
 * daybook clients alias ID NAME: a name of the counselor's own for a client,
 * sealed on this device and carried to the counselor's other devices by an alias
 * record in its private stream (counselor.h); the server never reads it.
 */
#include "cmd.h"
#include "caseload.h"
#include "summary.h"
#include "counselor.h"
#include "review.h"
#include "daycount.h"
#include "output.h"
#include "resolve.h"
#include "sharing.h"
#include "sync.h"

#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ALIAS_MAX 40
#define DAY_MS 86400000LL
#define FLAGS_COL 51 /* RISK, CLIENT, LAST SYNC, DAYS LOGGED */
#define STR_(x) #x
#define STR(x) STR_(x)

/* One line of the string, one line of the help. */
/* clang-format off */
static const char help[] =
    "One line per client: RISK (risk language in the review's Read first), the\n"
    "client's alias, the last sync, days with an entry since the last session, then\n"
    "flags, the most urgent first:\n"
    "  " DBK_REPORT_CASELOAD_WITHHELD "  the client's device signed for entries that\n"
    "      never reached this device: the server is withholding them and the row is\n"
    "      missing them ('daybook review' and 'daybook sync' warn too; tell the\n"
    "      clinic unless its server was just restored from a backup)\n"
    "  " DBK_REPORT_CASELOAD_UNLISTED "  a client whose entries this device holds but\n"
    "      whom the server no longer lists (said on stderr too): the row shows what\n"
    "      this device holds; ask the clinic why\n"
    "  N ENTRIES " DBK_REPORT_CASELOAD_UNOPENED "  entries of the client's held here that did\n"
    "      not open or were signed by someone who may not write them: the row is\n"
    "      missing them ('daybook review' says so too; tell the clinic)\n"
    "  USE REPORTED, HIGH CRAVING, NO ENTRIES N DAYS, ACCESS REVOKED / EXPIRED,\n"
    "  NOT SHARING\n"
    "  NO ENTRIES YET, " DBK_REPORT_CASELOAD_NONE_SEEN "  nothing of the client's\n"
    "      seen here and no count they signed: an empty journal and one the server\n"
    "      withholds whole look the same (said on stderr too)\n"
    "  " DBK_REPORT_CASELOAD_STALE " TIME  the last sync did not bring this client's\n"
    "      entries up to date: the row shows them as of TIME\n"
    "It pulls first (--offline skips that); the first line says how fresh the data\n"
    "is, with !! when the server was not reached, the last sync is older than\n"
    "" STR(DBK_REVIEW_STALE_HOURS) " hours, or it left some clients stale (how many; a client whose access\n"
    "ended is flagged on its row alone).\n"
    "\n"
    "Exit status, as 'daybook review': 0 when the caseload is shown, flags and\n"
    "warnings included (entries withheld are a flag and a warning on stderr);\n"
    "1 when it cannot be shown; 2 usage error.\n"
    "--json: {\"clients\": [...], \"offline\", \"data\"}; each client has its own\n"
    "\"data\" (as_of, pulled, stale: the client's streams and yours), \"flags\",\n"
    "\"unopened\": {\"records\", \"foreign_author\"} (as the review's) and\n"
    "\"withheld\": {\"records\", \"cannot_tell\", \"rolled_back\", \"none_seen\"} (null: no\n"
    "stream of the client here; records null: the check could not run, flagged\n"
    "WITHHELD? NOT CHECKED; none_seen: no entry and no signed count of the client's\n"
    "seen yet, flagged " DBK_REPORT_CASELOAD_NONE_SEEN ").\n";
/* clang-format on */

static int
run_alias(dbk_session *s, int argc, char **argv)
{
    json_t *aliases = NULL, *caseload = NULL;
    dbk_id id;
    char t[DBK_ID_TEXT_LEN + 1];
    int rc, ret;

    if (argc != 4) {
        fprintf(stderr, "usage: daybook clients alias ID NAME   (NAME \"\" removes it)\n");
        return DBK_EXIT_USAGE;
    }
    size_t n = strlen(argv[3]);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)argv[3][i] < 0x20 || argv[3][i] == 0x7f)
            n = ALIAS_MAX + 1;
    if (n > ALIAS_MAX) {
        fprintf(stderr, "daybook: an alias is up to %d characters, without control "
                        "characters\n", ALIAS_MAX);
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_co_aliases(s, &aliases)) != DBK_OK)
        return dbk_cmd_fail("cannot read your aliases", rc);
    (void)dbk_sync_caseload(s, &caseload); /* offline: the clients this device knows */
    json_t *others = json_deep_copy(aliases);
    ret = dbk_resolve_client(s, others, caseload, argv[2], &id);
    json_decref(others);
    json_decref(caseload);
    if (ret != DBK_EXIT_OK) {
        json_decref(aliases);
        return ret;
    }
    dbk_id_to_text(&id, t);
    if (n == 0) {
        json_object_del(aliases, t);
    } else {
        /* One name, one client. */
        const char *k;
        json_t *v;
        json_object_foreach(aliases, k, v)
            if (strcmp(k, t) != 0 && strcmp(json_string_value(v), argv[3]) == 0) {
                fprintf(stderr, "daybook: '%s' already names client %.8s\n", argv[3], k);
                json_decref(aliases);
                return DBK_EXIT_FAIL;
            }
        json_object_set_new(aliases, t, json_string(argv[3]));
    }
    rc = dbk_co_aliases_save(s, aliases);
    json_decref(aliases);
    if (rc != DBK_OK)
        return dbk_cmd_fail("the alias was not saved", rc);
    if (n == 0)
        printf("Client %.8s has no alias now.\n", t);
    else
        printf("Client %.8s is '%s' on your devices (encrypted; the server cannot read it).\n",
               t, argv[3]);
    return DBK_EXIT_OK;
}

/* A client whose shared stream this device holds, added to ids (account -> caseload
 * row) when not there: offline an empty row, online one marked not listed by the
 * server (caseload.h DBK_REPORT_CASELOAD_UNLISTED). */
struct local_ids {
    json_t *ids;
    bool online;
};

static void
add_local(const dbk_local_stream *st, void *arg)
{
    struct local_ids *a = arg;
    char t[DBK_ID_TEXT_LEN + 1];
    if (st->kind != DBK_LOCAL_SHARED)
        return;
    dbk_id_to_text(&st->owner, t);
    if (json_object_get(a->ids, t) == NULL)
        json_object_set_new(a->ids, t,
                            a->online ? json_pack("{s:b}", DBK_REPORT_CASELOAD_NOT_LISTED, 1)
                                      : json_object());
}

static const char *
recency_color(int64_t last_ms, int64_t now_ms)
{
    int64_t age = now_ms - last_ms;
    if (last_ms <= 0)
        return "\033[31m";
    if (age <= 2 * DAY_MS)
        return "\033[32m";
    if (age <= 7 * DAY_MS)
        return "\033[33m";
    if (age <= 30 * DAY_MS)
        return "\033[38;5;208m";
    return "\033[31m";
}

/* The flags after the 51 columns before them, wrapped at ", " to 80 columns. */
static void
put_flags(const char *flags)
{
    const size_t room = 80 - FLAGS_COL;
    const char *p = flags;
    bool first = true;
    while (*p) {
        size_t n = strlen(p);
        if (n > room) {
            n = room;
            while (n > 0 && strncmp(p + n, ", ", 2) != 0)
                n--;
            if (n == 0)
                n = room;
        }
        printf("%*s%.*s\n", first ? 0 : (int)FLAGS_COL, "", (int)n, p);
        first = false;
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    if (first)
        printf("\n");
}

/* Every client: the caseload's, and those whose streams this device holds (not the
 * counselor's own), which the server's caseload, when it answered, did not list: a
 * client shown once is never dropped because the server stopped listing them. A new
 * object of account -> caseload row. */
static json_t *
caseload_ids(dbk_session *s, const json_t *caseload, bool offline)
{
    json_t *ids = json_object(), *v;
    struct local_ids loc = {ids, !offline};
    char me[DBK_ID_TEXT_LEN + 1];
    size_t i;

    json_array_foreach(caseload, i, v) {
        const char *a = json_string_value(json_object_get(v, "account"));
        if (a != NULL)
            json_object_set(ids, a, v);
    }
    dbk_local_streams(s->L, add_local, &loc);
    json_object_del(ids, "");
    dbk_id_to_text(&s->account, me);
    json_object_del(ids, me);
    return ids;
}

/* One row of the table: RISK, the label in 16 columns (cut on a character
 * boundary, coloured by recency), the last sync, days logged, the flags. */
static void
print_row(const json_t *v, bool color, int64_t now_ms)
{
    int64_t ms = json_integer_value(json_object_get(v, "last_sync_ms"));
    char days[16], flags[160] = "";
    size_t f, b = 0, c = 0;
    json_t *x;
    const char *lab = json_string_value(json_object_get(v, "label"));

    snprintf(days, sizeof days, "%lld/%lld",
             (long long)json_integer_value(json_object_get(v, "days_logged")),
             (long long)json_integer_value(json_object_get(v, "days")));
    json_array_foreach(json_object_get(v, "flags"), f, x) {
        if (f > 0)
            strncat(flags, ", ", sizeof flags - strlen(flags) - 1);
        strncat(flags, json_string_value(x), sizeof flags - strlen(flags) - 1);
    }
    while (lab[b] && c < 16) {
        b++;
        while (((unsigned char)lab[b] & 0xC0) == 0x80)
            b++;
        c++;
    }
    printf("%-4s ", json_integer_value(json_object_get(v, "risk")) > 0 ? "RISK" : "");
    printf("%s%.*s%*s %-16s%s %-11s %s", color ? recency_color(ms, now_ms) : "", (int)b, lab,
           (int)(16 - c), "", json_string_value(json_object_get(v, "last_sync")),
           color ? "\033[0m" : "", days, "");
    put_flags(flags);
}

/* How fresh the caseload is: the device's line (cli/output.h), unless the server
 * answered and the rows' own data (dbk_report_caseload_row_data) tell more: every row
 * current (another's stream failed), or some rows stale and the others current. */
static void
print_freshness(const dbk_ctx *ctx, const json_t *out, const json_t *fresh, bool offline)
{
    size_t i, n = json_array_size(out), stale = 0;
    json_t *v;
    json_array_foreach(out, i, v)
    {
        stale += json_is_true(json_object_get(json_object_get(v, "data"), "stale"));
    }
    if (offline || n == 0 || !json_is_true(json_object_get(fresh, "stale")) || stale == n) {
        dbk_out_freshness(stdout, fresh, ctx->color);
    } else if (stale == 0) {
        dbk_out_freshness(stdout, json_object_get(json_array_get(out, 0), "data"), ctx->color);
    } else {
        printf("%s!! %zu of %zu clients STALE: what they sent since their "
               "rows' " DBK_REPORT_CASELOAD_STALE " is not%s\n"
               "   shown. The others were pulled now; 'daybook sync' names what failed.\n",
               ctx->color ? "\033[1;31m" : "", stale, n, ctx->color ? "\033[0m" : "");
    }
}

/* The caseload as a table, with how fresh it is. */
static void
print_caseload(const dbk_ctx *ctx, const json_t *out, const json_t *fresh, bool offline,
               int64_t now_ms)
{
    size_t i;
    json_t *v;

    if (offline)
        fprintf(stderr, "daybook: the server cannot be reached; showing what this device "
                        "holds from the last sync\n");
    print_freshness(ctx, out, fresh, offline);
    if (json_array_size(out) == 0)
        printf("No clients yet: 'daybook invite' makes an enrollment code.\n");
    else
        printf("%-4s %-16s %-16s %-11s %s\n", "RISK", "CLIENT", "LAST SYNC", "DAYS LOGGED",
               "FLAGS");
    json_array_foreach(out, i, v)
        print_row(v, ctx->color, now_ms);
    if (json_array_size(out) > 0)
        printf("\nDAYS LOGGED: days with an entry since the last session (or the last %d "
               "days).\n'daybook review CLIENT' before the session; 'daybook session done "
               "CLIENT' after.\n",
               DBK_REVIEW_DEFAULT_DAYS);
}

/* The review's words on stderr (cli/output.h) for each client whose signed stream head
 * says the server withholds entries, or whose head this device cannot check. */
static void
warn_withheld(const json_t *out)
{
    size_t i, j;
    json_t *v, *f;
    json_array_foreach(out, i, v) {
        const json_t *w = json_object_get(v, "withheld");
        bool warn = false;
        if (!json_is_object(w))
            continue;
        if (json_is_null(json_object_get(w, "records"))) {
            dbk_out_withheld_unchecked(json_string_value(json_object_get(v, "label")),
                                       "this device's store failed",
                                       "the caseload's row may be missing some");
            continue;
        }
        json_array_foreach(json_object_get(v, "flags"), j, f)
            warn = warn || strcmp(json_string_value(f), DBK_REPORT_CASELOAD_WITHHELD) == 0;
        dbk_out_withheld(json_string_value(json_object_get(v, "label")), warn,
                         (size_t)json_integer_value(json_object_get(w, "records")),
                         json_is_true(json_object_get(w, "cannot_tell")),
                         json_is_true(json_object_get(w, "none_seen")),
                         "the caseload's row is missing them");
    }
}

/* On stderr, each client this device holds whom the server's caseload left out. */
static void
warn_unlisted(const json_t *out)
{
    size_t i, j;
    json_t *v, *f;
    json_array_foreach(out, i, v) {
        bool unlisted = false;
        json_array_foreach(json_object_get(v, "flags"), j, f)
            unlisted = unlisted || strcmp(json_string_value(f), DBK_REPORT_CASELOAD_UNLISTED) == 0;
        if (unlisted)
            fprintf(stderr,
                    "daybook: warning: the server no longer lists %s among your clients; the "
                    "row shows what this device holds from earlier syncs. Ask the clinic why (a "
                    "server restored from a backup, or changed)\n",
                    json_string_value(json_object_get(v, "label")));
    }
}

/* Clients this device stopped reading whom the server lists as sharing now
 * (report/review.h dbk_review_readings_ended): looked at again, *fresh pulled again when
 * an end is undone; those still ended said on stderr, *fresh then not current. */
static void
readings_ended(dbk_session *s, const json_t *caseload, const json_t *aliases, json_t **fresh)
{
    size_t again;
    size_t refused;
    json_t *ended = dbk_review_readings_ended(s, caseload, NULL, fresh, &again, &refused), *v;
    const char *k;
    dbk_out_warn_forged(again);
    dbk_out_warn_refused_grants(refused);
    json_object_foreach(ended, k, v)
    {
        dbk_id id;
        char label[64], when[32];
        if (dbk_id_from_text(&id, k, strlen(k)) != DBK_OK)
            continue;
        dbk_co_label(aliases, &id, label, sizeof label);
        dbk_co_ms_text(json_integer_value(v), when);
        dbk_out_warn_reading_ended(label, when);
    }
    json_decref(ended);
}

/* Each row's "data": how fresh its client's data is, not the device's (report/review.h
 * dbk_review_freshness_of); the device's when the store cannot say per stream. */
static void
rows_data(dbk_session *s, json_t *out, const json_t *fresh)
{
    json_t *stale = NULL, *v;
    int64_t at = 0;
    size_t i;
    bool each = dbk_sync_stale_owners(s, &stale, &at) == DBK_OK;
    json_array_foreach(out, i, v)
    {
        const char *k = json_string_value(json_object_get(v, "account"));
        dbk_id id;
        if (each && k != NULL && dbk_id_from_text(&id, k, strlen(k)) == DBK_OK)
            dbk_report_caseload_row_data(
                v, dbk_review_freshness_of(fresh, stale, at, &id, &s->account));
        else
            dbk_report_caseload_row_data(v, json_deep_copy(fresh));
    }
    json_decref(stale);
}

/* The caseload (pulled first unless no_pull), its rows computed and printed. */
static int
show_caseload(dbk_ctx *ctx, dbk_session *s, json_t *aliases, bool no_pull)
{
    dbk_eu_list l;
    dbk_sum *sums = NULL;
    size_t nsums = 0;
    json_t *caseload = NULL, *ids, *out, *v, *fresh;
    const char *k;
    bool offline = false, failed = false;
    int64_t now_ms = (int64_t)time(NULL) * 1000;
    int rc, ret = DBK_EXIT_OK;

    fresh = dbk_review_freshen(s, no_pull);
    dbk_out_warn_pulled(fresh);
    s->net_timeout_s = DBK_REVIEW_PULL_TIMEOUT_S;
    rc = no_pull ? DBK_E_UNAVAILABLE : dbk_sync_caseload(s, &caseload);
    if (rc == DBK_E_UNAVAILABLE) {
        offline = true;
    } else if (rc != DBK_OK) {
        json_decref(fresh);
        return dbk_cmd_fail("cannot fetch your caseload", rc);
    } else {
        readings_ended(s, caseload, aliases, &fresh);
    }
    /* With summaries (report/summary.h): this account's own entries (session markers,
     * discussed marks) and each client's summary, never the clients' whole histories. */
    bool sum = dbk_report_summary_on();
    rc = sum ? dbk_eu_load_owned(s, &s->account, &l) : dbk_eu_load(s, &l);
    if (rc == DBK_OK && sum)
        rc = dbk_report_summary_of(s, NULL, &sums, &nsums);
    if (rc != DBK_OK) {
        json_decref(fresh);
        json_decref(caseload);
        dbk_eu_free(&l);
        return dbk_cmd_fail("cannot read the entries on this device", rc);
    }
    for (size_t i = 0; i < nsums; i++)
        l.bad += sums[i].nbad; /* the clients' entries that did not open, said as before */
    dbk_out_warn_unopened(&l);

    ids = caseload_ids(s, caseload, offline);
    out = json_array();
    json_object_foreach(ids, k, v) {
        json_t *o = sum ? dbk_report_caseload_row_sum(s, &l, sums, nsums, aliases, k, v, now_ms,
                                                      &failed)
                        : dbk_report_caseload_row(s, &l, aliases, k, v, now_ms, &failed);
        if (failed) {
            ret = dbk_cmd_fail("cannot compute the caseload", DBK_E_NOMEM);
            break;
        }
        if (o != NULL)
            json_array_append_new(out, o);
    }
    rows_data(s, out, fresh);
    dbk_report_caseload_sort(out);
    if (ret == DBK_EXIT_OK) {
        warn_withheld(out);
        warn_unlisted(out);
    }

    if (ret == DBK_EXIT_OK && ctx->json) {
        json_t *doc = json_pack("{s:O, s:b, s:O}", "clients", out, "offline", offline,
                                "data", fresh);
        dbk_out_json(stdout, doc);
        json_decref(doc);
    } else if (ret == DBK_EXIT_OK) {
        print_caseload(ctx, out, fresh, offline, now_ms);
    }
    json_decref(out);
    json_decref(fresh);
    json_decref(ids);
    json_decref(caseload);
    dbk_eu_free(&l);
    dbk_report_summary_free(sums, nsums);
    return ret;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    json_t *aliases = NULL;
    bool no_pull = false;
    int rc, ret;

    if (argc == 2 && strcmp(argv[1], "--offline") == 0) {
        no_pull = true;
        argc = 1;
    }
    if (argc >= 2 && strcmp(argv[1], "alias") != 0) {
        fprintf(stderr, "usage: daybook clients [--offline] | daybook clients alias ID NAME\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if ((ret = dbk_require_counselor(&s, "daybook clients")) != DBK_EXIT_OK) {
        dbk_session_close(&s);
        return ret;
    }
    if (argc >= 2) {
        ret = run_alias(&s, argc, argv);
        dbk_session_close(&s);
        return ret;
    }
    if ((rc = dbk_co_aliases(&s, &aliases)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot read your aliases", rc);
    }
    ret = show_caseload(ctx, &s, aliases, no_pull);
    json_decref(aliases);
    dbk_session_close(&s);
    return ret;
}

const dbk_cmd dbk_cmd_clients = {
    .name = "clients",
    .usage = "daybook clients [--offline] | daybook clients alias ID NAME",
    .summary = "counselors: your caseload with last sync, days logged and flags",
    .help = help,
    .run = run,
};
