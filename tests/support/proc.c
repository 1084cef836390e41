/* Processes and files for integration tests; see dbk_test.h. */
#include "dbk_test.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void
die(const char *what)
{
    fprintf(stderr, "test support: %s: %s\n", what, strerror(errno));
    abort();
}

/* a followed by b, malloc'd. */
static char *
concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (s == NULL)
        die("malloc");
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    return s;
}

char *
dbk_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *dir = concat(base && *base ? base : "/tmp", "/daybook-");
    char *pre = concat(dir, tag);
    char *path = concat(pre, "-XXXXXX");
    free(dir);
    free(pre);
    if (mkdtemp(path) == NULL)
        die("mkdtemp");
    return path;
}

void
dbk_rmtree(const char *path)
{
    const char *argv[] = {"rm", "-rf", "--", path, NULL};
    dbk_run_result r;
    if (path == NULL || strstr(path, "/daybook-") == NULL)
        return; /* only ever remove our own temp dirs */
    dbk_plaincheck_before_rm(path); /* the profiles in it, checked against proto/schemas */
    if (dbk_run(argv, NULL, 30, &r) == 0)
        dbk_run_result_free(&r);
}

const char *
dbk_bin(const char *var)
{
    const char *p = getenv(var);
    if (p == NULL || *p == '\0') {
        fprintf(stderr, "test support: %s is not set (run the tests with ctest)\n", var);
        abort();
    }
    return p;
}

long long
dbk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
dbk_wait_pid(pid_t pid, int timeout_ms)
{
    long long deadline = dbk_now_ms() + timeout_ms;
    int st;

    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0 && errno != EINTR)
            return -1;
        if (dbk_now_ms() > deadline)
            return -1;
        usleep(10000);
    }
}

const char *
dbk_test_unlock_seconds(void)
{
    const char *path =
        geteuid() == 0 ? "/proc/sys/kernel/keys/root_maxbytes" : "/proc/sys/kernel/keys/maxbytes";
    long long bytes = 0;
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%lld", &bytes) != 1)
            bytes = 0;
        fclose(f);
    }
    return bytes >= 1000000 ? "120" : "0";
}

bool
dbk_faketime_lib(char *out, size_t cap)
{
    static const char *const pats[] = {"/usr/lib/*/faketime/libfaketime.so.1",
                                       "/usr/lib/faketime/libfaketime.so.1",
                                       "/usr/lib64/faketime/libfaketime.so.1"};
    out[0] = '\0';
    for (size_t i = 0; i < sizeof pats / sizeof pats[0] && out[0] == '\0'; i++) {
        glob_t g;
        if (glob(pats[i], 0, NULL, &g) == 0 && g.gl_pathc > 0)
            snprintf(out, cap, "%s", g.gl_pathv[0]);
        globfree(&g);
    }
    return out[0] != '\0';
}

void
dbk_asan_options_preloaded(char *out, size_t cap)
{
    const char *asan = getenv("ASAN_OPTIONS");
    snprintf(out, cap, "%s%sverify_asan_link_order=0", asan ? asan : "", asan && *asan ? ":" : "");
}

int
dbk_server_start(dbk_server *s, const char *const *extra)
{
    return dbk_server_start_env(s, extra, NULL);
}

int
dbk_server_start_env(dbk_server *s, const char *const *extra, const char *const *env)
{
    memset(s, 0, sizeof *s);
    s->dir = dbk_tmpdir("server");
    s->data_dir = concat(s->dir, "/data");
    s->env = env;
    if (dbk_test_pg())
        s->store_url = dbk_pg_create_db(NULL);
    return dbk_server_restart(s, extra);
}

/* The test's environment with env's entries in place of its own of their names
 * (malloc'd array, entries not copied); environ itself when env is NULL. */
static char **
server_environ(const char *const *env)
{
    size_t n = 0, k = 0, m = 0;
    char **out;
    if (env == NULL)
        return environ;
    while (environ[n] != NULL)
        n++;
    while (env[m] != NULL)
        m++;
    out = calloc(n + m + 1, sizeof *out);
    if (out == NULL)
        die("calloc");
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < m && !replaced; j++) {
            size_t len = strcspn(env[j], "=");
            replaced = strncmp(environ[i], env[j], len) == 0 && environ[i][len] == '=';
        }
        if (!replaced)
            out[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        out[k++] = (char *)env[j];
    return out;
}

int
dbk_server_restart(dbk_server *s, const char *const *extra)
{
    const char *argv[48];
    size_t n = 0;
    char *port_file, *log_file;
    posix_spawn_file_actions_t fa;
    long long deadline;
    char **envp;
    char listen[32];
    int prev = s->port; /* a restart keeps the port, so clients find the server again */

    port_file = concat(s->dir, "/port");
    log_file = concat(s->dir, "/stderr.log");
    unlink(port_file);
    s->port = 0;
    snprintf(listen, sizeof listen, "127.0.0.1:%d", prev > 0 ? prev : 0);

    argv[n++] = dbk_bin("DAYBOOKD");
    argv[n++] = "serve";
    argv[n++] = "--listen";
    argv[n++] = listen;
    argv[n++] = "--data-dir";
    argv[n++] = s->data_dir;
    argv[n++] = "--port-file";
    argv[n++] = port_file;
    if (s->store_url != NULL) {
        argv[n++] = "--store";
        argv[n++] = s->store_url;
    }
    for (size_t i = 0; extra && extra[i] && n < 46; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log_file, O_WRONLY | O_CREAT | O_APPEND, 0600);
    /* Its standard output to the log too, not the test's: a test that dies (a sanitizer's
     * abort) would otherwise leave the server holding ctest's pipe open until the test's
     * timeout. */
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    envp = server_environ(s->env);
    if (posix_spawn(&s->pid, argv[0], &fa, NULL, (char *const *)argv, envp) != 0)
        die("posix_spawn daybookd");
    posix_spawn_file_actions_destroy(&fa);
    if (envp != environ)
        free(envp);

    deadline = dbk_now_ms() + 20000;
    while (dbk_now_ms() < deadline) {
        FILE *f = fopen(port_file, "r");
        if (f != NULL) {
            int ok = fscanf(f, "%d", &s->port);
            fclose(f);
            if (ok == 1 && s->port > 0) {
                snprintf(s->base_url, sizeof s->base_url, "http://127.0.0.1:%d", s->port);
                free(port_file);
                free(log_file);
                return 0;
            }
        }
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            break;
        }
        usleep(10000);
    }
    fprintf(stderr, "test support: daybookd did not start; its log:\n");
    {
        char *log = dbk_server_log(s);
        fputs(log, stderr);
        free(log);
    }
    free(port_file);
    free(log_file);
    return -1;
}

int
dbk_server_stop(dbk_server *s)
{
    int st;
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    st = dbk_wait_pid(s->pid, 20000);
    if (st < 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    s->pid = 0;
    return st;
}

void
dbk_server_kill(dbk_server *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

void
dbk_server_cleanup(dbk_server *s)
{
    dbk_server_kill(s);
    if (s->dir && getenv("DAYBOOK_KEEP_TMP") == NULL)
        dbk_rmtree(s->dir);
    if (s->store_url != NULL && getenv("DAYBOOK_KEEP_TMP") == NULL)
        dbk_pg_drop_db(NULL, s->store_url);
    free(s->dir);
    free(s->data_dir);
    free(s->store_url);
    memset(s, 0, sizeof *s);
}

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;

    if (f != NULL) {
        for (;;) {
            if (cap - len < 4096) {
                cap = cap ? cap * 2 : 8192;
                buf = realloc(buf, cap);
                if (buf == NULL)
                    die("realloc");
            }
            size_t r = fread(buf + len, 1, cap - len - 1, f);
            if (r == 0)
                break;
            len += r;
        }
        fclose(f);
    }
    if (buf == NULL && (buf = malloc(1)) == NULL)
        die("malloc");
    buf[len] = '\0';
    return buf;
}

char *
dbk_server_log(const dbk_server *s)
{
    char *path = concat(s->dir, "/stderr.log");
    char *log = read_file(path);
    free(path);
    return log;
}

/* Appends what fd has to *buf; returns false at EOF. */
static bool
drain_fd(int fd, char **buf, size_t *len, size_t *cap)
{
    char tmp[4096];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r <= 0)
        return r < 0 && errno == EINTR;
    if (*len + (size_t)r + 1 > *cap) {
        *cap = (*len + (size_t)r + 1) * 2;
        *buf = realloc(*buf, *cap);
        if (*buf == NULL)
            die("realloc");
    }
    memcpy(*buf + *len, tmp, (size_t)r);
    *len += (size_t)r;
    return true;
}

int
dbk_run(const char *const *argv, const char *in, int timeout_s, dbk_run_result *r)
{
    int po[2], pe[2], pi[2];
    posix_spawn_file_actions_t fa;
    pid_t pid;
    char *bufs[2] = {NULL, NULL};
    size_t lens[2] = {0, 0}, caps[2] = {0, 0};
    bool open_[2] = {true, true};
    long long deadline = dbk_now_ms() + (long long)timeout_s * 1000;
    size_t in_len = in ? strlen(in) : 0, in_off = 0;

    memset(r, 0, sizeof *r);
    if (pipe(po) || pipe(pe) || pipe(pi))
        die("pipe");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pi[0], 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addclose(&fa, pi[1]);
    posix_spawn_file_actions_addclose(&fa, po[0]);
    posix_spawn_file_actions_addclose(&fa, pe[0]);
    if (posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ) != 0)
        die("posix_spawnp");
    posix_spawn_file_actions_destroy(&fa);
    close(pi[0]);
    close(po[1]);
    close(pe[1]);
    fcntl(pi[1], F_SETFL, O_NONBLOCK);
    if (in_len == 0) {
        close(pi[1]);
        pi[1] = -1;
    }

    while ((open_[0] || open_[1]) && dbk_now_ms() < deadline) {
        struct pollfd fds[3] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}, {pi[1], POLLOUT, 0}};
        if (!open_[0])
            fds[0].fd = -1;
        if (!open_[1])
            fds[1].fd = -1;
        if (poll(fds, 3, 100) < 0 && errno != EINTR)
            die("poll");
        for (int k = 0; k < 2; k++)
            if (fds[k].revents & (POLLIN | POLLHUP))
                if (!drain_fd(fds[k].fd, &bufs[k], &lens[k], &caps[k]))
                    open_[k] = false;
        if (pi[1] >= 0 && (fds[2].revents & (POLLOUT | POLLERR))) {
            ssize_t w = write(pi[1], in + in_off, in_len - in_off);
            if (w > 0)
                in_off += (size_t)w;
            if (w < 0 && errno != EAGAIN) 
                in_off = in_len;
            if (in_off == in_len) {
                close(pi[1]);
                pi[1] = -1;
            }
        }
    }
    if (pi[1] >= 0)
        close(pi[1]);
    close(po[0]);
    close(pe[0]);
    r->status = dbk_wait_pid(pid, open_[0] || open_[1] ? 0 : (int)(deadline - dbk_now_ms()) + 1000);
    if (r->status < 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        r->status = -1;
    }
    for (int k = 0; k < 2; k++) {
        if (bufs[k] == NULL && (bufs[k] = malloc(1)) == NULL)
            die("malloc");
        bufs[k][lens[k]] = '\0';
    }
    r->out = bufs[0];
    r->err = bufs[1];
    dbk_plaincheck_note(argv, r->status);
    return 0;
}

void
dbk_run_result_free(dbk_run_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}
