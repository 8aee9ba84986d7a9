// graphql-request, the smallest of the popular clients: a query, a mutation, and an error
// read from `extensions.code` as a client would.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { ClientError, GraphQLClient } from 'graphql-request';
import { ADD_COMMENT, IMAGE, UPLOAD_BASE64 } from '../lib/operations.mjs';
import { seedPng } from '../lib/png.mjs';
import { service } from '../lib/service.mjs';

const { graphqlUrl, authorization } = service();

describe('graphql-request', { timeout: 60_000 }, () => {
  const client = new GraphQLClient(graphqlUrl, { headers: { authorization } });
  let imageId;

  before(async () => {
    const data = await client.request(UPLOAD_BASE64, {
      b: `data:image/png;base64,${seedPng(200, 40, 30).toString('base64')}`,
      analyze: false,
    });
    imageId = data.uploadImage.image.id;
  });

  test('a query', async () => {
    const { image } = await client.request(IMAGE, { id: imageId });
    assert.equal(image.id, imageId);
    assert.deepEqual([image.width, image.height], [40, 30]);
    assert.equal(image.owner.name, 'admin');
    assert.equal(image.commentCount, 0);
  });

  test('a mutation', async () => {
    const { addComment } = await client.request(ADD_COMMENT, { imageId, text: 'Nice light' });
    assert.equal(addComment.comment.text, 'Nice light');
    assert.equal(addComment.comment.author.name, 'admin');
    assert.equal(addComment.comment.image.id, imageId);
    const { image } = await client.request(IMAGE, { id: imageId });
    assert.equal(image.commentCount, 1);
  });

  test('an error carries extensions.code', async () => {
    const error = await client.request(ADD_COMMENT, { imageId, text: '   ' }).then(
      () => assert.fail('a blank comment was accepted'),
      (error) => error,
    );
    assert.ok(error instanceof ClientError, String(error));
    const [first] = error.response.errors;
    assert.equal(first.extensions.code, 'BAD_USER_INPUT');
    assert.deepEqual(first.path, ['addComment']);
  });
});
