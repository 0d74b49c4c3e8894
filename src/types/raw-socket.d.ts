declare module 'raw-socket' {
  import { EventEmitter } from 'node:events';
  export interface RawSocket extends EventEmitter {
    send(
      buffer: Buffer,
      offset: number,
      length: number,
      address: string,
      beforeCallback: (() => void) | ((error: Error | null, bytes: number) => void),
      afterCallback?: (error: Error | null, bytes: number) => void,
    ): RawSocket;
    setOption(level: number, option: number, value: Buffer | number, length?: number): void;
    getOption(level: number, option: number, value: Buffer, length: number): number;
    pauseRecv(): RawSocket;
    resumeRecv(): RawSocket;
    close(): RawSocket;
    on(event: 'message', listener: (buffer: Buffer, source: string) => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    on(event: 'close', listener: () => void): this;
  }
  export function createSocket(options?: { protocol?: number; addressFamily?: number; bufferSize?: number }): RawSocket;
  export const Protocol: { TCP: number; ICMP: number; UDP: number; None: number };
  export const AddressFamily: { IPv4: number; IPv6: number };
  const raw: { createSocket: typeof createSocket; Protocol: typeof Protocol; AddressFamily: typeof AddressFamily };
  export default raw;
}
