/* The clinic's help lines this device believes; see help_pin.h. */
#include "help_pin.h"

#include "dbk/error.h"
#include "dbk/helplines.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum { LINES_TEXT_MAX = 2048 }; /* 4 lines of 20 + 56 bytes, JSON-escaped, fit */

int
dbk_trust_help_pin(dbk_session *s, const json_t *offered, const char *link_hash)
{
    char h[DBK_HELP_HASH_LEN + 1], *text;
    int rc;

    if (link_hash[0] != '\0' &&
        (rc = dbk_local_put_text(s->L, "help_link_hash", link_hash)) != DBK_OK)
        return rc;
    if (offered == NULL)
        return DBK_E_NOT_FOUND;
    if (dbk_help_lines_hash(h, offered) != DBK_OK)
        return DBK_E_INVALID;
    if (link_hash[0] != '\0' &&
        (strlen(link_hash) != DBK_HELP_HASH_LEN ||
         sodium_memcmp(h, link_hash, DBK_HELP_HASH_LEN) != 0))
        return DBK_E_FINGERPRINT;
    if ((text = json_dumps(offered, JSON_COMPACT)) == NULL)
        return DBK_E_NOMEM;
    if (strlen(text) >= LINES_TEXT_MAX)
        rc = DBK_E_INVALID;
    else if ((rc = dbk_local_put_text(s->L, "help_lines", text)) == DBK_OK &&
             (rc = dbk_local_put_text(s->L, "help_lines_hash", h)) == DBK_OK)
        rc = dbk_local_put_int(s->L, "help_lines_source",
                               link_hash[0] != '\0' ? DBK_HELP_PIN_LINK : DBK_HELP_PIN_SERVER);
    free(text);
    return rc;
}

int
dbk_trust_help_compare(dbk_session *s, const json_t *offered)
{
    char pinned[DBK_HELP_HASH_LEN + 1], h[DBK_HELP_HASH_LEN + 1];

    if (dbk_local_get_text(s->L, "help_lines_hash", pinned, sizeof pinned) != DBK_OK ||
        strlen(pinned) != DBK_HELP_HASH_LEN) {
        /* Not pinned at enrollment (the server did not answer then): the link's hash
         * still says which list to take. */
        char link[DBK_HELP_HASH_LEN + 1];
        if (dbk_local_get_text(s->L, "help_link_hash", link, sizeof link) != DBK_OK ||
            strlen(link) != DBK_HELP_HASH_LEN)
            return DBK_E_NOT_FOUND;
        int rc = dbk_trust_help_pin(s, offered, link);
        dbk_local_put_int(s->L, "help_lines_refused", rc == DBK_OK ? 0 : 1);
        return rc == DBK_OK ? DBK_OK : DBK_E_FINGERPRINT;
    }
    if (dbk_help_lines_hash(h, offered) == DBK_OK &&
        sodium_memcmp(h, pinned, DBK_HELP_HASH_LEN) == 0) {
        dbk_local_put_int(s->L, "help_lines_refused", 0);
        return DBK_OK;
    }
    dbk_local_put_int(s->L, "help_lines_refused", 1);
    return DBK_E_FINGERPRINT;
}

json_t *
dbk_trust_help_lines(dbk_session *s, int *source)
{
    char text[LINES_TEXT_MAX];
    json_t *l = NULL;
    char why[128];

    *source = DBK_HELP_PIN_NONE;
    if (s != NULL && s->L != NULL &&
        dbk_local_get_text(s->L, "help_lines", text, sizeof text) == DBK_OK &&
        (l = json_loads(text, JSON_REJECT_DUPLICATES, NULL)) != NULL &&
        dbk_help_lines_check(l, why, sizeof why) == DBK_OK) {
        *source = (int)dbk_local_get_int(s->L, "help_lines_source", DBK_HELP_PIN_SERVER);
        return l;
    }
    json_decref(l);
    return json_array();
}

bool
dbk_trust_help_refused(dbk_session *s)
{
    return s != NULL && s->L != NULL && dbk_local_get_int(s->L, "help_lines_refused", 0) != 0;
}
