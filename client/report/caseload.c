/*
 * The caseload's rows (daybook clients), computed: one JSON object per client from
 * the server's caseload row and the client's review since the last session. The
 * command (cmd_clients.c) fetches, prints and colours; this file decides what a row
 * says: its figures, its flags in order of urgency (USE REPORTED, HIGH CRAVING, NO
 * ENTRIES N DAYS, ACCESS REVOKED / EXPIRED, NOT SHARING), and the rows' order: risk,
 * then use, then high craving, then silence, then the rest, ties by recency.
 *
 * Before them all, SERVER WITHHOLDING ENTRIES when the client's signed stream head
 * counts records this device never received, or a head older than one it saw: the
 * review's own check (book/counselor.h dbk_co_withheld, proto/TRUST.md T12), so that
 * a row that looks calm because a lapse never arrived says so. Only what the client
 * signed and this device checked counts: the server's caseload listing (last sync,
 * grant state) proves nothing of the kind. The flag leaves the order as it was: the
 * row sorts by the flags it has besides.
 *
 * After it, NOT IN SERVER'S CASELOAD for a client whose shared stream this device holds
 * but whom the server's caseload, answered, left out: the row shows what this device
 * holds, so that a client shown once (a risk flagged) never drops out unsaid. Then
 * N ENTRIES NOT OPENED for the client's entries held here that did not open or were
 * signed by someone who may not write them: the row's figures are missing them, as the
 * review's "unopened" says of its own.
 */
#include "caseload.h"
#include "counselor.h"
#include "review.h"
#include "daycount.h"

#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

struct row {
    dbk_id id;
    char label[64];
    const char *state;
    int64_t last_ms; /* 0: never */
    bool from_server;
    int days_logged, days;
    int used;
    double peak;
    bool have_peak;
    int quiet_days; /* -1: no entries at all */
    int risk;       /* risk-language items in Read first */
    dbk_trust_report held; /* the stream head's check (dbk_co_withheld) */
    bool held_checked;     /* false: no shared stream of the client here, or: */
    bool held_failed;      /* the check could not run (the store failed) */
    bool unlisted;         /* held here, not in the server's caseload it answered */
    bool ended;            /* state revoked or expired */
    bool end_signed;       /* ... and the client's signature says so (TRUST.md T8) */
    int64_t ends_ms;       /* when, as signed */
    size_t unopened, foreign; /* entries left out: did not open; signed by another */
    json_t *flags;
};

static const char *
recency_name(int64_t last_ms, int64_t now_ms)
{
    int64_t age = now_ms - last_ms;
    if (last_ms <= 0)
        return "never";
    return age <= 2 * DAY_MS ? "2days" : age <= 7 * DAY_MS ? "week" : age <= 30 * DAY_MS ? "month"
                                                                                        : "older";
}

/* The caseload's order: risk, use, high craving, silence, the rest; then recency. */
static int
urgency(const json_t *o)
{
    const json_t *x;
    size_t i;
    int u = 4;
    if (json_integer_value(json_object_get(o, "risk")) > 0)
        return 0;
    json_array_foreach(json_object_get(o, "flags"), i, x) {
        const char *f = json_string_value(x);
        int fu = strcmp(f, "USE REPORTED") == 0        ? 1
                 : strcmp(f, "HIGH CRAVING") == 0      ? 2
                 : strncmp(f, "NO ENTRIES", 10) == 0 ? 3
                                                     : 4;
        u = fu < u ? fu : u;
    }
    return u;
}

static int
by_urgency(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int d = urgency(x) - urgency(y);
    if (d != 0)
        return d;
    json_int_t mx = json_integer_value(json_object_get(x, "last_sync_ms")),
               my = json_integer_value(json_object_get(y, "last_sync_ms"));
    return my > mx ? 1 : my < mx ? -1 : 0;
}

void
dbk_report_caseload_row_data(json_t *row, json_t *data)
{
    if (json_is_true(json_object_get(data, "stale")) &&
        !json_is_true(json_object_get(data, "offline"))) {
        const char *at = json_string_value(json_object_get(data, "as_of"));
        char f[48];
        snprintf(f, sizeof f, DBK_REPORT_CASELOAD_STALE " %s", at ? at : "never");
        json_array_append_new(json_object_get(row, "flags"), json_string(f));
    }
    json_object_set_new(row, "data", data);
}

void
dbk_report_caseload_sort(json_t *out)
{
    size_t n = json_array_size(out);
    json_t **v = malloc((n + 1) * sizeof *v);
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(out, i));
    qsort(v, n, sizeof *v, by_urgency);
    json_array_clear(out);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, v[i]);
    free(v);
}

/* The row's figures, from the client's review. */
static void
row_figures(struct row *r, const json_t *rev)
{
    json_t *eng = json_object_get(rev, "engagement"), *cr = json_object_get(rev, "cravings");
    json_t *since = json_object_get(eng, "days_since_last_entry");
    json_t *rf = json_object_get(rev, "read_first"), *it;
    size_t j;

    r->days_logged = (int)json_integer_value(json_object_get(eng, "days_with_entries"));
    r->days = (int)json_integer_value(json_object_get(eng, "days"));
    r->used = (int)json_integer_value(json_object_get(json_object_get(rev, "lapses"), "count"));
    r->have_peak = json_is_number(json_object_get(cr, "peak"));
    r->peak = json_number_value(json_object_get(cr, "peak"));
    r->quiet_days = json_is_integer(since) ? (int)json_integer_value(since) : -1;
    if (!r->from_server && json_is_integer(json_object_get(eng, "last_entry_ms")))
        r->last_ms = json_integer_value(json_object_get(eng, "last_entry_ms"));
    r->risk = (int)json_integer_value(json_object_get(rf, "risk"));
    json_array_foreach(json_object_get(rf, "items"), j, it)
        if (strcmp(json_string_value(json_object_get(it, "kind")), "use") == 0 &&
            !json_is_true(json_object_get(it, "discussed")) &&
            json_is_true(json_object_get(it, "carried_forward")))
            r->used++; /* a lapse from before the session, not yet discussed */
}

/* The row's flags, most urgent first (see the top of this file). */
static void
row_flags(struct row *r)
{
    r->flags = json_array();
    if (r->held_checked && dbk_co_withheld_warn(&r->held))
        json_array_append_new(r->flags, json_string(DBK_REPORT_CASELOAD_WITHHELD));
    else if (r->held_failed)
        json_array_append_new(r->flags, json_string(DBK_REPORT_CASELOAD_UNCHECKED));
    if (r->unlisted)
        json_array_append_new(r->flags, json_string(DBK_REPORT_CASELOAD_UNLISTED));
    if (r->unopened + r->foreign > 0) {
        char f[64];
        size_t n = r->unopened + r->foreign;
        snprintf(f, sizeof f, "%zu ENTR%s " DBK_REPORT_CASELOAD_UNOPENED, n, n == 1 ? "Y" : "IES");
        json_array_append_new(r->flags, json_string(f));
    }
    if (r->used > 0)
        json_array_append_new(r->flags, json_string("USE REPORTED"));
    if (r->have_peak && r->peak >= DBK_REVIEW_HIGH_CRAVING)
        json_array_append_new(r->flags, json_string("HIGH CRAVING"));
    if (r->quiet_days < 0) {
        json_array_append_new(r->flags, json_string("NO ENTRIES YET"));
        if (r->held_checked && r->held.heads_none > 0)
            json_array_append_new(r->flags, json_string(DBK_REPORT_CASELOAD_NONE_SEEN));
    } else if (r->quiet_days >= DBK_REVIEW_QUIET_DAYS) {
        char f[48];
        snprintf(f, sizeof f, "NO ENTRIES %d DAYS", r->quiet_days);
        json_array_append_new(r->flags, json_string(f));
    }
    if (r->state != NULL && strcmp(r->state, "revoked") == 0)
        json_array_append_new(r->flags, json_string("ACCESS REVOKED"));
    else if (r->state != NULL && strcmp(r->state, "expired") == 0)
        json_array_append_new(r->flags, json_string("ACCESS EXPIRED"));
    else if (r->state != NULL && strcmp(r->state, "none") == 0)
        json_array_append_new(r->flags, json_string("NOT SHARING"));
    if (r->ended)
        json_array_append_new(r->flags,
                              json_string(r->end_signed ? DBK_REPORT_CASELOAD_END_SIGNED
                                                        : DBK_REPORT_CASELOAD_END_SERVER));
}

/* The row's account, label, grant state, server-side last sync and the check of the
 * client's signed stream head; false for an account id that does not parse. */
static bool
row_start(dbk_session *s, struct row *r, const json_t *aliases, const char *k, const json_t *v)
{
    memset(r, 0, sizeof *r);
    if (dbk_id_from_text(&r->id, k, strlen(k)) != DBK_OK)
        return false;
    dbk_co_label(aliases, &r->id, r->label, sizeof r->label);
    r->state = json_string_value(json_object_get(v, "grant_state"));
    r->unlisted = json_is_true(json_object_get(v, DBK_REPORT_CASELOAD_NOT_LISTED));
    if (r->state != NULL)
        dbk_co_state_put(s, &r->id, r->state);
    r->ended =
        r->state != NULL && (strcmp(r->state, "revoked") == 0 || strcmp(r->state, "expired") == 0);
    r->end_signed = r->ended && dbk_co_end_signed(s, &r->id, &r->ends_ms);
    r->from_server = json_is_integer(json_object_get(v, "last_sync_at"));
    if (r->from_server)
        r->last_ms = json_integer_value(json_object_get(v, "last_sync_at"));
    int held = dbk_co_withheld(s, &r->id, &r->held);
    r->held_checked = held == DBK_OK;
    r->held_failed = held != DBK_OK && held != DBK_E_NOT_FOUND;
    return true;
}

/* The row as --json shows it (takes r->flags). */
static json_t *
row_finish(struct row *r, const char *k, const dbk_review_period *p, int64_t now_ms)
{
    char last[32] = "never";
    json_t *o;
    if (r->last_ms > 0)
        dbk_co_ms_text(r->last_ms, last);
    o = json_pack("{s:s, s:s, s:o, s:s, s:o, s:s, s:i, s:i, s:s, s:o, s:o}", "account", k,
                  "label", r->label, "grant_state", r->state ? json_string(r->state) : json_null(),
                  "last_sync", last, "last_sync_ms",
                  r->last_ms > 0 ? json_integer(r->last_ms) : json_null(), "last_sync_source",
                  r->from_server ? "server" : "entries", "days_logged", r->days_logged, "days",
                  r->days, "since", p->since, "last_session",
                  p->last_session[0] ? json_string(p->last_session) : json_null(), "flags",
                  r->flags);
    json_object_set_new(o, "recency", json_string(recency_name(r->last_ms, now_ms)));
    json_object_set_new(o, "risk", json_integer(r->risk));
    /* An end the client signed, or the server's word alone (null: not ended). */
    json_object_set_new(o, "end_signed", r->ended ? json_boolean(r->end_signed) : json_null());
    json_object_set_new(o, "end_signed_at", r->end_signed ? json_integer(r->ends_ms) : json_null());
    /* Signed or not, an end is the newest grant this device verified, not the newest
     * signed: a later share the server withholds cannot be seen (TRUST.md T8). */
    json_object_set_new(o, "later_share_cannot_tell", r->ended ? json_true() : json_null());
    json_object_set_new(o, "unopened",
                        json_pack("{s:I, s:I}", "records", (json_int_t)r->unopened,
                                  "foreign_author", (json_int_t)r->foreign));
    json_object_set_new(o, "withheld",
                        r->held_checked  ? dbk_co_withheld_json(&r->held)
                        : r->held_failed ? dbk_co_withheld_json(NULL)
                                         : json_null());
    return o;
}

/* The client's entries held here that were left out (row_finish's "unopened"), from
 * the client's shared stream opened: what the review of the client would count. */
static int
row_unopened(dbk_session *s, struct row *r)
{
    dbk_local_stream st;
    dbk_eu_list one;
    int rc = dbk_co_client_stream(s, &r->id, &st);
    if (rc == DBK_E_NOT_FOUND)
        return DBK_OK; /* nothing of the client's here */
    if (rc != DBK_OK ||
        (rc = dbk_eu_load_stream(s, &st.id, NULL, NULL, NULL, NULL, &one)) != DBK_OK)
        return rc;
    r->unopened = one.bad - one.foreign_author;
    r->foreign = one.foreign_author;
    dbk_eu_free(&one);
    return DBK_OK;
}

/* One client's row (the --json shape), from the caseload row v and the client's
 * review since the last session; NULL for an account id that does not parse, and
 * *failed when the review could not be computed. */
json_t *
dbk_report_caseload_row(dbk_session *s, const dbk_eu_list *l, const json_t *aliases, const char *k,
           json_t *v, int64_t now_ms, bool *failed)
{
    struct row r;
    dbk_review_period p;
    json_t *rev, *kept = NULL;

    if (!row_start(s, &r, aliases, k, v))
        return NULL;
    if (row_unopened(s, &r) != DBK_OK) {
        *failed = true;
        return NULL;
    }
    (void)dbk_review_period_make(l, &r.id, NULL, &p);
    p.enrolled_day = dbk_co_enrolled_day(s, v, &r.id);
    (void)dbk_review_kept_load(s, &r.id, &kept);
    rev = dbk_review_build(s, l, &r.id, r.label, &p, kept, NULL);
    json_decref(kept);
    if (rev == NULL) {
        *failed = true;
        return NULL;
    }
    row_figures(&r, rev);
    row_flags(&r);
    json_decref(rev);
    return row_finish(&r, k, &p, now_ms);
}

/* What the review's gather and Read first would count, from the client's summaries. */
struct tally {
    int64_t first_day, last_day;
    uint64_t last_clock;
    int *per_day;
    int lapses, cravings, risk, use_in, use_carried;
    unsigned peak10x;
};

static void
tally_one(struct tally *t, const dbk_sum_rec *x, const dbk_review_period *p,
          const json_t *discussed)
{
    if (!(x->flags & DBK_SUM_BY_OWNER) || !(x->flags & DBK_SUM_HAS_DAY) ||
        x->type == DBK_SUM_TOMBSTONE)
        return;
    int64_t day = dbk_review_day_in(p, x->day); /* as the review's gather counts it */
    t->first_day = day < t->first_day ? day : t->first_day;
    t->last_day = day > t->last_day ? day : t->last_day;
    t->last_clock = x->clock > t->last_clock ? x->clock : t->last_clock;
    bool before = day < p->from;
    if (!before) {
        t->per_day[day - p->from]++;
        if (x->type == DBK_SUM_CRAVING && (x->flags & DBK_SUM_INTENSITY)) {
            if (t->cravings++ == 0 || x->intensity10x > t->peak10x)
                t->peak10x = x->intensity10x;
            t->lapses += (x->flags & DBK_SUM_USED) != 0;
        }
    }
    if (x->nitems == 0)
        return;
    char id[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(&x->record, id);
    bool discussed_before = before && json_object_get(discussed, id) != NULL;
    if (discussed_before)
        return;
    t->risk += x->nrisk;
    if (before)
        t->use_carried += x->nuse;
    else
        t->use_in += x->nuse;
}

/* The row's figures from the tally, as row_figures reads them from the review. */
static void
tally_figures(struct row *r, const struct tally *t, dbk_review_period *p)
{
    int64_t enrolled = p->enrolled_day;
    if (enrolled != INT64_MIN && t->first_day < enrolled)
        enrolled = t->first_day;
    for (int64_t d = p->from; d <= p->to; d++) {
        if (enrolled != INT64_MIN && d < enrolled)
            continue;
        r->days++;
        r->days_logged += t->per_day[d - p->from] > 0;
    }
    r->used = t->lapses;
    r->have_peak = t->cravings > 0;
    r->peak = t->peak10x / 10.0;
    r->quiet_days = t->last_day != INT64_MIN ? (int)(dbk_eu_today() - t->last_day) : -1;
    if (!r->from_server && t->last_clock > 0)
        r->last_ms = (int64_t)dbk_hlc_ms(t->last_clock);
    /* Read first keeps its DBK_REVIEW_ITEMS_MAX most urgent items: risk first, then use
     * (this period's, newer, before those carried forward). */
    int room = DBK_REVIEW_ITEMS_MAX;
    r->risk = t->risk < room ? t->risk : room;
    room -= r->risk + t->use_in;
    r->used += room <= 0 ? 0 : t->use_carried < room ? t->use_carried : room;
}

json_t *
dbk_report_caseload_row_sum(dbk_session *s, const dbk_eu_list *own, const dbk_sum *sums,
                            size_t nsums, const json_t *aliases, const char *k, json_t *v,
                            int64_t now_ms, bool *failed)
{
    struct row r;
    dbk_review_period p;
    struct tally t = {.first_day = INT64_MAX, .last_day = INT64_MIN};
    json_t *discussed;

    if (!row_start(s, &r, aliases, k, v))
        return NULL;
    r.unopened = dbk_report_summary_unopened(sums, nsums, &r.id, &r.foreign);
    (void)dbk_review_period_make(own, &r.id, NULL, &p);
    p.enrolled_day = dbk_co_enrolled_day(s, v, &r.id);
    if ((t.per_day = calloc((size_t)(p.to - p.from + 1), sizeof *t.per_day)) == NULL ||
        (discussed = dbk_review_discussed(own, &r.id)) == NULL) {
        free(t.per_day);
        *failed = true;
        return NULL;
    }
    for (size_t i = 0; i < nsums; i++)
        if (dbk_id_equal(&sums[i].owner, &r.id))
            for (size_t j = 0; j < sums[i].n; j++)
                tally_one(&t, &sums[i].v[j], &p, discussed);
    json_decref(discussed);
    tally_figures(&r, &t, &p);
    free(t.per_day);
    row_flags(&r);
    return row_finish(&r, k, &p, now_ms);
}
