/* The craving spool's file: layout, lock, appends and cuts; see spool_file.h. */
#include "spool_file.h"

#include "local.h"

#include "dbk/bytes.h"
#include "dbk/error.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_MAGIC "DBKSPOOL"
#define REC_MAGIC "DBKR"
#define LAYOUT_VERSION 1u

int
dbk_spool_file_path(const char *dir, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", dir, DBK_SPOOL_FILE);
    return n < 0 || (size_t)n >= cap ? DBK_E_INVALID : DBK_OK;
}

/* The directory's entry for a file just made, synced: the file's name is durable
 * before anything in it is acknowledged. */
static int
sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 ? fsync(fd) : -1;
    if (fd >= 0)
        close(fd);
    return rc == 0 ? DBK_OK : DBK_E_IO;
}

static void
header_check(const unsigned char *h, unsigned char tag[16])
{
    crypto_generichash(tag, 16, h, 48, NULL, 0);
}

/* The profile file's device and inode, as the header binds them: a spool copied or
 * left beside another profile (made anew, restored) is not that profile's. */
static void
profile_ident(const char *dir, unsigned char out[16])
{
    char path[4200];
    struct stat sb;
    memset(out, 0, 16);
    if (snprintf(path, sizeof path, "%s/" DBK_LOCAL_FILE, dir) < (int)sizeof path &&
        stat(path, &sb) == 0) {
        dbk_put_u64(out, (uint64_t)sb.st_dev);
        dbk_put_u64(out + 8, (uint64_t)sb.st_ino);
    }
}

bool
dbk_spool_file_header(dbk_spool_file *f, const char *dir)
{
    unsigned char tag[16], ident[16];

    f->header_ok = f->header_here = false;
    if (f->size >= DBK_SPOOL_HEADER_BYTES && memcmp(f->data, HEADER_MAGIC, 8) == 0 &&
        dbk_get_u32(f->data + 8) == LAYOUT_VERSION) {
        header_check(f->data, tag);
        f->header_ok = sodium_memcmp(tag, f->data + 48, 16) == 0;
        profile_ident(dir, ident);
        f->header_here = f->header_ok && memcmp(ident, f->data + 32, 16) == 0;
        f->role = (int)dbk_get_u32(f->data + 12);
        memcpy(f->account.b, f->data + 16, DBK_ID_BYTES);
    }
    return f->header_here;
}

/* The length of the whole record at off in f->data, or 0 where the records stop (a
 * torn tail: never acknowledged, see dbk_spool_file_append). */
static size_t
rec_bytes(const dbk_spool_file *f, size_t off)
{
    const unsigned char *p = f->data + off;
    size_t len;
    if (off + DBK_SPOOL_REC_HEAD > f->size || memcmp(p, REC_MAGIC, 4) != 0)
        return 0;
    len = dbk_get_u32(p + 4);
    if (len > DBK_SPOOL_BODY_MAX || len > f->size - off - DBK_SPOOL_REC_HEAD)
        return 0;
    return DBK_SPOOL_REC_HEAD + len;
}

/* The header and the whole records of f->data into f: counted first, so that the list
 * is allocated once (a spool of 1 MiB holds thousands). */
static int
parse(dbk_spool_file *f, const char *dir)
{
    size_t off = DBK_SPOOL_HEADER_BYTES, n = 0, k;

    (void)dbk_spool_file_header(f, dir);
    f->good_end = f->size < off ? f->size : off;
    for (size_t at = off; (k = rec_bytes(f, at)) > 0; at += k)
        n++;
    if (n > 0 && (f->recs = malloc(n * sizeof *f->recs)) == NULL)
        return DBK_E_NOMEM;
    /* Each record checked again: the mapping shows what the file holds now, and a
     * writer that ignores the lock could change it meanwhile. */
    for (; f->n < n && (k = rec_bytes(f, off)) > 0; off += k) {
        const unsigned char *p = f->data + off;
        dbk_spool_rec *r = &f->recs[f->n++];
        memcpy(r->id.b, p + 8, DBK_ID_BYTES);
        r->kind = dbk_get_u32(p + 24);
        r->head = p;
        r->nonce = p + 28;
        r->body = p + DBK_SPOOL_REC_HEAD;
        r->len = k - DBK_SPOOL_REC_HEAD;
        f->good_end = off + k;
    }
    return DBK_OK;
}

/* Whether mmap's errno says this file system maps no files (some FUSE and 9p mounts:
 * ENODEV; a mount that refuses it: EACCES, EPERM; one that maps no private copy:
 * EINVAL, ENOTSUP), not that the system is short of memory or the file broken. */
static bool
cannot_map(int e)
{
    return e == ENODEV || e == EACCES || e == EPERM || e == EINVAL || e == ENOTSUP ||
           e == EOPNOTSUPP;
}

/* f->size bytes of the file read into a buffer of f's own (f->copy), where it cannot be
 * mapped or is too small to be worth it: what the mapping would show, under the same
 * lock. Tested by tests/support/fail_mmap.c, which makes mmap of a spool fail as such a
 * mount does. */
static int
read_copy(dbk_spool_file *f, const char *dir)
{
    size_t got = 0;
    unsigned char *b = malloc(f->size);

    if (b == NULL)
        return DBK_E_NOMEM;
    while (got < f->size) {
        ssize_t n = pread(f->fd, b + got, f->size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(b);
            return DBK_E_IO;
        }
        got += (size_t)n;
    }
    f->copy = b;
    f->data = b;
    return parse(f, dir);
}

static int
read_all(dbk_spool_file *f, const char *dir)
{
    struct stat sb;
    void *m;

    if (fstat(f->fd, &sb) != 0 || sb.st_size < 0)
        return DBK_E_IO;
    /* Twice the cap read at most: a file grown past it by hand is not taken whole. */
    f->size =
        (size_t)sb.st_size > 2 * DBK_SPOOL_BYTES_MAX ? 2 * DBK_SPOOL_BYTES_MAX : (size_t)sb.st_size;
    /* A page or less (a few cravings waiting, as a fold leaves it): read, one system
     * call, where the mapping took two and its teardown (0.014 ms a run, an exec'd
     * process against one that mapped it, 2,000 rounds, at 1, 4 and 8 KiB; at 60 KiB
     * the mapping was 0.018 ms faster). */
    if (f->size > 0 && f->size <= DBK_SPOOL_READ_MAX)
        return read_copy(f, dir);
    if (f->size > 0) {
        /* Mapped with its pages, not copied (spool_file.h): a pread into a fresh
         * buffer faulted it in page by page, 433 minor faults against 218 for a craving
         * with 800 KB waiting. */
        m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, f->fd, 0);
        if (m == MAP_FAILED && cannot_map(errno))
            return read_copy(f, dir);
        if (m == MAP_FAILED)
            return errno == ENOMEM ? DBK_E_NOMEM : DBK_E_IO;
        f->data = m;
        f->mapped = f->size;
    }
    return parse(f, dir);
}

int
dbk_spool_file_open(dbk_spool_file *f, const char *dir, bool create)
{
    char path[4200];
    bool made = false;
    int rc;

    memset(f, 0, sizeof *f);
    f->fd = -1;
    if ((rc = dbk_spool_file_path(dir, path, sizeof path)) != DBK_OK)
        return rc;
    f->fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (f->fd < 0 && errno == ENOENT && create) {
        f->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        made = f->fd >= 0;
        if (f->fd < 0 && errno == EEXIST) /* another process made it first */
            f->fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    }
    if (f->fd < 0)
        return errno == ENOENT ? DBK_E_NOT_FOUND : DBK_E_IO;
    if (made && (fsync(f->fd) != 0 || sync_dir(dir) != DBK_OK)) {
        dbk_spool_file_close(f);
        return DBK_E_IO;
    }
    while (flock(f->fd, LOCK_EX) != 0)
        if (errno != EINTR) {
            dbk_spool_file_close(f);
            return DBK_E_IO;
        }
    if ((rc = read_all(f, dir)) != DBK_OK)
        dbk_spool_file_close(f);
    return rc;
}

void
dbk_spool_file_close(dbk_spool_file *f)
{
    if (f->mapped > 0) /* encrypted records and the header: nothing to wipe */
        munmap((void *)f->data, f->mapped);
    free(f->copy); /* the same, read where the file system maps none */
    if (f->fd >= 0)
        close(f->fd); /* and the lock with it, after the mapping is gone */
    free(f->recs);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

static int
write_all(int fd, const unsigned char *p, size_t n, off_t at)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return DBK_E_IO;
        p += w, n -= (size_t)w, at += w;
    }
    return DBK_OK;
}

int
dbk_spool_file_set_header(dbk_spool_file *f, const char *dir, int role, const dbk_id *account)
{
    unsigned char h[DBK_SPOOL_HEADER_BYTES];
    int rc;

    if (f->header_here && f->role == role && dbk_id_equal(&f->account, account))
        return DBK_OK;
    memcpy(h, HEADER_MAGIC, 8);
    dbk_put_u32(h + 8, LAYOUT_VERSION);
    dbk_put_u32(h + 12, (uint32_t)role);
    memcpy(h + 16, account->b, DBK_ID_BYTES);
    profile_ident(dir, h + 32);
    header_check(h, h + 48);
    if ((rc = write_all(f->fd, h, sizeof h, 0)) != DBK_OK || fdatasync(f->fd) != 0)
        return DBK_E_IO;
    if (f->size < sizeof h) { /* a file just made: its records start after the header */
        f->size = sizeof h;
        f->good_end = sizeof h;
    }
    f->header_ok = f->header_here = true;
    f->role = role;
    f->account = *account;
    return DBK_OK;
}

void
dbk_spool_file_forget(const char *dir)
{
    static const unsigned char zero[16];
    dbk_spool_file f;
    if (dbk_spool_file_open(&f, dir, false) != DBK_OK)
        return;
    if (f.header_ok && write_all(f.fd, zero, sizeof zero, 48) == DBK_OK)
        (void)fdatasync(f.fd);
    dbk_spool_file_close(&f);
}

void
dbk_spool_file_rec_head(unsigned char head[DBK_SPOOL_REC_HEAD], const dbk_id *id, uint32_t kind,
                        const unsigned char nonce[DBK_SPOOL_NONCE_BYTES], size_t len)
{
    memcpy(head, REC_MAGIC, 4);
    dbk_put_u32(head + 4, (uint32_t)len);
    memcpy(head + 8, id->b, DBK_ID_BYTES);
    dbk_put_u32(head + 24, kind);
    memcpy(head + 28, nonce, DBK_SPOOL_NONCE_BYTES);
}

int
dbk_spool_file_append(dbk_spool_file *f, const unsigned char *head, const unsigned char *body,
                      size_t len)
{
    size_t n = DBK_SPOOL_REC_HEAD + len;
    unsigned char *rec;
    int rc;

    if (!f->header_here || f->good_end < DBK_SPOOL_HEADER_BYTES)
        return DBK_E_NOT_FOUND;
    if (len > DBK_SPOOL_BODY_MAX || f->good_end + n > DBK_SPOOL_BYTES_MAX)
        return DBK_E_TOO_LARGE;
    /* A torn tail (a process that died mid-append, never acknowledged) is cut off
     * first, so that no whole record ever follows a torn one. */
    if (f->size > f->good_end && ftruncate(f->fd, (off_t)f->good_end) != 0)
        return DBK_E_IO;
    if ((rec = malloc(n)) == NULL)
        return DBK_E_NOMEM;
    memcpy(rec, head, DBK_SPOOL_REC_HEAD);
    memcpy(rec + DBK_SPOOL_REC_HEAD, body, len);
    rc = write_all(f->fd, rec, n, (off_t)f->good_end);
    free(rec);
    if (rc == DBK_OK && fdatasync(f->fd) != 0)
        rc = DBK_E_IO;
    if (rc == DBK_OK) {
        f->size = f->good_end = f->good_end + n;
        return DBK_OK;
    }
    /* Not acknowledged: cut back, so that no fold saves it beside the caller's retry. */
    if (ftruncate(f->fd, (off_t)f->good_end) != 0 || fdatasync(f->fd) != 0)
        return DBK_E_INTERNAL;
    return rc;
}

int
dbk_spool_file_cut(dbk_spool_file *f, bool keep_whole)
{
    size_t at = keep_whole ? f->good_end : DBK_SPOOL_HEADER_BYTES;
    if (f->size <= at)
        return DBK_OK;
    if (ftruncate(f->fd, (off_t)at) != 0 || fdatasync(f->fd) != 0)
        return DBK_E_IO;
    f->size = at;
    if (!keep_whole) {
        f->n = 0;
        f->good_end = at;
    }
    return DBK_OK;
}
