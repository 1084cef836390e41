/* Profile, unlock and network for commands; see session.h. */
#include "session.h"

#include "dbk/base64.h"
#include "dbk/error.h"
#include "dbk/grant.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#define PASSPHRASE_MAX 1024
#define KEY_CACHE_SLOTS 128

/* Stream keys already opened in this session: opening a grant costs a sealed-box
 * open and a signature check, and a review opens thousands of entries. */
struct dbk_key_cache {
    size_t n;
    struct {
        dbk_id stream;
        uint32_t epoch;
        unsigned char key[32];
    } v[KEY_CACHE_SLOTS];
};
#define UNLOCK_SECONDS_DEFAULT 900

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
    return DBK_OK;
}

int
dbk_session_clock(dbk_session *s, uint64_t *out)
{
    /* Read, advance and store under the write lock (BEGIN IMMEDIATE): with the value
     * loaded at open, two commands running at once could issue the same clock, or one
     * could store a smaller value over the other's. */
    bool own = !dbk_local_in_tx(s->L);
    int rc = own ? dbk_local_begin(s->L) : DBK_OK;

    if (rc == DBK_OK && (rc = dbk_session_clock_load(s)) == DBK_OK) {
        *out = dbk_hlc_local(&s->hlc, dbk_hlc_wall_ms());
        rc = dbk_local_put_int(s->L, "hlc", (int64_t)*out);
    }
    if (own && rc == DBK_OK)
        rc = dbk_local_commit(s->L);
    if (own && rc != DBK_OK)
        dbk_local_rollback(s->L);
    return rc;
}

/* ---- passphrase ---- */

static int
read_line(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    char c;
    while (n + 1 < cap) {
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || c == '\n')
            break;
        buf[n++] = c;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return n > 0 ? DBK_OK : DBK_E_PASSPHRASE;
}

static int
read_tty(const char *prompt, char *buf, size_t cap)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    struct termios old, quiet;
    int rc;

    if (fd < 0)
        return DBK_E_PASSPHRASE;
    if (write(fd, prompt, strlen(prompt)) < 0) {
        close(fd);
        return DBK_E_PASSPHRASE;
    }
    tcgetattr(fd, &old);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(fd, TCSAFLUSH, &quiet);
    rc = read_line(fd, buf, cap);
    tcsetattr(fd, TCSAFLUSH, &old);
    (void)!write(fd, "\n", 1);
    close(fd);
    return rc;
}

int
dbk_passphrase_read(const char *prompt, bool confirm, char **out)
{
    const char *file = getenv("DAYBOOK_PASSPHRASE_FILE"), *fdv = getenv("DAYBOOK_PASSPHRASE_FD");
    char *p = sodium_malloc(PASSPHRASE_MAX), *again;
    int rc;

    *out = NULL;
    if (p == NULL)
        return DBK_E_NOMEM;
    if (file != NULL && *file) {
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        rc = fd >= 0 ? read_line(fd, p, PASSPHRASE_MAX) : DBK_E_IO;
        if (fd >= 0)
            close(fd);
    } else if (fdv != NULL && *fdv) {
        rc = read_line(atoi(fdv), p, PASSPHRASE_MAX);
    } else {
        rc = read_tty(prompt, p, PASSPHRASE_MAX);
        if (rc == DBK_OK && confirm) {
            again = sodium_malloc(PASSPHRASE_MAX);
            if (again == NULL)
                rc = DBK_E_NOMEM;
            else if (read_tty("Again: ", again, PASSPHRASE_MAX) != DBK_OK ||
                     strcmp(again, p) != 0)
                rc = DBK_E_PASSPHRASE;
            sodium_free(again);
        }
    }
    if (rc != DBK_OK) {
        sodium_free(p);
        return rc;
    }
    *out = p;
    return DBK_OK;
}

void
dbk_passphrase_free(char *p)
{
    sodium_free(p); /* wipes */
}

/* ---- the keyring cache ---- */

static void
key_desc(const dbk_session *s, char *out, size_t cap)
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(&s->account, t);
    snprintf(out, cap, "daybook:%s", t);
}

static long
keyring_find(const dbk_session *s)
{
    char desc[64];
    key_desc(s, desc, sizeof desc);
    return syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", desc, 0);
}

void
dbk_session_cache_keys(dbk_session *s)
{
    unsigned char secrets[64];
    const char *v = getenv("DAYBOOK_UNLOCK_SECONDS");
    long seconds = v ? atol(v) : UNLOCK_SECONDS_DEFAULT, id;
    char desc[64];

    if (s->keys == NULL || seconds <= 0)
        return;
    key_desc(s, desc, sizeof desc);
    memcpy(secrets, s->keys->sign_seed, 32);
    memcpy(secrets + 32, s->keys->box_sk, 32);
    id = syscall(SYS_add_key, "user", desc, secrets, sizeof secrets, KEY_SPEC_USER_KEYRING);
    sodium_memzero(secrets, sizeof secrets);
    if (id > 0)
        syscall(SYS_keyctl, KEYCTL_SET_TIMEOUT, id, (unsigned)seconds);
}

void
dbk_session_lock(dbk_session *s)
{
    long id;
    while ((id = keyring_find(s)) > 0)
        syscall(SYS_keyctl, KEYCTL_INVALIDATE, id);
}

int
dbk_session_unlock(dbk_session *s)
{
    unsigned char bundle[DBK_BUNDLE_BYTES], secrets[64];
    size_t n;
    char *pass;
    long id;
    int rc;

    if (s->keys != NULL)
        return DBK_OK;
    if ((id = keyring_find(s)) > 0 &&
        syscall(SYS_keyctl, KEYCTL_READ, id, secrets, sizeof secrets) == (long)sizeof secrets) {
        s->keys = dbk_account_keys_from_secrets(secrets, secrets + 32);
        sodium_memzero(secrets, sizeof secrets);
        return s->keys ? DBK_OK : DBK_E_NOMEM;
    }
    if ((rc = dbk_local_get(s->L, "bundle", bundle, sizeof bundle, &n)) != DBK_OK)
        return rc == DBK_E_NOT_FOUND ? DBK_E_CORRUPT : rc;
    if ((rc = dbk_passphrase_read("Daybook passphrase: ", false, &pass)) != DBK_OK)
        return rc;
    rc = dbk_bundle_open(bundle, n, &s->account, pass, strlen(pass), &s->keys, NULL);
    dbk_passphrase_free(pass);
    if (rc == DBK_OK)
        dbk_session_cache_keys(s);
    return rc;
}

/* ---- network ---- */

/*
 * True if host (as CURLUPART_HOST gives it: an IPv6 literal keeps its brackets) is
 * a loopback address or exactly "localhost". The host is parsed, never compared by
 * prefix: "127.0.0.1.example.org" and "localhost.example.org" are names that DNS
 * resolves, and "localhost." is one too (a resolver may ask the network for it), so
 * all three are refused. A percent-encoded host is refused rather than decoded.
 */
static bool
host_is_loopback(const char *host)
{
    unsigned char a[16];
    char v6[64];
    size_t n = strlen(host);

    if (strcasecmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    if (n < 3 || n - 2 >= sizeof v6 || host[0] != '[' || host[n - 1] != ']')
        return false;
    memcpy(v6, host + 1, n - 2);
    v6[n - 2] = '\0';
    if (inet_pton(AF_INET6, v6, a) != 1)
        return false;
    return IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a) ||
           (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a) && a[12] == 127);
}

/*
 * A server URL is https://, or plain http:// to a loopback host (a server on the
 * same machine, as in the tests), or any http:// when DAYBOOK_ALLOW_HTTP=1. The
 * URL is parsed with libcurl's URL API, the same parser that will connect, so the
 * host checked is the host contacted: "http://127.0.0.1@example.org/" has
 * userinfo 127.0.0.1 and host example.org.
 */
int
dbk_net_check_url(const char *url)
{
    const char *allow = getenv("DAYBOOK_ALLOW_HTTP");
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int rc = DBK_E_INVALID;

    if (u == NULL)
        return DBK_E_NOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto out;
    if (strcmp(scheme, "https") == 0)
        rc = DBK_OK;
    else if (strcmp(scheme, "http") == 0 &&
             (host_is_loopback(host) || (allow && strcmp(allow, "1") == 0)))
        rc = DBK_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

struct buf {
    char *p;
    size_t len;
};

static size_t
on_data(char *ptr, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t add = size * n;
    char *np;
    if (b->len + add > 64u * 1024 * 1024)
        return 0; /* a cap on what a server can make us hold */
    np = realloc(b->p, b->len + add + 1);
    if (np == NULL)
        return 0;
    memcpy(np + b->len, ptr, add);
    b->p = np;
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

/*
 * libcurl reports success for an answer whose connection closed inside its header
 * block: a status line and then EOF read as a whole, empty 200. daybookd always ends
 * its headers, so an answer whose header block never ended was cut on the way. A
 * status line starts a new block (a 100 Continue has its own).
 */
static size_t
on_header(char *ptr, size_t size, size_t n, void *arg)
{
    bool *ended = arg;
    size_t len = size * n;
    if (len >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
        *ended = false;
    else if ((len == 2 && ptr[0] == '\r' && ptr[1] == '\n') || (len == 1 && ptr[0] == '\n'))
        *ended = true;
    return len;
}

static int
get_token(dbk_session *s, char *out, size_t cap)
{
    unsigned char sealed[crypto_box_SEALBYTES + 64], plain[64];
    size_t n;
    int rc;

    if (s->token_mem[0] != '\0') {
        if (strlen(s->token_mem) >= cap)
            return DBK_E_INVALID;
        memcpy(out, s->token_mem, strlen(s->token_mem) + 1);
        return DBK_OK;
    }
    if ((rc = dbk_session_unlock(s)) != DBK_OK)
        return rc;
    if (dbk_local_get(s->L, "token", sealed, sizeof sealed, &n) != DBK_OK ||
        n < crypto_box_SEALBYTES || n - crypto_box_SEALBYTES >= cap)
        return DBK_E_UNAUTHENTICATED;
    if (crypto_box_seal_open(plain, sealed, n, s->keys->box_pk, s->keys->box_sk) != 0)
        return DBK_E_CORRUPT;
    memcpy(out, plain, n - crypto_box_SEALBYTES);
    out[n - crypto_box_SEALBYTES] = '\0';
    sodium_memzero(plain, sizeof plain);
    return DBK_OK;
}

int
dbk_session_set_token(dbk_session *s, const char *token)
{
    unsigned char sealed[crypto_box_SEALBYTES + 64];
    size_t n = strlen(token);
    if (n > 64 || s->keys == NULL)
        return DBK_E_INVALID;
    crypto_box_seal(sealed, (const unsigned char *)token, n, s->keys->box_pk);
    return dbk_local_put(s->L, "token", sealed, crypto_box_SEALBYTES + n);
}

/*
 * How long one request to the server may take in all, connecting included. Requests
 * are small (a push is a few hundred KiB at most, and daybookd wants a request whole
 * within 15 s of its first byte), so one still open after a minute is stalled: the
 * command gives up and says so, and nothing leaves the outbox.
 * DAYBOOK_NET_TIMEOUT_SECONDS (1..3600) changes it, for a very slow link, or for tests
 * that stall the network on purpose.
 */
#define NET_TIMEOUT_SECONDS_DEFAULT 60

static long
net_timeout_ms(void)
{
    const char *v = getenv("DAYBOOK_NET_TIMEOUT_SECONDS");
    char *end = NULL;
    long sec = v != NULL && *v != '\0' ? strtol(v, &end, 10) : 0;
    if (end == NULL || *end != '\0' || sec < 1 || sec > 3600)
        sec = NET_TIMEOUT_SECONDS_DEFAULT;
    return sec * 1000;
}

int
dbk_net_call(dbk_session *s, const char *method, const char *path, json_t *body, bool with_token,
             long *status, json_t **out)
{
    char url[1024], auth[128], token[80];
    struct curl_slist *h = NULL;
    struct buf b = {NULL, 0};
    char *text = NULL;
    CURL *c;
    CURLcode cc;
    bool headers_ended = false;
    int rc = DBK_OK;

    *status = 0;
    *out = NULL;
    if (s->server[0] == '\0')
        return DBK_E_UNAVAILABLE;
    snprintf(url, sizeof url, "%s%s", s->server, path);
    if (with_token) {
        if ((rc = get_token(s, token, sizeof token)) != DBK_OK)
            return rc;
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        sodium_memzero(token, sizeof token);
        h = curl_slist_append(h, auth);
        sodium_memzero(auth, sizeof auth);
    }
    c = curl_easy_init();
    if (c == NULL) {
        curl_slist_free_all(h);
        return DBK_E_NOMEM;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, net_timeout_ms());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (getenv("DAYBOOK_CA_FILE") != NULL) /* a clinic's private CA (e.g. Caddy's internal) */
        curl_easy_setopt(c, CURLOPT_CAINFO, getenv("DAYBOOK_CA_FILE"));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &headers_ended);
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    cc = curl_easy_perform(c);
    if (cc != CURLE_OK || !headers_ended) {
        rc = DBK_E_UNAVAILABLE;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
        if (b.len > 0 && (*out = json_loadb(b.p, b.len, 0, NULL)) == NULL)
            rc = DBK_E_BAD_JSON;
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (text != NULL) {
        sodium_memzero(text, strlen(text));
        free(text);
    }
    if (b.p != NULL) {
        sodium_memzero(b.p, b.len);
        free(b.p);
    }
    return rc;
}

/* ---- stream keys ---- */

static int
owner_pk(dbk_session *s, const dbk_id *owner, unsigned char pk[32])
{
    char key[64], t[DBK_ID_TEXT_LEN + 1];
    size_t n;
    if (dbk_id_equal(owner, &s->account)) {
        memcpy(pk, s->keys->sign_pk, 32);
        return DBK_OK;
    }
    dbk_id_to_text(owner, t);
    snprintf(key, sizeof key, "sign_pk:%s", t);
    return dbk_local_get(s->L, key, pk, 32, &n);
}

int
dbk_session_stream_key(dbk_session *s, const dbk_id *stream, uint32_t epoch,
                       unsigned char key[32])
{
    dbk_local_stream st;
    unsigned char *g = NULL, opk[32];
    size_t len;
    dbk_grant_hdr h;
    char *consent = NULL;
    int rc;

    if (s->keycache != NULL)
        for (size_t i = 0; i < s->keycache->n; i++)
            if (s->keycache->v[i].epoch == epoch && dbk_id_equal(&s->keycache->v[i].stream, stream)) {
                memcpy(key, s->keycache->v[i].key, 32);
                return DBK_OK;
            }
    if ((rc = dbk_session_unlock(s)) != DBK_OK ||
        (rc = dbk_local_stream_get(s->L, stream, &st)) != DBK_OK ||
        (rc = owner_pk(s, &st.owner, opk)) != DBK_OK ||
        (rc = dbk_local_grant_get(s->L, stream, epoch, &g, &len)) != DBK_OK)
        return rc;
    dbk_grant_expect e = {&st.owner, opk, &s->account, s->keys->box_pk, s->keys->box_sk, 0};
    rc = dbk_grant_open(g, len, &e, &h, key, &consent);
    free(g);
    free(consent);
    if (rc == DBK_OK && s->keycache == NULL && (s->keycache = sodium_malloc(sizeof *s->keycache)))
        s->keycache->n = 0;
    if (rc == DBK_OK && s->keycache != NULL && s->keycache->n < KEY_CACHE_SLOTS) {
        size_t i = s->keycache->n++;
        s->keycache->v[i].stream = *stream;
        s->keycache->v[i].epoch = epoch;
        memcpy(s->keycache->v[i].key, key, 32);
    }
    return rc;
}
