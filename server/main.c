/*
 * daybookd: the sync server a clinic hosts. This file holds the command table
 * and `daybookd serve`; it is the only place in server/ that exits.
 *
 * Exit codes: 0 success, 1 runtime failure (cannot bind, cannot open the store),
 * 2 usage or configuration error, including a postgresql:// store on an install
 * without the PostgreSQL module (need_pg_module): retrying cannot help either.
 */
#include "api.h"
#include "app.h"
#include "gate.h"
#include "authcache.h"
#include "heads.h"
#include "router.h"

#include "dbk/base64.h"
#include "dbk/consent.h"
#include "dbk/error.h"
#include "dbk/fs.h"
#include "dbk/helplines.h"
#include "dbk/init.h"
#include "dbk/log.h"
#include "dbk/pct.h"
#include "dbk/version.h"

#include <errno.h>
#include <getopt.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_LISTEN "127.0.0.1:8470"
#define DEFAULT_DATA_DIR "./daybook-data"

struct command {
    const char *name;
    const char *usage;
    const char *summary;
    int (*run)(int argc, char **argv);
};

static int cmd_audit(int argc, char **argv);
static int cmd_backup(int argc, char **argv);
static int cmd_check(int argc, char **argv);
static int cmd_counselor(int argc, char **argv);
static int cmd_init(int argc, char **argv);
static int cmd_migrate(int argc, char **argv);
static int cmd_serve(int argc, char **argv);
static int cmd_routes(int argc, char **argv);
static int cmd_restore(int argc, char **argv);

/* Sorted by name. */
static const struct command commands[] = {
    {"audit", "daybookd audit verify [--data-dir DIR | --store URL]",
     "verify the hash chain of the audit log", cmd_audit},
    {"backup", "daybookd backup FILE [--data-dir DIR | --store URL]",
     "copy the store to FILE while the server runs (SQLite online backup; pg_dump)",
     cmd_backup},
    {"check", "daybookd check [--data-dir DIR | --store URL]",
     "check the store's integrity and the audit chain", cmd_check},
    {"counselor", "daybookd counselor add NAME [--url BASE_URL] [--data-dir DIR]\n"
                  "       daybookd counselor list [--data-dir DIR]\n"
                  "       daybookd counselor disable|enable NAME_OR_ID [--data-dir DIR]\n"
                  "       daybookd counselor transfer FROM TO [--data-dir DIR]",
     "add a counselor (prints its setup code); list, disable, enable or transfer counselors",
     cmd_counselor},
    {"init", "daybookd init [--data-dir DIR] [--store URL]",
     "create the data directory and an empty store", cmd_init},
    {"migrate", "daybookd migrate --from sqlite:PATH --to postgresql://...",
     "copy a store into another backend and prove the copy (counts, hashes, audit chain)",
     cmd_migrate},
    {"restore", "daybookd restore FILE [--data-dir DIR | --store URL]",
     "replace the store with a backup (server stopped); clients re-push what it lacks",
     cmd_restore},
    {"routes", "daybookd routes", "print every HTTP route the server answers", cmd_routes},
    {"serve", "daybookd serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR]\n"
              "               [--store URL] [--store-pool N] [--wal-max-mb N]\n"
              "               [--port-file FILE] [--quota-mb N] [--metrics-public]\n"
              "               [--rate-per-s N] [--rate-burst N]\n"
              "               [--idle-timeout-ms N] [--request-timeout-ms N] [--log-level LEVEL]\n"
              "               [--consent-template FILE] [--help-line 'NUMBER | LABEL']...",
     "run the sync server", cmd_serve},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void
usage(FILE *out)
{
    fprintf(out, "usage: daybookd COMMAND [OPTIONS]\n\n"
                 "The Daybook sync server. It stores end-to-end-encrypted records and\n"
                 "cannot read them.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'daybookd COMMAND --help' describes one command. 'daybookd --version'\n"
                 "prints the version.\n");
}

static const struct command *
find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void
command_help(const struct command *c, FILE *out)
{
    fprintf(out, "usage: %s\n\n%s.\n", c->usage, c->summary);
    if (strcmp(c->name, "serve") != 0 && strcmp(c->name, "migrate") != 0)
        fprintf(out, "\n  --data-dir DIR  where daybook.db lives (default %s); a data directory\n"
                     "                  that daybookd serve --store used names its store\n"
                     "                  (DIR/store.url)\n"
                     "  --store URL     the store itself: postgresql://... (libpq URI)\n",
                DEFAULT_DATA_DIR);
    if (strcmp(c->name, "serve") == 0)
        fprintf(out, "\n"
                     "  --config FILE       settings, one `name = value` per line, names as\n"
                     "                      these flags without --; flags override the file\n"
                     "  --listen HOST:PORT  address to listen on (default %s; port 0\n"
                     "                      picks a free port)\n"
                     "  --data-dir DIR      where daybook.db lives (default %s; created 0700)\n"
                     "  --store URL         keep the data in PostgreSQL instead: a libpq URI,\n"
                     "                      postgresql://USER@HOST/DB?sslmode=verify-full;\n"
                     "                      several daybookd may share one database\n"
                     "  --store-pool N      PostgreSQL connections (storage threads), 1..32\n"
                     "                      (default 4)\n"
                     "  --wal-max-mb N      SQLite: the write-ahead log's bound, 1..65536 MiB\n"
                     "                      (default 16); checkpoints run off the storage thread\n"
                     "  --port-file FILE    write the bound port to FILE once listening\n"
                     "  --quota-mb N        storage quota per account in MiB (default 256)\n"
                     "  --metrics-public    answer /metrics to any address (default loopback)\n"
                     "  --rate-per-s N      requests per second per account, sustained (default 20)\n"
                     "  --rate-burst N      ... with bursts up to N (default 200); over it: 429\n"
                     "  --idle-timeout-ms N     close idle keep-alive connections (default 60000)\n"
                     "  --request-timeout-ms N  a request must arrive whole within N ms of its\n"
                     "                          first byte, or 408 (default 15000)\n"
                     "  --log-level LEVEL   debug, info, warn or error (default info)\n"
                     "  --consent-template FILE  the clinic's wording of the consent clients\n"
                     "                      read before sharing (JSON; see daybookd(8)); its\n"
                     "                      section 2.31 elements are checked at start\n"
                     "  --help-line 'NUMBER | LABEL'  a clinic number clients' `daybook help-now`\n"
                     "                      shows after their safety plan (repeat, at most 4;\n"
                     "                      pinned by each client at enrollment)\n"
                     "\nLogs go to stderr as key=value lines. SIGTERM or SIGINT drains\n"
                     "requests in flight and exits 0.\n",
                DEFAULT_LISTEN, DEFAULT_DATA_DIR);
}

/* Splits "host:port" or "[v6]:port". Returns 0 or DBK_E_INVALID. */
static int
parse_listen(const char *s, char *host, size_t hostsz, int *port)
{
    const char *colon = strrchr(s, ':');
    const char *h = s;
    size_t hlen;
    char *end;
    long p;

    if (colon == NULL)
        return DBK_E_INVALID;
    hlen = (size_t)(colon - s);
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']')
        h++, hlen -= 2;
    if (hlen == 0 || hlen >= hostsz)
        return DBK_E_INVALID;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (errno || *end != '\0' || end == colon + 1 || p < 0 || p > 65535)
        return DBK_E_INVALID;
    *port = (int)p;
    return DBK_OK;
}

/*
 * Takes the data directory's lock file (daybookd.lock). `serve` holds it for its
 * lifetime; `restore` needs it so it never replaces the store under a running
 * server. Returns the descriptor (kept open) or -1 if another process holds it.
 */
static int
lock_data_dir(const char *dir)
{
    char path[4096];
    int fd;
    if ((size_t)snprintf(path, sizeof path, "%s/daybookd.lock", dir) >= sizeof path)
        return -1;
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Writes the port to path atomically, so a reader never sees a partial number. */
static int
write_port_file(const char *path, int port)
{
    char tmp[4096];
    FILE *f;

    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return -1;
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

struct serve_state {
    dbk_app app;
    uv_signal_t sigterm, sigint;
    /* The allocator trimmed at rest (on_trim_tick): trim_watch arms trim_timer when
     * responses were sent; nothing runs while nothing is sent. */
    uv_prepare_t trim_watch;
    uv_timer_t trim_timer;
    uint64_t trim_seen, trim_done; /* responses_total when last looked at, last trimmed */
    uint64_t seen_ms, trim_ms;     /* when trim_seen changed, when the last trim ran */
    bool trimmed;                  /* trim_ms is set */
};

static uint64_t
responses_total(const dbk_app *app)
{
    uint64_t n = 0;
    for (size_t i = 0; i < sizeof app->requests / sizeof app->requests[0]; i++)
        n += app->requests[i];
    return n;
}

/*
 * Memory back to the kernel once a burst of requests is over. glibc keeps what the
 * threads freed: up to DBK_MALLOC_TRIM_BYTES at the top of each heap (limits.h, so
 * that a pull's response reuses memory while requests keep coming) and every free
 * block below it. After tests/bench's push and pull, 13 MiB were in use (8 of them
 * the SQLite page cache) and 15 MiB more were free but held, most of it in the
 * storage thread's heap. Once no response has been sent for DBK_IDLE_TRIM_MS, the
 * free pages go back, once: a server under load never trims, one at rest trims once
 * per burst, and a trickle of requests at most once per DBK_TRIM_INTERVAL_MS.
 *
 * The timer runs only while a response is not yet covered by a trim: armed by the
 * loop's prepare phase when it sees new responses (on_trim_watch), pushed back while
 * they keep coming or the last trim is recent, and left stopped after its trim. An
 * idle daybookd's loop thread therefore sleeps until a connection comes (it woke
 * every DBK_IDLE_TRIM_MS when this timer repeated). A prepare callback never wakes
 * the loop: it runs once per turn that something else woke.
 */
static void
trim_look(struct serve_state *s)
{
    uint64_t n = responses_total(&s->app);
    if (n != s->trim_seen) {
        s->trim_seen = n;
        s->seen_ms = uv_now(s->app.loop);
    }
}

static void
on_trim_tick(uv_timer_t *t)
{
    struct serve_state *s = t->data;
    uint64_t now = uv_now(s->app.loop), due;

    trim_look(s);
    if (s->trim_seen == s->trim_done)
        return; /* every response is covered: the timer stays stopped */
    due = s->seen_ms + DBK_IDLE_TRIM_MS;
    if (s->trimmed && due < s->trim_ms + DBK_TRIM_INTERVAL_MS)
        due = s->trim_ms + DBK_TRIM_INTERVAL_MS;
    if (due > now) {
        uv_timer_start(t, on_trim_tick, due - now, 0);
        return;
    }
    s->trim_done = s->trim_seen;
    s->trim_ms = now;
    s->trimmed = true;
    s->app.heap_trims++;
#ifdef __GLIBC__
    (void)malloc_trim(0);
#endif
}

static void
on_trim_watch(uv_prepare_t *p)
{
    struct serve_state *s = p->data;
    uint64_t seen = s->trim_seen;

    trim_look(s);
    if (s->trim_seen != seen && !uv_is_active((uv_handle_t *)&s->trim_timer))
        uv_timer_start(&s->trim_timer, on_trim_tick, DBK_IDLE_TRIM_MS, 0);
}

static void
on_drained(void *arg)
{
    struct serve_state *s = arg;
    /* Every request has been answered; finish what the worker holds (the uses of
     * tokens answered from memory too: last seen, api.c) and stop it. */
    dbk_api_touches_flush(&s->app);
    dbk_worker_stop(s->app.worker);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->trim_timer, NULL);
    uv_close((uv_handle_t *)&s->trim_watch, NULL);
    DBK_LOG(DBK_LOG_INFO, "stopped");
}

static void
on_signal(uv_signal_t *h, int signum)
{
    struct serve_state *s = h->data;
    DBK_LOG(DBK_LOG_INFO, "draining", DBK_STR("signal", signum == SIGTERM ? "TERM" : "INT"));
    uv_signal_stop(&s->sigterm);
    uv_signal_stop(&s->sigint);
    dbk_http_server_drain(s->app.http, on_drained, s);
}

static void
handle_request(dbk_http_request *req)
{
    dbk_router_dispatch(req);
}

/* Settings of `daybookd serve`, from the config file and then the flags. */
struct serve_opts {
    const char *listen, *data_dir, *port_file, *consent_template, *store_url;
    json_t *consent; /* the template, loaded and checked before serving */
    json_t *help_lines; /* the clinic's help lines, in the order given (dbk/helplines.h) */
    long quota_mb;
    int rate_per_s, rate_burst, store_pool;
    long wal_max_mb;
    bool metrics_public;
    dbk_http_timeouts timeouts;
    char *owned[16]; /* strings read from the config file */
    size_t nowned;
};

static const struct option serve_longopts[] = {
    {"listen", required_argument, NULL, 'l'},   {"data-dir", required_argument, NULL, 'd'},
    {"port-file", required_argument, NULL, 'p'}, {"log-level", required_argument, NULL, 'v'},
    {"quota-mb", required_argument, NULL, 'q'}, {"metrics-public", no_argument, NULL, 'm'},
    {"idle-timeout-ms", required_argument, NULL, 'I'},
    {"request-timeout-ms", required_argument, NULL, 'R'},
    {"rate-per-s", required_argument, NULL, 'r'}, {"rate-burst", required_argument, NULL, 'b'},
    {"config", required_argument, NULL, 'c'},   {"help", no_argument, NULL, 'h'},
    {"consent-template", required_argument, NULL, 'T'},
    {"help-line", required_argument, NULL, 'H'},
    {"store", required_argument, NULL, 'S'},    {"store-pool", required_argument, NULL, 'P'},
    {"wal-max-mb", required_argument, NULL, 'W'},
    {NULL, 0, NULL, 0},
};

/* Applies one option. Returns 0, or 2 after printing what is wrong. */
static int
serve_option(struct serve_opts *o, int opt, const char *arg)
{
    char *end;
    long v;

    switch (opt) {
    case 'l': o->listen = arg; return 0;
    case 'd': o->data_dir = arg; return 0;
    case 'p': o->port_file = arg; return 0;
    case 'm': o->metrics_public = true; return 0;
    case 'c': return 0; /* read before the flags */
    case 'T': o->consent_template = arg; return 0;
    case 'H': {
        char why[160];
        if (o->help_lines == NULL)
            o->help_lines = json_array();
        if (dbk_help_line_parse(arg, o->help_lines, why, sizeof why) != DBK_OK) {
            fprintf(stderr, "daybookd serve: %s\n", why);
            return 2;
        }
        return 0;
    }
    case 'S':
        if (!dbk_store_url_is_pg(arg)) {
            fprintf(stderr, "daybookd serve: --store wants postgresql://..., got another "
                            "scheme (without --store the store is SQLite in --data-dir)\n");
            return 2;
        }
        o->store_url = arg;
        return 0;
    case 'P':
        v = strtol(arg, &end, 10);
        if (*end != '\0' || v < 1 || v > DBK_WORKER_THREADS_MAX) {
            fprintf(stderr, "daybookd serve: store-pool wants 1..%d, got '%s'\n",
                    DBK_WORKER_THREADS_MAX, arg);
            return 2;
        }
        o->store_pool = (int)v;
        return 0;
    case 'v': {
        enum dbk_log_level lvl;
        if (dbk_log_parse_level(arg, &lvl) != DBK_OK) {
            fprintf(stderr, "daybookd: unknown log level '%s' (debug, info, warn, error)\n", arg);
            return 2;
        }
        dbk_log_set_level(lvl);
        return 0;
    }
    case 'W':
        v = strtol(arg, &end, 10);
        if (*end != '\0' || v < 1 || v > 65536) {
            fprintf(stderr, "daybookd serve: wal-max-mb wants 1..65536, got '%s'\n", arg);
            return 2;
        }
        o->wal_max_mb = v;
        return 0;
    case 'q':
        v = strtol(arg, &end, 10);
        if (*end != '\0' || v < 1 || v > 1048576) {
            fprintf(stderr, "daybookd serve: quota-mb wants 1..1048576, got '%s'\n", arg);
            return 2;
        }
        o->quota_mb = v;
        return 0;
    case 'r':
    case 'b':
        v = strtol(arg, &end, 10);
        if (*end != '\0' || v < 1 || v > 100000) {
            fprintf(stderr, "daybookd serve: rate settings are 1..100000, got '%s'\n", arg);
            return 2;
        }
        *(opt == 'r' ? &o->rate_per_s : &o->rate_burst) = (int)v;
        return 0;
    case 'I':
    case 'R':
        v = strtol(arg, &end, 10);
        if (*end != '\0' || v < 100 || v > 3600000) {
            fprintf(stderr, "daybookd serve: timeouts are 100..3600000 ms, got '%s'\n", arg);
            return 2;
        }
        *(opt == 'I' ? &o->timeouts.idle_ms : &o->timeouts.request_ms) = (uint64_t)v;
        return 0;
    default: return 2;
    }
}

/*
 * Reads a config file: one setting per line, `name = value` (or just `name` for a
 * switch such as metrics-public), names as the long flags without "--"; '#' starts
 * a comment. Flags given on the command line override the file.
 */
static int
serve_config(struct serve_opts *o, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int lineno = 0;

    if (f == NULL) {
        fprintf(stderr, "daybookd: cannot read config file %s: %s\n", path, strerror(errno));
        return 1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char *k = line, *val = NULL, *eq;
        const struct option *opt = NULL;
        lineno++;
        line[strcspn(line, "#\r\n")] = '\0';
        while (*k == ' ' || *k == '\t')
            k++;
        if (*k == '\0')
            continue;
        if ((eq = strchr(k, '=')) != NULL) {
            val = eq + 1;
            *eq = '\0';
            while (*val == ' ' || *val == '\t')
                val++;
            for (char *e = val + strlen(val); e > val && (e[-1] == ' ' || e[-1] == '\t');)
                *--e = '\0';
        }
        for (char *e = k + strlen(k); e > k && (e[-1] == ' ' || e[-1] == '\t');)
            *--e = '\0';
        for (const struct option *c = serve_longopts; c->name; c++)
            if (strcmp(c->name, k) == 0 && c->val != 'h' && c->val != 'c')
                opt = c;
        if (opt == NULL || (opt->has_arg == required_argument) != (val != NULL && *val) ||
            o->nowned == sizeof o->owned / sizeof o->owned[0]) {
            fprintf(stderr, "daybookd: %s:%d: unknown setting or missing value '%s'\n", path,
                    lineno, k);
            fclose(f);
            return 2;
        }
        char *copy = val ? strdup(val) : NULL;
        if (copy != NULL)
            o->owned[o->nowned++] = copy;
        if (serve_option(o, opt->val, copy) != 0) {
            fprintf(stderr, "daybookd: in %s, line %d\n", path, lineno);
            fclose(f);
            return 2;
        }
    }
    fclose(f);
    return 0;
}

static void
serve_opts_clear(struct serve_opts *o)
{
    for (size_t i = 0; i < o->nowned; i++)
        free(o->owned[i]);
    json_decref(o->consent);
    json_decref(o->help_lines);
}

/* The clinic's consent template (dbk/consent.h): every section 2.31 element the clinic
 * words is there, or daybookd does not start. Returns 0, or 2 after saying why. */
static int
load_consent_template(struct serve_opts *o)
{
    json_error_t jerr;
    char why[256];

    if (o->consent_template == NULL)
        return 0;
    o->consent = json_load_file(o->consent_template, JSON_REJECT_DUPLICATES, &jerr);
    if (o->consent == NULL) {
        fprintf(stderr, "daybookd serve: consent-template %s: line %d: %s\n", o->consent_template,
                jerr.line, jerr.text);
        return 2;
    }
    if (dbk_consent_template_check(o->consent, why, sizeof why) != DBK_OK) {
        fprintf(stderr, "daybookd serve: consent-template %s: %s\n", o->consent_template, why);
        return 2;
    }
    return 0;
}

static int serve_run(struct serve_opts *o);

/*
 * A data directory served with --store remembers the store's URL in store.url
 * (0600, like the directory), so the admin commands of that machine given
 * --data-dir find the same database. Returns 0, or -1 if it cannot be written.
 */
static int
remember_store(const char *dir, const char *url)
{
    char path[4096], tmp[4200], cur[4096] = "";
    FILE *f;
    if ((size_t)snprintf(path, sizeof path, "%s/store.url", dir) >= sizeof path)
        return -1;
    if ((f = fopen(path, "r")) != NULL) {
        if (fgets(cur, sizeof cur, f) == NULL)
            cur[0] = '\0';
        fclose(f);
        cur[strcspn(cur, "\n")] = '\0';
        if (strcmp(cur, url) == 0)
            return 0;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if ((f = fopen(tmp, "w")) == NULL)
        return -1;
    fprintf(f, "%s\n", url);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int
cmd_serve(int argc, char **argv)
{
    struct serve_opts o = {.listen = DEFAULT_LISTEN, .data_dir = DEFAULT_DATA_DIR,
                           .quota_mb = 256, .rate_per_s = 20, .rate_burst = 200,
                           .store_pool = 4, .wal_max_mb = 16};
    int opt, rc = 0;

    dbk_http_timeouts_default(&o.timeouts);
    for (int i = 1; i + 1 < argc; i++) /* the config file first, so flags override it */
        if (strcmp(argv[i], "--config") == 0 && (rc = serve_config(&o, argv[i + 1])) != 0)
            goto out;
    while ((opt = getopt_long(argc, argv, "", serve_longopts, NULL)) != -1) {
        if (opt == 'h') {
            command_help(find_command("serve"), stdout);
            goto out;
        }
        if ((rc = serve_option(&o, opt, optarg)) != 0) {
            command_help(find_command("serve"), stderr);
            goto out;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "daybookd serve: unexpected argument '%s'\n", argv[optind]);
        rc = 2;
        goto out;
    }
    if ((rc = load_consent_template(&o)) != 0)
        goto out;
    rc = serve_run(&o);
out:
    serve_opts_clear(&o);
    return rc;
}

/*
 * A postgresql:// store needs the PostgreSQL module (store/store.c). Asked before
 * anything is created or opened, so its absence reads as what it is, a part of
 * daybookd not installed, and not as a database that cannot be reached. 0, or 2
 * after saying what to install.
 */
static int
need_pg_module(void)
{
    char msg[2048];
    if (dbk_store_pg_load(msg, sizeof msg) == DBK_OK)
        return 0;
    fprintf(stderr, "daybookd: %s\n", msg);
    return 2;
}

/* Fixed allocator bounds for the server's large per-request buffers (limits.h).
 * Only speed depends on them: where they cannot be set (another C library, or a
 * sanitizer's allocator), the defaults stay. */
static void
tune_allocator(void)
{
#ifdef __GLIBC__
    (void)mallopt(M_MMAP_THRESHOLD, DBK_MALLOC_MMAP_BYTES);
    (void)mallopt(M_TRIM_THRESHOLD, DBK_MALLOC_TRIM_BYTES);
#endif
}

static int
serve_run(struct serve_opts *o)
{
    const char *listen = o->listen, *data_dir = o->data_dir, *port_file = o->port_file;
    long quota_mb = o->quota_mb;
    bool metrics_public = o->metrics_public;
    dbk_http_timeouts timeouts = o->timeouts;
    struct serve_state s;
    char host[256];
    int port, bound = 0, rc;

    if (parse_listen(listen, host, sizeof host, &port) != DBK_OK) {
        fprintf(stderr, "daybookd serve: --listen wants HOST:PORT, got '%s'\n", listen);
        return 2;
    }

    if (o->store_url != NULL && (rc = need_pg_module()) != 0)
        return rc;
    tune_allocator();
    memset(&s, 0, sizeof s);
    if (dbk_mkdirs(data_dir) != 0) {
        fprintf(stderr, "daybookd: cannot create data directory %s: %s\n", data_dir,
                strerror(errno));
        return 1;
    }
    if (lock_data_dir(data_dir) < 0) { /* held until exit */
        fprintf(stderr, "daybookd: another daybookd is serving %s\n", data_dir);
        return 1;
    }
    if ((rc = o->store_url ? dbk_store_open_url(o->store_url, &s.app.store)
                           : dbk_store_open(data_dir, &s.app.store)) != DBK_OK ||
        (rc = dbk_store_server_info(s.app.store, &s.app.info)) != DBK_OK) {
        if (o->store_url)
            fprintf(stderr, "daybookd: cannot open the PostgreSQL store: %s\n",
                    dbk_err_message(rc));
        else
            fprintf(stderr, "daybookd: cannot open the store in %s: %s\n", data_dir,
                    dbk_err_message(rc));
        dbk_store_close(s.app.store);
        return 1;
    }
    if (o->store_url && remember_store(data_dir, o->store_url) != 0)
        fprintf(stderr, "daybookd: warning: cannot write %s/store.url; admin commands "
                        "need --store\n", data_dir);

    /* The "nothing new" answer on the loop thread trusts heads this process saw
     * committed: right for a SQLite file that only this process serves, wrong for a
     * PostgreSQL store that other nodes write to (heads.h). */
    dbk_heads_enable(strcmp(dbk_store_backend(s.app.store), "sqlite") == 0);
    /* Likewise the storage thread's token and owner caches (authcache.h). */
    dbk_authcache_enable(strcmp(dbk_store_backend(s.app.store), "sqlite") == 0);
    s.app.config.quota_bytes = (int64_t)quota_mb * 1024 * 1024;
    s.app.config.invite_ttl_ms = 7LL * 24 * 3600 * 1000;
    s.app.config.metrics_public = metrics_public;
    s.app.config.rate_per_s = o->rate_per_s;
    s.app.config.rate_burst = o->rate_burst;
    s.app.config.consent_template = o->consent;
    s.app.config.help_lines = o->help_lines;
    s.app.loop = uv_default_loop();
    s.app.started_ms = uv_now(s.app.loop);
    /* Before the storage thread starts: it sets the store's commit hook. Without the
     * thread SQLite checkpoints on the storage thread, as it did before. */
    (void)dbk_store_checkpoints(s.app.store, (int64_t)o->wal_max_mb * 1024 * 1024);
    if (dbk_worker_start(&s.app.worker, s.app.loop, s.app.store,
                         o->store_url ? o->store_pool : 1) != DBK_OK) {
        fprintf(stderr, "daybookd: cannot start the storage thread\n");
        dbk_store_close(s.app.store);
        return 1;
    }
    s.app.http = dbk_http_server_new(s.app.loop, handle_request, &s.app);
    if (s.app.http == NULL) {
        dbk_worker_stop(s.app.worker); /* its storage and sync threads use the store */
        uv_run(s.app.loop, UV_RUN_DEFAULT);
        dbk_store_close(s.app.store);
        return 1;
    }
    dbk_http_server_set_timeouts(s.app.http, &timeouts);
    dbk_http_server_set_head_hook(s.app.http, dbk_gate_head);
    rc = dbk_http_server_listen(s.app.http, host, port, &bound);
    if (rc != 0) {
        fprintf(stderr, "daybookd: cannot listen on %s: %s\n", listen, uv_strerror(rc));
        dbk_http_server_drain(s.app.http, NULL, NULL);
        dbk_worker_stop(s.app.worker);
        uv_run(s.app.loop, UV_RUN_DEFAULT);
        dbk_http_server_free(s.app.http);
        dbk_store_close(s.app.store);
        return 1;
    }
    uv_signal_init(s.app.loop, &s.sigterm);
    uv_signal_init(s.app.loop, &s.sigint);
    s.sigterm.data = s.sigint.data = &s;
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_timer_init(s.app.loop, &s.trim_timer);
    uv_prepare_init(s.app.loop, &s.trim_watch);
    s.trim_timer.data = s.trim_watch.data = &s;
    uv_prepare_start(&s.trim_watch, on_trim_watch);
    /* Neither is ever what keeps the loop running. */
    uv_unref((uv_handle_t *)&s.trim_timer);
    uv_unref((uv_handle_t *)&s.trim_watch);

    {
        char sid[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(&s.app.info.server_id, sid);
        DBK_LOG(DBK_LOG_INFO, "listening", DBK_STR("addr", host), DBK_INT("port", bound),
                DBK_STR("data_dir", data_dir), DBK_STR("server_id", sid),
                DBK_STR("store", dbk_store_backend(s.app.store)),
                DBK_INT("restore_generation", s.app.info.restore_generation),
                DBK_STR("version", DBK_VERSION));
    }
    if (port_file != NULL && write_port_file(port_file, bound) != 0) {
        fprintf(stderr, "daybookd: cannot write port file %s: %s\n", port_file, strerror(errno));
        dbk_http_server_drain(s.app.http, on_drained, &s);
    }

    uv_run(s.app.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(s.app.loop);
    dbk_http_server_free(s.app.http);
    dbk_store_close(s.app.store);
    if (rc != 0) {
        DBK_LOG(DBK_LOG_ERROR, "loop_not_closed", DBK_STR("error", uv_strerror(rc)));
        return 1;
    }
    return 0;
}

static int
cmd_routes(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        command_help(find_command("routes"), strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    for (size_t i = 0; i < dbk_routes_count; i++)
        printf("%s %s\n", dbk_routes[i].method, dbk_routes[i].pattern);
    return 0;
}

/*
 * Parses the admin commands' options: --data-dir DIR and positional arguments.
 * Returns the number of positionals stored in pos (at most npos), or -1 after
 * printing usage (exit code in *rc).
 */
/* --store URL of an admin command, or NULL (admin_args). */
static const char *admin_store;

/* True when arg is a whole id: ids are base64url, so one in 64 begins with '-' and
 * must still be taken as an operand (counselor enable ID), not an option. */
static bool
is_id_text(const char *arg)
{
    dbk_id id;
    return strlen(arg) == DBK_ID_TEXT_LEN && dbk_id_from_text(&id, arg, DBK_ID_TEXT_LEN) == 0;
}

static int
admin_args(const struct command *c, int argc, char **argv, const char **data_dir,
           const char **pos, int npos, int *rc)
{
    int n = 0;
    *data_dir = DEFAULT_DATA_DIR;
    admin_store = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            command_help(c, stdout);
            *rc = 0;
            return -1;
        }
        if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc) {
            *data_dir = argv[++i];
        } else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc &&
                   dbk_store_url_is_pg(argv[i + 1])) {
            admin_store = argv[++i];
        } else if ((argv[i][0] == '-' && !is_id_text(argv[i])) || n == npos) {
            fprintf(stderr, "daybookd %s: unexpected argument '%s'\n", c->name, argv[i]);
            command_help(c, stderr);
            *rc = 2;
            return -1;
        } else {
            pos[n++] = argv[i];
        }
    }
    return n;
}

/* The store URL data_dir remembers (remember_store) into url, or false. */
static bool
remembered_store(const char *data_dir, char *url, size_t cap)
{
    char path[4096];
    FILE *f;
    bool ok = false;
    if ((size_t)snprintf(path, sizeof path, "%s/store.url", data_dir) >= sizeof path ||
        (f = fopen(path, "r")) == NULL)
        return false;
    if (fgets(url, (int)cap, f) != NULL) {
        url[strcspn(url, "\r\n")] = '\0';
        ok = dbk_store_url_is_pg(url);
    }
    fclose(f);
    return ok;
}

/* The PostgreSQL store an admin command is about: --store, else what data_dir
 * remembers; NULL for SQLite. url is the buffer for the second. */
static const char *
admin_pg_url(const char *data_dir, char *url, size_t cap)
{
    if (admin_store != NULL)
        return admin_store;
    return remembered_store(data_dir, url, cap) ? url : NULL;
}

/* Opens the store of an existing data directory (or --store) for an admin command. */
static int
admin_open(const char *data_dir, dbk_store **st, bool create)
{
    char url[4096];
    const char *pg = admin_pg_url(data_dir, url, sizeof url);
    struct stat sb;
    int rc;
    if (pg != NULL) {
        if ((rc = need_pg_module()) != 0) {
            sodium_memzero(url, sizeof url);
            return rc;
        }
        rc = dbk_store_open_url(pg, st);
        sodium_memzero(url, sizeof url);
        if (rc != DBK_OK) {
            fprintf(stderr, "daybookd: cannot open the PostgreSQL store: %s\n",
                    dbk_err_message(rc));
            return 1;
        }
        if (create && admin_store != NULL && dbk_mkdirs(data_dir) == 0)
            (void)remember_store(data_dir, admin_store);
        return 0;
    }
    if (create && dbk_mkdirs(data_dir) != 0) {
        fprintf(stderr, "daybookd: cannot create data directory %s: %s\n", data_dir,
                strerror(errno));
        return 1;
    }
    if (!create && stat(data_dir, &sb) != 0) {
        fprintf(stderr, "daybookd: no data directory %s (run 'daybookd init' first)\n", data_dir);
        return 1;
    }
    if ((rc = dbk_store_open(data_dir, st)) != DBK_OK) {
        fprintf(stderr, "daybookd: cannot open the store in %s: %s\n", data_dir,
                dbk_err_message(rc));
        return 1;
    }
    return 0;
}

static int
cmd_init(int argc, char **argv)
{
    const char *dir, *pos[1];
    dbk_store *st;
    dbk_server_info info;
    char sid[DBK_ID_TEXT_LEN + 1];
    int rc = 0;

    if (admin_args(find_command("init"), argc, argv, &dir, pos, 0, &rc) < 0)
        return rc;
    if ((rc = admin_open(dir, &st, true)) != 0)
        return rc;
    rc = dbk_store_server_info(st, &info);
    bool sqlite = strcmp(dbk_store_backend(st), "sqlite") == 0;
    dbk_store_close(st);
    if (rc != DBK_OK)
        return 1;
    dbk_id_to_text(&info.server_id, sid);
    sodium_memzero(info.secret, sizeof info.secret);
    if (sqlite)
        printf("store ready in %s/daybook.db (server id %s)\n", dir, sid);
    else
        printf("PostgreSQL store ready (server id %s)\n", sid);
    return 0;
}

/* Runs one job on the store in a transaction, as the server's worker would. */
static int
admin_tx(dbk_store *st, int (*fn)(dbk_store *st, void *arg), void *arg)
{
    int rc = dbk_store_tx_begin(st);
    if (rc == DBK_OK)
        rc = fn(st, arg);
    if (rc == DBK_OK)
        rc = dbk_store_tx_commit(st);
    if (rc != DBK_OK)
        dbk_store_tx_rollback(st);
    return rc;
}

static int
add_invite(dbk_store *st, void *arg)
{
    return dbk_store_invite_create(st, arg);
}

/* ---- daybookd counselor list / disable / enable ---- */

struct counselor_row {
    dbk_store *st;
    int count, rc;
    const char *want;    /* resolve: the name or id looked for */
    dbk_account found;   /* resolve: the match */
    int matches;         /* resolve: how many matched */
};

static void
day_of(int64_t ms, char out[11])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || gmtime_r(&t, &tm) == NULL || strftime(out, 11, "%Y-%m-%d", &tm) == 0)
        snprintf(out, 11, "-");
}

static void
count_client(const dbk_account *a, void *arg)
{
    (void)a;
    ++*(int *)arg;
}

static void
print_counselor(const dbk_account *a, void *arg)
{
    struct counselor_row *r = arg;
    char id[DBK_ID_TEXT_LEN + 1], since[11], off[11];
    int64_t disabled = 0;
    int clients = 0;
    if (r->rc != DBK_OK)
        return;
    if ((r->rc = dbk_store_clients_of(r->st, &a->id, count_client, &clients)) != DBK_OK ||
        (r->rc = dbk_store_account_disabled(r->st, &a->id, &disabled)) != DBK_OK)
        return;
    if (r->count++ == 0)
        printf("%-22s  %-10s  %7s  %-20s  %s\n", "id", "since", "clients", "state", "name");
    dbk_id_to_text(&a->id, id);
    day_of(a->created_at, since);
    day_of(disabled, off);
    char state[32];
    if (disabled)
        snprintf(state, sizeof state, "disabled %s", off);
    else
        snprintf(state, sizeof state, "active");
    printf("%-22s  %-10s  %7d  %-20s  %s\n", id, since, clients, state, a->name);
}

static int
counselor_list(const char *dir)
{
    dbk_store *st;
    struct counselor_row r = {0};
    int rc;
    if ((rc = admin_open(dir, &st, false)) != 0)
        return rc;
    r.st = st;
    r.rc = DBK_OK;
    rc = dbk_store_counselors(st, print_counselor, &r);
    dbk_store_close(st);
    if (rc == DBK_OK)
        rc = r.rc;
    if (rc != DBK_OK) {
        fprintf(stderr, "daybookd: cannot list the counselors: %s\n", dbk_err_message(rc));
        return 1;
    }
    if (r.count == 0)
        printf("no counselors yet (daybookd counselor add NAME)\n");
    return 0;
}

static void
match_counselor(const dbk_account *a, void *arg)
{
    struct counselor_row *r = arg;
    char id[DBK_ID_TEXT_LEN + 1];
    dbk_id_to_text(&a->id, id);
    if (strcmp(r->want, id) == 0 || strcmp(r->want, a->name) == 0) {
        if (r->matches++ == 0)
            r->found = *a;
    }
}

struct switch_job {
    const dbk_id *id;
    bool disable;
};

static int
switch_tx(dbk_store *st, void *arg)
{
    struct switch_job *j = arg;
    return dbk_store_account_set_disabled(st, j->id, j->disable, (int64_t)time(NULL) * 1000);
}

/* Resolves who (an id or a unique name) to a counselor into r->found; prints why not
 * and returns 1, or 0. */
static int
resolve_counselor(dbk_store *st, const char *who, struct counselor_row *r)
{
    int rc;
    memset(r, 0, sizeof *r);
    r->want = who;
    if ((rc = dbk_store_counselors(st, match_counselor, r)) != DBK_OK) {
        fprintf(stderr, "daybookd: cannot read the counselors: %s\n", dbk_err_message(rc));
        return 1;
    }
    if (r->matches == 1)
        return 0;
    if (r->matches == 0)
        fprintf(stderr, "daybookd: no counselor '%s' (see 'daybookd counselor list')\n", who);
    else
        fprintf(stderr, "daybookd: %d counselors are named '%s'; give the id from "
                        "'daybookd counselor list'\n", r->matches, who);
    return 1;
}

static void
print_client(const dbk_account *a, void *arg)
{
    char id[DBK_ID_TEXT_LEN + 1], since[11];
    ++*(int *)arg;
    dbk_id_to_text(&a->id, id);
    day_of(a->created_at, since);
    printf("  %s  enrolled %s\n", id, since);
}

/*
 * daybookd counselor transfer FROM TO: what the administrator can do for a caseload
 * that changes hands, which is to say what to do. The server cannot move access: it
 * cannot read or re-key a client's records, and access is the client's to give under
 * a consent of its own (issue 19). It lists FROM's clients and the steps: TO's team
 * link, FROM's 'daybook transfer' (signed, so each client can trust the link), each
 * client's yes.
 */
static int
counselor_transfer(const char *dir, const char *from, const char *to)
{
    dbk_store *st;
    struct counselor_row a, b;
    char ida[DBK_ID_TEXT_LEN + 1];
    int rc, n = 0;
    if ((rc = admin_open(dir, &st, false)) != 0)
        return rc;
    if (resolve_counselor(st, from, &a) != 0 || resolve_counselor(st, to, &b) != 0) {
        dbk_store_close(st);
        return 1;
    }
    if (dbk_id_equal(&a.found.id, &b.found.id)) {
        dbk_store_close(st);
        fprintf(stderr, "daybookd: %s and %s are the same counselor\n", from, to);
        return 2;
    }
    dbk_id_to_text(&a.found.id, ida);
    printf("%s (%s) has these clients:\n", a.found.name, ida);
    rc = dbk_store_clients_of(st, &a.found.id, print_client, &n);
    dbk_store_close(st);
    if (rc != DBK_OK) {
        fprintf(stderr, "daybookd: cannot list the clients: %s\n", dbk_err_message(rc));
        return 1;
    }
    if (n == 0)
        printf("  (none)\n");
    printf("\nThe server cannot move them: it cannot read or re-key their records, and\n"
           "access is each client's to give, under a consent of their own. To hand them\n"
           "to %s:\n"
           "  1. %s runs: daybook team-link\n"
           "  2. %s runs: daybook transfer 'LINK' CLIENT...\n"
           "     Each client is asked on their device and agrees, or not. If %s\n"
           "     has left, %s gives each client the link in session instead:\n"
           "     daybook share 'LINK'.\n"
           "  3. Once the clients have moved: daybookd counselor disable %s\n",
           b.found.name, b.found.name, a.found.name, a.found.name, b.found.name, ida);
    return 0;
}

/* Disables or enables one counselor, named by its id or its (unique) name. */
static int
counselor_switch(const char *dir, const char *who, bool disable)
{
    dbk_store *st;
    struct counselor_row r = {0};
    char id[DBK_ID_TEXT_LEN + 1];
    int rc;
    if ((rc = admin_open(dir, &st, false)) != 0)
        return rc;
    if (resolve_counselor(st, who, &r) != 0) {
        dbk_store_close(st);
        return 1;
    }
    struct switch_job j = {&r.found.id, disable};
    rc = admin_tx(st, switch_tx, &j);
    dbk_store_close(st);
    if (rc != DBK_OK) {
        fprintf(stderr, "daybookd: cannot change the counselor: %s\n", dbk_err_message(rc));
        return 1;
    }
    dbk_id_to_text(&r.found.id, id);
    if (disable)
        printf("counselor %s (%s) disabled: its sessions ended and it cannot log in.\n"
               "Its clients' consents are unchanged; each client revokes or grants access "
               "(daybook revoke, daybook share).\n", r.found.name, id);
    else
        printf("counselor %s (%s) enabled: it can log in again.\n", r.found.name, id);
    return 0;
}

static int
cmd_counselor(int argc, char **argv)
{
    const char *dir, *pos[3];
    unsigned char code[16];
    char text[DBK_ID_TEXT_LEN + 1];
    dbk_store *st;
    dbk_invite inv;
    int rc = 0, n;

    const char *url = NULL;
    for (int i = 1; i + 1 < argc; i++) /* --url BASE: print the setup URI too */
        if (strcmp(argv[i], "--url") == 0) {
            url = argv[i + 1];
            for (int k = i; k + 2 <= argc; k++)
                argv[k] = argv[k + 2];
            argc -= 2;
            break;
        }
    n = admin_args(find_command("counselor"), argc, argv, &dir, pos, 3, &rc);
    if (n < 0)
        return rc;
    if (n == 3 && strcmp(pos[0], "transfer") == 0 && url == NULL)
        return counselor_transfer(dir, pos[1], pos[2]);
    if (n == 1 && strcmp(pos[0], "list") == 0 && url == NULL)
        return counselor_list(dir);
    if (n == 2 && url == NULL &&
        (strcmp(pos[0], "disable") == 0 || strcmp(pos[0], "enable") == 0))
        return counselor_switch(dir, pos[1], strcmp(pos[0], "disable") == 0);
    if (n != 2 || strcmp(pos[0], "add") != 0 || strlen(pos[1]) == 0 ||
        strlen(pos[1]) > DBK_NAME_MAX) {
        fprintf(stderr, "usage: daybookd counselor add NAME   (NAME: 1 to %d bytes)\n",
                DBK_NAME_MAX);
        return 2;
    }
    if (url != NULL && strlen(url) >= DBK_URL_MAX) { /* the client's limit for a server URL */
        fprintf(stderr, "daybookd: --url is longer than %d bytes\n", DBK_URL_MAX - 1);
        return 2;
    }
    if ((rc = admin_open(dir, &st, false)) != 0)
        return rc;
    memset(&inv, 0, sizeof inv);
    dbk_id_random(&inv.id);
    inv.kind = DBK_INVITE_COUNSELOR_SETUP;
    snprintf(inv.name, sizeof inv.name, "%s", pos[1]);
    inv.created_at = (int64_t)time(NULL) * 1000;
    inv.expires_at = inv.created_at + 7LL * 24 * 3600 * 1000;
    randombytes_buf(code, sizeof code);
    crypto_generichash(inv.secret_hash, sizeof inv.secret_hash, code, sizeof code, NULL, 0);
    rc = admin_tx(st, add_invite, &inv);
    dbk_store_close(st);
    if (rc != DBK_OK) {
        sodium_memzero(code, sizeof code);
        fprintf(stderr, "daybookd: cannot store the setup code: %s\n", dbk_err_message(rc));
        return 1;
    }
    (void)dbk_b64_encode(text, sizeof text, code, sizeof code);
    sodium_memzero(code, sizeof code);
    printf("setup code for %s (valid 7 days, once): %s\n", pos[1], text);
    if (url != NULL) {
        char enc[3 * DBK_URL_MAX] = "";
        (void)dbk_pct_append(enc, sizeof enc, url); /* fits: at most 3 bytes per byte */
        printf("setup URI: daybook://setup?server=%s&code=%s\n", enc, text);
    } else {
        /* Without the server's address the code alone is not enough for the device. */
        printf("the counselor runs: daybook enroll %s --server https://YOUR-SERVER\n"
               "(or run 'daybookd counselor add' with --url BASE_URL to print a setup URI)\n",
               text);
    }
    sodium_memzero(text, sizeof text);
    return 0;
}

static int
cmd_backup(int argc, char **argv)
{
    const char *dir, *pos[1];
    struct stat sb;
    dbk_store *st;
    int rc = 0, n;

    n = admin_args(find_command("backup"), argc, argv, &dir, pos, 1, &rc);
    if (n < 0)
        return rc;
    if (n != 1) {
        fprintf(stderr, "usage: daybookd backup FILE\n");
        return 2;
    }
    if (stat(pos[0], &sb) == 0) {
        fprintf(stderr, "daybookd: %s exists; backup writes a new file\n", pos[0]);
        return 1;
    }
    if ((rc = admin_open(dir, &st, false)) != 0)
        return rc;
    rc = dbk_store_backup(st, pos[0]);
    bool sqlite = strcmp(dbk_store_backend(st), "sqlite") == 0;
    dbk_store_close(st);
    if (rc == DBK_OK && !sqlite) {
        printf("backed up the PostgreSQL store to %s (pg_dump custom format; restore it "
               "with daybookd restore)\n", pos[0]);
        return 0;
    }
    if (rc != DBK_OK) {
        fprintf(stderr, "daybookd: backup to %s failed: %s\n", pos[0], dbk_err_message(rc));
        unlink(pos[0]);
        return 1;
    }
    printf("backed up %s/daybook.db to %s\n", dir, pos[0]);
    return 0;
}

static int
cmd_check(int argc, char **argv)
{
    const char *dir, *pos[1];
    char msg[256];
    dbk_store *st;
    int rc = 0;

    if (admin_args(find_command("check"), argc, argv, &dir, pos, 0, &rc) < 0)
        return rc;
    if ((rc = admin_open(dir, &st, false)) != 0)
        return rc;
    rc = dbk_store_check(st, msg, sizeof msg);
    dbk_store_close(st);
    printf("%s\n", msg);
    return rc == DBK_OK ? 0 : 1;
}

static int
cmd_audit(int argc, char **argv)
{
    const char *dir, *pos[1];
    int64_t checked, bad;
    dbk_store *st;
    int rc = 0, n;

    n = admin_args(find_command("audit"), argc, argv, &dir, pos, 1, &rc);
    if (n < 0)
        return rc;
    if (n != 1 || strcmp(pos[0], "verify") != 0) {
        fprintf(stderr, "usage: daybookd audit verify\n");
        return 2;
    }
    if ((rc = admin_open(dir, &st, false)) != 0)
        return rc;
    rc = dbk_store_audit_verify(st, &checked, &bad);
    dbk_store_close(st);
    if (rc == DBK_E_CORRUPT) {
        printf("audit chain BROKEN at entry %lld (%lld entries before it verify)\n",
               (long long)bad, (long long)checked);
        return 1;
    }
    if (rc != DBK_OK) {
        fprintf(stderr, "daybookd: cannot read the audit log: %s\n", dbk_err_message(rc));
        return 1;
    }
    printf("audit chain ok: %lld entries\n", (long long)checked);
    return 0;
}

static int
cmd_restore(int argc, char **argv)
{
    const char *dir, *pos[1];
    char live[4000], tmp[4000], side[4096];
    dbk_store *cur = NULL, *dst = NULL;
    dbk_server_info live_info, src_info;
    struct stat sb;
    int64_t gen = 0;
    int rc = 0, n, lock;

    n = admin_args(find_command("restore"), argc, argv, &dir, pos, 1, &rc);
    if (n < 0)
        return rc;
    if (n != 1) {
        fprintf(stderr, "usage: daybookd restore FILE\n");
        return 2;
    }
    {
        char url[4096], msg[512];
        const char *pg = admin_pg_url(dir, url, sizeof url);
        if (pg != NULL) {
            if ((rc = need_pg_module()) != 0) {
                sodium_memzero(url, sizeof url);
                return rc;
            }
            rc = dbk_store_pg_restore(pg, pos[0], &gen, msg, sizeof msg);
            sodium_memzero(url, sizeof url);
            if (rc != DBK_OK) {
                fprintf(stderr, "daybookd: restore: %s\n", msg);
                return 1;
            }
            printf("restored %s into the PostgreSQL store; restore generation is now %lld. "
                   "Start the nodes again; devices will log in again and re-push what the "
                   "backup lacks.\n", pos[0], (long long)gen);
            return 0;
        }
    }
    if ((lock = lock_data_dir(dir)) < 0) {
        fprintf(stderr, "daybookd: cannot lock %s: is daybookd running? Stop it first.\n", dir);
        return 1;
    }
    snprintf(live, sizeof live, "%s/daybook.db", dir);
    snprintf(tmp, sizeof tmp, "%s/restore.tmp", dir);
    unlink(tmp);
    if (stat(pos[0], &sb) != 0) {
        fprintf(stderr, "daybookd: cannot read backup %s: %s\n", pos[0], strerror(errno));
        close(lock);
        return 1;
    }
    /* Copy the backup beside the live store (never modifying the backup itself). */
    if ((rc = dbk_store_copy_backup(pos[0], tmp, &src_info.server_id)) != DBK_OK) {
        fprintf(stderr, "daybookd: %s is not a usable Daybook backup: %s\n", pos[0],
                dbk_err_message(rc));
        unlink(tmp);
        close(lock);
        return 1;
    }
    /* The live store, if any, must be the same server; its generation is the floor. */
    if (stat(live, &sb) == 0) {
        if ((rc = dbk_store_open_existing(live, &cur)) == DBK_OK)
            rc = dbk_store_server_info(cur, &live_info);
        dbk_store_close(cur);
        if (rc == DBK_OK && !dbk_id_equal(&live_info.server_id, &src_info.server_id)) {
            fprintf(stderr, "daybookd: %s is a backup of another server; refusing\n", pos[0]);
            unlink(tmp);
            close(lock);
            return 1;
        }
        if (rc == DBK_OK)
            gen = live_info.restore_generation;
    }
    if ((rc = dbk_store_open_existing(tmp, &dst)) == DBK_OK)
        rc = dbk_store_restore_prepare(dst, gen, &gen);
    dbk_store_close(dst);
    sodium_memzero(&live_info, sizeof live_info);
    sodium_memzero(&src_info, sizeof src_info);
    if (rc != DBK_OK || rename(tmp, live) != 0) {
        fprintf(stderr, "daybookd: restore failed: %s; the live store is unchanged\n",
                rc != DBK_OK ? dbk_err_message(rc) : strerror(errno));
        unlink(tmp);
        close(lock);
        return 1;
    }
    snprintf(side, sizeof side, "%s-wal", live);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", live);
    unlink(side);
    close(lock);
    printf("restored %s into %s; restore generation is now %lld. Devices will log in "
           "again and re-push what the backup lacks.\n",
           pos[0], live, (long long)gen);
    return 0;
}

/* Opens one end of a migration: sqlite:PATH (which must exist) or postgresql://. */
static int
migrate_open(const char *url, dbk_store **st, bool target)
{
    int rc;
    if (strncmp(url, "sqlite:", 7) == 0 && url[7] != '\0') {
        struct stat sb;
        if (!target && stat(url + 7, &sb) != 0) {
            fprintf(stderr, "daybookd migrate: no SQLite store at %s\n", url + 7);
            return 1;
        }
        rc = target ? dbk_store_open_url(url, st) : dbk_store_open_existing(url + 7, st);
    } else if (dbk_store_url_is_pg(url)) {
        if ((rc = need_pg_module()) != 0)
            return rc;
        rc = dbk_store_open_url(url, st);
    } else {
        fprintf(stderr, "daybookd migrate: a store is sqlite:PATH or postgresql://...\n");
        return 2;
    }
    if (rc != DBK_OK) {
        fprintf(stderr, "daybookd migrate: cannot open the %s store: %s\n",
                target ? "target" : "source", dbk_err_message(rc));
        return 1;
    }
    return 0;
}

static int
cmd_migrate(int argc, char **argv)
{
    const char *from = NULL, *to = NULL;
    dbk_store *src = NULL, *dst = NULL;
    dbk_migrate_report rep;
    char hex[2 * DBK_HASH_BYTES + 1];
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            command_help(find_command("migrate"), stdout);
            return 0;
        } else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
            from = argv[++i];
        } else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            to = argv[++i];
        } else {
            command_help(find_command("migrate"), stderr);
            return 2;
        }
    }
    if (from == NULL || to == NULL) {
        command_help(find_command("migrate"), stderr);
        return 2;
    }
    if ((rc = migrate_open(from, &src, false)) != 0)
        return rc;
    if ((rc = migrate_open(to, &dst, true)) != 0) {
        dbk_store_close(src);
        return rc;
    }
    rc = dbk_store_migrate(src, dst, &rep);
    dbk_store_close(src);
    dbk_store_close(dst);
    if (rc == DBK_E_CONFLICT) {
        fprintf(stderr, "daybookd migrate: the target store already holds data; migrate "
                        "into an empty one\n");
        return 1;
    }
    for (size_t i = 0; i < rep.ntables; i++) {
        const dbk_migrate_table *t = &rep.tables[i];
        bool same = t->from_rows == t->to_rows &&
                    sodium_memcmp(t->from_hash, t->to_hash, DBK_HASH_BYTES) == 0;
        sodium_bin2hex(hex, sizeof hex, t->to_hash, 8);
        printf("%-18s %8lld rows  %s  %s\n", t->name, (long long)t->to_rows, hex,
               same ? "same" : "DIFFERENT");
    }
    if (rc != DBK_OK) {
        fprintf(stderr, "daybookd migrate: %s\n",
                rc == DBK_E_CORRUPT ? "the copy differs from the source (see above)"
                                    : dbk_err_message(rc));
        return 1;
    }
    printf("copied and verified: every table's rows and hash agree; audit chain ok "
           "(%lld entries)\n", (long long)rep.audit_checked);
    return 0;
}

int
main(int argc, char **argv)
{
    int rc;

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("daybookd %s (protocol %d)\n", DBK_VERSION, DBK_PROTOCOL_VERSION);
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (dbk_init() != DBK_OK) {
        fprintf(stderr, "daybookd: libsodium failed to initialise\n");
        return 1;
    }
    umask(077); /* the store and everything else we create is the server user's alone */
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            rc = commands[i].run(argc - 1, argv + 1);
            if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "daybookd: cannot write to standard output\n");
                return 1;
            }
            return rc;
        }
    }
    fprintf(stderr, "daybookd: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
