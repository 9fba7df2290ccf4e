/*
  Checkout: bookings get a status (pending, confirmed, cancelled, expired), their items and transitions;
  idempotency keys; the webhook outbox, its deliveries and attempts; leases. Written by Prisma, then the data
  steps added by hand: each booking's seats and prices move to booking_item before booking_seat loses its
  price, and every existing booking is confirmed, with that transition logged.
*/
-- CreateTable
CREATE TABLE "booking_item" (
    "booking_id" TEXT NOT NULL,
    "seat_code" TEXT NOT NULL,
    "price_cents" INTEGER NOT NULL,

    PRIMARY KEY ("booking_id", "seat_code"),
    CONSTRAINT "booking_item_booking_id_fkey" FOREIGN KEY ("booking_id") REFERENCES "booking" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- Data: the seats and prices of existing bookings become their items.
INSERT INTO "booking_item" ("booking_id", "seat_code", "price_cents")
SELECT "booking_id", "seat_code", "price_cents" FROM "booking_seat";

-- CreateTable
CREATE TABLE "booking_transition" (
    "booking_id" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "detail" TEXT,
    "at" BIGINT NOT NULL,

    PRIMARY KEY ("booking_id", "position"),
    CONSTRAINT "booking_transition_booking_id_fkey" FOREIGN KEY ("booking_id") REFERENCES "booking" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "idempotency_key" (
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "status_code" INTEGER,
    "response" TEXT,
    "created_at" BIGINT NOT NULL,
    "expires_at" BIGINT NOT NULL,

    PRIMARY KEY ("scope", "key")
);

-- CreateTable
CREATE TABLE "webhook_event" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "position" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "booking_id" TEXT,
    "showtime_id" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "created_at" BIGINT NOT NULL
);

-- CreateTable
CREATE TABLE "webhook_delivery" (
    "event_id" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" BIGINT NOT NULL,
    "last_attempt_at" BIGINT,
    "delivered_at" BIGINT,

    PRIMARY KEY ("event_id", "url"),
    CONSTRAINT "webhook_delivery_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "webhook_event" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "webhook_attempt" (
    "event_id" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "at" BIGINT NOT NULL,
    "status_code" INTEGER,
    "error" TEXT,
    "duration_ms" INTEGER NOT NULL,

    PRIMARY KEY ("event_id", "url", "attempt"),
    CONSTRAINT "webhook_attempt_event_id_url_fkey" FOREIGN KEY ("event_id", "url") REFERENCES "webhook_delivery" ("event_id", "url") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "lease" (
    "name" TEXT NOT NULL PRIMARY KEY,
    "holder" TEXT NOT NULL,
    "expires_at" BIGINT NOT NULL
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_booking" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "showtime_id" TEXT NOT NULL,
    "session_id" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'confirmed',
    "customer_name" TEXT NOT NULL,
    "customer_email" TEXT NOT NULL,
    "customer_phone" TEXT,
    "notes" TEXT,
    "order_reference" TEXT,
    "total_cents" INTEGER NOT NULL,
    "currency" TEXT NOT NULL,
    "payment_due_at" BIGINT,
    "payment_reference" TEXT,
    "payment_provider" TEXT,
    "cancel_reason" TEXT,
    "created_at" BIGINT NOT NULL,
    "confirmed_at" BIGINT,
    "cancelled_at" BIGINT,
    "expired_at" BIGINT,
    CONSTRAINT "booking_showtime_id_fkey" FOREIGN KEY ("showtime_id") REFERENCES "showtime" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
INSERT INTO "new_booking" ("created_at", "currency", "customer_email", "customer_name", "id", "session_id", "showtime_id", "total_cents") SELECT "created_at", "currency", "customer_email", "customer_name", "id", "session_id", "showtime_id", "total_cents" FROM "booking";
DROP TABLE "booking";
ALTER TABLE "new_booking" RENAME TO "booking";
CREATE INDEX "booking_showtime_id_status_idx" ON "booking"("showtime_id", "status");
CREATE INDEX "booking_status_payment_due_at_idx" ON "booking"("status", "payment_due_at");
CREATE INDEX "booking_order_reference_idx" ON "booking"("order_reference");
CREATE INDEX "booking_customer_email_idx" ON "booking"("customer_email");
CREATE TABLE "new_booking_seat" (
    "showtime_id" TEXT NOT NULL,
    "seat_code" TEXT NOT NULL,
    "booking_id" TEXT NOT NULL,

    PRIMARY KEY ("showtime_id", "seat_code"),
    CONSTRAINT "booking_seat_showtime_id_fkey" FOREIGN KEY ("showtime_id") REFERENCES "showtime" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "booking_seat_booking_id_fkey" FOREIGN KEY ("booking_id") REFERENCES "booking" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
INSERT INTO "new_booking_seat" ("booking_id", "seat_code", "showtime_id") SELECT "booking_id", "seat_code", "showtime_id" FROM "booking_seat";
DROP TABLE "booking_seat";
ALTER TABLE "new_booking_seat" RENAME TO "booking_seat";
CREATE INDEX "booking_seat_booking_id_idx" ON "booking_seat"("booking_id");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "idempotency_key_expires_at_idx" ON "idempotency_key"("expires_at");

-- CreateIndex
CREATE INDEX "webhook_event_booking_id_position_idx" ON "webhook_event"("booking_id", "position");

-- CreateIndex
CREATE INDEX "webhook_event_created_at_idx" ON "webhook_event"("created_at");

-- CreateIndex
CREATE INDEX "webhook_delivery_status_next_attempt_at_idx" ON "webhook_delivery"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "webhook_attempt_at_idx" ON "webhook_attempt"("at");

-- Data: existing bookings were sold at once: confirmed when created.
UPDATE "booking" SET "confirmed_at" = "created_at";
INSERT INTO "booking_transition" ("booking_id", "position", "status", "actor", "at")
SELECT "id", 1, 'confirmed', "session_id", "created_at" FROM "booking";
