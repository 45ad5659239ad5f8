import { vi } from 'vitest';

function jsonResponse(status, body) {
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

// Stubs global fetch; `routes` maps "METHOD url" to {status, body}, a
// function of the parsed request body, or an Error to reject with.
export function mockFetch(routes) {
  const fetchMock = vi.fn(async (url, options = {}) => {
    const method = (options.method || 'GET').toUpperCase();
    const route = routes[`${method} ${url}`];
    if (route === undefined) return jsonResponse(404, { error: { type: 'not_found', message: `unmocked ${method} ${url}` } });
    const answer = typeof route === 'function' ? route(options.body ? JSON.parse(options.body) : undefined) : route;
    if (answer instanceof Error) throw answer;
    return jsonResponse(answer.status ?? 200, answer.body);
  });
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}

export function callsTo(fetchMock, url) {
  return fetchMock.mock.calls.filter(([calledUrl]) => calledUrl === url);
}

export const READY = { status: 200, body: { status: 'ready', embedding: { provider: 'hashing', store: 'local' } } };
