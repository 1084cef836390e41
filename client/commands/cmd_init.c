/* daybook init: a new local profile with this person's keys, protected by a passphrase. */
#include "cmd.h"
#include "entry.h"
#include "session.h"
#include "unlock.h"
#include "trust.h"

#include "dbk/grant.h"

#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * This account's two streams, each with a random key at epoch 1 held in a
 * self-grant (proto/README.md section 8), so entries can be written before the
 * first enrollment, offline.
 */
static int
make_streams(dbk_session *s)
{
    static const int kinds[] = {DBK_LOCAL_SHARED, DBK_LOCAL_PRIVATE};
    char when[40], *consent = NULL;
    int rc = DBK_OK;

    dbk_now_rfc3339(when);
    for (size_t i = 0; i < 2 && rc == DBK_OK; i++) {
        /* The self-grant names the stream's kind: a second device learns it from this
         * signature, never from the server's listing (trust/trust.h). */
        json_t *c = dbk_trust_self_consent(kinds[i], when);
        free(consent);
        if ((consent = json_dumps(c, JSON_COMPACT)) == NULL) {
            json_decref(c);
            return DBK_E_NOMEM;
        }
        json_decref(c);
        dbk_local_stream st = {.owner = s->account, .kind = kinds[i], .epoch = 1};
        unsigned char key[32], *g;
        size_t len;
        dbk_id_random(&st.id);
        randombytes_buf(key, sizeof key);
        dbk_grant_hdr h = {.stream = st.id, .epoch = 1, .owner = s->account,
                           .grantee = s->account, .created_at = dbk_hlc_wall_ms()};
        rc = dbk_grant_seal(&h, key, consent, strlen(consent), s->keys->box_pk,
                            s->keys->sign_sk, &g, &len);
        sodium_memzero(key, sizeof key);
        if (rc == DBK_OK) {
            rc = dbk_local_grant_put(s->L, &st.id, 1, g, len);
            free(g);
        }
        if (rc == DBK_OK)
            rc = dbk_local_stream_put(s->L, &st);
    }
    free(consent);
    return rc;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    dbk_kdf_params kp;
    dbk_pass_keys *pk = NULL;
    unsigned char bundle[DBK_BUNDLE_BYTES];
    char *pass = NULL, t[DBK_ID_TEXT_LEN + 1];
    int rc;

    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: daybook init\n");
        return DBK_EXIT_USAGE;
    }
    if (dbk_session_open(&s, false) == DBK_OK) {
        fprintf(stderr, "daybook: a profile already exists in %s; nothing changed\n", s.dir);
        dbk_session_close(&s);
        return DBK_EXIT_FAIL;
    }
    if ((rc = dbk_session_open(&s, true)) != DBK_OK)
        return dbk_cmd_fail("cannot create the profile", rc);
    if ((rc = dbk_passphrase_read("Choose a passphrase: ", true, &pass)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("no passphrase (type it twice, or set DAYBOOK_PASSPHRASE_FILE)",
                            rc);
    }
    if (strlen(pass) < 8) {
        dbk_passphrase_free(pass);
        dbk_session_close(&s);
        fprintf(stderr, "daybook: the passphrase needs at least 8 characters\n");
        return DBK_EXIT_FAIL;
    }
    dbk_id_random(&s.account);
    dbk_id_random(&s.device);
    dbk_kdf_params_new(&kp);
    s.keys = dbk_account_keys_new();
    rc = s.keys ? dbk_pass_keys_derive(pass, strlen(pass), &kp, &pk) : DBK_E_NOMEM;
    dbk_passphrase_free(pass);
    if (rc == DBK_OK)
        rc = dbk_bundle_seal(bundle, &s.account, s.keys, pk, &kp, 1, NULL);
    if (rc == DBK_OK && (rc = dbk_local_begin(s.L)) == DBK_OK) {
        if ((rc = dbk_local_put(s.L, "account", s.account.b, DBK_ID_BYTES)) == DBK_OK &&
            (rc = dbk_local_put(s.L, "device", s.device.b, DBK_ID_BYTES)) == DBK_OK &&
            (rc = dbk_local_put(s.L, "bundle", bundle, sizeof bundle)) == DBK_OK &&
            (rc = dbk_local_put(s.L, "login_pk", pk->login_pk, 32)) == DBK_OK &&
            (rc = make_streams(&s)) == DBK_OK)
            rc = dbk_local_commit(s.L);
        else
            dbk_local_rollback(s.L);
    }
    dbk_pass_keys_free(pk);
    if (rc != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot create the profile", rc);
    }
    dbk_unlock_cache(&s);
    dbk_id_to_text(&s.account, t);
    if (ctx->json)
        printf("{\"account\":\"%s\",\"profile\":\"%s\"}\n", t, s.dir);
    else
        printf("Profile created in %s.\nNext: daybook enroll CODE  (the code your counselor "
               "gives you)\n",
               s.dir);
    dbk_session_close(&s);
    return DBK_EXIT_OK;
}

const dbk_cmd dbk_cmd_init = {
    .name = "init",
    .usage = "daybook init",
    .summary = "create your local profile and keys, protected by a passphrase",
    .run = run,
};
