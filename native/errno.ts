import { constants } from 'node:os';

const names = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!names.has(value)) names.set(value, name);
}

/** errno → its symbolic name (EPERM, ECONNREFUSED…); `E<n>` for an unknown value. */
export function errnoName(errno: number): string {
  return names.get(errno) ?? `E${errno}`;
}

export const EPERM = constants.errno.EPERM;
export const EACCES = constants.errno.EACCES;
export const EINVAL = constants.errno.EINVAL;
export const EAGAIN = constants.errno.EAGAIN;
