/*
 * The daybook CLI end to end against a real daybookd: init, enroll with the
 * counselor's code (fingerprint checked), log cravings and journal entries
 * offline, sync, and the counselor (played by tests/support/tc.c) decrypts what
 * was shared and cannot read what was private. No plaintext in the local file.
 */
#include "tc.h"

#include "entry.h"   /* the CLI's own code, in-process: dbk_sync */
#include "session.h" /* dbk_session_clock */
#include "sync.h"

#include "dbk/base64.h"
#include "dbk/envelope.h"
#include "dbk/error.h"
#include "dbk/fingerprint.h"
#include "dbk/hlc.h"
#include "dbk/init.h"

#include <sqlite3.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define CANARY "CANARY-journal-text-4c2e"

struct fx {
    dbk_server srv;
    char *home;
    tc_account co;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char pass[4096];
    FILE *p;

    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
    f->home = dbk_tmpdir("client");
    snprintf(pass, sizeof pass, "%s/passphrase", f->home);
    p = fopen(pass, "w");
    fputs("a long client passphrase\n", p);
    fclose(p);
    setenv("DAYBOOK_HOME", f->home, 1);
    setenv("DAYBOOK_PASSPHRASE_FILE", pass, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", DBK_TEST_UNLOCK_SECONDS, 1);
    tc_new_counselor(&f->srv, &f->co, "Counselor K");
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    if (f->srv.pid > 0)
        assert_int_equal(dbk_server_stop(&f->srv), 0);
    dbk_server_cleanup(&f->srv);
    {
        /* test_full_disk's small filesystem, if a failed assertion left it mounted */
        char tiny[4096];
        dbk_run_result r;
        snprintf(tiny, sizeof tiny, "%s/tiny", f->home);
        const char *umnt[] = {"umount", tiny, NULL};
        struct stat sb;
        if (stat(tiny, &sb) == 0 && dbk_run(umnt, NULL, 30, &r) == 0)
            dbk_run_result_free(&r);
    }
    dbk_rmtree(f->home);
    free(f->home);
    tc_account_free(&f->co);
    free(f);
    return 0;
}

/* The enrollment URI a counselor's device would show for a new invite. */
static char *
invite_uri(struct fx *f, const unsigned char *fp_sign_pk, const unsigned char *fp_box_pk)
{
    return tc_invite_uri(&f->srv, &f->co, fp_sign_pk, fp_box_pk);
}

/* What the counselor can read of the client's shared stream: the plaintexts; with head,
 * also the greatest counts its stream heads (proto/TRUST.md T12) sign, "records" and
 * "own" (-1 for none), and the stream's greatest seq as the server answers it (every
 * revision pushed took one, the head's superseded ones too). */
static json_t *
counselor_reads_head(struct fx *f, const dbk_id *client, int64_t head[3])
{
    long st;
    json_t *out = json_array(), *recs, *e;
    unsigned char key[32] = {0}, client_pk[32];
    dbk_id stream;
    size_t i;
    char *consent = NULL;
    bool have = tc_counselor_stream(&f->srv, &f->co, client, &stream, key, client_pk, &consent);

    if (head != NULL)
        head[0] = head[1] = head[2] = -1;
    if (have) /* the consent travels with the key */
        assert_non_null(strstr(consent, "42 CFR part 2"));
    free(consent);
    if (!have)
        return out;
    recs = tc_req(&f->srv, &f->co, "GET", tc_path("/v1/streams/%s/records", &stream), NULL, &st);
    assert_int_equal(st, 200);
    if (head != NULL)
        head[2] = (int64_t)json_integer_value(json_object_get(recs, "high_seq"));
    json_array_foreach(json_object_get(recs, "records"), i, e) {
        tc_account author;
        memset(&author, 0, sizeof author);
        author.id = *client;
        author.keys = dbk_account_keys_from_secrets(key, key); /* only sign_pk is used below */
        memcpy(author.keys->sign_pk, client_pk, 32);
        char *pt = tc_open(json_string_value(json_object_get(e, "envelope")), &author, &stream, 1,
                           key);
        dbk_account_keys_free(author.keys);
        assert_non_null(pt);
        json_t *doc = json_loads(pt, 0, NULL);
        if (strcmp(json_string_value(json_object_get(doc, "type")), "head") == 0) {
            for (int k = 0; head != NULL && k < 2; k++) {
                json_int_t v = json_integer_value(json_object_get(doc, k ? "own" : "records"));
                head[k] = v > head[k] ? v : head[k];
            }
            json_decref(doc); /* the stream head is not an entry */
        } else {
            json_array_append_new(out, doc);
        }
        free(pt);
    }
    json_decref(recs);
    return out;
}

static json_t *
counselor_reads(struct fx *f, const dbk_id *client)
{
    return counselor_reads_head(f, client, NULL);
}

static dbk_id
client_id(struct fx *f)
{
    dbk_run_result r = tc_cli("--json", "init", NULL);
    dbk_id id;
    json_t *j;
    (void)f;
    assert_int_equal(r.status, 0);
    j = json_loads(r.out, 0, NULL);
    const char *a = json_string_value(json_object_get(j, "account"));
    assert_int_equal(dbk_id_from_text(&id, a, strlen(a)), 0);
    json_decref(j);
    dbk_run_result_free(&r);
    return id;
}

static bool
file_contains(const char *dir, const char *needle)
{
    const char *argv[] = {"grep", "-r", "-a", "-q", "-F", needle, dir, NULL};
    dbk_run_result r;
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    dbk_run_result_free(&r);
    return r.status == 0;
}

static void
test_enroll_log_sync_and_counselor_reads(void **state)
{
    struct fx *f = *state;
    dbk_id me = client_id(f);
    char *uri = invite_uri(f, f->co.keys->sign_pk, f->co.keys->box_pk);
    dbk_run_result r;
    json_t *seen;

    r = tc_cli("enroll", uri, "--yes", NULL);
    if (r.status != 0)
        fail_msg("enroll: %s", r.err);
    assert_non_null(strstr(r.out, "Safety number"));
    dbk_run_result_free(&r);
    free(uri);

    r = tc_cli("craving", "--intensity", "8", "--outcome", "resisted", "--trigger", "places:the bar",
            "--halt", "tired,lonely", "--coping", "urge_surfing", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "988")); /* a high craving shows the crisis card */
    assert_non_null(strstr(r.out, "Nobody watches them in real time"));
    dbk_run_result_free(&r);
    r = tc_cli("craving", "--intensity", "3", "--outcome", "resisted", NULL);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, "988"));
    dbk_run_result_free(&r);
    r = tc_cli("journal", "-m", "shared: " CANARY, "--mood", "3", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("journal", "-m", "private: " CANARY, "--private", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);

    r = tc_cli("status", NULL);
    /* Also waiting: the consent kept in the private stream at enrollment, the pin of
     * the counselor's checked keys (proto/TRUST.md T11) and the checklist day the shared
     * journal ticked ("journaling"). */
    assert_non_null(strstr(r.out, "7 entries"));
    dbk_run_result_free(&r);
    r = tc_cli("--json", "sync", NULL);
    if (r.status != 0)
        fail_msg("sync: %s", r.err);
    /* and the consent, the pin, the tick, and the account's role signed at this first
     * sync (proto/TRUST.md T13) */
    if (strstr(r.out, "\"pushed\":8") == NULL)
        fail_msg("sync: %s", r.out);
    assert_non_null(strstr(r.out, "\"pending\":0"));
    dbk_run_result_free(&r);

    /* The counselor decrypts the shared entries (and the checklist day the shared
     * journal ticked); the private one is not there, nor the consent's copy. The
     * stream's head, which the client signs when it pushes, counts those four
     * records, all the client's own: neither more (the head itself left out) nor
     * fewer, or a reader would see records withheld that were not. One head revision
     * went with the push, not one for each entry: the stream's seqs are the four
     * entries' and the head's, none taken by a head the next one replaced (the server
     * learns that the push added records, not which of the writes did). */
    int64_t head[3];
    seen = counselor_reads_head(f, &me, head);
    assert_int_equal(json_array_size(seen), 4);
    assert_int_equal(head[0], 4);
    assert_int_equal(head[1], 4);
    assert_int_equal(head[2], 5);
    {
        size_t i, cravings = 0, journals = 0;
        json_t *e;
        json_array_foreach(seen, i, e) {
            const char *type = json_string_value(json_object_get(e, "type"));
            if (strcmp(type, "craving") == 0)
                cravings++;
            if (strcmp(type, "journal") == 0) {
                journals++;
                assert_non_null(strstr(json_string_value(json_object_get(e, "text")), "shared:"));
            }
        }
        assert_int_equal(cravings, 2);
        assert_int_equal(journals, 1);
    }
    json_decref(seen);

    /* The client's own log shows all four, decrypted, with the tick and the consent. */
    r = tc_cli("--json", "log", NULL);
    assert_int_equal(r.status, 0);
    {
        json_t *j = json_loads(r.out, 0, NULL);
        assert_int_equal(json_array_size(j), 6);
        json_decref(j);
    }
    dbk_run_result_free(&r);

    /* Nothing readable on disk: not on the client, not on the server. */
    assert_false(file_contains(f->home, "CANARY"));
    assert_false(file_contains(f->srv.dir, "CANARY"));
}

static void
test_offline_day_syncs_when_server_returns(void **state)
{
    struct fx *f = *state;
    dbk_id me = client_id(f);
    char *uri = invite_uri(f, f->co.keys->sign_pk, f->co.keys->box_pk);
    dbk_run_result r;
    json_t *seen;

    r = tc_cli("enroll", uri, "--yes", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    free(uri);

    assert_int_equal(dbk_server_stop(&f->srv), 0);
    for (int i = 0; i < 5; i++) {
        char intensity[8];
        snprintf(intensity, sizeof intensity, "%d", i + 2);
        r = tc_cli("craving", "--intensity", intensity, "--outcome", i == 4 ? "used" : "resisted",
                NULL);
        assert_int_equal(r.status, 0); /* writing never needs the network */
        dbk_run_result_free(&r);
    }
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "nothing is lost"));
    dbk_run_result_free(&r);
    r = tc_cli("--json", "status", NULL);
    /* and the consent and the counselor's pin kept at enrollment, and the account's role
     * signed by the sync that failed (proto/TRUST.md T13) */
    assert_non_null(strstr(r.out, "\"pending\":8"));
    dbk_run_result_free(&r);

    assert_int_equal(dbk_server_restart(&f->srv, NULL), 0);
    r = tc_cli("--json", "sync", NULL);
    if (r.status != 0)
        fail_msg("sync after restart: %s", r.err);
    /* and the consent and pin kept then, and the role the failed sync signed (T13) */
    assert_non_null(strstr(r.out, "\"pushed\":8"));
    dbk_run_result_free(&r);
    seen = counselor_reads(f, &me);
    assert_int_equal(json_array_size(seen), 5);
    json_decref(seen);
    /* Syncing again sends nothing twice. */
    r = tc_cli("--json", "sync", NULL);
    assert_non_null(strstr(r.out, "\"pushed\":0"));
    dbk_run_result_free(&r);
    seen = counselor_reads(f, &me);
    assert_int_equal(json_array_size(seen), 5);
    json_decref(seen);
}

static void
test_substituted_counselor_key_is_refused(void **state)
{
    struct fx *f = *state;
    dbk_id me = client_id(f);
    tc_account mallory;
    dbk_run_result r;
    json_t *seen, *keys;
    char path[128], cid[DBK_ID_TEXT_LEN + 1], fp[DBK_FP_SHORT_LEN + 1];
    long st;

    /* A code whose fingerprint is not this counselor's keys (as if the server swapped them). */
    tc_account_init(&mallory, true, "x");
    char *uri = invite_uri(f, mallory.keys->sign_pk, mallory.keys->box_pk);
    r = tc_cli("enroll", uri, "--yes", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "does not match"));
    assert_non_null(strstr(r.err, "the code was not used"));
    dbk_run_result_free(&r);
    tc_account_free(&mallory);
    /* Checked before the code was spent: no account was made on the server, so
     * nothing can have been shared ... */
    dbk_id_to_text(&me, cid);
    snprintf(path, sizeof path, "/v1/accounts/%s/keys", cid);
    keys = tc_req(&f->srv, &f->co, "GET", path, NULL, &st);
    assert_int_equal(st, 404);
    json_decref(keys);

    /* ... and the same code, with the counselor's true fingerprint, still enrolls: the
     * profile is not stranded and the code was not burnt. */
    r = tc_cli("craving", "--intensity", "4", "--outcome", "resisted", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    dbk_fingerprint_short(fp, &f->co.id, f->co.keys->sign_pk, f->co.keys->box_pk);
    char *at = strstr(uri, "&fp=");
    assert_non_null(at);
    assert_int_equal(strlen(fp), strcspn(at + 4, "&"));
    memcpy(at + 4, fp, strlen(fp));
    r = tc_cli("enroll", uri, "--yes", NULL);
    if (r.status != 0)
        fail_msg("enroll again with the same code: %s", r.err);
    assert_non_null(strstr(r.out, "Sharing with"));
    dbk_run_result_free(&r);
    free(uri);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    seen = counselor_reads(f, &me);
    assert_true(json_array_size(seen) >= 1); /* the craving logged before it */
    json_decref(seen);
    dbk_report("malicious server", "a counselor key not matching the code's fingerprint offered "
               "at enrollment", "`daybook enroll` refuses before the code is used; no "
               "account made, nothing shared, the code still good");
}

/* The enrollment check itself on the wire: the keys of a pending invite's counselor,
 * one 410 for every code that cannot enroll, and nothing used up. */
static void
test_enroll_check_uses_nothing(void **state)
{
    struct fx *f = *state;
    char cid[DBK_ID_TEXT_LEN + 1];
    long st;
    json_t *inv, *body, *ans;
    const char *code;

    dbk_id_to_text(&f->co.id, cid);
    body = json_object();
    inv = tc_req(&f->srv, &f->co, "POST", "/v1/invites", body, &st);
    json_decref(body);
    assert_int_equal(st, 201);
    code = json_string_value(json_object_get(inv, "code"));
    for (int i = 0; i < 2; i++) { /* asking twice: nothing was used by the first */
        body = json_pack("{s:s, s:s}", "code", code, "counselor", cid);
        ans = tc_req(&f->srv, NULL, "POST", "/v1/enroll/check", body, &st);
        assert_int_equal(st, 200);
        assert_string_equal(json_string_value(json_object_get(json_object_get(ans, "counselor"),
                                                              "account")), cid);
        json_decref(ans);
        json_decref(body);
    }
    /* Another counselor's id with this code, and an unknown code: the same 410. */
    dbk_id other;
    char oid[DBK_ID_TEXT_LEN + 1];
    dbk_id_random(&other);
    dbk_id_to_text(&other, oid);
    body = json_pack("{s:s, s:s}", "code", code, "counselor", oid);
    ans = tc_req(&f->srv, NULL, "POST", "/v1/enroll/check", body, &st);
    assert_int_equal(st, 410);
    json_decref(ans);
    json_decref(body);
    body = json_pack("{s:s, s:s}", "code", "AAAAAAAAAAAAAAAAAAAAAA", "counselor", cid);
    ans = tc_req(&f->srv, NULL, "POST", "/v1/enroll/check", body, &st);
    assert_int_equal(st, 410);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(ans, "error"), "code")), "gone");
    json_decref(ans);
    json_decref(body);
    body = json_pack("{s:s}", "code", code);
    ans = tc_req(&f->srv, NULL, "POST", "/v1/enroll/check", body, &st);
    assert_int_equal(st, 400);
    json_decref(ans);
    json_decref(body);
    json_decref(inv);
}

static void
test_clear_errors(void **state)
{
    struct fx *f = *state;
    dbk_run_result r;
    char bad[4096];
    FILE *p;

    (void)client_id(f);
    r = tc_cli("enroll", "daybook://enroll?server=http%3A%2F%2Fexample.org&code=x", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "not a valid enrollment code"));
    dbk_run_result_free(&r);
    r = tc_cli("craving", "--intensity", "11", "--outcome", "resisted", NULL);
    assert_int_equal(r.status, 2);
    dbk_run_result_free(&r);
    /* Ids are base64url and may begin with '-': read as an id, not an option. */
    r = tc_cli("show", "-AbCdEfG", NULL);
    assert_int_equal(r.status, 1); /* "no such entry", not a usage error */
    assert_null(strstr(r.err, "usage"));
    dbk_run_result_free(&r);
    r = tc_cli("edit", "-AbCdEfG", "-m", "x", NULL);
    assert_int_equal(r.status, 1);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "not enrolled"));
    dbk_run_result_free(&r);

    /* A wrong passphrase: a clear message, and the entry written before is still there. */
    r = tc_cli("journal", "-m", "kept", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    snprintf(bad, sizeof bad, "%s/wrong", f->home);
    p = fopen(bad, "w");
    fputs("not my passphrase\n", p);
    fclose(p);
    const char *good = getenv("DAYBOOK_PASSPHRASE_FILE");
    char keep[4096];
    snprintf(keep, sizeof keep, "%s", good);
    tc_ok(tc_cli("lock", NULL), "lock"); /* the keys not cached: the passphrase is asked */
    setenv("DAYBOOK_PASSPHRASE_FILE", bad, 1);
    r = tc_cli("log", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "Wrong passphrase"));
    dbk_run_result_free(&r);
    setenv("DAYBOOK_PASSPHRASE_FILE", keep, 1);
    r = tc_cli("--json", "log", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "kept"));
    dbk_run_result_free(&r);
}

/* The README's quickstart with the real CLIs only: admin, counselor and client. */
static void
test_quickstart_with_the_clis(void **state)
{
    struct fx *f = *state;
    char url[64], cohome[4096], clhome[4096], uri[512];
    const char *argv[] = {dbk_bin("DAYBOOKD"), "counselor", "add", "Dana Reyes", "--url", url,
                          "--data-dir", f->srv.data_dir, NULL};
    dbk_run_result r;
    const char *p;
    json_t *j;

    snprintf(url, sizeof url, "http://127.0.0.1:%d", f->srv.port);
    assert_int_equal(dbk_run(argv, NULL, 30, &r), 0);
    assert_int_equal(r.status, 0);
    p = strstr(r.out, "setup URI: ");
    assert_non_null(p);
    snprintf(uri, sizeof uri, "%.*s", (int)strcspn(p + 11, "\n"), p + 11);
    dbk_run_result_free(&r);

    snprintf(cohome, sizeof cohome, "%s/counselor", f->home);
    snprintf(clhome, sizeof clhome, "%s/client", f->home);
    setenv("DAYBOOK_HOME", cohome, 1);
    r = tc_cli("init", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("enroll", uri, "--yes", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Counselor account ready"));
    dbk_run_result_free(&r);
    r = tc_cli("invite", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "daybook://enroll?"));
    assert_non_null(strstr(r.out, "\u2580")); /* the QR code, in half blocks */
    dbk_run_result_free(&r);
    r = tc_cli("--json", "invite", "--name", "Sam K.", NULL);
    assert_int_equal(r.status, 0);
    j = json_loads(r.out, 0, NULL);
    snprintf(uri, sizeof uri, "%s", json_string_value(json_object_get(j, "uri")));
    json_decref(j);
    dbk_run_result_free(&r);

    setenv("DAYBOOK_HOME", clhome, 1);
    r = tc_cli("init", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("invite", NULL);
    assert_int_equal(r.status, 1); /* clients do not invite */
    dbk_run_result_free(&r);
    r = tc_cli("enroll", uri, "--yes", NULL);
    if (r.status != 0)
        fail_msg("client enroll: %s", r.err);
    assert_non_null(strstr(r.out, "Sharing with Dana Reyes"));
    dbk_run_result_free(&r);
    r = tc_cli("craving", "--intensity", "6", "--outcome", "resisted", "--coping", "urge_surfing",
            NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    /* and the consent and the counselor's pin kept at enrollment, and the account's role
     * (proto/TRUST.md T13) */
    assert_non_null(strstr(r.out, "4 sent"));
    dbk_run_result_free(&r);

    /* The counselor's sync learns the new grant and pulls the client's entry, which it
     * can decrypt and verify with the client's key. */
    setenv("DAYBOOK_HOME", cohome, 1);
    r = tc_cli("sync", NULL);
    if (r.status != 0)
        fail_msg("counselor sync: %s", r.err);
    dbk_run_result_free(&r);
    r = tc_cli("--json", "log", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "urge_surfing"));
    assert_int_equal(strlen(r.err), 0); /* nothing failed to open */
    dbk_run_result_free(&r);

    /* README: a note goes back to the client, who sees it and the consent. */
    r = tc_cli("note", "Sam K.", "-m", "Good work riding that one out.", "--share", NULL);
    if (r.status != 0)
        fail_msg("note: %s", r.err);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", clhome, 1);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "New note from Dana Reyes: Good work riding that one out."));
    dbk_run_result_free(&r);
    r = tc_cli("consent", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "To whom:"));
    assert_non_null(strstr(r.out, "Dana Reyes"));
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", f->home, 1);
}

/* Enrolls the client CLI in DAYBOOK_HOME with a fresh invite; returns its id. */
static dbk_id
enrolled_client(struct fx *f)
{
    dbk_id me = client_id(f);
    char *uri = invite_uri(f, f->co.keys->sign_pk, f->co.keys->box_pk);
    dbk_run_result r = tc_cli("enroll", uri, "--yes", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    free(uri);
    return me;
}

static size_t
log_count(void)
{
    dbk_run_result r = tc_cli("--json", "log", NULL);
    json_t *j = json_loads(r.out, 0, NULL);
    size_t n = json_array_size(j);
    assert_int_equal(r.status, 0);
    json_decref(j);
    dbk_run_result_free(&r);
    return n;
}

/* A second device logs in with the link from `daybook status` and both converge. */
static void
test_second_device(void **state)
{
    struct fx *f = *state;
    char home2[4096], link[512];
    const char *p;
    dbk_run_result r;

    (void)enrolled_client(f);
    r = tc_cli("journal", "-m", "from the first device", NULL);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("status", NULL);
    p = strstr(r.out, "daybook login '");
    assert_non_null(p);
    snprintf(link, sizeof link, "%.*s", (int)strcspn(p + 15, "'"), p + 15);
    dbk_run_result_free(&r);

    snprintf(home2, sizeof home2, "%s/second", f->home);
    setenv("DAYBOOK_HOME", home2, 1);
    r = tc_cli("login", link, NULL);
    if (r.status != 0)
        fail_msg("login: %s", r.err);
    dbk_run_result_free(&r);
    /* The first device's entry arrived, decrypted, with its consent and the checklist
     * day the journal ticked. */
    assert_int_equal(log_count(), 3);
    r = tc_cli("journal", "-m", "from the second device", NULL);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("devices", NULL);
    assert_non_null(strstr(r.out, "(this device)"));
    dbk_run_result_free(&r);

    setenv("DAYBOOK_HOME", f->home, 1);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    assert_int_equal(log_count(), 4); /* the consent, two journals, the day they ticked */

    /* proto rule R7: each device ticks another item of today before it has seen the
     * other's tick; after both sync, both see both ticked (the records combine by
     * union), and a third tick lands in one record. */
    {
        static const char *const items[2] = {"exercise", "slept_enough"};
        const char *homes[2] = {f->home, home2};
        for (int d = 0; d < 2; d++) {
            setenv("DAYBOOK_HOME", homes[d], 1);
            r = tc_cli("check", items[d], NULL);
            assert_int_equal(r.status, 0);
            dbk_run_result_free(&r);
        }
        for (int round = 0; round < 2; round++)
            for (int d = 0; d < 2; d++) {
                setenv("DAYBOOK_HOME", homes[d], 1);
                r = tc_cli("sync", NULL);
                assert_int_equal(r.status, 0);
                dbk_run_result_free(&r);
            }
        for (int d = 0; d < 2; d++) {
            setenv("DAYBOOK_HOME", homes[d], 1);
            json_t *t = tc_json_of(tc_cli("--json", "today", NULL), "today"), *it;
            size_t i, ticked = 0;
            json_array_foreach(json_object_get(t, "items"), i, it) {
                const char *id = json_string_value(json_object_get(it, "id"));
                if (json_is_true(json_object_get(it, "checked")) &&
                    (!strcmp(id, items[0]) || !strcmp(id, items[1])))
                    ticked++;
            }
            json_decref(t);
            if (ticked != 2)
                fail_msg("device %d sees %zu of the two ticks", d + 1, ticked);
        }
    }
    setenv("DAYBOOK_HOME", f->home, 1);

    /* A wrong passphrase on a new device leaves no half-made profile. */
    snprintf(home2, sizeof home2, "%s/third", f->home);
    setenv("DAYBOOK_HOME", home2, 1);
    {
        char wrong[4096];
        FILE *w;
        const char *good = getenv("DAYBOOK_PASSPHRASE_FILE");
        char keep[4096];
        snprintf(keep, sizeof keep, "%s", good);
        snprintf(wrong, sizeof wrong, "%s/wrong2", f->home);
        w = fopen(wrong, "w");
        fputs("nope nope nope\n", w);
        fclose(w);
        setenv("DAYBOOK_PASSPHRASE_FILE", wrong, 1);
        r = tc_cli("login", link, NULL);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "Wrong passphrase"));
        dbk_run_result_free(&r);
        setenv("DAYBOOK_PASSPHRASE_FILE", keep, 1);
        r = tc_cli("status", NULL);
        assert_int_equal(r.status, 1); /* no profile */
        dbk_run_result_free(&r);
    }
    setenv("DAYBOOK_HOME", f->home, 1);
}

/* The server is restored from an older backup: the client logs in again, re-sends
 * what it holds, and the counselor ends up with everything. */
static void
test_server_restore_nothing_stranded(void **state)
{
    struct fx *f = *state;
    dbk_id me = enrolled_client(f);
    char backup[4096];
    const char *bk[] = {dbk_bin("DAYBOOKD"), "backup", backup, "--data-dir", f->srv.data_dir,
                        NULL};
    const char *rs[] = {dbk_bin("DAYBOOKD"), "restore", backup, "--data-dir", f->srv.data_dir,
                        NULL};
    dbk_run_result r;
    json_t *seen;

    r = tc_cli("craving", "--intensity", "4", "--outcome", "resisted", NULL);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    snprintf(backup, sizeof backup, "%s/backup.db", f->srv.dir);
    assert_int_equal(dbk_run(bk, NULL, 60, &r), 0);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    for (int i = 0; i < 3; i++) {
        r = tc_cli("craving", "--intensity", "5", "--outcome", "resisted", NULL);
        dbk_run_result_free(&r);
    }
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);

    assert_int_equal(dbk_server_stop(&f->srv), 0);
    assert_int_equal(dbk_run(rs, NULL, 60, &r), 0);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    assert_int_equal(dbk_server_restart(&f->srv, NULL), 0);
    /* The counselor logs in again too (its token is gone). */
    f->co.token[0] = '\0';
    assert_int_equal(tc_login(&f->srv, &f->co, "counselor passphrase", NULL), 200);
    seen = counselor_reads(f, &me);
    assert_int_equal(json_array_size(seen), 1); /* the backup had only the first */
    json_decref(seen);

    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "log in again"));
    dbk_run_result_free(&r);
    r = tc_cli("login", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "restored"));
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    seen = counselor_reads(f, &me);
    assert_int_equal(json_array_size(seen), 4); /* nothing stranded */
    json_decref(seen);
    dbk_report("restore from an older backup", "backup, 3 more entries synced, restore, sync",
               "the client logs in again and re-sends; 4 of 4 entries on the server");
}

/* Changing the passphrase: the old one stops working, the new one opens the keys. */
static void
test_passwd(void **state)
{
    struct fx *f = *state;
    char newp[4096], oldp[4096];
    FILE *w;
    dbk_run_result r;

    (void)enrolled_client(f);
    snprintf(oldp, sizeof oldp, "%s", getenv("DAYBOOK_PASSPHRASE_FILE"));
    snprintf(newp, sizeof newp, "%s/newpass", f->home);
    w = fopen(newp, "w");
    fputs("a brand new passphrase\n", w);
    fclose(w);
    setenv("DAYBOOK_NEW_PASSPHRASE_FILE", newp, 1);
    r = tc_cli("passwd", NULL);
    if (r.status != 0)
        fail_msg("passwd: %s", r.err);
    dbk_run_result_free(&r);
    unsetenv("DAYBOOK_NEW_PASSPHRASE_FILE");
    tc_ok(tc_cli("lock", NULL), "lock"); /* the keys not cached: the passphrase is asked */
    r = tc_cli("log", NULL);
    assert_int_equal(r.status, 1); /* the old passphrase no longer opens the keys */
    dbk_run_result_free(&r);
    setenv("DAYBOOK_PASSPHRASE_FILE", newp, 1);
    r = tc_cli("journal", "-m", "after the change", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0); /* this device's token still works */
    dbk_run_result_free(&r);
    setenv("DAYBOOK_PASSPHRASE_FILE", oldp, 1);
}

extern char **environ;

/* On a terminal, `daybook craving` without flags asks for what it needs: a strength
 * out of range is asked again, coping strategies are picked by number. */
static void
test_interactive_prompt(void **state)
{
    struct fx *f = *state;
    char cmd[4200];
    dbk_run_result r;
    (void)client_id(f);
    /* script(1) gives the CLI a terminal; the answers arrive on it. */
    snprintf(cmd, sizeof cmd,
             "printf '12\\n7\\nat a party\\n\\n\\n3 7\\n1\\n' | "
             "script -qec '%s craving' /dev/null",
             dbk_bin("DAYBOOK"));
    const char *argv[] = {"sh", "-c", cmd, NULL};
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "How strong"));
    assert_non_null(strstr(r.out, "Saved"));
    assert_non_null(strstr(r.out, "988")); /* 7 of 10: the crisis card */
    dbk_run_result_free(&r);
    r = tc_cli("--json", "log", NULL);
    assert_non_null(strstr(r.out, "\"value\":7"));
    assert_non_null(strstr(r.out, "at a party"));
    assert_non_null(strstr(r.out, "call_support"));
    assert_non_null(strstr(r.out, "urge_surfing"));
    assert_non_null(strstr(r.out, "\"resisted\""));
    dbk_run_result_free(&r);
}

/*
 * Two devices of one client edit the same entry offline: after both sync, both
 * show the same winner (the later revision), and the loser is kept and viewable.
 */
static void
test_two_devices_edit_the_same_entry(void **state)
{
    struct fx *f = *state;
    char home2[4096], link[512], id[64];
    const char *p;
    dbk_run_result r;
    json_t *j;

    (void)enrolled_client(f);
    r = tc_cli("--json", "journal", "-m", "first words", NULL);
    j = json_loads(r.out, 0, NULL);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    dbk_run_result_free(&r);
    r = tc_cli("status", NULL);
    p = strstr(r.out, "daybook login '");
    assert_non_null(p);
    snprintf(link, sizeof link, "%.*s", (int)strcspn(p + 15, "'"), p + 15);
    dbk_run_result_free(&r);
    snprintf(home2, sizeof home2, "%s/second", f->home);
    setenv("DAYBOOK_HOME", home2, 1);
    r = tc_cli("login", link, NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);

    /* Both edit while offline (neither syncs in between). */
    setenv("DAYBOOK_HOME", f->home, 1);
    r = tc_cli("edit", id, "-m", "edited on the phone", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", home2, 1);
    usleep(5000); /* a later clock on the second device: it wins */
    r = tc_cli("edit", id, "-m", "edited on the laptop", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);

    /* Sync both, in either order, twice: they converge. */
    for (int round = 0; round < 2; round++) {
        setenv("DAYBOOK_HOME", f->home, 1);
        r = tc_cli("sync", NULL);
        assert_int_equal(r.status, 0);
        dbk_run_result_free(&r);
        setenv("DAYBOOK_HOME", home2, 1);
        r = tc_cli("sync", NULL);
        assert_int_equal(r.status, 0);
        dbk_run_result_free(&r);
    }
    for (int dev = 0; dev < 2; dev++) {
        setenv("DAYBOOK_HOME", dev == 0 ? f->home : home2, 1);
        r = tc_cli("show", id, NULL);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, "edited on the laptop"));
        assert_null(strstr(r.out, "edited on the phone"));
        dbk_run_result_free(&r);
        r = tc_cli("show", id, "--revisions", NULL);
        assert_int_equal(r.status, 0);
        if (dev == 0) /* the phone kept its losing edit, viewable */
            assert_non_null(strstr(r.out, "edited on the phone"));
        dbk_run_result_free(&r);
    }
    setenv("DAYBOOK_HOME", f->home, 1);
}

/* A full disk: a clear message, nothing lost, and writing works again after. */
static void
test_full_disk(void **state)
{
    struct fx *f = *state;
    char home[4096], filler[4200], opts[] = "size=2m";
    const char *mnt[] = {"mount", "-t", "tmpfs", "-o", opts, "tmpfs", home, NULL};
    const char *umnt[] = {"umount", home, NULL};
    dbk_run_result r;

    snprintf(home, sizeof home, "%s/tiny", f->home);
    mkdir(home, 0700);
    assert_int_equal(dbk_run(mnt, NULL, 30, &r), 0);
    int mounted = r.status == 0;
    dbk_run_result_free(&r);
    if (!mounted)
        skip(); /* needs root to mount a small filesystem */
    /* Unmounted at the end even if an assertion fails midway (teardown runs rm -rf). */
    setenv("DAYBOOK_HOME", home, 1);
    r = tc_cli("init", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("journal", "-m", "written before the disk filled", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    snprintf(filler, sizeof filler, "%s/filler", home);
    {
        FILE *w = fopen(filler, "w");
        char block[4096];
        memset(block, 'x', sizeof block);
        while (w != NULL && fwrite(block, 1, sizeof block, w) == sizeof block && fflush(w) == 0)
            ;
        if (w)
            fclose(w);
    }
    char big[8192];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    int refused = 0;
    for (int i = 0; i < 5 && !refused; i++) {
        r = tc_cli("journal", "-m", big, NULL);
        if (r.status != 0) {
            refused = 1;
            assert_non_null(strstr(r.err, "disk is full"));
        }
        dbk_run_result_free(&r);
    }
    assert_true(refused);
    unlink(filler);
    r = tc_cli("--json", "log", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "written before the disk filled"));
    dbk_run_result_free(&r);
    r = tc_cli("journal", "-m", "after freeing space", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    setenv("DAYBOOK_HOME", f->home, 1);
    assert_int_equal(dbk_run(umnt, NULL, 30, &r), 0);
    dbk_run_result_free(&r);
}

/*
 * kill -9 of `daybook sync` at random points, over and over, while 300 entries
 * wait: afterwards one more sync completes and the server has every entry exactly
 * once, and the local outbox is empty.
 */
static void
test_kill9_during_cli_sync(void **state)
{
    struct fx *f = *state;
    dbk_id me = enrolled_client(f);
    const char *argv[] = {dbk_bin("DAYBOOK"), "sync", NULL};
    dbk_run_result r;
    json_t *seen;
    int killed = 0, held;

    /* Keys cached in the kernel keyring for this test (no Argon2id per command);
     * `daybook lock` at the end leaves nothing behind. */
    setenv("DAYBOOK_UNLOCK_SECONDS", "300", 1);
    r = tc_cli("unlock", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    for (int i = 0; i < 300; i++) {
        char n[8];
        snprintf(n, sizeof n, "%d", i % 11);
        r = tc_cli("craving", "--intensity", n, "--outcome", "resisted", NULL);
        assert_int_equal(r.status, 0);
        dbk_run_result_free(&r);
    }
    srand(12345);
    for (int round = 0; round < 12; round++) {
        pid_t pid;
        int st;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 1, 0);
        assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        usleep((useconds_t)(20000 + rand() % 150000));
        if (kill(pid, SIGKILL) == 0)
            killed++;
        waitpid(pid, &st, 0);
    }
    r = tc_cli("--json", "sync", NULL);
    if (r.status != 0)
        fail_msg("final sync: %s", r.err);
    assert_non_null(strstr(r.out, "\"pending\":0"));
    dbk_run_result_free(&r);
    seen = counselor_reads(f, &me);
    /* The server keeps one revision per record: a lost entry is a missing record, a
     * duplicated one a second record id minted for the same entry. */
    held = (int)json_array_size(seen);
    json_decref(seen);
    dbk_report("CLI killed mid-sync", "kill -9 of `daybook sync` at random points",
               "killed %d times over 300 queued entries; losses: %d, duplicates: %d", killed,
               held < 300 ? 300 - held : 0, held > 300 ? held - 300 : 0);
    assert_int_equal(held, 300);
    assert_int_equal(log_count(), 301); /* and the consent kept at enrollment */
    r = tc_cli("lock", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    setenv("DAYBOOK_UNLOCK_SECONDS", "0", 1);
}

/* A damaged local file: a clear message, never a crash or a silent empty result. */
static void
test_corrupt_local_file(void **state)
{
    struct fx *f = *state;
    char db[4096];
    dbk_run_result r;
    FILE *w;

    (void)enrolled_client(f);
    r = tc_cli("journal", "-m", "before the damage", NULL);
    dbk_run_result_free(&r);
    /* The write-ahead log is kept between commands, so it may hold the newest copy of
     * the header page: the damage is to both files, as a failing disk would do. */
    for (int k = 0; k < 2; k++) {
        snprintf(db, sizeof db, "%s/daybook.db%s", f->home, k ? "-wal" : "");
        w = fopen(db, "r+b");
        if (w == NULL && k == 1)
            break; /* no log left */
        assert_non_null(w);
        fseek(w, 0, SEEK_SET);
        fwrite("this is not a database file at all", 1, 34, w);
        fclose(w);
    }
    r = tc_cli("log", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "is damaged"));
    assert_non_null(strstr(r.err, "daybook login"));
    dbk_run_result_free(&r);
    dbk_plaincheck_forget(f->home); /* damaged on purpose: not for the plaintext check */
}

/*
 * Two commands on one profile: a `daybook craving` stores a later clock while a
 * sync, which loaded the clock when it opened the profile, is on the network. The
 * sync must not store its older clock over it, and a clock issued afterwards by a
 * session opened before must still be greater than the stored one; otherwise a
 * later edit on this device could lose to an earlier one.
 */
static void
test_clock_never_goes_back(void **state)
{
    struct fx *f = *state;
    (void)client_id(f); /* daybook init */
    char *uri = invite_uri(f, f->co.keys->sign_pk, f->co.keys->box_pk);
    dbk_run_result r = tc_cli("enroll", uri, "--yes", NULL);
    dbk_session a;
    dbk_local *other;
    uint64_t ahead, c;

    free(uri);
    if (r.status != 0)
        fail_msg("enroll: %s", r.err);
    dbk_run_result_free(&r);
    r = tc_cli("journal", "-m", "to push", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);

    assert_int_equal(dbk_session_open(&a, false), DBK_OK); /* the sync's session */
    /* Meanwhile the other command: its clock an hour ahead of anything the sync sees
     * (a clock it issued, stored as dbk_session_clock stores it). */
    ahead = dbk_hlc_pack(dbk_hlc_wall_ms() + 3600 * 1000, 7);
    assert_int_equal(dbk_local_open(f->home, false, &other), DBK_OK);
    assert_int_equal(dbk_local_put_int(other, "hlc", (int64_t)ahead), DBK_OK);
    dbk_sync_stats st;
    assert_int_equal(dbk_sync(&a, &st), DBK_OK);
    assert_int_equal(st.pending, 0);
    assert_true((uint64_t)dbk_local_get_int(other, "hlc", 0) >= ahead);

    /* And a write from the session opened before the other command stored its clock. */
    ahead += 1000 << 16;
    assert_int_equal(dbk_local_put_int(other, "hlc", (int64_t)ahead), DBK_OK);
    assert_int_equal(dbk_session_clock(&a, false, &c), DBK_OK);
    assert_true(c > ahead);
    assert_int_equal((uint64_t)dbk_local_get_int(other, "hlc", 0), c);
    dbk_local_close(other);
    dbk_session_close(&a);
}

/* The hex of an id, for SQL on the server's file. */
static const char *
hex_id(const dbk_id *id, char out[33])
{
    for (size_t i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", id->b[i]);
    return out;
}

/*
 * A grantee writes only records it created (proto/TRUST.md T7). The server, turned,
 * serves a newer revision of the client's own journal entry that the counselor sealed
 * with the stream key of its grant and signed with its own (pinned, verifying) key:
 * the client keeps its entry as it wrote it, and its sync says it refused a revision
 * (exit 1). The real server refuses such a write, so the revision goes into its
 * SQLite file directly.
 */
static void
test_grantees_revision_of_the_clients_entry_is_refused(void **state)
{
    struct fx *f = *state;
    char path[4200], sh[33], rh[33], ah[33], sql[512], *upd, *hex;
    unsigned char key[32], client_pk[32], *env, *forged, *plain;
    size_t len, flen, plen;
    dbk_id stream, record;
    sqlite3 *db;
    sqlite3_stmt *st;
    int leaked = 0;

    if (dbk_test_pg())
        skip(); /* the revision is written into the SQLite file */
    dbk_id me = enrolled_client(f);
    dbk_run_result r = tc_cli("journal", "-m", "my own words, kept", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    r = tc_cli("sync", NULL);
    assert_int_equal(r.status, 0);
    dbk_run_result_free(&r);
    json_t *lg = tc_json_of(tc_cli("--json", "log", "--type", "journal", NULL), "log");
    const char *id = json_string_value(json_object_get(json_array_get(lg, 0), "id"));
    assert_non_null(id);
    assert_int_equal(dbk_id_from_text(&record, id, strlen(id)), 0);
    json_decref(lg);

    /* The counselor holds the stream key through its grant, and the entry as pushed. */
    assert_true(tc_counselor_stream(&f->srv, &f->co, &me, &stream, key, client_pk, NULL));
    snprintf(path, sizeof path, "%s/daybook.db", f->srv.data_dir);
    snprintf(sql, sizeof sql,
             "SELECT envelope FROM records WHERE stream = x'%s' AND record = x'%s'",
             hex_id(&stream, sh), hex_id(&record, rh));
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    len = (size_t)sqlite3_column_bytes(st, 0);
    env = malloc(len);
    memcpy(env, sqlite3_column_blob(st, 0), len);
    sqlite3_finalize(st);
    sqlite3_close(db);
    dbk_envelope_hdr h;
    assert_int_equal(dbk_envelope_parse(env, len, &h), DBK_OK);
    dbk_envelope_expect ex = {&stream, &record, h.epoch, &me, client_pk};
    assert_int_equal(dbk_envelope_open(env, len, &ex, key, &plain, &plen), DBK_OK);
    json_t *doc = json_loadb((const char *)plain, plen, 0, NULL);
    dbk_plaintext_free(plain, plen);
    assert_non_null(doc);
    free(env);

    /* A newer revision of that record, by the counselor, signed with its own key. */
    json_object_set_new(doc, "text", json_string("the counselor's words, not mine"));
    char *pt = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    h.author = f->co.id;
    h.rev.device = f->co.device;
    h.rev.clock = dbk_hlc_pack(dbk_hlc_ms(h.rev.clock) + 60000, 0);
    assert_int_equal(dbk_envelope_seal(&h, key, f->co.keys->sign_sk, (const unsigned char *)pt,
                                       strlen(pt), NULL, &forged, &flen),
                     DBK_OK);
    free(pt);
    hex = malloc(2 * flen + 1);
    for (size_t i = 0; i < flen; i++)
        snprintf(hex + 2 * i, 3, "%02x", forged[i]);
    free(forged);
    upd = malloc(2 * flen + 1024);
    sprintf(upd,
            "UPDATE streams SET seq = seq + 1 WHERE id = x'%s';"
            "UPDATE records SET envelope = x'%s', clock = %llu, seq = (SELECT seq FROM streams "
            "WHERE id = x'%s') WHERE stream = x'%s' AND record = x'%s';"
            "UPDATE accounts SET grants_seq = grants_seq + 1 WHERE id = x'%s';",
            sh, hex, (unsigned long long)h.rev.clock, sh, sh, rh, hex_id(&me, ah));
    free(hex);
    char *err = NULL;
    assert_int_equal(dbk_server_stop(&f->srv), 0);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, upd, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("sql: %s", err);
    assert_int_equal(sqlite3_total_changes(db), 3);
    sqlite3_close(db);
    free(upd);
    assert_int_equal(dbk_server_restart(&f->srv, NULL), 0);

    /* The client syncs: it refuses the revision and says so. */
    r = tc_cli("--json", "sync", NULL);
    json_t *sj = json_loads(r.out, 0, NULL);
    json_int_t refused =
        json_integer_value(json_object_get(json_object_get(sj, "refused"), "revisions"));
    if (r.status == 0 || refused != 1 || strstr(r.err, "newer revision") == NULL) {
        fprintf(stderr, "sync: exit %d, refused.revisions %lld, stderr: %s\n", r.status,
                (long long)refused, r.err);
        leaked++;
    }
    json_decref(sj);
    dbk_run_result_free(&r);
    /* Its entry stays as it wrote it. */
    lg = tc_json_of(tc_cli("--json", "log", "--type", "journal", NULL), "log after the sync");
    char *shown = json_dumps(lg, 0);
    if (json_array_size(lg) != 1 || strstr(shown, "my own words, kept") == NULL ||
        strstr(shown, "the counselor's words") != NULL) {
        fprintf(stderr, "log after the sync: %s\n", shown);
        leaked++;
    }
    free(shown);
    json_decref(lg);
    assert_int_equal(leaked, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enroll_log_sync_and_counselor_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline_day_syncs_when_server_returns, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_substituted_counselor_key_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_enroll_check_uses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clear_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quickstart_with_the_clis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_restore_nothing_stranded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passwd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_during_cli_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_local_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_devices_edit_the_same_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interactive_prompt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clock_never_goes_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grantees_revision_of_the_clients_entry_is_refused,
                                        setup, teardown),
    };
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
