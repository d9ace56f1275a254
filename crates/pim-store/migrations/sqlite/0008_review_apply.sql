-- Access reviews: what applying each removal did (JSON ItemApplied: removed, alreadyEnded or refused,
-- with a message and a time). Parallel files for both backends; see docs/designs/access-reviews.md.
ALTER TABLE access_review_items ADD COLUMN applied TEXT;
