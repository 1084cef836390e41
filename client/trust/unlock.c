/*
 * Unlocking the account keys: the passphrase (from DAYBOOK_PASSPHRASE_FILE,
 * DAYBOOK_PASSPHRASE_FD or the terminal, read into sodium_malloc memory), the key
 * bundle opened with it, and the kernel keyring cache that spares the passphrase
 * for DAYBOOK_UNLOCK_SECONDS. The only terminal input below commands/: any layer
 * may need the keys, and the passphrase must never pass through a command's buffers.
 * See unlock.h.
 */
#include "unlock.h"

#include "dbk/bytes.h"
#include "dbk/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/keyctl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#define PASSPHRASE_MAX 1024
#define UNLOCK_SECONDS_DEFAULT 900

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

/* The one exception to "nothing below commands/ talks to the terminal": the
 * passphrase prompt, written to and read from /dev/tty (never stdout or stderr), so
 * that dbk_unlock can ask whichever command needs the keys at the moment it needs
 * them. Moving it up would mean a callback from trust/ into cli/; see issue 21. */
static int
read_tty(const char *prompt, char *buf, size_t cap)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    struct termios old, quiet;
    int rc;

    if (fd < 0)
        return DBK_E_PASSPHRASE;
    /* Echo off before the prompt shows: what is typed once it shows is neither echoed
     * nor thrown away by the flush (typed before, it was both, and the read waited). */
    if (tcgetattr(fd, &old) != 0) {
        close(fd);
        return DBK_E_PASSPHRASE;
    }
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(fd, TCSAFLUSH, &quiet);
    if (write(fd, prompt, strlen(prompt)) < 0) {
        tcsetattr(fd, TCSAFLUSH, &old);
        close(fd);
        return DBK_E_PASSPHRASE;
    }
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

/* The two entries kept for an account: its keys, and its own streams' keys (below). */
#define KEYS_ENTRY "daybook"
#define STREAMS_ENTRY "daybook-streams"

static void
key_desc(const dbk_id *account, const char *entry, char *out, size_t cap)
{
    char t[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(account, t);
    snprintf(out, cap, "%s:%s", entry, t);
}

static long
keyring_find(const dbk_id *account, const char *entry)
{
    char desc[64];
    key_desc(account, entry, desc, sizeof desc);
    return syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", desc, 0);
}

/*
 * Who can read the cache: the keys sit in the user keyring of this uid, so any process
 * running as the same user (and root) can read them while they are kept, with no
 * passphrase; another user's processes cannot. DAYBOOK_UNLOCK_SECONDS=0 (or the global
 * option --no-key-cache, which sets it) turns the cache off: the keys are neither kept
 * nor taken from it, and what an earlier command kept is forgotten.
 */
static long
cache_seconds(void)
{
    const char *v = getenv("DAYBOOK_UNLOCK_SECONDS");
    return v ? atol(v) : UNLOCK_SECONDS_DEFAULT;
}

/*
 * What the keyring keeps: the signing secret key (its seed and public key) and the box
 * key pair, 128 bytes, so that a command takes the keys as they are instead of deriving
 * both public keys again (dbk_account_keys_from_pairs: a tenth of a `daybook craving`,
 * issue 20), then a check of them: BLAKE2b keyed with the account id. A cache of the
 * two secrets alone (64 bytes, kept by an older build) is still read, its public keys
 * derived. An entry whose check fails (damaged, laid out by another build, another
 * account's) is never used: keys whose public halves are not their secrets' would sign
 * with the seed's nonce under another key (one message signed both ways gives the
 * signing key away to whoever sees the two), check this account's own records against
 * the wrong key, show a wrong safety number and seal notes and the token to a box key
 * nobody holds. What writes this uid's keyring with a good check can read the secrets
 * anyway: the check is against damage, not against this uid.
 */
#define CACHE_KEYS_BYTES 128
#define CACHE_BYTES (CACHE_KEYS_BYTES + 32)
#define CACHE_SECRETS_BYTES 64

/* The check of the cache's keys c (CACHE_KEYS_BYTES) into tag. */
static void
cache_check(const dbk_id *account, const unsigned char *c, unsigned char tag[32])
{
    crypto_generichash(tag, 32, c, CACHE_KEYS_BYTES, account->b, DBK_ID_BYTES);
}

void
dbk_unlock_cache(dbk_session *s)
{
    unsigned char c[CACHE_BYTES];
    long seconds = cache_seconds(), id;
    char desc[64];

    if (s->keys == NULL || seconds <= 0)
        return;
    key_desc(&s->account, KEYS_ENTRY, desc, sizeof desc);
    memcpy(c, s->keys->sign_sk, 64);
    memcpy(c + 64, s->keys->box_sk, 32);
    memcpy(c + 96, s->keys->box_pk, 32);
    cache_check(&s->account, c, c + CACHE_KEYS_BYTES);
    id = syscall(SYS_add_key, "user", desc, c, sizeof c, KEY_SPEC_USER_KEYRING);
    sodium_memzero(c, sizeof c);
    if (id > 0)
        syscall(SYS_keyctl, KEYCTL_SET_TIMEOUT, id, (unsigned)seconds);
}

/* The keys from the keyring entry id into s->keys: DBK_OK, DBK_E_NOT_FOUND (gone, of
 * neither size, or failing its check: then forgotten) or DBK_E_NOMEM. */
static int
keys_from_cache(dbk_session *s, long id)
{
    unsigned char c[CACHE_BYTES + 1], tag[32];
    long n = syscall(SYS_keyctl, KEYCTL_READ, id, c, sizeof c);
    bool ok = false;

    if (n == CACHE_BYTES) {
        cache_check(&s->account, c, tag);
        ok = sodium_memcmp(tag, c + CACHE_KEYS_BYTES, sizeof tag) == 0;
        if (ok)
            s->keys = dbk_account_keys_from_pairs(c, c + 64, c + 96);
    } else if (n == CACHE_SECRETS_BYTES) {
        ok = true;
        s->keys = dbk_account_keys_from_secrets(c, c + 32);
    }
    sodium_memzero(c, sizeof c);
    sodium_memzero(tag, sizeof tag);
    if (!ok) {
        if (n > 0) /* not ours to use: the passphrase unlocks and keeps the keys anew */
            syscall(SYS_keyctl, KEYCTL_INVALIDATE, id);
        return DBK_E_NOT_FOUND;
    }
    return s->keys ? DBK_OK : DBK_E_NOMEM;
}

/* ---- the keys of the account's own streams, kept beside its keys ---- */

/*
 * Opening a stream's key from its grant costs an Ed25519 verify and a sealed-box open
 * (X25519): 1.0M instructions, a fifth of a `daybook craving` (issue 20), and every
 * command that writes an entry opens its own stream's grant. The keys of the account's
 * own streams, once opened from a self-grant whose signature checked against its own
 * key (trust/stream_key.c), are kept in a second keyring entry beside the account keys,
 * as long and under the same switch (T10). Each is kept with the hash of the very
 * grant it was opened from and taken only while the profile asking holds those bytes
 * for that stream and epoch: the entry is the account's, not the profile's, and two
 * profiles of one account (a second device on this uid, a profile restored from a
 * backup that then rotated again, two devices that rotated at the same epoch) can
 * hold different self-grants, so different keys, for one (stream, epoch). Layout,
 * SKC_SLOTS items then the tag:
 *
 *   offset  size  meaning
 *   0       16    stream id
 *   16      4     epoch, big-endian (0: an empty slot)
 *   20      32    BLAKE2b-256 of the self-grant's bytes the key was opened from
 *   52      32    the stream key
 *
 * The tag is BLAKE2b-256 keyed with the account's secret box key over SKC_LABEL, the
 * account id and the items: only a holder of that secret, the one who can open the
 * self-grant anyway, makes an entry that passes, so a key taken from it is still the
 * one the grant the profile holds gives. An entry failing it (damaged, another build's,
 * of another size, another account's) is forgotten and the grant opened again.
 */
#define SKC_SLOTS 8
#define SKC_ITEM 84
#define SKC_BYTES (SKC_SLOTS * SKC_ITEM + 32)
#define SKC_LABEL "daybook/v2/stream-key-cache"

static void
skc_tag(const dbk_session *s, const unsigned char *items, unsigned char tag[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, s->keys->box_sk, 32, 32);
    crypto_generichash_update(&st, (const unsigned char *)SKC_LABEL, sizeof SKC_LABEL);
    crypto_generichash_update(&st, s->account.b, DBK_ID_BYTES);
    crypto_generichash_update(&st, items, SKC_SLOTS * SKC_ITEM);
    crypto_generichash_final(&st, tag, 32);
    sodium_memzero(&st, sizeof st);
}

/* The kept entry into c (SKC_BYTES, zeroed when there is none or it fails its tag,
 * which is then forgotten); its keyring id, or 0. */
static long
skc_read(dbk_session *s, unsigned char *c)
{
    unsigned char tag[32];
    long id = keyring_find(&s->account, STREAMS_ENTRY), n = 0;
    bool ok = false;

    if (id > 0 && (n = syscall(SYS_keyctl, KEYCTL_READ, id, c, SKC_BYTES)) == SKC_BYTES) {
        skc_tag(s, c, tag);
        ok = sodium_memcmp(tag, c + SKC_SLOTS * SKC_ITEM, sizeof tag) == 0;
    }
    if (!ok) {
        sodium_memzero(c, SKC_BYTES);
        if (id > 0)
            syscall(SYS_keyctl, KEYCTL_INVALIDATE, id);
        id = 0;
    }
    return id;
}

/* stream, epoch and grant hash as an item's first 52 bytes. */
static void
skc_item_head(unsigned char *it, const dbk_id *stream, uint32_t epoch,
              const unsigned char grant_hash[32])
{
    memcpy(it, stream->b, DBK_ID_BYTES);
    dbk_put_u32(it + 16, epoch);
    memcpy(it + 20, grant_hash, 32);
}

bool
dbk_unlock_kept_stream_key(dbk_session *s, const dbk_id *stream, uint32_t epoch,
                           const unsigned char grant_hash[32], unsigned char key[32])
{
    unsigned char *c, want[52];
    bool found = false;

    if (s->keys == NULL || cache_seconds() <= 0 || epoch == 0 ||
        (c = sodium_malloc(SKC_BYTES)) == NULL)
        return false;
    skc_item_head(want, stream, epoch, grant_hash);
    if (skc_read(s, c) > 0)
        for (size_t i = 0; i < SKC_SLOTS && !found; i++)
            if (sodium_memcmp(c + i * SKC_ITEM, want, sizeof want) == 0) {
                memcpy(key, c + i * SKC_ITEM + 52, 32);
                found = true;
            }
    sodium_free(c); /* wipes */
    return found;
}

/*
 * The seconds the keyring entry id has left, rounded down, from /proc/keys (the kernel
 * tells an entry's expiry nowhere else: "%lus" under a minute, then whole minutes,
 * hours, days, weeks, "perm" for none); 0 when expired, gone or not told.
 */
static long
keyring_seconds_left(long id)
{
    static const struct {
        char unit;
        long seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
    char line[256], timeout[16];
    unsigned long serial;
    long left = 0;
    FILE *f;

    if (id <= 0 || (f = fopen("/proc/keys", "re")) == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "%lx %*s %*d %15s", &serial, timeout) != 2 || (long)serial != id)
            continue;
        char *end;
        long n = strtol(timeout, &end, 10);
        if (strcmp(timeout, "perm") == 0)
            left = LONG_MAX;
        for (size_t i = 0; i < sizeof units / sizeof units[0] && end != timeout; i++)
            if (end[0] == units[i].unit && end[1] == '\0' && n > 0)
                left = n * units[i].seconds;
        break;
    }
    fclose(f);
    return left;
}

void
dbk_unlock_keep_stream_key(dbk_session *s, const dbk_id *stream, uint32_t epoch,
                           const unsigned char grant_hash[32], const unsigned char key[32])
{
    long seconds = cache_seconds(), left, id;
    unsigned char *c, *old;
    char desc[64];
    size_t n = 0;

    /* No longer than the account keys' own entry is left (T10, "as long"): kept past
     * it, the stream keys would stay readable after the keys they are kept beside.
     * Where that cannot be told (no /proc/keys), nothing is kept: the grant is opened
     * again by the next command, as with the cache off. */
    if (s->keys == NULL || seconds <= 0 || epoch == 0)
        return;
    if ((left = keyring_seconds_left(keyring_find(&s->account, KEYS_ENTRY))) < seconds)
        seconds = left;
    if (seconds <= 0 || (c = sodium_malloc(2 * SKC_BYTES)) == NULL)
        return;
    old = c + SKC_BYTES;
    (void)skc_read(s, old);
    /* The newest first, then the others kept (another grant of the same stream and
     * epoch too: another profile's), the oldest falling off past SKC_SLOTS. */
    memset(c, 0, SKC_BYTES);
    skc_item_head(c, stream, epoch, grant_hash);
    memcpy(c + 52, key, 32);
    for (size_t i = 0; i < SKC_SLOTS && n + 1 < SKC_SLOTS; i++) {
        const unsigned char *it = old + i * SKC_ITEM;
        if (dbk_get_u32(it + 16) != 0 && memcmp(it, c, 52) != 0) /* epoch 0: empty */
            memcpy(c + ++n * SKC_ITEM, it, SKC_ITEM);
    }
    skc_tag(s, c, c + SKC_SLOTS * SKC_ITEM);
    key_desc(&s->account, STREAMS_ENTRY, desc, sizeof desc);
    id = syscall(SYS_add_key, "user", desc, c, (size_t)SKC_BYTES, KEY_SPEC_USER_KEYRING);
    sodium_free(c); /* wipes */
    if (id > 0)
        syscall(SYS_keyctl, KEYCTL_SET_TIMEOUT, id, (unsigned)seconds);
}

/* ---- the craving spool's key ---- */

/*
 * The key cravings are spooled under (book/spool.h): BLAKE2b-256 keyed with the
 * account's secret box key over SPOOL_LABEL and the account id. Only a holder of that
 * secret makes or opens a spooled craving, as only it opens a draft sealed to its
 * public key; it is derived, never stored: from the keyring's entry by a craving that
 * does not open the profile, from the unlocked keys by the fold.
 */
#define SPOOL_LABEL "daybook/v1/craving-spool"

static void
spool_key(const unsigned char box_sk[32], const dbk_id *account, unsigned char key[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, box_sk, 32, 32);
    crypto_generichash_update(&st, (const unsigned char *)SPOOL_LABEL, sizeof SPOOL_LABEL);
    crypto_generichash_update(&st, account->b, DBK_ID_BYTES);
    crypto_generichash_final(&st, key, 32);
    sodium_memzero(&st, sizeof st);
}

int
dbk_unlock_spool_key(const dbk_id *account, unsigned char key[32])
{
    unsigned char c[CACHE_BYTES + 1], tag[32];
    long id, n = 0;
    int rc = DBK_E_NOT_FOUND;

    if (cache_seconds() > 0 && (id = keyring_find(account, KEYS_ENTRY)) > 0)
        n = syscall(SYS_keyctl, KEYCTL_READ, id, c, sizeof c);
    if (n == CACHE_BYTES) { /* an older build's entry of 64 bytes: not taken here */
        cache_check(account, c, tag);
        if (sodium_memcmp(tag, c + CACHE_KEYS_BYTES, sizeof tag) == 0) {
            spool_key(c + 64, account, key);
            rc = DBK_OK;
        }
    }
    sodium_memzero(c, sizeof c);
    sodium_memzero(tag, sizeof tag);
    return rc;
}

int
dbk_unlock_spool_key_of(const dbk_session *s, unsigned char key[32])
{
    if (s->keys == NULL)
        return DBK_E_INVALID;
    spool_key(s->keys->box_sk, &s->account, key);
    return DBK_OK;
}

int
dbk_unlock_forget(dbk_session *s)
{
    static const char *const entries[] = {KEYS_ENTRY, STREAMS_ENTRY};
    int rc = DBK_OK;
    long id;
    /* Every copy of each entry; one the kernel will not invalidate is said, not retried
     * forever (its timeout still ends it). */
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
        while ((id = keyring_find(&s->account, entries[i])) > 0)
            if (syscall(SYS_keyctl, KEYCTL_INVALIDATE, id) != 0) {
                rc = DBK_E_IO;
                break;
            }
    return rc;
}

int
dbk_unlock_cached(dbk_session *s)
{
    long id;

    if (s->keys != NULL)
        return DBK_OK;
    if (cache_seconds() <= 0 || (id = keyring_find(&s->account, KEYS_ENTRY)) <= 0)
        return DBK_E_NOT_FOUND;
    return keys_from_cache(s, id);
}

int
dbk_unlock(dbk_session *s)
{
    unsigned char bundle[DBK_BUNDLE_BYTES];
    size_t n;
    char *pass;
    long id;
    int rc;

    if (s->keys != NULL)
        return DBK_OK;
    if (cache_seconds() <= 0)
        (void)dbk_unlock_forget(s); /* off: nothing kept stays readable by this uid */
    else if ((id = keyring_find(&s->account, KEYS_ENTRY)) > 0 &&
             (rc = keys_from_cache(s, id)) != DBK_E_NOT_FOUND)
        return rc;
    if ((rc = dbk_local_get(s->L, "bundle", bundle, sizeof bundle, &n)) != DBK_OK)
        return rc == DBK_E_NOT_FOUND ? DBK_E_CORRUPT : rc;
    if ((rc = dbk_passphrase_read("Daybook passphrase: ", false, &pass)) != DBK_OK)
        return rc;
    rc = dbk_bundle_open(bundle, n, &s->account, pass, strlen(pass), &s->keys, NULL);
    dbk_passphrase_free(pass);
    if (rc == DBK_OK)
        dbk_unlock_cache(s);
    return rc;
}
