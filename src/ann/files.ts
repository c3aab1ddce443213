import fs from 'node:fs';
import path from 'node:path';

/**
 * The files a derived index keeps beside the store (`<db>/indexes/<collection id>-<name>`), written atomically
 * (temp file + rename), each with a JSON sidecar describing what it reflects (the store generation, parameters).
 * A sidecar that does not match what the caller expects means "rebuild".
 */
export class DerivedFiles {
  constructor(
    readonly dir: string,
    readonly prefix: string,
  ) {}

  path(name: string): string {
    return path.join(this.dir, `${this.prefix}-${name}`);
  }

  /** The sidecar of `name` when it exists and `accept` says it is current, else undefined. */
  readMeta<T>(name: string, accept: (meta: T) => boolean): T | undefined {
    try {
      const meta = JSON.parse(fs.readFileSync(this.path(name) + '.json', 'utf8')) as T;
      return accept(meta) && fs.existsSync(this.path(name)) ? meta : undefined;
    } catch {
      return undefined;
    }
  }

  /** Write `name` (by a writer that takes a temporary path, e.g. usearch's `save`) and then its sidecar. */
  write(name: string, writeTo: (tmp: string) => void, meta: object): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const file = this.path(name);
    const tmp = `${file}.tmp-${process.pid}`;
    writeTo(tmp);
    fs.renameSync(tmp, file);
    fs.writeFileSync(`${tmp}.json`, JSON.stringify(meta));
    fs.renameSync(`${tmp}.json`, `${file}.json`);
  }

  /** Delete every file of this prefix (a changed index spec, a dropped collection). */
  removeAll(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    for (const n of names) if (n.startsWith(`${this.prefix}-`)) fs.rmSync(path.join(this.dir, n), { force: true });
  }
}
