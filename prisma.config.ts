// Prisma CLI configuration: the JavaScript schema engine with the libsql driver adapter, so no native
// engine is downloaded (run the CLI through scripts/prisma). Only SQLite databases are read here;
// PostgreSQL migrations are written from schema-to-schema diffs (scripts/prisma_migrations.py).
import { defineConfig } from "prisma/config";
import { PrismaLibSQL } from "@prisma/adapter-libsql";

const databaseUrl = process.env.DATABASE_URL ?? "";
const sqliteUrl = databaseUrl.startsWith("file:") ? databaseUrl : "file:./dev.db";

export default defineConfig({
  engine: "js",
  experimental: { adapter: true },
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  adapter: async () => new PrismaLibSQL({ url: sqliteUrl }),
});
