/*
 * The counselor's local summary cache; see summary.h for what it holds and when it is
 * believed.
 *
 * Sealed form, in store/local's summaries table (one row per stream):
 *
 *   offset  size  meaning
 *   0       24    XChaCha20-Poly1305 nonce (random)
 *   24      n+16  the plaintext below, sealed; associated data "dbk-summary", the
 *                 version byte, the stream id and its epoch (little-endian)
 *
 * Plaintext (little-endian):
 *
 *   0       4     "DBKS"
 *   4       4     DBK_SUMMARY_VERSION
 *   8       8     the stream's revisions when made (the count of dbk_local_stream_mark)
 *   16      8     the greatest rowid among them
 *   24      16    BLAKE2b-128 of the clinic's risk-phrases.txt ("" when absent)
 *   40      4     records that did not open
 *   44      4     n, the records that follow, each SUM_REC bytes:
 *                 record id (16), clock (8), day (8), intensity x10 (2), type (1),
 *                 flags (1), items carried (1), of which risk (1) and use (1), zero (1),
 *                 length of its items' JSON (4)
 *   then          each record's items' JSON, in the records' order, end to end
 *
 * A client stream's documents are sealed the same way (the same key and associated
 * data) in the row whose id is BLAKE2b-128 of "daybook summary documents v1" (with its
 * NUL) and the stream id, with "DBKE" in place of "DBKS" and, as each record's items,
 * its revision's header and then its plaintext (the parsed document dumped compact):
 *
 *   0       8     the revision's rowid in the store (its place among equal clocks)
 *   8       16    its device
 *   24      4     its key epoch
 *   28      16    its author
 *   44      ...   the plaintext
 *
 * Only the record id, clock and length of each record mean anything there.
 *
 * The key: BLAKE2b-256 keyed with the account's X25519 secret key over
 * "daybook summary v1", the stream id, the epoch and the stream key of that epoch
 * (or a zero byte when this account holds none: a stream it can no longer read; and
 * for this account's own streams, whose key is in a grant sealed to that same X25519
 * key, so that reading them costs no grant to open: a sealed box and a signature,
 * 1.2M instructions of a review).
 */
#include "summary.h"
#include "trust.h"
#include "stream_key.h"
#include "unlock.h"
#include "counts.h"
#include "entries.h"

#include "dbk/error.h"
#include "dbk/fastjson.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "DBKS"
#define MAGIC_DOCS "DBKE" /* "DBKD" held no revision headers */
#define DOC_HDR 44        /* doc_hdr_put */
#define DOCS_ROW "daybook summary documents v1"
#define HDR_LEN 48
#define SUM_REC 44
#define SUM_XMAX (1u << 20) /* one record's items; more is not a summary of ours */
#define SUM_CAP (64u << 20) /* a summary of ~1.6M records; a larger blob is not read */

bool
dbk_report_summary_on(void)
{
    const char *v = getenv("DAYBOOK_NO_SUMMARY");
    return v == NULL || *v == '\0' || strcmp(v, "0") == 0;
}

/* ---- little-endian fields ---- */

static void
put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void
put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t
get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Summaries are clinical plaintext (days, intensities, uses, the sentences Read first
 * quotes): wiped before their memory goes back. */
static void
wipe_free(void *p, size_t n)
{
    if (p != NULL) {
        sodium_memzero(p, n);
        free(p);
    }
}

/* A block for at least need elements of size bytes in place of old (cap of them, the
 * first used of which are copied): cap doubled, from first when 0, until need fits.
 * Not realloc: the old block is wiped and freed, so that no copy of its plaintext is
 * left in freed memory. NULL when out of memory (old is then untouched); *cap is the
 * new block's on success. */
static void *
grow_wiped(void *old, size_t *cap, size_t used, size_t need, size_t size, size_t first)
{
    size_t n = *cap ? *cap : first;
    void *v;
    while (n < need) {
        if (n > SIZE_MAX / 2 / size)
            return NULL;
        n *= 2;
    }
    if ((v = malloc(n * size)) == NULL)
        return NULL;
    if (used > 0)
        memcpy(v, old, used * size);
    wipe_free(old, *cap * size);
    *cap = n;
    return v;
}

/* ---- the risk phrases the summaries were screened with ---- */

struct ctx {
    dbk_session *s;
    dbk_eu_opener *pre; /* what was opened ahead (a cold sync's pulls), or NULL */
    dbk_risk_extra extra;
    unsigned char risk_hash[16];
};

static void
ctx_init(struct ctx *c, dbk_session *s)
{
    char path[4200];
    FILE *f;
    unsigned char buf[4096];
    size_t n;
    crypto_generichash_state st;

    memset(c, 0, sizeof *c);
    c->s = s;
    snprintf(path, sizeof path, "%s/%s", s->dir, DBK_RISK_FILE);
    (void)dbk_risk_load(path, &c->extra, NULL); /* as dbk_review_build reads it */
    crypto_generichash_init(&st, NULL, 0, sizeof c->risk_hash);
    if ((f = fopen(path, "rb")) != NULL) {
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            crypto_generichash_update(&st, buf, n);
        fclose(f);
    }
    crypto_generichash_final(&st, c->risk_hash, sizeof c->risk_hash);
}

static void
ctx_clear(struct ctx *c)
{
    dbk_risk_extra_free(&c->extra);
}

/* ---- one record ---- */

static uint8_t
type_code(const char *t)
{
    static const struct {
        const char *name;
        uint8_t code;
    } m[] = {{"craving", DBK_SUM_CRAVING},   {"journal", DBK_SUM_JOURNAL},
             {"checkin", DBK_SUM_CHECKIN},   {"measure", DBK_SUM_MEASURE},
             {"checklist_day", DBK_SUM_CHECKLIST_DAY}, {"tombstone", DBK_SUM_TOMBSTONE},
             {"attendance", DBK_SUM_ATTENDANCE}};
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        if (strcmp(t, m[i].name) == 0)
            return m[i].code;
    return DBK_SUM_OTHER;
}

static int
by_record(const void *a, const void *b)
{
    return memcmp(((const dbk_sum_rec *)a)->record.b, ((const dbk_sum_rec *)b)->record.b,
                  DBK_ID_BYTES);
}

size_t
dbk_report_summary_unopened(const dbk_sum *sums, size_t n, const dbk_id *owner, size_t *foreign)
{
    size_t bad = 0;
    *foreign = 0;
    for (size_t i = 0; i < n; i++) {
        if (!dbk_id_equal(&sums[i].owner, owner))
            continue;
        bad += sums[i].nbad;
        for (size_t j = 0; j < sums[i].n; j++)
            *foreign += (sums[i].v[j].flags & DBK_SUM_FOREIGN) != 0;
    }
    return bad;
}

const dbk_sum_rec *
dbk_report_summary_find(const dbk_sum *sum, const dbk_id *record)
{
    dbk_sum_rec key;
    key.record = *record;
    return sum->n ? bsearch(&key, sum->v, sum->n, sizeof *sum->v, by_record) : NULL;
}

/* Puts r in (replacing the record's entry), keeping v sorted. */
static int
upsert(dbk_sum *sum, const dbk_sum_rec *r)
{
    size_t lo = 0, hi = sum->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int d = memcmp(sum->v[mid].record.b, r->record.b, DBK_ID_BYTES);
        if (d == 0) {
            sum->v[mid] = *r;
            return DBK_OK;
        }
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (sum->n == sum->cap) {
        dbk_sum_rec *v = grow_wiped(sum->v, &sum->cap, sum->n, sum->n + 1, sizeof *v, 256);
        if (v == NULL)
            return DBK_E_NOMEM;
        sum->v = v;
    }
    memmove(&sum->v[lo + 1], &sum->v[lo], (sum->n - lo) * sizeof *sum->v);
    sum->v[lo] = *r;
    sum->n++;
    return DBK_OK;
}

static void
drop(dbk_sum *sum, const dbk_id *record)
{
    const dbk_sum_rec *r = dbk_report_summary_find(sum, record);
    if (r != NULL) {
        size_t i = (size_t)(r - sum->v);
        memmove(&sum->v[i], &sum->v[i + 1], (sum->n - i - 1) * sizeof *sum->v);
        sum->n--;
    }
}

/* Room for n more bytes in the summary's extra. */
static int
extra_room(dbk_sum *sum, size_t n)
{
    if (sum->nextra + n <= sum->capextra)
        return DBK_OK;
    char *v = grow_wiped(sum->extra, &sum->capextra, sum->nextra, sum->nextra + n, 1, 4096);
    if (v == NULL)
        return DBK_E_NOMEM;
    sum->extra = v;
    return DBK_OK;
}

/* Appends x's items ({"when", "items"}) to the summary's extra and points x at them;
 * an entry whose items do not fit keeps none (a review then opens it). */
static int
keep_items(dbk_sum *sum, dbk_sum_rec *x, const char *when, json_t *items)
{
    json_t *o = json_pack("{s:s, s:O}", "when", when ? when : "", "items", items);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    size_t n = text ? strlen(text) : 0;
    json_decref(o);
    if (text == NULL)
        return DBK_E_NOMEM;
    if (n == 0 || n > SUM_XMAX || sum->nextra + n > SUM_CAP) {
        dbk_eu_wipe_free(text);
        return DBK_OK;
    }
    if (extra_room(sum, n) != DBK_OK) {
        dbk_eu_wipe_free(text);
        return DBK_E_NOMEM;
    }
    memcpy(sum->extra + sum->nextra, text, n);
    x->xoff = (uint32_t)sum->nextra, x->xlen = (uint32_t)n;
    sum->nextra += n;
    dbk_eu_wipe_free(text);
    return DBK_OK;
}

/* The header a document keeps before its plaintext (DOC_HDR bytes): the revision's
 * rowid, device, key epoch and author, which a review reads instead of the store. */
static void
doc_hdr_put(unsigned char *p, const dbk_local_record *r)
{
    put64(p, (uint64_t)r->rowid);
    memcpy(p + 8, r->hdr.rev.device.b, DBK_ID_BYTES);
    put32(p + 24, r->hdr.epoch);
    memcpy(p + 28, r->hdr.author.b, DBK_ID_BYTES);
}

/* One record of this account's own streams (hdr false), or of a client stream's
 * documents (hdr true: the revision's header first, doc_hdr_put): its plaintext kept
 * whole, as it opened (a stream head too: readers skip it as they skip it opened), in
 * the summary's extra, for dbk_report_summary_own and the review; one too large to
 * keep is opened each time. */
static int
keep_doc(dbk_sum *sum, const dbk_local_record *r, const json_t *doc, bool hdr)
{
    dbk_sum_rec x;
    char *text = json_dumps(doc, JSON_COMPACT);
    size_t skip = hdr ? DOC_HDR : 0, n = text ? strlen(text) + skip : 0;
    int rc = DBK_OK;

    memset(&x, 0, sizeof x);
    x.record = r->hdr.record;
    x.clock = r->hdr.rev.clock;
    const char *type = json_string_value(json_object_get(doc, "type"));
    x.type = type_code(type != NULL ? type : "");
    x.flags = DBK_SUM_BY_OWNER;
    if (dbk_eu_entry_day(doc, &x.day))
        x.flags |= DBK_SUM_HAS_DAY;
    if (text == NULL)
        return DBK_E_NOMEM;
    if (n > skip && n <= SUM_XMAX && sum->nextra + n <= SUM_CAP &&
        (rc = extra_room(sum, n)) == DBK_OK) {
        if (hdr)
            doc_hdr_put((unsigned char *)sum->extra + sum->nextra, r);
        memcpy(sum->extra + sum->nextra + skip, text, n - skip);
        x.xoff = (uint32_t)sum->nextra, x.xlen = (uint32_t)n;
        sum->nextra += n;
    }
    dbk_eu_wipe_free(text);
    return rc == DBK_OK ? upsert(sum, &x) : rc;
}

/*
 * Summarises one current revision, opened as doc (NULL when it did not open: then it
 * counts in nbad), as the review would see it: a stream head is no entry, and an
 * entry whose author may not write it is left out (entries.c).
 */
static int
summarise(struct ctx *c, dbk_sum *sum, const dbk_local_record *r, const json_t *doc)
{
    dbk_sum_rec x;
    dbk_eu_entry e;
    const char *type;
    double v;
    int ni, nr, nu, rc = DBK_OK;

    dbk_doc_kind kind = doc != NULL ? dbk_trust_doc_kind(doc) : DBK_DOC_BAD;
    if (kind == DBK_DOC_BAD) {
        sum->nbad++;
        drop(sum, &r->hdr.record);
        return DBK_OK;
    }
    if (dbk_id_equal(&sum->owner, &c->s->account))
        return keep_doc(sum, r, doc, false);
    type = json_string_value(json_object_get(doc, "type"));
    if (kind == DBK_DOC_HEAD) {
        drop(sum, &r->hdr.record);
        return DBK_OK;
    }
    memset(&x, 0, sizeof x);
    if (!dbk_trust_author_may_write(&sum->owner, &r->hdr.author, type)) {
        x.record = r->hdr.record; /* a mark, counted, in no figure (summary.h) */
        x.clock = r->hdr.rev.clock;
        x.flags = DBK_SUM_FOREIGN;
        return upsert(sum, &x);
    }
    memset(&e, 0, sizeof e);
    e.hdr = r->hdr;
    e.doc = (json_t *)doc; /* read only */
    e.type = type ? type : "";
    e.owner = sum->owner;
    x.record = r->hdr.record;
    x.clock = r->hdr.rev.clock;
    x.type = type_code(e.type);
    if (dbk_id_equal(&r->hdr.author, &sum->owner))
        x.flags |= DBK_SUM_BY_OWNER;
    if (dbk_eu_entry_day(doc, &x.day))
        x.flags |= DBK_SUM_HAS_DAY;
    if (x.type == DBK_SUM_CRAVING && dbk_eu_intensity10(doc, &v)) {
        x.flags |= DBK_SUM_INTENSITY;
        x.intensity10x = (uint16_t)(v * 10.0 + 0.5);
    }
    const char *out = x.type == DBK_SUM_CRAVING ? dbk_eu_outcome(doc) : NULL;
    if (out != NULL && strcmp(out, "used") == 0)
        x.flags |= DBK_SUM_USED;
    if (x.type == DBK_SUM_CRAVING || x.type == DBK_SUM_JOURNAL || x.type == DBK_SUM_CHECKIN ||
        x.type == DBK_SUM_MEASURE) {
        json_t *items = NULL;
        dbk_review_entry_marks(&e, &c->extra, &ni, &nr, &nu, &items);
        x.nitems = (uint8_t)(ni > 255 ? 255 : ni);
        x.nrisk = (uint8_t)(nr > 255 ? 255 : nr);
        x.nuse = (uint8_t)(nu > 255 ? 255 : nu);
        if (ni > 0)
            rc = keep_items(sum, &x, json_string_value(json_object_get(
                                         doc, dbk_review_when_key(e.type))),
                            items);
        json_decref(items);
    }
    return rc == DBK_OK ? upsert(sum, &x) : rc;
}

/* The documents' entry for r: its plaintext kept whole (keep_doc), whoever wrote it
 * (the reader leaves out what its author may not write, as when it opens it); one
 * that did not open (doc NULL) counts in nbad and is opened by the reader. */
static int
keep_opened(dbk_sum *docs, const dbk_local_record *r, const json_t *doc)
{
    if (doc == NULL) {
        docs->nbad++;
        drop(docs, &r->hdr.record);
        return DBK_OK;
    }
    return keep_doc(docs, r, doc, true);
}

/* ---- sealing ---- */

/* The stream's summary key; false when the account keys are not unlocked. */
static bool
sum_key(struct ctx *c, const dbk_local_stream *st, unsigned char key[32])
{
    static const char label[] = "daybook summary v1";
    unsigned char skey[32], ep[4];
    unsigned char have;
    crypto_generichash_state h;

    if (c->s->keys == NULL)
        return false;
    have = !dbk_id_equal(&st->owner, &c->s->account) &&
           dbk_stream_key(c->s, &st->id, st->epoch, skey) == DBK_OK;
    if (!have)
        memset(skey, 0, sizeof skey);
    put32(ep, st->epoch);
    crypto_generichash_init(&h, c->s->keys->box_sk, sizeof c->s->keys->box_sk, 32);
    crypto_generichash_update(&h, (const unsigned char *)label, sizeof label);
    crypto_generichash_update(&h, st->id.b, DBK_ID_BYTES);
    crypto_generichash_update(&h, ep, sizeof ep);
    crypto_generichash_update(&h, &have, 1);
    crypto_generichash_update(&h, skey, sizeof skey);
    crypto_generichash_final(&h, key, 32);
    sodium_memzero(skey, sizeof skey);
    sodium_memzero(&h, sizeof h);
    return true;
}

static void
sum_ad(const dbk_local_stream *st, unsigned char ad[11 + 1 + DBK_ID_BYTES + 4])
{
    memcpy(ad, "dbk-summary", 11);
    ad[11] = DBK_SUMMARY_VERSION;
    memcpy(ad + 12, st->id.b, DBK_ID_BYTES);
    put32(ad + 12 + DBK_ID_BYTES, st->epoch);
}

/* The row of the summaries table that holds st's summary, or (docs) its documents:
 * those under an id derived from the stream's (BLAKE2b-128 of DOCS_ROW and the id,
 * which no stream has), so that 'daybook clients', which reads the summaries alone,
 * never reads the documents. */
static void
row_of(const dbk_local_stream *st, bool docs, dbk_id *row)
{
    crypto_generichash_state h;
    if (!docs) {
        *row = st->id;
        return;
    }
    crypto_generichash_init(&h, NULL, 0, DBK_ID_BYTES);
    crypto_generichash_update(&h, (const unsigned char *)DOCS_ROW, sizeof DOCS_ROW);
    crypto_generichash_update(&h, st->id.b, DBK_ID_BYTES);
    crypto_generichash_final(&h, row->b, DBK_ID_BYTES);
}

static int
save(struct ctx *c, const dbk_local_stream *st, const dbk_sum *sum, bool docs)
{
    size_t plen = HDR_LEN + sum->n * SUM_REC, clen, xat;
    for (size_t i = 0; i < sum->n; i++)
        plen += sum->v[i].xlen;
    unsigned char *plain = malloc(plen), *sealed = malloc(24 + plen + 16), key[32];
    unsigned char ad[11 + 1 + DBK_ID_BYTES + 4];
    int rc;

    if (plain == NULL || sealed == NULL) {
        free(plain);
        free(sealed);
        return DBK_E_NOMEM;
    }
    memcpy(plain, docs ? MAGIC_DOCS : MAGIC, 4);
    put32(plain + 4, DBK_SUMMARY_VERSION);
    put64(plain + 8, (uint64_t)sum->rows);
    put64(plain + 16, (uint64_t)sum->max_rowid);
    memcpy(plain + 24, c->risk_hash, 16);
    put32(plain + 40, (uint32_t)sum->nbad);
    put32(plain + 44, (uint32_t)sum->n);
    for (size_t i = 0; i < sum->n; i++) {
        unsigned char *p = plain + HDR_LEN + i * SUM_REC;
        const dbk_sum_rec *r = &sum->v[i];
        memcpy(p, r->record.b, DBK_ID_BYTES);
        put64(p + 16, r->clock);
        put64(p + 24, (uint64_t)r->day);
        p[32] = (unsigned char)(r->intensity10x & 0xff);
        p[33] = (unsigned char)(r->intensity10x >> 8);
        p[34] = r->type, p[35] = r->flags, p[36] = r->nitems, p[37] = r->nrisk, p[38] = r->nuse;
        p[39] = 0;
        put32(p + 40, r->xlen);
    }
    xat = HDR_LEN + sum->n * SUM_REC;
    for (size_t i = 0; i < sum->n; i++) {
        if (sum->v[i].xlen == 0)
            continue; /* and extra may be NULL */
        memcpy(plain + xat, sum->extra + sum->v[i].xoff, sum->v[i].xlen);
        xat += sum->v[i].xlen;
    }
    rc = DBK_E_PASSPHRASE; /* the keys are not unlocked */
    if (sum_key(c, st, key)) {
        sum_ad(st, ad);
        randombytes_buf(sealed, 24);
        crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + 24, NULL, plain, plen, ad, sizeof ad,
                                                   NULL, sealed, key);
        clen = 24 + plen + 16;
        dbk_id row;
        row_of(st, docs, &row);
        rc = dbk_local_summary_put(c->s->L, &row, sealed, clen);
    }
    sodium_memzero(key, sizeof key);
    sodium_memzero(plain, plen);
    free(plain);
    free(sealed);
    return rc;
}

/* The stored summary of st, if it opens and parses; false otherwise (no row, another
 * key or version, damaged). Opened in place, in the buffer the row was read into,
 * which then holds the records' items (moved to its start, the rest wiped): a
 * client's documents are some 250 KB, and two more copies of them cost more than
 * their decryption. */
static bool
load_sealed(struct ctx *c, const dbk_local_stream *st, dbk_sum *sum, bool docs)
{
    unsigned char *sealed = NULL, *plain, key[32], ad[11 + 1 + DBK_ID_BYTES + 4];
    size_t len = 0, plen = 0, n, xlen = 0, xat = 0;
    bool ok = false, opened = false;
    dbk_id row;

    row_of(st, docs, &row);
    if (dbk_local_summary_get(c->s->L, &row, &sealed, &len) != DBK_OK)
        return false;
    if (len < 24 + 16 + HDR_LEN || len > SUM_CAP || !sum_key(c, st, key))
        goto out;
    plen = len - 24 - 16;
    plain = sealed + 24; /* libsodium opens in place (m == c) */
    sum_ad(st, ad);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, sealed + 24, len - 24, ad,
                                                   sizeof ad, sealed, key) != 0)
        goto out;
    opened = true;
    n = get32(plain + 44);
    if (memcmp(plain, docs ? MAGIC_DOCS : MAGIC, 4) != 0 || get32(plain + 4) != DBK_SUMMARY_VERSION ||
        sodium_memcmp(plain + 24, c->risk_hash, 16) != 0 || plen < HDR_LEN + n * SUM_REC)
        goto out;
    xlen = plen - HDR_LEN - n * SUM_REC; /* the items, checked against the records' below */
    sum->rows = (int64_t)get64(plain + 8);
    sum->max_rowid = (int64_t)get64(plain + 16);
    sum->nbad = get32(plain + 40);
    if (n > 0 && (sum->v = malloc(n * sizeof *sum->v)) == NULL)
        goto out;
    sum->n = sum->cap = n;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = plain + HDR_LEN + i * SUM_REC;
        dbk_sum_rec *r = &sum->v[i];
        memcpy(r->record.b, p, DBK_ID_BYTES);
        r->clock = get64(p + 16);
        r->day = (int64_t)get64(p + 24);
        r->intensity10x = (uint16_t)(p[32] | p[33] << 8);
        r->type = p[34], r->flags = p[35], r->nitems = p[36], r->nrisk = p[37], r->nuse = p[38];
        r->xlen = get32(p + 40);
        if (r->xlen > xlen - xat)
            goto out; /* the items overrun: not ours */
        r->xoff = (uint32_t)xat;
        xat += r->xlen;
        if (i > 0 && by_record(&sum->v[i - 1], r) >= 0)
            goto out; /* not sorted: not ours */
    }
    if (!(ok = xat == xlen))
        goto out;
    /* The items to the buffer's start; what followed them there (headers, records, the
     * tag) wiped; the buffer is the summary's extra from now on. */
    memmove(sealed, plain + HDR_LEN + n * SUM_REC, xlen);
    sodium_memzero(sealed + xlen, len - xlen);
    sum->extra = (char *)sealed, sum->capextra = len;
    sum->nextra = xat;
    sealed = NULL;
out:
    if (!ok) {
        wipe_free(sum->v, sum->cap * sizeof *sum->v);
        sum->v = NULL, sum->n = sum->cap = 0;
        sum->extra = NULL, sum->nextra = sum->capextra = 0;
    }
    sodium_memzero(key, sizeof key);
    if (sealed != NULL && opened)
        sodium_memzero(sealed, len);
    free(sealed);
    return ok;
}

/* ---- bringing one stream's summary up to date ---- */

/* Revisions are opened a batch at a time, on every core (dbk_eu_open_records), then
 * applied in the store's order: this many at most, copied out of the store's rows. */
#define OPEN_BATCH 256

struct apply {
    struct ctx *c;
    dbk_sum *sum, *docs; /* the ones brought up to date (NULL: this one is) */
    int64_t seen, dseen; /* revisions after each one's mark */
    int rc;
    dbk_local_record q[OPEN_BATCH];      /* waiting to be opened; q[i].env their copies */
    bool qs[OPEN_BATCH], qd[OPEN_BATCH]; /* into the summary, into the documents */
    size_t nq;
};

/* The waiting revisions opened together, each into the summary and the documents that
 * do not hold it yet, in the order the store gave them. */
static void
flush_opened(struct apply *a)
{
    json_t *docs[OPEN_BATCH] = {NULL};
    if (a->rc == DBK_OK) /* after a failure nothing more is applied: nothing to open */
        dbk_eu_open_records_pre(a->c->s, a->c->pre, a->q, a->nq, docs);
    for (size_t i = 0; i < a->nq; i++) {
        if (a->qs[i] && a->rc == DBK_OK)
            a->rc = summarise(a->c, a->sum, &a->q[i], docs[i]);
        if (a->qd[i] && a->rc == DBK_OK)
            a->rc = keep_opened(a->docs, &a->q[i], docs[i]);
        json_decref(docs[i]);
        free((void *)a->q[i].env);
    }
    a->nq = 0;
}

/* One revision: queued to be opened once, for the summary and the documents that do
 * not hold it yet (its rowid is past their mark). */
static void
on_rec(const dbk_local_record *r, void *arg)
{
    struct apply *a = arg;
    bool s = a->sum != NULL && r->rowid > a->sum->max_rowid,
         d = a->docs != NULL && r->rowid > a->docs->max_rowid;
    unsigned char *env;
    a->seen += s, a->dseen += d;
    if (a->rc != DBK_OK || !r->current || (!s && !d))
        return;
    if ((env = malloc(r->len ? r->len : 1)) == NULL) {
        a->rc = DBK_E_NOMEM;
        return;
    }
    memcpy(env, r->env, r->len);
    a->q[a->nq] = *r, a->q[a->nq].env = env;
    a->qs[a->nq] = s, a->qd[a->nq++] = d;
    if (a->nq == OPEN_BATCH)
        flush_opened(a);
}

static void
reset(dbk_sum *sum)
{
    if (sum != NULL)
        sum->n = 0, sum->nbad = 0, sum->nextra = 0, sum->max_rowid = 0;
}

static int
rebuild(struct ctx *c, const dbk_local_stream *st, struct apply *a, int64_t rows, int64_t max_rowid)
{
    int rc;
    reset(a->sum);
    reset(a->docs);
    a->rc = DBK_OK;
    rc = dbk_local_records_of(c->s->L, &st->id, on_rec, a);
    flush_opened(a);
    if (a->sum != NULL)
        a->sum->rows = rows, a->sum->max_rowid = max_rowid;
    if (a->docs != NULL)
        a->docs->rows = rows, a->docs->max_rowid = max_rowid;
    return rc != DBK_OK ? rc : a->rc;
}

/* Whether sum, loaded (have), holds exactly the store's revisions of its stream. */
static bool
matches(bool have, const dbk_sum *sum, int64_t rows, int64_t max_rowid)
{
    return have && sum->nbad == 0 && rows == sum->rows && max_rowid == sum->max_rowid;
}

/* Whether sum, loaded (have), may take the revisions stored after its mark one by one. */
static bool
behind(bool have, const dbk_sum *sum, int64_t rows, int64_t max_rowid)
{
    return have && sum->nbad == 0 && max_rowid > sum->max_rowid && rows > sum->rows;
}

/* Brings what a holds up to date with the revisions after its marks; false when the
 * count does not add up (then it is rebuilt). */
static int
apply_after(struct ctx *c, const dbk_local_stream *st, struct apply *a, int64_t rows,
            int64_t max_rowid, bool *ok)
{
    int64_t from = a->sum != NULL ? a->sum->max_rowid : INT64_MAX;
    int rc;
    if (a->docs != NULL && a->docs->max_rowid < from)
        from = a->docs->max_rowid;
    *ok = false;
    rc = dbk_local_records_after(c->s->L, &st->id, from, on_rec, a);
    flush_opened(a);
    if (rc != DBK_OK || a->rc != DBK_OK)
        return rc != DBK_OK ? rc : a->rc;
    *ok = (a->sum == NULL || (a->sum->rows + a->seen == rows && a->sum->nbad == 0)) &&
          (a->docs == NULL || (a->docs->rows + a->dseen == rows && a->docs->nbad == 0));
    if (*ok && a->sum != NULL)
        a->sum->rows = rows, a->sum->max_rowid = max_rowid;
    if (*ok && a->docs != NULL)
        a->docs->rows = rows, a->docs->max_rowid = max_rowid;
    return DBK_OK;
}

/*
 * sum is st's summary and docs (unless NULL) its documents, each believed only if it
 * matches the records: new revisions are applied (a revision that became current
 * replaces its record's entry), each opened once for both, and anything that does not
 * add up rebuilds what it was in. *changed, *dchanged when they must be saved.
 */
static int
bring_up_to_date(struct ctx *c, const dbk_local_stream *st, dbk_sum *sum, dbk_sum *docs,
                 bool *changed, bool *dchanged)
{
    int64_t rows, max_rowid;
    int rc;
    bool have = load_sealed(c, st, sum, false), dhave = docs && load_sealed(c, st, docs, true);
    struct apply a = {.c = c, .rc = DBK_OK};

    *changed = *dchanged = false;
    sum->stream = st->id, sum->owner = st->owner;
    if (docs != NULL)
        docs->stream = st->id, docs->owner = st->owner;
    if ((rc = dbk_local_stream_mark(c->s->L, &st->id, &rows, &max_rowid)) != DBK_OK)
        return rc;
    if (!matches(have, sum, rows, max_rowid))
        a.sum = sum;
    if (docs != NULL && !matches(dhave, docs, rows, max_rowid))
        a.docs = docs;
    *changed = a.sum != NULL, *dchanged = a.docs != NULL;
    if (a.sum == NULL && a.docs == NULL)
        return DBK_OK;
    if ((a.sum == NULL || behind(have, sum, rows, max_rowid)) &&
        (a.docs == NULL || behind(dhave, docs, rows, max_rowid))) {
        bool ok;
        if ((rc = apply_after(c, st, &a, rows, max_rowid, &ok)) != DBK_OK || ok)
            return rc;
    }
    return rebuild(c, st, &a, rows, max_rowid);
}

struct streams {
    dbk_local_stream *v;
    size_t n, cap;
    const dbk_id *me, *owner; /* owner == me: this account's own streams only */
};

static void
on_stream(const dbk_local_stream *st, void *arg)
{
    struct streams *a = arg;
    bool own = a->owner != NULL && dbk_id_equal(a->owner, a->me);
    if (dbk_id_equal(&st->owner, a->me) != own ||
        (a->owner && !dbk_id_equal(&st->owner, a->owner)))
        return;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        dbk_local_stream *v = realloc(a->v, cap * sizeof *v);
        if (v == NULL)
            return;
        a->v = v, a->cap = cap;
    }
    a->v[a->n++] = *st;
}

/* Summaries (or documents) of some streams, for cached_doc; each record's plaintext
 * after skip bytes (DOC_HDR for documents). */
struct sums {
    const dbk_sum *v;
    size_t n, skip;
};

/* Wipes and frees what sum holds (not sum itself). */
static void
sum_clear(dbk_sum *sum)
{
    wipe_free(sum->v, sum->cap * sizeof *sum->v);
    wipe_free(sum->extra, sum->capextra);
    sum->v = NULL, sum->n = sum->cap = 0;
    sum->extra = NULL, sum->nextra = sum->capextra = 0;
}

void
dbk_report_summary_free(dbk_sum *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++)
        sum_clear(&v[i]);
    free(v);
}

/*
 * The summaries of the streams not this account's (of owner's only, if given), up to
 * date, saved when they changed; into *out when out is not NULL. With docs (and not
 * this account's own streams, whose summaries keep their documents), their documents
 * too, kept up to date in the same pass, into *dout when dout is not NULL. What is not
 * handed out is wiped as soon as it is saved: a cold sync holds one stream's at a time.
 */
static int
refresh(dbk_session *s, dbk_eu_opener *pre, const dbk_id *owner, bool docs, dbk_sum **out,
        dbk_sum **dout, size_t *nout)
{
    struct streams a = {NULL, 0, 0, &s->account, owner};
    struct ctx c;
    dbk_sum *sums, *dv = NULL;
    int rc;

    if ((rc = dbk_unlock(s)) != DBK_OK)
        return rc;
    if ((rc = dbk_local_streams(s->L, on_stream, &a)) != DBK_OK) {
        free(a.v);
        return rc;
    }
    docs = docs && !(owner != NULL && dbk_id_equal(owner, &s->account));
    sums = calloc(a.n + 1, sizeof *sums);
    if (docs)
        dv = calloc(a.n + 1, sizeof *dv);
    if (sums == NULL || (docs && dv == NULL)) {
        free(sums);
        free(dv);
        free(a.v);
        return DBK_E_NOMEM;
    }
    ctx_init(&c, s);
    c.pre = pre;
    for (size_t i = 0; i < a.n && rc == DBK_OK; i++) {
        bool changed, dchanged;
        rc = bring_up_to_date(&c, &a.v[i], &sums[i], dv ? &dv[i] : NULL, &changed, &dchanged);
        /* A stream's summary and documents in one commit, not synced to the disk (a
         * cache, made again from the records if the power takes it: 40 syncs of a
         * counselor's cold sync); the write lock only for the two rows, never while
         * the revisions are opened. */
        bool group = rc == DBK_OK && (changed || dchanged) && dbk_local_cache_begin(s->L);
        if (rc == DBK_OK && changed)
            rc = save(&c, &a.v[i], &sums[i], false);
        if (rc == DBK_OK && dchanged)
            rc = save(&c, &a.v[i], &dv[i], true);
        rc = dbk_local_cache_end(s->L, group, rc);
        if (out == NULL)
            sum_clear(&sums[i]);
        if (dv != NULL && dout == NULL)
            sum_clear(&dv[i]);
    }
    ctx_clear(&c);
    free(a.v);
    if (rc != DBK_OK || out == NULL) {
        dbk_report_summary_free(sums, a.n);
        dbk_report_summary_free(dv, a.n);
        return rc;
    }
    *out = sums, *nout = a.n;
    if (dout != NULL)
        *dout = dv;
    else
        dbk_report_summary_free(dv, a.n);
    return DBK_OK;
}

int
dbk_report_summary_refresh(dbk_session *s)
{
    return dbk_report_summary_refresh_pre(s, NULL);
}

int
dbk_report_summary_refresh_pre(dbk_session *s, dbk_eu_opener *pre)
{
    int rc = refresh(s, pre, NULL, true, NULL, NULL, NULL);
    return rc != DBK_OK ? rc : refresh(s, pre, &s->account, false, NULL, NULL, NULL);
}

/* text[0..len) parsed as json_loadb parses it: by common/fastjson.c's reader when it is
 * of the narrow kind that reader takes (it then gives jansson's tree: tests/unit
 * fastjson holds it to that), by jansson otherwise. A review parses each document it
 * shows and each carried item: with jansson alone, 4.7M of its 44.6M instructions. */
static json_t *
kept_json(const char *text, size_t len)
{
    json_t *j = dbk_fj_load(text, len);
    return j != NULL ? j : json_loadb(text, len, 0, NULL);
}

/* x's plaintext in sum (after skip bytes), parsed; NULL when it does not parse as a
 * JSON object (a cache of ours never holds one: the record is then opened from the
 * store, as if it had no document). */
static json_t *
doc_parse(const dbk_sum *sum, const dbk_sum_rec *x, size_t skip)
{
    json_t *doc = kept_json(sum->extra + x->xoff + skip, x->xlen - skip);
    if (doc != NULL && dbk_trust_doc_kind(doc) == DBK_DOC_BAD) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* The plaintext of r from the documents kept for its stream (r's revision exactly:
 * the same record and clock), or NULL (then it is opened). */
static json_t *
cached_doc(const dbk_local_record *r, void *arg)
{
    const struct sums *o = arg;
    for (size_t i = 0; i < o->n; i++) {
        if (!dbk_id_equal(&o->v[i].stream, &r->hdr.stream))
            continue;
        const dbk_sum_rec *x = dbk_report_summary_find(&o->v[i], &r->hdr.record);
        if (x == NULL || x->clock != r->hdr.rev.clock || x->xlen <= o->skip ||
            (size_t)x->xoff + x->xlen > o->v[i].nextra)
            return NULL;
        return doc_parse(&o->v[i], x, o->skip);
    }
    return NULL;
}

struct want;
static int load_streams(dbk_session *s, const dbk_sum *sums, const dbk_sum *docs, size_t n,
                        struct want *w, dbk_entry_cached cached, void *cached_arg,
                        dbk_eu_list *out);

int
dbk_report_summary_own(dbk_session *s, dbk_eu_list *out)
{
    dbk_sum *v = NULL;
    size_t n = 0;
    int rc;

    if (!dbk_report_summary_on() || refresh(s, NULL, &s->account, false, &v, NULL, &n) != DBK_OK)
        return dbk_eu_load_owned(s, &s->account, out);
    struct sums o = {v, n, 0};
    rc = load_streams(s, v, NULL, n, NULL, cached_doc, &o, out);
    dbk_report_summary_free(v, n);
    return rc;
}

int
dbk_report_summary_of(dbk_session *s, const dbk_id *owner, dbk_sum **out, size_t *n)
{
    return refresh(s, NULL, owner, false, out, NULL, n);
}

/* ---- what a review opens ---- */

struct want {
    const dbk_sum *sums;
    size_t n;
    const dbk_id *me, *client;
    int64_t keep_from, run_from, prev_from;
    uint64_t first_clock, last_clock;
    int64_t first_day, last_day;
    const json_t *kept;
    dbk_id *kept_ids; /* the records kept names, sorted: most records are not there */
    size_t nkept;
    bool indexed; /* kept_ids holds every record kept names */
    dbk_review_carried_list *carried;
};

static int
by_id(const void *a, const void *b)
{
    return memcmp(((const dbk_id *)a)->b, ((const dbk_id *)b)->b, DBK_ID_BYTES);
}

/* The ids of the records kept names, for want to look a record up without writing its
 * id as text (a key that is no id names no record: it is left out). False when out
 * of memory (then every record is looked up in kept itself). */
static bool
kept_index(struct want *w)
{
    const char *key;
    json_t *v;
    if (w->kept == NULL || json_object_size(w->kept) == 0)
        return w->indexed = true;
    if ((w->kept_ids = malloc(json_object_size(w->kept) * sizeof *w->kept_ids)) == NULL)
        return false;
    json_object_foreach((json_t *)w->kept, key, v) {
        if (dbk_id_from_text(&w->kept_ids[w->nkept], key, strlen(key)) == DBK_OK)
            w->nkept++;
    }
    if (w->nkept > 1)
        qsort(w->kept_ids, w->nkept, sizeof *w->kept_ids, by_id);
    return w->indexed = true;
}

/* Room in c for one more closed craving; false when there is none (then it is opened). */
static bool
closed_room(dbk_review_carried_list *c)
{
    if (c->ncravings < c->capcravings)
        return true;
    dbk_review_closed *v =
        grow_wiped(c->cravings, &c->capcravings, c->ncravings, c->ncravings + 1, sizeof *v, 64);
    if (v == NULL)
        return false;
    c->cravings = v;
    return true;
}

/* x's items from sum, to carried in place of opening it; false when they cannot be
 * read (then it is opened). */
static bool
carry(struct want *w, const dbk_sum *sum, const dbk_sum_rec *x)
{
    dbk_review_carried_list *c = w->carried;
    json_t *o;
    const char *when;
    if (x->xlen == 0 || (size_t)x->xoff + x->xlen > sum->nextra ||
        (o = kept_json(sum->extra + x->xoff, x->xlen)) == NULL)
        return false;
    when = json_string_value(json_object_get(o, "when"));
    if (when == NULL || !json_is_array(json_object_get(o, "items")) ||
        json_array_size(json_object_get(o, "items")) != x->nitems) {
        json_decref(o);
        return false;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        dbk_review_carried *v = realloc(c->v, cap * sizeof *v);
        if (v == NULL) {
            json_decref(o);
            return false;
        }
        c->v = v, c->cap = cap;
    }
    dbk_review_carried *k = &c->v[c->n];
    if ((k->when = strdup(when)) == NULL) {
        json_decref(o);
        return false;
    }
    k->record = x->record;
    k->clock = x->clock;
    k->items = json_incref(json_object_get(o, "items"));
    c->n++;
    json_decref(o);
    return true;
}

static bool
want(const dbk_local_record *r, void *arg)
{
    struct want *w = arg;
    const dbk_sum_rec *x = NULL;
    const dbk_sum *sum = NULL;
    for (size_t i = 0; i < w->n && x == NULL; i++)
        if (dbk_id_equal(&w->sums[i].stream, &r->hdr.stream))
            x = dbk_report_summary_find(sum = &w->sums[i], &r->hdr.record);
    if (x == NULL || x->clock != r->hdr.rev.clock)
        return true; /* not summarised: open it */
    if (!(x->flags & DBK_SUM_BY_OWNER) || !(x->flags & DBK_SUM_HAS_DAY))
        return true;
    if (x->type != DBK_SUM_CRAVING && x->type != DBK_SUM_JOURNAL &&
        x->type != DBK_SUM_CHECKLIST_DAY)
        return true;
    if (x->nitems > 0 && (w->carried == NULL || x->xlen == 0))
        return true; /* what it carries forward is not kept: open it */
    if (x->day >= w->keep_from || x->day == w->first_day || x->day == w->last_day ||
        x->clock == w->last_clock)
        return true;
    if (x->type == DBK_SUM_CHECKLIST_DAY && x->day >= w->run_from)
        return true;
    char id[DBK_ID_TEXT_LEN + 1];
    const json_t *k = NULL;
    if (!w->indexed || (w->nkept > 0 && bsearch(&x->record, w->kept_ids, w->nkept,
                                                 sizeof *w->kept_ids, by_id) != NULL)) {
        dbk_id_to_text(&x->record, id);
        k = json_object_get(w->kept, id);
    }
    if (k != NULL) {
        char clock[24];
        snprintf(clock, sizeof clock, "%llu", (unsigned long long)x->clock);
        const char *was = json_string_value(json_object_get(k, "clock"));
        if (was == NULL || strcmp(was, clock) != 0)
            return true; /* changed since reviewed */
    }
    /* Left closed; what it carries forward (if anything) comes from the summary, and a
     * craving of the previous period counts in the trend from it too. */
    bool trend = x->type == DBK_SUM_CRAVING && (x->flags & DBK_SUM_INTENSITY) &&
                 x->day >= w->prev_from;
    if (trend && !closed_room(w->carried))
        return true;
    if (x->nitems > 0 && !carry(w, sum, x))
        return true;
    if (trend) {
        dbk_review_closed *c = &w->carried->cravings[w->carried->ncravings++];
        c->clock = x->clock;
        c->day = x->day;
        c->intensity = (double)x->intensity10x / 10.0; /* as read: see summarise */
    }
    return false;
}

static int
by_clock(const void *a, const void *b)
{
    uint64_t x = ((const dbk_review_closed *)a)->clock, y = ((const dbk_review_closed *)b)->clock;
    return x < y ? -1 : x > y;
}

static int
by_day(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* A day a streak can count: a checklist day, or a session marked attended (which
 * ticks attended_treatment, book/checklist.c). */
static bool
streak_day(const dbk_sum_rec *x)
{
    return (x->type == DBK_SUM_CHECKLIST_DAY || x->type == DBK_SUM_ATTENDANCE) &&
           (x->flags & DBK_SUM_HAS_DAY);
}

/* The first day of the run of consecutive checklist days that ends before keep_from
 * (a streak can reach back that far, and no further). */
static int64_t
checklist_run_from(const dbk_sum *sums, size_t n, int64_t keep_from)
{
    size_t cnt = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < sums[i].n; j++)
            cnt += streak_day(&sums[i].v[j]);
    int64_t *d = malloc((cnt + 1) * sizeof *d), from = INT64_MIN;
    if (d == NULL)
        return INT64_MIN; /* keep them all */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < sums[i].n; j++)
            if (streak_day(&sums[i].v[j]))
                d[k++] = sums[i].v[j].day;
    qsort(d, k, sizeof *d, by_day);
    from = keep_from;
    for (size_t i = k; i > 0; i--) {
        if (d[i - 1] >= from)
            continue;
        if (d[i - 1] == from - 1)
            from = d[i - 1];
        else
            break;
    }
    free(d);
    return from - 1; /* and the day before, checked or not */
}

/* ---- a client stream read from its documents alone ---- */

/* One current record as its document's header gives it (doc_hdr_put). */
static void
doc_record(const dbk_sum *docs, const dbk_sum_rec *x, dbk_local_record *r)
{
    const unsigned char *p = (const unsigned char *)docs->extra + x->xoff;
    memset(r, 0, sizeof *r);
    r->hdr.stream = docs->stream;
    r->hdr.record = x->record;
    r->hdr.rev.clock = x->clock;
    memcpy(r->hdr.rev.device.b, p + 8, DBK_ID_BYTES);
    r->hdr.epoch = get32(p + 24);
    memcpy(r->hdr.author.b, p + 28, DBK_ID_BYTES);
    r->rowid = (int64_t)get64(p);
    r->current = true;
}

/* In the store's order of a stream's current records: clock, then rowid. */
static int
by_clock_rowid(const void *a, const void *b)
{
    const dbk_local_record *x = a, *y = b;
    if (x->hdr.rev.clock != y->hdr.rev.clock)
        return x->hdr.rev.clock < y->hdr.rev.clock ? -1 : 1;
    return x->rowid < y->rowid ? -1 : x->rowid > y->rowid;
}

/* The current revisions of a stream that wait in the outbox (after a server restore,
 * login puts every current revision back there, pulled ones too: dbk_local_outbox_
 * requeue_all), read once for the stream: whether a revision is pending changes with
 * no new revision, so the documents cannot say. Sorted by (record, clock) once read,
 * so each shown revision is one binary search, not a walk of the whole outbox (after a
 * restore that was every record against every record). */
struct pending_rev {
    dbk_id record;
    uint64_t clock;
};
struct pending {
    struct pending_rev *v;
    size_t n, cap;
    int rc;
};

static void
on_pending(const dbk_local_record *r, void *arg)
{
    struct pending *p = arg;
    if (p->rc != DBK_OK)
        return;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        void *v = realloc(p->v, cap * sizeof *p->v);
        if (v == NULL) {
            p->rc = DBK_E_NOMEM;
            return;
        }
        p->v = v, p->cap = cap;
    }
    p->v[p->n].record = r->hdr.record;
    p->v[p->n++].clock = r->hdr.rev.clock;
}

static int
by_record_clock(const void *a, const void *b)
{
    const struct pending_rev *x = a, *y = b;
    int c = memcmp(x->record.b, y->record.b, sizeof x->record.b);
    if (c != 0)
        return c;
    return x->clock < y->clock ? -1 : x->clock > y->clock;
}

static bool
is_pending(const struct pending *p, const dbk_local_record *r)
{
    struct pending_rev key = {r->hdr.record, r->hdr.rev.clock};
    return p->n > 0 && bsearch(&key, p->v, p->n, sizeof *p->v, by_record_clock) != NULL;
}

struct current_of {
    dbk_session *s;
    uint64_t clock;
    json_t *doc;
};

static void
on_current(const dbk_local_record *r, void *arg)
{
    struct current_of *q = arg;
    if (r->current && r->hdr.rev.clock == q->clock && q->doc == NULL)
        q->doc = dbk_eu_open_record(q->s, r);
}

/* r's revision read from the store and opened (verified, decrypted, parsed) as the
 * store's walk opens it: *doc NULL when it does not open. */
static int
open_from_store(dbk_session *s, const dbk_local_record *r, json_t **doc)
{
    struct current_of q = {s, r->hdr.rev.clock, NULL};
    int rc = dbk_local_revisions(s->L, &r->hdr.record, on_current, &q);
    *doc = q.doc;
    return rc;
}

/* Whether docs hold every current record of their stream whole: refresh brought them
 * and the stream's summary sum up to the store's mark in this same command (so the
 * mark is not counted again: 700k instructions), they agree, none failed to open,
 * each one's plaintext is kept. */
static bool
docs_whole(const dbk_sum *sum, const dbk_sum *docs)
{
    if (docs->nbad != 0 || sum->nbad != 0 || docs->rows != sum->rows ||
        docs->max_rowid != sum->max_rowid || !dbk_id_equal(&docs->stream, &sum->stream))
        return false;
    for (size_t i = 0; i < docs->n; i++)
        if (docs->v[i].xlen <= DOC_HDR || (size_t)docs->v[i].xoff + docs->v[i].xlen > docs->nextra)
            return false;
    return true;
}

/*
 * The entries of one client stream the review wants, from its documents alone when
 * they hold every current record (docs_whole): the records in the store's order,
 * each asked of want as the store's walk asks it, each wanted one added as opened
 * (dbk_eu_add) with its header from the document and whether it is pending from the
 * store; one whose document does not parse is opened from the store, as if it had
 * none (quietly: the cache is only ever a shortcut). *done false when they do not hold
 * every record: the caller reads the store.
 */
static int
stream_from_docs(dbk_session *s, const dbk_sum *sum, const dbk_sum *docs, struct want *w,
                 dbk_eu_list *out, bool *done)
{
    dbk_local_stream st;
    dbk_local_record *v;
    struct pending pend = {NULL, 0, 0, DBK_OK};
    int rc = DBK_OK;

    *done = false;
    memset(out, 0, sizeof *out);
    if (!docs_whole(sum, docs) || dbk_local_stream_get(s->L, &docs->stream, &st) != DBK_OK)
        return DBK_OK;
    if ((rc = dbk_local_pending_in(s->L, &docs->stream, on_pending, &pend)) != DBK_OK ||
        (rc = pend.rc) != DBK_OK) {
        free(pend.v);
        return rc;
    }
    if (pend.n > 1)
        qsort(pend.v, pend.n, sizeof *pend.v, by_record_clock);
    if ((v = malloc((docs->n + 1) * sizeof *v)) == NULL) {
        free(pend.v);
        return DBK_E_NOMEM;
    }
    for (size_t i = 0; i < docs->n; i++)
        doc_record(docs, &docs->v[i], &v[i]);
    qsort(v, docs->n, sizeof *v, by_clock_rowid);
    *done = true;
    for (size_t i = 0; i < docs->n && rc == DBK_OK; i++) {
        if (!want(&v[i], w))
            continue;
        const dbk_sum_rec *x = dbk_report_summary_find(docs, &v[i].hdr.record);
        dbk_entry e = {.hdr = v[i].hdr, .kind = st.kind, .owner = st.owner};
        e.pending = is_pending(&pend, &v[i]);
        if ((e.doc = doc_parse(docs, x, DOC_HDR)) == NULL &&
            (rc = open_from_store(s, &v[i], &e.doc)) == DBK_OK && e.doc == NULL)
            out->bad++; /* as the store's walk counts one that does not open */
        if (rc == DBK_OK && e.doc != NULL)
            rc = dbk_eu_add(s, out, &e);
        json_decref(e.doc);
    }
    free(v);
    free(pend.v);
    out->bad += out->foreign_author; /* left out too, as dbk_eu_load counts them */
    if (rc != DBK_OK)
        dbk_eu_free(out);
    return rc;
}

/*
 * The entries of the summarised streams sums (n of them), one stream at a time (each
 * in its index's order, no sort of every envelope), put together oldest first: the
 * records w says yes to (all when w is NULL), each from its stream's documents docs
 * when they hold the stream whole (stream_from_docs), otherwise from the store, a
 * record's plaintext from cached when it has it and opened when not. docs is NULL
 * when there are none (this account's own streams keep their plaintexts in their
 * summaries: cached reads them there).
 */
static int
load_streams(dbk_session *s, const dbk_sum *sums, const dbk_sum *docs, size_t n, struct want *w,
             dbk_entry_cached cached, void *cached_arg, dbk_eu_list *out)
{
    dbk_eu_list one;
    int rc = DBK_OK;

    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n && rc == DBK_OK; i++) {
        dbk_eu_list *into = i == 0 ? out : &one;
        bool done = false;
        if (docs != NULL && w != NULL)
            rc = stream_from_docs(s, &sums[i], &docs[i], w, into, &done);
        if (rc == DBK_OK && !done)
            rc = dbk_eu_load_stream(s, &sums[i].stream, w != NULL ? want : NULL, w, cached,
                                    cached_arg, into);
        if (rc != DBK_OK || i == 0)
            continue;
        rc = dbk_eu_merge(out, &one);
        dbk_eu_free(&one);
    }
    if (rc != DBK_OK)
        dbk_eu_free(out);
    return rc;
}

int
dbk_report_summary_load(dbk_session *s, const dbk_id *client, const dbk_review_period *p,
                        const json_t *kept, const dbk_eu_list *own, dbk_eu_list *out,
                        dbk_review_carried_list *carried)
{
    dbk_sum *sums = NULL, *docs = NULL;
    size_t n = 0;
    int rc;
    struct want w = {0};

    if (!dbk_report_summary_on() ||
        (rc = refresh(s, NULL, client, true, &sums, &docs, &n)) != DBK_OK)
        return dbk_eu_load_owned(s, client, out);
    w.sums = sums, w.n = n, w.me = &s->account, w.client = client, w.kept = kept;
    w.carried = carried;
    (void)kept_index(&w); /* out of memory: every record looked up by its text */
    /* The previous period, which the trend compares with, is opened only when the
     * closed cravings' intensities cannot be handed over (carried NULL). */
    w.prev_from = p->from - (p->to - p->from + 1);
    w.keep_from = carried != NULL ? p->from : w.prev_from;
    w.first_day = INT64_MAX, w.last_day = INT64_MIN;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < sums[i].n; j++) {
            const dbk_sum_rec *x = &sums[i].v[j];
            if (!(x->flags & DBK_SUM_BY_OWNER) || !(x->flags & DBK_SUM_HAS_DAY) ||
                x->type == DBK_SUM_TOMBSTONE)
                continue;
            w.first_day = x->day < w.first_day ? x->day : w.first_day;
            w.last_day = x->day > w.last_day ? x->day : w.last_day;
            w.last_clock = x->clock > w.last_clock ? x->clock : w.last_clock;
        }
    w.run_from = checklist_run_from(sums, n, w.keep_from);
    /* The client's streams (each has its summary), each record wanted read from the
     * documents kept for it (opened when they do not hold its revision), and this
     * account's own from own or, without it, opened. */
    struct sums d = {docs, docs != NULL ? n : 0, DOC_HDR};
    rc = load_streams(s, sums, docs, n, &w, cached_doc, &d, out);
    if (rc == DBK_OK && own == NULL) {
        dbk_eu_list mine;
        if ((rc = dbk_eu_load_owned(s, &s->account, &mine)) == DBK_OK) {
            rc = dbk_eu_merge(out, &mine);
            dbk_eu_free(&mine);
        }
        if (rc != DBK_OK)
            dbk_eu_free(out);
    }
    if (carried != NULL && carried->ncravings > 1)
        qsort(carried->cravings, carried->ncravings, sizeof *carried->cravings, by_clock);
    if (rc == DBK_OK && own != NULL && (rc = dbk_eu_merge(out, own)) != DBK_OK)
        dbk_eu_free(out);
    dbk_report_summary_free(sums, n);
    dbk_report_summary_free(docs, n);
    free(w.kept_ids);
    if (rc != DBK_OK && carried != NULL)
        dbk_review_carried_free(carried);
    return rc;
}
