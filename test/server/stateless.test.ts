/**
 * Issue 16.3: stateless API servers on PostgreSQL — the originals of uploads live in the database, so two servers on
 * one database answer the same: upload through one, thumbnail, original and region search through the other;
 * deleting the item (or the collection) deletes the kept original.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase, type LookalikeDatabase } from '../../src/lookalike.js';
import { buildServer } from '../../src/server/app.js';
import { freshPostgresDb, SAMPLES, tmpDir } from '../helpers.js';
import { multipart } from './fixtures.js';

describe('two API servers on one PostgreSQL database', () => {
  let url: string;
  let dbs: LookalikeDatabase[] = [];
  let apps: FastifyInstance[] = [];
  const uploads = tmpDir('lookalike-no-uploads-'); // must stay empty: nothing is kept on a server's disk

  beforeAll(async () => {
    url = await freshPostgresDb(inject('pgUrl'));
    dbs = [await openDatabase(url, { threads: 1, uploadsDir: uploads }), await openDatabase(url, { threads: 1, uploadsDir: uploads })];
    await (await dbs[0]!.collection('shared', { model: 'color-histogram' })).close();
    apps = [await buildServer({ db: dbs[0]! }), await buildServer({ db: dbs[1]! })];
  }, 60_000);
  afterAll(async () => {
    for (const a of apps) await a.close();
    for (const d of dbs) await d.close();
  });

  it('upload through one, read through the other; deletes clean up the database', async () => {
    const file = path.join(SAMPLES, 'daisy', fs.readdirSync(path.join(SAMPLES, 'daisy'))[0]!);
    const mp = await multipart({ image: { name: 'daisy.jpg', bytes: fs.readFileSync(file) } });
    const added = await apps[0]!.inject({ method: 'POST', url: '/v1/collections/shared/items', ...mp });
    expect(added.statusCode, added.body).toBe(200);
    const { id, path: kept } = (added.json() as { added: { id: string; path: string }[] }).added[0]!;
    expect(kept).toMatch(/^lookalike-upload:/);
    expect(fs.readdirSync(uploads)).toEqual([]);

    const thumb = await apps[1]!.inject(`/v1/collections/shared/items/${id}/thumbnail?size=64`);
    expect(thumb.statusCode).toBe(200);
    expect(thumb.headers['content-type']).toBe('image/jpeg');
    const original = await apps[1]!.inject(`/v1/collections/shared/items/${id}/image`);
    expect(original.statusCode).toBe(200);
    expect(Buffer.compare(original.rawPayload, fs.readFileSync(file))).toBe(0);
    const region = await apps[1]!.inject({ method: 'POST', url: '/v1/collections/shared/search', payload: { id, crop: { x: 0, y: 0, w: 0.5, h: 0.5 }, k: 1 } });
    expect(region.statusCode, region.body).toBe(200);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const count = async () => Number((await client.query('SELECT count(*) AS n FROM lookalike_uploads')).rows[0].n);
      expect(await count()).toBe(1);
      expect((await apps[1]!.inject({ method: 'DELETE', url: `/v1/collections/shared/items/${id}` })).statusCode).toBe(200);
      expect(await count()).toBe(0);
      const again = await apps[0]!.inject({ method: 'POST', url: '/v1/collections/shared/items', ...mp });
      expect(again.statusCode).toBe(200);
      expect(await count()).toBe(1);
      expect((await apps[1]!.inject({ method: 'DELETE', url: '/v1/collections/shared' })).statusCode).toBe(200);
      expect(await count()).toBe(0);
    } finally {
      await client.end();
    }
  });
});
