// An image's comments, newest first, a page at a time ("Load more"), and the form to
// add one.
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { describeError } from './errors';
import { ADD_COMMENT, COMMENTS, type Comment, type Connection } from './queries';

const PAGE_SIZE = 10;

export function Comments({ imageId }: { imageId: string }) {
  const client = useClient();
  const [comments, setComments] = useState<Comment[]>([]);
  const [totalCount, setTotalCount] = useState(0);
  const [hasNextPage, setHasNextPage] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState('');
  const cursor = useRef<string | null>(null);

  const loadMore = useCallback(async () => {
    setLoading(true);
    const result = await client
      .query<{ image: { comments: Connection<Comment> } | null }>(COMMENTS, {
        imageId,
        first: PAGE_SIZE,
        after: cursor.current,
      })
      .toPromise();
    setLoading(false);
    const page = result.data?.image?.comments;
    if (!page) {
      setError(describeError(result.error) || 'The comments could not be loaded.');
      return;
    }
    cursor.current = page.pageInfo.endCursor ?? cursor.current;
    setError('');
    setHasNextPage(page.pageInfo.hasNextPage);
    setTotalCount(page.totalCount);
    setComments((prev) => {
      const seen = new Set(prev.map((c) => c.id));
      return [...prev, ...page.nodes.filter((c) => !seen.has(c.id))];
    });
  }, [client, imageId]);

  useEffect(() => {
    cursor.current = null;
    setComments([]);
    loadMore();
  }, [loadMore]);

  const added = (comment: Comment) => {
    setComments((prev) => [comment, ...prev]);
    setTotalCount((n) => n + 1);
  };

  return (
    <section className="comments">
      <h2>
        Comments <span className="count">({totalCount})</span>
      </h2>
      <CommentForm imageId={imageId} onAdded={added} />
      <ul>
        {comments.map((c) => (
          <li key={c.id} className="comment">
            <p className="comment-text">{c.text}</p>
            <p className="comment-meta">
              {c.author.name}, {new Date(c.createdAt).toLocaleString()}
            </p>
          </li>
        ))}
      </ul>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {hasNextPage && (
        <button type="button" className="load-more" onClick={loadMore} disabled={loading}>
          {loading ? 'Loading…' : 'Load more comments'}
        </button>
      )}
    </section>
  );
}

function CommentForm({ imageId, onAdded }: { imageId: string; onAdded(comment: Comment): void }) {
  const client = useClient();
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    const result = await client
      .mutation<{ addComment: { comment: Comment } }>(ADD_COMMENT, { imageId, text })
      .toPromise();
    setBusy(false);
    const comment = result.data?.addComment.comment;
    if (comment) {
      onAdded(comment);
      setText('');
      setError('');
    } else {
      setError(describeError(result.error));
    }
  }

  return (
    <form className="comment-form" onSubmit={submit}>
      <label>
        Add a comment
        <textarea
          name="comment"
          value={text}
          maxLength={5000}
          rows={3}
          onChange={(e) => setText(e.target.value)}
        />
      </label>
      <button type="submit" disabled={busy || text.trim() === ''}>
        {busy ? 'Posting…' : 'Post comment'}
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
