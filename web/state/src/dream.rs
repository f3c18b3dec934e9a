//! "Dream now" on an agent's page: what a dry run says a pass would do,
//! in words, before the reviewer starts one, and what a pass's model
//! stages spent after.

use reverie_api::{DryRun, LlmMode, LlmReport};
use reverie_core::LlmStage;

/// A dry run as the sentences the dashboard shows: what the rules would
/// propose, then what the model would be asked and what it would cost.
pub fn estimate_text(d: &DryRun) -> Vec<String> {
    let kinds: Vec<String> = d.changes_by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let kinds = if kinds.is_empty() { String::new() } else { format!(" ({})", kinds.join(", ")) };
    let mut out = vec![format!(
        "The rules would propose {}{kinds} from {} and {}.",
        count(d.changes, "change", "changes"),
        count(d.sessions, "session", "sessions"),
        if d.unsettled_groups == 0 {
            "leave no group open".to_string()
        } else {
            format!("leave {} open", count(d.unsettled_groups, "group", "groups"))
        }
    )];
    let llm = &d.llm;
    if llm.mode == LlmMode::RulesOnly {
        let reason = llm.reason.as_deref().unwrap_or("no model is configured");
        out.push(format!("No model would be asked: {reason}."));
        return out;
    }
    let stages: Vec<String> = llm
        .stages
        .iter()
        .filter(|s| s.calls > 0)
        .map(|s| {
            let (what, one, many) = match s.stage {
                LlmStage::Learn => ("read", "excerpt", "excerpts"),
                LlmStage::Judge => ("judge", "group", "groups"),
                LlmStage::Rewrite => ("word", "change", "changes"),
                LlmStage::Synthesize => ("make instructions of", "mistake", "mistakes"),
            };
            format!("{what} {}", count(s.items, one, many))
        })
        .collect();
    let calls: usize = llm.stages.iter().map(|s| s.calls).sum();
    if calls == 0 {
        out.push("The model would not be asked: nothing is left for it.".to_string());
        return out;
    }
    let cached: u64 = llm.stages.iter().map(|s| s.cache_read_tokens).sum();
    let cached =
        if cached > 0 { format!(" ({cached} of them from the cache)") } else { String::new() };
    let batched = if llm.scheduled_batched {
        format!(" On schedule, sent as a batch: ≈ ${:.4}.", llm.usd_batched)
    } else {
        String::new()
    };
    out.push(format!(
        "{} would be asked to {} in {}: about {} input tokens{cached} and at most {} output, ≈ \
         ${:.4}.{batched}",
        llm.model.as_deref().unwrap_or("The model"),
        stages.join(" and "),
        count(calls, "call", "calls"),
        llm.input_tokens,
        llm.max_output_tokens,
        llm.usd_estimate
    ));
    if !llm.within_budget {
        out.push(format!(
            "That is more than the pass's budget of {} tokens: the calls past it would not be \
             made, and what they carry stays with the rules.",
            llm.token_budget
        ));
    }
    out
}

/// What a finished pass's model stages spent, in one line; `None` when no
/// stage made a call.
pub fn spend_text(report: &LlmReport) -> Option<String> {
    if report.stages.is_empty() {
        return None;
    }
    let stages: Vec<String> = report
        .stages
        .iter()
        .map(|(name, s)| {
            let batched = match s.batched_calls {
                0 => String::new(),
                n if n == s.calls => " (batched)".to_string(),
                n => format!(" ({n} batched)"),
            };
            let cached = s.cache_write_tokens + s.cache_read_tokens;
            let cached = if cached > 0 { format!(" (+ {cached} cached)") } else { String::new() };
            format!(
                "{name} {}{batched}, {}{cached} + {} tokens, ${:.4}",
                count(s.calls as usize, "call", "calls"),
                s.input_tokens,
                s.output_tokens,
                s.cost_usd
            )
        })
        .collect();
    Some(format!("The model: {}; ${:.4} in all.", stages.join("; "), report.cost_usd))
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reverie_api::{PlannedLlm, PlannedStage};

    fn dry(llm: PlannedLlm) -> DryRun {
        DryRun {
            agent_id: "a".into(),
            store_id: "a".into(),
            base_version: 3,
            sessions: 1,
            changes: 2,
            changes_by_kind: [("merge".to_string(), 1), ("promote".to_string(), 1)].into(),
            unsettled_groups: 3,
            llm,
        }
    }

    fn planned(stages: Vec<PlannedStage>, within_budget: bool) -> PlannedLlm {
        PlannedLlm {
            mode: LlmMode::Llm,
            reason: None,
            provider: None,
            model: Some("claude-sonnet-4-6".into()),
            input_tokens: stages.iter().map(|s| s.input_tokens).sum(),
            max_output_tokens: stages.iter().map(|s| s.max_output_tokens).sum(),
            usd_estimate: 0.0123,
            usd_batched: 0.0062,
            scheduled_batched: false,
            stages,
            token_budget: 1000,
            within_budget,
        }
    }

    fn stage(stage: LlmStage, calls: usize, items: usize) -> PlannedStage {
        PlannedStage {
            stage,
            calls,
            items,
            input_tokens: 400 * calls as u64,
            cache_read_tokens: 0,
            max_output_tokens: 100 * calls as u64,
            usd_estimate: 0.0,
            usd_batched: 0.0,
        }
    }

    #[test]
    fn a_passs_spend_reads_stage_by_stage() {
        let mut report = LlmReport { cost_usd: 0.0042, ..Default::default() };
        assert_eq!(spend_text(&report), None);
        let stage = |calls, i, o, usd| reverie_api::StageCost {
            calls,
            input_tokens: i,
            output_tokens: o,
            cost_usd: usd,
            ..Default::default()
        };
        report.stages.insert("judge".into(), stage(1, 900, 120, 0.0045));
        report.stages.insert(
            "learn".into(),
            reverie_api::StageCost {
                batched_calls: 2,
                cache_read_tokens: 1500,
                cache_write_tokens: 1500,
                ..stage(2, 1200, 300, 0.0081)
            },
        );
        assert_eq!(
            spend_text(&report).unwrap(),
            "The model: judge 1 call, 900 + 120 tokens, $0.0045; learn 2 calls (batched), 1200 \
             (+ 3000 cached) + 300 tokens, $0.0081; $0.0042 in all."
        );
    }

    #[test]
    fn a_dry_run_reads_as_what_the_rules_and_the_model_would_do() {
        let rules_only = PlannedLlm {
            mode: LlmMode::RulesOnly,
            reason: Some("no LLM key is configured".into()),
            stages: Vec::new(),
            ..planned(Vec::new(), true)
        };
        assert_eq!(
            estimate_text(&dry(rules_only)),
            [
                "The rules would propose 2 changes (merge 1, promote 1) from 1 session and leave 3 groups open.",
                "No model would be asked: no LLM key is configured.",
            ]
        );
        let stages = vec![stage(LlmStage::Judge, 1, 3), stage(LlmStage::Rewrite, 1, 1)];
        assert_eq!(
            estimate_text(&dry(planned(stages.clone(), true)))[1],
            "claude-sonnet-4-6 would be asked to judge 3 groups and word 1 change in 2 calls: \
             about 800 input tokens and at most 200 output, ≈ $0.0123."
        );
        let mut batched = planned(stages.clone(), true);
        batched.scheduled_batched = true;
        batched.stages[0].cache_read_tokens = 300;
        assert_eq!(
            estimate_text(&dry(batched))[1],
            "claude-sonnet-4-6 would be asked to judge 3 groups and word 1 change in 2 calls: \
             about 800 input tokens (300 of them from the cache) and at most 200 output, ≈ \
             $0.0123. On schedule, sent as a batch: ≈ $0.0062."
        );
        let over = estimate_text(&dry(planned(stages, false)));
        assert!(over[2].starts_with("That is more than the pass's budget of 1000 tokens"));
        let none = vec![stage(LlmStage::Judge, 0, 0), stage(LlmStage::Rewrite, 0, 0)];
        assert_eq!(
            estimate_text(&dry(planned(none, true)))[1],
            "The model would not be asked: nothing is left for it."
        );
    }
}
