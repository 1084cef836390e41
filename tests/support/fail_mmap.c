/*
 * A file system that maps no files, for the tests (LD_PRELOAD): mmap of a file whose
 * name ends in "cravings.spool" fails with ENODEV, as it does on some FUSE and 9p
 * mounts; every other mmap (SQLite's, the allocator's) is the C library's. A fault of
 * the operating system, not of Daybook's code: the client is the release build. Each
 * refusal appends a line to the file DBK_FAIL_MMAP_LOG names, so a test can tell the
 * fault was met.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

static int
is_spool(int fd)
{
    static const char suffix[] = "cravings.spool";
    char link[64], path[4096];
    ssize_t n;

    if (fd < 0)
        return 0;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof path - 1);
    if (n < (ssize_t)(sizeof suffix - 1))
        return 0;
    path[n] = '\0';
    return strcmp(path + n - (sizeof suffix - 1), suffix) == 0;
}

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

static void *
call(const char *name, void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    mmap_fn real;
    if (is_spool(fd)) {
        const char *log = getenv("DBK_FAIL_MMAP_LOG");
        int l = log != NULL ? open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
        if (l >= 0) {
            (void)!write(l, "refused\n", 8);
            close(l);
        }
        errno = ENODEV;
        return MAP_FAILED;
    }
    real = (mmap_fn)dlsym(RTLD_NEXT, name);
    if (real == NULL) {
        errno = ENOSYS;
        return MAP_FAILED;
    }
    return real(addr, len, prot, flags, fd, off);
}

void *
mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return call("mmap", addr, len, prot, flags, fd, off);
}

void *
mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return call("mmap64", addr, len, prot, flags, fd, off);
}
