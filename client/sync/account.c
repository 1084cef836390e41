/*
 * This account's exchanges with the server outside sync: the login challenge, the
 * account, its key bundle, devices and invites. See account.h.
 */
#include "account.h"

#include "transport.h"

#include "dbk/base64.h"
#include "dbk/error.h"

#include <stdio.h>
#include <string.h>

static json_t *
b64(const unsigned char *b, size_t n)
{
    char s[512];
    if (DBK_B64_ENCODED_LEN(n) + 1 > sizeof s)
        return NULL;
    (void)dbk_b64_encode(s, sizeof s, b, n);
    return json_string(s);
}

static int
json_fixed(json_t *o, const char *key, unsigned char *out, size_t n)
{
    const char *t = json_string_value(json_object_get(o, key));
    return t ? dbk_b64_decode_exact(out, n, t, strlen(t)) : DBK_E_BAD_JSON;
}

static int
status_err(long status, json_t *resp)
{
    const char *code = json_string_value(json_object_get(json_object_get(resp, "error"), "code"));
    (void)status;
    return code ? dbk_err_from_code(code) : DBK_E_UNAVAILABLE;
}

int
dbk_sync_login_start(dbk_session *s, const char *purpose, dbk_sync_login_offer *o)
{
    json_t *body, *resp = NULL, *kdf;
    long status;
    int rc;

    body = json_pack("{s:o, s:o, s:s}", "account", b64(s->account.b, 16), "device",
                     b64(s->device.b, 16), "purpose", purpose);
    rc = dbk_net_call(s, "POST", "/v1/login/start", body, false, &status, &resp);
    json_decref(body);
    if (rc == DBK_OK && status != 200)
        rc = status_err(status, resp);
    if (rc == DBK_OK) {
        kdf = json_object_get(resp, "kdf");
        o->kdf.opslimit = (uint64_t)json_integer_value(json_object_get(kdf, "opslimit"));
        o->kdf.memlimit = (uint64_t)json_integer_value(json_object_get(kdf, "memlimit"));
        o->kdf_alg = (int)json_integer_value(json_object_get(kdf, "alg"));
        if ((rc = json_fixed(kdf, "salt", o->kdf.salt, sizeof o->kdf.salt)) == DBK_OK &&
            (rc = json_fixed(resp, "challenge", o->challenge, 32)) == DBK_OK)
            rc = json_fixed(resp, "server_id", o->server_id.b, 16);
    }
    json_decref(resp);
    return rc;
}

int
dbk_sync_login_finish(dbk_session *s, const unsigned char ch[32], const unsigned char sig[64],
                      json_t **resp)
{
    json_t *body = json_pack("{s:o, s:o, s:o, s:o, s:s}", "account", b64(s->account.b, 16),
                             "device", b64(s->device.b, 16), "challenge", b64(ch, 32),
                             "signature", b64(sig, 64), "device_name", "daybook cli");
    long status;
    int rc = dbk_net_call(s, "POST", "/v1/login/finish", body, false, &status, resp);
    json_decref(body);
    if (rc == DBK_OK && status != 200)
        rc = status_err(status, *resp);
    if (rc != DBK_OK) {
        json_decref(*resp);
        *resp = NULL;
    }
    return rc;
}

int
dbk_sync_account(dbk_session *s, json_t **acct)
{
    long status;
    int rc = dbk_net_call(s, "GET", "/v1/account", NULL, true, &status, acct);
    if (rc == DBK_OK && status != 200)
        rc = status_err(status, *acct);
    if (rc != DBK_OK) {
        json_decref(*acct);
        *acct = NULL;
    }
    return rc;
}

int
dbk_sync_account_bundle(dbk_session *s, unsigned char bundle[DBK_BUNDLE_BYTES],
                        unsigned char sign_pk[32], json_t **acct)
{
    int rc = dbk_sync_account(s, acct);
    if (rc == DBK_OK && ((rc = json_fixed(*acct, "bundle", bundle, DBK_BUNDLE_BYTES)) != DBK_OK ||
                         (rc = json_fixed(*acct, "ed25519_pk", sign_pk, 32)) != DBK_OK)) {
        json_decref(*acct);
        *acct = NULL;
    }
    return rc;
}

int
dbk_sync_account_name(dbk_session *s, const dbk_id *account, char *out, size_t cap)
{
    char t[DBK_ID_TEXT_LEN + 1], path[128];
    json_t *resp = NULL;
    long status;
    int rc;

    dbk_id_to_text(account, t);
    snprintf(path, sizeof path, "/v1/accounts/%s/keys", t);
    rc = dbk_net_call(s, "GET", path, NULL, true, &status, &resp);
    const char *name = json_string_value(json_object_get(resp, "name"));
    if (rc == DBK_OK && (status != 200 || name == NULL))
        rc = DBK_E_NOT_FOUND;
    if (rc == DBK_OK)
        snprintf(out, cap, "%s", name);
    json_decref(resp);
    return rc;
}

int
dbk_sync_put_bundle(dbk_session *s, const unsigned char ch[32], const unsigned char sig[64],
                    const unsigned char bundle[DBK_BUNDLE_BYTES], const unsigned char login_pk[32])
{
    json_t *body, *resp = NULL;
    long status;
    int rc;

    body = json_pack("{s:o, s:o, s:o, s:o}", "challenge", b64(ch, 32), "signature", b64(sig, 64),
                     "bundle", b64(bundle, DBK_BUNDLE_BYTES), "login_pk", b64(login_pk, 32));
    rc = dbk_net_call(s, "PUT", "/v1/account/bundle", body, true, &status, &resp);
    json_decref(body);
    if (rc == DBK_OK && status != 200)
        rc = status_err(status, resp);
    json_decref(resp);
    return rc;
}

int
dbk_sync_devices(dbk_session *s, json_t **devices)
{
    json_t *resp = NULL;
    long status;
    int rc = dbk_net_call(s, "GET", "/v1/devices", NULL, true, &status, &resp);

    *devices = NULL;
    if (rc == DBK_OK && status != 200)
        rc = status_err(status, resp);
    if (rc == DBK_OK)
        *devices = json_incref(json_object_get(resp, "devices"));
    json_decref(resp);
    return rc;
}

int
dbk_sync_device_remove(dbk_session *s, const char *device)
{
    char path[128];
    json_t *resp = NULL;
    long status;
    int rc;

    snprintf(path, sizeof path, "/v1/devices/%.22s", device);
    rc = dbk_net_call(s, "DELETE", path, NULL, true, &status, &resp);
    if (rc == DBK_OK && status != 204)
        rc = status_err(status, resp);
    json_decref(resp);
    return rc;
}

int
dbk_sync_invite(dbk_session *s, json_t **invite)
{
    json_t *body = json_object();
    long status;
    int rc = dbk_net_call(s, "POST", "/v1/invites", body, true, &status, invite);

    json_decref(body);
    if (rc == DBK_OK && status != 201)
        rc = DBK_E_UNAVAILABLE;
    if (rc != DBK_OK) {
        json_decref(*invite);
        *invite = NULL;
    }
    return rc;
}
