-- Layouts become versions of a hall, with sections, tables and shapes; categories belong to a layout and
-- prices to a showtime; seats can be blocked per showtime. Written by Prisma, then the data steps added by
-- hand so that existing showtimes, holds and bookings carry over.

-- CreateTable
CREATE TABLE "layout" (
    "id" TEXT NOT NULL,
    "auditorium_id" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "shapes" TEXT NOT NULL DEFAULT '[]',
    "focus_x" DOUBLE PRECISION,
    "focus_y" DOUBLE PRECISION,
    "created_at" BIGINT NOT NULL,

    CONSTRAINT "layout_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "layout_category" (
    "layout_id" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "color" TEXT,
    "position" INTEGER NOT NULL,

    CONSTRAINT "layout_category_pkey" PRIMARY KEY ("layout_id","id")
);

-- CreateTable
CREATE TABLE "layout_section" (
    "layout_id" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "position" INTEGER NOT NULL,

    CONSTRAINT "layout_section_pkey" PRIMARY KEY ("layout_id","id")
);

-- CreateTable
CREATE TABLE "layout_table" (
    "layout_id" TEXT NOT NULL,
    "id" TEXT NOT NULL,
    "label" TEXT NOT NULL,
    "sold_as_whole" BOOLEAN NOT NULL,
    "shape" TEXT,
    "position" INTEGER NOT NULL,

    CONSTRAINT "layout_table_pkey" PRIMARY KEY ("layout_id","id")
);

-- CreateTable
CREATE TABLE "layout_seat" (
    "layout_id" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "section_id" TEXT NOT NULL,
    "row_label" TEXT NOT NULL,
    "label" TEXT NOT NULL,
    "x" DOUBLE PRECISION NOT NULL,
    "y" DOUBLE PRECISION NOT NULL,
    "rotation" DOUBLE PRECISION,
    "category_id" TEXT NOT NULL,
    "flags" TEXT NOT NULL DEFAULT '',
    "table_id" TEXT,
    "blocked_reason" TEXT,
    "position" INTEGER NOT NULL,

    CONSTRAINT "layout_seat_pkey" PRIMARY KEY ("layout_id","code")
);

-- CreateTable
CREATE TABLE "showtime_price" (
    "showtime_id" TEXT NOT NULL,
    "category_id" TEXT NOT NULL,
    "price_cents" INTEGER NOT NULL,

    CONSTRAINT "showtime_price_pkey" PRIMARY KEY ("showtime_id","category_id")
);

-- CreateTable
CREATE TABLE "seat_block" (
    "showtime_id" TEXT NOT NULL,
    "seat_code" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "created_at" BIGINT NOT NULL,

    CONSTRAINT "seat_block_pkey" PRIMARY KEY ("showtime_id","seat_code")
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

-- AlterTable: layout_id is filled in before it becomes required
ALTER TABLE "showtime" ADD COLUMN     "layout_id" TEXT,
ADD COLUMN     "sales_close_at" BIGINT,
ADD COLUMN     "sales_open_at" BIGINT;

UPDATE "showtime" SET "layout_id" = "auditorium_id";

ALTER TABLE "showtime" ALTER COLUMN "layout_id" SET NOT NULL;

-- DropForeignKey
ALTER TABLE "showtime" DROP CONSTRAINT "showtime_auditorium_id_fkey";

-- DropIndex
DROP INDEX "showtime_auditorium_id_idx";

-- AlterTable
ALTER TABLE "showtime" DROP COLUMN "auditorium_id";

-- DropForeignKey
ALTER TABLE "seat_category" DROP CONSTRAINT "seat_category_auditorium_id_fkey";

-- DropForeignKey
ALTER TABLE "seat" DROP CONSTRAINT "seat_auditorium_id_fkey";

-- DropForeignKey
ALTER TABLE "seat" DROP CONSTRAINT "seat_category_id_fkey";

-- DropTable
DROP TABLE "seat_category";

-- DropTable
DROP TABLE "seat";

-- CreateIndex
CREATE UNIQUE INDEX "layout_auditorium_id_version_key" ON "layout"("auditorium_id", "version");

-- CreateIndex
CREATE INDEX "showtime_layout_id_idx" ON "showtime"("layout_id");

-- AddForeignKey
ALTER TABLE "layout" ADD CONSTRAINT "layout_auditorium_id_fkey" FOREIGN KEY ("auditorium_id") REFERENCES "auditorium"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "layout_category" ADD CONSTRAINT "layout_category_layout_id_fkey" FOREIGN KEY ("layout_id") REFERENCES "layout"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "layout_section" ADD CONSTRAINT "layout_section_layout_id_fkey" FOREIGN KEY ("layout_id") REFERENCES "layout"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "layout_table" ADD CONSTRAINT "layout_table_layout_id_fkey" FOREIGN KEY ("layout_id") REFERENCES "layout"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "layout_seat" ADD CONSTRAINT "layout_seat_layout_id_fkey" FOREIGN KEY ("layout_id") REFERENCES "layout"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "showtime" ADD CONSTRAINT "showtime_layout_id_fkey" FOREIGN KEY ("layout_id") REFERENCES "layout"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "showtime_price" ADD CONSTRAINT "showtime_price_showtime_id_fkey" FOREIGN KEY ("showtime_id") REFERENCES "showtime"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "seat_block" ADD CONSTRAINT "seat_block_showtime_id_fkey" FOREIGN KEY ("showtime_id") REFERENCES "showtime"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
