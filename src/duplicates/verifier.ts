/**
 * Verification of candidate pairs of stored items: reads their files (once per image: features are cached), treats
 * equal content hashes as identical, and remembers every verdict so each pair is verified once.
 */
import fs from 'node:fs/promises';
import type { ImageInput } from '../image/decode.js';
import type { Item } from '../store/types.js';
import { imageFeatures, verifyPair, type ImageFeatures, type Verdict, type VerifyOptions } from './verify.js';

export interface PairVerdict {
  readonly match: boolean;
  readonly how: 'identical' | 'geometry' | 'mirrored' | 'none';
  readonly inliers: number;
}

/** Images whose features are kept at once (≈ 30 KB each). */
const FEATURE_CACHE = 4000;

export class PairVerifier {
  verified = 0;
  rejected = 0;
  readonly #verdicts = new Map<string, { verdict: PairVerdict | null; mirrorTried: boolean }>();
  readonly #features = new Map<string, Promise<ImageFeatures | null>>();

  constructor(
    readonly options: VerifyOptions,
    readonly maxPixels: number,
  ) {}

  /** Features of an image given as bytes (a query image), not cached. */
  static async featuresOf(bytes: Uint8Array, maxPixels: number): Promise<ImageFeatures> {
    return imageFeatures(bytes, maxPixels);
  }

  /** Features of a stored item's file, or null when it has none or it cannot be read or decoded. */
  features(item: Item): Promise<ImageFeatures | null> {
    const key = item.id;
    let f = this.#features.get(key);
    if (f) {
      // least recently used goes first: move to the end
      this.#features.delete(key);
      this.#features.set(key, f);
      return f;
    }
    const path = item.path;
    f = path === null ? Promise.resolve(null) : loadFeatures(path, this.maxPixels);
    this.#features.set(key, f);
    if (this.#features.size > FEATURE_CACHE) this.#features.delete(this.#features.keys().next().value!);
    return f;
  }

  /**
   * Whether two stored items are duplicates by their pixels; null when one of them cannot be read. `mirrored: false`
   * skips the mirrored attempt (the caller's scores say a flipped copy is unlikely); it is made later if asked for.
   * `colour: false` matches the geometry only.
   */
  async verify(x: Item, y: Item, mirrored = true, colour = true): Promise<PairVerdict | null> {
    const [a, b] = x.id <= y.id ? [x, y] : [y, x]; // one order per pair: symmetric and deterministic
    const key = `${a.id}\n${b.id}\n${colour}`;
    const known = this.#verdicts.get(key);
    if (known && (known.mirrorTried || !mirrored || known.verdict?.match !== false)) return known.verdict;
    let verdict: PairVerdict | null;
    const tryMirror = mirrored && this.options.mirrored !== false;
    if (a.contentHash !== null && a.contentHash === b.contentHash) verdict = { match: true, how: 'identical', inliers: 0 };
    else {
      const [fa, fb] = await Promise.all([this.features(a), this.features(b)]);
      verdict = fa && fb ? asPairVerdict(await verifyPair(fa, fb, { ...this.options, mirrored: tryMirror, ...(colour ? {} : { colour: false }) })) : null;
    }
    this.#verdicts.set(key, { verdict, mirrorTried: tryMirror });
    if (verdict && !known) {
      if (verdict.match) this.verified++;
      else this.rejected++;
    } else if (verdict?.match && known) {
      this.verified++;
      this.rejected--;
    }
    return verdict;
  }

  /** A query image (its features) against a stored item. */
  async verifyQuery(query: ImageFeatures, item: Item): Promise<PairVerdict | null> {
    const f = await this.features(item);
    return f ? asPairVerdict(await verifyPair(query, f, this.options)) : null;
  }
}

function asPairVerdict(v: Verdict): PairVerdict {
  return { match: v.match, how: v.how, inliers: v.inliers };
}

async function loadFeatures(path: string, maxPixels: number): Promise<ImageFeatures | null> {
  const read = (): Promise<ImageInput> => fs.readFile(path);
  try {
    return await imageFeatures(await read(), maxPixels, read);
  } catch {
    return null; // moved, deleted, unreadable or not decodable: the pair falls back to the score rule
  }
}
