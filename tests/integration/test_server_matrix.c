/*
 * Two matrices against a real daybookd with real clients (tests/support/tc.c):
 *
 * 1. Authorization. Six actors: a client A (shared and private streams, records in
 *    both), another client B of the same counselor, A's counselor C (holds A's
 *    grant), an unassigned counselor U, a counselor R that A granted and then
 *    revoked, and anonymous. Every route of server/routes.c is a row with one
 *    expected status per actor (proto/README.md sections 2-20); every row is run
 *    for every actor, mismatches are collected and reported together. Every error
 *    body must be exactly {"error":{"code","message"}} plus documented fields, and
 *    must not carry ids, tokens, names or envelopes.
 *
 * 2. Bad input, over raw sockets, against a server holding records: malformed
 *    HTTP, the HTTP limits, strict JSON, strict base64url, envelopes, unknown
 *    fields and query parameters, media types, batch limits, and slowloris. After
 *    all of it the server serves, the records are exactly what they were, and
 *    `daybookd check` passes.
 */
#include "tc.h"

#include "dbk/base64.h"
#include "dbk/init.h"

#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- small helpers ---- */

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *
fmt(const char *f, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, f);
    n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    assert_true(n >= 0);
    s = malloc((size_t)n + 1);
    assert_non_null(s);
    va_start(ap, f);
    vsnprintf(s, (size_t)n + 1, f, ap);
    va_end(ap);
    return s;
}

static long
now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static char *
b64_text(const unsigned char *b, size_t len)
{
    size_t n = DBK_B64_ENCODED_LEN(len) + 1;
    char *s = malloc(n);
    assert_non_null(s);
    assert_int_equal(dbk_b64_encode(s, n, b, len), 0);
    return s;
}

static json_t *
b64_json(const unsigned char *b, size_t len)
{
    char *s = b64_text(b, len);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *
random_b64(size_t len)
{
    unsigned char b[64];
    assert_true(len <= sizeof b);
    randombytes_buf(b, len);
    return b64_json(b, len);
}

static bool
id_is(json_t *v, const dbk_id *id)
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(id, t);
    return json_is_string(v) && strcmp(json_string_value(v), t) == 0;
}

/* ---- the world: accounts, ids, and the list of mismatches ---- */

enum { ACT_A, ACT_B, ACT_C, ACT_U, ACT_R, ACT_ANON, NACT };
#define NACC 5 /* A..R have accounts */

static const char *const act_name[NACT] = {"A", "B", "C", "U", "R", "anon"};

/* Counselor display names: distinctive, so that a leak is easy to see. */
static const char *const counselor_name[NACC] = {NULL, NULL, "Zorblat-Quimby-C",
                                                 "Xanthe-Vorpal-U", "Yurik-Mblaze-R"};

typedef struct secret {
    char label[32];
    char text[64];
} secret;

typedef struct world {
    dbk_server *s;
    bool have[NACC];
    tc_account acc[NACC];
    tc_account dev2[NACC]; /* shallow copies: a second logged-in device of each */
    dbk_id ghost;          /* an account id that does not exist */
    char invite_c[DBK_ID_TEXT_LEN + 1];
    json_t *grant_a_shared_c; /* A.shared epoch 2 to C, as stored */
    json_t *selfgrant_a_priv; /* A.priv epoch 1 to A, as stored */
    secret secrets[64];
    size_t nsecrets;
    char *report;
    size_t report_len, nbad, nrequests;
} world;

static void bad(world *w, const char *f, ...) __attribute__((format(printf, 2, 3)));

static void
bad(world *w, const char *f, ...)
{
    va_list ap;
    char line[1024];
    size_t n;

    va_start(ap, f);
    vsnprintf(line, sizeof line, f, ap);
    va_end(ap);
    n = strlen(line);
    w->report = realloc(w->report, w->report_len + n + 4);
    assert_non_null(w->report);
    memcpy(w->report + w->report_len, "  ", 2);
    memcpy(w->report + w->report_len + 2, line, n);
    w->report_len += n + 2;
    w->report[w->report_len++] = '\n';
    w->report[w->report_len] = '\0';
    w->nbad++;
}

static void
add_secret(world *w, const char *label, const char *text)
{
    assert_true(w->nsecrets < sizeof w->secrets / sizeof w->secrets[0]);
    snprintf(w->secrets[w->nsecrets].label, sizeof w->secrets[0].label, "%s", label);
    snprintf(w->secrets[w->nsecrets].text, sizeof w->secrets[0].text, "%s", text);
    w->nsecrets++;
}

static void
add_secret_id(world *w, const char *who, const char *what, const dbk_id *id)
{
    char label[32], t[DBK_ID_TEXT_LEN + 1];
    snprintf(label, sizeof label, "%s.%s", who, what);
    dbk_id_to_text(id, t);
    add_secret(w, label, t);
}

/* Everything that must never appear in an error body. */
static void
collect_secrets(world *w)
{
    w->nsecrets = 0;
    for (int i = 0; i < NACC; i++) {
        if (!w->have[i])
            continue;
        tc_account *a = &w->acc[i];
        add_secret_id(w, act_name[i], "id", &a->id);
        add_secret_id(w, act_name[i], "device", &a->device);
        add_secret_id(w, act_name[i], "priv", &a->priv);
        if (!a->counselor)
            add_secret_id(w, act_name[i], "shared", &a->shared);
        else
            add_secret(w, "counselor name", counselor_name[i]);
        if (a->token[0])
            add_secret(w, "token", a->token);
        if (w->dev2[i].token[0]) {
            add_secret_id(w, act_name[i], "dev2", &w->dev2[i].device);
            add_secret(w, "dev2 token", w->dev2[i].token);
        }
    }
    add_secret_id(w, "ghost", "id", &w->ghost);
    if (w->invite_c[0])
        add_secret(w, "C.invite", w->invite_c);
}

static void
check_no_secrets(world *w, const char *what, const char *text)
{
    for (size_t i = 0; i < w->nsecrets; i++)
        if (strstr(text, w->secrets[i].text) != NULL)
            bad(w, "%s: the error body leaks %s", what, w->secrets[i].label);
}

/* The error object {code, message, documented extras}; what names the request. */
static void
check_error_object(world *w, const char *what, json_t *e)
{
    static const char *const extras[] = {"stale", "current_epoch", "rotation_pending",
                                         "current_generation", "retry_after_s", NULL};
    const char *k, *code;
    json_t *v;

    if (!json_is_object(e)) {
        bad(w, "%s: \"error\" is not an object", what);
        return;
    }
    code = json_string_value(json_object_get(e, "code"));
    if (code == NULL || json_string_value(json_object_get(e, "message")) == NULL) {
        bad(w, "%s: the error has no string code and message", what);
        return;
    }
    json_object_foreach(e, k, v) {
        size_t i = 0;
        if (strcmp(k, "code") == 0 || strcmp(k, "message") == 0)
            continue;
        while (extras[i] && strcmp(extras[i], k) != 0)
            i++;
        if (extras[i] == NULL)
            bad(w, "%s: undocumented field \"%s\" in the error (%s)", what, k, code);
        else if (strcmp(code, "stale_revision") != 0 && strcmp(code, "rate_limited") != 0)
            bad(w, "%s: field \"%s\" on a %s error", what, k, code);
    }
}

/* The whole error body of a non-2xx response. Returns the parsed body or NULL. */
static json_t *
check_error_body(world *w, const char *what, const char *headers, const char *body,
                 size_t body_len)
{
    json_error_t je;
    json_t *j;
    const char *k;
    json_t *v;

    if (headers != NULL && strstr(headers, "Content-Type: application/json") == NULL)
        bad(w, "%s: the error is not application/json", what);
    j = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL || !json_is_object(j)) {
        bad(w, "%s: the error body is not a JSON object: %.80s", what, body);
        json_decref(j);
        return NULL;
    }
    json_object_foreach(j, k, v) {
        if (strcmp(k, "error") != 0)
            bad(w, "%s: extra top-level field \"%s\" beside \"error\"", what, k);
    }
    check_error_object(w, what, json_object_get(j, "error"));
    check_no_secrets(w, what, body);
    if (json_object_get(json_object_get(j, "error"), "stale") == NULL && body_len > 300)
        bad(w, "%s: an error body of %zu bytes (an envelope or a list inside?)", what,
            body_len);
    return j;
}

static const char *
err_code(json_t *j)
{
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    return c ? c : "-";
}

/* ---- set-up ---- */

static int
start_plain(void **state)
{
    dbk_server *s = calloc(1, sizeof *s);
    assert_int_equal(dbk_server_start(s, NULL), 0);
    *state = s;
    return 0;
}

static int
start_short_timeout(void **state)
{
    static const char *const args[] = {"--request-timeout-ms", "500", NULL};
    dbk_server *s = calloc(1, sizeof *s);
    assert_int_equal(dbk_server_start(s, args), 0);
    *state = s;
    return 0;
}

static int
stop(void **state)
{
    dbk_server *s = *state;
    int rc = s->pid > 0 ? dbk_server_stop(s) : 0;
    dbk_server_cleanup(s);
    free(s);
    assert_int_equal(rc, 0); /* a clean drain, and no leaks under ASan */
    return 0;
}

static long
push(world *w, tc_account *as, tc_account *author, const dbk_id *stream, uint32_t epoch,
     const unsigned char key[32], const char *plaintext)
{
    dbk_id rec;
    long st;
    dbk_id_random(&rec);
    json_t *body = json_pack("{s:[{s:o}]}", "records", "envelope",
                             tc_envelope(author, stream, epoch, key, &rec, plaintext));
    json_t *r = tc_req(w->s, as, "POST", tc_path("/v1/streams/%s/records", stream), body, &st);
    json_decref(body);
    json_decref(r);
    return st;
}

/* A second device of account i, logged in with the passphrase. */
static void
login_second_device(world *w, int i)
{
    w->dev2[i] = w->acc[i];
    dbk_id_random(&w->dev2[i].device);
    w->dev2[i].token[0] = '\0';
    assert_int_equal(tc_login(w->s, &w->dev2[i], w->acc[i].passphrase, NULL), 200);
}

static void
world_free(world *w)
{
    json_decref(w->grant_a_shared_c);
    json_decref(w->selfgrant_a_priv);
    for (int i = 0; i < NACC; i++)
        if (w->have[i])
            tc_account_free(&w->acc[i]);
    free(w->report);
    memset(w, 0, sizeof *w);
}

/* Prints the mismatches one per line (cmocka truncates long messages); returns how many. */
static size_t
print_report(world *w, const char *matrix)
{
    size_t n = w->nbad;
    if (n > 0) {
        print_error("%zu %s mismatches:\n", n, matrix);
        for (char *line = w->report, *nl; line && *line; line = nl + 1) {
            nl = strchr(line, '\n');
            *nl = '\0';
            print_error("%s\n", line);
        }
    }
    return n;
}

/* ======================================================================
 * 1. The authorization matrix
 * ====================================================================== */

typedef json_t *(*body_fn)(world *w, int actor);
typedef void (*check_fn)(world *w, int actor, const dbk_http_resp *r, json_t *j, const char *what);

enum {
    F_DEV2 = 1, /* use the actor's second-device token */
    F_TEXT = 2, /* the 2xx body is not JSON (/metrics) */
};

typedef struct mrow {
    const char *method;
    const char *path; /* {A} {A.shared} {A.priv} {A.dev} {A.dev2} {me...} {ghost} {C.invite} */
    body_fn body;
    check_fn check;   /* extra checks of a 2xx answer */
    unsigned flags;
    int expect[NACT]; /* A, B, C, U, R, anon; 0: not run */
} mrow;

/* The account an actor acts as in bodies: anonymous borrows A's. */
static tc_account *
me(world *w, int actor)
{
    return &w->acc[actor == ACT_ANON ? ACT_A : actor];
}

static const char *
lookup(world *w, int actor, const char *key)
{
    static char t[DBK_ID_TEXT_LEN + 1];
    static const char *const names[] = {"A", "B", "C", "U", "R", "me"};
    char who[8];
    const char *dot = strchr(key, '.'), *field = dot ? dot + 1 : "";
    size_t wl = dot ? (size_t)(dot - key) : strlen(key);
    int i;

    if (strcmp(key, "ghost") == 0) {
        dbk_id_to_text(&w->ghost, t);
        return t;
    }
    if (strcmp(key, "C.invite") == 0)
        return w->invite_c;
    assert_true(wl < sizeof who);
    memcpy(who, key, wl);
    who[wl] = '\0';
    for (i = 0; i < 6 && strcmp(names[i], who) != 0; i++)
        ;
    if (i == 6)
        fail_msg("bad placeholder {%s}", key);
    if (i == 5)
        i = actor == ACT_ANON ? ACT_A : actor;
    const tc_account *a = &w->acc[i];
    if (*field == '\0')
        dbk_id_to_text(&a->id, t);
    else if (strcmp(field, "shared") == 0)
        dbk_id_to_text(&a->shared, t);
    else if (strcmp(field, "priv") == 0)
        dbk_id_to_text(&a->priv, t);
    else if (strcmp(field, "dev") == 0)
        dbk_id_to_text(&a->device, t);
    else if (strcmp(field, "dev2") == 0)
        dbk_id_to_text(&w->dev2[i].device, t);
    else
        fail_msg("bad placeholder {%s}", key);
    return t;
}

static void
expand(world *w, int actor, const char *tpl, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = tpl; *p;) {
        const char *v, *end;
        char key[32];
        size_t n;
        if (*p != '{') {
            assert_true(o + 1 < cap);
            out[o++] = *p++;
            continue;
        }
        end = strchr(p, '}');
        assert_non_null(end);
        assert_true((size_t)(end - p) < sizeof key);
        memcpy(key, p + 1, (size_t)(end - p - 1));
        key[end - p - 1] = '\0';
        v = lookup(w, actor, key);
        n = strlen(v);
        assert_true(o + n + 1 < cap);
        memcpy(out + o, v, n);
        o += n;
        p = end + 1;
    }
    out[o] = '\0';
}

/* ---- bodies ---- */

static json_t *
b_empty(world *w, int actor)
{
    (void)w, (void)actor;
    return json_object();
}

static json_t *
b_login_start(world *w, int actor)
{
    tc_account *a = me(w, actor);
    return json_pack("{s:o, s:o}", "account", tc_id(&a->id), "device", tc_id(&a->device));
}

static json_t *
b_login_finish_unknown_challenge(world *w, int actor)
{
    tc_account *a = me(w, actor);
    return json_pack("{s:o, s:o, s:o, s:o}", "account", tc_id(&a->id), "device",
                     tc_id(&a->device), "challenge", random_b64(32), "signature",
                     random_b64(64));
}

static json_t *
b_bundle_unknown_challenge(world *w, int actor)
{
    tc_account *a = me(w, actor);
    return json_pack("{s:o, s:o, s:o, s:o}", "challenge", random_b64(32), "signature",
                     random_b64(64), "bundle", b64_json(a->bundle, sizeof a->bundle),
                     "login_pk", b64_json(a->pass->login_pk, 32));
}

static json_t *
b_grant_a_shared_same(world *w, int actor)
{
    (void)actor;
    return json_pack("{s:[O]}", "grants", w->grant_a_shared_c);
}

static json_t *
b_grant_a_priv_same(world *w, int actor)
{
    (void)actor;
    return json_pack("{s:[O]}", "grants", w->selfgrant_a_priv);
}

static json_t *
b_grant_a_priv_to_c(world *w, int actor)
{
    tc_account *a = &w->acc[ACT_A], *c = &w->acc[ACT_C];
    (void)actor;
    return json_pack("{s:[o]}", "grants",
                     tc_grant_json(a, &a->priv, 1, a->priv_key, &c->id, c->keys->box_pk));
}

/* An envelope authored by the actor (anonymous: by A) for stream of owner. */
static json_t *
envelope_by(world *w, int actor, tc_account *owner, bool shared)
{
    dbk_id rec;
    dbk_id_random(&rec);
    if (shared)
        return tc_envelope(me(w, actor), &owner->shared, owner->shared_epoch,
                           owner->shared_key[owner->shared_epoch], &rec,
                           "{\"type\":\"note\",\"v\":1}");
    return tc_envelope(me(w, actor), &owner->priv, 1, owner->priv_key, &rec,
                       "{\"type\":\"journal\",\"v\":1}");
}

static json_t *
b_push_a_shared(world *w, int actor)
{
    return json_pack("{s:[{s:o}]}", "records", "envelope",
                     envelope_by(w, actor, &w->acc[ACT_A], true));
}

static json_t *
b_push_a_priv(world *w, int actor)
{
    return json_pack("{s:[{s:o}]}", "records", "envelope",
                     envelope_by(w, actor, &w->acc[ACT_A], false));
}

static json_t *
b_push_c_priv(world *w, int actor)
{
    return json_pack("{s:[{s:o}]}", "records", "envelope",
                     envelope_by(w, actor, &w->acc[ACT_C], false));
}

static json_t *
b_sync_pull_a_shared(world *w, int actor)
{
    (void)actor;
    return json_pack("{s:[{s:o, s:i}]}", "pull", "stream", tc_id(&w->acc[ACT_A].shared),
                     "since", 0);
}

static json_t *
b_sync_pull_a_priv(world *w, int actor)
{
    (void)actor;
    return json_pack("{s:[{s:o, s:i}]}", "pull", "stream", tc_id(&w->acc[ACT_A].priv), "since",
                     0);
}

static json_t *
b_sync_push_a_shared(world *w, int actor)
{
    return json_pack("{s:[{s:o, s:[{s:o}]}]}", "push", "stream", tc_id(&w->acc[ACT_A].shared),
                     "records", "envelope", envelope_by(w, actor, &w->acc[ACT_A], true));
}

/* ---- checks of 2xx answers ---- */

/* One sync entry: "ok" or the error code expected. */
static void
check_entry(world *w, const char *what, json_t *j, const char *key, const char *want)
{
    json_t *arr = json_object_get(j, key), *e, *err;
    const char *k;
    json_t *v;

    if (json_array_size(arr) != 1) {
        bad(w, "%s: \"%s\" does not have exactly one entry", what, key);
        return;
    }
    e = json_array_get(arr, 0);
    err = json_object_get(e, "error");
    if (strcmp(want, "ok") == 0) {
        if (err != NULL)
            bad(w, "%s: %s entry failed with %s, expected success", what, key,
                json_string_value(json_object_get(err, "code")));
        return;
    }
    if (err == NULL) {
        bad(w, "%s: %s entry succeeded, expected %s", what, key, want);
        return;
    }
    if (json_string_value(json_object_get(err, "code")) == NULL ||
        strcmp(json_string_value(json_object_get(err, "code")), want) != 0)
        bad(w, "%s: %s entry error %s, expected %s", what, key,
            json_string_value(json_object_get(err, "code")), want);
    check_error_object(w, what, err);
    /* An entry that failed says nothing else about the stream. */
    json_object_foreach(e, k, v) {
        if (strcmp(k, "stream") != 0 && strcmp(k, "error") != 0)
            bad(w, "%s: failed %s entry also carries \"%s\"", what, key, k);
    }
    {
        char *text = json_dumps(err, JSON_COMPACT);
        check_no_secrets(w, what, text);
        free(text);
    }
}

static void
ck_sync_pull_a_shared(world *w, int actor, const dbk_http_resp *r, json_t *j, const char *what)
{
    (void)r;
    check_entry(w, what, j, "pull", actor == ACT_A || actor == ACT_C ? "ok" : "forbidden");
}

static void
ck_sync_pull_a_priv(world *w, int actor, const dbk_http_resp *r, json_t *j, const char *what)
{
    (void)r;
    check_entry(w, what, j, "pull", actor == ACT_A ? "ok" : "forbidden");
}

static void
ck_sync_push_a_shared(world *w, int actor, const dbk_http_resp *r, json_t *j, const char *what)
{
    (void)r;
    check_entry(w, what, j, "push", actor == ACT_A || actor == ACT_C ? "ok" : "forbidden");
}

/* While A.shared waits for its rotation: the readers' writes are stale, others forbidden. */
static void
ck_sync_push_a_shared_pending(world *w, int actor, const dbk_http_resp *r, json_t *j,
                              const char *what)
{
    (void)r;
    check_entry(w, what, j, "push",
                actor == ACT_A || actor == ACT_C ? "stale_revision" : "forbidden");
}

static bool
listed(json_t *arr, const char *key, const dbk_id *id)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        if (id_is(json_object_get(e, key), id))
            return true;
    }
    return false;
}

/* GET /v1/streams: exactly the streams the actor owns or holds an active grant on. */
static void
ck_streams(world *w, int actor, const dbk_http_resp *r, json_t *j, const char *what)
{
    tc_account *A = &w->acc[ACT_A], *B = &w->acc[ACT_B];
    const dbk_id *want[4];
    size_t n = 0;
    json_t *arr = json_object_get(j, "streams");
    (void)r;

    want[n++] = &w->acc[actor].priv;
    if (actor == ACT_A || actor == ACT_B)
        want[n++] = &w->acc[actor].shared;
    if (actor == ACT_C) {
        want[n++] = &A->shared;
        want[n++] = &B->shared;
    }
    if (json_array_size(arr) != n)
        bad(w, "%s: %zu streams listed, expected %zu", what, json_array_size(arr), n);
    for (size_t i = 0; i < n; i++)
        if (!listed(arr, "stream", want[i]))
            bad(w, "%s: an expected stream is missing from the list", what);
    if (actor != ACT_A && actor != ACT_C && listed(arr, "stream", &A->shared))
        bad(w, "%s: lists A's shared stream", what);
    if (actor != ACT_A && listed(arr, "stream", &A->priv))
        bad(w, "%s: lists A's private stream", what);
}

/* GET /v1/grants: only grants to the caller; R sees its grant from A as revoked. */
static void
ck_my_grants(world *w, int actor, const dbk_http_resp *r, json_t *j, const char *what)
{
    json_t *arr = json_object_get(j, "grants"), *e;
    size_t i;
    bool r_revoked = false, r_active = false;
    (void)r;

    json_array_foreach(arr, i, e) {
        if (!id_is(json_object_get(e, "grantee"), &w->acc[actor].id))
            bad(w, "%s: lists a grant to another account", what);
        if (id_is(json_object_get(e, "stream"), &w->acc[ACT_A].shared)) {
            const char *state = json_string_value(json_object_get(e, "state"));
            if (state && strcmp(state, "revoked") == 0)
                r_revoked = true;
            if (state && strcmp(state, "active") == 0)
                r_active = true;
        }
    }
    if (actor == ACT_R && (!r_revoked || r_active))
        bad(w, "%s: R's grant on A's shared stream is not listed as revoked (and only that)",
            what);
}

static void
ck_account(world *w, int actor, const dbk_http_resp *r, json_t *j, const char *what)
{
    (void)r;
    if (!id_is(json_object_get(j, "account"), &w->acc[actor].id))
        bad(w, "%s: \"account\" is not the caller", what);
    if (json_object_get(j, "login_pk") != NULL)
        bad(w, "%s: reveals login_pk", what);
}

static void
ck_keys(world *w, int actor, const dbk_http_resp *r, json_t *j, const char *what)
{
    static const char *const allowed[] = {"account", "role", "ed25519_pk", "x25519_pk", "name",
                                          NULL};
    const char *k;
    json_t *v;
    (void)actor, (void)r;
    json_object_foreach(j, k, v) {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], k) != 0)
            i++;
        if (allowed[i] == NULL)
            bad(w, "%s: public keys answer carries \"%s\"", what, k);
    }
}

static void
ck_devices(world *w, int actor, const dbk_http_resp *r, json_t *j, const char *what)
{
    json_t *arr = json_object_get(j, "devices"), *e;
    size_t i, current = 0;
    (void)r;
    json_array_foreach(arr, i, e) {
        json_t *d = json_object_get(e, "device");
        if (!id_is(d, &w->acc[actor].device) && !id_is(d, &w->dev2[actor].device))
            bad(w, "%s: lists a device of another account", what);
        if (json_is_true(json_object_get(e, "current"))) {
            current++;
            if (!id_is(d, &w->acc[actor].device))
                bad(w, "%s: the wrong device is marked current", what);
        }
    }
    if (current != 1)
        bad(w, "%s: %zu devices marked current", what, current);
}

static void
ck_invites(world *w, int actor, const dbk_http_resp *r, json_t *j, const char *what)
{
    json_t *arr = json_object_get(j, "invites"), *e;
    size_t i;
    (void)r;
    json_array_foreach(arr, i, e) {
        const char *id = json_string_value(json_object_get(e, "invite"));
        if (actor != ACT_C && id && strcmp(id, w->invite_c) == 0)
            bad(w, "%s: lists C's invite", what);
    }
}

static void
ck_access_log(world *w, int actor, const dbk_http_resp *r, json_t *j, const char *what)
{
    json_t *arr = json_object_get(j, "entries"), *e;
    size_t i;
    (void)r;
    json_array_foreach(arr, i, e) {
        if (!id_is(json_object_get(e, "owner"), &w->acc[actor].id)) {
            bad(w, "%s: lists an entry about another account's stream", what);
            break;
        }
    }
}

/* GET /v1/caseload (README section 15). */
static void
ck_caseload(world *w, int actor, const dbk_http_resp *r, json_t *j, const char *what)
{
    json_t *arr = json_object_get(j, "clients"), *e;
    size_t i;
    (void)r;

    if (actor == ACT_U) {
        if (json_array_size(arr) != 0)
            bad(w, "%s: U (no clients, no grants) has %zu clients", what, json_array_size(arr));
        return;
    }
    if (actor == ACT_C) {
        if (json_array_size(arr) != 2)
            bad(w, "%s: C has %zu clients, expected A and B", what, json_array_size(arr));
        json_array_foreach(arr, i, e) {
            const char *state = json_string_value(json_object_get(e, "grant_state"));
            bool is_a = id_is(json_object_get(e, "account"), &w->acc[ACT_A].id);
            bool is_b = id_is(json_object_get(e, "account"), &w->acc[ACT_B].id);
            if (!is_a && !is_b)
                bad(w, "%s: C's caseload lists an account that is not its client", what);
            if (state == NULL || strcmp(state, "active") != 0)
                bad(w, "%s: C's client has grant_state \"%s\", expected \"active\"", what,
                    state ? state : "(none)");
            if (is_a && !listed(json_object_get(e, "streams"), "stream", &w->acc[ACT_A].shared))
                bad(w, "%s: C's entry for A does not list A's shared stream", what);
        }
        return;
    }
    if (actor == ACT_R) {
        if (json_array_size(arr) != 1) {
            bad(w, "%s: R has %zu clients, expected A only (it once granted R)", what,
                json_array_size(arr));
            return;
        }
        e = json_array_get(arr, 0);
        const char *state = json_string_value(json_object_get(e, "grant_state"));
        if (!id_is(json_object_get(e, "account"), &w->acc[ACT_A].id))
            bad(w, "%s: R's client is not A", what);
        if (state == NULL || strcmp(state, "revoked") != 0)
            bad(w, "%s: R's entry for A has grant_state \"%s\", expected \"revoked\" "
                   "(README section 15)",
                what, state ? state : "(none)");
        if (json_object_get(e, "streams") != NULL || json_object_get(e, "last_sync_at") != NULL)
            bad(w, "%s: R's entry for A still shows streams or last_sync_at after revocation",
                what);
    }
}

static void
ck_metrics(world *w, int actor, const dbk_http_resp *r, json_t *j, const char *what)
{
    (void)actor, (void)j;
    if (strstr(r->headers, "Content-Type: text/plain") == NULL)
        bad(w, "%s: /metrics is not text/plain", what);
    if (strstr(r->body, "daybook_up 1") == NULL)
        bad(w, "%s: /metrics lacks daybook_up", what);
    for (size_t i = 0; i < w->nsecrets; i++)
        if (strstr(r->body, w->secrets[i].text) != NULL)
            bad(w, "%s: /metrics leaks %s", what, w->secrets[i].label);
}

/* ---- the rows ---- */

#define ALL_AUTHED(st) {st, st, st, st, st, 401}
#define PUBLIC(st) {st, st, st, st, st, st}

/* Right after A revokes R, before A rotates its shared stream. */
static const mrow rows_after_revoke[] = {
    {"GET", "/v1/streams/{A.shared}/records", NULL, NULL, 0, {200, 403, 200, 403, 403, 401}},
    /* Writes wait for the rotation (409 for those who may write), the others are refused. */
    {"POST", "/v1/streams/{A.shared}/records", b_push_a_shared, NULL, 0,
     {409, 403, 409, 403, 403, 401}},
    {"POST", "/v1/sync", b_sync_pull_a_shared, ck_sync_pull_a_shared, 0, ALL_AUTHED(200)},
    {"POST", "/v1/sync", b_sync_push_a_shared, ck_sync_push_a_shared_pending, 0,
     ALL_AUTHED(200)},
    {"GET", "/v1/streams", NULL, ck_streams, 0, ALL_AUTHED(200)},
    {"GET", "/v1/streams/{A.shared}/grants", NULL, NULL, 0, {200, 403, 403, 403, 403, 401}},
    {"GET", "/v1/grants", NULL, ck_my_grants, 0, ALL_AUTHED(200)},
};

/* After A rotated to epoch 2 and granted it to C. */
static const mrow rows_main[] = {
    /* health and metrics: no authentication; /metrics from loopback. */
    {"GET", "/metrics", NULL, ck_metrics, F_TEXT, PUBLIC(200)},

    /* Enrollment and login are public: bad bodies are 4xx, never 401. */
    {"POST", "/v1/enroll", b_empty, NULL, 0, PUBLIC(400)},
    {"POST", "/v1/login/start", b_login_start, NULL, 0, PUBLIC(200)},
    {"POST", "/v1/login/start", b_empty, NULL, 0, PUBLIC(400)},
    {"POST", "/v1/login/finish", b_login_finish_unknown_challenge, NULL, 0, PUBLIC(410)},
    {"POST", "/v1/login/finish", b_empty, NULL, 0, PUBLIC(400)},

    /* Invites: counselors only; another counselor's invite does not exist for them. */
    {"POST", "/v1/invites", b_empty, NULL, 0, {403, 403, 201, 201, 201, 401}},
    {"GET", "/v1/invites", NULL, ck_invites, 0, {403, 403, 200, 200, 200, 401}},
    {"DELETE", "/v1/invites/{C.invite}", NULL, NULL, 0, {403, 403, 0, 404, 404, 401}},
    {"DELETE", "/v1/invites/{C.invite}", NULL, NULL, 0, {0, 0, 204, 0, 0, 0}},
    {"DELETE", "/v1/invites/{ghost}", NULL, NULL, 0, {403, 403, 404, 404, 404, 401}},

    /* The account. The passphrase change needs a live challenge: a made-up one is gone. */
    {"GET", "/v1/account", NULL, ck_account, 0, ALL_AUTHED(200)},
    {"HEAD", "/v1/account", NULL, NULL, 0, ALL_AUTHED(200)},
    {"PUT", "/v1/account/bundle", b_bundle_unknown_challenge, NULL, 0, ALL_AUTHED(410)},

    /* Public keys: own; a client any counselor's; a counselor its clients (invited or
     * ever granted); anything else is 404 like an unknown account. */
    {"GET", "/v1/accounts/{A}/keys", NULL, ck_keys, 0, {200, 404, 200, 404, 200, 401}},
    {"GET", "/v1/accounts/{B}/keys", NULL, ck_keys, 0, {404, 200, 200, 404, 404, 401}},
    {"GET", "/v1/accounts/{C}/keys", NULL, ck_keys, 0, {200, 200, 200, 404, 404, 401}},
    {"GET", "/v1/accounts/{U}/keys", NULL, ck_keys, 0, {200, 200, 404, 200, 404, 401}},
    {"GET", "/v1/accounts/{R}/keys", NULL, ck_keys, 0, {200, 200, 404, 404, 200, 401}},
    {"GET", "/v1/accounts/{ghost}/keys", NULL, NULL, 0, ALL_AUTHED(404)},

    /* Devices: logout ends the second device's token, which then is 401; a device of
     * another account is 404; one's own is removed. */
    {"GET", "/v1/devices", NULL, ck_devices, 0, ALL_AUTHED(200)},
    {"POST", "/v1/logout", NULL, NULL, F_DEV2, ALL_AUTHED(204)},
    {"GET", "/v1/account", NULL, NULL, F_DEV2, ALL_AUTHED(401)},
    {"DELETE", "/v1/devices/{A.dev2}", NULL, NULL, 0, {0, 404, 404, 404, 404, 401}},
    {"DELETE", "/v1/devices/{A.dev}", NULL, NULL, 0, {0, 404, 404, 404, 404, 401}},
    {"DELETE", "/v1/devices/{me.dev2}", NULL, NULL, 0, ALL_AUTHED(204)},
    {"DELETE", "/v1/devices/{ghost}", NULL, NULL, 0, ALL_AUTHED(404)},

    /* Streams and grants: only the owner manages grants. */
    {"GET", "/v1/streams", NULL, ck_streams, 0, ALL_AUTHED(200)},
    {"HEAD", "/v1/streams", NULL, NULL, 0, ALL_AUTHED(200)},
    {"GET", "/v1/grants", NULL, ck_my_grants, 0, ALL_AUTHED(200)},
    {"POST", "/v1/streams/{A.shared}/grants", b_grant_a_shared_same, NULL, 0,
     {200, 403, 403, 403, 403, 401}},
    {"POST", "/v1/streams/{A.priv}/grants", b_grant_a_priv_same, NULL, 0,
     {200, 403, 403, 403, 403, 401}},
    /* A private stream is never granted to another account, even by its owner. */
    {"POST", "/v1/streams/{A.priv}/grants", b_grant_a_priv_to_c, NULL, 0,
     {403, 403, 403, 403, 403, 401}},
    {"GET", "/v1/streams/{A.shared}/grants", NULL, NULL, 0, {200, 403, 403, 403, 403, 401}},
    {"GET", "/v1/streams/{A.priv}/grants", NULL, NULL, 0, {200, 403, 403, 403, 403, 401}},
    {"GET", "/v1/streams/{C.priv}/grants", NULL, NULL, 0, {403, 403, 200, 403, 403, 401}},
    /* A stream that does not exist answers as one that is not the caller's: 403, so
     * nobody learns which stream ids exist (README section 7). */
    {"GET", "/v1/streams/{ghost}/records", NULL, NULL, 0, ALL_AUTHED(403)},
    {"GET", "/v1/streams/{ghost}/grants", NULL, NULL, 0, ALL_AUTHED(403)},
    /* Revoking R again changes nothing; C never had a grant on A.priv, nor U on A.shared;
     * revoking the owner itself is invalid. */
    {"DELETE", "/v1/streams/{A.shared}/grants/{R}", NULL, NULL, 0,
     {200, 403, 403, 403, 403, 401}},
    {"DELETE", "/v1/streams/{A.priv}/grants/{C}", NULL, NULL, 0, {404, 403, 403, 403, 403, 401}},
    {"DELETE", "/v1/streams/{A.shared}/grants/{U}", NULL, NULL, 0,
     {404, 403, 403, 403, 403, 401}},
    {"DELETE", "/v1/streams/{A.shared}/grants/{A}", NULL, NULL, 0,
     {400, 403, 403, 403, 403, 401}},

    /* Records: owner and active grantees. */
    {"GET", "/v1/streams/{A.shared}/records", NULL, NULL, 0, {200, 403, 200, 403, 403, 401}},
    {"HEAD", "/v1/streams/{A.shared}/records", NULL, NULL, 0, {200, 403, 200, 403, 403, 401}},
    {"GET", "/v1/streams/{A.priv}/records?since=0", NULL, NULL, 0,
     {200, 403, 403, 403, 403, 401}},
    {"GET", "/v1/streams/{B.shared}/records", NULL, NULL, 0, {403, 200, 200, 403, 403, 401}},
    {"GET", "/v1/streams/{C.priv}/records", NULL, NULL, 0, {403, 403, 200, 403, 403, 401}},
    {"GET", "/v1/streams/{U.priv}/records", NULL, NULL, 0, {403, 403, 403, 200, 403, 401}},
    {"POST", "/v1/streams/{A.shared}/records", b_push_a_shared, NULL, 0,
     {200, 403, 200, 403, 403, 401}},
    {"POST", "/v1/streams/{A.priv}/records", b_push_a_priv, NULL, 0,
     {200, 403, 403, 403, 403, 401}},
    {"POST", "/v1/streams/{C.priv}/records", b_push_c_priv, NULL, 0,
     {403, 403, 200, 403, 403, 401}},
    {"POST", "/v1/sync", b_sync_pull_a_shared, ck_sync_pull_a_shared, 0, ALL_AUTHED(200)},
    {"POST", "/v1/sync", b_sync_pull_a_priv, ck_sync_pull_a_priv, 0, ALL_AUTHED(200)},
    {"POST", "/v1/sync", b_sync_push_a_shared, ck_sync_push_a_shared, 0, ALL_AUTHED(200)},

    /* The access log (one's own streams only) and the caseload (counselors only). */
    {"GET", "/v1/access-log", NULL, ck_access_log, 0, ALL_AUTHED(200)},
    {"GET", "/v1/caseload", NULL, ck_caseload, 0, {403, 403, 200, 200, 200, 401}},
    {"HEAD", "/v1/caseload", NULL, NULL, 0, {403, 403, 200, 200, 200, 401}},
};

static void
run_row(world *w, const mrow *row, int actor)
{
    char path[512], what[256], url[640], auth[128];
    const char *hdrs[2] = {NULL, NULL};
    const char *token = NULL;
    json_t *body = NULL, *j = NULL;
    char *text = NULL;
    dbk_http_resp r;
    int want = row->expect[actor];
    bool head = strcmp(row->method, "HEAD") == 0;

    if (want == 0)
        return;
    expand(w, actor, row->path, path, sizeof path);
    snprintf(what, sizeof what, "%s %s as %s%s", row->method, row->path, act_name[actor],
             row->flags & F_DEV2 ? " (second device)" : "");
    if (actor != ACT_ANON)
        token = row->flags & F_DEV2 ? w->dev2[actor].token : w->acc[actor].token;
    if (token != NULL && token[0]) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs[0] = auth;
    }
    if (row->body != NULL) {
        body = row->body(w, actor);
        text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
    }
    snprintf(url, sizeof url, "%s%s", w->s->base_url, path);
    w->nrequests++;
    if (dbk_http(row->method, url, hdrs, text, text ? strlen(text) : 0, &r) != 0) {
        bad(w, "%s: no HTTP answer", what);
        free(text);
        dbk_http_resp_free(&r);
        return;
    }
    free(text);

    if (r.status >= 300 && !head) {
        j = check_error_body(w, what, r.headers, r.body, r.body_len);
        if (r.status != want)
            bad(w, "%s: expected %d, got %ld %s", what, want, r.status, err_code(j));
    } else {
        if (r.status != want)
            bad(w, "%s: expected %d, got %ld", what, want, r.status);
        if (r.status == 204 && r.body_len != 0)
            bad(w, "%s: 204 with a body", what);
        if (r.status >= 200 && r.status < 300 && r.status != 204 && !head &&
            !(row->flags & F_TEXT)) {
            json_error_t je;
            j = json_loadb(r.body, r.body_len, 0, &je);
            if (!json_is_object(j))
                bad(w, "%s: the 2xx body is not a JSON object", what);
        }
        if (r.status == want && r.status < 300 && row->check != NULL && !head &&
            (j != NULL || (row->flags & F_TEXT)))
            row->check(w, actor, &r, j, what);
    }
    json_decref(j);
    dbk_http_resp_free(&r);
}

static size_t
run_rows(world *w, const mrow *rows, size_t n)
{
    size_t ran = 0;
    for (size_t i = 0; i < n; i++)
        for (int a = 0; a < NACT; a++) {
            if (rows[i].expect[a] != 0)
                ran++;
            run_row(w, &rows[i], a);
        }
    return ran;
}

static void
test_authorization_matrix(void **state)
{
    world w;
    tc_account *A, *B, *C, *U, *R;
    json_t *r, *body;
    long st;
    char path[256], t[DBK_ID_TEXT_LEN + 1];
    size_t n_after_revoke, n_main;

    memset(&w, 0, sizeof w);
    w.s = *state;
    A = &w.acc[ACT_A], B = &w.acc[ACT_B], C = &w.acc[ACT_C], U = &w.acc[ACT_U];
    R = &w.acc[ACT_R];
    dbk_id_random(&w.ghost);

    /* Accounts: C with clients A and B (each shares with C); U and R unrelated. */
    tc_new_counselor(w.s, C, counselor_name[ACT_C]);
    w.have[ACT_C] = true;
    tc_new_client(w.s, A, C);
    w.have[ACT_A] = true;
    tc_new_client(w.s, B, C);
    w.have[ACT_B] = true;
    tc_new_counselor(w.s, U, counselor_name[ACT_U]);
    w.have[ACT_U] = true;
    tc_new_counselor(w.s, R, counselor_name[ACT_R]);
    w.have[ACT_R] = true;

    /* Records in A's streams, B's shared and the counselors' private streams. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(push(&w, A, A, &A->shared, 1, A->shared_key[1], "{\"v\":1}"), 200);
    for (int i = 0; i < 2; i++)
        assert_int_equal(push(&w, A, A, &A->priv, 1, A->priv_key, "{\"v\":1}"), 200);
    assert_int_equal(push(&w, B, B, &B->shared, 1, B->shared_key[1], "{\"v\":1}"), 200);
    assert_int_equal(push(&w, C, C, &C->priv, 1, C->priv_key, "{\"v\":1}"), 200);
    assert_int_equal(push(&w, U, U, &U->priv, 1, U->priv_key, "{\"v\":1}"), 200);

    /* A pending invite of C's. */
    body = json_object();
    r = tc_req(w.s, C, "POST", "/v1/invites", body, &st);
    assert_int_equal(st, 201);
    snprintf(w.invite_c, sizeof w.invite_c, "%s",
             json_string_value(json_object_get(r, "invite")));
    json_decref(r);
    json_decref(body);

    /* A's stored self-grant of its private stream, to send again unchanged. */
    r = tc_req(w.s, A, "GET", tc_path("/v1/streams/%s/grants", &A->priv), NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(r, "grants")), 1);
    w.selfgrant_a_priv =
        json_incref(json_object_get(json_array_get(json_object_get(r, "grants"), 0), "grant"));
    json_decref(r);

    /* Second devices, for logout and device removal. */
    for (int i = 0; i < NACC; i++)
        login_second_device(&w, i);

    /* A grants R, R reads, A revokes R (no rotation yet). */
    assert_int_equal(tc_grant(w.s, A, R, 1), 200);
    r = tc_req(w.s, R, "GET", tc_path("/v1/streams/%s/records", &A->shared), NULL, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_array_size(json_object_get(r, "records")), 3);
    json_decref(r);
    dbk_id_to_text(&R->id, t);
    snprintf(path, sizeof path, "%s/%s", tc_path("/v1/streams/%s/grants", &A->shared), t);
    r = tc_req(w.s, A, "DELETE", path, NULL, &st);
    assert_int_equal(st, 200);
    assert_true(json_is_true(json_object_get(r, "rotation_pending")));
    json_decref(r);

    collect_secrets(&w);
    n_after_revoke = run_rows(&w, rows_after_revoke,
                              sizeof rows_after_revoke / sizeof rows_after_revoke[0]);

    /* A rotates: epoch 2, self-grant and a grant to C in one request. */
    A->shared_epoch = 2;
    randombytes_buf(A->shared_key[2], 32);
    w.grant_a_shared_c = tc_grant_json(A, &A->shared, 2, A->shared_key[2], &C->id,
                                       C->keys->box_pk);
    body = json_pack("{s:[o, O]}", "grants",
                     tc_grant_json(A, &A->shared, 2, A->shared_key[2], &A->id, A->keys->box_pk),
                     w.grant_a_shared_c);
    r = tc_req(w.s, A, "POST", tc_path("/v1/streams/%s/grants", &A->shared), body, &st);
    assert_int_equal(st, 200);
    assert_int_equal(json_integer_value(json_object_get(r, "epoch")), 2);
    json_decref(r);
    json_decref(body);

    n_main = run_rows(&w, rows_main, sizeof rows_main / sizeof rows_main[0]);

    /* After the matrix the server still answers, and R still reads nothing of A. */
    r = tc_req(w.s, R, "GET", tc_path("/v1/streams/%s/records", &A->shared), NULL, &st);
    if (st != 403)
        bad(&w, "after the matrix: R reads A's shared stream: %ld", st);
    json_decref(r);

    dbk_report("authorization",
               "every route x 6 actors (anonymous, the client, another client, assigned, "
               "unassigned and revoked counselor)",
               "%zu route rows, %zu cells, %zu requests, mismatches: %zu",
               sizeof rows_after_revoke / sizeof rows_after_revoke[0] +
                   sizeof rows_main / sizeof rows_main[0],
               n_after_revoke + n_main, w.nrequests, w.nbad);
    size_t nbad = print_report(&w, "authorization-matrix");
    world_free(&w);
    if (nbad > 0)
        fail_msg("%zu authorization-matrix mismatches (listed above)", nbad);
}

/* ======================================================================
 * 2. The bad-input matrix
 * ====================================================================== */

typedef struct bcase {
    char *name;
    char *req;
    size_t len;
    int status;
    const char *code; /* NULL: no error body expected */
    bool pre_route;   /* answered before routing: the server closes the connection */
} bcase;

typedef struct blist {
    bcase *c;
    size_t n, cap;
} blist;

static void
badd(blist *l, const char *name, char *req, size_t len, int status, const char *code,
     bool pre_route)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->c = realloc(l->c, l->cap * sizeof *l->c);
        assert_non_null(l->c);
    }
    l->c[l->n++] = (bcase){strdup(name), req, len, status, code, pre_route};
}

/* A well-formed HTTP request with "Connection: close"; ctype and body may be NULL. */
static char *
mkreq(size_t *len, const char *method, const char *target, const char *token, const char *ctype,
      const char *body)
{
    char auth[128] = "", ct[256] = "", cl[64] = "";
    char *s;
    if (token != NULL)
        snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
    if (ctype != NULL)
        snprintf(ct, sizeof ct, "Content-Type: %s\r\n", ctype);
    if (body != NULL)
        snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", strlen(body));
    s = fmt("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%sConnection: close\r\n\r\n%s", method,
            target, auth, ct, cl, body ? body : "");
    *len = strlen(s);
    return s;
}

/* A JSON request as A (or with another token). */
static void
bjson(blist *l, const char *name, const char *method, const char *target, const char *token,
      const char *body, int status, const char *code)
{
    size_t len;
    char *req = mkreq(&len, method, target, token, body ? "application/json" : NULL, body);
    badd(l, name, req, len, status, code, false);
}

static void
braw(blist *l, const char *name, const char *req, int status, const char *code)
{
    badd(l, name, strdup(req), strlen(req), status, code, true);
}

/* Raw bytes of a fresh envelope by a into a's stream. */
static unsigned char *
raw_envelope(tc_account *a, const dbk_id *stream, uint32_t epoch, const unsigned char *key,
             size_t *len)
{
    dbk_id rec;
    dbk_id_random(&rec);
    json_t *e = tc_envelope(a, stream, epoch, key, &rec, "{\"type\":\"craving\",\"v\":1}");
    const char *s = json_string_value(e);
    unsigned char *b = malloc(DBK_B64_DECODED_MAX(strlen(s)) + 1);
    assert_non_null(b);
    assert_int_equal(dbk_b64_decode(b, DBK_B64_DECODED_MAX(strlen(s)) + 1, len, s, strlen(s)), 0);
    json_decref(e);
    return b;
}

/* {"records":[{"envelope":E}, ... n times]} */
static char *
records_body(const char *env, size_t n)
{
    size_t one = strlen(env) + 16, cap = n * one + 32, o = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    o += (size_t)snprintf(s + o, cap - o, "{\"records\":[");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(s + o, cap - o, "%s{\"envelope\":\"%s\"}", i ? "," : "", env);
    snprintf(s + o, cap - o, "]}");
    return s;
}

static char *
nested(size_t depth_inside)
{
    /* {"records": [[[...]]]} with depth_inside arrays: total depth depth_inside + 1. */
    size_t cap = 2 * depth_inside + 32;
    char *s = malloc(cap);
    size_t o;
    assert_non_null(s);
    o = (size_t)snprintf(s, cap, "{\"records\":");
    for (size_t i = 0; i < depth_inside; i++)
        s[o++] = '[';
    for (size_t i = 0; i < depth_inside; i++)
        s[o++] = ']';
    s[o++] = '}';
    s[o] = '\0';
    return s;
}

/* /healthz answers 200 (without failing the test when the server is gone). */
static bool
alive(const dbk_server *s)
{
    dbk_http_resp hr;
    char url[128];
    bool ok;
    snprintf(url, sizeof url, "%s/healthz", s->base_url);
    ok = dbk_http("GET", url, NULL, NULL, 0, &hr) == 0 && hr.status == 200;
    dbk_http_resp_free(&hr);
    return ok;
}

/* Every record of a stream and its high_seq, or NULL if the pull fails. */
static json_t *
pull_all(dbk_server *s, tc_account *a, const dbk_id *stream)
{
    char url[256], auth[128];
    const char *hdrs[] = {auth, NULL};
    dbk_http_resp hr;
    json_t *r, *out = NULL;

    snprintf(url, sizeof url, "%s%s", s->base_url,
             tc_path("/v1/streams/%s/records?since=0", stream));
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", a->token);
    if (dbk_http("GET", url, hdrs, NULL, 0, &hr) != 0 || hr.status != 200) {
        dbk_http_resp_free(&hr);
        return NULL;
    }
    r = json_loadb(hr.body, hr.body_len, 0, NULL);
    dbk_http_resp_free(&hr);
    if (r != NULL && !json_is_true(json_object_get(r, "more")))
        out = json_pack("{s:O, s:O}", "records", json_object_get(r, "records"), "high_seq",
                        json_object_get(r, "high_seq"));
    json_decref(r);
    return out;
}

static void
run_bcase(world *w, const bcase *c)
{
    long t0 = now_ms(), elapsed;
    char *out = dbk_raw(w->s->port, c->req, c->len, false, 5000);
    char what[160];
    const char *he;
    long status;

    elapsed = now_ms() - t0;
    snprintf(what, sizeof what, "bad input \"%s\"", c->name);
    w->nrequests++;
    if (out == NULL) {
        bad(w, "%s: could not connect", what);
        return;
    }
    if (strncmp(out, "HTTP/1.1 ", 9) != 0 || (he = strstr(out, "\r\n\r\n")) == NULL) {
        bad(w, "%s: no HTTP response (got %zu bytes: %.60s)", what, strlen(out), out);
        free(out);
        return;
    }
    status = strtol(out + 9, NULL, 10);
    if (status >= 300) {
        char *headers = strndup(out, (size_t)(he - out) + 2);
        json_t *j = check_error_body(w, what, headers, he + 4, strlen(he + 4));
        if (status != c->status || (c->code && strcmp(err_code(j), c->code) != 0))
            bad(w, "%s: expected %d %s, got %ld %s", what, c->status, c->code ? c->code : "",
                status, err_code(j));
        json_decref(j);
        free(headers);
    } else if (status != c->status) {
        bad(w, "%s: expected %d %s, got %ld", what, c->status, c->code ? c->code : "", status);
    }
    if (c->pre_route) {
        if (strstr(out, "Connection: close") == NULL)
            bad(w, "%s: the response does not say Connection: close", what);
        if (elapsed >= 4000)
            bad(w, "%s: the server did not close the connection", what);
    }
    free(out);
}

/* A client that never finishes its request gets 408 and is cut off, while others are served. */
static void
slowloris(world *w, const char *name, const char *partial, bool trickle)
{
    int fd = dbk_raw_connect(w->s->port);
    char *got = calloc(1, 1);
    size_t got_len = 0;
    long t0, closed_at = -1, other_took;
    dbk_http_resp hr;
    char url[128];
    bool closed = false;

    assert_non_null(got);
    if (fd < 0) {
        bad(w, "slowloris %s: cannot connect: is the server still up?", name);
        free(got);
        return;
    }
    assert_true(send(fd, partial, strlen(partial), MSG_NOSIGNAL) == (ssize_t)strlen(partial));
    t0 = now_ms();
    w->nrequests++;

    /* Meanwhile, a normal request on another connection is served at once. */
    usleep(100 * 1000);
    snprintf(url, sizeof url, "%s/healthz", w->s->base_url);
    other_took = now_ms();
    assert_int_equal(dbk_http("GET", url, NULL, NULL, 0, &hr), 0);
    other_took = now_ms() - other_took;
    if (hr.status != 200)
        bad(w, "slowloris %s: a normal request meanwhile got %ld", name, hr.status);
    if (other_took > 300)
        bad(w, "slowloris %s: a normal request meanwhile took %ld ms", name, other_took);
    dbk_http_resp_free(&hr);
    {
        long st;
        json_t *r = tc_req(w->s, &w->acc[ACT_A], "GET", "/v1/account", NULL, &st);
        if (st != 200)
            bad(w, "slowloris %s: an authenticated request meanwhile got %ld", name, st);
        json_decref(r);
    }

    while (now_ms() - t0 < 4000) {
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, 100);
        if (pr > 0) {
            char buf[4096];
            ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) {
                closed = true;
                closed_at = now_ms() - t0;
                break;
            }
            got = realloc(got, got_len + (size_t)n + 1);
            assert_non_null(got);
            memcpy(got + got_len, buf, (size_t)n);
            got_len += (size_t)n;
            got[got_len] = '\0';
        } else if (trickle) {
            (void)send(fd, "a", 1, MSG_NOSIGNAL); /* one more byte, never a whole request */
        }
    }
    close(fd);
    if (strncmp(got, "HTTP/1.1 408", 12) != 0 || strstr(got, "\"request_timeout\"") == NULL)
        bad(w, "slowloris %s: expected 408 request_timeout, got: %.60s", name, got);
    else {
        const char *he = strstr(got, "\r\n\r\n");
        if (he != NULL) {
            char *headers = strndup(got, (size_t)(he - got) + 2);
            json_decref(check_error_body(w, name, headers, he + 4, strlen(he + 4)));
            free(headers);
        }
    }
    if (!closed)
        bad(w, "slowloris %s: the connection was not closed within 4 s", name);
    else if (closed_at < 400)
        bad(w, "slowloris %s: cut after %ld ms, before the 500 ms request timeout", name,
            closed_at);
    free(got);
}

static void
test_bad_input_matrix(void **state)
{
    world w;
    tc_account *A, *C;
    blist l = {NULL, 0, 0};
    json_t *before_shared, *before_priv, *after;
    char p_shared[128], p_priv[128], tgt[256], ida[DBK_ID_TEXT_LEN + 1],
        devid[DBK_ID_TEXT_LEN + 1];
    const char *tok;
    char *s1, *s2, *env_ok_text, *env_priv_text;
    unsigned char *env;
    size_t env_len, len;

    memset(&w, 0, sizeof w);
    w.s = *state;
    A = &w.acc[ACT_A], C = &w.acc[ACT_C];
    dbk_id_random(&w.ghost);
    tc_new_counselor(w.s, C, counselor_name[ACT_C]);
    w.have[ACT_C] = true;
    tc_new_client(w.s, A, C);
    w.have[ACT_A] = true;
    for (int i = 0; i < 4; i++)
        assert_int_equal(push(&w, A, A, &A->shared, 1, A->shared_key[1], "{\"v\":1}"), 200);
    assert_int_equal(push(&w, A, A, &A->priv, 1, A->priv_key, "{\"v\":1}"), 200);
    assert_int_equal(push(&w, C, C, &A->shared, 1, A->shared_key[1], "{\"v\":1,\"n\":1}"),
                     200);
    before_shared = pull_all(w.s, A, &A->shared);
    before_priv = pull_all(w.s, A, &A->priv);
    assert_non_null(before_shared);
    assert_non_null(before_priv);
    assert_int_equal(json_array_size(json_object_get(before_shared, "records")), 5);
    collect_secrets(&w);

    tok = A->token;
    snprintf(p_shared, sizeof p_shared, "%s", tc_path("/v1/streams/%s/records", &A->shared));
    snprintf(p_priv, sizeof p_priv, "%s", tc_path("/v1/streams/%s/records", &A->priv));
    dbk_id_to_text(&A->id, ida);
    dbk_id_to_text(&A->device, devid);
    /* An envelope already stored: resending it changes nothing. */
    env_ok_text = strdup(json_string_value(json_object_get(
        json_array_get(json_object_get(before_shared, "records"), 0), "envelope")));
    env_priv_text = strdup(json_string_value(json_object_get(
        json_array_get(json_object_get(before_priv, "records"), 0), "envelope")));

    /* ---- HTTP, before routing ---- */
    braw(&l, "malformed request line", "HELLO\r\n\r\n", 400, "bad_http");
    braw(&l, "unknown HTTP version", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 400,
         "bad_http");
    braw(&l, "header without a colon", "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", 400,
         "bad_http");
    braw(&l, "Content-Length and Transfer-Encoding",
         "POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
         "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n{}",
         400, "bad_http");
    braw(&l, "negative Content-Length",
         "POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400, "bad_http");
    {
        /* Headers of 17.5 KiB in all (> 16 KiB). */
        size_t cap = 20000, n;
        char *big = malloc(cap);
        assert_non_null(big);
        n = (size_t)snprintf(big, cap, "GET /v1/account HTTP/1.1\r\nHost: x\r\n");
        for (int i = 0; i < 7; i++) {
            n += (size_t)snprintf(big + n, cap - n, "X-Pad-%d: ", i);
            memset(big + n, 'p', 2500);
            n += 2500;
            n += (size_t)snprintf(big + n, cap - n, "\r\n");
        }
        n += (size_t)snprintf(big + n, cap - n, "\r\n");
        badd(&l, "headers over 16 KiB", big, n, 431, "headers_too_large", true);
    }
    {
        size_t cap = 4096, n = 0;
        char *many = malloc(cap);
        assert_non_null(many);
        n += (size_t)snprintf(many + n, cap - n, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
        for (int i = 0; i < 33; i++)
            n += (size_t)snprintf(many + n, cap - n, "X-H%d: v\r\n", i);
        n += (size_t)snprintf(many + n, cap - n, "\r\n");
        badd(&l, "34 header lines", many, n, 431, "headers_too_large", true);
    }
    {
        /* A target of exactly 2048 bytes is served (404: no such route); 2049 is 414. */
        char *t = malloc(3000);
        assert_non_null(t);
        t[0] = '/';
        memset(t + 1, 'u', 2047);
        t[2048] = '\0';
        s1 = fmt("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", t);
        badd(&l, "target of 2048 bytes", s1, strlen(s1), 404, "not_found", false);
        t[2048] = 'u';
        t[2049] = '\0';
        s1 = fmt("GET %s HTTP/1.1\r\nHost: x\r\n\r\n", t);
        badd(&l, "target of 2049 bytes", s1, strlen(s1), 414, "uri_too_long", true);
        free(t);
    }
    s1 = fmt("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nContent-Length: 8388609\r\n\r\n",
             p_shared, tok);
    badd(&l, "Content-Length of 8 MiB + 1", s1, strlen(s1), 413, "payload_too_large", true);

    /* ---- JSON ---- */
    bjson(&l, "invalid JSON", "POST", p_shared, tok, "{\"records\": [", 400, "bad_json");
    bjson(&l, "empty body", "POST", p_shared, tok, "", 400, "bad_json");
    s1 = fmt("{\"records\":[{\"envelope\":\"%s\"}],\"records\":[]}", env_ok_text);
    bjson(&l, "duplicate keys", "POST", p_shared, tok, s1, 400, "bad_json");
    free(s1);
    bjson(&l, "duplicate keys (login)", "POST", "/v1/login/start", NULL,
          "{\"account\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"account\":\"AAAAAAAAAAAAAAAAAAAAAA\","
          "\"device\":\"AAAAAAAAAAAAAAAAAAAAAA\"}",
          400, "bad_json");
    s1 = nested(16); /* 17 levels */
    bjson(&l, "nested 17 deep", "POST", p_shared, tok, s1, 400, "too_deep");
    free(s1);
    s1 = nested(200);
    bjson(&l, "nested 201 deep", "POST", "/v1/sync", tok, s1, 400, "too_deep");
    free(s1);
    s1 = nested(15); /* 16 levels: allowed, then refused for its content */
    bjson(&l, "nested 16 deep (allowed depth)", "POST", p_shared, tok, s1, 400, "bad_field");
    free(s1);
    bjson(&l, "brackets inside a string are not nesting", "POST", p_shared, tok,
          "{\"records\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}", 400, "bad_field");

    /* ---- types and nulls ---- */
    bjson(&l, "records is a number", "POST", p_shared, tok, "{\"records\":5}", 400, "bad_field");
    bjson(&l, "envelope is a number", "POST", p_shared, tok, "{\"records\":[{\"envelope\":7}]}",
          400, "bad_field");
    s1 = fmt("{\"account\":123,\"device\":\"%s\"}", devid);
    bjson(&l, "account id is a number", "POST", "/v1/login/start", NULL, s1, 400, "bad_field");
    free(s1);
    bjson(&l, "ttl_s is a string", "POST", "/v1/invites", C->token, "{\"ttl_s\":\"3600\"}", 400,
          "bad_field");
    bjson(&l, "ttl_s is a fraction", "POST", "/v1/invites", C->token, "{\"ttl_s\":3600.5}", 400,
          "bad_field");
    bjson(&l, "ttl_s below 600", "POST", "/v1/invites", C->token, "{\"ttl_s\":599}", 400,
          "bad_field");
    bjson(&l, "records is null", "POST", p_shared, tok, "{\"records\":null}", 400, "bad_field");
    s1 = fmt("{\"records\":[{\"envelope\":\"%s\",\"expected\":null}]}", env_ok_text);
    bjson(&l, "expected is null", "POST", p_shared, tok, s1, 400, "bad_field");
    free(s1);
    s1 = fmt("{\"account\":\"%s\",\"device\":\"%s\",\"purpose\":null}", ida, devid);
    bjson(&l, "purpose is null", "POST", "/v1/login/start", NULL, s1, 400, "bad_field");
    free(s1);
    bjson(&l, "ttl_s is null", "POST", "/v1/invites", C->token, "{\"ttl_s\":null}", 400,
          "bad_field");
    s1 = fmt("{\"records\":[{\"envelope\":\"%s\",\"expected\":{\"clock\":\"01\",\"device\":"
             "\"%s\"}}]}",
             env_ok_text, devid);
    bjson(&l, "clock with a leading zero", "POST", p_shared, tok, s1, 400, "bad_field");
    free(s1);
    s1 = fmt("{\"records\":[{\"envelope\":\"%s\",\"expected\":{\"clock\":1,\"device\":\"%s\"}}]}",
             env_ok_text, devid);
    bjson(&l, "clock as a number", "POST", p_shared, tok, s1, 400, "bad_field");
    free(s1);

    /* ---- base64url ---- */
    s1 = fmt("{\"account\":\"AAAAAAAAAAAAAAAAAAAA+/\",\"device\":\"%s\"}", devid);
    bjson(&l, "id in the standard alphabet", "POST", "/v1/login/start", NULL, s1, 400,
          "bad_base64");
    free(s1);
    s1 = fmt("{\"account\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"device\":\"%s\"}", devid);
    bjson(&l, "padded id", "POST", "/v1/login/start", NULL, s1, 400, "bad_base64");
    free(s1);
    s1 = fmt("{\"account\":\"AAAAAAAAAAAAAAAAAAAAAB\",\"device\":\"%s\"}", devid);
    bjson(&l, "id with non-zero trailing bits", "POST", "/v1/login/start", NULL, s1, 400,
          "bad_base64");
    free(s1);
    s1 = fmt("{\"account\":\"AAAAAAAAAAA AAAAAAAAAA\",\"device\":\"%s\"}", devid);
    bjson(&l, "id with a space", "POST", "/v1/login/start", NULL, s1, 400, "bad_base64");
    free(s1);
    /* README section 17: a value "of the wrong decoded length" is bad_field. */
    s1 = fmt("{\"account\":\"AAAA\",\"device\":\"%s\"}", devid);
    bjson(&l, "id of 3 bytes (valid base64url)", "POST", "/v1/login/start", NULL, s1, 400,
          "bad_field");
    free(s1);
    bjson(&l, "stream id in the path with '+'", "GET",
          "/v1/streams/AAAAAAAAAAAAAAAAAAAA+A/records", tok, NULL, 400, "bad_base64");
    bjson(&l, "account id in the path with '@'", "GET", "/v1/accounts/@@@@@@@@@@@@@@@@@@@@@@/keys",
          tok, NULL, 400, "bad_base64");
    bjson(&l, "device id in the path with '~'", "DELETE", "/v1/devices/~~~~~~~~~~~~~~~~~~~~~~",
          tok, NULL, 400, "bad_base64");
    bjson(&l, "envelope not base64url", "POST", p_shared, tok,
          "{\"records\":[{\"envelope\":\"!!!!\"}]}", 400, "bad_base64");

    /* ---- envelopes ---- */
    env = raw_envelope(A, &A->shared, 1, A->shared_key[1], &env_len);
    s2 = b64_text(env, 100);
    s1 = fmt("{\"records\":[{\"envelope\":\"%s\"}]}", s2);
    bjson(&l, "truncated envelope (100 bytes)", "POST", p_shared, tok, s1, 400, "bad_envelope");
    free(s1), free(s2);
    s2 = b64_text(env, env_len - 1);
    s1 = fmt("{\"records\":[{\"envelope\":\"%s\"}]}", s2);
    bjson(&l, "envelope one byte short", "POST", p_shared, tok, s1, 400, "bad_envelope");
    free(s1), free(s2);
    env[0] = 2;
    s2 = b64_text(env, env_len);
    s1 = fmt("{\"records\":[{\"envelope\":\"%s\"}]}", s2);
    bjson(&l, "envelope version byte 2", "POST", p_shared, tok, s1, 400, "unsupported_version");
    free(s1), free(s2);
    free(env);
    s1 = fmt("{\"records\":[{\"envelope\":\"%s\"}]}", env_priv_text);
    bjson(&l, "envelope of another stream than the path", "POST", p_shared, tok, s1, 400,
          "bad_envelope");
    free(s1);

    /* ---- unknown fields and query parameters ---- */
    s1 = fmt("{\"records\":[{\"envelope\":\"%s\"}],\"extra\":1}", env_ok_text);
    bjson(&l, "unknown top-level field", "POST", p_shared, tok, s1, 400, "unknown_field");
    free(s1);
    s1 = fmt("{\"records\":[{\"envelope\":\"%s\",\"note\":\"x\"}]}", env_ok_text);
    bjson(&l, "unknown field in a record item", "POST", p_shared, tok, s1, 400, "unknown_field");
    free(s1);
    s1 = fmt("{\"account\":\"%s\",\"device\":\"%s\",\"remember_me\":true}", ida, devid);
    bjson(&l, "unknown field in login/start", "POST", "/v1/login/start", NULL, s1, 400,
          "unknown_field");
    free(s1);
    bjson(&l, "unknown field in sync", "POST", "/v1/sync", tok, "{\"pull\":[],\"since\":0}", 400,
          "unknown_field");
    bjson(&l, "unknown field in invites", "POST", "/v1/invites", C->token, "{\"name\":\"x\"}",
          400, "unknown_field");
    snprintf(tgt, sizeof tgt, "%s?since=0&foo=1", p_shared);
    bjson(&l, "unknown query parameter on pull", "GET", tgt, tok, NULL, 400, "unknown_field");
    bjson(&l, "unknown query parameter on access-log", "GET", "/v1/access-log?bar=2", tok, NULL,
          400, "unknown_field");
    /* README section 2: "a ... query parameter the endpoint does not define". */
    bjson(&l, "query parameter on GET /v1/account", "GET", "/v1/account?foo=1", tok, NULL, 400,
          "unknown_field");
    bjson(&l, "query parameter on GET /v1/streams", "GET", "/v1/streams?foo=1", tok, NULL, 400,
          "unknown_field");
    snprintf(tgt, sizeof tgt, "%s?since=abc", p_shared);
    bjson(&l, "since is not a number", "GET", tgt, tok, NULL, 400, "bad_field");
    snprintf(tgt, sizeof tgt, "%s?since=-1", p_shared);
    /* README 17 says bad_field for "out of range", openapi BadQuery invalid_request: 400. */
    bjson(&l, "since is negative", "GET", tgt, tok, NULL, 400, NULL);
    /* README sections 11, 17, 18: limit or max_bytes below 1 is invalid_request. */
    snprintf(tgt, sizeof tgt, "%s?limit=0", p_shared);
    bjson(&l, "pull limit=0", "GET", tgt, tok, NULL, 400, "invalid_request");
    snprintf(tgt, sizeof tgt, "%s?max_bytes=0", p_shared);
    bjson(&l, "pull max_bytes=0", "GET", tgt, tok, NULL, 400, "invalid_request");
    bjson(&l, "access-log limit=0", "GET", "/v1/access-log?limit=0", tok, NULL, 400,
          "invalid_request");
    {
        char sid[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(&A->shared, sid);
        s1 = fmt("{\"pull\":[{\"stream\":\"%s\"},{\"stream\":\"%s\"}]}", sid, sid);
        bjson(&l, "a stream twice in one sync", "POST", "/v1/sync", tok, s1, 400,
              "invalid_request");
        free(s1);
        bjson(&l, "sync limit=0", "POST", "/v1/sync", tok, "{\"pull\":[],\"limit\":0}", 400,
              "invalid_request");
    }

    /* ---- media type ---- */
    s1 = fmt("{\"records\":[{\"envelope\":\"%s\"}]}", env_ok_text);
    {
        char *req = mkreq(&len, "POST", p_shared, tok, "text/plain", s1);
        badd(&l, "Content-Type text/plain", req, len, 415, "unsupported_media_type", false);
        req = mkreq(&len, "POST", p_shared, tok, NULL, s1);
        badd(&l, "no Content-Type", req, len, 415, "unsupported_media_type", false);
        req = mkreq(&len, "POST", p_shared, tok, "application/jsonx", s1);
        badd(&l, "Content-Type application/jsonx", req, len, 415, "unsupported_media_type",
             false);
        req = mkreq(&len, "POST", "/v1/login/start", NULL, "application/x-www-form-urlencoded",
                    "account=x");
        badd(&l, "form body to login/start", req, len, 415, "unsupported_media_type", false);
        /* With a charset it is accepted (the envelope is stored already: a duplicate). */
        req = mkreq(&len, "POST", p_shared, tok, "application/json; charset=utf-8", s1);
        badd(&l, "Content-Type with charset (accepted)", req, len, 200, NULL, false);
    }
    free(s1);

    /* ---- batch limits ---- */
    s1 = records_body(env_ok_text, 501);
    bjson(&l, "501 records in one push", "POST", p_shared, tok, s1, 413, "too_many_records");
    free(s1);
    s1 = records_body(env_ok_text, 500); /* the limit itself: all duplicates, nothing changes */
    bjson(&l, "500 records in one push (allowed)", "POST", p_shared, tok, s1, 200, NULL);
    free(s1);
    {
        char sid[DBK_ID_TEXT_LEN + 1], pid[DBK_ID_TEXT_LEN + 1];
        char *r1 = records_body(env_ok_text, 300), *r2 = records_body(env_priv_text, 201);
        dbk_id_to_text(&A->shared, sid);
        dbk_id_to_text(&A->priv, pid);
        /* r1 + 1 is "records":[...]} : the item's remaining key and its closing brace. */
        s1 = fmt("{\"push\":[{\"stream\":\"%s\",%s,{\"stream\":\"%s\",%s]}", sid, r1 + 1, pid,
                 r2 + 1);
        bjson(&l, "501 records in one sync", "POST", "/v1/sync", tok, s1, 413,
              "too_many_records");
        free(s1), free(r1), free(r2);
        size_t cap = 257 * 64 + 64, o = 0;
        s1 = malloc(cap);
        assert_non_null(s1);
        o += (size_t)snprintf(s1 + o, cap - o, "{\"pull\":[");
        for (int i = 0; i < 257; i++) {
            dbk_id x;
            char xt[DBK_ID_TEXT_LEN + 1];
            dbk_id_random(&x);
            dbk_id_to_text(&x, xt);
            o += (size_t)snprintf(s1 + o, cap - o, "%s{\"stream\":\"%s\"}", i ? "," : "", xt);
        }
        snprintf(s1 + o, cap - o, "]}");
        bjson(&l, "257 stream entries in one sync", "POST", "/v1/sync", tok, s1, 413,
              "too_many_records");
        free(s1);
    }
    {
        json_t *g = tc_grant_json(A, &A->shared, 1, A->shared_key[1], &C->id, C->keys->box_pk);
        json_t *arr = json_array();
        for (int i = 0; i < 65; i++)
            json_array_append(arr, g);
        json_t *b = json_pack("{s:o}", "grants", arr);
        s1 = json_dumps(b, JSON_COMPACT);
        snprintf(tgt, sizeof tgt, "%s", tc_path("/v1/streams/%s/grants", &A->shared));
        bjson(&l, "65 grants in one request", "POST", tgt, tok, s1, 413, "too_many_records");
        free(s1);
        json_decref(b);
        json_decref(g);
    }
    s1 = fmt("{\"account\":\"%s\",\"device\":\"%s\",\"challenge\":\"%s\",\"signature\":\"%s\","
             "\"device_name\":\"%s\"}",
             ida, devid, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
             "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"); /* 65 bytes */
    bjson(&l, "device_name of 65 bytes", "POST", "/v1/login/finish", NULL, s1, 400, "bad_field");
    free(s1);

    /* Last, because a server that mishandles it may not survive it (alive() says which). */
    bjson(&l, "JSON array instead of an object", "POST", "/v1/login/start", NULL, "[]", 400,
          "bad_json");

    /* ---- slowloris (the server runs with --request-timeout-ms 500) ---- */
    slowloris(&w, "partial headers", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", false);
    slowloris(&w, "headers trickled a byte at a time",
              "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", true);
    s1 = fmt("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
             "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"records\"",
             p_shared, tok);
    slowloris(&w, "a body that never completes", s1, false);
    free(s1);

    for (size_t i = 0; i < l.n; i++) {
        run_bcase(&w, &l.c[i]);
        if (!alive(w.s)) {
            bad(&w, "the server stopped answering after bad input \"%s\"", l.c[i].name);
            break;
        }
    }

    /* ---- afterwards: the server serves, the data is untouched, the store checks ---- */
    if (!alive(w.s))
        bad(&w, "after the matrix: /healthz does not answer 200");
    after = pull_all(w.s, A, &A->shared);
    if (after == NULL || !json_equal(after, before_shared))
        bad(&w, "after the matrix: A's shared stream changed (records or seqs) or is unreadable");
    json_decref(after);
    after = pull_all(w.s, A, &A->priv);
    if (after == NULL || !json_equal(after, before_priv))
        bad(&w, "after the matrix: A's private stream changed (records or seqs) or is unreadable");
    json_decref(after);
    after = pull_all(w.s, C, &A->shared);
    if (after == NULL || json_array_size(json_object_get(after, "records")) != 5)
        bad(&w, "after the matrix: C cannot pull A's 5 shared records");
    json_decref(after);
    {
        const char *argv[] = {dbk_bin("DAYBOOKD"), "check", "--data-dir", w.s->data_dir, NULL};
        dbk_run_result rr;
        assert_int_equal(dbk_run(argv, NULL, 60, &rr), 0);
        if (rr.status != 0)
            bad(&w, "daybookd check exits %d: %.200s", rr.status, rr.err);
        dbk_run_result_free(&rr);
    }

    dbk_report("bad input", "malformed requests and slow clients; afterwards data compared "
               "and `daybookd check` run",
               "%zu cases + 3 slow clients, mismatches: %zu", l.n, w.nbad);
    for (size_t i = 0; i < l.n; i++) {
        free(l.c[i].name);
        free(l.c[i].req);
    }
    free(l.c);
    free(env_ok_text);
    free(env_priv_text);
    json_decref(before_shared);
    json_decref(before_priv);
    size_t nbad = print_report(&w, "bad-input-matrix");
    world_free(&w);
    if (nbad > 0)
        fail_msg("%zu bad-input-matrix mismatches (listed above)", nbad);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_authorization_matrix, start_plain, stop),
        cmocka_unit_test_setup_teardown(test_bad_input_matrix, start_short_timeout, stop),
    };
    signal(SIGPIPE, SIG_IGN); /* the server may close while a large request is sent */
    if (dbk_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
