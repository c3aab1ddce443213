/**
 * How an image model's output is pooled. Token outputs ([N, T, D], ViTs): `cls` (default) or `mean` of tokens.
 * Feature maps ([N, C, H, W], CNNs): average (default, also for `cls`/`mean`), `gem` (generalised mean, p = 3;
 * Radenović et al.) or `max` — for a CNN whose graph ends in global average pooling, the map before it is taken
 * (onnx-graph.ts).
 */
export type Pooling = 'cls' | 'mean' | 'gem' | 'max';
export const POOLINGS: readonly Pooling[] = ['cls', 'mean', 'gem', 'max'];
