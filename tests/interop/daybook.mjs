// Daybook wire cryptography, version 1, in JavaScript.
//
// A second, independent implementation of proto/CRYPTO.md, written from that text
// alone (not from the C code in common/), on libsodium-wrappers-sumo. It exists to
// prove that a client in another language (a mobile app) can be built from the spec,
// and it checks proto/vectors/ and exchanges envelopes and grants with the C code
// (tests/interop/check_vectors.mjs, tests/interop/roundtrip.mjs).
//
// Loading: the libsodium package is resolved from the node_modules directory named by
// the environment variable DAYBOOK_NODE_MODULES (the test suite points it at
// build/js/node_modules; by hand use tests/js/node_modules after `npm ci` there).
//
// Conventions used throughout:
//   - binary values are Uint8Array; 64-bit integers (clocks, times, KDF limits in the
//     bundle) are BigInt; small integers (epoch, generation) are Number;
//   - every rejection throws a DaybookError whose `.code` is the spec's error code
//     ('bad_envelope', 'bad_signature', 'decrypt_failed', ...).

import path from 'node:path';
import { createRequire } from 'node:module';

// ---------------------------------------------------------------------------------
// libsodium

const nodeModules = process.env.DAYBOOK_NODE_MODULES;
if (!nodeModules) {
    throw new Error('daybook.mjs: DAYBOOK_NODE_MODULES is not set (the node_modules ' +
                    'directory holding libsodium-wrappers-sumo)');
}
// Resolve as if from a file inside that node_modules folder, so it can live anywhere.
const require = createRequire(path.join(path.resolve(nodeModules), 'x.js'));
const sodium = require('libsodium-wrappers-sumo');
await sodium.ready;

export { sodium };

// ---------------------------------------------------------------------------------
// Errors

/** A rejection with one of the spec's error codes in `.code`. */
export class DaybookError extends Error {
    constructor(code, detail) {
        super(detail ? `${code}: ${detail}` : code);
        this.name = 'DaybookError';
        this.code = code;
    }
}

function fail(code, detail) {
    throw new DaybookError(code, detail);
}

// ---------------------------------------------------------------------------------
// Domain-separation strings (CRYPTO.md, table under "Conventions"): ASCII + one NUL.

const enc = new TextEncoder();
const domain = (s) => enc.encode(s + '\0');

export const DOMAIN = Object.freeze({
    envelopeAd: domain('daybook/v1/envelope-ad'),
    envelopeSig: domain('daybook/v1/envelope-sig'),
    bundleAd: domain('daybook/v1/bundle-ad'),
    loginChallenge: domain('daybook/v1/login-challenge'),
    grantSig: domain('daybook/v1/grant-sig'),
    loginSeed: domain('daybook/v1/login-seed'),
    bundleKey: domain('daybook/v1/bundle-key'),
    fingerprint: domain('daybook/v1/fingerprint'),
    safetyNumber: domain('daybook/v1/safety-number'),
});

// ---------------------------------------------------------------------------------
// Byte helpers

export const ID_BYTES = 16;

/** Concatenate Uint8Arrays. */
export function concat(...parts) {
    let len = 0;
    for (const p of parts) len += p.length;
    const out = new Uint8Array(len);
    let off = 0;
    for (const p of parts) {
        out.set(p, off);
        off += p.length;
    }
    return out;
}

/** Lowercase hex of bytes. */
export function toHex(bytes) {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Bytes of a hex string (either case; anything else is a TypeError). */
export function fromHex(hex) {
    if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
        throw new TypeError(`not a hex string: ${String(hex).slice(0, 40)}`);
    }
    return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Constant-time-ish equality of two byte strings (lengths are public). */
export function bytesEqual(a, b) {
    if (a.length !== b.length) return false;
    let d = 0;
    for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
    return d === 0;
}

function requireBytes(name, v, len) {
    if (!(v instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
    if (len !== undefined && v.length !== len) {
        throw new TypeError(`${name} must be ${len} bytes, got ${v.length}`);
    }
    return v;
}

function utf8(v) {
    return typeof v === 'string' ? enc.encode(v) : requireBytes('text', v);
}

// Big-endian unsigned integers (CRYPTO.md: "All integers are unsigned and big-endian").
function putU16(buf, off, v) { new DataView(buf.buffer, buf.byteOffset).setUint16(off, v, false); }
function putU32(buf, off, v) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`not a u32: ${v}`);
    new DataView(buf.buffer, buf.byteOffset).setUint32(off, v, false);
}
function putU64(buf, off, v) {
    const b = BigInt(v);
    if (b < 0n || b > 0xffffffffffffffffn) throw new RangeError(`not a u64: ${v}`);
    new DataView(buf.buffer, buf.byteOffset).setBigUint64(off, b, false);
}
function getU16(buf, off) { return new DataView(buf.buffer, buf.byteOffset).getUint16(off, false); }
function getU32(buf, off) { return new DataView(buf.buffer, buf.byteOffset).getUint32(off, false); }
function getU64(buf, off) { return new DataView(buf.buffer, buf.byteOffset).getBigUint64(off, false); }

export function randomBytes(n) {
    return sodium.randombytes_buf(n);
}

/** A fresh random 16-byte id (account, device, stream, record, server). */
export function randomId() {
    return randomBytes(ID_BYTES);
}

// Unpadded base64url (CRYPTO.md "Conventions", RFC 4648 §5). The decoder is strict:
// it rejects padding, whitespace, the standard alphabet and non-zero trailing bits.
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export function base64urlEncode(bytes) {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');
}

/** Strict decoder; returns null for anything that is not canonical unpadded base64url. */
export function base64urlDecode(s) {
    if (typeof s !== 'string' || s.length % 4 === 1) return null;
    let bits = 0, acc = 0;
    const out = [];
    for (const ch of s) {
        const v = B64URL.indexOf(ch);
        if (v < 0) return null;
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push((acc >> bits) & 0xff);
            acc &= (1 << bits) - 1;
        }
    }
    if (acc !== 0) return null; // non-zero trailing bits
    return new Uint8Array(out);
}

// ---------------------------------------------------------------------------------
// §1 Keys from the passphrase

export const KDF = Object.freeze({
    ALG_ARGON2ID13: 2,
    OPSLIMIT_MIN: 2n,
    OPSLIMIT_MAX: 10n,
    MEMLIMIT_MIN: 67108864n,
    MEMLIMIT_MAX: 1073741824n,
    OPSLIMIT_DEFAULT: 3n,
    MEMLIMIT_DEFAULT: 67108864n,
    SALT_BYTES: 16,
});

/**
 * Floors and ceilings (downgrade protection, §1): throws 'kdf_too_weak' for any
 * parameter outside the table, including an algorithm other than Argon2id 1.3.
 * opslimit/memlimit may be Number, BigInt or decimal string.
 */
export function checkKdfParams(opslimit, memlimit, alg = KDF.ALG_ARGON2ID13) {
    let ops, mem;
    try {
        ops = BigInt(opslimit);
        mem = BigInt(memlimit);
    } catch {
        fail('kdf_too_weak', 'KDF parameters are not integers');
    }
    if (Number(alg) !== KDF.ALG_ARGON2ID13) fail('kdf_too_weak', `algorithm ${alg}`);
    if (ops < KDF.OPSLIMIT_MIN || ops > KDF.OPSLIMIT_MAX) fail('kdf_too_weak', `opslimit ${ops}`);
    if (mem < KDF.MEMLIMIT_MIN || mem > KDF.MEMLIMIT_MAX) fail('kdf_too_weak', `memlimit ${mem}`);
    return { opslimit: ops, memlimit: mem };
}

/** master = crypto_pwhash(32, passphrase, salt[16], opslimit, memlimit, ARGON2ID13). */
export function deriveMaster(passphrase, salt, opslimit, memlimit) {
    const p = checkKdfParams(opslimit, memlimit);
    requireBytes('salt', salt, KDF.SALT_BYTES);
    // The passphrase is its UTF-8 bytes as typed: no normalisation in version 1.
    const pw = utf8(passphrase);
    return sodium.crypto_pwhash(32, pw, salt, Number(p.opslimit), Number(p.memlimit),
                                sodium.crypto_pwhash_ALG_ARGON2ID13);
}

/** login_seed = crypto_generichash(32, "daybook/v1/login-seed\0", key = master). */
export function loginSeedFromMaster(master) {
    requireBytes('master', master, 32);
    return sodium.crypto_generichash(32, DOMAIN.loginSeed, master);
}

/** bundle_key = crypto_generichash(32, "daybook/v1/bundle-key\0", key = master). */
export function bundleKeyFromMaster(master) {
    requireBytes('master', master, 32);
    return sodium.crypto_generichash(32, DOMAIN.bundleKey, master);
}

/** Login key pair = crypto_sign_seed_keypair(login_seed): { publicKey, privateKey }. */
export function loginKeypair(loginSeed) {
    requireBytes('login seed', loginSeed, 32);
    return sodium.crypto_sign_seed_keypair(loginSeed);
}

/**
 * Everything §1 derives from a passphrase. The caller should wipe the secrets
 * (sodium.memzero) when done; the spec says they never leave the device.
 */
export function deriveKeys(passphrase, salt, opslimit, memlimit) {
    const master = deriveMaster(passphrase, salt, opslimit, memlimit);
    const loginSeed = loginSeedFromMaster(master);
    const bundleKey = bundleKeyFromMaster(master);
    const kp = loginKeypair(loginSeed);
    return { master, loginSeed, loginPk: kp.publicKey, loginSk: kp.privateKey, bundleKey };
}

// ---------------------------------------------------------------------------------
// Account keys (§2): an Ed25519 identity key pair and an X25519 key pair.

/** Account keys from their two secrets (as stored in the bundle). */
export function accountKeysFromSecrets(ed25519Seed, x25519Sk) {
    requireBytes('ed25519 seed', ed25519Seed, 32);
    requireBytes('x25519 secret key', x25519Sk, 32);
    const sign = sodium.crypto_sign_seed_keypair(ed25519Seed);
    return {
        ed25519Seed,
        ed25519Pk: sign.publicKey,
        ed25519Sk: sign.privateKey, // 64 bytes: seed || pk, libsodium's form
        x25519Sk,
        x25519Pk: sodium.crypto_scalarmult_base(x25519Sk),
    };
}

/** Ed25519 public key of a 32-byte seed. */
export function ed25519PublicKey(seed) {
    requireBytes('ed25519 seed', seed, 32);
    return sodium.crypto_sign_seed_keypair(seed).publicKey;
}

/** X25519 public key of a 32-byte secret key. */
export function x25519PublicKey(sk) {
    requireBytes('x25519 secret key', sk, 32);
    return sodium.crypto_scalarmult_base(sk);
}

/** Fresh random account keys ("Both are random"). */
export function generateAccountKeys() {
    return accountKeysFromSecrets(randomBytes(32), randomBytes(32));
}

// Signing accepts a 32-byte seed or a 64-byte libsodium secret key.
function signingKey(k) {
    requireBytes('signing key', k);
    if (k.length === 32) return sodium.crypto_sign_seed_keypair(k).privateKey;
    if (k.length === 64) return k;
    throw new TypeError('a signing key is a 32-byte seed or a 64-byte secret key');
}

function verifySig(sig, message, pk) {
    if (!(sig instanceof Uint8Array) || sig.length !== 64) return false;
    if (!(pk instanceof Uint8Array) || pk.length !== 32) return false;
    try {
        return sodium.crypto_sign_verify_detached(sig, message, pk);
    } catch {
        return false;
    }
}

// ---------------------------------------------------------------------------------
// §2 The key bundle (148 bytes)

export const BUNDLE = Object.freeze({
    MAGIC: Uint8Array.of(0x44, 0x42, 0x4b, 0x42), // "DBKB"
    VERSION: 1,
    HEADER_BYTES: 44, // magic .. salt: bound as associated data
    NONCE_OFF: 44,
    CT_OFF: 68,
    BYTES: 148,
});

function bundleAd(accountId, header) {
    return concat(DOMAIN.bundleAd, accountId, header);
}

/**
 * Seal the account's two secrets under a bundle key already derived (§1).
 * params: { accountId, bundleKey, salt, opslimit, memlimit, generation,
 *           ed25519Seed, x25519Sk, nonce? (24 bytes; random when absent) }
 */
export function sealBundleWithKey(params) {
    const { accountId, bundleKey, salt, generation, ed25519Seed, x25519Sk } = params;
    requireBytes('account id', accountId, ID_BYTES);
    requireBytes('bundle key', bundleKey, 32);
    requireBytes('salt', salt, KDF.SALT_BYTES);
    requireBytes('ed25519 seed', ed25519Seed, 32);
    requireBytes('x25519 secret key', x25519Sk, 32);
    const kdf = checkKdfParams(params.opslimit, params.memlimit);
    const nonce = params.nonce ?? randomBytes(24);
    requireBytes('nonce', nonce, 24);

    const b = new Uint8Array(BUNDLE.BYTES);
    b.set(BUNDLE.MAGIC, 0);
    b[4] = BUNDLE.VERSION;
    b[5] = KDF.ALG_ARGON2ID13;
    putU16(b, 6, 0); // reserved
    putU32(b, 8, generation);
    putU64(b, 12, kdf.opslimit);
    putU64(b, 20, kdf.memlimit);
    b.set(salt, 28);
    b.set(nonce, BUNDLE.NONCE_OFF);
    const plain = concat(ed25519Seed, x25519Sk);
    const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plain, bundleAd(accountId, b.subarray(0, BUNDLE.HEADER_BYTES)), null, nonce, bundleKey);
    sodium.memzero(plain);
    b.set(ct, BUNDLE.CT_OFF);
    return b;
}

/**
 * Seal from the passphrase: derives the bundle key (§1) then sealBundleWithKey.
 * salt is random and opslimit/memlimit the defaults when absent.
 */
export function sealBundle(params) {
    const salt = params.salt ?? randomBytes(KDF.SALT_BYTES);
    const opslimit = params.opslimit ?? KDF.OPSLIMIT_DEFAULT;
    const memlimit = params.memlimit ?? KDF.MEMLIMIT_DEFAULT;
    const master = deriveMaster(params.passphrase, salt, opslimit, memlimit);
    const bundleKey = bundleKeyFromMaster(master);
    sodium.memzero(master);
    try {
        return sealBundleWithKey({ ...params, salt, opslimit, memlimit, bundleKey });
    } finally {
        sodium.memzero(bundleKey);
    }
}

/**
 * Structural checks of a bundle and its header fields, in the spec's order:
 * length 148, magic, version, algorithm, reserved ('corrupt'); KDF bounds
 * ('kdf_too_weak').
 */
export function parseBundle(bundle) {
    if (!(bundle instanceof Uint8Array) || bundle.length !== BUNDLE.BYTES) fail('corrupt', 'bundle length');
    if (!bytesEqual(bundle.subarray(0, 4), BUNDLE.MAGIC)) fail('corrupt', 'bundle magic');
    if (bundle[4] !== BUNDLE.VERSION) fail('unsupported_version', 'bundle version');
    if (bundle[5] !== KDF.ALG_ARGON2ID13) fail('corrupt', 'bundle KDF algorithm');
    if (getU16(bundle, 6) !== 0) fail('corrupt', 'bundle reserved bytes');
    const opslimit = getU64(bundle, 12);
    const memlimit = getU64(bundle, 20);
    checkKdfParams(opslimit, memlimit, bundle[5]);
    return {
        generation: getU32(bundle, 8),
        opslimit,
        memlimit,
        salt: bundle.slice(28, 44),
        nonce: bundle.slice(BUNDLE.NONCE_OFF, BUNDLE.CT_OFF),
    };
}

/**
 * Open a bundle with the passphrase. Returns the header fields and the account keys
 * (accountKeysFromSecrets). Errors: 'corrupt', 'kdf_too_weak', 'wrong_passphrase'
 * (which a bundle moved to another account also gives).
 */
export function openBundle(accountId, passphrase, bundle) {
    requireBytes('account id', accountId, ID_BYTES);
    const h = parseBundle(bundle);
    const master = deriveMaster(passphrase, h.salt, h.opslimit, h.memlimit);
    const bundleKey = bundleKeyFromMaster(master);
    sodium.memzero(master);
    try {
        return openBundleWithKey(accountId, bundleKey, bundle);
    } finally {
        sodium.memzero(bundleKey);
    }
}

/** Decrypt a bundle with a bundle key already derived (after parseBundle's checks). */
export function openBundleWithKey(accountId, bundleKey, bundle) {
    const h = parseBundle(bundle);
    let plain;
    try {
        plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            null, bundle.subarray(BUNDLE.CT_OFF),
            bundleAd(accountId, bundle.subarray(0, BUNDLE.HEADER_BYTES)), h.nonce, bundleKey);
    } catch {
        fail('wrong_passphrase', 'the bundle does not open');
    }
    if (plain.length !== 64) fail('corrupt', 'bundle plaintext length'); // cannot happen: length is fixed
    const keys = accountKeysFromSecrets(plain.slice(0, 32), plain.slice(32, 64));
    sodium.memzero(plain);
    return { ...h, ...keys };
}

// ---------------------------------------------------------------------------------
// §3 Login challenge

export const CHALLENGE_BYTES = 32;

/** "daybook/v1/login-challenge\0" || server_id || account_id || challenge[32] || device_id */
export function loginSigningInput(serverId, accountId, challenge, deviceId) {
    requireBytes('server id', serverId, ID_BYTES);
    requireBytes('account id', accountId, ID_BYTES);
    requireBytes('challenge', challenge, CHALLENGE_BYTES);
    requireBytes('device id', deviceId, ID_BYTES);
    return concat(DOMAIN.loginChallenge, serverId, accountId, challenge, deviceId);
}

/** Detached Ed25519 signature with the login key (32-byte login seed or 64-byte sk). */
export function signLogin(loginKey, serverId, accountId, challenge, deviceId) {
    return sodium.crypto_sign_detached(
        loginSigningInput(serverId, accountId, challenge, deviceId), signingKey(loginKey));
}

/**
 * Verify a login signature; throws 'bad_signature'. (The spec's §3 names no error
 * code for a failed login signature; 'bad_signature' is the general one.)
 */
export function verifyLogin(loginPk, serverId, accountId, challenge, deviceId, signature) {
    const input = loginSigningInput(serverId, accountId, challenge, deviceId);
    if (!verifySig(signature, input, loginPk)) fail('bad_signature', 'login signature');
}

// ---------------------------------------------------------------------------------
// Padding (§4): ISO/IEC 7816-4 via sodium_pad, to a multiple of 256 bytes.

export const PAD_BLOCK = 256;

/** Pad to a multiple of `block`; always adds at least one byte. */
export function pad(plain, block = PAD_BLOCK) {
    return sodium.pad(requireBytes('plaintext', plain), block);
}

/**
 * Remove padding; throws 'bad_padding'. Besides sodium_unpad's own check of the
 * 0x80 0x00* tail, the length must be a non-zero multiple of the block, since
 * that is the only thing pad() produces.
 */
export function unpad(padded, block = PAD_BLOCK) {
    requireBytes('padded', padded);
    if (padded.length === 0 || padded.length % block !== 0) fail('bad_padding', 'length is not a multiple of the block');
    try {
        return sodium.unpad(padded, block);
    } catch {
        fail('bad_padding', 'no 0x80 marker after the plaintext');
    }
}

// ---------------------------------------------------------------------------------
// §4 Record envelope

export const ENVELOPE = Object.freeze({
    VERSION: 1,
    HEADER_BYTES: 80, // version .. author: the associated data
    NONCE_OFF: 80,
    LEN_OFF: 104,
    CT_OFF: 108,
    OVERHEAD: 172, // 108 header + 64 signature
    TAG_BYTES: 16,
    MIN_N: 16 + 256, // k >= 1
    MAX_N: 524304, // 16 + 256 * 2048
    MAX_PADDED: 524288,
});

/** Associated data = "daybook/v1/envelope-ad\0" || envelope[0..80). */
export function envelopeAssociatedData(envelope) {
    return concat(DOMAIN.envelopeAd, envelope.subarray(0, ENVELOPE.HEADER_BYTES));
}

/** Signature input = "daybook/v1/envelope-sig\0" || envelope[0..108+n), n read from the envelope. */
export function envelopeSigningInput(envelope) {
    const n = getU32(envelope, ENVELOPE.LEN_OFF);
    return concat(DOMAIN.envelopeSig, envelope.subarray(0, ENVELOPE.CT_OFF + n));
}

/**
 * Seal a record revision. params: { authorKey (32-byte Ed25519 seed or 64-byte sk),
 * authorId, streamId, recordId, clock (BigInt), deviceId, epoch (Number), streamKey,
 * plaintext (string, UTF-8, or bytes), nonce? (24 bytes; random when absent — only
 * tests may fix it) }. Order: pad, encrypt, sign (§4 "Sealing").
 */
export function sealEnvelope(params) {
    const { authorId, streamId, recordId, deviceId, streamKey } = params;
    requireBytes('author id', authorId, ID_BYTES);
    requireBytes('stream id', streamId, ID_BYTES);
    requireBytes('record id', recordId, ID_BYTES);
    requireBytes('device id', deviceId, ID_BYTES);
    requireBytes('stream key', streamKey, 32);
    const sk = signingKey(params.authorKey);
    const nonce = params.nonce ?? randomBytes(24);
    requireBytes('nonce', nonce, 24);

    const padded = pad(utf8(params.plaintext), PAD_BLOCK);
    if (padded.length > ENVELOPE.MAX_PADDED) {
        // §4 caps padded plaintext at 512 KiB; the spec names no code for a sealer's
        // refusal, so this uses the error table's 'payload_too_large'.
        fail('payload_too_large', `padded plaintext ${padded.length} > ${ENVELOPE.MAX_PADDED}`);
    }
    const n = padded.length + ENVELOPE.TAG_BYTES;
    const env = new Uint8Array(ENVELOPE.OVERHEAD + n);
    env[0] = ENVELOPE.VERSION;
    env[1] = 0; // flags
    putU16(env, 2, 0); // reserved
    env.set(streamId, 4);
    env.set(recordId, 20);
    putU64(env, 36, params.clock);
    env.set(deviceId, 44);
    putU32(env, 60, params.epoch);
    env.set(authorId, 64);
    env.set(nonce, ENVELOPE.NONCE_OFF);
    putU32(env, ENVELOPE.LEN_OFF, n);
    const ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        padded, envelopeAssociatedData(env), null, nonce, streamKey);
    sodium.memzero(padded);
    env.set(ct, ENVELOPE.CT_OFF);
    const sig = sodium.crypto_sign_detached(envelopeSigningInput(env), sk);
    env.set(sig, ENVELOPE.CT_OFF + n);
    return env;
}

/** Header fields of an envelope (no checks). */
export function envelopeHeader(envelope) {
    return {
        version: envelope[0],
        flags: envelope[1],
        streamId: envelope.slice(4, 20),
        recordId: envelope.slice(20, 36),
        clock: getU64(envelope, 36),
        deviceId: envelope.slice(44, 60),
        epoch: getU32(envelope, 60),
        authorId: envelope.slice(64, 80),
        nonce: envelope.slice(80, 104),
        n: getU32(envelope, ENVELOPE.LEN_OFF),
    };
}

/**
 * Step 1 of opening (§4): structure only. Length >= 172 + 272 first (a short buffer
 * is 'bad_envelope' whatever its first byte), then version ('unsupported_version'),
 * then flags/reserved, n and the exact total ('bad_envelope').
 */
export function checkEnvelopeStructure(envelope) {
    if (!(envelope instanceof Uint8Array) || envelope.length < ENVELOPE.OVERHEAD + ENVELOPE.MIN_N) {
        fail('bad_envelope', 'too short');
    }
    if (envelope[0] !== ENVELOPE.VERSION) fail('unsupported_version', `envelope version ${envelope[0]}`);
    if (envelope[1] !== 0 || getU16(envelope, 2) !== 0) fail('bad_envelope', 'flags or reserved bytes set');
    const n = getU32(envelope, ENVELOPE.LEN_OFF);
    if (n < ENVELOPE.MIN_N || n > ENVELOPE.MAX_N || (n - ENVELOPE.TAG_BYTES) % PAD_BLOCK !== 0) {
        fail('bad_envelope', `ciphertext length ${n}`);
    }
    if (envelope.length !== ENVELOPE.OVERHEAD + n) fail('bad_envelope', 'total length is not 172 + n');
    return n;
}

/**
 * Open an envelope as a reader who expects { authorPk, authorId, streamId, recordId,
 * epoch, streamKey }. Checks exactly in §4's order:
 *   1. structure                                   bad_envelope / unsupported_version
 *   2. author id is the expected one, signature     bad_signature
 *   3. stream id, record id, epoch                  bad_envelope
 *   4. decryption                                   decrypt_failed
 *   5. unpadding                                    bad_padding
 * Returns { plaintext (bytes), header }.
 */
export function openEnvelope(envelope, expect) {
    const n = checkEnvelopeStructure(envelope);
    const h = envelopeHeader(envelope);

    if (!bytesEqual(h.authorId, requireBytes('expected author id', expect.authorId, ID_BYTES))) {
        fail('bad_signature', 'not the expected author');
    }
    const sig = envelope.subarray(ENVELOPE.CT_OFF + n);
    if (!verifySig(sig, envelopeSigningInput(envelope), expect.authorPk)) {
        fail('bad_signature', 'envelope signature');
    }

    if (!bytesEqual(h.streamId, expect.streamId)) fail('bad_envelope', 'another stream');
    if (!bytesEqual(h.recordId, expect.recordId)) fail('bad_envelope', 'another record');
    if (h.epoch !== Number(expect.epoch)) fail('bad_envelope', 'another key epoch');

    let padded;
    try {
        padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            null, envelope.subarray(ENVELOPE.CT_OFF, ENVELOPE.CT_OFF + n),
            envelopeAssociatedData(envelope), h.nonce, expect.streamKey);
    } catch {
        fail('decrypt_failed', 'envelope ciphertext');
    }
    const plaintext = unpad(padded, PAD_BLOCK);
    return { plaintext, header: h };
}

// ---------------------------------------------------------------------------------
// §5 Key grant (consent)

export const GRANT = Object.freeze({
    VERSION: 1,
    LEN_OFF: 72,
    BOX_OFF: 76,
    OVERHEAD: 140, // 76 header + 64 signature
    SEAL_BYTES: 48, // crypto_box_seal overhead
    CONSENT_MIN: 2,
    CONSENT_MAX: 16384,
    MIN_N: 48 + 32 + 2,
    MAX_N: 48 + 32 + 16384,
});

/** Signature input = "daybook/v1/grant-sig\0" || grant[0..76+n), n read from the grant. */
export function grantSigningInput(grant) {
    const n = getU32(grant, GRANT.LEN_OFF);
    return concat(DOMAIN.grantSig, grant.subarray(0, GRANT.BOX_OFF + n));
}

function consentBytes(consent) {
    return typeof consent === 'string' || consent instanceof Uint8Array
        ? utf8(consent) : enc.encode(JSON.stringify(consent));
}

/** The consent check of §5: a JSON object whose "type" is "consent". Throws 'bad_grant'. */
export function parseConsent(bytes) {
    let text, doc;
    try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        doc = JSON.parse(text);
    } catch {
        fail('bad_grant', 'consent is not UTF-8 JSON');
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || doc.type !== 'consent') {
        fail('bad_grant', 'consent is not a JSON object of type "consent"');
    }
    return { text, doc };
}

/**
 * Seal a grant. params: { ownerKey (32-byte Ed25519 seed or 64-byte sk), ownerId,
 * granteeId, granteeX25519Pk, streamId, epoch, createdAt (BigInt ms), expiresAt
 * (BigInt ms, 0 = no end), streamKey, consent (string, bytes or object) }.
 * The consent is checked as a reader would (unless opts.allowAnyConsent, for tests
 * that build bad grants) and its length must be 2..16384 bytes.
 */
export function sealGrant(params, opts = {}) {
    const { ownerId, granteeId, granteeX25519Pk, streamId, streamKey } = params;
    requireBytes('owner id', ownerId, ID_BYTES);
    requireBytes('grantee id', granteeId, ID_BYTES);
    requireBytes('grantee x25519 pk', granteeX25519Pk, 32);
    requireBytes('stream id', streamId, ID_BYTES);
    requireBytes('stream key', streamKey, 32);
    const sk = signingKey(params.ownerKey);
    const consent = consentBytes(params.consent);
    if (consent.length < GRANT.CONSENT_MIN || consent.length > GRANT.CONSENT_MAX) {
        fail('bad_grant', `consent length ${consent.length}`);
    }
    if (!opts.allowAnyConsent) parseConsent(consent);

    const inner = concat(streamKey, consent);
    const box = sodium.crypto_box_seal(inner, granteeX25519Pk);
    sodium.memzero(inner);
    const n = box.length; // = 48 + 32 + c
    const g = new Uint8Array(GRANT.OVERHEAD + n);
    g[0] = GRANT.VERSION; // bytes 1..3 reserved, zero
    g.set(streamId, 4);
    putU32(g, 20, params.epoch);
    g.set(ownerId, 24);
    g.set(granteeId, 40);
    putU64(g, 56, params.createdAt);
    putU64(g, 64, params.expiresAt ?? 0n);
    putU32(g, GRANT.LEN_OFF, n);
    g.set(box, GRANT.BOX_OFF);
    g.set(sodium.crypto_sign_detached(grantSigningInput(g), sk), GRANT.BOX_OFF + n);
    return g;
}

/** Header fields of a grant (no checks); what the server reads to enforce access. */
export function grantHeader(grant) {
    return {
        version: grant[0],
        streamId: grant.slice(4, 20),
        epoch: getU32(grant, 20),
        ownerId: grant.slice(24, 40),
        granteeId: grant.slice(40, 56),
        createdAt: getU64(grant, 56),
        expiresAt: getU64(grant, 64),
        n: getU32(grant, GRANT.LEN_OFF),
    };
}

/**
 * Structural checks (first step of §5 verifying): n in range, total exactly 140 + n,
 * version 1 ('unsupported_version', rule R1), reserved bytes zero. Throws 'bad_grant'.
 */
export function checkGrantStructure(grant) {
    if (!(grant instanceof Uint8Array) || grant.length < GRANT.OVERHEAD + GRANT.MIN_N) {
        fail('bad_grant', 'too short');
    }
    const n = getU32(grant, GRANT.LEN_OFF);
    if (n < GRANT.MIN_N || n > GRANT.MAX_N) fail('bad_grant', `sealed length ${n}`);
    if (grant.length !== GRANT.OVERHEAD + n) fail('bad_grant', 'total length is not 140 + n');
    if (grant[0] !== GRANT.VERSION) fail('unsupported_version', `grant version ${grant[0]}`);
    if (grant[1] !== 0 || grant[2] !== 0 || grant[3] !== 0) fail('bad_grant', 'reserved bytes set');
    return n;
}

/**
 * Verify structure and the owner's signature (what anyone holding the owner's public
 * key, e.g. the server, can check). expect: { ownerPk, ownerId }. Returns the header.
 */
export function verifyGrant(grant, expect) {
    const n = checkGrantStructure(grant);
    const h = grantHeader(grant);
    if (!bytesEqual(h.ownerId, requireBytes('expected owner id', expect.ownerId, ID_BYTES))) {
        fail('bad_signature', 'not the expected owner');
    }
    if (!verifySig(grant.subarray(GRANT.BOX_OFF + n), grantSigningInput(grant), expect.ownerPk)) {
        fail('bad_signature', 'grant signature');
    }
    return h;
}

/**
 * Verify and open a grant as its grantee, in §5's order. expect: { ownerPk, ownerId,
 * granteeId, granteeX25519Pk, granteeX25519Sk, now (BigInt ms) }.
 * Returns { streamKey, consent (string), consentDoc, header }.
 */
export function openGrant(grant, expect) {
    const h = verifyGrant(grant, expect);
    if (!bytesEqual(h.granteeId, requireBytes('expected grantee id', expect.granteeId, ID_BYTES))) {
        fail('bad_grant', 'not granted to this reader');
    }
    let inner;
    try {
        inner = sodium.crypto_box_seal_open(grant.subarray(GRANT.BOX_OFF, GRANT.BOX_OFF + h.n),
                                            expect.granteeX25519Pk, expect.granteeX25519Sk);
    } catch {
        fail('decrypt_failed', 'sealed box');
    }
    const streamKey = inner.slice(0, 32);
    const { text, doc } = parseConsent(inner.subarray(32));
    sodium.memzero(inner);
    // "the expiry, if set, is after the reader's clock": expires_at > now, else expired.
    if (h.expiresAt !== 0n && !(h.expiresAt > BigInt(expect.now))) {
        fail('expired', `grant expired at ${h.expiresAt}`);
    }
    return { streamKey, consent: text, consentDoc: doc, header: h };
}

// ---------------------------------------------------------------------------------
// §7 Fingerprints and safety numbers

function accountKeyBytes(accountId, ed25519Pk, x25519Pk) {
    requireBytes('account id', accountId, ID_BYTES);
    requireBytes('ed25519 pk', ed25519Pk, 32);
    requireBytes('x25519 pk', x25519Pk, 32);
    return concat(accountId, ed25519Pk, x25519Pk);
}

/** fingerprint = crypto_generichash(32, "daybook/v1/fingerprint\0" || account_id || ed25519_pk || x25519_pk) */
export function fingerprint(accountId, ed25519Pk, x25519Pk) {
    return sodium.crypto_generichash(
        32, concat(DOMAIN.fingerprint, accountKeyBytes(accountId, ed25519Pk, x25519Pk)), null);
}

/** Short form: unpadded base64url of the first 16 bytes (22 characters). */
export function shortFingerprint(accountId, ed25519Pk, x25519Pk) {
    return base64urlEncode(fingerprint(accountId, ed25519Pk, x25519Pk).subarray(0, 16));
}

/**
 * Check a short form (from an enrollment code) against a key; throws
 * 'fingerprint_mismatch'. A short form that is not canonical base64url of 16 bytes
 * cannot match and gets the same code.
 */
export function checkShortFingerprint(short, accountId, ed25519Pk, x25519Pk) {
    const want = base64urlDecode(short);
    if (want === null || want.length !== 16) fail('fingerprint_mismatch', 'not a short fingerprint');
    const fp = fingerprint(accountId, ed25519Pk, x25519Pk);
    if (!bytesEqual(want, fp.subarray(0, 16))) fail('fingerprint_mismatch', 'fingerprint differs');
}

export const SAFETY_ITERATIONS = 5200;

/** One account's 30 safety-number digits (no spaces). */
export function safetyDigits(accountId, ed25519Pk, x25519Pk) {
    let d = sodium.crypto_generichash(
        64, concat(DOMAIN.safetyNumber, accountKeyBytes(accountId, ed25519Pk, x25519Pk)), null);
    for (let i = 0; i < SAFETY_ITERATIONS; i++) {
        d = sodium.crypto_generichash(64, concat(d, ed25519Pk), null);
    }
    let out = '';
    for (let i = 0; i < 6; i++) {
        // 5 bytes big-endian as a 40-bit integer (exact in a double), mod 100000.
        let v = 0;
        for (let j = 0; j < 5; j++) v = v * 256 + d[5 * i + j];
        out += String(v % 100000).padStart(5, '0');
    }
    return out;
}

/** Split a digit string into groups of five separated by single spaces. */
export function groupDigits(digits) {
    return digits.match(/.{1,5}/g).join(' ');
}

/**
 * The pair's safety number: the two 30-digit strings in ascending order,
 * concatenated (60 digits). Returns { digits, display } where display is 12 groups
 * of 5 separated by spaces. a and b are { accountId, ed25519Pk, x25519Pk } or
 * 30-digit strings.
 */
export function safetyNumber(a, b) {
    const da = typeof a === 'string' ? a : safetyDigits(a.accountId, a.ed25519Pk, a.x25519Pk);
    const db = typeof b === 'string' ? b : safetyDigits(b.accountId, b.ed25519Pk, b.x25519Pk);
    const digits = da <= db ? da + db : db + da; // equal lengths: string order = numeric order
    return { digits, display: groupDigits(digits) };
}

// ---------------------------------------------------------------------------------
// §6 Revisions: hybrid logical clock. Clocks are BigInt: high 48 bits Unix ms,
// low 16 bits a counter.

export const HLC = Object.freeze({
    COUNTER_BITS: 16n,
    COUNTER_MASK: 0xffffn,
    MAX_DRIFT_MS: 86400000n,
    MAX: 0xffffffffffffffffn,
});

export function hlcMake(ms, counter = 0n) {
    return (BigInt(ms) << HLC.COUNTER_BITS) + BigInt(counter);
}
export function hlcMillis(clock) { return BigInt(clock) >> HLC.COUNTER_BITS; }
export function hlcCounter(clock) { return BigInt(clock) & HLC.COUNTER_MASK; }

function hlcChecked(clock) {
    if (clock < 0n || clock > HLC.MAX) throw new RangeError(`clock out of 64 bits: ${clock}`);
    return clock;
}

/**
 * A local write at wall time wallMs after last clock (l, c): (pt, 0) if pt > l, else
 * (l, c + 1), where adding one to the 64-bit value carries a counter overflow into
 * the milliseconds. A last clock more than MAX_DRIFT_MS ahead of pt (the device's
 * clock was wrong and was set back) is dropped: the write gets (pt, 0).
 */
export function hlcLocal(last, wallMs) {
    last = BigInt(last);
    const pt = BigInt(wallMs);
    const l = hlcMillis(last);
    if (l > pt + HLC.MAX_DRIFT_MS) return hlcChecked(hlcMake(pt, 0n));
    if (pt > l) return hlcChecked(hlcMake(pt, 0n));
    return hlcChecked(last + 1n);
}

/**
 * Receive a remote clock (r, rc) at wall time pt with last clock (l, c).
 * r more than 86400000 ms ahead of pt: 'invalid_request' (not merged).
 * Otherwise m = max(pt, l, r) and the counter is max(c, rc) + 1 if m == l == r,
 * c + 1 if m == l, rc + 1 if m == r, else 0 (overflow carries into the ms).
 */
export function hlcRecv(last, wallMs, remote) {
    last = BigInt(last);
    remote = BigInt(remote);
    const pt = BigInt(wallMs);
    const l = hlcMillis(last), c = hlcCounter(last);
    const r = hlcMillis(remote), rc = hlcCounter(remote);
    if (r - pt > HLC.MAX_DRIFT_MS) fail('invalid_request', 'remote clock too far ahead');
    let m = pt;
    if (l > m) m = l;
    if (r > m) m = r;
    let counter;
    if (m === l && m === r) counter = (c > rc ? c : rc) + 1n;
    else if (m === l) counter = c + 1n;
    else if (m === r) counter = rc + 1n;
    else counter = 0n;
    return hlcChecked(hlcMake(m, 0n) + counter);
}

/** Unsigned bytewise comparison: -1, 0 or 1. */
export function compareBytes(a, b) {
    const len = Math.min(a.length, b.length);
    for (let i = 0; i < len; i++) {
        if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    }
    return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * Order two revisions { clock, deviceId }: by clock, then device id as 16 unsigned
 * bytes. Returns 1 if a wins (is greater), -1 if b wins, 0 if equal.
 */
export function hlcCompare(a, b) {
    const ca = BigInt(a.clock), cb = BigInt(b.clock);
    if (ca !== cb) return ca > cb ? 1 : -1;
    return compareBytes(a.deviceId, b.deviceId);
}

// ---------------------------------------------------------------------------------
// Links (README rule R11)

const LINK_KINDS = [['daybook://setup?', 'setup'], ['daybook://enroll?', 'enroll'],
                    ['daybook://login?', 'login'], ['daybook://team?', 'team']];
// Each field's room in bytes, its terminating NUL included, as in the C reader.
const LINK_FIELDS = { server: 512, code: 32, fp: 32, counselor: 32, account: 32, name: 201, by: 201, role: 201, help: 32 };

/** Whether t is an account id: base64url that decodes to exactly 16 bytes. */
export function isIdText(t) {
    return typeof t === 'string' && base64urlDecode(t)?.length === 16;
}

function pctDecode(v, cap) {
    const out = [];
    const raw = new TextEncoder().encode(v);
    for (let i = 0; i < raw.length; i++) {
        let c = raw[i];
        if (c === 0x25) { /* '%' */
            const h = String.fromCharCode(raw[i + 1] ?? 0, raw[i + 2] ?? 0);
            if (i + 2 >= raw.length || !/^[0-9a-fA-F]{2}$/.test(h)) fail('invalid_request', 'bad escape');
            c = parseInt(h, 16);
            i += 2;
        }
        if (c === 0 || out.length + 1 >= cap) fail('invalid_request', 'NUL or too long');
        out.push(c);
    }
    return new TextDecoder().decode(new Uint8Array(out));
}

/** https, or http only to a loopback host as a URL parser reads it. */
export function checkServerUrl(url) {
    let u;
    try { u = new URL(url); } catch { fail('invalid_request', 'not a URL'); }
    if (u.protocol === 'https:') return;
    const h = u.hostname;
    if (u.protocol === 'http:' && (/^127\.\d+\.\d+\.\d+$/.test(h) || h === 'localhost' || h === '[::1]'))
        return;
    fail('invalid_request', `not https, and not loopback: ${url}`);
}

/**
 * A daybook:// link: { kind, fields }. A repeated known field, a bad escape, a NUL,
 * an overlong value or a missing required field makes the whole link invalid
 * ('invalid_request'); unknown fields are ignored.
 */
export function parseLink(text) {
    const k = LINK_KINDS.find(([prefix]) => text.startsWith(prefix));
    if (!k) fail('invalid_request', 'not a daybook:// link');
    const fields = {};
    for (const part of text.slice(k[0].length).split('&')) {
        const eq = part.indexOf('=');
        if (eq < 0) continue;
        const name = part.slice(0, eq);
        if (!(name in LINK_FIELDS)) continue;
        if (name in fields) fail('invalid_request', `repeated ${name}`);
        fields[name] = pctDecode(part.slice(eq + 1), LINK_FIELDS[name]);
    }
    const kind = k[1];
    let ok = !!fields.server;
    if (kind === 'setup') ok = ok && fields.code?.length === 22;
    if (kind === 'enroll') ok = ok && fields.code?.length === 22 && fields.fp?.length === 22 &&
                                isIdText(fields.counselor) &&
                                (fields.help === undefined || fields.help.length === 22);
    if (kind === 'login') ok = ok && isIdText(fields.account);
    if (kind === 'team') ok = ok && fields.fp?.length === 22 && isIdText(fields.counselor);
    if (!ok) fail('invalid_request', 'a required field is missing or malformed');
    checkServerUrl(fields.server);
    return { kind, fields };
}
