#!/usr/bin/env node
// Self-test of tests/interop/daybook.mjs, the JavaScript implementation of
// proto/CRYPTO.md: everything round-trips inside JavaScript (seal -> open), every
// tampering is rejected with the spec's error code, byte layouts are where the spec
// puts them, and the safety number is symmetric. Needs neither the C code nor the
// vectors, so it can run before either exists.
//
// Usage: DAYBOOK_NODE_MODULES=<node_modules with libsodium-wrappers-sumo> \
//          node tests/interop/selftest.mjs
//
// Prints one line per case and ends with "N passed, M failed"; exit 1 on any failure.

import * as dbk from './daybook.mjs';

const { sodium, fromHex, toHex, concat, bytesEqual } = dbk;
const enc = new TextEncoder();
const dec = new TextDecoder();

let passed = 0, failed = 0;

function ok(name, fn) {
    try {
        fn();
        passed++;
        console.log(`ok   ${name}`);
    } catch (e) {
        failed++;
        console.log(`FAIL ${name}: ${e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e}`);
    }
}

/** The case passes when fn throws a DaybookError with exactly this code. */
function rejects(name, code, fn) {
    ok(`${name} -> ${code}`, () => {
        try {
            fn();
        } catch (e) {
            if (e instanceof dbk.DaybookError && e.code === code) return;
            throw new Error(`expected ${code}, got ${e && e.code ? e.code : ''} ${e && e.message}`);
        }
        throw new Error(`expected ${code}, but it was accepted`);
    });
}

function assert(cond, msg) {
    if (!cond) throw new Error(msg || 'assertion failed');
}
function assertEq(a, b, msg) {
    if (a !== b) throw new Error(`${msg || 'not equal'}: ${a} !== ${b}`);
}
function assertBytes(a, b, msg) {
    if (!bytesEqual(a, b)) throw new Error(`${msg || 'bytes differ'}: ${toHex(a)} != ${toHex(b)}`);
}

/** A copy of buf with byte i XORed with x. */
function flip(buf, i, x = 0x01) {
    const c = buf.slice();
    c[i] ^= x;
    return c;
}

const be32 = (buf, off, v) => new DataView(buf.buffer, buf.byteOffset).setUint32(off, v, false);

// ---------------------------------------------------------------------------------
// Conventions: hex and base64url

ok('hex round trip', () => {
    const b = dbk.randomBytes(33);
    assertBytes(fromHex(toHex(b)), b);
    assertEq(toHex(Uint8Array.of(0, 0xab, 0xff)), '00abff');
});
ok('base64url strict decoder', () => {
    const b = Uint8Array.of(0xfb, 0xff, 0x01);
    assertEq(dbk.base64urlEncode(b), '-_8B');
    assertBytes(dbk.base64urlDecode('-_8B'), b);
    assertBytes(dbk.base64urlDecode('AA'), Uint8Array.of(0));
    assert(dbk.base64urlDecode('AB') === null, 'non-zero trailing bits accepted');
    assert(dbk.base64urlDecode('AA==') === null, 'padding accepted');
    assert(dbk.base64urlDecode('+/8B') === null, 'standard alphabet accepted');
    assert(dbk.base64urlDecode('AA AA') === null, 'whitespace accepted');
    assert(dbk.base64urlDecode('A') === null, 'length 1 mod 4 accepted');
});

// ---------------------------------------------------------------------------------
// §1 KDF

const OPS = 2, MEM = 67108864;
const salt = fromHex('000102030405060708090a0b0c0d0e0f');

ok('kdf bounds: floors and ceilings accepted', () => {
    dbk.checkKdfParams(2, 67108864);
    dbk.checkKdfParams(10, 1073741824);
    dbk.checkKdfParams('3', 67108864n, 2);
});
rejects('kdf opslimit below floor', 'kdf_too_weak', () => dbk.checkKdfParams(1, MEM));
rejects('kdf opslimit above ceiling', 'kdf_too_weak', () => dbk.checkKdfParams(11, MEM));
rejects('kdf memlimit below floor', 'kdf_too_weak', () => dbk.checkKdfParams(3, MEM - 1));
rejects('kdf memlimit above ceiling', 'kdf_too_weak', () => dbk.checkKdfParams(3, 1073741825));
rejects('kdf algorithm Argon2i', 'kdf_too_weak', () => dbk.checkKdfParams(3, MEM, 1));
rejects('deriveMaster refuses weak params before hashing', 'kdf_too_weak',
        () => dbk.deriveMaster('pw', salt, 1, 8192));

let keysA;
ok('kdf derivation is deterministic and domain-separated', () => {
    keysA = dbk.deriveKeys('correct horse battery staple', salt, OPS, MEM);
    const again = dbk.deriveKeys(enc.encode('correct horse battery staple'), salt, OPS, MEM);
    assertBytes(again.master, keysA.master, 'master');
    assertBytes(again.loginPk, keysA.loginPk, 'login pk');
    assert(!bytesEqual(keysA.loginSeed, keysA.bundleKey), 'login seed == bundle key');
    assertBytes(keysA.loginSeed, sodium.crypto_generichash(32, enc.encode('daybook/v1/login-seed\0'), keysA.master));
    assertBytes(keysA.bundleKey, sodium.crypto_generichash(32, enc.encode('daybook/v1/bundle-key\0'), keysA.master));
    assertBytes(dbk.loginKeypair(keysA.loginSeed).publicKey, keysA.loginPk);
    const other = dbk.deriveMaster('correct horse battery staple', flip(salt, 0), OPS, MEM);
    assert(!bytesEqual(other, keysA.master), 'salt ignored');
});

// ---------------------------------------------------------------------------------
// §2 Bundle

const accountId = dbk.randomId();
const acct = dbk.generateAccountKeys();
const bundleParams = {
    accountId, passphrase: 'correct horse battery staple', salt, opslimit: OPS, memlimit: MEM,
    generation: 1, ed25519Seed: acct.ed25519Seed, x25519Sk: acct.x25519Sk,
};
let bundle;
ok('bundle seal (passphrase) and open', () => {
    bundle = dbk.sealBundle(bundleParams);
    assertEq(bundle.length, 148, 'length');
    assertEq(toHex(bundle.subarray(0, 8)), '44424b4201020000', 'magic/version/alg/reserved');
    assertEq(toHex(bundle.subarray(8, 12)), '00000001', 'generation');
    assertEq(toHex(bundle.subarray(12, 20)), '0000000000000002', 'opslimit');
    assertEq(toHex(bundle.subarray(20, 28)), '0000000004000000', 'memlimit');
    assertBytes(bundle.subarray(28, 44), salt, 'salt');
    const o = dbk.openBundle(accountId, 'correct horse battery staple', bundle);
    assertBytes(o.ed25519Seed, acct.ed25519Seed);
    assertBytes(o.x25519Sk, acct.x25519Sk);
    assertBytes(o.ed25519Pk, acct.ed25519Pk);
    assertBytes(o.x25519Pk, acct.x25519Pk);
    assertEq(o.generation, 1);
    assertEq(o.opslimit, 2n);
});
ok('bundle with a fixed nonce is deterministic', () => {
    const nonce = dbk.randomBytes(24);
    const a = dbk.sealBundleWithKey({ ...bundleParams, bundleKey: keysA.bundleKey, nonce });
    const b = dbk.sealBundleWithKey({ ...bundleParams, bundleKey: keysA.bundleKey, nonce });
    assertBytes(a, b);
    assertBytes(a.subarray(44, 68), nonce);
});
rejects('bundle wrong passphrase', 'wrong_passphrase',
        () => dbk.openBundle(accountId, 'correct horse battery stapl', bundle));
rejects('bundle moved to another account', 'wrong_passphrase',
        () => dbk.openBundleWithKey(dbk.randomId(), keysA.bundleKey, bundle));
rejects('bundle generation changed', 'wrong_passphrase',
        () => dbk.openBundleWithKey(accountId, keysA.bundleKey, flip(bundle, 11)));
rejects('bundle ciphertext flipped', 'wrong_passphrase',
        () => dbk.openBundleWithKey(accountId, keysA.bundleKey, flip(bundle, 100)));
rejects('bundle opslimit raised within bounds', 'wrong_passphrase',
        () => dbk.openBundleWithKey(accountId, keysA.bundleKey, flip(bundle, 19, 0x01)));
rejects('bundle bad magic', 'corrupt', () => dbk.openBundle(accountId, 'x', flip(bundle, 0)));
rejects('bundle version 2', 'unsupported_version', () => dbk.openBundle(accountId, 'x', flip(bundle, 4, 0x03)));
rejects('bundle algorithm 1', 'corrupt', () => dbk.openBundle(accountId, 'x', flip(bundle, 5, 0x03)));
rejects('bundle reserved set', 'corrupt', () => dbk.openBundle(accountId, 'x', flip(bundle, 7)));
rejects('bundle truncated', 'corrupt', () => dbk.openBundle(accountId, 'x', bundle.subarray(0, 147)));
rejects('bundle too long', 'corrupt', () => dbk.openBundle(accountId, 'x', concat(bundle, Uint8Array.of(0))));
rejects('bundle opslimit 1', 'kdf_too_weak', () => dbk.openBundle(accountId, 'x', flip(bundle, 19, 0x03)));
rejects('bundle memlimit halved', 'kdf_too_weak', () => {
    const b = bundle.slice();
    b.set(fromHex('0000000002000000'), 20);
    dbk.openBundle(accountId, 'x', b);
});
rejects('bundle corrupt is checked before kdf bounds', 'corrupt',
        () => dbk.openBundle(accountId, 'x', flip(flip(bundle, 19, 0x03), 6)));

// ---------------------------------------------------------------------------------
// §3 Login challenge

const serverId = dbk.randomId(), deviceId = dbk.randomId();
const challenge = dbk.randomBytes(32);
let loginSig;
ok('login signing input layout, sign and verify', () => {
    const input = dbk.loginSigningInput(serverId, accountId, challenge, deviceId);
    assertEq(input.length, 27 + 16 + 16 + 32 + 16);
    assertEq(dec.decode(input.subarray(0, 27)), 'daybook/v1/login-challenge\0');
    assertBytes(input.subarray(27, 43), serverId);
    assertBytes(input.subarray(43, 59), accountId);
    assertBytes(input.subarray(59, 91), challenge);
    assertBytes(input.subarray(91), deviceId);
    loginSig = dbk.signLogin(keysA.loginSeed, serverId, accountId, challenge, deviceId);
    assertBytes(loginSig, dbk.signLogin(keysA.loginSk, serverId, accountId, challenge, deviceId), 'seed vs sk');
    dbk.verifyLogin(keysA.loginPk, serverId, accountId, challenge, deviceId, loginSig);
});
rejects('login another server', 'bad_signature',
        () => dbk.verifyLogin(keysA.loginPk, dbk.randomId(), accountId, challenge, deviceId, loginSig));
rejects('login another account', 'bad_signature',
        () => dbk.verifyLogin(keysA.loginPk, serverId, dbk.randomId(), challenge, deviceId, loginSig));
rejects('login another challenge', 'bad_signature',
        () => dbk.verifyLogin(keysA.loginPk, serverId, accountId, flip(challenge, 31), deviceId, loginSig));
rejects('login another device', 'bad_signature',
        () => dbk.verifyLogin(keysA.loginPk, serverId, accountId, challenge, dbk.randomId(), loginSig));
rejects('login flipped signature bit', 'bad_signature',
        () => dbk.verifyLogin(keysA.loginPk, serverId, accountId, challenge, deviceId, flip(loginSig, 5, 0x10)));

// ---------------------------------------------------------------------------------
// §4 Padding

for (const [len, want] of [[0, 256], [1, 256], [255, 256], [256, 512], [257, 512], [511, 512], [512, 768]]) {
    ok(`pad ${len} bytes -> ${want}`, () => {
        const p = dbk.randomBytes(len);
        const padded = dbk.pad(p);
        assertEq(padded.length, want);
        assertEq(padded[len], 0x80, 'marker');
        for (let i = len + 1; i < want; i++) assertEq(padded[i], 0, 'zero fill');
        assertBytes(dbk.unpad(padded), p);
    });
}
rejects('unpad all zero', 'bad_padding', () => dbk.unpad(new Uint8Array(256)));
rejects('unpad non-zero after marker', 'bad_padding', () => {
    const p = dbk.pad(enc.encode('hi'));
    p[255] = 1;
    dbk.unpad(p);
});
rejects('unpad length not a block multiple', 'bad_padding', () => dbk.unpad(dbk.pad(enc.encode('x')).subarray(0, 255)));
rejects('unpad empty', 'bad_padding', () => dbk.unpad(new Uint8Array(0)));

// ---------------------------------------------------------------------------------
// §4 Envelope

const author = dbk.generateAccountKeys();
const authorId = dbk.randomId();
const streamId = dbk.randomId(), recordId = dbk.randomId(), revDevice = dbk.randomId();
const streamKey = dbk.randomBytes(32);
const clock = dbk.hlcMake(1741615320000n, 3n);
const recordJson = '{"type":"craving","v":1,"intensity":7,"note":"caf\u00e9 \ud83d\ude42"}';
const envParams = {
    authorKey: author.ed25519Seed, authorId, streamId, recordId, clock, deviceId: revDevice,
    epoch: 7, streamKey, plaintext: recordJson,
};
const reader = {
    authorPk: author.ed25519Pk, authorId, streamId, recordId, epoch: 7, streamKey,
};
const env = dbk.sealEnvelope(envParams);

ok('envelope layout', () => {
    assertEq(env.length, 172 + 272);
    assertEq(toHex(env.subarray(0, 4)), '01000000');
    assertBytes(env.subarray(4, 20), streamId);
    assertBytes(env.subarray(20, 36), recordId);
    assertEq(new DataView(env.buffer).getBigUint64(36, false), clock);
    assertBytes(env.subarray(44, 60), revDevice);
    assertEq(toHex(env.subarray(60, 64)), '00000007');
    assertBytes(env.subarray(64, 80), authorId);
    assertEq(toHex(env.subarray(104, 108)), '00000110'); // n = 272
    const ad = dbk.envelopeAssociatedData(env);
    assertEq(dec.decode(ad.subarray(0, 23)), 'daybook/v1/envelope-ad\0');
    assertBytes(ad.subarray(23), env.subarray(0, 80));
    const si = dbk.envelopeSigningInput(env);
    assertEq(dec.decode(si.subarray(0, 24)), 'daybook/v1/envelope-sig\0');
    assertBytes(si.subarray(24), env.subarray(0, 108 + 272));
    assert(sodium.crypto_sign_verify_detached(env.subarray(380), si, author.ed25519Pk), 'signature');
    const padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        null, env.subarray(108, 380), ad, env.subarray(80, 104), streamKey);
    assertEq(padded.length, 256);
});
ok('envelope seal -> open (UTF-8 plaintext)', () => {
    const o = dbk.openEnvelope(env, reader);
    assertEq(dec.decode(o.plaintext), recordJson);
    assertEq(o.header.clock, clock);
    assertBytes(o.header.deviceId, revDevice);
});
ok('envelope with a fixed nonce is deterministic; random nonces differ', () => {
    const nonce = dbk.randomBytes(24);
    const a = dbk.sealEnvelope({ ...envParams, nonce });
    const b = dbk.sealEnvelope({ ...envParams, authorKey: author.ed25519Sk, nonce });
    assertBytes(a, b);
    assertBytes(a.subarray(80, 104), nonce);
    assert(!bytesEqual(env.subarray(80, 104), dbk.sealEnvelope(envParams).subarray(80, 104)), 'nonce reused');
});
ok('envelope tombstone and sizes (empty, 255, 256, max)', () => {
    const t = dbk.sealEnvelope({ ...envParams, plaintext: '{"type":"tombstone","v":1}' });
    assertEq(dec.decode(dbk.openEnvelope(t, reader).plaintext), '{"type":"tombstone","v":1}');
    for (const [len, n] of [[0, 272], [255, 272], [256, 528], [524287, 524304]]) {
        const p = new Uint8Array(len).fill(0x61);
        const e = dbk.sealEnvelope({ ...envParams, plaintext: p });
        assertEq(e.length, 172 + n, `size for ${len}`);
        assertBytes(dbk.openEnvelope(e, reader).plaintext, p);
    }
});
rejects('envelope plaintext over 512 KiB padded', 'payload_too_large',
        () => dbk.sealEnvelope({ ...envParams, plaintext: new Uint8Array(524288) }));

// Re-sign a modified envelope as the genuine author, so the later checks are reached.
function resign(e, key = author.ed25519Sk) {
    const n = new DataView(e.buffer, e.byteOffset).getUint32(104, false);
    const out = e.slice();
    out.set(sodium.crypto_sign_detached(dbk.envelopeSigningInput(out), key), 108 + n);
    return out;
}
// Build an envelope whose padded plaintext is chosen by the test (for bad_padding).
function envelopeWithPadded(padded) {
    const e = env.slice(0, 108 + padded.length + 16 + 64);
    be32(e, 104, padded.length + 16);
    const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        padded, dbk.envelopeAssociatedData(e), null, e.subarray(80, 104), streamKey);
    e.set(ct, 108);
    return resign(e);
}

rejects('envelope empty', 'bad_envelope', () => dbk.openEnvelope(new Uint8Array(0), reader));
rejects('envelope truncated by one byte', 'bad_envelope', () => dbk.openEnvelope(env.subarray(0, env.length - 1), reader));
rejects('envelope truncated below the minimum, version 2', 'bad_envelope',
        () => dbk.openEnvelope(flip(env, 0, 0x03).subarray(0, 443), reader));
rejects('envelope one extra byte', 'bad_envelope', () => dbk.openEnvelope(concat(env, Uint8Array.of(0)), reader));
rejects('envelope version 2', 'unsupported_version', () => dbk.openEnvelope(flip(env, 0, 0x03), reader));
rejects('envelope version 0', 'unsupported_version', () => dbk.openEnvelope(flip(env, 0), reader));
rejects('envelope flags set', 'bad_envelope', () => dbk.openEnvelope(resign(flip(env, 1)), reader));
rejects('envelope reserved set', 'bad_envelope', () => dbk.openEnvelope(resign(flip(env, 3)), reader));
rejects('envelope n not 16 + 256k', 'bad_envelope', () => {
    const e = env.slice();
    be32(e, 104, 271);
    dbk.openEnvelope(concat(e.subarray(0, 443)), reader);
});
rejects('envelope n = 16 (k = 0)', 'bad_envelope', () => {
    const e = env.slice();
    be32(e, 104, 16);
    dbk.openEnvelope(e, reader);
});
rejects('envelope n above 524304', 'bad_envelope', () => {
    const e = new Uint8Array(172 + 524560);
    e.set(env.subarray(0, 104));
    be32(e, 104, 524560);
    dbk.openEnvelope(e, reader);
});
rejects('envelope flipped ciphertext byte', 'bad_signature', () => dbk.openEnvelope(flip(env, 200), reader));
rejects('envelope flipped nonce byte', 'bad_signature', () => dbk.openEnvelope(flip(env, 90), reader));
rejects('envelope flipped signature byte', 'bad_signature', () => dbk.openEnvelope(flip(env, env.length - 1), reader));
rejects('envelope clock changed', 'bad_signature', () => dbk.openEnvelope(flip(env, 43), reader));
rejects('envelope moved to another stream (header edited)', 'bad_signature', () => dbk.openEnvelope(flip(env, 4), reader));
rejects('envelope author id is not the expected author', 'bad_signature',
        () => dbk.openEnvelope(env, { ...reader, authorId: dbk.randomId() }));
rejects('envelope signed by another key', 'bad_signature', () => {
    const other = dbk.generateAccountKeys();
    dbk.openEnvelope(resign(env, other.ed25519Sk), reader);
});
rejects('envelope verified with another public key', 'bad_signature',
        () => dbk.openEnvelope(env, { ...reader, authorPk: dbk.generateAccountKeys().ed25519Pk }));
rejects('envelope read as another stream', 'bad_envelope', () => dbk.openEnvelope(env, { ...reader, streamId: dbk.randomId() }));
rejects('envelope read as another record', 'bad_envelope', () => dbk.openEnvelope(env, { ...reader, recordId: dbk.randomId() }));
rejects('envelope read as another epoch', 'bad_envelope', () => dbk.openEnvelope(env, { ...reader, epoch: 8 }));
rejects('envelope header re-signed to another stream', 'decrypt_failed', () => {
    const e = env.slice();
    e.set(reader.streamId.map((x) => x ^ 0xff), 4);
    dbk.openEnvelope(resign(e), { ...reader, streamId: e.slice(4, 20) });
});
rejects('envelope wrong stream key', 'decrypt_failed', () => dbk.openEnvelope(env, { ...reader, streamKey: dbk.randomBytes(32) }));
rejects('envelope ciphertext re-signed after tampering', 'decrypt_failed', () => dbk.openEnvelope(resign(flip(env, 150)), reader));
rejects('envelope with bad padding inside', 'bad_padding', () => dbk.openEnvelope(envelopeWithPadded(new Uint8Array(256)), reader));
ok('envelope with hand-padded plaintext opens', () => {
    const p = dbk.pad(enc.encode('{}'));
    assertEq(dec.decode(dbk.openEnvelope(envelopeWithPadded(p), reader).plaintext), '{}');
});

// ---------------------------------------------------------------------------------
// §5 Grant

const owner = dbk.generateAccountKeys();
const ownerId = dbk.randomId();
const grantee = dbk.generateAccountKeys();
const granteeId = dbk.randomId();
const consent = JSON.stringify({ type: 'consent', v: 1, purpose: 'So my counselor can review my records.' });
const now = 1741615320000n;
const grantParams = {
    ownerKey: owner.ed25519Seed, ownerId, granteeId, granteeX25519Pk: grantee.x25519Pk, streamId,
    epoch: 7, createdAt: now - 1000n, expiresAt: now + 86400000n, streamKey, consent,
};
const grantReader = {
    ownerPk: owner.ed25519Pk, ownerId, granteeId, granteeX25519Pk: grantee.x25519Pk,
    granteeX25519Sk: grantee.x25519Sk, now,
};
const grant = dbk.sealGrant(grantParams);

ok('grant layout and signing input', () => {
    const c = enc.encode(consent).length;
    assertEq(grant.length, 140 + 48 + 32 + c);
    assertEq(toHex(grant.subarray(0, 4)), '01000000');
    assertBytes(grant.subarray(4, 20), streamId);
    assertEq(toHex(grant.subarray(20, 24)), '00000007');
    assertBytes(grant.subarray(24, 40), ownerId);
    assertBytes(grant.subarray(40, 56), granteeId);
    assertEq(new DataView(grant.buffer).getBigUint64(56, false), now - 1000n);
    assertEq(new DataView(grant.buffer).getBigUint64(64, false), now + 86400000n);
    assertEq(new DataView(grant.buffer).getUint32(72, false), 48 + 32 + c);
    const si = dbk.grantSigningInput(grant);
    assertEq(dec.decode(si.subarray(0, 21)), 'daybook/v1/grant-sig\0');
    assertBytes(si.subarray(21), grant.subarray(0, 76 + 80 + c));
});
ok('grant seal -> verify -> open', () => {
    const h = dbk.verifyGrant(grant, grantReader);
    assertEq(h.epoch, 7);
    const o = dbk.openGrant(grant, grantReader);
    assertBytes(o.streamKey, streamKey);
    assertEq(o.consent, consent);
    assertEq(o.consentDoc.type, 'consent');
});
ok('grant with no end date, and a grant to oneself', () => {
    const g = dbk.sealGrant({ ...grantParams, expiresAt: 0n });
    assertBytes(dbk.openGrant(g, { ...grantReader, now: 1n << 60n }).streamKey, streamKey);
    const self = dbk.sealGrant({ ...grantParams, granteeId: ownerId, granteeX25519Pk: owner.x25519Pk });
    const o = dbk.openGrant(self, { ...grantReader, granteeId: ownerId, granteeX25519Pk: owner.x25519Pk,
                                    granteeX25519Sk: owner.x25519Sk });
    assertBytes(o.streamKey, streamKey);
});
ok('grant consent length bounds 2 and 16384', () => {
    const big = JSON.stringify({ type: 'consent', pad: 'x'.repeat(16384 - 27) });
    assertEq(enc.encode(big).length, 16384);
    const g = dbk.sealGrant({ ...grantParams, consent: big });
    assertEq(dbk.openGrant(g, grantReader).consent, big);
    const two = dbk.sealGrant({ ...grantParams, consent: '{}' }, { allowAnyConsent: true });
    assertEq(two.length, 140 + 82);
});
rejects('grant sealing a 16385-byte consent', 'bad_grant',
        () => dbk.sealGrant({ ...grantParams, consent: JSON.stringify({ type: 'consent', pad: 'x'.repeat(16385 - 27) }) }));
rejects('grant sealing a non-consent document', 'bad_grant',
        () => dbk.sealGrant({ ...grantParams, consent: '{"type":"journal"}' }));

function resignGrant(g, key = owner.ed25519Sk) {
    const n = new DataView(g.buffer, g.byteOffset).getUint32(72, false);
    const out = g.slice();
    out.set(sodium.crypto_sign_detached(dbk.grantSigningInput(out), key), 76 + n);
    return out;
}

rejects('grant truncated', 'bad_grant', () => dbk.openGrant(grant.subarray(0, grant.length - 1), grantReader));
rejects('grant empty', 'bad_grant', () => dbk.openGrant(new Uint8Array(0), grantReader));
rejects('grant extra byte', 'bad_grant', () => dbk.openGrant(concat(grant, Uint8Array.of(0)), grantReader));
rejects('grant n below range', 'bad_grant', () => {
    const g = grant.slice(0, 140 + 81);
    be32(g, 72, 81);
    dbk.openGrant(g, grantReader);
});
rejects('grant version 2', 'unsupported_version', () => dbk.openGrant(resignGrant(flip(grant, 0, 0x03)), grantReader));
rejects('grant reserved set', 'bad_grant', () => dbk.openGrant(resignGrant(flip(grant, 2)), grantReader));
rejects('grant tampered header (epoch)', 'bad_signature', () => dbk.openGrant(flip(grant, 23), grantReader));
rejects('grant tampered header (expiry)', 'bad_signature', () => dbk.openGrant(flip(grant, 66), grantReader));
rejects('grant forged signature', 'bad_signature',
        () => dbk.openGrant(resignGrant(grant, dbk.generateAccountKeys().ed25519Sk), grantReader));
rejects('grant from an unexpected owner id', 'bad_signature',
        () => dbk.openGrant(grant, { ...grantReader, ownerId: dbk.randomId() }));
rejects('grant to another grantee', 'bad_grant', () => dbk.openGrant(grant, { ...grantReader, granteeId: dbk.randomId() }));
rejects('grant opened with another X25519 key', 'decrypt_failed', () => {
    const k = dbk.generateAccountKeys();
    dbk.openGrant(grant, { ...grantReader, granteeX25519Pk: k.x25519Pk, granteeX25519Sk: k.x25519Sk });
});
rejects('grant box tampered and re-signed', 'decrypt_failed', () => dbk.openGrant(resignGrant(flip(grant, 100)), grantReader));
rejects('grant consent not JSON', 'bad_grant',
        () => dbk.openGrant(dbk.sealGrant({ ...grantParams, consent: 'not json' }, { allowAnyConsent: true }), grantReader));
rejects('grant consent an array', 'bad_grant',
        () => dbk.openGrant(dbk.sealGrant({ ...grantParams, consent: '["consent"]' }, { allowAnyConsent: true }), grantReader));
rejects('grant consent of another type', 'bad_grant',
        () => dbk.openGrant(dbk.sealGrant({ ...grantParams, consent: '{"type":"journal"}' }, { allowAnyConsent: true }), grantReader));
rejects('grant expired', 'expired', () => dbk.openGrant(grant, { ...grantReader, now: now + 86400001n }));
rejects('grant expiring exactly now', 'expired', () => dbk.openGrant(grant, { ...grantReader, now: now + 86400000n }));
ok('grant one ms before expiry opens', () => dbk.openGrant(grant, { ...grantReader, now: now + 86399999n }));

// ---------------------------------------------------------------------------------
// §7 Fingerprints and safety numbers

const fpA = { accountId, ed25519Pk: acct.ed25519Pk, x25519Pk: acct.x25519Pk };
const fpB = { accountId: ownerId, ed25519Pk: owner.ed25519Pk, x25519Pk: owner.x25519Pk };
ok('fingerprint and short form', () => {
    const fp = dbk.fingerprint(fpA.accountId, fpA.ed25519Pk, fpA.x25519Pk);
    assertBytes(fp, sodium.crypto_generichash(32, concat(enc.encode('daybook/v1/fingerprint\0'),
                                                          fpA.accountId, fpA.ed25519Pk, fpA.x25519Pk)));
    const s = dbk.shortFingerprint(fpA.accountId, fpA.ed25519Pk, fpA.x25519Pk);
    assertEq(s.length, 22);
    assertBytes(dbk.base64urlDecode(s), fp.subarray(0, 16));
    dbk.checkShortFingerprint(s, fpA.accountId, fpA.ed25519Pk, fpA.x25519Pk);
});
rejects('short fingerprint of another key', 'fingerprint_mismatch', () => {
    const s = dbk.shortFingerprint(fpB.accountId, fpB.ed25519Pk, fpB.x25519Pk);
    dbk.checkShortFingerprint(s, fpA.accountId, fpA.ed25519Pk, fpA.x25519Pk);
});
rejects('short fingerprint with a swapped x25519 key', 'fingerprint_mismatch', () => {
    const s = dbk.shortFingerprint(fpA.accountId, fpA.ed25519Pk, fpA.x25519Pk);
    dbk.checkShortFingerprint(s, fpA.accountId, fpA.ed25519Pk, owner.x25519Pk);
});
rejects('short fingerprint truncated', 'fingerprint_mismatch', () => {
    const s = dbk.shortFingerprint(fpA.accountId, fpA.ed25519Pk, fpA.x25519Pk);
    dbk.checkShortFingerprint(s.slice(0, 21), fpA.accountId, fpA.ed25519Pk, fpA.x25519Pk);
});
ok('safety number: 30 digits per account, symmetric 60-digit pair', () => {
    const da = dbk.safetyDigits(fpA.accountId, fpA.ed25519Pk, fpA.x25519Pk);
    const db = dbk.safetyDigits(fpB.accountId, fpB.ed25519Pk, fpB.x25519Pk);
    assert(/^[0-9]{30}$/.test(da) && /^[0-9]{30}$/.test(db), 'digits');
    const ab = dbk.safetyNumber(fpA, fpB), ba = dbk.safetyNumber(fpB, fpA);
    assertEq(ab.digits, ba.digits, 'symmetric');
    assertEq(ab.display, ba.display);
    assert(/^[0-9]{5}( [0-9]{5}){11}$/.test(ab.display), 'display');
    assertEq(ab.digits, da < db ? da + db : db + da);
    assertEq(dbk.safetyNumber(da, db).digits, ab.digits);
});
ok('safety number iterates 5200 times over d || ed25519_pk', () => {
    let d = sodium.crypto_generichash(64, concat(enc.encode('daybook/v1/safety-number\0'),
                                                 fpA.accountId, fpA.ed25519Pk, fpA.x25519Pk), null);
    for (let i = 0; i < 5200; i++) d = sodium.crypto_generichash(64, concat(d, fpA.ed25519Pk), null);
    let want = '';
    for (let i = 0; i < 6; i++) {
        const v = BigInt('0x' + toHex(d.subarray(5 * i, 5 * i + 5))) % 100000n;
        want += v.toString().padStart(5, '0');
    }
    assertEq(dbk.safetyDigits(fpA.accountId, fpA.ed25519Pk, fpA.x25519Pk), want);
});

// ---------------------------------------------------------------------------------
// §6 Hybrid logical clock

const T = 1741615320000n;
ok('hlc local writes', () => {
    let c = dbk.hlcLocal(0n, T);
    assertEq(c, T << 16n);
    c = dbk.hlcLocal(c, T); // same ms: counter + 1
    assertEq(c, (T << 16n) + 1n);
    c = dbk.hlcLocal(c, T - 5n); // wall clock went back: still l, c + 1
    assertEq(c, (T << 16n) + 2n);
    c = dbk.hlcLocal(c, T + 1n);
    assertEq(c, (T + 1n) << 16n);
});
ok('hlc local counter overflow carries into the ms', () => {
    assertEq(dbk.hlcLocal((T << 16n) + 0xffffn, T), (T + 1n) << 16n);
});
ok('hlc recv branches', () => {
    const last = (T << 16n) + 5n;
    // m == l == r: max(c, rc) + 1
    assertEq(dbk.hlcRecv(last, T - 10n, (T << 16n) + 9n), (T << 16n) + 10n);
    assertEq(dbk.hlcRecv(last, T - 10n, (T << 16n) + 2n), (T << 16n) + 6n);
    // m == l > r: c + 1
    assertEq(dbk.hlcRecv(last, T - 10n, ((T - 1n) << 16n) + 99n), (T << 16n) + 6n);
    // m == r > l: rc + 1
    assertEq(dbk.hlcRecv(last, T, ((T + 7n) << 16n) + 4n), ((T + 7n) << 16n) + 5n);
    // m == pt > l, r: 0
    assertEq(dbk.hlcRecv(last, T + 100n, ((T + 7n) << 16n) + 4n), (T + 100n) << 16n);
    // pt == l == r: counter from l and r
    assertEq(dbk.hlcRecv(last, T, (T << 16n) + 1n), (T << 16n) + 6n);
    // fresh clock receiving
    assertEq(dbk.hlcRecv(0n, T, ((T + 1n) << 16n) + 0xffffn), (T + 2n) << 16n);
});
ok('hlc recv exactly 86400000 ms ahead is merged', () => {
    assertEq(dbk.hlcRecv(0n, T, (T + 86400000n) << 16n), ((T + 86400000n) << 16n) + 1n);
});
rejects('hlc recv more than a day ahead', 'invalid_request', () => dbk.hlcRecv(0n, T, (T + 86400001n) << 16n));
ok('hlc compare: clock, then device id unsigned', () => {
    const d1 = fromHex('00'.repeat(15) + '01'), d2 = fromHex('ff' + '00'.repeat(15));
    assertEq(dbk.hlcCompare({ clock: 2n, deviceId: d1 }, { clock: 1n, deviceId: d2 }), 1);
    assertEq(dbk.hlcCompare({ clock: 1n, deviceId: d1 }, { clock: 1n, deviceId: d2 }), -1);
    assertEq(dbk.hlcCompare({ clock: 1n, deviceId: d2 }, { clock: 1n, deviceId: d2.slice() }), 0);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
