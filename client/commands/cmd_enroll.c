/*
 * daybook enroll CODE: join the clinic's server with the enrollment code a
 * counselor gave (daybook://enroll?...) or, for a counselor, the setup code the
 * admin printed (daybook://setup?...). For a client it then has trust/ check the
 * counselor's key against the fingerprint in the code (a server that substitutes
 * a key is refused; dbk_trust_enrolled_counselor) and shares the shared stream with
 * that counselor: the consent grant of proto/CRYPTO.md section 5. This file orders
 * the steps and prints.
 */
#include "cmd.h"
#include "account.h"
#include "enroll.h"
#include "pins.h"
#include "entry.h"
#include "links.h"
#include "prompt.h"
#include "share.h"
#include "sharing.h"
#include "net.h"
#include "unlock.h"
#include "trust.h"
#include "help_pin.h"
#include "spool_file.h"
#include "sync.h"

#include "dbk/error.h"
#include "dbk/fingerprint.h"
#include "dbk/pct.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
has_counselor(dbk_session *s)
{
    unsigned char c[DBK_ID_BYTES];
    size_t n;
    return dbk_local_get(s->L, "counselor", c, sizeof c, &n) == DBK_OK;
}

/*
 * The clinic's numbers for help-now (proto/README.md section 4.4): pinned when they
 * match the hash in the counselor's link; without one, pinned as the server gave
 * them, and the client is told they come from the server. A mismatch pins nothing
 * and says so; enrollment goes on (the national lines still show).
 */
static void
pin_help_lines(dbk_ctx *ctx, dbk_session *s, const dbk_link *u)
{
    json_t *lines = NULL;
    int have = dbk_sync_help_lines(s, &lines);
    int rc = dbk_trust_help_pin(s, have == DBK_OK ? lines : NULL, u->help);
    size_t i;
    const json_t *x;

    if (rc == DBK_E_FINGERPRINT || rc == DBK_E_INVALID)
        fprintf(stderr, "daybook: warning: the server's numbers for 'daybook help-now' are "
                        "not the ones\nyour counselor's code vouches for; they are not used. "
                        "Tell your counselor.\n");
    else if (rc == DBK_OK && !ctx->json && json_array_size(lines) > 0) {
        printf("'daybook help-now' will show your clinic's numbers%s:\n",
               u->help[0] != '\0' ? " (checked against your counselor's code)"
                                   : ", as this server gave them");
        json_array_foreach(lines, i, x)
            printf("  %-20s %s\n", json_string_value(json_object_get(x, "number")),
                   json_string_value(json_object_get(x, "label")));
    } else if (rc != DBK_OK && have != DBK_OK && u->help[0] != '\0' && !ctx->json)
        printf("The clinic's numbers for 'daybook help-now' come with your next "
               "'daybook sync'.\n");
    json_decref(lines);
}

/* The pinned keys go to this account's other devices in its private stream (book/pins.h);
 * without the record they would pin what the server lists. */
static void
note_pin(dbk_session *s, const dbk_id *counselor, const unsigned char sign_pk[32],
         const unsigned char box_pk[32])
{
    int rc = dbk_pins_record(s, counselor, sign_pk, box_pk, "enrollment");
    if (rc != DBK_OK)
        fprintf(stderr, "daybook: your counselor's checked key was not saved for your other "
                        "devices (%s); run 'daybook verify' on them\n", dbk_err_message(rc));
}

/*
 * The end of a client's enrollment, first or recovered: the safety number shown, the
 * consent offered, and with --json one line once it is given. An exit code.
 */
static int
show_enrolled(dbk_ctx *ctx, dbk_session *s, const dbk_id *counselor, const char *cname,
              const unsigned char sign_pk[32], const unsigned char box_pk[32], const char *my_name,
              bool yes)
{
    char sn[DBK_SAFETY_NUMBER_LEN + 1];
    int ret;

    dbk_trust_safety_number(s, counselor, sign_pk, box_pk, sn);
    if (!ctx->json)
        printf("Enrolled with %s. Your counselor: %s.\nSafety number (compare it with your "
               "counselor in person):\n  %.35s\n  %s\n",
               s->server, cname, sn, sn + 36);
    ret = dbk_cmd_offer_consent(ctx, s, counselor, cname, box_pk, my_name, yes);
    if (ret == DBK_EXIT_OK && ctx->json)
        printf("{\"role\":\"client\",\"server\":\"%s\",\"safety_number\":\"%s\"}\n", s->server, sn);
    return ret;
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
    rc = dbk_sync_counselor_keys(s, &counselor, u->fp, sign_pk, box_pk);
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
    note_pin(s, &counselor, sign_pk, box_pk);
    pin_help_lines(ctx, s, u);
    if (my_name == NULL && u->name[0] != '\0')
        my_name = u->name;
    (void)dbk_local_put_text(s->L, "patient_name", my_name ? my_name : "Daybook client");
    if (!ctx->json)
        printf("Your counselor's key matches the code.\n");
    return show_enrolled(ctx, s, &counselor, cname, sign_pk, box_pk,
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
    rc = dbk_sync_counselor_keys_by_code(s, u->code, &counselor, u->fp, sign_pk, box_pk);
    if (rc == DBK_E_NOT_FOUND)
        return DBK_OK;
    if (rc == DBK_E_FINGERPRINT)
        fprintf(stderr, "daybook: the server gave a key for your counselor that does not "
                        "match the code. Nothing was created or shared, and the code was not "
                        "used. Tell your counselor before you try again.\n");
    return rc;
}

struct enroll_args {
    const char *code, *my_name, *server_url, *cacert;
    bool yes;
};

static int
usage(void)
{
    fprintf(stderr, "usage: daybook enroll CODE [--name NAME] [--yes] [--cacert FILE]   "
                    "(CODE:\n       daybook://enroll?... from your counselor; --cacert: the "
                    "clinic's own CA\n       certificate, PEM, kept in the profile)\n"
                    "       daybook enroll SETUP-CODE --server URL   (a counselor, with a "
                    "bare setup code)\n");
    return DBK_EXIT_USAGE;
}

static int
parse_args(int argc, char **argv, struct enroll_args *a)
{
    int operands = 0;

    memset(a, 0, sizeof *a);
    if (!dbk_cmd_take_option(&argc, argv, "--cacert", &a->cacert))
        return usage(); /* --cacert without a file */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--yes") == 0 || strcmp(argv[i], "-y") == 0)
            a->yes = true;
        else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            a->my_name = argv[++i];
        else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
            a->server_url = argv[++i];
        else if (dbk_cmd_is_operand(argv[i]) && operands++ == 0)
            a->code = argv[i];
        else
            return usage();
    }
    if (operands != 1 ||
        (a->my_name != NULL && (a->my_name[0] == '\0' || strlen(a->my_name) > 200)))
        return usage();
    return DBK_EXIT_OK;
}

/* The link the arguments name: a daybook:// code as given, or a bare setup code (from
 * 'daybookd counselor add' without --url) with --server. An exit code. */
static int
link_of(const struct enroll_args *a, dbk_link *u)
{
    char built[3 * DBK_URL_MAX + 64];
    const char *code = a->code;

    if (strncmp(code, "daybook://", 10) != 0 && strlen(code) == DBK_ID_TEXT_LEN) {
        if (a->server_url == NULL) {
            fprintf(stderr, "daybook: that is a bare setup code; add the server's address: "
                            "daybook enroll %s --server https://YOUR-CLINIC-SERVER\n", code);
            return DBK_EXIT_USAGE;
        }
        strcpy(built, "daybook://setup?server=");
        if (strlen(a->server_url) >= DBK_URL_MAX ||
            dbk_pct_append(built, sizeof built, a->server_url) != DBK_OK ||
            strlen(built) + 7 + strlen(code) >= sizeof built) {
            fprintf(stderr, "daybook: --server is too long\n");
            return DBK_EXIT_USAGE;
        }
        strcat(built, "&code=");
        strcat(built, code);
        code = built;
    }
    int lrc = dbk_link_parse(code, u);
    if (lrc == DBK_E_UNAVAILABLE)
        return DBK_EXIT_FAIL; /* main names the library to install */
    if (lrc != DBK_OK || u->kind == DBK_LINK_LOGIN) {
        fprintf(stderr, "daybook: that is not a valid enrollment code (it starts with "
                        "daybook://enroll? and names an https server)\n");
        return DBK_EXIT_FAIL;
    }
    /* The consent is read and agreed to on a terminal; a script says --yes up front,
     * before the code is used up. */
    if (u->kind == DBK_LINK_ENROLL && !a->yes && !dbk_prompt_interactive()) {
        fprintf(stderr, "daybook: enroll shows the consent to share with your counselor and "
                        "asks you to agree; without a terminal add --yes\n");
        return DBK_EXIT_USAGE;
    }
    return DBK_EXIT_OK;
}

/*
 * An enrollment sent (proto/README.md 4.3, "A lost answer"). Before POST /v1/enroll
 * the profile records, in its own transaction, a hash of the server's address and the
 * code (never the code itself) and the address; both go when the answer is stored. A
 * later try of the same code that the server calls used (410) may then be this
 * device's own enrollment, committed while its answer was lost to a cut connection, a
 * timeout or a crash: recover_enrollment finds out by logging in. A 410 for a code
 * this device never sent is only what it says.
 */
static void
sent_hash(const dbk_link *u, unsigned char h[32])
{
    static const char tag[] = "daybook/v1/enroll-sent"; /* sizeof: with its NUL */
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const unsigned char *)tag, sizeof tag);
    crypto_generichash_update(&st, (const unsigned char *)u->server, strlen(u->server) + 1);
    crypto_generichash_update(&st, (const unsigned char *)u->code, strlen(u->code));
    crypto_generichash_final(&st, h, 32);
}

/* Whether this profile sent u's code to u's server before (same_code), or any code to
 * u's server (!same_code), with no answer stored since. */
static bool
was_sent(dbk_session *s, const dbk_link *u, bool same_code)
{
    unsigned char want[32], have[32];
    char server[DBK_URL_MAX];
    size_t n;

    if (!same_code)
        return dbk_local_get_text(s->L, "enroll_sent_server", server, sizeof server) == DBK_OK &&
               strcmp(server, u->server) == 0;
    sent_hash(u, want);
    return dbk_local_get(s->L, "enroll_sent", have, sizeof have, &n) == DBK_OK &&
           n == sizeof have && sodium_memcmp(want, have, sizeof have) == 0;
}

/* The record of a try: the keyed hash of its code and server (sent_hash), the server,
 * and whose code it was with the name the link gives them (a recovery through another
 * counselor's code says so: sent_by_other). */
struct sent_record {
    bool have;
    unsigned char hash[32];
    char server[DBK_URL_MAX];
    char counselor[32], by[201]; /* "" when not kept (a record from before they were) */
};

static int
sent_write(dbk_session *s, const struct sent_record *r)
{
    int rc;
    if ((rc = dbk_local_begin(s->L)) != DBK_OK)
        return rc;
    if ((rc = dbk_local_put(s->L, "enroll_sent", r->hash, sizeof r->hash)) == DBK_OK &&
        (rc = dbk_local_put_text(s->L, "enroll_sent_server", r->server)) == DBK_OK &&
        (rc = dbk_local_put_text(s->L, "enroll_sent_counselor", r->counselor)) == DBK_OK &&
        (rc = dbk_local_put_text(s->L, "enroll_sent_by", r->by)) == DBK_OK)
        return dbk_local_commit(s->L);
    dbk_local_rollback(s->L);
    return rc;
}

static int
mark_sent(dbk_session *s, const dbk_link *u)
{
    struct sent_record r = {.have = true};
    sent_hash(u, r.hash);
    snprintf(r.server, sizeof r.server, "%s", u->server);
    snprintf(r.counselor, sizeof r.counselor, "%s", u->counselor);
    snprintf(r.by, sizeof r.by, "%s", u->by);
    return sent_write(s, &r);
}

/* The record of an earlier try, as mark_sent wrote it. */
static void
sent_read(dbk_session *s, struct sent_record *r)
{
    size_t n = 0;
    memset(r, 0, sizeof *r);
    r->have = dbk_local_get(s->L, "enroll_sent", r->hash, sizeof r->hash, &n) == DBK_OK &&
              n == sizeof r->hash;
    if (r->have &&
        dbk_local_get_text(s->L, "enroll_sent_server", r->server, sizeof r->server) != DBK_OK)
        r->server[0] = '\0';
    if (r->have && dbk_local_get_text(s->L, "enroll_sent_counselor", r->counselor,
                                      sizeof r->counselor) != DBK_OK)
        r->counselor[0] = '\0';
    if (r->have && dbk_local_get_text(s->L, "enroll_sent_by", r->by, sizeof r->by) != DBK_OK)
        r->by[0] = '\0';
}

/* The record put back after a try the server refused with 409 for the account id: that
 * try created nothing, and the account is the earlier try's. Best effort: without it a
 * later try knows less (no notice of another counselor), never more. */
static void
sent_restore(dbk_session *s, const struct sent_record *r)
{
    if (r->have)
        (void)sent_write(s, r);
}

/* Whether the earlier try's code (r) was another counselor's than u's: the account it
 * made is theirs on the server. False when it was u's, or is not known. */
static bool
sent_by_other(const struct sent_record *r, const dbk_link *u)
{
    dbk_id first, now;
    return r->have && dbk_id_from_text(&first, r->counselor, strlen(r->counselor)) == DBK_OK &&
           dbk_id_from_text(&now, u->counselor, strlen(u->counselor)) == DBK_OK &&
           !dbk_id_equal(&first, &now);
}

/* After the commit of a transaction that set the role (rc its result): the spool's
 * header, which says the role a fold saw, spoiled again (it was before the transaction
 * too, so a crash between the commit and this leaves it spoiled unless a fold wrote it
 * in between). Never inside the transaction: the lock order is the spool's, then
 * SQLite's (book/spool.h), and a fold waiting on the write lock holds the spool's. */
static int
role_set(dbk_session *s, int rc)
{
    if (rc == DBK_OK)
        dbk_spool_file_forget(s->dir);
    return rc;
}

/* What an enrollment's answer, or the login that stands in for a lost one, gives the
 * profile: the server and its id, the role the code made, the restore generation and
 * the token; the record of the sent enrollment goes. In the caller's transaction,
 * which spoils the spool's header (role_set) before it and after its commit. */
static int
store_enrolled(dbk_session *s, const dbk_link *u, const dbk_id *server_id, const json_t *resp)
{
    int role = u->kind == DBK_LINK_SETUP ? DBK_ROLE_COUNSELOR : DBK_ROLE_CLIENT;
    int64_t generation = json_integer_value(json_object_get(resp, "restore_generation"));
    int rc;

    /* Every write checked: a token kept without the server or role beside it (a full
     * disk) would leave a profile that neither syncs nor enrolls again. */
    if ((rc = dbk_local_put(s->L, "server_id", server_id->b, DBK_ID_BYTES)) != DBK_OK ||
        (rc = dbk_local_put_text(s->L, "server", s->server)) != DBK_OK ||
        (rc = dbk_local_set_role(s->L, role)) != DBK_OK)
        return rc;
    if (u->kind == DBK_LINK_SETUP) { /* a counselor owns only a private stream */
        dbk_local_stream shared;
        if (dbk_local_stream_of(s->L, &s->account, DBK_LOCAL_SHARED, &shared) == DBK_OK &&
            (rc = dbk_sync_stream_drop(s, &shared.id)) != DBK_OK)
            return rc;
    }
    if ((rc = dbk_local_put_int(s->L, "restore_generation", generation)) == DBK_OK &&
        (rc = dbk_local_del(s->L, "enroll_sent")) == DBK_OK &&
        (rc = dbk_local_del(s->L, "enroll_sent_server")) == DBK_OK &&
        (rc = dbk_local_del(s->L, "enroll_sent_counselor")) == DBK_OK &&
        (rc = dbk_local_del(s->L, "enroll_sent_by")) == DBK_OK)
        rc = dbk_net_set_token(s, json_string_value(json_object_get(resp, "token")));
    return rc;
}

/* POST /v1/enroll, recorded as sent first, and its answer kept in one transaction: on
 * any failure the profile is as it was (but for the record), for a retry. *resp is the
 * answer. */
static int
post_enroll(dbk_session *s, const dbk_link *u, json_t **resp)
{
    dbk_id server_id;
    int rc;

    dbk_spool_file_forget(s->dir);
    if ((rc = mark_sent(s, u)) != DBK_OK || (rc = dbk_local_begin(s->L)) != DBK_OK)
        return rc;
    rc = dbk_sync_enroll(s, u->code, u->kind == DBK_LINK_SETUP, &server_id, resp);
    if (rc == DBK_OK)
        rc = store_enrolled(s, u, &server_id, *resp);
    if (rc != DBK_OK) {
        dbk_local_rollback(s->L);
        return rc;
    }
    return role_set(s, dbk_local_commit(s->L));
}

/* Whether token opens this account (as a login checks its bundle): GET /v1/account with
 * it lists this profile's own signing key. The token is kept in s->token_mem for the
 * request, and wiped there when it is not this account's. */
static int
token_is_mine(dbk_session *s, const char *token)
{
    unsigned char bundle[DBK_BUNDLE_BYTES], listed_pk[32];
    json_t *acct = NULL;
    int rc;

    if (strlen(token) >= sizeof s->token_mem)
        return DBK_E_BAD_JSON;
    snprintf(s->token_mem, sizeof s->token_mem, "%s", token);
    if ((rc = dbk_sync_account_bundle(s, bundle, listed_pk, &acct)) == DBK_OK)
        rc = dbk_trust_own_account(s, listed_pk);
    json_decref(acct);
    if (rc != DBK_OK)
        sodium_memzero(s->token_mem, sizeof s->token_mem);
    return rc;
}

/*
 * This device's enrollment, committed by the server while its answer was lost: the
 * device logs in as the account it sent (proto/README.md section 5), which proves
 * that the account is its own, with the login key only its passphrase gives, and
 * yields the token the lost answer carried; the server creates nothing (the device's
 * entry exists; its token is replaced). What the login offers is believed as
 * dbk_trust_enroll_login_answer says. Then the profile is as after an answer read;
 * the counselor's keys are not in a login's answer and are fetched and checked by
 * the caller. DBK_E_GONE when the server holds no such account: the code went to
 * someone else (or this device's request never arrived and the code was used since).
 */
static int
recover_enrollment(dbk_session *s, const dbk_link *u)
{
    const char *want = u->kind == DBK_LINK_SETUP ? "counselor" : "client";
    dbk_sync_login_offer o;
    unsigned char sig[64];
    json_t *resp = NULL;
    char *pass = NULL;
    int rc;

    fprintf(stderr, "daybook: this device sent its enrollment before and the answer was lost; "
                    "signing in to finish it\n");
    /* One prompt: the passphrase gives the login key, and opens the account keys too
     * when they are not unlocked already (the token is stored sealed to them). */
    if ((rc = dbk_passphrase_read("Daybook passphrase: ", false, &pass)) != DBK_OK)
        return rc;
    if (s->keys == NULL && dbk_unlock_cached(s) != DBK_OK) {
        unsigned char bundle[DBK_BUNDLE_BYTES];
        uint32_t gen;
        if ((rc = dbk_trust_passphrase_open(s, pass, bundle, &gen)) == DBK_OK)
            dbk_unlock_cache(s);
    }
    if (rc == DBK_OK && (rc = dbk_sync_login_start(s, "login", &o)) == DBK_OK)
        rc = dbk_trust_enroll_login_answer(s, pass, &o.kdf, o.kdf_alg, &o.server_id, o.challenge,
                                           sig);
    dbk_passphrase_free(pass);
    if (rc == DBK_OK &&
        (rc = dbk_sync_login_finish(s, o.challenge, sig, &resp)) == DBK_E_PASSPHRASE)
        rc = DBK_E_GONE; /* no account with the login key sent: not this device's */
    if (rc == DBK_OK) {
        const char *role = json_string_value(json_object_get(resp, "role"));
        const char *tok = json_string_value(json_object_get(resp, "token"));
        if (role == NULL || strcmp(role, want) != 0 || tok == NULL)
            rc = DBK_E_BAD_JSON;
        else
            rc = token_is_mine(s, tok);
    }
    if (rc == DBK_OK)
        dbk_spool_file_forget(s->dir);
    if (rc == DBK_OK && (rc = dbk_local_begin(s->L)) == DBK_OK) {
        if ((rc = store_enrolled(s, u, &s->server_id, resp)) == DBK_OK)
            rc = role_set(s, dbk_local_commit(s->L));
        else
            dbk_local_rollback(s->L);
    }
    sodium_memzero(sig, sizeof sig);
    json_decref(resp);
    return rc;
}

/*
 * A client's enrollment after the server said yes: the counselor's keys checked against
 * the fingerprint the counselor gave in person, pinned, the names kept, the safety
 * number shown, and the consent offered. An exit code.
 */
static int
client_enrolled(dbk_ctx *ctx, dbk_session *s, const dbk_link *u, const json_t *resp,
                const char *my_name, bool yes)
{
    const json_t *c = json_object_get(resp, "counselor");
    const char *sname = json_string_value(json_object_get(c, "name"));
    char name_buf[201], cname[201];
    unsigned char sign_pk[32], box_pk[32];
    dbk_id counselor;

    if (dbk_trust_enrolled_counselor(c, u->counselor, u->fp, &counselor, sign_pk, box_pk) !=
        DBK_OK) {
        fprintf(stderr, "daybook: the server gave a key for your counselor that does not "
                        "match the code. Nothing was shared. Tell your counselor; with a "
                        "new code, run 'daybook enroll' again (this profile is kept).\n");
        return DBK_EXIT_FAIL;
    }
    /* The name in the code was handed over with the fingerprint; the server's is only
     * what the server says (proto/README.md rule R9). */
    snprintf(cname, sizeof cname, "%s", sname ? sname : "your counselor");
    if (u->by[0] != '\0') {
        if (sname != NULL && strcmp(sname, u->by) != 0)
            fprintf(stderr, "daybook: warning: the server calls your counselor \"%s\"; the "
                            "code you were given says \"%s\", which is used\n",
                    sname, u->by);
        snprintf(cname, sizeof cname, "%s", u->by);
    }
    /* Both keys the fingerprint covers are pinned: a rotation later seals the new stream
     * key only to these (trust/trust.h). */
    if (dbk_trust_pin(s, &counselor, sign_pk, box_pk) != DBK_OK) {
        fprintf(stderr, "daybook: this device already trusts other keys for that counselor; "
                        "nothing was shared. Tell your counselor.\n");
        return DBK_EXIT_FAIL;
    }
    int rc;
    if ((rc = dbk_local_put(s->L, "counselor", counselor.b, DBK_ID_BYTES)) != DBK_OK ||
        (rc = dbk_local_put_text(s->L, "counselor_name", cname)) != DBK_OK ||
        (rc = dbk_local_put_text(s->L, "counselor_fp", u->fp)) != DBK_OK)
        /* Enrolled without a counselor: the same enroll again takes finish_enrollment. */
        return dbk_cmd_fail("enrollment not finished (run the same 'daybook enroll' again)", rc);
    note_pin(s, &counselor, sign_pk, box_pk);
    pin_help_lines(ctx, s, u);
    /* The name on the consent: --name, else the one in the counselor's link, else asked;
     * the counselor learns it only from the consent sealed to them. */
    if (my_name == NULL && u->name[0] != '\0')
        my_name = u->name;
    if (my_name == NULL && dbk_prompt_interactive() && !yes &&
        dbk_prompt_line("Your name as it should appear on the consent (e.g. Sam K.): ",
                        name_buf, sizeof name_buf) == 0 && name_buf[0] != '\0')
        my_name = name_buf;
    if (my_name == NULL)
        my_name = "Daybook client";
    dbk_local_put_text(s->L, "patient_name", my_name);
    return show_enrolled(ctx, s, &counselor, cname, sign_pk, box_pk, my_name, yes);
}

/*
 * A recovery through a new code from another counselor than the lost enrollment's
 * (proto/README.md 4.3, "A lost answer"): the account the server made is listed as
 * the first counselor's client, who was given nothing (the consent comes after the
 * answer) and is not trusted here. The user was handed this code, with its
 * counselor's fingerprint: that counselor, checked against it, is the one offered the
 * consent, and the user is told what the first one may still see.
 */
static void
said_other_counselor(dbk_ctx *ctx, const dbk_link *u, const char *first_by)
{
    const char *first = first_by[0] != '\0' ? first_by : "another counselor";
    FILE *out = ctx->json ? stderr : stdout;
    fprintf(out,
            "Your account was first made with a code from %s, whose answer was lost. Nothing "
            "was shared with them, and this device does not trust their key; they may still "
            "see that you enrolled. Only the counselor of this code%s%s%s is offered your "
            "consent. This code was not used up.\n",
            first, u->by[0] != '\0' ? " (" : "", u->by, u->by[0] != '\0' ? ")" : "");
}

/* What a failed enrollment says, and its exit code. */
static int
enroll_failed(dbk_session *s, const dbk_link *u, int rc)
{
    if (rc == DBK_E_GONE) {
        fprintf(stderr, "daybook: this code was already used or has expired; ask your "
                        "counselor for a new one\n");
        return DBK_EXIT_FAIL;
    }
    if (rc == DBK_E_FINGERPRINT)
        return DBK_EXIT_FAIL; /* said already */
    int ret = dbk_cmd_fail("enrollment failed", rc);
    /* The server's or the network's failure after the request went (a cut, a timeout, a
     * 5xx), not this device's own (a file, memory, a corrupt token). */
    if (was_sent(s, u, true) && (rc == DBK_E_UNAVAILABLE || rc == DBK_E_STORE_UNAVAILABLE ||
                                 rc == DBK_E_INTERNAL || rc == DBK_E_TIMEOUT))
        fprintf(stderr, "daybook: the server may have enrolled this device before its "
                        "answer was lost; run the same 'daybook enroll' again to finish\n");
    return ret;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    struct enroll_args a;
    dbk_session s;
    dbk_link u;
    json_t *resp = NULL;
    int rc, ret;

    if ((ret = parse_args(argc, argv, &a)) != DBK_EXIT_OK || (ret = link_of(&a, &u)) != DBK_EXIT_OK)
        return ret;
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_no_profile(rc);
    if (s.server[0] != '\0' && u.kind == DBK_LINK_ENROLL && s.role == DBK_ROLE_CLIENT &&
        !has_counselor(&s) && strcmp(s.server, u.server) == 0) {
        /* Enrolled, but the counselor's key did not check out (or the answer was lost):
         * the account exists, so a new code's counselor is checked and offered the
         * consent without using the code up. */
        ret = finish_enrollment(ctx, &s, &u, a.my_name, a.yes);
        dbk_session_close(&s);
        return ret;
    }
    if (s.server[0] != '\0') {
        fprintf(stderr, "daybook: this profile is already enrolled with %s\n", s.server);
        dbk_session_close(&s);
        return DBK_EXIT_FAIL;
    }
    if (a.cacert != NULL && (rc = dbk_net_set_cacert(&s, a.cacert)) != DBK_OK) {
        fprintf(stderr, "daybook: --cacert %s: %s\n", a.cacert,
                rc == DBK_E_INVALID ? "not a PEM certificate (-----BEGIN CERTIFICATE-----)"
                                    : dbk_err_message(rc));
        dbk_session_close(&s);
        return DBK_EXIT_USAGE;
    }
    snprintf(s.server, sizeof s.server, "%s", u.server);
    /* Asked before this try records itself: whether an earlier one sent this code, and
     * whose code an earlier one sent. */
    bool sent_code = was_sent(&s, &u, true), sent_any = was_sent(&s, &u, false);
    bool recovered = false;
    struct sent_record first;
    sent_read(&s, &first);
    if ((u.kind != DBK_LINK_ENROLL || (rc = check_before_using_code(&s, &u)) == DBK_OK) &&
        (rc = dbk_unlock(&s)) == DBK_OK)
        rc = post_enroll(&s, &u, &resp);
    /* The code used up by an earlier try of this device, or (a new code) this account's
     * id taken by it: that enrollment may be committed with its answer lost. */
    bool other = false;
    if (rc == DBK_E_CONFLICT && sent_any && !sent_code) {
        sent_restore(&s, &first);
        other = u.kind == DBK_LINK_ENROLL && sent_by_other(&first, &u);
    }
    if ((rc == DBK_E_GONE && sent_code) || (rc == DBK_E_CONFLICT && sent_any))
        recovered = (rc = recover_enrollment(&s, &u)) == DBK_OK;
    if (rc == DBK_OK && recovered && u.kind == DBK_LINK_ENROLL) {
        if (other)
            said_other_counselor(ctx, &u, first.by);
        ret = finish_enrollment(ctx, &s, &u, a.my_name, a.yes);
    } else if (rc == DBK_OK && u.kind == DBK_LINK_ENROLL)
        ret = client_enrolled(ctx, &s, &u, resp, a.my_name, a.yes);
    else if (rc == DBK_OK && ctx->json)
        printf("{\"role\":\"counselor\",\"server\":\"%s\"}\n", s.server);
    else if (rc == DBK_OK)
        printf("Counselor account ready on %s.\n", s.server);
    else
        ret = enroll_failed(&s, &u, rc);
    json_decref(resp);
    dbk_session_close(&s);
    return ret;
}

const dbk_cmd dbk_cmd_enroll = {
    .name = "enroll",
    .usage = "daybook enroll CODE [--name NAME] [--yes] [--cacert FILE] | SETUP-CODE --server URL",
    .summary = "join your clinic's server with your counselor's enrollment code",
    .run = run,
};
