/*
 * daybook export: a copy of all your own entries, decrypted (the HIPAA right of
 * access, 45 CFR 164.524), as JSON or CSV, to standard output or to a file
 * created mode 0600. Removed entries (tombstones) are left out.
 */
#include "cmd.h"
#include "entries.h"
#include "fhir.h"
#include "output.h"

#include "dbk/error.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help[] =
    "Writes every entry of yours on this device, decrypted, to standard output or to\n"
    "FILE (created readable only by you, mode 0600). An existing FILE is left alone\n"
    "unless --force is given. Removed entries are left out.\n"
    "Run 'daybook sync' first to include what you wrote on other devices.\n"
    "\n"
    "JSON (the default): an array of {\"id\", \"stream\": \"shared\"|\"private\", \"entry\"},\n"
    "where entry is the record exactly as stored (proto/schemas/).\n"
    "\n"
    "FHIR: an HL7 FHIR R4 Bundle for your clinic's health record: a Patient with no\n"
    "identifiers, an Observation per craving and daily check-in, and a\n"
    "QuestionnaireResponse per questionnaire (PHQ-9, GAD-7, BAM), each labelled as\n"
    "protected by 42 CFR Part 2. Journal entries are left out.\n"
    "\n"
    "CSV (RFC 4180, a header row, then one row per entry; lists joined with ';'):\n"
    "  id              the entry id\n"
    "  stream          shared (your counselor can read it) or private\n"
    "  type            craving, journal, checklist_day, checklist_def, ...\n"
    "  time            occurred_at (craving), written_at (journal), date (checklist)\n"
    "  tz              the time zone the entry was written in\n"
    "  intensity       craving intensity value, on the scale in the next column\n"
    "  scale           0-10 or 1-100\n"
    "  outcome         resisted or used\n"
    "  used_substance  what was used, if said\n"
    "  used_amount     how much, if said\n"
    "  duration        minutes, or a duration bin (lt20m, 21-45m, ...)\n"
    "  substances      what the craving was for\n"
    "  triggers        kind:value items (people, places, things, times, emotions,\n"
    "                  cues, halt), and 'withdrawal'\n"
    "  coping          coping strategies used\n"
    "  situation, thoughts, feelings, note    the craving's free text\n"
    "  help_contacted  yes when you reached out to someone\n"
    "  text            the journal text\n"
    "  mood            1 (very low) to 5 (very good)\n"
    "  tags            journal tags\n"
    "  prompt          the prompt a journal entry answers\n"
    "  checked         checklist items done that day\n"
    "  items           checklist definition items, as id:label\n";

static const char *const columns[] = {
    "id",         "stream",      "type",      "time",       "tz",       "intensity",
    "scale",      "outcome",     "used_substance", "used_amount", "duration", "substances",
    "triggers",   "coping",      "situation", "thoughts",   "feelings", "note",
    "help_contacted", "text",    "mood",      "tags",       "prompt",   "checked",
    "items",      NULL,
};

/* A growing text buffer whose old copies are wiped: it holds plaintext. */
struct buf {
    char *p;
    size_t n, cap;
    bool failed;
};

static void
put(struct buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = malloc(cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        if (b->p != NULL) {
            memcpy(p, b->p, b->n);
            sodium_memzero(b->p, b->cap);
            free(b->p);
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void
puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void
buf_free(struct buf *b)
{
    if (b->p != NULL) {
        sodium_memzero(b->p, b->cap);
        free(b->p);
    }
    memset(b, 0, sizeof *b);
}

/* One CSV field, quoted when it holds a comma, quote, line break or edge space. */
static void
field(struct buf *b, const char *s, bool first)
{
    size_t n = s ? strlen(s) : 0;
    if (!first)
        puts_(b, ",");
    if (n == 0)
        return;
    if (strpbrk(s, ",\"\r\n") == NULL && s[0] != ' ' && s[n - 1] != ' ') {
        put(b, s, n);
        return;
    }
    puts_(b, "\"");
    for (const char *q = s; *q; q++) {
        if (*q == '"')
            puts_(b, "\"");
        put(b, q, 1);
    }
    puts_(b, "\"");
}

/* The list's strings joined with ';' (prefix before each, when given). */
static void
join(struct buf *b, const json_t *arr, const char *prefix)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v))
            continue;
        if (b->n > 0)
            puts_(b, ";");
        if (prefix != NULL) {
            puts_(b, prefix);
            puts_(b, ":");
        }
        puts_(b, json_string_value(v));
    }
}

/* The triggers cell: KIND:TEXT for each listed trigger, KIND alone for a HALT state
 * set true, separated by ';'. */
static const char *
triggers_cell(struct buf *tmp, const json_t *triggers)
{
    const char *k;
    json_t *x;

    json_object_foreach((json_t *)triggers, k, x) {
        if (json_is_array(x)) {
            join(tmp, x, k);
        } else if (json_is_true(x)) {
            if (tmp->n > 0)
                puts_(tmp, ";");
            puts_(tmp, k);
        }
    }
    return tmp->p;
}

/* The items cell of a checklist: ID:LABEL for each item, separated by ';'. */
static const char *
items_cell(struct buf *tmp, const json_t *items)
{
    size_t i;
    json_t *it;

    json_array_foreach(items, i, it) {
        const char *iid = json_string_value(json_object_get(it, "id"));
        const char *label = json_string_value(json_object_get(it, "label"));
        if (iid == NULL)
            continue;
        if (tmp->n > 0)
            puts_(tmp, ";");
        puts_(tmp, iid);
        puts_(tmp, ":");
        puts_(tmp, label ? label : "");
    }
    return tmp->p;
}

/* The value of one column of one entry, into tmp (reset first). */
static const char *
cell(struct buf *tmp, const char *col, const dbk_eu_entry *e, const char *id, char num[32])
{
    const json_t *d = e->doc, *in = json_object_get(d, "intensity"),
                 *oc = json_object_get(d, "outcome"), *v;
    tmp->n = 0;
    if (tmp->p)
        tmp->p[0] = '\0';
    if (strcmp(col, "id") == 0)
        return id;
    if (strcmp(col, "stream") == 0)
        return dbk_eu_stream_name(e->kind);
    if (strcmp(col, "type") == 0)
        return e->type;
    if (strcmp(col, "time") == 0) {
        const char *t = json_string_value(json_object_get(d, "occurred_at"));
        if (t == NULL)
            t = json_string_value(json_object_get(d, "written_at"));
        if (t == NULL)
            t = json_string_value(json_object_get(d, "date"));
        return t;
    }
    if (strcmp(col, "intensity") == 0 || strcmp(col, "mood") == 0) {
        v = strcmp(col, "mood") == 0 ? json_object_get(d, "mood") : json_object_get(in, "value");
        if (!json_is_integer(v))
            return NULL;
        snprintf(num, 32, "%lld", (long long)json_integer_value(v));
        return num;
    }
    if (strcmp(col, "scale") == 0)
        return json_string_value(json_object_get(in, "scale"));
    if (strcmp(col, "outcome") == 0)
        return json_string_value(json_object_get(oc, "result"));
    if (strcmp(col, "used_substance") == 0)
        return json_string_value(json_object_get(json_object_get(oc, "used"), "substance"));
    if (strcmp(col, "used_amount") == 0)
        return json_string_value(json_object_get(json_object_get(oc, "used"), "amount"));
    if (strcmp(col, "duration") == 0) {
        v = json_object_get(d, "duration");
        if (json_is_integer(json_object_get(v, "minutes"))) {
            snprintf(num, 32, "%lld", (long long)json_integer_value(json_object_get(v, "minutes")));
            return num;
        }
        return json_string_value(json_object_get(v, "bin"));
    }
    if (strcmp(col, "help_contacted") == 0) {
        v = json_object_get(d, "help_contacted");
        return json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no") : NULL;
    }
    if (strcmp(col, "triggers") == 0)
        return triggers_cell(tmp, json_object_get(d, "triggers"));
    if (strcmp(col, "items") == 0)
        return items_cell(tmp, json_object_get(d, "items"));
    v = json_object_get(d, col);
    if (json_is_array(v)) { /* substances, coping, tags, checked */
        join(tmp, v, NULL);
        return tmp->p;
    }
    return json_string_value(v); /* tz, situation, thoughts, feelings, note, text, prompt */
}

/* Writes data to path, created (or truncated) with mode 0600. */
/* Without force, O_EXCL: a file that appeared since the check is not overwritten either. */
static int
write_file(const char *path, const char *data, size_t n, bool force)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (force ? O_TRUNC : O_EXCL),
                  0600);
    size_t done = 0;

    if (fd < 0 && errno == EEXIST) {
        fprintf(stderr, "daybook: %s already exists; nothing was written. Choose another file, "
                        "or add --force to overwrite it.\n", path);
        return DBK_EXIT_FAIL;
    }
    if (fd < 0) {
        fprintf(stderr, "daybook: cannot create %s: %s\n", path, strerror(errno));
        return DBK_EXIT_FAIL;
    }
    if (fchmod(fd, 0600) != 0) { /* an existing file keeps its mode otherwise */
        fprintf(stderr, "daybook: cannot make %s private: %s\n", path, strerror(errno));
        close(fd);
        return DBK_EXIT_FAIL;
    }
    while (done < n) {
        ssize_t w = write(fd, data + done, n - done);
        if (w <= 0) {
            fprintf(stderr, "daybook: cannot write %s: %s; the export is incomplete\n", path,
                    w < 0 ? strerror(errno) : "short write");
            close(fd);
            return DBK_EXIT_FAIL;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fprintf(stderr, "daybook: cannot write %s: %s; the export is incomplete\n", path,
                strerror(errno));
        return DBK_EXIT_FAIL;
    }
    return DBK_EXIT_OK;
}

extern const dbk_cmd dbk_cmd_export;

/* Whether e is exported: the client's own records, not removed; a pin holds keys,
 * not a record (book/pins.h). */
static bool
exported(const dbk_eu_entry *e)
{
    return e->mine && strcmp(e->type, "tombstone") != 0 && strcmp(e->type, "pin") != 0 &&
           strcmp(e->type, "role") != 0;
}

/* text (json_dumps's, wiped and freed here) and a newline into out. */
static void
put_dump(struct buf *out, char *text)
{
    if (text != NULL) {
        puts_(out, text);
        puts_(out, "\n");
        dbk_eu_wipe_free(text);
    } else {
        out->failed = true;
    }
}

/* The entries as a FHIR R4 Bundle (report/fhir.h). */
static void
export_fhir(const dbk_eu_list *l, struct buf *out, size_t *count)
{
    char now[40];
    json_t *bundle;

    dbk_now_rfc3339(now);
    bundle = dbk_fhir_bundle(l, NULL, now, count);
    put_dump(out, bundle ? json_dumps(bundle, JSON_INDENT(2)) : NULL);
    json_decref(bundle);
}

/* The entries as one JSON array of {id, stream, entry}. */
static void
export_json(const dbk_eu_list *l, struct buf *out, size_t *count)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < l->n; i++) {
        char id[DBK_ID_TEXT_LEN + 1];
        if (!exported(&l->v[i]))
            continue;
        dbk_id_to_text(&l->v[i].hdr.record, id);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:O}", "id", id, "stream",
                                             dbk_eu_stream_name(l->v[i].kind), "entry",
                                             l->v[i].doc));
        (*count)++;
    }
    put_dump(out, json_dumps(arr, JSON_INDENT(2)));
    json_decref(arr);
}

/* The entries as CSV (RFC 4180, CRLF): a header of the columns, a row per entry. */
static void
export_csv(const dbk_eu_list *l, struct buf *out, struct buf *tmp, size_t *count)
{
    for (size_t c = 0; columns[c]; c++)
        field(out, columns[c], c == 0);
    puts_(out, "\r\n");
    for (size_t i = 0; i < l->n; i++) {
        char id[DBK_ID_TEXT_LEN + 1], num[32];
        if (!exported(&l->v[i]))
            continue;
        dbk_id_to_text(&l->v[i].hdr.record, id);
        for (size_t c = 0; columns[c]; c++)
            field(out, cell(tmp, columns[c], &l->v[i], id, num), c == 0);
        puts_(out, "\r\n");
        (*count)++;
    }
}

/* The export to standard output, or to path (then said where, and that it is
 * decrypted). */
static int
write_export(const dbk_ctx *ctx, const struct buf *out, const char *path, const char *format,
             size_t count, bool force)
{
    int ret;

    if (path == NULL)
        return fwrite(out->p, 1, out->n, stdout) != out->n ? DBK_EXIT_FAIL : DBK_EXIT_OK;
    if ((ret = write_file(path, out->p, out->n, force)) != DBK_EXIT_OK)
        return ret;
    if (ctx->json) {
        json_t *j = json_pack("{s:s, s:s, s:i}", "out", path, "format", format, "entries",
                              (int)count);
        dbk_out_json(stdout, j);
        json_decref(j);
    } else {
        printf("Wrote %zu entr%s (%s) to %s, readable only by you.\n"
               "It holds your entries decrypted: keep it somewhere safe, and delete it when "
               "you no longer need it.\n",
               count, count == 1 ? "y" : "ies", format, path);
    }
    return DBK_EXIT_OK;
}

static int
run(dbk_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"force", no_argument, NULL, 'F'},
                                         {NULL, 0, NULL, 0}};
    const char *format = "json", *path = NULL;
    bool force = false;
    struct buf out = {0}, tmp = {0};
    dbk_session s;
    dbk_eu_list l;
    size_t count = 0;
    int opt, rc, ret;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'f': format = optarg; break;
        case 'o': path = optarg; break;
        case 'F': force = true; break;
        default: dbk_cmd_print_help(&dbk_cmd_export, stderr); return DBK_EXIT_USAGE;
        }
    }
    if (optind != argc ||
        (strcmp(format, "json") != 0 && strcmp(format, "csv") != 0 &&
         strcmp(format, "fhir") != 0) ||
        (path != NULL && path[0] == '\0')) {
        dbk_cmd_print_help(&dbk_cmd_export, stderr);
        return DBK_EXIT_USAGE;
    }
    /* Refused before the passphrase is asked; write_file checks again with O_EXCL. */
    if (path != NULL && !force && access(path, F_OK) == 0) {
        fprintf(stderr, "daybook: %s already exists; nothing was written. Choose another file, "
                        "or add --force to overwrite it.\n", path);
        return DBK_EXIT_FAIL;
    }
    if ((rc = dbk_session_open(&s, false)) != DBK_OK)
        return dbk_cmd_fail("no profile yet: run 'daybook init'", rc);
    if ((rc = dbk_eu_load(&s, &l)) != DBK_OK) {
        dbk_session_close(&s);
        return dbk_cmd_fail("cannot read your entries", rc);
    }
    dbk_session_close(&s);
    dbk_out_warn_unopened(&l);

    if (strcmp(format, "fhir") == 0)
        export_fhir(&l, &out, &count);
    else if (strcmp(format, "json") == 0)
        export_json(&l, &out, &count);
    else
        export_csv(&l, &out, &tmp, &count);
    if (out.failed || tmp.failed)
        ret = dbk_cmd_fail("the export was not written", DBK_E_NOMEM);
    else
        ret = write_export(ctx, &out, path, format, count, force);
    buf_free(&out);
    buf_free(&tmp);
    dbk_eu_free(&l);
    return ret;
}

const dbk_cmd dbk_cmd_export = {
    .name = "export",
    .usage = "daybook export [--format json|csv|fhir] [--out FILE [--force]]   (CSV columns: "
             "'daybook export --help')",
    .summary = "a copy of all your entries, decrypted, as JSON, CSV or FHIR",
    .help = help,
    .run = run,
};
