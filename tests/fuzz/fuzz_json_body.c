/*
 * fuzz_json_body: what daybookd does with a request body before any storage work.
 *
 * The body is parsed as dbk_api_body does (server/api.c: a raw nesting pre-check
 * so the parser cannot be made to recurse deeply, jansson with duplicate keys
 * rejected, an object at the top, depth at most DBK_JSON_MAX_DEPTH), then handed to
 * a decoder for each endpoint that takes a body. The decoders call the real field
 * readers of server/api.h (dbk_api_only, _id, _fixed, _bytes, _str, _int,
 * _revision) and the real codecs (dbk_b64_decode via dbk_api_bytes,
 * dbk_envelope_parse, dbk_grant_verify, dbk_bundle_params) in the order the
 * handlers in server/api_*.c do; the handlers themselves are not reachable without
 * a request, a job and a storage worker (see README.md, "Hooks").
 *
 * dbk_api_body's own pre-check and depth walk are static in api.c; the two are
 * copied below verbatim and must be kept in step. The real dbk_api_body is
 * exercised by fuzz_http, whose handler calls it for every request with a body.
 *
 * Invariants: the nesting pre-check and the parsed depth agree on every document
 * jansson accepts; a reader that accepts a value returns it within its bounds and
 * in its only canonical spelling (base64url re-encodes to the same text, a clock
 * prints back to the same decimal string).
 */
#include "fuzz.h"

#include "api.h"

#include "dbk/base64.h"
#include "dbk/envelope.h"
#include "dbk/grant.h"
#include "dbk/keys.h"

#include <string.h>

/* Limits of the handlers (server/api_*.c), repeated here. */
#define NAME_MAX_BYTES 64          /* DBK_NAME_MAX */
#define INVITE_TTL_MIN_S 600
#define INVITE_TTL_MAX_S (30LL * 24 * 3600)
#define MAX_RECORDS_PER_PUSH 500
#define MAX_SYNC_ENTRIES 256
#define MAX_GRANTS_PER_REQUEST 64

static dbk_id stream; /* the path's {stream} for push: the vectors' stream */
static unsigned char owner_pk[32];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    json_t *v, *c;

    (void)argc;
    (void)argv;
    fuzz_init();
    v = fuzz_vectors("envelope.json");
    c = json_array_get(json_object_get(v, "positive"), 0);
    fuzz_vec_fixed(c, "stream_id", stream.b, 16);
    fuzz_vec_fixed(c, "author_pk", owner_pk, 32);
    json_decref(v);
    return 0;
}

/* ---- the readers, with their invariants ---- */

static int
is_error(int rc)
{
    return rc < 0 && rc >= DBK_E_EXPIRED;
}

/* A string value that was accepted as base64url of out[0..len) must be its encoding. */
static void
check_canonical(json_t *v, const unsigned char *out, size_t len)
{
    size_t n = DBK_B64_ENCODED_LEN(len);
    char *t;

    if (fuzz_known_b64_high_bytes(json_string_value(v), json_string_length(v)))
        return;
    t = malloc(n + 1);
    FUZZ_CHECK(t != NULL);
    FUZZ_CHECK(dbk_b64_encode(t, n + 1, out, len) == DBK_OK);
    FUZZ_CHECK(json_string_length(v) == n && memcmp(json_string_value(v), t, n) == 0);
    free(t);
}

static int
only(json_t *obj, const char *const *allowed)
{
    int rc = dbk_api_only(obj, allowed);
    FUZZ_CHECK(rc == DBK_OK || rc == DBK_E_UNKNOWN_FIELD || rc == DBK_E_BAD_FIELD);
    if (rc == DBK_OK) {
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v) {
            size_t i = 0;
            while (allowed[i] && strcmp(allowed[i], k) != 0)
                i++;
            FUZZ_CHECK(allowed[i] != NULL && !json_is_null(v));
        }
    }
    return rc;
}

static int
fixed(json_t *obj, const char *key, unsigned char *out, size_t n)
{
    int rc = dbk_api_fixed(obj, key, out, n);
    FUZZ_CHECK(rc == DBK_OK || rc == DBK_E_BAD_FIELD || rc == DBK_E_BAD_BASE64);
    if (rc == DBK_OK)
        check_canonical(json_object_get(obj, key), out, n);
    return rc;
}

static int
id(json_t *obj, const char *key, dbk_id *out)
{
    int rc = dbk_api_id(obj, key, out);
    FUZZ_CHECK(rc == DBK_OK || rc == DBK_E_BAD_FIELD || rc == DBK_E_BAD_BASE64);
    if (rc == DBK_OK)
        check_canonical(json_object_get(obj, key), out->b, DBK_ID_BYTES);
    return rc;
}

static int
bytes(json_t *obj, const char *key, size_t cap, unsigned char **out, size_t *len)
{
    int rc = dbk_api_bytes(obj, key, cap, out, len);
    FUZZ_CHECK(rc == DBK_OK || rc == DBK_E_BAD_FIELD || rc == DBK_E_BAD_BASE64 ||
               rc == DBK_E_NOMEM);
    if (rc == DBK_OK) {
        FUZZ_CHECK(*out != NULL && *len <= cap);
        check_canonical(json_object_get(obj, key), *out, *len);
    } else {
        FUZZ_CHECK(*out == NULL && *len == 0);
    }
    return rc;
}

static int
str(json_t *obj, const char *key, size_t max, const char **out)
{
    int rc = dbk_api_str(obj, key, max, out);
    FUZZ_CHECK(rc == DBK_OK || rc == DBK_E_BAD_FIELD);
    if (rc == DBK_OK) {
        size_t n = strlen(*out);
        FUZZ_CHECK(n >= 1 && n <= max && n == json_string_length(json_object_get(obj, key)));
    }
    return rc;
}

static int
integer(json_t *obj, const char *key, bool optional, int64_t dflt, int64_t lo, int64_t hi,
        int64_t *out)
{
    int rc = dbk_api_int(obj, key, optional, dflt, lo, hi, out);
    FUZZ_CHECK(rc == DBK_OK || rc == DBK_E_BAD_FIELD);
    if (rc == DBK_OK)
        FUZZ_CHECK((*out >= lo && *out <= hi) || (*out == dflt && optional));
    return rc;
}

static int
revision(json_t *v, dbk_revision *out)
{
    int rc = dbk_api_revision(v, out);
    FUZZ_CHECK(rc == DBK_OK || rc == DBK_E_BAD_FIELD || rc == DBK_E_BAD_BASE64);
    if (rc == DBK_OK) {
        char clock[24];
        snprintf(clock, sizeof clock, "%llu", (unsigned long long)out->clock);
        FUZZ_CHECK(strcmp(clock, json_string_value(json_object_get(v, "clock"))) == 0);
        json_t *dev = json_object_get(v, "device");
        check_canonical(dev, out->device.b, DBK_ID_BYTES);
        /* And back to JSON: the same object. */
        json_t *again = dbk_api_revision_json(out);
        FUZZ_CHECK(again != NULL);
        if (!fuzz_known_b64_high_bytes(json_string_value(dev), json_string_length(dev)))
            FUZZ_CHECK(json_equal(again, v));
        json_decref(again);
    }
    return rc;
}

/* ---- the endpoints (server/api_*.c), in the handlers' order ---- */

/* Base64url of a grant, as enroll and POST .../grants take them (an array element). */
static int
grant_element(json_t *e, const unsigned char *pk)
{
    json_t *wrap = json_pack("{s:O}", "g", e);
    unsigned char *g = NULL;
    size_t glen = 0;
    dbk_grant_hdr h;
    int rc;

    FUZZ_CHECK(wrap != NULL);
    rc = bytes(wrap, "g", DBK_GRANT_MAX_BYTES, &g, &glen);
    json_decref(wrap);
    if (rc == DBK_OK) {
        rc = dbk_grant_verify(g, glen, pk, &h);
        FUZZ_CHECK(is_error(rc) || rc == DBK_OK);
    }
    free(g);
    return rc;
}

/* POST /v1/enroll */
static int
enroll(json_t *body)
{
    static const char *const keys[] = {"code",   "account",     "ed25519_pk", "x25519_pk",
                                       "login_pk", "bundle",    "device",     "device_name",
                                       "streams", "grants",     NULL};
    static const char *const stream_keys[] = {"stream", "kind", NULL};
    unsigned char code[16], sign_pk[32], box_pk[32], login_pk[32], *bundle = NULL;
    size_t blen = 0, i;
    dbk_id account, device;
    const char *name = "device";
    dbk_kdf_params kp;
    uint32_t generation;
    json_t *streams, *grants, *e;
    int rc;

    if ((rc = only(body, keys)) != DBK_OK || (rc = fixed(body, "code", code, sizeof code)) != DBK_OK ||
        (rc = id(body, "account", &account)) != DBK_OK ||
        (rc = fixed(body, "ed25519_pk", sign_pk, 32)) != DBK_OK ||
        (rc = fixed(body, "x25519_pk", box_pk, 32)) != DBK_OK ||
        (rc = fixed(body, "login_pk", login_pk, 32)) != DBK_OK ||
        (rc = bytes(body, "bundle", DBK_BUNDLE_BYTES, &bundle, &blen)) != DBK_OK ||
        (rc = id(body, "device", &device)) != DBK_OK ||
        (json_object_get(body, "device_name") &&
         (rc = str(body, "device_name", NAME_MAX_BYTES, &name)) != DBK_OK)) {
        free(bundle);
        return rc;
    }
    rc = dbk_bundle_params(bundle, blen, &kp, &generation);
    free(bundle);
    FUZZ_CHECK(rc == DBK_OK || rc == DBK_E_CORRUPT || rc == DBK_E_VERSION || rc == DBK_E_KDF_WEAK);
    if (rc != DBK_OK)
        return rc;
    streams = json_object_get(body, "streams");
    grants = json_object_get(body, "grants");
    if (!json_is_array(streams) || json_array_size(streams) < 1 ||
        json_array_size(streams) > 2 || !json_is_array(grants) ||
        json_array_size(grants) != json_array_size(streams))
        return DBK_E_BAD_FIELD;
    json_array_foreach(streams, i, e) {
        const char *kind;
        dbk_id sid;
        if (!json_is_object(e))
            return DBK_E_BAD_FIELD;
        if ((rc = only(e, stream_keys)) != DBK_OK || (rc = id(e, "stream", &sid)) != DBK_OK ||
            (rc = str(e, "kind", 16, &kind)) != DBK_OK)
            return rc;
    }
    json_array_foreach(grants, i, e) {
        if ((rc = grant_element(e, sign_pk)) != DBK_OK)
            return rc;
    }
    return DBK_OK;
}

/* POST /v1/login/start and /v1/login/finish */
static int
login(json_t *body)
{
    static const char *const start_keys[] = {"account", "device", "purpose", NULL};
    static const char *const finish_keys[] = {"account", "device", "challenge", "signature",
                                              "device_name", NULL};
    unsigned char challenge[32], sig[64];
    dbk_id account, device;
    const char *name;

    int rc;

    if (only(body, start_keys) == DBK_OK && id(body, "account", &account) == DBK_OK &&
        id(body, "device", &device) == DBK_OK)
        return DBK_OK; /* a login/start body */
    if ((rc = only(body, finish_keys)) != DBK_OK || (rc = id(body, "account", &account)) != DBK_OK ||
        (rc = id(body, "device", &device)) != DBK_OK ||
        (rc = fixed(body, "challenge", challenge, 32)) != DBK_OK ||
        (rc = fixed(body, "signature", sig, 64)) != DBK_OK)
        return rc;
    if (json_object_get(body, "device_name"))
        return str(body, "device_name", NAME_MAX_BYTES, &name);
    return DBK_OK;
}

/* PUT /v1/account/bundle */
static int
put_bundle(json_t *body)
{
    static const char *const keys[] = {"challenge", "signature", "bundle", "login_pk", NULL};
    unsigned char challenge[32], sig[64], bundle[DBK_BUNDLE_BYTES], login_pk[32];
    dbk_kdf_params kp;
    uint32_t generation;
    int rc;

    if ((rc = only(body, keys)) != DBK_OK || (rc = fixed(body, "challenge", challenge, 32)) != DBK_OK ||
        (rc = fixed(body, "signature", sig, 64)) != DBK_OK ||
        (rc = fixed(body, "bundle", bundle, sizeof bundle)) != DBK_OK ||
        (rc = fixed(body, "login_pk", login_pk, 32)) != DBK_OK)
        return rc;
    rc = dbk_bundle_params(bundle, sizeof bundle, &kp, &generation);
    FUZZ_CHECK(rc == DBK_OK || rc == DBK_E_CORRUPT || rc == DBK_E_VERSION || rc == DBK_E_KDF_WEAK);
    return rc;
}

/* POST /v1/invites */
static int
invite(json_t *body)
{
    static const char *const keys[] = {"ttl_s", NULL};
    int64_t ttl;
    int rc = only(body, keys);
    if (rc != DBK_OK)
        return rc;
    return integer(body, "ttl_s", true, 7 * 24 * 3600, INVITE_TTL_MIN_S, INVITE_TTL_MAX_S, &ttl);
}

/* POST /v1/streams/{stream}/grants (the signature check runs in the worker, with the
 * caller's key: here the vectors' owner). */
static int
grants_put(json_t *body)
{
    static const char *const keys[] = {"grants", NULL};
    json_t *arr = json_object_get(body, "grants"), *g;
    size_t i;
    int rc;

    if ((rc = only(body, keys)) != DBK_OK)
        return rc;
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return DBK_E_BAD_FIELD;
    if (json_array_size(arr) > MAX_GRANTS_PER_REQUEST)
        return DBK_E_TOO_MANY_RECORDS;
    json_array_foreach(arr, i, g) {
        if ((rc = grant_element(g, owner_pk)) != DBK_OK)
            return rc;
    }
    return DBK_OK;
}

/* decode_push of server/api_records.c: the envelopes of one stream's records. */
static int
decode_push(json_t *records, const dbk_id *sid, size_t *budget)
{
    static const char *const item_keys[] = {"envelope", "expected", NULL};
    size_t i, n = json_array_size(records);
    json_t *it;
    int rc = DBK_OK;

    if (!json_is_array(records) || n == 0)
        return DBK_E_BAD_FIELD;
    if (n > *budget)
        return DBK_E_TOO_MANY_RECORDS;
    *budget -= n;
    json_array_foreach(records, i, it) {
        unsigned char *env = NULL;
        size_t len = 0;
        dbk_envelope_hdr h;
        json_t *exp;

        if (!json_is_object(it))
            return DBK_E_BAD_FIELD;
        if ((rc = only(it, item_keys)) != DBK_OK)
            return rc;
        if ((rc = bytes(it, "envelope", DBK_ENV_MAX_BYTES, &env, &len)) != DBK_OK)
            return rc;
        rc = dbk_envelope_parse(env, len, &h);
        FUZZ_CHECK(rc == DBK_OK || rc == DBK_E_BAD_ENVELOPE || rc == DBK_E_VERSION);
        if (rc == DBK_OK)
            FUZZ_CHECK(len >= DBK_ENV_MIN_BYTES && len <= DBK_ENV_MAX_BYTES &&
                       memcmp(h.stream.b, env + 4, 16) == 0);
        free(env);
        if (rc != DBK_OK)
            return rc;
        if (!dbk_id_equal(&h.stream, sid))
            return DBK_E_BAD_ENVELOPE;
        exp = json_object_get(it, "expected");
        if (exp != NULL && !(json_is_string(exp) && strcmp(json_string_value(exp), "none") == 0)) {
            dbk_revision r;
            if ((rc = revision(exp, &r)) != DBK_OK)
                return rc;
        }
    }
    return DBK_OK;
}

/* POST /v1/streams/{stream}/records */
static int
push(json_t *body)
{
    static const char *const keys[] = {"records", NULL};
    size_t budget = MAX_RECORDS_PER_PUSH;
    int rc = only(body, keys);
    if (rc != DBK_OK)
        return rc;
    return decode_push(json_object_get(body, "records"), &stream, &budget);
}

/* POST /v1/sync */
static int
sync_body(json_t *body)
{
    static const char *const keys[] = {"push", "pull", "limit", "max_bytes", NULL};
    static const char *const push_keys[] = {"stream", "records", "after", NULL};
    static const char *const pull_keys[] = {"stream", "since", NULL};
    json_t *pushes = json_object_get(body, "push"), *pulls = json_object_get(body, "pull"), *e;
    size_t i, budget = MAX_RECORDS_PER_PUSH;
    int64_t limit, max_bytes, since;
    dbk_id sid, after, pushed[MAX_SYNC_ENTRIES];
    int rc;

    if ((rc = only(body, keys)) != DBK_OK)
        return rc;
    if ((pushes && !json_is_array(pushes)) || (pulls && !json_is_array(pulls)))
        return DBK_E_BAD_FIELD;
    if (json_array_size(pushes) + json_array_size(pulls) > MAX_SYNC_ENTRIES)
        return DBK_E_TOO_MANY_RECORDS;
    if ((rc = integer(body, "limit", true, 500, 0, INT64_MAX, &limit)) != DBK_OK ||
        (rc = integer(body, "max_bytes", true, 1048576, 0, INT64_MAX, &max_bytes)) != DBK_OK)
        return rc;
    json_array_foreach(pushes, i, e) {
        if (!json_is_object(e))
            return DBK_E_BAD_FIELD;
        if ((rc = only(e, push_keys)) != DBK_OK || (rc = id(e, "stream", &sid)) != DBK_OK)
            return rc;
        for (size_t k = 0; k < i; k++)
            if (dbk_id_equal(&pushed[k], &sid))
                return DBK_E_INVALID; /* a stream at most once */
        pushed[i] = sid;
        if ((rc = decode_push(json_object_get(e, "records"), &sid, &budget)) != DBK_OK)
            return rc;
        /* "after": a stream pushed before this entry (README section 12). */
        if (json_object_get(e, "after") == NULL)
            continue;
        if ((rc = id(e, "after", &after)) != DBK_OK)
            return rc;
        size_t k = 0;
        while (k < i && !dbk_id_equal(&pushed[k], &after))
            k++;
        if (k == i)
            return DBK_E_INVALID;
    }
    json_array_foreach(pulls, i, e) {
        if (!json_is_object(e))
            return DBK_E_BAD_FIELD;
        if ((rc = only(e, pull_keys)) != DBK_OK || (rc = id(e, "stream", &sid)) != DBK_OK ||
            (rc = integer(e, "since", true, 0, 0, INT64_MAX, &since)) != DBK_OK)
            return rc;
    }
    return DBK_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool deep = dbk_api_json_too_deep(data, size, DBK_JSON_MAX_DEPTH);
    json_error_t e;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);

    FUZZ_TRACE("json: %zu bytes, %s%s\n", size, body ? "parsed" : "not JSON",
               deep ? ", too deep" : "");
    if (body == NULL)
        return 0;
    /* On a document jansson accepts, the raw pre-check and the parsed depth agree. */
    FUZZ_CHECK(deep == (dbk_api_json_depth(body) > DBK_JSON_MAX_DEPTH));
    if (deep || !json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    static const struct {
        const char *name;
        int (*decode)(json_t *);
    } endpoints[] = {{"enroll", enroll},   {"login", login}, {"put_bundle", put_bundle},
                     {"invite", invite},   {"grants", grants_put}, {"push", push},
                     {"sync", sync_body}};
    for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++) {
        int rc = endpoints[i].decode(body);
        FUZZ_CHECK(rc == DBK_OK || is_error(rc));
        FUZZ_TRACE("json: %s %s\n", endpoints[i].name, dbk_err_code(rc));
    }
    json_decref(body);
    return 0;
}
