import { useEffect, useState } from 'react';

import { createApi, loadRuntimeConfig } from './api.js';
import IngestPanel from './components/IngestPanel.jsx';
import QueryPanel from './components/QueryPanel.jsx';
import ReadyStatus from './components/ReadyStatus.jsx';

export default function App() {
  const [api, setApi] = useState(null);
  const [apiBaseUrl, setApiBaseUrl] = useState('');
  const [configError, setConfigError] = useState('');

  useEffect(() => {
    let cancelled = false;
    loadRuntimeConfig()
      .then((config) => {
        if (cancelled) return;
        setApiBaseUrl(config.apiBaseUrl);
        setApi(createApi(config.apiBaseUrl));
      })
      .catch((err) => {
        if (cancelled) return;
        // Still usable when the API sits behind the same origin as the UI.
        setConfigError(`${err.message}; calling the API on this site instead.`);
        setApi(createApi(''));
      });
    return () => {
      cancelled = true;
    };
  }, []);

  return (
    <div className="page">
      <header className="page-header">
        <div>
          <h1>ragstack demo</h1>
          <p className="subtitle">Ask questions over your documents and see which passages the answer came from.</p>
        </div>
        {api ? <ReadyStatus api={api} apiBaseUrl={apiBaseUrl} /> : <p className="status status-checking">Loading configuration…</p>}
      </header>
      {configError && (
        <p className="notice" role="status" data-testid="config-error">
          {configError}
        </p>
      )}
      <main className="panels">
        <QueryPanel api={api} />
        <IngestPanel api={api} />
      </main>
      <footer className="page-footer">
        <p>
          API: <code>{apiBaseUrl || 'same origin'}</code>
        </p>
      </footer>
    </div>
  );
}
