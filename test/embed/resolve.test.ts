import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEmbedder } from '../../src/embed/registry.js';
import { resolveModel } from '../../src/embed/resolve.js';
import { isLookalikeError } from '../../src/errors.js';
import { COLOR_CLIP, ROOT, requireShared, tmpDir } from '../helpers.js';

const offline = { modelPaths: [], cacheDir: '/nonexistent-cache', allowDownloads: false };

describe('model resolution', () => {
  it('finds built-in models in the package', () => {
    const r = resolveModel('mobilenet-v1', offline);
    expect(r.location).toEqual({ type: 'local', dir: path.join(ROOT, 'models', 'mobilenet-v1-imagenet') });
  });

  it('takes folder paths as they are', () => {
    const r = resolveModel(requireShared(COLOR_CLIP), offline);
    expect(r.location).toEqual({ type: 'local', dir: COLOR_CLIP });
  });

  it('finds Hugging Face ids in LOOKALIKE_MODELS folders (owner/name or name)', () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, 'Xenova', 'clip-vit-base-patch32'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'Xenova', 'clip-vit-base-patch32', 'config.json'), '{"model_type":"clip"}');
    const r = resolveModel('clip-vit-base-patch32', { ...offline, modelPaths: [dir] });
    expect(r.location).toEqual({ type: 'local', dir: path.join(dir, 'Xenova', 'clip-vit-base-patch32') });
  });

  it('offline and missing: MODEL_NOT_FOUND that lists where it looked and how to provide the files', () => {
    let err: unknown;
    try {
      resolveModel('Xenova/clip-vit-base-patch32', { ...offline, modelPaths: ['/opt/models'] });
    } catch (e) {
      err = e;
    }
    expect(isLookalikeError(err, 'MODEL_NOT_FOUND')).toBe(true);
    const msg = (err as Error).message;
    expect(msg).toContain('/opt/models/Xenova/clip-vit-base-patch32');
    expect(msg).toContain('/nonexistent-cache/Xenova/clip-vit-base-patch32');
    expect(msg).toContain('LOOKALIKE_MODELS');
  });

  it('downloads allowed but no network: a clear error, quickly, never a hang', async () => {
    const t0 = Date.now();
    const err = await loadEmbedder('someone/not-a-real-model', {
      modelPaths: [],
      cacheDir: tmpDir(),
      allowDownloads: true,
      downloadTimeoutMs: 5000,
    }).catch((e: unknown) => e);
    expect(isLookalikeError(err, 'MODEL_NOT_FOUND')).toBe(true);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('unknown names: UNKNOWN_MODEL naming the built-in models', () => {
    expect(() => resolveModel('no-such-model', offline)).toThrow(/mobilenet-v1/);
  });
});

describe('hub downloads', () => {
  it('give up when the hub does not answer, but let a started download take its time', async () => {
    const { createServer } = await import('node:http');
    const { fetchWithTimeout } = await import('../../src/embed/hf.js');
    const server = createServer((req, res) => {
      if (req.url === '/silent') return; // never answers
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write('first part…');
      setTimeout(() => res.end('…rest'), 600); // body slower than the timeout
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      const t0 = Date.now();
      await expect(fetchWithTimeout(`http://127.0.0.1:${port}/silent`, undefined, 300)).rejects.toThrow();
      expect(Date.now() - t0).toBeLessThan(3000);
      const res = await fetchWithTimeout(`http://127.0.0.1:${port}/slow`, undefined, 300);
      expect(await res.text()).toBe('first part……rest');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
