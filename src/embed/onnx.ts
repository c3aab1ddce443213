import type * as ort from 'onnxruntime-node';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { createError } from '../errors.js';

export interface SessionOptions {
  threads: number;
  device: 'cpu' | 'cuda';
}

function ortSessionOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: opts.device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Idle ORT threads must not spin: the decoding threads need those cycles (measured in bench:ingest).
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

function loadError(file: string, opts: SessionOptions, e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  const hint =
    opts.device === 'cuda'
      ? " CUDA needs onnxruntime-node's CUDA libraries: reinstall with ONNXRUNTIME_NODE_INSTALL=cuda12 (see README, \"GPUs\")."
      : '';
  return createError('MODEL_LOAD_FAILED', `Cannot load ONNX model ${file}: ${msg}.${hint}`, { file }, e);
}

// The worker's code: one ONNX Runtime session answering `run` messages. Inline (eval) so it works the same from
// the compiled package and from TypeScript sources under test; onnxruntime-node's path comes from the parent.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
ort.InferenceSession.create(workerData.file, workerData.options).then((session) => {
  parentPort.postMessage({ type: 'ready', inputNames: session.inputNames, outputNames: session.outputNames });
  parentPort.on('message', async (msg) => {
    if (msg.type === 'close') { await session.release(); process.exit(0); }
    try {
      const out = await session.run({ [msg.input]: new ort.Tensor('float32', new Float32Array(msg.data), msg.dims) }, [msg.output]);
      const t = out[msg.output];
      const data = Float32Array.from(t.data);
      parentPort.postMessage({ type: 'result', id: msg.id, data: data.buffer, dims: t.dims }, [data.buffer]);
    } catch (e) {
      parentPort.postMessage({ type: 'result', id: msg.id, error: String(e && e.message || e) });
    }
  });
}, (e) => parentPort.postMessage({ type: 'failed', error: String(e && e.message || e) }));
`;

interface Pending {
  resolve: (r: { data: Float32Array; dims: number[] }) => void;
  reject: (e: Error) => void;
}

/**
 * An ONNX Runtime session in a worker thread. `session.run` in onnxruntime-node blocks the calling thread, so
 * inference on the main thread would stall image decoding; here the main thread keeps decoding the next batch
 * while the worker runs the current one (bench:ingest measures the effect).
 */
export class WorkerSession {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  /** Requests in flight. */
  get busy(): number {
    return this.pending.size;
  }

  private constructor(
    private readonly worker: Worker,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {
    worker.on('message', (msg: { type: string; id: number; data?: ArrayBuffer; dims?: number[]; error?: string }) => {
      if (msg.type !== 'result') return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (this.pending.size === 0) worker.unref();
      if (msg.error !== undefined) p.reject(createError('INTERNAL', `ONNX inference failed: ${msg.error}`));
      else p.resolve({ data: new Float32Array(msg.data!), dims: msg.dims! });
    });
    const failAll = (e: Error): void => {
      this.closed = true;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', (e) => failAll(createError('INTERNAL', `ONNX worker crashed: ${e.message}`, {}, e)));
    worker.on('exit', () => failAll(createError('INTERNAL', 'ONNX worker exited')));
    worker.unref();
  }

  /** `file`: the model's path, or its bytes (an edited model, see onnx-graph.ts; `name` then names it in errors). */
  static async create(file: string | Uint8Array, opts: SessionOptions, name = typeof file === 'string' ? file : 'model'): Promise<WorkerSession> {
    if (typeof file === 'string' && !fs.existsSync(file)) throw createError('MODEL_NOT_FOUND', `ONNX file not found: ${file}`, { file });
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath, file, options: ortSessionOptions(opts) } });
    const ready = await new Promise<{ inputNames: string[]; outputNames: string[] }>((resolve, reject) => {
      const onMessage = (msg: { type: string; error?: string; inputNames?: string[]; outputNames?: string[] }): void => {
        worker.off('message', onMessage);
        if (msg.type === 'ready') resolve({ inputNames: msg.inputNames!, outputNames: msg.outputNames! });
        else reject(new Error(msg.error));
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    }).catch(async (e: unknown) => {
      await worker.terminate();
      throw loadError(name, opts, e);
    });
    return new WorkerSession(worker, ready.inputNames, ready.outputNames);
  }

  /** Run the model on one float32 input; the input's buffer is transferred (do not reuse it). */
  run(input: string, output: string, data: Float32Array, dims: readonly number[]): Promise<{ data: Float32Array; dims: number[] }> {
    if (this.closed) return Promise.reject(createError('INTERNAL', 'ONNX session is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      const buf = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
      this.worker.postMessage({ type: 'run', id, input, output, data: buf.buffer, dims: [...dims] }, [buf.buffer as ArrayBuffer]);
    });
  }

  async release(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.worker.postMessage({ type: 'close' });
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => void this.worker.terminate().then(() => resolve()), 2000);
      this.worker.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}


/**
 * Several worker sessions sharing the cores (`threads / workers` intra-op threads each); each batch goes to the
 * least busy one, so callers keep `concurrency` batches in flight. Single-threaded sessions never wait on each
 * other's barriers, so they share the CPU with image decoding better than one multi-threaded session
 * (bench:ingest).
 */
export class SessionPool {
  private constructor(private readonly sessions: WorkerSession[]) {}

  static async create(file: string | Uint8Array, opts: SessionOptions & { workers: number }, name?: string): Promise<SessionPool> {
    const workers = Math.max(1, Math.min(opts.workers, opts.threads));
    const threads = Math.max(1, Math.floor(opts.threads / workers));
    const sessions = await Promise.all(Array.from({ length: workers }, () => WorkerSession.create(file, { ...opts, threads }, name)));
    return new SessionPool(sessions);
  }

  get inputNames(): readonly string[] {
    return this.sessions[0]!.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.sessions[0]!.outputNames;
  }

  /** How many `run` calls can usefully be in flight at once. */
  get concurrency(): number {
    return this.sessions.length;
  }

  /** Run one batch on the least busy session. */
  async run(input: string, output: string, data: Float32Array, dims: readonly number[]): Promise<{ data: Float32Array; dims: number[] }> {
    const session = this.sessions.reduce((a, b) => (b.busy < a.busy ? b : a));
    return session.run(input, output, data, dims);
  }

  async release(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }
}
