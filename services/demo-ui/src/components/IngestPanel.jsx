import { useId, useState } from 'react';

function summarize(result) {
  const docs = (result.documents || []).map((d) => `${d.id} (${d.chunks} chunk${d.chunks === 1 ? '' : 's'})`);
  return (
    `${result.chunks_upserted} chunks upserted, ${result.chunks_unchanged} unchanged, ${result.chunks_deleted} deleted` +
    (docs.length ? ` — ${docs.join(', ')}` : '')
  );
}

export default function IngestPanel({ api }) {
  const [text, setText] = useState('');
  const [title, setTitle] = useState('');
  const [docId, setDocId] = useState('');
  const [loading, setLoading] = useState(false);
  const [result, setResult] = useState(null);
  const [error, setError] = useState('');
  const baseId = useId();

  async function onSubmit(event) {
    event.preventDefault();
    if (!api || !text.trim()) return;
    const document = { text };
    if (docId.trim()) document.id = docId.trim();
    if (title.trim()) document.metadata = { title: title.trim() };
    setLoading(true);
    setError('');
    try {
      setResult(await api.ingest({ documents: [document] }));
    } catch (err) {
      setResult(null);
      setError(err.message);
    } finally {
      setLoading(false);
    }
  }

  return (
    <section className="panel" aria-labelledby={`${baseId}-heading`}>
      <h2 id={`${baseId}-heading`}>Add a document</h2>
      <form onSubmit={onSubmit}>
        <div className="form-grid">
          <div>
            <label htmlFor={`${baseId}-title`}>Title (optional)</label>
            <input id={`${baseId}-title`} data-testid="ingest-title" value={title} onChange={(e) => setTitle(e.target.value)} />
          </div>
          <div>
            <label htmlFor={`${baseId}-id`}>Document id (optional)</label>
            <input
              id={`${baseId}-id`}
              data-testid="ingest-id"
              value={docId}
              onChange={(e) => setDocId(e.target.value)}
              aria-describedby={`${baseId}-id-hint`}
            />
            <p id={`${baseId}-id-hint`} className="hint">
              Re-using an id replaces that document; unchanged chunks are skipped.
            </p>
          </div>
        </div>
        <label htmlFor={`${baseId}-text`}>Text</label>
        <textarea
          id={`${baseId}-text`}
          data-testid="ingest-text"
          rows={8}
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="Paste the text to make searchable"
          required
        />
        <div className="form-row">
          <span className="muted">{text.length.toLocaleString('en')} characters</span>
          <button type="submit" data-testid="ingest-button" disabled={!api || loading || !text.trim()}>
            {loading ? 'Ingesting…' : 'Ingest'}
          </button>
        </div>
      </form>
      <div aria-live="polite" aria-busy={loading}>
        {error && (
          <p className="error" role="alert" data-testid="ingest-error">
            {error}
          </p>
        )}
        {result && (
          <p className="success" data-testid="ingest-result">
            {summarize(result)}
          </p>
        )}
      </div>
    </section>
  );
}
