/*
 * tc: a small protocol client for integration tests. It does what a real device
 * does, with the real code in common/ (keys, bundles, grants, envelopes) over real
 * HTTP to a real daybookd, so tests can act as clients and counselors.
 * Failures of set-up steps fail the running cmocka test.
 */
#ifndef DBK_TEST_TC_H
#define DBK_TEST_TC_H

#include "dbk_test.h"

#include "dbk/envelope.h"
#include "dbk/grant.h"
#include "dbk/hlc.h"
#include "dbk/keys.h"

typedef struct tc_account {
    bool counselor;
    dbk_id id, device;
    char passphrase[64];
    dbk_account_keys *keys;
    dbk_pass_keys *pass;
    dbk_kdf_params kdf;
    unsigned char bundle[DBK_BUNDLE_BYTES];
    dbk_id shared, priv;                /* a counselor has only priv */
    unsigned char shared_key[8][32];    /* by epoch, 1-based */
    unsigned char priv_key[32];
    uint32_t shared_epoch;
    char token[64];                     /* "" when logged out */
    dbk_hlc hlc;
} tc_account;

/* Makes keys, bundle, streams locally (nothing sent). */
void tc_account_init(tc_account *a, bool counselor, const char *passphrase);
void tc_account_free(tc_account *a);

/*
 * One request. path is appended to the server's base URL; body may be NULL (no
 * body) and is not consumed. Returns the parsed JSON response (NULL when empty)
 * and the status in *status.
 */
json_t *tc_req(const dbk_server *s, const tc_account *as, const char *method, const char *path,
               json_t *body, long *status);
/* The "error.code" of a response, or "". */
const char *tc_code(json_t *resp);

/* `daybookd counselor add NAME --url` on the server's data dir: the setup URI a
 * counselor's CLI enrolls with, into out. */
void tc_setup_uri(const dbk_server *s, const char *name, char *out, size_t cap);
/* `daybookd counselor add NAME` on the server's data dir; returns the code (static buffer). */
const char *tc_setup_code(const dbk_server *s, const char *name);
/* POST /v1/enroll; on 201 stores the token. Returns the response. */
json_t *tc_enroll(const dbk_server *s, tc_account *a, const char *code, long *status);
/* A counselor set up and enrolled; a client invited by counselor and enrolled, with
 * its shared stream granted to the counselor (epoch 1). */
void tc_new_counselor(const dbk_server *s, tc_account *c, const char *name);
void tc_new_client(const dbk_server *s, tc_account *client, tc_account *counselor);

/* The base64url of a freshly sealed grant of client's shared stream key at epoch to grantee. */
json_t *tc_grant_json(tc_account *owner, const dbk_id *stream, uint32_t epoch,
                      const unsigned char key[32], const dbk_id *grantee_id,
                      const unsigned char grantee_box_pk[32]);
/* POST /v1/streams/{shared}/grants granting epoch to counselor. Returns the status. */
long tc_grant(const dbk_server *s, tc_account *client, tc_account *counselor, uint32_t epoch);
/* Revokes counselor, then rotates the shared stream (new key, self-grant epoch + 1). */
void tc_revoke_and_rotate(const dbk_server *s, tc_account *client, tc_account *counselor);

/* Seals plaintext as a new revision of record in stream at epoch with key; base64url JSON. */
json_t *tc_envelope(tc_account *author, const dbk_id *stream, uint32_t epoch,
                    const unsigned char key[32], const dbk_id *record, const char *plaintext);
/* Opens a base64url envelope (author's keys given); returns malloc'd plaintext or NULL. */
char *tc_open(const char *b64, const tc_account *author, const dbk_id *stream, uint32_t epoch,
              const unsigned char key[32]);

/* Login with passphrase (start + finish). Returns the status of the step that failed, or
 * the finish's 200; stores the token. */
long tc_login(const dbk_server *s, tc_account *a, const char *passphrase, json_t **resp);

/* Runs the real `daybook ARGS...` (NULL-terminated, $DAYBOOK) with the environment
 * of the test process (DAYBOOK_HOME, DAYBOOK_PASSPHRASE_FILE ...). */
dbk_run_result tc_cli(const char *a1, ...);
/* A new invite of counselor co as the enrollment URI its device would show, with the
 * fingerprint of the given keys (a test passes other keys to play a lying server).
 * malloc'd. */
char *tc_invite_uri(const dbk_server *s, const tc_account *co, const unsigned char *fp_sign_pk,
                    const unsigned char *fp_box_pk);

/*
 * What counselor co holds of client's shared stream: the stream id and the key of
 * its active grant (opened with co's keys), and the client's signing key. When
 * consent is not NULL it gets the consent sealed in the grant (malloc'd). Returns
 * false when co holds no active grant from client.
 */
bool tc_counselor_stream(const dbk_server *s, const tc_account *co, const dbk_id *client,
                         dbk_id *stream, unsigned char key[32], unsigned char client_pk[32],
                         char **consent);

/* "/v1/streams/<id>/records" etc. into a static buffer. */
const char *tc_path(const char *fmt, const dbk_id *id);
json_t *tc_id(const dbk_id *id);

/* The stdout of a CLI run that must have exited 0, parsed as JSON (new reference);
 * fails the test with what (and the run's stderr) otherwise. Frees r. */
json_t *tc_json_of(dbk_run_result r, const char *what);

/* The counselor's review of who (--json, pulled first) misses the one lapse the client
 * logged and calls its data current (pulled, not stale): a review silently stale.
 * The review must be made (exit 0, JSON): a review that fails fails the test, never
 * counts as one that did not leak. Prints what it said (run: which of the caller's
 * runs). */
bool tc_review_misses_lapse(const char *who, int run);

/* The whole of the file at path, NUL-terminated (malloc'd); NULL when it cannot be read. */
char *tc_slurp(const char *path);

/*
 * A counselor and one client set up with the real CLIs against s: the admin's
 * `daybookd counselor add`, the counselor's init, enroll and invite, the client's
 * init and enroll. Each has a profile under p->home (a new temp dir); the
 * passphrase file and DAYBOOK_UNLOCK_SECONDS (DBK_TEST_UNLOCK_SECONDS) are set in the
 * environment, and
 * DAYBOOK_HOME is left at the client's.
 */
typedef struct tc_cli_pair_t {
    char *home; /* malloc'd; the caller removes it with dbk_rmtree and frees it */
    char counselor_home[4200], client_home[4200];
    char counselor_id[DBK_ID_TEXT_LEN + 1], client_id[DBK_ID_TEXT_LEN + 1];
} tc_cli_pair_t;
void tc_cli_pair(const dbk_server *s, tc_cli_pair_t *p);
/* A fresh daybookd with a tc_cli_pair on it: the fixture of tests that need only
 * these. tc_pair_setup and tc_pair_teardown are cmocka's setup and teardown for it
 * (*state a tc_pair_fx). */
typedef struct tc_pair_fx {
    dbk_server srv;
    tc_cli_pair_t p;
} tc_pair_fx;
int tc_pair_setup(void **state);
int tc_pair_teardown(void **state);
/* What tc_pair_teardown ends, for fixtures that hold more beside them: the server
 * stopped (must exit 0) and cleaned up, the pair's home removed and freed. */
void tc_pair_end(dbk_server *srv, tc_cli_pair_t *p);
/* Another client of p's counselor, set up the same way (the counselor's invite, then
 * init and enroll) with its profile in home (p->home/sub, cap bytes); id (may be NULL)
 * its account. DAYBOOK_HOME is left at it. */
void tc_cli_another_client(const tc_cli_pair_t *p, const char *sub, char *home, size_t cap,
                           char id[DBK_ID_TEXT_LEN + 1]);

/* The CLI's unlock for tests: writes passphrase to DIR/passphrase, points
 * DAYBOOK_PASSPHRASE_FILE at it and sets DAYBOOK_UNLOCK_SECONDS to
 * DBK_TEST_UNLOCK_SECONDS (dbk_test.h: the key cache on, kept two minutes). */
void tc_passphrase_file(const char *dir, const char *passphrase);

/* Fails the running test unless r exited 0 (what, the exit and stderr said); frees r. */
void tc_ok(dbk_run_result r, const char *what);

/* The local date days before today, YYYY-MM-DD (noon of that day, so a change of
 * daylight-saving time cannot move it). */
void tc_days_ago(int days, char out[11]);

/* The last_sync_at (Unix ms) that s's GET /v1/caseload, asked by counselor co, gives
 * for client; 0 when client is not listed. Fails the test unless the status is 200. */
long long tc_caseload_last_sync(const dbk_server *s, const tc_account *co, const dbk_id *client);

#endif
