import type { Command } from 'commander';
import path from 'node:path';
import type { Query } from '../../search/search.js';
import {
  collect,
  finiteNumber,
  inferenceOptions,
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

interface SearchCliOpts extends StoreOpts, InferenceOpts {
  readonly image?: string;
  readonly text?: string;
  readonly id?: string;
  readonly k: number;
  readonly minScore?: number;
  readonly where: string[];
  readonly model?: string;
  readonly ef?: number;
  readonly nprobe?: number;
}

export function registerSearch(program: Command): void {
  const cmd = program.command('search').description('find the most similar images in a collection');
  storeOptions(cmd)
    .option('--image <file>', 'query image file (inside the collection or not)', nonEmpty('--image'))
    .option('--text <text>', 'text query (CLIP-family models only)', nonEmpty('--text'))
    .option('--id <id>', 'id of an indexed image ("more like this"; the image itself is excluded)', nonEmpty('--id'))
    .option('-k, --k <n>', 'number of results', positiveInt('-k'), 10)
    .option('--min-score <x>', 'drop results scoring below this', finiteNumber('--min-score'))
    .option('--where <key=value>', 'metadata filter (repeatable; all must match)', collect('--where'), [])
    .option('-m, --model <model>', 'check the collection was built with this model', nonEmpty('--model'));
  inferenceOptions(queryKnobOptions(cmd)).action(async (o: SearchCliOpts) => {
    const out = new Output(o.json === true);
    const query = queryFrom(o);
    const where = parseWhere(o.where);
    const hits = await withCollection(o, async (col) => {
      if (o.model) await col.useModel(o.model);
      return col.search(query, {
        k: o.k,
        ...(o.minScore !== undefined ? { minScore: o.minScore } : {}),
        ...(where ? { where } : {}),
        ...queryKnobsFrom(o),
      });
    });
    out.result({ results: hits.map(({ id, path, score, metadata }) => ({ id, path, score, metadata })) }, () => {
      if (hits.length === 0) return 'no results';
      const cwd = process.cwd();
      return hits.map((h, i) => {
        const shown = h.path ? path.relative(cwd, h.path) || h.path : `(id ${h.id})`;
        return `${String(i + 1).padStart(3)}  ${h.score.toFixed(4)}  ${shown}`;
      });
    });
  });
}

function queryFrom(o: SearchCliOpts): Query {
  const given = [o.image, o.text, o.id].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('give exactly one of --image, --text or --id.');
  return o.image !== undefined ? { image: o.image } : o.text !== undefined ? { text: o.text } : { id: o.id! };
}
