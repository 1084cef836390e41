#!/usr/bin/env node
// Cross-implementation exchange: the JavaScript implementation of proto/CRYPTO.md
// (tests/interop/daybook.mjs) and the C implementation (common/, driven through the
// dbk_vectool test tool) seal for each other with fresh random keys, ids and nonces:
//   (a) JS seals envelopes, C opens them and returns the same plaintext;
//   (b) C seals envelopes, JS opens them (and with a fixed nonce both produce the
//       same bytes);
//   (c) JS seals a grant, C opens it; C seals a grant, JS opens it;
//   (d) a JS-sealed envelope (and grant) with one flipped byte is rejected by C with
//       the error code the spec gives for that check.
//
// Usage: DAYBOOK_NODE_MODULES=<node_modules with libsodium-wrappers-sumo> \
//        DBK_VECTOOL=<path to dbk_vectool> node tests/interop/roundtrip.mjs
//
// dbk_vectool SUBCOMMAND FILE reads one JSON object (the vector field names of
// proto/vectors/envelope.json and grant.json) and prints: seal-envelope and
// seal-grant the hex bytes; open-envelope the plaintext; open-grant
// {"stream_key": hex, "consent": string}. On rejection it exits 1 with the error
// code on stderr.
//
// Prints one line per case, then "N passed, M failed"; exit 1 on any failure.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

import * as dbk from './daybook.mjs';

const { toHex, fromHex, bytesEqual, randomId, randomBytes } = dbk;
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

let passed = 0, failed = 0;

function ok(name, fn) {
    try {
        fn();
        passed++;
        console.log(`ok   ${name}`);
    } catch (e) {
        failed++;
        console.log(`FAIL ${name}: ${(e && e.message) || e}`);
    }
}
function assert(cond, msg) {
    if (!cond) throw new Error(msg);
}

const tool = process.env.DBK_VECTOOL;
if (!tool || !fs.existsSync(tool)) {
    console.log(`FAIL setup: DBK_VECTOOL is ${tool ? `${tool}, which does not exist` : 'not set'}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'daybook-interop-'));
let fileNo = 0;

/**
 * Run `dbk_vectool sub FILE` with `input` written to FILE as JSON.
 * Returns { status, stdout (Buffer), stderr (string) }.
 */
function vectool(sub, input) {
    const file = path.join(tmp, `${sub}-${++fileNo}.json`);
    fs.writeFileSync(file, JSON.stringify(input));
    try {
        const stdout = execFileSync(tool, [sub, file], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
        return { status: 0, stdout, stderr: '' };
    } catch (e) {
        if (typeof e.status !== 'number') throw e; // could not run at all
        return { status: e.status, stdout: e.stdout ?? Buffer.alloc(0), stderr: String(e.stderr ?? '').trim() };
    }
}

/** Expect success; returns stdout. */
function vectoolOk(sub, input) {
    const r = vectool(sub, input);
    if (r.status !== 0) throw new Error(`dbk_vectool ${sub} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
}

/** Expect rejection with exactly `code` on stderr. */
function vectoolRejects(sub, input, code) {
    const r = vectool(sub, input);
    if (r.status === 0) throw new Error(`dbk_vectool ${sub} accepted it`);
    if (r.status !== 1 || r.stderr !== code) {
        throw new Error(`dbk_vectool ${sub}: want exit 1 with ${code}, got exit ${r.status} with "${r.stderr}"`);
    }
}

function flip(buf, i, x = 0x01) {
    const c = buf.slice();
    c[i] ^= x;
    return c;
}

// ---------------------------------------------------------------------------------
// Fresh random parties and fixtures.

/** A fresh author, stream and record, as both the sealing and the reading side see them. */
function freshEnvelopeSetup(plaintext) {
    const author = dbk.generateAccountKeys();
    const s = {
        author,
        authorId: randomId(), streamId: randomId(), recordId: randomId(), deviceId: randomId(),
        clock: dbk.hlcLocal(0n, BigInt(Date.now())) + BigInt(randomBytes(1)[0]),
        epoch: 1 + (randomBytes(1)[0] % 50),
        streamKey: randomBytes(32),
        plaintext,
    };
    // The JSON a dbk_vectool seal/open reads (vector field names, CRYPTO.md §4).
    s.sealJson = (extra = {}) => ({
        author_seed: toHex(author.ed25519Seed), author_id: toHex(s.authorId),
        stream_id: toHex(s.streamId), record_id: toHex(s.recordId), clock: s.clock.toString(),
        device_id: toHex(s.deviceId), epoch: s.epoch, stream_key: toHex(s.streamKey),
        plaintext: s.plaintext, ...extra,
    });
    s.openJson = (envelope, extra = {}) => ({
        envelope: toHex(envelope), author_pk: toHex(author.ed25519Pk), author_id: toHex(s.authorId),
        stream_id: toHex(s.streamId), record_id: toHex(s.recordId), epoch: s.epoch,
        stream_key: toHex(s.streamKey), ...extra,
    });
    s.jsSeal = (nonce) => dbk.sealEnvelope({
        authorKey: author.ed25519Sk, authorId: s.authorId, streamId: s.streamId, recordId: s.recordId,
        clock: s.clock, deviceId: s.deviceId, epoch: s.epoch, streamKey: s.streamKey,
        plaintext: s.plaintext, nonce,
    });
    s.reader = {
        authorPk: author.ed25519Pk, authorId: s.authorId, streamId: s.streamId,
        recordId: s.recordId, epoch: s.epoch, streamKey: s.streamKey,
    };
    return s;
}

// Record plaintexts (no NUL: the C tool reads plaintext as a C string).
const PLAINTEXTS = {
    'a craving record': JSON.stringify({
        type: 'craving', v: 1, id: 'bvMpQ4v-xgXKx3s7VcmuZg', at: '2025-03-10T21:14:00-05:00',
        intensity: 7, outcome: 'resisted', coping: ['urge_surfing', 'called_sponsor'],
    }),
    'non-ASCII journal text': JSON.stringify({
        type: 'journal', v: 1, text: 'Día 12 — ça va. 今日は大丈夫。 🙂 Ünïcödé', shared: true,
    }),
    'a tombstone': '{"type":"tombstone","v":1,"deleted_at":"2025-03-11T08:00:00Z"}',
    'exactly 255 bytes (one block)': '{"t":"' + 'x'.repeat(255 - 8) + '"}',
    'exactly 256 bytes (two blocks)': '{"t":"' + 'y'.repeat(256 - 8) + '"}',
    '100 KiB record': JSON.stringify({ type: 'journal', v: 1, text: 'é'.repeat(51200) }),
    'a one-byte record': '1',
};

// Every record type the protocol defines, as its schema's valid examples give it
// (proto/schemas/examples/valid): each crosses in both directions below, so a type
// added to proto/ (check-ins, measures, plans, doses, session markers...) is
// exchanged here the day its examples are written.
{
    const dir = new URL('../../proto/schemas/examples/valid/', import.meta.url);
    for (const f of fs.readdirSync(dir).sort()) {
        if (!f.endsWith('.json')) continue;
        const text = JSON.stringify(JSON.parse(fs.readFileSync(new URL(f, dir), 'utf8')));
        PLAINTEXTS[`record type example ${f}`] = text;
    }
}

// ---------------------------------------------------------------------------------
// (a) JS seals, C opens.

for (const [name, text] of Object.entries(PLAINTEXTS)) {
    ok(`(a) JS seals, C opens: ${name}`, () => {
        const s = freshEnvelopeSetup(text);
        const env = s.jsSeal();
        assert(env.length === 172 + 16 + 256 * Math.ceil((enc.encode(text).length + 1) / 256), 'unexpected size');
        const out = vectoolOk('open-envelope', s.openJson(env));
        assert(bytesEqual(new Uint8Array(out), enc.encode(text)), `C returned ${out.length} bytes that differ`);
    });
}

// ---------------------------------------------------------------------------------
// (b) C seals, JS opens; with a fixed nonce both produce identical bytes.

for (const [name, text] of Object.entries(PLAINTEXTS)) {
    ok(`(b) C seals, JS opens: ${name}`, () => {
        const s = freshEnvelopeSetup(text);
        const env = fromHex(vectoolOk('seal-envelope', s.sealJson()).toString().trim());
        const o = dbk.openEnvelope(env, s.reader);
        assert(dec.decode(o.plaintext) === text, 'plaintext differs');
        assert(o.header.clock === s.clock && bytesEqual(o.header.deviceId, s.deviceId), 'revision differs');
    });
}
ok('(b) C and JS seal identical bytes with the same fixed nonce', () => {
    const s = freshEnvelopeSetup(PLAINTEXTS['non-ASCII journal text']);
    const nonce = randomBytes(24);
    const c = vectoolOk('seal-envelope', s.sealJson({ nonce: toHex(nonce) })).toString().trim();
    assert(c === toHex(s.jsSeal(nonce)), 'C and JS envelopes differ');
});
ok('(b) C seals with a random nonce (two seals differ)', () => {
    const s = freshEnvelopeSetup('{"type":"tombstone","v":1}');
    const a = vectoolOk('seal-envelope', s.sealJson()).toString().trim();
    const b = vectoolOk('seal-envelope', s.sealJson()).toString().trim();
    assert(a !== b && a.slice(160, 208) !== b.slice(160, 208), 'nonce repeated');
});

// ---------------------------------------------------------------------------------
// (c) Grants, both directions.

const CONSENT = JSON.stringify({
    type: 'consent', v: 1,
    patient: { name: 'Sunny', account_id: 'bvMpQ4v-xgXKx3s7VcmuZg' },
    recipient: { name: 'Marcus Lee', account_id: 'D1i54OPR1pO77mwmZa-9Xg' },
    purpose: 'So my counselor can review my between-session records — día a día.',
    expires: { date: '2025-09-30', event: 'my discharge' },
    redisclosure_notice: '42 CFR part 2 prohibits unauthorized use or disclosure of these records.',
});

function freshGrantSetup(expiresAt) {
    const owner = dbk.generateAccountKeys();
    const grantee = dbk.generateAccountKeys();
    const now = BigInt(Date.now());
    const g = {
        owner, grantee, ownerId: randomId(), granteeId: randomId(), streamId: randomId(),
        epoch: 1 + (randomBytes(1)[0] % 50), createdAt: now - 5000n,
        expiresAt: expiresAt === undefined ? now + 30n * 86400000n : expiresAt,
        streamKey: randomBytes(32), consent: CONSENT, now,
    };
    g.sealJson = () => ({
        owner_seed: toHex(owner.ed25519Seed), owner_id: toHex(g.ownerId), grantee_id: toHex(g.granteeId),
        grantee_x25519_pk: toHex(grantee.x25519Pk), stream_id: toHex(g.streamId), epoch: g.epoch,
        created_at: g.createdAt.toString(), expires_at: g.expiresAt.toString(),
        stream_key: toHex(g.streamKey), consent: g.consent,
    });
    g.openJson = (grant, extra = {}) => ({
        grant: toHex(grant), owner_pk: toHex(owner.ed25519Pk), owner_id: toHex(g.ownerId),
        grantee_id: toHex(g.granteeId), grantee_x25519_pk: toHex(grantee.x25519Pk),
        grantee_x25519_sk: toHex(grantee.x25519Sk), now: g.now.toString(), ...extra,
    });
    g.jsSeal = () => dbk.sealGrant({
        ownerKey: owner.ed25519Sk, ownerId: g.ownerId, granteeId: g.granteeId,
        granteeX25519Pk: grantee.x25519Pk, streamId: g.streamId, epoch: g.epoch,
        createdAt: g.createdAt, expiresAt: g.expiresAt, streamKey: g.streamKey, consent: g.consent,
    });
    g.reader = {
        ownerPk: owner.ed25519Pk, ownerId: g.ownerId, granteeId: g.granteeId,
        granteeX25519Pk: grantee.x25519Pk, granteeX25519Sk: grantee.x25519Sk, now: g.now,
    };
    return g;
}

for (const [label, exp] of [['with an end date', undefined], ['with no end date', 0n]]) {
    ok(`(c) JS seals a grant, C opens it (${label})`, () => {
        const g = freshGrantSetup(exp);
        const out = JSON.parse(vectoolOk('open-grant', g.openJson(g.jsSeal())).toString());
        assert(out.stream_key === toHex(g.streamKey), 'stream key differs');
        assert(out.consent === g.consent, 'consent differs');
    });
    ok(`(c) C seals a grant, JS opens it (${label})`, () => {
        const g = freshGrantSetup(exp);
        const grant = fromHex(vectoolOk('seal-grant', g.sealJson()).toString().trim());
        const o = dbk.openGrant(grant, g.reader);
        assert(bytesEqual(o.streamKey, g.streamKey), 'stream key differs');
        assert(o.consent === g.consent, 'consent differs');
        assert(o.header.epoch === g.epoch && o.header.createdAt === g.createdAt &&
               o.header.expiresAt === g.expiresAt && bytesEqual(o.header.streamId, g.streamId), 'header differs');
        // Only the box and the signature are randomized: headers must be identical.
        const mine = g.jsSeal();
        assert(mine.length === grant.length && bytesEqual(mine.subarray(0, 76), grant.subarray(0, 76)),
               'C and JS grant headers differ');
    });
}

// ---------------------------------------------------------------------------------
// (d) One flipped byte in a JS-sealed envelope or grant: C rejects with the code of
// the first check that fails (CRYPTO.md §4 and §5).

{
    const s = freshEnvelopeSetup(PLAINTEXTS['a craving record']);
    const env = s.jsSeal();
    const n = env.length - 172;
    const flips = [
        ['version byte', 0, 'unsupported_version'],
        ['flags byte', 1, 'bad_envelope'],
        ['stream id byte', 4, 'bad_signature'],
        ['record id byte', 30, 'bad_signature'],
        ['clock byte', 43, 'bad_signature'],
        ['epoch byte', 63, 'bad_signature'],
        ['author id byte', 64, 'bad_signature'],
        ['nonce byte', 90, 'bad_signature'],
        ['ciphertext length byte', 106, 'bad_envelope'],
        ['first ciphertext byte', 108, 'bad_signature'],
        ['last tag byte', 108 + n - 1, 'bad_signature'],
        ['signature byte', env.length - 1, 'bad_signature'],
    ];
    ok('(d) C opens the untampered envelope', () => {
        assert(vectoolOk('open-envelope', s.openJson(env)).toString() === s.plaintext, 'plaintext differs');
    });
    for (const [what, i, code] of flips) {
        ok(`(d) JS envelope with a flipped ${what} (offset ${i}): C says ${code}`, () => {
            const bad = flip(env, i);
            // JS agrees on the code, so the two implementations reject alike.
            try {
                dbk.openEnvelope(bad, s.reader);
                throw new Error('JS accepted it');
            } catch (e) {
                assert(e.code === code, `JS says ${e.code}`);
            }
            vectoolRejects('open-envelope', s.openJson(bad), code);
        });
    }
    // §4 lists the length check before the version check: a buffer too short to be
    // an envelope is bad_envelope even when its first byte is not 1. The vectors do
    // not pin this order; both implementations must read it the same way.
    ok('(d) a too-short buffer with version 2: bad_envelope in JS and C', () => {
        const bad = env.slice(0, 443);
        bad[0] = 2;
        try {
            dbk.openEnvelope(bad, s.reader);
            throw new Error('JS accepted it');
        } catch (e) {
            assert(e.code === 'bad_envelope', `JS says ${e.code}`);
        }
        vectoolRejects('open-envelope', s.openJson(bad), 'bad_envelope');
    });
    ok('(d) C rejects a JS envelope read under another epoch: bad_envelope', () => {
        vectoolRejects('open-envelope', s.openJson(env, { epoch: s.epoch + 1 }), 'bad_envelope');
    });
    ok('(d) C rejects a JS envelope read with another stream key: decrypt_failed', () => {
        vectoolRejects('open-envelope', s.openJson(env, { stream_key: toHex(randomBytes(32)) }), 'decrypt_failed');
    });
}
{
    const g = freshGrantSetup();
    const grant = g.jsSeal();
    for (const [what, i, code] of [
        ['version byte', 0, 'unsupported_version'],
        ['epoch byte', 23, 'bad_signature'],
        ['expiry byte', 70, 'bad_signature'],
        ['sealed box byte', 100, 'bad_signature'],
        ['signature byte', grant.length - 1, 'bad_signature'],
    ]) {
        ok(`(d) JS grant with a flipped ${what} (offset ${i}): C says ${code}`, () => {
            vectoolRejects('open-grant', g.openJson(flip(grant, i)), code);
        });
    }
    ok('(d) C rejects a JS grant read by another account: bad_grant', () => {
        vectoolRejects('open-grant', g.openJson(grant, { grantee_id: toHex(randomId()) }), 'bad_grant');
    });
    ok('(d) C rejects a JS grant after its end date: expired', () => {
        vectoolRejects('open-grant', g.openJson(grant, { now: (g.expiresAt + 1n).toString() }), 'expired');
    });
    // §5: "the expiry, if set, is after the reader's clock". At now == expires_at it
    // is not after, so both must say expired; one ms earlier both must open it.
    ok('(d) a JS grant read exactly at its end date: expired in JS and C', () => {
        try {
            dbk.openGrant(grant, { ...g.reader, now: g.expiresAt });
            throw new Error('JS accepted it');
        } catch (e) {
            assert(e.code === 'expired', `JS says ${e.code}`);
        }
        vectoolRejects('open-grant', g.openJson(grant, { now: g.expiresAt.toString() }), 'expired');
        const out = JSON.parse(vectoolOk('open-grant', g.openJson(grant, { now: (g.expiresAt - 1n).toString() })));
        assert(out.stream_key === toHex(g.streamKey), 'C did not open it one ms before the end date');
    });
}

fs.rmSync(tmp, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
