-- DropIndex
DROP INDEX "seat_hold_session_id_idx";

-- CreateIndex
CREATE INDEX "seat_hold_showtime_id_session_id_idx" ON "seat_hold"("showtime_id", "session_id");
