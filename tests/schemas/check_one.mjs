#!/usr/bin/env node
// Validates one JSON document against one schema of proto/schemas, as validate.mjs
// does for the examples (Ajv strict, draft 2020-12, formats asserted). Integration
// tests use it on what the real CLI wrote (the consent a client signed).
//
// Usage: DAYBOOK_NODE_MODULES=<dir> node tests/schemas/check_one.mjs SCHEMA.json DOC.json
// Exit status: 0 valid, 1 invalid (the errors on stderr), 2 bad usage.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [schemaPath, docPath] = process.argv.slice(2);
const nodeModules = process.env.DAYBOOK_NODE_MODULES;
if (!schemaPath || !docPath || !nodeModules) {
    process.stderr.write('usage: DAYBOOK_NODE_MODULES=<dir> node check_one.mjs SCHEMA DOC\n');
    process.exit(2);
}
const require = createRequire(path.join(path.resolve(nodeModules), 'x.js'));
const ajvMod = require('ajv/dist/2020');
const Ajv2020 = ajvMod.default ?? ajvMod;
const fmtMod = require('ajv-formats');
const addFormats = fmtMod.default ?? fmtMod;
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaPath, 'utf8')));
if (validate(JSON.parse(fs.readFileSync(docPath, 'utf8')))) process.exit(0);
process.stderr.write(`${docPath}: ${JSON.stringify(validate.errors, null, 1)}\n`);
process.exit(1);
