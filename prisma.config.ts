// Prisma CLI configuration: the JavaScript schema engine with the libsql driver adapter, so no native
// engine is downloaded. Run the CLI through scripts/prisma: it sets DATABASE_URL from the server's own
// setting (a file: URL). Only SQLite databases are read here; PostgreSQL migrations are written from
// schema-to-schema diffs (scripts/prisma_migrations.py). docs/prisma.md explains the workarounds below.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "prisma/config";
import { PrismaLibSQL } from "@prisma/adapter-libsql";
import { useWasmQueryEngine } from "./scripts/prisma_studio_engine";

function sqliteUrl(): string {
  const url = process.env.DATABASE_URL ?? "";
  if (!url.startsWith("file:")) {
    throw new Error(
      "DATABASE_URL must be a SQLite database: this Prisma CLI reads SQLite only (PostgreSQL introspection " +
        "fails offline, prisma/orm#27403). Run it through scripts/prisma, which translates sqlite:/// URLs.",
    );
  }
  return url;
}

// migrate dev replays the history in a shadow database. libsql's own shadow is ":memory:", which is
// lost whenever libsql opens a new connection (after each transaction), and the schema engine sends
// each migration as one executeRaw, which libsql cuts at the first statement. Use a throwaway file and
// run argument-free raw SQL as a script.
class PrismaLibSQLWithFileShadow extends PrismaLibSQL {
  async connectToShadowDb() {
    const folder = mkdtempSync(join(tmpdir(), "prisma-shadow-"));
    const shadow = await new PrismaLibSQL({ url: `file:${join(folder, "shadow.db")}` }).connect();
    const executeRaw = shadow.executeRaw.bind(shadow);
    shadow.executeRaw = async (query) => {
      if (query.args.length > 0) return executeRaw(query);
      await shadow.executeScript(query.sql);
      return 0;
    };
    const dispose = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      await dispose();
      rmSync(folder, { recursive: true, force: true });
    };
    return shadow;
  }
}

export default defineConfig({
  engine: "js",
  experimental: { adapter: true, studio: true },
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  adapter: async () => new PrismaLibSQLWithFileShadow({ url: sqliteUrl() }),
  studio: {
    adapter: async () => {
      useWasmQueryEngine();
      return new PrismaLibSQL({ url: sqliteUrl() });
    },
  },
});
