/*
 * What this device believes, and why. The server is an adversary here: it can list
 * any key, grant, epoch or stream kind it likes, and the client believes only what a
 * signature it checked itself says. Every such decision is declared here and made in
 * trust/ (trust.c: authorship, grants, readers, sealed documents; pins.c: pins, safety
 * numbers, the enrollment's counselor; heads.c: stream heads; seal.c: sealing a record;
 * login.c: login and key bundles); commands and sync call it and never decide trust
 * themselves.
 *
 * Pins. The keys of another account this device verified: a counselor's Ed25519 and
 * X25519 keys checked against the fingerprint of the enrollment code given in person
 * (both keys: the fingerprint covers both), or a client's keys first seen by its
 * counselor (trust on first use, to be confirmed by comparing safety numbers). A pin
 * is never replaced silently: a different key for a pinned account is refused.
 *
 * Grants. A grant is kept only if its owner's pinned (or own) identity key signed
 * it and it is addressed to this account; a stored grant that verifies is never
 * replaced by other bytes for the same stream and epoch, so a server cannot swap a
 * self-grant. A stream's epoch rises only with a verified grant for the new epoch and
 * never goes down.
 *
 * Streams. A stream's kind is this device's own knowledge: its own streams' kinds
 * come from the self-grant the account signed ("stream_kind" in its consent); a
 * stream owned by another account can only be a shared one (a private stream is
 * never granted). What the server lists is compared with that and a disagreement is
 * reported, never applied.
 */
#ifndef DBK_CLIENT_TRUST_H
#define DBK_CLIENT_TRUST_H

#include "session.h"

#include "dbk/fingerprint.h"
#include "dbk/grant.h"
#include "dbk/keys.h"

/* Pins account's two keys (verified by the caller against a fingerprint or a safety
 * number). DBK_E_FINGERPRINT when a different pin exists. */
int dbk_trust_pin(dbk_session *s, const dbk_id *account, const unsigned char sign_pk[32],
                  const unsigned char box_pk[32]);
/* The pinned keys of account; DBK_E_NOT_FOUND when none (box_pk may be NULL when only
 * the identity key is wanted; an identity pinned before box keys were pinned gives
 * DBK_E_NOT_FOUND for box_pk). A pin that cannot be read (DBK_E_IO) or is damaged
 * (DBK_E_CORRUPT) is that error, never DBK_E_NOT_FOUND: callers say it, and never pin
 * over it. */
int dbk_trust_pinned(dbk_session *s, const dbk_id *account, unsigned char sign_pk[32],
                     unsigned char box_pk[32]);
/* The identity key account signs with: this account's own (keys unlocked), else the
 * pinned one, as dbk_trust_pinned gives it (DBK_E_NOT_FOUND when none is pinned). */
int dbk_trust_sign_pk(dbk_session *s, const dbk_id *account, unsigned char sign_pk[32]);
/* Trust on first use of an identity key the server listed (a counselor learning a
 * client's): pinned when none is, refused (DBK_E_FINGERPRINT) when it differs. */
int dbk_trust_pin_first_use(dbk_session *s, const dbk_id *account,
                            const unsigned char sign_pk[32]);
/* The keys pinned for account, believed for a link only if they match its fingerprint
 * fp: DBK_E_NOT_FOUND when none are pinned, DBK_E_FINGERPRINT when they do not match. */
int dbk_trust_pinned_matches(dbk_session *s, const dbk_id *account, const char *fp,
                             unsigned char sign_pk[32], unsigned char box_pk[32]);
/* Whether the keys the server lists for account (listed_sign, listed_box) are the ones
 * pinned: DBK_OK when they are, DBK_E_FINGERPRINT when either differs (the pins are
 * kept, nothing changes), DBK_E_NOT_FOUND when the two are not both pinned. */
int dbk_trust_listed_keys(dbk_session *s, const dbk_id *account, const unsigned char listed_sign[32],
                          const unsigned char listed_box[32]);
/*
 * The keys of other to compare a safety number with, given the keys the server lists
 * now (listed_sign, listed_box; NULL when it could not be asked): the pinned ones, and
 * *changed when the listed ones differ. Keys not both pinned yet are pinned from the
 * listing on first use (a counselor learning a client's X25519 key; its identity key
 * was pinned on first sight by sync), unless the listing names another identity key
 * than the pinned one: then *changed, nothing is pinned, and the pinned identity key is
 * given with the listed X25519 key. DBK_E_NOT_FOUND when none are pinned and none listed.
 */
int dbk_trust_verify_keys(dbk_session *s, const dbk_id *other, const unsigned char *listed_sign,
                          const unsigned char *listed_box, unsigned char sign_pk[32],
                          unsigned char box_pk[32], bool *changed);

/*
 * Safety numbers (the Signal model): 60 digits from both accounts' keys, compared in
 * person. dbk_trust_confirm records that the people compared the number for the
 * keys pinned now; dbk_trust_confirmed says whether they did, for these keys: DBK_OK
 * when they did, DBK_E_NOT_FOUND when not (nothing pinned, never compared, or compared
 * for other keys), or the error of a pin or record that cannot be read (DBK_E_CORRUPT,
 * DBK_E_IO), which is never "not confirmed".
 */
int dbk_trust_confirm(dbk_session *s, const dbk_id *account);
int dbk_trust_confirmed(dbk_session *s, const dbk_id *account);
/* The safety number of this account and other (its keys sign_pk and box_pk, as pinned
 * or as just checked), to be read out and compared. s must be unlocked. */
void dbk_trust_safety_number(const dbk_session *s, const dbk_id *other,
                             const unsigned char sign_pk[32], const unsigned char box_pk[32],
                             char sn[DBK_SAFETY_NUMBER_LEN + 1]);

/*
 * The counselor a server's answer names (c: an account's keys object: the "counselor"
 * of an enrollment answer, sync/enroll.h, or of the check before it, or the keys
 * fetched to share again, sync/sharing.h), believed only if it is the account the link
 * names (link_counselor, id text) and its two keys match the fingerprint fp the
 * counselor handed over with the link; then *counselor, sign_pk and box_pk are set, for
 * the caller to pin. Anything missing, malformed or different is DBK_E_FINGERPRINT: a
 * server that substitutes a key or an account is refused.
 */
int dbk_trust_enrolled_counselor(const json_t *c, const char *link_counselor, const char *fp,
                                 dbk_id *counselor, unsigned char sign_pk[32],
                                 unsigned char box_pk[32]);

/*
 * Authorship. A stream's owner may author any record in it; another account holding
 * the stream's key (a counselor) only the kinds a counselor writes: note,
 * checklist_def (assigned skills), plan, medication, measure_schedule, attendance
 * (a session attended), referral (daybook transfer), reviewed (which entries its
 * reviews showed, book/reviewed.h), and the tombstone of one of
 * those. A craving, a journal entry or a check-in signed by anyone but the owner is
 * not the owner's and is never shown as such: readers leave it out and count it.
 */
bool dbk_trust_author_may_write(const dbk_id *owner, const dbk_id *author, const char *type);

/*
 * Whether env (header h, pulled into a stream owned by owner) would replace the current
 * revision of a record held here without being its author's: its signature does not
 * hold under the author's key as this device knows it (its own, or pinned), or no key
 * is known for its author while the current revision is the owner's own writing (which
 * only the owner, whose key a reader pins, may replace: proto/TRUST.md T7) or while its
 * author is neither the current revision's nor the owner (a record is written by the
 * account that created it and by the owner alone: a counselor's note the client holds
 * is not replaced by one naming an account nobody here knows). Such a
 * revision would become current and, not opening, take the entry out of every view (a
 * risky journal the counselor read, gone from Read first): sync refuses it. A new
 * record, or a revision that would not be current, is not forged here: opening checks
 * it. True also when the check cannot run (the store failed): kept out, as unsure.
 */
bool dbk_trust_revision_forged(dbk_session *s, const unsigned char *env, size_t len,
                               const dbk_envelope_hdr *h, const dbk_id *owner);

/*
 * What an opened plaintext is to a reader, before anything else is asked of it: an
 * entry; a stream head (T12), which is bookkeeping, never shown nor counted; or no
 * JSON object at all, counted as an entry that did not open. Every reader asks this
 * (book/entry.c, book/entries.c, report/summary.c), so no cache is read otherwise.
 */
typedef enum { DBK_DOC_ENTRY, DBK_DOC_HEAD, DBK_DOC_BAD } dbk_doc_kind;
dbk_doc_kind dbk_trust_doc_kind(const json_t *doc);

/* Why a grant or a listing was refused, counted for the user to see. */
typedef struct dbk_trust_report {
    size_t bad_grants;      /* not signed by the owner's pinned key, or not for us */
    size_t replaced_grants; /* other bytes offered for a grant already held */
    size_t kind_swaps;      /* a stream listed as another kind than we know */
    size_t epoch_rollbacks; /* a stream listed at an epoch below the one we hold */
    size_t withheld;        /* records a signed stream head counts that never arrived */
    size_t head_rollbacks;  /* a stream head older than one this device already saw */
    size_t heads_unknown;   /* streams holding records but no head this device can check:
                               whether anything is withheld there cannot be told */
    size_t heads_none;      /* another account's streams of which this device holds no
                               record and has seen no head of the owner's: nothing seen
                               and no signed count, so whether the server withholds all
                               of it cannot be told (T12); one's own are own_none */
    size_t own_none;        /* this account's own streams of which this device, made by
                               'daybook login', holds no record and has seen no head:
                               likewise cannot be told (T12) */
} dbk_trust_report;

/*
 * Signed ends (proto/TRUST.md T8). Before it revokes a reader, the owner's device sends
 * a grant of the same stream and epoch to that reader ending DBK_TRUST_END_MS after it
 * was signed; a reader keeps, per stream, the newest (by its signed created_at) grant
 * to it whose owner's pinned key verifies, in any state the server lists it, and an end
 * rests on the owner's signature only when that grant ends (expires_at set) and either
 * has ended or lasts no longer than DBK_TRUST_END_MAX_MS (no consent is given for a
 * minute): the server's "revoked" alone, or an older grant it hands back, never does.
 */
#define DBK_TRUST_END_MS 30000
#define DBK_TRUST_END_MAX_MS 60000
/* Notes a grant to this account the server lists revoked (or in any state): kept as the
 * owner's newest word on this account's access when it verifies with the pinned key and
 * is newer than the one kept (only a reader's note; the grant's key is not taken). */
int dbk_trust_note_grant(dbk_session *s, const unsigned char *g, size_t len);
/* Whether this account's reading of stream ended by the owner's signature (above);
 * *ends_ms: when it ends, as signed. */
bool dbk_trust_end_signed(dbk_session *s, const dbk_id *stream, int64_t *ends_ms);

/* Checks a grant the server handed over and keeps it if it stands (see above). */
int dbk_trust_accept_grant(dbk_session *s, const unsigned char *g, size_t len,
                           dbk_trust_report *r);
/* Compares the server's listing of a stream (kind "shared"/"private", epoch) with
 * what this device knows; counts disagreements in r and changes nothing. */
void dbk_trust_stream_listed(dbk_session *s, const dbk_id *stream, const char *kind,
                             uint32_t epoch, dbk_trust_report *r);
/* Whether r holds anything the user must be told. */
bool dbk_trust_report_any(const dbk_trust_report *r);

/*
 * Readers. Who holds the key of one of this account's streams is this device's own
 * record of what the account signed (the acts of store/local.h): an account whose
 * latest act on the stream is a grant this account's key signed, not expired, and not
 * revoked since. The server's listing (listed: ids of grantees it shows active, may be
 * NULL) only adds accounts a grant made on another device of this account gave a key.
 * Either way a reader is kept only when its keys are pinned (T1), and the new key of a
 * rotation is sealed to the pinned X25519 key, never to one the server lists now.
 */
typedef struct dbk_trust_reader {
    dbk_id account;
    unsigned char box_pk[32];
    bool from_acts; /* known from this device's own acts, not only from the listing */
} dbk_trust_reader;

#define DBK_TRUST_READERS_MAX 32

/* The readers of stream but except (may be NULL) into out (at most
 * DBK_TRUST_READERS_MAX); *skipped counts the accounts left out for want of pins. */
int dbk_trust_readers(dbk_session *s, const dbk_id *stream, const json_t *listed,
                      const dbk_id *except, dbk_trust_reader *out, size_t *n, size_t *skipped);

/*
 * Stream heads (proto/TRUST.md T12). The owner of a stream signs, as a record of the
 * stream with a fixed id, how many distinct record ids it held there when it last
 * pushed records it wrote; the server keeps one revision per record and never drops a
 * record id, so a reader holding fewer ids than a head it verified counts the
 * difference as withheld. The head also signs how many of them the owner wrote, which
 * a reader compares with the records it holds that the owner wrote, so that records of
 * other writers (a counselor's) cannot fill a gap.
 *
 * dbk_trust_head_id gives the head's record id; dbk_trust_head_due says whether the
 * owner should write a new head (*count, *own: the counts it would sign);
 * dbk_trust_head_written records that it did. dbk_trust_heads_write writes them, with
 * the keys unlocked, in the caller's transaction (sync reads the round's outbox in the
 * same one, so no entry committed between the two goes out counted by no head), before
 * each round of a sync that pushes: the head of each of this account's own streams
 * where a record written here waits to be pushed and more record ids are held than
 * the last head counted (signed once per push, not after every entry; its clock
 * follows the records it counts, so it is pushed after them). The private stream's
 * head signs the shared stream's counts too ("streams"), and is written again when the
 * shared stream holds more than it signed of it, so that a device of the account reads
 * its shared stream against them (a first head served back, what followed withheld).
 * dbk_trust_heads_pending says whether a record written here waits to be pushed in one
 * of those streams: sync then pulls before it signs, so that the head counts what the
 * server holds too and never counts fewer, at a newer clock, than a head another
 * device of the account (or this one, before a restore of its profile) pushed already.
 * dbk_trust_stream_head checks one stream after a pull and counts in r what it finds.
 * dbk_trust_head_first writes the first head of a stream this device just made (st,
 * in the write transaction that made it; no records, none of them the owner's), so that its other
 * devices can tell an account that wrote nothing from one whose stream the server withholds whole.
 */
void dbk_trust_head_id(const dbk_id *stream, dbk_id *out);
int dbk_trust_head_first(dbk_session *s, const dbk_local_stream *st);
bool dbk_trust_head_due(dbk_session *s, const dbk_id *stream, int64_t *count, int64_t *own);
int dbk_trust_head_written(dbk_session *s, const dbk_id *stream, int64_t count);
bool dbk_trust_heads_pending(dbk_session *s);
/* This account's own streams as this device holds them (has_*: held), read once in a
 * sync round's transaction and passed to what the round does with them. */
typedef struct dbk_trust_own {
    dbk_local_stream shared, priv;
    bool has_shared, has_priv;
} dbk_trust_own;
int dbk_trust_own_streams(dbk_session *s, dbk_trust_own *own);
int dbk_trust_heads_write(dbk_session *s, const dbk_trust_own *own);
/* Whether the private stream's head (*head) must stay out of this push (*hold): it signs
 * the shared stream's counts, so it goes only once the server acknowledged every record
 * of the shared stream written here (none waits to be pushed there), or in the same
 * request as all of them, named "after" them (sync/sync.c push_entries). Pushed beside
 * them, a push of the shared stream refused (the server's quota full, the connection
 * cut between the two) left the account's other devices reading the shared stream
 * against counts the server never held: "withheld", falsely, until the next push. Read
 * in the caller's transaction with the outbox; a store that cannot be read holds it. */
void dbk_trust_head_held(dbk_session *s, const dbk_trust_own *own, dbk_id *head, bool *hold);
int dbk_trust_stream_head(dbk_session *s, const dbk_id *stream, const dbk_id *owner,
                          uint32_t epoch, dbk_trust_report *r);
/*
 * How many of this account's own streams this device holds no stream of at all: every
 * account makes its private stream, a client's its shared one too, at init, with their
 * self-grants; a device that 'daybook login' made learns them from the self-grants the
 * server lists. One the server left out holds nothing, and no head of it is checked
 * (dbk_trust_stream_head walks the streams held): sync asks for the grants again at
 * each sync while one is missing and counts it own_none, so it is said, never silent.
 */
size_t dbk_trust_own_missing(dbk_session *s);

/*
 * Login (proto/README.md section 6). What the server offers at the start of a login
 * (sync/account.h) is believed only as far as this device can check it: KDF
 * parameters below the floors are refused (DBK_E_KDF_WEAK: a server cannot make
 * this device derive keys cheaply), and so is another server's id where the profile
 * knows one (DBK_E_FINGERPRINT: another server answers at this address); a profile
 * without one yet takes it into s. The account's key bundle the server hands a new
 * device is opened with the passphrase into s->keys and believed only if its identity
 * key is the one the server lists for the account (DBK_E_CORRUPT otherwise; a wrong
 * passphrase gives DBK_E_PASSPHRASE).
 */
int dbk_trust_login_server(dbk_session *s, const dbk_kdf_params *p, int alg,
                           const dbk_id *server_id);
int dbk_trust_account_bundle(dbk_session *s, const unsigned char *bundle, size_t len,
                             const unsigned char listed_sign_pk[32], const char *pass);
/*
 * The answer to a login challenge ch the server offered (sync/account.h: its KDF
 * parameters kdf and kdf_alg, its id server_id): the offer checked as
 * dbk_trust_login_server does, the passphrase's keys derived with those parameters
 * (*pass_keys, free with dbk_pass_keys_free; NULL on an error) and ch signed with the
 * login key for this account and device (sig). Never sends anything.
 */
int dbk_trust_login_answer(dbk_session *s, const char *pass, const dbk_kdf_params *kdf,
                           int kdf_alg, const dbk_id *server_id, const unsigned char ch[32],
                           dbk_pass_keys **pass_keys, unsigned char sig[64]);
/*
 * The same answer for the account this profile tried to create, whose enrollment the
 * server may have committed while its answer was lost (proto/README.md 4.3, "A lost
 * answer"). Nothing the server offers is used but the challenge: the passphrase's keys
 * are derived with this profile's own KDF parameters (from the bundle it sent), and
 * the passphrase must give the login key it sent (DBK_E_PASSPHRASE). The offer is
 * checked as dbk_trust_login_server does, and its parameters must be the ones sent:
 * other ones (an unknown account's fake ones) mean the server holds no bundle of this
 * account, DBK_E_GONE. DBK_E_CORRUPT when the profile lacks its bundle or login key.
 */
int dbk_trust_enroll_login_answer(dbk_session *s, const char *pass, const dbk_kdf_params *kdf,
                                  int kdf_alg, const dbk_id *server_id, const unsigned char ch[32],
                                  unsigned char sig[64]);
/*
 * Whether the account a new token opens is this one: listed_sign_pk, what GET
 * /v1/account lists with that token, must be this profile's own signing key (s->keys
 * open), else DBK_E_CORRUPT. A login answer's token is the server's word only; a token
 * of another account (a relay's swap) would have this device sync as someone else.
 */
int dbk_trust_own_account(const dbk_session *s, const unsigned char listed_sign_pk[32]);
/*
 * Changing the passphrase (proto/README.md section 6). _open opens this profile's key
 * bundle with the current passphrase into s->keys (DBK_E_PASSPHRASE on a wrong one),
 * bundle its bytes and *gen its generation. _reseal derives the new passphrase's keys
 * with fresh KDF parameters (the defaults, a new salt; *pass_keys: its login key is what
 * the server is told) and seals the account keys into bundle again at generation
 * gen + 1. Neither stores nor sends: the caller sends the new bundle, then keeps it.
 */
int dbk_trust_passphrase_open(dbk_session *s, const char *pass,
                              unsigned char bundle[DBK_BUNDLE_BYTES], uint32_t *gen);
int dbk_trust_passphrase_reseal(dbk_session *s, const char *newpass, uint32_t gen,
                                unsigned char bundle[DBK_BUNDLE_BYTES],
                                dbk_pass_keys **pass_keys);

/* The consent of a self-grant for a stream of this kind (DBK_LOCAL_*): binds the
 * kind into what the account signs. New reference. */
json_t *dbk_trust_self_consent(int kind, const char *when);

/*
 * What this device keeps for itself alone, sealed (crypto_box_seal). dbk_trust_seal_doc:
 * doc as compact JSON with sorted keys sealed to box_pk into *sealed (free; *len bytes),
 * the text wiped. dbk_trust_open_doc: a JSON object sealed to this account's own X25519
 * key, opened with s->keys (s unlocked) into *doc (new reference); DBK_E_CORRUPT when it
 * does not open or is not an object. The opened text is held in sodium_malloc memory.
 */
int dbk_trust_seal_doc(const json_t *doc, const unsigned char box_pk[32], unsigned char **sealed,
                       size_t *len);
int dbk_trust_open_doc(const dbk_session *s, const unsigned char *sealed, size_t len, json_t **doc);

/*
 * A new account (`daybook init`). dbk_trust_new_stream: a new stream of this account
 * of kind (DBK_LOCAL_*) into st, a random id and key at epoch 1, the key held only in
 * the self-grant *g (free) whose consent names the kind; the key is wiped.
 * dbk_trust_first_bundle: the account's keys made into s->keys (s->account set) and
 * sealed into bundle at generation 1 under the passphrase's keys (*pass_keys, fresh
 * KDF parameters; free with dbk_pass_keys_free). Neither stores nor sends.
 */
int dbk_trust_new_stream(const dbk_session *s, int kind, const char *when, dbk_local_stream *st,
                         unsigned char **g, size_t *len);
int dbk_trust_first_bundle(dbk_session *s, const char *pass, unsigned char bundle[DBK_BUNDLE_BYTES],
                           dbk_pass_keys **pass_keys);

#endif
