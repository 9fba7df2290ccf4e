-- CreateTable
CREATE TABLE "venue" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL
);

-- CreateTable
CREATE TABLE "auditorium" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "venue_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    CONSTRAINT "auditorium_venue_id_fkey" FOREIGN KEY ("venue_id") REFERENCES "venue" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "seat_category" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "auditorium_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "price_cents" INTEGER NOT NULL,
    CONSTRAINT "seat_category_auditorium_id_fkey" FOREIGN KEY ("auditorium_id") REFERENCES "auditorium" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "seat" (
    "auditorium_id" TEXT NOT NULL,
    "code" TEXT NOT NULL,
    "row_label" TEXT NOT NULL,
    "number" INTEGER NOT NULL,
    "x" INTEGER NOT NULL,
    "y" INTEGER NOT NULL,
    "category_id" TEXT NOT NULL,

    PRIMARY KEY ("auditorium_id", "code"),
    CONSTRAINT "seat_auditorium_id_fkey" FOREIGN KEY ("auditorium_id") REFERENCES "auditorium" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "seat_category_id_fkey" FOREIGN KEY ("category_id") REFERENCES "seat_category" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "showtime" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "auditorium_id" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "starts_at" BIGINT NOT NULL,
    "currency" TEXT NOT NULL DEFAULT 'EUR',
    "seq" BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT "showtime_auditorium_id_fkey" FOREIGN KEY ("auditorium_id") REFERENCES "auditorium" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "seat_hold" (
    "showtime_id" TEXT NOT NULL,
    "seat_code" TEXT NOT NULL,
    "session_id" TEXT NOT NULL,
    "expires_at" BIGINT NOT NULL,
    "created_at" BIGINT NOT NULL,

    PRIMARY KEY ("showtime_id", "seat_code"),
    CONSTRAINT "seat_hold_showtime_id_fkey" FOREIGN KEY ("showtime_id") REFERENCES "showtime" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "booking" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "showtime_id" TEXT NOT NULL,
    "session_id" TEXT NOT NULL,
    "customer_name" TEXT NOT NULL,
    "customer_email" TEXT NOT NULL,
    "total_cents" INTEGER NOT NULL,
    "currency" TEXT NOT NULL,
    "created_at" BIGINT NOT NULL,
    CONSTRAINT "booking_showtime_id_fkey" FOREIGN KEY ("showtime_id") REFERENCES "showtime" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "booking_seat" (
    "showtime_id" TEXT NOT NULL,
    "seat_code" TEXT NOT NULL,
    "booking_id" TEXT NOT NULL,
    "price_cents" INTEGER NOT NULL,

    PRIMARY KEY ("showtime_id", "seat_code"),
    CONSTRAINT "booking_seat_showtime_id_fkey" FOREIGN KEY ("showtime_id") REFERENCES "showtime" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "booking_seat_booking_id_fkey" FOREIGN KEY ("booking_id") REFERENCES "booking" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "seat_event" (
    "showtime_id" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,
    "seat_code" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "session_id" TEXT NOT NULL,
    "created_at" BIGINT NOT NULL,

    PRIMARY KEY ("showtime_id", "seq"),
    CONSTRAINT "seat_event_showtime_id_fkey" FOREIGN KEY ("showtime_id") REFERENCES "showtime" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "auditorium_venue_id_idx" ON "auditorium"("venue_id");

-- CreateIndex
CREATE INDEX "seat_category_auditorium_id_idx" ON "seat_category"("auditorium_id");

-- CreateIndex
CREATE INDEX "seat_category_id_idx" ON "seat"("category_id");

-- CreateIndex
CREATE INDEX "showtime_auditorium_id_idx" ON "showtime"("auditorium_id");

-- CreateIndex
CREATE INDEX "seat_hold_expires_at_idx" ON "seat_hold"("expires_at");

-- CreateIndex
CREATE INDEX "seat_hold_session_id_idx" ON "seat_hold"("session_id");

-- CreateIndex
CREATE INDEX "booking_showtime_id_idx" ON "booking"("showtime_id");

-- CreateIndex
CREATE INDEX "booking_seat_booking_id_idx" ON "booking_seat"("booking_id");

-- CreateIndex
CREATE INDEX "seat_event_created_at_idx" ON "seat_event"("created_at");
