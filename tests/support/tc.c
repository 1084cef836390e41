/* The test protocol client; see tc.h. */
#include "tc.h"

#include "dbk/base64.h"
#include "dbk/error.h"
#include "dbk/fingerprint.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static json_t *
b64(const unsigned char *b, size_t len)
{
    char *s = malloc(DBK_B64_ENCODED_LEN(len) + 1);
    (void)dbk_b64_encode(s, DBK_B64_ENCODED_LEN(len) + 1, b, len);
    json_t *j = json_string(s);
    free(s);
    return j;
}

json_t *
tc_id(const dbk_id *id)
{
    return b64(id->b, DBK_ID_BYTES);
}

const char *
tc_path(const char *fmt, const dbk_id *id)
{
    static char buf[256];
    char t[DBK_ID_TEXT_LEN + 1];
    const char *hole = strstr(fmt, "%s");
    size_t pre;

    assert_non_null(hole);
    pre = (size_t)(hole - fmt);
    assert_true(strlen(fmt) + DBK_ID_TEXT_LEN < sizeof buf);
    dbk_id_to_text(id, t);
    memcpy(buf, fmt, pre);
    memcpy(buf + pre, t, DBK_ID_TEXT_LEN);
    strcpy(buf + pre + DBK_ID_TEXT_LEN, hole + 2);
    return buf;
}

void
tc_account_init(tc_account *a, bool counselor, const char *passphrase)
{
    memset(a, 0, sizeof *a);
    a->counselor = counselor;
    snprintf(a->passphrase, sizeof a->passphrase, "%s", passphrase);
    dbk_id_random(&a->id);
    dbk_id_random(&a->device);
    dbk_id_random(&a->shared);
    dbk_id_random(&a->priv);
    randombytes_buf(a->shared_key[1], 32);
    randombytes_buf(a->priv_key, 32);
    a->shared_epoch = 1;
    a->keys = dbk_account_keys_new();
    dbk_kdf_params_new(&a->kdf);
    a->kdf.opslimit = DBK_KDF_OPS_MIN; /* the floor: quick, and still accepted */
    assert_int_equal(dbk_pass_keys_derive(passphrase, strlen(passphrase), &a->kdf, &a->pass),
                     DBK_OK);
    assert_int_equal(dbk_bundle_seal(a->bundle, &a->id, a->keys, a->pass, &a->kdf, 1, NULL),
                     DBK_OK);
}

void
tc_account_free(tc_account *a)
{
    dbk_account_keys_free(a->keys);
    dbk_pass_keys_free(a->pass);
    sodium_memzero(a, sizeof *a);
}

json_t *
tc_req(const dbk_server *s, const tc_account *as, const char *method, const char *path,
       json_t *body, long *status)
{
    char url[512], auth[128];
    const char *hdrs[2] = {NULL, NULL};
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    dbk_http_resp r;
    json_t *j = NULL;

    snprintf(url, sizeof url, "%s%s", s->base_url, path);
    if (as != NULL && as->token[0]) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", as->token);
        hdrs[0] = auth;
    }
    assert_int_equal(dbk_http(method, url, hdrs, text, text ? strlen(text) : 0, &r), 0);
    free(text);
    *status = r.status;
    if (r.body_len > 0)
        j = dbk_http_json(&r);
    dbk_http_resp_free(&r);
    return j;
}

const char *
tc_code(json_t *resp)
{
    const char *c = json_string_value(json_object_get(json_object_get(resp, "error"), "code"));
    return c ? c : "";
}

const char *
tc_setup_code(const dbk_server *s, const char *name)
{
    static char code[64];
    const char *argv[] = {dbk_bin("DAYBOOKD"), "counselor", "add", name, "--data-dir",
                          s->data_dir, NULL};
    dbk_run_result r;
    const char *p;

    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    if (r.status != 0)
        fail_msg("counselor add failed: %s", r.err);
    p = strstr(r.out, "once): ");
    assert_non_null(p);
    snprintf(code, sizeof code, "%.22s", p + 7);
    dbk_run_result_free(&r);
    return code;
}

static json_t *
self_grant(tc_account *a, const dbk_id *stream, uint32_t epoch, const unsigned char key[32])
{
    return tc_grant_json(a, stream, epoch, key, &a->id, a->keys->box_pk);
}

json_t *
tc_grant_json(tc_account *owner, const dbk_id *stream, uint32_t epoch, const unsigned char key[32],
              const dbk_id *grantee_id, const unsigned char grantee_box_pk[32])
{
    static const char consent[] = "{\"type\":\"consent\",\"v\":1,\"purpose\":\"treatment\"}";
    dbk_grant_hdr h = {.stream = *stream, .epoch = epoch, .owner = owner->id,
                       .grantee = *grantee_id, .created_at = dbk_hlc_wall_ms(), .expires_at = 0};
    unsigned char *g;
    size_t len;
    assert_int_equal(dbk_grant_seal(&h, key, consent, strlen(consent), grantee_box_pk,
                                    owner->keys->sign_sk, &g, &len),
                     DBK_OK);
    json_t *j = b64(g, len);
    free(g);
    return j;
}

json_t *
tc_enroll(const dbk_server *s, tc_account *a, const char *code, long *status)
{
    json_t *streams = json_array(), *grants = json_array(), *body, *resp;

    if (!a->counselor) {
        json_array_append_new(streams, json_pack("{s:o, s:s}", "stream", tc_id(&a->shared),
                                                 "kind", "shared"));
        json_array_append_new(grants, self_grant(a, &a->shared, 1, a->shared_key[1]));
    }
    json_array_append_new(streams,
                          json_pack("{s:o, s:s}", "stream", tc_id(&a->priv), "kind", "private"));
    json_array_append_new(grants, self_grant(a, &a->priv, 1, a->priv_key));
    body = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o}", "code", code,
                     "account", tc_id(&a->id), "ed25519_pk", b64(a->keys->sign_pk, 32),
                     "x25519_pk", b64(a->keys->box_pk, 32), "login_pk", b64(a->pass->login_pk, 32),
                     "bundle", b64(a->bundle, sizeof a->bundle), "device", tc_id(&a->device),
                     "device_name", "test device", "streams", streams, "grants", grants);
    resp = tc_req(s, NULL, "POST", "/v1/enroll", body, status);
    json_decref(body);
    if (*status == 201)
        snprintf(a->token, sizeof a->token, "%s",
                 json_string_value(json_object_get(resp, "token")));
    return resp;
}

void
tc_new_counselor(const dbk_server *s, tc_account *c, const char *name)
{
    long st;
    tc_account_init(c, true, "counselor passphrase");
    json_t *r = tc_enroll(s, c, tc_setup_code(s, name), &st);
    if (st != 201)
        fail_msg("counselor enroll: %ld %s", st, tc_code(r));
    json_decref(r);
}

void
tc_new_client(const dbk_server *s, tc_account *client, tc_account *counselor)
{
    long st;
    json_t *empty = json_object();
    json_t *r = tc_req(s, counselor, "POST", "/v1/invites", empty, &st);
    char code[32];

    json_decref(empty);
    assert_int_equal(st, 201);
    snprintf(code, sizeof code, "%s", json_string_value(json_object_get(r, "code")));
    json_decref(r);
    tc_account_init(client, false, "client passphrase");
    r = tc_enroll(s, client, code, &st);
    if (st != 201)
        fail_msg("client enroll: %ld %s", st, tc_code(r));
    json_decref(r);
    assert_int_equal(tc_grant(s, client, counselor, 1), 200);
}

long
tc_grant(const dbk_server *s, tc_account *client, tc_account *counselor, uint32_t epoch)
{
    long st;
    json_t *body = json_pack("{s:[o]}", "grants",
                             tc_grant_json(client, &client->shared, epoch,
                                           client->shared_key[epoch], &counselor->id,
                                           counselor->keys->box_pk));
    json_t *r = tc_req(s, client, "POST", tc_path("/v1/streams/%s/grants", &client->shared), body,
                       &st);
    json_decref(body);
    json_decref(r);
    return st;
}

void
tc_revoke_and_rotate(const dbk_server *s, tc_account *client, tc_account *counselor)
{
    char path[512];
    char t[DBK_ID_TEXT_LEN + 1];
    long st;
    json_t *r, *body;

    dbk_id_to_text(&counselor->id, t);
    snprintf(path, sizeof path, "%s/%s", tc_path("/v1/streams/%s/grants", &client->shared), t);
    r = tc_req(s, client, "DELETE", path, NULL, &st);
    assert_int_equal(st, 200);
    json_decref(r);
    client->shared_epoch++;
    randombytes_buf(client->shared_key[client->shared_epoch], 32);
    body = json_pack("{s:[o]}", "grants",
                     self_grant(client, &client->shared, client->shared_epoch,
                                client->shared_key[client->shared_epoch]));
    r = tc_req(s, client, "POST", tc_path("/v1/streams/%s/grants", &client->shared), body, &st);
    assert_int_equal(st, 200);
    json_decref(body);
    json_decref(r);
}

json_t *
tc_envelope(tc_account *author, const dbk_id *stream, uint32_t epoch, const unsigned char key[32],
            const dbk_id *record, const char *plaintext)
{
    dbk_envelope_hdr h = {.stream = *stream, .record = *record, .epoch = epoch,
                          .author = author->id};
    unsigned char *env;
    size_t len;
    h.rev.clock = dbk_hlc_local(&author->hlc, dbk_hlc_wall_ms());
    h.rev.device = author->device;
    assert_int_equal(dbk_envelope_seal(&h, key, author->keys->sign_sk,
                                       (const unsigned char *)plaintext, strlen(plaintext), NULL,
                                       &env, &len),
                     DBK_OK);
    json_t *j = b64(env, len);
    free(env);
    return j;
}

char *
tc_open(const char *text, const tc_account *author, const dbk_id *stream, uint32_t epoch,
        const unsigned char key[32])
{
    size_t n = strlen(text), len, plen;
    unsigned char *env = malloc(DBK_B64_DECODED_MAX(n) + 1), *plain;
    dbk_envelope_expect e = {stream, NULL, epoch, &author->id, author->keys->sign_pk};
    int rc;

    assert_int_equal(dbk_b64_decode(env, DBK_B64_DECODED_MAX(n) + 1, &len, text, n), 0);
    rc = dbk_envelope_open(env, len, &e, key, &plain, &plen);
    free(env);
    if (rc != DBK_OK)
        return NULL;
    char *out = strndup((const char *)plain, plen);
    dbk_plaintext_free(plain, plen);
    return out;
}

long
tc_login(const dbk_server *s, tc_account *a, const char *passphrase, json_t **resp)
{
    json_t *body = json_pack("{s:o, s:o}", "account", tc_id(&a->id), "device", tc_id(&a->device));
    json_t *r, *kdf;
    dbk_kdf_params p;
    dbk_pass_keys *pk;
    dbk_id server;
    unsigned char ch[32], sig[64];
    const char *t;
    long st;

    r = tc_req(s, NULL, "POST", "/v1/login/start", body, &st);
    json_decref(body);
    if (st != 200) { /* e.g. 429: report it like a failed finish */
        if (resp != NULL)
            *resp = r;
        else
            json_decref(r);
        return st;
    }
    kdf = json_object_get(r, "kdf");
    p.opslimit = (uint64_t)json_integer_value(json_object_get(kdf, "opslimit"));
    p.memlimit = (uint64_t)json_integer_value(json_object_get(kdf, "memlimit"));
    t = json_string_value(json_object_get(kdf, "salt"));
    assert_int_equal(dbk_b64_decode_exact(p.salt, 16, t, strlen(t)), 0);
    t = json_string_value(json_object_get(r, "challenge"));
    assert_int_equal(dbk_b64_decode_exact(ch, 32, t, strlen(t)), 0);
    t = json_string_value(json_object_get(r, "server_id"));
    assert_int_equal(dbk_id_from_text(&server, t, strlen(t)), 0);
    assert_int_equal(dbk_pass_keys_derive(passphrase, strlen(passphrase), &p, &pk), DBK_OK);
    dbk_login_sign(sig, pk, &server, &a->id, ch, &a->device);
    dbk_pass_keys_free(pk);
    json_decref(r);

    body = json_pack("{s:o, s:o, s:o, s:o}", "account", tc_id(&a->id), "device",
                     tc_id(&a->device), "challenge", b64(ch, 32), "signature", b64(sig, 64));
    r = tc_req(s, NULL, "POST", "/v1/login/finish", body, &st);
    json_decref(body);
    if (st == 200)
        snprintf(a->token, sizeof a->token, "%s", json_string_value(json_object_get(r, "token")));
    if (resp != NULL)
        *resp = r;
    else
        json_decref(r);
    return st;
}

dbk_run_result
tc_cli(const char *a1, ...)
{
    const char *argv[32] = {dbk_bin("DAYBOOK"), a1};
    size_t n = 2;
    va_list ap;
    dbk_run_result r;

    va_start(ap, a1);
    while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    return r;
}

char *
tc_invite_uri(const dbk_server *s, const tc_account *co, const unsigned char *fp_sign_pk,
              const unsigned char *fp_box_pk)
{
    long st;
    json_t *empty = json_object();
    json_t *r = tc_req(s, co, "POST", "/v1/invites", empty, &st);
    char fp[DBK_FP_SHORT_LEN + 1], cid[DBK_ID_TEXT_LEN + 1], *uri = malloc(512);

    json_decref(empty);
    assert_int_equal(st, 201);
    assert_non_null(uri);
    dbk_fingerprint_short(fp, &co->id, fp_sign_pk, fp_box_pk);
    dbk_id_to_text(&co->id, cid);
    snprintf(uri, 512, "daybook://enroll?server=http%%3A%%2F%%2F127.0.0.1%%3A%d&code=%s&fp=%s"
                       "&counselor=%s",
             s->port, json_string_value(json_object_get(r, "code")), fp, cid);
    json_decref(r);
    return uri;
}

bool
tc_counselor_stream(const dbk_server *s, const tc_account *co, const dbk_id *client,
                    dbk_id *stream, unsigned char key[32], unsigned char client_pk[32],
                    char **consent)
{
    long st;
    json_t *grants, *g, *keys;
    size_t i;
    bool have = false;
    char path[256], cid[DBK_ID_TEXT_LEN + 1];

    if (consent != NULL)
        *consent = NULL;
    dbk_id_to_text(client, cid);
    snprintf(path, sizeof path, "/v1/accounts/%s/keys", cid);
    keys = tc_req(s, co, "GET", path, NULL, &st);
    assert_int_equal(st, 200);
    const char *pk = json_string_value(json_object_get(keys, "ed25519_pk"));
    assert_int_equal(dbk_b64_decode_exact(client_pk, 32, pk, strlen(pk)), 0);
    json_decref(keys);
    grants = tc_req(s, co, "GET", "/v1/grants", NULL, &st);
    assert_int_equal(st, 200);
    json_array_foreach(json_object_get(grants, "grants"), i, g) {
        const char *gb = json_string_value(json_object_get(g, "grant"));
        unsigned char gbytes[20000];
        size_t glen;
        dbk_grant_hdr h;
        char *c;
        if (strcmp(json_string_value(json_object_get(g, "owner")), cid) != 0 ||
            strcmp(json_string_value(json_object_get(g, "state")), "active") != 0)
            continue;
        assert_int_equal(dbk_b64_decode(gbytes, sizeof gbytes, &glen, gb, strlen(gb)), 0);
        dbk_grant_expect x = {client, client_pk, &co->id, co->keys->box_pk, co->keys->box_sk,
                              dbk_hlc_wall_ms()};
        assert_int_equal(dbk_grant_open(gbytes, glen, &x, &h, key, &c), 0);
        if (consent != NULL) {
            free(*consent);
            *consent = c;
        } else {
            free(c);
        }
        *stream = h.stream;
        have = true;
    }
    json_decref(grants);
    return have;
}

/* Runs the CLI and fails the test unless it exits 0; returns its stdout parsed as JSON
 * when want_json (else NULL). */
static json_t *
cli_ok(bool want_json, const char *const *argv, const char *what)
{
    dbk_run_result r;
    json_t *j = NULL;
    assert_int_equal(dbk_run(argv, NULL, 60, &r), 0);
    if (r.status != 0)
        fail_msg("%s: exit %d: %s", what, r.status, r.err);
    if (want_json && (j = json_loads(r.out, 0, NULL)) == NULL)
        fail_msg("%s: not JSON: %s", what, r.out);
    dbk_run_result_free(&r);
    return j;
}

void
tc_passphrase_file(const char *dir, const char *passphrase)
{
    char pass[4200];
    FILE *f;
    assert_true((size_t)snprintf(pass, sizeof pass, "%s/passphrase", dir) < sizeof pass);
    assert_non_null(f = fopen(pass, "w"));
    fprintf(f, "%s\n", passphrase);
    assert_int_equal(fclose(f), 0);
    setenv("DAYBOOK_PASSPHRASE_FILE", pass, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", DBK_TEST_UNLOCK_SECONDS, 1);
}

void
tc_setup_uri(const dbk_server *s, const char *name, char *out, size_t cap)
{
    char url[64];
    dbk_run_result r;

    snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
    const char *add[] = {dbk_bin("DAYBOOKD"), "counselor", "add", name, "--url", url,
                         "--data-dir",        s->data_dir, NULL};
    assert_int_equal(dbk_run(add, NULL, 30, &r), 0);
    assert_int_equal(r.status, 0);
    const char *at = strstr(r.out, "setup URI: ");
    assert_non_null(at);
    snprintf(out, cap, "%.*s", (int)strcspn(at + 11, "\n"), at + 11);
    dbk_run_result_free(&r);
}

void
tc_cli_pair(const dbk_server *s, tc_cli_pair_t *p)
{
    char uri[1024];
    const char *bin = dbk_bin("DAYBOOK");
    json_t *j;

    p->home = dbk_tmpdir("pair");
    tc_passphrase_file(p->home, "a long test passphrase");
    snprintf(p->counselor_home, sizeof p->counselor_home, "%s/counselor", p->home);
    snprintf(p->client_home, sizeof p->client_home, "%s/client", p->home);
    tc_setup_uri(s, "Dana Reyes", uri, sizeof uri);

    setenv("DAYBOOK_HOME", p->counselor_home, 1);
    const char *init[] = {bin, "--json", "init", NULL};
    j = cli_ok(true, init, "counselor init");
    snprintf(p->counselor_id, sizeof p->counselor_id, "%s",
             json_string_value(json_object_get(j, "account")));
    json_decref(j);
    const char *enroll[] = {bin, "enroll", uri, "--yes", NULL};
    cli_ok(false, enroll, "counselor enroll");
    const char *invite[] = {bin, "--json", "invite", NULL};
    j = cli_ok(true, invite, "invite");
    snprintf(uri, sizeof uri, "%s", json_string_value(json_object_get(j, "uri")));
    json_decref(j);

    setenv("DAYBOOK_HOME", p->client_home, 1);
    j = cli_ok(true, init, "client init");
    snprintf(p->client_id, sizeof p->client_id, "%s",
             json_string_value(json_object_get(j, "account")));
    json_decref(j);
    cli_ok(false, enroll, "client enroll");
}

void
tc_cli_another_client(const tc_cli_pair_t *p, const char *sub, char *home, size_t cap,
                      char id[DBK_ID_TEXT_LEN + 1])
{
    char uri[1024];
    json_t *j;

    setenv("DAYBOOK_HOME", p->counselor_home, 1);
    j = tc_json_of(tc_cli("--json", "invite", NULL), "invite");
    snprintf(uri, sizeof uri, "%s", json_string_value(json_object_get(j, "uri")));
    json_decref(j);
    snprintf(home, cap, "%s/%s", p->home, sub);
    setenv("DAYBOOK_HOME", home, 1);
    j = tc_json_of(tc_cli("--json", "init", NULL), "another client's init");
    if (id != NULL)
        snprintf(id, DBK_ID_TEXT_LEN + 1, "%s", json_string_value(json_object_get(j, "account")));
    json_decref(j);
    tc_ok(tc_cli("enroll", uri, "--yes", NULL), "another client's enroll");
}

json_t *
tc_json_of(dbk_run_result r, const char *what)
{
    json_t *j;
    if (r.status != 0)
        fail_msg("%s: exit %d: %s", what, r.status, r.err);
    if ((j = json_loads(r.out, 0, NULL)) == NULL)
        fail_msg("%s: not JSON: %s", what, r.out);
    dbk_run_result_free(&r);
    return j;
}

bool
tc_review_misses_lapse(const char *who, int run)
{
    json_t *j = tc_json_of(tc_cli("--json", "review", who, NULL), "review"),
           *d = json_object_get(j, "data");
    bool shown = json_integer_value(json_object_get(json_object_get(j, "lapses"), "count")) == 1;
    bool current =
        json_is_true(json_object_get(d, "pulled")) && json_is_false(json_object_get(d, "stale"));
    fprintf(stderr, "review %d: lapse %s, %s\n", run, shown ? "shown" : "MISSING",
            current ? "called current" : "not current");
    json_decref(j);
    return !shown && current;
}

char *
tc_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    long n;
    if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)n + 1)) != NULL) {
        if (fread(b, 1, (size_t)n, f) == (size_t)n) {
            b[n] = '\0';
        } else {
            free(b);
            b = NULL;
        }
    }
    if (f != NULL)
        fclose(f);
    return b;
}

void
tc_days_ago(int days, char out[11])
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_mday -= days;
    tm.tm_hour = 12;
    tm.tm_isdst = -1;
    t = mktime(&tm);
    localtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

long long
tc_caseload_last_sync(const dbk_server *s, const tc_account *co, const dbk_id *client)
{
    long st = 0;
    long long seen = 0;
    size_t i;
    json_t *e, *id = tc_id(client);
    json_t *r = tc_req(s, co, "GET", "/v1/caseload", NULL, &st);
    assert_int_equal(st, 200);
    json_array_foreach(json_object_get(r, "clients"), i, e) {
        if (json_equal(json_object_get(e, "account"), id))
            seen = json_integer_value(json_object_get(e, "last_sync_at"));
    }
    json_decref(r);
    json_decref(id);
    return seen;
}

void
tc_ok(dbk_run_result r, const char *what)
{
    if (r.status != 0)
        fail_msg("%s: exit %d: %s", what, r.status, r.err);
    dbk_run_result_free(&r);
}

int
tc_pair_setup(void **state)
{
    tc_pair_fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(dbk_server_start(&f->srv, NULL), 0);
    tc_cli_pair(&f->srv, &f->p);
    *state = f;
    return 0;
}

void
tc_pair_end(dbk_server *srv, tc_cli_pair_t *p)
{
    if (srv->pid > 0)
        assert_int_equal(dbk_server_stop(srv), 0);
    dbk_server_cleanup(srv);
    dbk_rmtree(p->home);
    free(p->home);
}

int
tc_pair_teardown(void **state)
{
    tc_pair_fx *f = *state;
    tc_pair_end(&f->srv, &f->p);
    free(f);
    return 0;
}
