import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { classOf, COLOR_CLIP, QUERIES, requireShared, SAMPLES, tmpDir } from '../helpers.js';
import { cli, requireBuiltCli } from './run.js';

describe('CLI (the README workflow, JSON contracts)', () => {
  const db = path.join(tmpDir(), 'db');
  const query = path.join(QUERIES, fs.readdirSync(QUERIES).find((f) => f.startsWith('daisy'))!);

  beforeAll(requireBuiltCli);

  it('index --json prints exactly the documented object', async () => {
    const r = await cli(['index', SAMPLES, '--db', db, '--collection', 'photos', '--model', 'mobilenet-v1', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ added: 96, updated: 0, unchanged: 0, removed: 0, failed: 0, failures: [], warnings: [] });
    const again = await cli(['index', SAMPLES, '--db', db, '--collection', 'photos', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ added: 0, unchanged: 96 });
  });

  it('search --json: results best first with id, path, score, metadata', async () => {
    const r = await cli(['search', '--db', db, '--collection', 'photos', '--image', query, '-k', '10', '--json']);
    expect(r.code).toBe(0);
    const { results } = JSON.parse(r.stdout) as { results: { id: string; path: string; score: number; metadata: object }[] };
    expect(results).toHaveLength(10);
    for (const h of results) {
      expect(Object.keys(h).sort()).toEqual(['id', 'metadata', 'path', 'score']);
      expect(h.score).toBeGreaterThan(0);
      expect(h.score).toBeLessThanOrEqual(1.0000001);
    }
    for (let i = 1; i < results.length; i++) expect(results[i - 1]!.score).toBeGreaterThanOrEqual(results[i]!.score);
    expect(classOf(results[0]!.path)).toBe('daisy');

    const byId = await cli(['search', '--db', db, '--collection', 'photos', '--id', results[0]!.id, '-k', '3', '--json']);
    const ids = (JSON.parse(byId.stdout) as { results: { id: string }[] }).results.map((h) => h.id);
    expect(ids).toHaveLength(3);
    expect(ids).not.toContain(results[0]!.id);

    const min = await cli(['search', '--db', db, '--collection', 'photos', '--image', query, '--min-score', '2', '--json']);
    expect(JSON.parse(min.stdout)).toEqual({ results: [] });
  });

  it('search prints a ranked table for people', async () => {
    const r = await cli(['search', '--db', db, '--collection', 'photos', '--image', query, '-k', '3']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\s+1\s+0\.\d{4}\s+\S+daisy\S+\.jpg$/);
  });

  it("info --json prints the library's CollectionInfo whole (11.6: modalities and createdAt were dropped)", async () => {
    const r = await cli(['info', '--db', db, '--collection', 'photos', '--json']);
    const info = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ collection: 'photos', count: 96, model: 'mobilenet-v1', dimension: 1024, metric: 'cosine' });
    expect(info).toMatchObject({ embedder: 'mobilenet-v1', vectorType: 'float32', modalities: ['image'], index: { type: 'flat' }, bytesPerVector: 4096 });
    expect(Date.parse(info.createdAt as string)).not.toBeNaN();
  });

  it('errors: clear message, error code, non-zero exit, no stack trace', async () => {
    const text = await cli(['search', '--db', db, '--collection', 'photos', '--text', 'yellow']);
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/embeds images only.*CLIP/s);
    expect(text.stderr).toContain('TEXT_NOT_SUPPORTED');
    const missing = await cli(['info', '--db', db, '--collection', 'nope']);
    expect(missing.stderr).toMatch(/No collection "nope".*Collections: photos/s);
    const both = await cli(['search', '--db', db, '--collection', 'photos']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give a query: --image FILE, --text TEXT or --id ID/);
    const model = await cli(['index', SAMPLES, '--db', db, '--collection', 'other', '--model', 'Xenova/clip-vit-base-patch32'], {
      LOOKALIKE_OFFLINE: '1',
      LOOKALIKE_CACHE: tmpDir(),
    });
    expect(model.code).toBe(1);
    expect(model.stderr).toMatch(/not found[\s\S]*Looked in[\s\S]*LOOKALIKE_MODELS/);
    for (const r of [text, missing, both, model]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('text search with a CLIP-family model: "yellow" finds yellow flowers first (color-clip fixture)', async () => {
    const idx = await cli(['index', SAMPLES, '--db', db, '--collection', 'colors', '--model', requireShared(COLOR_CLIP), '--json']);
    expect(JSON.parse(idx.stdout)).toMatchObject({ added: 96, failed: 0 });
    const r = await cli(['search', '--db', db, '--collection', 'colors', '--text', 'yellow', '-k', '5', '--json']);
    const classes = (JSON.parse(r.stdout) as { results: { path: string }[] }).results.map((h) => classOf(h.path));
    expect(classes).toHaveLength(5);
    for (const c of classes) expect(['buttercup', 'colts-foot', 'dandelion', 'sunflower']).toContain(c);
  });

  it('eval --json and compare --json print the documented objects; compare writes a self-contained report', async () => {
    const r = await cli(['eval', SAMPLES, '--model', 'color-histogram', '--json']);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout) as Record<string, unknown>;
    // every field of the library's result (new ones flow through) but the sample queries
    expect(Object.keys(e)).toEqual(expect.arrayContaining(['failed', 'images', 'imagesPerSecond', 'map', 'mapAt10', 'model', 'precisionAt', 'queries']));
    expect(e).not.toHaveProperty('samples');
    expect(e.failed).toBe(0);
    expect(e).toMatchObject({ model: 'color-histogram', images: 96, queries: 96 });
    expect(Object.keys(e.precisionAt as object).sort()).toEqual(['1', '10', '5']);

    const out = path.join(tmpDir(), 'report.html');
    const c = await cli(['compare', SAMPLES, '--models', 'pixels,phash', '--out', out, '--samples', '2', '--json']);
    expect(c.code).toBe(0);
    const { results, report } = JSON.parse(c.stdout) as { results: Record<string, unknown>[]; report: string };
    expect(results.map((x) => x.model)).toEqual(['pixels', 'phash']);
    for (const x of results) expect(x).not.toHaveProperty('samples');
    expect(report).toBe(out);
    const html = fs.readFileSync(out, 'utf8');
    expect(html).toContain('<table>');
    expect(html.match(/data:image\/jpeg;base64,/g)!.length).toBeGreaterThanOrEqual(2 * (1 + 2 * 5));
    expect(html).not.toMatch(/src="(?!data:)/); // no external resources
  });
});
