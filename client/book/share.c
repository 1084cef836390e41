/* The consents a client gave, kept as its own records; see share.h. */
#include "share.h"
#include "consent.h"
#include "entries.h"
#include "entry.h"

#include "dbk/error.h"

#include <string.h>

int
dbk_share_keep_consent(dbk_session *s, const json_t *consent)
{
    dbk_id copy_id;
    json_t *copy = json_deep_copy(consent);
    /* What was agreed, on every device of the client; the private stream is never shared. */
    int rc = copy ? dbk_entry_save(s, DBK_LOCAL_PRIVATE, NULL, copy, &copy_id) : DBK_E_NOMEM;
    json_decref(copy);
    return rc;
}

int
dbk_share_consents_given(dbk_session *s, json_t **out)
{
    dbk_eu_list l;
    int rc;

    *out = NULL;
    if ((rc = dbk_eu_load(s, &l)) != DBK_OK)
        return rc;
    *out = json_object();
    /* Oldest first: a later consent to the same counselor replaces an earlier one. */
    for (size_t i = 0; i < l.n; i++) {
        const dbk_eu_entry *e = &l.v[i];
        const char *to = json_string_value(
            json_object_get(json_object_get(e->doc, "recipient"), "account_id"));
        if (!e->mine || e->kind != DBK_LOCAL_PRIVATE || strcmp(e->type, "consent") != 0 ||
            to == NULL || json_is_true(json_object_get(e->doc, "self")))
            continue;
        const char *date =
            json_string_value(json_object_get(json_object_get(e->doc, "expires"), "date"));
        json_object_set_new(*out, to,
                            json_pack("{s:O, s:I}", "consent", e->doc, "expires_at",
                                      (json_int_t)dbk_consent_end_ms(date)));
    }
    dbk_eu_free(&l);
    return DBK_OK;
}
