/**
 * How a tuned collection is stored. What `tune` learns lives in a companion collection of the same store,
 * `<name>#tune-a` or `<name>#tune-b` (names users cannot give; never listed; dropped with the collection): its spec
 * carries the tuning (`spec.tuning`: the transform and/or the calibration), and when there is a transform it holds
 * every item's transformed vector (with the item's path and metadata, so filters work there), in an index of its
 * own. The collection itself keeps the raw vectors, so tuning can always be learnt again or removed.
 *
 * `TunedStore` wraps the two as one `StoreCollection`: writes go to both (the companion first, as with tiles),
 * `search` takes raw query vectors and searches the companion with the transformed query; reads of items and
 * vectors (`get`, `getVector`, `scanVectors`…) see the raw collection. Re-learning builds the other companion name
 * from scratch (a new collection: new index, new generation) and drops the old one only when the new one is
 * complete, so a crash in between leaves the old tuning in force (the older companion wins while both exist).
 */
import { checkVector } from '../store/spec.js';
import type { ItemInput, StoreCollection, VectorSearchOptions, VectorStore } from '../store/types.js';
import { Calibration } from './calibrate.js';
import type { SearchSpace } from './rerank.js';
import { createError, isLookalikeError, type LookalikeError } from '../errors.js';
import { TUNING_VERSION, TuningSpecSchema, type TuningSpec } from './schema.js';
import { LinearTransform } from './transform.js';

export const TUNE_SUFFIXES = ['#tune-a', '#tune-b'] as const;
export const tuneCollectionNames = (name: string): [string, string] => [`${name}${TUNE_SUFFIXES[0]}`, `${name}${TUNE_SUFFIXES[1]}`];

/** A companion together with its compiled tuning. */
export interface TuneCompanion {
  readonly collection: StoreCollection;
  readonly tuning: TuningSpec;
  readonly transform: LinearTransform | undefined;
  readonly calibration: Calibration | undefined;
}

/**
 * The tuning a companion carries, compiled; undefined when it carries none. A tuning this version cannot read (another
 * format version, damaged) is `STORE_CORRUPT` with what to do.
 */
export function compileCompanion(collection: StoreCollection): TuneCompanion | undefined {
  const stored = collection.spec.tuning;
  if (!stored) return undefined;
  const name = collection.spec.name.replace(/#tune-[ab]$/u, '');
  const parsed = TuningSpecSchema.safeParse(stored);
  if (!parsed.success) {
    const why = stored.version !== TUNING_VERSION ? `format version ${stored.version}; this lookalike reads version ${TUNING_VERSION}` : 'unreadable';
    throw createError(
      'STORE_CORRUPT',
      `The tuning of collection "${name}" cannot be used (${why}). Learn it again with this version (\`lookalike tune ${name} --whiten\`, ` +
        `or --labels-from-folders / --calibrate), or remove it: \`lookalike tune ${name} --reset\`.`,
      { name },
    );
  }
  const tuning = parsed.data;
  return {
    collection,
    tuning,
    transform: tuning.transform ? new LinearTransform(tuning.transform) : undefined,
    calibration: tuning.calibration ? new Calibration(tuning.calibration) : undefined,
  };
}

/**
 * `main` wrapped with the tuning in force (the older companion when a re-learn was interrupted). A tuning that cannot
 * be read does not stop the collection from opening: searches and writes report it, and `tune` can replace it.
 */
export async function openTuned(store: VectorStore, main: StoreCollection): Promise<TunedStore> {
  const found: StoreCollection[] = [];
  for (const name of tuneCollectionNames(main.spec.name)) {
    if (await store.hasCollection(name)) found.push(await store.getCollection(name));
  }
  found.sort((a, b) => (a.spec.createdAt < b.spec.createdAt ? -1 : a.spec.createdAt > b.spec.createdAt ? 1 : 0));
  try {
    return new TunedStore(main, store, found.length ? compileCompanion(found[0]!) : undefined);
  } catch (e) {
    if (!isLookalikeError(e)) throw e;
    return new TunedStore(main, store, undefined, e);
  }
}

/** A collection that can be tuned: the raw collection, its store (to create companions), and the tuning in force. */
export class TunedStore implements StoreCollection {
  #companion: TuneCompanion | undefined;

  #broken: LookalikeError | undefined;

  constructor(
    readonly main: StoreCollection,
    readonly store: VectorStore,
    companion: TuneCompanion | undefined,
    /** Why the stored tuning cannot be used (reported by searches and writes until `tune` replaces it). */
    broken?: LookalikeError,
  ) {
    this.#companion = companion;
    this.#broken = broken;
  }

  get spec() {
    return this.main.spec;
  }
  /** The tuning in force, or undefined. */
  get companion(): TuneCompanion | undefined {
    return this.#companion;
  }
  /** @internal — `tune` swaps companions when it has built a new one. */
  setCompanion(c: TuneCompanion | undefined): void {
    this.#companion = c;
    this.#broken = undefined;
  }

  /** The transform's companion when there is one (writes and searches go through it). */
  get #transformed(): (TuneCompanion & { transform: LinearTransform }) | undefined {
    if (this.#broken) throw this.#broken;
    const c = this.#companion;
    return c?.transform ? (c as TuneCompanion & { transform: LinearTransform }) : undefined;
  }

  /** A raw query vector in the space the collection scores in. */
  toSpace(v: Float32Array): Float32Array {
    const t = this.#transformed;
    return t ? t.transform.apply(v) : v;
  }

  /** Searching and reading vectors in the scoring space (for re-ranking and calibration). */
  get space(): SearchSpace {
    const t = this.#transformed;
    const c = t ? t.collection : this.main;
    return { search: (q, o) => c.search(q, o), vectors: (ids) => c.getVectors(ids) };
  }

  async upsert(items: readonly ItemInput[]) {
    const t = this.#transformed;
    if (t) {
      for (const it of items) checkVector(it.vector, this.main.spec.dimension, `vector of item "${it.id}"`);
      await t.collection.upsert(items.map((it) => ({ ...it, vector: t.transform.apply(it.vector) })));
    }
    return this.main.upsert(items);
  }
  // reads see the raw collection
  readonly touchFiles: StoreCollection['touchFiles'] = (states) => this.main.touchFiles(states);
  readonly get: StoreCollection['get'] = (id) => this.main.get(id);
  readonly getVector: StoreCollection['getVector'] = (id) => this.main.getVector(id);
  readonly getVectors: StoreCollection['getVectors'] = (ids) => this.main.getVectors(ids);
  readonly scanVectors: StoreCollection['scanVectors'] = (batchSize) => this.main.scanVectors(batchSize);
  readonly scanItems: StoreCollection['scanItems'] = (batchSize) => this.main.scanItems(batchSize);
  readonly count: StoreCollection['count'] = () => this.main.count();
  /** The raw collection's (what `getVector`/`scanVectors` read); `tune` builds a new companion with its own. */
  readonly generation: StoreCollection['generation'] = () => this.main.generation();
  readonly fileStates: StoreCollection['fileStates'] = (paths) => this.main.fileStates(paths);
  readonly sampleIds: StoreCollection['sampleIds'] = (n) => this.main.sampleIds(n);
  readonly metadataSummary: StoreCollection['metadataSummary'] = (opts) => this.main.metadataSummary(opts);

  async delete(ids: readonly string[]): Promise<number> {
    const t = this.#transformed;
    if (t) await t.collection.delete(ids);
    return this.main.delete(ids);
  }
  async setIndex(...[index, vectorType]: Parameters<StoreCollection['setIndex']>): Promise<void> {
    await this.main.setIndex(index, vectorType);
    const t = this.#transformed;
    if (t) await t.collection.setIndex(companionIndex(index, t.transform.outputDimension), vectorType);
  }
  /** Raw query vectors; a transformed collection searches its companion with the transformed query. */
  search(query: Float32Array, opts: VectorSearchOptions) {
    const t = this.#transformed;
    return t ? t.collection.search(t.transform.apply(query), opts) : this.main.search(query, opts);
  }
}

/** The collection's index for its companion: a random projection must stay below the companion's dimension. */
export function companionIndex<I extends Parameters<StoreCollection['setIndex']>[0]>(index: I, dimension: number): I {
  if (index.type === 'flat' && index.projection !== undefined && index.projection >= dimension) {
    const { projection: _p, ...rest } = index;
    return rest as I;
  }
  return index;
}
