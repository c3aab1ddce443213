#!/usr/bin/env node
// CI check (issue 10.22): every package that package-lock.json installs on this platform must accept every Node.js
// version that package.json's "engines.node" claims. A dependency that declares a narrower range (content-disposition@3
// and cookie@2 declare node >= 22) makes the project's own "engines" a promise it cannot keep: this check fails, naming
// the package, the path that pulls it in, and its range.
//
//   node scripts/ci/check-engines.mjs [--lock package-lock.json] [--dev]   (--dev: devDependencies too; default: all)
//
// Needs `semver` (any copy: the project's node_modules after `npm ci`, or npm's own).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const lockPath = path.resolve(args.includes('--lock') ? args[args.indexOf('--lock') + 1] : path.join(root, 'package-lock.json'));
const prodOnly = args.includes('--prod');

function loadSemver() {
  const candidates = [path.join(root, 'package.json'), path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'package.json')];
  for (const c of candidates) {
    try {
      return createRequire(c)('semver');
    } catch {
      /* next */
    }
  }
  throw new Error('check-engines: cannot load semver (run npm ci first)');
}
const semver = loadSemver();

const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(lockPath), 'package.json'), 'utf8'));
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const claimed = pkg.engines?.node;
if (!claimed || !semver.validRange(claimed)) {
  console.error(`check-engines: package.json has no valid "engines.node" (${claimed})`);
  process.exit(1);
}

const matches = (list, value) => {
  if (!Array.isArray(list) || list.length === 0) return true;
  const neg = list.filter((x) => x.startsWith('!')).map((x) => x.slice(1));
  const pos = list.filter((x) => !x.startsWith('!'));
  if (neg.includes(value)) return false;
  return pos.length === 0 || pos.includes(value);
};

const problems = [];
let checked = 0;
for (const [where, entry] of Object.entries(lock.packages ?? {})) {
  if (where === '' || entry.link) continue;
  if (prodOnly && entry.dev) continue;
  // optional platform packages for other systems are never installed here
  if (!matches(entry.os, process.platform) || !matches(entry.cpu, process.arch)) continue;
  checked++;
  const range = entry.engines?.node;
  if (!range) continue;
  if (!semver.validRange(range)) continue; // a few packages write prose here; npm ignores those too
  if (!semver.subset(claimed, range, { includePrerelease: false })) {
    problems.push(`${where.replace(/^node_modules\//, '').replace(/\/node_modules\//g, ' > ')}@${entry.version} declares node "${range}"`);
  }
}

if (problems.length) {
  console.error(`check-engines: package.json claims node "${claimed}", but ${problems.length} installed package(s) accept less:`);
  for (const p of problems) console.error(`  - ${p}`);
  console.error('Pin or override them (package.json "overrides"), or narrow "engines".');
  process.exit(1);
}
console.log(`check-engines: ${checked} packages accept every Node.js version in "${claimed}"`);
