import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Crop } from '../../image/crop.js';
import type { Query, QueryTerm, Strategy } from '../../search/search.js';
import {
  collect,
  finiteNumber,
  inferenceOptions,
  integerIn,
  nonEmpty,
  parseWhere,
  positiveInt,
  queryKnobOptions,
  queryKnobsFrom,
  storeOptions,
  type InferenceOpts,
  type StoreOpts,
} from '../options.js';
import { Output, UsageError } from '../output.js';
import { withCollection } from '../shared.js';
import type { Reranker } from '../../tune/rerank.js';
import { parseRerank } from './tune.js';

interface SearchCliOpts extends StoreOpts, InferenceOpts {
  readonly timings?: boolean;
  readonly image: string[];
  readonly text: string[];
  readonly id: string[];
  readonly unlikeImage: string[];
  readonly unlikeText: string[];
  readonly unlikeId: string[];
  readonly strategy: Strategy;
  readonly crop?: Crop;
  readonly collapse?: number;
  readonly sort?: string;
  readonly k: number;
  readonly offset: number;
  readonly minScore?: number;
  readonly minConfidence?: number;
  readonly rerank?: Reranker;
  readonly where: string[];
  readonly model?: string;
  readonly ef?: number;
  readonly nprobe?: number;
}

type Kind = 'image' | 'text' | 'id';

/** `value` or `value:weight` (the last `:` followed by a number; anything else stays part of the value). */
export function splitWeight(raw: string, flag: string): { value: string; weight?: number } {
  const m = /^(.*):([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)$/i.exec(raw);
  if (!m || m[1] === '') return { value: raw };
  const weight = Number(m[2]);
  if (weight === 0) throw new UsageError(`${flag} "${raw}": a weight must not be 0.`);
  return { value: m[1]!, weight };
}

const term = (kind: Kind, raw: string, flag: string, sign: 1 | -1): QueryTerm => {
  const { value, weight } = splitWeight(raw, flag);
  const w = sign * (weight ?? 1);
  const base = kind === 'image' ? { image: value } : kind === 'text' ? { text: value } : { id: value };
  return w === 1 ? base : { ...base, weight: w };
};

/**
 * rclip-style terms: `photo.jpg + "in red:0.5" - blurry`. A term that names an existing file is an image, `id:X` is
 * an item id, anything else is a text; `+` / `-` before a term puts it on that side (default `+`).
 */
export function parseTermWords(words: readonly string[]): QueryTerm[] {
  const out: QueryTerm[] = [];
  let sign: 1 | -1 = 1;
  for (const w of words) {
    if (w === '+' || w === '-') {
      sign = w === '+' ? 1 : -1;
      continue;
    }
    const { value } = splitWeight(w, 'query term');
    const kind: Kind = value.startsWith('id:') ? 'id' : fs.existsSync(value) && fs.statSync(value).isFile() ? 'image' : 'text';
    out.push(term(kind, kind === 'id' ? w.slice(3) : w, 'query term', sign));
    sign = 1;
  }
  return out;
}

function parseCrop(v: string): Crop {
  const parts = v.split(',').map((x) => Number(x.trim()));
  if (parts.length !== 4 || parts.some((x) => !Number.isFinite(x))) {
    throw new UsageError(`--crop must be x,y,w,h (pixels, or fractions of the image when all are at most 1), e.g. 0.25,0.25,0.5,0.5 (got "${v}").`);
  }
  const [x, y, w, h] = parts as [number, number, number, number];
  return { x, y, w, h };
}

export function registerSearch(program: Command): void {
  const cmd = program
    .command('search')
    .description('find the most similar images in a collection (one query, or several terms: more like these, less like those)')
    .argument('[terms...]', 'rclip-style terms: an image file, id:ID or a text, each optionally :weight, separated by + or - (e.g. photo.jpg + "in red:0.5" - blurry)');
  storeOptions(cmd)
    .option('--image <file[:w]>', 'query image file, optionally with a weight (repeatable)', collect('--image'), [])
    .option('--text <text[:w]>', 'text query (CLIP-family models; repeatable)', collect('--text'), [])
    .option('--id <id[:w]>', 'id of an indexed image ("more like this"; it is excluded; repeatable)', collect('--id'), [])
    .option('--unlike-image <file[:w]>', 'less like this image (repeatable)', collect('--unlike-image'), [])
    .option('--unlike-text <text[:w]>', 'less like this text (repeatable)', collect('--unlike-text'), [])
    .option('--unlike-id <id[:w]>', 'less like this indexed image (repeatable)', collect('--unlike-id'), [])
    .option('--strategy <name>', 'how several terms combine: average (weighted mean vector) or best-score (best match to a positive, penalised near a negative)', (v: string) => {
      if (v !== 'average' && v !== 'best-score') throw new UsageError(`--strategy must be average or best-score (got "${v}").`);
      return v;
    }, 'average')
    .option('--crop <x,y,w,h>', 'search with this region of the (one) --image or --id (pixels, or fractions when all ≤ 1)', parseCrop)
    .option('--collapse <similarity>', 'fold near-duplicates: hits at least this similar to a better-ranked hit are folded into it (e.g. 0.97)', finiteNumber('--collapse'))
    .option('--sort <key>', 'order the hits scoring at least --min-score by a metadata key or path (-key: descending, e.g. -taken)', nonEmpty('--sort'))
    .option('-k, --k <n>', 'number of results', positiveInt('-k'), 10)
    .option('--offset <n>', 'skip this many of the best results (paging)', integerIn('--offset', 0), 0)
    .option('--min-score <x>', 'drop results scoring below this', finiteNumber('--min-score'))
    .option('--min-confidence <c>', 'collections with calibrated scores (tune --calibrate): drop results less sure than this, e.g. 0.99', finiteNumber('--min-confidence'))
    .option('--rerank <method>', 'query expansion / re-ranking of the top hits: aqe, alpha-qe or diffusion (docs/tuning.md)', parseRerank)
    .option('--timings', 'print where the time went: process start and module loading, store open, model load, search (stderr; "timings" with --json)')
    .option('--where <expr>', "metadata filter (repeatable; all must match): key=value, key!=value, 'year>=2012', 'taken:2019-01-01..2019-12-31', 'season in Summer,Fall', 'lens exists', near=48.85,2.35,10km", collect('--where'), [])
    .option('-m, --model <model>', 'check the collection was built with this model', nonEmpty('--model'));
  inferenceOptions(queryKnobOptions(cmd)).action(async (words: string[], o: SearchCliOpts) => {
    const out = new Output(o.json === true);
    const query = queryFrom(words, o);
    const where = parseWhere(o.where);
    if (o.timings) await import('../../lookalike.js'); // the library's modules, timed with the CLI's (not as store open)
    // performance.now() counts from the process's start: up to here, Node.js itself and the modules
    const marks = { started: performance.now(), opened: 0, modelLoaded: 0, searched: 0 };
    const hits = await withCollection(o, async (col) => {
      marks.opened = performance.now();
      if (o.model) await col.useModel(o.model);
      if (o.timings && embeds(query)) await col.warmUp(); // timed apart from the search
      marks.modelLoaded = performance.now();
      return col.search(query, {
        k: o.k,
        ...(o.offset > 0 ? { offset: o.offset } : {}),
        ...(o.minScore !== undefined ? { minScore: o.minScore } : {}),
        ...(where ? { where } : {}),
        ...(o.collapse !== undefined ? { collapse: o.collapse } : {}),
        ...(o.sort !== undefined ? { sort: o.sort } : {}),
        ...(o.minConfidence !== undefined ? { minConfidence: o.minConfidence } : {}),
        ...(o.rerank !== undefined ? { rerank: o.rerank } : {}),
        ...queryKnobsFrom(o),
      });
    }, oneQueryConfig());
    marks.searched = performance.now();
    const timings = o.timings ? timingsOf(marks) : undefined;
    if (timings && !out.json) {
      process.stderr.write(
        `timings: ${timings.processAndModulesMs} ms Node.js start + modules, ${timings.storeOpenMs} ms store open, ${timings.modelLoadMs} ms model load, ` +
          `${timings.searchMs} ms search; ${timings.totalMs} ms from process start\n`,
      );
    }
    out.result(
      {
        ...(timings && out.json ? { timings } : {}),
        results: hits.map(({ id, path, score, confidence, metadata, tile, folded }) => ({
          id,
          path,
          score,
          ...(confidence !== undefined ? { confidence } : {}),
          metadata,
          ...(tile ? { tile } : {}),
          ...(folded ? { folded } : {}),
        })),
      },
      () => {
        if (hits.length === 0) return 'no results';
        const cwd = process.cwd();
        return hits.map((h, i) => {
          const shown = h.path ? path.relative(cwd, h.path) || h.path : `(id ${h.id})`;
          const more = h.folded?.length ? `  (+${h.folded.length} near-duplicate${h.folded.length === 1 ? '' : 's'})` : '';
          const tile = h.tile ? `  [tile ${[h.tile.x, h.tile.y, h.tile.w, h.tile.h].map((v) => +v.toFixed(3)).join(',')}]` : '';
          const sure = h.confidence !== undefined ? `  (confidence ${h.confidence.toFixed(4)})` : '';
          return `${String(i + 1 + o.offset).padStart(3)}  ${h.score.toFixed(4)}  ${shown}${tile}${more}${sure}`;
        });
      },
    );
  });
}

/**
 * One query embeds one image (or a few): one ONNX session with all the inference threads answers it sooner than
 * one per core (the default, for indexing), each of which is a worker thread loading the model at start-up.
 * `LOOKALIKE_INFERENCE_WORKERS` still decides when set.
 */
function oneQueryConfig(): { inferenceWorkers?: number } {
  return process.env.LOOKALIKE_INFERENCE_WORKERS ? {} : { inferenceWorkers: 1 };
}

/** Whether answering `q` embeds something (an image, a text or a crop), i.e. needs the model. */
function embeds(q: Query): boolean {
  const terms = 'positive' in q ? [...q.positive, ...(q.negative ?? [])] : [q];
  return terms.some((t) => 'image' in t || 'text' in t || ('crop' in t && t.crop !== undefined));
}

function timingsOf(m: { started: number; opened: number; modelLoaded: number; searched: number }) {
  const r = (x: number) => Math.round(x * 10) / 10;
  // Node.js's own start ends with its bootstrap; the program's modules load after it
  const booted = Math.min(m.started, Math.max(0, performance.nodeTiming.bootstrapComplete));
  return {
    processAndModulesMs: r(m.started),
    nodeStartMs: r(booted),
    modulesMs: r(m.started - booted),
    storeOpenMs: r(m.opened - m.started),
    modelLoadMs: r(m.modelLoaded - m.opened),
    searchMs: r(m.searched - m.modelLoaded),
    totalMs: r(m.searched),
  };
}

function queryFrom(words: readonly string[], o: SearchCliOpts): Query {
  const positive: QueryTerm[] = [
    ...o.image.map((v) => term('image', v, '--image', 1)),
    ...o.text.map((v) => term('text', v, '--text', 1)),
    ...o.id.map((v) => term('id', v, '--id', 1)),
  ];
  const negative: QueryTerm[] = [
    ...o.unlikeImage.map((v) => term('image', v, '--unlike-image', 1)),
    ...o.unlikeText.map((v) => term('text', v, '--unlike-text', 1)),
    ...o.unlikeId.map((v) => term('id', v, '--unlike-id', 1)),
  ];
  positive.push(...parseTermWords(words));
  if (positive.length + negative.length === 0) {
    throw new UsageError('give a query: --image FILE, --text TEXT or --id ID (repeatable, with --unlike-… for negatives), or terms like: photo.jpg + "in red" - blurry');
  }
  if (o.crop) {
    const regional = positive.filter((t) => 'image' in t || 'id' in t);
    if (regional.length !== 1 || negative.some((t) => 'image' in t || 'id' in t)) {
      throw new UsageError('--crop needs exactly one image or id term (--image FILE or --id ID) to take the region from.');
    }
    const i = positive.indexOf(regional[0]!);
    positive[i] = { ...regional[0]!, crop: o.crop } as QueryTerm;
  }
  if (positive.length === 1 && negative.length === 0 && o.strategy === 'average') return positive[0]!;
  return { positive, negative, strategy: o.strategy };
}
