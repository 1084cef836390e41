/*
 * What a command works with: the profile (local store and its settings), the
 * unlocked account keys, and the server connection.
 *
 * Unlocking: the account's two secret keys are opened from the key bundle with
 * the passphrase and cached in the kernel's user keyring for a limited time
 * (DAYBOOK_UNLOCK_SECONDS, default 900), never on disk. The passphrase comes from
 * DAYBOOK_PASSPHRASE_FILE (first line), DAYBOOK_PASSPHRASE_FD, or the terminal.
 */
#ifndef DBK_CLIENT_SESSION_H
#define DBK_CLIENT_SESSION_H

#include "local.h"

#include "dbk/hlc.h"
#include "dbk/keys.h"
#include "dbk/pct.h"

#include <jansson.h>

enum { DBK_ROLE_NONE = 0, DBK_ROLE_CLIENT = 1, DBK_ROLE_COUNSELOR = 2 };

typedef struct dbk_session {
    char dir[4096];
    dbk_local *L;
    dbk_id account, device, server_id;
    int role;
    char server[DBK_URL_MAX];  /* base URL, "" before enrollment */
    dbk_account_keys *keys;    /* NULL until unlocked */
    dbk_hlc hlc;
    char token_mem[80];        /* a token not stored yet (during login); wiped on close */
    struct dbk_key_cache *keycache; /* stream keys opened so far (sodium_malloc'd) */
} dbk_session;

/* Opens the profile; create makes the directory and store. DBK_E_NOT_FOUND when
 * there is none (run `daybook init`). */
int dbk_session_open(dbk_session *s, bool create);
void dbk_session_close(dbk_session *s);

/* Reads the passphrase (see above); confirm asks twice on a terminal. The buffer
 * is sodium_malloc'd: free with dbk_passphrase_free. */
int dbk_passphrase_read(const char *prompt, bool confirm, char **out);
void dbk_passphrase_free(char *p);

/* Unlocks the account keys: from the keyring cache, else with the passphrase.
 * DBK_E_PASSPHRASE on a wrong one. */
int dbk_session_unlock(dbk_session *s);
/* Puts the unlocked keys in the keyring cache. */
void dbk_session_cache_keys(dbk_session *s);
/* Forgets the cached keys. */
void dbk_session_lock(dbk_session *s);

/*
 * A new revision clock for a local write (persisted, monotonic) in *out: greater
 * than every clock stored by any process using this profile. Runs in its own
 * transaction unless one is open.
 */
int dbk_session_clock(dbk_session *s, uint64_t *out);
/* Merges the stored clock into s->hlc (another process, e.g. `daybook craving`
 * during a sync, may have stored a later one since the session opened). Call
 * inside a write transaction, before storing s->hlc.last. */
int dbk_session_clock_load(dbk_session *s);

/*
 * One API request to the server (JSON in, JSON out). Adds the bearer token when
 * with_token. Returns DBK_OK with the HTTP status in *status and the body in
 * *out (may be NULL), or DBK_E_UNAVAILABLE when the server cannot be reached.
 */
int dbk_net_call(dbk_session *s, const char *method, const char *path, json_t *body,
                 bool with_token, long *status, json_t **out);
/* Refuses plain http:// except to loopback (DAYBOOK_ALLOW_HTTP=1 overrides). */
int dbk_net_check_url(const char *url);

/* Stores the bearer token sealed to this account's own key. */
int dbk_session_set_token(dbk_session *s, const char *token);

/* The stream key for (stream, epoch) from the grants this account holds. Opened
 * once per session and kept in locked memory that is wiped on close. */
int dbk_session_stream_key(dbk_session *s, const dbk_id *stream, uint32_t epoch,
                           unsigned char key[32]);

#endif
