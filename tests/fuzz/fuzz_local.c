/*
 * fuzz_local: what the CLI reads of its local configuration — the daybook:// links
 * a person pastes (setup, enroll, login: client/links.c) and the values of the
 * profile's meta table (client/session.c), which a damaged or tampered file holds.
 *
 * Input: the first byte picks the part.
 *  - even: the rest, as text, is a link. Invariants: a link that parses has every
 *    field its kind needs, each NUL-terminated within its buffer, a server that
 *    passes dbk_net_check_url; a login link formatted from a parsed one parses back
 *    to the same server and account.
 *  - odd: the rest is a list of (key index, length, value) triples written into a
 *    fresh profile's meta table (the keys the client reads: account, device, server,
 *    role, hlc...). Then the profile is opened as every command opens it. Invariants:
 *    it opens or is refused, never crashes; an opened profile's server is a
 *    NUL-terminated string; the next clock it issues is greater than the stored one.
 */
#include "fuzz.h"

#include "links.h"
#include "local.h"
#include "session.h"
#include "net.h"

#include "dbk/error.h"

#include <string.h>
#include <unistd.h>

static char home[256];
static char file[300];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    (void)argc;
    (void)argv;
    fuzz_init();
    snprintf(home, sizeof home, "%s/daybook-fuzz-local-%ld", base ? base : "/tmp",
             (long)getpid());
    snprintf(file, sizeof file, "%s/daybook.db", home);
    setenv("DAYBOOK_HOME", home, 1);
    return 0;
}

static void
link_part(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), again[2048];
    dbk_link u, v;

    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    if (dbk_link_parse(text, &u) == DBK_OK) {
        FUZZ_CHECK(strnlen(u.server, sizeof u.server) < sizeof u.server && u.server[0]);
        FUZZ_CHECK(dbk_net_check_url(u.server) == DBK_OK);
        FUZZ_CHECK(strnlen(u.code, sizeof u.code) < sizeof u.code);
        FUZZ_CHECK(strnlen(u.fp, sizeof u.fp) < sizeof u.fp);
        FUZZ_CHECK(strnlen(u.counselor, sizeof u.counselor) < sizeof u.counselor);
        FUZZ_CHECK(strnlen(u.account, sizeof u.account) < sizeof u.account);
        switch (u.kind) {
        case DBK_LINK_SETUP:
            FUZZ_CHECK(strlen(u.code) == 22);
            break;
        case DBK_LINK_ENROLL:
            FUZZ_CHECK(strlen(u.code) == 22 && strlen(u.fp) == 22 && strlen(u.counselor) == 22);
            break;
        case DBK_LINK_TEAM:
            FUZZ_CHECK(strlen(u.fp) == 22 && strlen(u.counselor) == 22);
            FUZZ_CHECK(strnlen(u.role, sizeof u.role) < sizeof u.role);
            break;
        case DBK_LINK_LOGIN:
            FUZZ_CHECK(strlen(u.account) == 22);
            FUZZ_CHECK(dbk_link_login_format(again, sizeof again, u.server, u.account) == DBK_OK);
            FUZZ_CHECK(dbk_link_parse(again, &v) == DBK_OK && v.kind == DBK_LINK_LOGIN);
            FUZZ_CHECK(strcmp(u.server, v.server) == 0 && strcmp(u.account, v.account) == 0);
            break;
        }
    }
    free(text);
}

/* The meta keys the client reads (client/session.c, entry.c, counselor.c, cmd_access.c). */
static const char *const keys[] = {"account", "device",  "server_id", "server",
                                   "role",    "hlc",     "bundle",    "token",
                                   "counselor", "counselor_name", "grants_seq", "last_sync"};

static void
profile_part(const uint8_t *data, size_t size)
{
    dbk_local *L;
    dbk_session s;
    char wal[320], shm[320];

    snprintf(wal, sizeof wal, "%s-wal", file);
    snprintf(shm, sizeof shm, "%s-shm", file);
    unlink(file);
    unlink(wal);
    unlink(shm);
    FUZZ_CHECK(dbk_local_open(home, true, &L) == DBK_OK);
    for (size_t i = 0; i + 2 <= size;) {
        const char *key = keys[data[i] % (sizeof keys / sizeof keys[0])];
        size_t n = data[i + 1];
        i += 2;
        if (n > size - i)
            n = size - i;
        FUZZ_CHECK(dbk_local_put(L, key, data + i, n) == DBK_OK);
        i += n;
    }
    dbk_local_close(L);

    if (dbk_session_open(&s, false) != DBK_OK)
        return;
    FUZZ_CHECK(strnlen(s.server, sizeof s.server) < sizeof s.server);
    if (s.server[0] != '\0')
        (void)dbk_net_check_url(s.server);
    uint64_t before = s.hlc.last;
    uint64_t c;
    FUZZ_CHECK(dbk_session_clock(&s, &c) == DBK_OK && c > before);
    (void)dbk_local_get_int(s.L, "grants_seq", 0);
    dbk_session_close(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] % 2 == 0)
        link_part(data + 1, size - 1);
    else
        profile_part(data + 1, size - 1);
    return 0;
}
