// Admins only: every user (newest first, a page at a time), a form for a new one, and
// per user a role and an enable/disable switch. The service refuses to demote or
// disable the last active admin; its sentence is shown on that row.
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { describeError } from './errors';
import { CREATE_USER, UPDATE_USER, USERS, type Connection, type Role, type User } from './queries';

// Twenty rows, then "Load more users" (the service allows up to 30 a page).
const PAGE = 20;

export function UsersPage({ viewerId }: { viewerId: string }) {
  const client = useClient();
  const [users, setUsers] = useState<User[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [hasNext, setHasNext] = useState(false);
  const [error, setError] = useState('');
  const [rowErrors, setRowErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState<Record<string, boolean>>({});
  const cursor = useRef<string | null>(null);
  const loading = useRef(false);
  // After "Load more users", the first of the new rows takes the focus: the button may
  // be gone (the last page), and the reader goes on where the new rows start.
  const [focusUser, setFocusUser] = useState<string | null>(null);
  const rowHeads = useRef(new Map<string, HTMLTableCellElement>());

  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('MEMBER');
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState('');
  const [createdName, setCreatedName] = useState('');

  const loadMore = useCallback(
    async (focusNew = false) => {
      if (loading.current) return;
      loading.current = true;
      const result = await client
        .query<{ users: Connection<User> }>(USERS, { first: PAGE, after: cursor.current })
        .toPromise();
      loading.current = false;
      if (!result.data) {
        setError(describeError(result.error));
        return;
      }
      const { nodes, pageInfo, totalCount } = result.data.users;
      cursor.current = pageInfo.endCursor ?? cursor.current;
      setError('');
      setTotal(totalCount);
      setHasNext(pageInfo.hasNextPage);
      setUsers((prev) => {
        const seen = new Set(prev.map((user) => user.id));
        const fresh = nodes.filter((user) => !seen.has(user.id));
        if (focusNew && fresh.length > 0) setFocusUser(fresh[0].id);
        return [...prev, ...fresh];
      });
    },
    [client],
  );

  useEffect(() => {
    if (!focusUser) return;
    rowHeads.current.get(focusUser)?.focus();
    setFocusUser(null);
  }, [focusUser, users]);

  useEffect(() => {
    void loadMore();
  }, [loadMore]);

  async function create(event: FormEvent) {
    event.preventDefault();
    setCreating(true);
    setCreateError('');
    setCreatedName('');
    const result = await client
      .mutation<{ createUser: { user: User } }>(CREATE_USER, {
        input: { name: name.trim(), password, role },
      })
      .toPromise();
    setCreating(false);
    const user = result.data?.createUser.user;
    if (!user) {
      setCreateError(describeError(result.error));
      return;
    }
    setUsers((prev) => [user, ...prev]);
    setTotal((count) => (count === null ? null : count + 1));
    setCreatedName(user.name);
    setName('');
    setPassword('');
    setRole('MEMBER');
  }

  async function update(user: User, change: { role?: Role; disabled?: boolean }) {
    setBusy((prev) => ({ ...prev, [user.id]: true }));
    setRowErrors((prev) => ({ ...prev, [user.id]: '' }));
    const result = await client
      .mutation<{ updateUser: { user: User } }>(UPDATE_USER, { input: { id: user.id, ...change } })
      .toPromise();
    setBusy((prev) => ({ ...prev, [user.id]: false }));
    const updated = result.data?.updateUser.user;
    if (!updated) {
      setRowErrors((prev) => ({ ...prev, [user.id]: describeError(result.error) }));
      return;
    }
    setUsers((prev) => prev.map((other) => (other.id === updated.id ? updated : other)));
  }

  return (
    <section className="users-page">
      <h1>Users {total !== null && <span className="count">({total})</span>}</h1>
      <form className="inline-form" onSubmit={create} aria-label="New user">
        <label>
          Name
          <input
            name="newUserName"
            autoComplete="off"
            autoCapitalize="none"
            spellCheck={false}
            maxLength={64}
            pattern="[A-Za-z0-9._\-]+"
            title="Letters, digits, '-', '_' and '.'"
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            name="newUserPassword"
            type="password"
            autoComplete="new-password"
            minLength={10}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        <label>
          Role
          <select name="newUserRole" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            <option value="MEMBER">Member</option>
            <option value="ADMIN">Admin</option>
          </select>
        </label>
        <button type="submit" disabled={creating}>
          Create user
        </button>
      </form>
      {createError && (
        <p className="error" role="alert">
          {createError}
        </p>
      )}
      {createdName && (
        <p className="hint" role="status">
          {createdName} can now sign in with that password.
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="table-scroll">
        <table className="users stacking">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {users.map((user) => (
              <tr
                key={user.id}
                data-user-name={user.name}
                className={user.disabled ? 'disabled' : ''}
              >
                <th
                  scope="row"
                  tabIndex={-1}
                  ref={(cell) => {
                    if (cell) rowHeads.current.set(user.id, cell);
                    else rowHeads.current.delete(user.id);
                  }}
                >
                  {user.name}
                  {user.id === viewerId && <span className="hint"> (you)</span>}
                  {rowErrors[user.id] && (
                    <span className="error row-error" role="alert">
                      {rowErrors[user.id]}
                    </span>
                  )}
                </th>
                <td data-label="Role">
                  <select
                    aria-label={`Role of ${user.name}`}
                    value={user.role}
                    disabled={busy[user.id]}
                    onChange={(e) => void update(user, { role: e.target.value as Role })}
                  >
                    <option value="MEMBER">Member</option>
                    <option value="ADMIN">Admin</option>
                  </select>
                </td>
                <td>
                  <span className="user-status">{user.disabled ? 'Disabled' : 'Active'}</span>{' '}
                  <button
                    type="button"
                    disabled={busy[user.id]}
                    onClick={() => void update(user, { disabled: !user.disabled })}
                  >
                    {user.disabled ? 'Enable' : 'Disable'}
                    <span className="visually-hidden"> {user.name}</span>
                  </button>
                </td>
                <td data-label="Created">
                  {new Date(user.createdAt).toLocaleDateString(undefined, { dateStyle: 'medium' })}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {hasNext && (
        <button type="button" className="load-more" onClick={() => void loadMore(true)}>
          Load more users
        </button>
      )}
    </section>
  );
}
