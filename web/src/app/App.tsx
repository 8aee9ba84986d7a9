// The shell: sign-in gate, header, and the page the hash route names.
import { useCallback, useEffect, useRef, useState } from 'react';
import { Provider } from 'urql';
import { Feed } from './Feed';
import { ImagePage } from './ImagePage';
import { useRoute } from './route';
import { forgetToken, signIn, storedToken, type Session } from './session';
import { SignIn } from './SignIn';

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [restoring, setRestoring] = useState(() => storedToken() !== '');
  const [notice, setNotice] = useState('');
  const sessionRef = useRef<Session | null>(null);
  sessionRef.current = session;

  const signOut = useCallback((message = '') => {
    sessionRef.current?.api.dispose();
    sessionRef.current = null;
    forgetToken();
    setSession(null);
    setNotice(message);
  }, []);

  // The service stopped accepting the token (revoked, or the database was reset).
  const onUnauthenticated = useCallback(() => {
    if (sessionRef.current) {
      signOut('Your token is no longer accepted. Sign in again with a valid API token.');
    }
  }, [signOut]);

  const start = useCallback(
    async (token: string) => {
      const next = await signIn(token, onUnauthenticated);
      setNotice('');
      setSession(next);
    },
    [onUnauthenticated],
  );

  // A token kept from an earlier visit: check it is still good.
  useEffect(() => {
    if (!restoring) return;
    start(storedToken())
      .catch((error: Error) => setNotice(error.message))
      .finally(() => setRestoring(false));
  }, [restoring, start]);

  if (restoring) return <p className="loading">Signing in…</p>;
  if (!session) return <SignIn onSignIn={start} notice={notice} />;

  return (
    <Provider value={session.api.client}>
      <header className="topbar">
        <a className="brand" href="#/">
          imagegraph
        </a>
        <span className="viewer">
          Signed in as <strong className="viewer-name">{session.viewer.name}</strong>
        </span>
        <a href="/">GraphiQL</a>
        <button type="button" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <main>
        <Routed />
      </main>
    </Provider>
  );
}

function Routed() {
  const route = useRoute();
  return route.page === 'image' ? <ImagePage key={route.id} id={route.id} /> : <Feed />;
}
