/*
 * sync_hold: an LD_PRELOAD module for integration.sync_held. While the file named
 * by DBK_TEST_SYNC_HOLD exists, an fdatasync of a SQLite write-ahead log (a path
 * ending in "-wal") waits before it syncs, and makes that file's name + ".held" so
 * the test knows a commit's sync is being held. Every other call goes straight to
 * the C library's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
is_wal(int fd)
{
    char link[64], path[4096];
    ssize_t n;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof path - 1);
    if (n < 4)
        return 0;
    path[n] = '\0';
    return strcmp(path + n - 4, "-wal") == 0;
}

int
fdatasync(int fd)
{
    static int (*real)(int);
    const char *hold = getenv("DBK_TEST_SYNC_HOLD");
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (hold != NULL && access(hold, F_OK) == 0 && is_wal(fd)) {
        char mark[4200];
        snprintf(mark, sizeof mark, "%s.held", hold);
        int m = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (m >= 0)
            close(m);
        while (access(hold, F_OK) == 0)
            usleep(1000);
    }
    return real(fd);
}
