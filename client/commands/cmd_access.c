/*
 * daybook access (clients): who holds a key to your shared entries (the grants
 * of your shared stream: counselor, state, since when), and who read or wrote
 * your streams when (the server's access log, proto/README.md section 14), in
 * plain words. --all shows the whole log (default: the newest 30 lines).
 *
 * daybook revoke COUNSELOR: ends a counselor's access (DELETE
 * /v1/streams/{shared}/grants/{counselor}), then rotates the stream's key at once
 * (section 8): a new random key, a self-grant for epoch + 1 and a grant of the new
 * epoch to each remaining counselor, in one POST. What the counselor already read
 * stays read; what you write from now on is under a key it never received.
 *
 * daybook disclosures (clients): the list of disclosures a patient may ask for
 * (42 CFR 2.24): for each account other than this one that received records of
 * the shared stream, each time it did, how many and which, named by type from the
 * records on this device (the access log gives a seq range; a record changed since
 * has a newer seq and is counted as "changed since"). It reads the server's log,
 * which the server cannot forge past the hash chain `daybookd audit verify` checks;
 * the server itself is the intermediary and never received a readable record.
 */
#include "cmd.h"
#include "access_log.h"
#include "account.h"
#include "share.h"
#include "entries.h"
#include "unlock.h"
#include "trust.h"
#include "sync.h"
#include "output.h"
#include "prompt.h"

#include "dbk/error.h"
#include "dbk/grant.h"
#include "dbk/id.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LOG_SHOWN 30

static void
ms_text(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
}

static const char *
S(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* Prints line cut to 80 columns (code points). */
static void
put_line80(const char *line)
{
    size_t c = 0, i;
    for (i = 0; line[i]; i++)
        if (((unsigned char)line[i] & 0xC0) != 0x80 && ++c > 80)
            break;
    if (line[i] == '\0') {
        printf("%s\n", line);
        return;
    }
    for (c = 0, i = 0; line[i]; i++) /* room for "..." */
        if (((unsigned char)line[i] & 0xC0) != 0x80 && ++c > 77)
            break;
    printf("%.*s...\n", (int)i, line);
}

/* A counselor's name: the one enrollment stored, else the server's, else the id. */
static void
name_of(dbk_session *s, const char *id, char *out, size_t cap)
{
    char mine[DBK_ID_TEXT_LEN + 1] = "";
    unsigned char cid[DBK_ID_BYTES];
    size_t n;
    dbk_id account;

    if (dbk_local_get(s->L, "counselor", cid, sizeof cid, &n) == DBK_OK && n == DBK_ID_BYTES) {
        dbk_id c;
        memcpy(c.b, cid, DBK_ID_BYTES);
        dbk_id_to_text(&c, mine);
    }
    if (strcmp(mine, id) == 0 && dbk_local_get_text(s->L, "counselor_name", out, cap) == DBK_OK)
        return;
    if (dbk_id_from_text(&account, id, strlen(id)) != DBK_OK ||
        dbk_sync_account_name(s, &account, out, cap) != DBK_OK)
        snprintf(out, cap, "counselor %.8s", id);
}

static int
open_shared(dbk_session *s, dbk_local_stream *shared, char sid[DBK_ID_TEXT_LEN + 1])
{
    int rc;
    if ((rc = dbk_session_open(s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if (s->role == DBK_ROLE_COUNSELOR || s->server[0] == '\0' ||
        dbk_local_stream_of(s->L, &s->account, DBK_LOCAL_SHARED, shared) != DBK_OK) {
        fprintf(stderr, "daybook: this profile shares no entries with a counselor%s\n",
                s->server[0] == '\0' ? " (not enrolled yet)" : "");
        dbk_session_close(s);
        return DBK_EXIT_FAIL;
    }
    dbk_id_to_text(&shared->id, sid);
    return DBK_EXIT_OK;
}

/* The grants of the shared stream by grantee (self-grants left out):
 * {grantee: {state, since, revoked_at}}. */
static json_t *
by_grantee(const json_t *grants, const char *me)
{
    json_t *out = json_object(), *g;
    size_t i;
    json_array_foreach(grants, i, g) {
        const char *who = S(g, "grantee"), *state = S(g, "state");
        int64_t created = json_integer_value(json_object_get(g, "created_at"));
        json_t *x;
        if (strcmp(who, me) == 0)
            continue;
        if ((x = json_object_get(out, who)) == NULL) {
            x = json_pack("{s:s, s:I}", "state", state, "since", (json_int_t)created);
            json_object_set_new(out, who, x);
        }
        if (strcmp(state, "active") == 0)
            json_object_set_new(x, "state", json_string("active"));
        if (created < json_integer_value(json_object_get(x, "since")))
            json_object_set_new(x, "since", json_integer(created));
        if (json_is_integer(json_object_get(g, "revoked_at")))
            json_object_set(x, "revoked_at", json_object_get(g, "revoked_at"));
    }
    return out;
}

/* The changes of who may read that the server has not acknowledged yet (sync/rotate.c):
 * they are already in force on this device, and every sync sends them again. */
static void
print_waiting(dbk_session *s, const json_t *waiting, json_t *names)
{
    size_t i, revokes = 0, grants = 0;
    json_t *v;
    json_array_foreach(waiting, i, v) {
        const char *who = S(v, "account");
        char n[128];
        if (strcmp(S(v, "act"), "end") == 0)
            continue; /* the signed end goes with its revocation, said below */
        if (strcmp(S(v, "act"), "revoke") != 0) {
            grants++;
            continue;
        }
        if (revokes++ == 0)
            printf("\nWaiting for the server (pending; 'daybook sync' sends it again)\n");
        if (json_object_get(names, who) == NULL) {
            name_of(s, who, n, sizeof n);
            json_object_set_new(names, who, json_string(n));
        }
        printf("  You ended %s's access: in force on this device; the server has not "
               "confirmed it.\n", S(names, who));
    }
    if (grants > 0) {
        if (revokes == 0)
            printf("\nWaiting for the server (pending; 'daybook sync' sends it again)\n");
        printf("  A new key for your entries (key rotation, %zu grant%s) is not on the server "
               "yet.\n", grants, grants == 1 ? "" : "s");
    }
}

/* Who holds a key to the shared stream, one object per grantee (by_grantee). */
static int
fetch_holders(dbk_session *s, const dbk_id *stream, const char *me, json_t **who)
{
    json_t *grants = NULL;
    int rc;

    if ((rc = dbk_sync_stream_grants(s, stream, &grants)) != DBK_OK)
        return rc;
    *who = by_grantee(grants, me);
    json_decref(grants);
    return DBK_OK;
}

/* Names of everyone involved who is not this account: into names (id -> name),
 * and into each holder's "name". */
static void
name_everyone(dbk_session *s, json_t *who, const json_t *log, const char *me, json_t *names)
{
    const char *k;
    json_t *v;
    size_t i;

    json_object_foreach(who, k, v) {
        char n[128];
        name_of(s, k, n, sizeof n);
        json_object_set_new(names, k, json_string(n));
        json_object_set_new(v, "name", json_string(n));
    }
    json_array_foreach(log, i, v) {
        const char *a = S(v, "actor");
        if (strcmp(a, me) != 0 && json_object_get(names, a) == NULL) {
            char n[128];
            name_of(s, a, n, sizeof n);
            json_object_set_new(names, a, json_string(n));
        }
    }
}

/* Who can read the shared entries, each with since when (or until when). */
static void
print_holders(const json_t *who)
{
    const char *k;
    json_t *v;

    printf("Who can read your shared entries\n");
    if (json_object_size(who) == 0)
        printf("  Nobody but you.\n");
    json_object_foreach((json_t *)who, k, v) {
        char when[32], rev[32];
        ms_text(json_integer_value(json_object_get(v, "since")), when);
        char line[512];
        snprintf(line, sizeof line, "  %s (%.8s)", S(v, "name"), k);
        put_line80(line);
        if (strcmp(S(v, "state"), "active") == 0) {
            printf("    can read them, since %s.\n", when);
        } else if (strcmp(S(v, "state"), "revoked") == 0) {
            ms_text(json_integer_value(json_object_get(v, "revoked_at")), rev);
            printf("    could from %s; you ended it on %s.\n", when, rev);
        } else {
            printf("    could from %s; your consent has expired.\n", when);
        }
    }
}

/* One access-log entry in plain words: when, who (this device, your other device,
 * or the name), and what they did to which of your streams. */
static void
print_log_entry(dbk_session *s, const json_t *e, const json_t *names, const char *me,
                const char *dev, bool end)
{
    const char *action = S(e, "action"), *actor = S(e, "actor");
    char when[32], actor_s[160], stream_s[32] = "your entries", line[512], what[256];
    long long count = (long long)json_integer_value(json_object_get(e, "count"));
    dbk_local_stream st;
    dbk_id id;

    ms_text(json_integer_value(json_object_get(e, "at")), when);
    if (strcmp(actor, me) == 0)
        snprintf(actor_s, sizeof actor_s, "%s",
                 strcmp(S(e, "device"), dev) == 0 ? "This device" : "Your other device");
    else
        snprintf(actor_s, sizeof actor_s, "%s", S(names, actor));
    if (dbk_id_from_text(&id, S(e, "stream"), strlen(S(e, "stream"))) == DBK_OK &&
        dbk_local_stream_get(s->L, &id, &st) == DBK_OK)
        snprintf(stream_s, sizeof stream_s, "%s",
                 st.kind == DBK_LOCAL_PRIVATE ? "your private entries" : "your shared entries");
    if (strcmp(action, "read") == 0)
        snprintf(what, sizeof what, "received %lld of %s", count, stream_s);
    else if (strcmp(action, "write") == 0)
        snprintf(what, sizeof what, "wrote %lld to %s", count, stream_s);
    else if (strcmp(action, "grant") == 0 && end)
        snprintf(what, sizeof what, "signed the end of %s's access to %s",
                 S(names, S(e, "grantee")), stream_s);
    else if (strcmp(action, "grant") == 0)
        snprintf(what, sizeof what, "gave %s a key to %s", S(names, S(e, "grantee")), stream_s);
    else if (strcmp(action, "revoke") == 0)
        snprintf(what, sizeof what, "ended the access of %s", S(names, S(e, "grantee")));
    else
        snprintf(what, sizeof what, "%s", action);
    snprintf(line, sizeof line, "  %s  %s %s", when, actor_s, what);
    put_line80(line);
}

/* Whether log entry i is the grant a revoke sends first, the signed end (proto/TRUST.md
 * T8): the next entry about the same grantee, within the minute after it, is the same
 * actor's revoke. */
static bool
is_signed_end(const json_t *log, size_t i)
{
    const json_t *g = json_array_get(log, i), *e;
    int64_t at = json_integer_value(json_object_get(g, "at"));
    if (strcmp(S(g, "action"), "grant") != 0)
        return false;
    for (size_t j = i + 1; (e = json_array_get(log, j)) != NULL; j++) {
        if (json_integer_value(json_object_get(e, "at")) - at > DBK_TRUST_END_MAX_MS)
            return false;
        if (strcmp(S(e, "grantee"), S(g, "grantee")) != 0)
            continue;
        if (strcmp(S(e, "action"), "grant") == 0)
            return false; /* granted again before any revoke: not the end */
        if (strcmp(S(e, "action"), "revoke") == 0)
            return strcmp(S(e, "actor"), S(g, "actor")) == 0;
    }
    return false;
}

/* The access log, the newest LOG_SHOWN lines unless all. */
static void
print_log(dbk_session *s, const json_t *log, const json_t *names, bool all)
{
    char me[DBK_ID_TEXT_LEN + 1], dev[DBK_ID_TEXT_LEN + 1];
    size_t n = json_array_size(log), first = all || n <= LOG_SHOWN ? 0 : n - LOG_SHOWN, i;

    dbk_id_to_text(&s->account, me);
    dbk_id_to_text(&s->device, dev);
    printf("\nWho read or wrote your entries, and when%s\n",
           first > 0 ? " (the newest; --all for everything)" : "");
    if (n == 0)
        printf("  Nothing yet.\n");
    for (i = first; i < n; i++)
        print_log_entry(s, json_array_get(log, i), names, me, dev, is_signed_end(log, i));
}

static int
run_access(dbk_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
    dbk_session s;
    dbk_local_stream shared;
    char sid[DBK_ID_TEXT_LEN + 1], me[DBK_ID_TEXT_LEN + 1];
    json_t *who = NULL, *log, *names, *waiting = NULL;
    bool all = false;
    int opt, rc, ret;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt != 'a') {
            fprintf(stderr, "usage: daybook access [--all]\n");
            return DBK_EXIT_USAGE;
        }
        all = true;
    }
    if ((ret = open_shared(&s, &shared, sid)) != DBK_EXIT_OK)
        return ret;
    log = json_array();
    names = json_object();
    dbk_id_to_text(&s.account, me);
    if ((rc = fetch_holders(&s, &shared.id, me, &who)) != DBK_OK) {
        ret = dbk_cmd_fail("cannot fetch who holds your key", rc);
        goto out;
    }
    if ((rc = dbk_sync_access_log(&s, log)) != DBK_OK) {
        ret = dbk_cmd_fail("cannot fetch your access log", rc);
        goto out;
    }
    name_everyone(&s, who, log, me, names);
    (void)dbk_sync_acts_pending(&s, &waiting);
    if (ctx->json) {
        json_t *doc = json_pack("{s:O, s:O, s:o}", "grants", who, "log", log, "waiting", waiting);
        dbk_out_json(stdout, doc);
        json_decref(doc);
        goto out;
    }
    print_holders(who);
    print_waiting(&s, waiting, names);
    json_decref(waiting);
    print_log(&s, log, names, all);
    printf("\nYou can end a counselor's access at any time: daybook revoke ID.\nWhat they "
           "already read stays read; what you write afterwards is under a new key.\n");
out:
    json_decref(who);
    json_decref(log);
    json_decref(names);
    dbk_session_close(&s);
    return ret;
}

struct seq_map {
    const dbk_id *stream;
    json_t *by_seq; /* "seq" -> record id text, the shared stream's current revisions */
};

static void
map_seq(const dbk_local_record *r, void *arg)
{
    struct seq_map *m = arg;
    char key[24], rid[DBK_ID_TEXT_LEN + 1];
    if (r->seq <= 0 || !dbk_id_equal(&r->hdr.stream, m->stream))
        return;
    snprintf(key, sizeof key, "%lld", (long long)r->seq);
    dbk_id_to_text(&r->hdr.record, rid);
    json_object_set_new(m->by_seq, key, json_string(rid));
}

/*
 * One "read" of the shared stream as a disclosure: {at, count, seq_from, seq_to,
 * types: {type: n}, records: [id...], changed_since: n}. by_seq maps the seqs of
 * the current revisions here to record ids; types maps record ids to their type.
 */
static json_t *
disclosure_of(const json_t *e, const json_t *by_seq, const json_t *types)
{
    int64_t from = json_integer_value(json_object_get(e, "seq_from")),
            to = json_integer_value(json_object_get(e, "seq_to")),
            count = json_integer_value(json_object_get(e, "count")), known = 0;
    json_t *t = json_object(), *ids = json_array();
    /* A read covers at most a page of records; the range is walked only on this side. */
    for (int64_t q = from; q > 0 && q <= to && to - from < 100000; q++) {
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)q);
        const char *rid = json_string_value(json_object_get(by_seq, key));
        if (rid == NULL)
            continue;
        const char *type = json_string_value(json_object_get(types, rid));
        if (type == NULL)
            type = "unreadable";
        json_object_set_new(t, type, json_integer(json_integer_value(json_object_get(t, type)) + 1));
        json_array_append_new(ids, json_string(rid));
        known++;
    }
    return json_pack("{s:O, s:I, s:I, s:I, s:o, s:o, s:I}", "at", json_object_get(e, "at"),
                     "count", (json_int_t)count, "seq_from", (json_int_t)from, "seq_to",
                     (json_int_t)to, "types", t, "records", ids, "changed_since",
                     (json_int_t)(count > known ? count - known : 0));
}

static void
print_disclosure(const json_t *d)
{
    char when[32], line[512], what[400] = "";
    const char *k;
    json_t *v;
    size_t used = 0;
    long long changed = (long long)json_integer_value(json_object_get(d, "changed_since"));
    ms_text(json_integer_value(json_object_get(d, "at")), when);
    json_object_foreach((json_t *)json_object_get(d, "types"), k, v) {
        used += (size_t)snprintf(what + used, used < sizeof what ? sizeof what - used : 0,
                                 "%s%lld %s", used ? ", " : "", (long long)json_integer_value(v),
                                 k);
        if (used >= sizeof what)
            break;
    }
    if (changed > 0 && used < sizeof what)
        snprintf(what + used, sizeof what - used, "%s%lld changed or deleted since",
                 used ? ", " : "", changed);
    snprintf(line, sizeof line, "    %s  received %lld record%s: %s", when,
             (long long)json_integer_value(json_object_get(d, "count")),
             json_integer_value(json_object_get(d, "count")) == 1 ? "" : "s", what);
    put_line80(line);
}

/* Record id -> type of this client's shared entries (opened on this device). */
static int
shared_types(dbk_session *s, json_t *types)
{
    dbk_eu_list l;
    int rc = dbk_eu_load(s, &l);
    if (rc != DBK_OK)
        return rc;
    for (size_t i = 0; i < l.n; i++) {
        char rid[DBK_ID_TEXT_LEN + 1];
        if (!l.v[i].mine || l.v[i].kind != DBK_LOCAL_SHARED)
            continue;
        dbk_id_to_text(&l.v[i].hdr.record, rid);
        json_object_set_new(types, rid, json_string(l.v[i].type[0] ? l.v[i].type : "entry"));
    }
    dbk_eu_free(&l);
    return DBK_OK;
}

/* Each read of the shared stream sid by another account, as a disclosure under its
 * recipient in who: everyone else who read it is a recipient, granted or not. */
static void
add_disclosures(json_t *who, const json_t *log, const char *me, const char *sid,
                const json_t *by_seq, const json_t *types)
{
    json_t *v, *e;
    size_t i;

    json_array_foreach(log, i, e) {
        const char *a = S(e, "actor");
        if (strcmp(S(e, "action"), "read") != 0 || strcmp(a, me) == 0 ||
            strcmp(S(e, "stream"), sid) != 0)
            continue;
        if ((v = json_object_get(who, a)) == NULL) {
            v = json_pack("{s:s}", "state", "unknown");
            json_object_set_new(who, a, v);
        }
        if (json_object_get(v, "disclosures") == NULL)
            json_object_set_new(v, "disclosures", json_array());
        json_array_append_new(json_object_get(v, "disclosures"), disclosure_of(e, by_seq, types));
        json_object_set_new(v, "total", json_integer(json_integer_value(json_object_get(v, "total")) +
                                                     json_integer_value(json_object_get(e, "count"))));
    }
}

/* The recipients as a list, each named, with its disclosures and total. */
static json_t *
recipient_list(dbk_session *s, json_t *who)
{
    json_t *out = json_array(), *v;
    const char *k;

    json_object_foreach(who, k, v) {
        char n[128];
        name_of(s, k, n, sizeof n);
        json_object_set_new(v, "name", json_string(n));
        json_object_set_new(v, "account_id", json_string(k));
        if (json_object_get(v, "disclosures") == NULL)
            json_object_set_new(v, "disclosures", json_array());
        if (json_object_get(v, "total") == NULL)
            json_object_set_new(v, "total", json_integer(0));
        json_array_append(out, v);
    }
    return out;
}

/* The disclosures as text: each recipient, its consent, each occasion. */
static void
print_disclosures(const json_t *out)
{
    json_t *v;
    size_t i;

    printf("Disclosures of your shared records (who received them, and when)\n");
    if (json_array_size(out) == 0)
        printf("  Nobody but you has received them.\n");
    json_array_foreach(out, i, v) {
        char line[512], since[32];
        size_t nd = json_array_size(json_object_get(v, "disclosures"));
        ms_text(json_integer_value(json_object_get(v, "since")), since);
        snprintf(line, sizeof line, "  %s (%.8s): %lld record%s on %zu occasion%s", S(v, "name"),
                 S(v, "account_id"), (long long)json_integer_value(json_object_get(v, "total")),
                 json_integer_value(json_object_get(v, "total")) == 1 ? "" : "s", nd,
                 nd == 1 ? "" : "s");
        put_line80(line);
        if (strcmp(S(v, "state"), "active") == 0)
            printf("    under your consent since %s, still in force\n", since);
        else if (strcmp(S(v, "state"), "unknown") != 0)
            printf("    under your consent from %s, now %s\n", since, S(v, "state"));
        for (size_t d = 0; d < nd; d++)
            print_disclosure(json_array_get(json_object_get(v, "disclosures"), d));
    }
    printf("\nThe server passed them on encrypted: it is an intermediary that cannot read them.\n"
           "Redisclosure by a recipient is prohibited by 42 CFR part 2.\n");
}

static int
run_disclosures(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    dbk_local_stream shared;
    char sid[DBK_ID_TEXT_LEN + 1], me[DBK_ID_TEXT_LEN + 1];
    json_t *who = NULL, *log, *types, *by_seq, *out = NULL;
    int rc, ret;

    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: daybook disclosures\n");
        return DBK_EXIT_USAGE;
    }
    if ((ret = open_shared(&s, &shared, sid)) != DBK_EXIT_OK)
        return ret;
    log = json_array();
    types = json_object();
    by_seq = json_object();
    dbk_id_to_text(&s.account, me);
    if ((rc = shared_types(&s, types)) != DBK_OK) {
        ret = dbk_cmd_fail("cannot read your entries", rc);
        goto out;
    }
    struct seq_map m = {&shared.id, by_seq};
    if ((rc = dbk_local_records(s.L, &shared.id, map_seq, &m)) != DBK_OK) {
        ret = dbk_cmd_fail("cannot read your entries", rc);
        goto out;
    }
    if ((rc = fetch_holders(&s, &shared.id, me, &who)) != DBK_OK ||
        (rc = dbk_sync_access_log(&s, log)) != DBK_OK) {
        ret = dbk_cmd_fail("cannot fetch your access log (disclosures need the server)", rc);
        goto out;
    }
    add_disclosures(who, log, me, sid, by_seq, types);
    out = recipient_list(&s, who);
    if (ctx->json) {
        json_t *doc = json_pack("{s:O}", "recipients", out);
        dbk_out_json(stdout, doc);
        json_decref(doc);
    } else {
        print_disclosures(out);
    }
out:
    dbk_session_close(&s);
    json_decref(who);
    json_decref(log);
    json_decref(types);
    json_decref(by_seq);
    json_decref(out);
    return ret;
}

/* The grantees the server lists as active, for the rotation. */
static json_t *
listed_of(const json_t *who)
{
    const char *k;
    json_t *v, *listed = json_array();
    json_object_foreach((json_t *)who, k, v)
        if (strcmp(S(v, "state"), "active") == 0)
            json_array_append_new(listed, json_string(k));
    return listed;
}

/*
 * The revocation and the new key, made on this device first and then sent
 * (sync/rotate.c): what was not sent waits for the next sync, and is shown as waiting
 * by 'daybook access'.
 */
static int
finish_revoke(dbk_ctx *ctx, dbk_session *s, const dbk_local_stream *shared, const json_t *who,
              const char *target, const char *name)
{
    dbk_sync_revoke_result rr;
    json_t *listed, *consents = NULL;
    char when[40];
    dbk_id tid;
    int rc;

    if (dbk_id_from_text(&tid, target, strlen(target)) != DBK_OK)
        return dbk_cmd_fail("the access was not ended", DBK_E_INVALID);
    /* The readers who stay get the new key under the consent each was given. */
    if ((rc = dbk_share_consents_given(s, &consents)) != DBK_OK)
        return dbk_cmd_fail("the access was not ended (your consents could not be read)", rc);
    listed = listed_of(who);
    dbk_now_rfc3339(when);
    rc = dbk_sync_revoke(s, &shared->id, &tid, listed, consents, when, &rr);
    json_decref(listed);
    json_decref(consents);
    if (rc != DBK_OK)
        return dbk_cmd_fail("the access was not ended", rc);
    if (ctx->json) {
        printf("{\"revoked\":\"%s\",\"already\":%s,\"epoch\":%u,\"regranted\":%zu,\"skipped\":%zu,"
               "\"pending\":%zu}\n",
               target, rr.already ? "true" : "false", rr.epoch, rr.regranted, rr.skipped,
               rr.acts.pending);
    } else if (rr.already) {
        printf("%s's access had already ended; nothing changed.\n", name);
    } else {
        printf("%s can no longer read your entries.\nWhat they already read stays read: it is "
               "on their devices and the law (42 CFR part 2)\nstill protects it. What you write "
               "from now on uses a new key they never received.\n",
               name);
        if (rr.regranted > 0)
            printf("Your other counselor%s received the new key.\n", rr.regranted == 1 ? "" : "s");
        if (rr.skipped > 0)
            printf("%zu other counselor%s did not get the new key (their key could not be "
                   "checked on this device); share again with them in person.\n",
                   rr.skipped, rr.skipped == 1 ? "" : "s");
    }
    if (rr.acts.pending > 0) {
        fprintf(stderr, "daybook: the server has not confirmed this yet (%s); 'daybook sync' "
                        "sends it again, and 'daybook access' shows it waiting. Until then the "
                        "server may still hand %s entries written before now.\n",
                rr.acts.conflicts > 0 ? "another of your devices changed the key at the same time"
                                      : dbk_err_message(rr.acts.error),
                name);
        return DBK_EXIT_FAIL;
    }
    return DBK_EXIT_OK;
}

static int
run_revoke(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    dbk_local_stream shared;
    char sid[DBK_ID_TEXT_LEN + 1], me[DBK_ID_TEXT_LEN + 1], target[DBK_ID_TEXT_LEN + 1];
    const char *arg = NULL, *k, *name = NULL;
    json_t *who = NULL, *v;
    size_t found = 0;
    bool yes = false;
    int rc, ret, a, operands = 0;

    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--yes") == 0 || strcmp(argv[a], "-y") == 0)
            yes = true;
        else if (dbk_cmd_is_operand(argv[a]) && operands++ == 0)
            arg = argv[a];
        else
            operands = 2;
    }
    if (operands != 1) {
        fprintf(stderr, "usage: daybook revoke COUNSELOR [--yes]   (an id or its first 6 "
                        "characters, or the name 'daybook access' shows)\n");
        return DBK_EXIT_USAGE;
    }
    if (!yes && !dbk_prompt_interactive()) {
        fprintf(stderr, "daybook: revoke asks before it ends access; add --yes to do it without "
                        "asking\n");
        return DBK_EXIT_USAGE;
    }
    if ((ret = open_shared(&s, &shared, sid)) != DBK_EXIT_OK)
        return ret;
    if ((rc = dbk_unlock(&s)) != DBK_OK) {
        ret = dbk_cmd_fail("cannot unlock your keys", rc);
        goto out;
    }
    dbk_id_to_text(&s.account, me);
    if ((rc = fetch_holders(&s, &shared.id, me, &who)) != DBK_OK) {
        ret = dbk_cmd_fail("cannot fetch who holds your key (revoking needs the server)", rc);
        goto out;
    }
    json_object_foreach(who, k, v) {
        char n[128];
        name_of(&s, k, n, sizeof n);
        json_object_set_new(v, "name", json_string(n));
        if ((strlen(arg) >= 6 && strncmp(k, arg, strlen(arg)) == 0) || strcasecmp(n, arg) == 0) {
            if (found++ == 0)
                snprintf(target, sizeof target, "%s", k);
        }
    }
    if (found != 1) {
        fprintf(stderr, "daybook: %s; 'daybook access' lists who holds a key\n",
                found == 0 ? "no counselor with that id or name holds a key to your entries"
                           : "that names several counselors; give more of the id");
        ret = DBK_EXIT_FAIL;
        goto out;
    }
    name = json_string_value(json_object_get(json_object_get(who, target), "name"));
    if (!yes) {
        printf("This ends %s's access to your shared entries:\n"
               "  - the server stops giving them your shared entries, at once;\n"
               "  - what you write from now on uses a new key they never receive;\n"
               "  - what they already read stays read (42 CFR part 2 still protects it).\n"
               "You can share with them again later: 'daybook share %s'.\n",
               name, name);
        if ((rc = dbk_prompt_confirm("Stop sharing? [yes/no] ")) != 1) {
            printf("Nothing changed; %s can still read your shared entries.\n", name);
            ret = rc < 0 ? DBK_EXIT_FAIL : DBK_EXIT_OK;
            goto out;
        }
    }
    ret = finish_revoke(ctx, &s, &shared, who, target, name);
out:
    json_decref(who);
    dbk_session_close(&s);
    return ret;
}

const dbk_cmd dbk_cmd_access = {
    .name = "access",
    .usage = "daybook access [--all]",
    .summary = "who can read your shared entries, and who read or wrote them when",
    .client_only = true,
    .run = run_access,
};

const dbk_cmd dbk_cmd_revoke = {
    .name = "revoke",
    .usage = "daybook revoke COUNSELOR [--yes]",
    .summary = "end a counselor's access to your entries (new key from now on)",
    .client_only = true,
    .run = run_revoke,
};

const dbk_cmd dbk_cmd_disclosures = {
    .name = "disclosures",
    .usage = "daybook disclosures",
    .summary = "who received your shared records, which and when (42 CFR 2.24)",
    .client_only = true,
    .run = run_disclosures,
};
