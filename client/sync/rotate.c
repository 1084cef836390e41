/*
 * Rotating a stream's key after a revocation (proto/README.md section 8): a new random
 * key, a self-grant for epoch + 1 and a grant of the new epoch to each remaining
 * grantee whose keys this device pinned, sent in one POST. See sync.h.
 */
#include "sync.h"

#include "net.h"
#include "trust.h"

#include "dbk/base64.h"
#include "dbk/error.h"
#include "dbk/grant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
status_err(json_t *resp)
{
    const char *code = json_string_value(json_object_get(json_object_get(resp, "error"), "code"));
    return code ? dbk_err_from_code(code) : DBK_E_UNAVAILABLE;
}

static int
call(dbk_session *s, const char *method, const char *path, json_t *body, json_t **out)
{
    long status;
    int rc = dbk_net_call(s, method, path, body, true, &status, out);
    if (rc == DBK_OK && (status < 200 || status > 299)) {
        rc = status_err(*out);
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

static json_t *
b64j(const unsigned char *b, size_t n)
{
    size_t cap = DBK_B64_ENCODED_LEN(n) + 1;
    char *t = malloc(cap);
    json_t *j = NULL;
    if (t != NULL && dbk_b64_encode(t, cap, b, n) == DBK_OK)
        j = json_string(t);
    free(t);
    return j;
}

/* A grant of (stream, epoch, key) to grantee with consent inside, as base64url. */
static json_t *
grant_json(dbk_session *s, const dbk_id *stream, uint32_t epoch, const unsigned char key[32],
           const dbk_id *grantee, const unsigned char box_pk[32], json_t *consent,
           unsigned char **raw, size_t *rawlen)
{
    dbk_grant_hdr h = {.stream = *stream, .epoch = epoch, .owner = s->account,
                       .grantee = *grantee, .created_at = dbk_hlc_wall_ms(), .expires_at = 0};
    char *text = json_dumps(consent, JSON_COMPACT);
    unsigned char *g;
    size_t len;
    json_t *j = NULL;
    if (text != NULL &&
        dbk_grant_seal(&h, key, text, strlen(text), box_pk, s->keys->sign_sk, &g, &len) ==
            DBK_OK) {
        j = b64j(g, len);
        if (raw != NULL) {
            *raw = g;
            *rawlen = len;
        } else {
            free(g);
        }
    }
    free(text);
    return j;
}

/*
 * Rotates the shared stream to epoch + 1: self-grant, and a grant to each
 * remaining active grantee whose identity key this device knows.
 */
int
dbk_sync_rotate(dbk_session *s, dbk_local_stream *shared, const char *sid, uint32_t epoch,
       const json_t *who, const char *revoked, const char *when, size_t *regranted,
       size_t *skipped)
{
    unsigned char key[32], *self = NULL;
    size_t selflen = 0;
    char path[160], me[DBK_ID_TEXT_LEN + 1];
    json_t *grants = json_array(), *resp = NULL, *v;
    const char *k;
    int rc = DBK_OK;

    *regranted = *skipped = 0;
    dbk_id_to_text(&s->account, me);
    randombytes_buf(key, sizeof key);
    json_t *c = dbk_trust_self_consent(DBK_LOCAL_SHARED, when);
    json_t *g = grant_json(s, &shared->id, epoch + 1, key, &s->account, s->keys->box_pk, c, &self,
                           &selflen);
    json_decref(c);
    if (g == NULL)
        rc = DBK_E_NOMEM;
    else
        json_array_append_new(grants, g);
    json_object_foreach((json_t *)who, k, v) {
        unsigned char sign_pk[32], box_pk[32];
        dbk_id gid;
        if (rc != DBK_OK || strcmp(k, revoked) == 0 ||
            strcmp(json_string_value(json_object_get(v, "state")), "active") != 0 ||
            dbk_id_from_text(&gid, k, strlen(k)) != DBK_OK)
            continue;
        /* The new key goes only to keys this device verified itself (the pins of
         * trust/trust.h, both covered by the enrollment fingerprint), never to the
         * keys the server lists now: a server could list its own. */
        if (dbk_trust_pinned(s, &gid, sign_pk, box_pk) != DBK_OK) {
            (*skipped)++;
            continue;
        }
        json_t *consent = json_pack(
            "{s:s, s:i, s:{s:s}, s:[{s:s}], s:{s:s, s:[s,s,s,s]}, s:{s:s, s:s}, s:s, s:s, "
            "s:{s:s}, s:s, s:s}",
            "type", "consent", "v", 1, "patient", "account_id", me, "disclosed_by", "kind",
            "client", "information", "description",
            "My cravings, the journal entries I share, and my coping-skills checklist.",
            "record_types", "craving", "journal", "checklist_day", "checklist_def", "recipient",
            "name", json_string_value(json_object_get(v, "name")), "account_id", k, "purpose",
            "So my counselor can review my between-session records for my treatment.",
            "right_to_revoke",
            "I may revoke this consent at any time in Daybook; what was already read stays read.",
            "expires", "event", "my discharge from the program", "signed_at", when,
            "redisclosure_notice",
            "42 CFR part 2 prohibits unauthorized use or disclosure of these records.");
        json_t *gj = consent ? grant_json(s, &shared->id, epoch + 1, key, &gid, box_pk, consent,
                                          NULL, NULL)
                             : NULL;
        json_decref(consent);
        if (gj == NULL) {
            rc = DBK_E_NOMEM;
            break;
        }
        json_array_append_new(grants, gj);
        (*regranted)++;
    }
    sodium_memzero(key, sizeof key);
    if (rc == DBK_OK) {
        json_t *body = json_pack("{s:O}", "grants", grants);
        snprintf(path, sizeof path, "/v1/streams/%s/grants", sid);
        rc = call(s, "POST", path, body, &resp);
        json_decref(body);
    }
    if (rc == DBK_E_CONFLICT) {
        /* Another device of this account rotated first: use its key. */
        rc = dbk_refresh_grants(s, NULL);
    } else if (rc == DBK_OK && (rc = dbk_local_begin(s->L)) == DBK_OK) {
        shared->epoch = epoch + 1;
        if ((rc = dbk_local_grant_put(s->L, &shared->id, epoch + 1, self, selflen)) == DBK_OK &&
            (rc = dbk_local_stream_put(s->L, shared)) == DBK_OK)
            rc = dbk_local_commit(s->L);
        else
            dbk_local_rollback(s->L);
    }
    free(self);
    json_decref(resp);
    json_decref(grants);
    return rc;
}
