#!/usr/bin/env node
// The README's first command: index the sample flowers, answer an image query and a text query.
// It drives the real CLI (what you would type), so every step here works the same by hand.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const db = path.join(root, '.demo-db');
const rel = (p) => path.relative(process.cwd(), p) || '.';

function lookalike(...args) {
  console.log(`\n$ lookalike ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
  execFileSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
}

if (!fs.existsSync(cli)) {
  console.error('dist/ is missing: run `npm install` (it builds lookalike) first.');
  process.exit(1);
}
fs.rmSync(db, { recursive: true, force: true });
const samples = path.join(root, 'samples', 'flowers');
const query = path.join(root, 'samples', 'queries', 'daisy-image_0804.jpg');

console.log('lookalike demo: 96 flower photos (12 species x 8, Oxford Flowers 17; see samples/README.md)');
console.log('\n1) Image → image with mobilenet-v1 (real ImageNet MobileNet v1 features, 1024-d, bundled)');
lookalike('index', rel(samples), '--db', rel(db), '--collection', 'flowers', '--model', 'mobilenet-v1', '--label-key', 'species');
lookalike('info', '--db', rel(db), '--collection', 'flowers');
console.log(`\nQuery: ${rel(query)} (a daisy photo that is NOT in the collection)`);
lookalike('search', '--db', rel(db), '--collection', 'flowers', '--image', rel(query), '-k', '5');

console.log('\n2) Text → image with a CLIP-family model');
const colorClip = [process.env.LOOKALIKE_COLOR_CLIP, path.join(root, '..', 'shared', 'models', 'color-clip')].find(
  (p) => p && fs.existsSync(path.join(p, 'config.json')),
);
if (!colorClip) {
  console.log('   skipped: the color-clip fixture (../shared/models/color-clip) is not here.');
  console.log('   With network access, real CLIP works the same: --model Xenova/clip-vit-base-patch32');
} else {
  console.log('   NOTE: this uses "color-clip", a hand-built CLIP-format TEST FIXTURE (not a trained model): it only');
  console.log('   understands colour words, matching them to how much of each colour a photo has. It runs the exact');
  console.log('   CLIP code path (CLIP tokenizer, image processor, text and vision towers). For real text search use');
  console.log('   --model Xenova/clip-vit-base-patch32 (downloaded on first use) or any CLIP folder in that layout.');
  lookalike('index', rel(samples), '--db', rel(db), '--collection', 'flowers-clip', '--model', rel(colorClip), '--label-key', 'species');
  lookalike('search', '--db', rel(db), '--collection', 'flowers-clip', '--text', 'a yellow flower', '-k', '5');
}
console.log(`\nDone. The store is in ${rel(db)}/ — try: node dist/cli/main.js search --db ${rel(db)} --collection flowers --id <id> --json`);
