import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import App from '../src/App.jsx';
import { callsTo, mockFetch, READY } from './fetch_mock.js';

const API = 'https://api.example.test';

const QUERY_RESULT = {
  answer: 'Extractive answer (no language model configured; quoted from the top passages): Lava flows far. [1]',
  mode: 'extractive',
  sources: [
    { id: 'volcano#0', document_id: 'volcano', text: 'Lava flows far.', score: 0.91234, metadata: { title: 'Volcanoes' } },
    { id: 'ocean#1', document_id: 'ocean', text: 'The Pacific is large.', score: 0.4, metadata: {} },
  ],
  timings: { search_ms: 12.3, generate_ms: 0.4, total_ms: 13 },
};

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

async function renderReady(routes) {
  const fetchMock = mockFetch({
    'GET ./config.json': { body: { apiBaseUrl: `${API}/` } },
    [`GET ${API}/api/ready`]: READY,
    ...routes,
  });
  render(<App />);
  await waitFor(() => expect(screen.getByTestId('api-status').dataset.status).toBe('ready'));
  return fetchMock;
}

function ask(question) {
  fireEvent.change(screen.getByTestId('question-input'), { target: { value: question } });
  fireEvent.click(screen.getByTestId('ask-button'));
}

describe('App', () => {
  it('renders both panels with their controls', async () => {
    await renderReady({});
    expect(screen.getByRole('heading', { name: 'ragstack demo' })).toBeTruthy();
    expect(screen.getByLabelText('Question')).toBe(screen.getByTestId('question-input'));
    expect(screen.getByLabelText('Text')).toBe(screen.getByTestId('ingest-text'));
    expect(screen.getByTestId('ask-button').disabled).toBe(true);
    expect(screen.getByTestId('ingest-button').disabled).toBe(true);
  });

  it('loads config.json first and calls the API at its apiBaseUrl', async () => {
    const fetchMock = await renderReady({});
    expect(fetchMock.mock.calls[0][0]).toBe('./config.json');
    expect(callsTo(fetchMock, `${API}/api/ready`)).toHaveLength(1);
    expect(screen.getByTestId('api-status').textContent).toMatch(/API ready.*hashing · local/);
    expect(screen.getByText(API)).toBeTruthy();
  });

  it('falls back to the same origin, visibly, when config.json is missing', async () => {
    const fetchMock = mockFetch({ 'GET ./config.json': { status: 404, body: {} }, 'GET /api/ready': READY });
    render(<App />);
    await waitFor(() => expect(screen.getByTestId('api-status').dataset.status).toBe('ready'));
    expect(screen.getByTestId('config-error').textContent).toMatch(/config\.json could not be loaded \(HTTP 404\)/);
    expect(callsTo(fetchMock, '/api/ready')).toHaveLength(1);
  });

  it('shows why the API is not ready and checks again on request', async () => {
    let ready = { status: 503, body: { status: 'not_ready', reason: 'embedding service unreachable (ECONNREFUSED)' } };
    const fetchMock = mockFetch({
      'GET ./config.json': { body: { apiBaseUrl: API } },
      [`GET ${API}/api/ready`]: () => ready,
    });
    render(<App />);
    await waitFor(() => expect(screen.getByTestId('api-status').dataset.status).toBe('not_ready'));
    expect(screen.getByTestId('api-status').textContent).toMatch(/API not ready: embedding service unreachable \(ECONNREFUSED\)/);
    ready = READY;
    fireEvent.click(screen.getByRole('button', { name: 'Check again' }));
    await waitFor(() => expect(screen.getByTestId('api-status').dataset.status).toBe('ready'));
    expect(callsTo(fetchMock, `${API}/api/ready`)).toHaveLength(2);
  });

  it('asks a question and renders the answer, mode, sources and scores', async () => {
    const fetchMock = await renderReady({ [`POST ${API}/api/query`]: { body: QUERY_RESULT } });
    fireEvent.change(screen.getByTestId('k-input'), { target: { value: '3' } });
    ask('  How far does lava flow?  ');

    const answer = await screen.findByTestId('answer');
    expect(answer.textContent).toBe(QUERY_RESULT.answer);
    expect(screen.getByTestId('answer-mode').textContent).toBe('Extractive (no LLM)');
    expect(screen.getByTestId('timings').textContent).toMatch(/search 12\.3 ms/);
    const sources = screen.getAllByTestId('source');
    expect(sources).toHaveLength(2);
    expect(within(sources[0]).getByTestId('source-document').textContent).toBe('Volcanoes · volcano');
    expect(within(sources[0]).getByTestId('source-score').textContent).toBe('score 0.912');
    expect(within(sources[0]).getByText('Lava flows far.')).toBeTruthy();
    expect(within(sources[1]).getByTestId('source-document').textContent).toBe('ocean');
    expect(within(sources[1]).getByTestId('source-score').textContent).toBe('score 0.400');

    const [, options] = callsTo(fetchMock, `${API}/api/query`)[0];
    expect(options.method).toBe('POST');
    expect(options.headers['content-type']).toBe('application/json');
    expect(JSON.parse(options.body)).toEqual({ question: 'How far does lava flow?', k: 3 });
  });

  it('labels OpenAI answers and says when there are no sources', async () => {
    await renderReady({
      [`POST ${API}/api/query`]: {
        body: { answer: 'No relevant documents were found.', mode: 'openai', sources: [], timings: QUERY_RESULT.timings },
      },
    });
    ask('Anything?');
    expect((await screen.findByTestId('answer-mode')).textContent).toBe('OpenAI');
    expect(screen.getByTestId('no-sources')).toBeTruthy();
    expect(screen.queryAllByTestId('source')).toHaveLength(0);
  });

  it('shows API errors from a query instead of swallowing them', async () => {
    await renderReady({
      [`POST ${API}/api/query`]: {
        status: 502,
        body: { error: { type: 'upstream_error', message: 'embedding service /search returned HTTP 500: boom' } },
      },
    });
    ask('Will this fail?');
    const alert = await screen.findByTestId('query-error');
    expect(alert.getAttribute('role')).toBe('alert');
    expect(alert.textContent).toBe('embedding service /search returned HTTP 500: boom');
    expect(screen.queryByTestId('answer')).toBeNull();
  });

  it('names the field of a validation error', async () => {
    await renderReady({
      [`POST ${API}/api/query`]: {
        status: 400,
        body: { error: { type: 'validation_error', message: 'k must be an integer between 1 and 20', field: 'k' } },
      },
    });
    ask('q');
    expect((await screen.findByTestId('query-error')).textContent).toBe('k must be an integer between 1 and 20 (field: k)');
  });

  it('reports a network failure with the URL it tried', async () => {
    await renderReady({ [`POST ${API}/api/query`]: new TypeError('Failed to fetch') });
    ask('q');
    expect((await screen.findByTestId('query-error')).textContent).toBe(
      `Could not reach the API at ${API}/api/query: Failed to fetch`,
    );
  });

  it('ingests pasted text with title and id and shows the chunk counts', async () => {
    const fetchMock = await renderReady({
      [`POST ${API}/api/documents`]: {
        body: { documents: [{ id: 'faq', chunks: 4 }], chunks_upserted: 3, chunks_unchanged: 1, chunks_deleted: 0 },
      },
    });
    fireEvent.change(screen.getByTestId('ingest-title'), { target: { value: ' FAQ ' } });
    fireEvent.change(screen.getByTestId('ingest-id'), { target: { value: 'faq' } });
    fireEvent.change(screen.getByTestId('ingest-text'), { target: { value: 'Question one. Answer one.' } });
    fireEvent.click(screen.getByTestId('ingest-button'));

    const result = await screen.findByTestId('ingest-result');
    expect(result.textContent).toBe('3 chunks upserted, 1 unchanged, 0 deleted — faq (4 chunks)');
    const [, options] = callsTo(fetchMock, `${API}/api/documents`)[0];
    expect(JSON.parse(options.body)).toEqual({
      documents: [{ id: 'faq', text: 'Question one. Answer one.', metadata: { title: 'FAQ' } }],
    });
  });

  it('ingests text alone without id or metadata', async () => {
    const fetchMock = await renderReady({
      [`POST ${API}/api/documents`]: (body) => ({
        body: { documents: [{ id: 'generated', chunks: 1 }], chunks_upserted: 1, chunks_unchanged: 0, chunks_deleted: 0, echo: body },
      }),
    });
    fireEvent.change(screen.getByTestId('ingest-text'), { target: { value: 'Just text.' } });
    fireEvent.click(screen.getByTestId('ingest-button'));
    await screen.findByTestId('ingest-result');
    const [, options] = callsTo(fetchMock, `${API}/api/documents`)[0];
    expect(JSON.parse(options.body)).toEqual({ documents: [{ text: 'Just text.' }] });
  });

  it('shows ingest errors', async () => {
    await renderReady({
      [`POST ${API}/api/documents`]: { status: 413, body: { error: { type: 'payload_too_large', message: 'request body exceeds 1048576 bytes' } } },
    });
    fireEvent.change(screen.getByTestId('ingest-text'), { target: { value: 'big' } });
    fireEvent.click(screen.getByTestId('ingest-button'));
    expect((await screen.findByTestId('ingest-error')).textContent).toBe('request body exceeds 1048576 bytes');
    expect(screen.queryByTestId('ingest-result')).toBeNull();
  });
});
