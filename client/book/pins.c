/* Pins as records of the account's private stream; see pins.h. */
#include "pins.h"

#include "entries.h"
#include "entry.h"
#include "trust.h"

#include "dbk/base64.h"
#include "dbk/error.h"

#include <string.h>

int
dbk_pins_record(dbk_session *s, const dbk_id *account, const unsigned char sign_pk[32],
                const unsigned char box_pk[32], const char *how)
{
    char id[DBK_ID_TEXT_LEN + 1], sk[64], bk[64], when[40];
    dbk_id rec;
    int rc;
    dbk_id_to_text(account, id);
    if (dbk_b64_encode(sk, sizeof sk, sign_pk, 32) != DBK_OK ||
        dbk_b64_encode(bk, sizeof bk, box_pk, 32) != DBK_OK)
        return DBK_E_INVALID;
    dbk_now_rfc3339(when);
    json_t *doc = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s}", "type", "pin", "v", 1,
                            "account_id", id, "ed25519_pk", sk, "x25519_pk", bk, "pinned_at",
                            when, "how", how);
    if (doc == NULL)
        return DBK_E_NOMEM;
    rc = dbk_entry_save(s, DBK_LOCAL_PRIVATE, NULL, doc, &rec);
    json_decref(doc);
    return rc;
}

int
dbk_pins_restore(dbk_session *s, size_t *records, size_t *pinned, size_t *conflicts)
{
    dbk_eu_list l;
    int rc;
    *records = *pinned = *conflicts = 0;
    if ((rc = dbk_eu_load(s, &l)) != DBK_OK)
        return rc;
    for (size_t i = 0; rc == DBK_OK && i < l.n; i++) {
        const dbk_eu_entry *e = &l.v[i];
        const char *a = json_string_value(json_object_get(e->doc, "account_id"));
        const char *sk = json_string_value(json_object_get(e->doc, "ed25519_pk"));
        const char *bk = json_string_value(json_object_get(e->doc, "x25519_pk"));
        unsigned char sign_pk[32], box_pk[32], have[32];
        dbk_id account;
        /* Only what this account signed into its own private stream. */
        if (strcmp(e->type, "pin") != 0 || !e->mine || e->kind != DBK_LOCAL_PRIVATE ||
            !dbk_id_equal(&e->hdr.author, &s->account) || a == NULL || sk == NULL ||
            bk == NULL || dbk_id_from_text(&account, a, strlen(a)) != DBK_OK ||
            dbk_b64_decode_exact(sign_pk, 32, sk, strlen(sk)) != DBK_OK ||
            dbk_b64_decode_exact(box_pk, 32, bk, strlen(bk)) != DBK_OK)
            continue;
        (*records)++;
        rc = dbk_trust_pinned(s, &account, have, NULL);
        bool had = rc == DBK_OK;
        if (rc == DBK_OK || rc == DBK_E_NOT_FOUND)
            rc = dbk_trust_pin(s, &account, sign_pk, box_pk);
        if (rc == DBK_E_FINGERPRINT) {
            (*conflicts)++;
            rc = DBK_OK;
        } else if (rc == DBK_OK && !had) {
            (*pinned)++;
        }
    }
    dbk_eu_free(&l);
    return rc;
}
