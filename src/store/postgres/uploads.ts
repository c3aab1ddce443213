/**
 * Originals of uploaded images kept in PostgreSQL (`lookalike_uploads`, bytea), so that any number of API servers
 * on one database answer the same thumbnails and originals — nothing lives on one server's disk. An item's path is
 * `lookalike-upload:<collection uid>/<content hash>.<ext>`.
 */
import type { CollectionSpec, UploadStorage } from '../types.js';
import type { RetryingPool } from './pool.js';

type Owner = Pick<CollectionSpec, 'name' | 'uid' | 'createdAt'>;
const SCHEME = 'lookalike-upload:';

export const UPLOADS_DDL = `CREATE TABLE IF NOT EXISTS lookalike_uploads (
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  bytes BYTEA NOT NULL,
  added TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (owner, name)
)`;

const ownerKey = (o: Owner): string => o.uid ?? `${o.name}@${o.createdAt}`;

function parse(path: string | null): { owner: string; name: string } | undefined {
  if (!path?.startsWith(SCHEME)) return undefined;
  const rest = path.slice(SCHEME.length);
  const slash = rest.lastIndexOf('/');
  return slash > 0 ? { owner: rest.slice(0, slash), name: rest.slice(slash + 1) } : undefined;
}

export class PgUploadStorage implements UploadStorage {
  constructor(private readonly db: RetryingPool) {}

  async keep(owner: Owner, bytes: Uint8Array, contentHash: string, ext: string): Promise<string> {
    const name = `${contentHash.slice(0, 32)}.${ext}`;
    await this.db.query(`INSERT INTO lookalike_uploads (owner, name, bytes) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [
      ownerKey(owner),
      name,
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    ]);
    return `${SCHEME}${ownerKey(owner)}/${name}`;
  }

  owns(owner: Owner, path: string | null): path is string {
    return parse(path)?.owner === ownerKey(owner);
  }

  async read(owner: Owner, path: string): Promise<Uint8Array | undefined> {
    const p = parse(path);
    if (!p || p.owner !== ownerKey(owner)) return undefined;
    const r = await this.db.query<{ bytes: Buffer }>(`SELECT bytes FROM lookalike_uploads WHERE owner = $1 AND name = $2`, [p.owner, p.name]);
    return r.rows[0]?.bytes;
  }

  async release(owner: Owner, paths: readonly (string | null)[], stillUsed: (paths: string[]) => Promise<ReadonlySet<string>>): Promise<void> {
    const mine = [...new Set(paths.filter((p): p is string => this.owns(owner, p)))];
    if (mine.length === 0) return;
    const used = await stillUsed(mine);
    const names = mine.filter((p) => !used.has(p)).map((p) => parse(p)!.name);
    if (names.length) await this.db.query(`DELETE FROM lookalike_uploads WHERE owner = $1 AND name = ANY($2::text[])`, [ownerKey(owner), names]);
  }

  async dropCollection(owner: Owner): Promise<void> {
    await this.db.query(`DELETE FROM lookalike_uploads WHERE owner = $1`, [ownerKey(owner)]);
  }
}
