// Reading the keeper's replies on the worker's own event loop. libuv reads an
// IPC pipe with recvmsg and turns an SCM_RIGHTS descriptor into a handle of the
// right type (a TCP socket here), which is what Node's child_process channel is
// made of. Opening our connected Unix socket as such a pipe gives one wake-up
// per reply, where a blocking recvmsg on the threadpool costs two (the pool
// thread, then the loop). The binding is Node's own (process.binding, in its
// allowlist since v10); where it is missing, the caller falls back to the
// threadpool reader.
/** A descriptor libuv received and wrapped: a TCP handle (`fd` is its descriptor); net.Socket({ handle }) takes it. */
export interface PassedHandle {
  readonly fd: number;
  close(cb?: () => void): void;
}

interface PipeHandle {
  open(fd: number): number;
  readStart(): number;
  readStop(): number;
  close(cb?: () => void): void;
  onread: ((arrayBuffer: ArrayBuffer | undefined) => void) | null;
  pendingHandle: unknown;
}

interface Bindings {
  Pipe: new (type: number) => PipeHandle;
  ipcType: number;
  state: Int32Array;
  kRead: number;
  kOffset: number;
}

let bindings: Bindings | null | undefined;

function load(): Bindings | null {
  if (bindings !== undefined) return bindings;
  try {
    const binding = (process as unknown as { binding(name: string): Record<string, unknown> }).binding;
    const pw = binding('pipe_wrap') as { Pipe: Bindings['Pipe']; constants: { IPC: number } };
    const sw = binding('stream_wrap') as { streamBaseState: Int32Array; kReadBytesOrError: number; kArrayBufferOffset: number };
    bindings = { Pipe: pw.Pipe, ipcType: pw.constants.IPC, state: sw.streamBaseState, kRead: sw.kReadBytesOrError, kOffset: sw.kArrayBufferOffset };
  } catch {
    bindings = null;
  }
  return bindings;
}

/** Whether this Node can read descriptors on its event loop. */
export function ipcPipeAvailable(): boolean {
  return load() !== null;
}

/**
 * Owns `fd` (a connected AF_UNIX stream socket): `onData` gets each read's bytes and
 * the handle of the descriptor that came with them (the kernel ends a read at a
 * message that carries descriptors, so there is at most one), `onEnd` the end of the
 * stream or an error. close() closes the fd.
 */
export class IpcPipeReader {
  readonly #pipe: PipeHandle;
  #closed = false;

  constructor(fd: number, onData: (bytes: Buffer, handle: PassedHandle | undefined) => void, onEnd: (reason: string) => void) {
    const b = load();
    if (b === null) throw new Error('process.binding(pipe_wrap) is not available');
    const pipe = new b.Pipe(b.ipcType);
    const rc = pipe.open(fd);
    if (rc !== 0) throw new Error(`opening the keeper connection as an IPC pipe failed (${rc})`);
    this.#pipe = pipe;
    pipe.onread = (arrayBuffer) => {
      const handle = (pipe.pendingHandle ?? undefined) as PassedHandle | undefined;
      pipe.pendingHandle = null;
      if (arrayBuffer === undefined) {
        handle?.close();
        const n = b.state[b.kRead]!;
        onEnd(n === -4095 ? 'the keeper closed the connection' : `read failed (${n})`);
        return;
      }
      const n = b.state[b.kRead]!;
      const offset = b.state[b.kOffset]!;
      onData(Buffer.from(arrayBuffer, offset, n), handle);
    };
    const started = pipe.readStart();
    if (started !== 0) throw new Error(`reading the keeper connection failed (${started})`);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#pipe.readStop();
    return new Promise((resolve) => this.#pipe.close(() => resolve()));
  }
}
