/*
 * The servers under test as child processes, and what /proc says about them; see
 * bench_load.h. Every child gets PR_SET_PDEATHSIG, so a generator that crashes or
 * is killed takes its servers with it, and every wait here is bounded.
 */
#define _GNU_SOURCE /* prctl, nftw's FTW_PHYS */
#include "bench_load.h"
#include "dbk_test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 16

static pid_t children[MAX_CHILDREN];

static void
remember(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == 0) {
            children[i] = pid;
            return;
        }
}

static void
forget(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == pid)
            children[i] = 0;
}

void
bl_kill_all(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
            children[i] = 0;
        }
}

static void
child_exec(const char *const *argv, const char *cwd, const char *log_path, pid_t parent)
{
    int fd;

    /* Die with the generator; and if it died before prctl took effect, now. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127);
    if (cwd != NULL && chdir(cwd) != 0)
        _exit(127);
    if ((fd = open("/dev/null", O_RDONLY)) >= 0) {
        dup2(fd, 0);
        close(fd);
    }
    if (log_path != NULL && (fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600)) >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

pid_t
bl_spawn(const char *const *argv, const char *cwd, const char *log_path)
{
    pid_t parent = getpid();
    pid_t pid = fork();

    if (pid < 0)
        return -1;
    if (pid == 0)
        child_exec(argv, cwd, log_path, parent);
    remember(pid);
    return pid;
}

static uint64_t
now_ms(void)
{
    return bl_now_ns() / 1000000;
}

int
bl_stop(pid_t pid, int timeout_ms)
{
    int st;
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    st = dbk_wait_pid(pid, timeout_ms);
    if (st < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    forget(pid);
    return st;
}

bool
bl_alive(pid_t pid)
{
    pid_t r = waitpid(pid, NULL, WNOHANG);
    if (r == pid) {
        forget(pid);
        return false;
    }
    return r == 0;
}

char *
bl_run(const char *const *argv, int timeout_s)
{
    int fds[2];
    pid_t pid, parent = getpid();
    size_t len = 0, cap = 4096;
    char *out = malloc(cap);
    uint64_t deadline = now_ms() + (uint64_t)timeout_s * 1000;

    if (out == NULL || pipe(fds) != 0) {
        free(out);
        return NULL;
    }
    if ((pid = fork()) < 0) {
        free(out);
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        child_exec(argv, NULL, NULL, parent);
    }
    remember(pid);
    close(fds[1]);
    for (;;) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int left = (int)(deadline > now_ms() ? deadline - now_ms() : 0);
        ssize_t n;
        if (left == 0 || poll(&pfd, 1, left) <= 0)
            break;
        if (len + 1024 > cap) {
            char *b = realloc(out, cap *= 2);
            if (b == NULL)
                break;
            out = b;
        }
        if ((n = read(fds[0], out + len, cap - len - 1)) <= 0)
            break;
        len += (size_t)n;
    }
    close(fds[0]);
    out[len] = '\0';
    if (bl_stop(pid, 1000) != 0) { /* exited by itself, or stopped: either way reaped */
        free(out);
        return NULL;
    }
    return out;
}

/* utime and stime (ms) and the name of a /proc stat file. comm may be NULL. */
static int
stat_cpu(const char *path, double *user_ms, double *sys_ms, char comm[16])
{
    char buf[2048], *p, *q;
    unsigned long utime, stime;
    FILE *f;
    size_t n;

    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields start after the last ')'.
     * Then: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime. */
    if ((p = strrchr(buf, ')')) == NULL ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
            2)
        return -1;
    if (comm != NULL) {
        comm[0] = '\0';
        if ((q = strchr(buf, '(')) != NULL && p > q)
            snprintf(comm, 16, "%.*s", (int)(p - q - 1), q + 1);
    }
    *user_ms = (double)utime * 1000.0 / (double)sysconf(_SC_CLK_TCK);
    *sys_ms = (double)stime * 1000.0 / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

double
bl_cpu_ms(pid_t pid)
{
    char path[64];
    double u, s;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return stat_cpu(path, &u, &s, NULL) == 0 ? u + s : -1;
}

int
bl_threads_cpu(pid_t pid, bl_thread_cpu *out, int max)
{
    char path[96];
    struct dirent *e;
    DIR *d;
    FILE *f;
    int n = 0;

    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    if ((d = opendir(path)) == NULL)
        return -1;
    while (n < max && (e = readdir(d)) != NULL) {
        int tid = atoi(e->d_name);
        if (tid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, tid);
        if (stat_cpu(path, &out[n].user_ms, &out[n].sys_ms, out[n].comm) != 0)
            continue;
        out[n].vcsw = out[n].nvcsw = 0;
        snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, tid);
        if ((f = fopen(path, "r")) != NULL) {
            char line[128];
            while (fgets(line, sizeof line, f) != NULL)
                if (sscanf(line, "voluntary_ctxt_switches: %ld", &out[n].vcsw) != 1)
                    (void)sscanf(line, "nonvoluntary_ctxt_switches: %ld", &out[n].nvcsw);
            fclose(f);
        }
        out[n].wchar = 0;
        snprintf(path, sizeof path, "/proc/%d/task/%d/io", (int)pid, tid);
        if ((f = fopen(path, "r")) != NULL) {
            char line[128];
            while (fgets(line, sizeof line, f) != NULL)
                if (sscanf(line, "wchar: %lld", &out[n].wchar) == 1)
                    break;
            fclose(f);
        }
        out[n].run_ns = out[n].runq_ns = -1;
        snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, tid);
        if ((f = fopen(path, "r")) != NULL) {
            if (fscanf(f, "%lld %lld", &out[n].run_ns, &out[n].runq_ns) != 2)
                out[n].run_ns = out[n].runq_ns = -1;
            fclose(f);
        }
        out[n++].tid = tid;
    }
    closedir(d);
    return n;
}

int
bl_mem_kib(pid_t pid, long *rss, long *hwm)
{
    char path[64], line[256];
    FILE *f;

    *rss = *hwm = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *rss = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return *rss >= 0 && *hwm >= 0 ? 0 : -1;
}

static int64_t du_total;

static int
du_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)flag;
    (void)ftw;
    du_total += (int64_t)st->st_blocks * 512;
    return 0;
}

int64_t
bl_du(const char *dir)
{
    du_total = 0;
    if (nftw(dir, du_one, 32, FTW_PHYS) != 0)
        return -1;
    return du_total;
}

int
bl_free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}
