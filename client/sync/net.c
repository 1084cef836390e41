/*
 * The transport: one JSON request to the server over libcurl, with the bearer
 * token (kept in the profile sealed to the account's own X25519 key), an overall
 * timeout, and plain http:// refused except to loopback. See transport.h and net.h.
 *
 * daybook does not link libcurl: its dependencies (a TLS library or two, Kerberos,
 * LDAP, SSH, HTTP/2 ...) are some 34 shared objects whose relocation was 90% of the
 * cost of starting any command. This file loads it with dlopen the first time a
 * command needs the server, so the commands a client uses offline never map it. (A
 * load started ahead on a thread of its own bought nothing measurable and cost CPU:
 * docs/DESIGN.md, The client's network library.)
 *
 * One curl easy handle serves every request of the process (process_handle), reset
 * after each: its connection cache keeps the server's connection, so a command's
 * requests share one TCP connection and one TLS handshake. Every option is set again
 * for each request and cleared after it, the token header included. libcurl allocates
 * through common/wipe.c's wiping free and realloc (curl_global_init_mem), so what it held
 * (the token's header line, requests, answers) is wiped as it frees it; dbk_net_close,
 * called by main once the command returned, frees the handle and ends libcurl.
 */
#include "net.h"
#include "transport.h"

#include "unlock.h"

#include "dbk/error.h"
#include "dbk/fastjson.h"
#include "dbk/wipe.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CA_FILE "ca.pem"      /* in the profile directory */
#define CA_MAX (1024 * 1024) /* a CA bundle, not a disk image */

/* ---- libcurl, loaded on first use ---- */

/* The SONAME of libcurl 7.16 and later, the one Debian's libcurl4 ships. */
#define CURL_SONAME "libcurl.so.4"
#define CURL_PACKAGE "libcurl4"

/*
 * Every libcurl function this file calls, each typed from curl's own prototype, so
 * the compiler checks the calls as it would the linked ones (the type checks that
 * <curl/curl.h> adds to curl_easy_setopt as a macro do not reach through a pointer:
 * long options get long values, as CURLOPT_* says).
 */
/* clang-format off */
#define CURL_FUNCTIONS(X)                                                                          \
    X(easy_init) X(easy_setopt) X(easy_perform) X(easy_getinfo) X(easy_reset)                      \
    X(slist_append) X(slist_free_all)                                                              \
    X(url) X(url_set) X(url_get) X(url_cleanup) X(free) X(version_info)                           \
    X(global_init_mem) X(global_cleanup) X(easy_cleanup)
/* clang-format on */
#define CURL_POINTER(name) __typeof__(curl_##name) *name;
static struct {
    CURL_FUNCTIONS(CURL_POINTER)
} curl;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ready;      /* every pointer in curl is set */
static char curl_error[400]; /* else, after a try, why not */
static bool curl_start_failed; /* loaded, but its global init failed (curl_error) */

/* The one easy handle of the process (process_handle), and whether dbk_net_close ended
 * libcurl: then no request is made. Main thread only. */
static CURL *the_handle;
static bool curl_closed;

/* The libcurl CURLOPT_PROTOCOLS_STR came with: an older one ignores the option it does
 * not know (CURLE_UNKNOWN_OPTION), and a request would go out by any protocol it has. */
#define CURL_NEEDED "7.85"

/* Set (once, under curl_refused_lock) when libcurl refused an option this file sets:
 * from then on no request is made in this process, and dbk_net_missing says why. */
static atomic_bool curl_refused;
static pthread_mutex_t curl_refused_lock = PTHREAD_MUTEX_INITIALIZER;
static char curl_refused_why[400];

/* ---- libcurl's memory, wiped when it frees it ---- */

/*
 * libcurl keeps what a request sends and receives in its own heap blocks: the header
 * list (the bearer token's line), the request it builds from it, its receive buffer, a
 * connection's buffers. It frees them as any library does, leaving the bytes in freed
 * heap until reused. curl_global_init_mem gives it common/wipe.c's free and realloc
 * instead: every block it frees, or moves by a realloc, is wiped first. malloc, calloc
 * and strdup are the C library's own, so every block those two see is glibc's. The TLS
 * library's buffers are not libcurl's and are not covered.
 */

/* DAYBOOK_TEST_NET_STOP, for test_fault_network's heap tests alone: "stop" stops the
 * process (SIGSTOP) after each request, once it freed what it used, and once more when
 * dbk_net_close has ended libcurl, so that the test can read its heap; "stop-unwiped"
 * does the same with libcurl and jansson on the C library's plain free and realloc
 * (what the wiping guards against). Read only in builds with the tests
 * (DBK_TEST_HOOKS, CMakeLists.txt); a release build ignores it. */
static const char *
test_net_stop(void)
{
#ifdef DBK_TEST_HOOKS
    const char *v = getenv("DAYBOOK_TEST_NET_STOP");
    return v != NULL ? v : "";
#else
    return "";
#endif
}

bool
dbk_net_test_unwiped(void)
{
    return strcmp(test_net_stop(), "stop-unwiped") == 0;
}

static void
test_net_stop_here(void)
{
    if (strncmp(test_net_stop(), "stop", 4) == 0)
        raise(SIGSTOP);
}

/* Loads libcurl once for the process; the handle is never closed, so the pointers
 * stay good until exit and nothing is loaded twice. RTLD_LAZY: the functions of
 * libcurl and of its dependencies not built BIND_NOW are bound when first called, not
 * all at load (most of its 30 libraries are never called: LDAP, SSH, RTMP, Kerberos);
 * RTLD_NOW bound them all, 3.0M of a review's 51.5M instructions. The 16 functions
 * above are still looked up here, each checked. */
static void
curl_load(void)
{
    void *h = dlopen(CURL_SONAME, RTLD_LAZY | RTLD_LOCAL);
    const char *missing = NULL;

    if (h == NULL) {
        const char *why = dlerror();
        snprintf(curl_error, sizeof curl_error, "%s", why != NULL ? why : CURL_SONAME);
        return;
    }
#define CURL_RESOLVE(name)                                                                         \
    if (missing == NULL && (*(void **)&curl.name = dlsym(h, "curl_" #name)) == NULL)               \
        missing = "curl_" #name;
    CURL_FUNCTIONS(CURL_RESOLVE)
#undef CURL_RESOLVE
    if (missing != NULL) {
        snprintf(curl_error, sizeof curl_error, "%s has no %s (too old)", CURL_SONAME, missing);
        dlclose(h);
        return;
    }
    /* The first libcurl call of the process, made once (curl_once): libcurl's own
     * global init is not thread-safe. */
    bool plain = dbk_net_test_unwiped();
    CURLcode cc = curl.global_init_mem(CURL_GLOBAL_DEFAULT, malloc, plain ? free : dbk_wiping_free,
                                       plain ? realloc : dbk_wiping_realloc, strdup, calloc);
    if (cc != CURLE_OK) {
        curl_start_failed = true;
        snprintf(curl_error, sizeof curl_error, "curl_global_init failed (error %d)", (int)cc);
        return; /* never closed: libcurl's initialisers may have registered handlers */
    }
    curl_ready = true;
}

/* libcurl, loaded; false when it cannot be (curl_error says why). */
static bool
curl_get(void)
{
    pthread_once(&curl_once, curl_load);
    return curl_ready && !curl_closed;
}

void
dbk_net_close(void)
{
    if (!curl_closed && curl_ready) {
        if (the_handle != NULL)
            curl.easy_cleanup(the_handle); /* its connection, its buffers: wiped */
        the_handle = NULL;
        curl.global_cleanup();
    }
    curl_closed = true;
    test_net_stop_here();
}

const char *
dbk_net_missing(void)
{
    static char msg[sizeof curl_error + 300];
    if (atomic_load(&curl_refused)) {
        pthread_mutex_lock(&curl_refused_lock);
        snprintf(msg, sizeof msg,
                 "cannot reach the server: %s. Nothing was sent. daybook needs libcurl " CURL_NEEDED
                 " or later (Debian 12 and later: apt install %s). Nothing stored on this device "
                 "is lost: entries wait in the outbox, and commands that work offline work.",
                 curl_refused_why, CURL_PACKAGE);
        pthread_mutex_unlock(&curl_refused_lock);
        return msg;
    }
    if (curl_ready || curl_error[0] == '\0') /* loaded, or never asked for */
        return NULL;
    if (curl_start_failed) /* installed, but it could not start (memory, TLS library) */
        snprintf(msg, sizeof msg,
                 "cannot reach the server: libcurl, which daybook uses for it, could not be "
                 "started (%s). Try again; if it persists, reinstall it (Debian: apt install "
                 "--reinstall %s). Nothing stored on this device is lost: entries wait in the "
                 "outbox, and commands that work offline work.",
                 curl_error, CURL_PACKAGE);
    else
        snprintf(
            msg, sizeof msg,
            "cannot reach the server: libcurl, which daybook uses for it, cannot be loaded "
            "(%s). Install it (Debian: apt install %s). Nothing stored on this device is "
            "lost: entries wait in the outbox, and commands that work offline work without it.",
            curl_error, CURL_PACKAGE);
    return msg;
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
 * userinfo 127.0.0.1 and host example.org. Without libcurl no URL passes:
 * DBK_E_UNAVAILABLE, and dbk_net_missing says why.
 */
int
dbk_net_check_url(const char *url)
{
    const char *allow = getenv("DAYBOOK_ALLOW_HTTP");
    CURLU *u;
    char *scheme = NULL, *host = NULL;
    int rc = DBK_E_INVALID;

    if (!curl_get())
        return DBK_E_UNAVAILABLE;
    if ((u = curl.url()) == NULL)
        return DBK_E_NOMEM;
    if (curl.url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl.url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto out;
    if (strcmp(scheme, "https") == 0)
        rc = DBK_OK;
    else if (strcmp(scheme, "http") == 0 &&
             (host_is_loopback(host) || (allow && strcmp(allow, "1") == 0)))
        rc = DBK_OK;
out:
    curl.free(scheme);
    curl.free(host);
    curl.url_cleanup(u);
    return rc;
}

/* A cap on what a server can make us hold. */
#define ANSWER_MAX ((size_t)64 * 1024 * 1024)

struct buf {
    char *p;
    size_t len, cap; /* cap: bytes allocated at p */
};

/*
 * An answer's bytes as libcurl hands them over (16 KiB at a time). The buffer grows by
 * doubling: dbk_wiping_realloc always copies (so that no copy is left unwiped), and growing
 * it by each piece copied the answer whole for every piece, work in its size squared (a
 * 4 MiB pull page 0.46 s of CPU, a 64 MiB answer 97 s; 1.2 million page faults for 12
 * MiB: test_review_safety test_large_answer_read_in_linear_work).
 */
static size_t
on_data(char *ptr, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t add = size * n, need;
    if (add > ANSWER_MAX - b->len)
        return 0;
    need = b->len + add + 1;
    if (need > b->cap) {
        size_t cap = b->cap < ANSWER_MAX / 2 ? 2 * b->cap : ANSWER_MAX + 1;
        cap = cap < need ? need : cap;
        char *np = dbk_wiping_realloc(b->p, cap); /* the answer's bytes: no copy left */
        if (np == NULL)
            return 0;
        b->p = np, b->cap = cap;
    }
    memcpy(b->p + b->len, ptr, add);
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
    if ((rc = dbk_unlock(s)) != DBK_OK)
        return rc;
    if (dbk_local_get(s->L, "token", sealed, sizeof sealed, &n) != DBK_OK ||
        n < crypto_box_SEALBYTES || n - crypto_box_SEALBYTES >= cap)
        return DBK_E_UNAUTHENTICATED;
    if (crypto_box_seal_open(plain, sealed, n, s->keys->box_pk, s->keys->box_sk) != 0)
        return DBK_E_CORRUPT;
    memcpy(out, plain, n - crypto_box_SEALBYTES);
    out[n - crypto_box_SEALBYTES] = '\0';
    sodium_memzero(plain, sizeof plain);
    /* Kept for the session's next request (wiped on close): a review makes two, and
     * each opening is a sealed box, 0.37M instructions. */
    if (strlen(out) < sizeof s->token_mem)
        memcpy(s->token_mem, out, strlen(out) + 1);
    return DBK_OK;
}

int
dbk_net_set_token(dbk_session *s, const char *token)
{
    unsigned char sealed[crypto_box_SEALBYTES + 64];
    size_t n = strlen(token);
    if (n > 64 || s->keys == NULL)
        return DBK_E_INVALID;
    if (token != s->token_mem) /* the session's requests use the new one from now on */
        snprintf(s->token_mem, sizeof s->token_mem, "%s", token);
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

/*
 * The result cc of setting option (named name) on a handle: true when it was set.
 * Otherwise nothing may be sent with that handle, nor with any later one in this
 * process: the first refusal is kept for dbk_net_missing, which names the libcurl
 * needed. CURLOPT_PROTOCOLS_STR refused is the restriction to http and https not
 * applied (a libcurl older than 7.85 does not know the option).
 */
static bool
setopt_ok(CURLcode cc, CURLoption option, const char *name)
{
    const curl_version_info_data *v;
    if (cc == CURLE_OK)
        return true;
    pthread_mutex_lock(&curl_refused_lock);
    if (!atomic_load(&curl_refused)) {
        v = curl.version_info(CURLVERSION_NOW);
        snprintf(curl_refused_why, sizeof curl_refused_why,
                 "the libcurl on this machine (%s %s) refused %s (error %d)%s", CURL_SONAME,
                 v != NULL && v->version != NULL ? v->version : "of unknown version", name, (int)cc,
                 option == CURLOPT_PROTOCOLS_STR ? ", so it cannot be kept to http and https" : "");
        atomic_store(&curl_refused, true);
    }
    pthread_mutex_unlock(&curl_refused_lock);
    return false;
}

/* Sets option on c, and says whether it was set (setopt_ok). */
#define SETOPT(c, option, value)                                                                   \
    setopt_ok(curl.easy_setopt((c), (option), (value)), (option), #option)

/* How c may reach the server: within its time limits, over http(s) only, trusting the
 * clinic's own CA where one is set. False when libcurl refused any of it (setopt_ok):
 * then nothing may be sent with c. */
static bool
connection_limits(CURL *c, const dbk_session *s)
{
    /* A command that only freshens what it shows (review, clients) bounds its
     * requests itself, so an unreachable server delays it by seconds, not a minute. */
    long limit = net_timeout_ms();
    if (s->net_timeout_s > 0 && s->net_timeout_s * 1000L < limit)
        limit = s->net_timeout_s * 1000L;
    if (!SETOPT(c, CURLOPT_CONNECTTIMEOUT_MS, limit < 5000L ? limit : 5000L) ||
        !SETOPT(c, CURLOPT_TIMEOUT_MS, limit) || !SETOPT(c, CURLOPT_NOSIGNAL, 1L) ||
        !SETOPT(c, CURLOPT_PROTOCOLS_STR, "http,https"))
        return false;
    /* A clinic's private CA (Caddy's internal one, its own): DAYBOOK_CA_FILE, else the
     * one `enroll --cacert` or `login --cacert` kept in the profile. libcurl copies the
     * path. */
    char ca[4200];
    const char *ca_env = getenv("DAYBOOK_CA_FILE");
    if (ca_env != NULL && *ca_env != '\0')
        return SETOPT(c, CURLOPT_CAINFO, ca_env);
    if (snprintf(ca, sizeof ca, "%s/" CA_FILE, s->dir) < (int)sizeof ca && access(ca, R_OK) == 0)
        return SETOPT(c, CURLOPT_CAINFO, ca);
    return true;
}

/* An answer's JSON: the narrow reader when it takes the whole text (a cold sync's pull
 * answers, some 22 MB of envelopes, were 15% of its CPU in jansson's byte-at-a-time
 * reader), else jansson, which accepts or refuses what the narrow one does not know;
 * either way the same tree (fastjson.h), checked field by field by its reader. */
static json_t *
read_answer(const char *text, size_t len)
{
    json_t *j = dbk_fj_load(text, len);
    return j != NULL ? j : json_loadb(text, len, 0, NULL);
}

/*
 * The one easy handle of this process, made on the first request. Its connection cache
 * keeps the server's connection open between requests, so the requests of a command
 * (a review's pull and caseload, a sync's rounds) share one TCP connection and one TLS
 * handshake, where a handle per request made one of each per request. Every request
 * sets all its options again (dbk_net_call) and resets them all after it, so nothing
 * of one request, the bearer token least of all, reaches the next. Main thread only,
 * as every request is; freed by dbk_net_close.
 */
static CURL *
process_handle(void)
{
    if (the_handle == NULL)
        the_handle = curl.easy_init();
    else
        curl.easy_reset(the_handle); /* already reset after the last request; cheap */
    return the_handle;
}

/* Whether a request may ride a reused connection, and so be sent twice (above). */
static bool
resend_safe(const char *method, const char *path)
{
    return strcmp(method, "GET") == 0 || strcmp(path, "/v1/sync") == 0;
}

int
dbk_net_call(dbk_session *s, const char *method, const char *path, json_t *body, bool with_token,
             long *status, json_t **out)
{
    char url[1024], auth[128], token[80];
    struct curl_slist *h = NULL;
    struct buf b = {NULL, 0, 0};
    char *text = NULL;
    CURL *c;
    CURLcode cc;
    bool headers_ended = false;
    int rc = DBK_OK;

    *status = 0;
    *out = NULL;
    if (s->server[0] == '\0' || !curl_get() || atomic_load(&curl_refused))
        return DBK_E_UNAVAILABLE;
    snprintf(url, sizeof url, "%s%s", s->server, path);
    if (with_token) {
        if ((rc = get_token(s, token, sizeof token)) != DBK_OK)
            return rc;
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        sodium_memzero(token, sizeof token);
        h = curl.slist_append(h, auth);
        sodium_memzero(auth, sizeof auth);
    }
    if ((c = process_handle()) == NULL) {
        curl.slist_free_all(h);
        return DBK_E_NOMEM;
    }
    /* Every option set, or nothing sent: a request without its limits (a protocol
     * restriction, a time limit, the clinic's CA) is never made. */
    bool set = SETOPT(c, CURLOPT_URL, url) && SETOPT(c, CURLOPT_CUSTOMREQUEST, method) &&
               connection_limits(c, s) && SETOPT(c, CURLOPT_WRITEFUNCTION, on_data) &&
               SETOPT(c, CURLOPT_WRITEDATA, &b) && SETOPT(c, CURLOPT_HEADERFUNCTION, on_header) &&
               SETOPT(c, CURLOPT_HEADERDATA, &headers_ended);
    if (set && body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        h = curl.slist_append(h, "Content-Type: application/json");
        set = text != NULL && SETOPT(c, CURLOPT_POSTFIELDS, text) &&
              SETOPT(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
    }
    /* libcurl sends a request again, once, on a new connection when a reused one dies
     * before any byte of the answer. Harmless for a read and for /v1/sync (a push of
     * records already stored is answered as stored), not for the rest (a revoke, a
     * rotation, an invite, an enrollment): their cut must be seen, never resent
     * unseen, so they go on a connection of their own. */
    if (set && !resend_safe(method, path))
        set = SETOPT(c, CURLOPT_FRESH_CONNECT, 1L);
    set = set && SETOPT(c, CURLOPT_HTTPHEADER, h);
    cc = set ? curl.easy_perform(c) : CURLE_FAILED_INIT;
    if (!set) {
        rc = atomic_load(&curl_refused) ? DBK_E_UNAVAILABLE : DBK_E_NOMEM;
    } else if (cc != CURLE_OK || !headers_ended) {
        rc = DBK_E_UNAVAILABLE;
    } else {
        if (curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, status) != CURLE_OK)
            rc = DBK_E_UNAVAILABLE;
        else if (b.len > 0 && (*out = read_answer(b.p, b.len)) == NULL)
            rc = DBK_E_BAD_JSON;
    }
    /* Back to libcurl's defaults, its connection kept: no option of this request (the
     * token header, the body, buffers on this stack) reaches the next, which sets its
     * own. libcurl's own buffers, pooled with the handle, are wiped when it frees them
     * (dbk_wiping_free), at the latest in dbk_net_close. */
    curl.easy_reset(c);
    curl.slist_free_all(h);
    dbk_wiping_free(text);
    dbk_wiping_free(b.p); /* the whole block, its doubled capacity too */
    test_net_stop_here();
    return rc;
}

int
dbk_net_set_cacert(dbk_session *s, const char *path)
{
    char dst[4200], tmp[4300], *pem = NULL;
    FILE *in = fopen(path, "r");
    size_t n = 0;
    int fd = -1, rc = DBK_E_INVALID;

    if (in == NULL)
        return DBK_E_NOT_FOUND;
    if ((pem = malloc(CA_MAX + 1)) != NULL)
        n = fread(pem, 1, CA_MAX + 1, in);
    fclose(in);
    if (pem == NULL)
        return DBK_E_NOMEM;
    pem[n <= CA_MAX ? n : CA_MAX] = '\0';
    if (n > CA_MAX || strstr(pem, "-----BEGIN CERTIFICATE-----") == NULL)
        goto out; /* not a PEM certificate: say so now, not at the first sync */
    if (snprintf(dst, sizeof dst, "%s/" CA_FILE, s->dir) >= (int)sizeof dst ||
        snprintf(tmp, sizeof tmp, "%s.new", dst) >= (int)sizeof tmp)
        goto out;
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, pem, n) != (ssize_t)n || fsync(fd) != 0) {
        rc = errno == ENOSPC ? DBK_E_STORAGE_FULL : DBK_E_IO;
        goto out;
    }
    close(fd);
    fd = -1;
    rc = rename(tmp, dst) == 0 ? DBK_OK : DBK_E_IO;
out:
    if (fd >= 0)
        close(fd);
    if (rc != DBK_OK && fd >= 0)
        unlink(tmp);
    free(pem);
    return rc;
}

int
dbk_net_answer_err(const json_t *resp)
{
    const char *code = json_string_value(json_object_get(json_object_get(resp, "error"), "code"));
    return code ? dbk_err_from_code(code) : DBK_E_UNAVAILABLE;
}

int
dbk_net_call_ok(dbk_session *s, const char *method, const char *path, json_t *body, json_t **out)
{
    long status;
    int rc = dbk_net_call(s, method, path, body, true, &status, out);
    if (rc == DBK_OK && (status < 200 || status > 299)) {
        rc = dbk_net_answer_err(*out);
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
