// Uploads with a file picker or by dropping files, each sent with the GraphQL multipart
// request spec (urql turns a File in the variables into a multipart request).
import { useState, type DragEvent } from 'react';
import { useClient } from 'urql';
import { describeError } from './errors';
import { UPLOAD, type FeedImage } from './queries';

interface Upload {
  key: number;
  name: string;
  state: 'uploading' | 'done' | 'failed';
  message: string;
}

let nextKey = 0;

export function UploadForm({ onUploaded }: { onUploaded(image: FeedImage): void }) {
  const client = useClient();
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [dragging, setDragging] = useState(false);

  const update = (key: number, change: Partial<Upload>) =>
    setUploads((prev) => prev.map((u) => (u.key === key ? { ...u, ...change } : u)));

  async function upload(files: File[]) {
    for (const file of files) {
      const key = nextKey++;
      setUploads((prev) => [
        { key, name: file.name, state: 'uploading', message: 'uploading…' },
        ...prev.slice(0, 4),
      ]);
      const result = await client
        .mutation<{ uploadImage: { image: FeedImage } }>(UPLOAD, { file })
        .toPromise();
      const image = result.data?.uploadImage.image;
      if (image) {
        update(key, { state: 'done', message: 'uploaded' });
        onUploaded(image);
      } else {
        update(key, { state: 'failed', message: describeError(result.error) });
      }
    }
  }

  function onDrop(event: DragEvent) {
    event.preventDefault();
    setDragging(false);
    upload([...event.dataTransfer.files]);
  }

  return (
    <div
      className={`upload ${dragging ? 'dragging' : ''}`}
      onDragOver={(event) => {
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
    >
      <p>
        Drop images here, or{' '}
        <label className="file-button">
          choose files
          <input
            type="file"
            name="file"
            accept="image/jpeg,image/png,image/webp,image/gif"
            multiple
            onChange={(event) => {
              upload([...(event.target.files ?? [])]);
              event.target.value = '';
            }}
          />
        </label>
        . JPEG, PNG, WebP or GIF; each is described by the AI model once it is stored.
      </p>
      {uploads.length > 0 && (
        <ul className="uploads">
          {uploads.map((u) => (
            <li
              key={u.key}
              className={`upload-${u.state}`}
              role={u.state === 'failed' ? 'alert' : undefined}
            >
              <span className="upload-name">{u.name}</span>: {u.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
