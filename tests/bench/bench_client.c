/*
 * bench_client --daybookd PATH --daybook PATH --out FILE: the figures a user
 * feels, with the real daybookd and the real daybook CLI on 127.0.0.1.
 *
 * (a) A counselor's caseload of 40 clients x 900 records. Each client is made
 *     with the real CLI (counselor `invite`, client `init` and `enroll`, which
 *     seals the consent grant). Its history (cravings, journal entries and
 *     checklist days spread over the last months, built field by field as
 *     cmd_craving.c, cmd_journal.c and cmd_checklist.c build them) is sealed
 *     in-process with dbk_entry_save, the function those commands call, inside
 *     one local transaction, as if logged offline; then the real `daybook sync`
 *     pushes it in one sync. Before seeding, the first client logs one entry of
 *     each kind with the real CLI and the generator's version of the same entry
 *     must be byte-identical (seed_generator_matches_cli). The counselor's
 *     profile has synced nothing since it enrolled (no grants, no client keys,
 *     no entries): its `daybook sync` is the cold sync; then `daybook clients`
 *     and `daybook review ID` for every client, each a new process as a
 *     counselor runs them. Each review's craving count is checked against the
 *     generator's (review_counts_match). Peak RSS is ru_maxrss of the CLI
 *     process (wait4); the server's is VmHWM, reset before the cold sync.
 *     Baselines measured in the same run: one in-process verify + decrypt of
 *     every envelope (dbk_envelope_open), the least any reading of the whole
 *     caseload costs, and one in-process load of every entry (dbk_eu_load).
 *
 * (b) `daybook craving ...` with the keys unlocked (`daybook unlock`: kernel
 *     keyring), in the profile of a client with 900 entries, p50/p99 over 100
 *     runs interleaved with the baselines `daybook version` (process start,
 *     dynamic libraries, libsodium init: the floor of any daybook command) and
 *     /bin/true (process start alone), and the floor of a durable local commit on
 *     the same disk (one spool record appended and synced): `version` plus
 *     that commit is the least a durable `craving` can cost. Such a craving, an
 *     ordinary one (no crisis card), goes to the profile's spool without opening
 *     it (client/book/spool.h); the next command that reads entries folds the
 *     spool in, so the cost moved there is measured too: `daybook log` right after
 *     the runs (folding every craving they logged) against a second `log`. A few
 *     runs with the keys locked show what the unlock saves (Argon2id per command).
 *
 * --compare DAYBOOK (with --compare-runs N, default 5) also times the cold sync by
 * this daybook and by another build, interleaved on copies of the same profile
 * (cold_compare): an optimisation's effect, measured in one run.
 *
 * Everything lives in one temp dir, removed at the end; the keyring entries
 * the profiles create are removed as soon as a profile is done (and expire by
 * themselves). daybookd binds 127.0.0.1 on a free port and dies with this
 * process (PR_SET_PDEATHSIG); every wait is bounded. Benchmarks print; they
 * never fail CI and are not ctest tests.
 */
#include "bench_rows.h"

#include "dbk_test.h"
#include "entries.h"
#include "spool_file.h"
#include "unlock.h"
#include "stream_key.h"

#include "dbk/error.h"
#include "dbk/init.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define CLIENTS_DEFAULT 40
#define RECORDS_DEFAULT 900
#define CRAVING_RUNS_DEFAULT 100
#define LOCKED_RUNS 5
#define WARMUP_RUNS 3
#define CLI_TIMEOUT_S 300
#define WATCHDOG_S 3600
#define UNLOCK_SECONDS "900" /* keyring entries expire by themselves even if we die */
#define PASSPHRASE "a long benchmark passphrase"
#define REVIEW_DAYS 7 /* counselor.h DBK_REVIEW_DEFAULT_DAYS: no session marker yet */

static const char *daybookd_bin, *daybook_bin;
static const char *compare_bin; /* --compare: a second daybook for the cold sync */
static int compare_runs = 5;
static char *root;         /* the temp dir of everything */
static char errfile[4200]; /* stderr of the last CLI run */
static volatile pid_t server_pid;
static char server_url[64];
static char *homes[256]; /* profiles whose keys may be in the keyring */
static size_t nhomes;

/* ---- failure and clean-up ---- */

static void lock_profile(const char *home);

static void
cleanup(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    for (size_t i = 0; i < nhomes; i++)
        if (homes[i] != NULL)
            lock_profile(homes[i]);
    if (server_pid > 0) {
        int st;
        kill(server_pid, SIGTERM);
        for (int i = 0; i < 2000 && waitpid(server_pid, &st, WNOHANG) == 0; i++)
            usleep(10000);
        if (waitpid(server_pid, &st, WNOHANG) == 0) {
            kill(server_pid, SIGKILL);
            waitpid(server_pid, &st, 0);
        }
        server_pid = 0;
    }
    if (root != NULL && getenv("DAYBOOK_KEEP_TMP") == NULL)
        dbk_rmtree(root);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
    va_list ap;
    fputs("bench_client: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1); /* cleanup() runs: keys locked, server stopped, temp dir removed */
}

/* The watchdog: whatever hangs, the server goes and we go. */
static void
on_alarm(int sig)
{
    static const char msg[] = "bench_client: watchdog: took too long, giving up\n";
    (void)sig;
    if (server_pid > 0)
        kill(server_pid, SIGKILL);
    (void)!write(2, msg, sizeof msg - 1);
    _exit(3);
}

static char *
read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, r;
    if (f == NULL)
        return strdup("");
    do {
        if (cap - len < 65536) {
            cap = cap ? cap * 2 : 65536;
            if ((buf = realloc(buf, cap)) == NULL)
                die("out of memory");
        }
        r = fread(buf + len, 1, cap - len - 1, f);
        len += r;
    } while (r > 0);
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* ---- running the CLI ----
 *
 * A child's ru_maxrss is at least the RSS of the process it was forked from: exec
 * records the peak of the memory it replaces (for a vfork child, the parent's own
 * peak). This process grows (it opens the whole caseload in-process), so the CLI
 * is started by a launcher forked at the very beginning, while it is small: the
 * launcher spawns, times and reaps each command and sends back what wait4 said.
 * Its RSS (the libraries loaded at start) is below that of any daybook process,
 * so the peak reported is the command's own.
 */

struct run {
    int status;      /* exit code, 128 + signal, or -1 on timeout */
    double wall_s;   /* spawn to reaped, measured in the launcher */
    long maxrss_kib; /* ru_maxrss of the child */
    double cpu_s;    /* its user + system CPU time, all threads */
};

#define LAUNCH_MAX 65536
static int launcher_fd = -1;

/* Waits for pid up to timeout_s without polling delays (a pidfd), then reaps it. */
static void
reap(pid_t pid, int timeout_s, struct run *r)
{
    struct rusage ru;
    int st = 0;
    bool timed_out = false;
    pid_t got = 0;

    memset(&ru, 0, sizeof ru);
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        struct pollfd p = {fd, POLLIN, 0};
        int n;
        while ((n = poll(&p, 1, timeout_s * 1000)) < 0 && errno == EINTR)
            ;
        timed_out = n == 0;
        close(fd);
    } else
#endif
    {
        /* No pidfd: short sleeps, so the figures are a little coarser. */
        double deadline = br_now() + timeout_s;
        while (!timed_out && (got = wait4(pid, &st, WNOHANG, &ru)) == 0) {
            usleep(200);
            timed_out = br_now() > deadline;
        }
    }
    if (timed_out)
        kill(pid, SIGKILL);
    while (got != pid && (got = wait4(pid, &st, 0, &ru)) < 0 && errno == EINTR)
        ;
    r->status = timed_out ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r->maxrss_kib = ru.ru_maxrss;
    r->cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * The launcher's loop. A request is one packet of NUL-terminated strings: stdout
 * path ("" for /dev/null), stderr path, the environment ("K=V" each), an empty
 * string, then argv. The reply is a struct run.
 */
static void
launcher(int fd)
{
    static char buf[LAUNCH_MAX + 1];
    for (;;) {
        char *envp[512], *argv[64], *p, *end;
        const char *out, *err;
        size_t ne = 0, na = 0;
        posix_spawn_file_actions_t fa;
        struct run r = {-1, 0, 0, 0};
        pid_t pid;
        double t0;
        ssize_t n = recv(fd, buf, LAUNCH_MAX, 0);

        if (n <= 0)
            _exit(0); /* the benchmark is gone */
        buf[n] = '\0';
        end = buf + n;
        out = p = buf;
        p += strlen(p) + 1;
        err = p;
        p += strlen(p) + 1;
        while (p < end && *p != '\0' && ne < 511) {
            envp[ne++] = p;
            p += strlen(p) + 1;
        }
        envp[ne] = NULL;
        for (p++; p < end && na < 63; p += strlen(p) + 1)
            argv[na++] = p;
        argv[na] = NULL;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, out[0] ? out : "/dev/null",
                                         O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        t0 = br_now();
        if (na > 0 && posix_spawn(&pid, argv[0], &fa, NULL, argv, envp) == 0) {
            reap(pid, CLI_TIMEOUT_S, &r);
            r.wall_s = br_now() - t0;
        } else {
            r.status = 127;
        }
        posix_spawn_file_actions_destroy(&fa);
        if (send(fd, &r, sizeof r, 0) != (ssize_t)sizeof r)
            _exit(1);
    }
}

/* Forks the launcher; call first thing, while this process is small. */
static void
launcher_start(void)
{
    int sv[2];
    pid_t parent = getpid(), pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        die("socketpair: %s", strerror(errno));
    if ((pid = fork()) < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(sv[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        signal(SIGALRM, SIG_DFL);
        launcher(sv[1]);
    }
    close(sv[1]);
    launcher_fd = sv[0];
}

static size_t
put(char *buf, size_t at, const char *s)
{
    size_t n = strlen(s) + 1;
    if (at + n > LAUNCH_MAX)
        die("a command line and environment over %d bytes", LAUNCH_MAX);
    memcpy(buf + at, s, n);
    return at + n;
}

/* Runs argv with stdin from /dev/null, stdout to out (NULL: /dev/null), stderr to
 * errfile, in this process's current environment. */
static void
run_argv(const char *const *argv, const char *out, struct run *r)
{
    static char buf[LAUNCH_MAX];
    size_t at = 0;

    at = put(buf, at, out ? out : "");
    at = put(buf, at, errfile);
    for (char **e = environ; *e != NULL; e++)
        at = put(buf, at, *e);
    at = put(buf, at, "");
    for (size_t i = 0; argv[i] != NULL; i++)
        at = put(buf, at, argv[i]);
    if (send(launcher_fd, buf, at, 0) != (ssize_t)at ||
        recv(launcher_fd, r, sizeof *r, 0) != (ssize_t)sizeof *r)
        die("the launcher is gone");
    if (r->status == 127)
        die("cannot run %s", argv[0]);
}

/* `daybook ARGS...` (NULL-terminated) as the profile in home; dies unless it exits 0. */
static struct run
cli(const char *home, const char *out, const char *a1, ...)
{
    const char *argv[32] = {daybook_bin, a1};
    size_t n = 2;
    struct run r;
    va_list ap;

    va_start(ap, a1);
    while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;
    if (home != NULL)
        setenv("DAYBOOK_HOME", home, 1);
    run_argv(argv, out, &r);
    if (r.status != 0) {
        char *err = read_text(errfile);
        die("daybook %s %s: exit %d: %s", a1, n > 2 ? argv[2] : "", r.status, err);
    }
    return r;
}

/* The JSON that a `daybook --json ...` run printed. */
static json_t *
out_json(const char *path)
{
    char *text = read_text(path);
    json_t *j = json_loads(text, 0, NULL);
    if (j == NULL)
        die("not JSON: %.200s", text);
    free(text);
    return j;
}

/* ---- daybookd ---- */

/*
 * daybookd serve with its defaults, except that a caseload larger than the default
 * 40 raises the per-account burst: the counselor's invites, cold sync (one request
 * per client key and per round) and one caseload request per review come within
 * seconds, and the default burst of 200 fits about 40 clients.
 */
static void
server_start(const char *dir, int nclients)
{
    char data[4300], port_file[4300], log[4300], burst[16];
    pid_t parent = getpid(), pid;
    double deadline;

    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(port_file, sizeof port_file, "%s/port", dir);
    snprintf(log, sizeof log, "%s/daybookd.log", dir);
    if ((pid = fork()) < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        const char *argv[] = {daybookd_bin, "serve", "--listen",    "127.0.0.1:0",
                              "--data-dir", data,    "--port-file", port_file,
                              NULL,         NULL,    NULL};
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        /* --compare syncs and reviews the caseload again and again with one token:
         * more than a counselor's burst allows, and a refusal is not what is timed. */
        if (nclients > CLIENTS_DEFAULT || compare_bin != NULL) {
            int n = compare_bin != NULL ? 200 * nclients * (compare_runs + 1) : 5 * nclients;
            snprintf(burst, sizeof burst, "%d", n);
            argv[8] = "--rate-burst";
            argv[9] = burst;
        }
        /* The server must not outlive the benchmark, however it ends. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    server_pid = pid;
    deadline = br_now() + 20;
    while (br_now() < deadline) {
        char *p = read_text(port_file);
        int port = atoi(p);
        free(p);
        if (port > 0) {
            snprintf(server_url, sizeof server_url, "http://127.0.0.1:%d", port);
            return;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            server_pid = 0;
            break;
        }
        usleep(10000);
    }
    die("daybookd did not start: %s", read_text(log));
}

/* A "Vm...:" figure of the server's /proc status, in KiB. */
static long
server_vm(const char *field)
{
    char path[64], *text, *p;
    long v = -1;
    snprintf(path, sizeof path, "/proc/%d/status", (int)server_pid);
    text = read_text(path);
    if ((p = strstr(text, field)) != NULL)
        v = strtol(p + strlen(field) + 1, NULL, 10);
    free(text);
    return v;
}

/* Starts the server's peak RSS (VmHWM) over from its current RSS (proc(5) clear_refs). */
static void
server_reset_hwm(void)
{
    char path[64];
    int fd;
    snprintf(path, sizeof path, "/proc/%d/clear_refs", (int)server_pid);
    if ((fd = open(path, O_WRONLY)) >= 0) {
        (void)!write(fd, "5", 1);
        close(fd);
    }
}

/* ---- profiles in-process (daybook_core) ---- */

static void
lock_profile(const char *home)
{
    dbk_session s;
    setenv("DAYBOOK_HOME", home, 1);
    if (dbk_session_open(&s, false) == DBK_OK) {
        dbk_unlock_forget(&s);
        dbk_session_close(&s);
    }
}

static char *
new_home(const char *name)
{
    char *h = malloc(strlen(root) + strlen(name) + 2);
    if (h == NULL || nhomes == sizeof homes / sizeof homes[0])
        die("too many profiles");
    sprintf(h, "%s/%s", root, name);
    homes[nhomes++] = h;
    return h;
}

/* ---- the generator: a client's history as the CLI writes it ---- */

static uint64_t rng = 0x5EED8BE7C0FFEEULL;

static uint32_t
pick(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11) % n;
}

static const char *const kinds[] = {"people", "places", "things", "times", "emotions", "cues"};
static const char *const values[6][3] = {
    {"old using friend", "my brother", "coworker"}, {"bar on 5th", "home alone", "payday"},
    {"cash in my pocket", "a lighter", "beer ad"},  {"friday night", "after work", "sunday"},
    {"bored", "anxious", "lonely at night"},        {"smell of smoke", "a song", "the old street"},
};
static const char *const halts[] = {"hungry", "angry", "lonely", "tired"};
static const char *const copings[] = {"urge_surfing",        "call_support", "distraction",
                                      "recall_consequences", "exercise",     "breathing"};
static const char *const substances[] = {"alcohol", "cannabis", "opioids", "nicotine"};
static const char *const situations[] = {
    "Walked past the bar on the way home from work.",
    "Argument with my brother on the phone, then alone in the flat.",
    "Payday, friends asked me out.",
    "Could not sleep, scrolling until 2am.",
};
static const char *const sentences[] = {
    "Slept badly but walked to the meeting anyway.",
    "A calmer day; cooked dinner with my sister and talked about the summer.",
    "The urge came at the bus stop and I remembered to ride it out; it passed.",
    "Work was hard and I felt like nobody noticed the effort I am putting in.",
    "Called my sponsor before it got bad, which felt like a small win.",
    "Went for a run in the rain. Tired, but clearer in my head afterwards.",
    "Thinking a lot about what my counselor said about triggers at home.",
    "Did the breathing exercise twice today, once in the car before going in.",
};
/* Daybook's default checklist items (proto/schemas/README.md). */
static const char *const items[] = {
    "exercise",        "journaling",        "called_support",     "mindfulness",
    "slept_enough",    "regular_meals",     "attended_treatment", "practised_coping_skill",
    "took_medication", "avoided_high_risk", "scheduled_day"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* A craving's options, as the flags of `daybook craving` give them. */
struct craving_opts {
    int intensity;
    bool scale100;
    bool used;
    const char *used_what;   /* NULL: not said */
    const char *situation;   /* NULL: none */
    int ntrig, tk[3], tv[3]; /* --trigger KIND:VALUE, in order */
    bool halt[4];
    int ncope, cope[3];
    char at[40]; /* --at, RFC 3339 */
};

/* The plaintext cmd_craving.c builds from these options (the same calls in the same
 * order, so the same bytes: the key order decides the length, hence the padding). */
static json_t *
craving_doc(const struct craving_opts *o, const char *tz)
{
    json_t *doc = json_object(), *triggers = json_object(), *coping = json_array(),
           *subst = json_array(), *halt = json_array(), *outcome, *base;
    const char *result = o->used ? "used" : "resisted";

    for (int t = 0; t < o->ntrig; t++) {
        const char *k = kinds[o->tk[t]];
        if (json_object_get(triggers, k) == NULL)
            json_object_set_new(triggers, k, json_array());
        json_array_append_new(json_object_get(triggers, k),
                              json_string(values[o->tk[t]][o->tv[t]]));
    }
    for (int h = 0; h < 4; h++)
        if (o->halt[h])
            json_array_append_new(halt, json_string(halts[h]));
    for (int c = 0; c < o->ncope; c++)
        json_array_append_new(coping, json_string(copings[o->cope[c]]));
    if (o->situation != NULL)
        json_object_set_new(doc, "situation", json_string(o->situation));
    outcome = json_pack("{s:s}", "result", result);
    if (o->used)
        json_object_set_new(outcome, "used",
                            o->used_what ? json_pack("{s:s}", "substance", o->used_what)
                                         : json_object());
    base = json_pack("{s:s, s:i, s:s, s:s, s:{s:i, s:s}, s:o}", "type", "craving", "v", 1,
                     "occurred_at", o->at, "tz", tz, "intensity", "value", o->intensity, "scale",
                     o->scale100 ? "1-100" : "0-10", "outcome", outcome);
    json_object_update(doc, base);
    json_decref(base);
    if (json_array_size(halt) > 0)
        json_object_set(triggers, "halt", halt);
    if (json_object_size(triggers) > 0)
        json_object_set(doc, "triggers", triggers);
    if (json_array_size(coping) > 0)
        json_object_set(doc, "coping", coping);
    if (json_array_size(subst) > 0)
        json_object_set(doc, "substances", subst);
    json_decref(triggers);
    json_decref(coping);
    json_decref(subst);
    json_decref(halt);
    return doc;
}

/* The argv of `daybook craving` for the same options (the generator's check). */
static void
craving_argv(const struct craving_opts *o, const char **argv, char bufs[][80])
{
    size_t n = 0, b = 0;
    argv[n++] = daybook_bin;
    argv[n++] = "craving";
    snprintf(bufs[b], 80, "%d", o->intensity);
    argv[n++] = "--intensity";
    argv[n++] = bufs[b++];
    if (o->scale100) {
        argv[n++] = "--scale";
        argv[n++] = "1-100";
    }
    argv[n++] = "--outcome";
    argv[n++] = o->used ? "used" : "resisted";
    if (o->used_what) {
        argv[n++] = "--used-what";
        argv[n++] = o->used_what;
    }
    if (o->situation) {
        argv[n++] = "--situation";
        argv[n++] = o->situation;
    }
    for (int t = 0; t < o->ntrig; t++) {
        snprintf(bufs[b], 80, "%s:%s", kinds[o->tk[t]], values[o->tk[t]][o->tv[t]]);
        argv[n++] = "--trigger";
        argv[n++] = bufs[b++];
    }
    bufs[b][0] = '\0';
    for (int h = 0; h < 4; h++)
        if (o->halt[h]) {
            if (bufs[b][0])
                strcat(bufs[b], ",");
            strcat(bufs[b], halts[h]);
        }
    if (bufs[b][0]) {
        argv[n++] = "--halt";
        argv[n++] = bufs[b++];
    }
    for (int c = 0; c < o->ncope; c++) {
        argv[n++] = "--coping";
        argv[n++] = copings[o->cope[c]];
    }
    argv[n++] = "--at";
    argv[n++] = o->at;
    argv[n] = NULL;
}

static json_t *
journal_doc(const char *text, int mood, const char *at, const char *tz)
{
    /* cmd_journal.c: shared (no --private), a mood, no tags or prompt. */
    json_t *doc = json_pack("{s:s, s:i, s:s, s:s, s:s, s:b}", "type", "journal", "v", 1, "text",
                            text, "written_at", at, "tz", tz, "shared", 1);
    json_object_set_new(doc, "mood", json_integer(mood));
    return doc;
}

static json_t *
checklist_doc(const char *date, const char *tz, const bool on[NELEM(items)], bool journaled)
{
    /* cmd_checklist.c, `check ITEMS... --date DATE` on a day without a record yet; or,
     * journaled, on the day a journal entry was written, which ticked "journaling"
     * first (cmd_journal.c: dbk_checklist_tick made the day's record), the items
     * checked after it appended in order. */
    json_t *doc = json_pack("{s:s, s:i, s:s, s:s}", "type", "checklist_day", "v", 1, "date", date,
                            "tz", tz),
           *all = json_array();
    if (journaled)
        json_array_append_new(all, json_string("journaling"));
    for (size_t k = 0; k < NELEM(items); k++)
        if (on[k] && !(journaled && strcmp(items[k], "journaling") == 0))
            json_array_append_new(all, json_string(items[k]));
    json_object_set_new(doc, "checked", all);
    return doc;
}

/* Local RFC 3339 time of t, as dbk_now_rfc3339 writes it. */
static void
rfc3339(time_t t, char out[40])
{
    struct tm tm;
    char off[8];
    localtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    strftime(off, sizeof off, "%z", &tm);
    snprintf(out + strlen(out), 40 - strlen(out), "%.3s:%.2s", off, off + 3);
}

static void
random_craving(struct craving_opts *o, time_t at, int days_ago)
{
    /* Stronger months ago, weaker lately, with noise. */
    int base = 3 + (days_ago > 200 ? 4 : days_ago > 100 ? 2 : 1);
    memset(o, 0, sizeof *o);
    o->intensity = base + (int)pick(4) - 1;
    o->scale100 = pick(8) == 0;
    if (o->scale100)
        o->intensity = o->intensity * 10 + (int)pick(9);
    o->used = pick(30) == 0;
    o->used_what = o->used && pick(3) ? substances[pick(NELEM(substances))] : NULL;
    o->situation = pick(4) == 0 ? situations[pick(NELEM(situations))] : NULL;
    o->ntrig = (int)pick(4);
    for (int t = 0; t < o->ntrig; t++) {
        bool dup;
        do {
            o->tk[t] = (int)pick(NELEM(kinds));
            o->tv[t] = (int)pick(3);
            dup = false;
            for (int u = 0; u < t; u++)
                dup = dup || (o->tk[u] == o->tk[t] && o->tv[u] == o->tv[t]);
        } while (dup);
    }
    for (int h = 0; h < 4; h++)
        o->halt[h] = pick(4) == 0;
    o->ncope = (int)pick(4);
    for (int c = 0; c < o->ncope; c++) {
        bool dup;
        do {
            o->cope[c] = (int)pick(NELEM(copings));
            dup = false;
            for (int u = 0; u < c; u++)
                dup = dup || o->cope[u] == o->cope[c];
        } while (dup);
    }
    rfc3339(at, o->at);
}

/* What the review over the default period must count, from the generator's own docs. */
static long expected_cravings;

static void
count_expected(const json_t *doc, int64_t today)
{
    int64_t d;
    if (strcmp(json_string_value(json_object_get(doc, "type")), "craving") == 0 &&
        dbk_eu_entry_day(doc, &d) && d > today - REVIEW_DAYS && d <= today)
        expected_cravings++;
}

/*
 * n records of history for the client in home, newest first from now backwards,
 * sealed with dbk_entry_save in one transaction (entries logged offline, waiting
 * in the outbox for the next sync).
 */
static void
seed_history(const char *home, int n)
{
    dbk_session s;
    char tz[64];
    time_t now = time(NULL);
    int64_t today = dbk_eu_today();
    int made = 0, rc;

    setenv("DAYBOOK_HOME", home, 1);
    dbk_local_tz(tz, sizeof tz);
    if ((rc = dbk_session_open(&s, false)) != DBK_OK || (rc = dbk_unlock(&s)) != DBK_OK ||
        (rc = dbk_local_begin(s.L)) != DBK_OK)
        die("seeding %s: %s", home, dbk_err_message(rc));
    for (int day = 0; made < n; day++) {
        /* Going back a day at a time: 1-3 cravings, a journal entry on about half of the
         * days, the checklist on most; never more than 365 days back (the CLI's limit). */
        time_t noon = now - (time_t)day * 86400;
        int ncr = 1 + (int)pick(3);
        json_t *docs[6];
        int nd = 0;
        if (day > 360)
            die("the history does not fit in a year; lower --records");
        for (int c = 0; c < ncr; c++) {
            struct craving_opts o;
            /* A time on that day, not after now. */
            time_t at = noon - (time_t)pick(12 * 3600);
            random_craving(&o, at, day);
            docs[nd++] = craving_doc(&o, tz);
        }
        char jday[11] = ""; /* the local day of the journal entry written, if any */
        if (pick(2) == 0) {
            char text[600] = "", at[40];
            int k = 1 + (int)pick(4);
            for (int i = 0; i < k; i++) {
                if (i)
                    strcat(text, " ");
                strcat(text, sentences[pick(NELEM(sentences))]);
            }
            rfc3339(noon - (time_t)pick(6 * 3600), at);
            snprintf(jday, sizeof jday, "%.10s", at);
            docs[nd++] = journal_doc(text, 1 + (int)pick(5), at, tz);
        }
        if (pick(10) != 0) {
            bool on[NELEM(items)];
            char date[11];
            struct tm tm;
            for (size_t k = 0; k < NELEM(items); k++)
                on[k] = k < 6 && pick(100) < 60;
            on[pick(6)] = true;
            localtime_r(&noon, &tm);
            strftime(date, sizeof date, "%Y-%m-%d", &tm);
            /* A journal entry that day ticked "journaling", as the CLI's does. (A journal
             * on a day without a checklist would have made a record of its own: not
             * generated, a small difference in count only.) */
            docs[nd++] = checklist_doc(date, tz, on, strcmp(jday, date) == 0);
        }
        for (int i = 0; i < nd; i++) {
            if (made < n) {
                count_expected(docs[i], today);
                if ((rc = dbk_entry_save(&s, DBK_LOCAL_SHARED, NULL, docs[i], NULL)) != DBK_OK)
                    die("dbk_entry_save: %s", dbk_err_message(rc));
                made++;
            }
            json_decref(docs[i]);
        }
    }
    if ((rc = dbk_local_commit(s.L)) != DBK_OK)
        die("seeding %s: commit: %s", home, dbk_err_message(rc));
    dbk_session_close(&s);
}

/* ---- the generator's check against the real CLI ---- */

struct found {
    json_t *docs[3]; /* craving, journal, checklist_day */
};

static void
on_found(const dbk_entry *e, void *arg)
{
    struct found *f = arg;
    const char *type = json_string_value(json_object_get(e->doc, "type"));
    int k = strcmp(type, "craving") == 0   ? 0
            : strcmp(type, "journal") == 0 ? 1
            : strcmp(type, "checklist_day") == 0 ? 2
                                                 : -1; /* pins, heads: the CLI's bookkeeping */
    if (k >= 0 && f->docs[k] == NULL)
        f->docs[k] = json_incref(e->doc);
}

static bool
same_bytes(const json_t *a, const json_t *b, const char *what)
{
    char *x = json_dumps(a, JSON_COMPACT), *y = json_dumps(b, JSON_COMPACT);
    bool same = x && y && strcmp(x, y) == 0;
    if (!same)
        fprintf(stderr, "bench_client: the generator's %s differs from the CLI's:\n  %s\n  %s\n",
                what, x ? x : "?", y ? y : "?");
    free(x);
    free(y);
    return same;
}

/*
 * Logs one craving, one journal entry and one checklist day with the real CLI in
 * home (which has no entries yet) and compares them with the generator's docs for
 * the same options. Returns 3 (the records made) and sets *match.
 */
static int
check_generator(const char *home, bool *match)
{
    struct craving_opts o;
    const char *argv[48];
    char bufs[8][80], at[40], tz[64], date[11];
    static const char jtext[] = "Called my sponsor before it got bad, which felt like a win.";
    bool on[NELEM(items)] = {false};
    time_t t = time(NULL) - 3 * 86400;
    struct tm tm;
    /* Noon of that day, so the journal an hour before is on the same day as the
     * checklist (and ticks "journaling" on it, as the CLI does). */
    localtime_r(&t, &tm);
    tm.tm_hour = 12, tm.tm_min = tm.tm_sec = 0, tm.tm_isdst = -1;
    t = mktime(&tm);
    struct run r;
    struct found f = {{NULL, NULL, NULL}};
    dbk_session s;
    size_t bad;
    json_t *mine[3];

    memset(&o, 0, sizeof o);
    o.intensity = 7;
    o.used = true;
    o.used_what = "alcohol";
    o.situation = situations[2];
    o.ntrig = 2;
    o.tk[0] = 4, o.tv[0] = 0, o.tk[1] = 0, o.tv[1] = 2;
    o.halt[1] = o.halt[3] = true;
    o.ncope = 2;
    o.cope[0] = 1, o.cope[1] = 0;
    rfc3339(t, o.at);
    craving_argv(&o, argv, bufs);
    setenv("DAYBOOK_HOME", home, 1);
    run_argv(argv, NULL, &r);
    if (r.status != 0)
        die("daybook craving: exit %d: %s", r.status, read_text(errfile));
    rfc3339(t - 3600, at);
    cli(home, NULL, "journal", "-m", jtext, "--mood", "4", "--at", at, NULL);
    localtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    on[0] = on[3] = true;
    cli(home, NULL, "check", items[0], items[3], "--date", date, NULL);

    dbk_local_tz(tz, sizeof tz);
    mine[0] = craving_doc(&o, tz);
    mine[1] = journal_doc(jtext, 4, at, tz);
    mine[2] = checklist_doc(date, tz, on, true);
    if (dbk_session_open(&s, false) != DBK_OK || dbk_entries(&s, on_found, &f, &bad) != DBK_OK)
        die("cannot read the CLI's entries");
    dbk_session_close(&s);
    *match = f.docs[0] && f.docs[1] && f.docs[2] && same_bytes(mine[0], f.docs[0], "craving") &&
             same_bytes(mine[1], f.docs[1], "journal") &&
             same_bytes(mine[2], f.docs[2], "checklist day");
    for (int i = 0; i < 3; i++) {
        /* These three are in the review's period only if logged within it. */
        count_expected(mine[i], dbk_eu_today());
        json_decref(mine[i]);
        json_decref(f.docs[i]);
    }
    return 3;
}

/* ---- the caseload ---- */

struct client {
    char *home;
    char account[64];
};

static void
make_caseload(const char *cohome, struct client *cl, int nclients, int nrecords, bool *match,
              double *seed_s)
{
    char out[4200];
    double t0 = br_now();
    json_t *j;

    snprintf(out, sizeof out, "%s/out.json", root);
    for (int i = 0; i < nclients; i++) {
        char name[32], uri[1024];
        struct run r;
        int made = 0;

        cli(cohome, out, "--json", "invite", NULL);
        j = out_json(out);
        snprintf(uri, sizeof uri, "%s", json_string_value(json_object_get(j, "uri")));
        json_decref(j);

        snprintf(name, sizeof name, "client-%02d", i);
        cl[i].home = new_home(name);
        cli(cl[i].home, out, "--json", "init", NULL);
        j = out_json(out);
        snprintf(cl[i].account, sizeof cl[i].account, "%s",
                 json_string_value(json_object_get(j, "account")));
        json_decref(j);
        cli(cl[i].home, NULL, "enroll", uri, "--yes", NULL);
        if (i == 0)
            made = check_generator(cl[i].home, match);
        seed_history(cl[i].home, nrecords - made);
        r = cli(cl[i].home, out, "--json", "sync", NULL);
        j = out_json(out);
        /* Beyond the entries, the CLI pushes its bookkeeping (the counselor's pin, the
         * stream heads): at least nrecords. */
        if (json_integer_value(json_object_get(j, "pushed")) < nrecords ||
            json_integer_value(json_object_get(j, "pending")) != 0)
            die("client %d pushed %lld of %d records", i,
                (long long)json_integer_value(json_object_get(j, "pushed")), nrecords);
        json_decref(j);
        if (i > 0)
            lock_profile(cl[i].home); /* done with its keys; the first one logs cravings later */
        if ((i + 1) % 10 == 0 || i + 1 == nclients)
            fprintf(stderr, "bench_client: seeded %d/%d clients (last push %.2f s)\n", i + 1,
                    nclients, r.wall_s);
    }
    *seed_s = br_now() - t0;
}

/* ---- in-process baselines over the counselor's store ---- */

struct env_copy {
    unsigned char *env;
    size_t len;
    dbk_envelope_hdr hdr;
    unsigned char key[32], pk[32];
};

struct env_list {
    dbk_session *s;
    struct env_copy *v;
    size_t n, cap;
};

static void
on_env(const dbk_local_record *r, void *arg)
{
    struct env_list *l = arg;
    struct env_copy *c;
    char name[64], t[DBK_ID_TEXT_LEN + 1];
    size_t n;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        if ((l->v = realloc(l->v, l->cap * sizeof *l->v)) == NULL)
            die("out of memory");
    }
    c = &l->v[l->n];
    dbk_id_to_text(&r->hdr.author, t);
    snprintf(name, sizeof name, "sign_pk:%s", t);
    if (dbk_id_equal(&r->hdr.author, &l->s->account))
        memcpy(c->pk, l->s->keys->sign_pk, 32);
    else if (dbk_local_get(l->s->L, name, c->pk, 32, &n) != DBK_OK)
        return;
    if (dbk_stream_key(l->s, &r->hdr.stream, r->hdr.epoch, c->key) != DBK_OK)
        return;
    if ((c->env = malloc(r->len)) == NULL)
        die("out of memory");
    memcpy(c->env, r->env, r->len);
    c->len = r->len;
    c->hdr = r->hdr;
    l->n++;
}

/*
 * The least a reading of the whole caseload costs: every envelope verified and
 * decrypted once (dbk_envelope_open), timed alone; and one dbk_eu_load, what a
 * `daybook review` or `clients` process does before it computes anything.
 */
static void
inproc_baselines(const char *cohome, double *open_s, double *load_s, size_t *nenv)
{
    dbk_session s;
    struct env_list l = {&s, NULL, 0, 0};
    dbk_eu_list el;
    double t0;
    int rc;

    setenv("DAYBOOK_HOME", cohome, 1);
    if ((rc = dbk_session_open(&s, false)) != DBK_OK || (rc = dbk_unlock(&s)) != DBK_OK ||
        (rc = dbk_local_records(s.L, NULL, on_env, &l)) != DBK_OK)
        die("counselor's store: %s", dbk_err_message(rc));
    t0 = br_now();
    for (size_t i = 0; i < l.n; i++) {
        struct env_copy *c = &l.v[i];
        dbk_envelope_expect x = {&c->hdr.stream, &c->hdr.record, c->hdr.epoch, &c->hdr.author,
                                 c->pk};
        unsigned char *plain;
        size_t plen;
        if (dbk_envelope_open(c->env, c->len, &x, c->key, &plain, &plen) != DBK_OK)
            die("an envelope of the caseload does not open");
        dbk_plaintext_free(plain, plen);
    }
    *open_s = br_now() - t0;
    *nenv = l.n;
    for (size_t i = 0; i < l.n; i++) {
        sodium_memzero(l.v[i].key, sizeof l.v[i].key);
        free(l.v[i].env);
    }
    free(l.v);
    t0 = br_now();
    if ((rc = dbk_eu_load(&s, &el)) != DBK_OK)
        die("dbk_eu_load: %s", dbk_err_message(rc));
    *load_s = br_now() - t0;
    dbk_eu_free(&el);
    dbk_session_close(&s);
}

/* ---- figures ---- */

static int
by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values. */
static double
pct(const double *v, size_t n, double p)
{
    size_t k = (size_t)ceil(p / 100.0 * (double)n);
    return v[k > 0 ? k - 1 : 0];
}

/*
 * --compare PATH: the cold sync by this daybook and by another (an older build, say),
 * each from its own copy of the counselor's profile as it was before any sync, the two
 * interleaved (A B A B ...) against the same server, keys forgotten and unlocked again
 * before each run (the kernel keyring would otherwise hold the stream keys of the run
 * before). The medians and their ratio B/A; the runs of a shared machine drift, and
 * interleaving puts the drift on both sides.
 */
/* What cold_compare times of the reviews after each cold sync (issue 20's cold review),
 * per build (0: --daybook, 1: --compare): the sum of the reviews of every client, per
 * run; every review's time; (cold sync + reviews) / cold sync, per run; the reviews'
 * CPU time, per run. */
struct cmp_reviews {
    double *sum[2], *one[2], *ratio[2], *cpu[2];
    size_t runs, nall;
};

static void
cmp_reviews_init(struct cmp_reviews *c, int nclients)
{
    c->runs = (size_t)compare_runs;
    c->nall = c->runs * (size_t)nclients;
    for (int b = 0; b < 2; b++) {
        c->sum[b] = calloc(c->runs, sizeof(double));
        c->one[b] = calloc(c->nall, sizeof(double));
        c->ratio[b] = calloc(c->runs, sizeof(double));
        c->cpu[b] = calloc(c->runs, sizeof(double));
        if (c->sum[b] == NULL || c->one[b] == NULL || c->ratio[b] == NULL || c->cpu[b] == NULL)
            die("out of memory");
    }
}

/* Their rows (medians), then freed. */
static void
cmp_reviews_rows(br_table *t, struct cmp_reviews *c)
{
    for (int b = 0; b < 2; b++) {
        qsort(c->sum[b], c->runs, sizeof(double), by_value);
        qsort(c->one[b], c->nall, sizeof(double), by_value);
        qsort(c->ratio[b], c->runs, sizeof(double), by_value);
        qsort(c->cpu[b], c->runs, sizeof(double), by_value);
    }
    br_add(t, "compare_review_all_a_s",
           "(--compare) the reviews of every client after each cold sync by --daybook, sum, p50",
           pct(c->sum[0], c->runs, 50), "s", NULL);
    br_add(t, "compare_review_all_b_s", "(--compare) the same by the other",
           pct(c->sum[1], c->runs, 50), "s", "compare_review_all_a_s");
    br_add(t, "compare_review_all_a_cpu_s", "(--compare) their CPU time (user + system), p50",
           pct(c->cpu[0], c->runs, 50), "s", NULL);
    br_add(t, "compare_review_all_b_cpu_s", "(--compare) the same by the other",
           pct(c->cpu[1], c->runs, 50), "s", "compare_review_all_a_cpu_s");
    br_add(t, "compare_review_p50_a_s", "(--compare) one review by --daybook, p50 over every run",
           pct(c->one[0], c->nall, 50), "s", NULL);
    br_add(t, "compare_review_p50_b_s", "(--compare) the same by the other",
           pct(c->one[1], c->nall, 50), "s", "compare_review_p50_a_s");
    br_add(t, "compare_cold_review_ratio_a",
           "(--compare) (cold sync + reviews) / cold sync by --daybook, p50 (target <= 1.2)",
           pct(c->ratio[0], c->runs, 50), "x", NULL);
    br_add(t, "compare_cold_review_ratio_b", "(--compare) the same by the other",
           pct(c->ratio[1], c->runs, 50), "x", NULL);
    for (int b = 0; b < 2; b++) {
        free(c->sum[b]);
        free(c->one[b]);
        free(c->ratio[b]);
        free(c->cpu[b]);
    }
}

/* The reviews of the nclients clients by the daybook in use, one process each, as
 * bench_caseload runs them: their sum, their times in rv (nclients of them), and
 * their CPU time (user + system) summed into *cpu: on a loaded machine the wall
 * time of a 20 ms process moves more than a change to it does. */
static double
compare_reviews(const char *home, const struct client *cl, int nclients, double *rv, double *cpu)
{
    char out[4200];
    double sum = 0;
    snprintf(out, sizeof out, "%s/compare-review.txt", root);
    *cpu = 0;
    for (int c = 0; c < nclients; c++) {
        struct run r = cli(home, out, "review", "--", cl[c].account, NULL);
        rv[c] = r.wall_s;
        sum += r.wall_s;
        *cpu += r.cpu_s;
    }
    return sum;
}

static void
cold_compare(br_table *t, const char *cohome, const struct client *cl, int nclients)
{
    char snap[4200], label[300];
    const char *self = daybook_bin, *bins[2] = {daybook_bin, compare_bin};
    double *v[2] = {calloc((size_t)compare_runs, sizeof(double)),
                    calloc((size_t)compare_runs, sizeof(double))},
           *cpu[2] = {calloc((size_t)compare_runs, sizeof(double)),
                      calloc((size_t)compare_runs, sizeof(double))};
    struct cmp_reviews rv;
    char *home = new_home("counselor-compare");
    struct run r;

    if (v[0] == NULL || v[1] == NULL || cpu[0] == NULL || cpu[1] == NULL)
        die("out of memory");
    cmp_reviews_init(&rv, nclients);
    snprintf(snap, sizeof snap, "%s/counselor-snapshot", root);
    {
        const char *cp[] = {"/bin/cp", "-a", cohome, snap, NULL};
        run_argv(cp, NULL, &r);
        if (r.status != 0)
            die("cannot copy the counselor's profile");
    }
    for (int i = 0; i < compare_runs; i++)
        for (int b = 0; b < 2; b++) {
            const char *cp[] = {"/bin/cp", "-a", snap, home, NULL};
            dbk_rmtree(home);
            run_argv(cp, NULL, &r);
            if (r.status != 0)
                die("cannot copy the counselor's profile");
            lock_profile(home);
            cli(home, NULL, "unlock", NULL);
            daybook_bin = bins[b];
            r = cli(home, NULL, "sync", NULL);
            v[b][i] = r.wall_s;
            cpu[b][i] = r.cpu_s;
            rv.sum[b][i] = compare_reviews(home, cl, nclients, rv.one[b] + (size_t)i * nclients,
                                           &rv.cpu[b][i]);
            rv.ratio[b][i] = (v[b][i] + rv.sum[b][i]) / v[b][i];
            daybook_bin = self;
        }
    lock_profile(home);
    dbk_rmtree(home);
    if (getenv("DAYBOOK_KEEP_TMP") == NULL) /* kept: a cold profile to profile by hand */
        dbk_rmtree(snap);
    for (int b = 0; b < 2; b++) { /* in the order they ran */
        fprintf(stderr, "bench_client: cold sync runs by %s:", bins[b]);
        for (int i = 0; i < compare_runs; i++)
            fprintf(stderr, " %.3f (cpu %.3f, reviews %.3f, their cpu %.3f)", v[b][i], cpu[b][i],
                    rv.sum[b][i], rv.cpu[b][i]);
        fputc('\n', stderr);
    }
    for (int b = 0; b < 2; b++) {
        qsort(v[b], (size_t)compare_runs, sizeof(double), by_value);
        qsort(cpu[b], (size_t)compare_runs, sizeof(double), by_value);
    }
    snprintf(label, sizeof label, "(--compare) cold sync by --daybook, p50 of %d interleaved runs",
             compare_runs);
    br_add(t, "compare_cold_sync_a_s", label, pct(v[0], (size_t)compare_runs, 50), "s", NULL);
    snprintf(label, sizeof label, "(--compare) the same by %s", compare_bin);
    br_add(t, "compare_cold_sync_b_s", label, pct(v[1], (size_t)compare_runs, 50), "s",
           "compare_cold_sync_a_s");
    br_add(t, "compare_cold_sync_a_cpu_s", "(--compare) its CPU time (user + system), p50",
           pct(cpu[0], (size_t)compare_runs, 50), "s", NULL);
    br_add(t, "compare_cold_sync_b_cpu_s", "(--compare) the same by the other",
           pct(cpu[1], (size_t)compare_runs, 50), "s", "compare_cold_sync_a_cpu_s");
    cmp_reviews_rows(t, &rv);
    for (int b = 0; b < 2; b++) {
        free(v[b]);
        free(cpu[b]);
    }
    /* The cold sync below starts as cold as these did. */
    lock_profile(cohome);
}

static void
bench_caseload(br_table *t, int nclients, int nrecords, struct client *cl, const char *cohome)
{
    char out[4200], label[200];
    struct run r;
    double seed_s, review_sum = 0, *review = calloc((size_t)nclients, sizeof *review);
    double open_s, load_s, sync_s;
    long review_rss = 0, hwm_seed, rss_idle, hwm_sync, got_cravings = 0;
    size_t nenv;
    bool match = false;
    json_t *j;
    long long pulled;

    if (review == NULL)
        die("out of memory");
    snprintf(out, sizeof out, "%s/out.txt", root);
    make_caseload(cohome, cl, nclients, nrecords, &match, &seed_s);
    hwm_seed = server_vm("VmHWM:");

    if (compare_bin != NULL)
        cold_compare(t, cohome, cl, nclients);
    /* The cold sync, with the keys unlocked (as a counselor has them at work). */
    cli(cohome, NULL, "unlock", NULL);
    rss_idle = server_vm("VmRSS:");
    server_reset_hwm();
    r = cli(cohome, out, "--json", "sync", NULL);
    hwm_sync = server_vm("VmHWM:");
    sync_s = r.wall_s;
    j = out_json(out);
    pulled = json_integer_value(json_object_get(j, "pulled"));
    json_decref(j);
    if (pulled < (long long)nclients * nrecords)
        die("the cold sync pulled %lld records, expected %d", pulled, nclients * nrecords);
    snprintf(label, sizeof label,
             "counselor cold sync: `daybook sync`, nothing local, %d clients x %d records "
             "(%lld pulled)",
             nclients, nrecords, pulled);
    br_add(t, "counselor_cold_sync_s", label, sync_s, "s", NULL);
    br_add(t, "counselor_cold_sync_records_per_s", "the same, records per second",
           (double)pulled / sync_s, "rec/s", NULL);
    br_add(t, "counselor_cold_sync_maxrss_kib", "the same, the CLI's peak RSS",
           (double)r.maxrss_kib, "KiB", NULL);
    br_add(t, "server_vmrss_before_sync_kib", "daybookd RSS after seeding, before the cold sync",
           (double)rss_idle, "KiB", NULL);
    br_add(t, "server_vmhwm_cold_sync_kib",
           "daybookd peak RSS (VmHWM, reset before) during the cold sync", (double)hwm_sync, "KiB",
           "server_vmrss_before_sync_kib");
    snprintf(label, sizeof label, "daybookd peak RSS (VmHWM) while %d clients enrolled and pushed",
             nclients);
    br_add(t, "server_vmhwm_seeding_kib", label, (double)hwm_seed, "KiB", NULL);

    r = cli(cohome, out, "--json", "clients", NULL);
    j = out_json(out);
    if (json_array_size(json_object_get(j, "clients")) != (size_t)nclients)
        die("daybook clients lists %zu clients, expected %d",
            json_array_size(json_object_get(j, "clients")), nclients);
    json_decref(j);
    br_add(t, "counselor_clients_s",
           "`daybook clients` over the caseload (one process; from the summary cache)", r.wall_s, "s",
           "inproc_load_all_s");
    br_add(t, "counselor_clients_maxrss_kib", "the same, peak RSS", (double)r.maxrss_kib, "KiB",
           NULL);

    /* Every client's review, as text (what a counselor reads), one process each. */
    for (int i = 0; i < nclients; i++) {
        char *text, *p;
        r = cli(cohome, out, "review", "--", cl[i].account, NULL); /* an id may begin with - */
        review[i] = r.wall_s;
        review_sum += r.wall_s;
        review_rss = r.maxrss_kib > review_rss ? r.maxrss_kib : review_rss;
        text = read_text(out);
        if ((p = strstr(text, "\nCRAVINGS: ")) != NULL)
            got_cravings += strtol(p + 11, NULL, 10);
        free(text);
    }
    qsort(review, (size_t)nclients, sizeof *review, by_value);
    inproc_baselines(cohome, &open_s, &load_s, &nenv);

    snprintf(label, sizeof label,
             "counselor: `daybook review ID` for each of the %d clients, one process each (sum)",
             nclients);
    br_add(t, "counselor_review_all_s", label, review_sum, "s", "crypto_floor_open_all_s");
    br_add(t, "counselor_review_p50_s", "one review, p50", pct(review, (size_t)nclients, 50), "s",
           "crypto_floor_per_client_s");
    br_add(t, "counselor_review_maxrss_kib", "one review, peak RSS (max over the reviews)",
           (double)review_rss, "KiB", NULL);
    snprintf(label, sizeof label,
             "counselor cold review: the cold sync + all %d reviews, against the cold sync alone "
             "(target ≤ 1.2×)",
             nclients);
    br_add(t, "counselor_cold_review_total_s", label, sync_s + review_sum, "s",
           "counselor_cold_sync_s");
    snprintf(label, sizeof label,
             "baseline: verify + decrypt each of the %zu envelopes once, in-process "
             "(dbk_envelope_open)",
             nenv);
    br_add(t, "crypto_floor_open_all_s", label, open_s, "s", NULL);
    snprintf(label, sizeof label, "baseline: the same for one client (the line above / %d)",
             nclients);
    br_add(t, "crypto_floor_per_client_s", label, open_s / nclients, "s", NULL);
    br_add(t, "inproc_load_all_s",
           "baseline: dbk_eu_load of the counselor's whole store in-process (every entry "
           "opened and parsed)",
           load_s, "s", "crypto_floor_open_all_s");
    br_add(t, "seed_s",
           "(set-up) seeding: CLI invite/init/enroll, entries sealed in-process with "
           "dbk_entry_save, pushed by `daybook sync`",
           seed_s, "s", NULL);
    br_add(t, "seed_generator_matches_cli",
           "(check) the seeded plaintexts are byte-identical to the CLI's for the same input "
           "(1 = yes)",
           match ? 1 : 0, "bool", NULL);
    snprintf(label, sizeof label,
             "(check) the reviews' craving counts match the generator's (%ld expected, %ld "
             "reviewed; 1 = yes)",
             expected_cravings, got_cravings);
    br_add(t, "review_counts_match", label, got_cravings == expected_cravings ? 1 : 0, "bool",
           NULL);
    free(review);
}

/*
 * The floor of a durable craving on this disk (issue 20), measured where the profile
 * lives: what one `daybook craving` makes durable before it may say "Saved", one
 * spool record (client/store/spool_file.h: its head and sealed body, rec_bytes as the
 * warm-up cravings grew the spool) written at the end of a file and fdatasync'd, the
 * one sync on its path. The file grows as the spool does, record by record, and is
 * never cut during the runs, as the spool is not (the `log` after them folds it).
 * Until 2026-12-07 this floor wrote what a craving saved in the profile appends to
 * SQLite's write-ahead log (11 frames of 4 KiB and their headers), the path a craving
 * took before the spool.
 */
static double
commit_floor_ms(const char *dir, int fd, int i, size_t rec_bytes)
{
    static unsigned char rec[DBK_SPOOL_REC_HEAD + DBK_SPOOL_BODY_MAX];
    off_t at = (off_t)i * (off_t)rec_bytes;
    double t0;

    randombytes_buf(rec, rec_bytes);
    t0 = br_now();
    if (pwrite(fd, rec, rec_bytes, at) != (ssize_t)rec_bytes || fdatasync(fd) != 0)
        die("the commit floor in %s: %s", dir, strerror(errno));
    return (br_now() - t0) * 1000;
}

/* The spool's size in home, 0 when there is none. */
static long
spool_bytes(const char *home)
{
    char path[4200];
    struct stat sb;
    if (dbk_spool_file_path(home, path, sizeof path) != DBK_OK)
        return 0;
    return stat(path, &sb) == 0 ? (long)sb.st_size : 0;
}

/* (b) Logging a craving, keys unlocked, interleaved with the floors. */
static void
bench_craving(br_table *t, const char *home, int runs, int nrecords)
{
    const char *craving[] = {daybook_bin, "craving",  "--intensity", "6",
                             "--outcome", "resisted", "--trigger",   "emotions:bored",
                             "--halt",    "tired",    "--coping",    "urge_surfing",
                             NULL};
    const char *version[] = {daybook_bin, "version", NULL};
    const char *truth[] = {"/bin/true", NULL};
    double *cv = calloc((size_t)runs, sizeof *cv), *vv = calloc((size_t)runs, sizeof *vv),
           *tv = calloc((size_t)runs, sizeof *tv), *fv = calloc((size_t)runs, sizeof *fv),
           *vf = calloc((size_t)runs, sizeof *vf), lv[LOCKED_RUNS];
    long crss = 0, vrss = 0, trss = 0;
    char floor_file[4200];
    struct run r;
    int fd;

    if (cv == NULL || vv == NULL || tv == NULL || fv == NULL || vf == NULL)
        die("out of memory");
    snprintf(floor_file, sizeof floor_file, "%s/commit-floor", home);
    if ((fd = open(floor_file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        die("cannot open %s: %s", floor_file, strerror(errno));
    setenv("DAYBOOK_HOME", home, 1);
    cli(home, NULL, "unlock", NULL);
    run_argv(craving, NULL, &r); /* the first may write the spool's header */
    long spooled = spool_bytes(home);
    for (int i = 0; i < WARMUP_RUNS; i++) {
        run_argv(craving, NULL, &r);
        run_argv(version, NULL, &r);
    }
    /* What one craving makes durable: the spool grew by WARMUP_RUNS records. */
    spooled = (spool_bytes(home) - spooled) / WARMUP_RUNS;
    if (spooled <= 0 || spooled > DBK_SPOOL_REC_HEAD + DBK_SPOOL_BODY_MAX)
        die("the cravings were not spooled (%ld bytes each): the bench measures the spool",
            spooled);
    for (int i = 0; i < runs; i++) {
        run_argv(craving, NULL, &r);
        if (r.status != 0)
            die("daybook craving: exit %d: %s", r.status, read_text(errfile));
        cv[i] = r.wall_s * 1000;
        crss = r.maxrss_kib > crss ? r.maxrss_kib : crss;
        run_argv(version, NULL, &r);
        vv[i] = r.wall_s * 1000;
        vrss = r.maxrss_kib > vrss ? r.maxrss_kib : vrss;
        run_argv(truth, NULL, &r);
        tv[i] = r.wall_s * 1000;
        trss = r.maxrss_kib > trss ? r.maxrss_kib : trss;
        fv[i] = commit_floor_ms(home, fd, i, (size_t)spooled);
        vf[i] = vv[i] + fv[i];
    }
    close(fd);
    unlink(floor_file);
    /* The cost the spool moves: the first `log` folds every craving logged above. */
    const char *log[] = {daybook_bin, "log", NULL};
    run_argv(log, NULL, &r);
    if (r.status != 0)
        die("daybook log: exit %d: %s", r.status, read_text(errfile));
    double fold_ms = r.wall_s * 1000;
    run_argv(log, NULL, &r);
    double log_ms = r.wall_s * 1000;
    /* Locked: the passphrase (from DAYBOOK_PASSPHRASE_FILE) and Argon2id every time. */
    lock_profile(home);
    setenv("DAYBOOK_UNLOCK_SECONDS", "0", 1);
    for (int i = 0; i < LOCKED_RUNS; i++) {
        run_argv(craving, NULL, &r);
        if (r.status != 0)
            die("daybook craving (locked): exit %d: %s", r.status, read_text(errfile));
        lv[i] = r.wall_s * 1000;
    }
    setenv("DAYBOOK_UNLOCK_SECONDS", UNLOCK_SECONDS, 1);
    qsort(cv, (size_t)runs, sizeof *cv, by_value);
    qsort(vv, (size_t)runs, sizeof *vv, by_value);
    qsort(tv, (size_t)runs, sizeof *tv, by_value);
    qsort(fv, (size_t)runs, sizeof *fv, by_value);
    qsort(vf, (size_t)runs, sizeof *vf, by_value);
    qsort(lv, LOCKED_RUNS, sizeof *lv, by_value);

    char label[200];
    snprintf(label, sizeof label,
             "`daybook craving ...` keys unlocked, %d-entry profile, p50 of %d (target < 15 ms)",
             nrecords, runs);
    br_add(t, "craving_p50_ms", label, pct(cv, (size_t)runs, 50), "ms", "version_p50_ms");
    br_add(t, "craving_p99_ms", "the same, p99", pct(cv, (size_t)runs, 99), "ms", "version_p99_ms");
    br_add(t, "craving_maxrss_kib", "the same, peak RSS", (double)crss, "KiB",
           "version_maxrss_kib");
    br_add(t, "version_p50_ms",
           "floor: `daybook version` (exec, dynamic libraries, libsodium init), p50",
           pct(vv, (size_t)runs, 50), "ms", "true_p50_ms");
    br_add(t, "version_p99_ms", "floor: `daybook version`, p99", pct(vv, (size_t)runs, 99), "ms",
           NULL);
    br_add(t, "version_maxrss_kib", "floor: `daybook version`, peak RSS", (double)vrss, "KiB",
           NULL);
    snprintf(label, sizeof label,
             "floor: one craving's spool record (%ld bytes) appended and fdatasync'd, p50",
             spooled);
    br_add(t, "commit_floor_p50_ms", label, pct(fv, (size_t)runs, 50), "ms", "version_p50_ms");
    br_add(t, "durable_floor_p50_ms",
           "floor: `daybook version` + that commit (the least a durable `craving` costs), p50",
           pct(vf, (size_t)runs, 50), "ms", "version_p50_ms");
    br_add(t, "craving_over_floor_p50_ms",
           "`daybook craving ...` p50 again, against that durable floor (what it adds to it)",
           pct(cv, (size_t)runs, 50), "ms", "durable_floor_p50_ms");
    br_add(t, "true_p50_ms", "floor: /bin/true (exec alone), p50", pct(tv, (size_t)runs, 50), "ms",
           NULL);
    br_add(t, "true_maxrss_kib",
           "floor: /bin/true peak RSS, the least this harness reports (its launcher's size)",
           (double)trss, "KiB", NULL);
    snprintf(label, sizeof label,
             "`daybook log` right after the %d cravings (the spool folded in), one run",
             runs + WARMUP_RUNS);
    br_add(t, "log_folding_ms", label, fold_ms, "ms", "log_ms");
    br_add(t, "log_ms", "`daybook log` again, nothing to fold, one run", log_ms, "ms", NULL);
    snprintf(label, sizeof label,
             "`daybook craving ...` with the keys locked (passphrase file + Argon2id), p50 of %d",
             LOCKED_RUNS);
    br_add(t, "craving_locked_p50_ms", label, pct(lv, LOCKED_RUNS, 50), "ms", "craving_p50_ms");
    free(cv);
    free(vv);
    free(fv);
    free(vf);
    free(tv);
}

static int
usage(void)
{
    fprintf(stderr, "usage: bench_client --daybookd PATH --daybook PATH --out FILE\n"
                    "                    [--clients N] [--records N] [--craving-runs N]\n"
                    "                    [--compare DAYBOOK [--compare-runs N]]\n");
    return 2;
}

int
main(int argc, char **argv)
{
    const char *out = NULL;
    int nclients = CLIENTS_DEFAULT, nrecords = RECORDS_DEFAULT, runs = CRAVING_RUNS_DEFAULT;
    char pass[4200], sdir[4200], url_arg[128], uri[1024];
    struct client *cl;
    char *cohome, *text, *p;
    br_table t;

    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            return usage();
        if (strcmp(argv[i], "--daybookd") == 0)
            daybookd_bin = argv[++i];
        else if (strcmp(argv[i], "--daybook") == 0)
            daybook_bin = argv[++i];
        else if (strcmp(argv[i], "--out") == 0)
            out = argv[++i];
        else if (strcmp(argv[i], "--clients") == 0)
            nclients = atoi(argv[++i]);
        else if (strcmp(argv[i], "--records") == 0)
            nrecords = atoi(argv[++i]);
        else if (strcmp(argv[i], "--craving-runs") == 0)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--compare") == 0)
            compare_bin = argv[++i];
        else if (strcmp(argv[i], "--compare-runs") == 0)
            compare_runs = atoi(argv[++i]);
        else
            return usage();
    }
    if (daybookd_bin == NULL || daybook_bin == NULL || out == NULL || nclients < 1 ||
        nclients > 200 || nrecords < 10 || runs < 1 || compare_runs < 1)
        return usage();
    launcher_start();
    if (dbk_init() != 0)
        die("libsodium failed to initialise");
    signal(SIGALRM, on_alarm);
    alarm(WATCHDOG_S);
    root = dbk_tmpdir("bench-client");
    atexit(cleanup);
    snprintf(errfile, sizeof errfile, "%s/stderr.txt", root);
    snprintf(pass, sizeof pass, "%s/passphrase", root);
    {
        FILE *f = fopen(pass, "w");
        if (f == NULL || fputs(PASSPHRASE "\n", f) == EOF || fclose(f) != 0)
            die("cannot write %s", pass);
    }
    setenv("DAYBOOK_PASSPHRASE_FILE", pass, 1);
    setenv("DAYBOOK_UNLOCK_SECONDS", UNLOCK_SECONDS, 1);
    setenv("NO_COLOR", "1", 1);
    unsetenv("DAYBOOK_PASSPHRASE_FD");
    br_init(&t, "client");

    snprintf(sdir, sizeof sdir, "%s/server", root);
    mkdir(sdir, 0700);
    server_start(sdir, nclients);
    fprintf(stderr, "bench_client: daybookd on %s\n", server_url);

    /* The admin adds the counselor; the counselor's CLI enrolls with the setup URI. */
    {
        char data[4300];
        const char *add[] = {daybookd_bin,      "counselor", "add",
                             "Counselor Bench", "--url",     server_url,
                             "--data-dir",      data,        NULL};
        struct run r;
        snprintf(data, sizeof data, "%s/data", sdir);
        snprintf(url_arg, sizeof url_arg, "%s/add.txt", root);
        run_argv(add, url_arg, &r);
        text = read_text(url_arg);
        if (r.status != 0 || (p = strstr(text, "setup URI: ")) == NULL)
            die("daybookd counselor add: exit %d: %s", r.status, read_text(errfile));
        snprintf(uri, sizeof uri, "%.*s", (int)strcspn(p + 11, "\n"), p + 11);
        free(text);
    }
    cohome = new_home("counselor");
    cli(cohome, NULL, "init", NULL);
    cli(cohome, NULL, "enroll", uri, "--yes", NULL);

    if ((cl = calloc((size_t)nclients, sizeof *cl)) == NULL)
        die("out of memory");
    bench_caseload(&t, nclients, nrecords, cl, cohome);
    lock_profile(cohome);
    fprintf(stderr, "bench_client: logging cravings...\n");
    bench_craving(&t, cl[0].home, runs, nrecords);

    br_print(&t, stdout);
    if (br_write_json(&t, out) != 0)
        return 1;
    free(cl);
    cleanup();
    return 0;
}
