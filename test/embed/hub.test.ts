/**
 * The path a user with network takes first (`--model Xenova/clip-vit-base-patch32`), end to end against a local
 * stand-in for the Hugging Face hub (test/embed/fake-hub.ts) that serves the color-clip fixture under that id.
 * The hub address comes only from LOOKALIKE_HF_ENDPOINT (or HF_ENDPOINT), as documented in docs/models.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DOWNLOAD_MARKER, hubEndpoint, type DownloadProgress } from '../../src/embed/hf.js';
import { loadEmbedder, loadEmbedderForSpec } from '../../src/embed/registry.js';
import type { Embedder } from '../../src/embed/types.js';
import { isLookalikeError, type LookalikeError } from '../../src/errors.js';
import { COLOR_CLIP, requireShared, tmpDir } from '../helpers.js';
import { startFakeHub, type FakeHub } from './fake-hub.js';

const ID = 'Xenova/clip-vit-base-patch32';
const FILES = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/text_model.onnx', 'onnx/vision_model.onnx'];
const argmax = (v: Float32Array) => v.indexOf(Math.max(...v));

let hub: FakeHub | undefined;
let cacheDir: string;
const saved = { LOOKALIKE_HF_ENDPOINT: process.env.LOOKALIKE_HF_ENDPOINT, HF_ENDPOINT: process.env.HF_ENDPOINT };

async function serve(repos: Record<string, string> = { [ID]: requireShared(COLOR_CLIP) }): Promise<FakeHub> {
  hub = await startFakeHub(repos);
  process.env.LOOKALIKE_HF_ENDPOINT = hub.url;
  return hub;
}

async function stopHub(): Promise<void> {
  await hub?.close();
  hub = undefined;
}

const config = (over: { allowDownloads?: boolean } = {}) => ({
  modelPaths: [],
  cacheDir,
  allowDownloads: over.allowDownloads ?? true,
  downloadTimeoutMs: 5000,
  threads: 1,
});

async function failure(p: Promise<unknown>): Promise<LookalikeError> {
  const e = await p.then(
    (v) => {
      void (v as Embedder | undefined)?.dispose?.();
      throw new Error('expected the load to fail');
    },
    (err: unknown) => err,
  );
  if (!isLookalikeError(e)) throw e;
  return e;
}

/** Every file in the cache folder equals the fixture's, byte for byte; no partial or temporary file is left. */
function expectCleanCache(dir: string): string[] {
  const walk = (rel: string): string[] =>
    fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((d) => {
      const name = rel ? `${rel}/${d.name}` : d.name;
      return d.isDirectory() ? walk(name) : [name];
    });
  const names = walk('');
  for (const name of names) {
    expect(name).not.toMatch(/\.tmp\b/);
    if (name === DOWNLOAD_MARKER) continue;
    expect(fs.readFileSync(path.join(dir, name)).equals(fs.readFileSync(path.join(COLOR_CLIP, name))), name).toBe(true);
  }
  return names;
}

beforeEach(() => {
  cacheDir = tmpDir('lookalike-hub-cache-');
  delete process.env.LOOKALIKE_HF_ENDPOINT;
  delete process.env.HF_ENDPOINT;
});

afterEach(async () => {
  await stopHub();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('hub address', () => {
  it('comes from LOOKALIKE_HF_ENDPOINT, else HF_ENDPOINT, else huggingface.co; a bad one names its variable', () => {
    expect(hubEndpoint({}, {})).toBe('https://huggingface.co');
    expect(hubEndpoint({}, { HF_ENDPOINT: 'https://hf-mirror.example/' })).toBe('https://hf-mirror.example');
    expect(hubEndpoint({}, { HF_ENDPOINT: 'https://a.example', LOOKALIKE_HF_ENDPOINT: 'http://127.0.0.1:9/' })).toBe('http://127.0.0.1:9');
    expect(hubEndpoint({ hubEndpoint: 'https://c.example' }, { LOOKALIKE_HF_ENDPOINT: 'http://b.example' })).toBe('https://c.example');
    expect(() => hubEndpoint({}, { LOOKALIKE_HF_ENDPOINT: 'ftp://x' })).toThrow(/LOOKALIKE_HF_ENDPOINT="ftp:\/\/x"/);
  });
});

describe('downloading a CLIP model from a hub (local stand-in serving color-clip)', () => {
  it('the first load downloads with progress into config.cacheDir; later loads work with the hub stopped', { timeout: 90_000 }, async () => {
    const h = await serve();
    const events: DownloadProgress[] = [];
    const first = await loadEmbedder(ID, config(), { onDownloadProgress: (p) => events.push(p) });
    let firstSpec;
    try {
      firstSpec = first.spec;
      expect(first.spec).toMatchObject({ id: `clip:${ID}`, kind: 'clip', model: ID, dimension: 11 });
      const [red] = await first.embedTexts!(['red']);
      expect(argmax(red!)).toBe(0);
    } finally {
      await first.dispose();
    }
    for (const f of FILES) expect(h.requests).toContain(`/${ID}/resolve/main/${f}`);

    // progress: bytes as they arrive, then one `done` per file with everything received
    const vision = fs.statSync(path.join(COLOR_CLIP, 'onnx/vision_model.onnx')).size;
    const text = fs.statSync(path.join(COLOR_CLIP, 'onnx/text_model.onnx')).size;
    expect(events.find((e) => e.file === 'onnx/vision_model.onnx' && e.done)).toMatchObject({ model: ID, loaded: vision, total: vision });
    expect(events.find((e) => e.file === 'onnx/text_model.onnx' && e.done)).toMatchObject({ loaded: text, total: text });
    for (const f of FILES) expect(events.filter((e) => e.file === f && e.done), f).toHaveLength(1);
    const textEvents = events.filter((e) => e.file === 'onnx/text_model.onnx');
    expect(textEvents.length).toBeGreaterThan(2); // 2 MB arrive in several chunks
    expect(textEvents.map((e) => e.loaded)).toEqual([...textEvents.map((e) => e.loaded)].sort((a, b) => a - b));
    for (const e of events) expect(e.url).toBe(`${h.url}/${ID}/resolve/main/${e.file}`);

    // cached in config.cacheDir, complete and intact
    const cached = path.join(cacheDir, ID);
    const names = expectCleanCache(cached);
    for (const f of FILES) expect(names).toContain(f);
    expect(names).toContain(DOWNLOAD_MARKER);

    // offline: the hub is gone; by id, by the built-in alias, and from the stored spec (a collection re-opened)
    await stopHub();
    events.length = 0;
    for (const again of [
      () => loadEmbedder(ID, config(), { onDownloadProgress: (p) => events.push(p) }),
      () => loadEmbedder('clip-vit-base-patch32', config()),
      () => loadEmbedderForSpec(firstSpec!, config()),
    ]) {
      const e = await again();
      try {
        expect(e.spec.id).toBe(firstSpec!.id);
        expect(e.spec.revision).toBe(firstSpec!.revision);
        const [yellow] = await e.embedTexts!(['yellow']);
        expect(argmax(yellow!)).toBe(2);
      } finally {
        await e.dispose();
      }
    }
    expect(events).toEqual([]); // nothing downloaded

    // a cached file damaged afterwards (truncated by hand): an error that says what to delete, not a crash
    fs.truncateSync(path.join(cached, 'onnx/vision_model.onnx'), 100);
    const damaged = await failure(loadEmbedder(ID, config()));
    expect(damaged.code).toBe('MODEL_NOT_FOUND');
    expect(damaged.message).toContain('onnx/vision_model.onnx is 100 bytes, expected');
    expect(damaged.message).toContain(`Delete the folder ${cached}`);
  });

  it('a download cut mid-file leaves no corrupt cache; offline it says what to delete, online the next load resumes', { timeout: 90_000 }, async () => {
    const h = await serve();
    h.cutNext.add('onnx/vision_model.onnx');
    const cached = path.join(cacheDir, ID);
    const size = fs.statSync(path.join(COLOR_CLIP, 'onnx/vision_model.onnx')).size;

    const cut = await failure(loadEmbedder(ID, config()));
    expect(cut.code).toBe('MODEL_NOT_FOUND');
    expect(cut.message).toContain(`the download of onnx/vision_model.onnx stopped after ${Math.floor(size / 2)} of ${size} bytes`);
    expect(cut.message).toContain(`tried ${h.url}/${ID}/resolve/main/onnx/vision_model.onnx`);
    expect(cut.message).toContain(`delete the folder ${cached}`);
    // what did arrive is intact; the cut file is not there at all (no partial, no temporary file)
    const names = expectCleanCache(cached);
    expect(names).not.toContain('onnx/vision_model.onnx');
    expect(names).not.toContain(DOWNLOAD_MARKER);

    // hub unreachable: fails (quickly), naming the folder to delete
    await stopHub();
    const t0 = Date.now();
    const offline = await failure(loadEmbedder(ID, config()));
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(offline.code).toBe('MODEL_NOT_FOUND');
    expect(offline.message).toContain(`delete the folder ${cached}`);
    expect(offline.details.delete).toBe(cached);

    // downloads off (LOOKALIKE_OFFLINE): the same
    const off = await failure(loadEmbedder(ID, config({ allowDownloads: false })));
    expect(off.code).toBe('MODEL_NOT_FOUND');
    expect(off.message).toContain(`delete the folder ${cached}`);

    // hub back: the next load downloads only what is missing and completes the cache
    const back = await serve();
    const events: DownloadProgress[] = [];
    const e = await loadEmbedder(ID, config(), { onDownloadProgress: (p) => events.push(p) });
    try {
      expect(e.spec.id).toBe(`clip:${ID}`);
      const [blue] = await e.embedTexts!(['blue']);
      expect(argmax(blue!)).toBe(4);
    } finally {
      await e.dispose();
    }
    expect(back.requests).toContain(`/${ID}/resolve/main/onnx/vision_model.onnx`);
    for (const f of ['tokenizer.json', 'onnx/text_model.onnx']) expect(back.requests).not.toContain(`/${ID}/resolve/main/${f}`);
    expect(events.find((p) => p.file === 'onnx/vision_model.onnx' && p.done)).toMatchObject({ loaded: size, total: size });
    const after = expectCleanCache(cached);
    expect(after).toContain('onnx/vision_model.onnx');
    expect(after).toContain(DOWNLOAD_MARKER);
  });

  it('404: MODEL_NOT_FOUND with the URL tried (unknown repository, and a repository missing a file)', { timeout: 60_000 }, async () => {
    // a copy of the fixture without its tokenizer
    const partial = tmpDir('lookalike-hub-repo-');
    fs.cpSync(requireShared(COLOR_CLIP), partial, { recursive: true });
    fs.rmSync(path.join(partial, 'tokenizer.json'), { force: true });
    const h = await serve({ [ID]: COLOR_CLIP, 'someone/clip-without-tokenizer': partial });

    const missing = await failure(loadEmbedder('nobody/no-such-model', config()));
    expect(missing.code).toBe('MODEL_NOT_FOUND');
    const url = `${h.url}/nobody/no-such-model/resolve/main/config.json`;
    expect(missing.message).toContain(`tried ${url}`);
    expect(missing.details.url).toBe(url);

    const noTokenizer = await failure(loadEmbedder('someone/clip-without-tokenizer', config()));
    expect(noTokenizer.code).toBe('MODEL_NOT_FOUND');
    expect(noTokenizer.message).toContain(`${h.url}/someone/clip-without-tokenizer/resolve/main/tokenizer.json`);
  });
});
