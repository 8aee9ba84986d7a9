// graphql-js reads the committed schema.graphql as any code generator would: it must
// build, be a valid schema, and accept every operation this suite sends.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { buildSchema, parse, validate, validateSchema } from 'graphql';
import { ALL } from '../lib/operations.mjs';

const SDL = readFileSync(resolve(import.meta.dirname, '../../schema.graphql'), 'utf8');

test('schema.graphql builds and validates with graphql-js', () => {
  const schema = buildSchema(SDL);
  assert.deepEqual(
    validateSchema(schema).map((e) => e.message),
    [],
  );
  // The roots and the Relay interface are where clients expect them.
  assert.equal(schema.getQueryType()?.name, 'Query');
  assert.equal(schema.getMutationType()?.name, 'Mutation');
  assert.equal(schema.getSubscriptionType()?.name, 'Subscription');
  assert.ok(schema.getType('Node'), 'the Node interface');
  assert.ok(schema.getQueryType().getFields().node, 'Query.node');
});

const schema = buildSchema(SDL);
for (const [name, document] of Object.entries(ALL)) {
  test(`operation ${name} validates against schema.graphql`, () => {
    assert.deepEqual(
      validate(schema, parse(document)).map((e) => e.message),
      [],
    );
  });
}
