/*
 * The write-ahead log's frames of one commit written with one write (walbuf.h).
 *
 * SQLite writes each frame of a commit with two calls of the file's xWrite: its
 * 24-byte header, then its page; a group commit of tests/bench's incremental sync
 * wrote about 35 frames, so 70 pwrite calls, and since a frame (4,120 bytes) is not
 * aligned to the kernel's 4 KiB pages, each page's write touched two of them and
 * each header's one more: about 105 page-cache updates for 36 pages of log. This
 * VFS wraps the default one and, for the log file alone, keeps the frames of a
 * commit in a buffer and writes them with one xWrite of the default VFS (one per
 * 124 KiB, BUF_MAX) when the commit's last frame (the one whose header says
 * "commit") is complete.
 *
 * Why that is safe. A commit's frames become visible to other connections (the
 * checkpoint thread's, another process's) only when SQLite writes the WAL index
 * header, after sqlite3WalFrames has written every frame through xWrite; the commit
 * frame is written last, so the buffer is empty again before that header is
 * written, and the log file holds every frame as the unbuffered write would have.
 * The deferred sync (dbk_store_sync's fdatasync on a descriptor of its own) runs
 * after the commit has returned, so it covers the same bytes. Frames of a
 * transaction not yet committed (a cache spill) may wait in the buffer: no other
 * connection reads them, and any other call on the log (a read, a sync, its size, a
 * truncation, its close, a file control) writes the buffer first, so this
 * connection reads what it wrote. A write that is not the pattern (header, then
 * page, contiguous) writes the buffer and then itself at once, as before: the log's
 * own header, a checksum rewrite, a write that joins header and page. The bytes in
 * the file, their order and their offsets are those SQLite asked for.
 */
#include "walbuf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_HEADER 24
/* The buffer, allocated once per log file: the most the unix VFS writes in one call
 * (it writes n & 0x1ffff bytes of n, and calls a write that wrote none a full disk).
 * A commit larger than this is written in parts of this size at most. */
#define BUF_MAX ((size_t)31 * 4096)

typedef struct wb_file {
    sqlite3_file base;  /* first: SQLite's view */
    sqlite3_file *real; /* the default VFS's file, after this struct */
    unsigned char *buf; /* frames waiting, for offsets [off, off + len) */
    size_t len;
    sqlite3_int64 off;
    bool want_page; /* the last write was a frame's header */
    bool commit;    /* ... and that frame ends a commit */
} wb_file;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs wb_vfs;
static sqlite3_io_methods wb_methods;

static int
wb_flush(wb_file *f)
{
    int rc = SQLITE_OK;
    if (f->len > 0)
        rc = f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->off);
    f->len = 0;
    return rc;
}

/* Appends a write that fits (f->len + amt <= BUF_MAX); false if out of memory. */
static bool
wb_append(wb_file *f, const void *p, int amt, sqlite3_int64 off)
{
    if (f->buf == NULL && (f->buf = malloc(BUF_MAX)) == NULL)
        return false;
    if (f->len == 0)
        f->off = off;
    memcpy(f->buf + f->len, p, (size_t)amt);
    f->len += (size_t)amt;
    return true;
}

/* A page's size: a power of two from 512 to 65,536 (SQLite's page sizes). */
static bool
page_sized(int amt)
{
    return amt >= 512 && amt <= 65536 && (amt & (amt - 1)) == 0;
}

static int
wb_write(sqlite3_file *pf, const void *p, int amt, sqlite3_int64 off)
{
    wb_file *f = (wb_file *)pf;
    bool header = !f->want_page && amt == FRAME_HEADER;
    bool page = f->want_page && page_sized(amt);
    int rc;

    if ((header || page) && (f->len == 0 || off == f->off + (sqlite3_int64)f->len)) {
        /* Full: what waits is written, and this write starts the buffer again. */
        if (f->len + (size_t)amt > BUF_MAX && (rc = wb_flush(f)) != SQLITE_OK) {
            f->want_page = false;
            return rc;
        }
        if (wb_append(f, p, amt, off)) {
            const unsigned char *h = p;
            if (header) {
                f->want_page = true;
                f->commit = (h[4] | h[5] | h[6] | h[7]) != 0; /* the database's size */
                return SQLITE_OK;
            }
            f->want_page = false;
            return f->commit ? wb_flush(f) : SQLITE_OK;
        }
    }
    /* Anything else: what waits, then this write, as SQLite asked. */
    f->want_page = false;
    if ((rc = wb_flush(f)) != SQLITE_OK)
        return rc;
    return f->real->pMethods->xWrite(f->real, p, amt, off);
}

static int
wb_close(sqlite3_file *pf)
{
    wb_file *f = (wb_file *)pf;
    int rc = wb_flush(f), rc2 = f->real->pMethods->xClose(f->real);
    free(f->buf);
    f->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

/*
 * Every other call goes to the default VFS's file; those that read or change it, or
 * could depend on what it holds, write what waits first (PASS_FLUSHED).
 */
#define REAL(pf) (((wb_file *)(pf))->real)
#define PASS(ret, name, member, params, args)                                                      \
    static ret name params                                                                         \
    {                                                                                              \
        return REAL(pf)->pMethods->member args;                                                    \
    }
#define PASS_FLUSHED(name, member, params, args)                                                   \
    static int name params                                                                         \
    {                                                                                              \
        int rc = wb_flush((wb_file *)pf);                                                          \
        return rc != SQLITE_OK ? rc : REAL(pf)->pMethods->member args;                             \
    }

PASS_FLUSHED(wb_read, xRead, (sqlite3_file * pf, void *p, int amt, sqlite3_int64 off),
             (REAL(pf), p, amt, off))
PASS_FLUSHED(wb_truncate, xTruncate, (sqlite3_file * pf, sqlite3_int64 size), (REAL(pf), size))
PASS_FLUSHED(wb_sync, xSync, (sqlite3_file * pf, int flags), (REAL(pf), flags))
PASS_FLUSHED(wb_file_size, xFileSize, (sqlite3_file * pf, sqlite3_int64 *size), (REAL(pf), size))
PASS_FLUSHED(wb_lock, xLock, (sqlite3_file * pf, int level), (REAL(pf), level))
PASS_FLUSHED(wb_unlock, xUnlock, (sqlite3_file * pf, int level), (REAL(pf), level))
PASS_FLUSHED(wb_file_control, xFileControl, (sqlite3_file * pf, int op, void *arg),
             (REAL(pf), op, arg))
PASS(int, wb_check_reserved, xCheckReservedLock, (sqlite3_file * pf, int *out), (REAL(pf), out))
PASS(int, wb_sector_size, xSectorSize, (sqlite3_file * pf), (REAL(pf)))
PASS(int, wb_device, xDeviceCharacteristics, (sqlite3_file * pf), (REAL(pf)))
/* The log has no shared memory of its own (that is daybook.db's), nor a memory map:
 * SQLite does not call these on it; they are passed on all the same. */
PASS(int, wb_shm_map, xShmMap,
     (sqlite3_file * pf, int pg, int pgsz, int extend, void volatile **pp),
     (REAL(pf), pg, pgsz, extend, pp))
PASS(int, wb_shm_lock, xShmLock, (sqlite3_file * pf, int offset, int n, int flags),
     (REAL(pf), offset, n, flags))
PASS(int, wb_shm_unmap, xShmUnmap, (sqlite3_file * pf, int del), (REAL(pf), del))
PASS_FLUSHED(wb_fetch, xFetch, (sqlite3_file * pf, sqlite3_int64 off, int amt, void **pp),
             (REAL(pf), off, amt, pp))
PASS(int, wb_unfetch, xUnfetch, (sqlite3_file * pf, sqlite3_int64 off, void *p), (REAL(pf), off, p))

static void
wb_shm_barrier(sqlite3_file *pf)
{
    REAL(pf)->pMethods->xShmBarrier(REAL(pf));
}

/*
 * The log is wrapped; every other file is the default VFS's own, opened where SQLite
 * put this VFS's file (szOsFile is at least the default's), so it costs nothing.
 */
static int
wb_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *pf, int flags, int *out_flags)
{
    wb_file *f = (wb_file *)pf;
    int rc;
    (void)vfs;
    if (!(flags & SQLITE_OPEN_WAL))
        return real_vfs->xOpen(real_vfs, name, pf, flags, out_flags);
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    if (f->real->pMethods == NULL) {
        pf->pMethods = NULL; /* nothing to close */
        return rc;
    }
    pf->pMethods = &wb_methods;
    return rc;
}

int
dbk_walbuf_register(void)
{
    if (sqlite3_vfs_find(DBK_WALBUF_VFS) != NULL)
        return SQLITE_OK;
    if ((real_vfs = sqlite3_vfs_find(NULL)) == NULL)
        return SQLITE_ERROR;
    if (strcmp(real_vfs->zName, "unix") != 0)
        return SQLITE_ERROR; /* not the VFS this was written for (BUF_MAX): SQLite's own */
    wb_methods = (sqlite3_io_methods){
        .iVersion = 3,
        .xClose = wb_close,
        .xRead = wb_read,
        .xWrite = wb_write,
        .xTruncate = wb_truncate,
        .xSync = wb_sync,
        .xFileSize = wb_file_size,
        .xLock = wb_lock,
        .xUnlock = wb_unlock,
        .xCheckReservedLock = wb_check_reserved,
        .xFileControl = wb_file_control,
        .xSectorSize = wb_sector_size,
        .xDeviceCharacteristics = wb_device,
        .xShmMap = wb_shm_map,
        .xShmLock = wb_shm_lock,
        .xShmBarrier = wb_shm_barrier,
        .xShmUnmap = wb_shm_unmap,
        .xFetch = wb_fetch,
        .xUnfetch = wb_unfetch,
    };
    /* The default VFS's own functions for all but the opening of files: the unix
     * VFS's use nothing of the sqlite3_vfs they are given but what is copied here. */
    wb_vfs = *real_vfs;
    wb_vfs.szOsFile = (int)sizeof(wb_file) + real_vfs->szOsFile;
    wb_vfs.zName = DBK_WALBUF_VFS;
    wb_vfs.pNext = NULL;
    wb_vfs.xOpen = wb_open;
    return sqlite3_vfs_register(&wb_vfs, 0);
}
