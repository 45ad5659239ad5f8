'use strict';

const { UpstreamError, UpstreamTimeoutError } = require('./errors');

function describeNetworkError(err) {
  const cause = err && err.cause;
  return (cause && (cause.code || cause.message)) || err.message || 'network error';
}

function upstreamMessage(body) {
  if (body && typeof body === 'object') {
    if (body.error && typeof body.error === 'object' && body.error.message) return body.error.message;
    if (typeof body.error === 'string') return body.error;
    if (typeof body.reason === 'string') return body.reason;
    if (typeof body.detail === 'string') return body.detail;
    // API Gateway's own answers (403 from AWS_IAM routes, 429, 504): {"message": ...}.
    if (typeof body.message === 'string') return body.message;
  }
  return undefined;
}

// fetch with a hard deadline covering connect, headers and body. Resolves to
// {status, body} for any HTTP answer; rejects with UpstreamTimeoutError or
// UpstreamError (network failure, non-JSON body) so callers never hang.
// `sign` ({method, url, headers, body}) => {url, headers} signs the exact
// request sent: the serialized body bytes, the URL with its query string.
async function requestJson(url, { method = 'GET', body, headers = {}, timeoutMs, name, sign }) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const timedOut = () => new UpstreamTimeoutError(`${name} did not answer within ${timeoutMs} ms`);
  const contentType = body === undefined ? {} : { 'content-type': 'application/json' };
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
  let request = { url, headers: { accept: 'application/json', ...contentType, ...headers } };
  try {
    if (sign) {
      try {
        request = sign({ method, url, headers: request.headers, body: payload });
      } catch (err) {
        throw new UpstreamError(`${name} request could not be signed (${err.message})`);
      }
    }
    let response;
    try {
      response = await fetch(request.url, {
        method,
        headers: request.headers,
        body: payload,
        signal: controller.signal,
      });
    } catch (err) {
      if (controller.signal.aborted) throw timedOut();
      throw new UpstreamError(`${name} unreachable (${describeNetworkError(err)})`);
    }
    let text;
    try {
      text = await response.text();
    } catch (err) {
      if (controller.signal.aborted) throw timedOut();
      throw new UpstreamError(`${name} response could not be read (${describeNetworkError(err)})`);
    }
    let parsed;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new UpstreamError(`${name} returned a non-JSON response (HTTP ${response.status})`);
    }
    return { status: response.status, body: parsed };
  } finally {
    clearTimeout(timer);
  }
}

module.exports = { requestJson, upstreamMessage };
