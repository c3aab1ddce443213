/**
 * NumPy `.npy` files (format version 1.0): a magic string, a little-endian header length, a Python-literal header
 * (`{'descr': '<f4', 'fortran_order': False, 'shape': (n, d), }` padded with spaces to a multiple of 64 bytes and
 * ended by a newline), then the data in C order. Written by hand (the format is that small); read for float16,
 * float32 and float64 matrices (clip-retrieval writes float16).
 */
import fs from 'node:fs';
import { createError } from '../errors.js';

const MAGIC = Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0]);
/** Header bytes reserved so the row count can be rewritten once known (the shape's digits never outgrow it). */
const HEADER_BYTES = 128;

function header(rows: number, dim: number): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`;
  const total = HEADER_BYTES;
  const len = total - MAGIC.length - 2; // dict + padding + '\n'
  if (dict.length + 1 > len) throw new Error(`npy header too long for shape (${rows}, ${dim})`);
  const out = Buffer.alloc(total, 0x20);
  MAGIC.copy(out, 0);
  out.writeUInt16LE(len, MAGIC.length);
  out.write(dict, MAGIC.length + 2, 'latin1');
  out[total - 1] = 0x0a;
  return out;
}

/** Writes an n × d float32 matrix row by row; the row count in the header is set by `close`. */
export class NpyWriter {
  readonly #fd: number;
  #rows = 0;
  constructor(
    readonly file: string,
    readonly dim: number,
  ) {
    this.#fd = fs.openSync(file, 'w');
    fs.writeSync(this.#fd, header(0, dim));
  }
  write(vectors: readonly Float32Array[]): void {
    if (vectors.length === 0) return;
    const buf = Buffer.allocUnsafe(vectors.length * this.dim * 4);
    vectors.forEach((v, i) => {
      for (let j = 0; j < this.dim; j++) buf.writeFloatLE(v[j]!, (i * this.dim + j) * 4);
    });
    fs.writeSync(this.#fd, buf);
    this.#rows += vectors.length;
  }
  get rows(): number {
    return this.#rows;
  }
  close(): void {
    fs.writeSync(this.#fd, header(this.#rows, this.dim), 0, HEADER_BYTES, 0);
    fs.fsyncSync(this.#fd);
    fs.closeSync(this.#fd);
  }
}

export interface NpyInfo {
  readonly dtype: '<f2' | '<f4' | '<f8';
  readonly rows: number;
  readonly dim: number;
  /** Byte offset of the data. */
  readonly offset: number;
}

/** Parse an `.npy` header: a 2-D little-endian float matrix in C order, or an `INVALID_ARGUMENT` naming the file. */
export function readNpyInfo(file: string): NpyInfo {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(12);
    fs.readSync(fd, head, 0, 12, 0);
    const bad = (why: string) => createError('INVALID_ARGUMENT', `${file}: not a usable .npy matrix (${why}).`, { path: file });
    if (!head.subarray(0, 6).equals(MAGIC.subarray(0, 6))) throw bad('no \\x93NUMPY magic');
    const major = head[6]!;
    const lenBytes = major === 1 ? 2 : 4;
    const len = major === 1 ? head.readUInt16LE(8) : head.readUInt32LE(8);
    const start = 8 + lenBytes;
    const text = Buffer.alloc(len);
    fs.readSync(fd, text, 0, len, start);
    const dict = text.toString('latin1');
    const descr = /'descr':\s*'([^']+)'/u.exec(dict)?.[1];
    const fortran = /'fortran_order':\s*(True|False)/u.exec(dict)?.[1];
    const shape = /'shape':\s*\(([^)]*)\)/u.exec(dict)?.[1]?.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
    if (descr !== '<f2' && descr !== '<f4' && descr !== '<f8') throw bad(`dtype ${descr ?? '?'}; expected little-endian float16, float32 or float64`);
    if (fortran !== 'False') throw bad('Fortran order; expected C order');
    if (!shape || shape.length !== 2 || !shape.every(Number.isInteger)) throw bad(`shape (${shape?.join(', ') ?? '?'}); expected (rows, dimension)`);
    return { dtype: descr, rows: shape[0]!, dim: shape[1]!, offset: start + len };
  } finally {
    fs.closeSync(fd);
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Rows `start` … `start + count - 1` of an `.npy` matrix as float32 vectors. */
export function readNpyRows(file: string, info: NpyInfo, start: number, count: number): Float32Array[] {
  const width = info.dtype === '<f2' ? 2 : info.dtype === '<f4' ? 4 : 8;
  const n = Math.max(0, Math.min(count, info.rows - start));
  const buf = Buffer.alloc(n * info.dim * width);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, buf, 0, buf.length, info.offset + start * info.dim * width);
  } finally {
    fs.closeSync(fd);
  }
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const v = new Float32Array(info.dim);
    for (let j = 0; j < info.dim; j++) {
      const at = (i * info.dim + j) * width;
      v[j] = width === 2 ? halfToFloat(buf.readUInt16LE(at)) : width === 4 ? buf.readFloatLE(at) : buf.readDoubleLE(at);
    }
    out.push(v);
  }
  return out;
}
