/* Notes and assigned skills back to the client; see notes.h. */
#include "notes.h"
#include "daycount.h"
#include "stream_key.h"
#include "trust.h"

#include "dbk/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
dbk_notes_author(dbk_session *s, const dbk_id *author, char *out, size_t cap)
{
    dbk_id c;
    size_t n;
    char name[201] = "";

    if (dbk_local_get(s->L, "counselor", c.b, DBK_ID_BYTES, &n) == DBK_OK && n == DBK_ID_BYTES &&
        dbk_id_equal(&c, author) &&
        dbk_local_get_text(s->L, "counselor_name", name, sizeof name) == DBK_OK && name[0])
        snprintf(out, cap, "%s", name);
    else
        snprintf(out, cap, "your counselor");
}

void
dbk_notes_counselor(dbk_session *s, char *out, size_t cap)
{
    if (dbk_local_get_text(s->L, "counselor_name", out, cap) != DBK_OK || out[0] == '\0')
        snprintf(out, cap, "your counselor");
}

static void
add(json_t *out, dbk_session *s, const dbk_eu_entry *e, const char *kind, const char *text,
    const char *at)
{
    char id[DBK_ID_TEXT_LEN + 1], by[DBK_ID_TEXT_LEN + 1], name[201];
    dbk_id_to_text(&e->hdr.record, id);
    dbk_id_to_text(&e->hdr.author, by);
    dbk_notes_author(s, &e->hdr.author, name, sizeof name);
    json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "id", id, "kind",
                                         kind, "text", text, "by", by, "by_name", name, "at", at,
                                         "clock", (json_int_t)e->hdr.rev.clock));
}

json_t *
dbk_notes_from_counselor(dbk_session *s, const dbk_eu_list *l)
{
    json_t *out = json_array(), *it;
    size_t k;

    for (size_t i = 0; out != NULL && i < l->n; i++) {
        const dbk_eu_entry *e = &l->v[i];
        /* Written by someone else into this account's own shared stream. */
        if (!e->mine || e->kind != DBK_LOCAL_SHARED || dbk_id_equal(&e->hdr.author, &s->account))
            continue;
        if (strcmp(e->type, "note") == 0 &&
            json_is_true(json_object_get(e->doc, "visible_to_client"))) {
            const char *t = json_string_value(json_object_get(e->doc, "text"));
            const char *at = json_string_value(json_object_get(e->doc, "written_at"));
            if (t != NULL)
                add(out, s, e, "note", t, at ? at : "");
        } else if (strcmp(e->type, "checklist_def") == 0) {
            json_array_foreach(json_object_get(e->doc, "items"), k, it) {
                const char *label = json_string_value(json_object_get(it, "label"));
                if (label != NULL && json_is_true(json_object_get(it, "active")))
                    add(out, s, e, "skill", label, "");
            }
        }
    }
    return out;
}

/* What dbk_notes_load_news opens of one of this account's streams. */
struct news_want {
    dbk_session *s;
    const dbk_notes_mark *seen;
    int kind;
    dbk_notes_mark *next;
};

static bool
waited(const dbk_notes_mark *m, int64_t rowid)
{
    for (size_t i = 0; i < m->nwait; i++)
        if (m->wait[i] == rowid)
            return true;
    return false;
}

/* Lists rowid among the rows waiting for their key. The filter sees rows in clock
 * order, which the server sets in the headers it serves: a full list keeps the rows
 * that reached this device first (the lowest rowids), so that rows served later, with
 * clocks made earlier, cannot push a row already listed out of it (the mark passed
 * that row: out of the list, it would never be news). The row left out is counted. */
static void
wait_for_key(dbk_notes_mark *next, int64_t rowid)
{
    size_t last = 0;
    if (next->nwait < DBK_NOTES_WAIT_MAX) {
        next->wait[next->nwait++] = rowid;
        return;
    }
    next->over++;
    for (size_t i = 1; i < next->nwait; i++)
        if (next->wait[i] > next->wait[last])
            last = i;
    if (rowid < next->wait[last])
        next->wait[last] = rowid;
}

/* Whether r can be tried here now: neither the key of its stream's epoch nor its
 * author's signing key is missing (whether it opens, verified, is the opening's to say).
 * Only a key not here yet makes it wait: a grant that fails its check, or the profile
 * failing, is tried and counted bad by the opening, as every reader counts it. */
static bool
keys_held(dbk_session *s, const dbk_local_record *r)
{
    unsigned char key[32], pk[32];
    int rc = dbk_stream_key(s, &r->hdr.stream, r->hdr.epoch, key);
    if (rc == DBK_OK)
        rc = dbk_trust_sign_pk(s, &r->hdr.author, pk);
    sodium_memzero(key, sizeof key);
    return rc != DBK_E_NOT_FOUND;
}

static bool
want_news(const dbk_local_record *r, void *arg)
{
    const struct news_want *w = arg;
    dbk_notes_mark *next = w->next;
    /* A consent, if it is one; a note or a skill, if it opens and is one. */
    if (w->kind == DBK_LOCAL_PRIVATE)
        return true;
    if (dbk_id_equal(&r->hdr.author, &w->s->account))
        return false;
    /* The filter sees every other author's header once, before anything is opened: the
     * one place the greatest of their rows is known without a second query. Rows are
     * not reused while a greater one stands, and a client's own streams are dropped
     * only at enrollment, before any news. */
    if (r->rowid > next->rowid)
        next->rowid = r->rowid;
    if (!(w->seen->rowid >= 0 ? r->rowid > w->seen->rowid : r->hdr.rev.clock > w->seen->clock) &&
        !waited(w->seen, r->rowid))
        return false;
    if (keys_held(w->s, r))
        return true;
    /* Its key is not here yet (a grant listed late, a rotation made on another device):
     * passed by the mark, it waits in the list, offered again at each news until it
     * opens. A row replaced since, or dropped, is not seen again: the list prunes
     * itself. Beyond its bound, counted and said. */
    wait_for_key(next, r->rowid);
    return false;
}

struct news {
    dbk_session *s;
    const dbk_notes_mark *seen;
    dbk_notes_mark *next;
    dbk_eu_list *out;
    int rc;
};

/* One of this account's streams, from its index in clock order (a query over all of
 * them sorts every envelope first), into the news in clock order. */
static void
news_of_stream(const dbk_local_stream *st, void *arg)
{
    struct news *n = arg;
    struct news_want w = {n->s, n->seen, st->kind, n->next};
    dbk_eu_list one;

    if (n->rc != DBK_OK || !dbk_id_equal(&st->owner, &n->s->account))
        return;
    if ((n->rc = dbk_eu_load_stream(n->s, &st->id, want_news, &w, NULL, NULL, &one)) != DBK_OK)
        return;
    n->rc = dbk_eu_merge(n->out, &one);
    dbk_eu_free(&one);
}

int
dbk_notes_load_news(dbk_session *s, const dbk_notes_mark *seen, dbk_eu_list *out,
                    dbk_notes_mark *next)
{
    struct news n = {s, seen, next, out, DBK_OK};
    int rc;

    memset(next, 0, sizeof *next);
    next->rowid = seen->rowid > 0 ? seen->rowid : 0;
    memset(out, 0, sizeof *out);
    rc = dbk_local_streams(s->L, news_of_stream, &n);
    if (rc == DBK_OK)
        rc = n.rc;
    if (rc != DBK_OK)
        dbk_eu_free(out);
    return rc;
}

void
dbk_notes_seen(dbk_session *s, dbk_notes_mark *out)
{
    char t[DBK_NOTES_WAIT_MAX * 21 + 1] = "", *p = t, *end;

    memset(out, 0, sizeof *out);
    out->rowid = dbk_local_get_int(s->L, "notes_seen_rowid", -1);
    /* The clock mark of an older profile counts only until the first rowid mark. */
    out->clock = out->rowid >= 0 ? 0 : (uint64_t)dbk_local_get_int(s->L, "notes_seen_clock", 0);
    /* None yet, or a value no list makes (corrupt): an empty list, overwritten at the
     * next mark that lists a row. Unread (the profile failed): the mark keeps nothing
     * this time, or the list it writes would drop the rows of the list it could not
     * read. */
    int rc = dbk_local_get_text(s->L, "notes_waiting", t, sizeof t);
    out->unread = rc != DBK_OK && rc != DBK_E_NOT_FOUND && rc != DBK_E_CORRUPT;
    for (long long v; out->nwait < DBK_NOTES_WAIT_MAX && (v = strtoll(p, &end, 10)) > 0; p = end)
        out->wait[out->nwait++] = v;
}

int
dbk_notes_mark_seen(dbk_session *s, const dbk_notes_mark *seen, const dbk_notes_mark *next)
{
    char t[DBK_NOTES_WAIT_MAX * 21 + 1] = "";
    size_t at = 0;
    int rc = DBK_OK;

    /* The list before the mark, in one commit: a mark kept without its list would pass
     * the rows just listed for good, while a list kept without the mark (one of the two
     * writes refused) only offers them again. A list as it was read is not written. */
    if (seen->unread)
        return DBK_E_IO;
    bool same = next->nwait == seen->nwait &&
                memcmp(next->wait, seen->wait, next->nwait * sizeof next->wait[0]) == 0;
    bool group = dbk_local_group_begin(s->L);
    if (!same) {
        for (size_t i = 0; i < next->nwait; i++)
            at += (size_t)snprintf(t + at, sizeof t - at, "%s%lld", i ? " " : "",
                                   (long long)next->wait[i]);
        rc = dbk_local_put_text(s->L, "notes_waiting", t);
    }
    if (rc == DBK_OK && next->rowid > seen->rowid)
        rc = dbk_local_put_int(s->L, "notes_seen_rowid", next->rowid);
    return dbk_local_group_end(s->L, group, rc);
}

/* The notes from counselors in l written in the 7 days up to today (new reference). */
json_t *
dbk_notes_recent(dbk_session *s, const dbk_eu_list *l, int64_t today)
{
    json_t *recent = json_array(), *all = dbk_notes_from_counselor(s, l), *nv;
    size_t i;

    json_array_foreach(all, i, nv) {
        int64_t d;
        const char *at = json_string_value(json_object_get(nv, "at"));
        if (strcmp(json_string_value(json_object_get(nv, "kind")), "note") == 0 && at != NULL &&
            strlen(at) >= 10 && dbk_day_parse(at, &d) && today - d < 7)
            json_array_append(recent, nv);
    }
    json_decref(all);
    return recent;
}
