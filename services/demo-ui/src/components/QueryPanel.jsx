import { useId, useState } from 'react';

import SourceList from './SourceList.jsx';

const MODE_LABELS = { openai: 'OpenAI', extractive: 'Extractive (no LLM)' };

export default function QueryPanel({ api }) {
  const [question, setQuestion] = useState('');
  const [k, setK] = useState(5);
  const [loading, setLoading] = useState(false);
  const [result, setResult] = useState(null);
  const [error, setError] = useState('');
  const questionId = useId();
  const kId = useId();

  async function onSubmit(event) {
    event.preventDefault();
    if (!api || !question.trim()) return;
    setLoading(true);
    setError('');
    try {
      setResult(await api.query(question.trim(), k));
    } catch (err) {
      setResult(null);
      setError(err.message);
    } finally {
      setLoading(false);
    }
  }

  return (
    <section className="panel" aria-labelledby={`${questionId}-heading`}>
      <h2 id={`${questionId}-heading`}>Ask</h2>
      <form onSubmit={onSubmit}>
        <label htmlFor={questionId}>Question</label>
        <textarea
          id={questionId}
          data-testid="question-input"
          rows={3}
          maxLength={2000}
          value={question}
          onChange={(e) => setQuestion(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) onSubmit(e);
          }}
          placeholder="What would you like to know?"
          required
        />
        <div className="form-row">
          <label htmlFor={kId} className="inline">
            Passages
            <input
              id={kId}
              data-testid="k-input"
              type="number"
              min={1}
              max={20}
              value={k}
              onChange={(e) => setK(Math.min(20, Math.max(1, Number(e.target.value) || 1)))}
            />
          </label>
          <button type="submit" data-testid="ask-button" disabled={!api || loading || !question.trim()}>
            {loading ? 'Asking…' : 'Ask'}
          </button>
        </div>
      </form>

      <div aria-live="polite" aria-busy={loading}>
        {error && (
          <p className="error" role="alert" data-testid="query-error">
            {error}
          </p>
        )}
        {result && (
          <article className="result">
            <div className="result-meta">
              <span className={`badge badge-${result.mode}`} data-testid="answer-mode">
                {MODE_LABELS[result.mode] || result.mode}
              </span>
              {result.timings && (
                <span className="timings" data-testid="timings">
                  search {result.timings.search_ms} ms · generate {result.timings.generate_ms} ms · total{' '}
                  {result.timings.total_ms} ms
                </span>
              )}
            </div>
            <h3>Answer</h3>
            <p className="answer" data-testid="answer">
              {result.answer}
            </p>
            <h3>Sources</h3>
            <SourceList sources={result.sources || []} />
          </article>
        )}
      </div>
    </section>
  );
}
