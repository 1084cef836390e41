/*
 * daybook consent: the consents in force, in words. A client sees each consent it
 * signed (kept in its private stream) with its state; a counselor sees whose records
 * it may read and until when ("consent expires in N days" within
 * DBK_CONSENT_WARN_DAYS), and whose sharing ended.
 *
 * daybook share COUNSELOR: shares again with the counselor of the enrollment, after
 * a revoke or when a consent ends, under a fresh consent shown whole and agreed to
 * with "yes" (--yes for scripts). daybook share LINK (dbk_cmd_share_link): shares
 * with another counselor of the care team, named by their team link (cmd_team.c
 * makes it), whose keys are checked against the link's fingerprint and pinned first. Enrollment offers its consent the same way
 * (dbk_cmd_offer_consent): nothing is granted before the client agrees.
 */
#include "cmd.h"
#include "consent.h"
#include "counselor.h"
#include "daycount.h"
#include "entries.h"
#include "links.h"
#include "output.h"
#include "prompt.h"
#include "resolve.h"
#include "share.h"
#include "sharing.h"
#include "sync.h"
#include "trust.h"
#include "unlock.h"

#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int
dbk_cmd_offer_consent(dbk_ctx *ctx, dbk_session *s, const dbk_id *counselor, const char *cname,
                      const unsigned char box_pk[32], const char *patient_name, bool yes)
{
    json_t *tmpl = NULL, *doc;
    dbk_local_stream shared;
    char missing[64];
    int64_t expires_ms = 0;
    FILE *out = ctx->json ? stderr : stdout;
    int rc;

    if ((rc = dbk_sync_consent_template(s, &tmpl)) != DBK_OK)
        return dbk_cmd_fail("cannot fetch your clinic's consent form", rc);
    if ((rc = dbk_local_stream_of(s->L, &s->account, DBK_LOCAL_SHARED, &shared)) != DBK_OK) {
        json_decref(tmpl);
        return dbk_cmd_fail("cannot find your shared entries", rc);
    }
    doc = dbk_consent_build(tmpl, patient_name, &s->account, cname, counselor, &shared.id,
                            &expires_ms);
    json_decref(tmpl);
    if (doc == NULL || dbk_consent_check(doc, missing, sizeof missing) != DBK_OK) {
        fprintf(stderr, "daybook: the consent form lacks '%s'; nothing was shared. Tell your "
                        "clinic.\n", doc ? missing : "everything");
        json_decref(doc);
        return DBK_EXIT_FAIL;
    }
    if (!yes || !ctx->json) {
        fputc('\n', out);
        dbk_out_consent(out, doc);
        fputc('\n', out);
    }
    if (!yes) {
        rc = dbk_prompt_confirm("Share your records under this consent? Type yes to agree: ");
        if (rc != 1) {
            printf("Nothing is shared. When you are ready: daybook share '%s'\n", cname);
            json_decref(doc);
            return rc < 0 ? DBK_EXIT_FAIL : DBK_EXIT_OK;
        }
    }
    rc = dbk_sync_share_grant(s, counselor, box_pk, doc, expires_ms);
    if (rc == DBK_OK)
        rc = dbk_share_keep_consent(s, doc);
    json_decref(doc);
    if (rc != DBK_OK) {
        fprintf(stderr, "daybook: nothing was shared with %s (%s). Try again: daybook share "
                        "'%s'\n", cname, dbk_err_message(rc), cname);
        return DBK_EXIT_FAIL;
    }
    if (!ctx->json)
        printf("Sharing with %s. See or change it any time: daybook consent, daybook revoke.\n",
               cname);
    return DBK_EXIT_OK;
}

/* COUNSELOR and --yes (or -y), in any order; false after the usage. */
static bool
parse_share(int argc, char **argv, const char **arg, bool *yes)
{
    int operands = 0;

    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--yes") == 0 || strcmp(argv[a], "-y") == 0)
            *yes = true;
        else if (dbk_cmd_is_operand(argv[a]) && operands++ == 0)
            *arg = argv[a];
        else
            operands = 2;
    }
    if (operands != 1) {
        fprintf(stderr, "usage: daybook share COUNSELOR [--yes]   (the name or id 'daybook "
                        "consent' shows)\n       daybook share LINK [--yes]        (a "
                        "counselor's team link)\n");
        return false;
    }
    return true;
}

/* The counselor's box key to share with: the keys pinned at enrollment (trust/);
 * else the server's, checked against the invite's fingerprint fp kept then.
 * DBK_EXIT_OK, or the exit code after saying why nothing is shared. */
static int
counselor_keys(dbk_session *s, const dbk_id *counselor, const char *cname, const char *fp,
               unsigned char box_pk[32])
{
    unsigned char sign_pk[32];
    int rc;

    if ((rc = dbk_trust_pinned(s, counselor, sign_pk, box_pk)) != DBK_E_NOT_FOUND) {
        if (rc != DBK_OK)
            return dbk_cmd_fail("cannot read the key pinned for your counselor", rc);
    } else if (fp[0] == '\0') {
        fprintf(stderr, "daybook: this device has no pinned key or fingerprint of %s to check "
                        "their key against; share from the device you enrolled with\n", cname);
        return DBK_EXIT_FAIL;
    } else {
        rc = dbk_sync_counselor_keys(s, counselor, fp, sign_pk, box_pk);
    }
    if (rc == DBK_E_FINGERPRINT) {
        fprintf(stderr, "daybook: the server gave a key for %s that does not match the one you "
                        "enrolled with. Nothing was shared. Tell your counselor.\n", cname);
        return DBK_EXIT_FAIL;
    }
    if (rc != DBK_OK)
        return dbk_cmd_fail("cannot fetch your counselor's key (sharing needs the server)", rc);
    return DBK_EXIT_OK;
}

static int
run_share(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    dbk_id counselor;
    unsigned char box_pk[32];
    char cname[201] = "", cid[DBK_ID_TEXT_LEN + 1], fp[64] = "", patient[201] = "";
    const char *arg = NULL;
    bool yes = false;
    size_t n;
    int rc, ret;

    if (!parse_share(argc, argv, &arg, &yes))
        return DBK_EXIT_USAGE;
    if (strncmp(arg, "daybook://", 10) == 0) {
        if (!yes && !dbk_prompt_interactive()) {
            fprintf(stderr, "daybook: share shows the consent and asks; add --yes to agree "
                            "without a terminal\n");
            return DBK_EXIT_USAGE;
        }
        return dbk_cmd_share_link(ctx, arg, yes);
    }
    if (!yes && !dbk_prompt_interactive()) {
        fprintf(stderr, "daybook: share shows the consent and asks; add --yes to agree without "
                        "a terminal\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if (s.role != DBK_ROLE_CLIENT ||
        dbk_local_get(s.L, "counselor", counselor.b, DBK_ID_BYTES, &n) != DBK_OK) {
        fprintf(stderr, "daybook: %s\n", s.role == DBK_ROLE_COUNSELOR
                                             ? "share is for clients; this is a counselor's profile"
                                             : "not enrolled with a counselor yet: daybook enroll "
                                               "CODE");
        dbk_session_close(&s);
        return DBK_EXIT_FAIL;
    }
    /* A consent given to another account is a client's record (proto/TRUST.md T13). */
    if ((ret = dbk_require_own_role(&s, "daybook share")) != DBK_EXIT_OK) {
        dbk_session_close(&s);
        return ret;
    }
    (void)dbk_local_get_text(s.L, "counselor_name", cname, sizeof cname);
    (void)dbk_local_get_text(s.L, "counselor_fp", fp, sizeof fp);
    (void)dbk_local_get_text(s.L, "patient_name", patient, sizeof patient);
    dbk_id_to_text(&counselor, cid);
    if (strcasecmp(arg, cname) != 0 && (strlen(arg) < 6 || strncmp(cid, arg, strlen(arg)) != 0)) {
        fprintf(stderr, "daybook: your counselor is %s (%.8s); 'daybook share' shares with the "
                        "counselor you enrolled with. For another counselor of your care team, "
                        "use the link they gave you: daybook share LINK\n", cname, cid);
        dbk_session_close(&s);
        return DBK_EXIT_FAIL;
    }
    if ((rc = dbk_unlock(&s)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot unlock your keys", rc);
    }
    if ((ret = counselor_keys(&s, &counselor, cname, fp, box_pk)) != DBK_EXIT_OK) {
        dbk_session_close(&s);
        return ret;
    }
    ret = dbk_cmd_offer_consent(ctx, &s, &counselor, cname, box_pk,
                                patient[0] ? patient : "Daybook client", yes);
    dbk_session_close(&s);
    if (ret == DBK_EXIT_OK && ctx->json)
        printf("{\"shared\":\"%s\"}\n", cid);
    return ret;
}

/* "in N days" from now to ms. */
static long
days_until(int64_t ms)
{
    int64_t now = (int64_t)time(NULL) * 1000;
    return (long)((ms - now) / 86400000); /* whole days left, as the client counts */
}

static int
consent_counselor(dbk_ctx *ctx, dbk_session *s)
{
    json_t *list = NULL, *aliases = NULL, *v;
    size_t i;
    int rc;

    if ((rc = dbk_sync_consents(s, &list)) != DBK_OK)
        return dbk_cmd_fail("cannot read the consents", rc);
    if (dbk_co_aliases(s, &aliases) != DBK_OK)
        aliases = json_object();
    json_array_foreach(list, i, v) {
        char name[128], day[32];
        const char *owner = json_string_value(json_object_get(v, "owner"));
        int64_t exp = json_integer_value(json_object_get(v, "expires_at"));
        int64_t end = json_integer_value(json_object_get(v, "ended_at"));
        dbk_id oid;
        if (dbk_id_from_text(&oid, owner, strlen(owner)) != DBK_OK)
            continue;
        dbk_co_label(aliases, &oid, name, sizeof name);
        json_object_set_new(v, "name", json_string(name));
        if (ctx->json)
            continue;
        if (end > 0) {
            dbk_co_ms_text(end, day);
            day[10] = '\0';
            printf("%-24s stopped sharing on %s (%s)\n", name, day,
                   json_string_value(json_object_get(v, "ended")));
        } else if (exp > 0) {
            long d = days_until(exp);
            dbk_co_ms_text(exp, day);
            day[10] = '\0';
            printf("%-24s shares until %s%s", name, day, d <= DBK_CONSENT_WARN_DAYS ? "" : "\n");
            if (d <= DBK_CONSENT_WARN_DAYS)
                printf(": consent expires in %ld day%s\n", d, d == 1 ? "" : "s");
        } else {
            printf("%-24s shares with you (no end date)\n", name);
        }
    }
    if (ctx->json)
        dbk_out_json(stdout, list);
    else if (json_array_size(list) == 0)
        printf("No client shares with you yet.\n");
    json_decref(aliases);
    json_decref(list);
    return DBK_EXIT_OK;
}

static int
consent_client(dbk_ctx *ctx, dbk_session *s)
{
    dbk_eu_list l;
    json_t *newest = json_object(), *arr = json_array(), *v, *states = NULL;
    const char *k;
    int rc;

    /* Where each consent stands now; offline, what was signed is still shown. */
    if (dbk_sync_share_states(s, &states) != DBK_OK)
        states = NULL;

    if ((rc = dbk_eu_load(s, &l)) != DBK_OK) {
        json_decref(newest);
        json_decref(arr);
        json_decref(states);
        return dbk_cmd_fail("cannot read your entries", rc);
    }
    /* The newest consent per recipient (the list is oldest first). */
    for (size_t i = 0; i < l.n; i++) {
        const char *to;
        if (!l.v[i].mine || l.v[i].kind != DBK_LOCAL_PRIVATE || strcmp(l.v[i].type, "consent"))
            continue;
        to = json_string_value(json_object_get(json_object_get(l.v[i].doc, "recipient"),
                                               "account_id"));
        if (to != NULL)
            json_object_set(newest, to, l.v[i].doc);
    }
    json_object_foreach(newest, k, v) {
        const char *date = json_string_value(json_object_get(json_object_get(v, "expires"),
                                                             "date"));
        const char *state = states ? json_string_value(json_object_get(states, k)) : NULL;
        const char *to = json_string_value(json_object_get(json_object_get(v, "recipient"),
                                                           "name"));
        json_t *row = json_deep_copy(v);
        json_object_set_new(row, "state", json_string(state ? state : "unknown"));
        json_array_append_new(arr, row);
        if (ctx->json)
            continue;
        dbk_out_consent(stdout, v);
        if (state == NULL)
            printf("  Status: not known (the server cannot be reached)\n");
        else if (strcmp(state, "active") == 0)
            printf("  Status: in force\n");
        else
            printf("  Status: %s; nothing new is shared. To share again: daybook share '%s'\n",
                   strcmp(state, "revoked") == 0 ? "revoked" : "ended (its date passed)", to);
        if (state != NULL && strcmp(state, "active") != 0)
            date = NULL; /* nothing to renew before it ends */
        if (date != NULL) {
            int64_t day, today = dbk_eu_today();
            if (dbk_day_parse(date, &day) && day < today)
                printf("\n  This consent ended on %s; nothing new is shared. To share again: "
                       "daybook share '%s'\n",
                       date, json_string_value(json_object_get(
                                 json_object_get(v, "recipient"), "name")));
            else if (dbk_day_parse(date, &day) && day - today <= DBK_CONSENT_WARN_DAYS)
                printf("\n  This consent ends in %lld day%s. To keep sharing, renew it: "
                       "daybook share '%s'\n",
                       (long long)(day - today), day - today == 1 ? "" : "s",
                       json_string_value(json_object_get(json_object_get(v, "recipient"),
                                                         "name")));
        }
        if (state == NULL || strcmp(state, "active") == 0)
            printf("\n  Revoke it: daybook revoke '%s'\n", to);
        printf("\n");
    }
    if (ctx->json)
        dbk_out_json(stdout, arr);
    else if (json_array_size(arr) == 0)
        printf("You have not signed a consent on this profile yet (daybook enroll, daybook "
               "share).\n");
    json_decref(arr);
    json_decref(newest);
    json_decref(states);
    dbk_eu_free(&l);
    return DBK_EXIT_OK;
}

static int
run_consent(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    int rc, ret;

    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: daybook consent\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    ret = s.role == DBK_ROLE_COUNSELOR ? consent_counselor(ctx, &s) : consent_client(ctx, &s);
    dbk_session_close(&s);
    return ret;
}

/*
 * The counselor of a team link checked: their keys pinned on this device, or fetched
 * and matched against the link's fingerprint, then pinned. Exit code; on success
 * sign_pk and box_pk hold the keys.
 */
static int
team_counselor_keys(dbk_session *s, const dbk_link *u, const dbk_id *counselor,
                    unsigned char box_pk[32])
{
    unsigned char sign_pk[32];
    int rc;

    rc = dbk_trust_pinned_matches(s, counselor, u->fp, sign_pk, box_pk);
    if (rc == DBK_E_NOT_FOUND) {
        rc = dbk_sync_counselor_keys(s, counselor, u->fp, sign_pk, box_pk);
        if (rc == DBK_OK)
            rc = dbk_trust_pin(s, counselor, sign_pk, box_pk);
    }
    if (rc == DBK_E_FINGERPRINT) {
        fprintf(stderr, "daybook: the keys for this counselor do not match the link's "
                        "fingerprint. Nothing was shared. Check the link with your counselor, "
                        "and tell your clinic.\n");
        return DBK_EXIT_FAIL;
    }
    if (rc != DBK_OK)
        return dbk_cmd_fail("cannot fetch the counselor's keys (sharing needs the server)", rc);
    return DBK_EXIT_OK;
}

int
dbk_cmd_share_link(dbk_ctx *ctx, const char *text, bool yes)
{
    dbk_session s;
    dbk_link u;
    dbk_id counselor, first;
    unsigned char box_pk[32];
    char cname[420], patient[201] = "";
    size_t n;
    int rc, ret;

    if ((rc = dbk_link_parse(text, &u)) == DBK_E_UNAVAILABLE)
        return DBK_EXIT_FAIL; /* main names the library to install */
    if (rc != DBK_OK || u.kind != DBK_LINK_TEAM ||
        dbk_id_from_text(&counselor, u.counselor, strlen(u.counselor)) != DBK_OK) {
        fprintf(stderr, "daybook: that is not a counselor's team link (daybook://team?...); "
                        "ask them for 'daybook team-link'\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if (s.role != DBK_ROLE_CLIENT ||
        dbk_local_get(s.L, "counselor", first.b, DBK_ID_BYTES, &n) != DBK_OK) {
        fprintf(stderr, "daybook: %s\n", s.role == DBK_ROLE_COUNSELOR
                                             ? "share is for clients; this is a counselor's profile"
                                             : "enroll first, with the code your counselor gave "
                                               "you: daybook enroll CODE");
        dbk_session_close(&s);
        return DBK_EXIT_FAIL;
    }
    if ((ret = dbk_require_own_role(&s, "daybook share")) != DBK_EXIT_OK) {
        dbk_session_close(&s);
        return ret;
    }
    if (strcmp(u.server, s.server) != 0) {
        fprintf(stderr, "daybook: the link is for the server %s; your records are on %s. Ask "
                        "for a link from your clinic's server.\n", u.server, s.server);
        dbk_session_close(&s);
        return DBK_EXIT_FAIL;
    }
    if (dbk_id_equal(&counselor, &s.account) || dbk_id_equal(&counselor, &first)) {
        fprintf(stderr, "daybook: %s\n", dbk_id_equal(&counselor, &s.account)
                                             ? "that link names your own account"
                                             : "that is the counselor you enrolled with: daybook "
                                               "share COUNSELOR shares with them again");
        dbk_session_close(&s);
        return DBK_EXIT_FAIL;
    }
    if ((rc = dbk_unlock(&s)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot unlock your keys", rc);
    }
    if ((ret = team_counselor_keys(&s, &u, &counselor, box_pk)) != DBK_EXIT_OK) {
        dbk_session_close(&s);
        return ret;
    }
    /* The name and role come with the fingerprint, from the counselor's own screen. */
    snprintf(cname, sizeof cname, "%s%s%s%s", u.by[0] ? u.by : "your counselor",
             u.role[0] ? " (" : "", u.role, u.role[0] ? ")" : "");
    (void)dbk_local_get_text(s.L, "patient_name", patient, sizeof patient);
    ret = dbk_cmd_offer_consent(ctx, &s, &counselor, cname, box_pk,
                                patient[0] ? patient : "Daybook client", yes);
    dbk_session_close(&s);
    if (ret == DBK_EXIT_OK && ctx->json)
        printf("{\"shared\":\"%s\"}\n", u.counselor);
    return ret;
}

const dbk_cmd dbk_cmd_consent = {
    .name = "consent",
    .usage = "daybook consent",
    .summary = "the consents in force: what you agreed to share, with whom, until when",
    .run = run_consent,
};

const dbk_cmd dbk_cmd_share = {
    .name = "share",
    .usage = "daybook share COUNSELOR [--yes] | daybook share LINK [--yes]",
    .summary = "share again, or with a counselor's team link, under a fresh consent",
    .client_only = true,
    .run = run_share,
};
