// Everything the UI knows about the server: where it is (config.json, read at
// runtime so one build serves every deployment) and how its errors look.

export class ApiError extends Error {
  constructor(message, { status, field } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.field = field;
  }
}

export async function loadRuntimeConfig(fetchImpl = globalThis.fetch) {
  const response = await fetchImpl('./config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json could not be loaded (HTTP ${response.status})`);
  const config = await response.json();
  const apiBaseUrl = typeof config.apiBaseUrl === 'string' ? config.apiBaseUrl.trim().replace(/\/+$/, '') : '';
  return { apiBaseUrl };
}

function errorMessage(status, body) {
  if (body && typeof body === 'object') {
    if (body.error && typeof body.error === 'object' && body.error.message) {
      return body.error.field ? `${body.error.message} (field: ${body.error.field})` : body.error.message;
    }
    if (typeof body.reason === 'string') return body.reason;
  }
  return `HTTP ${status}`;
}

export function createApi(apiBaseUrl, fetchImpl = globalThis.fetch) {
  async function call(path, { method = 'GET', body } = {}) {
    const url = `${apiBaseUrl}${path}`;
    let response;
    try {
      response = await fetchImpl(url, {
        method,
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(`Could not reach the API at ${url || '/'}: ${err.message}`);
    }
    let parsed;
    try {
      parsed = await response.json();
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = new ApiError(`${errorMessage(response.status, parsed)}`, {
        status: response.status,
        field: parsed && parsed.error && parsed.error.field,
      });
      error.body = parsed;
      throw error;
    }
    if (parsed === undefined) throw new ApiError(`The API answered ${path} with something that is not JSON`, { status: response.status });
    return parsed;
  }

  return {
    query: (question, k) => call('/api/query', { method: 'POST', body: { question, k } }),
    ingest: (payload) => call('/api/documents', { method: 'POST', body: payload }),
    ready: () => call('/api/ready'),
  };
}
