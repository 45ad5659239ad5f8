'use strict';

// AWS Signature Version 4 for calls to API Gateway routes with AWS_IAM
// authorization (service `execute-api`), with node:crypto only: the zip carries
// no AWS SDK. Follows the canonical-request rules of the AWS guide "Create a
// signed AWS API request"; test/sigv4.test.js checks it against vectors made
// by botocore (scripts/generate_sigv4_vectors.py).

const crypto = require('node:crypto');

const ALGORITHM = 'AWS4-HMAC-SHA256';

function sha256Hex(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function hmac(key, data) {
  return crypto.createHmac('sha256', key).update(data, 'utf8').digest();
}

// RFC 3986: everything but A-Z a-z 0-9 - _ . ~ is percent-encoded, in upper case.
function uriEncode(value) {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safeDecode(value) {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

// Non-S3 services encode each path segment twice: the path on the wire is
// already encoded once (URL does that), so each of its segments is encoded again.
function canonicalPath(pathname) {
  if (!pathname) return '/';
  return pathname.split('/').map(uriEncode).join('/');
}

// Names and values decoded, then strictly encoded; sorted by name, then value.
// '+' is a literal plus here (no form decoding), as AWS reads it.
function canonicalQueryPairs(search) {
  const query = search.startsWith('?') ? search.slice(1) : search;
  if (!query) return [];
  return query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const at = pair.indexOf('=');
      const name = at === -1 ? pair : pair.slice(0, at);
      const value = at === -1 ? '' : pair.slice(at + 1);
      return [uriEncode(safeDecode(name)), uriEncode(safeDecode(value))];
    })
    .sort(([n1, v1], [n2, v2]) => (n1 < n2 ? -1 : n1 > n2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0));
}

function trimAll(value) {
  return String(value).trim().replace(/\s+/g, ' ');
}

function amzDate(now) {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function signingKey(secretAccessKey, day, region, service) {
  const kDate = hmac(`AWS4${secretAccessKey}`, day);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

// Signs one request. `body` is the exact bytes (Buffer or string) that will be
// sent; `headers` are the ones that will be sent (all are signed). Host is
// signed from the URL and not returned: fetch sends it from the URL.
// Returns the URL to send (its query in canonical encoding, so the bytes sent
// are the bytes signed) and the headers to send, with x-amz-date,
// x-amz-content-sha256, x-amz-security-token (temporary credentials) and
// authorization added.
function signRequest({ method, url, headers = {}, body, credentials, region, service = 'execute-api', now = new Date() }) {
  if (!credentials || !credentials.accessKeyId || !credentials.secretAccessKey) {
    throw new Error('SigV4: credentials need accessKeyId and secretAccessKey');
  }
  if (!region) throw new Error('SigV4: region is required');
  const target = new URL(url);
  const pairs = canonicalQueryPairs(target.search);
  const canonicalQuery = pairs.map(([name, value]) => `${name}=${value}`).join('&');
  target.search = canonicalQuery;
  const stamp = amzDate(now);
  const day = stamp.slice(0, 8);
  const payload = body === undefined || body === null ? '' : body;

  const sent = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.trim().toLowerCase();
    if (lower === 'authorization') continue;
    sent[lower] = value;
  }
  sent['x-amz-date'] = stamp;
  sent['x-amz-content-sha256'] = sha256Hex(payload);
  if (credentials.sessionToken) sent['x-amz-security-token'] = credentials.sessionToken;
  else delete sent['x-amz-security-token'];

  const signed = { host: target.host, ...sent };
  const names = Object.keys(signed).sort();
  const canonicalHeaders = names.map((name) => `${name}:${trimAll(signed[name])}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    method.toUpperCase(),
    canonicalPath(target.pathname),
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    sent['x-amz-content-sha256'],
  ].join('\n');

  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = [ALGORITHM, stamp, scope, sha256Hex(canonicalRequest)].join('\n');
  const signature = crypto
    .createHmac('sha256', signingKey(credentials.secretAccessKey, day, region, service))
    .update(stringToSign, 'utf8')
    .digest('hex');
  sent.authorization =
    `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return { url: target.toString(), headers: sent, canonicalRequest, stringToSign };
}

module.exports = { signRequest, canonicalPath, canonicalQueryPairs, uriEncode };
