// Apollo Client 4 as an app would set it up: an InMemoryCache with relayStylePagination
// on Query.images, apollo-upload-client's UploadHttpLink for multipart uploads, and
// GraphQLWsLink (graphql-ws over the `ws` package) for subscriptions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { relayStylePagination } from '@apollo/client/utilities';
import UploadHttpLink from 'apollo-upload-client/UploadHttpLink.mjs';
import { createClient } from 'graphql-ws';
import { filter, firstValueFrom } from 'rxjs';
import WebSocket from 'ws';
import {
  ANALYSIS_COMPLETED,
  ANALYZE_IMAGE,
  FEED,
  UPLOAD_BASE64,
  UPLOAD_FILE,
} from '../lib/operations.mjs';
import { png, seedPng } from '../lib/png.mjs';
import { service } from '../lib/service.mjs';

const { graphqlUrl, wsUrl, authorization } = service();
const SEEDED = 25;
const PAGE = 10;

function cache() {
  return new InMemoryCache({
    typePolicies: { Query: { fields: { images: relayStylePagination() } } },
  });
}

describe('@apollo/client', { timeout: 120_000 }, () => {
  let client;
  let wsClient;

  before(() => {
    wsClient = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      // The service reads the token from the connection_init payload.
      connectionParams: { Authorization: authorization },
      retryAttempts: 0,
    });
    const http = new UploadHttpLink({ uri: graphqlUrl, headers: { authorization } });
    const ws = new GraphQLWsLink(wsClient);
    client = new ApolloClient({
      cache: cache(),
      link: ApolloLink.split(({ operationType }) => operationType === 'subscription', ws, http),
    });
  });

  after(async () => {
    client?.stop();
    await wsClient?.dispose();
  });

  test('relayStylePagination walks the whole feed with fetchMore', async () => {
    const uploaded = []; // oldest first
    for (let n = 0; n < SEEDED; n++) {
      const { data } = await client.mutate({
        mutation: gql(UPLOAD_BASE64),
        variables: { b: seedPng(n, 24, 16).toString('base64'), analyze: false },
      });
      uploaded.push(data.uploadImage.image.id);
    }

    // A client of its own, so the walk starts from an empty cache and every page is a
    // network request the service answers.
    const requests = [];
    const feedClient = new ApolloClient({
      cache: cache(),
      link: new HttpLink({
        uri: graphqlUrl,
        headers: { authorization },
        fetch: (url, init) => {
          requests.push(JSON.parse(init.body).variables);
          return fetch(url, init);
        },
      }),
    });
    const feed = feedClient.watchQuery({ query: gql(FEED), variables: { first: PAGE } });
    const subscription = feed.subscribe(() => {});
    try {
      const complete = (result) => result.dataState === 'complete';
      await firstValueFrom(feed.pipe(filter(complete)));
      // What the cache holds for the query: the pages merged by relayStylePagination.
      const merged = () => feedClient.readQuery({ query: gql(FEED), variables: { first: PAGE } });
      let data = merged();
      let pages = 1;
      const cursors = []; // the `after` of each fetchMore
      while (data.images.pageInfo.hasNextPage) {
        assert.ok(pages < 100, 'the walk ends');
        cursors.push(data.images.pageInfo.endCursor);
        await feed.fetchMore({ variables: { after: data.images.pageInfo.endCursor } });
        const before = data.images.edges.length;
        data = merged();
        assert.ok(data.images.edges.length > before, `page ${pages + 1} was merged`);
        pages++;
      }
      // The watching query (what a list component renders) ends up with the whole feed.
      const watched = await firstValueFrom(
        feed.pipe(filter((r) => complete(r) && !r.data.images.pageInfo.hasNextPage)),
      );
      assert.deepEqual(watched.data, data);

      const { edges, totalCount, pageInfo } = data.images;
      const ids = edges.map((e) => e.node.id);
      assert.equal(pageInfo.hasNextPage, false);
      assert.ok(totalCount >= SEEDED, `totalCount ${totalCount}`);
      assert.equal(ids.length, totalCount, 'the merged list holds the whole feed');
      assert.equal(new Set(ids).size, ids.length, 'each image seen exactly once');
      assert.equal(pages, Math.ceil(totalCount / PAGE));
      assert.equal(requests.length, pages, 'one request a page');
      assert.deepEqual(
        requests,
        [{ first: PAGE }, ...cursors.map((after) => ({ first: PAGE, after }))],
        'each page asked for after the last cursor merged',
      );
      // Newest first: ours in the reverse of upload order, timestamps never rising.
      const ours = new Set(uploaded);
      assert.deepEqual(
        ids.filter((id) => ours.has(id)),
        [...uploaded].reverse(),
      );
      const times = edges.map((e) => Date.parse(e.node.uploadedAt));
      for (let i = 1; i < times.length; i++) {
        assert.ok(times[i] <= times[i - 1], `edge ${i} is newer than edge ${i - 1}`);
      }
    } finally {
      subscription.unsubscribe();
      feedClient.stop();
    }
  });

  test('apollo-upload-client uploads a PNG file by multipart request', async () => {
    const bytes = png(7, 5, (x, y) => [x * 30, y * 50, 200]);
    const file = new File([bytes], 'tiny.png', { type: 'image/png' });
    const { data } = await client.mutate({ mutation: gql(UPLOAD_FILE), variables: { file } });
    const image = data.uploadImage.image;
    assert.equal(image.contentType, 'image/png');
    assert.deepEqual([image.width, image.height, image.byteSize], [7, 5, bytes.length]);

    // The signed URL serves the very bytes that were sent.
    const response = await fetch(image.url);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), bytes);
  });

  test('GraphQLWsLink delivers analysisCompleted for an uploaded image', async () => {
    const events = [];
    const waiters = [];
    const subscription = client.subscribe({ query: gql(ANALYSIS_COMPLETED) }).subscribe({
      next: (result) => {
        if (result.error) return events.push({ error: result.error });
        events.push(result.data.analysisCompleted);
        waiters.forEach((wake) => wake());
      },
      error: (error) => events.push({ error }),
    });
    const eventFor = async (id, ms) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const errors = events.filter((e) => e.error);
        assert.deepEqual(errors, [], 'the subscription reports no error');
        const event = events.find((e) => e.id === id);
        if (event || Date.now() > deadline) return event;
        await new Promise((wake) => {
          waiters.push(wake);
          setTimeout(wake, 100);
        });
      }
    };
    const upload = async (n) => {
      const { data } = await client.mutate({
        mutation: gql(UPLOAD_BASE64),
        variables: { b: seedPng(100 + n, 32, 24).toString('base64'), analyze: true },
      });
      return data.uploadImage.image.id;
    };

    try {
      // The protocol has no "subscribed" acknowledgement: a probe image's event shows the
      // subscription is live (asking again for its analysis until one arrives), so the
      // real upload below cannot race the subscription's start.
      const probe = await upload(0);
      let live = await eventFor(probe, 3_000);
      for (let attempt = 0; !live && attempt < 10; attempt++) {
        await client.mutate({ mutation: gql(ANALYZE_IMAGE), variables: { id: probe } });
        live = await eventFor(probe, 3_000);
      }
      assert.ok(live, 'the probe image was announced: the subscription is live');

      const id = await upload(1);
      const event = await eventFor(id, 30_000);
      assert.ok(event, `analysisCompleted arrived for ${id}`);
      assert.equal(event.analysis.status, 'SUCCEEDED');
      assert.equal(event.analysis.model, 'imagegraph-offline-1');
      assert.ok(event.description, 'the offline describer wrote a description');
      assert.equal(events.filter((e) => e.id === id).length, 1, 'exactly one event');
    } finally {
      subscription.unsubscribe();
    }
  });
});
