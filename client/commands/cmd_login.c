/*
 * daybook login, passwd and devices.
 *
 *   daybook login LINK     a second device joins the account (LINK comes from
 *                          `daybook status` on the first device)
 *   daybook login          this device signs in again (after its token was
 *                          revoked or the server was restored from a backup)
 *   daybook passwd         change the passphrase (proto/README.md section 6)
 *   daybook devices [rm ID]
 *
 * Login never sends the passphrase: the device derives the login key with the
 * KDF parameters the server reports, refusing any below the floors (a server
 * cannot make it derive keys cheaply), and signs a single-use challenge. This file
 * only orders the steps and prints: the requests are sync/account.h's, and what to
 * believe of the answers (the KDF floors, the server's id, the account's key
 * bundle) and every key derived, signed, opened or sealed is trust/'s
 * (dbk_trust_login_answer, dbk_trust_account_bundle, dbk_trust_passphrase_open and
 * _reseal).
 */
#include "cmd.h"
#include "spool_file.h"
#include "account.h"
#include "entry.h"
#include "links.h"
#include "net.h"
#include "output.h"
#include "pins.h"
#include "role.h"
#include "trust.h"
#include "unlock.h"
#include "sync.h"

#include "dbk/error.h"
#include "dbk/grant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *login_cacert; /* --cacert FILE, for login_new_device */

/*
 * The challenge exchange: the server's offer fetched (sync/), then answered by trust/:
 * its KDF parameters and id checked, the passphrase's keys derived (*pass_keys: the
 * login and bundle keys) and the challenge signed (ch, sig). purpose: "login" or
 * "change_passphrase" (then the caller's PUT carries ch and sig, and nothing is
 * finished).
 */
static int
challenge(dbk_session *s, const char *pass, const char *purpose, dbk_pass_keys **pass_keys,
          unsigned char ch[32], unsigned char sig[64])
{
    dbk_sync_login_offer o;
    int rc;

    *pass_keys = NULL;
    if ((rc = dbk_sync_login_start(s, purpose, &o)) != DBK_OK)
        return rc;
    memcpy(ch, o.challenge, 32);
    return dbk_trust_login_answer(s, pass, &o.kdf, o.kdf_alg, &o.server_id, ch, pass_keys, sig);
}

/* Learns who the counselor is (a client's second device): its id and name from the
 * server, a hint; its keys are pinned only after the sync, from this account's own
 * pin records (pin_counselor). */
static int
learn_counselor(dbk_session *s, json_t *account)
{
    const char *cid = json_string_value(json_object_get(account, "counselor"));
    char name[1024];
    dbk_id c;
    int rc;

    if (cid == NULL || dbk_id_from_text(&c, cid, strlen(cid)) != DBK_OK)
        return DBK_OK;
    if ((rc = dbk_local_put(s->L, "counselor", c.b, 16)) != DBK_OK)
        return rc;
    rc = dbk_sync_account_name(s, &c, name, sizeof name);
    if (rc == DBK_OK)
        return dbk_local_put_text(s->L, "counselor_name", name);
    return rc == DBK_E_NOT_FOUND ? DBK_OK : rc;
}

/* Whether this device holds no record of the account's private stream but its head
 * (none came, or only a head served back as the stream was made): where the pin record
 * would be. A store that cannot be read says yes. */
static bool
private_empty(dbk_session *s)
{
    dbk_local_stream st;
    dbk_id head;
    if (dbk_local_stream_of(s->L, &s->account, DBK_LOCAL_PRIVATE, &st) != DBK_OK)
        return true;
    dbk_trust_head_id(&st.id, &head);
    return dbk_local_record_count(s->L, &st.id, &head) <= 0;
}

/*
 * The counselor's keys on a second device (proto/TRUST.md T11): pinned from the pin
 * records the first device wrote into this account's private stream (just pulled), and
 * compared with what the server lists. A difference is refused loudly: this device
 * keeps the keys the account checked. An account enrolled before pin records existed
 * has none: then the server's signing key is pinned on first use, as before, and
 * 'daybook verify' confirms it; unless the account's heads count records withheld from
 * this device (withheld), or none of its private stream came (private_empty), the pin
 * record perhaps among them: then nothing is pinned and *keep_none says the caller keeps
 * no profile.
 */
static int
pin_counselor(dbk_session *s, size_t withheld, bool *refused, bool *keep_none)
{
    unsigned char srv_s[32], srv_b[32];
    size_t records, pinned, conflicts, n;
    dbk_id c;
    int rc;

    *refused = false;
    if (dbk_local_get(s->L, "counselor", c.b, 16, &n) != DBK_OK || n != 16)
        return DBK_OK;
    if ((rc = dbk_pins_restore(s, &records, &pinned, &conflicts)) != DBK_OK)
        return rc;
    if ((rc = dbk_sync_account_keys(s, &c, srv_s, srv_b)) != DBK_OK)
        return rc;
    rc = dbk_trust_listed_keys(s, &c, srv_s, srv_b);
    if (rc == DBK_E_NOT_FOUND && records > 0) {
        /* The account pinned a counselor (its pin records, just restored) and the server
         * names another, none of them: its key is not taken on first use
         * (proto/TRUST.md T11). */
        fprintf(stderr, "daybook: WARNING: the server names a counselor for your account whose key "
                        "your account never checked: the counselor you enrolled with is another. "
                        "This device takes no key for the one the server names and shares nothing "
                        "with it. Tell your counselor and the clinic.\n");
        *refused = true;
        return DBK_OK;
    }
    if (rc == DBK_E_NOT_FOUND && (withheld > 0 || private_empty(s))) {
        /* No pin record, and the account's signed heads count records the server did not
         * send, or none of its private stream came (proto/TRUST.md T12: a device cannot
         * tell that stream withheld whole): the pin record may be among them, so the
         * listed key is not taken on first use. */
        if (withheld > 0)
            fprintf(stderr,
                    "daybook: WARNING: the server withholds %zu of your account's "
                    "records from this device, ",
                    withheld);
        else
            fprintf(stderr, "daybook: WARNING: none of your account's private records reached "
                            "this device (the server may withhold them), ");
        fprintf(stderr, "perhaps the one that holds your counselor's checked key: this device "
                        "takes no key for your counselor from the server, was not signed in "
                        "and keeps nothing. Sync your other device and try again; if it goes "
                        "on, or you have no other device, tell the clinic.\n");
        *keep_none = true;
        return DBK_OK;
    }
    if (rc == DBK_E_NOT_FOUND) {
        fprintf(stderr, "daybook: your other device did not save your counselor's checked key; "
                        "compare safety numbers with 'daybook verify' in your next session\n");
        return dbk_trust_pin_first_use(s, &c, srv_s);
    }
    if (rc == DBK_E_FINGERPRINT) {
        fprintf(stderr, "daybook: WARNING: the server lists keys for your counselor that differ "
                        "from the ones your account checked at enrollment. This device keeps the "
                        "checked keys and shares nothing with the listed ones. Tell your "
                        "counselor, and compare safety numbers ('daybook verify').\n");
        *refused = true;
    }
    return DBK_OK;
}

/* The account's bundle, fetched with the fresh token (held in s->token_mem until the
 * account keys are open and can seal it for storage), opened with pass and checked
 * to be this account's; then the bundle, the token and the counselor are stored.
 * Runs inside the caller's transaction. */
static int
open_account(dbk_session *s, const char *token, const char *pass)
{
    unsigned char bundle[DBK_BUNDLE_BYTES], listed_pk[32];
    json_t *acct = NULL;
    int rc;

    snprintf(s->token_mem, sizeof s->token_mem, "%s", token);
    if ((rc = dbk_sync_account_bundle(s, bundle, listed_pk, &acct)) == DBK_OK)
        rc = dbk_trust_account_bundle(s, bundle, sizeof bundle, listed_pk, pass);
    /* The server took this passphrase's signature a moment ago: a bundle that does not
     * open with it (another account's, served with another account's token) is the
     * server's doing, never a typo to retry. */
    if (rc == DBK_E_PASSPHRASE || rc == DBK_E_CORRUPT) {
        fprintf(stderr, "daybook: WARNING: the server answered this login with another "
                        "account's access, or keys that are not your account's: this device "
                        "was not signed in and keeps nothing. Tell the clinic.\n");
        rc = DBK_E_CORRUPT;
    }
    if (rc == DBK_OK) {
        dbk_local_put(s->L, "bundle", bundle, sizeof bundle);
        dbk_local_put_int(s->L, "restore_generation",
                          json_integer_value(json_object_get(acct, "restore_generation")));
        rc = dbk_net_set_token(s, s->token_mem); /* sealed to the account's own key */
    }
    if (rc == DBK_OK)
        rc = learn_counselor(s, acct);
    json_decref(acct);
    return rc;
}

/* The new device's profile, in one transaction: who it is, the account's bundle and
 * token (open_account), and the grants. resp: the login's answer (token, role). */
static int
store_profile(dbk_session *s, const json_t *resp, const dbk_pass_keys *pk, const char *pass)
{
    const char *tok = json_string_value(json_object_get(resp, "token"));
    const char *role = json_string_value(json_object_get(resp, "role"));
    int role_n = role && strcmp(role, "counselor") == 0 ? DBK_ROLE_COUNSELOR : DBK_ROLE_CLIENT;
    char token[80];
    int rc;

    snprintf(token, sizeof token, "%s", tok ? tok : "");
    /* An old spool's header is no longer this profile's: spoiled before the transaction
     * and after its commit, never inside it (the lock order is the spool's, then
     * SQLite's: a fold waiting on the write lock holds the spool's). */
    dbk_spool_file_forget(s->dir);
    if ((rc = dbk_local_begin(s->L)) != DBK_OK) {
        sodium_memzero(token, sizeof token);
        return rc;
    }
    dbk_local_put(s->L, "account", s->account.b, 16);
    dbk_local_put(s->L, "device", s->device.b, 16);
    dbk_local_put(s->L, "server_id", s->server_id.b, 16);
    dbk_local_put_text(s->L, "server", s->server);
    dbk_local_put(s->L, "login_pk", pk->login_pk, 32);
    /* The role with its tables (a counselor's counts and summaries), in this transaction:
     * the server's word, marked so until the account's own record confirms it after the
     * first sync (check_role; proto/TRUST.md T13). */
    s->role = role_n;
    if ((rc = dbk_local_set_role(s->L, role_n)) == DBK_OK &&
        (rc = dbk_local_put_int(s->L, "role_unsigned", 1)) == DBK_OK &&
        /* Its own streams are the account's, not made here: one with nothing seen and
         * no head is 'cannot tell' (proto/TRUST.md T12). */
        (rc = dbk_local_put_int(s->L, "joined_by_login", 1)) == DBK_OK)
        rc = open_account(s, token, pass);
    sodium_memzero(token, sizeof token);
    if (rc == DBK_OK)
        rc = dbk_refresh_grants(s, NULL);
    if (rc == DBK_OK)
        rc = dbk_local_commit(s->L);
    else
        dbk_local_rollback(s->L);
    if (rc == DBK_OK)
        dbk_spool_file_forget(s->dir);
    return rc;
}

/*
 * The role the server named (kept by store_profile with the "role_unsigned" mark)
 * checked against the account's own role records, just pulled (proto/TRUST.md T13):
 * the same clears the mark; another (or records that disagree) is refused
 * (*wrong: the caller keeps no profile); none leaves the server's word, marked and
 * said. In the caller's transaction.
 */
static int
check_role(dbk_session *s, bool *wrong)
{
    int signed_role, implied;
    int rc = dbk_role_signed(s, &signed_role, &implied);

    *wrong = false;
    if (rc == DBK_E_NOT_FOUND && implied != DBK_ROLE_NONE && implied != s->role) {
        /* No role record, but what the account signed is another role's (book/role.h). */
        dbk_out_role_unsupported(s->role, implied);
        fprintf(stderr, "daybook: this device was not signed in and keeps nothing.\n");
        *wrong = true;
        return DBK_OK;
    }
    if (rc == DBK_OK && signed_role == s->role)
        return dbk_local_del(s->L, "role_unsigned");
    if (rc == DBK_OK || rc == DBK_E_CONFLICT) {
        fprintf(stderr,
                "daybook: WARNING: the server says this is a %s's account, but your "
                "account's own signed record says %s. The server is wrong or has "
                "been tampered with: this device was not signed in and keeps "
                "nothing. Tell the clinic.\n",
                dbk_role_name(s->role),
                rc == DBK_OK ? dbk_role_name(signed_role) : "both (its records disagree)");
        *wrong = true;
        return DBK_OK;
    }
    if (rc != DBK_E_NOT_FOUND)
        return rc;
    fprintf(stderr,
            "daybook: your account holds no signed record of its role yet (your "
            "other device writes it at its next 'daybook sync'): this device takes "
            "the server's word that this is a %s's account, unchecked. Sync your "
            "other device, then this one, to check it.\n",
            dbk_role_name(s->role));
    return DBK_OK;
}

/* The first sync of the new device (the cravings spooled in its directory folded
 * first), then its role checked against the account's own
 * record and the counselor's keys against the pins. *keep_none: the caller keeps no
 * profile (the role refused, said by check_role; or no pin record came while records
 * are withheld, said by pin_counselor). *refused: signed in, but the listed keys
 * refused, told by pin_counselor. */
static int
first_sync(dbk_ctx *ctx, dbk_session *s, bool *keep_none, bool *refused)
{
    dbk_sync_stats st;
    int rc;

    dbk_unlock_cache(s);
    /* Cravings spooled here before (a profile moved aside, the spool left beside it):
     * folded as `daybook sync` folds them, so that this sync pushes them too. */
    if ((rc = dbk_cmd_fold_spool(s)) == DBK_OK)
        rc = dbk_sync(s, &st);
    if (rc == DBK_OK && (rc = dbk_local_begin(s->L)) == DBK_OK) {
        if ((rc = check_role(s, keep_none)) == DBK_OK && !*keep_none &&
            (rc = pin_counselor(s, st.trust.withheld, refused, keep_none)) == DBK_OK && !*keep_none)
            rc = dbk_local_commit(s->L);
        else
            dbk_local_rollback(s->L);
    }
    if (rc == DBK_OK && !*keep_none)
        dbk_out_own_unseen(st.trust.own_none);
    if (rc == DBK_OK && !*refused && !*keep_none) {
        if (ctx->json)
            printf("{\"logged_in\":true,\"pulled\":%zu}\n", st.pulled);
        else
            printf("This device is signed in; %zu entries received.\n", st.pulled);
    }
    return rc;
}

/* A failed first login leaves no half profile behind. */
static void
remove_half_profile(void)
{
    char dir[4096];

    if (dbk_local_dir(dir, sizeof dir) == DBK_OK) {
        char f[4200];
        snprintf(f, sizeof f, "%s/daybook.db", dir);
        remove(f);
        snprintf(f, sizeof f, "%s/daybook.db-wal", dir);
        remove(f);
        snprintf(f, sizeof f, "%s/daybook.db-shm", dir);
        remove(f);
    }
}

/* A new device: LINK is daybook://login?server=...&account=... */
static int
login_new_device(dbk_ctx *ctx, const char *link)
{
    dbk_session s;
    dbk_link u;
    dbk_id account;
    unsigned char ch[32], sig[64];
    dbk_pass_keys *pk = NULL;
    json_t *resp = NULL;
    char *pass = NULL;
    bool refused = false, keep_none = false;
    int rc;

    if ((rc = dbk_link_parse(link, &u)) == DBK_E_UNAVAILABLE)
        return DBK_EXIT_FAIL; /* main names the library to install */
    if (rc != DBK_OK || u.kind != DBK_LINK_LOGIN ||
        dbk_id_from_text(&account, u.account, strlen(u.account)) != DBK_OK) {
        fprintf(stderr, "daybook: that is not a login link (run 'daybook status' on your "
                        "other device to see it)\n");
        return DBK_EXIT_FAIL;
    }
    if (dbk_session_open(&s, false) == DBK_OK) {
        dbk_session_close(&s);
        fprintf(stderr, "daybook: this device already has a profile; 'daybook login' without "
                        "a link signs it in again\n");
        return DBK_EXIT_FAIL;
    }
    if ((rc = dbk_session_open(&s, true)) != DBK_OK)
        return dbk_cmd_fail("cannot create the profile", rc);
    if (login_cacert != NULL && (rc = dbk_net_set_cacert(&s, login_cacert)) != DBK_OK) {
        fprintf(stderr, "daybook: --cacert %s: %s\n", login_cacert,
                rc == DBK_E_INVALID ? "not a PEM certificate (-----BEGIN CERTIFICATE-----)"
                                    : dbk_err_message(rc));
        dbk_session_close(&s);
        return DBK_EXIT_USAGE;
    }
    snprintf(s.server, sizeof s.server, "%s", u.server);
    s.account = account;
    dbk_id_random(&s.device);
    if ((rc = dbk_passphrase_read("Daybook passphrase: ", false, &pass)) == DBK_OK &&
        (rc = challenge(&s, pass, "login", &pk, ch, sig)) == DBK_OK &&
        (rc = dbk_sync_login_finish(&s, ch, sig, &resp)) == DBK_OK &&
        (rc = store_profile(&s, resp, pk, pass)) == DBK_OK)
        rc = first_sync(ctx, &s, &keep_none, &refused);
    json_decref(resp);
    dbk_pass_keys_free(pk);
    if (pass)
        dbk_passphrase_free(pass);
    dbk_session_close(&s);
    if (rc == DBK_OK && keep_none) {
        remove_half_profile(); /* said by check_role or pin_counselor */
        return DBK_EXIT_FAIL;
    }
    if (rc != DBK_OK) {
        remove_half_profile();
        return dbk_cmd_fail("login failed", rc);
    }
    return refused ? DBK_EXIT_FAIL : DBK_EXIT_OK;
}

/* The token a login answered (held in s->token_mem, not stored) is served as this
 * account's: the account the server answers with it lists this account's own signing
 * key. That is the server's word on this request (proto/TRUST.md T9: a token is no
 * trust anchor; nothing is believed from it). Another account's is refused and said,
 * and the device keeps its old token. */
static int
token_is_ours(dbk_session *s, const char *token)
{
    unsigned char bundle[DBK_BUNDLE_BYTES], listed_pk[32];
    json_t *acct = NULL;
    int rc;

    snprintf(s->token_mem, sizeof s->token_mem, "%s", token ? token : "");
    if ((rc = dbk_sync_account_bundle(s, bundle, listed_pk, &acct)) == DBK_OK &&
        (rc = dbk_trust_own_account(s, listed_pk)) != DBK_OK)
        fprintf(stderr,
                "daybook: WARNING: the server answered this login with another "
                "account's access: this device takes none of it and keeps the access it had. "
                "Tell the clinic.\n");
    json_decref(acct);
    return rc;
}

/* This device again: a new token; after a server restore, re-send everything. */
static int
login_again(dbk_ctx *ctx)
{
    dbk_session s;
    unsigned char ch[32], sig[64];
    dbk_pass_keys *pk = NULL;
    json_t *resp = NULL;
    char *pass = NULL;
    int rc;
    bool restored = false;

    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if ((rc = dbk_unlock(&s)) != DBK_OK)
        goto out;
    if ((rc = dbk_passphrase_read("Daybook passphrase: ", false, &pass)) != DBK_OK ||
        (rc = challenge(&s, pass, "login", &pk, ch, sig)) != DBK_OK ||
        (rc = dbk_sync_login_finish(&s, ch, sig, &resp)) != DBK_OK)
        goto out;
    if ((rc = token_is_ours(&s, json_string_value(json_object_get(resp, "token")))) != DBK_OK ||
        (rc = dbk_net_set_token(&s, s.token_mem)) != DBK_OK)
        goto out;
    {
        int64_t gen = json_integer_value(json_object_get(resp, "restore_generation"));
        int64_t known = dbk_local_get_int(s.L, "restore_generation", 0);
        if (known != 0 && gen != known) {
            /* The server was restored from a backup: it may lack anything newer. Everything
             * this device holds goes back in the outbox; cursors start over. */
            restored = true;
            rc = dbk_local_outbox_requeue_all(s.L);
            /* And who may read: a grant it lost, a revocation or a rotation it never saw
             * (proto/TRUST.md T8) is sent again, before anything else. */
            if (rc == DBK_OK)
                rc = dbk_local_acts_unack_all(s.L);
        }
        if (rc == DBK_OK)
            rc = dbk_local_put_int(s.L, "restore_generation", gen);
    }
    if (rc == DBK_OK && restored) {
        dbk_sync_acts_result ar;
        rc = dbk_sync_acts(&s, &ar); /* what fails here is sent again by the next sync */
    }
    if (rc == DBK_OK)
        rc = dbk_refresh_grants(&s, NULL);
    if (rc == DBK_OK) {
        if (ctx->json)
            printf("{\"logged_in\":true,\"server_restored\":%s}\n", restored ? "true" : "false");
        else if (restored)
            printf("Signed in. The server was restored from a backup: 'daybook sync' now sends "
                   "everything this device holds, so nothing is lost.\n");
        else
            printf("Signed in.\n");
    }
out:
    json_decref(resp);
    dbk_pass_keys_free(pk);
    if (pass)
        dbk_passphrase_free(pass);
    dbk_session_close(&s);
    return rc == DBK_OK ? DBK_EXIT_OK : dbk_cmd_fail("login failed", rc);
}

static int
run_login(dbk_ctx *ctx, int argc, char **argv)
{
    if (!dbk_cmd_take_option(&argc, argv, "--cacert", &login_cacert) ||
        (login_cacert != NULL && argc != 2)) {
        fprintf(stderr, "usage: daybook login [LINK [--cacert FILE]]\n");
        return DBK_EXIT_USAGE;
    }
    if (argc == 2)
        return login_new_device(ctx, argv[1]);
    if (argc == 1)
        return login_again(ctx);
    fprintf(stderr, "usage: daybook login [LINK]\n");
    return DBK_EXIT_USAGE;
}

static int
run_passwd(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    unsigned char ch[32], sig[64], bundle[DBK_BUNDLE_BYTES];
    dbk_pass_keys *old = NULL, *neu = NULL;
    uint32_t gen = 0;
    char *pass = NULL, *newpass = NULL;
    int rc;

    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: daybook passwd\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if ((rc = dbk_passphrase_read("Current passphrase: ", false, &pass)) != DBK_OK ||
        (rc = dbk_trust_passphrase_open(&s, pass, bundle, &gen)) != DBK_OK)
        goto out;
    {
        const char *next = getenv("DAYBOOK_NEW_PASSPHRASE_FILE");
        const char *saved = getenv("DAYBOOK_PASSPHRASE_FILE");
        char keep[4096] = "";
        if (saved)
            snprintf(keep, sizeof keep, "%s", saved);
        if (next)
            setenv("DAYBOOK_PASSPHRASE_FILE", next, 1);
        rc = dbk_passphrase_read("New passphrase: ", true, &newpass);
        if (saved)
            setenv("DAYBOOK_PASSPHRASE_FILE", keep, 1);
        if (rc == DBK_OK && strlen(newpass) < 8)
            rc = DBK_E_INVALID;
        if (rc != DBK_OK)
            goto out;
    }
    if (s.server[0] != '\0' &&
        (rc = challenge(&s, pass, "change_passphrase", &old, ch, sig)) != DBK_OK)
        goto out;
    if ((rc = dbk_trust_passphrase_reseal(&s, newpass, gen, bundle, &neu)) != DBK_OK)
        goto out;
    if (s.server[0] != '\0' &&
        (rc = dbk_sync_put_bundle(&s, ch, sig, bundle, neu->login_pk)) != DBK_OK)
        goto out; /* the server keeps the old passphrase; so does this device */
    if ((rc = dbk_local_put(s.L, "bundle", bundle, sizeof bundle)) == DBK_OK)
        rc = dbk_local_put(s.L, "login_pk", neu->login_pk, 32);
    if (rc == DBK_OK)
        printf(ctx->json ? "{\"changed\":true}\n"
                         : "Passphrase changed. Your other devices will ask you to log in again.\n");
out:
    dbk_pass_keys_free(old);
    dbk_pass_keys_free(neu);
    if (pass)
        dbk_passphrase_free(pass);
    if (newpass)
        dbk_passphrase_free(newpass);
    dbk_session_close(&s);
    return rc == DBK_OK ? DBK_EXIT_OK : dbk_cmd_fail("the passphrase was not changed", rc);
}

static int
run_devices(dbk_ctx *ctx, int argc, char **argv)
{
    dbk_session s;
    json_t *devices = NULL, *d;
    size_t i;
    int rc;

    if (!(argc == 1 || (argc == 3 && strcmp(argv[1], "rm") == 0))) {
        fprintf(stderr, "usage: daybook devices [rm DEVICE]\n");
        return DBK_EXIT_USAGE;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if (argc == 3) {
        if ((rc = dbk_sync_device_remove(&s, argv[2])) == DBK_OK)
            printf("Device removed: it can no longer sync.\n");
    } else if ((rc = dbk_sync_devices(&s, &devices)) == DBK_OK && ctx->json) {
        char *out = json_dumps(devices, JSON_COMPACT);
        printf("%s\n", out ? out : "[]");
        free(out);
    } else if (rc == DBK_OK) {
        json_array_foreach(devices, i, d)
            printf("%s  %-16s%s\n", json_string_value(json_object_get(d, "device")),
                   json_string_value(json_object_get(d, "name")),
                   json_is_true(json_object_get(d, "current")) ? "  (this device)" : "");
    }
    json_decref(devices);
    dbk_session_close(&s);
    return rc == DBK_OK ? DBK_EXIT_OK : dbk_cmd_fail("devices", rc);
}

const dbk_cmd dbk_cmd_login = {
    .name = "login",
    .usage = "daybook login [LINK [--cacert FILE]]",
    .summary = "sign this device in again, or join a second device with a login link",
    .run = run_login,
};

const dbk_cmd dbk_cmd_passwd = {
    .name = "passwd",
    .usage = "daybook passwd",
    .summary = "change your passphrase (your other devices log in again)",
    .run = run_passwd,
};

const dbk_cmd dbk_cmd_devices = {
    .name = "devices",
    .usage = "daybook devices [rm DEVICE]",
    .summary = "list the devices signed in to your account, or remove one",
    .run = run_devices,
};
