// Whether a user could read a file, from the modes and owners on its path:
// the service user's processes load synpool's code from disk after they start,
// so an install under a directory only root may enter (a clone in /root) would
// leave them unable to start. Checked before the supervisor gives up root.
import { statSync } from 'node:fs';
import { dirname } from 'node:path';

export interface Identity {
  readonly uid: number;
  readonly gid: number;
}

/** The first path component the user may not pass (or the file it may not read), or undefined when it may read `file`. */
export function unreadableAt(file: string, who: Identity): string | undefined {
  const allowed = (path: string, bits: { user: number; group: number; other: number }): boolean => {
    const st = statSync(path);
    if (st.uid === who.uid) return (st.mode & bits.user) !== 0;
    if (st.gid === who.gid) return (st.mode & bits.group) !== 0;
    return (st.mode & bits.other) !== 0;
  };
  try {
    if (!allowed(file, { user: 0o400, group: 0o040, other: 0o004 })) return file;
    for (let dir = dirname(file); ; dir = dirname(dir)) {
      if (!allowed(dir, { user: 0o100, group: 0o010, other: 0o001 })) return dir;
      if (dir === dirname(dir)) return undefined;
    }
  } catch {
    return file;
  }
}
