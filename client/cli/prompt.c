/*
 * Terminal prompts the commands share: the text editor ($EDITOR, as git commit runs
 * it), a line, a yes/no confirmation and numbered pick lists. Messages go to stderr; the text the user wrote is theirs, so a file that held
 * it is overwritten before it is removed.
 */
#include "prompt.h"
#include "draft.h"
#include "unlock.h"

#include "dbk/error.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

bool
dbk_prompt_interactive(void)
{
    return isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
}

int
dbk_prompt_line(const char *prompt, char *buf, size_t cap)
{
    fputs(prompt, stdout);
    fflush(stdout);
    if (fgets(buf, (int)cap, stdin) == NULL) {
        buf[0] = '\0';
        return -1;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

int
dbk_prompt_confirm(const char *question)
{
    char b[32];
    for (;;) {
        if (dbk_prompt_line(question, b, sizeof b) != 0)
            return -1;
        if (strcasecmp(b, "yes") == 0 || strcasecmp(b, "y") == 0)
            return 1;
        if (strcasecmp(b, "no") == 0 || strcasecmp(b, "n") == 0 || b[0] == '\0')
            return 0;
        printf("Please type yes or no.\n");
    }
}

/* Whether line is only numbers (and separators); fills chosen[] with them when in range. */
static int
parse_numbers(const char *line, size_t n, bool multi, bool *chosen, size_t *bad)
{
    const char *p = line;
    size_t count = 0;

    for (size_t i = 0; i < n; i++)
        chosen[i] = false;
    while (*p != '\0') {
        char *end;
        unsigned long v;
        if (*p == ' ' || *p == ',' || *p == '\t') {
            p++;
            continue;
        }
        if (*p < '0' || *p > '9')
            return -1; /* words, not numbers */
        v = strtoul(p, &end, 10);
        p = end;
        if (*p != '\0' && *p != ' ' && *p != ',' && *p != '\t')
            return -1;
        if (v < 1 || v > n) {
            *bad = v;
            return -2;
        }
        chosen[v - 1] = true;
        count++;
    }
    if (!multi && count > 1)
        return -3;
    return (int)count;
}

int
dbk_prompt_pick(const char *title, const char *const *labels, size_t n, bool multi,
                bool *chosen, char *other, size_t other_cap)
{
    char line[1024];

    printf("%s\n", title);
    for (size_t i = 0; i < n; i++)
        printf("  %2zu) %s\n", i + 1, labels[i]);
    if (other != NULL)
        other[0] = '\0';
    for (;;) {
        size_t bad = 0;
        int got;
        if (dbk_prompt_line(multi ? (other != NULL ? "Numbers (e.g. 1 3), your own words, or "
                                                     "Enter for none: "
                                                   : "Numbers (e.g. 1 3), or Enter for none: ")
                                  : "Number: ",
                            line, sizeof line) != 0)
            return -1;
        got = parse_numbers(line, n, multi, chosen, &bad);
        if (got >= 0)
            return got;
        if (got == -2) {
            printf("There is no %zu in the list; pick 1 to %zu.\n", bad, n);
        } else if (got == -3) {
            printf("Pick one number, 1 to %zu.\n", n);
        } else if (other != NULL) {
            snprintf(other, other_cap, "%s", line); /* free text: the caller keeps it whole */
            return 0;
        } else {
            printf("Type the number%s from the list (1 to %zu).\n", multi ? "s" : "", n);
        }
    }
}

/* ---- unlocking before the questions, and drafts ---- */

int
dbk_prompt_unlock(dbk_session *s)
{
    const char *file = getenv("DAYBOOK_PASSPHRASE_FILE"), *fdv = getenv("DAYBOOK_PASSPHRASE_FD");
    int tries = (file != NULL && *file) || (fdv != NULL && *fdv) ? 1 : 3, rc = DBK_E_PASSPHRASE;
    for (int i = 1; i <= tries; i++) {
        if ((rc = dbk_unlock(s)) != DBK_E_PASSPHRASE)
            break;
        if (i < tries)
            fprintf(stderr, "That passphrase did not unlock Daybook (try %d of %d).\n", i + 1,
                    tries);
    }
    if (rc == DBK_OK) {
        (void)dbk_draft_remember_pk(s);
        dbk_prompt_drafts_saved(s);
    }
    return rc;
}

void
dbk_prompt_drafts_saved(dbk_session *s)
{
    size_t saved = 0;
    if (dbk_draft_count(s) == 0)
        return;
    (void)dbk_draft_import(s, &saved);
    if (saved > 0)
        fprintf(stderr, "Saved %zu entr%s you typed earlier, when the passphrase did not "
                        "unlock Daybook.\n", saved, saved == 1 ? "y" : "ies");
}

bool
dbk_prompt_keep_draft(dbk_session *s, int kind, const json_t *doc, const char *what)
{
    int rc = dbk_draft_keep(s, kind, doc);
    if (rc == DBK_OK)
        fprintf(stderr, "Your %s is not lost: it is kept on this device, sealed so only your "
                        "passphrase opens it, and saved the next time Daybook unlocks.\n", what);
    else
        fprintf(stderr, "daybook: your %s could not be kept as a draft either (%s)\n", what,
                rc == DBK_E_NOT_FOUND ? "this device has not been unlocked since drafts exist"
                                      : dbk_err_message(rc));
    return rc == DBK_OK;
}
