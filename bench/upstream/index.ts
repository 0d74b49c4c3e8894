export { startNodeUpstream, type NodeUpstreamOptions } from './node-upstream.js';
export { startPythonUpstream, PYTHON_BYTES_FILE, type PythonUpstreamOptions } from './python-upstream.js';
export { startNginxUpstream, NGINX_BYTES_SIZE, type NginxUpstreamOptions } from './nginx-upstream.js';
export { waitUntilAccepting, READY_DEADLINE_MS, type UpstreamServer } from './upstream-server.js';
export { createPrivateCa, issueCert, type PrivateCa, type IssuedCert, type CertRequest } from './private-ca.js';
