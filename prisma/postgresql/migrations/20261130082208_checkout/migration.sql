/*
  Checkout: bookings get a status (pending, confirmed, cancelled, expired), their items and transitions;
  idempotency keys; the webhook outbox, its deliveries and attempts; leases. Written by Prisma, then the data
  steps added by hand: each booking's seats and prices move to booking_item before booking_seat loses its
  price, and every existing booking is confirmed, with that transition logged.
*/
-- DropIndex
DROP INDEX "booking_showtime_id_idx";

-- AlterTable
ALTER TABLE "booking" ADD COLUMN     "cancel_reason" TEXT,
ADD COLUMN     "cancelled_at" BIGINT,
ADD COLUMN     "confirmed_at" BIGINT,
ADD COLUMN     "customer_phone" TEXT,
ADD COLUMN     "expired_at" BIGINT,
ADD COLUMN     "notes" TEXT,
ADD COLUMN     "order_reference" TEXT,
ADD COLUMN     "payment_due_at" BIGINT,
ADD COLUMN     "payment_provider" TEXT,
ADD COLUMN     "payment_reference" TEXT,
ADD COLUMN     "status" TEXT NOT NULL DEFAULT 'confirmed';

-- CreateTable
CREATE TABLE "booking_item" (
    "booking_id" TEXT NOT NULL,
    "seat_code" TEXT NOT NULL,
    "price_cents" INTEGER NOT NULL,

    CONSTRAINT "booking_item_pkey" PRIMARY KEY ("booking_id","seat_code")
);

-- Data: the seats and prices of existing bookings become their items.
INSERT INTO "booking_item" ("booking_id", "seat_code", "price_cents")
SELECT "booking_id", "seat_code", "price_cents" FROM "booking_seat";

-- AlterTable
ALTER TABLE "booking_seat" DROP COLUMN "price_cents";

-- CreateTable
CREATE TABLE "booking_transition" (
    "booking_id" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "status" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "detail" TEXT,
    "at" BIGINT NOT NULL,

    CONSTRAINT "booking_transition_pkey" PRIMARY KEY ("booking_id","position")
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

    CONSTRAINT "idempotency_key_pkey" PRIMARY KEY ("scope","key")
);

-- CreateTable
CREATE TABLE "webhook_event" (
    "id" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "booking_id" TEXT,
    "showtime_id" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "created_at" BIGINT NOT NULL,

    CONSTRAINT "webhook_event_pkey" PRIMARY KEY ("id")
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

    CONSTRAINT "webhook_delivery_pkey" PRIMARY KEY ("event_id","url")
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

    CONSTRAINT "webhook_attempt_pkey" PRIMARY KEY ("event_id","url","attempt")
);

-- CreateTable
CREATE TABLE "lease" (
    "name" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "expires_at" BIGINT NOT NULL,

    CONSTRAINT "lease_pkey" PRIMARY KEY ("name")
);

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

-- CreateIndex
CREATE INDEX "booking_showtime_id_status_idx" ON "booking"("showtime_id", "status");

-- CreateIndex
CREATE INDEX "booking_status_payment_due_at_idx" ON "booking"("status", "payment_due_at");

-- CreateIndex
CREATE INDEX "booking_order_reference_idx" ON "booking"("order_reference");

-- CreateIndex
CREATE INDEX "booking_customer_email_idx" ON "booking"("customer_email");

-- AddForeignKey
ALTER TABLE "booking_item" ADD CONSTRAINT "booking_item_booking_id_fkey" FOREIGN KEY ("booking_id") REFERENCES "booking"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "booking_transition" ADD CONSTRAINT "booking_transition_booking_id_fkey" FOREIGN KEY ("booking_id") REFERENCES "booking"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_delivery" ADD CONSTRAINT "webhook_delivery_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "webhook_event"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "webhook_attempt" ADD CONSTRAINT "webhook_attempt_event_id_url_fkey" FOREIGN KEY ("event_id", "url") REFERENCES "webhook_delivery"("event_id", "url") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Data: existing bookings were sold at once: confirmed when created.
UPDATE "booking" SET "confirmed_at" = "created_at";
INSERT INTO "booking_transition" ("booking_id", "position", "status", "actor", "at")
SELECT "id", 1, 'confirmed', "session_id", "created_at" FROM "booking";
