/*
 * Runs a program on a pseudo-terminal (forkpty) and plays a script against it:
 * each step waits until the output since the previous step holds `expect`, then
 * types `send`. What an interactive command does is only testable this way:
 * isatty() is true on its stdin and stdout, as for a person at a terminal.
 * Every wait is bounded; a step that never sees its text fails the run, and the
 * output so far is kept for the test's message.
 */
#include "dbk_test.h"

#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void
append(char **buf, size_t *n, size_t *cap, const char *p, size_t len)
{
    if (*n + len + 1 > *cap) {
        while (*n + len + 1 > *cap)
            *cap = *cap ? *cap * 2 : 4096;
        *buf = realloc(*buf, *cap);
        if (*buf == NULL)
            abort();
    }
    memcpy(*buf + *n, p, len);
    *n += len;
    (*buf)[*n] = '\0';
}

int
dbk_pty_run(const char *const *argv, const dbk_pty_step *steps, int timeout_s,
            dbk_pty_result *r)
{
    struct termios tio;
    struct winsize ws = {.ws_row = 40, .ws_col = 100};
    size_t n = 0, cap = 0, from = 0, step = 0;
    long long deadline = dbk_now_ms() + (long long)timeout_s * 1000;
    int fd, status = -1;
    pid_t pid;

    memset(r, 0, sizeof *r);
    memset(&tio, 0, sizeof tio);
    cfmakeraw(&tio);
    tio.c_lflag |= ECHO | ICANON | ISIG; /* a cooked terminal, as a shell leaves it */
    tio.c_iflag |= ICRNL;
    tio.c_oflag |= OPOST | ONLCR;
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VEOF] = 4;
    tio.c_cc[VINTR] = 3;
    cfsetispeed(&tio, B38400);
    cfsetospeed(&tio, B38400);
    pid = forkpty(&fd, NULL, &tio, &ws);
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    append(&r->out, &n, &cap, "", 0);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long long left = deadline - dbk_now_ms();
        char b[4096];
        ssize_t got;

        while (steps != NULL && steps[step].expect != NULL &&
               strstr(r->out + from, steps[step].expect) != NULL) {
            from = (size_t)(strstr(r->out + from, steps[step].expect) - r->out) +
                   strlen(steps[step].expect);
            if (steps[step].send != NULL &&
                write(fd, steps[step].send, strlen(steps[step].send)) < 0)
                break;
            step++;
        }
        if (left <= 0) {
            r->timed_out = true;
            kill(pid, SIGKILL);
            break;
        }
        if (poll(&p, 1, (int)(left > 200 ? 200 : left)) < 0 && errno != EINTR)
            break;
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        got = read(fd, b, sizeof b);
        if (got <= 0) /* EIO: the program closed the terminal (exited) */
            break;
        append(&r->out, &n, &cap, b, (size_t)got);
    }
    close(fd);
    r->steps_done = step;
    status = dbk_wait_pid(pid, 20000);
    r->status = status;
    return 0;
}

void
dbk_pty_result_free(dbk_pty_result *r)
{
    free(r->out);
    r->out = NULL;
}
