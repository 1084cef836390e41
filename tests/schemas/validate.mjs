#!/usr/bin/env node
// Checks proto/schemas: every *.schema.json must compile under Ajv's strict mode
// (JSON Schema draft 2020-12, formats asserted), every example under
// examples/valid must validate and every example under examples/invalid must be
// rejected. An example's file name says which schema applies: the schema stem,
// a double dash, then a description ("checklist-day--bad-date.json" is checked
// against checklist-day.schema.json).
//
// Usage: DAYBOOK_NODE_MODULES=<dir holding ajv and ajv-formats> \
//          node tests/schemas/validate.mjs <repository root>
//
// Prints one line per schema and per example, then "N passed, M failed".
// Exit status: 0 when nothing failed, 1 on any failure, 2 on bad usage.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const MIN_VALID_PER_SCHEMA = 2;
const MIN_INVALID_TOTAL = 8;

function usage(msg) {
    process.stderr.write(`validate.mjs: ${msg}\n`);
    process.stderr.write(
        'usage: DAYBOOK_NODE_MODULES=<node_modules dir> node tests/schemas/validate.mjs <repo root>\n');
    process.exit(2);
}

const root = process.argv[2];
if (!root) usage('missing the repository root argument');
const nodeModules = process.env.DAYBOOK_NODE_MODULES;
if (!nodeModules) usage('DAYBOOK_NODE_MODULES is not set');

// Resolve packages as if from a file inside that node_modules folder, so they can
// live anywhere (an ignored build/node_modules, a temporary directory).
const require = createRequire(path.join(path.resolve(nodeModules), 'x.js'));
let Ajv2020, addFormats;
try {
    const ajvMod = require('ajv/dist/2020');
    Ajv2020 = ajvMod.default ?? ajvMod;
    const fmtMod = require('ajv-formats');
    addFormats = fmtMod.default ?? fmtMod;
} catch (e) {
    usage(`cannot load ajv and ajv-formats from ${nodeModules}: ${e.message}`);
}

const schemaDir = path.join(path.resolve(root), 'proto', 'schemas');
if (!fs.existsSync(schemaDir)) usage(`no such directory: ${schemaDir}`);

let passed = 0;
let failed = 0;
function pass(kind, name, extra) {
    passed++;
    console.log(`ok   ${kind.padEnd(7)} ${name}${extra ? `  (${extra})` : ''}`);
}
function fail(kind, name, why) {
    failed++;
    console.log(`FAIL ${kind.padEnd(7)} ${name}  (${why})`);
}

function describeErrors(errors) {
    if (!errors || errors.length === 0) return 'no error reported';
    const e = errors[0];
    let s = `${e.instancePath || '/'} ${e.message}`;
    if (e.params && e.params.allowedValues) s += `: ${JSON.stringify(e.params.allowedValues)}`;
    if (errors.length > 1) s += `; ${errors.length - 1} more`;
    return s;
}

function readJson(file) {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
}

// One Ajv instance per schema keeps the schemas independent of each other.
function newAjv() {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats(ajv);
    return ajv;
}

// Compile the schemas.
const validators = new Map();
const schemaFiles = fs.readdirSync(schemaDir).filter((f) => f.endsWith('.schema.json')).sort();
if (schemaFiles.length === 0) fail('schema', schemaDir, 'no *.schema.json files');
for (const f of schemaFiles) {
    const stem = f.slice(0, -'.schema.json'.length);
    try {
        const schema = readJson(path.join(schemaDir, f));
        if (schema.$schema !== 'https://json-schema.org/draft/2020-12/schema') {
            fail('schema', f, '$schema is not draft 2020-12');
            continue;
        }
        validators.set(stem, newAjv().compile(schema));
        pass('schema', f);
    } catch (e) {
        fail('schema', f, e.message);
    }
}

// Check the examples.
const validCount = new Map();
let invalidCount = 0;
for (const kind of ['valid', 'invalid']) {
    const dir = path.join(schemaDir, 'examples', kind);
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
    for (const f of files) {
        const m = /^([a-z0-9]+(?:-[a-z0-9]+)*)--[A-Za-z0-9._-]+\.json$/.exec(f);
        if (!m) {
            fail(kind, f, 'name is not <schema stem>--<description>.json');
            continue;
        }
        const stem = m[1];
        const validate = validators.get(stem);
        if (!validate) {
            fail(kind, f, `no compiled schema ${stem}.schema.json`);
            continue;
        }
        let doc;
        try {
            doc = readJson(path.join(dir, f));
        } catch (e) {
            fail(kind, f, `not JSON: ${e.message}`);
            continue;
        }
        const ok = validate(doc);
        if (kind === 'valid') {
            if (ok) {
                pass(kind, f);
                validCount.set(stem, (validCount.get(stem) ?? 0) + 1);
            } else {
                fail(kind, f, `rejected: ${describeErrors(validate.errors)}`);
            }
        } else if (ok) {
            fail(kind, f, 'accepted, but it should be rejected');
        } else {
            pass(kind, f, `rejected: ${describeErrors(validate.errors)}`);
            invalidCount++;
        }
    }
}

// Coverage: every schema needs valid examples, and the invalid set must not be thin.
for (const stem of validators.keys()) {
    const n = validCount.get(stem) ?? 0;
    if (n < MIN_VALID_PER_SCHEMA)
        fail('cover', `${stem}.schema.json`, `${n} passing valid examples, need ${MIN_VALID_PER_SCHEMA}`);
}
if (invalidCount < MIN_INVALID_TOTAL)
    fail('cover', 'examples/invalid', `${invalidCount} rejected invalid examples, need ${MIN_INVALID_TOTAL}`);

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
