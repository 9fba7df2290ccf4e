-- AlterTable
-- Added nullable, filled, then required: the table may hold changes logged before origins were.
ALTER TABLE "seat_event" ADD COLUMN     "actor" TEXT,
ADD COLUMN     "channel" TEXT,
ADD COLUMN     "origin" TEXT;

-- Changes logged before origins were: the origin their status implies (an unlock for nobody is an unblock),
-- the operator as the actor of a block or unblock, their session otherwise; how they were asked is unknown.
UPDATE "seat_event" SET
    "origin" = CASE "status" WHEN 'locked' THEN 'lock' WHEN 'booked' THEN 'book' WHEN 'blocked' THEN 'block' WHEN 'unlocked' THEN CASE "session_id" WHEN '' THEN 'unblock' ELSE 'unlock' END ELSE "status" END,
    "actor" = CASE "session_id" WHEN '' THEN 'admin' ELSE "session_id" END,
    "channel" = 'unknown';

ALTER TABLE "seat_event" ALTER COLUMN "actor" SET NOT NULL,
ALTER COLUMN "channel" SET NOT NULL,
ALTER COLUMN "origin" SET NOT NULL;

-- CreateIndex
CREATE INDEX "seat_event_showtime_id_seat_code_seq_idx" ON "seat_event"("showtime_id", "seat_code", "seq");
