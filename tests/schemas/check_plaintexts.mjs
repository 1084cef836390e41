#!/usr/bin/env node
// spec.plaintexts: every plaintext the integration tests' profiles hold (written
// by tests/tools/dbk_plaindump through the harness hook in
// tests/support/plaincheck.c, one *.jsonl file per test process), validated
// against proto/schemas with Ajv in strict mode with formats asserted.
//
// Fails on: a document invalid for its schema; a record `type` with no schema
// (the C code must not write a type proto/ does not define); a consent whose form
// disagrees with its grant (a self-grant without "self": true, or a grant to
// another account with it); a profile the dump tool could not open; and an empty
// run (no documents at all means the hook is broken, not that all is well).
//
// Usage: DAYBOOK_NODE_MODULES=<dir> node tests/schemas/check_plaintexts.mjs <repo root> <dir>

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [root, dir] = process.argv.slice(2);
if (!root || !dir || !process.env.DAYBOOK_NODE_MODULES) {
    process.stderr.write('usage: DAYBOOK_NODE_MODULES=<dir> node check_plaintexts.mjs <repo root> <dir>\n');
    process.exit(2);
}
const require = createRequire(path.join(path.resolve(process.env.DAYBOOK_NODE_MODULES), 'x.js'));
const ajvMod = require('ajv/dist/2020');
const Ajv2020 = ajvMod.default ?? ajvMod;
const fmtMod = require('ajv-formats');
const addFormats = fmtMod.default ?? fmtMod;

// The type table of proto/schemas/README.md.
const SCHEMA_OF = {
    craving: 'craving', journal: 'journal', checklist_def: 'checklist-definition',
    checklist_day: 'checklist-day', note: 'counselor-note', tombstone: 'tombstone',
    session: 'session', alias: 'alias', consent: 'consent-grant',
    checkin: 'checkin', measure: 'measure', plan: 'plan', medication: 'medication', dose: 'dose', measure_schedule: 'measure-schedule', attendance: 'attendance', referral: 'referral',
    discussed: 'discussed', pin: 'pin', role: 'role', head: 'head', reviewed: 'reviewed',
};
const validators = {};
for (const [type, stem] of Object.entries(SCHEMA_OF)) {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats(ajv);
    const file = path.join(root, 'proto', 'schemas', `${stem}.schema.json`);
    validators[type] = ajv.compile(JSON.parse(fs.readFileSync(file, 'utf8')));
}

const counts = {};
let failed = 0, total = 0, unopened = 0;
function fail(where, why) {
    failed++;
    console.log(`FAIL ${where}: ${why}`);
}

const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort() : [];
for (const f of files) {
    const lines = fs.readFileSync(path.join(dir, f), 'utf8').split('\n');
    lines.forEach((text, i) => {
        if (text.trim() === '') return;
        const where = `${f}:${i + 1}`;
        let line;
        try {
            line = JSON.parse(text);
        } catch (e) {
            return fail(where, `not JSON: ${e.message}`);
        }
        if (line.source === 'unopened') { unopened += line.count; return; }
        if (line.source === 'dump_failed') return fail(where, `profile ${line.profile} did not open: ${line.error}`);
        if (line.source !== 'record' && line.source !== 'consent') return fail(where, `unknown source ${line.source}`);
        const doc = line.doc;
        const type = doc && typeof doc === 'object' ? doc.type : undefined;
        total++;
        if (line.source === 'consent' && type !== 'consent') return fail(where, `a grant seals type ${JSON.stringify(type)}`);
        // A consent record is the client's own copy of a consent it signed, kept in its
        // private stream (proto/schemas/README.md); it has the disclosure form.
        const validate = validators[type];
        if (!validate) return fail(where, `type ${JSON.stringify(type)} has no schema in proto/schemas`);
        const key = line.source === 'consent' ? (line.self ? 'consent (self)' : 'consent (disclosure)') : type;
        counts[key] = (counts[key] ?? 0) + 1;
        if (!validate(doc)) {
            const e = validate.errors[0];
            return fail(where, `${type} invalid: ${e.instancePath || '/'} ${e.message} in ${JSON.stringify(doc).slice(0, 300)}`);
        }
        if (line.source === 'consent' && (doc.self === true) !== line.self)
            fail(where, line.self ? 'a self-grant without "self": true' : 'a grant to another account marked "self"');
    });
}
for (const [k, n] of Object.entries(counts).sort()) console.log(`ok   ${String(n).padStart(5)} ${k}`);
console.log(`${files.length} files, ${total} documents, ${unopened} revisions the profile could not open (not checked), ${failed} failed`);
if (total === 0) {
    console.log('FAIL no documents: the harness hook wrote nothing (run the integration tests first)');
    process.exit(1);
}
process.exit(failed === 0 ? 0 : 1);
