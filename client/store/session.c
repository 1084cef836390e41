/*
 * The profile a command works with: the local store opened, the account, device,
 * server and role read from it, and the revision clock kept monotonic across every
 * process that uses the profile. See session.h.
 */
#include "session.h"

#include "dbk/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int
dbk_session_open(dbk_session *s, bool create)
{
    char role[8];
    size_t n;
    int rc;

    memset(s, 0, sizeof *s);
    if ((rc = dbk_local_dir(s->dir, sizeof s->dir)) != DBK_OK)
        return rc;
    if ((rc = dbk_local_open(s->dir, create, &s->L)) != DBK_OK)
        return rc;
    if (dbk_local_get(s->L, "account", s->account.b, DBK_ID_BYTES, &n) != DBK_OK && !create) {
        dbk_session_close(s);
        return DBK_E_NOT_FOUND;
    }
    dbk_local_get(s->L, "device", s->device.b, DBK_ID_BYTES, &n);
    dbk_local_get(s->L, "server_id", s->server_id.b, DBK_ID_BYTES, &n);
    dbk_local_get_text(s->L, "server", s->server, sizeof s->server);
    if (dbk_local_get_text(s->L, "role", role, sizeof role) == DBK_OK)
        s->role = atoi(role);
    if ((rc = dbk_session_clock_load(s)) != DBK_OK) { /* s->hlc.last is 0: the stored one */
        dbk_session_close(s);
        return rc;
    }
    return DBK_OK;
}

void
dbk_session_close(dbk_session *s)
{
    sodium_memzero(s->token_mem, sizeof s->token_mem);
    sodium_free(s->keycache); /* wipes */
    dbk_account_keys_free(s->keys);
    dbk_local_close(s->L);
    memset(s, 0, sizeof *s);
}

uint64_t
dbk_session_wall_ms(void)
{
    uint64_t ms = dbk_hlc_wall_ms();
    return ms - ms % DBK_SESSION_CLOCK_GRAIN_MS;
}

int
dbk_session_clock_load(dbk_session *s)
{
    /* The clock is stored as a decimal int64. One past 2^62 (its milliseconds are
     * after the year 4000) was never written by a sane clock, and near 2^63 the next
     * clock would turn negative or wrap to zero, making every new revision lose:
     * the file is damaged. */
    int64_t hlc = dbk_local_get_int(s->L, "hlc", 0);
    if (hlc < 0 || hlc > INT64_C(1) << 62)
        return DBK_E_CORRUPT;
    if ((uint64_t)hlc > s->hlc.last)
        s->hlc.last = (uint64_t)hlc;
    /* More than a day ahead of the wall clock: this device's clock was wrong and has
     * been set back (no remote clock that far ahead is merged). Kept, every later
     * revision would be refused by the server until that time passed (proto/README.md
     * section 10, check 6). The clock goes back to the newest revision this device
     * holds within the bound, so it still follows everything it has seen. */
    uint64_t bound = dbk_hlc_wall_ms() + DBK_HLC_MAX_DRIFT_MS;
    if (dbk_hlc_ms(s->hlc.last) > bound)
        return dbk_local_max_clock(s->L, dbk_hlc_pack(bound, 0xffff), &s->hlc.last);
    return DBK_OK;
}

int
dbk_session_clock(dbk_session *s, bool coarse, uint64_t *out)
{
    /* Read, advance and store under the write lock (BEGIN IMMEDIATE): with the value
     * loaded at open, two commands running at once could issue the same clock, or one
     * could store a smaller value over the other's. */
    bool own = !dbk_local_in_tx(s->L);
    int rc = own ? dbk_local_begin(s->L) : DBK_OK;

    if (rc == DBK_OK && (rc = dbk_session_clock_load(s)) == DBK_OK) {
        *out = dbk_hlc_local(&s->hlc, coarse ? dbk_session_wall_ms() : dbk_hlc_wall_ms());
        rc = dbk_local_put_int(s->L, "hlc", (int64_t)*out);
    }
    if (own && rc == DBK_OK)
        rc = dbk_local_commit(s->L);
    if (own && rc != DBK_OK)
        dbk_local_rollback(s->L);
    return rc;
}
