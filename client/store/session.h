/*
 * What a command works with: the profile (local store and its settings), the
 * account keys once unlocked (trust/unlock.h), and the revision clock. The
 * session is plain state; opening keys is trust/'s work and talking to the
 * server sync/'s.
 */
#ifndef DBK_CLIENT_SESSION_H
#define DBK_CLIENT_SESSION_H

#include "local.h"

#include "dbk/hlc.h"
#include "dbk/keys.h"
#include "dbk/pct.h"

#include <jansson.h>

typedef struct dbk_session {
    char dir[4096];
    dbk_local *L;
    dbk_id account, device, server_id;
    int role;
    char server[DBK_URL_MAX];  /* base URL, "" before enrollment */
    dbk_account_keys *keys;    /* NULL until unlocked */
    dbk_hlc hlc;
    char token_mem[80];             /* the token once opened, or before it is stored; wiped */
    struct dbk_key_cache *keycache; /* stream keys opened so far (sodium_malloc'd) */
    int net_timeout_s;              /* a command's own bound per request, 0: the default */
} dbk_session;

/* Opens the profile; create makes the directory and store. DBK_E_NOT_FOUND when
 * there is none (run `daybook init`). */
int dbk_session_open(dbk_session *s, bool create);
void dbk_session_close(dbk_session *s);

/*
 * A new revision clock for a local write (persisted, monotonic) in *out: greater
 * than every clock stored by any process using this profile. Runs in its own
 * transaction unless one is open.
 */
int dbk_session_clock(dbk_session *s, bool coarse, uint64_t *out);
/*
 * The wall time a coarse revision clock takes, rounded down to the minute
 * (proto/CRYPTO.md section 6): the server sees every revision's clock, and to the
 * millisecond it told when each entry was written, offline ones included. A new
 * record's first revision (and a stream head) is coarse: nothing competes with it.
 * An edit keeps the millisecond: two devices editing one entry offline a few seconds
 * apart must see the later edit win (last writer wins needs the finer clock). The
 * merge on pull takes the coarse time too (the server knows when a sync happens).
 */
#define DBK_SESSION_CLOCK_GRAIN_MS 60000u
uint64_t dbk_session_wall_ms(void);
/* Merges the stored clock into s->hlc (another process, e.g. `daybook craving`
 * during a sync, may have stored a later one since the session opened). Call
 * inside a write transaction, before storing s->hlc.last. */
int dbk_session_clock_load(dbk_session *s);

#endif
