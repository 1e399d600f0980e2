// Drives the DictaMesh router with an unchanged Apollo Client: a plain query,
// automatic persisted queries (hash first, then registration, then hash only),
// query batching with BatchHttpLink, @defer (incremental delivery over
// multipart HTTP), and subscriptions over graphql-ws (GraphQLWsLink) and
// multipart HTTP (HttpLink). Usage: node client.mjs <router-url>
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client/core/index.js';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries/index.js';
import { BatchHttpLink } from '@apollo/client/link/batch-http/index.js';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions/index.js';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.argv[2];
assert.ok(url, 'usage: node client.mjs <router-url>');

// Every HTTP request the client sends, to check what went over the wire.
const sent = [];
const recordingFetch = async (input, init) => {
  sent.push(JSON.parse(init.body));
  return fetch(input, init);
};

const INVOICES = gql`
  query Invoices {
    invoices(limit: 2) {
      invoiceNumber
      total { amount currency }
      customer { name }
      items { quantity product { name } }
    }
  }
`;

function client(link) {
  return new ApolloClient({ link, cache: new InMemoryCache(), defaultOptions: { query: { fetchPolicy: 'no-cache' } } });
}

const results = [];
function check(name, fn) {
  return fn().then(
    () => results.push(`ok      ${name}`),
    (error) => {
      results.push(`FAILED  ${name}: ${error.message}`);
      process.exitCode = 1;
    },
  );
}

await check('a federated query', async () => {
  const { data } = await client(new HttpLink({ uri: url, fetch: recordingFetch })).query({ query: INVOICES });
  assert.equal(data.invoices.length, 2);
  assert.ok(data.invoices.every((i) => i.customer.name && i.items.every((item) => item.product.name)));
});

await check('automatic persisted queries', async () => {
  sent.length = 0;
  const sha256 = (text) => createHash('sha256').update(text).digest('hex');
  const apq = client(createPersistedQueryLink({ sha256 }).concat(new HttpLink({ uri: url, fetch: recordingFetch })));
  const first = await apq.query({ query: INVOICES });
  assert.equal(first.data.invoices.length, 2);
  assert.equal(sent.length, 2, 'hash only, refused as unknown, then hash and query');
  assert.equal(sent[0].query, undefined);
  assert.ok(sent[1].query.includes('invoices'));
  sent.length = 0;
  const second = await client(createPersistedQueryLink({ sha256 }).concat(new HttpLink({ uri: url, fetch: recordingFetch }))).query({ query: INVOICES });
  assert.equal(second.data.invoices.length, 2);
  assert.equal(sent.length, 1, 'the registered hash alone is enough');
  assert.equal(sent[0].query, undefined);
});

await check('query batching (BatchHttpLink)', async () => {
  sent.length = 0;
  const batched = client(new BatchHttpLink({ uri: url, batchMax: 10, batchInterval: 20, fetch: recordingFetch }));
  const [a, b] = await Promise.all([
    batched.query({ query: gql`query A { customers(limit: 1) { name } }` }),
    batched.query({ query: gql`query B { products(limit: 2) { name } }` }),
  ]);
  assert.equal(a.data.customers.length, 1);
  assert.equal(b.data.products.length, 2);
  assert.equal(sent.length, 1, 'one HTTP request');
  assert.ok(Array.isArray(sent[0]) && sent[0].length === 2, 'carrying both operations');
});

await check('@defer over multipart HTTP (HttpLink)', async () => {
  const DEFERRED = gql`
    query Deferred {
      invoices(limit: 2) {
        invoiceNumber
        ... @defer { items { quantity product { name } } }
      }
    }
  `;
  const seen = [];
  await new Promise((resolve, reject) => {
    const watched = client(new HttpLink({ uri: url })).watchQuery({ query: DEFERRED, fetchPolicy: 'no-cache' });
    const subscription = watched.subscribe({
      next: ({ data }) => {
        seen.push(data);
        if (data?.invoices?.every((invoice) => invoice.items?.every((item) => item.product?.name))) {
          subscription.unsubscribe();
          resolve();
        }
      },
      error: reject,
    });
    setTimeout(() => reject(new Error('the deferred fields never arrived')), 10000).unref();
  });
  assert.ok(seen.length >= 2, `the primary result first, then the deferred fields (${seen.length} results)`);
  assert.equal(seen[0].invoices.length, 2);
  assert.ok(seen[0].invoices.every((invoice) => invoice.invoiceNumber && invoice.items === undefined));
});

const CUSTOMER_CHANGES = gql`
  subscription CustomerChanges {
    entityChanged(type: "Customer") {
      eventType
      entityId
      entity { ... on Customer { name invoices { invoiceNumber } } }
    }
  }
`;

// Subscribes with `link`, creates a customer named `name`, and waits for its change event.
async function changeArrives(link, name) {
  const subscriber = client(link);
  const received = new Promise((resolve, reject) => {
    const subscription = subscriber.subscribe({ query: CUSTOMER_CHANGES }).subscribe({
      next: ({ data }) => {
        if (data.entityChanged.entity?.name === name) {
          subscription.unsubscribe();
          resolve(data.entityChanged);
        }
      },
      error: reject,
    });
    setTimeout(() => reject(new Error('no change event within 20 s')), 20000).unref();
  });
  // Let the subscription reach the router before the change happens.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const writer = client(new HttpLink({ uri: url }));
  const { data } = await writer.mutate({
    mutation: gql`mutation New($name: String!, $email: String!) { createCustomer(input: { name: $name, email: $email }) { id } }`,
    variables: { name, email: `${name.toLowerCase().replace(/ /g, '.')}@example.com` },
  });
  const change = await received;
  assert.equal(change.eventType, 'CREATED');
  assert.equal(change.entityId, data.createCustomer.id);
  assert.deepEqual(change.entity.invoices, [], 'resolved across subgraphs');
}

await check('a subscription over graphql-ws (GraphQLWsLink)', async () => {
  const ws = createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, lazy: true });
  try {
    await changeArrives(new GraphQLWsLink(ws), 'Ada Lovelace');
  } finally {
    await ws.dispose();
  }
});

await check('a subscription over multipart HTTP (HttpLink)', async () => {
  await changeArrives(new HttpLink({ uri: url }), 'Grace Hopper');
});

console.log(results.join('\n'));
process.exit(process.exitCode ?? 0);
