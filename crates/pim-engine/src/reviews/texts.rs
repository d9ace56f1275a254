//! The texts of the notifications an access review sends, with counts that agree with their nouns.

use pim_domain::message::count;
use pim_domain::review::ItemCounts;
use pim_domain::{ReviewInstanceId, Timestamp};

/// To the reviewers when an instance starts with `items` to review.
pub(super) fn started(name: &str, items: usize, end: Timestamp, reason_required: bool) -> String {
    format!(
        "The access review \"{name}\" has started: {} to review by {end}.\n\n\
         Approve the access that is still needed and deny the rest, with a reason{}.\n\n\
         Each item shows its last activation and its last real use (what the systems that report to pim \
         saw it do). pim recommends denying access unused for 30 days, judged by real use where any is \
         reported, and access that was activated but never used.\n\n  pim reviews mine\n",
        count(items, "item", "items"),
        if reason_required { " (required)" } else { "" },
    )
}

/// To the reviewers who still have `undecided` items past an instance's midpoint.
pub(super) fn reminder(name: &str, end: Timestamp, undecided: usize) -> String {
    format!(
        "The access review \"{name}\" ends at {end}; {} not reviewed yet.\n\n  pim reviews mine\n",
        count(undecided, "item is", "items are"),
    )
}

/// To the review's creator when an instance completes (`reason`: why, and by whom).
pub(super) fn completed(
    name: &str,
    reason: &str,
    counts: &ItemCounts,
    auto_apply: bool,
    instance: ReviewInstanceId,
) -> String {
    format!(
        "The access review \"{name}\" is complete ({reason}): {}, {} approved, {} denied, {} not reviewed; \
         {} to remove.\n\n{}\n  pim reviews results {instance}\n",
        count(counts.total, "item", "items"),
        counts.approved,
        counts.denied,
        counts.not_reviewed,
        counts.to_remove,
        if auto_apply {
            "The results are applied automatically.\n"
        } else {
            "Apply the results with: pim reviews apply <instance>\n"
        },
    )
}

/// To the review's creator when `actor` applied an instance's results.
pub(super) fn applied(name: &str, actor: &str, counts: &ItemCounts, instance: ReviewInstanceId) -> String {
    format!(
        "The results of the access review \"{name}\" were applied by {actor}: {}.\n\n  pim reviews results {instance}\n",
        counts.removals(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end() -> Timestamp {
        Timestamp::parse_rfc3339("2026-12-01T09:00:00Z").unwrap()
    }

    #[test]
    fn one_item_reads_in_the_singular() {
        assert!(
            started("q4", 1, end(), false).starts_with("The access review \"q4\" has started: 1 item to review by")
        );
        assert!(started("q4", 2, end(), true).contains(": 2 items to review by"));
        assert!(started("q4", 2, end(), true).contains("activated but never used"), "the recommendation rule");
        assert!(reminder("q4", end(), 1).contains("; 1 item is not reviewed yet."));
        assert!(reminder("q4", end(), 3).contains("; 3 items are not reviewed yet."));
        let one = ItemCounts { total: 1, approved: 1, ..ItemCounts::default() };
        let text = completed("q4", "it ended", &one, true, ReviewInstanceId::new());
        assert!(text.contains("is complete (it ended): 1 item, 1 approved, 0 denied, 0 not reviewed; 0 to remove."));
        let removed = ItemCounts { total: 1, denied: 1, to_remove: 1, removed: 1, ..ItemCounts::default() };
        let text = applied("q4", "alice", &removed, ReviewInstanceId::new());
        assert!(text.contains("were applied by alice: 1 of 1 item to remove was removed."), "{text}");
    }
}
