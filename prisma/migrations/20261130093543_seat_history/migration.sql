-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_seat_event" (
    "showtime_id" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,
    "seat_code" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "session_id" TEXT NOT NULL,
    "origin" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "channel" TEXT NOT NULL,
    "created_at" BIGINT NOT NULL,

    PRIMARY KEY ("showtime_id", "seq"),
    CONSTRAINT "seat_event_showtime_id_fkey" FOREIGN KEY ("showtime_id") REFERENCES "showtime" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
-- Changes logged before origins were: the origin their status implies (an unlock for nobody is an unblock),
-- the operator as the actor of a block or unblock, their session otherwise; how they were asked is unknown.
INSERT INTO "new_seat_event" ("created_at", "seat_code", "seq", "session_id", "showtime_id", "status", "origin", "actor", "channel") SELECT "created_at", "seat_code", "seq", "session_id", "showtime_id", "status", CASE "status" WHEN 'locked' THEN 'lock' WHEN 'booked' THEN 'book' WHEN 'blocked' THEN 'block' WHEN 'unlocked' THEN CASE "session_id" WHEN '' THEN 'unblock' ELSE 'unlock' END ELSE "status" END, CASE "session_id" WHEN '' THEN 'admin' ELSE "session_id" END, 'unknown' FROM "seat_event";
DROP TABLE "seat_event";
ALTER TABLE "new_seat_event" RENAME TO "seat_event";
CREATE INDEX "seat_event_showtime_id_seat_code_seq_idx" ON "seat_event"("showtime_id", "seat_code", "seq");
CREATE INDEX "seat_event_created_at_idx" ON "seat_event"("created_at");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
