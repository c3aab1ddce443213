import type { Command } from 'commander';
import { configFrom, inferenceOptions, jsonOption, nonEmpty, positiveInt, type InferenceOpts, type JsonOpts } from '../options.js';
import { Output } from '../output.js';
import { redactUrl, runUntilSignal } from '../shared.js';

interface WorkerCliOpts extends JsonOpts, InferenceOpts {
  readonly queue: string;
  readonly db?: string;
  readonly concurrency: number;
  readonly quiet?: boolean;
}

export function registerWorker(program: Command): void {
  const cmd = program
    .command('worker')
    .description('process distributed index jobs from a Redis queue (see `index --queue`); run as many as you like')
    .requiredOption('--queue <url>', 'Redis URL: redis://[[user]:password@]host:port, or rediss://… for TLS (printed with the password as ***)', nonEmpty('--queue'))
    .option('--db <location>', 'only serve jobs for this store (default: any)', nonEmpty('--db'))
    .option('--concurrency <n>', 'jobs processed at once by this process (2 keeps decoding and inference overlapped)', positiveInt('--concurrency'), 2)
    .option('--quiet', 'no per-job log');
  inferenceOptions(jsonOption(cmd)).action(async (o: WorkerCliOpts) => {
    const out = new Output(o.json === true);
    const { runWorker } = await import('../../queue/distributed.js');
    const w = await runWorker({
      queue: o.queue,
      ...(o.db ? { db: o.db } : {}),
      concurrency: o.concurrency,
      config: configFrom(o),
      ...(o.quiet ? {} : { log: (line: string) => out.log(line) }),
      onConnection: (line: string) => out.warn(line),
    });
    const queue = redactUrl(o.queue);
    const running = runUntilSignal(() => w.close(), out.json); // signal handlers before the start line: a stop right after it is clean
    out.started(
      { event: 'ready', pid: process.pid, queue, db: o.db ? redactUrl(o.db) : null, concurrency: o.concurrency },
      `lookalike worker ${process.pid} waiting for jobs on ${queue}`,
    );
    await running;
  });
}
