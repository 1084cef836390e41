/*
 * Enrollment's one request, its body read from the profile. See enroll.h.
 */
#include "enroll.h"

#include "transport.h"
#include "stream_key.h"

#include "dbk/base64.h"
#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>

static json_t *
b64(const unsigned char *b, size_t n)
{
    char *s = malloc(DBK_B64_ENCODED_LEN(n) + 1);
    json_t *j;
    if (s == NULL)
        return NULL;
    (void)dbk_b64_encode(s, DBK_B64_ENCODED_LEN(n) + 1, b, n);
    j = json_string(s);
    free(s);
    return j;
}

static json_t *
idj(const dbk_id *id)
{
    return b64(id->b, DBK_ID_BYTES);
}

/* The body of POST /v1/enroll: the account's public parts and the streams made at init
 * with their self-grants (a counselor sends only the private stream). */
static int
enroll_body(dbk_session *s, const char *code, bool counselor, json_t **body)
{
    dbk_local_stream st;
    unsigned char login_pk[32], bundle[DBK_BUNDLE_BYTES], key[32];
    json_t *streams = json_array(), *grants = json_array();
    size_t n;
    int rc = DBK_OK;

    for (int k = counselor ? 1 : 0; k < 2 && rc == DBK_OK; k++) {
        unsigned char *g;
        size_t glen;
        if (dbk_local_stream_of(s->L, &s->account, k ? DBK_LOCAL_PRIVATE : DBK_LOCAL_SHARED,
                                &st) != DBK_OK ||
            dbk_stream_key(s, &st.id, 1, key) != DBK_OK) {
            rc = DBK_E_CORRUPT;
            break;
        }
        sodium_memzero(key, sizeof key); /* its key opens: the profile is whole */
        if ((rc = dbk_local_grant_get(s->L, &st.id, 1, &g, &glen)) != DBK_OK)
            break;
        json_array_append_new(streams, json_pack("{s:o, s:s}", "stream", idj(&st.id), "kind",
                                                 k == 0 ? "shared" : "private"));
        json_array_append_new(grants, b64(g, glen));
        free(g);
    }
    if (rc != DBK_OK) {
        json_decref(streams);
        json_decref(grants);
        return rc;
    }
    dbk_local_get(s->L, "login_pk", login_pk, 32, &n);
    dbk_local_get(s->L, "bundle", bundle, sizeof bundle, &n);
    *body = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o}", "code", code,
                      "account", idj(&s->account), "ed25519_pk", b64(s->keys->sign_pk, 32),
                      "x25519_pk", b64(s->keys->box_pk, 32), "login_pk", b64(login_pk, 32),
                      "bundle", b64(bundle, sizeof bundle), "device", idj(&s->device),
                      "device_name", "daybook cli", "streams", streams, "grants", grants);
    return *body ? DBK_OK : DBK_E_NOMEM;
}

int
dbk_sync_enroll(dbk_session *s, const char *code, bool counselor, dbk_id *server_id,
                json_t **resp)
{
    json_t *body = NULL;
    long status;
    int rc;

    *resp = NULL;
    if ((rc = enroll_body(s, code, counselor, &body)) == DBK_OK)
        rc = dbk_net_call(s, "POST", "/v1/enroll", body, false, &status, resp);
    json_decref(body);
    if (rc == DBK_OK && status != 201) {
        const char *ec =
            json_string_value(json_object_get(json_object_get(*resp, "error"), "code"));
        rc = ec ? dbk_err_from_code(ec) : DBK_E_UNAVAILABLE;
    }
    const char *sid = json_string_value(json_object_get(*resp, "server_id"));
    const char *tok = json_string_value(json_object_get(*resp, "token"));
    if (rc == DBK_OK &&
        (sid == NULL || tok == NULL || dbk_id_from_text(server_id, sid, strlen(sid)) != DBK_OK))
        rc = DBK_E_BAD_JSON;
    if (rc != DBK_OK) {
        json_decref(*resp);
        *resp = NULL;
    }
    return rc;
}
