// Relay global object identification and the specification's input coercion, as
// Relay, Apollo and urql expect them (issue 17): opaque global ids that carry their type,
// `node` and `nodes`, ids of the wrong type refused, and absent variables taking input
// field defaults.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  ADD_COMMENT,
  EDIT_WITH_OPTIONAL_SAVE,
  IMAGE,
  NODE,
  NODES,
  UPLOAD_BASE64,
} from '../lib/operations.mjs';
import { seedPng } from '../lib/png.mjs';
import { globalId, parseGlobalId, uuidv7 } from '../lib/relay-id.mjs';
import { service } from '../lib/service.mjs';

const { graphqlUrl, authorization } = service();

/** The whole response body, errors and all. */
async function post(query, variables = {}) {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  return { status: response.status, ...body };
}

async function data(query, variables) {
  const body = await post(query, variables);
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

const codes = (body) => (body.errors ?? []).map((e) => e.extensions?.code);

describe('Relay identification and input coercion', { timeout: 60_000 }, () => {
  let imageId;
  let commentId;

  before(async () => {
    const upload = await data(UPLOAD_BASE64, {
      b: seedPng(300, 30, 20).toString('base64'),
      analyze: false,
    });
    imageId = upload.uploadImage.image.id;
    const comment = await data(ADD_COMMENT, { imageId, text: 'for the ids' });
    commentId = comment.addComment.comment.id;
  });

  test('ids are base64url Relay global ids of TypeName:uuid', () => {
    assert.match(imageId, /^[A-Za-z0-9_-]+$/, 'base64url, no padding');
    assert.equal(parseGlobalId(imageId)?.typeName, 'Image', `${imageId} names its type`);
    assert.equal(parseGlobalId(commentId)?.typeName, 'Comment', `${commentId} names its type`);
  });

  test('node(id:) resolves an image by its global id', async () => {
    const { node } = await data(NODE, { id: imageId });
    assert.deepEqual(node, { __typename: 'Image', id: imageId });
    const { node: comment } = await data(NODE, { id: commentId });
    assert.deepEqual(comment, { __typename: 'Comment', id: commentId });
  });

  test('node(id:) with a well-formed unknown id is null, without error', async () => {
    const body = await post(NODE, { id: globalId('Image', uuidv7()) });
    assert.equal(body.status, 200);
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    assert.deepEqual(body.data, { node: null });
  });

  test('nodes(ids:) answers in order, null for unknown ids', async () => {
    const unknown = globalId('Comment', uuidv7());
    const { nodes } = await data(NODES, { ids: [commentId, unknown, imageId] });
    assert.deepEqual(nodes, [
      { __typename: 'Comment', id: commentId },
      null,
      { __typename: 'Image', id: imageId },
    ]);
  });

  test('a Comment id where an Image id is expected is BAD_USER_INPUT', async () => {
    const added = await post(ADD_COMMENT, { imageId: commentId, text: 'wrong id' });
    assert.deepEqual(codes(added), ['BAD_USER_INPUT']);
    const image = await post(IMAGE, { id: commentId });
    assert.deepEqual(codes(image), ['BAD_USER_INPUT']);
  });

  test('an absent variable in an input field takes the field default (save: NEW_VERSION)', async () => {
    const { editImage } = await data(EDIT_WITH_OPTIONAL_SAVE, { id: imageId });
    assert.equal(editImage.preview, null, 'not a PREVIEW');
    assert.ok(editImage.image, 'a new version was stored');
    assert.notEqual(editImage.image.id, imageId, 'not REPLACE: a new image');
    assert.equal(editImage.image.source, 'EDIT');
    assert.equal(editImage.image.parent?.id, imageId);
  });

  test('an explicit null for that non-null input field is an error', async () => {
    const body = await post(EDIT_WITH_OPTIONAL_SAVE, { id: imageId, save: null });
    assert.deepEqual(codes(body), ['BAD_USER_INPUT']);
    assert.equal(body.data?.editImage ?? null, null);
  });
});
