import { useCallback, useEffect, useState } from 'react';

export default function ReadyStatus({ api }) {
  const [state, setState] = useState({ status: 'checking', detail: '' });

  const check = useCallback(async () => {
    setState({ status: 'checking', detail: '' });
    try {
      const body = await api.ready();
      const embedding = body.embedding || {};
      const detail = [embedding.provider, embedding.store].filter(Boolean).join(' · ');
      setState({ status: 'ready', detail });
    } catch (err) {
      setState({ status: 'not_ready', detail: err.message });
    }
  }, [api]);

  useEffect(() => {
    check();
  }, [check]);

  const label = { checking: 'Checking API…', ready: 'API ready', not_ready: 'API not ready' }[state.status];
  return (
    <div className="ready">
      <p className={`status status-${state.status}`} role="status" data-testid="api-status" data-status={state.status}>
        <span className="dot" aria-hidden="true" />
        {label}
        {state.detail && <span className="status-detail">: {state.detail}</span>}
      </p>
      <button type="button" className="secondary" onClick={check} disabled={state.status === 'checking'}>
        Check again
      </button>
    </div>
  );
}
