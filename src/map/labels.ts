/**
 * Zero-shot words for clusters of a collection whose model embeds text (CLIP): every sampled member is classified
 * against a small built-in vocabulary, one category at a time (colours, things, scenes: softmax over the category's
 * prompts, CLIP's logit scale), and each cluster gets the best word of each category that is both likely in it and
 * more likely in it than in the whole collection.
 */
import { unit } from './pca.js';

export interface VocabularyWord {
  readonly word: string;
  readonly prompt: string;
}

const colour = (c: string): VocabularyWord => ({ word: c, prompt: `a photo that is mostly ${c}` });
const thing = (w: string, article = 'a'): VocabularyWord => ({ word: w, prompt: `a photo of ${article ? `${article} ` : ''}${w}` });
const scene = (word: string, prompt: string): VocabularyWord => ({ word, prompt });

/** The built-in vocabulary, by category. */
export const VOCABULARY: Readonly<Record<'colours' | 'things' | 'scenes', readonly VocabularyWord[]>> = {
  colours: ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'white', 'black', 'gray', 'brown'].map(colour),
  things: [
    ...['person', 'dog', 'cat', 'bird', 'horse', 'cow', 'sheep', 'deer', 'frog', 'fish', 'insect', 'butterfly'].map((w) => thing(w)),
    ...['car', 'truck', 'bus', 'bicycle', 'motorcycle', 'airplane', 'ship', 'boat', 'train'].map((w) => thing(w)),
    ...['flower', 'tree', 'plant', 'fruit', 'building', 'house', 'bridge', 'road', 'mountain', 'lake', 'river'].map((w) => thing(w)),
    ...['chair', 'table', 'bed', 'book', 'bottle', 'cup', 'computer', 'phone', 'toy', 'shoe', 'bag', 'sign', 'painting'].map((w) => thing(w)),
    thing('people', ''),
    thing('food', ''),
    thing('clothing', ''),
    thing('text', ''),
  ],
  scenes: [
    scene('indoors', 'a photo taken indoors'),
    scene('outdoors', 'a photo taken outdoors'),
    scene('city', 'a photo of a city street'),
    scene('forest', 'a photo of a forest'),
    scene('field', 'a photo of a field or meadow'),
    scene('garden', 'a photo of a garden'),
    scene('beach', 'a photo of a beach'),
    scene('sea', 'a photo of the sea'),
    scene('mountains', 'a photo of mountains'),
    scene('snow', 'a photo of snow'),
    scene('sky', 'a photo of the sky'),
    scene('night', 'a photo taken at night'),
    scene('sunset', 'a photo of a sunset'),
    scene('underwater', 'an underwater photo'),
    scene('close-up', 'a close-up photo'),
    scene('portrait', 'a portrait photo of a person'),
    scene('landscape', 'a landscape photo'),
    scene('kitchen', 'a photo of a kitchen'),
    scene('room', 'a photo of a room'),
    scene('document', 'a scan of a document'),
  ],
};

/** CLIP's learnt logit scale (softmax temperature 1/100). */
const LOGIT_SCALE = 100;
/** A word is kept when at least this share of the cluster is classified as it… */
const MIN_SHARE = 0.25;
/** …and it is at least this much more likely in the cluster than in the whole collection… */
const MIN_LIFT = 1.1;
/** …or when it describes most of the cluster anyway (a collection of flowers: every cluster is "flower"). */
const DOMINANT_SHARE = 0.6;
/** Most words per cluster. */
export const MAX_LABELS = 3;

export interface TextVocabulary {
  readonly categories: readonly { readonly words: readonly string[]; readonly vectors: readonly Float32Array[] }[];
}

/** Embed the vocabulary's prompts (words whose prompt embeds to a zero or broken vector are left out). */
export async function embedVocabulary(embedTexts: (t: readonly string[]) => Promise<Float32Array[]>): Promise<TextVocabulary> {
  const categories: { words: string[]; vectors: Float32Array[] }[] = [];
  for (const words of Object.values(VOCABULARY)) {
    const vecs = await embedTexts(words.map((w) => w.prompt));
    const keep = { words: [] as string[], vectors: [] as Float32Array[] };
    vecs.forEach((v, i) => {
      const u = unit(v);
      let s = 0;
      for (const x of u) s += x * x;
      if (Number.isFinite(s) && s > 0.5) {
        keep.words.push(words[i]!.word);
        keep.vectors.push(u);
      }
    });
    if (keep.words.length > 1) categories.push(keep);
  }
  return { categories };
}

/** Mean per-category word probabilities of a set of image vectors (one array per category). */
export function wordShares(vocab: TextVocabulary, images: readonly Float32Array[]): Float64Array[] {
  return vocab.categories.map((cat) => {
    const share = new Float64Array(cat.words.length);
    const logits = new Float64Array(cat.words.length);
    for (const raw of images) {
      const v = unit(raw);
      let max = -Infinity;
      cat.vectors.forEach((t, w) => {
        let s = 0;
        for (let j = 0; j < v.length; j++) s += v[j]! * t[j]!;
        logits[w] = LOGIT_SCALE * s;
        if (logits[w]! > max) max = logits[w]!;
      });
      let z = 0;
      for (let w = 0; w < logits.length; w++) z += Math.exp(logits[w]! - max);
      for (let w = 0; w < logits.length; w++) share[w]! += Math.exp(logits[w]! - max) / z / images.length;
    }
    return share;
  });
}

/**
 * Words for each cluster from its members' shares (`shares[c][category][word]`) and the clusters' sizes: per category
 * the cluster's most likely word when it passes the share and lift thresholds (or dominates the cluster); ordered by share × log₂(1 + lift).
 */
export function pickLabels(vocab: TextVocabulary, shares: readonly Float64Array[][], sizes: readonly number[]): string[][] {
  const total = sizes.reduce((a, b) => a + b, 0) || 1;
  const overall = vocab.categories.map((cat, ci) => {
    const o = new Float64Array(cat.words.length);
    shares.forEach((s, c) => s[ci]!.forEach((p, w) => (o[w]! += (p * sizes[c]!) / total)));
    return o;
  });
  return shares.map((s) => {
    const found: { word: string; score: number }[] = [];
    vocab.categories.forEach((cat, ci) => {
      const p = s[ci]!;
      let best = 0;
      for (let w = 1; w < p.length; w++) if (p[w]! > p[best]!) best = w;
      const lift = p[best]! / Math.max(overall[ci]![best]!, 1e-12);
      if ((p[best]! >= MIN_SHARE && lift >= MIN_LIFT) || p[best]! >= DOMINANT_SHARE) found.push({ word: cat.words[best]!, score: p[best]! * Math.log2(1 + lift) });
    });
    return found
      .sort((a, b) => b.score - a.score)
      .slice(0, MAX_LABELS)
      .map((f) => f.word);
  });
}
