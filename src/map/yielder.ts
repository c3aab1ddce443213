/**
 * Long computations in the server's process give the event loop a turn every few milliseconds (requests, health
 * probes and timers keep being answered while a map is computed) and stop when their signal is aborted.
 */
export class Yielder {
  #last = performance.now();

  constructor(
    private readonly signal?: AbortSignal,
    private readonly sliceMs = 20,
  ) {}

  /** Yield when the current slice of work is used up; throws the signal's reason once aborted. */
  async maybe(): Promise<void> {
    if (performance.now() - this.#last < this.sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#last = performance.now();
    this.signal?.throwIfAborted();
  }
}
