/* daybook init: a new local profile with this person's keys, protected by a passphrase. */
#include "cmd.h"
#include "entry.h"
#include "session.h"
#include "unlock.h"
#include "trust.h"

#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* This account's two streams, each with its self-grant and first head
 * (proto/TRUST.md T12), so entries can be written before the first enrollment,
 * offline. */
static int
make_streams(dbk_session *s)
{
    static const int kinds[] = {DBK_LOCAL_SHARED, DBK_LOCAL_PRIVATE};
    char when[40];
    int rc = DBK_OK;

    dbk_now_rfc3339(when);
    for (size_t i = 0; i < 2 && rc == DBK_OK; i++) {
        dbk_local_stream st;
        unsigned char *g;
        size_t len;
        if ((rc = dbk_trust_new_stream(s, kinds[i], when, &st, &g, &len)) != DBK_OK)
            break;
        rc = dbk_local_grant_put(s->L, &st.id, 1, g, len);
        free(g);
        if (rc == DBK_OK)
            rc = dbk_local_stream_put(s->L, &st);
        /* Its first head (no records yet), pushed at the first sync: a device added
         * later tells an account that wrote nothing from a stream withheld whole. */
        if (rc == DBK_OK)
            rc = dbk_trust_head_first(s, &st);
    }
    return rc;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
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
    rc = dbk_trust_first_bundle(&s, pass, bundle, &pk);
    dbk_passphrase_free(pass);
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
