-- Ingest moves `last_seen_at` (and sometimes `status`) of every entity an
-- event mentions. Neither is indexed, so PostgreSQL can update the row in
-- place on its page (a HOT update) without a new entry in each of the five
-- catalog indexes — when the page has room. Leaving a third of each page
-- free keeps that room: on the ingest benchmark a batch's catalog upsert
-- wrote about a quarter of the WAL records it wrote with full pages.
ALTER TABLE entity_catalog SET (fillfactor = 70);
