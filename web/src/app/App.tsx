// The shell: sign-in gate, header, and the page the hash route names.
import { useCallback, useEffect, useRef, useState } from 'react';
import { Provider } from 'urql';
import { Feed } from './Feed';
import { GeneratePage } from './GeneratePage';
import { ImagePage } from './ImagePage';
import { useRoute, type Route } from './route';
import { endSession, logIn, signIn, storedToken, type Session } from './session';
import { SignIn } from './SignIn';
import { TokensPage } from './TokensPage';
import { UsersPage } from './UsersPage';
import { UsagePage } from './UsagePage';
import { BenchmarkPage } from './BenchmarkPage';

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [restoring, setRestoring] = useState(() => storedToken() !== '');
  const [notice, setNotice] = useState('');
  const sessionRef = useRef<Session | null>(null);
  sessionRef.current = session;

  const signOut = useCallback(async (message = '') => {
    const ending = sessionRef.current;
    // First, so the refusals of requests still in flight do not sign out twice.
    sessionRef.current = null;
    const problem = ending ? await endSession(ending) : '';
    setSession(null);
    setNotice(problem || message);
  }, []);

  // The service stopped accepting the token (revoked, the user disabled, or the
  // database was reset).
  const onUnauthenticated = useCallback(() => {
    if (sessionRef.current) {
      void signOut(
        'You were signed out: the service no longer accepts this sign-in. Sign in again.',
      );
    }
  }, [signOut]);

  const start = useCallback(
    async (token: string, tokenId?: string | null) => {
      const next = await signIn(token, onUnauthenticated, tokenId);
      setNotice('');
      setSession(next);
    },
    [onUnauthenticated],
  );

  const startWithPassword = useCallback(
    async (name: string, password: string) => {
      const { token, tokenId } = await logIn(name, password);
      await start(token, tokenId);
    },
    [start],
  );

  // A token kept from an earlier visit: check it is still good.
  useEffect(() => {
    if (!restoring) return;
    start(storedToken())
      .catch((error: Error) => setNotice(error.message))
      .finally(() => setRestoring(false));
  }, [restoring, start]);

  if (restoring) return <p className="loading">Signing in…</p>;
  if (!session) {
    return (
      <SignIn
        onPassword={startWithPassword}
        onToken={(token) => start(token, null)}
        notice={notice}
      />
    );
  }

  return (
    <Provider value={session.api.client}>
      <Shell session={session} onSignOut={() => void signOut('You are signed out.')} />
    </Provider>
  );
}

function Shell({ session, onSignOut }: { session: Session; onSignOut(): void }) {
  const route = useRoute();
  const admin = session.viewer.role === 'ADMIN';
  const current = (page: Route['page']) => (route.page === page ? 'page' : undefined);
  return (
    <>
      <header className="topbar">
        <a className="brand" href="#/">
          imagegraph
        </a>
        <nav aria-label="Pages">
          <a href="#/" aria-current={current('feed')}>
            Images
          </a>
          <a href="#/generate" aria-current={current('generate')}>
            Generate
          </a>
          <a href="#/tokens" aria-current={current('tokens')}>
            Tokens
          </a>
          {admin && (
            <a href="#/users" aria-current={current('users')}>
              Users
            </a>
          )}
          <a href="#/usage" aria-current={current('usage')}>
            Usage
          </a>
          <a href="#/benchmark" aria-current={current('benchmark')}>
            Benchmark
          </a>
          <a href="/">GraphiQL</a>
        </nav>
        <span className="viewer">
          <strong className="viewer-name">{session.viewer.name}</strong>
          {admin && <span className="role"> (admin)</span>}
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main>
        {route.page === 'image' ? (
          <ImagePage key={route.id} id={route.id} />
        ) : route.page === 'generate' ? (
          <GeneratePage />
        ) : route.page === 'tokens' ? (
          <TokensPage currentTokenId={session.tokenId} onRevokedCurrent={onSignOut} />
        ) : route.page === 'usage' ? (
          <UsagePage viewerId={session.viewer.id} admin={admin} />
        ) : route.page === 'benchmark' ? (
          <BenchmarkPage admin={admin} />
        ) : route.page === 'users' ? (
          admin ? (
            <UsersPage viewerId={session.viewer.id} />
          ) : (
            <p className="error" role="alert">
              Only admins can manage users.
            </p>
          )
        ) : (
          <Feed find={route.find} viewerId={session.viewer.id} />
        )}
      </main>
    </>
  );
}
