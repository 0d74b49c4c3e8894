// A private CA made at run time with the openssl CLI, and certificates it signs:
// the TLS tests and the benchmark's HTTPS scenario trust only what they made
// themselves. Files go into a directory the caller owns and removes (a topology's dir).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PrivateCa {
  readonly dir: string;
  /** PEM file of the CA certificate (what tls.ca points at). */
  readonly certFile: string;
  readonly keyFile: string;
}

export interface IssuedCert {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
}

export interface CertRequest {
  /** File name stem, unique within the CA's dir. */
  name: string;
  dns?: readonly string[];
  ips?: readonly string[];
  /** Validity from now; a negative number makes an already expired certificate (notAfter before notBefore). */
  days?: number;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** P-256 keys: fast to make, and every TLS 1.2/1.3 stack takes them. */
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export function createPrivateCa(dir: string, subject = 'synpool test CA'): PrivateCa {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  openssl(['req', '-x509', ...KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', `/CN=${subject}`, '-days', '2',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { dir, certFile: join(dir, 'ca.crt'), keyFile: join(dir, 'ca.key') };
}

export function issueCert(ca: PrivateCa, req: CertRequest): IssuedCert {
  const san = [...(req.dns ?? []).map((d) => `DNS:${d}`), ...(req.ips ?? []).map((ip) => `IP:${ip}`)].join(',');
  const keyFile = join(ca.dir, `${req.name}.key`);
  const csrFile = join(ca.dir, `${req.name}.csr`);
  const certFile = join(ca.dir, `${req.name}.crt`);
  const extFile = join(ca.dir, `${req.name}.ext`);
  execFileSync('sh', ['-c', `printf '%s\\n' "$1" > "$2"`, 'sh', `subjectAltName=${san}\nextendedKeyUsage=serverAuth`, extFile]);
  openssl(['req', ...KEY, '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${req.dns?.[0] ?? req.ips?.[0] ?? req.name}`], ca.dir);
  openssl(['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile,
    '-days', String(req.days ?? 2), '-extfile', extFile], ca.dir);
  // Workers of nginx run as nobody: the key must be readable to them (a throwaway key).
  execFileSync('chmod', ['0644', keyFile, certFile]);
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}
