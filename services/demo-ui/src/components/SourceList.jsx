function formatScore(score) {
  return typeof score === 'number' ? score.toFixed(3) : 'n/a';
}

export default function SourceList({ sources }) {
  if (sources.length === 0) {
    return (
      <p className="muted" data-testid="no-sources">
        No sources.
      </p>
    );
  }
  return (
    <ol className="sources">
      {sources.map((source) => (
        <li key={source.id} className="source" data-testid="source">
          <div className="source-head">
            <span className="source-doc" data-testid="source-document">
              {source.metadata && source.metadata.title ? `${source.metadata.title} · ` : ''}
              {source.document_id}
            </span>
            <span className="score" data-testid="source-score" title="similarity score">
              score {formatScore(source.score)}
            </span>
          </div>
          <p className="source-text">{source.text}</p>
          <p className="source-id">chunk {source.id}</p>
        </li>
      ))}
    </ol>
  );
}
