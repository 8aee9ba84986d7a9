// The breaking-change checker itself (lib/schema-check.mjs), on small schemas.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSchemas, parseAccepted } from '../lib/schema-check.mjs';

const BEFORE = `
  type Query { image(id: ID!): Image, images: [Image!]! }
  type Image { id: ID!, description: String, width: Int! }
`;
const FIELD_REMOVED = `
  type Query { image(id: ID!): Image, images: [Image!]! }
  type Image { id: ID!, width: Int! }
`;
const FIELD_ADDED = `
  type Query { image(id: ID!): Image, images: [Image!]!, node(id: ID!): Image }
  type Image { id: ID!, description: String, width: Int!, height: Int }
`;

test('the same schema has no breaking change', () => {
  const result = checkSchemas(BEFORE, BEFORE);
  assert.deepEqual(result.breaking, []);
  assert.deepEqual(result.unaccepted, []);
});

test('adding fields is not breaking', () => {
  assert.deepEqual(checkSchemas(BEFORE, FIELD_ADDED).unaccepted, []);
});

test('removing a field is reported and fails the check', () => {
  const result = checkSchemas(BEFORE, FIELD_REMOVED);
  assert.deepEqual(
    result.unaccepted.map((c) => [c.type, c.description]),
    [['FIELD_REMOVED', 'Image.description was removed.']],
  );
});

test('an accepted entry with a reason passes', () => {
  const accepted = '# a comment\n\nImage.description was removed. :: replaced by analysis\n';
  const result = checkSchemas(BEFORE, FIELD_REMOVED, accepted);
  assert.deepEqual(result.unaccepted, []);
  assert.equal(result.breaking.length, 1);
  assert.equal(result.breaking[0].accepted, true);
  assert.equal(result.breaking[0].reason, 'replaced by analysis');
  assert.deepEqual(result.stale, []);
});

test('an entry for another change does not cover this one, and is reported stale', () => {
  const result = checkSchemas(BEFORE, FIELD_REMOVED, 'Image.width was removed. :: gone\n');
  assert.equal(result.unaccepted.length, 1);
  assert.deepEqual(result.stale, ['Image.width was removed.']);
});

test('an entry without a reason is refused', () => {
  assert.throws(() => parseAccepted('Image.description was removed.\n'), /line 1/);
  assert.throws(() => parseAccepted('Image.description was removed. ::   \n'), /line 1/);
});

test('changing an argument to required is breaking', () => {
  const before = 'type Query { images(first: Int): [String] }';
  const after = 'type Query { images(first: Int!): [String] }';
  const [change] = checkSchemas(before, after).unaccepted;
  assert.equal(change.type, 'ARG_CHANGED_KIND');
});
