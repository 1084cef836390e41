/* Names typed by a person, resolved; see resolve.h. */
#include "resolve.h"

#include "exitcode.h"
#include "role.h"

#include "dbk/error.h"

#include <stdio.h>
#include <string.h>

int
dbk_resolve_entry(const dbk_eu_list *l, const char *arg, size_t *idx)
{
    size_t len = strlen(arg), found = 0;
    char t[DBK_ID_TEXT_LEN + 1];

    if (len < DBK_EU_PREFIX_MIN || len > DBK_ID_TEXT_LEN) {
        fprintf(stderr,
                "daybook: '%s' is not an entry id: give the id 'daybook log --json' shows, or "
                "at least its first %d characters\n",
                arg, DBK_EU_PREFIX_MIN);
        return DBK_EXIT_USAGE;
    }
    for (size_t i = 0; i < l->n; i++) {
        dbk_id_to_text(&l->v[i].hdr.record, t);
        if (strncmp(t, arg, len) == 0) {
            if (found++ == 0)
                *idx = i;
        }
    }
    if (found == 1)
        return DBK_EXIT_OK;
    if (found == 0) {
        fprintf(stderr, "daybook: no entry '%s' on this device; 'daybook log' lists your "
                        "entries (run 'daybook sync' first if it was written on another device)\n",
                arg);
        return DBK_EXIT_FAIL;
    }
    fprintf(stderr, "daybook: '%s' is the start of %zu entry ids:", arg, found);
    for (size_t i = 0; i < l->n; i++) {
        dbk_id_to_text(&l->v[i].hdr.record, t);
        if (strncmp(t, arg, len) == 0)
            fprintf(stderr, " %s", t);
    }
    fprintf(stderr, "\ndaybook: give more characters of the one you mean\n");
    return DBK_EXIT_FAIL;
}

struct cands {
    dbk_id v[4096];
    size_t n;
    const dbk_id *me;
};

/* What the account's own records say (dbk_role_check's *says), as the messages put it. */
static const char *
role_said(int says)
{
    return says == DBK_ROLE_CLIENT      ? "it is a client's"
           : says == DBK_ROLE_COUNSELOR ? "it is a counselor's"
           : says < 0                   ? "it is both a client's and a counselor's"
                                        : "two different roles";
}

/* The refusal and the warning share their words: the device's role was the server's
 * word and the account's signed records contradict it. */
static void
say_contradicted(const char *lead, const char *cmd, dbk_session *s, int says)
{
    const char *role = dbk_role_name(s->role);

    fprintf(stderr,
            "daybook: %s%s%s: this device works as a %s's on the server's word, but your "
            "account's own signed records say %s. The server is wrong or has been "
            "tampered with: this device signs nothing more as a %s's. Do not use this "
            "profile; contact the clinic.\n",
            cmd != NULL ? cmd : "", cmd != NULL ? ": " : "", lead, role, role_said(says), role);
}

int
dbk_require_own_role(dbk_session *s, const char *cmd)
{
    int says, rc = dbk_role_check(s, &says);

    if (rc == DBK_OK)
        return DBK_EXIT_OK;
    if (rc != DBK_E_CONFLICT) {
        fprintf(stderr,
                "daybook: %s: cannot check this device's role against your account's "
                "own signed records (%s); nothing was done\n",
                cmd, dbk_err_message(rc));
        return DBK_EXIT_FAIL;
    }
    say_contradicted("refused", cmd, s, says);
    return DBK_EXIT_FAIL;
}

bool
dbk_role_contradicted(dbk_session *s)
{
    int says, rc = dbk_role_check(s, &says);

    if (rc == DBK_E_CONFLICT)
        say_contradicted("WARNING", NULL, s, says);
    return rc != DBK_OK;
}

int
dbk_require_counselor(dbk_session *s, const char *cmd)
{
    if (s->role == DBK_ROLE_COUNSELOR)
        return dbk_require_own_role(s, cmd);
    fprintf(stderr, "daybook: '%s' is for counselors; this profile is %s\n", cmd,
            s->role == DBK_ROLE_CLIENT ? "a client's" : "not enrolled yet");
    return DBK_EXIT_FAIL;
}

static void
add_cand(struct cands *c, const dbk_id *id)
{
    for (size_t i = 0; i < c->n; i++)
        if (dbk_id_equal(&c->v[i], id))
            return;
    if (c->n < sizeof c->v / sizeof c->v[0])
        c->v[c->n++] = *id;
}

static void
on_stream(const dbk_local_stream *st, void *arg)
{
    struct cands *c = arg;
    if (st->kind == DBK_LOCAL_SHARED && !dbk_id_equal(&st->owner, c->me))
        add_cand(c, &st->owner);
}

/* The client whose alias arg is (exact, case-insensitive), into *out. */
static bool
by_alias(const json_t *aliases, const char *arg, dbk_id *out)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)aliases, k, v) {
        const char *name = json_string_value(v);
        if (name != NULL && strcasecmp(name, arg) == 0 &&
            dbk_id_from_text(out, k, strlen(k)) == DBK_OK)
            return true;
    }
    return false;
}

bool
dbk_resolve_known(dbk_session *s, const json_t *aliases, const char *arg, dbk_id *out)
{
    dbk_local_stream st;
    if (by_alias(aliases, arg, out))
        return true;
    return strlen(arg) == DBK_ID_TEXT_LEN && dbk_id_from_text(out, arg, strlen(arg)) == DBK_OK &&
           !dbk_id_equal(out, &s->account) &&
           dbk_local_stream_of(s->L, out, DBK_LOCAL_SHARED, &st) == DBK_OK;
}

int
dbk_resolve_client(dbk_session *s, const json_t *aliases, const json_t *caseload, const char *arg,
               dbk_id *out)
{
    struct cands *c;
    json_t *v;
    size_t i, len = strlen(arg), found = 0;
    char t[DBK_ID_TEXT_LEN + 1];

    if (by_alias(aliases, arg, out))
        return DBK_EXIT_OK;
    if ((c = calloc(1, sizeof *c)) == NULL) {
        fprintf(stderr, "daybook: cannot look up the client: %s\n", dbk_err_message(DBK_E_NOMEM));
        return DBK_EXIT_FAIL;
    }
    c->me = &s->account;
    json_array_foreach((json_t *)caseload, i, v) {
        const char *a = json_string_value(json_object_get(v, "account"));
        dbk_id id;
        /* The listing is the server's word: this account is never its own client. */
        if (a != NULL && dbk_id_from_text(&id, a, strlen(a)) == DBK_OK &&
            !dbk_id_equal(&id, c->me))
            add_cand(c, &id);
    }
    (void)dbk_local_streams(s->L, on_stream, c);
    if (len >= DBK_EU_PREFIX_MIN && len <= DBK_ID_TEXT_LEN)
        for (i = 0; i < c->n; i++) {
            dbk_id_to_text(&c->v[i], t);
            if (strncmp(t, arg, len) == 0 && found++ == 0)
                *out = c->v[i];
        }
    free(c);
    if (found == 1)
        return DBK_EXIT_OK;
    if (found > 1)
        fprintf(stderr, "daybook: '%s' is the start of %zu client ids; give more characters\n",
                arg, found);
    else
        fprintf(stderr, "daybook: no client '%s': give an alias, an account id or its first %d "
                        "characters ('daybook clients' lists them; run 'daybook sync' first)\n",
                arg, DBK_EU_PREFIX_MIN);
    return DBK_EXIT_FAIL;
}

int
dbk_resolve_owner(dbk_session *s, const char *cmd, const char *client_arg, dbk_id *owner)
{
    json_t *aliases = NULL;
    int rc;
    if (client_arg == NULL) {
        *owner = s->account;
        return DBK_EXIT_OK;
    }
    if ((rc = dbk_require_counselor(s, cmd)) != DBK_EXIT_OK)
        return rc;
    if ((rc = dbk_co_aliases(s, &aliases)) != DBK_OK) {
        fprintf(stderr, "daybook: cannot read your aliases: %s\n", dbk_err_message(rc));
        return DBK_EXIT_FAIL;
    }
    rc = dbk_resolve_client(s, aliases, NULL, client_arg, owner);
    json_decref(aliases);
    return rc;
}
