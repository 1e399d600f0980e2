// Apollo Gateway composing users, inventory (served by the compatibility
// suite's own subgraphs) and our products subgraph, listening on :4000 as the
// suite's router tests expect.
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloGateway, IntrospectAndCompose } from '@apollo/gateway';

const productsUrl = process.env.PRODUCTS_URL ?? 'http://localhost:4001/';
const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({
    subgraphs: [
      { name: 'users', url: 'http://localhost:4002/' },
      { name: 'inventory', url: 'http://localhost:4003/' },
      { name: 'products', url: productsUrl },
    ],
  }),
});
const server = new ApolloServer({ gateway });
const { url } = await startStandaloneServer(server, { listen: { port: 4000 } });
console.log(`gateway ready at ${url}`);
