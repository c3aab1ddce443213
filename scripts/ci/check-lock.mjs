#!/usr/bin/env node
// CI pre-flight (issue 10.21): package-lock.json must describe the whole tree for *every* platform, so that `npm ci`
// works on any machine. A lock written with optional dependencies omitted (`--omit=optional`, or by an npm that
// skipped them) lacks the platform packages (@rollup/rollup-*, @esbuild/*, @img/sharp-*, @msgpackr-extract/*, …)
// and `npm ci` then fails everywhere with "Missing: … from lock file". This reads the lock only (no install, no
// network) and names every dependency, optional ones included, that the lock does not resolve.
//
//   node scripts/ci/check-lock.mjs [path/to/package-lock.json]
//
// Regenerate a broken lock with: npm install --package-lock-only --include=optional (never with --omit=optional).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const lockPath = path.resolve(process.argv[2] ?? path.join(root, 'package-lock.json'));
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const pkg = JSON.parse(fs.readFileSync(path.join(path.dirname(lockPath), 'package.json'), 'utf8'));
const packages = lock.packages ?? {};
const problems = [];

if (lock.lockfileVersion < 2 || !lock.packages) problems.push(`lockfileVersion ${lock.lockfileVersion}: regenerate with npm >= 7`);

/** Node's lookup: <where>/node_modules/<dep>, then each enclosing node_modules, up to the root. */
function resolves(where, dep) {
  let base = where;
  for (;;) {
    const candidate = (base ? `${base}/` : '') + `node_modules/${dep}`;
    if (packages[candidate]) return true;
    if (!base) return false;
    const i = base.lastIndexOf('/node_modules/');
    base = i < 0 ? '' : base.slice(0, i);
  }
}

// the root entry must match package.json (what `npm ci` compares first)
const rootEntry = packages[''] ?? {};
for (const field of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
  const want = pkg[field] ?? {};
  const have = rootEntry[field] ?? {};
  for (const [name, range] of Object.entries(want)) {
    if (have[name] !== range) problems.push(`package.json ${field}.${name} is "${range}", the lock says "${have[name] ?? '(absent)'}"`);
  }
  for (const name of Object.keys(have)) if (!(name in want)) problems.push(`the lock has ${field}.${name}, package.json does not`);
}

let edges = 0;
for (const [where, entry] of Object.entries(packages)) {
  if (entry.link) continue;
  const deps = { ...entry.dependencies, ...entry.optionalDependencies, ...(where === '' ? entry.devDependencies : {}) };
  for (const dep of Object.keys(deps)) {
    edges++;
    if (!resolves(where, dep)) {
      const optional = entry.optionalDependencies && dep in entry.optionalDependencies;
      problems.push(`${where || '(root)'} → ${dep}${optional ? ' (optional)' : ''} is not in the lock`);
    }
  }
}

if (problems.length) {
  console.error(`check-lock: ${path.relative(process.cwd(), lockPath) || lockPath} is incomplete or out of sync (${problems.length}):`);
  for (const p of problems.slice(0, 40)) console.error(`  - ${p}`);
  if (problems.length > 40) console.error(`  … and ${problems.length - 40} more`);
  console.error('Regenerate it: npm install --package-lock-only --include=optional');
  process.exit(1);
}
console.log(`check-lock: ${Object.keys(packages).length - 1} packages, ${edges} dependency edges, all resolved in the lock`);
