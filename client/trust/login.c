/* A new account's streams and key bundle, login and the passphrase change: what this
 * device believes of a server's offer and of the bundle it hands over; see trust.h. */
#include "trust.h"

#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>

/* ---- a new account ---- */

/*
 * A new stream of this account of kind (DBK_LOCAL_*) into st: a random id and a
 * random key at epoch 1, held only in the self-grant *g (free; proto/README.md
 * section 8) whose consent names the kind, so a second device learns the kind from
 * this signature, never from the server's listing (trust/trust.h). The key is wiped.
 */
int
dbk_trust_new_stream(const dbk_session *s, int kind, const char *when, dbk_local_stream *st,
                     unsigned char **g, size_t *len)
{
    unsigned char key[32];
    char *consent;
    int rc;

    *g = NULL;
    json_t *c = dbk_trust_self_consent(kind, when);
    consent = c ? json_dumps(c, JSON_COMPACT) : NULL;
    json_decref(c);
    if (consent == NULL)
        return DBK_E_NOMEM;
    memset(st, 0, sizeof *st);
    st->owner = s->account;
    st->kind = kind;
    st->epoch = 1;
    dbk_id_random(&st->id);
    randombytes_buf(key, sizeof key);
    dbk_grant_hdr h = {.stream = st->id, .epoch = 1, .owner = s->account,
                       .grantee = s->account, .created_at = dbk_hlc_wall_ms()};
    rc = dbk_grant_seal(&h, key, consent, strlen(consent), s->keys->box_pk, s->keys->sign_sk,
                        g, len);
    sodium_memzero(key, sizeof key);
    free(consent);
    return rc;
}

/*
 * The first key bundle of a new account (s->account set): its keys made into s->keys,
 * fresh KDF parameters, the passphrase's keys derived into *pass_keys (free with
 * dbk_pass_keys_free; its login key is the one the server will be told) and the
 * account keys sealed under them into bundle at generation 1. Stores nothing.
 */
int
dbk_trust_first_bundle(dbk_session *s, const char *pass, unsigned char bundle[DBK_BUNDLE_BYTES],
                       dbk_pass_keys **pass_keys)
{
    dbk_kdf_params kp;
    int rc;

    *pass_keys = NULL;
    if ((s->keys = dbk_account_keys_new()) == NULL)
        return DBK_E_NOMEM;
    dbk_kdf_params_new(&kp);
    if ((rc = dbk_pass_keys_derive(pass, strlen(pass), &kp, pass_keys)) != DBK_OK)
        return rc;
    return dbk_bundle_seal(bundle, &s->account, s->keys, *pass_keys, &kp, 1, NULL);
}

/* ---- login ---- */

int
dbk_trust_login_server(dbk_session *s, const dbk_kdf_params *p, int alg, const dbk_id *server_id)
{
    int rc = dbk_kdf_check(p->opslimit, p->memlimit, alg);
    if (rc != DBK_OK)
        return rc; /* kdf_too_weak: a downgrade is refused, not obeyed */
    if (!dbk_id_is_zero(&s->server_id) && !dbk_id_equal(server_id, &s->server_id))
        return DBK_E_FINGERPRINT; /* another server answers at this address */
    s->server_id = *server_id;
    return DBK_OK;
}

int
dbk_trust_account_bundle(dbk_session *s, const unsigned char *bundle, size_t len,
                         const unsigned char listed_sign_pk[32], const char *pass)
{
    int rc = dbk_bundle_open(bundle, len, &s->account, pass, strlen(pass), &s->keys, NULL);
    if (rc == DBK_OK && sodium_memcmp(listed_sign_pk, s->keys->sign_pk, 32) != 0)
        rc = DBK_E_CORRUPT; /* the bundle is not this account's */
    return rc;
}

int
dbk_trust_login_answer(dbk_session *s, const char *pass, const dbk_kdf_params *kdf, int kdf_alg,
                       const dbk_id *server_id, const unsigned char ch[32],
                       dbk_pass_keys **pass_keys, unsigned char sig[64])
{
    int rc;

    *pass_keys = NULL;
    if ((rc = dbk_trust_login_server(s, kdf, kdf_alg, server_id)) != DBK_OK)
        return rc;
    if ((rc = dbk_pass_keys_derive(pass, strlen(pass), kdf, pass_keys)) != DBK_OK)
        return rc;
    dbk_login_sign(sig, *pass_keys, &s->server_id, &s->account, ch, &s->device);
    return DBK_OK;
}

int
dbk_trust_enroll_login_answer(dbk_session *s, const char *pass, const dbk_kdf_params *kdf,
                              int kdf_alg, const dbk_id *server_id, const unsigned char ch[32],
                              unsigned char sig[64])
{
    unsigned char bundle[DBK_BUNDLE_BYTES], login_pk[32];
    dbk_pass_keys *pk = NULL;
    dbk_kdf_params sent;
    uint32_t gen;
    size_t n, m;
    int rc;

    if (dbk_local_get(s->L, "bundle", bundle, sizeof bundle, &n) != DBK_OK ||
        dbk_local_get(s->L, "login_pk", login_pk, sizeof login_pk, &m) != DBK_OK ||
        m != sizeof login_pk || dbk_bundle_params(bundle, n, &sent, &gen) != DBK_OK)
        return DBK_E_CORRUPT;
    /* The passphrase first, against what this profile sent: a typo is told as one. */
    if ((rc = dbk_pass_keys_derive(pass, strlen(pass), &sent, &pk)) != DBK_OK)
        return rc;
    if (sodium_memcmp(pk->login_pk, login_pk, sizeof login_pk) != 0)
        rc = DBK_E_PASSPHRASE;
    /* Then the offer: below the floors, or another server's id, is refused as at any
     * login; parameters other than the ones sent mean the server holds no bundle of
     * this account (an unknown account's are fake), so the code went to someone else. */
    if (rc == DBK_OK)
        rc = dbk_trust_login_server(s, kdf, kdf_alg, server_id);
    if (rc == DBK_OK && (kdf->opslimit != sent.opslimit || kdf->memlimit != sent.memlimit ||
                         sodium_memcmp(kdf->salt, sent.salt, sizeof sent.salt) != 0))
        rc = DBK_E_GONE;
    if (rc == DBK_OK)
        dbk_login_sign(sig, pk, &s->server_id, &s->account, ch, &s->device);
    dbk_pass_keys_free(pk);
    return rc;
}

int
dbk_trust_own_account(const dbk_session *s, const unsigned char listed_sign_pk[32])
{
    if (s->keys == NULL || sodium_memcmp(listed_sign_pk, s->keys->sign_pk, 32) != 0)
        return DBK_E_CORRUPT; /* the token opens another account */
    return DBK_OK;
}

int
dbk_trust_passphrase_open(dbk_session *s, const char *pass,
                          unsigned char bundle[DBK_BUNDLE_BYTES], uint32_t *gen)
{
    dbk_kdf_params kp;
    size_t n;
    int rc;

    if ((rc = dbk_local_get(s->L, "bundle", bundle, DBK_BUNDLE_BYTES, &n)) != DBK_OK ||
        (rc = dbk_bundle_open(bundle, n, &s->account, pass, strlen(pass), &s->keys, NULL)) !=
            DBK_OK)
        return rc;
    return dbk_bundle_params(bundle, n, &kp, gen);
}

int
dbk_trust_passphrase_reseal(dbk_session *s, const char *newpass, uint32_t gen,
                            unsigned char bundle[DBK_BUNDLE_BYTES], dbk_pass_keys **pass_keys)
{
    dbk_kdf_params kp;
    int rc;

    dbk_kdf_params_new(&kp);
    if ((rc = dbk_pass_keys_derive(newpass, strlen(newpass), &kp, pass_keys)) != DBK_OK)
        return rc;
    return dbk_bundle_seal(bundle, &s->account, s->keys, *pass_keys, &kp, gen + 1, NULL);
}
