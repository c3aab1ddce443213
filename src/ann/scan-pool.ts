/**
 * Exact search on all cores. A `FlatIndex` past `PARALLEL_MIN_BYTES` keeps its rows in a shared WebAssembly memory;
 * a scan is then cut into parts of contiguous rows that the calling thread and a pool of worker threads take one
 * by one (whoever is free takes the next part), each running the same SIMD kernel (kernels.wat) over its rows and
 * writing its scores into the shared scores area. The caller blocks (Atomics.wait) until every part is done, so
 * `search` stays synchronous and answers exactly what one thread would: each score is computed by the same kernel
 * over the same row, only by another thread.
 *
 * One pool per thread that searches (normally the main thread), started on first use, its workers `unref`ed (they
 * never keep a process alive). Coordination is a small shared Int32Array; the memories of the indexes are posted to
 * the workers once and read there with `receiveMessageOnPort` (synchronous, no event loop), dropped again when the
 * index is garbage-collected. A worker that has not started yet, or is busy, simply takes no part: the caller does
 * the rest, so a slow worker can delay a scan but never stall it.
 *
 * Threads: `configureSearchThreads(n)` (the config's `searchThreads`, `LOOKALIKE_SEARCH_THREADS`; default the number
 * of CPU cores). 1 turns the pool off.
 */
import os from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

/** Which kernel a scan runs (see kernels.wat). */
export const ScanKernel = { Dot1: 0, Dot4: 1, I16: 2, I8: 3 } as const;
export type ScanKernel = (typeof ScanKernel)[keyof typeof ScanKernel];

/** One scan: byte offsets into the index's memory, as the kernels take them. */
export interface ScanJob {
  readonly kernel: ScanKernel;
  readonly q: number;
  readonly data: number;
  readonly n: number;
  readonly stride: number;
  readonly rowBytes: number;
  readonly out: number;
  /** int8 / 16-bit codes: 1 / the query's integer scale. */
  readonly inv: number;
}

/** The kernel functions of one instance (over one memory). */
export interface ScanKernels {
  dot1(q: number, data: number, n: number, stride: number, out: number): void;
  dot4(q: number, data: number, n: number, stride: number, out: number, ldo: number): void;
  dot_i16(q: number, data: number, n: number, stride: number, out: number, inv: number): void;
  dot_i8(q: number, data: number, n: number, stride: number, out: number, inv: number): void;
}

/** Vector bytes from which a scan is split over threads (below, waking the workers costs more than it saves). */
export const PARALLEL_MIN_BYTES = 4 << 20;

/** Rows [a, b) of `job`, with `k` — the same code in the workers (WORKER_SOURCE), kept in step by hand. */
export function runPart(k: ScanKernels, job: ScanJob, a: number, b: number): void {
  const data = job.data + a * job.rowBytes;
  const out = job.out + a * 4;
  const n = b - a;
  if (n <= 0) return;
  switch (job.kernel) {
    case ScanKernel.Dot1:
      return k.dot1(job.q, data, n, job.stride, out);
    case ScanKernel.Dot4:
      return k.dot4(job.q, data, n, job.stride, out, job.n);
    case ScanKernel.I16:
      return k.dot_i16(job.q, data, n, job.stride, out, job.inv);
    case ScanKernel.I8:
      return k.dot_i8(job.q, data, n, job.stride, out, job.inv);
  }
}

// Control words (Int32Array over a SharedArrayBuffer).
const SEQ = 0; // job number (22 bits), bumped to wake the workers
const NEXT = 1; // (job << 10) | next part: parts are claimed by compare-and-swap, only while the job number matches
const DONE = 2; // parts finished in the current job
const MEM = 3;
const KERNEL = 4;
const Q = 5;
const DATA = 6;
const N = 7;
const STRIDE = 8;
const OUT = 9;
const INV = 10; // float32 bits
const PARTS = 11;
const ROW_BYTES = 12;
const WORKER_PARTS = 13; // parts done by workers, ever (statistics)
const WORDS = 16;
const JOB_MASK = 0x3fffff;
const MAX_PARTS = 1023;

const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { module, control, port } = workerData;
const ctl = new Int32Array(control);
const ctlF = new Float32Array(control);
const kernels = new Map();
let seen = 0;
for (;;) {
  Atomics.wait(ctl, ${SEQ}, seen);
  seen = Atomics.load(ctl, ${SEQ});
  for (let m; (m = receiveMessageOnPort(port)); ) {
    const msg = m.message;
    if (msg.memory) kernels.set(msg.id, new WebAssembly.Instance(module, { env: { memory: msg.memory } }).exports);
    else kernels.delete(msg.id);
  }
  const k = kernels.get(ctl[${MEM}]);
  if (!k) continue;
  const kernel = ctl[${KERNEL}], q = ctl[${Q}], data = ctl[${DATA}], n = ctl[${N}], stride = ctl[${STRIDE}];
  const out = ctl[${OUT}], inv = ctlF[${INV}], parts = ctl[${PARTS}], rowBytes = ctl[${ROW_BYTES}];
  for (;;) {
    const t = Atomics.load(ctl, ${NEXT});
    const p = t & ${MAX_PARTS};
    if (t >>> 10 !== seen || p >= parts) break;
    if (Atomics.compareExchange(ctl, ${NEXT}, t, t + 1) !== t) continue;
    const a = Math.floor((n * p) / parts), b = Math.floor((n * (p + 1)) / parts);
    const d = data + a * rowBytes, o = out + a * 4;
    if (b > a) {
      if (kernel === ${ScanKernel.Dot1}) k.dot1(q, d, b - a, stride, o);
      else if (kernel === ${ScanKernel.Dot4}) k.dot4(q, d, b - a, stride, o, n);
      else if (kernel === ${ScanKernel.I16}) k.dot_i16(q, d, b - a, stride, o, inv);
      else k.dot_i8(q, d, b - a, stride, o, inv);
    }
    Atomics.add(ctl, ${WORKER_PARTS}, 1);
    Atomics.add(ctl, ${DONE}, 1);
    Atomics.notify(ctl, ${DONE});
  }
}
`;

interface PoolWorker {
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly attached: Set<number>;
}

let configured: number | undefined;

/** Threads an exact scan may use in all (the caller included); 1 = no worker threads. */
export function configureSearchThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`searchThreads must be an integer ≥ 1, got ${threads}`);
  configured = threads;
}

export function searchThreads(): number {
  if (configured !== undefined) return configured;
  const env = Number(process.env.LOOKALIKE_SEARCH_THREADS);
  return Number.isInteger(env) && env >= 1 ? env : Math.max(1, os.availableParallelism());
}

let nextMemoryId = 1;
const stats = { scans: 0, workerParts: 0 };

/** Scans split over threads, and parts of them done by worker threads, since the process started. */
export function scanPoolStats(): { scans: number; workerParts: number } {
  return { scans: stats.scans, workerParts: stats.workerParts + (pool?.workerParts ?? 0) };
}

class ScanPool {
  private readonly control = new SharedArrayBuffer(WORDS * 4);
  private readonly ctl = new Int32Array(this.control);
  private readonly ctlF = new Float32Array(this.control);
  private readonly workers: PoolWorker[] = [];
  private readonly memories = new Map<number, WeakRef<WebAssembly.Memory>>();
  private readonly finalizer = new FinalizationRegistry<number>((id) => this.detach(id));
  private seq = 0;

  constructor(
    readonly threads: number,
    module: WebAssembly.Module,
  ) {
    for (let i = 0; i < threads - 1; i++) {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, control: this.control, port: port2 }, transferList: [port2] });
      worker.unref();
      port1.unref();
      // a worker that fails takes no more parts; the caller does them (see run)
      worker.on('error', () => {});
      this.workers.push({ worker, port: port1, attached: new Set() });
    }
  }

  /** An id for `memory`, posted to the workers before its first scan; forgotten when `owner` is collected. */
  register(memory: WebAssembly.Memory, owner: object): number {
    const id = nextMemoryId++;
    this.memories.set(id, new WeakRef(memory));
    this.finalizer.register(owner, id);
    return id;
  }

  private detach(id: number): void {
    this.memories.delete(id);
    for (const w of this.workers) if (w.attached.delete(id)) w.port.postMessage({ id });
  }

  /** Runs `job` over all threads; `mine` runs rows [a, b) on the calling thread. Returns when every row is scored. */
  get workerParts(): number {
    return Atomics.load(this.ctl, WORKER_PARTS);
  }

  run(memoryId: number, job: ScanJob, mine: (a: number, b: number) => void): void {
    stats.scans++;
    const memory = this.memories.get(memoryId)?.deref();
    if (!memory) throw new Error(`scan pool: unknown memory ${memoryId}`);
    for (const w of this.workers) {
      if (w.attached.has(memoryId)) continue;
      w.port.postMessage({ id: memoryId, memory });
      w.attached.add(memoryId);
    }
    // small parts (4 per thread at least, else 2 MB each), taken by whoever is free: a thread that the OS preempts
    // holds up only the part it took, not a whole share of the scan
    const parts = Math.max(1, Math.min(MAX_PARTS, job.n, Math.max(this.threads * 4, Math.floor((job.n * job.rowBytes) / (2 << 20)))));
    const ctl = this.ctl;
    const seq = (this.seq = (this.seq + 1) & JOB_MASK) || (this.seq = 1);
    ctl[MEM] = memoryId;
    ctl[KERNEL] = job.kernel;
    ctl[Q] = job.q;
    ctl[DATA] = job.data;
    ctl[N] = job.n;
    ctl[STRIDE] = job.stride;
    ctl[OUT] = job.out;
    this.ctlF[INV] = job.inv;
    ctl[PARTS] = parts;
    ctl[ROW_BYTES] = job.rowBytes;
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, NEXT, seq << 10);
    Atomics.store(ctl, SEQ, seq);
    Atomics.notify(ctl, SEQ);
    for (;;) {
      const t = Atomics.load(ctl, NEXT);
      const p = t & MAX_PARTS;
      if (p >= parts) break;
      if (Atomics.compareExchange(ctl, NEXT, t, t + 1) !== t) continue;
      mine(Math.floor((job.n * p) / parts), Math.floor((job.n * (p + 1)) / parts));
      Atomics.add(ctl, DONE, 1);
    }
    // parts taken by workers: wait for them (a worker that died mid-part would never finish it)
    for (;;) {
      const done = Atomics.load(ctl, DONE);
      if (done >= parts) return;
      if (Atomics.wait(ctl, DONE, done, 30_000) === 'timed-out' && Atomics.load(ctl, DONE) === done) {
        throw new Error('scan pool: a worker thread stopped in the middle of a scan');
      }
    }
  }

  close(): void {
    stats.workerParts += this.workerParts;
    for (const w of this.workers) void w.worker.terminate();
  }
}

let pool: ScanPool | undefined;

/** The pool of this thread, started on first use; undefined when only one thread is configured. */
export function scanPool(module: WebAssembly.Module): ScanPool | undefined {
  const threads = searchThreads();
  if (threads <= 1) return undefined;
  if (pool && pool.threads !== threads) {
    pool.close();
    pool = undefined;
  }
  pool ??= new ScanPool(threads, module);
  return pool;
}

export type { ScanPool };
