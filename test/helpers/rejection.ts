/**
 * The error a promise must reject with: awaits it and returns the rejection when it is a TYPE
 * (VimFault, DriverError…), so a test can check its fields; any other error is thrown again, and
 * a promise that resolves fails with "expected a <TYPE>".
 */
export async function rejectionOf<E extends Error>(p: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (e) {
    if (e instanceof type) return e;
    throw e;
  }
  throw new Error(`expected a ${type.name}`);
}
