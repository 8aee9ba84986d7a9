// PostGraphile 5 as PEERS.md measured it: the Amber preset with simplified inflection
// (so `images.owner`, `image.comments`, `comment.author`), no watch mode, no GraphiQL,
// no explain. scripts/bench_feed.py starts it with NODE_ENV=production and sets:
//   DATABASE_URL  the same database imagegraph serves (unix socket of its private cluster)
//   PORT          a free port on 127.0.0.1
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

if (!process.env.DATABASE_URL || !process.env.PORT) {
  throw new Error("graphile.config.mjs needs DATABASE_URL and PORT");
}

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PORT),
    graphqlPath: "/graphql",
    graphiql: false,
    watch: false,
    websockets: false,
  },
  grafast: {
    explain: false,
  },
};

export default preset;
