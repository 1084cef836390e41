/*
 * What the client and the counselor exchange with the server about each other. See
 * sharing.h.
 */
#include "sharing.h"

#include "transport.h"
#include "stream_key.h"
#include "trust.h"

#include "dbk/base64.h"
#include "dbk/error.h"
#include "dbk/grant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* The counselor's keys in an answer (keys: the account's keys object), believed only as
 * trust/ decides (dbk_trust_enrolled_counselor): for the account counselor, and matching
 * the fingerprint it gave in person, else DBK_E_FINGERPRINT. A refusal is the server's
 * error. */
static int
keys_checked(int rc, long status, const json_t *resp, const json_t *keys,
             const dbk_id *counselor, const char *fp, unsigned char sign_pk[32],
             unsigned char box_pk[32])
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id named;

    if (rc != DBK_OK)
        return rc;
    if (status != 200)
        return dbk_net_answer_err(resp);
    dbk_id_to_text(counselor, t);
    return dbk_trust_enrolled_counselor(keys, t, fp, &named, sign_pk, box_pk);
}

int
dbk_sync_counselor_keys(dbk_session *s, const dbk_id *counselor, const char *fp,
                        unsigned char sign_pk[32], unsigned char box_pk[32])
{
    char t[DBK_ID_TEXT_LEN + 1], path[128];
    json_t *resp = NULL;
    long status;
    int rc;

    dbk_id_to_text(counselor, t);
    snprintf(path, sizeof path, "/v1/accounts/%s/keys", t);
    rc = dbk_net_call(s, "GET", path, NULL, true, &status, &resp);
    rc = keys_checked(rc, status, resp, resp, counselor, fp, sign_pk, box_pk);
    json_decref(resp);
    return rc;
}

int
dbk_sync_counselor_keys_by_code(dbk_session *s, const char *code, const dbk_id *counselor,
                                const char *fp, unsigned char sign_pk[32],
                                unsigned char box_pk[32])
{
    char t[DBK_ID_TEXT_LEN + 1];
    json_t *body, *resp = NULL;
    long status = 0;
    int rc;

    dbk_id_to_text(counselor, t);
    body = json_pack("{s:s, s:s}", "code", code, "counselor", t);
    if (body == NULL)
        return DBK_E_NOMEM;
    rc = dbk_net_call(s, "POST", "/v1/enroll/check", body, false, &status, &resp);
    json_decref(body);
    rc = keys_checked(rc, status, resp, json_object_get(resp, "counselor"), counselor, fp,
                      sign_pk, box_pk);
    json_decref(resp);
    return rc;
}

int
dbk_sync_share_grant(dbk_session *s, const dbk_id *counselor, const unsigned char box_pk[32],
                     const json_t *consent, int64_t expires_ms)
{
    dbk_local_stream shared;
    unsigned char key[32], *g = NULL;
    char *text = NULL, sid[DBK_ID_TEXT_LEN + 1], path[128];
    json_t *body = NULL, *resp = NULL;
    size_t len;
    long status;
    int rc;

    if ((rc = dbk_local_stream_of(s->L, &s->account, DBK_LOCAL_SHARED, &shared)) != DBK_OK)
        return rc;
    if ((rc = dbk_stream_key(s, &shared.id, shared.epoch, key)) != DBK_OK)
        return rc;
    dbk_grant_hdr h = {.stream = shared.id, .epoch = shared.epoch, .owner = s->account,
                       .grantee = *counselor, .created_at = dbk_hlc_wall_ms(),
                       .expires_at = expires_ms};
    if ((text = json_dumps(consent, JSON_COMPACT)) == NULL)
        rc = DBK_E_NOMEM;
    if (rc == DBK_OK)
        rc = dbk_grant_seal(&h, key, text, strlen(text), box_pk, s->keys->sign_sk, &g, &len);
    sodium_memzero(key, sizeof key);
    free(text);
    if (rc != DBK_OK)
        return rc;
    {
        size_t cap = DBK_B64_ENCODED_LEN(len) + 1;
        char *b = malloc(cap);
        if (b == NULL || dbk_b64_encode(b, cap, g, len) != DBK_OK)
            rc = DBK_E_NOMEM;
        else
            body = json_pack("{s:[s]}", "grants", b);
        free(b);
    }
    if (rc != DBK_OK || body == NULL) {
        free(g);
        return rc != DBK_OK ? rc : DBK_E_NOMEM;
    }
    dbk_id_to_text(&shared.id, sid);
    snprintf(path, sizeof path, "/v1/streams/%s/grants", sid);
    rc = dbk_net_call(s, "POST", path, body, true, &status, &resp);
    json_decref(body);
    if (rc == DBK_OK && (status < 200 || status > 299))
        rc = dbk_net_answer_err(resp);
    json_decref(resp);
    /* Kept as an act, acknowledged: a restored server gets it back (sync/rotate.c), and a
     * rotation re-grants to this reader from this device's own record. A grant the
     * server refused is not kept: the client was told nothing was shared. */
    if (rc == DBK_OK) {
        dbk_local_act a = {.stream = shared.id, .grantee = *counselor, .kind = DBK_ACT_GRANT,
                           .epoch = shared.epoch, .grant = g, .len = len,
                           .at_ms = dbk_hlc_wall_ms()};
        int64_t seq;
        if ((rc = dbk_local_act_add(s->L, &a)) == DBK_OK &&
            (seq = dbk_local_act_last(s->L)) > 0)
            rc = dbk_local_act_acked(s->L, seq);
    }
    free(g);
    return rc;
}

int
dbk_sync_consent_template(dbk_session *s, json_t **tmpl)
{
    json_t *resp = NULL;
    long status;
    int rc = dbk_net_call(s, "GET", "/v1/consent-template", NULL, false, &status, &resp);

    *tmpl = NULL;
    if (rc != DBK_OK)
        return rc;
    if (status == 200 && json_is_object(json_object_get(resp, "template")))
        *tmpl = json_incref(json_object_get(resp, "template"));
    else if (status != 404)
        rc = dbk_net_answer_err(resp);
    json_decref(resp);
    return rc;
}

int
dbk_sync_share_states(dbk_session *s, json_t **out)
{
    dbk_local_stream shared;
    char sid[DBK_ID_TEXT_LEN + 1], path[128];
    json_t *resp = NULL, *g, *newest = json_object();
    long status;
    size_t i;
    int rc;

    *out = NULL;
    if ((rc = dbk_local_stream_of(s->L, &s->account, DBK_LOCAL_SHARED, &shared)) != DBK_OK) {
        json_decref(newest);
        return rc;
    }
    dbk_id_to_text(&shared.id, sid);
    snprintf(path, sizeof path, "/v1/streams/%s/grants", sid);
    rc = dbk_net_call(s, "GET", path, NULL, true, &status, &resp);
    if (rc == DBK_OK && status != 200)
        rc = dbk_net_answer_err(resp);
    *out = json_object();
    json_array_foreach(json_object_get(resp, "grants"), i, g) {
        const char *who = json_string_value(json_object_get(g, "grantee"));
        const char *state = json_string_value(json_object_get(g, "state"));
        json_int_t at = json_integer_value(json_object_get(g, "created_at"));
        if (rc != DBK_OK || who == NULL || state == NULL)
            continue;
        const char *was = json_string_value(json_object_get(*out, who));
        if (was != NULL && strcmp(was, "active") == 0)
            continue;
        if (strcmp(state, "active") == 0 ||
            at >= json_integer_value(json_object_get(newest, who))) {
            json_object_set_new(*out, who, json_string(state));
            json_object_set_new(newest, who, json_integer(at));
        }
    }
    json_decref(resp);
    json_decref(newest);
    if (rc != DBK_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* GET path (the caseload, or one client's row of it): its "clients" array. */
static int
caseload_get(dbk_session *s, const char *path, json_t **clients)
{
    json_t *resp = NULL;
    long status;
    int rc = dbk_net_call(s, "GET", path, NULL, true, &status, &resp);

    *clients = NULL;
    if (rc == DBK_OK && status != 200)
        rc = dbk_net_answer_err(resp);
    if (rc == DBK_OK && !json_is_array(json_object_get(resp, "clients")))
        rc = DBK_E_BAD_JSON;
    if (rc == DBK_OK)
        *clients = json_incref(json_object_get(resp, "clients"));
    json_decref(resp);
    return rc;
}

int
dbk_sync_caseload(dbk_session *s, json_t **clients)
{
    return caseload_get(s, "/v1/caseload", clients);
}

int
dbk_sync_caseload_of(dbk_session *s, const dbk_id *client, json_t **clients)
{
    char path[64], t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(client, t);
    snprintf(path, sizeof path, "/v1/caseload?account=%s", t);
    int rc = caseload_get(s, path, clients);
    /* A server older than the parameter refuses it: the whole caseload then. */
    return rc == DBK_E_UNKNOWN_FIELD ? dbk_sync_caseload(s, clients) : rc;
}

int
dbk_sync_my_name(dbk_session *s, char *out, size_t cap)
{
    json_t *acct = NULL;
    long status;
    int rc = dbk_net_call(s, "GET", "/v1/account", NULL, true, &status, &acct);
    const char *name = json_string_value(json_object_get(acct, "name"));

    out[0] = '\0';
    if (rc == DBK_OK && (status != 200 || name == NULL))
        rc = DBK_E_UNAVAILABLE;
    if (rc == DBK_OK)
        snprintf(out, cap, "%s", name);
    json_decref(acct);
    return rc;
}
