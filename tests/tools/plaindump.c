/*
 * dbk_plaindump PROFILE_DIR: a test tool, never installed. It opens a daybook
 * profile with the client's own code (daybook_core), decrypts every record
 * revision it holds (current and kept losers) and every grant addressed to it,
 * and writes their plaintexts as JSON lines on stdout, so the integration tests
 * can check that everything the C client and counselor wrote conforms to
 * proto/schemas (tests/schemas/check_plaintexts.mjs). The shipped daybook binary
 * has no such hook on purpose.
 *
 * Candidate passphrases come on stdin, one per line (the test harness knows
 * every passphrase a test used with that profile); the first that unlocks wins.
 *
 * Output lines:
 *   {"source":"record","author":ID,"stream_kind":"shared"|"private","current":B,"doc":{...}}
 *   {"source":"consent","self":B,"doc":{...}}       self: the grant's owner is its grantee
 *   {"source":"unopened","count":N}                 revisions this profile cannot open
 *
 * Exit: 0 done, 1 the profile could not be opened or unlocked, 2 usage.
 */
#include "entries.h"
#include "unlock.h"
#include "session.h"

#include "dbk/error.h"
#include "dbk/grant.h"
#include "dbk/init.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PASSPHRASES 8
#define PASSPHRASE_CAP 1024

static int
emit(json_t *line)
{
    char *s = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(line);
    if (s == NULL)
        return DBK_E_NOMEM;
    puts(s);
    free(s);
    return DBK_OK;
}

static int
dump_records(dbk_session *s)
{
    dbk_eu_list l;
    size_t unopened;
    int rc = dbk_eu_load(s, &l);

    if (rc != DBK_OK)
        return rc;
    unopened = l.bad;
    for (size_t i = 0; i < l.n && rc == DBK_OK; i++) {
        dbk_eu_rev *revs = NULL;
        size_t n = 0;
        if ((rc = dbk_eu_revisions(s, &l.v[i].hdr.record, &revs, &n)) != DBK_OK)
            break;
        for (size_t k = 0; k < n && rc == DBK_OK; k++) {
            char author[DBK_ID_TEXT_LEN + 1];
            if (revs[k].doc == NULL) {
                unopened++;
                continue;
            }
            dbk_id_to_text(&revs[k].hdr.author, author);
            rc = emit(json_pack("{s:s, s:s, s:s, s:b, s:O}", "source", "record", "author", author,
                                "stream_kind",
                                l.v[i].kind == DBK_LOCAL_SHARED ? "shared" : "private", "current",
                                revs[k].current, "doc", revs[k].doc));
        }
        dbk_eu_revisions_free(revs, n);
    }
    dbk_eu_free(&l);
    if (rc == DBK_OK && unopened > 0)
        rc = emit(json_pack("{s:s, s:I}", "source", "unopened", "count", (json_int_t)unopened));
    return rc;
}

struct streams {
    dbk_local_stream v[256];
    size_t n;
};

static void
on_stream(const dbk_local_stream *st, void *arg)
{
    struct streams *ss = arg;
    if (ss->n < sizeof ss->v / sizeof ss->v[0])
        ss->v[ss->n++] = *st;
}

/* Every grant this profile holds, for every epoch up to each stream's current one. */
static int
dump_consents(dbk_session *s)
{
    static struct streams ss;
    int rc;

    ss.n = 0;
    if ((rc = dbk_local_streams(s->L, on_stream, &ss)) != DBK_OK)
        return rc;
    for (size_t i = 0; i < ss.n && rc == DBK_OK; i++) {
        unsigned char opk[32];
        char key[64], t[DBK_ID_TEXT_LEN + 1];
        size_t n;
        bool self = dbk_id_equal(&ss.v[i].owner, &s->account);
        dbk_id_to_text(&ss.v[i].owner, t);
        snprintf(key, sizeof key, "sign_pk:%s", t);
        if (self)
            memcpy(opk, s->keys->sign_pk, 32);
        else if (dbk_local_get(s->L, key, opk, 32, &n) != DBK_OK)
            continue; /* an owner this device never learned the key of: nothing to open */
        for (uint32_t e = 1; e <= ss.v[i].epoch && rc == DBK_OK; e++) {
            unsigned char *g, skey[32];
            size_t len;
            char *consent = NULL;
            dbk_grant_hdr h;
            json_t *doc;
            if (dbk_local_grant_get(s->L, &ss.v[i].id, e, &g, &len) != DBK_OK)
                continue;
            dbk_grant_expect x = {&ss.v[i].owner, opk, &s->account, s->keys->box_pk,
                                  s->keys->box_sk, 0};
            int orc = dbk_grant_open(g, len, &x, &h, skey, &consent);
            free(g);
            sodium_memzero(skey, sizeof skey);
            if (orc != DBK_OK) {
                rc = emit(json_pack("{s:s, s:I}", "source", "unopened", "count", (json_int_t)1));
                continue;
            }
            doc = json_loads(consent, JSON_REJECT_DUPLICATES, NULL);
            free(consent);
            if (doc == NULL) /* dbk_grant_open already requires a JSON object */
                return DBK_E_BAD_GRANT;
            rc = emit(json_pack("{s:s, s:b, s:o}", "source", "consent", "self",
                                dbk_id_equal(&h.owner, &h.grantee), "doc", doc));
        }
    }
    return rc;
}

/* Opens and unlocks the profile with the first candidate passphrase that works. */
static int
unlock_with(dbk_session *s, char pass[][PASSPHRASE_CAP], size_t npass)
{
    int rc = DBK_E_PASSPHRASE;
    for (size_t i = 0; i < npass && rc == DBK_E_PASSPHRASE; i++) {
        int fds[2];
        char fdtext[16];
        if (pipe(fds) != 0)
            return DBK_E_IO;
        size_t len = strlen(pass[i]);
        if (write(fds[1], pass[i], len) != (ssize_t)len || write(fds[1], "\n", 1) != 1) {
            close(fds[0]);
            close(fds[1]);
            return DBK_E_IO;
        }
        close(fds[1]);
        snprintf(fdtext, sizeof fdtext, "%d", fds[0]);
        setenv("DAYBOOK_PASSPHRASE_FD", fdtext, 1);
        if ((rc = dbk_session_open(s, false)) == DBK_OK &&
            (rc = dbk_unlock(s)) != DBK_OK)
            dbk_session_close(s);
        close(fds[0]);
    }
    return rc;
}

int
main(int argc, char **argv)
{
    static char pass[MAX_PASSPHRASES][PASSPHRASE_CAP];
    size_t npass = 0;
    dbk_session s;
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: dbk_plaindump PROFILE_DIR < passphrases\n");
        return 2;
    }
    while (npass < MAX_PASSPHRASES && fgets(pass[npass], PASSPHRASE_CAP, stdin) != NULL) {
        pass[npass][strcspn(pass[npass], "\n")] = '\0';
        npass++;
    }
    /* Only this profile, and nothing cached for later: the keyring is left alone. */
    setenv("DAYBOOK_HOME", argv[1], 1);
    unsetenv("DAYBOOK_PASSPHRASE_FILE");
    setenv("DAYBOOK_UNLOCK_SECONDS", "0", 1);
    if (dbk_init() != DBK_OK)
        return 1;
    if ((rc = unlock_with(&s, pass, npass)) != DBK_OK) {
        fprintf(stderr, "dbk_plaindump: %s: %s\n", argv[1], dbk_err_code(rc));
        sodium_memzero(pass, sizeof pass);
        return 1;
    }
    sodium_memzero(pass, sizeof pass);
    rc = dump_records(&s);
    if (rc == DBK_OK)
        rc = dump_consents(&s);
    dbk_session_close(&s);
    if (rc != DBK_OK || fflush(stdout) != 0) {
        fprintf(stderr, "dbk_plaindump: %s: %s\n", argv[1], dbk_err_code(rc));
        return 1;
    }
    return 0;
}
