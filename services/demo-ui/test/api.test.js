import { describe, expect, it, vi } from 'vitest';

import { ApiError, createApi, loadRuntimeConfig } from '../src/api.js';

function respond(status, body) {
  return vi.fn(async () => new Response(typeof body === 'string' ? body : JSON.stringify(body), { status }));
}

describe('loadRuntimeConfig', () => {
  it('reads apiBaseUrl and drops trailing slashes', async () => {
    const fetchImpl = respond(200, { apiBaseUrl: ' https://api.example.test// ' });
    expect(await loadRuntimeConfig(fetchImpl)).toEqual({ apiBaseUrl: 'https://api.example.test' });
    expect(fetchImpl).toHaveBeenCalledWith('./config.json', { cache: 'no-store' });
  });

  it('treats a missing apiBaseUrl as same origin', async () => {
    expect(await loadRuntimeConfig(respond(200, {}))).toEqual({ apiBaseUrl: '' });
  });
});

describe('createApi', () => {
  it('rejects non-JSON success bodies', async () => {
    const api = createApi('', respond(200, '<html></html>'));
    await expect(api.ready()).rejects.toThrow(/not JSON/);
  });

  it('carries status and field on errors', async () => {
    const api = createApi('', respond(400, { error: { type: 'validation_error', message: 'bad', field: 'question' } }));
    const error = await api.query('', 5).catch((err) => err);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(400);
    expect(error.field).toBe('question');
    expect(error.message).toBe('bad (field: question)');
  });

  it('falls back to the HTTP status when the error body says nothing', async () => {
    const api = createApi('', respond(504, 'gateway timeout'));
    await expect(api.ready()).rejects.toThrow('HTTP 504');
  });
});
