/*
 * daybookd: the sync server a clinic hosts. This file holds the command table
 * and `daybookd serve`; it is the only place in server/ that exits.
 *
 * Exit codes: 0 success, 1 runtime failure (cannot bind, cannot open the store),
 * 2 usage error.
 */
#include "app.h"
#include "router.h"

#include "dbk/error.h"
#include "dbk/init.h"
#include "dbk/log.h"
#include "dbk/version.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_LISTEN "127.0.0.1:8470"
#define DEFAULT_DATA_DIR "./daybook-data"

struct command {
    const char *name;
    const char *usage;
    const char *summary;
    int (*run)(int argc, char **argv);
};

static int cmd_serve(int argc, char **argv);
static int cmd_routes(int argc, char **argv);

/* Sorted by name. */
static const struct command commands[] = {
    {"routes", "daybookd routes", "print every HTTP route the server answers", cmd_routes},
    {"serve", "daybookd serve [--listen HOST:PORT] [--data-dir DIR] [--port-file FILE]\n"
              "               [--log-level debug|info|warn|error]",
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

static void
command_help(const struct command *c, FILE *out)
{
    fprintf(out, "usage: %s\n\n%s.\n", c->usage, c->summary);
    if (strcmp(c->name, "serve") == 0)
        fprintf(out, "\n"
                     "  --listen HOST:PORT  address to listen on (default %s; port 0\n"
                     "                      picks a free port)\n"
                     "  --data-dir DIR      where daybook.db lives (default %s; created 0700)\n"
                     "  --port-file FILE    write the bound port to FILE once listening\n"
                     "  --log-level LEVEL   debug, info, warn or error (default info)\n"
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

/* mkdir -p with mode 0700 for the directories it creates. */
static int
make_dirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
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
};

static void
on_drained(void *arg)
{
    struct serve_state *s = arg;
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
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

static int
cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},   {"data-dir", required_argument, NULL, 'd'},
        {"port-file", required_argument, NULL, 'p'}, {"log-level", required_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *listen = DEFAULT_LISTEN, *data_dir = DEFAULT_DATA_DIR, *port_file = NULL;
    struct serve_state s;
    char host[256];
    int port, bound = 0, opt, rc;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'l': listen = optarg; break;
        case 'd': data_dir = optarg; break;
        case 'p': port_file = optarg; break;
        case 'v': {
            enum dbk_log_level lvl;
            if (dbk_log_parse_level(optarg, &lvl) != DBK_OK) {
                fprintf(stderr, "daybookd: unknown log level '%s' (debug, info, warn, error)\n",
                        optarg);
                return 2;
            }
            dbk_log_set_level(lvl);
            break;
        }
        case 'h': command_help(&commands[1], stdout); return 0;
        default: command_help(&commands[1], stderr); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "daybookd serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (parse_listen(listen, host, sizeof host, &port) != DBK_OK) {
        fprintf(stderr, "daybookd serve: --listen wants HOST:PORT, got '%s'\n", listen);
        return 2;
    }

    memset(&s, 0, sizeof s);
    if (make_dirs(data_dir) != 0) {
        fprintf(stderr, "daybookd: cannot create data directory %s: %s\n", data_dir,
                strerror(errno));
        return 1;
    }
    if ((rc = dbk_store_open(data_dir, &s.app.store)) != DBK_OK ||
        (rc = dbk_store_server_info(s.app.store, &s.app.server_id,
                                    &s.app.restore_generation)) != DBK_OK) {
        fprintf(stderr, "daybookd: cannot open the store in %s: %s\n", data_dir,
                dbk_err_message(rc));
        dbk_store_close(s.app.store);
        return 1;
    }

    s.app.loop = uv_default_loop();
    s.app.started_ms = uv_now(s.app.loop);
    s.app.http = dbk_http_server_new(s.app.loop, handle_request, &s.app);
    if (s.app.http == NULL) {
        dbk_store_close(s.app.store);
        return 1;
    }
    rc = dbk_http_server_listen(s.app.http, host, port, &bound);
    if (rc != 0) {
        fprintf(stderr, "daybookd: cannot listen on %s: %s\n", listen, uv_strerror(rc));
        dbk_http_server_drain(s.app.http, NULL, NULL);
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

    {
        char sid[DBK_ID_TEXT_LEN + 1];
        dbk_id_to_text(&s.app.server_id, sid);
        DBK_LOG(DBK_LOG_INFO, "listening", DBK_STR("addr", host), DBK_INT("port", bound),
                DBK_STR("data_dir", data_dir), DBK_STR("server_id", sid),
                DBK_INT("restore_generation", s.app.restore_generation),
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
        command_help(&commands[0], strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    for (size_t i = 0; i < dbk_routes_count; i++)
        printf("%s %s\n", dbk_routes[i].method, dbk_routes[i].pattern);
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
