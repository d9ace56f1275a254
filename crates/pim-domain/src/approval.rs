//! Approvals: the serial stages a request waits for, who may decide at each stage (and when
//! escalation approvers join), and what each decision does (N of M approvals, one denial ends it).

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, ErrorKind};
use crate::ids::PrincipalId;
use crate::principal::PrincipalKind;
use crate::settings::{ApprovalStage, ApproverRef};
use crate::time::{MINUTE_MS, Timestamp};

/// How long an extension or renewal request waits for an administrator of its scope.
pub const SCOPE_ADMIN_TIMEOUT_MINUTES: u32 = 7 * 24 * 60;

/// Approve or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// Yes.
    Approve,
    /// No: ends the request.
    Deny,
}

/// One approver's decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// The stage it was made at (0-based).
    pub stage: usize,
    /// Who decided.
    pub approver_id: PrincipalId,
    /// Their name when they decided.
    pub approver_name: String,
    /// Approve or deny.
    pub verdict: Verdict,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// What a request waits for: the stages, copied from the role's settings when it was made (so a
/// later change of settings does not move the goalposts), and the decisions so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// The stages, in order. With `scopeAdmins`, one stage whose approvers are not listed.
    pub stages: Vec<ApprovalStage>,
    /// The approvers are whoever holds `pim.requests.approve` at the request's scope (extension and
    /// renewal requests), not a list.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub scope_admins: bool,
    /// The stage waiting for decisions (0-based).
    pub stage: usize,
    /// When that stage began.
    pub stage_started_at: Timestamp,
    /// Whether the current stage's escalation approvers have joined (and were told).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub escalated: bool,
    /// Every decision so far, in order.
    #[serde(default)]
    pub decisions: Vec<Decision>,
}

/// What a decision did to the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The stage needs more approvals.
    Waiting,
    /// The stage is complete and the next one begins.
    NextStage,
    /// The last stage is complete: the request is approved.
    Approved,
    /// Denied: the request ends.
    Denied,
}

impl Approval {
    /// An approval through `stages` (from the role's settings), starting now.
    pub fn staged(stages: Vec<ApprovalStage>, now: Timestamp) -> Approval {
        Approval {
            stages,
            scope_admins: false,
            stage: 0,
            stage_started_at: now,
            escalated: false,
            decisions: Vec::new(),
        }
    }

    /// One approval by any administrator of the request's scope (extension and renewal requests).
    pub fn by_scope_admins(now: Timestamp) -> Approval {
        let stage = ApprovalStage {
            approvers: Vec::new(),
            required_approvals: 1,
            timeout_minutes: SCOPE_ADMIN_TIMEOUT_MINUTES,
            escalation: None,
        };
        Approval { scope_admins: true, ..Approval::staged(vec![stage], now) }
    }

    /// The stage waiting for decisions.
    pub fn current(&self) -> Option<&ApprovalStage> {
        self.stages.get(self.stage)
    }

    /// When the current stage times out.
    pub fn deadline(&self) -> Timestamp {
        let minutes = self.current().map_or(24 * 60, |s| s.timeout_minutes);
        self.stage_started_at.plus_millis(i64::from(minutes) * MINUTE_MS)
    }

    /// When the current stage's escalation approvers join, if it has any.
    pub fn escalation_at(&self) -> Option<Timestamp> {
        let e = self.current()?.escalation.as_ref()?;
        Some(self.stage_started_at.plus_millis(i64::from(e.after_minutes) * MINUTE_MS))
    }

    /// The escalation approvers to add now, if their time has come and they were not added yet.
    pub fn escalation_due(&self, now: Timestamp) -> Option<&[ApproverRef]> {
        if self.escalated || self.escalation_at().is_none_or(|at| now < at) {
            return None;
        }
        self.current()?.escalation.as_ref().map(|e| e.approvers.as_slice())
    }

    /// Who may decide at the current stage now: its approvers, plus its escalation approvers once
    /// their delay has passed. Empty for `scope_admins` (resolved by permission instead).
    pub fn approvers_now(&self, now: Timestamp) -> Vec<ApproverRef> {
        let Some(stage) = self.current() else { return Vec::new() };
        let mut out = stage.approvers.clone();
        if let Some(e) = &stage.escalation
            && (self.escalated || self.escalation_at().is_some_and(|at| now >= at))
        {
            out.extend(e.approvers.iter().cloned());
        }
        out
    }

    /// Every approver named at any stage (with escalation): who hears of a break-glass activation.
    pub fn everyone(&self) -> Vec<ApproverRef> {
        let mut out: Vec<ApproverRef> = Vec::new();
        for s in &self.stages {
            for a in s.approvers.iter().chain(s.escalation.iter().flat_map(|e| e.approvers.iter())) {
                if !out.contains(a) {
                    out.push(a.clone());
                }
            }
        }
        out
    }

    /// Whether `who` is named among `refs`, directly or through one of `groups` (its groups now).
    pub fn names(refs: &[ApproverRef], who: PrincipalId, groups: &[PrincipalId]) -> bool {
        refs.iter().any(|r| match r.kind {
            PrincipalKind::Group => groups.contains(&r.id),
            _ => r.id == who,
        })
    }

    /// Approvals given at the current stage so far.
    pub fn approvals_in_stage(&self) -> usize {
        self.decisions.iter().filter(|d| d.stage == self.stage && d.verdict == Verdict::Approve).count()
    }

    /// Records a decision by someone already found to be an approver of the current stage.
    /// Refuses a second decision by the same person on the same request (at any stage: a second
    /// stage is a second pair of eyes).
    pub fn decide(&mut self, decision: Decision) -> Result<Progress, DomainError> {
        if self.decisions.iter().any(|d| d.approver_id == decision.approver_id) {
            return Err(DomainError::new(ErrorKind::AlreadyDecided, "you have already decided on this request"));
        }
        let Some(stage) = self.current() else {
            return Err(DomainError::new(ErrorKind::RequestNotPending, "the request has no stage waiting"));
        };
        let required = stage.required_approvals.max(1) as usize;
        let verdict = decision.verdict;
        let at = decision.at;
        self.decisions.push(Decision { stage: self.stage, ..decision });
        if verdict == Verdict::Deny {
            return Ok(Progress::Denied);
        }
        if self.approvals_in_stage() < required {
            return Ok(Progress::Waiting);
        }
        if self.stage + 1 < self.stages.len() {
            self.stage += 1;
            self.stage_started_at = at;
            self.escalated = false;
            Ok(Progress::NextStage)
        } else {
            Ok(Progress::Approved)
        }
    }
}

/// How a break-glass activation was judged after the fact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ReviewVerdict {
    /// The emergency was real.
    Appropriate,
    /// It should not have happened (follow up with the person).
    Inappropriate,
}

impl ReviewVerdict {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewVerdict::Appropriate => "appropriate",
            ReviewVerdict::Inappropriate => "inappropriate",
        }
    }
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<ReviewVerdict> {
        [ReviewVerdict::Appropriate, ReviewVerdict::Inappropriate].into_iter().find(|v| v.as_str() == s)
    }
}

/// A break-glass activation queued for review after the fact (one per break-glass request).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BreakGlassReview {
    /// The break-glass request.
    pub request_id: crate::ids::RequestId,
    /// Who activated.
    pub principal_id: PrincipalId,
    /// Which role.
    pub role_id: crate::ids::RoleId,
    /// Where.
    pub scope: crate::scope::ScopePath,
    /// When it was queued (the activation).
    pub created_at: Timestamp,
    /// Who reviewed it, once reviewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_by: Option<PrincipalId>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewed_at: Option<Timestamp>,
    /// The reviewer's judgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<ReviewVerdict>,
    /// The reviewer's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Escalation;

    fn user(id: PrincipalId) -> ApproverRef {
        ApproverRef { kind: PrincipalKind::User, id }
    }

    fn decision(who: PrincipalId, verdict: Verdict, at: Timestamp) -> Decision {
        Decision { stage: 99, approver_id: who, approver_name: "x".into(), verdict, justification: None, at }
    }

    fn stage(approvers: Vec<ApproverRef>, n: u32) -> ApprovalStage {
        ApprovalStage { approvers, required_approvals: n, timeout_minutes: 60, escalation: None }
    }

    #[test]
    fn two_of_three_then_a_second_stage() {
        let (a, b, c, d) = (PrincipalId::new(), PrincipalId::new(), PrincipalId::new(), PrincipalId::new());
        let t = Timestamp(1_000_000);
        let mut ap = Approval::staged(vec![stage(vec![user(a), user(b), user(c)], 2), stage(vec![user(d)], 1)], t);
        assert_eq!(ap.decide(decision(a, Verdict::Approve, t)), Ok(Progress::Waiting));
        assert_eq!(ap.decisions[0].stage, 0, "the stage is recorded by the approval, not the caller");
        assert_eq!(ap.decide(decision(a, Verdict::Approve, t)).unwrap_err().kind, ErrorKind::AlreadyDecided);
        let t2 = t.plus_millis(5 * MINUTE_MS);
        assert_eq!(ap.decide(decision(b, Verdict::Approve, t2)), Ok(Progress::NextStage));
        assert_eq!((ap.stage, ap.stage_started_at), (1, t2));
        assert_eq!(ap.deadline(), t2.plus_millis(60 * MINUTE_MS));
        assert_eq!(ap.decide(decision(b, Verdict::Approve, t2)).unwrap_err().kind, ErrorKind::AlreadyDecided);
        assert_eq!(ap.decide(decision(d, Verdict::Approve, t2)), Ok(Progress::Approved));
    }

    #[test]
    fn one_denial_ends_it() {
        let (a, b) = (PrincipalId::new(), PrincipalId::new());
        let t = Timestamp(0);
        let mut ap = Approval::staged(vec![stage(vec![user(a), user(b)], 2)], t);
        assert_eq!(ap.decide(decision(a, Verdict::Approve, t)), Ok(Progress::Waiting));
        assert_eq!(ap.decide(decision(b, Verdict::Deny, t)), Ok(Progress::Denied));
    }

    #[test]
    fn escalation_approvers_join_after_the_delay() {
        let (a, e) = (PrincipalId::new(), PrincipalId::new());
        let t = Timestamp(0);
        let mut s = stage(vec![user(a)], 1);
        s.escalation = Some(Escalation { approvers: vec![user(e)], after_minutes: 30 });
        let ap = Approval::staged(vec![s], t);
        assert_eq!(ap.approvers_now(t), vec![user(a)]);
        assert!(ap.escalation_due(t.plus_millis(29 * MINUTE_MS)).is_none());
        let later = t.plus_millis(30 * MINUTE_MS);
        assert_eq!(ap.escalation_due(later), Some(&[user(e)][..]));
        assert_eq!(ap.approvers_now(later), vec![user(a), user(e)]);
        let done = Approval { escalated: true, ..ap.clone() };
        assert!(done.escalation_due(later).is_none());
        assert_eq!(ap.everyone(), vec![user(a), user(e)]);
    }

    #[test]
    fn groups_name_their_members() {
        let (u, g) = (PrincipalId::new(), PrincipalId::new());
        let refs = [ApproverRef { kind: PrincipalKind::Group, id: g }];
        assert!(Approval::names(&refs, u, &[g]));
        assert!(!Approval::names(&refs, u, &[]));
        assert!(!Approval::names(&refs, g, &[]), "a group is not its own member");
    }

    #[test]
    fn round_trips_as_json() {
        let ap = Approval::by_scope_admins(Timestamp(5));
        let v = serde_json::to_value(&ap).unwrap();
        assert_eq!(v["scopeAdmins"], true);
        assert_eq!(serde_json::from_value::<Approval>(v).unwrap(), ap);
    }
}
