// Writes the seed corpora of tests/fuzz/corpus/<target>/ from proto/vectors/*.json
// and, for a few extra envelopes and grants, the C implementation itself
// (build/tests/dbk_vectool seal-envelope / seal-grant).
//
//   node tests/fuzz/gen_corpus.mjs [DBK_VECTOOL]
//
// Run it again after a deliberate change of the vectors or formats, and commit the
// result. The output is deterministic except the grants sealed by dbk_vectool
// (sealed boxes are randomised), which are kept when they already exist.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync }
    from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const vectool = process.argv[2] || process.env.DBK_VECTOOL || join(root, 'build/tests/dbk_vectool');
const vec = (name) => JSON.parse(readFileSync(join(root, 'proto/vectors', name), 'utf8'));
const hex = (h) => Buffer.from(h, 'hex');
const b64 = (b) => Buffer.from(b).toString('base64url');
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; };
const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

const env = vec('envelope.json');
const grant = vec('grant.json');
const bundle = vec('bundle.json');
const E = env.positive[0];
const G = grant.positive[0];
const B = bundle.positive[0];

function corpus(target, seeds, { keep = [] } = {}) {
    const dir = join(here, 'corpus', target);
    const kept = new Map();
    if (existsSync(dir)) {
        for (const f of readdirSync(dir))
            if (keep.includes(f))
                kept.set(f, readFileSync(join(dir, f)));
        rmSync(dir, { recursive: true });
    }
    mkdirSync(dir, { recursive: true });
    const seen = new Set();
    let n = 0;
    for (const [name, data] of seeds) {
        const bytes = kept.get(name) ?? Buffer.from(data);
        const key = bytes.toString('hex');
        if (seen.has(key))
            continue; // the same bytes under two names: keep the first
        seen.add(key);
        writeFileSync(join(dir, name), bytes);
        n++;
    }
    console.log(`${target}: ${n} seeds`);
}

// dbk_vectool FILE-in commands, for envelopes and grants with other contents.
function tool(cmd, input) {
    if (!existsSync(vectool)) {
        console.warn(`(no ${vectool}: skipping ${cmd} seeds)`);
        return null;
    }
    const dir = mkdtempSync(join(tmpdir(), 'dbk-corpus-'));
    try {
        writeFileSync(join(dir, 'in.json'), JSON.stringify(input));
        return hex(execFileSync(vectool, [cmd, join(dir, 'in.json')], { encoding: 'utf8' }).trim());
    } finally {
        rmSync(dir, { recursive: true });
    }
}

// Envelopes and grants sealed by dbk_vectool are signed with this key, not the vectors'
// author's: the targets check that nothing but a vector verifies under the vectors' key
// (their re-signing modes still open these with the real key).
const otherSigner = '6f746865722d7369676e65722f646179626f6f6b2d66757a7a2f736565642121';

// ---- fuzz_envelope ----

const named = (file, name) => {
    const c = file.negative.find((x) => x.name === name);
    if (!c)
        throw new Error(`no negative vector named "${name}"`);
    return c;
};
const envSeeds = [];
for (const c of env.positive)
    envSeeds.push([`pos-${slug(c.name)}`, hex(c.envelope)]);
for (const c of env.negative)
    envSeeds.push([`neg-${slug(c.name)}`, hex(c.envelope)]);
// "Unsealed": the first envelope with its ciphertext replaced by a padded plaintext and
// a zero tag. Structurally valid; fuzz_envelope's re-encrypting mode opens them.
function unsealed(plain, marker = 0x80) {
    const e = hex(E.envelope);
    const padTo = (Math.floor(Buffer.byteLength(plain) / 256) + 1) * 256;
    const padded = Buffer.alloc(padTo);
    Buffer.from(plain).copy(padded);
    if (marker !== null)
        padded[plain.length] = marker;
    const ct = Buffer.concat([padded, Buffer.alloc(16)]);
    return Buffer.concat([e.subarray(0, 104), u32(ct.length), ct, Buffer.alloc(64)]);
}
envSeeds.push(['unsealed-padded', unsealed(E.plaintext)]);
envSeeds.push(['unsealed-no-padding-marker', unsealed(E.plaintext, null)]);
envSeeds.push(['unsealed-marker-not-last', unsealed('z', 0x81)]);
envSeeds.push(['unsealed-255-bytes', unsealed('x'.repeat(255))]);
envSeeds.push(['unsealed-empty', unsealed('')]);
for (const [name, plaintext] of [['sealed-empty', ''], ['sealed-255-bytes', 'a'.repeat(255)],
                                 ['sealed-256-bytes', 'b'.repeat(256)]]) {
    const e = tool('seal-envelope', { ...E, author_seed: otherSigner, plaintext });
    if (e)
        envSeeds.push([name, e]);
}
corpus('fuzz_envelope', envSeeds);

// ---- fuzz_grant ----

const grantSeeds = [];
for (const c of grant.positive)
    grantSeeds.push([`pos-${slug(c.name)}`, hex(c.grant)]);
for (const c of grant.negative)
    grantSeeds.push([`neg-${slug(c.name)}`, hex(c.grant)]);
// Unsealed: the first grant with the sealed box replaced by 48 zero bytes, the stream
// key and a consent document in clear; fuzz_grant's re-sealing mode opens them.
function unsealedGrant(consent, { expires = null, grantee = null } = {}) {
    const g = Buffer.from(hex(G.grant));
    const inner = Buffer.concat([Buffer.alloc(48), hex(G.stream_key), Buffer.from(consent)]);
    const head = Buffer.from(g.subarray(0, 76));
    head.set(u32(inner.length), 72);
    if (expires !== null)
        head.set(u64(expires), 64);
    if (grantee !== null)
        head.set(hex(grantee), 40);
    return Buffer.concat([head, inner, Buffer.alloc(64)]);
}
grantSeeds.push(['unsealed-consent', unsealedGrant(G.consent)]);
grantSeeds.push(['unsealed-minimal-consent', unsealedGrant('{"type":"consent"}')]);
grantSeeds.push(['unsealed-not-a-consent', unsealedGrant('{"type":"journal"}')]);
grantSeeds.push(['unsealed-not-json', unsealedGrant('{"type":"consent"')]);
grantSeeds.push(['unsealed-duplicate-type', unsealedGrant('{"type":"consent","type":"x"}')]);
grantSeeds.push(['unsealed-expired', unsealedGrant('{"type":"consent"}', { expires: 1 })]);
grantSeeds.push(['unsealed-other-grantee',
                 unsealedGrant('{"type":"consent"}', { grantee: '00'.repeat(16) })]);
const gs = tool('seal-grant', { ...G, owner_seed: otherSigner,
                             consent: '{"type":"consent","v":1}' });
if (gs)
    grantSeeds.push(['sealed-short-consent', gs]);
corpus('fuzz_grant', grantSeeds, { keep: ['sealed-short-consent'] });

// ---- fuzz_bundle ----

const bundleSeeds = [];
for (const c of bundle.positive)
    bundleSeeds.push([`pos-${slug(c.name)}`, hex(c.bundle)]);
for (const c of bundle.negative)
    bundleSeeds.push([`neg-${slug(c.name)}`, hex(c.bundle)]);
function bundleWith(off, bytes) {
    const b = Buffer.from(hex(B.bundle));
    b.set(bytes, off);
    return b;
}
const ceiling = bundleWith(12, u64(10));
ceiling.set(u64(1024 * 1024 * 1024), 20);
bundleSeeds.push(['kdf-ceiling', ceiling]);
bundleSeeds.push(['kdf-ops-above-ceiling', bundleWith(12, u64(11))]);
bundleSeeds.push(['kdf-mem-below-floor', bundleWith(20, u64(64 * 1024 * 1024 - 1))]);
bundleSeeds.push(['kdf-mem-huge', bundleWith(20, u64('18446744073709551615'))]);
bundleSeeds.push(['kdf-other-algorithm', bundleWith(5, [1])]);
bundleSeeds.push(['reserved-set', bundleWith(7, [1])]);
bundleSeeds.push(['generation-max', bundleWith(8, u32(0xffffffff))]);
bundleSeeds.push(['one-byte-long', Buffer.concat([hex(B.bundle), Buffer.from([0])])]);
bundleSeeds.push(['magic-only', Buffer.from('DBKB')]);
corpus('fuzz_bundle', bundleSeeds);

// ---- fuzz_base64 ----

const text = (s) => Buffer.from(s, 'latin1');
corpus('fuzz_base64', [
    ['empty', Buffer.alloc(0)],
    ['one-byte', text('AA')],
    ['two-bytes', text('AAA')],
    ['three-bytes', text('AAAA')],
    ['url-alphabet', text('-_-_')],
    ['std-alphabet', text('+/+/')],
    ['padded', text('AA==')],
    ['trailing-bits-set', text('AB')],
    ['trailing-bits-set-2', text('AAB')],
    ['length-mod-4-is-1', text('AAAAA')],
    ['whitespace', text('AA AA')],
    ['newline', text('AAAA\nAAAA')],
    ['nul-inside', Buffer.from([0x41, 0x41, 0x00, 0x41])],
    ['high-bytes', Buffer.from([0xff, 0xfe, 0x80, 0x4a, 0x41])],
    ['id', text(b64(hex(E.stream_id)))],
    ['id-non-canonical', text(b64(hex(E.stream_id)).slice(0, 21) + 'B')],
    ['key-32', text(b64(hex(E.author_pk)))],
    ['signature-64', text(b64(hex(E.envelope).subarray(-64)))],
    ['bundle', text(b64(hex(B.bundle)))],
    ['binary', hex('00ff10e0c3a5')],
]);

// ---- fuzz_json_body ----

const id = (h) => b64(hex(h));
const stream = id(E.stream_id);
const device = id(E.device_id);
const account = id(E.author_id);
const envs = env.positive.filter((c) => c.stream_key === E.stream_key).map((c) => b64(hex(c.envelope)));
const rev = { clock: E.clock, device };
const j = (o) => (typeof o === 'string' ? o : JSON.stringify(o));
const nest = (n) => '{"a":' + '['.repeat(n - 1) + ']'.repeat(n - 1) + '}';
corpus('fuzz_json_body', [
    ['enroll', j({
        code: b64(Buffer.alloc(16, 7)), account, ed25519_pk: id(G.owner_pk),
        x25519_pk: id(G.grantee_x25519_pk), login_pk: id(E.author_pk), bundle: b64(hex(B.bundle)),
        device, device_name: 'phone', streams: [{ stream, kind: 'shared' }],
        grants: [b64(hex(G.grant))],
    })],
    ['enroll-two-streams', j({
        code: b64(Buffer.alloc(16, 7)), account, ed25519_pk: id(G.owner_pk),
        x25519_pk: id(G.grantee_x25519_pk), login_pk: id(E.author_pk), bundle: b64(hex(B.bundle)),
        device, streams: [{ stream, kind: 'shared' }, { stream: device, kind: 'private' }],
        grants: [b64(hex(grant.positive[1].grant)), b64(hex(G.grant))],
    })],
    ['login-start', j({ account, device, purpose: 'login' })],
    ['login-start-change-passphrase', j({ account, device, purpose: 'change_passphrase' })],
    ['login-finish', j({ account, device, challenge: b64(Buffer.alloc(32, 1)),
                         signature: b64(Buffer.alloc(64, 2)), device_name: 'laptop' })],
    ['put-bundle', j({ challenge: b64(Buffer.alloc(32, 1)), signature: b64(Buffer.alloc(64, 2)),
                       bundle: b64(hex(B.bundle)), login_pk: id(E.author_pk) })],
    ['put-bundle-weak-kdf', j({ challenge: b64(Buffer.alloc(32, 1)),
                                signature: b64(Buffer.alloc(64, 2)),
                                bundle: b64(hex(named(bundle, 'opslimit lowered below the floor').bundle)),
                                login_pk: id(E.author_pk) })],
    ['invite', j({ ttl_s: 3600 })],
    ['invite-empty', j({})],
    ['invite-ttl-too-short', j({ ttl_s: 599 })],
    ['invite-ttl-null', '{"ttl_s":null}'],
    ['invite-ttl-huge', '{"ttl_s":9223372036854775807}'],
    ['invite-ttl-real', '{"ttl_s":3600.0}'],
    ['grants', j({ grants: grant.positive.map((c) => b64(hex(c.grant))) })],
    ['grants-not-base64', j({ grants: ['AA==', 7] })],
    ['push', j({ records: [{ envelope: envs[0] }, { envelope: envs[1], expected: 'none' }] })],
    ['push-expected', j({ records: [{ envelope: envs[0], expected: rev }] })],
    ['push-clock-leading-zero', j({ records: [{ envelope: envs[0],
                                                expected: { clock: '0115', device } }] })],
    ['push-clock-overflow', j({ records: [{ envelope: envs[0],
                                            expected: { clock: '18446744073709551616', device } }] })],
    ['push-other-stream', j({ records: [{ envelope: b64(hex(named(env, 'header rewritten to another stream').envelope)) }] })],
    ['push-unknown-field', j({ records: [{ envelope: envs[0], extra: 1 }] })],
    ['sync', j({ push: [{ stream, records: [{ envelope: envs[0], expected: rev }] }],
                 pull: [{ stream, since: 3 }], limit: 100, max_bytes: 65536 })],
    ['sync-pull-only', j({ pull: [{ stream }, { stream: device, since: 0 }] })],
    ['id-non-canonical', j({ account: account.slice(0, 21) + 'B', device })],
    ['depth-16', nest(16)],
    ['depth-17', nest(17)],
    ['brackets-in-strings', '{"a":"[[[[{{{{\\"[[[[","b":["\\\\",{"c":"]]]]"}]}'],
    ['duplicate-key', '{"records":[],"records":[]}'],
    ['top-level-array', '[{"records":[]}]'],
    ['unicode', '{"device_name":"caf\\u00e9 \\ud83d\\ude00","account":"x"}'],
]);

// ---- fuzz_answer ----

// Answers as daybookd writes them (server/api_records.c), and the kinds the narrow
// reader must leave to jansson.
const pullAnswer = (records, more) => j({
    push: [], pull: [{ stream, records, next: records.length, more, high_seq: 900, epoch: 1 }],
    grants_seq: 3,
});
corpus('fuzz_answer', [
    ['pull', pullAnswer(envs.map((e, i) => ({ seq: i + 1, envelope: e })), false)],
    ['pull-empty', pullAnswer([], true)],
    ['push-results', j({ push: [{ stream, results: [{ record: account, seq: 7,
                                                        revision: rev }] }], pull: [],
                         grants_seq: 0 })],
    ['error', j({ error: { code: 'rate_limited', message: 'too many requests' } })],
    ['error-escaped', '{"error":{"code":"x","message":"caf\\u00e9 \\"q\\""}}'],
    ['null-and-booleans', '[null,true,false,0,123456789012345678,""]'],
    ['numbers-outside', '[-1,1.5,1e3,1000000000000000000,01]'],
    ['duplicate-key', '{"more":true,"next":1,"more":false}'],
    ['depth-32', '['.repeat(32) + ']'.repeat(32)],
    ['depth-33', '['.repeat(33) + ']'.repeat(33)],
    ['trailing', '{"pull":[]} {}'],
    ['literal-cut', '[tru]'],
    ['not-ascii', '["caf\u00e9"]'],
]);

// ---- fuzz_http ----

const crlf = (lines) => lines.join('\r\n');
const bearer = 'Bearer ' + b64(Buffer.alloc(32, 9));
function post(path, body, extra = []) {
    return crlf([`POST ${path} HTTP/1.1`, 'Host: localhost', 'Content-Type: application/json',
                 `Authorization: ${bearer}`, ...extra, `Content-Length: ${Buffer.byteLength(body)}`,
                 '', body]);
}
const get = (path, extra = []) => crlf([`GET ${path} HTTP/1.1`, 'Host: localhost', ...extra, '', '']);
const syncBody = j({ pull: [{ stream, since: 0 }] });
const manyHeaders = Array.from({ length: 33 }, (_, i) => `X-H${i}: ${i}`);
// Header lines that fill the 16 KiB head buffer to its last byte, then one more header:
// the boundary of the overflow fixed in d4297ce (must get 431).
const fill = 'GET / HTTP/1.1\r\nX-Fill: ' + 'f'.repeat(16384 - 1 /* "/" */ - 1 /* NUL */
    - 6 /* "X-Fill" */ - 1 - 1) + '\r\nX-Next: 1\r\n\r\n';
corpus('fuzz_http', [
    ['get-healthz', get('/healthz')],
    ['head-healthz', crlf(['HEAD /healthz HTTP/1.1', 'Host: localhost', '', ''])],
    ['get-metrics-close', get('/metrics', ['Connection: close'])],
    ['http10', 'GET /healthz HTTP/1.0\r\n\r\n'],
    ['http10-keep-alive', 'GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'],
    ['post-sync', post('/v1/sync', syncBody)],
    ['post-records', post(`/v1/streams/${stream}/records`,
                          j({ records: [{ envelope: envs[0] }] }))],
    ['post-login-start', post('/v1/login/start', j({ account, device }),
                              ['Content-Type: application/json; charset=utf-8'])],
    ['put-bundle-charset', crlf(['PUT /v1/account/bundle HTTP/1.1',
                                 'Content-Type: application/json;charset=utf-8',
                                 'Content-Length: 2', '', '{}'])],
    ['delete-invite', crlf(['DELETE /v1/invites/abc HTTP/1.1', `Authorization: ${bearer}`, '', ''])],
    ['get-records-query', get(`/v1/streams/${stream}/records?since=5&limit=100&max_bytes=1000`)],
    ['query-unknown', get('/v1/access-log?since=1&foo=2')],
    ['query-bad-values', get('/v1/access-log?limit=-1&since=&max_bytes=99999999999999999999')],
    ['chunked', crlf(['POST /v1/sync HTTP/1.1', 'Content-Type: application/json',
                      'Transfer-Encoding: chunked', '', '5', syncBody.slice(0, 5),
                      (syncBody.length - 5).toString(16), syncBody.slice(5), '0', 'X-Trailer: t',
                      '', ''])],
    ['chunked-extension', crlf(['POST /v1/sync HTTP/1.1', 'Content-Type: application/json',
                                'Transfer-Encoding: chunked', '', '2;ext=1', '{}', '0', '', ''])],
    ['chunked-huge-size', crlf(['POST /v1/sync HTTP/1.1', 'Transfer-Encoding: chunked', '',
                                'ffffffffffff', 'x', ''])],
    ['pipelined', get('/healthz') + post('/v1/sync', syncBody) + get('/metrics')],
    ['pipelined-partial', get('/healthz') + 'POST /v1/sync HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}'],
    ['wrong-media-type', crlf(['POST /v1/sync HTTP/1.1', 'Content-Type: text/plain',
                               'Content-Length: 2', '', '{}'])],
    ['no-media-type', crlf(['POST /v1/sync HTTP/1.1', 'Content-Length: 2', '', '{}'])],
    ['json-too-deep', post('/v1/sync', nest(17))],
    ['json-duplicate', post('/v1/sync', '{"pull":[],"pull":[]}')],
    ['json-not-object', post('/v1/sync', '[]')],
    ['content-length-too-large', crlf(['POST /v1/sync HTTP/1.1', 'Content-Length: 8388609', '', ''])],
    ['content-length-and-chunked', crlf(['POST /v1/sync HTTP/1.1', 'Content-Length: 2',
                                         'Transfer-Encoding: chunked', '', '{}'])],
    ['content-length-twice', crlf(['POST /v1/sync HTTP/1.1', 'Content-Length: 2',
                                   'Content-Length: 3', '', '{}'])],
    ['url-too-long', get('/' + 'u'.repeat(2100))],
    ['too-many-headers', get('/healthz', manyHeaders)],
    ['head-buffer-full', fill],
    ['header-empty-value', get('/healthz', ['X-Empty:', 'Content-Type:'])],
    ['header-folded', 'GET /healthz HTTP/1.1\r\nX-Fold: a\r\n b\r\n\r\n'],
    ['bare-lf', 'GET /healthz HTTP/1.1\nHost: x\n\n'],
    ['expect-continue', post('/v1/sync', syncBody, ['Expect: 100-continue'])],
    ['upgrade', get('/healthz', ['Connection: Upgrade', 'Upgrade: websocket'])],
    ['connect', 'CONNECT localhost:443 HTTP/1.1\r\n\r\n'],
    ['unknown-method', 'BREW /pot HTTP/1.1\r\n\r\n'],
    ['absolute-uri', 'GET http://localhost/healthz?x=1 HTTP/1.1\r\n\r\n'],
    ['asterisk', 'OPTIONS * HTTP/1.1\r\n\r\n'],
    ['incomplete', 'GET /healthz HTTP/1.1\r\nHost: loc'],
    ['not-http', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'],
]);
