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
#include "prompt.h"
#include "share.h"
#include "net.h"
#include "unlock.h"
#include "trust.h"
#include "stream_key.h"

#include "dbk/base64.h"
#include "dbk/error.h"
#include "dbk/fingerprint.h"
#include "dbk/grant.h"
#include "dbk/pct.h"

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

static bool
has_counselor(dbk_session *s)
{
    unsigned char c[DBK_ID_BYTES];
    size_t n;
    return dbk_local_get(s->L, "counselor", c, sizeof c, &n) == DBK_OK;
}

/*
 * The rest of a client's enrollment on a profile the server already enrolled: the
 * counselor of the link, its keys checked against the link's fingerprint, stored,
 * and the consent offered. On any failure the profile stays as it was, for a retry.
 */
static int
finish_enrollment(dbk_ctx *ctx, dbk_session *s, const dbk_link *u, const char *my_name,
                  bool yes)
{
    unsigned char sign_pk[32], box_pk[32];
    char cname[201] = "your counselor";
    dbk_id counselor;
    int rc;

    if (u->by[0] != '\0')
        snprintf(cname, sizeof cname, "%s", u->by); /* from the code, not the server */

    if ((rc = dbk_unlock(s)) != DBK_OK)
        return dbk_cmd_fail("cannot unlock your keys", rc);
    if (dbk_id_from_text(&counselor, u->counselor, strlen(u->counselor)) != DBK_OK)
        return dbk_cmd_fail("enrollment failed", DBK_E_INVALID);
    rc = dbk_share_counselor_keys(s, &counselor, u->fp, sign_pk, box_pk);
    if (rc == DBK_E_FINGERPRINT) {
        fprintf(stderr, "daybook: the server gave a key for your counselor that does not match "
                        "the code. Nothing was shared. Tell your counselor; with a new code, "
                        "run 'daybook enroll' again (this profile is kept).\n");
        return DBK_EXIT_FAIL;
    }
    if (rc != DBK_OK)
        return dbk_cmd_fail("cannot fetch your counselor's key (enrolling needs the server)", rc);
    if ((rc = dbk_trust_pin(s, &counselor, sign_pk, box_pk)) != DBK_OK ||
        (rc = dbk_local_put(s->L, "counselor", counselor.b, DBK_ID_BYTES)) != DBK_OK ||
        (rc = dbk_local_put_text(s->L, "counselor_name", cname)) != DBK_OK ||
        (rc = dbk_local_put_text(s->L, "counselor_fp", u->fp)) != DBK_OK)
        return dbk_cmd_fail("enrollment failed", rc);
    if (my_name == NULL && u->name[0] != '\0')
        my_name = u->name;
    (void)dbk_local_put_text(s->L, "patient_name", my_name ? my_name : "Daybook client");
    if (!ctx->json)
        printf("Your counselor's key matches the code.\n");
    return dbk_cmd_offer_consent(ctx, s, &counselor, cname, box_pk,
                                 my_name ? my_name : "Daybook client", yes);
}

/*
 * The counselor's keys checked against the link's fingerprint before the code is used
 * up (proto/README.md 4.3 step 2): a substituted key stops here, with the code still
 * good and nothing made on the server. A server without the check (404) is checked
 * after enrolling instead, as before; it cannot make a wrong key pass, only the code
 * be spent.
 */
static int
check_before_using_code(dbk_session *s, const dbk_link *u)
{
    unsigned char sign_pk[32], box_pk[32];
    dbk_id counselor;
    int rc;

    if (dbk_id_from_text(&counselor, u->counselor, strlen(u->counselor)) != DBK_OK)
        return DBK_E_INVALID;
    rc = dbk_share_counselor_keys_by_code(s, u->code, &counselor, u->fp, sign_pk, box_pk);
    if (rc == DBK_E_NOT_FOUND)
        return DBK_OK;
    if (rc == DBK_E_GONE)
        fprintf(stderr, "daybook: this code was already used or has expired; ask your "
                        "counselor for a new one\n");
    else if (rc == DBK_E_FINGERPRINT)
        fprintf(stderr, "daybook: the server gave a key for your counselor that does not "
                        "match the code. Nothing was created or shared, and the code was not "
                        "used. Tell your counselor before you try again.\n");
    return rc;
}

/* Over 80 lines: the steps of proto/README.md 4.3 in their order; every failure path
 * must leave the profile retryable, which is easiest to check when they are together. */
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
    const char *code = NULL, *my_name = NULL, *server_url = NULL;
    char built[3 * DBK_URL_MAX + 64];
    bool yes = false;
    int rc, operands = 0;

    const char *cacert;
    if (!dbk_cmd_take_option(&argc, argv, "--cacert", &cacert))
        operands = 2; /* --cacert without a file */
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--yes") == 0 || strcmp(argv[a], "-y") == 0)
            yes = true;
        else if (strcmp(argv[a], "--name") == 0 && a + 1 < argc)
            my_name = argv[++a];
        else if (strcmp(argv[a], "--server") == 0 && a + 1 < argc)
            server_url = argv[++a];
        else if (argv[a][0] != '-' && operands++ == 0)
            code = argv[a];
        else
            operands = 2;
    }
    if (operands != 1 || (my_name != NULL && (my_name[0] == '\0' || strlen(my_name) > 200))) {
        fprintf(stderr, "usage: daybook enroll CODE [--name NAME] [--yes] [--cacert FILE]   "
                        "(CODE:\n       daybook://enroll?... from your counselor; --cacert: the "
                        "clinic's own CA\n       certificate, PEM, kept in the profile)\n"
                        "       daybook enroll SETUP-CODE --server URL   (a counselor, with a "
                        "bare setup code)\n");
        json_decref(streams);
        json_decref(grants);
        return DBK_EXIT_USAGE;
    }
    /* A bare setup code (daybookd counselor add without --url) and the server's
     * address make the setup link. */
    if (code != NULL && strncmp(code, "daybook://", 10) != 0 && strlen(code) == DBK_ID_TEXT_LEN) {
        if (server_url == NULL) {
            json_decref(streams);
            json_decref(grants);
            fprintf(stderr, "daybook: that is a bare setup code; add the server's address: "
                            "daybook enroll %s --server https://YOUR-CLINIC-SERVER\n", code);
            return DBK_EXIT_USAGE;
        }
        strcpy(built, "daybook://setup?server=");
        if (strlen(server_url) >= DBK_URL_MAX ||
            dbk_pct_append(built, sizeof built, server_url) != DBK_OK ||
            strlen(built) + 7 + strlen(code) >= sizeof built) {
            json_decref(streams);
            json_decref(grants);
            fprintf(stderr, "daybook: --server is too long\n");
            return DBK_EXIT_USAGE;
        }
        strcat(built, "&code=");
        strcat(built, code);
        code = built;
    }
    if (dbk_link_parse(code, &u) != DBK_OK || u.kind == DBK_LINK_LOGIN) {
        json_decref(streams);
        json_decref(grants);
        fprintf(stderr, "daybook: that is not a valid enrollment code (it starts with "
                        "daybook://enroll? and names an https server)\n");
        return DBK_EXIT_FAIL;
    }
    /* The consent is read and agreed to on a terminal; a script says --yes up front,
     * before the code is used up. */
    if (u.kind == DBK_LINK_ENROLL && !yes && !dbk_prompt_interactive()) {
        json_decref(streams);
        json_decref(grants);
        fprintf(stderr, "daybook: enroll shows the consent to share with your counselor and "
                        "asks you to agree; without a terminal add --yes\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK) {
        json_decref(streams);
        json_decref(grants);
        return dbk_cmd_no_profile(rc);
    }
    if (s.server[0] != '\0' && u.kind == DBK_LINK_ENROLL && s.role == DBK_ROLE_CLIENT &&
        !has_counselor(&s) && strcmp(s.server, u.server) == 0) {
        /* Enrolled, but the counselor's key did not check out (or the answer was lost):
         * the account exists, so a new code's counselor is checked and offered the
         * consent without using the code up. */
        int ret = finish_enrollment(ctx, &s, &u, my_name, yes);
        json_decref(streams);
        json_decref(grants);
        dbk_session_close(&s);
        return ret;
    }
    if (s.server[0] != '\0') {
        fprintf(stderr, "daybook: this profile is already enrolled with %s\n", s.server);
        rc = DBK_E_CONFLICT;
        goto out;
    }
    if (cacert != NULL && (rc = dbk_net_set_cacert(&s, cacert)) != DBK_OK) {
        fprintf(stderr, "daybook: --cacert %s: %s\n", cacert,
                rc == DBK_E_INVALID ? "not a PEM certificate (-----BEGIN CERTIFICATE-----)"
                                    : dbk_err_message(rc));
        dbk_session_close(&s);
        json_decref(streams);
        json_decref(grants);
        return DBK_EXIT_USAGE;
    }
    snprintf(s.server, sizeof s.server, "%s", u.server);
    if (u.kind == DBK_LINK_ENROLL && (rc = check_before_using_code(&s, &u)) != DBK_OK)
        goto out;
    if ((rc = dbk_unlock(&s)) != DBK_OK)
        goto out;

    /* The streams made at init, with their self-grants (a counselor uses only the private). */
    dbk_now_rfc3339(when);
    if ((rc = dbk_local_stream_of(s.L, &s.account, DBK_LOCAL_SHARED, &shared)) != DBK_OK ||
        (rc = dbk_local_stream_of(s.L, &s.account, DBK_LOCAL_PRIVATE, &priv)) != DBK_OK ||
        (rc = dbk_stream_key(&s, &shared.id, 1, shared_key)) != DBK_OK) {
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
        const char *ec = json_string_value(json_object_get(json_object_get(resp, "error"), "code"));
        rc = ec ? dbk_err_from_code(ec) : DBK_E_UNAVAILABLE;
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
        dbk_net_set_token(&s, tok);
    }
    if ((rc = dbk_local_commit(s.L)) != DBK_OK)
        goto out;

    if (u.kind != DBK_LINK_SETUP) {
        /* The counselor's keys must match the fingerprint the counselor gave in person. */
        json_t *c = json_object_get(resp, "counselor");
        const char *cid = json_string_value(json_object_get(c, "account"));
        const char *spk = json_string_value(json_object_get(c, "ed25519_pk"));
        const char *bpk = json_string_value(json_object_get(c, "x25519_pk"));
        char name_buf[201], cname_buf[201];
        const char *name = NULL;
        unsigned char sign_pk[32], box_pk[32];
        dbk_id counselor;
        char my_digits[DBK_SAFETY_DIGITS + 1], their_digits[DBK_SAFETY_DIGITS + 1];
        char sn[DBK_SAFETY_NUMBER_LEN + 1];

        if (json_is_string(json_object_get(c, "name"))) {
            /* Copied: the response is released before the name is printed. */
            snprintf(cname_buf, sizeof cname_buf, "%s",
                     json_string_value(json_object_get(c, "name")));
            name = cname_buf;
        }
        /* The name in the code was handed over with the fingerprint; the server's is
         * only what the server says (proto/README.md rule R9). */
        if (u.by[0] != '\0') {
            if (name != NULL && strcmp(name, u.by) != 0)
                fprintf(stderr, "daybook: warning: the server calls your counselor \"%s\"; the "
                                "code you were given says \"%s\", which is used\n",
                        name, u.by);
            name = u.by;
        }
        if (cid == NULL || spk == NULL || bpk == NULL ||
            dbk_id_from_text(&counselor, cid, strlen(cid)) != DBK_OK ||
            strcmp(cid, u.counselor) != 0 ||
            dbk_b64_decode_exact(sign_pk, 32, spk, strlen(spk)) != DBK_OK ||
            dbk_b64_decode_exact(box_pk, 32, bpk, strlen(bpk)) != DBK_OK ||
            dbk_fingerprint_check(u.fp, strlen(u.fp), &counselor, sign_pk, box_pk) != DBK_OK) {
            fprintf(stderr, "daybook: the server gave a key for your counselor that does not "
                            "match the code. Nothing was shared. Tell your counselor; with a "
                            "new code, run 'daybook enroll' again (this profile is kept).\n");
            rc = DBK_E_FINGERPRINT;
            goto out;
        }
        char cid_buf[DBK_ID_TEXT_LEN + 1];
        snprintf(cid_buf, sizeof cid_buf, "%s", cid);
        cid = cid_buf; /* also outlives the response */
        /* Both keys the fingerprint covers are pinned: a rotation later seals the new
         * stream key only to these (trust/trust.h). */
        if ((rc = dbk_trust_pin(&s, &counselor, sign_pk, box_pk)) != DBK_OK) {
            fprintf(stderr, "daybook: this device already trusts other keys for that counselor; "
                            "nothing was shared. Tell your counselor.\n");
            goto out;
        }
        dbk_local_put(s.L, "counselor", counselor.b, DBK_ID_BYTES);
        dbk_local_put_text(s.L, "counselor_name", name ? name : "your counselor");

        dbk_local_put_text(s.L, "counselor_fp", u.fp);
        /* The name on the consent: --name, else the one in the counselor's link, else
         * asked; the counselor learns it only from the consent sealed to them. */
        if (my_name == NULL && u.name[0] != '\0')
            my_name = u.name;
        if (my_name == NULL && dbk_prompt_interactive() && !yes) {
            if (dbk_prompt_line("Your name as it should appear on the consent (e.g. Sam K.): ",
                                name_buf, sizeof name_buf) == 0 && name_buf[0] != '\0')
                my_name = name_buf;
        }
        dbk_local_put_text(s.L, "patient_name", my_name ? my_name : "Daybook client");
        json_decref(resp);
        resp = NULL;
        dbk_safety_digits(my_digits, &s.account, s.keys->sign_pk, s.keys->box_pk);
        dbk_safety_digits(their_digits, &counselor, sign_pk, box_pk);
        dbk_safety_number(sn, my_digits, their_digits);
        if (!ctx->json)
            printf("Enrolled with %s. Your counselor: %s.\nSafety number (compare it with your "
                   "counselor in person):\n  %.35s\n  %s\n",
                   s.server, name ? name : "your counselor", sn, sn + 36);
        int ret = dbk_cmd_offer_consent(ctx, &s, &counselor, name ? name : "your counselor",
                                        box_pk, my_name ? my_name : "Daybook client", yes);
        if (ret != DBK_EXIT_OK) {
            sodium_memzero(shared_key, sizeof shared_key);
            json_decref(streams);
            json_decref(grants);
            dbk_session_close(&s);
            return ret;
        }
        if (ctx->json)
            printf("{\"role\":\"client\",\"server\":\"%s\",\"safety_number\":\"%s\"}\n", s.server,
                   sn);
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
    .usage = "daybook enroll CODE [--name NAME] [--yes] [--cacert FILE] | SETUP-CODE --server URL",
    .summary = "join your clinic's server with your counselor's enrollment code",
    .run = run,
};
