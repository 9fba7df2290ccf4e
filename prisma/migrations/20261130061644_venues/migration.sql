/*
  Layouts become versions of a hall, with sections, tables and shapes; categories belong to a layout and
  prices to a showtime; seats can be blocked per showtime. Written by Prisma, then the data steps added by
  hand so that existing showtimes, holds and bookings carry over.
*/
-- CreateTable
CREATE TABLE "layout" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "auditorium_id" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "shapes" TEXT NOT NULL DEFAULT '[]',
    "focus_x" REAL,
    "focus_y" REAL,
    "created_at" BIGINT NOT NULL,
    CONSTRAINT "layout_auditorium_id_fkey" FOREIGN KEY ("auditorium_id") REFERENCES "auditorium" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "layout_category" (
    "layout_id" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "color" TEXT,
    "position" INTEGER NOT NULL,

    PRIMARY KEY ("layout_id", "id"),
    CONSTRAINT "layout_category_layout_id_fkey" FOREIGN KEY ("layout_id") REFERENCES "layout" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "layout_section" (
    "layout_id" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "position" INTEGER NOT NULL,

    PRIMARY KEY ("layout_id", "id"),
    CONSTRAINT "layout_section_layout_id_fkey" FOREIGN KEY ("layout_id") REFERENCES "layout" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "layout_table" (
    "layout_id" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "label" TEXT NOT NULL,
    "sold_as_whole" BOOLEAN NOT NULL,
    "shape" TEXT,
    "position" INTEGER NOT NULL,

    PRIMARY KEY ("layout_id", "id"),
    CONSTRAINT "layout_table_layout_id_fkey" FOREIGN KEY ("layout_id") REFERENCES "layout" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "layout_seat" (
    "layout_id" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "section_id" TEXT NOT NULL,
    "row_label" TEXT NOT NULL,
    "label" TEXT NOT NULL,
    "x" REAL NOT NULL,
    "y" REAL NOT NULL,
    "rotation" REAL,
    "category_id" TEXT NOT NULL,
    "flags" TEXT NOT NULL DEFAULT '',
    "table_id" TEXT,
    "blocked_reason" TEXT,
    "position" INTEGER NOT NULL,

    PRIMARY KEY ("layout_id", "code"),
    CONSTRAINT "layout_seat_layout_id_fkey" FOREIGN KEY ("layout_id") REFERENCES "layout" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "showtime_price" (
    "showtime_id" TEXT NOT NULL,
    "category_id" TEXT NOT NULL,
    "price_cents" INTEGER NOT NULL,

    PRIMARY KEY ("showtime_id", "category_id"),
    CONSTRAINT "showtime_price_showtime_id_fkey" FOREIGN KEY ("showtime_id") REFERENCES "showtime" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "seat_block" (
    "showtime_id" TEXT NOT NULL,
    "seat_code" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "created_at" BIGINT NOT NULL,

    PRIMARY KEY ("showtime_id", "seat_code"),
    CONSTRAINT "seat_block_showtime_id_fkey" FOREIGN KEY ("showtime_id") REFERENCES "showtime" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- Data: each hall's seat grid becomes version 1 of its layout (one section, same seat ids), its categories
-- the layout's, and each showtime keeps the prices it had.
INSERT INTO "layout" ("id", "auditorium_id", "version", "shapes", "created_at")
SELECT "id", "id", 1, '[]', 0 FROM "auditorium";

INSERT INTO "layout_section" ("layout_id", "id", "name", "position")
SELECT "id", 'main', "name", 0 FROM "auditorium";

INSERT INTO "layout_category" ("layout_id", "id", "name", "position")
SELECT "auditorium_id", "id", "name", CAST(ROW_NUMBER() OVER (PARTITION BY "auditorium_id" ORDER BY "price_cents", "id") - 1 AS INTEGER)
FROM "seat_category";

INSERT INTO "layout_seat" ("layout_id", "code", "section_id", "row_label", "label", "x", "y", "category_id", "position")
SELECT "auditorium_id", "code", 'main', "row_label", CAST("number" AS TEXT), "x", "y", "category_id",
       CAST(ROW_NUMBER() OVER (PARTITION BY "auditorium_id" ORDER BY "y", "x", "code") - 1 AS INTEGER)
FROM "seat";

INSERT INTO "showtime_price" ("showtime_id", "category_id", "price_cents")
SELECT "showtime"."id", "seat_category"."id", "seat_category"."price_cents"
FROM "showtime" JOIN "seat_category" ON "seat_category"."auditorium_id" = "showtime"."auditorium_id";

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_showtime" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "layout_id" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "starts_at" BIGINT NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'EUR',
    "sales_open_at" BIGINT,
    "sales_close_at" BIGINT,
    "seq" BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT "showtime_layout_id_fkey" FOREIGN KEY ("layout_id") REFERENCES "layout" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
INSERT INTO "new_showtime" ("currency", "id", "layout_id", "seq", "starts_at", "title") SELECT "currency", "id", "auditorium_id", "seq", "starts_at", "title" FROM "showtime";
DROP TABLE "showtime";
ALTER TABLE "new_showtime" RENAME TO "showtime";
CREATE INDEX "showtime_layout_id_idx" ON "showtime"("layout_id");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- DropIndex
DROP INDEX "seat_category_id_idx";

-- DropIndex
DROP INDEX "seat_category_auditorium_id_idx";

-- DropTable
PRAGMA foreign_keys=off;
DROP TABLE "seat";
PRAGMA foreign_keys=on;

-- DropTable
PRAGMA foreign_keys=off;
DROP TABLE "seat_category";
PRAGMA foreign_keys=on;

-- CreateIndex
CREATE UNIQUE INDEX "layout_auditorium_id_version_key" ON "layout"("auditorium_id", "version");
