// close() and destroy() of a dispatcher built from others (OriginPools over undici
// Pools, AcceleratedAgent over two OriginPools): all of them at once, in undici's
// promise-or-callback form.

/** Resolves when every part has; with a callback, calls it instead (success or not) and returns nothing. */
export function settleAll(parts: ReadonlyArray<Promise<unknown>>, callback?: () => void): Promise<void> | void {
  const done = Promise.all(parts).then(() => undefined);
  if (callback === undefined) return done;
  void done.then(callback, callback);
}

/** destroy()'s overloads, untangled: (err?), (callback), (err, callback). */
export function destroyArgs(a?: Error | null | (() => void), b?: () => void): { err: Error | null; callback: (() => void) | undefined } {
  return typeof a === 'function' ? { err: null, callback: a } : { err: a ?? null, callback: b };
}
