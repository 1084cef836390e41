/*
 * Terminal prompts the commands share: the text editor ($EDITOR, as git commit runs
 * it). Messages go to stderr; the text the user wrote is theirs, so a file that held
 * it is overwritten before it is removed.
 */
#include "prompt.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void
trim_end(char *t)
{
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' ' || t[n - 1] == '\t'))
        t[--n] = '\0';
}

/* Overwrites the file at path with zeros, then removes it. */
static void
shred(const char *path)
{
    int fd = open(path, O_WRONLY | O_NOFOLLOW);
    struct stat sb;
    if (fd >= 0) {
        if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
            char zero[4096] = {0};
            off_t left = sb.st_size;
            while (left > 0) {
                size_t n = left > (off_t)sizeof zero ? sizeof zero : (size_t)left;
                ssize_t w = write(fd, zero, n);
                if (w <= 0)
                    break;
                left -= w;
            }
            (void)fsync(fd);
        }
        close(fd);
    }
    unlink(path);
}

int
dbk_prompt_editor(const char *dir, const char *old, size_t max, char **out)
{
    char path[4200], cmd[4200];
    const char *ed = getenv("EDITOR");
    struct stat sb;
    size_t n = strlen(old), got = 0;
    int fd, status;
    char *text = NULL;
    pid_t pid;

    *out = NULL;
    if (ed == NULL || ed[0] == '\0')
        ed = getenv("VISUAL");
    if (ed == NULL || ed[0] == '\0')
        ed = "vi";
    snprintf(path, sizeof path, "%s/edit-XXXXXX", dir);
    if ((fd = mkstemp(path)) < 0) {
        fprintf(stderr, "daybook: cannot create a file to edit in %s\n", dir);
        return -1;
    }
    if (fchmod(fd, 0600) != 0 || write(fd, old, n) != (ssize_t)n || write(fd, "\n", 1) != 1) {
        close(fd);
        shred(path);
        fprintf(stderr, "daybook: cannot write the file to edit; nothing changed\n");
        return -1;
    }
    close(fd);
    snprintf(cmd, sizeof cmd, "%s \"$1\"", ed);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, "sh", path, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        shred(path);
        fprintf(stderr, "daybook: the editor (%s) did not finish cleanly; nothing changed\n", ed);
        return -1;
    }
    fd = open(path, O_RDONLY | O_NOFOLLOW);
    if (fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size >= 0 && (size_t)sb.st_size <= max * 4 + 8 &&
        (text = malloc((size_t)sb.st_size + 1)) != NULL) {
        while (got < (size_t)sb.st_size) {
            ssize_t r = read(fd, text + got, (size_t)sb.st_size - got);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        text[got] = '\0';
    }
    if (fd >= 0)
        close(fd);
    shred(path);
    if (text == NULL) {
        fprintf(stderr, "daybook: cannot read the edited text back (too long?); nothing changed\n");
        return -1;
    }
    trim_end(text);
    *out = text;
    return 0;
}
