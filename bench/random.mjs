// Seeded random numbers for the benches that generate vectors (bench:scale, bench:cold): the same seed gives the
// same vectors in every run and on every machine.

/** A linear congruential generator in [0, 1) and normal deviates (Box–Muller) from it. */
export function seededRandom(seed) {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  return { rand, gauss };
}

/** L2-normalise `v` in place; returns it. */
export function normalise(v) {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j] * v[j];
  const r = 1 / Math.sqrt(s);
  for (let j = 0; j < v.length; j++) v[j] *= r;
  return v;
}
