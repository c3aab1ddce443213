import * as ort from 'onnxruntime-node';
import fs from 'node:fs';
import { createError } from '../errors.js';

export interface SessionOptions {
  threads: number;
  device: 'cpu' | 'cuda';
}

/** Create an ONNX Runtime session with lookalike's defaults; errors name the file and what to do. */
export async function createSession(file: string, opts: SessionOptions): Promise<ort.InferenceSession> {
  if (!fs.existsSync(file)) {
    throw createError('MODEL_NOT_FOUND', `ONNX file not found: ${file}`, { file });
  }
  try {
    return await ort.InferenceSession.create(file, {
      executionProviders: opts.device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
      intraOpNumThreads: opts.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      // Idle ORT threads must not spin: the decoder threads need those cycles (measured in bench:ingest).
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    });
  } catch (e) {
    const msg = (e as Error).message;
    const hint =
      opts.device === 'cuda'
        ? ' CUDA needs onnxruntime-node\'s CUDA libraries: reinstall with ONNXRUNTIME_NODE_INSTALL=cuda12 (see README, "GPUs").'
        : '';
    throw createError('MODEL_LOAD_FAILED', `Cannot load ONNX model ${file}: ${msg}.${hint}`, { file }, e);
  }
}

export { ort };
