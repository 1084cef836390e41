/*
 * daybook enroll CODE: join the clinic's server with the enrollment code a
 * counselor gave (daybook://enroll?...) or, for a counselor, the setup code the
 * admin printed (daybook://setup?...). For a client it then checks the
 * counselor's key against the fingerprint in the code (a server that substitutes
 * a key is refused) and shares the shared stream with that counselor: the
 * consent grant of proto/CRYPTO.md section 5.
 */
#include "cmd.h"
#include "entry.h"
#include "links.h"

#include "dbk/base64.h"
#include "dbk/error.h"
#include "dbk/fingerprint.h"
#include "dbk/grant.h"

#include <stdio.h>
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

/* A grant of (stream, epoch 1, key) to grantee, with the consent document inside. */
static json_t *
make_grant(dbk_session *s, const dbk_id *stream, const unsigned char key[32], const dbk_id *grantee,
           const unsigned char grantee_box_pk[32], json_t *consent)
{
    dbk_grant_hdr h = {.stream = *stream, .epoch = 1, .owner = s->account, .grantee = *grantee,
                       .created_at = dbk_hlc_wall_ms(), .expires_at = 0};
    char *text = json_dumps(consent, JSON_COMPACT);
    unsigned char *g;
    size_t len;
    json_t *j = NULL;

    if (text != NULL &&
        dbk_grant_seal(&h, key, text, strlen(text), grantee_box_pk, s->keys->sign_sk, &g, &len) ==
            DBK_OK) {
        j = b64(g, len);
        free(g);
    }
    free(text);
    return j;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    dbk_link u;
    dbk_local_stream shared = {0}, priv = {0};
    unsigned char shared_key[32], login_pk[32], bundle[DBK_BUNDLE_BYTES];
    json_t *streams = json_array(), *grants = json_array(), *body, *resp = NULL;
    char when[40];
    size_t n;
    long status;
    int rc;

    /* --name NAME: the name or alias the client wants on the consent (README §4.3). */
    const char *patient = NULL;
    if (argc == 4 && strcmp(argv[1], "--name") == 0) {
        patient = argv[2];
        argv += 2;
        argc -= 2;
    } else if (argc == 3 && strncmp(argv[1], "--name=", 7) == 0) {
        patient = argv[1] + 7;
        argv++;
        argc--;
    }
    if (argc != 2 || (patient != NULL && (patient[0] == '\0' || strlen(patient) > 200))) {
        fprintf(stderr, "usage: daybook enroll [--name NAME] CODE   (daybook://enroll?... from "
                        "your counselor; NAME, 1 to 200 bytes, goes only into your sealed "
                        "consent)\n");
        json_decref(streams);
        json_decref(grants);
        return DBK_EXIT_USAGE;
    }
    if (dbk_link_parse(argv[1], &u) != DBK_OK || u.kind == DBK_LINK_LOGIN) {
        json_decref(streams);
        json_decref(grants);
        fprintf(stderr, "daybook: that is not a valid enrollment code (it starts with "
                        "daybook://enroll? and names an https server)\n");
        return DBK_EXIT_FAIL;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK) {
        json_decref(streams);
        json_decref(grants);
        return dbk_cmd_no_profile(rc);
    }
    if (s.server[0] != '\0') {
        fprintf(stderr, "daybook: this profile is already enrolled with %s\n", s.server);
        rc = DBK_E_CONFLICT;
        goto out;
    }
    if ((rc = dbk_session_unlock(&s)) != DBK_OK)
        goto out;
    snprintf(s.server, sizeof s.server, "%s", u.server);

    /* The streams made at init, with their self-grants (a counselor uses only the private). */
    dbk_now_rfc3339(when);
    if ((rc = dbk_local_stream_of(s.L, &s.account, DBK_LOCAL_SHARED, &shared)) != DBK_OK ||
        (rc = dbk_local_stream_of(s.L, &s.account, DBK_LOCAL_PRIVATE, &priv)) != DBK_OK ||
        (rc = dbk_session_stream_key(&s, &shared.id, 1, shared_key)) != DBK_OK) {
        rc = DBK_E_CORRUPT;
        goto out;
    }
    if ((rc = dbk_local_begin(s.L)) != DBK_OK)
        goto out;
    for (int k = u.kind == DBK_LINK_SETUP ? 1 : 0; k < 2; k++) {
        dbk_local_stream *st = k == 0 ? &shared : &priv;
        unsigned char *g;
        size_t glen;
        if ((rc = dbk_local_grant_get(s.L, &st->id, 1, &g, &glen)) != DBK_OK) {
            dbk_local_rollback(s.L);
            goto out;
        }
        json_array_append_new(streams, json_pack("{s:o, s:s}", "stream", idj(&st->id), "kind",
                                                 k == 0 ? "shared" : "private"));
        json_array_append_new(grants, b64(g, glen));
        free(g);
    }
    dbk_local_get(s.L, "login_pk", login_pk, 32, &n);
    dbk_local_get(s.L, "bundle", bundle, sizeof bundle, &n);
    body = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o}", "code", u.code,
                     "account", idj(&s.account), "ed25519_pk", b64(s.keys->sign_pk, 32),
                     "x25519_pk", b64(s.keys->box_pk, 32), "login_pk", b64(login_pk, 32), "bundle",
                     b64(bundle, sizeof bundle), "device", idj(&s.device), "device_name",
                     "daybook cli", "streams", streams, "grants", grants);
    streams = grants = NULL;
    rc = dbk_net_call(&s, "POST", "/v1/enroll", body, false, &status, &resp);
    json_decref(body);
    if (rc == DBK_OK && status != 201) {
        const char *code = json_string_value(json_object_get(json_object_get(resp, "error"), "code"));
        rc = code ? dbk_err_from_code(code) : DBK_E_UNAVAILABLE;
    }
    if (rc != DBK_OK) {
        dbk_local_rollback(s.L);
        if (rc == DBK_E_GONE)
            fprintf(stderr, "daybook: this code was already used or has expired; ask your "
                            "counselor for a new one\n");
        goto out;
    }
    {
        const char *sid = json_string_value(json_object_get(resp, "server_id"));
        const char *tok = json_string_value(json_object_get(resp, "token"));
        dbk_id server_id;
        if (sid == NULL || tok == NULL || dbk_id_from_text(&server_id, sid, strlen(sid)) != DBK_OK) {
            dbk_local_rollback(s.L);
            rc = DBK_E_BAD_JSON;
            goto out;
        }
        dbk_local_put(s.L, "server_id", server_id.b, DBK_ID_BYTES);
        dbk_local_put_text(s.L, "server", s.server);
        dbk_local_put_int(s.L, "role",
                          u.kind == DBK_LINK_SETUP ? DBK_ROLE_COUNSELOR : DBK_ROLE_CLIENT);
        if (u.kind == DBK_LINK_SETUP)
            dbk_local_stream_drop(s.L, &shared.id); /* a counselor owns only a private stream */
        dbk_local_put_int(s.L, "restore_generation",
                          json_integer_value(json_object_get(resp, "restore_generation")));
        dbk_session_set_token(&s, tok);
    }
    if ((rc = dbk_local_commit(s.L)) != DBK_OK)
        goto out;

    if (u.kind != DBK_LINK_SETUP) {
        /* The counselor's keys must match the fingerprint the counselor gave in person. */
        json_t *c = json_object_get(resp, "counselor");
        const char *cid = json_string_value(json_object_get(c, "account"));
        const char *spk = json_string_value(json_object_get(c, "ed25519_pk"));
        const char *bpk = json_string_value(json_object_get(c, "x25519_pk"));
        char name_buf[80];
        const char *name = NULL;
        unsigned char sign_pk[32], box_pk[32];
        dbk_id counselor;
        char key[64], my_digits[DBK_SAFETY_DIGITS + 1], their_digits[DBK_SAFETY_DIGITS + 1];
        char sn[DBK_SAFETY_NUMBER_LEN + 1];

        if (json_is_string(json_object_get(c, "name"))) {
            /* Copied: the response is released before the name is printed. */
            snprintf(name_buf, sizeof name_buf, "%s",
                     json_string_value(json_object_get(c, "name")));
            name = name_buf;
        }
        if (cid == NULL || spk == NULL || bpk == NULL ||
            dbk_id_from_text(&counselor, cid, strlen(cid)) != DBK_OK ||
            strcmp(cid, u.counselor) != 0 ||
            dbk_b64_decode_exact(sign_pk, 32, spk, strlen(spk)) != DBK_OK ||
            dbk_b64_decode_exact(box_pk, 32, bpk, strlen(bpk)) != DBK_OK ||
            dbk_fingerprint_check(u.fp, strlen(u.fp), &counselor, sign_pk, box_pk) != DBK_OK) {
            fprintf(stderr, "daybook: the server gave a key for your counselor that does not "
                            "match the code. Nothing was shared. Tell your counselor.\n");
            rc = DBK_E_FINGERPRINT;
            goto out;
        }
        char cid_buf[DBK_ID_TEXT_LEN + 1];
        snprintf(cid_buf, sizeof cid_buf, "%s", cid);
        cid = cid_buf; /* also outlives the response */
        snprintf(key, sizeof key, "sign_pk:%s", cid);
        dbk_local_put(s.L, key, sign_pk, 32);
        dbk_local_put(s.L, "counselor", counselor.b, DBK_ID_BYTES);
        dbk_local_put_text(s.L, "counselor_name", name ? name : "your counselor");
        /* The client's name never reaches the server in the clear; without one typed, the
         * alias is the account id (README §4.3). Kept for the consents of later rotations. */
        char me_text[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(&s.account, me_text);
        if (patient == NULL)
            patient = me_text;
        dbk_local_put_text(s.L, "patient_name", patient);

        /* Consent (42 CFR Part 2 section 2.31), sealed inside the grant. */
        json_t *consent = json_pack(
            "{s:s, s:i, s:{s:s, s:o}, s:[{s:s, s:s}], s:{s:s, s:[s,s,s,s]}, s:{s:s, s:s}, s:s, "
            "s:s, s:{s:s}, s:s, s:s}",
            "type", "consent", "v", 1, "patient", "name", patient, "account_id", idj(&s.account),
            "disclosed_by", "kind", "client", "name", patient, "information", "description",
            "My cravings, the journal entries I share, and my coping-skills checklist.",
            "record_types", "craving", "journal", "checklist_day", "checklist_def", "recipient",
            "name", name ? name : "my counselor", "account_id", cid, "purpose",
            "So my counselor can review my between-session records for my treatment.",
            "right_to_revoke",
            "I may revoke this consent at any time in Daybook; what was already read stays read.",
            "expires", "event", "my discharge from the program", "signed_at", when,
            "redisclosure_notice",
            "42 CFR part 2 prohibits unauthorized use or disclosure of these records.");
        json_t *g = make_grant(&s, &shared.id, shared_key, &counselor, box_pk, consent);
        json_decref(consent);
        char path[128], sidt[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(&shared.id, sidt);
        snprintf(path, sizeof path, "/v1/streams/%s/grants", sidt);
        body = json_pack("{s:[o]}", "grants", g);
        json_decref(resp);
        resp = NULL;
        rc = dbk_net_call(&s, "POST", path, body, true, &status, &resp);
        json_decref(body);
        if (rc == DBK_OK && status != 200)
            rc = DBK_E_UNAVAILABLE;
        if (rc != DBK_OK) {
            fprintf(stderr, "daybook: enrolled, but sharing with your counselor failed "
                            "(server answered %ld); nothing is shared yet\n", status);
            goto out;
        }
        dbk_safety_digits(my_digits, &s.account, s.keys->sign_pk, s.keys->box_pk);
        dbk_safety_digits(their_digits, &counselor, sign_pk, box_pk);
        dbk_safety_number(sn, my_digits, their_digits);
        if (ctx->json)
            printf("{\"role\":\"client\",\"server\":\"%s\",\"safety_number\":\"%s\"}\n", s.server,
                   sn);
        else
            printf("Enrolled with %s and sharing with %s.\nSafety number (compare it with your "
                   "counselor in person):\n  %.35s\n  %s\n",
                   s.server, name ? name : "your counselor", sn, sn + 36);
    } else if (ctx->json) {
        printf("{\"role\":\"counselor\",\"server\":\"%s\"}\n", s.server);
    } else {
        printf("Counselor account ready on %s.\n", s.server);
    }
out:
    sodium_memzero(shared_key, sizeof shared_key);
    json_decref(streams);
    json_decref(grants);
    json_decref(resp);
    dbk_session_close(&s);
    if (rc != DBK_OK && rc != DBK_E_GONE && rc != DBK_E_FINGERPRINT)
        return dbk_cmd_fail("enrollment failed", rc);
    return rc == DBK_OK ? DBK_EXIT_OK : DBK_EXIT_FAIL;
}

const dbk_cmd dbk_cmd_enroll = {
    .name = "enroll",
    .usage = "daybook enroll [--name NAME] CODE",
    .summary = "join your clinic's server with your counselor's enrollment code",
    .run = run,
};
