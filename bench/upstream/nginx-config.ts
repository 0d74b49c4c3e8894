import { join } from 'node:path';

/**
 * An nginx config that reads and writes nothing outside `prefix` (pid, logs,
 * temp paths), around the given `http { … }` body: used for nginx as an
 * upstream and as the reference reverse proxy.
 */
export function nginxConfig(prefix: string, httpBody: string, workerConnections = 1024, workerProcesses = 1): string {
  const tmp = join(prefix, 'tmp');
  return `daemon off;
master_process on;
worker_processes ${workerProcesses};
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
events { worker_connections ${workerConnections}; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
${httpBody}
}
`;
}
