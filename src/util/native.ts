import { createError, reasonOf } from '../errors.js';

/** Whether an error is a native addon that failed to load (built for another Node.js version, platform or libc). */
export function isNativeLoadError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'ERR_DLOPEN_FAILED' || /NODE_MODULE_VERSION|was compiled against a different Node\.js|invalid ELF header|wrong ELF class|cannot open shared object|Could not locate the bindings file/i.test(reasonOf(e));
}

/** The error for a native module that cannot be loaded: which module, why, and how to rebuild it. */
export function nativeModuleError(name: string, e: unknown): Error {
  return createError(
    'NATIVE_MODULE_FAILED',
    `The native module "${name}" cannot be loaded in Node.js ${process.version} (${reasonOf(e)}). It was probably installed ` +
      `with another Node.js version: run \`npm rebuild ${name}\` (or reinstall lookalike) with the Node.js you use now.`,
    { module: name, node: process.version },
    e,
  );
}

/** Load a native module through `load`, turning a load failure into `NATIVE_MODULE_FAILED`. */
export function loadNative<T>(name: string, load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (isNativeLoadError(e)) throw nativeModuleError(name, e);
    throw e;
  }
}
