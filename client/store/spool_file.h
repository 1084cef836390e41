/*
 * The craving spool's file, cravings.spool beside daybook.db (0600, in the profile's
 * 0700 folder): the bytes of cravings logged without opening the SQLite profile,
 * waiting to be folded into it (book/spool.h says what goes in and why). This file
 * knows the layout, the lock and the syncs; the records' bodies are opaque here, as
 * envelopes are to local.c.
 *
 * Header, at offset 0:
 *
 *   offset  size  meaning
 *   0       8     "DBKSPOOL"
 *   8       4     layout version, big-endian (1)
 *   12      4     the profile's role (store/local.h DBK_ROLE_*), big-endian
 *   16      16    the profile's account id
 *   32      8     the device of the profile's file (DBK_LOCAL_FILE), big-endian
 *   40      8     its inode, big-endian: a spool beside another profile file (made
 *                 anew, restored, copied) is not that profile's
 *   48      16    BLAKE2b-128 of bytes 0 to 47 (a damaged or forgotten header: none)
 *
 * Then records, one after another:
 *
 *   offset  size  meaning
 *   0       4     "DBKR"
 *   4       4     n, the body's length, big-endian (at most DBK_SPOOL_BODY_MAX)
 *   8       16    the entry's record id
 *   24      4     the stream kind (DBK_LOCAL_SHARED...), big-endian
 *   28      24    nonce
 *   52      n     body
 *
 * Every open takes flock(LOCK_EX) on the file and keeps it until close: an append, a
 * fold and a header's rewrite never interleave, across processes. Under the lock the
 * file is mapped read-only with its pages (MAP_POPULATE), not copied into a buffer
 * faulted in page by page: nothing cuts it while the lock is held, since every cut
 * (a fold's, a torn tail's) takes it; a file cut by hand meanwhile would stop the
 * process (SIGBUS) before anything is acknowledged. A file of one page or less
 * (DBK_SPOOL_READ_MAX) is read instead: one system call. Where the file system maps no
 * files (mmap refused with ENODEV, EACCES, EPERM, EINVAL or ENOTSUP: some FUSE and 9p
 * mounts) it is read into a buffer instead, under the same lock. A record is
 * appended with one pwrite at the end and fdatasync'd before the append returns; the
 * file is only ever cut back at its end (ftruncate), never renamed, so a process
 * waiting on the lock never holds a file that is no longer the spool.
 */
#ifndef DBK_CLIENT_SPOOL_FILE_H
#define DBK_CLIENT_SPOOL_FILE_H

#include "dbk/id.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DBK_SPOOL_FILE "cravings.spool"
#define DBK_SPOOL_HEADER_BYTES 64
#define DBK_SPOOL_REC_HEAD 52
#define DBK_SPOOL_NONCE_BYTES 24
/* A craving's text is a few hundred bytes; the flags' free text is not bounded, so a
 * body over this goes to the profile directly (cmd_craving falls back). */
#define DBK_SPOOL_BODY_MAX (64 * 1024)
/* Past this size no record is appended: the craving is saved in the profile, and the
 * save folds the spool (as every command that reads entries does). */
#define DBK_SPOOL_BYTES_MAX (1024 * 1024)
/* A spool this size or less is read under the lock, not mapped (spool_file.c). */
#define DBK_SPOOL_READ_MAX 4096

typedef struct dbk_spool_rec {
    dbk_id id;
    uint32_t kind;
    const unsigned char *head;  /* the record's first DBK_SPOOL_REC_HEAD bytes */
    const unsigned char *nonce; /* DBK_SPOOL_NONCE_BYTES */
    const unsigned char *body;
    size_t len;
} dbk_spool_rec;

typedef struct dbk_spool_file {
    int fd;
    const unsigned char *data; /* the whole file as read under the lock (mapped) */
    size_t mapped;             /* the mapping's length (0: none) */
    unsigned char *copy;       /* data read into a buffer, where the file system maps no
                                * files (mmap refused: ENODEV...); else NULL */
    size_t size;         /* the file's size now (may pass what data holds) */
    bool header_ok;      /* the header is whole and its check holds: role, account read */
    bool header_here;    /* and it names the profile file beside it */
    int role;
    dbk_id account;
    dbk_spool_rec *recs; /* the whole records, in order */
    size_t n;
    size_t good_end; /* where the last whole record ends: past it, a torn tail */
} dbk_spool_file;

/*
 * Opens dir's spool, takes its lock and reads it. create: makes the file (O_EXCL,
 * 0600) with no header when there is none, and syncs the directory once, so that its
 * name is durable before any record in it is acknowledged. DBK_E_NOT_FOUND when there
 * is none (and !create); DBK_E_IO when it cannot be opened or read.
 */
int dbk_spool_file_open(dbk_spool_file *f, const char *dir, bool create);
/* dir's spool file's path in out; DBK_E_INVALID when it does not fit in cap. */
int dbk_spool_file_path(const char *dir, char *out, size_t cap);
/* Releases the lock and frees what open read. Safe on a zeroed f. */
void dbk_spool_file_close(dbk_spool_file *f);
/* Reads the header of f->data (f->size bytes) into header_ok, header_here, role and
 * account (dir: the folder whose profile file it must name). Returns header_here. */
bool dbk_spool_file_header(dbk_spool_file *f, const char *dir);
/* Writes the header for role, account and dir's profile file (when it is not already
 * that), synced. */
int dbk_spool_file_set_header(dbk_spool_file *f, const char *dir, int role, const dbk_id *account);
/* Spoils the header of dir's spool, if there is one: no craving is spooled until a
 * command that opens the profile writes it again (a role or account that changed). */
void dbk_spool_file_forget(const char *dir);
/* The 52 bytes of a record's head for these values, body length len. */
void dbk_spool_file_rec_head(unsigned char head[DBK_SPOOL_REC_HEAD], const dbk_id *id,
                             uint32_t kind, const unsigned char nonce[DBK_SPOOL_NONCE_BYTES],
                             size_t len);
/* Appends one record (head from dbk_spool_file_rec_head, then body) at good_end, cutting
 * off a torn tail first, and fdatasyncs: once this returns DBK_OK the record is
 * durable. DBK_E_TOO_LARGE past DBK_SPOOL_BYTES_MAX; DBK_E_IO when the write or sync
 * failed and the record was cut back off; DBK_E_INTERNAL when it could not be cut back
 * (it may be folded later). */
int dbk_spool_file_append(dbk_spool_file *f, const unsigned char *head, const unsigned char *body,
                          size_t len);
/* Cuts the file back to its header, or (keep_whole) to its last whole record, and
 * fdatasyncs. */
int dbk_spool_file_cut(dbk_spool_file *f, bool keep_whole);

#endif
