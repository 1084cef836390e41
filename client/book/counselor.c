/* The counselor's caseload, aliases and session markers; see counselor.h. */
#include "counselor.h"
#include "daycount.h"
#include "net.h"
#include "unlock.h"
#include "stream_key.h"

#include "dbk/error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int
status_err(json_t *resp)
{
    const char *code = json_string_value(json_object_get(json_object_get(resp, "error"), "code"));
    return code ? dbk_err_from_code(code) : DBK_E_UNAVAILABLE;
}

int
dbk_co_caseload(dbk_session *s, json_t **clients)
{
    json_t *resp = NULL;
    long status;
    int rc = dbk_net_call(s, "GET", "/v1/caseload", NULL, true, &status, &resp);

    *clients = NULL;
    if (rc == DBK_OK && status != 200)
        rc = status_err(resp);
    if (rc == DBK_OK && !json_is_array(json_object_get(resp, "clients")))
        rc = DBK_E_BAD_JSON;
    if (rc == DBK_OK)
        *clients = json_incref(json_object_get(resp, "clients"));
    json_decref(resp);
    return rc;
}

/* ---- aliases ---- */

int
dbk_co_sealed_get(dbk_session *s, const char *key, size_t cap, json_t **out)
{
    unsigned char *sealed = NULL, *plain = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    if ((rc = dbk_unlock(s)) != DBK_OK)
        return rc;
    if ((sealed = malloc(cap)) == NULL)
        return DBK_E_NOMEM;
    rc = dbk_local_get(s->L, key, sealed, cap, &len);
    if (rc == DBK_E_NOT_FOUND) {
        free(sealed);
        *out = json_object();
        return DBK_OK;
    }
    if (rc == DBK_OK && len <= crypto_box_SEALBYTES)
        rc = DBK_E_CORRUPT;
    if (rc == DBK_OK && (plain = malloc(len - crypto_box_SEALBYTES + 1)) == NULL)
        rc = DBK_E_NOMEM;
    if (rc == DBK_OK && crypto_box_seal_open(plain, sealed, len, s->keys->box_pk,
                                             s->keys->box_sk) != 0)
        rc = DBK_E_CORRUPT;
    if (rc == DBK_OK) {
        *out = json_loadb((const char *)plain, len - crypto_box_SEALBYTES, 0, NULL);
        sodium_memzero(plain, len - crypto_box_SEALBYTES);
        if (!json_is_object(*out)) {
            json_decref(*out);
            *out = NULL;
            rc = DBK_E_CORRUPT;
        }
    }
    free(plain);
    free(sealed);
    return rc;
}

int
dbk_co_sealed_put(dbk_session *s, const char *key, const json_t *doc)
{
    char *text;
    unsigned char *sealed;
    size_t n;
    int rc;

    if ((rc = dbk_unlock(s)) != DBK_OK)
        return rc;
    if ((text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
        return DBK_E_NOMEM;
    n = strlen(text);
    if ((sealed = malloc(n + crypto_box_SEALBYTES)) == NULL) {
        dbk_eu_wipe_free(text);
        return DBK_E_NOMEM;
    }
    crypto_box_seal(sealed, (const unsigned char *)text, n, s->keys->box_pk);
    dbk_eu_wipe_free(text);
    rc = dbk_local_put(s->L, key, sealed, n + crypto_box_SEALBYTES);
    free(sealed);
    return rc;
}

int
dbk_co_aliases(dbk_session *s, json_t **out)
{
    return dbk_co_sealed_get(s, "client_aliases", 1 << 20, out);
}

int
dbk_co_aliases_save(dbk_session *s, const json_t *aliases)
{
    return dbk_co_sealed_put(s, "client_aliases", aliases);
}

void
dbk_co_label(const json_t *aliases, const dbk_id *id, char *out, size_t cap)
{
    char t[DBK_ID_TEXT_LEN + 1];
    const char *a;
    dbk_id_to_text(id, t);
    a = json_string_value(json_object_get(aliases, t));
    if (a != NULL)
        snprintf(out, cap, "%s", a);
    else
        snprintf(out, cap, "%.8s", t);
}

/* ---- naming a client ---- */

int
dbk_co_client_stream(dbk_session *s, const dbk_id *client, dbk_local_stream *out)
{
    return dbk_local_stream_of(s->L, client, DBK_LOCAL_SHARED, out);
}

bool
dbk_co_last_session(const dbk_eu_list *l, const dbk_id *client, char at[40])
{
    char t[DBK_ID_TEXT_LEN + 1];
    uint64_t best = 0;
    bool found = false;

    dbk_id_to_text(client, t);
    for (size_t i = 0; i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        const char *c = json_string_value(json_object_get(e->doc, "client"));
        const char *when = json_string_value(json_object_get(e->doc, "at"));
        if (!e->mine || e->kind != DBK_LOCAL_PRIVATE || strcmp(e->type, "session") != 0 ||
            c == NULL || strcmp(c, t) != 0 || when == NULL || strlen(when) < 10)
            continue;
        if (!found || e->hdr.rev.clock > best) {
            best = e->hdr.rev.clock;
            snprintf(at, 40, "%s", when);
            found = true;
        }
    }
    return found;
}

int
dbk_co_seal_into(dbk_session *s, const dbk_id *stream, json_t *doc, dbk_id *out_id)
{
    dbk_local_stream st;
    dbk_envelope_hdr h;
    unsigned char key[32], *env = NULL;
    size_t len;
    char *text;
    bool cur;
    int rc;

    if ((rc = dbk_unlock(s)) != DBK_OK ||
        (rc = dbk_local_stream_get(s->L, stream, &st)) != DBK_OK ||
        (rc = dbk_stream_key(s, stream, st.epoch, key)) != DBK_OK)
        return rc;
    memset(&h, 0, sizeof h);
    h.stream = st.id;
    dbk_id_random(&h.record);
    if ((rc = dbk_session_clock(s, &h.rev.clock)) != DBK_OK) {
        sodium_memzero(key, sizeof key);
        return rc;
    }
    h.rev.device = s->device;
    h.epoch = st.epoch;
    h.author = s->account;
    if ((text = json_dumps(doc, JSON_COMPACT)) == NULL) {
        sodium_memzero(key, sizeof key);
        return DBK_E_NOMEM;
    }
    rc = dbk_envelope_seal(&h, key, s->keys->sign_sk, (const unsigned char *)text, strlen(text),
                           NULL, &env, &len);
    sodium_memzero(key, sizeof key);
    dbk_eu_wipe_free(text);
    if (rc == DBK_OK)
        rc = dbk_local_record_put(s->L, env, len, 0, true, &cur);
    free(env);
    if (rc == DBK_OK && out_id != NULL)
        *out_id = h.record;
    return rc;
}

void
dbk_co_ms_text(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
}

void
dbk_co_state_put(dbk_session *s, const dbk_id *client, const char *state)
{
    char t[DBK_ID_TEXT_LEN + 1], key[64];
    dbk_id_to_text(client, t);
    snprintf(key, sizeof key, "grant_state:%s", t);
    (void)dbk_local_put_text(s->L, key, state);
}

void
dbk_co_state_get(dbk_session *s, const dbk_id *client, char *out, size_t cap)
{
    char t[DBK_ID_TEXT_LEN + 1], key[64];
    dbk_id_to_text(client, t);
    snprintf(key, sizeof key, "grant_state:%s", t);
    if (dbk_local_get_text(s->L, key, out, cap) != DBK_OK)
        out[0] = '\0';
}

int64_t
dbk_co_enrolled_day(dbk_session *s, const json_t *entry, const dbk_id *client)
{
    char t[DBK_ID_TEXT_LEN + 1], key[64], text[32];
    int64_t ms, day;
    dbk_id_to_text(client, t);
    snprintf(key, sizeof key, "enrolled_at:%s", t);
    if (json_is_integer(json_object_get(entry, "enrolled_at"))) {
        ms = (int64_t)json_integer_value(json_object_get(entry, "enrolled_at"));
        (void)dbk_local_put_int(s->L, key, ms);
    } else {
        ms = dbk_local_get_int(s->L, key, 0);
    }
    if (ms <= 0)
        return INT64_MIN;
    dbk_co_ms_text(ms, text);
    return dbk_day_parse(text, &day) ? day : INT64_MIN;
}
