/* Pins, safety numbers and the enrolled counselor's keys: the keys of other accounts
 * this device verified, and how; see trust.h. */
#include "trust.h"

#include "dbk/base64.h"
#include "dbk/error.h"
#include "dbk/fingerprint.h"

#include <stdio.h>
#include <string.h>

/* ---- pins ---- */

static void
pin_keys(const dbk_id *account, char sign[64], char box[64])
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(account, t);
    snprintf(sign, 64, "sign_pk:%s", t); /* the name the stores already read */
    snprintf(box, 64, "box_pk:%s", t);
}

/* One pinned key: DBK_E_NOT_FOUND only when there is none; a pin that cannot be read,
 * or is not 32 bytes, is an error of its own (DBK_E_CORRUPT, DBK_E_IO), never "none":
 * a caller would then pin anew, or say calmly that it cannot tell. */
static int
pinned_key(dbk_session *s, const char *key, unsigned char pk[32])
{
    unsigned char v[33];
    size_t n;
    int rc = dbk_local_get(s->L, key, v, sizeof v, &n);
    if (rc == DBK_OK && n != 32)
        rc = DBK_E_CORRUPT;
    if (rc == DBK_OK)
        memcpy(pk, v, 32);
    sodium_memzero(v, sizeof v);
    return rc;
}

/* Whether the key pinned under key is want: DBK_OK, DBK_E_FINGERPRINT when another
 * is pinned, DBK_E_NOT_FOUND when none is, or pinned_key's error. */
static int
pin_agrees(dbk_session *s, const char *key, const unsigned char want[32])
{
    unsigned char have[32];
    int rc = pinned_key(s, key, have);
    if (rc == DBK_OK && sodium_memcmp(have, want, 32) != 0)
        rc = DBK_E_FINGERPRINT;
    return rc;
}

int
dbk_trust_pinned(dbk_session *s, const dbk_id *account, unsigned char sign_pk[32],
                 unsigned char box_pk[32])
{
    char sk[64], bk[64];
    int rc;
    pin_keys(account, sk, bk);
    if ((rc = pinned_key(s, sk, sign_pk)) != DBK_OK)
        return rc;
    return box_pk != NULL ? pinned_key(s, bk, box_pk) : DBK_OK;
}

int
dbk_trust_sign_pk(dbk_session *s, const dbk_id *account, unsigned char sign_pk[32])
{
    if (dbk_id_equal(account, &s->account)) {
        memcpy(sign_pk, s->keys->sign_pk, 32);
        return DBK_OK;
    }
    return dbk_trust_pinned(s, account, sign_pk, NULL);
}

int
dbk_trust_pin(dbk_session *s, const dbk_id *account, const unsigned char sign_pk[32],
              const unsigned char box_pk[32])
{
    char sk[64], bk[64];
    int rc;
    pin_keys(account, sk, bk);
    /* A pin that cannot be read is never written over. */
    if ((rc = pin_agrees(s, sk, sign_pk)) != DBK_OK && rc != DBK_E_NOT_FOUND)
        return rc;
    if ((rc = pin_agrees(s, bk, box_pk)) != DBK_OK && rc != DBK_E_NOT_FOUND)
        return rc;
    if ((rc = dbk_local_put(s->L, sk, sign_pk, 32)) != DBK_OK)
        return rc;
    return dbk_local_put(s->L, bk, box_pk, 32);
}

int
dbk_trust_pin_first_use(dbk_session *s, const dbk_id *account, const unsigned char sign_pk[32])
{
    char sk[64], bk[64];
    int rc;
    pin_keys(account, sk, bk);
    /* A pin this device cannot read is never pinned anew. */
    if ((rc = pin_agrees(s, sk, sign_pk)) != DBK_E_NOT_FOUND)
        return rc;
    return dbk_local_put(s->L, sk, sign_pk, 32);
}

/* The keys this device pinned for account, believed for a link only if they match
 * its fingerprint fp: DBK_E_NOT_FOUND when none are pinned, DBK_E_FINGERPRINT when
 * they do not match. */
int
dbk_trust_pinned_matches(dbk_session *s, const dbk_id *account, const char *fp,
                         unsigned char sign_pk[32], unsigned char box_pk[32])
{
    int rc = dbk_trust_pinned(s, account, sign_pk, box_pk);
    return rc != DBK_OK ? rc : dbk_fingerprint_check(fp, strlen(fp), account, sign_pk, box_pk);
}

/* Whether the keys the server lists for account (listed_sign, listed_box) are the ones
 * pinned: DBK_OK when they are, DBK_E_FINGERPRINT when either differs (the pins are
 * kept, nothing changes), DBK_E_NOT_FOUND when the two are not both pinned. */
int
dbk_trust_listed_keys(dbk_session *s, const dbk_id *account, const unsigned char listed_sign[32],
                      const unsigned char listed_box[32])
{
    unsigned char pin_s[32], pin_b[32];
    int rc;

    if ((rc = dbk_trust_pinned(s, account, pin_s, pin_b)) != DBK_OK)
        return rc;
    return sodium_memcmp(pin_s, listed_sign, 32) == 0 && sodium_memcmp(pin_b, listed_box, 32) == 0
               ? DBK_OK
               : DBK_E_FINGERPRINT;
}

/*
 * The keys of other to compare a safety number with, given the keys the server lists
 * now (listed_sign, listed_box; NULL when it could not be asked): the pinned ones, and
 * *changed when the listed ones differ. Keys not both pinned yet are pinned from the
 * listing on first use (a counselor learning a client's X25519 key; its identity key
 * was pinned on first sight by sync), unless the listing names another identity key
 * than the pinned one: then *changed, nothing is pinned, and the pinned identity key is
 * given with the listed X25519 key. DBK_E_NOT_FOUND when none are pinned and none listed.
 */
int
dbk_trust_verify_keys(dbk_session *s, const dbk_id *other, const unsigned char *listed_sign,
                      const unsigned char *listed_box, unsigned char sign_pk[32],
                      unsigned char box_pk[32], bool *changed)
{
    int rc;

    *changed = false;
    if ((rc = dbk_trust_pinned(s, other, sign_pk, box_pk)) == DBK_OK) {
        if (listed_sign == NULL)
            return DBK_OK;
        rc = dbk_trust_listed_keys(s, other, listed_sign, listed_box);
        *changed = rc == DBK_E_FINGERPRINT;
        return rc == DBK_E_FINGERPRINT ? DBK_OK : rc;
    }
    if (rc != DBK_E_NOT_FOUND || listed_sign == NULL)
        return rc;
    if ((rc = dbk_trust_pinned(s, other, sign_pk, NULL)) != DBK_OK && rc != DBK_E_NOT_FOUND)
        return rc;
    if (rc == DBK_OK && sodium_memcmp(sign_pk, listed_sign, 32) != 0) {
        memcpy(box_pk, listed_box, 32);
        *changed = true;
        return DBK_OK;
    }
    if ((rc = dbk_trust_pin(s, other, listed_sign, listed_box)) != DBK_OK)
        return rc;
    memcpy(sign_pk, listed_sign, 32);
    memcpy(box_pk, listed_box, 32);
    return DBK_OK;
}

/* ---- safety numbers ---- */

static void
confirm_key(const dbk_id *account, char out[64])
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(account, t);
    snprintf(out, 64, "confirmed:%s", t);
}

int
dbk_trust_confirm(dbk_session *s, const dbk_id *account)
{
    unsigned char sign_pk[32], box_pk[32], fp[DBK_FP_BYTES];
    char k[64];
    int rc;
    if ((rc = dbk_trust_pinned(s, account, sign_pk, box_pk)) != DBK_OK)
        return rc;
    dbk_fingerprint(fp, account, sign_pk, box_pk);
    confirm_key(account, k);
    return dbk_local_put(s->L, k, fp, sizeof fp);
}

int
dbk_trust_confirmed(dbk_session *s, const dbk_id *account)
{
    unsigned char sign_pk[32], box_pk[32], fp[DBK_FP_BYTES], have[DBK_FP_BYTES + 1];
    char k[64];
    size_t n;
    int rc;
    /* A pin or a record of the comparison that cannot be read is its own error, never
     * "not confirmed" (pinned_key). */
    if ((rc = dbk_trust_pinned(s, account, sign_pk, box_pk)) != DBK_OK)
        return rc;
    dbk_fingerprint(fp, account, sign_pk, box_pk);
    confirm_key(account, k);
    if ((rc = dbk_local_get(s->L, k, have, sizeof have, &n)) == DBK_OK && n != DBK_FP_BYTES)
        rc = DBK_E_CORRUPT;
    if (rc == DBK_OK && sodium_memcmp(have, fp, sizeof fp) != 0)
        rc = DBK_E_NOT_FOUND; /* compared for other keys than the ones pinned now */
    sodium_memzero(have, sizeof have);
    return rc;
}

/* ---- the counselor of the enrollment code ---- */

int
dbk_trust_enrolled_counselor(const json_t *c, const char *link_counselor, const char *fp,
                             dbk_id *counselor, unsigned char sign_pk[32],
                             unsigned char box_pk[32])
{
    const char *cid = json_string_value(json_object_get(c, "account"));
    const char *spk = json_string_value(json_object_get(c, "ed25519_pk"));
    const char *bpk = json_string_value(json_object_get(c, "x25519_pk"));

    if (cid == NULL || spk == NULL || bpk == NULL ||
        dbk_id_from_text(counselor, cid, strlen(cid)) != DBK_OK ||
        strcmp(cid, link_counselor) != 0 ||
        dbk_b64_decode_exact(sign_pk, 32, spk, strlen(spk)) != DBK_OK ||
        dbk_b64_decode_exact(box_pk, 32, bpk, strlen(bpk)) != DBK_OK ||
        dbk_fingerprint_check(fp, strlen(fp), counselor, sign_pk, box_pk) != DBK_OK)
        return DBK_E_FINGERPRINT;
    return DBK_OK;
}

void
dbk_trust_safety_number(const dbk_session *s, const dbk_id *other,
                        const unsigned char sign_pk[32], const unsigned char box_pk[32],
                        char sn[DBK_SAFETY_NUMBER_LEN + 1])
{
    char mine[DBK_SAFETY_DIGITS + 1], theirs[DBK_SAFETY_DIGITS + 1];

    dbk_safety_digits(mine, &s->account, s->keys->sign_pk, s->keys->box_pk);
    dbk_safety_digits(theirs, other, sign_pk, box_pk);
    dbk_safety_number(sn, mine, theirs);
}
