//! Prometheus metrics. Counters that only this process sees (events by source and verdict, job
//! latency) live here; queue depth and outcomes are read from the store at scrape time, so every
//! replica reports the same truth.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// In-process counters.
#[derive(Debug, Default)]
pub struct Metrics {
    events: Mutex<BTreeMap<(String, String), u64>>,
    /// Per job kind: (count, total seconds).
    jobs: Mutex<BTreeMap<String, (u64, f64)>>,
}

impl Metrics {
    pub fn event(&self, source: &str, verdict: &str) {
        if let Ok(mut m) = self.events.lock() {
            *m.entry((source.to_owned(), verdict.to_owned())).or_default() += 1;
        }
    }

    pub fn job_finished(&self, kind: &str, seconds: f64) {
        if let Ok(mut m) = self.jobs.lock() {
            let e = m.entry(kind.to_owned()).or_default();
            e.0 += 1;
            e.1 += seconds;
        }
    }

    /// Render in the Prometheus text format, with the store's gauges.
    pub fn render(&self, jobs_by_state: &[(String, i64)], findings_by_state: &[(String, i64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP driftfix_events_total Deliveries received, by source and verdict.\n# TYPE driftfix_events_total counter\n");
        if let Ok(m) = self.events.lock() {
            for ((source, verdict), n) in m.iter() {
                let _ = writeln!(out, "driftfix_events_total{{source=\"{source}\",verdict=\"{verdict}\"}} {n}");
            }
        }
        out.push_str("# HELP driftfix_jobs Jobs in the queue, by state.\n# TYPE driftfix_jobs gauge\n");
        for (state, n) in jobs_by_state {
            let _ = writeln!(out, "driftfix_jobs{{state=\"{state}\"}} {n}");
        }
        out.push_str("# HELP driftfix_job_duration_seconds Time spent working jobs.\n# TYPE driftfix_job_duration_seconds summary\n");
        if let Ok(m) = self.jobs.lock() {
            for (kind, (count, sum)) in m.iter() {
                let _ = writeln!(out, "driftfix_job_duration_seconds_sum{{kind=\"{kind}\"}} {sum}");
                let _ = writeln!(out, "driftfix_job_duration_seconds_count{{kind=\"{kind}\"}} {count}");
            }
        }
        out.push_str("# HELP driftfix_findings Findings, by state.\n# TYPE driftfix_findings gauge\n");
        for (state, n) in findings_by_state {
            let _ = writeln!(out, "driftfix_findings{{state=\"{state}\"}} {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_counters_and_gauges() {
        let m = super::Metrics::default();
        m.event("sns", "accepted");
        m.event("sns", "accepted");
        m.job_finished("remediate", 0.5);
        let text = m.render(&[("queued".into(), 3)], &[("proposed".into(), 1)]);
        assert!(text.contains("driftfix_events_total{source=\"sns\",verdict=\"accepted\"} 2\n"), "{text}");
        assert!(text.contains("driftfix_jobs{state=\"queued\"} 3\n"));
        assert!(text.contains("driftfix_job_duration_seconds_count{kind=\"remediate\"} 1\n"));
        assert!(text.contains("driftfix_findings{state=\"proposed\"} 1\n"));
    }
}
